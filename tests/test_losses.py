"""LOSS: loss functions, held to torch and to the reference (reference/losses.py).

Every value property compares the reference with torch's functional form (contiguous inputs)
and with its ``nn.*Loss`` module form built from the same options (non-contiguous inputs).
The strategies generate every input form torch takes: 0-d, unbatched, empty, (N, C, d1, ...),
float32 and float64, NaN and inf where a loss is elementwise. ``_sample`` gives one small
valid call per loss (for the reduction, empty-batch and dtype tables) and ``ERRORS`` the
invalid calls, each with torch's exception class and a keyword of its message.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from reference import autograd as ag
from reference import functional as rf
from reference import losses
from tests.strategies import class_targets, finite_arrays, float_dtypes, shapes
from tests.support import (
    RELEASE,
    TOLERANCES,
    accepts,
    assert_both_raise,
    assert_matches,
    known_torch_bug,
    make_noncontiguous,
    requires_torch,
    to_numpy,
    to_torch,
    torch_at_least,
)

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
SIGNS = st.sampled_from([-1.0, 1.0])
# weight= of l1_loss/mse_loss/huber_loss is new (torch 2.11 has it, 2.4.1 not): feature-detect
POINTWISE_WEIGHT = accepts(F.l1_loss, "weight")
AT_LEAST_2_11 = requires_torch(
    "2.11", "checked on torch 2.11, 2.13 and 2.14; torch 2.4.1 behaves otherwise (see the clause)"
)
CUDA_ASSERT = "CUDA kernels check this with a device-side assert, which aborts the context"


def _torch_value(value, device):
    return to_torch(value, device) if isinstance(value, (np.ndarray, np.generic)) else value


def check_forms(name: str, arrays: list, options: dict, device: str) -> np.ndarray:
    """``F.<name>`` and ``nn.<Module>(**options)`` both equal ``reference.losses.<name>``.

    The module form is checked whenever its constructor takes every option (``L1Loss`` has
    no ``weight``, for instance), on non-contiguous copies of the inputs. Returns the
    reference's value.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # size warnings, kl_div's 'mean'
        expected = getattr(losses, name)(*arrays, **options)
        tensors = [_torch_value(a, device) for a in arrays]
        t_options = {k: _torch_value(v, device) for k, v in options.items()}
        assert_matches(getattr(F, name)(*tensors, **t_options), expected)
        module_class = MODULES[name]
        if set(t_options) <= set(inspect.signature(module_class).parameters):
            noncontiguous = [make_noncontiguous(t) for t in tensors]
            if name == "ctc_loss" and tensors[0].dim() == 3 and tensors[1].dim() == 1:
                noncontiguous[1] = tensors[1]  # torch bug: see test_ctc_noncontiguous_...
            assert_matches(module_class(**t_options)(*noncontiguous), expected)
    return expected


@st.composite
def nonfinite(draw, arrays: st.SearchStrategy[np.ndarray], values=(np.nan, np.inf, -np.inf)):
    """``arrays`` with, one time in four, a few entries replaced by NaN or +-inf."""
    x = draw(arrays)
    if x.size and draw(st.integers(0, 3)) == 0:
        x = x.copy()
        for _ in range(draw(st.integers(1, 2))):
            x.flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from(values))
    return x


@st.composite
def pointwise_case(
    draw,
    *,
    dtype=None,
    min_dims=0,
    low=-10.0,
    high=10.0,
    target_low=None,
    target_high=None,
    special=True,
):
    """(input, target) of one shape (0-d to 3-d, zero-size dims included) and a dtype; with
    ``special``, NaN and inf entries in the input."""
    dtype = draw(float_dtypes()) if dtype is None else np.dtype(dtype)
    shape = draw(shapes(min_dims=min_dims, max_dims=3, max_side=4))
    x = finite_arrays(shape, dtype, min_value=low, max_value=high)
    x = draw(nonfinite(x) if special else x)
    tlow = low if target_low is None else target_low
    thigh = high if target_high is None else target_high
    y = draw(finite_arrays(shape, dtype, min_value=tlow, max_value=thigh))
    return x, y


@st.composite
def classification_case(
    draw, *, dtype=np.float64, ignore_index=None, min_side=0, one_target=False, special=False
):
    """Logits (C,), (N, C) or (N, C, d1, ...) with matching class-index targets; with
    ``one_target`` a (C,) input may take a (1,) target (torch 2.11 and later)."""
    n_classes = draw(st.integers(1, 5))
    ndim = draw(st.integers(1, 4))
    batch = draw(shapes(min_dims=ndim - 1, max_dims=ndim - 1, min_side=min_side, max_side=3))
    in_shape = (n_classes,) if ndim == 1 else (batch[0], n_classes, *batch[1:])
    logits = finite_arrays(in_shape, dtype, min_value=-20, max_value=20)
    x = draw(nonfinite(logits) if special else logits)
    if ndim == 1 and one_target and n_classes > 1 and draw(st.booleans()):
        batch = (1,)  # (with one class, a (1,) target would be read as probabilities)
    target = draw(class_targets(batch, n_classes, ignore_index=ignore_index))
    return x, target, n_classes


def class_weights(n_classes: int, dtype=np.float64):
    return finite_arrays((n_classes,), dtype, min_value=0.125, max_value=5.0)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _sum(t: torch.Tensor) -> np.ndarray:
    """The sum of a torch tensor, computed in float64 and returned in its dtype."""
    return np.asarray(to_numpy(t).astype(np.float64).sum(), dtype=to_numpy(t).dtype)


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
    total = _sum(none)
    assert_matches(fn(x, y, reduction="sum"), total)
    mean = total / none.numel() if none.numel() else np.asarray(np.nan, case[0].dtype)
    assert_matches(fn(x, y, reduction="mean"), np.asarray(mean, case[0].dtype))
    assert_matches(fn(x, y), getattr(losses, name)(*case))  # default: 'mean'


# --- samples: one small valid call per loss ----------------------------------------------


def _sample(name: str, n: int, dtype) -> tuple[list, dict]:
    """A valid call of loss ``name`` on a batch of ``n`` samples (0 is an empty batch) in
    ``dtype``: (arrays, options)."""
    rng = np.random.default_rng(len(name) + n)
    x = rng.uniform(-2, 2, (n, 3)).astype(dtype)
    y = rng.uniform(-2, 2, (n, 3)).astype(dtype)
    prob = rng.uniform(0.05, 0.95, (n, 3)).astype(dtype)
    sign = np.where(rng.random((n, 3)) < 0.5, -1.0, 1.0).astype(dtype)
    index = rng.integers(0, 3, n)
    if name in ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "poisson_nll_loss"):
        return [x, y], {}
    if name == "kl_div":
        return [np.log(prob), prob], {}
    if name == "binary_cross_entropy":
        return [prob, prob[::-1].copy()], {}
    if name in ("binary_cross_entropy_with_logits", "multilabel_soft_margin_loss"):
        return [x, prob], {}
    if name in ("soft_margin_loss", "hinge_embedding_loss"):
        return [x, sign], {}
    if name == "margin_ranking_loss":
        return [x, y, sign], {}
    if name in ("cross_entropy", "nll_loss", "multi_margin_loss"):
        return [x, index], {}
    if name == "multilabel_margin_loss":
        return [x, np.where(rng.random((n, 3)) < 0.3, -1, rng.integers(0, 3, (n, 3)))], {}
    if name == "cosine_embedding_loss":
        return [x, y, sign[:, 0].copy()], {}
    assert name == "triplet_margin_loss", name
    return [x, y, prob], {}


LEGACY = [name for name in MODULES if name not in ("huber_loss", "ctc_loss")]
ALIAS_REJECTED = ("poisson_nll_loss", "multilabel_soft_margin_loss")


@pytest.mark.spec("LOSS-1")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", LEGACY)
def test_legacy_flags_and_the_elementwise_mean_alias_select_the_reduction(device, name):
    """size_average/reduce override reduction (reduce=False: 'none'; else size_average=False:
    'sum'; else 'mean'), in torch and the reference; 'elementwise_mean' is 'mean' except in
    the two losses that reject it (an error-table row)."""
    arrays, options = _sample(name, 3, np.float64)
    tensors = [to_torch(a, device) for a in arrays]
    for size_average, reduce, reduction in [
        (None, False, "none"),
        (False, None, "sum"),
        (True, None, "mean"),
        (False, True, "sum"),
        (True, False, "none"),
    ]:
        flags = {"size_average": size_average, "reduce": reduce}
        legacy = getattr(F, name)(*tensors, **flags, reduction="sum" if reduce is None else "mean")
        assert_matches(legacy, to_numpy(getattr(F, name)(*tensors, reduction=reduction)))
        assert_matches(legacy, getattr(losses, name)(*arrays, **options, **flags))
    if name not in ALIAS_REJECTED:
        alias = getattr(F, name)(*tensors, reduction="elementwise_mean")
        assert_matches(alias, to_numpy(getattr(F, name)(*tensors)))
        assert_matches(alias, getattr(losses, name)(*arrays, reduction="elementwise_mean"))


# --- LOSS-2, LOSS-3, LOSS-4: regression losses --------------------------------------------


@pytest.mark.spec("LOSS-2", "LOSS-3", "LOSS-33")
@given(
    pointwise_case(),
    REDUCTIONS,
    st.booleans() if POINTWISE_WEIGHT else st.just(False),
    st.data(),
)
def test_l1_and_mse_match_the_reference(device, case, reduction, weighted, data):
    x, y = case
    options = {"reduction": reduction}
    if weighted:
        w = data.draw(finite_arrays(x.shape, x.dtype, min_value=0.125, max_value=3.0))
        options["weight"] = w
    l1 = check_forms("l1_loss", [x, y], options, device)
    mse = check_forms("mse_loss", [x, y], options, device)
    if weighted and reduction == "mean" and x.dtype == np.float64:  # the formula, in float64
        with np.errstate(invalid="ignore"):
            assert_matches(torch.as_tensor(l1), (np.abs(x - y) * w).sum() / w.sum())
            assert_matches(torch.as_tensor(mse), ((x - y) ** 2 * w).sum() / w.sum())


@pytest.mark.spec("LOSS-2", "LOSS-4", "LOSS-33")
@given(
    pointwise_case(),
    REDUCTIONS,
    st.floats(0.0, 3.0),
    st.floats(0.05, 3.0),
    st.booleans() if POINTWISE_WEIGHT else st.just(False),
    st.data(),
)
@example((np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]), np.zeros(6)), "none", 1.0, 1.0, False, None)
def test_smooth_l1_and_huber_match_the_reference(
    device, case, reduction, beta, delta, weighted, data
):
    x, y = case
    smooth = check_forms("smooth_l1_loss", [x, y], {"reduction": "none", "beta": beta}, device)
    check_forms("smooth_l1_loss", [x, y], {"reduction": reduction, "beta": 0.0}, device)
    options = {"reduction": reduction, "delta": delta}
    if weighted:
        options["weight"] = data.draw(
            finite_arrays(x.shape, x.dtype, min_value=0.125, max_value=3.0)
        )
    check_forms("huber_loss", [x, y], options, device)
    # Huber_delta = delta * SmoothL1_(beta=delta), and SmoothL1_(beta=0) = |x - y|
    xt, yt = to_torch(x, device), to_torch(y, device)
    huber = F.huber_loss(xt, yt, reduction="none", delta=delta)
    assert_matches(huber, to_numpy(delta * F.smooth_l1_loss(xt, yt, reduction="none", beta=delta)))
    assert_matches(F.smooth_l1_loss(xt, yt, reduction="none", beta=0.0), to_numpy((xt - yt).abs()))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d = np.abs(x - y)
        quadratic = (d < beta) if beta else np.zeros(d.shape, bool)
        expected = np.where(quadratic, 0.5 * d * d / max(beta, 1e-300), d - 0.5 * beta)
    assert_matches(torch.as_tensor(smooth), expected.astype(x.dtype))


