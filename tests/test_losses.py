"""LOSS: loss functions, held to torch and to the reference (reference/losses.py).

Every value test compares the reference with torch's functional form (contiguous inputs) and
with its ``nn.*Loss`` module form built from the same options (non-contiguous inputs).
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from reference import losses
from tests.strategies import class_targets, finite_arrays, float_dtypes, shapes
from tests.support import assert_both_raise, assert_matches, make_noncontiguous, to_torch

MODULES: dict[str, type[nn.Module]] = {
    "l1_loss": nn.L1Loss,
    "mse_loss": nn.MSELoss,
    "smooth_l1_loss": nn.SmoothL1Loss,
    "huber_loss": nn.HuberLoss,
    "cross_entropy": nn.CrossEntropyLoss,
    "nll_loss": nn.NLLLoss,
    "poisson_nll_loss": nn.PoissonNLLLoss,
    "kl_div": nn.KLDivLoss,
    "binary_cross_entropy": nn.BCELoss,
    "binary_cross_entropy_with_logits": nn.BCEWithLogitsLoss,
    "margin_ranking_loss": nn.MarginRankingLoss,
    "hinge_embedding_loss": nn.HingeEmbeddingLoss,
    "soft_margin_loss": nn.SoftMarginLoss,
    "multilabel_margin_loss": nn.MultiLabelMarginLoss,
    "multilabel_soft_margin_loss": nn.MultiLabelSoftMarginLoss,
    "cosine_embedding_loss": nn.CosineEmbeddingLoss,
    "multi_margin_loss": nn.MultiMarginLoss,
    "triplet_margin_loss": nn.TripletMarginLoss,
    "ctc_loss": nn.CTCLoss,
}
REDUCTIONS = st.sampled_from(["none", "mean", "sum"])


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    """One intra-op thread while this module runs: on a busy machine a tiny op's parallel
    region waits for a second core (cross_entropy on a 3x4 input: 1.7 ms with 2 threads,
    5 us with 1), which made this file 5x slower. Values do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
SIGNS = st.sampled_from([-1.0, 1.0])


def _torch_value(value, device):
    return to_torch(value, device) if isinstance(value, (np.ndarray, np.generic)) else value


