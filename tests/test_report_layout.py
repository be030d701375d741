"""The report on any screen, in headless Chromium driven by Selenium: no horizontal page
overflow at 1,400 px and 420 px, viewport meta, table of contents, provenance, methods
note, signed correlations, a print stylesheet that gives a PDF."""

import base64
import shutil
import warnings

import pytest
from conftest import EXAMPLE_DATA, EXAMPLE_SPEC

import rima

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(EXAMPLE_DATA, EXAMPLE_SPEC)
    out = res.save(tmp_path_factory.mktemp("fit"), report=True)
    return res, out / "report.html"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run",
              "--disable-dev-shm-usage"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _overflow(browser, url, width):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    browser.get(url)
    return browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth,"
        " Array.from(document.images).filter(i => i.getBoundingClientRect().right >"
        " window.innerWidth + 1).length]")


@pytest.mark.parametrize("width", [1400, 420])
def test_no_horizontal_overflow(report, browser, width):
    _, path = report
    scroll, inner, wide_images = _overflow(browser, path.as_uri(), width)
    assert inner == width
    assert scroll <= inner, f"page is {scroll} px wide in a {inner} px window"
    assert wide_images == 0


def test_head_toc_provenance_methods(report, browser):
    res, path = report
    text = path.read_text()
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in text
    browser.get(path.as_uri())
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('nav.toc a')).map(a => a.hash.slice(1))")
    assert len(links) >= 6
    missing = browser.execute_script(
        "return arguments[0].filter(id => !document.getElementById(id))", links)
    assert missing == []
    prov = browser.find_element("css selector", "dl.provenance").text
    assert str(EXAMPLE_DATA) in prov and str(EXAMPLE_SPEC) in prov
    assert rima.__version__ in prov and "UTC" in prov
    assert res.model.metadata["training_fingerprint"] in prov
    assert "Resilience Structure Matrix" in text and "About this analysis" in text
    # the signed correlation is printed beside each share
    assert "corr with RCI" in text
    for r in res.rsm.itertuples():
        assert f"{r.r_signed:.2f}" in text


def test_print_stylesheet_gives_a_pdf(report, browser):
    _, path = report
    assert "@media print" in path.read_text()
    browser.get(path.as_uri())
    pdf = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})
    data = base64.b64decode(pdf["data"])
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") > 5
