"""SERIAL: checkpoint files, torch.hub and TorchScript, held to torch and to the reference
(reference/serialization.py).

The file-format clauses are differential: random state_dicts (every dtype, 0-d, empty,
non-contiguous and overlapping views of shared storages) written by torch are read by the
reference and written by the reference are read by ``torch.load(weights_only=True)``, and
both must agree bit for bit. The unpickler clauses hold the reference's allowlist and opcode
set to torch's. Hub, TorchScript, ``torch.export`` and the resume clauses are workflow,
specified against torch alone; the slow compilers run a handful of times per module.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import io
import pickle
import pickletools
import struct
import sys
import warnings
import zipfile
from collections import Counter, OrderedDict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import reference.serialization as ref
from tests.support import assert_both_raise, torch_at_least

# --- which dtypes and Python types this torch round-trips (feature detection) ------------------

# torch dtype name -> (torch dtype, NumPy dtype of the reference's arrays)
_DTYPE_TABLE = {
    "float64": np.float64, "float32": np.float32, "float16": np.float16,
    "bfloat16": ref.bfloat16, "int64": np.int64, "int32": np.int32, "int16": np.int16,
    "int8": np.int8, "uint8": np.uint8, "bool": np.bool_, "complex128": np.complex128,
    "complex64": np.complex64, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
    "float8_e4m3fn": ref._BY_NAME["float8_e4m3fn"].numpy,
    "float8_e5m2": ref._BY_NAME["float8_e5m2"].numpy,
}  # fmt: skip
_WORDS = {"bfloat16": torch.int16}  # read torch's values through a same-size integer view
_WORDS.update({n: torch.uint8 for n in _DTYPE_TABLE if n.startswith("float8")})


def _torch_round_trips(make) -> bool:
    """Whether ``torch.load(weights_only=True)`` reads back what ``torch.save`` wrote."""
    try:
        buffer = io.BytesIO()
        torch.save(make(), buffer)
        buffer.seek(0)
        torch.load(buffer, weights_only=True)
        return True
    except Exception:
        return False


DTYPES = {
    name: (getattr(torch, name), np.dtype(np_dtype))
    for name, np_dtype in _DTYPE_TABLE.items()
    if hasattr(torch, name)
    and _torch_round_trips(lambda n=name: torch.zeros(2, dtype=getattr(torch, n)))
}
_PY_TYPES_READ = {  # sample objects of the Python types whose allowlisting changed
    "bytes": b"x", "bytearray": bytearray(b"x"), "set": {1}, "complex": 1j,
}  # fmt: skip
READS = {kind: _torch_round_trips(lambda s=sample: s) for kind, sample in _PY_TYPES_READ.items()}


# --- canonical forms: one comparable value for torch's and the reference's objects ------------


def _np_dtype_name(dtype: np.dtype) -> str:
    tag = (dtype.metadata or {}).get("torch.dtype")
    if tag:
        return tag.removeprefix("torch.")
    return next(n for n, (_, d) in DTYPES.items() if d == dtype and not d.metadata)


def _buffer_start(array: np.ndarray) -> tuple[int, int]:
    """(address, bytes) of the buffer an array views: its storage."""
    owner = array
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    raw = np.frombuffer(owner.base, np.uint8) if owner.base is not None else owner
    return raw.__array_interface__["data"][0], raw.nbytes


class Canon:
    """Tensors and arrays as (dtype, shape, strides and offset in elements, storage number,
    bytes of the values); storages numbered in order of first appearance, so sharing
    compares too. Containers keep their type and order; floats compare by bits."""

    def __init__(self) -> None:
        self.storages: dict[object, int] = {}

    def _storage(self, key: object, nbytes: int) -> int | None:
        if nbytes == 0:
            return None  # torch does not share empty storages on load
        return self.storages.setdefault(key, len(self.storages))

    def of_torch(self, obj):
        if isinstance(obj, torch.Tensor):
            t = obj.detach()
            storage = t.untyped_storage()
            sid = self._storage((t.device.type, storage.data_ptr()), storage.nbytes())
            name = str(t.dtype).removeprefix("torch.")
            words = t.view(_WORDS[name]) if name in _WORDS else t
            values = np.ascontiguousarray(words.cpu().resolve_conj().numpy()).tobytes()
            return ("tensor", name, tuple(t.shape), t.stride(), t.storage_offset(), sid, values)
        return self._common(obj, self.of_torch)

    def of_reference(self, obj):
        if isinstance(obj, np.ndarray):
            start, nbytes = _buffer_start(obj)
            item = obj.itemsize
            offset = (obj.__array_interface__["data"][0] - start) // item
            sid = self._storage(("np", start), nbytes)
            strides = tuple(s // item for s in obj.strides)
            values = np.ascontiguousarray(obj).tobytes()
            return ("tensor", _np_dtype_name(obj.dtype), obj.shape, strides, offset, sid, values)
        if isinstance(obj, ref.TorchName):
            return ("name", str(obj))
        return self._common(obj, self.of_reference)

    @staticmethod
    def _common(obj, rec):
        if isinstance(obj, (torch.dtype, torch.layout)):  # the reference: TorchName
            return ("name", str(obj))
        if isinstance(obj, torch.device):  # the reference: its str
            return ("str", str(obj))
        if obj is None or type(obj) in (bool, int, str, bytes):
            return (type(obj).__name__, obj)
        if type(obj) is float:
            return ("float", obj.hex())
        if type(obj) is complex:
            return ("complex", obj.real.hex(), obj.imag.hex())
        if type(obj) is bytearray:
            return ("bytearray", bytes(obj))
        if isinstance(obj, tuple):  # torch.Size loads as a tuple in the reference
            return ("tuple", tuple(rec(x) for x in obj))
        if type(obj) is list:
            return ("list", tuple(rec(x) for x in obj))
        if type(obj) in (dict, OrderedDict, Counter):
            return (type(obj).__name__, tuple((rec(k), rec(v)) for k, v in obj.items()))
        if type(obj) is set:
            return ("set", frozenset(rec(x) for x in obj))
        raise AssertionError(f"no canonical form for {type(obj)}")


# --- strategies: storages, views of them, and containers holding the views ---------------------


@st.composite
def view_params(draw: st.DrawFn, numel: int) -> tuple[tuple, tuple, int]:
    """(size, stride, offset) of a view inside a storage of ``numel`` elements: transposes,
    steps, stride-0 expansions, overlaps, 0-d and empty views."""
    ndim = draw(st.integers(0, 3))
    if numel == 0:  # only empty views fit an empty storage
        ndim = max(ndim, 1)
        sizes = [draw(st.integers(0, 3)) for _ in range(ndim)]
        sizes[draw(st.integers(0, ndim - 1))] = 0
        return tuple(sizes), tuple(draw(st.integers(0, 4)) for _ in range(ndim)), 0
    offset = draw(st.integers(0, numel - 1))
    room = numel - 1 - offset  # the largest index step the view may still take
    sizes, strides = [], []
    for _ in range(ndim):
        size = draw(st.integers(0, 3))
        if size > 1:
            stride = draw(st.integers(0, min(4, room // (size - 1))))
            room -= (size - 1) * stride
        else:
            stride = draw(st.integers(0, 4))
        sizes.append(size)
        strides.append(stride)
    return tuple(sizes), tuple(strides), offset


@st.composite
def storages(draw: st.DrawFn) -> tuple[str, bytes, list]:
    """A storage (dtype, raw bytes: any bit pattern, NaN payloads included) and 1-3 views."""
    name = draw(st.sampled_from(sorted(DTYPES)))
    itemsize = DTYPES[name][1].itemsize
    numel = draw(st.integers(0, 12))
    if name == "bool":
        raw = bytes(draw(st.lists(st.booleans(), min_size=numel, max_size=numel)))
    else:
        raw = draw(st.binary(min_size=numel * itemsize, max_size=numel * itemsize))
    views = draw(st.lists(view_params(numel), min_size=1, max_size=3))
    return name, raw, views


class Ref:
    """A leaf of a container template: the ``index``-th view."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"Ref({self.index})"


