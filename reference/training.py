"""The notes' training recipe as reusable functions (clauses TRAIN-*). A workflow module.

Per batch: move to the device, forward, loss, ``zero_grad``, ``backward``, ``step``. Evaluate
in ``eval()`` mode under ``no_grad``. Average losses over *samples*, weighting each batch's
mean loss by its size: the notes divide a sum of batch means by the number of batches, which
over-weights a smaller last batch.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reference.devices import to_device

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class CheckpointError(RuntimeError):
    """A checkpoint file could not be read: truncated, corrupt, or refused as unsafe."""


@dataclass
class EvalResult:
    """Sample-weighted loss, accuracy and per-class accuracy (class -> accuracy, for the
    classes present in the targets)."""

    loss: float
    accuracy: float
    per_class_accuracy: dict[int, float]
    samples: int


@dataclass
class History:
    """Per-epoch metrics of ``fit``: one dict per epoch with ``epoch``, ``train_loss``,
    ``val_loss``, ``val_accuracy`` and ``lr``."""

    epochs: list[dict[str, float]] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return [e[key] for e in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    device: str | torch.device,
) -> float:
    """One pass over ``loader`` in train mode; returns the sample-weighted mean loss
    $\\sum_b n_b \\bar\\ell_b / \\sum_b n_b$."""
    model.train()
    total, samples = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = to_device((inputs, targets), device)
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(inputs)
        samples += len(inputs)
    if samples == 0:
        raise ValueError("the loader yielded no samples")
    return total / samples


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: Iterable, loss_fn: LossFn, device: str | torch.device
) -> EvalResult:
    """Loss and accuracy over ``loader`` in eval mode, recording no graph.

    ``accuracy = sum(pred.argmax(1) == y) / N``; per class c, the accuracy over the samples
    whose target is c.
    """
    model.eval()
    total, samples, correct = 0.0, 0, 0
    hits: dict[int, int] = {}
    counts: dict[int, int] = {}
    for inputs, targets in loader:
        inputs, targets = to_device((inputs, targets), device)
        outputs = model(inputs)
        total += loss_fn(outputs, targets).item() * len(inputs)
        samples += len(inputs)
        right = outputs.argmax(1) == targets
        correct += int(right.sum())
        for cls, ok in zip(targets.tolist(), right.tolist(), strict=False):
            counts[cls] = counts.get(cls, 0) + 1
            hits[cls] = hits.get(cls, 0) + int(ok)
    if samples == 0:
        raise ValueError("the loader yielded no samples")
    per_class = {c: hits[c] / counts[c] for c in sorted(counts)}
    return EvalResult(total / samples, correct / samples, per_class, samples)


def _rng_state() -> dict[str, Any]:
    # The global legacy state is what np.random.* users draw from; a Generator cannot capture it.
    np_state = np.random.get_state()  # noqa: NPY002
    return {
        "torch": torch.random.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.random.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))  # noqa: NPY002 (see _rng_state)


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    scheduler: Any = None,
    history: History | None = None,
) -> None:
    """Save model, optimizer, scheduler, epoch, history and the torch/Python/NumPy RNG states
    to ``path`` atomically: write a temporary file beside it, then rename it over ``path``,
    so a crash mid-write leaves the previous checkpoint intact."""
    path = Path(path)
    payload = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": list(history.epochs) if history is not None else [],
        "rng": _rng_state(),
    }
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _read_checkpoint(path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # truncated zip, bad pickle, or an unsafe global refused
        raise CheckpointError(f"cannot load checkpoint {os.fspath(path)!r}: {exc}") from exc


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    map_location: Any = None,
) -> int:
    """Restore what ``save_checkpoint`` stored (with ``weights_only=True``, so a pickle that
    would run code is refused) and return the epoch it was saved after.

    Raises:
        CheckpointError: if the file is truncated, corrupt or unsafe.
    """
    state = _read_checkpoint(path, map_location)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(state["rng"])
    return int(state["epoch"])


def _progress(iterable: Iterable, enabled: bool, total: int) -> Iterable:
    if not enabled or not sys.stderr.isatty():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc="epochs", unit="epoch")


def _summary_writer(log_dir: str | os.PathLike | None) -> Any:
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(log_dir=str(log_dir))


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: str | torch.device,
    scheduler: Any = None,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    log_dir: str | os.PathLike | None = None,
) -> History:
    """Train for ``epochs`` epochs, validating after each; return the per-epoch history.

    After each epoch: ``scheduler.step()`` (with the validation loss for
    ``ReduceLROnPlateau``), a checkpoint when ``checkpoint_path`` is set, and TensorBoard
    scalars under ``log_dir`` when given and tensorboard is installed. ``resume=True``
    continues from ``checkpoint_path`` if it exists, bit-identically on the CPU.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be non-negative, got {epochs}")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs a checkpoint_path")
    model.to(device)
    history = History()
    start = 0
    if resume and Path(checkpoint_path).exists():
        state = _read_checkpoint(checkpoint_path)
        history.epochs = list(state["history"])
        start = load_checkpoint(checkpoint_path, model, optimizer, scheduler)
    writer = _summary_writer(log_dir)
    try:
        for epoch in _progress(range(start, epochs), progress, epochs - start):
            train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device)
            result = evaluate(model, val_loader, loss_fn, device)
            lr = optimizer.param_groups[0]["lr"]
            if scheduler is not None:
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(result.loss)
                else:
                    scheduler.step()
            record = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": result.loss,
                "val_accuracy": result.accuracy,
                "lr": lr,
            }
            history.epochs.append(record)
            if writer is not None:
                for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
                    writer.add_scalar(key, record[key], epoch + 1)
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model, optimizer, epoch + 1, scheduler, history)
    finally:
        if writer is not None:
            writer.close()
    return history


