"""Draw a module tree beside its ``state_dict`` keys.

Writes ``docs/assets/figures/modules_tree.svg``. Left: the tree of a small model, one row
per registered entry, in registration order, each module numbered in ``named_modules()``
order; a module registered a second time (the shared layer ``head.2``) is drawn dashed, as
``named_modules()`` skips it. Right: ``state_dict()`` keys in order, each tagged parameter or
buffer; keys that ``named_parameters()`` skips (the second name of a shared parameter) are
marked. Everything is computed by ``reference.modules``. Plain SVG text, so the output is
reproducible: ``python docs/scripts/modules_figure.py``.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reference.modules import Module, Parameter, Sequential  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "modules_tree.svg"
PARAM, BUFFER, QUIET, INK = "#f57c00", "#1e88e5", "#9e9e9e", "#333333"
ROW, LEFT_W, RIGHT_X, MARGIN = 22, 300, 316, 12


class Conv2d(Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = Parameter(np.zeros((4, 1, 3, 3), np.float32))
        self.bias = Parameter(np.zeros(4, np.float32))


class BatchNorm2d(Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = Parameter(np.ones(4, np.float32))
        self.bias = Parameter(np.zeros(4, np.float32))
        self.register_buffer("running_mean", np.zeros(4, np.float32))
        self.register_buffer("running_var", np.ones(4, np.float32))
        self.register_buffer("num_batches_tracked", np.array(0, np.int64))


class Linear(Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = Parameter(np.zeros((4, 4), np.float32))
        self.bias = Parameter(np.zeros(4, np.float32))


class ReLU(Module):
    pass


class Net(Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = Parameter(np.ones(1, np.float32))
        self.register_buffer("mask", np.ones(4, np.float32), persistent=False)
        self.conv = Conv2d()
        self.bn = BatchNorm2d()
        shared = Linear()
        self.head = Sequential(shared, ReLU(), shared)


def tree_rows(net: Module) -> list[tuple[int, str, str, str]]:
    """(indent, text, kind, note) per row: modules, then their own entries, depth first."""
    order = {id(m): i for i, (_, m) in enumerate(net.named_modules())}
    seen: set[int] = set()
    rows: list[tuple[int, str, str, str]] = []

    def visit(module: Module, name: str, depth: int) -> None:
        label = f"{name}: {type(module).__name__}" if name else type(module).__name__
        if id(module) in seen:
            rows.append((depth, f"{label} (the same as above)", "shared", ""))
            return
        seen.add(id(module))
        rows.append((depth, label, "module", str(order[id(module)] + 1)))
        for key, p in module._parameters.items():
            rows.append((depth + 1, key, "param", f"{p.shape}"))
        for key, b in module._buffers.items():
            persistent = key not in module._non_persistent_buffers_set
            rows.append((depth + 1, key, "buffer" if persistent else "quiet",
                         f"{b.shape}" if persistent else f"{b.shape}, persistent=False"))
        for key, child in module._modules.items():
            visit(child, key, depth + 1)

    visit(net, "", 0)
    return rows


def figure() -> str:
    net = Net()
    rows = tree_rows(net)
    state = net.state_dict(keep_vars=True)  # the registered objects, to tell their kind
    keys = list(state)
    params = {name for name, _ in net.named_parameters()}
    height = MARGIN + 40 + max(len(rows), len(keys)) * ROW + 56
    width = RIGHT_X + 330
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="A module tree and the keys of its state_dict, in order">',
        "<style>text{font-family:sans-serif;font-size:13px;fill:" + INK + "}"
        ".h{font-weight:bold;font-size:14px}.m{font-family:monospace}"
        ".n{font-size:12px;fill:#555}.c{font-size:12px;fill:#fff;text-anchor:middle;"
        "font-weight:bold}.q{fill:#777}</style>",
        f'<text x="{MARGIN}" y="{MARGIN + 12}" class="h">the module tree '
        "(registration order)</text>",
        f'<text x="{RIGHT_X}" y="{MARGIN + 12}" class="h">state_dict() keys, in order</text>',
    ]
    y0 = MARGIN + 40
    for i, (depth, text, kind, note) in enumerate(rows):
        y = y0 + i * ROW
        x = MARGIN + depth * 22
        if kind == "module":
            parts.append(f'<circle cx="{x + 8}" cy="{y - 4}" r="9" fill="{INK}"/>')
            parts.append(f'<text x="{x + 8}" y="{y}" class="c">{note}</text>')
            parts.append(f'<text x="{x + 22}" y="{y}" class="m">{escape(text)}</text>')
        elif kind == "shared":
            width_box = 8 * len(text) + 12
            parts.append(f'<rect x="{x}" y="{y - 15}" width="{width_box}" height="20" '
                         f'fill="none" stroke="{QUIET}" stroke-dasharray="4 3"/>')
            parts.append(f'<text x="{x + 6}" y="{y}" class="m q">{escape(text)}</text>')
        else:
            colour = {"param": PARAM, "buffer": BUFFER, "quiet": QUIET}[kind]
            parts.append(f'<rect x="{x}" y="{y - 11}" width="10" height="10" '
                         f'fill="{colour}"/>')
            parts.append(f'<text x="{x + 16}" y="{y}" class="m">{escape(text)}</text>')
            parts.append(f'<text x="{LEFT_W - 10}" y="{y}" class="n" '
                         f'text-anchor="end">{escape(note)}</text>')
    for i, key in enumerate(keys):
        y = y0 + i * ROW
        colour = PARAM if isinstance(state[key], Parameter) else BUFFER
        parts.append(f'<text x="{RIGHT_X + 18}" y="{y}" class="n" text-anchor="end">'
                     f"{i + 1}</text>")
        parts.append(f'<rect x="{RIGHT_X + 26}" y="{y - 11}" width="10" height="10" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{RIGHT_X + 42}" y="{y}" class="m">{escape(key)}</text>')
        if colour == PARAM and key not in params:
            parts.append(f'<text x="{RIGHT_X + 156}" y="{y}" class="n">not in '
                         "named_parameters()</text>")
    legend_y = height - 32
    parts += [
        f'<rect x="{MARGIN}" y="{legend_y - 11}" width="10" height="10" fill="{PARAM}"/>',
        f'<text x="{MARGIN + 16}" y="{legend_y}" class="n">parameter</text>',
        f'<rect x="{MARGIN + 96}" y="{legend_y - 11}" width="10" height="10" '
        f'fill="{BUFFER}"/>',
        f'<text x="{MARGIN + 112}" y="{legend_y}" class="n">persistent buffer</text>',
        f'<rect x="{MARGIN + 236}" y="{legend_y - 11}" width="10" height="10" '
        f'fill="{QUIET}"/>',
        f'<text x="{MARGIN + 252}" y="{legend_y}" class="n">not in state_dict()</text>',
        f'<text x="{MARGIN}" y="{legend_y + 20}" class="n">numbered circles: the order '
        "of named_modules(), which skips head.2: a module it has seen</text>",
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(figure(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
