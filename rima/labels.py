"""Labels that travel with rima's tables: Stata variable labels, Stata-safe names, and the
value labels of Stata/SPSS input turned into category names.

`variable_label(name)` is the one place the meaning of an output column is written down
(pillars, RCI, status, classes, the simulator's codebook); `rima.io` writes these into
every .dta file. The build's tables, whose columns share names with the score table's but
not their meaning, take theirs from `build_labels`.
"""

from __future__ import annotations

import re

import pandas as pd

OUTPUT_LABELS = {
    "ABS": "Access to basic services pillar (higher = more capacity)",
    "AST": "Assets pillar (higher = more capacity)",
    "SSN": "Social safety nets pillar (higher = more capacity)",
    "AC": "Adaptive capacity pillar (higher = more capacity)",
    "RCI": "Resilience capacity index (MIMIC prediction)",
    "RCI_100": "Resilience capacity index, 0-100 scale",
    "status": "ok, or why the household was not scored",
    "out_of_range": "1 = a value outside the training range",
    "resilience_class": "resilience class (RCI_100 band)",
    "share": "share of the RCI, % (Resilience Structure Matrix)",
    "r_signed": "signed correlation (or std. coefficient) behind the share",
    "category": "category of the profile variable",
    "households": "households in the group",
    "mean_RCI_100": "mean RCI_100",
    "ci_lower": "lower confidence limit",
    "ci_upper": "upper confidence limit",
    "se": "standard error",
    "est": "estimate",
    "pvalue": "p-value",
    "std_all": "standardised estimate (std.all)",
    "std_lv": "estimate standardised on the latent variable (std.lv)",
    "lhs": "left-hand side",
    "op": "operator (=~ loading, ~ regression, ~~ (co)variance)",
    "rhs": "right-hand side",
    "pillar": "pillar",
}

CODEBOOK = {
    'hhid': 'household id (integer, unique)',
    'soum': 'soum (district) of residence, one of the 24 soums of Zavkhan',
    'hh_weight': 'sampling weight: soum herder households / households sampled in the soum',
    'head_sex': 'sex of the household head (male, female)',
    'head_age': 'age of the household head, years',
    'hh_size': 'household members',
    'n_children': 'members under working age',
    'n_elderly': 'members over working age',
    'dist_soum_km': 'distance to the soum centre, km',
    'dist_vet_km': 'distance to the nearest veterinary service, km',
    'dist_health_km': 'distance to the nearest health post, km',
    'solar_power': '1 = household has solar power (panel or home system)',
    'mobile_coverage': 'mobile network at the main camp: 0 none, 1 weak, 2 good',
    'water_source': 'main winter water source: river_lake, spring, open_well, protected_well (text)',
    'improved_water': '1 = protected well (from water_source)',
    'early_warning': '1 = receives weather / dzud early warnings',
    'sheep': 'head of livestock by species, autumn before the winter',
    'goats': 'head of livestock by species, autumn before the winter',
    'cattle': 'head of livestock by species, autumn before the winter',
    'horses': 'head of livestock by species, autumn before the winter',
    'camels': 'head of livestock by species, autumn before the winter',
    'herd_su': 'herd in sheep units: sheep 1, goat 0.9, cattle 6, horse 7, camel 5',
    'hay_reserve_t': 'hay and fodder reserves at the start of winter, tonnes (0 = none)',
    'shelter_quality': 'winter shelter (khashaa): 1 poor, 2 basic, 3 good, 4 insulated',
    'has_motorbike': '1 = owns a motorbike',
    'has_vehicle': '1 = owns a car or truck',
    'n_durables': 'durable goods owned, of 8 (TV, satellite dish, fridge, washing machine, ...)',
    'social_insurance': '1 = pays voluntary social insurance contributions',
    'health_insurance': '1 = health insurance paid up',
    'child_money': '1 = receives the Child Money Programme (near universal with children)',
    'pension_welfare': '1 = receives a pension or welfare benefit',
    'remittances': '1 = received remittances in the last 12 months',
    'herder_loan': '1 = has a herder (livestock-backed) loan',
    'livestock_insurance': '1 = index-based livestock insurance this winter',
    'coop_member': '1 = member of a herder cooperative',
    'pug_member': '1 = member of a pasture user group',
    'head_edu_years': 'years of schooling of the head',
    'n_income_sources': 'number of income sources (1-5)',
    'nonlivestock_income_share': 'share of income not from livestock (0-1)',
    'dependency_ratio': '(children + elderly) / working-age members',
    'training': '1 = a member had livelihood / disaster-preparedness training',
    'otor_moves': 'seasonal (otor) moves in the last year',
    'winter_loss_su': 'livestock lost over the winter, sheep units',
    'loss_share': 'winter_loss_su / herd_su',
    'fcs': 'food consumption score (0-112)',
    'food_exp_ae': 'monthly food expenditure per adult equivalent including own-produced meat and da',
    'log_food_exp_ae': 'natural log of food_exp_ae',
    'hdds': 'household dietary diversity score (0-12)',
    'rcsi': 'reduced coping strategies index (0-56, higher = worse)',
    'soum_code': 'soum name and code (1-24)',
    'round': 'survey round that followed the winter (1 here)',
    'zone': 'forest_steppe, mountain_steppe, steppe, desert_steppe',
    'herder_households': 'herder households in the soum (sampling frame)',
    'dist_aimag_km': 'distance to Uliastai, the aimag centre, km',
    'snow_depth_cm': 'mean winter snow depth, cm',
    'temp_anomaly_c': 'winter temperature anomaly, degrees C (negative = colder than normal)',
    'severity': 'winter severity index 0-1 (snow and cold)',
    'dzud_class': 'dzud (severity >= 0.55), dzud-like (>= 0.35) or none',
    'mortality_pct': 'weighted livestock losses of sampled herds, % of sheep units (index insurance pa',
    'ABS': 'latent pillar capacities (standard normal, soum-clustered)',
    'AST': 'latent pillar capacities (standard normal, soum-clustered)',
    'SSN': 'latent pillar capacities (standard normal, soum-clustered)',
    'AC': 'latent pillar capacities (standard normal, soum-clustered)',
    'resilience': 'latent resilience capacity (standard normal), which drives food security',
}

_STATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}\Z")
# words Stata (and pandas' writer) refuse as variable names
_STATA_RESERVED = frozenset((
    "aggregate", "array", "boolean", "break", "byte", "case", "catch", "class",
    "colvector", "complex", "const", "continue", "default", "delegate", "delete", "do",
    "double", "else", "eltypedef", "end", "enum", "explicit", "export", "external",
    "float", "for", "friend", "function", "global", "goto", "if", "in", "inline", "int",
    "local", "long", "NULL", "pragma", "protected", "quad", "rowvector", "short",
    "typedef", "typename", "virtual", "_all", "_N", "_skip", "_b", "_pi", "str#", "_pred",
    "strL", "_coef", "_rc", "using", "_cons", "_se", "with", "_n",
))


def rsm_signed_label(kind: str) -> str:
    """The heading of the RSM's signed column wherever the table is shown: what the value
    behind a share is under ``options.rsm = kind`` ("correlation" or "std_coefficient").

    Parameters
    ----------
    kind : str

    Returns
    -------
    str
    """
    return "corr with RCI" if kind == "correlation" else "std. coefficient"


def variable_label(name: str) -> str:
    """The label of a column rima writes ('' when none is known)."""
    name = str(name)
    if name in OUTPUT_LABELS:
        return OUTPUT_LABELS[name]
    if name in CODEBOOK:
        return CODEBOOK[name]
    if name.startswith("mean_"):
        return f"mean {name[5:]}"
    if name.startswith("rsm_"):
        return f"share of the RCI from {name[4:]}, %"
    if name.startswith("r_signed_"):
        return f"signed correlation (or std. coefficient) behind the {name[9:]} share"
    return ""


# the issue list of a build (rima.build.status.IssueLog): its `status` is a kind of bad
# value, not the score table's status, so these columns never take the score labels
ISSUE_LABELS = {
    "variable": "built variable the issue concerns",
    "status": "kind of issue (missing value, out of range, ...)",
    "module": "source module ([sources] name) where it was found",
    "column": "column of the module",
    "household": "household id",
    "row": "row of the module, 1-based (of the household table for a household issue)",
    "value": "the value as found in the module",
    "message": "what is wrong, in words",
}


def household_label(name: str) -> str:
    """The label of a household-table column ('' when none is known): the codebook's
    meaning only, because a survey's own column named like a result (status, share,
    category, RCI) means something else there."""
    return CODEBOOK.get(str(name), "")


def build_labels(kind: str, columns, key: str | None = None) -> dict:
    """{column: variable label, '' for none} for every column of a table `rima build`
    writes: `kind` "table" (the built household table), "report" (one status per built
    variable, keyed by `key`) or "issues" (the issue list). Every column is given, so the
    writer adds no label of its own (rima.io.write_table's `labels`)."""
    out = {}
    for c in map(str, columns):
        if kind == "issues":
            out[c] = ISSUE_LABELS.get(c, "")
        elif kind == "report" and c == key:
            out[c] = household_label(c) or "household id"
        elif kind == "report" and c == "build_status":
            out[c] = "ok, or the first variable not built and why"
        elif kind == "report":
            # the column holds the variable's status, not its value
            out[c] = f"status of {c}: ok, or why it was not built"
        else:
            out[c] = household_label(c)
    return out


def stata_names(columns) -> dict:
    """{column: Stata-safe name} for every column: letters, digits and _, at most 32
    characters, not starting with a digit, unique (ci.lower -> ci_lower)."""
    out, used = {}, set()
    for c in columns:
        c = str(c)
        name = c if _STATA_NAME.match(c) else re.sub(r"[^A-Za-z0-9_]", "_", c)
        if not name or name[0].isdigit():
            name = "_" + name
        if name in _STATA_RESERVED:
            name = name + "_"
        name = name[:32]
        base, k = name, 1
        while name.lower() in used:
            k += 1
            name = f"{base[:32 - len(str(k)) - 1]}_{k}"
        used.add(name.lower())
        out[c] = name
    return out


def label_categories(df: pd.DataFrame, keep=()) -> pd.DataFrame:
    """`df` with the Stata/SPSS value labels (``df.attrs["value_labels"]``) applied to every
    labelled column not in `keep` (the columns analysed as numbers), as categoricals in code
    order; `df` itself when there is nothing to apply."""
    labels = df.attrs.get("value_labels") or {}
    cols = [c for c in labels if c in df.columns and c not in set(keep)]
    if not cols:
        return df
    out = df.copy(deep=False)
    for c in cols:
        mapping = labels[c]
        codes = pd.to_numeric(df[c], errors="coerce")
        present = sorted(set(codes.dropna().tolist()) | set(mapping))
        names = []
        for v in present:
            lab = mapping.get(v, mapping.get(int(v)) if float(v).is_integer() else None)
            names.append(str(lab) if lab is not None else _code_text(v))
        # two codes with one label stay one category
        cats = list(dict.fromkeys(names))
        lookup = dict(zip(present, names))
        out[c] = pd.Categorical(codes.map(lookup), categories=cats)
    out.attrs = dict(df.attrs)
    return out


def _code_text(v) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)
