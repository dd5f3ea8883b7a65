"""Activation functions, mirroring ``torch.nn.functional`` (NumPy arrays in and out).

Every function is elementwise except prelu (per channel) and the softmax family (along a
dimension). Results keep the input's floating dtype (float16, float32 or float64); they are
computed in float64 and cast back, so a float32 result is the correctly rounded float64
value. Non-finite values follow IEEE arithmetic through each formula, as torch's kernels do
(``nan`` in gives ``nan`` out; ``-inf * 0`` is ``nan``). Integer and bool inputs follow
torch's dtype rules: the clamps (relu, relu6, hardtanh, threshold) keep the integer dtype,
sigmoid, tanh, softsign, tanhshrink and erf promote to float32 (torch's default float), and
every other activation rejects them with ``TypeError``. Functions with ``inplace=True``
write the result into ``input`` and return ``input`` itself, as torch does.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = [
    "celu",
    "celu_backward",
    "celu_double_backward",
    "elu",
    "elu_backward",
    "elu_double_backward",
    "erf",
    "gelu",
    "gelu_backward",
    "gelu_double_backward",
    "glu",
    "glu_backward",
    "glu_double_backward",
    "hardshrink",
    "hardshrink_backward",
    "hardshrink_double_backward",
    "hardsigmoid",
    "hardsigmoid_backward",
    "hardswish",
    "hardswish_backward",
    "hardswish_double_backward",
    "hardtanh",
    "hardtanh_backward",
    "hardtanh_double_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "leaky_relu_double_backward",
    "log_softmax",
    "log_softmax_backward",
    "log_softmax_double_backward",
    "logsigmoid",
    "logsigmoid_backward",
    "logsigmoid_double_backward",
    "mish",
    "mish_backward",
    "mish_double_backward",
    "prelu",
    "prelu_backward",
    "relu",
    "relu6",
    "relu6_backward",
    "relu6_double_backward",
    "relu_backward",
    "relu_double_backward",
    "rrelu",
    "rrelu_backward",
    "rrelu_double_backward",
    "selu",
    "selu_backward",
    "selu_double_backward",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_double_backward",
    "silu",
    "silu_backward",
    "silu_double_backward",
    "softmax",
    "softmax2d",
    "softmax_backward",
    "softmax_double_backward",
    "softmin",
    "softmin_backward",
    "softplus",
    "softplus_backward",
    "softplus_double_backward",
    "softshrink",
    "softshrink_backward",
    "softshrink_double_backward",
    "softsign",
    "softsign_backward",
    "tanh",
    "tanh_backward",
    "tanh_double_backward",
    "tanhshrink",
    "tanhshrink_backward",
    "threshold",
    "threshold_backward",
    "threshold_double_backward",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_ERF_SERIES_BELOW = 2.0  # |x| below this: power series; above: continued fraction for erfc
_ERF_SERIES_TERMS = 60
_ERFC_FRACTION_DEPTH = 60

# torch's names of the integer dtypes, as its error messages spell them ("... for 'Long'").
_TORCH_NAMES = {
    np.dtype(np.bool_): "Bool",
    np.dtype(np.uint8): "Byte",
    np.dtype(np.int8): "Char",
    np.dtype(np.int16): "Short",
    np.dtype(np.int32): "Int",
    np.dtype(np.int64): "Long",
    np.dtype(np.float16): "Half",
    np.dtype(np.float32): "Float",
    np.dtype(np.float64): "Double",
}


# --- helpers: dtype rules -----------------------------------------------------------------


def _torch_name(dtype: np.dtype) -> str:
    return _TORCH_NAMES.get(np.dtype(dtype), str(dtype))


def _floating(name: str, input: ArrayLike) -> np.ndarray:
    """The input as an array; integer and bool inputs raise, as torch's floating-only
    kernels do (``"elu" not implemented for 'Long'``)."""
    x = np.asarray(input)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f'"{name}" not implemented for {_torch_name(x.dtype)!r}')
    return x


def _real(name: str, input: ArrayLike) -> np.ndarray:
    """The input as an array of a floating or integer dtype; bool raises."""
    x = np.asarray(input)
    if x.dtype == np.bool_:
        raise TypeError(f"Bool inputs not supported for {name}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f'"{name}" not implemented for {_torch_name(x.dtype)!r}')
    return x


def _promoted(name: str, input: ArrayLike, *, allow_bool: bool) -> np.ndarray:
    """The input as a floating array: integers (and bools, if allowed) become float32,
    torch's default dtype, as its unary float ops promote them."""
    x = np.asarray(input)
    if x.dtype == np.bool_ and not allow_bool:
        raise TypeError(f"{name}: not implemented for a bool tensor ('Bool')")
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def _scalar(value: float, dtype: np.dtype, name: str) -> np.ndarray:
    """``value`` converted to ``dtype`` as torch converts a Scalar argument (c10's checked
    conversion). To an integer dtype a float must lie in the dtype's range before it is
    truncated toward zero (so -0.5 overflows uint8) and ``nan``/``inf`` overflow; a Python
    int out of range overflows, except that a negative int wraps into an unsigned dtype
    when its magnitude fits. To a floating dtype ``inf`` and ``nan`` pass and a finite value
    beyond the dtype's largest overflows.

    Raises:
        ValueError: naming the overflow.
    """
    dtype = np.dtype(dtype)
    overflow = ValueError(
        f"{name}: value {value} cannot be converted to type {dtype} without overflow"
    )
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = int(value)
            wraps = info.min == 0 and value < 0 and -value <= info.max
            if not (info.min <= value <= info.max or wraps):
                raise overflow
            return np.asarray(value % (info.max + 1) if wraps else value, dtype)
        value = float(value)
        if not (info.min <= value <= info.max):  # nan and inf fail too
            raise overflow
        return np.asarray(math.trunc(value), dtype)
    if math.isfinite(value) and abs(value) > float(np.finfo(dtype).max):
        raise overflow
    return np.asarray(value, dtype)


def _coefficient(value: float, dtype: np.dtype) -> float:
    """A multiplicative parameter as torch's kernel holds it: rounded to the dtype it
    computes in (float32 for float16 and float32 input, float64 for float64), so a slope of
    1e-88 is 0 in float32 and ``-inf * 0`` gives ``nan`` there."""
    return float(np.result_type(dtype, np.float32).type(value))


def _finish(input: ArrayLike, result: np.ndarray, dtype: np.dtype, inplace: bool) -> np.ndarray:
    """``result`` cast to ``dtype``; with ``inplace``, written into ``input``, which is
    returned (torch returns the very tensor it overwrote)."""
    if inplace:
        if not isinstance(input, np.ndarray) or input.dtype != dtype:
            raise TypeError(f"inplace=True needs a NumPy array of dtype {np.dtype(dtype)}")
        input[...] = result
        return input
    return np.asarray(result).astype(dtype, copy=False)


