"""Helpers shared by the tests: moving arrays between NumPy and torch, comparing torch
against the reference at tolerances stated once per dtype, non-contiguous variants of a
sample, and error parity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

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
    torch.testing.assert_close(actual_c, expected_t, equal_nan=True, **tol)


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
