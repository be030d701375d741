"""Pillars are whatever the spec names, in any number: a fit and every analysis command
with pillars ACCESS, ASSETS, SAFETY_NETS, ADAPTIVE and a fifth, COLLECTIVE, show every
pillar wherever pillars are shown (regression: the analyses once carried only the score
columns ABS, AST, SSN and AC and silently dropped the others)."""

import warnings

import pytest

from rima.cli import main
from rima.io import read_table

PILLARS = ["ACCESS", "ASSETS", "SAFETY_NETS", "ADAPTIVE", "COLLECTIVE"]


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    assert exc.value.code == 0, out.err
    return out.out


@pytest.fixture(scope="module")
def five(tmp_path_factory, small_survey, example_spec):
    import rima

    d = tmp_path_factory.mktemp("five_pillars")
    p = example_spec.to_dict()["pillars"]
    spec = example_spec.to_dict()
    spec["pillars"] = {
        "ACCESS": p["ABS"], "ASSETS": p["AST"],
        "SAFETY_NETS": [v for v in p["SSN"] if v not in ("coop_member", "pug_member")],
        "ADAPTIVE": p["AC"], "COLLECTIVE": ["coop_member", "pug_member", "child_money"],
    }
    paths = small_survey.write(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rima.fit(small_survey.households, spec)
    result.save(d / "fit", report=False)
    panel = rima.simulate(600, seed=8, panel=True).write(d / "panel")
    return {"dir": d, "result": result, "data": str(paths["households"]),
            "soums": str(paths["soums"]), "model": str(d / "fit" / "model.json"),
            "panel": str(panel["households"]), "panel_soums": str(panel["soums"])}


def test_fit_outputs_show_every_pillar(five):
    result, fit = five["result"], five["dir"] / "fit"
    assert list(result.pillars) == PILLARS
    assert result.scores.columns[1:6].tolist() == PILLARS
    assert result.scores.loc[result.ok, PILLARS].notna().all().all()
    assert read_table(fit / "scores.csv").columns[1:6].tolist() == PILLARS
    assert read_table(fit / "rsm.csv")["pillar"].tolist() == PILLARS
    for var in ("soum", "head_sex"):
        cols = read_table(fit / f"profile_{var}.csv").columns
        assert all(f"mean_{p}" in cols and f"rsm_{p}" in cols for p in PILLARS)
    rhs = set(result.mimic.params.query("op == '~'")["rhs"])
    assert set(PILLARS) <= rhs
    text = result.summary()
    assert all(p in text for p in PILLARS)


def test_analyses_carry_every_pillar(five):
    from rima.analysis.frame import household_frame
    from rima.analysis.shocks import shocks

    frame = household_frame(five["result"])
    assert all(frame[p].notna().any() for p in PILLARS)
    assert not {"ABS", "AST", "SSN", "AC"} & set(frame.columns)
    # a pillar as the resilience regressor: each one reaches the regression
    for p in PILLARS:
        tab = shocks(five["result"], soums=read_table(five["soums"]), rci=p).table
        assert p in set(tab["term"])


def test_analysis_commands_show_every_pillar(five, capsys, tmp_path):
    f = five
    run(["shocks", f["data"], "--model", f["model"], "--soums", f["soums"], "--rci",
         "COLLECTIVE", "--out", str(tmp_path / "shocks")], capsys)
    assert "COLLECTIVE" in set(read_table(tmp_path / "shocks" / "shocks_ols.csv")["term"])
    run(["target", f["data"], "--model", f["model"], "--soums", f["soums"], "--out",
         str(tmp_path / "target")], capsys)
    assert (tmp_path / "target" / "soum_ranking.csv").exists()
    run(["scenario", f["data"], "--model", f["model"], "--change",
         "scale hay_reserve_t factor=1.2", "--boot", "20", "--sensitivity", "--out",
         str(tmp_path / "scenario")], capsys)
    sens = read_table(tmp_path / "scenario" / "sensitivity.csv")
    assert sorted(set(sens["pillar"])) == sorted(PILLARS)
    run(["panel", f["panel"], "--model", f["model"], "--soums", f["panel_soums"], "--out",
         str(tmp_path / "panel")], capsys)
    assert all(p in read_table(tmp_path / "panel" / "panel_scores.csv").columns
               for p in PILLARS)
