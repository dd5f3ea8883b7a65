"""DTYPE: dtypes and type promotion, held to torch and to the reference (reference/dtypes.py).

The promotion properties are exhaustive, not sampled: they loop over every pair and triple of
the twelve dtypes and of the operand kinds (dimensioned tensor, 0-d tensor, Python bool, int,
float, complex) inside one test each; a ``torch.result_type`` call costs microseconds.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference import dtypes as D
from reference.tensor_ops import full_like, matmul
from tests.support import to_numpy, to_torch, torch_at_least

NAMES = list(D.DTYPES)
TORCH = {name: getattr(torch, name) for name in NAMES}
SCALARS = (True, 1, 1.0, 1j)
HAS_BCOMPLEX32 = hasattr(torch, "bcomplex32")


def name_of(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


@contextlib.contextmanager
def default_dtype(name: str) -> Iterator[None]:
    """Set torch's and the reference's default dtype together, restoring both."""
    old_torch, old_reference = torch.get_default_dtype(), D.get_default_dtype()
    try:
        torch.set_default_dtype(TORCH[name])
        D.set_default_dtype(name)
        yield
    finally:
        torch.set_default_dtype(old_torch)
        D.set_default_dtype(old_reference)


def operand_kinds(device: str = "cpu") -> list[tuple[Any, Any, str]]:
    """Every operand kind: (reference operand, torch operand, label) for a dimensioned and a
    0-d tensor of each dtype, and the four Python scalars."""
    kinds = []
    for name in NAMES:
        for ndim in (1, 0):
            tensor = torch.ones((2,) * ndim, dtype=TORCH[name], device=device)
            kinds.append((D.TensorLike(name, ndim), tensor, f"{name}[{ndim}-d]"))
    kinds += [(s, s, repr(s)) for s in SCALARS]
    return kinds


def expected_torch_dtype(reference_name: str) -> str:
    """The reference states today's torch; before torch 2.14 (no bcomplex32 dtype) a
    bfloat16 float beside a complex lower-ranked operand gave complex64 (DTYPE-4)."""
    if reference_name == "bcomplex32" and not HAS_BCOMPLEX32:
        return "complex64"
    return reference_name


def both_raise(
    torch_call: Callable[[], Any],
    reference_call: Callable[[], Any],
    torch_error: type[Exception] | tuple[type[Exception], ...],
    reference_error: type[Exception] | tuple[type[Exception], ...],
    keyword: str,
) -> None:
    """Error parity: both raise, and both messages contain the stable keyword (a regex)."""
    with pytest.raises(torch_error) as torch_info:
        torch_call()
    with pytest.raises(reference_error) as reference_info:
        reference_call()
    for info in (torch_info, reference_info):
        assert re.search(keyword, str(info.value)), (keyword, str(info.value))


# --- DTYPE-1: the table ---------------------------------------------------------------------


@pytest.mark.spec("DTYPE-1")
def test_the_notes_table_matches_torch(device):
    assert list(D.DTYPES) == [
        "bool", "uint8", "int8", "int16", "int32", "int64",
        "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    ]  # fmt: skip
    for name, row in D.DTYPES.items():
        dtype = TORCH[name]
        for alias in row.aliases:
            assert getattr(torch, alias) is dtype
        t = torch.zeros(2, dtype=dtype, device=device)
        assert t.element_size() == row.itemsize == dtype.itemsize
        assert dtype.is_floating_point == (row.category == "floating") == row.is_floating_point
        assert dtype.is_complex == row.is_complex
        assert dtype.is_signed == row.is_signed
        assert D.category(name) == row.category
        prefix = "torch.cuda." if str(device).startswith("cuda") else "torch."
        assert t.type() == prefix + row.type_name.removeprefix("torch.")
        assert getattr(torch.zeros(1, device=device), row.method)().dtype is dtype
        if row.legacy is None:  # the notes: no legacy class for complex tensors
            assert not hasattr(torch, row.type_name.removeprefix("torch."))
        else:
            assert getattr(torch, row.legacy)().dtype is dtype
            assert row.type_name == f"torch.{row.legacy}"
        if name == "bool":
            assert (row.min, row.max) == (0, 1)
        elif row.category == "integer":
            assert (row.min, row.max) == (torch.iinfo(dtype).min, torch.iinfo(dtype).max)
        else:
            finfo = torch.finfo(dtype)
            assert row.max == finfo.max and row.min == finfo.min
            assert finfo.eps == 2.0**-row.mantissa_bits


@pytest.mark.spec("DTYPE-1")
def test_notes_golden_dtypes():
    """Notes 001 (Data Type): the dtype argument, the attribute and the converting methods."""
    double_points = torch.ones(10, 2, dtype=torch.double)
    short_points = torch.tensor([[1, 2], [3, 4]], dtype=torch.short)
    assert double_points.dtype is torch.float64 and short_points.dtype is torch.int16
    assert torch.zeros(10, 2).double().dtype is torch.float64
    assert torch.ones(10, 2).short().dtype is torch.int16
    assert torch.zeros(10, 2).to(torch.double).dtype is torch.float64
    assert torch.ones(10, 2).to(dtype=torch.short).dtype is torch.int16
    assert D.info("double").name == "float64" and D.info("short").name == "int16"
    assert torch.Tensor is not torch.FloatTensor and torch.Tensor().dtype is torch.float32


# --- DTYPE-2: the default dtype ----------------------------------------------------------

INFERENCE_DATA = [
    [1, 2],
    [1, 2.0],
    [True, False],
    [True, 1],
    [True, 1.5],
    [1, 2j],
    [[1, 2], [3, 4.5]],
    [],
    [[]],
    2,
    2.5,
    True,
    1j,
]


@pytest.mark.spec("DTYPE-2")
@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("default", ["float32", "float64", "float16"])
def test_the_default_dtype_is_what_python_floats_become(device, default):
    with default_dtype(default):
        assert name_of(torch.get_default_dtype()) == D.get_default_dtype() == default
        for data in INFERENCE_DATA:
            assert name_of(torch.tensor(data, device=device).dtype) == D.infer_dtype(data), data
        assert name_of(torch.zeros(2, device=device).dtype) == default
        assert name_of(torch.arange(2.0, device=device).dtype) == default
        assert torch.arange(2, device=device).dtype is torch.int64  # int literals: int64
        assert name_of(torch.full((1,), 2.0, device=device).dtype) == default
        complex_default = name_of(torch.tensor(1j).dtype)
        assert complex_default == D.get_default_complex_dtype()
        assert complex_default == {"float32": "complex64", "float64": "complex128",
                                   "float16": "complex32"}[default]  # fmt: skip


@pytest.mark.spec("DTYPE-2")
def test_notes_golden_default_dtype():
    assert torch.get_default_dtype() is torch.float32 and D.get_default_dtype() == "float32"
    assert torch.tensor([1, 2.0]).dtype is torch.float32 and D.infer_dtype([1, 2.0]) == "float32"
    assert torch.tensor([1, 2]).dtype is torch.int64 and D.infer_dtype([1, 2]) == "int64"
    assert D.infer_dtype(np.zeros(2, np.int16)) == "int16"


@pytest.mark.spec("DTYPE-2")
def test_only_floating_dtypes_may_be_the_default():
    for name in NAMES:
        if D.category(name) == "floating":
            with default_dtype(name):
                assert name_of(torch.get_default_dtype()) == name
            continue
        both_raise(
            lambda name=name: torch.set_default_dtype(TORCH[name]),
            lambda name=name: D.set_default_dtype(name),
            TypeError,
            TypeError,
            "floating-point",
        )
        assert torch.get_default_dtype() is torch.float32 and D.get_default_dtype() == "float32"


@pytest.mark.spec("DTYPE-2")
def test_a_bfloat16_default_has_no_complex_counterpart():
    with default_dtype("bfloat16"):
        assert torch.tensor([1.5]).dtype is torch.bfloat16 and D.infer_dtype([1.5]) == "bfloat16"
        both_raise(
            lambda: torch.tensor([1j]),
            lambda: D.infer_dtype([1j]),
            RuntimeError,
            ValueError,
            "complex",
        )


# --- DTYPE-3: promote_types ----------------------------------------------------------------


@pytest.mark.spec("DTYPE-3")
def test_promote_types_on_every_pair_and_triple():
    for a, b in itertools.product(NAMES, repeat=2):
        expected = name_of(torch.promote_types(TORCH[a], TORCH[b]))
        assert D.promote_types(a, b) == expected, (a, b)
        assert D.promote_types(b, a) == expected
        if D.category(a) == D.category(b):  # the narrowest dtype that holds both
            result = D.info(expected)
            for operand in (D.info(a), D.info(b)):
                assert result.min <= operand.min and operand.max <= result.max
        else:  # the higher category's dtype (complex widened to the float)
            higher = a if D.CATEGORIES.index(D.category(a)) > D.CATEGORIES.index(
                D.category(b)) else b  # fmt: skip
            assert D.category(expected) == D.category(higher)
    for a, b, c in itertools.product(NAMES, repeat=3):
        left = D.promote_types(D.promote_types(a, b), c)
        assert left == D.promote_types(a, D.promote_types(b, c)), (a, b, c)
        torch_left = torch.promote_types(torch.promote_types(TORCH[a], TORCH[b]), TORCH[c])
        assert left == name_of(torch_left)


@pytest.mark.spec("DTYPE-3")
def test_notes_golden_promotions():
    assert D.promote_types("uint8", "int8") == "int16"
    assert D.promote_types("float16", "bfloat16") == "float32"
    assert D.promote_types("int64", "float16") == "float16"
    assert D.promote_types("complex64", "float64") == "complex128"
    assert D.promote_types("bool", "uint8") == "uint8"


# --- DTYPE-4: result_type and the rank rule ---------------------------------------------------


@pytest.mark.spec("DTYPE-4")
@pytest.mark.parametrize("default", ["float32", "float64"])
def test_result_type_on_every_pair_of_operand_kinds(default):
    with default_dtype(default):
        kinds = operand_kinds()
        for (ra, ta, la), (rb, tb, lb) in itertools.product(kinds, repeat=2):
            expected = D.result_type(ra, rb)
            assert name_of(torch.result_type(ta, tb)) == expected_torch_dtype(expected), (la, lb)
            assert D.result_type(rb, ra) == expected


@pytest.mark.spec("DTYPE-4")
def test_the_rank_rule_on_examples():
    """A lower-ranked operand changes the result only when its category is higher."""
    int8, f16 = D.TensorLike("int8"), D.TensorLike("float16")
    assert D.result_type(int8, np.array(5, dtype=np.int64)) == "int8"  # 0-d: same category
    assert D.result_type(int8, 1000) == "int8"  # a Python int never widens an int tensor
    assert D.result_type(int8, 1.5) == "float32"  # a Python float: the default dtype
    assert D.result_type(f16, np.array(1.0)) == "float16"  # 0-d float64: same category
    assert D.result_type(f16, np.zeros(1)) == "float64"  # both dimensioned: promote_types
    assert D.result_type(D.TensorLike("float64"), np.array(1j, np.complex64)) == "complex128"
    assert D.result_type(f16, 1j) == "complex32"
    assert D.result_type(D.TensorLike("int32"), np.array(1j, np.complex128)) == "complex128"
    assert D.result_type(True, 1) == "int64" and D.result_type(1, 2.0) == "float32"


@pytest.mark.spec("DTYPE-4")
@pytest.mark.skipif(HAS_BCOMPLEX32, reason="torch 2.14+ has bcomplex32")
def test_bfloat16_with_complex_before_bcomplex32():
    """torch < 2.14 has no bcomplex32: a bfloat16 tensor with a complex scalar is complex64."""
    assert torch.result_type(torch.ones(2, dtype=torch.bfloat16), 1j) is torch.complex64
    assert D.result_type(D.TensorLike("bfloat16"), 1j) == "bcomplex32"


@pytest.mark.spec("DTYPE-4")
@pytest.mark.skipif(not HAS_BCOMPLEX32, reason="torch < 2.14: no bcomplex32 dtype")
def test_bfloat16_with_complex_is_bcomplex32():
    assert torch.result_type(torch.ones(2, dtype=torch.bfloat16), 1j) is torch.bcomplex32
    assert D.result_type(D.TensorLike("bfloat16"), 1j) == "bcomplex32"


# --- DTYPE-5: real ops take the dtype result_type gives -----------------------------------------


def _dtype_of(call: Callable[[], torch.Tensor], expected: str) -> str | None:
    """The dtype of a real op's result, or None where torch has no kernel for the promoted
    dtype (bool addcmul, bcomplex32 arithmetic): the dtype was computed, the kernel missing."""
    try:
        return name_of(call().dtype)
    except (RuntimeError, NotImplementedError) as error:  # NotImplementedError on 2.13+
        assert "not implemented for" in str(error), error
        assert expected in ("bool", "complex32", "bcomplex32"), error
        return None


@pytest.mark.spec("DTYPE-5")
@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.filterwarnings("ignore:BComplex32 support is experimental")
def test_add_and_where_follow_result_type_on_every_pair(device):
    kinds = operand_kinds(device)
    cond = torch.tensor([True, False], device=device)
    for (ra, ta, la), (rb, tb, lb) in itertools.product(kinds, repeat=2):
        expected = expected_torch_dtype(D.result_type(ra, rb))
        if isinstance(ta, torch.Tensor) or isinstance(tb, torch.Tensor):
            got = _dtype_of(lambda ta=ta, tb=tb: ta + tb, expected)
            assert got in (expected, None), (la, lb, got)
        got = _dtype_of(lambda ta=ta, tb=tb: torch.where(cond, ta, tb), expected)
        assert got in (expected, None), (la, lb, got)


@pytest.mark.spec("DTYPE-5")
def test_cat_promotes_every_triple_of_dtypes(device):
    tensors = {name: torch.ones(1, dtype=TORCH[name], device=device) for name in NAMES}
    for a, b, c in itertools.product(NAMES, repeat=3):
        out = torch.cat([tensors[a], tensors[b], tensors[c]])
        expected = D.result_type(D.TensorLike(a), D.TensorLike(b), D.TensorLike(c))
        assert name_of(out.dtype) == expected == D.promote_types(D.promote_types(a, b), c)


@pytest.mark.spec("DTYPE-4", "DTYPE-5")
@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.filterwarnings("ignore:BComplex32 support is experimental")
def test_ternary_ops_follow_result_type_on_every_triple(device):
    """addcmul promotes its three tensor operands, dimensioned or 0-d, in one n-ary
    result_type (24**3 triples); clamp(t, lo, hi) with two Python scalars promotes the same
    way for the tensor kinds it supports (not complex)."""
    tensors = [k for k in operand_kinds(device) if isinstance(k[1], torch.Tensor)]
    for (ra, ta, la), (rb, tb, lb), (rc, tc, lc) in itertools.product(tensors, repeat=3):
        expected = expected_torch_dtype(D.result_type(ra, rb, rc))
        got = _dtype_of(lambda ta=ta, tb=tb, tc=tc: torch.addcmul(ta, tb, tc), expected)
        assert got in (expected, None), (la, lb, lc, got)
    for (ra, ta, la), lo, hi in itertools.product(tensors, SCALARS, SCALARS):
        expected = D.result_type(ra, lo, hi)
        if "complex" in (D.category(ra.dtype), D.category(expected)):
            # "clamp is not supported for complex types", or a complex bound that overflows
            # the conversion to a real scalar
            with pytest.raises((RuntimeError, NotImplementedError), match="complex|overflow"):
                torch.clamp(ta, lo, hi)
        elif expected != "bool":  # clamp has no bool kernel
            assert name_of(torch.clamp(ta, lo, hi).dtype) == expected, (la, lo, hi)


# --- DTYPE-6: can_cast and in-place ops ------------------------------------------------------


@pytest.mark.spec("DTYPE-6")
def test_can_cast_on_every_pair():
    for a, b in itertools.product(NAMES, repeat=2):
        assert D.can_cast(a, b) == torch.can_cast(TORCH[a], TORCH[b]), (a, b)
        assert D.can_cast(a, b) == (
            D.CATEGORIES.index(D.category(a)) <= D.CATEGORIES.index(D.category(b))
        )


@pytest.mark.spec("DTYPE-6")
def test_inplace_ops_refuse_a_result_that_cannot_be_cast_to_self(device):
    """``a.add_(b)`` works iff result_type(a, b) can be cast to a's dtype, and raises
    "can't be cast" otherwise: for every dtype of self and every operand kind of other."""
    for name in NAMES:
        for reference_other, torch_other, label in operand_kinds(device):
            self_t = torch.ones(2, dtype=TORCH[name], device=device)
            reference_self = D.TensorLike(name)
            try:
                expected = D.inplace_result_type(reference_self, reference_other)
            except TypeError as error:
                assert "can't be cast" in str(error)
                with pytest.raises(RuntimeError, match="can't be cast"):
                    self_t.add_(torch_other)
                continue
            assert name_of(self_t.add_(torch_other).dtype) == expected == name, (name, label)


@pytest.mark.spec("DTYPE-6", "DTYPE-7")
def test_notes_golden_inplace_pitfalls(device):
    ints = torch.tensor([1, 2], device=device)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints.add_(1.5)
    with pytest.raises(TypeError, match="can't be cast"):
        D.inplace_result_type(np.array([1, 2]), 1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints.div_(2)  # true division gives a float, which int64 cannot hold
    assert not D.can_cast(D.div_result_type(np.array([1, 2]), 2), "int64")
    assert (ints + 1.5).dtype is torch.float32 and D.result_type(np.array([1, 2]), 1.5) == "float32"


# --- DTYPE-7: true division ------------------------------------------------------------------


@pytest.mark.spec("DTYPE-7")
@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.filterwarnings("ignore:BComplex32 support is experimental")
def test_division_dtypes_on_every_pair(device):
    kinds = [k for k in operand_kinds(device) if k[2] != "1j"]
    for (ra, ta, la), (rb, tb, lb) in itertools.product(kinds, repeat=2):
        if not isinstance(ta, torch.Tensor):
            continue
        true_div = expected_torch_dtype(D.div_result_type(ra, rb))
        assert _dtype_of(lambda ta=ta, tb=tb: torch.div(ta, tb), true_div) in (true_div, None)
        assert _dtype_of(lambda ta=ta, tb=tb: ta / tb, true_div) in (true_div, None)
        if D.category(true_div) != "complex":
            floor = expected_torch_dtype(D.div_result_type(ra, rb, rounding_mode="floor"))
            if floor != "bool":  # floor division of bools has no kernel
                got = torch.div(ta, tb, rounding_mode="floor").dtype
                assert name_of(got) == floor == D.result_type(ra, rb), (la, lb)


@pytest.mark.spec("DTYPE-7")
def test_int_division_gives_the_default_float(device):
    a, b = torch.tensor([1, 2], device=device), torch.tensor([2, 2], device=device)
    assert (a / b).dtype is torch.float32 and (a / b).tolist() == [0.5, 1.0]
    assert D.div_result_type(np.array([1, 2]), np.array([2, 2])) == "float32"
    assert (a // b).dtype is torch.int64
    with default_dtype("float64"):
        assert (a / b).dtype is torch.float64
        assert D.div_result_type(np.array([1]), 2) == "float64"


# --- DTYPE-8: conversions -------------------------------------------------------------------

CONVERTIBLE = [n for n in NAMES if n != "bfloat16"]  # NumPy cannot hold bfloat16


@st.composite
def conversion_cases(draw):
    """(array, target dtype): values that every target represents without overflow: small
    integers for integer targets (non-negative for uint8, since negative floats converted to
    uint8 are implementation-defined), finite floats otherwise."""
    source = draw(st.sampled_from(CONVERTIBLE))
    target = draw(st.sampled_from(CONVERTIBLE))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    low = 0 if "uint8" in (source, target) or source == "bool" else -100
    high = 1 if source == "bool" else 100
    if D.category(source) == "bool":
        elements = st.booleans()
    elif D.category(source) == "integer":
        elements = st.integers(low, high)
    else:
        elements = st.floats(low, high, allow_nan=False, allow_subnormal=False, width=16)
        if D.category(target) == "floating" or target == "bool":
            elements |= (
                st.sampled_from([np.nan, np.inf, -np.inf]) if target != "bool" else st.just(np.nan)
            )
    array = draw(
        hnp.arrays(np.dtype("bool" if source == "bool" else source), shape, elements=elements)
    )
    if D.category(source) == "complex":
        array = array + 1j * draw(hnp.arrays(array.real.dtype, shape, elements=st.integers(-3, 3)))
    return array, target


@pytest.mark.spec("DTYPE-8")
@given(conversion_cases())
@example((np.array([1.7, -1.7, -0.5, 2.5]), "int64"))  # truncation toward zero
@example((np.array([0.0, -0.0, 0.5, np.nan]), "bool"))  # x != 0; NaN is True
@example((np.array(3.9, dtype=np.float32), "uint8"))  # 0-d
@example((np.zeros((0, 3), np.int16), "float64"))  # empty
@example((np.array([300, -1, 255]), "uint8"))  # int to narrower int wraps modulo 2**8
def test_to_converts_like_torch(device, case):
    array, target = case
    t = to_torch(array, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex to real discards the imaginary part
        expected = D.to(array, target)
        out = t.to(TORCH[target])
        same = [getattr(t, D.DTYPES[target].method)(), t.type(TORCH[target])]
    for result in (out, *same):
        assert result.dtype is TORCH[target]
        np.testing.assert_array_equal(to_numpy(result), expected)
        assert result.shape == t.shape
    # nothing to change: the tensor itself, unless a copy is asked for
    source = D.info(array.dtype)
    assert t.to(TORCH[source.name]) is t and D.to(array, source.name) is array
    assert t.to(TORCH[source.name], copy=True) is not t
    assert D.to(array, source.name, copy=True) is not array
    assert t.to(device) is t and t.to() is t
    assert t.type(TORCH[source.name]) is t and D.type(array, source.name) is array
    name = "torch.cuda." + source.type_name[6:] if str(device).startswith("cuda") else None
    assert t.type() == (name or source.type_name) and D.type(array) == source.type_name
    assert t.type(name or source.type_name) is t


@pytest.mark.spec("DTYPE-8")
def test_complex_to_real_keeps_the_real_part(device):
    """torch warns "discards the imaginary part" (once per process: a TORCH_WARN_ONCE); the
    reference warns every time. To bool both parts count."""
    t = torch.tensor([1 + 2j, -3 - 4j, 1j], device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = t.to(torch.float32)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        expected = D.to(np.array([1 + 2j, -3 - 4j, 1j]), "float32")
    assert out.tolist() == expected.tolist() == [1.0, -3.0, 0.0]
    values = np.array([0j, 1j, 2 + 0j])
    assert to_torch(values, device).to(torch.bool).tolist() == D.to(values, "bool").tolist()
    assert D.to(values, "bool").tolist() == [False, True, True]


# --- DTYPE-9: dtypes do not mix in layers ------------------------------------------------------


@pytest.mark.spec("DTYPE-9")
def test_a_float64_batch_into_a_float32_layer_raises(device):
    """Notes 001: "Using different data types for model and data will cause errors":
    matmul and Linear do not promote, unlike elementwise ops."""
    layer = torch.nn.Linear(2, 3).to(device)
    batch = torch.ones(4, 2, dtype=torch.float64, device=device)
    weight = layer.weight.detach().cpu().numpy()
    both_raise(
        lambda: layer(batch),
        lambda: matmul(np.ones((4, 2)), weight.T),
        RuntimeError,
        TypeError,
        r"dtype",
    )
    both_raise(
        lambda: batch @ layer.weight.T,
        lambda: matmul(np.ones((4, 2)), weight),
        RuntimeError,
        TypeError,
        r"dtype|scalar type",
    )
    assert layer(batch.float()).dtype is torch.float32  # the fix: convert the data
    assert (batch + layer.bias[:2]).dtype is torch.float64  # elementwise ops promote


# --- DTYPE-10: Python scalars written into tensors -------------------------------------------

FILL_CASES = [
    # (dtype, value): converted or overflowing, per checked_convert
    ("int8", 2.7),
    ("int8", -0.9),
    ("int8", 127),
    ("int8", 128),
    ("int8", -128.5),
    ("int8", True),
    ("uint8", -1),
    ("uint8", -255),
    ("uint8", -256),
    ("uint8", -1.0),
    ("uint8", 300),
    ("int64", 2**63 - 1),
    ("int32", float("nan")),
    ("int32", float("inf")),
    ("bool", 5),
    ("bool", -0.5),
    ("bool", 0j),
    ("bool", 1j),
    ("float16", 65504),
    ("float16", 70000),
    ("float16", 70000.0),
    ("float16", float("inf")),
    ("float32", 1e39),
    ("float32", float("nan")),
    ("float32", 1 + 0j),
    ("float32", 1 + 1j),
    ("complex64", 1e39),
    ("complex64", 2 - 3j),
    ("float64", 1e308),
]


@pytest.mark.spec("DTYPE-10")
@pytest.mark.parametrize(("name", "value"), FILL_CASES, ids=[f"{n}-{v!r}" for n, v in FILL_CASES])
def test_fill_values_are_range_checked(device, name, value):
    t = torch.zeros(2, dtype=TORCH[name], device=device)
    try:
        expected = D.checked_convert(value, name)
    except ValueError as error:
        assert "without overflow" in str(error)
        with pytest.raises(RuntimeError, match="without overflow"):
            torch.full_like(t, value)
        with pytest.raises(ValueError, match="without overflow"):
            full_like(np.zeros(2, dtype=np.dtype(name)), value)
        return
    wanted = np.full(2, expected, dtype=np.dtype(name))
    np.testing.assert_array_equal(to_numpy(torch.full_like(t, value)), wanted)
    mask = torch.ones(2, dtype=torch.bool, device=device)
    np.testing.assert_array_equal(to_numpy(t.masked_fill(mask, value)), wanted)


@pytest.mark.spec("DTYPE-10")
@pytest.mark.parametrize(("name", "value"), [("int8", 127.5), ("uint8", 255.5), ("int16", 32767.9)])
def test_a_float_just_above_the_integer_range(device, name, value):
    """torch 2.14 accepts a float in (max, max + 1) and truncates it to max; earlier
    releases reject it as an overflow (the reference states 2.14)."""
    t = torch.zeros(2, dtype=TORCH[name], device=device)
    assert D.checked_convert(value, name) == D.DTYPES[name].max
    if torch_at_least("2.14"):
        assert torch.full_like(t, value).tolist() == [D.DTYPES[name].max] * 2
    else:
        with pytest.raises(RuntimeError, match="without overflow"):
            torch.full_like(t, value)


# --- DTYPE-11: errors ------------------------------------------------------------------------

ERRORS = [
    # (id, torch call, reference call, torch error, reference error, keyword)
    ("default int64", lambda: torch.set_default_dtype(torch.int64),
     lambda: D.set_default_dtype("int64"), TypeError, TypeError, "floating-point"),
    ("default complex", lambda: torch.set_default_dtype(torch.complex64),
     lambda: D.set_default_dtype("complex64"), TypeError, TypeError, "floating-point"),
    ("int add_ float", lambda: torch.ones(2, dtype=torch.int64).add_(1.5),
     lambda: D.inplace_result_type(np.ones(2, np.int64), 1.5), RuntimeError, TypeError,
     "can't be cast"),
    ("bool add_ int", lambda: torch.ones(2, dtype=torch.bool).add_(1),
     lambda: D.inplace_result_type(np.ones(2, bool), 1), RuntimeError, TypeError,
     "can't be cast"),
    ("float mul_ complex", lambda: torch.ones(2).mul_(1j),
     lambda: D.inplace_result_type(np.ones(2, np.float32), 1j), RuntimeError, TypeError,
     "can't be cast"),
    ("int8 overflow", lambda: torch.full_like(torch.zeros(2, dtype=torch.int8), 300),
     lambda: D.checked_convert(300, "int8"), RuntimeError, ValueError, "without overflow"),
    ("half overflow", lambda: torch.full((2,), 70000.0, dtype=torch.float16),
     lambda: D.checked_convert(70000.0, "float16"), RuntimeError, ValueError, "without overflow"),
    ("complex to real", lambda: torch.zeros(2).fill_(1 + 1j),
     lambda: D.checked_convert(1 + 1j, "float32"), RuntimeError, ValueError, "without overflow"),
    ("matmul dtypes", lambda: torch.ones(2, 2, dtype=torch.float64) @ torch.ones(2, 2),
     lambda: matmul(np.ones((2, 2)), np.ones((2, 2), np.float32)), RuntimeError, TypeError,
     "dtype|scalar type"),
    ("bad rounding mode", lambda: torch.div(torch.ones(2), 2, rounding_mode="round"),
     lambda: D.div_result_type(np.ones(2), 2, rounding_mode="round"), RuntimeError, ValueError,
     "rounding_mode"),
]  # fmt: skip


@pytest.mark.spec("DTYPE-11")
@pytest.mark.parametrize(
    ("torch_call", "reference_call", "torch_error", "reference_error", "keyword"),
    [e[1:] for e in ERRORS],
    ids=[e[0] for e in ERRORS],
)
def test_invalid_dtype_uses_raise_in_both(torch_call, reference_call, torch_error,
                                          reference_error, keyword):  # fmt: skip
    try:
        both_raise(torch_call, reference_call, torch_error, reference_error, keyword)
    finally:
        torch.set_default_dtype(torch.float32)
        D.set_default_dtype("float32")


@pytest.mark.spec("DTYPE-11")
def test_the_reference_refuses_what_it_cannot_describe():
    with pytest.raises(TypeError, match="unknown dtype"):
        D.promote_types("float8", "int8")
    with pytest.raises(TypeError, match="no bfloat16"):
        D.to(np.zeros(2), "bfloat16")
    with pytest.raises(TypeError, match="ambiguous"):
        D.result_type(np.float32(1.0), D.TensorLike("float16"))
    with pytest.raises(TypeError, match="at least one operand"):
        D.result_type()
