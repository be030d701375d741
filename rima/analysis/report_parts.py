"""Report sections for the analyses: PNG figures and HTML table fragments.

`sections(figdir, shocks=..., scenario=..., target=..., panel=...)` returns a list of
``{"key", "title", "html", "figure", "caption"}`` dicts in reading order: the HTML is a
self-contained fragment (a table), `figure` the path of a PNG written to `figdir` (or
None). The report module embeds them as it does its own figures.
"""

from __future__ import annotations

from pathlib import Path


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    # no software/date metadata, so the PNG bytes are the same on every run
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def sections(figdir, *, shocks=None, scenario=None, target=None, panel=None) -> list[dict]:
    from rima.analysis import panel as panel_mod
    from rima.analysis import scenario as scenario_mod
    from rima.analysis import shocks as shocks_mod
    from rima.analysis import targeting

    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    out = []
    if shocks is not None:
        fig = _save(shocks_mod.coefficient_figure(shocks), figdir / "shock_coefficients.png")
        tab = shocks.table[["term", "role", "est", "se", "pvalue", "ci_lower", "ci_upper"]]
        out.append({"key": "shocks", "title": f"Shocks and food security: {shocks.outcome}",
                    "html": tab.to_html(index=False, float_format=lambda v: f"{v:.4f}",
                                        border=0),
                    "figure": fig,
                    "caption": "Effects on food security with 95 % CIs (survey-weighted, "
                               "soum-clustered)"})
    if scenario is not None:
        figs = []
        for i, name in enumerate(scenario.overall["scenario"]):
            figs.append(_save(scenario_mod.effects_by_soum_figure(scenario, name),
                              figdir / f"scenario_{i + 1}_by_soum.png"))
        out.append({"key": "scenarios", "title": "Scenario effects on RCI_100",
                    "html": scenario_mod.overall_html(scenario),
                    "figure": figs[0] if figs else None, "figures": figs,
                    "caption": "Change in mean RCI_100 by soum (bootstrap 95 % CIs)"})
    if target is not None:
        fig = _save(targeting.ranking_figure(target), figdir / "soum_ranking.png")
        out.append({"key": "targeting", "title": "Soums ranked for early action",
                    "html": targeting.ranking_html(target), "figure": fig,
                    "caption": "Share of low-resilience households by soum, coloured by dzud "
                               "class"})
    if panel is not None:
        out.append({"key": "panel", "title": "Resilience class transitions",
                    "html": panel_mod.transition_html(panel), "figure": None, "caption": ""})
    return out
