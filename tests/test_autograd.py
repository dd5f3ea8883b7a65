"""GRAD: autograd, held to torch.autograd and to the reference engine (reference/autograd.py).

Most properties run one program twice, once on torch tensors and once on reference tensors:
the reference mirrors torch's API (``x.exp()``, ``x.sum(dim, keepdim)``, ``lib.cat``,
``lib.where``), so the same interpreter drives both.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference import autograd as ag
from tests.strategies import finite_arrays
from tests.support import assert_both_raise, assert_matches, to_torch, torch_at_least


@pytest.fixture(autouse=True, scope="module")
def _slice_rule_of_this_release():
    """Through torch 2.8 a slice of a multi-dim index is skipped only when its stop equals
    the size (GRAD-3): the reference states both rules, this picks the installed one."""
    with pytest.MonkeyPatch.context() as patch:
        if not torch_at_least("2.9"):
            patch.setattr(ag, "WHOLE_SLICE_STOP", "==")
        yield

# --- running one program on both engines --------------------------------------------------


class Lib:
    """What the interpreter needs from an engine: leaf creation, module functions, grad."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        self.name, self.device = name, device
        self.mod = torch if name == "torch" else ag

    def leaf(self, array: np.ndarray, requires_grad: bool = True, noncontiguous: bool = False):
        if self.name == "torch":
            return to_torch(array, self.device, requires_grad, noncontiguous)
        return ag.Tensor(array, requires_grad=requires_grad)

    def array(self, array: np.ndarray):
        """A constant (mask, index or vector) in this engine's form."""
        return to_torch(array, self.device) if self.name == "torch" else array

    def autograd_grad(self, *args, **kwargs):
        f = torch.autograd.grad if self.name == "torch" else ag.grad
        return f(*args, **kwargs)


TORCH, REF = Lib("torch"), Lib("reference")


def as_numpy(x) -> np.ndarray:
    """Values of a torch tensor, a reference tensor or an array, as a NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x.data if isinstance(x, ag.Tensor) else np.asarray(x)


def grad_of(t) -> Any:
    """``t.grad`` without torch's warning about reading a non-leaf's ``.grad``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return t.grad


def assert_same_grad(torch_tensor, ref_tensor, **tol: float) -> None:
    tg, rg = grad_of(torch_tensor), grad_of(ref_tensor)
    assert (tg is None) == (rg is None), f"torch grad {tg}, reference grad {rg}"
    if tg is not None:
        assert isinstance(rg, np.ndarray) and rg.dtype == np.float64
        assert_matches(tg, rg, **tol)


def node_names(output) -> list[str | None]:
    """The graph below ``output`` read through ``grad_fn.next_functions`` (depth first, each
    node once, ``None`` for an input outside the graph)."""
    names: list[str | None] = []
    # id -> node: holding the node keeps its id from being reused (torch may hand out a new
    # Python wrapper per access, and a freed wrapper's id can come back for another node)
    seen: dict[int, Any] = {}

    def walk(node) -> None:
        if node is None:
            names.append(None)
            return
        names.append(node.name())
        if id(node) in seen:
            return
        seen[id(node)] = node
        for nxt, _ in node.next_functions:
            walk(nxt)

    walk(output.grad_fn)
    return names


# --- the random expression DAG strategy ----------------------------------------------------

UNARY = ("exp", "sigmoid", "tanh", "relu", "neg", "square", "log", "T")
SCALAR = ("add", "rsub", "sub", "mul", "div", "rdiv", "rpow")
BINARY = ("add", "sub", "mul", "div", "maximum", "max", "pow")
JOIN = ("cat", "stack")
values = st.sampled_from(np.arange(-8, 9) / 4)


def dyadic_arrays(shape: tuple[int, ...], low: int = -8, high: int = 8):
    """float64 arrays of multiples of 1/4 in [low/4, high/4], from one drawn seed.

    Few distinct values give ties and zeros (the kinks of relu, max, maximum); dyadic values
    keep sums and products exact, so torch and NumPy see the same ties. One seed per array
    keeps generation cheap (a draw per element is the bulk of a property's time).
    """
    return st.integers(0, 2**32 - 1).map(
        lambda seed: np.random.default_rng(seed).integers(low, high + 1, size=shape) / 4
    )


def _bcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


@dataclass
class Program:
    """Leaves (arrays) and steps; each step reads earlier values by position."""

    leaves: list[np.ndarray]
    steps: list[tuple] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)
    gradient: np.ndarray | None = None

    def __repr__(self) -> str:
        leaves = [(a.shape, a.tolist()) for a in self.leaves]
        return f"Program(leaves={leaves}, steps={self.steps}, gradient={self.gradient})"


@st.composite
def index_keys(draw, shape: tuple[int, ...]) -> tuple:
    """A basic or advanced index for ``shape``: ints, slices, None, and integer arrays."""
    key: list[Any] = []
    n_index = draw(st.integers(1, 3))  # integer-array indices broadcast: one shared length
    for size in shape[: draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(("int", "slice", "full", "array", "none")))
        if kind == "int":
            key.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":  # as written: negative or past-the-end bounds, None parts
            bound = st.none() | st.integers(-size - 1, size + 1)
            sl = slice(draw(bound), draw(bound), draw(st.sampled_from((None, 1, 2))))
            key.append(sl if len(range(*sl.indices(size))) else slice(0, size))
        elif kind == "full":
            key.append(slice(None))
        elif kind == "array":
            idx = draw(st.lists(st.integers(-size, size - 1), min_size=n_index, max_size=n_index))
            key.append(np.array(idx, dtype=np.int64))
        else:
            key.extend([None, slice(None)])
    return tuple(key)


def torch_index_shape(shape: tuple[int, ...], key: tuple) -> tuple[int, ...]:
    """The shape of ``x[key]`` as torch indexes: ints (and None, slices) first, as basic
    indexing, then the integer arrays, placed by NumPy's rule among what is left. NumPy
    alone differs when an int and an array are separated by a slice: ``x[0, :, [0, 0]]`` of
    a (1, 1, 1) tensor is (1, 2) in torch and (2, 1) in NumPy."""
    is_array = [isinstance(k, np.ndarray) for k in key]
    pairs = list(zip(key, is_array, strict=True))
    basic = np.empty(shape)[tuple(slice(None) if a else k for k, a in pairs)]
    rest = tuple(k if a else slice(None) for k, a in pairs
                 if a or not isinstance(k, (int, np.integer)))
    return basic[rest].shape


@pytest.mark.spec("GRAD-4")
def test_an_int_and_an_array_apart_index_as_torch_does():
    """Found by a random seed (3280498934): the programs' shapes followed NumPy's rule."""
    key = (0, slice(None), np.array([0, 0]))
    x = np.arange(1.0).reshape(1, 1, 1)
    expected = tuple(torch.from_numpy(x)[0, :, [0, 0]].shape)  # (1, 2)
    assert torch_index_shape(x.shape, key) == expected == ag.tensor(x)[key].shape


# The ops whose backward the reference records (create_graph=True), GRAD-17.
TWICE_DIFFERENTIABLE = {
    "unary": UNARY,
    "scalar": tuple(op for op in SCALAR if op != "rpow"),
    "binary": ("add", "sub", "mul", "div", "maximum", "max"),
    "reduce": ("sum", "mean"),
}


