import numpy as np
import pandas as pd
import pytest

import rima
from rima.simulation import MISSING_RATES, SHEEP_UNITS, SOUM_NAMES, simulate

BINARY = [
    "solar_power", "improved_water", "early_warning", "has_motorbike", "has_vehicle",
    "social_insurance", "health_insurance", "child_money", "pension_welfare", "remittances",
    "herder_loan", "livestock_insurance", "coop_member", "pug_member", "training",
]


@pytest.fixture(scope="module")
def big():
    return simulate(n_households=20000, seed=11)


def test_same_seed_gives_identical_output():
    a, b = simulate(500, seed=3), simulate(500, seed=3)
    pd.testing.assert_frame_equal(a.households, b.households)
    pd.testing.assert_frame_equal(a.soums, b.soums)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    c = simulate(500, seed=4)
    assert not np.allclose(a.truth["resilience"], c.truth["resilience"])


def test_package_level_call_works_after_module_import():
    import rima.simulation  # importing the module must not shadow the function

    s = rima.simulate(n_households=10, seed=1)
    assert len(s.households) == 10


def test_households_real_soums_ids_and_weights():
    s = simulate(2240, seed=5)
    h = s.households
    assert len(h) == 2240
    assert set(h["soum"].astype(str)) == set(SOUM_NAMES)
    assert len(SOUM_NAMES) == 24 and "Tosontsengel" in SOUM_NAMES and "Dörvöljin" in SOUM_NAMES
    assert h["hhid"].is_unique
    assert (h["hh_weight"] > 0).all()
    # weights gross the sample up to the soum herder populations
    totals = h.groupby("soum", observed=True)["hh_weight"].sum()
    frame = s.soums.set_index("soum")["herder_households"]
    np.testing.assert_allclose(totals.reindex(frame.index), frame, rtol=1e-3)


def test_ranges_and_types(big):
    h = big.households
    assert h["fcs"].between(0, 112).all()
    assert h["hdds"].between(0, 12).all()
    assert h["rcsi"].between(0, 56).all()
    assert set(h["mobile_coverage"].unique()) <= {0, 1, 2}
    assert set(h["shelter_quality"].unique()) == {1, 2, 3, 4}
    assert h["n_income_sources"].between(1, 5).all()
    assert h["head_edu_years"].dropna().between(0, 16).all()
    assert h["head_age"].between(18, 90).all()
    assert (h["n_children"] + h["n_elderly"] < h["hh_size"]).all()
    assert (h["dependency_ratio"] >= 0).all()
    assert h["nonlivestock_income_share"].dropna().between(0, 1).all()
    assert h["loss_share"].between(0, 1).all()
    assert set(h["head_sex"].astype(str).unique()) == {"male", "female"}
    for col in BINARY:
        assert set(h[col].unique()) <= {0, 1}, col
    food = h["food_exp_ae"].dropna()
    assert food.between(10_000, 2_000_000).all()
    np.testing.assert_allclose(
        h["log_food_exp_ae"].dropna(), np.log(food), atol=1e-5
    )


def test_herd_in_sheep_units_and_skewed(big):
    h = big.households
    su = sum(h[s] * u for s, u in SHEEP_UNITS.items())
    np.testing.assert_allclose(h["herd_su"], su, atol=0.051)
    assert SHEEP_UNITS == {"sheep": 1.0, "goats": 0.9, "cattle": 6.0, "horses": 7.0, "camels": 5.0}
    # herd sizes are right-skewed, as in every herder survey
    assert h["herd_su"].skew() > 1.0
    assert h["herd_su"].mean() > 1.2 * h["herd_su"].median()
    assert (h["goats"] + h["sheep"] > 0).mean() > 0.99


@pytest.mark.parametrize(
    "column, rate, tol",
    [
        ("social_insurance", 0.15, 0.02),
        ("health_insurance", 0.40, 0.03),
        ("solar_power", 0.82, 0.03),
        ("has_motorbike", 0.85, 0.03),
        ("livestock_insurance", 0.12, 0.02),
        ("pug_member", 0.35, 0.03),
        ("training", 0.30, 0.03),
    ],
)
def test_coverage_rates(big, column, rate, tol):
    assert abs(big.households[column].mean() - rate) < tol


def test_missing_values_a_few_percent(big):
    h = big.households
    share = h.isna().mean()
    for col, rate in MISSING_RATES.items():
        assert 0.5 * rate < share[col] < 2 * rate, col
    assert share["log_food_exp_ae"] == share["food_exp_ae"]
    untouched = set(h.columns) - set(MISSING_RATES) - {"log_food_exp_ae"}
    assert share[list(untouched)].max() == 0
    assert not simulate(2000, seed=2, missing=False).households.isna().any().any()


def test_truth_file_and_latent_structure(big):
    h, t = big.households, big.truth
    assert list(t.columns) == ["hhid", "ABS", "AST", "SSN", "AC", "resilience"]
    assert (t["hhid"].to_numpy() == h["hhid"].to_numpy()).all()
    for col in ["ABS", "AST", "SSN", "AC", "resilience"]:
        # 24 soum effects make the sample mean wander a little from 0
        assert abs(t[col].mean()) < 0.4 and abs(t[col].std() - 1) < 0.1
    r = h[["fcs", "log_food_exp_ae", "hdds", "rcsi"]].corrwith(t["resilience"])
    assert r["fcs"] > 0.6 and r["log_food_exp_ae"] > 0.6 and r["hdds"] > 0.6
    assert r["rcsi"] < -0.4
    # each variable points the documented way on its own pillar
    signs = {
        ("ABS", "dist_soum_km"): -1, ("ABS", "mobile_coverage"): 1, ("AST", "herd_su"): 1,
        ("AST", "hay_reserve_t"): 1, ("SSN", "social_insurance"): 1, ("AC", "head_edu_years"): 1,
        ("AC", "dependency_ratio"): -1, ("SSN", "pug_member"): 1,
    }
    for (pillar, col), sign in signs.items():
        assert sign * h[col].corr(t[pillar]) > 0.2, col


