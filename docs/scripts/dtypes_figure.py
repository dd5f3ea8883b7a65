"""Draw the type-promotion lattice of the twelve dtypes, computed by ``reference.dtypes``.

Writes ``docs/assets/figures/dtypes_lattice.svg``: one column per category (bool, integer,
floating, complex), each dtype a box; an edge joins ``a`` (below) to ``b`` (above) when
``promote_types(a, b) == b`` and no third dtype lies between them (the Hasse diagram of the
order ``a <= b  iff  promote_types(a, b) == b``). The height of a box is its distance from
bool. Plain SVG text, so the output is reproducible: ``python docs/scripts/dtypes_figure.py``.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reference.dtypes import CATEGORIES, DTYPES, category, promote_types  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "dtypes_lattice.svg"
BOX_W, BOX_H, COL_W, ROW_H, TOP, LEFT = 88, 26, 150, 46, 44, 20
COLORS = {"bool": "#cfd8dc", "integer": "#ffe0b2", "floating": "#ffcc80", "complex": "#f57c00"}
INK = "#333333"


def below(a: str, b: str) -> bool:
    """a < b in the promotion order."""
    return a != b and promote_types(a, b) == b


def hasse_edges() -> list[tuple[str, str]]:
    names = list(DTYPES)
    return [
        (a, b)
        for a, b in itertools.permutations(names, 2)
        if below(a, b) and not any(below(a, c) and below(c, b) for c in names)
    ]


def levels(edges: list[tuple[str, str]]) -> dict[str, int]:
    """The length of the longest chain from bool to each dtype."""
    level = {name: 0 for name in DTYPES}
    for _ in DTYPES:
        for a, b in edges:
            level[b] = max(level[b], level[a] + 1)
    return level


def positions(level: dict[str, int]) -> dict[str, tuple[float, float]]:
    top = max(level.values())
    placed: dict[str, tuple[float, float]] = {}
    for name in DTYPES:
        column = CATEGORIES.index(category(name))
        same = [n for n in DTYPES if level[n] == level[name] and category(n) == category(name)]
        shift = (same.index(name) - (len(same) - 1) / 2) * (BOX_W + 10)
        x = LEFT + column * COL_W + COL_W / 2 + shift
        y = TOP + (top - level[name]) * ROW_H
        placed[name] = (x, y)
    return placed


def figure() -> str:
    edges = hasse_edges()
    level = levels(edges)
    at = positions(level)
    width = LEFT * 2 + len(CATEGORIES) * COL_W
    height = TOP + max(level.values()) * ROW_H + BOX_H + 58
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="The type promotion lattice of the twelve dtypes">',
        "<style>text{font-family:sans-serif;fill:" + INK + "}"
        ".c{font-size:14px;font-weight:bold;text-anchor:middle}"
        ".d{font-size:13px;text-anchor:middle;font-family:monospace}"
        ".n{font-size:12px}</style>",
    ]
    for i, cat in enumerate(CATEGORIES):
        x = LEFT + i * COL_W + COL_W / 2
        parts.append(f'<text x="{x}" y="20" class="c">{cat}</text>')
    for a, b in edges:
        (xa, ya), (xb, yb) = at[a], at[b]
        parts.append(
            f'<line x1="{xa}" y1="{ya}" x2="{xb}" y2="{yb + BOX_H}" stroke="#777777" '
            'stroke-width="1.5"/>'
        )
    for name, (x, y) in at.items():
        parts.append(
            f'<rect x="{x - BOX_W / 2}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" '
            f'fill="{COLORS[category(name)]}" stroke="{INK}"/>'
        )
        parts.append(f'<text x="{x}" y="{y + BOX_H / 2 + 5}" class="d">{name}</text>')
    y = height - 32
    parts.append(
        f'<text x="{LEFT}" y="{y}" class="n">An edge goes up from a to b when '
        "promote_types(a, b) == b;</text>"
    )
    parts.append(
        f'<text x="{LEFT}" y="{y + 18}" class="n">two dtypes promote to the lowest box '
        "above both (int64 with float16: float16).</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(figure(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
