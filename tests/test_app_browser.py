"""`rima app` in a real browser (Debian's chromium through chromedriver and Selenium).

Uploads the bundled example as Stata, maps the variables, runs the fit and checks that
the page shows the mean RCI_100 and RSM of `rima fit` on the same file and that the
downloaded scores.csv is the command line's byte for byte; a mapping error and a bad file
show their messages; no horizontal overflow at 420 px; every control has a label and can
take the keyboard focus. Screenshots of each step (1,400 px wide) go to $RIMA_APP_SHOTS
(docs/app/ holds the committed ones) or to the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from rima.app.messages import EN, MN
from tests._app_server import EXAMPLE, ROOT, AppServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT_FIT = 900  # s; the first fit in a fresh checkout compiles the kernels


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    df = pd.read_csv(EXAMPLE / "households.csv")
    df["soum"] = df["soum"].astype("category")  # written with Stata value labels
    df.to_stata(tmp / "households.dta", write_index=False, version=118,
                variable_labels={"fcs": "Food consumption score", "hhid": "household id"})
    (tmp / "garbage.dta").write_bytes(b"\x00\x01 this is not a Stata file " * 40)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cli = subprocess.Popen(
        [sys.executable, "-m", "rima", "fit", str(tmp / "households.dta"), "--spec",
         str(EXAMPLE / "spec.toml"), "--out", str(tmp / "cli"), "--json", "--quiet"],
        stdout=subprocess.PIPE, env=env)
    subprocess.run([sys.executable, "-m", "rima", "simulate", "--panel", "--pilot", "--n", "600",
                    "--out", str(tmp / "sim")], env=env, check=True, capture_output=True,
                   timeout=600)
    (tmp / "sim" / "households.csv").rename(tmp / "panel.csv")
    (tmp / "sim" / "soums.csv").rename(tmp / "sim_soums.csv")
    shots = Path(os.environ.get("RIMA_APP_SHOTS") or tmp / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    return {"tmp": tmp, "cli": cli, "shots": shots, "env": env}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = AppServer(tmp_path_factory.mktemp("app"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.fail("chromium and chromium-driver are not installed: "
                    "apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run",
              "--window-size=1400,1000", "--lang=en"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_script_timeout(30)
    yield drv
    drv.quit()


def shot(drv, work, name):
    """A full-page screenshot 1,400 px wide."""
    h = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(1400, min(max(h, 800), 7000))
    save(drv, work["shots"] / f"{name}.png")
    drv.set_window_size(1400, 1000)


def save(drv, path):
    """The screenshot with a 256-colour palette: a quarter of the size, same legibility."""
    from PIL import Image

    drv.save_screenshot(str(path))
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


def wait(drv, cond, timeout=60):
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    # the page rebuilds the pickers when a spec is loaded: a stale element is retried
    try:
        return WebDriverWait(drv, timeout, poll_frequency=0.25, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException)).until(lambda d: cond(d))
    except TimeoutException:
        said = drv.execute_script(
            "return Array.from(document.querySelectorAll('p.error, #notice'))"
            ".map((p) => p.id + ': ' + p.textContent).filter((t) => !t.endsWith(': '))")
        raise AssertionError(f"condition not reached in {timeout} s; the page says {said}, "
                             f"console: {drv.get_log('browser')}") from None


def by_id(drv, i):
    from selenium.webdriver.common.by import By

    return drv.find_element(By.ID, i)


def checkbox(drv, field, column):
    from selenium.webdriver.common.by import By

    return drv.find_element(By.CSS_SELECTOR, f'#pick-{field} input[value="{column}"]')


def with_data(drv, server, work):
    """The page with the example uploaded (kept in the browser's workspace across tests)."""
    drv.get(server.url + "/")
    if "households.dta" not in by_id(drv, "file-select").text:
        by_id(drv, "upload-input").send_keys(str(work["tmp"] / "households.dta"))
    wait(drv, lambda d: by_id(d, "s-map").is_displayed()
         and d.find_elements("css selector", "#pick-pillar-AST input"))


def click(drv, element):
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def test_analysis_in_the_browser_matches_the_command_line(browser, server, work):
    drv = browser
    drv.get(server.url + "/")
    assert drv.find_element("tag name", "h1").text == EN["title"]
    shot(drv, work, "01-start")

    by_id(drv, "upload-input").send_keys(str(work["tmp"] / "households.dta"))
    wait(drv, lambda d: by_id(d, "s-preview").is_displayed()
         and "2240" in by_id(d, "preview-info").text)
    preview = by_id(drv, "preview").text
    assert "Food consumption score" in preview and "Uliastai" in preview  # labels shown
    # the mapping starts from rima init's guesses
    assert by_id(drv, "role-id").get_attribute("value") == "hhid"
    assert checkbox(drv, "pillar-AST", "herd_su").is_selected()
    shot(drv, work, "02-preview-and-guesses")

    # map exactly the bundled spec: load it as TOML (as an analyst reproducing a run would)
    by_id(drv, "spec-upload").send_keys(str(EXAMPLE / "spec.toml"))
    wait(drv, lambda d: not checkbox(d, "pillar-SSN", "child_money").is_selected())
    assert checkbox(drv, "pillar-SSN", "pug_member").is_selected()

    # a mapping error: AST with two variables is refused beside its control
    for col in ("shelter_quality", "has_motorbike", "has_vehicle", "n_durables"):
        click(drv, checkbox(drv, "pillar-AST", col))
    assert "at least 3" in by_id(drv, "err-pillar-AST").text
    click(drv, by_id(drv, "run"))
    wait(drv, lambda d: "a pillar needs at least 3" in by_id(d, "err-pillar-AST").text)
    shot(drv, work, "03-mapping-error")
    for col in ("shelter_quality", "has_motorbike", "has_vehicle", "n_durables"):
        click(drv, checkbox(drv, "pillar-AST", col))
    assert by_id(drv, "err-pillar-AST").text == ""
    shot(drv, work, "04-mapping")

    # the bootstrap's progress: every value the page shows is recorded as it changes
    by_id(drv, "n-boot").clear()
    by_id(drv, "n-boot").send_keys("30")
    drv.execute_script("""
      window.seenProgress = [];
      const note = () => window.seenProgress.push([document.getElementById('progress-bar').value,
        document.getElementById('boot-box').hidden ? null : document.getElementById('boot-bar').value,
        document.getElementById('boot-text').textContent]);
      new MutationObserver(note).observe(document.getElementById('progress'),
        {subtree: true, attributes: true, childList: true, characterData: true});""")
    click(drv, by_id(drv, "run"))
    # the bootstrap's bar appears with its first replicates (and stays after the run)
    wait(drv, lambda d: by_id(d, "boot-box").is_displayed() or by_id(d, "err-run").text,
         timeout=WAIT_FIT)
    shot(drv, work, "05-running")
    wait(drv, lambda d: d.find_elements("id", "rci-mean")
         or by_id(d, "err-run").text, timeout=WAIT_FIT)
    assert by_id(drv, "err-run").text == ""

    out, _ = work["cli"].communicate(timeout=WAIT_FIT)
    assert work["cli"].returncode == 0
    cli = json.loads(out)
    page_mean = float(by_id(drv, "rci-mean").get_attribute("data-value"))
    assert page_mean == cli["rci_100_mean"]
    page_rsm = {li.get_attribute("data-pillar"): float(li.get_attribute("data-value"))
                for li in drv.find_elements("css selector", "#rsm-values li")}
    assert page_rsm == cli["rsm"]
    assert by_id(drv, "rci-mean").text == f"{cli['rci_100_mean']:.2f}"
    seen = drv.execute_script("return window.seenProgress")
    overall = [v[0] for v in seen]
    boot = [v[1] for v in seen if v[1] is not None]
    assert overall == sorted(overall) and overall[-1] == 100
    assert boot == sorted(boot) and boot[-1] == 100
    assert seen[-1][2] == EN["progress_boot"].format(done=30, total=30, pct=100)
    assert by_id(drv, "progress-text").text.endswith("100 % done")
    shot(drv, work, "06-results")

    # sortable: a click on the share header orders the RSM rows by share
    click(drv, drv.find_element("css selector", "#rsm-table th:nth-child(2) button"))
    shares = [float(td.text) for td in
              drv.find_elements("css selector", "#rsm-table tbody td:nth-child(2)")]
    assert shares == sorted(shares)

    links = {a.text: a.get_attribute("href")
             for a in drv.find_elements("css selector", "#downloads a")}
    cookies = {c["name"]: c["value"] for c in drv.get_cookies()}
    got = httpx.get(links["scores.csv"], cookies=cookies, timeout=60).content
    assert got == (work["tmp"] / "cli" / "scores.csv").read_bytes()
    assert httpx.get(links["scores.csv"], timeout=60).status_code == 404  # no cookie, no file
    shot(drv, work, "07-downloads")

    # scoring new households with the saved model, and the targeting form
    by_id(drv, "upload-input").send_keys(str(work["tmp"] / "cli" / "model.json"))
    wait(drv, lambda d: "model.json" in by_id(d, "score-model").text)
    click(drv, by_id(drv, "score-run"))
    wait(drv, lambda d: "scores.csv" in by_id(d, "score-results").text
         or by_id(d, "err-score").text, timeout=WAIT_FIT)
    assert by_id(drv, "err-score").text == ""
    click(drv, by_id(drv, "an-run"))
    wait(drv, lambda d: "soum_ranking" in by_id(d, "an-results").text
         or by_id(d, "err-analysis").text, timeout=WAIT_FIT)
    assert by_id(drv, "err-analysis").text == ""
    # the analyst sees file names, never where the server keeps them
    assert str(server.data_dir) not in by_id(drv, "s-score").text + by_id(drv, "s-analyses").text
    shot(drv, work, "08-score-and-targeting")

    # the impact evaluation of a simulated pilot panel, with the model of this run
    from selenium.webdriver.support.ui import Select

    Select(by_id(drv, "an-kind")).select_by_value("impact")
    by_id(drv, "upload-input").send_keys(str(work["tmp"] / "panel.csv") + "\n"
                                         + str(work["tmp"] / "sim_soums.csv"))
    wait(drv, lambda d: "sim_soums.csv" in by_id(d, "an-soums").text
         and "panel.csv" in by_id(d, "im-panel").text)
    assert by_id(drv, "im-treatment").is_displayed()
    Select(by_id(drv, "im-panel")).select_by_value("panel.csv")
    Select(by_id(drv, "an-soums")).select_by_value("sim_soums.csv")
    for field, value in (("im-outcome", "fcs,RCI_100"), ("im-n_boot", "99"), ("im-seed", "3")):
        by_id(drv, field).clear()
        by_id(drv, field).send_keys(value)
    click(drv, by_id(drv, "an-run"))
    wait(drv, lambda d: "impact_estimates" in by_id(d, "an-results").text
         or by_id(d, "err-analysis").text, timeout=WAIT_FIT)
    assert by_id(drv, "err-analysis").text == ""
    img = drv.find_element("css selector", '#an-results img[src$="impact_event_study.png"]')
    wait(drv, lambda d: d.execute_script("return arguments[0].naturalWidth", img) > 0)
    subprocess.run([sys.executable, "-m", "rima", "impact", str(work["tmp"] / "panel.csv"),
                    "--model", str(work["tmp"] / "cli" / "model.json"), "--soums",
                    str(work["tmp"] / "sim_soums.csv"), "--treatment", "topup", "--outcome",
                    "fcs,RCI_100", "--n-boot", "99", "--seed", "3", "--out",
                    str(work["tmp"] / "cli_impact")], env=work["env"], check=True,
                   capture_output=True, timeout=WAIT_FIT)
    link = drv.find_element("css selector", '#an-results a[href$="/impact_estimates.csv"]')
    got = httpx.get(link.get_attribute("href"), cookies=cookies, timeout=60).content
    assert got == (work["tmp"] / "cli_impact" / "impact_estimates.csv").read_bytes()
    drv.execute_script("arguments[0].scrollIntoView()", by_id(drv, "h-analyses"))
    shot(drv, work, "12-impact")


def test_bad_file_shows_its_message(browser, server, work):
    drv = browser
    drv.get(server.url + "/")
    by_id(drv, "upload-input").send_keys(str(work["tmp"] / "garbage.dta"))
    wait(drv, lambda d: "garbage.dta" in by_id(d, "err-upload").text)
    assert "cannot read" in by_id(drv, "err-upload").text
    shot(drv, work, "09-bad-file")


def test_phone_width_has_no_horizontal_overflow(browser, server, work):
    from selenium.webdriver.support.ui import Select

    drv = browser
    with_data(drv, server, work)
    Select(by_id(drv, "an-kind")).select_by_value("impact")  # the widest form is shown too
    drv.execute_script("document.getElementById('options').open = true")
    drv.set_window_size(420, 900)
    try:
        wide = drv.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], wide
        save(drv, work["shots"] / "10-phone-420px.png")
    finally:
        drv.set_window_size(1400, 1000)


