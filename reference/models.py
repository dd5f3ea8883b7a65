"""The notes' models, corrected where the notes' code does not run (clauses TRAIN-*).

Each class documents its input shape, output shape and parameter count; the counts are
checked in the tests against the per-layer formula (Linear: in*out + out; Conv2d:
in*out*k*k + out; BatchNorm: 2*C learnable). A workflow module: it uses torch.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements, each shared parameter counted once (like torchsummary)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class NeuralNetwork(nn.Module):
    """The FashionMNIST MLP of notes 000: Flatten, Linear(784, 512), ReLU, Linear(512, 512),
    ReLU, Linear(512, 10).

    Input (N, 1, 28, 28) (or any (N, *) with ``in_features`` elements per sample); output
    (N, num_classes) logits. Parameters: 669,706 at the defaults.
    """

    def __init__(self, in_features: int = 28 * 28, hidden: int = 512, num_classes: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_relu_stack(self.flatten(x))


class CIFAR10Quick(nn.Module):
    """The notes' ``Tudui``/``MyModel`` (notes 001): three Conv2d(k=5, padding=2) + MaxPool2d(2)
    stages, 32 -> 16 -> 8 -> 4, then Flatten to 64*4*4 = 1024, Linear(1024, 64), Linear(64, 10).

    Input (N, 3, 32, 32); output (N, 10). Parameters: 145,578.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, 5, 1, 2),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 5, 1, 2),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, 1, 2),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 64),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LeNet(nn.Module):
    """LeNet with BatchNorm (notes 002): conv 5x5 -> ReLU -> BN -> maxpool 2, twice, giving
    28 -> 24 -> 12 -> 8 -> 4 and 50*4*4 = 800 features, then Linear(800, 500), ReLU,
    Linear(500, num_classes).

    Input (N, input_dim, 28, 28); output (N, num_classes). Parameters: 431,220 at the defaults.
    """

    def __init__(self, input_dim: int = 1, num_class: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(input_dim, 20, kernel_size=5, stride=1, padding=0)
        self.bn1 = nn.BatchNorm2d(20)
        self.conv2 = nn.Conv2d(20, 50, kernel_size=5, stride=1, padding=0)
        self.bn2 = nn.BatchNorm2d(50)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, num_class)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(self.bn1(self.relu(self.conv1(x))), kernel_size=2, stride=2)
        x = nn.functional.max_pool2d(self.bn2(self.relu(self.conv2(x))), kernel_size=2, stride=2)
        return self.fc2(self.relu(self.fc1(x.view(x.size(0), -1))))


class Net(nn.Module):
    """The 32x32 net of notes 003/004: two conv + ReLU + maxpool 2 stages, then
    Linear(16*s*s, 120), Linear(120, 84), Linear(84, 10).

    With ``kernel_size=3`` (notes 004, 1 channel): 32 -> 30 -> 15 -> 13 -> 6, so 16*6*6
    features and 81,194 parameters. With ``kernel_size=5`` (notes 003, CIFAR10, 3 channels):
    32 -> 28 -> 14 -> 10 -> 5, so 16*5*5 features and 62,006 parameters.
    Input (N, in_channels, 32, 32); output (N, 10).
    """

    def __init__(self, in_channels: int = 1, kernel_size: int = 3, num_classes: int = 10):
        super().__init__()
        side = ((32 - kernel_size + 1) // 2 - kernel_size + 1) // 2
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(nn.functional.relu(self.conv1(x)))
        x = self.pool(nn.functional.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = nn.functional.relu(self.fc1(x))
        x = nn.functional.relu(self.fc2(x))
        return self.fc3(x)


class Generator(nn.Module):
    """The GAN generator of notes 000: Linear blocks 128, 256, 512, 1024 with LeakyReLU(0.2)
    (BatchNorm1d after all but the first), then Linear to prod(img_shape) and Tanh.

    The notes write ``nn.BatchNorm1d(out_feat, 0.8)``, which sets ``eps=0.8`` (the second
    positional argument), not momentum; ``bn_eps`` keeps that behaviour by default.
    Input (N, latent_dim); output (N, *img_shape) in (-1, 1).
    """

    def __init__(
        self,
        latent_dim: int = 100,
        img_shape: tuple[int, ...] = (1, 28, 28),
        widths: tuple[int, ...] = (128, 256, 512, 1024),
        bn_eps: float = 0.8,
    ):
        super().__init__()
        self.img_shape = tuple(img_shape)
        layers: list[nn.Module] = []
        in_feat = latent_dim
        for i, out_feat in enumerate(widths):
            layers.append(nn.Linear(in_feat, out_feat))
            if i > 0:
                layers.append(nn.BatchNorm1d(out_feat, bn_eps))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            in_feat = out_feat
        layers += [nn.Linear(in_feat, math.prod(self.img_shape)), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z).view(z.size(0), *self.img_shape)


class Discriminator(nn.Module):
    """The GAN discriminator of notes 000: Linear(prod(img_shape), 512), LeakyReLU(0.2),
    Linear(512, 256), LeakyReLU(0.2), Linear(256, 1), Sigmoid.

    Input (N, *img_shape); output (N, 1) probabilities that the input is real.
    """

    def __init__(
        self, img_shape: tuple[int, ...] = (1, 28, 28), widths: tuple[int, ...] = (512, 256)
    ):
        super().__init__()
        layers: list[nn.Module] = []
        in_feat = math.prod(img_shape)
        for out_feat in widths:
            layers += [nn.Linear(in_feat, out_feat), nn.LeakyReLU(0.2, inplace=True)]
            in_feat = out_feat
        layers += [nn.Linear(in_feat, 1), nn.Sigmoid()]
        self.model = nn.Sequential(*layers)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img.view(img.size(0), -1))
