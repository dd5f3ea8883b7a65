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
from reference.autograd import is_grad_enabled as _loss_grad_enabled
from reference.autograd import where as _loss_where

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
# hardtanh's ``HardtanhBackward0``, selu elu's ``EluBackward0``, rrelu always
# ``RreluWithNoiseBackward0``, prelu ``PreluKernelBackward0``). Its ``backward_graph`` is one
# `_ActGradNode`, the VJP as a node whose own VJP is ``<act>_double_backward``: so
# ``create_graph=True`` gives torch's second derivatives (one level deep). torch decomposes
# tanhshrink (``x - tanh(x)``, ``SubBackward0``), softsign (``x / (|x| + 1)``,
# ``DivBackward0``) and softmin (``softmax(-x)``, ``NegBackward0`` below
# ``SoftmaxBackward0``): so does the reference, with engine operations. With
# ``inplace=True`` the result is written into the input tensor (its ``data`` and
# ``grad_fn``), which is returned, and the node is torch's in-place one (``EluBackward1``,
# ``LeakyReluBackward1``, ...); torch raises for a leaf that requires grad (in grad mode),
# and so does the reference. The reference keeps the input's values for the backward, so it
# does not detect a later in-place change of a tensor another node saved, as torch's version
# counter does.


def _act_tensor(x: object) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# torch's name for the node of each activation's backward (create_graph=True)
_ACT_DOUBLE_NODES = {
    "relu": "ThresholdBackwardBackward0",
    "relu6": "HardtanhBackwardBackward0",
    "selu": "EluBackwardBackward0",
    "celu": "EluBackwardBackward0",
    "rrelu": "RreluWithNoiseBackwardBackward0",
    "silu": "MulBackward0",
    "mish": "MulBackward0",
    "hardsigmoid": "NotImplemented",
    "softmax": "SoftmaxBackwardDataBackward0",
    "log_softmax": "LogSoftmaxBackwardDataBackward0",
}


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
    **options)``; ``backward_graph`` records that VJP as an `_ActGradNode`. ``refuse``: a
    message the backward raises with (torch's in-place leaky ReLU with a negative slope)."""

    name = "ReluBackward0"

    @staticmethod
    def forward(ctx, x, *, op, node, options, refuse=None):
        ctx.op, ctx.name, ctx.options, ctx.refuse = op, node, options, refuse
        ctx.save_for_backward(x)
        return getattr(_act, op)(x, **options)

    @staticmethod
    def backward(ctx, grad):
        if ctx.refuse:
            raise RuntimeError(ctx.refuse)
        (x,) = ctx.saved_tensors
        return (getattr(_act, ctx.op + "_backward")(grad, x, **ctx.options),)

    @staticmethod
    def backward_graph(ctx, grad):
        if ctx.refuse:
            raise RuntimeError(ctx.refuse)
        node = _ACT_DOUBLE_NODES.get(
            ctx.op, ctx.name.replace("Backward0", "BackwardBackward0").replace(
                "Backward1", "BackwardBackward0")
        )
        return (
            _ActGradNode.apply(grad, ctx.inputs[0], op=ctx.op, options=ctx.options, node=node),
        )


def _act_apply(
    input: Tensor, op: str, node: str, options: dict, inplace: bool = False,
    inplace_node: str | None = None, **extra: object,
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
    # in place, the node's input is the tensor as it was (x itself is rebound below)
    before = Tensor._wrap(x.data, x.grad_fn) if inplace and x.grad_fn is not None else x
    out = _ActNode.apply(before, op=op, node=name, options=options, **extra)
    if not inplace:
        return out
    x.data, x.grad_fn, x._requires_grad = out.data, out.grad_fn, out.requires_grad
    return x


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``F.relu``: $\\max(0, x)$, ``ReluBackward0`` (also in place); VJP
    `reference.activations.relu_backward` (0 at the kink)."""
    return _act_apply(input, "relu", "ReluBackward0", {}, inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``F.relu6``: ``hardtanh(x, 0, 6)``, ``HardtanhBackward0``."""
    return _act_apply(input, "relu6", "HardtanhBackward0", {}, inplace)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``F.hardtanh``: ``HardtanhBackward0``; the gradient is 0 at the bounds."""
    options = {"min_val": min_val, "max_val": max_val}
    return _act_apply(input, "hardtanh", "HardtanhBackward0", options, inplace)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``F.threshold``: ``ThresholdBackward0`` (``ThresholdBackward1`` in place); the
    gradient is 0 where $x \\le \\text{threshold}$."""
    options = {"threshold": threshold, "value": value}
    return _act_apply(
        input, "threshold", "ThresholdBackward0", options, inplace, "ThresholdBackward1"
    )


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``F.leaky_relu``: ``LeakyReluBackward0`` (``LeakyReluBackward1`` in place, whose
    backward raises for a negative slope, as torch's does)."""
    refuse = None
    if inplace and negative_slope < 0:
        refuse = (
            "In-place leakyReLu backward calculation is triggered with a negative slope which "
            "is not supported."
        )
    return _act_apply(
        input, "leaky_relu", "LeakyReluBackward0", {"negative_slope": negative_slope},
        inplace, "LeakyReluBackward1", refuse=refuse,
    )


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    noise: np.ndarray | None = None,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """``F.rrelu``: ``RreluWithNoiseBackward0`` (``...Backward1`` in place) in training and
    evaluation. In training the slopes come from ``noise`` (an array of the input's shape)
    or are drawn from ``generator`` once, and the same slopes give the VJP."""
    x = _act_tensor(input)
    if training and noise is None:
        rng = np.random.default_rng() if generator is None else generator
        noise = rng.uniform(lower, upper, size=x.shape)
    options = {"lower": lower, "upper": upper, "training": training, "noise": noise}
    return _act_apply(
        x, "rrelu", "RreluWithNoiseBackward0", options, inplace, "RreluWithNoiseBackward1"
    )


class _ActPrelu(Function):
    """torch's ``_prelu_kernel``: ``PreluKernelBackward0``, VJP
    `reference.activations.prelu_backward`; its graph form uses engine operations."""

    name = "PreluKernelBackward0"

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return _act.prelu(x, weight)

    @staticmethod
    def backward(ctx, grad):
        return _act.prelu_backward(grad, *ctx.saved_tensors)

    @staticmethod
    def backward_graph(ctx, grad):
        from reference.autograd import where

        x, w = (_act_tensor(t) for t in ctx.inputs)
        positive, negative = x.data > 0, x.data < 0
        shape = (-1, *([1] * (x.ndim - 2))) if x.ndim >= 2 else ()
        slope = w.reshape(shape) if x.ndim >= 2 else w.reshape(())
        # torch's second derivatives count x = 0 as positive where the weight enters (the
        # first derivative there is the slope): the slope at 0 is a constant here
        at_zero = grad * Tensor(slope.data)
        grad_input = where(positive, grad, where(negative, grad * slope, at_zero))
        per_entry = where(negative, grad * x, 0.0)
        if w.numel() == 1 or x.ndim < 2:
            grad_weight = per_entry.sum().reshape(w.shape)
        else:
            grad_weight = per_entry.sum((0, *range(2, x.ndim))).reshape(w.shape)
        return grad_input, grad_weight


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``F.prelu``: ``PreluKernelBackward0`` with gradients for input and weight."""
    return _ActPrelu.apply(_act_tensor(input), weight)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``F.elu``: ``EluBackward0`` (``EluBackward1`` in place); slope $\\alpha$ at 0."""
    return _act_apply(input, "elu", "EluBackward0", {"alpha": alpha}, inplace, "EluBackward1")


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``F.selu``: elu's node, ``EluBackward0`` (``EluBackward1`` in place)."""
    return _act_apply(input, "selu", "EluBackward0", {}, inplace, "EluBackward1")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``F.celu``: ``CeluBackward0`` (``CeluBackward1`` in place)."""
    return _act_apply(input, "celu", "CeluBackward0", {"alpha": alpha}, inplace, "CeluBackward1")


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``F.gelu``: ``GeluBackward0`` in both forms."""
    return _act_apply(input, "gelu", "GeluBackward0", {"approximate": approximate})


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``F.silu``: ``SiluBackward0`` (also in place)."""
    return _act_apply(input, "silu", "SiluBackward0", {}, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``F.mish``: ``MishBackward0`` (also in place)."""
    return _act_apply(input, "mish", "MishBackward0", {}, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``F.hardswish``: ``HardswishBackward0`` (also in place)."""
    return _act_apply(input, "hardswish", "HardswishBackward0", {}, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``F.hardsigmoid``: ``HardsigmoidBackward0`` (also in place); no double backward."""
    return _act_apply(input, "hardsigmoid", "HardsigmoidBackward0", {}, inplace)


def sigmoid(input: Tensor) -> Tensor:
    """``F.sigmoid``: ``SigmoidBackward0``."""
    return _act_apply(input, "sigmoid", "SigmoidBackward0", {})


def tanh(input: Tensor) -> Tensor:
    """``F.tanh``: ``TanhBackward0``."""
    return _act_apply(input, "tanh", "TanhBackward0", {})


def logsigmoid(input: Tensor) -> Tensor:
    """``F.logsigmoid``: ``LogSigmoidBackward0``."""
    return _act_apply(input, "logsigmoid", "LogSigmoidBackward0", {})


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``F.softplus``: ``SoftplusBackward0``; gradient $g$ on the linear branch."""
    options = {"beta": beta, "threshold": threshold}
    return _act_apply(input, "softplus", "SoftplusBackward0", options)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``F.hardshrink``: ``HardshrinkBackward0``; 0 on the closed $[-\\lambda, \\lambda]$."""
    return _act_apply(input, "hardshrink", "HardshrinkBackward0", {"lambd": lambd})


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``F.softshrink``: ``SoftshrinkBackward0``; 0 on the closed $[-\\lambda, \\lambda]$."""
    return _act_apply(input, "softshrink", "SoftshrinkBackward0", {"lambd": lambd})


def tanhshrink(input: Tensor) -> Tensor:
    """``F.tanhshrink``: torch's ``input - input.tanh()`` (``SubBackward0`` over
    ``TanhBackward0``); VJP `reference.activations.tanhshrink_backward`."""
    x = _act_tensor(input)
    return x - tanh(x)


class _ActAbs(Function):
    """``abs``: ``AbsBackward0``, VJP $g \\operatorname{sign}(x)$ (0 at 0)."""

    name = "AbsBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (grad * np.sign(x),)

    @staticmethod
    def backward_graph(ctx, grad):
        x = _act_tensor(ctx.inputs[0])
        return (grad * Tensor(np.sign(x.data)),)


def softsign(input: Tensor) -> Tensor:
    """``F.softsign``: torch's ``input / (input.abs() + 1)`` (``DivBackward0`` over
    ``AddBackward0`` and ``AbsBackward0``); VJP `reference.activations.softsign_backward`
    (``nan`` at $\\pm\\infty$)."""
    x = _act_tensor(input)
    return x / (_ActAbs.apply(x) + 1)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """``F.glu``: ``GluBackward0``."""
    return _act_apply(input, "glu", "GluBackward0", {"dim": dim})


class _ActToCopy(Function):
    """``to(dtype)``: ``ToCopyBackward0``; values rounded to ``dtype`` (engine tensors hold
    float64), the gradient passed back unchanged."""

    name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, *, dtype):
        return np.asarray(x).astype(dtype).astype(np.float64)

    @staticmethod
    def backward(ctx, grad):
        return (grad,)

    @staticmethod
    def backward_graph(ctx, grad):
        return (grad,)


def _act_softmax_family(
    op: str, node: str, input: Tensor, dim: int | None, stacklevel: int, dtype: object
) -> Tensor:
    """torch's softmax path: the implicit ``dim`` (with its warning), ``to(dtype)`` first
    when ``dtype`` differs (``ToCopyBackward0``), then one ``<op>`` node along ``dim``."""
    x = _act_tensor(input)
    if dim is None:
        import warnings

        warnings.warn(
            f"Implicit dimension choice for {op} has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel,
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if dtype is not None and np.dtype(dtype) != np.float64:
        x = _ActToCopy.apply(x, dtype=np.dtype(dtype))
    return _act_apply(x, op, node, {"dim": dim})


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: object = None
) -> Tensor:
    """``F.softmax``: ``SoftmaxBackward0``; VJP `reference.activations.softmax_backward`,
    $y \\odot (g - \\langle g, y\\rangle)$ along ``dim``."""
    return _act_softmax_family("softmax", "SoftmaxBackward0", input, dim, _stacklevel + 1, dtype)


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: object = None
) -> Tensor:
    """``F.log_softmax``: ``LogSoftmaxBackward0``; VJP $g - \\mathrm{softmax}(x)\\sum g$."""
    return _act_softmax_family(
        "log_softmax", "LogSoftmaxBackward0", input, dim, _stacklevel + 1, dtype
    )


def softmin(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: object = None
) -> Tensor:
    """``F.softmin``: torch's ``softmax(-input)`` (``SoftmaxBackward0`` over
    ``NegBackward0``)."""
    x = _act_tensor(input)
    if dim is None:
        import warnings

        warnings.warn(
            "Implicit dimension choice for softmin has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=_stacklevel,
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return _act_softmax_family("softmax", "SoftmaxBackward0", -x, dim, _stacklevel, dtype)


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


class _NormAffineLayer(Function):
    """One of layer/group norm as one node named ``node``: ``forward`` runs
    ``normalization.<op>(x, <arg>, weight, bias, eps)``, ``backward``
    ``normalization.<op>_backward`` (gradients for input, weight, bias)."""

    name = "NativeLayerNormBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, *, op, node, arg, eps):
        ctx.op, ctx.name, ctx.arg, ctx.eps = op, node, arg, eps
        ctx.has = (weight is not None, bias is not None)
        ctx.save_for_backward(x, *([weight] if weight is not None else []))
        return getattr(_norm, op)(x, arg, weight, bias, eps)

    @staticmethod
    def backward(ctx, grad):
        x, *rest = ctx.saved_tensors
        weight = rest[0] if ctx.has[0] else None
        bias = np.zeros(0) if ctx.has[1] else None
        gx, gw, gb = getattr(_norm, ctx.op + "_backward")(
            grad, x, ctx.arg, weight, bias, ctx.eps
        )
        return gx, gw, gb


def layer_norm(
    input: Tensor,
    normalized_shape: tuple[int, ...] | list[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-05,
) -> Tensor:
    """``F.layer_norm`` (层归一化): one ``NativeLayerNormBackward0`` node (also for an empty
    input); VJP `reference.normalization.layer_norm_backward`."""
    return _NormAffineLayer.apply(
        _norm_tensor(input), weight, bias, op="layer_norm", node="NativeLayerNormBackward0",
        arg=normalized_shape, eps=eps,
    )


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-05,
) -> Tensor:
    """``F.group_norm`` (组归一化): one ``NativeGroupNormBackward0`` node; VJP
    `reference.normalization.group_norm_backward`."""
    return _NormAffineLayer.apply(
        _norm_tensor(input), weight, bias, op="group_norm", node="NativeGroupNormBackward0",
        arg=num_groups, eps=eps,
    )


class _NormRepeat(Function):
    """``weight.repeat(n)`` of a vector: ``RepeatBackward0``, VJP the sum of the copies."""

    name = "RepeatBackward0"

    @staticmethod
    def forward(ctx, w, *, times):
        ctx.times, ctx.size = times, np.size(w)
        return np.tile(w, times)

    @staticmethod
    def backward(ctx, grad):
        return (grad.reshape(ctx.times, ctx.size).sum(axis=0),)


def instance_norm(
    input: Tensor,
    running_mean: object = None,
    running_var: object = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-05,
) -> Tensor:
    """``F.instance_norm`` as torch decomposes it: the input viewed as ``(1, N*C, *)``
    (``ViewBackward0``), batch norm over it with ``weight.repeat(N)`` and ``bias.repeat(N)``
    (``RepeatBackward0``) and the running stats repeated N times, then viewed back: the node
    is ``ViewBackward0``. The running stats you pass are updated in place with the mean of
    their N updated copies, as torch does. Values, checks and the empty input are
    `reference.normalization.instance_norm`'s; VJP (closed form)
    `reference.normalization.instance_norm_backward`."""
    x = _norm_tensor(input)
    rm, rv = _norm_array(running_mean), _norm_array(running_var)
    if x.data.size == 0 or x.ndim < 2:
        _norm.instance_norm(x.data, rm, rv, _norm_array(weight), _norm_array(bias),
                            use_input_stats, momentum, eps)  # its checks and updates
        return _norm_empty(x, weight, bias) if x.ndim >= 2 else x
    n, channels = x.shape[:2]
    _norm.instance_norm(  # the checks only: the stats are updated below, as torch does
        x.data, None if rm is None else rm.copy(), None if rv is None else rv.copy(),
        _norm_array(weight), _norm_array(bias), use_input_stats, momentum, eps,
    )
    tiled = [None if r is None else np.tile(r, n) for r in (rm, rv)]
    w = None if weight is None else _NormRepeat.apply(weight, times=n)
    b = None if bias is None else _NormRepeat.apply(bias, times=n)
    flat = x.reshape(1, n * channels, *x.shape[2:])
    out = _NormBatchNorm.apply(
        flat, w, b, running_mean=tiled[0], running_var=tiled[1],
        training=use_input_stats, momentum=momentum, eps=eps,
    )
    for running, copies in zip((rm, rv), tiled, strict=True):
        if running is not None and use_input_stats:
            running[...] = copies.reshape(n, channels).mean(axis=0)
    return out.reshape(x.shape)


def local_response_norm(
    input: Tensor, size: int, alpha: float = 0.0001, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """``F.local_response_norm`` as torch decomposes it: the squares, padded along the
    channels and averaged by `avg_pool2d` (3-D input) or `avg_pool3d`, times ``alpha``, plus
    ``k``, to the power ``beta``, and the input divided by that (``DivBackward0``); an empty
    input is returned itself. Its VJP is `reference.normalization.local_response_norm_backward`.
    """
    x = _norm_tensor(input)
    if x.ndim < 3 or (x.data.size and size < 1):
        _norm.local_response_norm(x.data, size)  # raises, naming the rank or the size
    if x.data.size == 0:
        return x
    div = x * x
    if x.ndim == 3:
        div = div.unsqueeze(1)
        div = pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1)
        div = div.reshape(div.shape[0], *div.shape[2:])
    else:
        sizes = x.shape
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1)
        div = div.reshape(sizes)
    div = (div * alpha + k) ** beta
    return x / div


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    rng: np.random.Generator | None = None,
    mask: np.ndarray | None = None,
) -> Tensor:
    """``F.dropout`` (随机失活 / 丢弃法): in training with $0 < p$ the input times the
    scaled keep-mask, one engine product (``MulBackward0`` with no edge for the mask, torch's
    CPU node; VJP `reference.normalization.dropout_backward`); the mask is ``mask`` (a bool
    array of the input's shape) or drawn from ``rng`` as `reference.normalization.dropout`
    draws it. With ``p = 0``, in evaluation or for an empty input the input itself is
    returned (no node). ``inplace=True`` writes the result into the input tensor."""
    from reference.autograd import is_grad_enabled

    _norm._check_p(p)
    x = _norm_tensor(input)
    if p == 0.0 or not training or x.data.size == 0:
        return x
    if inplace and x.is_leaf and x.requires_grad and is_grad_enabled():
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    if p == 1.0:
        keep = np.zeros(x.shape)
    elif mask is not None:
        keep = np.asarray(mask, dtype=np.float64)
        if keep.shape != x.shape:
            raise ValueError(f"dropout: mask of shape {keep.shape} for input of {x.shape}")
    else:
        generator = np.random.default_rng() if rng is None else rng
        keep = (generator.random(x.shape) >= p).astype(np.float64)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    before = Tensor._wrap(x.data, x.grad_fn) if inplace and x.grad_fn is not None else x
    with np.errstate(invalid="ignore"):
        out = before * Tensor(keep * scale)
    if not inplace:
        return out
    x.data, x.grad_fn, x._requires_grad = out.data, out.grad_fn, out.requires_grad
    return x


# --- losses (LOSS) -------------------------------------------------------------------------
#
# Each loss records the node torch's own decomposition ends in. A fused kernel is one
# `_LossNode`: the loss of `reference.losses` and the VJP next to it (`smooth_l1_loss` and
# `smooth_l1_loss_backward`, ...), named as torch's node (`SmoothL1LossBackward0`). A
# composite loss is its unreduced loss as one node named as torch's last elementwise step
# (`AbsBackward0`, `ClampMinBackward0`, ...), then the reduction with engine operations
# (`MeanBackward0`, `SumBackward0`). `cross_entropy` is `log_softmax` then `nll_loss`
# (`LogSoftmaxBackward0`, `NllLossBackward0`), plus the label-smoothing term in engine
# operations (`AddBackward0` last); it and `mse_loss` have differentiable backwards
# (``create_graph=True``).


def _loss_tensor(x: object) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _loss_data(x: object) -> np.ndarray | None:
    """A constant argument's array (a tensor's data), None for None."""
    if x is None:
        return None
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _loss_arg(x: object) -> object:
    """A tensor argument as given (it may require grad), anything else as an array."""
    return x if isinstance(x, Tensor) else np.asarray(x)


def _loss_constant(function: str, **arguments: object) -> None:
    """torch refuses, in grad mode, a tensor that requires grad where its loss has no
    derivative (``weight`` of ``nll_loss``, ``target`` of ``soft_margin_loss``, ...)."""
    for name, value in arguments.items():
        if isinstance(value, Tensor) and value.requires_grad and _loss_grad_enabled():
            raise ValueError(
                f"The function '{function}' is not differentiable with respect to argument "
                f"'{name}'. This input cannot have requires_grad True."
            )


def _loss_reduce(loss: Tensor, reduction: str) -> Tensor:
    """torch's ``apply_loss_reduction``: ``mean()`` (``MeanBackward0``), ``sum()``
    (``SumBackward0``) or the unreduced loss."""
    _loss._check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _loss_sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` back to a broadcast operand's ``shape`` with engine operations."""
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
    )
    return (g.sum(dims, keepdim=True) if dims else g).reshape(shape)


