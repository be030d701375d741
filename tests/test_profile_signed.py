"""Profile tables keep each category's signed value beside its RSM share, so a pillar that
runs against the RCI within one soum or sex of head is visible there too."""

import numpy as np

import rima


def test_profile_rsm_shares_carry_their_signed_correlations():
    result = rima.fit("examples/zavkhan/households.csv", "examples/zavkhan/spec.toml")
    pillars = list(result.spec.pillars)
    scores = result.scores
    ok = (scores["status"] == "ok").to_numpy()
    for var, table in result.profiles.items():
        groups = result.data[var].to_numpy()
        assert all(f"r_signed_{p}" in table.columns for p in pillars)
        checked = 0
        for row in table.itertuples(index=False):
            row = row._asdict()
            if row["households"] <= 2:
                continue
            in_cat = ok & (groups.astype(str) == str(row["category"]))
            if in_cat.sum() != row["households"]:
                continue  # value-labelled categories: compared through the overall check
            rci = scores.loc[in_cat, "RCI"].to_numpy(float)
            for p in pillars:
                x = scores.loc[in_cat, p].to_numpy(float)
                expected = np.corrcoef(x, rci)[0, 1]  # independent of the grouped kernel
                assert abs(row[f"r_signed_{p}"] - expected) < 1e-10, (var, row["category"], p)
            signed = np.array([row[f"r_signed_{p}"] for p in pillars])
            shares = np.array([row[f"rsm_{p}"] for p in pillars])
            np.testing.assert_allclose(shares, 100 * np.abs(signed) / np.abs(signed).sum(),
                                       rtol=1e-12)
            checked += 1
        assert checked > 0, var