def discriminator_step(
    G: nn.Module, D: nn.Module, real: torch.Tensor, opt_D: torch.optim.Optimizer,
    latent_dim: int, loss_fn: LossFn,
) -> float:
    """One update of D: ``loss_fn(D(real), 1) + loss_fn(D(G(z).detach()), 0)``.

    The ``detach`` keeps G out of D's graph, so the backward reaches no parameter of G.
    """
    batch = real.size(0)
    opt_D.zero_grad()
    fake = G(torch.randn(batch, latent_dim, device=real.device))
    d_loss = loss_fn(D(real), torch.ones(batch, 1, device=real.device)) + loss_fn(
        D(fake.detach()), torch.zeros(batch, 1, device=real.device)
    )
    d_loss.backward()
    opt_D.step()
    return d_loss.item()


def generator_step(
    G: nn.Module, D: nn.Module, batch: int, opt_G: torch.optim.Optimizer,
    latent_dim: int, loss_fn: LossFn, device: str | torch.device = "cpu",
) -> float:
    """One update of G with the non-saturating loss ``loss_fn(D(G(z)), 1)``: target ones,
    so G is pushed to make D call its samples real. Only G's optimizer steps."""
    opt_G.zero_grad()
    g_loss = loss_fn(D(G(torch.randn(batch, latent_dim, device=device))),
                     torch.ones(batch, 1, device=device))
    g_loss.backward()
    opt_G.step()
    return g_loss.item()


def gan_step(
    G: nn.Module,
    D: nn.Module,
    real: torch.Tensor,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    latent_dim: int,
    loss_fn: LossFn,
) -> tuple[float, float]:
    """One discriminator update then one generator update, as notes 002 train a GAN;
    returns ``(d_loss, g_loss)``."""
    d_loss = discriminator_step(G, D, real, opt_D, latent_dim, loss_fn)
    g_loss = generator_step(G, D, real.size(0), opt_G, latent_dim, loss_fn, real.device)
    return d_loss, g_loss
