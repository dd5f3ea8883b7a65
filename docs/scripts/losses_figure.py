"""Plot L1, MSE, Huber and SmoothL1 as functions of the error ``d = x - y``.

Writes ``docs/assets/figures/losses.svg``: top, the four losses (``reduction='none'``) on
[-3, 3] with ``delta = beta = 1``; bottom, Huber and SmoothL1 for ``delta = beta = 0.5, 1, 2``,
where Huber keeps the slope ``delta`` far from 0 and SmoothL1 the slope 1. The curves are the
reference's, not torch's (the tests show they agree). The figure is drawn 4 in (384 px) wide,
about the width of a phone's page, with text of at least 10.5 pt, so at least 9 pt even when
shown 340 px wide. Reproducible byte for byte (fixed SVG ids, no date, text kept as text):
``python docs/scripts/losses_figure.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from reference import losses as L  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "losses.svg"
FONT = 10.5  # the smallest text, in points at 100 %: >= 9 pt even when shown at 340 px
D = np.linspace(-3.0, 3.0, 241)
ZERO = np.zeros_like(D)


def main() -> None:
    plt.rcParams.update(
        {
            "svg.hashsalt": "losses",
            "svg.fonttype": "none",
            "font.family": "DejaVu Sans",
            "font.size": FONT,
            "legend.fontsize": FONT,
        }
    )
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(4.0, 7.4), sharex=True)
    top.plot(D, L.l1_loss(D, ZERO, reduction="none"), label="L1: |d|", linewidth=1.4)
    top.plot(D, L.mse_loss(D, ZERO, reduction="none"), label="MSE: d²", linewidth=1.4)
    top.plot(D, L.huber_loss(D, ZERO, reduction="none"), label="Huber, δ=1", linewidth=2.6)
    top.plot(
        D, L.smooth_l1_loss(D, ZERO, reduction="none"), "--", label="SmoothL1, β=1", linewidth=1.4
    )
    top.set_title("δ = β = 1: Huber = SmoothL1", fontsize=FONT + 1)
    params = [(0.5, "#1565c0"), (1.0, "#2e7d32"), (2.0, "#e65100")]
    for param, colour in params:  # Huber first, so the legend pairs one parameter per row
        bottom.plot(
            D,
            L.huber_loss(D, ZERO, reduction="none", delta=param),
            color=colour,
            linewidth=1.4,
            label=f"Huber δ={param}",
        )
    for param, colour in params:
        bottom.plot(
            D,
            L.smooth_l1_loss(D, ZERO, reduction="none", beta=param),
            "--",
            color=colour,
            linewidth=1.4,
            label=f"SmoothL1 β={param}",
        )
    bottom.set_title("Huber = δ · SmoothL1(β = δ)", fontsize=FONT + 1)
    bottom.set_xlabel("error d = input − target")
    for ax in (top, bottom):
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.axvline(0, color="#999999", linewidth=0.6)
        ax.set_ylim(-0.1, 3.5)
        ax.set_ylabel("loss (reduction='none')")
        ax.grid(True, linewidth=0.3)
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.1 if ax is top else -0.2), ncol=2,
            frameon=False, columnspacing=1.0, handlelength=1.6,
        )
    fig.tight_layout(h_pad=1.0)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    if len(sys.argv) > 1:  # a PNG preview, for checking the layout
        fig.savefig(sys.argv[1], dpi=96)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
