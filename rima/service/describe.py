"""What GET /models and GET /models/{name} say about a loaded model."""

from __future__ import annotations

import json

from rima.service.encoding import encode_json, json_safe
from rima.service.settings import ServiceSettings


def _metadata(model) -> dict:
    meta = getattr(model, "metadata", None) or {}
    if not isinstance(meta, dict):
        meta = dict(getattr(meta, "__dict__", {}))
    return meta


def model_columns(model) -> list[str]:
    cols = getattr(model, "required_columns", None)
    if cols is None:
        cols = model.spec.required_columns
    return [str(c) for c in cols]


def model_summary(name: str, model) -> dict:
    meta = _metadata(model)
    return {
        "name": name,
        "version": _str_or_none(meta.get("version") or meta.get("rima_version")),
        "fingerprint": _str_or_none(meta.get("training_fingerprint", meta.get("fingerprint"))),
        "n_variables": len(model_columns(model)),
    }


def describe_model(name: str, model, settings: ServiceSettings) -> dict:
    spec = model.spec
    meta = _metadata(model)
    required = model_columns(model)
    numeric = [c for c in spec.numeric_columns if c in required]
    fit_summary = meta.get("fit_summary", meta.get("fit"))
    return json_safe({
        **model_summary(name, model),
        "variables": required,
        "numeric_variables": numeric,
        "id": spec.id,
        "weight": spec.weight,
        "spec": spec.to_dict(),
        "fit_summary": fit_summary,
        # the training file's path says nothing a client needs about the model
        "metadata": json.loads(encode_json({k: v for k, v in meta.items() if k != "source"})),
        "classes": settings.classes.to_dict(),
    })


def _str_or_none(v):
    return None if v is None else str(v)
