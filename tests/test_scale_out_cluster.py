"""The partitioned fit and scoring on a real multi-process dask cluster (2 worker processes
on 127.0.0.1, no dashboard): the same numbers as the in-memory fit, the same row accounting,
a worker killed mid-job, cleanup."""

import os
import sys
from pathlib import Path

import cloudpickle
import dask
import numpy as np
import pandas as pd
import pytest

import rima
from rima.errors import DataError, SpecError
from rima.scale_out import cluster, fit_dask, score_partitions

SPEC = "examples/zavkhan/spec.toml"
N_PARTS = 3

# the kill switch below must reach the worker processes by value (tests/ is not a package)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def households():
    return rima.simulate(n_households=1500, seed=11).households


@pytest.fixture(scope="module")
def parts_dir(tmp_path_factory, households):
    d = tmp_path_factory.mktemp("parts")
    for i, chunk in enumerate(np.array_split(np.arange(len(households)), N_PARTS)):
        households.iloc[chunk].to_parquet(d / f"part-{i:03d}.parquet", index=False)
    return d


@pytest.fixture(scope="module")
def client():
    with cluster("local", workers=2) as c:
        info = c.scheduler_info()
        assert len(info["workers"]) == 2
        assert all(a.startswith("tcp://127.0.0.1:") for a in info["workers"])
        yield c


