"""NORM: normalization layers and dropout, train and eval modes, held to torch and to the
reference (reference/normalization.py)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

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
    assert_both_raise,
    assert_matches,
    make_noncontiguous,
    to_numpy,
    to_torch,
)

BATCH_NORMS = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
INSTANCE_NORMS = {3: nn.InstanceNorm1d, 4: nn.InstanceNorm2d, 5: nn.InstanceNorm3d}
EPS = st.sampled_from((1e-5, 1e-3, 0.1, 0.8))
MOMENTUM = st.one_of(st.none(), st.sampled_from((0.0, 0.1, 1.0)), st.floats(0.0, 1.0))


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
    """A BatchNorm configuration and a sequence of (training, batch, noncontiguous) steps."""
    ndim = draw(st.integers(2, 5))
    channels = draw(st.integers(1, 3))
    config = {
        "eps": draw(EPS),
        "momentum": draw(MOMENTUM),
        "affine": draw(st.booleans()),
        "track_running_stats": draw(st.booleans()),
    }
    steps = []
    for training in draw(st.lists(st.booleans(), min_size=1, max_size=4)):
        spatial = draw(st.lists(st.integers(1, 3), min_size=ndim - 2, max_size=ndim - 2))
        n = draw(st.integers(1, 3))
        uses_batch_stats = training or not config["track_running_stats"]
        if uses_batch_stats and n * math.prod(spatial) == 1:
            n = 2
        x = draw(_values((n, channels, *spatial)))
        steps.append((training, x, draw(st.booleans())))
    affine_params = (draw(channel_vector(channels)), draw(channel_vector(channels)))
    return ndim, channels, config, steps, affine_params


@pytest.mark.spec("NORM-1", "NORM-3", "NORM-4", "NORM-5", "NORM-6")
@given(batch_norm_runs())
def test_batchnorm_step_sequences_match_torch(device, run):
    ndim, channels, config, steps, (weight, bias) = run
    module = BATCH_NORMS[ndim](channels, **config, device=device, dtype=torch.float64)
    ref = BatchNorm(channels, **config, dtype=np.float64)
    if config["affine"]:
        with torch.no_grad():
            module.weight.copy_(to_torch(weight))
            module.bias.copy_(to_torch(bias))
        ref.weight[...], ref.bias[...] = weight, bias
    for training, x, noncontiguous in steps:
        module.train(training)
        ref.train(training)
        with torch.no_grad():
            out = module(to_torch(x, device, noncontiguous=noncontiguous))
        assert_matches(out, ref(x))
        if config["track_running_stats"]:
            assert_matches(module.running_mean, ref.running_mean)
            assert_matches(module.running_var, ref.running_var)
            assert int(module.num_batches_tracked) == ref.num_batches_tracked
        else:
            assert module.running_mean is module.running_var is module.num_batches_tracked is None
            assert ref.running_mean is ref.running_var is ref.num_batches_tracked is None
    if config["track_running_stats"]:
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
    assert_matches(a, np.float32(NOTES_RAND), **PRINTED)
    out = nn.BatchNorm2d(2, device=device)(a)
    assert_matches(out, np.float32(NOTES_BATCHNORM2D), **PRINTED)
    ref = BatchNorm(2)
    ref_out = ref(a.cpu().numpy())
    assert ref_out.dtype == np.float32
    assert_matches(torch.from_numpy(ref_out), np.float32(NOTES_BATCHNORM2D), **PRINTED)


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
        assert_matches(mean, expected_mean)
        assert_matches(var, expected_var)


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
    assert_matches(module.running_mean, expected_mean)
    assert_matches(module.running_var, expected_var)
    assert_matches(torch.from_numpy(ref.running_mean), expected_mean)
    assert_matches(torch.from_numpy(ref.running_var), expected_var)


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
        assert_matches(module(to_torch(x, device)), expected)
    assert_matches(module.running_mean, mean)
    assert_matches(module.running_var, var)
    assert int(module.num_batches_tracked) == 0
    ref_mean, ref_var = mean.copy(), var.copy()
    ref_out = batch_norm(x, ref_mean, ref_var, weight, bias, eps=eps)
    assert_matches(torch.from_numpy(ref_out), expected)
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
    assert_matches(eval_out, to_numpy(train_out))
    assert_matches(eval_out, ref.eval()(x))


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
        assert_matches(tensor, np.full(4, value, np.float32))
        assert_matches(tensor, array)
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
    assert_both_raise(
        lambda: module(x),
        lambda: BatchNorm(3)(x.numpy()),
        torch_error=ValueError,
        match="more than 1 value per channel",
    )
    assert int(module.num_batches_tracked) == 1  # counted before the check
    # In eval mode the running stats are used, so a single sample is fine.
    assert_matches(module.eval()(x), BatchNorm(3).eval()(x.numpy()))


@pytest.mark.spec("NORM-8")
@given(st.integers(1, 5))
def test_second_positional_argument_is_eps(num_features):
    module = nn.BatchNorm1d(num_features, 0.8)  # notes 000 (GAN generator)
    assert module.eps == 0.8 and module.momentum == 0.1
    assert BatchNorm(num_features, 0.8).eps == 0.8
    x = torch.randn(4, num_features)
    with torch.no_grad():
        out = module(x)
    assert_matches(out, batch_norm(x.numpy(), None, None, training=True, eps=0.8))
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
        assert_matches(tensor.grad, ref)


# --- NORM-10 .. NORM-13: the other normalizations ------------------------------------------


@st.composite
def layer_norm_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    k = draw(st.integers(1, len(shape)))
    x = draw(_values(shape))
    affine = draw(st.booleans())
    norm_shape = shape[len(shape) - k :]
    params = (None, None)
    if affine:
        params = tuple(draw(_values(norm_shape, 3)) for _ in range(2))
    return x, norm_shape, params, draw(EPS), draw(st.booleans())


@pytest.mark.spec("NORM-10")
@given(layer_norm_cases())
def test_layer_norm_matches_torch(device, case):
    x, norm_shape, (weight, bias), eps, noncontiguous = case
    tw = None if weight is None else to_torch(weight, device)
    tb = None if bias is None else to_torch(bias, device)
    out = F.layer_norm(to_torch(x, device, noncontiguous=noncontiguous), norm_shape, tw, tb, eps)
    assert_matches(out, layer_norm(x, norm_shape, weight, bias, eps))


@pytest.mark.spec("NORM-10")
@given(layer_norm_cases())
def test_layer_norm_module_normalizes_each_sample_over_trailing_dims(device, case):
    x, norm_shape, _, eps, _ = case
    module = nn.LayerNorm(norm_shape, eps=eps, device=device, dtype=torch.float64)
    assert_matches(module.weight, np.ones(norm_shape))
    assert_matches(module.bias, np.zeros(norm_shape))
    axes = tuple(range(x.ndim - len(norm_shape), x.ndim))
    expected = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(
        x.var(axis=axes, keepdims=True) + eps
    )
    with torch.no_grad():
        assert_matches(module(to_torch(x, device)), expected)


@pytest.mark.spec("NORM-10")
def test_layer_norm_shape_mismatch_raises():
    x = np.zeros((2, 3, 4))
    assert_both_raise(
        lambda: F.layer_norm(torch.from_numpy(x), (3,)),
        lambda: layer_norm(x, (3,)),
        match=r"normalized_shape=\[3\].*size \[2, 3, 4\]",
    )


@st.composite
def group_norm_cases(draw):
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n = draw(st.integers(1, 3))
    if n * channels // groups * math.prod(spatial) == 1:  # torch's own size check (see page)
        n = 2
    x = draw(_values((n, channels, *spatial)))
    params = (
        (draw(channel_vector(channels)), draw(channel_vector(channels)))
        if draw(st.booleans())
        else (None, None)
    )
    return x, groups, params, draw(EPS), draw(st.booleans())


@pytest.mark.spec("NORM-11")
@given(group_norm_cases())
def test_group_norm_matches_torch(device, case):
    x, groups, (weight, bias), eps, noncontiguous = case
    tw = None if weight is None else to_torch(weight, device)
    tb = None if bias is None else to_torch(bias, device)
    out = F.group_norm(to_torch(x, device, noncontiguous=noncontiguous), groups, tw, tb, eps)
    assert_matches(out, group_norm(x, groups, weight, bias, eps))
    if groups == 1 and x.ndim > 2:  # one group: layer norm over (C, *) per sample
        shape = (1, -1) + (1,) * (x.ndim - 2)
        expected = layer_norm(x, x.shape[1:], eps=eps)
        if weight is not None:
            expected = expected * weight.reshape(shape) + bias.reshape(shape)
        assert_matches(out, expected)


@pytest.mark.spec("NORM-11")
def test_group_norm_needs_channels_divisible_by_groups():
    x = np.zeros((2, 6, 3))
    assert_both_raise(
        lambda: F.group_norm(torch.from_numpy(x), 4),
        lambda: group_norm(x, 4),
        match="divisible by num_groups",
    )
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)


@st.composite
def instance_norm_runs(draw):
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
        shape = (draw(st.integers(1, 3)), channels, *spatial)
        steps.append((training, draw(_values(shape))))
    affine_params = (draw(channel_vector(channels)), draw(channel_vector(channels)))
    return ndim, channels, config, steps, affine_params


@pytest.mark.spec("NORM-12")
@given(instance_norm_runs())
def test_instance_norm_step_sequences_match_torch(device, run):
    ndim, channels, config, steps, (weight, bias) = run
    module = INSTANCE_NORMS[ndim](channels, **config, device=device, dtype=torch.float64)
    track = config["track_running_stats"]
    running_mean = np.zeros(channels) if track else None
    running_var = np.ones(channels) if track else None
    w, b = (weight, bias) if config["affine"] else (None, None)
    if config["affine"]:
        with torch.no_grad():
            module.weight.copy_(to_torch(weight))
            module.bias.copy_(to_torch(bias))
    for training, x in steps:
        module.train(training)
        with torch.no_grad():
            out = module(to_torch(x, device))
        expected = instance_norm(
            x,
            running_mean,
            running_var,
            w,
            b,
            use_input_stats=training or not track,
            momentum=config["momentum"],
            eps=config["eps"],
        )
        assert_matches(out, expected)
        if track:
            assert_matches(module.running_mean, running_mean)
            assert_matches(module.running_var, running_var)


@pytest.mark.spec("NORM-12")
def test_instance_norm_defaults_and_single_spatial_element():
    module = nn.InstanceNorm2d(3)
    assert module.weight is None and module.running_mean is None
    x = np.zeros((2, 3, 1, 1), np.float32)
    assert_both_raise(
        lambda: module(torch.from_numpy(x)),
        lambda: instance_norm(x),
        torch_error=ValueError,
        match="more than 1 spatial element",
    )


@st.composite
def lrn_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=3, max_size=5)))
    shape = (shape[0], draw(st.integers(1, 6)), *shape[2:])
    x = draw(_values(shape))
    size = draw(st.integers(1, 5))
    alpha = draw(st.sampled_from((1e-4, 0.1, 1.0)))
    beta = draw(st.sampled_from((0.75, 0.5, 1.0, 2.0)))
    k = draw(st.sampled_from((1.0, 2.0, 0.5)))
    return x, size, alpha, beta, k, draw(st.booleans())


@pytest.mark.spec("NORM-13")
@given(lrn_cases())
def test_local_response_norm_matches_torch(device, case):
    x, size, alpha, beta, k, noncontiguous = case
    t = to_torch(x, device, noncontiguous=noncontiguous)
    out = F.local_response_norm(t, size, alpha, beta, k)
    assert_matches(out, local_response_norm(x, size, alpha, beta, k))


@pytest.mark.spec("NORM-13")
def test_local_response_norm_by_hand_and_needs_3_dims():
    # size 3, alpha 3, beta 1, k 1: channel c is divided by 1 + (x_{c-1}^2 + x_c^2 + x_{c+1}^2).
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    expected = np.array([1 / (1 + 1 + 4), 2 / (1 + 1 + 4 + 9), 3 / (1 + 4 + 9)]).reshape(1, 3, 1)
    assert_matches(F.local_response_norm(torch.from_numpy(x), 3, 3.0, 1.0, 1.0), expected)
    assert_matches(torch.from_numpy(local_response_norm(x, 3, 3.0, 1.0, 1.0)), expected)
    assert_both_raise(
        lambda: F.local_response_norm(torch.zeros(2, 3), 2),
        lambda: local_response_norm(np.zeros((2, 3)), 2),
        match="3D or higher",
    )


# --- NORM-14 .. NORM-16: dropout -------------------------------------------------------------

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
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_outside_0_1_raises(p):
    assert_both_raise(
        lambda: F.dropout(torch.ones(3), p),
        lambda: dropout(np.ones(3), p),
        torch_error=ValueError,
        match="between 0 and 1",
    )
    with pytest.raises(ValueError):
        nn.Dropout(p)


@pytest.mark.spec("NORM-14")
def test_dropout_p_1_zeroes_everything(device):
    assert (F.dropout(torch.ones(5, device=device), 1.0) == 0).all()
    assert (dropout(np.ones(5), 1.0) == 0).all()


@pytest.mark.spec("NORM-15")
@given(finite_arrays((3, 4), np.float32), st.floats(0.0, 1.0))
def test_dropout_in_eval_is_the_identity(device, x, p):
    tx = to_torch(x, device)
    module = nn.Dropout(p).eval()
    assert_matches(module(tx), x, rtol=0, atol=0)
    assert_matches(F.dropout(tx, p, training=False), x, rtol=0, atol=0)
    assert_matches(nn.Dropout2d(p).eval()(tx[None, None]), x[None, None], rtol=0, atol=0)
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


@pytest.mark.spec("NORM-16")
@pytest.mark.parametrize("p", DROPOUT_PS)
def test_dropout2d_zeroes_whole_channels(device, p):
    n, c = 100, 50  # 5000 channels of 3 x 3
    torch.manual_seed(99)
    out = F.dropout2d(torch.ones(n, c, 3, 3, device=device, dtype=torch.float64), p).cpu().numpy()
    ref = dropout2d(np.ones((n, c, 3, 3)), p, rng=np.random.default_rng(99))
    for y in (out, ref):
        per_channel = y.reshape(n, c, 9)
        assert (per_channel == per_channel[..., :1]).all()  # all or nothing per channel
        zeroed = per_channel[..., 0] == 0
        np.testing.assert_allclose(per_channel[..., 0][~zeroed], 1 / (1 - p), rtol=1e-12)
        _assert_binomial(int(zeroed.sum()), n * c, p)


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
    assert_matches(bn(hidden), expected)
