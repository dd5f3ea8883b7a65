"""Draw the computation graph of the notes' autograd example (notes 004) into
``docs/assets/figures/autograd_graph.svg``.

    x = ones(2, 2, requires_grad=True); y = x + 2; z = y * y * 3; out = z.mean()

The graph is read from the reference engine (node names through ``next_functions``, the
gradient reaching each value through ``retain_grad``), so the figure shows what the engine
records. Run from the repository root: ``python docs/scripts/autograd_figure.py``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from reference.autograd import Tensor  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "assets" / "figures" / "autograd_graph.svg"


def build() -> dict[str, Tensor]:
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    y = x + 2
    yy = y * y
    z = yy * 3
    out = z.mean()
    for t in (y, yy, z, out):
        t.retain_grad()
    out.backward()
    return {"x": x, "y": y, "y*y": yy, "z": z, "out": out}


def main() -> None:
    """Two columns, one row per value: the forward values on the left, top to bottom, and on
    the right each value's ``grad_fn`` with the gradient that reached it; the backward edges
    (``next_functions``) run bottom to top. Sized to be read at the page's width (text at
    12 pt on a 6.8 in figure, about 11 px on a phone)."""
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "autograd", "font.size": 12})
    t = build()
    names = ["x", "y", "y*y", "z", "out"]
    labels = {
        "x": "x = ones(2, 2)\nleaf, requires_grad",
        "y": "y = x + 2",
        "y*y": "y * y",
        "z": "z = (y * y) * 3",
        "out": "out = z.mean()",
    }
    ys = {n: 5.0 - 1.15 * i for i, n in enumerate(names)}
    left, right = 1.55, 5.15
    fig, ax = plt.subplots(figsize=(6.8, 6.4))
    ax.set_xlim(0, 7.0)
    ax.set_ylim(-0.35, 5.9)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.35", "lw": 1.0}
    ax.text(left, 5.65, "forward: values", color="#e65100", ha="center")
    ax.text(right, 5.65, "backward: grad_fn, gradient", color="#0d47a1", ha="center")

    for n in names:  # forward, top to bottom
        ax.text(left, ys[n], labels[n], ha="center", va="center",
                bbox={**box, "fc": "#fff3e0", "ec": "#e65100"})
    for a, b in zip(names, names[1:], strict=False):
        ax.annotate("", (left, ys[b] + 0.32), (left, ys[a] - 0.32),
                    arrowprops={"arrowstyle": "->", "color": "#e65100"})

    # backward: each value's grad_fn (AccumulateGrad for the leaf); arrows = next_functions
    nodes = {n: (t[n].grad_fn or t[n]._accumulator) for n in names}
    for n in names:
        node_name = nodes[n].name().replace("torch::autograd::", "")
        grad = t[n].grad.reshape(-1)[0]
        ax.text(right, ys[n], f"{node_name}\ngrad = {grad:g}", ha="center", va="center",
                bbox={**box, "fc": "#e3f2fd", "ec": "#0d47a1"})
        ax.plot([left + 1.25, right - 1.35], [ys[n], ys[n]], ls=":", color="0.55", lw=0.8)
    for n in names[1:]:
        edges = [nxt for nxt, _ in nodes[n].next_functions if nxt is not None]
        for k, nxt in enumerate(edges):
            src = next(m for m in names if nodes[m] is nxt)
            bend = 0.0 if len(edges) == 1 else (0.6 if k == 0 else -0.6)
            ax.annotate("", (right, ys[src] - 0.38), (right, ys[n] + 0.38),
                        arrowprops={"arrowstyle": "->", "color": "#0d47a1",
                                    "connectionstyle": f"arc3,rad={bend}"})
    ax.text(3.5, -0.2, "the two edges from y * y to AddBackward0 add up: 2.25 + 2.25 = 4.5",
            color="#0d47a1", ha="center", fontsize=11)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
