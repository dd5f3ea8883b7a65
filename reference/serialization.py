"""Checkpoint files: ``torch.save``'s zip format and ``torch.load``'s ``weights_only``
unpickler, from first principles (clauses SERIAL-*).

A checkpoint is a zip archive whose records all sit in one folder (``archive/`` when saved to
a buffer, the file name without its extension when saved to a path):

- ``data.pkl``: the object, pickled with protocol 2. A tensor is pickled as the call
  ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  backward_hooks)``; its storage is a *persistent id*
  ``('storage', storage_type, key, location, numel)`` that names a record instead of
  holding the bytes.
- ``data/<key>``: the raw little-endian bytes of each storage, written once however many
  tensors view it, so that views still share memory after loading.
- ``byteorder`` (``little``), ``version`` (``3``), ``.data/serialization_id`` and, from
  some release after 2.4, ``.format_version`` and ``.storage_alignment`` (``64``: every
  record's bytes start at a multiple of 64 in the file).

[`load`][reference.serialization.load] reads such files with NumPy arrays for tensors,
through an opcode-by-opcode unpickler that builds only what torch's ``weights_only``
allowlist ([`WEIGHTS_ONLY_GLOBALS`][reference.serialization.WEIGHTS_ONLY_GLOBALS]) names:
no code from the file runs. [`save`][reference.serialization.save] writes files that
``torch.load(f, weights_only=True)`` reads back equal.

Zip, pickle opcodes and NumPy only: this module is part of the independent oracle and never
imports torch.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import math
import os
import pickle
import pickletools
import re
import struct
import warnings
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

__all__ = ["load", "save", "bfloat16", "WEIGHTS_ONLY_GLOBALS", "UnpicklingError", "TorchName"]

PathOrFile = str | os.PathLike | IO[bytes]
MapLocation = str | Mapping[str, str] | Callable[[np.ndarray, str], Any] | None


class UnpicklingError(pickle.UnpicklingError, ValueError):
    """A checkpoint the reference refuses: a global outside the allowlist, an opcode torch's
    ``weights_only`` unpickler does not read, or a damaged or truncated file. It is both a
    ``pickle.UnpicklingError`` (what ``torch.load`` raises for a refused global) and a
    ``ValueError``."""


class TorchName(str):
    """A torch object the reference names but does not model: a dtype (``'torch.float32'``),
    a layout, a quantization scheme or a tensor class. It equals ``str`` of the torch object,
    so ``TorchName('torch.float32') == str(torch.float32)``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TorchName({str.__repr__(self)})"


# --- dtypes ---------------------------------------------------------------------------------


def _words(name: str, base: type) -> np.dtype:
    return np.dtype(base, metadata={"torch.dtype": f"torch.{name}"})


bfloat16: np.dtype = _words("bfloat16", np.uint16)
"""The dtype of loaded ``torch.bfloat16`` arrays: their raw 16-bit words as ``uint16`` (the
high half of the float32 with the same sign, exponent and leading 7 mantissa bits), tagged
``dtype.metadata == {'torch.dtype': 'torch.bfloat16'}``. It compares equal to ``np.uint16``;
[`save`][reference.serialization.save] writes arrays of this dtype as bfloat16 tensors, so
``words.view(bfloat16)`` saves 16-bit words as bfloat16."""


@dataclass(frozen=True)
class _DType:
    name: str  # torch's name without the "torch." prefix
    numpy: np.dtype  # little-endian; a tagged unsigned word type where NumPy has no equivalent
    storage: str | None  # the legacy typed-storage class torch.save names; None: untyped + v3


_DTYPES = (
    _DType("float64", np.dtype("<f8"), "DoubleStorage"),
    _DType("float32", np.dtype("<f4"), "FloatStorage"),
    _DType("float16", np.dtype("<f2"), "HalfStorage"),
    _DType("bfloat16", bfloat16, "BFloat16Storage"),
    _DType("int64", np.dtype("<i8"), "LongStorage"),
    _DType("int32", np.dtype("<i4"), "IntStorage"),
    _DType("int16", np.dtype("<i2"), "ShortStorage"),
    _DType("int8", np.dtype("i1"), "CharStorage"),
    _DType("uint8", np.dtype("u1"), "ByteStorage"),
    _DType("bool", np.dtype("?"), "BoolStorage"),
    _DType("complex128", np.dtype("<c16"), "ComplexDoubleStorage"),
    _DType("complex64", np.dtype("<c8"), "ComplexFloatStorage"),
    _DType("uint16", np.dtype("<u2"), None),
    _DType("uint32", np.dtype("<u4"), None),
    _DType("uint64", np.dtype("<u8"), None),
    _DType("float8_e4m3fn", _words("float8_e4m3fn", np.uint8), None),
    _DType("float8_e5m2", _words("float8_e5m2", np.uint8), None),
    _DType("float8_e4m3fnuz", _words("float8_e4m3fnuz", np.uint8), None),
    _DType("float8_e5m2fnuz", _words("float8_e5m2fnuz", np.uint8), None),
)
_BY_NAME = {d.name: d for d in _DTYPES}
_BY_STORAGE = {f"torch.{d.storage}": d for d in _DTYPES if d.storage}
_UNTYPED = _DType("uint8", np.dtype("u1"), None)  # torch.storage.UntypedStorage: bytes
_BY_KIND = {  # untagged NumPy dtypes by (kind, itemsize)
    (d.numpy.kind, d.numpy.itemsize): d for d in _DTYPES if not d.numpy.metadata
}


