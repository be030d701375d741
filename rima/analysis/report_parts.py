"""Report sections for the analyses: PNG figures and HTML table fragments.

`sections(figdir, shocks=..., scenario=..., target=..., panel=...)` returns a list of
``{"key", "title", "html", "figure", "figures", "figure_captions", "caption"}`` dicts in
reading order: the HTML is a self-contained fragment (tables), `figure` the path of the
first PNG written to `figdir` (or None) and `figures` all of them. `rima.report.add_sections`
stores them in a fit directory so its report.html embeds them; `add_analyses` does both.

Keys name the stored section: "shocks" (OLS), "shocks_logit" / "shocks_probit" (so a level
regression and a loss model can both be in one report), "scenarios", "targeting", "panel".
Figure files carry the key, so sections never overwrite each other's PNGs.
"""

from __future__ import annotations

import html as _html
from pathlib import Path


def save_figure(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    # no software/date metadata, so the PNG bytes are the same on every run
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def _num(df, digits=4) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0,
                      classes="rima-table", na_rep="")


def _shock_model_note(res) -> str:
    m = res.model
    parts = [f"{m.kind.upper() if m.kind == 'ols' else m.kind} on {m.nobs} households"]
    if m.weight:
        parts.append(f"weighted by {m.weight}")
    parts.append(f"SEs clustered by {m.cluster} ({m.n_clusters} clusters)" if m.cluster
                 else "heteroskedasticity-robust (HC1) SEs")
    return "<p>" + _html.escape(", ".join(parts)) + ".</p>"


def add_analyses(out_dir, *, shocks=None, scenario=None, target=None, panel=None,
                 model=None, render=True) -> Path:
    """Build the sections of these analysis results and add them to the report in out_dir.

    The report package renders the plain sections (`rima.report.add_sections`); it never
    imports the analyses, so building them from the results happens here.
    """
    from rima.report.sections import add_sections, check_fit_dir

    out = check_fit_dir(out_dir)
    secs = sections(out / "figures", shocks=shocks, scenario=scenario, target=target,
                    panel=panel)
    return add_sections(out, secs, model=model, render=render)


def sections(figdir, *, shocks=None, scenario=None, target=None, panel=None) -> list[dict]:
    from rima.analysis import panel as panel_mod
    from rima.analysis import scenario as scenario_mod
    from rima.analysis import shocks as shocks_mod
    from rima.analysis import targeting
    from rima.report.figures import pyplot

    pyplot()   # Agg before any analysis figure is drawn: no display is needed
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    out = []
    if shocks is not None:
        kind = shocks.model.kind
        key = "shocks" if kind == "ols" else f"shocks_{kind}"
        fig = save_figure(shocks_mod.coefficient_figure(shocks), figdir / f"{key}_coefficients.png")
        tab = shocks.table[["term", "role", "est", "se", "pvalue", "ci_lower", "ci_upper"]]
        pct = round(100 * shocks.model.level)
        cap = (f"Effects on food security with {pct} % CIs (survey-weighted, soum-clustered)"
               if kind == "ols" else
               f"Coefficients of the {kind} model of a food-security loss with {pct} % CIs")
        out.append({"key": key,
                    "title": f"Shocks and food security: {shocks.outcome}"
                             + ("" if kind == "ols" else f" ({kind})"),
                    "html": _shock_model_note(shocks) + _num(tab),
                    "figure": fig, "figures": [fig], "figure_captions": [cap],
                    "caption": cap})
    if scenario is not None:
        figs, caps = [], []
        for i, name in enumerate(scenario.overall["scenario"]):
            figs.append(save_figure(scenario_mod.effects_by_soum_figure(scenario, name),
                              figdir / f"scenarios_{i + 1}_by_soum.png"))
            caps.append(f"{name}: change in mean RCI_100 by soum")
        pct = round(100 * scenario.level)
        out.append({"key": "scenarios", "title": "Scenario effects on RCI_100",
                    "html": scenario_mod.overall_html(scenario),
                    "figure": figs[0] if figs else None, "figures": figs,
                    "figure_captions": caps,
                    "caption": f"Change in mean RCI_100 overall and by soum ({scenario.effect} "
                               f"effect, {scenario.n_boot} bootstrap replicates, {pct} % CIs)"})
    if target is not None:
        fig = save_figure(targeting.ranking_figure(target), figdir / "targeting_ranking.png")
        cap = ("Share of low-resilience households by soum, coloured by dzud class")
        out.append({"key": "targeting", "title": "Soums ranked for early action",
                    "html": targeting.ranking_html(target), "figure": fig, "figures": [fig],
                    "figure_captions": [cap], "caption": cap})
    if panel is not None:
        parts = []
        for r in panel.transition:
            parts.append(f"<h3>Class transitions, baseline to round {_html.escape(str(r))}"
                         "</h3>" + panel_mod.transition_html(panel, r))
        for var, tab in panel.by_profile.items():
            parts.append(f"<h3>Change in RCI_100 by {_html.escape(str(var))}</h3>"
                         + _num(tab, 3))
        out.append({"key": "panel", "title": "Panel: resilience over rounds",
                    "html": "\n".join(parts), "figure": None, "figures": [],
                    "figure_captions": [],
                    "caption": "Later rounds scored with the baseline model (same scale); "
                               "transition shares are weighted row shares"})
    return out