def test_every_control_has_a_label_and_takes_the_keyboard(browser, server, work):
    from selenium.webdriver.common.keys import Keys

    drv = browser
    with_data(drv, server, work)
    # the options sit in a <details>: a keyboard user opens it with Enter on its summary
    summary = drv.find_element("css selector", "#options summary")
    summary.send_keys(Keys.ENTER)
    assert drv.find_element("id", "options").get_attribute("open") is not None
    from selenium.webdriver.support.ui import Select

    Select(by_id(drv, "an-kind")).select_by_value("impact")  # its form's controls too
    assert by_id(drv, "im-n_boot").is_displayed()
    problems = drv.execute_script("""
      const bad = [];
      for (const e of document.querySelectorAll('input, select, button, textarea, a[href], summary')) {
        if (!e.getClientRects().length || e.disabled) continue;
        const name = (e.labels && e.labels.length) || e.getAttribute('aria-label')
          || (['BUTTON', 'A', 'SUMMARY'].includes(e.tagName) && e.textContent.trim());
        if (!name) bad.push('no label: ' + (e.id || e.outerHTML.slice(0, 80)));
        if (e.tabIndex < 0) bad.push('not in the tab order: ' + (e.id || e.tagName));
        e.focus();
        if (document.activeElement !== e) bad.push('cannot focus: ' + (e.id || e.tagName));
      }
      return bad;""")
    assert problems == []
    # and real Tab presses walk from the top through the first controls in order
    body = drv.find_element("tag name", "body")
    drv.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    seen = []
    for _ in range(6):
        body.send_keys(Keys.TAB) if not seen else drv.switch_to.active_element.send_keys(Keys.TAB)
        seen.append(drv.switch_to.active_element.get_attribute("id")
                    or drv.switch_to.active_element.text)
    assert "upload-input" in seen


