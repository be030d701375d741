"""lavaan's fitMeasures for the MIMIC model with fixed causes.

The baseline model keeps the causes' covariances fixed and makes the indicators mutually
independent and independent of the causes (lavaan's baseline with fixed.x), so
baseline.df = m(m+1)/2 + m k - m.
"""

import numpy as np
from scipy import optimize, special


def _rmsea_ci(x2, df, n, level=0.90):
    """lavaan's RMSEA confidence limits from the noncentral chi-square."""
    if not np.isfinite(x2) or not np.isfinite(df):
        return np.nan, np.nan
    if df < 1:
        # lavaan reports a degenerate interval rather than solving for tiny df
        return 0.0, 0.0
    lo_p, hi_p = (1 + level) / 2, (1 - level) / 2

    def solve(target):
        f = lambda lam: special.chndtr(x2, df, lam) - target
        if special.chdtr(df, x2) < target:
            return 0.0
        hi = max(x2, 1.0)
        while f(hi) > 0:
            hi *= 2
        return optimize.brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-14)

    lo = solve(lo_p)
    hi = solve(hi_p)
    return np.sqrt(lo / (n * df)), np.sqrt(hi / (n * df))


def _ncx2_sf(x2, df, ncp):
    # lavaan's own 1 - pchisq(x2, df, ncp)
    return special.chdtrc(df, x2) if ncp == 0 else 1.0 - special.chndtr(x2, df, ncp)


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


def srmr(s, sig, m, mean_s=None, mean_sig=None):
    """lavaan's residual summaries over (y, x): rmr, srmr (Bentler), crmr (Bollen), and
    Mplus' srmr. s is the h1 covariance (the sample one, or the EM estimate under FIML);
    with a mean structure the "total" versions add the mean residuals."""
    p = s.shape[0]
    sd = np.sqrt(np.diag(s))
    sds = np.sqrt(np.diag(sig))
    il = np.tril_indices(p)
    il0 = np.tril_indices(p, -1)
    raw = s - sig
    bentler = raw / np.outer(sd, sd)
    bollen = s / np.outer(sd, sd) - sig / np.outer(sds, sds)
    var_rel = (np.diag(s) - np.diag(sig)) / np.diag(s)
    ss_raw, ss_b = np.sum(raw[il] ** 2), np.sum(bentler[il] ** 2)
    ss_c = np.sum(bollen[il0] ** 2)
    ss_mp = ss_c + np.sum(var_rel ** 2)
    ns, nc = len(il[0]), len(il0[0])
    out = {"rmr_nomean": np.sqrt(ss_raw / ns), "srmr_bentler_nomean": np.sqrt(ss_b / ns),
           "crmr_nomean": np.sqrt(ss_c / nc) if nc else np.nan,
           "srmr_mplus_nomean": np.sqrt(ss_mp / ns)}
    if mean_s is None:
        out["rmr"], out["srmr_bentler"] = out["rmr_nomean"], out["srmr_bentler_nomean"]
        out["crmr"], out["srmr_mplus"] = out["crmr_nomean"], out["srmr_mplus_nomean"]
    else:
        dm = mean_s - mean_sig
        out["rmr"] = np.sqrt((ss_raw + np.sum(dm ** 2)) / (ns + p))
        out["srmr_bentler"] = np.sqrt((ss_b + np.sum((dm / sd) ** 2)) / (ns + p))
        # lavaan scales the mean residuals by the h1 SDs here too (not by each side's own)
        out["crmr"] = np.sqrt((ss_c + np.sum((dm / sd) ** 2)) / (nc + p))
        out["srmr_mplus"] = np.sqrt((ss_mp + np.sum((mean_s / sd - mean_sig / sds) ** 2))
                                    / (ns + p))
    out["srmr"] = out["srmr_bentler"]
    return out


def gfi_block(obs, est, weight, df):
    """GFI, AGFI and PGFI: 1 - (o - e)' V (o - e) / o' V o over lavaan's WLS.obs vector o
    (means when modelled, then vech of the covariance), with V the h1 expected
    information at the implied moments (rows of the fixed causes' moments zeroed)."""
    d = obs - est
    g = 1.0 - (d @ weight @ d) / (obs @ weight @ obs)
    nel = len(obs)
    return {"gfi": g, "agfi": 1.0 - (nel / df) * (1.0 - g) if df > 0 else 1.0,
            "pgfi": (df / nel) * g}


