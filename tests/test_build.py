"""Recipes of rima.build against worked examples and an independent pandas implementation
written here; every bad input gives a named status and a listed issue."""

import numpy as np
import pandas as pd
import pytest

from rima.build import build, parse_build
from rima.build import status as st
from rima.errors import SpecError
from rima.spec import load_spec

FCS_GROUPS = ["staples", "pulses", "vegetables", "fruit", "meat_fish", "milk", "sugar", "oil"]
FCS_W = [2, 3, 1, 1, 4, 4, 0.5, 0.5]
HDDS = ["cereals", "roots_tubers", "vegetables", "fruits", "meat", "eggs", "fish", "pulses",
        "milk", "oils_fats", "sugar", "condiments"]
RCSI = ["less_preferred", "borrow", "limit_portions", "restrict_adults", "reduce_meals"]


def run(build_t, households, sources_extra=None, **frames):
    errors = []
    names = {"households": "x", **{k: "x" for k in frames}}
    if sources_extra:
        names.update(sources_extra)
    bspec = parse_build(names, build_t, None, errors)
    assert not errors, errors
    return build(bspec, {"households": households, **frames})


def households(n):
    return pd.DataFrame({"hhid": np.arange(1, n + 1)})


# -- food security: worked examples -------------------------------------------------------

def test_fcs_worked_example_and_wfp_classes():
    # by hand: staples 7x2 + pulses 3x3 + vegetables 6x1 + fruit 0 + meat 1x4 + milk 3x4
    # + sugar 7x0.5 + oil 5x0.5 = 14 + 9 + 6 + 0 + 4 + 12 + 3.5 + 2.5 = 51
    food = pd.DataFrame({"hhid": [1, 2, 3, 4, 5], "staples": [7, 7, 7, 7, 0],
                         "pulses": [3, 0, 0, 0, 0], "vegetables": [6, 0, 7, 7, 0],
                         "fruit": [0, 0, 0, 0, 0], "meat_fish": [1, 0, 0, 1, 0],
                         "milk": [3, 0, 0, 1, 0], "sugar": [7, 7, 1, 7, 0],
                         "oil": [5, 7, 0, 7, 0]})
    r = run({"fcs": {"recipe": "fcs"},
             "c21": {"recipe": "fcs", "output": "class"},
             "c28": {"recipe": "fcs", "output": "class", "thresholds": [28, 42]}},
            households(5), food=food)
    assert r.table["fcs"].tolist() == [51.0, 21.0, 21.5, 36.0, 0.0]
    # WFP: poor 0-21, borderline 21.5-35, acceptable > 35
    assert r.table["c21"].astype(str).tolist() == ["acceptable", "poor", "borderline",
                                                    "acceptable", "poor"]
    # 28/42 where oil and sugar are eaten daily: 36 is borderline there
    assert r.table["c28"].astype(str).tolist() == ["acceptable", "poor", "poor", "borderline",
                                                    "poor"]
    assert (r.report["fcs"] == "ok").all()


def test_fcs_range_and_custom_weights():
    food = pd.DataFrame({"hhid": [1], **{g: [7] for g in FCS_GROUPS}})
    r = run({"fcs": {"recipe": "fcs"},
             "fcs2": {"recipe": "fcs", "weights": {"sugar": 0, "oil": 0}}}, households(1),
            food=food)
    assert r.table["fcs"].iloc[0] == 112.0  # the maximum
    assert r.table["fcs2"].iloc[0] == 105.0


def test_rcsi_hdds_fies_worked_examples():
    food = pd.DataFrame({"hhid": [1, 2],
                         **{f"r_{s}": [7, 2] for s in RCSI},
                         **{f"h_{g}": [1, j % 2] for j, g in enumerate(HDDS)},
                         **{f"f{j}": [1, int(j < 3)] for j in range(8)}})
    r = run({"rcsi": {"recipe": "rcsi", "prefix": "r_"},
             "hdds": {"recipe": "hdds", "prefix": "h_"},
             "fies": {"recipe": "fies", "columns": [f"f{j}" for j in range(8)]}},
            households(2), food=food)
    # rCSI: 7 days of every strategy = 7 x (1 + 2 + 1 + 3 + 1) = 56, the maximum
    assert r.table["rcsi"].tolist() == [56.0, 16.0]
    assert r.table["hdds"].tolist() == [12.0, 6.0]
    assert r.table["fies"].tolist() == [8.0, 3.0]


