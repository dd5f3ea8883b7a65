"""Loss functions, from first principles in NumPy, with the names and signatures of
``torch.nn.functional``.

Every loss computes a per-element (or per-sample) loss ``l`` and then applies the reduction:
``'none'`` returns ``l``, ``'sum'`` returns ``sum(l)``, ``'mean'`` returns ``sum(l) / n``
(``nan`` when ``n`` is 0). Weighted class losses divide by the sum of the weights instead of
``n``. The deprecated ``size_average``/``reduce`` arguments are accepted as in torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ArrayLike = np.ndarray | Sequence[int] | int
_REDUCTIONS = ("none", "mean", "sum")
_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))
_COSINE_EPS = 1e-12


# --- helpers --------------------------------------------------------------------------------


def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """The reduction string, with the legacy ``size_average``/``reduce`` flags taking over
    when either is given (each defaults to True)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


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
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=loss.dtype)
    return _divide(np.asarray(loss.sum(), dtype=loss.dtype), loss.size)


def _same_shape(input: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast ``input`` and ``target`` (torch broadcasts pointwise losses, with a warning
    when the shapes differ); non-broadcastable shapes raise ValueError naming both."""
    try:
        return np.broadcast_arrays(input, target)
    except ValueError:
        raise ValueError(
            f"shape mismatch: input {input.shape} and target {target.shape} do not broadcast"
        ) from None


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """``x - logsumexp(x)`` along ``axis``, shifted by the max for stability."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """``log(sigmoid(x)) = -log(1 + exp(-x))``, finite for every finite ``x``."""
    return -np.logaddexp(np.zeros((), x.dtype), -x)


def _check_index_target(target: np.ndarray) -> None:
    if target.dtype not in _INDEX_DTYPES:
        raise TypeError(
            f"expected target dtype to be Long or Byte (int64 or uint8), got {target.dtype}"
        )


def _weighted_pointwise(
    loss: np.ndarray, weight: np.ndarray | None, input_shape: tuple[int, ...], reduction: str
) -> np.ndarray:
    """l1/mse's ``weight``: ``w * l``, and the mean divides by ``sum(w)``."""
    if weight is None:
        return _reduce(loss, reduction)
    weight = np.asarray(weight)
    if weight.shape != input_shape:
        raise ValueError(
            f"Weights and input must have the same size: weight {weight.shape}, input {input_shape}"
        )
    _check_reduction(reduction)
    loss = loss * weight
    if reduction == "mean":
        return _divide(np.asarray(loss.sum(), loss.dtype), weight.sum())
    return _reduce(loss, reduction)


# --- regression losses ----------------------------------------------------------------------


def l1_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Mean absolute error: ``l = |x - y|`` (``w * |x - y|``, mean over ``sum(w)``, with weight)."""
    x, y = _same_shape(np.asarray(input), np.asarray(target))
    return _weighted_pointwise(
        np.abs(x - y), weight, np.shape(input), _reduction(size_average, reduce, reduction)
    )


def mse_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Mean squared error: ``l = (x - y)^2``.

    With weight: ``w (x - y)^2``, mean over ``sum(w)``.
    """
    x, y = _same_shape(np.asarray(input), np.asarray(target))
    return _weighted_pointwise(
        (x - y) ** 2, weight, np.shape(input), _reduction(size_average, reduce, reduction)
    )


def smooth_l1_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> np.ndarray:
    """``l = 0.5 d^2 / beta`` if ``|d| < beta`` else ``|d| - 0.5 beta``, ``d = x - y``;
    ``beta = 0`` is the L1 loss and a negative beta raises."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    x, y = _same_shape(np.asarray(input), np.asarray(target))
    d = np.abs(x - y)
    if beta == 0:
        loss = d
    else:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # unused branch
            loss = np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss.astype(d.dtype), _reduction(size_average, reduce, reduction))


def huber_loss(
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """``l = 0.5 d^2`` if ``|d| <= delta`` else ``delta (|d| - 0.5 delta)``: ``delta`` times
    SmoothL1 with ``beta = delta``. With ``weight``, ``l * w`` and the mean is over elements
    (not over ``sum(w)`` as in l1/mse). ``delta <= 0`` raises."""
    if delta <= 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    x, y = _same_shape(np.asarray(input), np.asarray(target))
    d = np.abs(x - y)
    loss = np.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta)).astype(d.dtype)
    if weight is not None:
        weight = np.asarray(weight)
        if weight.shape != np.shape(input):
            raise ValueError(
                "Weights and input must have the same size: "
                f"weight {weight.shape}, input {np.shape(input)}"
            )
        loss = loss * weight
    return _reduce(loss, reduction)


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
    """Poisson negative log likelihood: ``l = exp(x) - y x`` (``log_input``) or
    ``x - y log(x + eps)``; ``full`` adds Stirling's ``y log y - y + 0.5 log(2 pi y)`` where
    ``y > 1``."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x, y = _same_shape(np.asarray(input), np.asarray(target))
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:
        safe = np.where(y > 1, y, 1)
        stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe)
        loss = loss + np.where(y > 1, stirling, 0)
    return _reduce(loss.astype(x.dtype), reduction)


