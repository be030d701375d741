"""The build's grouped passes over blocks of households: the same bits at any thread
count and block size, each household in one block, and the branch-free kernels of the
one-row-per-household modules against numpy."""

import threading
import tomllib

import numpy as np
import pandas as pd
import pytest

from rima import config
from rima._kernels import threads
from rima._kernels.build import (
    block_bounds,
    positive_counts,
    to_float,
    wide_add,
)
from rima.bench_build import build_spec, raw_frames
from rima.build import build, engine, sources


def _messy(n, seed):
    """Raw modules in household order with bad cells in every long module."""
    f = raw_frames(n, seed)
    rng = np.random.default_rng(seed)
    r = f["roster"].astype({"age": float})
    r.loc[rng.choice(len(r), 20, replace=False), "age"] = np.nan
    r.loc[rng.choice(len(r), 20, replace=False), "age"] = 130
    r.loc[rng.choice(len(r), 10, replace=False), "relation"] = -99
    lv = f["livestock"].astype({"lost": float})
    lv.loc[rng.choice(len(lv), 15, replace=False), "lost"] = -2
    lv.loc[rng.choice(len(lv), 15, replace=False), "start"] = -98
    ex = f["expenditure"]
    ex.loc[rng.choice(len(ex), 10, replace=False), "amount"] = np.nan
    ex.loc[rng.choice(len(ex), 10, replace=False), "amount"] = -1.5
    own = f["own_production"].astype({"quantity": float})
    own.loc[rng.choice(len(own), 10, replace=False), "quantity"] = -99
    f.update(roster=r, livestock=lv, expenditure=ex, own_production=own)
    return f


def _frames_equal(a, b):
    for x, y in ((a.table, b.table), (a.report, b.report), (a.issues, b.issues)):
        pd.testing.assert_frame_equal(x, y, check_exact=True)


@pytest.fixture
def small_blocks(monkeypatch):
    # many blocks and threads from a few thousand rows on
    monkeypatch.setattr(sources, "BLOCK_ROWS", 500)
    monkeypatch.setattr(threads, "SERIAL_ROWS", 1000)
    yield
    config.set_num_threads(None)


def test_build_is_the_same_at_any_thread_count_and_block_size(small_blocks, monkeypatch):
    spec = build_spec()
    frames = _messy(3000, 1)
    config.set_num_threads(1)
    one = build(spec, frames)
    config.set_num_threads(None)
    many = build(spec, frames)
    _frames_equal(one, many)
    monkeypatch.setattr(sources, "BLOCKS", 1)  # one block: the serial order
    _frames_equal(one, build(spec, frames))
    assert len(one.issues) > 0


def _side_by_side_spec():
    """The raw spec plus a recipe of another module's chain reading own_production,
    which money_per_ae also reads: its non-numeric cell and its rows left out are met by
    two recipes that may run side by side."""
    from rima.build.spec import parse_build
    from rima.simulation_raw import BUILD_TOML, SOURCES_TOML

    table = tomllib.loads(SOURCES_TOML.format(ext="csv") + BUILD_TOML)
    table["build"]["own_items"] = {"recipe": "income_sources", "source": "own_production",
                                   "amount_column": "quantity"}
    errors: list[str] = []
    spec = parse_build(table["sources"], table["build"], None, errors)
    assert not errors, errors
    return spec


def test_recipes_side_by_side_give_the_one_by_one_build(small_blocks, monkeypatch):
    """The recipes of different modules run side by side in two threads from
    PARALLEL_HOUSEHOLDS on: the table, the report and the issue list (its order too:
    each recipe's log joined in the spec's order, a module's own issues where the first
    recipe in that order meets them) are those of running them one by one."""
    spec = _side_by_side_spec()
    frames = _messy(3000, 4)
    own = frames["own_production"].astype({"quantity": object})
    own.loc[7, "quantity"] = "lots"
    extra = own.iloc[[0, 1]].assign(hhid=[10**9, 10**9 + 1])  # no such households
    frames["own_production"] = pd.concat([own, extra], ignore_index=True)
    lv = frames["livestock"]
    frames["livestock"] = pd.concat([lv, lv.iloc[[0]].assign(hhid=10**9)], ignore_index=True)
    hh = frames["households"]
    frames["households"] = pd.concat([hh, hh.iloc[[5]]], ignore_index=True)
    config.set_num_threads(1)
    one = build(spec, frames)
    config.set_num_threads(None)
    monkeypatch.setattr(engine, "PARALLEL_HOUSEHOLDS", 0)
    ran = []
    run_recipe = engine._run_recipe

    def spy(ctx, bspec, i, log):
        ran.append((threading.current_thread().name, i, config.current_threads()))
        run_recipe(ctx, bspec, i, log)

    monkeypatch.setattr(engine, "_run_recipe", spy)
    for _ in range(3):
        ran.clear()
        _frames_equal(one, build(spec, frames))
        threads = {name for name, _, _ in ran}
        assert threads == {"MainThread", "rima-build"}  # really side by side
        # the threads start from both ends of the spec: this one at its first recipe,
        # the other at the last recipe that waits for none
        firsts = {name: i for name, i, _ in reversed(ran)}
        after = engine._Plan(spec).after
        assert firsts["MainThread"] == 0
        assert firsts["rima-build"] == max(i for i in range(len(after)) if not after[i])
        # each side's kernels on its half of the threads, or on all of them while the
        # other side waits
        n = config.num_threads()
        for name, _, t in ran:
            assert t in {engine.side_threads(name != "MainThread", False, n), n}
    issues = one.issues
    non_numeric = issues[issues["status"] == "non-numeric value"]
    assert list(non_numeric["variable"]) == ["food_exp_ae"]  # the first reader's, once
    left_out = issues[(issues["module"] == "own_production") & (issues["column"] == "hhid")]
    assert len(left_out) == 2
    assert one.fitted == build(spec, frames).fitted


