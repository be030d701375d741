"""`fit(data, spec) -> FitResult`: pillars -> MIMIC -> RCI -> RSM -> profiles.

With the default options this is the reference procedure of method.md §1-3 (FAO's Shiny
RIMA tool): listwise deletion over every analysis variable, one principal-axis factor
analysis per pillar (factors by the 95 % rule, Bartlett scores, variance-weighted sum), a
MIMIC model on the z-scored indicators estimated by ML with robust.sem SEs, the lavPredict
regression score, min-max RCI_100 and correlation-share RSM.

Weights (`weights = true`) enter the pillar correlation matrices (psych::fa(weight=)),
the MIMIC (sampling weights; robust.sem SEs as lavaan computes them with weights, or the
`mimic_se` chosen), the RSM correlations and the profiles;
standardisation of variables and indicators stays unweighted, as psych does.

Every household is scored by the two halves of `rima._kernels.score.score_households`
(pillars before the MIMIC, RCI after it) with the learned arrays, the same arithmetic a
loaded `model.json` runs, so saved and fitted scores agree bit for bit.

The data are converted once, by `rima.validate`: the fit takes over its float block (one
contiguous column per variable) and its per-row masks of missing values, gathers the
analysed rows once (for the moments pass, with the training fingerprint read in the same
pass), and never builds an n x p copy of the input otherwise.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rima import orientation as orient
from rima._kernels.columns import gather_rows
from rima._kernels.score import predict_rci, scale_rci, score_pillars
from rima.columns import numeric_matrix
from rima.config import threads_for
from rima.errors import ConvergenceError, DataConvergenceError, RimaInputError
from rima.fingerprint import fingerprint_columns, fingerprint_digests
from rima.model_file import FittedModel
from rima.profiles import PARALLEL_ROWS, GroupCoder, weighted_mean_se
from rima.profiles import profiles as profile_tables
from rima.row_status import (
    pack_keys,
    status_codes,
    status_codes_from_masks,
    status_column,
    weight_reason,
)
from rima.rsm import rsm_from_comoment, rsm_table
from rima.score_table import id_values, score_frame, value_columns

if TYPE_CHECKING:
    from rima.resampling import BootstrapResult
    from rima.spec import Spec


@dataclass
class PillarResult:
    """One pillar: its factor analysis, orientation and the combined score weights."""

    name: str
    variables: tuple
    model: object  # rima.factor.FactorAnalysis (fitted on the reversed "negative" variables)
    negative: tuple
    flipped: bool
    anchor: str | None
    anchor_corr: float | None
    weights: pd.Series  # combined weights on z-scored original variables
    n_obs: int
    rule: str = ""  # rima.orientation's rule that set the sign
    food_security_corr: float | None = None  # corr(pillar, food-security composite)

    @property
    def n_factors(self) -> int:
        return self.model.n_factors_

    @property
    def variance_weights(self) -> np.ndarray:
        return self.model.variance_weights_

    @property
    def orientation(self) -> dict:
        how = self.rule or ("anchor" if self.anchor else "variables (psych sign convention)")
        return {"negative": list(self.negative), "anchor": self.anchor,
                "flipped": self.flipped, "anchor_corr": self.anchor_corr, "rule": how,
                "food_security_corr": self.food_security_corr}


@dataclass(repr=False)
class FitResult:
    """What the in-memory fit produced: the fitted data, without the conveniences.

    `rima.fit` hands its user a `rima.result.RimaResult`, this class with the methods
    that summarise, save, plot and analyse it (they use the report and the analyses, which
    sit above the fit). Callers inside rima that need only the fields take this one.

    Attributes
    ----------
    scores : DataFrame
        One row per input row, in order: the id, one column per pillar, ``RCI``,
        ``RCI_100`` and ``status`` ("ok" or the reason the row was not scored).
    data : DataFrame
        The input as read.
    spec : Spec
    options : rima.options.Options
    pillars : dict
        {pillar: PillarResult} (factor analysis, orientation, variance weights).
    mimic : rima.mimic.MimicResult
        The MIMIC fit behind the RCI.
    rsm : DataFrame
        The Resilience Structure Matrix: pillar, share, r_signed.
    profiles : dict
        {profile variable: results by category}.
    model : FittedModel
        The fitted model, for scoring new households (``model.score``).
    validation : ValidationReport
        The checks of the input (`rima.validate`).
    accounting : DataFrame
        Rows per status.
    notes : list of str
        Notes on the fit (weights, orientation, ...).
    bootstrap_result : BootstrapResult or None
        Set by `RimaResult.bootstrap`.
    analysed_rows : ndarray of bool or None
        The estimation sample with a finite RCI (None: the scored rows); see `analysed`.
    """

    scores: pd.DataFrame
    data: pd.DataFrame
    spec: object
    options: object
    pillars: dict
    mimic: object
    rsm: pd.DataFrame
    profiles: dict
    model: FittedModel
    validation: object
    accounting: pd.DataFrame
    notes: list = field(default_factory=list)
    bootstrap_result: object = None  # set by `RimaResult.bootstrap()`
    # the estimation sample with a finite RCI (None: the scored rows); see `analysed`
    analysed_rows: np.ndarray | None = None

    @property
    def ok(self) -> pd.Series:
        """Boolean Series: True for the scored rows (status "ok"), every row the model can
        predict."""
        return self.scores["status"] == "ok"

    @property
    def analysed(self) -> pd.Series:
        """Boolean Series: the rows of the MIMIC's estimation sample that got a score.

        They are what the RCI_100 range, the RSM, the profiles and the bootstrap describe:
        a subset of `ok`, smaller when ``rci_prediction = "causes"`` scores households
        missing an indicator, which the estimation's missing-data rule leaves out.
        """
        if self.analysed_rows is None:
            return self.ok
        return pd.Series(self.analysed_rows, index=self.scores.index, name="analysed")

    @property
    def weight_column(self) -> str | None:
        """The sampling weight the fit used (None when ``options.weights`` is off or no
        weight is declared)."""
        return self.spec.weight if (self.options.weights and self.spec.weight) else None

    @property
    def mean_rci_100(self) -> float:
        """Mean RCI_100 of the `analysed` households, weighted by `weight_column` when the
        fit used it: the population figure the profile tables break down by category and
        the bootstrap's overall estimate re-computes."""
        rows = self.analysed.to_numpy()
        w = self.weight_column
        weights = None if w is None else self.data[w].to_numpy(dtype=float)[rows]
        return weighted_mean_se(self.scores["RCI_100"].to_numpy(dtype=float)[rows],
                                weights)[0]

    @property
    def mean_rci_100_label(self) -> str:
        """How `mean_rci_100` is read: "mean RCI_100", with the weight when one is used."""
        w = self.weight_column
        return "mean RCI_100" + (f" (weighted by {w})" if w else "")


