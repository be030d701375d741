"""`rima.fit` and the fitted model's `score` of the same file give every row the same RCI,
RCI_100 and status: a row the model can predict is scored by both. The estimation sample
(the rows the missing-data rule lets into the MIMIC) is kept apart: with causes-only
prediction it is smaller than the scored rows, and the RCI_100 range, the RSM, the profiles
and the bootstrap describe it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cli import run

import rima

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "zavkhan" / "households.csv"
SPEC = ROOT / "examples" / "zavkhan" / "spec.toml"


@pytest.fixture(scope="module")
def df():
    d = pd.read_csv(DATA)
    spec = rima.load_spec(SPEC)
    # a few households with no indicator at all and a few missing both a pillar variable
    # and an indicator, beside the example's own gaps
    d.loc[[3, 40, 77], list(spec.indicators)] = np.nan
    d.loc[[5, 6], ["herd_su", "hdds"]] = np.nan
    return d


def _spec(**options):
    d = rima.load_spec(SPEC).to_dict()
    d["options"] = {**d.get("options", {}), **options}
    return d


CASES = [(p, m) for p in ("regression", "causes") for m in ("listwise", "fiml")]


@pytest.fixture(scope="module", params=CASES, ids=[f"{p}-{m}" for p, m in CASES])
def fitted(request, df):
    pred, missing = request.param
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(df, _spec(rci_prediction=pred, missing=missing))
    return pred, missing, res


def test_fit_and_score_of_the_same_file_agree_row_by_row(df, fitted):
    pred, _missing, res = fitted
    again = res.model.score(df)
    for col in ("RCI", "RCI_100", "status"):
        pd.testing.assert_series_equal(res.scores[col], again[col], check_exact=True)
    ok = res.scores["status"] == "ok"
    spec = rima.load_spec(SPEC)
    pillars_complete = df[list(spec.pillar_variables)].notna().all(axis=1)
    if pred == "causes":
        # causes-only prediction needs no indicator: every row with its pillars is scored
        assert (ok == pillars_complete).all()
        # and a row missing a pillar variable and an indicator is told only the former
        assert res.scores["status"].iloc[5] == "missing value in herd_su"
    else:
        assert not ok.iloc[[3, 40, 77]].any()


def test_the_estimation_sample_is_kept_apart_from_the_scored_rows(df, fitted):
    pred, missing, res = fitted
    ok = res.ok.to_numpy()
    analysed = res.analysed.to_numpy()
    assert not (analysed & ~ok).any()
    spec = rima.load_spec(SPEC)
    y_all = df[list(spec.indicators)].notna().all(axis=1).to_numpy()
    if missing == "listwise":
        # listwise: the MIMIC's sample is the complete rows, whatever the prediction
        assert (analysed == (ok & y_all)).all()
    if pred == "causes" and missing == "listwise":
        extra = int((ok & ~analysed).sum())
        assert extra > 0
        assert any(f"{extra} household(s) missing an indicator are scored" in n
                   for n in res.notes)
    else:
        assert (analysed == ok).all() or pred == "causes"
    # the training range is the min and max RCI over the estimation sample
    r100 = res.scores["RCI_100"].to_numpy()
    assert r100[analysed].min() == pytest.approx(0.0, abs=1e-12)
    assert r100[analysed].max() == pytest.approx(100.0, abs=1e-12)
    # the RSM's correlations and the profile counts are those of the estimation sample
    rci = res.scores["RCI"].to_numpy()
    for row in res.rsm.itertuples():
        p = res.scores[row.pillar].to_numpy()
        r = np.corrcoef(p[analysed], rci[analysed])[0, 1]
        assert row.r_signed == pytest.approx(r, abs=1e-10)
    tab = res.profiles["head_sex"].set_index("category")
    counts = df.loc[analysed, "head_sex"].value_counts()
    for cat, n in counts.items():
        assert tab.loc[cat, "households"] == n
    assert res.model.metadata["n_scored"] == int(analysed.sum())


def test_the_bootstrap_resamples_the_estimation_sample(df):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rima.fit(df, _spec(rci_prediction="causes"))
        boot = res.bootstrap(n_boot=4, seed=3, progress=False, threads=1)
    analysed = res.analysed.to_numpy()
    assert analysed.sum() < res.ok.sum()
    # the point estimate of the overall mean is that of the analysed households
    mean = res.scores["RCI_100"].to_numpy()[analysed].mean()
    assert boot.overall["estimate"].iloc[0] == pytest.approx(mean, rel=1e-12)
    assert boot.n_ok >= 1
    assert np.isfinite(boot.rsm["share"]).all()


def test_the_command_line_fit_and_score_write_the_same_scores(df, tmp_path, capsys):
    data = tmp_path / "hh.csv"
    df.to_csv(data, index=False)
    spec = tmp_path / "spec.toml"
    text = SPEC.read_text()
    spec.write_text(text.replace("[options]", "[options]\nrci_prediction = \"causes\"", 1)
                    if "[options]" in text else text + "\n[options]\nrci_prediction = \"causes\"\n")
    for args in (["fit", data, "--spec", spec, "--out", tmp_path / "fit", "--no-report"],
                 ["score", data, "--model", tmp_path / "fit" / "model.json", "--out",
                  tmp_path / "scores.csv"]):
        code, _, err = run([str(a) for a in args], capsys)
        assert code == 0, err
    a = pd.read_csv(tmp_path / "fit" / "scores.csv")
    b = pd.read_csv(tmp_path / "scores.csv")
    for col in ("RCI", "RCI_100", "status"):
        pd.testing.assert_series_equal(a[col], b[col], check_exact=True)
    assert (a["status"] == "ok").sum() == df[list(rima.load_spec(SPEC).pillar_variables)] \
        .notna().all(axis=1).sum()