def _normalize_dim(dim: int, ndim: int) -> int:
    """``dim`` wrapped into ``[0, ndim)``; a 0-d array accepts dims -1 and 0, like torch."""
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
            f"but got {dim})"
        )
    return dim % rank


# --- erf ---------------------------------------------------------------------------------


def _erf64(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    small = a < _ERF_SERIES_BELOW
    out = np.empty_like(a)

    s = a[small]
    term, total, two_s2 = s.copy(), s.copy(), 2.0 * s * s
    for n in range(1, _ERF_SERIES_TERMS):
        term = term * two_s2 / (2 * n + 1)
        total = total + term
    out[small] = 2.0 / math.sqrt(math.pi) * np.exp(-s * s) * total

    b = a[~small]  # includes inf (erf = 1) and nan (stays nan)
    fraction = np.zeros_like(b)
    for k in range(_ERFC_FRACTION_DEPTH, 0, -1):  # evaluated from the innermost level out
        fraction = (k / 2) / (b + fraction)
    out[~small] = 1.0 - np.exp(-b * b) / math.sqrt(math.pi) / (b + fraction)
    return np.copysign(out, x)


def erf(input: ArrayLike) -> np.ndarray:
    r"""The error function $\operatorname{erf}(x) = \frac{2}{\sqrt\pi}\int_0^x e^{-t^2}dt$.

    For $|x| < 2$ the series $\frac{2}{\sqrt\pi} e^{-x^2}\sum_n \frac{2^n x^{2n+1}}{(2n+1)!!}$
    (all terms positive, so no cancellation); above, $1 - \operatorname{erfc}(|x|)$ with the
    continued fraction $\operatorname{erfc}(x) = \frac{e^{-x^2}}{\sqrt\pi}\,
    \cfrac{1}{x + \cfrac{1/2}{x + \cfrac{1}{x + \cfrac{3/2}{x + \dots}}}}$.
    Absolute error about 1e-15 against ``math.erf``; $\operatorname{erf}(\pm\infty) = \pm 1$.
    The result has the input's floating dtype (integers and bools give float32, as
    ``torch.erf``).
    """
    x = _promoted("erf", input, allow_bool=True)
    return _finish(input, _erf64(x.astype(np.float64)), x.dtype, False)


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus64(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _ieee(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Run ``function`` with NumPy's floating-point warnings off: ``inf - inf`` and
    ``-inf * 0`` are meant to give ``nan``, as in torch."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return function(*args, **kwargs)

    return wrapper


# --- rectifiers ----------------------------------------------------------------------------


def relu(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{ReLU}(x) = \max(0, x)$; ``nan`` stays ``nan``.

    Integer inputs keep their dtype; bool raises ``TypeError``.
    """
    x = _real("relu", input)
    return _finish(input, np.maximum(x, x.dtype.type(0)), x.dtype, inplace)


def relu6(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{ReLU6}(x) = \min(\max(0, x), 6)$, i.e. ``hardtanh(x, 0, 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(
    input: ArrayLike, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> np.ndarray:
    r"""$\min(\max(x, \text{min\_val}), \text{max\_val})$; ``nan`` stays ``nan``.

    The bounds are first converted to the input's dtype (for an integer input they are
    truncated toward zero), as torch converts them, so an integer input gives an integer
    result.

    Raises:
        ValueError: if ``min_val > max_val``, a bound overflows the dtype, or the dtype is
            unsigned and a (truncated) bound is negative.
        TypeError: for a bool input.
    """
    if min_val > max_val:
        raise ValueError(f"min_val cannot be greater than max_val ({min_val} > {max_val})")
    x = _real("hardtanh", input)
    if np.issubdtype(x.dtype, np.integer):  # torch truncates the bounds to integers first
        min_val, max_val = math.trunc(min_val), math.trunc(max_val)
        if np.issubdtype(x.dtype, np.unsignedinteger) and (min_val < 0 or max_val < 0):
            raise ValueError(
                "cannot do hardtanh on an unsigned type with negative limits "
                f"({min_val}, {max_val})"
            )
    lo, hi = _scalar(min_val, x.dtype, "hardtanh"), _scalar(max_val, x.dtype, "hardtanh")
    return _finish(input, np.minimum(np.maximum(x, lo), hi), x.dtype, inplace)


def threshold(
    input: ArrayLike, threshold: float, value: float, inplace: bool = False
) -> np.ndarray:
    r"""$\text{value}$ where $x \le \text{threshold}$, else $x$ (so ``nan`` stays ``nan``).

    ``threshold`` and ``value`` are converted to the input's dtype first (integers
    truncate toward zero); for a float16 input torch compares in float32, so ``threshold``
    is rounded to float32 there, not to float16.

    Raises:
        ValueError: if ``threshold`` or ``value`` overflows the input's dtype.
        TypeError: for a bool input.
    """
    x = _real("threshold", input)
    compare = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
    t = _scalar(threshold, compare, "threshold")
    v = _scalar(value, x.dtype, "threshold")
    return _finish(input, np.where(x.astype(compare, copy=False) <= t, v, x), x.dtype, inplace)


@_ieee
def leaky_relu(input: ArrayLike, negative_slope: float = 0.01, inplace: bool = False) -> np.ndarray:
    r"""$x$ for $x > 0$, else $\text{negative\_slope}\cdot x$ ($-\infty \cdot 0 = $ ``nan``)."""
    x = _floating("leaky_relu", input)
    x64, slope = x.astype(np.float64), _coefficient(negative_slope, x.dtype)
    return _finish(input, np.where(x64 > 0, x64, slope * x64), x.dtype, inplace)


def rrelu(
    input: ArrayLike,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    noise: ArrayLike | None = None,
    generator: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Randomized leaky ReLU: $x$ for $x > 0$, else $a\,x$.

    In evaluation $a = (l + u)/2$ for every element (``leaky_relu``). In training each
    element with $x \le 0$ has its own slope $a_i \sim U(l, u)$, with $l$ = ``lower`` and $u$
    = ``upper``: $y_i = a_i x_i$ where $x_i \le 0$, else $y_i = x_i$. To be deterministic the
    reference takes the slopes as ``noise`` (an array of the input's shape, such as the
    ``noise`` buffer torch's ``rrelu_with_noise`` fills; entries at positive inputs are
    ignored), or draws them from ``generator`` (a ``numpy.random.Generator``). A slope is
    rounded to the input's dtype (float32 for float16) before the product, as torch's kernel
    rounds it.

    Raises:
        ValueError: if ``lower > upper``, or ``noise`` does not have the input's shape.
    """
    if lower > upper:
        raise ValueError(
            f"Lower bound should be less than or equal to the upper bound (lower={lower}, "
            f"upper={upper})"
        )
    x = _floating("rrelu", input)
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    if noise is None:
        rng = np.random.default_rng() if generator is None else generator
        slopes = rng.uniform(lower, upper, size=x.shape)
    else:
        slopes = np.asarray(noise, dtype=np.float64)
        if slopes.shape != x.shape:
            raise ValueError(f"rrelu: noise of shape {slopes.shape} for input of {x.shape}")
    slope_dtype = np.result_type(x.dtype, np.float32)
    slopes = slopes.astype(slope_dtype).astype(np.float64)
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        y = np.where(x64 <= 0, x64 * slopes, x64)
    return _finish(input, y, x.dtype, inplace)


def prelu(input: ArrayLike, weight: ArrayLike) -> np.ndarray:
    r"""$x$ for $x > 0$, else $a_c x$, with one learned slope per channel (dim 1).

    ``weight`` is 0-d or 1-D with 1 element (shared) or ``input.shape[1]`` elements; a 0-d
    or 1-D input counts as one channel. ``weight`` must have the input's dtype.

    Raises:
        ValueError: if ``weight`` has more than one dim or the wrong number of elements,
            or the input is 0-d and ``weight`` has more than one element.
        TypeError: for integer inputs, or a weight of another dtype.
    """
    x = _floating("prelu", input)
    w = np.asarray(weight)
    if w.dtype != x.dtype:
        raise TypeError(
            "prelu: Type promoting not supported. Got "
            f"{_torch_name(x.dtype)} and {_torch_name(w.dtype)}"
        )
    if w.ndim > 1:
        raise ValueError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {w.ndim}"
        )
    if w.size != 1 and x.ndim == 0:
        raise ValueError("prelu: Not allow zero-dim input tensor.")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.size not in (1, channels):
        raise ValueError(
            "Mismatch of parameter numbers and input channel size. Found parameter numbers "
            f"= {w.size} and channel size = {channels}."
        )
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    slope = w64.reshape(-1, *([1] * (x.ndim - 2))) if x.ndim >= 2 else w64.reshape(())
    with np.errstate(invalid="ignore"):
        return _finish(input, np.where(x64 > 0, x64, slope * x64), x.dtype, False)


@_ieee
def elu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> np.ndarray:
    r"""$x$ for $x > 0$, else $\alpha(e^x - 1)$; $\mathrm{ELU}(-\infty) = -\alpha$."""
    x = _floating("elu", input)
    x64, alpha = x.astype(np.float64), _coefficient(alpha, x.dtype)
    y = np.where(x64 > 0, x64, alpha * np.expm1(np.minimum(x64, 0.0)))
    return _finish(input, y, x.dtype, inplace)


@_ieee
def selu(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\lambda\,\mathrm{ELU}_\alpha(x)$ with $\alpha \approx 1.6733$, $\lambda \approx 1.0507$."""
    x = _floating("elu", input)  # torch's selu runs the elu kernel
    x64 = x.astype(np.float64)
    y = SELU_SCALE * np.where(x64 > 0, x64, SELU_ALPHA * np.expm1(np.minimum(x64, 0.0)))
    return _finish(input, y, x.dtype, inplace)


@_ieee
def celu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> np.ndarray:
    r"""$\max(0, x) + \min(0, \alpha(e^{x/\alpha} - 1))$.

    Raises:
        ValueError: if ``alpha`` is 0.
    """
    if alpha == 0:
        raise ValueError("ZeroDivisionError: alpha cannot be 0 for CELU")
    x = _floating("elu", input)  # torch's celu runs the elu kernel
    x64, alpha = x.astype(np.float64), _coefficient(alpha, x.dtype)
    y = np.where(x64 > 0, x64, alpha * np.expm1(np.minimum(x64, 0.0) / alpha))
    return _finish(input, y, x.dtype, inplace)


@_ieee
def gelu(input: ArrayLike, approximate: str = "none") -> np.ndarray:
    r"""$x\,\Phi(x) = \frac{x}{2}\left(1 + \operatorname{erf}(x/\sqrt2)\right)$.

    With ``approximate='tanh'``:
    $\frac{x}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\right)\right)$.
    Evaluated as written: $\mathrm{GELU}(+\infty) = +\infty$ and $\mathrm{GELU}(-\infty) =
    -\infty \cdot 0 = $ ``nan`` in both forms.

    Raises:
        ValueError: if ``approximate`` is neither ``'none'`` nor ``'tanh'``.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    x = _floating("GeluKernelImpl", input)
    x64 = x.astype(np.float64)
    if approximate == "none":
        y = 0.5 * x64 * (1.0 + _erf64(x64 / math.sqrt(2.0)))
    else:
        inner = math.sqrt(2.0 / math.pi) * (x64 + 0.044715 * x64**3)
        y = 0.5 * x64 * (1.0 + np.tanh(inner))
    return _finish(input, y, x.dtype, False)


