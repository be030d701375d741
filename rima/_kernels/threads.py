"""How the kernels use threads: thread count, small work on one thread, and
`run_blocks`, which spreads ranges of row blocks over threads (`run_tasks`: any
independent tasks, e.g. row ranges over several columns; `run_ranges`: a function called
on consecutive row ranges).

The public home of these settings is `rima.config` (which re-exports them); they live
here because the kernel modules use `run_blocks` and import nothing above
`rima._kernels`. Why the work is spread this way, and the measurements behind
`SERIAL_ROWS`: docs/performance.md.

Thread count: NUMBA_NUM_THREADS (the pool size, read when numba starts; default: all
cores), or `rima.config.set_num_threads(n)` / `rima --threads N` (at most the pool size).
Results never depend on it: every pass cuts its rows into fixed blocks whose results are
merged in block order.
"""

from __future__ import annotations

import itertools
import os
import threading
from contextlib import contextmanager

# Below this many rows a task runs on one thread. Measured with
# benchmarks/bench_threads.py (whole fit, 1 vs 2 threads, quiet and beside two busy
# processes; the table is in the README): beside the busy processes one thread won at
# 2,240 households and two threads from 20,000 on; quiet, two threads won throughout but
# within the noise of a loaded machine below 20,000.
SERIAL_ROWS = 20_000

_configured = False
_threads = None  # set_num_threads(n); None = numba's pool size


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


_local = threading.local()  # .threads: the innermost threads_at_most's limit here


def current_threads() -> int:
    """Threads a kernel started from this Python thread may use now."""
    lim = getattr(_local, "threads", None)
    if callable(lim):
        lim = lim()
    return num_threads() if lim is None else max(1, min(lim, num_threads()))


@contextmanager
def threads_at_most(k):
    """Kernels started from this Python thread inside use at most k threads (at least
    one): a count, or a function giving the count when a kernel starts (read again at
    each start). Nested uses keep the smaller count."""
    before = getattr(_local, "threads", None)
    want = k if callable(k) and before is None else max(1, min(k() if callable(k) else k,
                                                                current_threads()))
    _local.threads = want
    try:
        yield want
    finally:
        _local.threads = before


def threads_for(n_rows: int):
    """Kernels run inside use at most `threads_needed(n_rows)` threads (set for this Python
    thread), so a small task stays serial throughout."""
    return threads_at_most(threads_needed(n_rows))


# ----------------------------------------------------------------------------- blocks

_pool = None
_pool_lock = threading.Lock()


def _reset_pool():
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_reset_pool)  # a forked child has none of the threads


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=max(1, max_threads() - 1),
                                       thread_name_prefix="rima-kernel",
                                       initializer=_mark_worker)
        return _pool


def _mark_worker():
    _local.threads = 1  # a kernel started inside a worker runs on that worker alone


def run_blocks(kernel, n_blocks: int, n_rows: int, *args):
    """Call `kernel(*args, b0, b1)` on ranges of blocks covering 0 .. n_blocks - 1.

    The kernels are numba functions that release the GIL and write block b's results to
    slot b of their output arrays, so the ranges may run in any order on any thread and
    the results never depend on the thread count. Below SERIAL_ROWS rows (or with one
    thread) it is one call on this thread. Otherwise the calling thread and up to
    threads - 1 pool workers take the next range from a shared counter until none is
    left: a thread the OS deschedules on a busy machine delays only its current range,
    never the whole pass (as a static split of the rows would), and the caller finishes
    the work alone if no worker is free.
    """
    t = min(current_threads(), threads_needed(n_rows))
    if t <= 1 or n_blocks <= 1:
        kernel(*args, 0, n_blocks)
        return
    # about four ranges per thread balance the load without many dispatches
    n_ranges = min(n_blocks, 4 * t)
    step = -(-n_blocks // n_ranges)
    starts = list(range(0, n_blocks, step))
    counter = itertools.count()
    errors = []

    def work():
        try:
            while not errors:
                i = next(counter)
                if i >= len(starts):
                    return
                b0 = starts[i]
                kernel(*args, b0, min(n_blocks, b0 + step))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller below
            errors.append(exc)

    pool = _executor()
    helpers = [pool.submit(work) for _ in range(t - 1)]
    work()
    for h in helpers:
        if not h.cancel():  # a helper that never started has nothing left to do
            h.result()
    if errors:
        raise errors[0]


def run_tasks(task, n_tasks: int, n_rows: int) -> int:
    """Call `task(i, slot)` for i in 0 .. n_tasks - 1, spread over threads as `run_blocks`
    spreads ranges (small work, or one thread: all on this thread in order). `slot` is
    the calling thread's number among those used (0 .. threads - 1), so a task can write
    to per-thread scratch. Each task runs with one thread for the kernels it starts.
    Returns the number of slots used. The task results must not depend on which thread
    ran them (they are independent, e.g. one column each)."""
    t = min(current_threads(), threads_needed(n_rows), max(1, n_tasks))
    if t <= 1:
        for i in range(n_tasks):
            task(i, 0)
        return 1
    counter = itertools.count()
    errors = []

    def work(slot):
        before = getattr(_local, "threads", None)
        _local.threads = 1
        try:
            while not errors:
                i = next(counter)
                if i >= n_tasks:
                    return
                task(i, slot)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller below
            errors.append(exc)
        finally:
            _local.threads = before

    pool = _executor()
    helpers = [pool.submit(work, s) for s in range(1, t)]
    work(0)
    for h in helpers:
        if not h.cancel():
            h.result()
    if errors:
        raise errors[0]
    return t


# ------------------------------------------------------------------------ row ranges

# Rows per range of `run_ranges`: a float64 range of this many rows is 512 KiB, so a pass
# that goes through several columns of the same rows finds the range's running totals
# still in the core's cache from one column to the next.
RANGE_ROWS = 65_536


def row_ranges(n_rows: int, size: int = RANGE_ROWS) -> list[tuple[int, int]]:
    """The consecutive ranges [a, b) of at most `size` rows that cover 0 .. n_rows - 1."""
    return [(a, min(n_rows, a + size)) for a in range(0, max(n_rows, 1), size)]


def run_ranges(fn, n_rows: int, ranges=None) -> None:
    """Call `fn(i, a, b)` for each row range i = [a, b) of `row_ranges(n_rows)` (or of
    `ranges`), spread over threads as `run_tasks` spreads tasks: for element-wise passes
    of numpy or of a numba kernel on slices. Each row is computed by one call, in the same
    order of operations on any thread count, so the results are the same bits; counts a
    call makes go to slot i of the caller's array and are added up afterwards."""
    ranges = row_ranges(n_rows) if ranges is None else ranges
    run_tasks(lambda i, slot: fn(i, *ranges[i]), len(ranges), n_rows)


# ------------------------------------------------------------------------------ BLAS

_blas = None


@contextmanager
def blas_one_thread():
    """numpy's BLAS on one thread inside: for a product over many rows between the
    kernels' passes (its worker threads spin for a while after a threaded call, taking
    the cores the next passes run on; one thread computes each output element with the
    same operations in the same order, so the results are the same bits), and for the
    one-thread `np.cov` baseline of `rima bench`."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    with _blas.limit(limits=1, user_api="blas"):
        yield