@pytest.fixture(scope="module")
def fits(client, households, parts_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit")
    return rima.fit(households, SPEC), rima.fit(str(parts_dir), SPEC, out=out), out


def _close(a, b, tol=1e-10):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert (np.isnan(a) == np.isnan(b)).all()
    ok = ~np.isnan(a)
    np.testing.assert_allclose(b[ok], a[ok], rtol=tol, atol=tol)


def test_partitioned_fit_equals_in_memory_fit(fits):
    mem, part, _out = fits
    for name, p in mem.pillars.items():
        q = part.pillars[name]
        assert q.n_factors == p.n_factors and q.n_obs == p.n_obs
        _close(p.weights, q.weights)
        _close(p.model.loadings_, q.model.loadings_)
    num = ["est", "se", "z", "pvalue", "std.all"]
    _close(mem.mimic.params[num], part.mimic.params[num])
    for k in ("chisq", "df", "cfi", "tli", "rmsea", "srmr"):
        _close(mem.mimic.fit_measures[k], part.mimic.fit_measures[k])
    _close(mem.rsm["share"], part.rsm["share"])
    # the signed value travels with the share (a pillar that pulls the RCI down stays
    # negative), in the table, the summary and rsm.csv
    _close(mem.rsm["r_signed"], part.rsm["r_signed"])
    assert "corr with RCI" in part.summary()
    ma, mb = mem.model, part.model
    for arr in ("mean_", "scale_", "weights_", "ymean_", "ysd_", "icpt_", "cx_", "cy_",
                "scale_range_"):
        _close(getattr(ma, arr), getattr(mb, arr))
    assert ma.metadata["training_fingerprint"] == mb.metadata["training_fingerprint"]


def test_scores_status_and_accounting_match(fits, parts_dir, households):
    mem, part, out = fits
    scores = pd.concat([pd.read_parquet(f) for f in sorted((out / "scores").iterdir())],
                       ignore_index=True)
    assert list(scores.columns) == list(mem.scores.columns)
    for c in mem.scores.columns:
        if mem.scores[c].dtype.kind == "f":
            _close(mem.scores[c], scores[c])
        else:
            assert (mem.scores[c].to_numpy() == scores[c].to_numpy()).all()
    # one status file per input partition, same rows in the same order
    ins = sorted(parts_dir.iterdir())
    sts = sorted((out / "status").iterdir())
    assert len(sts) == len(ins) == N_PARTS
    for fi, fs in zip(ins, sts):
        a, b = pd.read_parquet(fi), pd.read_parquet(fs)
        assert list(b.columns) == ["hhid", "status"]
        assert (a["hhid"].to_numpy() == b["hhid"].to_numpy()).all()
    pd.testing.assert_frame_equal(part.accounting, mem.accounting)
    assert part.accounting["rows"].sum() == len(households)
    assert (mem.scores["status"] != "ok").sum() > 0  # the data do have rows not scored


def test_validation_summary_merges_over_partitions(fits):
    mem, part, _out = fits
    a = mem.validation.summary
    b = part.validation
    assert list(b.index) == list(a.index)
    for c in ("N", "missing"):
        assert (a[c].to_numpy() == b[c].to_numpy()).all()
    for c in ("min", "max", "mean"):
        _close(a[c], b[c], tol=1e-12)


def test_profile_tables_merge_over_partitions(fits):
    mem, part, _out = fits
    assert set(part.profiles) == set(mem.profiles) == {"soum", "head_sex"}
    for var, a in mem.profiles.items():
        b = part.profiles[var]
        assert list(b.columns) == list(a.columns)
        assert list(b["category"]) == list(a["category"])
        assert (b["households"].to_numpy() == a["households"].to_numpy()).all()
        for c in a.columns:
            if c not in ("category", "households"):
                _close(a[c], b[c])


def test_saved_outputs(fits):
    _mem, part, out = fits
    part.save()
    assert {"rsm.csv", "mimic.csv", "accounting.csv", "validation.csv", "model.json"} <= {
        p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if p.name.startswith(".rima-")]
    loaded = rima.load(out / "model.json")
    assert loaded.metadata["training_fingerprint"] == part.model.metadata[
        "training_fingerprint"]


def test_bad_cell_is_reported_with_its_file_and_row(client, households, tmp_path):
    for i, chunk in enumerate(np.array_split(np.arange(len(households)), N_PARTS)):
        df = households.iloc[chunk].copy()
        if i == 2:
            df["herd_su"] = df["herd_su"].astype(object)
            df.iloc[4, df.columns.get_loc("herd_su")] = "many"
        df.to_csv(tmp_path / f"p{i}.csv", index=False)  # CSV partitions are read too
    with pytest.raises(DataError) as exc:
        fit_dask(str(tmp_path), SPEC, out=tmp_path / "out")
    msg = str(exc.value)
    assert "p2.csv" in msg and "herd_su" in msg and "data row 5" in msg
    assert not (tmp_path / "out" / "scores").exists()


def test_anchored_orientation_matches_in_memory(client, households, parts_dir, tmp_path):
    flips = []
    for anchor in ("dist_soum_km", "-dist_soum_km"):
        spec = rima.load_spec(SPEC).to_dict()
        spec.setdefault("options", {})["anchor"] = {"ABS": anchor, "AST": "herd_su"}
        mem = rima.fit(households, spec)
        part = fit_dask(str(parts_dir), spec, out=tmp_path / anchor)
        for name in ("ABS", "AST"):
            assert part.pillars[name].flipped == mem.pillars[name].flipped
            _close(mem.pillars[name].anchor_corr, part.pillars[name].anchor_corr)
            _close(mem.pillars[name].weights, part.pillars[name].weights)
        _close(mem.rsm["share"], part.rsm["share"])
        flips.append(mem.pillars["ABS"].flipped)
    assert flips[0] != flips[1]  # one of the two anchors does turn the pillar round


def test_unsupported_options_are_refused_by_name(tmp_path, parts_dir):
    spec = rima.load_spec(SPEC).to_dict()
    spec.setdefault("options", {})["missing"] = "fiml"
    with pytest.raises(SpecError, match="missing = 'fiml'"):
        fit_dask(str(parts_dir), spec, out=tmp_path)


def test_partitioned_scoring_is_bit_for_bit(client, fits, tmp_path):
    mem, _part, _out = fits
    new = rima.simulate(n_households=900, seed=12).households
    src = tmp_path / "new"
    src.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(new)), 4)):
        new.iloc[chunk].to_parquet(src / f"b{i}.parquet", index=False)
    rows, scored, oor, counts = score_partitions(mem.model, str(src), tmp_path / "scored")
    files = sorted((tmp_path / "scored").iterdir())
    assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(4)]
    got = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    expected = mem.model.score(new)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_exact=True)
    assert rows == len(new) and scored == int((expected["status"] == "ok").sum())
    assert sum(counts.values()) == len(new) and oor == int(expected["out_of_range"].sum())


