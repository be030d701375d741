"""The spec's `[options]` table: validated analysis options.

Defaults reproduce the reference procedure (FAO's Shiny RIMA tool, R psych + lavaan),
except the pillars' orientation (`orientation = "reference"` restores that too)::

    [options]
    orientation = "capacity"        # "capacity": higher pillar = more capacity (anchor, then
                                    # food security, then the variables; docs/orientation.md);
                                    # "reference": psych's sign convention as Shiny RIMA
    seed = 0                        # parallel-analysis retention and anything random
    negative = ["dist_soum_km"]     # reversed before the factor analysis (higher = worse)
    missing = "listwise"            # "listwise" (reference: over every analysis variable),
                                    # "pillar" (each pillar on its own complete rows),
                                    # "fiml" (pillars listwise, indicators by FIML),
                                    # "all_columns" (Shiny RIMA: a gap in ANY column of
                                    # the data deletes the row)
    weights = false                 # true: weighted correlations, MIMIC and profiles
    rci_prediction = "regression"   # "regression" (lavPredict default), "bartlett", "causes"
    rsm = "correlation"             # "correlation" shares or "std_coefficient" shares
    rci_100 = "minmax"              # training min-max, or [low, high] fixed RCI values
    mimic_se = "robust.sem"         # "standard", "robust.sem", "robust.huber.white"

    [options.factor]                # every pillar ...
    extraction = "pa"               # pa, pf, minres, ml, pca
    retention = "cumvar95"          # cumvar95, kaiser, parallel, or a number of factors
    scores = "bartlett"             # bartlett, regression
    rotation = "none"
    smc = false
    heywood = "warn"

    [options.factor.AST]            # ... unless a pillar overrides some settings
    retention = 1

    [options.anchor]                # flip a pillar so it correlates positively with a
    ABS = "mobile_coverage"         # named variable ("-name": negatively)

Unknown keys are errors with near-match suggestions. Names of pillars and variables in
`negative`, `anchor` and per-pillar factor tables are checked against the spec by
`Options.check_spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rima.errors import SpecError
from rima.suggest import did_you_mean

FACTOR_KEYS = ("extraction", "retention", "scores", "rotation", "smc", "heywood")
EXTRACTIONS = ("pa", "pf", "minres", "ml", "pca")
RETENTION_RULES = ("cumvar95", "kaiser", "parallel")
SCORE_TYPES = ("bartlett", "regression")
ROTATIONS = ("none", "varimax", "promax", "oblimin")
HEYWOOD = ("warn", "bound", "error")
MISSING = ("listwise", "pillar", "fiml", "all_columns")
PREDICTIONS = ("regression", "bartlett", "causes")
RSM_KINDS = ("correlation", "std_coefficient")
MIMIC_SE = ("standard", "robust.sem", "robust.huber.white")
ORIENTATIONS = ("capacity", "reference")

KNOWN_OPTIONS: frozenset[str] = frozenset({
    "seed", "negative", "missing", "weights", "rci_prediction", "rsm", "rci_100", "mimic_se",
    "factor", "anchor", "orientation",
})


@dataclass(frozen=True)
class FactorSettings:
    """Factor-analysis settings of one pillar (passed to `rima.factor.FactorAnalysis`)."""

    extraction: str = "pa"
    retention: str | int = "cumvar95"
    scores: str = "bartlett"
    rotation: str = "none"
    smc: bool = False
    heywood: str = "warn"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in FACTOR_KEYS}


@dataclass(frozen=True)
class Options:
    """Validated `[options]`; the defaults are the reference procedure."""

    seed: int = 0
    negative: tuple[str, ...] = ()
    missing: str = "listwise"
    weights: bool = False
    rci_prediction: str = "regression"
    rsm: str = "correlation"
    rci_100: tuple[float, float] | None = None  # None: training min-max
    mimic_se: str = "robust.sem"
    factor: FactorSettings = field(default_factory=FactorSettings)
    pillar_factor: Mapping[str, FactorSettings] = field(default_factory=dict)
    anchor: Mapping[str, str] = field(default_factory=dict)
    orientation: str = "capacity"

    def factor_settings(self, pillar: str) -> FactorSettings:
        return self.pillar_factor.get(pillar, self.factor)

    def anchor_of(self, pillar: str) -> tuple[str, int] | None:
        """(variable, wanted sign of the correlation) or None."""
        a = self.anchor.get(pillar)
        if a is None:
            return None
        return (a[1:], -1) if a.startswith("-") else (a, 1)

    def check_spec(self, spec) -> None:
        """Raise SpecError if options name pillars or variables the spec does not have."""
        errors = []
        variables = list(spec.pillar_variables)
        for v in self.negative:
            if v not in variables:
                errors.append(f"negative: {v!r} is not a pillar variable{did_you_mean(v, variables)}")
        pillars = list(spec.pillar_names)
        for p in self.pillar_factor:
            if p not in pillars:
                errors.append(f"[options.factor.{p}]: no pillar {p!r}{did_you_mean(p, pillars)}")
        candidates = list(spec.required_columns)
        for p in self.anchor:
            if p not in pillars:
                errors.append(f"[options.anchor] {p}: no pillar {p!r}{did_you_mean(p, pillars)}")
                continue
            v, _ = self.anchor_of(p)
            if v not in candidates:
                errors.append(f"[options.anchor] {p} = {self.anchor[p]!r}: no column {v!r} in "
                              f"the spec{did_you_mean(v, candidates)}")
        if self.weights and not spec.weight:
            errors.append("weights = true needs a weight column: set [data] weight")
        if errors:
            raise SpecError("invalid [options]: " + "; ".join(errors))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "seed": self.seed, "negative": list(self.negative), "missing": self.missing,
            "weights": self.weights, "rci_prediction": self.rci_prediction, "rsm": self.rsm,
            "rci_100": "minmax" if self.rci_100 is None else list(self.rci_100),
            "mimic_se": self.mimic_se, "orientation": self.orientation,
        }
        fac = self.factor.to_dict()
        for p, s in self.pillar_factor.items():
            fac[p] = {k: v for k, v in s.to_dict().items() if v != getattr(self.factor, k)}
        out["factor"] = fac
        out["anchor"] = dict(self.anchor)
        return out


def _choice(table, key, allowed, default, errors):
    v = table.get(key, default)
    if v not in allowed:
        hint = did_you_mean(v, allowed) if isinstance(v, str) else ""
        errors.append(f"{key} = {v!r} is not one of {', '.join(allowed)}{hint}")
        return default
    return v


def _factor(table: Mapping, base: FactorSettings, where: str, errors) -> FactorSettings:
    vals = base.to_dict()
    for k, v in table.items():
        if k not in FACTOR_KEYS:
            errors.append(f"unknown key {where}.{k}{did_you_mean(k, FACTOR_KEYS)}")
            continue
        if k == "retention":
            ok = (isinstance(v, int) and not isinstance(v, bool) and v >= 1) or v in RETENTION_RULES
            if not ok:
                errors.append(f"{where}.retention = {v!r}: use a number of factors (>= 1) or "
                              f"one of {', '.join(RETENTION_RULES)}")
                continue
        elif k == "smc":
            if not isinstance(v, bool):
                errors.append(f"{where}.smc must be true or false, got {v!r}")
                continue
        else:
            allowed = {"extraction": EXTRACTIONS, "scores": SCORE_TYPES, "rotation": ROTATIONS,
                       "heywood": HEYWOOD}[k]
            if v not in allowed:
                hint = did_you_mean(v, allowed) if isinstance(v, str) else ""
                errors.append(f"{where}.{k} = {v!r} is not one of {', '.join(allowed)}{hint}")
                continue
        vals[k] = v
    s = FactorSettings(**vals)
    if s.extraction == "pca" and s.scores == "bartlett":
        errors.append(f"{where}: extraction = \"pca\" needs scores = \"regression\" "
                      "(components have no uniquenesses for Bartlett scores)")
    return s


def parse_options(table: dict | None) -> Options:
    """Validate the `[options]` table; every problem is reported in one SpecError."""
    table = dict(table or {})
    errors: list[str] = []
    for k in sorted(set(table) - KNOWN_OPTIONS):
        errors.append(f"unknown key {k!r}{did_you_mean(k, sorted(KNOWN_OPTIONS))}")

    seed = table.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        errors.append(f"seed must be a non-negative integer, got {seed!r}")
        seed = 0

    negative = table.get("negative", [])
    if isinstance(negative, str):
        negative = [negative]
    if not isinstance(negative, (list, tuple)) or not all(isinstance(v, str) for v in negative):
        errors.append(f"negative must be a list of variable names, got {negative!r}")
        negative = []
    dup = sorted({v for v in negative if list(negative).count(v) > 1})
    if dup:
        errors.append(f"negative lists {', '.join(dup)} more than once")

    missing = _choice(table, "missing", MISSING, "listwise", errors)
    weights = table.get("weights", False)
    if not isinstance(weights, bool):
        errors.append(f"weights must be true or false, got {weights!r}")
        weights = False
    pred = _choice(table, "rci_prediction", PREDICTIONS, "regression", errors)
    rsm = _choice(table, "rsm", RSM_KINDS, "correlation", errors)
    se = _choice(table, "mimic_se", MIMIC_SE, "robust.sem", errors)
    orientation = _choice(table, "orientation", ORIENTATIONS, "capacity", errors)

    scale = table.get("rci_100", "minmax")
    rci_100 = None
    if scale != "minmax":
        from rima._kernels.rci_scale import scale_problem

        ok = isinstance(scale, (list, tuple)) and len(scale) == 2
        why = scale_problem(*scale) if ok else None
        if ok and why is None:
            rci_100 = (float(scale[0]), float(scale[1]))
        elif ok:
            errors.append(f"rci_100 = {list(scale)!r} is not a usable [low, high] with "
                          f"low < high: {why}")
        else:
            errors.append(f"rci_100 must be \"minmax\" or [low, high] with low < high, "
                          f"got {scale!r}")

    fac_t = table.get("factor", {})
    base, per = FactorSettings(), {}
    if not isinstance(fac_t, Mapping):
        errors.append(f"[options.factor] must be a table, got {fac_t!r}")
    else:
        base = _factor({k: v for k, v in fac_t.items() if not isinstance(v, Mapping)},
                       base, "factor", errors)
        for p, sub in fac_t.items():
            if isinstance(sub, Mapping):
                per[str(p)] = _factor(sub, base, f"factor.{p}", errors)

    anchor_t = table.get("anchor", {})
    anchor = {}
    if not isinstance(anchor_t, Mapping):
        errors.append(f"[options.anchor] must be a table of pillar = \"variable\", got {anchor_t!r}")
    else:
        for p, v in anchor_t.items():
            if not isinstance(v, str) or v.strip("-") == "":
                errors.append(f"anchor.{p} must be a column name (\"-name\" for a negative "
                              f"anchor), got {v!r}")
            else:
                anchor[str(p)] = v

    if errors:
        raise SpecError("[options]: " + "; ".join(errors))
    return Options(seed=seed, negative=tuple(negative), missing=missing, weights=weights,
                   rci_prediction=pred, rsm=rsm, rci_100=rci_100, mimic_se=se, factor=base,
                   pillar_factor=MappingProxyType(per), anchor=MappingProxyType(anchor),
                   orientation=orientation)


def weight_note(spec, options) -> str:
    """The line saying a declared sampling weight is not used ('' when it is, or none is
    declared)."""
    if spec.weight and not options.weights:
        return (f"WEIGHTS NOT USED: {spec.weight} is declared in [data] but [options] weights "
                "= false (the reference procedure): correlations, MIMIC, RSM and profiles "
                "are unweighted; set weights = true to use it")
    return ""
