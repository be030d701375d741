"""rima.moments against R (cor, cov, psych::cor.wt) and against exact arithmetic."""

from fractions import Fraction

import numpy as np
import pytest
from _factor_ref import arr, dataset, reference

from rima.errors import DataError
from rima.moments import compute_moments, pairwise_moments, standardised_scores


def test_correlations_match_r_on_every_dataset():
    for name, e in reference().items():
        if not isinstance(e, dict) or "fits" not in e:
            continue
        df, w = dataset(name)
        m = compute_moments(df, weights=w)
        np.testing.assert_allclose(m.corr(), arr(e["R"]), atol=1e-14, err_msg=name)
        assert m.names == list(df.columns)


def test_weighted_mean_and_covariance_match_psych_cor_wt():
    e = reference()["weighted_n1000"]
    df, w = dataset("weighted_n1000")
    m = compute_moments(df, weights=w)
    np.testing.assert_allclose(m.mean, arr(e["weighted_mean"]), atol=1e-13)
    # cor.wt normalises weights to sum to 1: its covariance is the co-moment over n
    np.testing.assert_allclose(m.cov(ddof=0), arr(e["weighted_cov_n"]), atol=1e-13)
    assert m.sum_weights == pytest.approx(len(df))
    u = compute_moments(df)
    np.testing.assert_allclose(u.cov(ddof=1), arr(e["unweighted_cov"]), atol=1e-13)
    np.testing.assert_allclose(u.cov(ddof=0) * len(df) / (len(df) - 1), u.cov(ddof=1))


def test_pairwise_and_listwise_match_r():
    e = reference()["missing_n1000"]
    df, _ = dataset("missing_n1000")
    pm = pairwise_moments(df)
    np.testing.assert_allclose(pm.corr(), arr(e["R_pairwise"]), atol=1e-14)
    full = df.dropna()
    assert len(full) == e["n_complete"]
    np.testing.assert_allclose(compute_moments(full).corr(), arr(e["R_listwise"]), atol=1e-14)


def test_no_digits_lost_with_large_offsets():
    # herd sizes in the hundreds, log expenditure near 11, a value near 1e9: exact rational
    # arithmetic on the same doubles is the yardstick
    rng = np.random.default_rng(3)
    n = 9001
    X = np.column_stack([
        np.round(350 + 150 * rng.standard_normal(n), 3),
        np.round(11 + 0.05 * rng.standard_normal(n), 6),
        np.round(1e9 + rng.standard_normal(n), 4),
    ])
    m = compute_moments(X)
    for j in range(3):
        col = [Fraction(v) for v in X[:, j]]
        mean = sum(col) / n
        var = sum((v - mean) ** 2 for v in col) / (n - 1)
        assert m.mean[j] == pytest.approx(float(mean), rel=1e-15)
        assert m.cov()[j, j] == pytest.approx(float(var), rel=1e-11)


def test_deterministic_and_block_order_independent_of_threads():
    import numba

    rng = np.random.default_rng(5)
    X = rng.standard_normal((50_000, 6)) * 10 + 1000
    a = compute_moments(X).comoment
    numba.set_num_threads(1)
    try:
        b = compute_moments(X).comoment
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(a, b)
    assert np.array_equal(a, compute_moments(X).comoment)


def test_fortran_order_and_dataframe_inputs_agree():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((10_000, 4))
    a = compute_moments(X)
    b = compute_moments(np.asfortranarray(X))
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_allclose(a.comoment, b.comoment, rtol=0, atol=0)


def test_standardised_scores_equal_explicit_product():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((5000, 5)) * 3 + 100
    mean, sd = X.mean(0), X.std(0, ddof=1)
    W = rng.standard_normal((5, 2))
    np.testing.assert_allclose(standardised_scores(X, mean, sd, W), ((X - mean) / sd) @ W,
                               atol=1e-12)


def test_bad_input_is_named():
    X = np.ones((10, 3))
    X[4, 1] = np.nan
    with pytest.raises(DataError, match="column 'b' at row 5"):
        compute_moments(X, names=["a", "b", "c"])
    with pytest.raises(DataError, match="weights"):
        compute_moments(np.zeros((5, 2)), weights=[1, 2])
    with pytest.raises(DataError, match="row 3 "):
        compute_moments(np.zeros((5, 2)), weights=[1, 1, -1, 1, 1])
    with pytest.raises(DataError, match="constant column.*x2"):
        compute_moments(np.column_stack([np.arange(5.0), np.ones(5)])).corr()


