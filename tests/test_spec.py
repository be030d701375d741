import copy
from pathlib import Path

import pytest

from rima.errors import RimaInputError, SpecError
from rima.spec import Spec, load_spec

BASE = {
    "data": {"id": "hhid", "weight": "hh_weight", "profiles": ["soum"]},
    "pillars": {
        "ABS": ["dist_soum_km", "dist_vet_km", "solar_power"],
        "AST": ["herd_su", "hay_reserve_t", "shelter_quality"],
        "SSN": ["social_insurance", "health_insurance", "coop_member"],
        "AC": ["head_edu_years", "n_income_sources", "training"],
    },
    "indicators": {"food_security": ["fcs", "log_food_exp_ae", "hdds"]},
}


def spec_with(**changes):
    table = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = table
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(key)
        else:
            node[key] = value
    return table


def test_example_spec_loads(example_spec, example_dir):
    s = example_spec
    assert isinstance(s, Spec)
    assert s.id == "hhid" and s.weight == "hh_weight"
    assert s.profiles == ("soum", "head_sex")
    assert list(s.pillars) == ["ABS", "AST", "SSN", "AC"]
    assert s.pillars["AST"][0] == "herd_su"
    assert s.indicators == ("fcs", "log_food_exp_ae", "hdds")
    assert s.indicator_group == "food_security"
    assert s.source == example_dir / "spec.toml"
    assert all(len(v) >= 5 for v in s.pillars.values())
    assert s.variables[-3:] == s.indicators
    assert s.pillar_of("hay_reserve_t") == "AST" and s.pillar_of("fcs") is None


def test_dict_and_spec_inputs():
    s = load_spec(BASE)
    assert load_spec(s) is s
    assert s.source is None
    assert s.required_columns[:3] == ("hhid", "hh_weight", "soum")
    assert load_spec(s.to_dict()) == s


def test_pillar_order_is_kept():
    table = spec_with()
    table["pillars"] = dict(reversed(list(table["pillars"].items())))
    assert list(load_spec(table).pillars) == ["AC", "SSN", "AST", "ABS"]


def test_toml_file(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text(
        '[data]\nid = "hhid"\n[pillars]\nA = ["a", "b", "c"]\nB = ["d", "e", "f"]\n'
        '[indicators]\nfs = ["y1", "y2"]\n'
    )
    s = load_spec(p)
    assert s.pillars == {"A": ("a", "b", "c"), "B": ("d", "e", "f")}
    assert s.indicator_group == "fs" and s.weight is None and s.profiles == ()
    assert s.source == p


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"extra": {"x": 1}}, "unknown top-level key(s): extra"),
        ({"data__idd": "x"}, "unknown key(s) in [data]: idd"),
        ({"options": {"no_such_option": 1}}, "no_such_option"),
        ({"pillars__AC": ["head_edu_years", "herd_su", "training"]},
         "'herd_su' is in two pillars: AST and AC"),
        ({"pillars__SSN": ["social_insurance", "health_insurance"]},
         "pillar SSN has 2 variable(s); a pillar needs at least 3"),
        ({"indicators": {"food_security": ["fcs"]}},
         "indicator group food_security has 1 variable(s); the MIMIC model needs at least 2"),
        ({"indicators": {"a": ["fcs", "hdds"], "b": ["x", "y"]}}, "exactly one group"),
        ({"data__id": None}, "[data] needs id"),
        ({"pillars": None}, "missing [pillars] table"),
        ({"indicators": None}, "missing [indicators] table"),
        ({"pillars__ABS": "dist_soum_km"}, "pillar ABS must be a list of column names"),
        ({"pillars__ABS": ["dist_soum_km", "dist_soum_km", "solar_power"]},
         "pillar ABS lists 'dist_soum_km' twice"),
        ({"indicators": {"food_security": ["fcs", "herd_su"]}},
         "'herd_su' is both an indicator and in pillar AST"),
        ({"data__id": "herd_su"}, "id column 'herd_su' is also in pillar AST"),
        ({"data__weight": 3}, "[data] weight must be a column name"),
        ({"pillars__RCI": ["a", "b", "c"]}, "pillar name 'RCI' is reserved"),
        ({"pillars__bad name": ["a", "b", "c"]}, "must be an identifier"),
    ],
)
def test_each_spec_error_is_named(changes, needle):
    with pytest.raises(SpecError) as exc:
        load_spec(spec_with(**changes))
    assert needle in str(exc.value)
    assert isinstance(exc.value, RimaInputError)


def test_all_problems_reported_at_once(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(
        '[data]\nid = "hhid"\ncolour = "red"\n[pillars]\nA = ["a", "b"]\nB = ["a", "c", "d"]\n'
        '[indicators]\nfs = ["y"]\n'
    )
    with pytest.raises(SpecError) as exc:
        load_spec(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: invalid spec (4 problems)")
    for needle in ["colour", "pillar A has 2", "'a' is in two pillars", "fs has 1"]:
        assert needle in msg


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(SpecError, match="nope.toml: spec file not found"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "broken.toml"
    bad.write_text("[data\nid = 1\n")
    with pytest.raises(SpecError, match="broken.toml: not valid TOML"):
        load_spec(bad)
    with pytest.raises(SpecError, match="must be a TOML file path"):
        load_spec(42)


def test_check_columns_lists_every_missing_name_with_suggestions():
    s = load_spec(BASE)
    cols = [c for c in s.required_columns if c not in {"hay_reserve_t", "fcs", "coop_member"}]
    cols += ["hay_reserve", "FCS"]
    with pytest.raises(SpecError) as exc:
        s.check_columns(cols, source="survey.csv")
    msg = str(exc.value)
    assert "3 column(s) named in the spec are not in survey.csv" in msg
    assert "hay_reserve_t (pillar AST); did you mean 'hay_reserve'?" in msg
    assert "fcs (indicator food_security); did you mean 'FCS'?" in msg
    assert "coop_member (pillar SSN)" in msg
    assert s.missing_columns(cols) == ["hay_reserve_t", "coop_member", "fcs"]
    s.check_columns(list(s.required_columns))  # complete data: no error


def test_spec_is_frozen():
    s = load_spec(BASE)
    with pytest.raises(AttributeError):
        s.id = "other"
    with pytest.raises(TypeError):
        s.pillars["ABS"] = ("x",)


def test_example_spec_matches_example_data(example_spec, example_dir):
    import pandas as pd

    header = pd.read_csv(example_dir / "households.csv", nrows=0).columns
    example_spec.check_columns(header)
    readme = Path(example_dir / "README.md").read_text()
    for name in ("households", "soums", "truth"):
        for col in pd.read_csv(example_dir / f"{name}.csv", nrows=0).columns:
            assert f"`{col}`" in readme, f"{name}.csv column {col} is not described"