def scalars(*, torch_objects: bool, empty_bytes: bool) -> st.SearchStrategy:
    options = [
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
        st.text(max_size=4),
        st.dictionaries(st.text(max_size=2), st.integers(-3, 3), max_size=2).map(Counter),
    ]  # fmt: skip
    if READS["bytes"]:  # torch pickles b'' as builtins.bytes(), which it refuses
        options.append(st.binary(min_size=0 if empty_bytes else 1, max_size=4))
    if READS["bytearray"]:
        options.append(st.binary(max_size=4).map(bytearray))
    if READS["set"]:
        options.append(st.sets(st.integers(-3, 3) | st.text(max_size=2), max_size=3))
    if READS["complex"]:
        options.append(st.complex_numbers())
    if torch_objects:
        options.append(st.sampled_from([torch.float32, torch.bfloat16, torch.int64]))
        options.append(st.lists(st.integers(0, 4), max_size=3).map(torch.Size))
        options.append(st.sampled_from([torch.device("cpu"), torch.device("cuda", 1)]))
    return st.one_of(options)


def _trees(torch_objects: bool) -> st.SearchStrategy:
    """Nested dicts, OrderedDicts, lists and tuples of view references and scalars (built
    once: a strategy built per example costs more than the example)."""
    leaves = st.integers(0, 5).map(Ref) | scalars(
        torch_objects=torch_objects, empty_bytes=not torch_objects
    )
    keys = st.text(max_size=3) | st.integers(-2, 2)
    return st.recursive(
        leaves,
        lambda kids: st.one_of(
            st.lists(kids, max_size=3),
            st.lists(kids, max_size=4).map(tuple),
            st.dictionaries(keys, kids, max_size=3),
            st.dictionaries(keys, kids, max_size=3).map(OrderedDict),
        ),
        max_leaves=6,
    )


_TREES = {flag: _trees(flag) for flag in (False, True)}


@st.composite
def checkpoints(draw: st.DrawFn, *, torch_objects: bool) -> tuple[object, list]:
    """``(template, storages)``: a state_dict-like OrderedDict with one entry per view, plus
    an ``extra`` entry of nested containers of views and scalars."""
    specs = draw(st.lists(storages(), min_size=1, max_size=2))
    nviews = sum(len(s[2]) for s in specs)
    template = OrderedDict((f"layer{i}.weight", Ref(i)) for i in range(nviews))
    template["extra"] = draw(_TREES[torch_objects])
    return template, specs


def torch_views(specs: list, device: str) -> list[torch.Tensor]:
    views = []
    for name, raw, params in specs:
        dtype = DTYPES[name][0]
        base = torch.empty(len(raw), dtype=torch.uint8)  # contiguous even when empty
        base.copy_(torch.from_numpy(np.frombuffer(bytearray(raw), np.uint8)))
        base = base.view(dtype).to(device)
        views += [base.as_strided(size, stride, offset) for size, stride, offset in params]
    return views


def numpy_views(specs: list) -> list[np.ndarray]:
    views = []
    for name, raw, params in specs:
        dtype = DTYPES[name][1]
        base = np.frombuffer(bytearray(raw), np.uint8).view(dtype)
        views += [
            np.ndarray(size, dtype, buffer=base, offset=offset * dtype.itemsize,
                       strides=tuple(s * dtype.itemsize for s in stride))
            for size, stride, offset in params
        ]  # fmt: skip
    return views


def materialize(template, views: list):
    if isinstance(template, Ref):
        return views[template.index % len(views)]
    if type(template) in (list, tuple):
        return type(template)(materialize(x, views) for x in template)
    if type(template) in (dict, OrderedDict):
        return type(template)((k, materialize(v, views)) for k, v in template.items())
    return template


def _location(device: str) -> str:
    return "cpu" if device == "cpu" else f"{torch.device(device).type}:0"


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _ref_bytes(obj, location: str = "cpu") -> bytes:
    buffer = io.BytesIO()
    ref.save(obj, buffer, location=location)
    return buffer.getvalue()


def _torch_load(data: bytes, **kwargs):
    return torch.load(io.BytesIO(data), weights_only=True, **kwargs)


def _ref_load(data: bytes, **kwargs):
    return ref.load(io.BytesIO(data), **kwargs)


_EXAMPLE_SPECS = [  # pinned edge cases: (dtype, raw, views)
    ("float32", np.arange(6, dtype=np.float32).tobytes(),
     [((2, 3), (3, 1), 0), ((3, 2), (1, 3), 0)]),
    ("float64", b"", [((0,), (1,), 0), ((2, 0), (0, 4), 0)]),
    ("int16", np.array([7], np.int16).tobytes(), [((), (), 0), ((3, 2), (0, 0), 0)]),
    ("bool", bytes([1, 0, 1]), [((2,), (2,), 0), ((1,), (1,), 2)]),
]  # fmt: skip
if "bfloat16" in DTYPES:  # NaN and -0.0 words
    _EXAMPLE_SPECS.append(
        ("bfloat16", struct.pack("<3H", 0x7FC1, 0x8000, 0x3F80), [((3,), (1,), 0)])
    )


_EMPTY_BYTES = [b"", bytearray()] if READS["bytes"] and READS["bytearray"] else []
_SETS = ({3, -1, 2},) if READS["set"] else ()


def _example(spec, extra=None):
    nviews = len(spec[2])
    template = OrderedDict((f"layer{i}.weight", Ref(i)) for i in range(nviews))
    template["extra"] = extra
    return template, [spec]


# --- SERIAL-1, SERIAL-2: the file layout and how a tensor is pickled ---------------------------


