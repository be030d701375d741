"""Property tests of the build: ranges, monotonicity, order independence, accounting."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from rima._kernels.build import group_reduce
from rima.build import build, parse_build

FCS_GROUPS = ["staples", "pulses", "vegetables", "fruit", "meat_fish", "milk", "sugar", "oil"]
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _run(build_t, **frames):
    errors = []
    bspec = parse_build({k: "x" for k in frames}, build_t, None, errors)
    assert not errors
    return build(bspec, frames)


days = hs.lists(hs.integers(0, 7), min_size=8, max_size=8)


@SETTINGS
@given(hs.lists(days, min_size=1, max_size=12), hs.integers(0, 7), hs.integers(0, 11))
def test_fcs_in_range_and_monotone_in_days(rows, extra, which):
    n = len(rows)
    food = pd.DataFrame(rows, columns=FCS_GROUPS)
    food.insert(0, "hhid", np.arange(n))
    more = food.copy()
    g = FCS_GROUPS[which % 8]
    more[g] = np.minimum(7, more[g] + extra)
    hh = pd.DataFrame({"hhid": np.arange(n)})
    a = _run({"fcs": {"recipe": "fcs"}}, households=hh, food=food).table["fcs"]
    b = _run({"fcs": {"recipe": "fcs"}}, households=hh, food=more).table["fcs"]
    assert ((a >= 0) & (a <= 112)).all()
    assert (b >= a).all()


@SETTINGS
@given(hs.lists(hs.tuples(hs.integers(0, 5), hs.sampled_from(
    ["sheep", "Goat", "ямаа", "CAMELS", " horse ", "үхэр"]), hs.integers(0, 500)),
    min_size=0, max_size=40), hs.randoms(use_true_random=False))
def test_herd_is_row_order_free_and_matches_pandas(rows, rnd):
    live = pd.DataFrame(rows, columns=["hhid", "species", "head"])
    hh = pd.DataFrame({"hhid": np.arange(6)})
    r = _run({"su": {"recipe": "herd"}}, households=hh, livestock=live)
    shuffled = live.sample(frac=1, random_state=rnd.randint(0, 10**6)) if len(live) else live
    r2 = _run({"su": {"recipe": "herd"}}, households=hh, livestock=shuffled)
    units = {"sheep": 1, "goat": 0.9, "ямаа": 0.9, "camels": 5, "horse": 7, "үхэр": 6}
    su = live["head"] * live["species"].str.strip().str.lower().map(units)
    ref = su.groupby(live["hhid"]).sum().reindex(range(6), fill_value=0.0)
    np.testing.assert_allclose(r.table["su"], ref.to_numpy(float), rtol=1e-12)
    np.testing.assert_allclose(r2.table["su"], r.table["su"], rtol=1e-12)
    assert (r.table["su"] >= 0).all()


@SETTINGS
@given(hs.lists(hs.tuples(hs.integers(-1, 9), hs.floats(-1e6, 1e6) | hs.just(np.nan)),
                max_size=60))
def test_group_reduce_matches_pandas(rows):
    codes = np.array([c for c, _ in rows], dtype=np.int64)
    x = np.array([v for _, v in rows], dtype=float)
    rows_, first, sums, counts, mins, maxs, firsts = group_reduce(codes, 10, x[None, :])
    df = pd.DataFrame({"g": codes, "x": x})
    df = df[df.g >= 0]
    grp = df.groupby("g")
    ref_sum = grp.x.sum().reindex(range(10), fill_value=0.0).to_numpy()
    np.testing.assert_allclose(sums[0], ref_sum, rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(counts[0], grp.x.count().reindex(range(10),
                                                                  fill_value=0).to_numpy())
    np.testing.assert_array_equal(rows_, grp.size().reindex(range(10), fill_value=0).to_numpy())
    np.testing.assert_allclose(mins[0], grp.x.min().reindex(range(10)).to_numpy())
    np.testing.assert_allclose(maxs[0], grp.x.max().reindex(range(10)).to_numpy())
    ref_first = df.reset_index().groupby("g")["index"].min().reindex(range(10), fill_value=-1)
    np.testing.assert_array_equal(first, ref_first.to_numpy())
    have = first >= 0
    np.testing.assert_array_equal(firsts[0][have], x[first[have]])


@SETTINGS
@given(hs.lists(hs.tuples(hs.integers(0, 7), hs.integers(-5, 130)), min_size=1, max_size=50))
def test_roster_accounts_for_every_household(rows):
    roster = pd.DataFrame({"hhid": [h for h, _ in rows], "age": [a for _, a in rows],
                           "relation": [1 if j % 3 == 0 else 2 for j in range(len(rows))],
                           "sex": 1, "education": 5})
    hh = pd.DataFrame({"hhid": np.arange(6)})
    r = _run({"ae": {"recipe": "adult_equivalents"}, "dep": {"recipe": "dependency_ratio"},
              "sex": {"recipe": "head_sex"}}, households=hh, roster=roster)
    assert len(r.table) == len(r.report) == 6
    ok = r.report["ae"] == "ok"
    size = roster.groupby("hhid").size().reindex(range(6), fill_value=0).to_numpy()
    ae = r.table["ae"].to_numpy()
    # adult equivalents lie between 0.3 per member and one per member
    assert (ae[ok] <= size[ok] + 1e-12).all() and (ae[ok] >= 0.3 * size[ok] - 1e-12).all()
    # a value is present exactly where the status is ok
    for v in ("ae", "dep", "sex"):
        assert (pd.isna(r.table[v]).to_numpy() == (r.report[v] != "ok").to_numpy()).all()
    # module rows outside the household table are listed, one issue per row
    orphans = int((roster["hhid"] > 5).sum())
    assert (r.issues["status"] == "household absent from household table").sum() == orphans
