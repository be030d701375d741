"""Spreadsheet-friendly input: --sheet on every data-reading command and `sheet` in [data];
';' separators with decimal commas detected (or --sep / --decimal); a hint when most of the
spec's columns are missing."""

import warnings

import numpy as np
import pandas as pd
import pytest
from _cli import run
from conftest import EXAMPLE_DATA, EXAMPLE_SPEC

import rima
from rima.errors import SpecError
from rima.io import read_table, sniff_csv


@pytest.fixture(scope="module")
def households():
    return pd.read_csv(EXAMPLE_DATA)


@pytest.fixture(scope="module")
def semicolon_csv(households, tmp_path_factory):
    path = tmp_path_factory.mktemp("eu") / "households.csv"
    households.to_csv(path, sep=";", decimal=",", index=False)
    return path


@pytest.fixture(scope="module")
def workbook(households, tmp_path_factory):
    path = tmp_path_factory.mktemp("xl") / "survey.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        pd.DataFrame({"note": ["read me first"]}).to_excel(xw, sheet_name="readme", index=False)
        households.head(600).to_excel(xw, sheet_name="households", index=False)
    return path


def test_semicolon_decimal_comma_detected(semicolon_csv, households):
    assert sniff_csv(semicolon_csv) == (";", ",")
    assert sniff_csv(EXAMPLE_DATA) == (",", ".")
    back = read_table(semicolon_csv)
    pd.testing.assert_frame_equal(back, households, check_dtype=False)


def test_fit_on_locale_csv_equals_fit_on_plain(semicolon_csv, tmp_path, capsys):
    code, _, err = run(["fit", str(semicolon_csv), "--spec", str(EXAMPLE_SPEC), "--out",
                        str(tmp_path / "eu"), "--no-report", "--quiet"], capsys)
    assert code == 0, err
    code, _, err = run(["fit", str(EXAMPLE_DATA), "--spec", str(EXAMPLE_SPEC), "--out",
                        str(tmp_path / "plain"), "--no-report", "--quiet"], capsys)
    assert code == 0, err
    a = pd.read_csv(tmp_path / "eu" / "scores.csv")
    b = pd.read_csv(tmp_path / "plain" / "scores.csv")
    np.testing.assert_allclose(a["RCI_100"], b["RCI_100"], rtol=0, atol=1e-9)


def test_wrong_separator_gets_a_hint(semicolon_csv, tmp_path, capsys):
    code, out, _ = run(["validate", str(semicolon_csv), "--spec", str(EXAMPLE_SPEC),
                        "--sep", ","], capsys)
    assert code == 3
    assert "separated by something other than commas; give --sep" in out
    # a separator of more than one character, as [data] sep, is refused (pandas would take
    # it for a pattern and warn)
    code, _, err = run(["validate", str(semicolon_csv), "--spec", str(EXAMPLE_SPEC),
                        "--sep", "::"], capsys)
    assert code == 2 and "--sep" in err and "one character" in err
    assert "ParserWarning" not in err


def test_sheet_option_and_spec_key(workbook, tmp_path, capsys):
    code, out, err = run(["validate", str(workbook), "--spec", str(EXAMPLE_SPEC)], capsys)
    assert code == 3 and "worksheet" in (out + err)  # the first sheet is the readme
    code, out, err = run(["validate", str(workbook), "--spec", str(EXAMPLE_SPEC), "--sheet",
                          "households"], capsys)
    assert code == 0, out + err
    sd = rima.load_spec(EXAMPLE_SPEC).to_dict()
    sd["data"]["sheet"] = "households"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(workbook, sd)
    assert len(res.scores) == 600
    assert rima.load_spec(sd).to_dict()["data"]["sheet"] == "households"
    res.model.save(tmp_path / "model.json")
    code, out, err = run(["target", str(workbook), "--model", str(tmp_path / "model.json"),
                          "--sheet", "1"], capsys)
    assert code == 0, err
    code, out, err = run(["score", str(workbook), "--model", str(tmp_path / "model.json"),
                          "--sheet", "households", "--out", str(tmp_path / "s.csv")], capsys)
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "s.csv")) == 600


def test_spec_data_keys_validated():
    sd = rima.load_spec(EXAMPLE_SPEC).to_dict()
    sd["data"]["sheet"] = True
    sd["data"]["decimal"] = ";"
    with pytest.raises(SpecError) as exc:
        rima.load_spec(sd)
    assert "sheet" in str(exc.value) and "decimal" in str(exc.value)