def bootstrap(result_or_data: FitResult | pd.DataFrame | str | Path,
              spec: Spec | dict | str | Path | None = None, n_boot: int = 1000,
              seed: int | None = None, level: float = 0.95, progress: bool = True,
              threads: int | None = None, chunk: int | None = None,
              client: Any = None) -> BootstrapResult:
    """Percentile bootstrap of RSM shares, MIMIC parameters and mean RCI_100 by profile.

    `rima.bootstrap`; the replicates run in `rima.resampling.bootstrap`.

    Parameters
    ----------
    result_or_data : RimaResult, DataFrame or path
        A result of `rima.fit`, or data to fit with `spec` first.
    spec : Spec, dict or path, optional
        Needed when `result_or_data` is data.
    n_boot : int, default 1000
        Number of replicates (at least 2).
    seed : int, optional
        Defaults to the spec's `options.seed`; replicate b depends only on (seed, b).
    level : float, default 0.95
        Confidence level of the percentile intervals.
    progress : bool, default True
        A progress bar on stderr.
    threads, chunk : int, optional
        Worker threads and replicates per task; the results do not depend on them.
    client : dask.distributed.Client, optional
        Run the replicate ranges on the cluster's workers (same seeds, same results).

    Returns
    -------
    BootstrapResult

    Raises
    ------
    SpecError
        Data without a spec, n_boot < 2, a level outside (0, 1), a negative seed, or an
        option the bootstrap does not support (named in the message).
    """
    from rima.resampling import bootstrap as run
    from rima.resampling import is_fitted

    if not is_fitted(result_or_data) and spec is not None:
        result_or_data = fit(result_or_data, spec)
    return run(result_or_data, n_boot=n_boot, seed=seed, level=level, progress=progress,
               threads=threads, chunk=chunk, client=client)


def _read(data, spec, read):
    from rima.io import read_table

    if isinstance(data, pd.DataFrame):
        return data, None
    if isinstance(data, (str, Path)):
        opts = {k: (read.get(k) if read.get(k) is not None else getattr(spec, k, None))
                for k in ("sheet", "sep", "decimal")}
        return read_table(data, **opts), str(data)
    raise RimaInputError(f"data must be a DataFrame or a file path, not {type(data).__name__}")


def fit(data, spec, progress=None, sheet=None, sep=None, decimal=None) -> FitResult:
    """Fit the RIMA-II model: pillars, MIMIC, RCI, RSM and profiles (see the module docstring).

    Parameters
    ----------
    data : DataFrame or path
        The household survey, one row per household (a path is read with
        `rima.read_table`).
    spec : Spec, dict or path
        The model spec (`rima.load_spec`), options included.
    progress : callable, optional
        Called with the name of each step as it starts.
    sheet, sep, decimal : optional
        How a file path is read (Excel worksheet; CSV separator and decimal mark); by
        default the spec's [data] keys, else the first sheet and detection.

    Returns
    -------
    FitResult
        Scores for every input row (status "ok" or the reason it was not scored), the
        pillar and MIMIC fits, the RSM, profile tables and the fitted model for scoring;
        `rima.fit` hands it on as a `rima.result.RimaResult`.

    Raises
    ------
    SpecError
        The spec or its options are invalid.
    DataError
        The data do not fit the spec (the message names the column and rows).

    Examples
    --------
    >>> import rima
    >>> result = rima.fit("examples/zavkhan/households.csv",
    ...                   "examples/zavkhan/spec.toml")  # doctest: +SKIP
    >>> result.rsm  # doctest: +SKIP
    """
    from rima.config import first_compile_notice
    from rima.labels import label_categories
    from rima.spec import load_spec
    from rima.validation import validate

    say = progress or (lambda step: None)
    spec = load_spec(spec)
    spec.options.check_spec(spec)
    df, source = _read(data, spec, {"sheet": sheet, "sep": sep, "decimal": decimal})
    # Stata/SPSS value labels name the categories of profiles (soum names, not codes);
    # the columns analysed as numbers keep their codes
    df = label_categories(df, keep=[*spec.numeric_columns, spec.id])
    say("validating data")
    first_compile_notice(say)
    # small data run on one thread throughout (rima.config.SERIAL_ROWS)
    with threads_for(len(df)):
        rep = validate(df, spec, source=source)
        rep.raise_if_errors()
        # the profile columns are factorised in the background while the pillars and the
        # MIMIC are fitted (large data only; started after the moments pass, which wants
        # every core)
        coder = GroupCoder(df, spec.profiles, len(df))
        try:
            return _fit(df, spec, rep, source, say, coder)
        except ConvergenceError as exc:
            if isinstance(exc, DataConvergenceError):
                raise
            from rima.data_hints import convergence_hints

            raise DataConvergenceError(f"{exc}\n{convergence_hints(df, spec)}") from exc
        finally:
            coder.close()