@_ieee
def silu(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{SiLU}(x) = x\,\sigma(x)$ (swish); $\mathrm{SiLU}(-\infty) = $ ``nan``."""
    x = _floating("silu", input)
    x64 = x.astype(np.float64)
    return _finish(input, x64 * _sigmoid64(x64), x.dtype, inplace)


@_ieee
def mish(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{Mish}(x) = x \tanh(\mathrm{softplus}(x))$; $\mathrm{Mish}(-\infty) = $ ``nan``."""
    x = _floating("mish", input)
    x64 = x.astype(np.float64)
    return _finish(input, x64 * np.tanh(_softplus64(x64)), x.dtype, inplace)


@_ieee
def hardswish(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$x\,\mathrm{ReLU6}(x + 3) / 6$; $\mathrm{Hardswish}(-\infty) = $ ``nan``."""
    x = _floating("hardswish", input)
    x64 = x.astype(np.float64)
    return _finish(input, x64 * np.clip(x64 + 3.0, 0.0, 6.0) / 6.0, x.dtype, inplace)


# --- sigmoids and their relatives --------------------------------------------------------


def sigmoid(input: ArrayLike) -> np.ndarray:
    r"""$\sigma(x) = 1 / (1 + e^{-x})$, in $(0, 1)$; $\sigma'(x) = \sigma(x)(1 - \sigma(x))$.

    Integer and bool inputs give float32.
    """
    x = _promoted("sigmoid", input, allow_bool=True)
    return _finish(input, _sigmoid64(x.astype(np.float64)), x.dtype, False)


def logsigmoid(input: ArrayLike) -> np.ndarray:
    r"""$\log\sigma(x) = -\mathrm{softplus}(-x)$, computed without overflow."""
    x = _floating("log_sigmoid", input)
    return _finish(input, -_softplus64(-x.astype(np.float64)), x.dtype, False)


def hardsigmoid(input: ArrayLike, inplace: bool = False) -> np.ndarray:
    r"""$\mathrm{ReLU6}(x + 3) / 6$: 0 below -3, 1 above 3, linear between."""
    x = _floating("hardsigmoid", input)
    y = np.clip(x.astype(np.float64) + 3.0, 0.0, 6.0) / 6.0
    return _finish(input, y, x.dtype, inplace)


def tanh(input: ArrayLike) -> np.ndarray:
    r"""$\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}) = 2\sigma(2x) - 1$.

    Integer and bool inputs give float32.
    """
    x = _promoted("tanh", input, allow_bool=True)
    return _finish(input, np.tanh(x.astype(np.float64)), x.dtype, False)


@_ieee
def tanhshrink(input: ArrayLike) -> np.ndarray:
    r"""$x - \tanh(x)$. Integer inputs give float32; bool raises."""
    x = _promoted("tanhshrink", input, allow_bool=False)
    x64 = x.astype(np.float64)
    return _finish(input, x64 - np.tanh(x64), x.dtype, False)


@_ieee
def softsign(input: ArrayLike) -> np.ndarray:
    r"""$x / (1 + |x|)$; $\pm\infty / \infty = $ ``nan``. Integers give float32; bool raises."""
    x = _promoted("softsign", input, allow_bool=False)
    x64 = x.astype(np.float64)
    return _finish(input, x64 / (1.0 + np.abs(x64)), x.dtype, False)


@_ieee
def softplus(input: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    r"""$\frac{1}{\beta}\log(1 + e^{\beta x})$, or $x$ where $\beta x > \text{threshold}$."""
    x = _floating("softplus", input)
    x64 = x.astype(np.float64)
    smooth = np.log1p(np.exp(np.minimum(beta * x64, threshold))) / beta  # beta=0 gives inf
    return _finish(input, np.where(beta * x64 > threshold, x64, smooth), x.dtype, False)


# --- shrinks -------------------------------------------------------------------------------


def hardshrink(input: ArrayLike, lambd: float = 0.5) -> np.ndarray:
    r"""$0$ where $-\lambda \le x \le \lambda$, else $x$ (so ``nan`` stays ``nan``)."""
    x = _floating("hardshrink", input)
    lam = _scalar(lambd, x.dtype, "hardshrink")
    return _finish(input, np.where((x >= -lam) & (x <= lam), x.dtype.type(0), x), x.dtype, False)


def softshrink(input: ArrayLike, lambd: float = 0.5) -> np.ndarray:
    r"""$x - \lambda$ above $\lambda$, $x + \lambda$ below $-\lambda$, else $0$ (``nan``
    stays ``nan``: the middle branch is $0 \cdot x$).

    Raises:
        ValueError: if ``lambd`` is negative.
    """
    if lambd < 0:
        raise ValueError(f"softshrink: lambda must be in range [0, inf), but found {lambd}")
    x = _floating("softshrink", input)
    lam = _scalar(lambd, x.dtype, "softshrink")
    with np.errstate(invalid="ignore"):
        y = np.where(x > lam, x - lam, np.where(x < -lam, x + lam, x * 0))
    return _finish(input, y, x.dtype, False)


# --- softmax family ----------------------------------------------------------------------


def _softmax_input(
    name: str, input: ArrayLike, dim: int | None, stacklevel: int, dtype: DTypeLike | None
) -> tuple[np.ndarray, int, tuple[int, ...], np.dtype]:
    """The input in float64 (at least 1-d), the wrapped dim, the input's shape and the
    result dtype of a softmax-like call.

    ``dim=None`` is torch's deprecated implicit choice: 0 for 0-, 1- and 3-d input, else 1.
    An empty input of any dtype passes (torch's kernel, which rejects integers, never runs)
    and keeps its dtype.
    """
    x = np.asarray(input)
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel,
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if dtype is not None:
        x = x.astype(dtype)
    axis = _normalize_dim(dim, x.ndim)
    if x.size:
        x = _floating(name, x)
    return x.astype(np.float64).reshape(x.shape or (1,)), axis, x.shape, x.dtype


@_ieee
def _log_softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    """log softmax along ``axis``: subtracting the max first keeps ``exp`` finite. A slice
    holding ``nan`` or ``+inf``, or only ``-inf``, gives ``nan`` throughout (``inf - inf``)."""
    if x.shape[axis] == 0:
        return x
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(
    input: ArrayLike,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: DTypeLike | None = None,
) -> np.ndarray:
    r"""$\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}$ along ``dim``.

    Each slice along ``dim`` is positive and sums to 1; adding a constant to a slice leaves
    it unchanged. ``dtype`` casts the input first (and may make an integer input valid).

    Raises:
        IndexError: if ``dim`` is out of range.
        TypeError: if the input (after ``dtype``) is not floating and not empty.
    """
    x, axis, shape, out_dtype = _softmax_input("softmax", input, dim, _stacklevel, dtype)
    return np.exp(_log_softmax64(x, axis)).reshape(shape).astype(out_dtype)


def softmin(
    input: ArrayLike,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: DTypeLike | None = None,
) -> np.ndarray:
    r"""$\mathrm{softmin}(x) = \mathrm{softmax}(-x)$ along ``dim``.

    As in torch, $-x$ is taken in the input's dtype before ``dtype`` casts it, so an
    unsigned integer input wraps around ($-1 \to 255$ in uint8) and a bool input raises.
    """
    x = np.asarray(input)
    if x.dtype == np.bool_:
        raise TypeError("softmin: Negation, the `-` operator, on a bool tensor is not supported")
    negated = np.negative(x)
    x, axis, shape, out_dtype = _softmax_input("softmin", negated, dim, _stacklevel, dtype)
    return np.exp(_log_softmax64(x, axis)).reshape(shape).astype(out_dtype)


def log_softmax(
    input: ArrayLike,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: DTypeLike | None = None,
) -> np.ndarray:
    r"""$\log\mathrm{softmax}(x)_i = x_i - \log\sum_j e^{x_j}$ along ``dim``, computed stably."""
    x, axis, shape, out_dtype = _softmax_input("log_softmax", input, dim, _stacklevel, dtype)
    return _log_softmax64(x, axis).reshape(shape).astype(out_dtype)


def softmax2d(input: ArrayLike) -> np.ndarray:
    r"""``nn.Softmax2d``: softmax over the channels (dim -3) at every spatial location of a
    ``(C, H, W)`` (unbatched) or ``(N, C, H, W)`` input.

    Raises:
        ValueError: if the input is not 3-D or 4-D.
    """
    ndim = np.ndim(input)
    if ndim not in (3, 4):
        raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {ndim}D instead")
    return softmax(input, -3)


# --- glu ---------------------------------------------------------------------------------


def glu(input: ArrayLike, dim: int = -1) -> np.ndarray:
    r"""Gated linear unit: split ``input`` in halves $a, b$ along ``dim``; $a \odot \sigma(b)$.

    Raises:
        ValueError: for a 0-d input, or an odd size along ``dim``.
        IndexError: if ``dim`` is out of range.
        TypeError: for an integer or bool input.
    """
    x = _floating("glu", input)
    if x.ndim == 0:
        raise ValueError("glu does not support scalars because halving size must be even")
    axis = _normalize_dim(dim, x.ndim)
    if x.shape[axis] % 2:
        raise ValueError(
            f"Halving dimension must be even, but dimension {axis} is size {x.shape[axis]}"
        )
    a, b = np.split(x.astype(np.float64), 2, axis=axis)
    return _finish(input, a * _sigmoid64(b), x.dtype, False)


# --- backward: vector-Jacobian products (ACT, issue 18) ------------------------------------
#
# Each ``<act>_backward(grad_output, input, <options>)`` is the VJP of ``<act>`` with the
# kinks torch's backward kernels define (a mask picks $0$, not $g \cdot 0$, so an infinite
# gradient is stopped where the derivative is 0); ``<act>_double_backward(grad,
# grad_output, input, <options>)`` is the VJP of that VJP with respect to ``grad_output``
# and ``input``: the second derivative that ``create_graph=True`` differentiates. Computed in
# float64 and cast to the input's dtype.


def _grad_dtype(
    grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    g, x = np.asarray(grad_output), np.asarray(input)
    if g.shape != x.shape:
        raise ValueError(f"grad_output of shape {g.shape} for an input of shape {x.shape}")
    return g.astype(np.float64), x.astype(np.float64), np.result_type(g.dtype, x.dtype)


def _masked_double(
    backward: Callable[..., np.ndarray], grad: ArrayLike, input: ArrayLike, **options: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The double backward of a piecewise-linear activation: the same mask applied to the
    incoming gradient, and 0 with respect to the input."""
    gg, x, dtype = _grad_dtype(grad, input)
    return backward(gg, x, **options).astype(dtype), np.zeros(x.shape, dtype)


