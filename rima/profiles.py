"""Results by profile variable (soum, sex of head, ...): any number of profile variables.

For each category: households, sum of weights, weighted mean RCI_100 with its standard
error and 95 % confidence interval, weighted pillar means and the RSM within the group.

The standard error is the linearised one of a domain mean (a ratio estimator) in a
one-stage design with sampling weights, as R's survey::svyby(~y, ~group, svymean) computes
it: sqrt(N/(N-1) Σ_{i in group} w_i² (y_i - ȳ)²) / Σ_{i in group} w_i, where N counts all
scored households (the group is a domain of the sample, its size is random). The interval
uses Student's t with n_group - 1 degrees of freedom.

All categories of a profile variable come from one grouped pass over the scored rows
(`rima._kernels.groups.group_moments`); the one-vector `weighted_mean_ci` is the same
kernel with one group, so both give the same bits for the same households.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy import special

from rima._kernels import rsm as _rk
from rima.errors import RimaInputError
from rima.rsm import group_stats, std_coefficients

MISSING_LABEL = "(missing)"
# from this many rows on, profile variables are tabulated in threads (factorising a column
# and the grouped kernel both release the GIL); below it threads cost more than they save
PARALLEL_ROWS = 100_000


def run_parallel(fn, items, n_rows):
    """[fn(x) for x in items], in threads when there are several items and n_rows is
    large; each call is independent, so the results do not depend on the scheduling."""
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1)
    if workers < 2 or n_rows < PARALLEL_ROWS:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def _se(ss, sw, n):
    """Linearised SE from Σ w² (y - ȳ)², Σ w and the design's sample size."""
    if n < 2:
        return np.nan
    return float(np.sqrt(n / (n - 1) * ss) / sw)


def _interval(mean, se, n, level):
    t = special.stdtrit(n - 1, 0.5 + level / 2) if n > 1 else np.nan
    return mean - t * se, mean + t * se


def weighted_mean_se(y, w=None, n_design=None):
    """Weighted mean and its linearised SE; `n_design` = sample size of the whole design."""
    y = np.asarray(y, dtype=float).reshape(-1)
    n = y.size if n_design is None else int(n_design)
    gm = group_stats(np.zeros(y.size, dtype=np.int64), 1, y, w=w)
    return float(gm.mean_y[0]), _se(gm.ss_y[0], gm.sum_w[0], n)


def weighted_mean_ci(values, weights=None, level=0.95, n_design=None):
    """(mean, se, lower, upper) of one vector, as survey::svymean and confint(df = n - 1).

    `n_design` is the sample size of the whole design when `values` is one domain of it
    (see the module docstring); by default the vector is the whole sample. The interval
    uses Student's t with len(values) - 1 degrees of freedom; with one value the SE and
    the bounds are NaN.
    """
    if not 0 < level < 1:
        raise RimaInputError(f"level must be in (0, 1), got {level!r}")
    mean, se = weighted_mean_se(values, weights, n_design)
    lower, upper = _interval(mean, se, np.size(values), level)
    return mean, se, lower, upper


class GroupCoder:
    """`group_codes` of some profile columns in one background thread for large data
    (factorising strings releases the GIL), so it can overlap other work: `start()` sets
    it going, `codes(data, var)` waits for that column's result (or computes it if it was
    never started), `close()` ends the thread."""

    def __init__(self, data, profile_vars, n_rows):
        self._data = data
        self._vars = list(profile_vars) if n_rows >= PARALLEL_ROWS else []
        self._pool = None
        self._jobs = {}

    def start(self):
        if self._vars and self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1)
            self._jobs = {v: self._pool.submit(group_codes, self._data[v]) for v in self._vars}

    def codes(self, data, var):
        job = self._jobs.get(var)
        return job.result() if job is not None else group_codes(data[var])

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._jobs = {}


def group_codes(groups: pd.Series):
    """(codes (n,) int32, this call's own array, labels): the category of every row,
    missing values as the category MISSING_LABEL. Categoricals use their codes; other
    columns are factorised in their own dtype (no conversion of every cell to a Python
    object). 32-bit codes: half the memory of 64-bit ones at 10 million rows."""
    if isinstance(groups.dtype, pd.CategoricalDtype):
        codes = groups.cat.codes.to_numpy().astype(np.int32)
        labels = list(groups.cat.categories.astype(object))
    elif getattr(groups.dtype, "storage", None) == "pyarrow":
        codes, labels = _arrow_codes(groups)
    else:
        codes, uniques = pd.factorize(groups, use_na_sentinel=True)
        codes = np.array(codes, dtype=np.int32)
        labels = list(pd.Index(uniques).astype(object))
    missing = codes < 0
    if missing.any():
        # a category literally named like the missing label is the same group, as it is
        # when the column is read with missing cells filled by that label
        at = next((k for k, v in enumerate(labels) if isinstance(v, str) and v == MISSING_LABEL),
                  None)
        if at is None:
            labels.append(MISSING_LABEL)
            at = len(labels) - 1
        codes[missing] = at
    return codes, labels


