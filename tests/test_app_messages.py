"""The interface catalogue: English and Mongolian with the same keys; options help and
every error the page shows come from it."""

from __future__ import annotations

import ast
import html
from pathlib import Path

from rima.app.mapping import check_mapping, issue_message
from rima.app.messages import EN, MN, text
from rima.starter import option_defaults
from rima.validation import Issue

APP = Path(__file__).resolve().parents[1] / "rima" / "app"


def cyrillic(s: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in s)


def test_both_catalogues_have_the_same_keys_and_the_same_placeholders():
    import string

    assert set(EN) == set(MN)
    fields = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}
    assert {k: fields(v) for k, v in EN.items()} == {k: fields(v) for k, v in MN.items()}


def test_every_option_has_its_help_in_mongolian():
    for key, _, help_ in option_defaults():
        assert EN[f"opt_{key}"] == help_           # the English is `rima init`'s
        assert cyrillic(MN[f"opt_{key}"]), key


def test_mapping_refusals_and_data_problems_in_mongolian():
    spec = {"data": {"id": "hhid"}, "pillars": {"AST": ["a", "b"]},
            "indicators": {"food_security": ["fcs"]}}
    errs = {e["field"]: e["message"] for e in check_mapping(spec, ["hhid", "a", "b", "fcs"], "mn")}
    assert errs["pillar-AST"] == MN["err_pillar_min"].format(name="AST", n=2, min=3)
    assert errs["indicators"] == MN["err_indicators_min"].format(n=1, min=2)
    en = {e["field"]: e["message"] for e in check_mapping(spec, ["hhid", "a", "b", "fcs"])}
    assert "a pillar needs at least 3" in en["pillar-AST"]
    kinds = ("missing_column", "duplicate_column", "empty", "non_numeric", "infinite",
             "all_missing", "constant", "duplicate_id", "missing_id", "negative_weight",
             "no_usable_rows", "something_new")
    for kind in kinds:
        issue = Issue(kind, "herd_su", f"English sentence about {kind}", rows=(3, 7),
                      values=("many",))
        mn = issue_message(issue, "mn")
        assert cyrillic(mn), kind
        if kind not in ("no_usable_rows", "empty", "something_new"):
            assert "herd_su" in mn, kind
    # a kind the catalogue does not know yet keeps the English sentence, in a Mongolian frame
    assert "English sentence about something_new" in mn and "мөр 3, 7" in mn
    mn = issue_message(Issue("non_numeric", "herd_su", "x", rows=tuple(range(1, 30)),
                             values=("many",)), "mn")
    assert "мөр 1, 2, 3" in mn and "өөр 19" in mn


def test_page_errors_are_never_literal_english():
    """Every message the server or the mapping sends to the page is looked up in the
    catalogue: no string literal is passed to err(...), RimaInputError(...) or as a
    problem's "message"."""
    bad = []
    for name in ("server.py", "mapping.py"):
        tree = ast.parse((APP / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                fn = getattr(node.func, "id", getattr(node.func, "attr", ""))
                args = node.args[1:2] if fn == "err" else node.args[:1] \
                    if fn == "RimaInputError" else []
                bad += [f"{name}:{a.lineno}" for a in args
                        if isinstance(a, (ast.Constant, ast.JoinedStr))]
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values):
                    if isinstance(k, ast.Constant) and k.value in ("message", "error") \
                            and isinstance(v, (ast.Constant, ast.JoinedStr)):
                        bad.append(f"{name}:{v.lineno}")
    assert bad == []


def test_the_page_shows_option_help_in_the_chosen_language():
    from rima.app.pages import main_page
    from rima.app.server import option_fields
    from rima.app.settings import AppSettings

    page = main_page("mn", AppSettings(data_dir=Path(".")), option_fields())
    assert html.escape(MN["opt_missing"], quote=True) in page
    assert html.escape(MN["im_n_boot_help"], quote=True) in page
    assert text("mn", "nonexistent-key") == "nonexistent-key"
