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


# --- backward helpers -----------------------------------------------------------------------
#
# Each loss's vector-Jacobian product (VJP) sits right after its forward, as
# ``<loss>_backward(grad_output, <the forward's arrays>, <its options>)``: ``grad_output`` has
# the shape of the loss the forward returned (0-d after 'mean' or 'sum'), and the result is
# the gradient of ``sum(grad_output * loss)`` with respect to each array torch differentiates
# (a tuple in the forward's order, ``None`` for an absent or integer array). The deprecated
# ``size_average``/``reduce`` flags are not taken: pass the reduction they select.

CLAMP_MIN_PASSES_AT_ZERO: bool = False
"""Whether ``clamp_min(z, 0)`` passes the gradient at its corner ``z = 0``: the hinge of
`margin_ranking_loss`, `hinge_embedding_loss`, `cosine_embedding_loss` and
`triplet_margin_loss`. ``False`` describes torch 2.14 (no gradient at the corner, as ReLU);
torch 2.4 to 2.13 passed it (``z >= 0``)."""

_BCE_EPSILON = float(np.float32(1e-12))  # torch's `constexpr float EPSILON = 1e-12`


def _sgn(x: np.ndarray) -> np.ndarray:
    """torch's ``sign``/``sgn``: -1, 0 or 1, and 0 for NaN (``(0 < x) - (x < 0)``)."""
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def _clamp_passes(z: np.ndarray) -> np.ndarray:
    """Where ``clamp_min(z, 0)`` lets the gradient through (NaN never does)."""
    return z >= 0 if CLAMP_MIN_PASSES_AT_ZERO else z > 0


def _sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient of a broadcast result back to an operand's ``shape``."""
    g = np.asarray(g)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    return (g.sum(axis=axes, keepdims=True) if axes else g).reshape(shape)


def _grad_of_reduction(
    grad_output: np.ndarray,
    shape: tuple[int, ...],
    reduction: str,
    dtype: np.dtype,
    divisor: float | np.ndarray | None = None,
) -> np.ndarray:
    r"""The VJP of the reduction: the gradient reaching each element of the unreduced loss
    $\ell$ of ``shape``. ``'none'``: $g$ itself (of that shape); ``'sum'``: the 0-d $g$ at
    every element; ``'mean'``: $g / n$ there, $n$ the forward's divisor (``divisor``, by
    default the number of elements)."""
    g = np.asarray(grad_output, dtype=dtype)
    _check_reduction(reduction)
    if reduction == "none":
        if g.shape != tuple(shape):
            raise ValueError(
                f"grad_output of shape {g.shape} for an unreduced loss of shape {tuple(shape)}"
            )
        return g
    if g.size != 1:
        raise ValueError(f"grad_output of a reduced loss must have one element, got {g.shape}")
    g = g.reshape(())
    if reduction == "mean":
        g = _divide(g, math.prod(shape) if divisor is None else divisor)
    return np.broadcast_to(g, shape)


def _log_softmax_backward(grad: np.ndarray, log_p: np.ndarray, axis: int) -> np.ndarray:
    r"""VJP of ``log_softmax`` along ``axis`` from its result:
    $\bar x = \bar y - \operatorname{softmax}(x) \sum \bar y$."""
    return grad - np.exp(log_p) * grad.sum(axis=axis, keepdims=True)


