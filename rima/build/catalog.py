"""The recipes a `[build.<variable>]` table may name, with every option and its default.

Defaults are the published constants (sources in docs/build.md). This module is plain data
so that a spec can be checked without importing the numerical code.
"""

from __future__ import annotations

# WFP (2008), Food consumption analysis, technical guidance sheet: group weights.
FCS_WEIGHTS = {"staples": 2.0, "pulses": 3.0, "vegetables": 1.0, "fruit": 1.0,
               "meat_fish": 4.0, "milk": 4.0, "sugar": 0.5, "oil": 0.5}
FCS_THRESHOLDS = (21.0, 35.0)
FCS_LABELS = ("poor", "borderline", "acceptable")
# FAO (2011) / FANTA (Swindale & Bilinsky 2006): the 12 HDDS food groups.
HDDS_GROUPS = ("cereals", "roots_tubers", "vegetables", "fruits", "meat", "eggs", "fish",
               "pulses", "milk", "oils_fats", "sugar", "condiments")
# Maxwell & Caldwell (2008), The Coping Strategies Index field methods manual, 2nd ed.
RCSI_WEIGHTS = {"less_preferred": 1.0, "borrow": 2.0, "limit_portions": 1.0,
                "restrict_adults": 3.0, "reduce_meals": 1.0}
# FAO Voices of the Hungry: the eight FIES items.
FIES_ITEMS = ("worried", "healthy", "fewfood", "skipped", "ateless", "ranout", "hungry",
              "whlday")
# Mongolian sheep (bod) units and tropical livestock units.
SHEEP_UNITS = {"sheep": 1.0, "goat": 0.9, "cattle": 6.0, "horse": 7.0, "camel": 5.0}
TLU = {"sheep": 0.1, "goat": 0.1, "cattle": 0.7, "horse": 0.8, "camel": 1.0}
UNIT_SETS = {"sheep_units": SHEEP_UNITS, "tlu": TLU}
# Adult-equivalence scales: (first adult, further adults, children) and the adult age.
AE_SCALES = {"oecd_modified": (1.0, 0.5, 0.3), "oecd": (1.0, 0.7, 0.5),
             "per_capita": (1.0, 1.0, 1.0)}
DAYS_PER_MONTH = 30.4375

_ROSTER = {"source": "roster", "age_column": "age", "relation_column": "relation",
           "head_code": 1, "sex_column": "sex", "education_column": "education",
           "max_age": 120.0, "adult_age": 14.0, "young_below": 15.0, "old_above": 64.0,
           "working_ages": [15.0, 64.0]}
_HERD = {"source": "livestock", "layout": "long", "species_column": "species",
         "count_column": "head", "columns": {}, "units": "sheep_units", "species": {},
         "round_column": None, "round": None}

RECIPES: dict[str, dict] = {
    "fcs": {"source": "food", "columns": {}, "prefix": "", "weights": {}, "max_days": 7.0,
            "output": "score", "thresholds": list(FCS_THRESHOLDS), "labels": list(FCS_LABELS)},
    "hdds": {"source": "food", "columns": {}, "prefix": ""},
    "rcsi": {"source": "food", "columns": {}, "prefix": "", "weights": {}, "max_days": 7.0},
    "fies": {"source": "food", "columns": [], "prefix": ""},
    "herd": dict(_HERD),
    "dzud_loss": {**_HERD, "count_column": "start", "lost_column": "lost", "lost_columns": {}},
    "herd_change": {**_HERD, "round_column": "round", "from_round": 1, "to_round": 2,
                    "relative": False},
    "household_size": dict(_ROSTER),
    "adult_equivalents": {**_ROSTER, "scale": "oecd_modified", "weights": []},
    "dependency_ratio": dict(_ROSTER),
    "head_sex": dict(_ROSTER),
    "head_age": dict(_ROSTER),
    "head_education": dict(_ROSTER),
    "max_adult_education": dict(_ROSTER),
    "working_age": dict(_ROSTER),
    "money_per_ae": {"source": "expenditure", "amount_column": "amount", "period_days": 30.0,
                     "own_source": None, "quantity_column": "quantity",
                     "unit_value_column": "unit_value", "own_period_days": 30.0,
                     "ae": "adult_eq", "log": False},
    "income_sources": {"source": "income", "amount_column": "amount"},
    "nonlivestock_income_share": {"source": "income", "amount_column": "amount",
                                  "source_column": "source", "livestock": []},
    "asset_index": {"source": None, "columns": [], "fitted": {}},
    "asset_count": {"source": None, "columns": []},
    "log": {"input": "", "offset": 0.0},
    "log1p": {"input": ""},
    "cap": {"input": "", "lower": None, "upper": None},
    "winsorize": {"input": "", "lower_quantile": 0.01, "upper_quantile": 0.99, "by": None,
                  "fitted": {}},
    "divide": {"numerator": "", "denominator": ""},
    "sum": {"inputs": []},
    "any": {"inputs": []},
    "all": {"inputs": []},
    "recode": {"input": "", "map": {}, "default": None},
}

