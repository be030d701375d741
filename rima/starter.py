"""A first spec guessed from a table's columns: `rima init DATA` and the browser app's start.

`guess_spec(df)` reads column names (and types) the way they are usually spelled in
Mongolian herder surveys (HSES, FAO's RIMA rounds, the bundled Zavkhan example): an id,
a weight, profile columns (soum, aimag, sex of the head), the food-security indicators
(FCS, HDDS, food expenditure) and the four pillars by name patterns. It is a guess to be
read and corrected, so every choice carries its reason. `starter_toml(df)` writes it as a
commented TOML spec that also lists every column and every `[options]` key with its
default and a one-line help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from rima.options import FACTOR_KEYS, KNOWN_OPTIONS, Options
from rima.spec import MIN_INDICATORS, MIN_PILLAR_VARIABLES

# one-line help of every [options] key ("factor.<key>" for the factor settings); the
# defaults come from rima.options.Options, so they cannot drift from the code
OPTION_HELP = {
    "seed": "seed of parallel-analysis retention and anything random",
    "negative": "variables where higher means less capacity (e.g. distances); reversed first",
    "missing": "\"listwise\" (reference), \"pillar\", \"fiml\", or \"all_columns\" (as Shiny RIMA)",
    "orientation": "\"capacity\": every pillar higher = more capacity; \"reference\": psych's signs",
    "weights": "true: use the [data] weight in correlations, MIMIC and profiles",
    "rci_prediction": "how the RCI is predicted: \"regression\", \"bartlett\" or \"causes\"",
    "rsm": "RSM shares from \"correlation\" (reference) or \"std_coefficient\"",
    "rci_100": "\"minmax\" (training min and max) or [low, high] RCI values for 0 and 100",
    "mimic_se": "MIMIC standard errors: \"standard\", \"robust.sem\", \"robust.huber.white\"",
    "factor.extraction": "factor extraction: pa, pf, minres, ml, pca",
    "factor.retention": "factors kept: cumvar95, kaiser, parallel, or a number",
    "factor.scores": "factor scores: bartlett or regression",
    "factor.rotation": "rotation: none, varimax, promax, oblimin",
    "factor.smc": "true: squared multiple correlations as starting communalities",
    "factor.heywood": "a communality at or above 1: warn, bound or error",
    "anchor": "per pillar, a variable it must correlate positively with (\"-name\": negatively)",
}

ID_NAMES = ("hhid", "hh_id", "household_id", "householdid", "hhcode", "hh_code", "id")
WEIGHT_PATTERN = re.compile(r"(^|_)(weight|wgt|wt|pweight|hhweight|hh_weight|weights)($|_)",
                            re.IGNORECASE)
PROFILE_PATTERN = re.compile(
    r"^(soum|sum|aimag|aymag|province|region|district|bag|strata|stratum|zone|urban|rural|"
    r"location|head_sex|sex_head|hh_head_sex|sex|gender|head_gender|livelihood)$", re.IGNORECASE)
# indicator groups in order of preference: the first name found of each is used
INDICATOR_PATTERNS = (
    ("fcs", re.compile(r"^(fcs|food_consumption_score)$", re.IGNORECASE)),
    ("hdds", re.compile(r"^(hdds|dds|dietary_diversity)$", re.IGNORECASE)),
    ("food expenditure", re.compile(r"^log_?food_?exp", re.IGNORECASE)),
    ("food expenditure", re.compile(r"^food_?exp", re.IGNORECASE)),
)
PILLAR_PATTERNS = {
    "ABS": re.compile(r"dist|_km$|distance|time_to|solar|electric|mobile|phone|network|"
                      r"water|toilet|sanit|school_access|clinic|hospital|market|road|"
                      r"early_warning|warning|vet_acc", re.IGNORECASE),
    "AST": re.compile(r"herd|^tlu|_tlu|livestock_(su|tlu|units)|^su$|hay|fodder|shelter|"
                      r"barn|motor|vehicle|car$|truck|tractor|durable|asset|house|ger_|land",
                      re.IGNORECASE),
    "SSN": re.compile(r"insur|pension|welfare|remit|transfer|loan|credit|coop|pug|social|"
                      r"aid$|assist|child_money|benefit|allowance|support", re.IGNORECASE),
    "AC": re.compile(r"edu|literacy|school_years|income_sources|diversif|nonlivestock|"
                     r"non_livestock|dependency|training|skill|(^|_)otor|moves|mobility", re.IGNORECASE),
}
MATCH_ORDER = ("SSN", "AC", "ABS", "AST")
# herd species counts add nothing to a herd total in sheep units (and would dominate AST)
SPECIES = re.compile(r"^(sheep|goats?|cattle|cows?|horses?|camels?|yaks?)$", re.IGNORECASE)
HERD_TOTAL = re.compile(r"herd_su|^tlu$|herd_size|livestock_su|total_su", re.IGNORECASE)
# outcomes and shocks are not capacities: never guessed as pillar variables
NOT_CAPACITY = re.compile(r"loss|dzud|shock|mortality|death|rcsi|csi$|fies|food_insec", re.IGNORECASE)
NEGATIVE_PATTERN = re.compile(r"dist|_km$|distance|time_to|dependency", re.IGNORECASE)


@dataclass
class Guess:
    """A guessed spec with the reason for each column's role (or for leaving it out)."""

    id: str | None = None
    weight: str | None = None
    profiles: list = field(default_factory=list)
    pillars: dict = field(default_factory=dict)       # name -> [variables], >= 3 each
    short_pillars: dict = field(default_factory=dict)  # fewer than 3 guessed: not in the spec
    indicators: list = field(default_factory=list)
    negative: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)       # column -> why it has its role

    def spec_dict(self) -> dict:
        """The guess as the structure `rima.load_spec` takes (it may still be incomplete)."""
        data: dict = {"id": self.id or ""}
        if self.weight:
            data["weight"] = self.weight
        if self.profiles:
            data["profiles"] = list(self.profiles)
        out = {"data": data, "pillars": {k: list(v) for k, v in self.pillars.items()},
               "indicators": {"food_security": list(self.indicators)}, "options": {}}
        if self.negative:
            out["options"]["negative"] = list(self.negative)
        return out

    def role_of(self, column: str) -> str | None:
        if column == self.id:
            return "id"
        if column == self.weight:
            return "weight"
        if column in self.profiles:
            return "profile"
        if column in self.indicators:
            return "indicator"
        for name, vs in self.pillars.items():
            if column in vs:
                return f"pillar {name}"
        return None