def _records(data: bytes) -> dict[str, tuple[int, bytes]]:
    """Record name -> (offset of its bytes in the file, bytes)."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    out = {}
    for info in archive.infolist():
        name_len, extra_len = struct.unpack(
            "<HH", data[info.header_offset + 26 : info.header_offset + 30]
        )
        out[info.filename] = (info.header_offset + 30 + name_len + extra_len, archive.read(info))
    return out


@pytest.mark.spec("SERIAL-1")
def test_the_zip_layout(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2, dtype=torch.int16)}
    state["t"] = state["w"].t()  # a view: no record of its own
    data = _torch_bytes(state)
    records = _records(data)
    names = set(records)
    assert {i.compress_type for i in zipfile.ZipFile(io.BytesIO(data)).infolist()} == {0}
    core = {"data.pkl", "byteorder", "data/0", "data/1", "version", ".data/serialization_id"}
    newer = {".format_version", ".storage_alignment"}
    if torch_at_least("2.11"):
        assert names == {f"archive/{n}" for n in core | newer}
        assert records["archive/.format_version"][1] == b"1"
        assert records["archive/.storage_alignment"][1] == b"64"
    elif not torch_at_least("2.5"):
        assert names == {f"archive/{n}" for n in core}
    else:  # releases between the ones this suite runs on: either layout
        assert {f"archive/{n}" for n in core} <= names <= {f"archive/{n}" for n in core | newer}
    assert records["archive/byteorder"][1] == b"little"
    assert records["archive/version"][1] == b"3\n"
    assert records["archive/data/0"][1] == state["w"].numpy().tobytes()  # 6 float32, raw
    assert records["archive/data/1"][1] == b"\x00" * 4
    assert all(offset % 64 == 0 for offset, _ in records.values())
    path = tmp_path / "my.model.pth"
    torch.save(state, path)
    assert {n.split("/")[0] for n in zipfile.ZipFile(path).namelist()} == {"my.model"}
    # The reference writes the same records (not .format_version: see the page), aligned.
    w = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    mine = _ref_bytes({"w": w, "b": np.zeros(2, np.int16), "t": w.T})
    ours = _records(mine)
    assert {i.compress_type for i in zipfile.ZipFile(io.BytesIO(mine)).infolist()} == {0}
    assert set(ours) == {f"archive/{n}" for n in core | {".storage_alignment"}}
    assert all(offset % 64 == 0 for offset, _ in ours.values())
    assert ours["archive/data/0"][1] == records["archive/data/0"][1]
    ref.save({"w": state["w"].numpy()}, tmp_path / "mine.pt")
    assert {n.split("/")[0] for n in zipfile.ZipFile(tmp_path / "mine.pt").namelist()} == {"mine"}


def _pickle_calls(data: bytes) -> tuple[list[str], list[tuple]]:
    """The GLOBALs of data.pkl, and each persistent id as a tuple of its scalar parts."""
    pkl = zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl")
    globals_, pids, stack = [], [], []
    for op, arg, _ in pickletools.genops(pkl):
        if op.name == "GLOBAL":
            globals_.append(arg.replace(" ", "."))
        if op.name == "MARK":
            stack.append([])
        elif op.name == "TUPLE" and stack:
            pids.append(tuple(stack.pop()))
        elif stack and op.name in ("BINUNICODE", "BININT1", "BININT2", "BININT", "GLOBAL"):
            stack[-1].append(arg.replace(" ", ".") if op.name == "GLOBAL" else arg)
    return globals_, [p for p in pids if p and p[0] == "storage"]


@pytest.mark.spec("SERIAL-2")
@pytest.mark.parametrize("name", sorted(DTYPES))
def test_a_tensor_is_a_rebuild_call_on_a_persistent_storage(name):
    dtype, np_dtype = DTYPES[name]
    tensor = torch.zeros(3, dtype=dtype)
    theirs = _pickle_calls(_torch_bytes(tensor))
    ours = _pickle_calls(_ref_bytes(np.zeros(3, np_dtype)))
    storage = ref._BY_NAME[name].storage
    if storage is not None:
        assert theirs[0][:2] == ["torch._utils._rebuild_tensor_v2", f"torch.{storage}"]
        assert theirs[1] == [("storage", f"torch.{storage}", "0", "cpu", 3)]
    else:  # an untyped storage counted in bytes, the dtype an argument of the v3 rebuild
        assert theirs[0][:2] == ["torch._utils._rebuild_tensor_v3", "torch.storage.UntypedStorage"]
        assert f"torch.{name}" in theirs[0]
        assert theirs[1] == [
            ("storage", "torch.storage.UntypedStorage", "0", "cpu", 3 * np_dtype.itemsize)
        ]
    assert ours == theirs


# --- SERIAL-3, SERIAL-4: torch's files in the reference, the reference's files in torch ------


@pytest.mark.spec("SERIAL-3")
@given(checkpoints(torch_objects=True))
@example(_example(_EXAMPLE_SPECS[0], extra=[Ref(1), {"lr": 0.1, "betas": (0.9, 0.999)}]))
@example(_example(_EXAMPLE_SPECS[1], extra=torch.Size([2, 3])))
@example(_example(_EXAMPLE_SPECS[2], extra=(float("nan"), -0.0, 2**70, None, True)))
@example(_example(_EXAMPLE_SPECS[3], extra=OrderedDict(step=3)))
@example(_example(_EXAMPLE_SPECS[-1], extra=torch.device("cuda", 1)))
def test_the_reference_reads_what_torch_writes(device, case):
    template, specs = case
    obj = materialize(template, torch_views(specs, device))
    expected = Canon().of_torch(obj)
    assert Canon().of_reference(materialize(template, numpy_views(specs))) == expected
    data = _torch_bytes(obj)
    assert Canon().of_reference(_ref_load(data, map_location="cpu")) == expected


@pytest.mark.spec("SERIAL-4")
@given(checkpoints(torch_objects=False))
@example(_example(_EXAMPLE_SPECS[0], extra=[Ref(0), Ref(1)] + _EMPTY_BYTES))
@example(_example(_EXAMPLE_SPECS[1], extra={}))
@example(  # two empty storages of different dtypes: NumPy may give both one address
    (
        OrderedDict([("a", Ref(0)), ("b", Ref(1))]),
        [("float32", b"", [((0,), (0,), 0)]), ("bool", b"", [((0,), (0,), 0)])],
    )
)
@example(_example(_EXAMPLE_SPECS[2], extra=Counter("aab")))
@example(_example(_EXAMPLE_SPECS[-1], extra=(1, -(2**31) - 1, -(2**40), 2**70) + _SETS))
def test_torch_reads_what_the_reference_writes(device, case):
    template, specs = case
    obj = materialize(template, numpy_views(specs))
    expected = Canon().of_reference(obj)
    data = _ref_bytes(obj, location=_location(device))
    loaded = _torch_load(data, map_location=device)
    assert Canon().of_torch(loaded) == expected
    for leaf in (v for k, v in loaded.items() if k != "extra"):
        assert leaf.device.type == torch.device(device).type
    assert Canon().of_reference(_ref_load(data, map_location="cpu")) == expected
    assert _ref_bytes(obj, location=_location(device)) == data  # a pure function of obj


@pytest.mark.spec("SERIAL-3")
def test_conjugate_and_attribute_tensors_load_as_their_values():
    z = torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex64)
    t = torch.arange(3.0)
    t.note = "an attribute"  # pickled through torch._tensor._rebuild_from_type_v2
    loaded = _ref_load(_torch_bytes({"conj": z.conj(), "attr": t, "p": torch.nn.Parameter(t)}))
    assert loaded["conj"].tolist() == [1 - 2j, 3 + 1j]
    assert loaded["attr"].tolist() == [0.0, 1.0, 2.0]
    assert loaded["p"].tolist() == [0.0, 1.0, 2.0]


# --- SERIAL-5, SERIAL-6: the weights_only allowlist --------------------------------------------

# Allowlisted in torch 2.11-2.14 but not in 2.4.1 (pytorch/pytorch#133189 added bytes and
# bytearray, #138866 set; releases 2.5-2.10 are not checked here).
_ADDED_AFTER_2_4 = {
    "_codecs.encode", "builtins.bytearray", "builtins.set", "builtins.complex",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch.uint16", "torch.uint32", "torch.uint64",
    *(f"torch.uint{n}" for n in range(1, 8)), *(f"torch.int{n}" for n in range(1, 8)),
}  # fmt: skip


def _exists(name: str) -> bool:
    module, _, attr = name.rpartition(".")
    try:
        return hasattr(importlib.import_module(module), attr)
    except ImportError:
        return False


def _expected_allowlist() -> tuple[set[str], set[str]]:
    """(names torch must allow here, names it may or may not allow here)."""
    here = {n for n in ref.WEIGHTS_ONLY_GLOBALS if _exists(n)}  # e.g. no torch.bcomplex32 < 2.14
    if torch_at_least("2.11"):
        return here, set()
    if not torch_at_least("2.5"):
        return here - _ADDED_AFTER_2_4, set()
    return here - _ADDED_AFTER_2_4, here & _ADDED_AFTER_2_4


def _global_pickle(module: str, name: str) -> bytes:
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."


def _archive(pickled: bytes) -> bytes:
    """A checkpoint zip around a hand-made pickle."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/version", b"3\n")
    return buffer.getvalue()


