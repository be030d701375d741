"""Difference-in-differences estimators with soum-clustered inference (`rima impact`).

- `twfe`: weighted two-way fixed effects (household effects by within-household demeaning,
  nested in the clusters) with the CRVE G/(G-1) x (N-1)/(N-K), K = slopes + 1;
- `WildTest` / `wild_bootstrap`: the wild cluster restricted bootstrap of one coefficient
  reduced to cluster-level arrays, the replications in `rima._kernels.wild`; the interval
  by inverting the test;
- `dr_did`: Sant'Anna and Zhao's (2020) doubly robust DiD for panel data with its
  influence function summed by cluster;
- `naive`, `fd_did`: the post-period difference in means and the DiD of household changes,
  linearised by cluster (so differences between subgroups get an SE).

Each estimate carries its cluster sums of the linearisation (`Fit.contrib`): the variance
of a difference of two estimates on the same clusters is G/(G-1) sum_g (a_g - b_g)^2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from rima.errors import DataError


@dataclass
class Fit:
    est: float
    se: float
    contrib: np.ndarray     # (G,) cluster sums of the estimate's linearisation
    df: int
    extra: dict = field(default_factory=dict)


def factor_codes(values):
    codes, uniq = pd.factorize(pd.Series(values), sort=True)
    return codes.astype(np.int64), uniq


def _within(M, hh, w, n_hh):
    """Weighted demeaning of the columns of M within household (the household effects)."""
    sw = np.bincount(hh, w, n_hh)
    out = np.empty_like(M)
    for j in range(M.shape[1]):
        mean = np.bincount(hh, w * M[:, j], n_hh) / sw
        out[:, j] = M[:, j] - mean[hh]
    return out


def _drop_dependent(Z, keep_first=0):
    """Columns of Z after `keep_first` that are not combinations of earlier ones."""
    cols = []
    for j in range(Z.shape[1]):
        trial = cols + [j]
        if np.linalg.matrix_rank(Z[:, trial], tol=1e-9 * max(1.0, np.abs(Z).max())) == len(trial):
            cols.append(j)
        elif j < keep_first:
            return None
    return cols


def twfe(y, X, Z, hh, w, cl, n_clusters):
    """WLS of y on [X, Z] with household effects (within), CRVE by cluster.

    Returns (beta_X, vcov_X, parts) with parts the arrays the wild bootstrap needs.
    """
    n_hh = int(hh.max()) + 1
    R = np.column_stack([X, Z]) if Z.shape[1] else X.copy()
    Rw = _within(R, hh, w, n_hh)
    yw = _within(y[:, None], hh, w, n_hh)[:, 0]
    keep = _drop_dependent(Rw, keep_first=X.shape[1])
    if keep is None:
        raise DataError("the treatment terms are collinear with the round effects "
                        "(is every household treated in the same rounds as it is observed?)")
    Rw = Rw[:, keep]
    WR = Rw * w[:, None]
    A = np.linalg.inv(Rw.T @ WR)
    beta = A @ (WR.T @ yw)
    resid = yw - Rw @ beta
    S = np.column_stack([np.bincount(cl, WR[:, k] * resid, n_clusters)
                         for k in range(Rw.shape[1])])
    N, K = len(y), Rw.shape[1] + 1
    c = n_clusters / (n_clusters - 1) * (N - 1) / (N - K)
    V = c * A @ (S.T @ S) @ A
    kx = X.shape[1]
    # linearisation of beta_X: rows of A R'W times the residual, summed by cluster
    contrib = S @ A[:kx].T        # (G, kx)
    parts = {"Rw": Rw, "yw": yw, "c": c, "kx": kx}
    return beta[:kx], V[:kx, :kx], contrib, parts


class WildTest:
    """The WCR test of H0: beta_j = b0 reduced to cluster-level arrays (`rima._kernels.wild`).

    parts : from `twfe`; j : the coefficient (column of X). `tstar(b0, v)` gives the
    bootstrap t statistics for cluster weights v (n_boot, G), `t_obs(b0)` the data's.
    """

    def __init__(self, parts, j, w, cl, n_clusters):
        Rw, yw = parts["Rw"], parts["yw"]
        self.c = parts["c"]
        x = Rw[:, j]
        O = np.delete(Rw, j, axis=1)
        WO = O * w[:, None]
        if O.shape[1]:
            A = np.linalg.inv(O.T @ WO)
            xt = x - O @ (A @ (WO.T @ x))
            e0 = yw - O @ (A @ (WO.T @ yw))
        else:
            A = np.zeros((0, 0))
            xt, e0 = x, yw
        wx = w * xt
        self.D = float(wx @ xt)
        self.beta = float(wx @ e0) / self.D
        G = n_clusters
        self.Dg = np.bincount(cl, wx * xt, G)
        self.s0 = np.bincount(cl, wx * e0, G)
        # restricted residual u(b0) = e0 - b0 xt, so every cluster sum is linear in b0
        self.c0 = np.column_stack([np.bincount(cl, WO[:, k] * e0, G) for k in range(O.shape[1])]) \
            if O.shape[1] else np.zeros((G, 0))
        self.c1 = np.column_stack([np.bincount(cl, WO[:, k] * xt, G) for k in range(O.shape[1])]) \
            if O.shape[1] else np.zeros((G, 0))
        self.r = self.c1 @ A
        u_hat = e0 - self.beta * xt
        self.se = float(np.sqrt(self.c * np.sum(np.bincount(cl, wx * u_hat, G) ** 2)) / self.D)

    def t_obs(self, b0):
        return (self.beta - b0) / self.se

    def tstar(self, b0, v):
        from rima._kernels.wild import wild_t

        s = self.s0 - b0 * self.Dg
        K = np.diag(s) - self.r @ (self.c0 - b0 * self.c1).T
        return wild_t(v, s, K, self.Dg, self.D, self.c)


def wild_bootstrap(parts, j, w, cl, n_clusters, level, n_boot, kind, seed):
    """WCR p-value of H0: beta_j = 0 and the interval by inverting the test."""
    from rima._kernels.wild import draw_weights, share_at_least

    test = WildTest(parts, j, w, cl, n_clusters)
    beta, se = test.beta, test.se
    v = draw_weights(kind, n_boot, n_clusters, seed)

    def pvalue(b0):
        return share_at_least(test.tstar(b0, v), test.t_obs(b0))

    p0 = pvalue(0.0)
    alpha = 1 - level
    crit = stats.t.ppf(0.5 + level / 2, n_clusters - 1)

    def bound(sign):
        # p(b0) is 1 at the estimate and falls away from it: widen, then bisect
        inner, step = beta, crit * se
        outer = beta + sign * step
        for _ in range(60):
            if pvalue(outer) <= alpha:
                break
            inner, outer = outer, beta + sign * (abs(outer - beta) * 2)
        else:
            return np.inf * sign
        for _ in range(40):
            mid = 0.5 * (inner + outer)
            if pvalue(mid) > alpha:
                inner = mid
            else:
                outer = mid
            if abs(outer - inner) < 1e-5 * se:
                break
        return 0.5 * (inner + outer)

    return {"beta": beta, "se": se, "p_wild": p0, "ci_wild_lower": bound(-1),
            "ci_wild_upper": bound(1)}


def _logit(X, d, w, maxiter=100):
    """Weighted logit by Newton-Raphson; (coef, fitted p, inverse information / n)."""
    beta = np.zeros(X.shape[1])
    for _ in range(maxiter):
        eta = np.clip(X @ beta, -35, 35)
        p = 1 / (1 + np.exp(-eta))
        g = X.T @ (w * (d - p))
        H = (X * (w * p * (1 - p))[:, None]).T @ X
        step = np.linalg.solve(H, g)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    else:
        raise DataError("the propensity-score logit did not converge (are treated and "
                        "control households perfectly separated by the covariates?)")
    eta = np.clip(X @ beta, -35, 35)
    p = 1 / (1 + np.exp(-eta))
    H = (X * (w * p * (1 - p))[:, None]).T @ X
    return beta, p, np.linalg.inv(H / len(d))


def dr_did(dy, d, X, w, cl, n_clusters):
    """Sant'Anna-Zhao doubly robust DiD (panel) with its influence function by cluster.

    dy : change of the outcome; d : 0/1 treated; X : covariates with a constant column;
    w : survey weights. Returns a Fit whose `contrib` are the cluster sums of psi / n.
    """
    n = len(dy)
    w = w / w.mean()
    _, ps, hess = _logit(X, d, w)
    ps = np.minimum(ps, 1 - 1e-6)
    wc = w * (1 - d)
    XpX = (X * wc[:, None]).T @ X
    gamma = np.linalg.solve(XpX, (X * wc[:, None]).T @ dy)
    m = X @ gamma
    w1 = w * d
    w0 = w * ps * (1 - d) / (1 - ps)
    eta1 = np.sum(w1 * (dy - m)) / np.sum(w1)
    eta0 = np.sum(w0 * (dy - m)) / np.sum(w0)
    att = eta1 - eta0
    # influence function (the estimator's first-order expansion, one term per household)
    lin_ols = (wc * (dy - m))[:, None] * X @ np.linalg.inv(XpX / n)
    lin_ps = (w * (d - ps))[:, None] * X @ hess
    inf_t = (w1 * (dy - m) - w1 * eta1 - lin_ols @ (w1[:, None] * X).mean(0)) / w1.mean()
    M2 = ((w0 * (dy - m - eta0))[:, None] * X).mean(0)
    M3 = (w0[:, None] * X).mean(0)
    inf_c = (w0 * (dy - m) - w0 * eta0 + lin_ps @ M2 - lin_ols @ M3) / w0.mean()
    psi = inf_t - inf_c
    contrib = np.bincount(cl, psi / n, n_clusters)
    se = float(np.sqrt(n_clusters / (n_clusters - 1) * np.sum(contrib ** 2)))
    return Fit(att, se, contrib, n_clusters - 1,
                {"psi": psi, "ps": ps, "ps_range": (float(ps[d == 0].min()), float(ps[d == 0].max()))})


def t_row(est, se, df, level):
    crit = stats.t.ppf(0.5 + level / 2, df)
    t = est / se if se > 0 else np.nan
    return {"est": est, "se": se, "ci_lower": est - crit * se, "ci_upper": est + crit * se,
            "pvalue": float(2 * stats.t.sf(abs(t), df)) if np.isfinite(t) else np.nan}


def check_covariates(X, names, d):
    """Name a covariate the doubly robust DiD cannot use, before any matrix is inverted."""
    for j, c in enumerate(names, start=1):
        for grp, sel in (("control", d == 0), ("all", np.ones(len(d), bool))):
            if np.ptp(X[sel, j]) == 0:
                raise DataError(f"covariate {c!r} does not vary among the {grp} households "
                                "of the baseline round; drop it from the covariates")
    rank = np.linalg.matrix_rank(X[d == 0])
    if rank < X.shape[1]:
        raise DataError(f"covariates {list(names)} are collinear among the control households")


def naive(ht, G, level, df):
    """Post-period weighted difference in means, SE from the cluster sums of its linearisation."""
    d, w, y, cl = ht["g"].to_numpy(), ht["w"].to_numpy(), ht["y_post"].to_numpy(), ht["cl"].to_numpy()
    m1 = np.sum(w * d * y) / np.sum(w * d)
    m0 = np.sum(w * (1 - d) * y) / np.sum(w * (1 - d))
    lin = w * d * (y - m1) / np.sum(w * d) - w * (1 - d) * (y - m0) / np.sum(w * (1 - d))
    contrib = np.bincount(cl, lin, G)
    se = float(np.sqrt(G / (G - 1) * np.sum(contrib ** 2)))
    return t_row(float(m1 - m0), se, df, level)


def fd_did(sub, G):
    """Plain DiD on household changes (= two-way FE with two periods), linearised by cluster."""
    d, w, dy, cl = sub["g"].to_numpy(), sub["w"].to_numpy(), sub["dy"].to_numpy(), sub["cl"].to_numpy()
    m1 = np.sum(w * d * dy) / np.sum(w * d)
    m0 = np.sum(w * (1 - d) * dy) / np.sum(w * (1 - d))
    lin = w * d * (dy - m1) / np.sum(w * d) - w * (1 - d) * (dy - m0) / np.sum(w * (1 - d))
    contrib = np.bincount(cl, lin, G)
    se = float(np.sqrt(G / (G - 1) * np.sum(contrib ** 2)))
    return Fit(float(m1 - m0), se, contrib, G - 1)
