"""`rima score X.csv --out a.csv` in memory and streamed (`--batch-rows`) write the same
bytes: the same quoting of ids and kept columns holding separators, quotes, line breaks,
non-ASCII text and empty strings, the same floats, booleans and empty cells, and whole
numbers in the id and kept columns shown alike whichever batch holds a missing value."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cli import run

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "zavkhan" / "households.csv"

HOSTILE_IDS = ["a,b", 'say "hi"', "line\nbreak", "Дархан-Уул", "", " lead", "quote'",
               "tab\there", "ö", "-0", "1e5", "x;y", "Тосонцэнгэл, \"А\""]


def _score(args, capsys):
    code, _, err = run([str(a) for a in args], capsys)
    assert code == 0, err


def _hostile(tmp_path):
    d = pd.read_csv(DATA).head(230)
    d["hhid"] = [HOSTILE_IDS[i] if i < len(HOSTILE_IDS) else f"H{i:04d}"
                 for i in range(len(d))]
    d["soum"] = d["soum"].astype(str)
    d.loc[0, "soum"] = "Тосонцэнгэл, \"А\""
    d.loc[1, "soum"] = ""
    d.loc[2, "soum"] = "two\nlines"
    d["herd_su"] = d["herd_su"].astype(object)
    d.loc[2, "herd_su"] = 1e-320          # subnormal input, tiny scores
    d.loc[3, "herd_su"] = 123456789012.125
    d.loc[4, "hay_reserve_t"] = 0.1 + 0.2
    d.loc[5, "herd_su"] = "many"          # a non-numeric cell: status names it
    d.loc[6, "fcs"] = np.nan               # a missing indicator
    # an integer column whose only missing value lies in a late batch
    d["code"] = pd.array(range(len(d)), dtype="Int64")
    d.loc[200, "code"] = pd.NA
    path = tmp_path / "X.csv"
    d.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("ext", ["csv", "tsv", "csv.gz"])
def test_streamed_and_in_memory_csv_are_byte_identical(example_model_path, tmp_path, ext,
                                                        capsys):
    data = _hostile(tmp_path)
    keep = "soum,head_sex,code"
    a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
    _score(["score", data, "--model", example_model_path, "--out", a, "--keep", keep], capsys)
    _score(["score", data, "--model", example_model_path, "--out", b, "--keep", keep,
            "--batch-rows", 7], capsys)
    read = gzip.decompress if ext.endswith(".gz") else (lambda x: x)
    got_a, got_b = read(a.read_bytes()), read(b.read_bytes())
    assert got_a == got_b
    text = got_a.decode("utf-8")
    # quoting only where a field needs it (as pandas writes it), never every text field
    if ext.startswith("csv"):
        assert text.startswith("hhid,soum,head_sex,code,ABS,")
        assert '"a,b",' in text and '"say ""hi""",' in text and '"line\nbreak",' in text
        assert "\nДархан-Уул," in text and "\nx;y," in text
    # the integers of the kept column stay integers (200 is the missing one)
    back = pd.read_csv(a, sep="\t" if ext == "tsv" else ",", dtype={"code": str},
                       keep_default_na=False)
    assert back["code"].iloc[199] == "199" and back["code"].iloc[200] == ""
    assert back["code"].iloc[201] == "201"
    assert back["status"].iloc[5] == "non-numeric value 'many' in herd_su"
    assert len(back) == 230


def test_whole_number_ids_read_as_floats_are_written_as_integers(example_model_path,
                                                                   tmp_path, capsys):
    d = pd.read_csv(DATA).head(40)
    d["hhid"] = d["hhid"].astype(float)
    d.loc[30, "hhid"] = np.nan  # one missing id makes pandas read the column as floats
    data = tmp_path / "ids.csv"
    d.to_csv(data, index=False)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _score(["score", data, "--model", example_model_path, "--out", a], capsys)
    _score(["score", data, "--model", example_model_path, "--out", b, "--batch-rows", 9], capsys)
    assert a.read_bytes() == b.read_bytes()
    first = a.read_text().splitlines()[1].split(",")[0]
    assert first == str(int(d["hhid"].iloc[0]))
