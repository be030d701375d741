"""HTTP scoring service: saved rima models behind a small FastAPI app.

`create_app(models, settings)` builds the app from models already loaded (and checksum
verified) by `rima.load`; `rima serve` is the command that loads them and runs uvicorn.
Nothing here opens a file: requests carry their data in the body and the models live in
memory, so no request can read or write the server's file system.

Safety choices:
- A guard middleware (pure ASGI, outermost of ours) authenticates, caps the body size
  while it streams in (413 before the whole body is buffered), puts one deadline on the
  whole request (408 if the client is still sending, 503 if the work overran) and writes
  one JSON access-log line per request. The log has method, route, status, sizes, timing,
  row count and model name; never a household id or value.
- Parsing and scoring run in worker threads, at most `max_concurrent_jobs` at once, so
  the event loop keeps answering (health checks, timeouts) while a batch is scored, and
  CPU and memory stay bounded. A job cannot be interrupted midway: on timeout the client
  gets its 503 at once, a running job finishes in the background without a new one
  taking its slot, and a queued job that timed out never starts.
- Every error answer has one shape: {"error": {"status", "message", "errors": [{"field",
  "rows", "message"}]}} with 1-based row numbers (row 1 = first household sent).
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

import rima
from rima.classes import ClassScheme
from rima.errors import RimaInputError

SERVE_EXTRA_HINT = (
    "the HTTP service needs the optional 'serve' extra (FastAPI and uvicorn): "
    "pip install 'rima[serve]'"
)

try:
    import anyio
    import anyio.to_thread
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from pydantic import BaseModel, ConfigDict, Field, ValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"{SERVE_EXTRA_HINT} ({exc})") from exc

try:  # optional speed-up: JSON in and out is most of the cost of a scoring request
    import orjson
except ImportError:  # pragma: no cover - the stdlib encoder gives the same values
    orjson = None

ACCESS_LOGGER = "rima.service.access"
# routes anyone may call: liveness probes and the API description carry no data
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs"})
MAX_LISTED_ERRORS = 20
MAX_LISTED_ROWS = 50
CSV_TYPES = ("text/csv", "application/csv", "text/plain")


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
    """

    token: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_rows: int = 20_000
    request_timeout: float = 30.0
    max_concurrent_jobs: int = 2
    max_groups: int = 1000
    classes: ClassScheme = field(default_factory=ClassScheme)
    ci_level: float = 0.95

    def __post_init__(self):
        for name in ("max_body_bytes", "max_rows", "max_concurrent_jobs", "max_groups"):
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


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An answer other than 2xx; `errors` items name the field and the rows at fault."""

    def __init__(self, status: int, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


class _BodyTooLarge(Exception):
    pass


def _error_body(status: int, message: str, errors=None) -> dict:
    return {"error": {"status": status, "message": message, "errors": errors or []}}


def _item(field_name, rows, message) -> dict:
    rows = [int(r) for r in (rows or ())]
    return {"field": field_name, "rows": rows[:MAX_LISTED_ROWS], "message": message}


# --------------------------------------------------------------------------- documented shapes


class ErrorItem(BaseModel):
    field: str | None = Field(description="the field (column) at fault, if any")
    rows: list[int] = Field(description="1-based rows at fault (first 50)")
    message: str


class ErrorDetail(BaseModel):
    status: int
    message: str
    errors: list[ErrorItem]


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str
    models: int = Field(description="number of models loaded")


class ModelSummary(BaseModel):
    name: str
    version: str | None = Field(description="rima version that fitted the model")
    fingerprint: str | None = Field(description="fingerprint of the training data")
    n_variables: int


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    version: str | None
    fingerprint: str | None
    variables: list[str] = Field(description="fields every household must carry (null allowed)")
    numeric_variables: list[str] = Field(description="fields that must be numbers or null")
    id: str = Field(description="household id field")
    weight: str | None = Field(description="sampling weight field, if the model has one")
    spec: dict[str, Any]
    fit_summary: Any = Field(description="fit summary saved with the model")
    metadata: dict[str, Any]
    classes: dict[str, Any]


class HouseholdScore(BaseModel):
    model_config = ConfigDict(extra="allow")
    row: int = Field(description="1-based position in the request")
    id: Any
    ABS: float | None = None
    AST: float | None = None
    SSN: float | None = None
    AC: float | None = None
    RCI: float | None = None
    RCI_100: float | None = Field(None, description="RCI on the training 0-100 scale")
    resilience_class: str | None = Field(None, alias="class")
    status: str = Field(description='"ok", or the reason the household was not scored')
    out_of_range: bool | None = Field(
        None, description="RCI_100 outside the training range [0, 100]"
    )


class ScoreResponse(BaseModel):
    model: str
    n_households: int
    n_scored: int
    n_not_scored: int
    classes: dict[str, Any]
    households: list[HouseholdScore]


class AggregateRequest(BaseModel):
    """Options of POST /models/{name}/aggregate (besides `households`)."""

    model_config = ConfigDict(extra="forbid")
    by: str = Field("soum", description="household field to group by")
    soums: list[dict[str, Any]] | None = Field(
        None, description="optional dzud table, one object per group with the `by` field"
    )
    rank_by: str | None = Field(
        None,
        description="output or dzud-table field to rank groups by (default share_low)",
    )
    descending: bool = Field(True, description="rank 1 = largest rank_by value")
    level: float | None = Field(None, gt=0, lt=1, description="CI level (default: server's)")
    weights: bool = Field(
        True, description="weight by the spec's sampling-weight field (when it has one)"
    )


class GroupAggregate(BaseModel):
    model_config = ConfigDict(extra="allow")
    group: Any = Field(description="value of the `by` field")
    rank: int | None = Field(description="1 = first to act on; null when rank_by is null")
    n_households: int
    n_scored: int
    n_not_scored: int
    rci_100_mean: float | None
    rci_100_se: float | None
    rci_100_ci_lower: float | None
    rci_100_ci_upper: float | None
    share_low: float | None
    share_low_se: float | None
    share_low_ci_lower: float | None
    share_low_ci_upper: float | None
    est_low_households: float | None = Field(
        description="share_low x sum of weights: low-resilience households in the population"
    )
    n_low: int
    sum_weights: float
    classes: dict[str, int] = Field(description="scored households per class")
    pillar_means: dict[str, float | None]
    dzud: dict[str, Any] | None = Field(None, description="the group's row of the dzud table")


class AggregateResponse(BaseModel):
    model: str
    by: str
    level: float
    weighted: bool
    rank_by: str
    descending: bool
    classes: dict[str, Any]
    overall: dict[str, Any]
    groups: list[GroupAggregate]
    unmatched: dict[str, list[Any]] = Field(
        description="groups with households but no dzud row, and dzud rows with no households"
    )


_HOUSEHOLD_SCHEMA = {
    "type": "object",
    "description": (
        "One household: every field the model lists in `variables` (GET /models/{name}); "
        "use null for a missing value. Other fields are ignored."
    ),
    "additionalProperties": {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]},
}
_SCORE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": _HOUSEHOLD_SCHEMA}},
            "text/csv": {"schema": {"type": "string", "description": "CSV with a header row"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}
_AGGREGATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [{"$ref": "#/components/schemas/AggregateRequest"}],
                    "type": "object",
                    "required": ["households"],
                    "properties": {
                        "households": {"type": "array", "items": _HOUSEHOLD_SCHEMA},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "households CSV"},
                        "soums": {"type": "string", "format": "binary",
                                  "description": "dzud table CSV (optional)"},
                        "by": {"type": "string"},
                        "rank_by": {"type": "string"},
                        "descending": {"type": "boolean"},
                        "level": {"type": "number"},
                        "weights": {"type": "boolean"},
                    },
                    "required": ["file"],
                }
            },
        },
    }
}
_ERRORS = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "malformed body (not JSON / not CSV)",
        401: "missing or wrong bearer token",
        404: "unknown model",
        408: "the client did not send the body in time",
        413: "body or number of households over the limit",
        415: "unsupported content type",
        422: "invalid households: the field and rows are named",
        503: "the request did not finish within the time limit",
    }.items()
}


# --------------------------------------------------------------------------- app


def create_app(models: dict, settings: ServiceSettings | None = None) -> FastAPI:
    """The FastAPI app serving `models` ({name: FittedModel from `rima.load`})."""
    settings = settings or ServiceSettings()
    if not isinstance(models, dict) or not models:
        raise RimaInputError("create_app needs at least one model: {name: FittedModel}")
    for name in models:
        if not isinstance(name, str) or not name or "/" in name:
            raise RimaInputError(f"model name {name!r} must be a non-empty string without '/'")
    for model in models.values():
        _warm_up(model)
    return _make_app(models, settings)


def openapi_document() -> dict:
    """The OpenAPI description (it does not depend on the models loaded).

    docs/openapi.json is this, written by `python -m rima.service > docs/openapi.json`.
    """
    return _make_app({}, ServiceSettings()).openapi()


def _make_app(models: dict, settings: ServiceSettings) -> FastAPI:
    run_job = _JobRunner(settings.max_concurrent_jobs)
    app = FastAPI(
        title="rima scoring service",
        version=rima.__version__,
        description=(
            "RIMA-II household resilience scores from saved rima models: pillar scores, "
            "RCI, RCI_100 and resilience class per household; soum-level summaries with "
            "confidence intervals, optionally joined with a dzud table and ranked. "
            "Send `Authorization: Bearer <token>` when the server has a token."
        ),
        redoc_url=None,
        openapi_tags=[{"name": "models"}, {"name": "scoring"}, {"name": "service"}],
    )
    app.state.models = dict(models)
    app.state.settings = settings
    app.add_middleware(_Guard, settings=settings)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _json(exc.status, _error_body(exc.status, exc.message, exc.errors))

    @app.exception_handler(_BodyTooLarge)
    async def _too_large(request: Request, exc: _BodyTooLarge):
        return _too_large_response(settings)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return _json(exc.status_code, _error_body(exc.status_code, message), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        items = [_item(".".join(map(str, e.get("loc", ()))), [], e.get("msg", "")) for e in exc.errors()]
        return _json(422, _error_body(422, "invalid request", items))

    @app.get("/health", response_model=Health, tags=["service"])
    async def health():
        """Liveness: no authentication, no data."""
        return {"status": "ok", "version": rima.__version__, "models": len(app.state.models)}

    @app.get("/models", response_model=list[ModelSummary], tags=["models"], responses=_ERRORS)
    async def list_models():
        """The models this server was started with."""
        return [_model_summary(n, m) for n, m in app.state.models.items()]

    @app.get("/models/{name}", response_model=ModelInfo, tags=["models"], responses=_ERRORS)
    async def model_info(name: str):
        """Spec, expected variables, version, training fingerprint and fit summary."""
        return _json(200, _model_info(name, _get_model(app, name), settings))

    @app.post(
        "/models/{name}/score",
        response_model=ScoreResponse,
        tags=["scoring"],
        responses={
            200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                  "description": "JSON, or CSV with Accept: text/csv"},
            **_ERRORS,
        },
        openapi_extra=_SCORE_BODY,
    )
    async def score(name: str, request: Request):
        """Score households sent as a JSON array, a CSV body or a CSV file upload.

        Every household comes back, in order: scored ones with status "ok", others with
        the reason (e.g. "missing value in hay_reserve_t") and null scores. With
        `Accept: text/csv` the households come back as a CSV table (same columns; empty
        cells for null).
        """
        model = _get_model(app, name)
        ctype = _content_type(request)
        body = await _read_body(request, ctype, ("json", "csv", "multipart"))
        request.state.model = name
        # parsing, checking and scoring all run off the event loop, within the job limit
        as_csv = _wants_csv(request)
        n, payload = await run_job(
            _score_job, name, model, ctype, request.headers.get("content-type", ""), body, settings,
            as_csv,
        )
        request.state.rows = n
        return Response(payload, media_type="text/csv" if as_csv else "application/json")

    @app.post(
        "/models/{name}/aggregate",
        response_model=AggregateResponse,
        tags=["scoring"],
        responses=_ERRORS,
        openapi_extra=_AGGREGATE_BODY,
    )
    async def aggregate(name: str, request: Request):
        """Soum-level (or any `by` field) summary of scored households.

        Per group: households sent, scored and not scored; weighted mean RCI_100 with its
        standard error and confidence interval; weighted share of low-resilience
        households with CI; counts by class. With `soums` (a dzud table) each group is
        joined with its row; groups are ranked by `rank_by`.

        JSON: {"households": [...], "soums": [...], "by": ..., ...}. Or multipart: the
        households CSV in `file`, the dzud table CSV in `soums` (optional) and the other
        options as form fields (`-F by=soum -F rank_by=mortality_pct`).
        """
        model = _get_model(app, name)
        ctype = _content_type(request)
        body = await _read_body(request, ctype, ("json", "multipart"))
        request.state.model = name
        n, payload = await run_job(
            _aggregate_job, name, model, ctype, request.headers.get("content-type", ""), body,
            settings,
        )
        request.state.rows = n
        return Response(payload, media_type="application/json")

    return app


class _JobRunner:
    """Run blocking jobs in threads, at most `n` at once, even counting abandoned ones.

    anyio's limiter frees a slot as soon as the awaiting request is cancelled, while the
    thread goes on; this gate is held by the thread itself, so timed-out work can never
    pile up beyond `n` busy threads.
    """

    def __init__(self, n: int):
        self.gate = threading.BoundedSemaphore(n)

    async def __call__(self, fn, *args):
        cancelled = threading.Event()

        def job():
            with self.gate:
                if cancelled.is_set():  # the request gave up while this job was queued
                    return None
                return fn(*args)

        try:
            return await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
        finally:
            cancelled.set()


def _warm_up(model) -> None:
    """Load compiled kernels and the aggregation code now, not on the first request."""
    # import cost (scipy.stats, pandas machinery) paid at start
    import rima.analysis.targeting
    import rima.profiles  # noqa: F401

    row = pd.DataFrame({c: [np.nan] for c in _required(model)})
    row[model.spec.id] = ["warm-up"]
    model.score(row)


def _get_model(app, name: str):
    try:
        return app.state.models[name]
    except KeyError:
        known = ", ".join(sorted(app.state.models))
        raise ApiError(404, f"no model named {name!r}; loaded models: {known}") from None


def _json(status: int, body, headers=None) -> Response:
    return Response(_dumps(body), status_code=status, media_type="application/json", headers=headers)


def _dumps(body) -> bytes:
    # both encoders write floats as shortest round-trip decimals, so a client parsing the
    # answer gets bit-identical float64 values (the equality-with-batch guarantee)
    if orjson is not None:
        return orjson.dumps(body, default=_jsonable, option=orjson.OPT_NON_STR_KEYS)
    return json.dumps(body, allow_nan=False, separators=(",", ":"), default=_jsonable).encode()


def _jsonable(value):
    """json.dumps fallback for numpy scalars, paths, timestamps, tuples in metadata."""
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if isinstance(value, np.ndarray):
        return [_jsonable(v) if isinstance(v, np.generic) else v for v in value.tolist()]
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records"))
    return str(value)


def _clean(value):
    """Metadata made JSON-safe: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


