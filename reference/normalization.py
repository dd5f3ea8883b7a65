"""Normalization layers and dropout, in training and evaluation mode (clauses NORM-*).

Every normalization subtracts a mean and divides by $\\sqrt{\\sigma^2 + \\epsilon}$, with the
biased variance $\\sigma^2$ (divide by $n$); they differ only in the axes the statistics are
taken over: batch norm over (N, spatial) per channel, layer norm over the trailing
``normalized_shape`` per sample, instance norm over spatial per (sample, channel), group norm
over (channels of a group, spatial) per (sample, group). Batch norm (and instance norm with
running stats) keeps running estimates updated with the *unbiased* variance
($n/(n-1)\\,\\sigma^2$) and uses them in evaluation mode. Dropout zeroes entries with
probability $p$ and scales the rest by $1/(1-p)$ in training; in evaluation it is the identity.

Empty inputs follow torch: batch, layer and instance norm return an empty result of the
input's shape and leave batch norm's running stats alone; dropout returns its (empty) input.

NumPy only: this module is part of the independent oracle and never imports torch. Statistics
are computed in float64 and results cast back to the input's dtype.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

__all__ = [
    "BatchNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "SyncBatchNorm",
    "batch_norm",
    "batch_norm_backward",
    "dropout",
    "dropout_backward",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "group_norm",
    "group_norm_backward",
    "instance_norm",
    "instance_norm_backward",
    "layer_norm",
    "layer_norm_backward",
    "local_response_norm",
    "local_response_norm_backward",
]


def _channel_shape(ndim: int, channels: int) -> tuple[int, ...]:
    """The shape ``(1, C, 1, ...)`` that broadcasts a per-channel vector over (N, C, *)."""
    return (1, channels) + (1,) * (ndim - 2)


def _check_numel(name: str, vector: np.ndarray | None, channels: int) -> None:
    """torch's check of a per-channel vector: ``running_mean should contain 3 elements not 2``."""
    if vector is not None and np.size(vector) != channels:
        raise ValueError(f"{name} should contain {channels} elements not {np.size(vector)}")


def _per_channel(
    vector: np.ndarray | None, ndim: int, channels: int, name: str = "weight"
) -> np.ndarray | None:
    if vector is None:
        return None
    _check_numel(name, vector, channels)
    return np.asarray(vector, dtype=np.float64).reshape(_channel_shape(ndim, channels))


def _affine(y: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None) -> np.ndarray:
    """$y \\cdot \\gamma + \\beta$, skipping a missing weight or bias."""
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _update_running(running: np.ndarray | None, batch: np.ndarray, momentum: float) -> None:
    """In place: $r \\leftarrow (1 - m)\\,r + m\\,b$."""
    if running is not None:
        running[...] = (1.0 - momentum) * running + momentum * batch


def _verify_batch_size(shape: Sequence[int]) -> None:
    """torch's training check: more than one value per channel ($N \\prod$ spatial $\\ne 1$)."""
    if math.prod([shape[0], *shape[2:]]) == 1:
        raise ValueError(
            "Expected more than 1 value per channel when training, got input size "
            f"{list(shape)}"
        )


# --- batch norm -------------------------------------------------------------------------


def batch_norm(
    input: np.ndarray,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> np.ndarray:
    r"""Batch normalization over (N, C, \*), as ``torch.nn.functional.batch_norm``.

    Per channel $c$, with $n = N \prod \text{spatial}$ values:
    $y = \frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}\,\gamma_c + \beta_c$.
    In training $\mu_c$ and $\sigma_c^2$ are the batch mean and *biased* variance, and the
    running stats (when given) are updated in place:
    $\tilde\mu \leftarrow (1-m)\tilde\mu + m\,\mu_c$,
    $\tilde\sigma^2 \leftarrow (1-m)\tilde\sigma^2 + m\,\frac{n}{n-1}\sigma_c^2$ (unbiased).
    In evaluation $\mu_c, \sigma_c^2$ are the running stats. An empty input (a zero batch,
    zero channels or a zero spatial size; even a 1-D ``(0,)``) gives an empty output of its
    shape and updates nothing, before any other check.

    Raises:
        ValueError: if training sees only one value per channel, evaluation has no running
            stats, or a per-channel vector has the wrong number of elements.
        IndexError: if a non-empty input has no channel dim (fewer than 2 dims) in training.
    """
    x = np.asarray(input)
    if x.size == 0:
        return x.copy()
    if training:
        if x.ndim == 0:
            raise IndexError("batch_norm: a 0-d input has no batch dim (tuple index out of range)")
        _verify_batch_size(x.shape)
    if x.ndim < 2:
        if training and running_mean is None:
            raise IndexError(
                f"batch_norm: input of shape {x.shape} has no channel dim 1 (Dimension out of "
                "range)"
            )
        raise ValueError(f"running_mean should contain 0 elements not {np.size(running_mean)}")
    channels, ndim = x.shape[1], x.ndim
    if not training and (running_mean is None or running_var is None):
        raise ValueError("running_mean must be defined in evaluation mode")
    for name, vector in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        _check_numel(name, vector, channels)
    xf = x.astype(np.float64)
    if training:
        n = x.size // channels
        axes = (0, *range(2, ndim))
        mean = xf.mean(axis=axes)
        var = xf.var(axis=axes)  # biased: divides by n
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var * n / (n - 1), momentum)
    else:
        mean, var = running_mean, running_var
    shape = _channel_shape(ndim, channels)
    mean = np.asarray(mean, dtype=np.float64).reshape(shape)
    var = np.asarray(var, dtype=np.float64).reshape(shape)
    y = (xf - mean) / np.sqrt(var + eps)
    y = _affine(y, _per_channel(weight, ndim, channels), _per_channel(bias, ndim, channels, "bias"))
    return y.astype(x.dtype)


