"""The one error shape of the service.

Every answer other than 2xx has the body {"error": {"status", "message", "errors":
[{"field", "rows", "message"}]}} with 1-based row numbers (row 1 = first household sent).
"""

from __future__ import annotations

MAX_LISTED_ERRORS = 20
MAX_LISTED_ROWS = 50


class ApiError(Exception):
    """An answer other than 2xx; `errors` items name the field and the rows at fault."""

    def __init__(self, status: int, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


class BodyTooLarge(Exception):
    pass


def error_body(status: int, message: str, errors=None) -> dict:
    return {"error": {"status": status, "message": message, "errors": errors or []}}


def item_error(field_name, rows, message) -> dict:
    rows = [int(r) for r in (rows or ())]
    return {"field": field_name, "rows": rows[:MAX_LISTED_ROWS], "message": message}