def _accepts(load, data: bytes) -> tuple[bool, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load(data)
        return True, ""
    except pickle.UnpicklingError as error:
        return False, str(error)


@pytest.mark.spec("SERIAL-5")
def test_the_allowlist_is_torchs():
    assert len(ref.WEIGHTS_ONLY_GLOBALS) == 145
    must, may = _expected_allowlist()
    private = getattr(torch, "_weights_only_unpickler", None)
    if private is not None and hasattr(private, "_get_allowed_globals"):
        allowed = set(private._get_allowed_globals())
        assert must <= allowed <= must | may, (sorted(allowed - must - may), sorted(must - allowed))
    for name in sorted(ref.WEIGHTS_ONLY_GLOBALS):  # by behaviour: a pickle that names it
        data = _archive(_global_pickle(*name.rsplit(".", 1)))
        assert _accepts(_ref_load, data)[0], name
        if name not in may:
            assert _accepts(_torch_load, data)[0] == (name in must), name


# (module, name) as a pickle writes them, and the Python 3 name both unpicklers report.
_REFUSED = [
    ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "getattr"),
    ("builtins", "eval"), ("builtins", "exec"), ("builtins", "__import__"), ("builtins", "open"),
    ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "bytes"), ("builtins", "object"),
    ("__builtin__", "xrange"), ("__builtin__", "long"), ("copy_reg", "_reconstructor"),
    ("os", "system"), ("posix", "system"), ("nt", "system"), ("sys", "exit"),
    ("subprocess", "Popen"), ("functools", "partial"), ("operator", "attrgetter"),
    ("collections", "defaultdict"), ("codecs", "encode"), ("_codecs", "decode"),
    ("pickle", "loads"), ("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
    ("torch", "load"), ("torch.nn.modules.linear", "Linear"), ("torch.nn", "Module"),
    ("torch.storage", "_load_from_bytes"), ("torch._utils", "_rebuild_tensor_v9"),
    ("__main__", "Net"),
]  # fmt: skip
_IDENTIFIER = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)


@st.composite
def pickled_globals(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return tuple(draw(st.sampled_from(sorted(ref.WEIGHTS_ONLY_GLOBALS))).rsplit(".", 1))
    if kind == 1:
        return draw(st.sampled_from(_REFUSED))
    module = ".".join(draw(st.lists(_IDENTIFIER, min_size=1, max_size=3)))
    return module, draw(_IDENTIFIER)


@pytest.mark.spec("SERIAL-6")
@pytest.mark.parametrize(("module", "name"), _REFUSED)
def test_globals_outside_the_allowlist_are_refused_by_both(module, name):
    full = ref._python3_name(module, name)
    data = _archive(_global_pickle(module, name))
    torch_info, _ = assert_both_raise(
        lambda: _torch_load(data),
        lambda: _ref_load(data),
        torch_error=pickle.UnpicklingError,
        reference_error=ref.UnpicklingError,
        match=rf"GLOBAL {full}\b",
    )
    assert full.removeprefix("builtins.") in str(torch_info)


@pytest.mark.spec("SERIAL-5", "SERIAL-6")
@given(pickled_globals())
@example(("__builtin__", "set"))  # a Python 2 name, read as builtins.set
@example(("builtins", "getattr"))
@example(("os", "system"))
def test_a_global_loads_exactly_where_torch_allows_it(pair):
    module, name = pair
    full = ref._python3_name(module, name)
    data = _archive(_global_pickle(module, name))
    must, may = _expected_allowlist()
    ref_ok, ref_message = _accepts(_ref_load, data)
    assert ref_ok == (full in ref.WEIGHTS_ONLY_GLOBALS)
    if not ref_ok:
        assert full in ref_message
    if full in may or (full in ref.WEIGHTS_ONLY_GLOBALS and full not in must):
        return  # a name this torch lacks (a newer dtype) or may lack (releases 2.5-2.10)
    torch_ok, torch_message = _accepts(_torch_load, data)
    assert torch_ok == ref_ok
    if not torch_ok and not full.startswith(
        ("torch.nested.", "torch.distributed.", "torch._dynamo.")
    ):
        assert full.removeprefix("builtins.") in torch_message  # torch drops "builtins."


_CALLS = [  # (module, name, argument template): calls a pickle would make when loaded
    ("os", "system", "touch {marker}"),
    ("posix", "system", "touch {marker}"),
    ("subprocess", "getoutput", "touch {marker}"),
    ("builtins", "exec", "open({marker!r}, 'w').close()"),
    ("builtins", "eval", "open({marker!r}, 'w').close()"),
]


@pytest.mark.spec("SERIAL-6")
@pytest.mark.parametrize(("module", "name", "argument"), _CALLS)
def test_a_pickled_call_is_refused_and_never_runs(tmp_path, module, name, argument):
    marker = str(tmp_path / "pwned")
    arg = argument.format(marker=marker).encode()
    pickled = (
        b"\x80\x02c" + f"{module}\n{name}\n".encode()
        + b"X" + struct.pack("<I", len(arg)) + arg + b"\x85R."
    )  # fmt: skip
    data = _archive(pickled)
    assert_both_raise(
        lambda: _torch_load(data),
        lambda: _ref_load(data),
        torch_error=pickle.UnpicklingError,
        reference_error=ref.UnpicklingError,
        match=rf"GLOBAL {module}\.{name}",
    )
    torch_info, _ = assert_both_raise(
        lambda: _torch_load(data), lambda: _ref_load(data), torch_error=pickle.UnpicklingError,
        reference_error=ref.UnpicklingError,
    )  # fmt: skip
    assert name in str(torch_info)
    assert not (tmp_path / "pwned").exists()


# --- SERIAL-7: only the opcodes protocol 2 writes ---------------------------------------------

_JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(st.text(max_size=2), kids, max_size=3)
        | st.lists(kids, max_size=4).map(tuple)
    ),
    max_leaves=6,
)


