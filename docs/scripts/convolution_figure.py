"""Draw the notes' (001) 5x5 convolution and max-pooling example.

Writes ``docs/assets/figures/convolution.svg``. Top row: the 5x5 input with the first 3x3
window highlighted, the kernel, and the stride-1 output, whose first entry is that window
times the kernel, summed. Bottom row: MaxPool2d(3, ceil_mode=True) on the same input, its four
windows outlined (the right and bottom ones run past the input), and the 2x2 output. Every
output number is computed by ``reference.convolution``. Plain SVG text, so the output is
reproducible: ``python docs/scripts/convolution_figure.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reference.convolution import conv2d, max_pool2d  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "convolution.svg"
CELL = 28
ON, OFF, INK = "#ffcc80", "#eeeeee", "#333333"
WINDOW_COLOURS = ["#e65100", "#1565c0", "#2e7d32", "#6a1b9a"]

INPUT = np.array(
    [[1, 2, 0, 3, 1], [0, 1, 2, 3, 1], [1, 2, 1, 0, 0], [5, 2, 3, 1, 1], [2, 1, 0, 1, 1]],
    dtype=np.float64,
)
KERNEL = np.array([[1, 2, 1], [0, 1, 0], [2, 1, 0]], dtype=np.float64)


def grid(x0: float, y0: float, values: np.ndarray, highlight=None, title: str = "") -> list[str]:
    """A grid of numbered cells; cells where ``highlight`` is True are filled orange."""
    parts = [f'<text x="{x0 + values.shape[1] * CELL / 2}" y="{y0 - 8}" class="t">{title}</text>']
    for (i, j), v in np.ndenumerate(values):
        fill = ON if highlight is not None and highlight[i, j] else OFF
        x, y = x0 + j * CELL, y0 + i * CELL
        parts.append(
            f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{fill}" stroke="#ffffff"/>'
        )
        parts.append(f'<text x="{x + CELL / 2}" y="{y + CELL / 2 + 5}" class="v">{v:g}</text>')
    return parts


def symbol(x: float, y: float, text: str) -> str:
    return f'<text x="{x}" y="{y}" class="op">{text}</text>'


def main() -> None:
    x = INPUT.reshape(1, 1, 5, 5)
    conv = conv2d(x, KERNEL.reshape(1, 1, 3, 3))[0, 0]
    pooled = max_pool2d(x, 3, ceil_mode=True)[0, 0]
    window = np.zeros((5, 5), bool)
    window[:3, :3] = True
    first = np.zeros(conv.shape, bool)
    first[0, 0] = True
    products = " + ".join(
        f"{a:g}·{b:g}" for a, b in zip(INPUT[:3, :3].ravel(), KERNEL.ravel(), strict=True)
    )

    top, bottom = 40, 290
    parts = grid(20, top, INPUT, window, "input (1, 1, 5, 5)")
    parts.append(symbol(175, top + 75, "⋆"))
    parts += grid(200, top + CELL, KERNEL, None, "kernel (1, 1, 3, 3)")
    parts.append(symbol(300, top + 75, "="))
    parts += grid(325, top + CELL, conv, first, "conv2d, stride 1")
    parts.append(
        f'<text x="20" y="{top + 5 * CELL + 30}" class="s">out[0, 0] = {products} '
        f"= {conv[0, 0]:g}</text>"
    )
    parts.append(
        f'<text x="20" y="{top + 5 * CELL + 50}" class="s">size: (5 + 2·0 − 1·(3 − 1) − 1) / 1 + 1'
        f" = 3; stride 2 gives 2 × 2, padding 1 gives 5 × 5</text>"
    )

    parts += grid(20, bottom, INPUT, None, "MaxPool2d(3, ceil_mode=True)")
    for n, (i, j) in enumerate(np.ndindex(*pooled.shape)):
        # Window (i, j) starts at 3i, 3j and is clipped by the input edge (ceil_mode).
        y0, x0 = 3 * i, 3 * j
        h, w = min(3, 5 - y0), min(3, 5 - x0)
        inset = 2 + n
        parts.append(
            f'<rect x="{20 + x0 * CELL + inset}" y="{bottom + y0 * CELL + inset}" '
            f'width="{w * CELL - 2 * inset}" height="{h * CELL - 2 * inset}" fill="none" '
            f'stroke="{WINDOW_COLOURS[n]}" stroke-width="2.5"/>'
        )
        parts.append(
            f'<rect x="{20 + x0 * CELL + w * CELL}" y="{bottom + y0 * CELL}" '
            f'width="{(3 - w) * CELL}" height="{3 * CELL}" fill="none" '
            f'stroke="{WINDOW_COLOURS[n]}" stroke-dasharray="4 3"/>'
            if w < 3
            else ""
        )
    parts.append(symbol(175, bottom + 75, "→"))
    parts += grid(200, bottom + CELL, pooled, None, "output (ceil_mode=True)")
    parts.append(
        f'<text x="290" y="{bottom + 2 * CELL}" class="s">ceil((5 − 3) / 3) + 1 = 2 windows '
        f"per side;</text>"
    )
    parts.append(
        f'<text x="290" y="{bottom + 2 * CELL + 18}" class="s">the last starts at 3 &lt; 5, '
        f"inside the input.</text>"
    )
    parts.append(
        f'<text x="290" y="{bottom + 2 * CELL + 40}" class="s">ceil_mode=False: floor → 1 '
        f"window, output [[2]].</text>"
    )

    svg = "\n".join(
        [
            '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="450" '
            'viewBox="0 0 640 450" font-family="sans-serif">',
            "<style>",
            f".v{{font-size:13px;text-anchor:middle;fill:{INK}}}",
            f".t{{font-size:12px;text-anchor:middle;fill:{INK};font-weight:bold}}",
            f".s{{font-size:11.5px;fill:{INK}}}",
            f".op{{font-size:26px;text-anchor:middle;fill:{INK}}}",
            "</style>",
            '<rect width="640" height="450" fill="#ffffff"/>',
            *[p for p in parts if p],
            "</svg>",
            "",
        ]
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(svg, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