@pytest.mark.spec("LOSS-2", "LOSS-15", "LOSS-33")
@given(
    pointwise_case(low=-5.0, high=5.0, target_low=0.0, target_high=10.0),
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
    x, y = np.full(3, 0.5), np.array([0.0, 1.0, 4.0])
    extra = F.poisson_nll_loss(
        torch.tensor(x), torch.tensor(y), full=True, reduction="none"
    ) - F.poisson_nll_loss(torch.tensor(x), torch.tensor(y), reduction="none")
    stirling4 = 4 * math.log(4) - 4 + 0.5 * math.log(2 * math.pi * 4)
    assert_matches(extra, np.array([0.0, 0.0, stirling4]))
    ref = losses.poisson_nll_loss(x, y, full=True, reduction="none")
    assert_matches(
        torch.as_tensor(ref - losses.poisson_nll_loss(x, y, reduction="none")), to_numpy(extra)
    )


# --- LOSS-5 .. LOSS-14: cross entropy and NLL ---------------------------------------------


@pytest.mark.spec("LOSS-2", "LOSS-5", "LOSS-6", "LOSS-30", "LOSS-33")
@given(
    classification_case(one_target=torch_at_least("2.11"), special=True),
    REDUCTIONS,
    float_dtypes(),
    st.floats(-50, 50),
)
def test_cross_entropy_matches_the_reference(device, case, reduction, dtype, shift):
    """Values of every input form, the formula -x[y] + logsumexp(x) (finite logits), and its
    invariance to shifting all logits (LOSS-6)."""
    x, target, _ = case
    check_forms("cross_entropy", [x.astype(dtype), target], {"reduction": reduction}, device)
    if not np.isfinite(x).all() or target.ndim != x.ndim - 1 or target.size == 0:
        return
    class_dim = 0 if x.ndim == 1 else 1
    picked = np.take_along_axis(x, np.expand_dims(target, class_dim), class_dim)
    lse = np.log(np.exp(x).sum(axis=class_dim))  # |x| <= 20: no overflow in float64
    xt, tt = to_torch(x, device), to_torch(target, device)
    value = F.cross_entropy(xt, tt, reduction="none")
    assert_matches(value, -picked.squeeze(class_dim) + lse)
    assert_matches(value, losses.nll_loss(_log_softmax(x, class_dim), target, reduction="none"))
    shifted = F.cross_entropy(to_torch(x + shift, device), tt)
    assert_matches(shifted, to_numpy(F.cross_entropy(xt, tt)), rtol=1e-6)
    assert_matches(
        torch.as_tensor(losses.cross_entropy(x + shift, target)),
        losses.cross_entropy(x, target),
        rtol=1e-6,
    )


@pytest.mark.spec("LOSS-5")
def test_golden_cross_entropy_from_the_notes():
    # notes 001: loss(x, class) = -x[class] + log(sum_j exp(x_j)); x = [0.1, 0.2, 0.3], class 1:
    # -0.2 + ln(e^0.1 + e^0.2 + e^0.3) = -0.2 + ln(1.10517 + 1.22140 + 1.34986) = 1.1019
    x, target = np.array([[0.1, 0.2, 0.3]]), np.array([1])
    value = nn.CrossEntropyLoss()(torch.tensor(x), torch.tensor(target))
    assert round(value.item(), 4) == 1.1019
    assert round(float(losses.cross_entropy(x, target)), 4) == 1.1019
    assert_matches(value, losses.cross_entropy(x, target))


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


@pytest.mark.spec("LOSS-8", "LOSS-14")
@given(classification_case(min_side=1), REDUCTIONS, st.data())
def test_weighted_cross_entropy_and_nll_match_the_reference(device, case, reduction, data):
    x, target, n_classes = case
    weight = data.draw(class_weights(n_classes))
    options = {"weight": weight, "reduction": reduction}
    check_forms("cross_entropy", [x, target], options, device)
    logp = _log_softmax(x, 0 if x.ndim == 1 else 1)
    check_forms("nll_loss", [logp, target], options, device)
    # 'mean' divides the weighted sum by the sum of the targets' weights
    xt, tt, wt = (to_torch(a, device) for a in (x, target, weight))
    per_sample = F.cross_entropy(xt, tt, weight=wt, reduction="none")
    assert_matches(F.cross_entropy(xt, tt, weight=wt), _sum(per_sample) / weight[target].sum())


@pytest.mark.spec("LOSS-9")
@given(classification_case(ignore_index=-100), REDUCTIONS, st.integers(-100, 4))
def test_ignore_index_matches_the_reference(device, case, reduction, ignore_index):
    x, target, n_classes = case
    if ignore_index != -100:  # ignore a real class instead of the default -100
        target = np.where(target == -100, 0, target)
        if not 0 <= ignore_index < n_classes:
            ignore_index = -100
    options = {"ignore_index": ignore_index, "reduction": reduction}
    check_forms("cross_entropy", [x, target], options, device)
    # the ignored targets contribute nothing: their loss is 0, the sum and the mean are those
    # of the kept targets alone (nan when nothing is kept)
    keep = target != ignore_index
    xt, tt = to_torch(x, device), to_torch(target, device)
    none = F.cross_entropy(xt, tt, ignore_index=ignore_index, reduction="none")
    assert (to_numpy(none)[~keep] == 0).all()
    kept = -np.take_along_axis(
        np.moveaxis(_log_softmax(x, 0 if x.ndim == 1 else 1), 0 if x.ndim == 1 else 1, -1),
        np.where(keep, target, 0)[..., None],
        axis=-1,
    )[..., 0][keep]
    with np.errstate(invalid="ignore"):
        mean = np.asarray(kept.sum() / kept.size if kept.size else np.nan)
    assert_matches(F.cross_entropy(xt, tt, ignore_index=ignore_index), mean)


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
    st.floats(-0.5, 1.0),
    st.booleans(),
    st.data(),
)
@example((np.array([[0.0, 1.0, 2.0]]), np.array([0]), 3), "mean", -0.25, False, None)
def test_label_smoothing_matches_the_reference(device, case, reduction, eps, weighted, data):
    x, target, n_classes = case
    options = {"label_smoothing": eps, "reduction": reduction}
    if weighted:
        options["weight"] = data.draw(class_weights(n_classes))
    check_forms("cross_entropy", [x, target], options, device)
    if not weighted or (target == -100).any() or x.ndim != 2 or not x.size:
        return
    # (1 - e) w_y (-log p_y) + e / C sum_c w_c (-log p_c), the mean over sum_i w_{y_i};
    # a smoothing of 0 or below is ignored
    w, n = options["weight"], x.shape[0]
    eps = max(eps, 0.0)
    logp = _log_softmax(x, 1)
    nll = -(w[target] * logp[np.arange(n), target]).sum()
    smooth = -(w * logp).sum()
    expected = ((1 - eps) * nll + eps / n_classes * smooth) / w[target].sum()
    value = F.cross_entropy(
        to_torch(x, device), to_torch(target, device), weight=to_torch(w, device),
        label_smoothing=options["label_smoothing"],
    )
    assert_matches(value, expected)


