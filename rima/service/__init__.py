"""HTTP scoring service: saved rima models behind a small FastAPI app.

`create_app(models, settings)` builds the app from models already loaded (and checksum
verified) by `rima.load`; `rima serve` is the command that loads them and runs uvicorn.
Nothing here opens a file: requests carry their data in the body and the models live in
memory, so no request can read or write the server's file system.

Modules, one job each:
    settings    ServiceSettings, the limits and options of one instance
    errors      ApiError and the one error body shape
    encoding    JSON in and out (orjson when installed, else the stdlib)
    schemas     the documented pydantic shapes and OpenAPI request bodies
    describe    what GET /models and /models/{name} say about a model
    parsing     households from JSON, CSV or multipart, validated
    scoring     the score and aggregate jobs run in worker threads
    aggregate   soum-level summaries, dzud-table join and ranking
    middleware  auth, body-size cap, request deadline, access log
    app         create_app, the routes and the bounded job runner

Safety choices:
- A guard middleware (pure ASGI, outermost of ours) authenticates, caps the body size
  while it streams in, puts one deadline on the whole request and writes one JSON
  access-log line per request, never with a household id or value.
- Parsing and scoring run in worker threads, at most `max_concurrent_jobs` at once, so
  the event loop keeps answering (health checks, timeouts) while a batch is scored, and
  CPU and memory stay bounded. A job cannot be interrupted midway: on timeout the client
  gets its 503 at once, a running job finishes in the background without a new one
  taking its slot, and a queued job that timed out never starts.
"""

SERVE_EXTRA_HINT = (
    "the HTTP service needs the optional 'serve' extra (FastAPI and uvicorn): "
    "pip install 'rima[serve]'"
)

try:
    import anyio  # noqa: F401
    import fastapi  # noqa: F401
    import pydantic  # noqa: F401
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"{SERVE_EXTRA_HINT} ({exc})") from exc

from rima.service.aggregate import aggregate_scores
from rima.service.app import JobRunner, create_app, openapi_document
from rima.service.encoding import encode_json, parse_json
from rima.service.errors import ApiError
from rima.service.middleware import ACCESS_LOGGER
from rima.service.settings import ServiceSettings

__all__ = [
    "ACCESS_LOGGER",
    "SERVE_EXTRA_HINT",
    "ApiError",
    "JobRunner",
    "ServiceSettings",
    "aggregate_scores",
    "create_app",
    "encode_json",
    "openapi_document",
    "parse_json",
]
