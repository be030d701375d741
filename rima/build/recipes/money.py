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


def _amounts(ctx, vs, mod, col, where):
    """(values, missing codes) of an amount column (`Module.values`), with the households
    of rows with a missing or negative amount flagged (after one pass finding whether
    there are any)."""
    from rima._kernels.build import row_counts

    x, miss = mod.values(col, where, vs.name)
    missing, negative = row_counts(mod.codes, x, miss)
    if missing:
        ctx.flag_rows(vs, mod, col, np.isnan(mod.number(col, where)), st.MISSING_VALUE,
                      f"missing value in {mod.name}.{col}")
    if negative:
        ctx.flag_rows(vs, mod, col, mod.number(col, where) < 0, st.OUT_OF_RANGE,
                      f"negative value in {mod.name}.{col}")
    return x, miss


def module_total(ctx, recipe, vs, source, columns, product=False):
    """Per household: the sum over the module's rows of the columns' values (or of their
    product, for quantity x unit value); missing and negative cells are flagged."""
    from rima._kernels.build import NO_CODES, group_sum, group_sum_product

    where = f"[build.{recipe.variable}]"
    mod = ctx.module(source)
    xs = [_amounts(ctx, vs, mod, col, where) for col in columns]
    # the usual one or two columns are summed straight from the module's values
    if len(xs) == 1:
        return group_sum(mod.codes, ctx.n, *xs[0])[0], mod
    if len(xs) == 2 and product:
        return group_sum_product(mod.codes, ctx.n, *xs[0], *xs[1]), mod
    row_value = mod.number(columns[0], where, vs.name).copy()
    for col in columns[1:]:
        x = mod.number(col, where, vs.name)
        if product:
            row_value *= x
        else:
            row_value += x
    total, _ = group_sum(mod.codes, ctx.n, row_value, NO_CODES)
    return total, mod


def money_per_ae(ctx, recipe, vs):
    o = recipe.options
    spend, _ = module_total(ctx, recipe, vs, o["source"], _columns(o["amount_column"]))
    monthly = spend * (DAYS_PER_MONTH / float(o["period_days"]))
    if o["own_source"]:
        own, _ = module_total(ctx, recipe, vs, o["own_source"],
                              [o["quantity_column"], o["unit_value_column"]], product=True)
        monthly = monthly + own * (DAYS_PER_MONTH / float(o["own_period_days"]))
    ae = ctx.value(o["ae"], vs, f"[build.{recipe.variable}]")
    ctx.flag_households(vs, ~(ae > 0) & ~np.isnan(ae), st.ZERO_DENOMINATOR, "",
                        f"adult equivalents {o['ae']} not positive")
    out = np.divide(monthly, ae, out=np.full(ctx.n, np.nan), where=ae > 0)
    if o["log"]:
        ctx.flag_households(vs, ~(out > 0) & ~np.isnan(out), st.NOT_POSITIVE, o["source"],
                            "no food expenditure or own production (log undefined)")
        out = np.log(np.where(out > 0, out, np.nan))
    return out


def income_sources(ctx, recipe, vs):
    """Income sources with a positive amount (rows of a long module, or columns of a wide
    one)."""
    from rima._kernels.build import NO_CODES, group_sum

    o = recipe.options
    where = f"[build.{recipe.variable}]"
    mod = ctx.module(o["source"])
    count = np.zeros(mod.n_rows)
    for col in _columns(o["amount_column"]):
        _amounts(ctx, vs, mod, col, where)
        count += mod.number(col, where, vs.name) > 0
    return group_sum(mod.codes, ctx.n, count, NO_CODES)[0]


def nonlivestock_income_share(ctx, recipe, vs):
    """1 - livestock income / total income, from a long income module whose
    `source_column` names each income source; `livestock` lists the livestock ones."""
    from rima._kernels.build import group_sum_split

    o = recipe.options
    where = f"[build.{recipe.variable}]"
    mod = ctx.module(o["source"])
    x, miss = _amounts(ctx, vs, mod, o["amount_column"], where)
    mod.require(o["source_column"], where)
    from rima.build.sources import text_codes

    names = {str(v).strip().casefold() for v in o["livestock"]}
    is_live = text_codes(mod.df[o["source_column"]],
                         lambda v: v is not None and str(v).strip().casefold() in names)
    total, live = group_sum_split(mod.codes, ctx.n, x, miss, is_live)
    ctx.flag_households(vs, total <= 0, st.ZERO_DENOMINATOR, mod.name,
                        f"no income in {mod.name}")
    return np.divide(total - live, total, out=np.full(ctx.n, np.nan), where=total > 0)


RECIPES = {"money_per_ae": money_per_ae, "income_sources": income_sources,
           "nonlivestock_income_share": nonlivestock_income_share}