def _outcome(load, data: bytes):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", load(data))
        except pickle.UnpicklingError:
            result = ("refused", None)
    return result, any("protocol" in str(w.message) for w in caught)


@pytest.mark.spec("SERIAL-7")
@given(_JSON_LIKE, st.integers(0, pickle.HIGHEST_PROTOCOL))
@example({"a": [1, 2.5]}, 4)  # FRAME, SHORT_BINUNICODE, MEMOIZE
@example(True, 1)  # protocol 1 writes bools as INT text
@example(2**40, 1)  # LONG text
@example([1, "x"], 3)  # protocol 3: the same opcodes as 2, and a warning
@example(2.5, 4)  # FRAME BINFLOAT STOP: only the frame is refused
@example(12345678, 5)
def test_a_pickle_loads_iff_torch_reads_its_opcodes(obj, protocol):
    data = _archive(pickle.dumps(obj, protocol=protocol))
    (t_status, t_value), t_warned = _outcome(_torch_load, data)
    (r_status, r_value), r_warned = _outcome(_ref_load, data)
    assert r_status == t_status
    assert r_warned == t_warned == (protocol >= 2 and protocol != 2)
    if t_status == "ok":
        assert Canon().of_reference(r_value) == Canon().of_torch(t_value)
        assert Canon().of_reference(r_value) == Canon().of_reference(obj)


@pytest.mark.spec("SERIAL-5")
def test_empty_bytes_are_refused_as_builtins_bytes():
    data = _torch_bytes(b"")  # protocol 2 writes b'' as builtins.bytes()
    assert_both_raise(
        lambda: _torch_load(data),
        lambda: _ref_load(data),
        torch_error=pickle.UnpicklingError,
        reference_error=ref.UnpicklingError,
        match="builtins.bytes",
    )
    if READS["bytes"]:  # the reference writes it as _codecs.encode('', 'latin1')
        assert _torch_load(_ref_bytes(b"")) == b""


# --- SERIAL-8, SERIAL-9: the default and whole pickled models ---------------------------------

MODEL_SOURCE = """
import torch


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)
"""


@pytest.fixture
def model_module(tmp_path, monkeypatch):
    """A module defining TinyNet, importable from tmp_path for this test only."""
    name = "serial_model_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)
    path = tmp_path / f"{name}.py"
    path.write_text(MODEL_SOURCE)
    monkeypatch.syspath_prepend(tmp_path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, name, module)  # removed again at teardown
    return module


@pytest.mark.spec("SERIAL-9")
def test_a_whole_model_needs_its_class_importable(model_module, tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = model_module.TinyNet()
    path = tmp_path / "whole.pth"
    torch.save(model, path)  # the notes' "method 1"
    loaded = torch.load(path, weights_only=False)
    assert type(loaded) is model_module.TinyNet
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    qualified = f"{model_module.__name__}.TinyNet"
    assert_both_raise(
        lambda: torch.load(path, weights_only=True),
        lambda: ref.load(path),
        torch_error=pickle.UnpicklingError,
        reference_error=ref.UnpicklingError,
        match=qualified,
    )
    # Elsewhere (another script, the module gone) the class cannot be found.
    monkeypatch.delitem(sys.modules, model_module.__name__)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    with pytest.raises(ModuleNotFoundError, match=model_module.__name__):
        torch.load(path, weights_only=False)


@pytest.mark.spec("SERIAL-8")
def test_the_weights_only_default(model_module, tmp_path):
    path = tmp_path / "whole.pth"
    torch.save(model_module.TinyNet(), path)
    if torch_at_least("2.6"):
        with pytest.raises(pickle.UnpicklingError, match="TinyNet"):
            torch.load(path)  # the notes' bare torch.load
    else:
        with pytest.warns(FutureWarning, match="weights_only"):
            assert type(torch.load(path)) is model_module.TinyNet


# --- SERIAL-10, SERIAL-11: state_dicts and map_location ---------------------------------------


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.bn = torch.nn.BatchNorm2d(2)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


@pytest.mark.spec("SERIAL-10")
def test_a_state_dict_round_trip_rebuilds_the_model(device, tmp_path):
    torch.manual_seed(1)
    model = Net().to(device)
    model.train()
    model(torch.randn(4, 1, 4, 4, device=device))  # running stats and num_batches_tracked move
    model.eval()
    path = tmp_path / "model.pth"
    torch.save(model.state_dict(), path)  # the recommended way
    torch.manual_seed(2)
    fresh = Net().to(device).eval()
    result = fresh.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    assert list(result.missing_keys) == list(result.unexpected_keys) == []
    for (k1, v1), (k2, v2) in zip(
        model.state_dict().items(), fresh.state_dict().items(), strict=True
    ):
        assert k1 == k2 and v1.dtype == v2.dtype and torch.equal(v1, v2)
    x = torch.randn(2, 1, 4, 4, device=device)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
    ours = ref.load(path, map_location="cpu")  # the same file in the reference
    assert list(ours) == list(model.state_dict())
    assert ours["bn.num_batches_tracked"].dtype == np.int64 and ours["bn.num_batches_tracked"] == 1


@pytest.mark.spec("SERIAL-10")
def test_a_state_dict_in_memory_follows_the_model():
    """state_dict() returns views of the live parameters; only a saved copy is a snapshot."""
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    kept, saved = model.state_dict(), _torch_load(_torch_bytes(model.state_dict()))
    state = _torch_load(_torch_bytes(optimizer.state_dict()))
    optimizer.load_state_dict(state)
    assert kept["weight"].data_ptr() == model.weight.data_ptr()
    optimizer.step()  # moves the weight, and the loaded momentum buffer in place
    assert torch.equal(kept["weight"], model.weight)
    assert not torch.equal(saved["weight"], model.weight)
    buffer = optimizer.state[model.weight]["momentum_buffer"]
    assert buffer is state["state"][0]["momentum_buffer"]  # load_state_dict kept our tensor


@pytest.mark.spec("SERIAL-11")
def test_map_location_for_a_gpu_saved_file(device):
    weights = np.arange(4, dtype=np.float32)
    data = _ref_bytes({"w": weights}, location="cuda:0")  # as if saved on a GPU
    if torch.cuda.is_available():
        assert _torch_load(data)["w"].device == torch.device("cuda", 0)
    else:  # 2.4.1 wraps the RuntimeError in UnpicklingError when weights_only=True
        with pytest.raises((RuntimeError, pickle.UnpicklingError), match="map_location"):
            _torch_load(data)
    with pytest.raises(ValueError, match="map_location"):
        _ref_load(data)  # the reference has no GPU
    target = torch.device(device)
    for where in (str(target), target, {"cuda:0": str(target)}, lambda storage, loc: storage):
        loaded = _torch_load(data, map_location=where)["w"]
        assert loaded.device.type == (target.type if not callable(where) else "cpu")
        assert loaded.cpu().tolist() == weights.tolist()
    for where in ("cpu", torch.device("cpu"), {"cuda:0": "cpu"}, lambda storage, loc: storage):
        assert _ref_load(data, map_location=where)["w"].tolist() == weights.tolist()
    with pytest.raises(ValueError, match="map_location"):
        _ref_load(data, map_location={"cuda:1": "cpu"})  # other locations stay where they were


@pytest.mark.spec("SERIAL-11")
def test_the_notes_cpu_recipe(tmp_path):
    """Notes 001 line 36: torch.load("model_gpu.pth", map_location=torch.device("cpu"))."""
    path = tmp_path / "model_gpu.pth"
    ref.save(OrderedDict(weight=np.ones((2, 2), np.float32)), path, location="cuda:0")
    explicit = functools.partial(torch.load, weights_only=True)  # the same on every release
    for load in (explicit, ref.load):
        state = load(path, map_location=torch.device("cpu"))
        assert np.asarray(state["weight"]).tolist() == [[1.0, 1.0], [1.0, 1.0]]


# --- SERIAL-12: resuming from a checkpoint ----------------------------------------------------

_OPTIMIZERS = {
    "SGD": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "Adam": lambda p: torch.optim.Adam(p, lr=0.05),
    "AdamW": lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1),
    "RMSprop": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5),
}
_SCHEDULERS = {
    "StepLR": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
    "MultiStepLR": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [1, 3], gamma=0.3),
    "ExponentialLR": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4),
}


