"""Dtypes and type promotion (clauses DTYPE-*).

A dtype (数据类型) is named by a string, as in ``torch.float32`` without the ``torch.``:
NumPy has no bfloat16, so the promotion rules work on names, and ``TensorLike(dtype, ndim)``
describes an operand that NumPy cannot hold. Every dtype sits in one of four *categories*,
ordered ``bool < integer < floating < complex``.

Type promotion (类型提升) is derived from two rules, not from a table:

* ``promote_types(a, b)``: in a higher category the higher category's dtype wins (a complex
  dtype widened to the float's precision); within one category the smallest dtype that
  represents both (integers by range, floats by exponent and mantissa bits).
* ``result_type(*operands)``: operands are ranked dimensioned tensors > 0-d tensors > Python
  scalars; each rank is promoted on its own, and a lower rank changes the result only when
  its category is higher. A Python ``float`` stands for the default dtype, a ``complex`` for
  the matching complex dtype, an ``int`` for int64.

Casting follows torch's same-kind rule: ``can_cast(from_, to)`` iff the category of ``to`` is
at least that of ``from_``. ``to`` and ``type`` convert NumPy arrays as ``Tensor.to`` and
``Tensor.type`` do; ``checked_convert`` turns a Python scalar into a dtype's value the way
torch's ``fill_``, ``full_like`` and ``masked_fill`` do, refusing values that overflow.

NumPy only: this module is part of the independent oracle and never imports torch. It is the
lowest concept: it imports nothing of the project.
"""

from __future__ import annotations

import builtins
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

CATEGORIES = ("bool", "integer", "floating", "complex")
"""The four categories, lowest first."""


@dataclass(frozen=True)
class DtypeInfo:
    """One row of the notes' dtype table (notes 002, section 2.2).

    ``legacy`` is the legacy CPU tensor class (``torch.FloatTensor``) or ``None`` where torch
    has none (complex); ``type_name`` is what ``Tensor.type()`` returns on the CPU;
    ``method`` the ``Tensor`` method that converts to the dtype (``x.double()``).
    ``exponent_bits``/``mantissa_bits`` describe a floating format (a complex dtype's real
    part); the promotion rule is derived from them and from the integer range.
    """

    name: str
    aliases: tuple[str, ...]
    legacy: str | None
    type_name: str
    method: str
    category: str
    itemsize: int
    is_floating_point: bool
    is_complex: bool
    is_signed: bool
    exponent_bits: int = 0
    mantissa_bits: int = 0

    @property
    def min(self) -> int | float:
        """The lowest finite value: ``-2**(bits-1)`` for signed integers, 0 for unsigned."""
        if self.category == "bool":
            return 0
        if self.category == "integer":
            return -(2 ** (8 * self.itemsize - 1)) if self.is_signed else 0
        return -self.max

    @property
    def max(self) -> int | float:
        """The largest finite value: $2^{b-1} - 1$ (signed), $2^b - 1$ (unsigned) for $b$
        bits; $(2 - 2^{-m})\\,2^{2^{e-1}-1}$ for $e$ exponent and $m$ mantissa bits."""
        if self.category == "bool":
            return 1
        if self.category == "integer":
            bits = 8 * self.itemsize
            return 2 ** (bits - 1) - 1 if self.is_signed else 2**bits - 1
        return (2 - 2.0**-self.mantissa_bits) * 2.0 ** (2 ** (self.exponent_bits - 1) - 1)


def _row(name, aliases, legacy, type_name, method, category, itemsize, signed, e=0, m=0):
    return DtypeInfo(
        name,
        aliases,
        legacy,
        f"torch.{type_name}",
        method,
        category,
        itemsize,
        category == "floating",
        category == "complex",
        signed,
        e,
        m,
    )


