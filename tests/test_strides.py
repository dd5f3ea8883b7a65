"""STRIDE: storage, strides and views, held to torch and to the reference (reference/strides.py)."""

from __future__ import annotations

import re
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

# torch's message for a refused view, as a stable keyword: 2.4-2.14 say "view size is not
# compatible with input tensor's size and stride", some paths "view size [4] is not
# compatible with input tensor's size [2, 2] and stride [1, 2]" (issue 14).
VIEW_REFUSED = "not compatible"


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
        with pytest.raises(ValueError, match=VIEW_REFUSED):
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


def _final_shape(chain) -> tuple[int, ...]:
    """The shape at the end of a `strided_views` chain (run on the reference, where an
    impossible `view` is the `reshape` the tests go on with)."""
    (shape, step, offset, size), ops = chain
    strides = tuple(step * s for s in contiguous_strides(shape))
    current = StridedTensor(np.zeros(size), shape, strides, offset)
    for name, args in ops:
        current = apply_view_op(current, ("reshape" if name == "view" else name, args))
    return current.shape


def chains_and(draw_for_shape, **chain_options):
    """``(chain, x)``: a `strided_views` chain and ``x`` drawn from ``draw_for_shape(shape)``
    for the chain's final shape (a plain tuple, so `@example` can pin both)."""
    return strided_views(**chain_options).flatmap(
        lambda chain: st.tuples(st.just(chain), draw_for_shape(_final_shape(chain)))
    )


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


EXPANDED_VIEW = (((2, 1), 1, 0, 2), [("unsqueeze", (0,)), ("expand", ((1, 2, 2),))])


@pytest.mark.spec("STRIDE-6")
@given(chains_and(reshape_targets, min_ops=0, max_ops=3))
@example((EXPANDED_VIEW, (1, 4)))  # issue 14: torch 2.14 names the sizes in this message
@example(((((2, 2), 1, 0, 4), [("t", ())]), (4,)))
def test_view_raises_exactly_when_view_strides_is_none(device, case):
    chain, shape = case
    _, views = _chain(chain, device)[1:]
    t, r = views[-1]
    strides = view_strides(t.shape, t.stride(), shape)
    if strides is None:
        with pytest.raises(RuntimeError, match=VIEW_REFUSED):
            t.view(shape)
        with pytest.raises(ValueError, match=VIEW_REFUSED):
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
        assert VIEW_REFUSED in str(error)
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


def assert_both_raise_naming(torch_call, reference_call, torch_error, reference_error, keyword):
    """Error parity with a stable keyword (a dim, a size, a name) in both messages."""
    torch_exc, reference_exc = assert_both_raise(
        torch_call,
        reference_call,
        torch_error=torch_error,
        reference_error=reference_error,
        match=keyword,
    )
    assert re.search(keyword, str(torch_exc)), f"{keyword!r} not in torch's {torch_exc!r}"


VALUE = (RuntimeError, ValueError)  # torch's RuntimeError is the reference's ValueError
F32 = np.ones(4, dtype=np.float32)  # an index-put source of another dtype than the float64 x

