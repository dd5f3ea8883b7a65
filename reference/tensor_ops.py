r"""Tensor operations: creation, reductions, joining and splitting, indexing, repetition,
clamping and matmul (clauses OPS-*).

Every function is named after the torch function it specifies and takes its parameters in
torch's order, with NumPy arrays in and out; results have torch's dtype (a dtype is a name
such as ``"float32"``, see [`reference.dtypes`][reference.dtypes]). The rule the notes teach
for reductions (降维): **the dim you reduce disappears**, $\text{shape}(\operatorname{sum}(x,
d)) = \text{shape}(x)$ without $d$, or with a 1 at $d$ under ``keepdim=True``.

A 0-d array behaves as torch's 0-d tensor: it accepts ``dim`` 0 and -1. Dims may be negative
($d < 0$ means $d + n$). Functions returning ``(values, indices)`` return a
``ValuesIndices`` pair, as torch returns ``torch.return_types``. Views stay views:
``split``, ``chunk``, ``unbind`` and ``expand`` return NumPy views of their input, the other
functions return new arrays.

NumPy only: this module is part of the independent oracle and never imports torch. It builds
on [`reference.dtypes`][reference.dtypes] (promotion, scalar conversion) and
[`reference.broadcasting`][reference.broadcasting] (shapes, expand strides).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from reference import dtypes
from reference.broadcasting import broadcast_shapes, broadcast_strides

Shape = tuple[int, ...]
Dims = int | Sequence[int] | None


class ValuesIndices(NamedTuple):
    """``(values, indices)``, as torch's ``torch.return_types.max`` and friends."""

    values: np.ndarray
    indices: np.ndarray


# --- helpers ------------------------------------------------------------------------------


def _array(input: Any) -> np.ndarray:
    return np.asarray(input)


def _name(array: np.ndarray) -> str:
    return dtypes.info(array.dtype).name


def _np(dtype: Any) -> np.dtype:
    return dtypes.numpy_dtype(dtype)


def _is_float(array: np.ndarray) -> bool:
    return array.dtype.kind in "fc"


def _wrap_dim(dim: int, ndim: int) -> int:
    """``dim`` in ``[-n, n)`` as an index in ``[0, n)``, with $n = \\max(\\text{ndim}, 1)$
    (a 0-d tensor takes dim 0 and -1)."""
    n = builtins.max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {dim!r}")
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return int(dim) % n