@pytest.mark.spec("LOSS-10", "LOSS-11")
@given(classification_case(), REDUCTIONS, st.floats(0.0, 1.0), st.booleans(), st.data())
def test_probability_targets_match_the_reference(device, case, reduction, eps, weighted, data):
    x, target, n_classes = case
    class_dim = 0 if x.ndim == 1 else 1
    raw = data.draw(finite_arrays(x.shape, np.float64, min_value=0.0, max_value=1.0))
    probs = raw / np.maximum(raw.sum(axis=class_dim, keepdims=True), 1e-3)
    ignore_index = data.draw(st.sampled_from([-100, -1]))  # negative: accepted, no effect
    options = {"label_smoothing": eps, "reduction": reduction, "ignore_index": ignore_index}
    if weighted:
        options["weight"] = data.draw(class_weights(n_classes))
    check_forms("cross_entropy", [x, probs], options, device)
    # unweighted, class indices with smoothing e equal the targets (1 - e) onehot + e / C
    smoothed = np.moveaxis(np.eye(n_classes)[target], -1, class_dim) * (1 - eps) + eps / n_classes
    xt = to_torch(x, device)
    by_index = F.cross_entropy(
        xt, to_torch(target, device), label_smoothing=eps, reduction=reduction
    )
    by_probs = F.cross_entropy(xt, to_torch(smoothed, device), reduction=reduction)
    assert_matches(by_index, to_numpy(by_probs))


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
    if x.ndim <= 2:  # uint8 targets: only for (C,) and (N, C) inputs
        kept = np.where(target == -100, 0, target).astype(np.uint8)
        check_forms("nll_loss", [x, kept], options, device)


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
    st.integers(1, 5),
    st.sampled_from([np.float32, np.float64, np.int32, np.int16]),
    st.data(),
)
def test_a_wrong_target_dtype_or_a_class_index_out_of_range_raises(n, n_classes, dtype, data):
    """On CPU (CUDA checks indices with device-side asserts)."""
    x = np.zeros((n, n_classes))
    bad_dtype = np.zeros(n, dtype)
    target = data.draw(class_targets((n,), n_classes))
    target[data.draw(st.integers(0, n - 1))] = data.draw(
        st.sampled_from([n_classes, n_classes + 3, -1, -7])
    )
    for name in ("cross_entropy", "nll_loss"):
        fn, ref = getattr(F, name), getattr(losses, name)
        error = assert_both_raise(
            lambda fn=fn: fn(torch.tensor(x), torch.tensor(bad_dtype)),
            lambda ref=ref: ref(x, bad_dtype),
            reference_error=TypeError,
            match="Long",
        )[0]
        assert "Long" in str(error)
        assert_both_raise(
            lambda fn=fn: fn(torch.tensor(x), torch.tensor(target)),
            lambda ref=ref: ref(x, target),
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


@pytest.mark.spec("LOSS-13")
@pytest.mark.parametrize("n", [1, 4])
def test_swapping_outputs_and_targets_raises(n):
    rng = np.random.default_rng(n)
    outputs = rng.normal(size=(n, 10)).astype(np.float32)
    targets = rng.integers(0, 10, n)
    loss_fn = nn.CrossEntropyLoss()
    # the notes' mistake: loss_fn(targets, outputs) -- integer "logits" cannot be softmaxed
    assert_both_raise(
        lambda: loss_fn(torch.tensor(targets), torch.tensor(outputs)),
        lambda: losses.cross_entropy(targets, outputs),
        torch_error=RuntimeError,  # NotImplementedError from torch 2.11, a RuntimeError
        reference_error=TypeError,
        match="for 'Long'",
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


@pytest.mark.spec("LOSS-2", "LOSS-16", "LOSS-33")
@given(
    pointwise_case(low=-5.0, high=5.0, target_low=0.0, target_high=3.0),
    st.sampled_from(["none", "mean", "sum", "batchmean"]),
    st.booleans(),
)
@example((np.array([-1.0, -2.0]), np.array([0.0, 0.5])), "sum", False)  # 0 log 0 = 0
def test_kl_div_matches_the_reference(device, case, reduction, log_target):
    x, y = case
    if log_target:
        y = y - 1.5  # log-probabilities may be negative
    check_forms("kl_div", [x, y], {"reduction": reduction, "log_target": log_target}, device)
    if x.ndim != 2 or 0 in x.shape or not np.isfinite(x).all():
        return
    # on (N, C) distributions, 'batchmean' is the true KL averaged over the batch
    p = np.exp(_log_softmax(y, 1)).astype(x.dtype)
    logq = _log_softmax(x, 1).astype(x.dtype)
    kl = (p * (np.log(p) - logq)).sum() / x.shape[0]
    logq_t = to_torch(logq, device)
    assert_matches(F.kl_div(logq_t, to_torch(p, device), reduction="batchmean"), kl)
    value = F.kl_div(
        logq_t, to_torch(np.log(p), device), reduction="batchmean", log_target=True
    )
    assert_matches(value, kl)


@pytest.mark.spec("LOSS-2", "LOSS-17")
@given(
    pointwise_case(low=0.0, high=1.0, special=False),
    REDUCTIONS,
    st.booleans(),
    st.data(),
)
@example(  # the clamp
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
def test_binary_cross_entropy_clamps_the_log_at_minus_100(device):
    x, y = np.array([0.0, 1.0, 1e-50]), np.array([1.0, 0.0, 1.0])
    value = F.binary_cross_entropy(to_torch(x, device), to_torch(y, device), reduction="none")
    assert_matches(value, np.array([100.0, 100.0, 100.0]))
    assert_matches(value, losses.binary_cross_entropy(x, y, reduction="none"))


@pytest.mark.spec("LOSS-2", "LOSS-18", "LOSS-33")
@given(
    pointwise_case(min_dims=1, low=-30.0, high=30.0, target_low=0.0, target_high=1.0),
    REDUCTIONS,
    st.booleans(),
    st.booleans(),
    st.floats(0.1, 5.0),
    st.data(),
)
def test_bce_with_logits_matches_the_reference(
    device, case, reduction, weighted, pos_weighted, pos_weight, data
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
    if x.dtype != np.float64 or not (np.abs(x) <= 10).all():
        return
    # -(p y log s + (1 - y) log(1 - s)) on s = sigmoid(x), and without weights the mean of
    # BCE(sigmoid(x), y); log(1 - s) loses digits as s -> 1, hence the relative 1e-6
    xt, yt = to_torch(x, device), to_torch(y, device)
    s = torch.sigmoid(xt)
    expected = -(pos_weight * yt * torch.log(s) + (1 - yt) * torch.log(1 - s))
    value = F.binary_cross_entropy_with_logits(
        xt, yt, reduction="none", pos_weight=torch.tensor(pos_weight, device=device)
    )
    assert_matches(value, to_numpy(expected), rtol=1e-6)
    assert_matches(
        F.binary_cross_entropy_with_logits(xt, yt),
        to_numpy(F.binary_cross_entropy(s, yt)),
        rtol=1e-6,
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
def vectors(draw, count: int, *, dims=(1, 2), low=-10.0, high=10.0, dtype=None):
    """``count`` arrays of one shape (D,) or (N, D) (0-d too when 0 is in ``dims``)."""
    dtype = draw(float_dtypes()) if dtype is None else np.dtype(dtype)
    ndim = draw(st.sampled_from(dims))
    shape = draw(shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=4))
    if ndim and draw(st.integers(0, 4)) == 0:
        shape = (0, *shape[1:]) if ndim == 2 else shape  # an empty batch
    return [
        draw(finite_arrays(shape, dtype, min_value=low, max_value=high)) for _ in range(count)
    ]


@pytest.mark.spec("LOSS-2", "LOSS-20", "LOSS-21", "LOSS-22", "LOSS-32", "LOSS-33")
@given(
    shapes(max_dims=3, max_side=4),
    float_dtypes(),
    st.sampled_from(["float", "int64"]),
    REDUCTIONS,
    st.floats(-1.0, 2.0),
    st.data(),
)
def test_sign_target_losses_match_the_reference(
    device, shape, dtype, target_dtype, reduction, margin, data
):
    """margin_ranking, hinge_embedding and soft_margin, with +-1 targets that may be int64
    (read in the input's dtype) and may have size-1 dims that broadcast, and NaN/inf scores."""
    x1 = data.draw(nonfinite(finite_arrays(shape, dtype, min_value=-20, max_value=20)))
    x2 = data.draw(finite_arrays(shape, dtype, min_value=-10, max_value=10))
    target_shape = tuple(1 if data.draw(st.integers(0, 3)) == 0 else s for s in shape)
    y = data.draw(hnp.arrays(np.float64, target_shape, elements=SIGNS))
    y = y.astype(dtype if target_dtype == "float" else np.int64)
    options = {"margin": margin, "reduction": reduction}
    check_forms("margin_ranking_loss", [x1, x2, y], options, device)
    check_forms("hinge_embedding_loss", [x1, y], options, device)
    check_forms("soft_margin_loss", [x1, y], {"reduction": reduction}, device)


@pytest.mark.spec("LOSS-2", "LOSS-23", "LOSS-26", "LOSS-30", "LOSS-33")
@given(
    vectors(1, dims=(0, 1, 2)),
    REDUCTIONS,
    st.sampled_from([1, 2]),
    st.floats(0.0, 2.0),
    st.booleans(),
    st.data(),
)
def test_multi_class_margin_losses_match_the_reference(
    device, arrays, reduction, p, margin, weighted, data
):
    """multi_margin_loss and multilabel_margin_loss on (N, C), (C,) and 0-d inputs (one
    class); a NaN score's hinge terms are skipped."""
    x = data.draw(nonfinite(st.just(arrays[0]), (np.nan,)))
    n_classes = x.shape[-1] if x.ndim else 1
    target_shape = x.shape[:-1] if x.ndim == 2 else data.draw(st.sampled_from([(), (1,)]))
    target = data.draw(class_targets(target_shape, n_classes))
    options = {"p": p, "margin": margin, "reduction": reduction}
    if weighted:
        options["weight"] = data.draw(class_weights(n_classes, x.dtype))
    empty_bug = x.size == 0 and reduction != "none"  # see test_multi_margin_empty_batch
    if not empty_bug:
        check_forms("multi_margin_loss", [x, target], options, device)
        labels_shape = target_shape if x.ndim == 0 else x.shape
        labels = data.draw(
            hnp.arrays(np.int64, labels_shape, elements=st.integers(-1, n_classes - 1))
        )
        check_forms("multilabel_margin_loss", [x, labels], {"reduction": reduction}, device)


@pytest.mark.spec("LOSS-23")
def test_multilabel_margin_loss_reads_targets_up_to_the_first_minus_one():
    # torch's docs example: the classes are 3 and 0 (the 1 after -1 is ignored):
    # [(1-(0.1-0.2)) + (1-(0.1-0.4)) + (1-(0.8-0.2)) + (1-(0.8-0.4))] / 4 = 0.85
    x, target = np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]])
    value = F.multilabel_margin_loss(torch.tensor(x), torch.tensor(target))
    assert_matches(value, np.asarray(0.85))
    assert_matches(value, losses.multilabel_margin_loss(x, target))


@pytest.mark.spec("LOSS-2", "LOSS-24", "LOSS-33")
@given(vectors(1, dims=(1, 2, 3), low=-20.0, high=20.0), REDUCTIONS, st.booleans(), st.data())
def test_multilabel_soft_margin_loss_matches_the_reference(
    device, arrays, reduction, weighted, data
):
    (x,) = arrays
    x = data.draw(nonfinite(st.just(x)))
    y = data.draw(finite_arrays(x.shape, x.dtype, min_value=0.0, max_value=1.0))
    options = {"reduction": reduction}
    if weighted:
        options["weight"] = data.draw(class_weights(x.shape[-1], x.dtype))
    check_forms("multilabel_soft_margin_loss", [x, y], options, device)


@pytest.mark.spec("LOSS-2", "LOSS-25", "LOSS-32")
@given(vectors(2), REDUCTIONS, st.floats(-1.0, 1.0), st.booleans(), st.data())
def test_cosine_embedding_loss_matches_the_reference(
    device, arrays, reduction, margin, int_target, data
):
    x1, x2 = arrays
    if x2.ndim == 2 and len(x2) and data.draw(st.booleans()):
        x2 = x2[:1]  # one row broadcast against every row of x1
    y = data.draw(hnp.arrays(np.float64, x1.shape[:-1], elements=st.sampled_from([-1.0, 0, 1])))
    y = y.astype(np.int64 if int_target else x1.dtype)
    options = {"margin": margin, "reduction": reduction}
    check_forms("cosine_embedding_loss", [x1, x2, y], options, device)


@pytest.mark.spec("LOSS-2", "LOSS-27", "LOSS-30")
@given(
    vectors(3, dims=(0, 1, 2)),
    REDUCTIONS,
    st.floats(0.0, 2.0, exclude_min=True),
    st.sampled_from([0.0, 1.0, 1.5, 2.0, 3.0, math.inf]),
    st.booleans(),
    st.sampled_from([1e-6, 0.0, 0.1]),
    st.booleans(),
)
@example(  # d(a, pos) = 3 by max (p = inf) or by count (p = 0), where a sum would give 6
    [np.array([[1.0, 2.0, 3.0]]), np.zeros((1, 3)), np.array([[1.0, 2.0, 3.0]])],
    "none", 1.0, math.inf, False, 0.0, False,
)
@example(
    [np.array([[1.0, 0.0, 3.0]]), np.zeros((1, 3)), np.array([[1.0, 0.0, 3.0]])],
    "none", 1.0, 0.0, False, 0.0, False,
)
def test_triplet_margin_loss_matches_the_reference(
    device, arrays, reduction, margin, p, swap, eps, one_negative
):
    """Any p >= 0 (0 counts the nonzero differences, inf takes the largest), 0-d to 2-D,
    a one-row negative broadcast against the batch."""
    anchor, positive, negative = arrays
    if one_negative and negative.ndim == 2 and len(negative) > 1:
        negative = negative[:1]
    options = {"margin": margin, "p": p, "eps": eps, "swap": swap, "reduction": reduction}
    check_forms("triplet_margin_loss", [anchor, positive, negative], options, device)


# --- LOSS-28, LOSS-29: CTC -----------------------------------------------------------------


@st.composite
def ctc_case(draw):
    """(log_probs, targets, input_lengths, target_lengths, blank), padded or concatenated
    targets, batched or not; some targets are too long for their input (loss = inf), some
    inputs have length 0, some log-probabilities are -inf (an impossible symbol) or NaN."""
    n_steps, batch, n_classes = (
        draw(st.integers(1, 6)),
        draw(st.integers(1, 3)),
        draw(st.integers(2, 5)),
    )
    blank = draw(st.integers(0, n_classes - 1))
    s_max = draw(st.integers(0, 4))
    dtype = draw(float_dtypes())
    logits = draw(finite_arrays((n_steps, batch, n_classes), np.float64, min_value=-5, max_value=5))
    log_probs = draw(nonfinite(st.just(_log_softmax(logits, 2).astype(dtype)), (-np.inf, np.nan)))
    labels = st.integers(0, n_classes - 1)  # the blank too: torch reads it as a label
    targets = draw(hnp.arrays(np.int64, (batch, s_max), elements=labels))
    input_lengths = draw(hnp.arrays(np.int64, (batch,), elements=st.integers(0, n_steps)))
    target_lengths = draw(hnp.arrays(np.int64, (batch,), elements=st.integers(0, s_max)))
    layout = draw(st.sampled_from(["padded", "concatenated", "unbatched"]))
    if layout == "concatenated":
        targets = targets[np.arange(s_max) < target_lengths[:, None]]
    elif layout == "unbatched":
        log_probs, targets = log_probs[:, 0], targets[0, : target_lengths[0]]
        input_lengths, target_lengths = np.asarray(input_lengths[0]), np.asarray(target_lengths[0])
    return [log_probs, targets, input_lengths, target_lengths], blank


@pytest.mark.spec("LOSS-2", "LOSS-28", "LOSS-29", "LOSS-33")
@given(ctc_case(), REDUCTIONS, st.booleans())
def test_ctc_loss_matches_the_reference(device, case, reduction, zero_infinity):
    arrays, blank = case
    options = {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity}
    check_forms("ctc_loss", arrays, options, device)
    # 'mean' divides each sample's loss by its target length (at least 1), then averages
    lp, tg, il, tl = (to_torch(a, device) for a in arrays)
    none = F.ctc_loss(lp, tg, il, tl, blank=blank, reduction="none")
    mean = F.ctc_loss(lp, tg, il, tl, blank=blank)
    assert_matches(mean, to_numpy((none / tl.clamp(min=1)).mean()))


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
    # two steps cannot emit "1 1" (needs a blank between); an empty input fits only ""
    log_probs = _log_softmax(np.zeros((2, 2, 3)), 2)
    args = [log_probs, np.array([[1, 1], [1, 1]]), np.array([2, 0]), np.array([2, 0])]
    t_args = [to_torch(a, device) for a in args]
    value = F.ctc_loss(*t_args, reduction="none")
    assert torch.isinf(value[0]) and value[1].item() == 0.0
    assert_matches(value, losses.ctc_loss(*args, reduction="none"))
    assert F.ctc_loss(*t_args, reduction="sum", zero_infinity=True).item() == 0.0
    assert losses.ctc_loss(*args, reduction="sum", zero_infinity=True) == 0.0


@pytest.mark.spec("LOSS-28")
@known_torch_bug(
    fixed_in=None,
    issue="no upstream report found: pytorch/pytorch issues searched for CTC and "
    "non-contiguous targets",
    why="the CPU kernel offsets concatenated (1-D) targets by the element count, not count "
    "* stride, so a strided targets tensor is misread (or read out of bounds); checked on "
    "torch 2.4.1, 2.11.0, 2.13.0 and 2.14.1",
)
def test_ctc_noncontiguous_concatenated_targets():
    """CPU only: the bug is in the CPU kernel."""
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


# --- LOSS-30 .. LOSS-34: input forms --------------------------------------------------------


@pytest.mark.spec("LOSS-30")
def test_zero_d_inputs_of_the_multi_class_margin_losses_are_one_class_with_loss_zero(device):
    """A 0-d input is one sample of one class: no other class, so the hinge sum is empty."""
    for dtype in (np.float32, np.float64):
        x = np.asarray(0.7, dtype)
        for name, target in [
            ("multi_margin_loss", np.asarray(0)),
            ("multi_margin_loss", np.array([0])),
            ("multilabel_margin_loss", np.asarray(0)),
            ("multilabel_margin_loss", np.asarray(-1)),
            ("multilabel_margin_loss", np.array([0])),
        ]:
            for reduction in ("none", "mean", "sum"):
                value = getattr(F, name)(
                    to_torch(x, device), to_torch(target, device), reduction=reduction
                )
                assert to_numpy(value).tolist() in (0.0, [0.0])
                assert_matches(value, getattr(losses, name)(x, target, reduction=reduction))


EMPTY = [name for name in MODULES if name != "ctc_loss"]
MARGIN_KERNELS = ("multi_margin_loss", "multilabel_margin_loss")


@pytest.mark.spec("LOSS-31")
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # kl_div
@pytest.mark.parametrize("name", EMPTY)
def test_an_empty_batch_gives_an_empty_none_a_zero_sum_and_a_nan_mean(device, name):
    arrays, options = _sample(name, 0, np.float64)
    tensors = [to_torch(a, device) for a in arrays]
    reductions = ["none"] if name in MARGIN_KERNELS else ["none", "sum", "mean"]
    if name == "kl_div":
        reductions.append("batchmean")
    if name in MARGIN_KERNELS:  # torch's value is uninitialized (the xfail below)
        assert getattr(losses, name)(*arrays, reduction="sum") == 0.0
        assert np.isnan(getattr(losses, name)(*arrays, reduction="mean"))
    for reduction in reductions:
        value = getattr(F, name)(*tensors, **options, reduction=reduction)
        expected = getattr(losses, name)(*arrays, **options, reduction=reduction)
        assert_matches(value, expected)
        if reduction == "none":
            assert value.numel() == 0
        else:
            assert (value.item() == 0.0) if reduction == "sum" else math.isnan(value.item())


@pytest.mark.spec("LOSS-31")
@known_torch_bug(
    fixed_in=None,
    issue="no upstream report found: pytorch/pytorch issues searched for multi_margin_loss "
    "and multilabel_margin_loss on empty inputs",
    why="the kernels resize the output to 0-d and return before writing it when the input is "
    "empty, so 'mean' and 'sum' are uninitialized memory instead of nan and 0",
)
def test_multi_margin_losses_of_an_empty_batch_are_uninitialized():
    """CPU only, where the freed buffer of a sentinel makes the garbage predictable (CUDA's
    kernels have the same early return)."""
    for dtype in (torch.float32, torch.float64):
        x = torch.zeros(0, 3, dtype=dtype)
        for name, target in [("multi_margin_loss", torch.zeros(0, dtype=torch.long)),
                             ("multilabel_margin_loss", torch.zeros(0, 3, dtype=torch.long))]:
            for reduction, expected in [("sum", 0.0), ("mean", math.nan)]:
                sentinel = torch.full((), 7.0, dtype=dtype)  # its freed memory is reused
                del sentinel
                value = getattr(F, name)(x, target, reduction=reduction).item()
                assert value == expected or (math.isnan(expected) and math.isnan(value))


@pytest.mark.spec("LOSS-31")
def test_empty_class_dims_and_all_ignored_targets(device):
    """Zero classes: class indices must all be ignored (loss 0, mean nan); probabilities
    give 0 per sample and a nan mean (numel / C = 0 / 0 samples)."""
    x, ignored, probs = np.zeros((2, 0)), np.array([-100, -100]), np.zeros((2, 0))
    for target in (ignored, probs):
        for reduction in ("none", "sum", "mean"):
            value = F.cross_entropy(
                to_torch(x, device), to_torch(target, device), reduction=reduction
            )
            assert_matches(value, losses.cross_entropy(x, target, reduction=reduction))
    assert math.isnan(F.cross_entropy(to_torch(x, device), to_torch(probs, device)).item())


@pytest.mark.spec("LOSS-30", "LOSS-31")
@pytest.mark.skipif(
    torch_at_least("2.11"), reason=f"{RELEASE}: describes releases before 2.11 (torch 2.4.1)"
)
def test_what_torch_2_4_did_otherwise(device):
    """Before 2.11 a (C,) input rejected a (1,) class target and took a (C,) one, and an
    empty CTC batch gave a nan mean and a zero sum instead of raising (torch only: the
    reference follows 2.11 and later)."""
    with pytest.raises(RuntimeError, match="size mismatch"):
        F.nll_loss(to_torch(np.zeros(3), device), to_torch(np.array([1]), device))
    F.nll_loss(to_torch(np.zeros(3), device), to_torch(np.zeros(3, np.int64), device))
    args = [np.zeros((3, 0, 3)), np.zeros((0, 2), np.int64), np.zeros(0, np.int64)]
    args = [to_torch(a, device) for a in args]
    assert math.isnan(F.ctc_loss(*args, args[2]).item())
    assert F.ctc_loss(*args, args[2], reduction="sum").item() == 0.0


DTYPE_TABLE = {  # result dtype for a (float32 input, float64 target) and the reverse pair
    "l1_loss": ("float64", "float64"),
    "mse_loss": ("float64", "float64"),
    "smooth_l1_loss": ("float64", "float64"),
    "poisson_nll_loss": ("float64", "float64"),
    "kl_div": ("float64", "float64"),
    "multilabel_soft_margin_loss": ("float64", "float64"),
    "huber_loss": ("float32", "float64"),  # the input's dtype
    "soft_margin_loss": ("float32", "float64"),
    "hinge_embedding_loss": ("float32", "float64"),
    "binary_cross_entropy_with_logits": ("float64", "float32"),  # the target's dtype
}


@pytest.mark.spec("LOSS-32")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", [n for n in MODULES if n != "ctc_loss"])
def test_results_keep_the_input_dtype(device, name):
    for dtype in (np.float32, np.float64):
        arrays, options = _sample(name, 2, dtype)
        tensors = [to_torch(a, device) for a in arrays]
        for reduction in ("none", "sum"):
            value = getattr(F, name)(*tensors, **options, reduction=reduction)
            assert value.dtype == tensors[0].dtype
            assert_matches(value, getattr(losses, name)(*arrays, **options, reduction=reduction))
    if name in DTYPE_TABLE:  # a float32/float64 pair of one shape
        arrays, options = _sample(name, 2, np.float32)
        for pair, dtype in zip(
            [(arrays[0], arrays[1].astype(np.float64)), (arrays[0].astype(np.float64), arrays[1])],
            DTYPE_TABLE[name],
            strict=True,
        ):
            value = getattr(F, name)(*(to_torch(a, device) for a in pair), reduction="none")
            assert str(value.dtype) == f"torch.{dtype}"
            assert getattr(losses, name)(*pair, reduction="none").dtype == np.dtype(dtype)


@pytest.mark.spec("LOSS-33")
def test_non_finite_values_follow_ieee_arithmetic_and_the_margin_kernels_skip_nan(device):
    nan, inf = np.nan, np.inf
    cases = [  # (name, arrays, torch's values with reduction='none')
        ("mse_loss", [[nan, inf, inf, 1.0], [0.0, inf, 0.0, -inf]], [nan, nan, inf, inf]),
        ("huber_loss", [[nan, inf, inf, 1.0], [0.0, inf, 0.0, -inf]], [nan, nan, inf, inf]),
        ("soft_margin_loss", [[nan, inf, -inf], [1.0, 1.0, 1.0]], [nan, 0.0, inf]),
        ("hinge_embedding_loss", [[inf, -inf, inf], [1.0, -1.0, -1.0]], [inf, inf, 0.0]),
        ("kl_div", [[nan, -inf, -1.0], [0.5, 0.5, 0.0]], [nan, inf, 0.0]),
        (
            "binary_cross_entropy_with_logits",
            [[inf, -inf, inf, -inf], [1.0, 1.0, 0.0, 0.0]],
            [nan, nan, inf, nan],
        ),
        ("multi_margin_loss", [[[nan, 1.0, 0.0], [0.0, nan, 1.0]], [0, 0]], [0.0, 2.0 / 3]),
        ("multilabel_margin_loss", [[[0.0, nan, 1.0]], [[0, -1, 0]]], [2.0 / 3]),
        ("cross_entropy", [[[inf, 0.0, 1.0], [-inf, 1.0, 2.0]], [1, 0]], [nan, inf]),
    ]
    for name, arrays, expected in cases:
        arrays = [np.asarray(a) for a in arrays]
        value = getattr(F, name)(*(to_torch(a, device) for a in arrays), reduction="none")
        assert_matches(value, np.array(expected))
        assert_matches(value, getattr(losses, name)(*arrays, reduction="none"))


@pytest.mark.spec("LOSS-3", "LOSS-34")
def test_the_broadcasting_pitfall_warns_for_l1_mse_and_raises_for_bce(device):
    """(N, 1) predictions against (N,) targets: l1/mse/smooth_l1/huber warn and broadcast to
    an (N, N) loss, a wrong value; BCE and BCEWithLogits raise ValueError."""
    x = np.array([[0.2], [0.5], [0.9]])
    y = np.array([0.0, 0.5, 1.0])
    xt, yt = to_torch(x, device), to_torch(y, device)
    for name in ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"):
        with pytest.warns(UserWarning, match="different to the input size"):
            value = getattr(F, name)(xt, yt, reduction="none")
        with pytest.warns(UserWarning, match="different to the input size"):
            expected = getattr(losses, name)(x, y, reduction="none")
        assert value.shape == (3, 3)
        assert_matches(value, expected)
    with pytest.warns(UserWarning, match="different to the input size"):
        assert_matches(F.mse_loss(xt, yt, reduction="none"), (x - y) ** 2)
    for name, keyword in [
        ("binary_cross_entropy", "different to the input size"),
        ("binary_cross_entropy_with_logits", "must be the same as input size"),
    ]:
        error = assert_both_raise(
            lambda name=name: getattr(F, name)(xt, yt),
            lambda name=name: getattr(losses, name)(x, y),
            torch_error=ValueError,
            match=keyword,
        )[0]
        assert keyword in str(error)
    # hinge_embedding and kl_div broadcast silently; soft_margin only stretches the target
    for name in ("hinge_embedding_loss", "kl_div", "poisson_nll_loss"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert getattr(F, name)(xt, yt, reduction="none").shape == (3, 3)
    assert_matches(F.soft_margin_loss(to_torch(np.zeros((2, 3)), device), yt, reduction="none"),
                   losses.soft_margin_loss(np.zeros((2, 3)), y, reduction="none"))


# --- LOSS-35: the error table ---------------------------------------------------------------

_A = np.zeros((2, 3))
_HALF = np.full(3, 0.5)
_LP = _log_softmax(np.zeros((3, 2, 3)), 2)
_ONE = np.array([[1], [1]])


def _row(
    id, call, torch_error, keyword, reference_error=ValueError, clause="LOSS-35", marks=(),
    cpu_only=False,
):
    """An invalid call: ``call(L, T)`` with ``L`` the loss namespace (torch.nn.functional plus
    ``ASM``, or reference.losses) and ``T`` the array constructor; torch's exception class
    and a regex ``keyword`` that both messages contain. ``cpu_only``: CUDA checks it with a
    device-side assert."""
    return pytest.param(
        call, torch_error, keyword, reference_error, cpu_only,
        marks=[pytest.mark.spec(clause), *marks], id=id,
    )


ERRORS = [
    _row("reduction avg", lambda L, T: L.l1_loss(T(_HALF), T(_HALF), reduction="avg"),
         ValueError, "avg is not a valid value for reduction", clause="LOSS-1"),
    _row("mse reduction batchmean",
         lambda L, T: L.mse_loss(T(_HALF), T(_HALF), reduction="batchmean"),
         ValueError, "batchmean is not a valid value", clause="LOSS-1"),
    _row("poisson elementwise_mean",
         lambda L, T: L.poisson_nll_loss(T(_HALF), T(_HALF), reduction="elementwise_mean"),
         ValueError, "elementwise_mean is not a valid value", clause="LOSS-1"),
    _row("multilabel_soft_margin elementwise_mean",
         lambda L, T: L.multilabel_soft_margin_loss(T(_A), T(_A), reduction="elementwise_mean"),
         ValueError, "elementwise_mean is not", clause="LOSS-1"),
    _row("mse shapes clash", lambda L, T: L.mse_loss(T(np.zeros(3)), T(np.zeros(4))),
         RuntimeError, "must match the size", clause="LOSS-34"),
    _row("soft_margin stretches only the target",
         lambda L, T: L.soft_margin_loss(T(np.zeros(3)), T(np.ones((2, 3)))),
         RuntimeError, "doesn't match the broadcast shape", clause="LOSS-34"),
    _row("margin_ranking needs one ndim",
         lambda L, T: L.margin_ranking_loss(T(_A), T(np.zeros(3)), T(np.ones(3))),
         RuntimeError, "should have same dimension", clause="LOSS-34"),
    _row("triplet needs one ndim",
         lambda L, T: L.triplet_margin_loss(T(_A), T(_A), T(np.zeros(3))),
         RuntimeError, "same number of dimensions", clause="LOSS-27"),
    _row("triplet margin 0", lambda L, T: L.triplet_margin_loss(T(_A), T(_A), T(_A), margin=0.0),
         ValueError, "margin must be greater than 0", clause="LOSS-27"),
    _row("cosine 0-d target with 2-D inputs",
         lambda L, T: L.cosine_embedding_loss(T(_A), T(_A), T(np.asarray(1.0))),
         RuntimeError, "0D target tensor expects 1D input", clause="LOSS-25"),
    _row("cosine 2-D target",
         lambda L, T: L.cosine_embedding_loss(T(_A), T(_A), T(np.ones((2, 1)))),
         RuntimeError, "multi-target not supported", clause="LOSS-25"),
    _row("cosine target size",
         lambda L, T: L.cosine_embedding_loss(T(_A), T(_A), T(np.ones(3))),
         RuntimeError, "must match the size", clause="LOSS-25"),
    _row("smooth_l1 negative beta", lambda L, T: L.smooth_l1_loss(T(_HALF), T(_HALF), beta=-1.0),
         RuntimeError, "negative values for beta", clause="LOSS-4"),
    _row("huber delta 0", lambda L, T: L.huber_loss(T(_HALF), T(_HALF), delta=0.0),
         RuntimeError, "non-positive values for delta", clause="LOSS-4"),
    _row("l1 weight of another shape",
         lambda L, T: L.l1_loss(T(_A), T(_A), weight=T(np.ones(3))),
         ValueError, "must have the same size", clause="LOSS-3",
         marks=[pytest.mark.skipif(not POINTWISE_WEIGHT, reason=f"{RELEASE}: no weight=")]),
    _row("ce batch sizes", lambda L, T: L.cross_entropy(T(_A), T(np.zeros(3, np.int64))),
         ValueError, "batch_size", clause="LOSS-12"),
    _row("nll spatial target size",
         lambda L, T: L.nll_loss(T(np.zeros((2, 3, 2))), T(np.zeros((2, 3), np.int64))),
         RuntimeError, "target size", clause="LOSS-12"),
    _row("nll 2-D target of a 2-D input",
         lambda L, T: L.nll_loss(T(_A), T(np.zeros((2, 3), np.int64))),
         RuntimeError, "multi-target not supported", clause="LOSS-12"),
    _row("nll 0-d input", lambda L, T: L.nll_loss(T(np.asarray(1.0)), T(np.asarray(0))),
         ValueError, "Expected 1 or more dimensions", clause="LOSS-30"),
    _row("(C,) input with a (C,) target",
         lambda L, T: L.nll_loss(T(np.zeros(3)), T(np.zeros(3, np.int64))),
         ValueError, "1D target must have size 1", clause="LOSS-30", marks=[AT_LEAST_2_11]),
    _row("(C,) input, (1,) target, smoothing, 'none'",
         lambda L, T: L.cross_entropy(T(np.zeros(3)), T(np.array([1])), label_smoothing=0.2,
                                      reduction="none"),
         RuntimeError, "doesn't match the broadcast shape", clause="LOSS-30",
         marks=[AT_LEAST_2_11]),
    _row("(1,) input with a (1,) class target: read as probabilities",
         lambda L, T: L.cross_entropy(T(np.zeros(1)), T(np.array([0]))),
         RuntimeError, "floating point type for target", TypeError,
         clause="LOSS-30"),
    _row("weight of another class count",
         lambda L, T: L.nll_loss(T(_A), T(np.array([0, 1])), weight=T(np.ones(2))),
         RuntimeError, "defined either for all 3 classes", clause="LOSS-8"),
    _row("weight dtype", lambda L, T: L.nll_loss(T(_A.astype(np.float32)), T(np.array([0, 1])),
                                                 weight=T(np.ones(3))),
         RuntimeError, "but found Double", TypeError, clause="LOSS-8"),
    _row("class target float", lambda L, T: L.nll_loss(T(_A), T(np.zeros(2, np.float32))),
         RuntimeError, "Long", TypeError, clause="LOSS-12"),
    _row("class target int32", lambda L, T: L.cross_entropy(T(_A), T(np.zeros(2, np.int32))),
         RuntimeError, "Long", TypeError, clause="LOSS-12"),
    _row("uint8 target of a spatial input",
         lambda L, T: L.nll_loss(T(np.zeros((2, 3, 2))), T(np.zeros((2, 2), np.uint8))),
         RuntimeError, "found Byte", TypeError, clause="LOSS-14"),
    _row("integer probabilities",
         lambda L, T: L.cross_entropy(T(_A), T(np.zeros((2, 3), np.int64))),
         RuntimeError, "floating point type for target", TypeError,
         clause="LOSS-11"),
    _row("probabilities with ignore_index >= 0",
         lambda L, T: L.cross_entropy(T(_A), T(_A), ignore_index=1),
         RuntimeError, "ignore_index is not supported", clause="LOSS-11"),
    _row("label_smoothing above 1",
         lambda L, T: L.cross_entropy(T(_A), T(np.array([0, 1])), label_smoothing=1.5),
         RuntimeError, "label_smoothing must be between 0.0 and 1.0", clause="LOSS-10"),
    _row("class index out of range", lambda L, T: L.nll_loss(T(_A), T(np.array([0, 3]))),
         IndexError, "out of bounds", IndexError, clause="LOSS-12", cpu_only=True),
    _row("negative class index", lambda L, T: L.cross_entropy(T(_A), T(np.array([-1, 0]))),
         IndexError, "out of bounds", IndexError, clause="LOSS-12", cpu_only=True),
    _row("bce shapes", lambda L, T: L.binary_cross_entropy(T(_HALF[:, None]), T(_HALF)),
         ValueError, "different to the input size", clause="LOSS-34"),
    _row("bce_with_logits shapes",
         lambda L, T: L.binary_cross_entropy_with_logits(T(_HALF[:, None]), T(_HALF)),
         ValueError, "must be the same as input size", clause="LOSS-34"),
    _row("bce dtypes", lambda L, T: L.binary_cross_entropy(T(_HALF.astype(np.float32)), T(_HALF)),
         RuntimeError, "Found dtype Double", TypeError, clause="LOSS-32"),
    _row("bce input above 1", lambda L, T: L.binary_cross_entropy(T(_HALF + 0.6), T(_HALF)),
         RuntimeError, "input should be between 0 and 1", clause="LOSS-17", cpu_only=True),
    _row("bce NaN input",
         lambda L, T: L.binary_cross_entropy(T(np.array([np.nan, 0.5])), T(_HALF[:2])),
         RuntimeError, "input should be between 0 and 1", clause="LOSS-33", cpu_only=True),
    _row("bce target above 1", lambda L, T: L.binary_cross_entropy(T(_HALF), T(_HALF + 0.6)),
         RuntimeError, "target should be between 0 and 1", clause="LOSS-17", cpu_only=True),
    _row("bce weight larger than the loss",
         lambda L, T: L.binary_cross_entropy(T(_HALF), T(_HALF), weight=T(np.ones((2, 3)))),
         RuntimeError, "doesn't match the broadcast shape", clause="LOSS-17"),
    _row("bce_with_logits pos_weight size",
         lambda L, T: L.binary_cross_entropy_with_logits(T(_A), T(_A), pos_weight=T(np.ones(2))),
         RuntimeError, "must match the size", clause="LOSS-18"),
    _row("multi_margin target size",
         lambda L, T: L.multi_margin_loss(T(_A), T(np.zeros(3, np.int64))),
         RuntimeError, "target size", clause="LOSS-26"),
    _row("multi_margin 3-D input",
         lambda L, T: L.multi_margin_loss(T(np.zeros((1, 2, 2))), T(np.zeros(1, np.int64))),
         RuntimeError, "non-empty vector or matrix", clause="LOSS-30"),
    _row("multi_margin zero classes",
         lambda L, T: L.multi_margin_loss(T(np.zeros((2, 0))), T(np.zeros(2, np.int64))),
         RuntimeError, "non-empty vector or matrix", clause="LOSS-30"),
    _row("multi_margin weight size",
         lambda L, T: L.multi_margin_loss(T(_A), T(np.array([0, 1])), weight=T(np.ones(2))),
         RuntimeError, "inconsistent weight size", clause="LOSS-26"),
    _row("multi_margin p=3", lambda L, T: L.multi_margin_loss(T(_A), T(np.array([0, 1])), p=3),
         ValueError, "only p == 1 and p == 2", clause="LOSS-26"),
    _row("multi_margin int32 target",
         lambda L, T: L.multi_margin_loss(T(_A), T(np.array([0, 1], np.int32))),
         RuntimeError, "found Int", TypeError, clause="LOSS-26"),
    _row("multi_margin target out of range",
         lambda L, T: L.multi_margin_loss(T(_A), T(np.array([0, 3]))),
         RuntimeError, "target out of range", IndexError, clause="LOSS-26", cpu_only=True),
    _row("multilabel_margin target size",
         lambda L, T: L.multilabel_margin_loss(T(_A), T(np.zeros((2, 2), np.int64))),
         RuntimeError, "inconsistent target size", clause="LOSS-23"),
    _row("multilabel_margin 3-D input",
         lambda L, T: L.multilabel_margin_loss(T(np.zeros((1, 2, 2))),
                                               T(np.zeros((1, 2, 2), np.int64))),
         RuntimeError, "non-empty vector or matrix", clause="LOSS-30"),
    _row("multilabel_margin int32 target",
         lambda L, T: L.multilabel_margin_loss(T(_A), T(np.zeros((2, 3), np.int32))),
         RuntimeError, "found Int", TypeError, clause="LOSS-23"),
    _row("multilabel_margin label >= C after the -1",
         lambda L, T: L.multilabel_margin_loss(T(_A), T(np.array([[0, -1, 3], [0, -1, 0]]))),
         RuntimeError, "'target' is out of range", IndexError, clause="LOSS-23", cpu_only=True),
    _row("multilabel_margin label -2",
         lambda L, T: L.multilabel_margin_loss(T(_A), T(np.array([[0, -2, -1], [0, -1, 0]]))),
         RuntimeError, "'target' is out of range", IndexError, clause="LOSS-23", cpu_only=True),
    _row("multilabel_soft_margin 0-d input",
         lambda L, T: L.multilabel_soft_margin_loss(T(np.asarray(1.0)), T(np.asarray(1.0))),
         IndexError, "no dimensions", IndexError, clause="LOSS-30"),
    _row("ctc 4-D log_probs",
         lambda L, T: L.ctc_loss(T(_LP[:, :, None]), T(_ONE), T(np.array([3, 3])),
                                 T(np.array([1, 1]))),
         RuntimeError, "3-dimensional", clause="LOSS-28"),
    _row("ctc input_lengths size",
         lambda L, T: L.ctc_loss(T(_LP), T(_ONE), T(np.array([3, 3, 3])), T(np.array([1, 1]))),
         RuntimeError, "input_lengths must be of size batch_size", clause="LOSS-28"),
    _row("ctc input_lengths beyond T",
         lambda L, T: L.ctc_loss(T(_LP), T(_ONE), T(np.array([4, 3])), T(np.array([1, 1]))),
         RuntimeError, "input_lengths to have value at most 3", clause="LOSS-29"),
    _row("ctc target_lengths beyond S",
         lambda L, T: L.ctc_loss(T(_LP), T(_ONE), T(np.array([3, 3])), T(np.array([1, 2]))),
         RuntimeError, "size at least 2 at dimension 1", clause="LOSS-28"),
    _row("ctc negative target length",
         lambda L, T: L.ctc_loss(T(_LP), T(_ONE), T(np.array([3, 3])), T(np.array([1, -1]))),
         RuntimeError, "target_lengths to have value at least 0", clause="LOSS-28"),
    _row("ctc concatenated targets vs lengths",
         lambda L, T: L.ctc_loss(T(_LP), T(np.ones(3, np.int64)), T(np.array([3, 3])),
                                 T(np.array([1, 1]))),
         RuntimeError, "size 2 at dimension 0", clause="LOSS-28"),
    _row("ctc blank out of range",
         lambda L, T: L.ctc_loss(T(_LP), T(_ONE), T(np.array([3, 3])), T(np.array([1, 1])),
                                 blank=3),
         RuntimeError, "blank must be in label range", clause="LOSS-28"),
    _row("ctc empty batch",
         lambda L, T: L.ctc_loss(T(np.zeros((3, 0, 3))), T(np.zeros((0, 2), np.int64)),
                                 T(np.zeros(0, np.int64)), T(np.zeros(0, np.int64))),
         RuntimeError, "log_probs tensor must not be empty", clause="LOSS-31",
         marks=[AT_LEAST_2_11]),
    _row("asm no cutoffs", lambda L, T: L.ASM(4, 6, []),
         ValueError, "length larger than 0", clause="LOSS-36"),
    *(
        _row(f"asm cutoffs {cutoffs}", lambda L, T, cutoffs=cutoffs: L.ASM(4, 6, cutoffs),
             ValueError, "cutoffs should be a sequence of unique, positive integers",
             clause="LOSS-36")
        for cutoffs in ([3, 2], [0, 2], [2, 6], [2, 2], [2.5])
    ),
    _row("asm target out of range",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((2, 4), np.float32)), T(np.array([0, 6]))),
         RuntimeError, r"Target values should be in \[0, 5\]", IndexError, clause="LOSS-38"),
    _row("asm negative target",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((2, 4), np.float32)), T(np.array([-1, 0]))),
         RuntimeError, r"Target values should be in \[0, 5\]", IndexError, clause="LOSS-38"),
    _row("asm 2-D target",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((2, 4), np.float32)),
                                       T(np.zeros((2, 1), np.int64))),
         RuntimeError, "multi-target not supported", clause="LOSS-38"),
    _row("asm batch sizes",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((2, 4), np.float32)), T(np.zeros(3, np.int64))),
         RuntimeError, "same size in the batch dimension", clause="LOSS-38"),
    _row("asm 2-D input with a 0-d target",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((2, 4), np.float32)), T(np.asarray(0))),
         RuntimeError, "0D target tensor expects 1D input", clause="LOSS-38"),
    _row("asm 3-D input",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((1, 2, 4), np.float32)),
                                       T(np.zeros(1, np.int64))),
         RuntimeError, "1D target tensor expects 2D input", clause="LOSS-38"),
    _row("asm in_features",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((2, 3), np.float32)), T(np.zeros(2, np.int64))),
         RuntimeError, "cannot be multiplied", clause="LOSS-38"),
    _row("asm input dtype",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((2, 4))), T(np.zeros(2, np.int64))),
         RuntimeError, "same dtype", TypeError, clause="LOSS-38"),
    _row("asm float target",
         lambda L, T: L.ASM(4, 6, [2])(T(np.zeros((2, 4), np.float32)), T(np.zeros(2, np.float32))),
         RuntimeError, "Expected dtype", TypeError, clause="LOSS-38"),
    _row("asm log_prob of a 1-D input",
         lambda L, T: L.ASM(4, 6, [2]).log_prob(T(np.zeros(4, np.float32))),
         IndexError, "Dimension out of range", IndexError, clause="LOSS-38"),
]


