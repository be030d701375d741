"""Asset index (first factor of asset-ownership items, rima's factor engine) and counts.

The index is the first factor of the items' correlation matrix (principal axis, Bartlett
or regression scores as configured), its sign chosen so that the loadings sum to a
positive number: a household owning more of the items scores higher. The standardising
means, SDs and score weights are stored in the recipe's `fitted` option, so households
built later (scoring) get the training constants.
"""

from __future__ import annotations

import numpy as np

from rima.build import status as st
from rima.errors import DataError


def _items(ctx, recipe, vs):
    o = recipe.options
    where = f"[build.{recipe.variable}]"
    cols = [str(c) for c in o["columns"]]
    if o["source"] is None:
        X = np.vstack([ctx.value(c, vs, where) for c in cols]) if cols else np.empty((0, ctx.n))
        return X, cols
    from rima._kernels.build import wide_counts

    X, pos, mod = ctx.wide(o["source"], cols, vs, where)
    # the count and the index read the same items: their missing cells counted once
    key = ("wide_missing", o["source"], tuple(cols))
    if key not in ctx.cache or ctx.cache[key][0] is not X:
        ctx.cache[key] = (X, wide_counts(X, pos, 0, 0.0)[:, 0])
    missing = ctx.cache[key][1]
    for j, c in enumerate(cols):
        if missing[j]:
            ctx.flag_cells(vs, mod, c, np.isnan(X[j]), X[j], pos, st.MISSING_VALUE,
                           f"missing value in {mod.name}.{c}")
    return X, cols


def asset_index(ctx, recipe, vs):
    X, cols = _items(ctx, recipe, vs)
    fitted = dict(recipe.options.get("fitted") or {})
    if not fitted:
        if not ctx.fit:
            raise DataError(f"[build.{recipe.variable}]: no stored asset index weights "
                            "(fitted) to score new households with")
        ok = vs.ok
        fitted = fit_asset_index(X.T if ok.all() else X[:, ok].T, cols)
        ctx.fitted[recipe.variable] = fitted
    mean = np.asarray(fitted["mean"], float)
    scale = np.asarray(fitted["scale"], float)
    w = np.asarray(fitted["weights"], float)
    if len(w) != len(cols):
        raise DataError(f"[build.{recipe.variable}]: stored weights are for {len(w)} items, "
                        f"the recipe lists {len(cols)}")
    # ((x - mean) / scale) @ w as one matrix-vector product over the items
    coef = w / scale
    from rima._kernels.threads import blas_one_thread

    with blas_one_thread():
        index = coef @ X
    index -= float(coef @ mean)  # in place: the product is this recipe's own array
    return index


def fit_asset_index(A: np.ndarray, names) -> dict:
    """Mean, SD and first-factor score weights of the items (rows = households)."""
    from rima.factor import FactorAnalysis, quiet

    if A.shape[0] <= A.shape[1]:
        raise DataError(f"asset index: {A.shape[0]} complete household(s) for "
                        f"{A.shape[1]} items; need more households than items")
    from rima.moments import moments_if_complete

    fa = FactorAnalysis(n_factors=1, method="pa", scores="regression", missing="error")
    # quiet for this thread only: other recipes may be running beside this one
    with quiet():
        # the moments' pass finds a missing or infinite cell itself, so the fit from them
        # needs no scan of the items first (the same correlations, means and SDs as
        # fitting the rows); with such a cell, fitting the rows names it
        moments = moments_if_complete(A)
        if moments is None:
            fa.fit(A)
        else:
            fa.fit_moments(moments)
    load = fa.loadings_.to_numpy()[:, 0] if hasattr(fa.loadings_, "to_numpy") else np.asarray(
        fa.loadings_)[:, 0]
    w = np.asarray(fa.score_weights_)[:, 0]
    sign = -1.0 if load.sum() < 0 else 1.0
    return {"items": list(names), "mean": [float(v) for v in fa.mean_],
            "scale": [float(v) for v in fa.scale_], "weights": [float(sign * v) for v in w],
            "loadings": [float(sign * v) for v in load]}


def asset_count(ctx, recipe, vs):
    from rima._kernels.build import positive_counts

    X, _ = _items(ctx, recipe, vs)
    out = np.empty(ctx.n)
    positive_counts(X, out)
    return out


RECIPES = {"asset_index": asset_index, "asset_count": asset_count}
