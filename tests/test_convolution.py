"""CONV: convolution, pooling, padding, resizing and linear layers, held to torch and to the
reference (reference/convolution.py).

Every layer's case strategy draws the input forms torch accepts: a zero batch, unbatched
inputs, float32 and float64, contiguous or not. Which empty inputs each op accepts is one
property over all of them (CONV-26); invalid inputs are a table (ERROR_INPUTS, CONV-29)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

import reference.convolution as ref
import reference.functional as rf
from reference import autograd as ag
from reference.convolution import (
    adaptive_avg_pool2d,
    avg_pool2d,
    bilinear,
    conv1d,
    conv2d,
    conv_output_size,
    conv_transpose2d,
    conv_transpose_output_size,
    default_init_bounds,
    fold,
    interpolate,
    linear,
    lp_pool2d,
    max_pool2d,
    pad,
    pool_output_size,
    unfold,
)
from tests.strategies import exact_float_arrays, finite_arrays, float_dtypes, window_params
from tests.support import (
    TOLERANCES,
    assert_both_raise,
    assert_matches,
    known_torch_bug,
    requires_torch,
    to_numpy,
    to_torch,
    torch_at_least,
)

# The notes' (001) 5x5 input and 3x3 kernel.
NOTES_INPUT = np.array(
    [[1, 2, 0, 3, 1], [0, 1, 2, 3, 1], [1, 2, 1, 0, 0], [5, 2, 3, 1, 1], [2, 1, 0, 1, 1]],
    dtype=np.float64,
).reshape(1, 1, 5, 5)
NOTES_KERNEL = np.array([[1, 2, 1], [0, 1, 0], [2, 1, 0]], dtype=np.float64).reshape(1, 1, 3, 3)

# The errors the reference raises where torch rejects an input.
REFERENCE_ERRORS = (ValueError, TypeError, IndexError)


def values(draw: st.DrawFn, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """float64: general floats (the mathematical comparison); float32 (torch's default):
    small integers, so sums of products are exact whatever order torch accumulates in."""
    if dtype == np.float32:
        return draw(exact_float_arrays(shape, np.float32))
    return draw(finite_arrays(shape, np.float64, min_value=-10, max_value=10))


def seeded(draw: st.DrawFn, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``values`` for the backward properties, in float64 and cheaper to draw (one seed):
    where ``values`` would give float32, small integers (max-pool ties, zero lp windows),
    else uniform floats in [-10, 10]."""
    rng = np.random.default_rng(draw(SEEDS))
    if dtype == np.float32:
        return rng.integers(-4, 5, shape).astype(np.float64)
    return rng.uniform(-10, 10, shape)


SEEDS = st.integers(0, 2**32 - 1)  # a NumPy generator's seed: arrays, upstream gradients


def tensor(array: np.ndarray | None, device: str, noncontiguous: bool = False):
    if array is None:
        return None
    return to_torch(array, device, noncontiguous=noncontiguous)


def batch_dims(draw: st.DrawFn, forms: bool = True) -> tuple[int, ...]:
    """The leading dims of a layer input: one batch of 1 or 2, a zero batch, or none at all
    (an unbatched ``(C, *spatial)`` input); only non-empty batches when not ``forms``."""
    return draw(st.sampled_from([(1,), (2,), (), (0,)] if forms else [(1,), (2,)]))


def sizes_from(draw: st.DrawFn, spans: list[int], pads: list[int], extra: int = 3) -> list[int]:
    """Spatial sizes at least as large as each (dilated) kernel span minus its padding."""
    return [
        draw(st.integers(max(1, s - 2 * p), max(1, s - 2 * p) + extra))
        for s, p in zip(spans, pads, strict=True)
    ]


def _on(device, value, noncontiguous=False):
    return tensor(value, device, noncontiguous) if isinstance(value, np.ndarray) else value


def run_both(device, name, args, kwargs=None, noncontiguous=False):
    """``F.<name>`` on the arrays of ``args`` and ``kwargs`` moved to ``device`` (the first
    laid out non-contiguously when asked), and ``reference.<name>`` on the arrays."""
    kwargs = kwargs or {}
    torch_args = [_on(device, a, noncontiguous and i == 0) for i, a in enumerate(args)]
    torch_kwargs = {k: _on(device, v) for k, v in kwargs.items()}
    return getattr(F, name)(*torch_args, **torch_kwargs), getattr(ref, name)(*args, **kwargs)


def assert_same_result(actual, expected) -> None:
    """torch's result (a tensor or a tuple of tensors) equals the reference's."""
    if isinstance(actual, tuple):
        assert isinstance(expected, tuple) and len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_matches(a, e)
    else:
        assert_matches(actual, expected)


def assert_same_outcome(device, name, args, kwargs=None) -> None:
    """torch and the reference either both reject the call or give the same result."""
    kwargs = kwargs or {}
    torch_args = [_on(device, a) for a in args]
    try:
        expected = getattr(F, name)(*torch_args, **{k: _on(device, v) for k, v in kwargs.items()})
    except (RuntimeError, ValueError, IndexError) as error:
        with pytest.raises(REFERENCE_ERRORS):
            getattr(ref, name)(*args, **kwargs)
        return error
    assert_same_result(expected, getattr(ref, name)(*args, **kwargs))
    return None


# --- CONV-1, CONV-2, CONV-3: output sizes and their boundary ---------------------------------


@pytest.mark.spec("CONV-1")
@given(window_params())
@example((5, 3, 1, 0, 1))  # notes 001: 5x5 input, 3x3 kernel -> 3
@example((5, 3, 2, 0, 1))  # stride 2 -> 2
@example((5, 3, 1, 1, 1))  # padding 1 -> 5
@example((2, 3, 2, 0, 1))  # kernel larger than the input: both raise
def test_conv_output_size_is_torchs_shape_or_both_raise(device, params):
    size, k, s, p, d = params
    x = torch.zeros(1, 1, size, device=device)
    w = torch.zeros(1, 1, k, device=device)

    def run():
        return F.conv1d(x, w, stride=s, padding=p, dilation=d)

    try:
        expected = conv_output_size(size, k, s, p, d)
    except ValueError:
        assert_both_raise(run, lambda: conv_output_size(size, k, s, p, d), match="output size")
        return
    assert expected == math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1
    assert run().shape[-1] == expected
    # 2-D: each dim follows the same formula independently.
    x2 = torch.zeros(1, 1, size, 3, device=device)
    w2 = torch.zeros(1, 1, k, 1, device=device)
    assert F.conv2d(x2, w2, stride=s, padding=p, dilation=d).shape[-2:] == (
        expected,
        conv_output_size(3, 1, s, p, d),
    )


@pytest.mark.spec("CONV-2")
@given(window_params(), st.integers(0, 3))
def test_conv_transpose_output_size_is_torchs_shape_or_both_raise(device, params, output_padding):
    size, k, s, p, d = params
    x = torch.zeros(1, 1, size, device=device)
    w = torch.zeros(1, 1, k, device=device)

    def run():
        return F.conv_transpose1d(
            x, w, stride=s, padding=p, output_padding=output_padding, dilation=d
        )

    def reference():
        return conv_transpose_output_size(size, k, s, p, output_padding, d)

    try:
        expected = reference()
    except ValueError:
        assert_both_raise(run, reference, match="output_padding|output size")
        return
    assert expected == (size - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    assert run().shape[-1] == expected


@pytest.mark.spec("CONV-3")
@given(window_params(max_padding=2), st.booleans(), st.booleans(), st.booleans())
@example((5, 3, 3, 0, 1), True, False, False)  # notes: MaxPool2d(3, ceil_mode=True) -> 2
@example((5, 3, 3, 0, 1), False, False, False)  # ceil_mode=False -> 1
@example((2, 3, 2, 0, 1), True, False, False)  # a window may run past the input
@example((5, 2, 2, 1, 1), True, False, False)  # ... but must start inside input or padding
def test_pool_output_size_is_torchs_shape_or_both_raise(
    device, params, ceil_mode, default_stride, return_indices
):
    size, k, s, p, d = params
    stride = None if default_stride else s
    x = torch.zeros(1, 1, size, device=device)
    runs = {
        "max_pool1d": lambda: F.max_pool1d(
            x, k, stride, p, d, ceil_mode=ceil_mode, return_indices=return_indices
        ),
        "max_pool2d": lambda: F.max_pool2d(
            x.unsqueeze(-1), (k, 1), (stride or k, 1), (p, 0), (d, 1), ceil_mode=ceil_mode
        ),
    }
    if d == 1:
        runs["avg_pool1d"] = lambda: F.avg_pool1d(x, k, stride, p, ceil_mode=ceil_mode)

    def reference():
        return pool_output_size(size, k, stride, p, d, ceil_mode)

    try:
        expected = reference()
    except ValueError:
        for run in runs.values():
            assert_both_raise(run, reference, match="padding|output size")
        return
    for name, run in runs.items():
        out = run()
        out = out[0] if isinstance(out, tuple) else out
        assert out.shape[2] == expected, name


@pytest.mark.spec("CONV-3", "CONV-8")
def test_notes_maxpool_ceil_mode(device):
    x = to_torch(NOTES_INPUT, device)
    # The notes print the ceil_mode=True result; kernel 3 -> stride 3.
    assert_matches(nn.MaxPool2d(kernel_size=3, ceil_mode=True)(x), [[[[2.0, 3.0], [5.0, 1.0]]]])
    assert_matches(nn.MaxPool2d(kernel_size=3)(x), [[[[2.0]]]])
    assert max_pool2d(NOTES_INPUT, 3, ceil_mode=True).tolist() == [[[[2, 3], [5, 1]]]]
    assert max_pool2d(NOTES_INPUT, 3).tolist() == [[[[2]]]]
    assert pool_output_size(5, 3, ceil_mode=True) == 2


# --- CONV-4, CONV-5: convolution values, 'same' and 'valid' -----------------------------------


@st.composite
def conv_cases(draw, n: int = 2, same: bool = True, forms: bool = True, fill=values):
    dtype = draw(float_dtypes())
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3 if n < 3 else 2)) for _ in range(n)]
    dilation = [draw(st.integers(1, 2)) for _ in range(n)]
    choices = ["ints", "valid"] + (["same"] if same else [])
    kind = draw(st.sampled_from(choices))
    if kind == "ints":
        stride = [draw(st.integers(1, 2)) for _ in range(n)]
        padding: object = tuple(draw(st.integers(0, 2)) for _ in range(n))
        pads = list(padding)
    else:
        stride = [1] * n if kind == "same" else [draw(st.integers(1, 2)) for _ in range(n)]
        padding, pads = kind, [0] * n
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    spatial = sizes_from(draw, spans, pads, extra=2 if n < 3 else 1)
    x = fill(draw, (*batch_dims(draw, forms), cin, *spatial), dtype)
    w = fill(draw, (cout, cin // groups, *kernel), dtype)
    b = fill(draw, (cout,), dtype) if draw(st.booleans()) else None
    kwargs = {
        "stride": tuple(stride),
        "padding": padding,
        "dilation": tuple(dilation),
        "groups": groups,
    }
    return x, w, b, kwargs, draw(st.booleans())


CONVS = {1: "conv1d", 2: "conv2d", 3: "conv3d"}


@pytest.mark.spec("CONV-4", "CONV-26", "CONV-27")
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@given(st.sampled_from([1, 2, 2, 3]).flatmap(lambda n: st.tuples(st.just(n), conv_cases(n=n))))
@example((2, (NOTES_INPUT[0], NOTES_KERNEL, None, {"stride": 2}, True)))  # unbatched (C, H, W)
@example((1, (np.zeros((0, 2, 3)), np.ones((1, 2, 2)), np.ones(1), {}, False)))  # zero batch
def test_conv_matches_torch(device, case):
    n, (x, w, b, kwargs, noncontiguous) = case
    out, expected = run_both(device, CONVS[n], (x, w, b), kwargs, noncontiguous)
    assert_matches(out, expected)


@pytest.mark.spec("CONV-1", "CONV-4")
def test_notes_conv2d_example(device):
    x, k = to_torch(NOTES_INPUT, device), to_torch(NOTES_KERNEL, device)
    stride1 = [[[[10, 12, 12], [18, 16, 16], [13, 9, 3]]]]
    assert_matches(F.conv2d(x, k, stride=1), stride1, check_dtype=False)
    assert_matches(F.conv2d(x, k, stride=2), [[[[10, 12], [13, 3]]]], check_dtype=False)
    assert conv2d(NOTES_INPUT, NOTES_KERNEL, stride=1).tolist() == stride1
    assert conv2d(NOTES_INPUT, NOTES_KERNEL, stride=2).tolist() == [[[[10, 12], [13, 3]]]]
    padded = F.conv2d(x, k, padding=1)
    assert padded.shape == (1, 1, 5, 5)
    assert_matches(padded, conv2d(NOTES_INPUT, NOTES_KERNEL, padding=1))
    # With padding 1 the centre 3x3 of the output is the unpadded result.
    assert_matches(padded[..., 1:4, 1:4], stride1, check_dtype=False)


@pytest.mark.spec("CONV-5")
@given(
    st.integers(1, 6), st.integers(1, 5), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)
)
def test_same_padding_keeps_the_size(device, kh, kw, dilation, h, w):
    x = np.ones((1, 1, h, w))
    weight = np.ones((1, 1, kh, kw))
    out = F.conv2d(to_torch(x, device), to_torch(weight, device), padding="same", dilation=dilation)
    assert out.shape[-2:] == (h, w)
    reference = conv2d(x, weight, padding="same", dilation=dilation)
    assert reference.shape[-2:] == (h, w)
    assert_matches(out, reference)
    if h >= kh and w >= kw:
        valid = F.conv2d(to_torch(x, device), to_torch(weight, device), padding="valid")
        assert_matches(valid, conv2d(x, weight, padding=0))


@pytest.mark.spec("CONV-5")
def test_same_padding_puts_the_odd_extra_on_the_right(device):
    x = np.arange(5, dtype=np.float64).reshape(1, 1, 5)
    w = np.array([[[1.0, 10.0]]])  # total padding 1: none on the left, one on the right
    out = F.conv1d(to_torch(x, device), to_torch(w, device), padding="same")
    assert_matches(out, [[[10.0, 21.0, 32.0, 43.0, 4.0]]])
    assert_matches(out, conv1d(x, w, padding="same"))


# --- CONV-6, CONV-25: padding modes and the padding layers ------------------------------------

MODES = ["constant", "reflect", "replicate", "circular"]
PAD_LAYERS = {
    "reflect": "ReflectionPad{}d",
    "replicate": "ReplicationPad{}d",
    "circular": "CircularPad{}d",
}


def _pad_widths(draw: st.DrawFn, mode: str, size: int) -> tuple[int, int]:
    """(left, right) widths the mode accepts for a dim of ``size``, negative ones included
    (they crop); the output keeps at least one cell."""
    if mode == "constant":
        bound = st.integers(-(size // 2), 3)
        return draw(bound), draw(bound)
    if mode == "reflect":
        left = draw(st.integers(-(size - 1), size - 1))
        return left, draw(st.integers(max(-(size - 1), 1 - size - left), size - 1))
    if mode == "replicate":
        left = draw(st.integers(-(size - 1), 3))
        return left, draw(st.integers(max(-(size - 1), 1 - size - left), 3))
    # circular crops first, then wraps the cropped input: no width beyond the cropped size
    left = draw(st.integers(-(size - 1), size))
    kept = size + min(left, 0)
    low = max(-(kept - 1), left - size if left > 0 else -(kept - 1))
    return left, draw(st.integers(low, kept))


@st.composite
def pad_cases(draw, fill=values):
    mode = draw(st.sampled_from(MODES))
    dims = draw(st.integers(1, 3))
    ndim = draw(st.sampled_from([dims + 1, dims + 2]))
    # a zero batch (for the non-constant modes, channels must not be empty; constant: any)
    lead = [
        draw(st.integers(0 if mode == "constant" or (i == 0 and ndim == dims + 2) else 1, 2))
        for i in range(ndim - dims)
    ]
    shape = tuple(lead) + tuple(draw(st.integers(1, 4)) for _ in range(dims))
    widths: list[int] = []
    for size in reversed(shape[ndim - dims :]):
        widths += _pad_widths(draw, mode, size)
    dtype = draw(float_dtypes())
    value = draw(st.floats(-2, 2)) if mode == "constant" else None
    return fill(draw, shape, dtype), tuple(widths), mode, value, draw(st.booleans())


@pytest.mark.spec("CONV-6", "CONV-25", "CONV-26", "CONV-27")
@given(pad_cases())
@example((np.arange(1.0, 6.0).reshape(1, 1, 5), (-1, 2), "reflect", None, False))
@example((np.arange(1.0, 6.0).reshape(1, 1, 5), (-1, 2), "circular", None, False))
@example((np.arange(1.0, 6.0).reshape(1, 1, 5), (-3, 4), "replicate", None, False))
def test_pad_and_padding_layers_match_torch(device, case):
    x, widths, mode, value, noncontiguous = case
    out, expected = run_both(device, "pad", (x, widths, mode, value), noncontiguous=noncontiguous)
    assert_matches(out, expected)
    dims = len(widths) // 2
    if mode == "constant":
        name, args = (f"ZeroPad{dims}d", (widths,)) if value == 0 else (
            f"ConstantPad{dims}d", (widths, value))
    else:
        name, args = PAD_LAYERS[mode].format(dims), (widths,)
    layer = getattr(nn, name)(*args)
    assert_matches(layer(tensor(x, device)), getattr(ref, name)(*args)(x))


@pytest.mark.spec("CONV-6")
def test_negative_widths_crop_the_reflection_but_the_circular_input():
    # reflect/replicate pad the whole input, then crop; circular crops, then wraps the rest.
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)  # [1 2 3 4 5]
    assert pad(x, (-1, 2), "reflect").ravel().tolist() == [2, 3, 4, 5, 4, 3]
    assert pad(x, (-3, 4), "reflect").ravel().tolist() == [4, 5, 4, 3, 2, 1]
    assert pad(x, (-1, 2), "replicate").ravel().tolist() == [2, 3, 4, 5, 5, 5]
    assert pad(x, (-1, 2), "circular").ravel().tolist() == [2, 3, 4, 5, 2, 3]
    assert pad(x, (2, -1), "circular").ravel().tolist() == [3, 4, 1, 2, 3, 4]
    for mode in ("reflect", "replicate", "circular"):
        assert_matches(F.pad(torch.tensor(x), (-1, 2), mode=mode), pad(x, (-1, 2), mode))


@pytest.mark.spec("CONV-25")
def test_zero_pad2d_int_and_tuple(device):
    x = np.arange(1.0, 5.0).reshape(1, 2, 2)
    # An int pads all four sides; a 4-tuple is (left, right, top, bottom).
    for padding, shape in [(1, (1, 4, 4)), ((1, 0, 2, 0), (1, 4, 3)), ((-1, 1, 0, 0), (1, 2, 2))]:
        out = nn.ZeroPad2d(padding)(to_torch(x, device))
        assert out.shape == shape
        assert_matches(out, ref.ZeroPad2d(padding)(x))
    assert ref.ZeroPad2d((1, 0, 2, 0))(x)[0].tolist() == [
        [0, 0, 0], [0, 0, 0], [0, 1, 2], [0, 3, 4]
    ]


@pytest.mark.spec("CONV-6")
@given(st.sampled_from(["zeros", "reflect", "replicate", "circular"]), st.data())
def test_conv_padding_mode_is_pad_then_conv(device, padding_mode, data):
    ph, pw = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
    h, w = data.draw(st.integers(max(ph + 1, 2), 5)), data.draw(st.integers(max(pw + 1, 2), 5))
    conv = nn.Conv2d(2, 3, 2, padding=(ph, pw), padding_mode=padding_mode, dtype=torch.float64)
    conv = conv.to(device)
    x = data.draw(finite_arrays((1, 2, h, w), np.float64))
    mode = "constant" if padding_mode == "zeros" else padding_mode
    padded = pad(x, (pw, pw, ph, ph), mode=mode)
    weight, bias = conv.weight.detach().cpu().numpy(), conv.bias.detach().cpu().numpy()
    assert_matches(conv(to_torch(x, device)), conv2d(padded, weight, bias))


# --- CONV-7: transposed convolution -------------------------------------------------------


@pytest.mark.spec("CONV-7")
@given(conv_cases(n=2, same=False, forms=False))
def test_conv_transpose2d_is_the_input_gradient_of_conv2d(device, case):
    x, w, _, kwargs, _ = case
    x, w = x.astype(np.float64), w.astype(np.float64)
    tx = to_torch(x, device, requires_grad=True)
    out = F.conv2d(tx, to_torch(w, device), **kwargs)
    grad_out = np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape))
    (grad_x,) = torch.autograd.grad(out, tx, to_torch(grad_out, device))
    stride, dilation = kwargs["stride"], kwargs["dilation"]
    padding = (0, 0) if kwargs["padding"] == "valid" else kwargs["padding"]
    # output_padding recovers the input rows/cols the strided windows never reached.
    output_padding = tuple(
        size - ((o - 1) * s - 2 * p + d * (k - 1) + 1)
        for size, o, k, s, p, d in zip(
            x.shape[2:], out.shape[2:], w.shape[2:], stride, padding, dilation, strict=False
        )
    )
    common = dict(
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=kwargs["groups"],
        dilation=dilation,
    )
    assert_matches(grad_x, conv_transpose2d(grad_out, w, **common))
    torch_transpose = F.conv_transpose2d(to_torch(grad_out, device), to_torch(w, device), **common)
    assert_matches(grad_x, to_numpy(torch_transpose))


