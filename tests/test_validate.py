import numpy as np
import pandas as pd
import pytest

import rima
from rima.errors import DataError
from rima.validation import OK, validate

SPEC = {
    "data": {"id": "hhid", "weight": "w", "profiles": ["soum"]},
    "pillars": {
        "ABS": ["a1", "a2", "a3"],
        "AST": ["b1", "b2", "b3"],
    },
    "indicators": {"fs": ["y1", "y2"]},
}


@pytest.fixture()
def df():
    rng = np.random.default_rng(0)
    n = 12
    out = pd.DataFrame(rng.normal(size=(n, 8)), columns=["a1", "a2", "a3", "b1", "b2", "b3", "y1", "y2"])
    out.insert(0, "hhid", np.arange(101, 101 + n))
    out.insert(1, "w", np.linspace(1, 2, n))
    out.insert(2, "soum", ["Ider"] * 6 + ["Tes"] * 6)
    return out


def kinds(report):
    return [e.kind for e in report.errors]


def test_clean_example_is_usable(example_dir, example_spec):
    data = rima.read_table(example_dir / "households.csv")
    report = validate(data, example_spec, source="households.csv")
    assert report.ok, report.errors
    needed = data[list(example_spec.variables) + ["hh_weight"]].notna().all(axis=1)
    assert report.n_usable == needed.sum() < len(data)
    assert report.accounting["rows"].sum() == len(data)
    report.raise_if_errors()


def test_row_status_reasons_and_index(df):
    df.index = [f"r{i}" for i in range(len(df))]
    df.loc["r2", "b2"] = np.nan
    df.loc["r5", ["a1", "y2"]] = np.nan
    df.loc["r7", "w"] = np.nan
    report = validate(df, SPEC)
    st = report.row_status
    assert list(st.index) == list(df.index)
    assert st["r2"] == "missing value in b2"
    assert st["r5"] == "missing values in a1, y2"
    assert st["r7"] == "missing value in w"
    assert (st.drop(["r2", "r5", "r7"]) == OK).all()
    assert report.n_usable == 9 and report.usable["r0"]
    acc = report.accounting.set_index("status")["rows"]
    assert acc[OK] == 9 and acc.sum() == 12
    listing = report.rows_with_status()
    assert listing.loc["r5", "row"] == 6 and listing.loc["r5", "hhid"] == 106
    text = report.format()
    assert "missing values in a1, y2: row 6" in text and "usable: 9 of 12 rows" in text


def test_summary_per_variable(df):
    df.loc[3, "a2"] = np.nan
    report = validate(df, SPEC)
    s = report.summary
    assert list(s.columns) == ["role", "N", "missing", "min", "max", "median", "mean"]
    assert list(s.index) == ["a1", "a2", "a3", "b1", "b2", "b3", "y1", "y2", "w"]
    a2 = df["a2"].dropna()
    assert s.loc["a2", "N"] == 11 and s.loc["a2", "missing"] == 1
    assert s.loc["a2", "min"] == a2.min() and s.loc["a2", "max"] == a2.max()
    assert s.loc["a2", "median"] == pytest.approx(a2.median())
    assert s.loc["a2", "mean"] == pytest.approx(a2.mean())
    assert s.loc["b1", "role"] == "pillar AST" and s.loc["y1", "role"] == "indicator fs"


def test_non_numeric_values_named_with_rows_and_values(df):
    df["b3"] = df["b3"].astype(object)
    df.loc[[2, 9], "b3"] = ["n/a", "lots"]
    df.loc[4, "b3"] = "  7.5 "  # numbers written as text are fine
    df.loc[5, "b3"] = ""  # so are empty cells: missing
    report = validate(df, SPEC, source="survey.csv")
    (err,) = report.errors
    assert err.kind == "non_numeric" and err.column == "b3"
    assert err.rows == (3, 10) and err.values == ("n/a", "lots")
    assert "'b3' (pillar AST)" in err.message and "data rows 3, 10" in err.message
    assert "'n/a', 'lots'" in err.message
    assert report.row_status[5] == "missing value in b3"
    with pytest.raises(DataError) as exc:
        report.raise_if_errors()
    assert str(exc.value).startswith("survey.csv: column 'b3'")


