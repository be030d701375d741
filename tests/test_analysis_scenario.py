"""Scenarios and sensitivity.

Ground truth: a simulated population of 20,000 herder households; surveys are stratified
10 % samples of it (by soum, weights = soum population / sample size). The model is fitted
on one survey and then held fixed (a saved model), so a scenario's true effect is the
population's weighted mean change of RCI_100 under that model — computed on every
household of the simulated population; for random enrolment of a share s of the
non-enrolled, the expectation s x (effect of enrolling all of them). The survey estimates'
bootstrap CIs must cover these truths.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from rima.analysis.scenario import (
    Scenario,
    apply_changes,
    effects_by_soum_figure,
    load_scenarios,
    make_change,
    overall_html,
    parse_change,
    scenario,
    sensitivity,
)
from rima.errors import RimaInputError
from rima.profiles import weighted_mean_se
from rima.simulation import simulate

HAY = Scenario("hay", (parse_change("scale hay_reserve_t factor=1.2"),))
SI30 = Scenario("si30", (parse_change("enrol social_insurance share=0.3"),))
SI_ALL = Scenario("si_all", (parse_change("enrol social_insurance share=1"),))


def _survey(pop, frac, rng):
    idx = []
    for _, g in pop.groupby("soum", observed=True):
        idx += list(rng.choice(g.index.to_numpy(), size=round(frac * len(g)), replace=False))
    smp = pop.loc[sorted(idx)].copy()
    n_s = smp.groupby("soum", observed=True)["hhid"].transform("size")
    big_n = pop.groupby("soum", observed=True)["hhid"].transform("size").loc[smp.index]
    smp["hh_weight"] = smp["hh_weight"] * big_n / n_s
    return smp.reset_index(drop=True)


@pytest.fixture(scope="module")
def world(example_spec):
    import rima

    pop = simulate(20000, seed=11, missing=False).households
    rng = np.random.default_rng(0)
    first = _survey(pop, 0.1, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rima.fit(first, example_spec)
    truth_run = scenario(result.model, [HAY, SI_ALL], pop, n_boot=0)
    t = truth_run.overall.set_index("scenario")["mean_change"]
    truth = {"hay": float(t["hay"]), "si30": 0.3 * float(t["si_all"])}
    return {"pop": pop, "rng": rng, "result": result, "first": first, "truth": truth}


def test_estimates_cover_the_population_truth(world):
    res = scenario(world["result"], [HAY, SI30], n_boot=1000, seed=3)
    ov = res.overall.set_index("scenario")
    for name, value in world["truth"].items():
        assert value > 0
        assert ov.loc[name, "ci_lower"] <= value <= ov.loc[name, "ci_upper"], (name, value)


def test_interval_coverage_over_repeated_surveys(world):
    model, pop, rng = world["result"].model, world["pop"], world["rng"]
    hits = {k: 0 for k in world["truth"]}
    reps = 25
    for i in range(reps):
        smp = _survey(pop, 0.1, rng)
        ov = scenario(model, [HAY, SI30], smp, n_boot=300, seed=i).overall.set_index("scenario")
        for k, v in world["truth"].items():
            hits[k] += ov.loc[k, "ci_lower"] <= v <= ov.loc[k, "ci_upper"]
    for k, h in hits.items():
        assert h / reps >= 0.8, (k, h)


def test_expected_effect_is_gamma_times_pillar_change_and_groups_add_up(world):
    result = world["result"]
    model = result.model
    res = scenario(result, [HAY], n_boot=200, seed=1)
    hh = res.households
    base = model.score(result.data)
    changed, _ = apply_changes(result.data, HAY.changes, model_variables=model.variables)
    new = model.score(changed)
    gamma = np.array([r["est"] for r in model.mimic["params"] if r["op"] == "~"])
    span = model.scale_range_[1] - model.scale_range_[0]
    d = 100 * (new[model.pillar_names].to_numpy() - base[model.pillar_names].to_numpy()) @ gamma / span
    ok = base["status"] == "ok"
    np.testing.assert_allclose(hh.loc[ok.to_numpy(), "change"], d[ok.to_numpy()], rtol=1e-12)
    # by soum: the weighted mean of the households of that soum
    w = result.data["hh_weight"].to_numpy()
    for row in res.by_soum.itertuples():
        m = ok.to_numpy() & (result.data["soum"].astype(str) == row.soum).to_numpy()
        assert row.mean_change == pytest.approx(weighted_mean_se(d[m], w[m])[0], rel=1e-10)
        assert row.ci_lower <= row.mean_change <= row.ci_upper
    assert set(res.by_profile) == {"head_sex"}
    # only AST moves, and the hay effect is positive for every household with hay
    assert (hh.loc[result.data["hay_reserve_t"].to_numpy() > 0, "change"] > 0).all()
    # rescored: the difference of full model scores (food security held fixed)
    rs = scenario(result, [HAY], n_boot=0, effect="rescored")
    np.testing.assert_allclose(rs.households.loc[ok.to_numpy(), "change"],
                               (new["RCI_100"] - base["RCI_100"])[ok], rtol=1e-12)
    assert 0 < rs.overall["mean_change"].iloc[0] < res.overall["mean_change"].iloc[0]
    assert "<table" in overall_html(res)
    fig = effects_by_soum_figure(res, "hay")
    assert len(fig.axes[0].get_yticklabels()) == res.by_soum.shape[0]


def test_low_class_moves_and_determinism(world):
    result = world["result"]
    big = Scenario("big", (parse_change("enrol social_insurance share=1"),
                           parse_change("scale hay_reserve_t factor=3")))
    a = scenario(result, [big, SI30], n_boot=100, seed=5)
    b = scenario(result, [big, SI30], n_boot=100, seed=5)
    pd.testing.assert_frame_equal(a.overall, b.overall)
    pd.testing.assert_frame_equal(a.households, b.households)
    c = scenario(result, [SI30], n_boot=100, seed=6)
    sel_a = a.households[(a.households["scenario"] == "si30")]["change"].to_numpy() > 0
    sel_c = c.households["change"].to_numpy() > 0
    assert sel_a.sum() == sel_c.sum() and (sel_a != sel_c).any()
    hh = a.households[a.households["scenario"] == "big"]
    leaving = (hh["class_before"] == "low") & (hh["class_after"] != "low")
    row = a.overall.set_index("scenario").loc["big"]
    assert row["leaving_low"] == int(leaving.sum()) > 0
    w = result.data["hh_weight"].to_numpy()
    assert row["leaving_low_weighted"] == pytest.approx(w[leaving.to_numpy()].sum())
    assert a.by_soum[a.by_soum["scenario"] == "big"]["leaving_low"].sum() == row["leaving_low"]


def test_enrolment_counts_by_soum(world):
    data = world["first"]
    ch = make_change({"action": "enrol", "variable": "social_insurance", "points": 5,
                      "soums": ["Ider", "Tes"]})
    new, log = apply_changes(data, [ch], seed=1)
    for soum in ("Ider", "Tes"):
        m = data["soum"].astype(str) == soum
        added = int(new.loc[m, "social_insurance"].sum() - data.loc[m, "social_insurance"].sum())
        assert added == round(0.05 * m.sum())
    other = ~data["soum"].astype(str).isin(["Ider", "Tes"])
    assert (new.loc[other, "social_insurance"] == data.loc[other, "social_insurance"]).all()
    assert log[0]["households_changed"] == round(0.05 * (data["soum"] == "Ider").sum()) + round(
        0.05 * (data["soum"] == "Tes").sum())
    cm = parse_change('set child_money value=1 where="n_children > 0"')
    new, log = apply_changes(data, [cm])
    assert (new.loc[data["n_children"] > 0, "child_money"] == 1).all()
    assert (new.loc[data["n_children"] == 0, "child_money"] == data.loc[data["n_children"] == 0,
                                                                         "child_money"]).all()


def test_sensitivity_chain_matches_a_one_sd_scenario(world):
    result = world["result"]
    model = result.model
    tab = sensitivity(result)
    assert len(tab) == len(model.variables)
    assert tab["rank"].tolist() == list(range(1, len(tab) + 1))
    for var in ("hay_reserve_t", "head_edu_years", "dist_soum_km"):
        row = tab.set_index("variable").loc[var]
        sc = Scenario(var, (make_change({"action": "add", "variable": var, "amount": row["sd"]}),))
        eff = scenario(result, [sc], n_boot=0).overall["mean_change"].iloc[0]
        assert eff == pytest.approx(row["effect_RCI_100"], rel=1e-9)
        assert row["effect_RCI"] == pytest.approx(row["pillar_weight"] * row["gamma"], rel=1e-12)


def test_scenario_toml(tmp_path, world):
    path = tmp_path / "s.toml"
    path.write_text(
        '[[scenario]]\nname = "si +5 in Ider"\n'
        'changes = [{action = "enrol", variable = "social_insurance", points = 5, soums = ["Ider"]}]\n'
        '[[scenario]]\nname = "hay"\nchanges = [{action = "scale", variable = "hay_reserve_t", '
        'factor = 1.2}]\n')
    scs = load_scenarios(path)
    assert [s.name for s in scs] == ["si +5 in Ider", "hay"]
    res = scenario(world["result"], path, n_boot=50)
    assert res.overall["scenario"].tolist() == ["si +5 in Ider", "hay"]
    assert res.overall.loc[0, "households_changed"] > 0


@pytest.mark.parametrize("text, message", [
    ("enrol social_insurnce share=0.05", r"unknown variable 'social_insurnce'.*'social_insurance'"),
    ("set child_money value=1", r"'child_money' is not used by the model"),
    ("enrol social_insurance share=1.5", r"impossible share 1.5"),
    ("enrol social_insurance share=-0.1", r"impossible share -0.1"),
    ("enrol social_insurance points=95", r"impossible share: raising social_insurance by 95 points in soum"),
    ("enrol social_insurance points=5 soums=Ulaanbaatar", r"soum\(s\) \['Ulaanbaatar'\] not in the data"),
    ("enrol herd_su share=0.1", r"enrol needs a 0/1 variable; 'herd_su'"),
    ("scale hay_reserve_t factor=-1", r"factor for hay_reserve_t must be >= 0"),
    ("scale hay_reserve_t", r"needs exactly one of"),
    ("grow hay_reserve_t factor=2", r"action must be one of"),
    ('add head_edu_years amount=1 where="no_such_col > 1"', r"cannot be evaluated"),
    ("scale hay_reserve_t share=0.2", r"scale takes factor"),
])
def test_bad_scenarios_name_the_culprit(world, text, message):
    with pytest.raises(RimaInputError, match=message):
        scenario(world["result"], [Scenario("bad", (parse_change(text),))], n_boot=0)


def test_bad_scenario_files(tmp_path, world):
    p = tmp_path / "bad.toml"
    p.write_text("[[scenario]]\nname = 'x'\n")
    with pytest.raises(RimaInputError, match="scenario 'x' has no changes"):
        load_scenarios(p)
    p.write_text("[[scenario]]\nname = 'x'\nchanges = [{action='set', variable='a', value=1, colour='red'}]\n")
    with pytest.raises(RimaInputError, match=r"unknown key\(s\) \['colour'\]"):
        load_scenarios(p)
    p.write_text("scenario = [")
    with pytest.raises(RimaInputError, match="not valid TOML"):
        load_scenarios(p)
    with pytest.raises(RimaInputError, match="not found"):
        load_scenarios(tmp_path / "missing.toml")


def test_child_money_top_up_with_a_spec_that_uses_it(world, example_spec):
    import rima

    spec = example_spec.to_dict()
    spec["pillars"]["SSN"] = [*spec["pillars"]["SSN"], "child_money"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rima.fit(world["first"], spec)
    top_up = Scenario("child money", (parse_change('set child_money value=1 where="n_children > 0"'),))
    res = scenario(result, [top_up], n_boot=200, seed=2)
    data = result.data
    eligible = ((data["n_children"] > 0) & (data["child_money"] == 0)).to_numpy()
    ok = (result.scores["status"] == "ok").to_numpy()
    hh = res.households
    assert res.overall.loc[0, "households_changed"] == int((eligible & ok).sum()) > 0
    assert (hh.loc[~eligible, "change"].fillna(0) == 0).all()
    # every top-up moves the RCI by the same amount: the chain weight x gamma x 1 unit
    row = sensitivity(result).set_index("variable").loc["child_money"]
    np.testing.assert_allclose(hh.loc[eligible & ok, "change"], row["effect_RCI_100_per_unit"],
                               rtol=1e-9)


def test_refit_intervals_include_model_uncertainty(world):
    res = scenario(world["result"], [HAY], n_boot=500, n_refit=8, seed=4)
    row = res.overall.iloc[0]
    assert row["ci_lower_refit"] < row["ci_upper_refit"]
    # re-estimating the model adds variance: the interval is wider than the fixed-model one
    assert (row["ci_upper_refit"] - row["ci_lower_refit"]) > (row["ci_upper"] - row["ci_lower"])
    again = scenario(world["result"], [HAY], n_boot=500, n_refit=8, seed=4)
    assert again.overall.iloc[0]["ci_lower_refit"] == row["ci_lower_refit"]
    with pytest.raises(RimaInputError, match="n_refit needs a fitted result"):
        scenario(world["result"].model, [HAY], world["first"], n_refit=3)
