"""Meta tests: the spec's own invariants. Clauses are traceable both ways, the reference's
math modules stay independent of torch, the shared strategies generate what they promise,
and the conformance page is written from a run's results."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given

from reference.broadcasting import broadcast_shapes
from tests.clauses import (
    ROOT,
    TestRecord,
    clause_summary,
    clauses_named_by_tests,
    compatibility_markdown,
    defined_clauses,
    summarize,
    write_conformance_page,
)
from tests.strategies import broadcastable_shapes, finite_arrays, non_broadcastable_shapes, shapes

pytestmark = pytest.mark.spec()  # meta tests check the spec itself, no clause

# Math modules: the independent oracle (DESIGN principle 1). Workflow modules may use torch.
MATH_MODULES = (
    "strides", "broadcasting", "dtypes", "tensor_ops", "random", "autograd", "functional",
    "convolution", "activations", "normalization", "attention", "losses", "optim",
    "schedulers", "transforms", "modules", "serialization",
    "networks",
)


def test_every_clause_has_a_test_and_every_named_clause_a_page():
    # one test for both directions: reading every test module's syntax tree is the cost
    defined, named = defined_clauses(), clauses_named_by_tests()
    untested = sorted(set(defined) - set(named))
    assert not untested, f"clauses stated on a docs page but checked by no test: {untested}"
    unknown = {c: files for c, files in named.items() if c not in defined}
    assert not unknown, f"tests name clauses that no docs page defines: {unknown}"


def test_clause_ids_are_numbered_from_one_without_gaps():
    by_prefix: dict[str, list[int]] = {}
    for clause in defined_clauses().values():
        by_prefix.setdefault(clause.prefix, []).append(int(clause.id.rsplit("-", 1)[1]))
    for prefix, numbers in by_prefix.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), prefix


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_reference_math_modules_never_import_torch():
    offenders = []
    for name in MATH_MODULES:
        for path in [ROOT / "reference" / f"{name}.py", *(ROOT / "reference" / name).glob("*.py")]:
            if path.exists() and "torch" in _imported_modules(path):
                offenders.append(path.relative_to(ROOT).as_posix())
    assert not offenders, f"math modules import torch (DESIGN principle 1): {offenders}"


def test_reference_math_modules_import_without_torch_loaded():
    """Importing every math module in a fresh interpreter does not pull in torch indirectly."""
    present = [n for n in MATH_MODULES if (ROOT / "reference" / f"{n}.py").exists()]
    code = (
        "import sys\n"
        + "".join(f"import reference.{n}\n" for n in present)
        + "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --- the shared strategies generate what they promise ------------------------------------


@given(shapes())
def test_shapes_strategy_is_within_bounds(shape):
    assert len(shape) <= 4 and all(0 <= s <= 5 for s in shape)


@given(broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_really_broadcast(case):
    import numpy as np

    input_shapes, result = case
    assert np.broadcast_shapes(*input_shapes) == result


@given(non_broadcastable_shapes())
def test_non_broadcastable_shapes_really_fail(pair):
    import numpy as np

    with pytest.raises(ValueError):
        np.broadcast_shapes(*pair)
    with pytest.raises(ValueError):
        broadcast_shapes(*pair)


@given(finite_arrays(shapes(max_dims=2), "float32", min_value=-1, max_value=1))
def test_finite_arrays_are_finite_and_bounded(array):
    import numpy as np

    assert array.dtype == np.float32 and np.isfinite(array).all()
    assert ((array >= -1) & (array <= 1)).all()


# --- the conformance page ------------------------------------------------------------------


def _record(id, clauses, device, outcome, reason=""):
    return TestRecord(id, tuple(clauses), device, outcome, reason)


def test_conformance_status_aggregates_per_device():
    records = [
        _record("t::a[cpu]", ["BCAST-1"], "cpu", "passed"),
        _record("t::a[cuda]", ["BCAST-1"], "cuda", "skipped", "no CUDA GPU"),
        _record("t::b", ["BCAST-1"], "any", "passed"),
        _record("t::c[cpu]", ["BCAST-2"], "cpu", "passed"),
        _record("t::d[cpu]", ["BCAST-2"], "cpu", "failed"),
        _record("t::e", ["BCAST-4"], "any", "xfailed", "torch bug (pytorch/pytorch#1)"),
    ]
    status = {c: {d: s["status"] for d, s in summarize(records, c).items()} for c in
              ("BCAST-1", "BCAST-2", "BCAST-3", "BCAST-4")}
    assert status["BCAST-1"] == {"cpu": "pass 2", "cuda": "skip 1"}
    assert status["BCAST-2"] == {"cpu": "FAIL 1/2", "cuda": "n/a"}
    assert status["BCAST-3"] == {"cpu": "not run", "cuda": "n/a"}
    assert status["BCAST-4"] == {"cpu": "known deviation 1", "cuda": "n/a"}
    assert summarize(records, "BCAST-4")["cpu"]["reasons"] == ["torch bug (pytorch/pytorch#1)"]


def test_a_test_record_keeps_its_worst_outcome():
    record = _record("t::a", [], "any", "passed")
    record.worse("skipped", "later skip is not worse")
    assert record.outcome == "passed"
    record.worse("failed", "teardown")
    assert (record.outcome, record.reason) == ("failed", "teardown")


def test_conformance_page_has_a_row_per_clause(tmp_path):
    page = tmp_path / "conformance.md"
    records = [
        _record("tests/test_broadcasting.py::t[cpu]", ["BCAST-1"], "cpu", "passed"),
        _record("tests/test_losses.py::x", ["BCAST-2"], "any", "xfailed", "torch bug (#9)"),
        _record("tests/test_devices.py::g", ["BCAST-3"], "cuda", "skipped", "no GPU"),
    ]
    write_conformance_page(page, records, {"torch": "x"})
    rows = [line for line in page.read_text().splitlines() if line.startswith("| <span")]
    assert len(rows) == len(defined_clauses())
    row = {r.split('"')[1]: r.split(") | ", 1)[1] for r in rows}  # anchor -> cells after link
    summary = clause_summary(defined_clauses()["BCAST-1"].text)
    assert row["conf-BCAST-1"] == f"{summary} | pass 1 | n/a |"
    assert row["conf-BCAST-2"].endswith(
        "| **known deviation** (torch bug) 1: torch bug (#9) | n/a |"
    )
    assert row["conf-BCAST-3"].endswith("| n/a | skip 1: no GPU |")  # a GPU-only clause
    assert row["conf-BCAST-4"].endswith("| not run | n/a |")
    assert "### [Broadcasting](broadcasting.md)" in page.read_text()
    data = json.loads(page.with_suffix(".json").read_text())
    assert data["clauses"]["BCAST-1"]["tests"] == ["tests/test_broadcasting.py::t[cpu]"]
    assert data["environment"] == {"torch": "x"}
    assert {t["id"]: t["outcome"] for t in data["tests"]} == {
        "tests/test_broadcasting.py::t[cpu]": "passed", "tests/test_losses.py::x": "xfailed",
        "tests/test_devices.py::g": "skipped",
    }


def test_clause_summaries_are_one_line_and_balanced():
    for clause in defined_clauses().values():
        summary = clause_summary(clause.text)
        assert "\n" not in summary and len(summary) <= 90 and summary.count("`") % 2 == 0


CONCEPT_PAGE_SECTIONS = ["Clauses", "Worked example from the notes", "Pitfalls", "API", "Tests"]


def test_every_concept_page_has_the_same_shape():
    """Each page that states clauses has, in order: the clauses, the notes' worked example,
    the pitfalls, the link to its reference API page (the docstrings with their source) and
    its tests, each test file linked to its source page."""
    pages = sorted({clause.page for clause in defined_clauses().values()})
    modules = {p.stem for p in (ROOT / "reference").glob("*.py")}
    for page in pages:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        headings = [ln[3:].strip() for ln in text.splitlines() if ln.startswith("## ")]
        present = [h for h in headings if h in CONCEPT_PAGE_SECTIONS]
        assert present == CONCEPT_PAGE_SECTIONS, f"{page}: sections {headings}"
        api = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
        linked = re.findall(r"\]\(api/(\w+)\.md\)", api)
        assert linked and set(linked) <= modules, f"{page}: API section links {linked}"
        assert "\n::: reference." not in text, f"{page}: renders the API itself (link it)"
        tests = text.split("\n## Tests\n", 1)[1]
        assert re.search(r"\]\(api/tests/test_\w+\.md\)", tests), f"{page}: no test file linked"


def test_compatibility_page_shows_each_release_and_anchors_every_clause(tmp_path):
    matrix = tmp_path / "compatibility.json"
    releases = [
        {"torch": "2.4.1+cu121", "torchvision": "0.19.1", "numpy": "2.2.6", "python": "3.11",
         "measured": "d",
         "summary": "1 passed", "exit_code": 0,
         "clauses": {"BCAST-1": {"cpu": {"status": "pass 3", "reasons": []}},
                     "BCAST-2": {"cpu": {"status": "known deviation 1",
                                         "reasons": ["torch bug (pytorch/pytorch#1)"]}}}},
        {"torch": "2.14.1", "torchvision": "not installed", "python": "3.11", "measured": "d",
         "summary": "2 passed", "exit_code": 0,
         "clauses": {"BCAST-1": {"cpu": {"status": "pass 4", "reasons": []}},
                     "BCAST-2": {"cpu": {"status": "pass 1", "reasons": []}}}},
    ]
    matrix.write_text(json.dumps({"releases": releases}))
    text = compatibility_markdown(matrix)
    assert "| 2.4.1+cu121 | 0.19.1 | 2.2.6 | 3.11 | d | 1 passed (exit 0) |" in text
    assert "| 2.14.1 | not installed | ? | 3.11 |" in text  # measured before numpy was recorded
    assert ("| [BCAST-2](../broadcasting/#BCAST-2) | known deviation: torch bug "
            "(pytorch/pytorch#1) | pass |") in text
    anchored = {ln.split('"')[1] for ln in text.splitlines() if ln.startswith("| <span")}
    assert anchored == {f"compat-{cid}" for cid in defined_clauses()}


def test_the_learning_path_covers_every_concept_page():
    from tests.clauses import LEARNING_PATH, SHORT_TITLES

    pages = {clause.page for clause in defined_clauses().values()}
    assert set(LEARNING_PATH) == pages
    assert set(SHORT_TITLES) == pages
    seen: set[str] = set()
    for page, prerequisites in LEARNING_PATH.items():  # listed after its prerequisites
        assert set(prerequisites) <= seen, page
        seen.add(page)