@st.composite
def programs(
    draw, max_steps: int = 6, allow_matmul: bool = True, twice_differentiable: bool = False
) -> Program:
    """A random expression DAG over 1-3 float64 leaves: steps may reuse any earlier value
    (shared subexpressions), operands broadcast, and reductions, indexing, matmul with new
    leaves, transposes, reshapes, cat and stack appear. ``twice_differentiable`` keeps to
    the ops of ``TWICE_DIFFERENTIABLE`` (no indexing or joining)."""
    (leaf_shapes, _) = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, min_side=1, max_side=3)
    )
    n = draw(st.integers(1, 3))
    prog = Program([draw(dyadic_arrays(s)) for s in leaf_shapes[:n]])
    prog.shapes = [a.shape for a in prog.leaves]
    kinds = ["unary", "scalar", "binary", "where", "reduce", "index", "reshape", "join"]
    ops = {"unary": UNARY, "scalar": SCALAR, "binary": BINARY, "reduce": ("sum", "mean", "max")}
    if twice_differentiable:
        kinds = ["unary", "scalar", "binary", "where", "reduce", "reshape"]
        ops = TWICE_DIFFERENTIABLE
    if allow_matmul:
        kinds.append("matmul")
    for _ in range(draw(st.integers(1, max_steps))):
        shapes_ = prog.shapes
        i = draw(st.integers(0, len(shapes_) - 1))
        s = shapes_[i]
        kind = draw(st.sampled_from(kinds))
        if kind == "unary":
            op = draw(st.sampled_from(ops["unary"] if len(s) == 2 else ops["unary"][:-1]))
            step, out = ("unary", op, i), (s[::-1] if op == "T" else s)
        elif kind == "scalar":
            op = draw(st.sampled_from(ops["scalar"]))
            c = draw(st.sampled_from((0.5, 2.0, 3.0)) if op == "rpow" else values)
            step, out = ("scalar", op, i, c), s
        elif kind in ("binary", "where"):
            partners = [j for j, t in enumerate(shapes_) if _bcast(s, t) is not None]
            j = draw(st.sampled_from(partners))
            out = _bcast(s, shapes_[j])
            if kind == "binary":
                step = ("binary", draw(st.sampled_from(ops["binary"])), i, j)
            else:
                mask_shape = draw(st.sampled_from(((), out[-1:], out)))
                step = ("where", draw(dyadic_arrays(mask_shape, 0, 1)) > 0, i, j)
        elif kind == "reduce":
            op = draw(st.sampled_from(ops["reduce"]))
            if not s or draw(st.booleans()):
                step, out = ("reduce", op, i, None, False), ()
            else:
                dim = draw(st.integers(-len(s), len(s) - 1))
                keep = draw(st.booleans())
                out = tuple(
                    1 if d == dim % len(s) else x
                    for d, x in enumerate(s)
                    if keep or d != dim % len(s)
                )
                step = ("reduce", op, i, dim, keep)
        elif kind == "index" and s:
            key = draw(index_keys(s))
            step, out = ("index", i, key), torch_index_shape(s, key)
        elif kind == "reshape":
            target = draw(st.sampled_from(((-1,), (*s, 1), (1, *s))))
            step, out = ("reshape", i, target), np.empty(s).reshape(target).shape
        elif kind == "join" and s:
            same = [j for j, t in enumerate(shapes_) if t == s]
            j = draw(st.sampled_from(same))
            op = draw(st.sampled_from(JOIN))
            dim = draw(st.integers(0, len(s) - (op == "cat")))
            out = (
                np.concatenate([np.empty(s)] * 2, axis=dim).shape
                if op == "cat"
                else np.stack([np.empty(s)] * 2, axis=dim).shape
            )
            step = (op, i, j, dim)
        elif kind == "matmul" and len(s) in (1, 2):
            k = draw(st.integers(1, 3))
            left = draw(st.booleans())  # w @ x contracts x's first dim, x @ w its last
            w_shape = draw(
                st.sampled_from(((k, s[0]), (s[0],)) if left else ((s[-1], k), (s[-1],)))
            )
            w = draw(dyadic_arrays(w_shape))
            step = ("matmul", i, w, left)
            out = (
                np.empty(w_shape) @ np.empty(s) if left else np.empty(s) @ np.empty(w_shape)
            ).shape
        else:
            step, out = ("unary", "tanh", i), s
        prog.steps.append(step)
        prog.shapes.append(tuple(out))
    if draw(st.booleans()):
        prog.gradient = draw(dyadic_arrays(prog.shapes[-1]))
    return prog


def _unary(op: str, x):
    if op == "neg":
        return -x
    if op == "square":
        return x**2
    if op == "log":
        return (x * x + 1).log()
    if op == "T":
        return x.T
    return getattr(x, op)()  # exp, sigmoid, tanh, relu


def _scalar(op: str, x, c: float):
    if op == "add":
        return x + c
    if op == "rsub":
        return c - x
    if op == "sub":
        return x - c
    if op == "mul":
        return c * x
    if op == "div":
        return x / (c if c != 0 else 1.0)
    if op == "rdiv":
        return c / (x * x + 1)
    return c**x  # rpow


def _binary(lib: Lib, op: str, x, y):
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    if op == "div":
        return x / (y * y + 1)
    if op == "maximum":
        return lib.mod.maximum(x, y)
    if op == "max":  # the binary overload torch.max(a, b)
        return lib.mod.max(x, y)
    return (x * x + 1) ** y  # pow with a tensor exponent and a positive base


def run(lib: Lib, prog: Program, requires: list[bool] | None = None, noncontiguous: bool = False):
    """Evaluate ``prog`` on ``lib``: returns (leaves, values). ``requires[k]`` says whether
    the k-th leaf (matmul weights count as leaves) requires grad; all do by default."""
    flags = iter(requires if requires is not None else [])

    def new_leaf(a: np.ndarray):
        return lib.leaf(a, requires_grad=next(flags, True), noncontiguous=noncontiguous)

    leaves = [new_leaf(a) for a in prog.leaves]
    vals = list(leaves)
    for step in prog.steps:
        kind = step[0]
        if kind == "unary":
            out = _unary(step[1], vals[step[2]])
        elif kind == "scalar":
            out = _scalar(step[1], vals[step[2]], step[3])
        elif kind == "binary":
            out = _binary(lib, step[1], vals[step[2]], vals[step[3]])
        elif kind == "where":
            _, mask, i, j = step
            out = lib.mod.where(lib.array(mask), vals[i], vals[j])
        elif kind == "reduce":
            _, op, i, dim, keep = step
            x = vals[i]
            if dim is None:
                out = getattr(x, op)()
            elif op == "max":
                out = x.max(dim, keepdim=keep).values
            else:
                out = getattr(x, op)(dim, keepdim=keep)
        elif kind == "index":
            _, i, key = step
            out = vals[i][tuple(lib.array(k) if isinstance(k, np.ndarray) else k for k in key)]
        elif kind == "reshape":
            out = vals[step[1]].reshape(step[2])
        elif kind in JOIN:
            _, i, j, dim = step
            out = getattr(lib.mod, kind)([vals[i], vals[j]], dim)
        else:  # matmul with a new leaf
            _, i, w, left = step
            wt = new_leaf(w)
            leaves.append(wt)
            out = wt @ vals[i] if left else vals[i] @ wt
        vals.append(out)
    return leaves, vals


def run_backward(lib: Lib, prog: Program, vals, **kwargs) -> None:
    """Backpropagate from the last value: ``gradient`` when the program has one, else
    through ``.sum()``."""
    out = vals[-1]
    if prog.gradient is None:
        out.sum().backward(**kwargs)
    else:
        out.backward(lib.array(prog.gradient), **kwargs)


def assume_moderate(vals, bound: float = 1e6) -> None:
    """Skip programs whose values overflow or grow huge (exp of exp, long products)."""
    assume(all(np.all(np.abs(as_numpy(v)) < bound) for v in vals))


def both(prog: Program, device: str = "cpu", **kwargs):
    """Run ``prog`` on torch and on the reference: ((t_leaves, t_vals), (r_leaves, r_vals))."""
    noncontiguous = kwargs.pop("noncontiguous", False)
    t = run(Lib("torch", device), prog, noncontiguous=noncontiguous, **kwargs)
    r = run(REF, prog, **kwargs)
    assume_moderate(r[1])
    return t, r


# --- GRAD-1, GRAD-2: recording, requires_grad, leaves ------------------------------------


@pytest.mark.spec("GRAD-2")
def test_user_tensors_are_leaves_and_only_floats_require_grad():
    for lib in (TORCH, REF):
        x = lib.leaf(np.ones(2), requires_grad=False)
        assert x.is_leaf and not x.requires_grad and x.grad is None
        assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
        assert (x * 2).detach().is_leaf
    assert_both_raise(
        lambda: torch.tensor([1, 2]).requires_grad_(),
        lambda: ag.Tensor(np.array([1, 2])).requires_grad_(),
        reference_error=RuntimeError,
        match="floating point",
    )
    assert_both_raise(
        lambda: setattr(torch.ones(2, requires_grad=True) * 2, "requires_grad", False),
        lambda: setattr(ag.Tensor(np.ones(2), requires_grad=True) * 2, "requires_grad", False),
        reference_error=RuntimeError,
        match="only change requires_grad flags of leaf",
    )


