"""The model spec: which columns play which role.

A spec is a TOML file (or the same structure as a dict)::

    [data]
    id = "hhid"
    weight = "hh_weight"            # optional
    profiles = ["soum", "head_sex"] # optional, for results by group
    sheet = "households"            # optional: Excel worksheet (name or 0-based position)
    sep = ";"                       # optional: CSV separator (default: detected)
    decimal = ","                   # optional: CSV decimal mark (default: detected)

    [pillars]                       # order is kept: it is the order of results
    ABS = ["dist_soum_km", ...]
    AST = ["herd_su", ...]
    SSN = ["social_insurance", ...]
    AC  = ["head_edu_years", ...]

    [indicators]                    # one group, its name is free
    food_security = ["fcs", "log_food_exp_ae", "hdds"]

    [options]                       # see rima.options; unknown keys are errors

    [sources]                       # optional: raw survey modules (docs/build.md)
    households = "households.csv"
    roster = "roster.csv"
    [build.fcs]                     # variables built from them, usable above
    recipe = "fcs"

`load_spec` reports every problem it finds in one `SpecError` rather than the first only,
so a spec can be fixed in one pass.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rima.errors import SpecError
from rima.options import Options, parse_options
from rima.suggest import did_you_mean

TOP_LEVEL_KEYS = ("data", "pillars", "indicators", "options", "sources", "build")
DATA_KEYS = ("id", "weight", "profiles", "sheet", "sep", "decimal")
MIN_PILLAR_VARIABLES = 3
MIN_INDICATORS = 2
# Columns rima writes next to the id and the pillar scores (scores, row status, the
# service's class): an id or a pillar called so would be overwritten or lose its values.
OUTPUT_NAMES = frozenset({"RCI", "RCI_100", "status", "out_of_range", "row", "class"})
# a pillar is also refused the name "id", the id column's name when it has none
RESERVED_NAMES = OUTPUT_NAMES | {"id"}


@dataclass(frozen=True)
class Spec:
    """A validated model spec (frozen); made by `rima.load_spec`.

    Attributes
    ----------
    id : str
        Household id column.
    pillars : Mapping[str, tuple of str]
        {pillar name: variables}, in the spec's order.
    indicators : tuple of str
        Food-security indicator variables.
    indicator_group : str
        The name of the indicator group (e.g. "food_security").
    weight : str or None
        Sampling weight column.
    profiles : tuple of str
        Columns to break results down by.
    sheet, sep, decimal : optional
        How to read the data file (Excel worksheet, CSV separator and decimal mark).
    options : rima.options.Options
        The validated ``[options]`` table.
    source : Path or None
        The file the spec came from.
    options_table : Mapping
        The ``[options]`` table as written.
    build : rima.build.spec.BuildSpec or None
        ``[sources]`` and ``[build.<variable>]``.

    Examples
    --------
    >>> spec = rima.load_spec({"data": {"id": "hhid"},
    ...                        "pillars": {"ABS": ["income", "crops", "milk"],
    ...                                    "AST": ["herd", "hay", "shelter"]},
    ...                        "indicators": {"food_security": ["fcs", "hdds"]}})
    >>> spec.pillar_names
    ('ABS', 'AST')
    >>> spec.variables
    ('income', 'crops', 'milk', 'herd', 'hay', 'shelter', 'fcs', 'hdds')
    """

    id: str
    pillars: Mapping[str, tuple[str, ...]]
    indicators: tuple[str, ...]
    indicator_group: str = "food_security"
    weight: str | None = None
    profiles: tuple[str, ...] = ()
    sheet: str | int | None = None
    sep: str | None = None
    decimal: str | None = None
    options: Options = field(default_factory=Options)
    source: Path | None = None
    options_table: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # [sources] and [build.<variable>] (rima.build.spec.BuildSpec), or None
    build: Any = None

    def with_build(self, build: Any) -> Spec:
        """The same spec with another BuildSpec (e.g. one holding learned constants).

        Parameters
        ----------
        build : rima.build.spec.BuildSpec or None
            The ``[sources]`` / ``[build.<variable>]`` part to use.

        Returns
        -------
        Spec
            A copy of this spec with `build` replaced.
        """
        from dataclasses import replace

        return replace(self, build=build)

    @property
    def pillar_names(self) -> tuple[str, ...]:
        """The pillar names, in the spec's order."""
        return tuple(self.pillars)

    @property
    def pillar_variables(self) -> tuple[str, ...]:
        """Every pillar variable, pillar by pillar in the spec's order."""
        return tuple(v for vs in self.pillars.values() for v in vs)

    @property
    def variables(self) -> tuple[str, ...]:
        """Every analysis variable: pillar variables in order, then the indicators.

        The reference procedure deletes a row listwise if any of these is missing.
        """
        return self.pillar_variables + self.indicators

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        """Columns that must be numeric: the analysis variables and the weight."""
        return self.variables + ((self.weight,) if self.weight else ())

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Every column the spec names, without repeats, in a stable order."""
        cols = [self.id, *((self.weight,) if self.weight else ()), *self.profiles, *self.variables]
        return tuple(dict.fromkeys(cols))

    def pillar_of(self, variable: str) -> str | None:
        """The pillar a variable belongs to.

        Parameters
        ----------
        variable : str
            A column name.

        Returns
        -------
        str or None
            The pillar's name, or None when `variable` is in no pillar.
        """
        for name, vs in self.pillars.items():
            if variable in vs:
                return name
        return None

    def missing_columns(self, columns: Iterable[Any]) -> list[str]:
        """The spec's required columns absent from `columns`.

        Parameters
        ----------
        columns : iterable
            Column names of the data (compared as strings).

        Returns
        -------
        list of str
            The missing columns, in `required_columns` order.
        """
        present = set(map(str, columns))
        return [c for c in self.required_columns if c not in present]

    def check_columns(self, columns: Iterable[Any], source: str | None = None) -> None:
        """Raise a SpecError listing every spec column absent from `columns`.

        Parameters
        ----------
        columns : iterable
            Column names of the data.
        source : str, optional
            The data's file name, for the message.

        Raises
        ------
        SpecError
            One or more columns are missing; the message names each with its role and
            near matches among `columns`.
        """
        columns = [str(c) for c in columns]
        missing = self.missing_columns(columns)
        if not missing:
            return
        where = f" {source}" if source else " the data"
        lines = [f"{len(missing)} column(s) named in the spec are not in{where}:"]
        for name in missing:
            lines.append(f"  {name} ({self._role(name)}){did_you_mean(name, columns)}")
        raise SpecError(_prefix(self.source, "\n".join(lines)))

    def _role(self, name: str) -> str:
        if name == self.id:
            return "id"
        if name == self.weight:
            return "weight"
        pillar = self.pillar_of(name)
        if pillar:
            return f"pillar {pillar}"
        if name in self.indicators:
            return f"indicator {self.indicator_group}"
        return "profile"

    def to_dict(self) -> dict:
        """The spec as the plain structure `load_spec` accepts.

        Returns
        -------
        dict
            TOML tables as dicts: ``data``, ``pillars``, ``indicators``, ``options`` (and
            the build tables when present).
        """
        data: dict[str, Any] = {"id": self.id}
        if self.weight:
            data["weight"] = self.weight
        if self.profiles:
            data["profiles"] = list(self.profiles)
        for key in ("sheet", "sep", "decimal"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        out = {
            "data": data,
            "pillars": {k: list(v) for k, v in self.pillars.items()},
            "indicators": {self.indicator_group: list(self.indicators)},
            "options": dict(self.options_table),
        }
        if self.build is not None:
            out.update(self.build.to_dict())
        return out


def load_spec(spec: str | Path | Mapping[str, Any] | Spec) -> Spec:
    """Load and validate a model spec.

    Parameters
    ----------
    spec : str, Path, dict or Spec
        A TOML file, the same tables as a dict, or a `Spec` (returned unchanged).

    Returns
    -------
    Spec
        The validated, frozen spec.

    Raises
    ------
    SpecError
        The file is missing or not TOML, or a table, column role or option is invalid;
        the message names the key at fault.

    Examples
    --------
    >>> spec = rima.load_spec({"data": {"id": "hhid", "weight": "w"},
    ...                        "pillars": {"ABS": ["income", "crops", "milk"],
    ...                                    "AST": ["herd", "hay", "shelter"]},
    ...                        "indicators": {"food_security": ["fcs", "hdds"]}})
    >>> spec.numeric_columns
    ('income', 'crops', 'milk', 'herd', 'hay', 'shelter', 'fcs', 'hdds', 'w')
    """
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Mapping):
        return _from_dict(spec, None)
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        if not path.exists():
            raise SpecError(f"{path}: spec file not found")
        if path.is_dir():
            raise SpecError(f"{path}: is a directory, expected a TOML spec file")
        try:
            # utf-8-sig: Windows Notepad starts a UTF-8 file with a byte-order mark
            table = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{path}: not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            head = path.read_bytes()[:2]
            if head in (b"\xff\xfe", b"\xfe\xff"):  # Notepad's "Unicode" is UTF-16
                raise SpecError(f"{path}: saved as UTF-16; save the spec as UTF-8 (in "
                                "Notepad: Save As, Encoding UTF-8)") from None
            raise SpecError(f"{path}: not a UTF-8 text file: {exc}") from exc
        return _from_dict(table, path)
    raise SpecError(
        f"a spec must be a TOML file path, a dict or a rima.spec.Spec, not {type(spec).__name__}"
    )


def _from_dict(table: Mapping, source: Path | None) -> Spec:
    errors: list[str] = []

    unknown = [k for k in table if k not in TOP_LEVEL_KEYS]
    if unknown:
        errors.append(
            f"unknown top-level key(s): {', '.join(map(str, unknown))} "
            f"(known: {', '.join(TOP_LEVEL_KEYS)})"
        )
    data = _table(table, "data", errors, required=True)
    pillars_t = _table(table, "pillars", errors, required=True)
    indicators_t = _table(table, "indicators", errors, required=True)
    options_t = _table(table, "options", errors, required=False)

    # [data]
    unknown = [k for k in data if k not in DATA_KEYS]
    if unknown:
        errors.append(
            f"unknown key(s) in [data]: {', '.join(map(str, unknown))}"
            f" (known: {', '.join(DATA_KEYS)})"
        )
    id_col = data.get("id")
    if "data" in table and "id" not in data:
        errors.append("[data] needs id = \"<household id column>\"")
    elif id_col is not None and not _is_name(id_col):
        errors.append(f"[data] id must be a column name (a non-empty string), got {id_col!r}")
    weight = data.get("weight")
    if weight is not None and not _is_name(weight):
        errors.append(f"[data] weight must be a column name (a non-empty string), got {weight!r}")
    profiles = data.get("profiles", [])
    if isinstance(profiles, str):
        profiles = [profiles]
    profiles = _names(profiles, "[data] profiles", errors)
    sheet = data.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)
                              or (isinstance(sheet, int) and sheet < 0)):
        errors.append(f"[data] sheet must be a worksheet name or a 0-based position, "
                      f"got {sheet!r}")
    sep, decimal = data.get("sep"), data.get("decimal")
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1):
        errors.append(f"[data] sep must be one character (\",\", \";\", \"\\t\"), got {sep!r}")
    if decimal is not None and decimal not in (".", ","):
        errors.append(f"[data] decimal must be \".\" or \",\", got {decimal!r}")

    # [pillars]
    pillars: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    if "pillars" in table and not pillars_t:
        errors.append("[pillars] is empty; name at least one pillar with its variables")
    for name, variables in pillars_t.items():
        name = str(name)
        if not name.isidentifier():
            errors.append(f"pillar name {name!r} must be an identifier (letters, digits, _)")
        elif name in RESERVED_NAMES:
            errors.append(f"pillar name {name!r} is reserved for an output column "
                          f"({', '.join(sorted(RESERVED_NAMES))}); choose another name")
        vs = _names(variables, f"pillar {name}", errors)
        for v in vs:
            if v in seen and seen[v] != name:
                errors.append(f"variable {v!r} is in two pillars: {seen[v]} and {name}")
            seen.setdefault(v, name)
        if len(vs) < MIN_PILLAR_VARIABLES:
            errors.append(
                f"pillar {name} has {len(vs)} variable(s); a pillar needs at least "
                f"{MIN_PILLAR_VARIABLES} (the reference procedure refuses fewer)"
            )
        pillars[name] = vs

    # [indicators]
    group, indicators = "food_security", ()
    if "indicators" in table:
        if len(indicators_t) != 1:
            errors.append(
                "[indicators] must hold exactly one group, e.g. food_security = "
                f"[\"fcs\", \"log_food_exp_ae\", \"hdds\"]; found {len(indicators_t)}: "
                + ", ".join(map(str, indicators_t))
            )
        if indicators_t:
            group, raw = next(iter(indicators_t.items()))
            group = str(group)
            indicators = _names(raw, f"indicator group {group}", errors)
            if len(indicators) < MIN_INDICATORS:
                errors.append(
                    f"indicator group {group} has {len(indicators)} variable(s); the MIMIC "
                    f"model needs at least {MIN_INDICATORS}"
                )
            for v in indicators:
                if v in seen:
                    errors.append(
                        f"variable {v!r} is both an indicator and in pillar {seen[v]}; "
                        "food-security outcomes cannot also be capacities"
                    )

    # roles that must not overlap
    for role, col in (("id", id_col), ("weight", weight)):
        if isinstance(col, str) and col:
            if col in seen:
                errors.append(f"{role} column {col!r} is also in pillar {seen[col]}")
            if col in indicators:
                errors.append(f"{role} column {col!r} is also an indicator")
    if isinstance(id_col, str) and id_col in OUTPUT_NAMES:
        errors.append(f"id column {id_col!r} has the name of an output column "
                      f"({', '.join(sorted(OUTPUT_NAMES))}); rename it in the data and the "
                      "spec")
    if isinstance(id_col, str) and id_col and id_col == weight:
        errors.append(f"column {id_col!r} cannot be both the id and the weight")
    for name in pillars:
        if name in seen or name in indicators or name in (id_col, weight):
            errors.append(
                f"pillar name {name!r} is also a column name in the spec; pillar scores "
                "would overwrite it"
            )

    build = None
    if "sources" in table or "build" in table:
        from rima.build.spec import parse_build

        build = parse_build(table.get("sources"), table.get("build"),
                            source.parent if source is not None else None, errors)

    options = Options()
    if not errors:
        try:
            options = parse_options(options_t)
        except SpecError as exc:
            errors.append(str(exc))
    if not errors:
        # options naming what the spec lacks (negative = ["nonexistent"], weights without a
        # weight column) are refused here, so `validate` and `fit` give the same answer
        probe = Spec(id=id_col, pillars=MappingProxyType(pillars), indicators=indicators,
                     indicator_group=group, weight=weight, profiles=profiles)
        try:
            options.check_spec(probe)
        except SpecError as exc:
            errors.append(str(exc))

    if errors:
        if len(errors) == 1:
            raise SpecError(_prefix(source, f"invalid spec: {errors[0]}"))
        listed = "\n".join(f"  - {e}" for e in errors)
        raise SpecError(_prefix(source, f"invalid spec ({len(errors)} problems):\n{listed}"))

    return Spec(
        id=id_col,
        pillars=MappingProxyType(pillars),
        indicators=indicators,
        indicator_group=group,
        weight=weight,
        profiles=profiles,
        sheet=sheet,
        sep=sep,
        decimal=decimal,
        options=options,
        source=source,
        options_table=MappingProxyType(dict(options_t)),
        build=build,
    )


def _table(table: Mapping, key: str, errors: list[str], required: bool) -> Mapping:
    if key not in table:
        if required:
            errors.append(f"missing [{key}] table")
        return {}
    value = table[key]
    if not isinstance(value, Mapping):
        errors.append(f"[{key}] must be a table, got {type(value).__name__}")
        return {}
    return value


def _is_name(x) -> bool:
    return isinstance(x, str) and x.strip() != ""


def _names(values, where: str, errors: list[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        errors.append(f"{where} must be a list of column names, got {values!r}")
        return ()
    out = []
    for v in values:
        if not _is_name(v):
            errors.append(f"{where}: {v!r} is not a column name")
        elif v in out:
            errors.append(f"{where} lists {v!r} twice")
        else:
            out.append(v)
    return tuple(out)


def _prefix(source: Path | None, message: str) -> str:
    return f"{source}: {message}" if source else message
