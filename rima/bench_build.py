"""Benchmark of the build: every variable of the Zavkhan raw spec from large raw modules,
against a pandas ``groupby().sum()`` of one roster column measured in the same run.

    rima bench --build [--sizes 1M] [--repeat 3] [--json]

A second peer, `pandas_build`, writes the spec's aggregations plainly in pandas (one
groupby per quantity, without checks or statuses).

Modules per household: 5 roster persons, 5 livestock rows (one per species; species as a
categorical column, as Stata value labels and Parquet dictionaries deliver it), one food
row, 3 expenditure rows, 2 own-production rows, 2 income rows and one asset row; all
in memory (reading the files is not timed), rows grouped by household as surveys export
them. Timings exclude numba compilation (a small build runs first).
"""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd

from rima.build.catalog import FCS_WEIGHTS, HDDS_GROUPS, RCSI_WEIGHTS

DEFAULT_SIZES = (1_000_000,)
QUICK_SIZES = (20_000,)
PERSONS = 5
SPECIES = ("sheep", "goat", "cattle", "horse", "camel")
DURABLES = ("tv", "radio", "fridge", "washing_machine", "satellite_dish", "mobile_phone",
            "sewing_machine", "generator")


def raw_frames(n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Synthetic raw modules of n households (valid values, a few missing)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1, dtype=np.int64) + 100_000
    rep = np.repeat(ids, PERSONS)
    m = rep.size
    rel = np.tile(np.array([1, 2, 3, 3, 4]), n)
    age = np.where(rel == 1, rng.integers(18, 85, m), rng.integers(0, 90, m))
    roster = pd.DataFrame({"hhid": rep, "person": np.tile(np.arange(1, PERSONS + 1), n),
                           "relation": rel,
                           "sex": pd.Categorical.from_codes(rng.integers(0, 2, m),
                                                            ["male", "female"]),
                           "age": age, "education": rng.integers(0, 17, m).astype(float)})
    start = rng.integers(1, 300, (n, len(SPECIES)))
    lost = rng.binomial(start, 0.1)
    livestock = pd.DataFrame({
        "hhid": np.repeat(ids, len(SPECIES)),
        "species": pd.Categorical.from_codes(np.tile(np.arange(len(SPECIES)), n),
                                             list(SPECIES)),
        "start": start.ravel(), "lost": lost.ravel()})
    food = {"hhid": ids}
    for g in FCS_WEIGHTS:
        food[f"fcs_{g}"] = rng.integers(0, 8, n)
    for g in HDDS_GROUPS:
        food[f"hdds_{g}"] = rng.integers(0, 2, n)
    for g in RCSI_WEIGHTS:
        food[f"rcsi_{g}"] = rng.integers(0, 8, n)
    expenditure = pd.DataFrame({"hhid": np.repeat(ids, 3),
                                "item": np.tile(np.array(["flour_rice", "meat_dairy",
                                                          "sugar_tea_oil"], dtype=object), n),
                                "amount": np.round(rng.gamma(2.0, 60_000.0, 3 * n), 2)})
    own = pd.DataFrame({"hhid": np.repeat(ids, 2),
                        "item": np.tile(np.array(["meat", "milk"], dtype=object), n),
                        "quantity": rng.integers(0, 30, 2 * n),
                        "unit_value": np.tile([10_000.0, 1_800.0], n)})
    income = pd.DataFrame({"hhid": np.repeat(ids, 2),
                           "source": pd.Categorical.from_codes(
                               np.tile([0, 1], n), ["livestock_sales", "wages"]),
                           "amount": np.round(rng.gamma(2.0, 3e6, 2 * n), -3)})
    assets = pd.DataFrame({"hhid": ids, **{d: rng.integers(0, 2, n) for d in DURABLES}})
    households = pd.DataFrame({"hhid": ids, "hh_weight": np.ones(n)})
    return {"households": households, "roster": roster, "livestock": livestock,
            "food": pd.DataFrame(food), "expenditure": expenditure, "own_production": own,
            "income": income, "assets": assets}


def build_spec():
    from rima.build.spec import parse_build
    from rima.simulation_raw import BUILD_TOML, SOURCES_TOML

    table = tomllib.loads(SOURCES_TOML.format(ext="csv") + BUILD_TOML)
    errors: list[str] = []
    spec = parse_build(table["sources"], table["build"], None, errors)
    assert not errors, errors
    return spec


