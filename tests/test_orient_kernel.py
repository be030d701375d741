"""The food-security composite and its correlations with the pillars
(rima._kernels.orient through rima.orientation) against a plain numpy implementation of
the rule, with missing values, weights and several blocks; the same bits at every thread
count."""

import warnings

import numpy as np
import pytest

from rima import config, orientation
from rima._kernels import threads


def numpy_composite(Y, rows):
    mean = np.nanmean(Y[rows], axis=0)
    sd = np.nanstd(Y[rows], axis=0, ddof=1)
    sd[~(sd > 0)] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean((Y - mean) / sd, axis=1)


def numpy_correlation(x, y, w):
    both = np.isfinite(x) & np.isfinite(y)
    n = int(both.sum())
    if n < 3:
        return np.nan, n
    x, y, w = x[both], y[both], w[both]
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    den = np.sqrt(np.sum(w * (x - xm) ** 2) * np.sum(w * (y - ym) ** 2))
    return float(np.sum(w * (x - xm) * (y - ym)) / den), n


def data(n=20_000, seed=3):
    rng = np.random.default_rng(seed)
    Y = rng.normal([10.0, -3.0, 200.0], [2.0, 1.0, 40.0], (n, 3))
    Y[rng.random((n, 3)) < 0.1] = np.nan
    Y[:50] = np.nan  # rows with no indicator: no composite
    P = np.asfortranarray(rng.normal(0, 1, (n, 4)) + 0.3 * np.nan_to_num(Y[:, :1] - 10))
    P[rng.random((n, 4)) < 0.05] = np.nan
    rows = rng.random(n) < 0.8
    w = rng.uniform(0.2, 3.0, n)
    return Y, P, rows, w


def test_composite_is_the_mean_of_the_present_z_scores():
    Y, _P, rows, _w = data()
    np.testing.assert_allclose(orientation.composite(Y, rows), numpy_composite(Y, rows),
                               rtol=1e-13, atol=1e-13)
    assert np.isnan(orientation.composite(Y, rows)[:50]).all()


@pytest.mark.parametrize("weighted", [False, True])
def test_correlations_match_numpy(weighted):
    Y, P, rows, w = data()
    fs = numpy_composite(Y, rows)
    got = orientation.composite_correlations(Y, P, rows, w if weighted else None)
    for k in range(P.shape[1]):
        sel = rows & np.isfinite(P[:, k])
        r, n = numpy_correlation(P[sel, k], fs[sel], w[sel] if weighted else np.ones(sel.sum()))
        assert got[k][1] == n
        assert got[k][0] == pytest.approx(r, rel=1e-12)


def test_given_means_and_sds_are_used():
    Y, P, rows, _w = data()
    mean, sd = np.array([9.0, -2.0, 150.0]), np.array([1.5, 0.5, 0.0])  # 0: read as 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fs = np.nanmean((Y - mean) / np.where(sd > 0, sd, 1.0), axis=1)
    got = orientation.composite_correlations(Y, P, rows, None, mean, sd)
    sel = rows & np.isfinite(P[:, 0])
    assert got[0][0] == pytest.approx(numpy_correlation(P[sel, 0], fs[sel],
                                                        np.ones(sel.sum()))[0], rel=1e-12)


def test_fewer_than_three_rows_give_no_correlation():
    Y, P, _rows, _w = data(n=100)
    rows = np.zeros(100, bool)
    rows[60:62] = True
    Y[60:62] = 1.0
    P[60:62] = 1.0
    got = orientation.composite_correlations(Y, P, rows, None, np.zeros(3), np.ones(3))
    assert all(np.isnan(r) and n == 2 for r, n in got)


def test_same_bits_at_every_thread_count(monkeypatch):
    Y, P, rows, w = data(n=50_000)
    config.set_num_threads(1)
    one = orientation.composite_correlations(Y, P, rows, w)
    fs1 = orientation.composite(Y, rows)
    monkeypatch.setattr(threads, "max_threads", lambda: 4)
    monkeypatch.setattr(threads, "SERIAL_ROWS", 1)
    monkeypatch.setattr(threads, "_pool", None)
    config.set_num_threads(4)
    try:
        assert orientation.composite_correlations(Y, P, rows, w) == one
        assert np.array_equal(orientation.composite(Y, rows), fs1, equal_nan=True)
    finally:
        config.set_num_threads(None)
