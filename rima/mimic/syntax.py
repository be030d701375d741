"""The subset of lavaan model syntax a one-latent MIMIC model needs.

Supported: `L =~ y1 + y2 + ...` (one latent), `L ~ x1 + ...` (causes), `y ~ x` (direct
effect of a cause on an indicator), `y1 ~~ y2` (residual covariance between indicators),
`L ~~ L` / `y ~~ y` (variances, free by default anyway), fixed loadings `0.5*y2`, a freed
first loading `NA*y1`, comments (`#`, `!`) and `;` as a line separator. Anything else is a
SpecError quoting the offending text, so a model never silently means something other than
what lavaan would make of it.
"""

import re
from dataclasses import dataclass, field

from rima.errors import SpecError

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class MimicModel:
    """A one-latent MIMIC model (made by `parse`).

    When no loading is fixed explicitly and the first one is not freed, the first is fixed
    to 1 (lavaan's default).

    Attributes
    ----------
    latent : str
        The latent variable's name.
    indicators, causes : list of str
        Its indicators (``=~``) and causes (``~``), in order.
    fixed_loadings : dict
        {indicator: fixed loading} written in the syntax.
    free_first : bool
        The first loading was freed (``NA*y1``).
    residual_covariances : list of (str, str)
        Indicator residual covariances (``y1 ~~ y2``).
    direct_effects : list of (str, str)
        Direct effects of causes on indicators (``y1 ~ x1``).
    source : str or None
        The syntax parsed.
    """

    latent: str
    indicators: list[str]
    causes: list[str]
    fixed_loadings: dict[str, float] = field(default_factory=dict)
    free_first: bool = False
    residual_covariances: list[tuple[str, str]] = field(default_factory=list)
    direct_effects: list[tuple[str, str]] = field(default_factory=list)
    source: str | None = None

    def loading_values(self) -> dict[str, float | None]:
        """Each indicator's loading after lavaan's marker rule.

        Returns
        -------
        dict
            {indicator: fixed value, or None when free}, in order.
        """
        out: dict[str, float | None] = {y: self.fixed_loadings.get(y) for y in self.indicators}
        first = self.indicators[0] if self.indicators else None
        if first is not None and not self.free_first and first not in self.fixed_loadings:
            out[first] = 1.0
        return out

    def validate(self) -> None:
        """Check that the model is a well-formed, identified one-latent MIMIC.

        Raises
        ------
        SpecError
            Fewer than 2 indicators, no cause, a variable listed twice or in two roles,
            an invalid direct effect or residual covariance, no fixed loading, or negative
            degrees of freedom.
        """
        m, k = len(self.indicators), len(self.causes)
        if m < 2:
            raise SpecError(
                f"latent {self.latent!r} has {m} indicator(s); a MIMIC model needs at least 2")
        if k < 1:
            raise SpecError(f"latent {self.latent!r} has no causes (`{self.latent} ~ x1 + ...`)")
        for group, what in ((self.indicators, "indicator"), (self.causes, "cause")):
            dup = sorted({v for v in group if group.count(v) > 1})
            if dup:
                raise SpecError(f"{what}(s) listed twice: {', '.join(dup)}")
        both = sorted(set(self.indicators) & set(self.causes))
        if both:
            raise SpecError(f"variable(s) used both as indicator and cause: {', '.join(both)}")
        if self.latent in self.indicators or self.latent in self.causes:
            raise SpecError(f"latent name {self.latent!r} is also an observed variable")
        for y, x in self.direct_effects:
            if y not in self.indicators:
                raise SpecError(f"direct effect `{y} ~ {x}`: {y!r} is not an indicator")
            if x not in self.causes:
                raise SpecError(f"direct effect `{y} ~ {x}`: {x!r} is not a cause of "
                                f"{self.latent!r}")
        for a, b in self.residual_covariances:
            for v in (a, b):
                if v not in self.indicators:
                    raise SpecError(f"residual covariance `{a} ~~ {b}`: {v!r} is not an "
                                    "indicator (covariances among causes are fixed at their "
                                    "sample values)")
            if a == b:
                raise SpecError(f"residual covariance `{a} ~~ {b}` pairs a variable with itself")
        if all(v is None for v in self.loading_values().values()):
            raise SpecError(f"the scale of {self.latent!r} is not set: fix one loading "
                            "(e.g. `1*y1`) instead of freeing them all")
        df = self.degrees_of_freedom()
        if df < 0:
            raise SpecError(f"model is not identified: {df} degrees of freedom "
                            f"({self.n_moments()} moments, {self.n_free()} free parameters)")

    def n_free(self) -> int:
        """The number of free parameters.

        Returns
        -------
        int
        """
        n_lam = sum(v is None for v in self.loading_values().values())
        m = len(self.indicators)
        return (n_lam + len(self.causes) + len(self.direct_effects) + 1 + m
                + len(self.residual_covariances))

    def n_moments(self) -> int:
        """The number of sample moments the model fits (fixed-x: indicator covariances and
        indicator-cause covariances).

        Returns
        -------
        int
        """
        m, k = len(self.indicators), len(self.causes)
        return m * (m + 1) // 2 + m * k

    def degrees_of_freedom(self) -> int:
        """Moments minus free parameters.

        Returns
        -------
        int
        """
        return self.n_moments() - self.n_free()

    @property
    def observed(self) -> list[str]:
        """The observed variables: indicators, then causes."""
        return [*self.indicators, *self.causes]


