"""Raw questionnaire modules behind a simulated survey's household variables.

`raw_modules(households, seed)` turns one round of simulated households into the modules a
herder survey delivers (cover sheet, person roster, livestock by species with winter
losses, 7-day food consumption with 24-hour diversity and coping, food expenditure, own
production, income, durable assets), drawn so that building them with `RAW_SPEC`'s recipes
gives back the household variables: exactly for counts and sums, up to the simulator's
rounding (0.1 sheep unit, 3 decimals of the dependency ratio and income share, 5 of log
food expenditure) elsewhere. Winter losses are whole animals per species, so the built loss
share is the simulated one up to one animal per species.

The draws use their own generator (seeded from `seed`), so the household table is the
same with or without the raw modules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima.build.catalog import FCS_WEIGHTS, HDDS_GROUPS, RCSI_WEIGHTS

# household columns that the recipes build (the cover sheet leaves them out)
BUILT = ("hh_size", "n_children", "n_elderly", "head_age", "head_sex", "head_edu_years",
         "dependency_ratio", "sheep", "goats", "cattle", "horses", "camels", "herd_su",
         "winter_loss_su", "loss_share", "fcs", "food_exp_ae", "log_food_exp_ae", "hdds",
         "rcsi", "n_durables", "nonlivestock_income_share")
SPECIES = (("sheep", "sheep"), ("goats", "goat"), ("cattle", "cattle"), ("horses", "horse"),
           ("camels", "camel"))
DURABLES = ("tv", "radio", "fridge", "washing_machine", "satellite_dish", "mobile_phone",
            "sewing_machine", "generator")
LIVESTOCK_INCOME = ("livestock_sales", "cashmere", "dairy_sales")
OTHER_INCOME = ("wages", "pension", "trade")
EDUCATION_ADULT_MEAN = 8.0


def raw_modules(households: pd.DataFrame, seed: int | None = 0) -> dict[str, pd.DataFrame]:
    """{module name: DataFrame} for one round of simulated households."""
    rng = np.random.default_rng([0x7A57, 0 if seed is None else seed])
    hh = households.reset_index(drop=True)
    n = len(hh)
    ids = hh["hhid"].to_numpy()
    roster = _roster(rng, hh)
    ae = _ae(roster, n)
    spend, own = _expenditure(rng, hh, ids, ae)
    return {
        "households": hh.drop(columns=[c for c in BUILT if c in hh.columns]),
        "roster": roster.drop(columns="_hh"),
        "livestock": _livestock(rng, hh),
        "food": _food(rng, hh, ids),
        "expenditure": spend,
        "own_production": own,
        "income": _income(rng, hh, ids),
        "assets": _assets(rng, hh, ids),
    }


def _roster(rng, hh):
    """Members: the head, working-age members (15-64), children (0-14), elderly (65+).

    The simulator may count a head of 60-64 among its elderly; here that head is of
    working age and the elderly are other members aged 65 and over, which keeps
    (under 15 + over 64) / (15-64) equal to the simulated dependency ratio. A head aged 65
    or more in a household the simulator gives no elderly member is entered as 64 (the
    one place where the built head age differs from the simulated one).
    """
    n = len(hh)
    size = hh["hh_size"].to_numpy()
    kids = hh["n_children"].to_numpy()
    old = hh["n_elderly"].to_numpy()
    work = size - kids - old
    age = hh["head_age"].to_numpy().astype(np.int64)
    head_old = (age >= 65) & (old >= 1)
    head_age = np.where((age >= 65) & (old == 0), 64, age)
    groups = ((work - ~head_old, 15, 64), (kids, 0, 14), (old - head_old, 65, 90))
    female_head = (hh["head_sex"].astype(str) == "female").to_numpy()
    hid, rel, ages, sex, edu = [np.arange(n)], [np.ones(n, np.int64)], [head_age], \
        [np.where(female_head, "female", "male")], [hh["head_edu_years"].to_numpy(float)]
    for k, lo, hi in groups:
        reps = np.repeat(np.arange(n), k)
        m = reps.size
        a = rng.integers(lo, hi + 1, m)
        hid.append(reps)
        # 2 spouse, 3 child, 4 other relative
        rel.append(np.full(m, 3) if lo == 0 else np.where(rng.random(m) < 0.5, 2, 4))
        ages.append(a)
        sex.append(np.where(rng.random(m) < 0.5, "female", "male"))
        edu.append(np.where(a >= 14, np.clip(np.rint(rng.normal(EDUCATION_ADULT_MEAN, 3, m)),
                                             0, 16), np.clip(a - 6, 0, 10)).astype(float))
    h = np.concatenate(hid)
    order = np.argsort(h, kind="stable")
    person = np.concatenate([np.arange(c) for c in np.bincount(h, minlength=n)]) + 1
    return pd.DataFrame({
        "hhid": hh["hhid"].to_numpy()[h[order]], "person": person,
        "relation": np.concatenate(rel)[order], "sex": np.concatenate(sex)[order],
        "age": np.concatenate(ages)[order].astype(np.int64),
        "education": np.concatenate(edu)[order], "_hh": h[order]})


def _ae(roster, n):
    age = roster["age"].to_numpy()
    h = roster["_hh"].to_numpy()
    adults = np.bincount(h, age >= 14, n)
    kids = np.bincount(h, age < 14, n)
    return np.where(adults > 0, 1 + 0.5 * (adults - 1), 0) + 0.3 * kids


def _livestock(rng, hh):
    """One row per household and species held: head at the start of winter and head lost.

    Losses are whole animals: each species first loses floor(head x loss share), then
    animals are added (a few passes, species with the largest remainders first) while that
    brings the loss in sheep units closer to the simulated `winter_loss_su`.
    """
    from rima.build.catalog import SHEEP_UNITS

    n = len(hh)
    share = hh["loss_share"].to_numpy()
    target = hh["winter_loss_su"].to_numpy()
    heads = np.column_stack([hh[c].to_numpy() for c, _ in SPECIES]).astype(np.int64)
    units = np.array([SHEEP_UNITS[sp] for _, sp in SPECIES])
    exact = heads * share[:, None]
    lost = np.floor(exact).astype(np.int64)
    rows = np.arange(n)
    for _ in range(4):
        for j in np.argsort(-(exact - lost), axis=1, kind="stable").T:
            gap = target - lost @ units
            add = (lost[rows, j] < heads[rows, j]) & (np.abs(gap - units[j]) < np.abs(gap))
            lost[rows[add], j[add]] += 1
    # names as enumerators type them: mixed case, plural forms, some in Mongolian
    spellings = {"sheep": ("sheep", "Sheep", "хонь"), "goat": ("goats", "Goat", "ямаа"),
                 "cattle": ("cattle", "Cattle", "үхэр"), "horse": ("horses", "Horse", "адуу"),
                 "camel": ("camels", "Camel", "тэмээ")}
    rows = []
    for s, (_, sp) in enumerate(SPECIES):
        name = np.asarray(spellings[sp], dtype=object)[rng.integers(0, 3, n)]
        rows.append(pd.DataFrame({"hhid": hh["hhid"].to_numpy(), "species": name,
                                  "start": heads[:, s], "lost": lost[:, s],
                                  "_o": np.arange(n), "_s": s}))
    out = pd.concat(rows, ignore_index=True)
    out = out[out["start"] > 0].sort_values(["_o", "_s"], kind="stable")
    return out.drop(columns=["_o", "_s"]).reset_index(drop=True)


def _food(rng, hh, ids):
    n = len(hh)
    out = {"hhid": ids}
    out.update(_fcs_days(hh["fcs"].to_numpy()))
    hd = hh["hdds"].to_numpy().astype(np.int64)
    rank = np.argsort(rng.random((n, len(HDDS_GROUPS))), axis=1).argsort(axis=1)
    for j, g in enumerate(HDDS_GROUPS):
        out[f"hdds_{g}"] = (rank[:, j] < hd).astype(np.int64)
    out.update(_rcsi_days(hh["rcsi"].to_numpy()))
    return pd.DataFrame(out)


def _fcs_days(fcs):
    """Days per food group whose weighted sum is the FCS (a multiple of 0.5): sugar and
    oil first (eaten daily in Mongolia), then staples, milk, meat, pulses, the weight-1
    groups last, each as many days as fit; in half points every weight but sugar's and
    oil's is even, and the parity is settled by them, so the greedy fill is exact."""
    h = np.rint(2 * fcs).astype(np.int64)
    w = {g: round(2 * v) for g, v in FCS_WEIGHTS.items()}
    days = {}
    so = np.minimum(14, h)
    so = so - ((h - so) % 2)
    days["sugar"] = (so + 1) // 2
    days["oil"] = so // 2
    rest = h - so
    for g in ("staples", "milk", "meat_fish", "pulses", "vegetables", "fruit"):
        d = np.minimum(7, rest // w[g])
        days[g] = d
        rest = rest - d * w[g]
    assert (rest == 0).all()
    return {f"fcs_{g}": days[g] for g in FCS_WEIGHTS}


def _rcsi_days(rcsi):
    r = rcsi.astype(np.int64)
    out = {}
    for g in ("restrict_adults", "borrow", "less_preferred", "limit_portions", "reduce_meals"):
        d = np.minimum(7, r // int(RCSI_WEIGHTS[g]))
        out[f"rcsi_{g}"] = d
        r = r - d * int(RCSI_WEIGHTS[g])
    assert (r == 0).all()
    return {f"rcsi_{g}": out[f"rcsi_{g}"] for g in RCSI_WEIGHTS}


def _expenditure(rng, hh, ids, ae):
    """Purchases (30-day recall, three items) and own-produced meat and milk (quantity x
    declared unit value), together the simulated food expenditure per AE per month."""
    from rima.build.catalog import DAYS_PER_MONTH

    r = rng
    # food_exp_ae is per month of 30.4375 days; both modules recall 30 days
    total = hh["food_exp_ae"].to_numpy() * ae * (30.0 / DAYS_PER_MONTH)
    n = len(hh)
    meat_kg = r.integers(0, 25, n)
    meat_price = r.choice([9000.0, 10000.0, 11000.0, 12000.0], n)
    milk_l = r.integers(0, 60, n)
    milk_price = r.choice([1500.0, 2000.0], n)
    own = meat_kg * meat_price + milk_l * milk_price
    over = own > 0.6 * np.nan_to_num(total)
    meat_kg = np.where(over, 0, meat_kg)
    milk_l = np.where(over, 0, milk_l)
    own = meat_kg * meat_price + milk_l * milk_price
    bought = total - own
    split = r.dirichlet([3.0, 2.0, 1.0], n)
    parts = split * bought[:, None]
    parts[:, 2] = bought - parts[:, 0] - parts[:, 1]
    exp = pd.DataFrame({"hhid": np.repeat(ids, 3),
                        "item": np.tile(["flour_rice", "meat_dairy", "sugar_tea_oil"], n),
                        "amount": np.round(parts.ravel(), 2)})
    prod = pd.DataFrame({"hhid": np.repeat(ids, 2), "item": np.tile(["meat", "milk"], n),
                         "quantity": np.column_stack([meat_kg, milk_l]).ravel(),
                         "unit_value": np.column_stack([meat_price, milk_price]).ravel()})
    return exp, prod


def _income(rng, hh, ids):
    """Two income rows per household (a livestock and a non-livestock source) whose
    shares give the simulated non-livestock income share."""
    n = len(hh)
    share = hh["nonlivestock_income_share"].to_numpy()
    total = np.round(np.exp(rng.normal(np.log(9e6), 0.5, n)), -3)
    other = total * share
    live_src = np.asarray(LIVESTOCK_INCOME, dtype=object)[rng.integers(0, 3, n)]
    other_src = np.asarray(OTHER_INCOME, dtype=object)[rng.integers(0, 3, n)]
    return pd.DataFrame({"hhid": np.repeat(ids, 2),
                         "source": np.column_stack([live_src, other_src]).ravel(),
                         "amount": np.column_stack([total - other, other]).ravel()})


def _assets(rng, hh, ids):
    n = len(hh)
    k = hh["n_durables"].to_numpy().astype(np.int64)
    rank = np.argsort(rng.random((n, len(DURABLES))) - 0.08 * np.arange(len(DURABLES)),
                      axis=1).argsort(axis=1)
    out = {"hhid": ids}
    for j, g in enumerate(DURABLES):
        out[g] = (rank[:, j] < k).astype(np.int64)
    return pd.DataFrame(out)


SOURCES_TOML = """\
[sources]
key = "hhid"
missing_codes = [-99, -98]
households = "raw/households.{ext}"
roster = "raw/roster.{ext}"
livestock = "raw/livestock.{ext}"
food = "raw/food.{ext}"
expenditure = "raw/expenditure.{ext}"
own_production = "raw/own_production.{ext}"
income = "raw/income.{ext}"
assets = "raw/assets.{ext}"
"""

BUILD_TOML = """\
# Roster: size, OECD-modified adult equivalents, dependency ratio, the head
[build.hh_size]
recipe = "household_size"

[build.adult_eq]
recipe = "adult_equivalents"
scale = "oecd_modified"

[build.dependency_ratio]
recipe = "dependency_ratio"

[build.head_sex]
recipe = "head_sex"

[build.head_age]
recipe = "head_age"

[build.head_edu_years]
recipe = "head_education"

# Livestock (long: one row per household and species; names in English or Mongolian)
[build.herd_su]
recipe = "herd"
count_column = "start"
units = "sheep_units"

[build.winter_loss_su]
recipe = "herd"
count_column = "lost"

[build.loss_share]
recipe = "dzud_loss"
count_column = "start"
lost_column = "lost"

# Food security (7-day food consumption, 24-hour diversity, coping)
[build.fcs]
recipe = "fcs"
prefix = "fcs_"
thresholds = [28, 42]      # oil and sugar are eaten daily in Mongolia

[build.fcs_class]
recipe = "fcs"
prefix = "fcs_"
output = "class"
thresholds = [28, 42]

[build.hdds]
recipe = "hdds"
prefix = "hdds_"

[build.rcsi]
recipe = "rcsi"
prefix = "rcsi_"

# Food expenditure (30-day recall) plus own-produced meat and milk, per AE per month
[build.food_exp_ae]
recipe = "money_per_ae"
source = "expenditure"
amount_column = "amount"
period_days = 30
own_source = "own_production"
own_period_days = 30
ae = "adult_eq"

[build.log_food_exp_ae]
recipe = "log"
input = "food_exp_ae"

[build.nonlivestock_income_share]
recipe = "nonlivestock_income_share"
source = "income"
source_column = "source"
livestock = ["livestock_sales", "cashmere", "dairy_sales"]

# Durable goods: a count and the first-factor asset index
[build.n_durables]
recipe = "asset_count"
source = "assets"
columns = ["tv", "radio", "fridge", "washing_machine", "satellite_dish", "mobile_phone",
           "sewing_machine", "generator"]

[build.asset_index]
recipe = "asset_index"
source = "assets"
columns = ["tv", "radio", "fridge", "washing_machine", "satellite_dish", "mobile_phone",
           "sewing_machine", "generator"]
"""


MODEL_TOML = """\
[data]
id = "hhid"
weight = "hh_weight"
profiles = ["soum", "head_sex"]

[pillars]
ABS = ["dist_soum_km", "dist_vet_km", "dist_health_km", "solar_power", "mobile_coverage",
       "improved_water", "early_warning"]
AST = ["herd_su", "hay_reserve_t", "shelter_quality", "has_motorbike", "has_vehicle",
       "n_durables"]
SSN = ["social_insurance", "health_insurance", "remittances", "herder_loan",
       "livestock_insurance", "coop_member", "pug_member"]
AC = ["head_edu_years", "n_income_sources", "nonlivestock_income_share", "dependency_ratio",
      "training", "otor_moves"]

[indicators]
food_security = ["fcs", "log_food_exp_ae", "hdds"]

[options]
# "bad" variables: higher values mean less capacity; they are reversed before the factor
# analysis so that every pillar reads "higher = more capacity" (docs/orientation.md)
negative = ["dist_soum_km", "dist_vet_km", "dist_health_km", "dependency_ratio"]
"""


def raw_spec_text(model_spec: str = MODEL_TOML, ext: str = "csv") -> str:
    """A spec building the household variables from the raw modules written beside it
    (in raw/), followed by `model_spec`'s [data], [pillars], [indicators] and [options]."""
    return (SOURCES_TOML.format(ext=ext) + "\n" + BUILD_TOML + "\n" + model_spec)
