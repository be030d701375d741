import numpy as np
import pandas as pd
import pytest

from rima.errors import DataError, RimaInputError
from rima.io import read_table, write_table


@pytest.fixture()
def frame():
    return pd.DataFrame(
        {
            "hhid": np.arange(1, 7, dtype=np.int64),
            "soum": ["Ider", "Tes", "Otgon", "Ider", "Yaruu", "Tes"],
            "herd_su": [120.5, 300.0, np.nan, 45.2, 980.1, 15.0],
            "solar_power": np.array([1, 0, 1, 1, 0, 1], dtype=np.int64),
            "fcs": [55.5, 61.0, 48.5, 70.0, 90.5, 33.0],
        }
    )


def _same(a, b):
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False
    )


@pytest.mark.parametrize("ext", ["csv", "tsv", "parquet", "dta", "csv.gz"])
def test_write_read_round_trip(tmp_path, frame, ext):
    path = tmp_path / f"data.{ext}"
    assert write_table(frame, path) == path
    back = read_table(path)
    _same(back.astype({"soum": object}), frame.astype({"soum": object}))


def test_round_trip_of_simulated_survey(tmp_path, small_survey):
    h = small_survey.households
    for ext in ["csv", "parquet", "dta"]:
        back = read_table(write_table(h, tmp_path / f"hh.{ext}"))
        assert list(back.columns) == list(h.columns)
        np.testing.assert_allclose(back["herd_su"], h["herd_su"])
        np.testing.assert_array_equal(back["hay_reserve_t"].isna(), h["hay_reserve_t"].isna())


def test_read_spss(tmp_path, frame):
    import pyreadstat

    path = tmp_path / "data.sav"
    pyreadstat.write_sav(frame, str(path))
    _same(read_table(path), frame)


def test_read_excel_sheets(tmp_path, frame):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        frame.head(2).to_excel(xl, sheet_name="notes", index=False)
        frame.to_excel(xl, sheet_name="households", index=False)
    _same(read_table(path), frame.head(2))
    _same(read_table(path, sheet="households"), frame)
    _same(read_table(path, sheet=1), frame)
    _same(read_table(path, sheet="1"), frame)
    with pytest.raises(DataError) as exc:
        read_table(path, sheet="hh")
    assert "book.xlsx" in str(exc.value) and "no sheet named 'hh'" in str(exc.value)
    assert "notes, households" in str(exc.value)
    with pytest.raises(DataError, match="sheet index 5 out of range"):
        read_table(path, sheet=5)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(DataError) as exc:
        read_table(tmp_path / "survey.csv")
    assert "survey.csv: file not found" in str(exc.value)
    assert isinstance(exc.value, RimaInputError)


def test_unknown_format_names_file_and_extension(tmp_path):
    path = tmp_path / "survey.json"
    path.write_text("{}")
    with pytest.raises(DataError) as exc:
        read_table(path)
    assert "survey.json" in str(exc.value) and "'.json'" in str(exc.value)
    assert ".dta" in str(exc.value)  # the message lists what is known
    with pytest.raises(DataError, match=r"cannot write files of type '\.sav'"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.sav")
    with pytest.raises(DataError, match=r"no extension"):
        read_table(tmp_path / "survey")


@pytest.mark.parametrize("ext", ["parquet", "dta", "sav", "xlsx"])
def test_unreadable_file_names_it(tmp_path, ext):
    path = tmp_path / f"broken.{ext}"
    path.write_bytes(b"this is not a real file of that type\x00\x01")
    with pytest.raises(DataError) as exc:
        read_table(path)
    assert f"broken.{ext}: cannot read as" in str(exc.value)


def test_empty_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        read_table(path)


def test_sheet_only_for_excel(tmp_path, frame):
    path = write_table(frame, tmp_path / "d.csv")
    with pytest.raises(DataError, match="only to Excel"):
        read_table(path, sheet="x")


def test_directory_is_not_a_file(tmp_path):
    d = tmp_path / "dir.csv"
    d.mkdir()
    with pytest.raises(DataError, match="dir.csv: is a directory"):
        read_table(d)


def test_stata_names_made_safe_and_labelled(tmp_path):
    # lavaan's column names and over-long names become Stata names; the original name or
    # the column's meaning is the variable label; the file has a data label
    df = pd.DataFrame({"a" * 33: [1.0], "ci.lower": [0.5], "std.all": [0.2], "RCI_100": [50.0]})
    path = write_table(df, tmp_path / "x.dta")
    with pd.io.stata.StataReader(path) as reader:
        labels = reader.variable_labels()
        assert reader.data_label.startswith("rima ")
    back = read_table(path)
    assert list(back.columns) == ["a" * 32, "ci_lower", "std_all", "RCI_100"]
    assert labels["a" * 32] == "a" * 33
    assert labels["ci_lower"] == "lower confidence limit"
    assert labels["RCI_100"].startswith("Resilience capacity index")


def test_xlsx_round_trip(tmp_path):
    df = pd.DataFrame({"soum": pd.Categorical(["Ider", "Tes"]), "RCI_100": [1.5, float("nan")]})
    back = read_table(write_table(df, tmp_path / "x.xlsx"))
    assert back["soum"].tolist() == ["Ider", "Tes"]
    assert back["RCI_100"].iloc[0] == 1.5 and pd.isna(back["RCI_100"].iloc[1])


def test_stata_writes_bool_and_strings(tmp_path):
    df = pd.DataFrame({"flag": [True, False], "name": pd.array(["x", "y"], dtype="string")})
    back = read_table(write_table(df, tmp_path / "x.dta"))
    assert back["flag"].tolist() == [1, 0] and back["name"].tolist() == ["x", "y"]


def test_value_labels_kept_as_codes_and_applied_on_request(tmp_path):
    import pyreadstat

    from rima.io import apply_value_labels

    df = pd.DataFrame({
        "soum": pd.Categorical(["Ider", "Tes", "Ider"]),
        "mobile_coverage": [0.0, 2.0, 1.0],
    })
    back = read_table(write_table(df, tmp_path / "x.dta"))
    assert back["soum"].tolist() == [0, 1, 0]  # numeric codes: usable in numeric roles
    assert back.attrs["value_labels"]["soum"] == {0: "Ider", 1: "Tes"}
    assert apply_value_labels(back, ["soum"])["soum"].tolist() == ["Ider", "Tes", "Ider"]

    path = tmp_path / "x.sav"
    pyreadstat.write_sav(
        df[["mobile_coverage"]], str(path),
        variable_value_labels={"mobile_coverage": {0: "none", 1: "weak"}},
    )
    sav = read_table(path)
    assert sav["mobile_coverage"].tolist() == [0, 2, 1]
    # a code without a label stays visible instead of turning into a missing value
    assert apply_value_labels(sav)["mobile_coverage"].tolist() == ["none", "2", "weak"]
