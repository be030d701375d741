"""lavaan's fitMeasures for the MIMIC model with fixed causes.

The baseline model keeps the causes' covariances fixed and makes the indicators mutually
independent and independent of the causes (lavaan's baseline with fixed.x), so
baseline.df = m(m+1)/2 + m k - m.
"""

import numpy as np
from scipy import optimize, stats


def _rmsea_ci(x2, df, n, level=0.90):
    """lavaan's RMSEA confidence limits from the noncentral chi-square."""
    if df <= 0 or not np.isfinite(x2):
        return np.nan, np.nan
    lo_p, hi_p = (1 + level) / 2, (1 - level) / 2

    def solve(target):
        f = lambda lam: stats.ncx2.cdf(x2, df, lam) - target
        if stats.chi2.cdf(x2, df) < target:
            return 0.0
        hi = max(x2, 1.0)
        while f(hi) > 0:
            hi *= 2
        return optimize.brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-14)

    lo = solve(lo_p)
    hi = solve(hi_p)
    return np.sqrt(lo / (n * df)), np.sqrt(hi / (n * df))


def _ncx2_sf(x2, df, ncp):
    return stats.chi2.sf(x2, df) if ncp == 0 else stats.ncx2.sf(x2, df, ncp)


def incremental(x2, df, bx2, bdf, prefix=""):
    out = {}
    cfi_den = max(x2 - df, bx2 - bdf, 0.0)
    out["cfi"] = 1.0 if cfi_den == 0 else 1.0 - max(x2 - df, 0.0) / cfi_den
    if df > 0 and bdf > 0:
        t1, t2 = bx2 / bdf, x2 / df
        out["tli"] = (t1 - t2) / (t1 - 1.0)
        out["nnfi"] = out["tli"]
        out["rfi"] = (t1 - t2) / t1
    else:
        out["tli"] = out["nnfi"] = 1.0
        out["rfi"] = np.nan
    out["nfi"] = (bx2 - x2) / bx2
    out["pnfi"] = (df / bdf) * out["nfi"]
    out["ifi"] = (bx2 - x2) / (bx2 - df)
    out["rni"] = 1.0 - (x2 - df) / (bx2 - bdf)
    return out


def rmsea_block(x2, df, n, suffix="", c=1.0):
    """RMSEA, its 90 % CI and close-fit p-values; c > 1 gives lavaan's robust variant."""
    out = {}
    if df > 0:
        out["rmsea"] = np.sqrt(max(x2 / (n * df) - c / n, 0.0))
    else:
        out["rmsea"] = 0.0
    if c == 1.0:
        lo, hi = _rmsea_ci(x2, df, n)
        out["rmsea.ci.lower"], out["rmsea.ci.upper"] = lo, hi
        out["rmsea.pvalue"] = _ncx2_sf(x2, df, n * df * 0.05 ** 2) if df > 0 else np.nan
        out["rmsea.notclose.pvalue"] = (1.0 - _ncx2_sf(x2, df, n * df * 0.08 ** 2)
                                        if df > 0 else np.nan)
    else:
        # The robust RMSEA interval of Brosseau-Liard & Savalei: the interval of the
        # scaled statistic, rescaled by sqrt(c).
        xs = x2 / c
        lo, hi = _rmsea_ci(xs, df, n)
        out["rmsea.ci.lower"], out["rmsea.ci.upper"] = lo * np.sqrt(c), hi * np.sqrt(c)
        out["rmsea.pvalue"] = _ncx2_sf(xs, df, n * df * 0.05 ** 2 / c) if df > 0 else np.nan
        out["rmsea.notclose.pvalue"] = (1.0 - _ncx2_sf(xs, df, n * df * 0.08 ** 2 / c)
                                        if df > 0 else np.nan)
    return {k + suffix if suffix else k: v for k, v in out.items()}


def srmr(s, sig, m):
    """Bentler's SRMR over the covariance elements of (y, x) (no mean structure)."""
    p = s.shape[0]
    sd = np.sqrt(np.diag(s))
    res = (s - sig) / np.outer(sd, sd)
    il = np.tril_indices(p)
    srmr_b = np.sqrt(np.mean(res[il] ** 2))
    rmr = np.sqrt(np.mean((s - sig)[il] ** 2))
    sds = np.sqrt(np.diag(sig))
    res_m = s / np.outer(sd, sd) - sig / np.outer(sds, sds)
    return {"rmr": rmr, "rmr_nomean": rmr, "srmr": srmr_b, "srmr_bentler": srmr_b,
            "srmr_bentler_nomean": srmr_b, "srmr_mplus": np.sqrt(np.mean(res_m[il] ** 2)),
            "srmr_mplus_nomean": np.sqrt(np.mean(res_m[il] ** 2))}


