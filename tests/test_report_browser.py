"""The report in a real browser: headless Chromium loads it with no console errors and shows
every figure. A screenshot of the top of the report and one of the primary-endpoint section are
saved to tests/_artifacts/ (git-ignored). Needs Debian's chromium and chromium-driver (CI
installs them in .ci/run)."""

import base64
from pathlib import Path

import pytest
from browser_util import chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_report_build import built_report  # noqa: F401  (session fixture: the report, built once)

ARTIFACTS = Path(__file__).parent / "_artifacts"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def test_report_renders_in_chromium(browser, built_report):  # noqa: F811
    browser.get(built_report.path.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.title.startswith("SIM-HAIR: ")

    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []

    expected = built_report.html.count("<svg")
    figures = browser.find_elements(By.CSS_SELECTOR, "figure > svg")
    assert len(figures) == expected >= 9
    for svg in figures:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", svg)
        size = svg.size
        assert svg.is_displayed(), svg.get_attribute("id")
        assert size["width"] > 100 and size["height"] > 100, size
    # no part of the page is wider than the window (tables scroll inside their wrapper)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    banner = browser.find_element(By.ID, "simulated-banner")
    assert banner.is_displayed() and "SIMULATED DATA" in banner.text

    # the table of contents links work: following one brings its section to the top
    browser.find_element(By.CSS_SELECTOR, 'nav.toc a[href="#sec-safety"]').click()
    WebDriverWait(browser, 10).until(lambda d: abs(d.execute_script(
        "return document.getElementById('sec-safety').getBoundingClientRect().top")) < 5)
    # the print stylesheet lays the report out on pages (one section per page at least)
    pdf = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"]
    pages = base64.b64decode(pdf).count(b"/Type /Page") - base64.b64decode(pdf).count(b"/Type /Pages")
    assert pages >= 12

    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0);")
    assert browser.save_screenshot(str(ARTIFACTS / "report_top.png"))
    browser.execute_script("document.getElementById('fig-primary_lsmeans').scrollIntoView();")
    assert browser.save_screenshot(str(ARTIFACTS / "report_primary.png"))
    browser.execute_script("document.getElementById('sec-relapse').scrollIntoView();")
    assert browser.save_screenshot(str(ARTIFACTS / "report_relapse.png"))
    for name in ("report_top.png", "report_primary.png", "report_relapse.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
