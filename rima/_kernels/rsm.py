"""The Resilience Structure Matrix's rule: each pillar's share of the RCI.

Each pillar k has a signed value r_k, either its correlation with the RCI (from centred
second moments: `correlations`) or the MIMIC's standardised structural coefficient
gamma_k sd(x_k) / sd(eta) (`std_coefficients`, lavaan's std.all); its share is
100 |r_k| / sum |r| (`rsm_shares`). The fit (`rima.rsm`, the profile tables' RSM within each
category, the MIMIC parameter table's std.all) and every bootstrap replicate call these
kernels; only where the moments come from differs (a grouped pass over the scored rows in
the fit, the replicate's count-weighted co-moments in the bootstrap).
"""

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def correlations(sp, ss_p, ss_r):
    """(G, K) signed correlations sp / sqrt(ss_p ss_r) of K pillars with the RCI in G
    groups, from the centred cross-products sp (G, K) and sums of squares ss_p (G, K) and
    ss_r (G,) (NaN or infinite where a sum of squares is zero)."""
    G, K = sp.shape
    out = np.empty((G, K))
    for g in range(G):
        for k in range(K):
            out[g, k] = sp[g, k] / np.sqrt(ss_p[g, k] * ss_r[g])
    return out


@njit(cache=True, error_model="numpy")
def std_coefficients(gam, psi, sxx):
    """(K,) standardised coefficients gamma_k sd(x_k) / sd(eta) of the regression of the
    latent RCI on the K pillars: var(eta) = gamma' Sxx gamma + psi, Sxx (K, K) the pillars'
    covariance the MIMIC was fitted to, psi its residual variance."""
    K = gam.shape[0]
    ve = psi
    for k in range(K):
        for h in range(K):
            ve += gam[k] * sxx[k, h] * gam[h]
    sd_eta = np.sqrt(ve)
    out = np.empty(K)
    for k in range(K):
        out[k] = gam[k] * np.sqrt(sxx[k, k]) / sd_eta
    return out


@njit(cache=True, error_model="numpy")
def rsm_shares(signed):
    """(K,) shares 100 |r_k| / sum |r| of the pillars' signed values (K,)."""
    K = signed.shape[0]
    tot = 0.0
    for k in range(K):
        tot += abs(signed[k])
    out = np.empty(K)
    for k in range(K):
        out[k] = 100.0 * abs(signed[k]) / tot
    return out
