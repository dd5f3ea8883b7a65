"""NORM: normalization layers and dropout, train and eval modes, held to torch and to the
reference (reference/normalization.py)."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from reference import autograd as ag
from reference import functional as RF
from reference import normalization as R
from reference.normalization import (
    BatchNorm,
    batch_norm,
    batch_norm_backward,
    dropout,
    dropout2d,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
)
from tests.strategies import finite_arrays
from tests.support import (
    TOLERANCES,
    accepts,
    assert_matches,
    known_torch_bug,
    make_noncontiguous,
    requires_parameter,
    to_numpy,
    to_torch,
    torch_at_least,
)

BATCH_NORMS = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
INSTANCE_NORMS = {3: nn.InstanceNorm1d, 4: nn.InstanceNorm2d, 5: nn.InstanceNorm3d}
# torch's batch-norm module for a rank, and the reference's class for it
BATCH_NORM_CLASSES = {
    "BatchNorm1d": (nn.BatchNorm1d, R.BatchNorm1d),
    "BatchNorm2d": (nn.BatchNorm2d, R.BatchNorm2d),
    "BatchNorm3d": (nn.BatchNorm3d, R.BatchNorm3d),
    "SyncBatchNorm": (nn.SyncBatchNorm, R.SyncBatchNorm),
}
BATCH_NORM_FOR_RANK = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}
EPS = st.sampled_from((1e-5, 1e-3, 0.1, 0.8))
MOMENTUM = st.one_of(st.none(), st.sampled_from((0.0, 0.1, 1.0)), st.floats(0.0, 1.0))


def _matches(actual: torch.Tensor, expected: Any, **tolerance: float) -> None:
    """``assert_matches`` (the tolerance of the dtype, nan equal to nan), with a NumPy fast
    path for the passing case: ``torch.testing.assert_close`` costs about 0.2 ms a call,
    which the step-sequence properties would pay thousands of times."""
    a, e = to_numpy(actual), np.asarray(expected)
    if a.shape == e.shape and a.dtype == e.dtype and a.dtype.kind == "f":
        tol = {**TOLERANCES.get(actual.dtype, {"rtol": 0.0, "atol": 0.0}), **tolerance}
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        with np.errstate(invalid="ignore"):
            near = np.abs(a64 - e64) <= tol["atol"] + tol["rtol"] * np.abs(e64)
        if np.all(near | (a64 == e64) | (np.isnan(a64) & np.isnan(e64))):
            return
    assert_matches(actual, expected, **tolerance)  # fails, with torch's full report


def _values(shape, bound=10.0):
    """float64 arrays of ``shape`` with values in [-bound, bound]."""
    return finite_arrays(shape, np.float64, min_value=-bound, max_value=bound)


@st.composite
def nc_arrays(draw, *, min_dims=2, max_dims=5, max_channels=3, min_values_per_channel=1):
    """A float64 array of shape (N, C, *spatial), sides <= 3 (4 for N), with at least
    ``min_values_per_channel`` values per channel (N * prod(spatial))."""
    ndim = draw(st.integers(min_dims, max_dims))
    channels = draw(st.integers(1, max_channels))
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=ndim - 2, max_size=ndim - 2)))
    n = draw(st.integers(1, 4))
    if n * math.prod(spatial) < min_values_per_channel:
        n = min_values_per_channel
    return draw(_values((n, channels, *spatial)))


def channel_vector(channels):
    return _values((channels,), 3)


# --- BatchNorm: step sequences against nn.BatchNorm1d/2d/3d (NORM-1, 3, 4, 5, 6) ------------


@st.composite
def batch_norm_runs(draw):
    """A batch-norm module (BatchNorm1d/2d/3d for the rank, or SyncBatchNorm on one process),
    its configuration and a sequence of (training, batch, noncontiguous) steps; a quarter of
    the batches are empty (N = 0)."""
    ndim = draw(st.integers(2, 5))
    kind = draw(st.sampled_from([BATCH_NORM_FOR_RANK[ndim], "SyncBatchNorm"]))
    channels = draw(st.integers(1, 3))
    config = {
        "eps": draw(EPS),
        "momentum": draw(MOMENTUM),
        "affine": draw(st.booleans()),
        "track_running_stats": draw(st.booleans()),
    }
    if accepts(BATCH_NORM_CLASSES[kind][0], "bias") and draw(st.booleans()):
        config["bias"] = False  # torch 2.12+: an affine layer without beta (NORM-23)
    steps = []
    for training in draw(st.lists(st.booleans(), min_size=1, max_size=4)):
        spatial = draw(st.lists(st.integers(1, 3), min_size=ndim - 2, max_size=ndim - 2))
        n = draw(st.integers(0, 3))
        uses_batch_stats = training or not config["track_running_stats"]
        if uses_batch_stats and n * math.prod(spatial) == 1:
            n = 2
        x = draw(_values((n, channels, *spatial)))
        steps.append((training, x, draw(st.booleans())))
    affine_params = (draw(channel_vector(channels)), draw(channel_vector(channels)))
    return kind, channels, config, steps, affine_params


@pytest.mark.spec("NORM-1", "NORM-3", "NORM-4", "NORM-5", "NORM-6", "NORM-19", "NORM-24")
@given(batch_norm_runs())
def test_batchnorm_step_sequences_match_torch(device, run):
    kind, channels, config, steps, (weight, bias) = run
    torch_class, reference_class = BATCH_NORM_CLASSES[kind]
    module = torch_class(channels, **config, device=device, dtype=torch.float64)
    ref = reference_class(channels, **config, dtype=np.float64)
    if config["affine"]:
        with torch.no_grad():
            module.weight.copy_(to_torch(weight))
            if module.bias is not None:
                module.bias.copy_(to_torch(bias))
        ref.weight[...] = weight
        if ref.bias is not None:
            ref.bias[...] = bias
    assert (module.bias is None) == (ref.bias is None)
    for training, x, noncontiguous in steps:
        module.train(training)
        ref.train(training)
        with torch.no_grad():
            out = module(to_torch(x, device, noncontiguous=noncontiguous))
        _matches(out, ref(x))
        if config["track_running_stats"]:
            _matches(module.running_mean, ref.running_mean)
            _matches(module.running_var, ref.running_var)
            assert int(module.num_batches_tracked) == ref.num_batches_tracked
        else:
            assert module.running_mean is module.running_var is module.num_batches_tracked is None
            assert ref.running_mean is ref.running_var is ref.num_batches_tracked is None
    if config["track_running_stats"]:  # empty training batches count too
        assert ref.num_batches_tracked == sum(training for training, _, _ in steps)


# The notes (000, BatchNorm2d): torch.manual_seed(123); a = torch.rand(3, 2, 3, 3), printed to
# 4 decimals, then nn.BatchNorm2d(2)(a).
NOTES_RAND = [
    [
        [[0.2961, 0.5166, 0.2517], [0.6886, 0.0740, 0.8665], [0.1366, 0.1025, 0.1841]],
        [[0.7264, 0.3153, 0.6871], [0.0756, 0.1966, 0.3164], [0.4017, 0.1186, 0.8274]],
    ],
    [
        [[0.3821, 0.6605, 0.8536], [0.5932, 0.6367, 0.9826], [0.2745, 0.6584, 0.2775]],
        [[0.8573, 0.8993, 0.0390], [0.9268, 0.7388, 0.7179], [0.7058, 0.9156, 0.4340]],
    ],
    [
        [[0.0772, 0.3565, 0.1479], [0.5331, 0.4066, 0.2318], [0.4545, 0.9737, 0.4606]],
        [[0.5159, 0.4220, 0.5786], [0.9455, 0.8057, 0.6775], [0.6087, 0.6179, 0.6932]],
    ],
]
NOTES_BATCHNORM2D = [
    [
        [[-0.5621, 0.2574, -0.7273], [0.8968, -1.3879, 1.5584], [-1.1552, -1.2819, -0.9787]],
        [[0.5369, -1.0117, 0.3888], [-1.9141, -1.4584, -1.0073], [-0.6859, -1.7524, 0.9171]],
    ],
    [
        [[-0.2425, 0.7925, 1.5103], [0.5422, 0.7042, 1.9901], [-0.6425, 0.7846, -0.6311]],
        [[1.0298, 1.1880, -2.0520], [1.2915, 0.5833, 0.5047], [0.4593, 1.2495, -0.5645]],
    ],
    [
        [[-1.3761, -0.3375, -1.1132], [0.3187, -0.1512, -0.8011], [0.0269, 1.9569, 0.0493]],
        [[-0.2561, -0.6096, -0.0199], [1.3619, 0.8356, 0.3525], [0.0933, 0.1281, 0.4116]],
    ],
]
PRINTED = {"rtol": 0.0, "atol": 5e-5 + 1e-6}  # printed to 4 decimals: half a unit, plus float32


@pytest.mark.spec("NORM-1")
def test_notes_batchnorm2d_golden(device):
    torch.manual_seed(123)
    a = torch.rand(3, 2, 3, 3).to(device)
    _matches(a, np.float32(NOTES_RAND), **PRINTED)
    out = nn.BatchNorm2d(2, device=device)(a)
    _matches(out, np.float32(NOTES_BATCHNORM2D), **PRINTED)
    ref = BatchNorm(2)
    ref_out = ref(a.cpu().numpy())
    assert ref_out.dtype == np.float32
    _matches(torch.from_numpy(ref_out), np.float32(NOTES_BATCHNORM2D), **PRINTED)


@pytest.mark.spec("NORM-2")
@given(nc_arrays(min_values_per_channel=2), EPS)
def test_training_output_has_mean_0_and_biased_variance_1(device, x, eps):
    axes = (0, *range(2, x.ndim))
    var = x.var(axis=axes)
    out = F.batch_norm(to_torch(x, device), None, None, training=True, eps=eps)
    for y in (out.cpu().numpy(), batch_norm(x, None, None, training=True, eps=eps)):
        np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-9)
        np.testing.assert_allclose(y.var(axis=axes), var / (var + eps), rtol=1e-7, atol=1e-9)


@pytest.mark.spec("NORM-3")
@given(
    nc_arrays(min_values_per_channel=2),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_one_training_step_updates_running_stats_with_unbiased_variance(device, x, momentum, seed):
    rng = np.random.default_rng(seed)
    channels = x.shape[1]
    start_mean, start_var = rng.normal(size=channels), rng.uniform(0.1, 2.0, size=channels)
    axes = (0, *range(2, x.ndim))
    expected_mean = (1 - momentum) * start_mean + momentum * x.mean(axis=axes)
    expected_var = (1 - momentum) * start_var + momentum * x.var(axis=axes, ddof=1)
    rm, rv = to_torch(start_mean, device), to_torch(start_var, device)
    F.batch_norm(to_torch(x, device), rm, rv, training=True, momentum=momentum)
    ref_mean, ref_var = start_mean.copy(), start_var.copy()
    batch_norm(x, ref_mean, ref_var, training=True, momentum=momentum)
    for mean, var in ((rm, rv), (to_torch(ref_mean), to_torch(ref_var))):
        _matches(mean, expected_mean)
        _matches(var, expected_var)


@pytest.mark.spec("NORM-3")
def test_num_batches_tracked_counts_training_steps_only():
    bn = nn.BatchNorm1d(3)
    ref = BatchNorm(3)
    assert int(bn.num_batches_tracked) == ref.num_batches_tracked == 0
    assert bn.num_batches_tracked.dtype == torch.int64
    x = torch.randn(4, 3)
    for _ in range(3):
        bn(x)
        ref(x.numpy())
    bn.eval()
    ref.eval()
    bn(x)
    ref(x.numpy())
    assert int(bn.num_batches_tracked) == ref.num_batches_tracked == 3


@st.composite
def batch_lists(draw):
    """1 to 4 batches of shape (N, C), N >= 2, with the same C."""
    channels = draw(st.integers(1, 3))
    shapes = st.integers(2, 4).map(lambda n: (n, channels))
    arrays = st.builds(tuple, shapes).flatmap(lambda s: _values(s))
    return draw(st.lists(arrays, min_size=1, max_size=4))


@pytest.mark.spec("NORM-4")
@given(batch_lists())
def test_momentum_none_is_a_cumulative_average(batches):
    channels = batches[0].shape[1]
    module = nn.BatchNorm1d(channels, momentum=None, dtype=torch.float64)
    ref = BatchNorm(channels, momentum=None, dtype=np.float64)
    for b in batches:
        with torch.no_grad():
            module(to_torch(b))
        ref(b)
    expected_mean = np.mean([b.mean(axis=0) for b in batches], axis=0)
    expected_var = np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0)
    _matches(module.running_mean, expected_mean)
    _matches(module.running_var, expected_var)
    _matches(torch.from_numpy(ref.running_mean), expected_mean)
    _matches(torch.from_numpy(ref.running_var), expected_var)


@pytest.mark.spec("NORM-5")
@given(nc_arrays(), st.integers(0, 2**32 - 1), EPS)
def test_eval_normalizes_with_running_stats_and_changes_no_state(device, x, seed, eps):
    rng = np.random.default_rng(seed)
    channels = x.shape[1]
    mean, var = rng.normal(size=channels), rng.uniform(0.1, 2.0, size=channels)
    weight, bias = rng.normal(size=channels), rng.normal(size=channels)
    module = BATCH_NORMS[x.ndim](channels, eps=eps, device=device, dtype=torch.float64)
    with torch.no_grad():
        for tensor, value in zip(
            (module.running_mean, module.running_var, module.weight, module.bias),
            (mean, var, weight, bias),
            strict=True,
        ):
            tensor.copy_(to_torch(value))
    module.eval()
    shape = (1, channels) + (1,) * (x.ndim - 2)
    expected = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    expected = expected * weight.reshape(shape) + bias.reshape(shape)
    with torch.no_grad():
        _matches(module(to_torch(x, device)), expected)
    _matches(module.running_mean, mean)
    _matches(module.running_var, var)
    assert int(module.num_batches_tracked) == 0
    ref_mean, ref_var = mean.copy(), var.copy()
    ref_out = batch_norm(x, ref_mean, ref_var, weight, bias, eps=eps)
    _matches(torch.from_numpy(ref_out), expected)
    assert (ref_mean == mean).all() and (ref_var == var).all()


@pytest.mark.spec("NORM-5")
@given(nc_arrays(min_values_per_channel=2))
def test_untracked_batchnorm_uses_batch_stats_in_eval_too(device, x):
    channels = x.shape[1]
    module = BATCH_NORMS[x.ndim](
        channels, track_running_stats=False, device=device, dtype=torch.float64
    )
    ref = BatchNorm(channels, track_running_stats=False, dtype=np.float64)
    with torch.no_grad():
        train_out = module(to_torch(x, device))
        eval_out = module.eval()(to_torch(x, device))
    _matches(eval_out, to_numpy(train_out))
    _matches(eval_out, ref.eval()(x))


@pytest.mark.spec("NORM-6")
@pytest.mark.parametrize("module_class", [nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d])
def test_affine_parameters_start_at_identity(module_class):
    module = module_class(4)
    ref = BatchNorm(4)
    assert isinstance(module.weight, nn.Parameter) and isinstance(module.bias, nn.Parameter)
    for tensor, array, value in (
        (module.weight, ref.weight, 1.0),
        (module.bias, ref.bias, 0.0),
        (module.running_mean, ref.running_mean, 0.0),
        (module.running_var, ref.running_var, 1.0),
    ):
        assert tuple(tensor.shape) == array.shape == (4,)
        _matches(tensor, np.full(4, value, np.float32))
        _matches(tensor, array)
    plain = module_class(4, affine=False)
    assert plain.weight is None and plain.bias is None
    assert BatchNorm(4, affine=False).weight is None
    assert [n for n, _ in plain.named_buffers()] == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]


@pytest.mark.spec("NORM-7")
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1), (1, 3, 1, 1, 1)])
def test_training_with_one_value_per_channel_raises(shape):
    x = torch.randn(shape)
    module = BATCH_NORMS[len(shape)](3)
    with pytest.raises(ValueError, match="more than 1 value"):
        module(x)
    with pytest.raises(ValueError, match="more than 1 value"):
        BatchNorm(3)(x.numpy())
    assert int(module.num_batches_tracked) == 1  # counted before the check
    # In eval mode the running stats are used, so a single sample is fine.
    _matches(module.eval()(x), BatchNorm(3).eval()(x.numpy()))


@pytest.mark.spec("NORM-8")
@given(st.integers(1, 5))
def test_second_positional_argument_is_eps(num_features):
    module = nn.BatchNorm1d(num_features, 0.8)  # notes 000 (GAN generator)
    assert module.eps == 0.8 and module.momentum == 0.1
    assert BatchNorm(num_features, 0.8).eps == 0.8
    x = torch.randn(4, num_features)
    with torch.no_grad():
        out = module(x)
    _matches(out, batch_norm(x.numpy(), None, None, training=True, eps=0.8))
    with torch.no_grad():
        assert not torch.allclose(out, nn.BatchNorm1d(num_features)(x))


# --- NORM-9: gradients ------------------------------------------------------------------


@pytest.mark.spec("NORM-9")
@given(nc_arrays(min_values_per_channel=2), st.booleans(), st.integers(0, 2**32 - 1), EPS)
def test_batchnorm_gradients_match_autograd(device, x, training, seed, eps):
    rng = np.random.default_rng(seed)
    channels = x.shape[1]
    weight, bias = rng.normal(size=channels), rng.normal(size=channels)
    grad_out = rng.normal(size=x.shape)
    rm, rv = rng.normal(size=channels), rng.uniform(0.1, 2.0, size=channels)
    tx = make_noncontiguous(to_torch(x, device, requires_grad=True))  # a non-contiguous leaf
    tw = to_torch(weight, device, requires_grad=True)
    tb = to_torch(bias, device, requires_grad=True)
    out = F.batch_norm(
        tx,
        to_torch(rm, device),
        to_torch(rv, device),
        tw,
        tb,
        training=training,
        eps=eps,
    )
    out.backward(to_torch(grad_out, device))
    expected = batch_norm_backward(grad_out, x, weight, rm, rv, training=training, eps=eps)
    for tensor, ref in zip((tx, tw, tb), expected, strict=True):
        _matches(tensor.grad, ref)


# --- NORM-19: empty inputs ---------------------------------------------------------------


@pytest.mark.spec("NORM-19")
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 3, 0), (0, 3, 2, 2), (2, 0), (1, 3, 0)])
def test_batch_norm_of_an_empty_input_is_empty_and_moves_no_statistic(device, shape, training):
    x = np.zeros(shape)
    channels = shape[1] if len(shape) > 1 else 2  # a 1-D (0,) input has no channel dim
    for size in (channels, channels + 1):  # even wrong-size vectors: the empty check is first
        rm, rv = np.full(size, 0.5), np.full(size, 2.0)
        t_rm, t_rv = to_torch(rm, device), to_torch(rv, device)
        out = F.batch_norm(to_torch(x, device), t_rm, t_rv, training=training, momentum=0.5)
        assert tuple(out.shape) == shape and out.dtype == torch.float64
        ref = batch_norm(x, rm, rv, training=training, momentum=0.5)
        assert ref.shape == shape and ref.dtype == x.dtype
        for running, start in ((t_rm, 0.5), (t_rv, 2.0)):
            _matches(running, np.full(size, start))
        assert (rm == 0.5).all() and (rv == 2.0).all()


@pytest.mark.spec("NORM-19", "NORM-11")
@pytest.mark.parametrize("shape", [(2, 0), (2, 2, 0), (0, 0, 3)])
def test_group_norm_of_zero_channels_or_zero_spatial_size(device, shape):
    x = np.zeros(shape)
    if torch_at_least("2.14"):  # torch 2.14 checks C > 0 and H*W > 0 ("greater than 0")
        with pytest.raises(RuntimeError, match="greater than 0"):
            F.group_norm(to_torch(x, device), 1)
    else:  # earlier releases return an empty output
        assert tuple(F.group_norm(to_torch(x, device), 1).shape) == shape
    with pytest.raises(ValueError, match="greater than 0"):
        group_norm(x, 1)


@pytest.mark.spec("NORM-19", "NORM-12")
@pytest.mark.parametrize("training", [True, False])
def test_instance_norm_of_an_empty_batch_averages_no_instances(device, training):
    x = np.zeros((0, 2, 3))
    module = nn.InstanceNorm1d(2, track_running_stats=True, device=device, dtype=torch.float64)
    ref = R.InstanceNorm1d(2, track_running_stats=True, dtype=np.float64)
    module.train(training)
    ref.train(training)
    assert tuple(module(to_torch(x, device)).shape) == ref(x).shape == (0, 2, 3)
    # The running stats become the mean over zero instances, nan, in training; torch 2.4
    # did so in evaluation too (2.11 and later leave them).
    expected_nan = training or not torch_at_least("2.11")
    assert bool(module.running_mean.isnan().all()) == expected_nan
    assert np.isnan(ref.running_mean).all() == training
    # A zero spatial size leaves them: the kernel returns before any update.
    rm, rv = to_torch(np.zeros(2), device), to_torch(np.ones(2), device)
    F.instance_norm(to_torch(np.zeros((2, 2, 0)), device), rm, rv)
    _matches(rm, np.zeros(2))
    ref_rm, ref_rv = np.zeros(2), np.ones(2)
    instance_norm(np.zeros((2, 2, 0)), ref_rm, ref_rv)
    assert (ref_rm == 0).all() and (ref_rv == 1).all()


@pytest.mark.spec("NORM-19", "NORM-12")
@pytest.mark.parametrize("parameter", ["weight", "bias"])
@known_torch_bug(
    fixed_in=None,
    issue="pytorch/pytorch#39049",
    why="instance_norm with a weight or bias on a zero batch raises IndexError (select() on "
    "the weight repeated 0 times); #39049 made the affine=False case work",
)
def test_instance_norm_with_affine_parameters_of_an_empty_batch_is_empty(device, parameter):
    x = np.zeros((0, 2, 3))
    assert instance_norm(x, **{parameter: np.ones(2)}).shape == (0, 2, 3)
    out = F.instance_norm(to_torch(x, device), **{parameter: to_torch(np.ones(2), device)})
    assert tuple(out.shape) == (0, 2, 3)


@pytest.mark.spec("NORM-19", "NORM-13")
@pytest.mark.parametrize("shape", [(0, 3, 2), (2, 0, 3), (2, 3, 0, 4)])
def test_empty_inputs_of_layer_norm_and_local_response_norm(device, shape):
    x = np.zeros(shape)
    t = to_torch(x, device)
    assert F.local_response_norm(t, 2) is t  # returned itself
    assert local_response_norm(x, 2) is x
    trailing = list(shape[1:])
    assert tuple(F.layer_norm(t, trailing).shape) == layer_norm(x, trailing).shape == shape
    assert tuple(F.batch_norm(t, None, None, training=True).shape) == shape


# --- NORM-10 .. NORM-13: the other normalizations ------------------------------------------


@st.composite
def layer_norm_cases(draw):
    """An input of 1 to 4 dims (sides 0..4, so zero batches and empty normalized dims
    occur), ``normalized_shape`` its trailing k dims, optional affine parameters."""
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=4)))
    k = draw(st.integers(1, len(shape)))
    x = draw(_values(shape))
    affine = draw(st.booleans())
    norm_shape = shape[len(shape) - k :]
    params = (None, None)
    if affine:
        params = tuple(draw(_values(norm_shape, 3)) for _ in range(2))
        if draw(st.booleans()):
            params = (params[0], None)
    return x, norm_shape, params, draw(EPS), draw(st.booleans())


@pytest.mark.spec("NORM-10", "NORM-19")
@given(layer_norm_cases())
def test_layer_norm_matches_torch(device, case):
    x, norm_shape, (weight, bias), eps, noncontiguous = case
    tw = None if weight is None else to_torch(weight, device)
    tb = None if bias is None else to_torch(bias, device)
    out = F.layer_norm(to_torch(x, device, noncontiguous=noncontiguous), norm_shape, tw, tb, eps)
    _matches(out, layer_norm(x, norm_shape, weight, bias, eps))


@pytest.mark.spec("NORM-10")
@given(layer_norm_cases())
def test_layer_norm_module_normalizes_each_sample_over_trailing_dims(device, case):
    x, norm_shape, _, eps, _ = case
    module = nn.LayerNorm(norm_shape, eps=eps, device=device, dtype=torch.float64)
    ref = R.LayerNorm(norm_shape, eps=eps, dtype=np.float64)
    _matches(module.weight, np.ones(norm_shape))
    _matches(module.bias, np.zeros(norm_shape))
    np.testing.assert_array_equal(ref.weight, np.ones(norm_shape))
    np.testing.assert_array_equal(ref.bias, np.zeros(norm_shape))
    axes = tuple(range(x.ndim - len(norm_shape), x.ndim))
    expected = x.copy()  # an empty input has nothing to normalize
    if x.size:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        expected = (x - mean) / np.sqrt(var + eps)
    with torch.no_grad():
        _matches(module(to_torch(x, device)), expected)
    _matches(torch.from_numpy(ref(x)), expected)


@st.composite
def group_norm_cases(draw):
    """(N, C, *spatial) with N from 0 (a zero batch) and C a multiple of the group count;
    $N \\cdot C/G \\cdot \\prod$ spatial may be 1, which torch rejects (NORM-11)."""
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n = draw(st.integers(0, 3))
    x = draw(_values((n, channels, *spatial)))
    params = (
        (draw(channel_vector(channels)), draw(channel_vector(channels)))
        if draw(st.booleans())
        else (None, None)
    )
    return x, groups, params, draw(EPS), draw(st.booleans())


@pytest.mark.spec("NORM-11", "NORM-19")
@given(group_norm_cases())
@example((np.zeros((0, 2)), 1, (None, None), 1e-5, False))  # issue 15: the reference crashed
def test_group_norm_matches_torch(device, case):
    x, groups, (weight, bias), eps, noncontiguous = case
    tw = None if weight is None else to_torch(weight, device)
    tb = None if bias is None else to_torch(bias, device)
    t = to_torch(x, device, noncontiguous=noncontiguous)
    if x.shape[0] * x.shape[1] // groups * math.prod(x.shape[2:]) == 1:
        with pytest.raises(ValueError, match="more than 1 value"):
            F.group_norm(t, groups, tw, tb, eps)
        with pytest.raises(ValueError, match="more than 1 value"):
            group_norm(x, groups, weight, bias, eps)
        return
    out = F.group_norm(t, groups, tw, tb, eps)
    _matches(out, group_norm(x, groups, weight, bias, eps))
    if groups == 1 and x.ndim > 2 and x.size:  # one group: layer norm over (C, *) per sample
        shape = (1, -1) + (1,) * (x.ndim - 2)
        expected = layer_norm(x, x.shape[1:], eps=eps)
        if weight is not None:
            expected = expected * weight.reshape(shape) + bias.reshape(shape)
        _matches(out, expected)


@pytest.mark.spec("NORM-11")
@given(group_norm_cases())
def test_group_norm_module_starts_at_identity_affine(device, case):
    x, groups, _, eps, _ = case
    if x.shape[0] * x.shape[1] // groups * math.prod(x.shape[2:]) == 1:
        return
    module = nn.GroupNorm(groups, x.shape[1], eps, device=device, dtype=torch.float64)
    ref = R.GroupNorm(groups, x.shape[1], eps, dtype=np.float64)
    with torch.no_grad():
        _matches(module(to_torch(x, device)), ref(x))
    _matches(module.weight, ref.weight)
    _matches(module.bias, ref.bias)


@st.composite
def instance_norm_runs(draw):
    """An InstanceNorm1d/2d/3d configuration and (training, input) steps: batched inputs
    (N from 0), or unbatched ones (no N dim). An empty batch is not drawn where torch
    differs (see the empty-batch tests): with affine parameters (a torch bug), and on torch
    < 2.11 for an evaluation step with tracked stats."""
    ndim = draw(st.integers(3, 5))
    channels = draw(st.integers(1, 3))
    config = {
        "eps": draw(EPS),
        "momentum": draw(st.floats(0.0, 1.0)),
        "affine": draw(st.booleans()),
        "track_running_stats": draw(st.booleans()),
    }
    steps = []
    for training in draw(st.lists(st.booleans(), min_size=1, max_size=3)):
        spatial = draw(st.lists(st.integers(1, 3), min_size=ndim - 2, max_size=ndim - 2))
        if math.prod(spatial) == 1:
            spatial[0] = 2
        old_eval_quirk = not training and config["track_running_stats"] and not torch_at_least(
            "2.11"
        )
        no_empty_batch = old_eval_quirk or config["affine"]  # affine: a torch bug (NORM-19)
        n = draw(st.integers(1 if no_empty_batch else 0, 3))
        x = draw(_values((n, channels, *spatial)))
        if n == 1 and draw(st.booleans()):
            x = x[0]  # unbatched: (C, *spatial)
        steps.append((training, x))
    affine_params = (draw(channel_vector(channels)), draw(channel_vector(channels)))
    return ndim, channels, config, steps, affine_params


@pytest.mark.spec("NORM-12", "NORM-20")
@given(instance_norm_runs())
def test_instance_norm_step_sequences_match_torch(device, run):
    ndim, channels, config, steps, (weight, bias) = run
    module = INSTANCE_NORMS[ndim](channels, **config, device=device, dtype=torch.float64)
    ref = getattr(R, INSTANCE_NORMS[ndim].__name__)(channels, **config, dtype=np.float64)
    track = config["track_running_stats"]
    running_mean = np.zeros(channels) if track else None
    running_var = np.ones(channels) if track else None
    w, b = (weight, bias) if config["affine"] else (None, None)
    if config["affine"]:
        with torch.no_grad():
            module.weight.copy_(to_torch(weight))
            module.bias.copy_(to_torch(bias))
        ref.weight[...], ref.bias[...] = weight, bias
    for training, x in steps:
        module.train(training)
        ref.train(training)
        with torch.no_grad():
            out = module(to_torch(x, device))
        _matches(out, ref(x))
        batched = x if x.ndim == ndim else x[None]
        expected = instance_norm(
            batched,
            running_mean,
            running_var,
            w,
            b,
            use_input_stats=training or not track,
            momentum=config["momentum"],
            eps=config["eps"],
        )
        _matches(out, expected.reshape(x.shape))
        if track:
            _matches(module.running_mean, running_mean)
            _matches(module.running_var, running_var)
            _matches(module.running_mean, ref.running_mean)


@pytest.mark.spec("NORM-12")
def test_instance_norm_defaults():
    module = nn.InstanceNorm2d(3)
    ref = R.InstanceNorm2d(3)
    assert module.weight is None and module.running_mean is None
    assert ref.weight is None and ref.running_mean is None
    assert not module.affine and not module.track_running_stats


@pytest.mark.spec("NORM-20")
@pytest.mark.parametrize(
    ("module_class", "shape"), [("InstanceNorm1d", (5, 4)), ("InstanceNorm2d", (5, 2, 2))]
)
def test_unused_num_features_mismatch_only_warns(device, module_class, shape):
    x = np.linspace(-1, 1, math.prod(shape)).reshape(shape)
    module = getattr(nn, module_class)(3)  # affine=False: num_features is not used
    with pytest.warns(UserWarning, match="num_features"):
        out = module(to_torch(x, device))
    with pytest.warns(UserWarning, match="num_features"):
        expected = getattr(R, module_class)(3)(x)
    _matches(out, expected)


@st.composite
def lrn_cases(draw):
    """(N, C, *) inputs of 3 to 6 dims, sides 0..3 (C up to 6)."""
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=3, max_size=6)))
    shape = (shape[0], draw(st.integers(0, 6)), *shape[2:])
    x = draw(_values(shape))
    size = draw(st.integers(1, 5))
    alpha = draw(st.sampled_from((1e-4, 0.1, 1.0)))
    beta = draw(st.sampled_from((0.75, 0.5, 1.0, 2.0)))
    k = draw(st.sampled_from((1.0, 2.0, 0.5)))
    return x, size, alpha, beta, k, draw(st.booleans())


@pytest.mark.spec("NORM-13", "NORM-19")
@given(lrn_cases())
def test_local_response_norm_matches_torch(device, case):
    x, size, alpha, beta, k, noncontiguous = case
    t = to_torch(x, device, noncontiguous=noncontiguous)
    out = F.local_response_norm(t, size, alpha, beta, k)
    _matches(out, local_response_norm(x, size, alpha, beta, k))
    with torch.no_grad():
        _matches(nn.LocalResponseNorm(size, alpha, beta, k)(t), to_numpy(out))


@pytest.mark.spec("NORM-13")
def test_local_response_norm_by_hand():
    # size 3, alpha 3, beta 1, k 1: channel c is divided by 1 + (x_{c-1}^2 + x_c^2 + x_{c+1}^2).
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    expected = np.array([1 / (1 + 1 + 4), 2 / (1 + 1 + 4 + 9), 3 / (1 + 4 + 9)]).reshape(1, 3, 1)
    _matches(F.local_response_norm(torch.from_numpy(x), 3, 3.0, 1.0, 1.0), expected)
    _matches(torch.from_numpy(local_response_norm(x, 3, 3.0, 1.0, 1.0)), expected)


# --- NORM-23: affine layers without bias ----------------------------------------------------

NO_BIAS = [
    pytest.param(
        lambda: (nn.LayerNorm(3, bias=False), R.LayerNorm(3, bias=False)),
        (2, 3),
        id="LayerNorm",
        marks=requires_parameter(nn.LayerNorm, "bias"),
    ),
    pytest.param(
        lambda: (nn.GroupNorm(1, 3, bias=False), R.GroupNorm(1, 3, bias=False)),
        (2, 3, 2),
        id="GroupNorm",
        marks=requires_parameter(nn.GroupNorm, "bias"),
    ),
    pytest.param(
        lambda: (nn.BatchNorm1d(3, bias=False), R.BatchNorm1d(3, bias=False)),
        (4, 3),
        id="BatchNorm1d",
        marks=requires_parameter(nn.BatchNorm1d, "bias"),
    ),
    pytest.param(
        lambda: (
            nn.InstanceNorm1d(3, affine=True, bias=False),
            R.InstanceNorm1d(3, affine=True, bias=False),
        ),
        (2, 3, 4),
        id="InstanceNorm1d",
        marks=requires_parameter(nn.InstanceNorm1d, "bias"),
    ),
]


@pytest.mark.spec("NORM-23")
@pytest.mark.parametrize(("build", "shape"), NO_BIAS)
def test_bias_false_keeps_the_weight_and_drops_beta(device, build, shape):
    module, ref = build()
    module = module.to(device=device, dtype=torch.float64)
    assert module.bias is None and ref.bias is None
    _matches(module.weight, np.ones(3))
    rng = np.random.default_rng(0)
    weight = rng.normal(size=3)
    with torch.no_grad():
        module.weight.copy_(to_torch(weight))
    ref.weight = weight
    x = rng.normal(size=shape)
    with torch.no_grad():
        _matches(module(to_torch(x, device)), ref(x))
    assert "bias" not in dict(module.named_parameters())


# --- NORM-24: SyncBatchNorm on one process --------------------------------------------------


@pytest.mark.spec("NORM-24")
def test_convert_sync_batchnorm_keeps_the_state(device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.ReLU()).to(device)
    model(torch.randn(4, 2, 3, 3, device=device))  # one training step moves the stats
    before = copy.deepcopy(model)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], nn.SyncBatchNorm)
    for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        assert torch.equal(getattr(converted[1], name), getattr(before[1], name))
    x = torch.randn(5, 2, 3, 3, device=device)
    assert not torch.distributed.is_available() or not torch.distributed.is_initialized()
    for mode in (True, False):
        converted.train(mode)
        before.train(mode)
        with torch.no_grad():
            torch.testing.assert_close(converted(x), before(x), rtol=0, atol=0)


# --- NORM-14 .. NORM-16, NORM-21, NORM-22: dropout -----------------------------------------

# Statistical tests: a count Z ~ Binomial(n, q) passes when |Z - nq| <= 6 sd. By the normal
# approximation (n q (1-q) >= 900 here) a correct implementation fails with probability
# about 2e-9 per check; the seeds are fixed, so every run sees the same numbers.
SIGMAS = 6.0
DROPOUT_PS = (0.1, 0.3, 0.5, 0.8)


def _assert_binomial(count, n, q):
    sd = math.sqrt(n * q * (1 - q))
    assert abs(count - n * q) <= SIGMAS * sd, (count, n, q)


@pytest.mark.spec("NORM-14")
@pytest.mark.parametrize("p", DROPOUT_PS)
def test_dropout_zeroes_about_p_of_the_entries(device, p):
    n = 20_000
    torch.manual_seed(1234)
    out = F.dropout(torch.ones(n, device=device), p)
    _assert_binomial(int((out == 0).sum()), n, p)
    ref = dropout(np.ones(n, np.float32), p, rng=np.random.default_rng(1234))
    _assert_binomial(int((ref == 0).sum()), n, p)


@pytest.mark.spec("NORM-14")
@pytest.mark.parametrize("p", DROPOUT_PS)
def test_dropout_preserves_the_mean_in_expectation(device, p):
    # mean of n outputs from ones: E = 1, sd = sqrt(p / ((1 - p) n)); 6 sd as above.
    n = 20_000
    bound = SIGMAS * math.sqrt(p / ((1 - p) * n))
    torch.manual_seed(4321)
    out = F.dropout(torch.ones(n, device=device, dtype=torch.float64), p)
    assert abs(float(out.mean()) - 1) <= bound
    ref = dropout(np.ones(n), p, rng=np.random.default_rng(4321))
    assert abs(ref.mean() - 1) <= bound


@pytest.mark.spec("NORM-14")
@given(
    finite_arrays((4, 5), np.float64, min_value=0.5, max_value=10),
    st.floats(0.0, 0.95),
    st.integers(0, 2**32 - 1),
)
@example(np.ones((4, 5)), 0.0, 0)
def test_kept_entries_are_scaled_by_1_over_1_minus_p(device, x, p, seed):
    torch.manual_seed(seed)
    out = F.dropout(to_torch(x, device, noncontiguous=True), p).cpu().numpy()
    ref = dropout(x, p, rng=np.random.default_rng(seed))
    for y in (out, ref):
        kept = y != 0
        np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-12)


@pytest.mark.spec("NORM-14")
def test_dropout_p_1_zeroes_everything(device):
    assert (F.dropout(torch.ones(5, device=device), 1.0) == 0).all()
    assert (dropout(np.ones(5), 1.0) == 0).all()


@pytest.mark.spec("NORM-15")
@given(finite_arrays((3, 4), np.float32), st.floats(0.0, 1.0))
def test_dropout_in_eval_is_the_identity(device, x, p):
    tx = to_torch(x, device)
    module = nn.Dropout(p).eval()
    _matches(module(tx), x, rtol=0, atol=0)
    _matches(F.dropout(tx, p, training=False), x, rtol=0, atol=0)
    _matches(nn.Dropout2d(p).eval()(tx[None, None]), x[None, None], rtol=0, atol=0)
    assert (dropout(x, p, training=False) == x).all()
    assert (dropout2d(x[None, None], p, training=False) == x[None, None]).all()


@pytest.mark.spec("NORM-15")
def test_functional_dropout_ignores_the_module_mode():
    # notes 002 (GAN discriminator): F.dropout(x, 0.3) inside forward keeps dropping in eval.
    class Discriminator(nn.Module):
        def forward(self, x):
            return F.dropout(x, 0.3)

    model = Discriminator().eval()
    torch.manual_seed(0)
    out = model(torch.ones(1000))
    # P(no zero among 1000) = 0.7**1000 < 1e-150.
    assert (out == 0).any()
    assert not model.training


# Channel dropout: (function, input shape, how many leading dims one mask entry covers)
DROPOUT2D = pytest.mark.spec("NORM-16")
CHANNEL_DROPOUTS = [
    pytest.param("dropout2d", (100, 50, 3, 3), 2, id="dropout2d-NCHW", marks=DROPOUT2D),
    pytest.param("dropout2d", (100, 50, 4), 2, id="dropout2d-3d-is-NCL", marks=DROPOUT2D),
    pytest.param("dropout1d", (100, 50, 4), 2, id="dropout1d-NCL"),
    pytest.param("dropout1d", (5000, 4), 1, id="dropout1d-unbatched-CL"),
    pytest.param("dropout3d", (100, 50, 1, 2, 2), 2, id="dropout3d-NCDHW"),
    pytest.param("dropout3d", (2500, 2, 2, 1), 1, id="dropout3d-unbatched-CDHW"),
]


@pytest.mark.spec("NORM-21")
@pytest.mark.parametrize("p", (0.3, 0.8))
@pytest.mark.parametrize(("name", "shape", "lead"), CHANNEL_DROPOUTS)
def test_channel_dropout_zeroes_whole_channels(device, name, shape, lead, p):
    channels = math.prod(shape[:lead])
    torch.manual_seed(99)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropout2d's 3-D warning (NORM-21)
        out = getattr(F, name)(torch.ones(shape, device=device, dtype=torch.float64), p)
        ref = getattr(R, name)(np.ones(shape), p, rng=np.random.default_rng(99))
    for y in (to_numpy(out), ref):
        assert y.shape == shape
        per_channel = y.reshape(channels, -1)
        assert (per_channel == per_channel[:, :1]).all()  # all or nothing per channel
        zeroed = per_channel[:, 0] == 0
        np.testing.assert_allclose(per_channel[~zeroed, 0], 1 / (1 - p), rtol=1e-12)
        _assert_binomial(int(zeroed.sum()), channels, p)


@pytest.mark.spec("NORM-21")
@pytest.mark.parametrize(
    ("name", "shape", "keyword"),
    [
        ("dropout2d", (2, 3, 4), "3D"),  # read as (N, C, L), not an unbatched (C, H, W)
        ("dropout2d", (2, 3), "deprecated"),
        ("dropout2d", (2, 3, 4, 5, 6), "deprecated"),
        ("dropout3d", (2, 3, 4), "deprecated"),
        ("dropout3d", (2, 3, 4, 5, 6, 7), "deprecated"),
    ],
)
def test_channel_dropout_warns_about_other_ranks(device, name, shape, keyword):
    x = np.ones(shape)
    with pytest.warns(UserWarning, match=keyword):
        getattr(F, name)(to_torch(x, device), 0.5, training=False)
    with pytest.warns(UserWarning, match=keyword):
        getattr(R, name)(x, 0.5, training=False)


@pytest.mark.spec("NORM-22")
@pytest.mark.parametrize("name", ["dropout", "dropout1d", "dropout2d", "dropout3d"])
def test_dropout_returns_its_input_when_nothing_is_dropped(device, name):
    shape = {"dropout": (3,), "dropout1d": (2, 3, 4), "dropout2d": (2, 3, 4, 4)}.get(
        name, (2, 3, 2, 2, 2)
    )
    x = np.ones(shape)
    t = to_torch(x, device)
    function, reference = getattr(F, name), getattr(R, name)
    assert function(t, 0.5, training=False) is t and reference(x, 0.5, training=False) is x
    assert function(t, 0.0) is t and reference(x, 0.0) is x
    empty = np.ones((0, *shape[1:]))
    t_empty = to_torch(empty, device)
    assert function(t_empty, 0.5) is t_empty and reference(empty, 0.5) is empty
    assert nn.Dropout(0.5).eval()(t) is t


@pytest.mark.spec("NORM-22")
@given(
    finite_arrays((6, 5), np.float64, min_value=-10, max_value=10),
    st.lists(st.tuples(st.integers(0, 29), st.sampled_from([math.nan, math.inf, -math.inf]))),
    st.sampled_from([0.3, 0.7, 1.0]),
    st.integers(0, 2**32 - 1),
)
def test_dropout_multiplies_by_the_mask_so_dropped_nan_and_inf_give_nan(device, x, plants, p, seed):
    for index, value in plants:
        x.reshape(-1)[index] = value
    torch.manual_seed(seed)
    out = to_numpy(F.dropout(to_torch(x, device), p))
    ref = dropout(x, p, rng=np.random.default_rng(seed))
    finite = np.isfinite(x)
    for y in (out, ref):
        assert np.isnan(y[np.isnan(x)]).all()
        dropped = (y == 0) | (np.isnan(y) & ~np.isnan(x))  # 0 * x, nan for x = inf
        assert np.isnan(y[dropped & ~finite]).all() and (y[dropped & finite] == 0).all()
        kept = ~dropped & ~np.isnan(x)
        np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-12)
        if p == 1.0:
            assert dropped[~np.isnan(x)].all()


@pytest.mark.spec("NORM-22")
def test_inplace_dropout_writes_into_the_input(device):
    t = torch.ones(1000, device=device, dtype=torch.float64)
    assert F.dropout(t, 0.5, inplace=True) is t
    assert set(to_numpy(t).tolist()) <= {0.0, 2.0} and (t == 0).any()
    x = np.ones(1000)
    assert dropout(x, 0.5, inplace=True, rng=np.random.default_rng(0)) is x
    assert set(x.tolist()) == {0.0, 2.0}
    t = torch.ones(2, 3, device=device)
    assert F.dropout1d(t, 0.5, inplace=True) is t  # unbatched: unsqueezed and squeezed back
    x = np.ones((2, 3))
    assert R.dropout1d(x, 0.5, inplace=True) is x and x.shape == (2, 3)


# --- NORM-25: invalid inputs, as a table (OpInfo's error_inputs) -----------------------------


@dataclass(frozen=True)
class ErrorInput:
    """An invalid call: torch's (given the device) and the reference's, the exception each
    raises (torch's by its most general stable class) and a keyword both messages contain."""

    torch_call: Callable[[str], Any]
    reference_call: Callable[[], Any]
    torch_error: type[Exception] | tuple[type[Exception], ...]
    reference_error: type[Exception]
    keyword: str


def _t(shape_or_array, device, value=0.5):
    array = np.asarray(shape_or_array)
    if array.dtype.kind == "i" and array.ndim == 1 and np.ndim(shape_or_array) == 1:
        array = np.full(tuple(shape_or_array), value)  # a shape: an array of that shape
    return to_torch(array, device)


def _a(shape, value=0.5):
    return np.full(shape, value)


X23 = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
X234 = np.linspace(-1.0, 1.0, 24).reshape(2, 3, 4)
ERROR_INPUTS = {
    "batch_norm-eval-without-running-stats": ErrorInput(
        lambda d: F.batch_norm(_t(X23, d), None, None, training=False),
        lambda: batch_norm(X23, None, None, training=False),
        RuntimeError, ValueError, "running_mean",
    ),
    "batch_norm-running_mean-size": ErrorInput(
        lambda d: F.batch_norm(_t(X23, d), _t([2], d), _t([2], d, 1.0), training=True),
        lambda: batch_norm(X23, _a(2), _a(2, 1.0), training=True),
        RuntimeError, ValueError, "running_mean",
    ),
    "batch_norm-weight-size": ErrorInput(
        lambda d: F.batch_norm(_t(X23, d), _t([3], d), _t([3], d), _t([2], d)),
        lambda: batch_norm(X23, _a(3), _a(3), _a(2)),
        RuntimeError, ValueError, "weight",
    ),
    "batch_norm-bias-size": ErrorInput(
        lambda d: F.batch_norm(_t(X23, d), None, None, None, _t([2], d), training=True),
        lambda: batch_norm(X23, None, None, None, _a(2), training=True),
        RuntimeError, ValueError, "bias",
    ),
    "batch_norm-one-value-per-channel": ErrorInput(
        lambda d: F.batch_norm(_t(X23[:1], d), None, None, training=True),
        lambda: batch_norm(X23[:1], None, None, training=True),
        ValueError, ValueError, "more than 1 value",
    ),
    "batch_norm-1d-training": ErrorInput(
        lambda d: F.batch_norm(_t(np.ones(3), d), None, None, training=True),
        lambda: batch_norm(np.ones(3), None, None, training=True),
        IndexError, IndexError, "out of range",
    ),
    "batch_norm-0d-training": ErrorInput(
        lambda d: F.batch_norm(_t(np.array(1.0), d), None, None, training=True),
        lambda: batch_norm(np.array(1.0), None, None, training=True),
        IndexError, IndexError, "out of range",
    ),
    "BatchNorm1d-1d-input": ErrorInput(
        lambda d: nn.BatchNorm1d(3, device=d)(torch.ones(3, device=d)),
        lambda: R.BatchNorm1d(3)(np.ones(3, np.float32)),
        ValueError, ValueError, "got 1D",
    ),
    "BatchNorm2d-3d-input": ErrorInput(
        lambda d: nn.BatchNorm2d(3, device=d)(torch.ones(3, 2, 2, device=d)),
        lambda: R.BatchNorm2d(3)(np.ones((3, 2, 2), np.float32)),
        ValueError, ValueError, "got 3D",
    ),
    "BatchNorm3d-4d-input": ErrorInput(
        lambda d: nn.BatchNorm3d(3, device=d)(torch.ones(2, 3, 2, 2, device=d)),
        lambda: R.BatchNorm3d(3)(np.ones((2, 3, 2, 2), np.float32)),
        ValueError, ValueError, "got 4D",
    ),
    "BatchNorm1d-num_features-mismatch": ErrorInput(
        lambda d: nn.BatchNorm1d(3, device=d)(torch.ones(2, 4, device=d)),
        lambda: R.BatchNorm1d(3)(np.ones((2, 4), np.float32)),
        RuntimeError, ValueError, "running_mean",
    ),
    "SyncBatchNorm-1d-input": ErrorInput(
        lambda d: nn.SyncBatchNorm(3, device=d)(torch.ones(3, device=d)),
        lambda: R.SyncBatchNorm(3)(np.ones(3, np.float32)),
        ValueError, ValueError, "at least 2D",
    ),
    "SyncBatchNorm-zero-channels": ErrorInput(
        lambda d: nn.SyncBatchNorm(0, device=d)(torch.ones(2, 0, device=d)),
        lambda: R.SyncBatchNorm(0)(np.ones((2, 0), np.float32)),
        ValueError, ValueError, "non-zero",
    ),
    "layer_norm-trailing-shape": ErrorInput(
        lambda d: F.layer_norm(_t(X234, d), (3,)),
        lambda: layer_norm(X234, (3,)),
        RuntimeError, ValueError, "normalized_shape",
    ),
    "layer_norm-empty-normalized_shape": ErrorInput(
        lambda d: F.layer_norm(_t(X23, d), ()),
        lambda: layer_norm(X23, ()),
        RuntimeError, ValueError, "normalized_shape",
    ),
    "layer_norm-int-normalized_shape": ErrorInput(
        lambda d: F.layer_norm(_t(X23, d), 3),
        lambda: layer_norm(X23, 3),
        TypeError, TypeError, "normalized_shape",
    ),
    "layer_norm-weight-shape": ErrorInput(
        lambda d: F.layer_norm(_t(X23, d), (3,), _t([2], d)),
        lambda: layer_norm(X23, (3,), _a(2)),
        RuntimeError, ValueError, "weight",
    ),
    "group_norm-1d-input": ErrorInput(
        lambda d: F.group_norm(_t(np.ones(3), d), 1),
        lambda: group_norm(np.ones(3), 1),
        RuntimeError, ValueError, "2 dimensions",
    ),
    "group_norm-not-divisible": ErrorInput(
        lambda d: F.group_norm(_t(np.ones((2, 6, 3)), d), 4),
        lambda: group_norm(np.ones((2, 6, 3)), 4),
        RuntimeError, ValueError, "divisible",
    ),
    "group_norm-zero-groups": ErrorInput(
        lambda d: F.group_norm(_t(np.ones((2, 6, 3)), d), 0),
        lambda: group_norm(np.ones((2, 6, 3)), 0),
        ZeroDivisionError, ValueError, "division",
    ),
    "group_norm-one-value-per-group": ErrorInput(
        lambda d: F.group_norm(_t(np.ones((1, 2)), d), 2),
        lambda: group_norm(np.ones((1, 2)), 2),
        ValueError, ValueError, "more than 1 value",
    ),
    "group_norm-weight-size": ErrorInput(
        lambda d: F.group_norm(_t(np.ones((2, 6, 3)), d), 2, _t([3], d)),
        lambda: group_norm(np.ones((2, 6, 3)), 2, _a(3)),
        RuntimeError, ValueError, "weight",
    ),
    "GroupNorm-not-divisible": ErrorInput(
        lambda d: nn.GroupNorm(4, 6, device=d),
        lambda: R.GroupNorm(4, 6),
        ValueError, ValueError, "divisible",
    ),
    "instance_norm-one-spatial-element": ErrorInput(
        lambda d: F.instance_norm(_t(np.ones((2, 3, 1)), d)),
        lambda: instance_norm(np.ones((2, 3, 1))),
        ValueError, ValueError, "spatial",
    ),
    "instance_norm-no-stats-without-input-stats": ErrorInput(
        lambda d: F.instance_norm(_t(X234, d), use_input_stats=False),
        lambda: instance_norm(X234, use_input_stats=False),
        RuntimeError, ValueError, "running_mean",
    ),
    "instance_norm-weight-size": ErrorInput(
        lambda d: F.instance_norm(_t(X234, d), weight=_t([2], d)),
        lambda: instance_norm(X234, weight=_a(2)),
        RuntimeError, ValueError, "weight",
    ),
    "InstanceNorm1d-affine-num_features": ErrorInput(
        lambda d: nn.InstanceNorm1d(2, affine=True, device=d)(torch.ones(2, 3, 4, device=d)),
        lambda: R.InstanceNorm1d(2, affine=True)(np.ones((2, 3, 4), np.float32)),
        ValueError, ValueError, "num_features",
    ),
    "InstanceNorm2d-2d-input": ErrorInput(
        lambda d: nn.InstanceNorm2d(2, device=d)(torch.ones(2, 3, device=d)),
        lambda: R.InstanceNorm2d(2)(np.ones((2, 3), np.float32)),
        ValueError, ValueError, "got 2D",
    ),
    "local_response_norm-2d-input": ErrorInput(
        lambda d: F.local_response_norm(_t(X23, d), 2),
        lambda: local_response_norm(X23, 2),
        ValueError, ValueError, "3D or higher",
    ),
    "local_response_norm-size-0": ErrorInput(
        lambda d: F.local_response_norm(_t(X234, d), 0),
        lambda: local_response_norm(X234, 0),
        RuntimeError, ValueError, "greater than zero|out of range",  # 2.11: "integer out of range"
    ),
    "dropout-p-above-1": ErrorInput(
        lambda d: F.dropout(_t(X23, d), 1.5),
        lambda: dropout(X23, 1.5),
        ValueError, ValueError, "between 0 and 1",
    ),
    "dropout2d-negative-p": ErrorInput(
        lambda d: F.dropout2d(_t(X234[None], d), -0.1),
        lambda: dropout2d(X234[None], -0.1),
        ValueError, ValueError, "between 0 and 1",
    ),
    "Dropout-p-above-1": ErrorInput(
        lambda d: nn.Dropout(1.5),
        lambda: dropout(X23, 1.5, training=False),
        ValueError, ValueError, "between 0 and 1",
    ),
    "dropout1d-1d-input": ErrorInput(
        lambda d: F.dropout1d(_t(np.ones(3), d)),
        lambda: R.dropout1d(np.ones(3)),
        RuntimeError, ValueError, "2D or 3D",
    ),
    "dropout1d-4d-input-in-eval": ErrorInput(
        lambda d: F.dropout1d(_t(np.ones((2, 3, 4, 5)), d), training=False),
        lambda: R.dropout1d(np.ones((2, 3, 4, 5)), training=False),
        RuntimeError, ValueError, "2D or 3D",
    ),
    "dropout2d-1d-input-in-training": ErrorInput(
        lambda d: F.dropout2d(_t(np.ones(3), d), 0.5),
        lambda: dropout2d(np.ones(3), 0.5),
        RuntimeError, ValueError, "2 dimensions",
    ),
    "dropout3d-0d-input-in-training": ErrorInput(
        lambda d: F.dropout3d(_t(np.array(1.0), d), 0.5),
        lambda: R.dropout3d(np.array(1.0), 0.5),
        RuntimeError, ValueError, "2 dimensions",
    ),
}


@pytest.mark.spec("NORM-25")
@pytest.mark.parametrize("case", ERROR_INPUTS.values(), ids=ERROR_INPUTS.keys())
def test_invalid_inputs_raise_in_both(device, case):
    keyword = f"(?i){case.keyword}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropout2d/3d's rank warnings
        with pytest.raises(case.torch_error, match=keyword):
            case.torch_call(device)
        with pytest.raises(case.reference_error, match=keyword):
            case.reference_call()


# --- NORM-17, NORM-18: train and eval modes ----------------------------------------------------


def _small_model():
    return nn.Sequential(
        nn.Linear(4, 6),
        nn.BatchNorm1d(6),
        nn.ReLU(),
        nn.Sequential(nn.Dropout(0.5), nn.Linear(6, 3)),
    )


def _modes(model):
    return [m.training for m in model.modules()]


@pytest.mark.spec("NORM-17")
def test_eval_is_train_false_and_recurses():
    model = _small_model()
    assert all(_modes(model))  # modules start in training mode
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    assert a.eval() is a and b.train(False) is b
    assert _modes(a) == _modes(b) == [False] * len(_modes(model))
    x = torch.randn(5, 4)
    assert torch.equal(a(x), b(x))
    assert a.train() is a and all(_modes(a))
    ref = BatchNorm(6)
    assert ref.eval() is ref and not ref.training
    assert ref.train() is ref and ref.training
    assert not ref.train(False).training


@pytest.mark.spec("NORM-18")
def test_only_dropout_and_batchnorm_change_outputs():
    plain = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.GroupNorm(1, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.LayerNorm(12),
        nn.Linear(12, 2),
    )
    x = torch.randn(4, 2, 4, 4)
    train_out = plain.train()(x)
    assert torch.equal(plain.eval()(x), train_out)

    model = _small_model()
    x = torch.randn(8, 4)
    torch.manual_seed(0)
    train_out = model.train()(x)
    eval_out = model.eval()(x)
    assert not torch.equal(train_out, eval_out)
    assert torch.equal(model(x), eval_out)  # eval is deterministic
    # With Dropout and BatchNorm removed the modes agree again.
    stripped = nn.Sequential(model[0], model[2], model[3][1])
    assert torch.equal(stripped.train()(x), stripped.eval()(x))
    # In eval, the BatchNorm layer is the reference's eval-mode batch norm.
    bn = model[1]
    hidden = model[0](x).detach()
    expected = batch_norm(
        hidden.numpy(),
        bn.running_mean.numpy().copy(),
        bn.running_var.numpy().copy(),
        bn.weight.detach().numpy(),
        bn.bias.detach().numpy(),
    )
    _matches(bn(hidden), expected)


# --- NORM-26 ..: backward through reference.functional (issue 18) ---------------------------
#
# The differentiable layers of reference/functional.py held to torch.autograd.grad in float64
# (values, running stats, grad_fn names and the VJP of every input that requires grad).

SEEDS = st.integers(0, 2**32 - 1)
# cuDNN runs batch norm on CUDA when it can (weight and bias given, 3+ dims, ...): its node
# is CudnnBatchNormBackward0 there; the CPU records the native kernel's node.
CUDA_BATCH_NORM_NODES = {"NativeBatchNormBackward0", "CudnnBatchNormBackward0"}


def _torch_leaves(arrays, wanted, device, noncontiguous=False):
    """torch copies of ``arrays`` on ``device`` (None stays None); those flagged in
    ``wanted`` require grad, the first laid out non-contiguously when asked."""
    out = []
    for i, (a, w) in enumerate(zip(arrays, wanted, strict=True)):
        out.append(
            None if a is None
            else to_torch(a, device, requires_grad=w, noncontiguous=noncontiguous and i == 0)
        )
    return out


def _reference_leaves(arrays, wanted):
    return [None if a is None else ag.Tensor(a, requires_grad=w)
            for a, w in zip(arrays, wanted, strict=True)]


def _check_backward(device, out, ref_out, leaves, ref_leaves, seed, nodes=None):
    """Same value, same node name (or one of ``nodes`` where torch's depends on the
    device's library) and the same gradient for every leaf that requires grad."""
    _matches(out, ref_out.data)
    name = type(out.grad_fn).__name__
    if nodes is None or device == "cpu":
        assert ref_out.grad_fn.name() == name
    else:
        assert ref_out.grad_fn.name() in nodes and name in nodes
    g = np.random.default_rng(seed).standard_normal(tuple(out.shape))
    pairs = [(t, r) for t, r in zip(leaves, ref_leaves, strict=True)
             if t is not None and t.requires_grad]
    got = torch.autograd.grad(out, [t for t, _ in pairs], to_torch(g, device))
    expected = ag.grad(ref_out, [r for _, r in pairs], g)
    for t_grad, r_grad in zip(got, expected, strict=True):
        _matches(t_grad, r_grad)


@st.composite
def functional_batch_norm_cases(draw):
    """F.batch_norm's every mode: training with or without running stats, evaluation with
    them; weight and bias each given or not; a zero batch now and then; which of input,
    weight and bias require grad (at least one)."""
    ndim = draw(st.integers(2, 5))
    channels = draw(st.integers(1, 3))
    training = draw(st.booleans())
    stats = draw(st.booleans()) if training else True
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=ndim - 2, max_size=ndim - 2)))
    n = draw(st.sampled_from([0, 1, 2, 3, 4]))
    if training and n * math.prod(spatial) == 1:
        n = 2
    x = draw(_values((n, channels, *spatial)))
    weight = draw(st.one_of(st.none(), channel_vector(channels)))
    bias = draw(st.one_of(st.none(), channel_vector(channels)))
    wanted = [draw(st.booleans()), weight is not None, bias is not None]
    if not any(wanted):
        wanted[0] = True
    running = None
    if stats:
        running = (draw(channel_vector(channels)),
                   draw(_values((channels,), 3).map(lambda v: np.abs(v) + 0.1)))
    options = {"training": training, "momentum": draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
               "eps": draw(EPS)}
    return x, weight, bias, tuple(wanted), running, options, draw(st.booleans()), draw(SEEDS)


