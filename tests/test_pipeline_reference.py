"""rima.fit against the reference procedure run in R psych + lavaan
(tests/reference/pipeline_reference.R -> pipeline_reference.json)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima

REF = Path(__file__).parent / "reference"
ROOT = Path(__file__).parents[1]
with open(REF / "pipeline_reference.json") as fh:
    R = json.load(fh)

PATHS = {
    "zavkhan": ROOT / "examples" / "zavkhan" / "households.csv",
    "sim_n600_s11": REF / "pipeline_data" / "sim_n600_s11.csv.gz",
    "sim2ind_n800_s12": REF / "pipeline_data" / "sim2ind_n800_s12.csv.gz",
}


def spec_for(indicators):
    base = rima.load_spec(ROOT / "examples" / "zavkhan" / "spec.toml").to_dict()
    base["indicators"] = {"food_security": list(indicators)}
    # the R script runs the reference procedure: psych's orientation, no reversed variables
    base["options"] = {"orientation": "reference"}
    return base


@pytest.fixture(scope="module", params=list(PATHS))
def fitted(request):
    name = request.param
    ref = R[name]
    df = pd.read_csv(PATHS[name])
    return name, ref, df, rima.fit(df, spec_for(ref["indicators"]))


def test_rows_and_status(fitted):
    _, ref, df, res = fitted
    ok = np.flatnonzero(res.scores["status"].to_numpy() == "ok") + 1
    np.testing.assert_array_equal(ok, np.asarray(ref["rows"]))
    assert len(res.scores) == len(df)
    assert (res.scores.loc[res.scores.status != "ok", "status"].str.startswith("missing")).all()


def test_factors_and_pillar_scores(fitted):
    _, ref, _, res = fitted
    ok = res.scores["status"] == "ok"
    for p, pr in res.pillars.items():
        assert pr.n_factors == ref["pillars"][p]["k"], p
        np.testing.assert_allclose(pr.variance_weights, np.atleast_1d(ref["pillars"][p]["weights"]),
                                   atol=1e-6)
        np.testing.assert_allclose(res.scores.loc[ok, p], ref["scores"][p], atol=1e-6, rtol=0)


def test_rci_rci100_rsm(fitted):
    _, ref, _, res = fitted
    ok = res.scores["status"] == "ok"
    np.testing.assert_allclose(res.scores.loc[ok, "RCI"], ref["RCI"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.scores.loc[ok, "RCI_100"], ref["RCI_100"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.rsm.set_index("pillar")["share"].loc[list(ref["RSM"])],
                               list(ref["RSM"].values()), atol=1e-6, rtol=0)
    assert res.rsm["share"].sum() == pytest.approx(100.0)


def test_mimic_estimates(fitted):
    _, ref, _, res = fitted
    pr = pd.DataFrame(ref["params"])
    mine = res.mimic.params.set_index(["lhs", "op", "rhs"])
    n = 0
    for _, row in pr.iterrows():
        key = (row["lhs"], row["op"], row["rhs"])
        if key not in mine.index or row["op"] == "~1":
            continue
        assert mine.loc[key, "est"] == pytest.approx(row["est"], abs=1e-5), key
        if row["se"] and row["se"] > 0:
            assert mine.loc[key, "se"] == pytest.approx(row["se"], abs=1e-5), key
            # std.all feeds the rsm = "std_coefficient" option
            assert mine.loc[key, "std.all"] == pytest.approx(row["std.all"], abs=1e-6), key
        n += 1
    assert n >= 2 * len(ref["indicators"]) + 4
    for k in ("chisq", "cfi", "rmsea"):
        assert res.mimic.fit_measures[k] == pytest.approx(ref["fit_measures"][k], abs=1e-5)
    assert res.mimic.fit_measures["df"] == ref["fit_measures"]["df"]


def test_two_indicator_degrees_of_freedom():
    assert R["sim2ind_n800_s12"]["fit_measures"]["df"] == 3
    assert R["zavkhan"]["fit_measures"]["df"] == 8


def test_fiml_option_matches_lavaan_missing_ml():
    """missing = "fiml": lavaan cfa(missing = "ml") and lavPredict, incl. households that
    miss an indicator (scored from the indicators they have)."""
    ref = R["zavkhan_fiml"]
    spec = spec_for(ref["indicators"])
    spec["options"] = {"missing": "fiml", "orientation": "reference"}
    df = pd.read_csv(PATHS["zavkhan"])
    res = rima.fit(df, spec)
    ok = res.ok.to_numpy()
    np.testing.assert_array_equal(np.flatnonzero(ok) + 1, np.asarray(ref["rows"]))
    assert df.loc[ok, ref["indicators"]].isna().any(axis=1).sum() > 0
    for p in res.pillars:
        np.testing.assert_allclose(res.scores.loc[ok, p], ref["scores"][p], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.scores.loc[ok, "RCI"], ref["RCI"], atol=1e-6, rtol=0)
    pr = pd.DataFrame(ref["params"]).set_index(["lhs", "op", "rhs"])
    mine = res.mimic.params.set_index(["lhs", "op", "rhs"])
    free = pr[pr["se"] > 0].index.intersection(mine.index)
    assert len(free) >= 10
    np.testing.assert_allclose(mine.loc[free, "est"], pr.loc[free, "est"], atol=1e-5)
    np.testing.assert_allclose(mine.loc[free, "se"], pr.loc[free, "se"], atol=1e-5)


def test_weights_option_matches_psych_and_lavaan_sampling_weights():
    """weights = true: psych::fa(weight =), lavaan sampling.weights, weighted RSM."""
    ref = R["sim_weighted"]
    spec = spec_for(["fcs", "log_food_exp_ae", "hdds"])
    # the R reference runs lavaan's default SEs with sampling weights (robust.huber.white)
    spec["options"] = {"weights": True, "orientation": "reference",
                       "mimic_se": "robust.huber.white"}
    res = rima.fit(pd.read_csv(PATHS["sim_n600_s11"]), spec)
    ok = res.ok.to_numpy()
    np.testing.assert_array_equal(np.flatnonzero(ok) + 1, np.asarray(ref["rows"]))
    for p, pr in res.pillars.items():
        assert pr.n_factors == ref["k"][p]
        np.testing.assert_allclose(res.scores.loc[ok, p], ref["scores"][p], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.scores.loc[ok, "RCI"], ref["RCI"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.rsm["share"], list(ref["RSM"].values()), atol=1e-6)
    pr = pd.DataFrame(ref["params"]).set_index(["lhs", "op", "rhs"])
    mine = res.mimic.params.set_index(["lhs", "op", "rhs"])
    free = pr[pr["se"] > 0].index.intersection(mine.index)
    assert len(free) >= 8
    np.testing.assert_allclose(mine.loc[free, "est"], pr.loc[free, "est"], atol=1e-5)
    np.testing.assert_allclose(mine.loc[free, "se"], pr.loc[free, "se"], atol=1e-5)