def _fit(df, spec, rep, source, say, coder) -> FitResult:
    """The fit as named steps: validate (already run) -> pillars -> MIMIC -> scale ->
    scores -> RSM and profiles -> model."""
    inp = fit_input(df, spec, rep, source)
    shared = shared_moments(inp)
    coder.start()
    pil = fit_pillars(inp, shared, say)
    # the pillar half of the scoring kernel: the MIMIC's causes now, the scores later.
    # Pillars, RCI and RCI_100 live in one (K + 2, n) block that becomes the score frame's
    # float columns as it is.
    K = len(inp.names)
    out = np.empty((K + 2, len(df)))
    if moments_route(inp, shared):
        # oriented from the moments: the pillars are scored once, with their final signs
        _orient(inp, shared, pil, None)
        P = score_pillars(inp.X, pil.mean, pil.scale, pil.W, pil.member, out=out[:K].T)
    else:
        P = score_pillars(inp.X, pil.mean, pil.scale, pil.W, pil.member, out=out[:K].T)
        _orient(inp, shared, pil, P)
    mim = fit_mimic(inp, shared, pil, out, say)
    orient.warn_all([m for p in pil.pillars.values()
                     for m in orient.weight_warnings(p.name, p.weights, p.negative)]
                    + orient.coefficient_warnings(mim.result.params, inp.names))
    sc = scale_scores(inp, P, mim, out)
    summ, tab = rsm_and_profiles(inp, P, sc, out, mim, coder,
                                 beside=lambda: score_table(inp, sc, out))
    fp = (fingerprint_digests(int(sc.mimic_rows.sum()), shared.digests) if inp.with_y
          else fingerprint_columns(inp.block, inp.analysed, np.flatnonzero(sc.mimic_rows)))
    model = build_model(spec, pil, mim, sc, fingerprint=fp, n_rows=len(df), source=source)
    return FitResult(scores=tab.scores, data=df, spec=spec, options=inp.opts,
                     pillars=pil.pillars, mimic=mim.result, rsm=summ.rsm,
                     profiles=summ.profiles, model=model, validation=rep,
                     accounting=accounting_table(tab.codes, tab.reasons),
                     notes=mim.notes + sample_notes(inp, sc), analysed_rows=sc.analysed)


# ---------------------------------------------------------------------------- steps


@dataclass
class FitInput:
    """The validated data as the fit reads them: validate's float block (one contiguous
    row per converted column), column-major views of the variables and indicators, the
    weight, and the row masks the steps share."""

    df: pd.DataFrame
    spec: object
    rep: object          # rima.validate report
    numeric: list        # the block's columns, in order
    block: np.ndarray
    col: dict            # column name -> block row
    X: np.ndarray        # (n, p) pillar variables
    Y: np.ndarray        # (n, m) indicators
    w: np.ndarray | None  # the weight column when options.weights
    xok: np.ndarray      # pillar variables complete
    wok: np.ndarray      # weight usable (all True without weights)
    mimic_rows: np.ndarray
    yok: np.ndarray = None        # indicators complete
    others_ok: np.ndarray = None  # no gap in any column (missing = "all_columns")

    @property
    def opts(self):
        return self.spec.options

    @cached_property
    def mimic_index(self) -> np.ndarray:
        """Positions of `mimic_rows` (int64), found once for the passes that read them."""
        return np.flatnonzero(self.mimic_rows)

    @property
    def names(self) -> list:
        return list(self.spec.pillar_names)

    @property
    def variables(self) -> list:
        return list(self.spec.pillar_variables)

    @property
    def indicators(self) -> list:
        return list(self.spec.indicators)

    @property
    def analysed(self) -> list:
        """Block rows of the variables, then the indicators."""
        return [self.col[c] for c in self.variables + self.indicators]

    @property
    def with_y(self) -> bool:
        """Listwise: the indicators join the pillars' moments pass."""
        return self.opts.missing in ("listwise", "all_columns")

    @property
    def sign(self) -> np.ndarray:
        return variable_signs(self.spec)

    @property
    def fit_rows(self) -> np.ndarray:
        """The rows the MIMIC is fitted on (the estimation sample): `mimic_rows`, and
        under fiml also the households with no indicator, which lavaan keeps (they count
        in N and in the pillars' moments)."""
        if self.opts.missing == "fiml":
            return self.xok & self.wok
        return self.mimic_rows

    @property
    def needs_y(self) -> bool:
        """Whether a household's RCI needs its indicators (every prediction but
        causes-only)."""
        return self.opts.rci_prediction != "causes"

    @property
    def score_rows(self) -> np.ndarray:
        """The rows the fit scores where their prediction is finite. A row that the
        model can predict is scored, as `FittedModel.score` scores it: with causes-only
        prediction that is every row with its pillar variables (and a usable weight),
        in the estimation sample or not."""
        if self.needs_y:
            return self.mimic_rows
        return self.xok & self.wok & self.others_ok

    def pillar_rows(self, variables) -> np.ndarray:
        """The rows a pillar's factor analysis uses under the missing-data option."""
        if self.opts.missing == "pillar":
            return self.rep.complete_rows(list(variables)) & self.wok
        if self.opts.missing == "fiml":
            return self.xok & self.wok
        return self.mimic_rows


def variable_signs(spec) -> np.ndarray:
    """-1 for the spec's "negative" variables (reversed before the factor analysis)."""
    return np.array([-1.0 if v in spec.options.negative else 1.0
                     for v in spec.pillar_variables])


def fit_input(df, spec, rep, source=None) -> FitInput:
    """Step validate: take over validate's converted block and derive the row masks."""
    opts = spec.options
    variables = list(spec.pillar_variables)
    indicators = list(spec.indicators)
    # the columns validate converted: variables, indicators (and the weight), each one
    # contiguous row of `block`; X and Y are column-major views, nothing is converted again
    numeric, block = rep.take_numeric()
    col = {c: j for j, c in enumerate(numeric)}
    X = _columns(block, col, variables)
    Y = _columns(block, col, indicators)
    w_all = block[col[spec.weight]] if (opts.weights and spec.weight) else None
    xok = rep.complete_rows(variables)
    yok_any = ~rep.all_missing_rows(indicators)
    yok_all = rep.complete_rows(indicators)
    wok = np.ones(len(df), bool) if w_all is None else np.isfinite(w_all) & (w_all > 0)
    # "all_columns" is Shiny RIMA's rule: a row with a missing value in any column of the
    # data, analysed or not, is deleted; otherwise it is "listwise"
    others_ok = (~df.isna().to_numpy().any(axis=1) if opts.missing == "all_columns"
                 else np.ones(len(df), bool))
    if opts.missing in ("listwise", "pillar", "all_columns"):
        mimic_rows = xok & yok_all & wok & others_ok
    else:  # fiml: pillars complete, at least one indicator
        mimic_rows = xok & yok_any & wok
    return FitInput(df=df, spec=spec, rep=rep, numeric=list(numeric), block=block, col=col,
                    X=X, Y=Y, w=w_all, xok=xok, wok=wok, mimic_rows=mimic_rows, yok=yok_all,
                    others_ok=others_ok)