def _namespaces(device: str) -> tuple[SimpleNamespace, Callable, SimpleNamespace, Callable]:
    def on_device(cls):
        return lambda *args, **kwargs: cls(*args, **kwargs).to(device)

    torch_ns = SimpleNamespace(**vars(F), ASM=on_device(nn.AdaptiveLogSoftmaxWithLoss))
    ref_ns = SimpleNamespace(**vars(losses), ASM=losses.AdaptiveLogSoftmaxWithLoss)
    return torch_ns, (lambda a: to_torch(np.asarray(a), device)), ref_ns, np.asarray


@pytest.mark.spec("LOSS-35")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("call", "torch_error", "keyword", "reference_error", "cpu_only"), ERRORS
)
def test_invalid_inputs_raise_in_torch_and_the_reference(
    device, call, torch_error, keyword, reference_error, cpu_only
):
    """Each row: torch raises its most general stable class with the keyword in its message,
    and the reference raises with the same keyword."""
    if device != "cpu" and cpu_only:
        pytest.skip(CUDA_ASSERT)
    torch_ns, to_t, ref_ns, to_r = _namespaces(device)
    torch_info, _ = assert_both_raise(
        lambda: call(torch_ns, to_t),
        lambda: call(ref_ns, to_r),
        torch_error=torch_error,
        reference_error=reference_error,
        match=keyword,
    )
    assert re.search(keyword, str(torch_info)), f"torch's message lacks {keyword!r}: {torch_info}"


