"""Clause traceability: which clauses the docs define, which the tests check, and the
conformance page written after each run.

A clause is defined on a docs page by a bold id with an anchor, at the start of a list item:

    - **BCAST-1**{ #BCAST-1 } Two shapes broadcast iff ...

A test names the clauses it checks with ``@pytest.mark.spec("BCAST-1", ...)`` (or a module's
``pytestmark``); they are read from the test sources, so the meta-test needs no collection.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TESTS = ROOT / "tests"

CLAUSE_ID = r"[A-Z]+-\d+"
_ID = re.compile(CLAUSE_ID)
_DEFINITION = re.compile(
    rf"^\s*[-*]\s+\*\*(?P<id>{CLAUSE_ID})\*\*\{{\s*#(?P=id)\s*\}}\s*(?P<text>.*)$"
)


@dataclass(frozen=True)
class Clause:
    id: str
    page: str  # docs-relative path, e.g. "broadcasting.md"
    text: str

    @property
    def prefix(self) -> str:
        return self.id.rsplit("-", 1)[0]


def defined_clauses(docs: Path = DOCS) -> dict[str, Clause]:
    """Every clause defined on a docs page, in page order; a duplicate id raises."""
    clauses: dict[str, Clause] = {}
    for page in sorted(p for p in docs.rglob("*.md") if "_generated" not in p.parts):
        for line in page.read_text(encoding="utf-8").splitlines():
            match = _DEFINITION.match(line)
            if not match:
                continue
            clause = Clause(match["id"], page.relative_to(docs).as_posix(), match["text"])
            if clause.id in clauses:
                raise ValueError(
                    f"clause {clause.id} is defined twice: {clauses[clause.id].page}, {clause.page}"
                )
            clauses[clause.id] = clause
    return clauses


def _is_spec_marker(func: ast.expr) -> bool:
    # pytest.mark.spec(...) or mark.spec(...)
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "spec"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "mark"
    )


@dataclass(frozen=True)
class _TestModule:
    """A test module's syntax tree with what the traceability reads from it everywhere."""

    tree: ast.Module
    spec_calls: tuple[ast.Call, ...]  # every pytest.mark.spec(...) call, in source order
    id_literals: frozenset[str]  # every string constant that is exactly a clause id

    @property
    def dynamic(self) -> bool:
        """Whether a marker is built from data (an argument that is not a literal)."""
        return any(not all(isinstance(a, ast.Constant) for a in c.args) for c in self.spec_calls)


_PARSED: dict[Path, tuple[tuple[int, int], _TestModule]] = {}


def _test_module(path: Path) -> _TestModule:
    """``path`` parsed and walked once per version of the file (its mtime and size): the
    meta tests, the concept map and the evidence lines all read the same trees."""
    stat = path.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    calls: list[ast.Call] = []
    literals: set[str] = set()
    for node in ast.walk(tree):  # one pass: ast.walk dominates the traceability's time
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str) and _ID.fullmatch(node.value):
                literals.add(node.value)
        elif isinstance(node, ast.Call) and _is_spec_marker(node.func):
            calls.append(node)
    calls.sort(key=lambda c: (c.lineno, c.col_offset))
    module = _TestModule(tree, tuple(calls), frozenset(literals))
    _PARSED[path] = (version, module)
    return module


def clauses_named_by_tests(tests: Path = TESTS) -> dict[str, list[str]]:
    """Clause id -> the test files (tests-relative) whose ``spec`` markers name it.

    Literal arguments are read directly. A marker built from data, as in
    ``pytest.param(op, marks=pytest.mark.spec(*clauses))``, names the clause-id literals of
    its file (strings that are exactly an id, such as ``"ACT-3"``).
    """
    found: dict[str, list[str]] = {}
    for path in sorted(tests.rglob("test_*.py")):
        module = _test_module(path)
        marked = {i for c in module.spec_calls for i in _literal_ids(c)}
        rel = path.relative_to(tests).as_posix()
        for clause in sorted(marked | module.id_literals if module.dynamic else marked):
            found.setdefault(clause, []).append(rel)
    return found


