"""Activation functions, mirroring ``torch.nn.functional`` (NumPy arrays in and out).

Every function is elementwise except prelu (per channel) and the softmax family (along a
dimension). Results keep the input's floating dtype; they are computed in float64 and cast
back, so a float32 result is the correctly rounded float64 value. Functions with
``inplace=True`` write the result into ``input`` and return ``input`` itself, as torch does.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = [
    "celu",
    "elu",
    "erf",
    "gelu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "rrelu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmax2d",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_ERF_SERIES_BELOW = 2.0  # |x| below this: power series; above: continued fraction for erfc
_ERF_SERIES_TERMS = 60
_ERFC_FRACTION_DEPTH = 60


# --- helpers -------------------------------------------------------------------------------


def _as_float(input: ArrayLike) -> np.ndarray:
    """The input as a floating array (integers and bools become float32, torch's default)."""
    x = np.asarray(input)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def _finish(input: ArrayLike, result: np.ndarray, inplace: bool = False) -> np.ndarray:
    """Cast ``result`` to the input's dtype; with ``inplace``, write it into ``input``."""
    x = _as_float(input)
    if inplace:
        if not isinstance(input, np.ndarray) or x is not input:
            raise TypeError("inplace=True needs a floating NumPy array as input")
        input[...] = result
        return input
    return np.asarray(result, dtype=x.dtype)


def _f64(input: ArrayLike) -> np.ndarray:
    return _as_float(input).astype(np.float64)


def _normalize_dim(dim: int, ndim: int) -> int:
    """``dim`` wrapped into ``[0, ndim)``; a 0-d array accepts dims -1 and 0, like torch."""
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
            f"but got {dim})"
        )
    return dim % rank


def erf(input: ArrayLike) -> np.ndarray:
    r"""The error function $\operatorname{erf}(x) = \frac{2}{\sqrt\pi}\int_0^x e^{-t^2}dt$.

    For $|x| < 2$ the series $\frac{2}{\sqrt\pi} e^{-x^2}\sum_n \frac{2^n x^{2n+1}}{(2n+1)!!}$
    (all terms positive, so no cancellation); above, $1 - \operatorname{erfc}(|x|)$ with the
    continued fraction $\operatorname{erfc}(x) = \frac{e^{-x^2}}{\sqrt\pi}\,
    \cfrac{1}{x + \cfrac{1/2}{x + \cfrac{1}{x + \cfrac{3/2}{x + \dots}}}}$.
    Absolute error about 1e-15 against ``math.erf``.
    """
    x = _f64(input)
    a = np.abs(x)
    small = a < _ERF_SERIES_BELOW
    out = np.empty_like(a)

    s = a[small]
    term, total, two_s2 = s.copy(), s.copy(), 2.0 * s * s
    for n in range(1, _ERF_SERIES_TERMS):
        term = term * two_s2 / (2 * n + 1)
        total = total + term
    out[small] = 2.0 / math.sqrt(math.pi) * np.exp(-s * s) * total

    b = a[~small]
    fraction = np.zeros_like(b)
    for k in range(_ERFC_FRACTION_DEPTH, 0, -1):  # evaluated from the innermost level out
        fraction = (k / 2) / (b + fraction)
    out[~small] = 1.0 - np.exp(-b * b) / math.sqrt(math.pi) / (b + fraction)
    return np.copysign(out, x)


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus64(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


# --- rectifiers ----------------------------------------------------------------------------


def relu(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{ReLU}(x) = \max(0, x)$."""
    x = _f64(input)
    return _finish(input, np.maximum(x, 0.0), inplace)  # NaN propagates, as in torch


def relu6(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{ReLU6}(x) = \min(\max(0, x), 6)$."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: ArrayLike, negative_slope: float = 0.01, inplace: bool = False) -> np.ndarray:
    r"""$x$ for $x > 0$, else $\text{negative\_slope}\cdot x$."""
    x = _f64(input)
    return _finish(input, np.where(x > 0, x, negative_slope * x), inplace)


def rrelu(
    input: ArrayLike,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> np.ndarray:
    r"""Randomized leaky ReLU in evaluation mode: leaky_relu with slope $(l + u)/2$.

    Raises:
        ValueError: if ``lower > upper``, or ``training`` is true (the random slopes drawn in
            training are torch's RNG stream, which this reference does not model).
    """
    if lower > upper:
        raise ValueError(
            f"Lower bound should be less than or equal to the upper bound (lower={lower}, "
            f"upper={upper})"
        )
    if training:
        raise ValueError("rrelu: only training=False (evaluation mode) is specified")
    return leaky_relu(input, (lower + upper) / 2, inplace)


def prelu(input: ArrayLike, weight: ArrayLike) -> np.ndarray:
    r"""$x$ for $x > 0$, else $a_c x$, with one learned slope per channel (dim 1).

    ``weight`` is 0-d or 1-D with 1 element (shared) or ``input.shape[1]`` elements; a 0-d
    or 1-D input counts as one channel.

    Raises:
        ValueError: if ``weight`` has more than one dim or the wrong number of elements.
    """
    x = _f64(input)
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim > 1:
        raise ValueError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {w.ndim}"
        )
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.size not in (1, channels):
        raise ValueError(
            "Mismatch of parameter numbers and input channel size. Found parameter numbers "
            f"= {w.size} and channel size = {channels}."
        )
    slope = w.reshape(-1, *([1] * (x.ndim - 2))) if x.ndim >= 2 else w.reshape(())
    return _finish(input, np.where(x > 0, x, slope * x))


def elu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> np.ndarray:
    r"""$x$ for $x > 0$, else $\alpha(e^x - 1)$."""
    x = _f64(input)
    return _finish(input, np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))), inplace)


def selu(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\lambda\,\mathrm{ELU}_\alpha(x)$ with $\alpha \approx 1.6733$, $\lambda \approx 1.0507$."""
    x = _f64(input)
    y = SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
    return _finish(input, y, inplace)


def celu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> np.ndarray:
    r"""$\max(0, x) + \min(0, \alpha(e^{x/\alpha} - 1))$.

    Raises:
        ValueError: if ``alpha`` is 0.
    """
    if alpha == 0:
        raise ValueError("ZeroDivisionError: alpha cannot be 0 for CELU")
    x = _f64(input)
    y = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0) / alpha))
    return _finish(input, y, inplace)


