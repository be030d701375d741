"""The column passes at the edges of the fit (rima._kernels.columns, rima._kernels.score):
validation's one-pass checks, the gather of the analysed rows, the training-data
fingerprint (against its definition written out in numpy, tests/_fingerprint_ref.py) and
the split of the scoring kernel the fit uses."""

import numpy as np
import pandas as pd
import pytest
from _fingerprint_ref import digests, fingerprint_reference

import rima
from rima._kernels.columns import column_digests, constant_over_usable, convert_column, gather_rows
from rima._kernels.score import (
    predict_rci,
    rci_100_scale,
    scale_rci,
    score_households,
    score_pillars,
)
from rima.fingerprint import fingerprint, fingerprint_columns
from rima.row_status import pack_keys, status_codes_from_keys
from rima.validation import validate


def _matrix(n=9000, p=5, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, p))
    a[rng.random((n, p)) < 0.05] = np.nan
    a[3, 1] = -0.0
    a[4, 1] = 0.0
    a[5, 2] = np.inf
    return a


def test_fingerprint_follows_its_definition():
    a = _matrix()
    assert fingerprint(a) == fingerprint_reference(a)
    # any subset of rows and columns of a column block, without building the matrix
    V = np.ascontiguousarray(a.T)
    rows = np.flatnonzero(~np.isnan(a[:, 0]))
    cols = np.array([3, 0, 2])
    assert fingerprint_columns(V, cols, rows) == fingerprint_reference(a[rows][:, cols])
    dig = column_digests(V.view(np.uint64), cols, rows)
    assert np.array_equal(dig, digests(a[rows][:, cols]))


def test_moments_pass_reads_the_digests_of_its_rows():
    # the fit's moments pass digests the values it reads: the same digests as the
    # definition, and the same moments as without them
    from rima.moments import moments_of_rows

    a = _matrix()
    a[np.isinf(a)] = np.nan
    V = np.ascontiguousarray(a.T)
    rows = np.flatnonzero(~np.isnan(a).any(axis=1))
    cols = np.array([4, 0, 2, 1])
    dig = np.zeros(cols.size, dtype=np.uint64)
    with_dig = moments_of_rows(V, cols, rows, digest=dig)
    assert np.array_equal(dig, digests(a[rows][:, cols]))
    plain = moments_of_rows(V, cols, rows)
    assert np.array_equal(with_dig.comoment, plain.comoment)
    assert np.array_equal(with_dig.mean, plain.mean)


def test_fingerprint_sees_every_change_but_nan_payloads():
    a = _matrix(n=500)
    base = fingerprint(a)
    b = a.copy()
    b[100, 3] = np.nextafter(b[100, 3], np.inf)
    assert fingerprint(b) != base
    b = a.copy()
    b[[10, 11]] = b[[11, 10]]
    assert fingerprint(b) != base
    b = a.copy()
    b[:, [0, 3]] = b[:, [3, 0]]
    assert fingerprint(b) != base
    b = a.copy()
    b[4, 1] = -0.0
    assert fingerprint(b) != base
    assert fingerprint(a[:-1]) != base
    b = a.copy()
    nan_payload = np.array([0x7FF8000000000123], dtype=np.uint64).view(np.float64)[0]
    b[np.isnan(a)] = nan_payload
    assert fingerprint(b) == base


