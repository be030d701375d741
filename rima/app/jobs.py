"""Background jobs of the page: each one a `rima` command in a child process.

The page's fit is `rima fit DATA --spec SPEC --out DIR --json`, its scoring `rima score`,
its analyses `rima target|shocks|scenario`: the same code, options and output files as
the command line, so a download from the page equals what the analyst would get in a
terminal, byte for byte. Child processes keep the server responsive (a fit holds all
cores for seconds), can be stopped when an analyst deletes their data, and at most
`max_jobs` run at once; the others wait in order.

Progress is the child's stderr (`rima.app.child` marks it a terminal so progress bars are
drawn): the step lines of `rima fit` ("[  1.2s] factor analysis AST") and the progress
bar of the bootstrap ("bootstrap:  40%|####  | 80/200 [...]"). A fit job knows its steps
in advance (`fit_plan`), so the page shows "step 4 of 8" as a percentage that only rises,
and inside the bootstrap step the replicates done of the total.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_BAR = re.compile(r"^(?:(?P<what>[^:|]*):)?\s*(?P<pct>\d{1,3})%\|.*\|\s*(?P<n>\d+)/(?P<total>\d+)")
_STEP = re.compile(r"^\[\s*[\d.]+s\]\s*(.+)$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROGRAM = (sys.executable, "-m", "rima.app.child", "rima")


def fit_plan(pillars, n_boot: int) -> list[str]:
    """The step lines `rima fit` prints, in order (each a prefix of the printed line)."""
    return (["validating data"] + [f"factor analysis {p}" for p in pillars] + ["MIMIC model"]
            + (["bootstrap"] if n_boot else []) + ["writing outputs", "done"])


@dataclass
class Job:
    kind: str
    argv: list
    out: Path
    id: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    state: str = "queued"          # queued, running, done, failed, cancelled
    steps: list = field(default_factory=list)
    percent: int | None = None      # of the whole job (steps done), only rises
    step: int | None = None         # index in `plan` of the running step
    plan: list = field(default_factory=list)
    bar: dict | None = None         # {what, done, total} of the last progress bar
    errors: list = field(default_factory=list)   # [{field, message}]
    stdout: str = ""
    created: float = field(default_factory=time.time)
    finished: float | None = None
    meta: dict = field(default_factory=dict)
    _proc: subprocess.Popen | None = None
    _cancel: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._cancel.set()
        p = self._proc
        if p is not None and p.poll() is None:
            p.kill()

    def status(self, position: int | None = None) -> dict:
        return {"id": self.id, "kind": self.kind, "state": self.state,
                "steps": self.steps[-8:], "percent": self.percent, "errors": self.errors,
                "step": None if self.step is None else self.step + 1,
                "n_steps": len(self.plan) or None, "bar": self.bar,
                "position": position, "file": self.meta.get("file")}

    def advance(self, percent: int) -> None:
        self.percent = max(self.percent or 0, min(100, percent))


class Runner:
    """Runs jobs in child processes, at most `max_jobs` at once, in arrival order."""

    def __init__(self, max_jobs: int = 2, timeout: float = 3600.0, program=PROGRAM):
        self.gate = threading.BoundedSemaphore(max_jobs)
        self.timeout = timeout
        self.program = list(program)
        self._queue: list[Job] = []
        self._lock = threading.Lock()

    def position(self, job: Job) -> int | None:
        with self._lock:
            return self._queue.index(job) + 1 if job in self._queue else None

    def submit(self, job: Job, then=None) -> Job:
        """Start `job` in a thread; `then(job)` runs after a successful command."""
        with self._lock:
            self._queue.append(job)
        threading.Thread(target=self._run, args=(job, then), daemon=True).start()
        return job

    def _run(self, job: Job, then) -> None:
        try:
            with self.gate:
                with self._lock:
                    self._queue.remove(job)
                if job._cancel.is_set():
                    job.state = "cancelled"
                    return
                job.state = "running"
                rc = self._child(job)
                if job._cancel.is_set():
                    job.state = "cancelled"
                    return
                if rc == 0 and then is not None:
                    then(job)
                if rc == 0:
                    if job.plan:
                        job.advance(100)
                    job.state = "done"
                else:
                    job.state = "failed"
                    if not job.errors:
                        job.errors = [{"field": "run", "message": _last_error(job)}]
        except Exception as exc:  # noqa: BLE001 - a job failure must reach the page
            job.state = "failed"
            job.errors = [{"field": "run", "message": f"{type(exc).__name__}: {exc}"}]
        finally:
            job.finished = time.time()

    def _child(self, job: Job) -> int:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        job.out.mkdir(parents=True, exist_ok=True)
        with open(job.out.parent / f"{job.out.name}.stdout", "wb") as out:
            proc = subprocess.Popen(
                [*self.program, *job.argv], stdout=out,
                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                cwd=job.out.parent)
            job._proc = proc
            reader = threading.Thread(target=_read_progress, args=(proc.stderr, job),
                                      daemon=True)
            reader.start()
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
                job.errors = [{"field": "run", "message":
                               f"stopped after {self.timeout:g} s (the server's job time limit)"}]
            reader.join(timeout=5)
        job.stdout = scrub((job.out.parent / f"{job.out.name}.stdout").read_text(
            encoding="utf-8", errors="replace"), job.out.parents[2])
        return rc


def scrub(text: str, root: Path) -> str:
    """`text` with every path under `root` (the workspace) cut to its file name: analysts
    see their file names, never where the server keeps them."""
    return re.sub(re.escape(str(root)) + r"[^\s\"',;)]*/", "", text)


def _read_progress(stream, job: Job) -> None:
    buf = b""
    while True:
        chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
        if not chunk:
            break
        buf += chunk
        parts = re.split(rb"[\r\n]", buf)
        buf = parts.pop()
        for raw in parts:
            _take_line(job, raw.decode("utf-8", errors="replace").strip())
        # a progress bar redraws its line after a "\r" and ends it only with the next
        # redraw: take a complete one ("... | n/total [...]") as soon as it is there
        tail = _ANSI.sub("", buf.decode("utf-8", errors="replace")).strip()
        if tail.endswith("]") and _BAR.search(tail):
            _take_line(job, tail)
            buf = b""
    if buf:
        _take_line(job, buf.decode("utf-8", errors="replace").strip())


def _take_line(job: Job, line: str) -> None:
    line = _ANSI.sub("", line).strip()
    if not line:
        return
    line = scrub(line, job.out.parents[2])
    m = _BAR.search(line)
    if m:
        done, total = int(m.group("n")), int(m.group("total"))
        if job.step is not None and total and job.plan[job.step] == "bootstrap":
            # the bootstrap step's share of the job, by replicates done
            job.advance(int(100 * (job.step + done / total) / len(job.plan)))
        # set last: a reader that sees the new count sees the percentage that goes with it
        job.bar = {"what": (m.group("what") or "").strip(), "done": done, "total": total}
        return
    m = _STEP.match(line)
    step = m.group(1) if m else line
    job.steps.append(step)
    del job.steps[:-200]
    if m and job.plan:
        later = range(job.step + 1 if job.step is not None else 0, len(job.plan))
        for i in later:
            if step.startswith(job.plan[i]):
                job.advance(int(100 * i / len(job.plan)))
                job.step = i
                break


def _last_error(job: Job) -> str:
    starts = [i for i, s in enumerate(job.steps)
              if s.startswith(("error:", "internal error:", "Error:"))]
    if starts:
        first = job.steps[starts[-1]].split(":", 1)[1].strip()
        # a spec or data error lists its problems on the lines after the first
        return "\n".join([first, *job.steps[starts[-1] + 1:]])
    return job.steps[-1] if job.steps else "the command failed"


def read_json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
