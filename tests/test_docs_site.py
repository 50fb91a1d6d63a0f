"""The documentation site: `mkdocs build --strict` passes (tutorials executed, tables generated),
and headless Chromium clicks through every nav entry with no console error, no request leaving
the machine, and no broken internal link or anchor anywhere in the site.

The site is built once per session into a temporary folder (CI runs this through `make test`;
`make docs` builds the same site into site/). Screenshots of the home page, "Coming from R" and
the first tutorial are saved to tests/_artifacts/ (git-ignored). Needs Debian's chromium and
chromium-driver (CI installs them in .ci/run)."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from browser_util import chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).parent / "_artifacts"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert "WARNING" not in log, log[-5000:]
    return out


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no request log on stderr
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    # any host but the local server fails to resolve: a request leaving the machine would show
    # up as a console error
    with chromium(tmp_path_factory.mktemp("chromium-profile"),
                  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1") as driver:
        yield driver


# ------------------------------------------------------------------------------------------------
# links and anchors, over every page of the built site
# ------------------------------------------------------------------------------------------------
class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("script", "img", "iframe") and a.get("src"):
            self.resources.append(a["src"])
        if tag == "link" and a.get("href"):
            self.resources.append(a["href"])


def _parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def _target(site: Path, page: Path, href: str) -> tuple[Path, str]:
    base = "http://site/" + page.relative_to(site).as_posix()
    url = urlparse(urljoin(base, href))
    path = site / unquote(url.path).lstrip("/")
    if path.is_dir() or url.path.endswith("/"):
        path = path / "index.html"
    return path, unquote(url.fragment)


def test_every_internal_link_and_anchor_resolves_and_nothing_loads_from_the_network(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 20
    parsed = {p: _parse(p) for p in pages}
    broken, external = [], []
    for page, doc in parsed.items():
        for res in doc.resources:
            if urlparse(res).scheme in ("http", "https") or res.startswith("//"):
                external.append(f"{page.relative_to(site)}: {res}")
        for href in doc.links:
            scheme = urlparse(href).scheme
            if scheme in ("http", "https", "mailto") or href.startswith("//"):
                continue
            path, fragment = _target(site, page, href)
            if not path.exists():
                broken.append(f"{page.relative_to(site)}: {href} (no file {path.relative_to(site)})")
            elif fragment and path.suffix == ".html":
                ids = parsed[path].ids if path in parsed else _parse(path).ids
                if fragment not in ids:
                    broken.append(f"{page.relative_to(site)}: {href} (no anchor #{fragment})")
    assert external == []
    assert broken == []


# ------------------------------------------------------------------------------------------------
# the browser
# ------------------------------------------------------------------------------------------------
def _errors(browser) -> list:
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def _loaded(browser) -> None:
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def test_click_through_every_nav_entry_without_console_errors(site, server, browser):
    browser.get(server)
    _loaded(browser)
    assert browser.title.startswith("trialstats")
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('nav.md-nav--primary a.md-nav__link[href]'))"
        ".map(a => a.href)")
    pages = list(dict.fromkeys(h.split("#")[0] for h in hrefs))
    assert len(pages) >= 20, pages
    errors = {}
    for url in pages:
        link = browser.execute_script(
            "return Array.from(document.querySelectorAll('nav.md-nav--primary a.md-nav__link[href]'))"
            ".find(a => a.href.split('#')[0] === arguments[0]);", url)
        assert link is not None, url
        browser.execute_script("arguments[0].click();", link)  # a click on the nav entry
        WebDriverWait(browser, 30).until(lambda d, u=url: d.current_url.split("#")[0] == u)
        _loaded(browser)
        assert browser.find_element(By.CSS_SELECTOR, "article h1").text.strip(), url
        if found := _errors(browser):
            errors[url] = found
    assert errors == {}


def test_executed_pages_show_their_output_and_screenshots(site, server, browser):
    from trialstats.cli import build_parser
    from trialstats.report.plan import AnalysisPlan

    ARTIFACTS.mkdir(exist_ok=True)
    # the tutorial ran: its figures (inline SVG) and result tables are in the page
    browser.get(server + "tutorials/exo-hair-301/")
    _loaded(browser)
    figures = browser.find_elements(By.CSS_SELECTOR, "article .ts-figure svg")
    assert len(figures) >= 2 and all(f.size["width"] > 200 for f in figures)
    assert "kenward-roger" in browser.find_element(By.CSS_SELECTOR, "article").text.lower()
    assert browser.save_screenshot(str(ARTIFACTS / "docs_tutorial.png"))
    # the sap.toml reference names every top-level key of the plan the code defines
    text = (site / "how-to" / "sap-toml" / "index.html").read_text(encoding="utf-8")
    for key in AnalysisPlan().to_dict():
        assert f"<code>{key}" in text, key
    # the CLI page shows the help of every subcommand the parser defines
    text = (site / "how-to" / "cli" / "index.html").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        assert f"usage: trialstats {name}" in text, name
    # the validation table: 20 MMRM reference fits, none outside its bound
    text = (site / "validation" / "index.html").read_text(encoding="utf-8")
    assert text.count("✓") >= 80 and "✗" not in text
    for page, name in (("", "docs_home.png"), ("coming-from-r/", "docs_coming_from_r.png")):
        browser.get(server + page)
        _loaded(browser)
        assert browser.save_screenshot(str(ARTIFACTS / name))
    assert _errors(browser) == []
    for name in ("docs_home.png", "docs_coming_from_r.png", "docs_tutorial.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
