"""Panels: later rounds on the baseline scale, change, transitions, predictions, errors."""

import warnings

import numpy as np
import pandas as pd
import pytest

from rima.analysis.panel import panel, transition_html
from rima.errors import DataError
from rima.profiles import weighted_mean_se
from rima.simulation import simulate


@pytest.fixture(scope="module")
def setup(example_spec):
    import rima

    s = simulate(1200, seed=21, panel=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rima.fit(s.rounds[1], example_spec)
        p = panel(result, s.households, soums=s.soums)
    return s, result, p


def test_rounds_are_scored_with_the_baseline_model_not_refit(setup, example_spec):
    import rima

    s, result, p = setup
    r1 = p.scores[p.scores["round"] == 1].reset_index(drop=True)
    np.testing.assert_array_equal(r1["RCI_100"].to_numpy(), result.scores["RCI_100"].to_numpy())
    r2 = p.scores[p.scores["round"] == 2].reset_index(drop=True)
    direct = result.model.score(s.rounds[2])
    np.testing.assert_array_equal(r2["RCI_100"].to_numpy(), direct["RCI_100"].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = rima.fit(s.rounds[2], example_spec)
    ok = refit.scores["status"] == "ok"
    # a refit rescales min-max to [0, 100] on round 2; the baseline scale does not
    assert refit.scores.loc[ok, "RCI_100"].min() == pytest.approx(0.0, abs=1e-9)
    assert not np.allclose(r2.loc[ok, "RCI_100"], refit.scores.loc[ok, "RCI_100"])


def test_change_profiles_and_transitions(setup):
    _s, _result, p = setup
    ch = p.change
    assert len(ch) == 1200 and set(ch["round"]) == {2}
    np.testing.assert_allclose(ch["RCI_100_change"], ch["RCI_100_round"] - ch["RCI_100_base"])
    tab = p.by_profile["soum"]
    ok = ch["RCI_100_change"].notna()
    for row in tab.itertuples():
        m = ok & (ch["soum"] == row.soum)
        mean, se = weighted_mean_se(ch.loc[m, "RCI_100_change"], ch.loc[m, "hh_weight"],
                                    n_design=int(ok.sum()))
        assert row.mean_change == pytest.approx(mean, rel=1e-12)
        assert row.se == pytest.approx(se, rel=1e-12)
    assert set(p.by_profile) == {"soum", "head_sex"}
    tr = p.transition[2]
    both = ch["class_base"].notna() & ch["class_round"].notna()
    assert tr["counts"].to_numpy().sum() == pytest.approx(ch.loc[both, "hh_weight"].sum())
    assert tr["households"].to_numpy().sum() == int(both.sum())
    np.testing.assert_allclose(tr["shares"].sum(axis=1), 1.0)
    n_low_low = int(((ch["class_base"] == "low") & (ch["class_round"] == "low")).sum())
    assert tr["households"].loc["low", "low"] == n_low_low
    assert "<table" in transition_html(p)


def test_baseline_rci_predicts_next_round_food_security(setup):
    _s, _result, p = setup
    out = p.models[(2, "outcome")]
    assert out.coef("RCI_base")["ci_lower"] > 0
    loss = p.models[(2, "loss")]
    assert loss.coef("RCI_base")["ci_upper"] < 0
    assert {t for t in out.params["term"]} == {"const", "RCI_base", "loss_share", "severity"}
    assert out.n_clusters == 24
    # households without a baseline score are accounted for, with the reason
    unscored = (p.change["status_base"] != "ok").to_numpy()
    assert unscored.any()
    assert out.row_status[unscored].str.startswith("not scored at baseline").all()
    ch = p.change
    assert np.array_equal(ch["loss"].dropna(), (ch["fcs_round"] < 35).astype(float)[ch["loss"].notna()])
    rec = ch["recovered"].notna()
    assert np.array_equal(ch.loc[rec, "recovered"], (ch.loc[rec, "fcs_round"] >= ch.loc[rec, "fcs_base"]).astype(float))


def test_panel_with_partial_attrition_and_output(setup, tmp_path):
    s, result, _p = setup
    hh = s.households
    drop_ids = hh["hhid"].unique()[:50]
    thin = hh[~((hh["round"] == 2) & hh["hhid"].isin(drop_ids))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = panel(result.model, thin, soums=s.soums, drop=10)
    assert len(q.change) == 1200 - 50
    acc = dict(zip(q.accounting["rounds"], q.accounting["households"]))
    assert acc == {"1, 2": 1150, "1": 50}
    assert np.array_equal(q.change["loss"].dropna(),
                          ((q.change["fcs_base"] - q.change["fcs_round"]) >= 10)
                          .astype(float)[q.change["loss"].notna()])
    paths = q.write(tmp_path, "dta")
    assert paths["panel_change"].exists()


def test_panel_errors(setup):
    s, result, _p = setup
    hh = s.households.copy()
    shifted = hh.copy()
    shifted.loc[shifted["round"] == 2, "hhid"] += 10_000_000
    with pytest.raises(DataError, match=r"rounds 1 and 2 share no households"):
        panel(result, shifted)
    dup = pd.concat([hh, hh.iloc[[5]]])
    with pytest.raises(DataError, match=r"household 100006 appears more than once in round 1"):
        panel(result, dup)
    with pytest.raises(DataError, match=r"at least 2 rounds"):
        panel(result, hh[hh["round"] == 1])
    with pytest.raises(DataError, match=r"baseline round 3 is not in the data"):
        panel(result, hh, baseline=3)
    with pytest.raises(DataError, match=r"no 'wave' column"):
        panel(result, hh, round_col="wave")


def test_change_in_food_security_by_shock(setup):
    _s, _result, p = setup
    res = p.shocks()
    assert res.outcome == "fcs_round - fcs_base (change)"
    terms = res.table["term"].tolist()
    assert terms == ["const", "RCI_base", "loss_share", "severity", "RCI_base:loss_share",
                     "RCI_base:severity"]
    ch = p.change
    np.testing.assert_allclose(res.frame["d_fcs_round"], ch["fcs_round"] - ch["fcs_base"])
    assert res.model.weight == "hh_weight"
    with pytest.raises(Exception, match="not a later round"):
        p.shocks(round_=7)