@st.composite
def conv_transpose_cases(draw, n: int, fill=values):
    dtype = draw(float_dtypes())
    groups = draw(st.integers(1, 2))
    cin, per_group = groups * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3 if n < 3 else 2)) for _ in range(n)]
    stride = [draw(st.integers(1, 3 if n < 3 else 2)) for _ in range(n)]
    dilation = [draw(st.integers(1, 2)) for _ in range(n)]
    output_padding = [
        draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
    ]
    spatial = [draw(st.integers(1, 4 if n < 3 else 2)) for _ in range(n)]
    padding = []
    for L, k, s, d, op in zip(spatial, kernel, stride, dilation, output_padding, strict=True):
        most = ((L - 1) * s + d * (k - 1) + op) // 2  # keep the output at least 1
        padding.append(draw(st.integers(0, min(most, 2))))
    x = fill(draw, (*batch_dims(draw), cin, *spatial), dtype)
    w = fill(draw, (cin, per_group, *kernel), dtype)
    b = fill(draw, (per_group * groups,), dtype) if draw(st.booleans()) else None
    kwargs = dict(
        stride=tuple(stride),
        padding=tuple(padding),
        output_padding=tuple(output_padding),
        groups=groups,
        dilation=tuple(dilation),
    )
    return x, w, b, kwargs, draw(st.booleans())


@pytest.mark.spec("CONV-7", "CONV-26", "CONV-27")
@given(st.sampled_from([1, 2, 3]).flatmap(lambda n: st.tuples(st.just(n), conv_transpose_cases(n))))
def test_conv_transpose_matches_torch(device, case):
    n, (x, w, b, kwargs, noncontiguous) = case
    out, expected = run_both(device, f"conv_transpose{n}d", (x, w, b), kwargs, noncontiguous)
    assert_matches(out, expected)


# --- CONV-8, CONV-9: max and average pooling ------------------------------------------------