# --------------------------------------------------------------------------- model description


def _metadata(model) -> dict:
    meta = getattr(model, "metadata", None) or {}
    if not isinstance(meta, dict):
        meta = dict(getattr(meta, "__dict__", {}))
    return meta


def _required(model) -> list[str]:
    cols = getattr(model, "required_columns", None)
    if cols is None:
        cols = model.spec.required_columns
    return [str(c) for c in cols]


def _model_summary(name: str, model) -> dict:
    meta = _metadata(model)
    return {
        "name": name,
        "version": _str_or_none(meta.get("version") or meta.get("rima_version")),
        "fingerprint": _str_or_none(meta.get("training_fingerprint", meta.get("fingerprint"))),
        "n_variables": len(_required(model)),
    }


def _model_info(name: str, model, settings: ServiceSettings) -> dict:
    spec = model.spec
    meta = _metadata(model)
    required = _required(model)
    numeric = [c for c in spec.numeric_columns if c in required]
    fit_summary = meta.get("fit_summary", meta.get("fit"))
    return _clean({
        **_model_summary(name, model),
        "variables": required,
        "numeric_variables": numeric,
        "id": spec.id,
        "weight": spec.weight,
        "spec": spec.to_dict(),
        "fit_summary": fit_summary,
        # the training file's path says nothing a client needs about the model
        "metadata": json.loads(_dumps({k: v for k, v in meta.items() if k != "source"})),
        "classes": settings.classes.to_dict(),
    })


