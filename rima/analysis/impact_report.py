"""The `rima impact` report section: the plain sentence, the tables, the event-study figure."""

from __future__ import annotations

import html as _html


def trends_figure(res):
    """Weighted means by round (treated vs control) and the event study, one row per outcome."""
    import matplotlib.pyplot as plt

    outs = list(dict.fromkeys(res.estimates["outcome"]))
    ncol = 2 if not res.event_study.empty else 1
    fig, axes = plt.subplots(len(outs), ncol, figsize=(5.2 * ncol, 3.0 * len(outs)),
                             squeeze=False)
    tf = res.design["treated_from"]
    for i, o in enumerate(outs):
        ax = axes[i, 0]
        t = res.trends[res.trends["outcome"] == o]
        for grp, style in (("treated", "o-"), ("control", "s--")):
            s = t[t["group"] == grp]
            ax.plot(s["round"], s["mean"], style, label=grp)
        ax.axvline(tf - 0.5, color="grey", lw=0.8)
        ax.set_title(f"{o}: weighted mean by round", fontsize=9)
        ax.set_xticks(res.design["rounds"])
        ax.legend(fontsize=8)
        if ncol == 2:
            ax = axes[i, 1]
            e = res.event_study[res.event_study["outcome"] == o]
            ax.errorbar(e["round"], e["est"], yerr=[e["est"] - e["ci_lower"],
                                                     e["ci_upper"] - e["est"]], fmt="o",
                        capsize=3)
            ax.axhline(0, color="black", lw=0.8)
            ax.axvline(tf - 0.5, color="grey", lw=0.8)
            ax.set_xticks(res.design["rounds"])
            ax.set_title(f"{o}: event study (treated x round)", fontsize=9)
    fig.tight_layout()
    return fig


def _tab(df, digits=3):
    return df.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0,
                      classes="rima-table", na_rep="")


def section(res, figdir) -> dict:
    """The report section: the plain sentence, the tables and the event-study figure."""
    from pathlib import Path

    from rima.analysis.report_parts import save_figure
    from rima.report.figures import pyplot

    pyplot()
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    fig = save_figure(trends_figure(res), figdir / "impact_event_study.png")
    d = res.design
    parts = [f"<p><strong>{_html.escape(res.sentence())}</strong></p>",
             (f"<p>{_html.escape(d['treatment_label'])}; rounds before the transfer "
              f"{d['pre_rounds']}, after {d['post_rounds']}. {d['clusters']} soum clusters "
              f"({d['treated_clusters']} with treated households, {d['control_clusters']} with "
              f"controls); wild cluster bootstrap with {d['n_boot']} {d['bootstrap_weights']} "
              f"replicates (seed {d['seed']}). Doubly robust covariates: "
              f"{_html.escape(', '.join(d['covariates']) or 'none')}.</p>"),
             "<h3>Estimates</h3>",
             _tab(res.estimates[["outcome", "estimator", "est", "se", "ci_lower", "ci_upper",
                                 "pvalue", "p_wild", "ci_wild_lower", "ci_wild_upper",
                                 "treated", "controls", "headline"]])]
    if not res.event_study.empty:
        parts += ["<h3>Event study and pre-trend test</h3>", _tab(res.event_study),
                  _tab(res.pretrend)]
    if not res.heterogeneity.empty:
        parts += ["<h3>Heterogeneity</h3>", _tab(res.heterogeneity)]
    if res.responsiveness is not None:
        parts += ["<h3>Responsiveness in dzud soums</h3>", _tab(res.responsiveness)]
    parts += ["<h3>Rows</h3>", _tab(res.accounting)]
    if res.notes:
        parts.append("<ul>" + "".join(f"<li>{_html.escape(n)}</li>" for n in res.notes)
                     + "</ul>")
    cap = "Weighted means by round and event-study coefficients with their intervals"
    return {"key": "impact", "title": "Impact of the transfer", "html": "\n".join(parts),
            "figure": fig, "figures": [fig], "figure_captions": [cap], "caption": cap}