@st.composite
def pool_cases(
    draw, n: int, dilated: bool = True, padded: bool = True, fit: bool = False, fill=values
):
    dtype = draw(float_dtypes())
    kernel = [draw(st.integers(1, 3 if n < 3 else 2)) for _ in range(n)]
    stride = None if draw(st.booleans()) else tuple(draw(st.integers(1, 3)) for _ in range(n))
    padding = tuple(draw(st.integers(0, k // 2)) if padded else 0 for k in kernel)
    dilation = tuple(draw(st.integers(1, 2)) if dilated else 1 for _ in range(n))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    # fit: every input size at least the kernel, padding notwithstanding (avg_pool3d)
    spatial = sizes_from(draw, spans, [0] * n if fit else list(padding), extra=2 if n < 3 else 1)
    x = fill(draw, (*batch_dims(draw), draw(st.integers(1, 2)), *spatial), dtype)
    return x, tuple(kernel), stride, padding, dilation, draw(st.booleans()), draw(st.booleans())


@pytest.mark.spec("CONV-8", "CONV-26", "CONV-27")
@given(st.sampled_from([1, 2, 3]).flatmap(lambda n: st.tuples(st.just(n), pool_cases(n=n))))
@example((2, (np.array([[[[1.0, np.nan], [3.0, 2.0]]]]), (2, 2), None, (0, 0), (1, 1), False,
              False)))  # a NaN in the window is the maximum
@example((1, (np.zeros((0, 2, 4)), (2,), None, (0,), (1,), False, False)))  # zero batch
def test_max_pool_matches_torch(device, case):
    n, (x, kernel, stride, padding, dilation, ceil_mode, noncontiguous) = case
    name = f"max_pool{n}d"
    args = (x, kernel, stride, padding, dilation, ceil_mode)
    (out, indices), (ref_out, ref_indices) = run_both(
        device, name, args, {"return_indices": True}, noncontiguous
    )
    assert_matches(out, ref_out)
    assert_matches(run_both(device, name, args)[0], ref_out)  # the kernel without indices
    # A dilated window can fall entirely in the padding (value -inf): its index is unspecified.
    real = np.isfinite(ref_out) | np.isnan(ref_out)
    assert indices.dtype == torch.int64 and indices.shape == ref_indices.shape
    assert (to_numpy(indices)[real] == ref_indices[real]).all()


@pytest.mark.spec("CONV-3", "CONV-8")
@given(st.integers(1, 3), st.integers(3, 7), st.integers(3, 7))
def test_maxpool_stride_defaults_to_kernel_size(device, k, h, w):
    pool = nn.MaxPool2d(k)
    assert pool.stride == k
    x = np.arange(h * w, dtype=np.float64).reshape(1, 1, h, w)
    assert_matches(
        pool(to_torch(x, device)), to_numpy(F.max_pool2d(to_torch(x, device), k, stride=k))
    )
    assert_matches(pool(to_torch(x, device)), max_pool2d(x, k))
    assert_matches(F.avg_pool2d(to_torch(x, device), k), avg_pool2d(x, k, stride=k))


@st.composite
def avg_pool_cases(draw, n: int, fill=values):
    x, kernel, stride, padding, _, ceil_mode, noncontiguous = draw(
        pool_cases(n, dilated=False, fit=n == 3, fill=fill)
    )
    count_include_pad = draw(st.booleans())
    divisor_override = draw(st.none() | st.integers(1, 5)) if n > 1 else None
    return n, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, (
        noncontiguous
    )


@pytest.mark.spec("CONV-9", "CONV-26", "CONV-27")
@given(st.sampled_from([1, 2, 3]).flatmap(avg_pool_cases))
@example(  # ceil_mode window past the input: divides by the part inside input + padding
    (2, NOTES_INPUT, (3, 3), None, (1, 1), True, True, None, False)
)
def test_avg_pool_matches_torch(device, case):
    n, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor, noncontiguous = case
    args = (x, kernel, stride, padding, ceil_mode, count_include_pad)
    if n > 1:  # torch's avg_pool1d has no divisor_override
        args += (divisor,)
    out, expected = run_both(device, f"avg_pool{n}d", args, noncontiguous=noncontiguous)
    assert_matches(out, expected)


@pytest.mark.spec("CONV-9")
def test_avg_pool_divisors(device):
    x = np.ones((1, 1, 3, 3))
    tx = to_torch(x, device)
    # Corner window of a 3x3 kernel with padding 1 covers 4 input cells and 5 padding cells.
    assert avg_pool2d(x, 3, 1, 1)[0, 0, 0, 0] == pytest.approx(4 / 9)
    assert avg_pool2d(x, 3, 1, 1, count_include_pad=False)[0, 0, 0, 0] == 1.0
    assert avg_pool2d(x, 3, 1, 1, divisor_override=2)[0, 0, 0, 0] == 2.0
    assert_matches(F.avg_pool2d(tx, 3, 1, 1), avg_pool2d(x, 3, 1, 1))
    assert_matches(F.avg_pool2d(tx, 3, 1, 1, count_include_pad=False), np.ones((1, 1, 3, 3)))


# --- CONV-10, CONV-11: adaptive and power-average pooling -----------------------------------


@st.composite
def adaptive_cases(draw, n: int, fill=values):
    dtype = draw(float_dtypes())
    side = 6 if n < 3 else 4
    spatial = tuple(draw(st.integers(1, side)) for _ in range(n))
    x = fill(draw, (*batch_dims(draw), draw(st.integers(1, 2)), *spatial), dtype)
    one = st.integers(0, side)
    size = draw(one | st.tuples(*[one | st.none()] * n) if n > 1 else one | st.tuples(one))
    return n, x, size, draw(st.booleans())


@pytest.mark.spec("CONV-10", "CONV-26", "CONV-27")
@given(st.sampled_from([1, 2, 3]).flatmap(adaptive_cases))
@example((2, np.arange(5.0).reshape(1, 1, 1, 5), (1, 3), False))  # 5 -> 3 overlapping bins
def test_adaptive_pools_match_torch(device, case):
    n, x, size, noncontiguous = case
    out, expected = run_both(device, f"adaptive_avg_pool{n}d", (x, size), {}, noncontiguous)
    assert_matches(out, expected)
    (out, indices), (ref_out, ref_indices) = run_both(
        device, f"adaptive_max_pool{n}d", (x, size), {"return_indices": True}, noncontiguous
    )
    assert_matches(out, ref_out)
    assert (to_numpy(indices) == ref_indices).all() and indices.shape == ref_indices.shape


@pytest.mark.spec("CONV-10")
def test_adaptive_bins_overlap_when_sizes_do_not_divide(device):
    x = np.arange(5, dtype=np.float64).reshape(1, 1, 1, 5)
    # 5 -> 3 bins: [0, 2), [1, 4), [3, 5): bin i spans floor(5i/3) to ceil(5(i+1)/3).
    expected = [[[[0.5, 2.0, 3.5]]]]
    assert_matches(F.adaptive_avg_pool2d(to_torch(x, device), (1, 3)), expected)
    assert adaptive_avg_pool2d(x, (1, 3)).tolist() == expected


@pytest.mark.spec("CONV-11", "CONV-26", "CONV-27")
@given(
    st.sampled_from([1.0, 2.0, 3.0]),
    st.sampled_from([1, 2, 3]).flatmap(
        lambda n: st.tuples(st.just(n), pool_cases(n=n, dilated=False, padded=False))
    ),
)
@example(  # the soak's case (seed 4046828728): -10 + 2^-49 and 10 cubed nearly cancel
    norm_type=3.0,
    case=(1, (np.array([[[-1.0, 1.0], [np.nextafter(-10.0, 0.0), 10.0]]]), (2,), (1,), (0,),
              (1,), False, False)),
)
def test_lp_pool_matches_torch(device, norm_type, case):
    """Values match torch's. With an odd ``p`` the signed powers of a window can cancel, and
    the ``p``-th root of what is left turns a last-bit difference of the sum into a large
    one (its derivative is unbounded at 0): there the sums ``sign(y) |y|^p`` are compared,
    at the rounding of the window's ``sum |x|^p``."""
    n, (x, kernel, stride, _, _, ceil_mode, noncontiguous) = case
    kernel_size = kernel[0] if n == 1 else kernel  # lp_pool1d takes an int kernel
    args = (x, norm_type, kernel_size, stride, ceil_mode)
    out, expected = run_both(device, f"lp_pool{n}d", args, noncontiguous=noncontiguous)
    if norm_type % 2 == 0 or not out.numel():
        assert_matches(out, expected)
        return
    powered = to_numpy(out).astype(np.float64) ** norm_type
    window_scale = math.prod(kernel) * float(np.max(np.abs(x)) ** norm_type)
    resolution = float(np.finfo(x.dtype).eps) * 16 * window_scale
    np.testing.assert_allclose(powered, np.asarray(expected, np.float64) ** norm_type,
                               rtol=1e-7 if x.dtype == np.float64 else 1e-4, atol=resolution)


@pytest.mark.spec("CONV-11")
def test_lp_pool2d_with_p2_is_the_window_euclidean_norm(device):
    x = np.array([[[[3.0, 4.0], [0.0, 0.0]]]])
    assert_matches(F.lp_pool2d(to_torch(x, device), 2, 2), [[[[5.0]]]])
    assert lp_pool2d(x, 2, 2).tolist() == [[[[5.0]]]]


@pytest.mark.spec("CONV-11")
@requires_torch("2.13", "lp_pool with norm_type=inf is max pooling of |x| from torch 2.13")
def test_lp_pool_with_infinite_norm_is_max_pooling_of_abs(device):
    x = np.array([[[3.0, -4.0, 1.0, -0.5]]])
    expected = [[[4.0, 1.0]]]
    assert_matches(F.lp_pool1d(to_torch(x, device), math.inf, 2), expected)
    assert ref.lp_pool1d(x, math.inf, 2).tolist() == expected


# --- CONV-22: max_unpool, the partial inverse of max pooling ----------------------------------


@st.composite
def unpool_cases(draw, n: int, fill=values):
    x, kernel, stride, padding, _, ceil_mode, noncontiguous = draw(
        pool_cases(n, dilated=False, fill=fill)
    )
    stride = stride or kernel
    default = [
        (o - 1) * s + k - 2 * p
        for o, k, s, p in zip(
            (
                pool_output_size(L, k, s, p, 1, ceil_mode)
                for L, k, s, p in zip(x.shape[-n:], kernel, stride, padding, strict=True)
            ),
            kernel,
            stride,
            padding,
            strict=True,
        )
    ]
    output_size = None
    if draw(st.booleans()):  # anywhere strictly within one stride of the default size
        output_size = [
            draw(st.integers(max(d - s + 1, 0), d + s - 1))  # negative sizes: see CONV-22's xfail
            for d, s in zip(default, stride, strict=True)
        ]
    return n, x, kernel, stride, padding, ceil_mode, output_size, noncontiguous


@pytest.mark.spec("CONV-22", "CONV-26", "CONV-27")
@given(st.sampled_from([1, 2, 3]).flatmap(unpool_cases))
def test_max_unpool_matches_torch(device, case):
    n, x, kernel, stride, padding, ceil_mode, output_size, noncontiguous = case
    pooled, indices = getattr(F, f"max_pool{n}d")(
        tensor(x, device), kernel, stride, padding, ceil_mode=ceil_mode, return_indices=True
    )
    values_, index = to_numpy(pooled), to_numpy(indices)
    error = assert_same_outcome(
        device, f"max_unpool{n}d", (values_, index, kernel, stride, padding, output_size)
    )
    out = getattr(ref, f"max_unpool{n}d")
    if error is None and (out := out(values_, index, kernel, stride, padding, output_size)).size:
        # each pooled value lands on the position it came from
        planes = out.reshape(*out.shape[: out.ndim - n], -1)
        picked = np.take_along_axis(
            planes, index.reshape(*index.shape[: index.ndim - n], -1), axis=-1
        )
        assert (picked == values_.reshape(picked.shape)).all()


@pytest.mark.spec("CONV-22")
def test_max_unpool_recovers_the_size_with_output_size(device):
    # torch's docs example: 5x5 pooled by 2 gives 2x2; the default unpool size is 4x4,
    # output_size=(5, 5) recovers the original.
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    pooled, indices = max_pool2d(x, 2, return_indices=True)
    assert indices[0, 0].tolist() == [[6, 8], [16, 18]]
    # the default size (2 - 1) 2 + 2 = 4: index 18 lies outside a 4x4 plane, both raise
    assert_both_raise(
        lambda: F.max_unpool2d(to_torch(pooled, device), to_torch(indices, device), 2),
        lambda: ref.max_unpool2d(pooled, indices, 2),
        match="invalid max index",
    )
    out = ref.max_unpool2d(pooled, indices, 2, output_size=(5, 5))
    assert out.shape == (1, 1, 5, 5) and out[0, 0, 1, 1] == 6 and out.sum() == 6 + 8 + 16 + 18
    tp, ti = F.max_pool2d(to_torch(x, device), 2, return_indices=True)
    assert_matches(nn.MaxUnpool2d(2)(tp, ti, output_size=(5, 5)), out)


@pytest.mark.spec("CONV-22")
@known_torch_bug(
    fixed_in="2.13",
    issue="pytorch/pytorch#73154",
    why="a negative output_size with a zero batch returns a tensor of shape (0, 1, -1, 1)",
)
def test_max_unpool_rejects_a_negative_output_size(device):
    x, index = np.zeros((0, 1, 1, 1), np.float32), np.zeros((0, 1, 1, 1), np.int64)
    assert_both_raise(
        # kernel (2, 1), stride (2, 1), padding (1, 0): default size 0, so -1 is within range
        lambda: F.max_unpool2d(to_torch(x, device), to_torch(index, device), (2, 1), (2, 1),
                               (1, 0), output_size=[-1, 1]),
        lambda: ref.max_unpool2d(x, index, (2, 1), (2, 1), (1, 0), output_size=[-1, 1]),
        match="non-negative",
    )


# --- CONV-23: fractional max pooling with explicit samples ------------------------------------


@st.composite
def fractional_cases(draw, n: int):
    dtype = draw(float_dtypes())
    lead = batch_dims(draw)
    channels = draw(st.integers(1, 2))
    spatial = [draw(st.integers(2, 6 if n == 2 else 4)) for _ in range(n)]
    kernel = tuple(draw(st.integers(1, min(3, L))) for L in spatial)
    x = values(draw, (*lead, channels, *spatial), dtype)
    unit = st.floats(0, 1, exclude_max=True, width=np.dtype(dtype).itemsize * 8)
    samples = draw(hnp.arrays(dtype, (lead[0] if lead else 1, channels, n), elements=unit))
    if draw(st.booleans()):
        kwargs = {"output_size": tuple(draw(st.integers(1, max(1, L - k + (n == 2))))
                                       for L, k in zip(spatial, kernel, strict=True))}
    else:
        kwargs = {"output_ratio": tuple(draw(st.sampled_from([0.3, 0.5, 0.7, 0.9]))
                                        for _ in range(n))}
    return n, x, kernel, kwargs, samples


@pytest.mark.spec("CONV-23", "CONV-26", "CONV-27")
@given(st.sampled_from([2, 3]).flatmap(fractional_cases))
@example((2, np.arange(49.0).reshape(1, 1, 7, 7), (2, 2), {"output_size": (3, 3)},
          np.array([[[0.9, 0.0]]])))  # sample 0 drives the width, sample 1 the height
def test_fractional_max_pool_matches_torch(device, case):
    n, x, kernel, kwargs, samples = case
    kwargs = {**kwargs, "return_indices": True, "_random_samples": samples}
    assert_same_outcome(device, f"fractional_max_pool{n}d", (x, kernel), kwargs)


@pytest.mark.spec("CONV-23")
def test_fractional_intervals_follow_torchs_sequence():
    # alpha = (7 - 2) / (3 - 1) = 2.5; u = 0.9: starts int((i + 0.9) 2.5) - int(0.9 * 2.5)
    # = 0, 2 for i = 0, 1, and the last window ends at the edge: 7 - 2 = 5.
    x = np.arange(49.0).reshape(1, 1, 7, 7)
    out, index = ref.fractional_max_pool2d(
        x, 2, output_size=3, return_indices=True, _random_samples=np.array([[[0.9, 0.0]]])
    )
    cols = [1 + 0, 1 + 2, 1 + 5]  # window starts (0, 2, 5) along the width, max at +1
    rows = [1 + 0, 1 + 2, 1 + 5]  # u = 0: int(i * 2.5) = 0, 2, then 5
    assert index[0, 0].tolist() == [[r * 7 + c for c in cols] for r in rows]
    assert out[0, 0].tolist() == [[r * 7.0 + c for c in cols] for r in rows]


# --- CONV-12: unfold and fold ---------------------------------------------------------------


@st.composite
def unfold_cases(draw, forms: bool = True, fill=values):
    dtype = draw(float_dtypes())
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(2))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    h, w = sizes_from(draw, spans, list(padding), extra=2)
    x = fill(draw, (*batch_dims(draw, forms), draw(st.integers(1, 2)), h, w), dtype)
    return (
        x,
        dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride),
        draw(st.booleans()),
    )


@pytest.mark.spec("CONV-12", "CONV-26", "CONV-27")
@given(unfold_cases())
@example((np.zeros((0, 1, 5, 5)), dict(kernel_size=2, dilation=1, padding=0, stride=1), False))
def test_unfold_and_fold_match_torch(device, case):
    x, kwargs, noncontiguous = case
    cols, ref_cols = run_both(device, "unfold", (x,), kwargs, noncontiguous)
    assert_matches(cols, ref_cols)
    size = x.shape[-2:]
    assert_matches(*run_both(device, "fold", (ref_cols, size), kwargs, noncontiguous))


@pytest.mark.spec("CONV-12")
def test_unfold_of_a_zero_batch_keeps_the_column_shape(device):
    # issue 15: unfold on (0, 1, 5, 5) with a 2x2 kernel is (0, 1*2*2, 4*4) in torch
    x = np.zeros((0, 1, 5, 5), np.float32)
    assert F.unfold(to_torch(x, device), 2).shape == (0, 4, 16)
    assert unfold(x, 2).shape == (0, 4, 16)
    assert fold(unfold(x, 2), (5, 5), 2).shape == (0, 1, 5, 5)
    # the layers are the functions
    y = np.arange(18.0).reshape(2, 3, 3)
    cols = nn.Unfold(2, padding=1)(to_torch(y, device))
    assert_matches(cols, ref.Unfold(2, padding=1)(y))
    assert_matches(nn.Fold(3, 2, padding=1)(cols), ref.Fold(3, 2, padding=1)(to_numpy(cols)))


@pytest.mark.spec("CONV-12")
@given(unfold_cases(forms=False), st.integers(1, 3))
def test_unfold_matmul_fold_is_conv2d(device, case, out_channels):
    x, kwargs, _ = case
    x = x.astype(np.float64)
    k, d, p, s = kwargs["kernel_size"], kwargs["dilation"], kwargs["padding"], kwargs["stride"]
    w = np.linspace(-1, 1, out_channels * x.shape[1] * k[0] * k[1]).reshape(
        out_channels, x.shape[1], *k
    )
    out_size = tuple(
        conv_output_size(L, kk, ss, pp, dd)
        for L, kk, ss, pp, dd in zip(x.shape[2:], k, s, p, d, strict=True)
    )
    expected = F.conv2d(to_torch(x, device), to_torch(w, device), stride=s, padding=p, dilation=d)
    # torch: the weight as a (out, C kH kW) matrix times the columns, folded with a 1x1 kernel.
    cols = F.unfold(to_torch(x, device), **kwargs)
    via_torch = F.fold(to_torch(w.reshape(out_channels, -1), device) @ cols, out_size, 1)
    assert_matches(via_torch, to_numpy(expected))
    via_reference = fold(w.reshape(out_channels, -1) @ unfold(x, **kwargs), out_size, 1)
    assert_matches(expected, via_reference)
    assert_matches(expected, conv2d(x, w, stride=s, padding=p, dilation=d))


# --- CONV-13, CONV-14, CONV-19, CONV-20, CONV-21: interpolation --------------------------------

FACTORS = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.4, 2.5, 3.0]


@st.composite
def interpolate_cases(draw, n: int, max_side: int = 5, fill=None):
    dtype = draw(float_dtypes())
    spatial = tuple(draw(st.integers(1, max_side)) for _ in range(n))
    lead = draw(st.sampled_from([(1, 1), (2, 1), (1, 2), (0, 2)]))
    x = (
        draw(finite_arrays((*lead, *spatial), dtype, min_value=-10, max_value=10))
        if fill is None
        else fill(draw, (*lead, *spatial), dtype)
    )
    if draw(st.booleans()):
        kwargs: dict = {"size": tuple(draw(st.integers(1, 2 * max_side - 1)) for _ in range(n))}
    else:
        factor = draw(st.sampled_from(FACTORS) | st.floats(0.3, 3.0))
        factor = max(factor, 1 / min(spatial))  # every output size at least 1
        kwargs = {
            "scale_factor": factor,
            "recompute_scale_factor": draw(st.sampled_from([None, False, True])),
        }
    return x, kwargs, draw(st.booleans())


def _output_sizes(x: np.ndarray, kwargs: dict) -> tuple[int, ...]:
    if "size" in kwargs:
        return tuple(kwargs["size"])
    return tuple(int(L * kwargs["scale_factor"]) for L in x.shape[2:])


def _cpu_shortcut(device, x: np.ndarray, kwargs: dict, *, halves: bool = False) -> bool:
    """Whether a case takes a shortcut of torch's CPU kernels off a device other than the CPU:
    an unchanged size (or, for 2-D nearest, a doubled one) read as a copy whatever the
    scale factor in use. The suite states and checks those shortcuts on the CPU only."""
    if str(device) == "cpu" or "size" in kwargs or kwargs.get("recompute_scale_factor"):
        return False
    f = kwargs["scale_factor"]
    return any(
        (o == L and f != 1) or (halves and o == 2 * L and f != 2)
        for L, o in zip(x.shape[2:], _output_sizes(x, kwargs), strict=True)
    )


@pytest.mark.spec("CONV-13", "CONV-26")
@given(
    st.sampled_from(["nearest", "nearest-exact"]),
    st.sampled_from([1, 2, 3]).flatmap(lambda n: interpolate_cases(n, 5 if n < 3 else 3)),
)
# issue 14: float32, scale 1.25 on [[[0., 1.]]]: 1-D reads floor(o / 1.25) = [0, 0] (no copy)
@example("nearest", (np.array([[[0.0, 1.0]]], np.float32), {"scale_factor": 1.25}, False))
# 2-D on the CPU: an unchanged size copies and a doubled one halves, whatever the scale
@example("nearest", (np.arange(4.0).reshape(1, 1, 2, 2), {"scale_factor": 1.25}, False))
@example("nearest", (np.arange(4.0).reshape(1, 1, 2, 2), {"scale_factor": 2.4}, False))
@example("nearest-exact", (np.arange(4.0).reshape(1, 1, 2, 2), {"scale_factor": 1.25}, False))
@example("nearest", (np.arange(8.0).reshape(1, 1, 2, 2, 2), {"size": (3, 1, 4)}, True))  # 5-D
# float32 arithmetic: 41 * float32(2 / 82) rounds to 1.0 (float64: 0.99999...), so source 1
@example("nearest", (np.array([[[0.0, 1.0]]], np.float32), {"size": 82}, False))
def test_interpolate_nearest_matches_torch(device, mode, case):
    x, kwargs, noncontiguous = case
    if _cpu_shortcut(device, x, kwargs, halves=mode == "nearest" and x.ndim == 4):
        return
    out, expected = run_both(device, "interpolate", (x,), {**kwargs, "mode": mode}, noncontiguous)
    assert_matches(out, expected)


@pytest.mark.spec("CONV-13")
def test_interpolate_nearest_doubling_repeats_each_pixel(device):
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = x.repeat(2, axis=2).repeat(2, axis=3)
    assert_matches(F.interpolate(to_torch(x, device), scale_factor=2), expected)
    assert (interpolate(x, scale_factor=2) == expected).all()


LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


@pytest.mark.spec("CONV-14", "CONV-26")
@given(
    st.sampled_from([1, 2, 3]).flatmap(lambda n: interpolate_cases(n, 5 if n < 3 else 3)),
    st.booleans(),
)
# issue 14: an unchanged size is a copy although the scale 1.25 would blend (rows here)
@example((np.arange(4.0, dtype=np.float32).reshape(1, 1, 2, 2), {"scale_factor": 1.25}, False),
         False)
@example((np.arange(3.0).reshape(1, 1, 3), {"size": 1}, False), False)  # one output: middle
def test_interpolate_linear_modes_match_torch(device, case, align_corners):
    x, kwargs, noncontiguous = case
    if _cpu_shortcut(device, x, kwargs):
        return
    kwargs = {**kwargs, "mode": LINEAR_MODES[x.ndim - 2], "align_corners": align_corners}
    assert_matches(*run_both(device, "interpolate", (x,), kwargs, noncontiguous))