ERROR_TABLE_START = "<!-- the table of invalid calls: tests/test_losses.py ERRORS -->"
ERROR_TABLE_END = "<!-- end of the table -->"


def error_table_markdown() -> str:
    """The table of `ERRORS` as docs/losses.md shows it (one row per invalid call)."""
    rows = ["| invalid call | torch raises | its message contains | clause |",
            "| --- | --- | --- | --- |"]
    for row in ERRORS:
        _, error, keyword, _, cpu_only = row.values
        clause = next(m.args[0] for m in row.marks if m.name == "spec")
        where = " (*CPU*)" if cpu_only else ""
        keyword = keyword.replace("|", "\\|").replace("\\[", "[").replace("\\]", "]")
        rows.append(f"| {row.id}{where} | `{error.__name__}` | `{keyword}` | {clause} |")
    return "\n".join(rows)


@pytest.mark.spec("LOSS-35")
def test_the_losses_page_shows_the_table_of_invalid_calls():
    """The page carries the table as text (the docs build runs no torch); this keeps it
    equal to the rows the test above checks."""
    page = (Path(__file__).parent.parent / "docs" / "losses.md").read_text(encoding="utf-8")
    shown = page.split(ERROR_TABLE_START)[1].split(ERROR_TABLE_END)[0].strip()
    assert shown == error_table_markdown(), "regenerate it: print(error_table_markdown())"


# --- LOSS-36 .. LOSS-38: adaptive softmax -------------------------------------------------


@st.composite
def asm_case(draw):
    """An adaptive softmax (in_features, n_classes, cutoffs, div_value, head_bias), a dtype,
    a seed for its weights, and an input batch with targets (maybe unbatched)."""
    in_features = draw(st.integers(1, 6))
    n_classes = draw(st.integers(2, 8))
    cutoffs = draw(
        st.lists(st.integers(1, n_classes - 1), min_size=1, max_size=3, unique=True).map(sorted)
    )
    div_value = draw(st.sampled_from([1.0, 1.5, 2.0, 4.0]))
    head_bias = draw(st.booleans())
    dtype = draw(float_dtypes())
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(0, 4))
    x = draw(finite_arrays((n, in_features), dtype, min_value=-5, max_value=5))
    index_dtypes = [np.int64, np.int32] if torch_at_least("2.11") else [np.int64]
    index_dtype = draw(st.sampled_from(index_dtypes))
    y = draw(hnp.arrays(index_dtype, (n,), elements=st.integers(0, n_classes - 1)))
    if n and draw(st.booleans()):
        x, y = x[0], y[0]  # unbatched: (in_features,) with a 0-d target
    return (in_features, n_classes, cutoffs, div_value, head_bias), dtype, seed, x, y


def _asm_pair(config, dtype, seed, device):
    """The reference layer with weights drawn from ``seed``, and torch's with them copied in."""
    ref = losses.AdaptiveLogSoftmaxWithLoss(
        *config, dtype=dtype, generator=np.random.default_rng(seed)
    )
    with warnings.catch_warnings():  # a cluster of 0 hidden features: an empty weight
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        module = nn.AdaptiveLogSoftmaxWithLoss(*config, dtype=torch.float64).to(device)
    module.load_state_dict({k: torch.tensor(v) for k, v in ref.state_dict().items()})
    return ref, module.to(getattr(torch, np.dtype(dtype).name))


@pytest.mark.spec("LOSS-37")
@given(asm_case())
def test_adaptive_softmax_matches_the_reference(device, case):
    """output and loss (forward), log_prob (rows are distributions, output is log_prob at the
    target) and predict (a most probable class), on copied weights."""
    config, dtype, seed, x, y = case
    ref, module = _asm_pair(config, dtype, seed, device)
    xt, yt = to_torch(x, device, noncontiguous=True), to_torch(y, device)
    with torch.no_grad():
        output, loss = module(xt, yt)
        expected = ref(x, y)
        assert_matches(output, expected.output)
        assert_matches(loss, expected.loss)
        if x.ndim == 1:
            return
        log_prob = module.log_prob(xt)
        assert_matches(log_prob, ref.log_prob(x))
        assert_matches(torch.logsumexp(log_prob, 1), np.zeros(len(x), dtype), atol=1e-5)
        assert_matches(output, to_numpy(log_prob.gather(1, yt[:, None])[:, 0]), atol=1e-5)
        predicted = module.predict(xt)
        assert to_numpy(predicted).tolist() == ref.predict(x).tolist()
        best = log_prob.max(1).values
        assert_matches(log_prob.gather(1, predicted[:, None])[:, 0], to_numpy(best))