def check_forms(name: str, arrays: list, options: dict, device: str) -> np.ndarray:
    """``F.<name>`` and ``nn.<Module>(**options)`` both equal ``reference.losses.<name>``.

    The module form is checked whenever its constructor takes every option (``L1Loss`` has
    no ``weight``, for instance). Returns the reference's value.
    """
    expected = getattr(losses, name)(*arrays, **options)
    tensors = [_torch_value(a, device) for a in arrays]
    t_options = {k: _torch_value(v, device) for k, v in options.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # kl_div's 'mean' and size warnings
        assert_matches(getattr(F, name)(*tensors, **t_options), expected)
        module_class = MODULES[name]
        if set(t_options) <= set(inspect.signature(module_class).parameters):
            module = module_class(**t_options)
            noncontiguous = [make_noncontiguous(t) for t in tensors]
            if name == "ctc_loss" and tensors[0].dim() == 3 and tensors[1].dim() == 1:
                # torch bug: test_ctc_noncontiguous_concatenated_targets
                noncontiguous[1] = tensors[1]
            assert_matches(module(*noncontiguous), expected)
    return expected


@st.composite
def pointwise_case(
    draw, *, dtype=None, min_dims=0, low=-10.0, high=10.0, target_low=None, target_high=None
):
    """(input, target) of one shape (0-d to 3-d, zero-size dims included) and a dtype."""
    dtype = draw(float_dtypes()) if dtype is None else np.dtype(dtype)
    shape = draw(shapes(min_dims=min_dims, max_dims=3, max_side=4))
    x = draw(finite_arrays(shape, dtype, min_value=low, max_value=high))
    y = draw(
        finite_arrays(
            shape,
            dtype,
            min_value=low if target_low is None else target_low,
            max_value=high if target_high is None else target_high,
        )
    )
    return x, y


@st.composite
def classification_case(draw, *, dtype=np.float64, ignore_index=None, min_side=0):
    """Logits (C,), (N, C) or (N, C, d1, ...) with matching class-index targets."""
    n_classes = draw(st.integers(1, 5))
    ndim = draw(st.integers(1, 4))
    batch = draw(shapes(min_dims=ndim - 1, max_dims=ndim - 1, min_side=min_side, max_side=3))
    in_shape = (n_classes,) if ndim == 1 else (batch[0], n_classes, *batch[1:])
    x = draw(finite_arrays(in_shape, dtype, min_value=-20, max_value=20))
    target = draw(class_targets(batch, n_classes, ignore_index=ignore_index))
    return x, target, n_classes


def class_weights(n_classes: int, dtype=np.float64):
    return finite_arrays((n_classes,), dtype, min_value=0.125, max_value=5.0)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


# --- LOSS-1: reductions ------------------------------------------------------------------


@pytest.mark.spec("LOSS-1")
@given(
    pointwise_case(low=-5.0, high=5.0),
    st.sampled_from(["l1_loss", "mse_loss", "smooth_l1_loss", "soft_margin_loss"]),
)
def test_mean_and_sum_reduce_the_unreduced_loss(device, case, name):
    x, y = (to_torch(a, device) for a in case)
    fn = getattr(F, name)
    none = fn(x, y, reduction="none")
    assert none.shape == x.shape
    assert_matches(fn(x, y, reduction="sum"), to_numpy_sum(none))
    # mean = sum / numel, nan for an empty input
    expected_mean = (
        to_numpy_sum(none) / none.numel() if none.numel() else np.asarray(np.nan, case[0].dtype)
    )
    assert_matches(fn(x, y, reduction="mean"), np.asarray(expected_mean, case[0].dtype))
    assert_matches(fn(x, y), getattr(losses, name)(*case))  # default: 'mean'


def to_numpy_sum(t: torch.Tensor) -> np.ndarray:
    return np.asarray(t.detach().cpu().double().sum().item(), dtype=str(t.dtype).split(".")[1])


@pytest.mark.spec("LOSS-1")
@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
@pytest.mark.parametrize(
    ("size_average", "reduce", "reduction"),
    [
        (None, None, "mean"),
        (False, None, "sum"),
        (None, False, "none"),
        (True, True, "mean"),
        (False, False, "none"),
    ],
)
def test_legacy_size_average_and_reduce_select_the_reduction(size_average, reduce, reduction):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    legacy = F.mse_loss(torch.tensor(x), torch.tensor(y), size_average=size_average, reduce=reduce)
    assert_matches(
        legacy, F.mse_loss(torch.tensor(x), torch.tensor(y), reduction=reduction).numpy()
    )
    assert_matches(legacy, losses.mse_loss(x, y, size_average, reduce))


@pytest.mark.spec("LOSS-1")
@pytest.mark.parametrize("name", ["l1_loss", "kl_div", "poisson_nll_loss"])
def test_an_unknown_reduction_raises(name):
    x = np.zeros(3)
    assert_both_raise(
        lambda: getattr(F, name)(torch.tensor(x), torch.tensor(x), reduction="avg"),
        lambda: getattr(losses, name)(x, x, reduction="avg"),
        match="avg is not a valid value for reduction",
    )


# --- LOSS-2, LOSS-3, LOSS-4: regression losses --------------------------------------------


@pytest.mark.spec("LOSS-2", "LOSS-3")
@given(pointwise_case(), REDUCTIONS, st.booleans(), st.data())
def test_l1_and_mse_match_the_reference(device, case, reduction, weighted, data):
    x, y = case
    options = {"reduction": reduction}
    if weighted:
        options["weight"] = data.draw(
            finite_arrays(x.shape, x.dtype, min_value=0.125, max_value=3.0)
        )
    for name in ("l1_loss", "mse_loss"):
        check_forms(name, [x, y], options, device)


@pytest.mark.spec("LOSS-3")
@given(pointwise_case(dtype=np.float64), st.data())
def test_weighted_l1_and_mse_mean_divide_by_the_weight_sum(case, data):
    x, y = (torch.tensor(a) for a in case)
    w = torch.tensor(data.draw(finite_arrays(x.shape, np.float64, min_value=0.125, max_value=3.0)))
    assert_matches(F.mse_loss(x, y, weight=w), (((x - y) ** 2 * w).sum() / w.sum()).numpy())
    assert_matches(F.l1_loss(x, y, weight=w), (((x - y).abs() * w).sum() / w.sum()).numpy())


@pytest.mark.spec("LOSS-3")
def test_l1_and_mse_broadcast_the_target_with_a_warning():
    x, y = np.arange(6.0).reshape(2, 3), np.array([1.0, 0.0, 2.0])
    with pytest.warns(UserWarning, match="different to the input size"):
        value = F.mse_loss(torch.tensor(x), torch.tensor(y), reduction="none")
    assert_matches(value, losses.mse_loss(x, y, reduction="none"))
    assert_matches(value, (x - y) ** 2)


@pytest.mark.spec("LOSS-2", "LOSS-4")
@given(
    pointwise_case(),
    REDUCTIONS,
    st.floats(0.0, 3.0),
    st.floats(0.05, 3.0),
    st.booleans(),
    st.data(),
)
@example((np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]), np.zeros(6)), "none", 1.0, 1.0, False, None)
def test_smooth_l1_and_huber_match_the_reference(
    device, case, reduction, beta, delta, weighted, data
):
    x, y = case
    check_forms("smooth_l1_loss", [x, y], {"reduction": reduction, "beta": beta}, device)
    options = {"reduction": reduction, "delta": delta}
    if weighted:
        options["weight"] = data.draw(
            finite_arrays(x.shape, x.dtype, min_value=0.125, max_value=3.0)
        )
    check_forms("huber_loss", [x, y], options, device)


@pytest.mark.spec("LOSS-4")
@given(pointwise_case(dtype=np.float64), st.floats(0.05, 3.0))
def test_huber_is_delta_times_smooth_l1_and_beta_zero_is_l1(case, delta):
    x, y = (torch.tensor(a) for a in case)
    huber = F.huber_loss(x, y, reduction="none", delta=delta)
    assert_matches(huber, (delta * F.smooth_l1_loss(x, y, reduction="none", beta=delta)).numpy())
    assert_matches(F.smooth_l1_loss(x, y, reduction="none", beta=0.0), (x - y).abs().numpy())
    d = (x - y).abs()
    assert_matches(huber, torch.where(d <= delta, 0.5 * d**2, delta * (d - 0.5 * delta)).numpy())


@pytest.mark.spec("LOSS-4")
def test_negative_beta_and_nonpositive_delta_raise():
    x = np.zeros(2)
    assert_both_raise(
        lambda: F.smooth_l1_loss(torch.tensor(x), torch.tensor(x), beta=-1.0),
        lambda: losses.smooth_l1_loss(x, x, beta=-1.0),
        match="beta",
    )
    assert_both_raise(
        lambda: F.huber_loss(torch.tensor(x), torch.tensor(x), delta=0.0),
        lambda: losses.huber_loss(x, x, delta=0.0),
        match="delta",
    )


@pytest.mark.spec("LOSS-2", "LOSS-15")
@given(
    pointwise_case(dtype=np.float64, low=-5.0, high=5.0, target_low=0.0, target_high=10.0),
    REDUCTIONS,
    st.booleans(),
    st.booleans(),
)
def test_poisson_nll_loss_matches_the_reference(device, case, reduction, log_input, full):
    x, y = case
    if not log_input:
        x = np.abs(x)  # a rate, not a log-rate
    options = {"log_input": log_input, "full": full, "reduction": reduction}
    check_forms("poisson_nll_loss", [x, y], options, device)


