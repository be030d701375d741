"""Nonparametric bootstrap of the whole RIMA-II pipeline at interactive speed.

    boot = rima.bootstrap(result, n_boot=1000, seed=0)      # or rima.bootstrap(df, spec)
    boot.rsm            # pillar, share, se, ci_lower, ci_upper
    boot.mimic          # lhs op rhs est se ci.lower ci.upper (free MIMIC parameters)
    boot.profiles       # {profile variable: category, mean_RCI_100, se, ci_lower, ci_upper}
    boot.summary()

Each replicate resamples the analysed households with replacement and re-runs every
estimation step: the pillar factor analyses (principal axis, psych sign and order
conventions, Bartlett weights, variance weights, orientation), the MIMIC model by maximum
likelihood, the RCI prediction, the RSM, RCI_100's min-max scale and the profile means.
Intervals are percentile intervals over the replicates.

How it stays fast: a resample is a vector of integer counts, i.e. frequency weights, so a
replicate is a count-weighted moments pass over the analysed matrix followed by small
matrix work (see `rima._kernels.bootstrap`); replicates run in parallel in numba.

Choices, and why:

* The number of factors of each pillar is fixed at the fitted value. The retention rule is
  a model-selection step: letting it change between replicates would change what a pillar
  score *is* (a one-factor and a two-factor pillar are different variables) and turn the
  percentile intervals into a mixture of models; fixing it gives the sampling variability
  of the estimates of the model that was fitted, which is what the intervals describe
  (the same convention as lavaan's bootstrap, which keeps the model fixed). It also keeps
  the replicate cost independent of the cumvar95 rule's p-factor minres fit.
* Resampling is over the analysed households (after listwise deletion), so every replicate
  has the fitted sample size.
* Sign conventions are re-applied in every replicate by the fit's own rule
  (`rima._kernels.orient.orient_sign`, rima.orientation): the declared anchor; else, under
  orientation "capacity", the food-security composite when the replicate's correlation
  with it is decisive (|t| >= 1.96); else psych's positive loading sums. So a replicate
  orients a pillar as `rima.fit` on its rows would, which may be by another rule than the
  full sample's. `pillar_agreement` reports, per pillar, the
  share of replicates whose pillar score correlates negatively with the full-sample one:
  a non-zero share means the reference procedure's sign rule is unstable on these data
  (method.md §4) and an anchor is advisable.
* Replicate b's resample depends only on (seed, b), never on the thread count.

Every estimation rule is the fit's own kernel (`rima._kernels.factor.pillar_extract`,
`orthogonal_rotation` and `pillar_weights`, `rima._kernels.mimic.fisher_scoring` and
`prediction_weights`, `rima._kernels.orient.orient_sign` for the signs,
`rima._kernels.rsm` for the RSM shares, `rima._kernels.groups.group_moments` for the mean
RCI_100 by profile category and overall), with the fitted pillars'
own settings (`rima.factor.kernel_arguments`). Supported options: missing "listwise" or
"all_columns" (both resample the analysed households), extraction pa, pf or pca, rotation
none or varimax, every scores, smc and heywood setting, every prediction, RSM kind,
RCI_100 scale, orientation, anchor, negative and weights; mimic_se does not enter (the
intervals are percentiles). missing "pillar" / "fiml", extraction minres / ml and the
oblique rotations promax / oblimin are refused by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rima.errors import SpecError

_PRED = {"regression": 0, "bartlett": 1, "causes": 2}
_RSM = {"correlation": 0, "std_coefficient": 1}
_STATUS_TEXT = {1: "a variable was constant in the resample",
                2: "principal axis factoring failed (negative eigenvalue or non-finite weights)",
                3: "Heywood case (communality 1): Bartlett weights undefined, or "
                   "heywood = \"error\"",
                4: "the MIMIC estimation did not converge",
                5: "RCI was constant in the resample"}


@dataclass
class BootstrapResult:
    """Percentile intervals and the replicate draws (see the module docstring).

    Attributes
    ----------
    n_boot, seed : int
        Replicates drawn and the seed (replicate b depends only on (seed, b)).
    level : float
        Confidence level of the percentile intervals.
    rsm : DataFrame
        pillar, share, se, ci_lower, ci_upper.
    mimic : DataFrame
        lhs, op, rhs, est, se, ci.lower, ci.upper of the free MIMIC parameters.
    profiles : dict
        {profile variable: category, mean_RCI_100, se, ci_lower, ci_upper}.
    overall : DataFrame
        Mean RCI_100 with its interval.
    replicates : dict
        The draws behind each interval.
    failed : dict
        reason -> replicates that could not be fitted.
    pillar_agreement : DataFrame
        How the replicates' pillars agree with the fit's.
    elapsed : float
        Seconds taken.
    notes : list of str
    """

    n_boot: int
    seed: int
    level: float
    rsm: pd.DataFrame
    mimic: pd.DataFrame
    profiles: dict
    overall: pd.DataFrame
    replicates: dict
    failed: dict
    pillar_agreement: pd.DataFrame
    elapsed: float = 0.0
    notes: list = field(default_factory=list)

    def save(self, path: str | Path, formats: Iterable[str] = ("csv",)) -> Path:
        """Write the interval tables to a directory.

        Parameters
        ----------
        path : str or Path
            The directory (created if needed).
        formats : iterable of str, default ("csv",)
            One file per table and format: csv, tsv, parquet, dta, xlsx.

        Returns
        -------
        Path
            The directory, holding bootstrap_rsm, bootstrap_mimic, bootstrap_overall and
            bootstrap_profile_<var> tables.
        """
        from pathlib import Path

        from rima.io import write_table

        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        tables = {"bootstrap_rsm": self.rsm, "bootstrap_mimic": self.mimic,
                  "bootstrap_overall": self.overall}
        for var, tab in self.profiles.items():
            tables[f"bootstrap_profile_{var}"] = tab
        for fmt in dict.fromkeys(formats):
            for name, tab in tables.items():
                write_table(tab, out / f"{name}.{fmt}")
        return out

    def headline(self) -> dict:
        """Plain JSON-ready intervals: RSM shares and MIMIC structural coefficients.

        Returns
        -------
        dict
            n_boot, usable, seed, level, rsm {pillar: [lower, upper]}, coefficients
            {cause: [lower, upper]}, mean_RCI_100 [lower, upper].
        """
        return {"n_boot": self.n_boot, "usable": self.n_ok, "seed": self.seed,
                "level": self.level,
                "rsm": {r.pillar: [float(r.ci_lower), float(r.ci_upper)]
                        for r in self.rsm.itertuples()},
                "coefficients": {rhs: [float(lo), float(hi)] for rhs, op, lo, hi in zip(
                    self.mimic["rhs"], self.mimic["op"], self.mimic["ci.lower"],
                    self.mimic["ci.upper"]) if op == "~"},
                "mean_RCI_100": [float(self.overall["ci_lower"].iloc[0]),
                                 float(self.overall["ci_upper"].iloc[0])]}

    @property
    def n_ok(self) -> int:
        """Replicates that gave a usable fit."""
        return self.n_boot - sum(self.failed.values())

    def __repr__(self) -> str:
        return (f"<BootstrapResult: {self.n_boot} replicates (seed {self.seed}), {self.n_ok} "
                f"usable, {100 * self.level:g}% percentile intervals>")

    def _repr_html_(self) -> str:
        from rima.display import card_html

        return card_html("Bootstrap", [("replicates", f"{self.n_boot} ({self.n_ok} usable)"),
                                       ("seed", self.seed),
                                       ("intervals", f"{100 * self.level:g}% percentile")],
                         [("Resilience Structure Matrix", self.rsm, 2),
                          ("Mean RCI_100", self.overall, 2)])

    def summary(self) -> str:
        """The intervals as text (a `rima.display.Summary`).

        Returns
        -------
        str
        """
        from rima.display import Summary

        return Summary(self._summary_text())

    def _summary_text(self) -> str:
        pct = f"{100 * self.level:g}%"
        lines = [(f"Bootstrap: {self.n_boot} replicates (seed {self.seed}), {self.n_ok} usable, "
                 f"{pct} percentile intervals, {self.elapsed:.2f} s"), "",
                 "Resilience Structure Matrix (share of RCI, %)",
                 self.rsm.to_string(index=False, float_format=lambda v: f"{v:.2f}"), "",
                 "MIMIC parameters",
                 self.mimic.to_string(index=False, float_format=lambda v: f"{v:.4f}"), "",
                 "Mean RCI_100",
                 self.overall.to_string(index=False, float_format=lambda v: f"{v:.2f}")]
        for var, tab in self.profiles.items():
            lines += ["", f"Mean RCI_100 by {var}",
                      tab.to_string(index=False, float_format=lambda v: f"{v:.2f}")]
        flips = self.pillar_agreement
        if (flips["sign_flipped_share"] > 0).any():
            lines += ["", "Pillar sign flips across replicates (psych sign rule unstable):",
                      flips.to_string(index=False, float_format=lambda v: f"{v:.3f}")]
        for reason, cnt in self.failed.items():
            lines.append(f"note: {cnt} replicate(s) left out: {reason}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _percentiles(draws, level):
    a = (1.0 - level) / 2.0
    with np.errstate(all="ignore"):
        ok = np.isfinite(draws)
        lo = np.full(draws.shape[1], np.nan)
        hi = np.full(draws.shape[1], np.nan)
        se = np.full(draws.shape[1], np.nan)
        for j in range(draws.shape[1]):
            x = draws[ok[:, j], j]
            if x.size >= 2:
                lo[j], hi[j] = np.quantile(x, [a, 1.0 - a])
                se[j] = x.std(ddof=1)
    return se, lo, hi


@dataclass
class _Problem:
    """Arrays the kernel needs, built once from a fitted result."""

    V: np.ndarray
    w: np.ndarray
    use_w: bool
    pstart: np.ndarray
    nfac: np.ndarray
    fint: np.ndarray     # (K, 8) integer factor settings (see one_replicate)
    fflt: np.ndarray     # (K, 4) float factor settings
    m: int
    ycol: int
    anchor_col: np.ndarray
    anchor_sign: np.ndarray
    capacity: bool       # orientation = "capacity": the food-security rule applies
    theta0: np.ndarray
    layout: object
    pred: int
    rsm_kind: int
    fixed: tuple | None
    groups: np.ndarray
    categories: list  # (profile variable, category) per group code
    A0: np.ndarray
    names: list
    param_rows: list
    n_struct: int

    def args(self, seed, b0, nb, given):
        lay = self.layout
        lo, hi = self.fixed if self.fixed is not None else (0.0, 1.0)
        return (self.V, self.w, self.use_w, np.uint64(seed), b0, nb, given, self.pstart,
                self.nfac, self.fint, self.fflt, self.m, self.ycol, self.anchor_col,
                self.anchor_sign, self.capacity,
                self.theta0, lay.lam_idx, lay.lam_fix, lay.gam_idx, lay.b_idx, lay.psi_idx,
                lay.th_idx, lay.nu_idx, self.pred, self.rsm_kind, float(lo), float(hi),
                self.fixed is not None, self.groups, len(self.categories), self.A0)


# The fit's options the replicates cannot re-run, and why. Every other option value runs.
_BOOT_MISSING = ("listwise", "all_columns")
# oblique rotations stay out of the replicate kernel: compiling them there would add about
# a minute to every first bootstrap for an option few analyses use
_BOOT_ROTATIONS = ("none", "varimax")


def _check_supported(opts, result):
    """Raise SpecError naming each option value the bootstrap cannot re-estimate."""
    from rima.factor import KERNEL_METHODS

    bad = []
    if opts.missing not in _BOOT_MISSING:
        bad.append(f"missing = {opts.missing!r} (the bootstrap resamples complete households: "
                   "supported: listwise, all_columns)")
    for name in result.pillars:
        fs = opts.factor_settings(name)
        if fs.extraction not in KERNEL_METHODS:
            bad.append(f"factor.{name}.extraction = {fs.extraction!r} (supported: "
                       f"{', '.join(KERNEL_METHODS)}; {fs.extraction} is optimised by "
                       "L-BFGS-B outside the replicate kernel)")
        if fs.rotation not in _BOOT_ROTATIONS:
            bad.append(f"factor.{name}.rotation = {fs.rotation!r} (supported: "
                       f"{', '.join(_BOOT_ROTATIONS)})")
    if bad:
        raise SpecError("the bootstrap does not support these options: " + "; ".join(bad))


def _problem(result) -> _Problem:
    from rima.columns import numeric_matrix
    from rima.factor import kernel_arguments, scores_on_weighted
    from rima.mimic.estimate import make_layout
    from rima.profiles import MISSING_LABEL

    spec, opts, df = result.spec, result.options, result.data
    _check_supported(opts, result)
    names = list(spec.pillar_names)
    variables = list(spec.pillar_variables)
    indicators = list(spec.indicators)
    rows = analysed_rows(result)
    n = int(rows.sum())
    sign = np.array([-1.0 if v in opts.negative else 1.0 for v in variables])
    X = numeric_matrix(df, variables)[rows] * sign
    Y = numeric_matrix(df, indicators)[rows]
    anchors, anchor_col, anchor_sign = [], np.full(len(names), -1, np.int64), np.ones(len(names))
    for k, name in enumerate(names):
        anc = opts.anchor_of(name)
        if anc is None:
            continue
        col = numeric_matrix(df, [anc[0]])[rows, 0]
        if np.isnan(col).any():
            raise SpecError(f"[options.anchor] {name}: the anchor {anc[0]!r} has missing values "
                            "among the analysed households; the bootstrap needs it complete")
        anchor_col[k] = X.shape[1] + Y.shape[1] + len(anchors)
        anchor_sign[k] = anc[1]
        anchors.append(col)
    V = np.column_stack([X, Y] + anchors) if anchors else np.column_stack([X, Y])
    # centring at the full-sample means keeps the kernel's one-pass sums exact enough
    V = np.ascontiguousarray(V - V.mean(axis=0))
    use_w = bool(opts.weights and spec.weight)
    w = numeric_matrix(df, [spec.weight])[rows, 0] if use_w else np.ones(n)

    pstart = np.zeros(len(names) + 1, np.int64)
    nfac = np.zeros(len(names), np.int64)
    fint = np.zeros((len(names), 8), np.int64)
    fflt = np.zeros((len(names), 4))
    for k, name in enumerate(names):
        fm = result.pillars[name].model
        pstart[k + 1] = pstart[k] + len(spec.pillars[name])
        nfac[k] = result.pillars[name].n_factors
        # the fitted pillar's own settings, passed as the fit passes them to the kernel
        ka = kernel_arguments(fm.method, fm.rotation, fm.scores, fm.smc, fm.heywood, fm.mode)
        method, smc_start, min_err, max_iter, cap = ka.extract
        fint[k] = (method, smc_start, max_iter, ka.rotation, ka.rot_maxit, ka.bartlett,
                   fm.heywood == "error",
                   use_w and scores_on_weighted(fm.method, fm.weighted_scores))
        fflt[k] = (min_err, cap, ka.varimax_eps, ka.oblimin_eps)

    res = result.mimic
    layout = make_layout(res.model)
    theta0 = np.zeros(len(layout.rows))
    mat = res.matrices
    for j in range(len(indicators)):
        if layout.lam_idx[j] >= 0:
            theta0[layout.lam_idx[j]] = mat["lambda"][j]
        for i in range(len(indicators)):
            if layout.th_idx[j, i] >= 0:
                theta0[layout.th_idx[j, i]] = mat["theta"][j, i]
        for h in range(len(names)):
            if layout.b_idx[j, h] >= 0:
                theta0[layout.b_idx[j, h]] = mat["B"][j, h]
    for h in range(len(names)):
        theta0[layout.gam_idx[h]] = mat["gamma"][h]
    theta0[layout.psi_idx] = mat["psi"]

    # group codes over all profile variables, in the order of result.profiles' tables
    categories, cols = [], []
    for var in spec.profiles:
        tab = result.profiles.get(var) if result.profiles else None
        g = df[var].astype(object).where(df[var].notna(), MISSING_LABEL).to_numpy()[rows]
        cats = list(tab["category"]) if tab is not None else sorted(pd.unique(g), key=str)
        lookup = {str(c): len(categories) + i for i, c in enumerate(cats)}
        cols.append(np.array([lookup.get(str(v), -1) for v in g], dtype=np.int64))
        categories += [(var, c) for c in cats]
    groups = (np.vstack(cols) if cols else np.zeros((0, n), np.int64)).astype(np.int64)

    # full-sample pillar score weights on the centred V, for the sign-agreement diagnostic
    A0 = np.zeros((V.shape[1], len(names)))
    p_tot = len(variables)
    Wsigned = result.model.weights_ * sign[:, None]
    A0[:p_tot] = Wsigned / result.model.scale_[:, None]
    return _Problem(V=V, w=np.ascontiguousarray(w, dtype=float), use_w=use_w, pstart=pstart,
                    nfac=nfac, fint=fint, fflt=fflt, m=len(indicators), ycol=p_tot,
                    anchor_col=anchor_col, anchor_sign=anchor_sign,
                    capacity=opts.orientation == "capacity", theta0=theta0,
                    layout=layout, pred=_PRED[opts.rci_prediction], rsm_kind=_RSM[opts.rsm],
                    fixed=opts.rci_100, groups=np.ascontiguousarray(groups),
                    categories=categories, A0=A0, names=names,
                    param_rows=layout.rows[:layout.n_struct], n_struct=layout.n_struct)


def analysed_rows(result) -> np.ndarray:
    """The households the replicates resample: the fit's estimation sample (its scored
    rows; not the households scored from causes alone outside it, which have no
    indicators to enter a replicate's MIMIC)."""
    rows = getattr(result, "analysed", None)
    if rows is None:
        rows = result.scores["status"] == "ok"
    return np.asarray(rows, dtype=bool)


