"""ACT: activation functions, held to torch and to the reference (reference/activations.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from reference import activations as A
from tests.strategies import finite_arrays, float_dtypes, shapes
from tests.support import (
    assert_both_raise,
    assert_matches,
    to_numpy,
    to_torch,
)

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_subnormal=False)


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


@st.composite
def activation_inputs(draw, *, min_dims: int = 0, max_dims: int = 3, max_side: int = 4):
    """``(array, noncontiguous)``: float32 or float64 values in [-100, 100]."""
    dtype = draw(float_dtypes())
    x = draw(finite_arrays(shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side), dtype))
    return x, draw(st.booleans())


def _check_inplace(op: Op, x, kwargs, expected, out_of_place, device, nc) -> None:
    """ACT-17: ``inplace=True`` writes into the input exactly the out-of-place result (torch)
    or the reference's result (reference), and returns the input itself."""
    t = to_torch(x, device, noncontiguous=nc)
    assert getattr(F, op.name)(t, **kwargs, inplace=True) is t
    assert torch.equal(t, out_of_place)
    t = to_torch(x, device, noncontiguous=nc)
    assert getattr(nn, op.module)(**kwargs, inplace=True).eval()(t) is t
    assert torch.equal(t, out_of_place)
    array = x.copy()
    view = array[...] if x.ndim == 0 else np.moveaxis(array, 0, -1)  # non-contiguous if 2-D+
    assert getattr(A, op.name)(view, **kwargs, inplace=True) is view
    np.testing.assert_array_equal(array, expected)


# --- ACT-1 and the formulas: every form of every activation matches the reference -------
# One example draws one input and checks every activation of a clause's group on it, so
# each group gets 100 inputs without paying for 100 new arrays per activation.


# Clauses whose activations share one property run (fewer, larger runs keep the file fast).
RUNS = [("ACT-2",), ("ACT-4", "ACT-6"), ("ACT-7",), ("ACT-8", "ACT-10"), ("ACT-11", "ACT-12")]


@pytest.mark.spec("ACT-1", "ACT-17")
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
        assert_matches(functional, expected)
        # the module calls the functional form: bitwise the same result
        assert torch.equal(getattr(nn, op.module)(**kwargs).eval()(t), functional)
        if op.inplace:
            _check_inplace(op, x, kwargs, expected, functional, device, noncontiguous)
        np.testing.assert_array_equal(to_numpy(t), x)  # out-of-place forms leave the input


