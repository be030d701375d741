"""Zavkhan herder survey simulator with a known latent structure.

Real RIMA-II microdata are not public, so tests, examples and benchmarks use households
drawn from a model whose truth is known:

    pillar capacities  L = (ABS, AST, SSN, AC)   correlated, unit variance, soum clustering
    latent resilience  R = standardised(gamma' L + zeta)
    observed variables x = monotone transform(lambda * L_pillar + noise)  (>= 6 per pillar)
    food security      y = transform(R - shock effect + noise)            (fcs, food exp, hdds, rCSI)
    winter losses      logit(loss share) = a + b * soum severity - c * R + noise

so the reference procedure (factor analysis per pillar, then a MIMIC model with the
food-security indicators) should recover R. Everything is vectorised numpy driven by one
`np.random.default_rng(seed)`, so a seed gives identical output on every run.

Soum attributes (zone, herder households, distance to Uliastai) are illustrative values
chosen to look like Zavkhan, not official statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri

PILLARS = ("ABS", "AST", "SSN", "AC")

# Mongolian sheep forage units per head
SHEEP_UNITS = {"sheep": 1.0, "goats": 0.9, "cattle": 6.0, "horses": 7.0, "camels": 5.0}

# name, zone, herder households (illustrative), km to Uliastai (illustrative)
SOUMS = (
    ("Uliastai", "mountain_steppe", 420, 0),
    ("Aldarkhaan", "mountain_steppe", 610, 25),
    ("Asgat", "forest_steppe", 380, 215),
    ("Bayantes", "steppe", 450, 320),
    ("Bayankhairkhan", "mountain_steppe", 330, 110),
    ("Dörvöljin", "desert_steppe", 520, 170),
    ("Zavkhanmandal", "desert_steppe", 360, 150),
    ("Ider", "forest_steppe", 700, 270),
    ("Ikh-Uul", "forest_steppe", 640, 250),
    ("Nömrög", "forest_steppe", 410, 280),
    ("Otgon", "mountain_steppe", 590, 140),
    ("Santmargats", "desert_steppe", 470, 200),
    ("Songino", "steppe", 430, 130),
    ("Tosontsengel", "forest_steppe", 760, 180),
    ("Tüdevtei", "steppe", 390, 160),
    ("Telmen", "forest_steppe", 620, 200),
    ("Tes", "steppe", 560, 300),
    ("Urgamal", "desert_steppe", 410, 230),
    ("Tsagaankhairkhan", "mountain_steppe", 450, 90),
    ("Tsagaanchuluut", "mountain_steppe", 370, 120),
    ("Tsetsen-Uul", "steppe", 480, 260),
    ("Shilüüstei", "mountain_steppe", 440, 100),
    ("Erdenekhairkhan", "desert_steppe", 500, 130),
    ("Yaruu", "steppe", 520, 95),
)
SOUM_NAMES = tuple(s[0] for s in SOUMS)

# Expected herd composition (share of head) and snow proneness by zone: the forest steppe
# is snowy and cattle/yak country, the desert steppe dry, goat and camel country.
_ZONES = {
    #                   sheep goats cattle horses camels  snow
    "forest_steppe":   (0.38, 0.34, 0.16, 0.12, 0.00, 1.00),
    "mountain_steppe": (0.38, 0.40, 0.11, 0.10, 0.01, 0.70),
    "steppe":          (0.40, 0.42, 0.07, 0.10, 0.01, 0.55),
    "desert_steppe":   (0.33, 0.52, 0.03, 0.08, 0.04, 0.35),
}

# Latent structure: correlation of the household part of the pillars, share of variance
# at soum level (intra-class correlation) and the structural effects on resilience.
_PILLAR_CORR = np.array(
    [
        [1.00, 0.30, 0.25, 0.30],
        [0.30, 1.00, 0.20, 0.35],
        [0.25, 0.20, 1.00, 0.25],
        [0.30, 0.35, 0.25, 1.00],
    ]
)
_PILLAR_ICC = np.array([0.30, 0.12, 0.10, 0.08])
GAMMA = {"ABS": 0.30, "AST": 0.45, "SSN": 0.25, "AC": 0.35}
RESILIENCE_R2 = 0.70
_FEMALE_GAP = 0.45  # household-level shift of AST (and half of it for AC), in SD units  # share of the variance of resilience explained by the pillars

# Columns with a few per cent of values missing (item non-response), and the rate.
MISSING_RATES = {
    "dist_vet_km": 0.015,
    "hay_reserve_t": 0.025,
    "head_edu_years": 0.01,
    "food_exp_ae": 0.012,
    "nonlivestock_income_share": 0.02,
}


@dataclass
class SimulatedSurvey:
    """A simulated survey: households, the dzud soum table and the ground truth.

    Attributes
    ----------
    households : DataFrame
        One row per household (panel: both rounds stacked, column ``round``).
    soums : DataFrame
        Dzud soum table, one row per soum and winter (column ``round``: the survey round
        that followed the winter).
    truth : DataFrame
        hhid (and round), latent pillar capacities ABS, AST, SSN, AC and latent
        ``resilience``.
    rounds : dict
        {round number: households of that round}.
    seed : int or None
    panel : bool
    effects : DataFrame or None
        The pilot's average realised effects (``pilot=True``).
    """

    households: pd.DataFrame
    soums: pd.DataFrame
    truth: pd.DataFrame
    rounds: dict[int, pd.DataFrame] = field(default_factory=dict)
    seed: int | None = None
    panel: bool = False
    effects: pd.DataFrame | None = None

    def raw(self) -> dict[str, pd.DataFrame]:
        """The raw questionnaire modules behind the household table (one round).

        Building them with `rima.simulation_raw.raw_spec_text()` gives back the household
        variables (see `rima.simulation_raw`).

        Returns
        -------
        dict
            {module name: DataFrame}.

        Raises
        ------
        ValueError
            The survey is a panel (raw modules are simulated for one round).
        """
        from rima.simulation_raw import raw_modules

        if self.panel:
            raise ValueError("raw modules are simulated for one round (panel=False)")
        return raw_modules(self.households, self.seed)

    def write(self, directory: str | Path, fmt: str = "csv",
              raw: bool = False) -> dict[str, Path]:
        """Write households, soums and truth as ``<name>.<fmt>`` into a directory.

        Parameters
        ----------
        directory : str or Path
            Created if needed.
        fmt : str, default "csv"
            csv, tsv, parquet, dta or xlsx.
        raw : bool, default False
            Also the raw modules into ``raw/`` and ``spec_raw.toml`` building them.

        Returns
        -------
        dict
            {table name: path written}.
        """
        from rima.io import writable_dir, write_table

        out = writable_dir(directory)
        fmt = fmt.lstrip(".").lower()
        paths = {}
        truth_labels = {p: f"true latent {p} capacity (standard normal)"
                        for p in ("ABS", "AST", "SSN", "AC")}
        truth_labels["resilience"] = "true latent resilience capacity (standard normal)"
        names = ("households", "soums", "truth") + (("effects",) if self.effects is not None
                                                     else ())
        for name in names:
            path = out / f"{name}.{fmt}"
            write_table(getattr(self, name), path,
                        data_label=f"rima simulated Zavkhan herder survey: {name}",
                        labels=truth_labels if name == "truth" else None)
            paths[name] = path
        if raw:
            from rima.simulation_raw import raw_spec_text

            for name, df in self.raw().items():
                path = out / "raw" / f"{name}.{fmt}"
                write_table(df, path)
                paths[f"raw/{name}"] = path
            spec = out / "spec_raw.toml"
            spec.write_text(raw_spec_text(ext=fmt), encoding="utf-8")
            paths["spec_raw"] = spec
        return paths


def simulate(
    n_households: int = 2240,
    seed: int | None = 0,
    panel: bool = False,
    missing: bool = True,
    dzud_severity: float = 1.0,
    resilience_x_severity: float = 0.0,
    pilot: bool = False,
) -> SimulatedSurvey:
    """Simulate a Zavkhan herder survey with known latent resilience.

    Parameters
    ----------
    n_households : number of households (per round).
    seed : seed of ``np.random.default_rng``; the same seed gives identical output.
    panel : if True, two rounds of the same households: round 1 after an ordinary winter,
        round 2 after a dzud winter.
    missing : if False, no item non-response (every value present).
    dzud_severity : multiplies the severity of the dzud winter (0 = no dzud).
    resilience_x_severity : b, a known interaction for shock analyses: the food-security
        signal R - 1.2 (loss_share - 0.08) gains b * R * (soum winter severity), so
        fcs = 63.152 + 12 R - 14.4 loss_share + 12 b R severity + 9 e. The default 0 leaves
        every simulated value as it was (no extra random draws).
    pilot : the shock-responsive Child Money top-up (needs panel=True; see `PILOT`): three
        rounds (two ordinary winters, then the dzud), 5 pilot soums drawn with odds
        exp(4 x the soum's dzud forecast), a top-up in the dzud round to Child Money
        recipients of the pilot soums (household column ``topup``), which raises their FCS
        and lowers their rCSI, more so for households of low latent resilience. The truth
        gains each household's realised effects and `effects` the averages.

    Returns
    -------
    SimulatedSurvey
        households, soums, truth and rounds.

    Raises
    ------
    ValueError
        n_households below 1, or pilot without panel.

    Examples
    --------
    >>> s = rima.simulate(n_households=200, seed=0)
    >>> len(s.households), {"hhid", "ABS", "resilience"} <= set(s.truth.columns)
    (200, True)
    """
    n = int(n_households)
    if n < 1:
        raise ValueError(f"n_households must be at least 1, got {n_households!r}")
    rng = np.random.default_rng(seed)

    soum = _allocate_soums(rng, n)
    soum_tab = _soum_frame()
    zone = soum_tab["zone"].to_numpy()[soum]
    female = rng.random(n) < 0.16
    latent = _draw_latent(rng, soum, len(SOUMS), female)
    demo = _draw_demographics(rng, n, latent["AC"], female)
    weights = soum_tab["herder_households"].to_numpy() / np.maximum(
        np.bincount(soum, minlength=len(SOUMS)), 1
    )

    if pilot and not panel:
        raise ValueError("pilot=True needs panel=True (the top-up is evaluated on a panel)")
    winters = [_draw_winter(rng, soum_tab, dzud_severity)]
    if panel:
        # round 1 follows an ordinary winter, round 2 the dzud winter
        winters.insert(0, _draw_winter(rng, soum_tab, 0.25))
    plan = None
    if pilot:
        # a second ordinary winter before the dzud gives the pre-trend its two rounds
        winters.insert(0, _draw_winter(rng, soum_tab, 0.25))
        plan = _pilot_plan(rng, winters[-1]["severity"], soum)

    rounds, truths, soum_rows = {}, [], []
    for r, winter in enumerate(winters, start=1):
        before = latent
        if r > 1:
            latent = _evolve_latent(rng, latent)
            demo = demo.copy()
            demo["head_age"] = demo["head_age"] + 1
        topup = None
        if plan is not None:
            topup = _pilot_round(plan, before["resilience"], dzud=r == len(winters))
        hh = _draw_round(rng, n, soum, zone, weights, latent, demo, winter, missing,
                         resilience_x_severity, topup)
        if panel:
            hh.insert(1, "round", np.full(n, r, dtype=np.int64))
        rounds[r] = hh
        truth = pd.DataFrame({"hhid": hh["hhid"].to_numpy()})
        if panel:
            truth["round"] = r
        for p in PILLARS:
            truth[p] = latent[p]
        truth["resilience"] = latent["resilience"]
        if topup is not None:
            for c in ("topup", "effect_fcs", "effect_rcsi"):
                truth[c] = topup[c]
        truths.append(truth)
        soum_rows.append(_soum_winter_table(soum_tab, winter, hh, soum, r))
        if plan is not None:
            soum_rows[-1]["pilot"] = plan["pilot_soum"].astype(np.int64)

    households = rounds[1] if not panel else pd.concat(rounds.values(), ignore_index=True)
    return SimulatedSurvey(
        households=households,
        soums=pd.concat(soum_rows, ignore_index=True),
        truth=pd.concat(truths, ignore_index=True),
        rounds=rounds,
        seed=seed,
        panel=panel,
        effects=None if plan is None else _pilot_effects(plan, truths[-1], rounds[len(rounds)],
                                                         truths[-2]),
    )


def _soum_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "soum": SOUM_NAMES,
            "soum_code": np.arange(1, len(SOUMS) + 1),
            "zone": [s[1] for s in SOUMS],
            "herder_households": np.array([s[2] for s in SOUMS], dtype=np.int64),
            "dist_aimag_km": np.array([s[3] for s in SOUMS], dtype=float),
        }
    )


def _allocate_soums(rng, n):
    # Stratified design: sample size per soum grows with the square root of its herder
    # population (a common compromise between equal and proportional allocation).
    pop = np.array([s[2] for s in SOUMS], dtype=float)
    p = np.sqrt(pop) / np.sqrt(pop).sum()
    counts = np.floor(p * n).astype(np.int64)
    short = n - counts.sum()
    if short:
        counts[np.argsort(-(p * n - counts), kind="stable")[:short]] += 1
    return np.repeat(np.arange(len(SOUMS)), counts)


def _draw_latent(rng, soum, n_soums, female):
    n = soum.shape[0]
    chol = np.linalg.cholesky(_PILLAR_CORR)
    hh = rng.standard_normal((n, 4)) @ chol.T
    # female-headed herder households hold fewer animals and less labour, as surveys find
    hh[:, 1] -= _FEMALE_GAP * (female - 0.16)
    hh[:, 3] -= 0.5 * _FEMALE_GAP * (female - 0.16)
    soum_eff = rng.standard_normal((n_soums, 4))
    # The soum centre itself (Uliastai is also the aimag centre) has better services.
    soum_eff[0, 0] = 1.5
    lat = np.sqrt(_PILLAR_ICC) * soum_eff[soum] + np.sqrt(1 - _PILLAR_ICC) * hh
    out = {p: lat[:, j] for j, p in enumerate(PILLARS)}
    out["resilience"] = _resilience(rng, lat)
    return out


def _resilience(rng, lat):
    g = np.array([GAMMA[p] for p in PILLARS])
    cov = np.diag(np.sqrt(_PILLAR_ICC)) ** 2 + (
        np.diag(np.sqrt(1 - _PILLAR_ICC)) @ _PILLAR_CORR @ np.diag(np.sqrt(1 - _PILLAR_ICC))
    )
    explained = g @ cov @ g
    psi = explained * (1 - RESILIENCE_R2) / RESILIENCE_R2
    return (lat @ g + np.sqrt(psi) * rng.standard_normal(lat.shape[0])) / np.sqrt(
        explained + psi
    )


def _evolve_latent(rng, latent):
    # Capacities persist between rounds; a year adds a little household-level change.
    rho = 0.9
    lat = np.column_stack([latent[p] for p in PILLARS])
    lat = rho * lat + np.sqrt(1 - rho**2) * rng.standard_normal(lat.shape)
    out = {p: lat[:, j] for j, p in enumerate(PILLARS)}
    out["resilience"] = _resilience(rng, lat)
    return out


def _draw_demographics(rng, n, ac, female):
    head_age = np.clip(np.rint(rng.normal(46, 11.5, n)), 19, 85).astype(np.int64)
    hh_size = (1 + rng.poisson(3.1, n)).astype(np.int64)
    # adaptive households have more working-age members per dependent
    p_work = expit(0.35 + 0.45 * ac + 0.3 * rng.standard_normal(n))
    n_work = np.maximum(rng.binomial(hh_size, p_work), 1)
    n_work = np.minimum(n_work, hh_size)
    dependents = hh_size - n_work
    old_head = head_age >= 60
    n_elderly = np.where(old_head, np.minimum(dependents, 1 + rng.binomial(1, 0.3, n)), 0)
    n_elderly = np.minimum(n_elderly + rng.binomial(dependents - n_elderly, 0.08), dependents)
    n_children = dependents - n_elderly
    return {
        "head_sex": female,
        "head_age": head_age,
        "hh_size": hh_size,
        "n_children": n_children.astype(np.int64),
        "n_elderly": n_elderly.astype(np.int64),
        "dependency_ratio": np.round(dependents / n_work, 3),
    }


def _draw_winter(rng, soum_tab, scale):
    """Soum-level winter: snow depth, temperature anomaly, severity and dzud class."""
    k = len(soum_tab)
    snow_prone = np.array([_ZONES[z][5] for z in soum_tab["zone"]])
    aimag_shock = scale
    snow = np.maximum(0.0, rng.normal(8 + 22 * snow_prone * aimag_shock, 6 + 4 * aimag_shock, k))
    temp = rng.normal(-3.5 * aimag_shock, 1.5, k)
    # composite severity in [0, 1]: deep snow and cold anomalies, rescaled by fixed bounds
    raw = 0.6 * np.clip(snow / 45.0, 0, 1.2) + 0.4 * np.clip(-temp / 8.0, -0.3, 1.2)
    severity = np.round(np.clip(raw, 0.0, 1.0), 3)
    dzud_class = np.where(severity >= 0.55, "dzud", np.where(severity >= 0.35, "dzud-like", "none"))
    return {
        "snow_depth_cm": np.round(snow, 1),
        "temp_anomaly_c": np.round(temp, 1),
        "severity": severity,
        "dzud_class": dzud_class,
    }


def _soum_winter_table(soum_tab, winter, hh, soum, r):
    w = hh["hh_weight"].to_numpy()
    herd = hh["herd_su"].to_numpy()
    lost = hh["winter_loss_su"].to_numpy()
    k = len(soum_tab)
    mort = 100 * np.bincount(soum, w * lost, k) / np.maximum(np.bincount(soum, w * herd, k), 1e-12)
    out = soum_tab[["soum", "soum_code", "zone", "herder_households", "dist_aimag_km"]].copy()
    out.insert(2, "round", r)
    out["snow_depth_cm"] = winter["snow_depth_cm"]
    out["temp_anomaly_c"] = winter["temp_anomaly_c"]
    out["severity"] = winter["severity"]
    out["dzud_class"] = winter["dzud_class"]
    # weighted livestock mortality of the sampled herds (sheep units), as a statistician
    # would report it; the index-insurance trigger is 6 %
    out["mortality_pct"] = np.round(mort, 2)
    return out


def _item(rng, latent, loading):
    """Standard-normal item: `loading` * latent + independent noise (unit variance)."""
    return loading * latent + np.sqrt(1 - loading**2) * rng.standard_normal(latent.shape[0])


def _binary(rng, latent, loading, rate):
    return (_item(rng, latent, loading) > ndtri(1 - rate)).astype(np.int64)


def _ordinal(rng, latent, loading, cum_rates):
    """Ordinal 0..len(cum_rates): cum_rates[i] = P(value <= i)."""
    z = _item(rng, latent, loading)
    return np.searchsorted(ndtri(np.asarray(cum_rates)), z).astype(np.int64)


# The pilot top-up (simulate(pilot=True)): effect on FCS points and on rCSI (a fall) as a
# function of the household's latent resilience R before the dzud (standard normal).
PILOT = {"n_soums": 5, "selection": 4.0, "forecast_sd": 0.08,
         "fcs": (6.0, -3.0), "rcsi": (2.0, -1.0)}


def _pilot_plan(rng, dzud_severity, soum):
    """Pilot soums chosen on the dzud early-warning forecast (a baseline characteristic)."""
    k = dzud_severity.shape[0]
    forecast = np.round(np.clip(dzud_severity + PILOT["forecast_sd"] * rng.standard_normal(k),
                                0, 1), 3)
    odds = np.exp(PILOT["selection"] * forecast)
    chosen = rng.choice(k, size=PILOT["n_soums"], replace=False, p=odds / odds.sum())
    pilot_soum = np.zeros(k, dtype=bool)
    pilot_soum[chosen] = True
    return {"forecast": forecast, "pilot_soum": pilot_soum, "in_pilot": pilot_soum[soum],
            "soum": soum}


def _pilot_round(plan, r_before, dzud):
    n = plan["soum"].shape[0]
    a_f, b_f = PILOT["fcs"]
    a_r, b_r = PILOT["rcsi"]
    return {"forecast": plan["forecast"][plan["soum"]], "in_pilot": plan["in_pilot"],
            "active": dzud,
            "tau_fcs": np.maximum(a_f + b_f * r_before, 0.0) if dzud else np.zeros(n),
            "tau_rcsi": np.maximum(a_r + b_r * r_before, 0.0) if dzud else np.zeros(n)}


def _pilot_effects(plan, truth, hh, truth_before):
    """Average realised effects among the recipients: overall and by latent resilience third."""
    d = truth["topup"].to_numpy() == 1
    w = hh["hh_weight"].to_numpy()
    r = truth_before["resilience"].to_numpy()
    cuts = np.quantile(r, [1 / 3, 2 / 3])
    third = np.where(r < cuts[0], "low", np.where(r < cuts[1], "medium", "high"))
    rows = []
    for outcome in ("fcs", "rcsi"):
        e = truth[f"effect_{outcome}"].to_numpy()
        a, b = PILOT[outcome]
        for grp, m in (("recipients", d), *((f"recipients, {t} latent resilience third",
                                             d & (third == t)) for t in ("low", "medium", "high"))):
            rows.append({"outcome": outcome, "group": grp, "households": int(m.sum()),
                         "effect": float(np.sum(w[m] * e[m]) / np.sum(w[m])) if m.any() else np.nan,
                         "effect_unweighted": float(e[m].mean()) if m.any() else np.nan,
                         "rule": ("-" if outcome == "rcsi" else "")
                                 + f"max(0, {a} {'+' if b >= 0 else '-'} {abs(b)} R), R = latent "
                                   "resilience before the dzud"})
    rows.append({"outcome": "pilot_soums", "group": ", ".join(np.array(SOUM_NAMES)[plan["pilot_soum"]]),
                 "households": int(plan["in_pilot"].sum()), "effect": np.nan,
                 "effect_unweighted": np.nan, "rule": "odds exp(4 x dzud forecast)"})
    return pd.DataFrame(rows)


def _draw_round(rng, n, soum, zone, weights, lat, demo, winter, missing, res_x_sev=0.0,
                topup=None):
    abs_, ast, ssn, ac, res = lat["ABS"], lat["AST"], lat["SSN"], lat["AC"], lat["resilience"]
    zone_codes = {z: i for i, z in enumerate(_ZONES)}
    zi = np.array([zone_codes[z] for z in zone]) if n else np.zeros(0, dtype=np.int64)
    comp = np.array([_ZONES[z][:5] for z in _ZONES])[zi]

    df = {}
    df["hhid"] = np.arange(1, n + 1, dtype=np.int64) + 100000
    df["soum"] = pd.Categorical.from_codes(soum, categories=list(SOUM_NAMES))
    df["hh_weight"] = np.round(weights[soum], 4)
    df["head_sex"] = pd.Categorical.from_codes(demo["head_sex"].astype(np.int8), ["male", "female"])
    df["head_age"] = demo["head_age"]
    df["hh_size"] = demo["hh_size"]
    df["n_children"] = demo["n_children"]
    df["n_elderly"] = demo["n_elderly"]

    # ABS: access to basic services (distances are "bad": negative loadings)
    df["dist_soum_km"] = np.round(np.exp(3.0 - 0.55 * _item(rng, abs_, 0.80)), 1)
    df["dist_vet_km"] = np.round(np.exp(2.8 - 0.55 * _item(rng, abs_, 0.70)), 1)
    df["dist_health_km"] = np.round(np.exp(3.0 - 0.50 * _item(rng, abs_, 0.70)), 1)
    df["solar_power"] = _binary(rng, abs_, 0.50, 0.82)
    df["mobile_coverage"] = _ordinal(rng, abs_, 0.65, [0.15, 0.45])  # 0 none, 1 weak, 2 good
    water = _ordinal(rng, abs_, 0.50, [0.12, 0.35, 0.60])  # river, spring, well, protected
    df["water_source"] = pd.Categorical.from_codes(
        water.astype(np.int8), ["river_lake", "spring", "open_well", "protected_well"]
    )
    df["improved_water"] = (water == 3).astype(np.int64)
    df["early_warning"] = _binary(rng, abs_, 0.55, 0.55)

    # AST: assets. Herd size in head is lognormal (skewed); species split by zone.
    heads = np.exp(np.log(260.0) + 0.75 * _item(rng, ast, 0.85))
    g = rng.gamma(shape=comp * 12.0 + 1e-3)
    shares = g / g.sum(axis=1, keepdims=True)
    herd = {}
    for j, species in enumerate(SHEEP_UNITS):
        herd[species] = np.rint(heads * shares[:, j]).astype(np.int64)
        df[species] = herd[species]
    herd_su = sum(herd[s] * u for s, u in SHEEP_UNITS.items())
    df["herd_su"] = np.round(herd_su, 1)
    hay = np.exp(0.3 + 0.9 * _item(rng, ast, 0.70))
    hay[rng.random(n) < expit(-2.6 - 0.8 * ast)] = 0.0  # some herders store no hay at all
    df["hay_reserve_t"] = np.round(hay, 2)
    df["shelter_quality"] = 1 + _ordinal(rng, ast, 0.65, [0.10, 0.35, 0.75])  # 1 poor .. 4 good
    df["has_motorbike"] = _binary(rng, ast, 0.50, 0.85)
    df["has_vehicle"] = _binary(rng, ast, 0.60, 0.30)
    n_dur = _item(rng, ast, 0.65)
    df["n_durables"] = np.clip(np.rint(3.2 + 1.6 * n_dur), 0, 8).astype(np.int64)

    # SSN: social safety nets
    df["social_insurance"] = _binary(rng, ssn, 0.60, 0.15)
    df["health_insurance"] = _binary(rng, ssn, 0.55, 0.40)
    # Child Money Programme: (near) universal for households with children, so it says
    # little about the SSN capacity
    df["child_money"] = ((demo["n_children"] > 0) & (rng.random(n) < 0.95)).astype(np.int64)
    df["pension_welfare"] = (
        (demo["n_elderly"] > 0) | (_item(rng, ssn, 0.3) > ndtri(0.9))
    ).astype(np.int64)
    df["remittances"] = _binary(rng, ssn, 0.40, 0.22)
    df["herder_loan"] = _binary(rng, ssn, 0.45, 0.45)
    df["livestock_insurance"] = _binary(rng, ssn, 0.55, 0.12)
    df["coop_member"] = _binary(rng, ssn, 0.55, 0.20)
    df["pug_member"] = _binary(rng, ssn, 0.60, 0.35)

    # AC: adaptive capacity (dependency ratio comes from the demographics, driven by AC)
    edu = 8.5 + 2.8 * _item(rng, ac, 0.70) - 0.04 * (demo["head_age"] - 46)
    df["head_edu_years"] = np.clip(np.rint(edu), 0, 16).astype(float)
    df["n_income_sources"] = (1 + _ordinal(rng, ac, 0.65, [0.35, 0.70, 0.90, 0.97])).astype(
        np.int64
    )
    df["nonlivestock_income_share"] = np.round(expit(-1.6 + 0.9 * _item(rng, ac, 0.65)), 3)
    df["dependency_ratio"] = demo["dependency_ratio"]
    df["training"] = _binary(rng, ac, 0.55, 0.30)
    df["otor_moves"] = _ordinal(rng, ac, 0.50, [0.30, 0.65, 0.88, 0.97])

    # Winter losses: soum severity raises them, latent resilience lowers them.
    sev = winter["severity"][soum]
    logit = -3.9 + 4.0 * sev - 0.55 * res + 0.45 * rng.standard_normal(n)
    loss_share = expit(logit)
    df["winter_loss_su"] = np.round(herd_su * loss_share, 1)
    df["loss_share"] = np.round(
        np.divide(df["winter_loss_su"], herd_su, out=np.zeros(n), where=herd_su > 0), 4
    )

    # Food security: driven by latent resilience, lowered by the winter's losses.
    fs = res - 1.2 * (loss_share - 0.08)
    if res_x_sev:
        # resilient households hold food security better in a severe winter (known effect)
        fs = fs + res_x_sev * res * sev
    fcs = 62 + 15 * _item(rng, fs, 0.80)
    if topup is not None:
        # the pilot: recipients are Child Money households of the pilot soums; effects in
        # the dzud round only (recorded as the realised change of the rounded values)
        df["soum_dzud_forecast"] = topup["forecast"]
        got = topup["in_pilot"] & (df["child_money"] == 1) & topup["active"]
        df["topup"] = got.astype(np.int64)
        fcs0 = np.clip(np.round(fcs * 2) / 2, 0, 112)
        fcs = fcs + topup["tau_fcs"] * got
    df["fcs"] = np.clip(np.round(fcs * 2) / 2, 0, 112)
    if topup is not None:
        topup["topup"] = df["topup"]
        topup["effect_fcs"] = df["fcs"] - fcs0
    log_exp = np.log(165_000.0) + 0.38 * _item(rng, fs, 0.75)
    df["food_exp_ae"] = np.round(np.exp(log_exp), -2)
    df["log_food_exp_ae"] = np.round(np.log(df["food_exp_ae"]), 5)
    df["hdds"] = np.clip(np.rint(7.2 + 1.7 * _item(rng, fs, 0.72)), 0, 12).astype(np.int64)
    rcsi = np.exp(1.6 - 0.55 * _item(rng, fs, 0.65)) - 2.0
    if topup is not None:
        rcsi0 = np.clip(np.rint(rcsi), 0, 56).astype(np.int64)
        rcsi = rcsi - topup["tau_rcsi"] * df["topup"]
    df["rcsi"] = np.clip(np.rint(rcsi), 0, 56).astype(np.int64)
    if topup is not None:
        # effect on rCSI as the change of the index (negative = less coping)
        topup["effect_rcsi"] = df["rcsi"] - rcsi0

    if missing:
        for col, rate in MISSING_RATES.items():
            v = np.asarray(df[col], dtype=float)
            v[rng.random(n) < rate] = np.nan
            df[col] = v
        # a household missing food expenditure is missing its log too
        df["log_food_exp_ae"] = np.where(np.isnan(df["food_exp_ae"]), np.nan, df["log_food_exp_ae"])
    return pd.DataFrame(df)
