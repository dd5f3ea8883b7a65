"""One training step of the notes' CIFAR10Quick: the reference alone against torch, on the CPU.

    python benchmarks/bench_capstone.py [--repeats 21] [--profile]

A step is forward, cross-entropy, ``zero_grad``, backward and an ``SGD(lr=0.01,
momentum=0.9)`` step on a batch of 16 random (16, 3, 32, 32) images. The reference
(`reference.networks.CIFAR10Quick`, `reference.functional`, `reference.optim.SGD`) computes
in float64, the engine's only float dtype; torch is timed in float64 (the same arithmetic)
and in float32 (what the notes train in). Both run on one thread (``torch.set_num_threads(1)``
and NumPy's BLAS limited to one thread), the suite's setting. The three are interleaved,
each repeat timing one step of each, and the median over the repeats is reported, with the
ratios reference / torch. ``--profile`` runs cProfile over the reference's steps and prints
its three largest costs. The result goes to ``benchmarks/results/capstone.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import platform
import pstats
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from reference import functional as F
from reference import models, networks
from reference import optim as ref_optim

BATCH = 16
RESULTS = Path(__file__).resolve().parent / "results" / "capstone.json"


def _torch_step(dtype: torch.dtype, x: np.ndarray, y: np.ndarray):
    torch.manual_seed(0)
    model = models.CIFAR10Quick().to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xt, yt = torch.from_numpy(x).to(dtype), torch.from_numpy(y)

    def step() -> float:
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _reference_step(x: np.ndarray, y: np.ndarray):
    net = networks.CIFAR10Quick(seed=0)
    optimizer = ref_optim.SGD(list(net.parameters()), lr=0.01, momentum=0.9)

    def step() -> float:
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _top_costs(step, calls: int = 3, top: int = 3) -> list[str]:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        step()
    profile.disable()
    stats = pstats.Stats(profile, stream=io.StringIO()).sort_stats("tottime")
    rows = []
    for (path, line, func), (_, ncalls, tottime, _, _) in list(stats.stats.items()):
        rows.append((tottime, f"{Path(path).name}:{line}({func})", ncalls))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    return [f"{name}: {t / calls * 1e3:.1f} ms per step ({t / total:.0%}), {n // calls} calls"
            for t, name, n in rows[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (BATCH, 3, 32, 32))
    y = rng.integers(0, 10, BATCH)
    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        steps = {
            "reference float64": _reference_step(x, y),
            "torch float64": _torch_step(torch.float64, x, y),
            "torch float32": _torch_step(torch.float32, x, y),
        }
        times: dict[str, list[float]] = {name: [] for name in steps}
        for step in steps.values():
            step()  # warm up
        for _ in range(args.repeats):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
        top = _top_costs(steps["reference float64"]) if args.profile else None

    median = {name: statistics.median(t) for name, t in times.items()}
    ratios = {f"reference / {name}": median["reference float64"] / median[name]
              for name in median if name.startswith("torch")}
    print(f"CIFAR10Quick training step, batch {BATCH}, CPU, 1 thread, median of "
          f"{args.repeats} interleaved repeats (torch {torch.__version__}, numpy {np.__version__})")
    for name, seconds in median.items():
        print(f"  {name:18s} {seconds * 1e3:8.1f} ms")
    for name, ratio in ratios.items():
        print(f"  {name:34s} {ratio:6.1f}x")
    if top:
        print("reference's top costs (cProfile, own time):")
        for row in top:
            print(f"  {row}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "CIFAR10Quick training step (forward, loss, zero_grad, backward, SGD step)",
        "batch": BATCH,
        "threads": 1,
        "repeats": args.repeats,
        "median_ms": {name: round(s * 1e3, 2) for name, s in median.items()},
        "ratio": {name: round(r, 2) for name, r in ratios.items()},
        "reference_top_costs": top,
        "environment": {"torch": torch.__version__, "numpy": np.__version__,
                        "python": platform.python_version(), "machine": platform.machine(),
                        "measured": time.strftime("%Y-%m-%d", time.gmtime())},
    }, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
