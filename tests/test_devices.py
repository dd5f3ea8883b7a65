"""DEVICE: choosing devices and moving modules, tensors and checkpoints between them
(reference/devices.py)."""

from __future__ import annotations

import collections
import io
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from reference import devices
from reference.devices import pick_device, to_device
from reference.models import CIFAR10Quick, LeNet, Net, NeuralNetwork
from tests import ddp_job

# --- DEVICE-1: picking a device --------------------------------------------------------------


@pytest.fixture
def fake_availability(monkeypatch):
    """Pretend which accelerators exist, on any machine."""

    def fake(cuda: bool, mps: bool, cuda_count: int = 1) -> None:
        monkeypatch.setattr(devices.torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(devices.torch.cuda, "device_count", lambda: cuda_count if cuda else 0)
        monkeypatch.setattr(devices, "_mps_available", lambda: mps)
        monkeypatch.delenv(devices.DEVICE_ENV, raising=False)

    return fake


@pytest.mark.spec("DEVICE-1")
@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_pick_device_prefers_cuda_then_mps_then_cpu(fake_availability, cuda, mps, expected):
    fake_availability(cuda, mps)
    assert pick_device() == torch.device(expected)


@pytest.mark.spec("DEVICE-1")
def test_an_explicit_preference_or_the_environment_overrides(fake_availability, monkeypatch):
    fake_availability(cuda=True, mps=False, cuda_count=2)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("cuda:1") == torch.device("cuda:1")
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("cuda") == torch.device("cuda")  # the argument beats the environment


@pytest.mark.spec("DEVICE-1")
def test_an_unavailable_preference_raises_naming_it(fake_availability, monkeypatch):
    fake_availability(cuda=False, mps=False)
    with pytest.raises(ValueError, match="'cuda' was asked for"):
        pick_device("cuda")
    monkeypatch.setenv(devices.DEVICE_ENV, "mps")
    with pytest.raises(ValueError, match="'mps' was asked for"):
        pick_device()
    fake_availability(cuda=True, mps=False, cuda_count=1)
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        pick_device("cuda:1")


# --- DEVICE-2: Module.to vs Tensor.to ---------------------------------------------------------


@pytest.mark.spec("DEVICE-2")
def test_module_to_moves_in_place_and_returns_self(device):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight = model[0].weight
    assert model.to(device) is model
    assert model[0].weight is weight  # the same Parameter object, its data moved
    assert all(t.device.type == device for t in [*model.parameters(), *model.buffers()])


@pytest.mark.spec("DEVICE-2")
def test_tensor_to_returns_a_new_tensor_that_must_be_reassigned(device):
    x = torch.ones(3)
    moved = x.to(device, dtype=torch.float64)
    assert moved is not x and x.dtype == torch.float32 and x.device.type == "cpu"
    assert moved.device.type == device
    same = moved.to(device, dtype=torch.float64)
    assert same is moved  # nothing to change: to() returns self


# --- DEVICE-3: "cuda" vs "cuda:0" -------------------------------------------------------------


@pytest.mark.spec("DEVICE-3")
def test_device_strings_and_indices():
    assert torch.device("cuda").index is None
    assert torch.device("cuda:0").index == 0
    assert torch.device("cuda") != torch.device("cuda:0")
    assert torch.device("cuda", 1) == torch.device("cuda:1")
    assert torch.device("cpu").type == "cpu" and str(torch.device("cpu")) == "cpu"
    with pytest.raises(RuntimeError):
        torch.device("gpu")


@pytest.mark.cuda
@pytest.mark.spec("DEVICE-3")
def test_a_tensor_on_cuda_lands_on_the_current_device_index():
    x = torch.zeros(1, device="cuda")
    assert x.device == torch.device("cuda", torch.cuda.current_device())
    assert x.device.index is not None


# --- DEVICE-4: mismatched devices raise ------------------------------------------------------


@pytest.mark.spec("DEVICE-4")
def test_model_and_data_on_different_devices_raise_naming_both():
    # The meta device stands in for a second device on any machine.
    model = nn.Linear(3, 2).to("meta")
    with pytest.raises(RuntimeError, match=r"(?=.*meta)(?=.*cpu)"):
        model(torch.zeros(1, 3))


@pytest.mark.cuda
@pytest.mark.spec("DEVICE-4")
def test_model_on_cuda_with_cpu_data_raises_naming_both():
    model = nn.Linear(3, 2).cuda()
    with pytest.raises(RuntimeError, match=r"(?=.*cuda)(?=.*cpu)"):
        model(torch.zeros(1, 3))


# --- DEVICE-5: to_device ----------------------------------------------------------------------

Pair = collections.namedtuple("Pair", "x y")

leaves = st.one_of(
    st.integers(), st.text(max_size=3), st.none(),
    st.builds(lambda n: torch.arange(float(n)), st.integers(0, 3)),
)
structures = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=2), children, max_size=3),
        st.builds(Pair, children, children),
    ),
    max_leaves=8,
)


