"""Limits and options of one `rima app` server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rima.errors import RimaInputError


@dataclass(frozen=True)
class AppSettings:
    """data_dir : where workspaces live (one directory per analyst)
    token : access token (None: no sign-in; `rima app` allows that only on loopback)
    max_upload_bytes : largest uploaded file
    max_workspace_bytes : disk space of one analyst's workspace (uploads and results); an
        upload that would pass it is stopped while it streams, a job is not started
    retention : seconds a workspace lives after its creation (default 24 h)
    max_jobs : fits, scorings and analyses running at once (each a child process)
    job_timeout : seconds one job may run
    """

    data_dir: Path
    token: str | None = None
    max_upload_bytes: int = 200 * 1024 * 1024
    max_workspace_bytes: int = 1024 * 1024 * 1024
    retention: float = 24 * 3600.0
    max_jobs: int = 2
    job_timeout: float = 3600.0

    def __post_init__(self):
        if self.max_upload_bytes < 1 or self.max_jobs < 1 or self.max_workspace_bytes < 1:
            raise RimaInputError("max_upload_bytes, max_workspace_bytes and max_jobs must be "
                                 "positive")
        if not self.retention > 0 or not self.job_timeout > 0:
            raise RimaInputError("retention and job_timeout must be positive seconds")