@dataclass
class SharedMoments:
    """One moments pass over every pillar variable (signed), and listwise the indicators."""

    n: int
    unweighted: object        # rima.moments.Moments
    weighted: object | None   # the same rows with the survey weights
    digests: np.ndarray       # fingerprint digests of the columns (zeros unless asked)


def shared_moments(inp: FitInput) -> SharedMoments | None:
    """One moments pass over every pillar variable (signed) feeds all the factor analyses
    when the pillars share their rows (listwise, fiml); "pillar" keeps one pass each (None).
    Listwise, the indicators are complete on those rows too and join the same pass, which
    then also gives their means and SDs for the MIMIC; those rows are also the analysed
    matrix the fingerprint identifies, and its column digests are read from the same rows
    in place."""
    opts = inp.opts
    if opts.missing == "pillar":
        return None
    variables, indicators = inp.variables, inp.indicators
    p_tot = len(variables)
    if inp.with_y:
        return pillar_moments(inp.block, inp.analysed,
                               np.concatenate([inp.sign, np.ones(len(indicators))]),
                               inp.mimic_index, inp.w, variables + indicators, digest=True,
                               row_mask=inp.mimic_rows)
    rows = inp.xok & inp.wok
    return pillar_moments(inp.block, inp.analysed[:p_tot], inp.sign, np.flatnonzero(rows),
                          inp.w, variables, row_mask=rows)


def indicator_moments(inp: FitInput, shared: SharedMoments | None):
    """(means, n - 1 SDs) of the indicators over the analysed rows from the moments pass
    (listwise, where the indicators join it), else (None, None)."""
    if shared is None or not inp.with_y:
        return None, None
    p_tot = len(inp.variables)
    mu = shared.unweighted
    return (mu.mean[p_tot:].copy(),
            np.sqrt(np.diag(mu.comoment)[p_tot:] / (mu.sum_weights - 1.0)))


@dataclass
class PillarsFit:
    """Step pillars: every pillar's result and the scoring arrays of the pillar half."""

    pillars: dict          # name -> PillarResult
    mean: np.ndarray       # (p,) training means of the original variables
    scale: np.ndarray      # (p,) n - 1 SDs
    W: np.ndarray          # (p, K) combined weights on z-scored original variables
    member: np.ndarray     # (p, K) variable j belongs to pillar k


def factor_model(spec, name) -> object:
    """The pillar's unfitted FactorAnalysis with its settings from the spec's options."""
    from rima.factor import FactorAnalysis

    fs = spec.options.factor_settings(name)
    return FactorAnalysis(n_factors=fs.retention, method=fs.extraction, rotation=fs.rotation,
                          scores=fs.scores, smc=fs.smc, heywood=fs.heywood, missing="error",
                          random_state=spec.options.seed)


def needs_rows(spec, name, weighted) -> bool:
    """With weights, factor regression weights use the unweighted correlations
    (psych::fa), which the in-memory fit takes from the rows rather than the shared pass;
    component weights use the weighted ones (psych::principal), as the shared pass has."""
    fs = spec.options.factor_settings(name)
    return weighted and fs.scores == "regression" and fs.extraction != "pca"


def fit_pillars(inp: FitInput, shared: SharedMoments | None, say) -> PillarsFit:
    """Step pillars: one factor analysis per pillar (from the shared moments where they
    apply, else from the pillar's rows), then its orientation (psych's sign or the anchor)."""
    sign_all = inp.sign

    def from_rows(name, vs, idx, fm):
        rows = inp.pillar_rows(vs)
        Xk = pd.DataFrame(inp.X[np.ix_(rows, idx)] * sign_all[idx], columns=vs)
        fm.fit(Xk, sample_weight=None if inp.w is None else inp.w[rows])

    def anchor_corr(name, vs, idx, mean, scale, wk, anchor):
        rows = inp.pillar_rows(vs)
        a = numeric_matrix(inp.df, [anchor])[:, 0]
        z = (inp.X[np.ix_(rows, idx)] - mean) / scale
        score_k = z @ wk
        both = ~np.isnan(a[rows])
        return float(np.corrcoef(score_k[both], a[rows][both])[0, 1])

    def n_rows(vs):
        return int(inp.pillar_rows(vs).sum())

    return pillar_step(inp.spec, shared, say, from_rows, anchor_corr, n_rows,
                       weighted=inp.w is not None)