def _arrow_codes(groups: pd.Series):
    """pd.factorize's codes and labels of an Arrow-backed string column (order of first
    appearance, -1 for missing), straight from Arrow's dictionary encoding: about half
    pandas' time, which converts the result on the way."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = groups.array.__arrow_array__()
    if isinstance(arr, pa.ChunkedArray):
        # one dictionary for every row
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    enc = pc.dictionary_encode(arr, null_encoding="mask")
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    return codes, enc.dictionary.to_pylist()


def _table(codes, labels, ok, rci100, pillars, rci, w, pillar_names, rsm_kind, mimic_params,
           level):
    # `group_codes`' own array: the rows left out are marked in place (no second array)
    np.putmask(codes, ~ok, -1)
    gm = group_stats(codes, len(labels), rci100, pillars, rci, w)
    return table_from_moments(gm, labels, int(ok.sum()), w is not None, pillar_names,
                              rsm_kind, mimic_params, level)


def table_from_moments(gm, labels, n_design, weighted, pillar_names, rsm_kind="correlation",
                       mimic_params=None, level=0.95):
    """The profile table from the groups' moments (`rima.rsm.GroupMoments`, one entry per
    label; `first` orders ties), e.g. moments merged over partitions; `n_design` counts
    all scored households."""
    # the share drops the sign, so each category keeps its signed value beside it
    signed = gm.corr() if rsm_kind == "correlation" else None
    if rsm_kind == "std_coefficient":
        std_signed = std_coefficients(mimic_params, pillar_names)
    elif rsm_kind != "correlation":
        raise ValueError(f"unknown RSM kind {rsm_kind!r}")
    present = np.flatnonzero(gm.count > 0)
    # categories ordered by their label, ties kept in order of first appearance
    present = sorted(present[np.argsort(gm.first[present], kind="stable")],
                     key=lambda c: str(labels[c]))
    recs = []
    for g in present:
        n = int(gm.count[g])
        mean = float(gm.mean_y[g])
        se = _se(gm.ss_y[g], gm.sum_w[g], n_design)
        lower, upper = _interval(mean, se, n, level)
        rec = {"category": labels[g], "households": n,
               "sum_weights": float(gm.sum_w[g] if weighted else n),
               "mean_RCI_100": mean, "se": se, "ci_lower": lower, "ci_upper": upper}
        for j, p in enumerate(pillar_names):
            rec[f"mean_{p}"] = float(gm.mean_p[g, j])
        if n > 2:
            r_signed = signed[g] if signed is not None else std_signed
            shares = _rk.rsm_shares(np.array(r_signed, dtype=float))
            for p, share in zip(pillar_names, shares):
                rec[f"rsm_{p}"] = float(share)
            for p, value in zip(pillar_names, r_signed):
                rec[f"r_signed_{p}"] = float(value)
        else:
            for p in pillar_names:
                rec[f"rsm_{p}"] = np.nan
            for p in pillar_names:
                rec[f"r_signed_{p}"] = np.nan
        recs.append(rec)
    return pd.DataFrame(recs)


def _score_arrays(scores, pillar_names, weights, ok=None):
    if ok is None:
        ok = (scores["status"] == "ok").to_numpy()
    rci100 = scores["RCI_100"].to_numpy(dtype=float)
    rci = scores["RCI"].to_numpy(dtype=float)
    # column-major: the grouped kernel reads one pillar at a time
    pillars = np.stack([scores[p].to_numpy(dtype=float) for p in pillar_names]).T
    w = None if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    return np.asarray(ok, dtype=bool), rci100, pillars, rci, w


def profile_table(scores: pd.DataFrame, groups: pd.Series, pillar_names, weights=None,
                  rsm_kind="correlation", mimic_params=None, level=0.95):
    """One row per category of `groups` over the rows of `scores` with status "ok"."""
    pillar_names = list(pillar_names)
    ok, rci100, pillars, rci, w = _score_arrays(scores, pillar_names, weights)
    codes, labels = group_codes(groups)
    return _table(codes, labels, ok, rci100, pillars, rci, w, pillar_names, rsm_kind,
                  mimic_params, level)


def profiles(scores, data, profile_vars, pillar_names, weights=None, rsm_kind="correlation",
             mimic_params=None, ok=None, pillars=None, coder=None):
    """{profile variable: table} for every profile variable.

    `ok` (bool, the rows with status "ok") and `pillars` (n, K) may be passed by a caller
    that holds them already, to skip reading them back from `scores`; `coder` (a
    GroupCoder) by one that started factorising the profile columns earlier."""
    pillar_names = list(pillar_names)
    if not profile_vars:
        return {}
    if ok is None or pillars is None:
        ok, rci100, pillars, rci, w = _score_arrays(scores, pillar_names, weights, ok)
    else:
        rci100 = scores["RCI_100"].to_numpy(dtype=float)
        rci = scores["RCI"].to_numpy(dtype=float)
        w = None if weights is None else np.asarray(weights, dtype=float).reshape(-1)

    def table(v):
        codes, labels = group_codes(data[v]) if coder is None else coder.codes(data, v)
        return _table(codes, labels, ok, rci100, pillars, rci, w, pillar_names, rsm_kind,
                      mimic_params, 0.95)

    profile_vars = list(profile_vars)
    return dict(zip(profile_vars, run_parallel(table, profile_vars, len(ok))))
