"""The background compile of a first `rima demo` (rima.precompile) compiles the very kernel
signatures the fit then runs: a fit after it adds no new MIMIC, RCI or grouped-moments
specialisation (if it did, the fit would compile those kernels again and the second
process would be wasted)."""

import json
import os
import subprocess
import sys
import time

import pytest

import rima
from rima import precompile
from rima.commands.demo import run_demo


@pytest.fixture(scope="module")
def demo():
    return run_demo(echo=lambda *a, **k: None)


def test_plan_follows_the_spec(demo):
    plan = precompile._plan(demo["spec"])
    spec = demo["spec"]
    assert plan["indicators"] == list(spec.indicators)
    assert plan["causes"] == list(spec.pillar_names)
    # a weight column counts only with options.weights, as in the fit
    assert plan["weighted"] is bool(spec.options.weights and spec.weight is not None)
    assert plan["se"] == spec.options.mimic_se
    assert plan["fiml"] is (spec.options.missing == "fiml")
    # listwise, unweighted, robust.sem: the fit's MIMIC comes from its moments pass
    assert plan["from_moments"] is True
    weighted = demo["spec"].to_dict()
    weighted["options"] = {**weighted.get("options", {}), "weights": True}
    plan = precompile._plan(rima.load_spec(weighted))
    assert plan["weighted"] is True and plan["from_moments"] is False


# in a fresh process: a dispatcher's signatures are those this process compiled or loaded
_CHECK = """
import json, numba
import rima
from rima import precompile
from rima._kernels import groups, mimic as MK, rci_scale, score
from rima.commands.demo import run_demo, run_pipeline

def signatures():
    found = {f"mimic.{n}": d for n, d in vars(MK).items()
             if isinstance(d, numba.core.registry.CPUDispatcher)}
    found.update({"score._rci_rows": score._rci_rows,
                  "score._rescale_blocks": score._rescale_blocks,
                  "rci_scale._range_blocks": rci_scale._range_blocks,
                  "groups.group_moments": groups.group_moments})
    return {n: {str(s) for s in d.signatures} for n, d in found.items()}

ctx = run_demo(echo=lambda *a, **k: None)
precompile.compile_mimic(precompile._plan(ctx["spec"]))
before = signatures()
run_pipeline(ctx, echo=lambda *a, **k: None)
after = signatures()
print(json.dumps({"compiled": sorted(n for n in before if before[n]),
                  "new": {n: sorted(after[n] - before[n]) for n in after
                          if after[n] - before[n]}}))
"""


def test_fit_after_the_background_compile_adds_no_mimic_rci_or_group_signature():
    done = subprocess.run([sys.executable, "-c", _CHECK], timeout=600, capture_output=True,
                          check=False, text=True)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"mimic.fisher_scoring", "mimic.prediction_weights",
            "score._rci_rows", "groups.group_moments"} <= set(got["compiled"])
    assert got["new"] == {}


def test_the_module_runs_as_a_process(demo):
    plan = json.dumps(precompile._plan(demo["spec"]))
    done = subprocess.run([sys.executable, "-m", "rima.precompile", plan, str(os.getpid())],
                          timeout=600, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_no_process_on_a_warm_cache(demo, monkeypatch):
    monkeypatch.setattr("rima.config.cache_is_cold", lambda: False)
    assert precompile.start(demo["spec"]) is None
    precompile.stop(None)
    precompile.wait(None)


def test_the_background_compile_ends_when_its_run_has_gone(tmp_path):
    # a parent that starts a watched child and exits at once, as a demo killed mid-way
    child_code = ("import sys, time; from rima.precompile import _exit_with_parent; "
                  "_exit_with_parent(int(sys.argv[1]), 0.05); time.sleep(120)")
    parent_code = ("import os, subprocess, sys; "
                   f"p = subprocess.Popen([sys.executable, '-c', {child_code!r}, "
                   "str(os.getpid())]); "
                   "print(p.pid, flush=True)")
    out = subprocess.run([sys.executable, "-c", parent_code], capture_output=True,
                         text=True, timeout=60, check=True)
    child = int(out.stdout.split()[0])

    deadline = time.monotonic() + 60  # a bound, not a speed expectation
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break  # gone
        # a finished child reparented to init may linger as a zombie until reaped
        with open(f"/proc/{child}/stat") as f:
            if f.read().split(")")[-1].split()[0] == "Z":
                break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        pytest.fail("the background compile outlived the run that started it")


# ---------------------------------------------------------------- the stage claims

def test_a_stage_is_claimed_once(tmp_path):
    assert precompile.claim(str(tmp_path), "rci")
    assert not precompile.claim(str(tmp_path), "rci")
    assert precompile.claim(str(tmp_path), "groups")


def _record(monkeypatch, fail=()):
    ran = []

    def run(stage):
        def f(plan):
            ran.append(stage)
            if stage in fail:
                raise RuntimeError("a stage that fails")
        return f
    monkeypatch.setattr(precompile, "_STAGE_RUNS", {s: run(s) for s in precompile.STAGES})
    return ran


def _background(tmp_path, seconds=0.0):
    proc = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    return precompile.Background(proc, str(tmp_path), {})


def test_the_run_takes_the_stages_nobody_claimed_last_first(tmp_path, monkeypatch):
    # the second process is still on the MIMIC: the run compiles the others meanwhile
    ran = _record(monkeypatch)
    assert precompile.claim(str(tmp_path), "mimic")
    bg = _background(tmp_path, 0.2)
    precompile.wait(bg)
    assert ran == ["groups", "rci"]
    assert bg.proc.poll() == 0  # and it let the process finish its stage
    precompile.stop(bg)
    assert not tmp_path.exists()


def test_the_second_process_skips_the_stages_the_run_took(tmp_path, monkeypatch):
    ran = _record(monkeypatch)
    assert precompile.claim(str(tmp_path), "rci")
    precompile.run_stages({}, str(tmp_path))
    assert ran == ["mimic", "groups"]
    ran.clear()
    precompile.run_stages({})  # alone (no claims): every stage, in order
    assert ran == list(precompile.STAGES)


def test_a_failing_stage_or_lost_claims_never_stop_the_run(tmp_path, monkeypatch):
    ran = _record(monkeypatch, fail=("groups",))
    bg = _background(tmp_path)
    precompile.wait(bg)  # no exception: the fit compiles what is missing itself
    assert ran == ["groups"]
    precompile.stop(bg)
    ran.clear()
    precompile.wait(bg)  # the claims directory is gone
    assert ran == []


def _scores(ctx):
    from rima.commands.demo import run_pipeline

    return run_pipeline(dict(ctx), echo=lambda *a, **k: None)["result"].scores


@pytest.mark.parametrize("kill", [False, True])
def test_the_fit_is_the_same_with_the_second_process_and_without(demo, monkeypatch, kill):
    # a second process running its stages beside the fit, or killed at once (its stages
    # then fall to the fit), leaves every score bit for bit as a run without it
    import pandas as pd

    without = _scores(dict(demo, helper=None))
    monkeypatch.setattr("rima.config.cache_is_cold", lambda: True)
    bg = precompile.start(demo["spec"])
    assert bg is not None
    if kill:
        bg.proc.kill()
    with_bg = _scores(dict(demo, helper=bg))
    assert bg.proc.poll() is not None and not os.path.exists(bg.claims)  # stopped, cleaned
    pd.testing.assert_frame_equal(with_bg, without, check_exact=True)
