"""OPS: tensor operations, held to torch and to the reference (reference/tensor_ops.py).

Inputs are small arrays of small integers (exact in every dtype, so sums and products do not
depend on the order a kernel accumulates in, and ties are frequent), with NaN and infinities
mixed into float inputs where an op is specified on them, in bool, integer and float dtypes,
0-d, empty and non-contiguous.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference import dtypes as D
from reference import tensor_ops as R
from reference.broadcasting import broadcast_shapes
from reference.strides import tensor as strided
from tests.strategies import broadcastable_shapes, shapes
from tests.support import TOLERANCES, assert_matches, to_numpy, to_torch, torch_at_least

TORCH = {name: getattr(torch, name) for name in D.DTYPES}
INTS = ("uint8", "int8", "int16", "int32", "int64")
FLOATS = ("float16", "float32", "float64")
REAL = ("bool", *INTS, *FLOATS)
NON_FINITE = (math.nan, math.inf, -math.inf)
ERRORS = (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError)
REFERENCE_ERRORS = (ValueError, TypeError, IndexError)


@contextlib.contextmanager
def default_dtype(name: str) -> Iterator[None]:
    """Set torch's and the reference's default dtype together, restoring both."""
    old_torch, old_reference = torch.get_default_dtype(), D.get_default_dtype()
    try:
        torch.set_default_dtype(TORCH[name])
        D.set_default_dtype(name)
        yield
    finally:
        torch.set_default_dtype(old_torch)
        D.set_default_dtype(old_reference)


def both(torch_call: Callable[[], Any], reference_call: Callable[[], Any]) -> tuple[Any, Any]:
    """Run the reference, then torch. Where the reference rejects the input, torch must
    reject it too, and ``(None, None)`` comes back; where it accepts, torch must accept."""
    try:
        expected = reference_call()
    except REFERENCE_ERRORS:
        with pytest.raises(ERRORS):
            torch_call()
        return None, None
    return torch_call(), expected


def check(actual: torch.Tensor, expected: np.ndarray) -> None:
    """Same shape, dtype and values: exact for bool and integers, at the dtype's tolerance
    (``TOLERANCES``) for floats, NaN equal to NaN. A fast NumPy comparison first;
    ``assert_matches`` reports a mismatch."""
    expected = np.asarray(expected)
    got = to_numpy(actual)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    tolerance = TOLERANCES.get(actual.dtype)
    if tolerance is None:
        same = np.array_equal(got, expected)
    else:
        same = np.allclose(got, expected, equal_nan=True, **tolerance)
    if not same:
        assert_matches(actual, expected)
        raise AssertionError(f"{got} != {expected}")


def elements(dtype: str, *, nonfinite: bool = False, low: int = -2, high: int = 2):
    if dtype == "bool":
        return st.booleans()
    if dtype in INTS:
        return st.integers(0 if dtype == "uint8" else low, high)
    values = st.integers(low, high).map(float)
    return values | st.sampled_from(NON_FINITE) if nonfinite else values


@st.composite
def samples(
    draw,
    dtypes: tuple[str, ...] = REAL,
    *,
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 0,
    max_side: int = 4,
    nonfinite: bool = False,
    low: int = -2,
    high: int = 2,
) -> tuple[np.ndarray, bool]:
    """(array, noncontiguous): an array of small integers of one of ``dtypes``; NaN and
    infinities among float elements when ``nonfinite``."""
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side))
    values = elements(dtype, nonfinite=nonfinite, low=low, high=high)
    array = draw(hnp.arrays(np.dtype(dtype), shape, elements=values))
    return array, draw(st.booleans())


def put(sample: tuple[np.ndarray, bool], device: str) -> torch.Tensor:
    array, noncontiguous = sample
    return to_torch(array, device, noncontiguous=noncontiguous)


def dim_of(draw, ndim: int, *, bad: bool = True) -> int:
    """A single dim for ``ndim`` dims, possibly negative, out of range one time in ten
    (error parity: both must raise)."""
    n = max(ndim, 1)
    if bad and draw(st.integers(0, 9)) == 0:
        return draw(st.integers(-n - 2, -n - 1) | st.integers(n, n + 1))
    return draw(st.integers(-n, n - 1))


def gather_along(t: torch.Tensor, indices: torch.Tensor, dim: int) -> torch.Tensor:
    """``t``'s values at ``indices`` along ``dim`` (indices of a reduction, dim removed)."""
    return torch.take_along_dim(t, indices.unsqueeze(dim), dim).squeeze(dim)


# --- OPS-1, OPS-2: arange, linspace, logspace ------------------------------------------------


@st.composite
def arange_args(draw):
    """Integer arguments with any dtype, or float arguments with a float dtype (an integer
    dtype with float arguments differs between releases: OPS-1)."""
    if draw(st.booleans()):
        start, end = draw(st.integers(-10, 10)), draw(st.integers(-10, 10))
        step = draw(st.integers(-4, 4))
        dtype = draw(st.sampled_from([None, None, "float64", "float32", "int64", "int32"]))
    else:
        start, end = draw(st.integers(-20, 20)) / 10, draw(st.integers(-20, 20)) / 10
        step = draw(st.sampled_from([0.1, 0.2, 0.25, 0.3, 0.7, 1.5, -0.1, -0.3, -0.5, 0.0]))
        dtype = draw(st.sampled_from([None, None, "float64", "float32"]))
    return start, end, step, dtype


@st.composite
def spaced_args(draw):
    """(start, end, steps, dtype, base): float ranges, or non-negative integer ranges whose
    step is an integer (so integer results are exact on every device)."""
    steps = draw(st.integers(-1, 6))
    if draw(st.booleans()):
        start, end = draw(st.integers(-8, 8)) / 4, draw(st.integers(-8, 8)) / 4
        dtype = draw(st.sampled_from([None, "float32", "float64"]))
        return start, end, steps, dtype, draw(st.sampled_from([10.0, 2.0, 0.5]))
    h = draw(st.integers(-1, 1))
    low = max(0, -h * max(steps - 1, 1))
    start = draw(st.integers(low, low + 4))
    end = start + h * max(steps - 1, 1)
    dtype = draw(st.sampled_from(["int64", "int32"]))
    return start, end, steps, dtype, draw(st.sampled_from([10.0, 2.0]))


@pytest.mark.spec("OPS-1", "OPS-2")
@given(arange_args(), spaced_args())
@example((0.1, 0.4, 0.1, None), (0, 10, 5, None, 10.0))  # the float pitfall; [0, 2.5, ..., 10]
@example((1, 2.5, 0.5, None), (0, 1, 1, None, 10.0))  # steps=1: [start]
@example((0, 5, 0, None), (0, 2, 3, "int64", 10.0))  # step 0 raises; logspace [1, 10, 100]
@example((0, 5, -1, None), (0, 1, -1, None, 10.0))  # wrong sign, negative steps raise
@example((3, 3, 1, None), (0, 10, 4, "int64", 2.0))  # empty; linspace truncates: [0, 3, 6, 10]
def test_arange_linspace_logspace(device, arange_case, spaced_case):
    start, end, step, dtype = arange_case
    kwargs = {"dtype": TORCH[dtype]} if dtype else {}
    out, expected = both(
        lambda: torch.arange(start, end, step, device=device, **kwargs),
        lambda: R.arange(start, end, step, dtype=dtype),
    )
    if out is None:
        assert step == 0 or (end - start) * step < 0
    else:
        check(out, expected)
        assert len(out) == math.ceil((end - start) / step)  # computed in float64
        if dtype is None:
            ints = all(isinstance(v, int) for v in (start, end, step))
            assert out.dtype is (torch.int64 if ints else torch.get_default_dtype())
    start, end, steps, dtype, base = spaced_case
    kwargs = {"dtype": TORCH[dtype]} if dtype else {}
    out, expected = both(
        lambda: torch.linspace(start, end, steps, device=device, **kwargs),
        lambda: R.linspace(start, end, steps, dtype=dtype),
    )
    if out is None:
        assert steps < 0
        return
    check(out, expected)
    if steps >= 2 and dtype is None:
        assert out[0].item() == start and out[-1].item() == end  # both ends exact
    check(
        torch.logspace(start, end, steps, base=base, device=device, **kwargs),
        R.logspace(start, end, steps, base=base, dtype=dtype),
    )


