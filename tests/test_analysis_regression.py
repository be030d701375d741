"""Weighted, soum-clustered regressions against R (sandwich, survey) and statsmodels.

R reference: tests/reference/analysis_reference.R -> analysis_reference.json, on the
committed data tests/reference/analysis_data.csv.gz.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rima.analysis.regression import fit_regression
from rima.analysis.shocks import shocks
from rima.errors import DataError, RimaInputError

REF_DIR = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF_DIR / "analysis_reference.json").read_text())


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF_DIR / "analysis_data.csv.gz")


def _check(res, r, est_tol, se_rtol):
    assert res.nobs == r["nobs"]
    assert res.n_clusters == r["n_clusters"]
    np.testing.assert_allclose(res.params["est"], r["est"], rtol=0, atol=est_tol)
    np.testing.assert_allclose(res.params["se"], r["se_vcovCL_HC1"], rtol=se_rtol)
    # survey::svyglm: same estimates, SEs without the (N-1)/(N-K) factor
    n, k = r["nobs"], len(r["est"])
    np.testing.assert_allclose(res.params["est"], r["est_svyglm"], rtol=0, atol=est_tol)
    np.testing.assert_allclose(res.params["se"] / np.sqrt((n - 1) / (n - k)), r["se_svyglm"],
                               rtol=se_rtol)


def test_ols_with_severity_interactions_matches_r(data, ref):
    res = shocks(data, rci="resilience", weight="hh_weight")
    r = ref["ols_severity"]
    assert res.rci_mean == pytest.approx(ref["weighted_mean_resilience"], abs=1e-12)
    assert res.table["term"].tolist() == ["const", "resilience", "loss_share", "severity",
                                          "resilience:loss_share", "resilience:severity"]
    _check(res.model, r, 1e-9, 1e-9)
    np.testing.assert_allclose(res.model.vcov.to_numpy(), np.array(r["vcov_vcovCL_HC1"]),
                               rtol=1e-9, atol=1e-12)


def test_ols_with_dzud_class_matches_r(data, ref):
    res = shocks(data, rci="resilience", weight="hh_weight", soum_shocks="dzud_class",
                 interactions=False)
    assert res.table["term"].tolist() == ["const", "resilience", "loss_share",
                                          "dzud_class[dzud]", "dzud_class[dzud-like]"]
    _check(res.model, ref["ols_dzud_class"], 1e-9, 1e-9)


@pytest.mark.parametrize("kind", ["logit", "probit"])
def test_binary_models_match_r(data, ref, kind):
    res = shocks(data, rci="resilience", weight="hh_weight", kind=kind, interactions=False)
    assert res.outcome == "fcs < 35"
    _check(res.model, ref[kind], 1e-7, 1e-6)


def test_ols_matches_statsmodels_called_directly(data):
    import statsmodels.api as sm

    res = shocks(data, rci="resilience", weight="hh_weight", interactions=False)
    X = sm.add_constant(data[["resilience", "loss_share", "severity"]].astype(float))
    codes = pd.factorize(data["soum"], sort=True)[0]
    direct = sm.WLS(data["fcs"], X, weights=data["hh_weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    np.testing.assert_allclose(res.table["est"], direct.params, rtol=1e-12)
    np.testing.assert_allclose(res.table["se"], direct.bse, rtol=1e-10)
    np.testing.assert_allclose(res.table[["ci_lower", "ci_upper"]], direct.conf_int(),
                               rtol=1e-10)
    np.testing.assert_allclose(res.table["pvalue"], direct.pvalues, rtol=1e-8, atol=1e-300)


def test_logit_matches_statsmodels_glm_called_directly(data):
    import statsmodels.api as sm

    res = shocks(data, rci="resilience", weight="hh_weight", kind="logit", interactions=False)
    X = sm.add_constant(data[["resilience", "loss_share", "severity"]].astype(float))
    y = (data["fcs"] < 35).astype(float)
    codes = pd.factorize(data["soum"], sort=True)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = sm.GLM(y, X, family=sm.families.Binomial(), var_weights=data["hh_weight"]).fit(
            cov_type="cluster", cov_kwds={"groups": codes}, use_t=True, tol=1e-12)
    np.testing.assert_allclose(res.table["est"], direct.params, rtol=1e-8)
    # canonical link: observed = expected information, so the sandwich is the same
    np.testing.assert_allclose(res.table["se"], direct.bse, rtol=1e-6)


def test_unclustered_is_hc1(data):
    import statsmodels.api as sm

    res = fit_regression(data, "fcs", ["resilience", "loss_share"], weight="hh_weight")
    X = sm.add_constant(data[["resilience", "loss_share"]])
    direct = sm.WLS(data["fcs"], X, weights=data["hh_weight"]).fit(cov_type="HC1")
    np.testing.assert_allclose(res.params["se"], direct.bse, rtol=1e-10)
    assert res.df == len(data) - 3


def test_missing_rows_are_accounted_not_dropped_silently(data):
    d = data.copy()
    d.loc[[3, 10], "loss_share"] = np.nan
    d.loc[[5], "hh_weight"] = 0.0
    res = fit_regression(d, "fcs", ["resilience", "loss_share"], weight="hh_weight",
                         cluster="soum")
    assert res.nobs == len(d) - 3
    assert res.row_status.iloc[3] == "missing value in loss_share"
    assert res.row_status.iloc[5] == "non-positive weight in hh_weight"
    assert res.excluded == {"missing value in loss_share": 2, "non-positive weight in hh_weight": 1}
    assert "not used: 2 row(s), missing value in loss_share" in res.summary()


def test_regression_input_errors(data):
    d = data.copy()
    d["const_col"] = 1.0
    d["twice"] = 2 * d["resilience"]
    with pytest.raises(DataError, match="'const_col'.*do not vary"):
        fit_regression(d, "fcs", ["resilience", "const_col"])
    with pytest.raises(DataError, match="collinear"):
        fit_regression(d, "fcs", ["resilience", "twice"])
    with pytest.raises(DataError, match=r"logit outcome 'fcs' must be 0/1"):
        fit_regression(d, "fcs", ["resilience"], kind="logit")
    with pytest.raises(DataError, match=r"column\(s\) not found: \['nope'\]"):
        fit_regression(d, "fcs", ["resilience", "nope"])
    with pytest.raises(RimaInputError, match="model kind"):
        fit_regression(d, "fcs", ["resilience"], kind="tobit")
    d["one_soum"] = "Ider"
    with pytest.raises(DataError, match="at least 2 values of 'one_soum'"):
        fit_regression(d, "fcs", ["resilience"], cluster="one_soum")
