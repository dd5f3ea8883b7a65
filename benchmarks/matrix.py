"""Run the suite under several torch releases and merge their conformance records into the
compatibility matrix that `docs/compatibility.md` renders.

    python benchmarks/matrix.py --venv /path/to/venv-torch-2.4 --venv /path/to/venv-torch-2.14
    python benchmarks/matrix.py --venv .venv -- tests/test_optim.py   # extra pytest arguments

Each venv needs the project installed in it (``pip install -e ".[test,docs,browser]"``, plus
``torchvision`` where it can import). Each run is the README's ``pytest -n auto`` under the
``ci`` profile, with its conformance record redirected to a temporary directory; the merged
matrix goes to ``docs/data/compatibility.json`` (committed: the page renders it, with the
date each release was measured). A release already in the file is replaced, others are kept,
so releases can be measured one at a time. Exit status: 1 if any run failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATRIX_FILE = ROOT / "docs" / "data" / "compatibility.json"


def run_release(venv: Path, pytest_args: list[str]) -> dict:
    """One release's run: its environment, summary line, exit code and, per clause, the
    status on each device with the reasons for skips and known deviations."""
    python = venv / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="refspec-matrix-") as out:
        env = dict(os.environ, HYPOTHESIS_PROFILE="ci", REFSPEC_CONFORMANCE_DIR=out)
        command = [str(python), "-m", "pytest", "-n", "auto", "-q", "-p", "no:cacheprovider",
                   *pytest_args]
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        record = json.loads((Path(out) / "conformance.json").read_text(encoding="utf-8"))
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    environment = record["environment"]
    failing = sorted(t["id"] for t in record["tests"] if t["outcome"] == "failed")
    return {
        "torch": environment["torch"],
        "torchvision": environment.get("torchvision", "?"),
        "numpy": environment.get("numpy", "?"),
        "python": environment["python"],
        "measured": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"),
        "summary": lines[-1] if lines else "",
        "exit_code": proc.returncode,
        "seconds": round(seconds, 1),
        "failing_tests": failing,
        "clauses": {
            cid: {
                device: {"status": status["status"], "reasons": status["reasons"]}
                for device, status in entry["devices"].items()
                if status["status"] != "n/a"
            }
            for cid, entry in record["clauses"].items()
        },
    }


def merge(releases: list[dict], matrix_file: Path = MATRIX_FILE) -> dict:
    """Add (or replace, by torch version) the measured releases in the matrix file."""
    matrix = (
        json.loads(matrix_file.read_text(encoding="utf-8"))
        if matrix_file.exists()
        else {"releases": []}
    )
    measured = {r["torch"] for r in releases}
    kept = [r for r in matrix["releases"] if r["torch"] not in measured]
    matrix["releases"] = sorted(kept + releases, key=lambda r: _version_key(r["torch"]))
    matrix_file.parent.mkdir(parents=True, exist_ok=True)
    matrix_file.write_text(json.dumps(matrix, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return matrix


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("+")[0].split(".") if p.isdigit())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", action="append", type=Path, required=True,
                        help="a virtual environment with torch and the project (repeatable)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    releases = []
    for venv in args.venv:
        result = run_release(venv, args.pytest_args)
        releases.append(result)
        print(f"torch {result['torch']:<16} {result['seconds']:7.1f} s  exit "
              f"{result['exit_code']}: {result['summary']}", flush=True)
        for test in result["failing_tests"]:
            print(f"    FAILED {test}")
    merge(releases)
    print(f"wrote {MATRIX_FILE.relative_to(ROOT)}")
    return 1 if any(r["exit_code"] for r in releases) else 0


if __name__ == "__main__":
    sys.exit(main())
