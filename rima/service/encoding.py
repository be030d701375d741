"""JSON in and out, with the optional orjson speed-up and the stdlib as fallback."""

from __future__ import annotations

import json
import math
import re

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
        try:
            return orjson.dumps(body, default=_jsonable, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            # an integer beyond 64 bits, which orjson cannot write: the stdlib can (with
            # the floats that are not finite as null, as orjson writes them)
            body = json_safe(body)
    return json.dumps(body, allow_nan=False, separators=(",", ":"), default=_jsonable).encode()


def _jsonable(value):
    """json.dumps fallback for numpy scalars, paths, timestamps, tuples in metadata."""
    if value is pd.NA or value is pd.NaT:
        return None
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
    """The request body as Python values; ApiError 400 for JSON that is not valid or not
    usable, 422 for an object that repeats a field (both parsers keep the last value
    without a word, so a household's second "herd_su" would silently win)."""
    def _reject(constant):
        raise ValueError(f"{constant} is not a JSON number; send null for a missing value")

    # orjson reads an integer beyond 64 bits as a float, rounding it (an id of 22 digits
    # would come back changed): such bodies go to the stdlib parser, which keeps it exact
    if orjson is not None and not _LONG_INTEGER.search(body):
        try:
            value = orjson.loads(body)  # strict JSON, several times faster than json
        except orjson.JSONDecodeError:
            pass  # parse again below for the stdlib's clearer message
        else:
            # a repeated field leaves fewer keys than the body spells out ("name":): only
            # then is the body parsed again to find it (text holding '":' may also send it
            # there, harmlessly)
            if len(_KEY_COLON.findall(body)) > _count_keys(value):
                _stdlib_parse(body, _reject)
            return value
    return _stdlib_parse(body, _reject)


_KEY_COLON = re.compile(rb'"\s*:')
_LONG_INTEGER = re.compile(rb"\d{20}")


def _count_keys(value) -> int:
    n = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            n += len(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return n


def _stdlib_parse(body, reject):
    seen = [0]

    def unique(pairs):
        seen[0] += 1
        keys = [k for k, _ in pairs]
        if len(set(keys)) < len(keys):
            dup = next(k for i, k in enumerate(keys) if k in keys[:i])
            pos = [i + 1 for i, k in enumerate(keys) if k == dup]
            times = "twice" if len(pos) == 2 else f"{len(pos)} times"
            raise _RepeatedField(
                f"field {dup!r} appears {times} (fields {', '.join(map(str, pos[:-1]))} "
                f"and {pos[-1]}) in JSON object {seen[0]} (household {seen[0]} of a plain "
                "array); send each field once, rima will not guess which value is meant")
        return dict(pairs)

    try:
        return json.loads(body, parse_constant=reject, parse_float=_finite_float,
                          object_pairs_hook=unique)
    except _RepeatedField as exc:
        raise ApiError(422, str(exc)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "the body is not usable JSON: it is nested too deeply") from None


class _RepeatedField(Exception):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]!r} is too large for a float64")
    return value