@pytest.mark.spec("ACT-2")
def test_relu_on_the_notes_example(device):
    # notes 001, "Non-linear activations": ReLU()(tensor([[1, -0.5], [-1, 3]]))
    x = np.array([[1, -0.5], [-1, 3]], dtype=np.float32)
    expected = np.array([[1.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(A.relu(x), expected)
    assert_matches(nn.ReLU()(to_torch(x, device)), expected, rtol=0, atol=0)


# --- ACT-3: ReLU's gradient and dead units ---------------------------------------------


@pytest.mark.spec("ACT-3")
@given(finite_arrays(shapes(min_dims=1, max_dims=2, max_side=5)))
@example(np.array([-2.0, 0.0, 3.0]))  # at 0 torch's derivative is 0
def test_relu_gradient_is_one_above_zero_and_zero_elsewhere(device, x):
    t = to_torch(x, device, requires_grad=True)
    F.relu(t).sum().backward()
    assert_matches(t.grad, (x > 0).astype(x.dtype), rtol=0, atol=0)


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
    assert_matches(layer.weight.grad[1], to_numpy(x.sum(0)))
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
    assert_matches(t.grad, expected_grad)
    assert_matches(y, A.leaky_relu(x, slope))
    negative = x < 0
    assert_matches(y[to_torch(negative, device)], slope * x[negative])


@pytest.mark.spec("ACT-4")
def test_leaky_relu_default_slope_is_one_hundredth():
    assert nn.LeakyReLU().negative_slope == 0.01
    np.testing.assert_allclose(A.leaky_relu(np.array([-3.0])), [-0.03])


@pytest.mark.spec("ACT-4")
@given(finite_arrays(shapes(min_dims=1, max_dims=2, max_side=5)), _rrelu_bounds())
def test_rrelu_training_draws_slopes_between_the_bounds(device, x, bounds):
    # A property of torch alone: the reference specifies eval mode, and rejects training.
    t = to_torch(x, device)
    y = to_numpy(F.rrelu(t, **bounds, training=True))
    negative = x < 0
    slopes = y[negative] / x[negative]
    eps = 1e-12
    assert np.all(slopes >= bounds["lower"] - eps) and np.all(slopes <= bounds["upper"] + eps)
    np.testing.assert_array_equal(y[~negative], x[~negative])
    with pytest.raises(ValueError, match="training"):
        A.rrelu(x, **bounds, training=True)


@st.composite
def prelu_cases(draw):
    x, noncontiguous = draw(activation_inputs(min_dims=0, max_dims=4))
    channels = x.shape[1] if x.ndim >= 2 else 1
    size = draw(st.sampled_from(sorted({1, channels})))
    weight_shape = draw(st.sampled_from([(size,), ()] if size == 1 else [(size,)]))
    weight = draw(finite_arrays(weight_shape, x.dtype, min_value=-2, max_value=2))
    return x, weight, noncontiguous


@pytest.mark.spec("ACT-5")
@given(prelu_cases())
def test_prelu_has_one_slope_per_channel(device, case):
    x, weight, noncontiguous = case
    t = to_torch(x, device, noncontiguous=noncontiguous)
    expected = A.prelu(x, weight)
    assert_matches(F.prelu(t, to_torch(weight, device)), expected)
    module = nn.PReLU(weight.size, device=device, dtype=TORCH_DTYPE[x.dtype])
    assert tuple(module.weight.shape) == (weight.size,)
    np.testing.assert_array_equal(to_numpy(module.weight), np.full(weight.size, 0.25, x.dtype))
    with torch.no_grad():
        module.weight.copy_(to_torch(weight.reshape(-1), device))
    assert_matches(module(t), expected)


@pytest.mark.spec("ACT-5")
@pytest.mark.parametrize(
    ("shape", "weight_shape"), [((2, 3), (2,)), ((2, 3, 4), (4,)), ((5,), (5,)), ((2, 3), (1, 3))]
)
def test_prelu_rejects_a_weight_that_is_not_per_channel(device, shape, weight_shape):
    x, w = np.ones(shape), np.full(weight_shape, 0.25)
    assert_both_raise(
        lambda: F.prelu(to_torch(x, device), to_torch(w, device)),
        lambda: A.prelu(x, w),
        match="channel size|weight",
    )


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
    assert_matches(t.grad, reference_s * (1 - reference_s))


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
    assert_matches(F.gelu(x), expected)
    np.testing.assert_allclose(A.gelu(x.numpy()), expected, rtol=1e-14)


# --- ACT-13 to ACT-15: softmax, softmin, log_softmax, softmax2d ---------------------------


@st.composite
def softmax_cases(draw, min_dims: int = 0):
    """``(array, dim, noncontiguous)`` with a valid dim (a 0-d array takes -1 or 0)."""
    x, noncontiguous = draw(activation_inputs(min_dims=min_dims, max_dims=4, max_side=3))
    rank = max(x.ndim, 1)
    dim = draw(st.integers(-rank, rank - 1))
    return x, dim, noncontiguous


SOFTMAX_FAMILY = [("softmax", "Softmax"), ("softmin", "Softmin"), ("log_softmax", "LogSoftmax")]


@pytest.mark.spec("ACT-13", "ACT-16")
@given(case=softmax_cases(), upcast=st.booleans())
def test_softmax_family_matches_the_reference(device, case, upcast):
    x, dim, noncontiguous = case
    t = to_torch(x, device, noncontiguous=noncontiguous)
    for name, module in SOFTMAX_FAMILY:
        expected = getattr(A, name)(x, dim)
        functional = getattr(F, name)(t, dim)
        assert_matches(functional, expected)
        assert torch.equal(getattr(nn, module)(dim)(t), functional)
        if upcast:  # dtype= casts the input first, so the result has that dtype
            result = getattr(F, name)(t, dim, dtype=torch.float64)
            assert_matches(result, getattr(A, name)(x, dim, dtype=np.float64))
    # softmin(x) = softmax(-x) and log_softmax = log(softmax), checked on torch's results
    assert_matches(F.softmin(t, dim), A.softmax(-x, dim))
    assert_matches(F.log_softmax(t, dim).exp(), A.softmax(x, dim))
    if x.ndim in (3, 4):  # Softmax2d: softmax over the channel dim -3
        assert_matches(nn.Softmax2d()(t), A.softmax2d(x))
        np.testing.assert_array_equal(A.softmax2d(x), A.softmax(x, -3))


@pytest.mark.spec("ACT-14")
@given(softmax_cases(min_dims=1), _floats(-1000, 1000))
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
        assert_matches(p.sum(dim), ones)
        np.testing.assert_allclose(reference_p.sum(dim), ones, rtol=1e-12)
    # Adding one constant to each slice along dim (a different one per slice) changes nothing.
    slice_shape = list(x.shape)
    slice_shape[dim] = 1
    offsets = shift * np.linspace(-1.0, 1.0, math.prod(slice_shape)).reshape(slice_shape)
    assert_matches(F.softmax(t + to_torch(offsets, device), dim), reference_p)
    np.testing.assert_allclose(A.softmax(x + offsets, dim), reference_p, rtol=1e-7, atol=1e-9)


@pytest.mark.spec("ACT-13")
def test_softmax_probabilities_of_the_notes_logits(device):
    # notes 000: pred_probab = nn.Softmax(dim=1)(logits); logits of shape (1, 10)
    logits = np.linspace(-1.0, 1.0, 10).reshape(1, 10)
    p = nn.Softmax(dim=1)(to_torch(logits, device))
    assert_matches(p, A.softmax(logits, 1))
    assert int(p.argmax()) == 9 and abs(float(p.sum()) - 1.0) < 1e-12


@pytest.mark.spec("ACT-15")
@given(shapes(min_dims=0, max_dims=4, max_side=3))
def test_implicit_softmax_dim_warns_and_picks_torchs_dim(device, shape):
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape) / 7
    with pytest.warns(UserWarning, match="Implicit dimension"):
        torch_result = F.softmax(to_torch(x, device))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        reference_result = A.softmax(x)
    assert_matches(torch_result, reference_result)


@pytest.mark.spec("ACT-15")
@given(shapes(min_dims=0, max_dims=3, max_side=3), st.integers(0, 3), st.booleans())
def test_a_dim_out_of_range_raises_index_error(device, shape, beyond, negative):
    rank = max(len(shape), 1)
    dim = -rank - 1 - beyond if negative else rank + beyond
    x = np.zeros(shape)
    for name in ("softmax", "softmin", "log_softmax"):
        assert_both_raise(
            lambda name=name: getattr(F, name)(to_torch(x, device), dim),
            lambda name=name: getattr(A, name)(x, dim),
            torch_error=IndexError,
            reference_error=IndexError,
            match="Dimension out of range",
        )


@pytest.mark.spec("ACT-16")
@given(shapes(min_dims=0, max_dims=5, max_side=2).filter(lambda s: len(s) not in (3, 4)))
def test_softmax2d_rejects_input_that_is_not_3d_or_4d(device, shape):
    x = np.zeros(shape)
    assert_both_raise(
        lambda: nn.Softmax2d()(to_torch(x, device)),
        lambda: A.softmax2d(x),
        torch_error=ValueError,
        match=f"3D or 4D, got {len(shape)}D",
    )


# --- ACT-17: inplace=True ----------------------------------------------------------------


@pytest.mark.spec("ACT-17")
def test_without_inplace_the_input_is_unchanged(device):
    x = np.array([-1.0, 2.0])
    t = to_torch(x, device)
    F.relu(t)
    A.relu(x)
    np.testing.assert_array_equal(to_numpy(t), [-1.0, 2.0])
    np.testing.assert_array_equal(x, [-1.0, 2.0])


# --- ACT-18: invalid parameters ------------------------------------------------------------

INVALID = [
    pytest.param("hardtanh", {"min_val": 1.0, "max_val": -1.0}, "min_val", id="hardtanh-bounds"),
    pytest.param("softshrink", {"lambd": -0.5}, "lambda", id="softshrink-negative"),
    pytest.param("celu", {"alpha": 0.0}, "alpha", id="celu-zero-alpha"),
    pytest.param("gelu", {"approximate": "erf"}, "approximate", id="gelu-approximate"),
    pytest.param("rrelu", {"lower": 0.5, "upper": 0.1}, "Lower bound", id="rrelu-bounds"),
]


@pytest.mark.spec("ACT-18")
@pytest.mark.parametrize(("name", "kwargs", "match"), INVALID)
def test_invalid_parameters_raise_in_both(device, name, kwargs, match):
    x = np.linspace(-2.0, 2.0, 5)
    assert_both_raise(
        lambda: getattr(F, name)(to_torch(x, device), **kwargs),
        lambda: getattr(A, name)(x, **kwargs),
        match=match,
    )


@pytest.mark.spec("ACT-18")
def test_hardtanh_module_rejects_equal_bounds_that_the_function_accepts(device):
    x = np.linspace(-2.0, 2.0, 5)
    expected = np.full(5, 0.5)
    assert_matches(F.hardtanh(to_torch(x, device), 0.5, 0.5), expected)
    np.testing.assert_array_equal(A.hardtanh(x, 0.5, 0.5), expected)
    with pytest.raises(AssertionError, match="must be greater than min_val"):
        nn.Hardtanh(0.5, 0.5)
