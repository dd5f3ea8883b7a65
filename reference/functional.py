"""Differentiable layers on reference tensors, named and signed as ``torch.nn.functional``.

Each function here joins a layer concept's NumPy forward and its vector-Jacobian product
(both in the layer's module: ``reference.convolution``, ``reference.activations``,
``reference.normalization``, ``reference.losses``) into the autograd engine through
[`Function`][reference.autograd.Function]. Tensor arguments are reference
[`Tensor`][reference.autograd.Tensor]s; integer arguments such as class targets may be plain
NumPy arrays.

**Node names.** Each call records the ``grad_fn`` torch records for the same call, which
depends on the input: it is the last node of torch's own decomposition of the function
(``F.linear`` records ``AddmmBackward0`` on 2-D input with a bias, ``MmBackward0`` without;
unbatched convolutions and 1-D pools end in ``SqueezeBackward1``; ``cross_entropy`` in
``NllLossBackward0``, ``NllLoss2DBackward0`` on 4-D input, ``AddBackward0`` with label
smoothing; ``dropout`` in training on the CPU ``MulBackward0``, and none at all with ``p=0``
or in evaluation, where torch returns the input itself). Where torch decomposes a call into
several nodes, so does the reference, with the same engine operations.

The engine imports nothing from here; this module imports the engine and the layers.
"""

from __future__ import annotations

import numpy as np

from reference import activations as _act
from reference import convolution as _conv
from reference import losses as _loss
from reference import normalization as _norm
from reference.autograd import Function, Tensor

# --- convolution, pooling, padding, interpolation, linear (CONV) ---------------------------
#
# Each layer of `reference.convolution` is one `_ConvLayer` node: the layer's forward and
# the VJP next to it (`conv2d` and `conv2d_backward`, ...), named as torch's node. Around it
# the functions below use the engine operations of torch's own decomposition: unsqueeze and
# squeeze for unbatched convolutions and 1-D pools, the explicit pad of an odd 'same'
# padding, the reshapes and matrix products of linear and bilinear.

IntOrInts = int | tuple[int, ...] | list[int]


def _conv_tensor(x: object) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class _ConvLayer(Function):
    """One layer of `reference.convolution` as one node named ``node``: ``forward`` runs
    ``convolution.<op>(*arrays, **options)``, ``backward`` runs ``convolution.<op>_backward``
    with the same arguments.

    ``lift`` is the size-1 axis torch's decomposition inserted before its kernel (a 1-D pool
    runs as a 2-D pool on ``(..., 1, L)``): the arrays arrive with it, the reference's 1-D
    op runs without it. ``with_indices`` also returns the pooling indices (and hands them to
    the VJP); ``mask`` passes the VJP ``output_mask``, the gradients that are needed.
    """

    name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, *arrays, op, node, options, lift=None, with_indices=False, mask=False):
        ctx.name, ctx.op, ctx.options, ctx.lift, ctx.mask = node, op, options, lift, mask
        ctx.with_indices = with_indices
        if lift is not None:
            arrays = tuple(None if a is None else np.squeeze(a, lift) for a in arrays)
        extra = {"return_indices": True} if with_indices else {}
        result = getattr(_conv, op)(*arrays, **options, **extra)
        out, indices = result if with_indices else (result, None)
        ctx.present = tuple(a is not None for a in arrays)
        saved = [a for a in arrays if a is not None]
        ctx.save_for_backward(*saved, *([indices] if with_indices else []))
        if lift is not None:
            out = np.expand_dims(out, lift)
            indices = None if indices is None else np.expand_dims(indices, lift)
        return (out, indices) if with_indices else out

    @staticmethod
    def backward(ctx, grad):
        it = iter(ctx.saved_tensors)
        arrays = [next(it) if present else None for present in ctx.present]
        extra = {}
        if ctx.with_indices:
            extra["indices"] = next(it)
        if ctx.mask:
            extra["output_mask"] = ctx.needs_input_grad
        if ctx.lift is not None:
            grad = np.squeeze(grad, ctx.lift)
        grads = getattr(_conv, ctx.op + "_backward")(grad, *arrays, **ctx.options, **extra)
        grads = grads if isinstance(grads, tuple) else (grads,)
        grads = grads + (None,) * (len(arrays) - len(grads))
        if ctx.lift is not None:
            grads = tuple(None if g is None else np.expand_dims(g, ctx.lift) for g in grads)
        return grads


class _ConvSqueeze(Function):
    """``squeeze(dim)`` of a size-1 dim: torch's ``SqueezeBackward1`` (``node`` renames it,
    as ``SqueezeBackward4`` after a 1-D ``matmul``); the VJP puts the dim back."""

    name = "SqueezeBackward1"

    @staticmethod
    def forward(ctx, x, *, dim, node="SqueezeBackward1"):
        ctx.dim, ctx.name = dim, node
        return np.squeeze(x, dim)

    @staticmethod
    def backward(ctx, grad):
        return (np.expand_dims(grad, ctx.dim),)

    @staticmethod
    def backward_graph(ctx, grad):
        return (grad.unsqueeze(ctx.dim),)


