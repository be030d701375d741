"""Compile the MIMIC's kernels (and the RCI's, the grouped tables' and the RSM's) in a
second process while a first run does its earlier steps.

numba compiles one kernel at a time under a process-wide lock, so a first run on a cold
cache uses one core for about half a minute. The MIMIC's kernels are the largest part of
that and the last the fit reaches; a second process compiling them from the start (on a
small synthetic model of the same shape and options) has written them to the on-disk cache
by the time the fit needs them, which then loads them instead of compiling. Outputs are
unchanged: the cache holds the same machine code either process would compile.

`start(spec)` returns the process (or None when the cache is warm or it cannot start);
`wait(proc)`, called when the fit reaches its MIMIC step, lets it finish (it is then part
way through the very kernels the fit needs, sooner done than compiling them again);
`stop(proc)` ends it if still running. numba writes each cache entry to a temporary file
and renames it, so stopping the process mid-way leaves no partial entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _plan(spec) -> dict:
    opts = spec.options
    from rima.pipeline import mimic_se

    return {"indicators": list(spec.indicators), "causes": list(spec.pillar_names),
            "se": mimic_se(opts)[0], "fiml": opts.missing == "fiml",
            "prediction": opts.rci_prediction, "weighted": spec.weight is not None}


def start(spec):
    """Start compiling the MIMIC kernels of `spec`'s fit in a background process when the
    kernel cache is cold; returns the process or None."""
    from rima import config

    if not config.cache_is_cold() or not spec.indicators:
        return None
    try:
        return subprocess.Popen([sys.executable, "-m", "rima.precompile",
                                 json.dumps(_plan(spec)), str(os.getpid())],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def wait(proc, timeout: float = 120.0) -> None:
    """Let the process finish (at most `timeout` seconds, then stop it)."""
    if proc is None:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop(proc)


def stop(proc) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def compile_mimic(plan: dict, n: int = 300) -> None:
    """Fit a synthetic MIMIC of the plan's shape and options, and its prediction weights,
    the same calls as the fit's MIMIC step (so the same kernel signatures)."""
    import warnings

    import numpy as np
    import pandas as pd

    from rima._kernels.score import predict_rci, scale_rci
    from rima.mimic import fit as mimic_fit
    from rima.pipeline import mimic_syntax, pattern_weights
    from rima.rsm import group_stats, share_table

    ind, causes = plan["indicators"], plan["causes"]
    m, K = len(ind), len(causes)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, K))
    eta = X @ np.linspace(0.2, 0.5, K) + 0.5 * rng.standard_normal(n)
    M = np.empty((n, m + K))
    M[:, :m] = eta[:, None] * np.linspace(0.6, 0.9, m) + 0.6 * rng.standard_normal((n, m))
    M[:, m:] = X
    M[:, :m] = (M[:, :m] - M[:, :m].mean(axis=0)) / M[:, :m].std(axis=0, ddof=1)
    mdf = pd.DataFrame(M, columns=ind + causes, copy=False)

    class _Spec:
        indicators, pillar_names = ind, causes

    w = rng.uniform(0.5, 2.0, n) if plan["weighted"] else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mimic_fit(mimic_syntax(_Spec), mdf, estimator="ML", se=plan["se"],
                        missing="fiml" if plan["fiml"] else "listwise", sampling_weights=w)
        icpt, cx, cy = pattern_weights(res, plan["prediction"], m, K,
                                       allow_partial=plan["fiml"])
    # the RCI half of the scoring kernel, on arrays laid out as the fit's (pillars in a
    # (K + 2, n) block, indicators column-major)
    out = np.empty((K + 2, n))
    P = out[:K].T
    P[:] = X
    Y = np.asfortranarray(M[:, :m])
    rci, r100 = predict_rci(P, Y, M[:, :m].mean(axis=0), M[:, :m].std(axis=0, ddof=1), icpt,
                            cx, cy, 0.0, 100.0, out=(out[K], out[K + 1]))
    scale_rci(rci, r100, np.ones(n, dtype=bool))
    # the RSM's and profiles' grouped moments (group_stats gives the kernel one kind of array)
    # and the RSM rule on them
    share_table(causes, group_stats(np.zeros(n, dtype=np.int64), 1, r100, P, rci, w).corr()[0])


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
    compile_mimic(json.loads(sys.argv[1]))
