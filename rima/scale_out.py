"""Scale-out with dask: moments of data too large for one machine's memory, merged exactly.

Each partition is summarised by the same stable moments kernel as in-memory data and the
summaries are merged in partition order (`rima.moments.merge_moments`), so the result does
not depend on how dask schedules the work. Factor analysis and the MIMIC model need only
these moments (`FactorAnalysis.fit_correlation`, `rima.mimic.fit(sample_cov=..., ...)`).
Requires the optional extra `dask`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima.errors import DataError
from rima.labels import rsm_signed_label
from rima.moments import Moments, compute_moments, merge_moments


def _require_dask():
    try:
        import dask
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise DataError("scale-out needs dask: pip install 'rima[dask]'") from exc
    return dask


def _partition_summary(frame, columns, weight):
    """Moments of the partition's complete rows, and how many rows each column excluded."""
    used = [*columns, *([weight] if weight else [])]
    values = frame[used].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    complete = finite.all(axis=1)
    # the first absent column names the reason a row is excluded, as in row accounting
    first_bad = np.argmin(finite[~complete], axis=1)
    excluded = {used[j]: int(c) for j, c in zip(*np.unique(first_bad, return_counts=True))}
    rows = values[complete]
    if rows.shape[0] == 0:
        return None, excluded
    X = rows[:, : len(columns)]
    w = rows[:, len(columns)] if weight else None
    return compute_moments(X, weights=w, names=list(columns)), excluded


def compute_moments_dask(ddf, columns, weight=None) -> tuple[Moments, dict[str, int]]:
    """Moments of `columns` over a dask DataFrame's complete rows.

    Returns the merged moments and, per column, the number of rows excluded because that
    column was the first one missing (or non-finite) in the row, so nothing is dropped
    without being counted.
    """
    dask = _require_dask()
    columns = list(columns)
    absent = [c for c in [*columns, *([weight] if weight else [])] if c not in ddf.columns]
    if absent:
        raise DataError(f"column(s) not in the data: {', '.join(absent)}")
    summaries = [dask.delayed(_partition_summary)(part, columns, weight)
                 for part in ddf.to_delayed()]
    results = dask.compute(*summaries)
    excluded: dict[str, int] = {}
    for _moments, part_excluded in results:
        for col, count in part_excluded.items():
            excluded[col] = excluded.get(col, 0) + count
    parts = [m for m, _ in results if m is not None]
    if not parts:
        raise DataError("no complete rows in any partition")
    return merge_moments(parts), excluded


def score_dask(model, ddf):
    """Score a dask DataFrame partition by partition with a fitted or loaded model.

    Returns a lazy dask DataFrame with the same columns `model.score` gives (id, pillars,
    RCI, RCI_100, status, out_of_range), one row per input row in input order; every row
    is scored on the model's training scale, so partitioning cannot change a score.
    """
    _require_dask()
    absent = [c for c in model.required_columns if c not in ddf.columns]
    if absent:
        # fail before any partition runs, with the same message as in-memory scoring
        model.score(ddf.head(0))
    meta = model.score(ddf._meta.astype({c: "float64" for c in model.required_columns
                                         if c != model.id}))
    return ddf.map_partitions(model.score, meta=meta)


# ------------------------------------------------------------------ the partitioned fit
#
# The fit on data that never sits in one memory runs the in-memory fit's own steps
# (`rima.pipeline`): each pass below reads and validates one partition at a time on a
# worker and returns a small summary; the client merges the summaries in partition order
# (centred pairwise merges: `merge_moments`, `gamma_from_blocks`) and runs the factor
# analyses and the MIMIC on the merged moments.
#   pass 1: validation + moments of the pillar variables and indicators (listwise rows)
#   pass 2: pillar scores -> moments of the MIMIC's data, fingerprint digests
#   pass 3: RCI -> its training range, lavaan's Gamma features (robust.sem), RSM moments
#   pass 4: scores and row status written as one Parquet file per partition


