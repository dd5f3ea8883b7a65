"""Convolution, pooling, padding, resizing and linear layers from first principles (NumPy only).

Every sliding-window op (convolution, pooling, unfold) goes through one helper pair:
``_window_count`` holds the output-size formula and ``_windows`` views the padded input as
``(..., *out, *kernel)`` with stride tricks. Inputs are ``(N, C, *spatial)`` arrays, or
``(C, *spatial)`` unbatched, exactly as in ``torch.nn.functional``; a zero batch ``N = 0``
is accepted everywhere torch accepts it, and each op rejects the empty channel or spatial
sizes torch rejects (see ``_batched``). Results keep the input's dtype; inputs, weights and
biases of different dtypes raise ``TypeError`` naming both dtypes, as torch does.

The module also holds small classes for the layers whose behaviour is more than their
functional form: the padding layers (``ZeroPad2d`` ...), ``Upsample``, ``Unfold``/``Fold``,
``Linear`` and ``LazyLinear``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from reference.broadcasting import sum_to_shape

IntOrTuple = int | Sequence[int]
Nonempty = Literal["none", "features", "given", "spatial"]

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "Flatten",
    "Fold",
    "Identity",
    "LazyLinear",
    "Linear",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "Unfold",
    "Upsample",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool3d",
    "adaptive_avg_pool3d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_backward",
    "antialias_weights",
    "avg_pool1d",
    "avg_pool1d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "avg_pool3d",
    "avg_pool3d_backward",
    "bilinear",
    "bilinear_backward",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv3d",
    "conv3d_backward",
    "conv_output_size",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose3d",
    "conv_transpose3d_backward",
    "conv_transpose_output_size",
    "default_init_bounds",
    "fold",
    "fold_backward",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "interpolate",
    "interpolate_backward",
    "linear",
    "linear_backward",
    "lp_pool1d",
    "lp_pool1d_backward",
    "lp_pool2d",
    "lp_pool2d_backward",
    "lp_pool3d",
    "lp_pool3d_backward",
    "max_pool1d",
    "max_pool1d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool3d",
    "max_pool3d_backward",
    "max_unpool1d",
    "max_unpool1d_backward",
    "max_unpool2d",
    "max_unpool2d_backward",
    "max_unpool3d",
    "max_unpool3d_backward",
    "pad",
    "pad_backward",
    "pool_output_size",
    "unfold",
    "unfold_backward",
]


# --- argument normalization -------------------------------------------------------------


def _ntuple(value: IntOrTuple, n: int, name: str) -> tuple[int, ...]:
    """``value`` repeated to ``n`` ints (an int or a 1-tuple broadcasts)."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return values


def _batched(
    input: np.ndarray, n: int, name: str, nonempty: Nonempty = "features"
) -> tuple[np.ndarray, bool]:
    """``input`` as ``(N, C, *spatial)`` with ``n`` spatial dims; True if it was unbatched.

    ``nonempty`` is the part torch requires to be non-empty: ``"features"`` every dim but
    the batch (an unbatched input's channels included: max/avg pooling, unfold, resizing),
    ``"given"`` every dim but the first of the array as given (so an unbatched input may
    have zero channels: adaptive max pooling), ``"spatial"`` only the spatial dims
    (adaptive average pooling in 1-D and 2-D), ``"none"`` nothing (convolution).
    """
    x = np.asarray(input)
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(
            f"{name}: expected {n + 1}D (unbatched) or {n + 2}D (batched) input, "
            f"got shape {x.shape}"
        )
    unbatched = x.ndim == n + 1
    checked = {
        "features": x.shape[0 if unbatched else 1 :],
        "given": x.shape[1:],
        "spatial": x.shape[x.ndim - n :],
        "none": (),
    }[nonempty]
    if 0 in checked:
        raise ValueError(
            f"{name}: expected non-zero sizes for the non-batch dimensions (only the batch "
            f"may be 0), got shape {x.shape}"
        )
    return (x[None] if unbatched else x), unbatched


def _unbatch(x: np.ndarray, unbatched: bool) -> np.ndarray:
    return x[0] if unbatched else x


def _check_dtypes(name: str, input: np.ndarray, **others: np.ndarray | None) -> None:
    """torch computes in one dtype: every other tensor argument must have the input's."""
    for what, other in others.items():
        if other is not None and np.asarray(other).dtype != input.dtype:
            raise TypeError(
                f"{name}: input dtype {input.dtype} and {what} dtype "
                f"{np.asarray(other).dtype} should be the same"
            )


# --- the shared windowing helper ------------------------------------------------------


def _window_count(
    size: int,
    kernel_size: int,
    stride: int,
    pad_left: int,
    pad_right: int,
    dilation: int,
    ceil_mode: bool = False,
) -> int:
    """The output-size formula of every sliding window.

    $$\\text{out} = \\left\\lfloor \\frac{L + p_l + p_r - d(k-1) - 1}{s} \\right\\rfloor + 1$$

    With ``ceil_mode`` the floor becomes a ceiling, minus one window if the last one would
    start past the input and the left padding (``(out - 1) s >= L + p_l``).
    """
    room = size + pad_left + pad_right - dilation * (kernel_size - 1) - 1
    count = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (count - 1) * stride >= size + pad_left:
        count -= 1
    return count


def _windows(
    x: np.ndarray,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    counts: tuple[int, ...],
) -> np.ndarray:
    """A read-only view of ``x (..., *spatial)`` as ``(..., *counts, *kernel_size)``.

    Element ``[..., o, j]`` is ``x[..., o*s + j*d]`` (per spatial dim); ``x`` must be padded
    so every window fits.
    """
    n = len(kernel_size)
    spatial = x.strides[x.ndim - n :]
    shape = x.shape[: x.ndim - n] + tuple(counts) + tuple(kernel_size)
    strides = (
        x.strides[: x.ndim - n]
        + tuple(st * s for st, s in zip(spatial, stride, strict=True))
        + tuple(st * d for st, d in zip(spatial, dilation, strict=True))
    )
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


