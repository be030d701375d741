"""The report page: plain HTML and CSS, figures embedded as base64 PNG (no external files)."""

from __future__ import annotations

import base64
import html
import math

import pandas as pd

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1.5em;max-width:1100px;color:#222}
h1{border-bottom:2px solid #1b6ca8}h2{color:#1b6ca8;margin-top:1.6em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#eef3f8}
td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:.5em;vertical-align:top}
figcaption{font-size:12px;color:#555;text-align:center}
.note{color:#8a5a00}
.analysis table{font-variant-numeric:tabular-nums}
"""


def _table(d, digits=3) -> str:
    df = pd.DataFrame(d["data"], columns=d["columns"])
    return _df(df, digits)


def _df(df: pd.DataFrame, digits=3) -> str:
    def fmt(v):
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.{digits}f}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>"
                   for r in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _rsm_view(d, options) -> dict:
    """The RSM table as shown: the share beside its signed value, named for what it is."""
    df = pd.DataFrame(d["data"], columns=d["columns"])
    label = ("corr with RCI" if options.get("rsm", "correlation") == "correlation"
             else "std. coefficient")
    keep = [c for c in ("pillar", "share", "r_signed") if c in df.columns]
    df = df[keep].rename(columns={"share": "share (%)", "r_signed": label})
    return {"columns": list(df.columns), "data": df.values.tolist()}


def _img(key, caption, path) -> str:
    b64 = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure id="fig-{key}"><img alt="{html.escape(caption)}" '
            f'src="data:image/png;base64,{b64}"><figcaption>{html.escape(caption)}'
            "</figcaption></figure>")


def _section(s: dict, figs: dict) -> str:
    """One analysis section: its own HTML fragment (tables rima generated) and figures."""
    key = html.escape(s["key"])
    out = [f"<section class='analysis' id='sec-{key}'><h2>{html.escape(s['title'])}</h2>"]
    if s.get("stale"):
        out.append("<p class='note'>Computed with a different model than this report's fit "
                   "(model.json); rerun the analysis with this model to align them.</p>")
    if s["caption"]:
        out.append(f"<p>{html.escape(s['caption'])}.</p>")
    out.append(s["html"])
    for f in s["figures"]:
        stem = f["file"].rsplit(".", 1)[0]
        out.append(_img(stem, *figs[stem]))
    out.append("</section>")
    return "\n".join(out)


def page(data: dict, figs: dict, sections=()) -> str:
    out = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
           f"<title>{html.escape(data['title'])}</title><style>{CSS}</style></head><body>"),
           f"<h1>{html.escape(data['title'])}</h1>",
           (f"<p>Data: {html.escape(data['source'])}. {data['n_rows']} households, "
           f"{data['n_scored']} scored.</p>")]
    o = data["options"]
    out.append("<p>Options: " + html.escape(
        ", ".join(f"{k}={o[k]}" for k in ("missing", "weights", "rci_prediction", "rsm",
                                           "negative"))) + "</p>")
    if data.get("weight_note"):
        out.append(f"<p class='note'><strong>{html.escape(data['weight_note'])}</strong></p>")
    for n in data.get("notes", []):
        out.append(f"<p class='note'>{html.escape(n)}</p>")

    fm = data["fit_measures"]
    out.append("<h2>Headline results</h2>")
    out.append(f"<p>MIMIC fit: chi-square {fm.get('chisq', float('nan')):.2f} "
               f"(df {fm.get('df', float('nan')):.0f}), CFI {fm.get('cfi', float('nan')):.3f}, "
               f"RMSEA {fm.get('rmsea', float('nan')):.3f}. Resilience Structure Matrix "
               "(each pillar's share of the RCI, %, beside the signed correlation of the "
               "pillar with the RCI that the share leaves out):</p>"
               + _table(_rsm_view(data["rsm"], o), 2))
    out.append(_img("rsm", *figs["rsm"]))
    out.append(_img("rci_100_hist", *figs["rci_100_hist"]))

    out.append("<h2>Data summary</h2>" + _table(data["summary"]))

    out.append("<h2>Pillars</h2>")
    ad = pd.DataFrame([{"pillar": k, "n": p["n"], "KMO": p["kmo"],
                        "Bartlett chi2": p["bartlett"]["chisq"], "df": p["bartlett"]["df"],
                        "p": p["bartlett"]["p_value"], "factors": p["n_factors"],
                        "orientation": p["orientation"].get("rule", "")
                        + (f" {p['orientation']['anchor']}" if p["orientation"]["anchor"] else "")
                        + (", flipped" if p["orientation"]["flipped"] else ""),
                        "negative": ", ".join(p["orientation"]["negative"])}
                       for k, p in data["pillars"].items()])
    out.append("<h3>Sampling adequacy and retained factors</h3>" + _df(ad))
    for name, p in data["pillars"].items():
        out.append(f"<h3>{html.escape(name)}</h3>")
        w = ", ".join(f"F{j + 1}: {x:.3f}" for j, x in enumerate(p["variance_weights"]))
        out.append(f"<p>{p['n_factors']} factor(s) retained; variance weights {w}."
                   + (f" <span class='note'>Heywood case: {', '.join(p['heywood'])}</span>"
                      if p["heywood"] else "") + "</p>")
        lo = pd.DataFrame(p["loadings"]["data"], columns=p["loadings"]["columns"],
                          index=p["loadings"]["index"]).reset_index(names="variable")
        out.append(_df(lo))
        for key in (f"heatmap_{name}", f"radar_{name}"):
            out.append(_img(key, *figs[key]))

    out.append("<h2>MIMIC model</h2>")
    out.append(_img("mimic_path", *figs["mimic_path"]))
    keys = [k for k in ("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic",
                        "bic") if k in fm]
    out.append(_df(pd.DataFrame([{k: fm[k] for k in keys}])))
    out.append(_table(data["mimic_params"]))

    for var, d in data["profiles"].items():
        out.append(f"<h2>By {html.escape(var)}</h2>" + _table(d, 2))
        out.append(_img(f"rci_by_{var}", *figs[f"rci_by_{var}"]))
        out.append(_img(f"rsm_by_{var}", *figs[f"rsm_by_{var}"]))
    boot = data.get("bootstrap")
    if boot:
        out.append(_bootstrap_section(boot))
    out.append("<h2>Row accounting</h2>" + _table(data["accounting"]))
    for s in sections:
        out.append(_section(s, figs))
    out.append("</body></html>")
    return "\n".join(out)


def _bootstrap_section(boot: dict) -> str:
    level = f"{100 * boot['level']:g} %"
    parts = ["<h2 id='bootstrap'>Bootstrap confidence intervals</h2>",
             (f"<p>{boot['n_boot']} nonparametric bootstrap replicates of the whole pipeline "
              f"(seed {boot['seed']}; {boot['usable']} usable), {level} percentile "
              "intervals.</p>")]
    for reason, count in boot.get("failed", {}).items():
        parts.append(f"<p class='note'>{count} replicate(s) left out: {html.escape(reason)}</p>")
    parts.append("<h3>Resilience Structure Matrix</h3>" + _table(boot["rsm"], 2))
    parts.append("<h3>MIMIC parameters</h3>" + _table(boot["mimic"], 4))
    parts.append("<h3>Mean RCI_100</h3>" + _table(boot["overall"], 2))
    for var, tab in boot["profiles"].items():
        parts.append(f"<h3>Mean RCI_100 by {html.escape(var)}</h3>" + _table(tab, 2))
    return "\n".join(parts)