def assemble(*, npar, n, x2, df, bx2, bdf, logl, logl1, scaling=None, bscaling=None,
             s=None, sig=None, m=None, means=None, trace_h1=None, trace_h0=None,
             robust=None, gfi=None):
    """All fit measures. robust = (X2, c, X2_baseline, c_baseline) for lavaan's robust
    CFI/TLI/RMSEA when they are not the scaled test's own (FIML-corrected ones under
    missing data); by default they come from chisq and its scaling factors."""
    if robust is None and scaling is not None and bscaling is not None:
        robust = (x2, scaling, bx2, bscaling)
    fm = {"npar": float(npar), "fmin": x2 / (2 * n), "chisq": x2, "df": float(df),
          "pvalue": special.chdtrc(df, x2) if df > 0 else np.nan}
    if scaling is not None:
        fm["chisq.scaled"] = x2 / scaling
        fm["df.scaled"] = float(df)
        fm["pvalue.scaled"] = special.chdtrc(df, x2 / scaling) if df > 0 else np.nan
        fm["chisq.scaling.factor"] = scaling
    fm["baseline.chisq"] = bx2
    fm["baseline.df"] = float(bdf)
    fm["baseline.pvalue"] = special.chdtrc(bdf, bx2)
    if scaling is not None and bscaling is not None:
        fm["baseline.chisq.scaled"] = bx2 / bscaling
        fm["baseline.df.scaled"] = float(bdf)
        fm["baseline.pvalue.scaled"] = special.chdtrc(bdf, bx2 / bscaling)
        fm["baseline.chisq.scaling.factor"] = bscaling
    inc = incremental(x2, df, bx2, bdf)
    fm.update({k: inc[k] for k in ("cfi", "tli")})
    if scaling is not None and bscaling is not None:
        incs = incremental(x2 / scaling, df, bx2 / bscaling, bdf)
        fm["cfi.scaled"], fm["tli.scaled"] = incs["cfi"], incs["tli"]
    if robust is not None:
        # Brosseau-Liard & Savalei robust CFI/TLI: noncentrality corrected by c.
        rx2, rc, rbx2, rbc = robust
        num = max(rx2 - rc * df, 0.0)
        den = max(rx2 - rc * df, rbx2 - rbc * bdf, 0.0)
        fm["cfi.robust"] = 1.0 if den == 0 else 1.0 - num / den
        if df > 0:
            t_m = (rx2 - rc * df) / df
            t_b = (rbx2 - rbc * bdf) / bdf
            fm["tli.robust"] = 1.0 - t_m / t_b if t_b != 0 else np.nan
        else:
            fm["tli.robust"] = 1.0
    fm.update({k: inc[k] for k in ("nnfi", "rfi", "nfi", "pnfi", "ifi", "rni")})
    if scaling is not None and bscaling is not None:
        fm.update({k + ".scaled": incs[k] for k in ("nnfi", "rfi", "nfi", "pnfi", "ifi",
                                                     "rni")})
    if robust is not None:
        fm["nnfi.robust"] = fm["tli.robust"]
        den = rbx2 - rbc * bdf
        fm["rni.robust"] = 1.0 - (rx2 - rc * df) / den if den != 0 else np.nan
    fm["logl"] = logl
    fm["unrestricted.logl"] = logl1
    fm["aic"] = -2 * logl + 2 * npar
    fm["bic"] = -2 * logl + npar * np.log(n)
    fm["ntotal"] = float(n)
    fm["bic2"] = -2 * logl + npar * np.log((n + 2) / 24)
    if trace_h1 is not None:
        # Yuan-Bentler's two traces, each per free parameter of its model
        fm["scaling.factor.h1"] = trace_h1 / (df + npar)
        fm["scaling.factor.h0"] = trace_h0 / npar
    fm.update(rmsea_block(x2, df, n))
    fm["rmsea.ci.level"] = 0.90
    fm["rmsea.close.h0"] = 0.05
    fm["rmsea.notclose.h0"] = 0.08
    if scaling is not None:
        # lavaan's "scaled" RMSEA keeps the unscaled statistic and replaces df by
        # tr(U Gamma) = c df (a non-integer df), for the point estimate, CI and p-values.
        sc = rmsea_block(x2, scaling * df, n)
        fm.update({k + ".scaled": sc[k] for k in ("rmsea", "rmsea.ci.lower",
                                                  "rmsea.ci.upper", "rmsea.pvalue",
                                                  "rmsea.notclose.pvalue")})
    if robust is not None:
        rob = rmsea_block(robust[0], df, n, c=robust[1])
        fm.update({k + ".robust": v for k, v in rob.items()})
    if s is not None:
        fm.update(srmr(s, sig, m, *(means or (None, None))))
    if df > 0:
        fm["cn_05"] = special.chdtri(df, 0.05) / (x2 / n) + 1.0
        fm["cn_01"] = special.chdtri(df, 0.01) / (x2 / n) + 1.0
    if gfi is not None:
        fm.update(gfi_block(*gfi, df))
    fm["mfi"] = np.exp(-0.5 * (x2 - df) / n)
    fm["ecvi"] = x2 / n + 2 * npar / n
    return fm
