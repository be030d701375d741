"""A `rima app` server in a child process on a free loopback port, for the app tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "zavkhan"


class AppServer:
    def __init__(self, tmp: Path, *args: str, env=None):
        self.log = tmp / "server.log"
        self.data_dir = tmp / "data"
        env = dict(os.environ, **(env or {}))
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self._fh = open(self.log, "wb")  # noqa: SIM115 - open while the server runs
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rima", "app", "--port", "0", "--data-dir",
             str(self.data_dir), *args], stdout=self._fh, stderr=subprocess.STDOUT, env=env)
        self.port = None
        for _ in range(600):  # bounded: at most 60 s to start
            if self.proc.poll() is not None:
                raise RuntimeError("rima app exited: " + self.log.read_text(errors="replace"))
            for line in self.log.read_text(errors="replace").splitlines():
                if '"listening"' in line:
                    self.port = json.loads(line)["port"]
            if self.port:
                break
            time.sleep(0.1)
        if not self.port:
            self.stop()
            raise RuntimeError("rima app did not start: " + self.log.read_text(errors="replace"))
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def wait_job(client, job: str, limit_s: float = 900) -> dict:
    """Poll a job until it ends (bounded: the first fit in a fresh checkout compiles)."""
    t_end = time.monotonic() + limit_s
    while time.monotonic() < t_end:
        s = client.get(f"/api/jobs/{job}").json()
        if s["state"] not in ("queued", "running"):
            return s
        time.sleep(0.5)
    raise AssertionError(f"job still running after {limit_s} s")