def _str_or_none(v):
    return None if v is None else str(v)


# --------------------------------------------------------------------------- reading households


def _kind(ctype: str) -> str | None:
    if ctype == "application/json" or ctype.endswith("+json"):
        return "json"
    if ctype in CSV_TYPES:
        return "csv"
    if ctype == "multipart/form-data":
        return "multipart"
    return None


async def _read_body(request: Request, ctype: str, accepted: tuple[str, ...]) -> bytes:
    """The body, after checking its content type is one the endpoint takes (else 415)."""
    if _kind(ctype) not in accepted:
        if "csv" not in accepted:
            raise ApiError(
                415,
                f"unsupported Content-Type {ctype or 'none'!r}: send application/json, or "
                "multipart/form-data with the households CSV in the field 'file'",
            )
        raise ApiError(
            415,
            f"unsupported Content-Type {ctype or 'none'!r}: send application/json (an array of "
            "households), text/csv, or multipart/form-data with a CSV in the field 'file'",
        )
    return await request.body()


def _parse_json(body: bytes):
    def _reject(constant):
        raise ValueError(f"{constant} is not a JSON number; send null for a missing value")

    if orjson is not None:
        try:
            return orjson.loads(body)  # strict JSON, several times faster than json
        except orjson.JSONDecodeError:
            pass  # parse again below for the stdlib's clearer message
    try:
        return json.loads(body, parse_constant=_reject)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _households_from_body(ctype: str, full_ctype: str, body: bytes, model, settings):
    kind = _kind(ctype)
    if kind == "json":
        return _households_frame(_parse_json(body), model, settings)
    if kind == "multipart":
        body = _multipart_file(body, full_ctype)
    return _csv_frame(body, model, settings)