DTYPES: dict[str, DtypeInfo] = {
    row.name: row
    for row in (
        _row("bool", (), "BoolTensor", "BoolTensor", "bool", "bool", 1, False),
        _row("uint8", (), "ByteTensor", "ByteTensor", "byte", "integer", 1, False),
        _row("int8", (), "CharTensor", "CharTensor", "char", "integer", 1, True),
        _row("int16", ("short",), "ShortTensor", "ShortTensor", "short", "integer", 2, True),
        _row("int32", ("int",), "IntTensor", "IntTensor", "int", "integer", 4, True),
        _row("int64", ("long",), "LongTensor", "LongTensor", "long", "integer", 8, True),
        _row("float16", ("half",), "HalfTensor", "HalfTensor", "half", "floating", 2, True, 5, 10),
        _row(
            "bfloat16",
            (),
            "BFloat16Tensor",
            "BFloat16Tensor",
            "bfloat16",
            "floating",
            2,
            True,
            8,
            7,
        ),
        _row(
            "float32", ("float",), "FloatTensor", "FloatTensor", "float", "floating", 4, True, 8, 23
        ),
        _row(
            "float64",
            ("double",),
            "DoubleTensor",
            "DoubleTensor",
            "double",
            "floating",
            8,
            True,
            11,
            52,
        ),
        _row(
            "complex64",
            ("cfloat",),
            None,
            "ComplexFloatTensor",
            "cfloat",
            "complex",
            8,
            True,
            8,
            23,
        ),
        _row(
            "complex128",
            ("cdouble",),
            None,
            "ComplexDoubleTensor",
            "cdouble",
            "complex",
            16,
            True,
            11,
            52,
        ),
    )
}
"""The notes' twelve dtypes, by name, in the order of the categories."""

# The half-precision complex dtypes: results of promotion (a float16 or bfloat16 tensor with a
# complex scalar), not in the notes' table. bcomplex32 exists from torch 2.14 on.
_HALF_COMPLEX = {
    "complex32": _row(
        "complex32", ("chalf",), None, "ComplexHalfTensor", "chalf", "complex", 4, True, 5, 10
    ),
    "bcomplex32": _row(
        "bcomplex32", (), None, "BComplex32Tensor", "bcomplex32", "complex", 4, True, 8, 7
    ),
}
_ALL = {**DTYPES, **_HALF_COMPLEX}
_ALIASES = {alias: row.name for row in _ALL.values() for alias in (row.name, *row.aliases)}
_BY_TYPE_NAME = {row.type_name: row.name for row in _ALL.values()}
_FLOATS = [n for n, r in DTYPES.items() if r.category == "floating"]
_INTEGERS = [n for n, r in DTYPES.items() if r.category == "integer"]
_COMPLEX_OF = {
    "float32": "complex64",
    "float64": "complex128",
    "float16": "complex32",
    "bfloat16": "bcomplex32",
}
_REAL_OF = {c: f for f, c in _COMPLEX_OF.items()}


@dataclass(frozen=True)
class TensorLike:
    """An operand described by its dtype and number of dims (``ndim == 0`` is a 0-d
    tensor): for dtypes NumPy cannot hold, such as bfloat16."""

    dtype: str
    ndim: int = 1


def _name(dtype: Any) -> str:
    """The canonical name of a dtype given by name, alias, ``torch.`` name or NumPy dtype."""
    if isinstance(dtype, str):
        key = dtype.removeprefix("torch.")
        if key in _ALIASES:
            return _ALIASES[key]
        raise TypeError(f"unknown dtype {dtype!r}")
    try:
        key = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None
    if key in _ALIASES:
        return _ALIASES[key]
    raise TypeError(f"NumPy dtype {key} has no torch equivalent here")


def info(dtype: Any) -> DtypeInfo:
    """The ``DtypeInfo`` row of a dtype (name, alias or NumPy dtype)."""
    return _ALL[_name(dtype)]


def category(dtype: Any) -> str:
    """The category of a dtype: ``"bool"``, ``"integer"``, ``"floating"`` or ``"complex"``."""
    return info(dtype).category


def _rank(dtype: str) -> int:
    return CATEGORIES.index(_ALL[dtype].category)