@pytest.mark.spec("GRAD-2")
@given(finite_arrays((2, 3)))
def test_item_and_numpy_rules_match_torch(array):
    rx, tx = ag.Tensor(array, requires_grad=True), to_torch(array, requires_grad=True)
    assert rx.sum().item() == pytest.approx(tx.sum().item())
    assert_both_raise(tx.item, rx.item, reference_error=RuntimeError, match="6 elements")
    assert_both_raise(tx.numpy, rx.numpy, reference_error=RuntimeError, match="requires grad")
    assert rx.detach().numpy() is rx.data


# --- GRAD-3: node names -------------------------------------------------------------------

# (torch's node name today, the expression on either engine)
NODE_NAMES = [
    ("AddBackward0", lambda m, x, y: x + y),
    ("AddBackward0", lambda m, x, y: x + 2.0),
    ("SubBackward0", lambda m, x, y: x - y),
    ("RsubBackward1", lambda m, x, y: 2.0 - x),
    ("MulBackward0", lambda m, x, y: x * y),
    ("MulBackward0", lambda m, x, y: 3.0 * x),
    ("DivBackward0", lambda m, x, y: x / y),
    ("MulBackward0", lambda m, x, y: 2.0 / x),  # reciprocal, then mul
    ("PowBackward0", lambda m, x, y: x**2),
    ("PowBackward1", lambda m, x, y: x**y),
    ("PowBackward2", lambda m, x, y: 2.0**x),
    ("NegBackward0", lambda m, x, y: -x),
    ("MmBackward0", lambda m, x, y: x @ y.T),
    ("MvBackward0", lambda m, x, y: x @ y[0]),
    ("DotBackward0", lambda m, x, y: x[0] @ y[0]),
    ("SqueezeBackward4", lambda m, x, y: x[0] @ y.T),
    ("SumBackward0", lambda m, x, y: x.sum()),
    ("SumBackward1", lambda m, x, y: x.sum(1, keepdim=True)),
    ("MeanBackward0", lambda m, x, y: x.mean()),
    ("MeanBackward1", lambda m, x, y: x.mean(0)),
    ("MaxBackward0", lambda m, x, y: x.max(1).values),
    ("MaxBackward1", lambda m, x, y: x.max()),
    ("MaximumBackward0", lambda m, x, y: m.maximum(x, y)),
    ("MaximumBackward0", lambda m, x, y: m.max(x, y)),  # torch.max's binary overload
    ("WhereBackward0", lambda m, x, y: m.where(x > y, x, y)),
    ("ExpBackward0", lambda m, x, y: x.exp()),
    ("LogBackward0", lambda m, x, y: x.log()),
    ("ReluBackward0", lambda m, x, y: x.relu()),
    ("SigmoidBackward0", lambda m, x, y: x.sigmoid()),
    ("TanhBackward0", lambda m, x, y: x.tanh()),
    ("ViewBackward0", lambda m, x, y: x.reshape(6)),
    ("ViewBackward0", lambda m, x, y: x.view(3, 2)),
    ("UnsafeViewBackward0", lambda m, x, y: x.transpose(0, 1).reshape(6)),
    ("ReshapeAliasBackward0", lambda m, x, y: x.transpose(0, 1).reshape(1, 3, 2)),
    ("ReshapeAliasBackward0", lambda m, x, y: x[:, 0].reshape(2, 1)),
    ("TransposeBackward0", lambda m, x, y: x.transpose(0, 1)),
    ("PermuteBackward0", lambda m, x, y: x.T),
    ("SelectBackward0", lambda m, x, y: x[1]),
    ("SliceBackward0", lambda m, x, y: x[:, 1:]),
    ("SelectBackward0", lambda m, x, y: x[-5:, 0]),  # start -5 is not 0: a slice node
    # both slices reach the end: no node from torch 2.9, two SliceBackward0 before
    ("AliasBackward0" if torch_at_least("2.9") else "SliceBackward0", lambda m, x, y: x[0:5, :]),
    ("SelectBackward0", lambda m, x, y: x[1:, 0]),
    ("UnsqueezeBackward0", lambda m, x, y: x[None]),
    ("AliasBackward0", lambda m, x, y: x[...]),
    ("IndexBackward0", lambda m, x, y: x[[0, 1, 1]]),
    ("IndexBackward0", lambda m, x, y: x[x > 0]),
    ("CatBackward0", lambda m, x, y: m.cat([x, y], 1)),
    ("StackBackward0", lambda m, x, y: m.stack([x, y])),
]


@pytest.mark.spec("GRAD-3")
@pytest.mark.parametrize(("name", "expr"), NODE_NAMES, ids=[str(i) for i in range(len(NODE_NAMES))])
def test_node_names_match_torch(device, name, expr):
    x = np.array([[0.5, 1.5, 2.0], [1.0, 0.25, 3.0]])
    y = np.array([[1.0, 2.0, 0.5], [2.0, 0.5, 1.0]])
    t = expr(torch, to_torch(x, device, True), to_torch(y, device, True))
    r = expr(ag, ag.Tensor(x, requires_grad=True), ag.Tensor(y, requires_grad=True))
    assert t.grad_fn.name() == name
    assert r.grad_fn.name() == name
    assert node_names(r) == node_names(t)


FLATTEN_AFTER_INDEX = [  # (shape, permutation of the leaf, key): found by the soak
    ((2, 1, 1), (0, 1, 2), (slice(None), [0, 0])),
    ((2, 3, 4), (0, 1, 2), (slice(None), [0, 1])),
    ((2, 3, 4), (0, 1, 2), (slice(None), slice(None), [0, 2])),
    ((2, 3, 4), (2, 1, 0), (slice(None), slice(None), [0, 1])),
    ((2, 3, 4), (2, 1, 0), ([0, 1],)),
    ((2, 3, 4), (1, 0, 2), (slice(None), [0, 1])),
    ((2, 3, 4), (0, 1, 2), ([0, 1], slice(None), [1, 2])),
    ((2, 3), (1, 0), (np.array([[True, False], [False, True], [True, True]]),)),
    ((1, 2, 2), (0, 1, 2), (slice(None), slice(None), 0)),  # a view, not contiguous: alias
]


@pytest.mark.spec("GRAD-3")
@pytest.mark.parametrize(("shape", "perm", "key"), FLATTEN_AFTER_INDEX)
def test_flattening_an_index_result_copies_exactly_when_torch_does(device, shape, perm, key):
    """An index result has torch's memory layout (STRIDE-13), so ``reshape(-1)`` of it is a
    view (``ViewBackward0``, or ``ReshapeAliasBackward0`` of a non-contiguous input) or a
    copy (``UnsafeViewBackward0``) exactly as in torch (soak seeds 2271148777, 1129245643)."""
    x = np.arange(float(math.prod(shape))).reshape(shape)
    t = to_torch(x, device, True).permute(perm)[tuple(
        torch.tensor(k, device=device) if isinstance(k, (list, np.ndarray)) else k for k in key
    )].reshape(-1)
    r = ag.Tensor(x, requires_grad=True).permute(perm)[key].reshape(-1)
    assert node_names(r) == node_names(t)


@pytest.mark.spec("GRAD-3")
def test_leaf_accumulators_are_shared_and_point_at_the_leaf():
    for x in (torch.ones(2, requires_grad=True), ag.Tensor(np.ones(2), requires_grad=True)):
        y = x * x
        (a, _), (b, _) = y.grad_fn.next_functions
        assert a is b and a.variable is x and a.name() == "torch::autograd::AccumulateGrad"
        assert (x * 2).grad_fn.next_functions[1] == (None, 0)


# --- GRAD-4: backward computes every leaf's gradient --------------------------------------