def partitions(data):
    """[(label, delayed frame)] of a dask DataFrame, a directory or a glob of Parquet or
    CSV files (sorted by name; the label is the file, so errors name it)."""
    import glob
    from pathlib import Path

    dask = _require_dask()
    if _is_dask_frame(data):
        return [(f"partition {i + 1}", part) for i, part in enumerate(data.to_delayed())]
    path = str(data)
    if Path(path).is_dir():
        files = sorted(str(f) for f in Path(path).iterdir()
                       if f.suffix.lower() in (".parquet", ".csv", ".pq"))
    else:
        files = sorted(glob.glob(path))
    if not files:
        raise DataError(f"no Parquet or CSV partitions in {path}")
    from rima.io import read_table

    return [(f, dask.delayed(read_table)(f)) for f in files]


def _is_dask_frame(data) -> bool:
    mod = type(data).__module__
    return mod.startswith("dask") and hasattr(data, "to_delayed")


def is_partitioned(data) -> bool:
    """True for data the partitioned fit takes: a dask DataFrame, a directory or a glob."""
    from pathlib import Path

    if _is_dask_frame(data):
        return True
    if isinstance(data, (str, Path)):
        s = str(data)
        return Path(s).is_dir() or any(ch in s for ch in "*?[")
    return False


def check_options(spec):
    """SpecError naming every option the partitioned fit does not support."""
    from rima.errors import SpecError

    opts = spec.options
    bad = []
    if opts.missing != "listwise":
        bad.append(f"missing = {opts.missing!r} (the partitioned fit is listwise)")
    if opts.weights:
        bad.append("weights = true (weighted MIMIC SEs need every row on one machine)")
    if opts.rsm != "correlation" and opts.rsm != "std_coefficient":
        bad.append(f"rsm = {opts.rsm!r}")
    if bad:
        raise SpecError("the dask engine does not support option(s): " + "; ".join(bad)
                        + "; fit in memory (--engine memory) instead")


def _one_thread():
    """Partitions are the unit of parallelism (one worker process per core): the kernels'
    own threads would only contend with the other workers' (numba's setting is per
    thread, so every task sets it)."""
    import numba

    numba.set_num_threads(1)


def _fit_input(frame, spec, label):
    from rima.pipeline import fit_input
    from rima.validation import validate

    _one_thread()

    rep = validate(frame, spec, source=label)
    rep.raise_if_errors()
    return fit_input(frame, spec, rep, label)


def _pass_moments(frame, spec, label):
    """Pass 1: (rows, analysed rows, Moments of the signed variables and the indicators)."""
    from rima.pipeline import pillar_moments

    inp = _fit_input(frame, spec, label)
    summ = inp.rep.summary[["role", "N", "missing", "min", "max", "mean"]]
    n_an = int(inp.mimic_rows.sum())
    if n_an == 0:
        return len(frame), 0, None, summ
    sign = np.concatenate([inp.sign, np.ones(len(inp.indicators))])
    sh = pillar_moments(inp.block, inp.analysed, sign, inp.mimic_index, None,
                        inp.variables + inp.indicators, row_mask=inp.mimic_rows)
    return len(frame), n_an, sh.unweighted, summ


def merge_summaries(parts):
    """The validation summary over all partitions: N and missing add up, min and max of
    the parts, the mean weighted by N (medians need every value and are left out)."""
    first = parts[0]
    N = sum(p["N"] for p in parts)
    total = sum(p["mean"].fillna(0.0) * p["N"] for p in parts)
    out = first[["role"]].copy()
    out["N"] = N
    out["missing"] = sum(p["missing"] for p in parts)
    out["min"] = pd.concat([p["min"] for p in parts], axis=1).min(axis=1)
    out["max"] = pd.concat([p["max"] for p in parts], axis=1).max(axis=1)
    out["mean"] = (total / N).where(N > 0)
    return out


def _pass_anchor(frame, spec, label, idx, mean, scale, wk, anchor):
    """Moments of (pillar score, anchor) over the pillar's rows where the anchor is known."""
    from rima.columns import numeric_matrix

    inp = _fit_input(frame, spec, label)
    rows = inp.mimic_rows
    a = numeric_matrix(frame, [anchor])[:, 0][rows]
    score = ((inp.X[np.ix_(rows, idx)] - mean) / scale) @ wk
    both = ~np.isnan(a)
    if not both.any():
        return None
    return compute_moments(np.column_stack([score[both], a[both]]))