def _training(opt: str, sched: str, device: str, seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    model = model.to(device)
    optimizer = _OPTIMIZERS[opt](model.parameters())
    return model, optimizer, _SCHEDULERS[sched](optimizer)


_BATCHES = [  # the batch of each epoch, the same for both runs
    (torch.randn(5, 3, generator=g), torch.randn(5, 2, generator=g))
    for g in [torch.Generator().manual_seed(7)]
    for _ in range(6)
]


def _epochs(model, optimizer, scheduler, n: int, start: int, device: str) -> None:
    for epoch in range(start, start + n):
        x, y = _BATCHES[epoch]
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x.to(device)), y.to(device)).backward()
        optimizer.step()
        scheduler.step()


@pytest.mark.spec("SERIAL-12")
@given(
    st.sampled_from(sorted(_OPTIMIZERS)), st.sampled_from(sorted(_SCHEDULERS)),
    st.integers(0, 3), st.integers(1, 2),
)  # fmt: skip
def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(device, opt, sched, k, n):
    model, optimizer, scheduler = _training(opt, sched, device, seed=0)
    _epochs(model, optimizer, scheduler, k, 0, device)
    checkpoint = _torch_bytes({
        "epoch": k, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
    })  # fmt: skip
    _epochs(model, optimizer, scheduler, n, k, device)  # the uninterrupted run goes on

    resumed = _training(opt, sched, device, seed=1)  # other initial weights: all must load
    state = _torch_load(checkpoint, map_location="cpu")  # load_state_dict moves to the device
    resumed[0].load_state_dict(state["model"])
    resumed[1].load_state_dict(state["optimizer"])
    resumed[2].load_state_dict(state["scheduler"])
    _epochs(*resumed, n, state["epoch"], device)

    for p, q in zip(model.parameters(), resumed[0].parameters(), strict=True):
        assert torch.equal(p, q)
    assert resumed[1].param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert resumed[2].last_epoch == scheduler.last_epoch == k + n
    assert resumed[2].get_last_lr() == scheduler.get_last_lr()
    theirs, ours = optimizer.state_dict()["state"], resumed[1].state_dict()["state"]
    assert theirs.keys() == ours.keys()
    for i in theirs:
        for key, value in theirs[i].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(ours[i][key])), key


# --- SERIAL-13, SERIAL-14, SERIAL-15: damaged and invalid files -------------------------------


