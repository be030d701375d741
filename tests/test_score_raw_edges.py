"""Raw modules at the edges of scoring: ids the service cannot use are a 422 naming the
module, column and row (never a 500), the answer can carry every id it accepted, a
household the build could not build says why, and `rima score --source` refuses what it
would otherwise ignore."""

import json

import numpy as np
import pandas as pd
import pytest
from _cli import run
from fastapi.testclient import TestClient

from rima.service import create_app

MODULES = ("households", "roster", "livestock", "food", "expenditure", "own_production",
           "income", "assets")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import tomllib

    import rima
    from rima.build.run import build_for_spec
    from rima.simulation import simulate
    from rima.simulation_raw import raw_spec_text
    from rima.spec import load_spec

    raw = simulate(n_households=400, seed=9).raw()
    spec = load_spec(tomllib.loads(raw_spec_text()))
    table, spec, _ = build_for_spec(spec, None, raw)
    model = rima.fit(table, spec).model
    d = tmp_path_factory.mktemp("raw_edges")
    model.save(d / "model.json")
    for m in MODULES:
        raw[m].to_csv(d / f"{m}.csv", index=False)
    return model, raw, d, TestClient(create_app({"zav": model}))


def _records(df):
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


def _modules(raw, n=4):
    ids = raw["households"]["hhid"].iloc[:n]
    return {m: _records(raw[m][raw[m]["hhid"].isin(ids)]) for m in MODULES}


