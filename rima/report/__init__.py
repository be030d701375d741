"""The HTML report of a fitted model: one self-contained file plus the figures as PNG.

`write_report(result, out_dir)` first reduces the result to plain tables
(`report_data.json`, so `rima report DIR` can rebuild the report without refitting) and then
renders them: figures with matplotlib's Agg backend, embedded in report.html as base64 PNG
and also written to out_dir/figures/.

Analyses (shocks, scenarios, targeting, panel) add their own sections to a fit directory
with `add_sections` / `rima.analysis.report_parts.add_analyses` (or `rima shocks ...
--report DIR`); they are kept in
out_dir/report_sections/ and every render includes them (see rima.report.sections).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rima.errors import RimaInputError
from rima.report.sections import add_sections, load_sections, remove_section

DATA_FILE = "report_data.json"

__all__ = ["DATA_FILE", "add_sections", "load_sections", "rebuild",
           "remove_section", "render", "report_data", "write_report"]


def _records(df: pd.DataFrame):
    return json.loads(df.to_json(orient="split", double_precision=15))


def _frame(d) -> pd.DataFrame:
    return pd.DataFrame(d["data"], columns=d["columns"], index=d["index"])


def _provenance(result) -> dict:
    """Where the numbers come from: spec file, rima version, date (UTC; SOURCE_DATE_EPOCH
    when set, for reproducible builds) and the training-data fingerprint."""
    import datetime as dt
    import os

    from rima import __version__

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch and epoch.isdigit()
            else dt.datetime.now(dt.UTC))
    src = getattr(result.spec, "source", None)
    return {"spec": str(src) if src else "", "rima_version": __version__,
            "date": when.strftime("%Y-%m-%d %H:%M UTC"),
            "fingerprint": result.model.metadata.get("training_fingerprint", "")}


def report_data(result) -> dict:
    """Everything the report shows, as JSON-ready tables."""
    from rima.options import weight_note

    spec = result.spec
    df = result.data
    scores = result.scores
    ok = (scores["status"] == "ok").to_numpy()
    summ = result.validation.summary.copy()
    se = []
    for v in summ.index:
        x = pd.to_numeric(df[v], errors="coerce").dropna()
        se.append(float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else np.nan)
    summ["SE"] = se
    pillars = {}
    for name, pr in result.pillars.items():
        fm = pr.model
        vs = list(pr.variables)
        radar = []
        for v in vs:
            x = pd.to_numeric(df[v], errors="coerce").to_numpy(dtype=float)
            y = scores[name].to_numpy(dtype=float)
            m = ok & np.isfinite(x) & np.isfinite(y)
            radar.append(float(np.corrcoef(x[m], y[m])[0, 1]))
        load = fm.loadings_.copy()
        load["h2"] = fm.communalities_
        load["weight"] = pr.weights
        pillars[name] = {
            "variables": vs, "n": pr.n_obs, "n_factors": int(fm.n_factors_),
            "kmo": float(fm.kmo_), "kmo_per_variable": [float(x) for x in fm.kmo_per_variable_],
            "bartlett": {k: float(v) for k, v in fm.bartlett_sphericity_.items()},
            "loadings": _records(load), "ss": [float(x) for x in fm.ss_loadings_],
            "variance_weights": [float(x) for x in fm.variance_weights_],
            "correlation": np.asarray(fm.correlation_).tolist(), "radar": radar,
            "orientation": pr.orientation, "heywood": list(fm.heywood_variables_),
        }
    params = result.mimic.params
    return {
        "title": "RIMA-II resilience analysis",
        "source": str(result.validation.source or "data frame"),
        "n_rows": len(scores), "n_scored": int(ok.sum()),
        "options": result.options.to_dict(),
        "weight_note": weight_note(spec, result.options),
        "provenance": _provenance(result),
        "pillar_names": list(spec.pillar_names), "indicators": list(spec.indicators),
        "summary": _records(summ.reset_index()),
        "pillars": pillars,
        "mimic_params": _records(params),
        "fit_measures": {k: float(v) for k, v in result.mimic.fit_measures.items()
                         if isinstance(v, (int, float, np.floating))},
        "rsm": _records(result.rsm),
        "profiles": {k: _records(v) for k, v in result.profiles.items()},
        "rci_100": [float(x) for x in scores.loc[ok, "RCI_100"]],
        "accounting": _records(result.accounting),
        "notes": list(result.notes),
        "bootstrap": _bootstrap_data(getattr(result, "bootstrap_result", None)),
    }


def _bootstrap_data(boot) -> dict | None:
    """Percentile intervals of a `rima.bootstrap` run, or None when none was run."""
    if boot is None:
        return None
    return {
        "n_boot": int(boot.n_boot), "usable": int(boot.n_ok), "seed": int(boot.seed),
        "level": float(boot.level),
        "rsm": _records(boot.rsm), "mimic": _records(boot.mimic),
        "overall": _records(boot.overall),
        "profiles": {var: _records(tab) for var, tab in boot.profiles.items()},
        "failed": {str(k): int(v) for k, v in boot.failed.items()},
    }


def write_report(result, out_dir) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = report_data(result)
    (out / DATA_FILE).write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    return render(data, out)


def rebuild(out_dir) -> Path:
    """Re-render report.html and the figures from a fit output directory."""
    out = Path(out_dir)
    f = out / DATA_FILE
    if not f.exists():
        raise RimaInputError(f"{out}: no {DATA_FILE}; is this a directory written by `rima fit`?")
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RimaInputError(f"{f}: not valid JSON ({exc})") from exc
    return render(data, out)


def render(data: dict, out: Path) -> Path:
    from rima.report import figures, html, sections

    out = Path(out)
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    secs = sections.load_sections(out)
    figs = figures.make_all(data, figdir)
    sec_figs = {}
    for s in secs:
        for f in s["figures"]:
            stem = Path(f["file"]).stem
            if stem in figs or stem in sec_figs:
                raise RimaInputError(f"{out / sections.SECTIONS_DIR / (s['key'] + '.json')}: "
                                     f"figure {f['file']} has the name of another figure")
            sec_figs[stem] = s["key"]
    figs.update(sections.write_figures(secs, figdir))
    page = html.page(data, figs, secs)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path

