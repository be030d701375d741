"""Exit status and output of the foundation commands: simulate, validate, demo."""

import subprocess
import sys

import pandas as pd
import pytest
from _cli import run


def test_simulate_writes_tables(tmp_path, capsys):
    code, out, _ = run(["simulate", "--n", "300", "--seed", "4", "--out", str(tmp_path)], capsys)
    assert code == 0
    for name in ["households", "soums", "truth"]:
        assert (tmp_path / f"{name}.csv").exists() and f"{name}" in out
    assert len(pd.read_csv(tmp_path / "households.csv")) == 300


def test_simulate_panel_parquet(tmp_path, capsys):
    code, _, _ = run(
        ["simulate", "--n", "50", "--out", str(tmp_path), "--panel", "--format", "parquet"],
        capsys,
    )
    assert code == 0
    hh = pd.read_parquet(tmp_path / "households.parquet")
    assert len(hh) == 100 and set(hh["round"]) == {1, 2}


def test_simulate_usage_error(tmp_path, capsys):
    code, _, err = run(["simulate", "--n", "0", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--n" in err


def test_validate_example_ok(example_dir, capsys):
    code, out, _ = run(
        ["validate", str(example_dir / "households.csv"), "--spec", str(example_dir / "spec.toml")],
        capsys,
    )
    assert code == 0
    assert "Row accounting" in out and "missing value in hay_reserve_t" in out
    assert "herd_su" in out and "median" in out and "usable: yes" in out


def test_validate_writes_row_status(example_dir, tmp_path, capsys):
    target = tmp_path / "status.csv"
    code, _, _ = run(
        ["validate", str(example_dir / "households.csv"), "--spec",
         str(example_dir / "spec.toml"), "--row-status", str(target)],
        capsys,
    )
    assert code == 0
    st = pd.read_csv(target)
    assert len(st) == 2240 and list(st.columns) == ["row", "hhid", "status"]
    assert (st["status"] == "ok").sum() > 2000


def test_validate_bad_data_exit_3_names_column(example_dir, tmp_path, capsys):
    df = pd.read_csv(example_dir / "households.csv")
    df["herd_su"] = df["herd_su"].astype(object)
    df.loc[4, "herd_su"] = "many"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    code, out, err = run(["validate", str(bad), "--spec", str(example_dir / "spec.toml")], capsys)
    assert code == 3
    assert "'herd_su'" in out and "data row 5" in out and "'many'" in out
    assert "bad.csv" in err


@pytest.mark.parametrize("change, needle", [
    (lambda d: d.assign(has_vehicle=d["has_motorbike"]), "perfectly correlated"),
    (lambda d: d.assign(herd_su=d["herd_su"] * 1e200), "too large for float64"),
])
def test_validate_does_not_call_usable_what_the_fit_refuses(example_dir, tmp_path, capsys,
                                                          change, needle):
    bad = tmp_path / "bad.csv"
    change(pd.read_csv(example_dir / "households.csv")).to_csv(bad, index=False)
    spec = str(example_dir / "spec.toml")
    code, out, _ = run(["validate", str(bad), "--spec", spec], capsys)
    assert code == 3 and "the fit would stop:" in out and needle in out
    assert "usable: no" in out and "usable: yes" not in out
    code, _, err = run(["fit", str(bad), "--spec", spec, "--out", str(tmp_path / "f"),
                        "--no-report"], capsys)
    assert code == 3 and needle in err


@pytest.mark.parametrize(
    "data, spec_text, needle",
    [
        ("missing.csv", None, "missing.csv: file not found"),
        ("data.json", None, "'.json'"),
        ("data.csv", "[data]\nid = 1\n", "invalid spec"),
    ],
)
def test_input_errors_exit_3(example_dir, tmp_path, capsys, data, spec_text, needle):
    path = tmp_path / data
    if data != "missing.csv":
        path.write_text("a,b\n1,2\n")
    spec = example_dir / "spec.toml"
    if spec_text:
        spec = tmp_path / "spec.toml"
        spec.write_text(spec_text)
    code, _, err = run(["validate", str(path), "--spec", str(spec)], capsys)
    assert code == 3 and needle in err


def test_validate_without_spec_is_usage_error(example_dir, capsys):
    code, _, err = run(["validate", str(example_dir / "households.csv")], capsys)
    assert code == 2 and "--spec" in err


def test_demo(capsys):
    code, out, _ = run(["demo"], capsys)
    assert code == 0
    assert "2240 rows" in out and "usable: yes" in out


def test_console_entry_point_exit_status(tmp_path):
    # the real process boundary: python -m rima returns 3 for input errors
    proc = subprocess.run(
        [sys.executable, "-m", "rima", "validate", str(tmp_path / "x.csv"), "--spec", "s.toml"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 3 and "s.toml: spec file not found" in proc.stderr


def test_demo_process_does_not_import_scikit_learn():
    # scikit-learn's import (it pulls in scipy.stats) costs about a second of the demo's
    # budget; only rima.FactorModel needs it, the pipeline fits rima.factor.FactorAnalysis
    code = ("import sys\nfrom rima.cli import main\ntry:\n    main(['demo'])\n"
            "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "print(sorted(m for m in ('sklearn', 'scipy.stats') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_factor_model_is_the_pipelines_analysis_as_an_estimator():
    from sklearn.base import BaseEstimator

    from rima import FactorAnalysis, FactorModel

    assert issubclass(FactorModel, FactorAnalysis) and issubclass(FactorModel, BaseEstimator)
    assert not issubclass(FactorAnalysis, BaseEstimator)
    assert "n_factors" in FactorModel(n_factors=2).get_params()
