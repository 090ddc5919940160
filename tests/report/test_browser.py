"""The report in a real headless Chromium (driven by Playwright): pages load from the file
system with no console error and no request outside the report folder, the map shows every
plant, the table sorts and links, a plant page holds every overpass. Screenshots are written
beside the test's report for inspection. Skipped, with the reason, where no Chromium is
installed (`.ci/run` installs Debian's)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def chromium() -> str | None:
    """The system's Chromium (``PLANTWATCH_CHROMIUM`` overrides), or None."""
    names = (os.environ.get("PLANTWATCH_CHROMIUM", ""), "chromium", "chromium-browser",
             "google-chrome")  # fmt: skip
    return next((shutil.which(n) for n in names if n and shutil.which(n)), None)


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    if executable is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run "
                    "installs it): the report is not opened in a browser")  # fmt: skip
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Visit:
    """A page that records console errors, page errors and every requested URL."""

    def __init__(self, browser, folder: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.prefix = folder.resolve().as_uri()

    def open(self, path: Path) -> None:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.prefix)]


def test_the_index_shows_every_plant_sorts_and_links(browser, monitoring_report):
    report = monitoring_report["report"]
    plants = pd.read_csv(monitoring_report["predictions"], dtype={"plant_id": str})
    count = plants["plant_id"].nunique()
    visit = Visit(browser, report)
    visit.open(report / "index.html")
    assert visit.page.locator("#map path.point").count() == count  # drawn, not just in data
    assert visit.page.locator("#plants tbody tr").count() == count
    visit.page.screenshot(path=str(report.parent / "index.png"), full_page=True)
    visit.page.locator("#plants th", has_text="capacity (MW)").click()
    shown = visit.page.locator("#plants tbody tr td:nth-child(4)").all_inner_texts()
    assert [float(v) for v in shown] == sorted(float(v) for v in shown)
    first = visit.page.locator("#plants tbody tr td:first-child a").first
    plant = first.inner_text()
    first.click()
    visit.page.wait_for_load_state("load")
    assert visit.page.url.endswith(f"plants/{plant}.html")
    assert visit.errors == [] and visit.outside() == []


def test_a_plant_page_plots_every_overpass(browser, monitoring_report):
    report = monitoring_report["report"]
    plants = pd.read_csv(monitoring_report["predictions"], dtype={"plant_id": str})
    plant = plants["plant_id"].iloc[0]
    visit = Visit(browser, report)
    visit.open(report / "plants" / f"{plant}.html")
    drawn = visit.page.locator("#timeseries path.point").count()  # only overpasses have markers
    assert drawn == 2 * (plants["plant_id"] == plant).sum()  # power and CO₂
    assert visit.page.locator(".gallery img").count() >= 1
    loaded = visit.page.evaluate(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded
    visit.page.screenshot(path=str(report.parent / f"{plant}.png"), full_page=True)
    assert (report.parent / f"{plant}.png").stat().st_size > 10_000
    assert visit.errors == [] and visit.outside() == []
