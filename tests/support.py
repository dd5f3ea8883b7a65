"""Helpers shared by the tests: moving arrays between NumPy and torch, comparing torch
against the reference at tolerances stated once per dtype, non-contiguous variants of a
sample, error parity, and release and feature detection (the one place that asks which
torch is installed)."""

from __future__ import annotations

import functools
import importlib.util
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch.torch_version import TorchVersion

# --- which torch is this: release and feature detection ---------------------------------

TORCH_VERSION = TorchVersion(torch.__version__)  # compares with strings: TORCH_VERSION >= "2.6"
RELEASE = f"torch {TORCH_VERSION.split('+')[0]}"  # the release as reasons name it
CPU_CAPABILITY = torch.backends.cpu.get_cpu_capability()  # the CPU kernels' ISA: "AVX2", ...


@functools.cache
def torchvision_problem() -> str:
    """Why torchvision cannot be used here, or '' when it can: not installed, or (as PyPI's
    build beside a CPU-only torch) failing to load. Tried on first use, not at collection:
    the import costs 2 s (torchvision.ops loads torch._dynamo), which only a worker that
    runs a torchvision test should pay."""
    if importlib.util.find_spec("torchvision") is None:
        return "torchvision is not installed"
    try:
        import torchvision  # noqa: F401
    except Exception as error:  # a broken build raises RuntimeError, not ImportError
        return f"torchvision cannot be imported beside this torch: {type(error).__name__}: {error}"
    return ""


class LazyModule:
    """A module imported on first access to a public attribute (``T =
    LazyModule("torchvision.transforms")``, then ``T.Resize``), for a test module's globals
    that only its tests use. A private name raises AttributeError without importing: pytest's
    collector probes every global for some (``_mock_name``, ``__wrapped__``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(importlib.import_module(self._name), attr)


def torch_at_least(version: str) -> bool:
    """Whether the installed torch is ``version`` or newer (local tags such as +cpu ignored)."""
    return TorchVersion(TORCH_VERSION.split("+")[0]) >= version


@functools.cache
def accepts(function: Callable[..., Any], parameter: str) -> bool:
    """Whether ``function`` (a torch callable or class) takes a parameter named ``parameter``:
    feature detection, preferred to comparing releases wherever a signature says it."""
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def requires_parameter(function: Callable[..., Any], parameter: str) -> pytest.MarkDecorator:
    """Skip a test where the installed torch's ``function`` lacks ``parameter``."""
    name = getattr(function, "__qualname__", repr(function))
    return pytest.mark.skipif(
        not accepts(function, parameter),
        reason=f"{RELEASE}: {name} has no parameter {parameter!r} in this release",
    )


def requires_torch(version: str, why: str) -> pytest.MarkDecorator:
    """Skip a test on releases before ``version``, for a behaviour those releases lack."""
    return pytest.mark.skipif(
        not torch_at_least(version), reason=f"{RELEASE} < {version}: {why}"
    )


def known_torch_bug(
    *, fixed_in: str | None, issue: str, why: str, affected: bool | None = None
) -> pytest.MarkDecorator:
    """A strict xfail on the releases that have a torch bug (all of them when ``fixed_in`` is
    None): the conformance page shows it as a known deviation, and the xfail turns red the
    day the bug is fixed, so the mark flags its own removal. ``issue`` names the upstream
    report, e.g. ``"pytorch/pytorch#53712"``. Where the bug depends on more than the release
    (a NumPy version, a build), ``affected`` is a probe of it and ``fixed_in`` still names the
    first release known to be free of it."""
    if affected is None:
        affected = fixed_in is None or not torch_at_least(fixed_in)
    releases = "every release so far" if fixed_in is None else f"torch < {fixed_in}"
    return pytest.mark.xfail(
        affected, strict=True, reason=f"torch bug ({issue}, {releases}): {why}"
    )


# conftest skips a test so marked, naming torchvision_problem(), at its setup; and schedules
# the marked tests on one xdist worker, so that the other never imports torchvision
requires_torchvision = pytest.mark.torchvision