def test_food_bad_cases_have_named_statuses_and_source_rows():
    food = pd.DataFrame({"hhid": [1, 2, 3, 3, 9], **{g: [7, 7, 7, 7, 7] for g in FCS_GROUPS}})
    food.loc[0, "pulses"] = np.nan   # a missing food group
    food.loc[1, "milk"] = 8          # more than 7 days
    r = run({"fcs": {"recipe": "fcs"}}, households(4), food=food)
    assert r.table["fcs"].isna().tolist() == [True, True, True, True]
    rep = r.report.set_index("hhid")["fcs"].astype(str)
    assert rep[1] == "missing value for pulses (food.pulses)"
    assert rep[2] == "days out of range 0-7 for milk (food.milk)"
    assert rep[3] == "several rows in module food"
    assert rep[4] == "no row in module food"
    iss = r.issues
    row = iss[iss["status"] == st.OUT_OF_RANGE].iloc[0]
    assert (row["module"], row["column"], row["household"], row["row"], row["value"]) == (
        "food", "milk", "2", 2, "8")
    orphan = iss[iss["status"] == st.NOT_IN_HOUSEHOLDS].iloc[0]
    assert (orphan["module"], orphan["household"], orphan["row"]) == ("food", "9", 5)
    assert set(iss["status"]) >= {st.MISSING_VALUE, st.OUT_OF_RANGE, st.DUPLICATE_ROWS,
                                  st.NO_ROW, st.NOT_IN_HOUSEHOLDS}


def test_missing_codes_and_stata_extended_missing():
    food = pd.DataFrame({"hhid": [1, 2, 3], **{g: ["7", "7", "7"] for g in FCS_GROUPS}})
    food.loc[0, "oil"] = "-99"
    food.loc[1, "oil"] = ".a"
    food.loc[2, "oil"] = "seven"
    errors = []
    bspec = parse_build({"households": "x", "food": "x", "missing_codes": [-99, -98]},
                        {"fcs": {"recipe": "fcs"}}, None, errors)
    r = build(bspec, {"households": households(3), "food": food})
    assert r.table["fcs"].isna().all()
    kinds = r.issues.groupby("household")["status"].apply(set).to_dict()
    assert kinds["1"] == {st.MISSING_VALUE} and kinds["2"] == {st.MISSING_VALUE}
    assert kinds["3"] == {st.NON_NUMERIC, st.MISSING_VALUE}


# -- livestock --------------------------------------------------------------------------

def test_herd_sheep_units_and_tlu_with_messy_and_cyrillic_names():
    live = pd.DataFrame({"hhid": [1, 1, 1, 1, 1, 2, 2],
                         "species": [" Sheep ", "ямаа", "ҮХЭР", "Horses", "тэмээ", "GOATS",
                                     "camel"],
                         "head": [10, 10, 1, 1, 1, 5, 2]})
    r = run({"su": {"recipe": "herd"}, "tlu": {"recipe": "herd", "units": "tlu"}},
            households(3), livestock=live)
    # sheep 1, goat 0.9, cattle 6, horse 7, camel 5
    assert r.table["su"].tolist() == pytest.approx([10 + 9 + 6 + 7 + 5, 4.5 + 10, 0.0])
    # camel 1.0, cattle 0.7, horse 0.8, sheep/goat 0.1
    assert r.table["tlu"].tolist() == pytest.approx([1 + 1 + 0.7 + 0.8 + 1, 0.5 + 2, 0.0])
    assert (r.report["su"] == "ok").all()


def test_herd_wide_layout_finds_species_columns():
    hh = pd.DataFrame({"hhid": [1, 2], "Sheep": [10, 0], "goats ": [10, 1], "хонь_x": [1, 1],
                       "Cattle": [1, 0], "horses": [0, 2], "camels": [1, 0]})
    r = run({"su": {"recipe": "herd", "layout": "wide", "source": "households"}}, hh)
    assert r.table["su"].tolist() == pytest.approx([10 + 9 + 6 + 5, 0.9 + 14])


def test_herd_bad_cases():
    live = pd.DataFrame({"hhid": [1, 2, 3, 7], "species": ["sheep", "yeti", "goat", "sheep"],
                         "head": [-3, 4, np.nan, 1]})
    r = run({"su": {"recipe": "herd"}}, households(4), livestock=live)
    rep = r.report.set_index("hhid")["su"].astype(str)
    assert rep[1].startswith("negative animal count")
    assert rep[2].startswith("unknown species")
    assert rep[3].startswith("missing animal count")
    assert rep[4] == "ok" and r.table["su"].iloc[3] == 0.0
    assert r.table["su"].iloc[:3].isna().all()
    iss = r.issues.set_index("status")
    assert iss.loc[st.NEGATIVE_ANIMALS, "row"] == 1
    assert iss.loc[st.UNKNOWN_SPECIES, "value"] == "yeti"
    assert iss.loc[st.NOT_IN_HOUSEHOLDS, "household"] == "7"


def test_species_map_for_other_names():
    live = pd.DataFrame({"hhid": [1, 1], "species": ["сарлаг", "bod"], "head": [2, 3]})
    r = run({"su": {"recipe": "herd", "species": {"bod": "sheep"}}}, households(1),
            livestock=live)
    assert r.table["su"].iloc[0] == pytest.approx(2 * 6 + 3)


