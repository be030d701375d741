"""The report page: plain HTML and CSS, figures embedded as base64 PNG (no external files)."""

from __future__ import annotations

import base64
import html
import math

import pandas as pd

from rima.labels import rsm_signed_label

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1.5em;max-width:1100px;color:#222;
overflow-wrap:anywhere}
h1{border-bottom:2px solid #1b6ca8}h2{color:#1b6ca8;margin-top:1.6em}
.scroll{max-width:100%;overflow-x:auto;margin:.5em 0}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;overflow-wrap:normal}
th{background:#eef3f8}
td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto}
figcaption{font-size:12px;color:#555;text-align:center}
.note{color:#8a5a00}
.provenance{font-size:13px;color:#444}
.provenance dt{font-weight:600;float:left;clear:left;width:8.5em}
.provenance dd{margin-left:9em}
nav.toc ol{columns:2 16em;font-size:14px}
@media (max-width:600px){body{padding:0 .6em;margin:1em auto}h1{font-size:1.5em}
.provenance dt{float:none;width:auto}.provenance dd{margin-left:1em}}
@page{size:A4;margin:14mm}
@media print{body{max-width:none;margin:0;padding:0;font-size:11pt}
nav.toc{break-after:page}
h2{break-before:page;break-after:avoid}h3{break-after:avoid}
figure,table,tr{break-inside:avoid}
.scroll{overflow:visible}table{font-size:9pt}
a{color:inherit;text-decoration:none}}
"""

METHODS = (
    "RIMA-II (FAO) measures household resilience capacity in two steps. Each pillar "
    "(access to basic services, assets, social safety nets, adaptive capacity) is a "
    "factor-analysis score of its variables, oriented so that higher means more capacity "
    "(see the orientation column). A MIMIC model then treats resilience capacity as a "
    "latent variable caused by the pillars and reflected in the food-security indicators; "
    "its prediction is the Resilience Capacity Index (RCI), rescaled to 0-100 over the "
    "training households (RCI_100). The Resilience Structure Matrix (RSM) gives each "
    "pillar's share of the RCI: the absolute correlation of the pillar with the RCI "
    "divided by the sum over pillars. A share says how strongly a pillar moves with "
    "resilience, not in which direction: the signed correlation beside it gives the "
    "direction (negative: households with more of the pillar are less resilient). Means "
    "by group are shown with 95 % confidence intervals on the full 0-100 scale.")


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
    # wide tables scroll inside their box instead of widening the page
    return (f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{rows}"
            "</tbody></table></div>")


def _rsm_view(d, options) -> dict:
    """The RSM table as shown: the share beside its signed value, named for what it is."""
    df = pd.DataFrame(d["data"], columns=d["columns"])
    label = rsm_signed_label(options.get("rsm", "correlation"))
    keep = [c for c in ("pillar", "share", "r_signed") if c in df.columns]
    df = df[keep].rename(columns={"share": "share (%)", "r_signed": label})
    if label in df.columns:  # an explicit + so a reader never mistakes the sign
        df[label] = ["" if v is None or math.isnan(v) else f"{v:+.3f}" for v in df[label]]
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


def _provenance(data: dict) -> str:
    p = data.get("provenance", {})
    items = [("Data", (f"{data['source']} ({data['n_rows']} households, "
                       f"{data['n_scored']} scored)")),
             ("Spec", p.get("spec") or "given as a dict"),
             ("rima", p.get("rima_version", "")),
             ("Date", p.get("date", "")),
             ("Fingerprint", p.get("fingerprint", ""))]
    body = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>"
                   for k, v in items if v)
    return f"<dl class='provenance'>{body}</dl>"


def _with_toc(parts: list) -> list:
    """Give every h2 an id and put a table of contents after the provenance block."""
    import re

    toc, used = [], set()
    pat = re.compile(r"<h2(?: id='([^']*)')?>(.*?)</h2>", re.DOTALL)

    def name(m):
        ident = m.group(1) or "s-" + re.sub(r"[^a-z0-9]+", "-", m.group(2).lower()).strip("-")
        while ident in used:
            ident += "-2"
        used.add(ident)
        toc.append((ident, m.group(2)))
        return f"<h2 id='{ident}'>{m.group(2)}</h2>"

    body = [pat.sub(name, x) for x in parts[3:]]
    nav = ("<nav class='toc' aria-label='Contents'><h2 id='contents'>Contents</h2><ol>"
           + "".join(f"<li><a href='#{i}'>{t}</a></li>" for i, t in toc) + "</ol></nav>")
    return parts[:3] + [nav] + body


def page(data: dict, figs: dict, sections=()) -> str:
    out = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(data['title'])}</title><style>{CSS}</style></head><body>"),
           f"<h1>{html.escape(data['title'])}</h1>",
           _provenance(data)]
    out.append(f"<h2>About this analysis</h2><p>{html.escape(METHODS)}</p>")
    o = data["options"]
    out.append("<p>Options: " + html.escape(
        ", ".join(f"{k}={o[k]}" for k in ("missing", "weights", "rci_prediction", "rsm",
                                           "orientation", "negative") if k in o)) + "</p>")
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
    out = _with_toc(out)
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
