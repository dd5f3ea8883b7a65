"""MkDocs hooks: an API page per reference module and per test module (with the source
shown), and under every clause its evidence: the tests that name it, its status per device
in the last run and per torch release, and the reference code its tests call.

The pages are generated at build time (nothing to keep in step by hand); the evidence reads
the same sources the meta tests read (``tests/clauses.py``), the last run's
``docs/_generated/conformance.json`` and the committed ``docs/data/compatibility.json``.
Formulas are rendered at build time with the vendored KaTeX (run by QuickJS), so a page
shows its math without running a script.
"""

from __future__ import annotations

import ast
import functools
import html
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import clauses as C  # noqa: E402  (the project root is on the path now)

API = "api"
_CLAUSE_LINE = re.compile(rf"^\s*[-*]\s+\*\*(?P<id>{C.CLAUSE_ID})\*\*\{{\s*#(?P=id)\s*\}}")


def _modules(folder: str) -> list[str]:
    return sorted(
        p.stem for p in (ROOT / folder).glob("*.py")
        if p.stem != "__init__" and (folder == "reference" or p.stem.startswith("test_"))
    )


def _api_page(module: str, title: str) -> str:
    return (
        "---\nsearch:\n  exclude: true\n---\n\n"  # the concept pages are what search finds
        f"# {title}\n\n::: {module}\n    options:\n      show_source: true\n"
        "      show_root_heading: true\n      heading_level: 2\n"
    )


def _test_page(name: str) -> str:
    """A test module's source, one section per test function (its anchor is its name)."""
    path = ROOT / "tests" / f"{name}.py"
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    doc = ast.get_docstring(tree) or ""
    out = ["---\nsearch:\n  exclude: true\n---\n", f"# `tests/{name}.py`\n", doc, ""]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            body = "\n".join(lines[start - 1 : node.end_lineno])
            out += [f"## `{node.name}` {{ #{node.name} }}\n",
                    f"Line {start} of `tests/{name}.py`.\n",
                    f"```python\n{body}\n```\n"]
    return "\n".join(out)


def on_pre_build(config) -> None:
    generated = ROOT / "docs" / "_generated" / "conformance.md"
    if not generated.exists():  # a fresh clone: every clause, nothing run yet
        C.write_conformance_page(generated, [], {"note": "no test run yet"})


def _rendered_on_a_concept_page() -> set[str]:
    """Modules a concept page still renders itself (``::: reference.x``): no API page for
    them, or mkdocstrings would find each object twice."""
    pages = (ROOT / "docs").glob("*.md")
    return {m for p in pages for m in re.findall(r"^::: reference\.(\w+)", p.read_text(
        encoding="utf-8"), flags=re.MULTILINE)}


def on_files(files: Files, config) -> Files:
    inline = _rendered_on_a_concept_page()
    for name in _modules("reference"):
        if name in inline:
            continue
        files.append(File.generated(config, f"{API}/{name}.md",
                                    content=_api_page(f"reference.{name}", f"`reference.{name}`")))
    for name in _modules("tests"):
        files.append(File.generated(config, f"{API}/tests/{name}.md", content=_test_page(name)))
    return files


_STATE: dict = {}


EDIT_URI = "blob/main/docs/"  # relative to repo_url: each page's source on the main branch


def on_config(config):
    """Fresh state per build; pages link their source only when ``repo_url`` is set
    (``REFSPEC_REPO_URL``, which CI sets), since a relative ``edit_uri`` needs it."""
    _STATE.clear()
    config.edit_uri = EDIT_URI if config.repo_url else None
    return config


def _evidence() -> C.Evidence:
    if "evidence" not in _STATE:
        _STATE["evidence"] = C.load_evidence()
    return _STATE["evidence"]


def _link_generated_page_to_its_module(page, config) -> None:
    """A generated API or test page's source button opens the Python module it shows."""
    if not config.repo_url or not page.file.src_uri.startswith(f"{API}/"):
        return
    module = page.file.src_uri[len(API) + 1:].removesuffix(".md")
    path = module + ".py" if module.startswith("tests/") else f"reference/{module}.py"
    page.edit_url = f"{config.repo_url.rstrip('/')}/blob/main/{path}"


def on_page_markdown(markdown: str, page, config, files) -> str:
    """On a concept page each clause, a list item in the source, becomes a section of its own:
    a heading with its id (so the table of contents lists the clauses and a search for the
    id finds the clause), its statement, and its evidence line."""
    if page.file.src_uri.startswith(f"{API}/") or "_generated" in page.file.src_uri:
        _link_generated_page_to_its_module(page, config)
        return markdown
    if not any(_CLAUSE_LINE.match(line) for line in markdown.splitlines()):
        return markdown
    page.meta.setdefault("search", {}).setdefault("boost", 2)  # a concept page: found first
    evidence = _evidence()
    base = "../" * page.file.src_uri.count("/")
    out = []
    for line in markdown.splitlines():
        match = _CLAUSE_LINE.match(line)
        if not match:
            out.append(line)
            continue
        cid = match["id"]
        out += [
            "",
            f"### {cid} {{ #{cid} .refspec-clause }}",
            "",
            line[match.end():].strip(),
            "",
            evidence.line(cid, base),
            "{: .refspec-evidence }",
            "",
        ]
    return "\n".join(out) + "\n"


KATEX_JS = ROOT / "docs" / "assets" / "katex" / "katex.min.js"
# arithmatex's generic output: \( \) inline in a span, \[ \] display in a div
_ARITHMATEX = re.compile(
    r'(<(?P<tag>span|div) class="arithmatex">)(?P<tex>.*?)(</(?P=tag)>)', re.DOTALL
)


@functools.cache
def _katex():
    import quickjs

    context = quickjs.Context()
    context.eval(KATEX_JS.read_text(encoding="utf-8"))
    context.eval("function render(tex, display) { return katex.renderToString(tex, "
                 "{displayMode: display, throwOnError: false}); }")
    return context.get("render")


@functools.cache
def _render_formula(source: str) -> str:
    """KaTeX's HTML for one arithmatex formula, ``\\(..\\)`` or ``\\[..\\]``; an invalid one
    becomes KaTeX's ``katex-error`` span, as the client-side renderer would show it."""
    tex = html.unescape(source).strip()
    if tex[:2] not in ("\\(", "\\["):
        raise ValueError(f"a formula without \\( or \\[ delimiters: {tex[:60]!r}")
    return _katex()(tex[2:-2], tex.startswith("\\["))


def on_post_page(output: str, page, config) -> str:
    """Every formula of the built page as KaTeX HTML (search indexed the TeX source)."""
    return _ARITHMATEX.sub(
        lambda m: m[1] + _render_formula(m["tex"]) + m[4], output
    )
