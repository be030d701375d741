"""Asset index (first factor of asset-ownership items, rima's factor engine) and counts.

The index is the first factor of the items' correlation matrix (principal axis, Bartlett
or regression scores as configured), its sign chosen so that the loadings sum to a
positive number: a household owning more of the items scores higher. The standardising
means, SDs and score weights are stored in the recipe's `fitted` option, so households
built later (scoring) get the training constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima.build import status as st
from rima.errors import ConvergenceError, DataError


def _items(ctx, recipe, vs):
    """(X (k, n) items per household, column names, module row of each household or
    None for household-table columns and built variables, module or None)."""
    o = recipe.options
    where = f"[build.{recipe.variable}]"
    cols = [str(c) for c in o["columns"]]
    if o["source"] is None:
        X = np.vstack([ctx.value(c, vs, where) for c in cols]) if cols else np.empty((0, ctx.n))
        return X, cols, None, None
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
    return X, cols, pos, mod


def _label(ctx, mod, column) -> str:
    """An item as messages name it: module.column, or the built variable's name."""
    if mod is not None:
        return f"{mod.name}.{column}"
    return f"{ctx.spec.main}.{column}" if column in ctx.households.columns else column


def asset_index(ctx, recipe, vs):
    where = f"[build.{recipe.variable}]"
    o = recipe.options
    cols = [str(c) for c in o["columns"]]
    twice = [c for i, c in enumerate(cols) if c in cols[:i]]
    if twice:
        # an item listed twice is perfectly correlated with itself: no factor analysis
        names = ", ".join(f"{o['source']}.{c}" if o["source"] else _label(ctx, None, c)
                          for c in dict.fromkeys(twice))
        raise DataError(f"{where}: {names} listed twice in columns; list each item once")
    X, cols, pos, mod = _items(ctx, recipe, vs)
    fitted = dict(recipe.options.get("fitted") or {})
    if not fitted:
        if not ctx.fit:
            raise DataError(f"{where}: no stored asset index weights "
                            "(fitted) to score new households with")
        ok = vs.ok
        A = X.T if ok.all() else X[:, ok].T
        if A.shape[0] <= A.shape[1]:
            raise DataError(_too_few(ctx, where, X, cols, pos, mod, A.shape[0]))

        def place(r):
            # row r of A: its household's module row (household-table row) and id
            i = r if ok.all() else int(np.flatnonzero(ok)[r])
            row = i + 1 if pos is None else pos[i] + 1
            return (f"at {'row' if mod is not None else ctx.spec.main + ' row'} {row} "
                    f"(household {_id(ctx.ids[i])})")

        fitted = fit_asset_index(A, cols, [_label(ctx, mod, c) for c in cols], where, place)
        ctx.fitted[recipe.variable] = fitted
    mean = np.asarray(fitted["mean"], float)
    scale = np.asarray(fitted["scale"], float)
    w = np.asarray(fitted["weights"], float)
    if len(w) != len(cols):
        raise DataError(f"{where}: stored weights are for {len(w)} items, "
                        f"the recipe lists {len(cols)}")
    # ((x - mean) / scale) @ w as one matrix-vector product over the items
    coef = w / scale
    from rima._kernels.threads import blas_one_thread

    with blas_one_thread():
        index = coef @ X
    index -= float(coef @ mean)  # in place: the product is this recipe's own array
    return index


def _too_few(ctx, where, X, cols, pos, mod, m) -> str:
    """Why no more than `m` households (as many as the items or fewer) have every item
    present and ok: an empty module, rows of no household, an item without a number,
    or too few households."""
    k = len(cols)
    src = mod.name if mod is not None else ctx.spec.main
    if mod is not None and mod.n_rows == 0:
        return f"{where}: {mod.name} has no rows: no household has asset items to index"
    have = np.ones(ctx.n, dtype=bool) if pos is None else pos >= 0
    if not have.any():
        return (f"{where}: none of the {mod.n_rows:,} {mod.name} rows belongs to a household "
                "of the household table: no household has asset items to index")
    empty = []
    for j, c in enumerate(cols):
        if np.isnan(X[j][have]).all():
            empty.append(f"{_label(ctx, mod, c)} ({_why_empty(ctx, mod, c, pos, have)})")
    if empty:
        return (f"{where}: no number in " + "; ".join(empty) + ": every item of the asset "
                "index needs numbers (e.g. 0/1 for owning it)")
    return (f"{where}: {m} complete household(s) of {ctx.n:,} (every item present and "
            f"ok) for {k} items of {src}: the asset index needs more complete "
            f"households than items (at least {k + 1}); the build's issues list the "
            "missing and bad cells")


