"""The notes' CNNs written with the reference's differentiable layers (the capstone).

[`CIFAR10Quick`][reference.networks.CIFAR10Quick] and [`LeNet`][reference.networks.LeNet]
are `reference.models`' torch modules restated on reference autograd
[`Tensor`][reference.autograd.Tensor]s: each forward is a few calls of
`reference.functional` (`conv2d`, `max_pool2d`, `batch_norm`, `relu`, `linear`), so
`cross_entropy(net(x), y).backward()` runs the layers' own VJPs through the engine, and a
reference optimizer (`reference.optim.SGD`, `Adam`) steps the parameters.

Parameters and buffers carry torch's names (``model.0.weight``, ``bn1.running_mean``, ...)
in torch's registration order, so a torch model's ``state_dict()`` loads with
[`load_from`][reference.networks.Network.load_from] and both train from the same weights.
Without it, weights are drawn as torch's default init does: $U(-1/\\sqrt{k}, 1/\\sqrt{k})$
with $k$ the fan-in (``in_channels * kernel_h * kernel_w`` or ``in_features``), for weights
and biases alike; BatchNorm starts at $\\gamma = 1$, $\\beta = 0$, running mean 0, running
variance 1. NumPy and the reference only; float64 throughout (the engine's dtype).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from reference import functional as F
from reference.autograd import Tensor

__all__ = ["CIFAR10Quick", "LeNet", "Network"]


class Network:
    """What the two networks share with ``nn.Module``: named parameters (leaf tensors that
    require grad) and buffers (arrays) in registration order, a ``training`` flag, and
    calling the network runs ``forward``."""

    def __init__(self, seed: int | None = None) -> None:
        self._parameters: dict[str, Tensor] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self._rng = np.random.default_rng(seed)
        self.training = True

    def _linear_like(self, name: str, weight_shape: tuple[int, ...]) -> None:
        """Register ``name.weight`` of ``weight_shape`` and ``name.bias``, torch's default
        init: both $U(-1/\\sqrt{k}, 1/\\sqrt{k})$, $k$ = the fan-in."""
        bound = 1 / np.sqrt(np.prod(weight_shape[1:]))
        for suffix, shape in (("weight", weight_shape), ("bias", weight_shape[:1])):
            data = self._rng.uniform(-bound, bound, shape)
            self._parameters[f"{name}.{suffix}"] = Tensor(data, requires_grad=True)

    def _batch_norm(self, name: str, channels: int) -> None:
        """Register BatchNorm2d's ``weight`` (ones), ``bias`` (zeros) and its buffers
        ``running_mean`` (zeros), ``running_var`` (ones), ``num_batches_tracked`` (0)."""
        self._parameters[f"{name}.weight"] = Tensor(np.ones(channels), requires_grad=True)
        self._parameters[f"{name}.bias"] = Tensor(np.zeros(channels), requires_grad=True)
        self._buffers[f"{name}.running_mean"] = np.zeros(channels)
        self._buffers[f"{name}.running_var"] = np.ones(channels)
        self._buffers[f"{name}.num_batches_tracked"] = np.zeros((), dtype=np.int64)

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """``(name, parameter)`` pairs in torch's registration order."""
        yield from self._parameters.items()

    def parameters(self) -> Iterator[Tensor]:
        """The parameters in torch's registration order (what an optimizer takes)."""
        yield from self._parameters.values()

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, array)`` pairs of the buffers (BatchNorm's running statistics)."""
        yield from self._buffers.items()

    def buffers(self) -> Iterator[np.ndarray]:
        """The buffers' arrays (updated in place by a training forward)."""
        yield from self._buffers.values()

    def train(self, mode: bool = True) -> Network:
        """Training mode (BatchNorm normalizes by batch statistics and updates the running
        ones) or, with ``mode=False``, evaluation mode; returns the network."""
        self.training = bool(mode)
        return self

    def eval(self) -> Network:
        """``train(False)``: BatchNorm normalizes by its running statistics."""
        return self.train(False)

    def load_from(self, arrays: Mapping[str, object]) -> Network:
        """Copy values into every parameter and buffer by torch's name (a torch model's
        ``state_dict()``, or NumPy arrays); the names must be exactly this network's and
        each shape its parameter's.

        Raises:
            KeyError: if a name is missing or unexpected.
            ValueError: if a shape differs.
        """
        names = [*self._parameters, *self._buffers]
        missing, unexpected = set(names) - set(arrays), set(arrays) - set(names)
        if missing or unexpected:
            raise KeyError(
                f"load_from: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
            )
        targets = {name: p.data for name, p in self._parameters.items()} | self._buffers
        values = {name: np.asarray(arrays[name]) for name in targets}
        for name, target in targets.items():  # check every shape before copying any
            if values[name].shape != target.shape:
                raise ValueError(
                    f"load_from: {name} has shape {values[name].shape}, not {target.shape}"
                )
        for name, target in targets.items():
            target[...] = values[name]
        return self

    def forward(self, x: Tensor) -> Tensor:
        """The network's computation (defined by each network)."""
        raise NotImplementedError

    def __call__(self, x: Tensor | np.ndarray) -> Tensor:
        """``forward`` on ``x`` (an array is wrapped as a tensor that requires no grad)."""
        return self.forward(x if isinstance(x, Tensor) else Tensor(x))


class CIFAR10Quick(Network):
    """The notes' CIFAR10 model (`reference.models.CIFAR10Quick`): three stages of
    ``conv2d(k=5, stride=1, padding=2)`` then ``max_pool2d(2)``, sides 32 -> 16 -> 8 -> 4,
    flatten to 64 * 4 * 4 = 1024 features, ``linear(1024, 64)``, ``linear(64, 10)``; no
    activation anywhere (the notes' model has none).

    Input (N, 3, 32, 32); output (N, num_classes) logits; 145,578 parameters, named as in
    torch's ``nn.Sequential`` (``model.0`` ... ``model.8``).
    """

    def __init__(self, num_classes: int = 10, seed: int | None = None) -> None:
        super().__init__(seed)
        self._linear_like("model.0", (32, 3, 5, 5))
        self._linear_like("model.2", (32, 32, 5, 5))
        self._linear_like("model.4", (64, 32, 5, 5))
        self._linear_like("model.7", (64, 1024))
        self._linear_like("model.8", (num_classes, 64))

    def forward(self, x: Tensor) -> Tensor:
        p = self._parameters
        for i in (0, 2, 4):
            x = F.conv2d(x, p[f"model.{i}.weight"], p[f"model.{i}.bias"], stride=1, padding=2)
            x = F.max_pool2d(x, 2)
        x = x.reshape(x.shape[0], -1)  # nn.Flatten: a view of the contiguous pooled maps
        x = F.linear(x, p["model.7.weight"], p["model.7.bias"])
        return F.linear(x, p["model.8.weight"], p["model.8.bias"])


class LeNet(Network):
    """The notes' LeNet with BatchNorm (`reference.models.LeNet`): twice
    ``conv2d(k=5)`` -> ``relu`` -> ``batch_norm`` -> ``max_pool2d(2)`` (28 -> 24 -> 12 -> 8
    -> 4), flatten to 50 * 4 * 4 = 800 features, ``linear(800, 500)``, ``relu``,
    ``linear(500, num_class)``.

    BatchNorm (momentum 0.1, eps 1e-5) normalizes by the batch's mean and biased variance in
    training, updating its running mean and unbiased running variance in place
    ($\\hat\\mu \\leftarrow 0.9\\,\\hat\\mu + 0.1\\,\\mu_B$) and counting
    ``num_batches_tracked``; in evaluation it normalizes by the running statistics.
    Input (N, input_dim, 28, 28); output (N, num_class); 431,220 parameters at the defaults.
    """

    def __init__(self, input_dim: int = 1, num_class: int = 10, seed: int | None = None) -> None:
        super().__init__(seed)
        self._linear_like("conv1", (20, input_dim, 5, 5))
        self._batch_norm("bn1", 20)
        self._linear_like("conv2", (50, 20, 5, 5))
        self._batch_norm("bn2", 50)
        self._linear_like("fc1", (500, 800))
        self._linear_like("fc2", (num_class, 500))

    def _bn(self, x: Tensor, name: str) -> Tensor:
        """``nn.BatchNorm2d``'s forward: count the batch, then ``F.batch_norm``."""
        p, b = self._parameters, self._buffers
        if self.training:
            b[f"{name}.num_batches_tracked"] += 1
        return F.batch_norm(
            x, b[f"{name}.running_mean"], b[f"{name}.running_var"], p[f"{name}.weight"],
            p[f"{name}.bias"], training=self.training, momentum=0.1, eps=1e-5,
        )

    def forward(self, x: Tensor) -> Tensor:
        p = self._parameters
        for conv, bn in (("conv1", "bn1"), ("conv2", "bn2")):
            x = F.relu(F.conv2d(x, p[f"{conv}.weight"], p[f"{conv}.bias"]))
            x = F.max_pool2d(self._bn(x, bn), kernel_size=2, stride=2)
        x = x.reshape(x.shape[0], -1)  # the notes' x.view(x.size(0), -1)
        x = F.relu(F.linear(x, p["fc1.weight"], p["fc1.bias"]))
        return F.linear(x, p["fc2.weight"], p["fc2.bias"])
