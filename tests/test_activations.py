"""ACT: activation functions, held to torch and to the reference (reference/activations.py)."""

from __future__ import annotations

import functools
import math
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from reference import activations as A
from reference import autograd as ag
from reference import functional as RF
from tests.strategies import finite_arrays, shapes
from tests.support import (
    CPU_CAPABILITY,
    TOLERANCES,
    assert_matches,
    known_torch_bug,
    to_numpy,
    to_torch,
    torch_at_least,
)

TORCH_DTYPE = {
    np.dtype(np.float16): torch.float16,
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
}
NAN, INF = math.nan, math.inf
NON_FINITE = (NAN, INF, -INF)
ACTIVATION_DTYPES = (np.float32, np.float64, np.float16)


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_subnormal=False)


def _matches(actual: torch.Tensor, expected: Any, **tolerance: float) -> None:
    """``assert_matches`` (the tolerance of the dtype, nan equal to nan), with a NumPy fast
    path for the passing case: ``torch.testing.assert_close`` costs about 0.2 ms a call,
    which the properties here would pay thousands of times."""
    a, e = to_numpy(actual), np.asarray(expected)
    if a.shape == e.shape and a.dtype == e.dtype:
        if a.dtype.kind in "biu":
            if np.array_equal(a, e):
                return
        else:
            tol = {**TOLERANCES.get(actual.dtype, {"rtol": 0.0, "atol": 0.0}), **tolerance}
            a64, e64 = a.astype(np.float64), e.astype(np.float64)
            with np.errstate(invalid="ignore"):
                near = np.abs(a64 - e64) <= tol["atol"] + tol["rtol"] * np.abs(e64)
            if np.all(near | (a64 == e64) | (np.isnan(a64) & np.isnan(e64))):
                return
    assert_matches(actual, expected, **tolerance)  # fails, with torch's full report


