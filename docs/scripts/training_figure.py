"""Loss and accuracy curves of the digits run on the training page.

    python docs/scripts/training_figure.py   # writes docs/assets/figures/training_digits.svg

The same run as tests/test_training.py::test_fit_trains_the_notes_mlp_on_digits, for 10 epochs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from reference.models import NeuralNetwork  # noqa: E402
from reference.training import fit  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "assets" / "figures" / "training_digits.svg"


def main() -> None:
    torch.set_num_threads(1)
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
        epochs=10,
        device="cpu",
        progress=False,
    )
    epochs = history["epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax_loss.plot(epochs, history["train_loss"], "o-", label="train (sample mean)")
    ax_loss.plot(epochs, history["val_loss"], "s-", label="held-out (sample mean)")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_loss.legend()
    ax_acc.plot(epochs, history["val_accuracy"], "s-", color="C1")
    ax_acc.axhline(0.9, color="grey", ls="--", lw=1, label="tested threshold 0.90")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="held-out accuracy", ylim=(0.5, 1.0))
    ax_acc.legend(loc="lower right")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, metadata={"Date": None})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
