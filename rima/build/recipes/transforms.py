"""Transforms of household-level variables (built ones or household-table columns).

Winsorising cut points are the (type 7, linear) quantiles of the households whose value is
ok, overall or within each group of `by`; they are stored in the recipe's `fitted` option so
households built later are capped at the training cut points.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rima.build import status as st
from rima.errors import DataError, SpecError


def _where(recipe):
    return f"[build.{recipe.variable}]"


def _input(ctx, recipe, vs, option="input", name=None):
    """The number per household of the variable or column that `option` names."""
    return ctx.value(_named(recipe, option, name), vs, _where(recipe))


def _named(recipe, option, name=None) -> str:
    """The name `option` gives (or `name`, one of its list): never the variable itself,
    which a household-table column of that name would clash with (reported before the
    recipe runs), and which does not exist until the recipe has run."""
    name = recipe.options[option] if name is None else name
    if name == recipe.variable:
        raise SpecError(f"{_where(recipe)}: {option} names {name!r}, the variable itself: "
                        "a recipe cannot read its own result (a cycle); read another "
                        "variable or column")
    return name


def log(ctx, recipe, vs):
    x = _input(ctx, recipe, vs) + float(recipe.options["offset"])  # a new array
    ctx.flag_households(vs, x <= 0, st.NOT_POSITIVE, "",
                        f"{recipe.options['input']} not positive (log undefined)")
    return log_in_place(x)


def log_in_place(x: np.ndarray) -> np.ndarray:
    """x replaced by log(x) where x > 0 and NaN elsewhere (x <= 0 or missing); one array
    instead of a masked copy and the logarithm's output."""
    positive = x > 0
    # over every household, then NaN where not positive: a ufunc masked by `where` runs
    # a slower loop, and the values kept are the same
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log(x, out=x)
    x[~positive] = np.nan
    return x


def divide_or_nan(num, den, ok, out=None) -> np.ndarray:
    """num / den where `ok`, NaN elsewhere (into `out`, which may be num): one division
    over every household and NaN written after, rather than a division masked by `ok`
    (several times slower); the values kept are the same."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.divide(num, den, out=out)
    out[~ok] = np.nan
    return out


def log1p(ctx, recipe, vs):
    x = _input(ctx, recipe, vs)
    ctx.flag_households(vs, ~(x > -1) & ~np.isnan(x), st.NOT_POSITIVE, "",
                        f"{recipe.options['input']} at most -1 (log1p undefined)")
    return np.log1p(np.where(x > -1, x, np.nan))


def cap(ctx, recipe, vs):
    x = _input(ctx, recipe, vs)
    lo, hi = recipe.options["lower"], recipe.options["upper"]
    return np.clip(x, -np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))


def winsorize(ctx, recipe, vs):
    o = recipe.options
    x = _input(ctx, recipe, vs)
    by = o.get("by")
    groups = (_group_keys(ctx.raw(_named(recipe, "by"), _where(recipe))) if by
              else np.full(ctx.n, "all", object))
    if by:
        ctx.flag_households(vs, pd.isna(groups), st.NO_GROUP, "", f"missing group {by}")
    fitted = dict(o.get("fitted") or {})
    if not fitted:
        if not ctx.fit:
            raise DataError(f"{_where(recipe)}: no stored winsorising cut points (fitted)")
        q = [float(o["lower_quantile"]), float(o["upper_quantile"])]
        cut = {}
        ok = vs.ok & ~np.isnan(x)
        for g in pd.unique(groups[ok]):
            vals = x[ok & (groups == g)]
            lo, hi = np.quantile(vals, q)
            cut[str(g)] = [float(lo), float(hi)]
        fitted = {"cutoffs": cut}
        ctx.fitted[recipe.variable] = fitted
    cut = fitted["cutoffs"]
    lo = np.full(ctx.n, np.nan)
    hi = np.full(ctx.n, np.nan)
    for g, (a, b) in cut.items():
        m = groups == g
        lo[m], hi[m] = a, b
    uncut = np.isnan(lo) & ~pd.isna(groups)
    for g in pd.unique(groups[uncut]):  # each group named: a soum new since the fit, say
        ctx.flag_households(vs, uncut & (groups == g), st.NO_GROUP, "",
                            f"{by or 'all'} {g!r} has no winsorising cut points (no "
                            "household of it had a value when they were fitted)")
    return np.minimum(np.maximum(x, lo), hi)


def _group_keys(values):
    """Each value's `_key` (None where missing), worked out once per distinct value."""
    codes, uniq = pd.factorize(pd.Series(np.asarray(values, dtype=object)),
                               use_na_sentinel=True)
    return np.array([_key(u) for u in uniq] + [None], dtype=object)[codes]


