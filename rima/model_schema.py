"""The schema of a saved model file: every field's type, length and range, checked before
any array reaches the scoring kernel.

The checksum only shows that a file is what some rima wrote or someone recomputed; it
says nothing about whether the numbers make sense. A file that passes `check_content`
cannot make the kernel read past an array, divide by a zero SD or put an infinite scale
into RCI_100, so every problem is refused at `rima.load` with the field named, never found
later as a crash or a silent "ok" beside a wrong score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rima._kernels.rci_scale import is_finite_number, scale_problem
from rima.errors import ModelFileError, SpecError

# 2^m prediction patterns are stored; more indicators than this is no file rima writes
MAX_INDICATORS = 20


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class _Checker:
    def __init__(self, path):
        self.path = path

    def fail(self, where: str, message: str):
        raise ModelFileError(f"{self.path}: model file field {where}: {message}")

    def table(self, content, key, where=None) -> Mapping:
        where = where or key
        if key not in content:
            self.fail(where, "is missing")
        v = content[key]
        if not isinstance(v, Mapping):
            self.fail(where, f"must be a JSON object, got {_kind(v)}")
        return v

    def names(self, v, where, min_len=0) -> list[str]:
        if not isinstance(v, list):
            self.fail(where, f"must be a list of names, got {_kind(v)}")
        for i, x in enumerate(v):
            if not isinstance(x, str) or not x:
                self.fail(f"{where}[{i}]", f"must be a non-empty string, got {x!r}")
        seen = {}
        for i, x in enumerate(v):
            if x in seen:
                self.fail(where, f"lists {x!r} twice (positions {seen[x] + 1} and {i + 1})")
            seen[x] = i
        if len(v) < min_len:
            self.fail(where, f"needs at least {min_len} name(s), has {len(v)}")
        return v

    def numbers(self, v, where, n, finite=True, positive=False, allow_nan=False):
        if not isinstance(v, list):
            self.fail(where, f"must be a list of {n} numbers, got {_kind(v)}")
        if len(v) != n:
            self.fail(where, f"has {len(v)} value(s); the model needs {n}")
        for i, x in enumerate(v):
            if not _is_number(x):
                self.fail(f"{where}[{i}]", f"must be a number, got {x!r}")
            if allow_nan and isinstance(x, float) and math.isnan(x):
                continue
            if finite and not is_finite_number(x):
                self.fail(f"{where}[{i}]", f"must be finite, got {x!r}")
            if positive and not x > 0:
                self.fail(f"{where}[{i}]", f"must be positive (a standard deviation), got {x!r}")

    def matrix(self, v, where, rows, cols, kind="number", allow_nan=False):
        if not isinstance(v, list) or len(v) != rows:
            got = f"{len(v)} rows" if isinstance(v, list) else _kind(v)
            self.fail(where, f"must be {rows} rows of {cols} values, got {got}")
        for i, row in enumerate(v):
            if kind == "bool":
                if not isinstance(row, list) or len(row) != cols or \
                        not all(isinstance(x, bool) for x in row):
                    self.fail(f"{where}[{i}]", f"must be {cols} true/false values")
            else:
                self.numbers(row, f"{where}[{i}]", cols, allow_nan=allow_nan)


def check_content(content, path) -> None:
    """Refuse a model file's content (checksum already removed) that rima cannot score
    with; the ModelFileError names the field and what is wrong with it."""
    from rima.options import PREDICTIONS, parse_options
    from rima.spec import load_spec

    c = _Checker(path)
    if not isinstance(content.get("rima_version"), (str, type(None))):
        c.fail("rima_version", f"must be a string, got {content.get('rima_version')!r}")
    spec_t = c.table(content, "spec")
    try:
        spec = load_spec(spec_t)
    except SpecError as exc:
        c.fail("spec", str(exc))
    options = c.table(content, "options")
    try:
        opts = parse_options(options)
    except SpecError as exc:
        c.fail("options", str(exc))
    pillars = c.names(content.get("pillars"), "pillars", min_len=1)
    if list(pillars) != list(spec.pillar_names):
        c.fail("pillars", f"{pillars} differ from the spec's pillars {list(spec.pillar_names)}")

    var_t = c.table(content, "variables")
    names = c.names(var_t.get("names"), "variables.names", min_len=1)
    if sorted(names) != sorted(spec.pillar_variables):
        c.fail("variables.names", "are not the spec's pillar variables")
    p, K = len(names), len(pillars)
    c.numbers(var_t.get("mean"), "variables.mean", p)
    c.numbers(var_t.get("sd"), "variables.sd", p, positive=True)
    c.matrix(content.get("pillar_score_weights"), "pillar_score_weights", p, K)
    c.matrix(content.get("pillar_membership"), "pillar_membership", p, K, kind="bool")

    ind_t = c.table(content, "indicators")
    ind = c.names(ind_t.get("names"), "indicators.names", min_len=1)
    if list(ind) != list(spec.indicators):
        c.fail("indicators.names", f"{ind} differ from the spec's indicators "
                                   f"{list(spec.indicators)}")
    m = len(ind)
    if m > MAX_INDICATORS:
        c.fail("indicators.names", f"{m} indicators; at most {MAX_INDICATORS} are supported")
    c.numbers(ind_t.get("mean"), "indicators.mean", m)
    c.numbers(ind_t.get("sd"), "indicators.sd", m, positive=True)

    pred = c.table(content, "prediction")
    method = pred.get("method")
    if method not in PREDICTIONS:
        c.fail("prediction.method", f"{method!r} is not one of {', '.join(PREDICTIONS)}")
    if method != opts.rci_prediction:
        c.fail("prediction.method", f"{method!r} differs from options.rci_prediction "
                                    f"{opts.rci_prediction!r}")
    npat = 2 ** m
    # a pattern the model cannot score holds NaN weights; the complete pattern must score
    c.numbers(pred.get("intercept"), "prediction.intercept", npat, allow_nan=True)
    c.matrix(pred.get("coef_causes"), "prediction.coef_causes", npat, K, allow_nan=True)
    c.matrix(pred.get("coef_indicators"), "prediction.coef_indicators", npat, m,
             allow_nan=True)
    first = [pred["intercept"][0], *pred["coef_causes"][0], *pred["coef_indicators"][0]]
    if not all(is_finite_number(x) for x in first):
        c.fail("prediction", "the weights for households with every indicator must be finite")

    scale = c.table(content, "rci_100_scale")
    lo, hi = scale.get("min"), scale.get("max")
    why = scale_problem(lo, hi)
    if why:
        c.fail("rci_100_scale", why)
    for key in ("orientation", "metadata"):
        c.table(content, key)


def _kind(v) -> str:
    return {list: "a list", dict: "an object", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(v), type(v).__name__)
