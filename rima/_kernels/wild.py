"""Wild cluster bootstrap of one regression coefficient with the null imposed (WCR).

The caller reduces the regression to cluster-level quantities once (Frisch-Waugh on the
fixed effects and the other regressors; see `rima.analysis.impact`), so a replication is
O(G^2) in the number of clusters G and never touches the households again:

    beta* - b0 = sum_g v_g s_g / D
    S*_g       = sum_h K[g, h] v_h - (beta* - b0) D_g     (cluster score of the residual)
    t*         = (beta* - b0) D / sqrt(c sum_g S*_g^2)

with s_g the cluster sums of w x~ u~ (u~ the restricted residuals), K the G x G matrix
s_g 1[g = h] - r_g' c_h that carries the projection on the other regressors, D_g the
cluster sums of w x~^2 and c the small-sample factor of the CRVE. This is the algebra of
Roodman et al. (2019, "Fast and wild", Stata Journal 19(1)) for one coefficient.

Weights are drawn outside (numpy Generator seeded by the caller), so the kernel is a pure
function: the same arrays give the same statistics.
"""

import numpy as np
from numba import njit

WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def draw_weights(kind: str, n_boot: int, n_clusters: int, seed) -> np.ndarray:
    """(n_boot, G) cluster weights: Rademacher (+-1) or Webb's six-point distribution."""
    rng = np.random.default_rng(seed)
    if kind == "rademacher":
        return rng.integers(0, 2, size=(n_boot, n_clusters)).astype(np.float64) * 2.0 - 1.0
    if kind == "webb":
        return WEBB[rng.integers(0, 6, size=(n_boot, n_clusters))]
    raise ValueError(f"bootstrap weights must be 'rademacher' or 'webb', got {kind!r}")


@njit(cache=True, nogil=True)
def wild_t(v, s, K, Dg, D, c):
    """Bootstrap t statistics (n_boot,) of H0: beta = b0 for weights v (n_boot, G)."""
    B, G = v.shape
    out = np.empty(B)
    S = np.empty(G)
    for b in range(B):
        num = 0.0
        for g in range(G):
            num += v[b, g] * s[g]
        delta = num / D
        ss = 0.0
        for g in range(G):
            acc = 0.0
            for h in range(G):
                acc += K[g, h] * v[b, h]
            S[g] = acc - delta * Dg[g]
            ss += S[g] * S[g]
        den = np.sqrt(c * ss)
        out[b] = num / den if den > 0 else 0.0
    return out


@njit(cache=True, nogil=True)
def share_at_least(tstar, t_obs):
    """Symmetric bootstrap p-value: the share of |t*| at or above |t|."""
    a = abs(t_obs)
    k = 0
    for b in range(tstar.shape[0]):
        if abs(tstar[b]) >= a - 1e-12 * max(1.0, a):
            k += 1
    return k / tstar.shape[0]
