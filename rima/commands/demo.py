"""`rima demo`: the bundled Zavkhan example end to end."""

import click


def example_dir():
    """Directory of the bundled Zavkhan example (households, spec, soums, truth)."""
    from pathlib import Path

    here = Path(__file__).resolve().parents[2] / "examples" / "zavkhan"
    return here


def run_demo(echo=click.echo, out=None):
    """Load the bundled example, validate it and print the data summary.

    Returns a dict of what it produced so later stages (fit, report) can extend it. If the
    example files are not available (installed without the source tree), the same
    households are simulated with the example's seed.
    """
    from rima.io import read_table
    from rima.spec import load_spec
    from rima.validate import validate

    d = example_dir()
    spec = load_spec(d / "spec.toml") if (d / "spec.toml").exists() else load_spec(_EXAMPLE_SPEC)
    data_path = d / "households.csv"
    if data_path.exists():
        df = read_table(data_path)
        source = str(data_path)
    else:
        from rima.simulate import simulate

        df = simulate(n_households=2240, seed=EXAMPLE_SEED).households
        source = f"simulated Zavkhan survey (seed {EXAMPLE_SEED})"
    report = validate(df, spec, source=source)
    echo(report.format(max_rows_listed=5))
    report.raise_if_errors()
    soums = read_table(d / "soums.csv") if (d / "soums.csv").exists() else None
    if soums is not None:
        counts = soums["dzud_class"].value_counts()
        echo(
            f"\nDzud winter: {counts.get('dzud', 0)} soums dzud, "
            f"{counts.get('dzud-like', 0)} dzud-like, {counts.get('none', 0)} none; "
            f"median household loss {100 * df['loss_share'].median():.1f} % of sheep units"
        )
    return {"data": df, "spec": spec, "report": report, "source": source, "soums": soums}


EXAMPLE_SEED = 20240
_EXAMPLE_SPEC = {
    "data": {"id": "hhid", "weight": "hh_weight", "profiles": ["soum", "head_sex"]},
    "pillars": {
        "ABS": ["dist_soum_km", "dist_vet_km", "dist_health_km", "solar_power",
                "mobile_coverage", "improved_water", "early_warning"],
        "AST": ["herd_su", "hay_reserve_t", "shelter_quality", "has_motorbike", "has_vehicle",
                "n_durables"],
        "SSN": ["social_insurance", "health_insurance", "remittances", "herder_loan",
                "livestock_insurance", "coop_member", "pug_member"],
        "AC": ["head_edu_years", "n_income_sources", "nonlivestock_income_share",
               "dependency_ratio", "training", "otor_moves"],
    },
    "indicators": {"food_security": ["fcs", "log_food_exp_ae", "hdds"]},
}


@click.command("demo")
def command():
    """Run the bundled Zavkhan example and print the headline results."""
    run_demo()
