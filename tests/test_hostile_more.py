"""More hostile and careless inputs: outputs reached through a symbolic link or written
over the data by the commands that guess or build, outputs under a file, model files
saved with a byte order mark, nested too deeply or holding numbers beyond float64, and
JSON households that repeat a field or send an id beyond 64 bits."""

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from _cli import run

import rima
from rima.errors import ModelFileError
from rima.model_file import checksum_of

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "zavkhan"
DATA = EX / "households.csv"
SPEC = EX / "spec.toml"


@pytest.fixture(scope="module")
def df():
    return pd.read_csv(DATA).head(40)


@pytest.fixture(scope="module")
def model(example_model_path):
    return rima.load(example_model_path)


def _data(df, tmp_path):
    path = tmp_path / "x.csv"
    df.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- outputs over inputs
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_an_output_reached_through_a_link_never_overwrites_the_input(df, example_model_path,
                                                                     tmp_path, capsys):
    data = _data(df, tmp_path)
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    before = data.read_bytes()
    for args in (["score", data, "--model", example_model_path, "--out", link],
                 ["score", data, "--model", example_model_path, "--out", link,
                  "--batch-rows", 5],
                 ["score", link, "--model", example_model_path, "--out", f"{tmp_path}/./x.csv"],
                 ["validate", link, "--spec", SPEC, "--row-status", data]):
        code, _, err = run([str(a) for a in args], capsys)
        assert code == 3 and "would overwrite the input" in err, (args, err)
        assert data.read_bytes() == before


def test_init_never_writes_the_spec_over_its_data(df, tmp_path, capsys):
    data = _data(df, tmp_path)
    before = data.read_bytes()
    code, _, err = run(["init", str(data), "--out", str(data), "--force"], capsys)
    assert code == 3 and "would overwrite the input" in err
    assert data.read_bytes() == before


def test_build_never_writes_over_its_spec_or_a_module(tmp_path, capsys):
    import shutil

    shutil.copytree(EX / "raw", tmp_path / "raw")
    spec = tmp_path / "spec_raw.toml"
    shutil.copy(EX / "spec_raw.toml", spec)
    module = tmp_path / "raw" / "roster.csv.gz"
    before = module.read_bytes()
    for out in (module, spec):
        code, _, err = run(["build", str(spec), "--out", str(out)], capsys)
        assert code == 3 and "would overwrite the input" in err, err
    assert module.read_bytes() == before
    # the per-household report beside the table is an output too
    code, _, err = run(["build", str(spec), "--out", str(tmp_path / "raw" / "roster.csv"),
                        "--source", f"roster={tmp_path / 'raw' / 'roster_build_report.csv'}"],
                       capsys)
    assert code == 3 and "would overwrite the input" in err


def test_impact_never_writes_its_tables_over_an_input(df, tmp_path, capsys):
    data = tmp_path / "impact_households.csv"
    df.assign(round=1, t=0).to_csv(data, index=False)
    before = data.read_bytes()
    code, _, err = run(["impact", str(data), "--no-model", "--treatment", "t", "--out",
                        str(tmp_path)], capsys)
    assert code == 3 and "under a name the command writes" in err, err
    assert data.read_bytes() == before


def test_an_output_under_a_file_is_an_input_error(df, example_model_path, tmp_path, capsys):
    data = _data(df, tmp_path)
    for args in (["score", data, "--model", example_model_path, "--out", data / "s.csv"],
                 ["score", data, "--model", example_model_path, "--out", data / "s.csv",
                  "--batch-rows", 5],
                 ["validate", data, "--spec", SPEC, "--row-status", data / "rs.csv"]):
        code, _, err = run([str(a) for a in args], capsys)
        assert code == 3, (args, err)
        assert "is a file, not a directory" in err
    # a missing directory is made
    code, _, err = run(["score", str(data), "--model", str(example_model_path), "--out",
                        str(tmp_path / "new" / "dir" / "s.csv"), "--batch-rows", "5"], capsys)
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "new" / "dir" / "s.csv")) == len(df)


# ---------------------------------------------------------------- model files
def _write(content, path):
    content = dict(content)
    content.pop("checksum", None)
    content["checksum"] = checksum_of(content)
    path.write_text(json.dumps(content, allow_nan=True))
    return path


def test_a_model_file_saved_with_a_byte_order_mark_loads(example_model_path, tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + example_model_path.read_bytes())
    assert rima.load(path).pillar_names == rima.load(example_model_path).pillar_names


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"format": ' + "9" * 5000 + "}", "not a rima model file"),
], ids=["deep", "5000-digit-integer"])
def test_unreadable_model_json_is_a_model_file_error(tmp_path, text, words):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=words):
        rima.load(path)


@pytest.mark.parametrize("edit, field", [
    (lambda c: c["variables"]["mean"].__setitem__(0, 10 ** 400), r"variables\.mean\[0\]"),
    (lambda c: c["variables"]["mean"].__setitem__(2, math.nan), r"variables\.mean\[2\]"),
    (lambda c: c["pillar_score_weights"][1].__setitem__(0, -(10 ** 400)),
     r"pillar_score_weights\[1\]\[0\]"),
    (lambda c: c["prediction"]["coef_causes"][0].__setitem__(0, 10 ** 400),
     r"prediction\.coef_causes\[0\]\[0\]"),
    (lambda c: c["rci_100_scale"].update(max=10 ** 400), r"rci_100_scale: the ends must"),
], ids=["mean-huge", "mean-nan", "weight-huge", "causes-huge", "scale-huge"])
def test_numbers_beyond_float64_in_a_model_file_are_named(example_model_path, tmp_path, edit,
                                                          field):
    content = json.loads(example_model_path.read_text())
    edit(content)
    with pytest.raises(ModelFileError, match=field):
        rima.load(_write(content, tmp_path / "m.json"))


