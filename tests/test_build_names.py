"""Recipes that match names or codes in a column (income sources, species, the head's
sex, recode maps, rounds): value labels of coded columns give the names, codes compare as
numbers where they read as numbers, and a list none of whose names occurs is said, not
turned silently into a share of 1, a herd of 0 or a default for every household."""

import warnings

import numpy as np
import pandas as pd
import pytest

from rima.build import build, parse_build
from rima.errors import RimaWarning


def run(build_t, households, **frames):
    errors = []
    bspec = parse_build({"households": "x", **{k: "x" for k in frames}}, build_t, None, errors)
    assert not errors, errors
    return build(bspec, {"households": households, **frames})


def _share(income, livestock):
    return run({"s": {"recipe": "nonlivestock_income_share", "livestock": livestock}},
               pd.DataFrame({"hhid": [1, 2]}), income=income)


def test_no_listed_source_in_the_column_is_warned_naming_recipe_column_and_values():
    inc = pd.DataFrame({"hhid": [1, 1, 2], "source": ["cashmere", "wages", "wages"],
                        "amount": [1.0, 3.0, 2.0]})
    with pytest.warns(RimaWarning) as got:
        r = _share(inc, ["cashmir", "livestock_sale"])  # misspelt
    msg = str(got[0].message)
    assert msg.startswith("[build.s]:") and "income.source" in msg
    assert "cashmir" in msg and "cashmere" in msg and "wages" in msg
    assert r.table["s"].tolist() == [1.0, 1.0]  # what the names given imply, but said
    # a list that matches says nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error", RimaWarning)
        r = _share(inc, ["cashmere"])
    assert r.table["s"].tolist() == pytest.approx([0.75, 1.0])


def test_codes_where_the_recipe_lists_names_are_warned():
    inc = pd.DataFrame({"hhid": [1, 1, 2], "source": np.array([1, 2, 2]),
                        "amount": [1.0, 3.0, 2.0]})
    with pytest.warns(RimaWarning, match=r"income\.source \(values: 1, 2\)"):
        _share(inc, ["livestock_sales"])


@pytest.mark.parametrize("as_category", [False, True])
def test_a_blank_or_stata_missing_head_sex_is_missing_not_ok(as_category):
    sex = pd.Series(["male", "  ", ".a", "female"])
    roster = pd.DataFrame({"hhid": [1, 2, 3, 4], "relation": 1, "age": 40,
                           "sex": sex.astype("category") if as_category else sex})
    r = run({"hs": {"recipe": "head_sex"}}, pd.DataFrame({"hhid": [1, 2, 3, 4]}),
            roster=roster)
    assert r.report["hs"].tolist()[0] == "ok" and r.report["hs"].tolist()[3] == "ok"
    assert r.report["hs"].tolist()[1:3] == ["head's sex missing in roster.sex"] * 2
    assert r.table["hs"].tolist()[0] == "male" and r.table["hs"].isna().tolist()[1:3] == [
        True, True]


def test_fractional_days_are_named_as_such():
    from tests.test_build import FCS_GROUPS

    food = pd.DataFrame({"hhid": [1, 2], **{g: [7.0, 7.0] for g in FCS_GROUPS}})
    food.loc[0, "milk"] = 3.5
    food.loc[1, "milk"] = 9
    r = run({"fcs": {"recipe": "fcs"}}, pd.DataFrame({"hhid": [1, 2]}), food=food)
    assert r.report["fcs"].tolist() == ["days not a whole number for milk (food.milk)",
                                        "days out of range 0-7 for milk (food.milk)"]


def test_stata_value_labels_name_the_income_sources(tmp_path):
    from rima.io import read_table

    inc = pd.DataFrame({"hhid": [1, 1, 2], "source": np.array([1, 2, 2], dtype=np.int8),
                        "amount": [1.0, 3.0, 2.0]})
    path = tmp_path / "income.dta"
    inc.to_stata(path, write_index=False,
                 value_labels={"source": {1: "cashmere", 2: "wages"}})
    read = read_table(path)
    assert read["source"].tolist() == [1, 2, 2]  # codes, with their labels kept aside
    with warnings.catch_warnings():
        warnings.simplefilter("error", RimaWarning)
        r = _share(read, ["Cashmere"])
    assert r.table["s"].tolist() == pytest.approx([0.75, 1.0])


