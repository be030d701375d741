"""The fitted MIMIC model: lavaan-style parameter table, fit measures, scores, summary."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from rima._kernels import mimic as K
from rima.config import threads_for
from rima.display import Summary, card_html
from rima.errors import SpecError
from rima.mimic.estimate import columns_of

_PRED_METHODS = ("regression", "bartlett", "causes")


class MimicResult:
    """Result of `rima.mimic.fit`.

    Attributes
    ----------
    params : DataFrame
        lavaan's parameterEstimates columns (lhs op rhs est se z pvalue ci.lower ci.upper
        std.lv std.all).
    fit_measures : dict
        Keyed by lavaan's fitMeasures names.
    r2 : dict
        R² of the latent and the indicators.
    converged : bool
    iterations : int
    nobs, norig : int
        Rows used and rows given.
    excluded : dict
        reason -> rows left out.
    used_rows : ndarray of bool or None
        Mask over the input rows (None when fitted from moments).
    improper : list of str
        Messages on an improper solution (negative variances, ...).
    estimator, se, test, missing : str
        The settings used.
    model : MimicModel
    vcov : ndarray
        Covariance matrix of the free parameters.
    """

    def __init__(self, *, model, params, fit_measures, r2, converged, iterations, nobs, norig,
                 excluded, improper, estimator, se, test, missing, matrices, means, vcov,
                 used_rows=None):
        self.model = model
        self.params = params
        self.fit_measures = fit_measures
        self.r2 = r2
        self.converged = converged
        self.iterations = iterations
        self.nobs = nobs
        self.norig = norig
        self.excluded = excluded
        self.improper = improper
        self.estimator = estimator
        self.se = se
        self.test = test
        self.missing = missing
        self._mat = matrices
        self._means = means
        self.vcov = vcov
        self.used_rows = used_rows

    # ------------------------------------------------------------------ scores
    @property
    def matrices(self):
        """Estimated model matrices: lambda (m,), gamma (k,), B (m, k), psi, theta (m, m)."""
        return {"lambda": self._mat["lam"].copy(), "gamma": self._mat["gam"].copy(),
                "B": self._mat["b"].copy(), "psi": float(self._mat["psi"]),
                "theta": self._mat["theta"].copy()}

    @property
    def means(self):
        """Training means used for scoring: (implied indicator means at the causes' means,
        causes' means)."""
        return self._means[0].copy(), self._means[1].copy()

    def prediction_weights(self, method: str = "regression",
                           observed: np.ndarray | None = None) -> tuple:
        """Linear prediction weights of the latent score, from the training means.

        regression: E[eta | y, x] = gamma'x + psi Lambda' Omega^-1 (y - mu_y - Pi (x - xbar))
        (lavPredict's default, computed with an exact inverse); bartlett:
        gamma'xbar + w'(y - ybar - B (x - xbar)) with w = Theta^-1 Lambda / (Lambda'
        Theta^-1 Lambda); causes: gamma'x.
        observed: optional boolean mask over the indicators; the weights then condition on
        the observed ones only (zero coefficients for the others), as lavPredict does for a
        row with missing indicators. With none observed, regression gives E[eta | x] and
        bartlett is undefined (NaN).

        Parameters
        ----------
        method : {"regression", "bartlett", "causes"}, default "regression"
        observed : ndarray of bool of shape (m,), optional
            The indicators observed (default all).

        Returns
        -------
        tuple
            (intercept, coef_causes (k,), coef_indicators (m,)), so that the prediction is
            ``intercept + X_causes @ coef_causes + Y @ coef_indicators``.

        Raises
        ------
        SpecError
            An unknown method.
        """
        if method not in _PRED_METHODS:
            raise SpecError(f"unknown prediction method {method!r} "
                            f"({', '.join(_PRED_METHODS)})")
        lam, gam, bmat, psi, th = (self._mat[k] for k in ("lam", "gam", "b", "psi", "theta"))
        ymean, xmean = self._means
        m = len(lam)
        if method == "causes":
            return 0.0, gam.copy(), np.zeros(m)
        o = np.arange(m) if observed is None else np.flatnonzero(np.asarray(observed, bool))
        cy = np.zeros(m)
        pi = np.outer(lam, gam) + bmat
        if len(o) == 0:
            if method == "regression":
                return 0.0, gam.copy(), cy
            return np.nan, np.full(len(gam), np.nan), np.full(m, np.nan)
        if method == "regression":
            om = psi * np.outer(lam, lam) + th
            kv = np.linalg.solve(om[np.ix_(o, o)], lam[o]) * psi
            cx = gam - pi[o].T @ kv
            icpt = -kv @ (ymean[o] - pi[o] @ xmean)
        else:
            ti = np.linalg.solve(th[np.ix_(o, o)], lam[o])
            kv = ti / (lam[o] @ ti)
            cx = -bmat[o].T @ kv
            icpt = gam @ xmean - kv @ (ymean[o] - bmat[o] @ xmean)
        cy[o] = kv
        return float(icpt), cx, cy

    def predict(self, data: pd.DataFrame, method: str = "regression") -> np.ndarray:
        """Latent scores for the rows of `data`, from the training means and weights.

        A row with missing indicators is scored on the indicators it has (regression,
        bartlett); a row with a missing cause gets NaN.

        Parameters
        ----------
        data : DataFrame
            The model's observed columns.
        method : {"regression", "bartlett", "causes"}, default "regression"

        Returns
        -------
        ndarray of shape (n,)
        """
        with threads_for(len(data)):
            return self._predict(data, method)

    def _predict(self, data, method):
        icpt, cx, cy = self.prediction_weights(method)
        m = len(self.model.indicators)
        if method == "causes":
            x = columns_of(data, self.model.causes, "cause")
            return K.linear_scores(np.zeros((len(x), 0)), x, icpt, cx, np.zeros(0))
        z = columns_of(data, self.model.observed, "model")
        y, x = z[:, :m], z[:, m:]
        out = K.linear_scores(y, x, icpt, cx, cy)
        # a missing value makes its row's score NaN, so only those rows need a second look
        nan_rows = np.flatnonzero(np.isnan(out))
        ymiss = np.isnan(y[nan_rows])
        partial = ymiss.any(axis=1)
        if partial.any():
            keys, inv = np.unique(~ymiss[partial], axis=0, return_inverse=True)
            rows = nan_rows[partial]
            ymiss = ymiss[partial]
            for p, mask in enumerate(keys):
                hit = inv.ravel() == p
                sel = rows[hit]
                i2, c2, y2 = self.prediction_weights(method, observed=mask)
                yz = np.where(ymiss[hit], 0.0, y[sel])
                out[sel] = i2 + x[sel] @ c2 + yz @ y2
        return out

    # ------------------------------------------------------------------ text
    def summary(self) -> Summary:
        """lavaan's summary layout: fit, estimates by section, R².

        Returns
        -------
        Summary
        """
        fm = self.fit_measures
        lines = [(f"rima MIMIC model ({self.estimator}, se = {self.se}, test = {self.test}, "
                 f"missing = {self.missing})"),
                 f"  converged: {self.converged} after {self.iterations} iterations",
                 f"  observations used: {self.nobs} of {self.norig}"]
        for reason, cnt in self.excluded.items():
            lines.append(f"    excluded {cnt}: {reason}")
        lines.append(f"  free parameters: {int(fm['npar'])}")
        lines.append("")
        lines.append("Model test:")
        lines.append(f"  chi-square {fm['chisq']:.3f}  df {int(fm['df'])}  p {fm['pvalue']:.4f}")
        if "chisq.scaled" in fm:
            lines.append(f"  scaled chi-square {fm['chisq.scaled']:.3f}  p "
                         f"{fm['pvalue.scaled']:.4f}  scaling factor "
                         f"{fm['chisq.scaling.factor']:.4f}")
        lines.append(f"  CFI {fm['cfi']:.3f}  TLI {fm['tli']:.3f}  RMSEA {fm['rmsea']:.3f} "
                     f"[{fm['rmsea.ci.lower']:.3f}, {fm['rmsea.ci.upper']:.3f}]  "
                     f"SRMR {fm.get('srmr', np.nan):.3f}")
        lines.append(f"  log-likelihood {fm['logl']:.3f}  AIC {fm['aic']:.3f}  "
                     f"BIC {fm['bic']:.3f}")
        head = list(lines)
        groups = self.grouped_params()
        for title, tab in groups:
            lines += ["", f"{title}:", tab.to_string(index=False)]
        r2 = "R-square: " + ", ".join(f"{k} {v:.3f}" for k, v in self.r2.items())
        lines += ["", r2]
        if self.improper:
            lines.append("")
            lines.append("WARNING (improper solution): " + "; ".join(self.improper))
        body = "<pre>" + html.escape("\n".join(head)) + "</pre>" + "".join(
            f"<h4>{html.escape(t)}</h4>" + tab.to_html(index=False, border=0)
            for t, tab in groups) + f"<p>{html.escape(r2)}</p>"
        if self.improper:
            body += f"<p><strong>{html.escape(lines[-1])}</strong></p>"
        return Summary("\n".join(lines), body)

    def grouped_params(self) -> list:
        """The parameter table in lavaan's summary layout.

        The causes' own (co)variances and means are not model parameters and are left out,
        as lavaan does with fixed.x.

        Returns
        -------
        list of (str, DataFrame)
            [(section, table)] for Latent Variables, Regressions, Covariances, Intercepts
            and Variances, the estimates formatted, with blanks where a parameter is fixed
            (no standard error).
        """
        tab = self.params
        causes = set(self.model.causes)
        keep = ~(tab["op"].isin(["~~", "~1"]) & tab["lhs"].isin(causes))
        tab = tab[keep]
        sections = [("Latent Variables", tab["op"] == "=~"), ("Regressions", tab["op"] == "~"),
                    ("Covariances", (tab["op"] == "~~") & (tab["lhs"] != tab["rhs"])),
                    ("Intercepts", tab["op"] == "~1"),
                    ("Variances", (tab["op"] == "~~") & (tab["lhs"] == tab["rhs"]))]
        out = []
        for title, mask in sections:
            sub = tab[mask]
            if sub.empty:
                continue
            rows = []
            for d in sub.to_dict("records"):
                lhs, op, rhs = d["lhs"], d["op"], d["rhs"]
                label = (f"{lhs} {op} {rhs}" if op in ("=~", "~") else
                         (lhs if op == "~1" else (f"{lhs}" if lhs == rhs else f"{lhs} ~~ {rhs}")))
                se = d.get("se")
                free = se is not None and np.isfinite(se) and se > 0
                rows.append({
                    "": ("." if op in ("~~", "~1") and lhs in self.model.indicators else "")
                        + label,
                    "Estimate": f"{d['est']:.3f}",
                    "Std.Err": f"{se:.3f}" if free else "",
                    "z-value": f"{d['z']:.3f}" if free and np.isfinite(d.get("z", np.nan)) else "",
                    "P(>|z|)": f"{d['pvalue']:.3f}" if free and np.isfinite(d.get("pvalue", np.nan))
                    else "",
                    "Std.lv": f"{d.get('std.lv', np.nan):.3f}" if "std.lv" in d else "",
                    "Std.all": f"{d.get('std.all', np.nan):.3f}" if "std.all" in d else "",
                })
            frame = pd.DataFrame(rows)
            width = int(frame[""].str.len().max())
            frame[""] = frame[""].str.ljust(width)  # labels read left-aligned, as in lavaan
            out.append((title, frame))
        return out

    def _repr_html_(self):
        fm = self.fit_measures
        return card_html(f"MIMIC model {self.model.latent}", [
            ("estimator", f"{self.estimator} (se = {self.se})"),
            ("observations", f"{self.nobs} of {self.norig}"),
            ("chi-square", f"{fm['chisq']:.3f}, df {int(fm['df'])}, p {fm['pvalue']:.4f}"),
            ("CFI / TLI", f"{fm['cfi']:.3f} / {fm['tli']:.3f}"),
            ("RMSEA / SRMR", f"{fm['rmsea']:.3f} / {fm.get('srmr', np.nan):.3f}")])

    def __repr__(self):
        fm = self.fit_measures
        return (f"<MimicResult {self.model.latent}: chisq={fm['chisq']:.3f} df={int(fm['df'])}"
                f" cfi={fm['cfi']:.3f} rmsea={fm['rmsea']:.3f} n={self.nobs}>")
