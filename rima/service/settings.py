"""Limits and options of one service instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from rima.classes import ClassScheme
from rima.errors import RimaInputError


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and options of one service instance.

    token : bearer token clients must send, or None for no authentication (the `serve`
        command allows None only on a loopback address)
    max_body_bytes : request bodies larger than this are refused with 413
    max_rows : households per request above this are refused with 413
    request_timeout : seconds for a whole request, from first byte to answer
    max_concurrent_jobs : scoring jobs running at once; more wait (within the timeout)
    max_groups : most groups (soums) one aggregate request may form
    classes : the resilience classes reported per household and counted per soum
    ci_level : confidence level of the soum-level intervals
    header_timeout : seconds for a request's line and headers to arrive (then 408, closed)
    body_timeout : longest wait for the next part of a request body (then 408)
    max_connections : connections open at once (more get 503)
    max_client_connections : connections open at once from one client address
    """

    token: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_rows: int = 20_000
    request_timeout: float = 30.0
    max_concurrent_jobs: int = 2
    max_groups: int = 1000
    classes: ClassScheme = field(default_factory=ClassScheme)
    ci_level: float = 0.95
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections: int = 64
    max_client_connections: int = 16

    def __post_init__(self):
        for name in ("header_timeout", "body_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and not isinstance(value, bool)
                    and value > 0):
                raise RimaInputError(f"{name} must be a positive number of seconds, "
                                     f"got {value!r}")
        for name in ("max_body_bytes", "max_rows", "max_concurrent_jobs", "max_groups",
                     "max_connections", "max_client_connections"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RimaInputError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.request_timeout, int | float) and self.request_timeout > 0):
            raise RimaInputError(
                f"request_timeout must be a positive number of seconds, got {self.request_timeout!r}"
            )
        if not 0 < self.ci_level < 1:
            raise RimaInputError(f"ci_level must be in (0, 1), got {self.ci_level!r}")
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise RimaInputError("token must be a non-empty string or None")