def test_dzud_loss_and_herd_change():
    live = pd.DataFrame({"hhid": [1, 1, 2, 3, 1, 2],
                         "round": [1, 1, 1, 1, 2, 2],
                         "species": ["sheep", "cattle", "goat", "sheep", "sheep", "goat"],
                         "start": [100, 2, 10, 5, 80, 0], "lost": [20, 1, 0, 9, 0, 0]})
    r = run({"loss": {"recipe": "dzud_loss", "round": 1},
             "chg": {"recipe": "herd_change", "count_column": "start"},
             "rel": {"recipe": "herd_change", "count_column": "start", "relative": True}},
            households(4), livestock=live)
    t = r.table
    assert t["loss"].iloc[0] == pytest.approx((20 + 6) / (100 + 12))
    assert t["loss"].iloc[1] == 0.0
    rep = r.report["loss"].astype(str).tolist()
    assert rep[2].startswith("winter losses exceed")
    assert rep[3].startswith("no herd")
    assert t["chg"].tolist() == pytest.approx([80 - 112, -9, -5, 0])
    assert t["rel"].iloc[0] == pytest.approx(-32 / 112)
    assert r.report["rel"].astype(str).iloc[3].startswith("no herd in round 1")


def test_herd_and_its_losses_are_summed_in_one_pass_each_recipe_keeping_its_issues(
        monkeypatch):
    import rima._kernels.build as kernels

    live = pd.DataFrame({"hhid": [1, 1, 2, 2, 3, 3],
                         "species": ["sheep", "cattle", "goat", "horse", "camel", "yeti"],
                         "start": [100, 2, 10, 3, 4, 1], "lost": [20, 1, -1, 0, 2, 0],
                         "lost_text": ["20", "1", "n/a", "0", "2", "0"]})
    passes = []
    real = kernels.units_pass

    def spy(codes, sp_codes, sp_map, x, miss, y, *rest):
        passes.append(y.shape[0])
        return real(codes, sp_codes, sp_map, x, miss, y, *rest)

    monkeypatch.setattr(kernels, "units_pass", spy)
    r = run({"herd": {"recipe": "herd", "count_column": "start"},
             "loss": {"recipe": "herd", "count_column": "lost"},
             "share": {"recipe": "dzud_loss"},
             "loss_text": {"recipe": "herd", "count_column": "lost_text"}},
            households(3), livestock=live)
    # one pass for start and lost (six rows, both columns); the text column alone
    assert passes == [6, 0]
    t, rep = r.table, r.report
    # sheep 1, goat 0.9, cattle 6, horse 7, camel 5
    assert t["herd"].tolist()[:2] == pytest.approx([100 + 12, 9 + 21])
    assert t["loss"].iloc[0] == pytest.approx(20 + 6) and np.isnan(t["loss"].iloc[1])
    assert t["share"].iloc[0] == pytest.approx(26 / 112)
    assert t["loss_text"].iloc[0] == pytest.approx(26)
    # the negative loss is the loss recipes' issue, not the herd's
    assert rep["herd"].astype(str).tolist()[:2] == ["ok", "ok"]
    assert rep["loss"].astype(str).iloc[1].startswith("negative animal count")
    neg = r.issues[r.issues["status"] == st.NEGATIVE_ANIMALS]
    assert sorted(set(neg["variable"])) == ["loss", "share"] and set(neg["row"]) == {3}
    # the unknown species is each recipe's own issue too, listed for each column read
    unknown = r.issues[r.issues["status"] == st.UNKNOWN_SPECIES]
    assert unknown["variable"].tolist() == ["herd", "loss", "share", "share", "loss_text"]
    # a text column's non-numeric cell is listed by the recipe that reads it
    text = r.issues[r.issues["status"] == st.NON_NUMERIC]
    assert text["variable"].tolist() == ["loss_text"] and text["row"].tolist() == [3]


# -- roster -----------------------------------------------------------------------------

def _roster_builds():
    return {"size": {"recipe": "household_size"},
            "ae": {"recipe": "adult_equivalents"},
            "ae_oecd": {"recipe": "adult_equivalents", "scale": "oecd"},
            "ae_pc": {"recipe": "adult_equivalents", "scale": "per_capita"},
            "dep": {"recipe": "dependency_ratio"},
            "work": {"recipe": "working_age"},
            "hsex": {"recipe": "head_sex"}, "hage": {"recipe": "head_age"},
            "hedu": {"recipe": "head_education"},
            "maxedu": {"recipe": "max_adult_education"}}


def test_adult_equivalents_oecd_worked_example():
    # OECD "What are equivalence scales?": two adults and two children count 2.1 on the
    # OECD-modified scale and 2.7 on the OECD scale
    roster = pd.DataFrame({"hhid": [1, 1, 1, 1], "relation": [1, 2, 3, 3],
                           "age": [40, 38, 8, 3], "sex": ["m", "f", "f", "m"],
                           "education": [10, 12, 2, 0]})
    r = run(_roster_builds(), households(1), roster=roster)
    t = r.table.iloc[0]
    assert t["ae"] == pytest.approx(2.1) and t["ae_oecd"] == pytest.approx(2.7)
    assert t["ae_pc"] == 4 and t["size"] == 4
    assert t["dep"] == pytest.approx(2 / 2) and t["work"] == 2
    assert (t["hsex"], t["hage"], t["hedu"], t["maxedu"]) == ("m", 40, 10, 12)


