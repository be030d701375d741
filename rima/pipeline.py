"""`rima.fit(data, spec) -> RimaResult`: pillars -> MIMIC -> RCI -> RSM -> profiles.

With the default options this is the reference procedure of method.md §1-3 (FAO's Shiny
RIMA tool): listwise deletion over every analysis variable, one principal-axis factor
analysis per pillar (factors by the 95 % rule, Bartlett scores, variance-weighted sum), a
MIMIC model on the z-scored indicators estimated by ML with robust.sem SEs, the lavPredict
regression score, min-max RCI_100 and correlation-share RSM.

Weights (`weights = true`) enter the pillar correlation matrices (psych::fa(weight=)),
the MIMIC (sampling weights, robust.huber.white SEs), the RSM correlations and the profiles;
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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rima._kernels.columns import gather_rows
from rima._kernels.score import predict_rci, scale_rci, score_pillars
from rima.columns import numeric_matrix
from rima.errors import RimaInputError
from rima.fingerprint import fingerprint_columns, fingerprint_digests
from rima.model_file import FittedModel
from rima.profiles import GroupCoder, run_parallel
from rima.profiles import profiles as profile_tables
from rima.row_status import status_codes, status_codes_from_keys, status_column
from rima.rsm import rsm_table
from rima.score_table import id_values, score_frame


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

    @property
    def n_factors(self) -> int:
        return self.model.n_factors_

    @property
    def variance_weights(self) -> np.ndarray:
        return self.model.variance_weights_

    @property
    def orientation(self) -> dict:
        how = ("anchor" if self.anchor else "psych sign convention (sum of loadings > 0)")
        return {"negative": list(self.negative), "anchor": self.anchor,
                "flipped": self.flipped, "anchor_corr": self.anchor_corr, "rule": how}


@dataclass
class RimaResult:
    """Result of `rima.fit`; see docs/architecture.md for the contract."""

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
    bootstrap_result: object = None  # set by `bootstrap()`

    def bootstrap(self, n_boot=1000, seed=None, level=0.95, progress=True, threads=None):
        """Percentile bootstrap of the whole pipeline (`rima.bootstrap`); the result is kept
        as `bootstrap_result`, shown by `summary()` and written by `save()`."""
        from rima.resampling import bootstrap

        self.bootstrap_result = bootstrap(self, n_boot=n_boot, seed=seed, level=level,
                                          progress=progress, threads=threads)
        return self.bootstrap_result

    @property
    def ok(self) -> pd.Series:
        return self.scores["status"] == "ok"

    def shocks(self, **kwargs):
        """Food security on RCI and shocks; see `rima.analysis.shocks.shocks` for the options."""
        from rima.analysis.shocks import shocks

        return shocks(self, **kwargs)

    def summary(self) -> str:
        s = self.scores
        n_ok = int(self.ok.sum())
        lines = ["RIMA-II resilience analysis", "=" * 72,
                 (f"households: {len(s)} in the data, {n_ok} scored "
                 f"({len(s) - n_ok} not scored, reasons in the row accounting)"),
                 (f"options: missing={self.options.missing}, weights={self.options.weights}, "
                 f"rci_prediction={self.options.rci_prediction}, rsm={self.options.rsm}"), ""]
        lines.append("Pillars (factor analysis)")
        rows = []
        for p in self.pillars.values():
            fm = p.model
            rows.append({"pillar": p.name, "variables": len(p.variables), "n": p.n_obs,
                         "factors": p.n_factors, "KMO": fm.kmo_,
                         "weights": " ".join(f"{w:.3f}" for w in fm.variance_weights_),
                         "orientation": ("flipped" if p.flipped else "as fitted")
                         + (f" (anchor {p.anchor})" if p.anchor else "")})
        lines.append(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        lines += ["", "MIMIC model (RCI)"]
        fm = self.mimic.fit_measures
        lines.append(f"  chi-square {fm['chisq']:.3f} df {int(fm['df'])} p {fm['pvalue']:.4f}  "
                     f"CFI {fm['cfi']:.3f}  TLI {fm['tli']:.3f}  RMSEA {fm['rmsea']:.3f}  "
                     f"SRMR {fm.get('srmr', np.nan):.3f}")
        tab = self.mimic.params
        tab = tab[tab["op"].isin(["=~", "~"]) | ((tab["op"] == "~~") & (tab["lhs"] == tab["rhs"])
                                                  & ~tab["lhs"].isin(self.spec.pillar_names))]
        cols = [c for c in ("lhs", "op", "rhs", "est", "se", "z", "pvalue", "std.all")
                if c in tab.columns]
        lines.append(tab[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        lines += ["", "Resilience Structure Matrix (share of RCI, %)"]
        lines.append(self.rsm[["pillar", "share"]].to_string(index=False,
                                                             float_format=lambda v: f"{v:.2f}"))
        ok = s.loc[self.ok, "RCI_100"]
        lines += ["", (f"RCI_100: mean {ok.mean():.2f}, median {ok.median():.2f}, "
                      f"sd {ok.std():.2f}")]
        for var, tab in self.profiles.items():
            lines += ["", f"By {var}"]
            show = tab[["category", "households", "mean_RCI_100", "se", "ci_lower", "ci_upper"]]
            lines.append(show.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        lines += ["", "Row accounting"]
        lines.append(self.accounting.to_string(index=False))
        for n in self.notes:
            lines.append(f"note: {n}")
        if self.bootstrap_result is not None:
            lines += ["", self.bootstrap_result.summary()]
        return "\n".join(lines)

    def save(self, path, report=True, formats=("csv",)) -> Path:
        """Write scores.csv, rsm.csv, mimic.csv, model.json (and report.html + PNGs) to a
        directory."""
        from rima.io import write_table

        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        scores = self.scores
        write_table(scores, out / "scores.csv")
        write_table(self.rsm[["pillar", "share"]], out / "rsm.csv")
        write_table(self.mimic.params, out / "mimic.csv")
        for var, tab in self.profiles.items():
            write_table(tab, out / f"profile_{var}.csv")
        self.model.save(out / "model.json")
        if self.bootstrap_result is not None:
            self.bootstrap_result.save(out)
        if report:
            from rima.report import write_report

            write_report(self, out)
        return out


def bootstrap(result_or_data, spec=None, n_boot=1000, seed=None, level=0.95, progress=True,
              threads=None, chunk=None):
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
               threads=threads, chunk=chunk)


def _read(data, spec):
    from rima.io import read_table

    if isinstance(data, pd.DataFrame):
        return data, None
    if isinstance(data, (str, Path)):
        return read_table(data), str(data)
    raise RimaInputError(f"data must be a DataFrame or a file path, not {type(data).__name__}")


def fit(data, spec, progress=None) -> RimaResult:
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

    Returns
    -------
    RimaResult
        Scores for every input row (status "ok" or the reason it was not scored), the
        pillar and MIMIC fits, the RSM, profile tables and the fitted model for scoring.

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
    from rima.spec import load_spec
    from rima.validation import validate

    say = progress or (lambda step: None)
    spec = load_spec(spec)
    spec.options.check_spec(spec)
    df, source = _read(data, spec)
    say("validating data")
    rep = validate(df, spec, source=source)
    rep.raise_if_errors()
    # the profile columns are factorised in the background while the pillars and the
    # MIMIC are fitted (large data only; started after the moments pass, which wants
    # every core)
    coder = GroupCoder(df, spec.profiles, len(df))
    try:
        return _fit(df, spec, rep, source, say, coder)
    finally:
        coder.close()


def _fit(df, spec, rep, source, say, coder) -> RimaResult:
    from rima import __version__
    from rima.factor import FactorAnalysis
    from rima.mimic import fit as mimic_fit

    opts = spec.options
    names = list(spec.pillar_names)
    variables = list(spec.pillar_variables)
    indicators = list(spec.indicators)
    p_tot = len(variables)
    # the columns validate converted: variables, indicators (and the weight), each one
    # contiguous row of `block`; X and Y are column-major views, nothing is converted again
    numeric, block = rep.take_numeric()
    col = {c: j for j, c in enumerate(numeric)}
    X = _columns(block, col, variables)
    Y = _columns(block, col, indicators)
    w_all = block[col[spec.weight]] if (opts.weights and spec.weight) else None
    notes = []

    xok = rep.complete_rows(variables)
    yok_any = ~rep.all_missing_rows(indicators)
    yok_all = rep.complete_rows(indicators)
    wok = np.ones(len(df), bool) if w_all is None else np.isfinite(w_all) & (w_all > 0)
    if opts.missing == "listwise" or opts.missing == "pillar":
        mimic_rows = xok & yok_all & wok
    else:  # fiml: pillars complete, at least one indicator
        mimic_rows = xok & yok_any & wok

    # ------------------------------------------------------------ pillars
    # One moments pass over every pillar variable (signed) feeds all the factor analyses
    # when the pillars share their rows (listwise, fiml); "pillar" keeps one pass each.
    # Listwise, the indicators are complete on those rows too and join the same pass,
    # which then also gives their means and SDs for the MIMIC.
    # Listwise, those rows are also the analysed matrix the fingerprint identifies; its
    # column digests are read from the same rows in place.
    sign_all = np.array([-1.0 if v in opts.negative else 1.0 for v in variables])
    shared = None
    with_y = opts.missing == "listwise"
    analysed = [col[c] for c in variables + indicators]
    if opts.missing != "pillar":
        if with_y:
            shared = _pillar_moments(block, analysed,
                                     np.concatenate([sign_all, np.ones(len(indicators))]),
                                     mimic_rows, w_all, variables + indicators, digest=True)
        else:
            shared = _pillar_moments(block, analysed[:p_tot], sign_all, xok & wok, w_all,
                                     variables)
    coder.start()
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
        if opts.missing == "pillar":
            rows = rep.complete_rows(vs) & wok
        elif opts.missing == "fiml":
            rows = xok & wok
        else:
            rows = mimic_rows
        sign = sign_all[idx]
        fs = opts.factor_settings(name)
        say(f"factor analysis {name}")
        fm = FactorAnalysis(n_factors=fs.retention, method=fs.extraction, rotation=fs.rotation,
                         scores=fs.scores, smc=fs.smc, heywood=fs.heywood, missing="error",
                         random_state=opts.seed)
        try:
            # with weights, regression / component weights use the unweighted correlations
            # (psych), which the shared pass does not hold: fit those pillars from rows
            if shared is not None and not (w_all is not None and (
                    fs.scores == "regression" or fs.extraction == "pca")):
                _fit_from_moments(fm, shared, idx, vs)
            else:
                Xk = pd.DataFrame(X[np.ix_(rows, idx)] * sign, columns=vs)
                fm.fit(Xk, sample_weight=None if w_all is None else w_all[rows])
        except RimaInputError as exc:
            raise type(exc)(f"pillar {name}: {exc}") from exc
        comb = fm.score_weights_.to_numpy() @ fm.variance_weights_
        mean[idx] = sign * fm.mean_
        scale[idx] = fm.scale_
        W[idx, k] = sign * comb
        flipped, anchor, acorr = False, None, None
        anc = opts.anchor_of(name)
        if anc is not None:
            anchor, want = anc
            a = numeric_matrix(df, [anchor])[:, 0]
            z = (X[np.ix_(rows, idx)] - mean[idx]) / scale[idx]
            score_k = z @ W[idx, k]
            both = ~np.isnan(a[rows])
            acorr = float(np.corrcoef(score_k[both], a[rows][both])[0, 1])
            if np.sign(acorr) != want:
                W[idx, k] *= -1.0
                flipped = True
                acorr = -acorr
        pillars[name] = PillarResult(name, tuple(vs), fm, tuple(v for v in vs if v in opts.negative),
                                     flipped, anchor, acorr, pd.Series(W[idx, k], index=vs),
                                     int(rows.sum()))

    m = len(indicators)
    K = len(names)
    # the pillar half of the scoring kernel: the MIMIC's causes now, the scores later.
    # Pillars, RCI and RCI_100 live in one (K + 2, n) block that becomes the score frame's
    # float columns as it is.
    out = np.empty((K + 2, len(df)))
    P = score_pillars(X, mean, scale, W, member, out=out[:K].T)

    # ------------------------------------------------------------ MIMIC
    mrows = np.flatnonzero(mimic_rows)
    if with_y:
        mu = shared[1]
        ymean = mu.mean[p_tot:].copy()
        ysd = np.sqrt(np.diag(mu.comoment)[p_tot:] / (mu.sum_weights - 1.0))
    else:
        Ym = Y[mimic_rows]
        ymean = np.nanmean(Ym, axis=0)
        ysd = np.nanstd(Ym, axis=0, ddof=1)
        del Ym
    # the MIMIC's data: z-scored indicators and pillars of its rows, gathered in one matrix
    # in the model's own column order (indicators, then causes), which the MIMIC then reads
    # without a copy; any other order would cost a reordering copy of the whole matrix
    Mm = np.empty((mrows.size, m + K))
    _gather(block, analysed[p_tot:], mrows, ymean, ysd, out=Mm)
    _gather(out, np.arange(K), mrows, out=Mm, col0=m)
    mdf = pd.DataFrame(Mm, columns=indicators + names, copy=False)
    syntax = f"RCI =~ {' + '.join(indicators)}\nRCI ~ {' + '.join(names)}"
    se = opts.mimic_se
    if (opts.weights or opts.missing == "fiml") and se == "robust.sem":
        se = "robust.huber.white"
        notes.append("MIMIC standard errors are robust.huber.white (robust.sem needs complete,"
                     " unweighted data)")
    say("MIMIC model")
    res = mimic_fit(syntax, mdf, estimator="ML", se=se,
                    missing="fiml" if opts.missing == "fiml" else "listwise",
                    sampling_weights=None if w_all is None else w_all[mimic_rows])
    del mdf, Mm
    icpt, cx, cy = _pattern_weights(res, opts.rci_prediction, m, len(names),
                                    allow_partial=opts.missing == "fiml")

    # ------------------------------------------------------------ scale and scores
    # the RCI half of the scoring kernel on the same pillars: the bits a loaded model.json
    # computes; RCI_100 is then the kernel's own affine map of RCI with the range now known
    rci, rci100 = predict_rci(P, Y, ymean, ysd, icpt, cx, cy, 0.0, 100.0, out=(out[K], out[K + 1]))
    scored, lo, hi = scale_rci(rci, rci100, mimic_rows, opts.rci_100)
    needed = variables + indicators + ([spec.weight] if w_all is not None else [])
    codes, reasons = _status(rep, df, numeric, needed, scored,
                             partial_ok=indicators if opts.missing == "fiml" else ())
    if w_all is not None:
        bad_w = ~wok & ~np.isnan(w_all) & ~scored
        if bad_w.any():
            reasons.append(f"non-positive weight in {spec.weight}")
            codes[bad_w] = len(reasons) - 1
    ids = df[spec.id]
    scores = score_frame(out, ids, id_values(ids), names, status_column(codes, reasons),
                         with_range=False)

    # ------------------------------------------------------------ RSM, profiles
    # the overall RSM and the profile tables are independent passes: run them side by side
    parts = run_parallel(lambda job: job(), [
        lambda: rsm_table(names, P, rci, scored, w_all, opts.rsm, res.params),
        lambda: profile_tables(scores, df, spec.profiles, names, w_all, opts.rsm, res.params,
                               ok=scored, pillars=P, coder=coder)], len(df))
    rsm, profs = parts

    metadata = {
        "rima_version": __version__,
        "training_fingerprint": (fingerprint_digests(mrows.size, shared[3]) if with_y
                                 else fingerprint_columns(block, analysed, mrows)),
        "n_rows": len(df), "n_scored": int(scored.sum()),
        "fit_summary": {k: float(res.fit_measures[k]) for k in
                        ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")
                        if k in res.fit_measures},
        "source": source,
    }
    model = FittedModel(
        spec_dict=spec.to_dict(), options=opts.to_dict(), pillar_names=names,
        variables=variables, mean=mean, scale=scale, weights=W, member=member,
        indicators=indicators, ymean=ymean, ysd=ysd, icpt=icpt, cx=cx, cy=cy, lo=lo, hi=hi,
        orientation={p.name: p.orientation for p in pillars.values()},
        prediction=opts.rci_prediction,
        mimic={"syntax": syntax, "se": se,
               "params": _records(res.params), "fit_measures": _plain(res.fit_measures)},
        metadata=metadata)
    counts = {}
    for c, k in zip(reasons, np.bincount(codes, minlength=len(reasons)).tolist()):
        if k:
            counts[c] = counts.get(c, 0) + k
    order = (["ok"] if "ok" in counts else []) + sorted(
        (s for s in counts if s != "ok"), key=lambda s: (-counts[s], s))
    accounting = pd.DataFrame({"status": order, "rows": [int(counts[s]) for s in order]})
    return RimaResult(scores=scores, data=df, spec=spec, options=opts, pillars=pillars,
                      mimic=res, rsm=rsm, profiles=profs, model=model, validation=rep,
                      accounting=accounting, notes=notes)


def _columns(block, col, names):
    """(n, k) view of the block's rows for `names` when they are consecutive (the spec's
    order), else a column-major copy."""
    j = [col[c] for c in names]
    if j and j == list(range(j[0], j[0] + len(j))):
        return block[j[0]:j[0] + len(j)].T
    return block[j].T


def _status(rep, df, numeric, needed, scored, partial_ok=()):
    """(codes, reasons) of every row: 0 "ok" when scored, else the columns missing, read
    from validate's per-row masks (bit j = numeric[j]; `needed` is a prefix of it)."""
    bad = np.flatnonzero(~scored)
    masks = rep.row_masks
    if masks is not None and list(numeric[:len(needed)]) == list(needed):
        return status_codes_from_keys(len(df), bad, masks[bad], needed, partial_ok)
    miss = df[needed].iloc[bad].isna().to_numpy() if bad.size else np.zeros((0, len(needed)))
    return status_codes(len(df), bad, miss, needed, partial_ok)


