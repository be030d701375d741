"""Shared loader for the psych reference values (tests/reference/factor_reference.json)."""

import json
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

REF_DIR = Path(__file__).parent / "reference"

# reference method keys -> (rima method, smc)
METHOD_KEYS = {
    "pa": ("pa", False),
    "pa_smc": ("pa", True),
    "pf": ("pf", True),
    "minres": ("minres", True),
    "ml": ("ml", True),
    "pca": ("pca", False),
}


@lru_cache(maxsize=1)
def reference():
    with open(REF_DIR / "factor_reference.json") as fh:
        return json.load(fh)


def dataset_names():
    return [k for k, v in reference().items() if isinstance(v, dict) and "fits" in v]


@cache
def dataset(name):
    df = pd.read_csv(REF_DIR / "factor_data" / f"{name}.csv.gz")
    w = df.pop("weight").to_numpy() if "weight" in df.columns else None
    return df, w


def arr(x):
    return np.asarray(x, dtype=float)