# The error inputs (OpInfo's error_inputs): (name, call, exception, keyword, cpu_only). `call`
# gets the 3x4 float64 tensor `x` (torch or reference) and `a`, which turns a NumPy array into
# that implementation's tensor. The keyword is in torch's message on 2.4.1 ... 2.14.1 and in the
# reference's. cpu_only: an out-of-bounds index tensor is a device-side assert on CUDA, which
# poisons the process's CUDA context rather than raising.
ERRORS = [
    ("view numel", lambda x, a: x.view(5, -1), VALUE, "size 12", False),
    ("view two -1", lambda x, a: x.view(-1, -1), VALUE, "only one dimension", False),
    ("view negative", lambda x, a: x.view(-2, 6), VALUE, "-2", False),
    ("view strides", lambda x, a: x.t().view(12), VALUE, VIEW_REFUSED, False),
    ("reshape numel", lambda x, a: x.reshape(5, 3), VALUE, "size 12", False),
    ("expand clash", lambda x, a: x.expand(2, 3), VALUE, "non-singleton dimension 1", False),
    ("expand too few", lambda x, a: x.expand(4), VALUE, "number of sizes provided", False),
    ("expand leading -1", lambda x, a: x.expand(-1, 3, 4), VALUE, "leading, non-existing", False),
    ("expand negative", lambda x, a: x.expand(3, -2), VALUE, r"\(-2\)", False),
    ("transpose dim", lambda x, a: x.transpose(0, 2), IndexError, "out of range", False),
    ("permute length", lambda x, a: x.permute(0), VALUE, "number of dim", False),
    ("permute duplicate", lambda x, a: x.permute(1, 1), VALUE, "(?i)duplicate dims", False),
    ("t of 3-D", lambda x, a: x.view(3, 2, 2).t(), VALUE, "<= 2 dimensions", False),
    ("select index", lambda x, a: x.select(0, 3), IndexError, "index 3", False),
    ("select 0-d", lambda x, a: x[0, 0].select(0, 0), IndexError, "0-dim", False),
    ("getitem index", lambda x, a: x[-4], IndexError, "index -4", False),
    ("getitem too many", lambda x, a: x[0, 0, 0], IndexError, "too many indices", False),
    ("getitem 0-d", lambda x, a: x[0, 0][0], IndexError, "0-dim", False),
    ("getitem float", lambda x, a: x[1.5], IndexError, "valid indices", False),
    ("slice step 0", lambda x, a: x[::0], ValueError, "step cannot be zero", False),
    ("slice negative step", lambda x, a: x[::-1], ValueError, "greater than zero", False),
    ("index out of bounds", lambda x, a: x[[0, 5]], IndexError, "index 5", True),
    ("index in empty dim", lambda x, a: x[:0][[0]], IndexError, "out of bounds", True),
    ("mask shape", lambda x, a: x[a(np.ones(4, dtype=bool))], IndexError, "mask", False),
    ("index broadcast", lambda x, a: x[[0, 1], [0, 1, 2]], IndexError, "broadcast", False),
    ("index dtype", lambda x, a: x[a(np.array([1], np.int16))], IndexError, "indices", False),
    ("index float dtype", lambda x, a: x[a(np.array([1.0]))], IndexError, "indices", False),
    ("index too many", lambda x, a: x[[0], [0], [0]], IndexError, "too many indices", False),
    ("setitem value", lambda x, a: x.__setitem__([0, 1], a(np.ones(3))), VALUE, r"\[2, 4\]", False),
    ("setitem dtype", lambda x, a: x.__setitem__([0], a(F32)), VALUE, "dtypes match", False),
    ("narrow past end", lambda x, a: x.narrow(0, 2, 2), VALUE, "exceeds dimension size", False),
    ("narrow length", lambda x, a: x.narrow(0, 0, -1), VALUE, "must be non-negative", False),
    ("narrow start", lambda x, a: x.narrow(0, 5, 0), IndexError, "out of range", False),
    ("narrow 0-d", lambda x, a: x[0, 0].narrow(0, 0, 1), VALUE, "0-dim", False),
    ("squeeze dim", lambda x, a: x.squeeze(2), IndexError, "out of range", False),
    ("unsqueeze dim", lambda x, a: x.unsqueeze(3), IndexError, "out of range", False),
    ("flatten order", lambda x, a: x.flatten(1, 0), VALUE, "start_dim", False),
    ("flatten 0-d", lambda x, a: x[0, 0].flatten(1), IndexError, "out of range", False),
    ("unflatten sizes", lambda x, a: x.unflatten(1, (3, 2)), VALUE, "unflatten", False),
    ("unflatten empty", lambda x, a: x.unflatten(1, ()), VALUE, "non-empty", False),
    ("diagonal dims", lambda x, a: x.diagonal(0, 1, -1), VALUE, "cannot be identical", False),
    ("unfold size", lambda x, a: x.unfold(0, 4, 1), VALUE, "maximum size", False),
    ("unfold step", lambda x, a: x.unfold(0, 2, 0), VALUE, "step is 0", False),
    ("unfold negative", lambda x, a: x.unfold(0, -1, 1), VALUE, "-1", False),
    ("as_strided bounds", lambda x, a: x.as_strided((3, 5), (4, 1)), VALUE, "out of bounds", False),
    ("as_strided size", lambda x, a: x.as_strided((-1,), (1,)), VALUE, r"\[-1\]", False),
    ("as_strided stride", lambda x, a: x.as_strided((2,), (-1,)), VALUE, "(?i)negative str", False),
    ("len of 0-d", lambda x, a: len(x[0, 0]), TypeError, "0-d tensor", False),
    ("in-place shape", lambda x, a: x[0].clone().add_(x), VALUE, r"\[3, 4\]", False),
    ("write stride 0", lambda x, a: x[:1].expand(3, 4).add_(1), VALUE, "memory location", False),
]