def _pass_orient(frame, spec, label, pil, ymean, ysd):
    """Moments of (pillars, food-security composite) over the analysed rows where both are
    finite: the composite is the mean of the indicators z-scored with the merged means and
    SDs (`rima.orientation.composite` on all rows)."""
    import warnings

    inp, _out, P = _pillars_of(frame, spec, label, pil)
    sd = ysd.copy()
    sd[~(sd > 0)] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fs = np.nanmean((inp.Y - ymean) / sd, axis=1)
    res = []
    for k in range(P.shape[1]):
        sel = inp.mimic_rows & np.isfinite(P[:, k]) & np.isfinite(fs)
        res.append(compute_moments(np.column_stack([P[sel, k], fs[sel]]))
                   if sel.any() else None)
    return res


def _pillars_of(frame, spec, label, pil):
    from rima._kernels.score import score_pillars

    inp = _fit_input(frame, spec, label)
    K = len(inp.names)
    out = np.empty((K + 2, len(frame)))
    P = score_pillars(inp.X, pil.mean, pil.scale, pil.W, pil.member, out=out[:K].T)
    return inp, out, P


def _mimic_matrix(inp, out, ymean, ysd):
    from rima.pipeline import gather_columns

    m, K = len(inp.indicators), len(inp.names)
    mrows = np.flatnonzero(inp.mimic_rows)
    Mm = np.empty((mrows.size, m + K))
    gather_columns(inp.block, inp.analysed[len(inp.variables):], mrows, ymean, ysd, out=Mm,
                   then=(out, np.arange(K)))
    return Mm


def _pass_mimic(frame, spec, label, pil, ymean, ysd, offset):
    """Pass 2: Moments of the MIMIC's data (z-scored indicators, pillars) and the
    fingerprint digests of the analysed rows (position offset: rows before)."""
    from rima._kernels.columns import column_digests

    inp, out, _P = _pillars_of(frame, spec, label, pil)
    Mm = _mimic_matrix(inp, out, ymean, ysd)
    cols = np.asarray(inp.analysed, dtype=np.int64)
    mrows = np.flatnonzero(inp.mimic_rows).astype(np.int64)
    dig = column_digests(inp.block.view(np.uint64), cols, mrows, offset)
    mo = compute_moments(Mm) if Mm.shape[0] else None
    return mo, dig


def _rci_of(inp, out, P, mim):
    from rima._kernels.score import predict_rci

    K = len(inp.names)
    return predict_rci(P, inp.Y, mim.ymean, mim.ysd, mim.icpt, mim.cx, mim.cy, 0.0, 100.0,
                       out=(out[K], out[K + 1]))


def _pass_rci(frame, spec, label, pil, mim, b_ols, zmean):
    """Pass 3: the RCI's training min and max, Gamma's feature blocks and the moments of
    (pillars, RCI) over the scored rows (the RSM's correlations)."""
    from rima._kernels.rci_scale import training_range
    from rima.mimic.inference import gamma_feature_blocks_at

    inp, out, P = _pillars_of(frame, spec, label, pil)
    rci, _r100 = _rci_of(inp, out, P, mim)
    scored, lo, hi = training_range(rci, np.ascontiguousarray(inp.mimic_rows))
    m, K = len(inp.indicators), len(inp.names)
    mrows = np.flatnonzero(inp.mimic_rows)
    blocks = None
    if mrows.size:
        # the MIMIC's rows read where they lie (z-scored indicators, pillars), not gathered
        blocks = gamma_feature_blocks_at(inp.block, inp.analysed[len(inp.variables):],
                                         mim.ymean, mim.ysd, out, np.arange(K), mrows, None,
                                         zmean[:m], zmean[m:], b_ols)
    rs = None
    if scored.any():
        rs = compute_moments(np.column_stack([P[scored], rci[scored]]))
    return float(lo), float(hi), blocks, rs


def _write_atomic(frame, path):
    import os

    tmp = f"{path}.tmp"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _pass_write(frame, spec, label, pil, mim, lo, hi, out_dir, i, row0):
    """Pass 4: the partition's scores and row status, one Parquet file each."""
    from rima._kernels.score import scale_rci
    from rima.pipeline import ScaledScores, score_table, status_counts

    inp, out, P = _pillars_of(frame, spec, label, pil)
    rci, r100 = _rci_of(inp, out, P, mim)
    # every row the model predicts is scored; the profiles describe the estimation sample
    scored, lo, hi, analysed = scale_rci(rci, r100, inp.score_rows, (lo, hi),
                                         range_rows=inp.fit_rows)
    sc = ScaledScores(rci=rci, rci100=r100, scored=scored, lo=lo, hi=hi,
                      mimic_rows=inp.mimic_rows, analysed=analysed)
    tab = score_table(inp, sc, out)
    groups = _group_moments(frame, spec, analysed, r100, P, rci, row0)
    name = f"part-{i:05d}.parquet"
    _write_atomic(tab.scores, f"{out_dir}/scores/{name}")
    _write_atomic(tab.scores[[spec.id, "status"]], f"{out_dir}/status/{name}")
    return status_counts(tab.codes, tab.reasons), int(analysed.sum()), groups


