"""Household aggregates of the person roster, all from one pass (`roster_pass`).

Adult equivalents: OECD-modified (Hagenaars, de Vos & Zaidi 1994; 1 / 0.5 / 0.3), OECD
(1 / 0.7 / 0.5), or per capita; adults are members aged `adult_age` (14) and over.
Dependency ratio: (members under 15 + members over 64) / members aged 15-64 (World Bank).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima.build import status as st
from rima.build.catalog import AE_SCALES

# columns of roster_pass's count matrix
MEMBERS, HEADS, ADULTS, CHILDREN, YOUNG, OLD, WORKING, NO_AGE, BAD_AGE, NO_REL, NO_EDU = range(11)


def _pass(ctx, recipe):
    """The roster pass for these roster settings, computed once per build."""
    o = recipe.options
    key = ("roster", o["source"], o["age_column"], o["relation_column"], str(o["head_code"]),
           o["education_column"], float(o["max_age"]), float(o["adult_age"]),
           float(o["young_below"]), float(o["old_above"]), tuple(o["working_ages"]))
    if key in ctx.cache:
        return ctx.cache[key]
    from rima._kernels.build import roster_pass, zeros

    where = f"[build.{recipe.variable}]"
    mod = ctx.module(o["source"])
    age, age_miss = _column(mod, o["age_column"], where)
    rel, rel_miss, head_code = _relation(mod, o["relation_column"], o["head_code"], where)
    edu_col = o["education_column"]
    edu, edu_miss = (_column(mod, edu_col, where) if mod.has(edu_col)
                     else (np.full(mod.n_rows, np.nan), age_miss[:0]))
    lo, hi = map(float, o["working_ages"])
    ages = np.array([o["adult_age"], o["young_below"], o["old_above"], o["max_age"], lo, hi],
                    dtype=np.float64)
    # counts stored count by count, so that each count (a column of C) is contiguous for
    # the recipes that read it; int16 (households of up to 32,767 persons) and counted
    # again as int32 if a household has more
    # the adults' maximum education only where a recipe of the build reads it
    # and the heads' ages and education, found in the pass, for the recipes reading them
    used = {r.recipe for r in ctx.spec.recipes}
    edu_n, age_n, head_edu_n = (ctx.n if name in used else 0 for name in (
        "max_adult_education", "head_age", "head_education"))
    for dtype in (np.int16, np.int32):
        Ct = zeros((11, ctx.n), dtype=dtype)
        head_row = np.full(ctx.n, -1, dtype=np.int64)
        max_edu = np.full(edu_n, -np.inf)
        head_age, head_edu = np.full(age_n, np.nan), np.full(head_edu_n, np.nan)
        over = np.zeros(mod.bounds.shape[0] - 1, dtype=np.int64)
        mod.run(roster_pass, mod.codes, age, age_miss, rel, rel_miss, head_code, edu,
                edu_miss, ages, mod.bounds, Ct, int(np.iinfo(dtype).max), head_row, max_edu,
                head_age, head_edu, over)
        if not over.any():
            break
    max_edu[max_edu == -np.inf] = np.nan
    C = Ct.T
    # the rows behind bad-age statuses, found once for all the roster variables
    bad_age = no_age = None
    if C[:, BAD_AGE].any() or C[:, NO_AGE].any():
        x = mod.number(o["age_column"], where)
        bad_age = (x < 0) | (x > float(o["max_age"])) if C[:, BAD_AGE].any() else None
        no_age = np.isnan(x) if C[:, NO_AGE].any() else None
    heads = {o["age_column"]: head_age} if age_n else {}
    if head_edu_n and mod.has(edu_col):
        heads[edu_col] = head_edu
    out = {"mod": mod, "C": C, "head_row": head_row, "max_edu": max_edu, "bad_age": bad_age,
           "no_age": no_age, "relation": (o["relation_column"], o["head_code"], where),
           "heads": heads}
    ctx.cache[key] = out
    return out


def _column(mod, column, where):
    """(values, missing codes) of a column for `roster_pass`: as stored, or as float64
    with NaN for its codes when there are more than the pass compares."""
    from rima._kernels.build import NO_CODES, ROSTER_CODES

    x, miss = mod.values(column, where)
    if miss.shape[0] > ROSTER_CODES:
        return mod.number(column, where), NO_CODES
    return x, miss


def _relation(mod, column, code, where):
    """(values, missing codes, head code) of the relation column for `roster_pass`: a
    numeric column as stored with the head's code; a text column as 1 (head), 0 or -1
    (missing), each distinct text compared once, with head code 1 and -1 missing."""
    mod.require(column, where)
    if isinstance(code, str):
        return _text_head_flags(mod.df[column], code), np.array([-1.0]), 1.0
    x, miss = _column(mod, column, where)
    return x, miss, float(code)


def _text_head_flags(s, code) -> np.ndarray:
    from rima.build.sources import text_codes

    want = code.strip().casefold()
    return text_codes(s, lambda v: -1 if v is None or pd.isna(v) else int(
        str(v).strip().casefold() == want)).astype(np.int8)


def _head_flags(mod, column, code, where) -> np.ndarray:
    """1 where a row is a head, 0 where not, -1 where its relation is missing."""
    if isinstance(code, str):
        return _text_head_flags(mod.df[column], code)
    from rima._kernels.build import head_flags

    return head_flags(*mod.values(column, where), float(code))


def _households(R, name, test):
    """The households where `test(C)` holds, computed once per pass for every roster
    variable; None when there are none (nothing to flag)."""
    masks = R.setdefault("masks", {})
    if name not in masks:
        mask = test(R["C"])
        masks[name] = mask if mask.any() else None
    return masks[name]


def _flag(ctx, vs, R, name, test, *args):
    mask = _households(R, name, test)
    if mask is not None:
        ctx.flag_households(vs, mask, *args)


def _common(ctx, recipe, vs, R, ages=True):
    mod, o = R["mod"], recipe.options
    _flag(ctx, vs, R, "no_members", lambda C: C[:, MEMBERS] == 0, st.NO_ROW, mod.name,
          f"{st.NO_ROW} {mod.name}")
    if ages and R["bad_age"] is not None:
        ctx.flag_rows(vs, mod, o["age_column"], R["bad_age"], st.AGE_OUT_OF_RANGE,
                      f"age out of range 0-{float(o['max_age']):g} in {mod.name}."
                      f"{o['age_column']}")
    if ages and R["no_age"] is not None:
        ctx.flag_rows(vs, mod, o["age_column"], R["no_age"], st.MISSING_AGE,
                      f"missing age in {mod.name}.{o['age_column']}")


def _head(ctx, recipe, vs, R):
    mod, o = R["mod"], recipe.options
    _common(ctx, recipe, vs, R, ages=False)
    rel = o["relation_column"]
    if _households(R, "no_relation", lambda C: C[:, NO_REL] > 0) is not None:
        if "no_relation_rows" not in R:
            R["no_relation_rows"] = _head_flags(mod, *R["relation"]) < 0
        ctx.flag_rows(vs, mod, rel, R["no_relation_rows"], st.MISSING_RELATION,
                      f"missing relation to head in {mod.name}.{rel}")
    _flag(ctx, vs, R, "no_head", lambda C: (C[:, MEMBERS] > 0) & (C[:, HEADS] == 0),
          st.NO_HEAD, mod.name, f"no head in {mod.name}", rel)
    _flag(ctx, vs, R, "heads", lambda C: C[:, HEADS] > 1, st.SEVERAL_HEADS, mod.name,
          f"two or more heads in {mod.name}", rel)
    return R["head_row"]


def household_size(ctx, recipe, vs):
    R = _pass(ctx, recipe)
    _common(ctx, recipe, vs, R, ages=False)
    return R["C"][:, MEMBERS].astype(np.float64)


def adult_equivalents(ctx, recipe, vs):
    R = _pass(ctx, recipe)
    _common(ctx, recipe, vs, R)
    o = recipe.options
    first, other, child = (o["weights"] or AE_SCALES[o["scale"]])
    from rima._kernels.build import equivalence_scale

    C = R["C"]
    return equivalence_scale(C[:, ADULTS], C[:, CHILDREN], float(first), float(other),
                             float(child))


def dependency_ratio(ctx, recipe, vs):
    R = _pass(ctx, recipe)
    _common(ctx, recipe, vs, R)
    C = R["C"]
    _flag(ctx, vs, R, "no_working", lambda C: (C[:, MEMBERS] > 0) & (C[:, WORKING] == 0),
          st.NO_WORKING_AGE, R["mod"].name, f"no working-age member in {R['mod'].name}")
    from rima._kernels.build import count_ratio

    return count_ratio(C[:, YOUNG], C[:, OLD], C[:, WORKING])


def working_age(ctx, recipe, vs):
    R = _pass(ctx, recipe)
    _common(ctx, recipe, vs, R)
    return R["C"][:, WORKING].astype(np.float64)


def _head_value(ctx, recipe, vs, column, numeric):
    R = _pass(ctx, recipe)
    row = _head(ctx, recipe, vs, R)
    mod = R["mod"]
    mod.require(column, f"[build.{recipe.variable}]")
    have = row >= 0
    if numeric and column in R["heads"]:
        out = R["heads"].pop(column)  # the first reader's own array; later ones take again
    elif numeric:
        from rima._kernels.build import take_float
        from rima._kernels.threads import run_ranges

        x, miss = mod.values(column, f"[build.{recipe.variable}]", vs.name)
        out = np.empty(row.shape[0])
        run_ranges(lambda i, a, b: take_float(x, miss, row[a:b], out[a:b]), row.shape[0])
    else:
        src = mod.df[column]
        if isinstance(src.dtype, pd.CategoricalDtype):
            from rima.build.sources import TextValues

            out = TextValues(*_head_labels(src, row, mod.missing_codes))
            gone = have & (out.idx < 0)
            if gone.any():
                ctx.flag_cells(vs, mod, column, gone, out.array(), row, st.MISSING_VALUE,
                               f"head's {column} missing in {mod.name}.{column}")
            return out, R, row
        else:
            from rima.build.sources import labelled, missing_text

            # the heads' rows first, then text work once per distinct answer (a code's
            # value label where the column has them)
            codes, uniq = pd.factorize(src.take(row[have]), use_na_sentinel=True)
            names = [None if missing_text(v, mod.missing_codes) else v
                     for v in labelled(src, list(uniq))]
            vals = np.array([*names, None], dtype=object)[codes]
        out = np.full(ctx.n, None, dtype=object)
        out[have] = vals
    miss = have & pd.isna(out)
    ctx.flag_cells(vs, mod, column, miss, out, row, st.MISSING_VALUE,
                   f"head's {column} missing in {mod.name}.{column}")
    return out, R, row


def _head_labels(src, rows, missing_codes):
    """A categorical column's labels at `rows` (-1: none) as (labels (k,) objects, None
    for a declared missing code; idx, each row's label or -1 where none or missing):
    each category converted once, then spread by its code."""
    from rima.build.sources import missing_text

    cats = src.cat.categories
    labels = pd.Categorical.from_codes(np.arange(len(cats)), dtype=src.dtype).to_numpy(
        dtype=object)
    gone = np.ones(len(cats) + 1, dtype=bool)  # the last: a missing cell (code -1)
    for j, v in enumerate(labels):
        if pd.isna(v) or missing_text(v, missing_codes):
            labels[j] = None
        else:
            gone[j] = False
    codes = src.cat.codes.to_numpy()
    have = rows >= 0
    if have.all():  # every household has a head: one gather
        idx = codes[rows].astype(np.int64)
    else:
        idx = np.full(len(rows), -1, dtype=np.int64)
        idx[have] = codes[rows[have]]
    if gone[:-1].any():  # else only a missing cell (code -1, already -1) is gone
        idx[gone[idx]] = -1  # gone[-1]: a missing cell
    return labels, idx


def head_sex(ctx, recipe, vs):
    o = recipe.options
    mod = _pass(ctx, recipe)["mod"]
    from rima.build.sources import value_labels

    col = o["sex_column"]
    # codes with value labels (Stata, SPSS) give the labels, as a text column gives its text
    numeric = mod.has(col) and pd.api.types.is_numeric_dtype(mod.df[col].dtype) and not (
        value_labels(mod.df[col]))
    return _head_value(ctx, recipe, vs, o["sex_column"], numeric)[0]


def head_age(ctx, recipe, vs):
    o = recipe.options
    out, R, row = _head_value(ctx, recipe, vs, o["age_column"], True)
    bad = (out < 0) | (out > float(o["max_age"]))
    ctx.flag_cells(vs, R["mod"], o["age_column"], bad, out, row, st.AGE_OUT_OF_RANGE,
                   f"head's age out of range 0-{float(o['max_age']):g}")
    return out


def head_education(ctx, recipe, vs):
    return _head_value(ctx, recipe, vs, recipe.options["education_column"], True)[0]


def max_adult_education(ctx, recipe, vs):
    R = _pass(ctx, recipe)
    _common(ctx, recipe, vs, R)
    mod = R["mod"]
    col = recipe.options["education_column"]
    mod.require(col, f"[build.{recipe.variable}]")
    _flag(ctx, vs, R, "no_adult", lambda C: (C[:, MEMBERS] > 0) & (C[:, ADULTS] == 0),
          st.MISSING_VALUE, mod.name, f"no adult in {mod.name}")
    _flag(ctx, vs, R, "no_education", lambda C: C[:, NO_EDU] > 0, st.MISSING_VALUE, mod.name,
          f"an adult's education missing in {mod.name}.{col}", col)
    return R["max_edu"]


RECIPES = {"household_size": household_size, "adult_equivalents": adult_equivalents,
           "dependency_ratio": dependency_ratio, "working_age": working_age,
           "head_sex": head_sex, "head_age": head_age, "head_education": head_education,
           "max_adult_education": max_adult_education}
