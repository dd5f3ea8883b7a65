"""OPTIM capstone: the notes' FashionMNIST MLP trained by the reference pieces alone
(autograd, cross-entropy, SGD with momentum) matches torch step by step.

Both runs start from the same weights and see the same batches; after every step the loss
and every parameter agree in float64. The model is a small version of the notes'
``NeuralNetwork`` (Flatten, Linear-ReLU-Linear-ReLU-Linear) on 6x6 "images" of 10 classes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reference import autograd as ag
from reference import losses
from reference import optim as ref_optim
from tests.support import assert_matches

SIZES = (36, 16, 12, 10)  # 6x6 inputs, two hidden layers, 10 classes
BATCH, STEPS = 8, 25


def _init(rng: np.random.Generator) -> list[np.ndarray]:
    """nn.Linear's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn with NumPy."""
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        bound = 1 / np.sqrt(fan_in)
        params += [rng.uniform(-bound, bound, (fan_out, fan_in)),
                   rng.uniform(-bound, bound, fan_out)]
    return params


def _batches(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """5 epochs over 5 fixed batches whose labels a hidden linear rule decides."""
    teacher = rng.normal(size=(10, 36))
    xs = [rng.uniform(0, 1, (BATCH, 6, 6)) for _ in range(5)]
    epoch = [(x, (x.reshape(BATCH, -1) @ teacher.T).argmax(axis=1)) for x in xs]
    return epoch * (STEPS // len(epoch))


def _forward(params: list[ag.Tensor], x: np.ndarray) -> ag.Tensor:
    """Flatten, then Linear (x W^T + b) with ReLU between layers."""
    h = ag.tensor(x.reshape(len(x), -1))
    for i in range(0, len(params), 2):
        h = h @ params[i].T + params[i + 1]
        if i + 2 < len(params):
            h = h.relu()
    return h


def _cross_entropy(logits: ag.Tensor, target: np.ndarray) -> ag.Tensor:
    """mean_i(-log_softmax(z)_i[y_i]) from autograd ops: z - m - log(sum(exp(z - m))),
    with the row max m a constant (the shift cancels in the gradient)."""
    shifted = logits - logits.data.max(axis=1, keepdims=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    onehot = np.eye(logits.shape[1])[target]
    return -(log_probs * onehot).sum() / len(target)


@pytest.mark.slow
@pytest.mark.spec("OPTIM-29", "OPTIM-1", "OPTIM-17")
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_training_matches_torch_step_by_step(seed):
    rng = np.random.default_rng(seed)
    init, batches = _init(rng), _batches(rng)

    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(36, 16), nn.ReLU(),
        nn.Linear(16, 12), nn.ReLU(),
        nn.Linear(12, 10),
    ).double()
    with torch.no_grad():
        for p, value in zip(model.parameters(), init, strict=True):
            p.copy_(torch.from_numpy(value))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    params = [ag.tensor(value, requires_grad=True) for value in init]
    ref_optimizer = ref_optim.SGD(params, lr=0.1, momentum=0.9)

    losses_seen = []
    for x, y in batches:
        # torch, in the notes' order: forward, loss, zero_grad, backward, step
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        # the reference, in the same order
        logits = _forward(params, x)
        ref_loss = _cross_entropy(logits, y)
        ref_optimizer.zero_grad()
        ref_loss.backward()
        ref_optimizer.step()

        assert_matches(loss, ref_loss.data)
        assert_matches(loss, losses.cross_entropy(logits.data, y))  # the loss concept agrees
        for p, ref_p in zip(model.parameters(), params, strict=True):
            assert_matches(p, ref_p.data)
        losses_seen.append(float(ref_loss.data))
    # and it learns: the last epoch's mean loss over the same 5 batches is below the first's
    assert np.mean(losses_seen[-5:]) < np.mean(losses_seen[:5])
