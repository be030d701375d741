"""rima.mimic: syntax, identification and input errors, moments input, warnings, summary."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima.mimic as M
from rima.errors import DataError, ImproperSolutionWarning, SpecError

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "mimic_reference.json").read_text())
BASE = REF["datasets"]["base_n200"]
DF = pd.read_csv(REF_DIR / "mimic_data" / BASE["file"])


def test_parse_full_syntax():
    mm = M.parse("""
        # RCI from four pillars
        RCI =~ y1 + 0.5*y2 + y3   ! marker is y1
        RCI ~ x1 + x2; RCI ~ x3
        y2 ~~ y3
        y1 ~ x1
        RCI ~~ RCI
    """)
    assert mm.latent == "RCI"
    assert mm.indicators == ["y1", "y2", "y3"]
    assert mm.causes == ["x1", "x2", "x3"]
    assert mm.loading_values() == {"y1": 1.0, "y2": 0.5, "y3": None}
    assert mm.residual_covariances == [("y2", "y3")]
    assert mm.direct_effects == [("y1", "x1")]


def test_chosen_marker():
    mm = M.parse("RCI =~ NA*y1 + 1*y2 + y3\nRCI ~ x1")
    assert mm.loading_values() == {"y1": None, "y2": 1.0, "y3": None}


@pytest.mark.parametrize("text,quoted", [
    ("RCI =~ y1 + y2\nRCI ~ x1\nF2 =~ y3 + y4", "F2"),
    ("RCI =~ y1 + y2\nRCI ~ a*x1", "a*"),
    ("RCI =~ y1 + y2\nRCI ~ x1\nb := a*2", ":="),
    ("RCI =~ y1 + y2\nRCI ~ x1\ny1 ~1", "~1"),
    ("RCI =~ y1 + y2\nRCI ~ x1\ny1 ~~ 0*y2", "0*"),
    ("RCI =~ y1 + y2\nRCI ~ x1\nx1 ~~ x1", "x1 ~~ x1"),
    ("RCI =~ y1 + start(1)*y2\nRCI ~ x1", "start(1)"),
    ("RCI =~ y1 + y2\nRCI ~ x1\nfoo bar", "foo bar"),
])
def test_unsupported_constructs_are_quoted(text, quoted):
    with pytest.raises(SpecError) as err:
        M.parse(text)
    assert quoted in str(err.value)


def test_identification_errors():
    with pytest.raises(SpecError, match="at least 2"):
        M.parse("RCI =~ y1\nRCI ~ x1")
    with pytest.raises(SpecError, match="no causes"):
        M.parse("RCI =~ y1 + y2")
    # two indicators, one cause, a residual covariance and a direct effect: 5 moments, 7 free
    with pytest.raises(SpecError, match="degrees of freedom"):
        M.parse("RCI =~ y1 + y2\nRCI ~ x1\ny1 ~~ y2\ny2 ~ x1")
    with pytest.raises(SpecError, match="scale"):
        M.parse("RCI =~ NA*y1 + y2 + y3\nRCI ~ x1")


def test_degrees_of_freedom_as_lavaan():
    four = " + ".join(f"x{h}" for h in range(1, 5))
    assert M.parse(f"RCI =~ y1 + y2\nRCI ~ {four}").degrees_of_freedom() == 3
    assert M.parse(f"RCI =~ y1 + y2 + y3\nRCI ~ {four}").degrees_of_freedom() == 8


def test_data_errors_name_the_column():
    with pytest.raises(DataError, match="x9"):
        M.fit("RCI =~ y1 + y2 + y3\nRCI ~ x1 + x9", DF)
    bad = DF.copy()
    bad["x1"] = bad["x1"].astype(str)
    with pytest.raises(DataError, match="x1"):
        M.fit(BASE["model"], bad)
    with pytest.raises(SpecError, match="estimator"):
        M.fit(BASE["model"], DF, estimator="WLSMV")


def test_rows_with_missing_values_are_counted_not_dropped_silently():
    d = DF.copy()
    d.loc[[0, 1], "x2"] = np.nan
    d.loc[[5], "y3"] = np.nan
    res = M.fit(BASE["model"], d)
    assert res.nobs == len(d) - 3 and res.norig == len(d)
    assert res.excluded == {"missing value in x2": 2, "missing value in y3": 1}
    assert res.used_rows.sum() == res.nobs and not res.used_rows[[0, 1, 5]].any()
    res_f = M.fit(BASE["model"], d, missing="fiml")
    assert res_f.nobs == len(d) - 2
    assert res_f.excluded == {"missing value in x2": 2}
    # FIML keeps a row with every indicator missing and its causes observed (as lavaan)
    d.loc[[7], ["y1", "y2", "y3"]] = np.nan
    res_f = M.fit(BASE["model"], d, missing="fiml")
    assert res_f.nobs == len(d) - 2 and res_f.used_rows[7]
    assert res_f.excluded == {"missing value in x2": 2}


def test_fit_from_moments_matches_lavaan():
    cols = ["y1", "y2", "y3", "x1", "x2", "x3", "x4"]
    cov = DF[cols].cov()           # n - 1 divisor, as lavaan's sample.cov
    res = M.fit(BASE["model"], sample_cov=cov, sample_nobs=len(DF))
    ref = pd.DataFrame(BASE["fits"]["ml"]["params"])
    mg = ref.merge(res.params, on=["lhs", "op", "rhs"])
    assert len(mg) == len(ref)
    assert np.abs(mg["est_x"] - mg["est_y"]).max() < 1e-5
    free = mg["se_x"] > 0
    assert np.abs(mg.loc[free, "se_y"] / mg.loc[free, "se_x"] - 1).max() < 1e-4
    assert res.fit_measures["chisq"] == pytest.approx(
        BASE["fits"]["ml"]["fit_measures"]["chisq"], rel=1e-4)
    with pytest.raises(DataError, match="rows"):
        M.fit(BASE["model"], sample_cov=cov, sample_nobs=len(DF), se="robust.sem")


def test_improper_solution_is_warned_and_reported():
    ds = REF["datasets"]["near_heywood"]
    d = pd.read_csv(REF_DIR / "mimic_data" / ds["file"])
    with pytest.warns(ImproperSolutionWarning, match="negative residual variance of y1"):
        res = M.fit(ds["model"], d)
    assert any("y1" in s for s in res.improper)
    assert "improper" in res.summary()


def test_summary_and_determinism():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = M.fit(BASE["model"], DF, se="robust.sem")
    b = M.fit(BASE["model"], DF, se="robust.sem")
    pd.testing.assert_frame_equal(a.params, b.params)
    assert a.fit_measures == b.fit_measures
    text = a.summary()
    for needle in ("robust.sem", "RCI", "=~", "CFI", "RMSEA", "R-square", "200 of 200"):
        assert needle in text
    with pytest.raises(SpecError, match="prediction method"):
        a.predict(DF, "mean")


def test_non_convergence_says_what_was_tried():
    from rima.errors import ConvergenceError
    from rima.mimic import estimate as E

    mm = M.parse(BASE["model"])
    prep = E.prepare(mm, DF, "listwise", None, None, None, None)
    with pytest.raises(ConvergenceError, match="Fisher scoring.*1 iteration"):
        E.optimise(mm, E.make_layout(mm), prep, max_iter=1)


def test_weights_validation():
    d = DF.copy()
    d["w"] = 1.0
    d.loc[3, "w"] = -1.0
    # d.loc[3] is the fourth data row: rows count from 1 in messages
    with pytest.raises(DataError, match=r"negative.*\(first at row 4\)"):
        M.fit(BASE["model"], d, sampling_weights="w")
    d = DF.copy()
    d.loc[[0, 1], "x2"] = np.nan
    d.loc[9, "y2"] = np.inf
    with pytest.raises(DataError, match=r"infinite value in column 'y2' \(row 10\)"):
        M.fit(BASE["model"], d)


def test_fiml_scores_of_partial_rows_match_lavpredict():
    ds = REF["datasets"]["fiml_missing"]
    f = ds["fits"]["fiml"]
    d = pd.read_csv(REF_DIR / "mimic_data" / ds["file"])
    res = M.fit(ds["model"], d, missing="fiml")
    rows = np.array(f["pred_rows"]) - 1
    partial = d.iloc[rows][res.model.indicators].isna().any(axis=1).to_numpy()
    assert partial.sum() > 50
    for meth in ("regression", "bartlett"):
        got = res.predict(d.iloc[rows], meth)
        ref = np.asarray(f["lavpredict"][meth], dtype=float)
        assert np.abs(got - ref).max() < 1e-6, meth
