"""rima.build on inputs at the edge: an empty household table, asset items the index
cannot use, missing codes written as text, and household ids stored as text in one table
and as numbers in another. Each gives a message naming the table, column, row and
household, or builds as the user meant."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rima.build import build, parse_build
from rima.build import status as st
from rima.build.sources import numeric
from rima.cli import main
from rima.errors import DataError

ITEMS = ["tv", "radio", "fridge", "washing_machine", "satellite_dish", "mobile_phone",
         "sewing_machine", "generator"]


def run(build_t, households, sources=None, **frames):
    errors = []
    bspec = parse_build({"households": "x", **{k: "x" for k in frames}, **(sources or {})},
                        build_t, None, errors)
    assert not errors, errors
    return build(bspec, {"households": households, **frames})


def survey(n=40, seed=5):
    """(households, roster, assets) of n households with ids 100001 ...: two persons each
    (the head first), eight 0/1 asset items driven by one wealth factor."""
    rng = np.random.default_rng(seed)
    ids = np.arange(100001, 100001 + n)
    hh = pd.DataFrame({"hhid": ids})
    roster = pd.DataFrame({"hhid": np.repeat(ids, 2), "relation": np.tile([1, 2], n),
                           "age": np.tile([45, 12], n),
                           "education": rng.integers(0, 16, 2 * n)})
    wealth = rng.standard_normal(n)
    assets = pd.DataFrame({"hhid": ids, **{
        c: (wealth + rng.standard_normal(n) > 0.2 * j - 0.7).astype(np.int64)
        for j, c in enumerate(ITEMS)}})
    return hh, roster, assets


def asset_spec(columns=ITEMS):
    return {"idx": {"recipe": "asset_index", "source": "assets", "columns": list(columns)}}


# -- 1. a household table without households ------------------------------------------

def test_header_only_household_table_is_a_data_error_naming_it():
    _, roster, _ = survey()
    with pytest.raises(DataError, match=r"household table households has no rows"):
        run({"size": {"recipe": "household_size"}}, pd.DataFrame({"hhid": []}),
            roster=roster)


def test_household_table_without_ids_is_a_data_error_naming_the_key_column():
    hh, roster, _ = survey()
    hh["hhid"] = np.nan
    with pytest.raises(DataError, match=r"households\.hhid has no ids"):
        run({"size": {"recipe": "household_size"}}, hh, roster=roster)


def test_header_only_household_table_is_an_input_error_in_the_cli(tmp_path, capsys):
    # the bundled example's spec with its household table cut to the header row
    spec = Path(__file__).resolve().parents[1] / "examples" / "zavkhan" / "spec_raw.toml"
    cover = pd.read_csv(spec.parent / "raw" / "households.csv.gz").iloc[:0]
    cover.to_csv(tmp_path / "households.csv", index=False)
    with pytest.raises(SystemExit) as exc:
        main(["build", str(spec), "--out", str(tmp_path / "b.csv"),
              "--source", f"households={tmp_path / 'households.csv'}"])
    assert exc.value.code == 3  # the user's input, not an internal error
    err = capsys.readouterr().err
    assert "has no rows" in err and "internal error" not in err


# -- 2. asset items the index cannot use ------------------------------------------------

def test_infinite_asset_item_names_module_column_row_and_household():
    hh, _, assets = survey()
    assets["tv"] = assets["tv"].astype(float)
    assets.loc[[0, 1, 2], "radio"] = np.nan  # rows before it left out of the fit
    assets.loc[10, "tv"] = np.inf
    with pytest.raises(DataError) as exc:
        run(asset_spec(), hh, assets=assets)
    msg = str(exc.value)
    assert msg.startswith("[build.idx]")
    assert "assets.tv" in msg and "row 11" in msg and "100011" in msg and "infinite" in msg
    assert "x1" not in msg


def _constant(assets):
    assets["generator"] = 1
    return assets


def _identical(assets):
    assets["radio"] = assets["tv"]
    return assets


def _yes_no(assets):
    assets["tv"] = assets["tv"].map({0: "no", 1: "yes"})
    return assets


def _all_missing(assets):
    assets["radio"] = np.nan
    return assets


@pytest.mark.parametrize("change, columns, named", [
    (_constant, ITEMS, ["assets.generator", "constant"]),
    (lambda a: a, [*ITEMS, "tv"], ["assets.tv", "twice"]),
    (_identical, ITEMS, ["'assets.tv'", "'assets.radio'"]),
    (_yes_no, ITEMS, ["assets.tv", "non-numeric", "'yes'"]),
    (_all_missing, ITEMS, ["assets.radio", "missing"]),
])
def test_asset_items_the_index_cannot_use_are_named(change, columns, named):
    hh, _, assets = survey()
    with pytest.raises(DataError) as exc:
        run(asset_spec(columns), hh, assets=change(assets))
    msg = str(exc.value)
    assert msg.startswith("[build.idx]")
    assert all(part in msg for part in named), msg
    # the factor engine's own names of the matrix columns never show
    assert not any(f"'x{j}'" in msg or f": x{j}" in msg for j in range(1, 10))
    assert "0 complete household(s) for 8 items" not in msg


def test_header_only_asset_module_is_named():
    hh, _, assets = survey()
    with pytest.raises(DataError) as exc:
        run(asset_spec(), hh, assets=assets.iloc[:0])
    msg = str(exc.value)
    assert msg.startswith("[build.idx]") and "assets has no rows" in msg


@pytest.mark.parametrize("n", [1, 3])
def test_too_few_households_for_the_asset_index_gives_the_count(n):
    hh, _, assets = survey()
    with pytest.raises(DataError) as exc:
        run(asset_spec(), hh.iloc[:n], assets=assets.iloc[:n])
    msg = str(exc.value)
    assert msg.startswith("[build.idx]")
    assert f"{n} complete household(s)" in msg and "8 items" in msg and "assets" in msg


def test_asset_index_of_household_table_columns_names_the_table():
    hh, _, assets = survey()
    hh = hh.merge(assets, on="hhid")
    hh["generator"] = 2
    with pytest.raises(DataError) as exc:
        run({"idx": {"recipe": "asset_index", "columns": ITEMS}}, hh)
    msg = str(exc.value)
    assert msg.startswith("[build.idx]") and "households.generator" in msg


def test_clean_asset_index_is_unchanged_by_the_checks():
    hh, _, assets = survey()
    r = run(asset_spec(), hh, assets=assets)
    assert (r.report["idx"] == "ok").all()
    assert r.fitted["idx"]["items"] == ITEMS


# -- 3. missing codes written as text -------------------------------------------------

def test_text_missing_codes_match_numeric_cells():
    x, bad = numeric(pd.Series([1, -99, 3, -98]), ("-99", " -98 ", "n/a"))
    np.testing.assert_array_equal(x, [1.0, np.nan, 3.0, np.nan])
    assert not bad.any()
    x, _ = numeric(pd.Series([1.5, -99.0, np.nan]), ("-99",))
    np.testing.assert_array_equal(x, [1.5, np.nan, np.nan])
    # a numeric code still matches text cells, and a text code text cells
    x, bad = numeric(pd.Series(["-99", "2", "n/a", "x"], dtype=object), (-99, "n/a"))
    np.testing.assert_array_equal(x, [np.nan, 2.0, np.nan, np.nan])
    np.testing.assert_array_equal(bad, [False, False, False, True])


def test_text_missing_codes_in_the_spec_apply_to_numeric_columns_of_every_recipe():
    hh, roster, assets = survey()
    roster.loc[0, "education"] = -99  # the first household's head
    roster.loc[2, "age"] = -98  # the second household's head
    assets.loc[0, "tv"] = -98
    r = run({"edu": {"recipe": "head_education"}, "age": {"recipe": "head_age"},
             "n": {"recipe": "asset_count", "source": "assets", "columns": ITEMS}},
            hh, sources={"missing_codes": ["-99", "-98"]}, roster=roster, assets=assets)
    assert pd.isna(r.table["edu"].iloc[0]) and r.report["edu"].iloc[0] != "ok"
    assert (r.report["edu"].iloc[1:] == "ok").all()
    assert pd.isna(r.table["age"].iloc[1]) and r.report["age"].iloc[1] != "ok"
    assert pd.isna(r.table["n"].iloc[0])
    assert r.report["n"].iloc[0] == "missing value in assets.tv"
    miss = r.issues[r.issues["status"] == st.MISSING_VALUE]
    assert set(miss["column"]) >= {"education", "age", "tv"}


# -- 4. household ids as text in one table and as numbers in another ------------------

def test_text_household_ids_match_integer_module_ids():
    hh, roster, assets = survey()
    want = run({"size": {"recipe": "household_size"}, **asset_spec()}, hh, roster=roster,
               assets=assets)
    text = hh.assign(hhid=hh["hhid"].astype(str))
    r = run({"size": {"recipe": "household_size"}, **asset_spec()}, text, roster=roster,
            assets=assets)
    assert (r.report["build_status"] == "ok").all()
    assert len(r.issues) == 0
    np.testing.assert_array_equal(r.table["size"], want.table["size"])
    np.testing.assert_allclose(r.table["idx"], want.table["idx"])
    assert r.table["hhid"].tolist() == text["hhid"].tolist()


def test_integer_household_ids_match_padded_text_module_ids():
    hh, roster, _ = survey()
    roster["hhid"] = [f" {v}" if i % 2 else str(v) for i, v in enumerate(roster["hhid"])]
    r = run({"size": {"recipe": "household_size"}}, hh, roster=roster)
    assert (r.report["size"] == "ok").all() and (r.table["size"] == 2).all()


def test_text_module_ids_that_are_not_numbers_are_listed_the_others_matched():
    hh, roster, _ = survey()
    roster["hhid"] = roster["hhid"].astype(str)
    roster.loc[0, "hhid"] = "X1"  # the first household's head
    r = run({"size": {"recipe": "household_size"}}, hh, roster=roster)
    assert r.table["size"].tolist() == [1.0] + [2.0] * (len(hh) - 1)
    absent = r.issues[r.issues["status"] == st.NOT_IN_HOUSEHOLDS]
    assert absent["household"].tolist() == ["X1"] and absent["row"].tolist() == [1]


def test_text_ids_that_are_not_numbers_against_numeric_ids_is_a_data_error():
    hh, roster, _ = survey()
    hh["hhid"] = "HH" + hh["hhid"].astype(str)
    with pytest.raises(DataError) as exc:
        run({"size": {"recipe": "household_size"}}, hh, roster=roster)
    msg = str(exc.value)
    assert "roster.hhid holds numbers" in msg and "holds text" in msg and "HH100001" in msg


def test_text_ids_that_read_as_the_same_number_are_not_matched():
    hh = pd.DataFrame({"hhid": ["01", "1", "2"]})
    roster = pd.DataFrame({"hhid": [1, 2], "relation": [1, 1], "age": [30, 40]})
    with pytest.raises(DataError, match=r"roster.hhid holds numbers.*holds text"):
        run({"size": {"recipe": "household_size"}}, hh, roster=roster)


def test_module_matching_no_household_says_so_in_its_issues():
    hh, roster, _ = survey()
    roster["hhid"] += 100000  # another survey's ids, of the same type
    r = run({"size": {"recipe": "household_size"}}, hh, roster=roster)
    absent = r.issues[r.issues["status"] == st.NOT_IN_HOUSEHOLDS]
    assert len(absent) == len(roster)
    msg = absent["message"].iloc[0]
    assert "no roster row matches a household" in msg
    assert "200001" in msg and "100001" in msg


# -- 5. ids that numbers cannot hold exactly -------------------------------------------

def test_decimal_ids_beyond_2_to_53_are_an_error_not_a_merge():
    base = 123456789012345678
    hh = pd.DataFrame({"hhid": [base + 1, base + 2, base + 3]})
    # a blank id makes a CSV column decimal: the three ids then read as one
    roster = pd.DataFrame({"hhid": [float(base + 1), float(base + 2), float(base + 3), np.nan],
                           "relation": 1, "age": 30})
    with pytest.raises(DataError, match=r"roster\.hhid: household ids such as 12345678901234"
                                        r"\d+ are stored as decimal numbers beyond 2\*\*53"):
        run({"n": {"recipe": "household_size"}}, hh, roster=roster)
    with pytest.raises(DataError, match=r"households\.hhid: household ids such as"):
        run({"n": {"recipe": "household_size"}}, roster[["hhid"]].iloc[:3],
            roster=roster.iloc[:3])
    # below 2**53 decimals are exact: matched as integers
    r = run({"n": {"recipe": "household_size"}}, pd.DataFrame({"hhid": [2**52, 2**52 + 1]}),
            roster=pd.DataFrame({"hhid": [2.0**52, 2.0**52 + 1, np.nan], "relation": 1,
                                 "age": 30}))
    assert r.table["n"].tolist() == [1.0, 1.0]


def test_integer_ids_beyond_int64_are_matched_exactly():
    big = np.array([2**63, 2**63 + 1, 2**64 - 1], dtype=np.uint64)
    hh = pd.DataFrame({"hhid": big})
    roster = pd.DataFrame({"hhid": np.array([2**64 - 1, 2**63, 2**63, 5], dtype=np.uint64),
                           "relation": [1, 1, 2, 1], "age": 30})
    r = run({"n": {"recipe": "household_size"}}, hh, roster=roster)
    assert r.table["n"].tolist()[0] == 2.0 and r.table["n"].tolist()[2] == 1.0
    assert r.report["n"].tolist()[1] == "no row in module roster"
    absent = r.issues[r.issues["status"] == st.NOT_IN_HOUSEHOLDS]
    assert absent["household"].tolist() == ["5"]


def test_blank_text_ids_are_missing_ids():
    hh = pd.DataFrame({"hhid": ["a", " ", "c", ""]})
    roster = pd.DataFrame({"hhid": ["a", "  ", "c", "c"], "relation": [1, 1, 1, 2],
                           "age": 30})
    r = run({"n": {"recipe": "household_size"}}, hh, roster=roster)
    assert r.table["n"].tolist()[0::2] == [1.0, 2.0]
    rep = r.report["n"].astype(str).tolist()
    assert rep[0] == rep[2] == "ok"
    assert rep[1] == rep[3] == "household without an id"
    row = r.issues[(r.issues["status"] == st.MISSING_KEY) & (r.issues["module"] == "roster")]
    assert row["row"].tolist() == [2]
