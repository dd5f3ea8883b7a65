"""Draw broadcasting: the right-aligned shapes, and the stride-0 view that stretches a tensor.

Writes ``docs/assets/figures/broadcasting.svg`` (matplotlib, Agg). Top: the notes' example 5,
``(5, 1, 4, 1) + (3, 1, 1)``, one cell per dim aligned from the right; a missing dim counts
as 1 and every 1 facing a larger size is stretched (orange), giving ``(5, 3, 4, 1)``. Bottom:
``x = [[10], [20], [30]]`` (size (3, 1)) expanded to (3, 4): the three-element storage and the
expanded view, each element labelled with the storage position it reads,
``offset + i * 1 + j * 0``; the strides come from ``reference.broadcasting``. The figure is
drawn 4 in (384 px) wide, about the width of a phone's page, with text of at least 10.5 pt,
so at least 9 pt even when shown 340 px wide:
``python docs/scripts/broadcasting_figure.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reference.broadcasting import broadcast_shapes, broadcast_strides  # noqa: E402
from reference.strides import element_offset  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "broadcasting.svg"
ON, OFF, MISSING, INK = "#f57c00", "#e8e8e8", "#ffffff", "#333333"
FONT = 11.5  # points at 100 %; the figure is drawn at about its displayed width
SMALL = 10.5  # the smallest text: >= 9 pt even when the figure is shown at 340 px

LEFT, RIGHT = (5, 1, 4, 1), (3, 1, 1)
RESULT = broadcast_shapes(LEFT, RIGHT)
SOURCE, TARGET = (3, 1), (3, 4)
SOURCE_VALUES = (10, 20, 30)


def box(ax, x: float, y: float, text: str, fill: str, *, dashed: bool = False, small: str = ""):
    ax.add_patch(
        Rectangle(
            (x, y), 1, 1, facecolor=fill, edgecolor="#999999" if dashed else "#ffffff",
            linestyle="--" if dashed else "-", linewidth=1.2,
        )
    )
    ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=FONT, color=INK)
    if small:
        ax.text(x + 0.93, y + 0.1, small, ha="right", va="bottom", fontsize=SMALL, color="#555555")


def alignment(ax) -> None:
    """The two shapes right-aligned over the result, stretched 1s in orange."""
    n = len(RESULT)
    rows = [("c", LEFT), ("d", RIGHT)]
    ax.text(0, 4.9, "1. Align the shapes from the right", fontsize=FONT + 1, weight="bold")
    for row, (name, shape) in enumerate(rows):
        y = 3.6 - row * 1.15
        ax.text(1.4, y + 0.5, f"{name}:", ha="right", va="center", fontsize=FONT)
        padded = (None,) * (n - len(shape)) + tuple(shape)
        for i, size in enumerate(padded):
            x = 1.7 + i * 1.25
            if size is None:  # a missing dim counts as 1, and is stretched like one
                box(ax, x, y, "(1)", ON if RESULT[i] != 1 else MISSING, dashed=True)
            else:
                box(ax, x, y, str(size), ON if size == 1 and RESULT[i] != 1 else OFF)
    y = 1.0
    ax.plot([1.6, 1.7 + n * 1.25 - 0.15], [y + 1.2, y + 1.2], color=INK, linewidth=1)
    ax.text(1.4, y + 0.5, "c + d:", ha="right", va="center", fontsize=FONT)
    for i, size in enumerate(RESULT):
        box(ax, 1.7 + i * 1.25, y, str(size), OFF)
    ax.text(
        0, 0.45,
        "orange: a size 1 stretched to the other size;\ndashed: a missing dim, counted as 1",
        va="top", fontsize=SMALL, color="#555555", linespacing=1.4,
    )


def stretch(ax) -> None:
    """The storage of x and the expanded view; each row reads one storage element."""
    strides = broadcast_strides(SOURCE, (1, 1), TARGET)
    ax.text(0, 6.6, "2. Stretch with stride 0", fontsize=FONT + 1, weight="bold")
    ax.text(0, 5.55, "storage", va="center", fontsize=FONT)
    for k, value in enumerate(SOURCE_VALUES):
        box(ax, 2.9 + k * 1.1, 5.05, str(value), ON)
        ax.text(3.4 + k * 1.1, 4.95, f"[{k}]", ha="center", va="top", fontsize=SMALL,
                color="#555555")
    ax.text(0, 4.25, "x.expand(3, 4), each row reading one element:", va="center", fontsize=FONT)
    for i in range(TARGET[0]):
        y = 2.6 - i * 1.1
        reads = {element_offset((i, j), strides) for j in range(TARGET[1])}
        ax.text(7.5, y + 0.5, f"reads [{reads.pop()}]", va="center", fontsize=SMALL,
                color="#555555")
        for j in range(TARGET[1]):
            value = SOURCE_VALUES[element_offset((i, j), strides)]
            box(ax, 2.9 + j * 1.1 - 0.55, y, str(value), ON)
    ax.text(
        0, -0.55,
        f"size {TARGET}, stride {strides}:\naddress = offset + i\u00b71 + j\u00b70",
        va="center", fontsize=FONT, linespacing=1.4,
    )


def main() -> None:
    plt.rcParams.update(
        {"svg.fonttype": "none", "svg.hashsalt": "broadcasting", "font.family": "DejaVu Sans"}
    )
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(4.0, 5.8), gridspec_kw={"height_ratios": [5.9, 8.1]}
    )
    for ax, (low, high) in ((top, (-0.7, 5.2)), (bottom, (-1.2, 6.9))):
        ax.set_xlim(-0.1, 9.5)
        ax.set_ylim(low, high)
        ax.set_aspect("equal")
        ax.axis("off")
    alignment(top)
    stretch(bottom)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01, hspace=0.05)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    plt.close(fig)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
