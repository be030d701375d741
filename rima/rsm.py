"""Resilience Structure Matrix: how much each pillar contributes to the RCI.

Reference definition (method.md §3): r_p = |corr(pillar_p, RCI)| and
RSM_p = 100 r_p / Σ r. The alternative uses the MIMIC's standardised structural
coefficients |γ_p (std.all)| in place of the correlations, which separates a pillar's own
effect from what it shares with the other pillars.
"""

import numpy as np
import pandas as pd


def weighted_corr(x, y, w=None):
    """Pearson correlation of two complete vectors, with optional frequency-like weights."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float)
    w = w / w.sum()
    dx = x - w @ x
    dy = y - w @ y
    return float((w * dx) @ dy / np.sqrt(((w * dx) @ dx) * ((w * dy) @ dy)))


def rsm_shares(pillars: pd.DataFrame, rci, weights=None, kind="correlation", mimic_params=None):
    """DataFrame (pillar, r, share) over the rows given (all complete).

    kind="correlation": r = |corr(pillar, RCI)|; kind="std_coefficient": r = |std.all| of
    the regression RCI ~ pillar in `mimic_params` (then the rows do not matter).
    """
    names = list(pillars.columns)
    if kind == "correlation":
        r = np.array([abs(weighted_corr(pillars[p].to_numpy(), rci, weights)) for p in names])
    elif kind == "std_coefficient":
        tab = mimic_params
        reg = tab[tab["op"] == "~"].set_index("rhs")
        r = np.abs(reg.loc[names, "std.all"].to_numpy(dtype=float))
    else:
        raise ValueError(f"unknown RSM kind {kind!r}")
    return pd.DataFrame({"pillar": names, "r": r, "share": 100.0 * r / r.sum()})
