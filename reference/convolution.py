"""Convolution, pooling, padding and linear layers from first principles (NumPy only).

Every sliding-window op (convolution, pooling, unfold) goes through one helper pair:
``_window_count`` holds the output-size formula and ``_windows`` views the padded input as
``(..., *out, *kernel)`` with stride tricks. Inputs are ``(N, C, *spatial)`` arrays, or
``(C, *spatial)`` unbatched, exactly as in ``torch.nn.functional``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

IntOrTuple = int | Sequence[int]

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "bilinear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_output_size",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose_output_size",
    "default_init_bounds",
    "fold",
    "interpolate",
    "linear",
    "lp_pool2d",
    "max_pool1d",
    "max_pool2d",
    "pad",
    "pool_output_size",
    "unfold",
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


def _batched(input: np.ndarray, n: int, name: str) -> tuple[np.ndarray, bool]:
    """``input`` as ``(N, C, *spatial)`` with ``n`` spatial dims; True if it was unbatched."""
    x = np.asarray(input)
    if x.ndim == n + 1:
        return x[None], True
    if x.ndim != n + 2:
        raise ValueError(
            f"{name}: expected {n + 1}D (unbatched) or {n + 2}D (batched) input, "
            f"got shape {x.shape}"
        )
    return x, False


def _unbatch(x: np.ndarray, unbatched: bool) -> np.ndarray:
    return x[0] if unbatched else x


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
    _check_window_args(kernel_size, stride, padding, dilation)
    if not (0 <= output_padding < max(stride, dilation)):
        raise ValueError(
            f"output_padding must be smaller than either stride or dilation, got "
            f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
        )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
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


def pad(
    input: np.ndarray,
    pad: Sequence[int],
    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant",
    value: float | None = None,
) -> np.ndarray:
    """Pad the last ``len(pad) // 2`` dims; ``pad = (left_last, right_last, left_prev, ...)``.

    ``constant`` fills with ``value`` (0 by default; negative widths crop); ``reflect``
    mirrors without repeating the edge (width < size); ``replicate`` repeats the edge;
    ``circular`` wraps around (width <= size). The non-constant modes pad 1, 2 or 3 dims of
    an input with one or two more dims (widths non-negative here).

    Raises:
        ValueError: odd or too long ``pad``, an unsupported mode/shape combination, or a
            width too large for the mode.
    """
    x = np.asarray(input)
    if len(pad) % 2:
        raise ValueError(f"padding length must be divisible by 2, got pad={tuple(pad)}")
    n = len(pad) // 2
    if n > x.ndim:
        raise ValueError(f"padding length {len(pad)} is too large for a {x.ndim}D input")
    widths = [(0, 0)] * (x.ndim - n) + [
        (int(pad[2 * i]), int(pad[2 * i + 1])) for i in reversed(range(n))
    ]
    if mode == "constant":
        fill = 0 if value is None else value
        grown = np.pad(x, [(max(a, 0), max(b, 0)) for a, b in widths], constant_values=fill)
        crop = tuple(
            slice(max(-a, 0), grown.shape[i] - max(-b, 0)) for i, (a, b) in enumerate(widths)
        )
        return grown[crop]
    if mode not in _NUMPY_MODES:
        raise ValueError(f"unknown padding mode {mode!r}")
    if not 1 <= n <= 3 or x.ndim not in (n + 1, n + 2):
        raise ValueError(
            f"padding size {len(pad)} is not supported for a {x.ndim}D input in mode "
            f"{mode!r}: pad 1, 2 or 3 trailing dims of an input with 1 or 2 more dims"
        )
    for dim, (a, b) in enumerate(widths[x.ndim - n :], start=x.ndim - n):
        size = x.shape[dim]
        if min(a, b) < 0:
            raise ValueError(f"negative padding {(a, b)} is only supported in constant mode")
        if mode == "reflect" and max(a, b) >= size:
            raise ValueError(
                f"reflect padding {(a, b)} must be less than the input size {size} of dim {dim}"
            )
        if mode == "circular" and max(a, b) > size:
            raise ValueError(
                f"circular padding {(a, b)} must be at most the input size {size} of dim {dim}"
            )
        if mode == "replicate" and size == 0 and max(a, b) > 0:
            raise ValueError(f"replicate padding needs a non-empty dim {dim}")
    return np.pad(x, widths, mode=_NUMPY_MODES[mode])


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
    x, unbatched = _batched(input, n, f"conv{n}d")
    w = np.asarray(weight)
    if w.ndim != n + 2:
        raise ValueError(f"conv{n}d: weight must be {n + 2}D, got shape {w.shape}")
    kernel = w.shape[2:]
    stride_t = _ntuple(stride, n, "stride")
    dilation_t = _ntuple(dilation, n, "dilation")
    pads = _conv_padding(padding, kernel, stride_t, dilation_t)
    out_channels, in_per_group = w.shape[:2]
    if groups < 1 or out_channels % groups:
        raise ValueError(f"groups={groups} must be positive and divide out_channels={out_channels}")
    if x.shape[1] != in_per_group * groups:
        raise ValueError(
            f"conv{n}d: groups={groups} with weight of shape {w.shape} expects "
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
    # out[n, g, o, *pos] = sum_{c, *j} windows[n, g, c, *pos, *j] * w[g, o, c, *j]
    windows = windows.reshape(x.shape[0], groups, in_per_group, *windows.shape[2:])
    w_grouped = w.reshape(groups, out_channels // groups, *w.shape[1:])
    pos, off = "xyz"[:n], "ijk"[:n]
    out = np.einsum(f"ngc{pos}{off},goc{off}->ngo{pos}", windows, w_grouped, optimize=True).reshape(
        x.shape[0], out_channels, *counts
    )
    if bias is not None:
        out = out + np.asarray(bias).reshape((-1,) + (1,) * n)
    return _unbatch(np.ascontiguousarray(out), unbatched)


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
    the odd extra on the right).

    Raises:
        ValueError: channels don't match ``weight`` and ``groups``, bad stride/padding/
            dilation, or an output size below 1.
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
    x, unbatched = _batched(input, n, f"conv_transpose{n}d")
    w = np.asarray(weight)
    if w.ndim != n + 2:
        raise ValueError(f"conv_transpose{n}d: weight must be {n + 2}D, got shape {w.shape}")
    kernel = w.shape[2:]
    stride_t = _ntuple(stride, n, "stride")
    padding_t = _ntuple(padding, n, "padding")
    output_padding_t = _ntuple(output_padding, n, "output_padding")
    dilation_t = _ntuple(dilation, n, "dilation")
    in_channels, per_group = w.shape[:2]
    if groups < 1 or in_channels % groups or x.shape[1] != in_channels:
        raise ValueError(
            f"conv_transpose{n}d: weight of shape {w.shape} with groups={groups} expects "
            f"{in_channels} input channels divisible by groups, got {x.shape[1]}"
        )
    sizes = x.shape[2:]
    outs = tuple(
        conv_transpose_output_size(L, k, s, p, op, d)
        for L, k, s, p, op, d in zip(
            sizes, kernel, stride_t, padding_t, output_padding_t, dilation_t, strict=False
        )
    )
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
    return _unbatch(np.ascontiguousarray(out), unbatched)


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
        ValueError: channel/group mismatch, ``output_padding >= max(stride, dilation)`` or
            an output size below 1.
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2
    )


# --- pooling ----------------------------------------------------------------------------


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
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
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
    windows, counts = _pool_windows(x, kernel, stride_t, padding_t, dilation_t, ceil_mode, -np.inf)
    kernel_axes = tuple(range(2 + n, 2 + 2 * n))
    values = _unbatch(windows.max(axis=kernel_axes), unbatched)
    if not return_indices:
        return values
    # Index of the first maximum, in the flattened spatial plane of the unpadded input.
    flat = windows.reshape(windows.shape[: 2 + n] + (-1,))
    offsets = np.unravel_index(flat.argmax(axis=-1), kernel)
    index = np.zeros(flat.shape[:-1], dtype=np.int64)
    for dim in range(n):
        shape = [1] * n
        shape[dim] = counts[dim]
        start = np.arange(counts[dim]).reshape(shape) * stride_t[dim] - padding_t[dim]
        index = index * x.shape[2 + dim] + start + offsets[dim] * dilation_t[dim]
    return values, _unbatch(index, unbatched)


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
    window's first maximum (row-major scan).
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


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
    windows, counts = _pool_windows(x, kernel, stride_t, padding_t, ones, ceil_mode, 0.0)
    sums = windows.sum(axis=tuple(range(2 + n, 2 + 2 * n)))
    if divisor_override is not None:
        divisor: np.ndarray | int = divisor_override
    else:
        # Per dim: the window [start, end) clipped to the padded input, or to the input.
        divisor = np.ones((), dtype=np.int64)
        for L, k, s, p, c in zip(x.shape[2:], kernel, stride_t, padding_t, counts, strict=True):
            start = np.arange(c) * s - p
            end = np.minimum(start + k, L + p)
            if not count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, L)
            divisor = np.multiply.outer(divisor, end - start)
    return _unbatch((sums / divisor).astype(x.dtype, copy=False), unbatched)


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


def _adaptive_bins(size: int, out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin ``i`` covers ``[floor(i L / out), ceil((i + 1) L / out))``.

    Returns indices ``(out, longest)`` clipped into range, their validity mask, the lengths.
    """
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    longest = int((end - start).max())
    index = start[:, None] + np.arange(longest)
    valid = index < end[:, None]
    return np.minimum(index, size - 1), valid, end - start