@st.composite
def single_op_cases(draw, op: tuple[str, str]):
    """Two distinct broadcastable leaves for one op, so every VJP is checked on every run
    (the random DAGs reach each op only now and then)."""
    (a_shape, b_shape), _ = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=1, max_side=3)
    )
    a = draw(dyadic_arrays(a_shape))
    b = draw(dyadic_arrays(b_shape))
    c = draw(st.sampled_from((0.5, 2.0, 3.0)) if op[1] == "rpow" else values)
    return a, b, c


SINGLE_OPS = {
    "unary": [u for u in UNARY if u != "T"],
    "scalar": list(SCALAR),
    "binary": list(BINARY),
}


@pytest.mark.spec("GRAD-4", "GRAD-5")
@pytest.mark.parametrize("family", SINGLE_OPS)
@given(data=st.data())
def test_each_op_gradient_matches_torch(family, data):
    """One op of a family on two leaves, both engines: values and both leaves' gradients
    (with a non-trivial upstream gradient) match torch, for each unary, scalar and binary
    op (one property per family: the op is drawn)."""
    op = (family, data.draw(st.sampled_from(SINGLE_OPS[family]), label="op"))
    a, b, c = data.draw(single_op_cases(op))
    results = []
    for lib in (TORCH, REF):
        x, y = lib.leaf(a), lib.leaf(b)
        if op[0] == "unary":
            out = _unary(op[1], x)
        elif op[0] == "scalar":
            out = _scalar(op[1], x, c)
        else:
            out = _binary(lib, op[1], x, y)
        upstream = np.arange(1, int(np.prod(out.shape)) + 1, dtype=np.float64).reshape(out.shape)
        out.backward(lib.array(upstream / 8))
        results.append((out, x, y))
    (t_out, tx, ty), (r_out, rx, ry) = results
    assume(np.all(np.abs(r_out.data) < 1e6))
    assert_matches(t_out, r_out.data)
    assert_same_grad(tx, rx)
    assert_same_grad(ty, ry)


@pytest.mark.spec("GRAD-1", "GRAD-3", "GRAD-4", "GRAD-5", "GRAD-7", "GRAD-8")
@given(
    programs(),
    st.lists(st.sampled_from([True, True, True, False]), min_size=8, max_size=8),
    st.booleans(),
    st.data(),
)
def test_random_graphs_match_torch(device, prog, flags, noncontiguous, data):
    """One random DAG on both engines, leaves requiring grad or not (flags):
    - GRAD-1: each value requires grad and is a leaf exactly as in torch;
    - GRAD-3: the graph read through next_functions has torch's node names;
    - GRAD-4/5: the values and every leaf's .grad after backward match torch;
    - GRAD-7: only leaves and the non-leaves that called retain_grad() get .grad;
    - GRAD-8: a second backward through the freed graph raises exactly when torch's does.
    """
    torch_lib = Lib("torch", device)
    (t_leaves, t_vals), (r_leaves, r_vals) = both(
        prog, device, requires=flags, noncontiguous=noncontiguous
    )
    for t, r in zip(t_vals, r_vals, strict=True):
        assert_matches(t, r.data)
        assert (r.requires_grad, r.is_leaf) == (t.requires_grad, t.is_leaf)
        assert r.is_leaf == (r.grad_fn is None)
        if not noncontiguous:  # a reshape of a non-contiguous leaf copies: extra nodes
            assert node_names(r) == node_names(t)
    assume(r_vals[-1].requires_grad)
    n_leaves = len(prog.leaves)
    nonleaves = [k for k in range(n_leaves, len(r_vals)) if r_vals[k].requires_grad]
    retained = data.draw(st.sets(st.sampled_from(nonleaves)) if nonleaves else st.just(set()))
    for k in retained:
        t_vals[k].retain_grad()
        r_vals[k].retain_grad()
    run_backward(torch_lib, prog, t_vals)
    run_backward(REF, prog, r_vals)
    for t, r in zip(t_leaves, r_leaves, strict=True):
        assert_same_grad(t, r)
    for k, (t, r) in enumerate(zip(t_vals, r_vals, strict=True)):
        assert r.retains_grad == t.retains_grad == (k in retained)
        if not r.is_leaf and k not in retained:
            assert grad_of(r) is None
        assert_same_grad(t, r)
    outcomes = []
    for lib, vals in ((torch_lib, t_vals), (REF, r_vals)):
        try:
            run_backward(lib, prog, vals)
            outcomes.append("ok")
        except RuntimeError as error:
            assert "backward through the graph a second time" in str(error)
            outcomes.append("raised")
    assert outcomes[0] == outcomes[1]


@pytest.mark.spec("GRAD-4")
def test_notes_001_square_sum():
    """Notes 001: ``x.pow(2).sum().backward()`` gives ``2x``."""
    x = ag.Tensor([[1.0, 0.0], [-1.0, 1.0]], requires_grad=True)
    x.pow(2).sum().backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0], [-2.0, 2.0]])
    tx = torch.tensor([[1.0, 0.0], [-1.0, 1.0]], requires_grad=True)
    tx.pow(2).sum().backward()
    assert tx.grad.tolist() == [[2.0, 0.0], [-2.0, 2.0]]


@pytest.mark.spec("GRAD-4")
def test_notes_004_mean_of_3y_squared():
    """Notes 004: ``y = x + 2``, ``out = (y*y*3).mean()``: d out/dx = 6(x+2)/4 = 4.5."""
    for lib in (TORCH, REF):
        x = lib.leaf(np.ones((2, 2)))
        y = x + 2
        assert y.grad_fn.name() == "AddBackward0"
        out = (y * y * 3).mean()
        assert out.item() == 27.0 and out.grad_fn.name() == "MeanBackward0"
        out.backward()
        assert_matches(torch.as_tensor(as_numpy(x.grad)), np.full((2, 2), 4.5))


@pytest.mark.spec("GRAD-4")
@given(
    finite_arrays((4, 3), min_value=-5, max_value=5),
    st.lists(st.integers(0, 2), min_size=4, max_size=4),
)
def test_cross_entropy_composed_from_ops_matches_torch(logits, target):
    """``-log_softmax(x)[n, t_n]`` averaged, written with max, exp, sum, log and indexing
    (what a training loop on the reference engine uses), equals ``F.cross_entropy``."""
    x = ag.Tensor(logits, requires_grad=True)
    z = x - x.max(1, keepdim=True).values.detach()
    log_probs = z - z.exp().sum(1, keepdim=True).log()
    loss = -log_probs[np.arange(4), np.array(target)].mean()
    loss.backward()
    tx = to_torch(logits, requires_grad=True)
    t_loss = F.cross_entropy(tx, torch.tensor(target))
    t_loss.backward()
    assert_matches(t_loss, loss.data)
    assert_matches(tx.grad, x.grad)


@pytest.mark.spec("GRAD-4")
@given(data=st.data())
@example(data=None)  # the notes-free edge: every operand a legacy empty tensor
def test_cat_skips_legacy_empty_tensors(device, data):
    """``cat`` skips 1-D tensors of shape (0,) whatever the others' shape (their gradient is
    empty); ``dim`` wraps against the first other tensor; only (0,)s give a (0,) result."""
    if data is None:
        parts, dim = [np.empty(0), np.empty(0)], 0
    else:
        shape = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="shape")
        dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
        parts = []
        for _ in range(data.draw(st.integers(1, 3))):
            size = list(shape)
            size[dim] = data.draw(st.integers(0, 2))
            parts.append(data.draw(dyadic_arrays(tuple(size))))
        for _ in range(data.draw(st.integers(1, 2))):
            parts.insert(data.draw(st.integers(0, len(parts))), np.empty(0))
    expected = np.concatenate([a for a in parts if a.shape != (0,)] or [np.empty(0)], dim)
    for lib in (Lib("torch", device), REF):
        leaves = [lib.leaf(a) for a in parts]
        out = lib.mod.cat(leaves, dim)
        np.testing.assert_array_equal(as_numpy(out), expected, strict=True)
        (out * out).sum().backward()
        for leaf, a in zip(leaves, parts, strict=True):  # d(sum out^2)/da = 2a, () for (0,)
            np.testing.assert_array_equal(as_numpy(leaf.grad), 2 * a, strict=True)


