"""The fit and the bootstrap run one implementation of each estimation rule.

A pillar's factor analysis is three kernels of `rima._kernels.factor`: `pillar_extract`
(principal axis or components, psych's first sign step), `orthogonal_rotation` (none,
varimax) and `pillar_weights` (psych's final sign and order, Bartlett or regression
weights, variance and combined weights); the MIMIC's complete-data ML estimation is
`rima._kernels.mimic.fisher_scoring`; the RCI prediction weights are
`rima._kernels.mimic.prediction_weights`; a pillar's sign is
`rima._kernels.orient.orient_sign`; the RSM is `rima._kernels.rsm` (correlations from
moments, standardised coefficients, shares); the mean RCI_100 by profile category and
overall is `rima._kernels.groups.group_moments`. These tests check that the bootstrap kernel
holds no estimation routine of its own, that the fit calls the shared kernels, and that the
fit's numbers are the kernels' numbers on the same moments, bit for bit. (That the numbers are
right is checked against R in test_factor.py, test_mimic_reference.py and
test_pipeline_reference.py, and the bootstrap against rima.fit in test_bootstrap.py.)
"""

import ast
import inspect
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima
from rima import factor as F
from rima._kernels import bootstrap as BK
from rima._kernels import factor as FK
from rima._kernels import mimic as MK
from rima._kernels import orient as OR
from rima._kernels import rsm as RK
from rima.factor_estimator import FactorModel
from rima.moments import compute_moments

ROOT = Path(__file__).parents[1]
DATA = ROOT / "examples" / "zavkhan" / "households.csv"
SPEC = ROOT / "examples" / "zavkhan" / "spec.toml"
AST_VARS = ["herd_su", "hay_reserve_t", "shelter_quality", "has_motorbike", "has_vehicle",
            "n_durables"]


def _attribute_calls(tree):
    """{(module alias, name)} of every `alias.name(...)` call in the tree."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name):
            out.add((node.func.value.id, node.func.attr))
    return out


def test_bootstrap_kernel_defines_no_estimation_routine_of_its_own():
    tree = ast.parse(Path(BK.__file__).read_text())
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    # resampling, count-weighted moments (and the correlation of a pillar score with a
    # linear combination of the columns, from them) and the replicate driver: nothing else
    assert defined == {"_mix", "replicate_counts", "_comoment", "_unit", "_score_corr",
                       "one_replicate", "run_replicates"}
    calls = _attribute_calls(tree)
    assert {("FK", "pillar_extract"), ("FK", "orthogonal_rotation"), ("FK", "pillar_weights"),
            ("MK", "fisher_scoring"), ("MK", "prediction_weights"), ("MK", "complete_cross"),
            ("MK", "fisher_converged")} <= calls
    # the pieces of those rules are never called directly
    pieces = {"pa_iterate", "pa_start", "pca_loadings", "eig_desc", "smc", "varimax",
              "oblimin", "promax_from_varimax", "unrotated_signs", "order_loadings",
              "column_signs", "score_weights", "ss_loadings", "variance_weights",
              "combined_weights", "objective_and_gradient",
              "expected_information", "derivatives", "reduced_form", "cholesky_lower",
              "lu_solve", "lu_solve_vector", "solve", "inv", "cholesky"}
    assert not {name for _, name in calls} & pieces


@pytest.fixture()
def spies(monkeypatch):
    """Count the Python-level calls of the shared kernels (compiled callers, such as the
    bootstrap kernel, bind them at compile time and are not counted)."""
    return spy_calls(monkeypatch, ((FK, "pillar_extract"), (FK, "orthogonal_rotation"),
                                   (FK, "oblique_rotation"), (FK, "pillar_weights"),
                                   (MK, "fisher_scoring"), (MK, "prediction_weights")))


def spy_calls(monkeypatch, targets) -> dict:
    """Replace each (module, name) of `targets` by a wrapper counting its calls into the
    dict returned."""
    counts = {}

    def spy(module, name):
        orig = getattr(module, name)

        def wrapper(*args):
            counts[name] = counts.get(name, 0) + 1
            return orig(*args)
        monkeypatch.setattr(module, name, wrapper)

    for module, name in targets:
        spy(module, name)
    return counts


def test_the_fit_calls_the_shared_kernels(spies):
    df = pd.read_csv(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(df, SPEC)
    K = len(res.spec.pillar_names)
    assert spies["pillar_extract"] == spies["pillar_weights"] == K  # one per pillar (pa)
    # rotation "none" is the identity, which needs no kernel
    assert "orthogonal_rotation" not in spies and "oblique_rotation" not in spies
    assert spies["fisher_scoring"] == 1
    assert spies["prediction_weights"] >= 1
    spies.clear()
    FactorModel(n_factors=2, method="pa", rotation="varimax").fit(df[AST_VARS])
    assert spies == {"pillar_extract": 1, "orthogonal_rotation": 1, "pillar_weights": 1}
    spies.clear()
    FactorModel(n_factors=2, method="minres", rotation="oblimin").fit(df[AST_VARS])
    # minres is optimised outside the kernel, then takes the same conventions and weights
    assert spies == {"oblique_rotation": 1, "pillar_weights": 1}


def _kernel_pillar(R, R_scores, k, ka):
    """The pillar as the bootstrap's replicates compute it, kernel by kernel (oblique
    rotations, which the replicates refuse, by the fit's oblique kernel)."""
    U, _vals, _it, st = FK.pillar_extract(R, k, *ka.extract)
    assert st != 2  # (pf stops after its one step by design: status 1)
    if ka.oblique:
        L, phi, _ok = FK.oblique_rotation(U, ka.rotation, ka.pca, ka.varimax_eps,
                                          ka.oblimin_eps, ka.rot_maxit)
    else:
        (L, _ok), phi = FK.orthogonal_rotation(U, ka.rotation, ka.varimax_eps,
                                               ka.rot_maxit), np.eye(k)
    return (U, *FK.pillar_weights(R_scores, L, phi, ka.pca, ka.bartlett))