@pytest.mark.parametrize("dtype", [np.int16, np.int32])
def test_adult_equivalents_and_count_ratios_from_counts_match_numpy(small_blocks, dtype):
    from rima._kernels.build import count_ratio, equivalence_scale

    rng = np.random.default_rng(3)
    n = 200_003
    adults, children, young, old, working = rng.integers(0, 5, (5, n)).astype(dtype)
    ae = equivalence_scale(adults, children, 1.0, 0.5, 0.3)
    # OECD-modified: the first adult 1, each other one 0.5, each child 0.3
    want = np.where(adults > 0, 1.0 + 0.5 * (adults - 1.0), 0.0) + 0.3 * children
    np.testing.assert_allclose(ae, want, rtol=0, atol=1e-12)
    assert ae[(adults == 0) & (children == 0)].max() == 0.0
    ratio = count_ratio(young, old, working)
    has = working > 0
    np.testing.assert_array_equal(np.isnan(ratio), ~has)
    np.testing.assert_allclose(ratio[has], (young[has] + old[has].astype(float)) / working[has],
                               rtol=1e-15)


def test_side_threads_halve_while_both_sides_run():
    # both sides running: half each, an odd thread to the calling side; one side waiting
    # or done: the other takes them all
    assert [engine.side_threads(side, False, 3) for side in (0, 1)] == [2, 1]
    assert [engine.side_threads(side, False, 2) for side in (0, 1)] == [1, 1]
    assert [engine.side_threads(side, False, 1) for side in (0, 1)] == [1, 1]
    assert [engine.side_threads(side, True, 3) for side in (0, 1)] == [3, 3]


def test_side_by_side_kernels_read_the_side_limit_at_each_start(small_blocks, monkeypatch):
    """A recipe's kernels see its side's limit as it is when each starts: all threads
    once the other side waits (here: for the variable this recipe builds)."""
    monkeypatch.setattr(threads, "max_threads", lambda: 4)
    monkeypatch.setattr(threads, "_pool", None)
    monkeypatch.setattr(engine, "PARALLEL_HOUSEHOLDS", 0)
    frames = _messy(2000, 6)
    config.set_num_threads(1)
    one = build(_side_by_side_spec(), frames)
    config.set_num_threads(3)
    seen = []
    run_recipe = engine._run_recipe

    def spy(ctx, bspec, i, log):
        seen.append((threading.current_thread().name, config.current_threads()))
        run_recipe(ctx, bspec, i, log)

    monkeypatch.setattr(engine, "_run_recipe", spy)
    try:
        _frames_equal(one, build(_side_by_side_spec(), frames))
    finally:
        config.set_num_threads(None)
    assert {name for name, _ in seen} == {"MainThread", "rima-build"}
    for name, t in seen:
        assert t in ({2, 3} if name == "MainThread" else {1, 3})
    limit = [1]
    with threads.threads_at_most(lambda: limit[0]):
        assert config.current_threads() == 1
        limit[0] = 3  # read again at each start
        assert config.current_threads() == 3
        with config.threads_for(10**9) as inner:  # a nested limit takes the count now
            limit[0] = 1
            assert inner == 3 and config.current_threads() == 3


