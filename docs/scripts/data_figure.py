"""Draw a grid of generated samples through the notes' transform pipeline.

Writes ``docs/assets/figures/data_transforms.png``: eight RGBA images drawn here (no
downloads), then each stage of ``convert("RGB") -> Resize(32) -> CenterCrop(32) -> ToTensor
-> Normalize(0.5, 0.5)``, every row tiled with ``make_grid`` (all from ``reference``).
Run from the repository root: ``python docs/scripts/data_figure.py``.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from reference.transforms import (  # noqa: E402
    center_crop,
    compose,
    convert_rgb,
    make_grid,
    normalize,
    resize,
    to_tensor,
)

OUT = ROOT / "docs" / "assets" / "figures" / "data_transforms.png"
H, W, N = 40, 56, 8


def sample(k: int) -> Image.Image:
    """A 40 x 56 RGBA image: a colour gradient, one shape, and alpha fading to the right."""
    rng = np.random.default_rng(k)
    y, x = np.mgrid[0:H, 0:W]
    base = rng.integers(40, 200, 3)
    rgb = np.clip(base + 60 * np.stack([x / W, y / H, 1 - x / W], -1), 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb).convert("RGBA")
    draw = ImageDraw.Draw(image)
    colour = tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,)
    cx, cy, r = W // 2 + int(rng.integers(-8, 9)), H // 2, int(rng.integers(8, 15))
    [draw.ellipse, draw.rectangle, draw.regular_polygon][k % 3](
        *(((cx, cy, r), 3 + k % 4) if k % 3 == 2 else ([cx - r, cy - r, cx + r, cy + r],)),
        fill=colour,
    )
    alpha = np.clip(255 - 220 * x / W, 0, 255).astype(np.uint8)
    array = np.asarray(image).copy()
    array[..., 3] = alpha
    return Image.fromarray(array)


def over_checkerboard(rgba: np.ndarray) -> np.ndarray:
    """Composite RGBA on a grey checkerboard, only to *display* the alpha channel."""
    y, x = np.mgrid[0 : rgba.shape[0], 0 : rgba.shape[1]]
    board = np.where((x // 4 + y // 4) % 2, 200, 150)[..., None]
    a = rgba[..., 3:] / 255.0
    return (a * rgba[..., :3] + (1 - a) * board) / 255.0


def main() -> None:
    rgba = [np.asarray(sample(k)) for k in range(N)]
    resize_crop = compose(
        [to_tensor, partial(resize, size=32), partial(center_crop, output_size=32)]
    )
    pipeline = compose(
        [convert_rgb, resize_crop, partial(normalize, mean=[0.5] * 3, std=[0.5] * 3)]
    )
    rows = [
        ("RGBA sample (alpha shown over a checkerboard)",
         [over_checkerboard(a).transpose(2, 0, 1) for a in rgba]),
        ('convert("RGB"): alpha dropped, colours kept', [to_tensor(convert_rgb(a)) for a in rgba]),
        ("Resize(32) + CenterCrop(32) + ToTensor: 3 x 32 x 32",
         [resize_crop(convert_rgb(a)) for a in rgba]),
        ("Normalize(0.5, 0.5): 2x - 1 in [-1, 1], shown clipped to [0, 1]",
         [pipeline(a) for a in rgba]),
    ]
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 5.6))
    for ax, (title, images) in zip(axes, rows, strict=True):
        grid = make_grid(np.stack(images).astype(np.float32), nrow=N, padding=2, pad_value=1.0)
        ax.imshow(np.clip(grid.transpose(1, 2, 0), 0, 1), interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=100, metadata={"Software": None})
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