def test_gather_rows_applies_the_affine_map_exactly():
    a = _matrix(n=3000, p=4, seed=1)
    V = np.ascontiguousarray(a.T)
    rows = np.arange(0, 3000, 3)
    shift, div = np.array([1.5, -2.0]), np.array([3.0, 0.7])
    out = np.zeros((rows.size, 5))
    gather_rows(V, np.array([2, 0]), rows, shift, div, out, 3)
    np.testing.assert_array_equal(out[:, 3:], (a[rows][:, [2, 0]] - shift) / div)
    assert not out[:, :3].any()
    # a second block's rows copied after them in the same pass
    B = np.ascontiguousarray(_matrix(n=3000, p=3, seed=2).T)
    out2 = np.zeros((rows.size, 6))
    gather_rows(V, np.array([2, 0]), rows, shift, div, out2, 1, B, np.array([1, 2, 0]))
    np.testing.assert_array_equal(out2[:, 1:3], out[:, 3:])
    np.testing.assert_array_equal(out2[:, 3:], B[[1, 2, 0]][:, rows].T)
    assert not out2[:, 0].any()


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_convert_column_counts_ranges_and_masks(dtype):
    rng = np.random.default_rng(2)
    n = 10_001
    src = rng.integers(-50, 50, n).astype(dtype)
    if dtype == np.float64:
        src[[7, 500, 9000]] = np.nan
        src[[8, 9]] = [np.inf, -np.inf]
    out = np.empty(n)
    keys = np.zeros((n, 2), dtype=np.uint64)
    keys[:, 1] = 5  # other bits are kept
    count, n_inf, lo, hi, total = convert_column(src, out, keys, 1, np.uint64(1) << 63)
    f = src.astype(float)
    fin = np.isfinite(f)
    assert count == fin.sum() and n_inf == np.isinf(f).sum()
    assert (lo, hi, total) == (f[fin].min(), f[fin].max(), f[fin].sum())  # integers: exact
    np.testing.assert_array_equal(out, np.where(fin, f, np.nan))
    assert np.array_equal(keys[:, 1] >> np.uint64(63) == 1, ~fin)
    assert ((keys[:, 1] & np.uint64(5)) == 5).all() and not keys[:, 0].any()


def test_constant_over_usable_rows():
    v = np.array([3.0, 1.0, 2.0, 2.0, -0.0])
    keys = np.array([[1], [1], [0], [0], [1]], dtype=np.uint64)
    assert constant_over_usable(v, keys) == (True, True, 2.0)
    keys[4] = 0
    assert constant_over_usable(v, keys)[:2] == (True, False)
    assert constant_over_usable(v, np.ones((5, 1), dtype=np.uint64))[:2] == (False, False)


def test_validate_over_64_columns_and_the_handover():
    rng = np.random.default_rng(3)
    n = 300
    names = [f"v{j}" for j in range(70)]
    df = pd.DataFrame(rng.normal(size=(n, 70)), columns=names)
    df.insert(0, "hhid", np.arange(n))
    miss = rng.random((n, 70)) < 0.004
    df[names] = df[names].mask(miss)
    spec = {"data": {"id": "hhid"},
            "pillars": {"A": names[:33], "B": names[33:67]},
            "indicators": {"fs": names[67:]}}
    rep = validate(df, spec)
    assert rep.ok
    want = []
    for row in miss:
        cols = [c for c, m in zip(names, row) if m]
        want.append("ok" if not cols else (f"missing value in {cols[0]}" if len(cols) == 1
                                           else f"missing values in {', '.join(cols)}"))
    assert rep.row_status.tolist() == want
    assert rep.n_usable == (~miss.any(axis=1)).sum()
    np.testing.assert_array_equal(rep.complete_rows(names[40:50]), ~miss[:, 40:50].any(axis=1))
    np.testing.assert_array_equal(rep.all_missing_rows(names[67:]), miss[:, 67:].all(axis=1))
    cols, block = rep.take_numeric()
    assert cols == names and block.shape == (70, n)
    np.testing.assert_array_equal(block.T, df[names].to_numpy(float))
    assert rep.take_numeric()[1] is None
    # the lazy summary is still there after the block was taken
    assert rep.summary.loc["v5", "median"] == pytest.approx(df["v5"].median())


def test_status_codes_from_keys_words_and_partial():
    needed = [f"c{j}" for j in range(70)]
    miss = np.zeros((3, 70), dtype=bool)
    miss[0, [1, 68]] = True
    miss[1, 69] = True
    miss[2, [67, 69]] = True
    codes, reasons = status_codes_from_keys(5, np.array([0, 2, 4]), pack_keys(miss), needed,
                                            partial_ok=needed[67:])
    status = [reasons[c] for c in codes]
    assert status == ["missing values in c1, c68", "ok", "missing values in c67, c68, c69",
                      "ok", "missing values in c67, c68, c69"]


