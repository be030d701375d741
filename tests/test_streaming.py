"""rima.streaming.score_file: batch-wise scoring equals in-memory scoring, keeps order and
ids, reports bad cells by their row number in the whole file, and has flat memory."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima
from rima.errors import DataError, ModelFileError
from rima.streaming import score_file

ROOT = Path(__file__).parents[1]
DATA = ROOT / "examples" / "zavkhan" / "households.csv"
SPEC = ROOT / "examples" / "zavkhan" / "spec.toml"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    df = pd.read_csv(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(df, SPEC)
    d = tmp_path_factory.mktemp("stream")
    path = res.model.save(d / "model.json")
    return df, res, path


def _big(df, times, seed=0):
    """`times` copies of the example with fresh ids, rows shuffled (order must survive)."""
    big = pd.concat([df] * times, ignore_index=True)
    big = big.iloc[np.random.default_rng(seed).permutation(len(big))].reset_index(drop=True)
    big["hhid"] = np.arange(10**6, 10**6 + len(big))
    return big


def _expected(model, df):
    return model.score(df)


@pytest.mark.parametrize("src_ext,dst_ext", [("csv", "parquet"), ("parquet", "csv"),
                                             ("parquet", "parquet"), ("csv.gz", "tsv")])
def test_equals_in_memory_scoring(fitted, tmp_path, src_ext, dst_ext):
    df, res, mpath = fitted
    big = _big(df, 3)
    src, dst = tmp_path / f"in.{src_ext}", tmp_path / f"out.{dst_ext}"
    if src_ext.startswith("csv"):
        big.to_csv(src, index=False)
    else:
        big.to_parquet(src, row_group_size=1000)
    summary = score_file(mpath, src, dst, batch_rows=1500)
    assert summary.batches >= 3
    want = _expected(res.model, big)
    if dst_ext == "parquet":
        got = pd.read_parquet(dst)
    else:
        got = pd.read_csv(dst, sep="\t" if dst_ext == "tsv" else ",")
    assert list(got.columns) == list(want.columns)
    np.testing.assert_array_equal(got["hhid"].to_numpy(), big["hhid"].to_numpy())
    np.testing.assert_array_equal(got["status"].to_numpy(), want["status"].to_numpy())
    for c in ("ABS", "AST", "SSN", "AC", "RCI", "RCI_100"):
        if dst_ext == "parquet":
            np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy())
        else:  # text round trip: shortest repr of a double, so equal to ~1 ulp
            np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-15,
                                       atol=0)
    assert summary.rows == len(big)
    assert summary.scored == int((want["status"] == "ok").sum())
    ok = want["status"] == "ok"
    assert summary.rci_100_mean == pytest.approx(want.loc[ok, "RCI_100"].mean(), rel=1e-12)
    assert summary.out_of_range == int(want["out_of_range"].sum())


def test_bad_cell_in_late_batch_is_reported_and_rest_scored(fitted, tmp_path):
    df, res, mpath = fitted
    big = _big(df, 4, seed=1)
    bad_row = len(big) - 37          # 0-based; in the last batch
    text = big.astype({"herd_su": object, "fcs": object})
    text.loc[bad_row, "herd_su"] = "12o"
    text.loc[bad_row, "fcs"] = "n/a?"
    src, dst = tmp_path / "in.csv", tmp_path / "out.parquet"
    text.to_csv(src, index=False)
    summary = score_file(mpath, src, dst, batch_rows=1000)
    assert summary.batches >= 8
    got = pd.read_parquet(dst)
    assert summary.bad_cells == [(bad_row + 1, "herd_su", "12o"), (bad_row + 1, "fcs", "n/a?")]
    assert got.loc[bad_row, "status"] == ("non-numeric value '12o' in herd_su; "
                                          "non-numeric value 'n/a?' in fcs")
    assert np.isnan(got.loc[bad_row, ["AST", "RCI", "RCI_100"]].to_numpy(float)).all()
    want = _expected(res.model, big)
    others = np.arange(len(big)) != bad_row
    np.testing.assert_array_equal(got["status"].to_numpy()[others],
                                  want["status"].to_numpy()[others])
    np.testing.assert_allclose(got["RCI"].to_numpy()[others], want["RCI"].to_numpy()[others],
                               rtol=0, atol=1e-12)
    assert summary.scored == int((want["status"] == "ok").sum()) - (want.loc[bad_row, "status"]
                                                                   == "ok")
    assert f"row {bad_row + 1:,}: non-numeric value '12o' in herd_su" in summary.format()


def test_missing_column_and_formats(fitted, tmp_path):
    df, _, mpath = fitted
    src = tmp_path / "in.parquet"
    df.drop(columns=["hay_reserve_t"]).to_parquet(src)
    with pytest.raises(ModelFileError, match="hay_reserve_t"):
        score_file(mpath, src, tmp_path / "out.csv")
    with pytest.raises(DataError, match="xlsx"):
        score_file(mpath, src, tmp_path / "out.xlsx")
    with pytest.raises(DataError, match="overwrite"):
        score_file(mpath, src, src)


_MEM = """
import json, resource, sys
from rima.streaming import score_file
marks = []
def mark(rows):
    marks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
