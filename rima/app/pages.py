"""Server-rendered HTML of `rima app`: the page skeleton, the options form, sign-in.

The page is rendered in the analyst's language from the message catalogue; the bundled
script (static/app.js) fills in what depends on the uploaded data (preview, variable
pickers, results) and sends the rest of the catalogue along as JSON.
"""

from __future__ import annotations

import html
import json

from rima import __version__
from rima.app.messages import LANGUAGES, catalogue, text

_CURRENT = ' aria-current="true"'


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _head(lang: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(text(lang, 'title'))}</title>"
            '<link rel="stylesheet" href="/static/app.css"></head>')


def _option_field(f: dict, lang: str) -> str:
    key = f["key"]
    fid = "opt-" + key.replace(".", "-")
    help_id = fid + "-help"
    default = f["default"]
    shown_default = json.dumps(default) if not isinstance(default, str) else default
    attrs = f'id="{fid}" name="{_e(key)}" data-option="{_e(key)}" aria-describedby="{help_id}"'
    if f["kind"] == "select":
        opts = "".join(f'<option value="{_e(c)}"{" selected" if c == default else ""}>{_e(c)}'
                       "</option>" for c in f["choices"])
        control = f"<select {attrs}>{opts}</select>"
    elif f["kind"] == "bool":
        control = (f'<select {attrs} data-kind="bool"><option value="false"'
                   f'{" selected" if not default else ""}>false</option><option value="true"'
                   f'{" selected" if default else ""}>true</option></select>')
    elif f["kind"] == "int":
        control = f'<input type="number" min="0" step="1" value="{_e(default)}" {attrs} data-kind="int">'
    else:
        control = f'<input type="text" value="{_e(default)}" {attrs} data-kind="text">'
    return (f'<div class="field"><label for="{fid}">{_e(key)}</label>{control}'
            f'<small id="{help_id}">{_e(text(lang, "opt_" + key))} ({_e(text(lang, "default"))}: '
            f"{_e(shown_default)})</small></div>")


