"""The spec's `[sources]` and `[build.<variable>]` tables → a validated `BuildSpec`.

    [sources]
    key = "hhid"                      # household key of every module (default "hhid")
    main = "households"               # the household table (default "households")
    missing_codes = [-99, -98]        # declared missing codes of every module
    households = "households.csv"     # a path (relative to the spec file) ...
    roster = { path = "roster.csv", key = "hh_id", missing_codes = [-9] }   # ... or a table

    [build.fcs]
    recipe = "fcs"
    source = "food"
    thresholds = [28, 42]

Every problem is reported at once, as `rima.spec.load_spec` does for the rest of a spec.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rima.build.catalog import (
    AE_SCALES,
    OPTION_KINDS,
    RECIPE_KINDS,
    RECIPES,
    REQUIRED,
    variable_inputs,
)
from rima.suggest import did_you_mean

SOURCE_SETTINGS = ("key", "main", "missing_codes")
SOURCE_KEYS = ("path", "key", "sheet", "missing_codes")


@dataclass(frozen=True)
class SourceSpec:
    name: str
    path: Path | None
    key: str
    missing_codes: tuple = ()
    sheet: str | int | None = None


@dataclass(frozen=True)
class Recipe:
    variable: str
    recipe: str
    options: Mapping[str, Any]
    given: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return {"recipe": self.recipe, **_plain(self.given)}


@dataclass(frozen=True)
class BuildSpec:
    """Validated sources and recipes (in build order: inputs before the variables using them)."""

    sources: Mapping[str, SourceSpec]
    main: str
    key: str
    missing_codes: tuple
    recipes: tuple[Recipe, ...]
    sources_table: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(r.variable for r in self.recipes)

    def recipe(self, variable: str) -> Recipe:
        for r in self.recipes:
            if r.variable == variable:
                return r
        raise KeyError(variable)

    def to_dict(self) -> dict:
        """{"sources": ..., "build": ...} as a spec file writes them."""
        return {"sources": _plain(self.sources_table),
                "build": {r.variable: r.to_dict() for r in self.recipes}}

    def with_fitted(self, fitted: Mapping[str, Mapping]) -> BuildSpec:
        """The same spec with learned constants (asset index weights, winsorising cut
        points) written into the recipes' `fitted` option, so a saved model scores new
        households with exactly the constants of the training build."""
        recipes = []
        for r in self.recipes:
            if r.variable in fitted:
                given = {**r.given, "fitted": dict(fitted[r.variable])}
                opts = {**r.options, "fitted": dict(fitted[r.variable])}
                r = Recipe(r.variable, r.recipe, MappingProxyType(opts), MappingProxyType(given))
            recipes.append(r)
        return BuildSpec(self.sources, self.main, self.key, self.missing_codes, tuple(recipes),
                         self.sources_table)


def parse_build(sources_t: Mapping | None, build_t: Mapping | None, base: Path | None,
                errors: list[str]) -> BuildSpec | None:
    """Parse the two tables, appending every problem to `errors`; None if neither is given."""
    if sources_t is None and build_t is None:
        return None
    sources_t = sources_t or {}
    build_t = build_t or {}
    if not isinstance(sources_t, Mapping):
        errors.append(f"[sources] must be a table, got {type(sources_t).__name__}")
        sources_t = {}
    if not isinstance(build_t, Mapping):
        errors.append(f"[build] must be a table of [build.<variable>] tables, got "
                      f"{type(build_t).__name__}")
        build_t = {}
    key = sources_t.get("key", "hhid")
    if not isinstance(key, str) or not key.strip():
        errors.append(f"[sources] key must be a column name, got {key!r}")
        key = "hhid"
    main = sources_t.get("main", "households")
    codes = _codes(sources_t.get("missing_codes", []), "[sources] missing_codes", errors)
    sources: dict[str, SourceSpec] = {}
    for name, value in sources_t.items():
        if name in SOURCE_SETTINGS:
            continue
        sources[str(name)] = _source(str(name), value, key, codes, base, errors)
    if build_t and not sources_t:
        errors.append("[build] needs a [sources] table naming the household table and modules")
    elif sources_t and main not in sources:
        errors.append(f"[sources] names no household table {main!r} (set main = \"<name>\" "
                      f"or add {main} = \"<file>\"){did_you_mean(main, sources)}")

    recipes: dict[str, Recipe] = {}
    for var, table in build_t.items():
        var = str(var)
        where = f"[build.{var}]"
        if not var.isidentifier():
            errors.append(f"{where}: the variable name must be an identifier")
        if not isinstance(table, Mapping):
            errors.append(f"{where} must be a table with recipe = \"<name>\"")
            continue
        name = table.get("recipe")
        if name not in RECIPES:
            known = ", ".join(sorted(RECIPES))
            errors.append(f"{where}: recipe {name!r} is not one of: {known}"
                          + did_you_mean(str(name), RECIPES))
            continue
        defaults = RECIPES[name]
        given = {k: v for k, v in table.items() if k != "recipe"}
        bad = [k for k in given if k not in defaults]
        for k in bad:
            errors.append(f"{where}: unknown option {k!r} for recipe {name}"
                          + did_you_mean(k, defaults))
        for k in REQUIRED.get(name, ()):
            if not given.get(k):
                errors.append(f"{where}: recipe {name} needs {k} = ...")
        opts = {**defaults, **{k: v for k, v in given.items() if k in defaults}}
        if not _check_options(name, opts, where, sources, errors):
            continue  # its inputs cannot be ordered, and the spec is refused anyway
        recipes[var] = Recipe(var, name, MappingProxyType(opts), MappingProxyType(given))

    order = _order(recipes, errors)
    return BuildSpec(MappingProxyType(sources), main, key, codes,
                     tuple(recipes[v] for v in order), MappingProxyType(dict(sources_t)))


def _source(name, value, key, codes, base, errors) -> SourceSpec:
    where = f"[sources] {name}"
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, Mapping):
        errors.append(f"{where} must be a file path or a table {{ path = ..., key = ... }}")
        return SourceSpec(name, None, key, codes)
    bad = [k for k in value if k not in SOURCE_KEYS]
    for k in bad:
        errors.append(f"{where}: unknown key {k!r} (known: {', '.join(SOURCE_KEYS)})")
    path = value.get("path")
    if path is not None and not isinstance(path, str):
        errors.append(f"{where}: path must be a string")
        path = None
    if path is not None:
        path = Path(path)
        if base is not None and not path.is_absolute():
            path = base / path
    k = value.get("key", key)
    if not isinstance(k, str) or not k.strip():
        errors.append(f"{where}: key must be a column name, got {k!r}")
        k = key
    own = _codes(value["missing_codes"], f"{where} missing_codes", errors) if (
        "missing_codes" in value) else codes
    sheet = value.get("sheet")
    # a worksheet's name, or its position from 0 (true would read as position 1)
    if sheet is not None and not (isinstance(sheet, str) or (
            isinstance(sheet, int) and not isinstance(sheet, bool) and sheet >= 0)):
        errors.append(f"{where}: sheet must be a worksheet's name or its position from 0, "
                      f"got {sheet!r}")
        sheet = None
    return SourceSpec(name, path, k, own, sheet)


def _codes(value, where, errors) -> tuple:
    if not isinstance(value, (list, tuple)):
        errors.append(f"{where} must be a list of values, e.g. [-99, -98]")
        return ()
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            errors.append(f"{where}: {v!r} is not a number or text")
        else:
            out.append(v)
    return tuple(out)


def _check_options(name, opts, where, sources, errors) -> bool:
    """Append the problems of a recipe's options to `errors`; False if one is not of its
    kind (the checks of values below skip those options)."""
    kinds = {**OPTION_KINDS, **RECIPE_KINDS.get(name, {})}
    bad = set()
    for k, v in opts.items():
        kind = kinds.get(k)
        if kind is not None and not KINDS[kind][0](v):
            errors.append(f"{where}: {k} must be {KINDS[kind][1]}, got {v!r}")
            bad.add(k)
    ok = {k: v for k, v in opts.items() if k not in bad}
    src = ok.get("source")
    if src is not None and sources and src not in sources:
        errors.append(f"{where}: source {src!r} is not in [sources]" + did_you_mean(src, sources))
    own = ok.get("own_source")
    if own is not None and sources and own not in sources:
        errors.append(f"{where}: own_source {own!r} is not in [sources]"
                      + did_you_mean(own, sources))
    if name == "fcs":
        t = opts["thresholds"]
        if "thresholds" not in bad and not (len(t) == 2 and t[0] < t[1]):
            errors.append(f"{where}: thresholds must be two increasing numbers, e.g. [21, 35] "
                          f"or [28, 42], got {t!r}")
        if "output" not in bad and opts["output"] not in ("score", "class"):
            errors.append(f"{where}: output must be \"score\" or \"class\", got {opts['output']!r}")
        # labels are the categories of the class: pandas needs them distinct
        if "labels" not in bad and len({str(x) for x in opts["labels"]}) != 3:
            errors.append(f"{where}: labels must name 3 different classes (poor, borderline, "
                          f"acceptable), got {opts['labels']!r}")
    if "layout" in ok and ok["layout"] not in ("long", "wide"):
        errors.append(f"{where}: layout must be \"long\" or \"wide\", got {opts['layout']!r}")
    if "units" in opts:
        u = opts["units"]
        if not (isinstance(u, Mapping) or u in ("sheep_units", "tlu")):
            errors.append(f"{where}: units must be \"sheep_units\", \"tlu\" or a table "
                          f"{{species = units}}, got {u!r}")
        elif isinstance(u, Mapping) and not all(_num(x) and x >= 0 for x in u.values()):
            errors.append(f"{where}: units must be 0 or more per animal of each species, "
                          f"got {dict(u)!r}")
    # the species columns are the herd at the start: read as the losses too, every
    # household would have lost its whole herd
    if name == "dzud_loss" and ok.get("layout") == "wide" and not opts["lost_columns"]:
        errors.append(f"{where}: lost_columns must be given for layout = \"wide\": a table "
                      f"{{sheep = \"<column of sheep lost>\", ...}}, other columns than the "
                      f"species columns (the herd at the start of winter)")
    if name == "adult_equivalents":
        if "scale" not in bad and opts["scale"] not in AE_SCALES:
            errors.append(f"{where}: scale must be oecd_modified, oecd or per_capita, got "
                          f"{opts['scale']!r}")
        w = opts["weights"]
        if "weights" not in bad and w and len(w) != 3:
            errors.append(f"{where}: weights must be [first adult, other adults, children]")
    elif "weights" in ok and not all(_num(x) for x in ok["weights"].values()):
        errors.append(f"{where}: weights must be (finite) numbers, got {dict(ok['weights'])!r}")
    if "working_ages" in ok:
        a = ok["working_ages"]
        if not (len(a) == 2 and a[0] < a[1]):
            errors.append(f"{where}: working_ages must be two increasing ages, e.g. [15, 64], "
                          f"got {a!r}")
    top = ok.get("max_age") if _num(ok.get("max_age")) else None
    for k in ("adult_age", "young_below", "old_above"):
        if k in ok and top is not None and not 0 <= ok[k] <= top:
            errors.append(f"{where}: {k} must be an age from 0 to max_age ({top:g}), "
                          f"got {ok[k]!r}")
    if name == "cap" and _num(ok.get("lower")) and _num(ok.get("upper")) and (
            ok["lower"] > ok["upper"]):
        errors.append(f"{where}: lower must not be above upper, got lower = {ok['lower']!r}, "
                      f"upper = {ok['upper']!r}")
    if name == "winsorize" and "lower_quantile" in ok and "upper_quantile" in ok:
        lo, hi = opts["lower_quantile"], opts["upper_quantile"]
        if not 0 <= lo < hi <= 1:
            errors.append(f"{where}: need 0 <= lower_quantile < upper_quantile <= 1")
    for k in ("max_days", "period_days", "own_period_days", "max_age"):
        if k in ok and not ok[k] > 0:
            errors.append(f"{where}: {k} must be a positive number, got {opts[k]!r}")
    return not bad


def _num(x) -> bool:
    # TOML has nan and inf: no option means anything with them
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _text(x) -> bool:
    return isinstance(x, str)


def _list(x, item) -> bool:
    return isinstance(x, (list, tuple)) and all(item(v) for v in x)


def _scalar(x) -> bool:
    return _num(x) or isinstance(x, (str, bool))


# option kinds (catalog.OPTION_KINDS): (test, what the error message says it must be)
KINDS = {
    "name": (_text, "a name (text)"),
    "name?": (lambda x: x is None or _text(x), "a name (text)"),
    "text": (_text, "text"),
    "number": (_num, "a (finite) number"),
    "number?": (lambda x: x is None or _num(x), "a (finite) number"),
    "bool": (lambda x: isinstance(x, bool), "true or false"),
    "code": (lambda x: _num(x) or _text(x), "a number or text"),
    "value?": (lambda x: x is None or _scalar(x), "a number or text"),
    "numbers": (lambda x: _list(x, _num), "a list of numbers"),
    "codes": (lambda x: _list(x, lambda v: _num(v) or _text(v)), "a list of numbers or texts"),
    "names": (lambda x: _list(x, _text), 'a list of names, e.g. ["a", "b"]'),
    "names_or_name": (lambda x: _text(x) or _list(x, _text), "a column name or a list of them"),
    "columns": (lambda x: isinstance(x, Mapping) or _list(x, _text),
                "a list of column names or a table {name = \"column\"}"),
    "table": (lambda x: isinstance(x, Mapping), "a table {name = value}"),
    "renames": (lambda x: isinstance(x, Mapping) and all(map(_text, x.values())),
                "a table {name = \"species\"}"),
    "lookup": (lambda x: isinstance(x, Mapping) and all(map(_scalar, x.values())),
               "a table {\"code\" = value} of numbers or texts"),
}


def _order(recipes: dict[str, Recipe], errors) -> list[str]:
    """Build order: a variable after the built variables it reads; cycles are errors."""
    # a variable reading its own name reads the household column (then a name clash,
    # reported when the household table is known), not itself; without that column the
    # recipe reports reading itself (rima.build.recipes.transforms)
    deps = {v: [d for d in variable_inputs(r.recipe, dict(r.options)) if d in recipes and d != v]
            for v, r in recipes.items()}
    order, state = [], {}

    def visit(v, path):
        if state.get(v) == 2:
            return
        if state.get(v) == 1:
            cycle = " -> ".join([*path[path.index(v):], v])
            errors.append(f"[build] variables depend on each other in a cycle: {cycle}")
            return
        state[v] = 1
        for d in deps[v]:
            visit(d, [*path, v])
        state[v] = 2
        order.append(v)

    for v in recipes:
        visit(v, [])
    return order


def _plain(x):
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    return x
