"""rima.bootstrap: each replicate is the whole pipeline on the resampled households.

Correctness is checked against independent computations: the all-ones replicate against
the R reference procedure's numbers (tests/reference/pipeline_reference.json), and a drawn
replicate against `rima.fit` (FactorModel + rima.mimic.fit, both proven against R) run on
the physically resampled rows; nothing is compared with the bootstrap's own output.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import fit_quiet, reference_spec

import rima
from rima.errors import SpecError
from rima.resampling import _problem, bootstrap, replicate_counts, run_counts

ROOT = Path(__file__).parents[1]
REF = json.loads((ROOT / "tests" / "reference" / "pipeline_reference.json").read_text())
DATA = ROOT / "examples" / "zavkhan" / "households.csv"
SPEC = ROOT / "examples" / "zavkhan" / "spec.toml"


@pytest.fixture(scope="module")
def example():
    df = pd.read_csv(DATA)
    return df, fit_quiet(df, reference_spec())


@pytest.fixture(scope="module")
def boot(example):
    return bootstrap(example[1], n_boot=200, seed=3, progress=False)


def _free_params(res, rows):
    tab = res.mimic.params.set_index(["lhs", "op", "rhs"])
    return np.array([tab.loc[r, "est"] for r in rows], dtype=float)


def test_all_ones_replicate_matches_r_reference(example):
    """Counts all 1 = the full sample: RSM shares and MIMIC estimates equal R's, with the
    MIMIC started away from the optimum (from the OLS reduced-form start) so the
    replicate's own Fisher scoring has to find it."""
    from rima.mimic.estimate import make_layout, prepare, starting_values

    df, res = example
    prob = _problem(res)
    ref = REF["zavkhan"]
    ok = res.scores["status"] == "ok"
    mdf = res.scores.loc[ok, list(res.spec.pillar_names)].copy()
    for c in res.spec.indicators:
        y = df.loc[ok.to_numpy(), c].to_numpy(dtype=float)
        mdf[c] = (y - y.mean()) / y.std(ddof=1)
    mm = res.mimic.model
    start = starting_values(mm, make_layout(mm), prepare(mm, mdf, "listwise", None, None,
                                                         None, None))
    assert np.max(np.abs(start - prob.theta0)) > 1e-2  # a real distance to travel
    raw = run_counts(res, np.ones((1, int(ok.sum())), np.int64), theta0=start)
    assert raw["status"][0] == 0
    r_rsm = np.array([ref["RSM"][p] for p in res.spec.pillar_names])
    np.testing.assert_allclose(raw["shares"][0], r_rsm, atol=1e-6, rtol=0)
    r_est = {(p["lhs"], p["op"], p["rhs"]): p["est"] for p in ref["params"]}
    np.testing.assert_allclose(raw["theta"][0], [r_est[r] for r in prob.param_rows],
                               atol=2e-6, rtol=0)
    np.testing.assert_allclose(raw["overall"][0], np.mean(ref["RCI_100"]), atol=1e-6)
    np.testing.assert_allclose(raw["agreement"][0], 1.0, atol=1e-12)


OPTION_VARIANTS = {
    "reference": {},
    "weighted_oriented": {"weights": True, "negative": ["dist_soum_km", "dist_vet_km"],
                          "anchor": {"ABS": "mobile_coverage"}, "rsm": "std_coefficient",
                          "rci_prediction": "bartlett", "rci_100": [-3.0, 3.0]},
    "regression_varimax": {"factor": {"retention": 2, "scores": "regression",
                                         "rotation": "varimax"},
                              "rci_prediction": "causes"},
    # options the replicates run since they share the fit's kernels
    "pca_varimax": {"factor": {"extraction": "pca", "scores": "regression",
                               "rotation": "varimax", "retention": 2}},
    "smc_bound": {"factor": {"retention": 1, "smc": True, "heywood": "bound"}},
    "pf_all_columns_error": {"missing": "all_columns",
                             "factor": {"extraction": "pf", "heywood": "error",
                                        "retention": 1}},
    "weighted_pca_varimax": {"weights": True, "orientation": "reference",
                             "factor": {"extraction": "pca", "scores": "regression",
                                        "retention": "kaiser", "rotation": "varimax"}},
}


