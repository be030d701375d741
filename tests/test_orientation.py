"""Pillar orientation (rima.orientation, docs/orientation.md): higher = more capacity by
default, psych's convention under `orientation = "reference"`, warnings on unexpected signs."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLE_DATA, EXAMPLE_DIR, EXAMPLE_SPEC, fit_quiet

import rima
from rima.errors import OrientationWarning

PILLARS = ["ABS", "AST", "SSN", "AC"]


def truth_correlations(result, truth):
    s = result.scores[result.ok].merge(truth, on="hhid", suffixes=("", "_true"))
    return {p: float(np.corrcoef(s[p], s[p + "_true"])[0, 1]) for p in PILLARS}


def spec_without_negatives(**options):
    sd = rima.load_spec(EXAMPLE_SPEC).to_dict()
    sd["options"] = dict(options)
    return sd


@pytest.fixture(scope="module")
def example():
    return pd.read_csv(EXAMPLE_DATA), pd.read_csv(EXAMPLE_DIR / "truth.csv")


@pytest.fixture(scope="module", params=[120, 5000])
def survey(request):
    return rima.simulate(n_households=request.param, seed=0)


def test_bundled_example_pillars_follow_true_capacity(example):
    df, truth = example
    r = truth_correlations(fit_quiet(df, str(EXAMPLE_SPEC)), truth)
    assert min(r.values()) > 0.5, r


@pytest.mark.parametrize("declared", [True, False])
def test_simulated_surveys_pillars_follow_true_capacity(survey, declared):
    # with the bundled spec, and without its `negative` list (distances left as they are):
    # the default rule must still orient every pillar towards its true capacity
    spec = str(EXAMPLE_SPEC) if declared else spec_without_negatives()
    r = truth_correlations(fit_quiet(survey.households, spec), survey.truth)
    assert min(r.values()) > 0.3, r


def test_reference_orientation_is_psych_sign_convention(example):
    # the reference procedure orients ABS by its loadings, dominated by the three distances
    # when they are not declared negative: ABS then measures remoteness (the reported bug)
    df, truth = example
    ref = fit_quiet(df, spec_without_negatives(orientation="reference"))
    cap = fit_quiet(df, spec_without_negatives())
    assert truth_correlations(ref, truth)["ABS"] < -0.5
    assert truth_correlations(cap, truth)["ABS"] > 0.5
    assert ref.pillars["ABS"].orientation["rule"].startswith("variables")
    assert cap.pillars["ABS"].orientation["rule"] == "food security"
    assert cap.pillars["ABS"].flipped and not ref.pillars["ABS"].flipped
    # psych convention: the first factor's loadings sum to a positive number
    assert ref.pillars["ABS"].model.loadings_.iloc[:, 0].sum() > 0
    # the sign moves nothing else: same RCI, same RSM shares, opposite ABS and coefficient
    np.testing.assert_allclose(ref.scores["RCI"], cap.scores["RCI"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ref.rsm["share"], cap.rsm["share"], rtol=1e-9)
    np.testing.assert_allclose(ref.scores["ABS"], -cap.scores["ABS"], rtol=1e-9, atol=1e-12)
    g = {r_.rhs: r_.est for r_ in ref.mimic.params.itertuples() if r_.op == "~"}
    h = {r_.rhs: r_.est for r_ in cap.mimic.params.itertuples() if r_.op == "~"}
    assert g["ABS"] == pytest.approx(-h["ABS"], rel=1e-6)


def test_warnings_name_pillar_and_variable(example):
    df, _ = example
    with pytest.warns(OrientationWarning) as rec:
        rima.fit(df, spec_without_negatives(orientation="reference"))
    msgs = [str(w.message) for w in rec if issubclass(w.category, OrientationWarning)]
    # good variables lowering the remoteness-oriented ABS, and its negative coefficient
    assert any("pillar ABS: mobile_coverage has a negative net weight" in m for m in msgs), msgs
    assert any(m.startswith("pillar ABS: its MIMIC coefficient is negative") for m in msgs), msgs
    with pytest.warns(OrientationWarning) as rec:
        rima.fit(df, spec_without_negatives())
    msgs = [str(w.message) for w in rec if issubclass(w.category, OrientationWarning)]
    assert any("pillar ABS: dist_soum_km has a negative net weight" in m for m in msgs), msgs
    assert not any("MIMIC coefficient" in m and "ABS" in m for m in msgs), msgs


def test_bundled_spec_declares_bad_variables_and_fits_without_orientation_warnings(example):
    spec = rima.load_spec(EXAMPLE_SPEC)
    assert {"dist_soum_km", "dist_vet_km", "dist_health_km"} <= set(spec.options.negative)
    df, _ = example
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", OrientationWarning)
        res = rima.fit(df, spec)
    msgs = [str(w.message) for w in rec if issubclass(w.category, OrientationWarning)]
    # the 95 % rule keeps several factors, so a few variables of other pillars can end
    # with a net weight against their direction (warned); ABS and the coefficients cannot
    assert not any(m.startswith("pillar ABS") or "MIMIC coefficient" in m for m in msgs), msgs
    assert all(p.food_security_corr > 0 for p in res.pillars.values())


def test_orientation_option_is_validated():
    with pytest.raises(rima.errors.SpecError, match="orientation"):
        rima.load_spec(spec_without_negatives(orientation="psych"))
