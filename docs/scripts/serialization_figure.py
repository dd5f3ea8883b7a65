"""Draw the inside of a checkpoint file: the records of the zip and what data.pkl says.

Writes ``docs/assets/figures/serialization.svg``. The checkpoint is a small state_dict
(a 2x3 float32 weight, its transpose viewing the same storage, an int64 counter) written by
``reference.serialization.save``; every number drawn (record names, the byte offset where
each record's bytes start, sizes, the persistent ids, offsets and strides) is read back from
that file, so the figure is the format, not a drawing of it. Plain SVG text, reproducible:
``python docs/scripts/serialization_figure.py``.
"""

from __future__ import annotations

import io
import pickletools
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reference.serialization import load, save  # noqa: E402

OUT = ROOT / "docs" / "assets" / "figures" / "serialization.svg"
INK, FILL, ACCENT, DATA = "#333333", "#eeeeee", "#f57c00", "#ffe0b2"
WIDTH, ROW, LEFT_W = 680, 26, 175

weight = np.arange(6, dtype=np.float32).reshape(2, 3)
STATE = OrderedDict(weight=weight, weight_t=weight.T, steps=np.array(7, dtype=np.int64))


def records(data: bytes) -> list[tuple[str, int, int]]:
    """(name, offset of the record's bytes in the file, size) in file order."""
    out = []
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        name_len, extra_len = struct.unpack(
            "<HH", data[info.header_offset + 26 : info.header_offset + 30]
        )
        out.append((info.filename, info.header_offset + 30 + name_len + extra_len, info.file_size))
    return out


def persistent_ids(pickled: bytes) -> list[tuple]:
    """Each storage's persistent id, in the order data.pkl names them."""
    ids, stack = [], []
    for op, arg, _ in pickletools.genops(pickled):
        if op.name == "MARK":
            stack.append([])
        elif op.name == "TUPLE" and stack:
            items = stack.pop()
            if items and items[0] == "storage":
                ids.append(tuple(items))
        elif stack and op.name in ("BINUNICODE", "BININT1", "GLOBAL"):
            stack[-1].append(arg.replace(" ", ".") if op.name == "GLOBAL" else arg)
    return ids


def text(x: float, y: float, s: str, cls: str = "") -> str:
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<text x="{x}" y="{y}" class="{cls}">{s}</text>'


def figure() -> str:
    buffer = io.BytesIO()
    save(STATE, buffer)
    data = buffer.getvalue()
    layout = records(data)
    pickled = zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl")
    ids = persistent_ids(pickled)
    loaded = load(io.BytesIO(data))

    parts: list[str] = []
    y0 = 44
    parts.append(text(12, 22, "checkpoint.pt: a zip, records in archive/", "h"))
    rows = {}
    for i, (name, offset, size) in enumerate(layout):
        y = y0 + i * ROW
        rows[name] = y
        is_data = "/data/" in name
        parts.append(
            f'<rect x="12" y="{y}" width="{LEFT_W}" height="{ROW - 4}" rx="3" '
            f'fill="{DATA if is_data else FILL}" stroke="{ACCENT if is_data else "#bbbbbb"}"/>'
        )
        parts.append(text(20, y + 16, name.removeprefix("archive/"), "m"))
        parts.append(text(LEFT_W + 66, y + 16, f"@{offset}", "r"))
        parts.append(text(LEFT_W + 114, y + 16, f"{size} B", "r"))
    bottom = y0 + len(layout) * ROW
    parts.append(text(12, bottom + 16, "@: where the record's bytes start (a multiple of 64)", "n"))

    # Right column: what data.pkl says, one line per entry of the state_dict.
    x1 = LEFT_W + 175
    parts.append(text(x1, 22, "data.pkl (protocol 2): the state_dict", "h"))
    y = y0 + 16
    for (key, array), pid in zip(loaded.items(), ids, strict=True):
        item = array.itemsize
        parts.append(text(x1, y, f"'{key}': _rebuild_tensor_v2(", "m"))
        kind = pid[1].removeprefix("torch.")
        parts.append(
            text(x1 + 14, y + 17, f"('storage', {kind}, '{pid[2]}', '{pid[3]}', {pid[4]}),", "m")
        )
        offset = (
            array.__array_interface__["data"][0] - array.base.__array_interface__["data"][0]
        ) // item
        strides = tuple(s // item for s in array.strides)
        parts.append(text(x1 + 14, y + 34, f"{offset}, size {array.shape}, stride {strides})", "m"))
        target = rows[f"archive/data/{pid[2]}"]
        parts.append(
            f'<path d="M {x1 - 6} {y - 4} C {x1 - 40} {y - 4}, {LEFT_W + 150} {target + 11}, '
            f'{LEFT_W + 122} {target + 11}" fill="none" stroke="{ACCENT}" stroke-width="1.5" '
            'marker-end="url(#arrow)"/>'
        )
        y += 62
    parts.append(text(x1, y + 2, "weight and weight_t name storage key '0':", "n"))
    parts.append(text(x1, y + 18, "one record, and one shared buffer again", "n"))
    parts.append(text(x1, y + 34, "after loading (arguments: storage, storage", "n"))
    parts.append(text(x1, y + 50, "offset, size, stride; then requires_grad", "n"))
    parts.append(text(x1, y + 66, "and backward hooks, not shown).", "n"))
    y += 64

    # The bytes of data/0 as float32 elements.
    cy = max(bottom + 40, y + 40)
    parts.append(text(12, cy, "archive/data/0: 6 float32, little-endian, storage order", "h"))
    for k, value in enumerate(
        np.frombuffer(zipfile.ZipFile(io.BytesIO(data)).read("archive/data/0"), np.float32)
    ):
        x = 12 + k * 44
        parts.append(
            f'<rect x="{x}" y="{cy + 10}" width="40" height="28" fill="{DATA}" stroke="{ACCENT}"/>'
        )
        parts.append(text(x + 20, cy + 29, f"{value:g}", "c"))
        parts.append(text(x + 20, cy + 52, f"[{k}]", "c"))
    parts.append(text(290, cy + 22, "element i of a view is", "n"))
    parts.append(text(290, cy + 40, "storage[offset + Σ_d i_d · stride_d]", "m"))
    height = cy + 64
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="The records of a checkpoint '
        'zip and the persistent ids in data.pkl that point at its storage records">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="{ACCENT}"/>'
        "</marker></defs>",
        "<style>text{font-family:sans-serif;fill:" + INK + ";font-size:12px}"
        ".h{font-weight:bold;font-size:13px}.m{font-family:monospace}"
        ".r{font-family:monospace;text-anchor:end}"
        ".n{font-size:12px}.c{text-anchor:middle;font-family:monospace}</style>",
    ]
    return "\n".join(head + parts + ["</svg>"]) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(figure(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
