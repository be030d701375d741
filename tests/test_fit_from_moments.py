"""Entry points that fit from moments merged over partitions give the fits from rows (whose
numbers the R-reference tests pin): FactorAnalysis.fit_moments and rima.mimic.fit with
sample_moments and a merged Gamma."""

import numpy as np
import pandas as pd

import rima
from rima.factor import FactorAnalysis
from rima.mimic.inference import gamma_feature_blocks, gamma_from_blocks, ols_slopes
from rima.moments import compute_moments, merge_moments


def _pillar(n=800, seed=2):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    X = f @ rng.uniform(0.4, 0.9, (1, 5)) + rng.normal(scale=0.6, size=(n, 5))
    return pd.DataFrame(X * [1, 10, 100, 1e3, 1e6] + 1e6, columns=list("abcde")), \
        rng.uniform(0.3, 3.0, n)


def test_fit_moments_equals_fit_on_rows():
    X, w = _pillar()
    for kw in ({}, {"scores": "regression"}, {"method": "pca", "scores": "regression"}):
        for weight in (None, w):
            rows = FactorAnalysis(**kw).fit(X, sample_weight=weight)
            parts = np.array_split(np.arange(len(X)), 5)
            mu = merge_moments([compute_moments(X.iloc[p]) for p in parts])
            mw = None if weight is None else merge_moments(
                [compute_moments(X.iloc[p], weights=weight[p]) for p in parts])
            mom = FactorAnalysis(**kw).fit_moments(mu, mw, names=list(X.columns))
            for attr in ("loadings_", "score_weights_"):
                np.testing.assert_allclose(getattr(mom, attr), getattr(rows, attr),
                                           rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(mom.mean_, rows.mean_, rtol=1e-14)
            np.testing.assert_allclose(mom.scale_, rows.scale_, rtol=1e-11)
            np.testing.assert_allclose(mom.transform(X), rows.transform(X), atol=1e-9)


def test_mimic_from_merged_moments_and_gamma_equals_fit_on_rows():
    hh = rima.simulate(n_households=1200, seed=3).households
    y, x = ["fcs", "log_food_exp_ae", "hdds"], ["herd_su", "n_income_sources", "head_edu_years"]
    d = hh[y + x].dropna()
    d = (d - d.mean()) / d.std()
    syntax = f"RCI =~ {' + '.join(y)}\nRCI ~ {' + '.join(x)}"
    rows = rima.mimic.fit(syntax, d, se="robust.sem", test="satorra.bentler")
    parts = np.array_split(np.arange(len(d)), 4)
    Z = d.to_numpy()
    mz = merge_moments([compute_moments(Z[p]) for p in parts])
    cov = mz.comoment / mz.n_obs
    b = ols_slopes(cov[3:, 3:], cov[:3, 3:])
    blocks = [gamma_feature_blocks(np.ascontiguousarray(Z[p, :3]),
                                   np.ascontiguousarray(Z[p, 3:]), None, mz.mean[:3],
                                   mz.mean[3:], b) for p in parts]
    gamma = gamma_from_blocks(blocks, b, mz.n_obs)
    mom = rima.mimic.fit(syntax, sample_moments=mz, gamma=gamma, se="robust.sem",
                         test="satorra.bentler")
    num = ["est", "se", "z", "pvalue"]
    np.testing.assert_allclose(mom.params[num].to_numpy(float),
                               rows.params[num].to_numpy(float), rtol=1e-9, atol=1e-12)
    for k in ("chisq", "chisq.scaled", "cfi", "rmsea", "srmr"):
        if k in rows.fit_measures:
            np.testing.assert_allclose(mom.fit_measures[k], rows.fit_measures[k], rtol=1e-9)