def _numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s))


def guess_spec(df: pd.DataFrame) -> Guess:
    """Guess the roles of `df`'s columns from their names and types (see the module doc)."""
    g = Guess()
    cols = [str(c) for c in df.columns]
    lower = {c.lower(): c for c in cols}
    taken: set[str] = set()

    for name in ID_NAMES:
        if name in lower:
            g.id = lower[name]
            break
    if g.id is None:
        for c in cols:
            if c.lower().endswith("_id") or c.lower().startswith("hhid"):
                g.id = c
                break
    if g.id:
        taken.add(g.id)
        g.reasons[g.id] = "id: household identifier by its name"

    for c in cols:
        if c not in taken and WEIGHT_PATTERN.search(c) and _numeric(df[c]):
            g.weight = c
            taken.add(c)
            g.reasons[c] = "weight: sampling weight by its name"
            break

    for c in cols:
        if c not in taken and PROFILE_PATTERN.match(c):
            g.profiles.append(c)
            taken.add(c)
            g.reasons[c] = "profile: a group to report results by"

    for label, pattern in INDICATOR_PATTERNS:
        if label in [g.reasons.get(i, "")[len("indicator: "):] for i in g.indicators]:
            continue
        for c in cols:
            if c not in taken and pattern.search(c) and _numeric(df[c]):
                g.indicators.append(c)
                taken.add(c)
                g.reasons[c] = f"indicator: {label}"
                break

    has_total = any(HERD_TOTAL.search(c) for c in cols)
    guessed: dict[str, list[str]] = {p: [] for p in PILLAR_PATTERNS}
    for c in cols:
        if c in taken:
            continue
        if NOT_CAPACITY.search(c):
            g.reasons[c] = "left out: an outcome or shock, not a capacity"
            continue
        if has_total and SPECIES.match(c):
            g.reasons[c] = "left out: a species count; the herd total is used"
            continue
        # safety nets first: "herder_loan" is a loan, not a herd
        pillar = next((p for p in MATCH_ORDER if PILLAR_PATTERNS[p].search(c)), None)
        if pillar is None:
            continue
        if not _numeric(df[c]):
            g.reasons[c] = f"left out: looks like {pillar} but is not numeric"
            continue
        guessed[pillar].append(c)
        g.reasons[c] = f"pillar {pillar}: by its name"
        if NEGATIVE_PATTERN.search(c):
            g.negative.append(c)
            g.reasons[c] += "; negative (higher = less capacity)"
    for p, vs in guessed.items():
        if len(vs) >= MIN_PILLAR_VARIABLES:
            g.pillars[p] = vs
        elif vs:
            g.short_pillars[p] = vs
            g.negative = [v for v in g.negative if v not in vs]
            for v in vs:
                g.reasons[v] = (f"left out: pillar {p} has only {len(vs)} guessed variable(s); "
                                f"a pillar needs at least {MIN_PILLAR_VARIABLES}")
    return g


def option_defaults() -> list[tuple[str, object, str]]:
    """(key, default, help) for every [options] key; factor keys as "factor.<key>"."""
    d = Options().to_dict()
    rows = []
    for key in sorted(KNOWN_OPTIONS, key=lambda k: list(OPTION_HELP).index(k)
                      if k in OPTION_HELP else len(OPTION_HELP)):
        if key == "factor":
            for fk in FACTOR_KEYS:
                rows.append((f"factor.{fk}", d["factor"][fk], OPTION_HELP.get(f"factor.{fk}", "")))
        else:
            rows.append((key, d[key], OPTION_HELP.get(key, "")))
    return rows


# --- TOML ---------------------------------------------------------------------------------

def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as a TOML value")


