"""Compile and cache every numba kernel now (`rima warmup`), e.g. while building a
container image, so that no later run pays the compilation.

The kernels have no fixed signatures to compile from: each is compiled for the argument
types the library passes, so the way to compile them all is to run each code path once:
the bundled example's build from its raw survey modules, and a small simulated survey
(every missing-data mode, weights, scoring, bootstrap, the MIMIC's standard-error
variants, pairwise moments). numba writes the machine code to its cache
(`rima.config.cache_dir()`); later processes load it in milliseconds.
"""

from __future__ import annotations

import time
import warnings


def _steps():
    import numpy as np

    import rima
    from rima.bench import example_spec
    from rima.commands.demo import run_demo
    from rima.moments import compute_moments, has_nonfinite, pairwise_moments
    from rima.resampling import bootstrap
    from rima.result import fit
    from rima.simulation import simulate

    df = simulate(n_households=400, seed=7).households
    base = example_spec().to_dict()
    state = {}

    def with_options(**opts):
        return {**base, "options": {**base.get("options", {}), **opts}}

    def raw_build():
        # the bundled example from its raw modules, as `rima demo` and `rima build` read
        # them, and its validation; and the check of large builds' values, which a build
        # of the example's size makes with numpy
        from rima._kernels.build import NOT_FINITE_KERNEL_ROWS, count_not_finite

        run_demo(echo=lambda *_: None)
        count_not_finite(np.zeros(NOT_FINITE_KERNEL_ROWS), np.zeros(0, dtype=np.int8))

    def default_fit():
        state["res"] = fit(df, base)

    def scoring():
        state["res"].model.score(df)

    def variants():
        fit(df, with_options(missing="fiml"))
        fit(df, with_options(missing="pillar", weights=True))

    def resampling():
        bootstrap(state["res"], n_boot=4, progress=False)

    def mimic():
        cols = ["fcs", "log_food_exp_ae", "hdds", "herd_su", "n_durables"]
        d = df[cols].dropna()
        syntax = "R =~ fcs + log_food_exp_ae + hdds\nR ~ herd_su + n_durables"
        for se in ("standard", "robust.sem", "robust.huber.white"):
            rima.mimic.fit(syntax, d, se=se).predict(d)

    def moments():
        X = df[list(base["pillars"]["AST"])].to_numpy(dtype=float)
        pairwise_moments(X)
        ok = X[~np.isnan(X).any(axis=1)]
        compute_moments(ok)
        has_nonfinite(ok)

    return [("build from raw modules", raw_build), ("fit (listwise)", default_fit),
            ("scoring", scoring), ("fit (fiml; pillar-wise with weights)", variants),
            ("bootstrap", resampling), ("MIMIC standard errors", mimic),
            ("moments", moments)]


def warmup(echo=None) -> dict:
    """Run every kernel once (compiling and caching what is not cached yet); returns
    {"seconds": wall time, "steps": {step: seconds}, "cache": cache directory}."""
    from rima import config

    say = echo or (lambda s: None)
    config.compile_notice(say)
    t_all = time.perf_counter()
    times = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, step in _steps():
            t0 = time.perf_counter()
            step()
            times[name] = time.perf_counter() - t0
            say(f"{name}: {times[name]:.1f} s")
    return {"seconds": time.perf_counter() - t_all, "steps": times,
            "cache": str(config.cache_dir())}
