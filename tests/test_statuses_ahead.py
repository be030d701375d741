"""Large fits work out every row's status beside the pillars and the MIMIC: the statuses
are those worked out after the scores, and a row that the model fails to score gets its
reason all the same."""

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLE_DATA, EXAMPLE_SPEC, fit_quiet

import rima.pipeline as pl


@pytest.fixture(scope="module")
def data():
    df = pd.read_csv(EXAMPLE_DATA)
    df.loc[[2, 30], "herd_su"] = np.nan
    df.loc[[5], "fcs"] = np.nan
    df.loc[[9], "hh_weight"] = np.nan
    return df


@pytest.mark.parametrize("options", [{}, {"weights": True}, {"missing": "all_columns"},
                                     {"rci_prediction": "causes"}])
def test_statuses_ahead_are_the_statuses_after(data, monkeypatch, options):
    from rima.spec import load_spec

    sd = load_spec(EXAMPLE_SPEC).to_dict()
    sd["options"] = {**sd.get("options", {}), **options}
    after = fit_quiet(data, sd)
    used = []
    real = pl.statuses_ahead
    monkeypatch.setattr(pl, "statuses_ahead",
                        lambda inp, pool: used.append(pool is not None) or real(inp, pool))
    # as a large fit runs: the pool beside the steps
    monkeypatch.setattr(pl, "PARALLEL_ROWS", 0)
    ahead = fit_quiet(data, sd)
    assert used == [True]
    pd.testing.assert_frame_equal(ahead.scores, after.scores)
    pd.testing.assert_frame_equal(ahead.accounting, after.accounting)


def test_a_row_the_model_fails_to_score_is_reported(data, monkeypatch):
    # the statuses worked out ahead expect every analysed row scored; when one is not (a
    # prediction that is not finite), the statuses are worked out again from the rows scored
    monkeypatch.setattr(pl, "PARALLEL_ROWS", 0)
    real_scale = pl.scale_scores

    def one_lost(inp, P, mim, out):
        sc = real_scale(inp, P, mim, out)
        first = int(np.flatnonzero(sc.scored)[0])
        sc.scored = sc.scored.copy()
        sc.scored[first] = False
        return sc

    monkeypatch.setattr(pl, "scale_scores", one_lost)
    res = fit_quiet(data, EXAMPLE_SPEC)
    monkeypatch.setattr(pl, "scale_scores", real_scale)
    full = fit_quiet(data, EXAMPLE_SPEC)
    changed = np.flatnonzero(res.scores["status"].to_numpy() != full.scores["status"].to_numpy())
    # exactly the lost row changed status, and it has a reason
    assert changed.tolist() == [int(np.flatnonzero(full.analysed.to_numpy())[0])]
    assert res.scores["status"].iloc[changed[0]] not in ("ok", "")
    assert int(res.accounting["rows"].sum()) == len(data)
