"""What the page shows and offers for download after a fit: an HTML fragment and exports.

The fragment is rendered on the server from the files `rima fit` wrote (report_data.json,
the figures, scores.csv, the bootstrap tables), so the page shows the numbers of the
report and of the command line, from the same files. Exports add what a spreadsheet or
Stata user needs: every table in one Excel workbook, and Stata files with Stata-safe
names, variable labels and a data label; everything together in one zip.
"""

from __future__ import annotations

import html
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from rima.app.messages import EN, text

FIGURE_DIR = "figures"
ZIP_NAME = "rima_results.zip"
LABELS = {
    "id": "household id", "ABS": "pillar ABS: access to basic services (score)",
    "AST": "pillar AST: assets (score)", "SSN": "pillar SSN: social safety nets (score)",
    "AC": "pillar AC: adaptive capacity (score)", "RCI": "Resilience Capacity Index",
    "RCI_100": "RCI rescaled 0-100", "status": "ok, or why the row was not scored",
    "share": "share of the RCI (%)", "r": "|correlation with RCI|",
    "mean_RCI_100": "mean RCI_100", "ci_lower": "lower confidence limit",
    "ci_upper": "upper confidence limit", "households": "households",
}


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def _num(v, digits=3) -> str:
    if isinstance(v, bool) or v is None:
        return _esc("" if v is None else v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "" if not math.isfinite(v) else f"{v:.{digits}f}"
    return _esc(v)


def table(df: pd.DataFrame, caption: str, lang: str, digits=3, tid=None) -> str:
    """A sortable table (the page's script sorts on a header click) in a scroll box."""
    sort = _esc(text(lang, "sort"))
    head = "".join(f'<th scope="col"><button type="button" class="sort" title="{sort}">'
                   f"{_esc(c)}</button></th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = "".join(
            f'<td data-v="{_esc(v) if isinstance(v, str) else ("" if v is None else _esc(v))}"'
            f'{" class=num" if isinstance(v, (int, float, np.number)) else ""}>{_num(v, digits)}</td>'
            for v in row)
        body.append(f"<tr>{cells}</tr>")
    ident = f' id="{tid}"' if tid else ""
    return (f'<div class="scroll" tabindex="0" role="region" aria-label="{_esc(caption)}">'
            f'<table class="sortable"{ident}><caption>{_esc(caption)}</caption><thead><tr>'
            f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _frame(d) -> pd.DataFrame:
    return pd.DataFrame(d["data"], columns=d["columns"])


def _fig(job_url: str, name: str, caption: str, out: Path) -> str:
    if not (out / FIGURE_DIR / f"{name}.png").is_file():
        return ""
    return (f'<figure><img src="{job_url}/files/{FIGURE_DIR}/{name}.png" alt="{_esc(caption)}" '
            f'loading="lazy"><figcaption>{_esc(caption)}</figcaption></figure>')


def results_fragment(out: Path, job_url: str, lang: str, value_labels=None) -> str:
    """The results of a finished fit as HTML (headline, RSM, pillars, MIMIC, profiles...)."""
    data = json.loads((out / "report_data.json").read_text(encoding="utf-8"))
    headline = json.loads((out / "headline.json").read_text(encoding="utf-8"))
    t = lambda k, **kw: _esc(text(lang, k, **kw))
    mean = headline["rci_100_mean"]
    weight = headline.get("rci_100_mean_weight")
    weighted = f" ({t('weighted_by', w=weight)})" if weight else ""
    parts = [f'<section aria-labelledby="h-headline"><h3 id="h-headline">{t("headline")}</h3>',
             (f'<p class="big">{t("mean_rci")}{weighted}: '
              f'<strong id="rci-mean" data-value="{mean!r}">'
              f"{mean:.2f}</strong> · {t('households')}: {headline['households']}, "
              f"{t('scored')}: {headline['scored']}</p>"),
             _fig(job_url, "rci_100_hist", "RCI_100", out)]
    rsm = _frame(data["rsm"])
    # the fit's own signed value behind each share (weighted like the share when weights
    # are used): a correlation, or a standardised coefficient under rsm = "std_coefficient"
    signed = "corr" if data["options"].get("rsm", "correlation") == "correlation" else "std_coef"
    show = rsm[["pillar", "share", "r_signed"]].rename(
        columns={"share": text(lang, "share"), "r_signed": text(lang, signed)})
    boot = data.get("bootstrap")
    if boot:
        b = _frame(boot["rsm"]).set_index("pillar")
        show[text(lang, "boot_ci")] = [f"{b.loc[p, 'ci_lower']:.2f} – {b.loc[p, 'ci_upper']:.2f}"
                                       for p in rsm["pillar"]]
    parts.append(f'<h4>{t("rsm")}</h4>')
    parts.append(table(show, text(lang, "rsm"), lang, digits=2, tid="rsm-table"))
    parts.append('<ul class="hidden" id="rsm-values">' + "".join(
        f'<li data-pillar="{_esc(p)}" data-value="{s!r}"></li>'
        for p, s in zip(rsm["pillar"], rsm["share"])) + "</ul>")
    parts.append(_fig(job_url, "rsm", text(lang, "rsm"), out) + "</section>")

    parts.append(f'<section aria-labelledby="h-pillars"><h3 id="h-pillars">{t("pillars")}</h3>')
    for name, p in data["pillars"].items():
        load = _frame(p["loadings"])
        load.insert(0, "variable", p["variables"])
        parts.append(f"<h4>{_esc(name)}</h4><p>n = {p['n']}, KMO = {p['kmo']:.3f}, "
                     f"factors = {p['n_factors']}</p>")
        parts.append(table(load, f"{name}: {text(lang, 'loadings')}", lang))
        parts.append('<div class="figs">' + _fig(job_url, f"heatmap_{name}", f"{name}", out)
                     + _fig(job_url, f"radar_{name}", f"{name}", out) + "</div>")
    parts.append("</section>")

    fm = data["fit_measures"]
    fit = pd.DataFrame({"measure": [k for k in ("chisq", "df", "pvalue", "cfi", "tli",
                                                "rmsea", "srmr") if k in fm]})
    fit["value"] = [fm[k] for k in fit["measure"]]
    params = _frame(data["mimic_params"])
    parts.append(f'<section aria-labelledby="h-mimic"><h3 id="h-mimic">{t("mimic")}</h3>'
                 + _fig(job_url, "mimic_path", text(lang, "mimic"), out)
                 + table(fit, text(lang, "fit_measures"), lang)
                 + table(params, text(lang, "parameters"), lang, digits=4) + "</section>")

    for var, d in data["profiles"].items():
        tab = _frame(d)
        labels = (value_labels or {}).get(var)
        if labels:
            tab["category"] = [labels.get(str(_plain(c)), c) for c in tab["category"]]
        keep = [c for c in ("category", "households", "mean_RCI_100", "se", "ci_lower",
                            "ci_upper") if c in tab.columns]
        parts.append(f'<section><h3>{t("by_profile", var=var)}</h3>'
                     + table(tab[keep], text(lang, "by_profile", var=var), lang, digits=2)
                     + '<div class="figs">' + _fig(job_url, f"rci_by_{var}", var, out)
                     + _fig(job_url, f"rsm_by_{var}", var, out) + "</div></section>")
    acc = _frame(data["accounting"])
    parts.append(f'<section><h3>{t("accounting")}</h3>'
                 + table(acc, text(lang, "accounting"), lang, tid="accounting") + "</section>")
    if data.get("notes"):
        parts.append(f"<section><h3>{t('notes')}</h3><ul>"
                     + "".join(f"<li>{_esc(n)}</li>" for n in data["notes"]) + "</ul></section>")
    return "\n".join(p for p in parts if p)


def _plain(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


# --- exports -------------------------------------------------------------------------------

def stata_name(name: str, taken: set) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    if not s or not (s[0].isalpha() or s[0] == "_"):
        s = "v_" + s
    s = s[:32]
    base, i = s, 1
    while s in taken:
        s = f"{base[:29]}_{i}"
        i += 1
    taken.add(s)
    return s


def write_stata(df: pd.DataFrame, path: Path, title: str) -> None:
    """`df` as Stata 118 with Stata-safe names, variable labels and a data label."""
    taken: set = set()
    names = {c: stata_name(c, taken) for c in df.columns}
    out = df.rename(columns=names).copy()
    for c in out.columns:
        if out[c].dtype == bool:
            out[c] = out[c].astype("int8")
        elif out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna(), "").astype(str)
    labels = {names[c]: (LABELS.get(str(c)) or str(c))[:80] for c in df.columns}
    out.to_stata(path, write_index=False, version=118, variable_labels=labels,
                 data_label=title[:80])


def tables_of(out: Path) -> dict[str, Path]:
    """Every CSV table `rima fit` wrote, by name."""
    return {p.stem: p for p in sorted(out.glob("*.csv"))}


def write_exports(out: Path) -> None:
    """exports/<table>.dta and exports/tables.xlsx from the CSV tables, then the zip."""
    exp = out / "exports"
    exp.mkdir(exist_ok=True)
    tabs = {name: pd.read_csv(p) for name, p in tables_of(out).items()}
    for name, df in tabs.items():
        write_stata(df, exp / f"{name}.dta", f"rima {name}")
    with pd.ExcelWriter(exp / "tables.xlsx", engine="openpyxl") as xw:
        for name, df in tabs.items():
            df.to_excel(xw, sheet_name=name[:31], index=False)
    write_zip(out)


def downloadable(out: Path) -> list[str]:
    """Relative paths of every file offered for download (the zip's content)."""
    files = []
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != ZIP_NAME and not p.name.endswith(".tmp"):
            files.append(p.relative_to(out).as_posix())
    return files


def write_zip(out: Path) -> Path:
    tmp = out / (ZIP_NAME + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for rel in downloadable(out):
            z.write(out / rel, rel)
    final = out / ZIP_NAME
    tmp.replace(final)
    return final


def downloads_fragment(out: Path, job_url: str, lang: str) -> str:
    items = [f'<li><a href="{job_url}/zip" download>{_esc(text(lang, "zip"))}</a></li>']
    for rel in downloadable(out):
        if rel.startswith(FIGURE_DIR + "/"):
            continue
        items.append(f'<li><a href="{job_url}/files/{_esc(rel)}" download>{_esc(rel)}</a></li>')
    return '<ul class="downloads">' + "".join(items) + "</ul>"


def job_summary(job, lang: str, job_url: str = "") -> str:
    """A scoring or analysis job: the command's summary, its figures and its tables."""
    parts = []
    for fig in sorted((job.out / FIGURE_DIR).glob("*.png")):
        caption = text(lang, "fig_" + fig.stem) if ("fig_" + fig.stem) in EN else fig.stem
        parts.append(_fig(job_url, fig.stem, caption, job.out))
    summ = job.out / "summary.txt"
    if summ.is_file():
        parts.append(f"<pre class=\"summary\">{_esc(summ.read_text(encoding='utf-8'))}</pre>")
    sj = job.out / "summary.json"
    if sj.is_file():
        try:
            info = json.loads(sj.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            info = None
        if isinstance(info, dict):
            rows = [(k, v) for k, v in info.items() if not isinstance(v, (dict, list))]
            parts.append(table(pd.DataFrame(rows, columns=["", "value"]), "summary", lang))
            for k, v in info.items():
                if isinstance(v, dict) and v and not any(isinstance(x, (dict, list))
                                                         for x in v.values()):
                    parts.append(table(pd.DataFrame(list(v.items()), columns=[k, "value"]),
                                       k, lang))
    for name, p in tables_of(job.out).items():
        df = pd.read_csv(p)
        if len(df) <= 200:
            parts.append(f"<h4>{_esc(name)}</h4>" + table(df, name, lang))
    return "\n".join(parts)
