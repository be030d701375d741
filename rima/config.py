"""rima's run-time settings: threads, the numba cache, the first-run notice.

Threads (implemented in `rima._kernels.threads`, re-exported here):
`set_num_threads(n)` / `num_threads()` / `max_threads()`, `threads_for(n_rows)` (tasks
under `SERIAL_ROWS` rows run on one thread), `run_blocks`, and `configure()`, which pins
numba's threading layer for any numba parallel loop (OpenMP first, with passive waits;
rima's own kernels use `run_blocks` instead). How to choose the thread count and why the
work is spread this way: docs/performance.md.

Cache: `cache_dir()` is where numba keeps the compiled kernels (NUMBA_CACHE_DIR when set);
`compile_notice()` says once, on a first run, that they are being compiled.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from pathlib import Path

from rima._kernels import threads as _threads_impl
from rima._kernels.threads import (  # noqa: F401 - re-exported: the public home
    configure,
    current_threads,
    max_threads,
    num_threads,
    run_blocks,
    set_num_threads,
    threads_for,
    threads_needed,
)

_lock = threading.Lock()
_notice_shown = False


def __getattr__(name):
    if name == "SERIAL_ROWS":  # the live value (tests and benchmarks change it there)
        return _threads_impl.SERIAL_ROWS
    raise AttributeError(f"module 'rima.config' has no attribute {name!r}")


def by_rows(count):
    """Decorator: run the function under `threads_for(count(*args, **kwargs))`."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with threads_for(count(*args, **kwargs)):
                return fn(*args, **kwargs)
        return run
    return wrap


# ----------------------------------------------------------------------------- cache

def cache_dir() -> Path:
    """Where numba keeps compiled kernels: NUMBA_CACHE_DIR when set, else the
    __pycache__ folder beside the kernel modules (rima/_kernels/__pycache__), or numba's
    per-user cache folder when the package is read-only."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent / "_kernels"
    if os.access(here, os.W_OK):
        return here / "__pycache__"
    # a read-only installation: numba falls back to the per-user cache folder
    from numba.misc.appdirs import AppDirs

    return Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)


def cache_is_cold() -> bool:
    """True when no compiled kernel of rima is cached yet (a first run compiles)."""
    d = cache_dir()
    if not d.is_dir():
        return True
    return not any(d.rglob("*.nbi"))


def compile_notice(echo=None) -> bool:
    """Say once per process, on a first run, that kernels are compiled and cached: one
    line to stderr (or `echo`). Returns True when the line was written."""
    global _notice_shown
    with _lock:
        if _notice_shown or not cache_is_cold():
            return False
        _notice_shown = True
    msg = (f"rima: first run: compiling numerical kernels and caching them in "
           f"{cache_dir()} (once; `rima warmup` does it ahead of time)")
    if echo is not None:
        echo(msg)
    else:
        print(msg, file=sys.stderr, flush=True)
    return True
