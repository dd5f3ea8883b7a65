"""The docs site as a product: built strictly, served on localhost and read in a real browser
(Playwright driving Debian's Chromium). Screenshots go to ``artifacts/screenshots/``."""

from __future__ import annotations

import functools
import http.server
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from tests.clauses import ROOT, defined_clauses, write_conformance_page

# checks the site itself, no clause; conftest schedules these tests first, so that one xdist
# worker runs them all: the build, the server, the browser and the reading happen once
pytestmark = pytest.mark.spec()

CHROMIUM = Path(os.environ.get("REFSPEC_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# a regression guard, not a benchmark, on the build's CPU time (user + system): its wall time
# tripled on a machine running two other suites (over 60 s), its CPU time stays 15-20 s
BUILD_BUDGET_S = 60.0
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


# --- build once per run (shared by xdist workers through a lock) -----------------------


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The strictly built site directory and the CPU seconds the build took."""
    pytest.importorskip(
        "mkdocs", reason="mkdocs is not installed (the docs extra: pip install -e '.[docs]')"
    )
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one directory shared by this run's workers
        shared = shared.parent
    site_dir = shared / "refspec-site"
    timing = shared / "refspec-site.seconds"
    with FileLock(str(shared / "refspec-site.lock")):
        if not timing.exists():
            generated = ROOT / "docs" / "_generated" / "conformance.md"
            if not generated.exists():  # a fresh clone: every clause, nothing run yet
                write_conformance_page(generated, [], {"note": "no test run yet"})
            start = _children_cpu_seconds()
            proc = subprocess.run(
                # no -q: it hides the warnings that --strict counts (a strict -q build passes)
                [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site_dir)],
                cwd=ROOT, capture_output=True, text=True,
                env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
            )
            if proc.returncode:
                shutil.rmtree(site_dir, ignore_errors=True)
                pytest.fail(f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}")
            timing.write_text(f"{_children_cpu_seconds() - start:.3f}")
    return site_dir, float(timing.read_text())


def _children_cpu_seconds() -> float:
    """User + system CPU time of this process's finished children (the build is one)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.fixture(scope="session")
def server(site: tuple[Path, float]) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site[0]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install it with `apt-get install chromium`")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _pages(site_dir: Path) -> list[str]:
    """Site-relative URLs of every built page (404 and assets excluded)."""
    return sorted(
        p.parent.relative_to(site_dir).as_posix() + "/" if p.parent != site_dir else ""
        for p in site_dir.rglob("index.html")
        if "assets" not in p.parts
    )


# --- build -----------------------------------------------------------------------------


def test_strict_build_is_fast(site):
    _, seconds = site
    assert seconds < BUILD_BUDGET_S, f"mkdocs build --strict took {seconds:.1f} CPU s"


_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)\b([^>]*)>")
_ATTRIBUTE = re.compile(
    r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"""
)


def _tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every start tag with attributes: (name, attributes unescaped). A regular-expression
    scan, five times faster than html.parser over the 17 MB of generated pages; it finds the
    same tags on this site's HTML, which quotes every attribute."""
    found = []
    for match in _TAG.finditer(html):
        if "=" in match[2]:
            attributes = {k.lower(): unescape(v1 or v2 or v3)
                          for k, v1, v2, v3 in _ATTRIBUTE.findall(match[2])}
            found.append((match[1].lower(), attributes))
    return found


def _has_class(attributes: dict[str, str], name: str) -> bool:
    return name in attributes.get("class", "").split()


@pytest.fixture(scope="session")
def page_tags(site) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Site-relative page URL -> its tags, every built page read once."""
    site_dir, _ = site
    return {page: _tags((site_dir / page / "index.html").read_text(encoding="utf-8"))
            for page in _pages(site_dir)}


def test_no_page_has_a_broken_internal_link(site, page_tags):
    site_dir, _ = site
    tags_of = {site_dir / page / "index.html": tags for page, tags in page_tags.items()}
    ids: dict[Path, set[str]] = {}

    def ids_of(path: Path) -> set[str]:
        if path not in ids:
            tags = tags_of.get(path) or _tags(path.read_text(encoding="utf-8"))
            ids[path] = {a["id"] for _, a in tags if a.get("id")}
        return ids[path]

    broken = []
    for page, tags in page_tags.items():
        for href in (a["href"] for tag, a in tags if tag == "a" and a.get("href")):
            url = urlparse(urljoin(f"http://site/{page}", href))
            if url.netloc != "site":
                continue  # external: not followed (and never requested, see below)
            target = site_dir / unquote(url.path).lstrip("/")
            if target.is_dir() or url.path.endswith("/"):
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page or '/'} -> {href}")
            elif url.fragment and target.suffix == ".html":
                if unquote(url.fragment) not in ids_of(target):
                    broken.append(f"{page or '/'} -> {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


# --- in the browser -------------------------------------------------------------------

_FETCHED_BY_SRC = ("script", "img", "iframe", "source", "audio", "video")


def _resources(tags: list[tuple[str, dict[str, str]]]) -> list[str]:
    """The URLs a page makes the browser fetch: scripts, stylesheets, images, frames."""
    urls = [a["src"] for tag, a in tags if tag in _FETCHED_BY_SRC and a.get("src")]
    return urls + [a["href"] for tag, a in tags if tag == "link" and a.get("href")
                   and a.get("rel") in ("stylesheet", "preload", "icon")]


def test_no_page_points_a_resource_off_localhost(page_tags):
    """No script, stylesheet, image or frame of any page (API pages included) is fetched
    from anywhere but the site itself: the site works offline."""
    offsite = [f"{page}: {u}" for page, tags in page_tags.items()
               for u in _resources(tags) if urlparse(u).netloc]
    assert not offsite, offsite


def test_conformance_table_has_a_row_per_clause(site):
    site_dir, _ = site
    html = (site_dir / "conformance" / "index.html").read_text(encoding="utf-8")
    anchored = set(re.findall(r'<span id="conf-([A-Z]+-\d+)"', html))
    assert anchored == set(defined_clauses())


def test_every_clause_links_its_evidence(site):
    """Under each clause, on its page: links to the tests that name it (their source), to
    its row on the conformance page (per device) and on the compatibility page (per torch
    release, once the matrix has data), and to the reference code its tests call."""
    site_dir, _ = site
    from tests.clauses import MATRIX_FILE, load_evidence

    evidence = load_evidence()
    missing = []
    built = functools.cache(lambda page: (site_dir / page / "index.html").read_text("utf-8"))
    for cid, clause in defined_clauses().items():
        html = built(clause.page[:-3])
        start = html.index(f'id="{cid}"')
        end = html.find('class="refspec-clause"', start + 1)
        line = html[start:end if end > 0 else len(html)]
        if 'class="refspec-evidence"' not in line:
            missing.append(f"{cid}: no evidence line")
            continue
        wanted = [f"conformance/#conf-{cid}"]
        if MATRIX_FILE.exists():
            wanted.append(f"compatibility/#compat-{cid}")
        if evidence.tests.get(cid):
            wanted.append("api/tests/test_")
        if any(u in evidence.documented for t in evidence.tests.get(cid, [])
               for u in evidence.uses.get(t, [])):
            wanted.append("api/")
        missing += [f"{cid}: no link to {w}" for w in wanted if w not in line]
    assert not missing, "\n".join(missing)


# --- in the browser: every reading page at 1280 px and at 390 px ------------------------------


def _reading_pages(site_dir: Path) -> list[str]:
    """The pages a learner reads (the generated API and test-source pages aside)."""
    return [p for p in _pages(site_dir) if not p.startswith("api/")]


_FORMULA_OVERFLOW = """() => {
  // a formula's extent is its rendered pieces' (the boxes in KaTeX's .katex-html): the .katex
  // box of a display formula may keep the column's width while its content runs past it
  const column = document.querySelector("article.md-content__inner");
  const right = column.getBoundingClientRect().right + 1;
  const extent = k => Math.max(...[...k.querySelectorAll(".katex-html > *")]
    .map(b => b.getBoundingClientRect().right));
  return [...document.querySelectorAll(".arithmatex .katex")]
    .filter(k => !k.closest("table"))  // a table scrolls as a whole (the theme wraps it)
    .filter(k => extent(k) > right)
    .map(k => k.querySelector("annotation").textContent.trim().slice(0, 60));
}"""
_LAYOUT = """() => ({
  rootFontSize: getComputedStyle(document.documentElement).fontSize,
  column: document.querySelector("article.md-content__inner").getBoundingClientRect().width,
})"""
WIDTHS = (1280, 390)
NARROW = min(WIDTHS)


@pytest.fixture(scope="session")
def reading(site, server, browser, page_tags) -> dict:
    """The reading pages loaded in the browser: the requests each made, its formulas wider
    than the text column, and a screenshot per width in ``artifacts/screenshots/`` when
    ``REFSPEC_SCREENSHOTS`` is set (``top``: the first screen; ``full``: the whole page), as
    the CI workflow does for its artifacts. Loaded: the home page and every page with a
    formula (all of them for screenshots); a page without one has nothing to measure, and
    what it fetches is what its tags name (checked for every page above) plus what the
    theme's scripts fetch, the same on every page. The home page runs the theme's scripts
    (and every page does for screenshots); the formula pages are measured without them,
    which halves the reading's time: the scripts change no formula's box, only wrap tables
    in a scrolling box (a formula in a table is exempt either way).

    Formulas are measured at the narrow width, where the column is narrowest. The home page
    is read at every width first: ``layout`` holds its root font size and column width per
    width. With one font size, a formula's box is as wide at every width and its indentation
    the same, so a formula that fits the narrow column fits every wider one."""
    site_dir, _ = site
    shots = os.environ.get("REFSPEC_SCREENSHOTS", "")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = {"requests": [], "failures": [], "too_wide": {}, "footer": {}, "layout": {}}

    def new_page(scripts: bool) -> object:
        page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900},
                                java_script_enabled=scripts)
        page.on("request", lambda r: found["requests"].append(r.url))
        page.on("response", lambda r: found["failures"].append(f"{r.url}: {r.status}")
                if r.status >= 400 else None)
        return page

    themed, static = new_page(scripts=True), new_page(scripts=bool(shots))
    for path in _reading_pages(site_dir):
        tags = page_tags[path]
        found["footer"][path] = sum(tag == "a" and _has_class(a, "md-footer__link")
                                    for tag, a in tags)
        formulas = any(_has_class(a, "arithmatex") for _, a in tags)
        if path and not formulas and not shots:
            continue
        page = themed if not path or shots else static
        response = page.goto(server + path, wait_until="load")
        assert response is not None and response.ok, path
        page.evaluate("document.fonts.ready.then(() => true)")  # KaTeX's fonts set widths
        name = (path.strip("/") or "home").replace("/", "_")
        for width in WIDTHS if not path or shots else (NARROW,):
            page.set_viewport_size({"width": width, "height": 900})
            if not path:
                found["layout"][width] = page.evaluate(_LAYOUT)
            if width == NARROW and (overflow := page.evaluate(_FORMULA_OVERFLOW)):
                found["too_wide"][path or "/"] = overflow
            if shots:
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"),
                                full_page=shots == "full")
    themed.close()
    static.close()
    return found


def test_every_page_loads_with_no_request_off_localhost(reading):
    hosts = {urlparse(u).hostname for u in reading["requests"]
             if urlparse(u).scheme in ("http", "https")}
    assert hosts == {"127.0.0.1"}, f"requests left localhost: {sorted(hosts)}"
    assert not reading["failures"], reading["failures"]


def test_math_is_rendered_by_the_build_with_no_error(page_tags):
    """Every formula of every page (API pages included) is KaTeX HTML in the built page,
    none of them KaTeX's error span."""
    unrendered, errors = [], []
    for page, tags in page_tags.items():
        classes = [a.get("class", "").split() for _, a in tags]
        formulas = sum("arithmatex" in c for c in classes)
        if sum("katex" in c for c in classes) < formulas:
            unrendered.append(page)
        errors += [page] * any("katex-error" in c for c in classes)
    assert not unrendered and not errors, {"unrendered": unrendered, "errors": errors}


def test_the_narrow_column_is_the_narrowest_at_one_font_size(reading):
    """The premise of measuring formulas at the narrow width only (``reading``)."""
    layout = reading["layout"]
    assert len({v["rootFontSize"] for v in layout.values()}) == 1, layout
    assert min(layout, key=lambda w: layout[w]["column"]) == NARROW, layout


def test_no_formula_is_wider_than_its_column(reading):
    """At every width: measured at the narrow one; at a wider one it follows from the
    premise above."""
    too_wide = reading["too_wide"]
    assert not too_wide, f"formulas wider than the text column at {NARROW} px: {too_wide}"


def test_every_page_has_previous_and_next_links(reading):
    """The learning path: each page links the previous and the next (the first and the last
    only one of them)."""
    counts = reading["footer"]
    assert all(n >= 1 for n in counts.values()), counts
    assert sum(n == 1 for n in counts.values()) <= 2, counts


SEARCHES = [
    ("broadcast", "broadcasting/"),
    ("BatchNorm", "normalization/"),
    ("BCAST-5", "broadcasting/"),  # a clause id finds its clause's page first
    ("OPTIM-30", "optim/"),
    ("广播", "broadcasting/"),  # the notes' Chinese terms find their concept
    ("交叉熵", "losses/"),
    ("卷积", "convolution/"),
    ("优化器", "optim/"),
    ("批归一化", "normalization/"),
]


def test_search_finds_the_concept_first(server, browser):
    tab = browser.new_page()
    tab.goto(server, wait_until="networkidle")  # the search worker has its index
    search = tab.locator("input.md-search__input")
    wrong = {}
    for query, expected in SEARCHES:
        search.click()
        search.fill(query)
        search.press("End")  # Material searches on key events (fill types CJK without any)
        first = tab.locator(".md-search-result__item a").first
        try:
            first.wait_for(timeout=5_000)
            href = first.get_attribute("href")
        except Exception:  # no result at all
            href = None
        if href is None or not urlparse(urljoin(server, href)).path.endswith("/" + expected):
            wrong[query] = href
        search.fill("")
    tab.close()
    assert not wrong, f"searches whose first result is not the concept's page: {wrong}"