def _dtype_of_array(array: np.ndarray) -> _DType:
    tag = (array.dtype.metadata or {}).get("torch.dtype")
    if tag is not None:
        entry = _BY_NAME.get(str(tag).removeprefix("torch."))
        if entry is None:
            raise TypeError(f"unknown torch dtype tag {tag!r} on an array")
        return entry
    entry = _BY_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if entry is None or array.dtype.fields is not None:
        raise TypeError(
            f"cannot save an array of dtype {array.dtype}: torch has no such dtype "
            "(bool, int8-64, uint8-64, float16-64, complex64/128, or words tagged as bfloat16)"
        )
    return entry


# --- the weights_only allowlist ---------------------------------------------------------------

_TENSOR_TYPES = ("Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte")
_STORAGE_TYPES = (*_TENSOR_TYPES, "Bool", "ComplexDouble", "ComplexFloat")
_QUANTIZED_STORAGES = ("QInt32", "QInt8", "QUInt2x4", "QUInt4x2", "QUInt8")
_DTYPE_NAMES = (
    "float64", "float32", "float16", "bfloat16", "complex128", "complex64", "complex32",
    "bcomplex32", "bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32",
    "uint64", *(f"uint{n}" for n in range(1, 8)), *(f"int{n}" for n in range(1, 8)),
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
    "float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2",
    "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
)  # fmt: skip
_QSCHEMES = (
    "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
    "per_channel_symmetric", "per_channel_affine_float_qparams",
)  # fmt: skip
_LAYOUTS = (
    "torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.sparse_csc",
    "torch.sparse_bsr", "torch.sparse_bsc", "torch._mkldnn", "torch.jagged",
)  # fmt: skip
_UNMODELLED_REBUILDS = {  # allowlisted by torch; no NumPy counterpart in the reference
    "_rebuild_qtensor": "quantized",
    "_rebuild_sparse_tensor": "sparse",
    "_rebuild_nested_tensor": "nested",
    "_rebuild_meta_tensor_no_storage": "meta (storage-less)",
    "_rebuild_wrapper_subclass": "wrapper-subclass",
    "_rebuild_device_tensor_from_numpy": "NumPy-backed device",
    "_rebuild_device_tensor_from_cpu_tensor": "storage-less device",
}
_BLOCKED_MODULES = ("sys", "os", "posix", "nt")  # refused even when allowlisted by a user

# Python 2 names that protocol 2 writes, read under their Python 3 names (as pickle and torch
# do): modules, then (module, name) pairs.
_PY2_MODULES = {
    "__builtin__": "builtins", "copy_reg": "copyreg", "Queue": "queue", "repr": "reprlib",
    "_abcoll": "collections.abc", "UserDict": "collections", "UserList": "collections",
    "UserString": "collections", "whichdb": "dbm", "StringIO": "io", "cStringIO": "io",
}  # fmt: skip
_PY2_NAMES = {
    ("__builtin__", "xrange"): ("builtins", "range"),
    ("__builtin__", "reduce"): ("functools", "reduce"),
    ("__builtin__", "intern"): ("sys", "intern"),
    ("__builtin__", "unichr"): ("builtins", "chr"),
    ("__builtin__", "unicode"): ("builtins", "str"),
    ("__builtin__", "long"): ("builtins", "int"),
    ("itertools", "izip"): ("builtins", "zip"),
    ("itertools", "imap"): ("builtins", "map"),
    ("itertools", "ifilter"): ("builtins", "filter"),
    ("itertools", "ifilterfalse"): ("itertools", "filterfalse"),
    ("itertools", "izip_longest"): ("itertools", "zip_longest"),
    ("UserDict", "IterableUserDict"): ("collections", "UserDict"),
    ("UserList", "UserList"): ("collections", "UserList"),
    ("UserString", "UserString"): ("collections", "UserString"),
    ("whichdb", "whichdb"): ("dbm", "whichdb"),
    ("_socket", "fromfd"): ("socket", "fromfd"),
    ("_multiprocessing", "Connection"): ("multiprocessing.connection", "Connection"),
    ("multiprocessing.process", "Process"): ("multiprocessing.context", "Process"),
    ("multiprocessing.forking", "Popen"): ("multiprocessing.popen_fork", "Popen"),
    ("urllib", "ContentTooShortError"): ("urllib.error", "ContentTooShortError"),
    ("urllib", "getproxies"): ("urllib.request", "getproxies"),
    ("urllib", "pathname2url"): ("urllib.request", "pathname2url"),
    ("urllib", "quote_plus"): ("urllib.parse", "quote_plus"),
    ("urllib", "quote"): ("urllib.parse", "quote"),
    ("urllib", "unquote_plus"): ("urllib.parse", "unquote_plus"),
    ("urllib", "unquote"): ("urllib.parse", "unquote"),
    ("urllib", "url2pathname"): ("urllib.request", "url2pathname"),
    ("urllib", "urlcleanup"): ("urllib.request", "urlcleanup"),
    ("urllib", "urlencode"): ("urllib.parse", "urlencode"),
    ("urllib", "urlopen"): ("urllib.request", "urlopen"),
    ("urllib", "urlretrieve"): ("urllib.request", "urlretrieve"),
    ("urllib2", "HTTPError"): ("urllib.error", "HTTPError"),
    ("urllib2", "URLError"): ("urllib.error", "URLError"),
}


def _python3_name(module: str, name: str) -> str:
    if (module, name) in _PY2_NAMES:
        module, name = _PY2_NAMES[(module, name)]
    else:
        module = _PY2_MODULES.get(module, module)
    return f"{module}.{name}"


# Stand-ins: what each allowlisted global is, in NumPy terms.


@dataclass
class _Storage:
    data: np.ndarray  # uint8, writable: the storage's bytes after byte order and map_location
    dtype: _DType  # _UNTYPED for torch.storage.UntypedStorage
    location: str