@pytest.mark.spec("CONV-14")
def test_bilinear_align_corners_keeps_the_corners(device):
    x = np.array([[[[0.0, 3.0], [6.0, 9.0]]]])
    aligned = F.interpolate(to_torch(x, device), size=(4, 4), mode="bilinear", align_corners=True)
    assert_matches(aligned[..., 0, :], [[[0.0, 1.0, 2.0, 3.0]]])
    assert_matches(aligned, interpolate(x, size=(4, 4), mode="bilinear", align_corners=True))
    # align_corners=False samples pixel centres: the first output maps to -0.25, clamped to 0.
    half = F.interpolate(to_torch(x, device), size=(4, 4), mode="bilinear", align_corners=False)
    assert_matches(half[..., 0, :], [[[0.0, 0.75, 2.25, 3.0]]])
    assert_matches(half, interpolate(x, size=(4, 4), mode="bilinear", align_corners=False))


@pytest.mark.spec("CONV-19")
@given(interpolate_cases(2), st.booleans())
@example(  # soak seed 321423438: 0.028 from taps up to 10, off by 1.4e-5 in float32
    case=(np.array([[[[5.0, 9.0], [8.0, 0.0], [9.0, 10.0]]]], np.float32),
          {"scale_factor": 2.341385388362068, "recompute_scale_factor": None}, False),
    align_corners=False,
)
def test_interpolate_bicubic_matches_torch(device, case, align_corners):
    """Keys' kernel has negative lobes, so a result near 0 can be what is left of taps as large
    as max |x|: torch's float32 sum is good to a few units in the last place of max |x| (up
    to 32 here), not of the result."""
    x, kwargs, noncontiguous = case
    kwargs = {**kwargs, "mode": "bicubic", "align_corners": align_corners}
    actual, expected = run_both(device, "interpolate", (x,), kwargs, noncontiguous)
    cancellation = 32 * np.finfo(x.dtype).eps * float(np.abs(x).max(initial=0.0))
    assert_matches(actual, expected, atol=max(TOLERANCES[actual.dtype]["atol"], cancellation))


@pytest.mark.spec("CONV-19")
def test_bicubic_uses_keys_a_minus_075_and_clamps_at_the_border(device):
    x = np.array([[[[0.0, 0.0, 1.0, 0.0, 0.0]]]])
    out = interpolate(x, size=(1, 10), mode="bicubic", align_corners=False)
    # output 3 reads src = (3 + 1/2) / 2 - 1/2 = 1.25: taps 0..3 at t = 1/4; the 1 sits at
    # tap 2, weight ((A + 2)(3/4) - (A + 3))(3/4)^2 + 1 with A = -0.75.
    a, t = -0.75, 0.75
    assert out[0, 0, 0, 3] == pytest.approx(((a + 2) * t - (a + 3)) * t * t + 1)
    # output 0 reads src = -0.25: taps -2..1 clamp to 0, 0, 0, 1 (the border weights add up)
    edge = np.array([[[[5.0, 1.0]]]])
    first = interpolate(edge, size=(1, 4), mode="bicubic", align_corners=False)[0, 0, 0, 0]
    coefficients = ref._cubic_coefficients(np.array(0.75), -0.75)
    assert first == pytest.approx(5 * sum(coefficients[:3]) + 1 * coefficients[3])
    assert_matches(F.interpolate(to_torch(x, device), size=(1, 10), mode="bicubic"), out)
    assert_matches(F.interpolate(to_torch(edge, device), size=(1, 4), mode="bicubic"),
                   interpolate(edge, size=(1, 4), mode="bicubic"))


def _antialias_bug(x: np.ndarray, kwargs: dict) -> bool:
    """torch's CPU antialias kernel is wrong for an output width 1 with a new height (see
    test_torch_antialias_with_output_width_1)."""
    out = _output_sizes(x, kwargs)
    return out[1] == 1 and out[0] != x.shape[2]


@pytest.mark.spec("CONV-20")
@given(st.sampled_from(["bilinear", "bicubic"]), interpolate_cases(2, 6), st.booleans())
@example("bilinear", (np.arange(8.0).reshape(1, 1, 2, 4), {"size": (2, 2)}, False), False)
def test_interpolate_antialias_matches_torch(device, mode, case, align_corners):
    x, kwargs, noncontiguous = case
    if _antialias_bug(x, kwargs) or _cpu_shortcut(device, x, kwargs):
        return
    kwargs = {**kwargs, "mode": mode, "align_corners": align_corners, "antialias": True}
    assert_matches(*run_both(device, "interpolate", (x,), kwargs, noncontiguous))


@pytest.mark.spec("CONV-20")
@known_torch_bug(
    fixed_in=None,
    issue="not yet reported upstream",
    why="antialiased bilinear/bicubic with output width 1 and a new height repeats the first "
    "output row (4x2 -> 2x1 gives [1.93, 1.93], not [1.93, 5.07])",
)
def test_torch_antialias_with_output_width_1():
    x = np.arange(8.0).reshape(1, 1, 4, 2)
    expected = interpolate(x, size=(2, 1), mode="bilinear", antialias=True)
    assert_matches(F.interpolate(torch.tensor(x), size=(2, 1), mode="bilinear", antialias=True),
                   expected)


@pytest.mark.spec("CONV-20")
def test_antialias_shrinks_with_a_stretched_triangle():
    # 4 -> 2: r = 2, the triangle 1 - |x| stretched by 2 around the centre 1 of output 0
    # weighs pixel centres 0.5, 1.5, 2.5 by 3/4, 3/4, 1/4 (pixel 3 is outside the support);
    # normalized: 3/7, 3/7, 1/7, 0
    weights = ref.antialias_weights(4, 2)
    assert weights[0].tolist() == pytest.approx([3 / 7, 3 / 7, 1 / 7, 0.0])
    assert weights.sum(axis=1) == pytest.approx([1.0, 1.0])


INTERPOLATE_DIMS = {
    "nearest": (1, 2, 3),
    "nearest-exact": (1, 2, 3),
    "area": (1, 2, 3),
    "linear": (1,),
    "bilinear": (2,),
    "bicubic": (2,),
    "trilinear": (3,),
}


@st.composite
def upsample_cases(draw):
    mode = draw(st.sampled_from(sorted(INTERPOLATE_DIMS)))
    n = draw(st.sampled_from(INTERPOLATE_DIMS[mode]))
    x, kwargs, _ = draw(interpolate_cases(n, 4 if n < 3 else 3))
    align = draw(st.booleans()) if mode in LINEAR_MODES.values() or mode == "bicubic" else None
    return mode, x, kwargs, align


@pytest.mark.spec("CONV-21")
@given(upsample_cases())
def test_upsample_is_interpolate_and_area_is_adaptive_average(device, case):
    mode, x, kwargs, align_corners = case
    if _cpu_shortcut(device, x, kwargs, halves=mode == "nearest" and x.ndim == 4):
        return
    layer_kwargs = {**kwargs, "mode": mode, "align_corners": align_corners}
    out = nn.Upsample(**layer_kwargs)(tensor(x, device))
    expected = ref.Upsample(**layer_kwargs)(x)
    assert_matches(out, expected)
    assert_matches(out, interpolate(x, **layer_kwargs))
    if mode == "area":
        pool = getattr(ref, f"adaptive_avg_pool{x.ndim - 2}d")
        assert_matches(out, pool(x, _output_sizes(x, kwargs)))


# --- CONV-15, CONV-16, CONV-17, CONV-24: linear layers and their init --------------------------


@st.composite
def linear_cases(draw, fill=values):
    dtype = draw(float_dtypes())
    batch = tuple(draw(st.integers(0, 3)) for _ in range(draw(st.integers(0, 2))))
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    x = fill(draw, (*batch, n_in), dtype)
    w = fill(draw, (n_out, n_in), dtype)
    b = fill(draw, (n_out,), dtype) if draw(st.booleans()) else None
    return x, w, b, draw(st.booleans())


@pytest.mark.spec("CONV-15", "CONV-26", "CONV-27")
@given(linear_cases())
@example((np.ones((4, 0)), np.ones((2, 0)), np.ones(2), False))  # no features: the bias
@example((np.ones(3), np.ones(3), None, False))  # 1-D input and 1-D weight: a dot product
def test_linear_matches_torch(device, case):
    x, w, b, noncontiguous = case
    out = F.linear(
        tensor(x, device, noncontiguous), tensor(w, device, noncontiguous), tensor(b, device)
    )
    assert_matches(out, linear(x, w, b))


@pytest.mark.spec("CONV-15")
@given(st.integers(1, 6), st.integers(1, 6), st.booleans())
def test_linear_weight_is_out_by_in(device, n_in, n_out, with_bias):
    layer = nn.Linear(n_in, n_out, bias=with_bias, device=device)
    assert layer.weight.shape == (n_out, n_in)
    assert (layer.bias is None) != with_bias
    if with_bias:
        assert layer.bias.shape == (n_out,)
    x = torch.ones(2, n_in, device=device)
    bias = None if layer.bias is None else layer.bias.detach().cpu().numpy()
    assert_matches(
        layer(x), linear(np.ones((2, n_in), np.float32), layer.weight.detach().cpu().numpy(), bias)
    )
    mine = ref.Linear(n_in, n_out, bias=with_bias, rng=np.random.default_rng(0))
    assert mine.weight.shape == (n_out, n_in) and (mine.bias is None) != with_bias


@pytest.mark.spec("CONV-24")
@given(st.integers(1, 5), st.integers(1, 4), st.lists(st.integers(0, 3), max_size=2),
       st.booleans())
def test_lazy_linear_infers_in_features_on_the_first_call(device, n_in, n_out, batch, with_bias):
    x = np.linspace(-1, 1, math.prod(batch) * n_in, dtype=np.float32).reshape(*batch, n_in)
    layer = nn.LazyLinear(n_out, bias=with_bias, device=device)
    mine = ref.LazyLinear(n_out, bias=with_bias, rng=np.random.default_rng(0))
    assert layer.in_features == mine.in_features == 0 and mine.weight is None
    out = layer(tensor(x, device))
    mine_out = mine(x)
    # The first call fixes in_features and turns the layer into a Linear of that shape.
    assert type(layer) is nn.Linear and type(mine) is ref.Linear
    assert layer.in_features == mine.in_features == n_in
    assert layer.weight.shape == mine.weight.shape == (n_out, n_in)
    assert out.shape == mine_out.shape == (*batch, n_out)
    low, high = default_init_bounds(n_in)
    assert low <= mine.weight.min() and mine.weight.max() <= high
    mine.weight = to_numpy(layer.weight)
    mine.bias = None if layer.bias is None else to_numpy(layer.bias)
    assert_matches(out, mine(x))
    # Afterwards it is an ordinary Linear: another feature size raises in both.
    wrong = np.ones((2, n_in + 1), np.float32)
    assert_both_raise(lambda: layer(tensor(wrong, device)), lambda: mine(wrong), match="shape")


@pytest.mark.spec("CONV-16", "CONV-27")
@given(st.data())
def test_bilinear_matches_torch(device, data):
    dtype = data.draw(float_dtypes())
    batch = data.draw(st.sampled_from([(), (0,), (1,), (3,), (2, 2)]))
    n1, n2, n_out = (data.draw(st.integers(1, 4)) for _ in range(3))
    x1 = values(data.draw, (*batch, n1), dtype)
    x2 = values(data.draw, (*batch, n2), dtype)
    w = values(data.draw, (n_out, n1, n2), dtype)
    b = values(data.draw, (n_out,), dtype) if data.draw(st.booleans()) else None
    noncontiguous = data.draw(st.booleans())
    out = F.bilinear(
        tensor(x1, device, noncontiguous),
        tensor(x2, device),
        tensor(w, device, noncontiguous),
        tensor(b, device),
    )
    assert_matches(out, bilinear(x1, x2, w, b))


@pytest.mark.spec("CONV-16")
def test_bilinear_layer_weight_shape(device):
    layer = nn.Bilinear(2, 3, 4, device=device)
    assert layer.weight.shape == (4, 2, 3) and layer.bias.shape == (4,)
    x1, x2 = np.ones((1, 2), np.float32), np.ones((1, 3), np.float32)
    expected = bilinear(x1, x2, to_numpy(layer.weight), to_numpy(layer.bias))
    assert_matches(layer(to_torch(x1, device), to_torch(x2, device)), expected)


def _assert_uniform_on(samples: np.ndarray, bound: float, edge_slack: float) -> None:
    """Samples lie in [-bound, bound] and fill it like U(-bound, bound).

    False-failure rates for truly uniform samples (n of them): the maximum |w| stays below
    (1 - edge_slack) bound with probability (1 - edge_slack)^n; the mean leaves 5 standard
    errors with probability 5.7e-7; the variance (relative sd sqrt(0.8 / n) for a uniform)
    leaves +-15% with probability below 1e-6 for n >= 1000 (bias tests use only the bounds
    and the edge check).
    """
    n = samples.size
    assert np.abs(samples).max() <= bound
    assert np.abs(samples).max() >= bound * (1 - edge_slack)
    if n >= 1000:
        assert abs(samples.mean()) <= 5 * bound / math.sqrt(3 * n)
        assert samples.var() == pytest.approx(bound**2 / 3, rel=0.15)


@pytest.mark.spec("CONV-17")
def test_default_init_is_uniform_within_bounds(device):
    # Fixed seed (conftest seeds 0 before each test), so the outcome is deterministic; the
    # stated rates say how unlikely a failure would be for another seed.
    linear_layer = nn.Linear(64, 48, device=device)
    low, high = default_init_bounds(64)
    assert (low, high) == (-0.125, 0.125)
    # 3072 weights: edge check false-failure rate 0.995^3072 = 2e-7.
    _assert_uniform_on(linear_layer.weight.detach().cpu().numpy(), high, edge_slack=0.005)
    # 48 biases: 0.75^48 = 1e-6.
    _assert_uniform_on(linear_layer.bias.detach().cpu().numpy(), high, edge_slack=0.25)
    conv = nn.Conv2d(4, 6, 3, groups=2, device=device)  # fan_in = 4/2 * 3 * 3 = 18
    _, conv_high = default_init_bounds(18)
    # 108 weights: 0.85^108 = 2.4e-8; 6 biases are only checked against the bound.
    _assert_uniform_on(conv.weight.detach().cpu().numpy(), conv_high, edge_slack=0.15)
    assert np.abs(conv.bias.detach().cpu().numpy()).max() <= conv_high
    # The reference Linear draws from the same interval (same false-failure rates).
    mine = ref.Linear(64, 48, rng=np.random.default_rng(0))
    _assert_uniform_on(mine.weight, high, edge_slack=0.005)


@pytest.mark.spec("CONV-17")
def test_default_init_bounds_rejects_empty_fan_in():
    with pytest.raises(ValueError, match="fan_in"):
        default_init_bounds(0)


# --- CONV-26: which empty inputs each layer accepts -----------------------------------------

# (name, spatial dims, extra positional arguments given the channels and dtype, kwargs)
EMPTY_CASES = [
    ("conv1d", 1, lambda c, t: (np.ones((2, c, 1), t),), {}),
    ("conv2d", 2, lambda c, t: (np.ones((2, c, 1, 1), t),), {}),
    ("conv3d", 3, lambda c, t: (np.ones((2, c, 1, 1, 1), t),), {}),
    ("conv_transpose2d", 2, lambda c, t: (np.ones((c, 2, 1, 1), t),), {}),
    *[(f"max_pool{n}d", n, lambda c, t: (1,), {}) for n in (1, 2, 3)],
    *[(f"avg_pool{n}d", n, lambda c, t: (1,), {}) for n in (1, 2, 3)],
    *[(f"adaptive_avg_pool{n}d", n, lambda c, t, o=o: (o,), {}) for n in (1, 2, 3) for o in (1, 2)],
    *[(f"adaptive_max_pool{n}d", n, lambda c, t: (2,), {}) for n in (1, 2, 3)],
    ("lp_pool2d", 2, lambda c, t: (2.0, 1), {}),
    ("unfold", 2, lambda c, t: (1,), {}),
    *[("pad", n, lambda c, t, n=n: ((1, 0) * n,), {"mode": mode})
      for n in (1, 2) for mode in MODES],
    *[("interpolate", n, lambda c, t: (), {"size": 2}) for n in (1, 2, 3)],
    ("interpolate", 2, lambda c, t: (), {"size": 2, "mode": "bilinear"}),
    ("interpolate", 2, lambda c, t: (), {"size": 1, "mode": "area"}),
]


