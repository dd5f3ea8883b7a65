"""Draw which values batch, layer, instance and group norm normalize together.

Writes ``docs/assets/figures/normalization_axes.svg``: four panels (two by two) of an
(N, C, H, W) batch, one row per sample, one block per channel, each block the H x W spatial
values. The orange cells are one set that shares a mean and a variance. The SVG is 440 px
wide, shown at its natural size, so its 12 px text stays at least 9 pt on screen. Plain SVG
text, no dependencies, so the output is byte-for-byte reproducible:
``python docs/scripts/normalization_figure.py``.
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "assets" / "figures" / "normalization_axes.svg"

N, C, S = 4, 6, 2  # samples, channels, spatial side (each block is S x S)
CELL, GAP = 14, 5  # cell size and gap between channel blocks, in px
BLOCK = S * CELL
PANEL_W = C * BLOCK + (C - 1) * GAP
PANEL_H = N * BLOCK + (N - 1) * GAP
MARGIN_L, MARGIN_T, SPACING = 34, 52, 36  # SPACING: between panels, across and down
COLUMNS = 2
HIGHLIGHT, OTHER = "#f57c00", "#e8e8e8"

# (title, subtitle, which (sample, channel) blocks form the highlighted set)
PANELS = [
    ("Batch norm", "per channel: over N, H, W", lambda n, c: c == 1),
    ("Layer norm", "per sample: over C, H, W", lambda n, c: n == 1),
    ("Instance norm", "per sample, channel: H, W", lambda n, c: n == 1 and c == 1),
    ("Group norm (G = 2)", "per sample, group: C/G, H, W", lambda n, c: n == 1 and c < 3),
]


def panel(x0: int, y0: int, title: str, subtitle: str, selected) -> list[str]:
    parts = [
        f'<text x="{x0 + PANEL_W / 2}" y="{y0 + 18}" class="title">{title}</text>',
        f'<text x="{x0 + PANEL_W / 2}" y="{y0 + 36}" class="sub">{subtitle}</text>',
    ]
    for n in range(N):
        for c in range(C):
            bx, by = x0 + c * (BLOCK + GAP), y0 + MARGIN_T + n * (BLOCK + GAP)
            fill = HIGHLIGHT if selected(n, c) else OTHER
            for i in range(S):
                for j in range(S):
                    parts.append(
                        f'<rect x="{bx + j * CELL}" y="{by + i * CELL}" width="{CELL}" '
                        f'height="{CELL}" fill="{fill}" stroke="#ffffff" stroke-width="1"/>'
                    )
    return parts


def figure() -> str:
    rows = -(-len(PANELS) // COLUMNS)
    width = MARGIN_L + COLUMNS * PANEL_W + (COLUMNS - 1) * SPACING + 10
    panel_total_h = MARGIN_T + PANEL_H + SPACING
    height = rows * panel_total_h + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Which values batch, layer, instance and group norm normalize together">',
        "<style>text{font-family:sans-serif;fill:#333}"
        ".title{font-size:14px;font-weight:bold;text-anchor:middle}"
        ".sub{font-size:12px;text-anchor:middle}.axis{font-size:12px}</style>",
    ]
    for k, (title, subtitle, selected) in enumerate(PANELS):
        row, column = divmod(k, COLUMNS)
        x0 = MARGIN_L + column * (PANEL_W + SPACING)
        parts += panel(x0, row * panel_total_h, title, subtitle, selected)
    axis_y = rows * panel_total_h - SPACING + 24
    middle = MARGIN_T + PANEL_H / 2
    parts += [
        f'<text x="{MARGIN_L}" y="{axis_y}" class="axis">C: channels \u2192, one block each; '
        "a block holds</text>",
        f'<text x="{MARGIN_L}" y="{axis_y + 16}" class="axis">the H \u00d7 W values of one '
        "(sample, channel). Orange: one set</text>",
        f'<text x="{MARGIN_L}" y="{axis_y + 32}" class="axis">of values that share a mean and '
        "a variance.</text>",
        f'<text x="14" y="{middle}" class="axis" '
        f'transform="rotate(90 14 {middle})" text-anchor="middle">N: samples \u2192</text>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(figure(), encoding="utf-8")
    print(f"wrote {OUT}")