class _LossNode(Function):
    """One loss of `reference.losses` as one node named ``node``: ``forward`` runs
    ``losses.<loss>(*arrays, **options)``, ``backward`` its VJP
    ``losses.<loss>_backward(grad, *arrays, **options)``, which returns a gradient for the
    positional arrays (inputs and differentiable targets; constants go in ``options``)."""

    name = "LossBackward"

    @staticmethod
    def forward(ctx, *arrays, loss, node, options):
        ctx.name, ctx.loss, ctx.options = node, loss, options
        ctx.present = tuple(a is not None for a in arrays)
        ctx.save_for_backward(*[a for a in arrays if a is not None])
        return getattr(_loss, loss)(*arrays, **options)

    @staticmethod
    def backward(ctx, grad):
        saved = iter(ctx.saved_tensors)
        arrays = [next(saved) if present else None for present in ctx.present]
        grads = getattr(_loss, ctx.loss + "_backward")(grad, *arrays, **ctx.options)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return (tuple(grads) + (None,) * len(arrays))[: len(arrays)]


def _loss_composite(loss: str, node: str, arrays: tuple, options: dict, reduction: str):
    """A composite loss: the unreduced loss as one ``node``, then the reduction."""
    _loss._check_reduction(reduction)
    out = _LossNode.apply(*arrays, loss=loss, node=node, options={**options, "reduction": "none"})
    return _loss_reduce(out, reduction)