@pytest.mark.spec("OPS-1")
def test_arange_end_only_and_the_notes_pitfall(device):
    assert torch.arange(5, device=device).tolist() == R.arange(5).tolist() == [0, 1, 2, 3, 4]
    pitfall = torch.arange(0.1, 0.4, 0.1, device=device)
    assert len(pitfall) == len(R.arange(0.1, 0.4, 0.1)) == 4  # (0.4 - 0.1) / 0.1 > 3
    assert abs(pitfall[-1].item() - 0.4) < 1e-6  # end is included after all
    assert (0.4 - 0.1) / 0.1 == 3.0000000000000004


# --- OPS-3, OPS-4: factories, *_like, new_* ------------------------------------------------------


@st.composite
def factory_cases(draw):
    shape = draw(shapes(max_dims=3))
    fill = draw(st.sampled_from([True, 3, -2, 2.5, 1.5j]))
    eye = (draw(st.integers(0, 4)), draw(st.integers(0, 4) | st.none()))
    default = draw(st.sampled_from(["float32", "float64"]))
    sample = draw(samples(max_dims=3))
    dtype = draw(st.sampled_from([None, "float64", "int32", "bool"]))
    value = draw(st.sampled_from([0, 1, 2.5, True]))
    return shape, fill, eye, default, sample, dtype, value


@pytest.mark.spec("OPS-3", "OPS-4")
@given(factory_cases())
def test_factories_and_like_and_new(device, case):
    shape, fill, (n, m), default, sample, dtype, value = case
    with default_dtype(default):
        for name in ("zeros", "ones", "empty"):
            args = shape if shape else (shape,)  # f(2, 3) and f((2, 3)) alike
            for given_args in (args, (shape,)):
                out = getattr(torch, name)(*given_args, device=device)
                expected = getattr(R, name)(*given_args)
                assert tuple(out.shape) == expected.shape == tuple(shape)
                assert out.dtype is TORCH[default] and D.info(expected.dtype).name == default
                if name != "empty":
                    check(out, expected)
        check(torch.full(shape, fill, device=device), R.full(shape, fill))  # dtype from the fill
        assert D.info(R.full(shape, fill).dtype).name == D.result_type(fill)
        check(torch.eye(n, m, device=device) if m is not None else torch.eye(n, device=device),
              R.eye(n, m))  # fmt: skip
    array, t = sample[0], put(sample, device)
    kwargs = {"dtype": TORCH[dtype]} if dtype else {}
    for name in ("zeros_like", "ones_like", "empty_like"):
        out, expected = getattr(torch, name)(t, **kwargs), getattr(R, name)(array, dtype=dtype)
        assert out.device == t.device and out.dtype is TORCH[dtype or D.info(array.dtype).name]
        assert tuple(out.shape) == expected.shape == array.shape
        if name != "empty_like":
            check(out, expected)
    check(torch.full_like(t, value, **kwargs), R.full_like(array, value, dtype=dtype))
    for name in ("new_zeros", "new_ones", "new_empty"):
        out, expected = (
            getattr(t, name)(shape, **kwargs),
            getattr(R, name)(array, shape, dtype=dtype),
        )
        assert out.device == t.device and tuple(out.shape) == expected.shape == tuple(shape)
        assert out.dtype is TORCH[D.info(expected.dtype).name]
        if name != "new_empty":
            check(out, expected)
    for out, expected in (
        (t.new_full(shape, value, **kwargs), R.new_full(array, shape, value, dtype=dtype)),
        (t.new_tensor([1, 2], **kwargs), R.new_tensor(array, [1, 2], dtype=dtype)),
    ):
        assert out.device == t.device
        check(out, expected)


@pytest.mark.spec("OPS-3", "OPS-4")
def test_notes_golden_factories(device):
    """Notes 004: ``zeros(5, 3, dtype=torch.long)``, ``x.new_ones(5, 3, dtype=torch.double)``,
    ``randn_like`` keeping the shape; ``full`` infers, ``full_like`` does not."""
    x = torch.zeros(5, 3, dtype=torch.long, device=device)
    assert x.dtype is torch.int64 and x.tolist() == R.zeros(5, 3, dtype="int64").tolist()
    y = x.new_ones(5, 3, dtype=torch.double)
    assert y.dtype is torch.float64 and y.device == x.device and y.shape == (5, 3)
    assert R.new_ones(np.zeros((5, 3), np.int64), 5, 3, dtype="float64").dtype == np.float64
    assert (
        x.new_ones(2).dtype is torch.int64
        and R.new_ones(np.zeros(1, np.int64), 2).dtype == np.int64
    )
    assert torch.randn_like(y, dtype=torch.float).shape == (5, 3)
    assert torch.full((2,), 3).dtype is torch.int64 and R.full((2,), 3).dtype == np.int64
    assert torch.full((2,), True).dtype is torch.bool and R.full((2,), True).dtype == np.bool_
    small = torch.zeros(2, dtype=torch.int8, device=device)
    assert torch.full_like(small, 2.7).tolist() == R.full_like(np.zeros(2, np.int8), 2.7).tolist()


# --- OPS-5, OPS-6, OPS-7: reductions ------------------------------------------------------------

SIMPLE = ("sum", "mean", "prod", "all", "any")
SELECTING = ("max", "min", "argmax", "argmin")
EXTREMES = ("amax", "amin")