def _group_moments(frame, spec, scored, r100, P, rci, row0):
    """{profile variable: {category: (Moments of (RCI_100, pillars, RCI) over the scored
    households of the category, its first row in the whole data)}}."""
    from rima.profiles import group_codes

    out = {}
    Z = np.column_stack([r100, P, rci])
    for var in spec.profiles:
        codes, labels = group_codes(frame[var])
        cats = {}
        for g in np.unique(codes[scored]):
            rows = np.flatnonzero(scored & (codes == g))
            cats[labels[g]] = (compute_moments(Z[rows]), row0 + int(rows[0]))
        out[var] = cats
    return out


def merge_profiles(spec, parts, n_design, mimic_params):
    """The profile tables from the partitions' category moments, merged per category in
    partition order (`rima.profiles.table_from_moments`)."""
    from rima.profiles import table_from_moments
    from rima.rsm import GroupMoments

    names = list(spec.pillar_names)
    K = len(names)
    tables = {}
    for var in spec.profiles:
        by_label = {}
        for part in parts:
            for lab, (mo, first) in part[var].items():
                by_label.setdefault(lab, []).append((mo, first))
        labels = list(by_label)
        mos = [merge_moments([m for m, _ in by_label[lab]]) for lab in labels]
        first = np.array([min(f for _, f in by_label[lab]) for lab in labels])
        count = np.array([mo.n_obs for mo in mos])
        gm = GroupMoments(
            count=count, sum_w=count.astype(float), first=first,
            mean_y=np.array([mo.mean[0] for mo in mos]),
            ss_y=np.array([mo.comoment[0, 0] for mo in mos]),
            mean_p=np.array([mo.mean[1:K + 1] for mo in mos]).reshape(len(mos), K),
            mean_r=np.array([mo.mean[K + 1] for mo in mos]),
            ss_p=np.array([np.diag(mo.comoment)[1:K + 1] for mo in mos]).reshape(len(mos), K),
            ss_r=np.array([mo.comoment[K + 1, K + 1] for mo in mos]),
            sp_pr=np.array([mo.comoment[1:K + 1, K + 1] for mo in mos]).reshape(len(mos), K))
        tables[var] = table_from_moments(gm, labels, n_design, False, names,
                                         spec.options.rsm, mimic_params)
    return tables


