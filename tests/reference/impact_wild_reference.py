"""Wild cluster bootstrap reference values for rima.analysis.impact, from `wildboottest`
(a Python port of Stata's boottest; not a rima dependency, only used here).

    pip install wildboottest
    cd tests/reference && python impact_wild_reference.py

Unweighted two-way fixed-effects DiD on impact_data.csv (household dummies, round dummies,
treatment d), WCR bootstrap (null imposed, "11"), clusters = soums:
- p-values of H0: beta_d = 0 for hdds (no effect) and fcs, Webb and Rademacher weights;
- p-values of H0: beta_d = b0 for fcs on a grid of b0 (test of y - b0 d), from which the
  test finds the interval a test inversion must give.
"""

import json

import numpy as np
import pandas as pd
import statsmodels.api as sm
import wildboottest
from wildboottest.wildboottest import wildboottest as wbt

B = 99999
d = pd.read_csv("impact_data.csv")
X = pd.concat([d[["d"]].astype(float),
               pd.get_dummies(d["round"], prefix="r", drop_first=True, dtype=float),
               pd.get_dummies(d["hhid"], prefix="h", dtype=float)], axis=1)


def p_of(y, kind, seed):
    res = wbt(sm.OLS(y.astype(float), X), B=B, cluster=pd.factorize(d["soum"], sort=True)[0], param="d",
              weights_type=kind, impose_null=True, bootstrap_type="11", seed=seed, show=False)
    return float(res["p-value"].iloc[0])


out = {"B": B, "wildboottest": wildboottest.__version__ if hasattr(wildboottest, "__version__")
       else "0.3.2", "p0": {}, "grid": {}}
for outcome in ("hdds", "fcs", "rcsi"):
    out["p0"][outcome] = {k: p_of(d[outcome], k, 11) for k in ("webb", "rademacher")}
grid = np.round(np.arange(0.0, 12.01, 0.5), 2)
out["grid"]["b0"] = grid.tolist()
out["grid"]["fcs_webb"] = [p_of(d["fcs"] - b0 * d["d"], "webb", 12) for b0 in grid]
with open("impact_wild_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print(json.dumps(out["p0"]), out["grid"]["fcs_webb"])
