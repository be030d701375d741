"""The fit's MIMIC, orientation and RSM from the moments pass (listwise, unweighted): the
same numbers as the route that gathers the MIMIC's rows (whose numbers the R-reference
tests pin), without gathering them; and robust.sem's Gamma read in place equals lavaan's
fixed-x Gamma written out row by row."""

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLE_DATA, EXAMPLE_SPEC, fit_quiet

import rima
import rima.pipeline as pl
from rima.mimic.inference import gamma_feature_blocks_at, gamma_from_blocks, ols_slopes

DATA, SPEC = EXAMPLE_DATA, EXAMPLE_SPEC


@pytest.fixture(scope="module")
def data():
    df = pd.read_csv(DATA)
    # gaps in a variable and an indicator: the estimation sample is a subset of the rows
    df.loc[[3, 40, 41], "herd_su"] = np.nan
    df.loc[[7, 90], "hdds"] = np.nan
    return df


@pytest.mark.parametrize("options", [{}, {"mimic_se": "standard"},
                                     {"rci_prediction": "causes"},
                                     {"rci_prediction": "bartlett"},
                                     {"rsm": "std_coefficient"},
                                     {"orientation": "reference"},
                                     {"anchor": {"ABS": "mobile_coverage"}},
                                     {"missing": "all_columns"}])
def test_moments_route_gives_the_fit_on_gathered_rows(data, monkeypatch, options):
    sd = rima.load_spec(SPEC).to_dict()
    sd["options"] = {**sd.get("options", {}), **options}
    gathered = []
    real_gather = pl.gather_columns
    monkeypatch.setattr(pl, "gather_columns",
                        lambda *a, **k: gathered.append(1) or real_gather(*a, **k))
    fast = fit_quiet(data, sd)
    assert gathered == []  # no copy of the MIMIC's rows
    assert fast.mimic.nobs == int(fast.analysed.sum())
    monkeypatch.setattr(pl, "moments_route", lambda inp, shared: False)
    rows = fit_quiet(data, sd)
    assert gathered == [1]
    num = ["est", "se", "z", "std.all"]
    np.testing.assert_allclose(fast.mimic.params[num].to_numpy(float),
                               rows.mimic.params[num].to_numpy(float), rtol=1e-9, atol=1e-12)
    for k in ("chisq", "cfi", "tli", "rmsea", "srmr", "logl"):
        if k in rows.mimic.fit_measures:
            np.testing.assert_allclose(fast.mimic.fit_measures[k], rows.mimic.fit_measures[k],
                                       rtol=1e-9, atol=1e-12)
    cols = ["r", "share", "r_signed"]
    np.testing.assert_allclose(fast.rsm[cols].to_numpy(float), rows.rsm[cols].to_numpy(float),
                               rtol=1e-10)
    for name, p in rows.pillars.items():
        q = fast.pillars[name]
        assert (q.flipped, q.rule) == (p.flipped, p.rule)
        np.testing.assert_allclose(q.food_security_corr, p.food_security_corr, rtol=1e-10)
    value = ["RCI", "RCI_100", *fast.spec.pillar_names]
    np.testing.assert_allclose(fast.scores[value].to_numpy(float),
                               rows.scores[value].to_numpy(float), rtol=1e-9, atol=1e-9)
    assert (fast.scores["status"] == rows.scores["status"]).all()


def test_weighted_or_casewise_fits_gather_the_rows(data, monkeypatch):
    gathered = []
    real_gather = pl.gather_columns
    monkeypatch.setattr(pl, "gather_columns",
                        lambda *a, **k: gathered.append(1) or real_gather(*a, **k))
    for options in ({"weights": True}, {"mimic_se": "robust.huber.white"}):
        sd = rima.load_spec(SPEC).to_dict()
        sd["options"] = {**sd.get("options", {}), **options}
        fit_quiet(data, sd)
    assert gathered == [1, 1]


def _gamma_by_rows(y, x):
    """lavaan's fixed-x Gamma as its definition reads: the covariance (divisor n) over rows
    of vech(d d' - dh dh'), d = (y, x) centred, dh = d with y replaced by its OLS fit."""
    m, k = y.shape[1], x.shape[1]
    yc, xc = y - y.mean(axis=0), x - x.mean(axis=0)
    B = np.linalg.lstsq(xc, yc, rcond=None)[0].T
    d = np.hstack([yc, xc])
    dh = np.hstack([xc @ B.T, xc])
    iu = [(i, j) for j in range(m + k) for i in range(j, m + k)]  # vech by columns
    F = np.array([[a[i] * a[j] - b[i] * b[j] for i, j in iu] for a, b in zip(d, dh)])
    Fc = F - F.mean(axis=0)
    return Fc.T @ Fc / len(F)


def test_gamma_read_in_place_is_the_fixed_x_gamma():
    rng = np.random.default_rng(5)
    n, m, K = 700, 3, 4
    P = rng.normal(size=(n, K))
    raw = P @ rng.uniform(0.2, 0.6, (K, m)) + rng.normal(size=(n, m))
    raw = raw * [2.0, 30.0, 0.5] + [10.0, -4.0, 100.0]
    # the block as validation holds it (one variable per row, other columns between) and
    # the pillars as the fit's scores block; only some rows are the MIMIC's
    block = np.vstack([rng.normal(size=n), raw[:, 0], raw[:, 1], rng.normal(size=n),
                       raw[:, 2]])
    out = np.vstack([P.T, np.full((2, n), np.nan)])
    rows = np.flatnonzero(rng.uniform(size=n) > 0.2)
    ymean, ysd = raw[rows].mean(axis=0), raw[rows].std(axis=0, ddof=1)
    y = (raw[rows] - ymean) / ysd
    x = P[rows]
    Z = np.hstack([y, x])
    zmean = Z.mean(axis=0)
    cov = np.cov(Z.T, bias=True)
    b = ols_slopes(cov[m:, m:], cov[:m, m:])
    blocks = gamma_feature_blocks_at(block, [1, 2, 4], ymean, ysd, out, np.arange(K), rows,
                                     None, zmean[:m], zmean[m:], b)
    got = gamma_from_blocks([blocks], b, rows.size)
    np.testing.assert_allclose(got, _gamma_by_rows(y, x), rtol=1e-9, atol=1e-12)