def main_page(lang: str, settings, option_fields: list[dict]) -> str:
    t = lambda k, **kw: _e(text(lang, k, **kw))
    langs = " ".join(
        f'<a href="/?lang={code}" hreflang="{code}" lang="{code}"'
        f'{_CURRENT if code == lang else ""}>{_e(name)}</a>'
        for code, name in LANGUAGES.items())
    hours = f"{settings.retention / 3600:g}"
    mb = f"{settings.max_upload_bytes / 1024 / 1024:g}"
    plain = [f for f in option_fields if not f["key"].startswith("factor.")]
    factor = [f for f in option_fields if f["key"].startswith("factor.")]
    return (
        _head(lang) + "<body>"
        f'<a class="skip" href="#main">{t("skip")}</a>'
        f'<header><h1>{t("title")}</h1><nav aria-label="{t("language")}">{t("language")}: '
        f"{langs}</nav>"
        f'<button type="button" id="delete" class="danger">{t("delete")}</button></header>'
        f'<main id="main"><p>{t("intro", hours=hours)}</p>'
        '<p id="notice" role="status" aria-live="polite"></p>'
        # 1 upload
        f'<section id="s-upload" aria-labelledby="h-upload"><h2 id="h-upload">{t("step_upload")}</h2>'
        f'<div class="field"><label for="upload-input">{t("upload_label")}</label>'
        '<input type="file" id="upload-input" multiple '
        'accept=".csv,.tsv,.tab,.txt,.dta,.sav,.zsav,.xlsx,.xlsm,.parquet,.pq,.toml,.json">'
        f'<small data-max-mb="{mb}" id="upload-limit">max {mb} MB</small>'
        '<small id="quota" aria-live="polite"></small></div>'
        '<p class="error" id="err-upload" role="alert"></p>'
        f'<div class="field"><label for="file-select">{t("file_label")}</label>'
        '<select id="file-select"></select></div>'
        f'<div class="field" id="sheet-field" hidden><label for="sheet-select">{t("sheet_label")}'
        '</label><select id="sheet-select"></select></div></section>'
        # 2 preview
        f'<section id="s-preview" aria-labelledby="h-preview" hidden><h2 id="h-preview">'
        f'{t("step_preview")}</h2><p id="preview-info"></p><div id="preview"></div></section>'
        # 3 mapping
        f'<section id="s-map" aria-labelledby="h-map" hidden><h2 id="h-map">{t("step_map")}</h2>'
        f'<p>{t("map_help")}</p><p class="error" id="err-spec" role="alert"></p>'
        '<div class="row">'
        f'<div class="field"><label for="role-id">{t("id")}</label><select id="role-id"></select>'
        '<p class="error" id="err-id" role="alert"></p></div>'
        f'<div class="field"><label for="role-weight">{t("weight")}</label>'
        '<select id="role-weight"></select><p class="error" id="err-weight" role="alert"></p>'
        "</div></div>"
        '<div id="pickers"></div>'
        f'<div class="row"><div class="field"><label for="new-pillar">{t("add_pillar")}</label>'
        '<input type="text" id="new-pillar" pattern="[A-Za-z_][A-Za-z0-9_]*" maxlength="32">'
        f'</div><button type="button" id="add-pillar">{t("add")}</button></div>'
        f'<fieldset id="orientation"><legend>{t("anchors")}</legend><div id="negative-box"></div>'
        '<div id="anchors"></div><p class="error" id="err-negative" role="alert"></p></fieldset>'
        f'<details id="options"><summary>{t("options")}</summary>'
        '<p class="error" id="err-options" role="alert"></p>'
        + "".join(_option_field(f, lang) for f in plain)
        + f'<fieldset><legend>{t("factor_options")}</legend>'
        + "".join(_option_field(f, lang) for f in factor) + "</fieldset></details>"
        f'<div class="row"><button type="button" id="spec-download">{t("spec_download")}</button>'
        f'<div class="field"><label for="spec-upload">{t("spec_upload")}</label>'
        '<input type="file" id="spec-upload" accept=".toml"></div>'
        f'<button type="button" id="guess-again">{t("guess_again")}</button></div></section>'
        # 4 run
        f'<section id="s-run" aria-labelledby="h-run" hidden><h2 id="h-run">{t("step_run")}</h2>'
        f'<div class="row"><div class="field"><label for="n-boot">{t("bootstrap")}</label>'
        '<input type="number" id="n-boot" min="0" max="100000" step="1" value="0">'
        '<p class="error" id="err-bootstrap" role="alert"></p></div>'
        f'<button type="button" id="run" class="primary">{t("run")}</button></div>'
        '<div id="progress"><div class="bar" id="progress-box" hidden>'
        '<progress id="progress-bar" max="100" value="0" aria-labelledby="progress-text">'
        '</progress> <span id="progress-text" role="status" aria-live="polite"></span></div>'
        '<div class="bar" id="boot-box" hidden><progress id="boot-bar" max="100" value="0" '
        'aria-labelledby="boot-text"></progress> <span id="boot-text"></span></div>'
        '<ol id="steps"></ol></div>'
        '<p class="error" id="err-run" role="alert"></p></section>'
        # 5 results, 6 downloads
        f'<section id="s-results" aria-labelledby="h-results" hidden><h2 id="h-results">'
        f'{t("step_results")}</h2><div id="results"></div></section>'
        f'<section id="s-download" aria-labelledby="h-download" hidden><h2 id="h-download">'
        f'{t("step_download")}</h2><div id="downloads"></div></section>'
        # 7 score
        f'<section id="s-score" aria-labelledby="h-score"><h2 id="h-score">{t("step_score")}</h2>'
        f'<div class="row"><div class="field"><label for="score-model">{t("model_file")}</label>'
        '<select id="score-model" class="file-choice" data-files="model"></select></div>'
        f'<div class="field"><label for="score-data">{t("data_file")}</label>'
        '<select id="score-data" class="file-choice"></select></div>'
        f'<button type="button" id="score-run">{t("score")}</button></div>'
        '<p class="error" id="err-score" role="alert"></p><div id="score-results"></div></section>'
        # 8 analyses
        f'<section id="s-analyses" aria-labelledby="h-analyses"><h2 id="h-analyses">'
        f'{t("step_analyses")}</h2>'
        f'<div class="row"><div class="field"><label for="an-kind">{t("analysis")}</label>'
        f'<select id="an-kind"><option value="target">{t("target")}</option>'
        f'<option value="shocks">{t("shocks")}</option>'
        f'<option value="scenario">{t("scenario")}</option>'
        f'<option value="impact">{t("impact")}</option></select></div>'
        f'<div class="field"><label for="an-soums">{t("soums_file")}</label>'
        f'<select id="an-soums" class="file-choice" data-optional="1"></select></div></div>'
        f'<div class="row" data-for="target"><div class="field"><label for="an-thresholds">'
        f'{t("thresholds")}</label><input type="text" id="an-thresholds" inputmode="decimal">'
        f'</div><div class="field"><label for="an-quantiles">{t("quantiles")}</label>'
        '<input type="text" id="an-quantiles" inputmode="decimal"></div></div>'
        f'<div class="row" data-for="shocks" hidden><div class="field"><label for="an-outcome">'
        f'{t("outcome")}</label><input type="text" id="an-outcome" value="fcs"></div>'
        f'<div class="field"><label for="an-regression">{t("kind")}</label>'
        '<select id="an-regression"><option>ols</option><option>logit</option>'
        "<option>probit</option></select></div></div>"
        f'<div class="row" data-for="scenario" hidden><div class="field"><label for="an-change">'
        f'{t("change")}</label><input type="text" id="an-change"></div>'
        f'<div class="field"><label for="an-boot">{t("boot")}</label>'
        '<input type="number" id="an-boot" min="0" value="200"></div></div>'
        + _impact_form(lang) +
        f'<button type="button" id="an-run">{t("run_analysis")}</button>'
        '<p class="error" id="err-analysis" role="alert"></p><div id="an-results"></div></section>'
        f'</main><footer>rima {_e(__version__)}</footer>'
        f'<script type="application/json" id="msgs">{_json_script(catalogue(lang))}</script>'
        '<script src="/static/app.js"></script></body></html>')