def _pointwise_backward(
    grad_output: np.ndarray,
    dloss: np.ndarray,
    loss: np.ndarray,
    input_shape: tuple[int, ...],
    target_shape: tuple[int, ...],
    weight: np.ndarray | None,
    reduction: str,
    mean_by_weight: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""The VJP of a loss $\ell(d)$ of $d = x - y$ (broadcast), optionally weighted:
    $\bar x = \bar\ell\, w\, \ell'(d)$ summed back to the input's shape, $\bar y = -\bar x$
    (to the target's), and $\bar w = \bar\ell\,\ell(d)$. ``mean_by_weight``: the weighted mean
    is $\sum w\ell / \sum w$ (l1, mse), whose $\bar w$ also has $-g \sum w\ell / (\sum w)^2$."""
    if weight is None:
        gl = _grad_of_reduction(grad_output, loss.shape, reduction, loss.dtype)
        gd = gl * dloss
        return _sum_to(gd, input_shape), _sum_to(-gd, target_shape), None
    w = _check_same_size_weight(weight, input_shape)
    if reduction == "mean" and mean_by_weight:
        g = np.asarray(grad_output, loss.dtype).reshape(())
        total, weights = (loss * w).sum(), w.sum()
        gl = np.broadcast_to(_divide(g, weights), loss.shape)
        gw = _sum_to(gl * loss, w.shape) - _divide(g * total, weights * weights)
    else:
        gl = _grad_of_reduction(grad_output, loss.shape, reduction, loss.dtype)
        gw = _sum_to(gl * loss, w.shape)
    gd = gl * w * dloss
    return _sum_to(gd, input_shape), _sum_to(-gd, target_shape), gw.astype(loss.dtype)


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
def l1_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""VJP of `l1_loss`: $\bar x = \bar\ell\, w \operatorname{sign}(x - y)$ (0 where
    $x = y$, and where $x - y$ is NaN: torch's sign of NaN is 0), $\bar y = -\bar x$ (each
    summed back to its shape when they broadcast), and $\bar w = \bar\ell\,|x - y|$; the
    weighted mean $\sum w\ell / \sum w$ also gives $w$ the quotient rule's
    $-g\sum w\ell / (\sum w)^2$.

    Returns:
        ``(grad_input, grad_target, grad_weight)``, ``grad_weight`` None without ``weight``.
    """
    reduction = _reduction(None, None, reduction)
    x, y = _pointwise_pair(input, target, warn=False)
    d = x - y
    return _pointwise_backward(grad_output, _sgn(d), np.abs(d), np.shape(input),
                               np.shape(target), weight, reduction, mean_by_weight=True)


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
def mse_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""VJP of `mse_loss`: $\bar x = 2\,\bar\ell\, w\,(x - y)$, $\bar y = -\bar x$ (summed
    back to each shape), $\bar w = \bar\ell\,(x - y)^2$ (with the quotient rule's term for the
    weighted mean, as in `l1_loss_backward`).

    Returns:
        ``(grad_input, grad_target, grad_weight)``, ``grad_weight`` None without ``weight``.
    """
    reduction = _reduction(None, None, reduction)
    x, y = _pointwise_pair(input, target, warn=False)
    d = x - y
    return _pointwise_backward(grad_output, 2 * d, d * d, np.shape(input), np.shape(target),
                               weight, reduction, mean_by_weight=True)


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
def smooth_l1_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    beta: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `smooth_l1_loss`: with $d = x - y$,
    $\bar x = \bar\ell\, d / \beta$ where $|d| < \beta$ and $\bar\ell \operatorname{sign}(d)$
    elsewhere (the two agree at $|d| = \beta$), $\bar y = -\bar x$; ``beta = 0`` is
    `l1_loss_backward` (0 at $d = 0$).

    Returns:
        ``(grad_input, grad_target)``.
    """
    reduction = _reduction(None, None, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    if beta == 0:
        return l1_loss_backward(grad_output, input, target, reduction)[:2]
    x, y = _pointwise_pair(input, target, warn=False)
    d = x - y
    gl = _grad_of_reduction(grad_output, d.shape, reduction, d.dtype)
    gd = np.where(np.abs(d) < beta, gl * d / beta, gl * np.sign(d))
    return _sum_to(gd, np.shape(input)), _sum_to(-gd, np.shape(target))


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
def huber_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""VJP of `huber_loss`: $\bar x = \bar\ell\, w \operatorname{clamp}(d, -\delta, \delta)$
    with $d = x - y$ (continuous at $|d| = \delta$), $\bar y = -\bar x$, and
    $\bar w = \bar\ell\,\mathrm{Huber}_\delta(d)$ (the weighted mean divides by the number of
    elements).

    Returns:
        ``(grad_input, grad_target, grad_weight)``, ``grad_weight`` None without ``weight``.
    """
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    x, y = _pointwise_pair(input, target, warn=False)
    d = x - y
    slope = np.where(d <= -delta, -delta, np.where(d >= delta, delta, d)).astype(d.dtype)
    loss = np.where(np.abs(d) <= delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
    return _pointwise_backward(grad_output, slope, loss.astype(d.dtype), np.shape(input),
                               np.shape(target), weight, reduction, mean_by_weight=False)


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


@_ieee
def poisson_nll_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `poisson_nll_loss`: $\bar x = \bar\ell\,(e^x - y)$ and $\bar y = -\bar\ell\,x$
    (``log_input``), or $\bar x = \bar\ell\,(1 - y / (x + \epsilon))$ and
    $\bar y = -\bar\ell \log(x + \epsilon)$; ``full`` adds
    $\bar\ell\,(\log y + \frac{1}{2y})$ to $\bar y$ where $y > 1$, and, as torch
    differentiates the masked Stirling term through $y \log y$, NaN where $y = 0$
    ($0 \cdot \log 0$).

    Returns:
        ``(grad_input, grad_target)``.
    """
    reduction = _reduction(None, None, reduction, alias=False)
    x, y = _pointwise_pair(input, target, warn=False)
    dtype = np.result_type(x, y)
    gl = _grad_of_reduction(grad_output, x.shape, reduction, dtype)
    if log_input:
        gx, gy = gl * np.exp(x) - gl * y, -gl * x
    else:
        gx, gy = gl - gl * y / (x + eps), -gl * np.log(x + eps)
    if full:  # torch's autograd through y log y - y + log(2 pi y) / 2, masked where y <= 1
        s = np.where(y <= 1, 0, gl)
        two_pi = 2 * math.pi
        gy = gy + s * np.log(y) + s * y / y - s + two_pi * (0.5 * s / (two_pi * y))
    return (_sum_to(gx, np.shape(input)).astype(dtype),
            _sum_to(gy, np.shape(target)).astype(dtype))


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
def nll_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> np.ndarray:
    r"""VJP of `nll_loss` with respect to the input (the target and ``weight`` are not
    differentiable): $\bar x_{i,c} = -w_{y_i}\,\bar\ell_i$ at the target class $c = y_i$ and
    0 elsewhere and for ignored targets, where $\bar\ell_i$ is $g_i$ (``'none'``), $g$
    (``'sum'``) or $g / \sum_{i \text{ kept}} w_{y_i}$ (``'mean'``: the forward's divisor)."""
    reduction = _reduction(None, None, reduction)
    _check_reduction(reduction)
    input, target = np.asarray(input), np.asarray(target)
    class_dim, n_classes, target = _class_target(input, target, weight)
    if input.ndim == 1 and target.ndim == 1:  # a (C,) input with a (1,) target: a 0-d loss
        target = target.reshape(())
    ignored = target == ignore_index
    out_of_range = ~ignored & ((target < 0) | (target >= n_classes))
    if out_of_range.any():
        raise IndexError(f"Target {target[out_of_range].flat[0]} is out of bounds.")
    safe = np.where(ignored, 0, target)
    w = np.ones((), input.dtype) if weight is None or n_classes == 0 else np.asarray(weight)[safe]
    w = np.where(ignored, 0, w).astype(input.dtype)
    g = _grad_of_reduction(grad_output, target.shape, reduction, input.dtype, divisor=w.sum())
    coefficient = np.where(ignored, 0, -(w * g)).astype(input.dtype)
    onehot = np.arange(n_classes) == safe[..., None]  # classes last
    grad = np.where(onehot, coefficient[..., None], 0).astype(input.dtype)
    return np.moveaxis(grad, -1, class_dim)


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


def _check_probability_target(
    target: np.ndarray, weight: np.ndarray | None, ignore_index: int, n_classes: int
) -> None:
    """What cross_entropy checks of a class-probability target (of the input's shape)."""
    if not np.issubdtype(np.asarray(target).dtype, np.floating):
        raise TypeError(
            "Expected floating point type for target with class probabilities, got "
            f"{_name(np.asarray(target).dtype)}"
        )
    if ignore_index >= 0:
        raise ValueError("ignore_index is not supported for floating point target")
    if weight is not None and np.shape(weight) != (n_classes,):
        raise ValueError(
            f"cross_entropy: weight tensor should be defined either for all {n_classes} classes "
            f"or no classes but got weight tensor of shape: {list(np.shape(weight))}"
        )


def _cross_entropy_probs(
    logp: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> np.ndarray:
    """Cross entropy with class-probability targets (same shape as the input)."""
    class_dim = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[class_dim]
    _check_probability_target(target, weight, ignore_index, n_classes)
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
def cross_entropy_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    r"""VJP of `cross_entropy`: softmax minus the smoothed, weighted target.

    With $p = \operatorname{softmax}(x)$ along the class dim and per sample $i$ the weighted
    smoothed target $a_{ic}$,

    $$\bar x_{ic} = \bar\ell_i \Bigl(p_{ic} \sum_k a_{ik} - a_{ic}\Bigr),$$

    where for class indices $a_{ic} = (1 - \varepsilon)\, w_{y_i} [c = y_i] +
    \frac{\varepsilon}{C} w_c$ (0 for an ignored target) and $\bar\ell_i$ is divided, for the
    mean, by $\sum_{i \text{ kept}} w_{y_i}$; for probabilities $q$,
    $a_{ic} = w_c\,((1 - \varepsilon) q_{ic} + \varepsilon / C)$, the mean divides by the
    number of samples, and the target and ``weight`` are differentiable too:
    $\bar q_{ic} = -(1 - \varepsilon)\,\bar\ell_i\, w_c \log p_{ic}$ and
    $\bar w_c = -\sum_i \bar\ell_i\, q'_{ic} \log p_{ic}$. Without weights or smoothing,
    $\bar x = \bar\ell\,(p - \text{onehot}(y))$.

    Returns:
        ``(grad_input, grad_target, grad_weight)``: the last two None for class indices
        (torch differentiates neither).
    """
    reduction = _reduction(None, None, reduction)
    _check_reduction(reduction)
    input, target = np.asarray(input), np.asarray(target)
    if not np.issubdtype(input.dtype, np.floating) or input.ndim == 0:
        cross_entropy(input, target, weight, reduction=reduction)  # raises, naming the problem
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    smoothing = label_smoothing if label_smoothing > 0 else 0.0
    if smoothing > 1:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    logp = _log_softmax(input, class_dim)
    w_shape = [1] * input.ndim
    w_shape[class_dim] = n_classes
    dtype = input.dtype
    if input.shape == target.shape:
        _check_probability_target(target, weight, ignore_index, n_classes)
        dtype = np.result_type(logp, target)
        w = np.ones(w_shape, dtype) if weight is None else np.asarray(weight).reshape(w_shape)
        share = np.divide(np.asarray(smoothing, dtype), n_classes) if smoothing else 0.0
        q = target * (1 - smoothing) + share if smoothing else target
        samples = np.divide(np.asarray(logp.size, dtype), n_classes)
        loss_shape = tuple(n for d, n in enumerate(input.shape) if d != class_dim)
        gl = np.expand_dims(
            _grad_of_reduction(grad_output, loss_shape, reduction, dtype, divisor=samples),
            class_dim,
        )
        g_prod = -gl * w  # the gradient reaching logp * q
        g_logp = g_prod * q
        g_q = g_prod * logp
        grad_target = g_q * (1 - smoothing) if smoothing else g_q
        grad_weight = None
        if weight is not None:
            grad_weight = _sum_to(-gl * (logp * q), tuple(w_shape)).reshape(n_classes)
        grad_input = _log_softmax_backward(g_logp, logp, class_dim)
        return grad_input.astype(dtype), grad_target.astype(dtype), grad_weight
    g = np.asarray(grad_output, dtype)
    g_logp = nll_loss_backward(g * (1 - smoothing) if smoothing else g, logp, target, weight,
                               ignore_index, reduction)
    if smoothing:
        per_sample = logp.sum(axis=class_dim)
        if reduction == "none" and target.shape != per_sample.shape:  # (C,) input, (1,) target
            cross_entropy(input, target, weight, ignore_index=ignore_index, reduction=reduction,
                          label_smoothing=label_smoothing)  # raises
        labels = target.astype(np.int64).reshape(per_sample.shape)
        ignored = labels == ignore_index
        kept = labels[~ignored]
        denominator = kept.size if weight is None else np.asarray(weight)[kept].sum()
        share = np.divide(np.asarray(smoothing, dtype), n_classes)
        gs = _grad_of_reduction(g * share, per_sample.shape, reduction, dtype, denominator)
        gs = np.where(ignored, 0, gs)
        w = np.ones(w_shape, dtype) if weight is None else np.asarray(weight).reshape(w_shape)
        g_logp = g_logp - np.expand_dims(gs, class_dim) * w
    return _log_softmax_backward(g_logp, logp, class_dim).astype(dtype), None, None


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


@_ieee
def kl_div_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    log_target: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `kl_div`: $\bar x = -\bar\ell\, y$ and $\bar y = \bar\ell\,(\log y + 1 - x)$
    for probability targets (torch differentiates ``xlogy(y, y)``, which gives NaN at $y = 0$),
    or $\bar x = -\bar\ell\, e^{y}$ and $\bar y = \bar\ell\, e^{y}(y - x + 1)$ with
    ``log_target``; ``'batchmean'`` divides $\bar\ell$ by the batch size.

    Returns:
        ``(grad_input, grad_target)``.
    """
    reduction = _reduction(None, None, reduction)
    _check_reduction(reduction, (*_REDUCTIONS, "batchmean"))
    x, y = _pointwise_pair(input, target, warn=False)
    dtype = np.result_type(x, y)
    if reduction == "batchmean":
        batch = None if np.ndim(input) == 0 else np.shape(input)[0]
        gl = _grad_of_reduction(grad_output, x.shape, "sum" if batch is None else "mean",
                                dtype, divisor=batch)
    else:
        gl = _grad_of_reduction(grad_output, x.shape, reduction, dtype)
    if log_target:
        e = np.exp(y)
        gx, gy = -(gl * e), gl * (y - x) * e + gl * e
    else:  # d/dy xlogy(y, y) = xlogy(y != 0, y) + y / y
        log_y = np.where(y != 0, np.log(np.where(y != 0, y, 1)), 0)
        log_y = np.where(np.isnan(y), np.nan, log_y)
        gx, gy = -gl * y, gl * log_y + gl * y / y - gl * x
    return (_sum_to(gx, np.shape(input)).astype(dtype),
            _sum_to(gy, np.shape(target)).astype(dtype))


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
    x, y = _bce_pair(input, target)
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100)
        log_1mx = np.maximum(np.log1p(-x), -100)
    loss = -(y * log_x + (1 - y) * log_1mx)
    if weight is not None:
        loss = loss * _broadcast_weight(weight, y.shape, "weight")
    return _reduce(loss.astype(x.dtype), reduction)


def _bce_pair(input: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """binary_cross_entropy's checks: one shape, one floating dtype, values in [0, 1]."""
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
    return x, y


@_ieee
def binary_cross_entropy_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `binary_cross_entropy`, torch's formulas (``weight`` is not differentiable):

    $$\bar x = \bar\ell\, w \frac{x - y}{\max(x(1 - x),\ \epsilon)}, \qquad
    \bar y = -\bar\ell\, w \log\frac{x}{1 - x},$$

    with $\epsilon = 10^{-12}$ rounded to float32. Neither differentiates the forward's clamp
    of the logs at $-100$: at $x = 0$, $y = 1$ the input gradient is $-\bar\ell w/\epsilon$
    (about $-10^{12}$), not 0, and the target gradient at $x \in \{0, 1\}$ is $\pm\infty$.

    Returns:
        ``(grad_input, grad_target)``.
    """
    reduction = _reduction(None, None, reduction)
    x, y = _bce_pair(input, target)
    gl = _grad_of_reduction(grad_output, x.shape, reduction, x.dtype)
    w = 1 if weight is None else _broadcast_weight(weight, y.shape, "weight")
    gx = gl * (x - y) / np.maximum((1 - x) * x, _BCE_EPSILON) * w
    gy = -np.log(x / (1 - x)) * gl * w
    return gx.astype(x.dtype), gy.astype(x.dtype)


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


@_ieee
def binary_cross_entropy_with_logits_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    reduction: str = "mean",
    pos_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `binary_cross_entropy_with_logits` (``weight`` and ``pos_weight`` are not
    differentiable): with $p$ = ``pos_weight`` (1 without it),

    $$\bar x = \bar\ell\, w\,\bigl((p y + 1 - y)\,\sigma(x) - p y\bigr), \qquad
    \bar y = \bar\ell\, w\,\bigl(\log\sigma(-x) - p \log\sigma(x)\bigr),$$

    which is $\bar\ell w(\sigma(x) - y)$ and $-\bar\ell w x$ without ``pos_weight``.

    Returns:
        ``(grad_input, grad_target)``.
    """
    reduction = _reduction(None, None, reduction)
    x, y = _floating(np.asarray(input)), np.asarray(target)
    if x.shape != y.shape:
        raise ValueError(f"Target size ({y.shape}) must be the same as input size ({x.shape})")
    _floating(y, "target")
    gl = _grad_of_reduction(grad_output, x.shape, reduction, y.dtype)
    sig = np.exp(-np.logaddexp(np.zeros((), x.dtype), -x))
    if pos_weight is None:
        gx, gy = (sig - y) * gl, -x * gl
    else:
        p = _broadcast_weight(pos_weight, x.shape, "pos_weight")
        t = p * y
        gx = ((t + 1 - y) * sig - t) * gl
        gy = (_log_sigmoid(-x) - _log_sigmoid(x) * p) * gl
    if weight is not None:
        w = _broadcast_weight(weight, x.shape, "weight")
        gx, gy = gx * w, gy * w
    return gx.astype(y.dtype), gy.astype(y.dtype)


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
def margin_ranking_loss_backward(
    grad_output: np.ndarray,
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float = 0,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""VJP of `margin_ranking_loss`: with $z = -y(x_1 - x_2) + \text{margin}$ and
    $\bar z = \bar\ell$ where the hinge is open ($z > 0$; also at $z = 0$ through torch 2.13,
    `CLAMP_MIN_PASSES_AT_ZERO`), 0 elsewhere: $\bar x_1 = -y \bar z$, $\bar x_2 = y \bar z$,
    $\bar y = -(x_1 - x_2)\,\bar z$ (each summed back to its shape).

    Returns:
        ``(grad_input1, grad_input2, grad_target)``, ``grad_target`` None for an integer
        target.
    """
    reduction = _reduction(None, None, reduction)
    x1, x2 = _floating(np.asarray(input1), "input1"), np.asarray(input2)
    y = _like_input(np.asarray(target), x1)
    if not x1.ndim == x2.ndim == y.ndim:
        margin_ranking_loss(x1, x2, y, margin)  # raises, naming the shapes
    diff = x1 - x2
    z = -y * diff + margin
    dtype = np.result_type(x1, x2)
    gz = np.where(_clamp_passes(z), _grad_of_reduction(grad_output, z.shape, reduction, dtype), 0)
    g_diff = gz * -y
    grad_target = _sum_to(-(gz * diff), y.shape) if np.issubdtype(
        np.asarray(target).dtype, np.floating) else None
    return (_sum_to(g_diff, x1.shape).astype(dtype), _sum_to(-g_diff, x2.shape).astype(dtype),
            grad_target)


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
def hinge_embedding_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    margin: float = 1.0,
    reduction: str = "mean",
) -> np.ndarray:
    r"""VJP of `hinge_embedding_loss` (the target is not differentiable):
    $\bar x = \bar\ell\,[y \ne -1] - \bar\ell\,[y \ne 1]\,[\text{margin} - x > 0]$
    (the hinge's corner $x = \text{margin}$ passes the gradient through torch 2.13)."""
    reduction = _reduction(None, None, reduction)
    x, y = _pointwise_pair(input, target, warn=False)
    gl = _grad_of_reduction(grad_output, x.shape, reduction, x.dtype)
    g = np.where(y != -1, gl, 0) - np.where((y != 1) & _clamp_passes(margin - x), gl, 0)
    return _sum_to(g, np.shape(input)).astype(x.dtype)


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


@_ieee
def soft_margin_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
) -> np.ndarray:
    r"""VJP of `soft_margin_loss` (torch does not differentiate the target): with
    $z = e^{-y x}$, $\bar x = -\bar\ell\, y\, z / (1 + z)$, computed as torch's CPU kernel
    does, so it is NaN where $z$ overflows to $\infty$ (e.g. $y x < -710$ in float64), where
    the loss itself is $\infty$."""
    reduction = _reduction(None, None, reduction)
    x, y = _pointwise_pair(input, target, warn=False, to_input=True)
    gl = _grad_of_reduction(grad_output, x.shape, reduction, x.dtype)
    z = np.exp(-y * x)
    return (-(y * z) / (1 + z) * gl).astype(x.dtype)


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
    x, z, pairs, _ = _multilabel_pairs(input, target)
    hinge = np.where(pairs, z, 0)
    loss = (hinge.sum(axis=(1, 2)) / x.shape[1]).astype(x.dtype)
    if np.ndim(input) <= 1:
        return _reduce(loss.reshape(()), reduction)
    return _reduce(loss, reduction)


def _multilabel_pairs(input: np.ndarray, target: np.ndarray) -> tuple:
    """multilabel_margin_loss's checks and terms: the (nframe, C) scores ``x``, the margins
    ``z[n, j, i] = 1 - (x[y_j] - x[i])``, the mask of the terms that count (``j`` listed,
    ``i`` not a target, ``z > 0``) and the listed targets as safe indices."""
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
        pairs = listed[:, :, None] & ~is_target[:, None, :] & (z > 0)
    return x, z, pairs, safe


@_ieee
def multilabel_margin_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
) -> np.ndarray:
    r"""VJP of `multilabel_margin_loss`: each term $h(1 - (x_{y_j} - x_i))$ with a positive
    margin (torch's kernel counts only $z > 0$) adds $\bar\ell / C$ to $\bar x_i$ and
    subtracts it from $\bar x_{y_j}$; ``'mean'`` also divides by the number of samples."""
    reduction = _reduction(None, None, reduction)
    _check_reduction(reduction)
    x, _, pairs, safe = _multilabel_pairs(input, target)
    nframe, dim = x.shape
    loss_shape = () if np.ndim(input) <= 1 else (nframe,)
    g = _grad_of_reduction(grad_output, loss_shape, reduction, x.dtype).reshape(-1)
    g = np.broadcast_to(g, (nframe,)) / np.asarray(dim, x.dtype)
    counts = pairs.astype(x.dtype)
    grad = counts.sum(axis=1) - np.einsum("nj,njc->nc", counts.sum(axis=2),
                                          (safe[:, :, None] == np.arange(dim)).astype(x.dtype))
    return (grad * g[:, None]).reshape(np.shape(input)).astype(x.dtype)


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
def multilabel_soft_margin_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    r"""VJP of `multilabel_soft_margin_loss`, with $\bar\ell_c = \bar\ell / C$ reaching each
    class: $\bar x = \bar\ell_c\, w\,(\sigma(x) - y)$, $\bar y = -\bar\ell_c\, w\, x$ (as
    $\log\sigma(x) - \log\sigma(-x)$) and
    $\bar w = -\bar\ell_c\,(y \log\sigma(x) + (1 - y) \log\sigma(-x))$.

    Returns:
        ``(grad_input, grad_target, grad_weight)``, None for an absent weight or an integer
        target.
    """
    reduction = _reduction(None, None, reduction, alias=False)
    _check_reduction(reduction)
    x = _floating(np.asarray(input))
    y = _like_input(np.asarray(target), x)
    if x.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    log_sig, log_sig_neg = _log_sigmoid(x), _log_sigmoid(-x)
    elementwise = -(y * log_sig + (1 - y) * log_sig_neg)
    if weight is not None:
        elementwise = elementwise * np.asarray(weight)
    dtype = np.result_type(x, y)
    class_dim = x.ndim - 1
    per_sample = np.delete(elementwise.shape, class_dim) if elementwise.ndim else ()
    gl = _grad_of_reduction(grad_output, tuple(int(n) for n in per_sample), reduction, dtype)
    g = np.broadcast_to(np.expand_dims(_divide(gl, x.shape[-1]), class_dim), elementwise.shape)
    g_terms = -(g if weight is None else g * np.asarray(weight))  # reaches y log s(x) etc.
    sig = np.exp(log_sig)
    grad_input = g_terms * y * (1 - sig) - g_terms * (1 - y) * sig
    grad_target = g_terms * log_sig - g_terms * log_sig_neg
    grad_weight = None
    if weight is not None:
        grad_weight = _sum_to(-g * (y * log_sig + (1 - y) * log_sig_neg), np.shape(weight))
    floating_target = np.issubdtype(np.asarray(target).dtype, np.floating)
    return (_sum_to(grad_input, x.shape).astype(dtype),
            _sum_to(grad_target, y.shape).astype(dtype) if floating_target else None,
            None if grad_weight is None else grad_weight.astype(dtype))


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
def cosine_embedding_loss_backward(
    grad_output: np.ndarray,
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float = 0,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `cosine_embedding_loss` (the target is not differentiable). The gradient
    reaching the cosine is $\bar c = -\bar\ell$ where $y = 1$, $\bar\ell$ where $y = -1$ and
    $c > \text{margin}$ (also at $c = \text{margin}$ through torch 2.13), 0 elsewhere; with
    $m_k = \lVert x_k \rVert^2 + 10^{-12}$ and $c = x_1 \cdot x_2 / \sqrt{m_1 m_2}$,

    $$\bar x_1 = \bar c \Bigl(\frac{x_2}{\sqrt{m_1 m_2}} - \frac{c\, x_1}{m_1}\Bigr),$$

    and symmetrically for $x_2$ (torch's chain of sums, sqrt and quotient).

    Returns:
        ``(grad_input1, grad_input2)``.
    """
    reduction = _reduction(None, None, reduction)
    x1, x2 = _floating(np.asarray(input1), "input1"), np.asarray(input2)
    y = _like_input(np.asarray(target), x1)
    cosine_embedding_loss(x1, x2, y, margin)  # torch's shape checks, with their messages
    axis = y.ndim
    prod = (x1 * x2).sum(axis)
    mag1 = (x1 * x1).sum(axis) + _COSINE_EPS
    mag2 = (x2 * x2).sum(axis) + _COSINE_EPS
    denom = np.sqrt(mag1 * mag2)
    cos = prod / denom
    dtype = np.result_type(x1, x2)
    shape = np.broadcast_shapes(y.shape, cos.shape)
    gl = _grad_of_reduction(grad_output, shape, reduction, dtype)
    g_cos = _sum_to(-np.where(y == 1, gl, 0)
                    + np.where((y == -1) & _clamp_passes(cos - margin), gl, 0), cos.shape)
    g_prod = g_cos / denom
    g_denom = -g_cos * prod / (denom * denom)
    g_mags = g_denom / (2 * denom)  # sqrt's VJP, then the product m1 m2
    g_mag1, g_mag2 = g_mags * mag2, g_mags * mag1
    expand = lambda a: np.expand_dims(a, axis)  # noqa: E731
    g1 = expand(g_prod) * x2 + 2 * expand(g_mag1) * x1
    g2 = expand(g_prod) * x1 + 2 * expand(g_mag2) * x2
    return _sum_to(g1, x1.shape).astype(dtype), _sum_to(g2, x2.shape).astype(dtype)


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
    x, y, weight, active, z = _multi_margin_terms(input, target, p, margin, weight)
    with np.errstate(invalid="ignore", over="ignore"):
        hinge = np.where(active, z, 0) ** p
        if weight is not None:
            hinge = hinge * weight[y][:, None]
    loss = (hinge.sum(axis=1) / x.shape[1]).astype(x.dtype)
    return _reduce(loss.reshape(np.shape(target)), reduction)


def _multi_margin_terms(
    input: np.ndarray, target: np.ndarray, p: int, margin: float, weight: np.ndarray | None
) -> tuple:
    """multi_margin_loss's checks and terms: the (nframe, C) scores, the targets, the weight
    as a (C,) array (or None), the mask of the terms that count (``i != y`` and
    ``z > 0``) and the margins ``z = margin - x_y + x_i``."""
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
        active = (z > 0) & (np.arange(dim) != y[:, None])
    return x, y, weight, active, z


@_ieee
def multi_margin_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    p: int = 1,
    margin: float = 1.0,
    weight: np.ndarray | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""VJP of `multi_margin_loss` (``weight`` is not differentiable): each term with
    $z_i = \text{margin} - x_y + x_i > 0$ (torch's kernel counts only those) gives
    $h_i = w_y\, \bar\ell / C$ for $p = 1$ or $2 z_i w_y\, \bar\ell / C$ for $p = 2$:
    $\bar x_i = h_i$ and $\bar x_y = -\sum_i h_i$; ``'mean'`` also divides by the number of
    samples."""
    reduction = _reduction(None, None, reduction)
    _check_reduction(reduction)
    x, y, weight, active, z = _multi_margin_terms(input, target, p, margin, weight)
    nframe, dim = x.shape
    g = _grad_of_reduction(grad_output, np.shape(target), reduction, x.dtype).reshape(-1)
    g = np.broadcast_to(g, (nframe,))
    scale = np.asarray(1 / dim, x.dtype)
    h = np.where(active, scale if p == 1 else 2 * scale * z, 0)
    if weight is not None:
        h = h * weight[y][:, None]
    onehot = np.arange(dim) == y[:, None]
    grad = np.where(onehot, -h.sum(axis=1, keepdims=True), h) * g[:, None]
    return grad.reshape(np.shape(input)).astype(x.dtype)


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


def _pairwise_distance_backward(
    grad: np.ndarray, x1: np.ndarray, x2: np.ndarray, p: float, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `_pairwise_distance`: torch's ``norm_backward`` of $u = x_1 - x_2 + \epsilon$,
    $\bar u = \bar d\, \operatorname{sign}(u) |u|^{p-1} / d^{p-1}$ (0 where $d = 0$);
    $p = 0$ gives 0, $p = 1$ $\bar d \operatorname{sign}(u)$, $p = \pm\infty$ shares $\bar d$
    evenly among the entries of largest (smallest) magnitude; $\bar x_1 = \bar u$,
    $\bar x_2 = -\bar u$."""
    u = x1 - x2 + eps
    flat = u.reshape(1) if u.ndim == 0 else u
    norm = _pairwise_distance(x1, x2, p, eps)
    g = np.broadcast_to(grad, norm.shape)[..., None]
    n = norm[..., None]
    size, sign = np.abs(flat), _sgn(flat)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if p == 0:
            gu = np.zeros_like(flat)
        elif p == 1:
            gu = sign * g
        elif p == 2:
            gu = g * np.where(n == 0, 0, flat / n)
        elif math.isinf(p):
            mask = (size == n) | np.isnan(size)
            gu = sign * ((g / mask.sum(axis=-1, keepdims=True)) * mask)
        elif p < 1:
            gu = sign * np.where(flat == 0, 0, size ** (p - 1)) * g * n ** (1 - p)
        elif p < 2:
            gu = sign * size ** (p - 1) * np.where(n == 0, 0, g / n ** (p - 1))
        else:
            gu = flat * size ** (p - 2) * np.where(n == 0, 0, g / n ** (p - 1))
    gu = gu.reshape(u.shape).astype(u.dtype)
    return _sum_to(gu, np.shape(x1)), _sum_to(-gu, np.shape(x2))


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


@_ieee
def triplet_margin_loss_backward(
    grad_output: np.ndarray,
    anchor: np.ndarray,
    positive: np.ndarray,
    negative: np.ndarray,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""VJP of `triplet_margin_loss`: the hinge passes $\bar z = \bar\ell$ where
    $z = \text{margin} + d(a, \text{pos}) - d_{\text{neg}} > 0$ (also at $z = 0$ through
    torch 2.13); $+\bar z$ reaches $d(a, \text{pos})$ and $-\bar z$ the negative distance,
    which with ``swap`` is the elementwise minimum (a tie halves the gradient between both
    distances); each distance passes its gradient on by `_pairwise_distance_backward`.

    Returns:
        ``(grad_anchor, grad_positive, grad_negative)``.
    """
    reduction = _reduction(None, None, reduction)
    triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap)  # torch's checks
    a, pos, neg = np.asarray(anchor), np.asarray(positive), np.asarray(negative)
    d_pos = _pairwise_distance(a, pos, p, eps)
    d_an = _pairwise_distance(a, neg, p, eps)
    d_pn = _pairwise_distance(pos, neg, p, eps) if swap else d_an
    d_neg = np.minimum(d_an, d_pn)
    z = margin + d_pos - d_neg
    gz = np.where(_clamp_passes(z), _grad_of_reduction(grad_output, z.shape, reduction, a.dtype),
                  0)
    g_pos, g_neg = _sum_to(gz, d_pos.shape), -gz
    if swap:
        half = np.where(d_an == d_pn, g_neg / 2, g_neg)
        g_an = _sum_to(np.where(d_an > d_pn, 0, half), d_an.shape)
        g_pn = _sum_to(np.where(d_an < d_pn, 0, half), d_pn.shape)
    else:
        g_an = _sum_to(g_neg, d_an.shape)
    ga, gp = _pairwise_distance_backward(g_pos, a, pos, p, eps)
    ga2, gn = _pairwise_distance_backward(g_an, a, neg, p, eps)
    ga = ga + ga2
    if swap:
        gp2, gn2 = _pairwise_distance_backward(g_pn, pos, neg, p, eps)
        gp, gn = gp + gp2, gn + gn2
    return ga.astype(a.dtype), gp.astype(a.dtype), gn.astype(a.dtype)


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
    lattice = _ctc_lattice(log_probs, targets, input_lengths, target_lengths, blank)
    loss = _ctc_forward(lattice)[1]
    dtype = lattice.lp.dtype
    if zero_infinity:
        loss = np.where(loss == np.inf, 0, loss).astype(dtype)
    if reduction == "mean":
        return _divide(np.asarray((loss / np.maximum(lattice.tg_len, 1)).sum(), dtype),
                       loss.size)
    return _reduce(loss[0] if lattice.unbatched else loss, reduction)


class _CtcLattice(NamedTuple):
    """What the forward and backward algorithms share: the (T, N, C) log-probabilities, the
    extended labels ``ext`` (N, 2 S_max + 1) with their log-probabilities ``ext_lp``
    (T, N, 2 S_max + 1), which positions are ``valid`` and ``can_skip`` (from s - 2), the
    lengths, and whether the input was unbatched."""

    lp: np.ndarray
    ext: np.ndarray
    ext_lp: np.ndarray
    valid: np.ndarray
    can_skip: np.ndarray
    in_len: np.ndarray
    tg_len: np.ndarray
    unbatched: bool


def _ctc_lattice(
    log_probs: np.ndarray,
    targets: np.ndarray,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int,
) -> _CtcLattice:
    """ctc_loss's checks (in torch's order) and the extended label lattice."""
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
    valid = np.arange(width) < 2 * tg_len[:, None] + 1
    can_skip = np.zeros((batch, width), bool)
    can_skip[:, 2:] = ext[:, 2:] != ext[:, :-2]  # never at a blank (l'_{s-2} is one too)
    return _CtcLattice(lp, ext, ext_lp, valid, can_skip, in_len, tg_len, unbatched)


def _ctc_forward(lattice: _CtcLattice) -> tuple[np.ndarray, np.ndarray]:
    r"""The forward algorithm: $\alpha_t$ for every step (T, N, 2 S_max + 1; held at its last
    value beyond a sample's input length) and the loss $-\log p$ per sample."""
    ext_lp, valid, can_skip = lattice.ext_lp, lattice.valid, lattice.can_skip
    in_len, tg_len = lattice.in_len, lattice.tg_len
    n_steps, batch, width = ext_lp.shape
    neg_inf = np.asarray(-np.inf, lattice.lp.dtype)
    alpha = np.where((np.arange(width) < 2) & valid, ext_lp[0], neg_inf)
    alphas = [alpha]
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(1, n_steps):
            step = np.concatenate([np.full((batch, 1), neg_inf), alpha], axis=1)[:, :width]
            skip = np.concatenate([np.full((batch, 2), neg_inf), alpha], axis=1)[:, :width]
            new = _logsumexp_terms(alpha, step, np.where(can_skip, skip, neg_inf))
            alpha = np.where((t < in_len[:, None]) & valid, new + ext_lp[t], alpha)
            alphas.append(alpha)
        rows = np.arange(batch)
        last = alpha[rows, 2 * tg_len]
        before_last = np.where(tg_len > 0, alpha[rows, np.maximum(2 * tg_len - 1, 0)], neg_inf)
        loss = -_logsumexp_terms(last, before_last)
    empty_input = np.where(tg_len == 0, 0.0, np.inf)  # no step: only the empty target fits
    loss = np.where(in_len == 0, empty_input, loss).astype(lattice.lp.dtype)
    return np.stack(alphas), loss


def _ctc_betas(lattice: _CtcLattice) -> np.ndarray:
    r"""The backward algorithm: $\beta_t(s)$, the log-probability of finishing the target
    from position $s$ at step $t$ (including step $t$'s symbol), -inf beyond a sample's
    input length: $\beta_{T_n - 1}(s) = \mathrm{lp}_{T_n - 1}(l'_s)$ for the last two
    positions, $\beta_t(s) = \mathrm{lp}_t(l'_s) + \operatorname{logsumexp}(\beta_{t+1}(s),
    \beta_{t+1}(s+1), \beta_{t+1}(s+2))$, the last term only where $l'_{s+2} \ne l'_s$."""
    ext_lp, valid = lattice.ext_lp, lattice.valid
    in_len, tg_len = lattice.in_len[:, None], lattice.tg_len[:, None]
    n_steps, batch, width = ext_lp.shape
    neg_inf = np.asarray(-np.inf, lattice.lp.dtype)
    s = np.arange(width)
    ends = ((s == 2 * tg_len) | ((s == 2 * tg_len - 1) & (tg_len > 0))) & valid
    skip_from = np.concatenate([lattice.can_skip[:, 2:], np.zeros((batch, 2), bool)],
                               axis=1)[:, :width]
    beta = np.full((batch, width), neg_inf)
    betas = [beta] * n_steps
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(n_steps - 1, -1, -1):
            step = np.concatenate([beta[:, 1:], np.full((batch, 1), neg_inf)], axis=1)
            skip = np.concatenate([beta[:, 2:], np.full((batch, 2), neg_inf)], axis=1)[:, :width]
            new = ext_lp[t] + _logsumexp_terms(beta, step, np.where(skip_from, skip, neg_inf))
            beta = np.where(t == in_len - 1, np.where(ends, ext_lp[t], neg_inf),
                            np.where((t < in_len - 1) & valid, new, neg_inf))
            betas[t] = beta
    return np.stack(betas)


@_ieee
def ctc_loss_backward(
    grad_output: np.ndarray,
    log_probs: np.ndarray,
    targets: np.ndarray,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> np.ndarray:
    r"""VJP of `ctc_loss` with respect to ``log_probs``, the true partial derivative
    (Graves et al., 2006, eq. 16 without its softmax term):

    $$\bar{\mathrm{lp}}_t(c) = -\bar\ell\, \gamma_t(c), \qquad
    \gamma_t(c) = \sum_{s:\, l'_s = c} \frac{\alpha_t(s)\,\beta_t(s)}{p \cdot
    \mathrm{lp}\text{-prob}_t(c)},$$

    the posterior probability of emitting $c$ at step $t$ (in log space,
    $\exp(\operatorname{logsumexp}_s(\alpha_t(s) + \beta_t(s)) + \ell - \mathrm{lp}_t(c))$);
    0 beyond a sample's input length, NaN for an impossible target (infinite loss), 0 for it
    with ``zero_infinity``. Torch returns $e^{\mathrm{lp}_t(c)} - \gamma_t(c)$ instead (the
    gradient with respect to the logits of a ``log_softmax``, pytorch/pytorch#52241): the two
    agree once passed back through ``log_softmax``. ``'mean'`` divides sample $n$'s
    $\bar\ell$ by $\max(S_n, 1)\,N$. As in torch's kernel, a sample's last step counts only
    the two end positions, and each class sums its own positions (a NaN stays in its class).
    Where the target's last label is the blank (torch's docs forbid it), torch's CPU kernel
    drops the blank's end position at the last step; this function does not.
    """
    reduction = _reduction(None, None, reduction)
    _check_reduction(reduction)
    lattice = _ctc_lattice(log_probs, targets, input_lengths, target_lengths, blank)
    alphas, nll = _ctc_forward(lattice)
    betas = _ctc_betas(lattice)
    lp, dtype = lattice.lp, lattice.lp.dtype
    n_steps, batch, n_classes = lp.shape
    if reduction == "none":
        g = np.asarray(grad_output, dtype).reshape(batch)
    else:
        g = _grad_of_reduction(grad_output, (batch,), reduction, dtype)
        if reduction == "mean":
            g = g / np.maximum(lattice.tg_len, 1)
    width = lattice.ext.shape[1]
    s, tg_len = np.arange(width), lattice.tg_len[:, None]
    ends = ((s == 2 * tg_len) | ((s == 2 * tg_len - 1) & (tg_len > 0))) & lattice.valid
    last = np.arange(n_steps)[:, None] == lattice.in_len[None, :] - 1  # (T, N)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ab = alphas + betas
        # torch's kernel: at a sample's last step only the two end positions count; each
        # class is its own logsumexp over the positions s with l'_s = c (a NaN stays there)
        ab = np.where(last[:, :, None] & ~ends[None], -np.inf, ab)
        onehot = lattice.ext[:, :, None] == np.arange(n_classes)  # (N, S, C)
        terms = np.where(onehot[None], ab[..., None], -np.inf)  # (T, N, S, C)
        shift = np.max(terms, axis=2, initial=-np.inf)
        shift = np.where(shift == -np.inf, 0, shift)
        log_collected = np.log(np.exp(terms - shift[:, :, None]).sum(axis=2)) + shift
        gamma = np.exp(log_collected + nll[None, :, None] - lp)
    grad = -gamma * g[None, :, None]
    inside = np.arange(n_steps)[:, None] < lattice.in_len[None, :]
    keep = inside[:, :, None] & ~(zero_infinity & (nll == np.inf))[None, :, None]
    grad = np.where(keep, grad, 0).astype(dtype)
    return grad[:, 0] if lattice.unbatched else grad


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
