"""BCAST: broadcasting, held to torch and to the reference (reference/broadcasting.py)."""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference.broadcasting import (
    broadcast_shapes,
    broadcast_strides,
    broadcast_to,
    sum_to_shape,
)
from tests.strategies import (
    broadcastable_shapes,
    finite_arrays,
    non_broadcastable_shapes,
    shapes,
)
from tests.support import assert_both_raise, assert_matches, to_torch


def assert_both_raise_naming(torch_call, reference_call, keyword, **errors):
    """Error parity with a stable keyword (a dim, a size, a name) in both messages."""
    torch_exc, _ = assert_both_raise(torch_call, reference_call, match=keyword, **errors)
    assert re.search(keyword, str(torch_exc)), f"{keyword!r} not in torch's {torch_exc!r}"

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


@pytest.mark.spec("BCAST-2", "BCAST-9")
@given(broadcastable_shapes(num_shapes=3, max_dims=2), st.lists(st.booleans(), min_size=3))
@example((((5, 1), (5,), ()), (5, 5)), [False, True, False])  # issue 15: (5, 1) with 5
@example((((0,), (1,), (1, 1)), (1, 0)), [True, True, False])
def test_an_int_argument_is_a_one_dim_shape(case, as_int):
    """`broadcast_shapes((5, 1), 5)`: each 1-D shape may be given as its int."""
    input_shapes, result_shape = case
    flags = as_int[: len(input_shapes)]
    args = [s[0] if len(s) == 1 and f else s for s, f in zip(input_shapes, flags, strict=True)]
    assert broadcast_shapes(*args) == result_shape
    assert tuple(torch.broadcast_shapes(*args)) == result_shape
    assert broadcast_shapes() == tuple(torch.broadcast_shapes()) == ()


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


def _elements(dtype: np.dtype) -> st.SearchStrategy:
    """Small ints (products stay in int32), or floats with NaN and +-inf mixed in."""
    if dtype.kind == "i":
        return st.integers(-100, 100)
    finite = st.floats(-100, 100, width=dtype.itemsize * 8, allow_subnormal=False)
    return finite | st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def broadcast_operands(draw, num_operands: int = 2, *, float64_only: bool = False):
    """Operands of one dtype (float32, float64, int32, int64, NaN and +-inf mixed into the
    floats; or, with ``float64_only``, finite float64 for the mathematical clauses) whose
    shapes broadcast, 0-d and empty included, and whether to lay them out non-contiguously."""
    (input_shapes, result_shape) = draw(broadcastable_shapes(num_shapes=num_operands))
    if float64_only:  # a gradient sums many products: float32 rounding is not the clause
        arrays = [draw(finite_arrays(shape, np.float64)) for shape in input_shapes]
    else:
        dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64, np.int32, np.int64])))
        arrays = [draw(hnp.arrays(dtype, s, elements=_elements(dtype))) for s in input_shapes]
    noncontiguous = draw(st.booleans())
    return arrays, result_shape, noncontiguous


def _operands(arrays, device, noncontiguous):
    return [to_torch(a, device, noncontiguous=noncontiguous) for a in arrays]


