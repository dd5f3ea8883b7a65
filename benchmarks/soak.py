"""Soak the suite: run it K times under random seeds, then once under ``thorough``.

    python benchmarks/soak.py              # 20 runs of `pytest -n auto`, then a thorough one
    python benchmarks/soak.py -k 5 --no-thorough -- tests/test_losses.py

A conforming torch must pass every run: a failure here is a defect of the suite (a fragile
property, an unpinned edge case), not of torch, until shown otherwise. Each run is what a
user gets from the README's command without ``CI`` set (the ``dev`` profile), with its own
random ``--hypothesis-seed`` and a fresh, empty example database (no failure found by one run
is replayed by the next). Every failing test is printed with the seed that reproduces it
(``pytest --hypothesis-seed=SEED NODEID`` on an empty database) and Hypothesis's
``@reproduce_failure`` line. The last line is ``soak: F failing runs of K``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_REPRODUCE = re.compile(r"@reproduce_failure\([^)]*\)")


@dataclass
class Run:
    label: str
    seed: int
    exit_code: int
    seconds: float
    summary: str
    failures: list[tuple[str, str]] = field(default_factory=list)  # (test id, reproduce line)

    @property
    def failed(self) -> bool:
        return self.exit_code != 0


def _failures(junit: Path) -> list[tuple[str, str]]:
    if not junit.exists():
        return []
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            text = (problem.get("message") or "") + "\n" + (problem.text or "")
            reproduce = _REPRODUCE.search(text)
            name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
            found.append((name, reproduce.group(0) if reproduce else "(no @reproduce_failure)"))
    return found


def soak_run(label: str, profile: str, seed: int, pytest_args: list[str], workers: str) -> Run:
    """One run of the suite under ``profile`` and ``seed`` with an empty example database."""
    with tempfile.TemporaryDirectory(prefix="refspec-soak-") as tmp:
        junit = Path(tmp) / "junit.xml"
        env = dict(
            os.environ,
            HYPOTHESIS_PROFILE=profile,
            HYPOTHESIS_STORAGE_DIRECTORY=str(Path(tmp) / "hypothesis"),
        )
        env.pop("CI", None)
        command = [
            sys.executable, "-m", "pytest", "-n", workers, "-q", "-p", "no:cacheprovider",
            f"--hypothesis-seed={seed}", f"--junitxml={junit}", *pytest_args,
        ]
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        return Run(label, seed, proc.returncode, seconds, lines[-1] if lines else "",
                   _failures(junit))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", "--runs", type=int, default=20, help="random-seed runs (20)")
    parser.add_argument("--no-thorough", action="store_true", help="skip the thorough run")
    parser.add_argument("-n", "--workers", default="auto", help="pytest-xdist workers (auto)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    rng = random.SystemRandom()
    plan = [(f"run {i + 1}/{args.runs}", "dev") for i in range(args.runs)]
    if not args.no_thorough:
        plan.append(("thorough", "thorough"))
    start = time.perf_counter()
    runs = []
    for label, profile in plan:
        run = soak_run(label, profile, rng.randrange(2**32), args.pytest_args, args.workers)
        runs.append(run)
        verdict = "FAILED" if run.failed else "ok"
        print(f"{label:>11}  seed={run.seed:<10}  {run.seconds:6.1f} s  {verdict}: {run.summary}",
              flush=True)
        for test, reproduce in run.failures:
            print(f"{'':13}{test}\n{'':15}pytest --hypothesis-seed={run.seed} '{test}'"
                  f"\n{'':15}{reproduce}", flush=True)
    random_runs = [r for r in runs if r.label != "thorough"]
    thorough = [r for r in runs if r.label == "thorough"]
    failing = sum(r.failed for r in random_runs)
    print(f"wall time: {time.perf_counter() - start:.0f} s")
    if thorough:
        print(f"thorough: {'FAILED' if thorough[0].failed else 'passed'} ({thorough[0].summary})")
    print(f"soak: {failing} failing runs of {len(random_runs)}")
    return 1 if failing or any(r.failed for r in thorough) else 0


if __name__ == "__main__":
    raise SystemExit(main())
