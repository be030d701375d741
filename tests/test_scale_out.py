import itertools

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from rima.errors import DataError, ModelFileError
from rima.moments import compute_moments, merge_moments
from rima.scale_out import compute_moments_dask, score_dask


def _frame(n=5000, seed=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "herd_su": rng.lognormal(5.5, 0.8, n),
        "log_food_exp_ae": 11 + rng.normal(0, 0.3, n),
        "hdds": rng.integers(0, 13, n).astype(float),
        "w": rng.uniform(0.2, 3.0, n),
    })
    df.loc[[7, 4000], "hdds"] = np.nan
    df.loc[[11], "herd_su"] = np.nan
    return df


def test_merge_of_chunks_equals_one_pass_weighted_and_unweighted():
    df = _frame().dropna()
    X = df[["herd_su", "log_food_exp_ae", "hdds"]].to_numpy()
    for w in (None, df["w"].to_numpy()):
        whole = compute_moments(X, weights=w)
        cuts = [0, 1, 1234, 1235, 4100, len(X)]
        parts = [compute_moments(X[a:b], weights=None if w is None else w[a:b])
                 for a, b in itertools.pairwise(cuts)]
        merged = merge_moments(parts)
        np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-13)
        np.testing.assert_allclose(merged.cov(), whole.cov(), rtol=1e-11)
        np.testing.assert_allclose(merged.corr(), whole.corr(), atol=1e-13)
        assert merged.n_obs == whole.n_obs


def test_dask_moments_match_pandas_and_count_excluded_rows():
    df = _frame()
    cols = ["herd_su", "log_food_exp_ae", "hdds"]
    moments, excluded = compute_moments_dask(dd.from_pandas(df, npartitions=7), cols, weight="w")
    complete = df.dropna()
    # pandas/numpy as the independent witness of the weighted covariance (divisor n - 1
    # after normalising the weights to sum to n, psych::cor.wt's convention)
    w = complete["w"].to_numpy() / complete["w"].mean()
    X = complete[cols].to_numpy()
    mean = (w[:, None] * X).sum(0) / w.sum()
    D = X - mean
    cov = (w[:, None] * D).T @ D / (len(X) - 1)
    np.testing.assert_allclose(moments.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(moments.cov(), cov, rtol=1e-10)
    assert excluded == {"hdds": 2, "herd_su": 1}
    assert moments.n_obs + sum(excluded.values()) == len(df)


def test_dask_moments_name_missing_columns():
    ddf = dd.from_pandas(_frame(), npartitions=2)
    with pytest.raises(DataError, match="hay_reserve_t"):
        compute_moments_dask(ddf, ["herd_su", "hay_reserve_t"])


def test_dask_scoring_equals_in_memory_scoring():
    import rima

    survey = rima.simulate(n_households=600, seed=5)
    spec = "examples/zavkhan/spec.toml"
    result = rima.fit(survey.households, spec)
    new = rima.simulate(n_households=900, seed=6).households
    expected = result.model.score(new)
    got = score_dask(result.model, dd.from_pandas(new, npartitions=4)).compute()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    assert (got["status"] != "ok").sum() > 0  # rows with missing values are reported, not lost
    assert len(got) == len(new)


def test_dask_scoring_names_missing_columns():
    import rima

    result = rima.fit(rima.simulate(n_households=400, seed=8).households,
                      "examples/zavkhan/spec.toml")
    ddf = dd.from_pandas(rima.simulate(n_households=50, seed=9).households.drop(columns="herd_su"),
                         npartitions=2)
    with pytest.raises(ModelFileError, match="herd_su"):
        score_dask(result.model, ddf)