@pytest.mark.spec("GRAD-4")
def test_cat_of_a_2d_empty_tensor_is_not_skipped():
    assert_both_raise(
        lambda: torch.cat([torch.empty(0, 2), torch.ones(2, 3)], 1),
        lambda: ag.cat([ag.Tensor(np.empty((0, 2))), ag.Tensor(np.ones((2, 3)))], 1),
        match="dimension 1",
    )


@pytest.mark.spec("GRAD-3")
def test_max_of_a_tensor_and_a_number_is_a_type_error():
    assert_both_raise(
        lambda: torch.max(torch.ones(2), 1.0),
        lambda: ag.max(ag.Tensor(np.ones(2)), 1.0),
        torch_error=TypeError, reference_error=TypeError, match="max",
    )


# --- GRAD-5: vector-Jacobian products -----------------------------------------------------


@pytest.mark.spec("GRAD-5")
def test_notes_004_vector_jacobian_product():
    """Notes 004: ``y = 2^k x`` with ``k`` the doublings until ``|y| >= 1000``;
    ``y.backward(v)`` gives ``x.grad = 2^k v`` for ``v = [0.1, 1.0, 0.0001]``."""
    v = np.array([0.1, 1.0, 0.0001])
    tx = torch.randn(3, dtype=torch.float64, requires_grad=True)
    rx = ag.Tensor(tx.detach().numpy(), requires_grad=True)
    grads = []
    for lib, x in ((TORCH, tx), (REF, rx)):
        y, k = x * 2, 1
        while np.linalg.norm(as_numpy(y)) < 1000:
            y, k = y * 2, k + 1
        y.backward(lib.array(v))
        grads.append((k, as_numpy(x.grad)))
    (tk, t_grad), (rk, r_grad) = grads
    assert tk == rk
    np.testing.assert_allclose(t_grad, 2.0**tk * v, rtol=0)
    np.testing.assert_allclose(r_grad, 2.0**rk * v, rtol=0)


@pytest.mark.spec("GRAD-5")
@given(st.sampled_from([(2,), (2, 3), (1, 2)]))
def test_nonscalar_backward_needs_a_gradient_of_its_shape(shape):
    t = to_torch(np.ones(shape), requires_grad=True) * 2
    r = ag.Tensor(np.ones(shape), requires_grad=True) * 2
    assert_both_raise(
        t.backward, r.backward, reference_error=RuntimeError, match="only for scalar outputs"
    )
    assert_both_raise(
        lambda: t.backward(torch.ones(5)),
        lambda: r.backward(np.ones(5)),
        reference_error=RuntimeError,
        match="Mismatch in shape",
    )
    for out in (to_torch(np.ones((1, 1)), requires_grad=True), ag.Tensor(np.ones((1, 1)), True)):
        (out * 3).backward()  # one element: the gradient 1 is implied
        assert out.grad.tolist() == [[3.0]]


@pytest.mark.spec("GRAD-5")
def test_backward_of_a_tensor_outside_the_graph_raises():
    assert_both_raise(
        lambda: torch.ones(()).backward(),
        lambda: ag.Tensor(1.0).backward(),
        reference_error=RuntimeError,
        match="does not require grad",
    )


# --- GRAD-6: accumulation and zeroing -----------------------------------------------------


@pytest.mark.spec("GRAD-6")
@given(programs(max_steps=3), st.integers(2, 3), st.sampled_from(["none", "zero"]))
def test_gradients_accumulate_until_zeroed(device, prog, calls, reset):
    (t_leaves, t_vals), (r_leaves, r_vals) = both(prog, device)
    for lib, vals in ((Lib("torch", device), t_vals), (REF, r_vals)):
        for _ in range(calls):
            run_backward(lib, prog, vals, retain_graph=True)
    for t, r in zip(t_leaves, r_leaves, strict=True):
        assert_same_grad(t, r)
    once = run(REF, prog)
    run_backward(REF, prog, once[1])
    for r, single in zip(r_leaves, once[0], strict=True):
        if single.grad is not None:
            np.testing.assert_allclose(r.grad, calls * single.grad, rtol=1e-12, atol=1e-12)
    for t, r in zip(t_leaves, r_leaves, strict=True):  # reset, as zero_grad does
        if r.grad is None:
            continue
        if reset == "none":
            t.grad, r.grad = None, None
        else:
            t.grad.zero_()
            r.grad[...] = 0.0
    run_backward(Lib("torch", device), prog, t_vals)
    run_backward(REF, prog, r_vals)
    for t, r, single in zip(t_leaves, r_leaves, once[0], strict=True):
        assert_same_grad(t, r)
        if single.grad is not None:
            np.testing.assert_allclose(r.grad, single.grad, rtol=1e-12, atol=1e-12)


# --- GRAD-7: which tensors get .grad --------------------------------------------------------


@pytest.mark.spec("GRAD-7")
def test_retain_grad_needs_requires_grad():
    assert_both_raise(
        lambda: torch.ones(2).retain_grad(),
        lambda: ag.Tensor(np.ones(2)).retain_grad(),
        reference_error=RuntimeError,
        match="requires_grad=False",
    )


# --- GRAD-8: retain_graph -------------------------------------------------------------------


@pytest.mark.spec("GRAD-8")
@pytest.mark.parametrize(
    ("expr", "saves"),
    [
        (lambda x: (x * x).sum(), True),
        (lambda x: x.exp().sum(), True),
        (lambda x: (x + 1).sum(), False),
        (lambda x: x.reshape(-1)[1:].mean(), False),
    ],
    ids=["mul", "exp", "add", "view-slice-mean"],
)
def test_retain_graph_keeps_saved_tensors(expr, saves):
    for lib in (TORCH, REF):
        x = lib.leaf(np.arange(4.0).reshape(2, 2))
        out = expr(x)
        out.backward(retain_graph=True)
        first = as_numpy(x.grad).copy()
        out.backward()  # allowed: the first call kept the graph
        np.testing.assert_allclose(as_numpy(x.grad), 2 * first)
        if saves:
            with pytest.raises(RuntimeError, match="retain_graph"):
                out.backward()
        else:
            out.backward()  # nothing was saved, nothing was freed


# --- GRAD-9: no_grad and detach -------------------------------------------------------------


@pytest.mark.spec("GRAD-9")
@given(programs(max_steps=3))
def test_no_grad_records_nothing(device, prog):
    with torch.no_grad(), ag.no_grad():
        assert not torch.is_grad_enabled() and not ag.is_grad_enabled()
        (_, t_vals), (_, r_vals) = both(prog, device)
    assert ag.is_grad_enabled()
    for t, r in zip(t_vals, r_vals, strict=True):
        assert_matches(t, r.data)
        assert (r.requires_grad, r.grad_fn) == (t.requires_grad, t.grad_fn)
    assert all(v.is_leaf for v in r_vals)


@pytest.mark.spec("GRAD-9")
@given(finite_arrays((2, 3), min_value=-3, max_value=3))
def test_detach_shares_data_and_cuts_the_graph(device, array):
    """``x * x.detach()`` differentiates as ``c x``: the gradient is ``x``, not ``2x``."""
    for lib in (Lib("torch", device), REF):
        x = lib.leaf(array)
        d = x.detach()
        assert d.is_leaf and not d.requires_grad and d.grad_fn is None
        (x * d).sum().backward()
        assert_matches(torch.as_tensor(as_numpy(x.grad)), array)
        d.data[0, 0] = 7.0 if lib is REF else d.data[0, 0]
    rx = ag.Tensor(array)
    rx.detach().data[0, 0] = 7.0  # shared, like torch's detach
    assert rx.data[0, 0] == 7.0


@pytest.mark.spec("GRAD-9")
def test_no_grad_is_also_a_decorator():
    @ag.no_grad()
    def f(x):
        return x * 2

    assert not f(ag.Tensor(np.ones(2), requires_grad=True)).requires_grad


# --- GRAD-10: in-place operations ------------------------------------------------------------


@pytest.mark.spec("GRAD-10")
def test_inplace_add_on_a_leaf_that_requires_grad_raises():
    assert_both_raise(
        lambda: torch.ones(2, requires_grad=True).add_(1.0),
        lambda: ag.Tensor(np.ones(2), requires_grad=True).add_(1.0),
        reference_error=RuntimeError,
        match="leaf Variable that requires grad is being used in an in-place operation",
    )


