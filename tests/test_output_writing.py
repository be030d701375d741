"""Writing outputs: a text cell Excel cannot hold is a data error naming its cell, the
build's three tables are renamed into place all or none (a destination that cannot take
them is found first, and a rename failing midway puts the earlier files back), a .dta
file's data label names the file the user asked for, the build's tables carry their own
variable labels, and a failed write names the user's path, not a temporary one."""

import errno
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cli import run

import rima.io
from rima import __version__
from rima.build import build, parse_build
from rima.build.run import report_paths, write_build
from rima.errors import DataError
from rima.io import write_table
from rima.labels import OUTPUT_LABELS


def frames(note=("ok", "fine", "also fine")):
    ids = np.arange(1, len(note) + 1)
    hh = pd.DataFrame({"hhid": ids, "note": list(note)})
    roster = pd.DataFrame({"hhid": np.repeat(ids, 2), "relation": np.tile([1, 2], len(ids)),
                           "age": np.tile([40, 12], len(ids))})
    return hh, roster


def built(note=("ok", "fine", "also fine"), missing_age=True):
    """A BuildResult with an issue (a missing age), so the issue list has rows."""
    hh, roster = frames(note)
    if missing_age:
        roster.loc[1, "age"] = np.nan
    errors = []
    bspec = parse_build({"households": "x", "roster": "x"},
                        {"n_old": {"recipe": "dependency_ratio"}}, None, errors)
    assert not errors, errors
    return build(bspec, {"households": hh, "roster": roster})


def spec_dir(d: Path, note=("ok", "fine", "also fine")) -> Path:
    hh, roster = frames(note)
    rng = np.random.default_rng(0)
    for i in range(1, 9):
        hh[f"zz{i}"] = rng.normal(size=len(hh))
    hh.to_csv(d / "households.csv", index=False)
    roster.to_csv(d / "roster.csv", index=False)
    spec = d / "spec.toml"
    spec.write_text('[sources]\nkey = "hhid"\nhouseholds = "households.csv"\n'
                    'roster = "roster.csv"\n\n[build.hs]\nrecipe = "household_size"\n\n'
                    '[data]\nid = "hhid"\n[pillars]\nP1 = ["zz1", "zz2", "zz3"]\n'
                    'P2 = ["zz4", "zz5", "zz6"]\n[indicators]\nfs = ["zz7", "zz8"]\n')
    return spec


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


# -- 1. a control character in an Excel output -------------------------------------------

def test_xlsx_control_character_is_a_data_error_naming_column_and_row(tmp_path):
    df = pd.DataFrame({"hhid": [1, 2, 3], "soum": ["Ider", "Tes", "Otgon"],
                       "note": ["ok", "fine", "bad\x0bchar"]})
    kept = df.copy()
    path = tmp_path / "x.xlsx"
    with pytest.raises(DataError, match=r"x\.xlsx: column 'note', data row 3: .*'\\x0b'.*"
                                        r"\.csv or \.parquet"):
        write_table(df, path)
    assert not path.exists()
    pd.testing.assert_frame_equal(df, kept)  # the text is never changed
    # the first offending cell by row, in a categorical column too
    df["cat"] = pd.Categorical(["a", "b\x01", "c"])
    with pytest.raises(DataError, match=r"column 'cat', data row 2"):
        write_table(df, path)
    # other formats hold the character
    assert (pd.read_csv(write_table(kept, tmp_path / "x.csv"))["note"] == kept["note"]).all()


def test_build_to_xlsx_with_a_control_character_exits_3_writing_nothing(tmp_path, capsys):
    spec = spec_dir(tmp_path, note=("ok", "bad\x0bchar", "fine"))
    out = tmp_path / "o.xlsx"
    code, _, err = run(["build", str(spec), "--out", str(out)], capsys)
    assert code == 3, err
    assert "Traceback" not in err and "internal error" not in err
    assert "o.xlsx: column 'note', data row 2" in err and ".csv" in err
    assert not out.exists() and not any(p.exists() for p in report_paths(out))
    assert leftovers(tmp_path) == []


# -- 2. the build's three files: all or none -----------------------------------------------

def test_build_refuses_a_directory_destination_before_renaming(tmp_path, capsys):
    spec = spec_dir(tmp_path)
    out = tmp_path / "out.csv"
    report, issues = report_paths(out)
    out.write_text("old table\n")
    issues.mkdir()
    code, _, err = run(["build", str(spec), "--out", str(out)], capsys)
    assert code == 3, err
    assert "Traceback" not in err and f"{issues}: " in err and "directory" in err
    assert out.read_text() == "old table\n" and not report.exists() and issues.is_dir()
    assert leftovers(tmp_path) == []


