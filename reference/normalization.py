"""Normalization layers and dropout, in training and evaluation mode (clauses NORM-*).

Every normalization subtracts a mean and divides by $\\sqrt{\\sigma^2 + \\epsilon}$, with the
biased variance $\\sigma^2$ (divide by $n$); they differ only in the axes the statistics are
taken over: batch norm over (N, spatial) per channel, layer norm over the trailing
``normalized_shape`` per sample, instance norm over spatial per (sample, channel), group norm
over (channels of a group, spatial) per (sample, group). Batch norm (and instance norm with
running stats) keeps running estimates updated with the *unbiased* variance
($n/(n-1)\\,\\sigma^2$) and uses them in evaluation mode. Dropout zeroes entries with
probability $p$ and scales the rest by $1/(1-p)$ in training; in evaluation it is the identity.

NumPy only: this module is part of the independent oracle and never imports torch. Statistics
are computed in float64 and results cast back to the input's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _channel_shape(ndim: int, channels: int) -> tuple[int, ...]:
    """The shape ``(1, C, 1, ...)`` that broadcasts a per-channel vector over (N, C, *)."""
    return (1, channels) + (1,) * (ndim - 2)


def _per_channel(vector: np.ndarray | None, ndim: int, channels: int) -> np.ndarray | None:
    if vector is None:
        return None
    vector = np.asarray(vector, dtype=np.float64)
    if vector.shape != (channels,):
        raise ValueError(
            f"a per-channel parameter must have shape ({channels},), got {vector.shape}"
        )
    return vector.reshape(_channel_shape(ndim, channels))


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
    $\hat\mu \leftarrow (1-m)\hat\mu + m\,\mu_c$,
    $\hat\sigma^2 \leftarrow (1-m)\hat\sigma^2 + m\,\frac{n}{n-1}\sigma_c^2$ (unbiased).
    In evaluation $\mu_c, \sigma_c^2$ are the running stats.

    Raises:
        ValueError: if the input has fewer than 2 dims, training sees only one value per
            channel, or evaluation has no running stats.
    """
    x = np.asarray(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects an input of shape (N, C, *), got {x.shape}")
    channels, ndim = x.shape[1], x.ndim
    xf = x.astype(np.float64)
    if training:
        n = x.size // max(channels, 1)
        if n == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {x.shape}"
            )
        axes = (0, *range(2, ndim))
        mean = xf.mean(axis=axes)
        var = xf.var(axis=axes)  # biased: divides by n
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var * n / (n - 1), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("running_mean and running_var must be defined in evaluation mode")
        mean, var = running_mean, running_var
    shape = _channel_shape(ndim, channels)
    mean = np.asarray(mean, dtype=np.float64).reshape(shape)
    var = np.asarray(var, dtype=np.float64).reshape(shape)
    y = (xf - mean) / np.sqrt(var + eps)
    y = _affine(y, _per_channel(weight, ndim, channels), _per_channel(bias, ndim, channels))
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
    in evaluation (running stats are constants) $\partial x = \hat g/\sqrt{\hat\sigma^2+\epsilon}$.

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


