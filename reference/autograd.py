"""Reverse-mode automatic differentiation on NumPy, held to ``torch.autograd``.

A [`Tensor`][reference.autograd.Tensor] wraps a float64 ``ndarray`` (``.data``). An
operation on tensors of which one requires grad records a [`Node`][reference.autograd.Node]
(its ``grad_fn``, named like torch's node, e.g. ``MulBackward0``) holding the
vector-Jacobian product (VJP) of the operation and the arrays that VJP needs. ``backward``
walks the graph from the output in reverse topological order, sums the gradients arriving
at each node, applies its VJP

$$\\bar{x}_i = \\bar{y}^\\top \\frac{\\partial y}{\\partial x_i},$$

and accumulates (adds) the result into ``.grad`` of the leaves. The graph's saved arrays are
freed after a backward unless ``retain_graph=True``.
"""

from __future__ import annotations

import builtins
import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from reference.broadcasting import broadcast_shapes, sum_to_shape
from reference.strides import (
    IndexLayout,
    advanced_index_strides,
    contiguous_strides,
    in_stride_order,
)

__all__ = [
    "Function",
    "FunctionCtx",
    "Node",
    "RemovableHandle",
    "Tensor",
    "cat",
    "enable_grad",
    "exp",
    "grad",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "log",
    "matmul",
    "max",
    "maximum",
    "mean",
    "no_grad",
    "relu",
    "set_grad_enabled",
    "sigmoid",
    "stack",
    "sum",
    "tanh",
    "tensor",
    "where",
]

_GRAD_ENABLED = True
_INFERENCE_MODE = False

_BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


def is_grad_enabled() -> bool:
    """Whether operations are recorded for differentiation (False inside ``no_grad``)."""
    return _GRAD_ENABLED


def is_inference_mode_enabled() -> bool:
    """Whether ``inference_mode`` is on."""
    return _INFERENCE_MODE


class set_grad_enabled(contextlib.ContextDecorator):
    """``torch.set_grad_enabled(mode)``: sets grad mode at once when called (so it also works
    as a plain function call), and as a context or decorator restores the previous mode on
    exit."""

    def __init__(self, mode: bool) -> None:
        global _GRAD_ENABLED
        self._prev, self._mode = _GRAD_ENABLED, bool(mode)
        _GRAD_ENABLED = self._mode

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        global _GRAD_ENABLED
        _GRAD_ENABLED = self._prev  # as a decorator, the mode applies only inside func
        return super().__call__(func)

    def __enter__(self) -> None:
        global _GRAD_ENABLED
        _GRAD_ENABLED = self._mode

    def __exit__(self, *exc: object) -> None:
        global _GRAD_ENABLED
        _GRAD_ENABLED = self._prev


class _GradMode(contextlib.ContextDecorator):
    _mode: bool

    def __enter__(self) -> None:
        global _GRAD_ENABLED
        self._prev = _GRAD_ENABLED
        _GRAD_ENABLED = self._mode

    def __exit__(self, *exc: object) -> None:
        global _GRAD_ENABLED
        _GRAD_ENABLED = self._prev


class no_grad(_GradMode):
    """Context (or decorator) in which operations record no graph: results are leaves with
    ``grad_fn=None``. Computed results have ``requires_grad=False``; views (reshape,
    indexing, ``.T``) of a tensor that requires grad keep ``requires_grad=True``, as in
    torch."""

    _mode = False


class enable_grad(_GradMode):
    """Context (or decorator) that turns recording back on, e.g. inside ``no_grad``."""

    _mode = True