@st.composite
def reduction_dims(draw, ndim: int, *, allow_none: bool = True, allow_tuple: bool = True):
    """A ``dim`` argument for ``ndim`` dims: None, an int, or a tuple of distinct dims, each
    possibly negative; sometimes out of range or repeated (then both must raise)."""
    kinds = ["int", "int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "int":
        return dim_of(draw, ndim)
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim else []
    dims = [d - ndim if draw(st.booleans()) else d for d in chosen]
    if dims and draw(st.integers(0, 9)) == 0:
        dims.append(dims[0] - ndim if dims[0] >= 0 else dims[0] + ndim)  # the same dim twice
    return tuple(dims)


@st.composite
def reduction_cases(draw):
    op = draw(st.sampled_from(SIMPLE + SELECTING + EXTREMES))
    low, high = (-1, 1) if op in SELECTING + EXTREMES else (-2, 2)  # ties are frequent
    sample = draw(samples(nonfinite=op != "prod", max_side=3 if op == "prod" else 4,
                          low=low, high=high))  # fmt: skip
    dim = draw(reduction_dims(sample[0].ndim, allow_tuple=op not in ("prod", *SELECTING),
                              allow_none=op not in EXTREMES))  # fmt: skip
    keepdim = draw(st.booleans())
    is_float = sample[0].dtype.kind == "f"
    choices = [None, "float64", "float32"] if is_float else [None, "int64", "float64", "float32"]
    dtype = draw(st.sampled_from(choices)) if op in ("sum", "mean", "prod") else None
    return op, sample, dim, keepdim, dtype


def _torch_reduction(op, t, dim, keepdim, dtype):
    fn = getattr(torch, op)
    kwargs = {"dtype": TORCH[dtype]} if dtype else {}
    if dim is None and op in ("prod", "all", "any", "max", "min"):
        return fn(t, **kwargs)  # these overloads take no keepdim without a dim
    return fn(t, dim=dim, keepdim=keepdim, **kwargs)


def _reference_reduction(op, array, dim, keepdim, dtype):
    return getattr(R, op)(array, dim, keepdim, **({"dtype": dtype} if dtype else {}))


def _reduced_shape(op, shape, dim, keepdim):
    """The dim you reduce disappears (or stays as 1 with keepdim): the clause, restated."""
    ndim = len(shape)
    if dim is None or (dim == () and op not in ("all", "any")):
        dims = set(range(ndim))  # every dim (for all/any, () reduces none)
    else:
        dims = {d % ndim for d in ((dim,) if isinstance(dim, int) else dim)} if ndim else set()
    if keepdim:
        return tuple(1 if d in dims else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in dims)


@pytest.mark.spec("OPS-5", "OPS-6", "OPS-7", "OPS-20")
@given(reduction_cases())
@example(("sum", (np.array([[1, 2, 3], [4, 5, 6]]), False), 0, False, None))  # notes: [5, 7, 9]
@example(("sum", (np.array([[1, 2, 3], [4, 5, 6]]), False), 1, False, None))  # notes: [6, 15]
@example(("mean", (np.array([1, 2]), False), None, False, None))  # mean of ints raises
@example(("sum", (np.ones((2, 3)), True), (), False, None))  # () is every dim for sum
@example(("all", (np.ones((2, 3)), False), (), False, None))  # ... but none for all/any
@example(("prod", (np.zeros((0, 2), np.int8), False), 0, True, None))  # empty product 1
@example(("mean", (np.zeros((0, 2), np.float32), False), 0, False, None))  # empty mean NaN
@example(("any", (np.array([0, 3], np.uint8), False), 0, False, None))  # uint8 in, uint8 out
@example(("max", (np.array([1, 3, 3, 2]), False), 0, False, None))  # ties: the first index
@example(("max", (np.array([1.0, np.nan, 3.0, np.nan]), False), 0, False, None))  # first NaN
@example(("argmax", (np.array([[1, 5], [5, 2]]), False), None, False, None))  # flattened
@example(("max", (np.zeros((0, 2)), False), None, False, None))  # empty without dim raises
@example(("max", (np.zeros((0, 2)), False), 0, False, None))  # reducing an empty dim raises
@example(("max", (np.zeros((0, 2)), False), 1, True, None))  # a non-empty dim of an empty input
@example(("argmax", (np.array([True, False]), False), 0, False, None))  # bool raises
@example(("amax", (np.zeros((0, 2)), False), 1, False, None))
@example(("sum", (np.ones((2, 3)), False), (0, -2), False, None))  # a dim twice raises
def test_reductions(device, case):
    op, sample, dim, keepdim, dtype = case
    if op in ("argmax", "argmin") and sample[0].dtype == np.bool_ and device != "cpu":
        return  # torch has no bool argmax on the CPU; other devices may have one
    t = put(sample, device)
    keep = keepdim if not (dim is None and op in ("prod", "all", "any", "max", "min")) else False
    out, expected = both(
        lambda: _torch_reduction(op, t, dim, keep, dtype),
        lambda: _reference_reduction(op, sample[0], dim, keep, dtype),
    )
    if out is None:
        return
    if isinstance(expected, R.ValuesIndices):
        check(out.values, expected.values)
        check(out.indices, expected.indices)  # the first index of the extreme
        out = out.values
    else:
        check(out, expected)
    if op in ("argmax", "argmin") and dim is None:
        return
    assert out.shape == _reduced_shape(op, sample[0].shape, dim, keep)


@pytest.mark.spec("OPS-5", "OPS-6")
def test_notes_golden_reductions(device):
    """Notes 001, "understanding dimensions": the dim you reduce disappears (降维); the notes'
    ``torch.max(a, 1)`` example and the accuracy recipe with ``argmax(1)``."""
    y = [[[1, 2, 3], [4, 5, 6]]] * 3
    t, a = torch.tensor(y, device=device), np.array(y)
    assert torch.sum(t, dim=0).tolist() == R.sum(a, 0).tolist() == [[3, 6, 9], [12, 15, 18]]
    assert torch.sum(t, dim=1).tolist() == R.sum(a, 1).tolist() == [[5, 7, 9]] * 3
    assert torch.sum(t, dim=2).tolist() == R.sum(a, 2).tolist() == [[6, 15]] * 3
    a4 = torch.tensor([[-1.2360, -0.2942, -0.1222, 0.8475], [1.1949, -1.1127, -2.2379, -0.6702],
                       [1.5717, -0.9207, 0.1297, -1.8768], [-0.6172, 1.0036, -0.6060, -0.2432]],
                      device=device)  # fmt: skip
    values, indices = torch.max(a4, 1)
    expected = R.max(to_numpy(a4), 1)
    assert indices.tolist() == expected.indices.tolist() == [3, 0, 0, 1]
    check(values, expected.values)
    ties = torch.tensor([[2, 7, 7], [5, 5, 1]], device=device)  # the first index on ties
    assert (
        torch.max(ties, 1).indices.tolist() == R.max(to_numpy(ties), 1).indices.tolist() == [1, 0]
    )
    assert torch.argmin(ties, 1).tolist() == R.argmin(to_numpy(ties), 1).tolist() == [0, 2]
    outputs = torch.tensor([[0.1, 0.2], [0.3, 0.4]], device=device)
    preds = outputs.argmax(1)
    assert preds.tolist() == R.argmax(to_numpy(outputs), 1).tolist() == [1, 1]
    assert (preds == torch.tensor([0, 1], device=device)).sum().item() == 1


@st.composite
def gradient_cases(draw):
    array = draw(samples(("float32", "float64"), min_side=1, max_side=3, low=-1, high=1))[0]
    dim = draw(reduction_dims(array.ndim, allow_none=False).filter(_valid_dims(array.ndim)))
    n = max(array.ndim, 1)
    return array, dim, draw(st.booleans()), draw(st.integers(-n, n - 1))


def _valid_dims(ndim: int) -> Callable[[Any], bool]:
    def valid(dim: Any) -> bool:
        dims = (dim,) if isinstance(dim, int) else dim
        n = max(ndim, 1)
        wrapped = [d % n for d in dims if -n <= d < n]
        return len(wrapped) == len(dims) == len(set(wrapped))

    return valid


@pytest.mark.spec("OPS-7")
@given(gradient_cases())
@example((np.array([1.0, 3.0, 3.0]), (), False, 0))  # [0, 0.5, 0.5]; max(0): [0, 1, 0]
def test_how_gradients_split_among_ties(device, case):
    """amax/amin (and max() without dim) split the gradient evenly among tied extremes;
    max(dim) gives it all to the index it returns."""
    array, dim, keepdim, d = case
    for name in EXTREMES:
        t = to_torch(array, device, requires_grad=True)
        out = getattr(torch, name)(t, dim, keepdim)
        upstream = np.arange(1.0, out.numel() + 1).reshape(out.shape).astype(array.dtype)
        out.backward(to_torch(upstream, device))
        backward = R.amax_backward if name == "amax" else R.amin_backward
        check(t.grad, backward(upstream, array, dim, keepdim))
    t = to_torch(array, device, requires_grad=True)
    torch.max(t).backward()
    check(t.grad, R.amax_backward(np.array(1.0, array.dtype), array))
    t = to_torch(array, device, requires_grad=True)
    values = torch.max(t, d, keepdim).values
    upstream = np.arange(1.0, values.numel() + 1).reshape(values.shape).astype(array.dtype)
    values.backward(to_torch(upstream, device))
    check(t.grad, R.max_backward(upstream, array, d, keepdim))


# --- OPS-8, OPS-10: sort, topk, median, mode --------------------------------------------------


@st.composite
def order_cases(draw):
    sample = draw(samples(nonfinite=True, low=-1, high=1))
    ndim = sample[0].ndim
    dim = dim_of(draw, ndim)
    n = sample[0].shape[dim] if ndim and -ndim <= dim < ndim else 1
    k = draw(st.integers(0, n + 1))
    flags = draw(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()))
    median_dim = draw(st.none() | st.just(dim))
    return sample, dim, k, flags, median_dim