def _multipart_file(body: bytes, content_type: str) -> bytes:
    parts = _multipart_parts(body, content_type)
    if "file" not in parts:
        raise _no_file(parts)
    return parts["file"]


def _no_file(parts: dict) -> ApiError:
    return ApiError(
        422,
        "the multipart body has no field 'file' (fields sent: "
        f"{', '.join(repr(n) for n in parts) or 'none'}); upload the CSV as file=@households.csv",
        [_item("file", [], "required multipart field")],
    )


def _csv_records(content: bytes, what: str) -> list[dict]:
    try:
        df = pd.read_csv(io.BytesIO(content))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"{what}: not a readable CSV: {exc}") from None
    df.columns = [str(c) for c in df.columns]
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()}
            for row in df.astype(object).to_dict("records")]


def _multipart_parts(body: bytes, content_type: str) -> dict[str, bytes]:
    """{field name: content} of a multipart body, parsed in memory.

    Starlette's form parser spools uploads over 1 MB to temporary files; the stdlib MIME
    parser keeps everything in memory, and the body is already capped by max_body_bytes.
    """
    from email.parser import BytesParser
    from email.policy import HTTP

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ApiError(400, "the multipart body could not be parsed (check the boundary)")
    parts: dict[str, bytes] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is not None and name not in parts:
            parts[str(name)] = part.get_payload(decode=True) or b""
    return parts


