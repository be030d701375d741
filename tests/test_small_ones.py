"""Small ones: an unwritable output directory is an input error (exit 3) named before
any work; the service's /docs page needs no CDN (tests/test_service.py)."""

import pytest
from _cli import run
from conftest import EXAMPLE_DATA, EXAMPLE_SPEC


@pytest.mark.parametrize("argv", [
    ["fit", str(EXAMPLE_DATA), "--spec", str(EXAMPLE_SPEC), "--out", "/proc/rima-out"],
    ["simulate", "--n", "20", "--out", "/proc/rima-out"],
    ["demo", "--out", "/proc/rima-out"],
])
def test_unwritable_out_is_exit_3(argv, capsys):
    code, _, err = run(argv, capsys)
    assert code == 3, err
    assert "/proc/rima-out: cannot write output there" in err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def client():
    import warnings

    from fastapi.testclient import TestClient

    import rima
    from rima.service.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(EXAMPLE_DATA, EXAMPLE_SPEC)
    with TestClient(create_app({"m": res.model})) as c:
        yield c


@pytest.fixture(scope="module")
def households():
    import json

    import pandas as pd

    return json.loads(pd.read_csv(EXAMPLE_DATA).head(300).to_json(orient="records"))


def test_score_and_aggregate_take_one_body_shape(client, households):
    a = client.post("/models/m/score", json=households)
    b = client.post("/models/m/score", json={"households": households})
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    bad = client.post("/models/m/score", json={"households": households, "by": "soum"})
    assert bad.status_code == 422 and "'by'" in bad.json()["error"]["message"]


def test_aggregate_answers_csv(client, households):
    import io

    import pandas as pd

    j = client.post("/models/m/aggregate", json={"households": households}).json()
    r = client.post("/models/m/aggregate", json={"households": households},
                    headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    tab = pd.read_csv(io.StringIO(r.text))
    assert tab["group"].tolist() == [g["group"] for g in j["groups"]] + ["(all)"]
    assert tab["share_low"].iloc[0] == pytest.approx(j["groups"][0]["share_low"], rel=1e-12)
    assert {"class_low", "class_medium", "class_high", "mean_ABS", "priority"} <= set(tab)


def test_aggregate_lists_every_option_error_at_once(client, households):
    r = client.post("/models/m/aggregate",
                    json={"households": households, "level": 2, "descending": "maybe"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["error"]["errors"]}
    assert {"level", "descending"} <= fields
