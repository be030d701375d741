"""The grouped moments kernel behind the RSM and the profile tables
(rima._kernels.groups via rima.rsm.group_stats and rima.profiles): against R (the
reference procedure's own scores fed straight in), against exact rational arithmetic, and
the bit-for-bit agreements the rest of rima relies on."""

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima.profiles as profiles_mod
from rima.profiles import (
    MISSING_LABEL,
    group_codes,
    profile_table,
    profiles,
    weighted_mean_ci,
    weighted_mean_se,
)
from rima.rsm import group_stats, rsm_shares, rsm_table, weighted_corr

REF = Path(__file__).parent / "reference"
ROOT = Path(__file__).parents[1]
R = json.loads((REF / "pipeline_reference.json").read_text())
DATA = {"zavkhan": ROOT / "examples" / "zavkhan" / "households.csv",
        "sim_n600_s11": REF / "pipeline_data" / "sim_n600_s11.csv.gz",
        "sim2ind_n800_s12": REF / "pipeline_data" / "sim2ind_n800_s12.csv.gz"}
PILLARS = ["ABS", "AST", "SSN", "AC"]


def r_scores(name):
    ref = R[name]
    return pd.DataFrame({p: ref["scores"][p] for p in PILLARS}), np.asarray(ref["RCI"])


@pytest.mark.parametrize("name", list(DATA))
def test_rsm_from_r_scores_matches_r(name):
    P, rci = r_scores(name)
    got = rsm_shares(P, rci).set_index("pillar")["share"]
    want = pd.Series(R[name]["RSM"])[PILLARS]
    np.testing.assert_allclose(got[PILLARS], want, rtol=0, atol=1e-10)