def pandas_build(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The raw spec's aggregations written plainly in pandas (groupby per quantity, no
    checks, no statuses): a second peer, to read the build's time against."""
    from rima.build.catalog import DAYS_PER_MONTH, SHEEP_UNITS

    hh = frames["households"].set_index("hhid")
    r = frames["roster"]
    a = r["age"]
    g = r.assign(adult=a >= 14, child=a < 14, young=a < 15, old=a > 64,
                 work=(a >= 15) & (a <= 64),
                 adult_edu=r["education"].where(a >= 14)).groupby("hhid")
    out = pd.DataFrame({"hh_size": g.size(), "adults": g["adult"].sum(),
                        "kids": g["child"].sum(), "young": g["young"].sum(),
                        "old": g["old"].sum(), "work": g["work"].sum(),
                        "max_edu": g["adult_edu"].max()}).reindex(hh.index)
    heads = r[r["relation"] == 1].groupby("hhid").first()
    out["head_sex"], out["head_age"] = heads["sex"], heads["age"]
    out["head_edu_years"] = heads["education"]
    out["adult_eq"] = np.where(out.adults > 0, 1 + 0.5 * (out.adults - 1), 0) + 0.3 * out.kids
    out["dependency_ratio"] = (out.young + out.old) / out.work.where(out.work > 0)
    lv = frames["livestock"]
    units = lv["species"].map(SHEEP_UNITS).astype(float)
    su = pd.DataFrame({"start": lv["start"] * units, "lost": lv["lost"] * units,
                       "hhid": lv["hhid"]}).groupby("hhid").sum().reindex(hh.index)
    out["herd_su"], out["winter_loss_su"] = su["start"], su["lost"]
    out["loss_share"] = su["lost"] / su["start"]
    food = frames["food"].set_index("hhid")
    out["fcs"] = food[[f"fcs_{k}" for k in FCS_WEIGHTS]] @ np.array(list(FCS_WEIGHTS.values()))
    out["hdds"] = food[[f"hdds_{k}" for k in HDDS_GROUPS]].sum(axis=1)
    out["rcsi"] = food[[f"rcsi_{k}" for k in RCSI_WEIGHTS]] @ np.array(
        list(RCSI_WEIGHTS.values()))
    spend = frames["expenditure"].groupby("hhid")["amount"].sum()
    own = frames["own_production"]
    prod = (own["quantity"] * own["unit_value"]).groupby(own["hhid"]).sum()
    out["food_exp_ae"] = (spend + prod) * (DAYS_PER_MONTH / 30) / out["adult_eq"]
    out["log_food_exp_ae"] = np.log(out["food_exp_ae"])
    inc = frames["income"]
    live = inc["amount"].where(inc["source"].isin(["livestock_sales", "cashmere",
                                                   "dairy_sales"]), 0.0)
    tot = inc.groupby("hhid")["amount"].sum()
    out["nonlivestock_income_share"] = 1 - live.groupby(inc["hhid"]).sum() / tot
    out["n_durables"] = (frames["assets"].set_index("hhid")[list(DURABLES)] > 0).sum(axis=1)
    return out


def run(sizes=None, repeat=3, quick=False, echo=None, busy=0) -> pd.DataFrame:
    """One row per size: the build and the pandas sum (medians), their ratio, the plain
    pandas build; with `busy`, the build and the sum again beside that many busy-loop
    processes (medians and p90, and their ratio)."""
    from rima.bench import busy_processes, interleaved_times, median_time
    from rima.build.engine import build

    say = echo or (lambda msg: None)
    sizes = sizes or (QUICK_SIZES if quick else DEFAULT_SIZES)
    spec = build_spec()
    build(spec, raw_frames(500))  # compile / load the cached kernels
    rows = []
    for n in sizes:
        say(f"build: generating raw modules of {n:,} households")
        frames = raw_frames(n)
        roster = frames["roster"]
        say(f"build: {len(spec.recipes)} variables from {len(roster):,} persons and "
            f"{len(frames['livestock']):,} livestock rows")
        # the ratio's two peers in turn, as the fit benchmark times its peers: the first
        # run's fresh memory and a full garbage collection fall on each in turn, not
        # always on rima; the plain pandas build (gigabytes of temporaries) after them
        (rima_s, pandas_s), _ = interleaved_times(
            [lambda f=frames: build(spec, f),
             lambda r=roster: r.groupby("hhid")["age"].sum()], repeat)
        rima_s, pandas_s = float(rima_s), float(pandas_s)
        plain_s = float(median_time(lambda f=frames: pandas_build(f), repeat)[0])
        row = {"task": f"build {len(spec.recipes)} variables", "households": n,
               "roster_rows": len(roster), "livestock_rows": len(frames["livestock"]),
               "rima_s": rima_s, "pandas_groupby_sum_s": pandas_s,
               "rima/pandas": rima_s / pandas_s, "pandas_plain_build_s": plain_s,
               "rima/plain": rima_s / plain_s}
        if busy:
            say(f"build: the same beside {busy} busy-loop process(es)")
            with busy_processes(busy):
                (rima_b, pandas_b), _ = interleaved_times(
                    [lambda f=frames: build(spec, f),
                     lambda r=roster: r.groupby("hhid")["age"].sum()], repeat)
            row.update({"busy_processes": int(busy), "busy_rima_s": float(rima_b),
                        "busy_rima_p90_s": rima_b.p90,
                        "busy_pandas_groupby_sum_s": float(pandas_b),
                        "busy_rima/pandas": float(rima_b) / float(pandas_b)})
        rows.append(row)
    return pd.DataFrame(rows)


def format_table(df: pd.DataFrame) -> str:
    lines = [("Build benchmark: every variable of the Zavkhan raw spec vs pandas "
              "roster.groupby('hhid')['age'].sum() in the same run (median times, the two "
              "timed in turn)")]
    for r in df.to_dict(orient="records"):
        lines.append(f"  {r['households']:>12,} households, {r['roster_rows']:,} persons, "
                     f"{r['livestock_rows']:,} livestock rows: rima {r['rima_s']:.3f} s, "
                     f"pandas groupby-sum {r['pandas_groupby_sum_s']:.3f} s, ratio "
                     f"{r['rima/pandas']:.2f}x; the same aggregations in plain pandas (no "
                     f"checks, no statuses) {r['pandas_plain_build_s']:.3f} s, ratio "
                     f"{r['rima/plain']:.2f}x")
        if r.get("busy_processes"):
            lines.append(f"    beside {r['busy_processes']} busy-loop process(es): rima "
                         f"{r['busy_rima_s']:.3f} s (p90 {r['busy_rima_p90_s']:.3f} s), "
                         f"pandas groupby-sum {r['busy_pandas_groupby_sum_s']:.3f} s, ratio "
                         f"{r['busy_rima/pandas']:.2f}x")
    return "\n".join(lines)
