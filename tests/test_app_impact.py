"""The impact evaluation form of `rima app` over HTTP: the same numbers as `rima impact`.

A simulated pilot panel (`rima simulate --panel --pilot`, three rounds, the top-up in five
soums) is uploaded; the form's options become the command's options, so the downloaded
tables equal the command line's byte for byte.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tomllib

import pytest

from rima.app.messages import MN
from tests._app_server import EXAMPLE, ROOT, AppServer, wait_job

SPEC = tomllib.loads((EXAMPLE / "spec.toml").read_text(encoding="utf-8"))
FORM = {"kind": "impact", "panel": "panel.csv", "soums": "sim_soums.csv",
        "treatment_mode": "column", "treatment": "topup", "outcome": "fcs,RCI_100",
        "n_boot": "99", "boot_weights": "webb", "seed": "3", "level": "0.9",
        "round_col": "round", "dzud_classes": "dzud"}


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "rima", *args], capture_output=True, text=True,
                       env=env, timeout=900, check=False, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sim")
    cli("simulate", "--panel", "--pilot", "--n", "600", "--out", str(tmp / "sim"))
    cli("fit", str(EXAMPLE / "households.csv"), "--spec", str(EXAMPLE / "spec.toml"), "--out",
        str(tmp / "fit"), "--quiet", "--no-report")
    return tmp


@pytest.fixture(scope="module")
def page(tmp_path_factory, sim):
    srv = AppServer(tmp_path_factory.mktemp("app"))
    import httpx

    c = httpx.Client(base_url=srv.url, timeout=120)
    c.get("/")
    for name, path in (("panel.csv", sim / "sim" / "households.csv"),
                       ("sim_soums.csv", sim / "sim" / "soums.csv"),
                       ("hh.csv", EXAMPLE / "households.csv"),
                       ("model.json", sim / "fit" / "model.json")):
        assert c.post("/api/files", params={"name": name}, content=path.read_bytes()).is_success
    fit = c.post("/api/fit", json={"file": "hh.csv", "spec": SPEC}).json()["job"]
    assert wait_job(c, fit)["state"] == "done"
    yield c, fit
    srv.stop()


def run(c, body):
    r = c.post("/api/analysis", json=body)
    assert r.status_code == 200, r.text
    job = r.json()["job"]
    done = wait_job(c, job)
    assert done["state"] == "done", done["errors"]
    return job


def test_impact_with_the_runs_model_equals_the_command_line(page, sim):
    c, fit = page
    job = run(c, {**FORM, "fit": fit, "model_source": "fit"})
    cli("impact", str(sim / "sim" / "households.csv"), "--model", str(sim / "fit" / "model.json"),
        "--soums", str(sim / "sim" / "soums.csv"), "--treatment", "topup",
        "--outcome", "fcs,RCI_100", "--n-boot", "99", "--seed", "3", "--level", "0.9",
        "--out", str(sim / "cli_impact"))
    for name in ("impact_estimates", "impact_event_study", "impact_heterogeneity",
                 "impact_responsiveness", "impact_households"):
        got = c.get(f"/api/jobs/{job}/files/{name}.csv")
        assert got.status_code == 200, name
        assert got.content == (sim / "cli_impact" / f"{name}.csv").read_bytes(), name
    page_html = c.get(f"/api/jobs/{job}/results").json()
    # the event-study figure (the command's --report section) and the report with it
    assert f"/api/jobs/{job}/files/figures/impact_event_study.png" in page_html["results"]
    png = c.get(f"/api/jobs/{job}/files/figures/impact_event_study.png").content
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "impact" in c.get(f"/api/jobs/{job}/files/report.html").text.lower()
    assert "impact_estimates.csv" in page_html["downloads"]
    assert "exports/impact_estimates.dta" in page_html["downloads"]
    assert "Impact evaluation" in page_html["results"] and "/tmp/" not in page_html["results"]


def test_impact_from_the_mapping_and_from_pilot_soums(page, sim):
    import pandas as pd

    c, _ = page
    # the mapping of step 3 fitted on the baseline round (--spec), no run needed
    job = run(c, {**FORM, "model_source": "spec", "spec": SPEC})
    est = pd.read_csv(io.BytesIO(c.get(f"/api/jobs/{job}/files/impact_estimates.csv").content))
    assert {"fcs", "RCI_100"} <= set(est["outcome"])
    # every household of the pilot soums treated, raw outcomes only
    hh = pd.read_csv(sim / "sim" / "households.csv")
    pilots = ",".join(sorted(hh.loc[hh["topup"] == 1, "soum"].unique()))
    job = run(c, {**FORM, "model_source": "none", "treatment_mode": "pilot",
                  "treatment": pilots, "outcome": "fcs", "n_boot": "0"})
    est = pd.read_csv(io.BytesIO(c.get(f"/api/jobs/{job}/files/impact_estimates.csv").content))
    assert set(est["outcome"]) == {"fcs"}
    # a saved model file
    job = run(c, {**FORM, "model_source": "file", "model_file": "model.json", "n_boot": "0"})
    assert c.get(f"/api/jobs/{job}/files/impact_estimates.csv").status_code == 200


def test_impact_form_errors_are_named_in_the_analysts_language(page):
    c, fit = page
    r = c.post("/api/analysis", json={**FORM, "fit": fit, "treatment": ""})
    assert r.status_code == 400 and "treatment" in r.json()["errors"][0]["message"]
    r = c.post("/api/analysis?lang=mn", json={**FORM, "fit": fit, "level": "1.5"})
    assert r.status_code == 400 and r.json()["errors"][0]["message"] == MN["impact_level"]
    r = c.post("/api/analysis", json={**FORM, "fit": fit, "seed": "x"})
    assert r.status_code == 400 and "seed" in r.json()["errors"][0]["message"]
    # the command's own refusal reaches the page: a treatment column the panel lacks
    job = c.post("/api/analysis", json={**FORM, "fit": fit, "treatment": "no_such_col",
                                        "model_source": "none"}).json()["job"]
    done = wait_job(c, job)
    assert done["state"] == "failed" and "no_such_col" in done["errors"][0]["message"]
    # an option-like value stays a value
    job = c.post("/api/analysis", json={**FORM, "fit": fit, "model_source": "none",
                                        "outcome": "--no-model"}).json()["job"]
    done = wait_job(c, job)
    assert done["state"] == "failed" and "--no-model" in done["errors"][0]["message"]
