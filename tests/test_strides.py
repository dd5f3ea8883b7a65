"""STRIDE: storage, strides and views, held to torch and to the reference (reference/strides.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from reference.strides import (
    StridedTensor,
    contiguous_strides,
    element_offset,
    is_contiguous,
    tensor,
    view_strides,
)
from tests.strategies import (
    apply_view_op,
    reshape_targets,
    shapes,
    strided_views,
)
from tests.support import assert_both_raise, assert_matches, make_noncontiguous, to_torch


def _ptr(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _layout(t) -> tuple:
    return tuple(t.shape), tuple(t.stride()), t.storage_offset()


def _pair(base, device):
    """The base of a `strided_views` chain in both implementations, over `arange` storages."""
    shape, step, offset, size = base
    strides = tuple(step * s for s in torch.empty(shape).stride())
    flat = torch.arange(size, dtype=torch.float64, device=device)
    storage = np.arange(size, dtype=np.float64)
    return (
        flat,
        flat.as_strided(shape, strides, offset),
        storage,
        StridedTensor(storage, shape, strides, offset),
    )


def _step(t, r, op):
    """Apply a view op to both. A `view` torch refuses must be refused by the reference too;
    the chain then goes on with `reshape`."""
    try:
        t_next = apply_view_op(t, op)
    except RuntimeError:
        assert op[0] == "view"
        with pytest.raises(ValueError, match="not compatible"):
            apply_view_op(r, op)
        op = ("reshape", op[1])
        t_next = apply_view_op(t, op)
    return t_next, apply_view_op(r, op)


def _chain(chain, device):
    """Run a chain, checking layout, values and storage sharing after every op."""
    base, ops = chain
    flat, t, storage, r = _pair(base, device)
    views = [(t, r)]
    for op in ops:
        t, r = _step(t, r, op)
        assert _layout(t) == _layout(r), op
        assert_matches(t, r.numpy())
        assert (_ptr(t) == _ptr(flat)) == (r.storage is storage), op
        views.append((t, r))
    return flat, storage, views


# Pinned chains: stride-0 dims, stepped slices, size-1 dims whose strides torch sets by rule.
EXPAND_SLICE_CHAIN = (
    ((3, 1), 1, 0, 3),
    [
        ("expand", ((2, 3, 4),)),
        ("__getitem__", ((slice(None), slice(None, None, 2), None),)),
        ("transpose", (0, 2)),
        ("unsqueeze", (1,)),
        ("view", ((-1,),)),
    ],
)
TRANSPOSED_ONES_CHAIN = (  # merging across a size-1 dim whose stride is "wrong"
    ((2, 3), 1, 0, 6),
    [("unsqueeze", (-1,)), ("transpose", (1, 2)), ("view", ((6,),)), ("view", ((3, 1, 2),))],
)
SIZE_ONE_CHAIN = (
    ((2, 1, 3), 2, 1, 14),
    [
        ("unsqueeze", (-1,)),
        ("view", ((1, 2, 3, 1),)),
        ("expand", ((1, 1, 2, 3, 1),)),
        ("squeeze", ((1,),)),
        ("diagonal", (0, 0, 2)),
    ],
)

# --- STRIDE-1: the address formula ----------------------------------------------------------


@pytest.mark.spec("STRIDE-1")
@given(shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_elements_live_at_offset_plus_index_dot_strides(device, shape, data):
    array = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)  # distinct values
    nc = make_noncontiguous(to_torch(array, device))
    flat = torch.empty(0, dtype=nc.dtype, device=device).set_(nc.untyped_storage())
    storage = flat.cpu().numpy()
    reference = StridedTensor(storage, nc.shape, nc.stride(), nc.storage_offset())
    np.testing.assert_array_equal(reference.numpy(), array)
    if array.size:
        index = tuple(data.draw(st.integers(0, n - 1)) for n in array.shape)
        position = element_offset(index, nc.stride(), nc.storage_offset())
        assert nc[index].storage_offset() == position
        assert storage[position] == array[index]


# --- STRIDE-2: contiguity -------------------------------------------------------------------


@pytest.mark.spec("STRIDE-2")
@given(shapes())
@example((2, 0, 3))  # a 0 counts as 1: strides (3, 3, 1)
def test_contiguous_strides_are_suffix_products(shape):
    assert contiguous_strides(shape) == torch.empty(shape).stride()
    assert is_contiguous(shape, contiguous_strides(shape))


@pytest.mark.spec("STRIDE-2")
@given(
    shapes(max_dims=3, max_side=3).flatmap(
        lambda s: st.tuples(st.just(s), st.tuples(*[st.integers(0, 7)] * len(s)))
    )
)
@example(((2, 1, 3), (3, 99, 1)))  # a size-1 dim's stride is ignored
@example(((2, 0), (5, 7)))  # empty tensors are contiguous
@example(((2, 3), (1, 2)))  # a transpose is not
def test_is_contiguous_matches_torch(layout):
    shape, strides = layout
    t = torch.empty(200).as_strided(shape, strides)
    assert is_contiguous(shape, strides) == t.is_contiguous()


# --- STRIDE-3..7: random chains of view ops -------------------------------------------------


@pytest.mark.spec("STRIDE-3", "STRIDE-4", "STRIDE-5", "STRIDE-6", "STRIDE-7")
@given(strided_views())
@example(EXPAND_SLICE_CHAIN)
@example(SIZE_ONE_CHAIN)
@example(TRANSPOSED_ONES_CHAIN)
def test_view_chains_match_torch(device, chain):
    """Size, stride (exactly, size-1 dims included), offset, values and sharing agree after
    every op of a chain of at least four."""
    _chain(chain, device)


@pytest.mark.spec("STRIDE-6")
@given(strided_views(min_ops=0, max_ops=3), st.data())
def test_view_raises_exactly_when_view_strides_is_none(device, chain, data):
    _, views = _chain(chain, device)[1:]
    t, r = views[-1]
    shape = data.draw(reshape_targets(tuple(t.shape)))
    strides = view_strides(t.shape, t.stride(), shape)
    if strides is None:
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            t.view(shape)
        with pytest.raises(ValueError, match="view size is not compatible"):
            r.view(shape)
    else:
        assert t.view(shape).stride() == strides
        assert _ptr(t.view(shape)) == _ptr(t)


@st.composite
def arbitrary_layouts(draw):
    """Any (shape, strides) with strides in 0..6, overlapping and size-1 dims included, and a
    shape with the same number of elements."""
    shape = draw(shapes(max_dims=4, max_side=3))
    strides = tuple(draw(st.integers(0, 6)) for _ in shape)
    return shape, strides, draw(reshape_targets(shape))


@pytest.mark.spec("STRIDE-6")
@given(arbitrary_layouts())
@example(((2, 1, 3), (3, 1, 1), (6,)))  # a size-1 dim's stride does not split a chunk
@example(((2, 1, 3), (3, 99, 1), (3, 2, 1)))
@example(((2, 2), (0, 1), (4,)))  # an expanded dim is its own chunk
@example(((0, 3), (5, 7), (3, 0)))  # empty: strides of a resize
def test_view_strides_matches_torch_on_arbitrary_layouts(layout):
    shape, strides, new_shape = layout
    t = torch.empty(400).as_strided(shape, strides)
    expected = view_strides(shape, strides, new_shape)
    try:
        actual = t.view(new_shape).stride()
    except RuntimeError as error:
        assert "view size is not compatible" in str(error)
        actual = None
    assert actual == expected


@pytest.mark.spec("STRIDE-7")
@given(strided_views(min_ops=0, max_ops=3), st.data())
def test_reshape_copies_exactly_when_no_view_exists(device, chain, data):
    _, views = _chain(chain, device)[1:]
    t, r = views[-1]
    shape = data.draw(reshape_targets(tuple(t.shape)))
    copies = view_strides(t.shape, t.stride(), shape) is None
    reshaped, reshaped_r = t.reshape(shape), r.reshape(shape)
    assert (_ptr(reshaped) != _ptr(t)) == copies == (reshaped_r.storage is not r.storage)
    assert _layout(reshaped) == _layout(reshaped_r)
    assert_matches(reshaped, reshaped_r.numpy())


@pytest.mark.spec("STRIDE-2", "STRIDE-7")
@given(strided_views(min_ops=0, max_ops=3))
def test_contiguous_copies_only_when_not_contiguous(device, chain):
    _, views = _chain(chain, device)[1:]
    t, r = views[-1]
    assert t.is_contiguous() == r.is_contiguous()
    c, c_r = t.contiguous(), r.contiguous()
    assert (c is t) == t.is_contiguous() == (c_r is r)
    if not t.is_contiguous():
        assert _ptr(c) != _ptr(t) and c_r.storage is not r.storage
        assert _layout(c) == (tuple(t.shape), torch.empty(t.shape).stride(), 0)
    assert _layout(c) == _layout(c_r)
    assert_matches(c, c_r.numpy())


@pytest.mark.spec("STRIDE-7")
@given(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_contiguous_of_a_noncontiguous_tensor_is_a_compact_copy(device, shape):
    array = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    nc = make_noncontiguous(to_torch(array, device))
    c = nc.contiguous()
    assert (c is nc) == (array.size < 2)
    assert c.stride() == contiguous_strides(array.shape)
    assert_matches(c, tensor(array).contiguous().numpy())


# --- STRIDE-8: writes through views ---------------------------------------------------------


def _has_overlap(t: torch.Tensor) -> bool:
    slots = torch.arange(t.untyped_storage().nbytes() // t.element_size(), device=t.device)
    addresses = slots.as_strided(t.shape, t.stride(), t.storage_offset())
    return addresses.unique().numel() < addresses.numel()


@pytest.mark.spec("STRIDE-8", "STRIDE-9")
@given(strided_views(), st.sampled_from(["fill_", "add_", "copy_", "setitem"]))
@example(EXPAND_SLICE_CHAIN, "fill_")
@example(SIZE_ONE_CHAIN, "copy_")
def test_a_write_through_any_view_shows_in_the_base_and_every_view(device, chain, how):
    flat, storage, views = _chain(chain, device)
    t, r = views[-1]
    if _has_overlap(t):  # elements sharing a slot: only a fill has a defined result
        how = "fill_"
    src = -1.0 - np.arange(r.numel(), dtype=np.float64).reshape(r.shape)
    if how == "fill_":
        assert t.fill_(-7.0) is t and r.fill_(-7.0) is r
    elif how == "add_":
        assert t.add_(1000.0) is t and r.add_(1000.0) is r
    elif how == "copy_":
        assert t.copy_(to_torch(src, device)) is t and r.copy_(src) is r
    else:
        t[...] = to_torch(src, device)
        r[...] = src
    assert_matches(flat, storage)
    for t_view, r_view in views:
        assert_matches(t_view, r_view.numpy())
    if r.storage is storage and r.numel():
        assert not np.array_equal(storage, np.arange(storage.size))  # the base changed


@pytest.mark.spec("STRIDE-8")
def test_notes_view_write_through(device):
    """notes 000: `b = t.view(2, 8); b[0][0] = 3.14` changes `t[0][0]`."""
    t = torch.rand(4, 4, device=device)
    b = t.view(2, 8)
    assert _ptr(t) == _ptr(b)
    b[0][0] = 3.14
    assert t[0][0] == torch.tensor(3.14)
    r = tensor(np.random.default_rng(0).random((4, 4), dtype=np.float32))
    rb = r.view(2, 8)
    assert rb.storage is r.storage
    rb[0][0] = 3.14
    assert r[0][0].numpy() == np.float32(3.14)


# --- STRIDE-9: in-place ops ------------------------------------------------------------------

INPLACE = {
    "fill_": (2.5,),
    "zero_": (),
    "add_": (3.0,),
    "mul_": (-2.0,),
    "copy_": (np.full(4, 9.0),),
}


@pytest.mark.spec("STRIDE-9")
@given(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.sampled_from(sorted(INPLACE)))
def test_inplace_methods_return_self_and_mutate_the_shared_storage(device, shape, name):
    shape = (*shape[:-1], 4)
    values = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    t, r = to_torch(values, device), tensor(values)
    t_view, r_view = t.view(-1), r.view(-1)
    args = INPLACE[name]
    t_args = tuple(to_torch(a, device) if isinstance(a, np.ndarray) else a for a in args)
    assert getattr(t, name)(*t_args) is t
    assert getattr(r, name)(*args) is r
    assert_matches(t, r.numpy())
    assert_matches(t_view, r_view.numpy())
    assert not np.array_equal(r_view.numpy(), values.reshape(-1))


@pytest.mark.spec("STRIDE-9", "STRIDE-12")
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_ops_on_a_stride0_view(device, name):
    """fill_ and zero_ may write an expanded view; ops that read it (add_, mul_, copy_) raise."""
    t = torch.zeros(1, 4, dtype=torch.float64, device=device)
    r = tensor(np.zeros((1, 4)))
    args = INPLACE[name]
    t_args = tuple(to_torch(a, device) if isinstance(a, np.ndarray) else a for a in args)
    if name in ("fill_", "zero_"):
        getattr(t.expand(3, 4), name)(*t_args)
        getattr(r.expand(3, 4), name)(*args)
        assert_matches(t, r.numpy())
    else:
        assert_both_raise(
            lambda: getattr(t.expand(3, 4), name)(*t_args),
            lambda: getattr(r.expand(3, 4), name)(*args),
            match="more than one element",
        )


@pytest.mark.spec("STRIDE-9", "STRIDE-12")
def test_item_assignment_into_a_stride0_view_raises(device):
    t = torch.zeros(1, 4, device=device)
    r = tensor(np.zeros((1, 4), dtype=np.float32))
    assert_both_raise(
        lambda: t.expand(3, 4).__setitem__(..., 1.0),
        lambda: r.expand(3, 4).__setitem__(..., 1.0),
        match="more than one element",
    )
    t.expand(3, 4)[0] = 1.0  # one row of the expanded view has no overlap: allowed
    r.expand(3, 4)[0] = 1.0
    assert_matches(t, r.numpy())


# --- STRIDE-10: copy versus share (CPU) ------------------------------------------------------


@pytest.mark.spec("STRIDE-10")
def test_torch_tensor_and_new_tensor_copy():
    source = np.arange(4.0)
    copied, new = torch.tensor(source), torch.zeros(1).new_tensor(source)
    reference = tensor(source)
    source[0] = 99.0
    assert copied[0] == 0.0 and new[0] == 0.0 and reference.numpy()[0] == 0.0


@pytest.mark.spec("STRIDE-10")
@pytest.mark.parametrize("convert", [torch.as_tensor, torch.from_numpy])
def test_as_tensor_and_from_numpy_share_with_numpy(convert):
    source = np.arange(4.0)
    t = convert(source)
    source[0] = 99.0
    t[1] = -1.0
    assert t[0] == 99.0 and source[1] == -1.0


@pytest.mark.spec("STRIDE-10")
def test_numpy_shares_with_the_tensor():
    t = torch.arange(4.0)
    array = t.numpy()
    t[0] = 99.0
    array[1] = -1.0
    assert array[0] == 99.0 and t[1] == -1.0


@pytest.mark.spec("STRIDE-10")
def test_clone_copies_and_keeps_history_detach_shares_and_drops_it():
    x = torch.ones(3, requires_grad=True)
    y = x.clone()
    assert _ptr(y) != _ptr(x)
    assert y.requires_grad and type(y.grad_fn).__name__ == "CloneBackward0"
    (2 * y).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    d = x.detach()
    assert _ptr(d) == _ptr(x)
    assert not d.requires_grad and d.grad_fn is None
    d[0] = 5.0
    assert x[0].item() == 5.0
    r = tensor(np.ones(3))
    assert r.clone().storage is not r.storage


# --- STRIDE-11: len, dim, numel, shape -------------------------------------------------------


@pytest.mark.spec("STRIDE-11")
@given(shapes(min_dims=1))
def test_len_dim_numel_and_shape(device, shape):
    t = torch.zeros(shape, device=device)
    r = tensor(np.zeros(shape))
    assert len(t) == len(r) == shape[0] == t.size(0) == r.size(0)
    assert t.dim() == r.dim() == len(shape)
    assert t.numel() == r.numel() == int(np.prod(shape))
    assert t.shape == t.size() == r.shape == r.size() == shape


@pytest.mark.spec("STRIDE-1", "STRIDE-3", "STRIDE-11")
def test_notes_points_example():
    """notes 001: the storage of `points` starts with 4.0; `points[1]` has offset 2, size (2,)
    and stride (1,); the transpose has stride (1, 2) and shares the storage."""
    points = torch.tensor([[4.0, 1.0], [5.0, 3.0], [2.0, 1.0]])
    with warnings.catch_warnings():  # `.storage()` (as in the notes) is deprecated
        warnings.simplefilter("ignore", UserWarning)
        assert points.storage()[0] == 4.0
    r = tensor([[4.0, 1.0], [5.0, 3.0], [2.0, 1.0]])
    assert r.storage[0] == 4.0
    for p in (points, r):
        second = p[1]
        assert (second.storage_offset(), tuple(second.size()), second.stride()) == (2, (2,), (1,))
        assert p.t().stride() == (1, 2) and p.t().storage_offset() == 0
        assert len(p) == 3 and p.dim() == 2
    assert _ptr(points.t()) == _ptr(points) and r.t().storage is r.storage
    assert r[1].tolist() == [5.0, 3.0] and r.t().tolist() == [[4.0, 5.0, 2.0], [1.0, 3.0, 1.0]]


# --- STRIDE-12: errors ------------------------------------------------------------------------

VALUE = (RuntimeError, ValueError)  # torch's RuntimeError is the reference's ValueError
ERRORS = [
    ("view numel", lambda x: x.view(5, -1), VALUE, "invalid for input of size 12"),
    ("view two -1", lambda x: x.view(-1, -1), VALUE, "only one dimension can be inferred"),
    ("view negative", lambda x: x.view(-2, 6), VALUE, "invalid shape dimension -2"),
    ("view strides", lambda x: x.t().view(12), VALUE, "not compatible"),
    ("reshape numel", lambda x: x.reshape(5, 3), VALUE, "invalid for input of size 12"),
    ("expand clash", lambda x: x.expand(2, 3), VALUE, "non-singleton dimension 1"),
    ("expand too few", lambda x: x.expand(4), VALUE, "number of sizes provided"),
    ("expand leading -1", lambda x: x.expand(-1, 3, 4), VALUE, "leading, non-existing"),
    ("expand negative", lambda x: x.expand(-2, 3, 4), VALUE, "negative size"),
    ("transpose dim", lambda x: x.transpose(0, 2), IndexError, "Dimension out of range"),
    ("permute length", lambda x: x.permute(0), VALUE, "number of dims"),
    ("permute duplicate", lambda x: x.permute(1, 1), VALUE, "duplicate dims"),
    ("t of 3-D", lambda x: x.view(3, 2, 2).t(), VALUE, "<= 2 dimensions"),
    ("select index", lambda x: x.select(0, 3), IndexError, "index 3 is out of bounds"),
    ("select 0-d", lambda x: x[0, 0].select(0, 0), IndexError, "0-dim"),
    ("getitem index", lambda x: x[-4], IndexError, "index -4 is out of bounds"),
    ("getitem too many", lambda x: x[0, 0, 0], IndexError, "too many indices"),
    ("getitem 0-d", lambda x: x[0, 0][0], IndexError, "0-dim"),
    ("slice step 0", lambda x: x[::0], ValueError, "step cannot be zero"),
    ("slice negative step", lambda x: x[::-1], ValueError, "step must be greater than zero"),
    ("narrow past end", lambda x: x.narrow(0, 2, 2), VALUE, "exceeds dimension size"),
    ("narrow length", lambda x: x.narrow(0, 0, -1), VALUE, "length must be non-negative"),
    ("narrow start", lambda x: x.narrow(0, 5, 0), IndexError, "start out of range"),
    ("narrow 0-d", lambda x: x[0, 0].narrow(0, 0, 1), VALUE, "0-dim"),
    ("squeeze dim", lambda x: x.squeeze(2), IndexError, "Dimension out of range"),
    ("unsqueeze dim", lambda x: x.unsqueeze(3), IndexError, "Dimension out of range"),
    ("flatten order", lambda x: x.flatten(1, 0), VALUE, "start_dim cannot come after end_dim"),
    ("unflatten sizes", lambda x: x.unflatten(1, (3, 2)), VALUE, "unflatten"),
    ("unflatten empty", lambda x: x.unflatten(1, ()), VALUE, "non-empty"),
    ("diagonal dims", lambda x: x.diagonal(0, 1, -1), VALUE, "cannot be identical"),
    ("unfold size", lambda x: x.unfold(0, 4, 1), VALUE, "maximum size"),
    ("unfold step", lambda x: x.unfold(0, 2, 0), VALUE, "step is 0"),
    ("unfold negative", lambda x: x.unfold(0, -1, 1), VALUE, "must be >= 0"),
    ("as_strided bounds", lambda x: x.as_strided((3, 5), (4, 1)), VALUE, "out of bounds"),
    ("as_strided size", lambda x: x.as_strided((-1,), (1,)), VALUE, "negative dimension"),
    ("as_strided stride", lambda x: x.as_strided((2,), (-1,)), VALUE, "negative strides"),
    ("len of 0-d", lambda x: len(x[0, 0]), TypeError, "len\\(\\) of a 0-d tensor"),
    ("in-place shape", lambda x: x[0].add_(x), VALUE, "doesn't match the broadcast shape"),
]


@pytest.mark.spec("STRIDE-12")
@pytest.mark.parametrize(
    ("call", "error", "match"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_invalid_arguments_raise_in_both(device, call, error, match):
    t = torch.arange(12.0, device=device).view(3, 4)
    r = tensor(np.arange(12.0)).view(3, 4)
    torch_error, reference_error = (error, error) if not isinstance(error, tuple) else error
    assert_both_raise(
        lambda: call(t),
        lambda: call(r),
        torch_error=torch_error,
        reference_error=reference_error,
        match=match,
    )


@pytest.mark.spec("STRIDE-12")
@given(strided_views(min_ops=0, max_ops=2), st.data())
def test_views_refused_by_torch_are_refused_by_the_reference(device, chain, data):
    """Random out-of-range dims and indices: torch raises iff the reference does, same type."""
    _, views = _chain(chain, device)[1:]
    t, r = views[-1]
    n = t.dim()
    value = data.draw(st.integers(-n - 3, n + 3))
    name = data.draw(st.sampled_from(["transpose", "unsqueeze", "squeeze", "select", "flatten"]))
    args = {
        "transpose": (value, 0),
        "unsqueeze": (value,),
        "squeeze": (value,),
        "select": (0, value),
        "flatten": (value,),
    }[name]
    outcomes = []
    for x in (t, r):
        try:
            result = getattr(x, name)(*args)
            outcomes.append(_layout(result))
        except (IndexError, RuntimeError, ValueError) as error:
            outcomes.append(IndexError if isinstance(error, IndexError) else ValueError)
    assert outcomes[0] == outcomes[1]
