"""Plot the activations of ``reference/activations.py`` on [-5, 7].

Writes ``docs/assets/figures/activations.svg``: six panels (rectifiers with one training
draw of RReLU, exponential units, self-gated units, squashing functions, softplus and
shrinks, and the derivatives the notes discuss). The curves are the reference's, not
torch's. Reproducible byte for byte (fixed SVG ids, no date, text kept as text):
``python docs/scripts/activations_figure.py``.
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
from reference import activations as A  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "activations.svg"
X = np.linspace(-5.0, 7.0, 241)

# (title, y-limits, [(label, y)])
PANELS = [
    (
        "Rectifiers",
        (-1.5, 7.0),
        [
            ("ReLU", A.relu(X)),
            ("ReLU6", A.relu6(X)),
            ("LeakyReLU(0.2)", A.leaky_relu(X, 0.2)),
            ("RReLU (eval)", A.rrelu(X)),
            (
                "RReLU (train, one draw)",
                A.rrelu(X, training=True, generator=np.random.default_rng(0)),
            ),
            ("PReLU(a=0.25)", A.prelu(X, np.array([0.25]))),
        ],
    ),
    (
        "Exponential units",
        (-2.0, 4.0),
        [
            ("ELU", A.elu(X)),
            ("SELU", A.selu(X)),
            ("CELU(α=0.5)", A.celu(X, 0.5)),
        ],
    ),
    (
        "Self-gated: x · gate(x)",
        (-1.0, 4.0),
        [
            ("GELU", A.gelu(X)),
            ("GELU tanh", A.gelu(X, "tanh")),
            ("SiLU", A.silu(X)),
            ("Mish", A.mish(X)),
            ("Hardswish", A.hardswish(X)),
        ],
    ),
    (
        "Squashing",
        (-1.2, 1.2),
        [
            ("Sigmoid", A.sigmoid(X)),
            ("Hardsigmoid", A.hardsigmoid(X)),
            ("Tanh", A.tanh(X)),
            ("Hardtanh", A.hardtanh(X)),
            ("Softsign", A.softsign(X)),
        ],
    ),
    (
        "Softplus, LogSigmoid, shrinks",
        (-3.0, 4.0),
        [
            ("Softplus", A.softplus(X)),
            ("Softplus(β=3)", A.softplus(X, beta=3.0)),
            ("LogSigmoid", A.logsigmoid(X)),
            ("Hardshrink", A.hardshrink(X)),
            ("Softshrink", A.softshrink(X)),
            ("Tanhshrink", A.tanhshrink(X)),
        ],
    ),
    (
        "Derivatives",
        (-0.1, 1.1),
        [
            ("ReLU′ (0 for x<0)", (X > 0).astype(float)),
            ("σ′ = σ(1−σ)", A.sigmoid(X) * (1 - A.sigmoid(X))),
            ("LeakyReLU(0.2)′", np.where(X > 0, 1.0, 0.2)),
        ],
    ),
]


def main() -> None:
    # 7.5 in wide: shown at about its natural size in the page column, so 10 pt text stays
    # at least 9 pt on screen.
    plt.rcParams.update({"svg.hashsalt": "activations", "svg.fonttype": "none", "font.size": 10})
    fig, axes = plt.subplots(3, 2, figsize=(7.5, 10), sharex=True)
    for ax, (title, ylim, curves) in zip(axes.flat, PANELS, strict=True):
        for label, y in curves:
            if label.startswith("RReLU (train"):
                ax.plot(X, y, ".", label=label, markersize=2.5, color="#555555")
                continue
            ax.plot(X, y, label=label, linewidth=1.4)
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.axvline(0, color="#999999", linewidth=0.6)
        ax.set_title(title)
        ax.set_ylim(*ylim)
        ax.grid(True, linewidth=0.3)
        ax.legend(loc="upper left", fontsize=9, frameon=False)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