def test_infinite_values(df):
    df.loc[[0, 8], "y1"] = [np.inf, -np.inf]
    report = validate(df, SPEC)
    (err,) = report.errors
    assert err.kind == "infinite" and err.column == "y1" and err.rows == (1, 9)
    assert "inf, -inf" in err.message


def test_constant_and_all_missing_columns(df):
    df["a3"] = 4.0
    df["b1"] = np.nan
    report = validate(df, SPEC)
    by_kind = {e.kind: e for e in report.errors}
    assert by_kind["constant"].column == "a3" and "every value is 4" in by_kind["constant"].message
    assert by_kind["all_missing"].column == "b1" and "all 12 rows" in by_kind["all_missing"].message


def test_constant_over_usable_rows(df):
    df["a3"] = 1.0
    df.loc[0, "a3"] = 2.0
    df.loc[0, "y1"] = np.nan  # the only varying row is not usable
    report = validate(df, SPEC)
    assert kinds(report) == ["constant"]
    assert "constant over the 11 usable rows" in report.errors[0].message


def test_duplicate_and_missing_ids(df):
    df["hhid"] = df["hhid"].astype(float)
    df.loc[[3, 7], "hhid"] = 101.0
    df.loc[10, "hhid"] = np.nan
    report = validate(df, SPEC)
    by_kind = {e.kind: e for e in report.errors}
    dup = by_kind["duplicate_id"]
    assert dup.rows == (1, 4, 8) and dup.values == (101,)
    assert "'hhid'" in dup.message and "data rows 1, 4, 8" in dup.message
    assert by_kind["missing_id"].rows == (11,)


def test_empty_data(df):
    report = validate(df.iloc[:0], SPEC)
    assert kinds(report) == ["empty"]
    with pytest.raises(DataError, match="no rows"):
        report.raise_if_errors()


def test_missing_columns_with_suggestions(df):
    df = df.rename(columns={"a2": "A2", "y2": "y_2"}).drop(columns="soum")
    report = validate(df, SPEC)
    msgs = {e.column: e.message for e in report.errors if e.kind == "missing_column"}
    assert set(msgs) == {"a2", "y2", "soum"}
    assert "did you mean 'A2'" in msgs["a2"] and "did you mean 'y_2'" in msgs["y2"]
    assert "(profile)" in msgs["soum"]


def test_negative_weight(df):
    df.loc[6, "w"] = -1.0
    report = validate(df, SPEC)
    assert kinds(report) == ["negative_weight"] and report.errors[0].rows == (7,)


def test_no_usable_rows(df):
    df.loc[::2, "a1"] = np.nan
    df.loc[1::2, "b1"] = np.nan
    report = validate(df, SPEC)
    assert kinds(report) == ["no_usable_rows"]
    assert report.n_usable == 0


def test_profile_missing_is_a_warning_not_an_error(df):
    df.loc[4, "soum"] = None
    report = validate(df, SPEC)
    assert report.ok and report.warnings[0].kind == "missing_profile"
    assert report.warnings[0].rows == (5,)


def test_bool_and_nullable_columns_are_numeric(df):
    df["a1"] = df["a1"] > 0
    df["a2"] = pd.array([1, None] + [0, 1] * 5, dtype="Int64")
    report = validate(df, SPEC)
    assert report.ok
    assert report.row_status[1] == "missing value in a2"


def test_every_error_listed_together(df):
    df["a3"] = 0.0
    df.loc[0, "y1"] = np.inf
    df.loc[1, "hhid"] = df.loc[2, "hhid"]
    report = validate(df, SPEC, source="x.csv")
    with pytest.raises(DataError) as exc:
        report.raise_if_errors()
    msg = str(exc.value)
    assert msg.startswith("x.csv: 3 problems in the data")
    assert "'a3'" in msg and "'y1'" in msg and "'hhid'" in msg


def test_package_level_call_works_after_module_import(df):
    import rima.validation  # importing the module must not shadow the function

    assert rima.validate(df, SPEC).ok


def test_duplicate_column_names(df):
    df = pd.concat([df, df[["a1"]]], axis=1)
    report = validate(df, SPEC)
    assert kinds(report) == ["duplicate_column"] and "a1" in report.errors[0].message


def test_not_a_dataframe():
    with pytest.raises(DataError, match="needs a pandas DataFrame"):
        validate([[1, 2]], SPEC)
