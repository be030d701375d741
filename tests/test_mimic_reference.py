"""rima.mimic against R lavaan 0.6.14 (tests/reference/mimic_reference.R and its JSON)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima.mimic as M

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "mimic_reference.json").read_text())

CONFIGS = {
    "ml": {"estimator": "ML"},
    "ml_robust_sem": {"se": "robust.sem"},
    "mlm": {"estimator": "MLM"},
    "mlr": {"estimator": "MLR"},
    "fiml": {"missing": "fiml"},
    "fiml_mlr": {"estimator": "MLR", "missing": "fiml"},
    "weighted_ml": {"sampling_weights": "w"},
    "weighted_mlr": {"estimator": "MLR", "sampling_weights": "w"},
    "weighted_fiml": {"missing": "fiml", "sampling_weights": "w"},
    "weighted_fiml_mlr": {"estimator": "MLR", "missing": "fiml", "sampling_weights": "w"},
}
SCALED = ("mlm", "mlr", "weighted_ml", "weighted_mlr", "fiml_mlr", "weighted_fiml",
          "weighted_fiml_mlr")
FIML = ("fiml", "fiml_mlr", "weighted_fiml", "weighted_fiml_mlr")
# lavaan's own baseline fit does not converge on the badly scaled data (its baseline chisq is
# far above the closed-form value), so only estimates and scores are compared there.
BADLY_SCALED = "badly_scaled"

_DATA: dict = {}


def _data(name):
    if name not in _DATA:
        _DATA[name] = pd.read_csv(REF_DIR / "mimic_data" / REF["datasets"][name]["file"])
    return _DATA[name]


CASES = [(d, f) for d, ds in REF["datasets"].items() for f in ds["fits"] if f in CONFIGS]
_FITS: dict = {}


def _fit(dname, fname):
    key = (dname, fname)
    if key not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[key] = M.fit(REF["datasets"][dname]["model"], _data(dname), **CONFIGS[fname])
    return _FITS[key]


def _merged(dname, fname):
    ref = pd.DataFrame(REF["datasets"][dname]["fits"][fname]["params"])
    mine = _fit(dname, fname).params
    mg = ref.merge(mine, on=["lhs", "op", "rhs"], suffixes=("_r", "_p"), how="outer",
                   indicator=True)
    return mg


@pytest.mark.parametrize("dname,fname", CASES)
def test_parameter_table(dname, fname):
    mg = _merged(dname, fname)
    assert (mg["_merge"] == "both").all(), mg[mg["_merge"] != "both"][["lhs", "op", "rhs"]]
    scale = np.maximum(1.0, np.abs(mg["est_r"])) if dname == BADLY_SCALED else 1.0
    np.testing.assert_array_less(np.abs(mg["est_p"] - mg["est_r"]) / scale, 1e-5)
    for col in ("std.lv", "std.all"):
        s = np.maximum(1.0, np.abs(mg[col + "_r"])) if dname == BADLY_SCALED else 1.0
        np.testing.assert_array_less(np.abs(mg[col + "_p"] - mg[col + "_r"]) / s, 1e-5)
    if dname == BADLY_SCALED:
        # lavaan reports no usable standard errors on this data; rima's must be finite
        assert np.isfinite(mg["se_p"]).all()
        return
    free = mg["se_r"] > 0
    rel = np.abs(mg.loc[free, "se_p"] / mg.loc[free, "se_r"] - 1)
    assert rel.max() < 1e-4
    assert (mg.loc[~free, "se_p"] == 0).all()
    for col in ("z", "ci.lower", "ci.upper"):
        a, b = mg[col + "_r"].to_numpy(float), mg[col + "_p"].to_numpy(float)
        ok = np.isfinite(a)
        assert np.array_equal(ok, np.isfinite(b))
        np.testing.assert_allclose(b[ok], a[ok], rtol=1e-4, atol=1e-5 * np.abs(a[ok]).max())


@pytest.mark.parametrize("dname,fname", [c for c in CASES if c[1] in FIML
                                         and c[0] in ("fiml_misfit", "weighted_fiml")])
def test_fiml_robust_measures_away_from_bounds(dname, fname):
    """The misfitting FIML cases check the FIML-corrected robust RMSEA/CFI where they are
    not clipped at 0 / 1 (on fiml_missing they sit at their bounds)."""
    ref = REF["datasets"][dname]["fits"][fname]["fit_measures"]
    fm = _fit(dname, fname).fit_measures
    assert 0 < ref["cfi.robust"] < 1 and ref["rmsea.robust"] > 0
    for key in ("rmsea.robust", "cfi.robust", "tli.robust", "rmsea.ci.lower.robust",
                "rmsea.ci.upper.robust", "rmsea.pvalue.robust"):
        assert fm[key] == pytest.approx(ref[key], rel=1e-4), key
    # the FIML correction is not the scaled-test shortcut of complete data
    if "chisq.scaling.factor" in ref:
        naive = np.sqrt(max(fm["chisq"] / (fm["ntotal"] * fm["df"])
                            - fm["chisq.scaling.factor"] / fm["ntotal"], 0.0))
        assert abs(naive - ref["rmsea.robust"]) > 1e-4


@pytest.mark.parametrize("dname,fname", [c for c in CASES if c[0] != BADLY_SCALED])
def test_fit_measures(dname, fname):
    """Every value of lavaan's fitMeasures() is reported, within 1e-4 relative."""
    ref = REF["datasets"][dname]["fits"][fname]["fit_measures"]
    fm = _fit(dname, fname).fit_measures
    expected = {k: v for k, v in ref.items() if v is not None}
    assert sorted(set(expected) - set(fm)) == []
    for key, v in expected.items():
        assert fm[key] == pytest.approx(v, rel=1e-4, abs=1e-7), key
    must = {"npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli",
            "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "logl", "unrestricted.logl", "aic",
            "bic", "srmr", "gfi"}
    if fname in SCALED:
        must |= {"chisq.scaled", "pvalue.scaled", "chisq.scaling.factor", "cfi.scaled",
                 "tli.scaled", "baseline.chisq.scaled", "rmsea.scaled",
                 "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "rmsea.pvalue.scaled"}
    if fname in SCALED or fname in FIML:
        # under FIML lavaan reports the FIML-corrected robust measures even for plain ML
        must |= {"cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust",
                 "rmsea.ci.upper.robust", "rmsea.pvalue.robust"}
    assert must <= set(expected)


@pytest.mark.parametrize("dname,fname", [c for c in CASES if c[1] in FIML])
def test_fiml_srmr_uses_em_moments(dname, fname):
    """Under FIML, SRMR is taken against the EM (h1) moments, with the mean residuals."""
    ref = REF["datasets"][dname]["fits"][fname]["fit_measures"]
    fm = _fit(dname, fname).fit_measures
    for key in ("srmr", "srmr_bentler_nomean", "srmr_mplus", "crmr", "rmr"):
        assert fm[key] == pytest.approx(ref[key], rel=1e-4), key
    # the mean residuals matter: the total and the covariance-only versions differ
    assert fm["srmr"] != pytest.approx(fm["srmr_bentler_nomean"], rel=1e-3)


@pytest.mark.parametrize("dname,fname", CASES)
def test_r2(dname, fname):
    ref = REF["datasets"][dname]["fits"][fname]["r2"]
    r2 = _fit(dname, fname).r2
    for k, v in ref.items():
        if v is not None:
            assert r2[k] == pytest.approx(v, abs=1e-5)


@pytest.mark.parametrize("dname,fname", [c for c in CASES if c[1] in ("ml", "weighted_mlr")])
def test_predictions_match_exact_formula(dname, fname):
    f = REF["datasets"][dname]["fits"][fname]
    res = _fit(dname, fname)
    df = _data(dname)
    cols = res.model.observed
    complete = df[cols].notna().all(axis=1).to_numpy()
    rows = np.array(f["pred_rows"]) - 1
    for meth in ("regression", "bartlett", "causes"):
        ref = np.asarray(f["explicit"][meth], dtype=float)
        got = res.predict(df[complete].iloc[rows], meth)
        scale = max(1.0, np.abs(ref).max())
        assert np.abs(got - ref).max() / scale < 1e-6, meth


@pytest.mark.parametrize("dname", [d for d in REF["datasets"] if d != BADLY_SCALED
                                   and "ml" in REF["datasets"][d]["fits"]])
def test_predictions_match_lavpredict(dname):
    f = REF["datasets"][dname]["fits"]["ml"]
    res = _fit(dname, "ml")
    df = _data(dname)
    complete = df[res.model.observed].notna().all(axis=1).to_numpy()
    rows = np.array(f["pred_rows"]) - 1
    for meth in ("regression", "bartlett"):
        ref = np.asarray(f["lavpredict"][meth], dtype=float)
        got = res.predict(df[complete].iloc[rows], meth)
        assert np.abs(got - ref).max() < 1e-6, meth


def test_badly_scaled_scores_differ_from_lavpredict_but_match_exact():
    f = REF["datasets"][BADLY_SCALED]["fits"]["ml"]
    res = _fit(BADLY_SCALED, "ml")
    got = res.predict(_data(BADLY_SCALED), "regression")
    exact = np.asarray(f["explicit"]["regression"])
    assert np.abs(got - exact).max() < 1e-6 * max(1.0, np.abs(exact).max())
    # lavPredict drops small singular values here and drifts far from the exact scores
    drift = np.abs(np.asarray(f["lavpredict"]["regression"]) - exact).max()
    assert drift > 1e-2


def test_prediction_weights_reproduce_predict():
    res = _fit("base_n200", "ml")
    df = _data("base_n200")
    for meth in ("regression", "bartlett", "causes"):
        icpt, cx, cy = res.prediction_weights(meth)
        direct = icpt + df[res.model.causes].to_numpy() @ cx
        direct = direct + df[res.model.indicators].to_numpy() @ cy
        np.testing.assert_allclose(res.predict(df, meth), direct, rtol=1e-12, atol=1e-12)
    # scoring a batch never re-centres on that batch
    one = res.predict(df.iloc[:1], "regression")
    assert one[0] == pytest.approx(res.predict(df, "regression")[0], abs=1e-12)