@st.composite
def empty_cases(draw):
    name, n, extra, kwargs = draw(st.sampled_from(EMPTY_CASES))
    lead = draw(st.sampled_from([(0,), (1,), ()] if name != "interpolate" else [(0,), (1,)]))
    channels = draw(st.sampled_from([0, 1, 2]))
    spatial = tuple(draw(st.sampled_from([1, 2, 0])) for _ in range(n))
    dtype = draw(float_dtypes())
    x = np.arange(math.prod((*lead, channels, *spatial)), dtype=dtype).reshape(
        *lead, channels, *spatial
    )
    return name, (x, *extra(channels, dtype)), kwargs


@pytest.mark.spec("CONV-26")
@given(empty_cases())
@example(("max_pool1d", (np.zeros((0, 10), np.float32), 2), {}))  # issue 15: torch raises
@example(("unfold", (np.zeros((0, 1, 5, 5), np.float32), 2), {}))  # issue 15: (0, 4, 16)
@example(("adaptive_max_pool2d", (np.zeros((0, 4, 4), np.float32), 2), {}))  # unbatched C=0
@example(("pad", (np.zeros((1, 0, 3), np.float32), (1, 1)), {"mode": "circular"}))
def test_empty_inputs_are_accepted_or_rejected_as_in_torch(device, case):
    name, args, kwargs = case
    assert_same_outcome(device, name, args, kwargs)


@pytest.mark.spec("CONV-26")
def test_a_zero_batch_goes_through_every_layer(device):
    # A zero batch is accepted everywhere; unfold, fold and the poolings keep their shapes.
    x = np.zeros((0, 2, 4, 4), np.float32)
    assert ref.max_pool2d(x, 2).shape == tuple(F.max_pool2d(to_torch(x, device), 2).shape)
    assert ref.conv2d(x, np.ones((3, 2, 3, 3), np.float32)).shape == (0, 3, 2, 2)
    samples = np.zeros((0, 2, 2), np.float32)
    out = F.fractional_max_pool2d(to_torch(x, device), 2, output_size=2,
                                  _random_samples=to_torch(samples, device))
    assert ref.fractional_max_pool2d(x, 2, output_size=2, _random_samples=samples).shape == (
        tuple(out.shape))
    pooled, index = ref.max_pool2d(x, 2, return_indices=True)
    assert ref.max_unpool2d(pooled, index, 2).shape == (0, 2, 4, 4)


# --- CONV-28: dtypes ------------------------------------------------------------------------

I64, F32, F64 = np.int64, np.float32, np.float64
DTYPE_CASES = [  # (name, shapes of the tensor arguments, their dtypes)
    ("conv2d", [(1, 1, 3, 3), (1, 1, 2, 2), (1,)], [I64, I64, F32]),  # issue 15
    ("conv2d", [(1, 1, 3, 3), (1, 1, 2, 2)], [F32, F64]),
    ("conv1d", [(1, 1, 3), (1, 1, 2), (1,)], [F64, F64, F32]),
    ("conv3d", [(1, 1, 2, 2, 2), (1, 1, 1, 1, 1)], [F64, F32]),
    ("conv_transpose2d", [(1, 1, 3, 3), (1, 1, 2, 2)], [F32, F64]),
    ("linear", [(2, 3), (4, 3)], [F32, F64]),
    ("linear", [(2, 3), (4, 3), (4,)], [F32, F32, F64]),
    ("bilinear", [(2, 3), (2, 2), (4, 3, 2)], [F64, F64, F32]),
]


@pytest.mark.spec("CONV-28")
@pytest.mark.parametrize("name, shapes, dtypes", DTYPE_CASES)
def test_mixed_dtypes_are_rejected_naming_both(device, name, shapes, dtypes):
    args = [np.ones(s, d) for s, d in zip(shapes, dtypes, strict=True)]
    torch_error, ref_error = assert_both_raise(
        lambda: getattr(F, name)(*(to_torch(a, device) for a in args)),
        lambda: getattr(ref, name)(*args),
        reference_error=TypeError,
        torch_error=RuntimeError,
    )
    assert re.search("type|dtype", str(torch_error), re.IGNORECASE)
    odd = next(d for d in dtypes if d != dtypes[0])
    assert np.dtype(dtypes[0]).name in str(ref_error) and np.dtype(odd).name in str(ref_error)


@pytest.mark.spec("CONV-28")
@pytest.mark.parametrize("dtype", [F32, F64])
def test_results_keep_the_floating_dtype(device, dtype):
    x = np.linspace(-1, 1, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4).astype(dtype)
    w = np.ones((2, 3, 2, 2), dtype)
    outputs = {
        "conv2d": (x, w),
        "max_pool2d": (x, 2),
        "avg_pool2d": (x, 2),
        "adaptive_avg_pool2d": (x, 3),
        "lp_pool2d": (x, 2.0, 2),
        "unfold": (x, 2),
        "pad": (x, (1, 1, 1, 1), "reflect"),
        "interpolate": (x, 3),
        "linear": (x, np.ones((5, 4), dtype)),
    }
    for name, args in outputs.items():
        out, expected = run_both(device, name, args)
        assert expected.dtype == dtype and out.dtype == to_torch(x).dtype, name
        assert_matches(out, expected)


@pytest.mark.spec("CONV-28")
def test_integer_inputs_on_the_cpu(device):
    """torch's CPU kernels compute conv, max pooling, padding and linear on int64 inputs in
    integer arithmetic (other devices may not implement them)."""
    if str(device) != "cpu":
        pytest.skip(f"integer kernels are a CPU feature; {device} may lack them")
    x = np.arange(-8, 8, dtype=np.int64).reshape(1, 1, 4, 4)
    w = np.array([[[[1, -2], [3, 0]]]], dtype=np.int64)
    cases = {
        "conv2d": (x, w, np.array([5], np.int64)),
        "max_pool2d": (x, 2),
        "linear": (x, np.ones((2, 4), np.int64)),
        **{f"pad {mode}": (x, (1, 2, 0, 1), mode) for mode in MODES[1:]},
    }
    for name, args in cases.items():
        out, expected = run_both(device, name.split()[0], args)
        assert out.dtype == torch.int64 and expected.dtype == np.int64, name
        assert (to_numpy(out) == expected).all(), name


# --- CONV-29: invalid inputs, one table -----------------------------------------------------


def z(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


# (function, positional args, kwargs, torch's exception class, keyword in both messages)
ERROR_INPUTS = [
    ("conv2d", (z(1, 3, 5, 5), z(2, 2, 3, 3)), {}, RuntimeError, "channels"),
    ("conv2d", (z(1, 4, 5, 5), z(3, 2, 3, 3)), {"groups": 2}, RuntimeError, "groups"),
    ("conv2d", (z(1, 3, 5, 5), z(2, 3, 3)), {}, RuntimeError, "convolution dimensions"),
    ("conv1d", (z(1, 2, 5), z(0, 2, 3)), {}, RuntimeError, "weight"),
    ("conv1d", (z(1, 2, 0), z(3, 2, 1)), {"padding": 1}, RuntimeError, "zero batch"),
    ("conv1d", (z(1, 1, 2), z(1, 1, 3)), {}, RuntimeError, "kernel"),
    ("conv1d", (z(1, 1, 5), z(1, 1, 3)), {"stride": 0}, RuntimeError, "stride"),
    ("conv1d", (z(1, 1, 5), z(1, 1, 3)), {"padding": -1}, RuntimeError, "padding"),
    ("conv1d", (z(1, 1, 5), z(1, 1, 3)), {"dilation": 0}, RuntimeError, "dilation"),
    ("conv2d", (z(1, 1, 5, 5), z(1, 1, 3, 3)), {"stride": 2, "padding": "same"},
     RuntimeError, "strided"),
    ("conv2d", (z(1, 1, 5, 5), z(1, 1, 3, 3)), {"padding": "full"}, (RuntimeError, ValueError),
     "padding"),
    ("conv_transpose1d", (z(1, 1, 3), z(1, 1, 2)), {"stride": 2, "output_padding": 2},
     RuntimeError, "output.padding"),
    ("conv_transpose2d", (z(1, 2, 3, 3), z(3, 1, 2, 2)), {}, RuntimeError, "channels|weight"),
    ("max_pool1d", (z(0, 10), 2), {}, RuntimeError, "batch"),  # issue 15
    ("max_pool2d", (z(1, 0, 4, 4), 2), {}, RuntimeError, "batch"),
    ("max_pool3d", (z(1, 0, 4, 4, 4), 2), {}, RuntimeError, "batch"),
    ("max_pool2d", (z(1, 1, 4, 4), 2, 2, 2), {}, RuntimeError, "half"),
    ("max_pool2d", (z(1, 1, 2, 2), 3), {}, RuntimeError, "output size"),
    ("avg_pool2d", (z(1, 1, 4, 4), 2), {"divisor_override": 0}, RuntimeError, "divisor"),
    ("avg_pool3d", (z(1, 0, 4, 4, 4), 2), {}, RuntimeError, "batch"),
    ("avg_pool3d", (z(1, 1, 1, 1, 1), (1, 2, 1)), {"padding": (0, 1, 0)}, RuntimeError,
     "smaller than kernel size"),
    ("adaptive_avg_pool2d", (z(1, 2, 0, 4), 2), {}, RuntimeError, "non-batch|non-zero"),
    ("adaptive_avg_pool3d", (z(1, 0, 4, 4, 4), 2), {}, RuntimeError, "non-batch|non-zero"),
    ("adaptive_max_pool2d", (z(1, 0, 4, 4), 2), {}, RuntimeError, "non-batch|non-zero"),
    ("adaptive_avg_pool2d", (z(1, 1, 4, 4), (2, 2, 2)), {}, (RuntimeError, ValueError),
     "output_size"),
    ("lp_pool2d", (z(1, 1, 4, 4), 0, 2), {}, (ValueError, ZeroDivisionError),
     "norm_type|division by zero"),
    ("max_unpool2d", (z(1, 1, 2, 2), np.zeros((1, 1, 2, 2), np.int32), 2), {}, RuntimeError,
     "int64"),
    ("max_unpool2d", (z(1, 1, 2, 2), np.full((1, 1, 2, 2), 16), 2), {}, RuntimeError,
     "invalid max index"),
    ("max_unpool2d", (z(1, 1, 2, 2), np.zeros((1, 1, 2, 1), np.int64), 2), {}, RuntimeError,
     "shape"),
    ("max_unpool2d", (z(1, 1, 2, 2), np.zeros((1, 1, 2, 2), np.int64), 2),
     {"output_size": (6, 6)}, ValueError, "output_size"),
    ("max_unpool2d", (z(1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.int64), (2, 1), (2, 1), (1, 0)),
     {"output_size": (-1, 1)}, (ValueError, RuntimeError), "non-negative|overflow"),
    ("fractional_max_pool2d", (z(1, 1, 7, 7), 3), {"output_size": 6,
     "_random_samples": z(1, 1, 2)}, RuntimeError, "too large relative to input"),
    ("fractional_max_pool2d", (z(1, 1, 7, 7), 2), {"output_size": 3,
     "_random_samples": z(1, 2, 2)}, RuntimeError, "_random_samples"),
    ("fractional_max_pool2d", (z(1, 1, 7, 7), 2), {"output_size": 3,
     "_random_samples": z(1, 1, 2, dtype=np.float64)}, RuntimeError, "dtype"),
    ("fractional_max_pool2d", (z(1, 1, 7, 7), 2), {"_random_samples": z(1, 1, 2)}, ValueError,
     "output_size or an output_ratio"),
    pytest.param(
        "fractional_max_pool2d", (z(1, 1, 7, 7), 0), {"output_size": 3,
        "_random_samples": z(1, 1, 2)}, RuntimeError, "kernel size",
        marks=requires_torch("2.14", "a zero kernel is accepted by fractional_max_pool2d"),
    ),
    ("unfold", (z(1, 0, 5, 5), 2), {}, RuntimeError, "batch"),
    ("unfold", (z(1, 1, 3, 3), 4), {}, RuntimeError, "kernel_size"),
    ("fold", (z(1, 4, 5), (3, 3), 2), {}, RuntimeError, "sliding blocks"),
    ("fold", (z(1, 5, 4), (3, 3), 2), {}, RuntimeError, "divisible"),
    ("pad", (z(1, 1, 3), (3, 0), "reflect"), {}, RuntimeError, "less than"),
    ("pad", (z(1, 1, 3), (4, 0), "circular"), {}, RuntimeError, "wrapping around"),
    ("pad", (z(1, 3), (1, 1, 1)), {}, RuntimeError, "divisible by 2"),
    ("pad", (z(3), (1, 1, 1, 1)), {}, RuntimeError, "two times"),
    ("pad", (z(3), (1, 1), "reflect"), {}, RuntimeError, "support"),
    ("pad", (z(1, 0, 3), (1, 1), "replicate"), {}, RuntimeError, "batch"),
    ("pad", (z(1, 1, 5), (-5, 0), "reflect"), {}, RuntimeError, "too small"),
    ("pad", (z(1, 1, 5), (-3, 4), "circular"), {}, RuntimeError,
     "wrapping around|unsupported operation"),
    ("interpolate", (z(1, 1, 2, 2),), {"size": 4, "scale_factor": 2.0}, ValueError,
     "only one of size or scale_factor"),
    ("interpolate", (z(1, 1, 2, 2),), {}, ValueError, "either size or scale_factor"),
    ("interpolate", (z(1, 1, 2, 2),), {"size": 4, "align_corners": True}, ValueError,
     "align_corners"),
    ("interpolate", (z(1, 1, 2, 2),), {"size": 4, "recompute_scale_factor": True}, ValueError,
     "recompute_scale_factor"),
    ("interpolate", (z(1, 1, 2, 2),), {"size": 4, "antialias": True}, ValueError,
     "anti-alias"),
    ("interpolate", (z(1, 1, 2),), {"size": 4, "mode": "bilinear"}, RuntimeError, "needs 4D"),
    ("interpolate", (z(1, 2),), {"size": 4}, (RuntimeError, ValueError), "3D, 4D and 5D"),
    ("interpolate", (z(1, 0, 2, 2),), {"size": 4, "mode": "bilinear"}, RuntimeError, "empty"),
    ("interpolate", (z(1, 1, 3),), {"scale_factor": 0.1}, RuntimeError, "greater than 0"),
    ("interpolate", (z(1, 1, 2, 2),), {"size": (2, 2, 2)}, ValueError, "spatial dimensions"),
    ("linear", (z(2, 3), z(4, 5)), {}, RuntimeError, "shape"),
    ("bilinear", (z(2, 3), z(2, 2), z(4, 2, 2)), {}, RuntimeError, "match"),
]


def _row_id(row) -> str:
    values_ = row.values if hasattr(row, "values") else row
    name, args, kwargs, _, keyword = values_
    return f"{name}-{keyword.split('|')[0].replace(' ', '_')}"


@pytest.mark.spec("CONV-29")
@pytest.mark.parametrize(
    "name, args, kwargs, torch_error, keyword", ERROR_INPUTS, ids=[_row_id(r) for r in ERROR_INPUTS]
)
def test_invalid_inputs_are_rejected_by_both(device, name, args, kwargs, torch_error, keyword):
    with pytest.raises(torch_error) as torch_info:
        getattr(F, name)(*(_on(device, a) for a in args),
                         **{k: _on(device, v) for k, v in kwargs.items()})
    with pytest.raises(REFERENCE_ERRORS) as ref_info:
        getattr(ref, name)(*args, **kwargs)
    for info in (torch_info, ref_info):
        assert re.search(keyword, str(info.value), re.IGNORECASE), (keyword, info.value)


# --- CONV-30: every kernel torch may pick ------------------------------------------------------


@pytest.mark.spec("CONV-30")
@given(conv_cases(n=2))
def test_cudnn_and_native_convolution_both_match(device, case):
    if not str(device).startswith("cuda"):
        pytest.skip("cuDNN is a CUDA kernel choice: this clause needs a CUDA GPU")
    x, w, b, kwargs, noncontiguous = case
    expected = conv2d(x, w, b, **kwargs)
    for enabled in (True, False):
        with torch.backends.cudnn.flags(enabled=enabled):
            out, _ = run_both(device, "conv2d", (x, w, b), kwargs, noncontiguous)
        assert_matches(out, expected)


# --- CONV-31: Identity and Flatten ----------------------------------------------------------


@pytest.mark.spec("CONV-31")
@given(
    st.lists(st.integers(0, 3), max_size=4).map(tuple),
    st.integers(-5, 4),
    st.integers(-5, 4),
    st.booleans(),
)
@example((3,), 1, -1, False)  # nn.Flatten() on a 1-D input: dim 1 is out of range
@example((), 0, -1, False)  # a 0-d input counts as 1-D: (1,)
@example((2, 3, 4), 2, 1, False)  # start after end
def test_flatten_and_identity_match_torch(device, shape, start_dim, end_dim, default):
    x = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    args = () if default else (start_dim, end_dim)
    try:
        expected = nn.Flatten(*args)(tensor(x, device))
    except (IndexError, RuntimeError) as error:
        wanted = IndexError if isinstance(error, IndexError) else ValueError
        with pytest.raises(wanted):
            ref.Flatten(*args)(x)
    else:
        assert_matches(expected, ref.Flatten(*args)(x))
    t = tensor(x, device)
    assert nn.Identity(54, unused=True)(t) is t and ref.Identity(54, unused=True)(x) is x
    assert torch.flatten(t).shape == ref.Flatten(0)(x).shape


# --- CONV-18: network shapes from the notes -------------------------------------------------


def _conv(size: int, k: int, p: int = 0) -> int:
    return conv_output_size(size, k, 1, p)


def _pool(size: int) -> int:
    return pool_output_size(size, 2)


@pytest.mark.spec("CONV-18")
def test_cifar10_quick_shapes(device):
    # notes 001: (32 + 2p - 4 - 1)/1 + 1 = 32 -> p = 2; three 2x2 pools: 32 -> 16 -> 8 -> 4.
    assert _conv(32, 5, 2) == 32
    side = 32
    for _ in range(3):
        side = _pool(_conv(side, 5, 2))
    assert side == 4 and 64 * side * side == 1024
    model = nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 5, padding=2),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1024, 64),
        nn.Linear(64, 10),
    ).to(device)
    with torch.no_grad():
        x = torch.ones(64, 3, 32, 32, device=device)
        assert model[:7](x).shape == (64, 1024)
        assert model(x).shape == (64, 10)