@pytest.mark.spec("STRIDE-12")
@pytest.mark.parametrize(
    ("call", "error", "keyword", "cpu_only"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_invalid_arguments_raise_in_both(device, call, error, keyword, cpu_only):
    if cpu_only and device != "cpu":
        pytest.skip(f"{device}: an out-of-bounds index tensor is a device-side assert there")
    t = torch.arange(12.0, dtype=torch.float64, device=device).view(3, 4)
    r = tensor(np.arange(12.0)).view(3, 4)
    torch_error, reference_error = error if isinstance(error, tuple) else (error, error)
    assert_both_raise_naming(
        lambda: call(t, lambda array: to_torch(array, device)),
        lambda: call(r, lambda array: array),
        torch_error,
        reference_error,
        keyword,
    )


@pytest.mark.spec("STRIDE-12")
@given(
    strided_views(min_ops=0, max_ops=2),
    st.sampled_from(["transpose", "unsqueeze", "squeeze", "select", "flatten"]),
    st.integers(-8, 8),
)
@example((((), 1, 0, 1), []), "flatten", 1)  # issue 14: a 0-d tensor has dims 0 and -1 only
@example((((), 1, 0, 1), []), "flatten", -2)
@example((((), 1, 0, 1), []), "transpose", 1)
def test_views_refused_by_torch_are_refused_by_the_reference(device, chain, name, value):
    """Random out-of-range dims and indices: torch raises iff the reference does, same type."""
    _, views = _chain(chain, device)[1:]
    t, r = views[-1]
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


# --- STRIDE-13, STRIDE-14: advanced indexing -------------------------------------------------


def _mask_then_index_works() -> bool:
    """Whether this torch indexes ``x[mask2d, 0]`` (pytorch/pytorch#71673)."""
    mask = torch.tensor([[True, False], [False, True]])
    try:
        return tuple(torch.ones(2, 2, 3)[mask, 0].shape) == (2,)
    except IndexError:
        return False


MASK_THEN_INDEX_WORKS = _mask_then_index_works()


@st.composite
def advanced_keys(draw, shape: tuple[int, ...]) -> tuple:
    """``(key, lead_one)``: an index key mixing basic entries (ints, slices, ``None``,
    ``...``, 0-d int arrays) with advanced ones (int lists and int64/int32 arrays whose shapes
    broadcast to one index shape, boolean masks over one or two dims, Python bools), and
    whether the value written through it gets an extra leading size-1 dim. Index arrays stay
    in bounds; masks may select counts that do not broadcast with the other index arrays,
    which both implementations must then refuse."""
    index_shape = draw(st.sampled_from([(2,), (3,), (2, 1), (1, 3), (1,), (0,)]))

    def index_array(size: int):
        ndim = draw(st.integers(1, len(index_shape)))
        sizes = [1 if draw(st.booleans()) else n for n in index_shape[len(index_shape) - ndim :]]
        values = draw(
            st.lists(st.integers(-size, size - 1), min_size=int(np.prod(sizes)),
                     max_size=int(np.prod(sizes)))
        )
        array = np.array(values, dtype=draw(st.sampled_from([np.int64, np.int32])))
        array = array.reshape(sizes)
        return array.tolist() if draw(st.booleans()) else array

    def entries_for(sizes):
        out, i = [], 0
        while i < len(sizes):
            kinds = ["slice", "mask"] + (["int", "int0d"] + ["array"] * 4 if sizes[i] else [])
            kind = draw(st.sampled_from(kinds))
            if kind == "mask":
                k = draw(st.integers(1, min(2, len(sizes) - i)))
                mask_shape = tuple(sizes[i : i + k])
                flat = draw(st.lists(st.booleans(), min_size=int(np.prod(mask_shape)),
                                     max_size=int(np.prod(mask_shape))))
                mask = np.array(flat, dtype=bool).reshape(mask_shape)
                out.append(mask.tolist() if k == 1 and draw(st.booleans()) else mask)
                i += k
                continue
            size = sizes[i]
            if kind == "int":
                out.append(draw(st.integers(-size, size - 1)))
            elif kind == "int0d":
                out.append(np.array(draw(st.integers(-size, size - 1))))
            elif kind == "array":
                out.append(index_array(size))
            else:
                bound = st.none() | st.integers(-size - 1, size + 1)
                out.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 2]))))
            i += 1
        return out

    head = draw(st.integers(0, len(shape)) | st.just(len(shape)))
    tail = draw(st.integers(0, len(shape) - head)) if draw(st.booleans()) else None
    entries = entries_for(shape[:head])
    if tail is not None:
        entries += [Ellipsis] + entries_for(shape[len(shape) - tail :])
    for _ in range(draw(st.integers(0, 2))):
        inserted = draw(st.sampled_from([None, True, None, True, False]))
        entries.insert(draw(st.integers(0, len(entries))), inserted)
    return tuple(entries), draw(st.booleans())


