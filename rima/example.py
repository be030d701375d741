"""The bundled Zavkhan example: where its files are, its seed, and the spec used when
the files are not installed (the demo and the benchmarks read both)."""

from pathlib import Path


def example_dir() -> Path:
    """Directory of the bundled Zavkhan example (households, spec, soums, truth)."""
    return Path(__file__).resolve().parents[1] / "examples" / "zavkhan"


EXAMPLE_SEED = 20240
EXAMPLE_SPEC = {
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