@pytest.mark.spec("GRAD-10")
@given(finite_arrays((3,)), finite_arrays((3,)))
def test_inplace_update_under_no_grad_is_how_optimizers_step(param, step):
    """Under ``no_grad`` a leaf's values change in place: same array, same leaf."""
    t, r = to_torch(param, requires_grad=True), ag.Tensor(param, requires_grad=True)
    data = r.data
    with torch.no_grad(), ag.no_grad():
        t.add_(to_torch(step), alpha=-0.5)
        r.add_(step, alpha=-0.5)
    assert r.data is data and r.is_leaf and r.requires_grad
    assert t.is_leaf and t.requires_grad
    assert_matches(t, r.data)


@pytest.mark.spec("GRAD-10")
@given(
    finite_arrays((2, 3), min_value=-3, max_value=3), finite_arrays((3,), min_value=-3, max_value=3)
)
def test_inplace_add_on_a_nonleaf_rebases_its_history(device, a, b):
    grads = []
    for lib in (Lib("torch", device), REF):
        x, y = lib.leaf(a), lib.leaf(b)
        z = x * 2
        out = z.add_(y, alpha=3.0)
        assert out is z and z.grad_fn.name() == "AddBackward0"
        assert z.grad_fn.next_functions[0][0].name() == "MulBackward0"
        (z * z).sum().backward()
        grads.append((x.grad, y.grad))
    (tgx, tgy), (rgx, rgy) = grads
    assert_matches(tgx, rgx)
    assert_matches(tgy, rgy)


# --- GRAD-11: autograd.grad -----------------------------------------------------------------


@pytest.mark.spec("GRAD-11")
@given(programs(max_steps=3))
def test_autograd_grad_returns_without_accumulating(device, prog):
    (t_leaves, t_vals), (r_leaves, r_vals) = both(prog, device)
    for lib, leaves, vals in ((Lib("torch", device), t_leaves, t_vals), (REF, r_leaves, r_vals)):
        out, go = vals[-1], None
        if prog.gradient is not None:
            go = lib.array(prog.gradient)
        elif out.numel() != 1:
            out = out.sum()
        grads = lib.autograd_grad(out, leaves, grad_outputs=go, allow_unused=True)
        for leaf, g in zip(leaves, grads, strict=True):
            assert leaf.grad is None
            leaf.grad = g  # compared below
    for t, r in zip(t_leaves, r_leaves, strict=True):
        assert_same_grad(t, r)


@pytest.mark.spec("GRAD-11")
def test_autograd_grad_of_an_unused_input_raises_unless_allowed():
    tx, ty = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    rx, ry = ag.Tensor(np.ones(2), True), ag.Tensor(np.ones(2), True)
    assert_both_raise(
        lambda: torch.autograd.grad(tx.sum(), [tx, ty]),
        lambda: ag.grad(rx.sum(), [rx, ry]),
        reference_error=RuntimeError,
        match="index 1 appears to not have been used",
    )
    assert ag.grad(rx.sum(), [rx, ry], allow_unused=True)[1] is None
    assert torch.autograd.grad(tx.sum(), [tx, ty], allow_unused=True)[1] is None


@pytest.mark.spec("GRAD-11")
def test_autograd_grad_with_respect_to_a_nonleaf():
    for lib in (TORCH, REF):
        x = lib.leaf(np.array([1.0, 2.0]))
        y = x * 3
        (g,) = lib.autograd_grad((y * y).sum(), [y])
        assert_matches(torch.as_tensor(as_numpy(g)), np.array([6.0, 12.0]))
        assert x.grad is None


# --- GRAD-12: finite differences ------------------------------------------------------------


def central_differences(f, arrays: list[np.ndarray], h: float = 1e-6) -> list[np.ndarray]:
    """Our own checker: ``dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h`` for a scalar
    function ``L`` of float64 arrays, one coordinate at a time."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            orig = a[idx]
            a[idx] = orig + h
            up = f(arrays)
            a[idx] = orig - h
            down = f(arrays)
            a[idx] = orig
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.spec("GRAD-12")
def test_finite_difference_checker_on_known_derivatives():
    x = np.linspace(-2, 2, 7)
    (g,) = central_differences(lambda a: np.sin(a[0]).sum(), [x.copy()])
    np.testing.assert_allclose(g, np.cos(x), atol=1e-8)
    (g,) = central_differences(lambda a: (a[0] ** 3).sum(), [x.copy()])
    np.testing.assert_allclose(g, 3 * x**2, atol=1e-6)


SMOOTH = ("relu", "maximum", "max")  # kinks: excluded where finite differences straddle them


@pytest.mark.spec("GRAD-12")
@given(programs(max_steps=3))
def test_reference_gradients_match_finite_differences(prog):
    assume(not any(s[1] in SMOOTH for s in prog.steps if isinstance(s[1], str)))
    leaves, vals = run(REF, prog)
    assume_moderate(vals, 1e3)
    v = prog.gradient if prog.gradient is not None else np.ones(prog.shapes[-1])
    vals[-1].backward(v)
    arrays = [leaf.data.copy() for leaf in leaves]
    n = len(prog.leaves)

    def loss(arrs: list[np.ndarray]) -> float:
        replay = Program(arrs[:n], _with_weights(prog.steps, arrs[n:]))
        with ag.no_grad():
            _, out = run(REF, replay)
        return float((out[-1].data * v).sum())

    numeric = central_differences(loss, arrays)
    for leaf, g in zip(leaves, numeric, strict=True):
        analytic = np.zeros_like(g) if leaf.grad is None else leaf.grad  # None: unused leaf
        # central differences: truncation O(h^2 f''') plus rounding O(eps |L| / h) ~ 1e-7
        np.testing.assert_allclose(analytic, g, rtol=1e-5, atol=1e-5)


def _with_weights(steps: list[tuple], weights: list[np.ndarray]) -> list[tuple]:
    it = iter(weights)
    return [(s[0], s[1], next(it), s[3]) if s[0] == "matmul" else s for s in steps]


# --- GRAD-13: the notes' network in torch ---------------------------------------------------


class NotesNet(torch.nn.Module):
    """Notes 004's LeNet: conv(1->6, 5) relu pool, conv(6->16, 5) relu pool, view, three
    linear layers with relu between."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# The notes' chain (input -> conv2d -> relu -> maxpool2d -> ... -> MSELoss) with today's names.
NOTES_CHAIN = [
    ("MSELoss", "MseLossBackward0"),
    ("linear", "AddmmBackward0"),
    ("relu", "ReluBackward0"),
    ("linear", "AddmmBackward0"),
    ("relu", "ReluBackward0"),
    ("linear", "AddmmBackward0"),
    ("view", "ViewBackward0"),
    ("maxpool2d", "MaxPool2DWithIndicesBackward0"),
    ("relu", "ReluBackward0"),
    ("conv2d", "ConvolutionBackward0"),
    ("maxpool2d", "MaxPool2DWithIndicesBackward0"),
    ("relu", "ReluBackward0"),
    ("conv2d", "ConvolutionBackward0"),
]


@pytest.mark.spec("GRAD-13")
def test_notes_network_grad_fn_chain(device):
    net = NotesNet().to(device)
    output = net(torch.randn(1, 1, 32, 32, device=device))
    target = torch.randn(10, device=device).view(1, -1)
    loss = torch.nn.MSELoss()(output, target)
    chain, node = [], loss.grad_fn
    while node is not None:
        chain.append(node.name())
        inner = [n for n, _ in node.next_functions if n is not None and n.next_functions]
        inner = [n for n in inner if n.name() != "TBackward0"]  # the weight transposes
        node = inner[0] if inner else None
    assert chain == [name for _, name in NOTES_CHAIN]
    # the parameters hang off the chain as AccumulateGrad leaves; the input does not
    first_conv = loss.grad_fn
    for _ in range(len(NOTES_CHAIN) - 1):
        first_conv = [
            n
            for n, _ in first_conv.next_functions
            if n is not None and n.next_functions and n.name() != "TBackward0"
        ][0]
    (inp, _), (weight, _), (bias, _) = first_conv.next_functions
    assert inp is None and weight.variable is net.conv1.weight and bias.variable is net.conv1.bias
    net.zero_grad()
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