class _ConvSign(Function):
    """``torch.sign``: piecewise constant, so its VJP is 0 (``SignBackward0``)."""

    name = "SignBackward0"

    @staticmethod
    def forward(ctx, x):
        return np.sign(x)

    @staticmethod
    def backward(ctx, grad):
        return (np.zeros_like(grad),)


class _ConvAbs(Function):
    """``torch.abs``; VJP ``g sign(x)`` (0 at 0), ``AbsBackward0``."""

    name = "AbsBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (grad * np.sign(x),)


class _ConvRelu(Function):
    """``relu`` inside ``lp_pool``, with torch's ``threshold_backward``: the gradient where
    the result is positive (or NaN), and 0, not ``g * 0``, elsewhere (so an infinite or NaN
    gradient is stopped where the result is 0)."""

    name = "ReluBackward0"

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return (np.where(y <= 0, 0.0, grad),)


def _conv_sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` back to a broadcast operand's ``shape`` with engine operations."""
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
    )
    return (g.sum(dims, keepdim=True) if dims else g).reshape(shape)


class _ConvAddmm(Function):
    """``addmm(bias, x, W^T)`` on a 2-D ``x``: ``AddmmBackward0``; the VJP is
    `reference.convolution.linear_backward`, restated with engine operations for double
    backward."""

    name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias):
        if np.ndim(weight) != 2:
            raise ValueError(f"linear: mat2 must be a matrix, got a {np.ndim(weight)}-D weight")
        ctx.save_for_backward(x, weight, bias)
        return _conv.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        return _conv.linear_backward(grad, *ctx.saved_tensors)

    @staticmethod
    def backward_graph(ctx, grad):
        x, w, b = (_conv_tensor(t) for t in ctx.inputs)
        return grad @ w, grad.T @ x, _conv_sum_to(grad, b.shape)


class _ConvMm(Function):
    """``x @ W^T`` on a 2-D ``x``: ``MmBackward0``, VJP ``(g W, g^T x)``."""

    name = "MmBackward0"

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return _conv.linear(x, weight)

    @staticmethod
    def backward(ctx, grad):
        return _conv.linear_backward(grad, *ctx.saved_tensors)[:2]

    @staticmethod
    def backward_graph(ctx, grad):
        x, w = (_conv_tensor(t) for t in ctx.inputs)
        return grad @ w, grad.T @ x


class _ConvUnsafeView(Function):
    """torch's ``_unsafe_view`` (the end of a batched ``matmul``): ``UnsafeViewBackward0``."""

    name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return (grad.reshape(ctx.in_shape),)

    @staticmethod
    def backward_graph(ctx, grad):
        return (grad.reshape(ctx.in_shape),)


class _ConvTrilinear(Function):
    """torch's ``_trilinear`` as `bilinear` uses it, on 2-D inputs: ``TrilinearBackward0``;
    VJP `reference.convolution.bilinear_backward`."""

    name = "TrilinearBackward0"

    @staticmethod
    def forward(ctx, x1, weight, x2):
        ctx.save_for_backward(x1, weight, x2)
        return _conv.bilinear(x1, x2, weight)

    @staticmethod
    def backward(ctx, grad):
        x1, w, x2 = ctx.saved_tensors
        g1, g2, gw, _ = _conv.bilinear_backward(grad, x1, x2, w)
        return g1, gw, g2


def _conv_convolution(
    n: int,
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    options: dict,
    transposed: bool = False,
) -> Tensor:
    """torch's eager path: an unbatched input is unsqueezed, convolved and squeezed
    (``SqueezeBackward1``); an odd total 'same' padding pads its extra cell explicitly
    (``ConstantPadNdBackward0``) before the ``ConvolutionBackward0`` node."""
    x = _conv_tensor(input)
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x.unsqueeze(0)
    if not transposed and isinstance(options["padding"], str) and options["padding"] == "same":
        x, options["padding"] = _conv_same(x, weight, options["stride"], options["dilation"], n)
    op = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    out = _ConvLayer.apply(
        x, weight, bias, op=op, node="ConvolutionBackward0", options=options, mask=True
    )
    return _ConvSqueeze.apply(out, dim=0) if unbatched else out


def _conv_same(
    x: Tensor, weight: object, stride: IntOrInts, dilation: IntOrInts, n: int
) -> tuple[Tensor, object]:
    """'same' as torch computes it: total padding ``d (k - 1)`` per dim, ``floor`` of half on
    each side, and where the total is odd the extra cell padded on the right first."""
    kernel = tuple(np.shape(weight.data if isinstance(weight, Tensor) else weight)[2:])
    strides = _conv._ntuple(stride, n, "stride")
    dilations = _conv._ntuple(dilation, n, "dilation")
    if len(kernel) != n or any(s != 1 for s in strides):
        return x, "same"  # the forward raises, naming the problem
    totals = [d * (k - 1) for k, d in zip(kernel, dilations, strict=True)]
    if all(t % 2 == 0 for t in totals):
        return x, "same"
    widths: list[int] = []
    for t in reversed(totals):  # F.pad lists the last dim first
        widths += [0, t % 2]
    return pad(x, widths), tuple(t // 2 for t in totals)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrInts = 1,
    padding: IntOrInts | str = 0,
    dilation: IntOrInts = 1,
    groups: int = 1,
) -> Tensor:
    """``F.conv1d``, differentiable: see `conv2d`."""
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return _conv_convolution(1, input, weight, bias, options)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrInts = 1,
    padding: IntOrInts | str = 0,
    dilation: IntOrInts = 1,
    groups: int = 1,
) -> Tensor:
    """``F.conv2d``: `reference.convolution.conv2d` and its VJP `conv2d_backward` as one
    ``ConvolutionBackward0`` node; an unbatched input ends in ``SqueezeBackward1``
    (unsqueeze, convolve, squeeze) and an odd total 'same' padding goes through
    ``ConstantPadNdBackward0`` first, as in torch."""
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return _conv_convolution(2, input, weight, bias, options)


def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrInts = 1,
    padding: IntOrInts | str = 0,
    dilation: IntOrInts = 1,
    groups: int = 1,
) -> Tensor:
    """``F.conv3d``, differentiable: see `conv2d`."""
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return _conv_convolution(3, input, weight, bias, options)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrInts = 1,
    padding: IntOrInts = 0,
    output_padding: IntOrInts = 0,
    groups: int = 1,
    dilation: IntOrInts = 1,
) -> Tensor:
    """``F.conv_transpose1d``, differentiable: see `conv_transpose2d`."""
    options = dict(stride=stride, padding=padding, output_padding=output_padding,
                   groups=groups, dilation=dilation)
    return _conv_convolution(1, input, weight, bias, options, transposed=True)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrInts = 1,
    padding: IntOrInts = 0,
    output_padding: IntOrInts = 0,
    groups: int = 1,
    dilation: IntOrInts = 1,
) -> Tensor:
    """``F.conv_transpose2d``: one ``ConvolutionBackward0`` node (VJP
    `conv_transpose2d_backward`), unbatched input through unsqueeze / squeeze."""
    options = dict(stride=stride, padding=padding, output_padding=output_padding,
                   groups=groups, dilation=dilation)
    return _conv_convolution(2, input, weight, bias, options, transposed=True)


def conv_transpose3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrInts = 1,
    padding: IntOrInts = 0,
    output_padding: IntOrInts = 0,
    groups: int = 1,
    dilation: IntOrInts = 1,
) -> Tensor:
    """``F.conv_transpose3d``, differentiable: see `conv_transpose2d`."""
    options = dict(stride=stride, padding=padding, output_padding=output_padding,
                   groups=groups, dilation=dilation)
    return _conv_convolution(3, input, weight, bias, options, transposed=True)


def _conv_pool(
    n: int, input: Tensor, op: str, node: str, options: dict, with_indices: bool = False
) -> object:
    """A pool as torch runs it: 2-D and 3-D directly, 1-D as the 2-D node on
    ``input.unsqueeze(-2)``, then ``squeeze(-2)`` (``SqueezeBackward1``)."""
    x = _conv_tensor(input)
    if n > 1:
        return _ConvLayer.apply(x, op=op, node=node, options=options, with_indices=with_indices)
    result = _ConvLayer.apply(
        x.unsqueeze(-2), op=op, node=node, options=options, lift=-2, with_indices=with_indices
    )
    if not with_indices:
        return _ConvSqueeze.apply(result, dim=-2)
    out, indices = result
    return _ConvSqueeze.apply(out, dim=-2), Tensor(np.squeeze(indices.data, -2))


def _conv_max_pool(n: int, input: Tensor, options: dict, return_indices: bool) -> object:
    node = f"MaxPool{max(n, 2)}DWithIndicesBackward0"
    out, indices = _conv_pool(n, input, f"max_pool{n}d", node, options, with_indices=True)
    return (out, indices) if return_indices else out


def max_pool1d(
    input: Tensor,
    kernel_size: IntOrInts,
    stride: IntOrInts | None = None,
    padding: IntOrInts = 0,
    dilation: IntOrInts = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``F.max_pool1d``: the 2-D node ``MaxPool2DWithIndicesBackward0`` between unsqueeze and
    ``SqueezeBackward1``, as in torch; VJP `max_pool1d_backward`."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                   ceil_mode=ceil_mode)
    return _conv_max_pool(1, input, options, return_indices)


def max_pool2d(
    input: Tensor,
    kernel_size: IntOrInts,
    stride: IntOrInts | None = None,
    padding: IntOrInts = 0,
    dilation: IntOrInts = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``F.max_pool2d``: one ``MaxPool2DWithIndicesBackward0`` node (with or without
    ``return_indices``); VJP `max_pool2d_backward`, the gradient to each window's first
    maximum."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                   ceil_mode=ceil_mode)
    return _conv_max_pool(2, input, options, return_indices)


def max_pool3d(
    input: Tensor,
    kernel_size: IntOrInts,
    stride: IntOrInts | None = None,
    padding: IntOrInts = 0,
    dilation: IntOrInts = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``F.max_pool3d``: one ``MaxPool3DWithIndicesBackward0`` node."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                   ceil_mode=ceil_mode)
    return _conv_max_pool(3, input, options, return_indices)


def avg_pool1d(
    input: Tensor,
    kernel_size: IntOrInts,
    stride: IntOrInts | None = None,
    padding: IntOrInts = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """``F.avg_pool1d``: ``AvgPool2DBackward0`` between unsqueeze and ``SqueezeBackward1``."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding,
                   ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    return _conv_pool(1, input, "avg_pool1d", "AvgPool2DBackward0", options)


def avg_pool2d(
    input: Tensor,
    kernel_size: IntOrInts,
    stride: IntOrInts | None = None,
    padding: IntOrInts = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """``F.avg_pool2d``: one ``AvgPool2DBackward0`` node; VJP `avg_pool2d_backward`."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                   count_include_pad=count_include_pad, divisor_override=divisor_override)
    return _conv_pool(2, input, "avg_pool2d", "AvgPool2DBackward0", options)


def avg_pool3d(
    input: Tensor,
    kernel_size: IntOrInts,
    stride: IntOrInts | None = None,
    padding: IntOrInts = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """``F.avg_pool3d``: one ``AvgPool3DBackward0`` node."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                   count_include_pad=count_include_pad, divisor_override=divisor_override)
    return _conv_pool(3, input, "avg_pool3d", "AvgPool3DBackward0", options)


def _conv_all_ones(x: Tensor, output_size: object, n: int) -> bool:
    """Whether an adaptive average pool is torch's shortcut, a mean (``None`` keeps a size)."""
    sizes = (output_size,) * n if isinstance(output_size, (int, np.integer)) else output_size
    sizes = tuple(sizes)
    if len(sizes) != n or x.ndim < n:
        return False
    return all((x.shape[x.ndim - n + i] if s is None else s) == 1 for i, s in enumerate(sizes))


def _conv_adaptive_avg(n: int, input: Tensor, output_size: object) -> Tensor:
    x = _conv_tensor(input)
    lifted = x.unsqueeze(-2) if n == 1 else x
    if _conv_all_ones(x, output_size, n):  # torch's shortcut: the mean (MeanBackward1)
        dims = tuple(range(-1, -max(n, 2) - 1, -1))
        out = lifted.mean(dims, keepdim=True)
    else:
        out = _ConvLayer.apply(
            lifted, op=f"adaptive_avg_pool{n}d", node=f"AdaptiveAvgPool{max(n, 2)}DBackward0",
            options=dict(output_size=output_size), lift=-2 if n == 1 else None,
        )
    return _ConvSqueeze.apply(out, dim=-2) if n == 1 else out


def adaptive_avg_pool1d(input: Tensor, output_size: IntOrInts) -> Tensor:
    """``F.adaptive_avg_pool1d``: ``AdaptiveAvgPool2DBackward0`` (``MeanBackward1`` for
    output size 1) between unsqueeze and ``SqueezeBackward1``."""
    return _conv_adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: object) -> Tensor:
    """``F.adaptive_avg_pool2d``: ``AdaptiveAvgPool2DBackward0``, or for an output of all ones
    torch's shortcut ``input.mean((-1, -2), keepdim=True)``, ``MeanBackward1``."""
    return _conv_adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: object) -> Tensor:
    """``F.adaptive_avg_pool3d``: ``AdaptiveAvgPool3DBackward0`` (or ``MeanBackward1``)."""
    return _conv_adaptive_avg(3, input, output_size)


def _conv_adaptive_max(n: int, input: Tensor, output_size: object, return_indices: bool):
    out, indices = _conv_pool(
        n, input, f"adaptive_max_pool{n}d", f"AdaptiveMaxPool{max(n, 2)}DBackward0",
        dict(output_size=output_size), with_indices=True,
    )
    return (out, indices) if return_indices else out


def adaptive_max_pool1d(
    input: Tensor, output_size: IntOrInts, return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """``F.adaptive_max_pool1d``: ``AdaptiveMaxPool2DBackward0`` between unsqueeze and
    ``SqueezeBackward1``."""
    return _conv_adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(
    input: Tensor, output_size: object, return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """``F.adaptive_max_pool2d``: one ``AdaptiveMaxPool2DBackward0`` node."""
    return _conv_adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(
    input: Tensor, output_size: object, return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """``F.adaptive_max_pool3d``: one ``AdaptiveMaxPool3DBackward0`` node."""
    return _conv_adaptive_max(3, input, output_size, return_indices)


def _conv_lp_pool(
    n: int, input: Tensor, norm_type: float, kernel_size: IntOrInts,
    stride: IntOrInts | None, ceil_mode: bool,
) -> Tensor:
    """torch's ``lp_pool``, operation by operation: ``avg_pool(x ** p)``, then
    ``(sign(a) * relu(|a|)).mul(prod(kernel)).pow(1 / p)`` (``PowBackward0`` last); an
    infinite ``p`` is max pooling of ``|x|`` (torch >= 2.13)."""
    x = _conv_tensor(input)
    if norm_type == 0:
        raise ValueError(f"norm_type must be a non-zero value, but got {norm_type}")
    if np.isinf(norm_type):
        pool = (max_pool1d, max_pool2d, max_pool3d)[n - 1]
        if norm_type > 0:
            return pool(_ConvAbs.apply(x), kernel_size, stride, 0, 1, ceil_mode)
        return -pool(-_ConvAbs.apply(x), kernel_size, stride, 0, 1, ceil_mode)
    avg = (avg_pool1d, avg_pool2d, avg_pool3d)[n - 1]
    out = avg(x**norm_type, kernel_size, stride, 0, ceil_mode)
    k = int(np.prod(_conv._ntuple(kernel_size, n, "kernel_size")))
    return ((_ConvSign.apply(out) * _ConvRelu.apply(_ConvAbs.apply(out))) * k) ** (1.0 / norm_type)


def lp_pool1d(
    input: Tensor, norm_type: float, kernel_size: int, stride: IntOrInts | None = None,
    ceil_mode: bool = False,
) -> Tensor:
    """``F.lp_pool1d``: torch's decomposition, see `lp_pool2d`."""
    return _conv_lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(
    input: Tensor, norm_type: float, kernel_size: IntOrInts, stride: IntOrInts | None = None,
    ceil_mode: bool = False,
) -> Tensor:
    """``F.lp_pool2d``: ``(sign(a) relu(|a|) k_H k_W)^{1/p}`` with ``a = avg_pool2d(x^p)``,
    recorded operation by operation as torch does (``PowBackward0`` last), so a window whose
    power sum is 0 passes no gradient (`lp_pool2d_backward` states the same VJP at once)."""
    return _conv_lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(
    input: Tensor, norm_type: float, kernel_size: IntOrInts, stride: IntOrInts | None = None,
    ceil_mode: bool = False,
) -> Tensor:
    """``F.lp_pool3d``: torch's decomposition, see `lp_pool2d`."""
    return _conv_lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _conv_max_unpool(n: int, input: Tensor, indices: object, options: dict) -> Tensor:
    x = _conv_tensor(input)
    node = f"MaxUnpool{max(n, 2)}DBackward0"
    if n > 1:
        return _ConvLayer.apply(x, indices, op=f"max_unpool{n}d", node=node, options=options)
    # torch: max_unpool2d(input.unsqueeze(-1), indices.unsqueeze(-1), (L_out, 1)).squeeze(-1)
    lifted = indices.unsqueeze(-1) if isinstance(indices, Tensor) else np.expand_dims(indices, -1)
    out = _ConvLayer.apply(
        x.unsqueeze(-1), lifted, op="max_unpool1d", node=node, options=options, lift=-1
    )
    return _ConvSqueeze.apply(out, dim=-1)


def max_unpool1d(
    input: Tensor, indices: Tensor, kernel_size: IntOrInts, stride: IntOrInts | None = None,
    padding: IntOrInts = 0, output_size: object = None,
) -> Tensor:
    """``F.max_unpool1d``: ``MaxUnpool2DBackward0`` between unsqueeze(-1) and
    ``SqueezeBackward1``."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding,
                   output_size=output_size)
    return _conv_max_unpool(1, input, indices, options)


def max_unpool2d(
    input: Tensor, indices: Tensor, kernel_size: IntOrInts, stride: IntOrInts | None = None,
    padding: IntOrInts = 0, output_size: object = None,
) -> Tensor:
    """``F.max_unpool2d``: one ``MaxUnpool2DBackward0`` node (differentiable in ``input``;
    the gradient is gathered back from the indices, `max_unpool2d_backward`)."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding,
                   output_size=output_size)
    return _conv_max_unpool(2, input, indices, options)


def max_unpool3d(
    input: Tensor, indices: Tensor, kernel_size: IntOrInts, stride: IntOrInts | None = None,
    padding: IntOrInts = 0, output_size: object = None,
) -> Tensor:
    """``F.max_unpool3d``: one ``MaxUnpool3DBackward0`` node."""
    options = dict(kernel_size=kernel_size, stride=stride, padding=padding,
                   output_size=output_size)
    return _conv_max_unpool(3, input, indices, options)


def pad(
    input: Tensor, pad: list[int] | tuple[int, ...], mode: str = "constant",
    value: float | None = None,
) -> Tensor:
    """``F.pad``: one node, ``ConstantPadNdBackward0``, ``ReflectionPad{k}DBackward0`` or
    ``ReplicationPad{k}DBackward0`` (``k = len(pad) // 2``), or for circular padding
    ``torch::autograd::CopySlices`` (torch copies the wrapped slices in place; here one
    node with the same VJP); VJP `pad_backward`, which folds the gradient of a mirrored,
    repeated or wrapped cell back onto its source."""
    k = len(pad) // 2
    node = {
        "constant": "ConstantPadNdBackward0",
        "reflect": f"ReflectionPad{k}DBackward0",
        "replicate": f"ReplicationPad{k}DBackward0",
        "circular": "torch::autograd::CopySlices",
    }.get(mode, "ConstantPadNdBackward0")
    options = dict(pad=tuple(pad), mode=mode, value=value)
    return _ConvLayer.apply(_conv_tensor(input), op="pad", node=node, options=options)


def unfold(
    input: Tensor, kernel_size: IntOrInts, dilation: IntOrInts = 1, padding: IntOrInts = 0,
    stride: IntOrInts = 1,
) -> Tensor:
    """``F.unfold`` (im2col): one ``Im2ColBackward0`` node, VJP `fold` (`unfold_backward`)."""
    options = dict(kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
    return _ConvLayer.apply(_conv_tensor(input), op="unfold", node="Im2ColBackward0",
                            options=options)


def fold(
    input: Tensor, output_size: IntOrInts, kernel_size: IntOrInts, dilation: IntOrInts = 1,
    padding: IntOrInts = 0, stride: IntOrInts = 1,
) -> Tensor:
    """``F.fold`` (col2im): one ``Col2ImBackward0`` node, VJP `unfold` (`fold_backward`)."""
    options = dict(output_size=output_size, kernel_size=kernel_size, dilation=dilation,
                   padding=padding, stride=stride)
    return _ConvLayer.apply(_conv_tensor(input), op="fold", node="Col2ImBackward0",
                            options=options)


_CONV_UPSAMPLE = {"linear": "Linear1D", "bilinear": "Bilinear2D", "bicubic": "Bicubic2D",
                  "trilinear": "Trilinear3D"}


def interpolate(
    input: Tensor,
    size: IntOrInts | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """``F.interpolate``: one node per mode, ``UpsampleNearest{n}DBackward0``,
    ``UpsampleNearestExact{n}DBackward0``, ``UpsampleLinear1DBackward0``,
    ``UpsampleBilinear2DBackward0`` (``...2DAaBackward0`` with ``antialias``),
    ``UpsampleBicubic2DBackward0`` (``Aa`` too), ``UpsampleTrilinear3DBackward0``; ``area``
    is `adaptive_avg_pool2d` (or 1-D, 3-D) to the output size. VJP `interpolate_backward`."""
    x = _conv_tensor(input)
    n = x.ndim - 2
    options = dict(size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners,
                   recompute_scale_factor=recompute_scale_factor, antialias=antialias)
    if mode == "area":
        outs, _ = _conv._interpolate_steps(x.data, **options)
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[n - 1](x, outs)
    if mode in ("nearest", "nearest-exact"):
        node = f"UpsampleNearest{'Exact' if mode == 'nearest-exact' else ''}{n}DBackward0"
    else:
        node = f"Upsample{_CONV_UPSAMPLE.get(mode, mode)}{'Aa' if antialias else ''}Backward0"
    return _ConvLayer.apply(x, op="interpolate", node=node, options=options)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear``, ``y = x W^T + b``, recorded as torch's ``linear`` decomposes it:

    - 2-D input with a bias: ``addmm`` (``AddmmBackward0``);
    - a contiguous input of another rank with a 1-D bias (or a contiguous 3-D input):
      ``reshape(-1, in)``, ``addmm``, ``view`` (``ViewBackward0``);
    - otherwise ``matmul(x, W^T)`` (``MmBackward0`` on 2-D input; ``SqueezeBackward4``
      on 1-D; ``reshape``, ``mm``, ``UnsafeViewBackward0`` on more dims), then ``+ b``
      (``AddBackward0``) when there is a bias.

    The VJP is `reference.convolution.linear_backward`; every node also has a
    differentiable backward (double backward)."""
    x, w = _conv_tensor(input), _conv_tensor(weight)
    if w.ndim == 1 or x.ndim == 0:
        out = x @ w  # torch: matmul with the 1-D weight (DotBackward0, MvBackward0, ...)
        return out if bias is None else out + bias
    if x.ndim == 2 and bias is not None:
        return _ConvAddmm.apply(x, w, bias)
    bias_dim = bias.ndim if isinstance(bias, Tensor) else np.ndim(bias)
    if bias is not None and x.data.flags.c_contiguous and (x.ndim == 3 or bias_dim == 1):
        flat = _ConvAddmm.apply(x.reshape(-1, x.shape[-1]), w, bias)
        return flat.view(*x.shape[:-1], w.shape[0])
    if x.ndim == 1:
        out = _ConvSqueeze.apply(_ConvMm.apply(x.unsqueeze(0), w), dim=0, node="SqueezeBackward4")
    elif x.ndim == 2:
        out = _ConvMm.apply(x, w)
    else:
        mm = _ConvMm.apply(x.reshape(-1, x.shape[-1]), w)
        out = _ConvUnsafeView.apply(mm, shape=(*x.shape[:-1], w.shape[0]))
    return out if bias is None else out + bias


def bilinear(
    input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None
) -> Tensor:
    """``F.bilinear``, ``y_k = x_1^T W_k x_2 + b_k``, as torch: both inputs reshaped to
    ``(-1, features)``, ``_trilinear`` (``TrilinearBackward0``, VJP
    `reference.convolution.bilinear_backward`), reshaped back (``ViewBackward0``), ``+ b``
    (``AddBackward0``)."""
    x1, x2 = _conv_tensor(input1), _conv_tensor(input2)
    if x1.ndim == 0 or x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(
            f"bilinear: input1 {x1.shape} and input2 {x2.shape} need the same batch dims"
        )
    w_shape = weight.shape if isinstance(weight, Tensor) else np.shape(weight)
    flat1, flat2 = x1.reshape(-1, x1.shape[-1]), x2.reshape(-1, x2.shape[-1])
    out = _ConvTrilinear.apply(flat1, weight, flat2).reshape(*x1.shape[:-1], w_shape[0])
    return out if bias is None else out + bias


# --- activations (ACT) ---------------------------------------------------------------------
#
# Each activation of `reference.activations` is one `_ActNode`: the forward and the VJP next
# to it (`relu` and `relu_backward`, ...), named as torch's node (``ReluBackward0``; relu6 is
# hardtanh's ``HardtanhBackward0``, selu elu's ``EluBackward0``). Its ``backward_graph`` is
# one `_ActGradNode`, the VJP as a node whose own VJP is ``<act>_double_backward``: so
# ``create_graph=True`` gives torch's second derivatives (one level: a third raises). With
# ``inplace=True`` the result is written into the input tensor, which is returned; torch
# raises for a leaf that requires grad (in grad mode), and so does the reference.


def _act_tensor(x: object) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class _ActGradNode(Function):
    """``<act>_backward(g, x)`` as a node (torch's ``<Act>BackwardBackward0``): its VJP with
    respect to ``g`` and ``x`` is ``reference.activations.<act>_double_backward``; an
    activation without one raises, as torch does for ``hardsigmoid``."""

    name = "BackwardBackward0"

    @staticmethod
    def forward(ctx, g, x, *, op, options, node):
        ctx.op, ctx.options, ctx.name = op, options, node
        ctx.save_for_backward(g, x)
        return getattr(_act, op + "_backward")(g, x, **options)

    @staticmethod
    def backward(ctx, grad):
        g, x = ctx.saved_tensors
        double = getattr(_act, ctx.op + "_double_backward", None)
        if double is None:
            raise RuntimeError(f"derivative for aten::{ctx.op}_backward is not implemented")
        return double(grad, g, x, **ctx.options)


class _ActNode(Function):
    """One activation of `reference.activations` as one node named ``node``: ``forward`` runs
    ``activations.<op>(x, **options)``, ``backward`` ``activations.<op>_backward(g, x,
    **options)``; ``backward_graph`` records that VJP as an `_ActGradNode`."""

    name = "ReluBackward0"

    @staticmethod
    def forward(ctx, x, *, op, node, options):
        ctx.op, ctx.name, ctx.options = op, node, options
        ctx.save_for_backward(x)
        return getattr(_act, op)(x, **options)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (getattr(_act, ctx.op + "_backward")(grad, x, **ctx.options),)

    @staticmethod
    def backward_graph(ctx, grad):
        node = ctx.name.replace("Backward0", "BackwardBackward0").replace(
            "Backward1", "BackwardBackward0"
        )
        return (
            _ActGradNode.apply(grad, ctx.inputs[0], op=ctx.op, options=ctx.options, node=node),
        )


def _act_apply(
    input: Tensor, op: str, node: str, options: dict, inplace: bool = False,
    inplace_node: str | None = None,
) -> Tensor:
    """Run ``op`` as an `_ActNode`; with ``inplace`` write the result into ``input`` (its
    ``data`` and ``grad_fn``; torch's in-place node may be ``...Backward1``) and return it."""
    from reference.autograd import is_grad_enabled

    x = _act_tensor(input)
    if inplace and x.is_leaf and x.requires_grad and is_grad_enabled():
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    name = (inplace_node or node) if inplace else node
    out = _ActNode.apply(x, op=op, node=name, options=options)
    if not inplace:
        return out
    x.data, x.grad_fn, x._requires_grad = out.data, out.grad_fn, out.requires_grad
    return x


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``F.relu``: $\\max(0, x)$, ``ReluBackward0`` (also in place); VJP
    `reference.activations.relu_backward` (0 at the kink)."""
    return _act_apply(input, "relu", "ReluBackward0", {}, inplace)


# --- normalization and dropout (NORM) ------------------------------------------------------
#
# Each normalization of `reference.normalization` is one node named as torch's fused kernel
# (``NativeBatchNormBackward0``, ...): the layer's forward and the VJP next to it
# (`batch_norm` and `batch_norm_backward`, ...). Running statistics are options, not inputs:
# they are updated in place by the forward, as ``F.batch_norm`` does, and no gradient flows
# to them. An empty input takes torch's shortcut: a clone, times ``weight[0]``, plus
# ``bias[0]`` (``CloneBackward0``, ``MulBackward0``, ``AddBackward0``).


def _norm_tensor(x: object) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _norm_array(x: object) -> np.ndarray | None:
    """The array a running-stat argument holds (a tensor's own ``data``, so an in-place
    update reaches it), or None."""
    if x is None:
        return None
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class _NormClone(Function):
    """``clone``: ``CloneBackward0``, the identity VJP."""

    name = "CloneBackward0"

    @staticmethod
    def forward(ctx, x):
        return np.array(x, copy=True)

    @staticmethod
    def backward(ctx, grad):
        return (grad,)

    @staticmethod
    def backward_graph(ctx, grad):
        return (grad,)


def _norm_empty(x: Tensor, weight: object, bias: object) -> Tensor:
    """torch's path for an empty input: ``input.clone() * weight[0] + bias[0]`` (an empty
    per-channel vector has no ``[0]``: ``IndexError``)."""
    out = _NormClone.apply(x)
    if weight is not None:
        out = out * _norm_tensor(weight)[0]
    if bias is not None:
        out = out + _norm_tensor(bias)[0]
    return out


class _NormBatchNorm(Function):
    """`reference.normalization.batch_norm` as one ``NativeBatchNormBackward0`` node, VJP
    `reference.normalization.batch_norm_backward` (gradients for input, weight, bias)."""

    name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, training, momentum, eps):
        use_batch = training or running_mean is None
        stats = None if use_batch else (np.array(running_mean), np.array(running_var))
        out = _norm.batch_norm(
            x, running_mean, running_var, weight, bias, training, momentum, eps
        )
        ctx.training, ctx.eps, ctx.has_weight = use_batch, eps, weight is not None
        ctx.save_for_backward(x, *([weight] if weight is not None else []), *(stats or ()))
        return out

    @staticmethod
    def backward(ctx, grad):
        x, *rest = ctx.saved_tensors
        weight = rest.pop(0) if ctx.has_weight else None
        rm, rv = rest if rest else (None, None)
        gx, gw, gb = _norm.batch_norm_backward(grad, x, weight, rm, rv, ctx.training, ctx.eps)
        return gx, gw if ctx.has_weight else None, gb


def batch_norm(
    input: Tensor,
    running_mean: object,
    running_var: object,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-05,
) -> Tensor:
    """``F.batch_norm``: `reference.normalization.batch_norm` recorded as torch's
    ``NativeBatchNormBackward0`` (inputs: input, weight, bias). In training the running
    stats you pass (arrays, or tensors whose ``data`` is updated) are updated in place in
    the forward; in evaluation they normalize. An empty input is cloned, times
    ``weight[0]``, plus ``bias[0]`` (``CloneBackward0``, ``MulBackward0``, ``AddBackward0``)
    and moves no statistic."""
    x = _norm_tensor(input)
    if x.data.size == 0:
        return _norm_empty(x, weight, bias)
    return _NormBatchNorm.apply(
        x,
        weight,
        bias,
        running_mean=_norm_array(running_mean),
        running_var=_norm_array(running_var),
        training=training,
        momentum=momentum,
        eps=eps,
    )


# --- losses (LOSS) -------------------------------------------------------------------------