def _torch_key(key: tuple, device) -> tuple:
    return tuple(to_torch(k, device) if isinstance(k, np.ndarray) else k for k in key)


def _is_advanced(entry) -> bool:
    """Lists, arrays of at least one dim, and bools index by copy; the rest are views."""
    return isinstance(entry, (list, bool)) or (isinstance(entry, np.ndarray) and entry.ndim > 0)


def _for_this_torch(key: tuple) -> tuple:
    """Before pytorch/pytorch#71673 was fixed, entries after a mask of two or more dims went
    to the wrong dim: cut the key there (`test_mask_then_index` pins the bug)."""
    if MASK_THEN_INDEX_WORKS:
        return key
    for i, entry in enumerate(key):
        if np.ndim(entry) >= 2 and np.asarray(entry).dtype == bool:
            return key[: i + 1]
    return key


def _indexed(x, key):
    try:
        return x[key]
    except IndexError as error:
        return error


def _storage_of(t: torch.Tensor) -> torch.Tensor:
    return torch.empty(0, dtype=t.dtype, device=t.device).set_(t.untyped_storage())


def _write(x, key, value):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            x[key] = value
            error = None
        except (RuntimeError, ValueError) as exc:
            error = exc
    return error, any("expanded tensors" in str(w.message) for w in caught)


