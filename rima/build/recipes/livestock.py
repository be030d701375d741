"""Herd size in sheep units or TLU, dzud loss share and herd change, from long (one row
per household and species) or wide (one column per species) livestock modules.

Species names are matched after case folding, Unicode normalisation and removing spaces,
underscores and hyphens, in English (singular or plural) and Mongolian Cyrillic.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rima.build import status as st
from rima.build.catalog import UNIT_SETS
from rima.errors import SpecError

SPECIES_NAMES = {
    "sheep": ("sheep", "хонь"),
    "goat": ("goat", "goats", "ямаа"),
    "cattle": ("cattle", "cow", "cows", "yak", "yaks", "үхэр", "сарлаг"),
    "horse": ("horse", "horses", "адуу"),
    "camel": ("camel", "camels", "тэмээ"),
}


def normalise(name) -> str:
    s = unicodedata.normalize("NFKC", str(name)).casefold()
    return "".join(ch for ch in s if not (ch.isspace() or ch in "_-."))


def species_table(recipe) -> tuple[tuple[str, ...], np.ndarray, dict[str, int]]:
    """(species, units per species, {normalised name: species index})."""
    u = recipe.options["units"]
    units = dict(UNIT_SETS[u]) if isinstance(u, str) else {str(k): float(v) for k, v in u.items()}
    names = tuple(units)
    lookup: dict[str, int] = {}
    for j, sp in enumerate(names):
        lookup[normalise(sp)] = j
        for alias in SPECIES_NAMES.get(sp, ()):
            lookup.setdefault(normalise(alias), j)
    for alias, sp in (recipe.options.get("species") or {}).items():
        if sp not in units:
            raise SpecError(f"[build.{recipe.variable}]: species {alias!r} maps to {sp!r}, "
                            f"which has no units (units: {', '.join(names)})")
        lookup[normalise(alias)] = names.index(sp)
    return names, np.array([units[s] for s in names]), lookup


def _species_codes(series: pd.Series, lookup) -> tuple[np.ndarray, np.ndarray]:
    """(codes, m): each row's code among the distinct names (-1 missing) and the species
    index of each name (-1 unknown) followed by -2 (missing), so that a row's species is
    m[code] (m[-1] = -2 for a missing name); each distinct name is normalised once."""
    from rima.build.sources import labelled

    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, cats = series.cat.codes.to_numpy(), series.cat.categories
    else:
        codes, cats = pd.factorize(series, use_na_sentinel=True)
    # a coded column's value labels name the species; a whole code read as a decimal (a
    # CSV column with a blank cell) is the code written in the spec ("1", not "1.0")
    names = [int(c) if isinstance(c, float) and c.is_integer() else c
             for c in labelled(series, list(cats))]
    m = np.array([lookup.get(normalise(c), -1) for c in names] + [-2], dtype=np.int64)
    return codes, m


def herd_units(ctx, recipe, vs, count_columns, rows_mask=None, tag=None):
    """Per household, for each count column: the herd in units, summed over species.

    Long layout: count_columns are columns of the module rows; wide: count_columns are
    {species: column} tables. Negative, missing counts and unknown species are flagged.
    Returns a list of (n,) arrays, one per count column. Long-layout sums are kept for
    the other recipes of the build (`tag` names the rows_mask, e.g. the round).
    """
    o = recipe.options
    where = f"[build.{recipe.variable}]"
    names, units, lookup = species_table(recipe)
    from rima._kernels.build import NO_CODES, count_not_finite, units_pass, wide_counts, zeros

    if o["layout"] == "wide":
        out = []
        for cols in count_columns:
            X, pos, mod = ctx.wide(o["source"], list(cols.values()), vs, where)
            counts = wide_counts(X, pos, 0, 0.0)
            for j, (sp, col) in enumerate(cols.items()):
                if not (counts[j, 0] or counts[j, 2]):
                    continue
                x = X[j]
                ctx.flag_cells(vs, mod, col, np.isnan(x), x, pos, st.MISSING_VALUE,
                               f"missing {sp} count ({mod.name}.{col})")
                ctx.flag_cells(vs, mod, col, x < 0, x, pos, st.NEGATIVE_ANIMALS,
                               f"negative {sp} count ({mod.name}.{col})")
            w = np.array([units[names.index(sp)] for sp in cols])
            herd = w @ X
            if count_not_finite(herd, NO_CODES):
                for sp, col in cols.items():
                    x = X[list(cols).index(sp)]
                    ctx.flag_cells(vs, mod, col, np.isinf(x), x, pos, st.OUT_OF_RANGE,
                                   f"infinite {sp} count ({mod.name}.{col})")
            out.append(herd)
        return out
    mod = ctx.module(o["source"])
    mod.require(o["species_column"], where)
    key = ("species", o["source"], o["species_column"], tuple(lookup.items()))
    if key not in ctx.cache:
        ctx.cache[key] = _species_codes(mod.df[o["species_column"]], lookup)
    sp_codes, sp_map = ctx.cache[key]
    codes = mod.codes if rows_mask is None else np.where(rows_mask, mod.codes, -1)

    def key_of(col):
        return ("herd_sum", o["source"], col, key, tuple(units), o.get("round_column"), tag)

    todo = [c for c in dict.fromkeys(count_columns) if key_of(c) not in ctx.cache]
    if todo:
        # the plain numeric count columns that later recipes of the build sum with the
        # same settings go in the same passes (a pass sums two columns; reading one
        # stored as it is reports nothing, so each recipe's issues stay its own)
        todo += [c for c in dict.fromkeys(_later_count_columns(ctx, recipe))
                 if c not in todo and key_of(c) not in ctx.cache and mod.has(c)
                 and mod.stored(c)]
    for pair in (todo[k:k + 2] for k in range(0, len(todo), 2)):
        # one pass: the units of each row's species summed by household, and the rows
        # that cannot be counted (found row by row below only if there are any)
        x, miss = mod.values(pair[0], where, vs.name)
        y, y_miss = mod.values(pair[1], where, vs.name) if len(pair) > 1 else (x[:0], miss)
        total = zeros(ctx.n)
        total_y = zeros(ctx.n if len(pair) > 1 else 0)
        bad = np.zeros((mod.bounds.shape[0] - 1, 6), dtype=np.int64)
        mod.run(units_pass, codes, sp_codes, sp_map, x, miss, y, y_miss, units, mod.bounds,
                total, total_y, bad)
        bad = bad.sum(axis=0)
        ctx.cache[key_of(pair[0])] = (total, bad[:4])
        if len(pair) > 1:
            ctx.cache[key_of(pair[1])] = (total_y, bad[[0, 1, 4, 5]])
    out = []
    for col in count_columns:
        total, bad = ctx.cache[key_of(col)]
        if bad.any():
            sp = sp_map[sp_codes]  # a missing name's code -1 takes the last: -2
            x = mod.number(col, where, vs.name)
            use = codes >= 0
            spc = o["species_column"]
            ctx.flag_rows(vs, mod, spc, use & (sp == -1), st.UNKNOWN_SPECIES,
                          f"unknown species in {mod.name}.{spc} (known: "
                          f"{', '.join(names)}, or map it with species = {{...}})")
            ctx.flag_rows(vs, mod, spc, use & (sp == -2), st.MISSING_VALUE,
                          f"missing species in {mod.name}.{spc}")
            ctx.flag_rows(vs, mod, col, use & np.isnan(x), st.MISSING_VALUE,
                          f"missing animal count in {mod.name}.{col}")
            ctx.flag_rows(vs, mod, col, use & (x < 0), st.NEGATIVE_ANIMALS,
                          f"negative animal count in {mod.name}.{col}")
        if count_not_finite(total, NO_CODES):  # an infinite count is summed: found here
            ctx.flag_rows(vs, mod, col, (codes >= 0) & np.isinf(mod.number(col, where)),
                          st.OUT_OF_RANGE, f"infinite animal count in {mod.name}.{col}")
        out.append(total)
    return out


_SAME_PASS = ("source", "species_column", "units", "species", "round", "round_column")
_SUMS_ALL_ROUND = ("herd", "dzud_loss")  # recipes summing the rows of their `round` option


def _later_count_columns(ctx, recipe) -> list[str]:
    """The count columns that the build's herd and dzud-loss recipes after this one read
    from the same long module with the same species, units and round (none after a herd
    change, whose rounds are its own)."""
    o = recipe.options
    if recipe.recipe not in _SUMS_ALL_ROUND:
        return []
    spec = ctx.spec.recipes
    later = spec[[r.variable for r in spec].index(recipe.variable) + 1:]
    cols = []
    for r in later:
        p = r.options
        if r.recipe in _SUMS_ALL_ROUND and p.get("layout") == "long" and all(
                p.get(k) == o.get(k) for k in _SAME_PASS):
            cols += [p["count_column"]] + ([p["lost_column"]] if r.recipe == "dzud_loss"
                                           else [])
    return cols


def _wide_columns(ctx, recipe, key="columns"):
    """{species: column} of a wide module: given, or every column named like a species."""
    o = recipe.options
    names, _, lookup = species_table(recipe)
    given = o.get(key) or {}
    if isinstance(given, Mapping) and given:
        bad = [s for s in given if s not in names]
        if bad:
            raise SpecError(f"[build.{recipe.variable}]: {key} names species without units: "
                            f"{', '.join(bad)} (units: {', '.join(names)})")
        return {s: str(c) for s, c in given.items()}
    cols = list(given) if given else list(ctx.module(o["source"]).df.columns)
    out = {}
    for c in cols:
        j = lookup.get(normalise(c))
        if j is not None and names[j] not in out:
            out[names[j]] = str(c)
        elif given:
            raise SpecError(f"[build.{recipe.variable}]: column {c!r} is not a species name")
    if not out:
        raise SpecError(f"[build.{recipe.variable}]: no species columns found in source "
                        f"{o['source']}; give columns = {{sheep = \"...\", ...}}")
    return out


def herd(ctx, recipe, vs):
    o = recipe.options
    mask = _round_mask(ctx, recipe, o.get("round"), vs)
    cols = [_wide_columns(ctx, recipe)] if o["layout"] == "wide" else [o["count_column"]]
    return herd_units(ctx, recipe, vs, cols, mask, o.get("round"))[0]


def dzud_loss(ctx, recipe, vs):
    o = recipe.options
    mask = _round_mask(ctx, recipe, o.get("round"), vs)
    if o["layout"] == "wide":
        cols = [_wide_columns(ctx, recipe), _wide_columns(ctx, recipe, "lost_columns")]
        # a column read as both would be a loss of the whole herd: the spec requires
        # lost_columns here, but start columns found by their species names may be
        # among them
        both = sorted(set(cols[0].values()) & set(cols[1].values()))
        if both:
            raise SpecError(f"[build.{recipe.variable}]: lost_columns must be other columns "
                            f"than the herd at the start of winter; both read "
                            f"{', '.join(both)} (start columns: "
                            f"{', '.join(cols[0].values())})")
    else:
        cols = [o["count_column"], o["lost_column"]]
    start, lost = herd_units(ctx, recipe, vs, cols, mask, o.get("round"))
    ctx.flag_households(vs, start <= 0, st.NO_HERD, o["source"],
                        f"no herd at the start of winter ({o['source']})")
    ctx.flag_households(vs, lost > start, st.LOSS_EXCEEDS_HERD, o["source"],
                        f"winter losses exceed the herd at its start ({o['source']})")
    from rima.build.recipes.transforms import divide_or_nan

    return divide_or_nan(lost, start, start > 0)


def herd_change(ctx, recipe, vs):
    o = recipe.options
    if o["layout"] == "wide":
        raise SpecError(f"[build.{recipe.variable}]: herd_change reads a long module with a "
                        "round column (layout = \"long\")")
    a = herd_units(ctx, recipe, vs, [o["count_column"]],
                   _round_mask(ctx, recipe, o["from_round"], vs), o["from_round"])[0]
    b = herd_units(ctx, recipe, vs, [o["count_column"]],
                   _round_mask(ctx, recipe, o["to_round"]), o["to_round"])[0]
    if not o["relative"]:
        return b - a
    ctx.flag_households(vs, a <= 0, st.NO_HERD, o["source"],
                        f"no herd in round {o['from_round']} ({o['source']})")
    from rima.build.recipes.transforms import divide_or_nan

    change = b - a
    return divide_or_nan(change, a, a > 0, out=change)


def _round_mask(ctx, recipe, value, vs=None):
    """The module rows of round `value`; rows without a round are flagged when `vs` is
    given: their animals belong to no round, so the household's herd is not known."""
    o = recipe.options
    if value is None or o["layout"] == "wide":
        return None
    mod = ctx.module(o["source"])
    col = o["round_column"] or "round"
    x = mod.number(col, f"[build.{recipe.variable}]", vs.name if vs is not None else "")
    if vs is not None:
        ctx.flag_rows(vs, mod, col, np.isnan(x), st.MISSING_VALUE,
                      f"missing round in {mod.name}.{col}")
    mask = x == float(value)
    if mod.n_rows and not mask.any():
        # every household's herd in that round would be 0: a round the data does not
        # have (2023 where the rounds are coded 1, 2) is said, not taken for no animals
        import warnings

        from rima.errors import RimaWarning

        seen = ", ".join(f"{v:g}" for v in np.unique(x[~np.isnan(x)])[:8])
        warnings.warn(f"[build.{recipe.variable}]: no row of {mod.name} is of round "
                      f"{value!r} ({mod.name}.{col} holds: {seen or 'no round'}), so every "
                      "household's herd in it is 0; check the round", RimaWarning,
                      stacklevel=2)
    return mask


RECIPES = {"herd": herd, "dzud_loss": dzud_loss, "herd_change": herd_change}