def numpy_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype holding a torch dtype.

    Raises:
        TypeError: for bfloat16 and the half-precision complex dtypes, which NumPy lacks.
    """
    name = _name(dtype)
    if name in ("bfloat16", "complex32", "bcomplex32"):
        raise TypeError(f"NumPy has no {name} dtype; describe the operand as TensorLike")
    return np.dtype(name)


# --- promotion -------------------------------------------------------------------------


def _smallest_float(a: DtypeInfo, b: DtypeInfo) -> str:
    """The narrowest float format whose exponent and mantissa both cover ``a`` and ``b``'s."""
    for name in sorted(_FLOATS, key=lambda n: DTYPES[n].itemsize):
        row = DTYPES[name]
        if row.exponent_bits >= max(a.exponent_bits, b.exponent_bits) and row.mantissa_bits >= max(
            a.mantissa_bits, b.mantissa_bits
        ):
            return name
    raise AssertionError("float64 covers every float")  # pragma: no cover


def _smallest_integer(a: DtypeInfo, b: DtypeInfo) -> str:
    """The narrowest integer dtype whose range contains both ranges."""
    low, high = min(a.min, b.min), max(a.max, b.max)
    for name in sorted(_INTEGERS, key=lambda n: DTYPES[n].itemsize):
        if DTYPES[name].min <= low and high <= DTYPES[name].max:
            return name
    raise TypeError(f"no integer dtype holds both {a.name} and {b.name}")  # pragma: no cover


def promote_types(type1: Any, type2: Any) -> str:
    r"""The dtype two dtypes promote to, as ``torch.promote_types`` (operand kind ignored).

    With categories ordered $\text{bool} < \text{integer} < \text{floating} < \text{complex}$:

    * different categories: the higher category's dtype, except that complex with a float
      gives the complex dtype whose real part is ``promote_types(real part, float)``
      (complex64 with float64 is complex128);
    * the same category: the narrowest dtype that represents both: integers by range
      (uint8 with int8 is int16), floats by exponent and mantissa bits (float16 with
      bfloat16 is float32), complex dtypes by their real parts.

    The operation is commutative and associative.
    """
    a, b = _ALL[_name(type1)], _ALL[_name(type2)]
    if a.name == b.name:
        return a.name
    if a.category != b.category:
        high, low = (a, b) if _rank(a.name) > _rank(b.name) else (b, a)
        if high.category == "complex" and low.category == "floating":
            return _COMPLEX_OF[promote_types(_REAL_OF[high.name], low.name)]
        return high.name
    if a.category == "integer":
        return _smallest_integer(a, b)
    if a.category == "floating":
        return _smallest_float(a, b)
    return _COMPLEX_OF[promote_types(_REAL_OF[a.name], _REAL_OF[b.name])]


_DEFAULT = {"dtype": "float32"}


def get_default_dtype() -> str:
    """The default floating dtype (``torch.get_default_dtype()``): float32 unless set."""
    return _DEFAULT["dtype"]


def set_default_dtype(d: Any) -> None:
    """Set the default floating dtype, as ``torch.set_default_dtype``.

    Any floating dtype is accepted (float16, bfloat16, float32, float64). A Python float
    then means that dtype, and a Python complex the complex dtype of the same precision
    (``get_default_complex_dtype``).

    Raises:
        TypeError: for a dtype that is not floating (integers, bool, complex).
    """
    name = _name(d)
    if _ALL[name].category != "floating":
        raise TypeError(
            f"invalid dtype object: only floating-point types are supported as the default "
            f"type, got {name}"
        )
    _DEFAULT["dtype"] = name


def get_default_complex_dtype() -> str:
    """The complex dtype matching the default float: complex64 for float32, complex128 for
    float64, complex32 for float16.

    Raises:
        ValueError: with a bfloat16 default, which has no default complex dtype.
    """
    default = get_default_dtype()
    if default == "bfloat16":
        raise ValueError("invalid default scalar type for complex: the default dtype is bfloat16")
    return _COMPLEX_OF[default]


def _is_python_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.ndarray)