class inference_mode(contextlib.ContextDecorator):
    """``torch.inference_mode(mode=True)``: ``no_grad``, and the tensors computed inside are
    *inference tensors*: an operation recorded later that must save one for its backward
    raises ``RuntimeError`` (one that saves nothing, such as ``+``, may use it)."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = bool(mode)

    def __enter__(self) -> None:
        global _GRAD_ENABLED, _INFERENCE_MODE
        self._prev = (_GRAD_ENABLED, _INFERENCE_MODE)
        if self._mode:
            _GRAD_ENABLED, _INFERENCE_MODE = False, True

    def __exit__(self, *exc: object) -> None:
        global _GRAD_ENABLED, _INFERENCE_MODE
        _GRAD_ENABLED, _INFERENCE_MODE = self._prev


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list[Callable[..., Any]], hook: Callable[..., Any]) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Node:
    """One recorded operation: ``grad_fn`` of its output.

    Attributes:
        next_functions: per differentiable input, ``(node, 0)`` where ``node`` is the input's
            ``grad_fn``, its [`AccumulateGrad`][reference.autograd.AccumulateGrad] when it is
            a leaf that requires grad, or ``None`` (torch's layout).
    """

    def __init__(
        self,
        name: str,
        inputs: Sequence[Tensor | None],
        vjp: Callable[..., Sequence[np.ndarray | None]],
        saved: Sequence[np.ndarray] = (),
        graph_vjp: Callable[[Tensor], Sequence[Tensor | None]] | None = None,
    ) -> None:
        self._name = name
        self._vjp = vjp
        self._graph_vjp = graph_vjp  # the VJP in reference ops, for create_graph=True
        self._saved: tuple[np.ndarray, ...] | None = tuple(saved)
        self._saves = bool(saved)
        self._retained: list[Tensor] = []  # non-leaf outputs that called retain_grad()
        self._hooks: list[Callable[..., Any]] = []  # the output tensor's register_hook hooks
        self.next_functions = tuple((_edge(t), 0) for t in inputs)

    def name(self) -> str:
        """torch's node name, e.g. ``'AddBackward0'``."""
        return self._name

    def __repr__(self) -> str:
        return f"<{self._name} object>"

    def _apply(self, grad: np.ndarray) -> Sequence[np.ndarray | None]:
        if self._saved is None:
            raise RuntimeError(_BACKWARD_TWICE)
        with np.errstate(all="ignore"):  # IEEE semantics, as torch: inf and NaN, no warning
            return self._vjp(grad, *self._saved)

    def _apply_graph(self, grad: Tensor) -> Sequence[Tensor | None]:
        """The VJP recorded as reference operations (``create_graph=True``)."""
        if self._saved is None:
            raise RuntimeError(_BACKWARD_TWICE)
        if self._graph_vjp is None:
            raise RuntimeError(
                f"the reference has no differentiable backward for {self._name} "
                "(create_graph=True)"
            )
        with np.errstate(all="ignore"):
            return self._graph_vjp(grad)

    def _release(self) -> None:
        if self._saves:
            self._saved = None


class AccumulateGrad(Node):
    """The node ending each path at a leaf that requires grad: adds the incoming gradient
    into ``variable.grad``. One per leaf; ``name()`` is torch's C++ name."""

    def __init__(self, variable: Tensor) -> None:
        super().__init__("torch::autograd::AccumulateGrad", (), lambda g: ())
        self.variable = variable


def _edge(t: Tensor | None) -> Node | None:
    if t is None or not t.requires_grad:
        return None
    if t.grad_fn is not None:
        return t.grad_fn
    if t._accumulator is None:
        t._accumulator = AccumulateGrad(t)
    return t._accumulator


class MaxResult(NamedTuple):
    """``(values, indices)`` of ``max(dim)``, like ``torch.return_types.max``."""

    values: Tensor
    indices: Tensor


def _as_array(x: Any) -> np.ndarray:
    arr = np.array(x.data if isinstance(x, Tensor) else x, copy=True)
    return arr.astype(np.float64) if arr.dtype.kind in "fc" else arr


class Tensor:
    """A NumPy array with autograd metadata, mirroring ``torch.Tensor``.

    Args:
        data: the values (copied); floating data is stored as float64, integer and bool
            data (indices, masks) keep their dtype.
        requires_grad: whether to record operations on this (leaf) tensor.

    Attributes:
        data: the ``np.ndarray`` of values (optimizers may update it in place).
        grad: ``np.ndarray`` of accumulated gradients, or None.
        grad_fn: the [`Node`][reference.autograd.Node] that produced this tensor, None for a leaf.
    """

    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        self.data: np.ndarray = _as_array(data)
        self.grad: np.ndarray | None = None
        self.grad_fn: Node | None = None
        self._requires_grad = False
        self._accumulator: AccumulateGrad | None = None
        self._inference = _INFERENCE_MODE
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: np.ndarray, grad_fn: Node | None = None) -> Tensor:
        out = cls.__new__(cls)
        out.data, out.grad, out.grad_fn = data, None, grad_fn
        out._requires_grad, out._accumulator = grad_fn is not None, None
        out._inference = False
        return out

    # --- autograd metadata ----------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        """True for a leaf created with requires_grad, or a result recorded in the graph."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if not self.is_leaf:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to "
                "use a computed variable in a subgraph that doesn't require differentiation "
                "use var_no_grad = var.detach()."
            )
        if value and self.data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` of a leaf in place; returns self."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """A tensor with no ``grad_fn``: created by the user, or not recorded in a graph."""
        return self.grad_fn is None

    @property
    def retains_grad(self) -> bool:
        """Whether this non-leaf will have its ``.grad`` populated by backward."""
        return self.grad_fn is not None and self in self.grad_fn._retained

    def retain_grad(self) -> None:
        """Make backward populate ``.grad`` of this non-leaf (a no-op on a leaf)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self.retains_grad:
            self.grad_fn._retained.append(self)

    def register_hook(self, hook: Callable[[Any], Any]) -> RemovableHandle:
        """Call ``hook(grad)`` with the gradient computed for this tensor during backward;
        a returned value replaces the gradient that flows on (and that ``.grad`` receives).
        Hooks run in registration order; the handle's ``remove()`` unregisters one."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = _edge(self)
        node._hooks.append(hook)
        return RemovableHandle(node._hooks, hook)

    def is_inference(self) -> bool:
        """Whether this tensor was computed in ``inference_mode``."""
        return self._inference

    def detach(self) -> Tensor:
        """A new leaf sharing ``data`` (no copy) that does not require grad."""
        return Tensor._wrap(self.data)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None) -> None:
        """Accumulate ``gradient^T d(self)/d(leaf)`` into ``.grad`` of every leaf that
        requires grad. ``gradient`` may be omitted only for a one-element tensor (it is 1)."""
        _run_backward([self], [gradient], retain_graph, targets=None)

    # --- array-like -----------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        """The sizes of the dimensions."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    def dim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or the size of dimension ``dim``."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar"
            )
        return self.data.reshape(()).item()

    def numpy(self) -> np.ndarray:
        """``data`` itself (shared); refused while the tensor requires grad."""
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        return self.data

    def __repr__(self) -> str:
        extra = (
            f", grad_fn=<{self.grad_fn.name()}>"
            if self.grad_fn is not None
            else (", requires_grad=True" if self.requires_grad else "")
        )
        return f"tensor({np.array2string(self.data, separator=', ')}{extra})"

    # --- in-place -------------------------------------------------------------------------

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        """``self += alpha * other`` in place (other broadcast to self's shape).

        Raises:
            RuntimeError: on a leaf that requires grad while grad mode is on.
        """
        other_t = _to_tensor(other)
        recording = _GRAD_ENABLED and (self.requires_grad or other_t.requires_grad)
        if recording and self.is_leaf and self.requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        result_shape = broadcast_shapes(self.shape, other_t.shape)
        if result_shape != self.shape:
            raise ValueError(
                f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                f"{list(result_shape)}"
            )
        self.data += alpha * other_t.data
        if recording:  # rebase history: self now comes from AddBackward0(old self, other)
            old = Tensor._wrap(self.data, self.grad_fn)
            oshape = other_t.shape
            node = Node(
                "AddBackward0",
                (old, other_t),
                lambda g: (g, sum_to_shape(alpha * g, oshape)),
            )
            if self.grad_fn is not None:
                node._retained = self.grad_fn._retained
                self.grad_fn._retained = []
            self.grad_fn, self._requires_grad = node, True
        return self

    # --- operators ------------------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        return _add(self, _to_tensor(other), 1.0, "AddBackward0")

    __radd__ = __add__

    def __sub__(self, other: Any) -> Tensor:
        return _add(self, _to_tensor(other), -1.0, "SubBackward0")

    def __rsub__(self, other: Any) -> Tensor:
        other_t = _to_tensor(other)
        return _unary(self, "RsubBackward1", other_t.data - self.data, lambda g: -g,
                      graph_vjp=lambda g, out: -g)

    def __neg__(self) -> Tensor:
        return _unary(self, "NegBackward0", -self.data, lambda g: -g,
                      graph_vjp=lambda g, out: -g)

    def __mul__(self, other: Any) -> Tensor:
        return _mul(self, _to_tensor(other))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Tensor:
        return _div(self, _to_tensor(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return _mul(self.reciprocal(), _to_tensor(other))  # torch: reciprocal, then mul

    def __pow__(self, exponent: Any) -> Tensor:
        return _pow(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return _rpow(_to_tensor(base), self)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(_to_tensor(other), self)

    def __getitem__(self, key: Any) -> Tensor:
        return _getitem(self, key)

    # Comparisons give bool tensors outside the graph (masks for where and indexing).
    def __gt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data > _to_tensor(other).data)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data >= _to_tensor(other).data)

    def __lt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data < _to_tensor(other).data)

    def __le__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data <= _to_tensor(other).data)

    __hash__ = object.__hash__

    # --- methods mirroring torch.Tensor ---------------------------------------------------

    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent`` (PowBackward0 for a number, PowBackward1 for a tensor)."""
        return _pow(self, exponent)

    def reciprocal(self) -> Tensor:
        """``1 / self``; VJP ``-g / x^2 = -g y^2``."""
        y = 1.0 / self.data
        return _unary(self, "ReciprocalBackward0", y, lambda g, y: -g * y * y, saved=(y,),
                      graph_vjp=lambda g, out: -g * out * out)

    def exp(self) -> Tensor:
        """``e^x``; VJP ``g e^x`` (saves the result)."""
        return exp(self)

    def log(self) -> Tensor:
        """Natural log; VJP ``g / x`` (saves the input)."""
        return log(self)

    def relu(self) -> Tensor:
        """``max(x, 0)``; VJP ``g [y > 0]`` (0 at x = 0, saves the result)."""
        return relu(self)

    def sigmoid(self) -> Tensor:
        """``1 / (1 + e^{-x})``; VJP ``g y (1 - y)``."""
        return sigmoid(self)

    def tanh(self) -> Tensor:
        """``tanh x``; VJP ``g (1 - y^2)``."""
        return tanh(self)

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Sum over ``dim`` (all dims when None); VJP broadcasts ``g`` back."""
        return sum(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Mean over ``dim`` (all dims when None); VJP ``g / n`` broadcast back."""
        return mean(self, dim, keepdim)

    def max(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | MaxResult:
        """Maximum of all elements, ``(values, indices)`` along ``dim``, or with a tensor
        the elementwise maximum (torch's binary overload)."""
        return max(self, dim, keepdim)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise maximum with broadcasting."""
        return maximum(self, other)

    def matmul(self, other: Any) -> Tensor:
        """Matrix product with torch's 1-D and batched rules."""
        return matmul(self, other)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """The same elements in ``shape`` (one size may be -1). Named ViewBackward0 when no
        copy is needed, UnsafeViewBackward0 otherwise."""
        return _reshape(self, _shape_arg(shape), view=False)

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        """Like ``reshape`` but never copies: raises when the layout does not allow it."""
        return _reshape(self, _shape_arg(shape), view=True)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dims (a view); VJP swaps them back."""
        d0, d1 = _norm_dim(dim0, self.ndim), _norm_dim(dim1, self.ndim)
        y = np.swapaxes(self.data, d0, d1)
        return _unary(self, "TransposeBackward0", y, lambda g: np.swapaxes(g, d0, d1), view=True,
                      graph_vjp=lambda g, out: g.transpose(d0, d1))

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        """Reorder the dims (a view); VJP applies the inverse permutation."""
        perm = tuple(_norm_dim(d, self.ndim) for d in _shape_arg(dims))
        if sorted(perm) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {perm} are not a permutation of {self.ndim} dims")
        inv = tuple(np.argsort(perm))
        y = np.transpose(self.data, perm)
        return _unary(self, "PermuteBackward0", y, lambda g: np.transpose(g, inv), view=True,
                      graph_vjp=lambda g, out: g.permute(inv))

    @property
    def T(self) -> Tensor:
        """All dims reversed (``permute``), as ``Tensor.T``."""
        return self.permute(tuple(range(self.ndim))[::-1])

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dim at ``dim``."""
        d = _norm_dim(dim, self.ndim + 1)
        shape = self.shape
        return _unary(
            self,
            "UnsqueezeBackward0",
            np.expand_dims(self.data, d),
            lambda g: np.squeeze(g, d),
            view=True,
            graph_vjp=lambda g, out: g.reshape(shape),
        )

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        """A stride-0 view to ``sizes`` (-1 keeps a size; new dims lead); VJP sums ``g``
        back (``sum_to_shape``)."""
        target = _shape_arg(sizes)
        lead = len(target) - self.ndim
        if lead < 0:
            raise ValueError(
                f"expand: the number of sizes provided ({len(target)}) must be greater or "
                f"equal to the number of dimensions in the tensor ({self.ndim})"
            )
        full = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(target))
        shape = self.shape
        return _unary(
            self,
            "ExpandBackward0",
            np.broadcast_to(self.data, full),
            lambda g: sum_to_shape(g, shape),
            view=True,
            graph_vjp=lambda g, out: _sum_to(g, shape),
        )


# --- building results ---------------------------------------------------------------------


def _to_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(_as_array(x))


def tensor(data: Any, requires_grad: bool = False) -> Tensor:
    """``torch.tensor``: a new leaf holding a copy of ``data``."""
    return Tensor(data, requires_grad=requires_grad)


def _result(
    data: np.ndarray,
    name: str,
    inputs: Sequence[Tensor | None],
    vjp: Callable[..., Sequence[np.ndarray | None]],
    saved: Sequence[np.ndarray] = (),
    graph_vjp: Callable[[Tensor, Tensor], Sequence[Tensor | None]] | None = None,
) -> Tensor:
    """Wrap ``data``; record a node only when grad mode is on and an input requires grad.

    ``graph_vjp(g, out)`` states the VJP with reference operations on tensors (``out`` the
    result), so that ``grad(..., create_graph=True)`` can differentiate it again.
    """
    data = np.asarray(data)  # NumPy reductions of 0-d arrays give scalars
    if _GRAD_ENABLED and any(t is not None and t.requires_grad for t in inputs):
        if saved and any(t is not None and t._inference for t in inputs):
            raise RuntimeError(
                "Inference tensors cannot be saved for backward. Please do not use Tensors "
                "created in inference mode in computation tracked by autograd."
            )
        out = Tensor._wrap(data)
        bound = None if graph_vjp is None else (lambda g: graph_vjp(g, out))
        out.grad_fn, out._requires_grad = Node(name, inputs, vjp, saved, bound), True
        return out
    out = Tensor._wrap(data)
    out._inference = _INFERENCE_MODE
    return out


def _unary(
    x: Tensor,
    name: str,
    y: np.ndarray,
    vjp: Callable[..., np.ndarray],
    saved: Sequence[np.ndarray] = (),
    view: bool = False,
    graph_vjp: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> Tensor:
    graph = None if graph_vjp is None else (lambda g, out: (graph_vjp(g, out),))
    out = _result(y, name, (x,), lambda g, *s: (vjp(g, *s),), saved, graph)
    if view and not _GRAD_ENABLED:  # torch: a view made under no_grad keeps requires_grad
        out._requires_grad = x.requires_grad
    return out


def _sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``sum_to_shape`` in reference operations (recorded): sum ``g`` over the dims that
    broadcasting added or stretched, back to ``shape``."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    return sum(g, dims, keepdim=True).reshape(shape) if dims else g.reshape(shape)


def _add(a: Tensor, b: Tensor, alpha: float, name: str) -> Tensor:
    ashape, bshape = a.shape, b.shape
    return _result(
        a.data + alpha * b.data,
        name,
        (a, b),
        lambda g: (sum_to_shape(g, ashape), sum_to_shape(alpha * g, bshape)),
        graph_vjp=lambda g, out: (_sum_to(g, ashape), _sum_to(g * alpha, bshape)),
    )


def _mul(a: Tensor, b: Tensor) -> Tensor:
    return _result(
        a.data * b.data,
        "MulBackward0",
        (a, b),
        lambda g, a_, b_: (sum_to_shape(g * b_, a_.shape), sum_to_shape(g * a_, b_.shape)),
        saved=(a.data, b.data),
        graph_vjp=lambda g, out: (_sum_to(g * b, a.shape), _sum_to(g * a, b.shape)),
    )


def _div(a: Tensor, b: Tensor) -> Tensor:
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = a.data / b.data
    return _result(
        quotient,
        "DivBackward0",
        (a, b),
        lambda g, a_, b_: (
            sum_to_shape(g / b_, a_.shape),
            sum_to_shape(-g * a_ / (b_ * b_), b_.shape),
        ),
        saved=(a.data, b.data),
        graph_vjp=lambda g, out: (_sum_to(g / b, a.shape), _sum_to(-g * a / (b * b), b.shape)),
    )


def _pow(x: Tensor, exponent: Any) -> Tensor:
    """``x ** p``. VJPs: ``g p x^{p-1}`` (0 where p = 0) and ``g x^p ln x`` (0 where x = 0
    and p >= 0), as torch's ``pow_backward``."""
    if not isinstance(exponent, Tensor):
        p = float(exponent)
        return _unary(
            x,
            "PowBackward0",
            x.data**p,
            lambda g, x_: np.zeros_like(g) if p == 0 else g * p * x_ ** (p - 1),
            saved=(x.data,),
            graph_vjp=lambda g, out: g * 0.0 if p == 0 else g * p * x ** (p - 1),
        )
    y = x.data**exponent.data
    return _result(
        y,
        "PowBackward1",
        (x, exponent),
        lambda g, x_, p_, y_: (
            sum_to_shape(np.where(p_ == 0, 0.0, g * p_ * x_ ** (p_ - 1)), x_.shape),
            sum_to_shape(
                g * np.where((x_ == 0) & (p_ >= 0), 0.0, y_ * np.log(np.abs(x_))), p_.shape
            ),
        ),
        saved=(x.data, exponent.data, y),
    )


def _rpow(base: Tensor, exponent: Tensor) -> Tensor:
    """``number ** tensor``; VJP ``g b^x ln b`` (PowBackward2)."""
    b = base.data
    y = b**exponent.data
    return _unary(exponent, "PowBackward2", y, lambda g, y_: g * y_ * np.log(b), saved=(y,))


# --- elementwise --------------------------------------------------------------------------


def exp(input: Tensor) -> Tensor:
    """``e^x``; VJP ``g e^x``."""
    y = np.exp(input.data)
    return _unary(input, "ExpBackward0", y, lambda g, y_: g * y_, saved=(y,),
                  graph_vjp=lambda g, out: g * out)


def log(input: Tensor) -> Tensor:
    """``ln x``; VJP ``g / x``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(input.data)
    return _unary(input, "LogBackward0", y, lambda g, x_: g / x_, saved=(input.data,),
                  graph_vjp=lambda g, out: g / input)


def relu(input: Tensor) -> Tensor:
    """``max(x, 0)``; VJP ``g [y > 0]`` (torch's ``threshold_backward`` on the result)."""
    y = np.maximum(input.data, 0.0)
    return _unary(input, "ReluBackward0", y, lambda g, y_: g * (y_ > 0), saved=(y,),
                  graph_vjp=lambda g, out: g * Tensor._wrap((out.data > 0).astype(np.float64)))


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + e^{-x})``; VJP ``g y (1 - y)``."""
    y = np.exp(-np.logaddexp(0.0, -input.data))  # 1 / (1 + e^{-x}) without overflow
    return _unary(input, "SigmoidBackward0", y, lambda g, y_: g * y_ * (1.0 - y_), saved=(y,),
                  graph_vjp=lambda g, out: g * out * (1.0 - out))


def tanh(input: Tensor) -> Tensor:
    """``tanh x``; VJP ``g (1 - y^2)``."""
    y = np.tanh(input.data)
    return _unary(input, "TanhBackward0", y, lambda g, y_: g * (1.0 - y_ * y_), saved=(y,),
                  graph_vjp=lambda g, out: g * (1.0 - out * out))


def maximum(input: Tensor, other: Any) -> Tensor:
    """Elementwise maximum; the gradient goes to the larger input, halved on ties."""
    a, b = _to_tensor(input), _to_tensor(other)

    def vjp(g: np.ndarray, a_: np.ndarray, b_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tie = np.where(a_ == b_, 0.5, 1.0)
        return (
            sum_to_shape(g * tie * (a_ >= b_), a_.shape),
            sum_to_shape(g * tie * (b_ >= a_), b_.shape),
        )

    def graph_vjp(g: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
        tie = np.where(a.data == b.data, 0.5, 1.0)  # the routing is constant: masks
        to_a = Tensor._wrap(tie * (a.data >= b.data))
        to_b = Tensor._wrap(tie * (b.data >= a.data))
        return _sum_to(g * to_a, a.shape), _sum_to(g * to_b, b.shape)

    return _result(
        np.maximum(a.data, b.data), "MaximumBackward0", (a, b), vjp, saved=(a.data, b.data),
        graph_vjp=graph_vjp,
    )


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (all broadcast); the gradient is
    routed to the chosen side, 0 to the other."""
    c = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    a, b = _to_tensor(input), _to_tensor(other)
    return _result(
        np.where(c, a.data, b.data),
        "WhereBackward0",
        (a, b),
        lambda g, c_: (
            sum_to_shape(np.where(c_, g, 0.0), a.shape),
            sum_to_shape(np.where(c_, 0.0, g), b.shape),
        ),
        saved=(c,),
        graph_vjp=lambda g, out: (  # selects as torch does: inf * 0 would give nan
            _sum_to(where(c, g, 0.0), a.shape),
            _sum_to(where(c, 0.0, g), b.shape),
        ),
    )


# --- reductions ---------------------------------------------------------------------------


def _norm_dim(dim: int, ndim: int) -> int:
    lo, hi = -builtins.max(ndim, 1), builtins.max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})"
        )
    return dim % builtins.max(ndim, 1)


def _dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted({_norm_dim(d, ndim) for d in dims})) if ndim else ()


def _expand_back(g: np.ndarray, shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool):
    if not keepdim:
        g = np.expand_dims(g, dims)
    return np.broadcast_to(g, shape)


def _expand_back_graph(g: Tensor, shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool):
    kept = tuple(1 if d in dims else n for d, n in enumerate(shape))
    return g.reshape(kept).expand(shape)


def sum(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """``torch.sum``: SumBackward0 over all dims, SumBackward1 over ``dim``."""
    dims, shape = _dims(dim, input.ndim), input.shape
    name = "SumBackward0" if dim is None else "SumBackward1"
    y = input.data.sum(axis=dims, keepdims=keepdim)
    return _unary(input, name, np.asarray(y), lambda g: _expand_back(g, shape, dims, keepdim),
                  graph_vjp=lambda g, out: _expand_back_graph(g, shape, dims, keepdim))


def mean(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """``torch.mean``: ``sum / n`` with ``n`` the number of reduced elements."""
    dims, shape = _dims(dim, input.ndim), input.shape
    n = math.prod(shape[d] for d in dims)
    name = "MeanBackward0" if dim is None else "MeanBackward1"
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.asarray(input.data.sum(axis=dims, keepdims=keepdim) / n)
    return _unary(input, name, y, lambda g: _expand_back(g / n, shape, dims, keepdim),
                  graph_vjp=lambda g, out: _expand_back_graph(g / n, shape, dims, keepdim))


def max(
    input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False
) -> Tensor | MaxResult:
    """``torch.max``. Without ``dim``: the largest element (MaxBackward1), its gradient
    shared evenly by all maximal elements. With ``dim``: ``(values, indices)``
    (MaxBackward0), the first maximal index, which receives the whole gradient. With a
    tensor in place of ``dim``, ``max(a, b)``: the elementwise
    [`maximum`][reference.autograd.maximum] (MaximumBackward0); a Python number there is a
    ``TypeError``, as in torch."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(
            f"max() received an invalid combination of arguments: got (Tensor, "
            f"{type(dim).__name__}); the second argument is a dim (int) or a Tensor"
        )
    x = input.data
    if x.size == 0:
        raise IndexError("max(): Expected reduction dim to be specified for input.numel() == 0")
    if dim is None:
        m = x.max()

        def vjp_all(g: np.ndarray, x_: np.ndarray) -> np.ndarray:
            mask = x_ == m
            return mask * (g / mask.sum())

        return _unary(input, "MaxBackward1", np.asarray(m), vjp_all, saved=(x,))
    d = _norm_dim(dim, x.ndim)
    if x.ndim == 0:
        idx = np.zeros((), dtype=np.int64)
        values = _unary(input, "MaxBackward0", x.copy(), lambda g, i: g, saved=(idx,))
        return MaxResult(values, Tensor._wrap(idx))
    idx = np.expand_dims(np.argmax(x, axis=d), d)
    shape = x.shape

    def vjp(g: np.ndarray, idx_: np.ndarray) -> np.ndarray:
        out = np.zeros(shape)
        np.put_along_axis(out, idx_, g if keepdim else np.expand_dims(g, d), axis=d)
        return out

    vals = np.take_along_axis(x, idx, axis=d)
    if not keepdim:
        vals, idx_out = np.squeeze(vals, d), np.squeeze(idx, d)
    else:
        idx_out = idx
    values = _unary(input, "MaxBackward0", vals, vjp, saved=(idx,))
    return MaxResult(values, Tensor._wrap(idx_out.astype(np.int64)))


# --- matmul -------------------------------------------------------------------------------


def matmul(input: Any, other: Any) -> Tensor:
    """``torch.matmul``: dot (1-D, 1-D), mv (2-D, 1-D), mm (2-D, 2-D); a 1-D operand is
    treated as a row (first) or column (second) vector and that dim removed; otherwise the
    batch dims broadcast. VJPs: ``G B^T`` and ``A^T G``, summed over broadcast batch dims.
    """
    a, b = _to_tensor(input), _to_tensor(other)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D"
        )
    k_a, k_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        raise ValueError(
            f"matmul: size mismatch, {list(a.shape)} @ {list(b.shape)}: "
            f"{k_a} != {k_b} in the contracted dimension"
        )
    if a.ndim == 1 and b.ndim == 1:
        name = "DotBackward0"
    elif a.ndim == 2 and b.ndim == 1:
        name = "MvBackward0"
    elif a.ndim == 2 and b.ndim == 2:
        name = "MmBackward0"
    elif a.ndim == 1 and b.ndim == 2:  # as torch: unsqueeze(0), mm, squeeze(0)
        row = matmul(a.unsqueeze(0), b)
        return _unary(row, "SqueezeBackward4", row.data[0], lambda g: g[None],
                      graph_vjp=lambda g, out: g.unsqueeze(0))
    else:
        name = "UnsafeViewBackward0"  # torch's top node for most batched cases
    a_shape, b_shape = a.shape, b.shape

    def vjp(g: np.ndarray, a_: np.ndarray, b_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a2 = a_[None, :] if a_.ndim == 1 else a_  # promote 1-D operands to matrices
        b2 = b_[:, None] if b_.ndim == 1 else b_
        g2 = np.expand_dims(g, -1) if b_.ndim == 1 else g  # restore the removed dims
        g2 = np.expand_dims(g2, -2) if a_.ndim == 1 else g2
        ga = g2 @ np.swapaxes(b2, -1, -2)
        gb = np.swapaxes(a2, -1, -2) @ g2
        ga = sum_to_shape(ga, a2.shape).reshape(a_shape)
        gb = sum_to_shape(gb, b2.shape).reshape(b_shape)
        return ga, gb

    def graph_vjp(g: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g.unsqueeze(-1) if b.ndim == 1 else g
        g2 = g2.unsqueeze(-2) if a.ndim == 1 else g2
        ga = _sum_to(g2 @ b2.transpose(-1, -2), a2.shape).reshape(a_shape)
        gb = _sum_to(a2.transpose(-1, -2) @ g2, b2.shape).reshape(b_shape)
        return ga, gb

    return _result(np.matmul(a.data, b.data), name, (a, b), vjp, saved=(a.data, b.data),
                   graph_vjp=graph_vjp)


# --- shapes, indexing, joining ------------------------------------------------------------


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], int):
        return tuple(int(s) for s in shape[0])
    return tuple(int(s) for s in shape)


def _reshape(x: Tensor, shape: tuple[int, ...], view: bool) -> Tensor:
    """A view when NumPy can reshape without copying (torch's stride rule), else a copy.
    ``reshape`` names the view as torch's ``reshape`` does: ``ViewBackward0`` for a
    contiguous input, ``ReshapeAliasBackward0`` (``_reshape_alias``) for another one."""
    try:
        y = x.data.reshape(shape)
    except ValueError:
        raise ValueError(
            f"shape '{list(shape)}' is invalid for input of size {x.data.size}"
        ) from None
    no_copy = np.shares_memory(y, x.data) or x.data.size == 0
    if view and not no_copy:
        raise ValueError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    old = x.shape
    back = lambda g, out: g.reshape(old)  # noqa: E731
    if no_copy:
        name = "ViewBackward0" if view or x.data.flags.c_contiguous else "ReshapeAliasBackward0"
        return _unary(x, name, y, lambda g: g.reshape(old), view=True, graph_vjp=back)
    # torch copies to a contiguous clone, then views the copy without further checks
    clone = _unary(x, "CloneBackward0", np.ascontiguousarray(x.data), lambda g: g,
                   graph_vjp=lambda g, out: g)
    return _unary(clone, "UnsafeViewBackward0", clone.data.reshape(shape),
                  lambda g: g.reshape(old), graph_vjp=back)


def _select(x: Tensor, dim: int, index: int) -> Tensor:
    size = x.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for dimension {dim} with size {size}")
    index %= size
    shape = x.shape

    def vjp(g: np.ndarray) -> np.ndarray:
        out = np.zeros(shape)
        out[(slice(None),) * dim + (index,)] = g
        return out

    return _unary(x, "SelectBackward0", x.data[(slice(None),) * dim + (index,)], vjp, view=True)


def _slice(x: Tensor, dim: int, sl: slice) -> Tensor:
    if sl.step is not None and sl.step <= 0:
        raise ValueError("step must be greater than zero")
    key = (slice(None),) * dim + (sl,)
    shape = x.shape

    def vjp(g: np.ndarray) -> np.ndarray:
        out = np.zeros(shape)
        out[key] = g
        return out

    return _unary(x, "SliceBackward0", x.data[key], vjp, view=True)


# Which slices of a multi-dim index torch skips, recording no node: start 0, step 1 and a stop
# that reaches the end of the dim, read from the slice as written (None is 0, the largest
# int64 and 1). From torch 2.9 the stop may be anything >= the size (`:`, `0:5` on 3 rows);
# through torch 2.8 it had to equal the size exactly, so `:` recorded a SliceBackward0.
WHOLE_SLICE_STOP: str = ">="  # "==" describes torch 2.4 to 2.8


def _skips_slice(sl: slice, size: int) -> bool:
    """Whether a slice in a multi-dim index is skipped (aten's ``applySlice`` shortcut)."""
    start = 0 if sl.start is None else sl.start
    stop = 2**63 - 1 if sl.stop is None else sl.stop
    step = 1 if sl.step is None else sl.step
    reaches_end = stop >= size if WHOLE_SLICE_STOP == ">=" else stop == size
    return start == 0 and step == 1 and reaches_end


def _index_array(k: Any) -> np.ndarray | None:
    """The integer or bool array of an advanced index (list, ndarray, Tensor), else None."""
    if isinstance(k, (list, np.ndarray, Tensor)):
        return np.asarray(k.data if isinstance(k, Tensor) else k)
    return None


def _getitem(x: Tensor, key: Any) -> Tensor:
    """torch's indexing order: basic indices (int -> select, slice -> slice unless it is the
    whole dim, None -> unsqueeze) one node each from left to right, then one IndexBackward0
    for all integer-array/bool-mask indices (NumPy's placement of the advanced dims)."""
    lone_slice = isinstance(key, slice)  # x[:] is a slice node, x[:, :] an alias
    key = key if isinstance(key, tuple) else (key,)
    arrays = [_index_array(k) for k in key]
    if builtins.sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = builtins.sum(
        (a.ndim if a is not None and a.dtype == bool else 1)
        for k, a in zip(key, arrays, strict=True)
        if k is not None and k is not Ellipsis
    )
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    out, dim, adv = x, 0, {}
    layouts: dict[int, IndexLayout] = {}  # torch's index tensors, for the result's strides
    for k, arr in zip(key, arrays, strict=True):
        if k is Ellipsis:
            dim += x.ndim - consumed
        elif k is None:
            out, dim = out.unsqueeze(dim), dim + 1
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            out = _select(out, dim, int(k))
        elif isinstance(k, slice):
            if lone_slice or not _skips_slice(k, out.shape[dim]):
                out = _slice(out, dim, k)
            dim += 1
        elif arr is not None and arr.dtype == bool:  # a mask stands for its nonzero indices
            for j, nz in enumerate(np.nonzero(arr)):
                adv[dim + j], layouts[dim + j] = nz, (nz.shape, (arr.ndim,))
            dim += arr.ndim
        elif arr is not None and arr.dtype.kind in "iu":
            size = out.shape[dim]
            bad = arr[(arr >= size) | (arr < -size)]
            if bad.size:
                raise IndexError(
                    f"index {bad.flat[0]} is out of bounds for dimension {dim} with size {size}"
                )
            adv[dim] = arr % builtins.max(size, 1)
            layouts[dim], dim = (arr.shape, contiguous_strides(arr.shape)), dim + 1
        else:
            raise IndexError(
                f"only integers, slices, None, Ellipsis and integer or bool arrays are valid "
                f"indices (got {type(k).__name__})"
            )
    if not adv:
        if out is x:  # nothing applied (x[...], x[:, :]): torch records an alias
            return _unary(x, "AliasBackward0", x.data.view(), lambda g: g, view=True)
        return out
    full = tuple(adv.get(d, slice(None)) for d in range(builtins.max(adv) + 1))
    shape = out.shape

    is_array = tuple(isinstance(f, np.ndarray) for f in full)

    def vjp(g: np.ndarray, *idx: np.ndarray) -> np.ndarray:
        res, it = np.zeros(shape), iter(idx)
        np.add.at(res, tuple(next(it) if a else slice(None) for a in is_array), g)
        return res

    saved = tuple(f for f in full if isinstance(f, np.ndarray))
    strides = advanced_index_strides(
        shape, _element_strides(out.data), [layouts.get(d) for d in range(out.ndim)]
    )
    return _unary(out, "IndexBackward0", in_stride_order(out.data[full], strides), vjp, saved=saved)


def _element_strides(a: np.ndarray) -> tuple[int, ...]:
    return tuple(s // a.itemsize for s in a.strides)


def _without(shape: tuple[int, ...], d: int) -> tuple[int, ...]:
    return shape[:d] + shape[d + 1 :]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """``torch.cat``: join along ``dim`` (other sizes equal); VJP splits ``g`` back. Legacy
    rule: 1-D empty tensors (shape ``(0,)``) are skipped, whatever the others' shape; ``dim``
    is wrapped against the first tensor that is not."""
    ts = [_to_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    # legacy: a 1-D tensor with no elements, shape (0,), is skipped whatever the others' shape
    joined = [t for t in ts if t.shape != (0,)]
    if not joined:
        return _result(np.empty(0), "CatBackward0", ts, lambda g: tuple(np.empty(0) for _ in ts))
    first = joined[0]
    d = _norm_dim(dim, first.ndim)
    for i, t in enumerate(ts):
        if t.shape == (0,):
            continue
        if t.ndim != first.ndim or _without(t.shape, d) != _without(first.shape, d):
            raise ValueError(
                f"cat(): Sizes of tensors must match except in dimension {d}. Expected "
                f"{list(first.shape)} but got {list(t.shape)} for tensor number {i} in the list."
            )
    sizes = [0 if t.shape == (0,) else t.shape[d] for t in ts]
    bounds = np.cumsum(sizes)[:-1]

    def vjp(g: np.ndarray) -> tuple[np.ndarray, ...]:
        pieces = np.split(g, bounds, axis=d)
        return tuple(np.empty(0) if t.shape == (0,) else p for t, p in zip(ts, pieces, strict=True))

    return _result(np.concatenate([t.data for t in joined], axis=d), "CatBackward0", ts, vjp)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """``torch.stack``: join equal-shaped tensors along a new dim ``dim``."""
    ts = [_to_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack expects a non-empty TensorList")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(
                f"stack expects each tensor to be equal size, but got {list(ts[0].shape)} at "
                f"entry 0 and {list(t.shape)} at entry {i}"
            )
    d = _norm_dim(dim, ts[0].ndim + 1)
    return _result(
        np.stack([t.data for t in ts], axis=d),
        "StackBackward0",
        ts,
        lambda g: tuple(np.moveaxis(g, d, 0)),
    )


# --- Function: a NumPy forward and its VJP as one recorded node ---------------------------


class FunctionCtx:
    """What a [`Function`][reference.autograd.Function]'s forward hands its backward:
    ``save_for_backward(*arrays)`` (freed with the graph, as torch's saved tensors),
    ``saved_tensors``, ``needs_input_grad`` (per positional argument), any attributes, and
    for ``backward_graph`` the argument tensors ``inputs`` and the result ``output``."""

    def __init__(self) -> None:
        self.needs_input_grad: tuple[bool, ...] = ()
        self.saved_tensors: tuple[np.ndarray, ...] = ()
        self.inputs: tuple[Any, ...] = ()
        self.output: Tensor | None = None
        self.name: str | None = None  # forward may set the node name for this call
        self._to_save: tuple[np.ndarray, ...] = ()

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        self._to_save = tuple(np.asarray(a) for a in arrays)


class Function:
    """A differentiable operation made of a NumPy forward and its vector-Jacobian product,
    the idea of ``torch.autograd.Function``: the way a layer concept's forward and VJP
    (which stay NumPy functions in the layer's module) plug into this engine.

    Subclass and define:

    - ``name``: torch's ``grad_fn`` name for the operation (``forward`` may set
      ``ctx.name`` when it depends on the input, as ``NllLoss2DBackward0`` on 4-D input);
    - ``forward(ctx, *args, **kwargs)``: NumPy arrays in (each tensor argument arrives as
      its ``data``), an array out, or a tuple whose first item is the differentiable result
      and whose others are returned as tensors outside the graph (e.g. pooling indices);
    - ``backward(ctx, grad)``: one gradient (an array, or ``None``) per positional
      argument;
    - optionally ``backward_graph(ctx, grad)``: the same VJP written with reference
      operations on tensors (``ctx.inputs``, ``ctx.output``), so ``create_graph=True`` can
      differentiate it again.

    ``apply(*args, **kwargs)`` runs ``forward`` and records one node whose inputs are the
    positional tensor arguments, when grad mode is on and one of them requires grad.
    """

    name: str = "FunctionBackward"

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: FunctionCtx, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        ctx.inputs = args
        tensors = [a if isinstance(a, Tensor) else None for a in args]
        ctx.needs_input_grad = tuple(t is not None and t.requires_grad for t in tensors)
        out = cls.forward(ctx, *[a.data if isinstance(a, Tensor) else a for a in args], **kwargs)
        out, *extra = out if isinstance(out, tuple) else (out,)
        positions = [i for i, t in enumerate(tensors) if t is not None]

        def vjp(g: np.ndarray, *saved: np.ndarray) -> list[np.ndarray | None]:
            ctx.saved_tensors = saved
            grads = cls.backward(ctx, g)
            if len(grads) != len(args):
                raise RuntimeError(
                    f"{cls.__name__}.backward returned {len(grads)} gradients, expected "
                    f"{len(args)} (one per positional argument)"
                )
            return [grads[i] for i in positions]

        graph_vjp = None
        if hasattr(cls, "backward_graph"):

            def graph_vjp(g: Tensor, result: Tensor) -> list[Tensor | None]:
                ctx.output = result
                grads = cls.backward_graph(ctx, g)  # type: ignore[attr-defined]
                return [grads[i] for i in positions]

        result = _result(
            out, ctx.name or cls.name, [tensors[i] for i in positions], vjp, ctx._to_save,
            graph_vjp,
        )
        if extra:
            return (result, *(Tensor._wrap(np.asarray(e)) for e in extra))
        return result


# --- the engine ---------------------------------------------------------------------------


def _topological(roots: Sequence[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, each after every node that feeds it a gradient."""
    order: list[Node] = []
    seen: set[int] = set()
    stack_: list[tuple[Node, Iterator[tuple[Node | None, int]]]] = []
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack_.append((root, iter(root.next_functions)))
        while stack_:
            node, it = stack_[-1]
            for nxt, _ in it:
                if nxt is not None and id(nxt) not in seen:
                    seen.add(id(nxt))
                    stack_.append((nxt, iter(nxt.next_functions)))
                    break
            else:
                stack_.pop()
                order.append(node)
    return order[::-1]


def _run_backward(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Any],
    retain_graph: bool | None,
    targets: Sequence[Tensor] | None,
    create_graph: bool = False,
) -> list[Any]:
    """Propagate ``grad_outputs`` from ``outputs``. With ``targets`` None, accumulate into
    leaves' (and retained non-leaves') ``.grad``; otherwise return the targets' gradients.

    At each node the summed incoming gradient first passes the output tensor's hooks (in
    registration order, a returned value replacing it); retained grads see the result. A
    non-leaf target's gradient is taken before its hooks, a leaf's after them (torch's
    order). With ``create_graph`` the gradients are tensors and each VJP is recorded.
    """
    buffers: dict[int, Any] = {}
    roots: list[Node] = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs, strict=True)):
        if not out.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if out.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g_arr = np.ones(out.shape)
        else:
            g_arr = np.array(g.data if isinstance(g, Tensor) else g, dtype=np.float64)
            if g_arr.shape != out.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {list(g_arr.shape)} "
                    f"and output[{i}] has a shape of {list(out.shape)}."
                )
        g_in: Any = g if create_graph and isinstance(g, Tensor) else g_arr
        if create_graph and not isinstance(g_in, Tensor):
            g_in = Tensor._wrap(g_arr)
        node = _edge(out)
        buffers[id(node)] = buffers[id(node)] + g_in if id(node) in buffers else g_in
        roots.append(node)
    target_nodes = {id(_edge(t)): j for j, t in enumerate(targets)} if targets is not None else {}
    found: list[Any] = [None] * len(targets or ())
    order = _topological(roots)
    with set_grad_enabled(create_graph):
        for node in order:
            if id(node) not in buffers:  # no gradient reached this node
                continue
            g = buffers.pop(id(node))
            if not create_graph:
                g = np.asarray(g, dtype=np.float64)
            leaf = isinstance(node, AccumulateGrad)
            if id(node) in target_nodes and not leaf:
                found[target_nodes[id(node)]] = g if create_graph else g.copy()
            for hook in list(node._hooks):
                replaced = hook(g)
                if replaced is not None:
                    g = replaced
            if id(node) in target_nodes and leaf:
                found[target_nodes[id(node)]] = g if create_graph else np.array(g, np.float64)
            if targets is None:
                for t in node._retained:
                    t.grad = np.array(g if t.grad is None else t.grad + g, np.float64)
                if leaf:
                    var = node.variable
                    if var.grad is None:
                        var.grad = np.array(g, dtype=np.float64)  # a fresh copy, not a view
                    else:
                        var.grad += g
            if leaf:
                continue
            grads = node._apply_graph(g) if create_graph else node._apply(g)
            for (nxt, _), gi in zip(node.next_functions, grads, strict=True):
                if nxt is None or gi is None:
                    continue
                key = id(nxt)
                if not create_graph:
                    gi = np.asarray(gi, np.float64)
                buffers[key] = buffers[key] + gi if key in buffers else gi
    if not (retain_graph or (retain_graph is None and create_graph)):
        for node in order:
            node._release()
    return found


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
) -> tuple[Any, ...]:
    """``torch.autograd.grad``: the sums of vector-Jacobian products of ``outputs`` with
    respect to each of ``inputs``, returned instead of accumulated into ``.grad``; ``None``
    for an unused input when ``allow_unused``. With ``create_graph=True`` the results are
    tensors recorded in the graph (so they can be differentiated again: double backward),
    and the graph is kept (``retain_graph`` defaults to ``create_graph``).

    Raises:
        RuntimeError: when an input is unreachable from the outputs, unless ``allow_unused``;
            with ``create_graph``, when a node has no differentiable backward here.
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gos: list[Any] = [None] * len(outs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)) or np.isscalar(grad_outputs):
        gos = [grad_outputs]
    else:
        gos = list(grad_outputs)
    if not all(t.requires_grad for t in ins):
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    found = _run_backward(outs, gos, retain_graph, targets=ins, create_graph=create_graph)
    for i, g in enumerate(found):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"The differentiated Tensor at index {i} appears to not have been used in the "
                "graph. Set allow_unused=True if this is the desired behavior."
            )
    return tuple(found)
