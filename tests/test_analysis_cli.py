"""`rima shocks`, `rima panel`, `rima scenario`, `rima target`: outputs and exit codes."""

import warnings

import pytest
from _cli import run

from rima.io import read_table


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_survey, example_spec):
    import rima

    d = tmp_path_factory.mktemp("analysis_cli")
    paths = small_survey.write(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rima.fit(small_survey.households, example_spec)
    result.model.save(d / "model.json")
    panel = rima.simulate(600, seed=8, panel=True)
    panel_paths = panel.write(d / "panel")
    return {"dir": d, "data": str(paths["households"]), "soums": str(paths["soums"]),
            "model": str(d / "model.json"), "panel": str(panel_paths["households"]),
            "panel_soums": str(panel_paths["soums"])}


def test_shocks_command(files, capsys, tmp_path):
    code, out, err = run(["shocks", files["data"], "--model", files["model"], "--soums",
                          files["soums"], "--soum-shock", "dzud_class", "--out", str(tmp_path)],
                         capsys)
    assert code == 0, err
    assert "RCI:dzud_class[dzud]" in out and "clustered by soum (24 clusters)" in out
    tab = read_table(tmp_path / "shocks_ols.csv")
    assert "RCI:loss_share" in set(tab["term"])
    code, out, err = run(["shocks", files["data"], "--model", files["model"], "--soums",
                          files["soums"], "--kind", "probit", "--no-interactions"], capsys)
    assert code == 0, err
    assert "Weighted probit" in out and "fcs < 35" in out


def test_target_command(files, capsys, tmp_path):
    code, _out, err = run(["target", files["data"], "--model", files["model"], "--soums",
                          files["soums"], "--thresholds", "40,60", "--out", str(tmp_path),
                          "--format", "dta"], capsys)
    assert code == 0, err
    ranking = read_table(tmp_path / "soum_ranking.dta")
    assert ranking["rank"].tolist() == list(range(1, len(ranking) + 1))
    code, _out, err = run(["target", files["data"], "--model", files["model"], "--thresholds",
                          "60,40"], capsys)
    assert code == 3 and "strictly increasing" in err


def test_scenario_command(files, capsys, tmp_path):
    code, out, err = run(["scenario", files["data"], "--model", files["model"], "--change",
                          "enrol social_insurance points=5 soums=Ider,Tes", "--change",
                          "scale hay_reserve_t factor=1.2", "--boot", "100", "--sensitivity",
                          "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert "command line: +" in out and "Effect of one standard deviation" in out
    ov = read_table(tmp_path / "scenario_overall.csv")
    assert ov.loc[0, "ci_lower"] <= ov.loc[0, "mean_change"] <= ov.loc[0, "ci_upper"]
    assert (tmp_path / "sensitivity.csv").exists()
    code, out, err = run(["scenario", files["data"], "--model", files["model"], "--change",
                          "enrol social_insurance share=5"], capsys)
    assert code == 3 and "impossible share 5" in err
    code, out, err = run(["scenario", files["data"], "--model", files["model"]], capsys)
    assert code == 3 and "no scenario" in err


def test_panel_command(files, capsys, tmp_path):
    code, out, err = run(["panel", files["panel"], "--model", files["model"], "--soums",
                          files["panel_soums"], "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert "Class transitions, round 1 -> 2" in out
    assert (tmp_path / "panel_change.csv").exists()
    code, out, err = run(["panel", files["panel"], "--spec", str(files["dir"] / "nospec.toml"),
                          "--model", files["model"]], capsys)
    assert code == 2
    code, out, err = run(["panel", files["data"], "--model", files["model"]], capsys)
    assert code == 3 and "no 'round' column" in err


def test_scenario_command_with_refits(files, capsys):
    from pathlib import Path

    spec = Path(__file__).resolve().parents[1] / "examples" / "zavkhan" / "spec.toml"
    code, out, err = run(["scenario", files["data"], "--spec", str(spec), "--refit", "3",
                          "--boot", "50", "--change", "scale hay_reserve_t factor=1.2"], capsys)
    assert code == 0, err
    assert "with model refits: [" in out
    code, _, err = run(["scenario", files["data"], "--model", files["model"], "--refit", "3",
                        "--change", "scale hay_reserve_t factor=1.2"], capsys)
    assert code == 2 and "--refit needs --spec" in err