@pytest.mark.spec("LOSS-15")
def test_poisson_full_adds_stirling_only_above_one():
    x, y = (
        torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64),
        torch.tensor([0.0, 1.0, 4.0], dtype=torch.float64),
    )
    extra = F.poisson_nll_loss(x, y, full=True, reduction="none") - F.poisson_nll_loss(
        x, y, reduction="none"
    )
    stirling4 = 4 * math.log(4) - 4 + 0.5 * math.log(2 * math.pi * 4)
    assert_matches(extra, np.array([0.0, 0.0, stirling4]))


# --- LOSS-5 .. LOSS-14: cross entropy and NLL ---------------------------------------------


@pytest.mark.spec("LOSS-2", "LOSS-5")
@given(classification_case(), REDUCTIONS, float_dtypes())
def test_cross_entropy_matches_the_reference(device, case, reduction, dtype):
    x, target, _ = case
    check_forms("cross_entropy", [x.astype(dtype), target], {"reduction": reduction}, device)


@pytest.mark.spec("LOSS-5")
@given(classification_case(min_side=1))
def test_cross_entropy_is_minus_the_class_logit_plus_logsumexp(case):
    x, target, _ = case
    class_dim = 0 if x.ndim == 1 else 1
    picked = np.take_along_axis(x, np.expand_dims(target, class_dim), class_dim).squeeze(class_dim)
    lse = np.log(np.exp(x).sum(axis=class_dim))  # |x| <= 20: no overflow in float64
    value = F.cross_entropy(torch.tensor(x), torch.tensor(target), reduction="none")
    assert_matches(value, -picked + lse)
    logp = F.log_softmax(torch.tensor(x), dim=class_dim)
    assert_matches(value, F.nll_loss(logp, torch.tensor(target), reduction="none").numpy())
    assert_matches(value, losses.nll_loss(_log_softmax(x, class_dim), target, reduction="none"))


@pytest.mark.spec("LOSS-5")
def test_golden_cross_entropy_from_the_notes():
    # notes 001: loss(x, class) = -x[class] + log(sum_j exp(x_j)); x = [0.1, 0.2, 0.3], class 1:
    # -0.2 + ln(e^0.1 + e^0.2 + e^0.3) = -0.2 + ln(1.10517 + 1.22140 + 1.34986) = 1.1019
    x, target = np.array([[0.1, 0.2, 0.3]]), np.array([1])
    value = nn.CrossEntropyLoss()(torch.tensor(x), torch.tensor(target))
    assert round(value.item(), 4) == 1.1019
    assert round(float(losses.cross_entropy(x, target)), 4) == 1.1019
    assert_matches(value, losses.cross_entropy(x, target))


@pytest.mark.spec("LOSS-6")
@given(classification_case(min_side=1), st.floats(-50, 50))
def test_cross_entropy_is_invariant_to_shifting_the_logits(case, shift):
    x, target, _ = case
    t = torch.tensor(target)
    assert_matches(
        F.cross_entropy(torch.tensor(x + shift), t),
        F.cross_entropy(torch.tensor(x), t).numpy(),
        rtol=1e-6,
    )
    assert_matches(
        torch.as_tensor(losses.cross_entropy(x + shift, target)),
        losses.cross_entropy(x, target),
        rtol=1e-6,
    )


@pytest.mark.spec("LOSS-7")
@given(st.integers(1, 4), st.integers(1, 5), st.data())
def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(device, n, n_classes, data):
    x = data.draw(finite_arrays((n, n_classes), np.float64, min_value=-20, max_value=20))
    target = data.draw(class_targets((n,), n_classes))
    logits = to_torch(x, device, requires_grad=True)
    F.cross_entropy(logits, to_torch(target, device)).backward()
    softmax = np.exp(_log_softmax(x, 1))
    onehot = np.eye(n_classes)[target]
    assert_matches(logits.grad, (softmax - onehot) / n)


@pytest.mark.spec("LOSS-8")
@given(classification_case(min_side=1), REDUCTIONS, st.data())
def test_weighted_cross_entropy_and_nll_match_the_reference(device, case, reduction, data):
    x, target, n_classes = case
    weight = data.draw(class_weights(n_classes))
    check_forms("cross_entropy", [x, target], {"weight": weight, "reduction": reduction}, device)
    logp = _log_softmax(x, 0 if x.ndim == 1 else 1)
    check_forms("nll_loss", [logp, target], {"weight": weight, "reduction": reduction}, device)


@pytest.mark.spec("LOSS-8")
@given(classification_case(min_side=1), st.data())
def test_weighted_mean_divides_by_the_sum_of_the_targets_weights(case, data):
    x, target, n_classes = case
    weight = data.draw(class_weights(n_classes))
    xt, tt, wt = torch.tensor(x), torch.tensor(target), torch.tensor(weight)
    per_sample = F.cross_entropy(xt, tt, weight=wt, reduction="none")
    assert_matches(F.cross_entropy(xt, tt, weight=wt), (per_sample.sum() / wt[tt].sum()).numpy())
    assert_matches(F.cross_entropy(xt, tt, weight=wt, reduction="sum"), per_sample.sum().numpy())


@pytest.mark.spec("LOSS-9")
@given(classification_case(ignore_index=-100), REDUCTIONS, st.integers(-100, 4))
def test_ignore_index_matches_the_reference(device, case, reduction, ignore_index):
    x, target, _ = case
    if ignore_index != -100:  # ignore a real class instead of the default -100
        target = np.where(target == -100, 0, target)
        if ignore_index >= x.shape[0 if x.ndim == 1 else 1] or ignore_index < 0:
            ignore_index = -100
    check_forms(
        "cross_entropy", [x, target], {"ignore_index": ignore_index, "reduction": reduction}, device
    )