def _loss_weighted(loss: Tensor, weight: object, input: Tensor, reduction: str, by_weight: bool):
    """torch's (2.11+) weighted l1/mse/huber: ``loss * weight`` (``MulBackward0``); the mean
    is ``sum / sum(weight)`` (``DivBackward0``, l1 and mse) or ``mean()`` (huber)."""
    w = _loss_tensor(weight)
    _loss._check_same_size_weight(w.data, input.shape)
    _loss._check_reduction(reduction)
    weighted = loss * w
    if reduction != "mean" or not by_weight:
        return _loss_reduce(weighted, reduction)
    with np.errstate(divide="ignore", invalid="ignore"):
        return weighted.sum() / w.sum()


class _LossMse(Function):
    """``mse_loss``'s kernel node, ``MseLossBackward0``; VJP `reference.losses.mse_loss_backward`
    and its restatement with engine operations (double backward)."""

    name = "MseLossBackward0"

    @staticmethod
    def forward(ctx, input, target, *, reduction):
        ctx.reduction = reduction
        ctx.save_for_backward(input, target)
        return _loss.mse_loss(input, target, reduction=reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return _loss.mse_loss_backward(grad, x, y, ctx.reduction)[:2]

    @staticmethod
    def backward_graph(ctx, grad):
        x, y = (_loss_tensor(a) for a in ctx.inputs)
        d = x - y
        with np.errstate(divide="ignore"):
            scale = np.divide(2.0, d.data.size) if ctx.reduction == "mean" else 2.0
        gd = d * grad * float(scale)
        return _loss_sum_to(gd, x.shape), _loss_sum_to(-gd, y.shape)


class _LossLogSoftmax(Function):
    """``log_softmax`` as ``cross_entropy`` starts, ``LogSoftmaxBackward0``: VJP
    ``g - softmax(x) sum(g)`` from the result (and the same with engine operations)."""

    name = "LogSoftmaxBackward0"

    @staticmethod
    def forward(ctx, x, *, dim):
        ctx.dim = dim
        out = _loss._log_softmax(x, dim)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (_loss._log_softmax_backward(grad, out, ctx.dim),)

    @staticmethod
    def backward_graph(ctx, grad):
        return (grad - ctx.output.exp() * grad.sum(ctx.dim, keepdim=True),)


class _LossNll(Function):
    """``nll_loss``'s kernel node (``NllLossBackward0``, or ``node``), VJP
    `reference.losses.nll_loss_backward`; that VJP is linear in the upstream gradient, and
    ``backward_graph`` records it as one node (`_LossNllGrad`) as torch does."""

    name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, input, target, *, weight, ignore_index, reduction, node):
        ctx.name = node
        ctx.options = dict(weight=weight, ignore_index=ignore_index, reduction=reduction)
        ctx.save_for_backward(input, target)
        return _loss.nll_loss(input, target, **ctx.options)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        return _loss.nll_loss_backward(grad, x, t, **ctx.options), None

    @staticmethod
    def backward_graph(ctx, grad):
        x, t = _loss_data(ctx.inputs[0]), _loss_data(ctx.inputs[1])
        return _LossNllGrad.apply(grad, x=x, target=t, options=ctx.options), None


