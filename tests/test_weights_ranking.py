"""Weights and rankings stated: an unused declared weight is said in the summary and the
report; the service's weighting follows the model; `rima target` and /aggregate rank by
one rule (rima.analysis.targeting.RANKING_RULE), print it, and put empty groups last."""

import json
import warnings

import pandas as pd
import pytest
from conftest import EXAMPLE_DATA, EXAMPLE_DIR, EXAMPLE_SPEC

import rima
from rima.analysis.targeting import target


def _fit(options=None):
    sd = rima.load_spec(EXAMPLE_SPEC).to_dict()
    sd["options"] = {**sd.get("options", {}), **(options or {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rima.fit(EXAMPLE_DATA, sd)


@pytest.fixture(scope="module")
def unweighted():
    return _fit()


@pytest.fixture(scope="module")
def soums():
    s = pd.read_csv(EXAMPLE_DIR / "soums.csv")
    return s[s["round"] == 1].drop(columns="round")


@pytest.fixture(scope="module")
def client(unweighted):
    from fastapi.testclient import TestClient

    from rima.service.app import create_app

    with TestClient(create_app({"m": unweighted.model})) as c:
        yield c


def test_unused_weight_is_said(unweighted):
    from rima.report import report_data

    assert "WEIGHTS NOT USED: hh_weight" in unweighted.summary()
    assert "WEIGHTS NOT USED: hh_weight" in report_data(unweighted)["weight_note"]
    weighted = _fit({"weights": True})
    assert "NOT USED" not in weighted.summary()
    assert not report_data(weighted)["weight_note"]


def test_service_weighting_follows_the_model(unweighted, client):
    households = json.loads(pd.read_csv(EXAMPLE_DATA).to_json(orient="records"))
    r = client.post("/models/m/aggregate", json={"households": households, "by": "head_sex"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weighted"] is False
    prof = unweighted.profiles["head_sex"].set_index("category")
    for g in body["groups"]:
        assert g["rci_100_mean"] == pytest.approx(prof.loc[g["group"], "mean_RCI_100"], abs=1e-9)
    r = client.post("/models/m/aggregate", json={"households": households, "by": "head_sex",
                                                 "weights": True})
    assert r.json()["weighted"] is True


def test_target_and_aggregate_rank_alike(unweighted, soums, client):
    t = target(unweighted, soums=soums)
    assert "priority" in t.soums.columns
    assert "ranked by priority = severity x estimated" in t.summary()
    expect = t.soums["priority"].to_numpy()
    assert (expect[:-1] >= expect[1:]).all()
    sev = t.soums["severity"] * t.soums["est_low_households"]
    pd.testing.assert_series_equal(t.soums["priority"], sev, check_names=False)

    households = json.loads(pd.read_csv(EXAMPLE_DATA).to_json(orient="records"))
    extra = {"soum": "Nowhere", "severity": 0.9, "dzud_class": "dzud"}  # no households
    table = json.loads(soums.to_json(orient="records")) + [extra]
    r = client.post("/models/m/aggregate", json={"households": households, "soums": table,
                                                 "weights": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rank_by"] == "priority" and "severity x estimated" in body["ranking_rule"]
    order = [g["group"] for g in body["groups"]]
    assert order[:-1] == t.soums["soum"].tolist()
    assert order[-1] == "Nowhere" and body["groups"][-1]["rank"] is None
    got = [g["priority"] for g in body["groups"][:-1]]
    assert got == pytest.approx(t.soums["priority"].tolist(), rel=1e-9)


def test_the_headline_mean_rci_100_is_the_population_figure_of_the_profile_tables(
        unweighted):
    """The mean RCI_100 the summary, the repr, `rima demo` and `rima fit --json` print is the
    mean over the analysed households, weighted when the fit uses the weight (as the
    profile tables and the bootstrap's overall estimate), and says so."""
    import numpy as np

    weighted = _fit({"weights": True})
    for res, w in ((unweighted, None), (weighted, "hh_weight")):
        rows = res.analysed.to_numpy()
        y = res.scores["RCI_100"].to_numpy(float)[rows]
        want = np.average(y, weights=None if w is None else
                          res.data["hh_weight"].to_numpy(float)[rows])
        assert res.mean_rci_100 == pytest.approx(want, rel=1e-12)
        label = "mean RCI_100" + (" (weighted by hh_weight)" if w else "")
        assert res.mean_rci_100_label == label
        assert f"{label} {want:.2f}" in repr(res) and f"{label} {want:.2f}" in res.summary()
    assert abs(weighted.mean_rci_100 - np.average(
        weighted.scores.loc[weighted.analysed, "RCI_100"])) > 0.01  # the weight matters here


def test_fit_json_carries_the_signed_rsm_and_the_mean_s_weight(tmp_path, capsys):
    from _cli import run

    text = EXAMPLE_SPEC.read_text(encoding="utf-8")
    assert "\nweights" not in text
    spec = tmp_path / "spec.toml"
    spec.write_text(text.replace("[options]\n", "[options]\nweights = true\n"),
                    encoding="utf-8")
    code, out, err = run(["fit", str(EXAMPLE_DATA), "--spec", str(spec), "--out",
                          str(tmp_path / "out"), "--json"], capsys)
    assert code == 0, err
    head = json.loads(out)
    res = _fit({"weights": True})
    assert head["rci_100_mean"] == pytest.approx(res.mean_rci_100, rel=1e-12)
    assert head["rci_100_mean_weight"] == "hh_weight"
    assert head["rsm_signed"] == pytest.approx(dict(zip(res.rsm["pillar"], res.rsm["r_signed"])))