def test_recode_compares_codes_as_numbers_where_they_read_as_numbers():
    # a CSV reader turns the codebook's "01" into 1; TOML keys are text
    hh = pd.DataFrame({"hhid": [1, 2, 3, 4], "region": [1, 2, 3, 1],
                       "soum": [" 01", "2.0", "x ", None]})
    r = run({"urban": {"recipe": "recode", "input": "region", "map": {"01": 1, "02": 0},
                       "default": 0},
             "lvl": {"recipe": "recode", "input": "region",
                     "map": {"1.0": 10, "2.0": 20, "3.0": 30}},
             "s": {"recipe": "recode", "input": "soum", "map": {"1": "a", "2": "b", "x": "c"}}},
            hh)
    assert r.table["urban"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert r.table["lvl"].tolist() == [10.0, 20.0, 30.0, 10.0]
    assert r.table["s"].tolist()[:3] == ["a", "b", "c"]
    assert r.report["s"].tolist()[3] == "missing value in soum"


def test_a_recode_map_whose_codes_never_occur_is_warned():
    hh = pd.DataFrame({"hhid": [1, 2], "region": ["north", "south"]})
    with pytest.warns(RimaWarning, match=r"\[build\.u\]: none of the map's codes \(n, s\) "
                                         r"occurs in region \(values: north, south\)"):
        r = run({"u": {"recipe": "recode", "input": "region", "map": {"n": 1, "s": 0},
                       "default": 0}}, hh)
    assert r.table["u"].tolist() == [0.0, 0.0]


def test_income_without_its_source_is_missing_not_non_livestock():
    inc = pd.DataFrame({"hhid": [1, 1, 2, 2, 3, 3], "source": ["cashmere", "wages", "cashmere",
                                                               None, "cashmere", "-99"],
                        "amount": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]})
    errors = []
    bspec = parse_build({"households": "x", "income": "x", "missing_codes": [-99]},
                        {"s": {"recipe": "nonlivestock_income_share",
                               "livestock": ["cashmere"]}}, None, errors)
    r = build(bspec, {"households": pd.DataFrame({"hhid": [1, 2, 3]}), "income": inc})
    assert r.table["s"].tolist()[0] == 0.5 and r.table["s"].isna().tolist()[1:] == [True, True]
    assert r.report["s"].tolist()[1:] == ["missing income source in income.source"] * 2
    iss = r.issues[r.issues["status"] == "missing value"]
    assert iss[["household", "row", "column"]].values.tolist() == [["2", 4, "source"],
                                                                    ["3", 6, "source"]]


def test_stata_labels_name_species_and_the_heads_sex(tmp_path):
    from rima.io import read_table

    live = pd.DataFrame({"hhid": [1, 1, 2], "species": np.array([0, 2, 1], dtype=np.int8),
                         "head": [10, 1, 20]})
    live.to_stata(tmp_path / "l.dta", write_index=False,
                  value_labels={"species": {0: "Sheep", 1: "Goat", 2: "Cattle"}})
    roster = pd.DataFrame({"hhid": [1, 2], "relation": [1, 1], "age": [40, 50],
                           "sex": np.array([1, 2], dtype=np.int8)})
    roster.to_stata(tmp_path / "r.dta", write_index=False,
                    value_labels={"sex": {1: "Male", 2: "Female"}})
    r = run({"su": {"recipe": "herd"}, "hs": {"recipe": "head_sex"}},
            pd.DataFrame({"hhid": [1, 2]}), livestock=read_table(tmp_path / "l.dta"),
            roster=read_table(tmp_path / "r.dta"))
    assert r.table["su"].tolist() == pytest.approx([10 + 6, 18])  # sheep 1, cattle 6, goat .9
    assert r.table["hs"].tolist() == ["Male", "Female"]
    assert (r.report[["su", "hs"]] == "ok").all().all()


def test_species_codes_read_as_decimals_match_the_specs_codes():
    # a CSV species column of codes with a blank cell is read as 1.0, 2.0 ...
    live = pd.DataFrame({"hhid": [1, 1, 2], "species": [1.0, 2.0, np.nan], "head": [10, 2, 3]})
    r = run({"su": {"recipe": "herd", "species": {"1": "sheep", "2": "cattle"}}},
            pd.DataFrame({"hhid": [1, 2]}), livestock=live)
    assert r.table["su"].tolist()[0] == 22.0
    assert r.report["su"].tolist() == ["ok", "missing species in livestock.species"]


def test_a_round_no_row_has_is_warned():
    live = pd.DataFrame({"hhid": [1, 1], "species": ["sheep", "sheep"], "head": [10, 12],
                         "round": [1, 2]})
    with pytest.warns(RimaWarning, match=r"\[build\.h\]: no row of livestock is of round "
                                         r"2023 \(livestock\.round holds: 1, 2\)"):
        run({"h": {"recipe": "herd", "round": 2023}}, pd.DataFrame({"hhid": [1]}),
            livestock=live)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RimaWarning)
        r = run({"h": {"recipe": "herd", "round": 2}}, pd.DataFrame({"hhid": [1]}),
                livestock=live)
    assert r.table["h"].tolist() == [12.0]


def test_winsorising_a_group_without_cut_points_names_the_group():
    hh = pd.DataFrame({"hhid": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0],
                       "soum": ["A", "A", "B", "B"]})
    spec = {"w": {"recipe": "winsorize", "input": "x", "by": "soum", "lower_quantile": 0.1,
                  "upper_quantile": 0.9}}
    fitted = run(spec, hh).fitted["w"]
    new = pd.DataFrame({"hhid": [5, 6, 7], "x": [5.0, 1.5, 9.0], "soum": [" A", "C", "C"]})
    errors = []
    bspec = parse_build({"households": "x"}, {"w": {**spec["w"], "fitted": fitted}}, None,
                        errors)
    r = build(bspec, {"households": new}, fit=False)
    hi = np.quantile([1.0, 2.0], 0.9)
    assert r.table["w"].iloc[0] == pytest.approx(hi)  # " A" is soum A
    why = ("soum 'C' has no winsorising cut points (no household of it had a value when "
           "they were fitted)")
    assert r.report["w"].tolist()[1:] == [why, why]
