"""Write impact_data.csv: the small panel the impact reference values are computed on.

    cd tests/reference && PYTHONPATH=../.. python make_impact_data.py

400 simulated households x 3 rounds with the pilot top-up (`rima.simulate(pilot=True)`);
`g` = the household received the top-up (round 3), `d` = g x (round 3).
"""

import numpy as np

from rima.simulation import simulate

s = simulate(400, seed=7, panel=True, pilot=True, missing=False)
hh = s.households
g = hh.loc[hh["round"] == 3].set_index("hhid")["topup"]
out = hh[["hhid", "round", "soum", "hh_weight", "fcs", "hdds", "rcsi", "soum_dzud_forecast",
          "n_children"]].copy()
out["g"] = out["hhid"].map(g).astype(int)
out["d"] = out["g"] * (out["round"] == 3).astype(int)
out["soum"] = out["soum"].astype(str)
assert out["g"].sum() > 0 and np.isfinite(out[["fcs", "hdds"]].to_numpy()).all()
out.to_csv("impact_data.csv", index=False)
print(len(out), "rows;", out.loc[out["round"] == 3, "g"].sum(), "treated households")
