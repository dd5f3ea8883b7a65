"""TRAIN: the notes' training recipe, models, checkpoints and GAN step
(reference/training.py, reference/models.py)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reference import training
from reference.models import (
    CIFAR10Quick,
    Discriminator,
    Generator,
    LeNet,
    Net,
    NeuralNetwork,
    count_parameters,
)
from reference.training import (
    CheckpointError,
    discriminator_step,
    evaluate,
    fit,
    gan_step,
    generator_step,
    load_checkpoint,
    save_checkpoint,
    train_one_epoch,
)


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _blobs(n: int = 40, features: int = 4, classes: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, features, generator=g) + 2.0 * nn.functional.one_hot(y, features).float()
    return x, y


def _small_mlp(features: int = 4, classes: int = 3) -> nn.Module:
    return nn.Sequential(nn.Linear(features, 8), nn.ReLU(), nn.Linear(8, classes))


# --- TRAIN-1, TRAIN-2: the per-batch recipe and evaluation --------------------------------


@pytest.mark.spec("TRAIN-1")
def test_one_training_step_changes_every_parameter(device):
    x, y = _blobs()
    model = _small_mlp().to(device)
    before = _params(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(x, y), batch_size=len(x))
    train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, device)
    assert model.training
    for old, new in zip(before, model.parameters(), strict=True):
        assert not torch.equal(old, new.detach())


@pytest.mark.spec("TRAIN-2")
def test_evaluation_changes_nothing_and_records_no_graph(device):
    x, y = _blobs()
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3))
    model.to(device)
    state = copy.deepcopy(model.state_dict())
    outputs = []
    hook = model.register_forward_hook(lambda m, i, o: outputs.append(o))
    evaluate(model, DataLoader(TensorDataset(x, y), batch_size=16), nn.CrossEntropyLoss(), device)
    hook.remove()
    assert not model.training
    for key, value in model.state_dict().items():  # parameters and running stats alike
        assert torch.equal(value, state[key]), key
    assert outputs and all(o.grad_fn is None and not o.requires_grad for o in outputs)


# --- TRAIN-3: sample-weighted averages and accuracy ----------------------------------------


class _Constant(nn.Module):
    """Predicts fixed logits per sample, so the loss of each sample is known in advance."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.logits[index]


@pytest.mark.spec("TRAIN-3")
@given(
    st.integers(2, 12), st.integers(1, 5), st.integers(2, 4), st.integers(0, 2**16)
)
def test_evaluate_weights_batches_by_size(n, batch_size, classes, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=g, dtype=torch.float64)
    targets = torch.randint(0, classes, (n,), generator=g)
    loader = DataLoader(TensorDataset(torch.arange(n), targets), batch_size=batch_size)
    result = evaluate(_Constant(logits), loader, nn.CrossEntropyLoss(), "cpu")
    # Expected values from the definition, per sample, independent of batching.
    log_probs = logits - logits.logsumexp(1, keepdim=True)
    per_sample = -log_probs[torch.arange(n), targets]
    assert math.isclose(result.loss, per_sample.mean().item(), rel_tol=1e-12)
    hits = (logits.argmax(1) == targets).double()
    assert math.isclose(result.accuracy, hits.mean().item())
    for cls, acc in result.per_class_accuracy.items():
        assert math.isclose(acc, hits[targets == cls].mean().item())
    assert set(result.per_class_accuracy) == set(targets.tolist())


@pytest.mark.spec("TRAIN-3")
def test_the_notes_per_batch_average_is_biased_by_a_small_last_batch():
    logits = torch.tensor([[0.0, 0.0]] * 4 + [[4.0, -4.0]], dtype=torch.float64)
    targets = torch.tensor([0, 0, 0, 0, 1])
    loader = DataLoader(TensorDataset(torch.arange(5), targets), batch_size=4)
    loss_fn = nn.CrossEntropyLoss()
    model = _Constant(logits)
    notes_average = sum(loss_fn(model(i), t).item() for i, t in loader) / len(loader)
    per_sample = evaluate(model, loader, loss_fn, "cpu").loss
    expected = (4 * math.log(2) + (8 + math.log1p(math.exp(-8)))) / 5
    assert math.isclose(per_sample, expected, rel_tol=1e-12)
    assert abs(notes_average - per_sample) > 1.0


