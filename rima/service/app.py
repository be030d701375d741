"""The FastAPI app: routes, error handlers and the bounded job runner."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

import rima
from rima.errors import RimaInputError
from rima.service.describe import describe_model, model_columns, model_summary
from rima.service.encoding import json_response
from rima.service.errors import ApiError, BodyTooLarge, error_body, item_error
from rima.service.middleware import Guard, too_large_response
from rima.service.parsing import read_body, request_content_type
from rima.service.schemas import (
    AGGREGATE_BODY,
    ERROR_RESPONSES,
    SCORE_BODY,
    AggregateResponse,
    Health,
    ModelInfo,
    ModelSummary,
    ScoreResponse,
)
from rima.service.scoring import aggregate_job, score_job
from rima.service.settings import ServiceSettings


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
    run_job = JobRunner(settings.max_concurrent_jobs)
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
        docs_url=None,  # served below from this package, not from a CDN
        openapi_tags=[{"name": "models"}, {"name": "scoring"}, {"name": "service"}],
    )
    app.state.models = dict(models)
    app.state.settings = settings
    app.add_middleware(Guard, settings=settings)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return json_response(exc.status, error_body(exc.status, exc.message, exc.errors))

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge):
        return too_large_response(settings)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return json_response(exc.status_code, error_body(exc.status_code, message), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        items = [item_error(".".join(map(str, e.get("loc", ()))), [], e.get("msg", "")) for e in exc.errors()]
        return json_response(422, error_body(422, "invalid request", items))

    @app.get("/docs", include_in_schema=False)
    async def docs_page():
        from fastapi.responses import HTMLResponse

        from rima.service.docs_page import docs_html

        return HTMLResponse(docs_html(app.openapi()))

    @app.get("/health", response_model=Health, tags=["service"])
    async def health():
        """Liveness: no authentication, no data."""
        return {"status": "ok", "version": rima.__version__, "models": len(app.state.models)}

    @app.get("/models", response_model=list[ModelSummary], tags=["models"], responses=ERROR_RESPONSES)
    async def list_models():
        """The models this server was started with."""
        return [model_summary(n, m) for n, m in app.state.models.items()]

    @app.get("/models/{name}", response_model=ModelInfo, tags=["models"], responses=ERROR_RESPONSES)
    async def model_info(name: str):
        """Spec, expected variables, version, training fingerprint and fit summary."""
        return json_response(200, describe_model(name, _get_model(app, name), settings))

    @app.post(
        "/models/{name}/score",
        response_model=ScoreResponse,
        tags=["scoring"],
        responses={
            200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                  "description": "JSON, or CSV with Accept: text/csv"},
            **ERROR_RESPONSES,
        },
        openapi_extra=SCORE_BODY,
    )
    async def score(name: str, request: Request):
        """Score households sent as a JSON array, a CSV body or a CSV file upload.

        Every household comes back, in order: scored ones with status "ok", others with
        the reason (e.g. "missing value in hay_reserve_t") and null scores. With
        `Accept: text/csv` the households come back as a CSV table (same columns; empty
        cells for null).
        """
        model = _get_model(app, name)
        ctype = request_content_type(request)
        body = await read_body(request, ctype, ("json", "csv", "multipart"))
        request.state.model = name
        # parsing, checking and scoring all run off the event loop, within the job limit
        as_csv = _wants_csv(request)
        n, payload = await run_job(
            score_job, name, model, ctype, request.headers.get("content-type", ""), body, settings,
            as_csv,
        )
        request.state.rows = n
        return Response(payload, media_type="text/csv" if as_csv else "application/json")

    @app.post(
        "/models/{name}/aggregate",
        response_model=AggregateResponse,
        tags=["scoring"],
        responses=ERROR_RESPONSES,
        openapi_extra=AGGREGATE_BODY,
    )
    async def aggregate(name: str, request: Request):
        """Soum-level (or any `by` field) summary of scored households.

        Per group: households sent, scored and not scored; weighted mean RCI_100 with its
        standard error and confidence interval; weighted share of low-resilience
        households with CI; counts by class. With `soums` (a dzud table) each group is
        joined with its row; groups are ranked by `rank_by`.

        JSON: {"households": [...], "soums": [...], "by": ..., ...}. Or multipart: the
        households CSV in `file`, the dzud table CSV in `soums` (optional) and the other
        options as form fields (`-F by=soum -F rank_by=mortality_pct`). With
        `Accept: text/csv` the groups come back as a CSV table (nested fields flattened).
        """
        model = _get_model(app, name)
        ctype = request_content_type(request)
        body = await read_body(request, ctype, ("json", "multipart"))
        request.state.model = name
        as_csv = _wants_csv(request)
        n, payload = await run_job(
            aggregate_job, name, model, ctype, request.headers.get("content-type", ""), body,
            settings, as_csv,
        )
        request.state.rows = n
        return Response(payload, media_type="text/csv" if as_csv else "application/json")

    return app


class JobRunner:
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

    row = pd.DataFrame({c: [np.nan] for c in model_columns(model)})
    row[model.spec.id] = ["warm-up"]
    model.score(row)


def _get_model(app, name: str):
    try:
        return app.state.models[name]
    except KeyError:
        known = ", ".join(sorted(app.state.models))
        raise ApiError(404, f"no model named {name!r}; loaded models: {known}") from None


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "text/csv" in accept and "application/json" not in accept