def _padded_windows(
    x: np.ndarray,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    padding: Sequence[tuple[int, int]],
    dilation: tuple[int, ...],
    *,
    ceil_mode: bool = False,
    fill: float = 0.0,
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Pad the spatial dims of ``x`` with ``fill`` and view its windows; also the counts.

    The right side gets extra fill where ceil_mode lets the last window run past the padding.
    """
    n = len(kernel_size)
    sizes = x.shape[x.ndim - n :]
    counts = tuple(
        _window_count(L, k, s, pl, pr, d, ceil_mode)
        for L, k, s, (pl, pr), d in zip(sizes, kernel_size, stride, padding, dilation, strict=True)
    )
    widths = [(0, 0)] * (x.ndim - n)
    for L, k, s, (pl, pr), d, c in zip(
        sizes, kernel_size, stride, padding, dilation, counts, strict=True
    ):
        needed = (c - 1) * s + d * (k - 1) + 1
        widths.append((pl, max(pr, needed - L - pl)))
    padded = np.pad(x, widths, constant_values=fill)
    return _windows(padded, kernel_size, stride, dilation, counts), counts


def _scatter_windows(
    cols: np.ndarray,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    full: tuple[int, ...],
) -> np.ndarray:
    """The adjoint of ``_windows``: sum ``cols (N, C, *kernel, *counts)`` into ``(N, C, *full)``.

    One strided slice-add per kernel offset ``j``: window ``o`` lands at ``o*s + j*d``.
    """
    n = len(kernel_size)
    counts = cols.shape[2 + n :]
    out = np.zeros(cols.shape[:2] + tuple(full), dtype=cols.dtype)
    for j in np.ndindex(*kernel_size):
        target = tuple(
            slice(jj * d, jj * d + (c - 1) * s + 1, s)
            for jj, d, c, s in zip(j, dilation, counts, stride, strict=True)
        )
        out[(..., *target)] += cols[(slice(None), slice(None), *j)]
    return out


def _gather_windows(
    x: np.ndarray, starts: Sequence[np.ndarray], lengths: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``x (N, C, *spatial)`` starting at given positions, per plane.

    ``starts[d]`` is an int array ``(N or 1, C or 1, out_d)``: window ``o`` of dim ``d``
    covers ``[start, start + lengths[d])``, positions past the input clamped to its last
    cell (callers mask them). Returns the values
    ``(N, C, *out, *lengths)`` and the flat index ``sum_d pos_d prod_{e>d} L_e`` of each
    element in its ``(N, C)`` plane, of the same shape.
    """
    n = len(starts)
    plane = x.shape[2:]
    index: list[np.ndarray] = []
    flat: np.ndarray | int = 0
    for d in range(n):
        s = np.asarray(starts[d], dtype=np.int64)
        shape = [s.shape[0], s.shape[1]] + [1] * (2 * n)
        shape[2 + d] = s.shape[2]
        offsets = np.arange(lengths[d]).reshape([1] * (2 + n + d) + [-1] + [1] * (n - d - 1))
        pos = np.minimum(s.reshape(shape) + offsets, plane[d] - 1)
        index.append(pos)
        flat = flat * plane[d] + pos
    batch = np.arange(x.shape[0]).reshape((-1,) + (1,) * (1 + 2 * n))
    channel = np.arange(x.shape[1]).reshape((1, -1) + (1,) * (2 * n))
    values = x[(batch, channel, *index)]
    return values, np.broadcast_to(flat, values.shape)


# --- output sizes -----------------------------------------------------------------------


def _check_window_args(kernel_size: int, stride: int, padding: int, dilation: int) -> None:
    if kernel_size < 1:
        raise ValueError(f"kernel_size must be positive, got kernel_size={kernel_size}")
    if stride < 1:
        raise ValueError(f"stride must be positive, got stride={stride}")
    if dilation < 1:
        raise ValueError(f"dilation must be positive, got dilation={dilation}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got padding={padding}")


def _check_output(out: int, size: int, **params: object) -> int:
    if out < 1:
        described = ", ".join(f"{k}={v}" for k, v in params.items())
        raise ValueError(
            f"output size {out} is smaller than 1 for input size {size} with {described}"
        )
    return out


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Length of a convolution's output along one dim.

    $$L_{out} = \\left\\lfloor \\frac{L + 2p - d(k-1) - 1}{s} \\right\\rfloor + 1$$

    Raises:
        ValueError: a parameter is out of range or the output would be smaller than 1.
    """
    _check_window_args(kernel_size, stride, padding, dilation)
    out = _window_count(size, kernel_size, stride, padding, padding, dilation)
    return _check_output(
        out, size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )


def conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Length of a transposed convolution's output along one dim.

    $$L_{out} = (L - 1)s - 2p + d(k-1) + \\text{output\\_padding} + 1$$

    Raises:
        ValueError: output_padding is not smaller than stride or dilation, a parameter is
            out of range, or the output would be smaller than 1.
    """
    return _transposed_size(size, kernel_size, stride, padding, output_padding, dilation)


def _transposed_size(
    size: int,
    kernel_size: int,
    stride: int,
    padding: int,
    output_padding: int,
    dilation: int,
    minimum: int = 1,
) -> int:
    _check_window_args(kernel_size, stride, padding, dilation)
    if not (0 <= output_padding < max(stride, dilation)):
        raise ValueError(
            f"output_padding must be smaller than either stride or dilation, got "
            f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
        )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out >= minimum:
        return out
    return _check_output(
        out, size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )


def pool_output_size(
    size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Length of a max/avg pooling output along one dim (stride defaults to kernel_size).

    The convolution formula, with ``ceil`` instead of ``floor`` when ``ceil_mode``, minus one
    window if the last would start at or past ``L + p`` (outside the input and left padding).

    Raises:
        ValueError: padding exceeds half the kernel (``p > k // 2``), a parameter is out of
            range, or the output would be smaller than 1.
    """
    stride = kernel_size if stride is None else stride
    _check_window_args(kernel_size, stride, padding, dilation)
    if padding > kernel_size // 2:
        raise ValueError(
            f"padding should be at most half of kernel_size, got padding={padding} and "
            f"kernel_size={kernel_size}"
        )
    out = _window_count(size, kernel_size, stride, padding, padding, dilation, ceil_mode)
    return _check_output(
        out, size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )


# --- padding ----------------------------------------------------------------------------

_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _crop(x: np.ndarray, widths: Sequence[tuple[int, int]]) -> np.ndarray:
    """Remove ``-a`` leading and ``-b`` trailing cells of each dim where a width is negative."""
    return x[
        tuple(slice(max(-a, 0), x.shape[i] - max(-b, 0)) for i, (a, b) in enumerate(widths))
    ]


def pad(
    input: np.ndarray,
    pad: Sequence[int],
    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant",
    value: float | None = None,
) -> np.ndarray:
    """Pad the last ``len(pad) // 2`` dims; ``pad = (left_last, right_last, left_prev, ...)``.

    ``constant`` fills with ``value`` (0 by default); ``reflect`` mirrors without repeating
    the edge (positive widths below the size); ``replicate`` repeats the edge; ``circular``
    wraps around (widths at most the size). Negative widths crop: ``constant``,
    ``reflect`` and ``replicate`` pad with the positive widths, then crop; ``circular`` crops
    first and wraps the cropped input (so a width may not exceed the cropped size). The
    non-constant modes pad 1, 2 or 3 dims of an input with one or two more dims; reflect and
    replicate need non-empty non-batch dims, circular accepts zero channels.

    Raises:
        ValueError: odd or too long ``pad``, an unsupported mode/shape combination, a width
            too large for the mode, an empty input the mode rejects, or an output size
            below 1 (below 0 for constant and circular).
    """
    x = np.asarray(input)
    if len(pad) % 2:
        raise ValueError(f"padding length must be divisible by 2, got pad={tuple(pad)}")
    n = len(pad) // 2
    if n > x.ndim:
        raise ValueError(
            f"padding length {len(pad)} should be at most two times the input dimension "
            f"{x.ndim}"
        )
    widths = [(0, 0)] * (x.ndim - n) + [
        (int(pad[2 * i]), int(pad[2 * i + 1])) for i in reversed(range(n))
    ]
    spatial = list(enumerate(widths))[x.ndim - n :]
    if mode == "constant":
        for dim, (a, b) in spatial:
            if x.shape[dim] + a + b < 0:
                raise ValueError(
                    f"padding {(a, b)} of dim {dim} (size {x.shape[dim]}) gives a negative size"
                )
        fill = 0 if value is None else value
        grown = np.pad(x, [(max(a, 0), max(b, 0)) for a, b in widths], constant_values=fill)
        return _crop(grown, widths)
    if mode not in _NUMPY_MODES:
        raise ValueError(f"unknown padding mode {mode!r}")
    if value is not None and value != 0:
        raise ValueError(f"padding mode {mode!r} doesn't take in value argument")
    if not 1 <= n <= 3 or x.ndim not in (n + 1, n + 2):
        raise ValueError(
            f"padding size {len(pad)} is not supported for a {x.ndim}D input in mode "
            f"{mode!r}: pad 1, 2 or 3 trailing dims of an input with 1 or 2 more dims"
        )
    if mode != "circular":
        _batched(x, n, f"pad (mode {mode!r})", "features")
    for dim, (a, b) in spatial:
        size, out = x.shape[dim], x.shape[dim] + a + b
        if mode == "reflect" and max(a, b) >= size:
            raise ValueError(
                f"reflect padding {(a, b)} must be less than the input size {size} of dim {dim}"
            )
        if mode == "circular":
            cropped = size + min(a, 0) + min(b, 0)
            if max(a, b) > size or (out > 0 and max(a, b) > cropped):
                raise ValueError(
                    f"circular padding {(a, b)} of dim {dim} (size {size}) causes wrapping "
                    f"around more than once: each width must be at most the (cropped) size"
                )
            if out < 0:
                raise ValueError(f"negative circular padding {(a, b)} gives an empty dim {dim}")
        elif out < 1:
            raise ValueError(f"input size {size} of dim {dim} is too small: output size {out}")
    if mode == "circular":
        if any(x.shape[dim] + a + b == 0 for dim, (a, b) in spatial):
            shape = tuple(s + a + b for s, (a, b) in zip(x.shape, widths, strict=True))
            return np.zeros(shape, dtype=x.dtype)
        cropped = _crop(x, widths)
        return np.pad(cropped, [(max(a, 0), max(b, 0)) for a, b in widths], mode="wrap")
    grown = np.pad(x, [(max(a, 0), max(b, 0)) for a, b in widths], mode=_NUMPY_MODES[mode])
    return _crop(grown, widths)


_pad_forward = pad  # `pad_backward`'s parameter `pad` (torch's name) shadows the function


def _pad_source(size: int, left: int, right: int, mode: str) -> np.ndarray:
    """For each cell of one padded dim, the input cell it copies (-1 for a constant fill):
    `pad` itself applied to the positions ``0 .. size - 1``."""
    positions = np.arange(size, dtype=np.int64).reshape(1, 1, size)
    if mode == "constant":
        return _pad_forward(positions, (left, right), "constant", -1).reshape(-1)
    return _pad_forward(positions, (left, right), mode).reshape(-1)


def pad_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    pad: Sequence[int],
    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant",
    value: float | None = None,
) -> np.ndarray:
    """The VJP of `pad`: each output cell copies one input cell (or a constant), so each
    input cell collects the gradient of every output cell that copies it. Per padded dim,
    with $s(o)$ the source of output cell $o$,

    $$\\bar x_i = \\sum_{o \\,:\\, s(o) = i} \\bar y_o:$$

    ``constant`` drops the fill's gradient (and a crop gives zeros back), while
    ``reflect``, ``replicate`` and ``circular`` fold the padding's gradient back onto the
    cells it mirrors, repeats or wraps (the border collects more than one share).
    """
    x, g = np.asarray(input), np.asarray(grad_output)
    out = _pad_forward(x, pad, mode, value)  # validates; gives the output shape
    _grad_shape_check("pad_backward", g, out.shape)
    n = len(pad) // 2
    grad = g.astype(x.dtype, copy=True)
    for i in range(n):  # separable: one source map per padded dim, last dim first in `pad`
        axis = x.ndim - 1 - i
        size = x.shape[axis]
        source = _pad_source(size, int(pad[2 * i]), int(pad[2 * i + 1]), mode)
        grad = _along(grad, axis, (source[:, None] == np.arange(size)).astype(x.dtype))
    return np.ascontiguousarray(grad, dtype=x.dtype)


class _PadNd:
    """A padding layer: ``F.pad(input, self.padding, mode, value)`` on the last ``dims``
    dims; an int ``padding`` pads every side by that much, a ``2 * dims``-tuple is
    ``(left, right, top, bottom, front, back)`` (last dim first)."""

    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant"
    dims = 1

    def __init__(self, padding: IntOrTuple, value: float | None = None) -> None:
        self.padding = (
            (int(padding),) * (2 * self.dims)
            if isinstance(padding, (int, np.integer))
            else tuple(int(p) for p in padding)
        )
        self.value = value

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return pad(input, self.padding, self.mode, self.value)


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: IntOrTuple, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad1d(_ConstantPadNd):
    """``nn.ConstantPad1d(padding, value)``: pads the last dim with ``value``."""

    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """``nn.ConstantPad2d(padding, value)``: pads the last 2 dims with ``value``."""

    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """``nn.ConstantPad3d(padding, value)``: pads the last 3 dims with ``value``."""

    dims = 3


class _ZeroPadNd(_PadNd):
    def __init__(self, padding: IntOrTuple) -> None:
        super().__init__(padding, 0.0)


class ZeroPad1d(_ZeroPadNd):
    """``nn.ZeroPad1d(padding)``: ``ConstantPad1d(padding, 0.0)``."""

    dims = 1


class ZeroPad2d(_ZeroPadNd):
    """``nn.ZeroPad2d(padding)``: ``ConstantPad2d(padding, 0.0)``; an int pads all four
    sides, ``(left, right, top, bottom)`` each side (negative values crop)."""

    dims = 2


class ZeroPad3d(_ZeroPadNd):
    """``nn.ZeroPad3d(padding)``: ``ConstantPad3d(padding, 0.0)``."""

    dims = 3


class _ModePadNd(_PadNd):
    def __init__(self, padding: IntOrTuple) -> None:
        super().__init__(padding, None)


class ReflectionPad1d(_ModePadNd):
    """``nn.ReflectionPad1d(padding)``: `pad` in mode ``reflect`` on the last dim."""

    mode, dims = "reflect", 1


class ReflectionPad2d(_ModePadNd):
    """``nn.ReflectionPad2d(padding)``: `pad` in mode ``reflect`` on the last 2 dims."""

    mode, dims = "reflect", 2


class ReflectionPad3d(_ModePadNd):
    """``nn.ReflectionPad3d(padding)``: `pad` in mode ``reflect`` on the last 3 dims."""

    mode, dims = "reflect", 3


class ReplicationPad1d(_ModePadNd):
    """``nn.ReplicationPad1d(padding)``: `pad` in mode ``replicate`` on the last dim."""

    mode, dims = "replicate", 1


class ReplicationPad2d(_ModePadNd):
    """``nn.ReplicationPad2d(padding)``: `pad` in mode ``replicate`` on the last 2 dims."""

    mode, dims = "replicate", 2


class ReplicationPad3d(_ModePadNd):
    """``nn.ReplicationPad3d(padding)``: `pad` in mode ``replicate`` on the last 3 dims."""

    mode, dims = "replicate", 3


class CircularPad1d(_ModePadNd):
    """``nn.CircularPad1d(padding)``: `pad` in mode ``circular`` on the last dim."""

    mode, dims = "circular", 1


class CircularPad2d(_ModePadNd):
    """``nn.CircularPad2d(padding)``: `pad` in mode ``circular`` on the last 2 dims."""

    mode, dims = "circular", 2


class CircularPad3d(_ModePadNd):
    """``nn.CircularPad3d(padding)``: `pad` in mode ``circular`` on the last 3 dims."""

    mode, dims = "circular", 3


# --- convolution ------------------------------------------------------------------------


def _conv_padding(
    padding: IntOrTuple | str,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> list[tuple[int, int]]:
    """(left, right) padding per spatial dim; 'same' puts the odd extra on the right."""
    n = len(kernel_size)
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation, strict=True)]
        return [(t // 2, t - t // 2) for t in totals]
    if isinstance(padding, str):
        raise ValueError(f"padding must be 'valid', 'same' or ints, got {padding!r}")
    return [(p, p) for p in _ntuple(padding, n, "padding")]


def _check_conv_input(x: np.ndarray, w: np.ndarray, n: int, name: str) -> None:
    if w.ndim != n + 2:
        raise ValueError(
            f"{name}: weight of shape {w.shape} does not match the convolution dimensions "
            f"({n} spatial dims need a {n + 2}D weight)"
        )
    if w.shape[0] == 0:
        raise ValueError(f"{name}: expected weight to be at least 1 at dimension 0, got {w.shape}")
    if x.size == 0 and x.shape[0] and x.shape[1]:
        raise ValueError(
            f"{name}: only zero batch or zero channel inputs are supported, got shape {x.shape}"
        )


def _conv(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntOrTuple,
    padding: IntOrTuple | str,
    dilation: IntOrTuple,
    groups: int,
    n: int,
) -> np.ndarray:
    name = f"conv{n}d"
    x, unbatched = _batched(input, n, name, "none")
    w = np.asarray(weight)
    _check_dtypes(name, x, weight=w, bias=bias)
    _check_conv_input(x, w, n, name)
    kernel = w.shape[2:]
    stride_t = _ntuple(stride, n, "stride")
    dilation_t = _ntuple(dilation, n, "dilation")
    pads = _conv_padding(padding, kernel, stride_t, dilation_t)
    out_channels, in_per_group = w.shape[:2]
    if groups < 1 or out_channels % groups:
        raise ValueError(f"groups={groups} must be positive and divide out_channels={out_channels}")
    if x.shape[1] != in_per_group * groups:
        raise ValueError(
            f"{name}: groups={groups} with weight of shape {w.shape} expects "
            f"{in_per_group * groups} input channels, got {x.shape[1]}"
        )
    for L, k, s, (pl, pr), d in zip(x.shape[2:], kernel, stride_t, pads, dilation_t, strict=True):
        _check_window_args(k, s, min(pl, pr), d)
        _check_output(
            _window_count(L, k, s, pl, pr, d),
            L,
            kernel_size=k,
            stride=s,
            padding=(pl, pr),
            dilation=d,
        )
    windows, counts = _padded_windows(x, kernel, stride_t, pads, dilation_t)
    if x.shape[1] == 0:  # torch's special case: no input channels give no output channels
        return _unbatch(np.zeros((x.shape[0], 0, *counts), dtype=x.dtype), unbatched)
    # out[n, g, o, *pos] = sum_{c, *j} windows[n, g, c, *pos, *j] * w[g, o, c, *j]
    windows = windows.reshape(x.shape[0], groups, in_per_group, *windows.shape[2:])
    w_grouped = w.reshape(groups, out_channels // groups, *w.shape[1:])
    pos, off = "xyz"[:n], "ijk"[:n]
    out = np.einsum(f"ngc{pos}{off},goc{off}->ngo{pos}", windows, w_grouped, optimize=True).reshape(
        x.shape[0], out_channels, *counts
    )
    if bias is not None:
        out = out + np.asarray(bias).reshape((-1,) + (1,) * n)
    return _unbatch(np.ascontiguousarray(out, dtype=x.dtype), unbatched)


def conv1d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> np.ndarray:
    """1-D cross-correlation; see `conv2d`.

    ``input (N, C_in, L)``, ``weight (C_out, C_in/groups, k)``.
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> np.ndarray:
    """2-D cross-correlation (what deep learning calls convolution; the kernel is not flipped).

    $$\\text{out}[n, o, y, x] = b_o + \\sum_{c \\in g(o)} \\sum_{i, j}
      \\text{in}_p[n, c, y s_h + i d_h, x s_w + j d_w]\\, w[o, c, i, j]$$

    where ``in_p`` is the zero-padded input and ``g(o)`` the input channels of o's group.
    ``padding`` is ints, ``'valid'`` (none) or ``'same'`` (stride 1 only; total ``d(k-1)``,
    the odd extra on the right). A zero batch gives an empty output; zero input channels
    give zero output channels (torch's special case: no bias is added); zero output
    channels, or an empty spatial dim with a non-empty batch and channels, raise.

    Raises:
        ValueError: channels don't match ``weight`` and ``groups``, bad stride/padding/
            dilation, an empty spatial dim or weight, or an output size below 1.
        TypeError: ``input``, ``weight`` and ``bias`` dtypes differ.
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> np.ndarray:
    """3-D cross-correlation; see `conv2d`. ``input (N, C_in, D, H, W)``."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3)


def _conv_transpose(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntOrTuple,
    padding: IntOrTuple,
    output_padding: IntOrTuple,
    groups: int,
    dilation: IntOrTuple,
    n: int,
) -> np.ndarray:
    name = f"conv_transpose{n}d"
    x, unbatched = _batched(input, n, name, "none")
    w = np.asarray(weight)
    _check_dtypes(name, x, weight=w, bias=bias)
    _check_conv_input(x, w, n, name)
    kernel = w.shape[2:]
    stride_t = _ntuple(stride, n, "stride")
    padding_t = _ntuple(padding, n, "padding")
    output_padding_t = _ntuple(output_padding, n, "output_padding")
    dilation_t = _ntuple(dilation, n, "dilation")
    in_channels, per_group = w.shape[:2]
    if groups < 1 or in_channels % groups or x.shape[1] != in_channels:
        raise ValueError(
            f"{name}: weight of shape {w.shape} with groups={groups} expects "
            f"{in_channels} input channels divisible by groups, got {x.shape[1]}"
        )
    sizes = x.shape[2:]
    params = zip(sizes, kernel, stride_t, padding_t, output_padding_t, dilation_t, strict=True)
    # a zero batch may have an empty output, but not a negative one
    outs = tuple(_transposed_size(*args, minimum=0 if x.shape[0] == 0 else 1) for args in params)
    # Each input pixel spreads x * w over a dilated kernel footprint: cols (N, C_out, *k, *L).
    in_per_group = in_channels // groups
    parts = [
        np.tensordot(
            x[:, g * in_per_group : (g + 1) * in_per_group],
            w[g * in_per_group : (g + 1) * in_per_group],
            axes=([1], [0]),
        )
        for g in range(groups)
    ]  # each (N, *L, per_group, *k)
    cols = np.concatenate(parts, axis=1 + n)
    cols = np.moveaxis(cols, list(range(1, 1 + n)), list(range(2 + n, 2 + 2 * n)))
    full = tuple(p + o for p, o in zip(padding_t, outs, strict=True))
    full = tuple(
        max(f, (L - 1) * s + d * (k - 1) + 1)
        for f, L, s, d, k in zip(full, sizes, stride_t, dilation_t, kernel, strict=True)
    )
    out = _scatter_windows(cols, kernel, stride_t, dilation_t, full)
    out = out[(..., *(slice(p, p + o) for p, o in zip(padding_t, outs, strict=True)))]
    if bias is not None:
        out = out + np.asarray(bias).reshape((-1,) + (1,) * n)
    return _unbatch(np.ascontiguousarray(out, dtype=x.dtype), unbatched)


def conv_transpose1d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """1-D transposed convolution; see `conv_transpose2d`."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1
    )


def conv_transpose2d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """2-D transposed convolution: the adjoint (input gradient) of `conv2d`.

    Each input pixel ``(y, x)`` adds ``in[y, x] * w[c, o, i, j]`` at
    ``(y s + i d - p, x s + j d - p)``; ``weight`` is ``(C_in, C_out/groups, kH, kW)``.
    The output size is `conv_transpose_output_size`, ``output_padding`` extending the bottom
    and right edges.

    Raises:
        ValueError: channel/group mismatch, ``output_padding >= max(stride, dilation)``,
            zero input channels or an empty spatial dim, or an output size below 1.
        TypeError: ``input``, ``weight`` and ``bias`` dtypes differ.
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2
    )


def conv_transpose3d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """3-D transposed convolution; see `conv_transpose2d`. ``weight (C_in, C_out/groups,
    kD, kH, kW)``."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 3
    )


# --- convolution backward ---------------------------------------------------------------

OutputMask = tuple[bool, bool, bool]


def _grad_shape_check(name: str, grad: np.ndarray, shape: tuple[int, ...]) -> None:
    if grad.shape != tuple(shape):
        raise ValueError(
            f"{name}: grad_output of shape {grad.shape} does not match the output shape "
            f"{tuple(shape)}"
        )


def _sum_bias(g: np.ndarray, bias: np.ndarray | None, n: int, dtype: np.dtype):
    """``grad_bias[o] = sum_{n, *pos} grad_output[n, o, *pos]`` (None without a bias)."""
    if bias is None:
        return None
    if g.shape[1] != np.shape(bias)[0]:  # zero input channels: the output ignores the bias
        return np.zeros(np.shape(bias), dtype=dtype)
    return g.sum(axis=(0, *range(2, 2 + n))).astype(dtype, copy=False)


def _conv_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntOrTuple,
    padding: IntOrTuple | str,
    dilation: IntOrTuple,
    groups: int,
    n: int,
    output_mask: OutputMask,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    name = f"conv{n}d_backward"
    x, unbatched = _batched(input, n, name, "none")
    w = np.asarray(weight)
    g = np.asarray(grad_output)
    g = g[None] if unbatched else g
    kernel = w.shape[2:]
    stride_t = _ntuple(stride, n, "stride")
    dilation_t = _ntuple(dilation, n, "dilation")
    pads = _conv_padding(padding, kernel, stride_t, dilation_t)
    params = zip(x.shape[2:], kernel, stride_t, pads, dilation_t, strict=True)
    counts = tuple(_window_count(L, k, s, pl, pr, d) for L, k, s, (pl, pr), d in params)
    out_channels, in_per_group = w.shape[:2]
    out_shape = (x.shape[0], out_channels if x.shape[1] else 0, *counts)
    _grad_shape_check(name, g, out_shape)
    dtype = x.dtype
    grad_bias = _sum_bias(g, bias, n, dtype) if output_mask[2] else None
    if x.shape[1] == 0:  # no input channels: nothing reaches the weight or the input
        gi = np.zeros(np.shape(input), dtype) if output_mask[0] else None
        return gi, (np.zeros(w.shape, dtype) if output_mask[1] else None), grad_bias
    gg = g.reshape(x.shape[0], groups, out_channels // groups, *counts)
    pos, off = "xyz"[:n], "ijk"[:n]
    grad_weight = grad_input = None
    if output_mask[1]:
        # grad_w[g, o, c, *j] = sum_{n, *pos} windows[n, g, c, *pos, *j] * g[n, g, o, *pos]
        windows, _ = _padded_windows(x, kernel, stride_t, pads, dilation_t)
        windows = windows.reshape(x.shape[0], groups, in_per_group, *windows.shape[2:])
        grad_weight = np.einsum(
            f"ngc{pos}{off},ngo{pos}->goc{off}", windows, gg, optimize=True
        ).reshape(w.shape).astype(dtype, copy=False)
    if output_mask[0]:
        # Each output position spreads g * w back over its window: the transposed convolution.
        w_grouped = w.reshape(groups, out_channels // groups, in_per_group, *kernel)
        cols = np.einsum(f"goc{off},ngo{pos}->ngc{off}{pos}", w_grouped, gg, optimize=True)
        cols = cols.reshape(x.shape[0], x.shape[1], *kernel, *counts)
        full = tuple(L + pl + pr for L, (pl, pr) in zip(x.shape[2:], pads, strict=True))
        padded = _scatter_windows(cols, kernel, stride_t, dilation_t, full)
        crop = tuple(slice(pl, pl + L) for L, (pl, _) in zip(x.shape[2:], pads, strict=True))
        grad_input = _unbatch(np.ascontiguousarray(padded[(..., *crop)], dtype=dtype), unbatched)
    return grad_input, grad_weight, grad_bias


def conv1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    output_mask: OutputMask = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The VJP of `conv1d`; see `conv2d_backward`."""
    return _conv_backward(
        grad_output, input, weight, bias, stride, padding, dilation, groups, 1, output_mask
    )


def conv2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    output_mask: OutputMask = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The vector-Jacobian product of `conv2d`: ``(grad_input, grad_weight, grad_bias)``.

    With $\\bar y$ the output gradient and $\\text{in}_p$ the padded input,

    $$\\bar w[o, c, i, j] = \\sum_{n, y, x} \\bar y[n, o, y, x]\\,
      \\text{in}_p[n, c, y s_h + i d_h, x s_w + j d_w],$$

    $\\bar b_o = \\sum_{n, y, x} \\bar y[n, o, y, x]$, and $\\bar{\\text{in}}$ is the
    transposed convolution of $\\bar y$ with the same weight: every output position adds
    $\\bar y[n, o, y, x]\\, w[o, c, i, j]$ back at the input cell its window read, the
    padding's share dropped. The arguments are the forward's; ``output_mask`` (torch's
    name) skips gradients nobody needs (None in their place); ``grad_bias`` is None
    without a bias.

    Raises:
        ValueError: ``grad_output`` does not have the forward output's shape, or the
            forward arguments are invalid.
    """
    return _conv_backward(
        grad_output, input, weight, bias, stride, padding, dilation, groups, 2, output_mask
    )


def conv3d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    output_mask: OutputMask = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The VJP of `conv3d`; see `conv2d_backward`."""
    return _conv_backward(
        grad_output, input, weight, bias, stride, padding, dilation, groups, 3, output_mask
    )


def _conv_transpose_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntOrTuple,
    padding: IntOrTuple,
    output_padding: IntOrTuple,
    groups: int,
    dilation: IntOrTuple,
    n: int,
    output_mask: OutputMask,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    name = f"conv_transpose{n}d_backward"
    x, unbatched = _batched(input, n, name, "none")
    w = np.asarray(weight)
    g = np.asarray(grad_output)
    g = g[None] if unbatched else g
    _check_conv_input(x, w, n, name)
    kernel = w.shape[2:]
    stride_t = _ntuple(stride, n, "stride")
    padding_t = _ntuple(padding, n, "padding")
    output_padding_t = _ntuple(output_padding, n, "output_padding")
    dilation_t = _ntuple(dilation, n, "dilation")
    in_channels, per_group = w.shape[:2]
    if groups < 1 or in_channels % groups or x.shape[1] != in_channels:
        raise ValueError(
            f"{name}: weight of shape {w.shape} with groups={groups} expects "
            f"{in_channels} input channels divisible by groups, got {x.shape[1]}"
        )
    sizes = x.shape[2:]
    params = zip(sizes, kernel, stride_t, padding_t, output_padding_t, dilation_t, strict=True)
    outs = tuple(_transposed_size(*args, minimum=0 if x.shape[0] == 0 else 1) for args in params)
    _grad_shape_check(name, g, (x.shape[0], per_group * groups, *outs))
    dtype = x.dtype
    # The forward scatters into a canvas of `full` cells and keeps [p, p + out): put the
    # gradient back on that canvas (zeros outside) and read it through the same windows.
    canvas = zip(padding_t, outs, sizes, stride_t, dilation_t, kernel, strict=True)
    full = tuple(max(p + o, (L - 1) * s + d * (k - 1) + 1) for p, o, L, s, d, k in canvas)
    widths = [(0, 0), (0, 0)]
    widths += [(p, f - p - o) for p, o, f in zip(padding_t, outs, full, strict=True)]
    windows = _windows(np.pad(g, widths), kernel, stride_t, dilation_t, sizes)  # (N, C_out, *L, *k)
    in_per_group = in_channels // groups
    windows = windows.reshape(x.shape[0], groups, per_group, *windows.shape[2:])
    pos, off = "xyz"[:n], "ijk"[:n]
    grad_input = grad_weight = None
    if output_mask[0]:
        # grad_x[n, g, c, *pos] = sum_{o, *j} w[g, c, o, *j] * windows[n, g, o, *pos, *j]:
        # the convolution of the output gradient with the same weight.
        w_grouped = w.reshape(groups, in_per_group, per_group, *kernel)
        grad_input = np.einsum(
            f"ngo{pos}{off},gco{off}->ngc{pos}", windows, w_grouped, optimize=True
        ).reshape(x.shape)
        grad_input = _unbatch(grad_input.astype(dtype, copy=False), unbatched)
    if output_mask[1]:
        xg = x.reshape(x.shape[0], groups, in_per_group, *sizes)
        grad_weight = np.einsum(
            f"ngc{pos},ngo{pos}{off}->gco{off}", xg, windows, optimize=True
        ).reshape(w.shape).astype(dtype, copy=False)
    grad_bias = _sum_bias(g, bias, n, dtype) if output_mask[2] else None
    return grad_input, grad_weight, grad_bias


def conv_transpose1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_mask: OutputMask = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The VJP of `conv_transpose1d`; see `conv_transpose2d_backward`."""
    return _conv_transpose_backward(
        grad_output, input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
        output_mask,
    )


def conv_transpose2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_mask: OutputMask = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The VJP of `conv_transpose2d`: ``(grad_input, grad_weight, grad_bias)``.

    With $\\bar y_p$ the output gradient zero-padded back to the canvas the forward
    cropped (``p`` cells on each side, ``output_padding`` included),

    $$\\bar{\\text{in}}[n, c, y, x] = \\sum_{o, i, j} w[c, o, i, j]\\,
      \\bar y_p[n, o, y s + i d, x s + j d]$$

    (the convolution of the output gradient with the same weight),
    $\\bar w[c, o, i, j] = \\sum_{n, y, x} \\text{in}[n, c, y, x]\\,
    \\bar y_p[n, o, y s + i d, x s + j d]$ and $\\bar b_o = \\sum \\bar y[n, o, \\dots]$.
    The arguments are the forward's; ``output_mask`` as in `conv2d_backward`.
    """
    return _conv_transpose_backward(
        grad_output, input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
        output_mask,
    )


def conv_transpose3d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_mask: OutputMask = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The VJP of `conv_transpose3d`; see `conv_transpose2d_backward`."""
    return _conv_transpose_backward(
        grad_output, input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
        output_mask,
    )


# --- pooling ----------------------------------------------------------------------------


def _lowest(dtype: np.dtype) -> float | int:
    """The fill that never wins a maximum: -inf, or the smallest integer."""
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _pool_params(
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    n: int,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    kernel = _ntuple(kernel_size, n, "kernel_size")
    # An empty stride (torch's default []) also means kernel_size.
    stride_t = (
        kernel
        if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0)
        else _ntuple(stride, n, "stride")
    )
    return kernel, stride_t, _ntuple(padding, n, "padding"), _ntuple(dilation, n, "dilation")


def _pool_windows(
    x: np.ndarray,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    ceil_mode: bool,
    fill: float,
) -> tuple[np.ndarray, tuple[int, ...]]:
    for L, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation, strict=True):
        pool_output_size(L, k, s, p, d, ceil_mode)
    return _padded_windows(
        x, kernel, stride, [(p, p) for p in padding], dilation, ceil_mode=ceil_mode, fill=fill
    )


def _max_pool(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    ceil_mode: bool,
    return_indices: bool,
    n: int,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    x, unbatched = _batched(input, n, f"max_pool{n}d")
    kernel, stride_t, padding_t, dilation_t = _pool_params(
        kernel_size, stride, padding, dilation, n
    )
    windows, counts = _pool_windows(
        x, kernel, stride_t, padding_t, dilation_t, ceil_mode, _lowest(x.dtype)
    )
    kernel_axes = tuple(range(2 + n, 2 + 2 * n))
    values = _unbatch(windows.max(axis=kernel_axes, initial=_lowest(x.dtype)), unbatched)
    if not return_indices:
        return values
    # Index of the first maximum, in the flattened spatial plane of the unpadded input.
    flat = windows.reshape(windows.shape[: 2 + n] + (math.prod(kernel),))
    offsets = np.unravel_index(flat.argmax(axis=-1), kernel)
    index = np.zeros(flat.shape[:-1], dtype=np.int64)
    for dim in range(n):
        shape = [1] * n
        shape[dim] = counts[dim]
        start = np.arange(counts[dim]).reshape(shape) * stride_t[dim] - padding_t[dim]
        index = index * x.shape[2 + dim] + start + offsets[dim] * dilation_t[dim]
    return values, _unbatch(index.astype(np.int64), unbatched)


def max_pool1d(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """1-D max pooling; see `max_pool2d`."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def max_pool2d(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """2-D max pooling: the maximum of each (dilated) window; padding counts as ``-inf``.

    ``stride`` defaults to ``kernel_size``; the output size is `pool_output_size`. With
    ``return_indices`` also the flat index ``y * W + x`` into the input plane of each
    window's first maximum (row-major scan). A zero batch is allowed; zero channels or an
    empty spatial dim raise.
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def max_pool3d(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """3-D max pooling; see `max_pool2d`. Indices are ``(z H + y) W + x``."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3)


def _avg_pool(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
    n: int,
) -> np.ndarray:
    x, unbatched = _batched(input, n, f"avg_pool{n}d")
    kernel, stride_t, padding_t, ones = _pool_params(kernel_size, stride, padding, 1, n)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("divisor_override must be non-zero")
    if n == 3 and any(L < k for L, k in zip(x.shape[2:], kernel, strict=True)):
        raise ValueError(
            f"avg_pool3d: input image {x.shape[2:]} smaller than kernel size {kernel}"
        )
    windows, counts = _pool_windows(x, kernel, stride_t, padding_t, ones, ceil_mode, 0.0)
    sums = windows.sum(axis=tuple(range(2 + n, 2 + 2 * n)))
    divisor = _avg_divisor(
        x.shape[2:], kernel, stride_t, padding_t, counts, count_include_pad, divisor_override
    )
    return _unbatch((sums / divisor).astype(x.dtype, copy=False), unbatched)


def _avg_divisor(
    sizes: Sequence[int],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    counts: tuple[int, ...],
    count_include_pad: bool,
    divisor_override: int | None,
) -> np.ndarray | int:
    """Each window's divisor: ``divisor_override``, or the window's cells inside the padded
    input (``count_include_pad``) or inside the input, an ``(*counts)`` array."""
    if divisor_override is not None:
        return divisor_override
    # Per dim: the window [start, end) clipped to the padded input, or to the input.
    divisor = np.ones((), dtype=np.int64)
    for L, k, s, p, c in zip(sizes, kernel, stride, padding, counts, strict=True):
        start = np.arange(c) * s - p
        end = np.minimum(start + k, L + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, L)
        divisor = np.multiply.outer(divisor, end - start)
    return divisor


def avg_pool1d(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    """1-D average pooling; see `avg_pool2d` (torch's 1-D version has no divisor_override)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


def avg_pool2d(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """2-D average pooling: each window's sum divided by a count.

    The divisor is ``divisor_override`` if given; else the window's area clipped to the
    padded input (``count_include_pad=True``: zero padding counts, cells past the padding in
    ceil_mode don't) or to the input itself (``count_include_pad=False``).
    """
    return _avg_pool(
        input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2
    )


def avg_pool3d(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """3-D average pooling; see `avg_pool2d`. Unlike 1-D and 2-D, every input size must be
    at least the kernel size, padding notwithstanding (torch's ``avg_pool3d`` check)."""
    return _avg_pool(
        input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 3
    )


# --- pooling backward -------------------------------------------------------------------


def _scatter_plane(
    values: np.ndarray, index: np.ndarray, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    """Sum ``values (N, C, *any)`` into a zero ``(N, C, *plane)`` array at the flat plane
    positions ``index`` (same shape as ``values``); positions outside the plane are dropped."""
    lead, plane = shape[:2], math.prod(shape[2:])
    index = np.asarray(index, dtype=np.int64)
    per_plane = math.prod(index.shape[2:])
    flat = index.reshape(*lead, per_plane)
    weights = np.asarray(values).reshape(*lead, per_plane)
    keep = (flat >= 0) & (flat < plane)
    offsets = np.arange(math.prod(lead), dtype=np.int64).reshape(*lead, 1) * plane
    total = np.bincount(
        (flat + offsets)[keep], weights=weights[keep], minlength=math.prod(lead) * plane
    )
    return total.reshape(shape).astype(dtype, copy=False)


def _max_pool_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    ceil_mode: bool,
    indices: np.ndarray | None,
    n: int,
) -> np.ndarray:
    name = f"max_pool{n}d_backward"
    x, unbatched = _batched(input, n, name)
    if indices is None:
        _, indices = _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, True, n)
    idx = np.asarray(indices)
    g = np.asarray(grad_output)
    _grad_shape_check(name, g, idx.shape)
    if unbatched:
        g, idx = g[None], idx[None]
    return _unbatch(_scatter_plane(g, idx, x.shape, x.dtype), unbatched)


def max_pool1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """The VJP of `max_pool1d`; see `max_pool2d_backward`."""
    return _max_pool_backward(
        grad_output, input, kernel_size, stride, padding, dilation, ceil_mode, indices, 1
    )


def max_pool2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """The VJP of `max_pool2d`: each window's gradient goes to the cell its maximum came
    from, the *first* maximum in row-major order (the index `max_pool2d` returns), and
    the shares of overlapping windows add up:

    $$\\bar x[n, c, q] = \\sum_{o \\,:\\, \\text{index}[n, c, o] = q} \\bar y[n, c, o].$$

    ``indices`` (from the forward, ``return_indices=True``) saves recomputing them. A
    dilated window lying entirely in the padding passes no gradient.
    """
    return _max_pool_backward(
        grad_output, input, kernel_size, stride, padding, dilation, ceil_mode, indices, 2
    )


def max_pool3d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """The VJP of `max_pool3d`; see `max_pool2d_backward`."""
    return _max_pool_backward(
        grad_output, input, kernel_size, stride, padding, dilation, ceil_mode, indices, 3
    )


def _avg_pool_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
    n: int,
) -> np.ndarray:
    name = f"avg_pool{n}d_backward"
    x, unbatched = _batched(input, n, name)
    kernel, stride_t, padding_t, ones = _pool_params(kernel_size, stride, padding, 1, n)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("divisor_override must be non-zero")
    sizes = x.shape[2:]
    for L, k, s, p in zip(sizes, kernel, stride_t, padding_t, strict=True):
        pool_output_size(L, k, s, p, 1, ceil_mode)
    counts = tuple(
        _window_count(L, k, s, p, p, 1, ceil_mode)
        for L, k, s, p in zip(sizes, kernel, stride_t, padding_t, strict=True)
    )
    g = np.asarray(grad_output)
    g = g[None] if unbatched else g
    _grad_shape_check(name, g, x.shape[:2] + counts)
    divisor = _avg_divisor(sizes, kernel, stride_t, padding_t, counts, count_include_pad,
                           divisor_override)
    share = g / divisor  # every cell of a window receives the window's g / divisor
    cols = np.broadcast_to(
        share.reshape(share.shape[:2] + (1,) * n + counts), share.shape[:2] + kernel + counts
    )
    full = tuple(
        L + p + max(p, (c - 1) * s + k - L - p)
        for L, k, s, p, c in zip(sizes, kernel, stride_t, padding_t, counts, strict=True)
    )
    padded = _scatter_windows(cols, kernel, stride_t, ones, full)
    crop = tuple(slice(p, p + L) for L, p in zip(sizes, padding_t, strict=True))
    return _unbatch(np.ascontiguousarray(padded[(..., *crop)], dtype=x.dtype), unbatched)


def avg_pool1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    """The VJP of `avg_pool1d`; see `avg_pool2d_backward`."""
    return _avg_pool_backward(
        grad_output, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1
    )


def avg_pool2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """The VJP of `avg_pool2d`: every cell of window $o$ inside the input receives
    $\\bar y_o / \\text{divisor}_o$ (the forward's divisor), the shares of overlapping
    windows adding up and the padding's share dropped:

    $$\\bar x[n, c, q] = \\sum_{o \\,:\\, q \\in \\text{window}(o)}
      \\frac{\\bar y[n, c, o]}{\\text{divisor}_o}.$$
    """
    return _avg_pool_backward(
        grad_output, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
        divisor_override, 2,
    )


def avg_pool3d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """The VJP of `avg_pool3d`; see `avg_pool2d_backward`."""
    return _avg_pool_backward(
        grad_output, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
        divisor_override, 3,
    )


def _adaptive_bins(size: int, out: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Bin ``i`` covers ``[floor(i L / out), ceil((i + 1) L / out))``.

    Returns the starts, the lengths and the longest length.
    """
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    return start, end - start, int((end - start).max())


def _adaptive(
    input: np.ndarray,
    output_size: int | Sequence[int | None],
    n: int,
    name: str,
    nonempty: Nonempty,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, tuple[int, ...]] | None:
    """Gather every adaptive bin: values ``(N, C, *out, *longest)``, their validity mask and
    flat plane indices, the bin areas ``(*out)``, the unbatched flag and the output sizes.
    ``values`` is None when the output is empty."""
    x, unbatched = _batched(input, n, name, nonempty)
    sizes = x.shape[2:]
    given = (output_size,) * n if isinstance(output_size, (int, np.integer)) else output_size
    given = tuple(given)
    if n == 1 and None in given:
        raise TypeError(f"{name}: output_size must be ints, got {output_size!r}")
    if len(given) != n:
        raise ValueError(f"{name}: output_size must be an int or {n} values, got {output_size!r}")
    outs = tuple(L if o is None else int(o) for L, o in zip(sizes, given, strict=True))
    if min(outs) < 0:
        raise ValueError(f"{name}: elements of output_size must be non-negative, got {outs}")
    if 0 in outs or 0 in x.shape[:2]:
        return None, None, None, None, unbatched, x.shape[:2] + outs
    bins = [_adaptive_bins(L, o) for L, o in zip(sizes, outs, strict=True)]
    values, flat = _gather_windows(
        x, [start.reshape(1, 1, -1) for start, _, _ in bins], [longest for *_, longest in bins]
    )
    valid = np.ones((), dtype=bool)
    area = np.ones((), dtype=np.int64)
    for d, (_, lengths, longest) in enumerate(bins):
        shape = [1] * (2 + 2 * n)
        shape[2 + d], shape[2 + n + d] = len(lengths), longest
        valid = valid & (np.arange(longest) < lengths[:, None]).reshape(shape)
        area = np.multiply.outer(area, lengths)
    return values, valid, flat, area, unbatched, outs


def _adaptive_avg_pool(input: np.ndarray, output_size: object, n: int) -> np.ndarray:
    name = f"adaptive_avg_pool{n}d"
    x = np.asarray(input)
    if n == 1 and x.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a 2D or 3D input, got shape {x.shape}")
    if x.ndim >= n:
        given = (output_size,) * n if isinstance(output_size, (int, np.integer)) else output_size
        outs = [L if o is None else o for L, o in zip(x.shape[x.ndim - n :], given, strict=False)]
        if len(outs) == n and all(o == 1 for o in outs):
            # torch's shortcut: a mean over the spatial dims, with no check of the input's
            # rank or emptiness (an empty spatial dim gives NaN, the mean of nothing)
            axes = tuple(range(x.ndim - n, x.ndim))
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = x.sum(axis=axes, keepdims=True) / math.prod(x.shape[x.ndim - n :])
            return mean.astype(x.dtype, copy=False)
    values, valid, _, area, unbatched, outs = _adaptive(
        x, output_size, n, name, "spatial" if n < 3 else "given"
    )
    if values is None:
        return _unbatch(np.zeros(outs, dtype=x.dtype), unbatched)
    sums = np.where(valid, values, 0).sum(axis=tuple(range(2 + n, 2 + 2 * n)))
    return _unbatch((sums / area).astype(x.dtype, copy=False), unbatched)


def _adaptive_max_pool(
    input: np.ndarray, output_size: object, return_indices: bool, n: int
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    name = f"adaptive_max_pool{n}d"
    x = np.asarray(input)
    values, valid, flat, _, unbatched, outs = _adaptive(x, output_size, n, name, "given")
    if values is None:
        out, index = np.zeros(outs, dtype=x.dtype), np.zeros(outs, dtype=np.int64)
    else:
        masked = np.where(valid, values, _lowest(x.dtype)).astype(x.dtype, copy=False)
        lead = masked.shape[: 2 + n]
        arg = masked.reshape(lead + (-1,)).argmax(axis=-1)[..., None]
        out = np.take_along_axis(masked.reshape(lead + (-1,)), arg, axis=-1)[..., 0]
        index = np.take_along_axis(flat.reshape(lead + (-1,)), arg, axis=-1)[..., 0]
    if not return_indices:
        return _unbatch(out, unbatched)
    return _unbatch(out, unbatched), _unbatch(index.astype(np.int64), unbatched)


def adaptive_avg_pool1d(input: np.ndarray, output_size: IntOrTuple) -> np.ndarray:
    """1-D adaptive average pooling; see `adaptive_avg_pool2d`."""
    return _adaptive_avg_pool(input, output_size, 1)


def adaptive_avg_pool2d(input: np.ndarray, output_size: int | Sequence[int | None]) -> np.ndarray:
    """Average over adaptive bins: output ``(i, j)`` averages rows
    ``[floor(i H / oH), ceil((i+1) H / oH))`` and the analogous columns (``None`` keeps a size).

    In 1-D and 2-D only the spatial sizes must be non-zero (zero channels give an empty
    output); in 3-D every dim after the first must be. An output size 0 gives an empty output.
    An output size of all ones is torch's shortcut, the mean over the spatial dims, with no
    check of the input's rank or emptiness (an empty spatial dim gives NaN).
    """
    return _adaptive_avg_pool(input, output_size, 2)


def adaptive_avg_pool3d(input: np.ndarray, output_size: int | Sequence[int | None]) -> np.ndarray:
    """3-D adaptive average pooling; see `adaptive_avg_pool2d`."""
    return _adaptive_avg_pool(input, output_size, 3)


def adaptive_max_pool1d(
    input: np.ndarray, output_size: IntOrTuple, return_indices: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """1-D adaptive max pooling; see `adaptive_max_pool2d`."""
    return _adaptive_max_pool(input, output_size, return_indices, 1)


def adaptive_max_pool2d(
    input: np.ndarray, output_size: int | Sequence[int | None], return_indices: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Maximum over the adaptive bins of `adaptive_avg_pool2d`; indices (of the first
    maximum) as in `max_pool2d`. Every dim after the first must be non-zero (so an unbatched
    input may have zero channels, a batched one may not)."""
    return _adaptive_max_pool(input, output_size, return_indices, 2)


def adaptive_max_pool3d(
    input: np.ndarray, output_size: int | Sequence[int | None], return_indices: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """3-D adaptive max pooling; see `adaptive_max_pool2d`."""
    return _adaptive_max_pool(input, output_size, return_indices, 3)


def _adaptive_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """The ``(out, size)`` averaging matrix of one dim: row ``o`` is ``1 / |bin_o|`` over
    ``bin_o = [floor(o L / out), ceil((o + 1) L / out))``."""
    start, lengths, _ = _adaptive_bins(size, out)
    j = np.arange(size)
    inside = (j >= start[:, None]) & (j < (start + lengths)[:, None])
    return (inside / lengths[:, None]).astype(dtype)


def _along(g: np.ndarray, axis: int, matrix: np.ndarray) -> np.ndarray:
    """``matrix^T`` applied along ``axis``: the VJP of applying the ``(out, in)`` matrix
    there (``(..., out) @ (out, in)``)."""
    return np.moveaxis(np.moveaxis(g, axis, -1) @ matrix, -1, axis)


def _adaptive_grad_check(name: str, g: np.ndarray) -> None:
    """torch's adaptive pooling kernels refuse a gradient with an empty dim after the first
    (an output size 0, or no channels in a batch), although the forward accepts them."""
    if 0 in g.shape[1:]:
        raise ValueError(
            f"{name}: expected grad_output to have non-zero size for non-batch dimensions, "
            f"got shape {g.shape}"
        )


def _adaptive_avg_pool_backward(
    grad_output: np.ndarray, input: np.ndarray, output_size: object, n: int
) -> np.ndarray:
    name = f"adaptive_avg_pool{n}d_backward"
    x = np.asarray(input)
    out = _adaptive_avg_pool(x, output_size, n)  # validates, and gives the output shape
    g = np.asarray(grad_output)
    _grad_shape_check(name, g, out.shape)
    shortcut = x.ndim >= n and out.shape[x.ndim - n :] == (1,) * n  # a mean: no kernel
    if not shortcut:
        _adaptive_grad_check(name, g)
    if g.size == 0 or x.size == 0:
        return np.zeros(x.shape, dtype=x.dtype)
    grad = g.astype(x.dtype, copy=True)
    for d in range(n):  # separable: one averaging matrix per spatial dim
        axis = x.ndim - n + d
        grad = _along(grad, axis, _adaptive_matrix(x.shape[axis], g.shape[axis], x.dtype))
    return np.ascontiguousarray(grad, dtype=x.dtype)


def adaptive_avg_pool1d_backward(
    grad_output: np.ndarray, input: np.ndarray, output_size: IntOrTuple
) -> np.ndarray:
    """The VJP of `adaptive_avg_pool1d`; see `adaptive_avg_pool2d_backward`."""
    return _adaptive_avg_pool_backward(grad_output, input, output_size, 1)


def adaptive_avg_pool2d_backward(
    grad_output: np.ndarray, input: np.ndarray, output_size: int | Sequence[int | None]
) -> np.ndarray:
    """The VJP of `adaptive_avg_pool2d`: every cell of bin $o$ receives
    $\\bar y_o / |\\text{bin}_o|$, the shares of overlapping bins adding up. The pool is
    separable, so this is $A_H^\\top \\bar y A_W$ with $A$ the per-dim averaging matrices
    (row $o$ is $1/|\\text{bin}_o|$ over the bin).

    Raises:
        ValueError: ``grad_output`` has an empty dim after the first (an output size 0):
            torch's kernel refuses it although the forward accepts it (its guard against
            the crash of pytorch/pytorch#78868); an output of all ones is the mean, which
            has no such check.
    """
    return _adaptive_avg_pool_backward(grad_output, input, output_size, 2)


def adaptive_avg_pool3d_backward(
    grad_output: np.ndarray, input: np.ndarray, output_size: int | Sequence[int | None]
) -> np.ndarray:
    """The VJP of `adaptive_avg_pool3d`; see `adaptive_avg_pool2d_backward`."""
    return _adaptive_avg_pool_backward(grad_output, input, output_size, 3)


def _adaptive_max_pool_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    output_size: object,
    indices: np.ndarray | None,
    n: int,
) -> np.ndarray:
    name = f"adaptive_max_pool{n}d_backward"
    x = np.asarray(input)
    if indices is None:
        _, indices = _adaptive_max_pool(x, output_size, True, n)
    idx, g = np.asarray(indices), np.asarray(grad_output)
    _grad_shape_check(name, g, idx.shape)
    _adaptive_grad_check(name, g)
    if x.ndim == n + 1:
        return _scatter_plane(g[None], idx[None], (1, *x.shape), x.dtype)[0]
    return _scatter_plane(g, idx, x.shape, x.dtype)


def adaptive_max_pool1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    output_size: IntOrTuple,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """The VJP of `adaptive_max_pool1d`; see `adaptive_max_pool2d_backward`."""
    return _adaptive_max_pool_backward(grad_output, input, output_size, indices, 1)


def adaptive_max_pool2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    output_size: int | Sequence[int | None],
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """The VJP of `adaptive_max_pool2d`: each bin's gradient goes to its first maximum
    (the returned index), overlapping bins adding up, as in `max_pool2d_backward`.

    Raises:
        ValueError: ``grad_output`` has an empty dim after the first (see
            `adaptive_avg_pool2d_backward`).
    """
    return _adaptive_max_pool_backward(grad_output, input, output_size, indices, 2)


def adaptive_max_pool3d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    output_size: int | Sequence[int | None],
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """The VJP of `adaptive_max_pool3d`; see `adaptive_max_pool2d_backward`."""
    return _adaptive_max_pool_backward(grad_output, input, output_size, indices, 3)


def _lp_pool(
    input: np.ndarray,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    ceil_mode: bool,
    n: int,
) -> np.ndarray:
    if norm_type == 0:
        raise ValueError(f"norm_type must be a non-zero value, but got {norm_type}")
    x = np.asarray(input)
    kernel = _ntuple(kernel_size, n, "kernel_size")
    if math.isinf(norm_type):
        sign = 1 if norm_type > 0 else -1
        return sign * _max_pool(sign * np.abs(x), kernel, stride, 0, 1, ceil_mode, False, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _avg_pool(x**norm_type, kernel, stride, 0, ceil_mode, True, None, n)
        summed = np.sign(mean) * np.maximum(np.abs(mean), 0) * math.prod(kernel)
        return (summed ** (1.0 / norm_type)).astype(x.dtype, copy=False)


def lp_pool1d(
    input: np.ndarray,
    norm_type: float,
    kernel_size: int,
    stride: IntOrTuple | None = None,
    ceil_mode: bool = False,
) -> np.ndarray:
    """1-D power-average pooling; see `lp_pool2d`."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(
    input: np.ndarray,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    ceil_mode: bool = False,
) -> np.ndarray:
    """Power-average pooling: ``(sum over the window of x^p)^(1/p)``.

    As in torch it is computed as ``(k_H k_W avg_pool2d(x^p))^(1/p)`` with padding 0, so a
    ceil_mode window that runs past the input is rescaled by ``k_H k_W / count``.
    ``norm_type = inf`` is max pooling of ``|x|`` (torch >= 2.13); 0 raises.
    """
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d(
    input: np.ndarray,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    ceil_mode: bool = False,
) -> np.ndarray:
    """3-D power-average pooling; see `lp_pool2d`."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3)


def _lp_pool_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    ceil_mode: bool,
    n: int,
) -> np.ndarray:
    name = f"lp_pool{n}d_backward"
    x = np.asarray(input)
    g = np.asarray(grad_output)
    kernel = _ntuple(kernel_size, n, "kernel_size")
    if norm_type == 0:
        raise ValueError(f"norm_type must be a non-zero value, but got {norm_type}")
    if math.isinf(norm_type):  # +-max_pool(+-|x|): the winner's gradient times sign(x)
        sign = 1 if norm_type > 0 else -1
        _, idx = _max_pool(sign * np.abs(x), kernel, stride, 0, 1, ceil_mode, True, n)
        _grad_shape_check(name, g, idx.shape)
        to_abs = _max_pool_backward(g, x, kernel, stride, 0, 1, ceil_mode, idx, n)
        return (to_abs * np.sign(x)).astype(x.dtype, copy=False)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        powered = x**norm_type
        mean = _avg_pool(powered, kernel, stride, 0, ceil_mode, True, None, n)
        _grad_shape_check(name, g, mean.shape)
        k = math.prod(kernel)
        base = np.sign(mean) * np.maximum(np.abs(mean), 0) * k
        # torch's chain: pow(1/p), mul(k), sign(a) * relu(|a|) (relu passes no gradient,
        # NaN included, where |a| = 0), avg_pool, pow(p)
        to_base = g * (1.0 / norm_type) * base ** (1.0 / norm_type - 1)
        to_mean = np.where(np.abs(mean) <= 0, 0, to_base * k * np.sign(mean)) * np.sign(mean)
        to_powered = _avg_pool_backward(to_mean, powered, kernel, stride, 0, ceil_mode, True,
                                        None, n)
        grad = to_powered * norm_type * x ** (norm_type - 1)
    return grad.astype(x.dtype, copy=False)


def lp_pool1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    norm_type: float,
    kernel_size: int,
    stride: IntOrTuple | None = None,
    ceil_mode: bool = False,
) -> np.ndarray:
    """The VJP of `lp_pool1d`; see `lp_pool2d_backward`."""
    return _lp_pool_backward(grad_output, input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    ceil_mode: bool = False,
) -> np.ndarray:
    """The VJP of `lp_pool2d`, through torch's own formula
    $y = (K \\cdot a)^{1/p}$ with $a = \\text{avg\\_pool}(x^p)$ and $K = \\prod k$:

    $$\\bar x = p\\, x^{p-1}\\, \\text{avg\\_pool}^\\top\\!\\Big(
      [a \\ne 0]\\; \\bar y\\, \\tfrac{K}{p}\\, (K a)^{1/p - 1}\\Big),$$

    so a window whose power sum is 0 passes no gradient (torch: "the gradient is set to
    zero as well"); $p = \\infty$ sends the gradient to the largest $|x|$, times
    $\\operatorname{sign} x$.
    """
    return _lp_pool_backward(grad_output, input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    ceil_mode: bool = False,
) -> np.ndarray:
    """The VJP of `lp_pool3d`; see `lp_pool2d_backward`."""
    return _lp_pool_backward(grad_output, input, norm_type, kernel_size, stride, ceil_mode, 3)


def _max_unpool(
    input: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    output_size: Sequence[int] | None,
    n: int,
) -> np.ndarray:
    name = f"max_unpool{n}d"
    x, unbatched = _batched(input, n, name)
    idx = np.asarray(indices)
    if idx.dtype != np.int64:
        raise TypeError(f"{name}: elements in indices should be type int64, got {idx.dtype}")
    if idx.shape != np.shape(input):
        raise ValueError(
            f"{name}: expected indices of the input's shape {np.shape(input)}, got {idx.shape}"
        )
    kernel, stride_t, padding_t, _ = _pool_params(kernel_size, stride, padding, 1, n)
    default = [
        (L - 1) * s + k - 2 * p
        for L, k, s, p in zip(x.shape[2:], kernel, stride_t, padding_t, strict=True)
    ]
    if output_size is None:
        outs = default
    else:
        outs = [int(o) for o in output_size]
        if len(outs) == n + 2:
            outs = outs[2:]
        if len(outs) != n:
            raise ValueError(
                f"{name}: output_size should be a sequence containing {n} or {n + 2} elements, "
                f"got {tuple(output_size)}"
            )
        for d, (o, full, s) in enumerate(zip(outs, default, stride_t, strict=True)):
            if not full - s < o < full + s:
                raise ValueError(
                    f"{name}: invalid output_size {tuple(outs)} (dim {d} must be between "
                    f"{full - s} and {full + s}, exclusive)"
                )
    if min(outs) < 0:
        raise ValueError(
            f"{name}: output_size must contain non-negative spatial dimensions, got {outs}"
        )
    plane = math.prod(outs)
    if plane == 0 or x.shape[0] == 0:
        return _unbatch(np.zeros(x.shape[:2] + tuple(outs), dtype=x.dtype), unbatched)
    flat = (idx[None] if unbatched else idx).reshape(x.shape[0], x.shape[1], -1)
    if flat.min() < 0 or flat.max() >= plane:
        raise ValueError(
            f"{name}: found an invalid max index (indices must lie in [0, {plane}) for "
            f"output size {tuple(outs)})"
        )
    out = np.zeros((x.shape[0], x.shape[1], plane), dtype=x.dtype)
    np.put_along_axis(out, flat, x.reshape(x.shape[0], x.shape[1], -1), axis=2)
    return _unbatch(out.reshape(x.shape[:2] + tuple(outs)), unbatched)


def max_unpool1d(
    input: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    output_size: Sequence[int] | None = None,
) -> np.ndarray:
    """1-D partial inverse of `max_pool1d`; see `max_unpool2d`."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(
    input: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    output_size: Sequence[int] | None = None,
) -> np.ndarray:
    """Partial inverse of `max_pool2d`: a zero plane with each input value written at its
    flat index (``indices`` as `max_pool2d` returns them, int64, the input's shape).

    The output size is ``(L - 1) s - 2 p + k`` per dim (stride defaults to kernel_size), or
    ``output_size`` (``n`` or ``n + 2`` values, each strictly within ``s`` of that default),
    which recovers the sizes a pooling floored away.

    Raises:
        ValueError: an ``output_size`` out of range, indices outside the output plane or of
            another shape. TypeError: indices not int64.
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool3d(
    input: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    output_size: Sequence[int] | None = None,
) -> np.ndarray:
    """3-D partial inverse of `max_pool3d`; see `max_unpool2d`."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3)


def _max_unpool_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    output_size: Sequence[int] | None,
    n: int,
) -> np.ndarray:
    name = f"max_unpool{n}d_backward"
    out = _max_unpool(input, indices, kernel_size, stride, padding, output_size, n)
    g = np.asarray(grad_output)
    _grad_shape_check(name, g, out.shape)
    x = np.asarray(input)
    if x.size == 0:
        return np.zeros(x.shape, dtype=x.dtype)
    if out.size == 0:  # the forward wrote nothing; reading a gradient back needs a cell
        raise ValueError(
            f"{name}: index {np.asarray(indices).flat[0]} is out of bounds for the empty "
            f"output plane {out.shape[x.ndim - n :]}"
        )
    lead = x.shape[: x.ndim - n]
    planes = g.reshape(*lead, math.prod(g.shape[g.ndim - n :]))
    index = np.asarray(indices).reshape(*lead, math.prod(x.shape[x.ndim - n :]))
    picked = np.take_along_axis(planes, index, axis=-1)
    return picked.reshape(x.shape).astype(x.dtype, copy=False)


def max_unpool1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    output_size: Sequence[int] | None = None,
) -> np.ndarray:
    """The VJP of `max_unpool1d`; see `max_unpool2d_backward`."""
    return _max_unpool_backward(
        grad_output, input, indices, kernel_size, stride, padding, output_size, 1
    )


def max_unpool2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    output_size: Sequence[int] | None = None,
) -> np.ndarray:
    """The VJP of `max_unpool2d` (with respect to ``input``; the indices are integers):
    each input value was written at its index, so it reads its gradient back from there,
    $\\bar x[n, c, i] = \\bar y[n, c, \\text{index}[n, c, i]]$ (a gather).

    Raises:
        ValueError: the output plane is empty but the input is not: the forward has nothing
            to check its indices against, the gather finds every index out of bounds (torch
            raises there too).
    """
    return _max_unpool_backward(
        grad_output, input, indices, kernel_size, stride, padding, output_size, 2
    )


def max_unpool3d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    indices: np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    output_size: Sequence[int] | None = None,
) -> np.ndarray:
    """The VJP of `max_unpool3d`; see `max_unpool2d_backward`."""
    return _max_unpool_backward(
        grad_output, input, indices, kernel_size, stride, padding, output_size, 3
    )


def _fractional_intervals(
    samples: np.ndarray, size: int, out: int, pool: int, dtype: np.dtype
) -> np.ndarray:
    """torch's interval sequence (FractionalMaxPool2d.cpp ``generate_intervals``), computed in
    the input's dtype: ``alpha = (L - k) / (out - 1)``, window ``i < out - 1`` starts at
    ``int((i + u) alpha) - int(u alpha)``, the last one at ``L - k``. ``samples (N, C)``."""
    starts = np.full(samples.shape + (out,), size - pool, dtype=np.int64)
    if out > 1:
        alpha = dtype.type(size - pool) / dtype.type(out - 1)
        u = samples.astype(dtype)[..., None]
        i = np.arange(out - 1).astype(dtype)
        starts[..., :-1] = ((i + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
    return starts


def _fractional_max_pool(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    output_size: IntOrTuple | None,
    output_ratio: float | Sequence[float] | None,
    return_indices: bool,
    _random_samples: np.ndarray | None,
    n: int,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    name = f"fractional_max_pool{n}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    x, unbatched = _batched(input, n, name)
    kernel = _ntuple(kernel_size, n, "kernel_size")
    if min(kernel) < 1:
        raise ValueError(f"{name}: kernel size should be greater than zero, got {kernel}")
    sizes = x.shape[2:]
    if output_size is None:
        if isinstance(output_ratio, (int, float)):
            raise TypeError(f"{name}: output_ratio must be a tuple of {n} floats")
        ratios = tuple(output_ratio) * (n if len(output_ratio) == 1 else 1)
        if len(ratios) != n:
            raise ValueError(f"{name}: output_ratio must have {n} values, got {output_ratio!r}")
        outs = tuple(int(L * r) for L, r in zip(sizes, ratios, strict=True))
    else:
        outs = _ntuple(output_size, n, "output_size")
    if _random_samples is None:
        raise ValueError(
            f"{name}: the reference is deterministic: pass _random_samples, an (N, C, {n}) "
            f"array of samples in [0, 1)"
        )
    samples = np.asarray(_random_samples)
    _check_dtypes(name, x, _random_samples=samples)
    if samples.shape != (x.shape[0], x.shape[1], n):
        raise ValueError(
            f"{name}: expected _random_samples of shape {(x.shape[0], x.shape[1], n)}, "
            f"got {samples.shape}"
        )
    for L, o, k in zip(sizes, outs, kernel, strict=True):
        if o + k - 1 > L - (n == 3):  # 3-D is stricter: o + k - 1 < L
            raise ValueError(
                f"{name}: pool size {k} too large relative to input size {L} for output {o}"
            )
    # 2-D: sample 0 drives the width, sample 1 the height; 3-D: samples 0, 1, 2 drive T, H, W.
    order = (1, 0) if n == 2 else (0, 1, 2)
    starts = [
        _fractional_intervals(samples[..., order[d]], L, o, k, x.dtype)
        for d, (L, o, k) in enumerate(zip(sizes, outs, kernel, strict=True))
    ]
    if 0 in outs or x.shape[0] == 0:
        out = np.zeros(x.shape[:2] + outs, dtype=x.dtype)
        index = np.zeros(out.shape, dtype=np.int64)
    else:
        values, flat = _gather_windows(x, starts, kernel)
        lead = values.shape[: 2 + n]
        arg = values.reshape(lead + (-1,)).argmax(axis=-1)[..., None]
        out = np.take_along_axis(values.reshape(lead + (-1,)), arg, axis=-1)[..., 0]
        index = np.take_along_axis(flat.reshape(lead + (-1,)), arg, axis=-1)[..., 0]
    if not return_indices:
        return _unbatch(out, unbatched)
    return _unbatch(out, unbatched), _unbatch(index.astype(np.int64), unbatched)


def fractional_max_pool2d(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    output_size: IntOrTuple | None = None,
    output_ratio: Sequence[float] | None = None,
    return_indices: bool = False,
    _random_samples: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Fractional max pooling (Graham, 2014): max over ``k``-windows at pseudo-random starts.

    Per plane, the window starts along each dim follow torch's interval sequence
    ``int((i + u) alpha) - int(u alpha)``, ``alpha = (L - k) / (L_out - 1)``, the last
    window ending at the input's edge; ``u`` comes from ``_random_samples (N, C, 2)``
    (``[..., 0]`` for the width, ``[..., 1]`` for the height), which torch draws uniformly
    from [0, 1) when omitted and the reference requires. ``L_out`` is ``output_size`` or
    ``int(L * output_ratio)``; ``L_out + k - 1 <= L`` (``< L`` in 3-D). Indices as in
    `max_pool2d`.
    """
    return _fractional_max_pool(
        input, kernel_size, output_size, output_ratio, return_indices, _random_samples, 2
    )


def fractional_max_pool3d(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    output_size: IntOrTuple | None = None,
    output_ratio: Sequence[float] | None = None,
    return_indices: bool = False,
    _random_samples: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """3-D fractional max pooling; see `fractional_max_pool2d`. ``_random_samples`` is
    ``(N, C, 3)``, samples 0, 1, 2 driving depth, height and width."""
    return _fractional_max_pool(
        input, kernel_size, output_size, output_ratio, return_indices, _random_samples, 3
    )


# --- unfold / fold ----------------------------------------------------------------------


def unfold(
    input: np.ndarray,
    kernel_size: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    stride: IntOrTuple = 1,
) -> np.ndarray:
    """im2col: ``(N, C, H, W) -> (N, C kH kW, L)``, one column per sliding block.

    Row ``c kH kW + i kW + j`` of column ``l = y oW + x`` is ``in_p[c, y s + i d, x s + j d]``;
    ``L = oH oW`` with the sizes of `conv_output_size`. A zero batch gives ``(0, C kH kW,
    L)``; zero channels or an empty spatial dim raise.
    """
    x, unbatched = _batched(input, 2, "unfold")
    kernel = _ntuple(kernel_size, 2, "kernel_size")
    stride_t, padding_t, dilation_t = (
        _ntuple(v, 2, name)
        for v, name in ((stride, "stride"), (padding, "padding"), (dilation, "dilation"))
    )
    for L, k, s, p, d in zip(x.shape[2:], kernel, stride_t, padding_t, dilation_t, strict=True):
        conv_output_size(L, k, s, p, d)
    windows, counts = _padded_windows(x, kernel, stride_t, [(p, p) for p in padding_t], dilation_t)
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(
        x.shape[0], x.shape[1] * math.prod(kernel), math.prod(counts)
    )
    return _unbatch(cols, unbatched)


def fold(
    input: np.ndarray,
    output_size: IntOrTuple,
    kernel_size: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    stride: IntOrTuple = 1,
) -> np.ndarray:
    """col2im, the adjoint of `unfold`: ``(N, C kH kW, L) -> (N, C, H, W)``.

    Every column entry is added back at the input position `unfold` read it from; entries
    landing in the padding are dropped, overlapping ones sum.

    Raises:
        ValueError: dim 1 is not divisible by ``kH kW``, ``L`` is not the number of
            blocks, or a non-batch dim is empty.
    """
    cols, unbatched = _batched(input, 1, "fold")
    size = _ntuple(output_size, 2, "output_size")
    kernel = _ntuple(kernel_size, 2, "kernel_size")
    stride_t, padding_t, dilation_t = (
        _ntuple(v, 2, name)
        for v, name in ((stride, "stride"), (padding, "padding"), (dilation, "dilation"))
    )
    counts = tuple(
        conv_output_size(L, k, s, p, d)
        for L, k, s, p, d in zip(size, kernel, stride_t, padding_t, dilation_t, strict=True)
    )
    if cols.shape[1] % math.prod(kernel):
        raise ValueError(
            f"fold: input dim 1 ({cols.shape[1]}) must be divisible by the product of "
            f"kernel_size {kernel}"
        )
    if cols.shape[2] != math.prod(counts):
        raise ValueError(
            f"fold: input dim 2 ({cols.shape[2]}) must equal the number of sliding blocks "
            f"{counts[0]} x {counts[1]} for output_size={size}"
        )
    blocks = cols.reshape(cols.shape[0], cols.shape[1] // math.prod(kernel), *kernel, *counts)
    full = tuple(L + 2 * p for L, p in zip(size, padding_t, strict=True))
    out = _scatter_windows(blocks, kernel, stride_t, dilation_t, full)
    out = out[..., padding_t[0] : padding_t[0] + size[0], padding_t[1] : padding_t[1] + size[1]]
    return _unbatch(np.ascontiguousarray(out), unbatched)


def unfold_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    kernel_size: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    stride: IntOrTuple = 1,
) -> np.ndarray:
    """The VJP of `unfold` is `fold` with the same arguments, back to the input's size:
    $\\langle \\text{unfold}(x), c \\rangle = \\langle x, \\text{fold}(c) \\rangle$, so every
    column entry's gradient returns to the cell it was read from, overlaps adding up."""
    x = np.asarray(input)
    g = np.asarray(grad_output)
    _grad_shape_check("unfold_backward", g, unfold(x, kernel_size, dilation, padding, stride).shape)
    grad = fold(g, x.shape[-2:], kernel_size, dilation, padding, stride)
    return grad.astype(x.dtype, copy=False)


def fold_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    output_size: IntOrTuple,
    kernel_size: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    stride: IntOrTuple = 1,
) -> np.ndarray:
    """The VJP of `fold` is `unfold` with the same arguments: each column entry was added
    at one cell, so it reads that cell's gradient (entries landing in the padding get 0)."""
    x = np.asarray(input)
    g = np.asarray(grad_output)
    out = fold(x, output_size, kernel_size, dilation, padding, stride)
    _grad_shape_check("fold_backward", g, out.shape)
    return unfold(g, kernel_size, dilation, padding, stride).astype(x.dtype, copy=False)


class Unfold:
    """``nn.Unfold(kernel_size, dilation=1, padding=0, stride=1)``: `unfold` as a layer."""

    def __init__(
        self,
        kernel_size: IntOrTuple,
        dilation: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        stride: IntOrTuple = 1,
    ) -> None:
        self.kernel_size, self.dilation, self.padding, self.stride = (
            kernel_size,
            dilation,
            padding,
            stride,
        )

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold:
    """``nn.Fold(output_size, kernel_size, dilation=1, padding=0, stride=1)``: `fold` as a
    layer."""

    def __init__(
        self,
        output_size: IntOrTuple,
        kernel_size: IntOrTuple,
        dilation: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        stride: IntOrTuple = 1,
    ) -> None:
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return fold(
            input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )


# --- interpolation ----------------------------------------------------------------------

InterpolateMode = Literal[
    "nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"
]
_INTERPOLATING = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _pixel_scale(
    in_size: int, out_size: int, align_corners: bool, scale: float | None, dtype: np.dtype
) -> np.floating:
    """torch's ``area_pixel_compute_scale`` in ``dtype``: ``(L - 1)/(out - 1)`` (0 for one
    output) with align_corners; else ``1/scale_factor`` rounded to ``dtype`` when a scale is
    in use, or ``L / out`` divided in ``dtype``."""
    t = dtype.type
    if align_corners:
        return t(in_size - 1) / t(out_size - 1) if out_size > 1 else t(0)
    if scale is not None and scale > 0:
        return t(1.0 / scale)
    return t(in_size) / t(out_size)


def _source_nearest(
    in_size: int, out_size: int, scale: float | None, exact: bool = False, shortcut: bool = False
) -> np.ndarray:
    """Source index of each output, in float32 whatever the input's dtype:
    ``min(floor(o r), L - 1)``, or ``min(floor((o + 1/2) r), L - 1)`` for nearest-exact,
    with ``r`` from `_pixel_scale`. With ``shortcut`` (torch's CPU kernel of 2-D nearest,
    ``nearest_idx``) an unchanged size copies (``o``) and a doubled one halves (``o // 2``),
    whatever the scale factor."""
    if shortcut and out_size == in_size:
        return np.arange(out_size)
    if shortcut and out_size == 2 * in_size:
        return np.arange(out_size) // 2
    r = _pixel_scale(in_size, out_size, False, scale, np.dtype(np.float32))
    dst = np.arange(out_size).astype(np.float32)
    if exact:
        dst = dst + np.float32(0.5)
    return np.minimum(np.floor(dst * r).astype(np.int64), in_size - 1)


def _cubic_coefficients(t: np.ndarray, a: float) -> list[np.ndarray]:
    """Keys' cubic convolution weights of the taps at offsets -1, 0, 1, 2 (torch's
    ``get_cubic_upsample_coefficients``), evaluated in ``t``'s dtype."""
    a = t.dtype.type(a)
    one = t.dtype.type(1)

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + one

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + one), near(t), near(one - t), far(2 * one - t)]


def _interpolation_matrix(
    in_size: int,
    out_size: int,
    mode: str,
    align_corners: bool,
    scale: float | None,
    dtype: np.dtype,
) -> np.ndarray:
    """The ``(out, in)`` matrix of one dim of a linear or cubic resize, weights in ``dtype``.

    Source position ``src = r o`` (align_corners) or ``r (o + 1/2) - 1/2``, clamped at 0
    for linear; ``i = min(floor(src), L - 1)``, ``t = clip(src - i, 0, 1)``. Linear blends
    taps ``i`` and ``min(i + 1, L - 1)`` with ``1 - t, t``; cubic taps ``i - 1 .. i + 2``
    (clamped into the input, so border weights add up) with `_cubic_coefficients` at
    ``A = -0.75``. An unchanged size is a copy (torch's shortcut for linear modes).
    """
    t_ = dtype.type
    rows = np.arange(out_size)
    if out_size == in_size and mode != "bicubic":
        return np.eye(in_size, dtype=dtype)
    r = _pixel_scale(in_size, out_size, align_corners, scale, dtype)
    dst = rows.astype(dtype)
    src = r * dst if align_corners else r * (dst + t_(0.5)) - t_(0.5)
    if mode != "bicubic":
        src = np.maximum(src, t_(0))
    left = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    frac = np.clip(src - left.astype(dtype), t_(0), t_(1)).astype(dtype)
    if mode == "bicubic":
        taps = [(left - 1 + k, w) for k, w in enumerate(_cubic_coefficients(frac, -0.75))]
    else:
        taps = [(left, t_(1) - frac), (left + (left < in_size - 1), frac)]
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    for index, weight in taps:
        np.add.at(matrix, (rows, np.clip(index, 0, in_size - 1)), weight)
    return matrix


def antialias_weights(
    in_size: int,
    out_size: int,
    mode: Literal["bilinear", "bicubic"] = "bilinear",
    align_corners: bool = False,
    scale: float | None = None,
    dtype: type | np.dtype = np.float64,
) -> np.ndarray:
    """The ``(out, in)`` matrix of one dim of an antialiased resize (``antialias=True``).

    Output ``i`` is centred at $c_i = r\\,(i + 1/2)$ in input coordinates ($r$ from the
    sizes or the scale factor as in `interpolate`). The filter (triangle $1 - |x|$ for
    bilinear, Keys' cubic with $a = -0.5$ for bicubic, support $h = 1$ or $2$) is stretched
    by $\\max(r, 1)$ when shrinking (that is the antialiasing), evaluated at the input
    pixel centres $j + 1/2$ within $[c_i - h \\max(r, 1), c_i + h \\max(r, 1)]$, and each row
    is normalized to sum to 1 (which also handles the borders).
    """
    dtype = np.dtype(dtype)
    t_ = dtype.type
    r = _pixel_scale(in_size, out_size, align_corners, scale, dtype)
    half = 1 if mode == "bilinear" else 2
    support = t_(half) * r if r >= 1 else t_(half)
    inverse = t_(1) / r if r >= 1 else t_(1)
    center = r * (np.arange(out_size).astype(dtype) + t_(0.5))
    low = np.maximum((center - support + t_(0.5)).astype(np.int64), 0)
    high = np.minimum((center + support + t_(0.5)).astype(np.int64), in_size)
    high = np.minimum(high, low + 2 * math.ceil(support) + 1)
    j = np.arange(in_size)
    x = np.abs((j - center[:, None] + t_(0.5)) * inverse).astype(dtype)
    if mode == "bilinear":
        weights = np.maximum(t_(1) - x, t_(0))
    else:
        a = t_(-0.5)
        weights = np.where(
            x < 1,
            ((a + 2) * x - (a + 3)) * x * x + 1,
            np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, t_(0)),
        )
    weights = np.where((j >= low[:, None]) & (j < high[:, None]), weights, t_(0)).astype(dtype)
    total = weights.sum(axis=1, keepdims=True)
    return np.where(total != 0, weights / np.where(total != 0, total, 1), weights).astype(dtype)


def interpolate(
    input: np.ndarray,
    size: IntOrTuple | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: InterpolateMode = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> np.ndarray:
    """Resize the spatial dims of ``(N, C, *spatial)`` (1 to 3 of them; no unbatched form).

    The output size is ``size``, or ``floor(L * scale_factor)``. A given ``scale_factor``
    is also used for the coordinates (``r = 1/scale_factor``) unless
    ``recompute_scale_factor`` (then ``r = L / out``, as with ``size``). ``nearest`` reads
    source ``min(floor(o r), L - 1)``, ``nearest-exact`` ``min(floor((o + 1/2) r), L - 1)``,
    both in float32; ``linear``/``bilinear``/``trilinear``/``bicubic`` (1-D/2-D/3-D/2-D
    input) apply `_interpolation_matrix` per dim, in the input's dtype; ``antialias=True``
    (bilinear, bicubic) applies `antialias_weights`; ``area`` is the adaptive average pool.

    Raises:
        ValueError: both or neither of size/scale_factor, a size or scale of the wrong
            length, align_corners with a non-interpolating mode, recompute_scale_factor
            with a size, antialias outside bilinear/bicubic on 4-D input, a mode that does
            not fit the input rank, empty channels or spatial dims, or an output size 0.
        TypeError: a non-integer size, or an interpolating mode on an integer input.
    """
    x = np.asarray(input)
    outs, steps = _interpolate_steps(
        x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias
    )
    if steps is None:
        return _adaptive_avg_pool(x, outs, x.ndim - 2)
    out = x
    for axis, op in steps:
        if op.ndim == 1:  # nearest: the source index of every output
            out = np.take(out, op, axis=axis)
        else:
            out = np.moveaxis(np.moveaxis(out, axis, -1) @ op.T, -1, axis)
    return np.ascontiguousarray(out, dtype=x.dtype)


def _interpolate_steps(
    x: np.ndarray,
    size: IntOrTuple | None,
    scale_factor: float | Sequence[float] | None,
    mode: str,
    align_corners: bool | None,
    recompute_scale_factor: bool | None,
    antialias: bool,
) -> tuple[tuple[int, ...], list[tuple[int, np.ndarray]] | None]:
    """Validate `interpolate`'s arguments; return the output sizes and the per-dim steps
    ``(axis, op)``, ``op`` the source indices (nearest modes) or the ``(out, in)`` matrix
    of that dim (a dim antialiasing keeps is skipped); steps is None for ``area``."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    n = x.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    scales: tuple[float | None, ...]
    if size is not None:
        if isinstance(size, (int, np.integer)):
            outs = (int(size),) * n
        else:
            if len(size) != n:
                raise ValueError(
                    f"interpolate: input and output must have the same number of spatial "
                    f"dimensions, got input {x.shape} and output size {tuple(size)}"
                )
            if not all(isinstance(s, (int, np.integer)) for s in size):
                raise TypeError(f"interpolate: expected integer sizes, got {tuple(size)}")
            outs = tuple(int(s) for s in size)
        scales = (None,) * n
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    elif scale_factor is not None:
        if isinstance(scale_factor, (int, float, np.number)):
            factors = (float(scale_factor),) * n
        else:
            if len(scale_factor) != n:
                raise ValueError(
                    f"interpolate: input and scale_factor must have the same number of "
                    f"spatial dimensions, got input {x.shape} and scale_factor {scale_factor}"
                )
            factors = tuple(float(f) for f in scale_factor)
        outs = tuple(int(L * f) for L, f in zip(x.shape[2:], factors, strict=True))
        recompute = recompute_scale_factor or mode == "area"
        scales = (None,) * n if recompute else factors
    else:
        raise ValueError("either size or scale_factor should be defined")
    if antialias and not (mode in ("bilinear", "bicubic") and x.ndim == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear and bicubic modes and requires a "
            "4-D tensor as input"
        )
    if not 1 <= n <= 3:
        raise ValueError(f"interpolate: only 3D, 4D and 5D input is supported, got {x.ndim}D")
    if mode == "area":
        return outs, None
    if mode in _INTERPOLATING:
        if _INTERPOLATING[mode] != n:
            raise ValueError(
                f"interpolate: got {x.ndim}D input, but {mode} mode needs "
                f"{_INTERPOLATING[mode] + 2}D input"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"interpolate: mode {mode!r} needs a floating input, got {x.dtype}")
    elif mode not in ("nearest", "nearest-exact"):
        raise ValueError(f"interpolate: unknown mode {mode!r}")
    if 0 in x.shape[1:] or min(outs) < 1:
        raise ValueError(
            f"interpolate: input and output sizes should be greater than 0 (only the batch "
            f"may be empty), got input {x.shape} and output size {outs}"
        )
    steps: list[tuple[int, np.ndarray]] = []
    for dim, (L, o, sc) in enumerate(zip(x.shape[2:], outs, scales, strict=True)):
        axis = 2 + dim
        if mode in ("nearest", "nearest-exact"):
            index = _source_nearest(L, o, sc, mode == "nearest-exact", mode == "nearest" and n == 2)
            steps.append((axis, index))
            continue
        if antialias:
            if o == L:
                continue  # torch's separable antialias kernel skips a dim whose size is kept
            matrix = antialias_weights(L, o, mode, bool(align_corners), sc, x.dtype)
        else:
            matrix = _interpolation_matrix(L, o, mode, bool(align_corners), sc, x.dtype)
        steps.append((axis, matrix))
    return outs, steps


def interpolate_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    size: IntOrTuple | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: InterpolateMode = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> np.ndarray:
    """The VJP of `interpolate`. Every mode resizes one spatial dim at a time with an
    ``(out, in)`` matrix $M_d$ (for ``nearest`` and ``nearest-exact`` the 0/1 matrix of the
    source each output reads), so the gradient applies the transposes:

    $$\\bar x = \\bar y \\times_1 M_1^\\top \\cdots \\times_n M_n^\\top,$$

    each input cell collecting the weight it lent to every output (nearest: the sum over
    the outputs that read it). ``area`` is `adaptive_avg_pool2d_backward`.
    """
    x, g = np.asarray(input), np.asarray(grad_output)
    outs, steps = _interpolate_steps(
        x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias
    )
    n = x.ndim - 2
    if steps is None:
        return _adaptive_avg_pool_backward(g, x, outs, n)
    _grad_shape_check("interpolate_backward", g, x.shape[:2] + tuple(outs))
    grad = g.astype(x.dtype, copy=True)
    for axis, op in reversed(steps):
        if op.ndim == 1:  # nearest: a one-hot row per output
            op = (op[:, None] == np.arange(x.shape[axis])).astype(x.dtype)
        grad = _along(grad, axis, op)
    return np.ascontiguousarray(grad, dtype=x.dtype)


class Upsample:
    """``nn.Upsample(size, scale_factor, mode, align_corners, recompute_scale_factor)``:
    `interpolate` with the stored arguments (no antialias option)."""

    def __init__(
        self,
        size: IntOrTuple | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: InterpolateMode = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor: float | tuple[float, ...] | None = tuple(
                float(f) for f in scale_factor
            )
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )


# --- linear layers ----------------------------------------------------------------------


def linear(input: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``y = x W^T + b`` with ``weight (out_features, in_features)`` and ``bias (out_features,)``.

    Any leading batch dims (none for a 1-D input, zero-sized ones too); a 1-D weight
    ``(in_features,)`` gives one output per row, without the feature dim.

    Raises:
        ValueError: ``input.shape[-1] != in_features``.
        TypeError: ``input``, ``weight`` and ``bias`` dtypes differ.
    """
    x, w = np.asarray(input), np.asarray(weight)
    _check_dtypes("linear", x, weight=w, bias=bias)
    if x.ndim == 0 or w.ndim not in (1, 2) or x.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"linear: input features {x.shape[-1:]} don't match weight of shape {w.shape} "
            f"(out_features, in_features)"
        )
    out = x @ w.T
    return out if bias is None else out + np.asarray(bias)


def bilinear(
    input1: np.ndarray, input2: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """``y_k = x_1^T W_k x_2 + b_k`` with ``weight (out, in1, in2)``, over matching leading
    dims of the two inputs.

    Raises:
        ValueError: the inputs' feature sizes don't match ``weight``.
        TypeError: the dtypes differ.
    """
    x1, x2, w = np.asarray(input1), np.asarray(input2), np.asarray(weight)
    _check_dtypes("bilinear", x1, input2=x2, weight=w, bias=bias)
    if w.ndim != 3 or x1.shape[-1] != w.shape[1] or x2.shape[-1] != w.shape[2]:
        raise ValueError(
            f"bilinear: inputs with {x1.shape[-1]} and {x2.shape[-1]} features don't match "
            f"weight of shape {w.shape} (out, in1, in2)"
        )
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(
            f"bilinear: input1 {x1.shape} and input2 {x2.shape} need the same batch dims"
        )
    out = np.einsum("...i,oij,...j->...o", x1, w, x2)
    return out if bias is None else out + np.asarray(bias)


def linear_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The VJP of `linear` (``y = x W^T + b``): ``(grad_input, grad_weight, grad_bias)``,

    $$\\begin{aligned}
    \\bar x &= \\bar y\\, W \\\\
    \\bar W &= \\textstyle\\sum_{\\text{batch}} \\bar y^\\top x \\\\
    \\bar b &= \\textstyle\\sum_{\\text{batch}} \\bar y
    \\end{aligned}$$

    (summed over every leading dim; a 1-D weight gives $\\bar x = \\bar y\\, w$ per row and
    $\\bar w = \\sum \\bar y\\, x$); ``grad_bias`` is None without a bias.
    """
    x, w, g = np.asarray(input), np.asarray(weight), np.asarray(grad_output)
    _grad_shape_check("linear_backward", g, linear(x, w, bias).shape)
    rows = math.prod(x.shape[:-1])
    if w.ndim == 1:  # one output per row, no feature dim
        grad_input = g[..., None] * w
        grad_weight = (g[..., None] * x).reshape(rows, x.shape[-1]).sum(axis=0)
    else:
        grad_input = g @ w
        grad_weight = g.reshape(rows, w.shape[0]).T @ x.reshape(rows, x.shape[-1])
    grad_bias = None if bias is None else sum_to_shape(g, np.shape(bias))
    cast = [None if a is None else np.asarray(a).astype(x.dtype, copy=False)
            for a in (grad_input, grad_weight, grad_bias)]
    return cast[0], cast[1], cast[2]


def bilinear_backward(
    grad_output: np.ndarray,
    input1: np.ndarray,
    input2: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The VJP of `bilinear` (``y_k = x_1^T W_k x_2 + b_k``):
    ``(grad_input1, grad_input2, grad_weight, grad_bias)``,

    $$\\begin{aligned}
    \\bar x_{1,i} &= \\textstyle\\sum_{k, j} \\bar y_k W_{kij}\\, x_{2,j} \\\\
    \\bar x_{2,j} &= \\textstyle\\sum_{k, i} \\bar y_k W_{kij}\\, x_{1,i} \\\\
    \\bar W_{kij} &= \\textstyle\\sum_{\\text{batch}} \\bar y_k\\, x_{1,i}\\, x_{2,j} \\\\
    \\bar b_k &= \\textstyle\\sum_{\\text{batch}} \\bar y_k
    \\end{aligned}$$
    """
    x1, x2, w, g = (np.asarray(a) for a in (input1, input2, weight, grad_output))
    _grad_shape_check("bilinear_backward", g, bilinear(x1, x2, w, bias).shape)
    grad1 = np.einsum("...k,kij,...j->...i", g, w, x2)
    grad2 = np.einsum("...k,kij,...i->...j", g, w, x1)
    rows = math.prod(g.shape[:-1])
    grad_w = np.einsum(
        "bk,bi,bj->kij",
        g.reshape(rows, w.shape[0]),
        x1.reshape(rows, x1.shape[-1]),
        x2.reshape(rows, x2.shape[-1]),
    )
    grad_b = None if bias is None else sum_to_shape(g, np.shape(bias))
    cast = [None if a is None else np.asarray(a).astype(x1.dtype, copy=False)
            for a in (grad1, grad2, grad_w, grad_b)]
    return cast[0], cast[1], cast[2], cast[3]


def default_init_bounds(fan_in: int) -> tuple[float, float]:
    """The interval of Linear's and Conv's default init, for weight and bias alike.

    ``kaiming_uniform_(a=sqrt(5))`` gives ``U(-b, b)`` with ``b = sqrt(6 / ((1 + 5) fan_in))
    = 1 / sqrt(fan_in)``; the bias uses the same bound. For Linear ``fan_in = in_features``;
    for Conv ``fan_in = (in_channels / groups) * prod(kernel_size)``.

    Raises:
        ValueError: ``fan_in < 1``.
    """
    if fan_in < 1:
        raise ValueError(f"fan_in must be positive, got fan_in={fan_in}")
    bound = 1.0 / math.sqrt(fan_in)
    return -bound, bound


class Linear:
    """``nn.Linear(in_features, out_features, bias=True)``: weight ``(out, in)`` and bias
    ``(out,)`` drawn from ``U(-1/sqrt(in), 1/sqrt(in))`` (`default_init_bounds`) with the
    NumPy generator ``rng``; calling it is `linear`."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: type | np.dtype = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.in_features, self.out_features = in_features, out_features
        self._init(bias, np.dtype(dtype), rng or np.random.default_rng())

    def _init(self, bias: bool, dtype: np.dtype, rng: np.random.Generator) -> None:
        low, high = default_init_bounds(self.in_features)
        shape = (self.out_features, self.in_features)
        self.weight: np.ndarray | None = rng.uniform(low, high, shape).astype(dtype)
        self.bias = rng.uniform(low, high, self.out_features).astype(dtype) if bias else None

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return linear(input, self.weight, self.bias)


class LazyLinear(Linear):
    """``nn.LazyLinear(out_features, bias=True)``: a `Linear` whose ``in_features`` (0 until
    then) is fixed by the last dim of the first input.

    The first call creates weight ``(out_features, in)`` and bias with Linear's default
    init and turns the layer into a `Linear` (torch's ``cls_to_become``); later inputs with
    another feature size then raise like any Linear.
    """

    def __init__(
        self,
        out_features: int,
        bias: bool = True,
        dtype: type | np.dtype = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.in_features, self.out_features = 0, out_features
        self.weight, self.bias = None, None
        self._pending = (bias, np.dtype(dtype), rng or np.random.default_rng())

    def initialize_parameters(self, input: np.ndarray) -> None:
        """Fix ``in_features = input.shape[-1]`` and initialize the parameters."""
        x = np.asarray(input)
        if x.ndim == 0:
            raise ValueError("LazyLinear: a 0-d input has no feature dim to infer from")
        self.in_features = int(x.shape[-1])
        self._init(*self._pending)
        del self._pending
        self.__class__ = Linear

    def __call__(self, input: np.ndarray) -> np.ndarray:
        self.initialize_parameters(input)
        return linear(input, self.weight, self.bias)


class Identity:
    """``nn.Identity(*args, **kwargs)``: a placeholder layer; its arguments are ignored and
    calling it returns the input itself (the same object, not a copy)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return input


class Flatten:
    """``nn.Flatten(start_dim=1, end_dim=-1)``: merge dims ``start_dim .. end_dim`` into one,
    ``(N, C, H, W) -> (N, C H W)`` by default (``torch.flatten`` starts at dim 0 instead).

    A 0-d input counts as 1-D of size 1. Raises ``IndexError`` for a dim out of range and
    ``ValueError`` when ``start_dim`` comes after ``end_dim``.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def __call__(self, input: np.ndarray) -> np.ndarray:
        x = np.asarray(input)
        ndim = max(x.ndim, 1)
        start, end = self.start_dim, self.end_dim
        for dim in (start, end):
            if not -ndim <= dim < ndim:
                raise IndexError(
                    f"Flatten: dimension out of range (expected to be in range of "
                    f"[{-ndim}, {ndim - 1}], but got {dim})"
                )
        start, end = start % ndim, end % ndim
        if start > end:
            raise ValueError("Flatten: start_dim cannot come after end_dim")
        if x.ndim == 0:
            return x.reshape(1)
        merged = math.prod(x.shape[start : end + 1])
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1 :])
