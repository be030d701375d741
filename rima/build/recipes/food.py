"""Food security indices from a one-row-per-household food module.

FCS (WFP 2008), HDDS (FANTA / FAO 2011), reduced CSI (Maxwell & Caldwell 2008) and the
FIES raw score (FAO Voices of the Hungry); constants in `rima.build.catalog`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima.build import status as st
from rima.build.catalog import FCS_WEIGHTS, FIES_ITEMS, HDDS_GROUPS, RCSI_WEIGHTS
from rima.errors import SpecError


def item_columns(recipe, items) -> dict[str, str]:
    """{item: column}; by default each item's column is `prefix` + the item's name."""
    given = recipe.options["columns"] or {}
    prefix = str(recipe.options.get("prefix") or "")
    where = f"[build.{recipe.variable}]"
    if isinstance(given, (list, tuple)):
        if len(given) != len(items):
            raise SpecError(f"{where}: columns lists {len(given)} column(s); recipe "
                            f"{recipe.recipe} needs {len(items)} in the order "
                            f"{', '.join(items)}")
        return dict(zip(items, given))
    bad = [k for k in given if k not in items]
    if bad:
        raise SpecError(f"{where}: unknown item(s) {', '.join(bad)} in columns (items of "
                        f"{recipe.recipe}: {', '.join(items)})")
    return {g: str(given.get(g, prefix + g)) for g in items}


def weights_of(recipe, defaults) -> dict[str, float]:
    given = recipe.options["weights"] or {}
    bad = [k for k in given if k not in defaults]
    if bad:
        raise SpecError(f"[build.{recipe.variable}]: unknown item(s) {', '.join(bad)} in "
                        f"weights (items: {', '.join(defaults)})")
    return {g: float(given.get(g, w)) for g, w in defaults.items()}


def _score(ctx, recipe, vs, items, kind, weights=None):
    """Weighted sum of the items' columns per household (all weights 1 when None), with
    missing and out-of-range cells flagged; kind "days" (whole days 0..max_days) or
    "binary" (0/1). A missing item makes the sum NaN; that household is flagged and
    blanked anyway."""
    cols = item_columns(recipe, items)
    where = f"[build.{recipe.variable}]"
    top = float(recipe.options["max_days"]) if kind == "days" else 1.0
    w = [1.0] * len(cols) if weights is None else [weights[g] for g in cols]
    # one pass per column sums and counts the bad cells; only the columns holding some
    # are listed cell by cell
    total, counts, pos, mod = ctx.wide_sum(recipe.options["source"], list(cols.values()), w,
                                           vs, where, 1 if kind == "days" else 2, top)
    for j, (item, col) in enumerate(cols.items()):
        if not counts[j, :2].any():
            continue
        x = ctx.wide_column(mod, pos, col, where)
        ctx.flag_cells(vs, mod, col, np.isnan(x), x, pos, st.MISSING_VALUE,
                       f"missing value for {item} ({mod.name}.{col})")
        if kind == "days":
            outside = (x < 0) | (x > top)
            ctx.flag_cells(vs, mod, col, outside, x, pos, st.OUT_OF_RANGE,
                           f"days out of range 0-{top:g} for {item} ({mod.name}.{col})")
            ctx.flag_cells(vs, mod, col, (x != np.round(x)) & ~outside & ~np.isnan(x), x,
                           pos, st.OUT_OF_RANGE,
                           f"days not a whole number for {item} ({mod.name}.{col})")
        else:
            bad = (x != 0) & (x != 1) & ~np.isnan(x)
            ctx.flag_cells(vs, mod, col, bad, x, pos, st.NOT_BINARY,
                           f"{item} not 0/1 ({mod.name}.{col})")
    return total


def fcs(ctx, recipe, vs):
    score = _score(ctx, recipe, vs, tuple(FCS_WEIGHTS), "days",
                   weights_of(recipe, FCS_WEIGHTS))
    if recipe.options["output"] == "score":
        return score
    lo, hi = map(float, recipe.options["thresholds"])
    labels = [str(x) for x in recipe.options["labels"]]
    # WFP: poor up to and including the lower threshold, borderline up to the upper one
    # (the spec requires lo < hi; a missing score counts as neither, class 2, and is
    # blanked with its status). Counted from the two comparisons rather than chosen by
    # np.where, which branches on each household's unpredictable score.
    codes = np.int8(2) - (score <= hi).view(np.int8) - (score <= lo).view(np.int8)
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def hdds(ctx, recipe, vs):
    return _score(ctx, recipe, vs, HDDS_GROUPS, "binary")


def rcsi(ctx, recipe, vs):
    return _score(ctx, recipe, vs, tuple(RCSI_WEIGHTS), "days",
                  weights_of(recipe, RCSI_WEIGHTS))


def fies(ctx, recipe, vs):
    prefix = str(recipe.options.get("prefix") or "")
    cols = recipe.options["columns"] or [prefix + i for i in FIES_ITEMS]
    items = tuple(FIES_ITEMS) if len(cols) == len(FIES_ITEMS) else tuple(
        f"item{j + 1}" for j in range(len(cols)))
    r = _Override(recipe, {"columns": list(cols)})
    return _score(ctx, r, vs, items, "binary")


class _Override:
    def __init__(self, recipe, options):
        self.variable, self.recipe = recipe.variable, recipe.recipe
        self.options = {**recipe.options, **options}


RECIPES = {"fcs": fcs, "hdds": hdds, "rcsi": rcsi, "fies": fies}
