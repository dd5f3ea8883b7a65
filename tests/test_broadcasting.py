"""BCAST: broadcasting, held to torch and to the reference (reference/broadcasting.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from reference.broadcasting import broadcast_shapes, broadcast_strides, sum_to_shape
from tests.strategies import (
    broadcastable_shapes,
    finite_arrays,
    float_dtypes,
    non_broadcastable_shapes,
    shapes,
)
from tests.support import assert_both_raise, assert_matches, to_torch

# --- BCAST-1, BCAST-2: which shapes broadcast, and to what ----------------------------------


@pytest.mark.spec("BCAST-1", "BCAST-2")
@given(broadcastable_shapes(num_shapes=2))
@example((((5, 3, 4, 1), (3, 1, 1)), (5, 3, 4, 1)))  # notes, example 3
@example((((), (2, 3)), (2, 3)))  # a 0-d tensor broadcasts with anything
@example((((1,), (0,)), (0,)))  # size 1 stretches to 0
def test_broadcast_shapes_matches_torch(case):
    input_shapes, result_shape = case
    assert broadcast_shapes(*input_shapes) == result_shape
    assert tuple(torch.broadcast_shapes(*input_shapes)) == result_shape


@pytest.mark.spec("BCAST-2")
@given(broadcastable_shapes(num_shapes=2))
def test_result_size_is_the_non_one_size_per_dim(case):
    (a, b), _ = case
    result = broadcast_shapes(a, b)
    assert len(result) == max(len(a), len(b))
    for i in range(1, len(result) + 1):
        sizes = {s[-i] for s in (a, b) if len(s) >= i} - {1}
        assert result[-i] == (sizes.pop() if sizes else 1)


@pytest.mark.spec("BCAST-3")
@given(broadcastable_shapes(num_shapes=3))
def test_nary_broadcasting_is_associative_and_commutative(case):
    input_shapes, result_shape = case
    a, b, c = input_shapes
    assert broadcast_shapes(broadcast_shapes(a, b), c) == result_shape
    assert broadcast_shapes(a, broadcast_shapes(b, c)) == result_shape
    for order in itertools.permutations(input_shapes):
        assert broadcast_shapes(*order) == result_shape
        assert tuple(torch.broadcast_shapes(*order)) == result_shape


# --- BCAST-4: element-wise ops broadcast their operands -----------------------------------


@st.composite
def broadcast_operands(draw, num_operands: int = 2):
    (input_shapes, result_shape) = draw(broadcastable_shapes(num_shapes=num_operands))
    dtype = draw(float_dtypes())
    arrays = [draw(finite_arrays(shape, dtype)) for shape in input_shapes]
    noncontiguous = draw(st.booleans())
    return arrays, result_shape, noncontiguous


def _operands(arrays, device, noncontiguous):
    return [to_torch(a, device, noncontiguous=noncontiguous) for a in arrays]


@pytest.mark.spec("BCAST-4")
@given(broadcast_operands())
def test_add_and_mul_broadcast_like_the_reference(device, case):
    (a, b), result_shape, noncontiguous = case
    ta, tb = _operands((a, b), device, noncontiguous)
    expanded_a = np.broadcast_to(a, broadcast_shapes(a.shape, b.shape))
    expanded_b = np.broadcast_to(b, broadcast_shapes(a.shape, b.shape))
    assert tuple((ta + tb).shape) == result_shape
    assert_matches(ta + tb, expanded_a + expanded_b)
    assert_matches(ta * tb, expanded_a * expanded_b)


@pytest.mark.spec("BCAST-4")
@given(broadcast_operands(num_operands=3))
def test_where_broadcasts_all_three_arguments(device, case):
    (cond_values, x, y), result_shape, noncontiguous = case
    cond = cond_values > 0
    tcond = to_torch(cond, device)
    tx, ty = _operands((x, y), device, noncontiguous)
    out = torch.where(tcond, tx, ty)
    assert tuple(out.shape) == result_shape
    assert_matches(out, np.where(cond, x, y))


# --- BCAST-5: broadcasting is a stride-0 view --------------------------------------------


@st.composite
def expand_cases(draw):
    """A source layout (shape, and the order its dims are laid out in memory) and a target
    shape it expands to: a suffix of the target with some dims replaced by 1."""
    target_shape = draw(shapes(max_dims=4, max_side=3))
    ndim = draw(st.integers(0, len(target_shape)))
    suffix = target_shape[len(target_shape) - ndim :]
    source_shape = tuple(1 if draw(st.booleans()) else s for s in suffix)
    permutation = tuple(draw(st.permutations(range(ndim))))
    return source_shape, permutation, target_shape


@pytest.mark.spec("BCAST-5")
@given(expand_cases())
@example(((3, 1), (0, 1), (4, 3, 5)))
@example(((), (), (1, 2)))
def test_expand_is_a_stride0_view_sharing_storage(device, case):
    source_shape, permutation, target_shape = case
    # Lay the source out in a permuted order so its strides are not the contiguous ones.
    inverse = tuple(np.argsort(permutation)) if permutation else ()
    base = torch.arange(
        int(np.prod(source_shape)), dtype=torch.float64, device=device
    ).reshape(tuple(source_shape[p] for p in permutation))
    source = base.permute(*inverse) if inverse else base
    expanded = source.expand(target_shape)
    assert tuple(expanded.shape) == target_shape
    assert expanded.stride() == broadcast_strides(source.shape, source.stride(), target_shape)
    assert expanded.untyped_storage().data_ptr() == source.untyped_storage().data_ptr()
    assert expanded.storage_offset() == source.storage_offset()
    assert_matches(expanded, np.broadcast_to(source.cpu().numpy(), target_shape))
    for dim, (old, new) in enumerate(
        zip(
            (1,) * (len(target_shape) - len(source_shape)) + source_shape, target_shape, strict=True
        )
    ):
        if old == 1 and new != 1:
            assert expanded.stride(dim) == 0


@pytest.mark.spec("BCAST-5")
def test_expanded_view_sees_writes_to_the_base(device):
    base = torch.zeros(3, 1, device=device)
    view = base.expand(3, 4)
    base[1, 0] = 7.0
    assert view[1].tolist() == [7.0] * 4


@pytest.mark.spec("BCAST-5", "BCAST-8")
@given(non_broadcastable_shapes())
def test_expand_rejects_a_non_singleton_change(pair):
    source, target = pair
    if len(target) < len(source):
        source, target = target, source
    assert_both_raise(
        lambda: torch.empty(source).expand(target),
        lambda: broadcast_strides(source, torch.empty(source).stride(), target),
        match="non-singleton dimension",
    )


# --- BCAST-6: in-place ops may not grow self -------------------------------------------


@pytest.mark.spec("BCAST-6")
@given(broadcastable_shapes(num_shapes=2))
def test_inplace_op_requires_the_result_shape_to_be_self_shape(device, case):
    (self_shape, other_shape), result_shape = case
    a = torch.zeros(self_shape, device=device)
    b = torch.ones(other_shape, device=device)
    if result_shape == tuple(self_shape):
        assert a.add_(b) is a
        assert tuple(a.shape) == tuple(self_shape)
    else:
        with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
            a.add_(b)


# --- BCAST-7: backward through a broadcast ------------------------------------------------


@pytest.mark.spec("BCAST-7")
@given(broadcast_operands())
def test_gradient_of_a_broadcast_input_is_summed_back(device, case):
    (a, b), result_shape, _ = case
    ta = to_torch(a, device, requires_grad=True)
    tb = to_torch(b, device, requires_grad=True)
    upstream = np.linspace(-1.0, 1.0, num=int(np.prod(result_shape))).reshape(result_shape)
    (ta * tb).backward(to_torch(upstream.astype(a.dtype), device))
    expanded_b = np.broadcast_to(b, result_shape)
    expanded_a = np.broadcast_to(a, result_shape)
    assert_matches(ta.grad, sum_to_shape(upstream * expanded_b, a.shape), check_dtype=False)
    assert_matches(tb.grad, sum_to_shape(upstream * expanded_a, b.shape), check_dtype=False)


@pytest.mark.spec("BCAST-7")
@given(broadcastable_shapes(num_shapes=2), st.data())
def test_sum_to_shape_matches_sum_to_size(case, data):
    (small, _), result_shape = case
    array = data.draw(finite_arrays(result_shape, np.float64))
    expected = sum_to_shape(array, small)
    assert expected.shape == tuple(small)
    assert_matches(torch.from_numpy(array).sum_to_size(small), expected)


@pytest.mark.spec("BCAST-7")
def test_sum_to_shape_sums_exactly_the_stretched_dims():
    grad = np.arange(24.0).reshape(2, 3, 4)
    assert sum_to_shape(grad, (3, 1)).tolist() == [[0 + 1 + 2 + 3 + 12 + 13 + 14 + 15],
                                                    [4 + 5 + 6 + 7 + 16 + 17 + 18 + 19],
                                                    [8 + 9 + 10 + 11 + 20 + 21 + 22 + 23]]
    assert (sum_to_shape(grad, (2, 3, 4)) == grad).all()
    assert sum_to_shape(grad, ()).item() == 276.0


# --- BCAST-8: rejection ------------------------------------------------------------------


@pytest.mark.spec("BCAST-8")
@given(non_broadcastable_shapes())
@example(((5, 2, 4, 1), (3, 1, 1)))  # notes, examples 4 and 7
@example(((0,), (2, 2)))  # notes, example 2
def test_non_broadcastable_shapes_are_rejected_by_both(pair):
    a, b = pair
    assert_both_raise(
        lambda: torch.broadcast_shapes(a, b),
        lambda: broadcast_shapes(a, b),
        match=r"clash at dimension -\d+",
    )
    assert_both_raise(
        lambda: torch.zeros(a) + torch.zeros(b),
        lambda: broadcast_shapes(a, b),
        match="not broadcastable",
    )


@pytest.mark.spec("BCAST-8")
@given(shapes(min_dims=1))
def test_the_clash_message_names_the_dimension_and_sizes(shape):
    clashing = (*shape[:-1], shape[-1] + 2)
    other = (*shape[:-1], shape[-1] + 3)
    with pytest.raises(ValueError, match=rf"sizes {shape[-1] + 2} and {shape[-1] + 3} clash"):
        broadcast_shapes(clashing, other)


@pytest.mark.spec("BCAST-7")
def test_sum_to_shape_rejects_a_shape_that_does_not_expand():
    assert_both_raise(
        lambda: torch.zeros(4).sum_to_size(1, 1),
        lambda: sum_to_shape(np.zeros(4), (1, 1)),
        match="not expandable",
    )


# --- the notes' examples 1-7 (notes 001, "broadcast mechanism") ---------------------------

NOTES_EXAMPLES = [
    # (x shape, y shape, result shape or None when not broadcastable)
    ((5, 7, 3), (5, 7, 3), (5, 7, 3)),  # 1: same shapes always broadcast
    ((0,), (2, 2), None),  # 2: not broadcastable (size 0 meets 2; see BCAST-1)
    ((5, 3, 4, 1), (3, 1, 1), (5, 3, 4, 1)),  # 3
    ((5, 2, 4, 1), (3, 1, 1), None),  # 4: third dim from the end, 2 != 3
    ((5, 1, 4, 1), (3, 1, 1), (5, 3, 4, 1)),  # 5
    ((1,), (3, 1, 7), (3, 1, 7)),  # 6
    ((5, 2, 4, 1), (3, 1, 1), None),  # 7
]


@pytest.mark.spec("BCAST-1", "BCAST-2", "BCAST-8")
@pytest.mark.parametrize(("x", "y", "expected"), NOTES_EXAMPLES)
def test_notes_examples(x, y, expected):
    if expected is None:
        with pytest.raises(RuntimeError):
            torch.empty(x) + torch.empty(y)
        with pytest.raises(ValueError):
            broadcast_shapes(x, y)
    else:
        assert tuple((torch.empty(x) + torch.empty(y)).size()) == expected
        assert broadcast_shapes(x, y) == expected


@pytest.mark.spec("BCAST-1")
def test_zero_dim_tensors_broadcast_today():
    """The notes' rule 'each tensor has at least one dimension' is no longer true."""
    assert tuple((torch.tensor(2.0) + torch.ones(2, 3)).shape) == (2, 3)
    assert broadcast_shapes((), (2, 3)) == (2, 3)