@pytest.mark.parametrize("method,rotation,scores,smc,heywood", [
    ("pa", "none", "bartlett", False, "warn"),
    ("pa", "varimax", "regression", True, "bound"),
    ("pf", "varimax", "bartlett", False, "error"),
    ("pca", "varimax", "regression", False, "warn"),
    ("pa", "oblimin", "bartlett", False, "warn"),
    ("pca", "promax", "regression", False, "warn"),
])
def test_fit_pillar_weights_are_the_kernels_on_the_same_moments(method, rotation, scores,
                                                               smc, heywood):
    X = pd.read_csv(DATA)[AST_VARS].dropna()
    fm = FactorModel(n_factors=2, method=method, rotation=rotation, scores=scores, smc=smc,
                     heywood=heywood).fit(X)
    R = compute_moments(X.to_numpy(dtype=float)).corr()
    ka = F.kernel_arguments(method, rotation, scores, smc, heywood)
    U, L, _phi, W, ss, vw, comb, status = _kernel_pillar(R, R, 2, ka)
    assert status == FK.PILLAR_OK
    np.testing.assert_array_equal(fm.unrotated_loadings_.to_numpy(), U)
    np.testing.assert_array_equal(fm.loadings_.to_numpy(), L)
    np.testing.assert_array_equal(fm.score_weights_.to_numpy(), W)
    np.testing.assert_array_equal(fm.variance_weights_, vw)
    np.testing.assert_array_equal(fm.combined_weights_.to_numpy(), comb)
    assert (fm.phi_ is not None) == ka.oblique
    # and the combination is what the pillar score applies: Σ_j vw_j W[:, j]
    np.testing.assert_allclose(comb, W @ (ss / ss.sum()), rtol=1e-14)


