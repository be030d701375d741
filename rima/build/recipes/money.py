"""Money per adult equivalent and income composition from long (or wide) modules.

Food expenditure per adult equivalent per month (World Bank LSMS consumption aggregates;
Deaton & Zaidi 2002): purchases plus own-produced food valued at the household's declared
unit values, each rescaled from its recall period to a month of 30.4375 days, divided by
the household's adult equivalents.
"""

from __future__ import annotations

import numpy as np

from rima.build import status as st
from rima.build.catalog import DAYS_PER_MONTH


def _columns(x) -> list[str]:
    return [x] if isinstance(x, str) else [str(c) for c in x]


def _flag_amounts(ctx, vs, mod, col, where, missing, negative, total):
    """Flag the households of rows with a missing, negative or infinite amount, listing
    the rows: missing and negative ones when a pass counted any (`missing`, `negative`),
    infinite ones when a household's sum `total` is not finite (an infinite amount, or
    one times a zero price, makes it so)."""
    from rima._kernels.build import NO_CODES, count_not_finite

    if missing:
        ctx.flag_rows(vs, mod, col, np.isnan(mod.number(col, where)), st.MISSING_VALUE,
                      f"missing value in {mod.name}.{col}")
    if count_not_finite(total, NO_CODES):
        ctx.flag_rows(vs, mod, col, np.isinf(mod.number(col, where)), st.OUT_OF_RANGE,
                      f"infinite value in {mod.name}.{col}")
    if negative:
        x = mod.number(col, where)
        ctx.flag_rows(vs, mod, col, (x < 0) & np.isfinite(x), st.OUT_OF_RANGE,
                      f"negative value in {mod.name}.{col}")


def _checks(mod, k):
    return np.zeros((mod.bounds.shape[0] - 1, k), dtype=np.int64)


def _group_sum(ctx, mod, x, miss):
    """(sums by household, (missing, negative) counts among the mapped rows)."""
    from rima._kernels.build import group_sum, zeros

    total = zeros(ctx.n)
    checks = _checks(mod, 2)
    mod.run(group_sum, mod.codes, x, miss, mod.bounds, total, checks)
    return total, checks.sum(axis=0)


def module_total(ctx, recipe, vs, source, columns, product=False):
    """Per household: the sum over the module's rows of the columns' values (or of their
    product, for quantity x unit value); missing, negative and infinite cells are flagged."""
    from rima._kernels.build import NO_CODES, group_sum_product, zeros

    where = f"[build.{recipe.variable}]"
    mod = ctx.module(source)
    # the usual one or two columns are summed straight from the module's values, the
    # checks counted in the same pass (a second column read as stored reports nothing,
    # so the issues keep their order: each column's own, column after column)
    if len(columns) == 1:
        total, (missing, negative) = _group_sum(ctx, mod, *mod.values(columns[0], where,
                                                                      vs.name))
        _flag_amounts(ctx, vs, mod, columns[0], where, missing, negative, total)
        return total, mod
    if len(columns) == 2 and product and mod.stored(columns[1]):
        total = zeros(ctx.n)
        checks = _checks(mod, 4)
        mod.run(group_sum_product, mod.codes, *mod.values(columns[0], where, vs.name),
                *mod.values(columns[1], where, vs.name), mod.bounds, total, checks)
        counts = checks.sum(axis=0)
        for j, col in enumerate(columns):
            _flag_amounts(ctx, vs, mod, col, where, counts[2 * j], counts[2 * j + 1], total)
        return total, mod
    for col in columns:
        x, miss = mod.values(col, where, vs.name)
        sums, counts = _group_sum(ctx, mod, x, miss)
        _flag_amounts(ctx, vs, mod, col, where, *counts, sums)
    row_value = mod.number(columns[0], where, vs.name).copy()
    for col in columns[1:]:
        x = mod.number(col, where, vs.name)
        if product:
            row_value *= x
        else:
            row_value += x
    total, _ = _group_sum(ctx, mod, row_value, NO_CODES)
    return total, mod