def _check_view_args(offset: Any, size: Any, stride: Any) -> tuple[int, tuple, tuple]:
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise UnpicklingError(f"storage offset {offset!r} is not a non-negative int")
    for name, value in (("size", size), ("stride", stride)):
        if not isinstance(value, tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
        ):
            raise UnpicklingError(f"{name} {value!r} is not a tuple of non-negative ints")
    if len(size) != len(stride):
        raise UnpicklingError(f"size {size} and stride {stride} differ in length")
    return offset, size, stride


def _view(storage: Any, dtype: _DType, offset: Any, size: Any, stride: Any, metadata: Any):
    r"""The array ``(storage, offset, size, stride)`` denotes: element $i$ at byte
    $(\text{offset} + \sum_d i_d\,\text{stride}_d) \cdot \text{itemsize}$ of the storage."""
    if not isinstance(storage, _Storage):
        raise UnpicklingError(f"a tensor rebuild got {type(storage).__name__}, not a storage")
    offset, size, stride = _check_view_args(offset, size, stride)
    itemsize = dtype.numpy.itemsize
    nbytes = storage.data.size
    numel = math.prod(size)
    if numel:
        needed = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1
        if needed * itemsize > nbytes:
            raise UnpicklingError(
                f"sizes {list(size)}, strides {list(stride)}, storage offset {offset} and "
                f"itemsize {itemsize} need {needed * itemsize} bytes: out of bounds for a "
                f"storage of {nbytes} bytes"
            )
    array = np.ndarray(
        size,
        dtype=dtype.numpy,
        buffer=storage.data,
        offset=min(offset * itemsize, nbytes) if not numel else offset * itemsize,
        strides=tuple(s * itemsize for s in stride),
    )
    if metadata:
        if not isinstance(metadata, dict):
            raise UnpicklingError(f"tensor metadata {metadata!r} is not a dict")
        if metadata.get("conj"):
            array = np.conj(array)  # the stored bytes are the unconjugated values
        if metadata.get("neg"):
            if dtype.numpy.metadata:
                raise UnpicklingError(f"a negative-bit view of torch.{dtype.name} words")
            array = np.negative(array)
    return array


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _view(storage, getattr(storage, "dtype", _UNTYPED), storage_offset, size, stride, None)


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
    metadata=None,
):  # fmt: skip
    dtype = getattr(storage, "dtype", _UNTYPED)
    return _view(storage, dtype, storage_offset, size, stride, metadata)


def _rebuild_tensor_v3(
    storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None
):
    entry = _BY_NAME.get(str(dtype).removeprefix("torch.")) if isinstance(dtype, str) else None
    if entry is None:
        raise UnpicklingError(f"dtype {dtype!r}: the reference has no NumPy type for it")
    return _view(storage, entry, storage_offset, size, stride, metadata)


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None):
    return _parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _parameter(data, requires_grad)  # Python attributes of the Parameter are dropped


def _parameter(data=None, requires_grad=True):
    if data is None:
        return np.empty((0,), np.float32)  # torch.nn.Parameter() is an empty float tensor
    if not isinstance(data, np.ndarray):
        raise UnpicklingError(f"a Parameter of {type(data).__name__}, not of a tensor")
    return data


_TENSOR_CLASS = TorchName("torch.Tensor")


def _rebuild_from_type_v2(func, new_type, args, state):
    if id(func) not in _ALLOWED_IDS or not callable(func):
        raise UnpicklingError(f"_rebuild_from_type_v2 with {func!r}, not an allowed rebuild")
    if new_type is not _TENSOR_CLASS and new_type is not _parameter:
        raise UnpicklingError(f"a tensor of type {new_type!r}: the reference models torch.Tensor")
    if not isinstance(args, tuple):
        raise UnpicklingError(f"rebuild arguments {args!r} are not a tuple")
    return func(*args)  # Python attributes set on the tensor (state) are dropped


def _unmodelled(name: str, kind: str) -> Callable[..., Any]:
    def rebuild(*args: Any) -> Any:
        raise UnpicklingError(
            f"torch._utils.{name}: torch allows it, but the reference does not model {kind} tensors"
        )

    rebuild.__name__ = name
    return rebuild


def _size(sizes=()):
    if not all(isinstance(s, int) for s in sizes):
        raise UnpicklingError(f"torch.Size of {sizes!r}")
    return tuple(sizes)  # torch.Size loads as a plain tuple


def _device(kind, index=None):
    if not isinstance(kind, str) or not (index is None or isinstance(index, int)):
        raise UnpicklingError(f"torch.device({kind!r}, {index!r})")
    return kind if index is None else f"{kind}:{index}"  # str(torch.device(...))


def _get_layout(name):
    if name not in _LAYOUTS:
        raise UnpicklingError(f"unknown layout {name!r}")
    return TorchName(name)


def _bytearray(data=b""):
    if not isinstance(data, (bytes, bytearray)):  # what pickle writes: bytes via _codecs.encode
        raise UnpicklingError(f"bytearray of {type(data).__name__}: the reference takes bytes")
    return bytearray(data)