def _smooth_double(
    backward: Callable[..., np.ndarray],
    second: np.ndarray,
    grad: ArrayLike,
    grad_output: ArrayLike,
    input: ArrayLike,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The double backward of an elementwise $f$: $(\bar g, \bar x) = (\text{backward}(gg),
    gg \cdot g \cdot f''(x))$, ``second`` being $f''(x)$."""
    gg, x, dtype = _grad_dtype(grad, input)
    g = np.asarray(grad_output, dtype=np.float64)
    return backward(gg, x, **options).astype(dtype), (gg * g * second).astype(dtype)


# rectifiers: masks ------------------------------------------------------------------------


@_ieee
def relu_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `relu`: $g$ where $x > 0$, and $0$ (not $g \cdot 0$) where $x \le 0$, so the
    gradient at the kink $x = 0$ is 0; a ``nan`` input passes the gradient (torch's
    ``threshold_backward(g, result, 0)``: $0$ where $\mathrm{relu}(x) \le 0$)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return np.where(x <= 0, 0.0, g).astype(dtype)


def relu_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `relu_backward`: with respect to $g$ it is `relu_backward` again (the same
    mask), with respect to $x$ it is 0 (the mask is piecewise constant)."""
    return _masked_double(relu_backward, grad, input)


@_ieee
def hardtanh_backward(
    grad_output: ArrayLike, input: ArrayLike, min_val: float = -1.0, max_val: float = 1.0
) -> np.ndarray:
    r"""VJP of `hardtanh`: $g$ strictly inside $(\text{min\_val}, \text{max\_val})$, $0$ at
    and beyond the bounds (torch's ``hardtanh_backward``); ``nan`` passes $g$."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return np.where((x <= min_val) | (x >= max_val), 0.0, g).astype(dtype)


def hardtanh_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike,
    min_val: float = -1.0, max_val: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """VJP of `hardtanh_backward`: its mask again, and 0 for the input."""
    return _masked_double(hardtanh_backward, grad, input, min_val=min_val, max_val=max_val)


def relu6_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `relu6` (torch runs ``hardtanh(x, 0, 6)``): $g$ on $(0, 6)$, else $0$."""
    return hardtanh_backward(grad_output, input, 0.0, 6.0)


def relu6_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """VJP of `relu6_backward`: its mask again, and 0 for the input."""
    return _masked_double(relu6_backward, grad, input)


@_ieee
def threshold_backward(
    grad_output: ArrayLike, input: ArrayLike, threshold: float, value: float
) -> np.ndarray:
    r"""VJP of `threshold`: $0$ where $x \le \text{threshold}$ (the replaced entries), else
    $g$ (``value`` does not enter; ``nan`` passes $g$)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return np.where(x <= threshold, 0.0, g).astype(dtype)


def threshold_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, threshold: float, value: float
) -> tuple[np.ndarray, np.ndarray]:
    """VJP of `threshold_backward`: its mask again, and 0 for the input."""
    return _masked_double(threshold_backward, grad, input, threshold=threshold, value=value)


@_ieee
def leaky_relu_backward(
    grad_output: ArrayLike, input: ArrayLike, negative_slope: float = 0.01
) -> np.ndarray:
    r"""VJP of `leaky_relu`: $g$ where $x > 0$, else $\text{negative\_slope}\cdot g$ (so the
    slope at 0 and at ``nan`` is ``negative_slope``)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return np.where(x > 0, g, g * negative_slope).astype(dtype)


def leaky_relu_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, negative_slope: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """VJP of `leaky_relu_backward`: the same slopes, and 0 for the input."""
    return _masked_double(leaky_relu_backward, grad, input, negative_slope=negative_slope)


@_ieee
def rrelu_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    *,
    noise: ArrayLike | None = None,
) -> np.ndarray:
    r"""VJP of `rrelu`. In evaluation it is `leaky_relu_backward` with slope
    $(l + u)/2$; in training $g \cdot a_i$ where $x_i \le 0$ and $g$ elsewhere (``nan``
    included), $a_i$ the slopes given as ``noise`` (torch's ``noise`` buffer, 1 where
    $x_i > 0$: ``grad_output * noise``).

    Raises:
        ValueError: in training without ``noise`` (the slopes the forward used).
    """
    if not training:
        return leaky_relu_backward(grad_output, input, (lower + upper) / 2)
    g, x, dtype = _grad_dtype(grad_output, input)
    if noise is None:
        raise ValueError("rrelu_backward in training needs the slopes the forward drew (noise)")
    slopes = np.asarray(noise, dtype=np.float64)
    return (g * np.where(x <= 0, slopes, 1.0)).astype(dtype)


