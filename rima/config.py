"""Process-wide settings of the API: the `rima` logger, the thread count of the numerical
kernels and the one-line notice shown while the kernels compile for the first time.

    import rima.config
    rima.config.set_threads(4)      # numba threads used by the kernels (default: all cores)
    rima.config.logger.setLevel("INFO")
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger("rima")
logger.addHandler(logging.NullHandler())

_KERNELS = Path(__file__).parent / "_kernels"


def set_threads(n: int) -> None:
    """Threads the numba kernels use (1 .. the number of cores numba found)."""
    import numba

    from rima.errors import RimaInputError

    top = numba.config.NUMBA_NUM_THREADS
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= top:
        raise RimaInputError(f"threads must be an integer from 1 to {top}, got {n!r}")
    numba.set_num_threads(n)
    logger.info("kernel threads set to %d", n)


def get_threads() -> int:
    import numba

    return numba.get_num_threads()


def kernels_cached() -> bool:
    """Whether compiled kernels are in numba's on-disk cache (a previous run compiled
    them); False on a fresh install, when the first fit compiles them."""
    cache = _KERNELS / "__pycache__"
    try:
        return any(cache.glob("*.nbi"))
    except OSError:
        return False


def first_compile_notice(say) -> None:
    """Tell the user, once, that the first run compiles the kernels (about a minute)."""
    if not kernels_cached():
        msg = ("compiling rima's numerical kernels (first run only; about a minute, "
               "cached afterwards)")
        logger.info(msg)
        say(msg)
