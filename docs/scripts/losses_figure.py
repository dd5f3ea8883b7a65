"""Plot L1, MSE, Huber and SmoothL1 as functions of the error ``d = x - y``.

Writes ``docs/assets/figures/losses.svg``: left, the four losses (``reduction='none'``) on
[-3, 3] with ``delta = beta = 1``; right, Huber and SmoothL1 for ``delta = beta = 0.5, 1, 2``,
where Huber keeps the slope ``delta`` far from 0 and SmoothL1 the slope 1. The curves are the
reference's, not torch's (the tests show they agree). Reproducible byte for byte (fixed SVG
ids, no date, text kept as text): ``python docs/scripts/losses_figure.py``.
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
D = np.linspace(-3.0, 3.0, 241)
ZERO = np.zeros_like(D)


def main() -> None:
    plt.rcParams.update({"svg.hashsalt": "losses", "svg.fonttype": "none", "font.size": 8})
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    left.plot(D, L.l1_loss(D, ZERO, reduction="none"), label="L1: |d|", linewidth=1.4)
    left.plot(D, L.mse_loss(D, ZERO, reduction="none"), label="MSE: d²", linewidth=1.4)
    left.plot(D, L.huber_loss(D, ZERO, reduction="none"), label="Huber (δ=1)", linewidth=2.6)
    left.plot(
        D, L.smooth_l1_loss(D, ZERO, reduction="none"), "--", label="SmoothL1 (β=1)", linewidth=1.4
    )
    left.set_title("δ = β = 1: Huber and SmoothL1 coincide")
    for param, colour in [(0.5, "#1565c0"), (1.0, "#2e7d32"), (2.0, "#e65100")]:
        right.plot(
            D,
            L.huber_loss(D, ZERO, reduction="none", delta=param),
            color=colour,
            linewidth=1.4,
            label=f"Huber δ={param}",
        )
        right.plot(
            D,
            L.smooth_l1_loss(D, ZERO, reduction="none", beta=param),
            "--",
            color=colour,
            linewidth=1.4,
            label=f"SmoothL1 β={param}",
        )
    right.set_title("Huber = δ · SmoothL1(β=δ)")
    for ax in (left, right):
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.axvline(0, color="#999999", linewidth=0.6)
        ax.set_ylim(-0.1, 3.5)
        ax.set_xlabel("error d = input − target")
        ax.grid(True, linewidth=0.3)
        ax.legend(loc="upper center", fontsize=7, frameon=False, ncol=2)
    left.set_ylabel("loss (reduction='none')")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
