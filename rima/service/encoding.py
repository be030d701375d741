"""JSON in and out, with the optional orjson speed-up and the stdlib as fallback."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from fastapi.responses import Response

from rima.service.errors import ApiError

try:  # optional speed-up: JSON in and out is most of the cost of a scoring request
    import orjson
except ImportError:  # pragma: no cover - the stdlib encoder gives the same values
    orjson = None


def json_response(status: int, body, headers=None) -> Response:
    return Response(encode_json(body), status_code=status, media_type="application/json", headers=headers)


def encode_json(body) -> bytes:
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


def json_safe(value):
    """Metadata made JSON-safe: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def parse_json(body: bytes):
    def _reject(constant):
        raise ValueError(f"{constant} is not a JSON number; send null for a missing value")

    if orjson is not None:
        try:
            return orjson.loads(body)  # strict JSON, several times faster than json
        except orjson.JSONDecodeError:
            pass  # parse again below for the stdlib's clearer message
    try:
        return json.loads(body, parse_constant=_reject, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "the body is not usable JSON: it is nested too deeply") from None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]!r} is too large for a float64")
    return value