def _key(k: str) -> str:
    return k if re.match(r"^[A-Za-z0-9_-]+$", k) else toml_value(k)


def to_toml(table: dict) -> str:
    """A spec dict (as `Spec.to_dict()` gives) as TOML text that `load_spec` reads back."""
    lines: list[str] = []

    def emit(prefix: str, t: dict):
        plain = {k: v for k, v in t.items() if not isinstance(v, dict)}
        subs = {k: v for k, v in t.items() if isinstance(v, dict)}
        if prefix and (plain or not subs):
            lines.append(f"[{prefix}]")
        for k, v in plain.items():
            lines.append(f"{_key(k)} = {toml_value(v)}")
        if prefix and (plain or not subs):
            lines.append("")
        for k, v in subs.items():
            emit(f"{prefix}.{_key(k)}" if prefix else _key(k), v)

    emit("", table)
    return "\n".join(lines).rstrip() + "\n"


def _wrap_list(key: str, values: list[str], width: int = 92) -> list[str]:
    """`key = [...]` wrapped over lines like the bundled spec."""
    head = f"{key} = ["
    out, line = [], head
    for i, v in enumerate(values):
        item = toml_value(v) + ("," if i < len(values) - 1 else "]")
        if len(line) + len(item) + 1 > width and line.strip() not in (head.strip(),):
            out.append(line.rstrip())
            line = " " * len(head) + item
        else:
            line += ("" if line.endswith("[") else " ") + item
    if not values:
        line += "]"
    out.append(line)
    return out


def starter_toml(df: pd.DataFrame, source: str | None = None, guess: Guess | None = None) -> str:
    """A commented starter spec for `df`: the guess, every column, every [options] key."""
    g = guess or guess_spec(df)
    L = ["# RIMA-II model spec guessed by `rima init` from "
         + (source or "a data frame") + f" ({len(df)} rows, {df.shape[1]} columns).",
         "# Every role below is a guess from column names: check each one before fitting.",
         "# Then: rima validate DATA --spec THIS_FILE, and rima fit DATA --spec THIS_FILE --out DIR",
         "#", "# Columns (type, missing cells, guessed role):"]
    width = max((len(str(c)) for c in df.columns), default=0)
    for c in df.columns:
        c = str(c)
        s = df[c]
        kind = "numeric" if _numeric(s) else "text"
        role = g.reasons.get(c, "not used")
        L.append(f"#   {c:<{width}}  {kind:<7}  {int(s.isna().sum()):>6} missing  {role}")
    L += ["", "[data]"]
    if g.id:
        L.append(f"id = {toml_value(g.id)}")
    else:
        L.append('id = ""  # TODO: no household id column was recognised; name it here')
    if g.weight:
        L.append(f"weight = {toml_value(g.weight)}")
    else:
        L.append('# weight = "hh_weight"  # sampling weight column, if the survey has one')
    if g.profiles:
        L.append(f"profiles = {toml_value(g.profiles)}")
    else:
        L.append('# profiles = ["soum"]  # columns to report results by')
    L += ["", "[pillars]", (f"# at least {MIN_PILLAR_VARIABLES} numeric variables each; "
                            "ABS access to basic services, AST assets, SSN social safety nets, "
                            "AC adaptive capacity")]
    for p, vs in g.pillars.items():
        L += _wrap_list(p, vs)
    for p, vs in g.short_pillars.items():
        L.append(f"# {p} = {toml_value(vs)}  # only {len(vs)} guessed; add variables to use it")
    for p in PILLAR_PATTERNS:
        if p not in g.pillars and p not in g.short_pillars:
            L.append(f"# {p} = []  # no variable recognised")
    L += ["", "[indicators]",
          f"# food-security outcomes of the MIMIC model (at least {MIN_INDICATORS})"]
    if len(g.indicators) >= MIN_INDICATORS:
        L.append(f"food_security = {toml_value(g.indicators)}")
    else:
        L.append(f"food_security = {toml_value(g.indicators)}  # TODO: add indicators "
                 "(e.g. fcs, hdds, log food expenditure)")
    L += ["", "[options]",
          "# every key with its default (the reference procedure); uncomment to change"]
    factor_rows = []
    for key, default, help_ in option_defaults():
        if key.startswith("factor."):
            factor_rows.append((key[len("factor."):], default, help_))
            continue
        if key == "anchor":
            continue
        if key == "negative" and g.negative:
            L.append(f"negative = {toml_value(g.negative)}  # guessed: {help_}")
            continue
        L.append(f"# {key} = {toml_value(default)}  # {help_}")
    L += ["", "# [options.factor]  # every pillar, unless [options.factor.PILLAR] overrides"]
    for key, default, help_ in factor_rows:
        L.append(f"# {key} = {toml_value(default)}  # {help_}")
    L += ["", f"# [options.anchor]  # {OPTION_HELP['anchor']}"]
    first = next(iter(g.pillars.items()), None)
    if first:
        plain = [v for v in first[1] if v not in g.negative] or list(first[1])
        L.append(f"# {first[0]} = {toml_value(plain[0])}")
    return "\n".join(L) + "\n"