def _pandas_roster(roster, ids):
    """Independent implementation of the roster recipes with pandas groupby."""
    g = roster.assign(adult=roster.age >= 14, child=roster.age < 14,
                      young=roster.age < 15, old=roster.age > 64,
                      work=(roster.age >= 15) & (roster.age <= 64),
                      adult_edu=roster.education.where(roster.age >= 14)).groupby("hhid")
    out = pd.DataFrame({"size": g.size(), "adults": g.adult.sum(), "kids": g.child.sum(),
                        "young": g.young.sum(), "old": g.old.sum(), "work": g.work.sum(),
                        "maxedu": g.adult_edu.max()})
    out["ae"] = np.where(out.adults > 0, 1 + 0.5 * (out.adults - 1), 0) + 0.3 * out.kids
    out["dep"] = (out.young + out.old) / out.work.where(out.work > 0)
    heads = roster[roster.relation == 1].groupby("hhid").first()
    out["hage"] = heads.age
    return out.reindex(ids)


def test_roster_against_pandas_on_random_households():
    rng = np.random.default_rng(5)
    n = 400
    sizes = rng.integers(1, 9, n)
    hid = np.repeat(np.arange(1, n + 1), sizes)
    first = np.r_[True, hid[1:] != hid[:-1]]
    roster = pd.DataFrame({"hhid": hid, "relation": np.where(first, 1, rng.integers(2, 5,
                                                                                     hid.size)),
                           "age": np.where(first, rng.integers(18, 90, hid.size),
                                           rng.integers(0, 95, hid.size)),
                           "sex": rng.choice(["male", "female"], hid.size),
                           "education": rng.integers(0, 17, hid.size).astype(float)})
    # shuffle the rows: the result must not depend on their order
    roster = roster.sample(frac=1, random_state=1).reset_index(drop=True)
    r = run(_roster_builds(), households(n), roster=roster)
    ref = _pandas_roster(roster, np.arange(1, n + 1))
    t = r.table
    ok = r.report["dep"] == "ok"
    for col in ("size", "ae", "work", "maxedu", "hage"):
        np.testing.assert_allclose(t[col].to_numpy(float), ref[col].to_numpy(float))
    np.testing.assert_allclose(t.loc[ok, "dep"], ref["dep"].to_numpy()[ok.to_numpy()])
    assert (r.report.loc[~ok, "dep"] == "no working-age member in roster").all()
    assert ref["dep"].isna().to_numpy()[~ok.to_numpy()].all()


def test_roster_bad_cases():
    roster = pd.DataFrame({"hhid": [1, 1, 2, 2, 3, 3, 9],
                           "relation": [1, 1, 2, 3, 1, np.nan, 1],
                           "age": [40, 140, 30, 5, np.nan, 20, 30],
                           "sex": [1, 2, 1, 2, 1, 2, 1], "education": [5] * 7})
    r = run(_roster_builds(), households(4), roster=roster)
    rep = r.report.set_index("hhid").astype(str)
    assert rep.loc[1, "hsex"] == "two or more heads in roster"
    assert rep.loc[1, "ae"] == "age out of range 0-120 in roster.age"
    assert rep.loc[2, "hage"] == "no head in roster"
    assert rep.loc[3, "ae"] == "missing age in roster.age"
    assert rep.loc[3, "hsex"] == "missing relation to head in roster.relation"
    assert rep.loc[4, "size"] == "no row in module roster"
    kinds = set(r.issues["status"])
    assert {st.SEVERAL_HEADS, st.NO_HEAD, st.AGE_OUT_OF_RANGE, st.MISSING_AGE,
            st.MISSING_RELATION, st.NO_ROW, st.NOT_IN_HOUSEHOLDS} <= kinds
    bad_age = r.issues[r.issues["status"] == st.AGE_OUT_OF_RANGE].iloc[0]
    assert (bad_age["row"], bad_age["value"], bad_age["household"]) == (2, "140", "1")
    # nobody is dropped: every household is in the table and the report
    assert len(r.table) == len(r.report) == 4


def test_text_head_code():
    roster = pd.DataFrame({"hhid": [1, 1], "relation": ["Head ", "spouse"], "age": [50, 45],
                           "sex": ["f", "m"], "education": [1, 2]})
    r = run({"hsex": {"recipe": "head_sex", "head_code": "head"}}, households(1),
            roster=roster)
    assert r.table["hsex"].iloc[0] == "f"


# -- money and income -------------------------------------------------------------------