def assemble(*, npar, n, x2, df, bx2, bdf, logl, logl1, scaling=None, bscaling=None,
             s=None, sig=None, m=None):
    fm = {"npar": float(npar), "fmin": x2 / (2 * n), "chisq": x2, "df": float(df),
          "pvalue": stats.chi2.sf(x2, df) if df > 0 else np.nan}
    if scaling is not None:
        fm["chisq.scaled"] = x2 / scaling
        fm["df.scaled"] = float(df)
        fm["pvalue.scaled"] = stats.chi2.sf(x2 / scaling, df) if df > 0 else np.nan
        fm["chisq.scaling.factor"] = scaling
    fm["baseline.chisq"] = bx2
    fm["baseline.df"] = float(bdf)
    fm["baseline.pvalue"] = stats.chi2.sf(bx2, bdf)
    if scaling is not None and bscaling is not None:
        fm["baseline.chisq.scaled"] = bx2 / bscaling
        fm["baseline.df.scaled"] = float(bdf)
        fm["baseline.pvalue.scaled"] = stats.chi2.sf(bx2 / bscaling, bdf)
        fm["baseline.chisq.scaling.factor"] = bscaling
    inc = incremental(x2, df, bx2, bdf)
    fm.update({k: inc[k] for k in ("cfi", "tli")})
    if scaling is not None and bscaling is not None:
        incs = incremental(x2 / scaling, df, bx2 / bscaling, bdf)
        fm["cfi.scaled"], fm["tli.scaled"] = incs["cfi"], incs["tli"]
        # Brosseau-Liard & Savalei robust CFI/TLI: noncentrality corrected by c.
        num = max(x2 - scaling * df, 0.0)
        den = max(x2 - scaling * df, bx2 - bscaling * bdf, 0.0)
        fm["cfi.robust"] = 1.0 if den == 0 else 1.0 - num / den
        if df > 0:
            t_m = (x2 - scaling * df) / df
            t_b = (bx2 - bscaling * bdf) / bdf
            fm["tli.robust"] = 1.0 - t_m / t_b if t_b != 0 else np.nan
        else:
            fm["tli.robust"] = 1.0
    fm.update({k: inc[k] for k in ("nnfi", "rfi", "nfi", "pnfi", "ifi", "rni")})
    if scaling is not None and bscaling is not None:
        fm.update({k + ".scaled": incs[k] for k in ("nnfi", "rfi", "nfi", "pnfi", "ifi",
                                                     "rni")})
        fm["nnfi.robust"] = fm["tli.robust"]
        den = bx2 - bscaling * bdf
        fm["rni.robust"] = 1.0 - (x2 - scaling * df) / den if den != 0 else np.nan
    fm["logl"] = logl
    fm["unrestricted.logl"] = logl1
    fm["aic"] = -2 * logl + 2 * npar
    fm["bic"] = -2 * logl + npar * np.log(n)
    fm["ntotal"] = float(n)
    fm["bic2"] = -2 * logl + npar * np.log((n + 2) / 24)
    fm.update(rmsea_block(x2, df, n))
    fm["rmsea.ci.level"] = 0.90
    fm["rmsea.close.h0"] = 0.05
    fm["rmsea.notclose.h0"] = 0.08
    if scaling is not None:
        # Only the point estimate: lavaan's interval and p-values for the "scaled" RMSEA
        # follow a rule not reproduced here (use the .robust ones).
        fm["rmsea.scaled"] = rmsea_block(x2 / scaling, df, n)["rmsea"]
        rob = rmsea_block(x2, df, n, c=scaling)
        fm.update({k + ".robust": v for k, v in rob.items()})
    if s is not None:
        fm.update(srmr(s, sig, m))
    fm["mfi"] = np.exp(-0.5 * (x2 - df) / n)
    fm["ecvi"] = x2 / n + 2 * npar / n
    return fm