def batch_norm_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray | None = None,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    training: bool = True,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of ``batch_norm`` with respect to input, weight and bias, in closed form.

    With $\hat x = (x - \mu)/\sqrt{\sigma^2+\epsilon}$, upstream gradient $g$ and
    $\hat g = g\,\gamma$ (per channel, means $\langle\cdot\rangle$ over the $n$ values):
    $\partial\beta = \sum g$, $\partial\gamma = \sum g\,\hat x$, and in training (the batch
    statistics depend on $x$)
    $\partial x = \frac{1}{\sqrt{\sigma^2+\epsilon}}\big(\hat g - \langle \hat g\rangle
    - \hat x\,\langle \hat g\,\hat x\rangle\big)$;
    in evaluation (running stats are constants)
    $\partial x = \hat g/\sqrt{\tilde\sigma^2+\epsilon}$.

    Returns:
        ``(grad_input, grad_weight, grad_bias)``; the parameter gradients have shape (C,).
    """
    x = np.asarray(input)
    g = np.asarray(grad_output, dtype=np.float64)
    channels, ndim = x.shape[1], x.ndim
    shape = _channel_shape(ndim, channels)
    axes = (0, *range(2, ndim))
    xf = x.astype(np.float64)
    if training:
        mean, var = xf.mean(axis=axes), xf.var(axis=axes)
    else:
        mean = np.asarray(running_mean, dtype=np.float64)
        var = np.asarray(running_var, dtype=np.float64)
    invstd = (1.0 / np.sqrt(var + eps)).reshape(shape)
    x_hat = (xf - mean.reshape(shape)) * invstd
    gamma = np.ones(shape) if weight is None else _per_channel(weight, ndim, channels)
    g_hat = g * gamma
    if training:
        grad_input = invstd * (
            g_hat
            - g_hat.mean(axis=axes, keepdims=True)
            - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)
        )
    else:
        grad_input = g_hat * invstd
    grad_weight = (g * x_hat).sum(axis=axes)
    grad_bias = g.sum(axis=axes)
    return grad_input.astype(x.dtype), grad_weight.astype(x.dtype), grad_bias.astype(x.dtype)


def _normalized_grad(
    g_hat: np.ndarray, x_hat: np.ndarray, invstd: np.ndarray, axes: tuple[int, ...]
) -> np.ndarray:
    r"""The input gradient of $\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$ with the
    statistics taken over ``axes``: $\frac{1}{\sqrt{\sigma^2+\epsilon}}(\hat g - \langle\hat
    g\rangle - \hat x\langle \hat g \hat x\rangle)$, the means over ``axes``."""
    return invstd * (
        g_hat
        - g_hat.mean(axis=axes, keepdims=True)
        - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)
    )


class BatchNorm:
    r"""A batch-norm layer over (N, C, \*), the common part of ``nn.BatchNorm1d/2d/3d``.

    ``weight`` starts at ones and ``bias`` at zeros (``None`` when ``affine=False``; only
    ``bias`` is ``None`` with ``bias=False``, which torch 2.12 added);
    ``running_mean``/``running_var`` start at zeros/ones and ``num_batches_tracked`` at 0
    (all ``None`` when ``track_running_stats=False``). Each call in training mode with
    tracked stats adds 1 to ``num_batches_tracked`` (also for an empty batch, which moves
    no statistic) and updates the running stats with factor ``momentum``, or
    $1/\text{num\_batches\_tracked}$ (a cumulative average) when ``momentum is None``. Batch
    statistics are used in training, and in evaluation when no running stats are tracked;
    otherwise evaluation uses the running stats.

    Shape: input $(N, C, *)$, output the same.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: type | np.dtype = np.float32,
        *,
        bias: bool = True,
    ) -> None:
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.training = True
        self.weight = np.ones(num_features, dtype) if affine else None
        self.bias = np.zeros(num_features, dtype) if affine and bias else None
        if track_running_stats:
            self.running_mean: np.ndarray | None = np.zeros(num_features, dtype)
            self.running_var: np.ndarray | None = np.ones(num_features, dtype)
            self.num_batches_tracked: int | None = 0
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def _check_input_dim(self, x: np.ndarray) -> None:
        """Any number of dims: the functional form decides (the subclasses check theirs)."""

    def train(self, mode: bool = True) -> BatchNorm:
        """Set training mode (``mode=True``) or evaluation mode; returns ``self``."""
        self.training = bool(mode)
        return self

    def eval(self) -> BatchNorm:
        """Evaluation mode: exactly ``self.train(False)``."""
        return self.train(False)

    def __call__(self, input: np.ndarray) -> np.ndarray:
        x = np.asarray(input)
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:
                factor = 1.0 / self.num_batches_tracked
        use_batch_stats = self.training or self.running_mean is None
        update = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if update else None,
            self.running_var if update else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )


