"""Analysis sections of a fit directory's report (shocks, scenarios, targeting, panel).

Each section lives in ``DIR/report_sections/<key>.json``: title, HTML fragment, caption and
its figures with the PNG bytes inside, so `rima report DIR` can rebuild the page (and
restore ``DIR/figures/``) without rerunning the analysis. The model the analysis used is
recorded by its identity (`model_identity`); a section computed with another model than the
directory's ``model.json`` is flagged on the page rather than shown as if it belonged to
this fit.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from rima.errors import RimaInputError

SECTIONS_DIR = "report_sections"
FORMAT_VERSION = 1
# reading order on the page; keys such as "shocks_logit" sort with their group
ORDER = ("shocks", "scenarios", "targeting", "panel", "impact")
_REQUIRED = ("key", "title", "html", "caption", "figures")


def group(key: str) -> str:
    return key.split("_", 1)[0]


def _sort_key(key: str):
    g = group(key)
    return (ORDER.index(g) if g in ORDER else len(ORDER), key)


# what a score depends on: not where the data came from, the rima version or the fit
# summary (which gains measures as rima grows), so the same fit from a file or a data
# frame, now or later, is the same model
_NOT_IDENTITY = ("checksum", "metadata", "mimic", "rima_version")


def model_identity(model) -> str | None:
    """sha256 of a model's scoring content and training-data fingerprint.

    model : FittedModel, or the parsed content of a model.json; None if neither.
    """
    if hasattr(model, "to_dict"):
        content = model.to_dict()
    elif isinstance(model, dict):
        content = model
    else:
        return None
    from rima.model_file import canonical_json

    ident = {k: v for k, v in content.items() if k not in _NOT_IDENTITY}
    ident["training_fingerprint"] = (content.get("metadata") or {}).get("training_fingerprint")
    return "sha256:" + hashlib.sha256(canonical_json(ident)).hexdigest()


def _dir_identity(out: Path) -> str | None:
    f = out / "model.json"
    if not f.exists():
        return None
    try:
        return model_identity(json.loads(f.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, OSError, UnicodeDecodeError):
        return None


def check_fit_dir(out_dir) -> Path:
    """The directory as a Path; RimaInputError unless `rima fit` wrote a report there."""
    from rima.report import DATA_FILE

    out = Path(out_dir)
    if not (out / DATA_FILE).exists():
        raise RimaInputError(
            f"{out}: no {DATA_FILE}; --report needs a directory written by `rima fit --out "
            "DIR` (without --no-report)")
    return out


def _key_ok(key) -> bool:
    return (isinstance(key, str) and key != "" and
            all(c.isalnum() or c in "_-" for c in key) and key[0].isalnum())


def add_sections(out_dir, sections, model=None, render=True) -> Path:
    """Add (or replace) analysis sections in a fit directory's report and re-render it.

    sections : dicts as returned by `rima.analysis.report_parts.sections` (key, title, html,
        caption, figure and/or figures as PNG paths, optional figure_captions).
    model : the fitted model the analyses used (FittedModel, or its `model_identity`); the
        page notes a section whose model is not the directory's model.json.
    Returns the path of report.html (or of the sections folder with render=False).
    """
    out = check_fit_dir(out_dir)
    sdir = out / SECTIONS_DIR
    sdir.mkdir(exist_ok=True)
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    ident = model if isinstance(model, str) or model is None else model_identity(model)
    for sec in sections:
        key = sec.get("key")
        if not _key_ok(key):
            raise RimaInputError(f"report section key {key!r}: use letters, digits, _ and -")
        paths = list(sec.get("figures") or ([sec["figure"]] if sec.get("figure") else []))
        caps = list(sec.get("figure_captions") or [sec.get("caption", "")] * len(paths))
        if len(caps) != len(paths):
            raise RimaInputError(f"report section {key!r}: {len(paths)} figures but "
                                 f"{len(caps)} figure captions")
        figs = []
        for p, cap in zip(paths, caps):
            p = Path(p)
            if not p.exists():
                raise RimaInputError(f"report section {key!r}: figure {p} not found")
            raw = p.read_bytes()
            if raw[:8] != b"\x89PNG\r\n\x1a\n":
                raise RimaInputError(f"report section {key!r}: figure {p} is not a PNG file")
            figs.append({"file": p.name, "caption": str(cap),
                         "png_base64": base64.b64encode(raw).decode("ascii")})
        names = [f["file"] for f in figs]
        if len(set(names)) != len(names):
            raise RimaInputError(f"report section {key!r}: two figures named alike: {names}")
        f = sdir / f"{key}.json"
        if f.exists():
            # a replaced section's figures that the new one does not reuse are stale
            try:
                old = json.loads(f.read_text(encoding="utf-8")).get("figures", [])
            except (json.JSONDecodeError, AttributeError):
                old = []
            for o in old:
                name = o.get("file") if isinstance(o, dict) else None
                if name and name not in names and Path(name).name == name:
                    (figdir / name).unlink(missing_ok=True)
        doc = {"format_version": FORMAT_VERSION, "key": key, "title": str(sec["title"]),
               "html": str(sec.get("html") or ""), "caption": str(sec.get("caption") or ""),
               "model": ident, "figures": figs}
        f.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if not render:
        return sdir
    from rima.report import rebuild

    return rebuild(out)


def remove_section(out_dir, key, render=True) -> Path:
    """Drop one section (and its figures) from the report in out_dir."""
    out = check_fit_dir(out_dir)
    f = out / SECTIONS_DIR / f"{key}.json"
    if not f.exists():
        have = [s["key"] for s in load_sections(out)]
        raise RimaInputError(f"{out}: no report section {key!r}; sections: {have}")
    for fig in load_sections(out, only=key)[0]["figures"]:
        (out / "figures" / fig["file"]).unlink(missing_ok=True)
    f.unlink()
    if not render:
        return out / SECTIONS_DIR
    from rima.report import rebuild

    return rebuild(out)


def load_sections(out_dir, only=None) -> list[dict]:
    """Every section stored in out_dir, in page order, checked; with a `stale` flag set when
    the section's model is not the directory's model.json."""
    out = Path(out_dir)
    sdir = out / SECTIONS_DIR
    if not sdir.is_dir():
        return []
    current = _dir_identity(out)
    secs = []
    for f in sorted(sdir.glob("*.json")):
        if only is not None and f.stem != only:
            continue
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RimaInputError(f"{f}: not a valid report section ({exc})") from exc
        if not isinstance(doc, dict) or any(k not in doc for k in _REQUIRED):
            missing = [k for k in _REQUIRED if not isinstance(doc, dict) or k not in doc]
            raise RimaInputError(f"{f}: not a report section (missing {', '.join(missing)})")
        if doc["key"] != f.stem or not _key_ok(doc["key"]):
            raise RimaInputError(f"{f}: section key {doc['key']!r} does not match the file name")
        for fig in doc["figures"]:
            name = fig.get("file", "") if isinstance(fig, dict) else ""
            if not name or Path(name).name != name or not name.endswith(".png"):
                raise RimaInputError(f"{f}: bad figure file name {name!r}")
            try:
                raw = base64.b64decode(fig["png_base64"], validate=True)
            except (KeyError, ValueError) as exc:
                raise RimaInputError(f"{f}: figure {name} has no valid PNG data") from exc
            if raw[:8] != b"\x89PNG\r\n\x1a\n":
                raise RimaInputError(f"{f}: figure {name} is not a PNG")
        doc["stale"] = bool(doc.get("model") and current and doc["model"] != current)
        secs.append(doc)
    return sorted(secs, key=lambda d: _sort_key(d["key"]))


def write_figures(secs, figdir: Path) -> dict:
    """Restore each section's PNGs under figdir; {figure id: (caption, path)}."""
    figs = {}
    for s in secs:
        for fig in s["figures"]:
            path = figdir / fig["file"]
            raw = base64.b64decode(fig["png_base64"])
            if not path.exists() or path.read_bytes() != raw:
                path.write_bytes(raw)
            figs[Path(fig["file"]).stem] = (fig["caption"], path)
    return figs