@pytest.mark.spec("LOSS-9")
@given(st.integers(1, 5), st.integers(2, 5), st.data())
def test_ignored_targets_contribute_nothing(n, n_classes, data):
    x = data.draw(finite_arrays((n, n_classes), np.float64, min_value=-20, max_value=20))
    target = data.draw(class_targets((n,), n_classes, ignore_index=-1))
    keep = target != -1
    xt, tt = torch.tensor(x), torch.tensor(target)
    none = F.cross_entropy(xt, tt, ignore_index=-1, reduction="none")
    assert (none[~torch.tensor(keep)] == 0).all()
    kept_sum = F.cross_entropy(xt[keep], tt[keep], reduction="sum")
    assert_matches(F.cross_entropy(xt, tt, ignore_index=-1, reduction="sum"), kept_sum.numpy())
    kept_mean = F.cross_entropy(xt[keep], tt[keep])  # nan when nothing is kept
    assert_matches(F.cross_entropy(xt, tt, ignore_index=-1), kept_mean.numpy())


@pytest.mark.spec("LOSS-9")
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_every_target_ignored_gives_nan_mean_and_zero_sum(device, label_smoothing, weighted):
    x, target = np.arange(6.0).reshape(2, 3), np.array([-100, -100])
    options = {"label_smoothing": label_smoothing, "weight": np.ones(3) if weighted else None}
    t_options = {**options, "weight": to_torch(options["weight"], device) if weighted else None}
    mean = F.cross_entropy(to_torch(x, device), to_torch(target, device), **t_options)
    assert torch.isnan(mean)
    assert np.isnan(losses.cross_entropy(x, target, **options))
    total = F.cross_entropy(
        to_torch(x, device), to_torch(target, device), reduction="sum", **t_options
    )
    assert total.item() == 0.0 == float(losses.cross_entropy(x, target, reduction="sum", **options))


@pytest.mark.spec("LOSS-10")
@given(
    classification_case(ignore_index=-100),
    REDUCTIONS,
    st.floats(0.0, 1.0),
    st.booleans(),
    st.data(),
)
def test_label_smoothing_matches_the_reference(device, case, reduction, eps, weighted, data):
    x, target, n_classes = case
    options = {"label_smoothing": eps, "reduction": reduction}
    if weighted:
        options["weight"] = data.draw(class_weights(n_classes))
    check_forms("cross_entropy", [x, target], options, device)


@pytest.mark.spec("LOSS-10")
@given(st.integers(1, 4), st.integers(1, 5), st.floats(0.0, 1.0), st.data())
def test_label_smoothing_formula_with_weights(n, n_classes, eps, data):
    x = data.draw(finite_arrays((n, n_classes), np.float64, min_value=-20, max_value=20))
    target = data.draw(class_targets((n,), n_classes))
    weight = data.draw(class_weights(n_classes))
    logp = _log_softmax(x, 1)
    nll = -(weight[target] * logp[np.arange(n), target]).sum()
    smooth = -(weight * logp).sum()
    expected = ((1 - eps) * nll + eps / n_classes * smooth) / weight[target].sum()
    value = F.cross_entropy(
        torch.tensor(x), torch.tensor(target), weight=torch.tensor(weight), label_smoothing=eps
    )
    assert_matches(value, expected)


@pytest.mark.spec("LOSS-10", "LOSS-11")
@given(classification_case(), REDUCTIONS, st.floats(0.0, 1.0))
def test_unweighted_label_smoothing_equals_smoothed_probability_targets(case, reduction, eps):
    x, target, n_classes = case
    class_dim = 0 if x.ndim == 1 else 1
    smoothed = np.moveaxis(np.eye(n_classes)[target], -1, class_dim) * (1 - eps) + eps / n_classes
    by_index = F.cross_entropy(
        torch.tensor(x), torch.tensor(target), label_smoothing=eps, reduction=reduction
    )
    by_probs = F.cross_entropy(torch.tensor(x), torch.tensor(smoothed), reduction=reduction)
    assert_matches(by_index, by_probs.numpy())


@pytest.mark.spec("LOSS-11")
@given(classification_case(), REDUCTIONS, st.floats(0.0, 1.0), st.booleans(), st.data())
def test_probability_targets_match_the_reference(device, case, reduction, eps, weighted, data):
    x, _, n_classes = case
    class_dim = 0 if x.ndim == 1 else 1
    raw = data.draw(finite_arrays(x.shape, np.float64, min_value=0.0, max_value=1.0))
    probs = raw / np.maximum(raw.sum(axis=class_dim, keepdims=True), 1e-3)
    options = {"label_smoothing": eps, "reduction": reduction}
    if weighted:
        options["weight"] = data.draw(class_weights(n_classes))
    check_forms("cross_entropy", [x, probs], options, device)


@pytest.mark.spec("LOSS-11")
def test_probability_targets_reject_ignore_index_and_integer_probabilities():
    x = np.zeros((2, 3))
    assert_both_raise(
        lambda: F.cross_entropy(torch.tensor(x), torch.tensor(x), ignore_index=1),
        lambda: losses.cross_entropy(x, x, ignore_index=1),
        match="ignore_index",
    )
    ints = np.zeros((2, 3), np.int64)
    assert_both_raise(
        lambda: F.cross_entropy(torch.tensor(x), torch.tensor(ints)),
        lambda: losses.cross_entropy(x, ints),
        reference_error=TypeError,
        match="floating point type for target",
    )


@pytest.mark.spec("LOSS-14")
@given(classification_case(ignore_index=-100), REDUCTIONS, st.booleans(), st.data())
def test_nll_loss_picks_minus_the_weighted_input_at_the_target(
    device, case, reduction, weighted, data
):
    x, target, n_classes = case  # nll_loss takes any input, not only log-probabilities
    options = {"reduction": reduction}
    if weighted:
        options["weight"] = data.draw(class_weights(n_classes))
    check_forms("nll_loss", [x, target], options, device)