@pytest.mark.spec("STRIDE-13", "STRIDE-14")
@given(chains_and(advanced_keys, min_ops=0, max_ops=2))
@example(((((2, 3, 4), 1, 0, 24), []), ((0, slice(None), [0, 1]), False)))  # ints go first: (3, 2)
@example(((((2, 3, 4), 1, 0, 24), []), (([0, 1], slice(None), 0), False)))  # (2, 3)
@example(((((2, 3, 4), 1, 0, 24), []), (([0, 1], None, [0, 1]), True)))  # None splits: (2, 1, 4)
@example(((((2, 3, 4), 1, 0, 24), []), ((True, [0, 1]), False)))  # True is an index [0]
@example(((((2, 3, 4), 1, 0, 24), []), ((np.array(1), slice(None), [2, 0]), False)))
@example(((((2, 3, 4), 1, 0, 24), []), ((Ellipsis, np.ones((3, 4), dtype=bool)), False)))
@example(((((2, 3, 4), 1, 0, 24), []), ((np.eye(2, 3, dtype=bool), slice(None, None, 2)), True)))
@example(((((2, 3, 4), 1, 0, 24), []), (([[0], [1]], slice(None), [1, 2, 3]), True)))
@example(((((), 1, 0, 1), []), ((False,), False)))  # 0-d: (0,)
@example(((((3, 1), 1, 0, 3), [("expand", ((2, 3, 4),))]), (([1, 0, 1],), False)))  # overlap
@example(((((2, 0), 2, 1, 4), []), ((slice(None), []), True)))  # empty
def test_advanced_indexing_copies_and_setitem_writes_through(device, case):
    """`t[key]` (shape, values, copy iff the key has an advanced entry) and `t[key] = v` (the
    whole storage afterwards, errors and the expanded-tensor warning) agree with torch."""
    chain, (key, lead_one) = case
    key = _for_this_torch(key)
    _, views = _chain(chain, device)[1:]
    t, r = views[-1]
    t_key = _torch_key(key, device)
    got_t, got_r = _indexed(t, t_key), _indexed(r, key)
    assert isinstance(got_t, IndexError) == isinstance(got_r, IndexError), (got_t, got_r)
    if isinstance(got_r, IndexError):
        return
    copies = any(_is_advanced(k) for k in key)
    assert (_ptr(got_t) != _ptr(t)) == copies == (got_r.storage is not r.storage)
    assert (tuple(got_t.shape), got_t.stride()) == (got_r.shape, r.index_strides(key, device))
    assert got_r.stride() == r.index_strides(key)
    assert_matches(got_t, got_r.numpy())
    # Write through the same key. Elements selected twice (repeated indices, stride-0 dims)
    # have no defined order of writes: write a constant there.
    slots = torch.arange(_storage_of(t).numel(), device=device)
    selected = slots.as_strided(t.shape, t.stride(), t.storage_offset())[t_key]
    if selected.unique().numel() < selected.numel():
        value = np.full(got_r.shape, -7.0)
    else:
        value = -1.0 - np.arange(got_r.numel(), dtype=np.float64).reshape(got_r.shape)
    if lead_one:
        value = value[None]
    error_t, warned_t = _write(t, t_key, to_torch(value, device))
    error_r, warned_r = _write(r, key, value)
    assert (error_t is None) == (error_r is None), (error_t, error_r)
    assert warned_t == warned_r
    assert_matches(_storage_of(t), r.storage)


@pytest.mark.spec("STRIDE-13")
@pytest.mark.xfail(
    not MASK_THEN_INDEX_WORKS,
    strict=True,
    reason="torch bug (pytorch/pytorch#71673, fixed by pytorch/pytorch#158369; present in "
    "torch 2.4.1, fixed by 2.11): an index after a multi-dim mask goes to the wrong dim",
)
def test_mask_then_index(device):
    """A k-dim mask indexes k dims, so an index after it indexes the next dim."""
    x = torch.arange(24.0, device=device).view(2, 3, 4)
    r = tensor(np.arange(24.0, dtype=np.float32).reshape(2, 3, 4))
    mask = np.array([[True, False, True], [False, True, True]])
    got = x[to_torch(mask, device), 0]
    assert_matches(got, r[mask, 0].numpy())
    assert got.tolist() == [0.0, 8.0, 16.0, 20.0]


@pytest.mark.spec("STRIDE-13")
def test_index_forms_torch_reads_as_tuples():
    """A top-level list holding a sequence, slice, None or ... is read as a tuple (NumPy's
    legacy rule, kept with a deprecation warning); a flat list is one index tensor."""
    x = torch.arange(24.0).view(2, 3, 4)
    r = tensor(np.arange(24.0, dtype=np.float32).reshape(2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert tuple(x[[[0, 1], [1, 0]]].shape) == r[[[0, 1], [1, 0]]].shape == (2, 4)
        assert_matches(x[[[0, 1], [1, 0]]], r[[[0, 1], [1, 0]]].numpy())
    assert tuple(x[[1, 0]].shape) == r[[1, 0]].shape == (2, 3, 4)
    assert_matches(x[[True, False]], r[[True, False]].numpy())  # a list of bools is a mask
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_matches(x[torch.tensor([1, 0], dtype=torch.uint8)],
                       r[np.array([1, 0], dtype=np.uint8)].numpy())  # uint8: a mask
    assert sum("uint8" in str(w.message) for w in caught) == 2