# --- probabilistic classification losses ----------------------------------------------------


def nll_loss(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Negative log likelihood of class indices: ``l_i = -w[y_i] x[i, y_i]`` on inputs of
    shape (C,), (N, C) or (N, C, d1, ...) with targets (), (N,) or (N, d1, ...).

    Targets equal to ``ignore_index`` contribute 0; ``'mean'`` divides the sum by
    ``sum_i w[y_i]`` over the kept targets (``nan`` when every target is ignored).
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = np.asarray(input), np.asarray(target)
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions for input (got 0)")
    if input.ndim == 1 and target.ndim > 1 or input.ndim == 2 and target.ndim > 1:
        raise ValueError(
            f"0D or 1D target tensor expected for input of shape {input.shape}, multi-target not "
            f"supported (got target of shape {target.shape})"
        )
    _check_index_target(target)
    class_dim = 0 if input.ndim == 1 else 1
    expected = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if target.shape != expected:
        raise ValueError(
            f"Expected target size {expected} for input of shape {input.shape}, got target of "
            f"shape {target.shape} (input batch_size must match target batch_size)"
        )
    n_classes = input.shape[class_dim]
    if weight is not None and np.shape(weight) != (n_classes,):
        raise ValueError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes "
            f"but got weight tensor of shape {np.shape(weight)}"
        )
    target = target.astype(np.int64)
    ignored = target == ignore_index
    out_of_range = ~ignored & ((target < 0) | (target >= n_classes))
    if out_of_range.any():
        raise IndexError(
            f"Target {target[out_of_range].flat[0]} is out of bounds (C = {n_classes})."
        )
    safe = np.where(ignored, 0, target)
    logp = np.moveaxis(input, class_dim, -1)
    picked = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    w = np.ones((), input.dtype) if weight is None else np.asarray(weight)[safe]
    w = np.where(ignored, 0, w).astype(input.dtype)
    loss = -w * picked
    if reduction == "mean":
        return _divide(np.asarray(loss.sum(), input.dtype), w.sum())
    return _reduce(loss, reduction)


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
    """Cross entropy of logits: ``l_i = -x[i, y_i] + log(sum_j exp(x[i, j]))``, i.e.
    ``nll_loss(log_softmax(x, class_dim), y)``; the class dim is 0 for a (C,) input, else 1.

    A target of the input's shape holds class probabilities ``p``:
    ``l_i = -sum_c w_c p_ic log_softmax(x)_ic``, and ``'mean'`` divides by the number of
    samples (not by the weights). ``label_smoothing`` ``e`` mixes the target with the uniform
    distribution: ``(1 - e) * onehot + e / C``; with class indices this is
    ``(1 - e) * nll + e / C * sum_c w_c (-log_softmax(x)_c)``, both terms reduced with the
    same denominator.
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    input, target = np.asarray(input), np.asarray(target)
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(f"cross_entropy expects floating-point logits as input, got {input.dtype}")
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions for input (got 0)")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    logp = _log_softmax(input, class_dim)
    w_shape = [1] * input.ndim
    w_shape[class_dim] = n_classes
    if input.shape == target.shape:
        return _cross_entropy_probs(
            logp, target, weight, ignore_index, reduction, label_smoothing, w_shape
        )
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    ignored = target == ignore_index
    w = np.ones(w_shape, input.dtype) if weight is None else np.asarray(weight).reshape(w_shape)
    smooth = np.where(ignored, 0, -(logp * w).sum(axis=class_dim))
    if reduction == "mean":
        kept = target[~ignored].astype(np.int64)
        denominator = kept.size if weight is None else np.asarray(weight)[kept].sum()
        smooth = _divide(np.asarray(smooth.sum(), input.dtype), denominator)
    else:
        smooth = _reduce(smooth.astype(input.dtype), reduction)
    return np.asarray(
        (1 - label_smoothing) * nll + label_smoothing / n_classes * smooth, input.dtype
    )


def _cross_entropy_probs(
    logp: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    w_shape: list[int],
) -> np.ndarray:
    """Cross entropy with class-probability targets (same shape as the input)."""
    if not np.issubdtype(target.dtype, np.floating):
        raise TypeError(
            f"Expected floating point type for target with class probabilities, got {target.dtype}"
        )
    if ignore_index != -100:
        raise ValueError("ignore_index is not supported for floating point target")
    class_dim = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[class_dim]
    if weight is not None and np.shape(weight) != (n_classes,):
        raise ValueError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes "
            f"but got weight tensor of shape {np.shape(weight)}"
        )
    target = target * (1 - label_smoothing) + label_smoothing / n_classes
    w = np.ones(w_shape, logp.dtype) if weight is None else np.asarray(weight).reshape(w_shape)
    loss = -(logp * target * w).sum(axis=class_dim).astype(logp.dtype)
    return _reduce(loss, reduction)


def kl_div(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> np.ndarray:
    """Kullback-Leibler divergence with ``input`` holding log-probabilities:
    ``l = y (log y - x)`` (0 where ``y = 0``), or ``exp(y) (y - x)`` with ``log_target``.
    ``'batchmean'`` divides the sum by the batch size (the true KL), ``'mean'`` by numel."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction, (*_REDUCTIONS, "batchmean"))
    x, y = _same_shape(np.asarray(input), np.asarray(target))
    if log_target:
        loss = np.exp(y) * (y - x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(y == 0, 0, y * np.log(np.where(y == 0, 1, y))) - y * x
    loss = loss.astype(x.dtype)
    if reduction == "batchmean":
        total = np.asarray(loss.sum(), loss.dtype)
        return total if np.ndim(input) == 0 else _divide(total, np.shape(input)[0])
    return _reduce(loss, reduction)


def binary_cross_entropy(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Binary cross entropy of probabilities ``x`` in [0, 1]:
    ``l = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100))``; the clamp keeps
    ``x = 0`` or ``1`` finite. Target and input must have the same shape."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x, y = np.asarray(input), np.asarray(target)
    if x.shape != y.shape:
        raise ValueError(
            f"Using a target size {y.shape} that is different to the input size {x.shape}"
        )
    if ((x < 0) | (x > 1)).any():
        raise ValueError("all elements of input should be between 0 and 1")
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100)
        log_1mx = np.maximum(np.log1p(-x), -100)
    loss = -(y * log_x + (1 - y) * log_1mx)
    if weight is not None:
        loss = loss * np.broadcast_to(weight, y.shape)
    return _reduce(loss.astype(x.dtype), reduction)