# --- TRAIN-4: gradient accumulation --------------------------------------------------------


@pytest.mark.spec("TRAIN-4")
@given(st.sampled_from([1, 2, 4]), st.integers(0, 2**16))
def test_gradient_accumulation_equals_one_big_batch(k, seed):
    torch.manual_seed(seed)
    x, y = _blobs(n=8, seed=seed)
    x = x.double()
    model = _small_mlp().double()
    twin = copy.deepcopy(model)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_twin = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)

    opt.zero_grad()
    for xs, ys in zip(x.chunk(k), y.chunk(k), strict=True):
        (loss_fn(model(xs), ys) / k).backward()
    opt.step()

    opt_twin.zero_grad()
    loss_fn(twin(x), y).backward()
    opt_twin.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# --- TRAIN-5, TRAIN-6, TRAIN-7: checkpoints -----------------------------------------------


def _run(epochs: int, checkpoint: Path | None, resume: bool = False):
    torch.manual_seed(1)
    x, y = _blobs(n=30)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    train = DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True)
    val = DataLoader(TensorDataset(x, y), batch_size=30)
    history = fit(model, train, val, nn.CrossEntropyLoss(), optimizer, epochs, "cpu",
                  scheduler=scheduler, checkpoint_path=checkpoint, resume=resume, progress=False)
    return model, optimizer, history


@pytest.mark.spec("TRAIN-5")
@pytest.mark.parametrize("stop_after", [1, 2])
def test_resuming_from_a_checkpoint_is_bit_identical(tmp_path, stop_after):
    uninterrupted, _, full_history = _run(3, None)
    path = tmp_path / "ckpt.pt"
    _run(stop_after, path)  # interrupted after `stop_after` epochs
    torch.manual_seed(12345)  # whatever happened in between does not matter
    resumed, optimizer, history = _run(3, path, resume=True)
    for a, b in zip(uninterrupted.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    assert history.epochs == full_history.epochs
    assert optimizer.param_groups[0]["lr"] == 0.01 * 0.5**3
    assert load_checkpoint(path, copy.deepcopy(resumed)) == 3


@pytest.mark.spec("TRAIN-6")
def test_a_corrupt_or_truncated_checkpoint_raises_clearly(tmp_path):
    model = _small_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, optimizer, epoch=1)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    for bad in (truncated, garbage):
        with pytest.raises(CheckpointError, match=bad.name):
            load_checkpoint(bad, model)


