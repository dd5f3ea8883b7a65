"""Draw three tensors that view one storage: the notes' ``points`` example.

Writes ``docs/assets/figures/strides.svg``: for ``points``, ``points[1]`` and ``points.t()``,
the six-element storage (the elements the view reaches in orange, the one at its storage
offset outlined) above the tensor, each element labelled with its storage position
``offset + sum_d index_d * stride_d``, computed by ``reference.strides``. Plain SVG text, so
the output is reproducible: ``python docs/scripts/strides_figure.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reference.strides import element_offset, tensor  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "strides.svg"
CELL, PANEL_W, SPACING, MARGIN = 30, 190, 56, 12
ON, OFF, INK = "#f57c00", "#eeeeee", "#333333"

points = tensor([[4.0, 1.0], [5.0, 3.0], [2.0, 1.0]])
PANELS = [("points", points), ("points[1]", points[1]), ("points.t()", points.t())]


def cell(x: float, y: float, text: str, fill: str, *, bold: bool = False, small: str = "") -> str:
    stroke = 'stroke="#000000" stroke-width="2.5"' if bold else 'stroke="#ffffff"'
    parts = [
        f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{fill}" {stroke}/>',
        f'<text x="{x + CELL / 2}" y="{y + CELL / 2 + 4}" class="v">{text}</text>',
    ]
    if small:
        parts.append(f'<text x="{x + CELL - 3}" y="{y + CELL - 3}" class="i">{small}</text>')
    return "\n".join(parts)


def panel(x0: float, title: str, view) -> list[str]:
    shape, strides, offset = view.size(), view.stride(), view.storage_offset()
    rows = shape[0] if len(shape) == 2 else 1  # a 1-D view is drawn as one row
    grid = view.numpy().reshape(rows, -1)
    positions = [
        [
            element_offset((i, j) if len(shape) == 2 else (j,), strides, offset)
            for j in range(grid.shape[1])
        ]
        for i in range(rows)
    ]
    used = {p for row in positions for p in row}
    storage = view.storage
    sx = x0 + (PANEL_W - storage.size * CELL) / 2
    parts = [
        f'<text x="{x0 + PANEL_W / 2}" y="18" class="t">{title}</text>',
        f'<text x="{x0 + PANEL_W / 2}" y="34" class="s">offset {offset}, size {tuple(shape)}, '
        f"stride {tuple(strides)}</text>",
        f'<text x="{sx - 4}" y="{56 + CELL / 2 + 4}" class="l">storage</text>',
    ]
    for k, value in enumerate(storage):
        parts.append(
            cell(sx + k * CELL, 56, f"{value:g}", ON if k in used else OFF, bold=k == offset)
        )
        parts.append(
            f'<text x="{sx + k * CELL + CELL / 2}" y="{56 + CELL + 12}" class="k">{k}</text>'
        )
    gx = x0 + (PANEL_W - grid.shape[1] * CELL) / 2
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            y = 122 + i * CELL
            parts.append(cell(gx + j * CELL, y, f"{grid[i, j]:g}", ON, small=str(positions[i][j])))
    return parts


def figure() -> str:
    width = 2 * MARGIN + len(PANELS) * PANEL_W + (len(PANELS) - 1) * SPACING + 40
    height = 122 + 3 * CELL + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Three tensors viewing one six-element storage">',
        "<style>text{font-family:sans-serif;fill:" + INK + "}"
        ".t{font-size:13px;font-weight:bold;text-anchor:middle;font-family:monospace}"
        ".s{font-size:10px;text-anchor:middle}.v{font-size:12px;text-anchor:middle}"
        ".i{font-size:8px;text-anchor:end;fill:#5d2e00}.k{font-size:9px;text-anchor:middle}"
        ".l{font-size:9px;text-anchor:end}.n{font-size:10px}</style>",
    ]
    for p, (title, view) in enumerate(PANELS):
        parts += panel(MARGIN + 40 + p * (PANEL_W + SPACING), title, view)
    parts.append(
        f'<text x="{MARGIN}" y="{height - 12}" class="n">Orange: elements the view reaches; '
        "outlined: its storage offset; small numbers: storage position of each element, "
        "offset + sum(index * stride).</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(figure(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
