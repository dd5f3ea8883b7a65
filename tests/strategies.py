"""Shared Hypothesis strategies. Each concept's own strategies sit in its section below.

Sizes stay small (sides up to 5, at most 4 dims) so a property's 100 examples run in well
under a second: the suite's budget is 90 s on 2 cores for every concept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

Shape = tuple[int, ...]
F = TypeVar("F", bound=Callable)


def reused(factory: F) -> F:
    """One strategy object per distinct arguments (a list argument counts as its tuple).
    Strategies are immutable, and building one (its element strategy, its validation) costs
    as much as drawing from it: a composite strategy that asks for the same array strategy in
    every example gets the one already built."""
    cached = functools.lru_cache(maxsize=4096)(factory)

    @functools.wraps(factory)
    def wrapper(*args, **kwargs):
        args = tuple(tuple(a) if isinstance(a, list) else a for a in args)
        return cached(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


FLOAT_DTYPES = (np.float32, np.float64)


@reused
def shapes(
    *, min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 5
) -> st.SearchStrategy[Shape]:
    """Array shapes, including 0-d and (when min_side is 0) zero-size dims."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


@reused
def float_dtypes() -> st.SearchStrategy[np.dtype]:
    """float32 (torch's default) or float64 (for exact comparisons)."""
    return st.sampled_from(FLOAT_DTYPES).map(np.dtype)


# How a seeded array is filled: each style names the values it puts in, a NumPy generator
# seeded from the draw fixes the rest.
ARRAY_STYLES = ("uniform", "scaled", "integers", "specials", "mixed", "constant")


def _specials(dtype: np.dtype, lo: float, hi: float) -> np.ndarray:
    """The values a property should meet in [lo, hi]: the bounds and the points next to
    them, 0 and -0, +-1, +-0.5 and the smallest normal numbers of ``dtype``."""
    tiny = float(np.finfo(dtype).tiny)
    lo_, hi_ = dtype.type(lo), dtype.type(hi)
    candidates = [lo_, hi_, np.nextafter(lo_, hi_), np.nextafter(hi_, lo_),
                  0.0, -0.0, 1.0, -1.0, 0.5, -0.5, tiny, -tiny]
    return np.array([v for v in candidates if lo <= v <= hi], dtype=dtype)


def seeded_array(
    shape: Shape, style: str, seed: int, dtype: np.dtype, lo: float, hi: float
) -> np.ndarray:
    """An array of ``shape`` with values of ``dtype`` in [lo, hi], filled by ``style``:
    uniform; scaled (uniform, its distance from the point nearest 0 times 10^-k, k in 0..6:
    small magnitudes); integers; specials (`_specials` only); mixed (uniform, 30 % specials);
    constant (one value throughout)."""
    rng = np.random.default_rng(seed)
    specials = _specials(dtype, lo, hi)
    if style == "uniform":
        values = rng.uniform(lo, hi, size=shape)
    elif style == "scaled":  # towards the point of [lo, hi] nearest 0
        anchor = min(max(0.0, lo), hi)
        scale = 10.0 ** -rng.integers(0, 7, size=shape)
        values = anchor + (rng.uniform(lo, hi, size=shape) - anchor) * scale
    elif style == "integers" and np.ceil(lo) <= np.floor(hi):
        values = rng.integers(np.ceil(lo), np.floor(hi) + 1, size=shape).astype(np.float64)
    elif style == "specials":
        values = rng.choice(specials, size=shape)
    elif style == "mixed":
        values = np.where(rng.random(shape) < 0.3, rng.choice(specials, size=shape),
                          rng.uniform(lo, hi, size=shape))
    elif style == "constant":
        value = rng.choice(specials) if rng.random() < 0.5 else rng.uniform(lo, hi)
        values = np.full(shape, value)
    else:  # integers with no integer in [lo, hi]
        values = rng.uniform(lo, hi, size=shape)
    typed = np.asarray(values, dtype=dtype)
    return np.asarray(np.clip(typed, dtype.type(lo), dtype.type(hi)), dtype=dtype)