# ---------------------------------------------------------------- the service
def _client(model):
    from fastapi.testclient import TestClient

    from rima.service import ServiceSettings, create_app

    return TestClient(create_app({"m": model}, ServiceSettings()))


def _rows(df, n=2):
    return json.loads(df.head(n).to_json(orient="records"))


def test_a_household_that_repeats_a_field_is_refused(df, model):
    rows = _rows(df)
    good = json.dumps(rows)
    # the second household sends herd_su twice; JSON parsers keep the last without a word
    body = good[:-2] + ', "herd_su": 12345}]'
    fields = list(rows[1])
    r = _client(model).post("/models/m/score", content=body.encode(),
                            headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    msg = r.json()["error"]["message"]
    assert (f"field 'herd_su' appears twice (fields {fields.index('herd_su') + 1} and "
            f"{len(fields) + 1}) in JSON object 2 (household 2" in msg)
    # the same households once each are scored; text holding '":' is no repeated field
    rows[0]["hhid"] = 'say "a": b'
    r = _client(model).post("/models/m/score", json=rows)
    assert r.status_code == 200 and r.json()["households"][0]["id"] == 'say "a": b'


def test_an_id_beyond_64_bits_is_refused_not_rounded(df, model):
    rows = _rows(df)
    rows[1]["hhid"] = 2 ** 70
    r = _client(model).post("/models/m/score", content=json.dumps(rows).encode(),
                            headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert "integers of at most 64 bits" in r.json()["error"]["message"]
    assert r.json()["error"]["errors"][0]["rows"] == [2]
    # sent as text it comes back exactly
    rows[1]["hhid"] = str(2 ** 70)
    r = _client(model).post("/models/m/score", json=rows)
    assert r.status_code == 200
    assert r.json()["households"][1]["id"] == str(2 ** 70)


# ---------------------------------------------------------------- empty and mis-encoded
def test_a_header_without_households_is_refused_alike_in_memory_and_streamed(
        df, example_model_path, tmp_path, capsys):
    data = tmp_path / "header.csv"
    df.head(0).to_csv(data, index=False)
    for extra in ([], ["--batch-rows", "5"]):
        code, _, err = run(["score", str(data), "--model", str(example_model_path), "--out",
                            str(tmp_path / "s.csv"), *extra], capsys)
        assert code == 3 and "no data rows to score" in err, err
        assert not (tmp_path / "s.csv").exists()


def test_a_spec_saved_as_utf16_says_so(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.read_text(), encoding="utf-16")
    with pytest.raises(rima.errors.SpecError, match="saved as UTF-16; save the spec as UTF-8"):
        rima.load_spec(path)


def test_serve_refuses_an_inconsistent_model_file_before_listening(example_model_path,
                                                                   tmp_path, capsys):
    # an SD of 0 used to crash the first scoring, so `rima serve` exited 1 at start
    content = json.loads(example_model_path.read_text())
    content["variables"]["sd"][4] = 0.0
    bad = _write(content, tmp_path / "m.json")
    code, _, err = run(["serve", "--model", str(bad), "--port", "0"], capsys)
    assert code == 3, err
    assert r"variables.sd[4]: must be positive" in err


def test_ten_complete_households_fit_or_get_an_input_error(tmp_path, capsys):
    """Ten complete rows: the fit either works or says what in the data to look at (exit
    3); never an internal error."""
    spec = rima.load_spec(SPEC)
    d = pd.read_csv(DATA)
    d = d[d[list(spec.variables)].notna().all(axis=1)]
    for seed in range(3):
        data = tmp_path / f"ten{seed}.csv"
        d.sample(10, random_state=seed).to_csv(data, index=False)
        code, _, err = run(["fit", str(data), "--spec", str(SPEC), "--out",
                            str(tmp_path / f"fit{seed}"), "--no-report"], capsys)
        assert code in (0, 3), err
        assert "internal error" not in err


# ---------------------------------------------------------------- a carriage return in a cell
def test_an_id_holding_a_carriage_return_stays_one_row_in_every_csv(df, example_model_path,
                                                                     tmp_path, capsys):
    """Python's csv writer leaves a bare carriage return unquoted and readers split the row
    there; every CSV rima writes quotes such a cell, so each household stays one row."""
    ids = [f"hh{i}\rA" if i % 7 == 0 else f"hh{i}" for i in range(len(df))]
    data = df.assign(hhid=ids)
    table = tmp_path / "ids.csv"
    rima.write_table(data, table)
    back = rima.read_table(table)
    assert len(back) == len(df) and list(back["hhid"]) == ids
    for extra in ([], ["--batch-rows", "9"]):
        out = tmp_path / f"scores{len(extra)}.csv"
        code, _, err = run(["score", str(table), "--model", str(example_model_path),
                            "--out", str(out), *extra], capsys)
        assert code == 0, err
        scored = pd.read_csv(out)
        assert len(scored) == len(df) and list(scored["hhid"]) == ids, extra
    # the default quoting is unchanged for tables without one
    rima.write_table(df, tmp_path / "plain.csv")
    assert '"' not in (tmp_path / "plain.csv").read_text()