@pytest.mark.spec("OPS-8", "OPS-10", "OPS-20")
@given(order_cases())
@example(((np.array([2, 1, 2, 1]), False), -1, 2, (False, True, True, True), 0))  # stable
@example(((np.array([2, 1, 2, 1]), False), -1, 5, (True, True, True, True), None))  # k > n
@example(((np.array([1.0, np.nan, -np.inf, 2.0]), False), 0, 2, (False, False, True, True),
          None))  # NaN sorts last and is the largest in topk  # fmt: skip
@example(((np.array([1.0, np.nan, 2.0]), False), 0, 2, (False, False, False, True), 0))
@example(((np.array([1.0, 4.0, 2.0, 3.0]), False), 0, 1, (False, False, True, True), None))
@example(((np.array([1, 2, 2, 3, 3]), False), 0, 1, (False, False, True, True), 0))  # mode 2
@example(((np.array([True, False]), False), 0, 1, (False, False, True, True), None))  # bool
def test_sort_topk_median_mode(device, case):
    sample, dim, k, (descending, stable, largest, is_sorted), median_dim = case
    array, t = sample[0], put(sample, device)
    kernel_gap = array.dtype == np.bool_  # no bool topk/median on the CPU; elsewhere unknown
    out, expected = both(
        lambda: torch.sort(t, dim=dim, descending=descending, stable=stable),
        lambda: R.sort(array, dim, descending=descending, stable=stable),
    )
    if out is None:
        return  # dim out of range: every op below would raise the same way
    check(out.values, expected.values)
    if stable:  # equal keys keep their order
        check(out.indices, expected.indices)
    elif array.ndim:
        check(torch.take_along_dim(t, out.indices, dim), expected.values)
    out, expected = None, None
    if not (kernel_gap and device != "cpu"):
        out, expected = both(
            lambda: torch.topk(t, k, dim, largest, is_sorted),
            lambda: R.topk(array, k, dim, largest, is_sorted),
        )
    if out is not None:
        if is_sorted:
            check(out.values, expected.values)
        else:  # any order: compare as sorted sequences
            sort_dim = dim if array.ndim else 0
            check(torch.sort(out.values, sort_dim).values, R.sort(expected.values, sort_dim).values)
        if array.ndim and k:
            check(torch.take_along_dim(t, out.indices, dim), to_numpy(out.values))
            assert (torch.sort(out.indices, dim).values.diff(dim=dim) > 0).all()  # distinct
    empty_integer = median_dim is None and array.size == 0 and array.dtype.kind != "f"
    if not empty_integer and not (kernel_gap and device != "cpu"):
        out, expected = both(
            lambda: torch.median(t) if median_dim is None else torch.median(t, median_dim),
            lambda: R.median(array, median_dim),
        )
        if out is not None and median_dim is None:
            check(out, expected)
        elif out is not None:
            check(out.values, expected.values)  # the lower median
            if array.ndim and out.indices.numel():
                check(gather_along(t, out.indices, dim), expected.values)  # holds the median
    if array.dtype.kind == "f" and np.isnan(array).any():
        return  # mode is unspecified with NaN
    out, expected = both(lambda: torch.mode(t, dim), lambda: R.mode(array, dim))
    if out is not None:
        check(out.values, expected.values)  # the smallest of the most frequent values
        if array.ndim and out.indices.numel():
            check(gather_along(t, out.indices, dim), expected.values)


# --- OPS-9: var, std, logsumexp, cumsum ---------------------------------------------------------


@st.composite
def statistics_cases(draw):
    sample = draw(samples(nonfinite=True, low=-3, high=3))
    ndim = sample[0].ndim
    dim = draw(reduction_dims(ndim))
    lse_dim = draw(reduction_dims(ndim, allow_none=False).filter(lambda d: d != ()))
    return sample, dim, draw(st.sampled_from([0, 1, 2, 0.5])), draw(st.booleans()), lse_dim


@pytest.mark.spec("OPS-9", "OPS-20")
@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")  # var(), std()
@given(statistics_cases())
@example(((np.array([1.0, 2.0, 4.0]), False), None, 1, False, 0))  # var 2.3333
@example(((np.array([1.0]), False), None, 1, False, 0))  # N - c = 0: NaN
@example(((np.array([1.0, 3.0]), False), None, 2, False, 0))  # a 0 divisor: inf
@example(((np.array([1, 2]), False), None, 1, False, 0))  # var of ints raises; lse is float
@example(((np.array([-np.inf, -np.inf]), False), 0, 1, False, 0))  # logsumexp -inf
@example(((np.array([np.inf, 1.0]), False), 0, 1, False, 0))  # logsumexp inf
@example(((np.zeros((0, 2)), False), 0, 1, False, 0))  # empty: logsumexp -inf
def test_var_std_logsumexp_cumsum(device, case):
    sample, dim, correction, keepdim, lse_dim = case
    array, t = sample[0], put(sample, device)
    for name in ("var", "std"):
        out, expected = both(
            lambda name=name: getattr(torch, name)(t, dim, correction=correction, keepdim=keepdim),
            lambda name=name: getattr(R, name)(array, dim, correction=correction, keepdim=keepdim),
        )
        if out is not None:
            check(out, expected)
    out, expected = both(lambda: torch.logsumexp(t, lse_dim, keepdim),
                         lambda: R.logsumexp(array, lse_dim, keepdim))  # fmt: skip
    if out is not None:
        check(out, expected)
    d = lse_dim if isinstance(lse_dim, int) else lse_dim[0]
    out, expected = both(lambda: torch.cumsum(t, d), lambda: R.cumsum(array, d))
    if out is not None:
        check(out, expected)
        if array.dtype.kind != "f":
            check(torch.cumsum(t, d, dtype=torch.float64), R.cumsum(array, d, dtype="float64"))


# --- OPS-11: cat and stack ---------------------------------------------------------------------