def test_money_per_ae_against_pandas():
    rng = np.random.default_rng(2)
    n = 300
    roster = pd.DataFrame({"hhid": np.repeat(np.arange(1, n + 1), 3), "relation": [1, 2, 3] * n,
                           "age": np.tile([40, 35, 6], n), "sex": 1, "education": 5})
    exp = pd.DataFrame({"hhid": rng.integers(1, n + 1, 900),
                        "amount": rng.integers(100, 50000, 900).astype(float)})
    own = pd.DataFrame({"hhid": rng.integers(1, n + 1, 400), "quantity": rng.integers(0, 9, 400),
                        "unit_value": rng.choice([1000.0, 9000.0], 400)})
    r = run({"ae": {"recipe": "adult_equivalents"},
             "m": {"recipe": "money_per_ae", "period_days": 7, "own_source": "own",
                   "own_period_days": 30, "ae": "ae"},
             "lm": {"recipe": "money_per_ae", "period_days": 7, "own_source": "own",
                    "own_period_days": 30, "log": True, "ae": "ae"}},
            households(n), roster=roster, expenditure=exp, own=own)
    spend = exp.groupby("hhid").amount.sum().reindex(range(1, n + 1), fill_value=0)
    prod = (own.quantity * own.unit_value).groupby(own.hhid).sum().reindex(range(1, n + 1),
                                                                           fill_value=0)
    ref = (spend * 30.4375 / 7 + prod * 30.4375 / 30) / 1.8
    np.testing.assert_allclose(r.table["m"], ref.to_numpy())
    pos = ref.to_numpy() > 0
    np.testing.assert_allclose(r.table["lm"].to_numpy()[pos], np.log(ref.to_numpy()[pos]))
    assert (r.report["lm"].astype(str).to_numpy()[~pos] != "ok").all()


def test_income_sources_and_nonlivestock_share():
    inc = pd.DataFrame({"hhid": [1, 1, 1, 2, 3], "source": ["Cashmere", "wages", "pension",
                                                             "livestock_sales", "wages"],
                        "amount": [600.0, 300.0, 100.0, 50.0, 0.0]})
    r = run({"k": {"recipe": "income_sources"},
             "s": {"recipe": "nonlivestock_income_share",
                   "livestock": ["cashmere", "livestock_sales"]}}, households(3), income=inc)
    assert r.table["k"].tolist() == [3.0, 1.0, 0.0]
    assert r.table["s"].iloc[:2].tolist() == pytest.approx([0.4, 0.0])
    assert r.report["s"].iloc[2] == "no income in income"


# -- assets and transforms --------------------------------------------------------------

def test_asset_index_is_oriented_and_reproducible_with_stored_constants():
    rng = np.random.default_rng(3)
    n = 500
    wealth = rng.standard_normal(n)
    items = {f"a{j}": (wealth + rng.standard_normal(n) > 0.3 * j - 0.5).astype(int)
             for j in range(6)}
    hh = pd.DataFrame({"hhid": np.arange(1, n + 1), **items})
    b = {"idx": {"recipe": "asset_index", "columns": list(items)},
         "cnt": {"recipe": "asset_count", "columns": list(items)}}
    r = run(b, hh)
    assert r.table["cnt"].tolist() == hh[list(items)].sum(axis=1).tolist()
    # more assets score higher: the index correlates positively with the count
    assert np.corrcoef(r.table["idx"], r.table["cnt"])[0, 1] > 0.9
    fitted = r.fitted["idx"]
    assert all(w > 0 for w in fitted["weights"])
    # the index equals the standardised items times the stored weights
    z = (hh[list(items)].to_numpy() - fitted["mean"]) / fitted["scale"]
    np.testing.assert_allclose(r.table["idx"], z @ np.asarray(fitted["weights"]))
    # scoring new households reuses the stored constants instead of refitting
    new = hh.iloc[:7].copy()
    r2 = build(r.spec, {"households": new}, fit=False)
    np.testing.assert_allclose(r2.table["idx"], r.table["idx"].iloc[:7])