def pillar_step(spec, shared, say, from_rows, anchor_corr, n_rows, weighted) -> PillarsFit:
    """The pillars from moments (`shared`, signed variables in the spec's order) or, where
    moments do not apply, `from_rows(name, vs, idx, fm)`; `anchor_corr(name, vs, idx, mean,
    scale, w, anchor)` correlates a pillar score with its anchor; `n_rows(vs)` counts the
    pillar's rows. The in-memory fit and the partitioned fit share this step."""
    opts = spec.options
    names = list(spec.pillar_names)
    variables = list(spec.pillar_variables)
    p_tot = len(variables)
    sign_all = variable_signs(spec)
    mean = np.empty(p_tot)
    scale = np.empty(p_tot)
    W = np.zeros((p_tot, len(names)))
    member = np.zeros((p_tot, len(names)), bool)
    pillars = {}
    start = 0
    for k, name in enumerate(names):
        vs = list(spec.pillars[name])
        idx = np.arange(start, start + len(vs))
        start += len(vs)
        member[idx, k] = True
        sign = sign_all[idx]
        say(f"factor analysis {name}")
        fm = factor_model(spec, name)
        try:
            if shared is not None and not needs_rows(spec, name, weighted):
                _fit_from_moments(fm, shared, idx, vs)
            else:
                from_rows(name, vs, idx, fm)
        except RimaInputError as exc:
            raise type(exc)(f"pillar {name}: {exc}") from exc
        comb = fm.combined_weights_.to_numpy()
        mean[idx] = sign * fm.mean_
        scale[idx] = fm.scale_
        W[idx, k] = sign * comb
        flipped, anchor, acorr = False, None, None
        anc = opts.anchor_of(name)
        if anc is not None:
            anchor, want = anc
            acorr = anchor_corr(name, vs, idx, mean[idx], scale[idx], W[idx, k], anchor)
            if orient.orient_sign(want, acorr, False, np.nan, 0)[0] < 0:
                W[idx, k] *= -1.0
                flipped = True
                acorr = -acorr
        pillars[name] = PillarResult(name, tuple(vs), fm, tuple(v for v in vs if v in opts.negative),
                                     flipped, anchor, acorr, pd.Series(W[idx, k], index=vs),
                                     n_rows(vs),
                                     orient.RULE_ANCHOR if anchor else orient.RULE_VARIABLES)
    return PillarsFit(pillars=pillars, mean=mean, scale=scale, W=W, member=member)


@dataclass
class MimicFit:
    """Step MIMIC: the fitted model and the prediction arrays of the RCI half."""

    result: object         # rima.mimic result
    syntax: str
    se: str                # the SE type used
    ymean: np.ndarray      # indicator means and n - 1 SDs (z-scoring)
    ysd: np.ndarray
    icpt: np.ndarray       # prediction weights per pattern of missing indicators
    cx: np.ndarray
    cy: np.ndarray
    notes: list
    # the co-moments of the MIMIC's data when they came from the moments pass
    # (`mimic_moments`); the RSM is then read from them
    moments: object = None


# the progress step said just before the MIMIC's kernels first run
MIMIC_STEP = "MIMIC model"


def mimic_syntax(spec) -> str:
    return (f"RCI =~ {' + '.join(spec.indicators)}\n"
            f"RCI ~ {' + '.join(spec.pillar_names)}")


def mimic_se(opts) -> tuple[str, list]:
    """The MIMIC's SE type and the note saying why when it is not the one asked for."""
    se = opts.mimic_se
    notes = []
    if opts.missing == "fiml" and se == "robust.sem":
        se = "robust.huber.white"
        notes.append("MIMIC standard errors are robust.huber.white (robust.sem needs complete"
                     " data)")
    return se, notes


def fit_mimic(inp: FitInput, shared: SharedMoments | None, pil: PillarsFit, out,
              say) -> MimicFit:
    """Step MIMIC on the z-scored indicators and the pillars (rows `out[:K]`) of its rows:
    from the moments pass where `mimic_moments` applies (plus one pass for robust.sem's
    Gamma, reading the rows where they lie), else from the gathered rows."""
    from rima.mimic import fit as mimic_fit

    opts = inp.opts
    names, indicators = inp.names, inp.indicators
    p_tot, m, K = len(inp.variables), len(indicators), len(names)
    fit_rows = inp.fit_rows
    syntax = mimic_syntax(inp.spec)
    se, notes = mimic_se(opts)
    if inp.with_y:
        ymean, ysd = indicator_moments(inp, shared)
    else:
        Ym = inp.Y[fit_rows]
        ymean = np.nanmean(Ym, axis=0)
        ysd = np.nanstd(Ym, axis=0, ddof=1)
        del Ym
    mz = (mimic_moments(inp, shared, pil)
          if mimic_from_moments(opts, inp.w is not None) else None)
    if mz is not None:
        gamma = None
        if se == "robust.sem":
            from rima.mimic.inference import gamma_at

            # listwise: the fit's rows are the MIMIC's
            gamma = gamma_at(mz, inp.block, inp.analysed[p_tot:], ymean, ysd, out,
                             np.arange(K), inp.mimic_index)
        say(MIMIC_STEP)
        res = mimic_fit(syntax, estimator="ML", se=se, sample_moments=mz, gamma=gamma)
        return replace(mimic_result(opts, res, syntax, se, ymean, ysd, m, K, notes),
                       moments=mz)
    mrows = np.flatnonzero(fit_rows)
    # the MIMIC's data: z-scored indicators and pillars of its rows, gathered in one matrix
    # in the model's own column order (indicators, then causes), which the MIMIC then reads
    # without a copy; any other order would cost a reordering copy of the whole matrix
    Mm = np.empty((mrows.size, m + K))
    gather_columns(inp.block, inp.analysed[p_tot:], mrows, ymean, ysd, out=Mm,
                   then=(out, np.arange(K)))
    mdf = pd.DataFrame(Mm, columns=indicators + names, copy=False)
    say(MIMIC_STEP)
    res = mimic_fit(syntax, mdf, estimator="ML", se=se,
                    missing="fiml" if opts.missing == "fiml" else "listwise",
                    sampling_weights=None if inp.w is None else inp.w[fit_rows])
    del mdf, Mm
    return mimic_result(opts, res, syntax, se, ymean, ysd, m, K, notes)


