"""Weighted principal components against psych::principal(weight =) on psych's bfi and
psychTools' ability items (tests/reference/rdata_pca_reference.R and its JSON)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rima import FactorModel

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "rdata_pca_reference.json").read_text())
CASES = [(d, f) for d, ds in REF["datasets"].items() for f in ds["fits"]]
_DATA: dict = {}


def _data(name):
    if name not in _DATA:
        ds = REF["datasets"][name]
        df = pd.read_csv(REF_DIR / "rdata_pca_data" / ds["file"])
        _DATA[name] = (df[ds["columns"]], df["weight"].to_numpy())
    return _DATA[name]


def _arr(x):
    return np.atleast_2d(np.asarray(x, dtype=float).T).T if np.ndim(x) == 1 else np.asarray(x)


def _fitted(dname, fname, **kw):
    f = REF["datasets"][dname]["fits"][fname]
    X, w = _data(dname)
    fm = FactorModel(n_factors=f["k"], method="pca", rotation=f["rotation"],
                     scores="regression", **kw)
    return fm.fit(X, sample_weight=w), f, X


@pytest.mark.parametrize("dname,fname", CASES)
def test_weighted_components_match_psych_principal(dname, fname):
    fm, f, X = _fitted(dname, fname)
    np.testing.assert_allclose(fm.loadings_.to_numpy(), _arr(f["loadings"]), atol=1e-10)
    np.testing.assert_allclose(fm.communalities_.to_numpy(), f["communality"], atol=1e-10)
    np.testing.assert_allclose(fm.eigenvalues_, f["values"], atol=1e-10)
    if "Phi" in f:
        np.testing.assert_allclose(fm.phi_.to_numpy(), _arr(f["Phi"]), atol=1e-8)
    # score weights solved on the weighted correlations, the data standardised unweighted
    np.testing.assert_allclose(fm.score_weights_.to_numpy(), _arr(f["weights"]), atol=1e-10)
    rows = len(f["scores"])
    np.testing.assert_allclose(fm.transform(X.iloc[:rows]), _arr(f["scores"]), atol=1e-9)
    # the unweighted-correlation weights rima used before are measurably different
    gap = np.abs(_arr(f["weights_unweighted_r"]) - _arr(f["weights"])).max()
    assert gap > 1e-4


def test_weighted_scores_option_still_weights_the_standardisation():
    """weighted_scores=True also standardises with the weighted means and SDs (not psych)."""
    fm, f, X = _fitted("bfi", "3/varimax", weighted_scores=True)
    _, w = _data("bfi")
    np.testing.assert_allclose(fm.score_weights_.to_numpy(), _arr(f["weights"]), atol=1e-10)
    wn = w / w.sum()
    mean = wn @ X.to_numpy()
    assert np.allclose(fm.mean_, mean, atol=1e-12)
    assert np.abs(fm.mean_ - X.mean().to_numpy()).max() > 1e-3


@pytest.mark.parametrize("dname,fname", [("bfi", "3/oblimin"), ("ability", "2/varimax")])
def test_fit_from_moments_gives_psych_principal_weights(dname, fname):
    """FactorAnalysis.fit_moments (the pipeline's shared pass, partitioned fits) solves
    component weights on the weighted correlations too."""
    from rima.factor import FactorAnalysis
    from rima.moments import compute_moments

    f = REF["datasets"][dname]["fits"][fname]
    X, w = _data(dname)
    A = X.to_numpy(dtype=float)
    fm = FactorAnalysis(n_factors=f["k"], method="pca", rotation=f["rotation"],
                        scores="regression")
    fm.fit_moments(compute_moments(A), compute_moments(A, w), names=list(X.columns))
    np.testing.assert_allclose(fm.score_weights_.to_numpy(), _arr(f["weights"]), atol=1e-10)
    rows = len(f["scores"])
    np.testing.assert_allclose(fm.transform(X.iloc[:rows]), _arr(f["scores"]), atol=1e-9)