def binary_cross_entropy_with_logits(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: np.ndarray | None = None,
) -> np.ndarray:
    """BCE on logits, ``l = -w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))``, computed
    stably as ``(1 - y) x - (1 + (p - 1) y) log sigmoid(x)`` with
    ``log sigmoid(x) = -log(1 + exp(-x))`` (finite for any finite logit); ``p`` is
    ``pos_weight`` (broadcast along the last dim, the classes)."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x, y = np.asarray(input), np.asarray(target)
    if x.shape != y.shape:
        raise ValueError(f"Target size {y.shape} must be the same as input size {x.shape}")
    log_sig = _log_sigmoid(x)
    if pos_weight is not None:
        log_sig = log_sig * ((np.asarray(pos_weight) - 1) * y + 1)
    loss = (1 - y) * x - log_sig
    if weight is not None:
        loss = loss * np.asarray(weight)
    return _reduce(loss.astype(x.dtype), reduction)


# --- margin and embedding losses ------------------------------------------------------------


def margin_ranking_loss(
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """``l = max(0, -y (x1 - x2) + margin)`` with ``y`` in {1, -1} saying which input should
    rank higher; the three inputs must have the same number of dims."""
    reduction = _reduction(size_average, reduce, reduction)
    x1, x2, y = np.asarray(input1), np.asarray(input2), np.asarray(target)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(
            f"margin_ranking_loss: all input tensors should have the same dimension but got "
            f"sizes input1 {x1.shape}, input2 {x2.shape}, target {y.shape}"
        )
    loss = np.maximum(-y * (x1 - x2) + margin, 0).astype(np.result_type(x1, x2))
    return _reduce(loss, reduction)


def hinge_embedding_loss(
    input: np.ndarray,
    target: np.ndarray,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """``l = x`` where ``y = 1`` and ``max(0, margin - x)`` where ``y = -1`` (torch adds
    both terms for any other target value)."""
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _same_shape(np.asarray(input), np.asarray(target))
    loss = np.where(y != 1, np.maximum(margin - x, 0), 0) + np.where(y != -1, x, 0)
    return _reduce(loss.astype(x.dtype), reduction)


def soft_margin_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Two-class logistic loss ``l = log(1 + exp(-y x))`` for ``y`` in {1, -1}."""
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _same_shape(np.asarray(input), np.asarray(target))
    with np.errstate(over="ignore"):
        loss = np.log1p(np.exp(-y * x))
    return _reduce(loss.astype(x.dtype), reduction)