def test_side_by_side_raises_the_first_failing_recipe_in_the_spec_order(monkeypatch):
    from rima.build.spec import parse_build
    from rima.errors import SpecError
    from rima.simulation_raw import BUILD_TOML, SOURCES_TOML

    table = tomllib.loads(SOURCES_TOML.format(ext="csv") + BUILD_TOML)
    table["build"]["hh_size"]["age_column"] = "age_years"  # roster: the first chain
    table["build"]["n_durables"]["columns"] = ["tv", "no_such_item"]  # assets: the last
    errors: list[str] = []
    spec = parse_build(table["sources"], table["build"], None, errors)
    assert not errors, errors
    frames = raw_frames(200, 3)
    monkeypatch.setattr(engine, "PARALLEL_HOUSEHOLDS", 0)
    for _ in range(3):
        with pytest.raises(SpecError, match="hh_size.*age_years"):
            build(spec, frames)
    monkeypatch.setattr(engine, "PARALLEL_HOUSEHOLDS", 10**9)
    with pytest.raises(SpecError, match="hh_size.*age_years"):
        build(spec, frames)


def test_blocked_sums_match_pandas(small_blocks):
    frames = _messy(3000, 2)
    res = build(build_spec(), frames)
    t = res.table.set_index("hhid")
    units = {"sheep": 1.0, "goat": 0.9, "cattle": 6.0, "horse": 7.0, "camel": 5.0}
    lv = frames["livestock"]
    start = lv["start"].where(lv["start"] >= 0) * lv["species"].astype(str).map(units)
    herd = start.groupby(lv["hhid"]).sum()  # NaN rows (missing code, negative) skipped
    ok = res.report.set_index("hhid")["herd_su"] == "ok"
    assert (~ok).sum() == lv.loc[lv["start"] < 0, "hhid"].nunique()
    np.testing.assert_allclose(t.loc[ok, "herd_su"], herd[ok[ok].index], rtol=1e-12)
    ex = frames["expenditure"]
    spend = ex["amount"].groupby(ex["hhid"]).sum()
    bad = ex.loc[ex["amount"].isna() | (ex["amount"] < 0), "hhid"].unique()
    own = frames["own_production"]
    prod = (own["quantity"] * own["unit_value"]).groupby(own["hhid"]).sum()
    bad = np.union1d(bad, own.loc[own["quantity"] == -99, "hhid"].unique())
    fine = ~t.index.isin(bad) & t["adult_eq"].notna().to_numpy()
    want = ((spend + prod) * (30.4375 / 30) / t["adult_eq"])[fine]
    np.testing.assert_allclose(t.loc[fine, "food_exp_ae"], want, rtol=1e-12)
    assert t.loc[t.index.isin(bad), "food_exp_ae"].isna().all()


def test_block_bounds_keep_each_household_whole():
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 9, 400)
    codes = np.repeat(np.arange(400), sizes).astype(np.int32)
    codes[:5] = -1  # rows of households absent from the household table come first
    for n_blocks in (1, 2, 7, 64, 500):
        b = block_bounds(codes, n_blocks)
        assert b[0] == 0 and b[-1] == codes.size and np.all(np.diff(b) >= 0)
        owner = np.repeat(np.arange(n_blocks), np.diff(b))
        valid = codes >= 0
        # each household's rows lie in one block
        per_hh = pd.Series(owner[valid]).groupby(codes[valid]).nunique()
        assert (per_hh == 1).all()


def _reference_wide(x, miss, w, kind, top):
    v = x.astype(np.float64)
    missing = np.isnan(v) | np.isin(v, miss)
    v = np.where(missing, np.nan, v)
    if kind == 1:
        bad = (v < 0) | (v > top) | (v != np.round(v))
    elif kind == 2:
        bad = (v != 0) & (v != 1)
    else:
        bad = np.zeros(v.size, dtype=bool)
    counts = [missing.sum(), (bad & ~missing).sum(), (v < 0).sum()]
    return w * v, np.array(counts)


@pytest.mark.parametrize("miss", [[], [-99.0, -98.0], [-99.0, -98.0, -97.0, 9.0],
                                  [-99.0, -98.0, -97.0, -96.0, 9.0]])
@pytest.mark.parametrize("kind,top", [(0, 0.0), (1, 7.0), (2, 1.0)])
def test_wide_add_and_to_float_match_numpy(miss, kind, top):
    rng = np.random.default_rng(4)
    n = 5000
    for x in (rng.integers(-1, 10, n), rng.integers(0, 8, n) + rng.choice([0, 0.5], n)):
        x = x.astype(x.dtype)
        x[::97] = -99
        x[5::89] = -98
        if x.dtype.kind == "f":
            x[3::101] = np.nan
        miss_a = np.array(miss, dtype=np.float64)
        want, want_counts = _reference_wide(x, miss_a, 0.5, kind, top)
        total = np.zeros(n)
        counts = np.zeros(3, dtype=np.int64)
        wide_add(total, x, miss_a, np.arange(n), True, 0.5, kind, top, counts)
        np.testing.assert_array_equal(total, want)
        np.testing.assert_array_equal(counts, want_counts)
        out = np.empty(n)
        to_float(x, miss_a, out)
        np.testing.assert_array_equal(out, np.where(np.isin(x, miss_a), np.nan, x))