def fit_dask(data, spec, out=None, progress=None):
    """Fit the RIMA-II model on partitioned data with dask: the in-memory fit's steps on
    moments merged exactly over partitions (see the module notes above).

    Parameters
    ----------
    data : dask DataFrame, directory or glob of Parquet / CSV files
    spec : Spec, dict or path
    out : directory, optional
        Where scores/part-*.parquet and status/part-*.parquet are written (one file per
        input partition, same order); a temporary directory when not given.
    progress : callable, optional

    Returns
    -------
    PartitionedResult

    Raises
    ------
    SpecError
        An option the partitioned fit does not support (listwise, unweighted, no anchor).
    DataError
        A partition fails validation (the message names its file and row).
    """
    import os
    import shutil
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from rima import orientation as orient
    from rima._kernels.rsm import correlations as rsm_correlations
    from rima.fingerprint import fingerprint_digests
    from rima.mimic import fit as mimic_fit
    from rima.mimic.inference import gamma_from_blocks, ols_slopes
    from rima.pipeline import (
        ScaledScores,
        SharedMoments,
        accounting_from_counts,
        build_model,
        food_security_flips,
        mimic_result,
        mimic_se,
        mimic_syntax,
        pillar_step,
    )
    from rima.rsm import share_table, std_coefficients
    from rima.spec import load_spec

    dask = _require_dask()
    say = progress or (lambda step: None)
    spec = load_spec(spec)
    spec.options.check_spec(spec)
    check_options(spec)
    parts = partitions(data)
    labels = [lab for lab, _ in parts]
    frames = [fr for _, fr in parts]
    names = list(spec.pillar_names)
    m, K = len(spec.indicators), len(names)
    p_tot = len(spec.pillar_variables)

    say(f"moments of {len(parts)} partitions")
    r1 = dask.compute(*[dask.delayed(_pass_moments)(f, spec, lab)
                        for f, lab in zip(frames, labels)])
    n_rows = sum(r[0] for r in r1)
    n_an = [r[1] for r in r1]
    parts_with_rows = [r[2] for r in r1 if r[2] is not None]
    if not parts_with_rows:
        raise DataError("no row of any partition has every analysis variable")
    mu = merge_moments(parts_with_rows)
    validation = merge_summaries([r[3] for r in r1])
    shared = SharedMoments(n=mu.n_obs, unweighted=mu, weighted=None, digests=None)

    def from_rows(*_a):
        raise DataError("internal: the partitioned fit has no rows on the client")

    def anchor_corr(name, vs, idx, mean, scale, wk, anchor):
        say(f"orientation of {name} by {anchor}")
        got = dask.compute(*[dask.delayed(_pass_anchor)(f, spec, lab, idx, mean, scale, wk,
                                                        anchor)
                             for f, lab in zip(frames, labels)])
        return float(merge_moments([g for g in got if g is not None]).corr()[0, 1])

    pil = pillar_step(spec, shared, say, from_rows, anchor_corr, lambda vs: mu.n_obs,
                      weighted=False)
    ymean = mu.mean[p_tot:].copy()
    ysd = np.sqrt(np.diag(mu.comoment)[p_tot:] / (mu.sum_weights - 1.0))
    # the tasks get the scoring arrays only, not the fitted objects (whose per-row
    # attributes would travel with every task)
    arrays = replace(pil, pillars={})
    if spec.options.orientation == "capacity":
        say("pillar orientation")
        got = dask.compute(*[dask.delayed(_pass_orient)(f, spec, lab, arrays, ymean, ysd)
                             for f, lab in zip(frames, labels)])
        rn = []
        for k in range(K):
            mo = [g[k] for g in got if g[k] is not None]
            if not mo:
                rn.append((float("nan"), 0))
                continue
            mk = merge_moments(mo)
            d = np.sqrt(np.diag(mk.comoment))
            r = float(mk.comoment[0, 1] / (d[0] * d[1])) if d[0] > 0 and d[1] > 0 else \
                float("nan")
            rn.append((r, mk.n_obs) if mk.n_obs >= 3 else (float("nan"), mk.n_obs))
        food_security_flips(pil.pillars, pil.W, rn, spec.options)
        arrays = replace(pil, pillars={})

    say("MIMIC moments")
    offsets = np.concatenate([[0], np.cumsum(n_an)[:-1]]).astype(np.int64)
    r2 = dask.compute(*[dask.delayed(_pass_mimic)(f, spec, lab, arrays, ymean, ysd, int(o))
                        for f, lab, o in zip(frames, labels, offsets)])
    mz = merge_moments([r[0] for r in r2 if r[0] is not None])
    digests = np.zeros(len(r2[0][1]), dtype=np.uint64)
    for _mo, d in r2:
        digests += d  # the digest is a sum mod 2^64 over positions
    syntax = mimic_syntax(spec)
    se, notes = mimic_se(spec.options)
    say("MIMIC model")
    point = mimic_fit(syntax, estimator="ML", se="standard", sample_moments=mz)
    mim0 = mimic_result(spec.options, point, syntax, se, ymean, ysd, m, K, notes)
    cov = mz.comoment / mz.n_obs
    b_ols = ols_slopes(cov[m:, m:], cov[:m, m:])

    say("RCI range, robust SE moments, RSM")
    light = replace(mim0, result=None)
    r3 = dask.compute(*[dask.delayed(_pass_rci)(f, spec, lab, arrays, light, b_ols, mz.mean)
                        for f, lab in zip(frames, labels)])
    lo = min(r[0] for r in r3)
    hi = max(r[1] for r in r3)
    from rima._kernels.rci_scale import choose_range

    lo, hi = choose_range(lo, hi, spec.options.rci_100)
    gamma = gamma_from_blocks([r[2] for r in r3 if r[2] is not None], b_ols, mz.n_obs)
    res = mimic_fit(syntax, estimator="ML", se=se, sample_moments=mz, gamma=gamma)
    mim = mimic_result(spec.options, res, syntax, se, ymean, ysd, m, K, notes)
    orient.warn_all([msg for p in pil.pillars.values()
                     for msg in orient.weight_warnings(p.name, p.weights, p.negative)]
                    + orient.coefficient_warnings(res.params, names))
    if spec.options.rsm == "correlation":
        rs = merge_moments([r[3] for r in r3 if r[3] is not None])
        C = rs.comoment
        r = rsm_correlations(np.ascontiguousarray(C[None, :K, K]),
                             np.ascontiguousarray(np.diag(C)[None, :K]),
                             np.array([C[K, K]]))[0]
    else:
        r = std_coefficients(res.params, names)
    rsm = share_table(names, r)

    light = replace(mim, result=None)
    say("scores and row status")
    final = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="rima-fit-"))
    final.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".rima-parts-", dir=final))
    (work / "scores").mkdir()
    (work / "status").mkdir()
    try:
        row0 = np.concatenate([[0], np.cumsum([r[0] for r in r1])[:-1]]).astype(np.int64)
        r4 = dask.compute(*[dask.delayed(_pass_write)(f, spec, lab, arrays, light, lo, hi,
                                                      str(work), i, int(row0[i]))
                            for i, (f, lab) in enumerate(zip(frames, labels))])
        written = sorted(os.listdir(work / "scores"))
        if len(written) != len(parts):  # never hand back a partial dataset
            raise DataError(f"{len(written)} of {len(parts)} score partitions were written")
        for sub in ("scores", "status"):
            if (final / sub).exists():
                shutil.rmtree(final / sub)
            os.replace(work / sub, final / sub)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = {}
    for part_counts, _ns, _g in r4:
        for k, v in part_counts.items():
            counts[k] = counts.get(k, 0) + v
    n_analysed = sum(ns for _c, ns, _g in r4)
    profiles = merge_profiles(spec, [g for _c, _ns, g in r4], n_analysed, res.params)
    sc = ScaledScores(rci=None, rci100=None, scored=np.ones(n_analysed, bool), lo=lo, hi=hi,
                      mimic_rows=None, analysed=np.ones(n_analysed, bool))
    model = build_model(spec, pil, mim, sc, fingerprint=fingerprint_digests(mz.n_obs, digests),
                        n_rows=n_rows, source=None if _is_dask_frame(data) else str(data))
    return PartitionedResult(spec=spec, pillars=pil.pillars, mimic=res, rsm=rsm, model=model,
                             accounting=accounting_from_counts(counts), n_rows=n_rows,
                             out=final, partitions=labels, notes=notes,
                             validation=validation, profiles=profiles)