def test_split_scoring_kernel_and_rescale_match_the_fused_kernel():
    rng = np.random.default_rng(4)
    n, p, K, m = 20_000, 9, 3, 2
    X = rng.normal(size=(n, p))
    X[rng.random((n, p)) < 0.02] = np.nan
    Y = rng.normal(size=(n, m))
    Y[rng.random((n, m)) < 0.05] = np.nan
    W = np.zeros((p, K))
    member = np.zeros((p, K), bool)
    for j in range(p):
        W[j, j % K], member[j, j % K] = rng.normal(), True
    mean, scale = rng.normal(size=p), rng.uniform(0.5, 2, p)
    ymean, ysd = rng.normal(size=m), rng.uniform(0.5, 2, m)
    icpt, cx, cy = rng.normal(size=4), rng.normal(size=(4, K)), rng.normal(size=(4, m))
    icpt[3] = np.nan  # a pattern the model cannot score
    P0, rci0, r0 = score_households(X, mean, scale, W, member, Y, ymean, ysd, icpt, cx, cy,
                                    -1.0, 2.0)
    # the pillars are the standardised, weighted sums (NaN if a member is missing)
    Z = (X - mean) / scale
    want = np.column_stack([Z[:, member[:, k]] @ W[member[:, k], k] for k in range(K)])
    np.testing.assert_allclose(P0, want, rtol=1e-12, atol=1e-12)
    for XX in (X, np.asfortranarray(X)):
        P = score_pillars(XX, mean, scale, W, member)
        rci, r100 = predict_rci(P, Y, ymean, ysd, icpt, cx, cy, -1.0, 2.0)
        assert np.array_equal(P, P0, equal_nan=True)
        assert np.array_equal(rci, rci0, equal_nan=True)
        assert np.array_equal(r100, r0, equal_nan=True)
    rows = rng.random(n) < 0.9
    rci, r100 = rci0.copy(), np.empty(n)
    scored, lo, hi = scale_rci(rci, r100, rows)
    assert np.array_equal(scored, rows & np.isfinite(rci0))
    assert (lo, hi) == (rci0[scored].min(), rci0[scored].max())
    assert np.array_equal(r100[scored], rci_100_scale(rci0, lo, hi)[scored])
    assert np.isnan(rci[~scored]).all() and np.isnan(r100[~scored]).all()
    scored, lo, hi = scale_rci(rci0.copy(), r100, rows, (0.0, 4.0))
    assert (lo, hi) == (0.0, 4.0)


def test_fit_reads_empty_cells_as_missing_like_validate(small_households, example_spec):
    df = small_households
    df["herd_su"] = df["herd_su"].astype(object)
    df.loc[[3, 8], "herd_su"] = ["", "  "]
    res = rima.fit(df, example_spec)
    assert (res.scores.loc[[3, 8], "status"] == "missing value in herd_su").all()
    assert rima.validate(df, example_spec).row_status[3] == "missing value in herd_su"


def test_loaded_model_gives_the_fitted_bits(small_households, example_spec, tmp_path):
    res = rima.fit(small_households, example_spec)
    got = rima.load(res.model.save(tmp_path / "model.json")).score(small_households)
    for c in ["ABS", "AST", "SSN", "AC", "RCI", "RCI_100"]:
        assert np.array_equal(got[c].to_numpy(), res.scores[c].to_numpy(), equal_nan=True), c
    assert got["status"].equals(res.scores["status"])


