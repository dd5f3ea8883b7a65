"""Loss functions (clauses LOSS-*), from first principles in NumPy, with the names and
signatures of ``torch.nn.functional`` (and ``nn.AdaptiveLogSoftmaxWithLoss`` as a class).

Every loss computes an unreduced loss ``l`` (one value per element, or per sample) and then
applies the reduction: ``'none'`` returns ``l``, ``'sum'`` returns ``sum(l)``, ``'mean'``
returns ``sum(l) / n`` (``nan`` when ``n`` is 0). Weighted class losses divide by the sum of
the weights instead of ``n``. The deprecated ``size_average``/``reduce`` flags and the
deprecated ``'elementwise_mean'`` are accepted where torch accepts them. Results keep the
input's floating dtype (an integer target is read in the input's dtype, as torch promotes it;
mixed float32/float64 pairs follow torch's per-loss rule, LOSS-32).

NumPy only: this module is part of the independent oracle and never imports torch.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

ArrayLike = np.ndarray | Sequence[int] | int
_REDUCTIONS = ("none", "mean", "sum")
_LONG = np.dtype(np.int64)
_BYTE = np.dtype(np.uint8)
_COSINE_EPS = 1e-12
_TORCH_NAMES = {  # dtype names as torch's messages spell them
    "float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "int16": "Short",
    "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool",
}


def _name(dtype: np.dtype) -> str:
    """``'Float (float32)'``: torch's name of a dtype, then NumPy's."""
    dtype = np.dtype(dtype)
    return f"{_TORCH_NAMES.get(dtype.name, dtype.name)} ({dtype.name})"


# --- helpers --------------------------------------------------------------------------------


def _ieee(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run a loss under IEEE arithmetic on NaN and inf, as torch computes (inf - inf = nan,
    log(0) = -inf, ...), without NumPy's floating-point warnings."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):  # a fresh context per call: reentrant
            return function(*args, **kwargs)

    return wrapper


def _reduction(
    size_average: bool | None, reduce: bool | None, reduction: str, *, alias: bool = True
) -> str:
    """The reduction string: the legacy ``size_average``/``reduce`` flags take over when
    either is given (each defaults to True; ``reduce=False`` wins). With ``alias``, the
    deprecated ``'elementwise_mean'`` means ``'mean'`` (torch warns)."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        return "none" if not reduce else "mean" if size_average else "sum"
    if alias and reduction == "elementwise_mean":
        warnings.warn(
            "reduction='elementwise_mean' is deprecated, use reduction='mean'", stacklevel=4
        )
        return "mean"
    return reduction


def _check_reduction(reduction: str, allowed: Sequence[str] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _divide(total: np.ndarray, count: np.ndarray | float) -> np.ndarray:
    """``total / count`` in ``total``'s dtype, ``nan`` for 0 / 0 (no warning)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / np.asarray(count, dtype=total.dtype), dtype=total.dtype)


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    """Apply ``'none'``, ``'sum'`` or ``'mean'`` (``sum / numel``) to a loss array."""
    _check_reduction(reduction)
    loss = np.asarray(loss)
    if reduction == "none":
        return loss
    total = np.asarray(loss.sum(), dtype=loss.dtype)
    return total if reduction == "sum" else _divide(total, loss.size)


def _floating(x: np.ndarray, name: str = "input") -> np.ndarray:
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{name} must be a floating-point array: the loss is not implemented for "
            f"'{_TORCH_NAMES.get(x.dtype.name, x.dtype.name)}' ({x.dtype})"
        )
    return x


def _like_input(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """An integer or bool target read in the input's floating dtype (torch's promotion)."""
    if np.issubdtype(x.dtype, np.floating) and not np.issubdtype(y.dtype, np.floating):
        return y.astype(x.dtype)
    return y


def _pointwise_pair(
    input: np.ndarray, target: np.ndarray, *, warn: bool, to_input: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``input`` and ``target`` broadcast together, as torch's pointwise losses do.

    ``warn``: l1/mse/smooth_l1/huber warn when the sizes differ (the broadcast is usually a
    mistake: an (N, 1) input against an (N,) target gives an (N, N) loss).
    ``to_input``: only the target may be stretched (soft_margin_loss writes into an array of
    the input's shape). Shapes that do not broadcast raise ValueError naming both."""
    x = _floating(np.asarray(input))
    y = _like_input(np.asarray(target), x)
    if warn and x.shape != y.shape:
        warnings.warn(
            f"Using a target size ({y.shape}) that is different to the input size ({x.shape}). "
            "This will likely lead to incorrect results due to broadcasting.",
            UserWarning,
            stacklevel=4,  # _pointwise_pair, the loss, _ieee's wrapper, the caller
        )
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(
            f"The size of target {y.shape} must match the size of input {x.shape}: "
            "the shapes do not broadcast"
        ) from None
    if to_input and shape != x.shape:
        raise ValueError(
            f"output with shape {list(x.shape)} doesn't match the broadcast shape {list(shape)}"
        )
    return np.broadcast_to(x, shape), np.broadcast_to(y, shape)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """``x - logsumexp(x)`` along ``axis``, shifted by the max for stability; an empty axis
    (no classes) gives an empty result."""
    if x.shape[axis] == 0:
        return x.copy()
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # inf - inf = nan
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """``log(sigmoid(x)) = -log(1 + exp(-x))``, finite for every finite ``x``."""
    return -np.logaddexp(np.zeros((), x.dtype), -x)


