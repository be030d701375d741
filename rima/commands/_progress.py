"""Progress messages for long steps, on stderr so stdout stays machine-readable."""

import sys
import time


class Progress:
    """Prints "[  1.2s] step" lines to stderr (silent with quiet=True)."""

    def __init__(self, quiet=False):
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, step: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.1f}s] {step}", file=sys.stderr, flush=True)