# What each option holds (kinds: rima.build.spec.KINDS), checked when the spec is read so
# that a wrong type is a spec error naming the recipe and option, not a failure deep in
# a recipe; options with a check of their own in spec.py (units) are not listed.
OPTION_KINDS = {
    "source": "name?", "own_source": "name?", "prefix": "text", "columns": "columns",
    "lost_columns": "columns", "weights": "table", "max_days": "number", "output": "text",
    "thresholds": "numbers", "labels": "codes", "layout": "text", "species_column": "name",
    "count_column": "name", "lost_column": "name", "species": "renames",
    "round_column": "name?", "round": "number?", "from_round": "number",
    "to_round": "number", "relative": "bool", "age_column": "name",
    "relation_column": "name", "head_code": "code", "sex_column": "name",
    "education_column": "name", "max_age": "number", "adult_age": "number",
    "young_below": "number", "old_above": "number", "working_ages": "numbers",
    "scale": "text", "amount_column": "names_or_name", "period_days": "number",
    "quantity_column": "name", "unit_value_column": "name", "own_period_days": "number",
    "ae": "name", "log": "bool", "source_column": "name", "livestock": "codes",
    "fitted": "table", "input": "name", "offset": "number", "lower": "number?",
    "upper": "number?", "lower_quantile": "number", "upper_quantile": "number",
    "by": "name?", "numerator": "name", "denominator": "name", "inputs": "names",
    "map": "lookup", "default": "value?",
}
# where a recipe's option holds another kind than the same option of other recipes
RECIPE_KINDS = {"adult_equivalents": {"weights": "numbers"}}

# options that must be given (no usable default)
REQUIRED = {
    "asset_index": ("columns",), "asset_count": ("columns",),
    "log": ("input",), "log1p": ("input",), "cap": ("input",), "winsorize": ("input",),
    "divide": ("numerator", "denominator"), "sum": ("inputs",), "any": ("inputs",),
    "all": ("inputs",), "recode": ("input", "map"),
}

ROSTER_RECIPES = ("household_size", "adult_equivalents", "dependency_ratio", "head_sex",
                  "head_age", "head_education", "max_adult_education", "working_age")


def variable_inputs(recipe: str, options: dict) -> tuple[str, ...]:
    """Household-level variables a recipe reads (built first when they are built too)."""
    if recipe == "winsorize" and options.get("by"):
        return (options["input"], options["by"])
    if recipe in ("log", "log1p", "cap", "winsorize", "recode"):
        return (options["input"],)
    if recipe == "divide":
        return (options["numerator"], options["denominator"])
    if recipe in ("sum", "any", "all"):
        return tuple(options["inputs"])
    if recipe == "money_per_ae":
        return (options["ae"],)
    if recipe in ("asset_index", "asset_count") and options.get("source") is None:
        return tuple(options["columns"])
    return ()