def test_positive_counts_match_numpy():
    X = np.random.default_rng(5).integers(-1, 3, (8, 1000)).astype(float)
    X[2, ::7] = np.nan
    out = np.full(1000, 99.0)
    positive_counts(X, out)
    np.testing.assert_array_equal(out, (X > 0).sum(axis=0))


def _roster_reference(codes, age, rel, edu, miss, head_code, ages, G):
    """roster_pass's counts, first head row and adults' maximum education, in pandas."""
    adult_age, young_below, old_above, max_age, lo, hi = ages
    r = pd.Series(rel, dtype=float).mask(lambda s: s.isin(miss))
    a = pd.Series(age, dtype=float).mask(lambda s: s.isin(miss))
    e = pd.Series(edu, dtype=float).mask(lambda s: s.isin(miss))
    valid = a.between(0, max_age)
    adult = valid & (a >= adult_age)
    d = pd.DataFrame({
        "members": 1, "heads": r == head_code, "adults": adult, "children": valid & ~adult,
        "young": valid & (a < young_below), "old": valid & (a > old_above),
        "working": valid & a.between(lo, hi), "no_age": a.isna(), "bad_age": a.notna() & ~valid,
        "no_rel": r.isna(), "no_edu": adult & e.isna()}).astype(np.int64)
    d["g"] = codes
    d["row"] = np.arange(len(codes))
    d["adult_edu"] = e.where(adult)
    d = d[d["g"] >= 0]
    by = d.groupby("g")
    counts = by[list(d.columns[:11])].sum().reindex(range(G), fill_value=0)
    head_row = d[d["heads"] == 1].groupby("g")["row"].min().reindex(range(G), fill_value=-1)
    max_edu = by["adult_edu"].max().reindex(range(G)).fillna(-np.inf)
    return counts.to_numpy().T, head_row.to_numpy(), max_edu.to_numpy()


@pytest.mark.parametrize("order", ["grouped", "shuffled", "reversed"])
@pytest.mark.parametrize("n_codes", [0, 2, 4])
def test_roster_pass_matches_pandas(order, n_codes):
    # households of 1 to 8 persons and a few of 64 and more (beyond the packed counts),
    # over several chunks of rows, with missing codes, NaN, fractional and impossible ages
    from rima._kernels.build import PERSON_CHUNK, roster_pass

    rng = np.random.default_rng(7 + n_codes)
    G = 3000
    sizes = rng.integers(1, 9, G)
    sizes[[3, 500, 1700]] = [64, 130, 63]
    codes = np.repeat(np.arange(G), sizes)
    n = codes.size
    assert n > 2 * PERSON_CHUNK
    if order == "shuffled":
        codes = codes[rng.permutation(n)]
    elif order == "reversed":
        codes = codes[::-1].copy()
    codes[rng.choice(n, 40, replace=False)] = -1  # rows of no household
    miss = np.array([-99.0, -98.0, 97.0, 99.0][:n_codes])
    age = rng.integers(-2, 125, n).astype(float) + rng.choice([0.0, 0.5], n, p=[0.9, 0.1])
    age[rng.choice(n, 60, replace=False)] = np.nan
    rel = rng.choice([1.0, 2.0, 3.0, 4.0], n, p=[0.25, 0.25, 0.4, 0.1])
    rel[rng.choice(n, 50, replace=False)] = np.nan
    edu = rng.integers(0, 17, n).astype(float)
    edu[rng.choice(n, 80, replace=False)] = np.nan
    if n_codes:
        for x in (age, rel, edu):
            hit = rng.choice(n, 90, replace=False)
            x[hit] = rng.choice(miss, hit.size)
    ages = np.array([14.0, 15.0, 64.0, 120.0, 15.0, 64.0])
    bounds = (block_bounds(codes, 5) if order == "grouped"
              else np.array([0, n], dtype=np.int64))
    Ct = np.zeros((11, G), dtype=np.int32)
    head_row = np.full(G, -1, dtype=np.int64)
    max_edu = np.full(G, -np.inf)
    # ages stored as integers too (a missing age then written as an impossible one)
    age_int = np.floor(np.nan_to_num(age, nan=130.0)).astype(np.int64) if n_codes == 0 else None
    over = np.zeros(bounds.size - 1, dtype=np.int64)
    head_age, head_edu = np.full(G, np.nan), np.full(G, np.nan)
    roster_pass(codes.astype(np.int32), age, miss, rel, miss, 1.0, edu, miss, ages, bounds, Ct,
                2**31 - 1, head_row, max_edu, head_age, head_edu, over, 0, bounds.size - 1)
    assert not over.any()
    want_C, want_head, want_edu = _roster_reference(codes, age, rel, edu, miss, 1.0, ages, G)
    np.testing.assert_array_equal(Ct, want_C)
    np.testing.assert_array_equal(head_row, want_head)
    np.testing.assert_array_equal(max_edu, want_edu)
    # the head's own age and education (a missing code is missing; no head: missing)
    has = want_head >= 0
    for got, x in ((head_age, age), (head_edu, edu)):
        want = np.full(G, np.nan)
        want[has] = np.where(np.isin(x[want_head[has]], miss), np.nan, x[want_head[has]])
        np.testing.assert_array_equal(got, want)
    if age_int is not None:
        Ct2 = np.zeros((11, G), dtype=np.int32)
        roster_pass(codes.astype(np.int32), age_int, miss, rel, miss, 1.0, edu, miss, ages,
                    bounds, Ct2, 2**31 - 1, np.full(G, -1), np.full(G, -np.inf), np.empty(0),
                    np.empty(0), over, 0, bounds.size - 1)
        want_int, _, _ = _roster_reference(codes, age_int, rel, edu, miss, 1.0, ages, G)
        np.testing.assert_array_equal(Ct2, want_int)


