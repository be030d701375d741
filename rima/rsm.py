"""Resilience Structure Matrix: how much each pillar contributes to the RCI.

Reference definition (method.md §3): r_p = |corr(pillar_p, RCI)| and
RSM_p = 100 r_p / Σ r. The tables keep the signed value beside the share (`r_signed`).
The alternative uses the MIMIC's standardised structural
coefficients |γ_p (std.all)| in place of the correlations, which separates a pillar's own
effect from what it shares with the other pillars.

The correlations come from `rima._kernels.groups.group_moments`, which also gives them
within every category of a profile variable in the same pass (`rima.profiles`). The rule
itself (correlations from those moments, standardised coefficients, shares) is
`rima._kernels.rsm`, which every bootstrap replicate runs too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from rima._kernels import rsm as _rk
from rima._kernels.columns import read_only
from rima._kernels.groups import group_moments


class GroupMoments(NamedTuple):
    """`rima._kernels.groups.group_moments` output, one entry per group."""

    count: np.ndarray
    sum_w: np.ndarray
    first: np.ndarray
    mean_y: np.ndarray
    ss_y: np.ndarray
    mean_p: np.ndarray
    mean_r: np.ndarray
    ss_p: np.ndarray
    ss_r: np.ndarray
    sp_pr: np.ndarray

    def corr(self) -> np.ndarray:
        """(G, K) correlations of each P column with r within each group."""
        f = np.float64
        return _rk.correlations(np.ascontiguousarray(self.sp_pr, dtype=f),
                            np.ascontiguousarray(self.ss_p, dtype=f),
                            np.ascontiguousarray(self.ss_r, dtype=f))


def group_stats(codes, n_groups, y, P=None, r=None, w=None) -> GroupMoments:
    """Weighted moments by group (see `group_moments`); codes -1 = row left out. P (n, K)
    is read column by column: a column-major P is used without a copy."""
    f = np.float64
    y = np.ascontiguousarray(y, dtype=f).reshape(-1)
    n = y.shape[0]
    Pt = np.empty((0, n)) if P is None else np.ascontiguousarray(np.asarray(P, dtype=f).T)
    r = y if r is None else np.ascontiguousarray(r, dtype=f).reshape(-1)
    use_w = w is not None
    w = np.ascontiguousarray(w, dtype=f).reshape(-1) if use_w else np.empty(0)
    if Pt.ndim != 2 or Pt.shape[1] != n or r.shape[0] != n or (use_w and w.shape[0] != n):
        raise ValueError("values, pillars, RCI and weights must have the same rows")
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    codes, y, Pt, r, w = (read_only(a) for a in (codes, y, Pt, r, w))
    return GroupMoments(*group_moments(codes, int(n_groups), y, Pt, r, w, use_w))


def weighted_corr(x, y, w=None):
    """Pearson correlation of two complete vectors, with optional frequency-like weights."""
    x = np.asarray(x, dtype=float).reshape(-1)
    gm = group_stats(np.zeros(x.shape[0], dtype=np.int64), 1, x, x[:, None], y, w)
    return float(gm.corr()[0, 0])


def share_table(names, signed) -> pd.DataFrame:
    """DataFrame (pillar, r, share, r_signed) from the pillars' signed values (correlations
    with the RCI or standardised coefficients): r = |signed|, share = 100 r / sum(r).
    The share drops the sign, so `r_signed` travels with it: a pillar whose value is negative
    pulls the RCI down as it rises."""
    signed = np.array(signed, dtype=float)
    return pd.DataFrame({"pillar": list(names), "r": np.abs(signed),
                         "share": _rk.rsm_shares(signed), "r_signed": signed})


def std_coefficients(mimic_params: pd.DataFrame, names) -> np.ndarray:
    """std.all of the regressions RCI ~ pillar (signed), in the order of `names`."""
    reg = mimic_params[mimic_params["op"] == "~"].set_index("rhs")
    return reg.loc[list(names), "std.all"].to_numpy(dtype=float)


def rsm_table(names, P, rci, rows, weights=None, kind="correlation", mimic_params=None):
    """`rsm_shares` over the rows where `rows` (bool) is True of the pillars P (n, K) and
    rci (n,), without copying them out."""
    names = list(names)
    if kind == "correlation":
        codes = np.asarray(rows, dtype=np.int64) - 1  # 0: in, -1: left out
        r = group_stats(codes, 1, rci, P, rci, weights).corr()[0]
    elif kind == "std_coefficient":
        r = std_coefficients(mimic_params, names)
    else:
        raise ValueError(f"unknown RSM kind {kind!r}")
    return share_table(names, r)


def rsm_from_comoment(names, comoment, coef, kind="correlation", mimic_params=None):
    """`rsm_table` when the RCI is a fixed linear prediction, rci = c0 + coef @ z, of the
    columns z whose co-moment matrix over the rows is `comoment` (the MIMIC's data: its
    indicators, then the pillars in the order of `names`, last): corr(pillar, RCI) is then
    (C coef)_k / sqrt(C_kk coef' C coef), with no pass over the rows."""
    names = list(names)
    if kind != "correlation":
        return rsm_table(names, None, None, None, kind=kind, mimic_params=mimic_params)
    C = np.asarray(comoment, dtype=float)
    coef = np.asarray(coef, dtype=float)
    first = C.shape[0] - len(names)
    cov_r = C @ coef
    r = _rk.correlations(np.ascontiguousarray(cov_r[None, first:]),
                         np.ascontiguousarray(np.diag(C)[None, first:]),
                         np.array([coef @ cov_r]))[0]
    return share_table(names, r)


def rsm_shares(pillars: pd.DataFrame, rci, weights=None, kind="correlation", mimic_params=None):
    """DataFrame (pillar, r, share, r_signed) over the rows given (all complete).

    kind="correlation": r = |corr(pillar, RCI)|; kind="std_coefficient": r = |std.all| of
    the regression RCI ~ pillar in `mimic_params` (then the rows do not matter).
    """
    names = list(pillars.columns)
    if kind == "correlation":
        P = pillars.to_numpy(dtype=float)
        gm = group_stats(np.zeros(P.shape[0], dtype=np.int64), 1, rci, P, rci, weights)
        r = gm.corr()[0]
    elif kind == "std_coefficient":
        r = std_coefficients(mimic_params, names)
    else:
        raise ValueError(f"unknown RSM kind {kind!r}")
    return share_table(names, r)
