"""Shock regressions: known effects recovered on simulated data, row accounting, errors.

The simulator's food-security equation is fcs = 62 + 12 R - 14.4 (loss_share - 0.08)
+ 9 e (e standard normal, rounded to 0.5), with soum severity acting only through the
household's losses, so with the true latent resilience R as the predictor the OLS
coefficients are known (R 12, loss_share -14.4, severity 0, interactions 0) and so is the
probit of fcs < 35 (fcs < 34.75 before rounding): intercept (34.75 - 62 - 1.152) / 9,
R -12/9, loss_share 14.4/9.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from rima.analysis.shocks import coefficient_figure, shocks
from rima.errors import DataError, RimaInputError
from rima.simulation import simulate

OLS_TRUTH = {"resilience": 12.0, "loss_share": -14.4, "severity": 0.0,
             "resilience:loss_share": 0.0, "resilience:severity": 0.0}
PROBIT_TRUTH = {"const": (34.75 - 62 - 1.152) / 9, "resilience": -12 / 9, "loss_share": 1.6}
REPS = 25


def _with_truth(s):
    return s.households.merge(s.truth, on="hhid")


@pytest.fixture(scope="module")
def replications():
    ols, probit = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(500, 500 + REPS):
            s = simulate(2240, seed=seed, missing=False)
            df = _with_truth(s)
            ols.append(shocks(df, soums=s.soums, rci="resilience", weight="hh_weight").table)
            probit.append(shocks(df, rci="resilience", weight="hh_weight", kind="probit",
                                 soum_shocks=[], interactions=False).table)
    return ols, probit


@pytest.mark.parametrize("which", ["ols", "probit"])
def test_confidence_intervals_cover_the_simulated_effects(replications, which):
    tables = replications[0] if which == "ols" else replications[1]
    truth = OLS_TRUTH if which == "ols" else PROBIT_TRUTH
    for term, value in truth.items():
        rows = pd.concat([t[t["term"] == term] for t in tables])
        covered = ((rows["ci_lower"] <= value) & (value <= rows["ci_upper"])).mean()
        # nominal 95 %; 25 fixed replications, so allow sampling slack but not a broken SE
        assert covered >= 0.8, (term, covered)
        # and no bias: the mean estimate is within 3 Monte Carlo SEs of the truth
        mc_se = rows["est"].std(ddof=1) / np.sqrt(len(rows))
        assert abs(rows["est"].mean() - value) < 3 * mc_se + 1e-9, (term, rows["est"].mean())


def test_shocks_on_a_fitted_result_names_unscored_households(small_survey, example_spec):
    import rima

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rima.fit(small_survey.households, example_spec)
    res = shocks(result, soums=small_survey.soums, soum_shocks="dzud_class")
    st = res.row_status
    unscored = result.scores["status"] != "ok"
    assert unscored.any()
    assert (st[unscored.to_numpy()].str.startswith("not scored: missing value")).all()
    assert res.model.nobs == int((~unscored).sum())
    assert res.model.weight == "hh_weight"
    assert res.table.set_index("term").loc["RCI", "est"] > 0
    assert set(res.table["role"]) == {"intercept", "rci", "household_shock", "soum_shock",
                                      "interaction"}
    fig = coefficient_figure(res)
    assert len(fig.axes[0].get_yticklabels()) == len(res.table) - 1
    via_method = result.shocks(soums=small_survey.soums, soum_shocks="dzud_class")
    pd.testing.assert_frame_equal(via_method.table, res.table)


def test_change_and_drop_outcomes():
    s = simulate(800, seed=2, panel=True, missing=False)
    r1, r2 = s.rounds[1], s.rounds[2]
    df = r2.merge(s.truth[s.truth["round"] == 2], on="hhid")
    df["fcs_r1"] = r1["fcs"].to_numpy()
    soums2 = s.soums[s.soums["round"] == 2].drop(columns="round")
    ch = shocks(df, soums=soums2, rci="resilience", baseline="fcs_r1", weight="hh_weight")
    assert ch.outcome == "fcs - fcs_r1 (change)"
    assert ch.model.outcome == "d_fcs"
    np.testing.assert_allclose(ch.frame["d_fcs"], df["fcs"] - df["fcs_r1"])
    dr = shocks(df, soums=soums2, rci="resilience", baseline="fcs_r1", kind="logit", drop=10,
                weight="hh_weight", interactions=False)
    expected = (df["fcs_r1"] - df["fcs"] >= 10).astype(float)
    np.testing.assert_array_equal(dr.frame["fcs_drop"], expected)
    assert dr.table.set_index("term").loc["resilience", "est"] < 0


def test_shock_input_errors(small_households, small_survey):
    df = small_households.merge(small_survey.truth, on="hhid")
    with pytest.raises(DataError, match=r"column 'severity' not found.*soums="):
        shocks(df, rci="resilience")
    bad = small_survey.soums[small_survey.soums["soum"] != "Ider"]
    with pytest.raises(DataError, match=r"\['Ider'\].*not in the soum table"):
        shocks(df, soums=bad, rci="resilience")
    odd = small_survey.soums.copy()
    odd.loc[0, "dzud_class"] = "severe"
    with pytest.raises(DataError, match="dzud_class has unknown value"):
        shocks(df, soums=odd, rci="resilience", soum_shocks="dzud_class")
    with pytest.raises(RimaInputError, match="use kind='logit'"):
        shocks(df, soums=small_survey.soums, rci="resilience", loss_line=35)
    with pytest.raises(RimaInputError, match="drop needs baseline"):
        shocks(df, soums=small_survey.soums, rci="resilience", kind="logit", drop=5)
    with pytest.raises(RimaInputError, match="at least one household or soum shock"):
        shocks(df, rci="resilience", household_shocks=[], soum_shocks=[])
    with pytest.raises(RimaInputError, match="expected a fitted result"):
        shocks([1, 2, 3])


def test_loss_after_a_shock_on_a_subset(small_households, small_survey):
    df = small_households.merge(small_survey.truth, on="hhid")
    res = shocks(df, soums=small_survey.soums, rci="resilience", kind="logit",
                 loss_line=40, where="dzud_class != 'none'", interactions=False,
                 weight="hh_weight")
    hit = res.frame["dzud_class"] != "none"
    assert res.model.nobs == int(hit.sum()) < len(df)
    assert (res.row_status[~hit.to_numpy()] == "not where dzud_class != 'none'").all()
    assert res.outcome == "fcs < 40"
    with pytest.raises(RimaInputError, match="cannot be evaluated"):
        shocks(df, soums=small_survey.soums, rci="resilience", where="nope > 1")