# --- GRAD-14: non-differentiable points -------------------------------------------------


@pytest.mark.spec("GRAD-14")
@given(
    dyadic_arrays((3, 4), -4, 4).map(lambda a: np.round(a) + 0.0),
    dyadic_arrays((4,), -4, 4).map(lambda a: np.round(a) + 0.0),
)
@example(np.zeros((3, 4)), np.zeros(4))
def test_conventions_at_kinks_and_ties_match_torch(device, a, b):
    """relu'(0) = 0; max() splits the gradient evenly over tied maxima; max(dim) gives it
    all to the returned (first) index; maximum halves it on ties."""
    exprs = [
        lambda m, x, y: x.relu(),
        lambda m, x, y: x.max(),
        lambda m, x, y: x.max(1).values,
        lambda m, x, y: x.max(0, keepdim=True).values,
        lambda m, x, y: m.maximum(x, y),
    ]
    for expr in exprs:
        tx, ty = to_torch(a, device, True), to_torch(b, device, True)
        rx, ry = ag.Tensor(a, requires_grad=True), ag.Tensor(b, requires_grad=True)
        t, r = expr(torch, tx, ty), expr(ag, rx, ry)
        v = np.linspace(0.5, 1.5, r.numel()).reshape(r.shape)
        t.backward(to_torch(v, device))
        r.backward(v)
        assert_same_grad(tx, rx)
        assert_same_grad(ty, ry)
    t_max, r_max = to_torch(a, device).max(1), ag.Tensor(a).max(1)
    np.testing.assert_array_equal(r_max.indices.data, t_max.indices.cpu().numpy())


# --- GRAD-15: retain_grad accumulates; GRAD-16: tensor hooks ---------------------------------


HOOK_PLANS = st.lists(
    st.tuples(st.integers(0, 7), st.sampled_from([None, 0.5, -2.0, "retain"])), max_size=4
)


def _by_tensor(seen: list[tuple[int, np.ndarray]]) -> dict[int, list[np.ndarray]]:
    """Observed gradients grouped by tensor, each tensor's in the order its hooks ran."""
    grouped: dict[int, list[np.ndarray]] = {}
    for k, g in seen:
        grouped.setdefault(k, []).append(g)
    return grouped


@pytest.mark.spec("GRAD-15", "GRAD-16")
@given(prog=programs(max_steps=4), plan=HOOK_PLANS)
@example(  # sibling leaves of one add: torch's engine runs their hooks in its own order
    prog=Program([np.array(1.5), np.array(1.5)], [("binary", "add", 0, 1)], [(), (), ()]),
    plan=[(0, None), (1, None)],
)
def test_hooks_and_retained_grads_match_torch(prog, plan):
    """Hooks (scaling the gradient, or observing it and returning None) on random values,
    registered in random order with ``retain_grad`` among them; two backward calls through
    the retained graph, a hook removed in between: every leaf's and retained non-leaf's
    ``.grad`` and every tensor's observed gradients, in its hooks' order, match torch's.
    The order between different tensors' hooks is the engine's schedule, which torch leaves
    unspecified, so it is not compared."""
    (t_leaves, t_vals), (r_leaves, r_vals) = both(prog)
    n = len(t_vals)
    handles, seen = {"torch": [], "reference": []}, {"torch": [], "reference": []}
    for lib, vals in (("torch", t_vals), ("reference", r_vals)):
        for k, action in plan:
            v = vals[k % n]
            if not v.requires_grad:
                continue
            if action == "retain":
                v.retain_grad()
            elif action is None:
                handles[lib].append(v.register_hook(
                    lambda g, lib=lib, k=k % n: seen[lib].append((k, as_numpy(g).copy()))))
            else:
                handles[lib].append(v.register_hook(lambda g, c=action: g * c))
    if not t_vals[-1].requires_grad:
        return
    for call in range(2):
        run_backward(Lib("torch"), prog, t_vals, retain_graph=True)
        run_backward(REF, prog, r_vals, retain_graph=True)
        for t, r in zip(t_leaves + t_vals, r_leaves + r_vals, strict=True):
            assert_same_grad(t, r)
        if call == 0 and handles["torch"]:
            handles["torch"][0].remove()
            handles["reference"][0].remove()
    t_seen, r_seen = _by_tensor(seen["torch"]), _by_tensor(seen["reference"])
    assert sorted(t_seen) == sorted(r_seen)
    for k, t_grads in t_seen.items():
        assert len(t_grads) == len(r_seen[k])
        for t, r in zip(t_grads, r_seen[k], strict=True):
            assert_matches(torch.as_tensor(t), r)


@pytest.mark.spec("GRAD-16")
def test_hook_order_and_grad_targets():
    """Hooks run in registration order and a retained grad sees their result; ``grad()``
    takes a non-leaf target's gradient before its hooks and a leaf's after them."""
    for lib in (TORCH, REF):
        b = lib.leaf(np.array([1.0]))
        c = b * 1
        c.register_hook(lambda g: g * 5)
        c.retain_grad()
        c.register_hook(lambda g: g * 7)
        (c * 1).sum().backward()
        assert as_numpy(c.grad).tolist() == [35.0] and as_numpy(b.grad).tolist() == [35.0]
        x = lib.leaf(np.array([1.0, 2.0]))
        x.register_hook(lambda g: g * 100)
        y = x * 2
        y.register_hook(lambda g: g + 1)
        gx, gy = lib.autograd_grad((y * y).sum(), [x, y])
        assert as_numpy(gx).tolist() == [1000.0, 1800.0]
        assert as_numpy(gy).tolist() == [4.0, 8.0]
    assert_both_raise(
        lambda: torch.ones(1).register_hook(lambda g: g),
        lambda: ag.Tensor(np.ones(1)).register_hook(lambda g: g),
        reference_error=RuntimeError, match="doesn't require gradient",
    )


# --- GRAD-17: grad modes as contexts, decorators and calls; inference mode -------------------


def _modes(lib):
    mod = torch if lib is TORCH else ag
    return mod.no_grad, mod.enable_grad, mod.set_grad_enabled, mod.inference_mode, mod


@pytest.mark.spec("GRAD-17")
@pytest.mark.parametrize("lib", [TORCH, REF], ids=["torch", "reference"])
def test_grad_modes_as_contexts_decorators_and_calls(lib):
    no_grad, enable_grad, set_grad_enabled, inference_mode, mod = _modes(lib)
    x = lib.leaf(np.array([1.0, 2.0]))
    with no_grad():
        assert not mod.is_grad_enabled() and not (x * 2).requires_grad
        with enable_grad():
            assert (x * 2).requires_grad
        assert x[0].requires_grad  # a view keeps requires_grad
    with set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert mod.is_grad_enabled()

    @no_grad()
    def doubled(t):
        return t * 2

    @set_grad_enabled(False)  # decorating leaves the mode alone outside the function
    def tripled(t):
        return t * 3

    assert mod.is_grad_enabled()
    assert not doubled(x).requires_grad and not tripled(x).requires_grad

    @enable_grad()
    def recorded(t):
        return t * 2

    with no_grad():
        assert recorded(x).requires_grad
    set_grad_enabled(False)  # a plain call sets the mode at once
    try:
        assert not mod.is_grad_enabled()
    finally:
        set_grad_enabled(True)
    with inference_mode():
        inferred = x * 2
        assert not inferred.requires_grad and inferred.is_inference()
        assert x[0].requires_grad
    ((x + inferred) * 1).sum().backward()  # + saves no tensor: an inference tensor may join
    assert as_numpy(x.grad).tolist() == [1.0, 1.0]


@pytest.mark.spec("GRAD-17")
def test_an_inference_tensor_cannot_be_saved_for_backward():
    with torch.inference_mode():
        ti = torch.ones(2) * 2
    with ag.inference_mode():
        ri = ag.Tensor(np.ones(2)) * 2
    assert_both_raise(
        lambda: torch.ones(2, requires_grad=True) * ti,
        lambda: ag.Tensor(np.ones(2), requires_grad=True) * ri,
        reference_error=RuntimeError, match="Inference tensors cannot be saved",
    )


