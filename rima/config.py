"""How rima's numba kernels run: threading layer, thread count, small work, first-run notice.

One place sets the threading behaviour, before the first parallel kernel starts numba's
thread pool (`rima._kernels` imports this module, so every kernel module goes through it):

* threading layer: OpenMP first (then TBB, then numba's workqueue), unless the user chose
  one with NUMBA_THREADING_LAYER or NUMBA_THREADING_LAYER_PRIORITY. OpenMP is thread-safe
  (the HTTP service and the profile tables launch kernels from several Python threads,
  which the workqueue layer aborts on);
* OMP_WAIT_POLICY=PASSIVE unless set: a thread that finishes its share of a parallel loop
  sleeps instead of spinning. Spinning threads take the cores that other work needs, and
  on a busy machine the loop's other threads then wait for them (a 2,240-household fit
  took 0.60 s with the default policy and 0.07 s with PASSIVE beside two busy processes on
  two cores; benchmarks/bench_threads.py);
* small work runs on one thread (`threads_for`): below `SERIAL_ROWS` rows starting and
  joining the pool costs more than the rows, and on a busy machine the joins wait for
  threads the OS has descheduled.

Thread count: NUMBA_NUM_THREADS (the pool size, read when numba starts), or
`rima.config.set_num_threads(n)` / `rima --threads N` (at most the pool size). Results
never depend on it: every parallel kernel cuts its rows into fixed blocks merged in block
order.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

# Below this many rows a task runs on one thread. Measured with
# benchmarks/bench_threads.py (whole fit, 1 vs 2 threads, quiet and with two busy
# processes; docs/performance.md has the table): one thread wins up to ~50,000 rows quiet
# and further under contention.
SERIAL_ROWS = 50_000

_configured = False
_threads = None  # set_num_threads(n); None = numba's pool size
_lock = threading.Lock()
_notice_shown = False


def configure():
    """Pin the threading layer and the OpenMP wait policy (idempotent; runs on the import
    of rima._kernels, before any parallel kernel can start the thread pool)."""
    global _configured
    if _configured:
        return
    _configured = True
    # libgomp reads these when it is loaded, i.e. when the first parallel kernel starts
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("KMP_BLOCKTIME", "0")  # the same for Intel's OpenMP runtime
    import numba

    if "NUMBA_THREADING_LAYER" not in os.environ and \
            "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
        numba.config.THREADING_LAYER = "default"


def max_threads() -> int:
    """The size of numba's thread pool (NUMBA_NUM_THREADS, default: the number of cores)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def num_threads() -> int:
    """Threads a large task uses: `set_num_threads`'s value, else the pool size."""
    return _threads if _threads is not None else max_threads()


def set_num_threads(n: int | None) -> int:
    """Use `n` threads for large tasks in every thread of this process (None: all of the
    pool). Returns the count in effect; more than NUMBA_NUM_THREADS is capped to it."""
    global _threads
    if n is None:
        _threads = None
        return num_threads()
    n = int(n)
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    _threads = min(n, max_threads())
    return _threads


def threads_needed(n_rows: int) -> int:
    """Threads for a task over `n_rows` rows: 1 below SERIAL_ROWS, else num_threads()."""
    return 1 if n_rows < SERIAL_ROWS else num_threads()


@contextmanager
def threads_for(n_rows: int):
    """Run the parallel kernels called inside with `threads_needed(n_rows)` threads (in
    this Python thread only; numba's setting is per thread). Nested uses keep the smaller
    count, so an outer small task stays serial in its inner steps."""
    import numba

    configure()
    before = numba.get_num_threads()
    want = min(threads_needed(n_rows), before if _nested() else num_threads())
    numba.set_num_threads(want)
    _depth.value = getattr(_depth, "value", 0) + 1
    try:
        yield want
    finally:
        _depth.value -= 1
        numba.set_num_threads(before)


_depth = threading.local()


def by_rows(count):
    """Decorator: run the function under `threads_for(count(*args, **kwargs))`."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with threads_for(count(*args, **kwargs)):
                return fn(*args, **kwargs)
        return run
    return wrap


def _nested() -> bool:
    return getattr(_depth, "value", 0) > 0


# ----------------------------------------------------------------------------- cache

def cache_dir() -> Path:
    """Where numba keeps compiled kernels: NUMBA_CACHE_DIR when set, else the
    __pycache__ folder beside each kernel module (rima/_kernels/__pycache__)."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "_kernels" / "__pycache__"


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