def _key(v) -> str:
    """A code as recode maps and groups compare it: text with its spaces trimmed, and a
    number, or text reading as one, as that number: "01", " 1", 1 and 1.0 are all "1"
    (a CSV reader turns the codebook's "01" into 1; TOML keys are always text)."""
    t = str(v).strip()
    try:
        return str(int(t))
    except ValueError:
        pass
    try:
        x = float(t)
    except ValueError:
        return t
    if not math.isfinite(x):
        return t
    return str(int(x)) if x.is_integer() else repr(x)


def divide(ctx, recipe, vs):
    num = _input(ctx, recipe, vs, "numerator")
    den = _input(ctx, recipe, vs, "denominator")
    ctx.flag_households(vs, (den == 0), st.ZERO_DENOMINATOR, "",
                        f"{recipe.options['denominator']} is zero")
    return divide_or_nan(num, den, den != 0)


def _stack(ctx, recipe, vs):
    return np.vstack([_input(ctx, recipe, vs, "inputs", n) for n in recipe.options["inputs"]])


def total(ctx, recipe, vs):
    return _stack(ctx, recipe, vs).sum(axis=0)


def any_of(ctx, recipe, vs):
    return (np.nan_to_num(_stack(ctx, recipe, vs)) != 0).any(axis=0).astype(np.float64)


def all_of(ctx, recipe, vs):
    return (np.nan_to_num(_stack(ctx, recipe, vs)) != 0).all(axis=0).astype(np.float64)


def recode(ctx, recipe, vs):
    """Values looked up in `map` (TOML keys are text, so codes are compared as text:
    1 and 1.0 are both "1"); codes not in the map take `default` or are flagged."""
    o = recipe.options
    raw = ctx.raw(_named(recipe, "input"), _where(recipe))
    if o["input"] in ctx.status:
        vs.inherit(ctx.status[o["input"]], o["input"])
    keys = _group_keys(np.asarray(raw, dtype=object))
    table = {_key(k): v for k, v in o["map"].items()}
    default = o.get("default")
    targets = list(table.values()) + ([default] if default is not None else [])
    numeric = all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in targets)
    out = np.full(ctx.n, np.nan if numeric else None, dtype=float if numeric else object)
    miss = pd.isna(keys)
    ctx.flag_households(vs, miss, st.MISSING_VALUE, "", f"missing value in {o['input']}")
    found = np.zeros(ctx.n, dtype=bool)
    for k, v in table.items():
        m = keys == k
        out[m] = v
        found |= m
    rest = ~found & ~miss
    if table and rest.any() and not found.any():
        _no_key_found(recipe, keys[rest])
    if default is not None:
        out[rest] = default
    else:
        ctx.flag_households(vs, rest, st.UNMAPPED_CODE, "",
                            f"{o['input']} value not in the recode map")
    return out


def _no_key_found(recipe, values) -> None:
    """Not one value is in the map: every household would take the default (or be
    flagged), which looks like an ordinary result; said, with values that do occur."""
    import warnings

    from rima.errors import RimaWarning

    seen = list(dict.fromkeys(values[:10_000]))[:8]
    keys = ", ".join(str(k) for k in recipe.options["map"])
    warnings.warn(f"[build.{recipe.variable}]: none of the map's codes ({keys}) occurs in "
                  f"{recipe.options['input']} (values: {', '.join(seen)}); check the codes",
                  RimaWarning, stacklevel=2)


RECIPES = {"log": log, "log1p": log1p, "cap": cap, "winsorize": winsorize, "divide": divide,
           "sum": total, "any": any_of, "all": all_of, "recode": recode}