def _default_threads():
    from rima.config import num_threads

    return num_threads()


def replicate_counts(seed: int, b: int, n: int) -> np.ndarray:
    """How often each of n analysed households is drawn in replicate b (seed, b only)."""
    from rima._kernels.bootstrap import replicate_counts as rc

    return rc(np.uint64(seed), b, n)


def run_counts(result, counts, theta0=None) -> dict:
    """Run the pipeline's estimates on given resample counts (rows: replicates, columns: the
    analysed households in data order). With all counts 1 this is the full-sample fit.
    theta0: MIMIC starting values (layout order; default: the full-sample estimates)."""
    from rima._kernels.bootstrap import run_replicates

    prob = _problem(result)
    if theta0 is not None:
        prob.theta0 = np.asarray(theta0, dtype=float).copy()
    counts = np.ascontiguousarray(np.atleast_2d(counts), dtype=np.int64)
    out = run_replicates(*prob.args(0, 0, counts.shape[0], counts))
    return _raw(prob, out)


def _raw(prob, out):
    status, thetas, shares, prof, overall, agree = out
    return {"status": status, "theta": thetas[:, :prob.n_struct], "shares": shares,
            "profiles": prof, "overall": overall, "agreement": agree}


def is_fitted(obj) -> bool:
    """True for a fitted pipeline result (anything with `.mimic` and `.pillars`)."""
    return hasattr(obj, "mimic") and hasattr(obj, "pillars")


