"""Recipes that match names in a module column (income sources): a column whose names
never match the recipe's list is said, not turned silently into a share of 1."""

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
