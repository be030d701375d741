"""`rima app` over HTTP: uploads, mapping and data errors, isolation, limits, jobs."""

from __future__ import annotations

import io
import json
import threading
import tomllib
import zipfile

import httpx
import pandas as pd
import pytest

from rima.app.messages import EN, MN
from rima.app.store import Store
from tests._app_server import EXAMPLE, AppServer, wait_job

SPEC = tomllib.loads((EXAMPLE / "spec.toml").read_text(encoding="utf-8"))
HOUSEHOLDS = pd.read_csv(EXAMPLE / "households.csv")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = AppServer(tmp_path_factory.mktemp("app"), "--max-upload-mb", "2", "--jobs", "2")
    yield srv
    srv.stop()


def analyst(server) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=120)
    assert c.get("/").status_code == 200  # the page sets the workspace cookie
    return c


def csv_bytes(df) -> bytes:
    return df.to_csv(index=False).encode()


def test_page_is_self_contained_and_in_two_languages(server):
    c = analyst(server)
    page = c.get("/").text
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
    assert '<meta name="viewport"' in page
    mn = c.get("/?lang=mn").text
    assert MN["title"] in mn and 'lang="mn"' in mn
    assert c.get("/static/app.js").status_code == 200
    assert c.get("/static/../server.py").status_code == 404


def test_catalogue_has_every_message_in_mongolian():
    assert set(MN) == set(EN)
    assert all(any("\u0400" <= ch <= "\u04ff" for ch in v) or v.startswith(("rima", "RCI", "AST",
               "ABS", "SSN", "AC", "MIMIC", "Bootstrap"))
               for v in MN.values())


def test_mapping_error_names_the_pillar(server):
    c = analyst(server)
    c.post("/api/files", params={"name": "hh.csv"}, content=csv_bytes(HOUSEHOLDS))
    bad = json.loads(json.dumps(SPEC))
    bad["pillars"]["AST"] = ["herd_su", "hay_reserve_t"]
    bad["indicators"]["food_security"] = ["fcs", "herd_su"]
    errs = c.post("/api/fit", json={"file": "hh.csv", "spec": bad}).json()["errors"]
    fields = {e["field"]: e["message"] for e in errs}
    assert "needs at least 3" in fields["pillar-AST"]
    assert "already used in pillar-AST" in fields["indicators"]


def test_data_error_names_rows_beside_the_pillar(server):
    c = analyst(server)
    df = HOUSEHOLDS.copy()
    df["herd_su"] = df["herd_su"].astype(object)
    df.loc[[2, 6], "herd_su"] = "many"
    c.post("/api/files", params={"name": "bad.csv"}, content=csv_bytes(df))
    r = c.post("/api/fit", json={"file": "bad.csv", "spec": SPEC})
    assert r.status_code == 422
    (err,) = [e for e in r.json()["errors"] if e["field"] == "pillar-AST"]
    assert err["rows"] == [3, 7] and "herd_su" in err["message"]


def test_bad_file_and_too_large_file_are_refused_with_a_message(server):
    c = analyst(server)
    r = c.post("/api/files", params={"name": "survey.dta"}, content=b"not a stata file" * 10)
    assert r.status_code == 400
    msg = r.json()["errors"][0]["message"]
    assert "survey.dta" in msg and str(server.data_dir) not in msg
    assert c.get("/api/files").json()["files"] == []  # nothing half-kept
    r = c.post("/api/files", params={"name": "big.csv"}, content=b"x" * (3 * 1024 * 1024))
    assert r.status_code == 413
    assert c.get("/api/files").json()["files"] == []


def test_semicolon_and_decimal_comma_are_detected(server):
    c = analyst(server)
    text = HOUSEHOLDS.head(50).to_csv(index=False, sep=";", decimal=",")
    c.post("/api/files", params={"name": "excel_export.csv"}, content=text.encode())
    p = c.get("/api/files/excel_export.csv/preview").json()
    assert (p["separator"], p["decimal"]) == (";", ",")
    types = {col["name"]: col["type"] for col in p["columns"]}
    assert types["hay_reserve_t"] == "numeric" and p["n_cols"] == HOUSEHOLDS.shape[1]
    assert p["guess"]["spec"]["data"]["id"] == "hhid"