def _allowed_globals() -> dict[str, Any]:
    allowed: dict[str, Any] = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "torch.nn.parameter.Parameter": _parameter,
        "torch.serialization._get_layout": _get_layout,
        "torch.Size": _size,
        "torch.Tensor": _TENSOR_CLASS,
        "torch.device": _device,
        "_codecs.encode": codecs.encode,  # bytes: protocol 2 writes encode(latin-1 str)
        "builtins.bytearray": _bytearray,
        "builtins.set": set,
        "builtins.complex": complex,
    }
    names = [f"torch.{n}" for n in (*_DTYPE_NAMES, *_QSCHEMES)]
    names += [f"torch.{t}Tensor" for t in (*_TENSOR_TYPES, "Bool")]
    names += [f"torch.cuda.{t}Tensor" for t in (*_TENSOR_TYPES, "Bool")]
    names += [f"torch.sparse.{t}Tensor" for t in _TENSOR_TYPES]
    names += [f"torch.cuda.sparse.{t}Tensor" for t in _TENSOR_TYPES]
    names += [f"torch.{t}Storage" for t in (*_STORAGE_TYPES, *_QUANTIZED_STORAGES)]
    names += [f"torch.cuda.{t}Storage" for t in _STORAGE_TYPES]
    names += ["torch.storage.TypedStorage", "torch.storage.UntypedStorage"]
    allowed.update({name: TorchName(name) for name in names})
    rebuilds = {
        "_rebuild_tensor": _rebuild_tensor,
        "_rebuild_tensor_v2": _rebuild_tensor_v2,
        "_rebuild_tensor_v3": _rebuild_tensor_v3,
        "_rebuild_parameter": _rebuild_parameter,
        "_rebuild_parameter_with_state": _rebuild_parameter_with_state,
        **{name: _unmodelled(name, kind) for name, kind in _UNMODELLED_REBUILDS.items()},
    }
    allowed.update({f"torch._utils.{name}": f for name, f in rebuilds.items()})
    allowed["torch._tensor._rebuild_from_type_v2"] = _rebuild_from_type_v2
    return allowed


_ALLOWED = _allowed_globals()
_ALLOWED_IDS = {id(v) for v in _ALLOWED.values()}
_NEWOBJ_CLASSES = {OrderedDict, Counter, set, complex}

WEIGHTS_ONLY_GLOBALS: frozenset[str] = frozenset(_ALLOWED)
"""The globals ``torch.load(weights_only=True)`` accepts by default, as torch 2.14 names them
(``module.name``, after mapping Python 2 names such as ``__builtin__`` to Python 3): the
tensor and Parameter rebuild functions, ``collections.OrderedDict`` and ``Counter``,
``builtins.set``, ``complex`` and ``bytearray``, ``_codecs.encode`` (bytes), ``torch.Size``,
``torch.device``, ``torch.Tensor``, layouts, every dtype and quantization scheme, and the
legacy tensor and storage classes: 145 names. Every other global is refused, ``builtins.list``,
``getattr`` and ``eval`` included, and modules ``sys``, ``os``, ``posix`` and ``nt`` always."""


# --- reading -----------------------------------------------------------------------------------

_DEFAULT_FOLDER = "archive"
_MAX_VERSION = 10  # torch 2.4-2.14 read file format versions 1-10


def _default_restore(storage: np.ndarray, location: str) -> np.ndarray:
    if location == "cpu":
        return storage
    raise ValueError(
        f"a storage saved on {location!r}: the reference keeps arrays in host memory, so load "
        f"with map_location='cpu' (or a dict or a function mapping {location!r} to 'cpu')"
    )


def _restore_location(map_location: MapLocation) -> Callable[[np.ndarray, str], np.ndarray]:
    """torch's rules for ``map_location``: None keeps each storage's saved location; a
    string (or a ``torch.device``, by its ``str``) names one location for all; a dict maps
    saved locations to new ones (others unchanged); a function ``f(storage, location)``
    returns the storage to use, or None for the default."""
    if map_location is None:
        return _default_restore
    if isinstance(map_location, Mapping):

        def restore(storage: np.ndarray, location: str) -> np.ndarray:
            target = map_location.get(location, location)
            if not isinstance(target, str):
                raise ValueError(f"map_location maps {location!r} to {target!r}, not a string")
            return _default_restore(storage, target)

        return restore
    if callable(map_location):

        def restore(storage: np.ndarray, location: str) -> np.ndarray:
            result = map_location(storage, location)
            if result is None:
                return _default_restore(storage, location)
            result = np.asarray(result)
            if result.dtype != np.uint8 or result.shape != storage.shape:
                raise ValueError(
                    "a map_location function must return the storage it was given (or "
                    "None), a uint8 array of its bytes"
                )
            return result

        return restore
    target = map_location.decode() if isinstance(map_location, bytes) else str(map_location)
    return lambda storage, location: _default_restore(storage, target)


class _Archive:
    """The records of a checkpoint's zip file, by name inside its folder."""

    def __init__(self, file: IO[bytes]):
        start = file.tell()
        head = file.read(4)
        file.seek(start)
        if not head:
            raise UnpicklingError("empty file: a checkpoint is a zip archive")
        if head != b"PK\x03\x04":
            raise UnpicklingError(
                f"not a zip archive (it starts with {head!r}, not b'PK\\x03\\x04'): torch.save "
                "has written zip archives since 1.6; the reference does not read the legacy "
                "format"
            )
        try:
            self.zip = zipfile.ZipFile(file)
            infos = self.zip.infolist()
        except Exception as error:  # whatever the zip reader makes of damaged bytes
            raise UnpicklingError(
                f"a damaged or truncated zip archive: {type(error).__name__}: {error}"
            ) from None
        if not infos or "/" not in infos[0].filename:
            raise UnpicklingError("a zip archive whose first record is not inside a folder")
        self.folder = infos[0].filename.split("/", 1)[0]
        prefix = self.folder + "/"
        self.records = {
            i.filename[len(prefix) :]: i for i in infos if i.filename.startswith(prefix)
        }
        if "constants.pkl" in self.records:
            raise UnpicklingError(
                "a TorchScript archive (it has constants.pkl): read it with torch.jit.load"
            )

    def has(self, name: str) -> bool:
        return name in self.records

    def read(self, name: str) -> bytes:
        if name not in self.records:
            raise UnpicklingError(f"record {self.folder}/{name} not found in the archive")
        try:
            return self.zip.read(self.records[name])  # checks the CRC-32 (torch does not)
        except Exception as error:  # a bad CRC, size, header or compression method
            raise UnpicklingError(
                f"record {self.folder}/{name} is damaged: {type(error).__name__}: {error}"
            ) from None