class PartitionedResult:
    """Result of the partitioned fit: the in-memory result's parts except the scores,
    which stay on disk as `out/scores/part-*.parquet` (with `out/status/part-*.parquet`,
    one file per input partition)."""

    def __init__(self, spec, pillars, mimic, rsm, model, accounting, n_rows, out,
                 partitions, notes, validation=None, profiles=None):
        self.spec, self.options = spec, spec.options
        self.pillars, self.mimic, self.rsm, self.model = pillars, mimic, rsm, model
        self.accounting, self.n_rows, self.out = accounting, n_rows, out
        self.partitions, self.notes = partitions, notes
        self.profiles = profiles or {}
        self.validation = validation  # merged per-variable summary (no medians)
        self.data = None  # the rows stay in their partitions

    @property
    def scores(self):
        """The scores as a lazy dask DataFrame (input order, partition by partition)."""
        import dask.dataframe as dd

        return dd.read_parquet(str(self.out / "scores"))

    def summary(self) -> str:
        signed = rsm_signed_label(self.spec.options.rsm)
        lines = ["RIMA-II resilience analysis (partitioned fit)", "=" * 72,
                 f"households: {self.n_rows} in {len(self.partitions)} partitions",
                 "", "Data (all partitions)",
                 self.validation.to_string(float_format=lambda v: f"{v:.3f}")
                 if self.validation is not None else "",
                 "", ("Resilience Structure Matrix (share of RCI, %; " + signed
                      + ": the sign the share drops)"),
                 self.rsm[["pillar", "share", "r_signed"]]
                 .rename(columns={"r_signed": signed})
                 .to_string(index=False, float_format=lambda v: f"{v:.2f}"),
                 "", "Row accounting", self.accounting.to_string(index=False)]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"scores and row status: {self.out}/scores, {self.out}/status")
        return "\n".join(lines)

    def save(self, path=None):
        """rsm.csv, mimic.csv, accounting.csv and model.json beside the partitioned scores."""
        from pathlib import Path

        from rima.io import write_table

        out = Path(path) if path is not None else self.out
        out.mkdir(parents=True, exist_ok=True)
        write_table(self.rsm[["pillar", "share", "r_signed"]], out / "rsm.csv")
        write_table(self.mimic.params, out / "mimic.csv")
        write_table(self.accounting, out / "accounting.csv")
        if self.validation is not None:
            write_table(self.validation.reset_index(), out / "validation.csv")
        for var, tab in self.profiles.items():
            write_table(tab, out / f"profile_{var}.csv")
        self.model.save(out / "model.json")
        return out