def test_roster_with_more_missing_codes_than_the_pass_compares():
    # six declared codes: the roster columns are read as float64 with NaN first, and the
    # build equals the one of the same roster with those cells empty
    rng = np.random.default_rng(8)
    f = raw_frames(2000, 8)
    r = f["roster"]
    codes = [-99, -98, -97, -96, 555, 556]
    coded = r.copy()
    blank = r.astype({"age": float, "relation": float})
    for col in ("age", "relation", "education"):
        rows = rng.choice(len(r), 30, replace=False)
        coded.loc[rows, col] = rng.choice(codes, rows.size)
        blank.loc[rows, col] = np.nan
    from rima.build.spec import parse_build
    from rima.simulation_raw import BUILD_TOML, SOURCES_TOML

    sources_t = SOURCES_TOML.format(ext="csv").replace("missing_codes = [-99, -98]",
                                                       f"missing_codes = {codes}")
    assert str(codes) in sources_t
    table = tomllib.loads(sources_t + BUILD_TOML)
    errors = []
    spec = parse_build(table["sources"], table["build"], None, errors)
    assert not errors
    got = build(spec, {**f, "roster": coded})
    want = build(spec, {**f, "roster": blank})
    pd.testing.assert_frame_equal(got.table, want.table, check_exact=True)
    pd.testing.assert_frame_equal(got.report, want.report, check_exact=True)
    assert (got.report["hh_size"] == "ok").all() and not (got.report["adult_eq"] == "ok").all()


@pytest.mark.parametrize("shuffle", [False, True])
def test_household_beyond_the_narrow_roster_counts(shuffle):
    # the roster counts are first kept in 16 bits; a household of more persons than
    # they hold is counted again in 32 bits, in household order or not
    from rima.build.spec import parse_build

    big = 33_000
    ids = np.r_[np.full(big, 2), np.repeat([1, 3], 3)]
    age = np.r_[np.full(big, 30), [40, 10, 70, 35, 5, 66]]
    roster = pd.DataFrame({"hhid": ids, "relation": np.r_[1, np.full(big - 1, 3), 1, 3, 3, 1,
                                                          3, 3],
                           "age": age, "education": 8.0})
    if shuffle:
        roster = roster.sample(frac=1.0, random_state=0).reset_index(drop=True)
    errors = []
    spec = parse_build({"households": "x", "roster": "x"},
                       {"size": {"recipe": "household_size"},
                        "work": {"recipe": "working_age"},
                        "dep": {"recipe": "dependency_ratio"}}, None, errors)
    assert not errors
    res = build(spec, {"households": pd.DataFrame({"hhid": [1, 2, 3]}), "roster": roster})
    t = res.table.set_index("hhid")
    assert t["size"].tolist() == [3.0, big, 3.0]
    assert t["work"].tolist() == [1.0, big, 1.0]
    np.testing.assert_allclose(t["dep"], [2.0, 0.0, 2.0])