def moment_map(inp: FitInput, pil: PillarsFit, ysd) -> np.ndarray:
    """T ((p + m) x (m + K + 1)): the MIMIC's z-scored indicators, the pillar scores and
    the food-security composite as linear maps of the moments pass's columns (signed
    variables, then indicators). Each is a fixed linear combination of those columns
    (pillar k = sum_j W[j, k] (x_j - mean_j) / scale_j, x_j = sign_j times the signed
    column), so its co-moments are T' S T of the pass's co-moment S: no pass over the rows."""
    p, m, K = len(inp.variables), len(inp.indicators), len(inp.names)
    T = np.zeros((p + m, m + K + 1))
    T[p:, :m] = np.diag(1.0 / ysd)
    T[:p, m:m + K] = (inp.sign / pil.scale)[:, None] * pil.W
    # the composite of rima.orientation: the mean of the indicators z-scored by their SDs
    # (1 where an SD is 0)
    T[p:, m + K] = 1.0 / (m * np.where(ysd > 0, ysd, 1.0))
    return T


def mimic_from_moments(opts, weighted: bool) -> bool:
    """Whether the fit's MIMIC is estimated from the moments pass (`mimic_moments`):
    listwise rows without sampling weights, and SEs that need no casewise scores."""
    return (opts.missing in ("listwise", "all_columns") and not weighted
            and mimic_se(opts)[0] in ("standard", "robust.sem"))


def moments_route(inp: FitInput, shared: SharedMoments | None) -> bool:
    """Whether the MIMIC's moments and the orientation's correlations come from the
    moments pass: listwise rows (the pass ran over exactly the MIMIC's rows, indicators
    included) and no sampling weights."""
    return shared is not None and inp.with_y and inp.w is None


def mimic_moments(inp: FitInput, shared: SharedMoments | None, pil: PillarsFit):
    """The `Moments` of the MIMIC's data (z-scored indicators, then pillars, over its
    rows) from the moments pass (`moment_map`), or None where `moments_route` does not
    apply."""
    from rima.moments import Moments

    if not moments_route(inp, shared):
        return None
    mu = shared.unweighted
    p, m, K = len(inp.variables), len(inp.indicators), len(inp.names)
    ymean, ysd = indicator_moments(inp, shared)
    T = moment_map(inp, pil, ysd)[:, :m + K]
    x = inp.sign * mu.mean[:p]
    mean = np.concatenate([(mu.mean[p:] - ymean) / ysd, ((x - pil.mean) / pil.scale) @ pil.W])
    return Moments(n_obs=mu.n_obs, sum_weights=float(mu.n_obs), mean=mean,
                   comoment=T.T @ mu.comoment @ T, names=inp.indicators + inp.names)


def mimic_result(opts, res, syntax, se, ymean, ysd, m, K, notes) -> MimicFit:
    icpt, cx, cy = pattern_weights(res, opts.rci_prediction, m, K,
                                    allow_partial=opts.missing == "fiml")
    return MimicFit(result=res, syntax=syntax, se=se, ymean=ymean, ysd=ysd, icpt=icpt, cx=cx,
                    cy=cy, notes=notes)


@dataclass
class ScaledScores:
    """Step scale: RCI and RCI_100 of every row, which rows are scored, the 0-100 range."""

    rci: np.ndarray
    rci100: np.ndarray
    scored: np.ndarray     # status "ok": every row the model predicts
    lo: float
    hi: float
    mimic_rows: np.ndarray
    # the estimation sample's scored rows: the RCI_100 range, RSM and profiles
    analysed: np.ndarray | None = None


def scale_scores(inp: FitInput, P, mim: MimicFit, out) -> ScaledScores:
    """Step scale: the RCI half of the scoring kernel on the same pillars: the bits a
    loaded model.json computes; RCI_100 is then the kernel's own affine map of RCI with
    the range now known."""
    K = len(inp.names)
    rci, rci100 = predict_rci(P, inp.Y, mim.ymean, mim.ysd, mim.icpt, mim.cx, mim.cy, 0.0,
                              100.0, out=(out[K], out[K + 1]))
    if inp.needs_y and inp.opts.missing != "fiml":
        # the estimation sample is exactly the rows that can be scored
        scored, lo, hi = scale_rci(rci, rci100, inp.mimic_rows, inp.opts.rci_100)
        analysed = scored
    else:
        scored, lo, hi, analysed = scale_rci(rci, rci100, inp.score_rows, inp.opts.rci_100,
                                             range_rows=inp.fit_rows)
    return ScaledScores(rci=rci, rci100=rci100, scored=scored, lo=lo, hi=hi,
                        mimic_rows=inp.mimic_rows, analysed=analysed)


def sample_notes(inp: FitInput, sc: ScaledScores) -> list:
    """A note when households are scored outside the estimation sample."""
    extra = int(np.count_nonzero(sc.scored & ~sc.analysed))
    if not extra:
        return []
    return [(f"{extra} household(s) missing an indicator are scored from their pillars "
             "(rci_prediction = \"causes\") but are outside the MIMIC's estimation sample "
             f"(missing = \"{inp.opts.missing}\"); the RCI_100 range, RSM and profiles "
             f"describe the {int(np.count_nonzero(sc.analysed))} households of that sample")]


@dataclass
class ScoreTable:
    """Step scores: the score frame and the status codes behind its status column."""

    scores: pd.DataFrame
    codes: np.ndarray
    reasons: list


def score_table(inp: FitInput, sc: ScaledScores, out) -> ScoreTable:
    """Step scores: every row's status (0 "ok" or the reason) and the score frame."""
    spec, opts = inp.spec, inp.opts
    indicators = inp.indicators
    needed = inp.variables + indicators + ([spec.weight] if inp.w is not None else [])
    # causes-only prediction needs no indicator: a gap in one is never a row's reason
    codes, reasons = row_status(inp.rep, inp.df, inp.numeric, needed, sc.scored,
                                partial_ok=(indicators if opts.missing == "fiml" and inp.needs_y
                                            else ()),
                                ignore=() if inp.needs_y else indicators)
    if opts.missing == "all_columns":
        # complete in the columns scoring needs, deleted for a gap elsewhere: name that column
        only_other = (~inp.others_ok & inp.xok & (inp.yok if inp.needs_y else True)
                      & inp.wok)
        if only_other.any():
            first = inp.df.isna().to_numpy()[only_other].argmax(axis=1)
            for j in np.unique(first):
                reasons.append(f"missing value in {inp.df.columns[j]} "
                               "(missing = \"all_columns\")")
                codes[np.flatnonzero(only_other)[first == j]] = len(reasons) - 1
    if inp.w is not None:
        bad_w = ~inp.wok & ~np.isnan(inp.w) & ~sc.scored
        if bad_w.any():
            reasons.append(weight_reason(spec.weight))
            codes[bad_w] = len(reasons) - 1
    ids = inp.df[spec.id]
    scores = score_frame(out, ids, id_values(ids), inp.names, status_column(codes, reasons),
                         with_range=False)
    return ScoreTable(scores=scores, codes=codes, reasons=reasons)