def _post(client, modules):
    # sent as bytes: the test client's own encoder would refuse some of these values
    return client.post("/models/zav/score-raw", content=json.dumps({"modules": modules}),
                       headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("module, value, shown", [
    ("households", {"x": 1}, "an object"),
    ("households", [1], "an array"),
    ("households", True, "true"),
    ("households", 2**70, str(2**70)),
    ("households", 2**63, str(2**63)),
    ("roster", {"a": 1}, "an object"),
    ("roster", 2**70, str(2**70)),
])
def test_an_unusable_household_id_is_a_422_naming_module_column_and_row(
        setup, module, value, shown):
    client = setup[3]
    mods = _modules(setup[1])
    mods[module][1]["hhid"] = value
    r = _post(client, mods)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["message"].startswith(f"module {module!r}, column 'hhid': a household id must")
    assert f"row(s) 2 (first: {shown})" in err["message"]
    assert err["errors"][0]["field"] == f"{module}.hhid" and err["errors"][0]["rows"] == [2]


def test_a_decimal_id_beyond_2_53_is_a_422_with_its_row(setup):
    mods = _modules(setup[1])
    mods["roster"][0]["hhid"] = 1e20
    r = _post(setup[3], mods)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert "module 'roster', column 'hhid'" in err["message"] and "2**53" in err["message"]
    assert err["errors"][0]["field"] == "roster.hhid" and err["errors"][0]["rows"] == [1]


def test_an_object_or_array_in_a_module_cell_is_a_422(setup):
    mods = _modules(setup[1])
    mods["livestock"][2]["species"] = {"name": "sheep"}
    mods["roster"][0]["age"] = [30]
    r = _post(setup[3], mods)
    assert r.status_code == 422, r.text
    errors = r.json()["error"]["errors"]
    assert {(e["field"], tuple(e["rows"])) for e in errors} == {
        ("livestock.species", (3,)), ("roster.age", (1,))}
    assert "first: an object" in errors[0]["message"] + errors[1]["message"]


def test_a_data_error_of_the_build_is_a_422(setup):
    mods = _modules(setup[1])
    for row in mods["households"]:
        row["hhid"] = None  # no id at all: the build refuses the table
    r = _post(setup[3], mods)
    assert r.status_code == 422, r.text
    assert "hhid" in r.json()["error"]["message"]


def _blank_and_repeated(raw, n=6):
    """The first n households, the third without an id and the fourth repeating the fifth's."""
    hh = raw["households"].iloc[:n].copy()
    hh["hhid"] = hh["hhid"].astype(object)
    hh.iloc[2, hh.columns.get_loc("hhid")] = None
    hh.iloc[3, hh.columns.get_loc("hhid")] = hh["hhid"].iloc[4]
    return hh


NO_ID = "not built: household without an id"
REPEATED = "not built: household id repeated in the household table"


def test_a_household_not_built_says_why_and_ids_stay_integers(setup):
    raw = setup[1]
    mods = _modules(raw, 6)
    hh = _blank_and_repeated(raw)
    mods["households"] = _records(hh)
    r = _post(setup[3], mods)
    assert r.status_code == 200, r.text
    out = r.json()
    ids = [h["id"] for h in out["households"]]
    want = [None if v is None else int(v) for v in hh["hhid"]]
    assert ids == want and all(type(i) is int for i in ids if i is not None)
    status = [h["status"] for h in out["households"]]
    # both rows of the repeated id: a module row of it could belong to either
    assert status[2] == NO_ID and status[3] == status[4] == REPEATED
    assert not any(s.startswith("not built") for i, s in enumerate(status)
                   if i not in (2, 3, 4))
    assert out["n_not_scored"] == sum(s != "ok" for s in status)
    assert [row["hhid"] for row in out["build"]["report"]] == want


def test_the_stdlib_encoder_answers_a_household_without_an_id(setup, monkeypatch):
    from rima.service import encoding

    monkeypatch.setattr(encoding, "orjson", None)
    mods = _modules(setup[1])
    mods["households"][0]["hhid"] = None
    r = _post(setup[3], mods)
    assert r.status_code == 200, r.text
    assert r.json()["households"][0]["id"] is None


def test_the_encoder_writes_any_integer_and_missing_values():
    from rima.service.encoding import encode_json

    assert json.loads(encode_json({"id": 2**70, "x": float("nan")})) == {"id": 2**70,
                                                                        "x": None}
    assert json.loads(encode_json({"id": pd.NA})) == {"id": None}


def test_with_build_reasons_leaves_a_fully_built_batch_alone(setup):
    from rima.build.run import score_raw
    from rima.build.status import with_build_reasons

    model, raw = setup[0], setup[1]
    scores, built = score_raw(model, {m: raw[m] for m in MODULES[1:]}, raw["households"])
    status = scores["status"]
    assert with_build_reasons(status, built, "households") is status


# the command line


def _sources(d, skip=("households",)):
    return [a for m in MODULES if m not in skip for a in ("--source", f"{m}={d / (m + '.csv')}")]


def test_score_from_raw_modules_says_why_a_household_was_not_built(setup, tmp_path, capsys):
    raw, d = setup[1], setup[2]
    _blank_and_repeated(raw).to_csv(tmp_path / "hh.csv", index=False)
    out = tmp_path / "s.csv"
    code, text, err = run(["score", str(tmp_path / "hh.csv"), "--model", str(d / "model.json"),
                           "--out", str(out), *_sources(d)], capsys)
    assert code == 0, err
    scores = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert scores["status"].iloc[2] == NO_ID
    assert scores["status"].iloc[3] == scores["status"].iloc[4] == REPEATED
    # one blank id does not turn the others into decimals
    assert scores["hhid"].tolist() == ["100001", "100002", "", "100005", "100005", "100006"]
    assert f"1  {NO_ID}: row 3" in text and f"2  {REPEATED}: rows 4, 5" in text


def test_score_refuses_sources_with_the_dask_engine(setup, tmp_path, capsys):
    d = setup[2]
    code, _, err = run(["score", str(d / "households.csv"), "--model", str(d / "model.json"),
                        "--out", str(tmp_path / "s"), "--engine", "dask", *_sources(d)], capsys)
    assert code == 2 and "--source" in err and "--engine dask" in err
    assert not (tmp_path / "s").exists()


def test_score_refuses_a_source_given_twice(setup, tmp_path, capsys):
    d = setup[2]
    code, _, err = run(["score", str(d / "households.csv"), "--model", str(d / "model.json"),
                        "--out", str(tmp_path / "s.csv"), *_sources(d),
                        "--source", f"roster={tmp_path / 'other.csv'}"], capsys)
    assert code == 3 and "source 'roster' is given twice" in err and "other.csv" in err
    assert not (tmp_path / "s.csv").exists()


def test_score_refuses_the_household_table_as_data_and_as_a_source(setup, tmp_path, capsys):
    d = setup[2]
    hh = setup[1]["households"].iloc[:5]
    hh.to_csv(tmp_path / "few.csv", index=False)
    code, _, err = run(["score", str(d / "households.csv"), "--model", str(d / "model.json"),
                        "--out", str(tmp_path / "s.csv"), *_sources(d, skip=())], capsys)
    assert code == 2 and "household table 'households'" in err and "--source" in err
    # given once, as a source, it is the household table scored
    code, text, err = run(["score", "--model", str(d / "model.json"), "--out",
                           str(tmp_path / "s.csv"), "--json", *_sources(d, skip=())],
                          capsys)
    assert code == 0, err
    assert json.loads(text)["rows"] == 400
    code, text, err = run(["score", "--model", str(d / "model.json"), "--out",
                           str(tmp_path / "s5.csv"), "--json", *_sources(d),
                           "--source", f"households={tmp_path / 'few.csv'}"], capsys)
    assert code == 0, err
    assert json.loads(text)["rows"] == 5



def test_dask_partitions_without_the_built_variables_are_refused_before_any_worker(
        setup, tmp_path, capsys):
    pytest.importorskip("distributed")
    d = setup[2]
    parts = tmp_path / "parts"
    parts.mkdir()
    setup[1]["households"].to_csv(parts / "part-0.csv", index=False)
    code, _, err = run(["score", str(parts), "--model", str(d / "model.json"), "--out",
                        str(tmp_path / "s"), "--engine", "dask"], capsys)
    assert code == 3 and "part-0.csv: lacks" in err and "herd_su" in err
    assert "--source" in err and not (tmp_path / "s").exists()


def test_scores_and_the_build_files_are_written_all_or_none(setup, tmp_path, capsys):
    d = setup[2]
    out = tmp_path / "s.csv"
    (tmp_path / "s_households_build_issues.csv").mkdir()  # a destination it cannot write
    code, _, err = run(["score", str(d / "households.csv"), "--model", str(d / "model.json"),
                        "--out", str(out), *_sources(d)], capsys)
    assert code == 3 and "s_households_build_issues.csv" in err
    assert not out.exists() and not (tmp_path / "s_households.csv").exists()


def test_dask_options_are_refused_where_they_would_be_ignored(setup, tmp_path, capsys):
    d = setup[2]
    # a folder of parts is written: a table's name for it is refused
    code, _, err = run(["score", str(d), "--model", str(d / "model.json"), "--out",
                        str(tmp_path / "s.csv"), "--engine", "dask"], capsys)
    assert code == 2 and "folder of Parquet parts" in err
    assert not (tmp_path / "s.csv").exists()
    # --scheduler and --workers without --engine dask
    for opt in (["--scheduler", "tcp://127.0.0.1:1"], ["--workers", "3"]):
        code, _, err = run(["score", str(d / "households.csv"), "--model",
                            str(d / "model.json"), "--out", str(tmp_path / "t.csv"), *opt],
                           capsys)
        assert code == 2 and opt[0] in err and "--engine dask only" in err
        assert not (tmp_path / "t.csv").exists()