def test_weighted_scores_option_uses_weighted_moments():
    from rima import FactorModel

    e = reference()["weighted_n1000"]
    df, w = dataset("weighted_n1000")
    n = len(df)
    fm = FactorModel(n_factors=2, weighted_scores=True).fit(df, sample_weight=w)
    np.testing.assert_allclose(fm.mean_, arr(e["weighted_mean"]), atol=1e-13)
    sd = np.sqrt(np.diag(arr(e["weighted_cov_n"])) * n / (n - 1))
    np.testing.assert_allclose(fm.scale_, sd, atol=1e-12)
    # default (psych): unweighted mean and n - 1 SD for the standardisation
    fp = FactorModel(n_factors=2).fit(df, sample_weight=w)
    np.testing.assert_allclose(fp.scale_, np.sqrt(np.diag(arr(e["unweighted_cov"]))), atol=1e-12)


@pytest.mark.parametrize("p", [1, 2, 3, 4, 5, 7, 8, 9, 13])
def test_every_entry_of_the_co_moment_whatever_the_column_count(p):
    # the co-moment kernel works in 4 x 4 tiles of columns with single dot products for
    # the rest: every column count leaves a different remainder; exact rational arithmetic
    # on the same doubles is the yardstick
    rng = np.random.default_rng(p)
    n = 301
    X = np.round(rng.standard_normal((n, p)) * rng.uniform(0.5, 50, p) + rng.uniform(-9, 9, p),
                 5)
    m = compute_moments(X)
    cols = [[Fraction(v) for v in X[:, j]] for j in range(p)]
    means = [sum(c) / n for c in cols]
    for i in range(p):
        for j in range(i + 1):
            exact = sum((a - means[i]) * (b - means[j]) for a, b in zip(cols[i], cols[j]))
            assert m.comoment[i, j] == pytest.approx(float(exact), rel=1e-12, abs=1e-9)
            assert m.comoment[j, i] == m.comoment[i, j]


@pytest.mark.parametrize("share", [0.95, 0.7, 0.3])
def test_selected_rows_read_in_place_or_gathered_give_the_exact_moments(share):
    # the analysed rows of a survey are most of its rows: they are read in place, the rows
    # left out (missing values, so NaN here) counted at weight 0; sparse rows are gathered.
    # Either way: exact rational arithmetic on the selected doubles, and the fingerprint
    # digests of the selected rows in order
    from rima._kernels.columns import column_digests, read_only
    from rima._kernels.moments import BLOCK, DENSE, _dense_rows
    from rima.moments import moments_of_rows

    rng = np.random.default_rng(int(share * 100))
    q, n, p = 6, 3 * BLOCK + 123, 5
    V = np.round(rng.standard_normal((q, n)) * 7 + 3, 4)
    keep = rng.random(n) < share
    keep[:40] = False  # the first selected row is not row 0
    V[:, ~keep] = np.nan
    rows = np.flatnonzero(keep)
    cols = np.array([4, 0, 2, 5, 1])
    in_place = _dense_rows(rows, False)[0].shape[0] > 0
    assert in_place == (rows.size >= DENSE * (rows[-1] - rows[0] + 1))
    got = []
    for mask in (None, keep):
        dig = np.zeros(p, dtype=np.uint64)
        m = moments_of_rows(read_only(V), cols, rows, digest=dig, row_mask=mask)
        got.append((m, dig))
    (m, dig), (m2, dig2) = got
    np.testing.assert_array_equal(m.comoment, m2.comoment)  # the mask only saves work
    np.testing.assert_array_equal(dig, dig2)
    U = np.ascontiguousarray(V).view(np.uint64)
    np.testing.assert_array_equal(dig, column_digests(U, cols, rows))
    assert m.n_obs == rows.size
    sel = [[Fraction(v) for v in V[c, rows]] for c in cols]
    means = [sum(c) / rows.size for c in sel]
    for i in range(p):
        assert m.mean[i] == pytest.approx(float(means[i]), rel=1e-14, abs=1e-13)
        for j in range(i + 1):
            exact = sum((a - means[i]) * (b - means[j]) for a, b in zip(sel[i], sel[j]))
            assert m.comoment[i, j] == pytest.approx(float(exact), rel=1e-12, abs=1e-9)