def _impact_field(lang: str, key: str, control: str) -> str:
    fid = "im-" + key
    return (f'<div class="field"><label for="{fid}">{_e(text(lang, "im_" + key))}</label>'
            + control.replace("{id}", fid).replace("{help}", fid + "-help")
            + f'<small id="{fid}-help">{_e(text(lang, "im_" + key + "_help"))}</small></div>')


def _impact_form(lang: str) -> str:
    """`rima impact`'s options as a form (the same names, defaults and choices)."""
    t = lambda k: _e(text(lang, k))
    desc = 'id="{id}" aria-describedby="{help}"'
    txt = lambda value="": f'<input type="text" {desc} value="{_e(value)}">'
    num = lambda value="", step="1": (f'<input type="number" {desc} step="{step}" '
                                      f'value="{_e(value)}">')
    select = lambda choices: (f"<select {desc}>" + "".join(
        f'<option value="{_e(v)}">{_e(label)}</option>' for v, label in choices) + "</select>")
    f = lambda key, control: _impact_field(lang, key, control)
    return (
        '<div data-for="impact" hidden><div class="row">'
        + f("panel", '<select {desc} class="file-choice"></select>'.replace("{desc}", desc))
        + f("model", select([("fit", text(lang, "im_model_fit")),
                             ("spec", text(lang, "im_model_spec")),
                             ("file", text(lang, "im_model_file")),
                             ("none", text(lang, "im_model_none"))]))
        + f("model_file", '<select {desc} class="file-choice" data-files="model"></select>'
            .replace("{desc}", desc))
        + "</div><div class=\"row\">"
        + f("treatment_mode", select([("column", text(lang, "im_mode_column")),
                                      ("pilot", text(lang, "im_mode_pilot"))]))
        + f("treatment", txt("topup"))
        + f("outcome", txt("fcs"))
        + f("covariates", txt())
        + "</div><div class=\"row\">"
        + f("round_col", txt("round")) + f("treated_from", num())
        + f("baseline", num()) + f("weight", txt())
        + "</div><div class=\"row\">"
        + f("n_boot", num("9999")) + f("boot_weights", select([("webb", "webb"),
                                                               ("rademacher", "rademacher")]))
        + f("seed", num("0")) + f("level", num("0.95", "0.01"))
        + "</div><div class=\"row\">"
        + f("benefit", num("", "any")) + f("dzud_classes", txt("dzud"))
        + '<div class="field check"><span><input type="checkbox" id="im-randomised" '
          'aria-describedby="im-randomised-help">'
        + f'<label for="im-randomised">{t("im_randomised")}</label></span>'
        + f'<small id="im-randomised-help">{t("im_randomised_help")}</small></div>'
        + "</div></div>")


def _json_script(obj) -> str:
    # "</" cannot end the data block early
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def login_page(lang: str, bad: bool = False) -> str:
    t = lambda k: _e(text(lang, k))
    msg = f'<p class="error" role="alert">{t("login_bad")}</p>' if bad else ""
    return (_head(lang) + f'<body><main id="main"><h1>{t("title")}</h1>{msg}'
            '<form method="post" action="/login"><div class="field">'
            f'<label for="token">{t("login")}</label>'
            '<input type="password" id="token" name="token" autocomplete="current-password" '
            f'required></div><button type="submit">{t("login_button")}</button></form>'
            "</main></body></html>")