@pytest.mark.spec("LOSS-14")
def test_nll_loss_accepts_uint8_targets():
    x, target = np.arange(6.0).reshape(2, 3), np.array([2, 0], np.uint8)
    value = F.nll_loss(torch.tensor(x), torch.tensor(target))
    assert_matches(value, np.asarray(-(2.0 + 3.0) / 2))
    assert_matches(value, losses.nll_loss(x, target))


# --- LOSS-12, LOSS-13: invalid class targets ----------------------------------------------


@pytest.mark.spec("LOSS-12")
@given(
    st.integers(1, 4),
    st.integers(2, 5),
    st.sampled_from([np.float32, np.float64, np.int32, np.int16]),
)
def test_a_wrong_target_dtype_raises(n, n_classes, dtype):
    x, target = np.zeros((n, n_classes)), np.zeros(n, dtype)
    for name in ("cross_entropy", "nll_loss"):
        assert_both_raise(
            lambda name=name: getattr(F, name)(torch.tensor(x), torch.tensor(target)),
            lambda name=name: getattr(losses, name)(x, target),
            reference_error=TypeError,
            match="target dtype",
        )


@pytest.mark.spec("LOSS-12")
@given(st.integers(1, 4), st.integers(1, 5), st.data())
def test_a_class_index_out_of_range_raises(n, n_classes, data):
    x = np.zeros((n, n_classes))
    target = data.draw(class_targets((n,), n_classes))
    target[data.draw(st.integers(0, n - 1))] = data.draw(
        st.sampled_from([n_classes, n_classes + 3, -1, -7])
    )
    for name in ("cross_entropy", "nll_loss"):
        assert_both_raise(
            lambda name=name: getattr(F, name)(torch.tensor(x), torch.tensor(target)),
            lambda name=name: getattr(losses, name)(x, target),
            torch_error=IndexError,
            reference_error=IndexError,
            match="out of bounds",
        )
    assert_both_raise(
        lambda: F.multi_margin_loss(torch.tensor(x), torch.tensor(target)),
        lambda: losses.multi_margin_loss(x, target),
        reference_error=IndexError,
        match="out of range",
    )


@pytest.mark.spec("LOSS-12")
@pytest.mark.filterwarnings("ignore:Using a target size")
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5))
def test_mismatched_shapes_raise(n, m, n_classes):
    if n == m:
        m += 1
    x, target = np.zeros((n, n_classes)), np.zeros(m, np.int64)
    assert_both_raise(
        lambda: F.cross_entropy(torch.tensor(x), torch.tensor(target)),
        lambda: losses.cross_entropy(x, target),
        match="batch_size",
    )
    a, b = np.full(n + 1, 0.5), np.full(m + 1, 0.5)
    assert_both_raise(  # pointwise losses broadcast, so only clashing sizes fail
        lambda: F.mse_loss(torch.tensor(a), torch.tensor(b)),
        lambda: losses.mse_loss(a, b),
        match="shape mismatch",
    )
    for name in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
        assert_both_raise(  # BCE does not broadcast at all
            lambda name=name: getattr(F, name)(torch.tensor(a), torch.tensor(b)),
            lambda name=name: getattr(losses, name)(a, b),
            match="(?i)target size",
        )


@pytest.mark.spec("LOSS-13")
@given(st.integers(1, 5), st.integers(2, 5), st.data())
def test_swapping_outputs_and_targets_raises(n, n_classes, data):
    outputs = data.draw(finite_arrays((n, n_classes), np.float32, min_value=-5, max_value=5))
    targets = data.draw(class_targets((n,), n_classes))
    loss_fn = nn.CrossEntropyLoss()
    # the notes' mistake: loss_fn(targets, outputs) -- integer "logits" cannot be softmaxed
    assert_both_raise(
        lambda: loss_fn(torch.tensor(targets), torch.tensor(outputs)),
        lambda: losses.cross_entropy(targets, outputs),
        torch_error=NotImplementedError,
        reference_error=TypeError,
        match="floating-point logits",
    )
    # targets.float() first: the 2-D outputs are then a (multi-)target of the wrong shape
    assert_both_raise(
        lambda: loss_fn(torch.tensor(targets).float(), torch.tensor(outputs)),
        lambda: losses.cross_entropy(targets.astype(np.float32), outputs),
        match="multi-target not supported",
    )
    assert_matches(
        loss_fn(torch.tensor(outputs), torch.tensor(targets)),
        losses.cross_entropy(outputs, targets),
    )


# --- LOSS-16 .. LOSS-19: KL divergence and binary cross entropy -------------------------


@pytest.mark.spec("LOSS-2", "LOSS-16")
@given(
    pointwise_case(dtype=np.float64, low=-5.0, high=5.0, target_low=0.0, target_high=3.0),
    st.sampled_from(["none", "mean", "sum", "batchmean"]),
    st.booleans(),
)
@example((np.array([-1.0, -2.0]), np.array([0.0, 0.5])), "sum", False)  # 0 log 0 = 0
def test_kl_div_matches_the_reference(device, case, reduction, log_target):
    x, y = case
    if log_target:
        y = y - 1.5  # log-probabilities may be negative
    check_forms("kl_div", [x, y], {"reduction": reduction, "log_target": log_target}, device)


@pytest.mark.spec("LOSS-16")
@given(st.integers(1, 4), st.integers(1, 5), st.data())
def test_kl_div_batchmean_is_the_true_kl_and_log_target_agrees(n, n_classes, data):
    p = np.exp(
        _log_softmax(
            data.draw(finite_arrays((n, n_classes), np.float64, min_value=-5, max_value=5)), 1
        )
    )
    logq = _log_softmax(
        data.draw(finite_arrays((n, n_classes), np.float64, min_value=-5, max_value=5)), 1
    )
    kl = (p * (np.log(p) - logq)).sum() / n
    assert_matches(F.kl_div(torch.tensor(logq), torch.tensor(p), reduction="batchmean"), kl)
    value = F.kl_div(
        torch.tensor(logq), torch.tensor(np.log(p)), reduction="batchmean", log_target=True
    )
    assert_matches(value, kl)