@pytest.fixture(scope="module")
def variant_fits():
    df = pd.read_csv(DATA)
    cache = {}

    def get(variant):
        if variant not in cache:
            sd = rima.load_spec(SPEC).to_dict()
            sd["options"] = dict(OPTION_VARIANTS[variant])
            cache[variant] = (sd, fit_quiet(df, sd))
        return df, *cache[variant]
    return get


@pytest.mark.parametrize("variant", list(OPTION_VARIANTS))
def test_all_ones_replicate_is_the_fit(variant_fits, variant):
    """Counts all 1 re-estimate the fit itself: the replicate's RSM shares, MIMIC
    estimates, profile and overall means equal the fit's numbers for every supported
    option set (the point estimates the bootstrap reports beside its intervals)."""
    df, _sd, res = variant_fits(variant)
    ok = res.analysed.to_numpy()
    raw = run_counts(res, np.ones((1, int(ok.sum())), np.int64))
    assert raw["status"][0] == 0
    prob = _problem(res)
    np.testing.assert_allclose(raw["shares"][0], res.rsm["share"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(raw["theta"][0], _free_params(res, prob.param_rows),
                               atol=1e-9, rtol=0)
    w = (df[res.spec.weight].to_numpy(dtype=float)[ok] if res.options.weights else None)
    np.testing.assert_allclose(raw["overall"][0],
                               np.average(res.scores.loc[ok, "RCI_100"], weights=w),
                               atol=1e-9)
    for var, tab in res.profiles.items():
        idx = [i for i, (v, _) in enumerate(prob.categories) if v == var]
        np.testing.assert_allclose(raw["profiles"][0][idx], tab["mean_RCI_100"], atol=1e-9)
    np.testing.assert_allclose(raw["agreement"][0], 1.0, atol=1e-9)


@pytest.mark.parametrize("variant", list(OPTION_VARIANTS))
def test_replicate_equals_fit_on_resampled_rows(variant_fits, variant):
    """Replicate b's counts, materialised as repeated rows and fitted by rima.fit with
    the fitted numbers of factors, give the same RSM, MIMIC estimates, profile means (to
    1e-7: varimax's relative stopping rule amplifies rounding to ~1e-9 in the shares)."""
    df, sd, res = variant_fits(variant)
    ok = res.analysed.to_numpy()  # the estimation sample the replicates resample
    counts = replicate_counts(11, 7, int(ok.sum()))
    raw = run_counts(res, counts[None, :])
    assert raw["status"][0] == 0

    fixed = dict(sd["options"])
    fac = dict(fixed.get("factor", {}))
    for p, pr in res.pillars.items():
        fac[p] = {"retention": int(pr.n_factors)}
    fixed["factor"] = fac
    sd2 = dict(sd, options=fixed)
    rep = df[ok].iloc[np.repeat(np.arange(int(ok.sum())), counts)].reset_index(drop=True)
    rep[res.spec.id] = np.arange(len(rep))
    ref = fit_quiet(rep, sd2)
    assert [pr.n_factors for pr in ref.pillars.values()] == \
        [pr.n_factors for pr in res.pillars.values()]
    np.testing.assert_allclose(raw["shares"][0], ref.rsm["share"], atol=1e-7, rtol=0)
    prob = _problem(res)
    np.testing.assert_allclose(raw["theta"][0], _free_params(ref, prob.param_rows),
                               atol=1e-7, rtol=0)
    for var, tab in ref.profiles.items():
        idx = [i for i, (v, _) in enumerate(prob.categories) if v == var]
        cats = [prob.categories[i][1] for i in idx]
        got = pd.Series(raw["profiles"][0][idx], index=[str(c) for c in cats])
        want = tab.set_index(tab["category"].astype(str))["mean_RCI_100"]
        np.testing.assert_allclose(got.loc[want.index], want, atol=1e-7, rtol=0)


def test_replicate_orients_by_the_fits_rule_not_the_full_samples():
    """A replicate orients each pillar as rima.fit on its rows does. On these 40 households
    ABS's correlation with the food-security composite is negative but not decisive
    (|t| < 1.96), so the fit keeps psych's sign (rule "variables"); the full sample's rule
    for ABS is the composite, which would turn ABS round and flip the sign of its MIMIC
    coefficient (the bootstrap did that before it ran the fit's rule)."""
    df = pd.read_csv(DATA)
    sd = rima.load_spec(SPEC).to_dict()
    res = fit_quiet(df, sd)
    assert res.options.orientation == "capacity"
    assert res.pillars["ABS"].rule == "food security"
    ok = res.analysed.to_numpy()
    n = int(ok.sum())
    counts = np.zeros(n, np.int64)
    counts[np.random.default_rng(0).choice(n, 40, replace=False)] = 1
    raw = run_counts(res, counts[None, :])
    assert raw["status"][0] == 0

    fac = dict(sd["options"].get("factor", {}))
    for p, pr in res.pillars.items():
        fac[p] = {"retention": int(pr.n_factors)}
    sd2 = dict(sd, options=dict(sd["options"], factor=fac))
    rep = df[ok].iloc[np.flatnonzero(counts)].reset_index(drop=True)
    ref = fit_quiet(rep, sd2)
    abs_ = ref.pillars["ABS"]
    assert abs_.rule.startswith("variables") and not abs_.flipped
    r = abs_.food_security_corr
    assert r < 0 and abs(r) * np.sqrt(38 / (1 - r * r)) < 1.96  # negative, not decisive
    prob = _problem(res)
    want = _free_params(ref, prob.param_rows)
    g = prob.param_rows.index(("RCI", "~", "ABS"))
    assert np.sign(raw["theta"][0][g]) == np.sign(want[g])
    np.testing.assert_allclose(raw["theta"][0], want, atol=1e-7, rtol=0)
    np.testing.assert_allclose(raw["shares"][0], ref.rsm["share"], atol=1e-7, rtol=0)


def test_deterministic_across_runs_threads_and_chunks(example):
    res = example[1]
    a = bootstrap(res, n_boot=60, seed=5, progress=False, threads=1)
    b = bootstrap(res, n_boot=60, seed=5, progress=False, threads=2, chunk=7)
    c = bootstrap(res, n_boot=60, seed=5, progress=False, threads=2, chunk=25)
    for key in ("rsm", "mimic", "profiles", "mean_RCI_100"):
        np.testing.assert_array_equal(a.replicates[key].to_numpy(),
                                      b.replicates[key].to_numpy())
        np.testing.assert_array_equal(a.replicates[key].to_numpy(),
                                      c.replicates[key].to_numpy())
    d = bootstrap(res, n_boot=60, seed=6, progress=False)
    assert not np.array_equal(a.replicates["rsm"].to_numpy(), d.replicates["rsm"].to_numpy())


def test_replicate_b_depends_only_on_seed_and_b(example, boot):
    res = example[1]
    n = int((res.scores["status"] == "ok").sum())
    c = replicate_counts(3, 150, n)
    assert c.sum() == n and c.min() >= 0
    assert 0.55 < (c > 0).mean() < 0.72  # about 1 - 1/e of households drawn
    raw = run_counts(res, c[None, :])
    np.testing.assert_array_equal(raw["shares"][0], boot.replicates["rsm"].to_numpy()[150])
    assert not np.array_equal(c, replicate_counts(3, 151, n))
    assert not np.array_equal(c, replicate_counts(4, 150, n))


def test_intervals_contain_estimates(example, boot):
    res = example[1]
    assert boot.n_ok == 200 and not boot.failed
    r = boot.rsm
    assert ((r["ci_lower"] < r["share"]) & (r["share"] < r["ci_upper"])).all()
    np.testing.assert_allclose(r["share"], res.rsm["share"])
    m = boot.mimic
    assert ((m["ci.lower"] < m["est"]) & (m["est"] < m["ci.upper"])).all()
    assert (m["se"] > 0).all()
    for var, tab in boot.profiles.items():
        inside = (tab["ci_lower"] < tab["mean_RCI_100"]) & (tab["mean_RCI_100"] < tab["ci_upper"])
        assert inside.mean() > 0.9, var
        np.testing.assert_allclose(tab["mean_RCI_100"], res.profiles[var]["mean_RCI_100"])
    text = boot.summary()
    assert "Resilience Structure Matrix" in text and "fixed at the fitted values" in text


def test_rima_bootstrap_is_a_function_on_every_call(example):
    """Regression: `rima.bootstrap` once resolved to a submodule of the same name, which
    replaced the function after its first use ("'module' object is not callable")."""
    res = example[1]
    first = rima.bootstrap(res, n_boot=3, seed=2, progress=False)
    res.bootstrap(n_boot=3, seed=2, progress=False)
    second = rima.bootstrap(res, n_boot=3, seed=2, progress=False)
    assert callable(rima.bootstrap)
    np.testing.assert_array_equal(first.replicates["rsm"].to_numpy(),
                                  second.replicates["rsm"].to_numpy())
    # no public name of `rima` may share its name with a submodule
    import pkgutil
    submodules = {m.name for m in pkgutil.iter_modules(rima.__path__)}
    assert not submodules & set(dir(rima)) - {"mimic"}


def test_unsupported_options_and_bad_arguments(example):
    df, res = example
    with pytest.raises(SpecError, match="n_boot"):
        bootstrap(res, n_boot=1)
    with pytest.raises(SpecError, match="spec"):
        bootstrap(df)


def test_fit_cli_bootstrap(tmp_path):
    from click.testing import CliRunner

    from rima.cli import cli

    out = tmp_path / "fit"
    res = CliRunner().invoke(cli, ["fit", str(DATA), "--spec", str(SPEC), "--out", str(out),
                                   "--no-report", "--json", "--quiet", "--bootstrap", "40",
                                   "--seed", "2"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    boot = info["bootstrap"]
    assert boot["n_boot"] == 40 and boot["seed"] == 2 and boot["usable"] == 40
    for p, share in info["rsm"].items():
        lo, hi = boot["rsm"][p]
        assert lo < share < hi
    for name in ("bootstrap_rsm.csv", "bootstrap_mimic.csv", "bootstrap_overall.csv",
                 "bootstrap_profile_soum.csv", "bootstrap_profile_head_sex.csv"):
        assert (out / name).exists(), name
    tab = pd.read_csv(out / "bootstrap_rsm.csv")
    np.testing.assert_allclose(tab["share"], pd.read_csv(out / "rsm.csv")["share"])


def test_report_shows_the_bootstrap_intervals(example, boot, tmp_path):
    import re

    from rima.report import write_report

    result = example[1]
    result.bootstrap_result = boot
    try:
        page = write_report(result, tmp_path).read_text(encoding="utf-8")
    finally:
        result.bootstrap_result = None
    section = page[page.index("id='bootstrap'"):page.index("<h2 id='s-row-accounting'>")]
    assert "200 nonparametric bootstrap replicates" in section
    # every pillar's interval is printed as the bootstrap computed it
    for r in boot.rsm.itertuples():
        row = re.search(rf"<td>{r.pillar}</td>(.*?)</tr>", section).group(1)
        assert f"{r.ci_lower:.2f}" in row and f"{r.ci_upper:.2f}" in row
    assert section.count("<table>") == 3 + len(boot.profiles)


def test_every_fit_option_is_supported_or_refused_by_name():
    """Each value the fit accepts for an option either runs in the bootstrap or is refused
    up front with a SpecError that names the option and the value (never a wrong number).
    The values come from rima.options, so a new value must be placed here."""
    from types import SimpleNamespace

    from rima import options as O
    from rima.errors import RimaInputError
    from rima.resampling import _check_supported

    base = rima.load_spec(SPEC).to_dict()
    refused = {("missing", "pillar"), ("missing", "fiml"), ("extraction", "minres"),
               ("extraction", "ml"), ("rotation", "promax"), ("rotation", "oblimin")}
    cases = [("missing", v, {"missing": v}) for v in O.MISSING]
    cases += [("extraction", v, {"factor": {"extraction": v, "scores": "regression"}})
              for v in O.EXTRACTIONS]
    cases += [(k, v, {"factor": {k: v, **({"scores": "regression"} if k == "extraction"
                                          else {})}})
              for k, vals in (("rotation", O.ROTATIONS), ("scores", O.SCORE_TYPES),
                              ("heywood", O.HEYWOOD), ("smc", (True, False)),
                              ("retention", O.RETENTION_RULES + (2,)))
              for v in vals]
    cases += [(k, v, {k: v}) for k, vals in (("rci_prediction", O.PREDICTIONS),
                                              ("rsm", O.RSM_KINDS), ("mimic_se", O.MIMIC_SE),
                                              ("orientation", O.ORIENTATIONS),
                                              ("weights", (True, False)))
              for v in vals]
    assert {k for k, _, _ in cases} >= (set(O.KNOWN_OPTIONS) | set(O.FACTOR_KEYS)) - {
        "seed", "negative", "rci_100", "factor", "anchor"}  # those: free values, all run
    for key, value, opts in cases:
        spec = rima.load_spec(dict(base, options=opts))
        fake = SimpleNamespace(pillars=dict.fromkeys(spec.pillars))
        if (key, value) not in refused:
            _check_supported(spec.options, fake)
        else:
            with pytest.raises(RimaInputError, match="does not support") as err:
                _check_supported(spec.options, fake)
            assert key in str(err.value) and repr(value) in str(err.value)


@pytest.mark.parametrize("options", [{"missing": "pillar"}, {"missing": "fiml"},
                                     {"factor": {"extraction": "minres"}},
                                     {"factor": {"extraction": "ml"}},
                                     {"factor": {"rotation": "oblimin", "retention": 2}},
                                     {"factor": {"rotation": "promax", "retention": 2}}])
def test_refused_options_stop_a_real_bootstrap(options):
    """The refusal reaches rima.bootstrap on a real fit, before any replicate runs."""
    df = pd.read_csv(DATA)
    sd = rima.load_spec(SPEC).to_dict()
    sd["options"] = options
    res = fit_quiet(df, sd)
    key, value = next(iter(options.items()))
    if key == "factor":
        key, value = next(iter(value.items()))  # the first key is the refused one
    with pytest.raises(SpecError, match=f"{key} = {value!r}"):
        bootstrap(res, n_boot=10, progress=False)


def test_heywood_error_fails_the_replicates_the_fit_would_refuse():
    """heywood = "error": a replicate whose principal axis reaches a communality of 1 is
    left out (status 3) exactly when rima.fit on its rows refuses with the Heywood error;
    with "warn" the same replicates are estimated. Resamples of 25 distinct households make
    Heywood cases common."""
    from rima.errors import DataError

    df = pd.read_csv(DATA)
    sd = rima.load_spec(SPEC).to_dict()
    fits = {}
    for hw in ("warn", "error"):
        sd_hw = dict(sd, options={"factor": {"retention": 1, "heywood": hw}})
        fits[hw] = (sd_hw, fit_quiet(df, sd_hw))
    res = fits["error"][1]
    ok = res.analysed.to_numpy()
    n = int(ok.sum())
    rng = np.random.default_rng(0)
    counts = np.zeros((12, n), np.int64)
    for b in range(12):
        counts[b, rng.choice(n, size=25, replace=False)] = rng.multinomial(n, np.full(25, 0.04))
    err = run_counts(res, counts)["status"]
    warn = run_counts(fits["warn"][1], counts)["status"]
    assert (err == 3).any() and (err == 0).any()
    np.testing.assert_array_equal(warn[err == 3], 0)
    for b in (int(np.argmax(err == 3)), int(np.argmax(err == 0))):
        rep = df[ok].iloc[np.repeat(np.arange(n), counts[b])].reset_index(drop=True)
        rep[res.spec.id] = np.arange(len(rep))
        if err[b] == 3:
            with pytest.raises(DataError, match="Heywood case"):
                fit_quiet(rep, fits["error"][0])
        else:
            assert (fit_quiet(rep, fits["error"][0]).scores["status"] == "ok").all()