# One tolerance per dtype, used by every comparison of torch with the reference. float64 is
# where a clause is mathematical; float32 where it is about torch's default dtype.
TOLERANCES: dict[torch.dtype, dict[str, float]] = {
    torch.float64: {"rtol": 1e-7, "atol": 1e-9},
    torch.float32: {"rtol": 1e-4, "atol": 1e-5},
    torch.float16: {"rtol": 1e-2, "atol": 1e-3},
    torch.bfloat16: {"rtol": 1.6e-2, "atol": 1e-2},
    torch.complex128: {"rtol": 1e-7, "atol": 1e-9},
    torch.complex64: {"rtol": 1e-4, "atol": 1e-5},
}


def to_torch(
    array: Any,
    device: str | torch.device = "cpu",
    requires_grad: bool = False,
    noncontiguous: bool = False,
) -> torch.Tensor:
    """A torch copy of a NumPy array (or Python value) on ``device``, dtype preserved;
    laid out non-contiguously (``make_noncontiguous``) when asked."""
    tensor = torch.tensor(np.asarray(array), device=device)
    if noncontiguous:
        tensor = make_noncontiguous(tensor)
    return tensor.requires_grad_(requires_grad) if requires_grad else tensor


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """The values of a torch tensor as a NumPy array on the host."""
    return tensor.detach().cpu().resolve_conj().numpy()


def assert_matches(
    actual: torch.Tensor, expected: Any, *, check_dtype: bool = True, **tolerance: float
) -> None:
    """Assert a torch result equals the reference's, at the tolerance of its dtype.

    Shapes must match exactly (a 0-d result is not a 1-element array); NaNs compare equal.
    """
    expected_t = torch.as_tensor(np.array(expected))
    actual_c = actual.detach().cpu()
    tol = dict(TOLERANCES.get(actual_c.dtype, {"rtol": 0.0, "atol": 0.0}))
    tol.update(tolerance)
    if not check_dtype:
        expected_t = expected_t.to(actual_c.dtype)
    if _plainly_close(actual_c, expected_t, tol):
        return
    torch.testing.assert_close(actual_c, expected_t, equal_nan=True, **tol)


def _plainly_close(actual: torch.Tensor, expected: torch.Tensor, tol: dict[str, float]) -> bool:
    """assert_close's verdict where its attribute checks pass (shape, dtype, strided, not
    quantized, not an 8-bit float) is ``torch.isclose`` on every element: taken directly it
    is 7x cheaper. False sends the case, and every failure, to assert_close for its message."""
    if (actual.layout != torch.strided or actual.is_quantized
            or actual.shape != expected.shape or actual.dtype != expected.dtype
            or (actual.dtype.is_floating_point and actual.dtype.itemsize == 1)):
        return False
    try:
        return bool(torch.isclose(actual, expected, equal_nan=True, **tol).all())
    except RuntimeError:
        return False


def make_noncontiguous(tensor: torch.Tensor) -> torch.Tensor:
    """The same values in a non-contiguous layout (OpInfo's noncontiguous samples).

    Each element is placed every other slot of a larger buffer; tensors with fewer than two
    elements are returned as they are, since they are always contiguous.
    """
    if tensor.numel() < 2:
        return tensor
    buffer = torch.empty(
        (*tensor.shape, 2), dtype=tensor.dtype, device=tensor.device
    )
    view = buffer.select(-1, 0)
    with torch.no_grad():
        view.copy_(tensor)
    assert not view.is_contiguous()
    return view.requires_grad_(tensor.requires_grad) if tensor.is_leaf else view


def assert_both_raise(
    torch_call: Callable[[], Any],
    reference_call: Callable[[], Any],
    *,
    reference_error: type[Exception] | tuple[type[Exception], ...] = ValueError,
    torch_error: type[Exception] | tuple[type[Exception], ...] = (RuntimeError, ValueError),
    match: str | None = None,
) -> tuple[BaseException, BaseException]:
    """Error parity: torch and the reference both reject the input.

    ``match`` is a regex the reference's message must contain (it names the problem).
    """
    with pytest.raises(torch_error) as torch_info:
        torch_call()
    with pytest.raises(reference_error, match=match) as ref_info:
        reference_call()
    return torch_info.value, ref_info.value