@pytest.mark.spec("NORM-26")
@given(functional_batch_norm_cases())
@example((np.arange(6.0).reshape(3, 2), None, None, (True, False, False), None,
          {"training": True, "momentum": 0.1, "eps": 1e-5}, False, 0))  # no stats, no affine
@example((np.zeros((0, 2, 3)), np.ones(2), np.ones(2), (True, True, True),
          (np.zeros(2), np.ones(2)), {"training": True, "momentum": 0.5, "eps": 1e-5},
          False, 1))  # empty: clone * weight[0] + bias[0]
def test_functional_batch_norm_backward_matches_torch(device, case):
    x, weight, bias, wanted, running, options, noncontiguous, seed = case
    arrays = [x, weight, bias]
    leaves = _torch_leaves(arrays, wanted, device, noncontiguous)
    ref_leaves = _reference_leaves(arrays, wanted)
    t_stats = (None, None) if running is None else tuple(to_torch(r, device) for r in running)
    r_stats = (None, None) if running is None else tuple(r.copy() for r in running)
    out = F.batch_norm(leaves[0], *t_stats, leaves[1], leaves[2], **options)
    ref_out = RF.batch_norm(ref_leaves[0], *r_stats, ref_leaves[1], ref_leaves[2], **options)
    for t_r, r_r in zip(t_stats, r_stats, strict=True):  # updated in place by the forward
        if t_r is not None:
            _matches(t_r, r_r)
    _check_backward(device, out, ref_out, leaves, ref_leaves, seed, CUDA_BATCH_NORM_NODES)


