"""Wrong or nonsensical [build.<variable>] options are spec errors naming the recipe and the
option (exit status 3 in the CLI), never a traceback or a silently wrong value; livestock
rows without a round are reported, not dropped."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rima.build import build, parse_build
from rima.build import status as st
from rima.cli import main
from rima.errors import SpecError
from rima.spec import load_spec

BASE = {"data": {"id": "hhid"}, "pillars": {"A": ["x1", "x2", "x3"]},
        "indicators": {"fs": ["f1", "f2"]}}
SOURCES = {"households": "h.csv", "livestock": "l.csv", "roster": "r.csv", "food": "f.csv"}
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "zavkhan"


def spec_error(recipe):
    with pytest.raises(SpecError) as exc:
        load_spec({**BASE, "sources": SOURCES, "build": {"x": recipe}})
    return str(exc.value)


def run(build_t, households, **frames):
    errors = []
    bspec = parse_build({"households": "h.csv", **{k: "x" for k in frames}}, build_t, None,
                        errors)
    assert not errors, errors
    return build(bspec, {"households": households, **frames})


@pytest.mark.parametrize("recipe, option", [
    # wrong types: each crashed inside its recipe
    ({"recipe": "herd", "count_column": "start", "species": ["bod"]}, "species"),
    ({"recipe": "fcs", "output": "class", "labels": ["a", "a", "b"]}, "labels"),
    ({"recipe": "head_age", "head_code": [1]}, "head_code"),
    ({"recipe": "dependency_ratio", "working_ages": [15]}, "working_ages"),
    ({"recipe": "cap", "input": "hh_size", "lower": "a"}, "lower"),
    # accepted before, though they make no sense
    ({"recipe": "dependency_ratio", "working_ages": [64, 15]}, "working_ages"),
    ({"recipe": "cap", "input": "hh_size", "lower": 5, "upper": 1}, "lower"),
    ({"recipe": "herd", "units": {"sheep": -1, "goat": 0.9}}, "units"),
    ({"recipe": "sum", "inputs": "hh_size"}, "inputs"),
    ({"recipe": "dzud_loss", "layout": "wide", "columns": {"sheep": "sheep"}},
     "lost_columns"),
    # TOML's nan and inf, and ages outside 0 .. max_age, gave wrong values marked ok
    ({"recipe": "adult_equivalents", "adult_age": float("nan")}, "adult_age"),
    ({"recipe": "dependency_ratio", "young_below": float("nan")}, "young_below"),
    ({"recipe": "dependency_ratio", "old_above": float("inf")}, "old_above"),
    ({"recipe": "adult_equivalents", "adult_age": -5}, "adult_age"),
    ({"recipe": "adult_equivalents", "adult_age": 500}, "adult_age"),
    ({"recipe": "log", "input": "hh_size", "offset": float("nan")}, "offset"),
    ({"recipe": "cap", "input": "hh_size", "lower": float("nan")}, "lower"),
    ({"recipe": "fcs", "weights": {"milk": float("nan")}}, "weights"),
])
def test_bad_option_is_a_spec_error_naming_recipe_and_option(recipe, option):
    message = spec_error(recipe)
    assert "[build.x]" in message
    assert f"{option} must" in message


def test_every_default_is_of_its_kind():
    from rima.build.catalog import RECIPES, REQUIRED

    given = {"columns": ["a"], "input": "a", "numerator": "a", "denominator": "a",
             "inputs": ["a"], "map": {"1": 1.0}}
    build_t = {f"v_{name}": {"recipe": name, **{k: given[k] for k in REQUIRED.get(name, ())}}
               for name in RECIPES}
    errors = []
    parse_build({"households": "h.csv", "food": "x", "livestock": "x", "roster": "x",
                 "expenditure": "x", "income": "x"}, build_t, None, errors)
    assert errors == []


def test_log_of_a_text_variable_names_the_recipe_and_input():
    hh = pd.DataFrame({"hhid": [1, 2]})
    roster = pd.DataFrame({"hhid": [1, 2], "relation": [1, 1], "age": [40, 50],
                           "sex": ["male", "female"]})
    with pytest.raises(SpecError, match=r"\[build\.x\]: 'head_sex' is a text variable"):
        run({"head_sex": {"recipe": "head_sex"}, "x": {"recipe": "log", "input": "head_sex"}},
            hh, roster=roster)
    # any recipe reading a number: adult equivalents given as a text variable
    exp = pd.DataFrame({"hhid": [1, 2], "amount": [1.0, 2.0]})
    with pytest.raises(SpecError, match=r"\[build\.m\]: 'head_sex' is a text variable"):
        run({"head_sex": {"recipe": "head_sex"},
             "m": {"recipe": "money_per_ae", "ae": "head_sex"}}, hh, roster=roster,
            expenditure=exp)


@pytest.mark.parametrize("recipe, option", [
    ({"recipe": "log", "input": "x"}, "input"),
    ({"recipe": "sum", "inputs": ["hh_size", "x"]}, "inputs"),
    ({"recipe": "divide", "numerator": "hh_size", "denominator": "x"}, "denominator"),
])
def test_a_recipe_reading_itself_is_reported_as_such(recipe, option):
    hh = pd.DataFrame({"hhid": [1, 2], "hh_size": [3.0, 4.0]})
    with pytest.raises(SpecError, match=rf"\[build\.x\]: {option} names 'x', the variable "
                                        r"itself.*cycle"):
        run({"x": recipe}, hh)


def test_wide_dzud_loss_lost_columns_must_differ_from_the_start_columns():
    hh = pd.DataFrame({"hhid": [1, 2]})
    lw = pd.DataFrame({"hhid": [1, 2], "sheep": [10, 20], "sheep_lost": [1, 2]})
    with pytest.raises(SpecError, match=r"\[build\.loss\]: lost_columns must be other "
                                        r"columns.*sheep"):
        run({"loss": {"recipe": "dzud_loss", "layout": "wide", "source": "lw",
                      "lost_columns": {"sheep": "sheep"}}}, hh, lw=lw)
    # with its own columns it builds
    r = run({"loss": {"recipe": "dzud_loss", "layout": "wide", "source": "lw",
                      "columns": {"sheep": "sheep"}, "lost_columns": {"sheep": "sheep_lost"}}},
            hh, lw=lw)
    assert r.table["loss"].tolist() == [0.1, 0.1]


def test_livestock_row_without_a_round_is_listed_and_its_household_flagged():
    hh = pd.DataFrame({"hhid": [1, 4]})
    live = pd.DataFrame({"hhid": [1, 1, 4, 4], "round": [1, 2, 1, np.nan],
                         "species": ["sheep"] * 4, "head": [10, 8, 5, 6]})
    r = run({"h2": {"recipe": "herd", "round": 2}, "ch": {"recipe": "herd_change"}}, hh,
            livestock=live)
    assert r.table["h2"].iloc[0] == 8.0 and r.table["ch"].iloc[0] == -2.0
    for var in ("h2", "ch"):
        assert r.report[var].astype(str).tolist() == ["ok", "missing round in livestock.round"]
        assert np.isnan(r.table[var].iloc[1])
    issues = r.issues[r.issues["column"] == "round"]
    assert issues["variable"].tolist() == ["h2", "ch"]  # listed once per variable
    assert (issues["status"] == st.MISSING_VALUE).all()
    assert (issues["module"] == "livestock").all()
    assert issues["household"].astype(int).tolist() == [4, 4]
    assert issues["row"].astype(int).tolist() == [4, 4]


@pytest.mark.parametrize("recipe", [
    'recipe = "herd"\ncount_column = "start"\nspecies = ["bod"]',
    'recipe = "log"\ninput = "head_sex"',
])
def test_cli_gives_the_spec_error_status_without_a_traceback(tmp_path, capsys, recipe):
    shutil.copytree(EXAMPLE, tmp_path / "z")
    spec = tmp_path / "z" / "spec_raw.toml"
    spec.write_text(spec.read_text() + f"\n[build.x]\n{recipe}\n")
    try:
        main(["build", str(spec), "--out", str(tmp_path / "b.csv")])
        code = 0
    except SystemExit as exc:
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 3
    assert "[build.x]" in err and "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("sheet", [["x"], 6.0, True, -1])
def test_a_sheet_of_the_wrong_kind_is_a_spec_error(sheet):
    with pytest.raises(SpecError, match=r"\[sources\] food: sheet must be a worksheet's "
                                        r"name or its position from 0"):
        load_spec({**BASE, "sources": {**SOURCES, "food": {"path": "f.xlsx", "sheet": sheet}},
                   "build": {"x": {"recipe": "fcs"}}})
