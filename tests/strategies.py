"""Shared Hypothesis strategies. Each concept's own strategies sit in its section below.

Sizes stay small (sides up to 5, at most 4 dims) so a property's 100 examples run in well
under a second: the suite's budget is 120 s on 2 cores for every concept.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

Shape = tuple[int, ...]

FLOAT_DTYPES = (np.float32, np.float64)


def shapes(
    *, min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 5
) -> st.SearchStrategy[Shape]:
    """Array shapes, including 0-d and (when min_side is 0) zero-size dims."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def float_dtypes() -> st.SearchStrategy[np.dtype]:
    """float32 (torch's default) or float64 (for exact comparisons)."""
    return st.sampled_from(FLOAT_DTYPES).map(np.dtype)


def finite_arrays(
    shape: Shape | st.SearchStrategy[Shape],
    dtype: np.dtype | type = np.float64,
    *,
    min_value: float = -100.0,
    max_value: float = 100.0,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of finite floats in [min_value, max_value] (no NaN, no inf, no subnormals)."""
    elements = st.floats(
        min_value=min_value,
        max_value=max_value,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
        width=np.dtype(dtype).itemsize * 8,
    )
    return hnp.arrays(dtype=dtype, shape=shape, elements=elements)


# --- broadcasting -----------------------------------------------------------------------


def broadcastable_shapes(
    num_shapes: int = 2, *, min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 4
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