@st.composite
def join_cases(draw):
    base = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    ndim = len(base)
    dim = draw(st.integers(-ndim, ndim - 1))
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        shape = list(base)
        shape[dim] = draw(st.integers(0, 3))
        dtype = draw(st.sampled_from(REAL))
        arrays.append(draw(hnp.arrays(np.dtype(dtype), tuple(shape), elements=elements(dtype))))
    if draw(st.booleans()):  # the legacy 1-D empty tensor, skipped whatever the rank
        arrays.insert(draw(st.integers(0, len(arrays))), np.zeros(0, np.float64))
    if ndim > 1 and draw(st.integers(0, 4)) == 0:  # a size clash outside dim
        k = draw(st.sampled_from([i for i in range(ndim) if i != dim % ndim]))
        j = draw(st.sampled_from([i for i, a in enumerate(arrays) if a.ndim == ndim]))
        shape = list(arrays[j].shape)
        shape[k] += 1
        arrays[j] = np.zeros(shape, arrays[j].dtype)
    stack_dim = draw(st.integers(-ndim - 2, ndim + 1))  # out of range at both ends
    return arrays, dim, stack_dim


@pytest.mark.spec("OPS-11", "OPS-20")
@given(join_cases())
@example(([np.zeros((2, 1, 3)), np.zeros((2, 3, 3)), np.zeros((2, 2, 3))], 1, 0))  # (2, 6, 3)
@example(([np.zeros((2, 3)), np.zeros((3, 1))], 1, 0))  # sizes clash in dim 0
@example(([np.zeros(()), np.zeros(2)], 0, 0))  # 0-d cannot be concatenated
def test_cat_and_stack(device, case):
    arrays, dim, stack_dim = case
    tensors = [to_torch(a, device) for a in arrays]
    out, expected = both(lambda: torch.cat(tensors, dim), lambda: R.cat(arrays, dim))
    if out is not None:
        check(out, expected)  # the dtype is promoted over every tensor
    same = [a for a in arrays if a.shape == arrays[-1].shape]
    out, expected = both(lambda: torch.stack([to_torch(a, device) for a in same], stack_dim),
                         lambda: R.stack(same, stack_dim))  # fmt: skip
    if out is not None:
        check(out, expected)
        assert out.dim() == arrays[-1].ndim + 1 and out.shape[stack_dim] == len(same)
    if len(same) < len(arrays):  # different shapes do not stack
        both(lambda: torch.stack(tensors), lambda: R.stack(arrays))


# --- OPS-12, OPS-13, OPS-19: split, chunk, unbind, flip, roll, the feature/label split ------------


@st.composite
def rearrange_cases(draw):
    sample = draw(samples(min_dims=1, max_dims=3, max_side=5))
    ndim = sample[0].ndim
    dim = dim_of(draw, ndim)
    n = sample[0].shape[dim] if -ndim <= dim < ndim else 0
    if draw(st.booleans()):
        split = draw(st.integers(0, 6))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        split = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
        if draw(st.integers(0, 9)) == 0:
            split.append(1)  # sections that do not sum to the size
    chunks = draw(st.integers(0, 6))
    dims = draw(st.lists(st.integers(-ndim - 1, ndim), max_size=3))
    shifts = draw(st.lists(st.integers(-5, 5), min_size=1, max_size=3))
    roll_dims = draw(st.none() | st.lists(st.integers(-ndim, ndim - 1), min_size=len(shifts),
                                          max_size=len(shifts)))  # fmt: skip
    return sample, dim, split, chunks, dims, shifts if roll_dims else shifts[:1], roll_dims


@pytest.mark.spec("OPS-12", "OPS-13", "OPS-19", "OPS-20")
@given(rearrange_cases())
@example(((np.zeros((5, 2)), False), 0, 2, 3, [0], [1], None))  # split 2 -> 2, 2, 1
@example(((np.zeros(6), False), 0, [1, 5], 4, [], [2], [0]))  # chunk 4 -> three of 2
@example(((np.zeros((0, 3)), False), 0, 0, 3, [1], [1], [1]))  # three empty chunks
@example(((np.zeros(5), False), 0, 0, 2, [0, 0], [1], None))  # split 0 raises; a dim twice
@example(((np.arange(12.0).reshape(3, 4), False), 1, 1, 1, [0, 1], [1, -1], [0, 1]))
def test_split_chunk_unbind_flip_roll(device, case):
    sample, dim, split, chunks, dims, shifts, roll_dims = case
    array, t = sample[0], put(sample, device)
    for name, torch_call, reference_call in (
        ("split", lambda: torch.split(t, split, dim), lambda: R.split(array, split, dim)),
        ("chunk", lambda: torch.chunk(t, chunks, dim), lambda: R.chunk(array, chunks, dim)),
        ("unbind", lambda: torch.unbind(t, dim), lambda: R.unbind(array, dim)),
    ):
        out, expected = both(torch_call, reference_call)
        if out is None:
            continue
        assert len(out) == len(expected)
        for piece, reference_piece in zip(out, expected, strict=True):
            check(piece, reference_piece)
            if piece.numel():  # views of the input, not copies
                assert piece.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()
                assert np.shares_memory(reference_piece, array)
        if name != "unbind":  # the pieces cat back to the input
            check(torch.cat(out, dim), array)
    for torch_call, reference_call in (
        (lambda: torch.flip(t, dims), lambda: R.flip(array, dims)),
        (lambda: torch.roll(t, shifts, roll_dims), lambda: R.roll(array, shifts, roll_dims)),
    ):
        out, expected = both(torch_call, reference_call)
        if out is not None:
            check(out, expected)
    if array.ndim == 2 and array.size:  # notes 001: labels x[:, -1], features x[:, :-1]
        reference, t = strided(array), to_torch(array, device)  # both contiguous
        for view, key in ((t[:, -1], (slice(None), -1)), (t[:, :-1], (slice(None), slice(-1)))):
            check(view, array[key])
            assert view.stride() == reference[key].stride()
            assert view.storage_offset() == reference[key].storage_offset()
            assert view.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()


@pytest.mark.spec("OPS-12", "OPS-19")
def test_notes_golden_chunk_and_split(device):
    t = torch.arange(6, device=device)
    assert [len(c) for c in torch.chunk(t, 4)] == [len(c) for c in R.chunk(np.arange(6), 4)] == [
        2, 2, 2]  # fmt: skip
    assert [len(c) for c in torch.chunk(t[:5], 3)] == [2, 2, 1]
    assert len(torch.chunk(t[:2], 5)) == len(R.chunk(np.arange(2), 5)) == 2
    data = torch.arange(12.0, device=device).view(3, 4)
    labels, features = data[:, -1], data[:, :-1]
    assert labels.tolist() == [3.0, 7.0, 11.0] and features.shape == (3, 3)
    assert labels.stride() == (4,) and not labels.is_contiguous()


# --- OPS-14: gather, scatter, scatter_add, index_select -------------------------------------------


@st.composite
def gather_cases(draw):
    """(array, dim, index, src, unique, picks): ``index`` fits gather (values in range, sizes
    no larger than the array's outside ``dim``); ``unique`` also has distinct values along
    ``dim`` (for ``scatter``, where repeats are unspecified); ``src`` is at least as large as
    the index; ``picks`` is a 1-D (or 0-d) index for ``index_select``."""
    dtype = draw(st.sampled_from(("int64", "float32", "float64", "int8")))
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    array = draw(hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype)))
    ndim = len(shape)
    dim = draw(st.integers(-ndim, ndim - 1))
    d = dim % ndim
    index_shape = tuple(draw(st.integers(0, s)) if k != d else draw(st.integers(0, 4))
                        for k, s in enumerate(shape))  # fmt: skip
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[d] - 1)))
    keys_shape = tuple(shape[d] if k == d else s for k, s in enumerate(index_shape))
    keys = draw(hnp.arrays(np.int8, keys_shape, elements=st.integers(0, 9)))
    unique = np.argsort(keys, axis=d, kind="stable")
    unique = np.take(unique, range(min(index_shape[d], shape[d])), axis=d).astype(np.int64)
    src_shape = tuple(s + draw(st.integers(0, 1)) for s in index_shape)
    src = draw(hnp.arrays(np.dtype(dtype), src_shape, elements=elements(dtype)))
    picks = draw(hnp.arrays(np.int64, draw(st.sampled_from([(), (0,), (1,), (3,), (5,)])),
                            elements=st.integers(0, shape[d] - 1)))  # fmt: skip
    return array, dim, index, src, unique, picks