@pytest.mark.spec("LOSS-2", "LOSS-17")
@given(
    pointwise_case(low=0.0, high=1.0),
    REDUCTIONS,
    st.booleans(),
    st.data(),
)
@example(  # clamp
    (np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])), "none", False, None
)
def test_binary_cross_entropy_matches_the_reference(device, case, reduction, weighted, data):
    x, y = case
    options = {"reduction": reduction}
    if weighted:  # weight broadcasts against the target
        options["weight"] = data.draw(
            finite_arrays(x.shape[1:], x.dtype, min_value=0.125, max_value=3.0)
        )
    check_forms("binary_cross_entropy", [x, y], options, device)


@pytest.mark.spec("LOSS-17")
def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    x, y = (
        torch.tensor([0.0, 1.0, 1e-50], dtype=torch.float64),
        torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64),
    )
    assert_matches(F.binary_cross_entropy(x, y, reduction="none"), np.array([100.0, 100.0, 100.0]))
    x_bad = np.array([0.5, 1.5])
    assert_both_raise(
        lambda: F.binary_cross_entropy(torch.tensor(x_bad), torch.tensor(x_bad)),
        lambda: losses.binary_cross_entropy(x_bad, x_bad),
        match="between 0 and 1",
    )


@pytest.mark.spec("LOSS-2", "LOSS-18")
@given(
    pointwise_case(min_dims=1, low=-30.0, high=30.0, target_low=0.0, target_high=1.0),
    REDUCTIONS,
    st.booleans(),
    st.booleans(),
    st.data(),
)
def test_bce_with_logits_matches_the_reference(
    device, case, reduction, weighted, pos_weighted, data
):
    x, y = case
    options = {"reduction": reduction}
    if weighted:
        options["weight"] = data.draw(
            finite_arrays(x.shape[-1:], x.dtype, min_value=0.125, max_value=3.0)
        )
    if pos_weighted:  # one weight per class (the last dim), broadcast over the batch
        options["pos_weight"] = data.draw(
            finite_arrays(x.shape[-1:], x.dtype, min_value=0.125, max_value=5.0)
        )
    check_forms("binary_cross_entropy_with_logits", [x, y], options, device)


@pytest.mark.spec("LOSS-18")
@given(
    pointwise_case(dtype=np.float64, low=-10.0, high=10.0, target_low=0.0, target_high=1.0),
    st.floats(0.1, 5.0),
)
def test_bce_with_logits_is_pos_weighted_bce_of_the_sigmoid(case, pos_weight):
    x, y = (torch.tensor(a) for a in case)
    s = torch.sigmoid(x)
    expected = -(pos_weight * y * torch.log(s) + (1 - y) * torch.log(1 - s))
    value = F.binary_cross_entropy_with_logits(
        x, y, reduction="none", pos_weight=torch.tensor(pos_weight)
    )
    assert_matches(value, expected.numpy(), rtol=1e-6)  # log(1 - s) loses digits as s -> 1
    assert_matches(
        F.binary_cross_entropy_with_logits(x, y), F.binary_cross_entropy(s, y).numpy(), rtol=1e-6
    )


@pytest.mark.spec("LOSS-19")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_finite_for_huge_logits(device, dtype):
    x, y = np.array([1e4, -1e4, 1e4, -1e4], dtype), np.array([0.0, 1.0, 1.0, 0.0], dtype)
    expected = np.array([1e4, 1e4, 0.0, 0.0], dtype)  # -log(sigmoid(-1e4)) = 1e4
    value = F.binary_cross_entropy_with_logits(
        to_torch(x, device), to_torch(y, device), reduction="none"
    )
    assert torch.isfinite(value).all()
    assert_matches(value, expected)
    assert_matches(
        torch.as_tensor(losses.binary_cross_entropy_with_logits(x, y, reduction="none")), expected
    )
    # the naive formula on sigmoid(x) overflows to inf; BCELoss's clamp caps it at 100, far off
    s, yt = torch.sigmoid(to_torch(x, device)), to_torch(y, device)
    naive = -(yt * torch.log(s) + (1 - yt) * torch.log(1 - s))
    assert torch.isinf(naive[:2]).all()
    assert_matches(
        F.binary_cross_entropy(s, yt, reduction="none"), np.array([100.0, 100.0, 0.0, 0.0], dtype)
    )


# --- LOSS-20 .. LOSS-27: margin and embedding losses -------------------------------------


@st.composite
def vectors(draw, count: int, *, dims=(1, 2), low=-10.0, high=10.0):
    """``count`` float64 arrays of one shape (D,) or (N, D)."""
    ndim = draw(st.sampled_from(dims))
    shape = draw(shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=4))
    return [
        draw(finite_arrays(shape, np.float64, min_value=low, max_value=high)) for _ in range(count)
    ]


@pytest.mark.spec("LOSS-2", "LOSS-20")
@given(shapes(max_dims=2, max_side=4), REDUCTIONS, st.floats(-1.0, 2.0), st.data())
def test_margin_ranking_loss_matches_the_reference(device, shape, reduction, margin, data):
    x1, x2 = (
        data.draw(finite_arrays(shape, np.float64, min_value=-10, max_value=10)) for _ in range(2)
    )
    y = data.draw(hnp.arrays(np.float64, shape, elements=SIGNS))
    check_forms(
        "margin_ranking_loss", [x1, x2, y], {"margin": margin, "reduction": reduction}, device
    )


@pytest.mark.spec("LOSS-2", "LOSS-21")
@given(shapes(max_dims=3, max_side=4), REDUCTIONS, st.floats(-1.0, 2.0), st.data())
def test_hinge_embedding_loss_matches_the_reference(device, shape, reduction, margin, data):
    x = data.draw(finite_arrays(shape, np.float64, min_value=-10, max_value=10))
    y = data.draw(hnp.arrays(np.float64, shape, elements=SIGNS))
    check_forms("hinge_embedding_loss", [x, y], {"margin": margin, "reduction": reduction}, device)