def _csv_frame(content: bytes, model, settings: ServiceSettings) -> pd.DataFrame:
    # read exactly as `rima score` reads a .csv file (rima.io.read_table -> pd.read_csv),
    # so both see the same values
    if not content.strip():
        raise ApiError(422, "the CSV is empty: send a header row and one row per household")
    try:
        df = pd.read_csv(io.BytesIO(content))
        df.columns = [str(c) for c in df.columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the body is not a readable CSV: {exc}") from None
    if len(df) > settings.max_rows:
        raise ApiError(413, _rows_message(len(df), settings))
    if len(df) == 0:
        raise ApiError(422, "the CSV has a header but no households")
    _check_frame(df, model)
    return df


def _rows_message(n: int, settings: ServiceSettings) -> str:
    return (
        f"{n} households in one request; the limit is {settings.max_rows}: split the batch"
    )


def _households_frame(rows, model, settings: ServiceSettings, extra=()) -> pd.DataFrame:
    """JSON households -> DataFrame, naming the row and field of every problem.

    A field the model needs must be present in every household (null for a missing
    value, which the household's status then reports); absent keys are an error, since
    they are usually a misspelt field name rather than a missing answer.
    """
    if not isinstance(rows, list):
        raise ApiError(422, "the households must be a JSON array of objects, one per household")
    if len(rows) > settings.max_rows:
        raise ApiError(413, _rows_message(len(rows), settings))
    if not rows:
        raise ApiError(422, "no households were sent (empty array)")
    required = list(dict.fromkeys([*_required(model), *extra]))
    needed = set(required)
    errors: list[dict] = []
    absent: dict[str, list[int]] = {}
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            errors.append(_item(None, [i], f"row {i}: expected a JSON object, got {_json_type(row)}"))
        elif not needed.issubset(row.keys()):
            for name in needed.difference(row.keys()):
                absent.setdefault(name, []).append(i)
        if len(errors) >= MAX_LISTED_ERRORS:
            break
    for name in required:
        if name in absent:
            rs = absent[name]
            where = "every household" if len(rs) == len(rows) else f"row(s) {_rows_text(rs)}"
            errors.append(_item(
                name, rs,
                f"field {name!r} is missing from {where}; send null for a missing value"
                f"{_near(name, rows)}",
            ))
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])
    df = pd.DataFrame.from_records(rows, columns=required)
    numeric = set(model.spec.numeric_columns)
    for name in required:
        col = df[name]
        if name in numeric:
            if col.dtype.kind in "iuf":
                continue
            bad = [i for i, v in enumerate(col.tolist(), 1) if not _is_number_or_null(v)]
            if bad:
                first = col.iloc[bad[0] - 1]
                errors.append(_item(
                    name, bad,
                    f"field {name!r} must be a number or null; row(s) {_rows_text(bad)} "
                    f"(first: {json.dumps(first)})",
                ))
            else:
                df[name] = pd.to_numeric(col).astype(float)
        elif col.dtype == object:
            bad = [i for i, v in enumerate(col.tolist(), 1) if isinstance(v, (dict, list, bool))]
            if bad:
                errors.append(_item(
                    name, bad,
                    f"field {name!r} must be a string, a number or null; row(s) {_rows_text(bad)}",
                ))
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])
    _check_frame(df, model)
    return df


def _is_number_or_null(v) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _json_type(v) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number"
    )


def _near(name: str, rows: list) -> str:
    import difflib

    seen = set()
    for row in rows[:50]:
        if isinstance(row, dict):
            seen.update(map(str, row))
    seen.discard(name)
    match = difflib.get_close_matches(name, sorted(seen), n=1, cutoff=0.75)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _rows_text(rows) -> str:
    rows = list(rows)
    shown = ", ".join(map(str, rows[:10]))
    return shown + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")


# kinds of rima.validate issues that make a batch unscorable; the others (constant or
# all-missing columns, no usable rows) describe a training sample, not a scoring batch,
# whose rows get their own status instead
_BLOCKING = {
    "duplicate_column", "missing_column", "non_numeric", "infinite", "missing_id",
    "duplicate_id", "negative_weight",
}


def _check_frame(df: pd.DataFrame, model) -> None:
    """422 naming field and rows if rima.validate finds a blocking problem.

    The full validation also builds per-variable summaries, most of a small request's
    cost; a batch that passes the cheap checks below cannot have a blocking issue, so
    only a suspect batch pays for the complete, well-worded report.
    """
    if _plainly_valid(df, model):
        return
    from rima.validate import validate

    report = validate(df, model.spec)
    required = set(_required(model))
    errors = [
        _item(e.column, e.rows, e.message)
        for e in report.errors
        if e.kind in _BLOCKING and (e.kind != "missing_column" or e.column in required)
    ]
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])


def _plainly_valid(df: pd.DataFrame, model) -> bool:
    spec = model.spec
    cols = set(map(str, df.columns))
    if len(cols) != df.shape[1] or not set(_required(model)) <= cols:
        return False
    for c in spec.numeric_columns:
        if c not in cols:
            continue
        if df[c].dtype.kind not in "iufb":
            return False
        if df[c].dtype.kind == "f" and np.isinf(df[c].to_numpy()).any():
            return False
    ids = df[spec.id]
    if ids.isna().any() or ids.duplicated().any():
        return False
    if spec.weight and spec.weight in cols:
        w = df[spec.weight].to_numpy(dtype=float, na_value=np.nan)
        if (w < 0).any():
            return False
    return True


# --------------------------------------------------------------------------- scoring


def _score(model, frame: pd.DataFrame, settings: ServiceSettings) -> pd.DataFrame:
    """model.score plus the resilience class; one row per household, in order."""
    try:
        scores = model.score(frame)
    except RimaInputError as exc:
        raise ApiError(422, str(exc)) from None
    if len(scores) != len(frame):
        raise RuntimeError(
            f"model.score returned {len(scores)} rows for {len(frame)} households"
        )
    scores = scores.reset_index(drop=True)
    ok = (scores["status"] == "ok").to_numpy()
    rci = scores["RCI_100"].to_numpy(dtype=float, na_value=np.nan)
    classes = settings.classes.classify(np.where(ok, rci, np.nan))
    labels = np.asarray(classes.astype(object), dtype=object)
    labels[classes.isna()] = None
    scores["class"] = labels
    return scores


def _float_list(values) -> list:
    arr = np.asarray(values, dtype=float)
    out = arr.tolist()
    if np.isnan(arr).any():
        out = [None if math.isnan(v) else v for v in out]
    return out


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "text/csv" in accept and "application/json" not in accept