@pytest.mark.spec("OPS-14")
@given(gather_cases())
@example((np.arange(6).reshape(2, 3), 1, np.array([[0, 0], [2, 1]]), np.zeros((2, 2), np.int64),
          np.array([[0, 1], [2, 1]]), np.array([2, 0, 2])))  # fmt: skip
def test_gather_scatter_and_index_select(device, case):
    array, dim, index, src, unique, picks = case
    t, ti, ts = to_torch(array, device), to_torch(index, device), to_torch(src, device)
    check(torch.gather(t, dim, ti), R.gather(array, dim, index))
    check(torch.scatter_add(t, dim, ti, ts), R.scatter_add(array, dim, index, src))
    tu = to_torch(unique, device)
    check(torch.scatter(t, dim, tu, ts), R.scatter(array, dim, unique, src))
    check(torch.scatter(t, dim, tu, 2), R.scatter(array, dim, unique, 2))
    check(torch.index_select(t, dim, to_torch(picks, device)), R.index_select(array, dim, picks))


@pytest.mark.spec("OPS-14")
def test_index_dtype_and_bounds(device):
    t, a = torch.arange(6, device=device).view(2, 3), np.arange(6).reshape(2, 3)
    index32 = np.array([[0], [2]], dtype=np.int32)
    if torch_at_least("2.8"):  # torch 2.8 accepts int32 indices in gather
        check(torch.gather(t, 1, to_torch(index32, device)), R.gather(a, 1, index32))
    else:
        with pytest.raises(RuntimeError, match="int64"):
            torch.gather(t, 1, to_torch(index32, device))
    assert R.gather(a, 1, index32).tolist() == [[0], [5]]
    assert R.index_select(a, 1, np.array([2, 0, 2])).tolist() == [[2, 0, 2], [5, 3, 5]]


# --- OPS-15: masked_fill and nonzero ------------------------------------------------------------


@st.composite
def masked_fill_cases(draw):
    (input_shape, mask_shape), _ = draw(broadcastable_shapes(2, max_dims=3, max_side=3))
    dtype = draw(st.sampled_from(REAL))
    array = draw(hnp.arrays(np.dtype(dtype), input_shape, elements=elements(dtype, nonfinite=True)))
    mask = draw(hnp.arrays(np.bool_, mask_shape))
    if dtype == "bool":
        value = draw(st.sampled_from([True, False, 1, 0]))
    elif dtype in INTS:
        value = draw(st.sampled_from([-3, 0, 2, 2.7, -1.5, True]))
    else:
        value = draw(st.sampled_from([2.5, -1.0, math.nan, math.inf, 3]))
    return array, mask, np.array(value) if draw(st.booleans()) else value


@pytest.mark.spec("OPS-15")
@given(masked_fill_cases())
@example((np.arange(3), np.array([True, False, True]), 9.7))  # 9 into int64
@example((np.arange(3), np.array([[True], [False]]), 9))  # the mask broadcasts the input
@example((np.arange(3, dtype=np.uint8), np.array([True, False, True]), -1))  # wraps to 255
@example((np.arange(3), np.array([True, False, True]), math.nan))  # NaN into int overflows
@example((np.array([0.0, np.nan, -0.0]), np.array(True), 1.0))  # nonzero: NaN counts, -0.0 not
@example((np.array(3), np.array(False), 1))  # 0-d: nonzero has shape (1, 0)
def test_masked_fill_and_nonzero(device, case):
    array, mask, value = case
    t, tm = to_torch(array, device), to_torch(mask, device)
    tv = to_torch(value, device) if isinstance(value, np.ndarray) else value
    out, expected = both(lambda: torch.masked_fill(t, tm, tv),
                         lambda: R.masked_fill(array, mask, value))  # fmt: skip
    if out is None:  # the value does not fit the dtype
        with pytest.raises(ValueError, match="without overflow"):
            D.checked_convert(np.asarray(value).item(), D.info(array.dtype).name)
    else:
        check(out, expected)
        assert out.shape == broadcast_shapes(array.shape, mask.shape)
    check(torch.nonzero(t), R.nonzero(array))
    for got, want in zip(torch.nonzero(t, as_tuple=True), R.nonzero(array, as_tuple=True),
                         strict=True):  # fmt: skip
        check(got, want)


# --- OPS-16: repeat, repeat_interleave, tile, expand ---------------------------------------------


@st.composite
def repeat_cases(draw):
    sample = draw(samples(max_dims=3, max_side=3))
    ndim = sample[0].ndim
    repeats = tuple(draw(st.integers(0, 3)) for _ in range(max(ndim + draw(st.integers(-1, 2)), 0)))
    tile_dims = tuple(draw(st.integers(0, 3)) for _ in range(draw(st.integers(0, 4))))
    times = draw(st.integers(0, 3))
    dim = draw(st.none() | st.integers(-max(ndim, 1), max(ndim, 1) - 1))
    sizes = [draw(st.integers(0, 3)) if s == 1 else draw(st.sampled_from([s, -1]))
             for s in sample[0].shape]  # fmt: skip
    target = tuple([draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))] + sizes)
    return sample, repeats, tile_dims, times, dim, target