def _pillar_moments(block, cols, sign, rows, w, names, digest=False):
    """Moments of the signed block rows `cols` over `rows`: (n, unweighted Moments,
    weighted Moments or None, the fingerprint digests of those rows if `digest`). The
    pillars' correlation blocks, means and n - 1 SDs are all read from these; the rows are
    read in place, once (twice with weights), never copied out."""
    from rima._kernels.columns import column_digests
    from rima.errors import DataError
    from rima.moments import moments_of_rows

    idx = np.flatnonzero(rows)
    cols = np.asarray(cols, dtype=np.int64)
    mu = moments_of_rows(block, cols, idx, names=names)
    mw = None if w is None else moments_of_rows(block, cols, idx, w[idx], names=names)
    if mu is None or (w is not None and mw is None):
        raise DataError("the analysed values are too large for float64 cross-products; "
                        "rescale the columns (e.g. to thousands) first")
    dig = (column_digests(block.view(np.uint64), cols, idx) if digest
           else np.zeros(cols.size, dtype=np.uint64))
    # reversing a variable negates its mean and its row and column of the co-moment,
    # exactly (IEEE negation commutes with the sums), so no signed copy of X is made
    for mo in (mu, mw):
        if mo is not None:
            mo.mean = mo.mean * sign
            mo.comoment = mo.comoment * np.outer(sign, sign)
    return int(idx.size), mu, mw, dig