def _run_range(prob, seed, b0, nb):
    """Replicates b0 .. b0 + nb - 1 (a task on a dask worker, or a local thread)."""
    from rima._kernels.bootstrap import run_replicates

    empty = np.zeros((0, prob.V.shape[0]), np.int64)
    return run_replicates(*prob.args(seed, b0, nb, empty))


def _run_on_client(client, prob, seed, ranges, bar):
    """The replicate ranges as tasks on a dask.distributed client (the problem is sent to
    every worker once); replicate b depends only on (seed, b), so the results are those
    of one machine."""
    from distributed import as_completed

    shared = client.scatter(prob, broadcast=True)
    futs = [client.submit(_run_range, shared, seed, b0, nb, pure=False) for b0, nb in ranges]
    index = {f.key: i for i, f in enumerate(futs)}
    parts = [None] * len(ranges)
    for fut in as_completed(futs):
        i = index[fut.key]
        parts[i] = fut.result()
        if bar is not None:
            bar.update(ranges[i][1])
    return parts


def bootstrap(result_or_data, spec=None, n_boot=1000, seed=None, level=0.95, progress=True,
              threads=None, chunk=None, client=None) -> BootstrapResult:
    """Percentile bootstrap of RSM shares, MIMIC parameters and mean RCI_100 by profile.

    result_or_data: a `RimaResult` from `rima.fit`, or data (DataFrame or path) with `spec`.
    seed: defaults to the spec's `options.seed`. progress: tqdm bar on stderr over chunks.
    threads: worker threads (default: numba's thread count); results do not depend on it.
    client: a dask.distributed Client: the replicate ranges run on its workers instead,
    with the same results.
    """
    import time

    from rima._kernels.bootstrap import run_replicates

    if is_fitted(result_or_data):
        result = result_or_data
    elif spec is None:
        raise SpecError("rima.bootstrap(data, spec): a spec is needed to fit the data")
    else:  # fitting belongs to the layer above: rima.bootstrap (rima.pipeline) fits first
        raise SpecError("rima.resampling.bootstrap takes a fitted result; "
                        "rima.bootstrap(data, spec) fits the data first")
    if getattr(result, "data", None) is None:
        raise SpecError("the bootstrap resamples the analysed rows in memory, which a "
                        "partitioned (dask) fit does not hold; fit in memory first")
    n_boot = int(n_boot)
    if n_boot < 2:
        raise SpecError(f"n_boot = {n_boot}: the bootstrap needs at least 2 replicates")
    if not 0 < level < 1:
        raise SpecError(f"level = {level}: give a confidence level between 0 and 1")
    seed = int(result.options.seed if seed is None else seed)
    if seed < 0:
        raise SpecError(f"seed = {seed}: use a non-negative integer")
    prob = _problem(result)
    threads = max(1, int(threads or _default_threads()))
    chunk = int(chunk or max(25, -(-n_boot // (8 * threads))))
    empty = np.zeros((0, prob.V.shape[0]), np.int64)
    ranges = [(b0, min(chunk, n_boot - b0)) for b0 in range(0, n_boot, chunk)]
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_boot, desc="bootstrap", unit="rep", leave=False, disable=None)

    def work(rng):
        return run_replicates(*prob.args(seed, rng[0], rng[1], empty))

    parts = [None] * len(ranges)
    try:
        if client is not None:
            parts = _run_on_client(client, prob, seed, ranges, bar)
        elif threads == 1 or len(ranges) == 1:
            for i, rng in enumerate(ranges):
                parts[i] = work(rng)
                if bar is not None:
                    bar.update(rng[1])
        else:
            # the kernel releases the GIL: replicate ranges run in parallel; each range's
            # results depend only on (seed, b), so the split does not change them
            from concurrent.futures import ThreadPoolExecutor, as_completed

            with ThreadPoolExecutor(max_workers=threads) as pool:
                futs = {pool.submit(work, rng): i for i, rng in enumerate(ranges)}
                for fut in as_completed(futs):
                    parts[futs[fut]] = fut.result()
                    if bar is not None:
                        bar.update(ranges[futs[fut]][1])
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0
    out = tuple(np.concatenate([p[i] for p in parts]) for i in range(6))
    raw = _raw(prob, out)
    return _summarise(result, prob, raw, n_boot, seed, level, elapsed)


def _summarise(result, prob, raw, n_boot, seed, level, elapsed):
    from rima.profiles import weighted_mean_se

    good = raw["status"] == 0
    failed = {}
    for code, cnt in zip(*np.unique(raw["status"][~good], return_counts=True)):
        failed[_STATUS_TEXT.get(int(code), f"status {code}")] = int(cnt)
    names = prob.names
    sh = raw["shares"][good]
    se, lo, hi = _percentiles(sh, level)
    point = result.rsm.set_index("pillar").loc[names, "share"].to_numpy()
    rsm = pd.DataFrame({"pillar": names, "share": point, "se": se, "ci_lower": lo,
                        "ci_upper": hi})
    th = raw["theta"][good]
    se, lo, hi = _percentiles(th, level)
    tab = result.mimic.params.set_index(["lhs", "op", "rhs"])
    est = np.array([tab.loc[r, "est"] for r in prob.param_rows], dtype=float)
    mimic = pd.DataFrame(prob.param_rows, columns=["lhs", "op", "rhs"])
    mimic["est"] = est
    mimic["se"] = se
    mimic["ci.lower"] = lo
    mimic["ci.upper"] = hi
    pr = raw["profiles"][good]
    se, lo, hi = _percentiles(pr, level)
    profiles = {}
    for var in dict.fromkeys(v for v, _ in prob.categories):
        idx = [i for i, (v, _) in enumerate(prob.categories) if v == var]
        ptab = result.profiles.get(var) if result.profiles else None
        pt = (ptab["mean_RCI_100"].to_numpy() if ptab is not None
              else np.full(len(idx), np.nan))
        profiles[var] = pd.DataFrame({"category": [prob.categories[i][1] for i in idx],
                                      "mean_RCI_100": pt, "se": se[idx], "ci_lower": lo[idx],
                                      "ci_upper": hi[idx]})
    ov = raw["overall"][good][:, None]
    se, lo, hi = _percentiles(ov, level)
    ok = analysed_rows(result)
    w = (result.data[result.spec.weight].to_numpy(dtype=float)[ok]
         if prob.use_w else None)
    # the replicates' kernel (group_moments) on the fit's scores
    point = weighted_mean_se(result.scores["RCI_100"].to_numpy()[ok], w)[0]
    overall = pd.DataFrame({"quantity": ["mean RCI_100"], "estimate": [point], "se": se,
                            "ci_lower": lo, "ci_upper": hi})
    ag = raw["agreement"][good]
    agreement = pd.DataFrame({"pillar": names,
                              "sign_flipped_share": (ag < 0).mean(axis=0) if len(ag) else np.nan,
                              "median_corr_with_fit": np.median(ag, axis=0) if len(ag)
                              else np.nan})
    reps = {"rsm": pd.DataFrame(raw["shares"], columns=names),
            "mimic": pd.DataFrame(raw["theta"], columns=[" ".join(r).strip()
                                                         for r in prob.param_rows]),
            "profiles": (pd.DataFrame(raw["profiles"], columns=pd.MultiIndex.from_tuples(
                [(v, str(c)) for v, c in prob.categories])) if prob.categories
                else pd.DataFrame(index=range(n_boot))),
            "mean_RCI_100": pd.Series(raw["overall"]),
            "status": pd.Series(raw["status"])}
    notes = ["numbers of factors fixed at the fitted values "
             + ", ".join(f"{p}={k}" for p, k in zip(names, prob.nfac))]
    return BootstrapResult(n_boot=n_boot, seed=seed, level=level, rsm=rsm, mimic=mimic,
                           profiles=profiles, overall=overall, replicates=reps, failed=failed,
                           pillar_agreement=agreement, elapsed=elapsed, notes=notes)
