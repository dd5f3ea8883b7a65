"""The docs site as a product: built strictly, served on localhost and read in a real browser
(Playwright driving Debian's Chromium). Screenshots go to ``artifacts/screenshots/``."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from tests.clauses import ROOT, defined_clauses, write_conformance_page

pytestmark = pytest.mark.spec()  # checks the site itself, no clause

CHROMIUM = Path(os.environ.get("REFSPEC_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
BUILD_BUDGET_S = 30.0
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


# --- build once per run (shared by xdist workers through a lock) -----------------------


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The strictly built site directory and how long the build took."""
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
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site_dir)],
                cwd=ROOT, capture_output=True, text=True,
                env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
            )
            if proc.returncode:
                shutil.rmtree(site_dir, ignore_errors=True)
                pytest.fail(f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}")
            timing.write_text(f"{time.perf_counter() - start:.3f}")
    return site_dir, float(timing.read_text())


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
    assert seconds < BUILD_BUDGET_S, f"mkdocs build --strict took {seconds:.1f} s"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(attributes["href"])


def test_no_page_has_a_broken_internal_link(site):
    site_dir, _ = site
    parsed: dict[Path, _Links] = {}

    def links_of(path: Path) -> _Links:
        if path not in parsed:
            parser = _Links()
            parser.feed(path.read_text(encoding="utf-8"))
            parsed[path] = parser
        return parsed[path]

    broken = []
    for page in _pages(site_dir):
        source = site_dir / page / "index.html"
        for href in links_of(source).hrefs:
            url = urlparse(urljoin(f"http://site/{page}", href))
            if url.netloc != "site":
                continue  # external: not followed (and never requested, see below)
            target = site_dir / unquote(url.path).lstrip("/")
            if target.is_dir() or url.path.endswith("/"):
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page or '/'} -> {href}")
            elif url.fragment and target.suffix == ".html":
                if unquote(url.fragment) not in links_of(target).ids:
                    broken.append(f"{page or '/'} -> {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


# --- in the browser -------------------------------------------------------------------


def test_every_page_loads_with_no_request_off_localhost(site, server, browser):
    site_dir, _ = site
    page = browser.new_page()
    requested: list[str] = []
    failures: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on(
        "response",
        lambda r: failures.append(f"{r.url}: {r.status}") if r.status >= 400 else None,
    )
    for path in _pages(site_dir):
        response = page.goto(server + path, wait_until="load")
        assert response is not None and response.ok, path
    page.close()
    hosts = {urlparse(u).hostname for u in requested if urlparse(u).scheme in ("http", "https")}
    assert hosts == {"127.0.0.1"}, f"requests left localhost: {sorted(hosts)}"
    assert not failures, failures


def test_math_renders_with_katex(server, browser):
    page = browser.new_page()
    page.goto(server + "broadcasting/", wait_until="load")
    page.wait_for_selector(".arithmatex .katex", timeout=10_000)
    assert page.locator(".arithmatex .katex").count() >= 3
    assert page.locator(".katex-error").count() == 0
    page.close()


@pytest.mark.parametrize("query", ["broadcast", "BatchNorm"])
def test_search_finds(server, browser, query):
    page = browser.new_page()
    page.goto(server, wait_until="networkidle")  # the search worker has its index
    search = page.locator("input.md-search__input")
    search.click()
    search.press_sequentially(query, delay=20)  # Material searches on key events
    page.wait_for_selector(".md-search-result__item", timeout=10_000)
    assert query.lower() in page.locator(".md-search-result").inner_text().lower()
    page.close()


def test_conformance_table_has_a_row_per_clause(server, browser):
    page = browser.new_page()
    page.goto(server + "conformance/", wait_until="load")
    rows = page.locator("table tr:has(a[href*='#'])")
    linked = {rows.nth(i).locator("a").first.inner_text() for i in range(rows.count())}
    assert linked == set(defined_clauses())
    page.close()


def test_screenshots_of_home_and_a_concept_page(server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for name, path in [("home", ""), ("broadcasting", "broadcasting/")]:
        page.goto(server + path, wait_until="load")
        page.wait_for_timeout(300)  # let KaTeX finish
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000
    page.close()