# --- the conformance record and page -------------------------------------------------------

# Outcomes of one test case, worst first: a strict xfail that passed is reported as failed.
OUTCOMES = ("failed", "xfailed", "passed", "skipped")
KNOWN_DEVIATION = "known deviation"  # how a strict xfail (a torch bug) is shown


@dataclass
class TestRecord:
    """One test case of a run: its id, the clauses it checks, its device, its outcome
    (``passed``, ``failed``, ``skipped``, ``xfailed``) and, for skips and xfails, the reason."""

    __test__ = False  # not a pytest test class
    id: str
    clauses: tuple[str, ...]
    device: str  # "any" for tests that take no device
    outcome: str
    reason: str = ""

    def worse(self, outcome: str, reason: str) -> None:
        """Keep the worst outcome over a test's setup, call and teardown."""
        if OUTCOMES.index(outcome) < OUTCOMES.index(self.outcome):
            self.outcome, self.reason = outcome, reason


def _column(device: str) -> str:
    return "cpu" if device == "any" else device  # device-free tests run on the host


def device_columns(records: Sequence[TestRecord]) -> list[str]:
    """cpu first, then every other device a run saw (cuda at least)."""
    seen = {_column(r.device) for r in records} | {"cpu", "cuda"}
    return ["cpu", *sorted(seen - {"cpu"})]


def clause_status(records: Sequence[TestRecord]) -> dict:
    """Counts and a one-line status for the test cases of one clause on one device."""
    counts = {o: sum(r.outcome == o for r in records) for o in OUTCOMES}
    reasons = sorted({r.reason for r in records if r.outcome in ("skipped", "xfailed")})
    if not records:
        text = "not run"
    elif counts["failed"]:
        text = f"FAIL {counts['failed']}/{len(records)}"
    else:
        parts = [f"pass {counts['passed']}"] if counts["passed"] else []
        if counts["xfailed"]:
            parts.append(f"{KNOWN_DEVIATION} {counts['xfailed']}")
        if counts["skipped"]:
            parts.append(f"skip {counts['skipped']}")
        text = ", ".join(parts)
    return {"status": text, "counts": counts, "reasons": reasons}


def summarize(
    records: Sequence[TestRecord], clause_id: str, columns: Sequence[str] | None = None
) -> dict[str, dict]:
    """Per device column, the status of one clause; ``n/a`` where no test of the clause runs
    on that device (a device-free clause in the cuda column). ``records`` may be the whole
    run or only the clause's own records; ``columns`` defaults to the devices they saw."""
    mine = [r for r in records if clause_id in r.clauses]
    result = {}
    for column in columns or device_columns(records):
        on_column = [r for r in mine if _column(r.device) == column]
        if on_column or (column == "cpu" and not mine):  # a clause no test of the run named
            result[column] = clause_status(on_column)
        else:  # tested, but not on this device (a device-free clause, a GPU-only clause)
            result[column] = {"status": "n/a", "counts": {}, "reasons": []}
    return result


def conformance_data(
    records: Sequence[TestRecord], environment: Mapping[str, str]
) -> dict:
    """The JSON record of a run: its environment, every test case, and per clause and device
    the status with the ids of the tests behind it (several runs can be compared)."""
    columns = device_columns(records)
    by_clause: dict[str, list[TestRecord]] = {}
    for record in records:
        for cid in record.clauses:
            by_clause.setdefault(cid, []).append(record)
    clauses = defined_clauses()
    return {
        "environment": dict(environment),
        "clauses": {
            cid: {
                "page": clause.page,
                "devices": summarize(by_clause.get(cid, []), cid, columns),
                "tests": sorted({r.id for r in by_clause.get(cid, [])}),
            }
            for cid, clause in clauses.items()
        },
        "tests": [vars(r) | {"clauses": list(r.clauses)} for r in records],
    }