def test_weighted_rsm_from_r_scores_matches_r():
    ref = R["sim_weighted"]
    P = pd.DataFrame({p: ref["scores"][p] for p in PILLARS})
    w = pd.read_csv(DATA["sim_n600_s11"])["hh_weight"].to_numpy()[np.asarray(ref["rows"]) - 1]
    got = rsm_shares(P, np.asarray(ref["RCI"]), w).set_index("pillar")["share"]
    np.testing.assert_allclose(got[PILLARS], pd.Series(ref["RSM"])[PILLARS], rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", list(DATA))
def test_profile_mean_and_se_from_r_scores_match_survey(name):
    ref = R[name]
    rows = np.asarray(ref["rows"]) - 1
    df = pd.read_csv(DATA[name]).iloc[rows].reset_index(drop=True)
    P, rci = r_scores(name)
    scores = P.assign(RCI=rci, RCI_100=ref["RCI_100"], status="ok")
    tab = profile_table(scores, df["head_sex"], PILLARS, weights=df["hh_weight"])
    tab = tab.set_index("category")
    want = ref["profile_head_sex"]
    np.testing.assert_allclose(tab.loc[want["category"], "mean_RCI_100"], want["mean"],
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(tab.loc[want["category"], "se"], want["se"], rtol=0, atol=1e-10)


def _exact(codes, G, y, P, r, w):
    """Every output of group_moments in exact rational arithmetic."""
    out = []
    for g in range(G):
        rows = [i for i in range(len(codes)) if codes[i] == g]
        W = [Fraction(int(w[i])) for i in rows]
        sw = sum(W)

        def mean(v, rows=rows, W=W, sw=sw):
            return sum(wi * Fraction(int(v[i])) for wi, i in zip(W, rows)) / sw

        my, mr = mean(y), mean(r)
        mp = [mean(P[:, k]) for k in range(P.shape[1])]
        ss_y = sum(wi * wi * (Fraction(int(y[i])) - my) ** 2 for wi, i in zip(W, rows))
        ss_r = sum(wi * (Fraction(int(r[i])) - mr) ** 2 for wi, i in zip(W, rows))
        ss_p = [sum(wi * (Fraction(int(P[i, k])) - mp[k]) ** 2 for wi, i in zip(W, rows))
                for k in range(P.shape[1])]
        sp = [sum(wi * (Fraction(int(P[i, k])) - mp[k]) * (Fraction(int(r[i])) - mr)
                  for wi, i in zip(W, rows)) for k in range(P.shape[1])]
        out.append({"count": len(rows), "first": rows[0] if rows else -1, "sum_w": sw,
                    "mean_y": my, "ss_y": ss_y, "mean_p": mp, "mean_r": mr, "ss_p": ss_p,
                    "ss_r": ss_r, "sp_pr": sp})
    return out


def test_group_moments_equal_exact_rational_arithmetic():
    rng = np.random.default_rng(4)
    n, G, K = 400, 5, 3
    codes = rng.integers(-1, G, n)  # -1: left out
    y = rng.integers(0, 100, n).astype(float)
    r = rng.integers(-20, 20, n).astype(float)
    P = rng.integers(-9, 9, (n, K)).astype(float)
    w = rng.integers(1, 6, n).astype(float)
    gm = group_stats(codes, G, y, P, r, w)
    exact = _exact(codes, G, y, P, r, w)
    for g, e in enumerate(exact):
        assert gm.count[g] == e["count"] and gm.first[g] == e["first"]
        for key in ("sum_w", "mean_y", "ss_y", "mean_r", "ss_r"):
            assert getattr(gm, key)[g] == pytest.approx(float(e[key]), rel=1e-13), key
        for key in ("mean_p", "ss_p", "sp_pr"):
            np.testing.assert_allclose(getattr(gm, key)[g], [float(v) for v in e[key]],
                                       rtol=1e-13, atol=1e-12)
        corr = [float(e["sp_pr"][k]) / np.sqrt(float(e["ss_p"][k]) * float(e["ss_r"]))
                for k in range(K)]
        np.testing.assert_allclose(gm.corr()[g], corr, rtol=1e-13)


def test_each_group_has_the_bits_of_its_rows_alone():
    rng = np.random.default_rng(5)
    n = 5000
    codes = rng.integers(-1, 7, n)
    y, r = rng.normal(50, 10, n), rng.normal(0, 1, n)
    P = np.asfortranarray(rng.normal(0, 1, (n, 4)))
    w = rng.uniform(0.5, 3, n)
    gm = group_stats(codes, 7, y, P, r, w)
    for g in range(7):
        m = codes == g
        one = group_stats(np.zeros(m.sum(), dtype=np.int64), 1, y[m], P[m], r[m], w[m])
        for key in ("sum_w", "mean_y", "ss_y", "mean_r", "ss_r"):
            assert getattr(one, key)[0] == getattr(gm, key)[g], key
        for key in ("mean_p", "ss_p", "sp_pr"):
            assert np.array_equal(getattr(one, key)[0], getattr(gm, key)[g]), key


def test_one_vector_helpers():
    rng = np.random.default_rng(6)
    y, w = rng.normal(10, 2, 300), rng.uniform(1, 2, 300)
    m, se = weighted_mean_se(y, w, n_design=1000)
    assert m == pytest.approx(np.sum(w * y) / np.sum(w), rel=1e-14)
    assert se == pytest.approx(np.sqrt(1000 / 999 * np.sum(w**2 * (y - m) ** 2)) / w.sum(),
                               rel=1e-12)
    assert np.isnan(weighted_mean_se([3.0])[1])
    x = rng.normal(size=300)
    assert weighted_corr(x, 2 * x + 1) == pytest.approx(1.0, abs=1e-14)
    assert weighted_corr(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)


def _scores(n=3000, seed=7):
    rng = np.random.default_rng(seed)
    sc = pd.DataFrame(rng.normal(size=(n, 4)), columns=PILLARS)
    sc["RCI"] = sc.to_numpy() @ [0.4, 0.3, 0.2, 0.1] + rng.normal(0, 0.5, n)
    sc["RCI_100"] = 100 * (sc["RCI"] - sc["RCI"].min()) / (sc["RCI"].max() - sc["RCI"].min())
    sc["status"] = np.where(rng.random(n) < 0.1, "missing value in x", "ok")
    sc.loc[sc["status"] != "ok", ["RCI", "RCI_100"]] = np.nan
    return sc, rng


def test_profile_rows_equal_weighted_mean_ci_bit_for_bit():
    sc, rng = _scores()
    groups = pd.Series(rng.choice(["Tes", "Ider", "Telmen", None], len(sc)))
    w = rng.uniform(1, 20, len(sc))
    tab = profile_table(sc, groups, PILLARS, weights=w).set_index("category")
    ok = (sc["status"] == "ok").to_numpy()
    g = groups.fillna(MISSING_LABEL).to_numpy()
    for cat in tab.index:
        m = ok & (g == cat)
        mean, se, lo, hi = weighted_mean_ci(sc["RCI_100"].to_numpy()[m], w[m],
                                            n_design=ok.sum())
        row = tab.loc[cat]
        assert (row["mean_RCI_100"], row["se"], row["ci_lower"], row["ci_upper"]) == \
               (mean, se, lo, hi)
        assert row["households"] == m.sum()
        for p in PILLARS:
            assert row[f"mean_{p}"] == weighted_mean_se(sc[p].to_numpy()[m], w[m])[0]
        shares = rsm_table(PILLARS, sc[PILLARS].to_numpy(), sc["RCI"].to_numpy(), m, w)
        np.testing.assert_allclose(row[[f"rsm_{p}" for p in PILLARS]].to_numpy(float),
                                   shares["share"], rtol=1e-12)


def test_group_codes_categories_labels_and_order():
    s = pd.Series(["b", "a", None, "c", "a", MISSING_LABEL], dtype="str")
    codes, labels = group_codes(s)
    assert [labels[c] for c in codes] == ["b", "a", MISSING_LABEL, "c", "a", MISSING_LABEL]
    cat = pd.Series(pd.Categorical(["x", None, "y", "x"], categories=["y", "x", "unused"]))
    codes, labels = group_codes(cat)
    assert [labels[c] for c in codes] == ["x", MISSING_LABEL, "y", "x"]
    assert codes.dtype == np.int32 and codes.flags.writeable
    codes[:] = -1  # the caller's own array: the column keeps its codes
    assert group_codes(cat)[0].tolist() == [1, 3, 0, 1]
    sc, rng = _scores(n=400)
    sc["status"] = "ok"
    # unused categories are left out; labels sort as text ("10" < "9"), ties by appearance
    num = pd.Series(rng.choice([9, 10, 11], len(sc)))
    tab = profile_table(sc, num, PILLARS)
    assert tab["category"].tolist() == [10, 11, 9]
    assert tab["households"].sum() == len(sc)
    tab = profile_table(sc, pd.Series(pd.Categorical(num, categories=[9, 10, 11, 12])), PILLARS)
    assert tab["category"].tolist() == [10, 11, 9]


def test_arrow_string_codes_are_pandas_factorize():
    # Arrow-backed text columns are encoded by Arrow itself: the same codes and labels as
    # pd.factorize, also for a column in several chunks and with missing values
    import pyarrow as pa

    rng = np.random.default_rng(4)
    values = rng.choice(["Tes", "Aldar", "Ider", None, "Bayankhairkhan"], 5000).tolist()
    chunked = pa.chunked_array([pa.array(values[:1700]), pa.array(values[1700:])])
    for s in (pd.Series(values, dtype="str"),
              pd.Series(pd.arrays.ArrowStringArray(chunked)),
              pd.Series(values, dtype="string[pyarrow]")):
        codes, labels = group_codes(s)
        # the profile tables mark the rows left out in this array: it must be writable
        assert codes.dtype == np.int32 and codes.flags.writeable
        want, uniques = pd.factorize(s, use_na_sentinel=True)
        assert labels[:len(uniques)] == list(pd.Index(uniques).astype(object))
        np.testing.assert_array_equal(codes[want >= 0], want[want >= 0])
        assert [labels[c] for c in codes[want < 0]] == [MISSING_LABEL] * int((want < 0).sum())


def test_threaded_profiles_equal_serial(monkeypatch):
    sc, rng = _scores(n=4000)
    data = pd.DataFrame({"soum": rng.choice(list("ABCDEFG"), len(sc)),
                         "sex": pd.Categorical(rng.choice(["f", "m"], len(sc)))})
    w = rng.uniform(1, 3, len(sc))
    serial = profiles(sc, data, ["soum", "sex"], PILLARS, w)
    monkeypatch.setattr(profiles_mod, "PARALLEL_ROWS", 0)
    coder = profiles_mod.GroupCoder(data, ["soum", "sex"], len(sc))
    coder.start()
    threaded = profiles(sc, data, ["soum", "sex"], PILLARS, w, coder=coder)
    coder.close()
    for v in serial:
        pd.testing.assert_frame_equal(serial[v], threaded[v], check_exact=True)