def _gather(block, cols, idx, shift=None, div=None, out=None, col0=0):
    """Rows `idx` of the block rows `cols` into out[:, col0:] as (x - shift) / div
    (`rima._kernels.columns.gather_rows`)."""
    k = len(cols)
    shift = np.zeros(k) if shift is None else np.asarray(shift, dtype=float)
    div = np.ones(k) if div is None else np.asarray(div, dtype=float)
    gather_rows(block, np.asarray(cols, dtype=np.int64), np.asarray(idx, dtype=np.int64),
                shift, div, out, col0)


def _fit_from_moments(fm, shared, idx, names):
    """FactorAnalysis.fit on the pillar's block of the shared moments: the same correlation
    matrix, mean and n - 1 SD as fitting the pillar's columns alone (the co-moment of two
    columns does not depend on the other columns of the pass)."""
    from rima.errors import DataError

    n, mu, mw = shared[:3]
    if n <= len(idx):
        raise DataError(f"{n} usable rows for {len(idx)} variables: need more rows than "
                        "variables")
    m2 = np.diag(mu.comoment)[idx]
    const = [names[j] for j in np.flatnonzero(~(m2 > 0))]
    if const:
        raise DataError(f"constant column(s) cannot enter a factor analysis: "
                        f"{', '.join(const)}")
    src = mu if mw is None else mw
    C = src.comoment[np.ix_(idx, idx)]
    d = np.sqrt(np.diag(C))
    R = C / np.outer(d, d)
    np.fill_diagonal(R, 1.0)
    fm.fit_correlation(R, n, names=names)
    fm.mean_ = mu.mean[idx].copy()
    fm.scale_ = np.sqrt(np.diag(mu.comoment)[idx] / (mu.sum_weights - 1.0))
    fm.rows_used_ = np.ones(n, dtype=bool)
    return fm


def _pattern_weights(res, method, m, k, allow_partial):
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