class BatchNorm1d(BatchNorm):
    """``nn.BatchNorm1d``: input $(N, C)$ or $(N, C, L)$ (2-D or 3-D, else ``ValueError``)."""

    def _check_input_dim(self, x: np.ndarray) -> None:
        if x.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.ndim}D input)")


class BatchNorm2d(BatchNorm):
    """``nn.BatchNorm2d``: input $(N, C, H, W)$ (4-D, else ``ValueError``)."""

    def _check_input_dim(self, x: np.ndarray) -> None:
        if x.ndim != 4:
            raise ValueError(f"expected 4D input (got {x.ndim}D input)")


class BatchNorm3d(BatchNorm):
    """``nn.BatchNorm3d``: input $(N, C, D, H, W)$ (5-D, else ``ValueError``)."""

    def _check_input_dim(self, x: np.ndarray) -> None:
        if x.ndim != 5:
            raise ValueError(f"expected 5D input (got {x.ndim}D input)")


class SyncBatchNorm(BatchNorm):
    """``nn.SyncBatchNorm`` on one process (no process group initialized): batch norm over
    $(N, C, *)$ of any rank from 2; it rejects fewer dims and zero channels."""

    def _check_input_dim(self, x: np.ndarray) -> None:
        if x.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {x.ndim}D input)")
        if x.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")


# --- layer, group, instance and local response norm -------------------------------------


def layer_norm(
    input: np.ndarray,
    normalized_shape: Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    r"""Layer normalization, as ``torch.nn.functional.layer_norm``.

    Each sample is normalized over its trailing $k$ = ``len(normalized_shape)`` dims:
    $y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \odot \gamma + \beta$, with $\mu$ and the
    biased $\sigma^2$ over those dims, and $\gamma, \beta$ of shape ``normalized_shape``
    (element-wise affine). An empty input gives an empty output.

    Raises:
        TypeError: if ``normalized_shape`` is an int (the module accepts one, the function
            does not).
        ValueError: if ``normalized_shape`` is empty, ``weight`` or ``bias`` does not have
            its shape, or the input's trailing dims are not ``normalized_shape``.
    """
    if isinstance(normalized_shape, (int, np.integer)):
        raise TypeError(
            "layer_norm(): argument 'normalized_shape' must be tuple of ints, not int"
        )
    x = np.asarray(input)
    norm_shape = tuple(int(s) for s in normalized_shape)
    k = len(norm_shape)
    if k == 0:
        raise ValueError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
            f"least one element, but got normalized_shape = {list(norm_shape)}"
        )
    for name, vector in (("weight", weight), ("bias", bias)):
        if vector is not None and np.shape(vector) != norm_shape:
            raise ValueError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(np.shape(vector))} and normalized_shape = {list(norm_shape)}"
            )
    if x.shape[x.ndim - k :] != norm_shape or x.ndim < k:
        raise ValueError(
            f"Given normalized_shape={list(norm_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, norm_shape))}], but got input of size {list(x.shape)}"
        )
    if x.size == 0:
        return x.copy()
    axes = tuple(range(x.ndim - k, x.ndim))
    xf = x.astype(np.float64)
    mean = xf.mean(axis=axes, keepdims=True)
    var = xf.var(axis=axes, keepdims=True)
    y = (xf - mean) / np.sqrt(var + eps)
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    b = None if bias is None else np.asarray(bias, dtype=np.float64)
    return _affine(y, w, b).astype(x.dtype)