def clause_summary(text: str, limit: int = 90) -> str:
    """The clause's first sentence (links, emphasis and formulas flattened), at most
    ``limit`` characters: the one-line summary the tables show."""
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url) -> text
    plain = re.sub(r"\$[^$]*\$", "…", plain).replace("**", "").replace("|", "/")
    first = re.split(r"(?<=[a-z0-9)`])\.\s", plain, maxsplit=1)[0].rstrip(".")
    if len(first) <= limit:
        return first
    cut = first[: limit - 1].rsplit(" ", 1)[0]
    if cut.count("`") % 2:  # never end inside inline code
        cut = cut[: cut.rindex("`")].rstrip()
    return cut + " …"


def _cell(status: dict) -> str:
    text = status["status"]
    if status["counts"].get("xfailed") and status["reasons"]:
        text = text.replace(KNOWN_DEVIATION, f"**{KNOWN_DEVIATION}** (torch bug)")
        text += ": " + "; ".join(status["reasons"])
    elif status["counts"].get("skipped") and not status["counts"].get("passed"):
        text += ": " + "; ".join(status["reasons"][:2])
    return text.replace("|", "/")


def _page_titles(docs: Path = DOCS) -> dict[str, str]:
    titles = {}
    for page in docs.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        titles[page.name] = next(
            (ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), page.stem
        )
    return titles


def write_conformance_page(
    path: Path, records: Sequence[TestRecord], environment: Mapping[str, str]
) -> None:
    """Write the Markdown conformance tables (one per docs page, a row per clause anchored
    ``conf-<id>``) and their JSON twin (``conformance.json``)."""
    data = conformance_data(records, environment)
    columns = device_columns(records)
    clauses = defined_clauses()
    titles = _page_titles()
    by_page: dict[str, list[str]] = {}
    for cid, entry in data["clauses"].items():
        by_page.setdefault(entry["page"], []).append(cid)
    parts = []
    header = "| clause | states | " + " | ".join(columns) + " |\n"
    header += "|---|---|" + "---|" * len(columns)
    for page, ids in by_page.items():
        rows = []
        for cid in ids:
            cells = [_cell(data["clauses"][cid]["devices"][c]) for c in columns]
            rows.append(
                f'| <span id="conf-{cid}"></span>[{cid}]({page}#{cid}) | '
                f"{clause_summary(clauses[cid].text)} | " + " | ".join(cells) + " |"
            )
        parts.append(f"### [{titles.get(page, page)}]({page})\n\n{header}\n" + "\n".join(rows))
    env = "\n".join(f"| {k} | {v} |" for k, v in environment.items())
    text = (
        "\n\n".join(parts)
        + "\n\n### Environment of this run\n\n| | |\n|---|---|\n"
        + env
        + "\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps(data, indent=1), encoding="utf-8")


# --- the concept map on the home page -----------------------------------------------------


# The learning path: each concept page with the pages it builds on (a prerequisite comes
# first). The concept map draws it and lists the concepts in this order.
LEARNING_PATH: dict[str, tuple[str, ...]] = {
    "strides.md": (),
    "dtypes.md": (),
    "broadcasting.md": ("strides.md",),
    "tensor-ops.md": ("broadcasting.md", "dtypes.md"),
    "random.md": ("tensor-ops.md",),
    "autograd.md": ("tensor-ops.md",),
    "convolution.md": ("autograd.md",),
    "activations.md": ("autograd.md",),
    "normalization.md": ("autograd.md",),
    "losses.md": ("autograd.md",),
    "attention.md": ("activations.md",),
    "optim.md": ("losses.md",),
    "data.md": ("random.md",),
    "training.md": ("optim.md", "data.md", "convolution.md"),
    "devices.md": ("training.md",),
    "modules.md": ("training.md",),
    "serialization.md": ("modules.md",),
}
SHORT_TITLES = {
    "strides.md": "Strides", "dtypes.md": "Dtypes", "broadcasting.md": "Broadcasting",
    "tensor-ops.md": "Tensor ops", "random.md": "Random", "autograd.md": "Autograd",
    "convolution.md": "Convolution", "activations.md": "Activations",
    "normalization.md": "Normalization", "losses.md": "Losses", "attention.md": "Attention",
    "optim.md": "Optimizers", "data.md": "Data", "training.md": "Training",
    "devices.md": "Devices", "modules.md": "Modules", "serialization.md": "Checkpoints",
}


def _page_title_and_modules(page: Path) -> tuple[str, list[str]]:
    text = page.read_text(encoding="utf-8")
    title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), page.stem)
    api = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0] if "\n## API\n" in text else ""
    return title, [f"reference.{m}" for m in re.findall(r"\]\(api/(\w+)\.md\)", api)]