def _adaptive_gather(
    input: np.ndarray, output_size: int | Sequence[int | None], name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, tuple[int, int]]:
    x, unbatched = _batched(input, 2, name)
    if 0 in x.shape[1:]:
        raise ValueError(
            f"{name}: input must have non-zero channel and spatial sizes, got {x.shape}"
        )
    sizes = x.shape[2:]
    outs = tuple(
        L if o is None else int(o)
        for L, o in zip(
            sizes, (output_size,) * 2 if isinstance(output_size, int) else output_size, strict=True
        )
    )
    if min(outs) < 1:
        raise ValueError(f"{name}: output_size must be positive, got {output_size!r}")
    (hi, hv, hl), (wi, wv, wl) = (_adaptive_bins(L, o) for L, o in zip(sizes, outs, strict=True))
    gathered = x[..., hi[:, None, :, None], wi[None, :, None, :]]  # (N, C, oH, oW, lH, lW)
    valid = hv[:, None, :, None] & wv[None, :, None, :]
    flat_index = hi[:, None, :, None] * sizes[1] + wi[None, :, None, :]
    return gathered, valid, flat_index, np.multiply.outer(hl, wl), unbatched, outs


def adaptive_avg_pool2d(input: np.ndarray, output_size: int | Sequence[int | None]) -> np.ndarray:
    """Average over adaptive bins: output ``(i, j)`` averages rows
    ``[floor(i H / oH), ceil((i+1) H / oH))`` and the analogous columns (``None`` keeps a size).
    """
    gathered, valid, _, area, unbatched, _ = _adaptive_gather(
        input, output_size, "adaptive_avg_pool2d"
    )
    sums = np.where(valid, gathered, 0).sum(axis=(-2, -1))
    return _unbatch((sums / area).astype(gathered.dtype, copy=False), unbatched)