class LayerNorm:
    r"""``nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``.

    ``normalized_shape`` may be an int (one trailing dim). Variables: ``weight`` of shape
    ``normalized_shape``, ones, and ``bias``, zeros (``None`` without
    ``elementwise_affine``, or ``bias`` alone with ``bias=False``). Shape: input
    $(*, \text{normalized\_shape})$, output the same. It has no running stats: training and
    evaluation agree.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: type | np.dtype = np.float32,
    ) -> None:
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.weight = np.ones(self.normalized_shape, dtype) if elementwise_affine else None
        self.bias = (
            np.zeros(self.normalized_shape, dtype) if elementwise_affine and bias else None
        )

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


def layer_norm_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    normalized_shape: Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    r"""Gradients of `layer_norm` with respect to input, weight and bias (torch's
    ``native_layer_norm_backward``).

    Per sample, over the trailing ``normalized_shape`` dims, with $\hat g = g \odot \gamma$:
    $\partial x = \frac{1}{\sqrt{\sigma^2+\epsilon}}(\hat g - \langle \hat g\rangle - \hat x
    \langle \hat g \hat x\rangle)$; $\partial\gamma = \sum_{\text{samples}} g \hat x$,
    $\partial\beta = \sum_{\text{samples}} g$ (of shape ``normalized_shape``; zeros for an
    empty input). ``None`` for a missing weight or bias.
    """
    x = np.asarray(input)
    k = len(tuple(normalized_shape))
    g = np.asarray(grad_output, dtype=np.float64)
    axes = tuple(range(x.ndim - k, x.ndim))
    lead = tuple(range(x.ndim - k))
    xf = x.astype(np.float64)
    if x.size:
        invstd = 1.0 / np.sqrt(xf.var(axis=axes, keepdims=True) + eps)
        x_hat = (xf - xf.mean(axis=axes, keepdims=True)) * invstd
    else:
        invstd = x_hat = np.zeros(x.shape)
    gamma = 1.0 if weight is None else np.asarray(weight, dtype=np.float64)
    grad_input = _normalized_grad(g * gamma, x_hat, invstd, axes) if x.size else g * 0.0
    grad_weight = None if weight is None else (g * x_hat).sum(axis=lead).astype(x.dtype)
    grad_bias = None if bias is None else g.sum(axis=lead).astype(x.dtype)
    return grad_input.astype(x.dtype), grad_weight, grad_bias


def group_norm(
    input: np.ndarray,
    num_groups: int,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    r"""Group normalization over (N, C, \*), as ``torch.nn.functional.group_norm``.

    The C channels are split into ``num_groups`` consecutive groups of $C/G$; each
    (sample, group) is normalized over its $C/G \cdot \prod\text{spatial}$ values with the
    biased variance, then the per-channel affine $\gamma_c, \beta_c$ is applied.
    ``num_groups=1`` is layer norm over (C, \*) with per-channel affine; ``num_groups=C`` is
    instance norm. A zero batch gives an empty output; zero channels or a zero spatial size
    raise (torch 2.14; earlier releases return an empty output).

    Raises:
        ValueError: if the input has fewer than 2 dims, ``num_groups`` is not positive,
            $N \cdot C/G \cdot \prod\text{spatial} = 1$ (torch borrows batch norm's check),
            C is not divisible by ``num_groups``, ``weight`` or ``bias`` is not of size C,
            or C or the spatial size is 0.
    """
    x = np.asarray(input)
    if x.ndim < 2:
        raise ValueError(
            f"Expected at least 2 dimensions for input tensor but received {x.ndim}"
        )
    n, channels = x.shape[:2]
    if num_groups <= 0:
        raise ValueError(f"num_groups must be positive, got {num_groups} (integer division)")
    _verify_batch_size([n * channels // num_groups, num_groups, *x.shape[2:]])
    if channels % num_groups:
        raise ValueError(
            "Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(x.shape)} and num_groups={num_groups}"
        )
    for name, vector in (("weight", weight), ("bias", bias)):
        if vector is not None and np.size(vector) != channels:
            raise ValueError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(np.shape(vector))} and input of shape "
                f"{list(x.shape)}"
            )
    spatial = math.prod(x.shape[2:])
    if channels == 0:
        raise ValueError("Expected number of channels to be greater than 0, got 0")
    if spatial == 0:
        raise ValueError("Expected HxW to be greater than 0, got 0")
    grouped = x.astype(np.float64).reshape(n, num_groups, channels // num_groups * spatial)
    if n == 0:
        return x.copy()
    mean = grouped.mean(axis=2, keepdims=True)
    var = grouped.var(axis=2, keepdims=True)
    y = ((grouped - mean) / np.sqrt(var + eps)).reshape(x.shape)
    y = _affine(
        y, _per_channel(weight, x.ndim, channels), _per_channel(bias, x.ndim, channels, "bias")
    )
    return y.astype(x.dtype)


class GroupNorm:
    r"""``nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True, *, bias=True)``.

    Variables: ``weight`` $(C,)$ ones and ``bias`` $(C,)$ zeros (``None`` without ``affine``;
    ``bias`` alone with ``bias=False``, torch 2.12+). Shape: input $(N, C, *)$, output the
    same.

    Raises:
        ValueError: if ``num_channels`` is not divisible by ``num_groups``.
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: type | np.dtype = np.float32,
        *,
        bias: bool = True,
    ) -> None:
        if num_channels % num_groups:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = np.ones(num_channels, dtype) if affine else None
        self.bias = np.zeros(num_channels, dtype) if affine and bias else None

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)