@reused
def finite_arrays(
    shape: Shape | st.SearchStrategy[Shape],
    dtype: np.dtype | type = np.float64,
    *,
    min_value: float = -100.0,
    max_value: float = 100.0,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of finite floats in [min_value, max_value] (no NaN, no inf, no subnormals),
    drawn as a shape, a style (`seeded_array`) and a seed: one draw per array instead of one
    per element, which was most of a property's time."""
    dtype = np.dtype(dtype)
    if not np.isfinite(dtype.type(min_value)) or dtype.type(min_value) != min_value:
        raise ValueError(f"min_value={min_value} is not exactly a {dtype}")
    if not np.isfinite(dtype.type(max_value)) or dtype.type(max_value) != max_value:
        raise ValueError(f"max_value={max_value} is not exactly a {dtype}")
    if isinstance(shape, st.SearchStrategy):
        sizes = shape
    else:
        sizes = st.just((shape,) if isinstance(shape, int) else tuple(shape))
    return st.builds(
        lambda size, style, seed: seeded_array(size, style, seed, dtype, min_value, max_value),
        sizes, st.sampled_from(ARRAY_STYLES), st.integers(0, 2**32 - 1),
    )


# --- broadcasting -----------------------------------------------------------------------


@reused
def broadcastable_shapes(
    num_shapes: int = 2,
    *,
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 0,
    max_side: int = 4,
) -> st.SearchStrategy[tuple[tuple[Shape, ...], Shape]]:
    """``(input_shapes, result_shape)`` for shapes that broadcast together."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes,
        min_dims=min_dims,
        max_dims=max_dims,
        min_side=min_side,
        max_side=max_side,
    ).map(lambda b: (b.input_shapes, b.result_shape))


@st.composite
def non_broadcastable_shapes(draw: st.DrawFn, *, max_dims: int = 4) -> tuple[Shape, Shape]:
    """A pair of shapes that clash in at least one trailing-aligned dimension: two sizes
    that differ and are both not 1."""
    (a, b), _ = draw(broadcastable_shapes(2, min_dims=1, max_dims=max_dims, min_side=1))
    a, b = list(a), list(b)
    offset = draw(st.integers(1, min(len(a), len(b))))
    clash_a = draw(st.integers(2, 5))
    clash_b = draw(st.integers(2, 5).filter(lambda s: s != clash_a))
    a[-offset], b[-offset] = clash_a, clash_b
    return tuple(a), tuple(b)


# --- losses ---------------------------------------------------------------------------------


@reused
def class_targets(
    shape: Shape, num_classes: int, *, ignore_index: int | None = None
) -> st.SearchStrategy[np.ndarray]:
    """int64 class indices in [0, num_classes), mixed with ``ignore_index`` when it is given."""
    elements = st.integers(0, num_classes - 1)
    if ignore_index is not None:
        elements = elements | st.just(ignore_index)
    return hnp.arrays(dtype=np.int64, shape=shape, elements=elements)


# --- convolution ----------------------------------------------------------------------------


@reused
def window_params(
    *,
    max_size: int = 8,
    max_kernel: int = 4,
    max_stride: int = 3,
    max_padding: int = 3,
    max_dilation: int = 3,
) -> st.SearchStrategy[tuple[int, int, int, int, int]]:
    """``(size, kernel_size, stride, padding, dilation)`` of one spatial dim of a conv or
    pool, spanning the boundary where the output size drops below 1 (the kernel may be
    larger than the input, the padding larger than half the kernel)."""
    return st.tuples(
        st.integers(1, max_size),
        st.integers(1, max_kernel),
        st.integers(1, max_stride),
        st.integers(0, max_padding),
        st.integers(1, max_dilation),
    )


@reused
def exact_float_arrays(
    shape: Shape, dtype: np.dtype | type = np.float32, *, bound: int = 4
) -> st.SearchStrategy[np.ndarray]:
    """Float arrays of small integers in [-bound, bound]: sums of their products are exact in
    float32, so comparisons do not depend on the order a kernel accumulates in."""
    return hnp.arrays(np.int8, shape, elements=st.integers(-bound, bound)).map(
        lambda a: a.astype(dtype)
    )


# --- strides ----------------------------------------------------------------------------

ViewOp = tuple[str, tuple]  # (method name, positional args): `getattr(t, name)(*args)`


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


@st.composite
def reshape_targets(draw: st.DrawFn, shape: Shape, *, allow_infer: bool = True) -> Shape:
    """A shape with as many elements as ``shape``: adjacent dims merged, a dim split, size-1
    dims added or dropped, or the prime factors regrouped; sometimes one size is ``-1``."""
    numel = int(np.prod(shape))
    if numel == 0:
        sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
        sizes[draw(st.integers(0, len(sizes) - 1))] = 0
        return tuple(sizes)
    kind = draw(st.sampled_from(["merge", "split", "ones", "regroup"]))
    sizes = list(shape)
    if kind == "merge" and len(sizes) >= 2:
        i = draw(st.integers(0, len(sizes) - 2))
        sizes[i : i + 2] = [sizes[i] * sizes[i + 1]]
    elif kind == "split" and any(s > 1 for s in sizes):
        i = draw(st.sampled_from([i for i, s in enumerate(sizes) if s > 1]))
        head = draw(st.sampled_from([f for f in range(1, sizes[i] + 1) if sizes[i] % f == 0]))
        sizes[i : i + 1] = [head, sizes[i] // head]
    elif kind == "ones":
        sizes = [s for s in sizes if s != 1 or draw(st.booleans())]
        for _ in range(draw(st.integers(0, 2))):
            sizes.insert(draw(st.integers(0, len(sizes))), 1)
    else:
        factors = draw(st.permutations(_prime_factors(numel) + [1] * draw(st.integers(0, 2))))
        cuts = sorted(draw(st.lists(st.integers(0, len(factors)), max_size=3)))
        bounds = [0, *cuts, len(factors)]
        sizes = [int(np.prod(factors[a:b])) for a, b in zip(bounds, bounds[1:], strict=False)]
    if allow_infer and sizes and draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return tuple(sizes)


@st.composite
def _index_key(draw: st.DrawFn, shape: Shape) -> tuple:
    """A basic-indexing key: ints, slices with steps (bounds may be out of range), None, and
    ``...`` standing for the dims between the leading and the trailing entries."""
    head = draw(st.integers(0, len(shape)))
    tail = draw(st.integers(0, len(shape) - head)) if draw(st.booleans()) else None
    indexed = shape[:head] + (shape[len(shape) - tail :] if tail else ())
    entries: list = []
    for size in indexed:
        if size > 0 and draw(st.booleans()):
            entries.append(draw(st.integers(-size, size - 1)))
        else:
            bound = st.none() | st.integers(-size - 2, size + 2)
            entries.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, 3]))))
    if tail is not None:
        entries.insert(head, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        entries.insert(draw(st.integers(0, len(entries))), None)
    return tuple(entries)


@st.composite
def _view_op(draw: st.DrawFn, shape: Shape, max_numel: int) -> ViewOp:
    """One view op that is valid for a tensor of ``shape``."""
    ndim = len(shape)
    dims = st.integers(-max(ndim, 1), max(ndim, 1) - 1)
    names = "view reshape transpose permute unsqueeze squeeze flatten __getitem__ expand".split()
    names += ["contiguous"]
    names += ["t"] if ndim <= 2 else []
    names += ["select", "narrow", "unflatten", "unfold"] if ndim >= 1 else []
    names += ["diagonal"] if ndim >= 2 else []
    name = draw(st.sampled_from(names))
    if name in ("view", "reshape"):
        return name, (draw(reshape_targets(shape)),)
    if name == "transpose":
        return name, (draw(dims), draw(dims))
    if name == "permute":
        return name, (tuple(draw(st.permutations(range(ndim)))),)
    if name == "unsqueeze":
        return name, (draw(st.integers(-ndim - 1, ndim)),)
    if name == "squeeze":
        unique = st.lists(dims, max_size=2, unique_by=lambda x: x % max(ndim, 1)).map(tuple)
        return name, draw(st.just(()) | dims.map(lambda d: (d,)) | unique.map(lambda d: (d,)))
    if name == "flatten":
        a, b = sorted(draw(st.lists(st.integers(0, max(ndim - 1, 0)), min_size=2, max_size=2)))
        return name, (a - draw(st.sampled_from([0, ndim])), b)
    if name == "__getitem__":
        return name, (draw(_index_key(shape)),)
    if name == "expand":
        sizes = [
            draw(st.integers(0, 3)) if s == 1 else draw(st.sampled_from([s, -1])) for s in shape
        ]
        sizes = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))] + sizes
        lead = len(sizes) - len(shape)
        result = [s if s != -1 else shape[i - lead] for i, s in enumerate(sizes)]
        if int(np.prod(result)) > max_numel:
            sizes = [-1 if s != 1 else 1 for s in shape]  # too big: a no-op expand
        return name, (tuple(sizes),)
    if name in ("contiguous", "t"):
        return name, ()
    d = draw(st.integers(0, ndim - 1))
    size = shape[d]
    if name == "select":
        if size == 0:
            return "narrow", (d, 0, 0)
        return name, (d - draw(st.sampled_from([0, ndim])), draw(st.integers(-size, size - 1)))
    if name == "narrow":
        start = draw(st.integers(0, size))
        length = draw(st.integers(0, size - start))
        return name, (d, start - draw(st.sampled_from([0, size])) if start else 0, length)
    if name == "unflatten":
        if size == 0:
            return name, (d, (draw(st.integers(1, 3)), 0))
        head = draw(st.sampled_from([f for f in range(1, size + 1) if size % f == 0]))
        return name, (d, (head, draw(st.sampled_from([size // head, -1]))))
    if name == "unfold":
        window, step = draw(st.integers(0, size)), draw(st.integers(1, 3))
        rest = int(np.prod(shape[:d] + shape[d + 1 :]))
        if rest * ((size - window) // step + 1) * window > max_numel:
            window = size  # too many windows: a single one
        return name, (d, window, step)
    d2 = draw(st.integers(0, ndim - 1).filter(lambda x: x != d))
    return name, (draw(st.integers(-3, 3)), d, d2)


def apply_view_op(tensor, op: ViewOp):
    """Apply a ``strided_views`` op to a torch tensor or a ``StridedTensor``."""
    name, args = op
    return getattr(tensor, name)(*args)


@st.composite
def strided_views(
    draw: st.DrawFn, *, min_ops: int = 4, max_ops: int = 7, max_numel: int = 120
) -> tuple[tuple[Shape, int, int, int], list[ViewOp]]:
    """``(base, ops)``: a base layout and a chain of view ops, each valid where it is applied.

    ``base = (shape, step, offset, storage_size)``: the base tensor is elements
    ``offset, offset + step, ...`` of a storage of ``storage_size`` elements, viewed
    row-major as ``shape`` (step 2 is the non-contiguous layout of ``make_noncontiguous``).
    Ops may be impossible views (``view`` where only ``reshape`` works): tests check that
    both implementations refuse them, then go on with ``reshape``.
    """
    from reference.strides import StridedTensor, contiguous_strides

    shape = draw(shapes(max_dims=3, max_side=4))
    step, offset = draw(st.integers(1, 2)), draw(st.integers(0, 3))
    numel = int(np.prod(shape))
    size = offset + step * max(numel, 1) + draw(st.integers(0, 2))
    strides = tuple(step * s for s in contiguous_strides(shape))
    current = StridedTensor(np.zeros(size), shape, strides, offset)
    ops: list[ViewOp] = []
    for _ in range(draw(st.integers(min_ops, max_ops))):
        op = draw(_view_op(current.shape, max_numel))
        ops.append(op)
        if op[0] == "view":
            op = ("reshape", op[1])
        current = apply_view_op(current, op)
    return (shape, step, offset, size), ops