def multilabel_margin_loss(
    input: np.ndarray,
    target: np.ndarray,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Multi-label hinge loss: the target row lists class indices and ends at the first -1;
    ``l = sum_{j in y} sum_{i not in y} max(0, 1 - (x[y_j] - x[i])) / C``."""
    reduction = _reduction(size_average, reduce, reduction)
    input, target = np.asarray(input), np.asarray(target)
    if target.dtype != np.int64:
        raise TypeError(
            f"multilabel_margin_loss expects an int64 (Long) target, got {target.dtype}"
        )
    if target.shape != input.shape:
        raise ValueError(
            f"multilabel_margin_loss: inconsistent target size {target.shape} "
            f"for input of size {input.shape}"
        )
    if input.ndim not in (1, 2):
        raise ValueError(
            f"multilabel_margin_loss expects a (C,) or (N, C) input, got {input.shape}"
        )
    x, y, unbatched = (
        input.reshape(-1, input.shape[-1]),
        target.reshape(-1, input.shape[-1]),
        input.ndim == 1,
    )
    n_classes = x.shape[1]
    if ((y < -1) | (y >= n_classes)).any():
        raise IndexError(f"multilabel_margin_loss: target value out of range [-1, {n_classes})")
    listed = np.cumprod(y != -1, axis=1).astype(bool)  # positions before the first -1
    safe = np.where(listed, y, 0)
    is_target = np.zeros(x.shape, bool)
    rows = np.broadcast_to(np.arange(x.shape[0])[:, None], y.shape)
    is_target[rows[listed], safe[listed]] = True
    x_target = np.take_along_axis(x, safe, axis=1)  # x[y_j]
    hinge = np.maximum(1 - (x_target[:, :, None] - x[:, None, :]), 0)
    mask = listed[:, :, None] & ~is_target[:, None, :]
    loss = (hinge * mask).sum(axis=(1, 2)) / n_classes
    loss = loss.astype(x.dtype)
    return _reduce(loss[0] if unbatched else loss, reduction)


def multilabel_soft_margin_loss(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """Per-class logistic loss averaged over classes:
    ``l = -sum_c w_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)) / C``."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x, y = np.asarray(input), np.asarray(target)
    loss = -(y * _log_sigmoid(x) + (1 - y) * _log_sigmoid(-x))
    if weight is not None:
        loss = loss * np.asarray(weight)
    loss = (loss.sum(axis=-1) / x.shape[-1]).astype(x.dtype)
    return _reduce(loss, reduction)