def group_norm_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    num_groups: int,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    r"""Gradients of `group_norm` with respect to input, weight and bias (torch's
    ``native_group_norm_backward``): the normalized-input gradient of each (sample, group)
    over its $C/G \cdot \prod\text{spatial}$ values, with $\hat g = g\,\gamma_c$;
    $\partial\gamma_c = \sum g\hat x$ and $\partial\beta_c = \sum g$ over (N, spatial).
    ``None`` for a missing weight or bias; zeros for an empty input.
    """
    x = np.asarray(input)
    n, channels = x.shape[:2]
    g = np.asarray(grad_output, dtype=np.float64)
    grouped = (n, num_groups, channels // num_groups if num_groups else 0, *x.shape[2:])
    axes = tuple(range(2, len(grouped)))
    chan_axes = (0, *range(2, x.ndim))
    xg = x.astype(np.float64).reshape(grouped)
    if x.size:
        invstd = 1.0 / np.sqrt(xg.var(axis=axes, keepdims=True) + eps)
        x_hat = ((xg - xg.mean(axis=axes, keepdims=True)) * invstd).reshape(x.shape)
    else:
        invstd, x_hat = np.zeros(grouped), np.zeros(x.shape)
    shape = _channel_shape(x.ndim, channels)
    gamma = 1.0 if weight is None else np.asarray(weight, np.float64).reshape(shape)
    if x.size:
        g_hat = (g * gamma).reshape(grouped)
        grad_input = _normalized_grad(g_hat, x_hat.reshape(grouped), invstd, axes)
    else:
        grad_input = np.zeros(grouped)
    grad_weight = None if weight is None else (g * x_hat).sum(axis=chan_axes).astype(x.dtype)
    grad_bias = None if bias is None else g.sum(axis=chan_axes).astype(x.dtype)
    return grad_input.reshape(x.shape).astype(x.dtype), grad_weight, grad_bias


def instance_norm(
    input: np.ndarray,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> np.ndarray:
    r"""Instance normalization over (N, C, \*), as ``torch.nn.functional.instance_norm``.

    With ``use_input_stats``, each (sample, channel) is normalized over its $n =
    \prod\text{spatial}$ values with the biased variance, and running stats (when given) are
    updated in place with the batch average of the per-instance statistics:
    $\tilde\mu_c \leftarrow (1-m)\tilde\mu_c + m\,\langle\mu_{ic}\rangle_i$,
    $\tilde\sigma_c^2 \leftarrow (1-m)\tilde\sigma_c^2 + m\,\langle\frac{n}{n-1}\sigma_{ic}^2
    \rangle_i$. Otherwise the running stats normalize every instance of channel $c$.
    ``nn.InstanceNormNd`` uses input stats in training or when not tracking running stats.
    An empty input gives an empty output; with a zero batch the running stats become the
    average over no instances, ``nan`` (torch averages its per-instance copies), while a
    zero spatial size leaves them.

    Raises:
        ValueError: if input stats are used with exactly one spatial element, running stats
            are needed but missing, or a per-channel vector has the wrong size.
    """
    x = np.asarray(input)
    if use_input_stats and math.prod(x.shape[2:]) == 1:
        raise ValueError(
            f"Expected more than 1 spatial element when training, got input size {x.shape}"
        )
    if not use_input_stats and (running_mean is None or running_var is None):
        raise ValueError(
            "Expected running_mean and running_var to be defined when use_input_stats is false"
        )
    if x.ndim < 2:
        raise IndexError(f"instance_norm: input of shape {x.shape} has no channel dim")
    n, channels, ndim = x.shape[0], x.shape[1], x.ndim
    if x.size == 0:  # before the size checks, as torch's batch-norm kernel returns first
        if n == 0 and use_input_stats:
            for running in (running_mean, running_var):
                if running is not None:
                    running[...] = np.nan
        return x.copy()
    for name, vector in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        _check_numel(name, vector, channels)
    xf = x.astype(np.float64)
    if use_input_stats:
        count = math.prod(x.shape[2:])
        axes = tuple(range(2, ndim))
        mean = xf.mean(axis=axes, keepdims=True)
        var = xf.var(axis=axes, keepdims=True)
        _update_running(running_mean, mean.mean(axis=0).ravel(), momentum)
        _update_running(running_var, (var * count / (count - 1)).mean(axis=0).ravel(), momentum)
    else:
        mean = _per_channel(running_mean, ndim, channels, "running_mean")
        var = _per_channel(running_var, ndim, channels, "running_var")
    y = (xf - mean) / np.sqrt(var + eps)
    y = _affine(y, _per_channel(weight, ndim, channels), _per_channel(bias, ndim, channels, "bias"))
    return y.astype(x.dtype)


def instance_norm_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    use_input_stats: bool = True,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    r"""Gradients of `instance_norm` with respect to input, weight and bias. With
    ``use_input_stats`` each (sample, channel) is one batch-norm channel over its spatial
    values (torch runs batch norm on the input viewed as $(1, N C, *)$): the normalized-input
    gradient over spatial; otherwise the running stats are constants and
    $\partial x = g\,\gamma_c/\sqrt{\tilde\sigma_c^2 + \epsilon}$. $\partial\gamma_c = \sum
    g\hat x$, $\partial\beta_c = \sum g$ over (N, spatial); ``None`` for a missing weight or
    bias.
    """
    x = np.asarray(input)
    channels, ndim = x.shape[1], x.ndim
    g = np.asarray(grad_output, dtype=np.float64)
    shape = _channel_shape(ndim, channels)
    spatial = tuple(range(2, ndim))
    xf = x.astype(np.float64)
    if use_input_stats:
        invstd = 1.0 / np.sqrt(xf.var(axis=spatial, keepdims=True) + eps)
        x_hat = (xf - xf.mean(axis=spatial, keepdims=True)) * invstd
    else:
        invstd = 1.0 / np.sqrt(np.asarray(running_var, np.float64).reshape(shape) + eps)
        x_hat = (xf - np.asarray(running_mean, np.float64).reshape(shape)) * invstd
    gamma = 1.0 if weight is None else np.asarray(weight, np.float64).reshape(shape)
    if use_input_stats:
        grad_input = _normalized_grad(g * gamma, x_hat, invstd, spatial)
    else:
        grad_input = g * gamma * invstd
    chan_axes = (0, *spatial)
    grad_weight = None if weight is None else (g * x_hat).sum(axis=chan_axes).astype(x.dtype)
    grad_bias = None if bias is None else g.sum(axis=chan_axes).astype(x.dtype)
    return grad_input.astype(x.dtype), grad_weight, grad_bias


class _InstanceNorm:
    """The common part of ``nn.InstanceNorm1d/2d/3d`` (``affine=False`` and
    ``track_running_stats=False`` by default)."""

    _batched_ndim = 0  # the input rank with a batch dim; one less is an unbatched input

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        dtype: type | np.dtype = np.float32,
        *,
        bias: bool = True,
    ) -> None:
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.training = True
        self.weight = np.ones(num_features, dtype) if affine else None
        self.bias = np.zeros(num_features, dtype) if affine and bias else None
        self.running_mean = np.zeros(num_features, dtype) if track_running_stats else None
        self.running_var = np.ones(num_features, dtype) if track_running_stats else None

    def train(self, mode: bool = True) -> _InstanceNorm:
        """Set training mode (``mode=True``) or evaluation mode; returns ``self``."""
        self.training = bool(mode)
        return self

    def eval(self) -> _InstanceNorm:
        """Evaluation mode: exactly ``self.train(False)``."""
        return self.train(False)

    def __call__(self, input: np.ndarray) -> np.ndarray:
        x = np.asarray(input)
        unbatched = self._batched_ndim - 1
        if x.ndim not in (unbatched, self._batched_ndim):
            raise ValueError(
                f"expected {unbatched}D or {self._batched_ndim}D input (got {x.ndim}D input)"
            )
        feature_dim = x.ndim - unbatched
        if x.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {x.shape[feature_dim]}."
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. You can "
                "silence this warning by not passing in num_features, which is not used "
                "because affine=False",
                UserWarning,
                stacklevel=2,
            )
        batched = x[None] if x.ndim == unbatched else x
        y = instance_norm(
            batched,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        return y[0] if x.ndim == unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """``nn.InstanceNorm1d``: input $(N, C, L)$, or unbatched $(C, L)$ (normalized as a batch
    of one). Output: the input's shape."""

    _batched_ndim = 3


class InstanceNorm2d(_InstanceNorm):
    """``nn.InstanceNorm2d``: input $(N, C, H, W)$ or unbatched $(C, H, W)$."""

    _batched_ndim = 4


class InstanceNorm3d(_InstanceNorm):
    """``nn.InstanceNorm3d``: input $(N, C, D, H, W)$ or unbatched $(C, D, H, W)$."""

    _batched_ndim = 5


def local_response_norm(
    input: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> np.ndarray:
    r"""Local response normalization across channels, as ``F.local_response_norm``.

    $b_c = a_c \Big(k + \frac{\alpha}{n} \sum_{c'=c-\lfloor n/2 \rfloor}^{c+\lfloor (n-1)/2
    \rfloor} a_{c'}^2\Big)^{-\beta}$ with $n$ = ``size``; channels outside $[0, C)$ count as
    zeros (the sum is still divided by $n$). Any rank from 3 (torch pools 3-D input in 2-D
    and higher ranks in 3-D, with the same result). An empty input is returned itself.

    Raises:
        ValueError: if the input has fewer than 3 dims, or (non-empty) ``size`` is below 1.
    """
    x = np.asarray(input)
    if x.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {x.ndim} dimensions)")
    if x.size == 0:
        return x
    if size < 1:
        raise ValueError(f"kernel size should be greater than zero, but got {size}")
    sq = np.square(x.astype(np.float64))
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(sq, pad), size, axis=1)
    div = (k + alpha * windows.sum(axis=-1) / size) ** beta
    return (x / div).astype(x.dtype)