def _levels(path: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each page's depth on the learning path: one more than its deepest prerequisite."""
    level: dict[str, int] = {}

    def depth(page: str) -> int:
        if page not in level:
            level[page] = 1 + max((depth(q) for q in path[page]), default=-1)
        return level[page]

    for page in path:
        depth(page)
    return level


def learning_path_svg(base: str = "") -> str:
    """The learning path as an inline SVG: one row per depth, a linked box per concept, an
    arrow from each prerequisite to the concepts built on it."""
    level = _levels(LEARNING_PATH)
    rows: dict[int, list[str]] = {}
    for page in LEARNING_PATH:
        rows.setdefault(level[page], []).append(page)
    width, box_w, box_h, gap_y = 640, 112, 34, 30
    centre: dict[str, tuple[float, float]] = {}
    for depth, pages in rows.items():
        step = width / len(pages)
        for i, page in enumerate(pages):
            centre[page] = (step * (i + 0.5), 20 + depth * (box_h + gap_y) + box_h / 2)
    height = 20 + len(rows) * (box_h + gap_y)
    parts = [f'<svg class="refspec-path" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="The learning path: each concept below the ones it builds on" '
             f'xmlns="http://www.w3.org/2000/svg">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" '
             'fill="#9e9e9e"/></marker></defs>']
    for page, prerequisites in LEARNING_PATH.items():
        x2, y2 = centre[page]
        for q in prerequisites:
            x1, y1 = centre[q]
            parts.append(f'<line x1="{x1:.0f}" y1="{y1 + box_h / 2:.0f}" x2="{x2:.0f}" '
                         f'y2="{y2 - box_h / 2 - 2:.0f}" stroke="#9e9e9e" stroke-width="1.5" '
                         f'marker-end="url(#arrow)"/>')
    for page, (x, y) in centre.items():
        parts.append(
            f'<a href="{base}{page[:-3]}/"><rect x="{x - box_w / 2:.0f}" y="{y - box_h / 2:.0f}" '
            f'width="{box_w}" height="{box_h}" rx="6" fill="#fff3e0" stroke="#e65100"/>'
            f'<text x="{x:.0f}" y="{y + 5:.0f}" text-anchor="middle" font-size="15" '
            f'fill="#bf360c">{SHORT_TITLES.get(page, page[:-3])}</text></a>'
        )
    parts.append("</svg>")
    return "".join(parts)


def concept_map_markdown(docs: Path = DOCS) -> str:
    """The learning path drawn, then one row per concept in its order: its page, clauses,
    reference modules, test files and the conformance of the last test run, all derived
    from the pages and the tests.

    Links are site URLs relative to the home page, where the map is rendered."""
    clauses = defined_clauses(docs)
    tests = clauses_named_by_tests()
    conformance_file = docs / "_generated" / "conformance.json"
    statuses = (
        {
            cid: {col: st["status"] for col, st in entry["devices"].items()}
            for cid, entry in json.loads(conformance_file.read_text(encoding="utf-8"))[
                "clauses"
            ].items()
        }
        if conformance_file.exists()
        else {}
    )
    by_page: dict[str, list[Clause]] = {}
    for clause in clauses.values():
        by_page.setdefault(clause.page, []).append(clause)
    order = [p for p in LEARNING_PATH if p in by_page] + [
        p for p in by_page if p not in LEARNING_PATH
    ]
    rows = ["| concept | clauses | reference | tests | last run (cpu) |", "|---|---|---|---|---|"]
    for page in order:
        members = by_page[page]
        prefix = members[0].prefix
        title, modules = _page_title_and_modules(docs / page)
        files = sorted({f for c in members for f in tests.get(c.id, [])})
        cpu = [statuses.get(c.id, {}).get("cpu", "not run") for c in members]
        passed = sum(s.startswith("pass") for s in cpu)
        failed = sum(s.startswith("FAIL") for s in cpu)
        skipped = sum(s.startswith("skip") for s in cpu)
        known = sum(s.startswith(KNOWN_DEVIATION) for s in cpu)
        if passed + failed + skipped + known == 0:
            status = "not run yet"
        else:
            status = ", ".join(
                text
                for count, text in [
                    (passed, f"{passed}/{len(members)} pass"),
                    (failed, f"**{failed} FAIL**"),
                    (known, f"{known} {KNOWN_DEVIATION}"),
                    (skipped, f"{skipped} skipped"),
                    (len(members) - passed - failed - skipped - known, "rest not run"),
                ]
                if count
            )
        url = page[: -len(".md")] + "/"  # markdown-exec output skips mkdocs' .md rewriting
        rows.append(
            f"| [{title}]({url}) | {prefix}-1 … {prefix}-{len(members)} | "
            + "<br>".join(f"`{m}`" for m in modules)
            + " | "
            + "<br>".join(f"`tests/{f}`" for f in files)
            + f" | [{status}](conformance/) |"
        )
    return learning_path_svg() + "\n\n" + "\n".join(rows)


# --- the compatibility matrix (benchmarks/matrix.py writes its data) ---------------------

MATRIX_FILE = DOCS / "data" / "compatibility.json"


def _short(status: str) -> str:
    """A matrix cell: 'pass', 'FAIL k/n', 'known deviation', 'skip', 'not run'."""
    if status.startswith("pass") and "," not in status:
        return "pass"
    if status.startswith("FAIL") or status == "not run":
        return status
    return ", ".join(part.rsplit(" ", 1)[0] for part in status.split(", "))


def compatibility_markdown(matrix_file: Path = MATRIX_FILE, base: str = "../") -> str:
    """The releases measured; the clauses whose verdict is not a plain pass on some release,
    with the reasons; then every clause, grouped by page, a row anchored ``compat-<id>``.
    Links are site URLs relative to the page (``base``: markdown-exec output skips mkdocs'
    .md rewriting)."""
    if not matrix_file.exists():
        return "*No matrix data yet: run `python benchmarks/matrix.py --venv ...`.*"
    releases = json.loads(matrix_file.read_text(encoding="utf-8"))["releases"]
    clauses = defined_clauses()
    titles = _page_titles()
    out = ["| torch | torchvision | numpy | python | measured | result of `pytest -n auto` (ci) |",
           "|---|---|---|---|---|---|"]
    for r in releases:
        out.append(f"| {r['torch']} | {r['torchvision']} | {r.get('numpy', '?')} | "
                   f"{r['python']} | {r['measured']} | {r['summary']} (exit {r['exit_code']}) |")
    names = [r["torch"].split("+")[0] for r in releases]
    header = "| clause | " + " | ".join(names) + " |"
    rule = "|---|" + "---|" * len(releases)

    def cell(release: dict, cid: str, reasons: bool) -> str:
        cpu = release["clauses"].get(cid, {}).get("cpu")
        if cpu is None:
            return "not in this release's run"
        text = _short(cpu["status"])
        if reasons and cpu["reasons"] and text != "pass":
            text += ": " + "; ".join(cpu["reasons"])
        return text.replace("|", "/")

    def link(cid: str, anchor: bool = False) -> str:
        target = f"[{cid}]({base}{clauses[cid].page[:-3]}/#{cid})"
        return (f'<span id="compat-{cid}"></span>' if anchor else "") + target

    differing = [cid for cid in clauses if any(cell(r, cid, False) != "pass" for r in releases)]
    out += ["", f"**Where a release's verdict is not a plain pass** ({len(differing)} of "
            f"{len(clauses)} clauses; the reasons are the tests' skip and xfail reasons):", "",
            header, rule]
    out += [f"| {link(cid)} | " + " | ".join(cell(r, cid, True) for r in releases) + " |"
            for cid in differing]
    out += ["", "## Every clause on every release"]
    by_page: dict[str, list[str]] = {}
    for cid, clause in clauses.items():
        by_page.setdefault(clause.page, []).append(cid)
    for page, ids in by_page.items():
        out += ["", f"### {titles.get(page, page)}", "", header, rule]
        out += [f"| {link(cid, anchor=True)} | " + " | ".join(cell(r, cid, False) for r in releases)
                + " |" for cid in ids]
    return "\n".join(out)


# --- evidence: from a clause to its tests, its status and its reference code ---------------


@dataclass(frozen=True)
class TestRef:
    """A test function: its module (``tests.test_broadcasting``) and name."""

    __test__ = False  # not a pytest test class
    module: str
    name: str

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


def _literal_ids(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _spec_calls(node: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Call) and _is_spec_marker(n.func)]


@dataclass
class _TestSource:
    refs: dict[str, list[TestRef]]  # clause -> tests
    uses: dict[TestRef, list[str]]  # test -> reference names it uses ("reference.x.f")


def _test_sources(tests: Path = TESTS) -> _TestSource:
    """Clause -> test functions, and test -> the reference functions it calls, read from the
    test sources: a test's own ``spec`` marker, else its module's ``pytestmark``; a marker
    built from data names its file's clause-id literals for the parametrized tests there."""
    refs: dict[str, list[TestRef]] = {}
    uses: dict[TestRef, list[str]] = {}
    for path in sorted(tests.rglob("test_*.py")):
        parsed = _test_module(path)
        tree = parsed.tree
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        imported = _reference_imports(tree)
        module_ids: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
            ):
                module_ids = [i for c in _spec_calls(node.value) for i in _literal_ids(c)]
        file_ids = sorted(parsed.id_literals) if parsed.dynamic else []
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            ref = TestRef(module, node.name)
            own = [i for d in node.decorator_list for c in _spec_calls(d) for i in _literal_ids(c)]
            ids = own or module_ids or (file_ids if _is_parametrized(node) else [])
            for clause in dict.fromkeys(ids):
                refs.setdefault(clause, []).append(ref)
            uses[ref] = _used_reference_names(node, imported)
    return _TestSource(refs, uses)