class _LossNllGrad(Function):
    """``nll_loss_backward`` as a function of the upstream gradient (torch's
    ``NllLossBackwardBackward0``): linear, so its VJP is ``nll_loss`` of the incoming
    gradient with the same target, weight and reduction (NaN for a 'mean' whose kept
    weights sum to 0, as torch's); the input's second derivative is 0."""

    name = "NllLossBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, *, x, target, options):
        ctx.target, ctx.options = target, options
        return _loss.nll_loss_backward(grad, x, target, **options)

    @staticmethod
    def backward(ctx, gg):
        return (_loss.nll_loss(gg, ctx.target, **ctx.options),)

    @staticmethod
    def backward_graph(ctx, gg):
        return (_LossNll.apply(gg, ctx.target, node="NllLossBackward0", **ctx.options),)


class _LossDivScalar(Function):
    """Division by a number in torch's C++ (``div.Scalar``): ``DivBackward1``."""

    name = "DivBackward1"

    @staticmethod
    def forward(ctx, x, *, divisor):
        ctx.divisor = divisor
        return np.asarray(x / divisor)

    @staticmethod
    def backward(ctx, grad):
        return (grad / ctx.divisor,)

    @staticmethod
    def backward_graph(ctx, grad):
        return (grad / float(ctx.divisor),)