@st.composite
def functional_norm_cases(draw):
    """``(kind, x, weight, bias, arg, options, wanted, noncontiguous, seed)`` for layer norm
    (1 or 2 trailing dims, a zero batch now and then), group norm (groups dividing C) and
    instance norm (input stats, or running stats in evaluation)."""
    kind = draw(st.sampled_from(["layer_norm", "group_norm", "instance_norm"]))
    options: dict = {"eps": draw(EPS)}
    running = None
    if kind == "layer_norm":
        k = draw(st.integers(1, 2))
        normalized = tuple(draw(st.lists(st.integers(1, 3), min_size=k, max_size=k)))
        lead = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=2)))
        x = draw(_values(lead + normalized))
        arg, param_shape = normalized, normalized
    elif kind == "group_norm":
        groups = draw(st.integers(1, 3))
        channels = groups * draw(st.integers(1, 2))
        spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
        n = draw(st.integers(1, 3))
        if n * channels // groups * math.prod(spatial) == 1:
            n = 2
        x = draw(_values((n, channels, *spatial)))
        arg, param_shape = groups, (channels,)
    else:
        channels = draw(st.integers(1, 3))
        spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
        use_input_stats = draw(st.booleans())
        if use_input_stats and math.prod(spatial) == 1:
            spatial = (2, *spatial[1:])
        x = draw(_values((draw(st.integers(1, 3)), channels, *spatial)))
        if not use_input_stats or draw(st.booleans()):
            running = (draw(channel_vector(channels)),
                       draw(_values((channels,), 3).map(lambda v: np.abs(v) + 0.1)))
        options.update(use_input_stats=use_input_stats,
                       momentum=draw(st.sampled_from([0.1, 0.5])))
        arg, param_shape = None, (channels,)
    weight = draw(st.one_of(st.none(), _values(param_shape, 3)))
    bias = draw(st.one_of(st.none(), _values(param_shape, 3)))
    wanted = [draw(st.booleans()), weight is not None, bias is not None]
    if not any(wanted):
        wanted[0] = True
    return (kind, x, weight, bias, arg, running, options, tuple(wanted), draw(st.booleans()),
            draw(SEEDS))