@pytest.mark.spec("TRAIN-6")
def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    model = _small_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, optimizer, epoch=1)
    before = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(training.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, optimizer, epoch=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp file left
    monkeypatch.undo()
    assert load_checkpoint(path, model) == 1


class _Exploit:
    """A pickle payload that would create a file when unpickled."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.spec("TRAIN-7")
def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"epoch": 1, "model": _Exploit(str(marker))}, path)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path, _small_mlp())
    assert not marker.exists()
    # The same file run through plain pickle would have executed the payload:
    with open(path, "rb") as f:
        torch.load(f, weights_only=False)
    assert marker.exists()


# --- TRAIN-8: the notes' models -------------------------------------------------------------

def _linear(i: int, o: int) -> int:
    return i * o + o


def _conv(i: int, o: int, k: int) -> int:
    return i * o * k * k + o


MODELS = [
    # model, input shape, output shape, parameter count from the per-layer formulas
    (NeuralNetwork, (2, 1, 28, 28), (2, 10),
     _linear(784, 512) + _linear(512, 512) + _linear(512, 10)),
    (CIFAR10Quick, (2, 3, 32, 32), (2, 10),
     _conv(3, 32, 5) + _conv(32, 32, 5) + _conv(32, 64, 5) + _linear(1024, 64) + _linear(64, 10)),
    (LeNet, (2, 1, 28, 28), (2, 10),
     _conv(1, 20, 5) + 2 * 20 + _conv(20, 50, 5) + 2 * 50 + _linear(800, 500) + _linear(500, 10)),
    (Net, (2, 1, 32, 32), (2, 10),
     _conv(1, 6, 3) + _conv(6, 16, 3) + _linear(16 * 6 * 6, 120) + _linear(120, 84)
     + _linear(84, 10)),
    (lambda: Net(in_channels=3, kernel_size=5), (2, 3, 32, 32), (2, 10),
     _conv(3, 6, 5) + _conv(6, 16, 5) + _linear(16 * 5 * 5, 120) + _linear(120, 84)
     + _linear(84, 10)),
    (Generator, (2, 100), (2, 1, 28, 28),
     _linear(100, 128) + _linear(128, 256) + 2 * 256 + _linear(256, 512) + 2 * 512
     + _linear(512, 1024) + 2 * 1024 + _linear(1024, 784)),
    (Discriminator, (2, 1, 28, 28), (2, 1),
     _linear(784, 512) + _linear(512, 256) + _linear(256, 1)),
]


@pytest.mark.spec("TRAIN-8")
@pytest.mark.parametrize(("make", "in_shape", "out_shape", "params"), MODELS)
def test_notes_models_shapes_and_parameter_counts(make, in_shape, out_shape, params):
    model = make()
    assert tuple(model(torch.zeros(in_shape)).shape) == out_shape
    assert count_parameters(model) == params


@pytest.mark.spec("TRAIN-8")
def test_known_totals_of_the_notes_models():
    # Hand totals, as a learner would add them up from the layer list.
    assert count_parameters(NeuralNetwork()) == 669_706
    assert count_parameters(CIFAR10Quick()) == 145_578
    assert count_parameters(Net(in_channels=3, kernel_size=5)) == 62_006


@pytest.mark.spec("TRAIN-8")
def test_generator_batchnorm_eps_is_the_notes_0_8():
    bns = [m for m in Generator().modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 3 and all(bn.eps == 0.8 and bn.momentum == 0.1 for bn in bns)


# --- TRAIN-9: end to end on a real dataset ------------------------------------------------

DIGITS_EPOCHS = 5
DIGITS_ACCURACY = 0.90


@pytest.mark.spec("TRAIN-9", "TRAIN-1")
def test_fit_trains_the_notes_mlp_on_digits(tmp_path):
    """scikit-learn's digits (1,797 8x8 images, shipped with the package, nothing downloaded)
    with the notes' NeuralNetwork adapted to 64 inputs: >= 90% held-out accuracy within 5
    epochs of SGD(lr=0.1, momentum=0.9), batch 64, on a 1437/360 split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, held_out = order[:1437], order[1437:]
    torch.manual_seed(0)
    model = NeuralNetwork(in_features=64)
    history = fit(
        model,
        DataLoader(TensorDataset(x[train], y[train]), batch_size=64, shuffle=True),
        DataLoader(TensorDataset(x[held_out], y[held_out]), batch_size=256),
        nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        epochs=DIGITS_EPOCHS,
        device="cpu",
        progress=False,
        log_dir=tmp_path / "runs",
    )
    assert len(history) == DIGITS_EPOCHS
    assert history["val_accuracy"][-1] >= DIGITS_ACCURACY, history["val_accuracy"]
    assert history["train_loss"][-1] < history["train_loss"][0]


# --- TRAIN-10: GAN step ------------------------------------------------------------------


def _gan(latent_dim: int = 4, img_shape=(1, 4, 4)):
    G = Generator(latent_dim, img_shape, widths=(8, 16))
    D = Discriminator(img_shape, widths=(8,))
    return G, D, torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999)), torch.optim.Adam(
        D.parameters(), lr=2e-4, betas=(0.5, 0.999)
    )


