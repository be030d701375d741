"""Compile the MIMIC's kernels (and the RCI's, the grouped tables' and the RSM's) in a
second process while a first run does its earlier steps.

numba compiles one kernel at a time under a process-wide lock, so a first run on a cold
cache uses one core for about half a minute. The MIMIC's kernels are the largest part of
that and the last the fit reaches; a second process compiling them from the start (on a
small synthetic model of the same shape and options) has written them to the on-disk cache
by the time the fit needs them, which then loads them instead of compiling. Outputs are
unchanged: the cache holds the same machine code either process would compile.

The work is three stages, `STAGES` (the MIMIC, the RCI half of the scoring, the grouped
moments and the RSM), each compiling its kernels on synthetic arrays of the fit's types.
Each stage is claimed before it is compiled, by creating a file of its name in a directory
of the run (`O_EXCL`: exactly one process gets it), so no stage is compiled twice:

* the second process takes the stages in order, skipping those already claimed, and
  exits after the last;
* the run, on reaching its MIMIC step (`wait`), takes the stages not yet claimed from the
  end (on a busy machine the second process may still be on the MIMIC: the run then
  compiles the grouped tables and the RCI itself instead of waiting idle), then waits for
  the second process to finish the stage it is on.

`start(spec)` returns the `Background` (or None when the cache is warm or the process
cannot start); `wait(bg)` as above; `stop(bg)` ends the process if still running and
removes the claims. If the second process fails or is killed, the stages it did not finish
are compiled by the fit as it reaches them, as without it. numba writes each cache entry
to a temporary file and renames it, so stopping the process mid-way leaves no partial
entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _plan(spec) -> dict:
    opts = spec.options
    from rima.pipeline import mimic_from_moments, mimic_se

    # as the fit reads them: a weight column counts only with options.weights
    weighted = bool(opts.weights and spec.weight is not None)
    return {"indicators": list(spec.indicators), "causes": list(spec.pillar_names),
            "se": mimic_se(opts)[0], "fiml": opts.missing == "fiml",
            "prediction": opts.rci_prediction, "weighted": weighted,
            "from_moments": mimic_from_moments(opts, weighted)}


STAGES = ("mimic", "rci", "groups")
_N = 300  # rows of the synthetic data


class Background:
    """The second process of a first run and the directory of its stage claims."""

    def __init__(self, proc, claims: str, plan: dict):
        self.proc, self.claims, self.plan = proc, claims, plan


def claim(claims: str, stage: str) -> bool:
    """Take `stage` for this process: True exactly once per stage and directory."""
    try:
        os.close(os.open(os.path.join(claims, stage), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def start(spec):
    """Start compiling the MIMIC kernels of `spec`'s fit in a background process when the
    kernel cache is cold; returns a `Background` or None."""
    import tempfile

    from rima import config

    if not config.cache_is_cold() or not spec.indicators:
        return None
    plan = _plan(spec)
    claims = None
    try:
        claims = tempfile.mkdtemp(prefix="rima-precompile-")
        proc = subprocess.Popen([sys.executable, "-m", "rima.precompile", json.dumps(plan),
                                 str(os.getpid()), claims],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        _remove(claims)
        return None
    return Background(proc, claims, plan)


def wait(bg, timeout: float = 120.0) -> None:
    """At the fit's MIMIC step: compile the stages nobody has claimed yet, last first, then
    let the process finish the stage it is on (at most `timeout` seconds, then stop it)."""
    if bg is None:
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for stage in reversed(STAGES):
            try:
                if claim(bg.claims, stage):
                    _STAGE_RUNS[stage](bg.plan)
            except Exception:  # noqa: BLE001 - only a head start: the fit compiles
                break          # whatever is missing when it reaches it
    try:
        bg.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop(bg)


def stop(bg) -> None:
    if bg is None:
        return
    if bg.proc.poll() is None:
        bg.proc.kill()
        bg.proc.wait()
    _remove(bg.claims)


def _remove(path) -> None:
    if path:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def _synthetic(plan: dict, n: int = _N):
    """Data of the plan's shape: pillars X (n, K), the MIMIC's matrix M (n, m + K) with
    z-scored indicators, and sampling weights (None when unweighted)."""
    import numpy as np

    m, K = len(plan["indicators"]), len(plan["causes"])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, K))
    eta = X @ np.linspace(0.2, 0.5, K) + 0.5 * rng.standard_normal(n)
    M = np.empty((n, m + K))
    M[:, :m] = eta[:, None] * np.linspace(0.6, 0.9, m) + 0.6 * rng.standard_normal((n, m))
    M[:, m:] = X
    M[:, :m] = (M[:, :m] - M[:, :m].mean(axis=0)) / M[:, :m].std(axis=0, ddof=1)
    w = rng.uniform(0.5, 2.0, n) if plan["weighted"] else None
    return X, M, w


def _scores_block(X, m: int, K: int):
    """Pillars and RCI laid out as the fit's: a (K + 2, n) block (pillars, RCI, RCI_100),
    the pillars read through its transpose."""
    import numpy as np

    out = np.empty((K + 2, X.shape[0]))
    P = out[:K].T
    P[:] = X
    return out, P


def stage_mimic(plan: dict) -> None:
    """Fit a synthetic MIMIC of the plan's shape and options, and its prediction weights,
    the same calls as the fit's MIMIC step (so the same kernel signatures)."""
    import pandas as pd

    from rima.mimic import fit as mimic_fit
    from rima.pipeline import mimic_syntax, pattern_weights

    ind, causes = plan["indicators"], plan["causes"]
    m, K = len(ind), len(causes)
    X, M, w = _synthetic(plan)

    class _Spec:
        indicators, pillar_names = ind, causes

    if plan.get("from_moments"):
        res = _mimic_from_moments(plan, _Spec, X, M)
    else:
        mdf = pd.DataFrame(M, columns=ind + causes, copy=False)
        res = mimic_fit(mimic_syntax(_Spec), mdf, estimator="ML", se=plan["se"],
                        missing="fiml" if plan["fiml"] else "listwise", sampling_weights=w)
    pattern_weights(res, plan["prediction"], m, K, allow_partial=plan["fiml"])


