"""Time the whole suite under the ``ci`` profile and report examples per second per worker.

    python benchmarks/suite.py            # pytest -n auto, the README's command
    python benchmarks/suite.py -n 2 tests/test_broadcasting.py

It runs pytest with Hypothesis statistics and per-test durations, then prints: the wall time,
the number of workers, the Hypothesis examples run (passing + failing test cases over every
property), examples/s per worker, the time per test file (concept), and the slowest tests.
The budget for the whole suite is 90 s on 2 cores (BUDGET_S). A JSON copy goes to
benchmarks/results/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 90.0

_STATS_HEADER = re.compile(r"^(?P<test>\S+::\S+):$")
_CASES = re.compile(r"- (?P<passing>\d+) passing, (?P<failing>\d+) failing")
_DURATION = re.compile(r"^(?P<secs>\d+\.\d+)s (?P<when>call|setup|teardown)\s+(?P<test>\S+)")


def run(pytest_args: list[str]) -> dict:
    args = pytest_args or ["-n", "auto"]
    command = [
        sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider",
        "--hypothesis-show-statistics", "--durations=0", "--durations-min=0",
    ]
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci")
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    out = proc.stdout + proc.stderr

    examples: dict[str, int] = {}
    current = None
    per_file: dict[str, float] = defaultdict(float)
    slowest: list[tuple[float, str]] = []
    workers = 1
    for line in out.splitlines():
        stripped = line.strip()
        if m := _STATS_HEADER.match(stripped):
            current = m["test"]
        elif (m := _CASES.search(stripped)) and current:
            examples[current] = examples.get(current, 0) + int(m["passing"]) + int(m["failing"])
        elif m := _DURATION.match(stripped):
            secs = float(m["secs"])
            per_file[m["test"].split("::")[0]] += secs
            if m["when"] == "call":
                slowest.append((secs, m["test"]))
    if "-n" in args:
        value = args[args.index("-n") + 1]
        workers = (os.cpu_count() or 1) if value == "auto" else max(int(value), 1)
    total_examples = sum(examples.values())
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    return {
        "command": " ".join(command[2:]),
        "exit_code": proc.returncode,
        "summary": summary,
        "wall_s": round(wall, 2),
        "budget_s": BUDGET_S,
        "workers": workers,
        "properties": len(examples),
        "examples": total_examples,
        "examples_per_s_per_worker": round(total_examples / wall / workers, 1) if wall else 0,
        "seconds_per_file": dict(sorted(per_file.items(), key=lambda kv: -kv[1])),
        "slowest_tests": [f"{s:.2f}s {t}" for s, t in sorted(slowest, reverse=True)[:10]],
    }


def main() -> int:
    result = run(sys.argv[1:])
    print(f"command:      {result['command']}")
    print(f"result:       {result['summary']} (exit {result['exit_code']})")
    print(f"wall time:    {result['wall_s']:.1f} s (budget {BUDGET_S:.0f} s on 2 cores)")
    print(f"workers:      {result['workers']}")
    print(f"properties:   {result['properties']}, examples run: {result['examples']}")
    print(f"examples/s per worker: {result['examples_per_s_per_worker']}")
    print("seconds per test file (summed over workers):")
    for path, secs in result["seconds_per_file"].items():
        print(f"  {secs:7.2f}  {path}")
    print("slowest tests:")
    for line in result["slowest_tests"]:
        print(f"  {line}")
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "suite.json").write_text(json.dumps(result, indent=1))
    return result["exit_code"]


if __name__ == "__main__":
    raise SystemExit(main())