@pytest.mark.spec("TRAIN-10")
def test_discriminator_update_leaves_the_generator_untouched(device):
    G, D, opt_G, opt_D = _gan()
    G.to(device), D.to(device)
    real = torch.rand(6, 1, 4, 4, device=device) * 2 - 1
    g_before, d_before = _params(G), _params(D)
    d_loss = discriminator_step(G, D, real, opt_D, 4, nn.BCELoss())
    assert all(p.grad is None for p in G.parameters())  # detach: no gradient reached G
    assert all(torch.equal(a, b) for a, b in zip(g_before, G.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, D.parameters(), strict=True))
    assert math.isfinite(d_loss)


@pytest.mark.spec("TRAIN-10")
def test_generator_update_uses_target_ones_and_only_moves_g(device):
    G, D, opt_G, _ = _gan()
    G.to(device), D.to(device)
    seen = []

    def spy(output, target):
        seen.append(target)
        return nn.functional.binary_cross_entropy(output, target)

    d_before = _params(D)
    g_loss = generator_step(G, D, 6, opt_G, 4, spy, device)
    assert len(seen) == 1 and torch.equal(seen[0], torch.ones(6, 1, device=device))
    assert all(torch.equal(a, b) for a, b in zip(d_before, D.parameters(), strict=True))
    assert math.isfinite(g_loss)


@pytest.mark.spec("TRAIN-10")
def test_gan_step_losses_are_finite():
    G, D, opt_G, opt_D = _gan()
    real = torch.rand(8, 1, 4, 4) * 2 - 1
    for _ in range(3):
        d_loss, g_loss = gan_step(G, D, real, opt_G, opt_D, 4, nn.BCELoss())
        assert math.isfinite(d_loss) and math.isfinite(g_loss)


# --- TRAIN-11: logging and progress ------------------------------------------------------


@pytest.mark.spec("TRAIN-11")
def test_fit_logs_scalars_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = _blobs()
    model = _small_mlp()
    fit(model, DataLoader(TensorDataset(x, y), batch_size=8),
        DataLoader(TensorDataset(x, y), batch_size=40), nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.1), 2, "cpu", progress=False,
        log_dir=tmp_path)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert {"train_loss", "val_loss", "val_accuracy", "lr"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("val_loss")] == [1, 2]


@pytest.mark.spec("TRAIN-11")
def test_progress_is_quiet_when_not_a_tty(capsys):
    x, y = _blobs()
    model = _small_mlp()
    fit(model, DataLoader(TensorDataset(x, y), batch_size=8),
        DataLoader(TensorDataset(x, y), batch_size=40), nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.1), 2, "cpu", progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.spec("TRAIN-1")
def test_fit_rejects_bad_arguments():
    model = _small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, [], [], nn.CrossEntropyLoss(), opt, -1, "cpu")
    with pytest.raises(ValueError, match="checkpoint_path"):
        fit(model, [], [], nn.CrossEntropyLoss(), opt, 1, "cpu", resume=True)
    with pytest.raises(ValueError, match="no samples"):
        train_one_epoch(model, [], nn.CrossEntropyLoss(), opt, "cpu")


# --- TRAIN-12: prediction demo -------------------------------------------------------------

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


@pytest.mark.spec("TRAIN-12")
def test_prediction_demo_loads_a_state_dict_and_names_the_class(tmp_path):
    torch.manual_seed(0)
    trained = NeuralNetwork()
    torch.save(trained.state_dict(), tmp_path / "model.pth")
    fresh = NeuralNetwork()
    fresh.load_state_dict(torch.load(tmp_path / "model.pth", weights_only=True))
    fresh.eval()
    image = torch.rand(1, 1, 28, 28)
    with torch.no_grad():
        logits = fresh(image)
        expected = trained.eval()(image)
    assert torch.equal(logits, expected)
    predicted = FASHION_MNIST_CLASSES[logits.argmax(1).item()]
    assert predicted == FASHION_MNIST_CLASSES[int(np.argmax(expected.numpy()))]
    saved = torch.load(tmp_path / "model.pth", weights_only=True)
    assert saved.keys() == trained.state_dict().keys()

