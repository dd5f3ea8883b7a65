"""Choosing a device and moving data to it (clauses DEVICE-*). A workflow module: uses torch.

The notes' idiom ``torch.device("cuda" if torch.cuda.is_available() else "cpu")`` extended
to Apple's MPS and to an explicit choice: an argument, then the ``REFSPEC_DEVICE``
environment variable, then cuda, mps, cpu in that order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

DEVICE_ENV = "REFSPEC_DEVICE"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``prefer``, else ``$REFSPEC_DEVICE``, else cuda, mps, cpu.

    An explicit choice is honoured only if that device type is available.

    Raises:
        ValueError: if the preferred device is not available here (naming it).
    """
    choice = prefer if prefer is not None else os.environ.get(DEVICE_ENV) or None
    if choice is not None:
        device = torch.device(choice)
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": _mps_available(),
        }.get(device.type, False)
        if not available:
            raise ValueError(f"device {str(device)!r} was asked for but is not available here")
        if device.type == "cuda" and device.index is not None:
            if device.index >= torch.cuda.device_count():
                raise ValueError(
                    f"device {str(device)!r} was asked for but only "
                    f"{torch.cuda.device_count()} CUDA device(s) exist"
                )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_device(obj: Any, device: str | torch.device, non_blocking: bool = False) -> Any:
    """``obj`` with every tensor moved to ``device``, recursively through tuples (named ones
    too), lists and dicts; anything else is returned as it is. Tensors already there are
    returned unchanged (``Tensor.to`` returns self when nothing changes)."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, Mapping):
        return type(obj)({k: to_device(v, device, non_blocking) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(to_device(v, device, non_blocking) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device, non_blocking) for v in obj)
    return obj