def _rewrite(data: bytes, change) -> bytes:
    """A copy of a checkpoint with ``change(name, bytes)`` applied to every record (None
    drops the record)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            payload = change(info.filename.split("/", 1)[1], source.read(info))
            if payload is not None:
                target.writestr(info.filename, payload)
    return buffer.getvalue()


@pytest.mark.spec("SERIAL-13")
@given(checkpoints(torch_objects=False), st.data())
def test_a_truncated_file_raises_in_both(case, data):
    template, specs = case
    saved = _torch_bytes(materialize(template, torch_views(specs, "cpu")))
    cut = saved[: data.draw(st.integers(0, len(saved) - 1), label="length")]
    assert_both_raise(
        lambda: _torch_load(cut),
        lambda: _ref_load(cut),
        torch_error=(RuntimeError, pickle.UnpicklingError, EOFError),
        reference_error=ref.UnpicklingError,
    )


@pytest.mark.spec("SERIAL-14")
@given(checkpoints(torch_objects=False), st.data())
def test_a_flipped_byte_never_loads_wrong_values_in_the_reference(case, data):
    template, specs = case
    obj = materialize(template, torch_views(specs, "cpu"))
    saved = bytearray(_torch_bytes(obj))
    saved[data.draw(st.integers(0, len(saved) - 1), label="at")] ^= data.draw(
        st.integers(1, 255), label="mask"
    )
    try:
        loaded = _ref_load(bytes(saved))
    except ref.UnpicklingError:
        return
    assert Canon().of_reference(loaded) == Canon().of_torch(obj)  # a harmless byte


@pytest.mark.spec("SERIAL-14")
def test_torch_does_not_check_the_crc():
    weights = torch.arange(4.0)
    saved = bytearray(_torch_bytes({"w": weights}))
    offset = _records(bytes(saved))["archive/data/0"][0]
    saved[offset + 1] ^= 0x40  # a bit of the first float's mantissa
    loaded = _torch_load(bytes(saved))["w"]  # no error: a different value
    assert loaded[0].item() != 0.0 and torch.equal(loaded[1:], weights[1:])
    with pytest.raises(ref.UnpicklingError, match="CRC"):
        _ref_load(bytes(saved))


def _saved_state() -> bytes:
    return _torch_bytes({"w": torch.arange(4.0)})


def _changed(record: str, payload: bytes | None):
    """A maker of a saved state with one record replaced (None: dropped)."""
    return lambda: _rewrite(_saved_state(), lambda n, b: payload if n == record else b)


def _out_of_bounds_view() -> bytes:
    """A 4-element storage viewed with size 9: only a damaged or forged pickle says so."""
    data = _ref_bytes(np.arange(4, dtype=np.float32))
    pkl = zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl")
    assert pkl.count(b"K\x04\x85") == 1  # the size tuple (4,)
    forged = pkl.replace(b"K\x04\x85", b"K\x09\x85")
    return _rewrite(data, lambda n, b: forged if n == "data.pkl" else b)


# (id, how to damage a torch.save file, torch's exception, a keyword of torch's message or
# None, a keyword of the reference's): error_inputs for files.
INVALID_FILES = [
    ("empty", lambda: b"", EOFError, None, "empty"),
    ("not a zip", lambda: b"not a checkpoint", pickle.UnpicklingError, None, "not a zip"),
    ("truncated", lambda: _saved_state()[:-22], RuntimeError, "central directory", "zip"),
    ("no data.pkl", _changed("data.pkl", None),
     (RuntimeError, pickle.UnpicklingError), "data.pkl", "data.pkl"),
    ("no storage", _changed("data/0", None),
     (RuntimeError, pickle.UnpicklingError), "data/0", "data/0"),
    ("no version", _changed("version", None), RuntimeError, "version", "version"),
    ("version 0", _changed("version", b"0\n"), RuntimeError, "version", "version"),
    ("version 11", _changed("version", b"11\n"), RuntimeError, "version", "version"),
    ("byteorder", _changed("byteorder", b"middle"), ValueError, "endianness", "endianness"),
    ("persistent id", lambda: _archive(b"\x80\x02X\x04\x00\x00\x00evil\x85Q."),
     pickle.UnpicklingError, "persistent_load of storage", "persistent id"),
    ("opcode", lambda: _archive(b"\x80\x02\x82\x01."),  # EXT1: the copyreg extension registry
     pickle.UnpicklingError, "Unsupported operand", "Unsupported operand"),
    ("append to a dict", lambda: _archive(b"\x80\x02}K\x01a."),
     pickle.UnpicklingError, "append to lists", "append to lists"),
    ("view out of bounds", lambda: _out_of_bounds_view(),
     (RuntimeError, pickle.UnpicklingError), "storage", "out of bounds"),
]  # fmt: skip


@pytest.mark.spec("SERIAL-15")
@pytest.mark.parametrize(
    ("make", "torch_error", "torch_match", "ref_match"),
    [pytest.param(*row[1:], id=row[0]) for row in INVALID_FILES],
)
def test_invalid_files_raise_in_both(make, torch_error, torch_match, ref_match):
    data = make()
    torch_info, _ = assert_both_raise(
        lambda: _torch_load(data),
        lambda: _ref_load(data),
        torch_error=torch_error,
        reference_error=ref.UnpicklingError,
        match=ref_match,
    )
    if torch_match is not None:
        assert torch_match in str(torch_info)


@pytest.mark.spec("SERIAL-15")
def test_a_storage_record_of_the_wrong_size():
    for change in (lambda b: b[:8], lambda b: b + b"\x00" * 4):
        data = _rewrite(_saved_state(), lambda n, b, c=change: c(b) if n == "data/0" else b)
        with pytest.raises(ref.UnpicklingError, match="record size"):
            _ref_load(data)
        if torch_at_least("2.11"):
            with pytest.raises(RuntimeError, match="record size"):
                _torch_load(data)
        elif not torch_at_least("2.5"):
            assert _torch_load(data)["w"].shape == (4,)  # read without a check


@pytest.mark.spec("SERIAL-15")
def test_a_big_endian_file_is_byte_swapped():
    values = np.array([1.5, -2.0, 3.25], np.float32)
    data = _rewrite(
        _ref_bytes({"w": values}),
        lambda n, b: (
            b"big" if n == "byteorder" else values.byteswap().tobytes() if n == "data/0" else b
        ),
    )
    assert _torch_load(data)["w"].tolist() == _ref_load(data)["w"].tolist() == values.tolist()


@pytest.mark.spec("SERIAL-4")
def test_save_rejects_what_torch_cannot_read():
    for bad in (frozenset({1}), np.float64(1.0), lambda: None, np.array(["a"]), object()):
        with pytest.raises(TypeError, match="cannot save"):
            ref.save(bad, io.BytesIO())
    with pytest.raises(ValueError, match="location"):
        ref.save({}, io.BytesIO(), location="GPU zero")
    a = np.zeros(4, np.float32)
    assert_both_raise(
        lambda: torch.save(
            [torch.from_numpy(a), torch.from_numpy(a).view(torch.int32)], io.BytesIO()
        ),
        lambda: ref.save([a, a.view(np.int32)], io.BytesIO()),
        match="different types",
    )


# --- SERIAL-16 ... SERIAL-18: torch.hub ------------------------------------------------------

HUBCONF = '''
"""Entrypoints of a local hub repository."""
dependencies = ["torch"{extra}]

import torch
from torch import nn
from torch.nn import Identity


def mlp(hidden=4, *, seed=0):
    """MLP(3 -> hidden -> 2) with ReLU."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 2))


def tiny_cnn(channels=2):
    """One 3x3 convolution."""
    return nn.Conv2d(1, channels, 3)


def _helper():
    return None
