"""Labels in and out: Stata value labels name the categories of profiles and targeting;
every .dta rima writes has variable labels, a data label and Stata-safe names; --format
dta|xlsx writes every table."""

import warnings

import pandas as pd
import pytest
from _cli import run
from conftest import EXAMPLE_SPEC

import rima
from rima.simulation import SOUM_NAMES


@pytest.fixture(scope="module")
def dta_survey(tmp_path_factory):
    d = tmp_path_factory.mktemp("dta")
    rima.simulate(n_households=400, seed=5).write(d, fmt="dta")
    return d


def test_simulated_dta_carries_codebook_and_value_labels(dta_survey):
    with pd.io.stata.StataReader(dta_survey / "households.dta") as r:
        labels = r.variable_labels()
        assert "Zavkhan" in r.data_label
    assert labels["dist_soum_km"] == "distance to the soum centre, km"
    with pd.io.stata.StataReader(dta_survey / "truth.dta") as r:
        assert r.variable_labels()["ABS"].startswith("true latent ABS")
    back = rima.read_table(dta_survey / "households.dta")
    assert pd.api.types.is_numeric_dtype(back["soum"])  # codes, as Stata stores them
    assert set(back.attrs["value_labels"]["soum"].values()) <= set(SOUM_NAMES)


def test_profiles_from_dta_show_soum_names(dta_survey):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(dta_survey / "households.dta", EXAMPLE_SPEC)
    cats = [str(c) for c in res.profiles["soum"]["category"]]
    assert set(cats) <= set(SOUM_NAMES) and len(cats) > 10
    assert cats == sorted(cats)
    assert set(res.profiles["head_sex"]["category"]) == {"male", "female"}


def test_fit_format_dta_and_xlsx_write_every_table(dta_survey, tmp_path, capsys):
    for fmt in ("dta", "xlsx"):
        out = tmp_path / fmt
        code, _, err = run(["fit", str(dta_survey / "households.dta"), "--spec",
                            str(EXAMPLE_SPEC), "--out", str(out), "--no-report", "--quiet",
                            "--format", fmt], capsys)
        assert code == 0, err
        for name in ("scores", "rsm", "mimic", "profile_soum", "profile_head_sex"):
            assert (out / f"{name}.{fmt}").exists(), name
            assert (out / f"{name}.csv").exists(), name
    with pd.io.stata.StataReader(tmp_path / "dta" / "mimic.dta") as r:
        labels = r.variable_labels()
        assert r.data_label.startswith("rima ")
    mimic = pd.read_stata(tmp_path / "dta" / "mimic.dta")
    assert {"ci_lower", "ci_upper", "std_all", "std_lv"} <= set(mimic.columns)
    assert labels["std_all"].startswith("standardised")
    with pd.io.stata.StataReader(tmp_path / "dta" / "scores.dta") as r:
        labels = r.variable_labels()
    for col in ("ABS", "AST", "SSN", "AC", "RCI", "RCI_100", "status"):
        assert labels[col], col
    prof = pd.read_excel(tmp_path / "xlsx" / "profile_soum.xlsx")
    assert set(prof["category"]) <= set(SOUM_NAMES)


def test_target_from_dta_ranks_soum_names(dta_survey, tmp_path, capsys):
    out = tmp_path / "fit"
    code, _, err = run(["fit", str(dta_survey / "households.dta"), "--spec", str(EXAMPLE_SPEC),
                        "--out", str(out), "--no-report", "--quiet"], capsys)
    assert code == 0, err
    code, text, err = run(["target", str(dta_survey / "households.dta"), "--model",
                           str(out / "model.json"), "--out", str(tmp_path / "t"),
                           "--format", "dta"], capsys)
    assert code == 0, err
    ranking = pd.read_stata(tmp_path / "t" / "soum_ranking.dta")
    assert set(ranking["soum"]) <= set(SOUM_NAMES)
    assert any(name in text for name in SOUM_NAMES)