@pytest.mark.spec("CONV-18")
def test_lenet_shapes(device):
    # notes 002: 28 -> conv5 -> 24 -> pool -> 12 -> conv5 -> 8 -> pool -> 4; 50 * 4 * 4 = 800.
    sides = [28]
    for step in (lambda s: _conv(s, 5), _pool, lambda s: _conv(s, 5), _pool):
        sides.append(step(sides[-1]))
    assert sides == [28, 24, 12, 8, 4]
    features = nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2)
    )
    with torch.no_grad():
        assert features.to(device)(torch.ones(2, 1, 28, 28, device=device)).flatten(1).shape == (
            2,
            800,
        )


@pytest.mark.spec("CONV-18")
@pytest.mark.parametrize("kernel, side", [(3, 6), (5, 5)])
def test_32x32_nets_flatten_to_16_side_side(device, kernel, side):
    # notes 003 (3x3 convs: 16 * 6 * 6) and 004 (5x5 convs: 16 * 5 * 5).
    s = _pool(_conv(_pool(_conv(32, kernel)), kernel))
    assert s == side
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel), nn.MaxPool2d(2), nn.Conv2d(6, 16, kernel), nn.MaxPool2d(2)
    )
    with torch.no_grad():
        out = net.to(device)(torch.ones(1, 1, 32, 32, device=device))
    assert out.flatten(1).shape[1] == 16 * side * side


# --- CONV-32 .. CONV-46: backward (issue 18) ------------------------------------------------
#
# Every VJP of reference/convolution.py is held to torch.autograd.grad in float64 on random
# inputs, parameters and upstream gradients (the forward strategies above, cast to float64;
# their float32 draws are small integers, which make max-pool ties and zero lp windows
# frequent), and the differentiable layers of reference/functional.py to the same values and
# to torch's grad_fn names.


def _vjp_torch(device, fn, arrays, seed, noncontiguous=False, diff=None):
    """``fn`` on ``arrays`` moved to ``device`` (float64 ones require grad, the first laid out
    non-contiguously when asked), its output, a random upstream gradient ``g`` (NumPy) and
    the gradients of ``<fn(...), g>`` (None for arguments that are None or not
    differentiable; zeros for an input the output does not reach)."""
    tensors, leaves = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and (diff is None or i in diff) and a.dtype == np.float64:
            t = to_torch(a, device, requires_grad=True, noncontiguous=noncontiguous and i == 0)
            leaves.append((i, t))
        else:
            t = _on(device, a)
        tensors.append(t)
    out = fn(*tensors)
    out = out[0] if isinstance(out, tuple) else out
    g = np.random.default_rng(seed).standard_normal(tuple(out.shape))
    got = torch.autograd.grad(
        out, [t for _, t in leaves], to_torch(g, device), allow_unused=True
    )
    grads: list = [None] * len(arrays)
    for (i, t), grad in zip(leaves, got, strict=True):
        grads[i] = torch.zeros_like(t) if grad is None else grad
    return out, g, grads


def _reference_grads(fn, arrays, g, diff=None):
    """The reference engine's gradients of ``<fn(*tensors), g>`` through
    reference.functional (float64 arrays become leaves that require grad)."""
    tensors, leaves = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and (diff is None or i in diff) and a.dtype == np.float64:
            t = ag.Tensor(a, requires_grad=True)
            leaves.append((i, t))
        else:
            t = a
        tensors.append(t)
    out = fn(*tensors)
    out = out[0] if isinstance(out, tuple) else out
    got = ag.grad(out, [t for _, t in leaves], g, allow_unused=True)
    grads: list = [None] * len(arrays)
    for (i, t), grad in zip(leaves, got, strict=True):
        grads[i] = np.zeros(t.shape) if grad is None else grad
    return out, grads


def _close(expected, actual) -> None:
    """``assert_matches`` (float64 tolerance) with a NumPy fast path for the passing case:
    ``assert_close`` costs ~0.2 ms a call, and the backward properties make several per
    example; a failure still goes through ``assert_matches`` for its message."""
    host = to_numpy(expected)
    arr = np.asarray(actual)
    tol = TOLERANCES[torch.float64]
    if not (
        host.dtype == arr.dtype == np.float64
        and host.shape == arr.shape
        and np.allclose(arr, host, rtol=tol["rtol"], atol=tol["atol"], equal_nan=True)
    ):
        assert_matches(expected, actual)


def _assert_grads(torch_grads, reference_grads) -> None:
    for expected, actual in zip(torch_grads, reference_grads, strict=True):
        if expected is None:
            assert actual is None
        else:
            _close(expected, actual)


def _same(a: np.ndarray | None, b: np.ndarray | None) -> None:
    """Two reference computations of one gradient agree (NaNs equal)."""
    if a is None or b is None:
        assert a is None and b is None
        return
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


def f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _mode_widths(padding: tuple[int, ...]) -> tuple[int, ...]:
    """``F.pad`` widths that pad each spatial dim by ``p`` on both sides (last dim first)."""
    return tuple(w for p in reversed(padding) for w in (p, p))


@st.composite
def conv_backward_cases(draw):
    n = draw(st.sampled_from([1, 2, 2, 3]))
    transposed = draw(st.booleans())
    mode = "zeros"
    if transposed:
        x, w, b, kwargs, noncontiguous = draw(conv_transpose_cases(n, fill=seeded))
    else:
        x, w, b, kwargs, noncontiguous = draw(conv_cases(n=n, fill=seeded))
        padding = kwargs["padding"]
        if not isinstance(padding, str) and any(padding):
            mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
            sizes = x.shape[-n:]
            if (mode == "reflect" and any(p >= L for p, L in zip(padding, sizes, strict=True))) or (
                mode == "circular" and any(p > L for p, L in zip(padding, sizes, strict=True))
            ):
                mode = "replicate"
    return n, transposed, mode, f64(x), f64(w), f64(b), kwargs, noncontiguous, draw(SEEDS)


@pytest.mark.spec("CONV-33", "CONV-34", "CONV-36")
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@given(conv_backward_cases())
@example((2, False, "zeros", np.ones((2, 0, 3, 3)), np.ones((3, 0, 2, 2)), np.ones(3),
          {}, False, 0))  # no input channels: every gradient is zero
@example((1, False, "reflect", np.arange(10.0).reshape(1, 2, 5), np.ones((1, 2, 2)), None,
          {"padding": (2,)}, False, 1))  # reflect's gradient folds back onto the border
def test_conv_backward_matches_torch(device, case):
    n, transposed, mode, x, w, b, kwargs, noncontiguous, seed = case
    op = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    conv_kwargs, widths = dict(kwargs), None
    if mode != "zeros":  # nn.ConvNd(padding_mode=mode): pad in that mode, convolve unpadded
        widths = _mode_widths(kwargs["padding"])
        conv_kwargs["padding"] = 0

    def torch_fn(tx, tw, tb):
        if widths is not None:
            tx = F.pad(tx, widths, mode=mode)
        return getattr(F, op)(tx, tw, tb, **conv_kwargs)

    _, g, expected = _vjp_torch(device, torch_fn, [x, w, b], seed, noncontiguous)
    padded = x if widths is None else pad(x, widths, mode)
    gi, gw, gb = getattr(ref, f"{op}_backward")(g, padded, w, b, **conv_kwargs)
    if widths is not None:
        gi = ref.pad_backward(gi, x, widths, mode)
    _assert_grads(expected, [gi, gw, gb])

    def reference_fn(rx, rw, rb):
        if widths is not None:
            rx = rf.pad(rx, widths, mode)
        return getattr(rf, op)(rx, rw, rb, **conv_kwargs)

    _, through_engine = _reference_grads(reference_fn, [x, w, b], g)
    for a, e in zip(through_engine, (gi, gw, gb), strict=True):
        _same(a, e)


@pytest.mark.spec("CONV-35")
@given(st.sampled_from([1, 2, 3]), st.booleans(), st.data())
def test_input_gradient_is_the_transposed_convolution_with_the_same_weight(
    device, n, transposed, data
):
    seed = data.draw(SEEDS)
    if transposed:
        x, w, _, kwargs, _ = data.draw(conv_transpose_cases(n, fill=seeded))
    else:
        x, w, _, kwargs, _ = data.draw(conv_cases(n=n, same=False, fill=seeded))
        if kwargs["padding"] == "valid":
            kwargs = {**kwargs, "padding": (0,) * n}
    x, w = f64(x), f64(w)
    op = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    out, g, (grad_x, _) = _vjp_torch(
        device, lambda tx, tw: getattr(F, op)(tx, tw, **kwargs), [x, w], seed
    )
    reference_gi = getattr(ref, f"{op}_backward")(g, x, w, **kwargs)[0]
    stride, padding, dilation = kwargs["stride"], kwargs["padding"], kwargs["dilation"]
    if transposed:
        # the input gradient of a transposed convolution is the convolution of the output
        # gradient with the same weight (its first L windows)
        common = dict(stride=stride, padding=padding, dilation=dilation, groups=kwargs["groups"])
        keep = (..., *(slice(0, L) for L in x.shape[-n:]))
        via_ref = getattr(ref, f"conv{n}d")(g, w, **common)[keep]
        via_torch = getattr(F, f"conv{n}d")(to_torch(g, device), to_torch(w, device), **common)
    else:
        # output_padding recovers the rows the strided windows never reached
        output_padding = tuple(
            L - ((o - 1) * s - 2 * p + d * (k - 1) + 1)
            for L, o, k, s, p, d in zip(
                x.shape[-n:], g.shape[-n:], w.shape[2:], stride, padding, dilation, strict=True
            )
        )
        common = dict(stride=stride, padding=padding, output_padding=output_padding,
                      groups=kwargs["groups"], dilation=dilation)
        via_ref = getattr(ref, f"conv_transpose{n}d")(g, w, **common)
        via_torch = getattr(F, f"conv_transpose{n}d")(
            to_torch(g, device), to_torch(w, device), **common
        )
        keep = (...,)
    _same(reference_gi, via_ref)
    _close(grad_x, reference_gi)
    _close(via_torch[keep], reference_gi)


POOLS = ["max", "avg", "lp"]


@st.composite
def pool_backward_cases(draw):
    kind, n = draw(st.sampled_from(POOLS)), draw(st.sampled_from([1, 2, 3]))
    if kind == "max":
        x, kernel, stride, padding, dilation, ceil_mode, nc = draw(pool_cases(n, fill=seeded))
        if any(L < d for L, d in zip(x.shape[-n:], dilation, strict=True)):
            dilation = (1,) * n  # keep a real cell in every window (see CONV-37)
        args, name = (kernel, stride, padding, dilation, ceil_mode), f"max_pool{n}d"
    elif kind == "avg":
        _, x, kernel, stride, padding, ceil_mode, include, divisor, nc = draw(
            avg_pool_cases(n, fill=seeded)
        )
        args = (kernel, stride, padding, ceil_mode, include) + ((divisor,) if n > 1 else ())
        name = f"avg_pool{n}d"
    else:
        x, kernel, stride, _, _, ceil_mode, nc = draw(
            pool_cases(n, dilated=False, padded=False, fill=seeded)
        )
        norm = draw(st.sampled_from(LP_NORMS))
        args, name = (norm, kernel[0] if n == 1 else kernel, stride, ceil_mode), f"lp_pool{n}d"
    return name, f64(x), args, nc, draw(SEEDS)


# lp_pool's infinite norms are max pooling of |x| from torch 2.13 (CONV-11)
LP_NORMS = [1.0, 2.0, 3.0] + ([math.inf, -math.inf] if torch_at_least("2.13") else [])


@pytest.mark.spec("CONV-37", "CONV-38", "CONV-40")
@given(pool_backward_cases())
@example(("max_pool2d", np.ones((1, 1, 3, 3)), ((2, 2), (1, 1), (0, 0), (1, 1), False), False,
          0))  # every window is tied: each gradient goes to its first cell
@example(("max_pool1d", np.array([[[1.0, 3.0, 2.0, 3.0, 0.0]]]), (3, 1, 1, 1, True), False,
          1))  # overlapping windows share a maximum: their gradients add up
@example(("lp_pool2d", np.zeros((1, 1, 2, 4)), (2.0, 2, None, False), False, 2))  # zero sums
@example(("avg_pool2d", np.ones((1, 1, 5, 5)), ((3, 3), None, (1, 1), True, False, None), False,
          3))  # ceil_mode windows past the input and count_include_pad=False
def test_pool_backward_matches_torch(device, case):
    name, x, args, noncontiguous, seed = case
    _, g, (expected,) = _vjp_torch(
        device, lambda t: getattr(F, name)(t, *args), [x], seed, noncontiguous
    )
    grad = getattr(ref, f"{name}_backward")(g, x, *args)
    _close(expected, grad)
    _, (through_engine,) = _reference_grads(lambda t: getattr(rf, name)(t, *args), [x], g)
    _same(through_engine, grad)


@pytest.mark.spec("CONV-37")
@known_torch_bug(
    fixed_in=None,
    issue="pytorch/pytorch#114216",
    why="a dilated max-pool window lying entirely in the padding (a size below the dilation) "
    "is -inf with an index outside the input plane; the backward then writes outside the "
    "input (a 'double free or corruption' abort on 2.14.1), so it is not run",
)
def test_torch_max_pool_index_of_a_window_in_the_padding(device):
    # height 1, kernel 2, dilation 2, padding 1: taps at rows -1 and 1, neither in the input
    x = np.arange(3.0).reshape(1, 1, 1, 3)
    out, index = F.max_pool2d(to_torch(x, device), (2, 1), 1, (1, 0), (2, 1), return_indices=True)
    assert (to_numpy(out) == -np.inf).all()
    # the reference passes no gradient for such a window; torch's index should stay in 0..2
    assert ref.max_pool2d_backward(np.ones((1, 1, 1, 3)), x, (2, 1), 1, (1, 0), (2, 1)).sum() == 0
    assert ((to_numpy(index) >= 0) & (to_numpy(index) < 3)).all()