'''


@pytest.fixture
def hub_repo(tmp_path, monkeypatch):
    """A repository 'learner/models' as torch.hub caches it, and the hub dir pointing there."""
    hub_dir = tmp_path / "hub"
    repo = hub_dir / "learner_models_main"
    repo.mkdir(parents=True)
    (repo / "hubconf.py").write_text(HUBCONF.format(extra=""))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(hub_dir))  # what torch.hub.set_dir sets
    return repo


@pytest.mark.spec("SERIAL-16")
def test_hub_list_and_help_read_the_cached_repository(hub_repo):
    entrypoints = torch.hub.list("learner/models:main", verbose=False)
    assert entrypoints == ["Identity", "mlp", "tiny_cnn"]  # public callables, imports too
    assert torch.hub.help("learner/models:main", "mlp") == "MLP(3 -> hidden -> 2) with ReLU."


@pytest.mark.spec("SERIAL-17")
def test_hub_load_calls_the_entrypoint_with_its_arguments(hub_repo):
    model = torch.hub.load(str(hub_repo), "mlp", 8, source="local", seed=3)
    assert [tuple(p.shape) for p in model.parameters()] == [(8, 3), (8,), (2, 8), (2,)]
    torch.manual_seed(3)
    expected = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    assert torch.equal(model[0].weight, expected[0].weight)
    assert isinstance(torch.hub.load(str(hub_repo), "tiny_cnn", source="local"), torch.nn.Conv2d)
    assert "hubconf" not in sys.modules and str(hub_repo) not in sys.path


@pytest.mark.spec("SERIAL-18")
def test_hub_errors(hub_repo):
    with pytest.raises(RuntimeError, match="Cannot find callable resnet18 in hubconf"):
        torch.hub.load(str(hub_repo), "resnet18", source="local")
    with pytest.raises(ValueError, match="source"):
        torch.hub.load(str(hub_repo), "mlp", source="gitlab")
    (hub_repo / "hubconf.py").write_text(HUBCONF.format(extra=', "no_such_package_x"'))
    assert "mlp" in torch.hub.list("learner/models:main", verbose=False)  # list does not check
    for call in (
        lambda: torch.hub.load(str(hub_repo), "mlp", source="local"),
        lambda: torch.hub.help("learner/models:main", "mlp"),
    ):
        with pytest.raises(RuntimeError, match="Missing dependencies: no_such_package_x"):
            call()


# --- SERIAL-19 ... SERIAL-23: TorchScript and torch.export ------------------------------------


class MyDecisionGate(torch.nn.Module):  # notes 002, 9.2
    def forward(self, x):
        if x.sum() > 0:
            return x
        else:
            return -x


class MyCell(torch.nn.Module):  # notes 002, 9.2 (9.1 without the gate)
    def __init__(self, dg):
        super().__init__()
        self.dg = dg
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = torch.tanh(self.dg(self.linear(x)) + h)
        return new_h, new_h


def _recorded(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = make()
    return result, [(w.category, str(w.message)) for w in caught]


def _jit_round_trip(module):
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer), buffer.getvalue()


@pytest.fixture(scope="module")
def jit():
    """The notes' modules, traced and scripted once for the module (seconds each)."""
    torch.manual_seed(0)
    positive = torch.ones(2)
    gate = MyDecisionGate()
    traced_gate, trace_warnings = _recorded(lambda: torch.jit.trace(gate, (positive,)))
    scripted_gate, script_warnings = _recorded(lambda: torch.jit.script(MyDecisionGate()))
    cell = MyCell(scripted_gate)
    x, h = torch.rand(3, 4), torch.rand(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted_cell = torch.jit.script(cell)
        traced_cell = torch.jit.trace(MyCell(MyDecisionGate()), (x, h))
        (loaded_script, script_bytes), _ = _recorded(lambda: _jit_round_trip(scripted_cell))
        loaded_trace, _ = _jit_round_trip(traced_cell)
    (_, _), save_warnings = _recorded(lambda: _jit_round_trip(scripted_gate))
    return SimpleNamespace(**locals())


@pytest.mark.spec("SERIAL-19")
def test_trace_freezes_the_branch_it_took(jit):
    negative = -torch.ones(2)
    assert torch.equal(jit.gate(negative), torch.ones(2))  # eager: -x
    assert torch.equal(jit.traced_gate(negative), negative)  # traced: x, whatever the sign
    assert "if" not in jit.traced_gate.code
    assert any(issubclass(c, torch.jit.TracerWarning) for c, _ in jit.trace_warnings)


@pytest.mark.spec("SERIAL-20")
def test_script_keeps_the_control_flow(jit):
    for x in (torch.ones(2), -torch.ones(2), torch.tensor([2.0, -3.0])):
        assert torch.equal(jit.scripted_gate(x), jit.gate(x))
    assert "if" in jit.scripted_gate.code
    for x in (jit.x, -jit.x):
        eager, scripted = jit.cell(x, jit.h), jit.scripted_cell(x, jit.h)
        assert all(torch.equal(a, b) for a, b in zip(eager, scripted, strict=True))


@pytest.mark.spec("SERIAL-21")
def test_jit_save_and_load_keep_the_outputs(jit):
    for x in (jit.x, -jit.x):
        expected = jit.scripted_cell(x, jit.h)
        assert all(
            torch.equal(a, b) for a, b in zip(jit.loaded_script(x, jit.h), expected, strict=True)
        )
        traced = jit.traced_cell(x, jit.h)
        assert all(
            torch.equal(a, b) for a, b in zip(jit.loaded_trace(x, jit.h), traced, strict=True)
        )
    data = jit.script_bytes
    with pytest.raises(ref.UnpicklingError, match="TorchScript"):
        _ref_load(data)
    if torch_at_least("2.11"):
        with (
            pytest.warns(UserWarning, match="TorchScript"),
            pytest.raises(RuntimeError, match="TorchScript"),
        ):
            _torch_load(data)
    elif not torch_at_least("2.5"):
        with pytest.warns(UserWarning, match="TorchScript"):
            assert isinstance(_torch_load(data), torch.jit.ScriptModule)  # dispatched


@pytest.mark.spec("SERIAL-22")
def test_which_releases_deprecate_torchscript(jit):
    recorded = {"trace": jit.trace_warnings, "script": jit.script_warnings,
                "save/load": jit.save_warnings}  # fmt: skip
    for what, caught in recorded.items():
        deprecations = [c for c, m in caught if "deprecated" in m and "torch.export" in m]
        if torch_at_least("2.14"):
            assert deprecations and all(c is FutureWarning for c in deprecations), what
        elif torch_at_least("2.11"):
            assert deprecations and all(c is DeprecationWarning for c in deprecations), what
        elif not torch_at_least("2.5"):
            assert deprecations == [], what
        else:
            assert all(issubclass(c, DeprecationWarning | FutureWarning) for c in deprecations)


@pytest.fixture(scope="module")
def exported():
    """The notes' 9.1 cell, exported and round-tripped through torch.export.save/load."""
    torch.manual_seed(0)
    cell = MyCell(torch.nn.Identity())
    x, h = torch.rand(3, 4), torch.rand(3, 4)
    program = torch.export.export(cell, (x, h))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 2.4.1's loader warns about its own torch.load
        loaded = torch.export.load(buffer)
    return SimpleNamespace(**locals())


@pytest.mark.spec("SERIAL-23")
def test_export_captures_the_program_and_saves_it(exported):
    assert isinstance(exported.program, torch.export.ExportedProgram)
    for x in (exported.x, -exported.x):
        eager = exported.cell(x, exported.h)
        for program in (exported.program, exported.loaded):
            out = program.module()(x, exported.h)
            assert all(
                torch.allclose(a, b, rtol=1e-6, atol=1e-7) for a, b in zip(out, eager, strict=True)
            )
    strict = inspect.signature(torch.export.export).parameters["strict"].default
    if torch_at_least("2.11"):
        assert strict is False  # non-strict: traced with torch's own dispatch, not Dynamo
    elif not torch_at_least("2.5"):
        assert strict is True


@pytest.mark.spec("SERIAL-23")
def test_export_refuses_a_data_dependent_branch(exported):
    with pytest.raises(RuntimeError, match="(?i)data-dependent|control flow"):
        torch.export.export(MyDecisionGate(), (torch.ones(2),))