def test_transforms():
    hh = pd.DataFrame({"hhid": [1, 2, 3, 4, 5, 6], "x": [1.0, 0.0, -2.0, 10.0, 100.0, np.nan],
                       "y": [2.0, 0.0, 1.0, 5.0, 1.0, 1.0], "g": ["a", "a", "a", "b", "b", "b"],
                       "code": [1, 2, 3, 1, 2, -9]})
    r = run({"lx": {"recipe": "log", "input": "x"},
             "l1": {"recipe": "log1p", "input": "y"},
             "cx": {"recipe": "cap", "input": "y", "upper": 3},
             "d": {"recipe": "divide", "numerator": "x", "denominator": "y"},
             "s": {"recipe": "sum", "inputs": ["x", "y"]},
             "an": {"recipe": "any", "inputs": ["x", "y"]},
             "al": {"recipe": "all", "inputs": ["x", "y"]},
             "rc": {"recipe": "recode", "input": "code", "map": {"1": 10, "2": 20}},
             "w": {"recipe": "winsorize", "input": "y", "lower_quantile": 0.0,
                   "upper_quantile": 0.5, "by": "g"}}, hh)
    t, rep = r.table, r.report.astype(str)
    assert t["lx"].iloc[[0, 3]].tolist() == pytest.approx([0.0, np.log(10)])
    assert rep["lx"].iloc[1] == "x not positive (log undefined)"
    assert rep["lx"].iloc[5] == "missing value in households.x"
    assert t["l1"].tolist() == pytest.approx(np.log1p(hh["y"]).tolist())
    assert t["cx"].tolist() == [2, 0, 1, 3, 1, 1]
    assert rep["d"].iloc[1] == "y is zero" and t["d"].iloc[3] == 2.0
    assert t["s"].iloc[:5].tolist() == [3, 0, -1, 15, 101]
    assert t["an"].iloc[:5].tolist() == [1, 0, 1, 1, 1]
    assert t["al"].iloc[:5].tolist() == [1, 0, 1, 1, 1]
    assert t["rc"].iloc[[0, 1, 3, 4]].tolist() == [10, 20, 10, 20]
    assert np.isnan(t["rc"].iloc[2])
    assert rep["rc"].iloc[2] == "code value not in the recode map"
    # within group a the median of (2, 0, 1) is 1; group b (5, 1, 1) has median 1
    assert t["w"].tolist() == [1, 0, 1, 1, 1, 1]
    assert r.fitted["w"]["cutoffs"] == {"a": [0.0, 1.0], "b": [1.0, 1.0]}


def test_build_order_follows_inputs_and_cycles_are_spec_errors():
    hh = pd.DataFrame({"hhid": [1], "x": [4.0]})
    r = run({"b": {"recipe": "log", "input": "a"}, "a": {"recipe": "sum", "inputs": ["x"]}}, hh)
    assert r.table["b"].iloc[0] == pytest.approx(np.log(4))
    errors = []
    parse_build({"households": "x"}, {"a": {"recipe": "log", "input": "b"},
                                      "b": {"recipe": "log", "input": "a"}}, None, errors)
    assert any("cycle" in e for e in errors)


# -- spec integration -------------------------------------------------------------------

BASE = {"data": {"id": "hhid"}, "pillars": {"A": ["x1", "x2", "x3"]},
        "indicators": {"fs": ["f1", "f2"]}}


def test_spec_accepts_sources_and_build_and_round_trips():
    spec = load_spec({**BASE, "sources": {"households": "h.csv", "food": {"path": "f.csv",
                                                                          "key": "hh"}},
                      "build": {"f1": {"recipe": "fcs", "thresholds": [28, 42]}}})
    assert spec.build.variables == ("f1",)
    assert spec.build.sources["food"].key == "hh"
    again = load_spec(spec.to_dict())
    assert again.build.recipe("f1").options["thresholds"] == [28, 42]


@pytest.mark.parametrize("build_t, message", [
    ({"v": {"recipe": "fsc"}}, "did you mean 'fcs'"),
    ({"v": {"recipe": "fcs", "treshold": [1, 2]}}, "unknown option 'treshold'"),
    ({"v": {"recipe": "fcs", "thresholds": [42, 28]}}, "two increasing numbers"),
    ({"v": {"recipe": "herd", "source": "livestok"}}, "source 'livestok' is not in"),
    ({"v": {"recipe": "log"}}, "needs input"),
    ({"v": {"recipe": "herd", "units": "goats"}}, "units must be"),
])
def test_spec_errors_name_the_fault(build_t, message):
    with pytest.raises(SpecError, match=message):
        load_spec({**BASE, "sources": {"households": "h.csv", "livestock": "l.csv"},
                   "build": build_t})


def test_build_variable_clashing_with_a_household_column_is_an_error():
    with pytest.raises(SpecError, match="already a column"):
        run({"x": {"recipe": "log", "input": "x"}}, pd.DataFrame({"hhid": [1], "x": [1.0]}))


def test_string_household_ids_and_duplicates():
    hh = pd.DataFrame({"hhid": ["A1", "B2", "B2", None]})
    live = pd.DataFrame({"hhid": ["A1", " B2", "C3"], "species": ["sheep"] * 3,
                         "head": [1, 2, 3]})
    r = run({"su": {"recipe": "herd"}}, hh, livestock=live)
    rep = r.report["su"].astype(str).tolist()
    assert r.table["su"].iloc[0] == 1.0 and r.table["su"].iloc[1:].isna().all()
    # both rows of B2: the module's row of B2 could belong to either
    assert rep[1] == rep[2] == "household id repeated in the household table"
    assert rep[3] == "household without an id"
    assert st.NOT_IN_HOUSEHOLDS in set(r.issues["status"])


