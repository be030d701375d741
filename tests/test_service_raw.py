"""POST /models/{name}/score-raw: raw modules of new households, built with the model's
stored recipes and constants, scored like /score; in process (no network)."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rima.build.run import build_for_spec
from rima.service import create_app
from rima.simulation import simulate
from rima.simulation_raw import raw_spec_text
from rima.spec import load_spec

MODULES = ("households", "roster", "livestock", "food", "expenditure", "own_production",
           "income", "assets")


@pytest.fixture(scope="module")
def setup():
    import tomllib

    import rima

    survey = simulate(n_households=500, seed=9)
    raw = survey.raw()
    spec = load_spec(tomllib.loads(raw_spec_text()))
    table, spec, _ = build_for_spec(spec, None, raw)
    result = rima.fit(table, spec)
    client = TestClient(create_app({"zav": result.model}))
    return result, raw, client


def _records(df):
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


def test_score_raw_equals_the_fit(setup):
    result, raw, client = setup
    ids = raw["households"]["hhid"].iloc[:30]
    body = {"modules": {m: _records(raw[m][raw[m]["hhid"].isin(ids)]) for m in MODULES}}
    # a bad roster row: an age of 140 is reported and that household not scored
    body["modules"]["roster"][0]["age"] = 140
    r = client.post("/models/zav/score-raw", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    hh = out["households"]
    assert len(hh) == 30 and out["n_households"] == 30
    ref = result.scores.iloc[:30]
    first = body["modules"]["roster"][0]["hhid"]
    for h, (_, s) in zip(hh, ref.iterrows()):
        if h["id"] == first:
            assert h["status"] != "ok"
            continue
        assert h["status"] == s["status"]
        if s["status"] == "ok":
            assert h["RCI_100"] == pytest.approx(s["RCI_100"], rel=1e-9)
    rep = {row["hhid"]: row for row in out["build"]["report"]}
    assert rep[first]["dependency_ratio"] == "age out of range 0-120 in roster.age"
    assert any(i["status"] == "age out of range" and i["row"] == 1 and i["module"] == "roster"
               for i in out["build"]["issues"])


def test_score_raw_errors(setup):
    client = setup[2]
    r = client.post("/models/zav/score-raw", json={"households": []})
    assert r.status_code == 422 and "modules" in r.text
    r = client.post("/models/zav/score-raw",
                    json={"modules": {"households": [{"hhid": 1}], "rooster": []}})
    assert r.status_code == 422 and "unknown module 'rooster'" in r.text
    r = client.post("/models/zav/score-raw", json={"modules": {"households": []}})
    assert r.status_code == 422 and "no households" in r.text
