"""The HTTP service, tested over real HTTP: `python -m rima serve` runs in a subprocess on a
free loopback port and the tests talk to it with httpx."""

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "zavkhan"
TOKEN = "s3cret-token-for-tests-0123456789"
SECRET_ID = "HH-PRIVATE-7391"


# --------------------------------------------------------------------------- harness


class Server:
    """`python -m rima serve ... --port 0` in a subprocess; stderr lines collected."""

    def __init__(self, *args, env=None, wait=True, held_jobs=False):
        full_env = {k: v for k, v in os.environ.items() if k != "RIMA_SERVE_TOKEN"}
        full_env.update(env or {})
        # held_jobs: aggregation jobs never finish (tests/_held_jobs_serve.py), so a
        # deadline is overrun whatever the machine's speed
        launcher = ([str(ROOT / "tests" / "_held_jobs_serve.py")] if held_jobs
                    else ["-m", "rima", "serve"])
        self.proc = subprocess.Popen(
            [sys.executable, *launcher, "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env, cwd=ROOT,
        )
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._changed = threading.Condition()
        self.port = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait:
            if not self._ready.wait(90) or self.port is None:
                self.stop()
                raise RuntimeError("server did not start:\n" + "\n".join(self.lines))
            self.url = f"http://127.0.0.1:{self.port}"

    def _read(self):
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
            if '"event":"listening"' in line:
                self.port = json.loads(line)["port"]
                self._ready.set()
        self._ready.set()
        with self._changed:
            self._changed.notify_all()

    def _access_entries(self):
        out = []
        for line in list(self.lines):
            rec = json.loads(line)  # every line is JSON
            if rec.get("event") == "access":
                out.append(rec)
        return out

    def access_log(self, until=None):
        """The access-log entries, once `until(entries)` holds (the log line is written
        just after the answer) or, without `until`, once the stopped server's stderr is
        read to its end. The 60 s bound only stops a broken test from hanging."""
        if until is None:
            self.stop()
            self._reader.join(60)
            return self._access_entries()
        with self._changed:
            self._changed.wait_for(
                lambda: until(self._access_entries()) or not self._reader.is_alive(), 60
            )
        return self._access_entries()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="session")
def fitted(tmp_path_factory):
    """The bundled example fitted once; its model saved as <tmp>/zavkhan/model.json."""
    import rima

    result = rima.fit(EXAMPLE / "households.csv", EXAMPLE / "spec.toml")
    out = tmp_path_factory.mktemp("models") / "zavkhan"
    out.mkdir()
    path = result.model.save(out / "model.json")
    return result, path


@pytest.fixture(scope="session")
def households():
    return pd.read_csv(EXAMPLE / "households.csv")


@pytest.fixture(scope="session")
def records(households):
    return json.loads(households.to_json(orient="records"))


@pytest.fixture(scope="session")
def open_server(fitted):
    """No authentication (loopback), default limits, the model under two names."""
    _, path = fitted
    server = Server("--model", path, "--model", f"round2={path}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_server(fitted):
    """Token from the environment; small limits."""
    _, path = fitted
    server = Server("--model", path, "--max-rows", 100, "--max-body-mb", 0.25,
                    "--max-groups", 5, "--thresholds", "40,60", "--class-labels", "a,b,c",
                    env={"RIMA_SERVE_TOKEN": TOKEN})
    yield server
    server.stop()


@pytest.fixture()
def client(open_server):
    with httpx.Client(base_url=open_server.url, timeout=60) as c:
        yield c


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def assert_error(r, status, *fragments, field=None, rows=None):
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["status"] == status
    text = body["message"] + " ".join(e["message"] for e in body["errors"])
    for frag in fragments:
        assert frag in text, (frag, text)
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    if rows is not None:
        got = [r for e in body["errors"] if field is None or e["field"] == field for r in e["rows"]]
        assert got == rows, body
    return body


# --------------------------------------------------------------------------- read-only endpoints


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "version": __import__("rima").__version__, "models": 2}
    assert r.headers["x-request-id"]


