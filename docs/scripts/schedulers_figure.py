"""Plot the learning rate per epoch of the schedulers in ``reference/schedulers.py``.

Writes ``docs/assets/figures/schedulers.svg``: four panels (step decays, smooth decays, the
cosine family, cycles and warm-up), each curve the rate a reference SGD with ``lr=0.1`` uses
in epoch ``e`` when ``scheduler.step()`` follows each epoch. The curves are the reference's,
not torch's (the tests show they agree). Reproducible byte for byte (fixed SVG ids, no date,
text kept as text): ``python docs/scripts/schedulers_figure.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from reference import optim  # noqa: E402
from reference import schedulers as S  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "schedulers.svg"
EPOCHS = 60


class _Param:
    def __init__(self) -> None:
        self.data, self.grad = np.zeros(1), None


def curve(build: Callable[[optim.SGD], object], metrics: list[float] | None = None) -> list[float]:
    """The rate of each epoch: read it, step the optimizer, then step the scheduler."""
    opt = optim.SGD([_Param()], lr=0.1, momentum=0.9)
    sched = build(opt)
    lrs = []
    for epoch in range(EPOCHS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(*(() if metrics is None else (metrics[epoch],)))
    return lrs


# a validation loss that improves, then stalls: ReduceLROnPlateau's input
PLATEAU = [1.0 / (1 + e) if e < 12 else 1.0 / 13 for e in range(EPOCHS)]

PANELS = [
    ("Step decays", [
        ("StepLR(15, 0.5)", lambda o: S.StepLR(o, step_size=15, gamma=0.5)),
        ("MultiStepLR([10, 25, 45])", lambda o: S.MultiStepLR(o, [10, 25, 45], gamma=0.5)),
        ("ReduceLROnPlateau(patience=5)", "plateau"),
    ]),
    ("Smooth decays", [
        ("ExponentialLR(0.95)", lambda o: S.ExponentialLR(o, gamma=0.95)),
        ("LambdaLR: max(0, 1 − e/50)", lambda o: S.LambdaLR(o, lambda e: max(0, 1 - e / 50))),
        ("PolynomialLR(50, power=2)", lambda o: S.PolynomialLR(o, total_iters=50, power=2.0)),
    ]),
    ("Cosine", [
        ("CosineAnnealingLR(T_max=20)", lambda o: S.CosineAnnealingLR(o, T_max=20)),
        ("CosineAnnealingWarmRestarts(8, 2)",
         lambda o: S.CosineAnnealingWarmRestarts(o, T_0=8, T_mult=2)),
    ]),
    ("Warm-up and cycles", [
        ("LinearLR → CosineAnnealingLR (SequentialLR)", lambda o: S.SequentialLR(
            o, [S.LinearLR(o, start_factor=0.1, total_iters=10), S.CosineAnnealingLR(o, 50)],
            milestones=[10])),
        ("OneCycleLR(0.1, 60 steps)", lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=EPOCHS)),
        ("CyclicLR(0.01, 0.1, 10, triangular2)", lambda o: S.CyclicLR(
            o, base_lr=0.01, max_lr=0.1, step_size_up=10, mode="triangular2")),
    ]),
]


def main() -> None:
    """Four panels stacked in one column, so each is as wide as the page: text at 11-12 pt
    on a 6.8 in figure (legends about 10 px on a phone)."""
    plt.rcParams.update({"svg.hashsalt": "schedulers", "svg.fonttype": "none", "font.size": 12})
    fig, axes = plt.subplots(4, 1, figsize=(6.8, 11), sharex=True)
    for ax, (title, curves) in zip(axes.flat, PANELS, strict=True):
        for label, build in curves:
            if build == "plateau":
                lrs = curve(lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=5), PLATEAU)
            else:
                lrs = curve(build)
            ax.step(range(EPOCHS), lrs, where="post", label=label, linewidth=1.6)
        ax.set_title(title)
        ax.set_ylim(0, 0.14)  # headroom for the legend
        ax.grid(True, linewidth=0.3)
        ax.legend(loc="upper right", fontsize=11, frameon=False)
        ax.set_ylabel("learning rate")
    axes[-1].set_xlabel("epoch")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