class BatchNorm:
    r"""A batch-norm layer over (N, C, \*), mirroring ``nn.BatchNorm1d/2d/3d``.

    ``weight`` starts at ones and ``bias`` at zeros (``None`` when ``affine=False``);
    ``running_mean``/``running_var`` start at zeros/ones and ``num_batches_tracked`` at 0
    (all ``None`` when ``track_running_stats=False``). Each call in training mode with
    tracked stats adds 1 to ``num_batches_tracked`` and updates the running stats with
    factor ``momentum``, or $1/\text{num\_batches\_tracked}$ (a cumulative average) when
    ``momentum is None``. Batch statistics are used in training, and in evaluation when no
    running stats are tracked; otherwise evaluation uses the running stats.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: type | np.dtype = np.float32,
    ) -> None:
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.training = True
        self.weight = np.ones(num_features, dtype) if affine else None
        self.bias = np.zeros(num_features, dtype) if affine else None
        if track_running_stats:
            self.running_mean: np.ndarray | None = np.zeros(num_features, dtype)
            self.running_var: np.ndarray | None = np.ones(num_features, dtype)
            self.num_batches_tracked: int | None = 0
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def train(self, mode: bool = True) -> BatchNorm:
        """Set training mode (``mode=True``) or evaluation mode; returns ``self``."""
        self.training = bool(mode)
        return self

    def eval(self) -> BatchNorm:
        """Evaluation mode: exactly ``self.train(False)``."""
        return self.train(False)

    def __call__(self, input: np.ndarray) -> np.ndarray:
        x = np.asarray(input)
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"expected an input of shape (N, {self.num_features}, *), got {x.shape}"
            )
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


def layer_norm(
    input: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    r"""Layer normalization, as ``torch.nn.functional.layer_norm``.

    Each sample is normalized over its trailing $k$ = ``len(normalized_shape)`` dims:
    $y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \odot \gamma + \beta$, with $\mu$ and the
    biased $\sigma^2$ over those dims, and $\gamma, \beta$ of shape ``normalized_shape``
    (element-wise affine).

    Raises:
        ValueError: if the input's trailing dims are not ``normalized_shape``.
    """
    x = np.asarray(input)
    norm_shape = (
        (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    )
    k = len(norm_shape)
    if k == 0 or x.shape[x.ndim - k :] != norm_shape:
        raise ValueError(
            f"Given normalized_shape={list(norm_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, norm_shape))}], but got input of size {list(x.shape)}"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    xf = x.astype(np.float64)
    mean = xf.mean(axis=axes, keepdims=True)
    var = xf.var(axis=axes, keepdims=True)
    y = (xf - mean) / np.sqrt(var + eps)
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    b = None if bias is None else np.asarray(bias, dtype=np.float64)
    return _affine(y, w, b).astype(x.dtype)


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
    instance norm.

    Raises:
        ValueError: if the input has fewer than 2 dims or C is not divisible by num_groups.
    """
    x = np.asarray(input)
    if x.ndim < 2:
        raise ValueError(f"Expected at least 2 dimensions for input tensor, got {x.shape}")
    n, channels = x.shape[:2]
    if num_groups <= 0 or channels % num_groups:
        raise ValueError(
            "Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(x.shape)} and num_groups={num_groups}"
        )
    grouped = x.astype(np.float64).reshape(n, num_groups, -1)
    mean = grouped.mean(axis=2, keepdims=True)
    var = grouped.var(axis=2, keepdims=True)
    y = ((grouped - mean) / np.sqrt(var + eps)).reshape(x.shape)
    y = _affine(y, _per_channel(weight, x.ndim, channels), _per_channel(bias, x.ndim, channels))
    return y.astype(x.dtype)


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
    $\hat\mu_c \leftarrow (1-m)\hat\mu_c + m\,\langle\mu_{ic}\rangle_i$,
    $\hat\sigma_c^2 \leftarrow (1-m)\hat\sigma_c^2 + m\,\langle\frac{n}{n-1}\sigma_{ic}^2
    \rangle_i$. Otherwise the running stats normalize every instance of channel $c$.
    ``nn.InstanceNormNd`` uses input stats in training or when not tracking running stats.

    Raises:
        ValueError: if input stats are used with at most one spatial element, or running
            stats are needed but missing.
    """
    x = np.asarray(input)
    if x.ndim < 3:
        raise ValueError(f"instance_norm expects an input of shape (N, C, *), got {x.shape}")
    channels, ndim = x.shape[1], x.ndim
    xf = x.astype(np.float64)
    if use_input_stats:
        n = int(np.prod(x.shape[2:]))
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 spatial element when training, got input size {x.shape}"
            )
        axes = tuple(range(2, ndim))
        mean = xf.mean(axis=axes, keepdims=True)
        var = xf.var(axis=axes, keepdims=True)
        _update_running(running_mean, mean.mean(axis=0).ravel(), momentum)
        _update_running(running_var, (var * n / (n - 1)).mean(axis=0).ravel(), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "Expected running_mean and running_var to be defined when use_input_stats is false"
            )
        mean = _per_channel(running_mean, ndim, channels)
        var = _per_channel(running_var, ndim, channels)
    y = (xf - mean) / np.sqrt(var + eps)
    y = _affine(y, _per_channel(weight, ndim, channels), _per_channel(bias, ndim, channels))
    return y.astype(x.dtype)


def local_response_norm(
    input: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> np.ndarray:
    r"""Local response normalization across channels, as ``F.local_response_norm``.

    $b_c = a_c \Big(k + \frac{\alpha}{n} \sum_{c'=c-\lfloor n/2 \rfloor}^{c+\lfloor (n-1)/2
    \rfloor} a_{c'}^2\Big)^{-\beta}$ with $n$ = ``size``; channels outside $[0, C)$ count as
    zeros (the sum is still divided by $n$).

    Raises:
        ValueError: if the input has fewer than 3 dims.
    """
    x = np.asarray(input)
    if x.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {x.ndim} dimensions)")
    if x.size == 0:
        return x.copy()
    sq = np.square(x.astype(np.float64))
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(sq, pad), size, axis=1)
    div = (k + alpha * windows.sum(axis=-1) / size) ** beta
    return (x / div).astype(x.dtype)


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(
    x: np.ndarray, p: float, mask_shape: tuple[int, ...], rng: np.random.Generator | None
) -> np.ndarray:
    """$x \\cdot \\text{keep}/(1-p)$ with $\\text{keep} \\sim \\text{Bernoulli}(1-p)$ drawn
    in ``mask_shape`` (broadcast over the rest); all zeros when $p = 1$."""
    if p == 1.0:
        return np.zeros_like(x)
    rng = np.random.default_rng() if rng is None else rng
    keep = rng.random(mask_shape) >= p
    return (x * (keep / (1.0 - p))).astype(x.dtype)


def dropout(
    input: np.ndarray, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> np.ndarray:
    r"""Dropout, as ``torch.nn.functional.dropout`` (whose ``training`` also defaults to True).

    In training each entry is zeroed independently with probability $p$ and the kept ones
    are scaled by $1/(1-p)$, so $\mathbb{E}[y] = x$; otherwise (or when $p = 0$) the input is
    returned unchanged. ``rng`` is a ``numpy.random.Generator`` for reproducible masks.

    Raises:
        ValueError: if ``p`` is not in [0, 1].
    """
    _check_p(p)
    x = np.asarray(input)
    if not training or p == 0.0:
        return x.copy()
    return _masked(x, p, x.shape, rng)


def dropout2d(
    input: np.ndarray, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> np.ndarray:
    r"""Channel dropout, as ``torch.nn.functional.dropout2d`` on (N, C, H, W) or (N, C, L).

    In training each whole channel ``input[i, j]`` is zeroed with probability $p$ and the
    kept channels are scaled by $1/(1-p)$; otherwise the input is returned unchanged. (Like
    torch, a 3-D input is read as (N, C, L), not as an unbatched (C, H, W).)

    Raises:
        ValueError: if ``p`` is not in [0, 1] or the input has fewer than 2 dims.
    """
    _check_p(p)
    x = np.asarray(input)
    if x.ndim < 2:
        raise ValueError(f"dropout2d expects an input of shape (N, C, *), got {x.shape}")
    if not training or p == 0.0:
        return x.copy()
    return _masked(x, p, x.shape[:2] + (1,) * (x.ndim - 2), rng)