@st.composite
def adaptive_backward_cases(draw):
    kind, n = draw(st.sampled_from(["adaptive_avg", "adaptive_max", "unpool"])), draw(
        st.sampled_from([1, 2, 3])
    )
    if kind != "unpool":
        _, x, size, noncontiguous = draw(adaptive_cases(n, fill=seeded))
        return f"{kind}_pool{n}d", f64(x), (size,), noncontiguous, draw(SEEDS)
    _, x, kernel, stride, padding, ceil_mode, output_size, noncontiguous = draw(
        unpool_cases(n, fill=seeded)
    )
    pooled, indices = getattr(ref, f"max_pool{n}d")(
        x, kernel, stride, padding, ceil_mode=ceil_mode, return_indices=True
    )
    try:
        getattr(ref, f"max_unpool{n}d")(pooled, indices, kernel, stride, padding, output_size)
    except ValueError:  # out of range, or too small for the indices (CONV-22 covers it):
        output_size = x.shape[-n:]  # the pooled input's size is always a valid one
    args = (indices, kernel, stride, padding, output_size)
    return f"max_unpool{n}d", f64(pooled), args, noncontiguous, draw(SEEDS)


@pytest.mark.spec("CONV-39", "CONV-41")
@given(adaptive_backward_cases())
@example(("adaptive_avg_pool2d", np.ones((1, 1, 1, 5)), ((1, 3),), False, 0))  # overlapping bins
@example(("adaptive_avg_pool2d", np.ones((2, 1, 2, 3)), ((1, None),), False, 1))  # the mean
def test_adaptive_pool_and_unpool_backward_match_torch(device, case):
    name, x, args, noncontiguous, seed = case
    out = getattr(ref, name)(x, *args)
    adaptive_empty = name.startswith("adaptive") and 0 in out.shape[1:]
    if adaptive_empty or (name.startswith("max_unpool") and x.size and not out.size):
        # an adaptive pool to output size 0: torch's backward refuses it (its kernel's guard
        # against pytorch/pytorch#78868); an unpooling to an empty plane: the backward's
        # gather finds the indices out of bounds. The reference refuses both.
        g = np.zeros(out.shape)
        tx = to_torch(x, device, requires_grad=True)
        assert_both_raise(
            lambda: torch.autograd.grad(
                getattr(F, name)(tx, *(_on(device, a) for a in args)), tx, to_torch(g, device)
            ),
            lambda: getattr(ref, f"{name}_backward")(g, x, *args),
            match="non-zero size|out of bounds",
        )
        return
    _, g, (expected, *_) = _vjp_torch(
        device, lambda t, *rest: getattr(F, name)(t, *rest), [x, *args], seed, noncontiguous,
        diff=[0],
    )
    grad = getattr(ref, f"{name}_backward")(g, x, *args)
    _close(expected, grad)
    _, (through_engine, *_) = _reference_grads(
        lambda t, *rest: getattr(rf, name)(t, *rest), [x, *args], g, diff=[0]
    )
    _same(through_engine, grad)


@pytest.mark.spec("CONV-36")
@given(pad_cases(fill=seeded), SEEDS)
@example((np.arange(5.0).reshape(1, 1, 5), (2, 2), "reflect", None, False), 0)
@example((np.arange(5.0).reshape(1, 1, 5), (-1, 3), "circular", None, False), 1)
def test_pad_backward_matches_torch(device, case, seed):
    x, widths, mode, value, noncontiguous = case
    x = f64(x)
    _, g, (expected,) = _vjp_torch(
        device, lambda t: F.pad(t, widths, mode=mode, value=value), [x], seed, noncontiguous
    )
    grad = ref.pad_backward(g, x, widths, mode, value)
    _close(expected, grad)
    _, (through_engine,) = _reference_grads(lambda t: rf.pad(t, widths, mode, value), [x], g)
    _same(through_engine, grad)


@pytest.mark.spec("CONV-36")
def test_padding_gradients_fold_back_onto_the_border(device):
    # The gradient of ones: each input cell counts the padded cells that copy it.
    x = np.arange(5.0).reshape(1, 1, 5)
    ones = np.ones((1, 1, 9))
    expected = {
        "reflect": [1, 2, 3, 2, 1],  # c b [a b c d e] d c: the edge is not repeated
        "replicate": [3, 1, 1, 1, 3],  # a a [a b c d e] e e
        "circular": [2, 2, 1, 2, 2],  # d e [a b c d e] a b
        "constant": [1, 1, 1, 1, 1],  # the fill's gradient is dropped
    }
    for mode, counts in expected.items():
        tx = to_torch(x, device, requires_grad=True)
        F.pad(tx, (2, 2), mode=mode).backward(to_torch(ones, device))
        assert_matches(tx.grad, [[counts]], check_dtype=False)
        assert ref.pad_backward(ones, x, (2, 2), mode).ravel().tolist() == counts


@pytest.mark.spec("CONV-42")
@given(unfold_cases(fill=seeded), SEEDS)
def test_unfold_and_fold_backward_match_torch(device, case, seed):
    x, kwargs, noncontiguous = case
    x = f64(x)
    _, g, (expected,) = _vjp_torch(
        device, lambda t: F.unfold(t, **kwargs), [x], seed, noncontiguous
    )
    grad = ref.unfold_backward(g, x, **kwargs)
    _close(expected, grad)
    _, (through_engine,) = _reference_grads(lambda t: rf.unfold(t, **kwargs), [x], g)
    _same(through_engine, grad)
    cols, size = ref.unfold(x, **kwargs), x.shape[-2:]
    _, g, (expected,) = _vjp_torch(
        device, lambda t: F.fold(t, size, **kwargs), [cols], seed, noncontiguous
    )
    grad = ref.fold_backward(g, cols, size, **kwargs)
    _close(expected, grad)
    _, (through_engine,) = _reference_grads(lambda t: rf.fold(t, size, **kwargs), [cols], g)
    _same(through_engine, grad)


@pytest.mark.spec("CONV-42")
@given(unfold_cases(forms=False, fill=seeded), SEEDS)
def test_unfold_and_fold_are_each_others_adjoint(device, case, seed):
    x, kwargs, _ = case
    x = f64(x)
    size = x.shape[-2:]
    c = np.random.default_rng(seed).standard_normal(ref.unfold(x, **kwargs).shape)
    # <unfold(x), c> = <x, fold(c)>: fold is unfold's transpose, as matrices on the flat input
    lhs, rhs = (ref.unfold(x, **kwargs) * c).sum(), (x * ref.fold(c, size, **kwargs)).sum()
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-9)
    tx, tc = to_torch(x, device), to_torch(c, device)
    assert (F.unfold(tx, **kwargs) * tc).sum().item() == pytest.approx(lhs, rel=1e-12, abs=1e-9)
    assert (tx * F.fold(tc, size, **kwargs)).sum().item() == pytest.approx(rhs, rel=1e-12, abs=1e-9)


@st.composite
def interpolate_backward_cases(draw):
    mode = draw(st.sampled_from(sorted(INTERPOLATE_DIMS)))
    n = draw(st.sampled_from(INTERPOLATE_DIMS[mode]))
    x, kwargs, noncontiguous = draw(interpolate_cases(n, 4 if n < 3 else 3, fill=seeded))
    kwargs = {**kwargs, "mode": mode}
    if mode in ("linear", "bilinear", "bicubic", "trilinear"):
        kwargs["align_corners"] = draw(st.booleans())
    if mode in ("bilinear", "bicubic") and draw(st.booleans()):
        kwargs["antialias"] = True
    return f64(x), kwargs, noncontiguous, draw(SEEDS)


@pytest.mark.spec("CONV-43")
@given(interpolate_backward_cases())
@example((np.ones((1, 1, 2)), {"size": 5, "mode": "nearest"}, False, 0))  # 0 read 3 times
# torch's antialias forward is wrong for an output width 1 (CONV-20); its backward is right
@example((np.arange(8.0).reshape(1, 1, 4, 2),
          {"size": (2, 1), "mode": "bilinear", "antialias": True}, False, 1))
# soak seed (issue 14): antialias keeps both sizes at scale 1.25, the backward blends them
@example((np.array([[[[3.0, 1.0]]]]),
          {"scale_factor": 1.25, "mode": "bicubic", "antialias": True}, False, 0))
def test_interpolate_backward_matches_torch(device, case):
    x, kwargs, noncontiguous, seed = case
    if _cpu_shortcut(device, x, kwargs, halves=kwargs["mode"] == "nearest" and x.ndim == 4):
        return
    if _backward_shortcut_bug(device, x, kwargs):
        return  # torch's gradient is not its forward's there (see the xfail below)
    _, g, (expected,) = _vjp_torch(
        device, lambda t: F.interpolate(t, **kwargs), [x], seed, noncontiguous
    )
    grad = ref.interpolate_backward(g, x, **kwargs)
    _close(expected, grad)
    _, (through_engine,) = _reference_grads(lambda t: rf.interpolate(t, **kwargs), [x], g)
    _same(through_engine, grad)


def _backward_shortcut_bug(device, x: np.ndarray, kwargs: dict) -> bool:
    """Where torch's CPU backward copies what its forward blends: with a scale factor in use,
    1-D and 3-D ``nearest`` when a size is kept or doubled (the backward's copy / halve
    shortcut, which the forward lacks, CONV-13), ``bicubic`` when every size is kept (the
    backward copies the whole gradient); and the other way round with ``antialias=True``: the
    forward copies a dim whose size is kept, the backward blends it with the scale's filter."""
    if str(device) != "cpu" or "size" in kwargs or kwargs.get("recompute_scale_factor"):
        return False
    f, mode = kwargs["scale_factor"], kwargs["mode"]
    sizes = list(zip(x.shape[2:], _output_sizes(x, kwargs), strict=True))
    if mode == "nearest" and x.ndim in (3, 5):
        return any((o == L and f != 1) or (o == 2 * L and f != 2) for L, o in sizes)
    if kwargs.get("antialias"):
        return f != 1 and any(o == L for L, o in sizes)
    if mode == "bicubic":
        return f != 1 and all(o == L for L, o in sizes)
    return False


BACKWARD_SHORTCUT_BUGS = [
    # (1, 1, 3) at scale 1.2 reads sources 0, 0, 1: the gradient of the sum is [2, 1, 0]
    (np.array([[[1.0, 2.0, 3.0]]]), {"scale_factor": 1.2, "mode": "nearest"}),
    # (1, 1, 1, 2) at scale 1.25 keeps the size but blends; torch's backward copies
    (np.array([[[[3.0, 1.0]]]]), {"scale_factor": 1.25, "mode": "bicubic",
                                  "align_corners": False}),
    # antialias: (1, 1, 3, 4) at scale 1.25 keeps H, which the forward copies; the backward
    # blends H with the scale's filter as if the forward had (soak run, issue 14)
    (np.arange(12.0).reshape(1, 1, 3, 4), {"scale_factor": 1.25, "mode": "bilinear",
                                           "antialias": True}),
    (np.array([[[[3.0, 1.0]]]]), {"scale_factor": 1.25, "mode": "bicubic", "antialias": True}),
]


@pytest.mark.spec("CONV-43")
@known_torch_bug(
    fixed_in=None,
    issue="pytorch/pytorch#97135",
    why="interpolate on the CPU with a scale factor: the backward of 1-D and 3-D nearest copies "
    "a kept size and halves a doubled one, the backward of bicubic copies when every size is "
    "kept, where the forward reads floor(o / scale) or blends; with antialias the forward "
    "copies a kept size, where the backward blends: gradcheck fails",
)
@pytest.mark.parametrize("x, kwargs", BACKWARD_SHORTCUT_BUGS,
                         ids=["nearest-1d", "bicubic", "antialias-bilinear", "antialias-bicubic"])
def test_torch_interpolate_backward_is_the_gradient_of_its_forward(x, kwargs):
    tx = torch.tensor(x, requires_grad=True)
    out = F.interpolate(tx, **kwargs)
    assert_matches(out, interpolate(x, **kwargs))  # the forward is the reference's
    (grad,) = torch.autograd.grad(out.sum(), tx)
    assert_matches(grad, ref.interpolate_backward(np.ones(out.shape), x, **kwargs))


@st.composite
def bilinear_cases(draw):
    batch = draw(st.sampled_from([(), (0,), (1,), (3,), (2, 2)]))
    n1, n2, n_out = (draw(st.integers(1, 4)) for _ in range(3))
    dtype = draw(float_dtypes())
    x1, x2 = seeded(draw, (*batch, n1), dtype), seeded(draw, (*batch, n2), dtype)
    w = seeded(draw, (n_out, n1, n2), dtype)
    return x1, x2, w, seeded(draw, (n_out,), dtype) if draw(st.booleans()) else None


@pytest.mark.spec("CONV-44")
@given(linear_cases(fill=seeded), bilinear_cases(), st.booleans(), SEEDS)
@example((np.ones(3), np.ones((2, 3)), np.ones(2), False), (np.ones(2), np.ones(3),
         np.ones((1, 2, 3)), None), False, 0)  # 1-D input
def test_linear_and_bilinear_backward_match_torch(device, lin, bil, noncontiguous, seed):
    x, w, b, _ = lin
    x, w, b = f64(x), f64(w), f64(b)
    _, g, expected = _vjp_torch(device, F.linear, [x, w, b], seed, noncontiguous)
    grads = ref.linear_backward(g, x, w, b)
    _assert_grads(expected, grads)
    _, through_engine = _reference_grads(rf.linear, [x, w, b], g)
    for a, e in zip(through_engine, grads, strict=True):
        _same(a, e)
    x1, x2, wb, bb = bil
    _, g, expected = _vjp_torch(device, F.bilinear, [x1, x2, wb, bb], seed, noncontiguous)
    grads = ref.bilinear_backward(g, x1, x2, wb, bb)
    _assert_grads(expected, grads)
    _, through_engine = _reference_grads(rf.bilinear, [x1, x2, wb, bb], g)
    for a, e in zip(through_engine, grads, strict=True):
        _same(a, e)


@pytest.mark.spec("CONV-44")
@given(linear_cases(fill=seeded), SEEDS)
def test_linear_double_backward_matches_torch(device, case, seed):
    x, w, b, noncontiguous = case
    x, w, b = f64(x), f64(w), f64(b)
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((*x.shape[:-1], w.shape[0]))
    u, v = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    # second order: d/d(x, W, g) of <dL/dx, u> + <dL/dW, v>, L = <linear(x, W, b), g>
    tx = to_torch(x, device, requires_grad=True, noncontiguous=noncontiguous)
    tw, tg = to_torch(w, device, requires_grad=True), to_torch(g, device, requires_grad=True)
    tb = None if b is None else to_torch(b, device, requires_grad=True)
    gx, gw = torch.autograd.grad(F.linear(tx, tw, tb), [tx, tw], tg, create_graph=True)
    second = (gx * to_torch(u, device)).sum() + (gw * to_torch(v, device)).sum()
    expected = torch.autograd.grad(second, [tx, tw, tg], allow_unused=True)
    rx, rw, rg = (ag.Tensor(a, requires_grad=True) for a in (x, w, g))
    rb = None if b is None else ag.Tensor(b, requires_grad=True)
    gx, gw = ag.grad(rf.linear(rx, rw, rb), [rx, rw], rg, create_graph=True)
    actual = ag.grad((gx * u).sum() + (gw * v).sum(), [rx, rw, rg], allow_unused=True)
    for e, a, like in zip(expected, actual, (x, w, g), strict=True):
        assert_matches(torch.zeros(like.shape, dtype=torch.float64) if e is None else e,
                       np.zeros(like.shape) if a is None else a)


class _ThroughReference(torch.autograd.Function):
    """A reference op and its VJP as a torch op (through NumPy on the host), so
    ``torch.autograd.gradcheck`` can compare the VJP with finite differences."""

    @staticmethod
    def forward(ctx, name, kwargs, *tensors):
        arrays = [None if t is None else to_numpy(t) for t in tensors]
        ctx.name, ctx.kwargs, ctx.arrays = name, kwargs, arrays
        like = next(t for t in tensors if t is not None)
        return torch.as_tensor(getattr(ref, name)(*arrays, **kwargs), device=like.device)

    @staticmethod
    def backward(ctx, grad):
        grads = getattr(ref, f"{ctx.name}_backward")(to_numpy(grad), *ctx.arrays, **ctx.kwargs)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return (None, None, *(None if gr is None else torch.as_tensor(gr, device=grad.device)
                              for gr in grads))


