"""Headless Debian Chromium for the browser tests (report and documentation site).

CI installs ``chromium`` and ``chromium-driver`` (.ci/run); the browser runs with no network
services of its own, a throw-away profile and its console log captured.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BASE_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--window-size=1400,1000")


@contextlib.contextmanager
def chromium(profile: Path, *extra_args: str):
    """A Selenium driver of headless Chromium with ``profile`` as its user-data folder."""
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in (*BASE_ARGS, *extra_args, f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
