"""Reference conv2d and max_pool2d against torch on the CPU.

Input (8, 16, 32, 32) float32, a 3x3 kernel with 16 output channels, and 2x2 max pooling
on the same input. Prints the time of each and the ratio reference / torch; the target is
a ratio within 10x. Run: ``python benchmarks/bench_convolution.py``.
"""

from __future__ import annotations

import timeit

import numpy as np
import torch
import torch.nn.functional as F

from reference import convolution as ref


def best_time(fn, repeat: int = 7, number: int = 20) -> float:
    """Best mean seconds per call over ``repeat`` runs of ``number`` calls."""
    fn()  # warm up
    return min(timeit.repeat(fn, repeat=repeat, number=number)) / number


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)

    cases = {
        "conv2d 3x3, 16->16": (
            lambda: ref.conv2d(x, w, b, padding=1),
            lambda: F.conv2d(xt, wt, bt, padding=1),
        ),
        "max_pool2d 2x2": (
            lambda: ref.max_pool2d(x, 2),
            lambda: F.max_pool2d(xt, 2),
        ),
    }
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, input {x.shape} float32")
    with torch.no_grad():
        for name, (reference_fn, torch_fn) in cases.items():
            np.testing.assert_allclose(reference_fn(), torch_fn().numpy(), rtol=1e-4, atol=1e-4)
            t_ref, t_torch = best_time(reference_fn), best_time(torch_fn)
            ratio = t_ref / t_torch
            verdict = "ok" if ratio <= 10 else "SLOWER than 10x"
            print(
                f"{name:20s} reference {t_ref * 1e3:8.3f} ms  torch {t_torch * 1e3:8.3f} ms  "
                f"ratio {ratio:6.2f}x  ({verdict})"
            )


if __name__ == "__main__":
    main()
