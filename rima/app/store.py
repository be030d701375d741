"""Per-analyst workspaces: one directory each, named from an unguessable id, with expiry.

A workspace is created on a browser's first request; its id (32 random bytes, URL-safe)
travels only in an HttpOnly, SameSite=Strict cookie. The directory name is a hash of the
id, so neither a directory listing nor a path reveals a cookie. Every file route resolves
the workspace from the cookie, never from the URL, so one analyst cannot name another's
files or jobs. Workspaces are removed `retention` seconds after creation, or at once by
"delete my data". Nothing here logs file names, column names or values.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rima.errors import DataError

COOKIE = "rima_ws"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name reduced to letters, digits, '.', '_' and '-' (no path parts)."""
    base = Path(str(name).replace("\\", "/")).name
    base = _SAFE.sub("_", base).lstrip(".")
    return base[:120] or "upload"


@dataclass
class Workspace:
    key: str            # the cookie value
    path: Path
    created: float
    jobs: dict = field(default_factory=dict)   # job id -> rima.app.jobs.Job

    @property
    def uploads(self) -> Path:
        return self.path / "uploads"

    def upload_path(self, name: str) -> Path:
        p = self.uploads / safe_name(name)
        if not p.is_file():
            raise DataError(f"no uploaded file named {safe_name(name)!r}")
        return p

    def disk_usage(self) -> int:
        """Bytes of every file in the workspace (uploads, uploads in progress, results)."""
        total = 0
        for p in self.path.rglob("*"):
            try:
                if p.is_file():
                    total += p.stat().st_size
            except OSError:  # removed meanwhile (a finished upload's .part, a deleted job)
                pass
        return total

    def files(self) -> list[str]:
        if not self.uploads.is_dir():
            return []
        return sorted(p.name for p in self.uploads.iterdir() if p.is_file())


class Store:
    """The workspaces of one server (in memory, directories under `root`)."""

    def __init__(self, root: Path, retention: float, clock=time.time):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.retention = retention
        self.clock = clock
        self._lock = threading.Lock()
        self._spaces: dict[str, Workspace] = {}
        # directories left by an earlier run have no cookie anyone holds: remove them
        for p in self.root.iterdir():
            if p.is_dir() and p.name.startswith("ws-"):
                shutil.rmtree(p, ignore_errors=True)

    @staticmethod
    def _dirname(key: str) -> str:
        return "ws-" + hashlib.sha256(key.encode()).hexdigest()[:40]

    def get(self, key: str | None) -> Workspace | None:
        if not key:
            return None
        with self._lock:
            ws = self._spaces.get(key)
        if ws is not None and self.clock() - ws.created > self.retention:
            self.delete(ws)
            return None
        return ws

    def create(self) -> Workspace:
        key = secrets.token_urlsafe(32)
        path = self.root / self._dirname(key)
        (path / "uploads").mkdir(parents=True, mode=0o700)
        (path / "jobs").mkdir(mode=0o700)
        ws = Workspace(key=key, path=path, created=self.clock())
        with self._lock:
            self._spaces[key] = ws
        return ws

    def delete(self, ws: Workspace) -> None:
        with self._lock:
            self._spaces.pop(ws.key, None)
        for job in list(ws.jobs.values()):
            job.cancel()
        ws.jobs.clear()
        shutil.rmtree(ws.path, ignore_errors=True)

    def purge(self) -> int:
        """Remove every expired workspace; returns how many."""
        now = self.clock()
        with self._lock:
            old = [ws for ws in self._spaces.values() if now - ws.created > self.retention]
        for ws in old:
            self.delete(ws)
        return len(old)

    def close(self) -> None:
        with self._lock:
            spaces = list(self._spaces.values())
        for ws in spaces:
            self.delete(ws)
