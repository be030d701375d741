"""Write the simulated datasets the pipeline reference script reads.

Run from the repository root: python tests/reference/make_pipeline_data.py
Each dataset keeps only the columns its spec uses (plus the simulator's true latent
resilience for the recovery test), as gzip CSV with full float precision.
"""

from pathlib import Path

import rima

OUT = Path("tests/reference/pipeline_data")

DATASETS = {
    # name: (n, seed, indicators)
    "sim_n600_s11": (600, 11, ["fcs", "log_food_exp_ae", "hdds"]),
    "sim2ind_n800_s12": (800, 12, ["fcs", "hdds"]),
}


def main():
    spec = rima.load_spec("examples/zavkhan/spec.toml")
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (n, seed, ind) in DATASETS.items():
        s = rima.simulate(n_households=n, seed=seed)
        cols = [spec.id, spec.weight, *spec.profiles, *spec.pillar_variables, *ind]
        df = s.households[cols].merge(s.truth[[spec.id, "resilience"]], on=spec.id)
        df.to_csv(OUT / f"{name}.csv.gz", index=False, float_format="%.17g",
                  compression={"method": "gzip", "mtime": 0})


if __name__ == "__main__":
    main()