def adaptive_max_pool2d(
    input: np.ndarray, output_size: int | Sequence[int | None], return_indices: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Maximum over the adaptive bins of `adaptive_avg_pool2d`; indices as in `max_pool2d`."""
    gathered, valid, flat_index, _, unbatched, _ = _adaptive_gather(
        input, output_size, "adaptive_max_pool2d"
    )
    masked = np.where(valid, gathered, -np.inf).astype(gathered.dtype, copy=False)
    flat = masked.reshape(masked.shape[:4] + (-1,))
    arg = flat.argmax(axis=-1)
    values = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    if not return_indices:
        return _unbatch(values, unbatched)
    oh, ow = masked.shape[2:4]
    index = flat_index.reshape(oh, ow, -1)[np.arange(oh)[:, None], np.arange(ow), arg]
    return _unbatch(values, unbatched), _unbatch(index.astype(np.int64), unbatched)


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
    """
    kh, kw = _ntuple(kernel_size, 2, "kernel_size")
    x = np.asarray(input)
    with np.errstate(invalid="ignore"):
        mean = avg_pool2d(x**norm_type, kernel_size, stride, 0, ceil_mode)
        summed = np.sign(mean) * np.maximum(np.abs(mean), 0) * (kw * kh)
        return (summed ** (1.0 / norm_type)).astype(x.dtype, copy=False)


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
    ``L = oH oW`` with the sizes of `conv_output_size`.
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
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(x.shape[0], -1, math.prod(counts))
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
        ValueError: dim 1 is not divisible by ``kH kW`` or ``L`` is not the number of blocks.
    """
    cols = np.asarray(input)
    unbatched = cols.ndim == 2
    if unbatched:
        cols = cols[None]
    if cols.ndim != 3:
        raise ValueError(f"fold: expected 2D or 3D input, got shape {cols.shape}")
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
    blocks = cols.reshape(cols.shape[0], -1, *kernel, *counts)
    full = tuple(L + 2 * p for L, p in zip(size, padding_t, strict=True))
    out = _scatter_windows(blocks, kernel, stride_t, dilation_t, full)
    out = out[..., padding_t[0] : padding_t[0] + size[0], padding_t[1] : padding_t[1] + size[1]]
    return _unbatch(np.ascontiguousarray(out), unbatched)


# --- interpolation ----------------------------------------------------------------------


def _source_nearest(in_size: int, out_size: int, scale: float | None) -> np.ndarray:
    """``min(floor(o * r), L - 1)`` in float32, ``r = 1/scale_factor`` or ``L / out``."""
    dst = np.arange(out_size)
    if out_size == in_size:
        return dst
    if out_size == 2 * in_size and scale is None:
        return dst // 2
    ratio = np.float32(1.0 / scale) if scale else np.float32(in_size) / np.float32(out_size)
    return np.minimum(np.floor(dst.astype(np.float32) * ratio).astype(np.int64), in_size - 1)


def _source_linear(
    in_size: int, out_size: int, scale: float | None, align_corners: bool, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left/right source indices and the right weight of each output position.

    align_corners: ``src = o (L - 1)/(out - 1)``; else ``src = max((o + 1/2) r - 1/2, 0)``.
    """
    dst = np.arange(out_size, dtype=dtype)
    if align_corners:
        ratio = dtype.type((in_size - 1) / (out_size - 1)) if out_size > 1 else dtype.type(0)
        src = dst * ratio
    else:
        ratio = dtype.type(1.0 / scale) if scale else dtype.type(in_size / out_size)
        src = np.maximum((dst + dtype.type(0.5)) * ratio - dtype.type(0.5), 0)
    left = src.astype(np.int64)
    right = np.minimum(left + 1, in_size - 1)
    lam = np.clip(src - left, 0, 1).astype(dtype)
    return left, right, lam


def interpolate(
    input: np.ndarray,
    size: IntOrTuple | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: Literal["nearest", "bilinear"] = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> np.ndarray:
    """Resize the spatial dims of ``(N, C, *spatial)`` with ``mode`` nearest (1-D/2-D) or
    bilinear (2-D).

    The output size is ``size`` or ``floor(L * scale_factor)``. Nearest takes
    ``src = min(floor(o * r), L - 1)``; bilinear blends the two neighbours of ``src`` with
    weights ``1 - lambda, lambda`` per dim (see `_source_linear`). A given ``scale_factor``
    sets ``r = 1/scale_factor`` unless ``recompute_scale_factor``; else ``r = L / out``.

    Raises:
        ValueError: both or neither of size/scale_factor, align_corners with nearest, an
            unsupported mode or input rank.
    """
    x = np.asarray(input)
    n = x.ndim - 2
    if mode not in ("nearest", "bilinear") or antialias:
        raise ValueError(f"interpolate: mode {mode!r} (antialias={antialias}) is not supported")
    if mode == "bilinear" and n != 2 or mode == "nearest" and n not in (1, 2):
        raise ValueError(f"interpolate: mode {mode!r} does not support a {x.ndim}D input")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        outs, scales = _ntuple(size, n, "size"), (None,) * n
    else:
        factors = (
            (float(scale_factor),) * n
            if isinstance(scale_factor, (int, float))
            else tuple(float(f) for f in scale_factor)
        )
        outs = tuple(math.floor(L * f) for L, f in zip(x.shape[2:], factors, strict=True))
        scales = (None,) * n if recompute_scale_factor else factors
    if min(outs) < 1:
        raise ValueError(f"interpolate: output size {outs} must be positive")
    out = x
    for dim, (L, o, sc) in enumerate(zip(x.shape[2:], outs, scales, strict=True)):
        axis = 2 + dim
        if mode == "nearest":
            out = np.take(out, _source_nearest(L, o, sc), axis=axis)
        else:
            left, right, lam = _source_linear(L, o, sc, bool(align_corners), x.dtype)
            shape = [1] * x.ndim
            shape[axis] = o
            lam = lam.reshape(shape)
            out = np.take(out, left, axis=axis) * (1 - lam) + np.take(out, right, axis=axis) * lam
    return out


# --- linear layers ----------------------------------------------------------------------


def linear(input: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``y = x W^T + b`` with ``weight (out_features, in_features)`` and ``bias (out_features,)``.

    Raises:
        ValueError: ``input.shape[-1] != in_features``.
    """
    x, w = np.asarray(input), np.asarray(weight)
    if x.shape[-1:] != w.shape[1:]:
        raise ValueError(
            f"linear: input features {x.shape[-1:]} don't match weight of shape {w.shape} "
            f"(out_features, in_features)"
        )
    out = x @ w.T
    return out if bias is None else out + np.asarray(bias)


def bilinear(
    input1: np.ndarray, input2: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """``y_k = x_1^T W_k x_2 + b_k`` with ``weight (out, in1, in2)``.

    Raises:
        ValueError: the inputs' feature sizes don't match ``weight``.
    """
    x1, x2, w = np.asarray(input1), np.asarray(input2), np.asarray(weight)
    if w.ndim != 3 or x1.shape[-1] != w.shape[1] or x2.shape[-1] != w.shape[2]:
        raise ValueError(
            f"bilinear: inputs with {x1.shape[-1]} and {x2.shape[-1]} features don't match "
            f"weight of shape {w.shape} (out, in1, in2)"
        )
    out = np.einsum("...i,oij,...j->...o", x1, w, x2)
    return out if bias is None else out + np.asarray(bias)


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
