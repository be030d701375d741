"""rima impact: DiD, wild cluster bootstrap, doubly robust DiD, heterogeneity, reach.

Reference values: tests/reference/impact_reference.R (lm + sandwich::vcovCL and the doubly
robust DiD from its published formulas) and impact_wild_reference.py (`wildboottest`, a port
of Stata's boottest), both on tests/reference/impact_data.csv.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import rima
from rima.analysis.did import dr_did
from rima.analysis.impact import impact
from rima.cli import cli, main
from rima.errors import (
    ConstantTreatmentError,
    DataError,
    NoPrePeriodError,
    OutcomeMissingRoundError,
    TooFewClustersError,
)

REF = Path(__file__).parent / "reference"
DATA = pd.read_csv(REF / "impact_data.csv")
R_REF = json.loads((REF / "impact_reference.json").read_text())
COVS = ["soum_dzud_forecast", "n_children"]


def test_did_event_study_and_dr_match_r():
    r = impact(None, DATA, outcomes="fcs", treatment="d", weight="hh_weight", covariates=COVS,
               n_boot=0)
    e = r.estimates.set_index("estimator")
    assert e.loc["did", "est"] == pytest.approx(R_REF["did"]["est"], rel=1e-9)
    assert e.loc["did", "se"] == pytest.approx(R_REF["did"]["se"], rel=1e-9)
    assert e.loc["dr_did", "est"] == pytest.approx(R_REF["dr_did"]["est"], rel=1e-8)
    assert e.loc["dr_did", "se"] == pytest.approx(R_REF["dr_did"]["se"], rel=1e-7)
    es = r.event_study.set_index("round")
    for rnd, est, se in zip(R_REF["event_study"]["rounds"], R_REF["event_study"]["est"],
                            R_REF["event_study"]["se"]):
        assert es.loc[rnd, "est"] == pytest.approx(est, rel=1e-9)
        assert es.loc[rnd, "se"] == pytest.approx(se, rel=1e-9)
    assert es.loc[2, "est"] == 0    # the reference round
    assert r.pretrend["F"].iloc[0] == pytest.approx(R_REF["event_study"]["pretrend_F"], rel=1e-8)
    assert r.design["clusters"] == R_REF["clusters"] == 24
    assert r.design["treated_clusters"] == 5
    assert r.accounting["rows"].sum() == len(DATA)


def test_dr_influence_function_is_the_estimators_derivative():
    # psi_j / n must be the derivative of the estimate in household j's weight
    b = DATA[DATA["round"] == 2].sort_values("hhid").reset_index(drop=True)
    p = DATA[DATA["round"] == 3].sort_values("hhid").reset_index(drop=True)
    dy = (p["fcs"] - b["fcs"]).to_numpy(float)
    d = b["g"].to_numpy(float)
    X = np.column_stack([np.ones(len(b)), b[COVS].to_numpy(float)])
    w = b["hh_weight"].to_numpy(float)
    cl = pd.factorize(b["soum"], sort=True)[0]
    fit = dr_did(dy, d, X, w, cl, 24)
    n = len(dy)
    h = 1e-6
    for j in [0, 5, int(np.flatnonzero(d == 1)[0]), int(np.flatnonzero(d == 1)[3]), 250]:
        wp, wm = w.copy(), w.copy()
        wp[j] *= 1 + h
        wm[j] *= 1 - h
        deriv = (dr_did(dy, d, X, wp, cl, 24).est - dr_did(dy, d, X, wm, cl, 24).est) / (2 * h)
        assert deriv == pytest.approx(fit.extra["psi"][j] / n, rel=1e-4, abs=1e-9)


def wild_ref():
    return json.loads((REF / "impact_wild_reference.json").read_text())


def _mc_tol(p, b1, b2):
    return 4.5 * np.sqrt(max(p * (1 - p), 0.002) * (1 / b1 + 1 / b2)) + 1e-4


@pytest.mark.parametrize("kind", ["webb", "rademacher"])
def test_wild_bootstrap_p_values_match_boottest_port(kind):
    B = 19999
    WILD_REF = wild_ref()
    r = impact(None, DATA, outcomes=["hdds", "fcs", "rcsi"], treatment="d", weight=None,
               n_boot=B, bootstrap_weights=kind, seed=5)
    did = r.estimates[r.estimates["estimator"] == "did"].set_index("outcome")
    for outcome, ref in WILD_REF["p0"].items():
        p = did.loc[outcome, "p_wild"]
        assert abs(p - ref[kind]) <= _mc_tol(ref[kind], B, WILD_REF["B"]), (outcome, p, ref)


def test_wild_bootstrap_interval_inverts_the_reference_test():
    r = impact(None, DATA, outcomes="fcs", treatment="d", weight=None, n_boot=19999,
               bootstrap_weights="webb", seed=5)
    did = r.estimates[r.estimates["estimator"] == "did"].iloc[0]
    WILD_REF = wild_ref()
    b0 = np.array(WILD_REF["grid"]["b0"])
    pv = np.array(WILD_REF["grid"]["fcs_webb"])
    inside = b0[pv > 0.05]
    # the reference p-values cross 0.05 between grid points: the interval's ends must lie
    # within one grid step of the crossings
    step = b0[1] - b0[0]
    assert inside.min() - step - 0.05 <= did["ci_wild_lower"] <= inside.min() + 0.05
    assert inside.max() - 0.05 <= did["ci_wild_upper"] <= inside.max() + step + 0.05
    assert did["ci_wild_lower"] < did["est"] < did["ci_wild_upper"]


def test_wild_bootstrap_is_deterministic_given_the_seed():
    kw = {"outcomes": "fcs", "treatment": "d", "weight": "hh_weight", "n_boot": 999}
    a = impact(None, DATA, seed=1, **kw).estimates
    b = impact(None, DATA, seed=1, **kw).estimates
    c = impact(None, DATA, seed=2, **kw).estimates
    pd.testing.assert_frame_equal(a, b)
    assert not a["ci_wild_lower"].equals(c["ci_wild_lower"])


def test_simulation_study_dr_covers_naive_biased():
    """200 seeded pilot simulations: the DR interval covers the recipients' true average
    effect in 90-99 % of them; the naive post comparison is biased, the DR estimate not."""
    cover, err_dr, err_naive = [], [], []
    for rep in range(200):
        s = rima.simulate(700, seed=5000 + rep, panel=True, pilot=True, missing=False)
        truth = s.effects.query("outcome == 'fcs' and group == 'recipients'")["effect"].iloc[0]
        two = s.households[s.households["round"] >= 2]     # baseline and dzud rounds
        e = impact(None, two, outcomes="fcs", treatment="topup", weight="hh_weight",
                   covariates=COVS, n_boot=0).estimates.set_index("estimator")
        cover.append(e.loc["dr_did", "ci_lower"] <= truth <= e.loc["dr_did", "ci_upper"])
        err_dr.append(e.loc["dr_did", "est"] - truth)
        err_naive.append(e.loc["naive", "est"] - truth)
    rate = np.mean(cover)
    assert 0.90 <= rate <= 0.99, rate
    mc = lambda x: np.std(x) / np.sqrt(len(x))
    assert abs(np.mean(err_dr)) < 3 * mc(err_dr)
    assert np.mean(err_naive) < -1.0 and abs(np.mean(err_naive)) > 4 * mc(err_naive)


# --------------------------------------------------------------------------- with a model
@pytest.fixture(scope="module")
def pilot(tmp_path_factory, example_dir):
    d = tmp_path_factory.mktemp("impact")
    s = rima.simulate(1500, seed=21, panel=True, pilot=True)
    paths = s.write(d)
    base = s.households[s.households["round"] == 2].reset_index(drop=True)
    base.to_csv(d / "base.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = rima.fit(base, example_dir / "spec.toml")
        res = impact(fit, s.households, outcomes=["fcs", "rcsi", "RCI_100"], treatment="topup",
                     covariates=COVS, soums=s.soums, benefit=150_000, n_boot=999)
    return {"dir": d, "survey": s, "fit": fit, "res": res, "paths": paths}


def test_heterogeneity_recovers_the_sign_of_the_class_difference(pilot):
    het = pilot["res"].heterogeneity
    diff = het[(het["by"] == "class_base") & (het["group"] == "low - high")
               & (het["estimator"] == "dr_did")].set_index("outcome")
    # the simulated top-up helps low-resilience households more: FCS up more, rCSI down more
    assert diff.loc["fcs", "est"] > 0
    assert diff.loc["rcsi", "est"] < 0
    truth = pilot["survey"].effects.set_index(["outcome", "group"])["effect"]
    assert truth[("fcs", "recipients, low latent resilience third")] > \
        truth[("fcs", "recipients, high latent resilience third")]


def test_sentence_and_headline(pilot):
    res = pilot["res"]
    s = res.sentence()
    h = res.headline.set_index("outcome").loc["fcs"]
    assert h["estimator"] == "dr_did"
    assert s.startswith("The top-up raised the food consumption score of recipient households "
                        f"by {h['est']:.1f} points [95 % CI {h['ci_lower']:.1f} to "
                        f"{h['ci_upper']:.1f}] over the winter; for low-resilience households by")
    assert "24 soums, 5 with recipients" in s


def test_responsiveness_by_hand(pilot):
    res = pilot["res"]
    hh = res.households
    dz = hh[(hh["dzud_class"] == "dzud") & hh["class_base"].notna()]
    w = dz["weight"].to_numpy()
    low = (dz["class_base"] == "low").to_numpy()
    got = (dz["treated"] == 1).to_numpy()
    t = res.responsiveness.set_index("rule")
    a = t.loc["actual transfer"]
    assert a["share_low_reached"] == pytest.approx(w[low & got].sum() / w[low].sum())
    assert a["inclusion_error"] == pytest.approx(w[got & ~low].sum() / w[got].sum())
    assert a["exclusion_error"] == pytest.approx(1 - a["share_low_reached"])
    assert a["cost_per_low_reached"] == pytest.approx(150_000 * w[got].sum() / w[low & got].sum())
    rule = t.loc["RCI rule: every low-resilience household"]
    assert rule["inclusion_error"] == 0 and rule["cost_per_low_reached"] == pytest.approx(150_000)
    eq = t.loc["RCI rule, actual budget: lowest RCI_100 first"]
    assert eq["recipients"] <= a["recipients"] + 1e-9
    # the households' baseline classes are the classes of the baseline model's RCI_100
    sc = pilot["fit"].model.score(pilot["survey"].households.query("round == 2"))
    assert (hh.set_index("hhid")["RCI_100_base"].dropna()
            == sc.set_index("hhid")["RCI_100"].dropna()).all()


def test_every_row_accounted_for(pilot):
    res = pilot["res"]
    n = len(pilot["survey"].households)
    assert len(res.row_status) == n and res.accounting["rows"].sum() == n
    assert any(s.startswith("not scored: missing value") for s in res.accounting["status"])


# --------------------------------------------------------------------------- refusals
def _frame():
    return DATA.copy()


def test_refusal_no_pre_period():
    with pytest.raises(NoPrePeriodError) as exc:
        impact(None, _frame(), outcomes="fcs", pilot_soums=["Ikh-Uul", "Tes"], treated_from=1,
               weight="hh_weight", n_boot=0)
    assert exc.value.rows == len(DATA) and "no survey round before" in str(exc.value)


def test_refusal_constant_treatment():
    df = _frame()
    df["none"] = 0
    with pytest.raises(ConstantTreatmentError) as exc:
        impact(None, df, outcomes="fcs", treatment="none", n_boot=0)
    assert exc.value.rows == len(DATA)


def test_refusal_too_few_clusters():
    with pytest.raises(TooFewClustersError) as exc:
        impact(None, _frame(), outcomes="fcs", pilot_soums=["Tes"], n_boot=0)
    assert "1 soum(s) with treated households" in str(exc.value)
    assert exc.value.rows == len(DATA)


def test_refusal_outcome_missing_in_a_round():
    df = _frame()
    df.loc[df["round"] == 1, "fcs"] = np.nan
    with pytest.raises(OutcomeMissingRoundError) as exc:
        impact(None, df, outcomes="fcs", treatment="d", n_boot=0)
    assert exc.value.rows == 400 and "round 1" in str(exc.value)


def test_missing_outcome_rows_are_reported_not_dropped():
    df = _frame()
    df.loc[[5, 17], "fcs"] = np.nan
    r = impact(None, df, outcomes="fcs", treatment="d", n_boot=0)
    st = r.row_status
    assert st[5] == "missing fcs" and st[17] == "missing fcs"
    assert r.accounting["rows"].sum() == len(df)


# --------------------------------------------------------------------------- CLI, report
def test_cli_no_model_and_exit_codes(tmp_path, capsys):
    r = CliRunner().invoke(cli, ["impact", str(REF / "impact_data.csv"), "--no-model",
                                 "--treatment", "d", "--weight", "hh_weight", "--covariates",
                                 ",".join(COVS), "--n-boot", "199", "--out", str(tmp_path)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "24 clusters: 5 with treated households, 24 with controls" in r.output
    est = pd.read_csv(tmp_path / "impact_estimates.csv")
    assert est.loc[est["estimator"] == "did", "est"].iloc[0] == pytest.approx(R_REF["did"]["est"])
    with pytest.raises(SystemExit) as exc:
        main(["impact", str(REF / "impact_data.csv"), "--no-model", "--pilot-soums", "Tes",
              "--n-boot", "0"])
    assert exc.value.code == 3
    assert "TooFew" not in capsys.readouterr().err


def test_cli_report_section(pilot):
    d = pilot["dir"]
    out = d / "fit"
    pilot["fit"].save(out)
    r = CliRunner().invoke(cli, ["impact", str(pilot["paths"]["households"]), "--report",
                                 str(out), "--soums", str(pilot["paths"]["soums"]),
                                 "--treatment", "topup", "--covariates", ",".join(COVS),
                                 "--benefit", "150000", "--n-boot", "199"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    page = (out / "report.html").read_text()
    body = page[page.index("id='sec-impact'"):]
    assert "The top-up raised the food consumption score" in body
    assert "impact_event_study" in body and "Responsiveness in dzud soums" in body


def test_simulator_pilot_truth():
    s = rima.simulate(500, seed=3, panel=True, pilot=True)
    assert sorted(s.rounds) == [1, 2, 3]
    hh = s.households
    assert hh.loc[hh["round"] < 3, "topup"].sum() == 0
    t3 = s.truth[s.truth["round"] == 3]
    got = t3["topup"].to_numpy() == 1
    r3 = hh[hh["round"] == 3]
    # recipients: Child Money households of exactly 5 pilot soums
    assert (r3.loc[got, "child_money"] == 1).all()
    pilot_soums = set(s.soums.loc[(s.soums["round"] == 3) & (s.soums["pilot"] == 1), "soum"])
    assert len(pilot_soums) == 5 and set(r3.loc[got, "soum"].astype(str)) <= pilot_soums
    w = r3["hh_weight"].to_numpy()
    eff = s.effects.set_index(["outcome", "group"])["effect"]
    assert eff[("fcs", "recipients")] == pytest.approx(
        np.sum(w[got] * t3["effect_fcs"].to_numpy()[got]) / w[got].sum())
    assert eff[("rcsi", "recipients")] < 0 < eff[("fcs", "recipients")]
    assert (t3.loc[~got, ["effect_fcs", "effect_rcsi"]] == 0).all().all()
    with pytest.raises(ValueError):
        rima.simulate(100, pilot=True)


def test_wild_kernel_equals_rerunning_the_regression():
    """Bootstrap t statistics of the kernel = refitting the full dummy regression on y*."""
    from rima._kernels.wild import draw_weights
    from rima.analysis.did import WildTest, twfe

    df = DATA[DATA["soum"].isin(sorted(DATA["soum"].unique())[:12]) | (DATA["g"] == 1)]
    df = df.reset_index(drop=True)
    y = df["fcs"].to_numpy(float)
    w = df["hh_weight"].to_numpy(float)
    hh = pd.factorize(df["hhid"])[0]
    cl, names = pd.factorize(df["soum"], sort=True)
    G = len(names)
    X = df[["d"]].to_numpy(float)
    Z = np.column_stack([(df["round"] == r).to_numpy(float) for r in (2, 3)])
    _, _, _, parts = twfe(y, X, Z, hh, w, cl, G)
    test = WildTest(parts, 0, w, cl, G)
    v = draw_weights("webb", 4, G, 9)
    b0 = 2.0
    # the regression by brute force: household dummies, round dummies, d; WLS by sqrt(w)
    H = np.eye(hh.max() + 1)[hh]
    full = np.column_stack([X, Z, H])
    restr = np.column_stack([Z, H])
    sw = np.sqrt(w)

    def wls(M, t):
        coef = np.linalg.lstsq(M * sw[:, None], t * sw, rcond=None)[0]
        return coef, t - M @ coef

    _, u_r = wls(restr, y - b0 * X[:, 0])
    fitted_r = y - u_r
    N, K = len(y), 1 + Z.shape[1] + 1
    c = G / (G - 1) * (N - 1) / (N - K)
    bread = np.linalg.pinv((full * w[:, None]).T @ full)
    for b in range(v.shape[0]):
        ystar = fitted_r + u_r * v[b, cl]
        coef, u = wls(full, ystar)
        scores = np.column_stack([np.bincount(cl, full[:, k] * w * u, G)
                                  for k in range(full.shape[1])])
        V = c * bread @ scores.T @ scores @ bread
        t = (coef[0] - b0) / np.sqrt(V[0, 0])
        assert test.tstar(b0, v[b:b + 1])[0] == pytest.approx(t, rel=1e-7)
    assert test.beta == pytest.approx(wls(full, y)[0][0], rel=1e-10)


def test_constant_covariate_is_named():
    df = _frame()
    df["const_cov"] = 1.0
    with pytest.raises(DataError, match="covariate 'const_cov' does not vary"):
        impact(None, df, outcomes="fcs", treatment="d", covariates=["const_cov"], n_boot=0)


def test_sentence_for_a_fall_uses_sizes(pilot):
    res = pilot["res"]
    h = res.headline.set_index("outcome").loc["rcsi"]
    assert h["est"] < 0
    s = res.sentence("rcsi")
    lo, hi = sorted((-h["ci_lower"], -h["ci_upper"]))
    assert s.startswith("The top-up lowered the reduced coping strategies index of recipient "
                        f"households by {-h['est']:.1f} points [95 % CI {lo:.1f} to {hi:.1f}]")


def test_two_post_rounds_change_is_the_mean_after_minus_baseline():
    # time-invariant group column, transfer before round 2: post rounds 2 and 3, baseline 1;
    # without covariates the doubly robust DiD is the weighted DiD of the households' changes
    r = impact(None, DATA, outcomes="fcs", treatment="g", treated_from=2, weight="hh_weight",
               n_boot=0)
    assert r.design["post_rounds"] == [2, 3] and r.design["baseline"] == 1
    wide = DATA.pivot(index="hhid", columns="round", values="fcs")
    first = DATA[DATA["round"] == 1].set_index("hhid")
    dy = (wide[2] + wide[3]) / 2 - wide[1]
    w, g = first["hh_weight"], first["g"]
    want = (np.sum(w[g == 1] * dy[g == 1]) / w[g == 1].sum()
            - np.sum(w[g == 0] * dy[g == 0]) / w[g == 0].sum())
    e = r.estimates.set_index("estimator")
    assert e.loc["dr_did", "est"] == pytest.approx(want, rel=1e-10)
    assert e.loc["did", "headline"] and r.event_study.empty