def _dims(dim: Dims, ndim: int, *, empty_is_all: bool = True) -> tuple[int, ...]:
    """The dims a reduction runs over: all of them for ``None``, and for an empty sequence
    unless ``empty_is_all`` is false (``all``/``any`` reduce nothing then)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        d = _wrap_dim(dim, ndim)  # a 0-d tensor takes 0 and -1 and has nothing to reduce
        return (d,) if ndim else ()
    wrapped = [_wrap_dim(d, ndim) for d in dim]
    seen: set[int] = set()
    for d in wrapped:
        if d in seen:
            raise ValueError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    if not wrapped:
        return tuple(range(ndim)) if empty_is_all else ()
    return tuple(wrapped) if ndim else ()


def _sizes(size: tuple[Any, ...], name: str = "size") -> Shape:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean the sizes ``(2, 3)``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    sizes = tuple(int(s) for s in size)
    if builtins.any(s < 0 for s in sizes):
        raise ValueError(f"{name} {sizes}: a dimension size must be non-negative")
    return sizes


def _reduced_shape(shape: Shape, dims: tuple[int, ...], keepdim: bool) -> Shape:
    """The shape after reducing ``dims``: they disappear, or become 1 with ``keepdim``."""
    if keepdim:
        return tuple(1 if d in dims else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in dims)


def _check_nonempty(x: np.ndarray, dims: tuple[int, ...], name: str) -> None:
    for d in dims:
        if x.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _scalar_dtype(value: Any) -> str:
    """The dtype a Python fill value gives a new tensor: bool, int64, the default float or
    the default complex (``result_type`` of the value alone)."""
    return dtypes.result_type(value)


# --- creation -----------------------------------------------------------------------------


def arange(
    start: float, end: float | None = None, step: float = 1, *, dtype: str | None = None
) -> np.ndarray:
    r"""``torch.arange``: $[\,\text{start} + i \cdot \text{step} : 0 \le i < n\,]$ with
    $n = \lceil (\text{end} - \text{start}) / \text{step} \rceil$ computed in float64 (in
    exact integer arithmetic when every argument is an int); ``arange(end)`` starts at 0.

    The dtype is int64 when every argument is an int, the default float dtype otherwise.
    The float pitfall: $n$ is computed from the rounded ``step``, so
    ``arange(0.1, 0.4, 0.1)`` has 4 elements ($0.3/0.1 = 3.0000000000000004$), the last
    one about 0.4, although ``end`` is excluded in exact arithmetic. Float arguments with
    an integer ``dtype`` follow torch 2.14 (the length from the floats, ``start`` and
    ``step`` truncated to integers); earlier releases differ.

    Raises:
        ValueError: for ``step == 0``, or ``end`` on the wrong side of ``start``.
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"unsupported range: {start} -> {end}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise ValueError("upper bound and lower bound inconsistent with step sign")
    all_int = builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    if dtype is None:
        dtype = "int64" if all_int else dtypes.get_default_dtype()
    if all_int:
        n = -((int(start) - int(end)) // int(step))  # exact ceil((end - start) / step)
    else:
        n = math.ceil((float(end) - float(start)) / float(step))
    target = _np(dtype)
    index = np.arange(n, dtype=np.int64)
    if target.kind in "iub":  # computed in int64: float arguments are truncated first
        return (int(start) + int(step) * index).astype(target)
    return (np.float64(start) + np.float64(step) * index).astype(target)


def linspace(start: float, end: float, steps: int, *, dtype: str | None = None) -> np.ndarray:
    r"""``torch.linspace``: ``steps`` evenly spaced values from ``start`` to ``end``, both
    included, in the default float dtype unless ``dtype`` is given.

    With $h = (\text{end} - \text{start}) / (\text{steps} - 1)$ (computed in the dtype, or
    in float64 for integer dtypes), the first half of the values is
    $\text{start} + h\,i$ and the second half $\text{end} - h\,(\text{steps} - 1 - i)$, so
    both ends are exact; integer dtypes truncate each value toward zero. ``steps == 1``
    gives ``[start]``.

    Raises:
        ValueError: for a negative ``steps``.
    """
    if steps < 0:
        raise ValueError("number of steps must be non-negative")
    dtype = dtype or dtypes.get_default_dtype()
    target = _np(dtype)
    if steps == 0:
        return np.empty(0, dtype=target)
    compute = np.float64 if target.kind in "iub" else target.type
    lo, hi = (
        compute(dtypes.checked_convert(start, dtype)),
        compute(dtypes.checked_convert(end, dtype)),
    )
    if steps == 1:
        return np.array([lo]).astype(target)
    index = np.arange(steps)
    with np.errstate(over="ignore", invalid="ignore"):
        h = (hi - lo) / compute(steps - 1)
        first = lo + h * index.astype(compute)
        second = hi - h * (steps - 1 - index).astype(compute)
    values = np.where(index < steps // 2, first, second)
    if target.kind in "iu":
        values = np.trunc(values)
    return values.astype(target)


def logspace(
    start: float, end: float, steps: int, base: float = 10.0, *, dtype: str | None = None
) -> np.ndarray:
    r"""``torch.logspace``: $\text{base}^{e_i}$ for the ``steps`` exponents $e_i$ evenly
    spaced from ``start`` to ``end`` (as ``linspace``, in float64), then cast to the dtype
    (the default float unless given; integer dtypes truncate).

    Raises:
        ValueError: for a negative ``steps``.
    """
    if steps < 0:
        raise ValueError("number of steps must be non-negative")
    dtype = dtype or dtypes.get_default_dtype()
    target = _np(dtype)
    if steps == 0:
        return np.empty(0, dtype=target)
    # start and end are first converted to the dtype, then the exponents follow linspace's
    # two-sided formula in float64
    lo = float(_np(dtype).type(dtypes.checked_convert(start, dtype)))
    hi = float(_np(dtype).type(dtypes.checked_convert(end, dtype)))
    exponents = linspace(lo, hi, steps, dtype="float64")
    with np.errstate(over="ignore"):
        values = np.power(np.float64(base), exponents)
    if target.kind in "iu":
        values = np.trunc(values)
    return values.astype(target)


def eye(n: int, m: int | None = None, *, dtype: str | None = None) -> np.ndarray:
    """``torch.eye``: the ``n x m`` matrix (``m = n`` by default) with ones on the diagonal,
    in the default float dtype unless ``dtype`` is given.

    Raises:
        ValueError: for a negative ``n`` or ``m``.
    """
    m = n if m is None else m
    if n < 0 or m < 0:
        raise ValueError(f"n must be greater or equal to 0, got n={n}, m={m}")
    out = np.zeros((n, m), dtype=_np(dtype or dtypes.get_default_dtype()))
    k = builtins.min(n, m)
    out[np.arange(k), np.arange(k)] = 1
    return out


def full(size: Sequence[int], fill_value: Any, *, dtype: str | None = None) -> np.ndarray:
    """``torch.full``: an array of ``size`` filled with ``fill_value``; without ``dtype`` the
    dtype is inferred from the value (bool, int64, the default float, the default complex).

    Raises:
        ValueError: a negative size, or a value that overflows the dtype (``checked_convert``).
    """
    dtype = dtype or _scalar_dtype(fill_value)
    sizes = _sizes((tuple(size),))
    return np.full(sizes, dtypes.checked_convert(fill_value, dtype), dtype=_np(dtype))


def zeros(*size: int | Sequence[int], dtype: str | None = None) -> np.ndarray:
    """``torch.zeros``: zeros of ``size`` (varargs or one sequence) in the default float
    dtype unless ``dtype`` is given."""
    if not size:
        raise TypeError('zeros() missing 1 required positional arguments: "size"')
    return np.zeros(_sizes(size), dtype=_np(dtype or dtypes.get_default_dtype()))


def ones(*size: int | Sequence[int], dtype: str | None = None) -> np.ndarray:
    """``torch.ones``: ones of ``size`` in the default float dtype unless ``dtype`` is given."""
    if not size:
        raise TypeError('ones() missing 1 required positional arguments: "size"')
    return np.ones(_sizes(size), dtype=_np(dtype or dtypes.get_default_dtype()))


def empty(*size: int | Sequence[int], dtype: str | None = None) -> np.ndarray:
    """``torch.empty``: an uninitialized array of ``size`` (only its shape and dtype are
    specified) in the default float dtype unless ``dtype`` is given."""
    if not size:
        raise TypeError('empty() missing 1 required positional arguments: "size"')
    return np.empty(_sizes(size), dtype=_np(dtype or dtypes.get_default_dtype()))


def zeros_like(input: np.ndarray, *, dtype: str | None = None) -> np.ndarray:
    """``torch.zeros_like``: zeros with ``input``'s shape and (unless given) dtype."""
    x = _array(input)
    return np.zeros(x.shape, dtype=_np(dtype) if dtype else x.dtype)


def ones_like(input: np.ndarray, *, dtype: str | None = None) -> np.ndarray:
    """``torch.ones_like``: ones with ``input``'s shape and (unless given) dtype."""
    x = _array(input)
    return np.ones(x.shape, dtype=_np(dtype) if dtype else x.dtype)


def empty_like(input: np.ndarray, *, dtype: str | None = None) -> np.ndarray:
    """``torch.empty_like``: uninitialized, with ``input``'s shape and (unless given) dtype."""
    x = _array(input)
    return np.empty(x.shape, dtype=_np(dtype) if dtype else x.dtype)


def full_like(input: np.ndarray, fill_value: Any, *, dtype: str | None = None) -> np.ndarray:
    """``torch.full_like``: ``input``'s shape filled with ``fill_value`` in ``input``'s dtype
    (unless given; the value does *not* choose the dtype here): ``full_like(int8, 2.7)`` is 2.

    Raises:
        ValueError: a value that overflows the dtype (``checked_convert``).
    """
    x = _array(input)
    name = dtype or _name(x)
    return np.full(x.shape, dtypes.checked_convert(fill_value, name), dtype=_np(name))


def new_zeros(self: np.ndarray, *size: int | Sequence[int], dtype: str | None = None) -> np.ndarray:
    """``Tensor.new_zeros``: zeros of ``size`` in ``self``'s dtype (unless given)."""
    return zeros(*size, dtype=dtype or _name(_array(self)))


def new_ones(self: np.ndarray, *size: int | Sequence[int], dtype: str | None = None) -> np.ndarray:
    """``Tensor.new_ones``: ones of ``size`` in ``self``'s dtype (unless given)."""
    return ones(*size, dtype=dtype or _name(_array(self)))


def new_empty(self: np.ndarray, *size: int | Sequence[int], dtype: str | None = None) -> np.ndarray:
    """``Tensor.new_empty``: uninitialized, of ``size``, in ``self``'s dtype (unless given)."""
    return empty(*size, dtype=dtype or _name(_array(self)))


def new_full(
    self: np.ndarray, size: Sequence[int], fill_value: Any, *, dtype: str | None = None
) -> np.ndarray:
    """``Tensor.new_full``: ``size`` filled with ``fill_value`` in ``self``'s dtype (unless
    given; the value does not choose the dtype)."""
    return full(size, fill_value, dtype=dtype or _name(_array(self)))


def new_tensor(self: np.ndarray, data: Any, *, dtype: str | None = None) -> np.ndarray:
    """``Tensor.new_tensor``: a copy of ``data`` in ``self``'s dtype (unless given), even
    when ``data`` holds ints and ``self`` is float."""
    return np.array(data).astype(_np(dtype or _name(_array(self))))


# --- reductions ---------------------------------------------------------------------------


def _cast_for(x: np.ndarray, dtype: str | None) -> np.ndarray:
    return x.astype(_np(dtype)) if dtype is not None else x


def sum(
    input: np.ndarray, dim: Dims = None, keepdim: bool = False, *, dtype: str | None = None
) -> np.ndarray:
    r"""``torch.sum``: $\sum$ over ``dim`` (an int, a tuple, or None / ``()`` for all dims).

    Bool and integer inputs sum to int64 (wrapping on overflow), floats keep their dtype;
    ``dtype`` casts the input first. The reduced dims disappear (size 1 with ``keepdim``).

    Raises:
        IndexError: a dim out of range. ValueError: a dim named twice.
    """
    x = _cast_for(_array(input), dtype)
    dims = _dims(dim, x.ndim)
    if dtype is None and x.dtype.kind in "biu":
        x = x.astype(np.int64)
    acc = np.float64 if x.dtype == np.float16 else None
    out = np.sum(x, axis=dims, keepdims=True, dtype=acc).astype(x.dtype)
    return out.reshape(_reduced_shape(x.shape, dims, keepdim))


def mean(
    input: np.ndarray, dim: Dims = None, keepdim: bool = False, *, dtype: str | None = None
) -> np.ndarray:
    r"""``torch.mean``: $\frac{1}{n}\sum$ over ``dim``; an empty reduction is NaN.

    Raises:
        TypeError: for a bool or integer input without a floating ``dtype`` (torch cannot
            infer the output dtype), or an integer ``dtype``.
    """
    x = _array(input)
    target = dtype or _name(x)
    if dtypes.category(target) not in ("floating", "complex"):
        raise TypeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {target}"
        )
    x = x.astype(_np(target))
    dims = _dims(dim, x.ndim)
    count = math.prod(x.shape[d] for d in dims)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.sum(
            x.astype(np.complex128 if x.dtype.kind == "c" else np.float64), axis=dims, keepdims=True
        )
        out = (total / count if count else total * np.nan).astype(x.dtype)
    return out.reshape(_reduced_shape(x.shape, dims, keepdim))


def prod(
    input: np.ndarray, dim: int | None = None, keepdim: bool = False, *, dtype: str | None = None
) -> np.ndarray:
    r"""``torch.prod``: $\prod$ over one ``dim`` (an int only, not a tuple) or over all
    elements. Bool and integer inputs give int64 (wrapping on overflow), floats keep their
    dtype; an empty product is 1.

    Raises:
        TypeError: for a tuple of dims.
    """
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod() takes a single int dim, got {dim!r}")
    x = _cast_for(_array(input), dtype)
    dims = _dims(dim, x.ndim)
    if dtype is None and x.dtype.kind in "biu":
        x = x.astype(np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.prod(x, axis=dims, keepdims=True)
    return out.astype(x.dtype).reshape(_reduced_shape(x.shape, dims, keepdim))


def _logical(input: np.ndarray, dim: Dims, keepdim: bool, fn) -> np.ndarray:
    x = _array(input)
    dims = _dims(dim, x.ndim, empty_is_all=False)
    out = fn(x != 0, axis=dims, keepdims=True).reshape(_reduced_shape(x.shape, dims, keepdim))
    return out.astype(np.uint8) if x.dtype == np.uint8 else out


def all(input: np.ndarray, dim: Dims = None, keepdim: bool = False) -> np.ndarray:
    """``torch.all``: whether every element over ``dim`` is non-zero (True when empty).
    The result is bool, except for uint8 inputs, which give uint8 0/1 (legacy). Unlike
    ``sum``, an empty tuple of dims reduces nothing: ``all(x, ())`` is ``x != 0``."""
    return _logical(input, dim, keepdim, np.all)


def any(input: np.ndarray, dim: Dims = None, keepdim: bool = False) -> np.ndarray:
    """``torch.any``: whether some element over ``dim`` is non-zero (False when empty);
    bool result, uint8 for uint8 inputs."""
    return _logical(input, dim, keepdim, np.any)


def _is_extreme(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Where ``x`` equals its (broadcast) extreme ``m``, NaN matching NaN."""
    hit = x == m
    if _is_float(x):
        hit |= np.isnan(x) & np.isnan(m)
    return hit


def _first_index(hit: np.ndarray, axis: int) -> np.ndarray:
    """The first index along ``axis`` where ``hit`` is True (the tie rule of max/argmax)."""
    return np.argmax(hit, axis=axis).astype(np.int64)


def _extreme(x: np.ndarray, dims: tuple[int, ...], largest: bool) -> np.ndarray:
    """max (or min) over ``dims`` with keepdims; any NaN makes the result NaN."""
    fn = np.max if largest else np.min
    return fn(x, axis=dims, keepdims=True)


def _select_reduction(
    input: np.ndarray, dim: int | None, keepdim: bool, largest: bool, name: str
) -> np.ndarray | ValuesIndices:
    x = _array(input)
    if dim is None:
        if x.size == 0:
            raise ValueError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        return _extreme(x, tuple(range(x.ndim)), largest).reshape(())
    d = _wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return ValuesIndices(x.copy(), np.array(0, dtype=np.int64))
    _check_nonempty(x, (d,), name)
    values = _extreme(x, (d,), largest)
    indices = np.expand_dims(_first_index(_is_extreme(x, values), d), d)
    shape = _reduced_shape(x.shape, (d,), keepdim)
    return ValuesIndices(values.reshape(shape), indices.reshape(shape))


def max(
    input: np.ndarray, dim: int | None = None, keepdim: bool = False
) -> np.ndarray | ValuesIndices:
    """``torch.max``: without ``dim`` the largest element (0-d; NaN if any is NaN); with
    ``dim`` a ``ValuesIndices`` pair whose indices are the **first** index of the maximum
    along ``dim`` (the first NaN if there is one).

    Raises:
        ValueError: an empty input without ``dim``. IndexError: reducing an empty dim.
    """
    return _select_reduction(input, dim, keepdim, True, "max")


def min(
    input: np.ndarray, dim: int | None = None, keepdim: bool = False
) -> np.ndarray | ValuesIndices:
    """``torch.min``: as ``max`` with the smallest element; ties give the first index."""
    return _select_reduction(input, dim, keepdim, False, "min")


def _arg_reduction(input, dim, keepdim, largest, name) -> np.ndarray:
    x = _array(input)
    if x.dtype == np.bool_:
        raise TypeError(f"{name}(): does not support bool input")
    if dim is None:
        if x.size == 0:
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        flat = x.reshape(-1)
        index = _first_index(_is_extreme(flat, _extreme(flat, (0,), largest)), 0)
        return index.reshape((1,) * x.ndim if keepdim else ())
    return _select_reduction(x, dim, keepdim, largest, name).indices


def argmax(input: np.ndarray, dim: int | None = None, keepdim: bool = False) -> np.ndarray:
    """``torch.argmax``: the first index of the maximum (of the flattened input when ``dim``
    is None; ``keepdim`` then keeps every dim as size 1); int64. Bool inputs raise
    ``TypeError``."""
    return _arg_reduction(input, dim, keepdim, True, "argmax")


def argmin(input: np.ndarray, dim: int | None = None, keepdim: bool = False) -> np.ndarray:
    """``torch.argmin``: the first index of the minimum; int64."""
    return _arg_reduction(input, dim, keepdim, False, "argmin")


def _a_extreme(input, dim, keepdim, largest, name) -> np.ndarray:
    x = _array(input)
    dims = _dims(dim, x.ndim)
    _check_nonempty(x, dims, name)
    if x.size == 0 and not dims:
        raise IndexError(f"{name}(): Expected reduction dim 0 to have non-zero size.")
    return _extreme(x, dims, largest).reshape(_reduced_shape(x.shape, dims, keepdim))


def amax(input: np.ndarray, dim: Dims = (), keepdim: bool = False) -> np.ndarray:
    """``torch.amax``: the maximum over ``dim`` (int or tuple; ``()`` means all dims), no
    indices; NaN propagates.

    Raises:
        IndexError: reducing a dim of size 0.
    """
    return _a_extreme(input, dim, keepdim, True, "amax")


def amin(input: np.ndarray, dim: Dims = (), keepdim: bool = False) -> np.ndarray:
    """``torch.amin``: the minimum over ``dim``; see ``amax``."""
    return _a_extreme(input, dim, keepdim, False, "amin")


def amax_backward(
    grad_output: np.ndarray, input: np.ndarray, dim: Dims = (), keepdim: bool = False
) -> np.ndarray:
    r"""The gradient of ``amax(input, dim, keepdim)`` (and of ``max(input)`` without dim):
    split **evenly** among the tied maxima, $\partial x_i = g \cdot [x_i = m] / \#\{j : x_j
    = m\}$ per reduced slice."""
    return _spread_backward(grad_output, input, dim, keepdim, True)


def amin_backward(
    grad_output: np.ndarray, input: np.ndarray, dim: Dims = (), keepdim: bool = False
) -> np.ndarray:
    """The gradient of ``amin``: split evenly among the tied minima."""
    return _spread_backward(grad_output, input, dim, keepdim, False)


def _spread_backward(grad_output, input, dim, keepdim, largest) -> np.ndarray:
    x = _array(input)
    dims = _dims(dim, x.ndim)
    m = _extreme(x, dims, largest)
    hit = _is_extreme(x, m)
    count = hit.sum(axis=dims, keepdims=True)
    g = np.asarray(grad_output).reshape(_reduced_shape(x.shape, dims, True))
    return (hit * (g / count)).astype(x.dtype)


def max_backward(
    grad_values: np.ndarray, input: np.ndarray, dim: int, keepdim: bool = False
) -> np.ndarray:
    """The gradient of ``max(input, dim).values``: all of it goes to the selected (first)
    index along ``dim``, none to the other tied elements."""
    x = _array(input)
    d = _wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return np.asarray(grad_values, dtype=x.dtype).reshape(())
    index = max(x, d, keepdim=True).indices
    g = np.asarray(grad_values).reshape(_reduced_shape(x.shape, (d,), True))
    chosen = np.arange(x.shape[d]).reshape((-1,) + (1,) * (x.ndim - d - 1)) == index
    return (chosen * g).astype(x.dtype)


def _to_last(x: np.ndarray, d: int) -> np.ndarray:
    return np.moveaxis(x, d, -1)


def _stable_order(x: np.ndarray, descending: bool) -> np.ndarray:
    """Indices sorting the last axis, equal keys kept in their order (NaN sorts as the
    largest value): a stable ascending sort, or a stable descending one obtained by
    reversing a stable ascending sort of the reversed axis."""
    if not descending:
        return np.argsort(x, axis=-1, kind="stable")
    n = x.shape[-1]
    order = np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1]
    return (n - 1 - order).astype(np.int64)


def sort(
    input: np.ndarray, dim: int = -1, descending: bool = False, stable: bool = False
) -> ValuesIndices:
    """``torch.sort``: the values along ``dim`` in ascending (or descending) order and the
    indices they came from; NaN sorts as the largest value. With ``stable=True`` equal
    values keep their original order; without it torch promises no order among ties (the
    reference returns the stable one)."""
    x = _array(input)
    d = _wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return ValuesIndices(x.copy(), np.array(0, dtype=np.int64))
    moved = _to_last(x, d)
    order = _stable_order(moved, descending).astype(np.int64)
    values = np.take_along_axis(moved, order, axis=-1)
    return ValuesIndices(np.moveaxis(values, -1, d), np.moveaxis(order, -1, d))


def topk(
    input: np.ndarray, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> ValuesIndices:
    """``torch.topk``: the ``k`` largest (``largest=False``: smallest) values along ``dim``
    and their indices, NaN counting as the largest; sorted from the most extreme unless
    ``sorted=False`` (then torch promises no order, nor which of tied values is taken).

    Raises:
        ValueError: ``k`` outside ``[0, size]``. TypeError: a bool input (torch's CPU kernel
            has none).
    """
    x = _array(input)
    if x.dtype == np.bool_:
        raise TypeError("topk does not support bool dtypes")
    d = _wrap_dim(dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    if not 0 <= k <= size:
        raise ValueError(f"selected index k out of range: k={k}, size={size}")
    if x.ndim == 0:
        return ValuesIndices(x.copy(), np.array(0, dtype=np.int64))
    result = sort(x, d, descending=largest, stable=True)
    take = [slice(None)] * x.ndim
    take[d] = slice(0, k)
    return ValuesIndices(result.values[tuple(take)], result.indices[tuple(take)])


def var(
    input: np.ndarray, dim: Dims = None, *, correction: float = 1, keepdim: bool = False
) -> np.ndarray:
    r"""``torch.var``: $\frac{1}{\max(0,\, N - c)} \sum_i (x_i - \bar x)^2$ over ``dim`` with
    $N$ elements and ``correction`` $c$ (1: Bessel's unbiased estimate; 0: the population
    variance). A divisor of 0 gives inf (NaN when the sum is 0, e.g. $N = 1$, $c = 1$).

    Raises:
        TypeError: for bool and integer inputs.
    """
    x = _array(input)
    return _var64(x, dim, correction, keepdim).astype(x.dtype)


def _var64(x: np.ndarray, dim: Dims, correction: float, keepdim: bool) -> np.ndarray:
    """The variance in float64 (the dtype check and the shape of ``var``)."""
    if not _is_float(x):
        raise TypeError("std and var only support floating point and complex dtypes")
    dims = _dims(dim, x.ndim)
    n = math.prod(x.shape[d] for d in dims)
    wide = x.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        centered = wide - (np.sum(wide, axis=dims, keepdims=True) / n if n else np.nan)
        total = np.sum(centered * centered, axis=dims, keepdims=True)
        out = total / np.float64(builtins.max(0.0, n - correction))
    return out.reshape(_reduced_shape(x.shape, dims, keepdim))


def std(
    input: np.ndarray, dim: Dims = None, *, correction: float = 1, keepdim: bool = False
) -> np.ndarray:
    r"""``torch.std``: $\sqrt{\operatorname{var}}$ with the same ``correction``."""
    x = _array(input)
    return np.sqrt(_var64(x, dim, correction, keepdim)).astype(x.dtype)


def logsumexp(input: np.ndarray, dim: Dims, keepdim: bool = False) -> np.ndarray:
    r"""``torch.logsumexp``: $\log \sum_i e^{x_i}$ over ``dim``, computed stably as
    $m + \log \sum_i e^{x_i - m}$ with $m = \max_i x_i$ (taken as 0 where $m = \pm\infty$).
    So all $-\infty$ gives $-\infty$, any $+\infty$ gives $+\infty$, NaN propagates, an
    empty reduction is $-\infty$. Bool and integer inputs give the default float dtype.

    Raises:
        ValueError: an empty tuple of dims (torch fails on it).
    """
    x = _array(input)
    if dim is None:
        raise TypeError("logsumexp(): argument 'dim' must be an int or a tuple of ints")
    if not isinstance(dim, (int, np.integer)) and len(dim) == 0:
        raise ValueError("logsumexp: dim must name at least one dimension")
    out_dtype = x.dtype if _is_float(x) else _np(dtypes.get_default_dtype())
    dims = _dims(dim, x.ndim)
    wide = x.astype(np.float64)
    shape = _reduced_shape(x.shape, dims, keepdim)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if x.size == 0:
            return (
                np.log(np.sum(np.exp(wide), axis=dims, keepdims=True))
                .astype(out_dtype)
                .reshape(shape)
            )
        m = np.max(wide, axis=dims, keepdims=True)
        m = np.where(np.isinf(m), 0.0, m)
        out = np.log(np.sum(np.exp(wide - m), axis=dims, keepdims=True)) + m
    return out.astype(out_dtype).reshape(shape)


def cumsum(input: np.ndarray, dim: int, *, dtype: str | None = None) -> np.ndarray:
    r"""``torch.cumsum``: $y_i = \sum_{j \le i} x_j$ along ``dim``; bool and integer inputs
    give int64, floats keep their dtype (a NaN poisons every later sum)."""
    x = _cast_for(_array(input), dtype)
    d = _wrap_dim(dim, x.ndim)
    if dtype is None and x.dtype.kind in "biu":
        x = x.astype(np.int64)
    if x.ndim == 0:
        return x.copy()
    wide = np.float64 if x.dtype == np.float16 else x.dtype
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, as in torch
        return np.cumsum(x, axis=d, dtype=wide).astype(x.dtype)


def median(
    input: np.ndarray, dim: int | None = None, keepdim: bool = False
) -> np.ndarray | ValuesIndices:
    r"""``torch.median``: the **lower** median, element $\lfloor (n - 1)/2 \rfloor$ of the
    sorted values (not the mean of the two middle ones); NaN if a NaN is present. Without
    ``dim`` a 0-d array (NaN for an empty float input); with ``dim`` a ``ValuesIndices`` pair
    (an index holding the median; torch promises no choice among ties).

    Raises:
        TypeError: a bool input. IndexError: reducing an empty dim.
    """
    x = _array(input)
    if x.dtype == np.bool_:
        raise TypeError('"median" not implemented for bool')
    if dim is None:
        flat = x.reshape(-1)
        if flat.size == 0:
            if not _is_float(x):
                raise ValueError("the median of an empty integer tensor is unspecified")
            return np.array(np.nan, dtype=x.dtype)
        return median(flat, 0).values.reshape(())
    d = _wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return ValuesIndices(x.copy(), np.array(0, dtype=np.int64))
    _check_nonempty(x, (d,), "median")
    moved = _to_last(x, d)
    order = np.argsort(moved, axis=-1, kind="stable")
    k = (moved.shape[-1] - 1) // 2
    index = order[..., k]
    if _is_float(x):
        nan = np.isnan(moved)
        index = np.where(nan.any(axis=-1), np.argmax(nan, axis=-1), index)
    values = np.take_along_axis(moved, index[..., None], axis=-1)[..., 0]
    shape = _reduced_shape(x.shape, (d,), keepdim)
    return ValuesIndices(values.reshape(shape), index.astype(np.int64).reshape(shape))


def mode(input: np.ndarray, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    r"""``torch.mode``: the most frequent value along ``dim``, the **smallest** one among
    equally frequent values, and an index holding it (torch's CPU kernel gives the last
    occurrence; other devices may differ). NaN inputs are left unspecified.

    Raises:
        IndexError: reducing an empty dim.
    """
    x = _array(input)
    d = _wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return ValuesIndices(x.copy(), np.array(0, dtype=np.int64))
    _check_nonempty(x, (d,), "mode")
    moved = _to_last(x, d)
    ordered = np.sort(moved, axis=-1)
    counts = (ordered[..., :, None] == ordered[..., None, :]).sum(axis=-1)
    best = np.argmax(counts == counts.max(axis=-1, keepdims=True), axis=-1)  # smallest value
    values = np.take_along_axis(ordered, best[..., None], axis=-1)
    n = moved.shape[-1]
    last = n - 1 - np.argmax((moved == values)[..., ::-1], axis=-1)
    shape = _reduced_shape(x.shape, (d,), keepdim)
    return ValuesIndices(values[..., 0].reshape(shape), last.astype(np.int64).reshape(shape))


# --- joining and splitting ------------------------------------------------------------------


def _promoted(tensors: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.dtype]:
    arrays = [_array(t) for t in tensors]
    dtype = dtypes.result_type(*[dtypes.TensorLike(_name(a), 1) for a in arrays])
    return arrays, _np(dtype)


def cat(tensors: Sequence[np.ndarray], dim: int = 0) -> np.ndarray:
    """``torch.cat``: join along an existing ``dim``; every other dim must be equal. The
    dtype is promoted over all tensors. A 1-D tensor of size 0 is skipped (legacy), even
    beside tensors of other ranks.

    Raises:
        ValueError: an empty list, a 0-d tensor, tensors of different ranks, or sizes that
            differ outside ``dim``. IndexError: ``dim`` out of range.
    """
    if len(tensors) == 0:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    arrays, dtype = _promoted(tensors)
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    kept = [a for a in arrays if not (a.ndim == 1 and a.shape[0] == 0)]
    if not kept:
        _wrap_dim(dim, 1)
        return np.empty((0,), dtype=dtype)
    ref = kept[0]
    d = _wrap_dim(dim, ref.ndim)
    for i, a in enumerate(arrays):
        if a.ndim == 1 and a.shape[0] == 0:
            continue
        if a.ndim != ref.ndim:
            raise ValueError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {a.ndim}"
            )
        for k in range(ref.ndim):
            if k != d and a.shape[k] != ref.shape[k]:
                raise ValueError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[k]} but got size {a.shape[k]} for tensor number {i} in the list."
                )
    return np.concatenate([a.astype(dtype) for a in kept], axis=d)


def stack(tensors: Sequence[np.ndarray], dim: int = 0) -> np.ndarray:
    """``torch.stack``: join along a **new** dim inserted at ``dim`` (in
    ``[-(n+1), n]`` for ``n``-dim inputs); every tensor must have the same shape. The dtype
    is promoted. 0-d tensors stack into a 1-D one.

    Raises:
        ValueError: an empty list or unequal shapes. IndexError: ``dim`` out of range.
    """
    if len(tensors) == 0:
        raise ValueError("stack expects a non-empty TensorList")
    arrays, dtype = _promoted(tensors)
    d = _wrap_dim(dim, arrays[0].ndim + 1)
    for i, a in enumerate(arrays):
        if a.shape != arrays[0].shape:
            raise ValueError(
                f"stack expects each tensor to be equal size, but got {list(arrays[0].shape)} "
                f"at entry 0 and {list(a.shape)} at entry {i}"
            )
    return np.stack([a.astype(dtype) for a in arrays], axis=d)


def _slices_along(x: np.ndarray, d: int, sizes: Sequence[int]) -> tuple[np.ndarray, ...]:
    out, start = [], 0
    for size in sizes:
        index = [slice(None)] * x.ndim
        index[d] = slice(start, start + size)
        out.append(x[tuple(index)])
        start += size
    return tuple(out)


def split(
    tensor: np.ndarray, split_size_or_sections: int | Sequence[int], dim: int = 0
) -> tuple[np.ndarray, ...]:
    r"""``torch.split``: views of consecutive pieces along ``dim``. An int $s$ gives
    $\lceil n / s \rceil$ pieces of size $s$, the last one smaller (one piece when
    $n = 0$); a list gives pieces of exactly those sizes, which must sum to $n$.

    Raises:
        ValueError: a 0-d input, a negative size, $s = 0$ with $n > 0$, or sections that do
            not sum to $n$. IndexError: ``dim`` out of range.
    """
    x = _array(tensor)
    if x.ndim == 0:
        raise ValueError("split expects at least a 1-dimensional tensor")
    d = _wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        if s < 0:
            raise ValueError(f"split expects split_size be non-negative, but got split_size={s}")
        if s == 0 and n > 0:
            raise ValueError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )
        count = builtins.max(1, -(-n // s)) if s else 1
        sizes = [s] * (count - 1) + [n - s * (count - 1)]
        return _slices_along(x, d, sizes)
    sections = [int(s) for s in split_size_or_sections]
    if builtins.any(s < 0 for s in sections):
        raise ValueError(
            f"split_with_sizes expects split_sizes have only non-negative entries, but got "
            f"split_sizes={sections}"
        )
    if builtins.sum(sections) != n:
        raise ValueError(
            f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
            f"at dimension {d}), but got split_sizes={sections}"
        )
    return _slices_along(x, d, sections)


def chunk(input: np.ndarray, chunks: int, dim: int = 0) -> tuple[np.ndarray, ...]:
    r"""``torch.chunk``: ``split`` with pieces of $\lceil n / \text{chunks} \rceil$, so there
    may be **fewer** than ``chunks`` pieces (``chunk(6 elements, 4)`` gives 3 of size 2); a
    dim of size 0 gives ``chunks`` empty pieces.

    Raises:
        ValueError: ``chunks < 1`` or a 0-d input.
    """
    x = _array(input)
    if chunks < 1:
        raise ValueError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk expects at least a 1-dimensional tensor")
    d = _wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if n == 0:
        return _slices_along(x, d, [0] * chunks)
    return split(x, -(-n // chunks), d)


def unbind(input: np.ndarray, dim: int = 0) -> tuple[np.ndarray, ...]:
    """``torch.unbind``: the slices along ``dim`` (views), each without that dim.

    Raises:
        IndexError: a 0-d input or ``dim`` out of range.
    """
    x = _array(input)
    d = _wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return tuple(_select(x, d, i) for i in range(x.shape[d]))


def _select(x: np.ndarray, d: int, i: int) -> np.ndarray:
    """The slice ``i`` along ``d`` as a view (a 0-d array, not a scalar, for 1-D input)."""
    index: list[Any] = [slice(None)] * x.ndim
    index[d] = slice(i, i + 1)
    return x[tuple(index)].reshape(x.shape[:d] + x.shape[d + 1 :])


def flip(input: np.ndarray, dims: Sequence[int]) -> np.ndarray:
    """``torch.flip``: reverse the order along each of ``dims`` (a copy, unlike NumPy's view).

    Raises:
        ValueError: a dim named twice. IndexError: a dim out of range.
    """
    x = _array(input)
    wrapped = _dims(tuple(dims), x.ndim) if len(dims) else ()
    return np.flip(x, axis=wrapped).copy() if wrapped else x.copy()


def roll(
    input: np.ndarray, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
) -> np.ndarray:
    r"""``torch.roll``: element $i$ moves to $(i + \text{shift}) \bmod n$ along each dim;
    without ``dims`` the flattened input rolls and keeps its shape. Shifts of the same dim
    add up.

    Raises:
        ValueError: shifts and dims of different lengths, or no shifts. IndexError: a dim
            out of range.
    """
    x = _array(input)
    shift_list = [shifts] if isinstance(shifts, (int, np.integer)) else list(shifts)
    if dims is None:
        if len(shift_list) != 1:
            raise ValueError(f"shifts and dimensions must align. shifts: {len(shift_list)}, dims:0")
        return np.roll(x.reshape(-1), int(shift_list[0])).reshape(x.shape)
    dim_list = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
    if not shift_list:
        raise ValueError("`shifts` required")
    if len(shift_list) != len(dim_list):
        raise ValueError(
            f"shifts and dimensions must align. shifts: {len(shift_list)}, dims:{len(dim_list)}"
        )
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    out = x
    for shift, dim in zip(shift_list, dim_list, strict=True):
        out = np.roll(out, int(shift), axis=_wrap_dim(dim, x.ndim))
    return out.copy()


def _check_index_dtype(index: np.ndarray, name: str) -> None:
    if index.dtype not in (np.int64, np.int32):
        raise TypeError(f"{name}(): Expected dtype int32/int64 for index, got {index.dtype}")


def _grid(index: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
    """Full NumPy index arrays addressing ``out[..., index[i], ...]`` along dim ``d``."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[d] = index
    return tuple(grids)


def _check_scatter_gather(x: np.ndarray, d: int, index: np.ndarray, name: str) -> None:
    if index.ndim != x.ndim and index.size:
        raise ValueError(f"Index tensor must have the same number of dimensions as {name} tensor")
    if index.size and ((index < 0) | (index >= (x.shape[d] if x.ndim else 1))).any():
        bad = index[(index < 0) | (index >= (x.shape[d] if x.ndim else 1))].reshape(-1)[0]
        raise IndexError(
            f"index {bad} is out of bounds for dimension {d} with size "
            f"{x.shape[d] if x.ndim else 1}"
        )


def gather(input: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    r"""``torch.gather``: $\text{out}[i_0, \dots, i_{n-1}] = \text{input}[i_0, \dots,
    \text{index}[i_0, \dots, i_{n-1}], \dots, i_{n-1}]$ with the index at position ``dim``.
    ``index`` has ``input``'s number of dims and no larger size in the other dims; the
    result has ``index``'s shape and ``input``'s dtype. Indices are not wrapped: each must
    lie in $[0, \text{size}_{\text{dim}})$. Index dtype int64 (int32 too from torch 2.8).

    Raises:
        TypeError: a non-integer index. ValueError: rank or size mismatch.
        IndexError: an index out of bounds.
    """
    x, idx = _array(input), _array(index)
    _check_index_dtype(idx, "gather")
    d = _wrap_dim(dim, x.ndim)
    _check_scatter_gather(x, d, idx, "input")
    if x.ndim == 0:
        return x.copy().reshape(idx.shape)
    for k in range(x.ndim):
        if k != d and idx.shape[k] > x.shape[k]:
            raise ValueError(
                f"Size does not match at dimension {k} expected index {list(idx.shape)} to be "
                f"no larger than self {list(x.shape)} apart from dimension {d}"
            )
    if idx.size == 0:
        return np.empty(idx.shape, dtype=x.dtype)
    return x[_grid(idx.astype(np.int64), d)]


def _scatter_target(input, dim, index, src, name):
    x, idx = _array(input), _array(index)
    _check_index_dtype(idx, name)
    d = _wrap_dim(dim, x.ndim)
    _check_scatter_gather(x, d, idx, "self")
    if isinstance(src, np.ndarray):
        if src.dtype != x.dtype:
            raise TypeError(
                f"{name}(): Expected self.dtype to be equal to src.dtype, got {x.dtype} and "
                f"{src.dtype}"
            )
        for k in range(x.ndim):
            if idx.shape[k] > src.shape[k] or (k != d and idx.shape[k] > x.shape[k]):
                raise ValueError(
                    f"Expected index {list(idx.shape)} to be no larger than self "
                    f"{list(x.shape)} apart from dimension {d} and to be no larger size than "
                    f"src {list(src.shape)}"
                )
        values = src[tuple(slice(0, s) for s in idx.shape)]
    else:
        values = np.full(idx.shape, dtypes.checked_convert(src, _name(x)), dtype=x.dtype)
    return x.copy(), (_grid(idx.astype(np.int64), d) if x.ndim else ()), values


def scatter(input: np.ndarray, dim: int, index: np.ndarray, src: Any) -> np.ndarray:
    r"""``torch.scatter`` (out of place): a copy of ``input`` with
    $\text{out}[\dots, \text{index}[i], \dots] = \text{src}[i]$ along ``dim`` for every
    position $i$ of ``index``; ``src`` is an array of ``input``'s dtype (only its leading
    ``index.shape`` part is used) or a Python scalar. Which value wins when an index repeats
    is unspecified.

    Raises:
        TypeError: a non-integer index or a ``src`` of another dtype. ValueError: sizes.
        IndexError: an index out of bounds.
    """
    out, grid, values = _scatter_target(input, dim, index, src, "scatter")
    if out.ndim == 0:
        return values.reshape(()).copy() if values.size else out
    if values.size:
        out[grid] = values
    return out


def scatter_add(input: np.ndarray, dim: int, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    r"""``torch.scatter_add``: as ``scatter``, but repeated indices accumulate:
    $\text{out}[\dots, \text{index}[i], \dots] \mathrel{+}= \text{src}[i]$."""
    out, grid, values = _scatter_target(input, dim, index, _array(src), "scatter_add")
    if out.ndim == 0:
        return out + values.reshape(()) if values.size else out
    if values.size:
        np.add.at(out, grid, values)
    return out


def index_select(input: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    """``torch.index_select``: the slices of ``input`` along ``dim`` at the positions in the
    1-D (or 0-d) ``index``, in that order, repeats allowed; a copy. Indices are not wrapped.

    Raises:
        TypeError: a non-integer index. ValueError: an index of 2 or more dims.
        IndexError: an index out of range.
    """
    x, idx = _array(input), _array(index)
    if idx.dtype not in (np.int64, np.int32):
        raise TypeError(f"index_select(): Expected dtype int32 or int64 for index, got {idx.dtype}")
    if idx.ndim > 1:
        raise ValueError("index_select(): Index is supposed to be a vector")
    d = _wrap_dim(dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    flat = idx.reshape(-1)
    if ((flat < 0) | (flat >= size)).any():
        raise IndexError(f"index out of range in self: indices {flat.tolist()}, size {size}")
    if x.ndim == 0:
        if flat.size != 1:
            raise ValueError(
                f"index_select(): Index to scalar can have only 1 value, got {flat.size} value(s)"
            )
        return x.copy()
    return np.take(x, flat.astype(np.int64), axis=d)


def masked_fill(input: np.ndarray, mask: np.ndarray, value: Any) -> np.ndarray:
    """``torch.masked_fill`` (out of place): ``input`` with ``value`` where the bool ``mask``
    is True; input and mask broadcast together. ``value`` (a Python scalar or a 0-d array)
    is converted to ``input``'s dtype with ``checked_convert`` (9.7 into int64 is 9).

    Raises:
        TypeError: a mask that is not bool. ValueError: a value with dims, or one that
            overflows the dtype; shapes that do not broadcast.
    """
    x, m = _array(input), _array(mask)
    if m.dtype != np.bool_:
        raise TypeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype {m.dtype}"
        )
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ValueError(
                f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.ndim} dimension(s)."
            )
        value = value.item()
    shape = broadcast_shapes(x.shape, m.shape)
    fill = dtypes.checked_convert(value, _name(x))
    return np.where(
        np.broadcast_to(m, shape), np.asarray(fill).astype(x.dtype), np.broadcast_to(x, shape)
    )


def nonzero(input: np.ndarray, *, as_tuple: bool = False) -> np.ndarray | tuple[np.ndarray, ...]:
    """``torch.nonzero``: the indices of the non-zero elements (NaN counts as non-zero) in
    row-major order, as an ``(n, ndim)`` int64 array; a 0-d input gives ``(n, 0)``. With
    ``as_tuple=True`` one 1-D array per dim (a 0-d input counts as 1-D)."""
    x = _array(input)
    hit = x != 0
    if as_tuple:
        return tuple(
            i.astype(np.int64) for i in np.nonzero(hit.reshape(-1) if x.ndim == 0 else hit)
        )
    if x.ndim == 0:
        return np.zeros((int(hit), 0), dtype=np.int64)
    return np.stack(np.nonzero(hit), axis=1).astype(np.int64)


# --- repetition, clamping, matmul -----------------------------------------------------------


def repeat(input: np.ndarray, *repeats: int | Sequence[int]) -> np.ndarray:
    """``Tensor.repeat``: a copy tiled ``repeats[k]`` times along each dim, the input first
    viewed with leading size-1 dims so it has ``len(repeats)`` dims. The notes' reading:
    walk the repeats from the last; each one wraps the result in a new outer dim and copies
    it that many times.

    Raises:
        ValueError: fewer repeats than dims, or a negative repeat.
    """
    x = _array(input)
    reps = _sizes(repeats, "repeats") if repeats else None
    if reps is None:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    if len(reps) < x.ndim:
        raise ValueError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            "of tensor"
        )
    return np.tile(x.reshape((1,) * (len(reps) - x.ndim) + x.shape), reps)


def tile(input: np.ndarray, dims: Sequence[int]) -> np.ndarray:
    """``torch.tile``: ``repeat``, except that fewer ``dims`` than the input has are padded
    with leading 1s (``tile(x of shape (2, 3), (2,))`` repeats the last dim)."""
    x = _array(input)
    reps = tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(reps)) + reps)


def repeat_interleave(
    input: np.ndarray,
    repeats: int | np.ndarray | None = None,
    dim: int | None = None,
    *,
    output_size: int | None = None,
) -> np.ndarray:
    """``torch.repeat_interleave``: each element (or each slice along ``dim``) repeated in
    place, ``[a, b] -> [a, a, b, b]``, a copy; without ``dim`` the input is flattened first.
    ``repeats`` is an int or an int array with one entry per slice (or a single entry).
    Called with only an int array ``r``, returns the indices ``i`` repeated ``r[i]`` times.

    Raises:
        ValueError: negative repeats, or repeats whose length does not match the dim.
    """
    if repeats is None:
        r = _array(input)
        if (r < 0).any():
            raise ValueError("repeats can not be negative")
        return np.repeat(np.arange(r.size, dtype=np.int64), r.reshape(-1))
    x = _array(input)
    if dim is None:
        x, d = x.reshape(-1), 0
    elif x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    else:
        d = _wrap_dim(dim, x.ndim)
    if isinstance(repeats, (int, np.integer)):
        if repeats < 0:
            raise ValueError("Repeats must be non-negative")
        out = np.repeat(x, int(repeats), axis=d)
    else:
        r = _array(repeats)
        if r.dtype.kind not in "iu":
            raise TypeError(f"repeats must be an integer tensor, got {r.dtype}")
        r = r.reshape(-1)
        if (r < 0).any():
            raise ValueError("repeats can not be negative")
        if r.size == 1:
            r = np.broadcast_to(r, (x.shape[d],))
        if r.size != x.shape[d]:
            raise ValueError(
                f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                f"{r.size} and input.size({d}) = {x.shape[d]}"
            )
        out = np.repeat(x, r, axis=d)
    if output_size is not None and out.shape[d] != output_size:
        raise ValueError(f"allocated size does not match required size: {output_size}")
    return out


def expand(input: np.ndarray, *sizes: int | Sequence[int]) -> np.ndarray:
    """``Tensor.expand``: a read-only **view** of ``sizes`` where every stretched dim (size 1
    to any size, and new leading dims) has stride 0: no element is copied, unlike
    ``repeat``. ``-1`` keeps a dim's size.

    Raises:
        ValueError: a non-singleton dim that would change size (see
            ``reference.broadcasting.broadcast_strides``).
    """
    x = _array(input)
    target = sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    target = tuple(int(s) for s in target)
    element_strides = tuple(s // x.itemsize for s in x.strides)
    new = broadcast_strides(x.shape, element_strides, target)
    lead = len(target) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(target))
    return np.lib.stride_tricks.as_strided(
        x, shape, tuple(s * x.itemsize for s in new), writeable=False
    )


def clamp(input: np.ndarray, min: Any = None, max: Any = None) -> np.ndarray:
    r"""``torch.clamp``: $\min(\max(x, \text{min}), \text{max})$ elementwise, so where
    $\text{min} > \text{max}$ every element is $\text{max}$; NaN in the input or a bound
    gives NaN. ``min``/``max`` are both Python scalars or both arrays (broadcasting with the
    input), either may be None. The dtype is ``result_type(input, min, max)`` (an int input
    clamped by a float is float); scalar bounds are converted with ``checked_convert``
    (``-1`` into uint8 is 255).

    Raises:
        ValueError: both bounds None. TypeError: a complex input or bound, or a scalar mixed
            with an array.
    """
    x = _array(input)
    if min is None and max is None:
        raise ValueError("torch.clamp: At least one of 'min' or 'max' must not be None")
    bounds = [b for b in (min, max) if b is not None]
    arrays = [isinstance(b, np.ndarray) for b in bounds]
    if builtins.any(arrays) and not builtins.all(arrays):
        raise TypeError("clamp() takes min and max both as tensors or both as numbers")
    if x.dtype.kind == "c":
        raise TypeError("clamp is not supported for complex types")
    dtype = dtypes.result_type(x, *bounds)
    if dtypes.category(dtype) == "complex":
        raise TypeError("clamp is not supported for complex types")
    target = _np(dtype)

    def bound(b: Any) -> Any:
        if b is None or isinstance(b, np.ndarray):
            return None if b is None else b.astype(target)
        return np.asarray(dtypes.checked_convert(b, dtype)).astype(target)

    lo, hi = bound(min), bound(max)
    out = x.astype(target)
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return out.astype(target)


def matmul(input: np.ndarray, other: np.ndarray) -> np.ndarray:
    r"""``torch.matmul``: the matrix product over the last two dims, $C_{ik} = \sum_j A_{ij}
    B_{jk}$, with torch's rules for other ranks: 1-D·1-D is the dot product (0-d); a 1-D
    first operand is treated as a row $(1, n)$ and a 1-D second as a column $(n, 1)$, the
    added dim removed from the result; the batch dims (all but the last two) broadcast.
    Both operands must have the **same dtype**: matmul does not promote (the notes'
    "different data types for model and data cause errors").

    Raises:
        ValueError: a 0-d operand, inner sizes that differ, or batch dims that do not
            broadcast. TypeError: operands of different dtypes, or bool.
    """
    a, b = _array(input), _array(other)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D"
        )
    if a.dtype != b.dtype:
        raise TypeError(
            f"expected both operands to have the same dtype, but got {a.dtype} and {b.dtype}: "
            "matmul does not promote"
        )
    if a.dtype == np.bool_:
        raise TypeError('"matmul" not implemented for bool')
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"mat1 and mat2 shapes cannot be multiplied ({a2.shape[-2]}x{a2.shape[-1]} and "
            f"{b2.shape[-2]}x{b2.shape[-1]})"
        )
    batch = broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a3 = np.broadcast_to(a2, batch + a2.shape[-2:])
    b3 = np.broadcast_to(b2, batch + b2.shape[-2:])
    out = np.einsum("...ij,...jk->...ik", a3, b3)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return np.asarray(out).astype(a.dtype)