def _is_parametrized(func: ast.FunctionDef) -> bool:
    """Whether a decorator names ``parametrize`` (``@pytest.mark.parametrize(...)``)."""
    return any(
        "parametrize" in (n.attr if isinstance(n, ast.Attribute) else n.id)
        for d in func.decorator_list for n in ast.walk(d) if isinstance(n, ast.Attribute | ast.Name)
    )


def _reference_imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted reference path, for ``from reference.x import f`` (-> reference.x.f)
    and ``from reference import x as y`` / ``import reference.x`` (-> reference.x)."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reference"):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _used_reference_names(func: ast.FunctionDef, imported: dict[str, str]) -> list[str]:
    """The reference functions and classes a test calls, in the order it first calls them."""
    found: list[str] = []
    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        target = node.func
        if isinstance(target, ast.Name) and target.id in imported:
            path = imported[target.id]
        elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
              and target.value.id in imported):
            path = f"{imported[target.value.id]}.{target.attr}"
        else:
            continue
        if path.count(".") >= 2 and path not in found:  # a function of a module, not a module
            found.append(path)
    return found


@dataclass
class Evidence:
    """Everything a clause's evidence line shows: its tests, its last-run status per device,
    its status per torch release and the reference code its tests call."""

    tests: dict[str, list[TestRef]]
    uses: dict[TestRef, list[str]]
    last_run: dict[str, dict[str, str]]  # clause -> device -> status
    releases: list[tuple[str, dict[str, str]]]  # (torch release, clause -> cpu status)
    documented: set[str]  # dotted names the API pages render (linkable)

    def line(self, clause_id: str, base: str = "", max_items: int = 4) -> str:
        """One Markdown line: tests · last run · releases · code, each item a link."""
        tests = self.tests.get(clause_id, [])
        parts = []
        if tests:
            shown = ", ".join(
                f"[`{t.name}`]({base}api/tests/{t.module.rsplit('.', 1)[1]}.md#{t.name})"
                for t in tests[:max_items]
            )
            more = f" and {len(tests) - max_items} more" if len(tests) > max_items else ""
            parts.append(f"tests: {shown}{more}")
        devices = self.last_run.get(clause_id)
        if devices:
            status = ", ".join(f"{d} {s}" for d, s in devices.items())
        else:
            status = "not run yet"
        parts.append(f"last run: [{status}]({base}conformance.md#conf-{clause_id})")
        if self.releases:
            per = ", ".join(f"{r} {_short(s.get(clause_id, 'not run'))}" for r, s in self.releases)
            # a URL, not compatibility.md: its anchors are raw HTML from an exec block, which
            # mkdocs's anchor validation cannot see (the site tests check them in the HTML);
            # a concept page's URL is one level deeper than its file (use_directory_urls)
            parts.append(f"torch releases: [{per}]({base}../compatibility/#compat-{clause_id})")
        code: list[str] = []
        for t in self.tests.get(clause_id, []):
            code += [u for u in self.uses.get(t, []) if u in self.documented and u not in code]
        if code:
            parts.append("code: " + ", ".join(
                f"[`{c.rsplit('.', 1)[1]}`][{c}]" for c in code[:max_items]))
        return "Evidence: " + " · ".join(parts)


