"""The child process of a page job: `python -m rima.app.child rima fit ...`.

Runs a module (or a script path) as `__main__` with its stderr marked as a terminal, so
that progress bars (tqdm, e.g. the bootstrap's replicates) are drawn into the pipe the
server reads, one update per completed chunk of work. Nothing else changes: the command
line, its options and its outputs are those of `rima` in a terminal.
"""

from __future__ import annotations

import os
import runpy
import sys


class _Terminal:
    """The stream, saying it is a terminal (everything else goes to the stream)."""

    def __init__(self, stream):
        self._stream = stream

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str]) -> None:
    target, *args = argv
    # every update drawn (no rate limit), at a fixed width, so the server sees "n/total"
    os.environ.setdefault("TQDM_MININTERVAL", "0")
    os.environ.setdefault("TQDM_MINITERS", "1")
    os.environ.setdefault("TQDM_NCOLS", "80")
    os.environ.setdefault("NO_COLOR", "1")
    sys.stderr = _Terminal(sys.stderr)
    sys.argv = [target, *args]
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
