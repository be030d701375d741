"""Shared fixtures: the bundled example, a small simulated survey, its spec."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = ROOT / "examples" / "zavkhan"
EXAMPLE_SPEC = EXAMPLE_DIR / "spec.toml"
EXAMPLE_DATA = EXAMPLE_DIR / "households.csv"


@pytest.fixture(scope="session")
def example_dir():
    return EXAMPLE_DIR


@pytest.fixture(scope="session")
def example_spec():
    from rima.spec import load_spec

    return load_spec(EXAMPLE_SPEC)


@pytest.fixture(scope="session")
def small_survey():
    """A 600-household survey (seed 7); treat as read-only, copy before changing."""
    from rima.simulation import simulate

    return simulate(n_households=600, seed=7)


@pytest.fixture()
def small_households(small_survey):
    return small_survey.households.copy()


def reference_spec() -> dict:
    """The bundled spec as the R reference scripts run it: psych's orientation and no
    reversed variables (tests/reference/*.R predate the spec's `negative` list)."""
    from rima.spec import load_spec

    sd = load_spec(EXAMPLE_SPEC).to_dict()
    sd["options"] = {"orientation": "reference"}
    return sd


@pytest.fixture(scope="session")
def example_model_path(tmp_path_factory):
    """model.json of the bundled example, fitted once per session; copy before editing."""
    import rima

    path = tmp_path_factory.mktemp("example_model") / "model.json"
    rima.fit(EXAMPLE_DATA, EXAMPLE_SPEC).model.save(path)
    return path


def fit_quiet(data, spec):
    """`rima.fit` with its warnings (orientation, rows left out) silenced: tests that
    check numbers, not messages."""
    import warnings

    import rima

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rima.fit(data, spec)