@dataclass
class Summaries:
    """Step RSM and profiles."""

    rsm: pd.DataFrame
    profiles: dict


def rsm_and_profiles(inp: FitInput, P, sc: ScaledScores, out, mim: MimicFit, coder,
                     beside=None):
    """Step RSM and profiles: independent passes over the scores block `out` (pillars,
    RCI, RCI_100), run side by side, and meanwhile `beside()` on this thread (the score
    table, which they do not need). Returns (Summaries, what `beside` returned).

    Where the MIMIC's co-moments came from the moments pass, the RSM is read from them:
    the estimation sample's RCI is the complete pattern's linear prediction from the
    MIMIC's data, so no pass over the rows is needed."""
    opts, names = inp.opts, inp.names
    res = mim.result
    scores = pd.DataFrame(out.T, columns=value_columns(names), copy=False)
    jobs = [lambda: profile_tables(scores, inp.df, inp.spec.profiles, names, inp.w, opts.rsm,
                                   res.params, ok=sc.analysed, pillars=P, coder=coder)]
    mz = mim.moments
    if mz is not None and int(np.count_nonzero(sc.analysed)) == mz.n_obs:
        rsm = rsm_from_comoment(names, mz.comoment, np.concatenate([mim.cy[0], mim.cx[0]]),
                                opts.rsm, res.params)
    else:
        rsm = None
        jobs.append(lambda: rsm_table(names, P, sc.rci, sc.analysed, inp.w, opts.rsm,
                                      res.params))
    beside = beside or (lambda: None)
    if len(inp.df) < PARALLEL_ROWS:
        done = [job() for job in jobs]
        other = beside()
    else:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = [pool.submit(job) for job in jobs]
            other = beside()
            done = [f.result() for f in futures]
    profs = done[0]
    return Summaries(rsm=done[1] if rsm is None else rsm, profiles=profs), other


def build_model(spec, pil: PillarsFit, mim: MimicFit, sc: ScaledScores, fingerprint, n_rows,
                source) -> FittedModel:
    """Step model: the FittedModel that scores new data with the learned arrays."""
    from rima import __version__

    opts = spec.options
    res = mim.result
    metadata = {
        "rima_version": __version__,
        "training_fingerprint": fingerprint,
        "n_rows": n_rows, "n_scored": int(sc.analysed.sum()),
        "fit_summary": {k: float(res.fit_measures[k]) for k in
                        ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")
                        if k in res.fit_measures},
        "source": source,
    }
    return FittedModel(
        spec_dict=spec.to_dict(), options=opts.to_dict(), pillar_names=list(spec.pillar_names),
        variables=list(spec.pillar_variables), mean=pil.mean, scale=pil.scale, weights=pil.W,
        member=pil.member, indicators=list(spec.indicators), ymean=mim.ymean, ysd=mim.ysd,
        icpt=mim.icpt, cx=mim.cx, cy=mim.cy, lo=sc.lo, hi=sc.hi,
        orientation={p.name: p.orientation for p in pil.pillars.values()},
        prediction=opts.rci_prediction,
        mimic={"syntax": mim.syntax, "se": mim.se,
               "params": _records(res.params), "fit_measures": _plain(res.fit_measures)},
        metadata=metadata)


def status_counts(codes, reasons) -> dict:
    """{status: rows} of one batch of rows (reasons may repeat a wording)."""
    counts = {}
    for c, k in zip(reasons, np.bincount(codes, minlength=len(reasons)).tolist()):
        if k:
            counts[c] = counts.get(c, 0) + k
    return counts


def accounting_from_counts(counts: dict) -> pd.DataFrame:
    """The row accounting table: "ok" first, then the reasons by rows (desc) and name."""
    order = (["ok"] if "ok" in counts else []) + sorted(
        (s for s in counts if s != "ok"), key=lambda s: (-counts[s], s))
    return pd.DataFrame({"status": order, "rows": [int(counts[s]) for s in order]})


def accounting_table(codes, reasons) -> pd.DataFrame:
    return accounting_from_counts(status_counts(codes, reasons))


def _orient(inp: FitInput, shared: SharedMoments | None, pil: PillarsFit, P):
    """Apply rima.orientation's food-security rule to the pillars without an anchor
    (`orientation = "capacity"`), flipping W's weights and P's columns (when the pillars
    are scored already, else P is None) in place. Each pillar's correlation with the
    composite comes from the moments pass where `moments_route` applies, else from a
    pass over the rows."""
    if moments_route(inp, shared):
        _, ysd = indicator_moments(inp, shared)
        T = moment_map(inp, pil, ysd)
        rn = orient.composite_correlations_from_comoment(
            T.T @ shared.unweighted.comoment @ T, len(inp.indicators),
            int(shared.unweighted.n_obs))
    else:
        rn = orient.composite_correlations(inp.Y, P, inp.mimic_rows, inp.w,
                                           *indicator_moments(inp, shared))
    for k in food_security_flips(pil.pillars, pil.W, rn, inp.opts):
        if P is not None:
            P[:, k] *= -1.0


