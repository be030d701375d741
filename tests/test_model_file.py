"""model.json: exact round trip, training scale for new households, clear errors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fingerprint_ref import fingerprint_reference

import rima
from rima.errors import ModelFileError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "reference" / "pipeline_data" / "sim_n600_s11.csv.gz"
SPEC = ROOT / "examples" / "zavkhan" / "spec.toml"
COLS = ["hhid", "ABS", "AST", "SSN", "AC", "RCI", "RCI_100", "status"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    df = pd.read_csv(DATA)
    res = rima.fit(df, SPEC)
    path = res.model.save(tmp_path_factory.mktemp("m") / "model.json")
    return df, res, path


def test_loaded_model_reproduces_fitted_scores(fitted):
    df, res, path = fitted
    s = rima.load(path).score(df)
    assert list(s.columns) == COLS + ["out_of_range"]
    pd.testing.assert_series_equal(s["status"], res.scores["status"])
    for c in ["ABS", "AST", "SSN", "AC", "RCI", "RCI_100"]:
        np.testing.assert_allclose(s[c], res.scores[c], atol=1e-10, rtol=0)
    assert not s["out_of_range"].any()


def test_new_households_use_the_training_scale(fitted):
    df, res, path = fitted
    m = rima.load(path)
    part = df.iloc[::7].reset_index(drop=True)   # a different batch: no re-centring
    s = m.score(part)
    np.testing.assert_allclose(s["RCI_100"], res.scores["RCI_100"].iloc[::7], atol=1e-10)
    rich = part.copy()
    rich["herd_su"] *= 30
    rich["hay_reserve_t"] *= 30
    s2 = m.score(rich)
    ok = s2["status"] == "ok"
    assert (s2.loc[ok, "RCI_100"] > 100).any()          # kept, not clipped
    assert (s2["out_of_range"] == ((s2["RCI_100"] > 100) | (s2["RCI_100"] < 0))).all()


def test_file_contents(fitted):
    df, res, path = fitted
    c = json.loads(path.read_text())
    assert c["format"] == "rima-model" and c["format_version"] == 1
    assert c["rima_version"] == rima.__version__
    assert c["spec"]["pillars"]["ABS"][0] == "dist_soum_km"
    ok = res.scores["status"] == "ok"
    assert c["rci_100_scale"]["min"] == res.scores.loc[ok, "RCI"].min()
    assert c["rci_100_scale"]["max"] == res.scores.loc[ok, "RCI"].max()
    spec = res.spec
    a = df.loc[ok.to_numpy(), list(spec.pillar_variables) + list(spec.indicators)]
    assert c["metadata"]["training_fingerprint"] == fingerprint_reference(a.to_numpy(float))
    assert set(c["orientation"]) == set(spec.pillar_names)
    assert c["checksum"].startswith("sha256:")


def test_truncated_file(fitted, tmp_path):
    _, _, path = fitted
    bad = tmp_path / "model.json"
    bad.write_text(path.read_text()[:-200])
    with pytest.raises(ModelFileError, match="truncated"):
        rima.load(bad)


def test_edited_file(fitted, tmp_path):
    _, _, path = fitted
    c = json.loads(path.read_text())
    c["rci_100_scale"]["max"] += 0.5
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps(c))
    with pytest.raises(ModelFileError, match="checksum"):
        rima.load(bad)


def test_incompatible_version(fitted, tmp_path):
    _, _, path = fitted
    c = json.loads(path.read_text())
    c["format_version"] = 99
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps(c))
    with pytest.raises(ModelFileError, match="version 99 is not supported"):
        rima.load(bad)


def test_not_a_model(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"a": 1}')
    with pytest.raises(ModelFileError, match="not a rima model"):
        rima.load(p)
    with pytest.raises(ModelFileError, match="not found"):
        rima.load(tmp_path / "missing.json")


def test_missing_column_named(fitted):
    df, _, path = fitted
    with pytest.raises(ModelFileError, match="herd_su") as exc:
        rima.load(path).score(df.drop(columns=["herd_su"]).rename(columns={"fcs": "FCS"}))
    assert "fcs" in str(exc.value) and "did you mean 'FCS'" in str(exc.value)


def test_missing_values_get_a_status(fitted):
    df, _, path = fitted
    d = df.copy()
    d.loc[3, "herd_su"] = np.nan
    s = rima.load(path).score(d)
    assert s.loc[3, "status"] == "missing value in herd_su"
    assert np.isnan(s.loc[3, "RCI"]) and np.isnan(s.loc[3, "AST"])
    assert len(s) == len(d)


def test_scoring_in_row_chunks_keeps_rows_reasons_and_row_numbers(fitted, monkeypatch):
    import rima.model_file as mf

    df, res, path = fitted
    d = df.copy()
    d.loc[3, "herd_su"] = np.nan      # chunk 0
    d.loc[250, "fcs"] = np.nan        # chunk 4: the same kind of reason, another chunk
    d.loc[251, "herd_su"] = np.nan
    d["hay_reserve_t"] = d["hay_reserve_t"].astype(object)
    blank = int(np.flatnonzero(res.ok.to_numpy())[-1])
    d.loc[blank, "hay_reserve_t"] = " "  # a blank text cell is missing, as in validate
    monkeypatch.setattr(mf, "SCORE_CHUNK", 61)
    s = rima.load(path).score(d)
    assert len(s) == len(d) and (s["hhid"] == d["hhid"]).all()
    assert s.loc[[3, 251], "status"].tolist() == ["missing value in herd_su"] * 2
    assert s.loc[250, "status"] == "missing value in fcs"
    assert s.loc[blank, "status"] == "missing value in hay_reserve_t"
    keep = ~d.index.isin([3, 250, 251, blank])
    np.testing.assert_allclose(s.loc[keep, "RCI_100"], res.scores.loc[keep, "RCI_100"],
                               atol=1e-10, rtol=0)
    # an infinite cell is the row's problem, named in its status (as streaming does)
    d.loc[300, "fcs"] = np.inf
    s = rima.load(path).score(d)
    assert s.loc[300, "status"] == "value inf in fcs gives a score that is not finite"
    assert np.isnan(s.loc[300, ["RCI", "RCI_100"]].astype(float)).all()
    d.loc[300, "fcs"] = 1.0
    d.loc[200, "hay_reserve_t"] = "lots"
    # one scoring rule: the bad cell flags its row, every other row is scored
    s2 = rima.load(path).score(d)
    assert s2.loc[200, "status"] == "non-numeric value 'lots' in hay_reserve_t"
    assert s2.loc[200, ["RCI", "RCI_100"]].isna().all()
    # (row 300 held the infinite cell in `s`; it is 1.0 now)
    assert (s2.drop(index=[200, 300])["status"] == s.drop(index=[200, 300])["status"]).all()