def _score_payload(name, model, frame, settings, as_csv=False) -> bytes:
    scores = _score(model, frame, settings)
    spec = model.spec
    n = len(scores)
    ids = frame[spec.id].tolist()
    cols: dict[str, list] = {"row": list(range(1, n + 1)), "id": ids}
    for col in (*spec.pillar_names, "RCI", "RCI_100"):
        cols[col] = _float_list(scores[col])
    cols["class"] = [v if isinstance(v, str) else None for v in scores["class"].tolist()]
    cols["status"] = scores["status"].astype(str).tolist()
    if "out_of_range" in scores:
        flag = scores["out_of_range"]
        cols["out_of_range"] = [None if pd.isna(v) else bool(v) for v in flag.tolist()]
    if as_csv:
        # pandas writes floats as shortest round-trip decimals, like the JSON answer
        return pd.DataFrame(cols).to_csv(index=False, lineterminator="\n").encode()
    keys = list(cols)
    households = [dict(zip(keys, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    n_ok = int((scores["status"] == "ok").sum())
    return _dumps({
        "model": name,
        "n_households": n,
        "n_scored": n_ok,
        "n_not_scored": n - n_ok,
        "classes": settings.classes.to_dict(),
        "households": households,
    })


def _score_job(name, model, ctype, full_ctype, body, settings, as_csv) -> tuple[int, bytes]:
    frame = _households_from_body(ctype, full_ctype, body, model, settings)
    return len(frame), _score_payload(name, model, frame, settings, as_csv)


def _aggregate_job(name, model, ctype, full_ctype, body, settings) -> tuple[int, bytes]:
    if _kind(ctype) == "multipart":
        parts = _multipart_parts(body, full_ctype)
        if "file" not in parts:
            raise _no_file(parts)
        households = parts.pop("file")
        request = {k: v.decode("utf-8", "replace") for k, v in parts.items() if k != "soums"}
        if "soums" in parts:
            request["soums"] = _csv_records(parts["soums"], "soums")
    else:
        request = _parse_json(body)
        if not isinstance(request, dict) or "households" not in request:
            raise ApiError(422, 'the body must be a JSON object with a "households" array')
        households = request.pop("households")
    try:
        options = AggregateRequest.model_validate(request)
    except ValidationError as exc:
        items = []
        for e in exc.errors():
            where = ".".join(map(str, e["loc"]))
            items.append(_item(where, [], f"{where}: {e['msg']}"))
        raise ApiError(422, items[0]["message"], items) from None
    weight = model.spec.weight if options.weights else None
    extra = (options.by,) + ((weight,) if weight else ())
    if isinstance(households, bytes):
        frame = _csv_frame(households, model, settings)
        for col in extra:
            if col not in frame.columns:
                raise ApiError(422, f"the households CSV has no column {col!r}",
                               [_item(col, [], "column missing")])
    else:
        frame = _households_frame(households, model, settings, extra=extra)
    scores = _score(model, frame, settings)
    return len(frame), _dumps(aggregate_scores(name, model, frame, scores, options, settings))


_STAT_FIELDS = (
    "rci_100_mean", "rci_100_se", "rci_100_ci_lower", "rci_100_ci_upper",
    "share_low", "share_low_se", "share_low_ci_lower", "share_low_ci_upper",
    "est_low_households",
)
_RANKABLE = (
    "share_low", "share_low_se", "share_low_ci_lower", "share_low_ci_upper", "n_low",
    "est_low_households", "rci_100_mean", "rci_100_se", "rci_100_ci_lower", "rci_100_ci_upper",
    "n_households", "n_scored", "n_not_scored", "sum_weights",
)


def aggregate_scores(name, model, frame, scores, options: AggregateRequest, settings) -> dict:
    """Group-level summary of scored households (see the aggregate endpoint).

    Mean RCI_100, its standard error and interval come from `rima.profiles.profile_table`
    (the profile tables of `rima fit`); the low-resilience share, its SE, interval and
    the estimated number of low-resilience households from the soum table of
    `rima.analysis.targeting.target` (`rima target`), so the service and the batch
    commands report the same numbers.
    """
    from rima.profiles import MISSING_LABEL, profile_table

    spec = model.spec
    by = options.by
    level = options.level if options.level is not None else settings.ci_level
    weights = None
    if spec.weight and options.weights:
        weights = frame[spec.weight].to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(np.isnan(weights)) + 1
        if bad.size:
            raise ApiError(422, (
                f"field {spec.weight!r} (sampling weight) is null at row(s) {_rows_text(bad)}; "
                'aggregates are weighted: send every weight, or "weights": false'
            ), [_item(spec.weight, bad, "missing sampling weight")])
    groups = frame[by].astype(object).where(frame[by].notna(), MISSING_LABEL)
    if groups.map(lambda v: isinstance(v, float)).any():
        # 3 and 3.0 are the same soum code; JSON numbers come back as floats when mixed
        groups = groups.map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)
    n_groups = groups.nunique()
    if n_groups > settings.max_groups:
        raise ApiError(422, (
            f"grouping by {by!r} makes {n_groups} groups; the limit is {settings.max_groups} "
            "(group by soum or aimag, not by household)"
        ), [_item(by, [], "too many groups")])
    ok = (scores["status"] == "ok").to_numpy()

    def summarise(g: pd.Series) -> dict:
        rci = profile_table(scores, g, list(spec.pillar_names), weights, level=level)
        low = _low_share_table(scores, g, weights, level, settings) if ok.any() else None
        out = {}
        for key in pd.unique(g.to_numpy()):
            m = (g == key).to_numpy()
            counts = scores.loc[m & ok, "class"].value_counts()
            out[key] = {
                "group": key,
                "rank": None,
                "n_households": int(m.sum()),
                "n_scored": int((m & ok).sum()),
                "n_not_scored": int((m & ~ok).sum()),
                "n_low": int(counts.get(settings.classes.lowest, 0)),
                "classes": {lab: int(counts.get(lab, 0)) for lab in settings.classes.labels},
                "sum_weights": 0.0,
                **dict.fromkeys(_STAT_FIELDS),
                "pillar_means": dict.fromkeys(spec.pillar_names),
            }
        for rec in rci.to_dict("records"):
            entry = out[rec["category"]]
            entry.update({
                "sum_weights": rec["sum_weights"], "rci_100_mean": rec["mean_RCI_100"],
                "rci_100_se": rec["se"], "rci_100_ci_lower": rec["ci_lower"],
                "rci_100_ci_upper": rec["ci_upper"],
                "pillar_means": {p: rec[f"mean_{p}"] for p in spec.pillar_names},
            })
        if low is not None:
            for key, entry in out.items():
                if entry["n_scored"] and str(key) in low.index:
                    row = low.loc[str(key)]
                    entry.update({
                        "share_low": row["share_low"], "share_low_se": row["se"],
                        "share_low_ci_lower": row["ci_lower"],
                        "share_low_ci_upper": row["ci_upper"],
                        "est_low_households": row["est_low_households"],
                    })
        return out

    per_group = summarise(groups)
    overall = summarise(pd.Series(["all"] * len(frame)))["all"]
    overall.pop("rank")
    overall.pop("group")

    unmatched = {"groups_not_in_table": [], "table_rows_without_households": []}
    table_fields: list[str] = []
    if options.soums is not None:
        table = _dzud_table(options.soums, by)
        table_fields = sorted({k for row in table.values() for k in row})
        for key in per_group:
            per_group[key]["dzud"] = table.get(key)
            if key not in table:
                unmatched["groups_not_in_table"].append(key)
        for key, row in table.items():
            if key not in per_group:
                unmatched["table_rows_without_households"].append(key)
                per_group[key] = {
                    "group": key, "rank": None, "n_households": 0, "n_scored": 0,
                    "n_not_scored": 0, "n_low": 0,
                    "classes": {lab: 0 for lab in settings.classes.labels}, "sum_weights": 0.0,
                    **dict.fromkeys(_STAT_FIELDS),
                    "pillar_means": dict.fromkeys(spec.pillar_names), "dzud": row,
                }

    rank_by = options.rank_by or "share_low"
    if rank_by not in _RANKABLE and rank_by not in table_fields:
        allowed = ", ".join([*_RANKABLE, *table_fields])
        raise ApiError(422, f"rank_by {rank_by!r} is not a group field; use one of: {allowed}",
                       [_item("rank_by", [], "unknown field")])
    groups_out = _rank(list(per_group.values()), rank_by, options.descending)
    return _clean({
        "model": name,
        "by": by,
        "level": level,
        "weighted": weights is not None,
        "rank_by": rank_by,
        "descending": options.descending,
        "classes": settings.classes.to_dict(),
        "overall": overall,
        "groups": groups_out,
        "unmatched": unmatched,
    })


def _low_share_table(scores, groups, weights, level, settings) -> pd.DataFrame:
    """rima target's soum table for these households, indexed by str(group)."""
    from rima.analysis.targeting import target

    frame = pd.DataFrame({
        "_id": np.arange(len(scores)),
        "_group": groups.astype(str).to_numpy(),
        "RCI_100": scores["RCI_100"].where(scores["status"] == "ok").to_numpy(dtype=float),
        "status": scores["status"].to_numpy(),
    })
    if weights is not None:
        frame["_weight"] = weights
    t = target(
        frame, thresholds=settings.classes.thresholds, labels=settings.classes.labels,
        weight="_weight" if weights is not None else None, id="_id", soum_col="_group",
        level=level,
    )
    return t.soums.set_index("_group")


def _rank_value(entry: dict, field_name: str):
    v = entry.get(field_name)
    if v is None and isinstance(entry.get("dzud"), dict):
        v = entry["dzud"].get(field_name)
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


def _rank(entries: list[dict], field_name: str, descending: bool) -> list[dict]:
    """Rank 1 = first to act on; groups without a value come last, unranked.

    Ties are broken by lower mean RCI_100 first, then by group name, so the order is
    deterministic.
    """
    def key(e):
        v = _rank_value(e, field_name)
        mean = e.get("rci_100_mean")
        mean = math.inf if mean is None or math.isnan(mean) else mean
        return (v is None, 0.0 if v is None else (-v if descending else v), mean, str(e["group"]))

    ordered = sorted(entries, key=key)
    rank = 0
    for e in ordered:
        if _rank_value(e, field_name) is not None:
            rank += 1
            e["rank"] = rank
    return ordered


def _dzud_table(rows, by: str) -> dict:
    """{group: row without the key} from the posted dzud table, naming bad rows."""
    errors = []
    table: dict = {}
    for i, row in enumerate(rows, 1):
        if by not in row:
            errors.append(_item(f"soums.{by}", [i], f"soums row {i}: the field {by!r} is missing"))
            continue
        key = row[by]
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if not isinstance(key, str | int) or isinstance(key, bool):
            errors.append(_item(f"soums.{by}", [i],
                                f"soums row {i}: {by!r} must be a string or an integer"))
            continue
        if key in table:
            errors.append(_item(f"soums.{by}", [i], f"soums row {i}: {by} {key!r} appears twice"))
            continue
        bad = [k for k, v in row.items() if isinstance(v, dict | list)]
        if bad:
            errors.append(_item(f"soums.{bad[0]}", [i],
                                f"soums row {i}: field {bad[0]!r} must be a number, string or null"))
            continue
        table[key] = {k: v for k, v in row.items() if k != by}
    if errors:
        raise ApiError(422, errors[0]["message"], errors[:MAX_LISTED_ERRORS])
    return table


# --------------------------------------------------------------------------- guard middleware


def _too_large_response(settings: ServiceSettings) -> Response:
    msg = f"request body over the limit of {settings.max_body_bytes} bytes: split the batch"
    return _json(413, _error_body(413, msg))


class _Guard:
    """Auth, body-size cap, request deadline and access log for every HTTP request."""

    def __init__(self, app, settings: ServiceSettings):
        self.app = app
        self.settings = settings
        self.log = logging.getLogger(ACCESS_LOGGER)
        self.token = settings.token.encode() if settings.token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {})
        ctx = {"status": None, "bytes_in": 0, "bytes_out": 0, "body_done": False}
        limit = self.settings.max_body_bytes

        async def guarded_receive():
            message = await receive()
            if message["type"] == "http.request":
                ctx["bytes_in"] += len(message.get("body", b""))
                if ctx["bytes_in"] > limit:
                    raise _BodyTooLarge()
                if not message.get("more_body", False):
                    ctx["body_done"] = True
            return message

        async def logged_send(message):
            if message["type"] == "http.response.start":
                ctx["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                ctx["bytes_out"] += len(message.get("body", b""))
            await send(message)

        try:
            early = self._precheck(scope)
            if early is not None:
                await early(scope, receive, logged_send)
            else:
                with anyio.fail_after(self.settings.request_timeout):
                    await self.app(scope, guarded_receive, logged_send)
        except TimeoutError:
            if ctx["status"] is None:
                if ctx["body_done"] or _no_body(scope):
                    status, msg = 503, (
                        f"the request did not finish within {self.settings.request_timeout:g} s; "
                        "send fewer households per request or retry later"
                    )
                else:
                    status, msg = 408, (
                        f"the request body was not received within "
                        f"{self.settings.request_timeout:g} s"
                    )
                await _json(status, _error_body(status, msg), {"connection": "close"})(
                    scope, receive, logged_send
                )
        except _BodyTooLarge:
            if ctx["status"] is None:
                await _too_large_response(self.settings)(scope, receive, logged_send)
        except Exception as exc:  # noqa: BLE001 - answer 500 in our shape, log without data
            state["error"] = _where(exc)
            if ctx["status"] is None:
                await _json(500, _error_body(500, "internal error; see the server log"))(
                    scope, receive, logged_send
                )
        finally:
            self._log(scope, state, ctx, request_id, start)

    def _precheck(self, scope):
        """An immediate answer (401, 413) or None to go on."""
        headers = dict(scope.get("headers") or [])
        if self.token is not None and scope["path"] not in PUBLIC_PATHS:
            auth = headers.get(b"authorization", b"")
            scheme, _, given = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                reason = "missing" if not auth else "invalid"
                return _json(
                    401,
                    _error_body(401, f"{reason} bearer token: send 'Authorization: Bearer <token>'"),
                    {"www-authenticate": 'Bearer realm="rima"'},
                )
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.settings.max_body_bytes
            except ValueError:
                return _json(400, _error_body(400, "invalid Content-Length header"))
            if too_big:
                return _too_large_response(self.settings)
        return None

    def _log(self, scope, state, ctx, request_id, start):
        route = scope.get("route")
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": "access",
            "request_id": request_id,
            "method": scope.get("method"),
            # the route template when routed; the raw path (never the query) otherwise
            "path": getattr(route, "path", None) or scope.get("path", "")[:200],
            "model": state.get("model"),
            "status": ctx["status"],
            "duration_ms": round((time.perf_counter() - start) * 1000, 2),
            "bytes_in": ctx["bytes_in"],
            "bytes_out": ctx["bytes_out"],
            "households": state.get("rows"),
            "client": (scope.get("client") or [None])[0],
        }
        if "error" in state:
            entry["error"] = state["error"]
        self.log.info(json.dumps(entry, separators=(",", ":")))


def _no_body(scope) -> bool:
    return scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE")


def _where(exc: BaseException) -> str:
    """Exception type and innermost frame: enough to find the bug, no data values."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    loc = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(exc).__name__}{loc}"


if __name__ == "__main__":
    print(json.dumps(openapi_document(), indent=2, ensure_ascii=False))