def _mimic_from_moments(plan: dict, spec, X, M):
    """The fit's MIMIC from its moments (`rima.pipeline.fit_mimic`): the model from the
    co-moments, robust.sem's Gamma read in place from a validated-block-like array of
    indicators and the pillars' (K + 2, n) block."""
    import numpy as np

    from rima.mimic import fit as mimic_fit
    from rima.mimic.inference import gamma_at
    from rima.moments import Moments
    from rima.pipeline import mimic_syntax

    m, K = len(plan["indicators"]), len(plan["causes"])
    n = M.shape[0]
    mean = M.mean(axis=0)
    mz = Moments(n_obs=n, sum_weights=float(n), mean=mean,
                 comoment=(M - mean).T @ (M - mean))
    gamma = None
    if plan["se"] == "robust.sem":
        block = np.ascontiguousarray(M[:, :m].T)
        out, _P = _scores_block(X, m, K)
        gamma = gamma_at(mz, block, np.arange(m), np.zeros(m), np.ones(m), out,
                         np.arange(K), np.arange(n))
    return mimic_fit(mimic_syntax(spec), estimator="ML", se=plan["se"], sample_moments=mz,
                     gamma=gamma)


def stage_rci(plan: dict) -> None:
    """The RCI half of the scoring kernel, on arrays laid out as the fit's (pillars in a
    (K + 2, n) block, indicators column-major) with weights of the MIMIC's types."""
    import numpy as np

    from rima._kernels.score import predict_rci, scale_rci

    m, K = len(plan["indicators"]), len(plan["causes"])
    X, M, _w = _synthetic(plan)
    out, P = _scores_block(X, m, K)
    Y = np.asfortranarray(M[:, :m])
    icpt, cx, cy = np.zeros(2 ** m), np.full((2 ** m, K), 0.25), np.full((2 ** m, m), 0.25)
    rci, r100 = predict_rci(P, Y, M[:, :m].mean(axis=0), M[:, :m].std(axis=0, ddof=1), icpt,
                            cx, cy, 0.0, 100.0, out=(out[K], out[K + 1]))
    scale_rci(rci, r100, np.ones(X.shape[0], dtype=bool))


def stage_groups(plan: dict) -> None:
    """The RSM's and profiles' grouped moments (group_stats gives the kernel one kind of
    array) and the RSM rule on them."""
    import numpy as np

    from rima.rsm import group_stats, share_table

    m, K = len(plan["indicators"]), len(plan["causes"])
    X, _M, w = _synthetic(plan)
    out, P = _scores_block(X, m, K)
    out[K] = X.sum(axis=1)
    out[K + 1] = 50.0 + out[K]
    share_table(plan["causes"], group_stats(np.zeros(X.shape[0], dtype=np.int64), 1,
                                            out[K + 1], P, out[K], w).corr()[0])


_STAGE_RUNS = {"mimic": stage_mimic, "rci": stage_rci, "groups": stage_groups}


def run_stages(plan: dict, claims: str | None = None) -> None:
    """The second process's work: each stage in order that it can claim (all of them
    without a claims directory)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for stage in STAGES:
            if claims is None or claim(claims, stage):
                _STAGE_RUNS[stage](plan)


def compile_mimic(plan: dict) -> None:
    """Every stage in this process (what the second process compiles when it is alone)."""
    run_stages(plan)


def _exit_with_parent(parent: int, poll_seconds: float = 0.5) -> None:
    """End this process when the run that started it has gone (killed, interrupted or
    its output closed; `parent` is its pid, passed along because it may be gone before
    this process asks): the compiled kernels are of use to nobody else, and a process of
    ours must not outlive the command the user ran."""
    import os
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":
    _exit_with_parent(int(sys.argv[2]))
    run_stages(json.loads(sys.argv[1]), sys.argv[3] if len(sys.argv) > 3 else None)