def test_models_list_and_info(client, fitted):
    result, _ = fitted
    meta = result.model.metadata
    r = client.get("/models")
    assert r.status_code == 200
    listed = {m["name"]: m for m in r.json()}
    assert set(listed) == {"zavkhan", "round2"}  # name from the directory of model.json
    assert listed["zavkhan"]["fingerprint"] == meta["training_fingerprint"]
    info = client.get("/models/zavkhan").json()
    assert info["variables"] == list(result.model.required_columns)
    assert info["id"] == "hhid" and info["weight"] == "hh_weight"
    assert info["spec"] == json.loads(json.dumps(result.spec.to_dict()))
    assert info["fingerprint"] == meta["training_fingerprint"]
    assert info["version"] == meta["rima_version"]
    assert info["fit_summary"]["cfi"] == meta["fit_summary"]["cfi"]
    assert info["metadata"]["n_scored"] == meta["n_scored"] and "source" not in info["metadata"]
    assert info["classes"] == {"thresholds": [100 / 3, 200 / 3], "labels": ["low", "medium", "high"]}


def test_unknown_model_and_endpoint(client):
    assert_error(client.get("/models/nope"), 404, "no model named 'nope'", "zavkhan")
    assert_error(client.post("/models/nope/score", json=[]), 404, "no model named")
    # a path-like name is just an unknown name: nothing is looked up on disk
    assert client.get("/models/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert_error(client.get("/nothing/here"), 404, "no such endpoint")
    assert client.get("/models/zavkhan/score").status_code == 405
    assert client.delete("/models/zavkhan").status_code == 405


# --------------------------------------------------------------------------- scoring = batch


@pytest.fixture(scope="session")
def batch(fitted, tmp_path_factory):
    """`rima score` on the example file (the batch path the service must equal)."""
    from rima.classes import resilience_class

    _, path = fitted
    out = tmp_path_factory.mktemp("batch") / "scores.parquet"
    run = subprocess.run(
        [sys.executable, "-m", "rima", "score", str(EXAMPLE / "households.csv"),
         "--model", str(path), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    scores = pd.read_parquet(out)
    classes = resilience_class(scores["RCI_100"].where(scores["status"] == "ok"))
    return scores, classes


def assert_equal_to_batch(payload, batch, classes):
    hh = payload["households"]
    assert payload["n_households"] == len(batch) == len(hh)
    assert [h["row"] for h in hh] == list(range(1, len(batch) + 1))
    assert [h["id"] for h in hh] == batch["hhid"].tolist()
    for col in ("ABS", "AST", "SSN", "AC", "RCI", "RCI_100"):
        got = np.array([np.nan if h[col] is None else h[col] for h in hh])
        # exact: JSON carries shortest round-trip floats
        np.testing.assert_array_equal(got, batch[col].to_numpy(), err_msg=col)
    assert [h["status"] for h in hh] == batch["status"].tolist()
    assert [h["out_of_range"] for h in hh] == batch["out_of_range"].tolist()
    assert [h["class"] for h in hh] == [None if pd.isna(c) else c for c in classes]
    assert payload["n_scored"] == int((batch["status"] == "ok").sum())


def test_json_scores_equal_batch_scoring_exactly(client, batch, records):
    r = client.post("/models/zavkhan/score", json=records)
    assert r.status_code == 200, r.text
    payload = r.json()
    assert_equal_to_batch(payload, *batch)
    # every household is answered; the ones not scored say why
    not_ok = [h for h in payload["households"] if h["status"] != "ok"]
    assert len(not_ok) == payload["n_not_scored"] > 0
    assert all(h["RCI_100"] is None and h["class"] is None for h in not_ok)
    assert all(h["status"].startswith("missing value") for h in not_ok)


def test_csv_body_and_upload_equal_batch_scoring(client, batch):
    text = (EXAMPLE / "households.csv").read_bytes()
    r = client.post("/models/zavkhan/score", content=text, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert_equal_to_batch(r.json(), *batch)
    r = client.post("/models/round2/score", files={"file": ("households.csv", text, "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "round2"
    assert_equal_to_batch(r.json(), *batch)


def test_csv_answer_equals_batch_scoring(client, batch):
    text = (EXAMPLE / "households.csv").read_bytes()
    r = client.post("/models/zavkhan/score", files={"file": ("households.csv", text)},
                    headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    got = pd.read_csv(io.BytesIO(r.content))
    scores, classes = batch
    assert list(got.columns) == ["row", "id", "ABS", "AST", "SSN", "AC", "RCI", "RCI_100",
                                 "class", "status", "out_of_range"]
    assert got["id"].tolist() == scores["hhid"].tolist()
    for col in ("ABS", "AST", "SSN", "AC", "RCI", "RCI_100"):
        np.testing.assert_array_equal(got[col].to_numpy(), scores[col].to_numpy(), err_msg=col)
    assert got["status"].tolist() == scores["status"].tolist()
    assert got["class"].fillna("").tolist() == [
        "" if pd.isna(c) else c for c in classes]


def test_null_is_a_missing_value_reported_in_status(client, records):
    rows = [dict(r) for r in records[:3]]
    rows[1]["hay_reserve_t"] = None
    hh = client.post("/models/zavkhan/score", json=rows).json()["households"]
    assert [h["status"] for h in hh] == ["ok", "missing value in hay_reserve_t", "ok"]
    assert hh[1]["RCI"] is None and hh[1]["class"] is None


# --------------------------------------------------------------------------- input errors


def test_json_errors_name_field_and_row(client, records):
    url = "/models/zavkhan/score"
    assert_error(client.post(url, content=b"[{", headers={"content-type": "application/json"}),
                 400, "not valid JSON")
    assert_error(client.post(url, content=b'[{"fcs": NaN}]',
                             headers={"content-type": "application/json"}), 400, "NaN")
    assert_error(client.post(url, json={"hhid": 1}), 422, "JSON array")
    assert_error(client.post(url, json=[]), 422, "no households")
    rows = [dict(r) for r in records[:6]]
    rows[2] = "not a household"
    assert_error(client.post(url, json=rows), 422, "row 3: expected a JSON object", rows=[3])
    rows = [dict(r) for r in records[:6]]
    del rows[3]["herd_su"]
    del rows[5]["herd_su"]
    assert_error(client.post(url, json=rows), 422, "'herd_su' is missing from row(s) 4, 6",
                 field="herd_su", rows=[4, 6])
    rows = [{("herd_sue" if k == "herd_su" else k): v for k, v in r.items()} for r in records[:4]]
    assert_error(client.post(url, json=rows), 422, "every household", "did you mean 'herd_sue'",
                 field="herd_su")
    rows = [dict(r) for r in records[:6]]
    rows[1]["fcs"] = "high"
    rows[4]["fcs"] = True
    assert_error(client.post(url, json=rows), 422, "'fcs' must be a number, text or null",
                 "true", field="fcs", rows=[5])
    rows = [dict(r) for r in records[:6]]
    rows[2]["soum"] = {"nested": 1}
    rows[3]["hhid"] = [1]
    assert_error(client.post(url, json=rows), 422, "'hhid' must be a string", field="hhid",
                 rows=[4])
    rows = [dict(r) for r in records[:6]]
    rows[4]["hhid"] = rows[1]["hhid"]
    assert_error(client.post(url, json=rows), 422, "duplicated", field="hhid", rows=[2, 5])
    rows = [dict(r) for r in records[:6]]
    rows[0]["hhid"] = None
    assert_error(client.post(url, json=rows), 422, "empty", field="hhid", rows=[1])
    rows = [dict(r) for r in records[:6]]
    rows[5]["fcs"] = 1e999  # json.dumps writes Infinity, which is not JSON
    assert_error(client.post(url, content=json.dumps(rows).encode(),
                             headers={"content-type": "application/json"}), 400, "Infinity")


def test_csv_errors_name_field_and_row(client, households):
    url = "/models/zavkhan/score"
    csv = {"content-type": "text/csv"}
    bad = households.head(8).astype({"hay_reserve_t": object})
    bad.loc[[2, 6], "hay_reserve_t"] = "lots"
    # a bad cell flags its household, as `rima score` and model.score do
    r = client.post(url, content=bad.to_csv(index=False), headers=csv)
    assert r.status_code == 200, r.text
    status = [h["status"] for h in r.json()["households"]]
    assert status[2] == status[6] == "non-numeric value 'lots' in hay_reserve_t"
    assert_error(client.post(url, content=households.head(5).drop(columns="fcs").to_csv(index=False),
                             headers=csv), 422, "'fcs'", field="fcs")
    assert_error(client.post(url, content=b"", headers=csv), 422, "empty")
    assert_error(client.post(url, content=households.head(0).to_csv(index=False), headers=csv),
                 422, "no households")
    assert_error(client.post(url, content=b'a,b\n1,"2\n', headers=csv), 400, "not a readable CSV")
    assert_error(client.post(url, files={"upload": ("h.csv", b"a\n1\n")}), 422, "no field 'file'",
                 field="file")
    assert_error(client.post(url, content=b"x", headers={"content-type": "application/xml"}),
                 415, "unsupported Content-Type")
    assert_error(client.post(url, content=b"x"), 415)


# --------------------------------------------------------------------------- aggregate


def test_aggregate_matches_the_fit_profile_table(client, fitted, records):
    result, _ = fitted
    r = client.post("/models/zavkhan/aggregate", json={"households": records, "weights": False})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["by"] == "soum" and out["weighted"] is False and out["level"] == 0.95
    prof = result.profiles["soum"].set_index("category")
    groups = {g["group"]: g for g in out["groups"]}
    assert set(groups) == set(prof.index)
    for soum, g in groups.items():
        p = prof.loc[soum]
        assert g["n_scored"] == p["households"]
        for ours, theirs in (("rci_100_mean", "mean_RCI_100"), ("rci_100_se", "se"),
                             ("rci_100_ci_lower", "ci_lower"), ("rci_100_ci_upper", "ci_upper")):
            assert g[ours] == p[theirs], (soum, ours)
    # counts: every household is in one group, scored or not
    assert sum(g["n_households"] for g in out["groups"]) == len(records)
    assert out["overall"]["n_households"] == len(records)
    scores = result.scores
    n_low = int(((scores["RCI_100"] < 100 / 3) & (scores["status"] == "ok")).sum())
    assert out["overall"]["n_low"] == n_low == sum(g["n_low"] for g in out["groups"])
    assert out["overall"]["share_low"] == pytest.approx(n_low / out["overall"]["n_scored"], abs=1e-15)


def test_aggregate_weighted_join_and_rank(client, fitted, records):
    result, _ = fitted
    soums = json.loads(pd.read_csv(EXAMPLE / "soums.csv").to_json(orient="records"))
    soums = [s for s in soums if s["soum"] != "Uliastai"]  # one soum missing from the table
    soums.append({"soum": "Nowhere", "severity": 0.9, "mortality_pct": 30.0})
    r = client.post("/models/zavkhan/aggregate",
                    json={"households": records, "soums": soums, "level": 0.9,
                          "weights": True, "rank_by": "share_low"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["weighted"] is True and out["level"] == 0.9 and out["rank_by"] == "share_low"
    assert out["unmatched"] == {"groups_not_in_table": ["Uliastai"],
                                "table_rows_without_households": ["Nowhere"]}
    groups = out["groups"]
    ranked = [g for g in groups if g["rank"] is not None]
    assert [g["rank"] for g in ranked] == list(range(1, len(ranked) + 1))
    shares = [g["share_low"] for g in ranked]
    assert shares == sorted(shares, reverse=True)
    nowhere = groups[-1]
    assert nowhere["group"] == "Nowhere" and nowhere["n_households"] == 0 and nowhere["rank"] is None
    by_name = {g["group"]: g for g in groups}
    assert by_name["Uliastai"]["dzud"] is None
    assert by_name["Aldarkhaan"]["dzud"]["dzud_class"] in {"dzud", "dzud-like", "none"}
    # weighted share of low resilience in one soum, from the batch scores
    w = pd.DataFrame(records).set_index("hhid")["hh_weight"]
    s = result.scores.set_index("hhid")
    m = (pd.DataFrame(records).set_index("hhid")["soum"] == "Aldarkhaan") & (s["status"] == "ok")
    low = (s.loc[m, "RCI_100"] < 100 / 3).astype(float)
    assert by_name["Aldarkhaan"]["share_low"] == pytest.approx(
        float((low * w[m]).sum() / w[m].sum()), rel=1e-12)
    g = by_name["Aldarkhaan"]
    assert g["share_low_ci_lower"] <= g["share_low"] <= g["share_low_ci_upper"]
    # the same numbers as `rima target` (rima.analysis.target) on the batch result
    from rima.analysis.targeting import target

    t = target(result, level=0.9).soums.set_index("soum")
    for soum, row in t.iterrows():
        g = by_name[soum]
        assert (g["share_low"], g["share_low_se"], g["share_low_ci_lower"],
                g["share_low_ci_upper"], g["est_low_households"], g["n_low"]) == (
            row["share_low"], row["se"], row["ci_lower"], row["ci_upper"],
            row["est_low_households"], row["low_households"]), soum

    # rank by a dzud-table field: most livestock mortality first
    r = client.post("/models/zavkhan/aggregate",
                    json={"households": records, "soums": soums, "rank_by": "mortality_pct"})
    ranked = [g for g in r.json()["groups"] if g["rank"] is not None]
    mort = [g["dzud"]["mortality_pct"] for g in ranked]
    assert mort == sorted(mort, reverse=True) and ranked[0]["group"] == "Nowhere"


def test_aggregate_from_csv_upload_equals_json(client, records):
    soums_csv = (EXAMPLE / "soums.csv").read_bytes()
    soums = json.loads(pd.read_csv(EXAMPLE / "soums.csv").to_json(orient="records"))
    r = client.post("/models/zavkhan/aggregate",
                    files={"file": ("households.csv", (EXAMPLE / "households.csv").read_bytes()),
                           "soums": ("soums.csv", soums_csv)},
                    data={"rank_by": "mortality_pct", "level": "0.9"})
    assert r.status_code == 200, r.text
    j = client.post("/models/zavkhan/aggregate", json={
        "households": records, "soums": soums, "rank_by": "mortality_pct", "level": 0.9})
    assert r.json() == j.json()
    assert r.json()["groups"][0]["rank"] == 1 and r.json()["unmatched"]["groups_not_in_table"] == []
    no_weight = pd.DataFrame(records).drop(columns="hh_weight").to_csv(index=False)
    assert_error(client.post("/models/zavkhan/aggregate", files={"file": ("h.csv", no_weight)},
                             data={"weights": "true"}),
                 422, "no column 'hh_weight'", field="hh_weight")
    assert_error(client.post("/models/zavkhan/aggregate", files={"soums": ("s.csv", soums_csv)}),
                 422, "no field 'file'", field="file")
    assert_error(client.post("/models/zavkhan/aggregate",
                             files={"file": ("h.csv", no_weight)}, data={"rank": "x"}),
                 422, "rank", field="rank")


def test_aggregate_errors(client, records):
    url = "/models/zavkhan/aggregate"
    assert_error(client.post(url, json=records[:3]), 422, '"households" array')
    assert_error(client.post(url, json={"households": records[:3], "bye": "soum"}), 422, "bye",
                 field="bye")
    assert_error(client.post(url, json={"households": records[:3], "level": 1.5}), 422, "level")
    assert_error(client.post(url, json={"households": records[:3], "by": "district"}), 422,
                 "'district' is missing from every household", field="district")
    assert_error(client.post(url, json={"households": records[:3], "rank_by": "colour"}), 422,
                 "rank_by 'colour'")
    rows = [dict(r) for r in records[:5]]
    rows[3]["hh_weight"] = None
    assert_error(client.post(url, json={"households": rows, "weights": True}), 422,
                 "sampling weight", field="hh_weight", rows=[4])
    rows[3]["hh_weight"] = -1.0
    assert_error(client.post(url, json={"households": rows, "weights": True}), 422, "negative",
                 field="hh_weight", rows=[4])
    assert_error(client.post(url, json={"households": records[:5], "soums": [{"zone": "x"}]}),
                 422, "soums row 1", field="soums.soum", rows=[1])
    twice = [{"soum": "A"}, {"soum": "A"}]
    assert_error(client.post(url, json={"households": records[:5], "soums": twice}), 422,
                 "appears twice", rows=[2])
    assert_error(client.post(url, content=b"soum\nA\n", headers={"content-type": "text/csv"}),
                 415, "application/json", "multipart/form-data")


# --------------------------------------------------------------------------- auth and limits


def test_auth_on(auth_server, records):
    with httpx.Client(base_url=auth_server.url, timeout=30) as c:
        assert c.get("/health").status_code == 200  # liveness stays open
        assert c.get("/openapi.json").status_code == 200
        r = c.get("/models")
        assert_error(r, 401, "missing bearer token")
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_error(c.get("/models", headers=auth("wrong-token-wrong-token-0000")), 401, "invalid")
        assert_error(c.get("/models", headers={"Authorization": f"Basic {TOKEN}"}), 401)
        assert_error(c.post("/models/zavkhan/score", json=records[:2]), 401)
        assert c.get("/models", headers=auth()).json()[0]["name"] == "zavkhan"
        r = c.post("/models/zavkhan/score", json=records[:40], headers=auth())
        assert r.status_code == 200 and r.json()["n_households"] == 40
        # classes from --thresholds / --class-labels
        assert r.json()["classes"] == {"thresholds": [40.0, 60.0], "labels": ["a", "b", "c"]}
        for h in r.json()["households"]:
            x = h["RCI_100"]
            assert h["class"] == (None if x is None else "a" if x < 40 else "b" if x < 60 else "c")
        assert {h["class"] for h in r.json()["households"]} == {None, "a", "b", "c"}
    log = auth_server.access_log(
        until=lambda log: sum(e["path"] == "/models" for e in log) >= 3)
    assert [e["status"] for e in log if e["path"] == "/models"][:3] == [401, 401, 401]
    assert not any(TOKEN in line for line in auth_server.lines)


def test_limits_answer_413(auth_server, records):
    with httpx.Client(base_url=auth_server.url, timeout=30, headers=auth()) as c:
        rows = [dict(r) for r in records[:101]]
        assert_error(c.post("/models/zavkhan/score", json=rows), 413, "101 households",
                     "limit is 100")
        csv = pd.DataFrame(records[:101]).to_csv(index=False)
        assert_error(c.post("/models/zavkhan/score", content=csv,
                            headers={"content-type": "text/csv"}), 413, "limit is 100")
        big = json.dumps(records[:400]).encode()  # ~0.4 MB > 0.25 MB
        assert_error(c.post("/models/zavkhan/score", content=big,
                            headers={"content-type": "application/json"}), 413, "bytes")

        def chunks():  # no Content-Length: the cap applies while the body streams in
            for i in range(0, len(big), 16384):
                yield big[i:i + 16384]

        assert_error(c.post("/models/zavkhan/score", content=chunks(),
                            headers={"content-type": "application/json"}), 413, "bytes")
        spread = records[::22][:100]  # households from every soum
        r = c.post("/models/zavkhan/aggregate", json={"households": spread})
        assert_error(r, 422, "makes 24 groups; the limit is 5", field="soum")
        assert c.get("/health").status_code == 200


def _health(server) -> int:
    return httpx.get(server.url + "/health", timeout=30).status_code


def _eventually(condition, what, tries=600):
    """Poll `condition` until it holds; the bound only stops a broken test from hanging."""
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def test_token_file_slow_upload_and_timeout(fitted, tmp_path, records):
    _, path = fitted
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    # aggregation jobs in this server never finish: the deadline is overrun on any machine
    server = Server("--model", path, "--token-file", token_file, "--timeout", 0.8,
                    "--max-connections", 2, held_jobs=True)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.get("/models", headers=auth()).status_code == 200
            assert c.get("/models").status_code == 401
            # work that overruns the deadline -> 503; the event loop still answers
            rows = [dict(r, grp=i % 5) for i, r in enumerate(records[:50])]
            r = c.post("/models/zavkhan/aggregate", json={"households": rows, "by": "grp"},
                       headers=auth())
            assert_error(r, 503, "did not finish within 0.8 s")
            assert c.get("/health").status_code == 200
        # the client above has hung up once a lone health check is within the limit of 2
        _eventually(lambda: _health(server) == 200, "the closed client's connection freed")
        # a connection whose request head never ends holds one of the two connections
        # (no deadline runs before the head is complete): the next one gets 503
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as idle:
            idle.sendall(b"GET /health HTTP/1.1\r\n")
            _eventually(lambda: _health(server) == 503, "the connection limit reached")
        _eventually(lambda: _health(server) == 200, "the idle connection freed")
        # a client that sends half its body and stalls -> 408, connection closed
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall(b"POST /models/zavkhan/score HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{")
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer
        assert b"not received within 0.8 s" in body
    finally:
        server.stop()
    statuses = [e["status"] for e in server.access_log()]
    assert 503 in statuses and 408 in statuses


# --------------------------------------------------------------------------- logs, docs, CLI


def test_access_log_is_json_without_household_data(open_server, client, records):
    rows = [dict(r) for r in records[:3]]
    rows[0]["hhid"] = SECRET_ID
    rows[0]["hay_reserve_t"] = 123.456789
    r = client.post("/models/zavkhan/score", json=rows)
    assert r.status_code == 200
    request_id = r.headers["x-request-id"]
    log = open_server.access_log(until=lambda log: any(e["request_id"] == request_id
                                                       for e in log))
    entry = next(e for e in log if e["request_id"] == request_id)
    assert entry["method"] == "POST" and entry["path"] == "/models/{name}/score"
    assert entry["model"] == "zavkhan" and entry["status"] == 200 and entry["households"] == 3
    assert entry["bytes_in"] == len(r.request.content) and entry["bytes_out"] == len(r.content)
    assert entry["duration_ms"] >= 0 and entry["client"] == "127.0.0.1"
    text = "\n".join(open_server.lines)
    assert SECRET_ID not in text and "123.456789" not in text


def test_committed_openapi_matches_served(client):
    served = client.get("/openapi.json").json()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == served, (
        "docs/openapi.json is stale: regenerate with "
        "python -m rima.service > docs/openapi.json"
    )
    paths = served["paths"]
    assert set(paths) == {"/health", "/models", "/models/{name}", "/models/{name}/score",
                          "/models/{name}/aggregate"}
    body = paths["/models/{name}/score"]["post"]["requestBody"]["content"]
    assert {"application/json", "text/csv", "multipart/form-data"} <= set(body)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    # self-contained: no script, stylesheet or font from anywhere (an offline network)
    import re

    assert not re.search(r"""(src|href)=["']""", docs.text) and "<script" not in docs.text
    assert "/models/{name}/aggregate" in docs.text


def run_serve(*args, env=None, code=None):
    """A `rima serve` run expected to exit before it listens."""
    base = {k: v for k, v in os.environ.items() if k != "RIMA_SERVE_TOKEN"}
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "rima", "serve", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**base, **(env or {})},
                          timeout=60, check=False, cwd=ROOT)


def test_refuses_to_start_without_auth_off_loopback(fitted):
    _, path = fitted
    run = run_serve("--model", str(path), "--host", "0.0.0.0")
    assert run.returncode == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in run.stderr
    run = run_serve("--model", str(path), env={"RIMA_SERVE_TOKEN": "short"})
    assert run.returncode == 2 and "at least 16" in run.stderr
    run = run_serve("--model", str(path), "--thresholds", "60,30")
    assert run.returncode == 3 and "strictly increasing" in run.stderr


def test_bad_model_file_stops_the_start(fitted, tmp_path):
    _, path = fitted
    edited = tmp_path / "edited.json"
    edited.write_text(path.read_text().replace('"rci_100_scale": {', '"rci_100_scale": {"x": 1, ', 1))
    run = run_serve("--model", str(edited))
    assert run.returncode == 3 and "checksum mismatch" in run.stderr
    run = run_serve("--model", f"a={path}", "--model", f"a={path}")
    assert run.returncode == 2 and "two models are named 'a'" in run.stderr


def test_clear_error_without_the_serve_extra(fitted):
    _, path = fitted
    code = ("import sys; sys.modules['fastapi'] = None; from rima.cli import main; "
            f"main(['serve', '--model', {str(path)!r}])")
    run = run_serve(code=code)
    assert run.returncode == 1
    assert "pip install 'rima[serve]'" in run.stderr


def test_loopback_and_model_names():
    from rima.commands.serve import is_loopback, model_names

    assert all(map(is_loopback, ["127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.5", "::", "example.org"]))
    named = model_names(["out/zavkhan/model.json", "round2=out/r2/model.json", "a/khovd.json"])
    assert named == {"zavkhan": Path("out/zavkhan/model.json"),
                     "round2": Path("out/r2/model.json"), "khovd": Path("a/khovd.json")}


def test_stdlib_json_path_gives_the_same_bytes_values(monkeypatch):
    """Without the optional orjson the service parses and answers with the same values."""
    from rima import service

    payload = {"households": [{"id": "a", "RCI": 0.1 + 0.2, "RCI_100": 1 / 3, "x": None}]}
    fast = service.encode_json(payload)
    body = b'[{"hhid": 1, "v": 0.30000000000000004, "w": null}]'
    parsed = service.parse_json(body)
    monkeypatch.setattr(service.encoding, "orjson", None)
    assert json.loads(service.encode_json(payload)) == json.loads(fast) == payload
    assert service.parse_json(body) == parsed
    with pytest.raises(service.ApiError, match="NaN is not a JSON number"):
        service.parse_json(b"[NaN]")


def test_job_runner_bounds_threads_even_after_timeouts():
    """Timed-out jobs keep their slot until they end; queued ones that timed out never run.

    Jobs wait on events the test sets, and requests give up by an explicit cancel, so
    nothing depends on how fast threads run."""
    import anyio

    from rima.service import JobRunner

    runner = JobRunner(1)
    started = {i: threading.Event() for i in range(3)}
    release = threading.Event()
    ran = []

    def work(i):
        started[i].set()
        release.wait(60)  # the bound only stops a broken test from hanging
        ran.append(i)
        return i

    async def main():
        async def attempt(i, scope):
            with scope:
                return await runner(work, i)

        async with anyio.create_task_group() as tg:
            first, second = anyio.CancelScope(), anyio.CancelScope()
            tg.start_soon(attempt, 0, first)
            await anyio.to_thread.run_sync(started[0].wait, 60)
            first.cancel()  # the request gives up while its job runs
            tg.start_soon(attempt, 1, second)
            await anyio.lowlevel.checkpoint()
            second.cancel()  # gives up while queued behind job 0: must never run
        # job 0 still holds the only slot although its request has gone
        assert not runner.gate.acquire(blocking=False)
        release.set()
        assert await runner(work, 2) == 2  # waits for job 0 to free the slot

    anyio.run(main)
    assert ran == [0, 2]
    assert not started[1].is_set()