def test_merge_at_means_of_a_million_keeps_its_digits(client):
    """Centred merges of partition moments against a two-pass witness; summing raw
    moments (sum x, sum x^2) over the same partitions loses most digits."""
    import dask.dataframe as dd

    from rima.scale_out import compute_moments_dask

    rng = np.random.default_rng(4)
    n = 40_000
    df = pd.DataFrame({"a": 1e6 + rng.normal(0, 1, n), "b": 1e6 + rng.normal(0, 0.5, n)})
    df["b"] += 0.3 * (df["a"] - 1e6)
    mo, _ex = compute_moments_dask(dd.from_pandas(df, npartitions=8), ["a", "b"])
    X = df.to_numpy()
    D = X - X.mean(axis=0)
    witness = D.T @ D / (n - 1)
    np.testing.assert_allclose(mo.cov(), witness, rtol=1e-10)
    raw = sum(part.T @ part for part in np.array_split(X, 8))
    s = X.sum(axis=0)
    naive = (raw - np.outer(s, s) / n) / (n - 1)
    assert np.max(np.abs(naive - witness) / np.abs(witness)) > 1e-8


def _kill_once(path, marker):
    """Load a partition; the first call (per marker) takes its worker process down."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return pd.read_parquet(path)


def _kill_always(path):
    os._exit(1)


def test_killed_worker_is_retried_or_fails_clearly(households, parts_dir, tmp_path):
    import dask.dataframe as dd
    from distributed import KilledWorker

    files = sorted(str(f) for f in parts_dir.iterdir())
    meta = households.head(0)
    mem = rima.fit(households, SPEC)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), cluster("local", 2):
        marker = str(tmp_path / "killed")
        ddf = dd.from_delayed([dask.delayed(_kill_once)(f, marker) if i == 1
                               else dask.delayed(pd.read_parquet)(f)
                               for i, f in enumerate(files)], meta=meta)
        res = fit_dask(ddf, SPEC, out=tmp_path / "retried")
        assert os.path.exists(marker)  # a worker did die mid-job
        pd.testing.assert_frame_equal(res.accounting, mem.accounting)
        _close(mem.rsm["share"], res.rsm["share"])

        ddf = dd.from_delayed([dask.delayed(_kill_always)(f) if i == 1
                               else dask.delayed(pd.read_parquet)(f)
                               for i, f in enumerate(files)], meta=meta)
        with pytest.raises(KilledWorker):
            fit_dask(ddf, SPEC, out=tmp_path / "failed")
        # nothing written, not even a partial directory of scores
        failed = tmp_path / "failed"
        assert not failed.exists() or not [p for p in failed.iterdir()]


def test_cluster_is_cleaned_up():
    """Leaving the context closes the client and the cluster and ends its worker processes."""
    import time

    with cluster("local", 2) as c:
        pids = list(c.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids
    assert c.status == "closed"
    alive = set(pids)
    for _ in range(600):  # bounded wait for the processes to be reaped
        for pid in list(alive):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                alive.discard(pid)
        if not alive:
            break
        time.sleep(0.1)
    assert not alive


def test_bootstrap_on_the_cluster_equals_one_machine(client, fits):
    mem = fits[0]
    here = rima.bootstrap(mem, n_boot=30, seed=7, progress=False, threads=1)
    there = rima.bootstrap(mem, n_boot=30, seed=7, progress=False, chunk=4, client=client)
    for key in ("rsm", "mimic", "mean_RCI_100", "status"):
        a, b = here.replicates[key], there.replicates[key]
        np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    pd.testing.assert_frame_equal(here.rsm, there.rsm)
    pd.testing.assert_frame_equal(here.mimic, there.mimic)


def test_bootstrap_of_a_partitioned_fit_is_refused_by_name(fits):
    with pytest.raises(SpecError, match="partitioned"):
        rima.bootstrap(fits[1], n_boot=10, progress=False)


def test_cli_fit_and_score_with_the_dask_engine(parts_dir, households, tmp_path):
    import json

    from click.testing import CliRunner

    from rima.cli import cli

    out = tmp_path / "fit"
    r = CliRunner().invoke(cli, ["fit", str(parts_dir), "--spec", SPEC, "--out", str(out),
                                  "--engine", "dask", "--workers", "2", "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output[r.output.index("{"):])
    assert info["households"] == len(households) and info["partitions"] == N_PARTS
    assert sum(info["accounting"].values()) == len(households)
    assert len(list((out / "status").iterdir())) == N_PARTS
    r = CliRunner().invoke(cli, ["score", str(parts_dir), "--model", str(out / "model.json"),
                                  "--out", str(tmp_path / "scored"), "--engine", "dask",
                                  "--json"])
    assert r.exit_code == 0, r.output
    got = pd.concat([pd.read_parquet(f) for f in sorted((tmp_path / "scored").iterdir())],
                    ignore_index=True)
    expected = rima.load(out / "model.json").score(households)
    # the resilience class beside RCI_100, as `rima score` writes in memory
    assert list(got.columns).index("class") == list(got.columns).index("RCI_100") + 1
    ok = got["status"] == "ok"
    assert got.loc[~ok, "class"].isna().all() and got.loc[ok, "class"].notna().all()
    lo = got.loc[ok & (got["RCI_100"] < 100 / 3), "class"]
    assert len(lo) and (lo == "low").all()
    pd.testing.assert_frame_equal(got.drop(columns="class"), expected.reset_index(drop=True),
                                  check_exact=True)
    # a bad spec option is an input error (exit 3) naming the option
    bad = tmp_path / "spec.toml"
    bad.write_text(Path(SPEC).read_text().replace("[options]", "[options]\nmissing = \"fiml\""))
    r = CliRunner().invoke(cli, ["fit", str(parts_dir), "--spec", str(bad), "--out",
                                  str(tmp_path / "x"), "--engine", "dask"])
    # refused before any cluster starts (rima's main maps SpecError to exit status 3)
    assert isinstance(r.exception, SpecError) and "missing = 'fiml'" in str(r.exception)


def test_bench_dask_reports_both_engines_and_worker_memory(tmp_path):
    from rima.bench import run_dask

    r = run_dask(households=3000, partitions=3, workers=2, workdir=tmp_path)
    assert r["max_abs_diff_rci_100"] < 1e-10 and r["max_abs_diff_mimic_est"] < 1e-10
    assert len(r["worker_peak_rss_mib"]) == 2 and min(r["worker_peak_rss_mib"]) > 0
    assert len(list((tmp_path / "out" / "scores").iterdir())) == 3


def test_partitioned_rsm_keeps_the_sign_of_a_pillar_that_pulls_the_rci_down(
        client, households, parts_dir, tmp_path):
    """Assets declared 'negative' (a deliberate mistake) under psych's own orientation: the
    assets pillar then correlates negatively with the RCI, and the partitioned fit says so
    as the in-memory fit does, instead of dropping the sign with the share."""
    spec = rima.load_spec(SPEC).to_dict()
    spec["options"]["negative"] = list(spec["pillars"]["AST"])
    spec["options"]["orientation"] = "reference"
    with pytest.warns(Warning):
        mem = rima.fit(households, spec, progress=False)
    with pytest.warns(Warning):
        part = rima.fit(str(parts_dir), spec, out=tmp_path / "fit")
    r_mem = mem.rsm.set_index("pillar")["r_signed"]
    assert r_mem["AST"] < 0
    _close(r_mem, part.rsm.set_index("pillar")["r_signed"])
    part.save(tmp_path / "saved")
    saved = pd.read_csv(tmp_path / "saved" / "rsm.csv").set_index("pillar")
    assert saved.loc["AST", "r_signed"] < 0
