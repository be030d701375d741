"""`RimaResult`: the result of `rima.fit` as its user gets it.

The fit (`rima.pipeline`) returns a `FitResult`, the fitted data; `RimaResult` is that
class with the conveniences that use the layers above the fit: `summary()`, `save()` (with
the report), `bootstrap()`, `shocks()` and the `plot_*` figures. Keeping them here lets the
pipeline import nothing that consumes it. The analyses, the report and matplotlib are
imported inside the methods that use them, so `rima.fit` does not load them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rima.errors import RimaInputError
from rima.labels import rsm_signed_label
from rima.options import weight_note
from rima.pipeline import FitResult
from rima.pipeline import fit as fit_result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rima.analysis.shocks import ShockResult
    from rima.display import Summary
    from rima.resampling import BootstrapResult
    from rima.spec import Spec


def _split(df: pd.DataFrame) -> dict:
    """A table as the report's figures take it ({"columns", "data"})."""
    return {"columns": list(df.columns), "data": df.to_numpy().tolist()}


class RimaResult(FitResult):
    """Result of `rima.fit`; see docs/architecture.md for the contract: the fields of
    `rima.pipeline.FitResult` (listed below) with the methods that summarise, save, plot
    and analyse them.

    Attributes
    ----------
    (those of FitResult)

    Examples
    --------
    >>> import rima
    >>> from rima.example import EXAMPLE_SPEC
    >>> survey = rima.simulate(n_households=400, seed=1)
    >>> result = rima.fit(survey.households, EXAMPLE_SPEC, progress=False)
    >>> list(result.rsm["pillar"])
    ['ABS', 'AST', 'SSN', 'AC']
    >>> int(result.ok.sum()) == int((result.scores["status"] == "ok").sum())
    True
    """

    @classmethod
    def from_fit(cls, fitted: FitResult) -> RimaResult:
        """The result of a fit with the conveniences: the same field objects, no copies.

        Parameters
        ----------
        fitted : FitResult
            What `rima.pipeline.fit` returned.

        Returns
        -------
        RimaResult
            `fitted` itself when it already is one.
        """
        if isinstance(fitted, cls):
            return fitted
        return cls(**{f.name: getattr(fitted, f.name) for f in fields(FitResult)})

    def bootstrap(self, n_boot: int = 1000, seed: int | None = None, level: float = 0.95,
                  progress: bool = True, threads: int | None = None,
                  client: Any = None) -> BootstrapResult:
        """Percentile bootstrap of the whole pipeline (`rima.bootstrap`).

        The result is kept as `bootstrap_result`, shown by `summary()` and written by
        `save()`.

        Parameters
        ----------
        n_boot : int, default 1000
            Number of replicates (at least 2).
        seed : int, optional
            Default the spec's ``options.seed``; replicate b depends only on (seed, b).
        level : float, default 0.95
            Confidence level of the percentile intervals.
        progress : bool, default True
            A progress bar on stderr.
        threads : int, optional
            Worker threads; the results do not depend on them.
        client : dask.distributed.Client, optional
            Run the replicates on the cluster's workers (same seeds, same results).

        Returns
        -------
        BootstrapResult

        Raises
        ------
        SpecError
            An invalid setting or an option the bootstrap does not support.
        """
        from rima.resampling import bootstrap

        self.bootstrap_result = bootstrap(self, n_boot=n_boot, seed=seed, level=level,
                                          progress=progress, threads=threads,
                                          client=client)
        return self.bootstrap_result

    def shocks(self, **kwargs: Any) -> ShockResult:
        """Food security on RCI and shocks: `rima.analysis.shocks.shocks` on this result.

        Parameters
        ----------
        **kwargs
            The options of `rima.analysis.shocks.shocks` (soums, outcome, kind, ...).

        Returns
        -------
        ShockResult
        """
        from rima.analysis.shocks import shocks

        return shocks(self, **kwargs)

    def __repr__(self) -> str:
        n_ok = int(self.ok.sum())
        rsm = ", ".join(f"{r.pillar} {r.share:.1f}% (r {r.r_signed:+.2f})"
                        for r in self.rsm.itertuples())
        mean = self.mean_rci_100
        return (f"<RimaResult: {len(self.scores)} households, {n_ok} scored; "
                f"RSM {rsm}; {self.mean_rci_100_label} {mean:.2f}>")

    def _repr_html_(self) -> str:
        from rima.display import card_html

        fm = self.mimic.fit_measures
        ok = self.ok
        return card_html("RIMA-II resilience analysis", [
            ("households", f"{len(self.scores)} ({int(ok.sum())} scored)"),
            (self.mean_rci_100_label, f"{self.mean_rci_100:.2f}"),
            ("MIMIC", (f"chi-square {fm['chisq']:.2f} (df {int(fm['df'])}), CFI "
                       f"{fm['cfi']:.3f}, RMSEA {fm['rmsea']:.3f}")),
            ("options", (f"orientation={self.options.orientation}, weights="
                         f"{self.options.weights}, missing={self.options.missing}"))],
            [("Resilience Structure Matrix", self.rsm[["pillar", "share", "r_signed"]]
              .rename(columns={"r_signed": rsm_signed_label(self.options.rsm)}), 2)])

    def plot_rsm(self) -> Figure:
        """Bar chart of the RSM shares with their signed values.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from rima.report.figures import rsm_bar

        return rsm_bar({"rsm": _split(self.rsm)})

    def plot_profile(self, var: str) -> Figure:
        """Mean RCI_100 with 95 % intervals by the categories of a profile.

        Parameters
        ----------
        var : str
            One of the spec's profile variables.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        RimaInputError
            `var` is not a profile of the spec.
        """
        from rima.report.figures import profile_means

        if var not in self.profiles:
            raise RimaInputError(f"no profile {var!r}; the spec's profiles: "
                                 f"{', '.join(self.profiles) or '(none)'}")
        return profile_means(var, self.profiles[var])

    def plot_path(self) -> Figure:
        """The MIMIC path diagram with standardised estimates.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from rima.report.figures import path_diagram

        return path_diagram({"mimic_params": _split(self.mimic.params),
                             "pillar_names": list(self.spec.pillar_names),
                             "indicators": list(self.spec.indicators)})

    def summary(self) -> Summary:
        """The results as text.

        Returns
        -------
        Summary
            A str that also renders as HTML in a notebook and has `as_html()`.
        """
        import html

        from rima.display import Summary, frame_html

        s = self.scores
        n_ok = int(self.ok.sum())
        lines = ["RIMA-II resilience analysis", "=" * 72,
                 (f"households: {len(s)} in the data, {n_ok} scored "
                 f"({len(s) - n_ok} not scored, reasons in the row accounting)"),
                 (f"options: missing={self.options.missing}, weights={self.options.weights}, "
                 f"rci_prediction={self.options.rci_prediction}, rsm={self.options.rsm}, "
                 f"orientation={self.options.orientation}")]
        note = weight_note(self.spec, self.options)
        if note:
            lines.append(note)
        lines.append("")
        lines.append("Pillars (factor analysis)")
        rows = []
        for p in self.pillars.values():
            fm = p.model
            rows.append({"pillar": p.name, "variables": len(p.variables), "n": p.n_obs,
                         "factors": p.n_factors, "KMO": fm.kmo_,
                         "weights": " ".join(f"{w:.3f}" for w in fm.variance_weights_),
                         "orientation": p.orientation["rule"]
                         + (f" {p.anchor}" if p.anchor else "")
                         + (", flipped" if p.flipped else "")})
        lines.append(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        lines += ["", "MIMIC model (RCI)"]
        fm = self.mimic.fit_measures
        lines.append(f"  chi-square {fm['chisq']:.3f} df {int(fm['df'])} p {fm['pvalue']:.4f}  "
                     f"CFI {fm['cfi']:.3f}  TLI {fm['tli']:.3f}  RMSEA {fm['rmsea']:.3f}  "
                     f"SRMR {fm.get('srmr', np.nan):.3f}")
        for title, tab in self.mimic.grouped_params():
            if title != "Intercepts":
                lines += [f"  {title}:", tab.to_string(index=False)]
        signed = rsm_signed_label(self.options.rsm)
        lines += ["", "Resilience Structure Matrix (share of RCI, %; " + signed
                  + ": the sign the share drops)"]
        lines.append(self.rsm[["pillar", "share", "r_signed"]]
                     .rename(columns={"r_signed": signed})
                     .to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        ok = s.loc[self.analysed, "RCI_100"]
        lines += ["", (f"RCI_100 of the {len(ok)} analysed households: "
                       f"{self.mean_rci_100_label} {self.mean_rci_100:.2f}; unweighted median "
                       f"{ok.median():.2f}, sd {ok.std():.2f}")]
        for var, tab in self.profiles.items():
            lines += ["", f"By {var}"]
            show = tab[["category", "households", "mean_RCI_100", "se", "ci_lower", "ci_upper"]]
            lines.append(show.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        lines += ["", "Row accounting"]
        lines.append(self.accounting.to_string(index=False))
        for n in self.notes:
            lines.append(f"note: {n}")
        if self.bootstrap_result is not None:
            lines += ["", self.bootstrap_result.summary()]
        text = "\n".join(lines)
        parts = [self._repr_html_(), "<h4>Pillars</h4>", frame_html(pd.DataFrame(rows))]
        for title, tab in self.mimic.grouped_params():
            parts += [f"<h4>MIMIC: {title}</h4>", tab.to_html(index=False, border=0)]
        for var, tab in self.profiles.items():
            parts += [f"<h4>By {var}</h4>", frame_html(
                tab[["category", "households", "mean_RCI_100", "se", "ci_lower", "ci_upper"]], 2)]
        parts += ["<h4>Row accounting</h4>", frame_html(self.accounting)]
        parts += [f"<p>note: {html.escape(n)}</p>" for n in self.notes]
        return Summary(text, "".join(parts))

    def save(self, path: str | Path, report: bool = True,
             formats: Iterable[str] = ("csv",)) -> Path:
        """Write the results to a directory.

        Parameters
        ----------
        path : str or Path
            The directory (created if needed).
        report : bool, default True
            Also write report.html, figures/*.png and report_data.json.
        formats : iterable of str, default ("csv",)
            One file per table and format: csv, tsv, parquet, dta, xlsx.

        Returns
        -------
        Path
            The directory, holding scores, rsm, mimic and profile_<var> tables, model.json
            (and bootstrap_* tables after `bootstrap`).
        """
        from rima.io import write_table

        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        tables = {"scores": self.scores, "rsm": self.rsm[["pillar", "share", "r_signed"]],
                  "mimic": self.mimic.params}
        for var, tab in self.profiles.items():
            tables[f"profile_{var}"] = tab
        for fmt in dict.fromkeys(formats):
            for name, tab in tables.items():
                write_table(tab, out / f"{name}.{fmt}")
        self.model.save(out / "model.json")
        if self.bootstrap_result is not None:
            self.bootstrap_result.save(out, formats=formats)
        if report:
            from rima.report import write_report

            write_report(self, out)
        return out


# the fields are documented once, on FitResult; the user's class lists them too (help());
# python -OO drops docstrings
if RimaResult.__doc__ and FitResult.__doc__:
    RimaResult.__doc__ = RimaResult.__doc__.replace(
        "    (those of FitResult)\n",
        FitResult.__doc__.split("----------\n", 1)[1].rstrip() + "\n")


def fit(data: pd.DataFrame | str | Path, spec: Spec | dict | str | Path,
        progress: Callable[[str], Any] | bool | None = None,
        sheet: str | int | None = None, sep: str | None = None,
        decimal: str | None = None) -> RimaResult:
    """The in-memory fit (`rima.pipeline.fit`), handed on as a `RimaResult`.

    `rima.fit` calls it for a DataFrame or a file; the commands call it directly.

    Parameters
    ----------
    data : DataFrame or path
        The household survey, one row per household.
    spec : Spec, dict or path
        The model spec (`rima.load_spec`), options included.
    progress : callable or bool, optional
        Called with the name of each step as it starts (False: silent).
    sheet, sep, decimal : optional
        How a file path is read (see `rima.pipeline.fit`).

    Returns
    -------
    RimaResult

    Raises
    ------
    SpecError
        The spec or its options are invalid.
    DataError
        The data do not fit the spec (the message names the column and rows).
    """
    return RimaResult.from_fit(fit_result(data, spec, progress=progress, sheet=sheet,
                                          sep=sep, decimal=decimal))