def _split_terms(rhs: str, stmt: str) -> list[tuple[str | None, str]]:
    terms = []
    for raw in rhs.split("+"):
        t = raw.strip()
        if not t:
            raise SpecError(f"empty term in `{stmt}`")
        mod = None
        if "*" in t:
            parts = [s.strip() for s in t.split("*")]
            if len(parts) != 2:
                raise SpecError(f"unsupported term `{t}` in `{stmt}`")
            mod, t = parts
        if not _NAME.match(t):
            raise SpecError(f"unsupported term `{raw.strip()}` in `{stmt}`")
        terms.append((mod, t))
    return terms


def parse(text: str) -> MimicModel:
    """Parse lavaan syntax for a one-latent MIMIC model.

    Parameters
    ----------
    text : str
        ``=~`` (indicators, with ``1*y`` / ``NA*y`` modifiers), ``~`` (causes, direct
        effects) and ``~~`` (residual covariances) statements, one per line or ``;``.

    Returns
    -------
    MimicModel

    Raises
    ------
    SpecError
        Syntax the model does not support, or a model that is not identified.

    Examples
    --------
    >>> m = rima.mimic.parse("RCI =~ fcs + hdds + lfexp; RCI ~ ABS + AST")
    >>> m.indicators, m.causes, m.degrees_of_freedom()
    (['fcs', 'hdds', 'lfexp'], ['ABS', 'AST'], 4)
    """
    if not isinstance(text, str):
        raise SpecError("model syntax must be a string")
    latent = None
    indicators: list[str] = []
    fixed: dict[str, float] = {}
    free_first = False
    causes_raw: list[tuple[str, str]] = []   # (lhs, rhs) of every `~`
    covs: list[tuple[str, str]] = []
    variances: list[tuple[str, str]] = []
    statements = []
    for line in text.splitlines():
        line = re.split(r"[#!]", line, maxsplit=1)[0]
        statements.extend(s.strip() for s in line.split(";"))
    for stmt in statements:
        if not stmt:
            continue
        for bad in (":=", "==", "<", ">", "|", "~*~", "<~", "~1"):
            if bad in stmt.replace(" ", ""):
                raise SpecError(f"unsupported construct `{bad}` in `{stmt}`")
        if "=~" in stmt:
            lhs, rhs = (s.strip() for s in stmt.split("=~", 1))
            if not _NAME.match(lhs):
                raise SpecError(f"bad latent name in `{stmt}`")
            if latent is not None and lhs != latent:
                raise SpecError(f"a second latent variable {lhs!r} in `{stmt}`: a MIMIC model "
                                f"has one latent ({latent!r})")
            latent = lhs
            for mod, name in _split_terms(rhs, stmt):
                first = not indicators
                indicators.append(name)
                if mod is None:
                    continue
                if mod == "NA":
                    if not first:
                        raise SpecError(f"`NA*{name}` in `{stmt}`: only the first loading can "
                                        "be freed (the others are free already)")
                    free_first = True
                elif _NUMBER.match(mod):
                    fixed[name] = float(mod)
                else:
                    raise SpecError(f"unsupported modifier `{mod}*` in `{stmt}` (labels, "
                                    "start values and constraints are not supported)")
        elif "~~" in stmt:
            lhs, rhs = (s.strip() for s in stmt.split("~~", 1))
            for mod, name in _split_terms(rhs, stmt):
                if mod is not None:
                    raise SpecError(f"unsupported modifier `{mod}*` in `{stmt}` (fixed or "
                                    "labelled (co)variances are not supported)")
                if not _NAME.match(lhs):
                    raise SpecError(f"bad variable name in `{stmt}`")
                (variances if name == lhs else covs).append((lhs, name))
        elif "~" in stmt:
            lhs, rhs = (s.strip() for s in stmt.split("~", 1))
            if not _NAME.match(lhs):
                raise SpecError(f"bad variable name in `{stmt}`")
            for mod, name in _split_terms(rhs, stmt):
                if mod is not None:
                    raise SpecError(f"unsupported modifier `{mod}*` in `{stmt}` (fixed or "
                                    "labelled regression coefficients are not supported)")
                causes_raw.append((lhs, name))
        else:
            raise SpecError(f"cannot parse `{stmt}`: expected `=~`, `~` or `~~`")
    if latent is None:
        raise SpecError("no latent variable defined (`RCI =~ y1 + y2 + ...`)")
    causes = [x for lhs, x in causes_raw if lhs == latent]
    direct = [(lhs, x) for lhs, x in causes_raw if lhs != latent]
    for lhs, x in direct:
        if lhs not in indicators:
            raise SpecError(f"regression `{lhs} ~ {x}`: {lhs!r} is neither the latent nor an "
                            "indicator")
    for lhs, rhs in variances:
        if lhs != latent and lhs not in indicators:
            raise SpecError(f"variance `{lhs} ~~ {rhs}`: {lhs!r} is not in the model "
                            "(variances of causes are fixed at their sample values)")
    for a, b in covs:
        if latent in (a, b):
            raise SpecError(f"covariance `{a} ~~ {b}` involving the latent is not supported")
    model = MimicModel(latent=latent, indicators=indicators, causes=causes,
                       fixed_loadings=fixed, free_first=free_first, residual_covariances=covs,
                       direct_effects=direct, source=text)
    model.validate()
    return model