@pytest.mark.spec("OPS-16", "OPS-20")
@given(repeat_cases())
@example(((np.array([1, 2, 3]), False), (4, 2, 1), (2,), 2, None, (2, 3)))  # the notes' repeat
@example(((np.arange(6).reshape(2, 3), False), (2,), (2,), 2, 0, (2, 3)))  # too few repeats
def test_repeat_tile_repeat_interleave_expand(device, case):
    sample, repeats, tile_dims, times, dim, target = case
    array, t = sample[0], put(sample, device)
    out, expected = both(lambda: t.repeat(*repeats), lambda: R.repeat(array, *repeats))
    if out is not None:
        check(out, expected)
        if out.numel():  # a copy
            assert out.untyped_storage().data_ptr() != t.untyped_storage().data_ptr()
    check(torch.tile(t, tile_dims), R.tile(array, tile_dims))
    n = array.size if dim is None else (array.shape[dim] if array.ndim else 1)
    per_slice = np.array([(i % 3) for i in range(n)], dtype=np.int64)
    for count, torch_count in ((times, times), (per_slice, to_torch(per_slice, device))):
        out, expected = both(
            lambda torch_count=torch_count: torch.repeat_interleave(t, torch_count, dim),
            lambda count=count: R.repeat_interleave(array, count, dim),
        )
        if out is None:
            assert array.ndim == 0 and dim is not None  # a 0-d input has no dim to repeat
        else:
            check(out, expected)
    contiguous = to_torch(array, device)  # the reference array has the same strides
    out, expected = contiguous.expand(target), R.expand(array, target)
    check(out, expected)
    assert out.stride() == tuple(s // expected.itemsize for s in expected.strides)
    assert out.untyped_storage().data_ptr() == contiguous.untyped_storage().data_ptr()
    assert np.shares_memory(expected, array) or expected.size == 0  # a view, no copy
    lead = len(target) - array.ndim
    for k, size in enumerate(out.shape):
        if (k < lead or array.shape[k - lead] == 1) and size != 1:
            assert out.stride(k) == 0  # stretched dims read one element


@pytest.mark.spec("OPS-16")
def test_notes_golden_repeat(device):
    """Notes 001: ``x.repeat(4, 2, 1)`` on ``[1, 2, 3]``, walking the repeats from the last."""
    x = torch.tensor([1, 2, 3], device=device)
    expected = [[[1, 2, 3], [1, 2, 3]]] * 4
    assert x.repeat(4, 2, 1).tolist() == R.repeat(np.array([1, 2, 3]), 4, 2, 1).tolist() == expected
    step1 = R.repeat(np.array([1, 2, 3]), 1)  # last repeat 1: [1, 2, 3]
    step2 = R.repeat(step1[None], 2, 1)  # wrap in a dim, copy twice
    step3 = R.repeat(step2[None], 4, 1, 1)  # wrap again, copy four times
    assert step3.tolist() == expected
    assert x.repeat(4, 2).tolist() == [[1, 2, 3, 1, 2, 3]] * 4  # notes: dim 0 four times
    assert torch.repeat_interleave(x, 2).tolist() == [1, 1, 2, 2, 3, 3]
    assert x.expand(2, 3).stride() == (0, 1) and R.expand(np.array([1, 2, 3]), 2, 3).strides[0] == 0


# --- OPS-17: clamp -------------------------------------------------------------------------------


@st.composite
def clamp_cases(draw):
    dtype = draw(st.sampled_from(("uint8", "int8", "int32", "int64", "float16", "float32",
                                  "float64")))  # fmt: skip
    (shape, lo_shape, hi_shape), _ = draw(broadcastable_shapes(3, max_dims=3, max_side=3))
    array = draw(hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, nonfinite=True)))
    if draw(st.booleans()):
        scalar = st.none() | st.integers(-2, 2) | st.sampled_from([-1.5, 0.5, 1.5, math.nan])
        return array, draw(scalar), draw(scalar)
    bound_dtype = st.sampled_from(("int8", "int64", "float32", "float64"))
    lo_dtype, hi_dtype = draw(bound_dtype), draw(bound_dtype)
    lo = draw(hnp.arrays(np.dtype(lo_dtype), lo_shape, elements=elements(lo_dtype, nonfinite=True)))
    hi = draw(hnp.arrays(np.dtype(hi_dtype), hi_shape, elements=elements(hi_dtype, nonfinite=True)))
    return array, lo if draw(st.booleans()) else None, hi if draw(st.booleans()) else None


@pytest.mark.spec("OPS-17")
@given(clamp_cases())
@example((np.array([1.0, 5.0, np.nan]), 2, 4))  # [2, 4, nan]
@example((np.array([1.0, 5.0]), 4, 2))  # min > max: every element is max
@example((np.array([1, 5]), 2.5, None))  # an int tensor clamped by a float is float
@example((np.array([1, 5], np.uint8), -1, 3))  # -1 is 255 in uint8: [3, 3]
@example((np.array([1.0, 5.0]), None, None))  # no bound raises
def test_clamp(device, case):
    array, lo, hi = case
    t = to_torch(array, device)
    tlo = to_torch(lo, device) if isinstance(lo, np.ndarray) else lo
    thi = to_torch(hi, device) if isinstance(hi, np.ndarray) else hi
    out, expected = both(lambda: torch.clamp(t, tlo, thi), lambda: R.clamp(array, lo, hi))
    if out is None:
        assert lo is None and hi is None
    else:
        check(out, expected)


# --- OPS-18: matmul ------------------------------------------------------------------------------


@st.composite
def matmul_cases(draw, dtypes: tuple[str, ...]):
    dtype = draw(st.sampled_from(dtypes))
    n, m, p = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 3))
    (batch_a, batch_b), _ = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    rank_a, rank_b = draw(st.sampled_from([1, 2, 3])), draw(st.sampled_from([1, 2, 3]))
    shape_a = (m, n) if rank_a > 1 else (n,)
    inner = n if draw(st.integers(0, 5)) else n + 1  # sometimes the inner sizes clash
    shape_b = (inner, p) if rank_b > 1 else (inner,)
    shape_a = (*batch_a, *shape_a) if rank_a == 3 else shape_a
    shape_b = (*batch_b, *shape_b) if rank_b == 3 else shape_b
    a = draw(hnp.arrays(np.dtype(dtype), shape_a, elements=elements(dtype)))
    b = draw(hnp.arrays(np.dtype(dtype), shape_b, elements=elements(dtype)))
    return a, b, draw(st.booleans())


@pytest.mark.spec("OPS-18")
@given(matmul_cases(("float32", "float64", "int64")))
@example((np.arange(3.0), np.arange(3.0), False))  # dot: 0-d 5
@example((np.ones((2, 3)), np.ones(4), False))  # inner sizes clash
@example((np.ones((2, 1, 3, 4)), np.ones((5, 4, 2)), False))  # batch broadcast: (2, 5, 3, 2)
def test_matmul_ranks_and_batches(device, case):
    """Integer matmul runs on the CPU only (CUDA has no integer GEMM); floats everywhere."""
    a, b, noncontiguous = case
    if a.dtype == np.int64 and device != "cpu":
        a, b = a.astype(np.float64), b.astype(np.float64)
    ta = to_torch(a, device, noncontiguous=noncontiguous)
    tb = to_torch(b, device, noncontiguous=noncontiguous)
    out, expected = both(lambda: torch.matmul(ta, tb), lambda: R.matmul(a, b))
    if out is not None:
        check(out, expected)
        check(ta @ tb, expected)


# --- OPS-20: errors -----------------------------------------------------------------------------

X = np.arange(12.0).reshape(3, 4)
I = np.arange(6).reshape(2, 3)  # noqa: E741
CUDA_ASSERT = "an out-of-bounds index is a device-side assert on CUDA, not an exception"
CPU_KERNEL = "torch's CPU kernel lacks this dtype; other devices may have one"