@pytest.mark.spec("LOSS-36")
@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@pytest.mark.parametrize(
    ("in_features", "n_classes", "cutoffs", "div_value", "head_bias"),
    [(8, 10, [3, 6], 2.0, False), (3, 6, [2], 4.0, True), (16, 20, [4, 8, 12], 4.0, False)],
)
def test_adaptive_softmax_variables(in_features, n_classes, cutoffs, div_value, head_bias):
    """Shapes: head (c1 + k, in_features), tail i: (floor(in_features / div^(i+1)),
    in_features) then (c_(i+1) - c_i, that); every entry within 1/sqrt(fan_in)."""
    module = nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value, head_bias)
    ref = losses.AdaptiveLogSoftmaxWithLoss(
        in_features, n_classes, cutoffs, div_value, head_bias, generator=np.random.default_rng(0)
    )
    torch_state = {k: to_numpy(v) for k, v in module.state_dict().items()}
    ref_state = ref.state_dict()
    assert list(torch_state) == list(ref_state)
    edges = [*cutoffs, n_classes]
    expected = {"head.weight": (cutoffs[0] + len(cutoffs), in_features)}
    if head_bias:
        expected["head.bias"] = (cutoffs[0] + len(cutoffs),)
    for i in range(len(cutoffs)):
        hidden = int(in_features // div_value ** (i + 1))
        expected[f"tail.{i}.0.weight"] = (hidden, in_features)
        expected[f"tail.{i}.1.weight"] = (edges[i + 1] - edges[i], hidden)
    for state in (torch_state, ref_state):
        assert {k: v.shape for k, v in state.items()} == expected
        for key, value in state.items():
            fan_in = in_features if key == "head.bias" else value.shape[1]  # weight: (out, in)
            assert value.dtype == np.float32
            if fan_in:  # nn.Linear's init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                assert (np.abs(value) <= 1 / math.sqrt(fan_in) + 1e-7).all()


@pytest.mark.spec("LOSS-37")
def test_adaptive_softmax_of_an_empty_batch_has_a_nan_loss(device):
    ref, module = _asm_pair((4, 6, [2, 4], 2.0, False), np.float32, 0, device)
    x, y = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    output, loss = module(to_torch(x, device), to_torch(y, device))
    expected = ref(x, y)
    assert output.shape == (0,) and math.isnan(loss.item())
    assert_matches(output, expected.output)
    assert_matches(loss, expected.loss)


# --- LOSS-39 .. LOSS-52: backward (issue 18) ----------------------------------------------
#
# Every loss's VJP (reference/losses.py, next to its forward) is held to torch.autograd.grad
# in float64 on random inputs, options and upstream gradients, through one property that
# draws the loss; the differentiable losses of reference/functional.py to the same gradients
# and to torch's grad_fn names; mse_loss and cross_entropy to torch's double backward.

SEEDS = st.integers(0, 2**32 - 1)
BACKWARD_NAMES = [name for name in MODULES]


@pytest.fixture(autouse=True, scope="module")
def _clamp_rule_of_this_release():
    """The hinge corner of the clamp_min losses (LOSS-47): the reference states both rules
    (``losses.CLAMP_MIN_PASSES_AT_ZERO``), this picks the installed release's."""
    with pytest.MonkeyPatch.context() as patch:
        if not torch_at_least("2.14"):
            patch.setattr(losses, "CLAMP_MIN_PASSES_AT_ZERO", True)
        yield


def _values(draw, shape, low=-5.0, high=5.0) -> np.ndarray:
    """float64 values from one drawn seed (cheap): half the time small integers, half the
    time halves (so kinks, ties and hinge corners are hit), otherwise uniform floats."""
    rng = np.random.default_rng(draw(SEEDS))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        values = rng.integers(math.ceil(low), math.floor(high) + 1, shape)
    elif kind == 1:
        values = np.clip(rng.integers(int(2 * low), int(2 * high) + 1, shape) / 2, low, high)
    else:
        values = rng.uniform(low, high, shape)
    return np.asarray(values, dtype=np.float64)


def _broadcast_pair(draw, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Now and then one of the pair keeps only the first entry of its last dim (it then
    broadcasts against the other)."""
    if x.ndim and x.shape[-1] > 1 and draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            return x, y[..., :1]
        return x[..., :1], y
    return x, y


def _pointwise_arrays(draw, low=-5.0, high=5.0, target_low=None, target_high=None,
                      special=False, min_dims=0):
    shape = draw(shapes(min_dims=min_dims, max_dims=3, max_side=4))
    x = _values(draw, shape, low, high)
    if special:
        x = draw(nonfinite(st.just(x)))
    y = _values(draw, shape, low if target_low is None else target_low,
                high if target_high is None else target_high)
    return x, y


# Each builder draws one call: (positional arrays, keyword options, and the gradients to
# compare as (argument, index in the VJP's result); an argument is a position or a keyword).


def _l1_mse_case(draw, reduction, name):
    x, y = _broadcast_pair(draw, *_pointwise_arrays(draw, special=True))
    options = {"reduction": reduction}
    grads = [(0, 0), (1, 1)]
    if name != "smooth_l1_loss" and POINTWISE_WEIGHT and draw(st.booleans()):
        options["weight"] = _values(draw, x.shape, 0.125, 3.0)
        grads.append(("weight", 2))
    if name == "smooth_l1_loss":
        options["beta"] = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    if name == "huber_loss":
        options["delta"] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return [x, y], options, grads


def _poisson_case(draw, reduction, name):
    x, y = _broadcast_pair(draw, *_pointwise_arrays(draw, -3.0, 3.0, 0.0, 6.0))
    log_input, full = draw(st.booleans()), draw(st.booleans())
    if not log_input:
        x = np.abs(x)  # a rate
    options = {"log_input": log_input, "full": full, "reduction": reduction}
    return [x, y], options, [(0, 0), (1, 1)]


def _kl_case(draw, reduction, name):
    x, y = _broadcast_pair(draw, *_pointwise_arrays(draw, -5.0, 0.0, 0.0, 2.0))
    log_target = draw(st.booleans())
    reduction = draw(st.sampled_from([reduction, "batchmean"]))
    return [x, y - 1.0 if log_target else y], {"reduction": reduction,
                                               "log_target": log_target}, [(0, 0), (1, 1)]


def _bce_case(draw, reduction, name):
    logits = name == "binary_cross_entropy_with_logits"
    x, y = _pointwise_arrays(draw, -8.0 if logits else 0.0, 8.0 if logits else 1.0, 0.0, 1.0,
                             min_dims=1 if logits else 0)
    options = {"reduction": reduction}
    if x.ndim and draw(st.booleans()):
        options["weight"] = _values(draw, x.shape[-1:], 0.125, 3.0)
    if logits and draw(st.booleans()):
        options["pos_weight"] = _values(draw, x.shape[-1:], 0.125, 5.0)
    return [x, y], options, [(0, 0), (1, 1)]


def _class_case(draw, reduction, name):
    # (a (C,) input's (1,) target: see test_a_C_input_with_a_1_target_has_a_gradient)
    x, target, n_classes = draw(classification_case(
        ignore_index=draw(st.sampled_from([None, -100]))))
    x = _values(draw, x.shape, -6.0, 6.0)
    options = {"reduction": reduction}
    if draw(st.booleans()):
        options["weight"] = _values(draw, (n_classes,), 0.125, 3.0)
    if draw(st.integers(0, 3)) == 0:  # a real class is ignored instead
        options["ignore_index"] = draw(st.integers(0, n_classes - 1))
        target = np.where(target == -100, options["ignore_index"], target)
    grads = [(0, 0)]
    if name == "cross_entropy":
        smoothing = draw(st.sampled_from([0.0, 0.0, 0.25, 1.0]))
        options["label_smoothing"] = smoothing
        if draw(st.integers(0, 2)) == 0:  # class probabilities: target and weight differentiable
            target = _values(draw, x.shape, 0.0, 1.0)
            options.pop("ignore_index", None)
            grads += [(1, 1)] + ([("weight", 2)] if "weight" in options else [])
        elif x.ndim == 1 and target.ndim == 1 and smoothing and reduction == "none":
            options["reduction"] = "mean"  # torch refuses to smooth a (C,) input's (1,) target
    return [x, target], options, grads


def _ranking_case(draw, reduction, name):
    shape = draw(shapes(max_dims=3, max_side=4))
    x1, x2 = _values(draw, shape), _values(draw, shape)
    target_shape = tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in shape)
    signs = st.sampled_from([-1.0, 1.0, 1.0, 0.5]) if name == "hinge_embedding_loss" else SIGNS
    y = draw(hnp.arrays(np.float64, target_shape, elements=signs))
    margin = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    if name == "margin_ranking_loss":
        return [x1, x2, y], {"margin": margin, "reduction": reduction}, [(0, 0), (1, 1), (2, 2)]
    if name == "hinge_embedding_loss":
        return [x1, y], {"margin": margin, "reduction": reduction}, [(0, 0)]
    return [4 * x1, y], {"reduction": reduction}, [(0, 0)]  # soft margin


def _multi_class_case(draw, reduction, name):
    (x,) = draw(vectors(1, dims=(0, 1, 2), dtype=np.float64))
    x = _values(draw, x.shape, -2.0, 2.0)
    n_classes = x.shape[-1] if x.ndim else 1
    if name == "multilabel_margin_loss":
        shape = draw(st.sampled_from([(), (1,)])) if x.ndim == 0 else x.shape
        labels = draw(hnp.arrays(np.int64, shape, elements=st.integers(-1, n_classes - 1)))
        return [x, labels], {"reduction": reduction}, [(0, 0)]
    shape = x.shape[:-1] if x.ndim == 2 else draw(st.sampled_from([(), (1,)]))
    options = {"p": draw(st.sampled_from([1, 2])), "margin": draw(st.sampled_from([0.0, 1.0])),
               "reduction": reduction}
    if draw(st.booleans()):
        options["weight"] = _values(draw, (n_classes,), 0.125, 3.0)
    return [x, draw(class_targets(shape, n_classes))], options, [(0, 0)]


def _soft_multilabel_case(draw, reduction, name):
    (x,) = draw(vectors(1, dims=(1, 2, 3), dtype=np.float64))
    x, y = _values(draw, x.shape, -8.0, 8.0), _values(draw, x.shape, 0.0, 1.0)
    options, grads = {"reduction": reduction}, [(0, 0), (1, 1)]
    if draw(st.booleans()):
        options["weight"] = _values(draw, x.shape[-1:], 0.125, 3.0)
        grads.append(("weight", 2))
    return [x, y], options, grads


def _cosine_case(draw, reduction, name):
    x1, x2 = draw(vectors(2, dtype=np.float64))
    x1, x2 = _values(draw, x1.shape, -2.0, 2.0), _values(draw, x2.shape, -2.0, 2.0)
    if x2.ndim == 2 and len(x2) and draw(st.booleans()):
        x2 = x2[:1]
    y = draw(hnp.arrays(np.float64, x1.shape[:-1], elements=st.sampled_from([-1.0, 0.0, 1.0])))
    margin = draw(st.sampled_from([-0.5, 0.0, 0.5]))
    return [x1, x2, y], {"margin": margin, "reduction": reduction}, [(0, 0), (1, 1)]


def _triplet_case(draw, reduction, name):
    arrays = draw(vectors(3, dims=(0, 1, 2), dtype=np.float64))
    anchor, positive, negative = (_values(draw, a.shape, -2.0, 2.0) for a in arrays)
    if negative.ndim == 2 and len(negative) > 1 and draw(st.booleans()):
        negative = negative[:1]
    options = {
        "margin": draw(st.sampled_from([0.5, 1.0, 2.0])),
        "p": draw(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf])),
        "eps": draw(st.sampled_from([1e-6, 0.0])),
        "swap": draw(st.booleans()),
        "reduction": reduction,
    }
    return [anchor, positive, negative], options, [(0, 0), (1, 1), (2, 2)]


def _without_blank_labels(arrays: list, blank: int) -> list:
    """The CTC arrays with every target label equal to the blank moved to the next class:
    torch's docs forbid the blank as a label, and its CPU backward then drops a path's share
    at the last step (LOSS-49, test_ctc_gradient_of_a_blank_last_label)."""
    n_classes = arrays[0].shape[-1]
    targets = np.where(arrays[1] == blank, (blank + 1) % n_classes, arrays[1])
    return [arrays[0], targets, *arrays[2:]]


def _ctc_backward_case(draw, reduction, name):
    arrays, blank = draw(ctc_case())
    arrays = _without_blank_labels(arrays, blank)
    logits = arrays[0].astype(np.float64)  # log-probabilities, read as logits: log_softmax keeps
    options = {"blank": blank, "reduction": reduction, "zero_infinity": draw(st.booleans())}
    return [logits, *arrays[1:]], options, [(0, 0)]


_BACKWARD_CASES = {
    "l1_loss": _l1_mse_case, "mse_loss": _l1_mse_case, "smooth_l1_loss": _l1_mse_case,
    "huber_loss": _l1_mse_case, "poisson_nll_loss": _poisson_case, "kl_div": _kl_case,
    "binary_cross_entropy": _bce_case, "binary_cross_entropy_with_logits": _bce_case,
    "cross_entropy": _class_case, "nll_loss": _class_case,
    "margin_ranking_loss": _ranking_case, "hinge_embedding_loss": _ranking_case,
    "soft_margin_loss": _ranking_case, "multilabel_margin_loss": _multi_class_case,
    "multi_margin_loss": _multi_class_case, "multilabel_soft_margin_loss": _soft_multilabel_case,
    "cosine_embedding_loss": _cosine_case, "triplet_margin_loss": _triplet_case,
    "ctc_loss": _ctc_backward_case,
}


@st.composite
def backward_case(draw, names=tuple(_BACKWARD_CASES)):
    name = draw(st.sampled_from(names))
    arrays, options, grads = _BACKWARD_CASES[name](draw, draw(REDUCTIONS), name)
    arrays = [np.asarray(a) if isinstance(a, np.generic) else a for a in arrays]
    return name, arrays, options, grads, draw(st.booleans()), draw(SEEDS)


def _torch_backward(device, name, arrays, options, grads, noncontiguous, seed):
    """torch's loss on ``device`` (the differentiable arrays as non-contiguous leaves when
    asked), a random upstream gradient ``g`` and the gradients, None turned into zeros."""
    wanted = {where for where, _ in grads}
    leaves = {}

    def make(where, value):
        if not isinstance(value, np.ndarray):
            return value
        if where in wanted:
            leaves[where] = to_torch(value, device, requires_grad=True,
                                     noncontiguous=noncontiguous)
            return leaves[where]
        return to_torch(value, device)

    args = [make(i, a) for i, a in enumerate(arrays)]
    kwargs = {k: make(k, v) for k, v in options.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # size warnings, kl_div's 'mean'
        if name == "ctc_loss":  # log-probabilities from a log_softmax of the logits
            out = F.ctc_loss(args[0].log_softmax(-1), *args[1:], **kwargs)
        else:
            out = getattr(F, name)(*args, **kwargs)
    g = np.random.default_rng(seed).standard_normal(tuple(out.shape))
    order = [where for where, _ in grads]
    got = torch.autograd.grad(out, [leaves[w] for w in order], to_torch(g, device),
                              allow_unused=True)
    result = {w: torch.zeros_like(leaves[w]) if t is None else t
              for w, t in zip(order, got, strict=True)}
    return out, g, result


def _reference_vjp(name, arrays, options, g):
    """``losses.<name>_backward`` on the same call; for CTC, through the log_softmax."""
    if name == "ctc_loss":
        log_p = losses._log_softmax(arrays[0], -1)
        grad = losses.ctc_loss_backward(g, log_p, *arrays[1:], **options)
        return (losses._log_softmax_backward(grad, log_p, -1),)
    result = getattr(losses, f"{name}_backward")(g, *arrays, **options)
    return result if isinstance(result, tuple) else (result,)


def _functional_backward(name, arrays, options, grads, g):
    """``reference.functional.<name>`` on reference tensors: its output and gradients."""
    wanted = {where for where, _ in grads}
    leaves = {}

    def make(where, value):
        if where in wanted:
            leaves[where] = ag.Tensor(value, requires_grad=True)
            return leaves[where]
        return value

    args = [make(i, a) for i, a in enumerate(arrays)]
    kwargs = {k: make(k, v) for k, v in options.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if name == "ctc_loss":
            args[0] = rf._LossLogSoftmax.apply(args[0], dim=-1)
        out = getattr(rf, name)(*args, **kwargs)
    order = [where for where, _ in grads]
    got = ag.grad(out, [leaves[w] for w in order], g, allow_unused=True)
    return out, {w: np.zeros(leaves[w].shape) if a is None else a
                 for w, a in zip(order, got, strict=True)}


def _close(expected, actual) -> None:
    """``assert_matches`` at the float64 tolerance, with a NumPy fast path when it passes."""
    host, arr = to_numpy(expected), np.asarray(actual)
    tol = TOLERANCES[torch.float64]
    if not (host.shape == arr.shape and host.dtype == arr.dtype == np.float64
            and np.allclose(arr, host, rtol=tol["rtol"], atol=tol["atol"], equal_nan=True)):
        assert_matches(expected, actual)


@pytest.mark.spec("LOSS-39", "LOSS-40", "LOSS-42", "LOSS-43", "LOSS-44", "LOSS-45", "LOSS-46",
                  "LOSS-47", "LOSS-48", "LOSS-49")
@given(backward_case())
@example(("cross_entropy", [np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.0]]), np.array([1, 0])],
          {"weight": np.array([1.0, 2.0, 3.0]), "label_smoothing": 0.25, "reduction": "mean"},
          [(0, 0)], False, 0))  # the notes' logits: smoothing, weighted mean
@example(("multilabel_margin_loss", [np.zeros((0, 1)), np.zeros((0, 1), np.int64)],
          {"reduction": "mean"}, [(0, 0)], False, 0))  # torch's value unwritten (LOSS-31)
@example(("smooth_l1_loss", [np.array([0.5, -3.0, 1.0, 2.0]), np.array([0.0, 0.0, 2.0, 0.0])],
          {"reduction": "sum", "beta": 2.0}, [(0, 0), (1, 1)], False, 0))  # d / beta inside
def test_loss_vjps_match_torch_autograd(device, case):
    """Each loss's VJP, and reference.functional's gradients and node name, equal torch's on
    a random call and upstream gradient (every reduction and option, broadcast targets,
    probabilities, ignored targets, hinge corners, NaN and inf where elementwise)."""
    name, arrays, options, grads, noncontiguous, seed = case
    out, g, expected = _torch_backward(device, name, arrays, options, grads, noncontiguous, seed)
    vjp = _reference_vjp(name, arrays, options, g)
    for where, index in grads:
        _close(expected[where], vjp[index])
    r_out, actual = _functional_backward(name, arrays, options, grads, g)
    uninitialized = (name in ("multi_margin_loss", "multilabel_margin_loss")
                     and arrays[0].size == 0 and options["reduction"] != "none")
    if not uninitialized:  # torch's reduced value of an empty batch is not written (LOSS-31)
        _close(out, r_out.data)
    for where, _ in grads:
        _close(expected[where], actual[where])
    assert r_out.grad_fn.name() == out.grad_fn.name()


def _node_forms() -> list:
    """(id, loss, positional arrays, options): every input form of every loss once."""
    rng = np.random.default_rng(39)

    def r(*shape, low=-2.0, high=2.0):
        return rng.uniform(low, high, shape)

    forms = []
    for reduction in ("none", "mean", "sum"):
        for name in ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"):
            forms += [
                (f"{name}-{reduction}", name, [r(2, 3), r(2, 3)], {"reduction": reduction}),
                (f"{name}-{reduction}-0d", name, [r(), r()], {"reduction": reduction}),
                (f"{name}-{reduction}-broadcast", name, [r(2, 1), r(3)], {"reduction": reduction}),
                (f"{name}-{reduction}-empty", name, [r(0, 3), r(0, 3)], {"reduction": reduction}),
            ]
            if name != "smooth_l1_loss" and POINTWISE_WEIGHT:
                forms.append((f"{name}-{reduction}-weight", name, [r(2, 3), r(2, 3)],
                              {"reduction": reduction, "weight": r(2, 3, low=0.1)}))
        forms.append((f"smooth_l1_loss-{reduction}-beta0", "smooth_l1_loss", [r(2, 3), r(2, 3)],
                      {"reduction": reduction, "beta": 0.0}))
        forms.append((f"smooth_l1_loss-{reduction}-beta2", "smooth_l1_loss", [r(2, 3), r(2, 3)],
                      {"reduction": reduction, "beta": 2.0}))
        for log_input in (True, False):
            for full in (False, True):
                forms.append((f"poisson-{reduction}-log{log_input}-full{full}",
                              "poisson_nll_loss", [r(2, 3, low=0.1), r(2, 3, low=0.0, high=4.0)],
                              {"log_input": log_input, "full": full, "reduction": reduction}))
        for log_target in (False, True):
            forms.append((f"kl_div-{reduction}-log{log_target}", "kl_div",
                          [r(2, 3), r(2, 3, low=0.1)],
                          {"reduction": reduction, "log_target": log_target}))
        forms += [
            (f"bce-{reduction}", "binary_cross_entropy", [r(2, 3, low=0.1, high=0.9),
             r(2, 3, low=0.0, high=1.0)], {"reduction": reduction, "weight": r(3, low=0.1)}),
            (f"bce-logits-{reduction}", "binary_cross_entropy_with_logits", [r(2, 3),
             r(2, 3, low=0.0, high=1.0)], {"reduction": reduction, "pos_weight": r(3, low=0.1)}),
            (f"ranking-{reduction}", "margin_ranking_loss", [r(3), r(3), np.array([1.0, -1, 1])],
             {"reduction": reduction, "margin": 0.5}),
            (f"hinge-{reduction}", "hinge_embedding_loss", [r(3), np.array([1.0, -1, 1])],
             {"reduction": reduction}),
            (f"soft-margin-{reduction}", "soft_margin_loss", [r(2, 3), np.sign(r(2, 3))],
             {"reduction": reduction}),
            (f"multilabel-margin-{reduction}", "multilabel_margin_loss",
             [r(2, 4), np.array([[3, 0, -1, 1], [1, -1, 0, 0]])], {"reduction": reduction}),
            (f"multilabel-margin-{reduction}-1d", "multilabel_margin_loss",
             [r(4), np.array([3, 0, -1, 1])], {"reduction": reduction}),
            (f"multilabel-soft-{reduction}", "multilabel_soft_margin_loss",
             [r(2, 4), r(2, 4, low=0.0, high=1.0), r(4, low=0.1)], {"reduction": reduction}),
            (f"cosine-{reduction}", "cosine_embedding_loss", [r(3, 4), r(3, 4),
             np.array([1.0, -1, -1])], {"reduction": reduction}),
            (f"cosine-{reduction}-1d", "cosine_embedding_loss", [r(4), r(4), np.array(1.0)],
             {"reduction": reduction}),
            (f"multi-margin-{reduction}", "multi_margin_loss", [r(2, 4), np.array([1, 3])],
             {"reduction": reduction, "p": 2, "weight": r(4, low=0.1)}),
            (f"multi-margin-{reduction}-1d", "multi_margin_loss", [r(4), np.array(1)],
             {"reduction": reduction}),
            (f"triplet-{reduction}", "triplet_margin_loss", [r(2, 4), r(2, 4), r(2, 4)],
             {"reduction": reduction, "swap": True}),
            (f"triplet-{reduction}-0d", "triplet_margin_loss", [r(), r(), r()],
             {"reduction": reduction}),
        ]
        for zero_infinity in (False, True):
            logits = r(5, 2, 4)
            forms += [
                (f"ctc-{reduction}-zi{zero_infinity}", "ctc_loss",
                 [logits, np.array([[1, 2], [3, 0]]), np.array([5, 4]), np.array([2, 1])],
                 {"reduction": reduction, "zero_infinity": zero_infinity}),
                (f"ctc-{reduction}-zi{zero_infinity}-concatenated", "ctc_loss",
                 [logits, np.array([1, 2, 3]), np.array([5, 4]), np.array([2, 1])],
                 {"reduction": reduction, "zero_infinity": zero_infinity}),
                (f"ctc-{reduction}-zi{zero_infinity}-unbatched", "ctc_loss",
                 [logits[:, 0], np.array([1, 2]), np.array(5), np.array(2)],
                 {"reduction": reduction, "zero_infinity": zero_infinity}),
            ]
        for ndim in (1, 2, 3, 4, 5):
            shape = (3,) if ndim == 1 else (2, 3) + (2,) * (ndim - 2)
            labels = rng.integers(0, 3, () if ndim == 1 else (2,) + (2,) * (ndim - 2))
            forms.append((f"nll-{reduction}-{ndim}d", "nll_loss", [r(*shape), labels],
                          {"reduction": reduction}))
            for smoothing in (0.0, 0.2):
                options = {"reduction": reduction, "label_smoothing": smoothing}
                forms += [
                    (f"ce-{reduction}-{ndim}d-ls{smoothing}", "cross_entropy",
                     [r(*shape), labels], {**options, "weight": r(3, low=0.1)}),
                    (f"ce-{reduction}-{ndim}d-ls{smoothing}-probabilities", "cross_entropy",
                     [r(*shape), r(*shape, low=0.0, high=1.0)], options),
                ]
        forms += [
            (f"ce-{reduction}-empty", "cross_entropy", [r(0, 3), np.zeros(0, np.int64)],
             {"reduction": reduction}),
            (f"ce-{reduction}-empty-probabilities", "cross_entropy", [r(0, 3), r(0, 3)],
             {"reduction": reduction}),
            (f"ce-{reduction}-legacy", "cross_entropy", [r(2, 3), np.array([0, 2])],
             {"size_average": False}),
        ]
    forms += [
        ("kl_div-batchmean", "kl_div", [r(2, 3), r(2, 3, low=0.1)], {"reduction": "batchmean"}),
        ("kl_div-batchmean-0d", "kl_div", [r(), r(low=0.1)], {"reduction": "batchmean"}),
        ("mse-legacy-reduce-false", "mse_loss", [r(2, 3), r(2, 3)], {"reduce": False}),
    ]
    return forms


NODE_FORMS = _node_forms()


@pytest.mark.spec("LOSS-39")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted({form[1] for form in NODE_FORMS}))
def test_functional_losses_record_torchs_node_on_every_form(device, name):
    """reference.functional.<name> records torch's grad_fn (the last node of torch's own
    decomposition) on every input form, with torch's value and input gradient."""
    for form_id, loss, arrays, options in NODE_FORMS:
        if loss != name:
            continue
        grads = [(0, 0)]
        out, g, expected = _torch_backward(device, loss, arrays, options, grads, False, 0)
        r_out, actual = _functional_backward(loss, arrays, options, grads, g)
        assert r_out.grad_fn.name() == out.grad_fn.name(), form_id
        _close(out, r_out.data)
        _close(expected[0], actual[0])