def _broadcast_weight(weight: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A per-element ``weight`` stretched to the loss's ``shape`` (never the reverse)."""
    weight = np.asarray(weight)
    try:
        if np.broadcast_shapes(weight.shape, shape) == shape:
            return np.broadcast_to(weight, shape)
    except ValueError:
        pass
    raise ValueError(
        f"The size of {name} {weight.shape} must match the size of the loss {shape}: "
        f"output with shape {list(shape)} doesn't match the broadcast shape"
    )


def _check_same_size_weight(weight: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    weight = np.asarray(weight)
    if weight.shape != input_shape:
        raise ValueError(
            f"Weights and input must have the same size: weight {weight.shape}, "
            f"input {input_shape}"
        )
    return weight


def _weighted_by_sum(
    loss: np.ndarray, weight: np.ndarray | None, input_shape: tuple[int, ...], reduction: str
) -> np.ndarray:
    """l1/mse's ``weight``: ``w * l``, and the mean divides by ``sum(w)``."""
    if weight is None:
        return _reduce(loss, reduction)
    weight = _check_same_size_weight(weight, input_shape)
    _check_reduction(reduction)
    loss = loss * weight
    if reduction == "mean":
        return _divide(np.asarray(loss.sum(), loss.dtype), weight.sum())
    return _reduce(loss, reduction)


# --- regression losses ----------------------------------------------------------------------


@_ieee
def l1_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: np.ndarray | None = None,
) -> np.ndarray:
    r"""Mean absolute error, $\ell = |x - y|$ (broadcast, with a warning when the shapes
    differ).

    With ``weight`` $w$ (same shape as the input; torch 2.11 and later): $\ell = w\,|x - y|$
    and the mean is $\sum w\ell / \sum w$.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _pointwise_pair(input, target, warn=True)
    loss = np.abs(x - y)
    return _weighted_by_sum(loss, weight, np.shape(input), reduction)


@_ieee
def mse_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: np.ndarray | None = None,
) -> np.ndarray:
    r"""Mean squared error, $\ell = (x - y)^2$ (broadcast, with a warning when the shapes
    differ).

    With ``weight`` $w$ (same shape as the input; torch 2.11 and later): $\ell = w\,(x - y)^2$
    and the mean is $\sum w\ell / \sum w$.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _pointwise_pair(input, target, warn=True)
    loss = (x - y) ** 2
    return _weighted_by_sum(loss, weight, np.shape(input), reduction)


@_ieee
def smooth_l1_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> np.ndarray:
    r"""$\ell = 0.5\,d^2/\beta$ if $|d| < \beta$ else $|d| - 0.5\,\beta$, with $d = x - y$;
    ``beta = 0`` is the L1 loss and a negative ``beta`` raises."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    x, y = _pointwise_pair(input, target, warn=True)
    d = np.abs(x - y)
    if beta == 0:
        loss = d
    else:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss = np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)  # tiny beta: inf
    return _reduce(loss.astype(d.dtype), reduction)


@_ieee
def huber_loss(
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    r"""$\ell = 0.5\,d^2$ if $|d| \le \delta$ else $\delta\,(|d| - 0.5\,\delta)$: $\delta$
    times SmoothL1 with $\beta = \delta$; $\delta \le 0$ raises.

    With ``weight`` (torch 2.11 and later) the loss is multiplied by it and the mean is over
    the elements (not over $\sum w$ as in l1/mse).
    """
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    x, y = _pointwise_pair(input, target, warn=True)
    d = np.abs(x - y)
    with np.errstate(over="ignore", invalid="ignore"):  # keeps the input's dtype, as torch
        loss = np.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta)).astype(x.dtype)
    if weight is not None:
        loss = loss * _check_same_size_weight(weight, np.shape(input))
    return _reduce(loss, reduction)


@_ieee
def poisson_nll_loss(
    input: np.ndarray,
    target: np.ndarray,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Poisson negative log likelihood: $\ell = e^x - y\,x$ (``log_input``) or
    $x - y \log(x + \epsilon)$; ``full`` adds Stirling's $y \log y - y + \frac12 \log(2\pi y)$
    where $y > 1$. ``'elementwise_mean'`` is not accepted here."""
    reduction = _reduction(size_average, reduce, reduction, alias=False)
    _check_reduction(reduction)
    x, y = _pointwise_pair(input, target, warn=False)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
        if full:
            safe = np.where(y > 1, y, 1)
            stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe)
            loss = loss + np.where(y > 1, stirling, 0)
    return _reduce(loss.astype(np.result_type(x, y)), reduction)


# --- probabilistic classification losses ----------------------------------------------------


def _class_target(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None) -> tuple:
    """Validate ``nll_loss``'s (input, target, weight) in torch's order (shapes, then
    weight, then dtypes); returns the class dim, the number of classes, and the target as
    int64 indices."""
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions for input (got 0)")
    if input.ndim == 1:  # unbatched (C,): a 0-d target, or (torch 2.11+) a (1,) target
        if target.ndim > 1:
            raise ValueError("0D or 1D target tensor expected, multi-target not supported")
        if target.ndim == 1 and target.shape[0] != 1:
            raise ValueError(
                f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}"
            )
    else:
        if input.shape[0] != (target.shape[0] if target.ndim else 0):
            raise ValueError(
                f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                f"({target.shape[0] if target.ndim else 0})."
            )
        if input.ndim == 2 and target.ndim > 1:
            raise ValueError("0D or 1D target tensor expected, multi-target not supported")
        expected = input.shape[:1] + input.shape[2:]
        if target.shape != expected:
            raise ValueError(
                f"Expected target size {list(expected)}, got {list(target.shape)} "
                f"(size mismatch for input of shape {list(input.shape)})"
            )
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    if n_classes == 0 and target.size > 0 and input.ndim not in (1, 2, 4):
        # torch views 3-D and 5-D+ inputs as (N, C, 1, -1), and -1 cannot be inferred here
        raise ValueError(
            f"size mismatch (got input: {list(input.shape)}, target: {list(target.shape)}): "
            "no classes in a 3-D or 5-D+ input"
        )
    if weight is not None and np.shape(weight) != (n_classes,):
        raise ValueError(
            f"weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {list(np.shape(weight))}"
        )
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(f"nll_loss is not implemented for {_name(input.dtype)} input")
    if target.dtype not in (_LONG, _BYTE):
        raise TypeError(
            f"expected target dtype to be Long or Byte (int64 or uint8), but got "
            f"{_name(target.dtype)}"
        )
    if target.dtype == _BYTE and input.ndim > 2:
        raise TypeError(
            "expected scalar type Long but found Byte: uint8 targets are accepted only for "
            "(C,) and (N, C) inputs"
        )
    if weight is not None and np.asarray(weight).dtype != input.dtype:
        raise TypeError(
            f"expected scalar type {_name(input.dtype)} but found "
            f"{_name(np.asarray(weight).dtype)}: the class weight must have the input's dtype"
        )
    return class_dim, n_classes, target.astype(np.int64)