def food_security_flips(pillars, W, rn, opts) -> list:
    """The food-security rule given each pillar's (correlation with the composite, rows):
    records the correlation, flips W's weights of the pillars it turns round, and returns
    their positions (the caller flips any pillar scores it already holds)."""
    flips = []
    for k, (p, (r, n)) in enumerate(zip(pillars.values(), rn)):
        p.food_security_corr = r
        if p.anchor:
            continue
        s, rule = orient.orient_sign(0.0, np.nan, opts.orientation == "capacity", r, n)
        if rule != orient.RULE_FOOD_SECURITY:
            continue
        p.rule = rule
        if s < 0:
            W[:, k] *= -1.0
            p.weights = -p.weights
            p.flipped = True
            p.food_security_corr = -r
            flips.append(k)
    return flips


def _columns(block, col, names):
    """(n, k) view of the block's rows for `names` when they are consecutive (the spec's
    order), else a column-major copy."""
    j = [col[c] for c in names]
    if j and j == list(range(j[0], j[0] + len(j))):
        return block[j[0]:j[0] + len(j)].T
    return block[j].T


def row_status(rep, df, numeric, needed, scored, partial_ok=(), ignore=()):
    """(codes, reasons) of every row: 0 "ok" when scored, else the columns missing, read
    from validate's per-row masks (bit j = numeric[j]; `needed` is a prefix of it).
    `ignore`: columns of `needed` whose gaps never stop the scoring (not named)."""
    masks = rep.row_masks
    skip = [needed.index(c) for c in ignore]
    if masks is not None and list(numeric[:len(needed)]) == list(needed):
        if skip:
            clear = pack_keys(np.isin(np.arange(masks.shape[1] * 64), skip)[None, :])[0]
            masks = masks & ~clear
        return status_codes_from_masks(masks, needed, scored, partial_ok)
    bad = np.flatnonzero(~scored)
    miss = df[needed].iloc[bad].isna().to_numpy() if bad.size else np.zeros((0, len(needed)))
    miss[:, skip] = False
    return status_codes(len(df), bad, miss, needed, partial_ok)


def pillar_moments(block, cols, sign, idx, w, names, digest=False, row_mask=None):
    """Moments of the signed block rows `cols` over the positions `idx`: (n, unweighted Moments,
    weighted Moments or None, the fingerprint digests of those rows if `digest`). The
    pillars' correlation blocks, means and n - 1 SDs are all read from these; the rows are
    read in place, once (twice with weights), never copied out, and the digests come from
    the same pass. `row_mask`: the bool mask over the data rows whose positions are `idx`,
    where the caller has it (`moments_of_rows`)."""
    from rima.errors import DataError
    from rima.moments import moments_of_rows

    cols = np.asarray(cols, dtype=np.int64)
    dig = np.zeros(cols.size, dtype=np.uint64)
    mu = moments_of_rows(block, cols, idx, names=names, digest=dig if digest else None,
                         row_mask=row_mask)
    mw = None if w is None else moments_of_rows(block, cols, idx, w[idx], names=names)
    if mu is None or (w is not None and mw is None):
        from rima.data_hints import largest_values

        raise DataError("the analysed values are too large for float64 cross-products "
                        f"({largest_values(block, cols, idx, names, w)}); rescale the "
                        "column (e.g. to thousands) first")
    # reversing a variable negates its mean and its row and column of the co-moment,
    # exactly (IEEE negation commutes with the sums), so no signed copy of X is made
    for mo in (mu, mw):
        if mo is not None:
            mo.mean = mo.mean * sign
            mo.comoment = mo.comoment * np.outer(sign, sign)
    return SharedMoments(n=int(idx.size), unweighted=mu, weighted=mw, digests=dig)


def gather_columns(block, cols, idx, shift=None, div=None, out=None, col0=0, then=None):
    """Rows `idx` of the block rows `cols` into out[:, col0:] as (x - shift) / div, and
    with `then` = (block2, cols2) the rows `idx` of block2's rows cols2 copied after them
    in the same pass (`rima._kernels.columns.gather_rows`)."""
    k = len(cols)
    shift = np.zeros(k) if shift is None else np.asarray(shift, dtype=float)
    div = np.ones(k) if div is None else np.asarray(div, dtype=float)
    V2, cols2 = (None, None) if then is None else (then[0],
                                                   np.asarray(then[1], dtype=np.int64))
    gather_rows(block, np.asarray(cols, dtype=np.int64), np.asarray(idx, dtype=np.int64),
                shift, div, out, col0, V2, cols2)


def _fit_from_moments(fm, shared, idx, names):
    """`FactorAnalysis.fit_moments` on the pillar's block of the shared moments: the same
    correlation matrix, mean and n - 1 SD as fitting the pillar's columns alone."""
    mw = None if shared.weighted is None else shared.weighted.take(idx)
    return fm.fit_moments(shared.unweighted.take(idx), mw, names=names)


def pattern_weights(res, method, m, k, allow_partial):
    """Prediction weights for every pattern of missing indicators (bit j = y_j missing).

    With FIML, a household missing some indicators is scored conditioned on the indicators
    it has, as lavPredict does; without it only the complete pattern is scored. The
    causes-only prediction needs no indicator, so every pattern gets it.
    """
    npat = 2**m
    icpt = np.full(npat, np.nan)
    cx = np.full((npat, k), np.nan)
    cy = np.full((npat, m), np.nan)
    patterns = range(npat) if allow_partial or method == "causes" else [0]
    for pat in patterns:
        observed = np.array([not (pat >> j) & 1 for j in range(m)])
        if method == "bartlett" and not observed.any():
            continue  # no indicator to build a Bartlett score from
        if method == "regression" and not observed.any() and allow_partial:
            continue  # a household with no indicator is reported, not scored from causes alone
        icpt[pat], cx[pat], cy[pat] = res.prediction_weights(method, observed=observed)
    return icpt, cx, cy


def _plain(d):
    return {str(k): (float(v) if isinstance(v, (int, float, np.floating, np.integer)) else str(v))
            for k, v in d.items()}


def _records(tab: pd.DataFrame):
    out = []
    for rec in tab.to_dict(orient="records"):
        out.append({k: (float(v) if isinstance(v, (float, np.floating, np.integer)) and
                        not isinstance(v, bool) else v) for k, v in rec.items()})
    return out

