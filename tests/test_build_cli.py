"""rima simulate --raw, rima build, and fit / validate / score from raw modules."""

import json

import numpy as np
import pandas as pd
import pytest
from _cli import run

from rima.cli import main


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("raw")
    try:
        main(["simulate", "--n", "600", "--seed", "4", "--out", str(d), "--raw"])
    except SystemExit as exc:
        assert exc.code == 0
    return d


def test_simulate_raw_writes_modules_that_build_back_the_households(raw_dir, capsys):
    for name in ("households", "roster", "livestock", "food", "expenditure", "own_production",
                 "income", "assets"):
        assert (raw_dir / "raw" / f"{name}.csv").exists()
    cover = pd.read_csv(raw_dir / "raw" / "households.csv")
    assert "herd_su" not in cover and "fcs" not in cover
    code, out, _ = run(["build", str(raw_dir / "spec_raw.toml"), "--out",
                        str(raw_dir / "built.csv"), "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["households"] == 600
    built = pd.read_csv(raw_dir / "built.csv")
    hh = pd.read_csv(raw_dir / "households.csv")
    assert (built["hhid"] == hh["hhid"]).all()
    for col in ("hh_size", "fcs", "hdds", "rcsi", "n_durables", "head_edu_years"):
        pd.testing.assert_series_equal(built[col], hh[col], check_dtype=False)
    assert (built["head_sex"] == hh["head_sex"]).all()
    # the simulator rounds these: herd to 0.1 sheep unit, ratios to 3 decimals, log to 5
    np.testing.assert_allclose(built["herd_su"], hh["herd_su"], atol=0.051)
    np.testing.assert_allclose(built["dependency_ratio"], hh["dependency_ratio"], atol=5e-4)
    np.testing.assert_allclose(built["nonlivestock_income_share"],
                               hh["nonlivestock_income_share"], atol=5e-4)
    np.testing.assert_allclose(built["log_food_exp_ae"], hh["log_food_exp_ae"], atol=2e-5)
    # whole animals lost: within one animal's units of the simulated loss
    assert (np.abs(built["winter_loss_su"] - hh["winter_loss_su"]) <= 7.05).all()
    # every household in the report, the missing values of the simulator named there
    rep = pd.read_csv(raw_dir / "built_build_report.csv")
    assert len(rep) == 600
    miss = hh["log_food_exp_ae"].isna()
    assert (rep.loc[miss, "log_food_exp_ae"].str.startswith("input food_exp_ae")).all()
    assert (rep.loc[~miss, "log_food_exp_ae"] == "ok").all()
    issues = pd.read_csv(raw_dir / "built_build_issues.csv")
    assert set(issues["status"]) == {"missing value"}


def test_build_writes_any_format_and_reports_bad_rows(raw_dir, tmp_path, capsys):
    roster = pd.read_csv(raw_dir / "raw" / "roster.csv")
    roster.loc[0, "age"] = 140
    roster.loc[len(roster)] = [999999, 1, 1, "male", 30, 5.0]
    roster.to_csv(tmp_path / "roster.csv", index=False)
    out = tmp_path / "b.parquet"
    code, text, _ = run(["build", str(raw_dir / "spec_raw.toml"), "--out", str(out),
                         "--source", f"roster={tmp_path / 'roster.csv'}"], capsys)
    assert code == 0, text
    rep = pd.read_parquet(tmp_path / "b_build_report.parquet")
    assert rep.loc[0, "dependency_ratio"] == "age out of range 0-120 in roster.age"
    issues = pd.read_parquet(tmp_path / "b_build_issues.parquet")
    orphan = issues[issues["status"] == "household absent from household table"]
    assert orphan[["module", "household", "row"]].values.tolist() == [
        ["roster", "999999", len(roster)]]
    assert "age out of range" in text


def test_build_errors_exit_3_and_name_the_fault(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[data]\nid = "hhid"\n[pillars]\nA = ["a", "b", "c"]\n'
                    '[indicators]\nfs = ["x", "y"]\n[sources]\nhouseholds = "h.csv"\n'
                    '[build.x]\nrecipe = "fcs"\nsource = "food"\n')
    code, _, err = run(["build", str(spec), "--out", str(tmp_path / "o.csv")], capsys)
    assert code == 3 and "source 'food' is not in [sources]" in err
    assert not (tmp_path / "o.csv").exists()


def test_fit_validate_and_score_from_raw_modules(raw_dir, tmp_path, capsys):
    spec = str(raw_dir / "spec_raw.toml")
    code, out, _ = run(["validate", "--spec", spec], capsys)
    assert code == 0 and "usable: yes" in out and "built 18 variable(s)" in out
    fit_dir = tmp_path / "fit"
    code, out, err = run(["fit", "--spec", spec, "--out", str(fit_dir), "--no-report",
                          "--quiet", "--json"], capsys)
    assert code == 0, err
    assert (fit_dir / "households_built_build_report.csv").exists()
    assert json.loads(out)["build"]["households"] == 600
    model = json.loads((fit_dir / "model.json").read_text())
    recipes = model["spec"]["build"]
    assert recipes["fcs"]["thresholds"] == [28, 42]
    assert len(recipes["asset_index"]["fitted"]["weights"]) == 8
    fitted_scores = pd.read_csv(fit_dir / "scores.csv")

    # new households: the same raw modules of the first 50 households
    new = tmp_path / "new"
    new.mkdir()
    args = []
    for name in ("households", "roster", "livestock", "food", "expenditure",
                 "own_production", "income", "assets"):
        df = pd.read_csv(raw_dir / "raw" / f"{name}.csv")
        df[df["hhid"] <= 100050].to_csv(new / f"{name}.csv", index=False)
        if name != "households":
            args += ["--source", f"{name}={new / (name + '.csv')}"]
    code, out, err = run(["score", str(new / "households.csv"), "--model",
                          str(fit_dir / "model.json"), "--out", str(tmp_path / "s.csv"),
                          "--json", *args], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["rows"] == 50
    scored = pd.read_csv(tmp_path / "s.csv")
    ref = fitted_scores.iloc[:50]
    assert (scored["status"] == ref["status"]).all()
    ok = ref["status"] == "ok"
    np.testing.assert_allclose(scored.loc[ok, "RCI_100"], ref.loc[ok, "RCI_100"], rtol=1e-9)
    assert (tmp_path / "s_households_build_report.csv").exists()


def test_score_raw_through_the_api_uses_stored_constants(raw_dir):
    import rima
    from rima.build.run import build_for_spec, score_raw
    from rima.spec import load_spec

    spec = load_spec(raw_dir / "spec_raw.toml")
    table, spec2, built = build_for_spec(spec)
    result = rima.fit(table, spec2)
    hh = pd.read_csv(raw_dir / "raw" / "households.csv").iloc[:40]
    mods = {}
    for n in ("roster", "livestock", "food", "expenditure", "own_production", "income",
              "assets"):
        df = pd.read_csv(raw_dir / "raw" / f"{n}.csv")
        mods[n] = df[df["hhid"].isin(hh["hhid"])]
    scores, b = score_raw(result.model, mods, hh)
    # the asset index of the new households uses the training weights, not a refit
    np.testing.assert_allclose(b.table["asset_index"], built.table["asset_index"].iloc[:40])
    ok = result.scores["status"].iloc[:40] == "ok"
    np.testing.assert_allclose(scores.loc[ok.to_numpy(), "RCI"],
                               result.scores.loc[ok[ok].index, "RCI"], rtol=1e-9)


def test_build_writes_stata(raw_dir, tmp_path, capsys):
    code, _, err = run(["build", str(raw_dir / "spec_raw.toml"), "--out",
                        str(tmp_path / "b.dta")], capsys)
    assert code == 0, err
    rep = pd.read_stata(tmp_path / "b_build_report.dta")
    issues = pd.read_stata(tmp_path / "b_build_issues.dta")
    assert len(rep) == 600 and len(issues) > 0
    assert pd.read_stata(tmp_path / "b.dta")["fcs"].notna().all()


def test_data_is_required_without_a_build(tmp_path, capsys):
    from pathlib import Path

    spec = Path(__file__).resolve().parents[1] / "examples" / "zavkhan" / "spec.toml"
    code, _, err = run(["fit", "--spec", str(spec), "--out", str(tmp_path / "f")], capsys)
    assert code == 2 and "DATA is required" in err
    code, _, err = run(["score", "--model", str(tmp_path / "m.json"), "--out",
                        str(tmp_path / "s.csv")], capsys)
    assert code == 3 and "m.json" in err


def test_a_failing_fit_leaves_no_empty_output_folder(tmp_path, capsys):
    from rima.example import example_dir

    ex = example_dir()
    # a valid spec whose roster file is not there: the fit fails after making --out
    text = (ex / "spec_raw.toml").read_text().replace('"raw/roster.csv.gz"', '"gone.csv"')
    (tmp_path / "spec.toml").write_text(text.replace('"raw/', f'"{ex}/raw/'))
    out = tmp_path / "new" / "fit"
    code, _, err = run(["fit", "--spec", str(tmp_path / "spec.toml"), "--out", str(out)],
                       capsys)
    assert code == 3 and "gone.csv" in err
    assert not out.exists() and out.parent.is_dir()
    # a folder that was there before stays
    out.mkdir()
    code, _, _ = run(["fit", "--spec", str(tmp_path / "spec.toml"), "--out", str(out)],
                     capsys)
    assert code == 3 and out.is_dir()


def test_fit_with_engine_dask_refuses_a_spec_that_builds(raw_dir, tmp_path, capsys):
    from rima.example import example_dir

    spec = example_dir() / "spec_raw.toml"
    code, _, err = run(["fit", str(tmp_path), "--spec", str(spec), "--engine", "dask",
                        "--out", str(tmp_path / "f")], capsys)
    assert code == 2 and "[build]" in err and "rima build" in err
    assert "Traceback" not in err and not (tmp_path / "f").exists()


def test_build_refuses_a_source_given_twice_and_writes_whole_ids(raw_dir, tmp_path, capsys):
    from rima.example import example_dir

    spec = example_dir() / "spec_raw.toml"
    code, _, err = run(["build", str(spec), "--out", str(tmp_path / "b.csv"),
                        "--source", f"roster={raw_dir / 'roster.csv'}",
                        "--source", f"roster={tmp_path / 'other.csv'}"], capsys)
    assert code == 3 and "source 'roster' is given twice" in err
    assert not (tmp_path / "b.csv").exists()
    # a blank id makes the household ids decimals in memory; the files show them whole
    raw = example_dir() / "raw"
    hh = pd.read_csv(raw / "households.csv.gz")
    hh.loc[3, "hhid"] = np.nan
    hh.to_csv(tmp_path / "hh.csv", index=False)
    code, _, _ = run(["build", str(spec), "--out", str(tmp_path / "b.csv"),
                      "--source", f"households={tmp_path / 'hh.csv'}"], capsys)
    assert code == 0
    for name in ("b.csv", "b_build_report.csv"):
        ids = (tmp_path / name).read_text().splitlines()[1].split(",")[0]
        assert ids == str(int(hh["hhid"].iloc[0])), name


def test_fit_refuses_to_write_over_a_raw_module(tmp_path, capsys):
    import shutil

    from rima.example import example_dir

    ex = example_dir()
    out = tmp_path / "out"
    out.mkdir()
    shutil.copytree(ex / "raw", tmp_path / "raw")
    # the roster kept in the output folder under a name the fit writes there
    shutil.copy(tmp_path / "raw" / "roster.csv.gz", out / "scores.csv.gz")
    text = (ex / "spec_raw.toml").read_text().replace('"raw/roster.csv.gz"',
                                                        '"out/scores.csv.gz"')
    assert "out/scores.csv.gz" in text
    (tmp_path / "spec_raw.toml").write_text(text.replace('"raw/', f'"{tmp_path}/raw/'))
    before = (out / "scores.csv.gz").read_bytes()
    code, _, err = run(["fit", "--spec", str(tmp_path / "spec_raw.toml"), "--out", str(out),
                        "--no-report"], capsys)
    assert code == 3 and "scores.csv.gz" in err and "overwrite" in err
    assert (out / "scores.csv.gz").read_bytes() == before


def test_a_fit_names_the_files_an_earlier_fit_left_in_its_folder(tmp_path, capsys):
    from rima.example import example_dir

    d = example_dir()
    args = ["fit", str(d / "households.csv"), "--spec", str(d / "spec.toml"), "--out",
            str(tmp_path), "--no-report"]
    code, _, err = run([*args, "--format", "parquet"], capsys)
    assert code == 0 and "earlier run" not in err
    code, _, err = run(args, capsys)
    assert code == 0
    assert "earlier run" in err and "scores.parquet" in err and "scores.csv" not in err
    assert (tmp_path / "scores.parquet").exists()  # named, not removed