def test_stata_preview_shows_value_and_variable_labels(server, tmp_path):
    c = analyst(server)
    df = HOUSEHOLDS.head(100).copy()
    df["soum"] = df["soum"].astype("category")
    path = tmp_path / "hh.dta"
    df.to_stata(path, write_index=False, version=118,
                variable_labels={"fcs": "Food consumption score"})
    c.post("/api/files", params={"name": "hh.dta"}, content=path.read_bytes())
    cols = {x["name"]: x for x in c.get("/api/files/hh.dta/preview").json()["columns"]}
    assert cols["fcs"]["label"] == "Food consumption score"
    assert "Uliastai" in cols["soum"]["values"].values()


def test_spec_toml_round_trip(server):
    c = analyst(server)
    toml = c.post("/api/spec/toml", json=SPEC).text
    assert tomllib.loads(toml)["pillars"] == SPEC["pillars"]
    back = c.post("/api/spec/parse", content=toml.encode()).json()["spec"]
    assert back["pillars"] == SPEC["pillars"] and back["data"] == SPEC["data"]
    assert c.post("/api/spec/parse", content=b"[data\n").status_code == 400


def test_five_analysts_at_once_get_their_own_results(server):
    """Each uploads a different sample and fits at the same time; none sees another's job."""
    samples = [HOUSEHOLDS.iloc[i * 60:].reset_index(drop=True) for i in range(5)]
    clients = [analyst(server) for _ in samples]
    jobs, outcome = [None] * 5, [None] * 5

    def work(i):
        c = clients[i]
        c.post("/api/files", params={"name": "mine.csv"}, content=csv_bytes(samples[i]))
        r = c.post("/api/fit", json={"file": "mine.csv", "spec": SPEC})
        jobs[i] = r.json()["job"]
        outcome[i] = wait_job(c, jobs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=1800)
    assert all(o and o["state"] == "done" for o in outcome), outcome
    for i, c in enumerate(clients):
        scores = pd.read_csv(io.BytesIO(c.get(f"/api/jobs/{jobs[i]}/files/scores.csv").content))
        assert list(scores["hhid"]) == list(samples[i]["hhid"])
        for j in range(5):
            if j != i:
                for path in ("", "/results", "/zip", "/files/scores.csv"):
                    assert c.get(f"/api/jobs/{jobs[j]}{path}").status_code == 404
    assert len(set(jobs)) == 5 and all(len(j) >= 20 for j in jobs)
    # the zip holds every table in CSV, Stata and Excel, the model, spec and report
    z = zipfile.ZipFile(io.BytesIO(clients[0].get(f"/api/jobs/{jobs[0]}/zip").content))
    names = set(z.namelist())
    assert {"scores.csv", "rsm.csv", "mimic.csv", "model.json", "spec.toml", "report.html",
            "exports/tables.xlsx", "exports/mimic.dta", "exports/scores.dta"} <= names
    mimic = pd.read_stata(io.BytesIO(z.read("exports/mimic.dta")))
    assert "ci_lower" in mimic.columns
    # no household data, file names or column names in the server log
    log = server.log_text()
    assert "mine.csv" not in log and "herd_su" not in log and str(samples[0]["hhid"][0]) not in log


def test_delete_my_data_removes_the_workspace(server):
    c = analyst(server)
    c.post("/api/files", params={"name": "mine.csv"}, content=csv_bytes(HOUSEHOLDS.head(20)))
    dirs = {p for p in server.data_dir.iterdir()}
    assert c.post("/api/delete").status_code == 200
    assert len({p for p in server.data_dir.iterdir()}) == len(dirs) - 1
    assert c.get("/api/files").json()["files"] == []