@pytest.mark.parametrize("missing", ["listwise", "fiml"])
def test_fit_fingerprints_the_analysed_rows(small_households, example_spec, missing):
    spec = example_spec.to_dict()
    spec["options"] = {"missing": missing}
    res = rima.fit(small_households, spec)
    ok = (res.scores["status"] == "ok").to_numpy()
    cols = list(example_spec.pillar_variables) + list(example_spec.indicators)
    a = small_households.loc[ok, cols].to_numpy(float)
    if missing == "fiml":
        assert np.isnan(a).any()  # rows scored from the indicators they have
    assert res.model.metadata["training_fingerprint"] == fingerprint_reference(a)


@pytest.mark.parametrize("q", [5, 64, 70])
def test_status_codes_of_all_rows_equal_those_of_the_bad_rows(q, monkeypatch):
    # the blocked pass over every row's mask gives the codes and reasons of
    # status_codes_from_keys on the rows it reports, at any thread count
    from rima import config
    from rima._kernels import threads
    from rima.row_status import status_codes_from_masks

    rng = np.random.default_rng(q)
    n = 30_000
    miss = rng.random((n, q + 3)) < 0.02  # columns past `needed` are ignored
    masks = pack_keys(miss)
    needed = [f"c{j}" for j in range(q)]
    scored = ~miss[:, :q].any(axis=1)
    scored[rng.random(n) < 0.01] = False  # unscored with nothing missing: "not scored"
    for sc, partial in ((scored, ()), (scored, needed[:2]), (None, ())):
        bad = np.flatnonzero(~sc if sc is not None else miss[:, :q].any(axis=1))
        want = status_codes_from_keys(n, bad, masks[bad], needed, partial)
        got = status_codes_from_masks(masks, needed, sc, partial)
        assert got[1] == want[1]
        np.testing.assert_array_equal(got[0], want[0])
        monkeypatch.setattr(threads, "max_threads", lambda: 4)
        monkeypatch.setattr(threads, "SERIAL_ROWS", 1)
        monkeypatch.setattr(threads, "_pool", None)
        config.set_num_threads(4)
        try:
            again = status_codes_from_masks(masks, needed, sc, partial)
        finally:
            config.set_num_threads(None)
            monkeypatch.undo()
        np.testing.assert_array_equal(again[0], want[0])


@pytest.mark.parametrize("distinct", [3, 5000, 2**62])
def test_mask_codes_rank_the_distinct_keys_reported(distinct):
    # from a few keys to blocks of rows that are all distinct (the per-block set full),
    # with and without `scored` (then a key 0 can be reported)
    from rima._kernels.columns import BLOCK, mask_codes

    rng = np.random.default_rng(distinct % 97)
    n = 3 * BLOCK + 17
    keys = rng.integers(0, distinct, n, dtype=np.uint64) << np.uint64(1)
    keep = np.uint64(2**64 - 2)
    for scored in (np.empty(0, dtype=bool), rng.random(n) < 0.5):
        k = keys & keep
        report = ~scored if scored.shape[0] == n else k != 0
        want_keys = np.unique(k[report])
        want = np.where(report, 1 + np.searchsorted(want_keys, k), 0)
        codes, ukeys = mask_codes(keys, keep, scored)
        np.testing.assert_array_equal(ukeys, want_keys)
        np.testing.assert_array_equal(codes, want)
        assert codes.dtype == np.int32


def test_mask_codes_when_one_block_has_more_keys_than_the_first_room():
    # the first pass keeps a few keys per block; one block with more makes it run again
    from rima._kernels.columns import BLOCK, FEW_KEYS, mask_codes

    n = 4 * BLOCK
    keys = np.full(n, 2, dtype=np.uint64)
    keys[BLOCK:BLOCK + 3 * FEW_KEYS] = (np.arange(3 * FEW_KEYS, dtype=np.uint64) + 2) << 1
    codes, ukeys = mask_codes(keys, np.uint64(2**64 - 2), np.empty(0, dtype=bool))
    want_keys = np.unique(keys)
    np.testing.assert_array_equal(ukeys, want_keys)
    np.testing.assert_array_equal(codes, 1 + np.searchsorted(want_keys, keys))