def _why_empty(ctx, mod, column, pos, have) -> str:
    """Why an item has no number in any household: text, or every cell missing."""
    from rima.build.sources import numeric

    if mod is None and column not in ctx.households.columns:
        return "missing for every household"
    df = ctx.households if mod is None else mod.df
    codes = ctx.spec.sources[ctx.spec.main].missing_codes if mod is None else mod.missing_codes
    rows = np.flatnonzero(have) if pos is None else pos[have]
    _, bad = numeric(df[column].iloc[rows], codes)
    if bad.any():
        return (f"non-numeric text such as {df[column].iloc[rows[np.argmax(bad)]]!r} "
                "in every cell with a value")
    return "every cell missing: blank or a declared missing code"


def _id(v) -> str:
    """A household id or cell value as messages show it (100011, not 100011.0)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def fit_asset_index(A: np.ndarray, names, labels=None, where: str = "asset index",
                    place=None) -> dict:
    """Mean, SD and first-factor score weights of the items (rows = households).

    labels: the items as messages name them (default `names`); where: the messages'
    prefix; place(r): where row r of A comes from, for a message about a cell."""
    from rima.factor import FactorAnalysis, quiet

    labels = [str(c) for c in (names if labels is None else labels)]
    if A.shape[0] <= A.shape[1]:
        raise DataError(f"{where}: {A.shape[0]} complete household(s) for "
                        f"{A.shape[1]} items; need more households than items")
    from rima.moments import moments_if_complete

    fa = FactorAnalysis(n_factors=1, method="pa", scores="regression", missing="error")
    # quiet for this thread only: other recipes may be running beside this one
    try:
        with quiet():
            # the moments' pass finds a missing or infinite cell itself, so the fit from
            # them needs no scan of the items first (the same correlations, means and SDs
            # as fitting the rows); with such a cell, it is named here
            moments = moments_if_complete(A, names=labels)
            if moments is None:
                bad = np.argwhere(~np.isfinite(A))
                if bad.size:
                    r, j = (int(v) for v in bad[0])
                    at = place(r) if place is not None else f"at row {r + 1}"
                    raise DataError(f"{where}: {'missing' if np.isnan(A[r, j]) else 'infinite'}"
                                    f" value in {labels[j]} {at}: the asset index needs a "
                                    "finite number in every item")
                fa.fit(pd.DataFrame(A, columns=labels))  # finite cells whose moments overflow
            else:
                m2 = np.diag(moments.comoment)
                const = np.flatnonzero(~(m2 > 0))
                if const.size:
                    raise DataError(
                        f"{where}: constant item(s) "
                        + ", ".join(f"{labels[j]} ({_id(A[0, j])} in every complete "
                                    "household)" for j in const)
                        + ": an item that does not vary cannot enter the asset index; drop "
                        "it from columns")
                fa.fit_moments(moments)
    except (DataError, ConvergenceError) as exc:
        if str(exc).startswith(where):
            raise
        raise type(exc)(f"{where}: {exc}") from None
    load = fa.loadings_.to_numpy()[:, 0] if hasattr(fa.loadings_, "to_numpy") else np.asarray(
        fa.loadings_)[:, 0]
    w = np.asarray(fa.score_weights_)[:, 0]
    sign = -1.0 if load.sum() < 0 else 1.0
    return {"items": list(names), "mean": [float(v) for v in fa.mean_],
            "scale": [float(v) for v in fa.scale_], "weights": [float(sign * v) for v in w],
            "loadings": [float(sign * v) for v in load]}


def asset_count(ctx, recipe, vs):
    from rima._kernels.build import positive_counts

    X, *_ = _items(ctx, recipe, vs)
    out = np.empty(ctx.n)
    positive_counts(X, out)
    return out


RECIPES = {"asset_index": asset_index, "asset_count": asset_count}