def test_a_rename_failing_midway_puts_the_earlier_files_back(tmp_path, monkeypatch):
    result = built()
    out = tmp_path / "out.csv"
    report, issues = report_paths(out)
    old = {out: "old table\n", report: "old report\n", issues: "old issues\n"}
    for p, text in old.items():
        p.write_text(text)
    replace = os.replace

    def failing(src, dst):
        # the new issue list cannot take its place (on Windows: the file is open in Excel)
        if Path(dst) == issues and ".partial" in Path(src).name:
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        return replace(src, dst)

    monkeypatch.setattr(rima.io.os, "replace", failing)
    with pytest.raises(DataError, match=re.escape(f"{issues}: cannot write output there")):
        write_build(result, out)
    assert {p: p.read_text() for p in old} == old
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    write_build(result, out)
    assert pd.read_csv(issues)["status"].tolist() == result.issues["status"].tolist()
    assert leftovers(tmp_path) == []


# -- 3. .dta data labels and the build's variable labels -----------------------------------

def _without_timestamp(path: Path) -> bytes:
    return re.sub(rb"<timestamp>.*?</timestamp>", b"", path.read_bytes(), count=1,
                  flags=re.DOTALL)


def _stata_labels(path: Path) -> tuple[str, dict]:
    with pd.io.stata.StataReader(path) as r:
        r.read()
        return r.data_label, r.variable_labels()


def test_dta_data_label_names_the_final_file_and_builds_repeat_byte_for_byte(tmp_path):
    result = built()
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_build(result, tmp_path / "one" / "a.dta")
    second = write_build(result, tmp_path / "two" / "a.dta")
    for a, b in zip(first, second):
        label, _ = _stata_labels(a)
        assert label == f"rima {__version__}: {a.stem}"
        assert _without_timestamp(a) == _without_timestamp(b)
    # write_table's default label too
    write_table(result.issues, tmp_path / "issues.dta")
    assert _stata_labels(tmp_path / "issues.dta")[0] == f"rima {__version__}: issues"


def test_build_tables_do_not_take_the_score_tables_labels(tmp_path):
    result = built()
    hh = result.table.assign(status="married", share=0.5)
    result.table = hh
    out, report, issues = write_build(result, tmp_path / "b.dta")
    _, labels = _stata_labels(issues)
    assert set(labels) == {"variable", "status", "module", "column", "household", "row",
                           "value", "message"}
    assert labels["status"] and labels["status"] != OUTPUT_LABELS["status"]
    assert all(labels.values())
    _, labels = _stata_labels(out)
    assert labels["status"] == "" and labels["share"] == ""
    _, labels = _stata_labels(report)
    # the report's columns hold statuses, not the built values
    assert labels["n_old"].startswith("status of n_old")
    assert labels["build_status"] and labels["hhid"]


# -- 4. errors name the user's path --------------------------------------------------------

def test_a_failed_write_names_the_users_path_not_the_temporary_one(tmp_path, monkeypatch):
    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = tmp_path / "out.parquet"
    with pytest.raises(DataError) as exc:
        write_build(built(), out)
    msg = str(exc.value)
    assert msg.startswith(f"{out}: cannot write parquet") and "No space left" in msg
    assert ".partial" not in msg
    assert leftovers(tmp_path) == [] and not out.exists()


@pytest.mark.parametrize("locked", [True, False])
def test_two_runs_writing_the_same_group_at_once_never_mix(tmp_path, monkeypatch, locked):
    import contextlib
    import threading
    import time

    from rima import io

    real = os.replace

    def slow(src, dst):  # one run on a busy disk: the window between its renames held open
        real(src, dst)
        if threading.current_thread().name == "slow":
            time.sleep(0.03)

    monkeypatch.setattr(io.os, "replace", slow)
    if not locked:  # the check itself: without the lock the groups do mix
        monkeypatch.setattr(io, "_folders_locked", lambda folders: contextlib.nullcontext())
    paths = [tmp_path / "b.csv", tmp_path / "b_build_report.csv", tmp_path / "b_build_issues.csv"]
    mixed = 0
    for _ in range(8):
        threads = [threading.Thread(target=io.write_tables, name=name, args=(
            [(pd.DataFrame({"run": [k]}), p) for p in paths],))
            for k, name in ((1, "slow"), (2, "fast"))]
        for t in threads:
            t.start()
            time.sleep(0.01)
        for t in threads:
            t.join()
        runs = {pd.read_csv(p)["run"].iloc[0] for p in paths}
        mixed += len(runs) > 1
    assert (mixed == 0) if locked else (mixed > 0)