def _same_structure(a, b, device) -> None:
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert b.device.type == device and torch.equal(a, b.cpu())
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same_structure(a[k], b[k], device)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same_structure(x, y, device)
    else:
        assert a is b


@pytest.mark.spec("DEVICE-5")
@given(structures)
def test_to_device_moves_every_tensor_and_keeps_the_structure(device, obj):
    _same_structure(obj, to_device(obj, device), device)


# --- DEVICE-6: map_location --------------------------------------------------------------------


@pytest.mark.spec("DEVICE-6")
def test_map_location_remaps_storages_when_loading():
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, map_location="meta", weights_only=True)
    assert loaded["w"].device.type == "meta"


@pytest.mark.cuda
@pytest.mark.spec("DEVICE-6")
def test_a_gpu_saved_checkpoint_loads_on_the_cpu_with_map_location():
    model = NeuralNetwork().cuda()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, map_location=torch.device("cpu"), weights_only=True)
    assert all(t.device.type == "cpu" for t in state.values())
    cpu_model = NeuralNetwork()
    cpu_model.load_state_dict(state)


# --- DEVICE-7: CPU/CUDA parity ---------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.spec("DEVICE-7")
@pytest.mark.parametrize(
    ("make", "shape"),
    [(NeuralNetwork, (4, 1, 28, 28)), (CIFAR10Quick, (4, 3, 32, 32)), (LeNet, (4, 1, 28, 28)),
     (Net, (4, 1, 32, 32))],
)
def test_forward_and_backward_on_cuda_agree_with_the_cpu(make, shape):
    """float32, TF32 off: outputs within rtol 1e-4/atol 1e-5, gradients within 1e-3/1e-4."""
    torch.manual_seed(0)
    model = make()
    x = torch.randn(shape)
    target = torch.randint(0, 10, (shape[0],))
    device = "cuda"
    moved = make().to(device)
    moved.load_state_dict(model.state_dict())
    allow_tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        outputs = []
        for m, inp, tgt in ((model, x, target), (moved, x.to(device), target.to(device))):
            out = m(inp)
            nn.functional.cross_entropy(out, tgt).backward()
            outputs.append(out)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.testing.assert_close(outputs[1].cpu(), outputs[0], rtol=1e-4, atol=1e-5)
    for a, b in zip(model.parameters(), moved.parameters(), strict=True):
        torch.testing.assert_close(b.grad.cpu(), a.grad, rtol=1e-3, atol=1e-4)


# --- DEVICE-8: DistributedDataParallel on 2 CPU processes -------------------------------------


@pytest.mark.slow
@pytest.mark.spec("DEVICE-8")
def test_ddp_gloo_two_processes_equal_one_process_on_the_whole_batch(tmp_path):
    """Two ranks, each on half the batch, end with the gradient of the whole batch (DDP
    averages the ranks' gradients). The ranks run in a fresh interpreter (tests/ddp_job.py),
    with a time limit, so a stuck rendezvous fails instead of hanging the suite."""
    world = 2
    # its own pipes: an xdist worker's stdin and stdout are its channel to the controller
    job = subprocess.run([sys.executable, "-m", "tests.ddp_job", str(world), str(tmp_path)],
                         cwd=Path(__file__).parent.parent, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=180)
    assert job.returncode == 0, job.stdout + job.stderr
    model, x, y = ddp_job.model_and_batch()
    nn.functional.cross_entropy(model(x), y).backward()
    for rank in range(world):
        grads = torch.load(tmp_path / f"grads{rank}.pt", weights_only=True)
        for grad, p in zip(grads, model.parameters(), strict=True):
            torch.testing.assert_close(grad, p.grad, rtol=1e-12, atol=1e-12)


# --- DEVICE-9: loss modules hold no state -----------------------------------------------------


@pytest.mark.spec("DEVICE-9")
def test_loss_modules_hold_no_parameters_to_move(device):
    loss = nn.CrossEntropyLoss()
    assert list(loss.parameters()) == [] and list(loss.buffers()) == []
    assert loss.to(device) is loss  # the notes' loss_fn.cuda() is harmless, and unneeded
    weighted = nn.CrossEntropyLoss(weight=torch.ones(3))
    assert [name for name, _ in weighted.named_buffers()] == ["weight"]
    assert weighted.to(device).weight.device.type == device
