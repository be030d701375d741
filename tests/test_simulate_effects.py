"""The simulator's known resilience x winter-severity effect on food security.

With `resilience_x_severity = b`, the food-security signal of a household in a soum of
winter severity s is R - 1.2 (loss_share - 0.08) + b R s, so with FCS = 62 + 12 signal +
9 e the true FCS equation is

    fcs = 62 + 1.152 + 12 R - 14.4 loss_share + 12 b R s + 9 e.

b = 0 (the default) leaves every simulated value as before.
"""

import warnings

import numpy as np
import pandas as pd

from rima.analysis.shocks import shocks
from rima.simulation import simulate

B = 0.8
FOOD = ["fcs", "food_exp_ae", "log_food_exp_ae", "hdds", "rcsi"]


def test_default_is_unchanged_and_only_food_security_moves():
    base = simulate(400, seed=3, panel=True)
    zero = simulate(400, seed=3, panel=True, resilience_x_severity=0.0)
    pd.testing.assert_frame_equal(base.households, zero.households)
    eff = simulate(400, seed=3, panel=True, resilience_x_severity=B)
    other = [c for c in base.households.columns if c not in FOOD]
    pd.testing.assert_frame_equal(base.households[other], eff.households[other])
    pd.testing.assert_frame_equal(base.truth, eff.truth)
    pd.testing.assert_frame_equal(base.soums, eff.soums)
    assert not np.allclose(base.households["fcs"], eff.households["fcs"])


def test_example_data_still_reproduce():
    from pathlib import Path

    example = pd.read_csv(Path(__file__).resolve().parents[1] / "examples" / "zavkhan" /
                          "households.csv")
    s = simulate(2240, seed=20240)
    np.testing.assert_array_equal(s.households["fcs"].to_numpy(), example["fcs"].to_numpy())


def _level_frame(s):
    return s.households.merge(s.truth, on="hhid")


def _change_frame(s):
    r1, r2 = s.rounds[1].copy(), s.rounds[2].copy()
    t1 = s.truth[s.truth["round"] == 1].set_index("hhid")["resilience"]
    t2 = s.truth[s.truth["round"] == 2].set_index("hhid")["resilience"]
    sev1 = s.soums[s.soums["round"] == 1].set_index("soum")["severity"]
    df = r2.copy()
    df["res2"] = t2.loc[df["hhid"]].to_numpy()
    df["res1"] = t1.loc[df["hhid"]].to_numpy()
    df["fcs_r1"] = r1["fcs"].to_numpy()
    df["loss1"] = r1["loss_share"].to_numpy()
    df["res1_sev1"] = df["res1"] * sev1.loc[r1["soum"].astype(str)].to_numpy()
    return df


def _covered(rows, value):
    return ((rows["ci_lower"] <= value) & (value <= rows["ci_upper"])).mean()


def test_interaction_effect_is_recovered_in_levels_and_changes():
    level, change = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(40, 60):
            s = simulate(1500, seed=seed, missing=False, resilience_x_severity=B)
            res = shocks(_level_frame(s), soums=s.soums, rci="resilience", weight="hh_weight")
            level.append((res.table.set_index("term"), res.rci_mean))
            p = simulate(1500, seed=seed, panel=True, missing=False, resilience_x_severity=B)
            soums2 = p.soums[p.soums["round"] == 2].drop(columns="round")
            res = shocks(_change_frame(p), soums=soums2, rci="res2", baseline="fcs_r1",
                         controls=["res1", "loss1", "res1_sev1"], weight="hh_weight")
            change.append((res.table.set_index("term"), res.rci_mean))
    truth_level = {"resilience": 12.0, "loss_share": -14.4, "resilience:severity": 12 * B,
                   "resilience:loss_share": 0.0}
    for term, value in truth_level.items():
        rows = pd.DataFrame([t.loc[term] for t, _ in level])
        assert _covered(rows, value) >= 0.8, (term, rows["est"].mean())
    # the severity main effect is the interaction at the (centred) mean resilience
    sev = pd.DataFrame([t.loc["severity"] for t, _ in level])
    m = np.array([mean for _, mean in level])
    assert ((sev["ci_lower"] <= 12 * B * m) & (12 * B * m <= sev["ci_upper"])).mean() >= 0.8
    truth_change = {"res2": 12.0, "loss_share": -14.4, "res2:severity": 12 * B,
                    "res2:loss_share": 0.0, "res1": -12.0, "loss1": 14.4,
                    "res1_sev1": -12 * B}
    for term, value in truth_change.items():
        rows = pd.DataFrame([t.loc[term] for t, _ in change])
        assert _covered(rows, value) >= 0.8, (term, rows["est"].mean())
    assert all(t.loc["resilience:severity", "ci_lower"] > 0 for t, _ in level)