@pytest.mark.spec("LOSS-2", "LOSS-22")
@given(shapes(max_dims=3, max_side=4), REDUCTIONS, st.data())
def test_soft_margin_loss_matches_the_reference(device, shape, reduction, data):
    x = data.draw(finite_arrays(shape, np.float64, min_value=-20, max_value=20))
    y = data.draw(hnp.arrays(np.float64, shape, elements=SIGNS))
    check_forms("soft_margin_loss", [x, y], {"reduction": reduction}, device)


@pytest.mark.spec("LOSS-2", "LOSS-23")
@given(vectors(1), REDUCTIONS, st.data())
def test_multilabel_margin_loss_matches_the_reference(device, arrays, reduction, data):
    (x,) = arrays
    target = data.draw(hnp.arrays(np.int64, x.shape, elements=st.integers(-1, x.shape[-1] - 1)))
    check_forms("multilabel_margin_loss", [x, target], {"reduction": reduction}, device)


@pytest.mark.spec("LOSS-23")
def test_multilabel_margin_loss_reads_targets_up_to_the_first_minus_one():
    # torch's docs example: the classes are 3 and 0 (the 1 after -1 is ignored):
    # [(1-(0.1-0.2)) + (1-(0.1-0.4)) + (1-(0.8-0.2)) + (1-(0.8-0.4))] / 4 = 0.85
    x, target = np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]])
    value = F.multilabel_margin_loss(torch.tensor(x), torch.tensor(target))
    assert_matches(value, np.asarray(0.85))
    assert_matches(value, losses.multilabel_margin_loss(x, target))


@pytest.mark.spec("LOSS-2", "LOSS-24")
@given(vectors(1, low=-20.0, high=20.0), REDUCTIONS, st.booleans(), st.data())
def test_multilabel_soft_margin_loss_matches_the_reference(
    device, arrays, reduction, weighted, data
):
    (x,) = arrays
    y = data.draw(finite_arrays(x.shape, np.float64, min_value=0.0, max_value=1.0))
    options = {"reduction": reduction}
    if weighted:
        options["weight"] = data.draw(class_weights(x.shape[-1]))
    check_forms("multilabel_soft_margin_loss", [x, y], options, device)


@pytest.mark.spec("LOSS-2", "LOSS-25")
@given(vectors(2), REDUCTIONS, st.floats(-1.0, 1.0), st.data())
def test_cosine_embedding_loss_matches_the_reference(device, arrays, reduction, margin, data):
    x1, x2 = arrays
    y = data.draw(hnp.arrays(np.float64, x1.shape[:-1], elements=SIGNS))
    check_forms(
        "cosine_embedding_loss", [x1, x2, y], {"margin": margin, "reduction": reduction}, device
    )


@pytest.mark.spec("LOSS-2", "LOSS-26")
@given(
    vectors(1), REDUCTIONS, st.sampled_from([1, 2]), st.floats(0.0, 2.0), st.booleans(), st.data()
)
def test_multi_margin_loss_matches_the_reference(
    device, arrays, reduction, p, margin, weighted, data
):
    (x,) = arrays
    n_classes = x.shape[-1]
    target = data.draw(class_targets(x.shape[:-1], n_classes))
    options = {"p": p, "margin": margin, "reduction": reduction}
    if weighted:
        options["weight"] = data.draw(class_weights(n_classes))
    check_forms("multi_margin_loss", [x, target], options, device)


@pytest.mark.spec("LOSS-26")
def test_multi_margin_loss_only_supports_p_1_and_2():
    x, target = np.zeros((2, 3)), np.array([0, 1])
    assert_both_raise(
        lambda: F.multi_margin_loss(torch.tensor(x), torch.tensor(target), p=3),
        lambda: losses.multi_margin_loss(x, target, p=3),
        match="only p == 1 and p == 2",
    )


@pytest.mark.spec("LOSS-2", "LOSS-27")
@given(
    vectors(3),
    REDUCTIONS,
    st.floats(0.0, 2.0, exclude_min=True),
    st.sampled_from([1.0, 1.5, 2.0, 3.0]),
    st.booleans(),
    st.sampled_from([1e-6, 0.0, 0.1]),
)
def test_triplet_margin_loss_matches_the_reference(device, arrays, reduction, margin, p, swap, eps):
    options = {"margin": margin, "p": p, "eps": eps, "swap": swap, "reduction": reduction}
    check_forms("triplet_margin_loss", arrays, options, device)


@pytest.mark.spec("LOSS-27")
def test_triplet_inputs_need_the_same_number_of_dims_and_a_positive_margin():
    a, b = np.zeros((2, 3)), np.zeros(3)
    assert_both_raise(
        lambda: F.triplet_margin_loss(torch.tensor(a), torch.tensor(a), torch.tensor(b)),
        lambda: losses.triplet_margin_loss(a, a, b),
        match="same number of dimensions",
    )
    assert_both_raise(
        lambda: F.triplet_margin_loss(
            torch.tensor(a), torch.tensor(a), torch.tensor(a), margin=0.0
        ),
        lambda: losses.triplet_margin_loss(a, a, a, margin=0.0),
        match="margin must be greater than 0",
    )


# --- LOSS-28, LOSS-29: CTC -----------------------------------------------------------------