@pytest.mark.spec("LOSS-39")
@pytest.mark.parametrize("name", sorted(MODULES))
def test_functional_losses_have_torchs_signature(name):
    """Named and signed as torch.nn.functional (and as reference.losses): a release without
    a newer parameter (weight= of l1/mse/huber before 2.11) has the others, in order."""
    mine = list(inspect.signature(getattr(rf, name)).parameters.values())
    assert [(p.name, p.default) for p in mine] == [
        (p.name, p.default) for p in inspect.signature(getattr(losses, name)).parameters.values()
    ]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(F, name)).parameters.values()]
    assert [(p.name, p.default) for p in mine][: len(theirs)] == theirs
    assert all(p.name == "weight" for p in mine[len(theirs):])


_CORNER = 0.0 if torch_at_least("2.14") else 1.0  # clamp_min's gradient at z = 0 (LOSS-47)
_EPS32 = float(np.float32(1e-12))

# (id, loss, arrays, options, differentiated argument, its gradient of sum(loss)): the kinks
# and the clamps, pinned in torch and in the reference.
KINKS = [
    ("l1-at-zero", "l1_loss", [np.array([1.0, 2.0]), np.array([1.0, 3.0])], {}, 0,
     np.array([0.0, -1.0])),
    ("smooth-l1-at-beta", "smooth_l1_loss",
     [np.array([1.5, -0.5, 0.0, 0.25]), np.array([0.5, 0.5, 0.0, 0.0])], {"beta": 1.0}, 0,
     np.array([1.0, -1.0, 0.0, 0.25])),
    ("smooth-l1-beta-0-at-zero", "smooth_l1_loss",
     [np.array([1.0, 2.0]), np.array([1.0, 3.0])], {"beta": 0.0}, 0, np.array([0.0, -1.0])),
    ("huber-at-delta", "huber_loss", [np.array([2.5, -1.5, 3.0]), np.array([0.5, 0.5, 0.0])],
     {"delta": 2.0}, 0, np.array([2.0, -2.0, 2.0])),
    ("bce-clamp", "binary_cross_entropy",
     [np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])], {}, 0,
     np.array([-1 / _EPS32, 1 / _EPS32, 0.0, 0.0])),
    ("bce-clamp-target", "binary_cross_entropy",
     [np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.0])], {}, 1,
     np.array([np.inf, -np.inf, 0.0])),
    ("soft-margin-overflow", "soft_margin_loss",
     [np.array([-1000.0, 1000.0, -30.0]), np.array([1.0, -1.0, 1.0])], {}, 0,
     np.array([np.nan, np.nan, -1.0 / (1.0 + math.exp(-30.0))])),
    ("poisson-full-target-at-zero", "poisson_nll_loss",
     [np.array([0.5, 0.5, 0.5]), np.array([0.0, 1.0, 2.0])], {"full": True}, 1,
     np.array([np.nan, -0.5, -0.5 + math.log(2.0) + 0.25])),
    ("kl-target-at-zero", "kl_div", [np.array([-1.0, -1.0]), np.array([0.0, 0.5])], {}, 1,
     np.array([np.nan, math.log(0.5) + 2.0])),
    ("ranking-corner", "margin_ranking_loss",
     [np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([1.0, -1.0])], {}, 0,
     np.array([-_CORNER, _CORNER])),
    ("hinge-corner", "hinge_embedding_loss", [np.array([1.0, 0.5]), np.array([-1.0, -1.0])],
     {}, 0, np.array([-_CORNER, -1.0])),
    ("cosine-corner", "cosine_embedding_loss",  # cos = margin = 0 exactly
     [np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([-1.0])], {"margin": 0.0}, 1,
     np.array([[_CORNER / (1 + 1e-12), 0.0]])),
    ("triplet-corner", "triplet_margin_loss",
     [np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[2.0, 0.0]])],
     {"eps": 0.0, "margin": 1.0}, 1, np.array([[_CORNER, 0.0]])),
    ("multi-margin-corner", "multi_margin_loss", [np.array([[1.0, 0.0, 0.5]]), np.array([0])],
     {}, 0, np.array([[-1 / 3, 0.0, 1 / 3]])),
    ("multilabel-margin-corner", "multilabel_margin_loss",
     [np.array([[1.0, 0.0, 0.5]]), np.array([[0, -1, 0]])], {}, 0,
     np.array([[-1 / 3, 0.0, 1 / 3]])),
    ("triplet-swap-tie", "triplet_margin_loss",
     [np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[1.0, 1.0]])],
     {"eps": 0.0, "margin": 10.0, "swap": True}, 2, np.array([[0.0, -math.sqrt(0.5)]])),
    ("triplet-max-norm-tie", "triplet_margin_loss",
     [np.array([[1.0, -1.0, 0.5]]), np.zeros((1, 3)), np.array([[3.0, 1.0, 2.0]])],
     {"eps": 0.0, "margin": 10.0, "p": math.inf}, 0, np.array([[1.0, 0.0, 0.0]])),
]


@pytest.mark.spec("LOSS-41", "LOSS-43", "LOSS-44", "LOSS-46", "LOSS-47", "LOSS-48")
@pytest.mark.parametrize("case", KINKS, ids=[k[0] for k in KINKS])
def test_gradients_at_kinks_and_clamps(device, case):
    """Where a loss is not differentiable (or is clamped), the gradient torch defines, in
    torch and in the reference."""
    _, name, arrays, options, argument, expected = case
    options = {"reduction": "sum", **options}
    tensors = [to_torch(a, device, requires_grad=(i == argument)) for i, a in enumerate(arrays)]
    (got,) = torch.autograd.grad(getattr(F, name)(*tensors, **options), tensors[argument])
    assert_matches(got, expected)
    vjp = _reference_vjp(name, arrays, options, np.ones(()))
    assert_matches(torch.as_tensor(vjp[argument]), expected)


@pytest.mark.spec("LOSS-49")
@known_torch_bug(
    fixed_in=None, issue="pytorch/pytorch#52241",
    why="ctc_loss's gradient with respect to log_probs is exp(log_probs) - gamma, the gradient "
        "with respect to the logits of a log_softmax, not the derivative -gamma (also "
        "pytorch/pytorch#181534, #82545); checked on torch 2.4.1, 2.11, 2.13 and 2.14",
)
def test_ctc_gradient_with_respect_to_log_probs_is_the_derivative(device):
    lp = losses._log_softmax(np.random.default_rng(49).standard_normal((4, 1, 3)), -1)
    args = (np.array([[1, 2]]), np.array([4]), np.array([2]))
    tlp = to_torch(lp, device, requires_grad=True)
    loss = F.ctc_loss(tlp, *(to_torch(a, device) for a in args), reduction="sum")
    (grad,) = torch.autograd.grad(loss, tlp)
    assert_matches(grad, losses.ctc_loss_backward(np.ones(()), lp, *args, reduction="sum"))


@pytest.mark.spec("LOSS-49")
@given(ctc_case(), REDUCTIONS, st.booleans(), SEEDS)
@example(([np.array([[[np.nan, -math.log(2.0)]]]), np.array([[0, 0]]), np.array([1]),
           np.array([2])], 0), "none", True, 0)  # zeroed sample with a NaN: not NaN * 0
@example(([np.array([[[np.nan, -math.log(2.0)]]]), np.array([[1]]), np.array([1]),
           np.array([1])], 0), "none", False, 0)  # a NaN stays in its class
@example(([np.where(np.arange(6).reshape(2, 1, 3) == 0, np.nan, -math.log(3.0)),
            np.array([[2, 1]]), np.array([2]), np.array([2])], 0), "sum", False, 0)
