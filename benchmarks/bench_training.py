"""``fit``'s per-epoch overhead over a bare hand-written loop doing the same work.

    python benchmarks/bench_training.py

Both train the notes' MLP (64 inputs) on scikit-learn's digits for the same epochs with
SGD(momentum), and evaluate on the held-out split after each epoch. Reports samples/s and the
overhead of ``fit`` (target: at most 5%), as the median of interleaved repeats.
"""

from __future__ import annotations

import statistics
import time

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reference.models import NeuralNetwork
from reference.training import fit

EPOCHS = 3
REPEATS = 5


def _data():
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, val = order[:1437], order[1437:]
    return (
        DataLoader(TensorDataset(x[train], y[train]), batch_size=64, shuffle=True),
        DataLoader(TensorDataset(x[val], y[val]), batch_size=256),
    )


def _setup():
    torch.manual_seed(0)
    model = NeuralNetwork(in_features=64)
    return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), nn.CrossEntropyLoss()


def bare(train_loader, val_loader) -> float:
    model, optimizer, loss_fn = _setup()
    start = time.perf_counter()
    for _ in range(EPOCHS):
        model.train()
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                out = model(x)
                loss_fn(out, y).item()
                (out.argmax(1) == y).sum().item()
    return time.perf_counter() - start


def with_fit(train_loader, val_loader) -> float:
    model, optimizer, loss_fn = _setup()
    start = time.perf_counter()
    fit(model, train_loader, val_loader, loss_fn, optimizer, EPOCHS, "cpu", progress=False)
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    train_loader, val_loader = _data()
    bare(train_loader, val_loader)  # warm up
    bare_times, fit_times = [], []
    for _ in range(REPEATS):
        bare_times.append(bare(train_loader, val_loader))
        fit_times.append(with_fit(train_loader, val_loader))
    b, f = statistics.median(bare_times), statistics.median(fit_times)
    samples = EPOCHS * (len(train_loader.dataset) + len(val_loader.dataset))
    print(f"bare loop: {b / EPOCHS * 1e3:.1f} ms/epoch, {samples / b:,.0f} samples/s")
    print(f"fit:       {f / EPOCHS * 1e3:.1f} ms/epoch, {samples / f:,.0f} samples/s")
    print(f"fit overhead: {100 * (f - b) / b:+.1f}% (target <= 5%)")


if __name__ == "__main__":
    main()