def test_language_switch_to_mongolian_keeps_the_mapping(browser, server, work):
    drv = browser
    with_data(drv, server, work)
    box = checkbox(drv, "pillar-AC", "training")
    if box.is_selected():
        click(drv, box)
    drv.find_element("css selector", 'a[hreflang="mn"]').click()
    wait(drv, lambda d: d.find_element("tag name", "h1").text == MN["title"])
    assert MN["step_map"] in drv.page_source
    with_data(drv, server, work)  # the workspace survives the switch: its files are listed
    assert drv.find_element("tag name", "h1").text == MN["title"]
    assert not checkbox(drv, "pillar-AC", "training").is_selected()  # the mapping too
    assert checkbox(drv, "pillar-AC", "otor_moves").is_selected()
    click(drv, checkbox(drv, "pillar-AC", "training"))
    # an option's help and a refusal from the server, in Mongolian
    summary = drv.find_element("css selector", "#options summary")
    click(drv, summary)
    assert by_id(drv, "opt-missing-help").text.startswith(MN["opt_missing"])
    assert by_id(drv, "opt-factor-rotation-help").text.startswith(MN["opt_factor.rotation"])
    click(drv, summary)
    moved = [c for c in ("herd_su", "hay_reserve_t", "shelter_quality", "has_motorbike",
                         "has_vehicle", "n_durables") if checkbox(drv, "pillar-AST", c).is_selected()]
    for col in moved[2:]:
        click(drv, checkbox(drv, "pillar-AST", col))
    click(drv, by_id(drv, "run"))
    want = MN["err_pillar_min"].format(name="AST", n=2, min=3)
    wait(drv, lambda d: want in by_id(d, "err-pillar-AST").text)
    shot(drv, work, "11-mongolian")
    for col in moved[2:]:
        click(drv, checkbox(drv, "pillar-AST", col))
    by_id(drv, "upload-input").send_keys(str(work["tmp"] / "garbage.dta"))
    wait(drv, lambda d: "garbage.dta" in by_id(d, "err-upload").text)
    assert any("\u0400" <= ch <= "\u04ff" for ch in by_id(drv, "err-upload").text)
    drv.find_element("css selector", 'a[hreflang="en"]').click()
    wait(drv, lambda d: d.find_element("tag name", "h1").text == EN["title"])