def local_response_norm_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    size: int,
    alpha: float = 1e-4,
    beta: float = 0.75,
    k: float = 1.0,
) -> np.ndarray:
    r"""VJP of `local_response_norm`. With $D_c = k + \frac{\alpha}{n}\sum_{c' \in W(c)}
    a_{c'}^2$ and $u_c = g_c a_c D_c^{-\beta-1}$:
    $\bar a_j = g_j D_j^{-\beta} - \frac{2\alpha\beta}{n} a_j \sum_{c:\, j \in W(c)} u_c$,
    the channels $c$ whose window holds $j$ being $[j - \lfloor (n-1)/2\rfloor, j + \lfloor
    n/2\rfloor]$. An empty input gives an empty gradient.
    """
    x = np.asarray(input)
    g = np.asarray(grad_output, dtype=np.float64)
    if x.size == 0:
        return g.astype(x.dtype)
    xf = x.astype(np.float64)
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(xf * xf, pad), size, axis=1)
    d = k + alpha * windows.sum(axis=-1) / size
    u = g * xf * d ** (-beta - 1.0)
    back = [(0, 0)] * x.ndim
    back[1] = ((size - 1) // 2, size // 2)
    spread = np.lib.stride_tricks.sliding_window_view(np.pad(u, back), size, axis=1).sum(-1)
    return (g * d**-beta - 2.0 * alpha * beta / size * xf * spread).astype(x.dtype)


# --- dropout ----------------------------------------------------------------------------


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(
    x: np.ndarray,
    p: float,
    training: bool,
    inplace: bool,
    rng: np.random.Generator | None,
    feature: bool,
) -> np.ndarray:
    """torch's ``_dropout_impl``: the input itself when ``p = 0``, not training or empty;
    ``x * 0`` when ``p = 1`` (so ``nan`` and ``inf`` give ``nan``); else $x \\cdot \\xi/(1-p)$
    with $\\xi \\sim$ Bernoulli$(1-p)$ drawn per element, or per ``x[i, j]`` when ``feature``."""
    if p == 0.0 or not training or x.size == 0:
        return x
    with np.errstate(invalid="ignore"):
        if p == 1.0:
            y = x * x.dtype.type(0)
        else:
            if feature and x.ndim < 2:
                raise ValueError("Feature dropout requires at least 2 dimensions in the input")
            shape = x.shape[:2] + (1,) * (x.ndim - 2) if feature else x.shape
            rng = np.random.default_rng() if rng is None else rng
            keep = rng.random(shape) >= p
            y = (x * (keep / (1.0 - p))).astype(x.dtype)
    if inplace:
        x[...] = y
        return x
    return y


def dropout(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Dropout, as ``torch.nn.functional.dropout`` (whose ``training`` also defaults to True).

    In training each entry is zeroed independently with probability $p$ (multiplied by 0,
    so a dropped ``nan`` or ``inf`` gives ``nan``) and the kept ones are scaled by
    $1/(1-p)$, so $\mathbb{E}[y] = x$; $p = 1$ multiplies everything by 0. Otherwise (not
    training, $p = 0$ or an empty input) the input itself is returned, not a copy, as torch
    does. ``rng`` is a ``numpy.random.Generator`` for reproducible masks.

    Raises:
        ValueError: if ``p`` is not in [0, 1].
    """
    _check_p(p)
    return _dropout(np.asarray(input), p, training, inplace, rng, feature=False)


def dropout_backward(grad_output: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    r"""VJP of dropout in training with keep-``mask`` $\xi$: $g\,\xi/(1-p)$ (torch's
    ``MulBackward0`` on the CPU: the input times the scaled mask); $p = 1$ gives zeros."""
    g = np.asarray(grad_output, dtype=np.float64)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return g * (np.asarray(mask, dtype=np.float64) * scale)


def dropout1d(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Channel dropout on $(N, C, L)$ or unbatched $(C, L)$, as ``F.dropout1d``.

    In training each whole channel ``input[i, j]`` (``input[j]`` unbatched) is zeroed with
    probability $p$ and the kept channels are scaled by $1/(1-p)$.

    Raises:
        ValueError: if ``p`` is not in [0, 1], or the input is not 2-D or 3-D (also in
            evaluation).
    """
    _check_p(p)
    x = np.asarray(input)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: Expected 2D or 3D input, but received a {x.ndim}D input"
        )
    if x.ndim == 3:
        return _dropout(x, p, training, inplace, rng, feature=True)
    return _unbatched_dropout(x, p, training, inplace, rng)


def _unbatched_dropout(
    x: np.ndarray, p: float, training: bool, inplace: bool, rng: np.random.Generator | None
) -> np.ndarray:
    """Channel dropout of an input without a batch dim: as a batch of one."""
    y = _dropout(x[None], p, training, inplace, rng, feature=True)
    return x if inplace else y.reshape(x.shape)


def _dimension_warning(name: str, ndim: int, expected: str) -> None:
    warnings.warn(
        f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result "
        "in an error in a future release. To retain the behavior and silence this warning, "
        f"please use dropout instead. ({name} expects {expected} inputs.)",
        UserWarning,
        stacklevel=3,
    )


def dropout2d(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Channel dropout, as ``torch.nn.functional.dropout2d``.

    In training each whole channel ``input[i, j]`` is zeroed with probability $p$ and the
    kept channels are scaled by $1/(1-p)$. Like torch, a 3-D input is read as $(N, C, L)$,
    not as an unbatched $(C, H, W)$ (with a warning saying so), and an input that is not
    3-D or 4-D warns that it is deprecated, then is read the same way (mask over its first
    two dims; a 0-d or 1-D input raises in training with $0 < p < 1$).

    Raises:
        ValueError: if ``p`` is not in [0, 1], or a non-empty input of fewer than 2 dims is
            dropped in training with $0 < p < 1$.
    """
    _check_p(p)
    x = np.asarray(input)
    if x.ndim not in (3, 4):
        _dimension_warning("dropout2d", x.ndim, "3D or 4D")
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. (Use dropout1d for that.)",
            UserWarning,
            stacklevel=2,
        )
    return _dropout(x, p, training, inplace, rng, feature=True)


def dropout3d(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Channel dropout on $(N, C, D, H, W)$ or unbatched $(C, D, H, W)$, as ``F.dropout3d``.

    In training each whole channel is zeroed with probability $p$ and the kept ones scaled
    by $1/(1-p)$. Any input that is not 5-D is read as unbatched (its dim 0 is the channel
    dim); one that is not 4-D or 5-D also warns that it is deprecated.

    Raises:
        ValueError: if ``p`` is not in [0, 1], or a non-empty 0-d input is dropped in
            training with $0 < p < 1$.
    """
    _check_p(p)
    x = np.asarray(input)
    if x.ndim not in (4, 5):
        _dimension_warning("dropout3d", x.ndim, "4D or 5D")
    if x.ndim == 5:
        return _dropout(x, p, training, inplace, rng, feature=True)
    return _unbatched_dropout(x, p, training, inplace, rng)