class _Unpickler:
    """torch's weights_only unpickler, opcode by opcode: it builds only allowlisted globals,
    calls only allowlisted functions, and reads only the opcodes protocol 2 writes for the
    allowed types."""

    def __init__(self, archive: _Archive, restore: Callable[[np.ndarray, str], np.ndarray]):
        self.archive = archive
        self.restore = restore
        self.storages: dict[str, _Storage] = {}
        self.big_endian = False
        if archive.has("byteorder"):
            order = archive.read("byteorder")
            if order not in (b"little", b"big"):
                raise UnpicklingError(f"Unknown endianness type: {order.decode(errors='replace')}")
            self.big_endian = order == b"big"
        if not archive.has("version"):
            raise UnpicklingError("no version record: every torch.save file has one")
        text = archive.read("version").strip()
        if not text.isdigit() or not 1 <= int(text) <= _MAX_VERSION:
            raise UnpicklingError(
                f"file format version {text.decode(errors='replace')!r}: torch reads versions "
                f"1 to {_MAX_VERSION}"
            )

    def load(self) -> Any:
        data = self.archive.read("data.pkl")
        try:
            return self._run(data)
        except (IndexError, KeyError, TypeError, UnicodeError, RecursionError) as error:
            raise UnpicklingError(
                f"a malformed pickle in data.pkl: {type(error).__name__}: {error}"
            ) from None

    def _run(self, data: bytes) -> Any:
        stack: list[Any] = []
        marks: list[list[Any]] = []
        memo: dict[int, Any] = {}

        def pop_mark() -> list[Any]:
            nonlocal stack
            items, stack = stack, marks.pop()
            return items

        opcodes = pickletools.genops(data)
        while True:
            try:
                opcode, arg, position = next(opcodes)
            except StopIteration:
                raise UnpicklingError("the pickle in data.pkl ends without STOP") from None
            except ValueError as error:  # a truncated or garbled opcode or argument
                raise UnpicklingError(f"a damaged pickle in data.pkl: {error}") from None
            name = opcode.name
            if name == "PROTO":
                if arg != 2:
                    warnings.warn(
                        f"pickle protocol {arg}: torch.save writes protocol 2, and the "
                        "weights_only unpickler may not read every opcode of another",
                        UserWarning,
                        stacklevel=4,
                    )
            elif name == "STOP":
                return stack.pop()
            elif name == "MARK":
                marks.append(stack)
                stack = []
            elif name in ("BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE"):
                stack.append(arg)
            elif name == "SHORT_BINSTRING":  # torch.load decodes str8 as UTF-8
                stack.append(arg.encode("latin-1").decode("utf-8"))
            elif name in _CONSTANTS:
                stack.append(_CONSTANTS[name]())
            elif name == "TUPLE":
                items = pop_mark()  # rebinds stack: pop before appending
                stack.append(tuple(items))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                if len(stack) < n:
                    raise UnpicklingError(f"{name} at byte {position} on a short stack")
                stack[-n:] = [tuple(stack[-n:])]
            elif name in ("BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif name in ("BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name in ("APPEND", "APPENDS"):
                items = [stack.pop()] if name == "APPEND" else pop_mark()
                if type(stack[-1]) is not list:
                    raise UnpicklingError(f"can only append to lists, not {type(stack[-1])}")
                stack[-1].extend(items)
            elif name in ("SETITEM", "SETITEMS"):
                items = stack[-2:] if name == "SETITEM" else pop_mark()
                if name == "SETITEM":
                    del stack[-2:]
                if type(stack[-1]) not in (dict, OrderedDict, Counter) or len(items) % 2:
                    raise UnpicklingError(f"can only {name} on dicts, not {type(stack[-1])}")
                for k, v in zip(items[::2], items[1::2], strict=True):
                    stack[-1][k] = v
            elif name == "GLOBAL":
                stack.append(self._global(*arg.split(" ", 1)))
            elif name == "REDUCE":
                args = stack.pop()
                stack[-1] = self._call(stack[-1], args)
            elif name == "NEWOBJ":
                args = stack.pop()
                cls = stack.pop()
                stack.append(self._new(cls, args))
            elif name == "BUILD":
                state = stack.pop()
                self._build(stack[-1], state)
            elif name == "BINPERSID":
                stack.append(self._persistent_load(stack.pop()))
            else:
                raise UnpicklingError(
                    f"Unsupported operand {opcode.code!r} ({name}) at byte {position}: torch's "
                    "weights_only unpickler reads only the opcodes protocol 2 writes for "
                    "tensors, containers and primitive types"
                )

    @staticmethod
    def _global(module: str, name: str) -> Any:
        full = _python3_name(module, name)
        module = full.rsplit(".", 1)[0]
        if module in _BLOCKED_MODULES:
            raise UnpicklingError(f"GLOBAL {full} refused: module {module} is always blocked")
        if full not in _ALLOWED:
            raise UnpicklingError(
                f"GLOBAL {full} is not in torch's weights_only allowlist (a whole pickled "
                "object, not a state_dict?); load it with torch.load(weights_only=False) only "
                "if you trust the file"
            )
        return _ALLOWED[full]

    @staticmethod
    def _call(func: Any, args: Any) -> Any:
        if id(func) not in _ALLOWED_IDS or not callable(func):
            raise UnpicklingError(f"REDUCE calls {func!r}, which is not an allowed function")
        if not isinstance(args, tuple):
            raise UnpicklingError(f"REDUCE arguments {args!r} are not a tuple")
        try:
            return func(*args)
        except UnpicklingError:
            raise
        except (TypeError, ValueError, OverflowError, LookupError) as error:
            raise UnpicklingError(f"calling {func!r} failed: {error}") from None

    @staticmethod
    def _new(cls: Any, args: Any) -> Any:
        if not isinstance(args, tuple):
            raise UnpicklingError(f"NEWOBJ arguments {args!r} are not a tuple")
        if cls is _parameter or cls is _size:
            return cls(*args)
        if cls in _NEWOBJ_CLASSES:
            return cls.__new__(cls, *args)
        raise UnpicklingError(
            f"NEWOBJ of {cls!r}: only nn.Parameter and allowlisted classes are created"
        )

    @staticmethod
    def _build(inst: Any, state: Any) -> None:
        if type(inst) in (OrderedDict, Counter) and isinstance(state, dict):
            inst.__dict__.update(state)
        elif state or type(inst) not in (OrderedDict, Counter, set, complex, np.ndarray):
            raise UnpicklingError(
                f"BUILD of {type(inst).__name__} with state {state!r}: the reference builds "
                "only tensors, Parameters and OrderedDicts"
            )

    def _persistent_load(self, pid: Any) -> _Storage:
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise UnpicklingError(f"persistent id {pid!r}: only storages are allowed")
        if len(pid) != 5:
            raise UnpicklingError(f"storage id {pid!r} is not (storage, type, key, location, n)")
        _, storage_type, key, location, numel = pid
        if isinstance(location, bytes):
            location = location.decode("ascii")
        if not isinstance(storage_type, TorchName) or _ALLOWED.get(storage_type) is not (
            storage_type
        ):
            raise UnpicklingError(f"storage type {storage_type!r} is not a storage class")
        if storage_type == "torch.storage.UntypedStorage":
            dtype = _UNTYPED
        elif storage_type.replace("torch.cuda.", "torch.") in _BY_STORAGE:
            dtype = _BY_STORAGE[storage_type.replace("torch.cuda.", "torch.")]
        else:
            raise UnpicklingError(f"storage type {storage_type!r}: not modelled by the reference")
        if not isinstance(key, str) or not isinstance(location, str):
            raise UnpicklingError(f"storage key {key!r} or location {location!r} not a string")
        if not isinstance(numel, int) or numel < 0:
            raise UnpicklingError(f"storage size {numel!r} is not a non-negative int")
        if key in self.storages:  # a storage seen before: its views share one buffer
            return self.storages[key]
        raw = self.archive.read(f"data/{key}")
        nbytes = numel * dtype.numpy.itemsize
        if len(raw) != nbytes:
            raise UnpicklingError(
                f"record size ({len(raw)} bytes) of data/{key} does not match expected size "
                f"({nbytes} bytes = {numel} elements * {dtype.numpy.itemsize} bytes/element)"
            )
        buffer = np.frombuffer(bytearray(raw), dtype=np.uint8)
        if self.big_endian and dtype.numpy.itemsize > 1:
            buffer.view(dtype.numpy).byteswap(inplace=True)
        storage = _Storage(self.restore(buffer, location), dtype, location)
        self.storages[key] = storage
        return storage


_CONSTANTS: dict[str, Callable[[], Any]] = {
    "NONE": lambda: None,
    "NEWTRUE": lambda: True,
    "NEWFALSE": lambda: False,
    "EMPTY_TUPLE": tuple,
    "EMPTY_LIST": list,
    "EMPTY_DICT": dict,
    "EMPTY_SET": set,
}


def load(path_or_file: PathOrFile, map_location: MapLocation = None) -> Any:
    """Read a ``torch.save`` file as ``torch.load(path_or_file, map_location,
    weights_only=True)`` does, with NumPy arrays for tensors.

    Each tensor comes back as an array with its dtype, shape, strides and storage offset (in
    bytes: ``strides == tuple(s * itemsize for s in tensor.stride())``); tensors that shared a
    storage when saved are views of one buffer (``a.base is b.base``). ``bfloat16`` arrives as
    its ``uint16`` words ([`bfloat16`][reference.serialization.bfloat16]), ``torch.Size`` as
    a tuple, ``torch.device`` and dtypes as their ``str``; ``nn.Parameter`` as its array.

    Args:
        path_or_file: a path, or a binary file object positioned at the archive.
        map_location: where storages go: None keeps the saved location, which must be
            ``'cpu'``; a string or ``torch.device`` (by its ``str``), a dict from saved to new
            locations, or a function ``f(storage, location)`` returning the storage (a
            ``uint8`` array) or None. The reference has only host memory.

    Raises:
        UnpicklingError: a global outside
            [`WEIGHTS_ONLY_GLOBALS`][reference.serialization.WEIGHTS_ONLY_GLOBALS] (named in
            the message), an opcode the weights_only unpickler does not read, or a
            damaged, truncated or inconsistent file. Nothing in the file is executed.
        ValueError: a storage on a device other than ``'cpu'`` after ``map_location``.
    """
    restore = _restore_location(map_location)
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as file:
            return _Unpickler(_Archive(file), restore).load()
    return _Unpickler(_Archive(path_or_file), restore).load()


# --- writing -----------------------------------------------------------------------------------

_ALIGNMENT = 64  # torch starts every record's bytes at a multiple of 64
_LOCATION = re.compile(r"[a-z][a-z0-9_]*(:[0-9]+)?")


class _Pickler:
    """Protocol 2 opcodes for the types the weights_only unpickler reads, with arrays as
    ``_rebuild_tensor_v2``/``_v3`` calls on persistent storage ids."""

    def __init__(self, location: str):
        self.out = bytearray()
        self.location = location
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # every memoized object stays alive, so ids stay unique
        self.storages: dict[object, tuple[str, np.ndarray, _DType]] = {}

    def dump(self, obj: Any) -> bytes:
        self.out += pickle.PROTO + b"\x02"
        self.save(obj)
        self.out += pickle.STOP
        return bytes(self.out)

    # opcodes with arguments
    def put(self, obj: Any) -> None:
        index = len(self.memo)
        self.memo[id(obj)] = index
        self.keep.append(obj)
        self.out += (
            pickle.BINPUT + bytes([index])
            if index < 256
            else pickle.LONG_BINPUT + struct.pack("<I", index)
        )

    def get(self, obj: Any) -> bool:
        index = self.memo.get(id(obj))
        if index is None:
            return False
        self.out += (
            pickle.BINGET + bytes([index])
            if index < 256
            else pickle.LONG_BINGET + struct.pack("<I", index)
        )
        return True

    def global_(self, module: str, name: str) -> None:
        self.out += pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii")

    def int_(self, n: int) -> None:
        if 0 <= n < 256:
            self.out += pickle.BININT1 + bytes([n])
        elif 0 <= n < 65536:
            self.out += pickle.BININT2 + struct.pack("<H", n)
        elif -(2**31) <= n < 2**31:
            self.out += pickle.BININT + struct.pack("<i", n)
        else:
            encoded = n.to_bytes((n + (n < 0)).bit_length() // 8 + 1, "little", signed=True)
            if len(encoded) > 255:
                raise ValueError("an int of more than 255 bytes (LONG4 is not read by torch)")
            self.out += pickle.LONG1 + bytes([len(encoded)]) + encoded

    def str_(self, s: str) -> None:
        encoded = s.encode("utf-8", "surrogatepass")
        self.out += pickle.BINUNICODE + struct.pack("<I", len(encoded)) + encoded

    def tuple_(self, items: tuple) -> None:
        if not items:
            self.out += pickle.EMPTY_TUPLE
            return
        if len(items) > 3:
            self.out += pickle.MARK
        for item in items:
            self.save(item)
        self.out += (pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3, pickle.TUPLE)[
            min(len(items), 4) - 1
        ]

    def reduce(self, module: str, name: str, args: tuple) -> None:
        self.global_(module, name)
        self.tuple_(args)
        self.out += pickle.REDUCE

    def items(self, pairs: list[tuple[Any, Any]]) -> None:
        if len(pairs) > 1:
            self.out += pickle.MARK
        for key, value in pairs:
            self.save(key)
            self.save(value)
        if pairs:
            self.out += pickle.SETITEM if len(pairs) == 1 else pickle.SETITEMS

    def save(self, obj: Any) -> None:
        if obj is None:
            self.out += pickle.NONE
        elif obj is True or obj is False:
            self.out += pickle.NEWTRUE if obj else pickle.NEWFALSE
        elif type(obj) is int:
            self.int_(obj)
        elif type(obj) is float:
            self.out += pickle.BINFLOAT + struct.pack(">d", obj)
        elif type(obj) is str:
            self.str_(obj)
        elif type(obj) is tuple:
            self.tuple_(obj)
        elif not self.get(obj):  # a container or array seen before is referenced, not copied
            self.save_new(obj)

    def save_new(self, obj: Any) -> None:
        if type(obj) in (list, dict, OrderedDict):
            if type(obj) is list:
                self.out += pickle.EMPTY_LIST
            elif type(obj) is dict:
                self.out += pickle.EMPTY_DICT
            else:
                self.reduce("collections", "OrderedDict", ())
            self.put(obj)  # before the items, so a container may hold itself
            if type(obj) is list:
                self.appends(obj)
            else:
                self.items(list(obj.items()))
            return
        if type(obj) is bytes:  # protocol 2: _codecs.encode(latin-1 text, 'latin1')
            self.reduce("_codecs", "encode", (obj.decode("latin-1"), "latin1"))
        elif type(obj) is bytearray:
            self.reduce("__builtin__", "bytearray", (bytes(obj),))
        elif type(obj) is complex:
            self.reduce("__builtin__", "complex", (obj.real, obj.imag))
        elif type(obj) is Counter:
            self.reduce("collections", "Counter", (dict(obj),))
        elif type(obj) is set:
            self.reduce("__builtin__", "set", (list(obj),))
        elif isinstance(obj, np.ndarray):
            self.array(obj)
        else:
            raise TypeError(
                f"cannot save {type(obj).__name__}: torch.load(weights_only=True) reads only "
                "arrays (tensors), dict, OrderedDict, Counter, list, tuple, set, str, int, "
                "float, complex, bool, None, bytes and bytearray"
            )
        self.put(obj)

    def appends(self, items: list) -> None:
        if len(items) > 1:
            self.out += pickle.MARK
        for item in items:
            self.save(item)
        if items:
            self.out += pickle.APPEND if len(items) == 1 else pickle.APPENDS

    def array(self, array: np.ndarray) -> None:
        dtype = _dtype_of_array(array)
        key, numel, offset, strides = self.storage(array, dtype)
        v3 = dtype.storage is None
        self.global_("torch._utils", "_rebuild_tensor_v3" if v3 else "_rebuild_tensor_v2")
        self.out += pickle.MARK + pickle.MARK
        self.str_("storage")
        self.global_(*(("torch.storage", "UntypedStorage") if v3 else ("torch", dtype.storage)))
        self.str_(key)
        self.str_(self.location)
        self.int_(numel * dtype.numpy.itemsize if v3 else numel)
        self.out += pickle.TUPLE + pickle.BINPERSID
        self.int_(offset)
        self.tuple_(tuple(array.shape))
        self.tuple_(strides)
        self.out += pickle.NEWFALSE
        self.reduce("collections", "OrderedDict", ())  # backward hooks: none
        if v3:
            self.global_("torch", dtype.name)
        self.out += pickle.TUPLE + pickle.REDUCE

    def storage(self, array: np.ndarray, dtype: _DType) -> tuple[str, int, int, tuple]:
        """The storage an array views (its root buffer), the array's element offset in it and
        its strides in elements; a layout torch cannot express is saved as a copy."""
        owner = array  # walk to the array that owns the memory (or wraps a buffer object)
        while True:
            base = owner.base
            if isinstance(getattr(base, "base", None), np.ndarray) and not isinstance(
                base, np.ndarray
            ):
                base = base.base  # the wrapper object of np.lib.stride_tricks.as_strided
            if not isinstance(base, np.ndarray):
                break
            owner = base
        try:
            if owner.base is not None:  # bytes, bytearray, memoryview, mmap
                raw = np.frombuffer(owner.base, dtype=np.uint8)
            elif owner.flags.c_contiguous or owner.flags.f_contiguous:
                raw = np.ravel(owner, order="K").view(np.uint8)
            else:
                raw = None
        except (TypeError, ValueError, BufferError):
            raw = None
        itemsize = array.itemsize
        layout = None
        if raw is not None and array.dtype.byteorder in "=<|" and raw.size % itemsize == 0:
            start = raw.__array_interface__["data"][0]
            byte_offset = array.__array_interface__["data"][0] - start
            extent = sum((n - 1) * s for n, s in zip(array.shape, array.strides, strict=True))
            if (
                all(s >= 0 and s % itemsize == 0 for s in array.strides)
                and byte_offset % itemsize == 0
                and 0 <= byte_offset <= raw.size
                and (array.size == 0 or byte_offset + extent + itemsize <= raw.size)
            ):
                layout = (byte_offset // itemsize, tuple(s // itemsize for s in array.strides))
        if layout is None:  # negative strides, misaligned or foreign memory: a fresh storage
            copy = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            copy = copy.view(dtype.numpy) if dtype.numpy.metadata else copy
            self.keep.append(copy)
            owner, raw = copy, copy.reshape(-1).view(np.uint8)
            layout = (0, tuple(s // itemsize for s in copy.strides))
        # One storage per buffer; empty buffers may share an address but never data.
        where = (raw.__array_interface__["data"][0], raw.size) if raw.size else id(owner)
        seen = self.storages.get(where)
        if seen is None:
            self.keep.append(owner)
            seen = (str(len(self.storages)), raw, dtype)
            self.storages[where] = seen
        elif seen[2] != dtype:
            raise ValueError(
                "Cannot save multiple tensors or storages that view the same data as different "
                f"types: torch.{seen[2].name} and torch.{dtype.name}"
            )
        return seen[0], seen[1].size // itemsize, layout[0], layout[1]


def _padding(offset: int, name: bytes) -> bytes:
    """The local-header extra field that starts a record's bytes at a multiple of 64: id
    ``FB``, a 2-byte length, then that many ``Z``."""
    start = offset + 30 + len(name) + 4
    size = -start % _ALIGNMENT
    return b"FB" + struct.pack("<H", size) + b"Z" * size


def _folder_for(path_or_file: PathOrFile) -> str:
    if isinstance(path_or_file, (str, os.PathLike)):
        return os.path.splitext(os.path.basename(os.fspath(path_or_file)))[0] or _DEFAULT_FOLDER
    return _DEFAULT_FOLDER


def save(obj: Any, path_or_file: PathOrFile, location: str = "cpu") -> None:
    """Write ``obj`` as ``torch.save(obj, path_or_file)`` does, for the types
    ``torch.load(weights_only=True)`` reads: arrays (as tensors), dict, OrderedDict, Counter,
    list, tuple, set, str, int, float, complex, bool, None, bytes and bytearray.

    Arrays that view one buffer (``a.base is b.base``, or slices and transposes of one array)
    are saved as views of one storage, with their offsets and strides, so they load sharing
    memory. A layout torch cannot express (negative or misaligned strides, big-endian data) is
    saved as a contiguous copy. The records are written in torch's order, each aligned to 64
    bytes: ``data.pkl``, ``.storage_alignment``, ``byteorder``, ``data/0``, ``data/1``, ...,
    ``version``, ``.data/serialization_id``. The output depends only on ``obj`` and
    ``location``.

    Args:
        obj: the object to save.
        path_or_file: a path (the folder inside the zip is its name without extension), or a
            binary file object (folder ``archive``).
        location: the device every storage is tagged with, e.g. ``'cpu'`` or ``'cuda:0'``
            (``str`` of a ``torch.device`` works too): torch restores each storage there
            unless ``map_location`` says otherwise.

    Raises:
        TypeError: an object of another type (a module, a function, a frozenset, a NumPy
            scalar, an object array).
        ValueError: an invalid ``location``, or two arrays viewing one buffer as different
            dtypes (torch refuses that too).
    """
    location = str(location)
    if not _LOCATION.fullmatch(location):
        raise ValueError(f"location {location!r} is not a device such as 'cpu' or 'cuda:0'")
    pickler = _Pickler(location)
    data = pickler.dump(obj)
    storages = sorted(pickler.storages.values(), key=lambda s: int(s[0]))
    digest = hashlib.sha256(data)
    for _, raw, _ in storages:
        digest.update(raw.tobytes())
    records: list[tuple[str, bytes]] = [
        ("data.pkl", data),
        (".storage_alignment", str(_ALIGNMENT).encode()),
        ("byteorder", b"little"),
        *((f"data/{key}", raw.tobytes()) for key, raw, _ in storages),
        ("version", b"3\n"),
        (".data/serialization_id", str(int(digest.hexdigest()[:32], 16)).zfill(40).encode()),
    ]
    folder = _folder_for(path_or_file)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, payload in records:
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.extra = _padding(buffer.tell(), info.filename.encode("utf-8"))
            archive.writestr(info, payload)
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "wb") as file:
            file.write(buffer.getvalue())
    else:
        path_or_file.write(buffer.getvalue())