# --- GRAD-18: create_graph, double backward ----------------------------------------------------


@pytest.mark.spec("GRAD-18")
@given(prog=programs(max_steps=5, twice_differentiable=True), data=st.data())
def test_double_backward_matches_torch(prog, data):
    """``grad(out, leaves, create_graph=True)`` gives gradients that are in the graph; the
    gradient of ``sum(w * g)`` over them (a Hessian-vector product) matches torch's."""
    (t_leaves, t_vals), (r_leaves, r_vals) = both(prog)
    if not t_vals[-1].requires_grad:
        return
    first = {}
    for name, lib, leaves, vals in (("torch", Lib("torch"), t_leaves, t_vals),
                                    ("reference", REF, r_leaves, r_vals)):
        out = vals[-1].sum() if prog.gradient is None else (vals[-1] * lib.array(
            prog.gradient)).sum()
        first[name] = lib.autograd_grad(out, leaves, create_graph=True, allow_unused=True)
    weights = [data.draw(dyadic_arrays(leaf.shape)) for leaf in prog.leaves] + [
        data.draw(dyadic_arrays(tuple(t.shape))) for t in t_leaves[len(prog.leaves):]]
    for t, r in zip(first["torch"], first["reference"], strict=True):
        assert (t is None) == (r is None)
        if t is not None:
            assert_matches(t, as_numpy(r))
    pairs = [(k, t, r) for k, (t, r) in enumerate(zip(first["torch"], first["reference"],
                                                      strict=True)) if t is not None]
    t_z = sum((t * to_torch(weights[k])).sum() for k, t, _ in pairs)
    r_z = sum((r * weights[k]).sum() for k, _, r in pairs)
    for t, r, leaf in zip(_second(t_z, t_leaves), _second(r_z, r_leaves), prog.leaves,
                          strict=False):
        assert_matches(torch.as_tensor(t), r)
        assert t.shape == np.shape(leaf)


def _second(z, leaves) -> list[np.ndarray]:
    """The gradients of ``z`` with respect to ``leaves`` as arrays, zero where ``z`` does not
    depend on a leaf (a constant gradient counts as zero: the second derivative is 0)."""
    requires = getattr(z, "requires_grad", False)
    grads = (torch.autograd.grad if isinstance(z, torch.Tensor) else ag.grad)(
        z, leaves, allow_unused=True) if requires else [None] * len(leaves)
    return [np.zeros(tuple(leaf.shape)) if g is None else as_numpy(g)
            for g, leaf in zip(grads, leaves, strict=True)]


TWICE_SINGLE_OPS = [(family, name) for family, names in SINGLE_OPS.items() for name in names
                    if name in TWICE_DIFFERENTIABLE[family]] + [
    ("reduce", "sum"), ("reduce", "mean"), ("matmul", "mm"), ("matmul", "mv")]


@pytest.mark.spec("GRAD-18")
@given(op=st.sampled_from(TWICE_SINGLE_OPS), data=st.data())
def test_each_op_double_backward_matches_torch(op, data):
    """One op on two leaves, each op of the table drawn in turn (the random graphs reach an
    op only now and then): first gradients with ``create_graph=True`` and the gradients of
    ``sum(w_x g_x) + sum(w_y g_y)`` match torch's."""
    if op[0] == "matmul":
        m, k = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
        a = data.draw(dyadic_arrays((m, k)))
        b = data.draw(dyadic_arrays((k, 2) if op[1] == "mm" else (k,)))
        c = 0.0
    else:
        a, b, c = data.draw(single_op_cases(op))
    w_a, w_b = data.draw(dyadic_arrays(a.shape)), data.draw(dyadic_arrays(b.shape))
    seconds = []
    for lib in (TORCH, REF):
        x, y = lib.leaf(a), lib.leaf(b)
        if op[0] == "unary":
            out = _unary(op[1], x) * y.sum()  # y joins so that mixed derivatives exist
        elif op[0] == "scalar":
            out = _scalar(op[1], x, c) * y.sum()
        elif op[0] == "binary":
            out = _binary(lib, op[1], x, y)
        elif op[0] == "reduce":
            out = getattr(x * x, op[1])() * y.sum()
        else:
            out = x @ y
        upstream = np.arange(1, int(np.prod(out.shape)) + 1, dtype=np.float64).reshape(out.shape)
        loss = (out * lib.array(upstream / 8)).sum()
        gx, gy = lib.autograd_grad(loss, [x, y], create_graph=True)
        z = (gx * lib.array(w_a)).sum() + (gy * lib.array(w_b)).sum()
        seconds.append(([as_numpy(gx), as_numpy(gy)], _second(z, [x, y]), as_numpy(out)))
    (t_first, t_second, t_out), (r_first, r_second, r_out) = seconds
    assume(np.all(np.abs(r_out) < 1e6))
    for t, r in zip(t_first + t_second, r_first + r_second, strict=True):
        assert_matches(torch.as_tensor(t), r)


@pytest.mark.spec("GRAD-18")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_where_second_order_selects_rather_than_multiplies():
    """where's VJP is itself a where: the branch not taken passes 0, even an inf upstream
    gradient (a mask multiplied in would give inf * 0 = nan). L = sum(where(c, x, 0) * x),
    then the gradient of sum(w * dL/dx) with an inf weight where c is False."""
    cond, weights = np.array([True, False]), np.array([1.0, np.inf])
    results = []
    for lib in (TORCH, REF):
        x = lib.leaf(np.array([1.0, 2.0]))
        c = lib.array(cond) if lib is TORCH else cond
        y = torch.where(c, x, 0.0) if lib is TORCH else ag.where(c, x, 0.0)
        grad = torch.autograd.grad if lib is TORCH else ag.grad
        (g,) = grad((y * x).sum(), [x], create_graph=True)
        (h,) = grad((g * lib.array(weights)).sum(), [x])
        results.append((as_numpy(g), as_numpy(h)))
    (tg, th), (rg, rh) = results
    np.testing.assert_array_equal(rg, tg)
    np.testing.assert_array_equal(rh, th)
    assert np.isfinite(th[0])


@pytest.mark.spec("GRAD-18")
def test_create_graph_through_an_op_without_a_recorded_backward_raises():
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = ag.grad(x[0] * x[1], [x], create_graph=False)
    with pytest.raises(RuntimeError, match="SelectBackward0"):
        ag.grad(x[0] * x[1], [x], create_graph=True)
    np.testing.assert_array_equal(g, [2.0, 1.0])


# --- GRAD-19: Function, a NumPy forward and its VJP as one node --------------------------------


class TorchSoftplusCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return k * x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * ctx.k * x**2, None


class RefCube(ag.Function):
    name = "CubeBackward"

    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return k * x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * ctx.k * x**2, None

    @staticmethod
    def backward_graph(ctx, g):
        x, _ = ctx.inputs
        return g * 3 * ctx.k * x**2, None


@pytest.mark.spec("GRAD-19")
@given(finite_arrays(st.sampled_from([(), (3,), (2, 2)]), min_value=-3, max_value=3),
       st.floats(-2, 2, allow_nan=False))
def test_a_function_records_one_node_with_its_vjp(x, k):
    tx = to_torch(x, requires_grad=True)
    rx = ag.Tensor(x, requires_grad=True)
    ty, ry = TorchSoftplusCube.apply(tx, k), RefCube.apply(rx, k)
    assert ry.grad_fn.name() == "CubeBackward" and node_names(ry)[1:] == node_names(ty)[1:]
    assert_matches(ty, ry.data)
    (tg,) = torch.autograd.grad(ty.sum(), [tx], create_graph=True)
    (rg,) = ag.grad(ry.sum(), [rx], create_graph=True)
    assert_matches(tg, rg.data)
    (t2,) = torch.autograd.grad(tg.sum(), [tx])
    (r2,) = ag.grad(rg.sum(), [rx])
    assert_matches(t2, r2)
    ry.sum().backward()  # the graph was kept by create_graph; this backward frees it
    with pytest.raises(RuntimeError, match="second time"):
        ry.sum().backward()