def test_pipeline_pillar_weights_are_the_kernels():
    """The fitted model's pillar weights (what scoring applies) are the kernels' combined
    weights, with the `negative` variables' signs and the orientation flip on top."""
    df = pd.read_csv(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(df, SPEC)
    for pr in res.pillars.values():
        fm = pr.model
        R = fm.correlation_
        comb = _kernel_pillar(R, R, fm.n_factors_, F.kernel_arguments(
            fm.method, fm.rotation, fm.scores, fm.smc, fm.heywood, fm.mode))[6]
        sign = np.array([-1.0 if v in res.options.negative else 1.0 for v in pr.variables])
        flip = -1.0 if pr.flipped else 1.0
        np.testing.assert_array_equal(pr.weights.to_numpy(), flip * sign * comb)


def test_mimic_estimates_are_the_kernels_on_the_same_moments():
    from rima.mimic import estimate as E
    from rima.mimic.syntax import as_model

    df = pd.read_csv(DATA).dropna(subset=["fcs", "hdds", "log_food_exp_ae", "herd_su",
                                          "head_edu_years"])
    model = "RCI =~ fcs + log_food_exp_ae + hdds\nRCI ~ herd_su + head_edu_years"
    res = rima.mimic.fit(model, df, se="standard")
    mm = as_model(model)
    layout = E.make_layout(mm)
    prep = E.prepare(mm, df, "listwise", None, None, None, None)
    theta, _f, _g, it, status = MK.fisher_scoring(
        E.starting_values(mm, layout, prep), *layout.args(), prep.masks, prep.counts,
        prep.cross, MK.FISHER_MAX_STEPS, MK.FISHER_TOL)
    assert status == MK.FISHER_CONVERGED and res.iterations == it
    tab = res.params.set_index(["lhs", "op", "rhs"])
    np.testing.assert_array_equal([tab.loc[r, "est"] for r in layout.rows[:layout.n_struct]],
                                  theta[:layout.n_struct])
    # the same from the covariance alone, as the bootstrap hands it over (divisor n, unit
    # cross-products): the same optimum
    cov = prep.cross[0] / prep.n
    S = np.delete(np.delete(cov, len(mm.indicators), 0), len(mm.indicators), 1)
    theta2, _f, g2, _it, status2 = MK.fisher_scoring(
        theta + 1e-3, *layout.args(), prep.masks, np.ones(1),
        MK.complete_cross(np.ascontiguousarray(S), len(mm.indicators), 1.0),
        MK.FISHER_MAX_STEPS, MK.FISHER_TOL)
    assert MK.fisher_converged(status2, g2)
    np.testing.assert_allclose(theta2, theta, atol=1e-8, rtol=0)
    # prediction weights: the result's are the kernel's
    mat, (ymean, xmean) = res.matrices, res.means
    for code, method in enumerate(("regression", "bartlett", "causes")):
        for observed in (np.ones(3, bool), np.array([True, False, True])):
            got = res.prediction_weights(method, observed=observed)
            icpt, cx, cy, ok = MK.prediction_weights(
                mat["lambda"], mat["gamma"], mat["B"], mat["psi"], mat["theta"], ymean, xmean,
                observed, code)
            assert ok and got[0] == icpt
            np.testing.assert_array_equal(got[1], cx)
            np.testing.assert_array_equal(got[2], cy)


def test_prediction_weights_kernel_against_the_formulas():
    """An independent numpy evaluation of lavPredict's regression and Bartlett weights."""
    rng = np.random.default_rng(3)
    m, k = 4, 3
    lam = np.array([1.0, 0.8, 1.3, 0.6])
    gam = rng.normal(size=k)
    B = np.zeros((m, k))
    B[2, 1] = 0.4
    psi = 0.7
    th = np.diag([0.5, 0.9, 0.4, 1.1])
    th[0, 3] = th[3, 0] = 0.1
    ymean, xmean = rng.normal(size=m), rng.normal(size=k)
    obs = np.array([True, True, False, True])
    o = np.flatnonzero(obs)
    Pi = np.outer(lam, gam) + B
    Om = psi * np.outer(lam, lam) + th
    # regression: E[eta | y_o, x] written out
    kv = psi * lam[o] @ np.linalg.inv(Om[np.ix_(o, o)])
    want = (-kv @ (ymean[o] - Pi[o] @ xmean), gam - Pi[o].T @ kv, kv)
    got = MK.prediction_weights(lam, gam, B, psi, th, ymean, xmean, obs, MK.PRED_REGRESSION)
    assert got[3]
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    np.testing.assert_allclose(got[2][o], want[2], rtol=1e-12)
    assert got[2][2] == 0.0
    ti = np.linalg.inv(th[np.ix_(o, o)]) @ lam[o]
    w = ti / (lam[o] @ ti)
    got = MK.prediction_weights(lam, gam, B, psi, th, ymean, xmean, obs, MK.PRED_BARTLETT)
    np.testing.assert_allclose(got[0], gam @ xmean - w @ (ymean[o] - B[o] @ xmean),
                               rtol=1e-12)
    np.testing.assert_allclose(got[1], -B[o].T @ w, atol=1e-15)
    np.testing.assert_allclose(got[2][o], w, rtol=1e-12)


def test_one_home_for_the_factor_settings():
    """The bootstrap reads a fitted pillar's settings through the function the fit uses,
    and the fit's stopping rules live in one table (rima.factor.settings)."""
    from rima.errors import RimaInputError
    from rima.resampling import _problem

    src = inspect.getsource(_problem)
    assert "kernel_arguments(" in src and "_PSI_LOWER" not in src
    ka = F.kernel_arguments("pf", "varimax", "bartlett", heywood="bound")
    s = F.settings("psych")
    assert ka.extract == (FK.PF, True, s.pa_min_err, 1, 1.0 - 0.005)
    assert (ka.rotation, ka.varimax_eps, ka.rot_maxit, ka.pca, ka.bartlett) == (
        FK.ROT_VARIMAX, s.varimax_eps, s.rot_maxit, False, True)
    with pytest.raises(RimaInputError, match="minres"):
        F.kernel_arguments("minres", "none", "bartlett")


def _name_calls(tree):
    return {n.func.id for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def test_bootstrap_kernel_runs_the_fits_orientation_rsm_and_profile_rules():
    tree = ast.parse(Path(BK.__file__).read_text())
    assert {("RK", "correlations"), ("RK", "std_coefficients"),
            ("RK", "rsm_shares")} <= _attribute_calls(tree)
    assert {"orient_sign", "group_moments"} <= _name_calls(tree)
    # no copy of those rules: no t threshold, no share out of 100, no |r|
    consts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not {1.96, 100.0} & consts
    assert "abs" not in _name_calls(tree)


SPY_KERNELS = ((OR, "orient_sign"), (RK, "correlations"), (RK, "std_coefficients"),
               (RK, "rsm_shares"))


@pytest.mark.parametrize("options", [None, {"anchor": {"ABS": "mobile_coverage"},
                                            "rsm": "std_coefficient", "weights": True}])
def test_the_fit_runs_the_shared_orientation_rsm_and_profile_kernels(monkeypatch, options):
    import rima.rsm

    counts = spy_calls(monkeypatch, SPY_KERNELS + ((rima.rsm, "group_moments"),))
    df = pd.read_csv(DATA)
    sd = rima.load_spec(SPEC).to_dict()
    if options is not None:
        sd["options"] = options
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(df, sd)
    K = len(res.spec.pillar_names)
    # one sign per pillar: the anchored one when its anchor is read, the others by the
    # food-security rule
    assert counts["orient_sign"] == K
    groups = sum(int((t["households"] > 2).sum()) for t in res.profiles.values())
    assert counts["rsm_shares"] == 1 + groups
    # one grouped pass per profile variable; the RSM's correlations come from the
    # MIMIC's co-moments without one (listwise, unweighted) and its standardised
    # coefficients need none
    assert counts["group_moments"] == len(res.profiles)
    # the MIMIC's parameter table (std.all) always has the standardised coefficients
    assert counts["std_coefficients"] >= 1
    if options is None:
        assert counts["correlations"] == 1 + len(res.profiles)
    else:
        assert "correlations" not in counts

    # the fit's numbers are the kernels' numbers
    rsm = res.rsm
    np.testing.assert_array_equal(rsm["share"], RK.rsm_shares(rsm["r_signed"].to_numpy()))
    names = list(res.spec.pillar_names)
    for tab in res.profiles.values():
        for _, row in tab[tab["households"] > 2].iterrows():
            signed = row[[f"r_signed_{p}" for p in names]].to_numpy(dtype=float)
            np.testing.assert_array_equal(row[[f"rsm_{p}" for p in names]].to_numpy(
                dtype=float), RK.rsm_shares(signed))
    ok = res.analysed.to_numpy()
    P = res.scores.loc[ok, names].to_numpy()
    rci = res.scores.loc[ok, "RCI"].to_numpy()
    w = df.loc[ok, res.spec.weight].to_numpy(dtype=float) if res.options.weights else None
    if options is None:
        # an independent correlation of the rows
        want = [np.corrcoef(P[:, k], rci)[0, 1] for k in range(K)]
        np.testing.assert_allclose(rsm["r_signed"], want, rtol=1e-12)
    else:
        # the standardised coefficients from the MIMIC's estimates and the pillars'
        # (weighted, divisor n) covariance
        reg = res.mimic.params.set_index(["lhs", "op", "rhs"])
        gam = np.array([reg.loc[("RCI", "~", p), "est"] for p in names])
        psi = float(reg.loc[("RCI", "~~", "RCI"), "est"])
        sxx = np.cov(P.T, aweights=w, bias=True)
        sd_eta = np.sqrt(gam @ sxx @ gam + psi)
        np.testing.assert_allclose(rsm["r_signed"], gam * np.sqrt(np.diag(sxx)) / sd_eta,
                                   rtol=1e-10)
    for k, p in enumerate(names):
        pr = res.pillars[p]
        if pr.anchor:
            assert pr.orientation["rule"] == "anchor" and pr.anchor_corr > 0
            continue
        r = pr.food_security_corr * (-1.0 if pr.flipped else 1.0)  # before the turn
        sign, rule = OR.orient_sign(0.0, np.nan, True, r, int(ok.sum()))
        assert (sign < 0) == pr.flipped
        assert rule == OR.RULE_FOOD_SECURITY and pr.rule == "food security"


def test_orientation_and_rsm_kernels_against_the_rules():
    nan = np.nan
    A, FS, V = OR.RULE_ANCHOR, OR.RULE_FOOD_SECURITY, OR.RULE_VARIABLES
    # an anchor decides alone; a zero or undefined correlation with it turns the pillar
    assert OR.orient_sign(1.0, 0.2, True, -0.9, 100) == (1.0, A)
    assert OR.orient_sign(-1.0, 0.2, True, 0.9, 100) == (-1.0, A)
    assert OR.orient_sign(1.0, 0.0, False, nan, 0) == (-1.0, A)
    assert OR.orient_sign(-1.0, nan, False, nan, 0) == (-1.0, A)
    # the composite decides when |t| = |r| sqrt((n - 2) / (1 - r^2)) >= 1.96
    n = 50
    r_crit = 1.96 / np.sqrt(n - 2 + 1.96 ** 2)
    assert OR.orient_sign(0.0, nan, True, -1.001 * r_crit, n) == (-1.0, FS)
    assert OR.orient_sign(0.0, nan, True, 1.001 * r_crit, n) == (1.0, FS)
    assert OR.orient_sign(0.0, nan, True, -0.999 * r_crit, n) == (1.0, V)
    assert OR.orient_sign(0.0, nan, True, -0.99, 2) == (1.0, V)
    assert OR.orient_sign(0.0, nan, True, nan, 500) == (1.0, V)
    assert OR.orient_sign(0.0, nan, False, -0.9, n) == (1.0, V)  # orientation "reference"

    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3))
    y = X @ [0.5, -0.2, 0.1] + rng.normal(size=200)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    r = RK.correlations((Xc * yc[:, None]).sum(axis=0)[None, :], (Xc ** 2).sum(axis=0)[None, :],
                        np.array([(yc ** 2).sum()]))[0]
    np.testing.assert_allclose(r, [np.corrcoef(X[:, k], y)[0, 1] for k in range(3)],
                               rtol=1e-13)
    np.testing.assert_allclose(RK.rsm_shares(r), 100 * np.abs(r) / np.abs(r).sum(),
                               rtol=1e-15)
    assert r[1] < 0 and RK.rsm_shares(r)[1] > 0
    gam = np.array([0.5, -0.2, 0.1])
    S = np.cov(X.T, bias=True)
    np.testing.assert_allclose(RK.std_coefficients(gam, 0.8, S),
                               gam * np.sqrt(np.diag(S)) / np.sqrt(gam @ S @ gam + 0.8),
                               rtol=1e-14)