def money_per_ae(ctx, recipe, vs):
    o = recipe.options
    # the totals are this recipe's own arrays: rescaled and divided in place
    monthly, _ = module_total(ctx, recipe, vs, o["source"], _columns(o["amount_column"]))
    monthly *= DAYS_PER_MONTH / float(o["period_days"])
    if o["own_source"]:
        own, _ = module_total(ctx, recipe, vs, o["own_source"],
                              [o["quantity_column"], o["unit_value_column"]], product=True)
        own *= DAYS_PER_MONTH / float(o["own_period_days"])
        monthly += own
    ae = ctx.value(o["ae"], vs, f"[build.{recipe.variable}]")
    ctx.flag_households(vs, ae <= 0, st.ZERO_DENOMINATOR, "",
                        f"adult equivalents {o['ae']} not positive")
    from rima.build.recipes.transforms import divide_or_nan, log_in_place

    out = divide_or_nan(monthly, ae, ae > 0, out=monthly)
    if o["log"]:
        ctx.flag_households(vs, out <= 0, st.NOT_POSITIVE, o["source"],
                            "no food expenditure or own production (log undefined)")
        log_in_place(out)
    return out


def income_sources(ctx, recipe, vs):
    """Income sources with a positive amount (rows of a long module, or columns of a wide
    one)."""
    from rima._kernels.build import NO_CODES, zeros

    o = recipe.options
    where = f"[build.{recipe.variable}]"
    mod = ctx.module(o["source"])
    count = zeros(mod.n_rows)
    for col in _columns(o["amount_column"]):
        x, miss = mod.values(col, where, vs.name)
        sums, counts = _group_sum(ctx, mod, x, miss)
        _flag_amounts(ctx, vs, mod, col, where, *counts, sums)
        count += mod.number(col, where, vs.name) > 0
    return _group_sum(ctx, mod, count, NO_CODES)[0]


def nonlivestock_income_share(ctx, recipe, vs):
    """1 - livestock income / total income, from a long income module whose
    `source_column` names each income source; `livestock` lists the livestock ones."""
    from rima._kernels.build import group_sum_split, zeros

    o = recipe.options
    where = f"[build.{recipe.variable}]"
    mod = ctx.module(o["source"])
    col = o["amount_column"]
    x, miss = mod.values(col, where, vs.name)
    mod.require(o["source_column"], where)
    from rima.build.sources import missing_text, text_codes

    names = {str(v).strip().casefold() for v in o["livestock"]}
    source = mod.df[o["source_column"]]
    # 1 a livestock source, 0 another, -1 none: a row without its source is no more
    # non-livestock income than livestock income
    kind = text_codes(source, lambda v: -1 if v is None or missing_text(v, mod.missing_codes)
                      else int(str(v).strip().casefold() in names)).astype(np.int8)
    is_live = kind == 1
    if mod.n_rows and not is_live.any():
        _no_source_named(recipe, mod, source, o["livestock"])
    if (kind < 0).any():
        ctx.flag_rows(vs, mod, source.name, kind < 0, st.MISSING_VALUE,
                      f"missing income source in {mod.name}.{source.name}")
    total = zeros(ctx.n)
    live = zeros(ctx.n)
    checks = _checks(mod, 2)
    mod.run(group_sum_split, mod.codes, x, miss, is_live, mod.bounds, total, live, checks)
    _flag_amounts(ctx, vs, mod, col, where, *checks.sum(axis=0), total)
    ctx.flag_households(vs, total <= 0, st.ZERO_DENOMINATOR, mod.name,
                        f"no income in {mod.name}")
    from rima.build.recipes.transforms import divide_or_nan

    # the share in the livestock sums' array (this recipe's own)
    with np.errstate(invalid="ignore"):  # inf - inf where an infinite amount is flagged
        share = np.subtract(total, live, out=live)
    return divide_or_nan(share, total, total > 0, out=share)


def _no_source_named(recipe, mod, source, listed) -> None:
    """Every household's share would be 1 because no row names a listed livestock source:
    a misspelt name, or codes where the recipe lists names (a Stata or SPSS column whose
    value labels were not applied). Said, since it looks like an ordinary result."""
    import warnings

    from rima.errors import RimaWarning

    seen = [str(v) for v in source.dropna().unique()[:8]]
    warnings.warn(f"[build.{recipe.variable}]: none of the livestock sources listed "
                  f"({', '.join(map(str, listed))}) occurs in {mod.name}.{source.name} "
                  f"(values: {', '.join(seen) or 'none'}), so no income counts as livestock "
                  "income; check the names, or list the codes if the column holds codes",
                  RimaWarning, stacklevel=2)


RECIPES = {"money_per_ae": money_per_ae, "income_sources": income_sources,
           "nonlivestock_income_share": nonlivestock_income_share}