def _distinct(*shape: int) -> np.ndarray:
    """Values 0.1 apart in a scrambled order: no ties for max pooling within 1e-6."""
    values = np.random.default_rng(5).permutation(math.prod(shape)) * 0.1
    return values.reshape(shape)


def _r(*shape: int, low: float = -1.0) -> np.ndarray:
    return np.random.default_rng(math.prod(shape)).uniform(low, 1.0, shape)


GRADCHECK_CASES = [
    ("conv2d", (_r(1, 2, 4, 4), _r(2, 1, 2, 2), _r(2)),
     {"stride": (1, 2), "padding": 1, "dilation": (2, 1), "groups": 2}),
    ("conv3d", (_r(1, 1, 2, 3, 2), _r(1, 1, 2, 1, 2), None), {"padding": "same"}),
    ("conv_transpose1d", (_r(1, 2, 3), _r(2, 2, 2), _r(2)),
     {"stride": 2, "output_padding": 1, "dilation": 1}),
    ("max_pool2d", (_distinct(1, 1, 4, 5),),
     {"kernel_size": 2, "stride": 1, "padding": 1, "ceil_mode": True}),
    ("avg_pool2d", (_r(1, 1, 4, 5),),
     {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ("adaptive_avg_pool2d", (_r(1, 1, 5, 4),), {"output_size": (3, 2)}),
    ("adaptive_max_pool1d", (_distinct(1, 2, 5),), {"output_size": 3}),
    ("lp_pool2d", (_r(1, 1, 4, 4, low=0.5),), {"norm_type": 3.0, "kernel_size": 2}),
    ("pad", (_r(1, 1, 3, 4),), {"pad": (2, 1, 1, -1), "mode": "reflect"}),
    ("pad", (_r(1, 1, 3, 4),), {"pad": (2, 3, -1, 2), "mode": "circular"}),
    ("unfold", (_r(1, 2, 3, 4),), {"kernel_size": 2, "padding": 1, "stride": 2}),
    ("fold", (_r(1, 4, 6),), {"output_size": (3, 4), "kernel_size": 2, "stride": (1, 1)}),
    ("interpolate", (_r(1, 1, 3, 4),), {"size": (5, 3), "mode": "bicubic", "align_corners": False}),
    ("interpolate", (_r(1, 1, 5, 4),),
     {"size": (2, 3), "mode": "bilinear", "antialias": True, "align_corners": False}),
    ("linear", (_r(2, 3), _r(4, 3), _r(4)), {}),
    ("bilinear", (_r(2, 3), _r(2, 2), _r(4, 3, 2), _r(4)), {}),
]


@pytest.mark.spec("CONV-45")
@pytest.mark.parametrize(
    "name, arrays, kwargs", GRADCHECK_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(GRADCHECK_CASES)],
)
def test_gradcheck_confirms_the_reference_vjps(device, name, arrays, kwargs):
    tensors = [None if a is None else to_torch(a, device, requires_grad=True) for a in arrays]
    assert torch.autograd.gradcheck(
        lambda *ts: _ThroughReference.apply(name, kwargs, *ts), tuple(tensors),
        eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=True,
    )


def _path(out, leaf) -> list[str] | None:
    """The node names from ``out.grad_fn`` down to ``leaf``'s ``AccumulateGrad`` (the first
    such path in ``next_functions`` order), for torch and reference tensors alike."""

    def walk(node):
        if node is None:
            return None
        if node.name() == "torch::autograd::AccumulateGrad":
            return [] if node.variable is leaf else None
        for nxt, _ in node.next_functions:
            below = walk(nxt)
            if below is not None:
                return [node.name(), *below]
        return None

    return walk(out.grad_fn)


def _node_cases():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 6))
    ties = rng.integers(-2, 3, (2, 3, 5, 6)).astype(np.float64)
    w, b = rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    w_odd = rng.standard_normal((6, 2, 2, 3))  # 'same' pads the odd cell explicitly
    wt = rng.standard_normal((4, 3, 3, 2))
    cases = [
        ("conv2d", lambda f: lambda x, w, b: f.conv2d(x, w, b, stride=2, groups=2), [x, w, b]),
        ("conv2d-unbatched", lambda f: lambda x, w: f.conv2d(x, w, groups=2), [x[0], w]),
        ("conv2d-same-odd", lambda f: lambda x, w, b: f.conv2d(x, w, b, padding="same", groups=2),
         [x, w_odd, b]),
        ("conv2d-same-odd-unbatched",
         lambda f: lambda x, w: f.conv2d(x, w, padding="same", groups=2), [x[0], w_odd]),
        ("conv1d-unbatched", lambda f: lambda x, w: f.conv1d(x, w, stride=2),
         [x[0, :2, 0], w[:, :, 0]]),
        ("conv3d", lambda f: lambda x, w: f.conv3d(x, w), [x[None, :2], w[..., None]]),
        ("conv_transpose2d", lambda f: lambda x, w: f.conv_transpose2d(x, w, output_padding=0),
         [x, wt]),
        ("conv_transpose1d-unbatched", lambda f: lambda x, w: f.conv_transpose1d(x, w, stride=2),
         [x[0, :, 0], wt[..., 0]]),
    ]
    for n in (1, 2, 3):
        xs = {1: ties[:, :, 0], 2: ties, 3: ties[..., None].repeat(2, -1)}[n]
        for form, xx in (("", xs), ("-unbatched", xs[0])):
            cases += [
                (f"max_pool{n}d{form}", lambda f, n=n: lambda x: getattr(f, f"max_pool{n}d")(
                    x, 2, 1, 1, ceil_mode=True), [xx]),
                (f"avg_pool{n}d{form}", lambda f, n=n: lambda x: getattr(f, f"avg_pool{n}d")(
                    x, 2, 1, 1, ceil_mode=True), [xx]),
            ]
        cases += [
            (f"max_pool{n}d-indices", lambda f, n=n: lambda x: getattr(f, f"max_pool{n}d")(
                x, 2, return_indices=True), [xs]),
            (f"adaptive_avg_pool{n}d", lambda f, n=n: lambda x: getattr(
                f, f"adaptive_avg_pool{n}d")(x, 3), [xs]),
            (f"adaptive_avg_pool{n}d-to-1", lambda f, n=n: lambda x: getattr(
                f, f"adaptive_avg_pool{n}d")(x, 1), [xs]),
            (f"adaptive_max_pool{n}d", lambda f, n=n: lambda x: getattr(
                f, f"adaptive_max_pool{n}d")(x, 3), [xs]),
            (f"lp_pool{n}d", lambda f, n=n: lambda x: getattr(f, f"lp_pool{n}d")(
                x, 2.0, 2, ceil_mode=True), [xs]),
        ]
        pooled, indices = getattr(ref, f"max_pool{n}d")(xs, 2, return_indices=True)
        cases.append((f"max_unpool{n}d", lambda f, n=n: lambda v, i: getattr(
            f, f"max_unpool{n}d")(v, i, 2), [pooled, indices]))
    for mode in MODES:
        cases += [
            (f"pad-{mode}", lambda f, m=mode: lambda x: f.pad(x, (2, -1, 1, 2), mode=m), [x]),
            (f"pad-{mode}-1d", lambda f, m=mode: lambda x: f.pad(x, (2, 1), mode=m), [x[0]]),
        ]
    cols = ref.unfold(x, 2)
    cases += [
        ("unfold", lambda f: lambda x: f.unfold(x, 2, padding=1), [x]),
        ("unfold-unbatched", lambda f: lambda x: f.unfold(x, 2), [x[0]]),
        ("fold", lambda f: lambda c: f.fold(c, (5, 6), 2), [cols]),
    ]
    for mode, xx in [("nearest", x), ("nearest-exact", x), ("bilinear", x), ("bicubic", x),
                     ("area", x), ("nearest", x[:, :, 0]), ("linear", x[:, :, 0]),
                     ("area", x[:, :, 0]), ("trilinear", x[:1, :2, :3, :3, None].repeat(3, -1))]:
        cases.append((f"interpolate-{mode}-{xx.ndim - 2}d", lambda f, m=mode: lambda x:
                      f.interpolate(x, scale_factor=1.5, mode=m), [xx]))
    for mode in ("bilinear", "bicubic"):
        cases.append((f"interpolate-{mode}-antialias", lambda f, m=mode: lambda x:
                      f.interpolate(x, size=(3, 4), mode=m, antialias=True), [x]))
    wl, bl = rng.standard_normal((5, 4)), rng.standard_normal(5)
    for shape in [(4,), (3, 4), (2, 3, 4), (2, 1, 3, 4), (0, 4), (2, 0, 4)]:
        xl = rng.standard_normal(shape)
        cases += [
            (f"linear-{len(shape)}d{'-empty' if 0 in shape else ''}", lambda f: f.linear,
             [xl, wl, bl]),
            (f"linear-{len(shape)}d{'-empty' if 0 in shape else ''}-no-bias", lambda f: f.linear,
             [xl, wl]),
        ]
    xt = rng.standard_normal((3, 2, 4))  # transposed: not contiguous
    cases += [
        ("linear-3d-noncontiguous", lambda f: lambda x, w, b: f.linear(x.transpose(0, 1), w, b),
         [xt, wl, bl]),
        ("linear-3d-noncontiguous-no-bias", lambda f: lambda x, w: f.linear(x.transpose(0, 1), w),
         [xt, wl]),
        # a weight that needs no gradient: torch's matmul no longer folds a non-contiguous
        # input into one mm (it expands and calls bmm); the last node is the same
        ("linear-3d-noncontiguous-frozen-weight",
         lambda f: lambda x, w, b: f.linear(x.transpose(0, 1), w, b),
         [xt, wl.astype(np.float32).astype(np.float64), bl]),
        ("bilinear", lambda f: f.bilinear,
         [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 2)),
          rng.standard_normal((5, 4, 2)), bl]),
        ("bilinear-1d-no-bias", lambda f: f.bilinear,
         [rng.standard_normal(4), rng.standard_normal(2), rng.standard_normal((5, 4, 2))]),
    ]
    return cases


NODE_CASES = _node_cases()


@pytest.mark.spec("CONV-32")
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("name, make, arrays", NODE_CASES, ids=[c[0] for c in NODE_CASES])
def test_functional_layers_record_torchs_nodes(device, name, make, arrays):
    """reference.functional records, along the path from the output to the input, the node
    names torch records, with torch's values and gradients; where torch's path is an
    implementation detail the reference does not rebuild (circular padding's in-place slice
    copies, bmm under a frozen weight), the last node."""
    frozen = name.endswith("frozen-weight")
    diff = [0, 2] if frozen else [0, 1, 2, 3]
    t_out, g, expected = _vjp_torch(device, make(F), arrays, 0, diff=diff)
    r_out, grads = _reference_grads(make(rf), arrays, g, diff=diff)
    assert_matches(t_out, r_out.data)
    _assert_grads(expected, grads)
    # the path from each output to its first input, rebuilt with fresh leaves
    t_args = [to_torch(a, device, requires_grad=True)
              if i in diff and a.dtype == np.float64 else _on(device, a)
              for i, a in enumerate(arrays)]
    r_args = [ag.Tensor(a, requires_grad=True) if i in diff and a.dtype == np.float64 else a
              for i, a in enumerate(arrays)]
    t_out, r_out = make(F)(*t_args), make(rf)(*r_args)
    t_out, r_out = (o[0] if isinstance(o, tuple) else o for o in (t_out, r_out))
    torch_path, reference_path = _path(t_out, t_args[0]), _path(r_out, r_args[0])
    if name.startswith("pad-circular") or frozen:
        assert reference_path[0] == torch_path[0]
        assert torch_path[0] in ("torch::autograd::CopySlices", "AddBackward0")
    else:
        assert reference_path == torch_path


def _torch_signature(name: str) -> list[tuple[str, object]]:
    """``F.<name>``'s parameters: from its Python signature, the un-dispatched function of a
    ``boolean_dispatch`` (max pooling), or the first line of a builtin's docstring."""
    import inspect

    fn = getattr(F, name)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = None
    if params is None or params[0].kind is inspect.Parameter.VAR_POSITIONAL:
        dispatched = getattr(F, f"_{name}", None)
        if dispatched is not None:
            params = list(inspect.signature(dispatched).parameters.values())
        else:
            line = re.search(rf"{name}\((.*?)\)", fn.__doc__).group(1)
            pairs = [p.strip().split("=") for p in line.split(",")]
            return [(p[0], eval(p[1]) if len(p) > 1 else inspect.Parameter.empty)  # noqa: S307
                    for p in pairs]
    return [(p.name, p.default) for p in params]


CONV_FUNCTIONAL = [
    *[f"conv{n}d" for n in (1, 2, 3)], *[f"conv_transpose{n}d" for n in (1, 2, 3)],
    *[f"{kind}{n}d" for kind in ("max_pool", "avg_pool", "adaptive_avg_pool",
                                 "adaptive_max_pool", "lp_pool", "max_unpool") for n in (1, 2, 3)],
    "pad", "unfold", "fold", "interpolate", "linear", "bilinear",
]


@pytest.mark.spec("CONV-32")
@pytest.mark.parametrize("name", CONV_FUNCTIONAL)
def test_functional_layers_have_torchs_signature(name):
    import inspect

    mine = [(p.name, p.default) for p in inspect.signature(getattr(rf, name)).parameters.values()]
    assert mine == _torch_signature(name)


def _cifar10_quick(f, x, params):
    """The notes' CIFAR10Quick through the functional layers ``f`` (torch's F or the
    reference's): three 5x5 convs (padding 2), each followed by a 2x2 max pool, flatten to
    1024, linear 64, linear 10."""
    (w1, b1), (w2, b2), (w3, b3), (w4, b4), (w5, b5) = params
    for w, b in ((w1, b1), (w2, b2), (w3, b3)):
        x = f.max_pool2d(f.conv2d(x, w, b, padding=2), 2)
    return f.linear(f.linear(x.reshape(x.shape[0], -1), w4, b4), w5, b5)


def _lenet(f, x, params):
    """LeNet's convolution and linear stack (notes 002) without its BatchNorm: two 5x5 convs
    each followed by a 2x2 max pool, flatten to 800, linear 500, linear 10."""
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = params
    x = f.max_pool2d(f.conv2d(x, w1, b1), 2)
    x = f.max_pool2d(f.conv2d(x, w2, b2), 2)
    return f.linear(f.linear(x.reshape(x.shape[0], -1), w3, b3), w4, b4)


def _shapes_params(rng, shapes):
    return [(rng.uniform(-0.2, 0.2, w), rng.uniform(-0.2, 0.2, b)) for w, b in shapes]


@pytest.mark.spec("CONV-46")
@pytest.mark.parametrize("net", ["cifar10_quick", "lenet"])
def test_the_notes_cnns_through_the_functional_layers_match_torch(device, net):
    rng = np.random.default_rng(18)
    if net == "cifar10_quick":
        forward, side, channels = _cifar10_quick, 32, 3
        shapes = [((32, 3, 5, 5), 32), ((32, 32, 5, 5), 32), ((64, 32, 5, 5), 64),
                  ((64, 1024), 64), ((10, 64), 10)]
    else:
        forward, side, channels = _lenet, 28, 1
        shapes = [((20, 1, 5, 5), 20), ((50, 20, 5, 5), 50), ((500, 800), 500), ((10, 500), 10)]
    params = _shapes_params(rng, shapes)
    x = rng.standard_normal((2, channels, side, side))
    g = rng.standard_normal((2, 10))
    flat = [a for pair in params for a in pair]
    t_params = [to_torch(a, device, requires_grad=True) for a in flat]
    t_out = forward(F, to_torch(x, device), list(zip(t_params[::2], t_params[1::2], strict=True)))
    t_grads = torch.autograd.grad(t_out, t_params, to_torch(g, device))
    r_params = [ag.Tensor(a, requires_grad=True) for a in flat]
    r_out = forward(rf, ag.Tensor(x), list(zip(r_params[::2], r_params[1::2], strict=True)))
    r_grads = ag.grad(r_out, r_params, g)
    # float64 throughout: torch and the reference agree to 1e-9 (what the capstone needs)
    assert_matches(t_out, r_out.data, rtol=1e-9, atol=1e-12)
    for t, r in zip(t_grads, r_grads, strict=True):
        assert_matches(t, r, rtol=1e-9, atol=1e-12)
    assert r_out.grad_fn.name() == t_out.grad_fn.name() == "AddmmBackward0"
