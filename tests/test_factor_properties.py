"""Invariances of FactorModel (hypothesis): row order, variable scale, column order."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rima import FactorModel
from rima.errors import HeywoodWarning, RimaWarning

CONFIGS = [
    {"method": "pa", "rotation": "none", "scores": "bartlett"},
    {"method": "pa", "rotation": "varimax", "scores": "regression", "smc": True},
    {"method": "minres", "rotation": "oblimin", "scores": "bartlett"},
    {"method": "ml", "rotation": "promax", "scores": "regression"},
    {"method": "pf", "rotation": "none", "scores": "regression"},
]


def _data(seed, n=300, p=6):
    rng = np.random.default_rng(seed)
    L = np.zeros((p, 2))
    L[: p // 2, 0] = rng.uniform(0.5, 0.85, p // 2)
    L[p // 2:, 1] = rng.uniform(0.5, 0.85, p - p // 2)
    F = rng.standard_normal((n, 2))
    u = np.sqrt(1 - (L**2).sum(1))
    return F @ L.T + rng.standard_normal((n, p)) * u


def _fit(X, cfg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HeywoodWarning)
        warnings.simplefilter("ignore", RimaWarning)
        return FactorModel(n_factors=2, **cfg).fit(X)


settings_ = settings(max_examples=12, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@settings_
@given(seed=st.integers(0, 10_000), cfg=st.sampled_from(CONFIGS), data=st.data())
def test_row_permutation_invariance(seed, cfg, data):
    X = _data(seed)
    perm = np.random.default_rng(data.draw(st.integers(0, 1000))).permutation(len(X))
    a, b = _fit(X, cfg), _fit(X[perm], cfg)
    np.testing.assert_allclose(a.loadings_.to_numpy(), b.loadings_.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(a.transform(X)[perm], b.transform(X[perm]), atol=1e-7)


@settings_
@given(seed=st.integers(0, 10_000), cfg=st.sampled_from(CONFIGS),
       scale=st.lists(st.floats(1e-3, 1e4), min_size=6, max_size=6),
       shift=st.lists(st.floats(-1e5, 1e5), min_size=6, max_size=6))
def test_variable_scaling_leaves_loadings_unchanged(seed, cfg, scale, shift):
    X = _data(seed)
    Y = X * np.array(scale) + np.array(shift)
    a, b = _fit(X, cfg), _fit(Y, cfg)
    np.testing.assert_allclose(a.loadings_.to_numpy(), b.loadings_.to_numpy(), atol=1e-7)
    np.testing.assert_allclose(a.transform(X), b.transform(Y), atol=1e-6)


@settings_
@given(seed=st.integers(0, 10_000), cfg=st.sampled_from(CONFIGS),
       perm=st.permutations(list(range(6))))
def test_column_order_equivariance(seed, cfg, perm):
    X = _data(seed)
    perm = np.array(perm)
    a, b = _fit(X, cfg), _fit(X[:, perm], cfg)
    np.testing.assert_allclose(a.loadings_.to_numpy()[perm], b.loadings_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(a.communalities_.to_numpy()[perm],
                               b.communalities_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(a.transform(X), b.transform(X[:, perm]), atol=1e-5)