def test_fcs_rcsi_against_pandas_on_random_modules():
    rng = np.random.default_rng(8)
    n = 300
    food = pd.DataFrame({"hhid": np.arange(1, n + 1),
                         **{g: rng.integers(0, 8, n) for g in FCS_GROUPS},
                         **{s: rng.integers(0, 8, n) for s in RCSI}})
    food = food.sample(frac=1, random_state=2)  # rows in another order than the households
    r = run({"fcs": {"recipe": "fcs"}, "rcsi": {"recipe": "rcsi"}}, households(n), food=food)
    ref = food.set_index("hhid").sort_index()
    np.testing.assert_allclose(r.table["fcs"], ref[FCS_GROUPS].to_numpy() @ np.array(FCS_W))
    np.testing.assert_allclose(r.table["rcsi"], ref[RCSI].to_numpy() @ np.array([1, 2, 1, 3, 1]))


def test_scoring_needs_every_module_given():
    food = pd.DataFrame({"hhid": [1], **{g: [7] for g in FCS_GROUPS}})
    r = run({"fcs": {"recipe": "fcs"}}, households(1), food=food)
    with pytest.raises(SpecError, match="give the new households' module"):
        build(r.spec, {"households": households(1)}, fit=False)


def test_missing_codes_in_text_columns_of_the_head():
    roster = pd.DataFrame({"hhid": [1, 2], "relation": [1, 1], "age": [40, 50],
                           "sex": ["female", "-99"], "education": [1, 2]})
    errors = []
    bspec = parse_build({"households": "x", "roster": "x", "missing_codes": [-99]},
                        {"hsex": {"recipe": "head_sex"}}, None, errors)
    r = build(bspec, {"households": households(2), "roster": roster})
    assert r.table["hsex"].iloc[0] == "female" and pd.isna(r.table["hsex"].iloc[1])
    assert r.report["hsex"].iloc[1] == "head's sex missing in roster.sex"


def test_missing_codes_in_numeric_columns_of_long_modules():
    # declared codes in stored integer and float columns of the roster, the livestock
    # and the money modules build as if the cells were empty (NaN), which the pandas
    # reference tests above pin down; only the listed cell values keep the code
    rng = np.random.default_rng(3)
    n = 40
    ids = np.arange(1, n + 1)
    roster = pd.DataFrame({"hhid": np.repeat(ids, 3), "relation": np.tile([1, 2, 3], n),
                           "age": rng.integers(0, 90, 3 * n),
                           "sex": np.tile(["male", "female", "female"], n),
                           "education": rng.integers(0, 16, 3 * n).astype(float)})
    livestock = pd.DataFrame({"hhid": np.repeat(ids, 2), "species": np.tile(["sheep", "goat"], n),
                              "start": rng.integers(1, 50, 2 * n), "lost": rng.integers(0, 2, 2 * n)})
    spend = pd.DataFrame({"hhid": np.repeat(ids, 2), "amount": rng.gamma(2.0, 50.0, 2 * n)})
    own = pd.DataFrame({"hhid": ids, "quantity": rng.integers(0, 9, n),
                        "unit_value": rng.gamma(2.0, 10.0, n)})
    income = pd.DataFrame({"hhid": np.repeat(ids, 2),
                           "source": np.tile(["livestock_sales", "wages"], n),
                           "amount": rng.gamma(2.0, 100.0, 2 * n)})
    cells = [(roster, "age", [0, 4, 7]), (roster, "relation", [9]),
             (roster, "education", [3, 10]), (livestock, "start", [5]),
             (livestock, "lost", [8]), (spend, "amount", [2]), (own, "quantity", [6]),
             (own, "unit_value", [11]), (income, "amount", [12, 13])]
    coded = {k: v.copy() for k, v in (("roster", roster), ("livestock", livestock),
                                      ("expenditure", spend), ("own_production", own),
                                      ("income", income))}
    blank = {k: v.copy() for k, v in coded.items()}
    names = {id(roster): "roster", id(livestock): "livestock", id(spend): "expenditure",
             id(own): "own_production", id(income): "income"}
    for frame, col, rows in cells:
        name = names[id(frame)]
        for j, r in enumerate(rows):
            coded[name].loc[r, col] = -99 if j % 2 == 0 else -98
        blank[name][col] = blank[name][col].astype(float)
        blank[name].loc[rows, col] = np.nan
    assert coded["roster"]["age"].dtype.kind == "i"  # the codes sit in integer columns
    recipes = {"size": {"recipe": "household_size"}, "ae": {"recipe": "adult_equivalents"},
               "dep": {"recipe": "dependency_ratio"}, "hage": {"recipe": "head_age"},
               "hedu": {"recipe": "head_education"},
               "edu": {"recipe": "max_adult_education"},
               "herd": {"recipe": "herd", "count_column": "start"},
               "loss": {"recipe": "dzud_loss", "count_column": "start", "lost_column": "lost"},
               "food": {"recipe": "money_per_ae", "source": "expenditure",
                        "amount_column": "amount", "own_source": "own_production", "ae": "ae"},
               "nls": {"recipe": "nonlivestock_income_share", "source": "income",
                       "livestock": ["livestock_sales"]}}
    out = []
    for frames, codes in ((coded, [-99, -98]), (blank, [])):
        errors = []
        bspec = parse_build({"households": "x", **{k: "x" for k in frames},
                             "missing_codes": codes}, recipes, None, errors)
        assert not errors, errors
        out.append(build(bspec, {"households": households(n), **frames}))
    got, want = out
    pd.testing.assert_frame_equal(got.table, want.table)
    pd.testing.assert_frame_equal(got.report, want.report)
    cols = ["variable", "status", "module", "column", "household", "row", "message"]
    pd.testing.assert_frame_equal(got.issues[cols], want.issues[cols])
    assert (got.report["size"] == "ok").all()
    assert got.report["hage"].iloc[0] == "head's age missing in roster.age"
    assert got.report["hedu"].iloc[1] == "head's education missing in roster.education"
    assert len(got.issues) > len(cells)


