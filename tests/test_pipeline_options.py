"""Every option changes what it should and nothing else (defaults = the reference)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima
from rima.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "reference" / "pipeline_data" / "sim_n600_s11.csv.gz"
PILLARS = ["ABS", "AST", "SSN", "AC"]


@pytest.fixture(scope="module")
def df():
    return pd.read_csv(DATA)


def spec_with(**options):
    d = rima.load_spec(ROOT / "examples" / "zavkhan" / "spec.toml").to_dict()
    d["options"] = options
    return d


@pytest.fixture(scope="module")
def base(df):
    return rima.fit(df, spec_with())


def fit(df, **options):
    return rima.fit(df, spec_with(**options))


def same(a, b, cols):
    pd.testing.assert_frame_equal(a.scores[cols], b.scores[cols], check_exact=True)


def test_defaults_are_the_reference(base):
    o = base.options
    assert (o.missing, o.weights, o.rci_prediction, o.rsm, o.rci_100) == \
        ("listwise", False, "regression", "correlation", None)
    assert o.factor.to_dict() == {"extraction": "pa", "retention": "cumvar95",
                                  "scores": "bartlett", "rotation": "none", "smc": False,
                                  "heywood": "warn"}


def test_negative_reverses_only_its_pillar(df, base):
    neg = ["dist_soum_km", "dist_vet_km", "dist_health_km"]
    r = fit(df, negative=neg)
    same(r, base, ["AST", "SSN", "AC", "status"])
    ok = base.ok
    x = df.loc[ok, "dist_soum_km"]
    # with every "bad" variable reversed, all ABS variables point to more access, so the
    # psych sign rule (loadings sum positive) makes ABS fall with distance
    assert np.corrcoef(r.scores.loc[ok, "ABS"], x)[0, 1] < -0.3
    # the correlations between a reversed and a kept variable change sign, the rest stay
    Rr, Rb = r.pillars["ABS"].model.correlation_, base.pillars["ABS"].model.correlation_
    assert Rr[0, 3] == pytest.approx(-Rb[0, 3], abs=1e-12)
    assert Rr[0, 1] == pytest.approx(Rb[0, 1], abs=1e-12)
    assert r.pillars["ABS"].n_factors == base.pillars["ABS"].n_factors
    np.testing.assert_allclose(np.abs(r.pillars["ABS"].model.loadings_.to_numpy()),
                               np.abs(base.pillars["ABS"].model.loadings_.to_numpy()), atol=1e-10)
    assert r.model.orientation["ABS"]["negative"] == neg
    assert r.model.orientation["AST"]["negative"] == []


def test_anchor_flips_sign_only(df, base):
    ok = base.ok
    # as fitted, ABS falls with distance in this sample; anchoring it to rise with distance
    # must flip it, and anchoring AST to herd size (already positive) must not
    assert np.corrcoef(base.scores.loc[ok, "ABS"], base.data.loc[ok, "dist_soum_km"])[0, 1] < 0
    r = fit(df, anchor={"ABS": "dist_soum_km", "AST": "herd_su"})
    assert r.pillars["ABS"].flipped and not r.pillars["AST"].flipped
    assert r.pillars["ABS"].anchor_corr > 0 and r.pillars["AST"].anchor_corr > 0
    np.testing.assert_array_equal(r.scores["ABS"], -base.scores["ABS"])
    same(r, base, ["AST", "SSN", "AC", "status"])
    # a sign flip of one cause is an equivalent MIMIC model: same RCI and RSM, gamma negated
    np.testing.assert_allclose(r.scores["RCI"], base.scores["RCI"], atol=1e-7)
    np.testing.assert_allclose(r.rsm["share"], base.rsm["share"], atol=1e-6)
    g = lambda res: res.mimic.params.set_index(["lhs", "op", "rhs"]).loc[("RCI", "~", "ABS"), "est"]
    assert g(r) == pytest.approx(-g(base), abs=1e-6)


def test_missing_pillar_uses_each_pillars_complete_rows(df, base):
    r = fit(df, missing="pillar")
    for p in PILLARS:
        vs = list(r.spec.pillars[p])
        assert r.pillars[p].n_obs == int(df[vs].notna().all(axis=1).sum())
    assert r.pillars["ABS"].n_obs > base.pillars["ABS"].n_obs
    # rows missing only an AST variable keep their ABS score
    only_ast = df["hay_reserve_t"].isna() & df[list(r.spec.pillars["ABS"])].notna().all(axis=1)
    assert only_ast.any()
    assert r.scores.loc[only_ast, "ABS"].notna().all()
    pd.testing.assert_series_equal(r.scores["status"], base.scores["status"])


def test_missing_fiml_scores_rows_missing_an_indicator(df, base):
    r = fit(df, missing="fiml")
    pv = list(base.spec.pillar_variables)
    ind = list(base.spec.indicators)
    only_y = df[pv].notna().all(axis=1) & df[ind].isna().any(axis=1)
    assert only_y.sum() > 0
    assert (r.scores.loc[only_y, "status"] == "ok").all()
    assert r.scores.loc[only_y, "RCI"].notna().all()
    assert r.ok.sum() == base.ok.sum() + only_y.sum()
    assert r.mimic.nobs == r.ok.sum()
    # scoring the same data with the saved model gives the same partial-indicator scores
    np.testing.assert_allclose(r.model.score(df)["RCI"], r.scores["RCI"], atol=1e-12)


def test_weights_change_estimates_not_rows(df, base):
    r = fit(df, weights=True)
    pd.testing.assert_series_equal(r.scores["status"], base.scores["status"])
    assert not np.allclose(r.pillars["AST"].model.correlation_,
                           base.pillars["AST"].model.correlation_, atol=1e-6)
    assert not np.allclose(r.mimic.params["est"], base.mimic.params["est"], atol=1e-6)
    # the reference robust.sem SEs, as lavaan computes them with sampling weights
    assert r.mimic.se == "robust.sem" and r.mimic.test == "yuan.bentler.mplus"
    tab, tb = r.profiles["head_sex"], base.profiles["head_sex"]
    assert (tab["households"].to_numpy() == tb["households"].to_numpy()).all()
    assert not np.allclose(tab["sum_weights"], tab["households"])


def test_weights_need_a_weight_column(df):
    d = spec_with(weights=True)
    del d["data"]["weight"]
    with pytest.raises(SpecError, match="weight"):
        rima.fit(df, d)


@pytest.mark.parametrize("method", ["bartlett", "causes"])
def test_rci_prediction_changes_rci_only(df, base, method):
    r = fit(df, rci_prediction=method)
    same(r, base, PILLARS + (["status"] if method != "causes" else []))
    # the estimation sample does not depend on the prediction
    assert (r.analysed == base.ok).all()
    if method == "causes":
        # causes need no indicator: the rows missing only indicators are scored as well
        missing_y_only = base.scores["status"].isin(
            [f"missing value in {c}" for c in ("fcs", "log_food_exp_ae", "hdds")])
        assert missing_y_only.any()
        assert (r.ok == (base.ok | missing_y_only)).all()
    pd.testing.assert_frame_equal(r.mimic.params, base.mimic.params)
    assert not np.allclose(r.scores["RCI"], base.scores["RCI"], equal_nan=True)
    ok = r.ok
    if method == "causes":
        gam = r.mimic.params.query("op == '~'").set_index("rhs").loc[PILLARS, "est"].to_numpy()
        np.testing.assert_allclose(r.scores.loc[ok, "RCI"],
                                   r.scores.loc[ok, PILLARS].to_numpy() @ gam, atol=1e-10)


def test_rsm_std_coefficient(df, base):
    r = fit(df, rsm="std_coefficient")
    same(r, base, PILLARS + ["RCI", "RCI_100", "status"])
    s = np.abs(r.mimic.params.query("op == '~'").set_index("rhs").loc[PILLARS, "std.all"])
    np.testing.assert_allclose(r.rsm["share"], 100 * s / s.sum(), atol=1e-12)
    assert not np.allclose(r.rsm["share"], base.rsm["share"], atol=1e-3)


def test_rci_100_fixed_scale(df, base):
    r = fit(df, rci_100=[-2.0, 2.0])
    same(r, base, PILLARS + ["RCI", "status"])
    np.testing.assert_allclose(r.scores["RCI_100"], 100 * (r.scores["RCI"] + 2) / 4, atol=1e-12)


def test_factor_retention_per_pillar(df, base):
    r = fit(df, factor={"AST": {"retention": 1}})
    assert r.pillars["AST"].n_factors == 1
    assert base.pillars["AST"].n_factors > 1
    same(r, base, ["ABS", "SSN", "AC", "status"])


def test_factor_score_type(df, base):
    r = fit(df, factor={"scores": "regression"})
    for p in PILLARS:
        assert r.pillars[p].n_factors == base.pillars[p].n_factors
        assert not np.allclose(r.scores[p], base.scores[p], equal_nan=True)
    pd.testing.assert_series_equal(r.scores["status"], base.scores["status"])


def test_mimic_se_changes_only_standard_errors(df, base):
    r = fit(df, mimic_se="standard")
    np.testing.assert_array_equal(r.mimic.params["est"], base.mimic.params["est"])
    assert not np.allclose(r.mimic.params["se"], base.mimic.params["se"], equal_nan=True)
    same(r, base, PILLARS + ["RCI", "RCI_100", "status"])


def test_seed_and_determinism(df):
    a = fit(df, seed=3, factor={"retention": "parallel"})
    b = fit(df, seed=3, factor={"retention": "parallel"})
    pd.testing.assert_frame_equal(a.scores, b.scores, check_exact=True)
    import json

    assert json.dumps(a.model.to_dict()) == json.dumps(b.model.to_dict())


@pytest.mark.parametrize("options,match", [
    ({"negativ": ["x"]}, "did you mean 'negative'"),
    ({"factor": {"retension": 1}}, "did you mean 'retention'"),
    ({"rci_prediction": "regresion"}, "did you mean 'regression'"),
    ({"missing": "pairwise"}, "not one of listwise, pillar, fiml"),
    ({"rci_100": [5, 1]}, "low < high"),
    ({"factor": {"extraction": "pca"}}, "regression"),
])
def test_bad_options_are_named(options, match):
    with pytest.raises(SpecError, match=match):
        rima.load_spec(spec_with(**options))


@pytest.mark.parametrize("options,match", [
    ({"negative": ["dist_soum"]}, "did you mean 'dist_soum_km'"),
    ({"anchor": {"ABZ": "herd_su"}}, "did you mean 'ABS'"),
    ({"anchor": {"AST": "herd"}}, "no column 'herd'"),
    ({"factor": {"SN": {"retention": 1}}}, "no pillar 'SN'"),
])
def test_options_checked_against_spec(df, options, match):
    with pytest.raises(SpecError, match=match):
        fit(df, **options)