def test_workspaces_expire(tmp_path):
    now = [1000.0]
    store = Store(tmp_path, retention=24 * 3600, clock=lambda: now[0])
    ws = store.create()
    assert store.get(ws.key) is ws and ws.path.is_dir()
    now[0] += 24 * 3600 - 1
    assert store.purge() == 0
    now[0] += 2
    assert store.purge() == 1 and not ws.path.exists() and store.get(ws.key) is None
    assert store.get("guessed-" + "x" * 40) is None


def test_token_server_asks_for_sign_in(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token-for-the-app-test\n")
    srv = AppServer(tmp_path, "--token-file", str(token))
    try:
        c = httpx.Client(base_url=srv.url, timeout=30)
        assert c.get("/api/files").status_code == 401
        assert c.get("/").headers.get("location") == "/login" or c.get("/").status_code == 303
        assert c.post("/login", content=b"token=wrong").status_code == 401
        r = c.post("/login", content=b"token=s3cret-token-for-the-app-test")
        assert r.status_code == 303
        assert c.get("/api/files").status_code == 200
    finally:
        srv.stop()
    assert "s3cret" not in srv.log_text()
    assert not list(srv.data_dir.glob("ws-*"))  # a stopped server leaves no workspace


@pytest.fixture(scope="module")
def boot_job(server):
    c = analyst(server)
    c.post("/api/files", params={"name": "hh.csv"}, content=csv_bytes(HOUSEHOLDS))
    job = c.post("/api/fit", json={"file": "hh.csv", "spec": SPEC, "n_boot": 20}).json()["job"]
    return c, job, wait_job(c, job)


def test_bootstrap_intervals_and_progress_reach_the_page(boot_job):
    c, job, done = boot_job
    assert done["state"] == "done" and any("bootstrap" in s for s in done["steps"])
    page = c.get(f"/api/jobs/{job}/results").json()
    assert "Bootstrap interval" in page["results"]
    boot = pd.read_csv(io.BytesIO(c.get(f"/api/jobs/{job}/files/bootstrap_rsm.csv").content))
    for p, lo, hi in zip(boot["pillar"], boot["ci_lower"], boot["ci_upper"]):
        assert f"{lo:.2f} – {hi:.2f}" in page["results"], p


def test_failed_fit_reports_the_command_error(server):
    c = analyst(server)
    df = HOUSEHOLDS.copy()
    df["fcs"] = 1.0  # constant indicator: validation refuses it beside the indicators
    c.post("/api/files", params={"name": "flat.csv"}, content=csv_bytes(df))
    r = c.post("/api/fit", json={"file": "flat.csv", "spec": SPEC})
    assert r.status_code == 422
    (err,) = r.json()["errors"]
    assert err["field"] == "indicators" and "fcs" in err["message"]


def test_scoring_api_in_the_same_process(boot_job, tmp_path):
    c, job, _ = boot_job
    model = tmp_path / "model.json"
    model.write_bytes(c.get(f"/api/jobs/{job}/files/model.json").content)
    srv = AppServer(tmp_path, "--model", f"zavkhan={model}")
    try:
        s = httpx.Client(base_url=srv.url, timeout=60)
        assert s.get("/").status_code == 200
        names = [m["name"] for m in s.get("/service/models").json()]
        assert names == ["zavkhan"]
        body = HOUSEHOLDS.head(5).to_csv(index=False)
        r = s.post("/service/models/zavkhan/score", content=body,
                   headers={"content-type": "text/csv"})
        assert r.status_code == 200
    finally:
        srv.stop()


def test_analyses_run_from_the_forms(boot_job):
    c, job, _ = boot_job
    c.post("/api/files", params={"name": "soums.csv"},
           content=(EXAMPLE / "soums.csv").read_bytes())
    forms = {
        "target": {"soums": "soums.csv", "thresholds": "30,60"},
        "shocks": {"soums": "soums.csv", "outcome": "fcs", "regression": "ols"},
        "scenario": {"change": "enrol social_insurance share=0.05", "boot": 20},
    }
    started = {k: c.post("/api/analysis", json={"kind": k, "fit": job, **v}).json()["job"]
               for k, v in forms.items()}
    for kind, jid in started.items():
        done = wait_job(c, jid)
        assert done["state"] == "done", (kind, done["errors"])
        page = c.get(f"/api/jobs/{jid}/results").json()["results"]
        assert "summary.txt" not in page and str(job) not in page
        assert "/tmp/" not in page  # no server paths
    assert "soum_ranking" in c.get(f"/api/jobs/{started['target']}/results").json()["results"]
    r = c.post("/api/analysis", json={"kind": "target", "fit": "no-such-job"})
    assert r.status_code == 400
    assert c.post("/api/analysis", json={"kind": "target", "fit": job,
                                         "thresholds": "x"}).status_code == 400


def test_excel_sheets_spss_and_parquet(server, tmp_path):
    import pyreadstat

    c = analyst(server)
    xlsx = tmp_path / "survey.xlsx"
    with pd.ExcelWriter(xlsx) as xw:
        pd.DataFrame({"note": ["read me"]}).to_excel(xw, sheet_name="notes", index=False)
        HOUSEHOLDS.head(40).to_excel(xw, sheet_name="households", index=False)
    c.post("/api/files", params={"name": "survey.xlsx"}, content=xlsx.read_bytes())
    first = c.get("/api/files/survey.xlsx/preview").json()
    assert first["sheets"] == ["notes", "households"] and first["n_cols"] == 1
    second = c.get("/api/files/survey.xlsx/preview", params={"sheet": "households"}).json()
    assert second["n_rows"] == 40 and second["guess"]["spec"]["data"]["id"] == "hhid"

    sav = tmp_path / "survey.sav"
    df = HOUSEHOLDS.head(30)[["hhid", "fcs", "hdds"]].copy()
    df["sex"] = [1, 2] * 15
    pyreadstat.write_sav(df, str(sav), column_labels=["household", "FCS", "HDDS", "sex"],
                         variable_value_labels={"sex": {1: "male", 2: "female"}})
    pq = tmp_path / "survey.parquet"
    HOUSEHOLDS.head(25).to_parquet(pq)
    c.post("/api/files", params={"name": "survey.sav"}, content=sav.read_bytes())
    c.post("/api/files", params={"name": "survey.parquet"}, content=pq.read_bytes())
    cols = {x["name"]: x for x in c.get("/api/files/survey.sav/preview").json()["columns"]}
    assert cols["fcs"]["label"] == "FCS" and cols["sex"]["values"] == {"1": "male", "2": "female"}
    assert c.get("/api/files/survey.parquet/preview").json()["n_rows"] == 25
    assert set(c.get("/api/files").json()["files"]) == {"survey.xlsx", "survey.sav",
                                                        "survey.parquet"}


def test_semicolon_file_fits_like_the_comma_file(boot_job):
    """A spreadsheet export (';' and decimal commas) is read as the page showed it and
    gives the same scores as the plain CSV."""
    c, job, _ = boot_job
    text = HOUSEHOLDS.to_csv(index=False, sep=";", decimal=",")
    c.post("/api/files", params={"name": "export.csv"}, content=text.encode())
    semi = c.post("/api/fit", json={"file": "export.csv", "spec": SPEC}).json()["job"]
    assert wait_job(c, semi)["state"] == "done"
    got = c.get(f"/api/jobs/{semi}/files/scores.csv").content
    assert got == c.get(f"/api/jobs/{job}/files/scores.csv").content


def test_app_refuses_an_open_address_without_a_token(tmp_path):
    import os
    import subprocess
    import sys

    from tests._app_server import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RIMA_APP_TOKEN", None)
    r = subprocess.run([sys.executable, "-m", "rima", "app", "--host", "0.0.0.0", "--port", "0",
                        "--data-dir", str(tmp_path)], capture_output=True, text=True,
                       timeout=120, env=env, check=False)
    assert r.returncode == 2 and "without a token" in r.stderr