def test_head_sex_from_a_categorical_column_equals_the_text_column():
    # a categorical sex column (Stata value labels, Parquet dictionaries) gives the same
    # heads' labels, missing cells and declared codes as the same column as text
    sex = ["female", "male", None, "-99", "male", "female", "male"]
    roster = pd.DataFrame({"hhid": [1, 1, 2, 3, 4, 5, 5], "relation": [1, 2, 1, 1, 1, 2, 1],
                           "age": [40, 39, 50, 60, 30, 20, 45], "sex": sex})
    out = []
    for col in (pd.Series(sex, dtype=object), pd.Categorical(sex)):
        errors = []
        bspec = parse_build({"households": "x", "roster": "x", "missing_codes": [-99]},
                            {"hsex": {"recipe": "head_sex"}}, None, errors)
        out.append(build(bspec, {"households": households(6),
                                 "roster": roster.assign(sex=col)}))
    cat, text = out
    want = ["female", None, None, "male", "male", None]
    assert [None if pd.isna(v) else v for v in text.table["hsex"]] == want
    pd.testing.assert_frame_equal(cat.table, text.table)
    pd.testing.assert_frame_equal(cat.report, text.report)
    pd.testing.assert_frame_equal(cat.issues, text.issues)


def test_a_variable_cannot_take_the_report_status_column_name():
    roster = pd.DataFrame({"hhid": [1], "relation": [1], "age": [30]})
    with pytest.raises(SpecError, match="build_status is the report's column"):
        run({"build_status": {"recipe": "household_size"}}, households(1), roster=roster)


def test_recode_reads_a_categorical_head_sex_and_log_blanks_non_positive_values():
    # the head's sex from a categorical column is held as labels and codes; a recipe
    # reading it gets each household's label (None where no head), as pandas finds it
    rng = np.random.default_rng(11)
    n = 300
    sizes = rng.integers(1, 6, n)
    hid = np.repeat(np.arange(1, n + 1), sizes)
    rel = rng.choice([1, 2, 3], hid.size, p=[0.3, 0.4, 0.3])
    sex = pd.Categorical(rng.choice(["male", "female"], hid.size))
    roster = pd.DataFrame({"hhid": hid, "relation": rel, "age": 30, "sex": sex})
    x = rng.normal(1.0, 2.0, n)
    x[::17] = 0.0
    x[::23] = np.nan
    r = run({"hsex": {"recipe": "head_sex"},
             "female": {"recipe": "recode", "input": "hsex", "map": {"female": 1, "male": 0}},
             "lx": {"recipe": "log", "input": "x"}},
            households(n).assign(x=x), roster=roster)
    heads = roster[roster["relation"] == 1].groupby("hhid")
    want = heads["sex"].first().astype(str).where(heads.size() == 1).reindex(range(1, n + 1))
    got = r.table.set_index("hhid")
    assert [None if pd.isna(v) else v for v in got["hsex"]] == \
        [None if pd.isna(v) else v for v in want]
    np.testing.assert_array_equal(got["female"].to_numpy(float),
                                  want.map({"female": 1.0, "male": 0.0}).to_numpy(float))
    np.testing.assert_array_equal(got["lx"].to_numpy(),
                                  np.log(np.where(x > 0, x, np.nan)))
    assert (r.report["lx"][~(x > 0) & ~np.isnan(x)] == "x not positive (log undefined)").all()


def test_text_column_with_a_numeric_missing_code_is_read():
    """A module column holding text beside numbers, one of them a declared missing code
    stored as a float (-99.0): read as numbers, the code missing, the text non-numeric
    (pandas handed the conversion back read-only, and setting the code failed)."""
    from rima.build.sources import numeric

    s = pd.Series(["lots", -99.0, 3, "-98", None], dtype=object)
    x, bad = numeric(s, (-99, -98))
    np.testing.assert_array_equal(x, [np.nan, np.nan, 3.0, np.nan, np.nan])
    np.testing.assert_array_equal(bad, [True, False, False, False, False])