def rrelu_double_backward(
    grad: ArrayLike,
    grad_output: ArrayLike,
    input: ArrayLike,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    *,
    noise: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """VJP of `rrelu_backward`: the same slopes, and 0 for the input."""
    return _masked_double(
        rrelu_backward, grad, input, lower=lower, upper=upper, training=training, noise=noise
    )


def _prelu_slope(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return w.reshape(-1, *([1] * (x.ndim - 2))) if x.ndim >= 2 else w.reshape(())


@_ieee
def prelu_backward(
    grad_output: ArrayLike, input: ArrayLike, weight: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `prelu` (torch's ``_prelu_kernel_backward``):
    $\bar x = g$ where $x > 0$, else $a_c g$;
    $\bar a_c = \sum x\,g$ over the entries of channel $c$ with $x \le 0$ (all entries for a
    single shared slope).

    Returns:
        ``(grad_input, grad_weight)``, ``grad_weight`` of the weight's shape.
    """
    g, x, dtype = _grad_dtype(grad_output, input)
    w = np.asarray(weight)
    slope = _prelu_slope(x, w.astype(np.float64))
    grad_input = np.where(x > 0, g, slope * g)
    per_entry = np.where(x > 0, 0.0, x * g)
    if w.size == 1 or x.ndim < 2:
        grad_weight = np.full(w.shape, per_entry.sum())
    else:
        axes = (0, *range(2, x.ndim))
        grad_weight = per_entry.sum(axis=axes).reshape(w.shape)
    return grad_input.astype(dtype), grad_weight.astype(w.dtype)


# exponential units ------------------------------------------------------------------------


@_ieee
def _elu_grad(g, x, alpha, scale, input_scale):
    return np.where(x <= 0, g * input_scale * alpha * scale * np.exp(x * input_scale), g * scale)


@_ieee
def _elu_second(x, alpha, scale, input_scale):
    curvature = input_scale * input_scale * alpha * scale
    return np.where(x < 0, curvature * np.exp(x * input_scale), 0.0)


def elu_backward(grad_output: ArrayLike, input: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    r"""VJP of `elu`: $g$ where $x > 0$, $\alpha e^x g$ where $x \le 0$ (torch's
    ``elu_backward``: the slope at 0 is $\alpha$, and a ``nan`` input passes $g$)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return _elu_grad(g, x, alpha, 1.0, 1.0).astype(dtype)


def elu_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, alpha: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `elu_backward`; $f''(x) = \alpha e^x$ for $x < 0$, else 0 (also at 0, where
    the first derivative is the left one, $\alpha$: torch's ``elu_double_backward``)."""
    second = _elu_second(np.asarray(input, np.float64), alpha, 1.0, 1.0)
    return _smooth_double(elu_backward, second, grad, grad_output, input, alpha=alpha)


def selu_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `selu`: $\lambda g$ where $x > 0$, $\lambda\alpha e^x g$ where $x \le 0$."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return _elu_grad(g, x, SELU_ALPHA, SELU_SCALE, 1.0).astype(dtype)


def selu_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `selu_backward`; $f''(x) = \lambda\alpha e^x$ for $x < 0$, else 0."""
    second = _elu_second(np.asarray(input, np.float64), SELU_ALPHA, SELU_SCALE, 1.0)
    return _smooth_double(selu_backward, second, grad, grad_output, input)


def celu_backward(grad_output: ArrayLike, input: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    r"""VJP of `celu`: $g$ where $x > 0$, $e^{x/\alpha} g$ where $x \le 0$."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return _elu_grad(g, x, alpha, 1.0, 1.0 / alpha).astype(dtype)


def celu_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, alpha: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `celu_backward`; $f''(x) = e^{x/\alpha}/\alpha$ for $x < 0$, else 0."""
    second = _elu_second(np.asarray(input, np.float64), alpha, 1.0, 1.0 / alpha)
    return _smooth_double(celu_backward, second, grad, grad_output, input, alpha=alpha)


# smooth gates -----------------------------------------------------------------------------

_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


@_ieee
def _gelu_first(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        u = _GELU_K * (x + _GELU_C * x**3)
        t = np.tanh(u)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _GELU_K * (1.0 + 3 * _GELU_C * x * x)
    cdf = 0.5 * (1.0 + _erf64(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


@_ieee
def _gelu_second(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        u = _GELU_K * (x + _GELU_C * x**3)
        t = np.tanh(u)
        du = _GELU_K * (1.0 + 3 * _GELU_C * x * x)
        d2u = 6 * _GELU_K * _GELU_C * x
        return (1.0 - t * t) * (du + 0.5 * x * (d2u - 2.0 * t * du * du))
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi) * (2.0 - x * x)


@_ieee
def gelu_backward(
    grad_output: ArrayLike, input: ArrayLike, approximate: str = "none"
) -> np.ndarray:
    r"""VJP of `gelu`: $g\,(\Phi(x) + x\,\varphi(x))$, $\varphi$ the standard normal density;
    with ``approximate='tanh'``, $g\,\big(\tfrac12(1 + t) + \tfrac12 x (1 - t^2)\,k(1 + 3c
    x^2)\big)$, $t = \tanh(k(x + c x^3))$, $k = \sqrt{2/\pi}$, $c = 0.044715$. Evaluated as
    written: ``nan`` at $\pm\infty$ ($\infty \cdot 0$)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return (g * _gelu_first(x, approximate)).astype(dtype)


def gelu_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, approximate: str = "none"
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `gelu_backward`; exact form $f''(x) = \varphi(x)(2 - x^2)$."""
    second = _gelu_second(np.asarray(input, np.float64), approximate)
    return _smooth_double(
        gelu_backward, second, grad, grad_output, input, approximate=approximate
    )


@_ieee
def silu_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `silu`: $g\,\sigma(x)\,(1 + x(1 - \sigma(x)))$ (``nan`` at $\pm\infty$)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    s = _sigmoid64(x)
    return (g * s * (1.0 + x * (1.0 - s))).astype(dtype)


def silu_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `silu_backward`; $f''(x) = \sigma(1 - \sigma)(2 + x(1 - 2\sigma))$."""
    x = np.asarray(input, np.float64)
    s = _sigmoid64(x)
    with np.errstate(invalid="ignore"):
        second = s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
    return _smooth_double(silu_backward, second, grad, grad_output, input)


@_ieee
def mish_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `mish`: $g\,(T + x\,\sigma(x)(1 - T^2))$, $T = \tanh(\mathrm{softplus}(x))$."""
    g, x, dtype = _grad_dtype(grad_output, input)
    t = np.tanh(_softplus64(x))
    return (g * (t + x * _sigmoid64(x) * (1.0 - t * t))).astype(dtype)


@_ieee
def mish_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `mish_backward`; $f'' = 2T' + xT''$ with $T' = (1 - T^2)\sigma$ and
    $T'' = (1 - T^2)\,\sigma\,(1 - \sigma - 2T\sigma)$."""
    x = np.asarray(input, np.float64)
    t, s = np.tanh(_softplus64(x)), _sigmoid64(x)
    d1 = (1.0 - t * t) * s
    second = 2.0 * d1 + x * d1 * (1.0 - s - 2.0 * t * s)
    return _smooth_double(mish_backward, second, grad, grad_output, input)


@_ieee
def softplus_backward(
    grad_output: ArrayLike, input: ArrayLike, beta: float = 1.0, threshold: float = 20.0
) -> np.ndarray:
    r"""VJP of `softplus`: $g$ where $\beta x > \text{threshold}$ (the linear branch), else
    $g\,z/(z + 1)$ with $z = e^{\beta x}$, i.e. $g\,\sigma(\beta x)$."""
    g, x, dtype = _grad_dtype(grad_output, input)
    z = np.exp(x * beta)
    return np.where(x * beta > threshold, g, g * z / (z + 1.0)).astype(dtype)


@_ieee
def softplus_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike,
    beta: float = 1.0, threshold: float = 20.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `softplus_backward`; $f''(x) = \beta z/(z + 1)^2$ where $\beta x <
    \text{threshold}$, else 0 (also at the threshold, as torch's double backward)."""
    x = np.asarray(input, np.float64)
    z = np.exp(x * beta)
    # torch's softplus_double_backward: 0 from the threshold on (at it too, where the first
    # derivative is still the smooth one)
    second = np.where(x * beta >= threshold, 0.0, beta * z / ((z + 1.0) * (z + 1.0)))
    return _smooth_double(
        softplus_backward, second, grad, grad_output, input, beta=beta, threshold=threshold
    )


@_ieee
def hardsigmoid_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `hardsigmoid`: $g/6$ strictly inside $(-3, 3)$, else $0$ (``nan`` too). No
    double backward: torch raises ``derivative for aten::hardsigmoid_backward is not
    implemented``."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return np.where((x > -3.0) & (x < 3.0), g / 6.0, 0.0).astype(dtype)


@_ieee
def hardswish_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `hardswish`: $0$ for $x \le -3$, $g\,(x/3 + 1/2)$ for $-3 < x < 3$, $g$ for
    $x \ge 3$ (``nan`` passes $g$): torch from 2.7 (pytorch/pytorch#148049); earlier
    releases used $x/3 + 1/2$ on the closed $[-3, 3]$ (pytorch/pytorch#147801)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return np.where(x <= -3.0, 0.0, np.where(x < 3.0, g * (x / 3.0 + 0.5), g)).astype(dtype)


def hardswish_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `hardswish_backward`; $f''(x) = 1/3$ strictly inside $(-3, 3)$, else 0."""
    x = np.asarray(input, np.float64)
    second = np.where((x > -3.0) & (x < 3.0), 1.0 / 3.0, 0.0)
    return _smooth_double(hardswish_backward, second, grad, grad_output, input)


# sigmoids ---------------------------------------------------------------------------------


@_ieee
def sigmoid_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `sigmoid`: $g\,\sigma(x)(1 - \sigma(x))$ (0 at $\pm\infty$)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    s = _sigmoid64(x)
    return (g * s * (1.0 - s)).astype(dtype)


def sigmoid_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `sigmoid_backward`; $f'' = \sigma(1 - \sigma)(1 - 2\sigma)$."""
    s = _sigmoid64(np.asarray(input, np.float64))
    return _smooth_double(sigmoid_backward, s * (1 - s) * (1 - 2 * s), grad, grad_output, input)


@_ieee
def tanh_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `tanh`: $g\,(1 - \tanh^2 x)$."""
    g, x, dtype = _grad_dtype(grad_output, input)
    t = np.tanh(x)
    return (g * (1.0 - t * t)).astype(dtype)


def tanh_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `tanh_backward`; $f'' = -2\tanh x\,(1 - \tanh^2 x)$."""
    t = np.tanh(np.asarray(input, np.float64))
    return _smooth_double(tanh_backward, -2.0 * t * (1.0 - t * t), grad, grad_output, input)


@_ieee
def logsigmoid_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `logsigmoid`: $g\,(1 - \sigma(x)) = g\,\sigma(-x)$, computed as torch does
    from $z = e^{-|x|}$: $g\,(1 - z/(1 + z))$ for $x < 0$, $g\,z/(1 + z)$ otherwise."""
    g, x, dtype = _grad_dtype(grad_output, input)
    z = np.exp(-np.abs(x))
    negative = x < 0
    return (g * (np.where(negative, 1.0, 0.0) - np.where(negative, 1.0, -1.0) * z / (1 + z))
            ).astype(dtype)


def logsigmoid_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `logsigmoid_backward`; $f'' = -\sigma(x)(1 - \sigma(x))$."""
    s = _sigmoid64(np.asarray(input, np.float64))
    return _smooth_double(logsigmoid_backward, -s * (1.0 - s), grad, grad_output, input)


@_ieee
def tanhshrink_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `tanhshrink` ($x - \tanh x$, which torch decomposes, ``SubBackward0``):
    $g - g\,(1 - \tanh^2 x)$."""
    g, x, dtype = _grad_dtype(grad_output, input)
    t = np.tanh(x)
    return (g - g * (1.0 - t * t)).astype(dtype)


@_ieee
def softsign_backward(grad_output: ArrayLike, input: ArrayLike) -> np.ndarray:
    r"""VJP of `softsign` through torch's decomposition $x / (|x| + 1)$ (``DivBackward0``):
    $\frac{g}{|x| + 1} - \frac{g\,x}{(|x| + 1)^2}\operatorname{sign} x$, which is
    $g/(1 + |x|)^2$ for finite $x$ and ``nan`` at $\pm\infty$ ($\infty/\infty$)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    d = np.abs(x) + 1.0
    return (g / d + (-g * x / (d * d)) * np.sign(x)).astype(dtype)


# shrinks ----------------------------------------------------------------------------------


@_ieee
def hardshrink_backward(grad_output: ArrayLike, input: ArrayLike, lambd: float = 0.5) -> np.ndarray:
    r"""VJP of `hardshrink`: $0$ on the closed $[-\lambda, \lambda]$, else $g$ (``nan``
    passes $g$)."""
    g, x, dtype = _grad_dtype(grad_output, input)
    return np.where((x >= -lambd) & (x <= lambd), 0.0, g).astype(dtype)


def hardshrink_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, lambd: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """VJP of `hardshrink_backward`: its mask again, and 0 for the input."""
    return _masked_double(hardshrink_backward, grad, input, lambd=lambd)


def softshrink_backward(grad_output: ArrayLike, input: ArrayLike, lambd: float = 0.5) -> np.ndarray:
    r"""VJP of `softshrink`: $0$ on the closed $[-\lambda, \lambda]$, else $g$; the same mask
    as `hardshrink_backward` (the two differ in value, not in slope)."""
    return hardshrink_backward(grad_output, input, lambd)


def softshrink_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, lambd: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """VJP of `softshrink_backward`: its mask again, and 0 for the input."""
    return _masked_double(softshrink_backward, grad, input, lambd=lambd)


# glu and the softmax family ---------------------------------------------------------------


@_ieee
def glu_backward(grad_output: ArrayLike, input: ArrayLike, dim: int = -1) -> np.ndarray:
    r"""VJP of `glu`: with halves $a, b$ and $s = \sigma(b)$, $\bar a = g\,s$ and
    $\bar b = g\,a\,s(1 - s)$, joined along ``dim``."""
    g, x = np.asarray(grad_output, np.float64), np.asarray(input)
    axis = _normalize_dim(dim, x.ndim)
    a, b = np.split(x.astype(np.float64), 2, axis=axis)
    s = _sigmoid64(b)
    out = np.concatenate([g * s, g * a * s * (1.0 - s)], axis=axis)
    return out.astype(np.result_type(np.asarray(grad_output).dtype, x.dtype))


@_ieee
def glu_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, dim: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `glu_backward` with respect to $g$ and the input: with $q = s(1 - s)$ and the
    incoming gradient's halves $\gamma_a, \gamma_b$: $\bar g = \gamma_a s + \gamma_b a q$,
    $\bar a = \gamma_b g q$, $\bar b = g q\,(\gamma_a + \gamma_b a (1 - 2s))$."""
    x = np.asarray(input)
    axis = _normalize_dim(dim, x.ndim)
    a, b = np.split(x.astype(np.float64), 2, axis=axis)
    ga, gb = np.split(np.asarray(grad, np.float64), 2, axis=axis)
    g = np.asarray(grad_output, np.float64)
    s = _sigmoid64(b)
    q = s * (1.0 - s)
    d_grad = ga * s + gb * a * q
    d_input = np.concatenate([gb * g * q, g * q * (ga + gb * a * (1.0 - 2.0 * s))], axis=axis)
    return d_grad.astype(x.dtype), d_input.astype(x.dtype)


def _softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    return np.exp(_log_softmax64(x, axis))


def _along(input: ArrayLike, dim: int) -> tuple[np.ndarray, int, tuple[int, ...]]:
    """The input in float64, at least 1-d, with the wrapped dim (a 0-d input is one slice)."""
    x = np.asarray(input)
    axis = _normalize_dim(dim, x.ndim)
    return x.astype(np.float64).reshape(x.shape or (1,)), axis, x.shape


@_ieee
def softmax_backward(grad_output: ArrayLike, input: ArrayLike, dim: int) -> np.ndarray:
    r"""VJP of `softmax` along ``dim``: with $y = \mathrm{softmax}(x)$,
    $\bar x = y \odot (g - \langle g, y\rangle)$, the inner product over each slice
    (torch's ``_softmax_backward_data``: $g y - y \sum g y$)."""
    x, axis, shape = _along(input, dim)
    g = np.asarray(grad_output, np.float64).reshape(x.shape)
    y = _softmax64(x, axis)
    gy = g * y
    out = gy - y * gy.sum(axis=axis, keepdims=True)
    return out.reshape(shape).astype(np.asarray(input).dtype)


@_ieee
def softmax_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `softmax_backward`: $\bar g = $ `softmax_backward`$(\gamma)$, and $\bar x$ is
    softmax's VJP of $v = \gamma \odot g - g\langle\gamma, y\rangle - \gamma\langle g,
    y\rangle$ (the gradient of $\langle\gamma, y \odot (g - \langle g, y\rangle)\rangle$ with
    respect to $y$)."""
    x, axis, shape = _along(input, dim)
    gg = np.asarray(grad, np.float64).reshape(x.shape)
    g = np.asarray(grad_output, np.float64).reshape(x.shape)
    y = _softmax64(x, axis)
    d_grad = softmax_backward(gg.reshape(shape), input, dim)
    v = gg * g - g * (gg * y).sum(axis, keepdims=True) - gg * (g * y).sum(axis, keepdims=True)
    d_input = y * (v - (v * y).sum(axis, keepdims=True))
    return d_grad, d_input.reshape(shape).astype(np.asarray(input).dtype)


@_ieee
def log_softmax_backward(grad_output: ArrayLike, input: ArrayLike, dim: int) -> np.ndarray:
    r"""VJP of `log_softmax` along ``dim``: $\bar x = g - \mathrm{softmax}(x)\sum g$ (torch's
    ``_log_softmax_backward_data``: $g - e^{y} \sum g$)."""
    x, axis, shape = _along(input, dim)
    g = np.asarray(grad_output, np.float64).reshape(x.shape)
    out = g - _softmax64(x, axis) * g.sum(axis=axis, keepdims=True)
    return out.reshape(shape).astype(np.asarray(input).dtype)


@_ieee
def log_softmax_double_backward(
    grad: ArrayLike, grad_output: ArrayLike, input: ArrayLike, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""VJP of `log_softmax_backward`: $\bar g = \gamma - \langle\gamma, p\rangle$ and
    $\bar x$ softmax's VJP of $v = -\gamma \sum g$, with $p = \mathrm{softmax}(x)$."""
    x, axis, shape = _along(input, dim)
    gg = np.asarray(grad, np.float64).reshape(x.shape)
    g = np.asarray(grad_output, np.float64).reshape(x.shape)
    p = _softmax64(x, axis)
    d_grad = gg - (gg * p).sum(axis, keepdims=True)
    v = -gg * g.sum(axis, keepdims=True)
    d_input = p * (v - (v * p).sum(axis, keepdims=True))
    dtype = np.asarray(input).dtype
    return d_grad.reshape(shape).astype(dtype), d_input.reshape(shape).astype(dtype)


def softmin_backward(grad_output: ArrayLike, input: ArrayLike, dim: int) -> np.ndarray:
    r"""VJP of `softmin` $= \mathrm{softmax}(-x)$: $-$`softmax_backward`$(g, -x)$."""
    return -softmax_backward(grad_output, np.negative(np.asarray(input)), dim)