class _LossMaskedFill(Function):
    """``masked_fill(mask, 0)`` (``MaskedFillBackward0``): the VJP fills the gradient the
    same way, at every order (an infinite gradient at a masked entry stays out: selected,
    not multiplied by 0)."""

    name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, x, *, mask):
        ctx.mask = mask
        return np.where(mask, np.zeros((), np.asarray(x).dtype), x)

    @staticmethod
    def backward(ctx, grad):
        return (np.where(ctx.mask, np.zeros((), grad.dtype), grad),)

    @staticmethod
    def backward_graph(ctx, grad):
        return (_LossMaskedFill.apply(grad, mask=ctx.mask),)


class _LossSqueeze(Function):
    """``squeeze(dim)`` of a size-1 dim: ``SqueezeBackward1`` (an unbatched ``ctc_loss``)."""

    name = "SqueezeBackward1"

    @staticmethod
    def forward(ctx, x, *, dim):
        ctx.dim = dim
        return np.squeeze(x, dim)

    @staticmethod
    def backward(ctx, grad):
        return (np.expand_dims(grad, ctx.dim),)

    @staticmethod
    def backward_graph(ctx, grad):
        return (grad.unsqueeze(ctx.dim),)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """``F.l1_loss``: ``|x - y|`` as one ``AbsBackward0`` node (VJP
    `reference.losses.l1_loss_backward`), then ``MeanBackward0`` or ``SumBackward0``; with
    ``weight``, torch's decomposition (``MulBackward0``, and ``DivBackward0`` for the
    mean)."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    x, y = _loss_tensor(input), _loss_arg(target)
    if weight is None:
        return _loss_composite("l1_loss", "AbsBackward0", (x, y), {}, reduction)
    loss = _LossNode.apply(x, y, loss="l1_loss", node="AbsBackward0",
                           options={"reduction": "none"})
    return _loss_weighted(loss, weight, x, reduction, by_weight=True)


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """``F.mse_loss``: one ``MseLossBackward0`` node with a differentiable backward; with
    ``weight``, torch's decomposition ``(x - y) ** 2 * weight`` in engine operations."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    x, y = _loss_tensor(input), _loss_arg(target)
    if weight is None:
        return _LossMse.apply(x, y, reduction=reduction)
    _loss._pointwise_pair(x.data, _loss_data(y), warn=True)  # the size warning, shape checks
    return _loss_weighted((x - y) ** 2, weight, x, reduction, by_weight=True)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """``F.smooth_l1_loss``: one ``SmoothL1LossBackward0`` node; ``beta = 0`` is torch's
    `l1_loss` (``AbsBackward0`` and the reduction)."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    x, y = _loss_tensor(input), _loss_arg(target)
    if beta == 0:
        return _loss_composite("l1_loss", "AbsBackward0", (x, y), {}, reduction)
    return _LossNode.apply(x, y, loss="smooth_l1_loss", node="SmoothL1LossBackward0",
                           options={"reduction": reduction, "beta": beta})


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """``F.huber_loss``: one ``HuberLossBackward0`` node; with ``weight`` the unreduced node
    times the weight (``MulBackward0``) and ``mean()``/``sum()``."""
    x, y = _loss_tensor(input), _loss_arg(target)
    if weight is None:
        return _LossNode.apply(x, y, loss="huber_loss", node="HuberLossBackward0",
                               options={"reduction": reduction, "delta": delta})
    loss = _LossNode.apply(x, y, loss="huber_loss", node="HuberLossBackward0",
                           options={"reduction": "none", "delta": delta})
    return _loss_weighted(loss, weight, x, reduction, by_weight=False)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.poisson_nll_loss``: the unreduced loss as one node (``SubBackward0``, or
    ``AddBackward0`` with ``full``), then the reduction."""
    reduction = _loss._reduction(size_average, reduce, reduction, alias=False)
    node = "AddBackward0" if full else "SubBackward0"
    options = {"log_input": log_input, "full": full, "eps": eps}
    return _loss_composite("poisson_nll_loss", node, (_loss_tensor(input), _loss_arg(target)),
                           options, reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """``F.kl_div``: the unreduced loss as one node (``SubBackward0``, ``MulBackward0`` with
    ``log_target``), then ``mean()``, ``sum()``, or for ``'batchmean'`` the sum divided by
    the batch size (``DivBackward0``; a 0-d input's sum is not divided)."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    _loss._check_reduction(reduction, (*_loss._REDUCTIONS, "batchmean"))
    x = _loss_tensor(input)
    out = _LossNode.apply(x, _loss_arg(target), loss="kl_div",
                          node="MulBackward0" if log_target else "SubBackward0",
                          options={"reduction": "none", "log_target": log_target})
    if reduction != "batchmean":
        return _loss_reduce(out, reduction)
    total = out.sum()
    if x.ndim == 0:
        return total
    with np.errstate(divide="ignore", invalid="ignore"):
        return total / x.shape[0]


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.binary_cross_entropy``: one ``BinaryCrossEntropyBackward0`` node (input and
    target differentiable; a ``weight`` that requires grad raises, as in torch)."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    _loss_constant("binary_cross_entropy", weight=weight)
    return _LossNode.apply(
        _loss_tensor(input), _loss_arg(target), loss="binary_cross_entropy",
        node="BinaryCrossEntropyBackward0",
        options={"weight": _loss_data(weight), "reduction": reduction},
    )


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """``F.binary_cross_entropy_with_logits``: one ``BinaryCrossEntropyWithLogitsBackward0``
    node (``weight`` and ``pos_weight`` are constants)."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    _loss_constant("binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    options = {"weight": _loss_data(weight), "reduction": reduction,
               "pos_weight": _loss_data(pos_weight)}
    return _LossNode.apply(_loss_tensor(input), _loss_arg(target),
                           loss="binary_cross_entropy_with_logits",
                           node="BinaryCrossEntropyWithLogitsBackward0", options=options)


def _loss_nll(logp: Tensor, target: np.ndarray, weight: np.ndarray | None, ignore_index: int,
              reduction: str) -> Tensor:
    """torch's ``nll_loss_nd``: ``nll_loss`` on (C,) and (N, C) (``NllLossBackward0``),
    ``nll_loss2d`` on 4-D (``NllLoss2DBackward0``); other ranks viewed as (N, C, 1, -1) for
    ``nll_loss2d`` and, unreduced, viewed back (``ViewBackward0``)."""
    options = dict(weight=weight, ignore_index=ignore_index, reduction=reduction)
    if logp.ndim <= 2:
        return _LossNll.apply(logp, target, node="NllLossBackward0", **options)
    if logp.ndim == 4:
        return _LossNll.apply(logp, target, node="NllLoss2DBackward0", **options)
    _loss._class_target(logp.data, np.asarray(target), weight)  # torch's checks, unflattened
    n, c, spatial = logp.shape[0], logp.shape[1], logp.shape[2:]
    size = int(np.prod(spatial))
    out = _LossNll.apply(logp.reshape(n, c, 1, size), np.reshape(target, (n, 1, size)),
                         node="NllLoss2DBackward0", **options)
    return out.view(n, *spatial) if reduction == "none" else out


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.nll_loss``: ``NllLossBackward0`` (``NllLoss2DBackward0`` from 3-D input, and a
    ``ViewBackward0`` after it for unreduced 3-D and 5-D+ input), VJP
    `reference.losses.nll_loss_backward`; ``weight`` is a constant."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    _loss._check_reduction(reduction)
    _loss_constant("nll_loss_forward", weight=weight)
    return _loss_nll(_loss_tensor(input), _loss_data(target), _loss_data(weight), ignore_index,
                     reduction)


def _loss_ce_probabilities(logp: Tensor, target: object, weight: object, ignore_index: int,
                           reduction: str, smoothing: float) -> Tensor:
    """torch's ``cross_entropy_loss_prob_target``: ``-(logp * q * w).sum(class_dim)``
    (``NegBackward0``), its ``-sum()`` (``NegBackward0``) or ``-sum() / (numel / C)``
    (``DivBackward1``), with ``q`` smoothed; the target and the weight are differentiable."""
    class_dim = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[class_dim]
    _loss._check_probability_target(_loss_data(target), _loss_data(weight), ignore_index,
                                    n_classes)
    q = _loss_tensor(target)
    if smoothing > 0:
        q = q * (1 - smoothing) + smoothing / n_classes
    product = logp * q
    if weight is not None:
        shape = [1] * logp.ndim
        shape[class_dim] = n_classes
        product = product * _loss_tensor(weight).reshape(shape)
    if reduction == "none":
        return -product.sum(class_dim)
    if reduction == "sum" or logp.data.size == 0:
        total = product.sum()
        return -total if reduction == "sum" else -(total * 0.0 + float("nan"))
    return _LossDivScalar.apply(-product.sum(), divisor=logp.data.size // n_classes)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """``F.cross_entropy`` as torch decomposes it: ``log_softmax`` over the class dim
    (``LogSoftmaxBackward0``), then `nll_loss` for class indices (``NllLossBackward0``,
    ``NllLoss2DBackward0`` on 4-D input) or ``-(logp * q * w)`` summed for probabilities
    (``NegBackward0``, ``DivBackward1`` for the mean); label smoothing with class indices
    adds ``eps / C`` times ``-sum_c w_c logp_c`` (reduced with the nll's denominator) to
    ``(1 - eps)`` times the nll: ``AddBackward0``. Every node has a differentiable backward;
    the gradient is `reference.losses.cross_entropy_backward`'s."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    _loss._check_reduction(reduction)
    x, t = _loss_tensor(input), _loss_arg(target)
    t_data, w_data = _loss_data(t), _loss_data(weight)
    if not np.issubdtype(x.data.dtype, np.floating) or x.ndim == 0:
        _loss.cross_entropy(x.data, t_data, w_data, reduction=reduction)  # raises
    class_dim = 0 if x.ndim == 1 else 1
    n_classes = x.shape[class_dim]
    smoothing = label_smoothing > 0  # False for 0, negative and NaN smoothing, as in torch
    if smoothing and label_smoothing > 1:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    logp = _LossLogSoftmax.apply(x, dim=class_dim)
    if x.shape == t_data.shape:
        return _loss_ce_probabilities(logp, t, weight, ignore_index, reduction,
                                      label_smoothing if smoothing else 0.0)
    _loss_constant("nll_loss_forward", weight=weight)
    nll = _loss_nll(logp, t_data, w_data, ignore_index, reduction)
    if not smoothing:
        return nll
    shape = [1] * x.ndim
    shape[class_dim] = n_classes
    w = Tensor(np.ones(shape) if w_data is None else np.reshape(w_data, shape))
    per_sample = -(logp * w).sum(class_dim)
    if reduction == "none" and t_data.shape != per_sample.shape:  # (C,) input, (1,) target
        _loss.cross_entropy(x.data, t_data, w_data, ignore_index=ignore_index,
                            reduction=reduction, label_smoothing=label_smoothing)  # raises
    labels = t_data.astype(np.int64).reshape(per_sample.shape)
    ignored = labels == ignore_index
    smooth = _LossMaskedFill.apply(per_sample, mask=ignored)
    with np.errstate(divide="ignore", invalid="ignore"):
        if reduction == "mean":
            kept = labels[~ignored]
            smooth = smooth.sum() / float(kept.size if w_data is None else w_data[kept].sum())
        elif reduction == "sum":
            smooth = smooth.sum()
        share = float(np.divide(label_smoothing, n_classes))
        return nll * (1 - label_smoothing) + smooth * share


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.margin_ranking_loss``: ``clamp_min(-y (x1 - x2) + margin, 0)`` as one
    ``ClampMinBackward0`` node, then the reduction (all three differentiable)."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    arrays = (_loss_tensor(input1), _loss_arg(input2), _loss_arg(target))
    return _loss_composite("margin_ranking_loss", "ClampMinBackward0", arrays,
                           {"margin": margin}, reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.hinge_embedding_loss``: the unreduced loss as one ``AddBackward0`` node (the
    target only selects terms: a constant), then the reduction."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    return _loss_composite("hinge_embedding_loss", "AddBackward0",
                           (_loss_tensor(input), _loss_data(target)), {"margin": margin},
                           reduction)


def soft_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.soft_margin_loss``: one ``SoftMarginLossBackward0`` node (a target that requires
    grad raises, as in torch)."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    _loss_constant("soft_margin_loss", target=target)
    return _LossNode.apply(_loss_tensor(input), _loss_data(target), loss="soft_margin_loss",
                           node="SoftMarginLossBackward0", options={"reduction": reduction})


def multilabel_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.multilabel_margin_loss``: one ``MultilabelMarginLossBackward0`` node."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    return _LossNode.apply(_loss_tensor(input), _loss_data(target),
                           loss="multilabel_margin_loss", node="MultilabelMarginLossBackward0",
                           options={"reduction": reduction})


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.multilabel_soft_margin_loss`` (a Python decomposition in torch): the per-sample
    loss ``sum(...) / C`` as one ``DivBackward0`` node, then the reduction; input, target
    and weight differentiable."""
    reduction = _loss._reduction(size_average, reduce, reduction, alias=False)
    arrays = (_loss_tensor(input), _loss_arg(target),
              None if weight is None else _loss_arg(weight))
    return _loss_composite("multilabel_soft_margin_loss", "DivBackward0", arrays, {}, reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.cosine_embedding_loss``: the unreduced loss as one ``AddBackward0`` node (the
    target is a constant), then the reduction."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    arrays = (_loss_tensor(input1), _loss_arg(input2), _loss_data(target))
    return _loss_composite("cosine_embedding_loss", "AddBackward0", arrays, {"margin": margin},
                           reduction)


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.multi_margin_loss``: one ``MultiMarginLossBackward0`` node (``weight`` is a
    constant)."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    _loss_constant("multi_margin_loss", weight=weight)
    options = {"p": p, "margin": margin, "weight": _loss_data(weight), "reduction": reduction}
    return _LossNode.apply(_loss_tensor(input), _loss_data(target), loss="multi_margin_loss",
                           node="MultiMarginLossBackward0", options=options)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``F.triplet_margin_loss``: ``clamp_min(margin + d(a, pos) - d(a, neg), 0)`` as one
    ``ClampMinBackward0`` node, then the reduction."""
    reduction = _loss._reduction(size_average, reduce, reduction)
    arrays = (_loss_tensor(anchor), _loss_arg(positive), _loss_arg(negative))
    options = {"margin": margin, "p": p, "eps": eps, "swap": swap}
    return _loss_composite("triplet_margin_loss", "ClampMinBackward0", arrays, options,
                           reduction)


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor,
    target_lengths: Tensor,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """``F.ctc_loss`` as torch runs it: an unbatched (T, C) input unsqueezed to (T, 1, C);
    the per-sample losses as one ``CtcLossBackward0`` node (VJP
    `reference.losses.ctc_loss_backward`: the true derivative, which differs from torch's by
    ``exp(log_probs)`` until a ``log_softmax`` before it absorbs the difference); with
    ``zero_infinity`` ``where(loss == inf, 0, loss)`` (``WhereBackward0``); then
    ``(loss / max(target_lengths, 1)).mean()``, ``sum()``, or ``squeeze(0)`` of an unbatched
    unreduced loss (``SqueezeBackward1``)."""
    _loss._check_reduction(reduction)
    lp = _loss_tensor(log_probs)
    t, lengths, t_lengths = (_loss_data(a) for a in (targets, input_lengths, target_lengths))
    unbatched = lp.ndim == 2
    if unbatched:
        lp, t = lp.unsqueeze(1), np.reshape(t, (1, -1))
    options = {"blank": blank, "reduction": "none", "zero_infinity": zero_infinity}
    loss = _LossNode.apply(lp, t, lengths, t_lengths, loss="ctc_loss", node="CtcLossBackward0",
                           options=options)
    if zero_infinity:
        loss = _loss_where(loss.data == np.inf, 0.0, loss)
    if reduction == "mean":
        divisor = np.maximum(np.reshape(t_lengths, -1), 1).astype(np.float64)
        return (loss / Tensor(divisor)).mean()
    if reduction == "sum":
        return loss.sum()
    return _LossSqueeze.apply(loss, dim=0) if unbatched else loss