def _same(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Bitwise the same values (nan equal to nan), shape and dtype."""
    if actual.dtype == expected.dtype:
        a, e = to_numpy(actual), to_numpy(expected)
        if a.shape == e.shape and np.array_equal(a, e, equal_nan=a.dtype.kind == "f"):
            return
    torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True)


# --- known torch deviations (strict xfails in the example tests, masked in the properties) --

SOFTSHRINK_NAN_BUG = {
    "fixed_in": "2.6",
    "issue": "pytorch/pytorch#138385",
    "why": "softshrink maps nan to 0 instead of propagating it",
}
GELU_INF_BUG = {
    "fixed_in": None,
    "issue": "pytorch/pytorch#185770",
    "why": "oneDNN's AVX-512 gelu kernel (contiguous float32 CPU tensors of 2+ elements) "
    "gives nan for +inf",
}


def _onednn_avx512_gelu(device: str, dtype: torch.dtype) -> bool:
    """Whether F.gelu on a contiguous multi-element tensor of ``dtype`` runs oneDNN's
    AVX-512 kernel here, the one with the +inf bug (ISA capped by ONEDNN_MAX_CPU_ISA)."""
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    return (
        device == "cpu"
        and dtype in (torch.float32, torch.bfloat16)
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and platform.machine().lower() in ("x86_64", "amd64")
        and CPU_CAPABILITY.startswith("AVX512")
        and (capped == "ALL" or "AVX512" in capped or "AMX" in capped)
    )


def _deviation_mask(name: str, kwargs: dict, x: np.ndarray, device: str) -> np.ndarray | None:
    """Where torch is known to deviate from the reference on this input (see ACT-20 and
    ACT-21): positions the properties leave to the strict-xfail example tests, or that no
    clause fixes."""
    mask = np.zeros(x.shape, bool)
    if name == "softshrink" and not torch_at_least("2.6"):
        mask |= np.isnan(x)
    if name == "gelu" and kwargs.get("approximate", "none") == "none" and device == "cpu":
        mask |= np.isposinf(x)  # the oneDNN path depends on layout, size and the CPU's ISA
    if x.dtype == np.float16 and name in ("threshold", "hardshrink", "softshrink"):
        # float16 against a parameter rounded to float32 or to float16: ACT-21 states which
        # for the CPU only (softshrink from 2.14); elsewhere the boundary is left open.
        stated = device == "cpu" and (name != "softshrink" or torch_at_least("2.14"))
        lambd = kwargs.get("lambd", 0.5)
        bounds = [kwargs["threshold"]] if name == "threshold" else [lambd, -lambd]
        for bound in [] if stated else bounds:
            lo, hi = sorted((float(np.float16(bound)), float(np.float32(bound))))
            mask |= (x >= lo) & (x <= hi)
    return mask if mask.any() else None


def _assert_matches_except(actual: torch.Tensor, expected: np.ndarray, mask) -> None:
    if mask is not None and mask.any():
        expected = expected.copy()
        expected[mask] = to_numpy(actual)[mask]
    _matches(actual, expected)


# --- the elementwise activations, each with its torch module and parameter ranges ---------


@dataclass(frozen=True)
class Op:
    """An elementwise activation: its name in ``torch.nn.functional`` and the reference, its
    ``torch.nn`` module, a strategy for its keyword parameters, and whether it has
    ``inplace``."""

    name: str
    module: str
    params: st.SearchStrategy[dict] = st.just({})
    inplace: bool = False


def _rrelu_bounds() -> st.SearchStrategy[dict]:
    return st.tuples(_floats(0.0, 0.5), _floats(0.0, 0.5)).map(
        lambda b: {"lower": b[0], "upper": b[0] + b[1]}
    )


def _params(**strategies: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(strategies)


# nn.Hardtanh needs min_val < max_val strictly (F.hardtanh allows equality: ACT-18).
_HARDTANH = _params(min_val=_floats(-3, -0.01), max_val=_floats(0, 3))
_THRESHOLD = _params(threshold=_floats(-3, 3), value=_floats(-5, 5))

# One group per clause of docs/activations.md that states these activations' formulas.
GROUPS = {
    "ACT-2": [
        Op("relu", "ReLU", inplace=True),
        Op("relu6", "ReLU6", inplace=True),
        Op("hardtanh", "Hardtanh", _HARDTANH, inplace=True),
        Op("threshold", "Threshold", _THRESHOLD, inplace=True),
    ],
    "ACT-4": [
        Op("leaky_relu", "LeakyReLU", _params(negative_slope=_floats(0, 1)), inplace=True),
        Op("rrelu", "RReLU", _rrelu_bounds(), inplace=True),
    ],
    "ACT-6": [
        Op("elu", "ELU", _params(alpha=_floats(0, 3)), inplace=True),
        Op("selu", "SELU", inplace=True),
        Op("celu", "CELU", _params(alpha=_floats(0.1, 3)), inplace=True),
    ],
    "ACT-7": [
        Op("gelu", "GELU", _params(approximate=st.sampled_from(["none", "tanh"]))),
        Op("silu", "SiLU", inplace=True),
        Op("mish", "Mish", inplace=True),
        Op("hardswish", "Hardswish", inplace=True),
    ],
    "ACT-8": [
        Op("sigmoid", "Sigmoid"),
        Op("logsigmoid", "LogSigmoid"),
        Op("hardsigmoid", "Hardsigmoid", inplace=True),
    ],
    "ACT-10": [Op("tanh", "Tanh"), Op("softsign", "Softsign"), Op("tanhshrink", "Tanhshrink")],
    "ACT-11": [
        Op("softplus", "Softplus", _params(beta=_floats(0.25, 4), threshold=_floats(0.5, 30)))
    ],
    "ACT-12": [
        Op("hardshrink", "Hardshrink", _params(lambd=_floats(0, 3))),
        Op("softshrink", "Softshrink", _params(lambd=_floats(0, 3))),
    ],
}
ELEMENTWISE = [op for ops in GROUPS.values() for op in ops]


@st.composite
def activation_inputs(
    draw,
    *,
    min_dims: int = 0,
    max_dims: int = 3,
    max_side: int = 4,
    nonfinite: bool = True,
    dtypes: tuple = ACTIVATION_DTYPES,
):
    """``(array, noncontiguous)``: float16, float32 or float64 values in [-100, 100] of any
    shape (0-d and empty included), with up to three entries replaced by nan, +inf or -inf
    when ``nonfinite``."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    x = draw(finite_arrays(shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side), dtype))
    if nonfinite and x.size:
        plants = st.tuples(st.integers(0, x.size - 1), st.sampled_from(NON_FINITE))
        flat = x.reshape(-1)
        for index, value in draw(st.lists(plants, max_size=3)):
            flat[index] = value
    return x, draw(st.booleans())


def _check_inplace(op: Op, x, kwargs, expected, out_of_place, device, nc) -> None:
    """ACT-17: ``inplace=True`` writes into the input exactly the out-of-place result (torch)
    or the reference's result (reference), and returns the input itself."""
    t = to_torch(x, device, noncontiguous=nc)
    assert getattr(F, op.name)(t, **kwargs, inplace=True) is t
    _same(t, out_of_place)
    t = to_torch(x, device, noncontiguous=nc)
    assert getattr(nn, op.module)(**kwargs, inplace=True).eval()(t) is t
    _same(t, out_of_place)
    array = x.copy()
    view = array[...] if x.ndim == 0 else np.moveaxis(array, 0, -1)  # non-contiguous if 2-D+
    assert getattr(A, op.name)(view, **kwargs, inplace=True) is view
    np.testing.assert_array_equal(array, expected)


# --- ACT-1 and the formulas: every form of every activation matches the reference -------
# One example draws one input and checks every activation of a clause's group on it, so
# each group gets 100 inputs without paying for 100 new arrays per activation.


# Clauses whose activations share one property run (fewer, larger runs keep the file fast).
RUNS = [("ACT-2", "ACT-4", "ACT-6"), ("ACT-7", "ACT-8"), ("ACT-10", "ACT-11", "ACT-12")]


@pytest.mark.spec("ACT-1", "ACT-17", "ACT-20", "ACT-21")
@pytest.mark.parametrize(
    "ops",
    [
        pytest.param(
            [op for clause in run for op in GROUPS[clause]],
            id="+".join(run),
            marks=pytest.mark.spec(*run),
        )
        for run in RUNS
    ],
)
@given(case=activation_inputs(), data=st.data())
def test_functional_module_and_inplace_forms_match_the_reference(device, ops, case, data):
    x, noncontiguous = case
    t = to_torch(x, device, noncontiguous=noncontiguous)
    for op in ops:
        kwargs = data.draw(op.params, label=op.name)
        expected = getattr(A, op.name)(x, **kwargs)
        assert expected.shape == x.shape and expected.dtype == x.dtype
        functional = getattr(F, op.name)(t, **kwargs)
        assert functional.shape == t.shape and functional.dtype == t.dtype
        _assert_matches_except(functional, expected, _deviation_mask(op.name, kwargs, x, device))
        # the module calls the functional form: bitwise the same result
        _same(getattr(nn, op.module)(**kwargs).eval()(t), functional)
        if op.inplace:
            _check_inplace(op, x, kwargs, expected, functional, device, noncontiguous)
        np.testing.assert_array_equal(to_numpy(t), x)  # out-of-place forms leave the input
    if any(op.name == "gelu" for op in ops):  # ACT-7: torch.erf, which exact GELU needs
        expected = A.erf(x)
        assert expected.dtype == x.dtype
        _matches(torch.erf(t), expected)


@pytest.mark.spec("ACT-2")
def test_relu_on_the_notes_example(device):
    # notes 001, "Non-linear activations": ReLU()(tensor([[1, -0.5], [-1, 3]]))
    x = np.array([[1, -0.5], [-1, 3]], dtype=np.float32)
    expected = np.array([[1.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(A.relu(x), expected)
    _matches(nn.ReLU()(to_torch(x, device)), expected, rtol=0, atol=0)


# --- ACT-3: ReLU's gradient and dead units ---------------------------------------------


@pytest.mark.spec("ACT-3")
@given(finite_arrays(shapes(min_dims=1, max_dims=2, max_side=5)))
@example(np.array([-2.0, 0.0, 3.0]))  # at 0 torch's derivative is 0
def test_relu_gradient_is_one_above_zero_and_zero_elsewhere(device, x):
    t = to_torch(x, device, requires_grad=True)
    F.relu(t).sum().backward()
    _matches(t.grad, (x > 0).astype(x.dtype), rtol=0, atol=0)


@pytest.mark.spec("ACT-3")
def test_a_dead_relu_unit_gets_no_gradient(device):
    torch.manual_seed(0)
    layer = nn.Linear(3, 2).to(device)
    with torch.no_grad():
        layer.bias[0] = -1000.0  # unit 0 is negative for every input in [0, 1): dead
        layer.bias[1] = 1000.0  # unit 1 is positive for every input: always passes
    x = torch.rand(8, 3, device=device)
    F.relu(layer(x)).sum().backward()
    assert torch.all(layer.weight.grad[0] == 0) and layer.bias.grad[0] == 0
    _matches(layer.weight.grad[1], to_numpy(x.sum(0)))
    assert float(layer.bias.grad[1]) == 8.0


# --- ACT-4, ACT-5: leaky, randomized and parametric ReLU -------------------------------


@pytest.mark.spec("ACT-4")
@given(finite_arrays(shapes(min_dims=1, max_dims=2, max_side=5)), _floats(0, 1))
@example(np.array([-1.0, 2.0]), 0.2)  # notes 000 GAN: nn.LeakyReLU(0.2, inplace=True)
def test_leaky_relu_slope_and_gradient(device, x, slope):
    t = to_torch(x, device, requires_grad=True)
    y = F.leaky_relu(t, slope)
    y.sum().backward()
    expected_grad = np.where(x > 0, 1.0, slope)
    _matches(t.grad, expected_grad)
    _matches(y, A.leaky_relu(x, slope))
    negative = x < 0
    _matches(y[to_torch(negative, device)], slope * x[negative])


@pytest.mark.spec("ACT-4")
def test_leaky_relu_default_slope_is_one_hundredth():
    assert nn.LeakyReLU().negative_slope == 0.01
    np.testing.assert_allclose(A.leaky_relu(np.array([-3.0])), [-0.03])


@st.composite
def prelu_cases(draw):
    x, noncontiguous = draw(activation_inputs(min_dims=0, max_dims=4))
    channels = x.shape[1] if x.ndim >= 2 else 1
    size = draw(st.sampled_from(sorted({1, channels})))
    weight_shape = draw(st.sampled_from([(size,), ()] if size == 1 else [(size,)]))
    weight = draw(finite_arrays(weight_shape, x.dtype, min_value=-2, max_value=2))
    return x, weight, noncontiguous


@pytest.mark.spec("ACT-5", "ACT-20")
@given(prelu_cases())
def test_prelu_has_one_slope_per_channel(device, case):
    x, weight, noncontiguous = case
    t = to_torch(x, device, noncontiguous=noncontiguous)
    expected = A.prelu(x, weight)
    _matches(F.prelu(t, to_torch(weight, device)), expected)
    module = nn.PReLU(weight.size, device=device, dtype=TORCH_DTYPE[x.dtype])
    assert tuple(module.weight.shape) == (weight.size,)
    np.testing.assert_array_equal(to_numpy(module.weight), np.full(weight.size, 0.25, x.dtype))
    with torch.no_grad():
        module.weight.copy_(to_torch(weight.reshape(-1), device))
    _matches(module(t), expected)


# --- ACT-19: RReLU in training ----------------------------------------------------------


@pytest.mark.spec("ACT-19", "ACT-20")
@given(activation_inputs(dtypes=(np.float32, np.float64)), _rrelu_bounds())
@example((np.array([NAN, INF, -INF, 0.0, -0.0, -1.0, 2.0]), False), {"lower": 0.1, "upper": 0.3})
@example((np.array([-1.0, -2.0]), False), {"lower": 0.25, "upper": 0.25})  # lower == upper
def test_rrelu_training_slopes_lie_in_the_bounds_and_give_the_output(device, case, bounds):
    x, noncontiguous = case
    lower, upper = bounds["lower"], bounds["upper"]
    t = to_torch(x, device, noncontiguous=noncontiguous)
    noise = torch.empty_like(t)
    y = torch.ops.aten.rrelu_with_noise(t, noise, lower, upper, True)
    slopes = to_numpy(noise)
    not_positive = x <= 0  # nan compares false: it passes through with noise 1
    lo, hi = x.dtype.type(lower), x.dtype.type(upper)  # a slope is rounded to the dtype
    assert np.all((slopes[not_positive] >= lo) & (slopes[not_positive] <= hi))
    np.testing.assert_array_equal(slopes[~not_positive], 1.0)
    # The reference, given torch's slopes, computes torch's output bit for bit.
    _same(y, to_torch(A.rrelu(x, lower, upper, training=True, noise=slopes), device))
    # F.rrelu and nn.RReLU in training mode (the default) draw fresh slopes the same way.
    for out in (F.rrelu(t, lower, upper, training=True), nn.RReLU(lower, upper)(t)):
        out = to_numpy(out)
        np.testing.assert_array_equal(out[~not_positive], x[~not_positive])
        finite_negative = np.isfinite(x) & (x < -1e-30)  # x * slope stays a normal float
        ratio = out[finite_negative].astype(np.float64) / x[finite_negative]
        slack = 1e-6 if x.dtype == np.float32 else 1e-12
        assert np.all((ratio >= lower - slack) & (ratio <= upper + slack))
    # The reference's own draws lie in the bounds too and repeat with the generator's seed.
    drawn = A.rrelu(x, lower, upper, training=True, generator=np.random.default_rng(7))
    again = A.rrelu(x, lower, upper, training=True, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(drawn, again)
    np.testing.assert_array_equal(drawn[~not_positive], x[~not_positive])


@pytest.mark.spec("ACT-19")
@pytest.mark.parametrize(("lower", "upper"), [(1 / 8, 1 / 3), (0.0, 1.0), (0.4, 0.5)])
def test_rrelu_training_slopes_are_uniform_between_the_bounds(device, lower, upper):
    # Mean of n U(l, u) slopes: (l + u)/2 with sd (u - l)/sqrt(12 n); 6 sd bound (false
    # failure about 2e-9 at fixed seeds). The extremes of n draws lie within 1e-3 of the bounds.
    n = 20_000
    x = -np.ones(n)
    torch.manual_seed(2024)
    noise = torch.empty(n, dtype=torch.float64, device=device)
    torch.ops.aten.rrelu_with_noise(to_torch(x, device), noise, lower, upper, True)
    reference = -A.rrelu(x, lower, upper, training=True, generator=np.random.default_rng(2024))
    bound = 6 * (upper - lower) / math.sqrt(12 * n)
    for slopes in (to_numpy(noise), reference):
        assert abs(slopes.mean() - (lower + upper) / 2) <= bound
        assert lower <= slopes.min() <= lower + 1e-3 and upper - 1e-3 <= slopes.max() <= upper
    torch.manual_seed(5)
    first = F.rrelu(to_torch(x, device), lower, upper, training=True)
    torch.manual_seed(5)
    _same(F.rrelu(to_torch(x, device), lower, upper, training=True), first)


@pytest.mark.spec("ACT-19", "ACT-17")
def test_rrelu_training_inplace_returns_the_input(device):
    x = np.array([-1.0, 2.0, -3.0])
    t = to_torch(x, device)
    assert F.rrelu(t, training=True, inplace=True) is t
    assert t[1] == 2.0 and bool(((t[[0, 2]] < 0) & (t[[0, 2]] > to_torch(x[[0, 2]], device))).all())
    array = x.copy()
    noise = np.array([0.2, 1.0, 0.3])
    assert A.rrelu(array, training=True, inplace=True, noise=noise) is array
    np.testing.assert_allclose(array, [-0.2, 2.0, -0.9])


# --- ACT-8, ACT-9: sigmoid's range and derivative ----------------------------------------


@pytest.mark.spec("ACT-9")
@given(finite_arrays(shapes(max_dims=2, max_side=5), min_value=-30, max_value=30))
@example(np.array([-30.0, 0.0, 30.0]))
def test_sigmoid_is_in_the_open_unit_interval_with_derivative_s_times_one_minus_s(device, x):
    t = to_torch(x, device, requires_grad=True)
    s = torch.sigmoid(t)
    s.sum().backward()
    reference_s = A.sigmoid(x)
    assert np.all((reference_s > 0) & (reference_s < 1))
    assert bool(torch.all((s > 0) & (s < 1)))
    _matches(t.grad, reference_s * (1 - reference_s))


@pytest.mark.spec("ACT-9")
def test_sigmoid_golden_values():
    x = np.array([0.0, math.log(3.0), -math.log(3.0)])
    np.testing.assert_allclose(A.sigmoid(x), [0.5, 0.75, 0.25], rtol=1e-15)
    np.testing.assert_allclose(torch.sigmoid(torch.tensor(x)).numpy(), [0.5, 0.75, 0.25])


# --- ACT-7: GELU's exact form needs erf -------------------------------------------------


@pytest.mark.spec("ACT-7")
@given(_floats(-8, 8))
@example(0.0)
@example(1e-300)
@example(2.0)  # where the reference switches from the series to the continued fraction
def test_reference_erf_agrees_with_math_erf(value):
    assert abs(float(A.erf(np.array(value))) - math.erf(value)) <= 2e-15


@pytest.mark.spec("ACT-7")
def test_gelu_golden_values():
    # Phi(1) = 0.841344746068543, Phi(-1) = 1 - Phi(1)
    x = torch.tensor([1.0, -1.0], dtype=torch.float64)
    expected = np.array([0.841344746068543, -0.158655253931457])
    _matches(F.gelu(x), expected)
    np.testing.assert_allclose(A.gelu(x.numpy()), expected, rtol=1e-14)


# --- ACT-20: nan and inf ---------------------------------------------------------------------

SELU_AT_MINUS_INF = -A.SELU_SCALE * A.SELU_ALPHA
# (function, keyword arguments, results at [nan, +inf, -inf]) as ACT-20 states them.
NON_FINITE_TABLE = [
    ("relu", {}, (NAN, INF, 0.0)),
    ("relu6", {}, (NAN, 6.0, 0.0)),
    ("hardtanh", {}, (NAN, 1.0, -1.0)),
    ("threshold", {"threshold": 0.5, "value": -9.0}, (NAN, INF, -9.0)),
    ("leaky_relu", {}, (NAN, INF, -INF)),
    ("rrelu", {}, (NAN, INF, -INF)),
    ("elu", {}, (NAN, INF, -1.0)),
    ("selu", {}, (NAN, INF, SELU_AT_MINUS_INF)),
    ("celu", {"alpha": 2.0}, (NAN, INF, -2.0)),
    ("gelu", {}, (NAN, INF, NAN)),
    ("gelu", {"approximate": "tanh"}, (NAN, INF, NAN)),
    ("silu", {}, (NAN, INF, NAN)),
    ("mish", {}, (NAN, INF, NAN)),
    ("hardswish", {}, (NAN, INF, NAN)),
    ("sigmoid", {}, (NAN, 1.0, 0.0)),
    ("logsigmoid", {}, (NAN, 0.0, -INF)),
    ("hardsigmoid", {}, (NAN, 1.0, 0.0)),
    ("tanh", {}, (NAN, 1.0, -1.0)),
    ("softsign", {}, (NAN, NAN, NAN)),
    ("tanhshrink", {}, (NAN, INF, -INF)),
    ("softplus", {}, (NAN, INF, 0.0)),
    ("hardshrink", {}, (NAN, INF, -INF)),
    ("softshrink", {}, (NAN, INF, -INF)),
]


def _table_param(name, kwargs, results):
    label = name + "".join(f"-{v}" for v in kwargs.values())
    marks = [known_torch_bug(**SOFTSHRINK_NAN_BUG)] if name == "softshrink" else []
    return pytest.param(name, kwargs, results, id=label, marks=marks)


@pytest.mark.spec("ACT-20")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("name", "kwargs", "results"), [_table_param(*row) for row in NON_FINITE_TABLE]
)
def test_non_finite_inputs_give_the_stated_results(request, device, dtype, name, kwargs, results):
    x = np.array(NON_FINITE, dtype=dtype)
    expected = np.array(results, dtype=dtype)
    np.testing.assert_array_equal(getattr(A, name)(x, **kwargs), expected)
    if name == "gelu" and not kwargs and _onednn_avx512_gelu(device, TORCH_DTYPE[x.dtype]):
        request.applymarker(known_torch_bug(**GELU_INF_BUG))
    _matches(getattr(F, name)(to_torch(x, device), **kwargs), expected, rtol=0, atol=0)


@pytest.mark.spec("ACT-20")
def test_threshold_keeps_nan_where_the_old_reference_replaced_it(device):
    # issue 15: F.threshold([nan, -1, 2], 0.5, -9) keeps the nan (nan <= 0.5 is false)
    x = np.array([NAN, -1.0, 2.0])
    expected = np.array([NAN, -9.0, 2.0])
    _matches(F.threshold(to_torch(x, device), 0.5, -9.0), expected, rtol=0, atol=0)
    np.testing.assert_array_equal(A.threshold(x, 0.5, -9.0), expected)


@pytest.mark.spec("ACT-20")
def test_gelu_of_plus_inf_on_a_single_element_or_strided_tensor_is_inf(device):
    # The scalar and strided kernels evaluate the formula: +inf * 1 = +inf.
    for t in (torch.tensor([INF], device=device), torch.full((4,), INF, device=device)[::2]):
        _matches(F.gelu(t), np.full(t.shape, INF, np.float32), rtol=0, atol=0)


# --- ACT-13 to ACT-16: softmax, softmin, log_softmax, softmax2d ---------------------------


@st.composite
def softmax_cases(draw, min_dims: int = 0, nonfinite: bool = True):
    """``(array, dim, noncontiguous)`` with a valid dim (a 0-d array takes -1 or 0)."""
    x, noncontiguous = draw(
        activation_inputs(min_dims=min_dims, max_dims=4, max_side=3, nonfinite=nonfinite)
    )
    rank = max(x.ndim, 1)
    dim = draw(st.integers(-rank, rank - 1))
    return x, dim, noncontiguous


SOFTMAX_FAMILY = [("softmax", "Softmax"), ("softmin", "Softmin"), ("log_softmax", "LogSoftmax")]


@pytest.mark.spec("ACT-13", "ACT-16", "ACT-20", "ACT-21")
@given(case=softmax_cases(), upcast=st.booleans())
@example(
    case=(np.array([[INF, 1.0], [-INF, -INF], [NAN, 1.0], [-INF, 1.0]]), 1, False), upcast=False
)
def test_softmax_family_matches_the_reference(device, case, upcast):
    x, dim, noncontiguous = case
    t = to_torch(x, device, noncontiguous=noncontiguous)
    for name, module in SOFTMAX_FAMILY:
        expected = getattr(A, name)(x, dim)
        assert expected.dtype == x.dtype
        functional = getattr(F, name)(t, dim)
        _matches(functional, expected)
        _same(getattr(nn, module)(dim)(t), functional)
        if upcast:  # dtype= casts the input first, so the result has that dtype
            result = getattr(F, name)(t, dim, dtype=torch.float64)
            _matches(result, getattr(A, name)(x, dim, dtype=np.float64))
    # softmin(x) = softmax(-x) and log_softmax = log(softmax), checked on torch's results
    _matches(F.softmin(t, dim), A.softmax(-x, dim))
    if x.ndim in (3, 4):  # Softmax2d: softmax over the channel dim -3
        _matches(nn.Softmax2d()(t), A.softmax2d(x))
        np.testing.assert_array_equal(A.softmax2d(x), A.softmax(x, -3))


@pytest.mark.spec("ACT-20")
def test_softmax_of_non_finite_slices(device):
    x = np.array([[INF, 1.0], [-INF, -INF], [NAN, 1.0], [-INF, 1.0], [INF, INF]])
    p = np.array([[NAN, NAN], [NAN, NAN], [NAN, NAN], [0.0, 1.0], [NAN, NAN]])
    logp = np.array([[NAN, NAN], [NAN, NAN], [NAN, NAN], [-INF, 0.0], [NAN, NAN]])
    _matches(F.softmax(to_torch(x, device), 1), p, rtol=0, atol=0)
    _matches(F.log_softmax(to_torch(x, device), 1), logp, rtol=0, atol=0)
    np.testing.assert_array_equal(A.softmax(x, 1), p)
    np.testing.assert_array_equal(A.log_softmax(x, 1), logp)


@pytest.mark.spec("ACT-14")
@given(softmax_cases(min_dims=1, nonfinite=False), _floats(-1000, 1000))
@example((np.array([[1000.0, 1001.0], [-1000.0, -999.0]]), 1, False), 0.0)  # no overflow
def test_softmax_slices_sum_to_one_and_are_shift_invariant(device, case, shift):
    x, dim, noncontiguous = case
    x = x.astype(np.float64)
    t = to_torch(x, device, noncontiguous=noncontiguous)
    p = F.softmax(t, dim)
    reference_p = A.softmax(x, dim)
    assert bool(torch.all(p >= 0)) and np.all(reference_p >= 0)
    ones = np.ones(x.shape[: dim % x.ndim] + x.shape[dim % x.ndim + 1 :])
    if x.shape[dim] > 0:
        _matches(p.sum(dim), ones)
        np.testing.assert_allclose(reference_p.sum(dim), ones, rtol=1e-12)
    # Adding one constant to each slice along dim (a different one per slice) changes nothing.
    slice_shape = list(x.shape)
    slice_shape[dim] = 1
    offsets = shift * np.linspace(-1.0, 1.0, math.prod(slice_shape)).reshape(slice_shape)
    _matches(F.softmax(t + to_torch(offsets, device), dim), reference_p)
    np.testing.assert_allclose(A.softmax(x + offsets, dim), reference_p, rtol=1e-7, atol=1e-9)
    _matches(F.log_softmax(t, dim).exp(), reference_p)


@pytest.mark.spec("ACT-13")
def test_softmax_probabilities_of_the_notes_logits(device):
    # notes 000: pred_probab = nn.Softmax(dim=1)(logits); logits of shape (1, 10)
    logits = np.linspace(-1.0, 1.0, 10).reshape(1, 10)
    p = nn.Softmax(dim=1)(to_torch(logits, device))
    _matches(p, A.softmax(logits, 1))
    assert int(p.argmax()) == 9 and abs(float(p.sum()) - 1.0) < 1e-12


@pytest.mark.spec("ACT-15")
@given(shapes(min_dims=0, max_dims=4, max_side=3))
def test_implicit_softmax_dim_warns_and_picks_torchs_dim(device, shape):
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape) / 7
    implicit = 0 if x.ndim in (0, 1, 3) else 1
    t = to_torch(x, device)
    for name, module in SOFTMAX_FAMILY:
        with pytest.warns(UserWarning, match="(?i)implicit dimension"):
            torch_result = getattr(F, name)(t)
        with pytest.warns(UserWarning, match="(?i)implicit dimension"):
            module_result = getattr(nn, module)()(t)
        with pytest.warns(UserWarning, match="(?i)implicit dimension"):
            reference_result = getattr(A, name)(x)
        _same(module_result, torch_result)
        _matches(torch_result, reference_result)
        np.testing.assert_array_equal(reference_result, getattr(A, name)(x, implicit))


@pytest.mark.spec("ACT-15")
@given(shapes(min_dims=0, max_dims=3, max_side=3), st.integers(0, 3), st.booleans())
def test_a_dim_out_of_range_raises_index_error(device, shape, beyond, negative):
    rank = max(len(shape), 1)
    dim = -rank - 1 - beyond if negative else rank + beyond
    x = np.zeros(shape)
    for name in ("softmax", "softmin", "log_softmax"):
        with pytest.raises(IndexError, match="out of range"):
            getattr(F, name)(to_torch(x, device), dim)
        with pytest.raises(IndexError, match="out of range"):
            getattr(A, name)(x, dim)


@pytest.mark.spec("ACT-16")
@given(shapes(min_dims=0, max_dims=5, max_side=2).filter(lambda s: len(s) not in (3, 4)))
def test_softmax2d_rejects_input_that_is_not_3d_or_4d(device, shape):
    x = np.zeros(shape)
    keyword = f"{len(shape)}D"
    with pytest.raises(ValueError, match=keyword):
        nn.Softmax2d()(to_torch(x, device))
    with pytest.raises(ValueError, match=keyword):
        A.softmax2d(x)


# --- ACT-17: inplace=True ----------------------------------------------------------------


@pytest.mark.spec("ACT-17")
def test_without_inplace_the_input_is_unchanged(device):
    x = np.array([-1.0, 2.0])
    t = to_torch(x, device)
    F.relu(t)
    A.relu(x)
    np.testing.assert_array_equal(to_numpy(t), [-1.0, 2.0])
    np.testing.assert_array_equal(x, [-1.0, 2.0])


# --- ACT-21: dtypes: integer and bool inputs ------------------------------------------------

INTEGER_DTYPES = (np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_)
_INT_BOUNDS = _floats(-3, 3)


def _softmax_call(name: str, dtype: np.dtype | None = None) -> Callable[..., Any]:
    """``name(x, -1, dtype=dtype)`` in torch (``module`` F) or the reference (A)."""

    def call(module, x):
        if module is F:
            return getattr(F, name)(x, -1, dtype=None if dtype is None else TORCH_DTYPE[dtype])
        return getattr(A, name)(x, -1, dtype=dtype)

    return call


# (name, parameter strategy) of every activation, called as F.name / A.name(x, **params);
# None: a softmax-family function, called as name(x, -1) or name(x, -1, dtype=float64).
INTEGER_CALLS = (
    [(op.name, op.params) for op in ELEMENTWISE]
    + [
        ("hardtanh", _params(min_val=_INT_BOUNDS, max_val=_floats(3, 300))),
        ("threshold", _params(threshold=_INT_BOUNDS, value=_floats(-300, 300))),
        ("erf", st.just({})),
    ]
    + [(name, None) for name, _ in SOFTMAX_FAMILY]
    + [(f"{name}-float64", None) for name, _ in SOFTMAX_FAMILY]
)


def _integer_arrays(dtype: type) -> st.SearchStrategy[np.ndarray]:
    """Small values (-100..100; 0..100 unsigned), away from torch's integer wrap-around
    (softsign computes ``|x| + 1`` in the integer dtype)."""
    elements = st.booleans() if dtype is np.bool_ else st.integers(-100 * (dtype != np.uint8), 100)
    return hnp.arrays(dtype, shapes(max_dims=2, max_side=4), elements=elements)


# The dtype names in torch's messages ("not implemented for 'Long'"), and other keywords
# a message may carry: where torch's message has one, the reference's must have it too.
TORCH_NAMES = {
    np.dtype(np.int64): "long",
    np.dtype(np.int32): "int",
    np.dtype(np.int16): "short",
    np.dtype(np.int8): "char",
    np.dtype(np.uint8): "byte",
    np.dtype(np.bool_): "bool",
}


@pytest.mark.spec("ACT-21")
@given(x=st.sampled_from(INTEGER_DTYPES).flatmap(_integer_arrays), data=st.data())
def test_integer_and_bool_inputs_follow_torchs_dtype_rules(device, x, data):
    # Each example checks 8 of the activations (each is checked on about 25 inputs).
    t = to_torch(x, device)
    keywords = (TORCH_NAMES[x.dtype], "bool", "overflow", "unsigned")
    chosen = st.lists(st.sampled_from(INTEGER_CALLS), min_size=8, max_size=8, unique_by=id)
    for name, params in data.draw(chosen, label="activations"):
        if params is None:  # the softmax family, dtype=None or float64
            call = _softmax_call(name.split("-")[0], np.dtype(np.float64) if "-" in name else None)
        else:
            kwargs = data.draw(params, label=name)
            call = functools.partial(_call, name=name, kwargs=kwargs)
        try:
            torch_result = call(torch if name == "erf" else F, t)
        except RuntimeError as error:  # NotImplementedError included
            with pytest.raises((TypeError, ValueError)) as info:
                call(A, x)
            message = str(error).lower()
            keyword = next((k for k in keywords if k in message), None)
            assert keyword is None or keyword in str(info.value).lower(), (name, message, info)
            continue
        result = call(A, x)
        assert torch.from_numpy(np.zeros(0, result.dtype)).dtype == torch_result.dtype, name
        _matches(torch_result, result)


def _call(module, x, *, name, kwargs):
    return getattr(module, name)(x, **kwargs)


@pytest.mark.spec("ACT-21")
def test_integer_clamps_truncate_their_parameters(device):
    x = np.array([-3, -1, 0, 1, 2, 7])
    cases = [
        ("hardtanh", (-0.5, 1.5), [0, 0, 0, 1, 1, 1]),  # bounds 0 and 1
        ("hardtanh", (-1.7, 2.9), [-1, -1, 0, 1, 2, 2]),  # bounds -1 and 2
        ("threshold", (-1.5, 9.0), [9, 9, 0, 1, 2, 7]),  # threshold -1: x <= -1 becomes 9
        ("relu6", (), [0, 0, 0, 1, 2, 6]),
    ]
    for name, args, expected in cases:
        result = getattr(F, name)(to_torch(x, device), *args)
        assert result.dtype == torch.int64
        _matches(result, np.array(expected))
        np.testing.assert_array_equal(getattr(A, name)(x, *args), expected)
    assert A.sigmoid(x).dtype == A.tanh(x).dtype == A.erf(x).dtype == np.float32
    assert A.sigmoid(np.array([True])).dtype == np.float32
    # softmin negates before dtype= casts: -1 wraps to 255 in uint8 (found by seed 33)
    u = np.array([0, 1], np.uint8)
    expected = A.softmax(np.array([0.0, 255.0]), 0)
    _matches(F.softmin(to_torch(u, device), 0, dtype=torch.float64), expected)
    np.testing.assert_allclose(A.softmin(u, 0, dtype=np.float64), expected)


@pytest.mark.spec("ACT-21")
def test_float16_comparisons_on_the_cpu():
    # x = -1.33984375 is float16(-1.3398); 1.3401807 rounds to x's magnitude in float16,
    # 1.3397 rounds to it as well. threshold compares in float32, the shrinks in float16.
    x = np.array([-1.33984375, 1.33984375], np.float16)
    t = torch.from_numpy(x)
    for bound in (1.3401807, 1.3397):
        kept_by_threshold = -1.33984375 > -bound  # compared in float32
        expected = np.where([kept_by_threshold, True], x, 0).astype(np.float16)
        _matches(F.threshold(t, -bound, 0.0), expected, rtol=0, atol=0)
        np.testing.assert_array_equal(A.threshold(x, -bound, 0.0), expected)
        zero = np.zeros(2, np.float16)  # |x| <= float16(bound) = 1.33984375
        _matches(F.hardshrink(t, bound), zero, rtol=0, atol=0)
        np.testing.assert_array_equal(A.hardshrink(x, bound), zero)
        np.testing.assert_array_equal(A.softshrink(x, bound), zero)
        if torch_at_least("2.14"):  # torch 2.4 to 2.13 compare softshrink in float32
            _matches(F.softshrink(t, bound), zero, rtol=0, atol=0)


# --- ACT-22: invalid inputs, as a table (OpInfo's error_inputs) ------------------------------

X = np.linspace(-2.0, 2.0, 5)


@dataclass(frozen=True)
class ErrorInput:
    """An invalid call: torch's and the reference's, the exception each raises (torch's by
    its most general stable class), and a keyword both messages contain."""

    torch_call: Callable[[str], Any]
    reference_call: Callable[[], Any]
    torch_error: type[Exception] | tuple[type[Exception], ...]
    reference_error: type[Exception]
    keyword: str


def _t(array, device):
    return to_torch(np.asarray(array), device)


ERROR_INPUTS = {
    "hardtanh-min-above-max": ErrorInput(
        lambda d: F.hardtanh(_t(X, d), 1.0, -1.0),
        lambda: A.hardtanh(X, 1.0, -1.0),
        ValueError,
        ValueError,
        "min_val",
    ),
    "hardtanh-unsigned-negative-min": ErrorInput(
        lambda d: F.hardtanh(_t(np.array([1], np.uint8), d)),
        lambda: A.hardtanh(np.array([1], np.uint8)),
        RuntimeError,
        ValueError,
        "unsigned",
    ),
    "threshold-value-overflows-int8": ErrorInput(
        lambda d: F.threshold(_t(np.array([1], np.int8), d), 0, 300),
        lambda: A.threshold(np.array([1], np.int8), 0, 300),
        RuntimeError,
        ValueError,
        "overflow",
    ),
    "threshold-overflows-float32": ErrorInput(
        lambda d: F.threshold(_t(X.astype(np.float32), d), 1e40, 0.0),
        lambda: A.threshold(X.astype(np.float32), 1e40, 0.0),
        RuntimeError,
        ValueError,
        "overflow",
    ),
    "softshrink-negative-lambda": ErrorInput(
        lambda d: F.softshrink(_t(X, d), -0.5),
        lambda: A.softshrink(X, -0.5),
        RuntimeError,
        ValueError,
        "lambda",
    ),
    "celu-zero-alpha": ErrorInput(
        lambda d: F.celu(_t(X, d), 0.0),
        lambda: A.celu(X, 0.0),
        RuntimeError,
        ValueError,
        "alpha",
    ),
    "gelu-approximate": ErrorInput(
        lambda d: F.gelu(_t(X, d), approximate="erf"),
        lambda: A.gelu(X, approximate="erf"),
        RuntimeError,
        ValueError,
        "approximate",
    ),
    "rrelu-lower-above-upper": ErrorInput(
        lambda d: F.rrelu(_t(X, d), 0.5, 0.1),
        lambda: A.rrelu(X, 0.5, 0.1),
        RuntimeError,
        ValueError,
        "bound",
    ),
    "rrelu-training-lower-above-upper": ErrorInput(
        lambda d: F.rrelu(_t(X, d), 0.5, 0.1, training=True),
        lambda: A.rrelu(X, 0.5, 0.1, training=True),
        RuntimeError,
        ValueError,
        "bound",
    ),
    "prelu-2d-weight": ErrorInput(
        lambda d: F.prelu(_t(np.ones((2, 3)), d), _t(np.ones((1, 3)), d)),
        lambda: A.prelu(np.ones((2, 3)), np.ones((1, 3))),
        RuntimeError,
        ValueError,
        "weight",
    ),
    "prelu-weight-per-wrong-dim": ErrorInput(
        lambda d: F.prelu(_t(np.ones((2, 3, 4)), d), _t(np.ones(4), d)),
        lambda: A.prelu(np.ones((2, 3, 4)), np.ones(4)),
        RuntimeError,
        ValueError,
        "channel size",
    ),
    "prelu-1d-input-is-one-channel": ErrorInput(
        lambda d: F.prelu(_t(np.ones(5), d), _t(np.ones(5), d)),
        lambda: A.prelu(np.ones(5), np.ones(5)),
        RuntimeError,
        ValueError,
        "channel size",
    ),
    "prelu-0d-input": ErrorInput(
        lambda d: F.prelu(_t(np.array(1.0), d), _t(np.ones(3), d)),
        lambda: A.prelu(np.array(1.0), np.ones(3)),
        RuntimeError,
        ValueError,
        "zero-dim",
    ),
    "prelu-weight-dtype": ErrorInput(
        lambda d: F.prelu(_t(X.astype(np.float32), d), _t(np.ones(1), d)),
        lambda: A.prelu(X.astype(np.float32), np.ones(1)),
        RuntimeError,
        TypeError,
        "double",
    ),
    "softmax-dim-out-of-range": ErrorInput(
        lambda d: F.softmax(_t(X, d), 1),
        lambda: A.softmax(X, 1),
        IndexError,
        IndexError,
        "out of range",
    ),
    "log_softmax-0d-dim-out-of-range": ErrorInput(
        lambda d: F.log_softmax(_t(np.array(1.0), d), -2),
        lambda: A.log_softmax(np.array(1.0), -2),
        IndexError,
        IndexError,
        "out of range",
    ),
    "softmax-int64": ErrorInput(
        lambda d: F.softmax(_t([1, 2], d), 0),
        lambda: A.softmax(np.array([1, 2]), 0),
        RuntimeError,
        TypeError,
        "long",
    ),
    "softmax-dtype-int64": ErrorInput(
        lambda d: F.softmax(_t(X, d), 0, dtype=torch.int64),
        lambda: A.softmax(X, 0, dtype=np.int64),
        RuntimeError,
        TypeError,
        "long",
    ),
    "softmin-bool": ErrorInput(
        lambda d: F.softmin(_t([True], d), 0),
        lambda: A.softmin(np.array([True]), 0),
        RuntimeError,
        TypeError,
        "bool",
    ),
    "softmax2d-2d": ErrorInput(
        lambda d: nn.Softmax2d()(_t(np.ones((2, 3)), d)),
        lambda: A.softmax2d(np.ones((2, 3))),
        ValueError,
        ValueError,
        "2D",
    ),
    "leaky_relu-int64": ErrorInput(
        lambda d: F.leaky_relu(_t([1, 2], d)),
        lambda: A.leaky_relu(np.array([1, 2])),
        RuntimeError,
        TypeError,
        "long",
    ),
    "rrelu-training-int64": ErrorInput(
        lambda d: F.rrelu(_t([1, -2], d), training=True),
        lambda: A.rrelu(np.array([1, -2]), training=True),
        RuntimeError,
        TypeError,
        "long",
    ),
    "gelu-bool": ErrorInput(
        lambda d: F.gelu(_t([True], d)),
        lambda: A.gelu(np.array([True])),
        RuntimeError,
        TypeError,
        "bool",
    ),
    "relu-bool": ErrorInput(
        lambda d: F.relu(_t([True], d)),
        lambda: A.relu(np.array([True])),
        RuntimeError,
        TypeError,
        "bool",
    ),
    "softsign-bool": ErrorInput(
        lambda d: F.softsign(_t([True], d)),
        lambda: A.softsign(np.array([True])),
        RuntimeError,
        TypeError,
        "bool",
    ),
}


def _check_error_input(case: ErrorInput, device: str) -> None:
    keyword = f"(?i){case.keyword}"
    with pytest.raises(case.torch_error, match=keyword):
        case.torch_call(device)
    with pytest.raises(case.reference_error, match=keyword):
        case.reference_call()


@pytest.mark.spec("ACT-22")
@pytest.mark.parametrize("case", ERROR_INPUTS.values(), ids=ERROR_INPUTS.keys())
def test_invalid_inputs_raise_in_both(device, case):
    _check_error_input(case, device)


@pytest.mark.spec("ACT-18")
@pytest.mark.parametrize(
    "row",
    [
        "hardtanh-min-above-max",
        "softshrink-negative-lambda",
        "celu-zero-alpha",
        "gelu-approximate",
        "rrelu-lower-above-upper",
    ],
)
def test_invalid_parameters_raise_in_both(device, row):
    _check_error_input(ERROR_INPUTS[row], device)


@pytest.mark.spec("ACT-18")
def test_hardtanh_module_rejects_equal_bounds_that_the_function_accepts(device):
    x = np.linspace(-2.0, 2.0, 5)
    expected = np.full(5, 0.5)
    _matches(F.hardtanh(to_torch(x, device), 0.5, 0.5), expected)
    np.testing.assert_array_equal(A.hardtanh(x, 0.5, 0.5), expected)
    with pytest.raises(AssertionError):  # the message is empty in torch 2.4
        nn.Hardtanh(0.5, 0.5)


# --- ACT-23 ..: backward through reference.functional (issue 18) ----------------------------
#
# Every VJP of reference/activations.py, through the differentiable activations of
# reference/functional.py, held to torch.autograd.grad in float64: value, grad_fn name,
# gradient and second derivative together, on random inputs of every form (0-d, empty,
# non-contiguous), with each activation's kinks and non-finite values planted, out of place
# and in place (on a non-leaf).


@dataclass(frozen=True)
class BackwardOp:
    """An activation's backward: its name, torch's node out of place and in place (None: no
    ``inplace`` argument), a strategy for its parameters, and the points where its derivative
    jumps (for given parameters)."""

    name: str
    node: str
    params: st.SearchStrategy[dict] = st.just({})
    kinks: Callable[[dict], list[float]] = lambda kwargs: []
    inplace_node: str | None = None


def _zero(kwargs: dict) -> list[float]:
    return [0.0]


def _pm3(kwargs: dict) -> list[float]:
    return [-3.0, 3.0]


def _pm_lambd(kwargs: dict) -> list[float]:
    return [-kwargs["lambd"], kwargs["lambd"]]


_PARAMS = {op.name: op.params for op in ELEMENTWISE}
_RRELU_EVAL = _rrelu_bounds().map(lambda b: {**b, "training": False})

BACKWARD_OPS = [
    BackwardOp("relu", "ReluBackward0", kinks=_zero, inplace_node="ReluBackward0"),
    BackwardOp("relu6", "HardtanhBackward0", kinks=lambda k: [0.0, 6.0],
               inplace_node="HardtanhBackward0"),
    BackwardOp("hardtanh", "HardtanhBackward0", _PARAMS["hardtanh"],
               lambda k: [k["min_val"], k["max_val"]], "HardtanhBackward0"),
    BackwardOp("threshold", "ThresholdBackward0", _PARAMS["threshold"],
               lambda k: [k["threshold"]], "ThresholdBackward1"),
    BackwardOp("leaky_relu", "LeakyReluBackward0", _PARAMS["leaky_relu"], _zero,
               "LeakyReluBackward1"),
    BackwardOp("rrelu", "RreluWithNoiseBackward0", _RRELU_EVAL, _zero,
               "RreluWithNoiseBackward1"),
    BackwardOp("elu", "EluBackward0", _PARAMS["elu"], _zero, "EluBackward1"),
    BackwardOp("selu", "EluBackward0", kinks=_zero, inplace_node="EluBackward1"),
    BackwardOp("celu", "CeluBackward0", _PARAMS["celu"], _zero, "CeluBackward1"),
    BackwardOp("gelu", "GeluBackward0", _PARAMS["gelu"]),
    BackwardOp("silu", "SiluBackward0", inplace_node="SiluBackward0"),
    BackwardOp("mish", "MishBackward0", inplace_node="MishBackward0"),
    BackwardOp("hardswish", "HardswishBackward0", kinks=_pm3, inplace_node="HardswishBackward0"),
    BackwardOp("hardsigmoid", "HardsigmoidBackward0", kinks=_pm3,
               inplace_node="HardsigmoidBackward0"),
    BackwardOp("sigmoid", "SigmoidBackward0"),
    BackwardOp("tanh", "TanhBackward0"),
    BackwardOp("logsigmoid", "LogSigmoidBackward0", kinks=_zero),
    BackwardOp("softplus", "SoftplusBackward0", _PARAMS["softplus"],
               lambda k: [k["threshold"] / k["beta"]]),
    BackwardOp("hardshrink", "HardshrinkBackward0", _PARAMS["hardshrink"], _pm_lambd),
    BackwardOp("softshrink", "SoftshrinkBackward0", _PARAMS["softshrink"], _pm_lambd),
    BackwardOp("tanhshrink", "SubBackward0", kinks=_zero),
    BackwardOp("softsign", "DivBackward0", kinks=_zero),
]
BACKWARD_BY_NAME = {op.name: op for op in BACKWARD_OPS}
NO_DOUBLE_BACKWARD = {"hardsigmoid"}  # torch: "derivative for ... is not implemented"
# torch < 2.7 used x/3 + 1/2 on the closed [-3, 3] (pytorch/pytorch#147801, fixed by #148049)
HARDSWISH_BOUNDARY_BUG = {
    "fixed_in": "2.7",
    "issue": "pytorch/pytorch#147801",
    "why": "hardswish's gradient at x = -3 is -0.5 and at x = 3 is 1.5 (the band [-3, 3] closed)",
}


# torch's CPU backward kernels whose vectorized loop takes the other branch at nan than
# their scalar loop (pytorch/pytorch#195075): the gradient at a nan input depends on where
# the element falls (0, or nan for the elu family and hardswish, in full SIMD blocks; the
# reference's g, as the scalar remainder and the decompositions give, elsewhere).
NAN_LENGTH_BUG_OPS = ("hardtanh", "relu6", "hardshrink", "softshrink", "elu", "selu", "celu",
                      "hardswish")
NAN_LENGTH_BUG = {
    "fixed_in": None,
    "issue": "pytorch/pytorch#195075",
    "why": "the CPU backward's gradient at a nan input depends on the tensor's length (the "
           "vectorized loop's predicate is the ordered negation of the scalar one)",
}


@st.composite
def backward_cases(draw, ops=BACKWARD_OPS):
    """``(op, kwargs, x, inplace, noncontiguous, seed)``: float64 values in [-6, 6] of any
    shape up to 3 dims, with up to three entries set to the op's kinks or nan/inf."""
    op = draw(st.sampled_from(ops))
    kwargs = draw(op.params)
    # values from a seeded generator (Hypothesis's arrays are mostly zeros at this size), on
    # a grid of 1/2 now and then (integers hit the kinks at 0 and +-3); empty shapes 1 in 5
    shape = draw(st.one_of(shapes(max_dims=3, min_side=1, max_side=4),
                           shapes(max_dims=3, max_side=4)))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).uniform(-6, 6, shape)
    if draw(st.booleans()):
        x = np.round(2 * x) / 2
    if x.size:
        specials = [*op.kinks(kwargs), *NON_FINITE]
        plants = st.tuples(st.integers(0, x.size - 1), st.sampled_from(specials))
        flat = x.reshape(-1)
        for index, value in draw(st.lists(plants, max_size=3)):
            flat[index] = value
    inplace = op.inplace_node is not None and draw(st.booleans())
    return op, kwargs, x, inplace, draw(st.booleans()), draw(st.integers(0, 2**32 - 1))


def _grad_close(
    actual: torch.Tensor, expected: Any, mask: np.ndarray | None = None, **tolerance: float
) -> None:
    """float64 gradients agree (nan equal to nan), except where ``mask`` is set."""
    expected = np.asarray(expected, dtype=np.float64)
    if mask is not None and mask.any():
        actual = actual.detach().clone()
        actual[torch.as_tensor(mask, device=actual.device)] = 0.0
        expected = np.where(mask, 0.0, expected)
    _matches(actual, expected, **tolerance)


def _upstream(seed: int, shape: tuple[int, ...], n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(n)]


@pytest.mark.spec("ACT-23", "ACT-24", "ACT-25", "ACT-27")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the engine's inf / inf is meant
@given(backward_cases())
@example((BACKWARD_BY_NAME["relu"], {}, np.array([-1.0, 0.0, 2.0, NAN]), False, False, 0))
@example((BACKWARD_BY_NAME["elu"], {"alpha": 0.5}, np.array([0.0, NAN, -INF]), True, False, 0))
@example((BACKWARD_BY_NAME["hardtanh"], {"min_val": -1.0, "max_val": 1.0},
          np.array([-1.0, 1.0, 0.5]), True, False, 0))  # 0 at both bounds
@example((BACKWARD_BY_NAME["leaky_relu"], {"negative_slope": 0.2}, np.array([0.0, NAN]),
          False, False, 0))  # the slope at 0 and at nan is negative_slope
@example((BACKWARD_BY_NAME["hardsigmoid"], {}, np.array([-3.0, 0.0, 3.0, NAN]), False, False, 0))
@example((BACKWARD_BY_NAME["softsign"], {}, np.array([INF, -INF, 0.0]), False, False, 0))
def test_activation_backward_matches_torch(device, case):
    op, kwargs, x, inplace, noncontiguous, seed = case
    t = to_torch(x, device, requires_grad=True, noncontiguous=noncontiguous)
    r = ag.Tensor(x, requires_grad=True)
    extra = {"inplace": True} if inplace else {}
    t_in, r_in = (t + 0, r + 0) if inplace else (t, r)  # in place on a non-leaf
    out = getattr(F, op.name)(t_in, **kwargs, **extra)
    ref = getattr(RF, op.name)(r_in, **kwargs, **extra)
    if inplace:
        assert out is t_in and ref is r_in
    _matches(out, ref.data)
    assert type(out.grad_fn).__name__ == ref.grad_fn.name() == (
        op.inplace_node if inplace else op.node
    )
    g, gg = _upstream(seed, x.shape)
    mask = np.zeros(x.shape, dtype=bool)
    if op.name == "hardswish" and not torch_at_least("2.7"):
        mask |= np.abs(x) == 3.0  # HARDSWISH_BOUNDARY_BUG: pinned in its own test
    if op.name in NAN_LENGTH_BUG_OPS and device == "cpu":
        mask |= np.isnan(x)  # NAN_LENGTH_BUG: pinned in its own test
    # torch's float64 celu gradients (in place especially) are off the exact ones by up to
    # about 1e-7 relative (a random seed found 1.04e-7 in a second derivative)
    tolerance = {"rtol": 1e-6} if op.name == "celu" else {}
    # ACT-27: second order where x is finite (torch's second derivatives; the reference's
    # double backward is one level deep)
    double = op.name not in NO_DOUBLE_BACKWARD and bool(np.isfinite(x).all())
    (t_grad,) = torch.autograd.grad(out, t, to_torch(g, device), create_graph=double)
    (r_grad,) = ag.grad(ref, r, g, create_graph=double)
    _grad_close(t_grad, r_grad.data if double else r_grad, mask, **tolerance)
    if double and t_grad.requires_grad:
        (t_second,) = torch.autograd.grad(t_grad, t, to_torch(gg, device), allow_unused=True)
        (r_second,) = ag.grad(r_grad, r, gg, allow_unused=True)
        t_second = torch.zeros_like(t) if t_second is None else t_second
        r_second = np.zeros(x.shape) if r_second is None else r_second
        _grad_close(t_second, r_second, mask, **tolerance)


@pytest.mark.spec("ACT-24")
@known_torch_bug(**HARDSWISH_BOUNDARY_BUG)
def test_hardswish_gradient_at_plus_and_minus_three(device):
    x = np.array([-3.0, -1.5, 3.0])
    t = to_torch(x, device, requires_grad=True)
    (grad,) = torch.autograd.grad(F.hardswish(t).sum(), t)
    expected = A.hardswish_backward(np.ones(3), x)
    np.testing.assert_array_equal(expected, [0.0, 0.0, 1.0])
    _matches(grad, expected, rtol=0, atol=0)


@pytest.mark.spec("ACT-25")
@pytest.mark.parametrize("op", BACKWARD_OPS, ids=[op.name for op in BACKWARD_OPS])
def test_backward_at_nan_and_inf_on_a_short_tensor(device, op):
    # three entries: no full SIMD block, so every CPU kernel runs its scalar loop
    x = np.array([NAN, INF, -INF])
    kwargs = {"rrelu": {"training": False}}.get(op.name, {})
    if op.name == "threshold":
        kwargs = {"threshold": 0.5, "value": -1.0}
    t = to_torch(x, device, requires_grad=True)
    (grad,) = torch.autograd.grad(getattr(F, op.name)(t, **kwargs).sum(), t)
    r = ag.Tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        (expected,) = ag.grad(getattr(RF, op.name)(r, **kwargs).sum(), r)
    _matches(grad, expected, rtol=0, atol=0)


@pytest.mark.spec("ACT-25")
@pytest.mark.parametrize("name", NAN_LENGTH_BUG_OPS)
def test_the_gradient_at_nan_does_not_depend_on_the_length(request, device, name):
    # 67 nan entries: full SIMD blocks and a scalar remainder for any vector width
    if device == "cpu":
        request.applymarker(known_torch_bug(**NAN_LENGTH_BUG))
    x = np.full(67, NAN)
    t = to_torch(x, device, requires_grad=True)
    (grad,) = torch.autograd.grad(getattr(F, name)(t).sum(), t)
    expected = getattr(A, name + "_backward")(np.ones(67), x)
    assert np.isfinite(expected).all()  # the reference passes g (times elu's scale)
    _matches(grad, expected, rtol=0, atol=0)


@pytest.mark.spec("ACT-28")
@pytest.mark.parametrize("name", ["relu", "elu", "hardswish", "leaky_relu"])
def test_inplace_on_a_leaf_that_requires_grad_raises(device, name):
    t = to_torch(np.ones(3), device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(F, name)(t, inplace=True)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(RF, name)(ag.Tensor(np.ones(3), requires_grad=True), inplace=True)
    with torch.no_grad(), ag.no_grad():  # allowed without grad mode, in both
        getattr(F, name)(t, inplace=True)
        getattr(RF, name)(ag.Tensor(np.ones(3), requires_grad=True), inplace=True)


@pytest.mark.spec("ACT-28")
def test_inplace_leaky_relu_with_a_negative_slope_cannot_backward(device):
    t = to_torch(np.array([-1.0, 2.0]), device, requires_grad=True)
    out = F.leaky_relu(t + 0, -0.5, inplace=True)
    r = ag.Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    ref = RF.leaky_relu(r + 0, -0.5, inplace=True)
    _matches(out, ref.data)
    with pytest.raises(RuntimeError, match="negative slope"):
        out.sum().backward()
    with pytest.raises(RuntimeError, match="negative slope"):
        ref.sum().backward()


@pytest.mark.spec("ACT-27")
def test_hardsigmoid_has_no_double_backward(device):
    x = np.array([-1.0, 0.5, 2.0])
    t = to_torch(x, device, requires_grad=True)
    (t_grad,) = torch.autograd.grad(F.hardsigmoid(t).sum(), t, create_graph=True)
    r = ag.Tensor(x, requires_grad=True)
    (r_grad,) = ag.grad(RF.hardsigmoid(r).sum(), r, create_graph=True)
    assert type(t_grad.grad_fn).__name__ == r_grad.grad_fn.name() == "NotImplemented"
    with pytest.raises(RuntimeError, match="hardsigmoid_backward"):
        t_grad.sum().backward()
    with pytest.raises(RuntimeError, match="hardsigmoid_backward"):
        r_grad.sum().backward()


# prelu, rrelu in training, glu and the softmax family: the ops with a weight, given slopes
# or a dim


@st.composite
def structured_backward_cases(draw):
    """``(name, x, extra, seed)`` for prelu (its weight: one slope or one per channel), rrelu
    in training (torch's slopes read back from rrelu_with_noise), glu and the softmax family
    along any dim (``dtype=float64`` sometimes)."""
    name = draw(st.sampled_from(["prelu", "rrelu", "glu", "softmax", "log_softmax", "softmin"]))
    seed = draw(st.integers(0, 2**32 - 1))
    min_dims = 1 if name == "glu" else 0
    shape = draw(shapes(min_dims=min_dims, max_dims=3, max_side=4))
    extra: dict = {}
    if name == "glu":
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        shape = tuple(2 * s if i == dim % len(shape) else s for i, s in enumerate(shape))
        extra["dim"] = dim
    elif name in ("softmax", "log_softmax", "softmin"):
        rank = max(len(shape), 1)
        extra["dim"] = draw(st.integers(-rank, rank - 1))
        if draw(st.booleans()):
            extra["dtype"] = torch.float64
    elif name == "prelu":
        channels = shape[1] if len(shape) >= 2 else 1
        size = draw(st.sampled_from([1, channels]))
        extra["weight"] = draw(finite_arrays((size,), np.float64, min_value=-1, max_value=1))
    else:
        extra["bounds"] = draw(_rrelu_bounds())
    x = draw(finite_arrays(shape, np.float64, min_value=-6, max_value=6))
    return name, x, extra, draw(st.booleans()), seed


def _structured_forward(name, x, extra, lib, leaf, weight_leaf=None):
    if name == "prelu":
        return lib.prelu(leaf, weight_leaf)
    if name == "glu":
        return lib.glu(leaf, extra["dim"])
    kwargs = {"dim": extra["dim"]}
    if "dtype" in extra:
        kwargs["dtype"] = extra["dtype"] if lib is F else np.float64
    return getattr(lib, name)(leaf, **kwargs)


NODES = {"prelu": "PreluKernelBackward0", "rrelu": "RreluWithNoiseBackward0",
         "glu": "GluBackward0", "softmax": "SoftmaxBackward0",
         "log_softmax": "LogSoftmaxBackward0", "softmin": "SoftmaxBackward0"}


@pytest.mark.spec("ACT-23", "ACT-26", "ACT-27")
@given(structured_backward_cases())
@example(("softmax", np.array([1.0, 2.0, 3.0]), {"dim": 0}, False, 0))
@example(("prelu", np.array([[-1.0, 0.0, 2.0]]), {"weight": np.array([0.25])}, False, 1))
def test_weighted_and_dim_activation_backward_matches_torch(device, case):
    name, x, extra, noncontiguous, seed = case
    t = to_torch(x, device, requires_grad=True, noncontiguous=noncontiguous)
    r = ag.Tensor(x, requires_grad=True)
    t_leaves, r_leaves = [t], [r]
    if name == "rrelu":
        noise = torch.empty_like(t)
        lower, upper = extra["bounds"]["lower"], extra["bounds"]["upper"]
        out = torch.ops.aten.rrelu_with_noise(t, noise, lower, upper, True)
        ref = RF.rrelu(r, lower, upper, True, noise=to_numpy(noise))
    elif name == "prelu":
        tw = to_torch(extra["weight"], device, requires_grad=True)
        rw = ag.Tensor(extra["weight"], requires_grad=True)
        t_leaves, r_leaves = [t, tw], [r, rw]
        out = _structured_forward(name, x, extra, F, t, tw)
        ref = _structured_forward(name, x, extra, RF, r, rw)
    else:
        out = _structured_forward(name, x, extra, F, t)
        ref = _structured_forward(name, x, extra, RF, r)
    _matches(out, ref.data)
    assert type(out.grad_fn).__name__ == ref.grad_fn.name() == NODES[name]
    g, gg = _upstream(seed, tuple(out.shape))
    t_grads = torch.autograd.grad(out, t_leaves, to_torch(g, device), create_graph=True)
    r_grads = ag.grad(ref, r_leaves, g, create_graph=True)
    for t_grad, r_grad in zip(t_grads, r_grads, strict=True):
        _grad_close(t_grad, r_grad.data)
    if not x.size or not t_grads[0].requires_grad:
        return
    # second order: <first gradients, gg> differentiated again
    t_sum = sum((tg * to_torch(np.resize(gg, tg.shape), device)).sum() for tg in t_grads)
    r_sum = None
    for rg in r_grads:
        term = (rg * ag.Tensor(np.resize(gg, rg.shape))).sum()
        r_sum = term if r_sum is None else r_sum + term
    t_second = torch.autograd.grad(t_sum, t_leaves, allow_unused=True)
    r_second = ag.grad(r_sum, r_leaves, allow_unused=True)
    for leaf, t_s, r_s in zip(t_leaves, t_second, r_second, strict=True):
        _grad_close(torch.zeros_like(leaf) if t_s is None else t_s,
                    np.zeros(leaf.shape) if r_s is None else r_s)


@pytest.mark.spec("ACT-23")
@pytest.mark.parametrize("name, kwargs, x", [
    ("gelu", {}, np.array([-1.5, 0.3, 2.0])),
    ("gelu", {"approximate": "tanh"}, np.array([-1.5, 0.3, 2.0])),
    ("mish", {}, np.array([-1.5, 0.3, 2.0])),
    ("elu", {"alpha": 0.7}, np.array([-1.5, 0.3, 2.0])),
    ("softplus", {"beta": 2.0, "threshold": 1.0}, np.array([-1.5, 0.3, 2.0])),
    ("log_softmax", {"dim": 1}, np.array([[-1.5, 0.3], [2.0, 0.1]])),
])
def test_gradcheck_confirms_the_reference_vjps(name, kwargs, x):
    """torch's gradcheck (finite differences) on the reference VJP wrapped as a torch
    autograd.Function: the reference is right, not only equal to torch."""

    class Through(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return torch.from_numpy(np.asarray(getattr(A, name)(t.detach().numpy(), **kwargs)))

        @staticmethod
        def backward(ctx, grad):
            (t,) = ctx.saved_tensors
            back = getattr(A, name + "_backward")(grad.numpy(), t.detach().numpy(), **kwargs)
            return torch.from_numpy(np.asarray(back))

    t = torch.tensor(x, requires_grad=True)
    assert torch.autograd.gradcheck(Through.apply, (t,), eps=1e-6, atol=1e-6, rtol=1e-5)