def _operand(value: Any) -> tuple[str, int]:
    """(dtype, rank) of an operand; rank 2 = dimensioned tensor, 1 = 0-d tensor, 0 = scalar."""
    if isinstance(value, TensorLike):
        return _name(value.dtype), 2 if value.ndim > 0 else 1
    if isinstance(value, np.ndarray):
        return _name(value.dtype), 2 if value.ndim > 0 else 1
    if isinstance(value, np.generic) and not _is_python_scalar(value):
        raise TypeError(
            f"a NumPy scalar {value!r} is ambiguous: pass a Python scalar or np.asarray(value)"
        )
    if isinstance(value, bool):
        return "bool", 0
    if isinstance(value, int):
        return "int64", 0
    if isinstance(value, float):
        return get_default_dtype(), 0
    if isinstance(value, complex):
        return get_default_complex_dtype(), 0
    raise TypeError(f"result_type takes tensors and Python scalars, got {builtins.type(value)}")


def _combine(higher: str | None, lower: str | None) -> str | None:
    """A higher-ranked group's dtype combined with a lower-ranked one: the lower rank counts
    only when its category is higher; complex below a float gives the float's complex."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if _rank(lower) <= _rank(higher):
        return higher
    if _ALL[lower].category == "complex" and _ALL[higher].category == "floating":
        return _COMPLEX_OF[higher]
    return lower


def result_type(*operands: Any) -> str:
    r"""The dtype of an elementwise op on ``operands``, as ``torch.result_type`` (n-ary).

    An operand is a NumPy array (a tensor of its dtype; 0-d when ``ndim == 0``), a
    ``TensorLike``, or a Python scalar (``bool`` is bool, ``int`` is int64, ``float`` the
    default dtype, ``complex`` the default complex dtype). Operands are grouped by rank,
    dimensioned tensors $D$ > 0-d tensors $Z$ > scalars $S$; each group is folded with
    ``promote_types``, and the groups combine as
    $\operatorname{combine}(D, \operatorname{combine}(Z, S))$, where
    $\operatorname{combine}(h, l) = h$ unless $l$'s category is higher, when it is $l$
    (or, for a float $h$ and complex $l$, the complex dtype of $h$'s precision).

    Raises:
        TypeError: with no operands, or an operand that is not a tensor or scalar.
    """
    if not operands:
        raise TypeError("result_type needs at least one operand")
    groups: dict[int, str | None] = {0: None, 1: None, 2: None}
    for value in operands:
        dtype, rank = _operand(value)
        current = groups[rank]
        groups[rank] = dtype if current is None else promote_types(current, dtype)
    result = _combine(groups[2], _combine(groups[1], groups[0]))
    assert result is not None
    return result


def can_cast(from_: Any, to: Any) -> bool:
    """Whether an op may write a result of dtype ``from_`` into a tensor of dtype ``to``
    (``torch.can_cast``): iff ``to``'s category is at least ``from_``'s, so complex never
    goes to real, floating never to integer, and nothing but bool to bool."""
    return _rank(_name(from_)) <= _rank(_name(to))


def div_result_type(input: Any, other: Any, rounding_mode: str | None = None) -> str:
    """The dtype of ``torch.div(input, other, rounding_mode)``: ``result_type(input, other)``,
    except that true division (``rounding_mode=None``) of integers or bools gives the
    default float dtype."""
    if rounding_mode not in (None, "trunc", "floor"):
        raise ValueError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor', "
            f"got {rounding_mode!r}"
        )
    dtype = result_type(input, other)
    if rounding_mode is None and _rank(dtype) < CATEGORIES.index("floating"):
        return get_default_dtype()
    return dtype


def inplace_result_type(self: Any, *others: Any) -> str:
    """The dtype of an in-place op ``self.op_(*others)``: self's dtype, provided the
    promoted ``result_type(self, *others)`` can be cast to it.

    Raises:
        TypeError: "result type X can't be cast to the desired output type Y".
    """
    out = _operand(self)[0]
    dtype = result_type(self, *others)
    if not can_cast(dtype, out):
        raise TypeError(f"result type {dtype} can't be cast to the desired output type {out}")
    return out


def infer_dtype(data: Any) -> str:
    """The dtype ``torch.tensor(data)`` picks: a NumPy array keeps its dtype; nested lists of
    Python scalars take ``result_type`` of their elements (so ``[1, 2.]`` is the default
    float and ``[True, 1]`` int64); an empty list is the default dtype."""
    if isinstance(data, np.ndarray):
        return _name(data.dtype)
    if _is_python_scalar(data):
        return result_type(data)
    leaves = list(_leaves(data))
    return result_type(*leaves) if leaves else get_default_dtype()


def _leaves(data: Any):
    if isinstance(data, (list, tuple)):
        for item in data:
            yield from _leaves(item)
    elif _is_python_scalar(data):
        yield data
    else:
        raise TypeError(f"torch.tensor data must be nested sequences of scalars, got {data!r}")


# --- conversions ------------------------------------------------------------------------


def to(input: np.ndarray, dtype: Any, copy: bool = False) -> np.ndarray:
    """``input`` converted to ``dtype``, as ``Tensor.to(dtype)``; ``input`` itself (not a
    copy) when its dtype already is ``dtype`` and ``copy`` is false.

    Values convert as C++ casts do: float to integer truncates toward zero
    ($\\operatorname{trunc}(-1.7) = -1$), anything to bool is $x \\ne 0$ (NaN is True; for
    complex both parts count), complex to real keeps the real part (with a warning), integer
    to a narrower integer wraps modulo $2^{\\text{bits}}$. A float outside the target
    integer's range (or negative, for uint8) converts to an implementation-defined value.

    Raises:
        TypeError: for bfloat16, which NumPy cannot hold.
    """
    array = np.asarray(input)
    target = numpy_dtype(dtype)
    if array.dtype == target and not copy:
        return input
    if target.kind == "b":
        return array != 0
    if array.dtype.kind == "c" and target.kind != "c":
        warnings.warn(
            "Casting complex values to real discards the imaginary part",
            UserWarning,
            stacklevel=2,
        )
        array = array.real
    with np.errstate(invalid="ignore", over="ignore"):
        return array.astype(target)


def type(input: np.ndarray, dtype: Any = None) -> str | np.ndarray:
    """``Tensor.type(dtype=None)``: without ``dtype`` the legacy type name of the CPU tensor
    (``"torch.FloatTensor"``); with one (a dtype or a type name such as
    ``"torch.DoubleTensor"``), ``to(input, dtype)``: ``input`` itself when nothing changes."""
    if dtype is None:
        return DTYPES[_name(np.asarray(input).dtype)].type_name
    if isinstance(dtype, str) and dtype in _BY_TYPE_NAME:
        dtype = _BY_TYPE_NAME[dtype]
    return to(input, dtype)


def checked_convert(value: bool | int | float | complex, dtype: Any) -> Any:
    """A Python scalar as a value of ``dtype``, the way torch's ``fill_`` converts it
    (``full``, ``full_like``, ``new_full``, ``masked_fill``, ``scatter`` with a value).

    * to bool: any value, $v \\ne 0$;
    * to an integer of range $[lo, hi]$: an int must lie in $[lo, hi]$, except that an
      unsigned type also takes negatives down to $-hi$ (two's complement wrap: $-1$ is 255);
      a float must lie in $[lo, hi + 1)$ and is truncated toward zero; NaN and inf overflow;
    * to a float: any int or float within $\\pm$ the largest finite value; inf and NaN pass;
    * a complex with a non-zero imaginary part overflows a real dtype.

    Raises:
        ValueError: "value cannot be converted to type X without overflow".
    """
    row = _ALL[_name(dtype)]

    def overflow() -> ValueError:
        return ValueError(f"value cannot be converted to type {row.name} without overflow")

    if row.category == "bool":
        return bool(value)
    if isinstance(value, complex):
        if row.category != "complex" and value.imag != 0:
            raise overflow()
        if row.category != "complex":
            value = value.real
        else:
            real_dtype = _REAL_OF[row.name]
            checked_convert(value.real, real_dtype)
            checked_convert(value.imag, real_dtype)
            return complex(value)
    if isinstance(value, bool):
        value = int(value)
    if row.category == "integer":
        lo, hi = int(row.min), int(row.max)
        if isinstance(value, int):
            if value > hi or value < (-hi if lo == 0 else lo):
                raise overflow()
            return value % (hi + 1) if lo == 0 else value
        if math.isnan(value) or value < lo or value >= hi + 1:
            raise overflow()
        return math.trunc(value)
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if abs(value) > row.max:
        raise overflow()
    return complex(value) if row.category == "complex" else float(value)
