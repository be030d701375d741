"""A built value that is NaN or infinite is never "ok": an infinite cell is listed where it
is (module, column, row, household), and a result too large for a float gets the status
"not finite"; either way the value is blank and the household is kept."""

import numpy as np
import pandas as pd
import pytest

from rima.build import build, parse_build
from rima.build import status as st


@pytest.fixture(autouse=True, params=["numpy", "kernel"])
def _counting(request, monkeypatch):
    """Every test twice: small arrays are counted with numpy, large ones by the kernel."""
    from rima._kernels import build as K

    if request.param == "kernel":
        monkeypatch.setattr(K, "NOT_FINITE_KERNEL_ROWS", 0)


def run(build_t, households, **frames):
    errors = []
    bspec = parse_build({"households": "x", **{k: "x" for k in frames}}, build_t, None, errors)
    assert not errors, errors
    return build(bspec, {"households": households, **frames})


def households(n):
    return pd.DataFrame({"hhid": np.arange(1, n + 1)})


def _assert_never_ok_and_not_finite(r):
    for v in r.variables:
        x = r.table[v]
        if pd.api.types.is_float_dtype(x.dtype):
            bad = ~np.isfinite(x.to_numpy())
            assert (r.report[v].astype(str).to_numpy()[bad] != "ok").all(), v


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_an_infinite_amount_is_listed_and_its_household_not_ok(value):
    roster = pd.DataFrame({"hhid": [1, 2, 3], "relation": 1, "age": 40, "sex": 1,
                           "education": 5})
    exp = pd.DataFrame({"hhid": [1, 1, 2, 3], "amount": [100.0, value, 50.0, 10.0]})
    inc = pd.DataFrame({"hhid": [1, 2, 2, 3], "source": ["wages", "wages", "cashmere", "wages"],
                        "amount": [5.0, 10.0, value, 1.0]})
    r = run({"ae": {"recipe": "adult_equivalents"},
             "m": {"recipe": "money_per_ae", "ae": "ae", "period_days": 7},
             "lm": {"recipe": "money_per_ae", "ae": "ae", "period_days": 7, "log": True},
             "s": {"recipe": "nonlivestock_income_share", "livestock": ["cashmere"]}},
            households(3), roster=roster, expenditure=exp, income=inc)
    rep = r.report.set_index("hhid")
    assert rep.loc[1, "m"] == "infinite value in expenditure.amount"
    assert rep.loc[1, "lm"] == "infinite value in expenditure.amount"
    assert rep.loc[2, "s"] == "infinite value in income.amount"
    assert np.isnan(r.table["m"].iloc[0]) and np.isnan(r.table["s"].iloc[1])
    # the other households keep their values (by hand: 50 / 1 adult x 30.4375 / 7)
    assert rep.loc[2, "m"] == "ok" and r.table["m"].iloc[1] == pytest.approx(50 * 30.4375 / 7)
    assert rep.loc[3, "s"] == "ok" and r.table["s"].iloc[2] == 1.0
    iss = r.issues[r.issues["message"].str.startswith("infinite value")]
    got = {(v, m, int(row), h) for v, m, row, h in
           iss[["variable", "module", "row", "household"]].itertuples(index=False)}
    assert ("m", "expenditure", 2, "1") in got and ("s", "income", 3, "2") in got
    # a negative infinity is not also listed as a negative value
    assert not r.issues["message"].str.startswith("negative value").any()
    _assert_never_ok_and_not_finite(r)


def test_infinite_quantity_times_a_zero_unit_value_is_not_skipped_silently():
    exp = pd.DataFrame({"hhid": [1, 2], "amount": [10.0, 10.0]})
    own = pd.DataFrame({"hhid": [1, 2], "quantity": [np.inf, 2.0], "unit_value": [0.0, 3.0]})
    r = run({"m": {"recipe": "money_per_ae", "ae": "one", "own_source": "own"}},
            households(2).assign(one=1.0), expenditure=exp, own=own)
    assert r.report["m"].tolist() == ["infinite value in own.quantity", "ok"]
    assert np.isnan(r.table["m"].iloc[0])
    _assert_never_ok_and_not_finite(r)


def test_infinite_household_values_are_listed_and_left_out_of_winsorising():
    hh = pd.DataFrame({"hhid": [1, 2, 3, 4, 5, 6], "x": [1.0, np.inf, -np.inf, 4.0, 5.0, 6.0]})
    r = run({"lx": {"recipe": "log", "input": "x"},
             "w": {"recipe": "winsorize", "input": "x", "lower_quantile": 0.1,
                   "upper_quantile": 0.9}}, hh)
    assert r.report["lx"].tolist()[1:3] == ["infinite value in households.x"] * 2
    assert r.report["w"].tolist() == ["ok", "infinite value in households.x",
                                      "infinite value in households.x", "ok", "ok", "ok"]
    # the cut points of the finite values: numpy's (linear) quantiles of 1, 4, 5, 6
    lo, hi = np.quantile([1.0, 4.0, 5.0, 6.0], [0.1, 0.9])
    assert r.fitted["w"]["cutoffs"]["all"] == pytest.approx([lo, hi])
    assert r.table["w"].tolist()[3:] == pytest.approx([4.0, 5.0, min(6.0, hi)])
    _assert_never_ok_and_not_finite(r)


def test_a_herd_too_large_for_a_float_is_not_ok():
    live = pd.DataFrame({"hhid": [1, 1, 2], "species": ["cattle", "cattle", "sheep"],
                         "head": [1e308, 1e308, 3.0]})
    r = run({"su": {"recipe": "herd"}}, households(2), livestock=live)
    assert r.report["su"].iloc[0].startswith("su is not a finite number")
    assert r.report["su"].iloc[1] == "ok" and r.table["su"].iloc[1] == 3.0
    assert np.isnan(r.table["su"].iloc[0])
    iss = r.issues[r.issues["status"] == st.NOT_FINITE]
    assert iss[["variable", "household"]].values.tolist() == [["su", "1"]]
    _assert_never_ok_and_not_finite(r)


def test_an_infinite_animal_count_is_listed_long_and_wide():
    live = pd.DataFrame({"hhid": [1, 2, 2], "species": ["sheep", "goat", "sheep"],
                         "head": [np.inf, 10, 1]})
    r = run({"su": {"recipe": "herd"}}, households(2), livestock=live)
    assert r.report["su"].tolist() == ["infinite animal count in livestock.head", "ok"]
    assert np.isnan(r.table["su"].iloc[0]) and r.table["su"].iloc[1] == 10.0
    iss = r.issues[r.issues["status"] == st.OUT_OF_RANGE]
    assert iss[["household", "row"]].values.tolist() == [["1", 1]]
    _assert_never_ok_and_not_finite(r)
    hh = pd.DataFrame({"hhid": [1, 2], "sheep": [np.inf, 2.0], "goat": [1.0, 10.0]})
    r = run({"su": {"recipe": "herd", "layout": "wide", "source": "households"}}, hh)
    assert r.report["su"].tolist() == ["infinite sheep count (households.sheep)", "ok"]
    assert r.table["su"].iloc[1] == pytest.approx(11.0)
    _assert_never_ok_and_not_finite(r)