NORM_NODES = {"layer_norm": "NativeLayerNormBackward0", "group_norm": "NativeGroupNormBackward0",
              "instance_norm": "ViewBackward0"}


@pytest.mark.spec("NORM-27", "NORM-28", "NORM-29")
@given(functional_norm_cases())
@example(("layer_norm", np.zeros((0, 3)), np.ones(3), np.ones(3), (3,), None, {"eps": 1e-5},
          (True, True, True), False, 0))  # empty: the node, zero parameter gradients
def test_layer_group_and_instance_norm_backward_match_torch(device, case):
    kind, x, weight, bias, arg, running, options, wanted, noncontiguous, seed = case
    if kind == "group_norm" and weight is None and bias is not None and not torch_at_least(
        "2.14"
    ):
        weight = np.ones(x.shape[1])  # a bias without weight cannot backward there: pinned below
    arrays = [x, weight, bias]
    leaves = _torch_leaves(arrays, wanted, device, noncontiguous)
    ref_leaves = _reference_leaves(arrays, wanted)
    if kind == "instance_norm":
        t_stats = (None, None) if running is None else tuple(to_torch(r, device) for r in running)
        r_stats = (None, None) if running is None else tuple(r.copy() for r in running)
        out = F.instance_norm(leaves[0], *t_stats, leaves[1], leaves[2], **options)
        ref = RF.instance_norm(ref_leaves[0], *r_stats, ref_leaves[1], ref_leaves[2], **options)
        for t_r, r_r in zip(t_stats, r_stats, strict=True):
            if t_r is not None:
                _matches(t_r, r_r)
        # the closed form next to the forward gives the same gradients
        g = np.random.default_rng(seed).standard_normal(x.shape)
        closed = R.instance_norm_backward(g, x, *(running or (None, None)), weight, bias,
                                          options["use_input_stats"], options["eps"])
        got = ag.grad(ref, [r for r in ref_leaves if r is not None and r.requires_grad], g,
                      retain_graph=True)
        wanted_closed = [c for c, w in zip(closed, wanted, strict=True) if w]
        for a, b in zip(got, wanted_closed, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    else:
        out = getattr(F, kind)(leaves[0], arg, leaves[1], leaves[2], **options)
        ref = getattr(RF, kind)(ref_leaves[0], arg, ref_leaves[1], ref_leaves[2], **options)
    _check_backward(device, out, ref, leaves, ref_leaves, seed)
    assert ref.grad_fn.name() == NORM_NODES[kind]


@pytest.mark.spec("NORM-28")
def test_group_norm_with_a_bias_and_no_weight_backward(device):
    # torch 2.4 to 2.13 raise in native_group_norm_backward; 2.14 gives the bias gradient
    x = np.arange(12.0).reshape(2, 2, 3)
    t = to_torch(x, device, requires_grad=True)
    tb = to_torch(np.array([0.5, -1.0]), device, requires_grad=True)
    out = F.group_norm(t, 1, None, tb)
    r, rb = ag.Tensor(x, requires_grad=True), ag.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    ref = RF.group_norm(r, 1, None, rb)
    _matches(out, ref.data)
    (r_grad,) = ag.grad(ref, rb, np.ones(x.shape))
    np.testing.assert_array_equal(r_grad, [6.0, 6.0])
    if not torch_at_least("2.14"):
        with pytest.raises(RuntimeError, match="device"):
            torch.autograd.grad(out.sum(), tb)
        return
    (t_grad,) = torch.autograd.grad(out.sum(), tb)
    _matches(t_grad, r_grad)


@pytest.mark.spec("NORM-30")
@given(st.sampled_from([0.0, 0.2, 0.5, 1.0]), st.booleans(), st.booleans(), SEEDS)
def test_functional_dropout_backward_is_the_scaled_mask(device, p, training, inplace, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, size=(3, 4)) * rng.choice([-1.0, 1.0], size=(3, 4))  # no zeros
    t = to_torch(x, device, requires_grad=True)
    r = ag.Tensor(x, requires_grad=True)
    t_in, r_in = (t + 0, r + 0) if inplace else (t, r)
    out = F.dropout(t_in, p, training, inplace)
    keep = to_numpy(out) != 0  # torch's mask, read back (no input is 0)
    ref = RF.dropout(r_in, p, training, inplace, mask=keep)
    if p == 0.0 or not training:  # the input itself, no new node
        assert out is t_in and ref is r_in
        return
    if inplace:
        assert out is t_in and ref is r_in
    _matches(out, ref.data)
    if device == "cpu":
        assert type(out.grad_fn).__name__ == ref.grad_fn.name() == "MulBackward0"
    g = rng.standard_normal(x.shape)
    (t_grad,) = torch.autograd.grad(out, t, to_torch(g, device))
    (r_grad,) = ag.grad(ref, r, g)
    _matches(t_grad, r_grad)
    _matches(t_grad, R.dropout_backward(g, keep, p))


@pytest.mark.spec("NORM-26", "NORM-27", "NORM-28", "NORM-29")
@pytest.mark.parametrize("name", ["batch_norm", "layer_norm", "group_norm", "instance_norm"])
def test_gradcheck_confirms_the_normalization_vjps(name):
    """torch's gradcheck (finite differences) on the reference's closed-form gradients for
    input, weight and bias, wrapped as a torch autograd.Function."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal(2), rng.standard_normal(2)
    if name == "layer_norm":
        w, b = rng.standard_normal(4), rng.standard_normal(4)
    forward = {
        "batch_norm": lambda x, w, b: R.batch_norm(x, None, None, w, b, True),
        "layer_norm": lambda x, w, b: R.layer_norm(x, (4,), w, b),
        "group_norm": lambda x, w, b: R.group_norm(x, 1, w, b),
        "instance_norm": lambda x, w, b: R.instance_norm(x, None, None, w, b),
    }[name]
    backward = {
        "batch_norm": lambda g, x, w, b: R.batch_norm_backward(g, x, w, None, None, True),
        "layer_norm": lambda g, x, w, b: R.layer_norm_backward(g, x, (4,), w, b),
        "group_norm": lambda g, x, w, b: R.group_norm_backward(g, x, 1, w, b),
        "instance_norm": lambda g, x, w, b: R.instance_norm_backward(g, x, None, None, w, b),
    }[name]

    class Through(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *ts):
            ctx.save_for_backward(*ts)
            return torch.from_numpy(forward(*(t.detach().numpy() for t in ts)))

        @staticmethod
        def backward(ctx, grad):
            arrays = [t.detach().numpy() for t in ctx.saved_tensors]
            return tuple(torch.from_numpy(np.asarray(a)) for a in backward(grad.numpy(), *arrays))

    tensors = tuple(torch.tensor(a, requires_grad=True) for a in (x, w, b))
    assert torch.autograd.gradcheck(Through.apply, tensors, eps=1e-6, atol=1e-6, rtol=1e-5)


@st.composite
def lrn_backward_cases(draw):
    ndim = draw(st.integers(3, 5))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 5)),
             *draw(st.lists(st.integers(1, 3), min_size=ndim - 2, max_size=ndim - 2)))
    x = np.random.default_rng(draw(SEEDS)).uniform(-3, 3, shape)
    params = {"alpha": draw(st.sampled_from([1e-4, 0.5, 2.0])),
              "beta": draw(st.sampled_from([0.75, 0.5, 1.5])),
              "k": draw(st.sampled_from([1.0, 2.0]))}
    return x, draw(st.integers(1, 5)), params, draw(st.booleans()), draw(SEEDS)


@pytest.mark.spec("NORM-31")
@given(lrn_backward_cases())
def test_local_response_norm_backward_matches_torch(device, case):
    x, size, params, noncontiguous, seed = case
    t = to_torch(x, device, requires_grad=True, noncontiguous=noncontiguous)
    r = ag.Tensor(x, requires_grad=True)
    out = F.local_response_norm(t, size, **params)
    ref = RF.local_response_norm(r, size, **params)
    _check_backward(device, out, ref, [t], [r], seed)
    assert ref.grad_fn.name() == "DivBackward0"
    g = np.random.default_rng(seed).standard_normal(x.shape)
    (t_grad,) = torch.autograd.grad(F.local_response_norm(t, size, **params), t,
                                    to_torch(g, device))
    _matches(t_grad, R.local_response_norm_backward(g, x, size, **params))
