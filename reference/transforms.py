"""Image transforms from first principles: what torchvision's ``ToTensor``, ``Normalize``,
``Resize``, ``CenterCrop``, ``Compose`` and ``utils.make_grid`` compute, in NumPy (PIL only
to read an image's pixels).

Images after ``to_tensor`` are CHW arrays (channels first); a batch is ``(N, C, H, W)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from reference.convolution import antialias_weights

# PIL modes whose pixels are not bytes: ToTensor keeps them as integers/floats, unscaled.
# I;16 is unsigned 16-bit in PIL but read as *signed* int16, so values above 32767 wrap.
_MODE_DTYPES: dict[str, type] = {"I": np.int32, "I;16": np.int16, "F": np.float32}


def to_tensor(pic: Image.Image | np.ndarray) -> np.ndarray:
    """Convert a PIL image or an HWC array to a CHW array, as ``transforms.ToTensor``.

    uint8 data (PIL modes L, RGB, RGBA, P, ..., or a uint8 array) becomes float32 in [0, 1]:
    $y = x / 255$. Mode ``1`` (bilevel) is first scaled by 255, so it also lands on {0, 1}.
    Modes ``I`` (int32), ``I;16`` (read as int16, so 40000 wraps to -25536) and ``F``
    (float32), and arrays of any other dtype, keep their values and dtype.

    Args:
        pic: a PIL image, or an ``(H, W)`` / ``(H, W, C)`` array.

    Returns:
        The ``(C, H, W)`` array.
    """
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        hwc = pic[:, :, None] if pic.ndim == 2 else pic
    elif isinstance(pic, Image.Image):
        dtype = _MODE_DTYPES.get(pic.mode, np.uint8)
        hwc = np.asarray(pic).astype(dtype)
        if pic.mode == "1":
            hwc = hwc * np.uint8(255)
        hwc = hwc.reshape(pic.height, pic.width, len(pic.getbands()))
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    chw = np.ascontiguousarray(hwc.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        return chw.astype(np.float32) / np.float32(255)
    return chw


def normalize(
    tensor: np.ndarray, mean: Sequence[float], std: Sequence[float], inplace: bool = False
) -> np.ndarray:
    """Per-channel standardization, as ``transforms.Normalize``:
    $y_c = (x_c - \\mathrm{mean}_c) / \\mathrm{std}_c$ on a ``(..., C, H, W)`` float array.

    ``mean`` and ``std`` are first cast to the array's dtype (so float32 input is computed in
    float32); a zero in ``std`` raises ``ValueError``.
    """
    if not np.issubdtype(tensor.dtype, np.floating):
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(
            f"Expected tensor to be a tensor image of size (..., C, H, W). Got {tensor.shape}."
        )
    mean_c = np.asarray(mean, dtype=tensor.dtype).reshape(-1, 1, 1)
    std_c = np.asarray(std, dtype=tensor.dtype).reshape(-1, 1, 1)
    if np.any(std_c == 0):
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}")
    out = tensor if inplace else tensor.copy()
    out -= mean_c
    out /= std_c
    return out


def resize_output_size(
    h: int, w: int, size: int | Sequence[int], max_size: int | None = None
) -> tuple[int, int]:
    """The ``(height, width)`` that ``transforms.Resize(size, max_size=max_size)`` produces.

    A pair ``size`` is ``(h, w)`` as given. An int (or a 1-element sequence) sets the shorter
    edge to ``size`` and the longer to $\\lfloor \\mathrm{size} \\cdot \\mathrm{long} /
    \\mathrm{short} \\rfloor$ (a square counts as ``w`` being the shorter). With ``max_size``,
    a longer edge above it is set to ``max_size`` and the shorter one to
    $\\lfloor \\mathrm{max\\_size} \\cdot \\mathrm{short'} / \\mathrm{long'} \\rfloor$;
    ``max_size <= size`` raises ``ValueError``.
    """
    if isinstance(size, int):
        size = [size]
    if len(size) == 2:
        return int(size[0]), int(size[1])
    if len(size) != 1:
        raise ValueError(f"size must be an int or a sequence of 1 or 2 ints, got {size}")
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size[0], size[0] * long // short
    if max_size is not None:
        if max_size <= size[0]:
            raise ValueError(
                f"max_size = {max_size} must be strictly greater than the requested "
                f"size for the smaller edge size = {size}"
            )
        if new_long > max_size:
            new_short, new_long = max_size * new_short // new_long, max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def _bilinear_weights(in_size: int, out_size: int) -> np.ndarray:
    """The ``(out_size, in_size)`` matrix of antialiased bilinear (triangle filter) weights:
    `reference.convolution.antialias_weights`, the weights of
    ``F.interpolate(mode="bilinear", antialias=True)``, which torchvision's tensor resize calls.

    Output pixel $i$ is centred at $c_i = s (i + 1/2)$ in input coordinates, $s =$ in/out.
    The triangle $\\max(0, 1 - |t|)$ is stretched by $\\max(s, 1)$ when shrinking (that is
    the antialiasing), weights are taken at input pixel centres $j + 1/2$, and each row is
    normalized to sum to 1 (which also clamps at the borders).
    """
    return antialias_weights(in_size, out_size, "bilinear", dtype=np.float64)


def resize(
    img: np.ndarray,
    size: int | Sequence[int],
    interpolation: str = "bilinear",
    max_size: int | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Bilinear resize of a ``(..., H, W)`` float array with antialiasing, as
    ``transforms.Resize(size, antialias=True)`` on a tensor (only that interpolation).

    The output size follows
    [`resize_output_size`][reference.transforms.resize_output_size]. The resize is separable:
    $Y = W_h\\, X\\, W_w^{\\top}$ with the weights of `_bilinear_weights` per axis. PIL
    images resized by torchvision use the same filter in fixed point with a uint8 result,
    so they agree with this to about one grey level.
    """
    if interpolation != "bilinear" or not antialias:
        raise ValueError("the reference implements bilinear resizing with antialias=True only")
    h, w = img.shape[-2:]
    out_h, out_w = resize_output_size(h, w, size, max_size)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output size must be at least 1, got {(out_h, out_w)}")
    if (out_h, out_w) == (h, w):
        return img
    wh = _bilinear_weights(h, out_h).astype(img.dtype)
    ww = _bilinear_weights(w, out_w).astype(img.dtype)
    return np.einsum("ih,...hw,jw->...ij", wh, img, ww)


