"""Hostile and careless inputs: each case gets a clear, named refusal or a row status, never
a crash, a silent wrong answer, a lost row or a partial file.

CLI cases check the exit status (3 = input error) and that nothing was written or
overwritten; API cases check the error names the column, row or field at fault.
"""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima
from rima.cli import main
from rima.errors import DataError, RimaInputError, SpecError
from rima.streaming import score_file

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "zavkhan" / "households.csv"
SPEC = ROOT / "examples" / "zavkhan" / "spec.toml"


@pytest.fixture(scope="module")
def df():
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def model(example_model_path):
    return rima.load(example_model_path)


def run(args, capsys):
    """(exit status, stdout, stderr) of `rima ARGS`."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def _dup_csv(df, path):
    """The example with a second herd_su column (values that would change the scores)."""
    text = df.head(50).to_csv(index=False).splitlines()
    lines = [text[0] + ",herd_su"] + [t + ",1" for t in text[1:]]
    path.write_text("\n".join(lines) + "\n")
    return list(df.columns).index("herd_su") + 1, df.shape[1] + 1


# ---------------------------------------------------------------- duplicate column names
def test_duplicate_columns_refused_by_every_command(df, example_model_path, tmp_path, capsys):
    first, second = _dup_csv(df, tmp_path / "dup.csv")
    msg = f"column 'herd_su' appears twice (columns {first} and {second})"
    for args in (["validate", tmp_path / "dup.csv", "--spec", SPEC],
                 ["score", tmp_path / "dup.csv", "--model", example_model_path, "--out",
                  tmp_path / "s.csv"],
                 ["score", tmp_path / "dup.csv", "--model", example_model_path, "--out",
                  tmp_path / "s.csv", "--batch-rows", 10],
                 ["fit", tmp_path / "dup.csv", "--spec", SPEC, "--out", tmp_path / "fit",
                  "--no-report"]):
        code, _, err = run(args, capsys)
        assert code == 3, args
        assert msg in err, (args, err)
    assert not (tmp_path / "s.csv").exists()
    assert not (tmp_path / "fit").exists() or not any((tmp_path / "fit").iterdir())


def test_duplicate_columns_refused_by_the_api(df, model):
    d = df.head(20).copy()
    d.insert(3, "herd_su", 1.0, allow_duplicates=True)
    pos = [i + 1 for i, c in enumerate(d.columns) if c == "herd_su"]
    with pytest.raises(DataError, match=rf"column 'herd_su' appears twice \(columns "
                                        rf"{pos[0]} and {pos[1]}\)"):
        model.score(d)
    rep = rima.validate(d, SPEC)
    assert not rep.ok
    assert rep.errors[0].kind == "duplicate_column"
    assert f"(columns {pos[0]} and {pos[1]})" in rep.errors[0].message


def test_duplicate_columns_refused_in_streamed_parquet(df, model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = df.head(20)
    t = pa.Table.from_pandas(d, preserve_index=False)
    t = t.append_column("fcs", pa.array(np.zeros(len(d))))
    pq.write_table(t, tmp_path / "dup.parquet")
    with pytest.raises(DataError, match=r"column 'fcs' appears twice \(columns \d+ and "
                                        rf"{d.shape[1] + 1}\)"):
        score_file(model, tmp_path / "dup.parquet", tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_duplicate_columns_refused_by_the_service(df, model, tmp_path):
    client = _client(model)
    first, second = _dup_csv(df, tmp_path / "dup.csv")
    r = client.post("/models/m/score", content=(tmp_path / "dup.csv").read_bytes(),
                    headers={"content-type": "text/csv"})
    assert r.status_code == 422
    assert (f"column 'herd_su' appears twice (columns {first} and {second})"
            in r.json()["error"]["message"])


# ---------------------------------------------------------------- outputs over inputs
def test_outputs_never_overwrite_inputs(df, example_model_path, tmp_path, capsys):
    data = tmp_path / "x.csv"
    df.head(30).to_csv(data, index=False)
    before = data.read_bytes()
    for args in (["score", data, "--model", example_model_path, "--out", data],
                 ["score", data, "--model", example_model_path, "--out", data,
                  "--batch-rows", 7],
                 ["score", data, "--model", example_model_path, "--out",
                  tmp_path / "." / "x.csv"],
                 ["validate", data, "--spec", SPEC, "--row-status", data]):
        code, _, err = run(args, capsys)
        assert code == 3 and "would overwrite the input" in err, (args, err)
        assert data.read_bytes() == before
    # a model written over itself, and a fit directory holding the data as scores.csv
    code, _, err = run(["score", data, "--model", example_model_path, "--out",
                        example_model_path], capsys)
    assert code == 3 and "would overwrite the input" in err
    fitdir = tmp_path / "fit"
    fitdir.mkdir()
    shutil.copy(data, fitdir / "scores.csv")
    code, _, err = run(["fit", fitdir / "scores.csv", "--spec", SPEC, "--out", fitdir,
                        "--no-report"], capsys)
    assert code == 3 and "under a name the command writes" in err
    assert (fitdir / "scores.csv").read_bytes() == before
    assert sorted(p.name for p in fitdir.iterdir()) == ["scores.csv"]


# ---------------------------------------------------------------- non-finite scores
def test_overflowing_values_name_the_cell_in_every_scoring_path(df, model, tmp_path):
    d = df.head(8).astype({"solar_power": float, "hdds": float}).copy()
    d.loc[0, "fcs"] = 1e308          # an indicator: RCI_100 would be inf
    d.loc[1, "solar_power"] = 1e308  # a binary variable: was "not scored", no reason
    d.loc[2, "herd_su"] = math.inf   # infinite cells: in memory and streamed alike
    d.loc[3, "hdds"] = -math.inf
    want = {0: "value 1e+308 in fcs gives a score that is not finite",
            1: "value 1e+308 in solar_power gives a score that is not finite",
            2: "value inf in herd_su gives a score that is not finite",
            3: "value -inf in hdds gives a score that is not finite"}
    mem = model.score(d)
    d.to_csv(tmp_path / "in.csv", index=False)
    score_file(model, tmp_path / "in.csv", tmp_path / "out.csv", batch_rows=3)
    streamed = pd.read_csv(tmp_path / "out.csv")
    for s in (mem, streamed):
        for i, status in want.items():
            assert s.loc[i, "status"] == status
        ok = s["status"] == "ok"
        assert np.isfinite(s.loc[ok, ["RCI", "RCI_100"]].to_numpy(dtype=float)).all()
        assert s.loc[~ok, ["RCI", "RCI_100"]].isna().all().all()
        assert ok.sum() >= 3
    pd.testing.assert_series_equal(mem["status"], streamed["status"], check_dtype=False)


def test_service_never_sends_a_class_beside_a_non_finite_score(df, model):
    rows = json.loads(df.head(3).to_json(orient="records"))
    rows[0]["fcs"] = 1e308
    client = _client(model)
    r = client.post("/models/m/score", json=rows)
    assert r.status_code == 200
    h = r.json()["households"][0]
    assert h["status"] == "value 1e+308 in fcs gives a score that is not finite"
    assert h["RCI_100"] is None and h.get("class") is None
    # an infinite cell in an uploaded CSV: the same row status as everywhere else
    d = df.head(3).astype({"hdds": float})
    d.loc[1, "hdds"] = math.inf
    r = client.post("/models/m/score", content=d.to_csv(index=False).encode(),
                    headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["households"][1]["status"] == ("value inf in hdds gives a score that is "
                                                   "not finite")


# ---------------------------------------------------------------- hostile JSON
def _client(model, **settings):
    from fastapi.testclient import TestClient

    from rima.service import ServiceSettings, create_app

    return TestClient(create_app({"m": model}, ServiceSettings(**settings)))


@pytest.mark.parametrize("body, status, words", [
    (b"[" * 100_000 + b"]" * 99_999, 400, "nested too deeply"),
    (b"[" * 100_000 + b"]" * 100_000, 422, "expected a JSON object"),
    (b'[{"hhid": 1, "fcs": ' + b"9" * 400 + b"}]", 422, "field 'fcs' must be a number"),
    (b'[{"hhid": ' + b"9" * 400 + b', "fcs": 1}]', 422, "integers of at most 64 bits"),
    (b'[{"hhid": 1, "fcs": 1e400}]', 400, "too large for a float64"),
    (b'[{"hhid": 1, "fcs": [[[[[[1]]]]]]}]', 422, "field 'fcs' must be a number"),
], ids=["deep-broken", "deep-valid", "huge-integer", "huge-id", "huge-float", "nested-field"])
def test_hostile_json_gets_an_answer_in_the_error_shape(model, df, body, status, words):
    if b"hhid" in body:
        row = json.loads(df.head(1).to_json(orient="records"))[0]
        head = json.dumps({k: v for k, v in row.items() if k not in ("hhid", "fcs")})[1:-1]
        body = body.replace(b'[{"hhid"', b'[{' + head.encode() + b', "hhid"')
    r = _client(model).post("/models/m/score", content=body,
                            headers={"content-type": "application/json"})
    assert r.status_code == status, r.text[:300]
    err = r.json()["error"]
    assert err["status"] == status and isinstance(err["errors"], list)
    if words:
        assert words in err["message"]


def test_service_refuses_empty_ids(df, model):
    rows = json.loads(df.head(3).to_json(orient="records"))
    rows[1]["hhid"] = ""
    rows[2]["hhid"] = "   "
    rows[0]["hhid"] = "a"
    r = _client(model).post("/models/m/score", json=rows)
    assert r.status_code == 422
    assert r.json()["error"]["errors"][0]["rows"] == [2, 3]


# ---------------------------------------------------------------- streaming failures
def test_a_failed_stream_leaves_no_partial_file_and_names_the_line(df, model, tmp_path):
    big = pd.concat([df] * 3, ignore_index=True)
    big["hhid"] = np.arange(len(big))
    lines = big.to_csv(index=False).splitlines()
    lines[5001] = lines[5001] + ",extra,fields"  # file line 5002: data row 5001
    src = tmp_path / "in.csv"
    src.write_text("\n".join(lines) + "\n")
    dst = tmp_path / "out.csv"
    dst.write_text("an earlier result\n")
    with pytest.raises(DataError, match=r"line 5002 has \d+ field\(s\), the header has"):
        score_file(model, src, dst, batch_rows=1000)
    assert dst.read_text() == "an earlier result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_ids_that_turn_to_text_after_the_first_block_are_read_as_text(df, model, tmp_path):
    big = pd.concat([df] * 40, ignore_index=True)
    ids = [str(i) for i in range(len(big))]
    ids[-1] = "HH-last"
    big["hhid"] = ids
    big.to_csv(tmp_path / "in.csv", index=False)
    s = score_file(model, tmp_path / "in.csv", tmp_path / "out.parquet", batch_rows=5000)
    assert s.rows == len(big)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["hhid"].tolist() == ids
    want = model.score(big)
    np.testing.assert_array_equal(out["RCI_100"].to_numpy(), want["RCI_100"].to_numpy())


def test_corrupted_parquet_exits_3(df, example_model_path, tmp_path, capsys):
    big = pd.concat([df] * 5, ignore_index=True)
    big.to_parquet(tmp_path / "in.parquet", row_group_size=2000)
    raw = bytearray((tmp_path / "in.parquet").read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 4000] = b"\xff" * 4000
    (tmp_path / "bad.parquet").write_bytes(bytes(raw))
    code, _, err = run(["score", tmp_path / "bad.parquet", "--model", example_model_path,
                        "--out", tmp_path / "out.csv", "--batch-rows", 1000], capsys)
    assert code == 3, err
    assert "bad.parquet" in err and "internal error" not in err
    assert not (tmp_path / "out.csv").exists()


def test_parquet_decimal_columns_stream_as_they_read_in_memory(df, model, tmp_path):
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    d = df.head(40)
    t = pa.Table.from_pandas(d, preserve_index=False)
    i = t.schema.get_field_index("herd_su")
    dec = pa.array([None if pd.isna(v) else decimal.Decimal(f"{v:.2f}") for v in d["herd_su"]],
                   type=pa.decimal128(12, 2))
    t = t.set_column(i, "herd_su", dec)
    pq.write_table(t, tmp_path / "dec.parquet")
    score_file(model, tmp_path / "dec.parquet", tmp_path / "out.parquet", batch_rows=16)
    got = pd.read_parquet(tmp_path / "out.parquet")
    want = model.score(rima.io.read_table(tmp_path / "dec.parquet"))
    np.testing.assert_array_equal(got["RCI_100"].to_numpy(), want["RCI_100"].to_numpy())
    assert (got["status"] == want["status"]).all()


def test_json_summary_counts_every_bad_cell(df, example_model_path, tmp_path, capsys):
    big = pd.concat([df] * 2, ignore_index=True)
    big["hhid"] = np.arange(len(big))
    big["herd_su"] = big["herd_su"].astype(object)
    big.loc[:1499, "herd_su"] = "lots"
    big.to_csv(tmp_path / "in.csv", index=False)
    code, out, _ = run(["score", tmp_path / "in.csv", "--model", example_model_path, "--out",
                        tmp_path / "out.csv", "--batch-rows", 500, "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["n_bad_cells"] == 1500 and len(info["bad_cells"]) == 1000


# ---------------------------------------------------------------- the spec
def _spec(**changes):
    sd = rima.load_spec(SPEC).to_dict()
    for k, v in changes.items():
        sd[k] = v
    return sd


@pytest.mark.parametrize("id_name", ["status", "out_of_range", "RCI", "RCI_100", "row",
                                     "class"])
def test_an_id_with_an_output_name_is_refused(id_name):
    sd = _spec()
    sd["data"]["id"] = id_name
    with pytest.raises(SpecError, match=f"id column '{id_name}' has the name of an output"):
        rima.load_spec(sd)


@pytest.mark.parametrize("pillar", ["out_of_range", "row", "class", "status", "RCI"])
def test_a_pillar_with_an_output_name_is_refused(pillar):
    sd = _spec()
    sd["pillars"] = {(pillar if k == "AC" else k): v for k, v in sd["pillars"].items()}
    with pytest.raises(SpecError, match=f"pillar name '{pillar}' is reserved"):
        rima.load_spec(sd)


@pytest.mark.parametrize("bounds", [[0, math.inf], [0, 5e-324], [-1e308, 1e308], [1, 1],
                                    [2, 1], [math.nan, 1]])
def test_degenerate_fixed_rci_100_bounds_are_refused(bounds):
    sd = _spec()
    sd["options"] = {"rci_100": bounds}
    with pytest.raises(SpecError, match="rci_100 = "):
        rima.load_spec(sd)


def test_spec_with_a_byte_order_mark_loads(tmp_path):
    p = tmp_path / "spec.toml"
    p.write_bytes(b"\xef\xbb\xbf" + SPEC.read_bytes())
    assert rima.load_spec(p).pillar_names == rima.load_spec(SPEC).pillar_names


def _spec_file(path, options: dict, drop_weight=False):
    """The example spec as TOML with `options` added to its [options] table."""
    from rima.starter import to_toml

    sd = _spec()
    sd["options"] = {**sd["options"], **options}
    if drop_weight:
        del sd["data"]["weight"]
    path.write_text(to_toml(sd))
    return path


@pytest.mark.parametrize("options, words", [({"negative": ["nonexistent"]}, "nonexistent"),
                                            ({"weights": True}, "needs a weight column")])
def test_validate_refuses_what_fit_refuses(df, tmp_path, capsys, options, words):
    p = _spec_file(tmp_path / "spec.toml", options, drop_weight="weights" in options)
    code_v, _, err_v = run(["validate", DATA, "--spec", p], capsys)
    code_f, _, err_f = run(["fit", DATA, "--spec", p, "--out", tmp_path / "o", "--no-report"],
                           capsys)
    assert code_v == code_f == 3
    assert words in err_v and words in err_f


# ---------------------------------------------------------------- fitting and scoring
def test_fiml_with_causes_prediction_scores_every_row(df):
    sd = _spec(options={"missing": "fiml", "rci_prediction": "causes"})
    res = rima.fit(df, sd)
    s = res.model.score(df)
    assert len(s) == len(df)
    ok = s["status"] == "ok"
    # causes need no indicator: a row is scored when its pillars are
    pill = df[list(rima.load_spec(SPEC).pillar_variables)].notna().all(axis=1)
    assert (ok == pill).all()
    assert np.isfinite(s.loc[ok, "RCI_100"]).all()


def test_zero_weights_are_accounted_alike_by_validate_and_fit(df):
    d = df.copy()
    d.loc[[0, 1, 2], "hh_weight"] = 0.0
    sd = _spec(options={"weights": True})
    rep = rima.validate(d, sd)
    res = rima.fit(d, sd)
    assert (rep.row_status.to_numpy() == res.scores["status"].to_numpy()).all()
    assert rep.row_status.iloc[0] == "non-positive weight in hh_weight"


def test_convergence_failure_from_the_data_is_an_input_error(df, tmp_path, capsys):
    d = df.copy()
    d.loc[0, "hh_weight"] = 1e300
    d.to_csv(tmp_path / "w.csv", index=False)
    _spec_file(tmp_path / "s.toml", {"weights": True})
    code, _, err = run(["fit", tmp_path / "w.csv", "--spec", tmp_path / "s.toml", "--out",
                        tmp_path / "o", "--no-report"], capsys)
    assert code == 3, err
    assert "weights in hh_weight range from" in err and "(row 1)" in err


def test_overflow_in_fit_names_the_column(df):
    d = df.copy()
    d["herd_su"] = d["herd_su"] * 1e300
    with pytest.raises(DataError, match=r"herd_su holds [\d.e+]+ at data row \d+"):
        rima.fit(d, SPEC)
    with pytest.raises(DataError, match=r"pillar AST: .*column 'herd_su' holds values up to"):
        rima.fit(d, _spec(options={"missing": "pillar"}))


def test_multiindex_columns_get_a_clear_error(df, model):
    d = df.head(5).copy()
    d.columns = pd.MultiIndex.from_tuples([(c, "") for c in d.columns])
    with pytest.raises(DataError, match="MultiIndex"):
        model.score(d)


def test_every_input_error_is_a_rima_input_error():
    assert issubclass(rima.errors.DataConvergenceError, RimaInputError)