def as_model(model) -> MimicModel:
    """Accept lavaan syntax, a MimicModel, or a dict with latent/indicators/causes."""
    if isinstance(model, MimicModel):
        model.validate()
        return model
    if isinstance(model, str):
        return parse(model)
    if isinstance(model, dict):
        allowed = {"latent", "indicators", "causes", "fixed_loadings", "free_first",
                   "residual_covariances", "direct_effects"}
        unknown = sorted(set(model) - allowed)
        if unknown:
            raise SpecError(f"unknown MIMIC model key(s): {', '.join(unknown)}")
        try:
            mm = MimicModel(latent=model.get("latent", "RCI"),
                            indicators=list(model["indicators"]), causes=list(model["causes"]),
                            fixed_loadings=dict(model.get("fixed_loadings", {})),
                            free_first=bool(model.get("free_first", False)),
                            residual_covariances=[tuple(p) for p in
                                                  model.get("residual_covariances", [])],
                            direct_effects=[tuple(p) for p in model.get("direct_effects", [])])
        except KeyError as exc:
            raise SpecError(f"MIMIC model dict lacks {exc.args[0]!r}") from None
        mm.validate()
        return mm
    raise SpecError(f"model must be lavaan syntax, a dict or a MimicModel, not "
                    f"{type(model).__name__}")
