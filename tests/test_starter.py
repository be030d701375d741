"""`rima init` and rima.starter: the guessed starter spec."""

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from rima.cli import main
from rima.options import FACTOR_KEYS, KNOWN_OPTIONS, Options
from rima.spec import load_spec
from rima.starter import guess_spec, option_defaults, starter_toml, to_toml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "zavkhan"


@pytest.fixture(scope="module")
def households():
    return pd.read_csv(EXAMPLE / "households.csv")


def test_guess_on_the_bundled_example_matches_its_spec_roles(households):
    g = guess_spec(households)
    bundled = load_spec(EXAMPLE / "spec.toml")
    assert g.id == "hhid" and g.weight == "hh_weight"
    assert g.profiles == ["soum", "head_sex"]
    assert sorted(g.indicators) == sorted(bundled.indicators)
    # every variable of the hand-written spec is guessed into the same pillar
    for pillar, variables in bundled.pillars.items():
        assert set(variables) <= set(g.pillars[pillar]), pillar
    assert {"dist_soum_km", "dist_vet_km", "dist_health_km"} <= set(g.negative)
    assert "sheep" not in g.pillars["AST"] and "has_motorbike" in g.pillars["AST"]
    assert g.role_of("winter_loss_su") is None and "outcome" in g.reasons["winter_loss_su"]
    assert g.role_of("water_source") is None  # text, not numeric


def test_starter_toml_loads_and_lists_every_column_and_option(households):
    text = starter_toml(households, source="households.csv")
    spec = load_spec(tomllib.loads(text))
    assert spec.id == "hhid" and len(spec.pillars) == 4
    assert spec.options.negative[:3] == ("dist_soum_km", "dist_vet_km", "dist_health_km")
    for col in households.columns:
        assert f"#   {col} " in text
    for key in KNOWN_OPTIONS - {"factor", "anchor"}:
        assert f"{key} = " in text, key
    for key in FACTOR_KEYS:
        assert f"# {key} = " in text, key
    assert "[options.anchor]" in text


def test_every_option_has_help_and_the_code_default():
    rows = {k: (d, h) for k, d, h in option_defaults()}
    assert set(rows) == (KNOWN_OPTIONS - {"factor"}) | {f"factor.{k}" for k in FACTOR_KEYS}
    assert all(h for _, h in rows.values())
    assert rows["mimic_se"][0] == Options().mimic_se == "robust.sem"
    assert rows["factor.retention"][0] == "cumvar95"


def test_short_pillar_is_left_out_with_its_reason():
    df = pd.DataFrame({"hhid": [1, 2], "herd_su": [1.0, 2.0], "hay_t": [1.0, 3.0],
                       "fcs": [30.0, 40.0], "hdds": [5, 6]})
    g = guess_spec(df)
    assert "AST" not in g.pillars and g.short_pillars["AST"] == ["herd_su", "hay_t"]
    assert "at least 3" in g.reasons["herd_su"]
    assert "# AST = " in starter_toml(df)


def test_to_toml_round_trips_a_spec():
    spec = load_spec(EXAMPLE / "spec.toml")
    d = spec.to_dict()
    d["options"] = {"negative": ["dist_soum_km"], "rci_100": [0.5, 2.0], "weights": True,
                    "factor": {"retention": 1, "AST": {"extraction": "ml"}},
                    "anchor": {"ABS": "-dist_vet_km"}}
    again = load_spec(tomllib.loads(to_toml(d)))
    assert again.to_dict() == load_spec(d).to_dict()
    assert again.options.factor_settings("AST").extraction == "ml"


def test_init_command_writes_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "spec.toml"
    with pytest.raises(SystemExit) as e:
        main(["init", str(EXAMPLE / "households.csv"), "--out", str(out)])
    assert e.value.code == 0 and load_spec(out).id == "hhid"
    with pytest.raises(SystemExit) as e:
        main(["init", str(EXAMPLE / "households.csv"), "--out", str(out)])
    assert e.value.code == 2 and "--force" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["init", str(tmp_path / "nope.csv")])
    assert e.value.code == 3