def _documented_names(names: set[str]) -> set[str]:
    """The names among ``names`` that the API pages render: public functions and classes
    (and public methods of those classes) defined, not imported, in a module of the
    reference (what mkdocstrings can link to). Read from the sources with ``ast``."""
    defined: set[str] = set()
    for path in (ROOT / "reference").glob("*.py"):
        module = f"reference.{path.stem}"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(f"{module}.{node.name}")
                if isinstance(node, ast.ClassDef):
                    defined |= {f"{module}.{node.name}.{m.name}" for m in node.body
                                if isinstance(m, ast.FunctionDef)}
    return {n for n in names & defined if not any(p.startswith("_") for p in n.split("."))}


def load_evidence(docs: Path = DOCS) -> Evidence:
    """The evidence of every clause, from the test sources, the last run's
    ``conformance.json`` (if any) and the compatibility matrix (if any)."""
    sources = _test_sources()
    conformance = docs / "_generated" / "conformance.json"
    last_run: dict[str, dict[str, str]] = {}
    if conformance.exists():
        data = json.loads(conformance.read_text(encoding="utf-8"))
        for cid, entry in data.get("clauses", {}).items():
            last_run[cid] = {d: s["status"] for d, s in entry["devices"].items()}
    releases = []
    if MATRIX_FILE.exists():
        for r in json.loads(MATRIX_FILE.read_text(encoding="utf-8"))["releases"]:
            releases.append((r["torch"].split("+")[0],
                             {cid: c["cpu"]["status"] for cid, c in r["clauses"].items()
                              if "cpu" in c}))
    names = {u for uses in sources.uses.values() for u in uses}
    return Evidence(sources.refs, sources.uses, last_run, releases, _documented_names(names))