@st.composite
def ctc_case(draw):
    """(log_probs, targets, input_lengths, target_lengths, blank), padded or concatenated
    targets, batched or not; some targets are too long for their input (loss = inf)."""
    n_steps, batch, n_classes = (
        draw(st.integers(1, 6)),
        draw(st.integers(1, 3)),
        draw(st.integers(2, 5)),
    )
    blank = draw(st.integers(0, n_classes - 1))
    s_max = draw(st.integers(0, 4))
    logits = draw(finite_arrays((n_steps, batch, n_classes), np.float64, min_value=-5, max_value=5))
    log_probs = _log_softmax(logits, 2)
    labels = st.integers(0, n_classes - 1).filter(lambda c: c != blank)
    targets = draw(hnp.arrays(np.int64, (batch, s_max), elements=labels))
    input_lengths = draw(hnp.arrays(np.int64, (batch,), elements=st.integers(1, n_steps)))
    target_lengths = draw(hnp.arrays(np.int64, (batch,), elements=st.integers(0, s_max)))
    layout = draw(st.sampled_from(["padded", "concatenated", "unbatched"]))
    if layout == "concatenated":
        targets = targets[np.arange(s_max) < target_lengths[:, None]]
    elif layout == "unbatched":
        log_probs, targets = log_probs[:, 0], targets[0, : target_lengths[0]]
        input_lengths, target_lengths = np.asarray(input_lengths[0]), np.asarray(target_lengths[0])
    return [log_probs, targets, input_lengths, target_lengths], blank


@pytest.mark.spec("LOSS-2", "LOSS-28", "LOSS-29")
@given(ctc_case(), REDUCTIONS, st.booleans())
def test_ctc_loss_matches_the_reference(device, case, reduction, zero_infinity):
    arrays, blank = case
    options = {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity}
    check_forms("ctc_loss", arrays, options, device)


def _brute_force_ctc(log_probs: np.ndarray, target: list[int], blank: int) -> float:
    """-log of the summed probability of every path that collapses to ``target``."""
    n_steps, n_classes = log_probs.shape
    paths = (
        np.array(np.meshgrid(*[np.arange(n_classes)] * n_steps, indexing="ij"))
        .reshape(n_steps, -1)
        .T
    )
    total = -np.inf
    for path in paths:
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])]
        if collapsed == target:
            total = np.logaddexp(total, log_probs[np.arange(n_steps), path].sum())
    return -total


@pytest.mark.spec("LOSS-28")
@pytest.mark.parametrize("target", [[], [1], [1, 2], [1, 1], [2, 1, 2]])
def test_ctc_loss_sums_every_alignment(target):
    rng = np.random.default_rng(len(target))
    log_probs = _log_softmax(rng.normal(size=(4, 3)), 1)  # T=4, C=3: 81 paths, blank = 0
    expected = _brute_force_ctc(log_probs, target, blank=0)
    tg = np.array(target, np.int64)
    value = F.ctc_loss(
        torch.tensor(log_probs),
        torch.tensor(tg),
        torch.tensor(4),
        torch.tensor(len(target)),
        reduction="sum",
    )
    assert_matches(value, np.asarray(expected))
    assert_matches(
        torch.as_tensor(losses.ctc_loss(log_probs, tg, 4, len(target), reduction="sum")),
        np.asarray(expected),
    )


@pytest.mark.spec("LOSS-29")
def test_ctc_impossible_alignment_is_inf_unless_zero_infinity(device):
    # two steps cannot emit "1 1" (needs a blank between)
    log_probs = _log_softmax(np.zeros((2, 1, 3)), 2)
    args = [log_probs, np.array([[1, 1]]), np.array([2]), np.array([2])]
    t_args = [to_torch(a, device) for a in args]
    assert torch.isinf(F.ctc_loss(*t_args, reduction="sum"))
    assert np.isinf(losses.ctc_loss(*args, reduction="sum"))
    assert F.ctc_loss(*t_args, reduction="sum", zero_infinity=True).item() == 0.0
    assert losses.ctc_loss(*args, reduction="sum", zero_infinity=True) == 0.0


@pytest.mark.spec("LOSS-29")
@given(ctc_case())
def test_ctc_mean_divides_by_target_lengths_then_averages(case):
    arrays, blank = case
    lp, tg, il, tl = (torch.tensor(a) for a in arrays)
    per_sample = F.ctc_loss(lp, tg, il, tl, blank=blank, reduction="none")
    expected = (per_sample / tl.clamp(min=1)).mean()
    assert_matches(F.ctc_loss(lp, tg, il, tl, blank=blank), expected.numpy())


@pytest.mark.spec("LOSS-29")
def test_ctc_input_lengths_beyond_the_input_raise():
    lp, tg = _log_softmax(np.zeros((3, 1, 3)), 2), np.array([[1]])
    assert_both_raise(
        lambda: F.ctc_loss(
            torch.tensor(lp), torch.tensor(tg), torch.tensor([4]), torch.tensor([1])
        ),
        lambda: losses.ctc_loss(lp, tg, [4], [1]),
        match="input_lengths",
    )


@pytest.mark.spec("LOSS-28")
@pytest.mark.xfail(
    reason="torch bug: the CPU kernel offsets concatenated (1-D) targets by the element count, "
    "not count * stride, so a strided targets tensor is misread (or read out of bounds)",
    strict=True,
)
def test_ctc_noncontiguous_concatenated_targets():
    rng = np.random.default_rng(0)
    log_probs = _log_softmax(rng.normal(size=(6, 2, 4)), 2)
    targets, lengths = np.array([1, 2, 3, 3, 2]), np.array([3, 2])
    expected = losses.ctc_loss(log_probs, targets, [6, 6], lengths, reduction="none")
    # stride 2 over a buffer whose every slot is a valid label, so the misread stays harmless
    # (with torch.empty padding, as in make_noncontiguous, it reads garbage labels and segfaults)
    strided = torch.tensor(np.repeat(targets, 2))[::2]
    assert not strided.is_contiguous() and strided.tolist() == targets.tolist()
    value = F.ctc_loss(
        torch.tensor(log_probs),
        strided,
        torch.tensor([6, 6]),
        torch.tensor(lengths),
        reduction="none",
    )
    assert_matches(value, expected)