score_file(sys.argv[1], sys.argv[2], sys.argv[3], batch_rows=2000, progress=mark)
print(json.dumps([marks[0], marks[-1]]))
"""


def test_peak_memory_flat_when_rows_grow_tenfold(fitted, tmp_path):
    """Peak RSS of a fresh process scoring 6,000 vs 60,000 rows (Parquet -> Parquet, batches
    of 2,000), from the end of the first batch (imports, kernels and buffers in place) to
    the end: the 60,000 rows' columns alone are ~15 MiB as float64 and several times that
    as DataFrames, so a reader or writer that held the rows would show it."""
    df, _, mpath = fitted
    growth = []
    for times in (3, 30):
        big = _big(df, times).iloc[:2000 * times]
        src, dst = tmp_path / f"in{times}.parquet", tmp_path / f"out{times}.parquet"
        big.to_parquet(src, row_group_size=2000)
        out = subprocess.run([sys.executable, "-c", _MEM, str(mpath), str(src), str(dst)],
                             capture_output=True, text=True, timeout=300, check=False)
        assert out.returncode == 0, out.stderr
        first, last = json.loads(out.stdout.strip().splitlines()[-1])
        growth.append((last - first) / 1024)
        assert len(pd.read_parquet(dst, columns=["hhid"])) == 2000 * times
    assert growth[1] < 8 and growth[1] - growth[0] < 6, growth


def test_score_cli_streams_and_reports_bad_rows(fitted, tmp_path):
    from click.testing import CliRunner

    from rima.cli import cli

    df, _, mpath = fitted
    big = _big(df, 2, seed=3).astype({"hdds": object})
    big.loc[len(big) - 5, "hdds"] = "seven"
    src, dst = tmp_path / "in.csv", tmp_path / "out.parquet"
    big.to_csv(src, index=False)
    out = CliRunner().invoke(cli, ["score", str(src), "--model", str(mpath), "--out", str(dst),
                                   "--batch-rows", "700", "--json"])
    assert out.exit_code == 0, out.output
    info = json.loads(out.stdout)
    assert info["rows"] == len(big) and info["batches"] >= 6
    assert info["bad_cells"] == [{"row": len(big) - 4, "column": "hdds", "value": "seven"}]
    assert f"row {len(big) - 4:,}: non-numeric value 'seven' in hdds" in out.stderr
    got = pd.read_parquet(dst)
    assert got.loc[len(big) - 5, "status"] == "non-numeric value 'seven' in hdds"
    assert info["scored"] == int((got["status"] == "ok").sum())
    bad = CliRunner().invoke(cli, ["score", str(src), "--model", str(mpath),
                                   "--out", str(tmp_path / "x.dta"), "--batch-rows", "10"])
    assert bad.exit_code == 2 and "--batch-rows" in bad.output