# (the NaN blank at step 0 makes alpha NaN at a position of class 2 at the last step that
# cannot reach the end: the loss is finite, and torch counts only the end positions there)
def test_ctc_torch_gradient_is_the_derivative_plus_the_probabilities(
    device, case, reduction, zero_infinity, seed
):
    """What torch returns for log_probs: the reference's derivative plus exp(log_probs)
    times the sample's upstream gradient, at the steps within the input length of each
    sample whose loss is kept (finite, or not zeroed by zero_infinity)."""
    arrays, blank = case
    arrays = _without_blank_labels(arrays, blank)
    lp = arrays[0].astype(np.float64)
    options = {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity}
    tlp = to_torch(lp, device, requires_grad=True)
    rest = [to_torch(a, device) for a in arrays[1:]]
    out = F.ctc_loss(tlp, *rest, **options)
    g = np.random.default_rng(seed).standard_normal(tuple(out.shape))
    (grad,) = torch.autograd.grad(out, tlp, to_torch(g, device))
    derivative = losses.ctc_loss_backward(g, lp, *arrays[1:], **options)
    batched = lp.ndim == 3
    lengths = np.reshape(arrays[3], -1)
    per_sample = np.broadcast_to(np.reshape(g, -1), lengths.shape).astype(np.float64)
    if reduction == "mean":
        per_sample = per_sample / np.maximum(lengths, 1) / lengths.size
    nll = losses.ctc_loss(lp, *arrays[1:], blank=blank, reduction="none")
    kept = ~(zero_infinity & (np.reshape(nll, -1) == np.inf))
    steps = np.arange(lp.shape[0])[:, None] < np.reshape(arrays[2], -1)[None, :]
    extra = np.exp(lp if batched else lp[:, None]) * per_sample[None, :, None]
    extra = np.where(steps[:, :, None] & kept[None, :, None], extra, 0)  # not NaN * 0
    assert_matches(grad, derivative + (extra if batched else extra[:, 0]))


@pytest.mark.spec("LOSS-49")
def test_ctc_gradient_of_a_blank_last_label(device):
    """A target whose last label is the blank (torch's docs forbid it; the forward counts
    its paths all the same): log_probs log(0.5) everywhere, T = 2, target [0], blank 0, so
    every lattice position is class 0 and the derivative is -1 at both steps. torch's CPU
    kernel seeds the last step's class-0 posterior with the position 2S and then overwrites
    it with position 2S - 1 (it assumes the two classes differ): 2/3 instead of 1, so its
    gradient there is 0.5 - 2/3 = -1/6 instead of exp(lp) - 1 = -0.5."""
    if device != "cpu":
        pytest.skip("the CPU kernel's rule; CUDA's blank-label gradient is not checked here "
                    "(no GPU was available when it was written)")
    lp = np.full((2, 1, 2), math.log(0.5))
    args = (np.array([[0]]), np.array([2]), np.array([1]))
    tlp = to_torch(lp, device, requires_grad=True)
    loss = F.ctc_loss(tlp, *(to_torch(a, device) for a in args), reduction="sum")
    assert_matches(loss, np.asarray(-math.log(0.75)))
    (grad,) = torch.autograd.grad(loss, tlp)
    assert_matches(grad, np.array([[[-0.5, 0.5]], [[0.5 - 2 / 3, 0.5]]]))
    derivative = losses.ctc_loss_backward(np.ones(()), lp, *args, reduction="sum")
    assert_matches(torch.as_tensor(derivative), np.array([[[-1.0, 0.0]], [[-1.0, 0.0]]]))


# (loss, its arrays, the keyword that requires grad, torch's function name in the message)
NOT_DIFFERENTIABLE = [
    ("nll_loss", [np.zeros((2, 3)), np.array([0, 2])], "weight", "nll_loss_forward"),
    ("cross_entropy", [np.zeros((2, 3)), np.array([0, 2])], "weight", "nll_loss_forward"),
    ("binary_cross_entropy", [np.full((2, 3), 0.5), np.full((2, 3), 0.5)], "weight",
     "binary_cross_entropy"),
    ("binary_cross_entropy_with_logits", [np.zeros((2, 3)), np.full((2, 3), 0.5)], "weight",
     "binary_cross_entropy_with_logits"),
    ("binary_cross_entropy_with_logits", [np.zeros((2, 3)), np.full((2, 3), 0.5)],
     "pos_weight", "binary_cross_entropy_with_logits"),
    ("multi_margin_loss", [np.zeros((2, 3)), np.array([0, 2])], "weight", "multi_margin_loss"),
    ("soft_margin_loss", [np.zeros((2, 3)), np.ones((2, 3))], "target", "soft_margin_loss"),
]


@pytest.mark.spec("LOSS-50")
@pytest.mark.parametrize("name, arrays, argument, function", NOT_DIFFERENTIABLE,
                         ids=[f"{c[0]}-{c[2]}" for c in NOT_DIFFERENTIABLE])
def test_arguments_torch_does_not_differentiate_refuse_requires_grad(
    device, name, arrays, argument, function
):
    """A weight (or soft margin's target) that requires grad raises in grad mode, naming
    the argument; under no_grad it is accepted. Without requires_grad the loss records its
    node and the other arguments' gradients (test_loss_vjps_match_torch_autograd)."""
    value = np.ones(3) if argument != "target" else arrays[1]
    t_args = [to_torch(a, device, requires_grad=a.dtype == np.float64 and i == 0)
              for i, a in enumerate(arrays)]
    r_args = [ag.Tensor(a, requires_grad=a.dtype == np.float64 and i == 0)
              for i, a in enumerate(arrays)]
    if argument == "target":
        t_args[1], r_args[1] = to_torch(value, device, requires_grad=True), ag.Tensor(
            value, requires_grad=True)
        t_kwargs, r_kwargs = {}, {}
    else:
        t_kwargs = {argument: to_torch(value, device, requires_grad=True)}
        r_kwargs = {argument: ag.Tensor(value, requires_grad=True)}
    keyword = f"not differentiable with respect to argument '{argument}'"
    assert_both_raise(lambda: getattr(F, name)(*t_args, **t_kwargs),
                      lambda: getattr(rf, name)(*r_args, **r_kwargs),
                      torch_error=RuntimeError, match=keyword)
    with pytest.raises(RuntimeError, match=function):
        getattr(F, name)(*t_args, **t_kwargs)
    with torch.no_grad():
        getattr(F, name)(*t_args, **t_kwargs)
    with ag.no_grad():
        getattr(rf, name)(*r_args, **r_kwargs)


@st.composite
def second_order_case(draw):
    name = draw(st.sampled_from(["mse_loss", "cross_entropy"]))
    arrays, options, grads = _BACKWARD_CASES[name](draw, draw(REDUCTIONS), name)
    arrays = [np.asarray(a) if isinstance(a, np.generic) else a for a in arrays]
    if name == "mse_loss":
        arrays = [np.nan_to_num(a, nan=0.5, posinf=3.0, neginf=-3.0) for a in arrays]
    return name, arrays, options, grads, draw(SEEDS)


@pytest.mark.spec("LOSS-51")
@given(second_order_case())
@example(("cross_entropy", [np.zeros((0, 1)), np.zeros(0, np.int64)],
          {"reduction": "mean", "label_smoothing": 0.0}, [(0, 0)], 0))  # nll's VJP of g: NaN
@example(("cross_entropy", [np.array([5.0]), np.array(0)],
          {"reduction": "mean", "ignore_index": 0, "label_smoothing": 0.25}, [(0, 0)],
          0))  # every target ignored: the masked smoothing term passes nothing (not inf * 0)
def test_double_backward_of_mse_and_cross_entropy_matches_torch(device, case):
    """grad(..., create_graph=True) through reference.functional.mse_loss and cross_entropy,
    differentiated again: the gradients of <grad, u> with respect to every differentiable
    argument and to the upstream gradient equal torch's double backward."""
    name, arrays, options, grads, seed = case
    rng = np.random.default_rng(seed)
    order = [where for where, _ in grads]
    t_leaves, r_leaves = {}, {}

    def make(where, value, leaves, lib):
        if where not in order:
            return value if lib is ag else _torch_value(value, device)
        leaves[where] = (ag.Tensor(value, requires_grad=True) if lib is ag
                         else to_torch(value, device, requires_grad=True))
        return leaves[where]

    results = []
    for lib, leaves, module in ((torch, t_leaves, F), (ag, r_leaves, rf)):
        args = [make(i, a, leaves, lib) for i, a in enumerate(arrays)]
        kwargs = {k: make(k, v, leaves, lib) for k, v in options.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out = getattr(module, name)(*args, **kwargs)
        if lib is torch:
            g = rng.standard_normal(tuple(out.shape))
            us = [rng.standard_normal(tuple(leaves[w].shape)) for w in order]
        upstream = (to_torch(g, device, requires_grad=True) if lib is torch
                    else ag.Tensor(g, requires_grad=True))
        inputs = [leaves[w] for w in order]
        first = (torch.autograd.grad(out, inputs, upstream, create_graph=True) if lib is torch
                 else ag.grad(out, inputs, upstream, create_graph=True))
        second = sum(((f * (to_torch(u, device) if lib is torch else u)).sum()
                      for f, u in zip(first, us, strict=True)), start=0.0)
        targets = [*inputs, upstream]
        if lib is torch:
            got = torch.autograd.grad(second, targets, allow_unused=True)
            got = [torch.zeros_like(t) if d is None else d for t, d in zip(targets, got,
                                                                           strict=True)]
        else:
            got = ag.grad(second, targets, allow_unused=True)
            got = [np.zeros(t.shape) if d is None else d for t, d in zip(targets, got,
                                                                         strict=True)]
        results.append(got)
    for expected, actual in zip(*results, strict=True):
        _close(expected, actual)


class _LossThroughReference(torch.autograd.Function):
    """A reference loss and its VJP as a torch op (through NumPy on the host), so
    ``torch.autograd.gradcheck`` compares the VJP with finite differences."""

    @staticmethod
    def forward(ctx, name, options, *tensors):
        arrays = [to_numpy(t) if isinstance(t, torch.Tensor) else t for t in tensors]
        ctx.name, ctx.options, ctx.arrays = name, options, arrays
        return torch.as_tensor(np.asarray(getattr(losses, name)(*arrays, **options)),
                               device=tensors[0].device)

    @staticmethod
    def backward(ctx, grad):
        grads = getattr(losses, f"{ctx.name}_backward")(to_numpy(grad), *ctx.arrays,
                                                        **ctx.options)
        grads = grads if isinstance(grads, tuple) else (grads,)
        grads = (*grads, *(None,) * (len(ctx.arrays) - len(grads)))[: len(ctx.arrays)]
        return (None, None, *(None if g is None else torch.as_tensor(g, device=grad.device)
                              for g in grads))


_GRADCHECK_RNG = np.random.default_rng(52)


def _g(*shape, low=-1.0, high=1.0):
    """Uniform values, a fresh draw for each array (equal arrays would sit on the kinks)."""
    return _GRADCHECK_RNG.uniform(low, high, shape)


GRADCHECK_LOSSES = [
    ("cross_entropy", (_g(3, 4), np.array([1, 3, 0])),
     {"weight": _g(4, low=0.5), "label_smoothing": 0.3, "ignore_index": 0}),
    ("cross_entropy", (_g(2, 3, 2), _g(2, 3, 2, low=0.0)),
     {"weight": _g(3, low=0.5), "label_smoothing": 0.2, "reduction": "sum"}),
    ("nll_loss", (_g(2, 3, 2, 2), np.array([[[0, 1], [2, 1]], [[1, 1], [0, 2]]])),
     {"weight": _g(3, low=0.5)}),
    ("mse_loss", (_g(2, 3), _g(3)), {}),
    ("smooth_l1_loss", (_g(2, 3) * 3, _g(2, 3)), {"beta": 0.7}),
    ("huber_loss", (_g(2, 3) * 3, _g(2, 3)), {"delta": 0.6, "reduction": "sum"}),
    ("poisson_nll_loss", (_g(2, 3, low=0.2), _g(2, 3, low=1.5, high=3.0)),
     {"log_input": False, "full": True}),
    ("kl_div", (_g(2, 3), _g(2, 3, low=0.1)), {"reduction": "batchmean"}),
    ("binary_cross_entropy", (_g(2, 3, low=0.1, high=0.9), _g(2, 3, low=0.0)),
     {"weight": _g(3, low=0.5)}),
    ("binary_cross_entropy_with_logits", (_g(2, 3) * 3, _g(2, 3, low=0.0)),
     {"pos_weight": _g(3, low=0.5), "weight": _g(3, low=0.5)}),
    ("multilabel_soft_margin_loss", (_g(2, 3) * 3, _g(2, 3, low=0.0), _g(3, low=0.5)), {}),
    ("cosine_embedding_loss", (_g(3, 4), _g(3, 4), np.array([1.0, -1.0, -1.0])),
     {"margin": -0.5}),
    ("triplet_margin_loss", (_g(2, 3), _g(2, 3), _g(2, 3)), {"p": 3.0, "swap": True}),
    ("multi_margin_loss", (_g(2, 4), np.array([1, 3])), {"p": 2, "weight": _g(4, low=0.5)}),
    ("soft_margin_loss", (_g(2, 3) * 3, np.array([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])), {}),
    ("ctc_loss", (losses._log_softmax(_g(5, 2, 4) * 2, -1), np.array([[1, 2], [3, 3]]),
                  np.array([5, 4]), np.array([2, 2])), {}),
]


# a broadcasting target is on purpose: both torch and the reference warn of it
@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")
@pytest.mark.spec("LOSS-52")
@pytest.mark.parametrize("name, arrays, options", GRADCHECK_LOSSES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(GRADCHECK_LOSSES)])
def test_gradcheck_confirms_the_reference_vjps(device, name, arrays, options):
    """torch.autograd.gradcheck (finite differences) on the reference's forward and VJP: the
    float arrays are differentiated, integer ones and the sign targets torch does not
    differentiate (soft margin's, cosine embedding's) are constants."""
    constant = {"soft_margin_loss": 1, "cosine_embedding_loss": 2}.get(name)
    tensors = [to_torch(a, device, requires_grad=a.dtype == np.float64 and i != constant)
               for i, a in enumerate(arrays)]
    assert torch.autograd.gradcheck(
        lambda *ts: _LossThroughReference.apply(name, options, *ts), tuple(tensors),
        eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=True,
    )


@pytest.mark.spec("LOSS-42")
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_is_exact_for_training(device, smoothing):
    """A training step's loss: reference.functional.cross_entropy of (16, 10) logits equals
    torch's, value and logit gradient, to a relative 1e-9 in float64."""
    rng = np.random.default_rng(18)
    x, y = rng.standard_normal((16, 10)) * 3, rng.integers(0, 10, 16)
    tx = to_torch(x, device, requires_grad=True)
    loss = F.cross_entropy(tx, to_torch(y, device), label_smoothing=smoothing)
    (expected,) = torch.autograd.grad(loss, tx)
    rx = ag.Tensor(x, requires_grad=True)
    r_loss = rf.cross_entropy(rx, y, label_smoothing=smoothing)
    r_loss.backward()
    assert_matches(loss, r_loss.data, rtol=1e-9, atol=0.0)
    assert_matches(expected, rx.grad, rtol=1e-9, atol=1e-15)