def gelu(input: ArrayLike, approximate: str = "none") -> np.ndarray:
    r"""$x\,\Phi(x) = \frac{x}{2}\left(1 + \operatorname{erf}(x/\sqrt2)\right)$.

    With ``approximate='tanh'``:
    $\frac{x}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\right)\right)$.

    Raises:
        ValueError: if ``approximate`` is neither ``'none'`` nor ``'tanh'``.
    """
    x = _f64(input)
    if approximate == "none":
        y = 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    elif approximate == "tanh":
        y = 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    else:
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return _finish(input, y)


def silu(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{SiLU}(x) = x\,\sigma(x)$ (swish)."""
    x = _f64(input)
    return _finish(input, x * _sigmoid64(x), inplace)


def mish(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{Mish}(x) = x \tanh(\mathrm{softplus}(x))$."""
    x = _f64(input)
    return _finish(input, x * np.tanh(_softplus64(x)), inplace)


# --- sigmoids and their relatives --------------------------------------------------------


def sigmoid(input: ArrayLike) -> np.ndarray:
    r"""$\sigma(x) = 1 / (1 + e^{-x})$, in $(0, 1)$; $\sigma'(x) = \sigma(x)(1 - \sigma(x))$."""
    return _finish(input, _sigmoid64(_f64(input)))


def logsigmoid(input: ArrayLike) -> np.ndarray:
    r"""$\log\sigma(x) = -\mathrm{softplus}(-x)$, computed without overflow."""
    return _finish(input, -_softplus64(-_f64(input)))


def tanh(input: ArrayLike) -> np.ndarray:
    r"""$\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}) = 2\sigma(2x) - 1$."""
    return _finish(input, np.tanh(_f64(input)))


def tanhshrink(input: ArrayLike) -> np.ndarray:
    r"""$x - \tanh(x)$."""
    x = _f64(input)
    return _finish(input, x - np.tanh(x))


def softsign(input: ArrayLike) -> np.ndarray:
    r"""$x / (1 + |x|)$."""
    x = _f64(input)
    return _finish(input, x / (1.0 + np.abs(x)))


def softplus(input: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    r"""$\frac{1}{\beta}\log(1 + e^{\beta x})$, or $x$ where $\beta x > \text{threshold}$."""
    x = _f64(input)
    with np.errstate(over="ignore", divide="ignore"):  # beta=0 gives inf, as in torch
        smooth = np.log1p(np.exp(np.minimum(beta * x, threshold))) / beta
    return _finish(input, np.where(beta * x > threshold, x, smooth))


def hardsigmoid(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{ReLU6}(x + 3) / 6$: 0 below -3, 1 above 3, linear between."""
    x = _f64(input)
    return _finish(input, np.clip(x + 3.0, 0.0, 6.0) / 6.0, inplace)


def hardswish(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$x\,\mathrm{ReLU6}(x + 3) / 6$."""
    x = _f64(input)
    return _finish(input, x * np.clip(x + 3.0, 0.0, 6.0) / 6.0, inplace)


# --- clamps and shrinks ----------------------------------------------------------------------


def hardtanh(
    input: ArrayLike, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> np.ndarray:
    r"""$\min(\max(x, \text{min\_val}), \text{max\_val})$.

    Raises:
        ValueError: if ``min_val > max_val``.
    """
    if min_val > max_val:
        raise ValueError(f"min_val cannot be greater than max_val ({min_val} > {max_val})")
    x = _as_float(input)
    # The bounds are compared in the input's dtype, as torch casts them to it.
    lo, hi = np.asarray(min_val, x.dtype), np.asarray(max_val, x.dtype)
    return _finish(input, np.minimum(np.maximum(x, lo), hi), inplace)


def threshold(
    input: ArrayLike, threshold: float, value: float, inplace: bool = False
) -> np.ndarray:
    r"""$x$ where $x > \text{threshold}$, else $\text{value}$."""
    x = _as_float(input)
    keep = x > np.asarray(threshold, x.dtype)
    return _finish(input, np.where(keep, x, np.asarray(value, x.dtype)), inplace)


def hardshrink(input: ArrayLike, lambd: float = 0.5) -> np.ndarray:
    r"""$x$ where $|x| > \lambda$, else 0."""
    x = _as_float(input)
    lam = np.asarray(lambd, x.dtype)
    return _finish(input, np.where((x >= -lam) & (x <= lam), 0.0, x))


def softshrink(input: ArrayLike, lambd: float = 0.5) -> np.ndarray:
    r"""$x - \lambda$ above $\lambda$, $x + \lambda$ below $-\lambda$, else 0.

    Raises:
        ValueError: if ``lambd`` is negative.
    """
    if lambd < 0:
        raise ValueError(f"softshrink: lambda must be in range [0, inf), but found {lambd}")
    x = _as_float(input)
    lam = np.asarray(lambd, x.dtype)
    return _finish(input, np.where(x > lam, x - lam, np.where(x < -lam, x + lam, 0.0)))


# --- softmax family ----------------------------------------------------------------------


def _softmax_input(
    name: str, input: ArrayLike, dim: int | None, dtype: DTypeLike | None
) -> tuple[np.ndarray, int, np.dtype]:
    """The input in float64, the wrapped dim and the result dtype of a softmax-like call.

    ``dim=None`` is torch's deprecated implicit choice: 0 for 0-, 1- and 3-d input, else 1.
    """
    x = _as_float(input) if dtype is None else np.asarray(input).astype(dtype)
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=3,
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    axis = _normalize_dim(dim, x.ndim)
    return x.astype(np.float64).reshape(x.shape or (1,)), axis, x.dtype


def _log_softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    """log softmax along ``axis``: subtracting the max first keeps ``exp`` finite."""
    if x.shape[axis] == 0:
        return x
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(input: ArrayLike, dim: int | None = None, dtype: DTypeLike | None = None) -> np.ndarray:
    r"""$\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}$ along ``dim``.

    Each slice along ``dim`` is positive and sums to 1; adding a constant to a slice leaves
    it unchanged. ``dtype`` casts the input first.

    Raises:
        IndexError: if ``dim`` is out of range.
    """
    x, axis, out_dtype = _softmax_input("softmax", input, dim, dtype)
    return np.exp(_log_softmax64(x, axis)).reshape(np.shape(input)).astype(out_dtype)


def softmin(input: ArrayLike, dim: int | None = None, dtype: DTypeLike | None = None) -> np.ndarray:
    r"""$\mathrm{softmin}(x) = \mathrm{softmax}(-x)$ along ``dim``."""
    x, axis, out_dtype = _softmax_input("softmin", input, dim, dtype)
    return np.exp(_log_softmax64(-x, axis)).reshape(np.shape(input)).astype(out_dtype)


def log_softmax(
    input: ArrayLike, dim: int | None = None, dtype: DTypeLike | None = None
) -> np.ndarray:
    r"""$\log\mathrm{softmax}(x)_i = x_i - \log\sum_j e^{x_j}$ along ``dim``, computed stably."""
    x, axis, out_dtype = _softmax_input("log_softmax", input, dim, dtype)
    return _log_softmax64(x, axis).reshape(np.shape(input)).astype(out_dtype)


def softmax2d(input: ArrayLike) -> np.ndarray:
    r"""``nn.Softmax2d``: softmax over the channels (dim -3) at every spatial location.

    Raises:
        ValueError: if the input is not 3-D ``(C, H, W)`` or 4-D ``(N, C, H, W)``.
    """
    ndim = np.ndim(input)
    if ndim not in (3, 4):
        raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {ndim}D instead")
    return softmax(input, -3)
