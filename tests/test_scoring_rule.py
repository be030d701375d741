"""One scoring rule everywhere: a bad cell flags its row (status naming column and value),
never the file, in memory, streamed, through model.score and through the service; one CSV
format; --keep; the resilience class column; the row accounting printed."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from _cli import run
from conftest import EXAMPLE_DATA, EXAMPLE_SPEC

import rima


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(EXAMPLE_DATA, EXAMPLE_SPEC)
    return res.model.save(tmp_path_factory.mktemp("m") / "model.json")


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory):
    df = pd.read_csv(EXAMPLE_DATA).head(300).astype({"herd_su": object, "fcs": object})
    df.loc[4, "herd_su"] = "12o"
    df.loc[9, "fcs"] = "n/a?"
    df.loc[9, "herd_su"] = "lots"
    path = tmp_path_factory.mktemp("d") / "bad.csv"
    df.to_csv(path, index=False)
    return path


def test_same_bad_file_scores_the_same_everywhere(model_path, bad_file, tmp_path, capsys):
    small, streamed = tmp_path / "small.csv", tmp_path / "streamed.csv"
    code, out, err = run(["score", str(bad_file), "--model", str(model_path), "--out",
                          str(small)], capsys)
    assert code == 0, err
    assert "Row accounting" in out and "non-numeric value '12o' in herd_su" in out
    assert "'n/a?' in fcs: row 10" in out
    code, _, err = run(["score", str(bad_file), "--model", str(model_path), "--out",
                        str(streamed), "--batch-rows", "64"], capsys)
    assert code == 0, err
    a, b = pd.read_csv(small), pd.read_csv(streamed)
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    # the row's other gaps are still named after the bad cell
    assert a.loc[4, "status"] == ("non-numeric value '12o' in herd_su; "
                                  "missing value in log_food_exp_ae")
    assert a.loc[9, "status"] == ("non-numeric value 'lots' in herd_su; "
                                  "non-numeric value 'n/a?' in fcs")
    assert a.loc[[4, 9], ["RCI", "RCI_100", "class"]].isna().all().all()

    # the API: model.score on the frame as read
    api = rima.load(model_path).score(pd.read_csv(bad_file))
    assert (api["status"] == a["status"]).all()
    np.testing.assert_allclose(api["RCI_100"], a["RCI_100"], rtol=1e-12)

    # the service, same CSV body
    from fastapi.testclient import TestClient

    from rima.service.app import create_app

    with TestClient(create_app({"m": rima.load(model_path)})) as client:
        r = client.post("/models/m/score", content=bad_file.read_bytes(),
                        headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    got = r.json()["households"]
    assert [h["status"] for h in got] == a["status"].tolist()
    assert [h["class"] for h in got] == [None if pd.isna(v) else v for v in a["class"]]


def test_one_csv_format_empty_cells_and_one_boolean_style(model_path, bad_file, tmp_path,
                                                          capsys):
    import csv

    tables = []
    for name, extra in (("mem.csv", []), ("stream.csv", ["--batch-rows", "50"])):
        code, _, err = run(["score", str(bad_file), "--model", str(model_path), "--out",
                            str(tmp_path / name), *extra], capsys)
        assert code == 0, err
        with open(tmp_path / name, newline="") as fh:
            tables.append(list(csv.reader(fh)))
    mem, stream = tables
    assert mem[0] == stream[0]
    head = mem[0]
    for rows in tables:
        for r in rows[1:]:
            cells = dict(zip(head, r))
            assert cells["out_of_range"] in ("True", "False")  # one boolean style
            assert "nan" not in (v.lower() for v in r)
            if cells["status"] != "ok":  # missing scores are empty cells
                assert cells["RCI"] == cells["RCI_100"] == cells["class"] == ""
    text_cols = [k for k, c in enumerate(head) if c in ("hhid", "class", "status",
                                                        "out_of_range")]
    assert [[r[k] for k in text_cols] for r in mem] == [[r[k] for k in text_cols]
                                                        for r in stream]


def test_keep_columns_and_class(model_path, bad_file, tmp_path, capsys):
    for extra in ([], ["--batch-rows", "100"]):
        out = tmp_path / f"k{len(extra)}.csv"
        code, _, err = run(["score", str(bad_file), "--model", str(model_path), "--out",
                            str(out), "--keep", "soum,head_sex", *extra], capsys)
        assert code == 0, err
        got = pd.read_csv(out)
        src = pd.read_csv(bad_file)
        assert list(got.columns[:3]) == ["hhid", "soum", "head_sex"]
        assert (got["soum"] == src["soum"]).all()
        assert "class" in got.columns
        ok = got["status"] == "ok"
        expect = np.where(got["RCI_100"] < 100 / 3, "low",
                          np.where(got["RCI_100"] < 200 / 3, "medium", "high"))
        assert (got.loc[ok, "class"] == expect[ok]).all()
    code, _, err = run(["score", str(bad_file), "--model", str(model_path), "--out",
                        str(tmp_path / "x.csv"), "--keep", "soumm"], capsys)
    assert code == 3 and "soumm" in err and "did you mean 'soum'" in err
    # a data column named like a score column would be dropped without a word
    for name in ("status", "class", "RCI_100"):
        code, _, err = run(["score", str(bad_file), "--model", str(model_path), "--out",
                            str(tmp_path / "y.csv"), "--keep", f"soum,{name}"], capsys)
        assert code == 2 and "--keep" in err and name in err
        assert not (tmp_path / "y.csv").exists()


def test_json_accounting(model_path, bad_file, tmp_path, capsys):
    code, out, err = run(["score", str(bad_file), "--model", str(model_path), "--out",
                          str(tmp_path / "j.csv"), "--json"], capsys)
    assert code == 0, err
    info = json.loads(out)
    total = sum(r["rows"] for r in info["accounting"])
    assert total == info["rows"] == 300
    assert info["accounting"][0]["status"] == "ok"