def cosine_embedding_loss(
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """``l = 1 - cos(x1, x2)`` where ``y = 1`` and ``max(0, cos(x1, x2) - margin)`` where
    ``y = -1``, with ``cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))`` over the last dim."""
    reduction = _reduction(size_average, reduce, reduction)
    x1, x2, y = np.asarray(input1), np.asarray(input2), np.asarray(target)
    if x1.shape != x2.shape or x1.ndim not in (1, 2) or y.shape != x1.shape[:-1]:
        raise ValueError(
            f"cosine_embedding_loss: inputs {x1.shape} and {x2.shape} must have the same (D,) or "
            f"(N, D) shape, with a target of shape () or (N,), got {y.shape}"
        )
    prod = (x1 * x2).sum(-1)
    denominator = np.sqrt(((x1 * x1).sum(-1) + _COSINE_EPS) * ((x2 * x2).sum(-1) + _COSINE_EPS))
    cos = prod / denominator
    loss = np.where(y == 1, 1 - cos, 0) + np.where(y == -1, np.maximum(cos - margin, 0), 0)
    return _reduce(loss.astype(x1.dtype), reduction)


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
    """Multi-class hinge loss for a class index ``y``:
    ``l = sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C``, ``p`` in {1, 2}."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"only p == 1 and p == 2 supported, got p = {p}")
    input, target = np.asarray(input), np.asarray(target)
    if target.dtype != np.int64:
        raise TypeError(f"multi_margin_loss expects an int64 (Long) target, got {target.dtype}")
    if input.ndim not in (1, 2) or target.shape not in (input.shape[:-1], (1,) * (input.ndim == 1)):
        raise ValueError(
            f"multi_margin_loss: inconsistent target size {target.shape} "
            f"for input of size {input.shape}"
        )
    x, y, unbatched = input.reshape(-1, input.shape[-1]), target.reshape(-1), input.ndim == 1
    n_classes = x.shape[1]
    if ((y < 0) | (y >= n_classes)).any():
        raise IndexError(f"multi_margin_loss: target out of range [0, {n_classes})")
    x_target = np.take_along_axis(x, y[:, None], axis=1)
    hinge = np.maximum(margin - x_target + x, 0) ** p
    if weight is not None:
        hinge = hinge * np.asarray(weight)[y][:, None]
    hinge = np.where(np.arange(n_classes) == y[:, None], 0, hinge)
    loss = (hinge.sum(axis=1) / n_classes).astype(x.dtype)
    return _reduce(loss.reshape(target.shape) if unbatched else loss, reduction)


def _pairwise_distance(x1: np.ndarray, x2: np.ndarray, p: float, eps: float) -> np.ndarray:
    """``||x1 - x2 + eps||_p`` over the last dim (torch.pairwise_distance)."""
    d = np.abs(x1 - x2 + eps)
    return (d**p).sum(axis=-1) ** (1 / p)


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
    """``l = max(0, d(a, pos) - d(a, neg) + margin)`` with ``d(u, v) = ||u - v + eps||_p``;
    ``swap`` uses ``min(d(a, neg), d(pos, neg))`` as the negative distance; ``margin > 0``."""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    a, pos, neg = np.asarray(anchor), np.asarray(positive), np.asarray(negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise ValueError(
            f"The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got anchor {a.ndim}D, positive {pos.ndim}D, negative {neg.ndim}D"
        )
    d_pos = _pairwise_distance(a, pos, p, eps)
    d_neg = _pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = np.minimum(d_neg, _pairwise_distance(pos, neg, p, eps))
    loss = np.maximum(margin + d_pos - d_neg, 0).astype(a.dtype)
    return _reduce(loss, reduction)


# --- connectionist temporal classification --------------------------------------------------


def ctc_loss(
    log_probs: np.ndarray,
    targets: np.ndarray,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> np.ndarray:
    """CTC loss ``-log p(y | x)``, summed over all alignments by the forward algorithm in log
    space.

    ``log_probs`` is (T, N, C) (or (T, C) unbatched); ``targets`` is (N, S) padded or the
    concatenation of the N targets. With the extended label ``l'`` (a blank before, between
    and after the labels, length ``2S + 1``):
    ``alpha_0 = [lp_0(blank), lp_0(l_1), -inf, ...]`` and
    ``alpha_t(s) = lp_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2))``,
    where the ``s-2`` term counts only if ``l'_s`` is a label different from ``l'_{s-2}``;
    ``loss = -logsumexp(alpha_{T-1}(2S), alpha_{T-1}(2S-1))``. Impossible alignments give
    ``inf`` (0 with ``zero_infinity``); ``'mean'`` divides each loss by its target length
    (at least 1) and averages over the batch.
    """
    _check_reduction(reduction)
    lp = np.asarray(log_probs)
    targets = np.asarray(targets).astype(np.int64)  # torch's CPU kernel casts float targets too
    unbatched = lp.ndim == 2
    if unbatched:
        lp, targets = lp[:, None], targets.reshape(1, -1)
    if lp.ndim != 3:
        raise ValueError(
            f"ctc_loss expects log_probs of shape (T, N, C) or (T, C), got {np.shape(log_probs)}"
        )
    n_steps, batch, _ = lp.shape
    in_len = np.asarray(input_lengths, dtype=np.int64).reshape(batch)
    tg_len = np.asarray(target_lengths, dtype=np.int64).reshape(batch)
    if (in_len > n_steps).any() or (in_len < 0).any():
        raise ValueError(
            f"ctc_loss: input_lengths must lie in [0, {n_steps}], got {in_len.tolist()}"
        )
    s_max = int(tg_len.max(initial=0))
    if targets.ndim == 1:  # concatenated targets -> padded (N, max S), filled row by row
        if targets.size != tg_len.sum():
            raise ValueError(
                f"ctc_loss: {targets.size} concatenated targets "
                f"but target_lengths sum to {tg_len.sum()}"
            )
        padded = np.full((batch, s_max), blank, dtype=np.int64)
        padded[np.arange(s_max) < tg_len[:, None]] = targets
        targets = padded
    elif (tg_len > targets.shape[1]).any():
        raise ValueError(
            f"ctc_loss: target_lengths must be at most {targets.shape[1]}, got {tg_len.tolist()}"
        )
    width = 2 * s_max + 1
    labels = np.where(np.arange(s_max) < tg_len[:, None], targets[:, :s_max], blank)
    ext = np.full((batch, width), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    ext_lp = np.take_along_axis(lp, np.broadcast_to(ext[None], (n_steps, batch, width)), axis=2)
    s = np.arange(width)
    valid = s < 2 * tg_len[:, None] + 1
    can_skip = np.zeros((batch, width), bool)
    can_skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    neg_inf = np.asarray(-np.inf, lp.dtype)
    alpha = np.where(
        (s < 2) & valid & (in_len[:, None] > 0), ext_lp[0] if n_steps else neg_inf, neg_inf
    )
    for t in range(1, n_steps):
        stay = alpha
        step = np.concatenate([np.full((batch, 1), neg_inf), alpha[:, :-1]], axis=1)
        skip = np.where(
            can_skip, np.concatenate([np.full((batch, 2), neg_inf), alpha[:, :-2]], axis=1), neg_inf
        )
        new = np.logaddexp(np.logaddexp(stay, step), skip) + ext_lp[t]
        alpha = np.where((t < in_len[:, None]) & valid, new, alpha)
    rows = np.arange(batch)
    last = alpha[rows, 2 * tg_len]
    before_last = np.where(tg_len > 0, alpha[rows, np.maximum(2 * tg_len - 1, 0)], neg_inf)
    loss = (-np.logaddexp(last, before_last)).astype(lp.dtype)
    if zero_infinity:
        loss = np.where(loss == np.inf, 0, loss).astype(lp.dtype)
    if reduction == "mean":
        return _divide(np.asarray((loss / np.maximum(tg_len, 1)).sum(), lp.dtype), batch)
    return _reduce(loss[0] if unbatched else loss, reduction)