def test_pillar_variables_recover_latent_pillars():
    # the first principal component of each pillar's variables tracks its latent capacity
    spec = rima.load_spec(
        {
            "data": {"id": "hhid"},
            "pillars": {
                "ABS": ["dist_soum_km", "dist_vet_km", "dist_health_km", "solar_power",
                        "mobile_coverage", "improved_water", "early_warning"],
                "AST": ["herd_su", "hay_reserve_t", "shelter_quality", "has_motorbike",
                        "has_vehicle", "n_durables"],
                "SSN": ["social_insurance", "health_insurance", "remittances", "herder_loan",
                        "livestock_insurance", "coop_member", "pug_member"],
                "AC": ["head_edu_years", "n_income_sources", "nonlivestock_income_share",
                       "dependency_ratio", "training", "otor_moves"],
            },
            "indicators": {"food_security": ["fcs", "log_food_exp_ae", "hdds"]},
        }
    )
    s = simulate(3000, seed=9, missing=False)
    for pillar, cols in spec.pillars.items():
        x = s.households[list(cols)].to_numpy(float)
        z = (x - x.mean(0)) / x.std(0)
        _, vecs = np.linalg.eigh(np.corrcoef(z.T))
        pc = z @ vecs[:, -1]
        assert abs(np.corrcoef(pc, s.truth[pillar])[0, 1]) > 0.65, pillar


def test_soum_clustering(big):
    t = big.truth.assign(soum=big.households["soum"].to_numpy())
    between = t.groupby("soum", observed=True)["ABS"].mean().var()
    assert between / t["ABS"].var() > 0.1
    assert big.households.groupby("soum", observed=True)["dist_soum_km"].median().std() > 1


def test_dzud_soum_table(big):
    soums = big.soums
    assert len(soums) == 24 and list(soums["soum"]) == list(SOUM_NAMES)
    for col in ["snow_depth_cm", "temp_anomaly_c", "severity", "dzud_class", "mortality_pct"]:
        assert col in soums
    assert set(soums["dzud_class"]) <= {"dzud", "dzud-like", "none"}
    assert soums["severity"].between(0, 1).all()
    expected = np.where(soums["severity"] >= 0.55, "dzud",
                        np.where(soums["severity"] >= 0.35, "dzud-like", "none"))
    assert (soums["dzud_class"].to_numpy() == expected).all()
    assert (soums["round"] == 1).all()
    # losses rise with soum severity and fall with latent resilience
    h = big.households.merge(soums[["soum", "severity"]], on="soum")
    assert h["loss_share"].corr(h["severity"]) > 0.3
    assert big.households["loss_share"].corr(big.truth["resilience"]) < -0.3
    assert np.corrcoef(soums["severity"], soums["mortality_pct"])[0, 1] > 0.7


def test_panel_two_rounds_same_households():
    s = simulate(1000, seed=12, panel=True)
    assert set(s.rounds) == {1, 2}
    r1, r2 = s.rounds[1], s.rounds[2]
    assert (r1["hhid"].to_numpy() == r2["hhid"].to_numpy()).all()
    assert (r1["soum"].to_numpy() == r2["soum"].to_numpy()).all()
    assert (r2["head_age"] == r1["head_age"] + 1).all()
    assert len(s.households) == 2000 and list(s.households["round"].unique()) == [1, 2]
    assert len(s.truth) == 2000 and set(s.truth["round"]) == {1, 2}
    assert len(s.soums) == 48 and set(s.soums["round"]) == {1, 2}
    sev = s.soums.groupby("round")["severity"].mean()
    assert sev[2] > sev[1] + 0.2  # round 2 follows the dzud winter
    assert r2["loss_share"].mean() > 2 * r1["loss_share"].mean()
    t1 = s.truth[s.truth["round"] == 1]["resilience"].to_numpy()
    t2 = s.truth[s.truth["round"] == 2]["resilience"].to_numpy()
    assert 0.6 < np.corrcoef(t1, t2)[0, 1] < 0.99


def test_write_creates_the_three_tables(tmp_path):
    s = simulate(200, seed=1)
    paths = s.write(tmp_path / "out")
    assert set(paths) == {"households", "soums", "truth"}
    back = pd.read_csv(paths["households"])
    assert back.shape == s.households.shape
    np.testing.assert_allclose(back["herd_su"], s.households["herd_su"])
    assert list(back["soum"]) == list(s.households["soum"].astype(str))
    truth = pd.read_csv(paths["truth"])
    np.testing.assert_allclose(truth["resilience"], s.truth["resilience"], rtol=1e-12)
    pq = s.write(tmp_path / "pq", fmt="parquet")
    assert pd.read_parquet(pq["soums"]).shape == s.soums.shape


def test_small_and_invalid_sizes():
    assert len(simulate(1, seed=0).households) == 1
    with pytest.raises(ValueError, match="n_households"):
        simulate(0)


def test_no_dzud_means_low_losses():
    calm = simulate(3000, seed=4, dzud_severity=0.0)
    assert (calm.soums["dzud_class"] != "dzud").all()
    assert calm.households["loss_share"].mean() < 0.08


def test_female_headed_households_less_resilient(big):
    female = (big.households["head_sex"] == "female").to_numpy()
    assert 0.13 < female.mean() < 0.19
    t = big.truth
    assert t["AST"][female].mean() < t["AST"][~female].mean() - 0.25
    assert t["resilience"][female].mean() < t["resilience"][~female].mean()