def center_crop(img: np.ndarray, output_size: int | Sequence[int]) -> np.ndarray:
    """The central ``(ch, cw)`` window of a ``(..., H, W)`` array, as ``transforms.CenterCrop``.

    The window starts at ``top = round((H - ch) / 2)``, ``left = round((W - cw) / 2)``, with
    Python's round-half-to-even (so H=5, ch=2 starts at row 2, H=7, ch=2 also at row 2). A
    crop larger than the image first zero-pads it by ``(ch - H) // 2`` on top and
    ``(ch - H + 1) // 2`` below (likewise left/right).
    """
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    elif len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    ch, cw = output_size
    h, w = img.shape[-2:]
    pad_h = ((ch - h) // 2, (ch - h + 1) // 2) if ch > h else (0, 0)
    pad_w = ((cw - w) // 2, (cw - w + 1) // 2) if cw > w else (0, 0)
    if pad_h != (0, 0) or pad_w != (0, 0):
        img = np.pad(img, [(0, 0)] * (img.ndim - 2) + [pad_h, pad_w])
        h, w = img.shape[-2:]
    top = round((h - ch) / 2.0)
    left = round((w - cw) / 2.0)
    return img[..., top : top + ch, left : left + cw]


def compose(transforms: Sequence[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """Chain transforms left to right, as ``transforms.Compose``:
    ``compose([f, g])(x) == g(f(x))``."""
    transforms = list(transforms)

    def composed(x: Any) -> Any:
        for t in transforms:
            x = t(x)
        return x

    return composed


def convert_rgb(rgba: np.ndarray) -> np.ndarray:
    """RGBA to RGB as PIL's ``Image.convert("RGB")`` does it: the alpha channel is dropped,
    the colour values are kept as they are (no blending onto a background).

    Args:
        rgba: an ``(H, W, 4)`` array.
    """
    if rgba.ndim != 3 or rgba.shape[-1] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA array, got shape {rgba.shape}")
    return rgba[..., :3].copy()


def make_grid(
    tensor: np.ndarray | Sequence[np.ndarray],
    nrow: int = 8,
    padding: int = 2,
    pad_value: float = 0.0,
) -> np.ndarray:
    """Tile a batch of images into one image, as ``torchvision.utils.make_grid`` (without
    its ``normalize`` option).

    A ``(B, C, H, W)`` batch (or list of ``(C, H, W)``) with ``C = 1`` is repeated to 3
    channels. ``xmaps = min(nrow, B)`` images per row, ``ymaps = ceil(B / xmaps)`` rows; the
    grid is ``(C, ymaps (H + p) + p, xmaps (W + p) + p)`` filled with ``pad_value``, image
    ``k`` at row ``k // xmaps``, column ``k % xmaps``. A batch of one image returns that image
    (``(C, H, W)``) with no padding.
    """
    batch = np.stack(tensor) if not isinstance(tensor, np.ndarray) else tensor
    if batch.ndim == 2:
        batch = batch[None]
    if batch.ndim == 3:
        batch = batch[None]
    if batch.shape[1] == 1:
        batch = np.concatenate([batch] * 3, axis=1)
    if batch.shape[0] == 1:
        return batch[0]
    n, c, h, w = batch.shape
    xmaps = min(nrow, n)
    ymaps = math.ceil(n / xmaps)
    # Each cell is an image with `padding` rows/cols of pad_value above and to its left.
    cells = np.full((ymaps * xmaps, c, h + padding, w + padding), pad_value, dtype=batch.dtype)
    cells[:n, :, padding:, padding:] = batch
    grid = cells.reshape(ymaps, xmaps, c, h + padding, w + padding).transpose(2, 0, 3, 1, 4)
    grid = grid.reshape(c, ymaps * (h + padding), xmaps * (w + padding))
    return np.pad(grid, [(0, 0), (0, padding), (0, padding)], constant_values=pad_value)