def _score_partition(frame, model, out_dir, i, classes=None, keep=()):
    _one_thread()
    scores = model.score(frame)
    if classes is not None or keep:
        from rima.classes import class_labels

        missing = [c for c in keep if c not in frame.columns]
        if missing:
            raise DataError(f"--keep names column(s) partition {i + 1} lacks: "
                            + ", ".join(missing))
        if classes is not None:
            ok = (scores["status"] == "ok").to_numpy()
            at = scores.columns.get_loc("RCI_100") + 1
            scores.insert(at, "class", class_labels(classes, scores["RCI_100"], ok))
        for j, c in enumerate(c for c in keep if c not in scores.columns):
            scores.insert(1 + j, c, frame[c].to_numpy())
    _write_atomic(scores, f"{out_dir}/part-{i:05d}.parquet")
    ok = scores["status"] == "ok"
    counts = scores["status"].value_counts(sort=False).to_dict()
    return len(scores), int(ok.sum()), int(scores["out_of_range"].sum()), counts


def score_partitions(model, data, out_dir, classes=None, keep=()):
    """Score partitioned data with a saved model, one Parquet file per input partition
    (`out_dir/part-00000.parquet`, ... in input order), each partition scored by
    `FittedModel.score` on a worker: the same scores as in memory, bit for bit, with
    memory per worker bounded by one partition; `classes` (a `rima.classes.ClassScheme`)
    adds the resilience class beside RCI_100 and `keep` carries input columns, as
    `rima score` does in memory. Returns (rows, scored, out_of_range, {status: rows}).
    The files appear only when every partition has been scored."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    dask = _require_dask()
    parts = partitions(data)
    final = Path(out_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".rima-score-", dir=final.parent))
    try:
        res = dask.compute(*[dask.delayed(_score_partition)(fr, model, str(work), i,
                                                            classes, tuple(keep))
                             for i, (_lab, fr) in enumerate(parts)])
        if len(os.listdir(work)) != len(parts):
            raise DataError(f"{len(os.listdir(work))} of {len(parts)} partitions were written")
        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = {}
    for r in res:
        for k, v in r[3].items():
            counts[k] = counts.get(k, 0) + int(v)
    return (sum(r[0] for r in res), sum(r[1] for r in res), sum(r[2] for r in res), counts)


class cluster:
    """Context manager: a dask.distributed client for `scheduler` ("local": a
    LocalCluster of `workers` processes on 127.0.0.1 without a dashboard; else the
    address of a running `dask scheduler`), closed with everything it started."""

    def __init__(self, scheduler="local", workers=None):
        self.scheduler, self.workers = scheduler, workers
        self.client = self._cluster = None

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - exercised only without the extra
            raise DataError("the dask engine needs dask.distributed: "
                            "pip install 'rima[dask]'") from exc
        if self.scheduler in (None, "local"):
            self._cluster = LocalCluster(n_workers=self.workers or 2, threads_per_worker=1,
                                         processes=True, host="127.0.0.1",
                                         dashboard_address=None)
            self.client = Client(self._cluster)
        else:
            self.client = Client(self.scheduler)
        return self.client

    def __exit__(self, *exc):
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        return False
