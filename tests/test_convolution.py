"""CONV: convolution, pooling, padding and linear layers, held to torch and to the reference
(reference/convolution.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, example, given
from hypothesis import strategies as st
from torch import nn

from reference.convolution import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    bilinear,
    conv1d,
    conv2d,
    conv3d,
    conv_output_size,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose_output_size,
    default_init_bounds,
    fold,
    interpolate,
    linear,
    lp_pool2d,
    max_pool1d,
    max_pool2d,
    pad,
    pool_output_size,
    unfold,
)
from tests.strategies import exact_float_arrays, finite_arrays, float_dtypes, window_params
from tests.support import assert_both_raise, assert_matches, to_numpy, to_torch

# The notes' (001) 5x5 input and 3x3 kernel.
NOTES_INPUT = np.array(
    [[1, 2, 0, 3, 1], [0, 1, 2, 3, 1], [1, 2, 1, 0, 0], [5, 2, 3, 1, 1], [2, 1, 0, 1, 1]],
    dtype=np.float64,
).reshape(1, 1, 5, 5)
NOTES_KERNEL = np.array([[1, 2, 1], [0, 1, 0], [2, 1, 0]], dtype=np.float64).reshape(1, 1, 3, 3)


def values(draw: st.DrawFn, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """float64: general floats (the mathematical comparison); float32 (torch's default):
    small integers, so sums of products are exact whatever order torch accumulates in."""
    if dtype == np.float32:
        return draw(exact_float_arrays(shape, np.float32))
    return draw(finite_arrays(shape, np.float64, min_value=-10, max_value=10))


def tensor(array: np.ndarray | None, device: str, noncontiguous: bool = False):
    if array is None:
        return None
    return to_torch(array, device, noncontiguous=noncontiguous)


def sizes_from(draw: st.DrawFn, spans: list[int], pads: list[int], extra: int = 3) -> list[int]:
    """Spatial sizes at least as large as each (dilated) kernel span minus its padding."""
    return [
        draw(st.integers(max(1, s - 2 * p), max(1, s - 2 * p) + extra))
        for s, p in zip(spans, pads, strict=True)
    ]


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


@pytest.mark.spec("CONV-1")
@pytest.mark.parametrize(
    "kwargs, match",
    [({"padding": -1}, "padding"), ({"stride": 0}, "stride"), ({"dilation": 0}, "dilation")],
)
def test_invalid_conv_parameters_raise(device, kwargs, match):
    x = torch.zeros(1, 1, 5, device=device)
    w = torch.zeros(1, 1, 3, device=device)
    params = {"stride": 1, "padding": 0, "dilation": 1, **kwargs}
    assert_both_raise(
        lambda: F.conv1d(x, w, **params),
        lambda: conv_output_size(5, 3, **params),
        match=match,
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
def conv_cases(draw, n: int = 2, same: bool = True):
    dtype = draw(float_dtypes())
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(n)]
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
    x = values(draw, (draw(st.integers(1, 2)), cin, *spatial), dtype)
    w = values(draw, (cout, cin // groups, *kernel), dtype)
    b = values(draw, (cout,), dtype) if draw(st.booleans()) else None
    kwargs = {
        "stride": tuple(stride),
        "padding": padding,
        "dilation": tuple(dilation),
        "groups": groups,
    }
    return x, w, b, kwargs, draw(st.booleans())


@pytest.mark.spec("CONV-4")
@given(conv_cases(n=2))
def test_conv2d_matches_torch(device, case):
    x, w, b, kwargs, noncontiguous = case
    out = F.conv2d(tensor(x, device, noncontiguous), tensor(w, device), tensor(b, device), **kwargs)
    assert_matches(out, conv2d(x, w, b, **kwargs))


CONVS = {1: (F.conv1d, conv1d), 3: (F.conv3d, conv3d)}


@pytest.mark.spec("CONV-4")
@given(st.sampled_from([1, 3]).flatmap(lambda n: st.tuples(st.just(n), conv_cases(n=n))))
def test_conv1d_and_conv3d_match_torch(device, case):
    n, (x, w, b, kwargs, noncontiguous) = case
    torch_conv, reference_conv = CONVS[n]
    out = torch_conv(
        tensor(x, device, noncontiguous), tensor(w, device), tensor(b, device), **kwargs
    )
    assert_matches(out, reference_conv(x, w, b, **kwargs))


@pytest.mark.spec("CONV-4")
def test_conv2d_unbatched_input(device):
    x = np.arange(2 * 4 * 4, dtype=np.float64).reshape(2, 4, 4)
    w = np.ones((3, 2, 2, 2))
    assert_matches(F.conv2d(to_torch(x, device), to_torch(w, device)), conv2d(x, w))


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


@pytest.mark.spec("CONV-4")
@pytest.mark.parametrize(
    "x_shape, w_shape, groups, match",
    [
        ((1, 3, 5, 5), (2, 2, 3, 3), 1, "input channels"),  # weight expects 2 channels
        ((1, 4, 5, 5), (3, 2, 3, 3), 2, "groups"),  # out_channels 3 not divisible by 2
        ((1, 3, 5, 5), (2, 3, 3), 1, "weight"),  # weight has the wrong rank
    ],
)
def test_conv2d_channel_errors(device, x_shape, w_shape, groups, match):
    x, w = np.zeros(x_shape), np.zeros(w_shape)
    assert_both_raise(
        lambda: F.conv2d(to_torch(x, device), to_torch(w, device), groups=groups),
        lambda: conv2d(x, w, groups=groups),
        match=match,
    )


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


@pytest.mark.spec("CONV-5")
def test_same_padding_rejects_strides(device):
    x, w = np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3))
    assert_both_raise(
        lambda: F.conv2d(to_torch(x, device), to_torch(w, device), stride=2, padding="same"),
        lambda: conv2d(x, w, stride=2, padding="same"),
        match="strided",
    )


# --- CONV-6: padding modes --------------------------------------------------------------------

MODES = ["constant", "reflect", "replicate", "circular"]


@st.composite
def pad_cases(draw):
    mode = draw(st.sampled_from(MODES))
    dims = draw(st.integers(1, 2)) if mode != "constant" else draw(st.integers(1, 3))
    ndim = draw(st.sampled_from([dims + 1, dims + 2]))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    widths = []
    for size in reversed(shape[ndim - dims :]):
        if mode == "reflect":
            bound = st.integers(0, size - 1)
        elif mode == "circular":
            bound = st.integers(0, size)
        elif mode == "replicate":
            bound = st.integers(0, 3)
        else:  # constant: negative widths crop, but not below size 0
            bound = st.integers(-(size // 2), 3)
        widths += [draw(bound), draw(bound)]
    dtype = draw(float_dtypes())
    return (
        values(draw, shape, dtype),
        tuple(widths),
        mode,
        draw(st.floats(-2, 2)),
        draw(st.booleans()),
    )


@pytest.mark.spec("CONV-6")
@given(pad_cases())
def test_pad_matches_torch(device, case):
    x, widths, mode, value, noncontiguous = case
    fill = value if mode == "constant" else None
    out = F.pad(tensor(x, device, noncontiguous), widths, mode=mode, value=fill)
    assert_matches(out, pad(x, widths, mode=mode, value=fill))


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


@pytest.mark.spec("CONV-6")
@pytest.mark.parametrize(
    "shape, widths, mode, match, torch_error",
    [
        ((1, 1, 3), (3, 0), "reflect", "less than the input size", RuntimeError),
        ((1, 1, 3), (4, 0), "circular", "at most the input size", RuntimeError),
        ((1, 3), (1, 1, 1), "constant", "divisible by 2", RuntimeError),
        ((3,), (1, 1), "reflect", "not supported", NotImplementedError),
    ],
)
def test_pad_errors(device, shape, widths, mode, match, torch_error):
    x = np.zeros(shape)
    assert_both_raise(
        lambda: F.pad(to_torch(x, device), widths, mode=mode),
        lambda: pad(x, widths, mode=mode),
        torch_error=(torch_error, ValueError),
        match=match,
    )


# --- CONV-7: transposed convolution -------------------------------------------------------


@pytest.mark.spec("CONV-7")
@given(conv_cases(n=2, same=False))
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
def conv_transpose_cases(draw, n: int):
    dtype = draw(float_dtypes())
    groups = draw(st.integers(1, 2))
    cin, per_group = groups * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(n)]
    stride = [draw(st.integers(1, 3)) for _ in range(n)]
    dilation = [draw(st.integers(1, 2)) for _ in range(n)]
    output_padding = [
        draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
    ]
    spatial = [draw(st.integers(1, 4)) for _ in range(n)]
    padding = []
    for L, k, s, d, op in zip(spatial, kernel, stride, dilation, output_padding, strict=True):
        most = ((L - 1) * s + d * (k - 1) + op) // 2  # keep the output at least 1
        padding.append(draw(st.integers(0, min(most, 2))))
    x = values(draw, (draw(st.integers(1, 2)), cin, *spatial), dtype)
    w = values(draw, (cin, per_group, *kernel), dtype)
    b = values(draw, (per_group * groups,), dtype) if draw(st.booleans()) else None
    kwargs = dict(
        stride=tuple(stride),
        padding=tuple(padding),
        output_padding=tuple(output_padding),
        groups=groups,
        dilation=tuple(dilation),
    )
    return x, w, b, kwargs, draw(st.booleans())


TRANSPOSED = {1: (F.conv_transpose1d, conv_transpose1d), 2: (F.conv_transpose2d, conv_transpose2d)}


@pytest.mark.spec("CONV-7")
@given(st.sampled_from([1, 2]).flatmap(lambda n: st.tuples(st.just(n), conv_transpose_cases(n=n))))
def test_conv_transpose_matches_torch(device, case):
    n, (x, w, b, kwargs, noncontiguous) = case
    torch_op, reference_op = TRANSPOSED[n]
    out = torch_op(tensor(x, device, noncontiguous), tensor(w, device), tensor(b, device), **kwargs)
    assert_matches(out, reference_op(x, w, b, **kwargs))


# --- CONV-8, CONV-9: max and average pooling ------------------------------------------------


@st.composite
def pool_cases(draw, n: int, dilated: bool = True):
    dtype = draw(float_dtypes())
    kernel = [draw(st.integers(1, 3)) for _ in range(n)]
    stride = None if draw(st.booleans()) else tuple(draw(st.integers(1, 3)) for _ in range(n))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(draw(st.integers(1, 2)) if dilated else 1 for _ in range(n))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    spatial = sizes_from(draw, spans, list(padding), extra=2)
    x = values(draw, (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *spatial), dtype)
    return x, tuple(kernel), stride, padding, dilation, draw(st.booleans()), draw(st.booleans())


MAX_POOLS = {1: (F.max_pool1d, max_pool1d), 2: (F.max_pool2d, max_pool2d)}


@pytest.mark.spec("CONV-8")
@given(st.sampled_from([1, 2]).flatmap(lambda n: st.tuples(st.just(n), pool_cases(n=n))))
def test_max_pool_matches_torch(device, case):
    n, (x, kernel, stride, padding, dilation, ceil_mode, noncontiguous) = case
    torch_pool, reference_pool = MAX_POOLS[n]
    args = (kernel, stride, padding, dilation, ceil_mode)
    out, indices = torch_pool(tensor(x, device, noncontiguous), *args, return_indices=True)
    ref_out, ref_indices = reference_pool(x, *args, return_indices=True)
    assert_matches(out, ref_out)
    assert_matches(torch_pool(tensor(x, device), *args), ref_out)  # the no-indices kernel
    # A dilated window can fall entirely in the padding (value -inf): its index is unspecified.
    real = np.isfinite(ref_out)
    assert (indices.cpu().numpy()[real] == ref_indices[real]).all()


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
def avg_pool_cases(draw, n: int):
    x, kernel, stride, padding, _, ceil_mode, noncontiguous = draw(pool_cases(n, dilated=False))
    count_include_pad = draw(st.booleans())
    divisor_override = draw(st.none() | st.integers(1, 5)) if n == 2 else None
    return x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, noncontiguous


@pytest.mark.spec("CONV-9")
@given(st.sampled_from([1, 2]).flatmap(avg_pool_cases))
@example(  # ceil_mode window past the input: divides by the part inside input + padding
    (NOTES_INPUT, (3, 3), None, (1, 1), True, True, None, False)
)
def test_avg_pool_matches_torch(device, case):
    x, kernel, stride, padding, ceil_mode, count_include_pad, divisor, noncontiguous = case
    args = (kernel, stride, padding, ceil_mode, count_include_pad)
    if x.ndim == 3:  # torch's avg_pool1d has no divisor_override
        out, expected = F.avg_pool1d(tensor(x, device, noncontiguous), *args), avg_pool1d(x, *args)
    else:
        out = F.avg_pool2d(tensor(x, device, noncontiguous), *args, divisor)
        expected = avg_pool2d(x, *args, divisor)
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
def adaptive_cases(draw):
    dtype = draw(float_dtypes())
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    x = values(draw, (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w), dtype)
    size = draw(
        st.integers(1, 6) | st.tuples(st.integers(1, 6) | st.none(), st.integers(1, 6) | st.none())
    )
    return x, size, draw(st.booleans())


@pytest.mark.spec("CONV-10")
@given(adaptive_cases())
def test_adaptive_pools_match_torch(device, case):
    x, size, noncontiguous = case
    tx = tensor(x, device, noncontiguous)
    assert_matches(F.adaptive_avg_pool2d(tx, size), adaptive_avg_pool2d(x, size))
    out, indices = F.adaptive_max_pool2d(tx, size, return_indices=True)
    ref_out, ref_indices = adaptive_max_pool2d(x, size, return_indices=True)
    assert_matches(out, ref_out)
    assert (indices.cpu().numpy() == ref_indices).all()


@pytest.mark.spec("CONV-10")
def test_adaptive_bins_overlap_when_sizes_do_not_divide(device):
    x = np.arange(5, dtype=np.float64).reshape(1, 1, 1, 5)
    # 5 -> 3 bins: [0, 2), [1, 4), [3, 5): bin i spans floor(5i/3) to ceil(5(i+1)/3).
    expected = [[[[0.5, 2.0, 3.5]]]]
    assert_matches(F.adaptive_avg_pool2d(to_torch(x, device), (1, 3)), expected)
    assert adaptive_avg_pool2d(x, (1, 3)).tolist() == expected


@pytest.mark.spec("CONV-11")
@given(st.sampled_from([1.0, 2.0, 3.0]), pool_cases(n=2, dilated=False))
def test_lp_pool2d_matches_torch(device, norm_type, case):
    x, kernel, stride, _, _, ceil_mode, noncontiguous = case
    assume(
        all(L >= k for L, k in zip(x.shape[2:], kernel, strict=True))
    )  # lp_pool2d has no padding
    out = F.lp_pool2d(tensor(x, device, noncontiguous), norm_type, kernel, stride, ceil_mode)
    assert_matches(out, lp_pool2d(x, norm_type, kernel, stride, ceil_mode))


@pytest.mark.spec("CONV-11")
def test_lp_pool2d_with_p2_is_the_window_euclidean_norm(device):
    x = np.array([[[[3.0, 4.0], [0.0, 0.0]]]])
    assert_matches(F.lp_pool2d(to_torch(x, device), 2, 2), [[[[5.0]]]])
    assert lp_pool2d(x, 2, 2).tolist() == [[[[5.0]]]]


# --- CONV-12: unfold and fold ---------------------------------------------------------------


@st.composite
def unfold_cases(draw):
    dtype = draw(float_dtypes())
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(2))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    h, w = sizes_from(draw, spans, list(padding), extra=2)
    x = values(draw, (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w), dtype)
    return (
        x,
        dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride),
        draw(st.booleans()),
    )


@pytest.mark.spec("CONV-12")
@given(unfold_cases())
def test_unfold_and_fold_match_torch(device, case):
    x, kwargs, noncontiguous = case
    cols = F.unfold(tensor(x, device, noncontiguous), **kwargs)
    ref_cols = unfold(x, **kwargs)
    assert_matches(cols, ref_cols)
    size = x.shape[2:]
    assert_matches(
        F.fold(tensor(ref_cols, device, noncontiguous), size, **kwargs),
        fold(ref_cols, size, **kwargs),
    )


@pytest.mark.spec("CONV-12")
@given(unfold_cases(), st.integers(1, 3))
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


@pytest.mark.spec("CONV-12")
def test_fold_rejects_a_wrong_block_count(device):
    cols = np.zeros((1, 4, 5))  # a 2x2 kernel on 3x3 makes 4 blocks, not 5
    assert_both_raise(
        lambda: F.fold(to_torch(cols, device), (3, 3), 2),
        lambda: fold(cols, (3, 3), 2),
        match="sliding blocks",
    )


# --- CONV-13, CONV-14: interpolation -------------------------------------------------------


@st.composite
def interpolate_cases(draw, n: int):
    dtype = draw(float_dtypes())
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(n))
    x = draw(
        finite_arrays(
            (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *spatial),
            dtype,
            min_value=-10,
            max_value=10,
        )
    )
    if draw(st.booleans()):
        kwargs: dict = {"size": tuple(draw(st.integers(1, 9)) for _ in range(n))}
    else:
        factor = draw(st.sampled_from([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0]) | st.floats(0.3, 3.0))
        assume(all(math.floor(L * factor) >= 1 for L in spatial))
        kwargs = {
            "scale_factor": factor,
            "recompute_scale_factor": draw(st.sampled_from([None, True])),
        }
    return x, kwargs, draw(st.booleans())


@pytest.mark.spec("CONV-13")
@given(st.sampled_from([1, 2]).flatmap(interpolate_cases))
def test_interpolate_nearest_matches_torch(device, case):
    x, kwargs, noncontiguous = case
    out = F.interpolate(tensor(x, device, noncontiguous), mode="nearest", **kwargs)
    assert_matches(out, interpolate(x, mode="nearest", **kwargs))


@pytest.mark.spec("CONV-13")
def test_interpolate_nearest_doubling_repeats_each_pixel(device):
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = x.repeat(2, axis=2).repeat(2, axis=3)
    assert_matches(F.interpolate(to_torch(x, device), scale_factor=2), expected)
    assert (interpolate(x, scale_factor=2) == expected).all()


@pytest.mark.spec("CONV-14")
@given(interpolate_cases(n=2), st.booleans())
def test_interpolate_bilinear_matches_torch(device, case, align_corners):
    x, kwargs, noncontiguous = case
    out = F.interpolate(
        tensor(x, device, noncontiguous), mode="bilinear", align_corners=align_corners, **kwargs
    )
    assert_matches(out, interpolate(x, mode="bilinear", align_corners=align_corners, **kwargs))


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


@pytest.mark.spec("CONV-13", "CONV-14")
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"size": 4, "scale_factor": 2.0}, "only one of size or scale_factor"),
        ({"size": 4, "align_corners": True}, "align_corners"),
    ],
)
def test_interpolate_errors(device, kwargs, match):
    x = np.zeros((1, 1, 2, 2))
    assert_both_raise(
        lambda: F.interpolate(to_torch(x, device), **kwargs),
        lambda: interpolate(x, **kwargs),
        match=match,
    )


# --- CONV-15, CONV-16, CONV-17: linear layers and their init ---------------------------------


@st.composite
def linear_cases(draw):
    dtype = draw(float_dtypes())
    batch = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    x = values(draw, (*batch, n_in), dtype)
    w = values(draw, (n_out, n_in), dtype)
    b = values(draw, (n_out,), dtype) if draw(st.booleans()) else None
    return x, w, b, draw(st.booleans())


@pytest.mark.spec("CONV-15")
@given(linear_cases())
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


@pytest.mark.spec("CONV-15")
def test_linear_rejects_mismatched_features(device):
    x, w = np.zeros((2, 3)), np.zeros((4, 5))
    assert_both_raise(
        lambda: F.linear(to_torch(x, device), to_torch(w, device)),
        lambda: linear(x, w),
        match="features",
    )


@pytest.mark.spec("CONV-16")
@given(st.data())
def test_bilinear_matches_torch(device, data):
    dtype = data.draw(float_dtypes())
    batch, n1, n2, n_out = (data.draw(st.integers(1, 4)) for _ in range(4))
    x1 = values(data.draw, (batch, n1), dtype)
    x2 = values(data.draw, (batch, n2), dtype)
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


@pytest.mark.spec("CONV-17")
def test_default_init_bounds_rejects_empty_fan_in():
    with pytest.raises(ValueError, match="fan_in"):
        default_init_bounds(0)


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
