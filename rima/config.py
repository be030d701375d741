"""rima's run-time settings: the `rima` logger, threads, the numba cache, the first-run
notice.

    import rima.config
    rima.config.set_threads(4)      # threads the kernels use (default: all cores)
    rima.config.logger.setLevel("INFO")

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
import logging
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

logger = logging.getLogger("rima")
logger.addHandler(logging.NullHandler())

_KERNELS = Path(__file__).parent / "_kernels"
_lock = threading.Lock()
_notice_shown = False


def set_threads(n: int) -> None:
    """Set the number of threads the kernels use.

    `set_num_threads` is the same without the range check (it caps).

    Parameters
    ----------
    n : int
        1 .. the pool size (NUMBA_NUM_THREADS). Results do not depend on it.

    Raises
    ------
    RimaInputError
        `n` is not an integer in that range.
    """
    import numba

    from rima.errors import RimaInputError

    top = max_threads()
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= top:
        raise RimaInputError(f"threads must be an integer from 1 to {top}, got {n!r}")
    set_num_threads(n)
    numba.set_num_threads(n)  # for numba parallel loops, should any be added
    logger.info("kernel threads set to %d", n)


def get_threads() -> int:
    """Threads a large task uses now (`num_threads`)."""
    return num_threads()


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
    here = _KERNELS
    if os.access(here, os.W_OK):
        return here / "__pycache__"
    # a read-only installation: numba falls back to the per-user cache folder
    from numba.misc.appdirs import AppDirs

    return Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)


_warm_dirs: set = set()  # cache folders seen holding kernels (they stay so in a process)


def cache_is_cold() -> bool:
    """True when no compiled kernel of rima is cached yet (a first run compiles)."""
    d = cache_dir()
    if d in _warm_dirs:
        # every fit asks; searching the folder again each time cost a small fit 2 %
        return False
    try:
        cold = not (d.is_dir() and any(d.rglob("*.nbi")))
    except OSError:
        return True
    if not cold:
        _warm_dirs.add(d)
    return cold


def kernels_cached() -> bool:
    """Whether compiled kernels are in numba's on-disk cache (a previous run compiled
    them); False on a fresh install, when the first fit compiles them."""
    return not cache_is_cold()


def compile_notice(echo=None) -> bool:
    """Say once per process, on a first run, that kernels are compiled and cached: one
    line to stderr (or `echo`). Returns True when the line was written."""
    global _notice_shown
    with _lock:
        if _notice_shown or not cache_is_cold():
            return False
        _notice_shown = True
    msg = (f"rima: compiling the numerical kernels (first run only; cached in {cache_dir()}; "
           "`rima warmup` does it ahead of time)")
    logger.info(msg)
    if echo is not None:
        echo(msg)
    else:
        print(msg, file=sys.stderr, flush=True)
    return True


def first_compile_notice(say) -> None:
    """`compile_notice` through `say` (the fit's progress callback)."""
    compile_notice(say)