class TorchCalls:
    """``torch`` for the error table, with ``Tensor`` methods the reference has as
    functions."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    @staticmethod
    def repeat(x: torch.Tensor, *repeats: int) -> torch.Tensor:
        return x.repeat(*repeats)

    @staticmethod
    def cast(x: torch.Tensor, name: str) -> torch.Tensor:
        return x.to(TORCH[name])


class ReferenceCalls:
    """``reference.tensor_ops`` for the error table."""

    def __getattr__(self, name: str) -> Any:
        return getattr(R, name)

    @staticmethod
    def cast(x: np.ndarray, name: str) -> np.ndarray:
        return x.astype(name)


OPS_ERRORS = [
    # (id, call(m, x, i) with m torch or the reference, torch error, reference error, keyword,
    #  why the row runs on the CPU only or None); x is X and i is I, as tensors for torch,
    #  arrays for the reference
    ("arange step 0", lambda m, x, i: m.arange(0, 5, 0), RuntimeError, ValueError,
     "step must be nonzero", None),
    ("arange sign", lambda m, x, i: m.arange(0, 5, -1), RuntimeError, ValueError,
     "inconsistent with step sign", None),
    ("linspace steps", lambda m, x, i: m.linspace(0, 1, -1), RuntimeError, ValueError,
     "number of steps must be non-negative", None),
    ("eye negative", lambda m, x, i: m.eye(-1), RuntimeError, ValueError, "n must be greater",
     None),
    ("zeros negative", lambda m, x, i: m.zeros(2, -1), RuntimeError, ValueError, "negative", None),
    ("sum dim range", lambda m, x, i: m.sum(x, 2), IndexError, IndexError, "Dimension out of range",
     None),
    ("sum dim twice", lambda m, x, i: m.sum(x, (0, -2)), RuntimeError, ValueError,
     "appears multiple times", None),
    ("mean of ints", lambda m, x, i: m.mean(i), RuntimeError, TypeError, "dtype", None),
    ("prod tuple", lambda m, x, i: m.prod(x, (0, 1)), TypeError, TypeError, "prod", None),
    ("max empty", lambda m, x, i: m.max(x[:0]), RuntimeError, ValueError,
     "Expected reduction dim", None),
    ("max empty dim", lambda m, x, i: m.max(x[:0], 0), IndexError, IndexError, "non-zero size",
     None),
    ("amax empty dim", lambda m, x, i: m.amax(x[:0], 0), IndexError, IndexError, "non-zero size",
     None),
    ("argmax bool", lambda m, x, i: m.argmax(x > 3), RuntimeError, TypeError, "(?i)bool",
     CPU_KERNEL),
    ("topk k", lambda m, x, i: m.topk(x, 5), RuntimeError, ValueError, "selected index k", None),
    ("topk bool", lambda m, x, i: m.topk(x > 3, 1), RuntimeError, TypeError, "(?i)bool",
     CPU_KERNEL),
    ("var ints", lambda m, x, i: m.var(i), RuntimeError, TypeError, "floating point", None),
    ("median bool", lambda m, x, i: m.median(i > 2), (RuntimeError, NotImplementedError),
     TypeError, "(?i)bool", CPU_KERNEL),
    ("mode empty", lambda m, x, i: m.mode(x[:0], 0), IndexError, IndexError, "non-zero size", None),
    ("cat sizes", lambda m, x, i: m.cat([x, x[:, :1].T], 1), RuntimeError, ValueError,
     "Sizes of tensors must match", None),
    ("cat ranks", lambda m, x, i: m.cat([x, x[0]], 0), RuntimeError, ValueError,
     "same number of dimensions", None),
    ("cat 0-d", lambda m, x, i: m.cat([x[0, 0], x[0]]), RuntimeError, ValueError,
     "zero-dimensional", None),
    ("cat empty list", lambda m, x, i: m.cat([]), (RuntimeError, ValueError), ValueError,
     "non-empty list", None),
    ("cat dim", lambda m, x, i: m.cat([x], 2), IndexError, IndexError, "Dimension out of range",
     None),
    ("stack sizes", lambda m, x, i: m.stack([x, x[:2]]), RuntimeError, ValueError,
     "equal size", None),
    ("stack dim", lambda m, x, i: m.stack([x, x], 3), IndexError, IndexError,
     "Dimension out of range", None),
    ("split sections", lambda m, x, i: m.split(x, [1, 1]), RuntimeError, ValueError,
     "sum exactly to 3", None),
    ("split size 0", lambda m, x, i: m.split(x, 0), RuntimeError, ValueError,
     "split_size can only be 0", None),
    ("split 0-d", lambda m, x, i: m.split(x[0, 0], 1), RuntimeError, ValueError,
     "at least a 1-dimensional", None),
    ("chunk 0", lambda m, x, i: m.chunk(x, 0), RuntimeError, ValueError, "greater than 0", None),
    ("unbind 0-d", lambda m, x, i: m.unbind(x[0, 0]), IndexError, IndexError, "no dimensions",
     None),
    ("flip twice", lambda m, x, i: m.flip(x, (0, 0)), RuntimeError, ValueError,
     "appears multiple times", None),
    ("roll align", lambda m, x, i: m.roll(x, (1,), (0, 1)), RuntimeError, ValueError,
     "must align", None),
    ("gather rank", lambda m, x, i: m.gather(x, 1, i[0]), RuntimeError, ValueError,
     "same number of dimensions", None),
    ("gather float index", lambda m, x, i: m.gather(x, 1, m.cast(i, "float32")[:, :1]),
     RuntimeError, TypeError, "(?i)dtype", None),
    ("gather bounds", lambda m, x, i: m.gather(x, 1, i[:, :1] + 4), RuntimeError, IndexError,
     "out of bounds", CUDA_ASSERT),
    ("gather negative", lambda m, x, i: m.gather(x, 1, i[:, :1] - 1), RuntimeError, IndexError,
     "out of bounds", CUDA_ASSERT),
    ("scatter dtype", lambda m, x, i: m.scatter_add(x, 0, i[:1, :1], i[:1, :1]), RuntimeError,
     TypeError, "dtype", None),
    ("index_select 2-d", lambda m, x, i: m.index_select(x, 1, i), IndexError, ValueError,
     "vector", None),
    ("index_select bounds", lambda m, x, i: m.index_select(x, 1, i[0] + 2), (IndexError,
     RuntimeError), IndexError, "(?i)out of", CUDA_ASSERT),
    ("masked_fill mask", lambda m, x, i: m.masked_fill(x, m.cast(x > 3, "int64"), 0.0),
     RuntimeError, TypeError, "boolean masks", None),
    ("masked_fill shape", lambda m, x, i: m.masked_fill(x, x[:2] > 3, 0.0), RuntimeError,
     ValueError, "(?i)match|broadcast", None),
    ("masked_fill overflow", lambda m, x, i: m.masked_fill(m.cast(i, "uint8"), i > 2, 300),
     RuntimeError, ValueError, "without overflow", None),
    ("repeat too few", lambda m, x, i: m.repeat(x, 2), RuntimeError, ValueError,
     "can not be smaller", None),
    ("repeat_interleave negative", lambda m, x, i: m.repeat_interleave(x, -1), RuntimeError,
     ValueError, "(?i)non-negative", None),
    ("clamp no bound", lambda m, x, i: m.clamp(x), RuntimeError, ValueError,
     "At least one of 'min' or 'max'", None),
    ("clamp complex", lambda m, x, i: m.clamp(x * 1j, 0, 1), (RuntimeError, NotImplementedError),
     TypeError, "complex", None),
    ("matmul 0-d", lambda m, x, i: m.matmul(x[0, 0], x[0]), RuntimeError, ValueError,
     "at least 1D", None),
    ("matmul inner", lambda m, x, i: m.matmul(x, x), RuntimeError, ValueError,
     "cannot be multiplied", None),
    ("matmul batch", lambda m, x, i: m.matmul(x.reshape(3, 2, 2), x[:2].reshape(2, 2, 2)),
     RuntimeError, ValueError, "(?i)must match|broadcast", None),
]  # fmt: skip


@pytest.mark.spec("OPS-20")
@pytest.mark.parametrize(
    ("call", "torch_error", "reference_error", "keyword", "cpu_only"),
    [e[1:] for e in OPS_ERRORS],
    ids=[e[0] for e in OPS_ERRORS],
)
def test_invalid_arguments_raise_in_both(device, call, torch_error, reference_error, keyword,
                                         cpu_only):  # fmt: skip
    if cpu_only and device != "cpu":
        pytest.skip(cpu_only)
    tx, ti = to_torch(X, device), to_torch(I, device)
    with pytest.raises(torch_error) as torch_info:
        call(TorchCalls(), tx, ti)
    with pytest.raises(reference_error) as reference_info:
        call(ReferenceCalls(), X, I)
    for info in (torch_info, reference_info):
        assert re.search(keyword, str(info.value)), (keyword, str(info.value))
