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
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "autograd", "font.size": 10})
    t = build()
    names = ["x", "y", "y*y", "z", "out"]
    labels = {
        "x": "x = ones(2, 2)\nleaf, requires_grad",
        "y": "y = x + 2",
        "y*y": "y * y",
        "z": "z = (y * y) * 3",
        "out": "out = z.mean()",
    }
    xs = {n: 1.0 + 2.2 * i for i, n in enumerate(names)}
    top, bottom = 2.6, 0.9
    fig, ax = plt.subplots(figsize=(11.5, 3.6))
    ax.set_xlim(0, 11.4)
    ax.set_ylim(0.0, 3.5)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.35", "lw": 1.0}

    # forward: the tensors, left to right
    for n in names:
        ax.text(xs[n], top, labels[n], ha="center", va="center",
                bbox={**box, "fc": "#fff3e0", "ec": "#e65100"})
    for a, b in zip(names, names[1:], strict=False):
        ax.annotate("", (xs[b] - 0.8, top), (xs[a] + 0.8, top),
                    arrowprops={"arrowstyle": "->", "color": "#e65100"})
    ax.text(0.05, top + 0.65, "forward: values", color="#e65100", fontsize=9)

    # backward: each tensor's grad_fn (AccumulateGrad for the leaf), arrows = next_functions
    nodes = {n: (t[n].grad_fn or t[n]._accumulator) for n in names}
    for n in names:
        node_name = nodes[n].name().replace("torch::autograd::", "")
        grad = t[n].grad.reshape(-1)[0]
        ax.text(xs[n], bottom, f"{node_name}\ngrad = {grad:g}", ha="center", va="center",
                bbox={**box, "fc": "#e3f2fd", "ec": "#0d47a1"})
        ax.plot([xs[n], xs[n]], [top - 0.35, bottom + 0.4], ls=":", color="0.5", lw=0.8)
    for n in names[1:]:
        for k, (nxt, _) in enumerate(nodes[n].next_functions):
            if nxt is None:
                continue
            src = next(m for m in names if nodes[m] is nxt)
            bend = 0.25 * (k - (len(nodes[n].next_functions) - 1) / 2)
            ax.annotate("", (xs[src] + 0.85, bottom), (xs[n] - 0.85, bottom),
                        arrowprops={"arrowstyle": "->", "color": "#0d47a1",
                                    "connectionstyle": f"arc3,rad={bend}"})
    ax.text(0.05, bottom - 0.75, "backward: grad_fn.next_functions (two edges from y * y "
            "to AddBackward0: their gradients add up, 2.25 + 2.25 = 4.5)",
            color="#0d47a1", fontsize=9)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