@_ieee
def nll_loss(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Negative log likelihood of class indices: $\ell_i = -w_{y_i}\, x_{i, y_i}$ on inputs
    of shape $(C,)$, $(N, C)$ or $(N, C, d_1, \dots)$ with targets $()$, $(N,)$ or
    $(N, d_1, \dots)$ (int64, or uint8 for the first two).

    Targets equal to ``ignore_index`` contribute 0; ``'mean'`` divides the sum by
    $\sum_i w_{y_i}$ over the kept targets (``nan`` when every target is ignored). A $(C,)$
    input also takes a $(1,)$ target and gives a 0-d result (torch 2.11 and later).
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = np.asarray(input), np.asarray(target)
    class_dim, n_classes, target = _class_target(input, target, weight)
    unbatched_1 = input.ndim == 1 and target.ndim == 1
    if unbatched_1:
        target = target.reshape(())
    ignored = target == ignore_index
    out_of_range = ~ignored & ((target < 0) | (target >= n_classes))
    if out_of_range.any():
        raise IndexError(f"Target {target[out_of_range].flat[0]} is out of bounds.")
    safe = np.where(ignored, 0, target)
    logp = np.moveaxis(input, class_dim, -1)
    if n_classes == 0:  # every target is ignored: nothing to pick
        picked = np.zeros(target.shape, input.dtype)
    else:
        picked = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    w = np.ones((), input.dtype) if weight is None or n_classes == 0 else np.asarray(weight)[safe]
    w = np.where(ignored, 0, w).astype(input.dtype)
    loss = np.where(ignored, 0, -w * picked).astype(input.dtype)
    if reduction == "mean":
        return _divide(np.asarray(loss.sum(), input.dtype), w.sum())
    if reduction == "none" and unbatched_1:
        return loss.reshape(())
    return _reduce(loss, reduction)


@_ieee
def cross_entropy(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray:
    r"""Cross entropy of logits: $\ell_i = -x_{i, y_i} + \log\sum_j e^{x_{i,j}}$, i.e.
    ``nll_loss(log_softmax(x, class_dim), y)``; the class dim is 0 for a $(C,)$ input, else 1.

    A target of the input's shape holds class probabilities $q$:
    $\ell_i = -\sum_c w_c\, q_{ic} \log\operatorname{softmax}(x)_{ic}$, and ``'mean'``
    divides by the number of samples (not by the weights). ``label_smoothing``
    $\varepsilon \in (0, 1]$ mixes the target with the uniform distribution,
    $(1 - \varepsilon)\,\text{onehot} + \varepsilon / C$; with class indices this is
    $(1 - \varepsilon)\,\text{nll} + \frac{\varepsilon}{C} \sum_c w_c (-\log p_c)$, both terms
    reduced with the same denominator. A smoothing of 0 or below (or NaN) is ignored and one
    above 1 raises; ``ignore_index`` with probability targets must be negative.
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = np.asarray(input), np.asarray(target)
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(
            f"cross_entropy expects floating-point logits as input: log_softmax is not "
            f"implemented for '{_TORCH_NAMES.get(input.dtype.name, input.dtype.name)}' "
            f"({input.dtype})"
        )
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions for input (got 0)")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    smoothing = label_smoothing > 0  # False for 0, negative and NaN smoothing, as in torch
    if smoothing and label_smoothing > 1:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    logp = _log_softmax(input, class_dim)
    w_shape = [1] * input.ndim
    w_shape[class_dim] = n_classes
    if input.shape == target.shape:
        return _cross_entropy_probs(
            logp, target, weight, ignore_index, reduction, label_smoothing if smoothing else 0.0
        )
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if not smoothing:
        return nll
    w = np.ones(w_shape, input.dtype) if weight is None else np.asarray(weight).reshape(w_shape)
    with np.errstate(invalid="ignore"):
        per_sample = -(logp * w).sum(axis=class_dim)  # sum_c w_c (-log p_c)
    if reduction == "none" and target.shape != per_sample.shape:  # (C,) input, (1,) target
        raise ValueError(
            f"output with shape {list(per_sample.shape)} doesn't match the broadcast shape "
            f"{list(target.shape)}: label smoothing of a (C,) input with a (1,) target"
        )
    target = target.astype(np.int64).reshape(per_sample.shape)  # a (1,) target of a (C,) input
    ignored = target == ignore_index
    smooth = np.where(ignored, 0, per_sample).astype(input.dtype)
    if reduction == "mean":
        kept = target[~ignored]
        denominator = kept.size if weight is None else np.asarray(weight)[kept].sum()
        smooth = _divide(np.asarray(smooth.sum(), input.dtype), denominator)
    else:
        smooth = _reduce(smooth, reduction)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.divide(np.asarray(label_smoothing, input.dtype), n_classes)  # inf for C = 0
        return np.asarray((1 - label_smoothing) * nll + share * smooth, input.dtype)


def _cross_entropy_probs(
    logp: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> np.ndarray:
    """Cross entropy with class-probability targets (same shape as the input)."""
    if not np.issubdtype(target.dtype, np.floating):
        raise TypeError(
            "Expected floating point type for target with class probabilities, got "
            f"{_name(target.dtype)}"
        )
    if ignore_index >= 0:
        raise ValueError("ignore_index is not supported for floating point target")
    class_dim = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[class_dim]
    if weight is not None and np.shape(weight) != (n_classes,):
        raise ValueError(
            f"cross_entropy: weight tensor should be defined either for all {n_classes} classes "
            f"or no classes but got weight tensor of shape: {list(np.shape(weight))}"
        )
    if label_smoothing > 0:
        with np.errstate(divide="ignore"):
            share = np.divide(np.asarray(label_smoothing, logp.dtype), n_classes)
        target = target * (1 - label_smoothing) + share
    w_shape = [1] * logp.ndim
    w_shape[class_dim] = n_classes
    w = np.ones(w_shape, logp.dtype) if weight is None else np.asarray(weight).reshape(w_shape)
    with np.errstate(invalid="ignore"):
        loss = -(logp * target * w).sum(axis=class_dim)
    loss = loss.astype(np.result_type(logp, target, w))
    if reduction == "mean":  # over numel / C samples (0 / 0 = nan without classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            samples = np.divide(np.asarray(logp.size, loss.dtype), n_classes)
        return _divide(np.asarray(loss.sum(), loss.dtype), samples)
    return _reduce(loss, reduction)


@_ieee
def kl_div(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> np.ndarray:
    r"""Kullback-Leibler divergence with ``input`` holding log-probabilities $x$:
    $\ell = y\,(\log y - x)$ (0 where $y = 0$), or $e^{y}(y - x)$ with ``log_target``.
    ``'batchmean'`` divides the sum by the batch size (the true KL; a 0-d input is not
    divided), ``'mean'`` by the number of elements."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction, (*_REDUCTIONS, "batchmean"))
    x, y = _pointwise_pair(input, target, warn=False)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_target:
            loss = np.exp(y) * (y - x)
        else:
            loss = np.where(y == 0, 0, y * np.log(np.where(y == 0, 1, y))) - y * x
    loss = loss.astype(np.result_type(x, y))
    if reduction == "batchmean":
        total = np.asarray(loss.sum(), loss.dtype)
        return total if np.ndim(input) == 0 else _divide(total, np.shape(input)[0])
    return _reduce(loss, reduction)


def _check_probabilities(x: np.ndarray, name: str) -> None:
    """Every element in [0, 1]; NaN fails the check (it is not in the interval)."""
    with np.errstate(invalid="ignore"):
        if not ((x >= 0) & (x <= 1)).all():
            raise ValueError(f"all elements of {name} should be between 0 and 1")


@_ieee
def binary_cross_entropy(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Binary cross entropy of probabilities $x \in [0, 1]$:
    $\ell = -w\,(y \max(\log x, -100) + (1 - y) \max(\log(1 - x), -100))$; the clamp keeps
    $x = 0$ or $1$ finite.

    Input and target must have the same shape (no broadcasting) and dtype, and both must lie
    in $[0, 1]$ (NaN included in the check, so NaN raises); ``weight`` broadcasts to the
    target's shape.
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x, y = np.asarray(input), np.asarray(target)
    if x.shape != y.shape:
        raise ValueError(
            f"Using a target size ({y.shape}) that is different to the input size ({x.shape}) "
            "is deprecated. Please ensure they have the same size."
        )
    _floating(x)
    if x.dtype != y.dtype:
        raise TypeError(
            f"Found dtype {_name(y.dtype)} but expected {_name(x.dtype)}: the target must "
            "have the input's dtype"
        )
    _check_probabilities(x, "input")
    _check_probabilities(y, "target")
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100)
        log_1mx = np.maximum(np.log1p(-x), -100)
    loss = -(y * log_x + (1 - y) * log_1mx)
    if weight is not None:
        loss = loss * _broadcast_weight(weight, y.shape, "weight")
    return _reduce(loss.astype(x.dtype), reduction)


@_ieee
def binary_cross_entropy_with_logits(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: np.ndarray | None = None,
) -> np.ndarray:
    r"""BCE on logits, $\ell = -w\,(p\,y \log\sigma(x) + (1 - y) \log(1 - \sigma(x)))$,
    computed stably as $(1 - y)\,x - (1 + (p - 1)\,y) \log\sigma(x)$ with
    $\log\sigma(x) = -\log(1 + e^{-x})$ (finite for any finite logit); $p$ is ``pos_weight``
    (broadcast along the last dim, the classes). Input and target must have the same shape;
    ``weight`` and ``pos_weight`` broadcast to it."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x, y = _floating(np.asarray(input)), np.asarray(target)
    if x.shape != y.shape:
        raise ValueError(f"Target size ({y.shape}) must be the same as input size ({x.shape})")
    _floating(y, "target")  # an integer target cannot hold the float loss (torch raises)
    log_sig = _log_sigmoid(x)
    with np.errstate(invalid="ignore"):
        if pos_weight is not None:
            log_sig = log_sig * ((_broadcast_weight(pos_weight, x.shape, "pos_weight") - 1) * y + 1)
        loss = (1 - y) * x - log_sig
        if weight is not None:
            loss = loss * _broadcast_weight(weight, x.shape, "weight")
    return _reduce(loss.astype(y.dtype), reduction)  # torch keeps the target's dtype


# --- margin and embedding losses ------------------------------------------------------------


@_ieee
def margin_ranking_loss(
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""$\ell = \max(0, -y\,(x_1 - x_2) + \text{margin})$ with $y \in \{1, -1\}$ saying which
    input should rank higher; the three inputs must have the same number of dims and then
    broadcast together."""
    reduction = _reduction(size_average, reduce, reduction)
    x1, x2 = _floating(np.asarray(input1), "input1"), np.asarray(input2)
    y = _like_input(np.asarray(target), x1)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(
            f"margin_ranking_loss : All input tensors should have same dimension but got "
            f"sizes: input1: {x1.shape}, input2: {x2.shape}, target: {y.shape}"
        )
    with np.errstate(invalid="ignore"):
        loss = np.maximum(-y * (x1 - x2) + margin, 0)
    return _reduce(loss.astype(np.result_type(x1, x2)), reduction)


@_ieee
def hinge_embedding_loss(
    input: np.ndarray,
    target: np.ndarray,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""$\ell = x$ where $y = 1$ and $\max(0, \text{margin} - x)$ where $y = -1$ (torch adds
    both terms for any other target value)."""
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _pointwise_pair(input, target, warn=False)
    with np.errstate(invalid="ignore"):
        loss = np.where(y != 1, np.maximum(margin - x, 0), 0) + np.where(y != -1, x, 0)
    return _reduce(loss.astype(x.dtype), reduction)


@_ieee
def soft_margin_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Two-class logistic loss $\ell = \log(1 + e^{-y x})$ for $y \in \{1, -1\}$; the target
    broadcasts to the input's shape, never the other way round."""
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _pointwise_pair(input, target, warn=False, to_input=True)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.log1p(np.exp(-y * x))
    return _reduce(loss.astype(x.dtype), reduction)


def _margin_frame(input: np.ndarray, name: str) -> tuple[int, int]:
    """``(nframe, dim)`` of a multi-margin input: (C,) and 0-d inputs are one sample (a 0-d
    input has one class); other shapes, and zero classes, raise."""
    if not (
        (input.ndim == 2 and input.shape[1] != 0)
        or (input.ndim == 1 and input.shape[0] != 0)
        or input.ndim == 0
    ):
        raise ValueError(
            f"{name}: Expected non-empty vector or matrix with optional 0-dim batch size, "
            f"but got: {list(input.shape)}"
        )
    if input.ndim <= 1:
        return 1, (1 if input.ndim == 0 else input.shape[0])
    return input.shape[0], input.shape[1]


def _long_target(target: np.ndarray, name: str) -> None:
    if target.dtype != _LONG:
        raise TypeError(
            f"{name}: expected scalar type Long (int64) but found {_name(target.dtype)}"
        )


@_ieee
def multilabel_margin_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Multi-label hinge loss: the target row lists class indices and ends at the first
    $-1$; $\ell = \sum_{j \in Y} \sum_{i \notin Y} h(1 - (x_{y_j} - x_i)) / C$ with
    $h(z) = z$ for $z > 0$ and 0 otherwise (so a NaN term is skipped, as torch's kernel
    only adds terms with $z > 0$).

    Inputs are $(N, C)$, $(C,)$ or 0-d (one sample of one class); the target has the input's
    shape (a 0-d input also takes a $(1,)$ target) and every entry must lie in $[-1, C)$.
    Unbatched inputs give a 0-d loss. An empty batch gives an empty ``'none'``, 0 for
    ``'sum'`` and ``nan`` for ``'mean'`` (torch's CPU kernel returns uninitialized memory).
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = _floating(np.asarray(input)), np.asarray(target)
    nframe, dim = _margin_frame(input, "multilabel_margin_loss")
    if input.ndim <= 1:
        valid = target.ndim <= 1 and target.size == dim
    else:
        valid = target.shape == input.shape
    if not valid:
        raise ValueError(
            f"multilabel_margin_loss: inconsistent target size: {list(target.shape)} for input "
            f"of size: {list(input.shape)}"
        )
    _long_target(target, "multilabel_margin_loss")
    x, y = input.reshape(nframe, dim), target.reshape(nframe, dim)
    if ((y < -1) | (y >= dim)).any():
        raise IndexError(
            f"multilabel_margin_loss: argument #2 'target' is out of range [-1, {dim})"
        )
    listed = np.cumprod(y != -1, axis=1).astype(bool)  # positions before the first -1
    safe = np.where(listed, y, 0)
    is_target = np.zeros(x.shape, bool)
    rows = np.broadcast_to(np.arange(nframe)[:, None], y.shape)
    is_target[rows[listed], safe[listed]] = True
    x_target = np.take_along_axis(x, safe, axis=1)  # x[y_j]
    with np.errstate(invalid="ignore"):
        z = 1 - (x_target[:, :, None] - x[:, None, :])
        hinge = np.where(listed[:, :, None] & ~is_target[:, None, :] & (z > 0), z, 0)
    loss = (hinge.sum(axis=(1, 2)) / dim).astype(x.dtype)
    if input.ndim <= 1:
        return _reduce(loss.reshape(()), reduction)
    return _reduce(loss, reduction)


@_ieee
def multilabel_soft_margin_loss(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Per-class logistic loss averaged over the classes (the input's last dim):
    $\ell = -\sum_c w_c\,(y_c \log\sigma(x_c) + (1 - y_c) \log\sigma(-x_c)) / C$.

    The elementwise loss broadcasts input, target and ``weight``; the sum runs over dim
    ``input.ndim - 1`` of it, so a 0-d input raises. ``'elementwise_mean'`` is not accepted.
    """
    reduction = _reduction(size_average, reduce, reduction, alias=False)
    _check_reduction(reduction)
    x = _floating(np.asarray(input))
    y = _like_input(np.asarray(target), x)
    if x.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    with np.errstate(invalid="ignore"):
        loss = -(y * _log_sigmoid(x) + (1 - y) * _log_sigmoid(-x))
        if weight is not None:
            loss = loss * np.asarray(weight)
        class_dim = x.ndim - 1
        loss = loss.sum(axis=class_dim)
        loss = _divide(loss, x.shape[-1]).astype(np.result_type(x, y))
    return _reduce(loss, reduction)


@_ieee
def cosine_embedding_loss(
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""$\ell = 1 - \cos(x_1, x_2)$ where $y = 1$ and $\max(0, \cos(x_1, x_2) - \text{margin})$
    where $y = -1$ (0 for any other target), with
    $\cos = x_1 \cdot x_2 / \sqrt{(|x_1|^2 + 10^{-12})(|x_2|^2 + 10^{-12})}$ over the last
    dim.

    A 0-d target takes $(D,)$ inputs, a $(N,)$ target $(N, D)$ inputs; the inputs broadcast
    together, and the target against the $N$ cosines.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x1, x2 = _floating(np.asarray(input1), "input1"), np.asarray(input2)
    y = _like_input(np.asarray(target), x1)
    if y.ndim > 1:
        raise ValueError("0D or 1D target tensor expected, multi-target not supported")
    need = y.ndim + 1
    if x1.ndim != need or x2.ndim != need:
        raise ValueError(
            f"{y.ndim}D target tensor expects {need}D input tensors, but found inputs with "
            f"sizes {list(x1.shape)} and {list(x2.shape)}."
        )
    axis = y.ndim
    with np.errstate(invalid="ignore", over="ignore"):
        try:
            prod = (x1 * x2).sum(axis)
        except ValueError:
            raise ValueError(
                f"The size of tensor a {x1.shape} must match the size of tensor b {x2.shape}"
            ) from None
        mag1 = (x1 * x1).sum(axis) + _COSINE_EPS
        mag2 = (x2 * x2).sum(axis) + _COSINE_EPS
        cos = prod / np.sqrt(mag1 * mag2)
        try:
            loss = np.where(y == 1, 1 - cos, 0) + np.where(y == -1, np.maximum(cos - margin, 0), 0)
        except ValueError:
            raise ValueError(
                f"The size of tensor a (target {y.shape}) must match the size of tensor b "
                f"(cosines {cos.shape})"
            ) from None
    return _reduce(loss.astype(np.result_type(x1, x2)), reduction)


@_ieee
def multi_margin_loss(
    input: np.ndarray,
    target: np.ndarray,
    p: int = 1,
    margin: float = 1.0,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Multi-class hinge loss for a class index $y$:
    $\ell = \sum_{i \ne y} w_y\, h(\text{margin} - x_y + x_i)^p / C$, $p \in \{1, 2\}$, with
    $h(z) = z$ for $z > 0$ and 0 otherwise (a NaN term is skipped, as in torch's kernel).

    Inputs are $(N, C)$ with an $(N,)$ target, or one sample: $(C,)$ or 0-d (one class) with
    a 0-d or $(1,)$ target. ``'none'`` gives $(N,)$ for a 1-D target and a 0-d loss for a 0-d
    target. An empty batch gives an empty ``'none'``, 0 for ``'sum'`` and ``nan`` for
    ``'mean'`` (torch's kernels return uninitialized memory).
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    input, target = _floating(np.asarray(input)), np.asarray(target)
    nframe, dim = _margin_frame(input, "multi_margin_loss")
    if not (target.ndim <= 1 and target.size == nframe):
        raise ValueError(
            f"multi_margin_loss: inconsistent target size, expected target size [{nframe}], "
            f"but got {list(target.shape)}"
        )
    _long_target(target, "multi_margin_loss")
    if weight is not None:
        weight = np.asarray(weight)
        if not (weight.ndim <= 1 and weight.size == dim):
            raise ValueError(
                f"multi_margin_loss: inconsistent weight size, expected {dim} but got "
                f"{list(weight.shape)}"
            )
        weight = weight.reshape(dim)
    x, y = input.reshape(nframe, dim), target.reshape(nframe)
    if ((y < 0) | (y >= dim)).any():
        raise IndexError(f"multi_margin_loss: target out of range [0, {dim})")
    x_target = np.take_along_axis(x, y[:, None], axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        z = margin - x_target + x
        hinge = np.where((z > 0) & (np.arange(dim) != y[:, None]), z, 0) ** p
        if weight is not None:
            hinge = hinge * weight[y][:, None]
    loss = (hinge.sum(axis=1) / dim).astype(x.dtype)
    return _reduce(loss.reshape(target.shape), reduction)


def _pairwise_distance(x1: np.ndarray, x2: np.ndarray, p: float, eps: float) -> np.ndarray:
    r"""$\lVert x_1 - x_2 + \epsilon \rVert_p$ over the last dim (``pairwise_distance``);
    $p = 0$ counts the nonzero entries, $p = \pm\infty$ takes the max/min magnitude, a 0-d
    pair is its own 1-element vector."""
    d = np.abs(x1 - x2 + eps)
    if d.ndim == 0:
        d = d.reshape(1)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if p == 0:
            return (d != 0).sum(axis=-1).astype(d.dtype)
        if math.isinf(p):
            if d.shape[-1] == 0:
                return np.zeros(d.shape[:-1], d.dtype)
            return d.max(axis=-1) if p > 0 else d.min(axis=-1)
        return ((d**p).sum(axis=-1) ** (1 / p)).astype(d.dtype)


@_ieee
def triplet_margin_loss(
    anchor: np.ndarray,
    positive: np.ndarray,
    negative: np.ndarray,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""$\ell = \max(0, d(a, \text{pos}) - d(a, \text{neg}) + \text{margin})$ with
    $d(u, v) = \lVert u - v + \epsilon \rVert_p$; ``swap`` uses
    $\min(d(a, \text{neg}), d(\text{pos}, \text{neg}))$ as the negative distance; the three
    inputs need the same number of dims (they broadcast) and ``margin`` must be positive."""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pos, neg = np.asarray(anchor), np.asarray(positive), np.asarray(negative)
    _floating(a, "anchor")
    if not a.ndim == pos.ndim == neg.ndim:
        raise ValueError(
            f"The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {a.ndim}D, positive {pos.ndim}D, and negative "
            f"{neg.ndim}D inputs"
        )
    d_pos = _pairwise_distance(a, pos, p, eps)
    d_neg = _pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = np.minimum(d_neg, _pairwise_distance(pos, neg, p, eps))
    with np.errstate(invalid="ignore"):
        loss = np.maximum(margin + d_pos - d_neg, 0).astype(a.dtype)
    return _reduce(loss, reduction)


# --- connectionist temporal classification --------------------------------------------------


def _logsumexp_terms(*terms: np.ndarray) -> np.ndarray:
    """``log(sum(exp(terms)))`` elementwise, shifted by the largest term as torch's CTC
    kernel does (a shift of 0 when every term is -inf), so +inf and NaN terms give NaN."""
    m = np.maximum.reduce(terms)
    m = np.where(m == -np.inf, 0, m)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.log(sum(np.exp(t - m) for t in terms)) + m


def _lengths(lengths: ArrayLike, batch: int, name: str) -> np.ndarray:
    values = np.asarray(lengths)
    if values.size != batch or values.ndim > 1:
        raise ValueError(f"{name} must be of size batch_size ({batch}), got shape {values.shape}")
    return values.astype(np.int64).reshape(batch)


@_ieee
def ctc_loss(
    log_probs: np.ndarray,
    targets: np.ndarray,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> np.ndarray:
    r"""CTC loss $-\log p(y \mid x)$, summed over all alignments by the forward algorithm in
    log space.

    ``log_probs`` is $(T, N, C)$ (or $(T, C)$ unbatched); ``targets`` is $(N, S)$ padded or
    the concatenation of the $N$ targets (any integer or float dtype, read as int64). With the
    extended label $l'$ (a blank before, between and after the labels, length $2S + 1$):
    $\alpha_0 = [\mathrm{lp}_0(\text{blank}), \mathrm{lp}_0(l_1), -\infty, \dots]$ and
    $\alpha_t(s) = \mathrm{lp}_t(l'_s) + \operatorname{logsumexp}(\alpha_{t-1}(s),
    \alpha_{t-1}(s-1), \alpha_{t-1}(s-2))$, where the $s-2$ term counts only if $l'_s$ is a
    label different from $l'_{s-2}$; $\ell = -\operatorname{logsumexp}(\alpha_{T-1}(2S),
    \alpha_{T-1}(2S-1))$. An input length of 0 gives 0 for an empty target and $\infty$
    otherwise. Impossible alignments give $\infty$ (0 with ``zero_infinity``); ``'mean'``
    divides each loss by its target length (at least 1) and averages over the batch. An
    empty ``log_probs`` raises (torch 2.11 and later).
    """
    reduction = _reduction(None, None, reduction)
    _check_reduction(reduction)
    lp = _floating(np.asarray(log_probs), "log_probs")
    targets = np.asarray(targets).astype(np.int64)  # torch's CPU kernel casts float targets too
    unbatched = lp.ndim == 2
    if unbatched:
        lp, targets = lp[:, None], targets.reshape(1, -1)
    if lp.ndim != 3:
        raise ValueError(
            f"ctc_loss: Expected 3-dimensional log_probs (T, N, C), or 2-dimensional (T, C), "
            f"got shape {np.shape(log_probs)}"
        )
    if lp.size == 0:
        raise ValueError("ctc_loss: log_probs tensor must not be empty")
    n_steps, batch, n_classes = lp.shape
    if not 0 <= blank < n_classes:
        raise ValueError(f"ctc_loss: blank must be in label range [0, {n_classes}), got {blank}")
    in_len = _lengths(input_lengths, batch, "input_lengths")
    tg_len = _lengths(target_lengths, batch, "target_lengths")
    if (in_len > n_steps).any() or (in_len < 0).any():
        raise ValueError(
            f"ctc_loss: Expected input_lengths to have value at most {n_steps} (and at least 0), "
            f"got {in_len.tolist()}"
        )
    if (tg_len < 0).any():
        raise ValueError(
            f"ctc_loss: Expected target_lengths to have value at least 0, got {tg_len.tolist()}"
        )
    s_max = int(tg_len.max(initial=0))
    if targets.ndim == 1:  # concatenated targets -> padded (N, max S), filled row by row
        if targets.size != tg_len.sum():
            raise ValueError(
                f"ctc_loss: Expected targets to have size {tg_len.sum()} at dimension 0 (the sum "
                f"of target_lengths), but got size {targets.size}"
            )
        padded = np.full((batch, s_max), blank, dtype=np.int64)
        padded[np.arange(s_max) < tg_len[:, None]] = targets
        targets = padded
    elif targets.ndim != 2 or targets.shape[0] != batch:
        raise ValueError(f"ctc_loss: targets of shape {targets.shape} for a batch of {batch}")
    elif (tg_len > targets.shape[1]).any():
        raise ValueError(
            f"ctc_loss: Expected targets to have size at least {s_max} at dimension 1, "
            f"but got size {targets.shape[1]}"
        )
    width = 2 * s_max + 1
    labels = np.where(np.arange(s_max) < tg_len[:, None], targets[:, :s_max], blank)
    ext = np.full((batch, width), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    ext_lp = np.take_along_axis(lp, np.broadcast_to(ext[None], (n_steps, batch, width)), axis=2)
    s = np.arange(width)
    valid = s < 2 * tg_len[:, None] + 1
    can_skip = np.zeros((batch, width), bool)
    can_skip[:, 2:] = ext[:, 2:] != ext[:, :-2]  # never at a blank (l'_{s-2} is one too)
    neg_inf = np.asarray(-np.inf, lp.dtype)
    alpha = np.where((s < 2) & valid, ext_lp[0], neg_inf)
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(1, n_steps):
            step = np.concatenate([np.full((batch, 1), neg_inf), alpha], axis=1)[:, :width]
            skip = np.concatenate([np.full((batch, 2), neg_inf), alpha], axis=1)[:, :width]
            new = _logsumexp_terms(alpha, step, np.where(can_skip, skip, neg_inf))
            alpha = np.where((t < in_len[:, None]) & valid, new + ext_lp[t], alpha)
        rows = np.arange(batch)
        last = alpha[rows, 2 * tg_len]
        before_last = np.where(tg_len > 0, alpha[rows, np.maximum(2 * tg_len - 1, 0)], neg_inf)
        loss = -_logsumexp_terms(last, before_last)
    empty_input = np.where(tg_len == 0, 0.0, np.inf)  # no step: only the empty target fits
    loss = np.where(in_len == 0, empty_input, loss).astype(lp.dtype)
    if zero_infinity:
        loss = np.where(loss == np.inf, 0, loss).astype(lp.dtype)
    if reduction == "mean":
        return _divide(np.asarray((loss / np.maximum(tg_len, 1)).sum(), lp.dtype), batch)
    return _reduce(loss[0] if unbatched else loss, reduction)


# --- adaptive softmax -------------------------------------------------------------------------


class ASMoutput(NamedTuple):
    """What ``AdaptiveLogSoftmaxWithLoss`` returns: the target log-probabilities and the loss
    (torch's ``_ASMoutput`` namedtuple)."""

    output: np.ndarray
    loss: np.ndarray


class LinearWeights:
    """The arrays of one ``nn.Linear`` layer: ``weight`` (out_features, in_features) and
    ``bias`` (out_features,) or None; ``y = x W^T + b``."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None) -> None:
        self.weight = np.asarray(weight)
        self.bias = None if bias is None else np.asarray(bias)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1] != self.weight.shape[1]:
            raise ValueError(
                f"mat1 and mat2 shapes cannot be multiplied ({x.shape} and "
                f"{self.weight.T.shape})"
            )
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias


def _linear_init(
    out_features: int, in_features: int, bias: bool, dtype: np.dtype, rng: np.random.Generator
) -> LinearWeights:
    """``nn.Linear``'s default init: weight and bias uniform in +-1/sqrt(fan_in)."""
    bound = 1 / math.sqrt(in_features) if in_features else 0.0
    weight = rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
    b = rng.uniform(-bound, bound, out_features).astype(dtype) if bias else None
    return LinearWeights(weight, b)


class AdaptiveLogSoftmaxWithLoss:
    r"""Adaptive softmax (Grave et al., 2017), as ``nn.AdaptiveLogSoftmaxWithLoss``.

    The classes are split by ``cutoffs`` $c_1 < \dots < c_k$ into a head shortlist
    $[0, c_1)$ and $k$ tail clusters $[c_i, c_{i+1})$ (with $c_{k+1}$ = ``n_classes``). The
    head is a linear layer to $c_1 + k$ logits (one per shortlist class, one per cluster; a
    bias only with ``head_bias``); cluster $i$ is a projection to
    $h_i = \lfloor \text{in\_features} / \text{div\_value}^{i} \rfloor$ features followed by a
    linear layer to its $c_{i+1} - c_i$ classes, both without bias. Then

    $$\log p(y) = \begin{cases} \operatorname{logsoftmax}(\text{head}(x))_y & y < c_1 \\
    \operatorname{logsoftmax}(\text{head}(x))_{c_1 + i - 1}
    + \operatorname{logsoftmax}(\text{tail}_i(x))_{y - c_i} & c_i \le y < c_{i+1}
    \end{cases}$$

    Calling it on ``(input, target)`` returns ``ASMoutput(output, loss)``: $\log p(y)$ per
    sample and $\text{mean}(-\log p(y))$. The weights live in ``head`` and ``tail[i][0]``,
    ``tail[i][1]`` (``LinearWeights``), drawn like ``nn.Linear``'s at construction from
    ``generator``; ``load_state_dict`` takes torch's ``state_dict()`` as NumPy arrays.
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        cutoffs: Sequence[int],
        div_value: float = 4.0,
        head_bias: bool = False,
        *,
        dtype: np.dtype | type | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (
            cutoffs != sorted(cutoffs)
            or min(cutoffs) <= 0
            or max(cutoffs) > n_classes - 1
            or len(set(cutoffs)) != len(cutoffs)
            or any(int(c) != c for c in cutoffs)
        ):
            raise ValueError(
                "cutoffs should be a sequence of unique, positive integers sorted in an "
                "increasing order, where each value is between 1 and n_classes-1"
            )
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = [*cutoffs, n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        rng = np.random.default_rng() if generator is None else generator
        self.head = _linear_init(self.head_size, in_features, head_bias, dtype, rng)
        self.tail: list[tuple[LinearWeights, LinearWeights]] = []
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(
                (
                    _linear_init(hsz, in_features, False, dtype, rng),
                    _linear_init(osz, hsz, False, dtype, rng),
                )
            )

    def state_dict(self) -> dict[str, np.ndarray]:
        """The arrays under torch's keys: ``head.weight`` (and ``head.bias``),
        ``tail.{i}.0.weight`` and ``tail.{i}.1.weight``."""
        state = {"head.weight": self.head.weight}
        if self.head.bias is not None:
            state["head.bias"] = self.head.bias
        for i, (proj, out) in enumerate(self.tail):
            state[f"tail.{i}.0.weight"] = proj.weight
            state[f"tail.{i}.1.weight"] = out.weight
        return state

    def load_state_dict(self, state_dict: Mapping[str, np.ndarray]) -> None:
        """Copy in the arrays of ``state_dict`` (torch's keys); the keys and every shape must
        match this layer's."""
        current = self.state_dict()
        if set(state_dict) != set(current):
            raise KeyError(
                f"state_dict keys {sorted(state_dict)} do not match {sorted(current)}"
            )
        for key, value in state_dict.items():
            if np.shape(value) != current[key].shape:
                raise ValueError(
                    f"size mismatch for {key}: copying a param with shape {np.shape(value)}, "
                    f"the shape in this layer is {current[key].shape}"
                )
        self.head = LinearWeights(state_dict["head.weight"], state_dict.get("head.bias"))
        self.tail = [
            (
                LinearWeights(state_dict[f"tail.{i}.0.weight"]),
                LinearWeights(state_dict[f"tail.{i}.1.weight"]),
            )
            for i in range(self.n_clusters)
        ]

    def _check_dtype(self, x: np.ndarray) -> np.ndarray:
        x = _floating(np.asarray(x))
        if x.dtype != self.head.weight.dtype:
            raise TypeError(
                f"expected m1 and m2 to have the same dtype, but got: {x.dtype} != "
                f"{self.head.weight.dtype}"
            )
        return x

    def _cluster_log_probs(self, x: np.ndarray, i: int) -> np.ndarray:
        proj, out = self.tail[i]
        return _log_softmax(out(proj(x)), 1)

    def __call__(self, input: np.ndarray, target: np.ndarray) -> ASMoutput:
        """``ASMoutput(output, loss)`` for an (N, in_features) input with (N,) targets, or an
        (in_features,) input with a 0-d target (then ``output`` is 0-d)."""
        return self.forward(input, target)

    def forward(self, input: np.ndarray, target: np.ndarray) -> ASMoutput:
        """See ``__call__``."""
        x, y = self._check_dtype(input), np.asarray(target)
        if y.ndim == 1:
            if x.ndim == 0 or x.shape[0] != y.shape[0]:
                raise ValueError(
                    "Input and target should have the same size in the batch dimension."
                )
            if x.ndim != 2:
                raise ValueError(
                    f"1D target tensor expects 2D input tensors, but found inputs with size "
                    f"{x.shape}"
                )
        elif y.ndim == 0:
            if x.ndim != 1:
                raise ValueError(
                    f"0D target tensor expects 1D input tensors, but found inputs with size "
                    f"{x.shape}"
                )
        else:
            raise ValueError("0D or 1D target tensor expected, multi-target not supported")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"gather(): Expected dtype int32/int64 for index, got {y.dtype}")
        batched = y.ndim == 1
        x, y = (x, y) if batched else (x[None], y[None])
        y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() > self.n_classes - 1):
            raise IndexError(
                f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                f"[{y.min()}, {y.max()}] were found."
            )
        head_logp = _log_softmax(self.head(x), 1)
        # column of the head to read: the class itself, or the target's cluster
        cluster = np.searchsorted(np.asarray(self.cutoffs), y, side="right")  # 0 = shortlist
        column = np.where(cluster == 0, y, self.shortlist_size + cluster - 1)
        output = np.take_along_axis(head_logp, column[:, None], axis=1)[:, 0]
        for i in range(self.n_clusters):
            rows = cluster == i + 1
            if rows.any():
                local = self._cluster_log_probs(x[rows], i)
                relative = y[rows] - self.cutoffs[i]
                output[rows] += np.take_along_axis(local, relative[:, None], axis=1)[:, 0]
        loss = _divide(np.asarray((-output).sum(), output.dtype), output.size)
        return ASMoutput(output if batched else output[0], loss)

    def log_prob(self, input: np.ndarray) -> np.ndarray:
        r"""$\log p(c)$ for every class $c$: an (N, in_features) input gives (N, n_classes),
        whose rows sum (in probability) to 1; other ranks raise."""
        x = self._check_dtype(input)
        if x.ndim != 2:
            raise IndexError(
                f"log_prob expects an (N, in_features) input; Dimension out of range for an "
                f"input of shape {x.shape}"
            )
        return self._full_log_prob(x, self.head(x))

    def _full_log_prob(self, x: np.ndarray, head_output: np.ndarray) -> np.ndarray:
        head_logp = _log_softmax(head_output, 1)
        parts = [head_logp[:, : self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_column = head_logp[:, self.shortlist_size + i, None]
            parts.append(self._cluster_log_probs(x, i) + cluster_column)
        return np.concatenate(parts, axis=1)

    def predict(self, input: np.ndarray) -> np.ndarray:
        """The most probable class per sample, ``argmax(log_prob(input), 1)`` (int64), computed
        as torch does: the head's argmax when it is a shortlist class (which is then the most
        probable class), the full argmax otherwise."""
        x = self._check_dtype(input)
        if x.ndim != 2:
            raise IndexError(
                f"predict expects an (N, in_features) input; Dimension out of range for an "
                f"input of shape {x.shape}"
            )
        head_output = self.head(x)
        output = np.argmax(head_output, axis=1) if x.shape[0] else np.zeros(0, np.int64)
        in_tail = output >= self.shortlist_size
        if in_tail.any():
            full = self._full_log_prob(x[in_tail], head_output[in_tail])
            output[in_tail] = np.argmax(full, axis=1)
        return output.astype(np.int64)
