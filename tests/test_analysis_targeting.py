"""Targeting: classes from rima.classes, soum shares, ranking, outputs, errors."""

import numpy as np
import pandas as pd
import pytest

from rima.analysis.targeting import ranking_figure, ranking_html, target
from rima.classes import resilience_class, weighted_quantile
from rima.errors import RimaInputError
from rima.io import read_table


@pytest.fixture(scope="module")
def frame(small_survey):
    df = small_survey.households.merge(small_survey.truth, on="hhid")
    df["RCI_100"] = 50 + 18 * df["resilience"]
    df.loc[[4, 9], "RCI_100"] = np.nan  # two unscored households
    return df


def test_classes_shares_and_ranking(frame, small_survey):
    t = target(frame, soums=small_survey.soums, weight="hh_weight")
    expected = resilience_class(frame["RCI_100"])
    assert (t.households["class"].astype(object).fillna("-")
            == pd.Series(expected).astype(object).fillna("-")).all()
    assert t.households["class"].isna().sum() == 2
    low = frame["RCI_100"] < 100 / 3
    assert len(t.low) == int(low.sum())
    assert t.low["RCI_100"].max() < 100 / 3
    # per soum: the weighted share of low households among the scored ones
    for row in t.soums.itertuples():
        m = (frame["soum"].astype(str) == row.soum) & frame["RCI_100"].notna()
        w = frame.loc[m, "hh_weight"]
        share = float((w * low[m]).sum() / w.sum())
        assert row.share_low == pytest.approx(share, rel=1e-12)
        assert row.est_low_households == pytest.approx(share * w.sum(), rel=1e-12)
        assert row.ci_lower <= row.share_low <= row.ci_upper
    pri = t.soums["priority"].to_numpy()
    assert np.all(np.diff(pri) <= 0)
    np.testing.assert_allclose(pri, t.soums["severity"] * t.soums["est_low_households"])
    assert t.soums["rank"].tolist() == list(range(1, len(t.soums) + 1))
    assert set(t.soums["dzud_class"]) <= {"dzud", "dzud-like", "none"}
    assert "<table" in ranking_html(t, top=5)
    assert len(ranking_figure(t).axes[0].patches) == len(t.soums)


def test_weighted_quantile_classes(frame):
    t = target(frame, quantiles=[0.25, 0.5, 0.75], weight="hh_weight",
               labels=["q1", "q2", "q3", "q4"])
    ok = frame["RCI_100"].notna()
    cuts = weighted_quantile(frame.loc[ok, "RCI_100"], [0.25, 0.5, 0.75], frame.loc[ok, "hh_weight"])
    np.testing.assert_allclose(t.thresholds, cuts)
    w_by_class = t.households.groupby("class", observed=True)["hh_weight"].sum()
    share = w_by_class / w_by_class.sum()
    np.testing.assert_allclose(share, 0.25, atol=0.02)
    assert t.labels == ("q1", "q2", "q3", "q4")
    assert (t.low["class"] == "q1").all()


def test_outputs_in_three_formats(frame, small_survey, tmp_path):
    t = target(frame, soums=small_survey.soums, weight="hh_weight", thresholds=[40, 60])
    for fmt in ("csv", "parquet", "dta"):
        paths = t.write(tmp_path / fmt, fmt)
        back = read_table(paths["soum_ranking"])
        assert len(back) == len(t.soums)
        np.testing.assert_allclose(back["share_low"], t.soums["share_low"])
        hh = read_table(paths["households"])
        assert len(hh) == len(frame)


def test_targeting_errors(frame, small_survey):
    with pytest.raises(RimaInputError, match=r"strictly increasing.*60.0, 30.0"):
        target(frame, thresholds=[60, 30], weight="hh_weight")
    with pytest.raises(RimaInputError, match=r"quantiles must be strictly increasing"):
        target(frame, quantiles=[0.6, 0.3], weight="hh_weight")
    with pytest.raises(RimaInputError, match=r"quantile 1.5 \(position 2\)"):
        target(frame, quantiles=[0.3, 1.5], weight="hh_weight")
    with pytest.raises(RimaInputError, match="2 label"):
        target(frame, thresholds=[30, 60], labels=["low", "high"], weight="hh_weight")
    with pytest.raises(RimaInputError, match="not both"):
        target(frame, thresholds=[30], quantiles=[0.5])
    two = pd.concat([small_survey.soums, small_survey.soums.assign(round=2)])
    with pytest.raises(Exception, match="rounds"):
        target(frame, soums=two, weight="hh_weight")


def test_soum_shares_and_standard_errors_match_r_survey():
    import json
    from pathlib import Path

    ref_dir = Path(__file__).parent / "reference"
    ref = json.loads((ref_dir / "analysis_reference.json").read_text())["share_low_by_soum"]
    d = pd.read_csv(ref_dir / "analysis_data.csv.gz")
    d["RCI_100"] = 50 + 18 * d["resilience"]
    t = target(d, weight="hh_weight", id="hhid")
    got = t.soums.set_index("soum").loc[ref["soum"]]
    np.testing.assert_allclose(got["share_low"], ref["share"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-10)