@pytest.mark.spec("BCAST-4")
@given(broadcast_operands())
@example(([np.array([np.inf, 1.0]), np.array([[-np.inf], [0.0]])], (2, 2), True))
@example(([np.zeros((0, 1), np.int32), np.ones(3, np.int32)], (0, 3), False))
def test_add_and_mul_broadcast_like_the_reference(device, case):
    (a, b), result_shape, noncontiguous = case
    ta, tb = _operands((a, b), device, noncontiguous)
    expanded_a = np.broadcast_to(a, broadcast_shapes(a.shape, b.shape))
    expanded_b = np.broadcast_to(b, broadcast_shapes(a.shape, b.shape))
    assert tuple((ta + tb).shape) == result_shape
    with np.errstate(invalid="ignore"):  # inf - inf, 0 * inf: NaN in both
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
    assert_both_raise_naming(
        lambda: torch.empty(source).expand(target),
        lambda: broadcast_strides(source, torch.empty(source).stride(), target),
        "non-singleton dimension",
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
        with pytest.raises(RuntimeError, match="broadcast shape"):
            a.add_(b)


# --- BCAST-7: backward through a broadcast ------------------------------------------------


@pytest.mark.spec("BCAST-7")
@given(broadcast_operands(float64_only=True))
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
    assert_both_raise_naming(
        lambda: torch.broadcast_shapes(a, b), lambda: broadcast_shapes(a, b), "(?i)broadcast"
    )
    with pytest.raises(ValueError, match=r"clash at dimension -\d+"):
        broadcast_shapes(a, b)
    assert_both_raise_naming(
        lambda: torch.zeros(a) + torch.zeros(b), lambda: broadcast_shapes(a, b), "size"
    )


@pytest.mark.spec("BCAST-8")
@given(shapes(min_dims=1))
def test_the_clash_message_names_the_dimension_and_sizes(shape):
    clashing = (*shape[:-1], shape[-1] + 2)
    other = (*shape[:-1], shape[-1] + 3)
    with pytest.raises(ValueError, match=rf"sizes {shape[-1] + 2} and {shape[-1] + 3} clash"):
        broadcast_shapes(clashing, other)


# The error inputs (OpInfo's error_inputs): (name, torch call on a device, reference call,
# torch's exception, reference's exception, keyword both messages contain on torch 2.4.1 to
# 2.14.1). torch.broadcast_shapes raised RuntimeError for a negative size before 2.11 (2.4.1)
# and ValueError since; its clash message names no sizes on 2.4.1.
VALUE = (RuntimeError, ValueError)
ERRORS = [
    ("shapes clash", lambda d: torch.broadcast_shapes((2, 3), (4,)),
     lambda: broadcast_shapes((2, 3), (4,)), RuntimeError, ValueError, "(?i)broadcast"),
    ("shapes negative", lambda d: torch.broadcast_shapes((2, -1)),
     lambda: broadcast_shapes((2, -1)), VALUE, ValueError, "negative"),
    ("int negative", lambda d: torch.broadcast_shapes(-1),
     lambda: broadcast_shapes(-1), VALUE, ValueError, "negative"),
    ("shape not ints", lambda d: torch.broadcast_shapes(2.5),
     lambda: broadcast_shapes(2.5), RuntimeError, TypeError, "ints"),
    ("size not int", lambda d: torch.broadcast_shapes((2.0,)),
     lambda: broadcast_shapes((2.0,)), TypeError, TypeError, "int"),
    ("add clash", lambda d: torch.zeros(2, 3, device=d) + torch.zeros(4, device=d),
     lambda: broadcast_shapes((2, 3), (4,)), RuntimeError, ValueError, r"3\D+4"),
    ("where clash", lambda d: torch.where(torch.ones(2, dtype=torch.bool, device=d),
                                          torch.zeros(3, device=d), 0.0),
     lambda: broadcast_shapes((2,), (3,), ()), RuntimeError, ValueError, r"2\D+3"),
    ("expand clash", lambda d: torch.zeros(3, device=d).expand(2),
     lambda: broadcast_strides((3,), (1,), (2,)), RuntimeError, ValueError,
     "non-singleton dimension 0"),
    ("broadcast_to clash", lambda d: torch.broadcast_to(torch.zeros(3, device=d), (2,)),
     lambda: broadcast_to(np.zeros(3), (2,)), RuntimeError, ValueError, r"\(2\)\D+\(3\)"),
    ("expand too few", lambda d: torch.zeros(3, 2, device=d).expand(3),
     lambda: broadcast_strides((3, 2), (2, 1), (3,)), RuntimeError, ValueError,
     "number of sizes"),
    ("expand leading -1", lambda d: torch.zeros(3, device=d).expand(-1, 3),
     lambda: broadcast_to(np.zeros(3), (-1, 3)), RuntimeError, ValueError, "leading"),
    ("sum_to_size", lambda d: torch.zeros(4, device=d).sum_to_size(1, 1),
     lambda: sum_to_shape(np.zeros(4), (1, 1)), RuntimeError, ValueError, "not expandable"),
]


@pytest.mark.spec("BCAST-5", "BCAST-7", "BCAST-8", "BCAST-9")
@pytest.mark.parametrize(
    ("torch_call", "reference_call", "torch_error", "reference_error", "keyword"),
    [e[1:] for e in ERRORS],
    ids=[e[0] for e in ERRORS],
)
def test_invalid_inputs_raise_in_both(
    device, torch_call, reference_call, torch_error, reference_error, keyword
):
    assert_both_raise_naming(
        lambda: torch_call(device),
        reference_call,
        keyword,
        torch_error=torch_error,
        reference_error=reference_error,
    )


@pytest.mark.spec("BCAST-5")
@given(expand_cases(), st.booleans())
def test_broadcast_to_is_expand(case, minus_one):
    source_shape, _, target_shape = case
    target = list(target_shape)
    lead = len(target) - len(source_shape)
    if minus_one and source_shape:  # -1 keeps an existing dim's size
        target[lead] = -1
    array = np.arange(int(np.prod(source_shape)), dtype=np.float64).reshape(source_shape)
    expected = broadcast_to(array, target)
    assert expected.shape == tuple(source_shape[0] if s == -1 else s for s in target)
    assert_matches(torch.broadcast_to(torch.from_numpy(array), target), expected)


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


# --- BCAST-10: loss functions and broadcasting -----------------------------------------------


@pytest.mark.spec("BCAST-10")
@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss])
@pytest.mark.parametrize("n", [1, 3])
def test_elementwise_losses_warn_and_broadcast_a_target_of_another_shape(device, loss, n):
    """(N, 1) input, (N,) target: a UserWarning naming both sizes, then the loss of the
    operands broadcast to (N, N), for every reduction."""
    prediction = np.linspace(-1.0, 1.0, n).reshape(n, 1)
    target = np.linspace(0.5, 2.0, n)
    stretched = [to_torch(broadcast_to(a, (n, n)).copy(), device) for a in (prediction, target)]
    for reduction in ("mean", "sum", "none"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = loss(to_torch(prediction, device), to_torch(target, device), reduction=reduction)
        messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        assert any("target size" in m and "input size" in m for m in messages), messages
        expected = loss(*stretched, reduction=reduction)
        assert tuple(got.shape) == tuple(expected.shape)
        assert_matches(got, expected.cpu().numpy())
    assert broadcast_shapes((n, 1), (n,)) == (n, n)


@pytest.mark.spec("BCAST-10")
@pytest.mark.parametrize("loss", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_binary_cross_entropy_losses_refuse_a_target_of_another_shape(device, loss):
    with pytest.raises(ValueError, match="size"):
        loss(torch.full((3, 1), 0.5, device=device), torch.zeros(3, device=device))
    assert loss(torch.full((3, 1), 0.5, device=device), torch.zeros(3, 1, device=device)).ndim == 0
