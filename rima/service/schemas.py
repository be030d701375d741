"""The documented shapes: pydantic models and the OpenAPI request bodies and errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
        description="output or dzud-table field to rank groups by (default priority: "
                    "severity x estimated low-resilience households, as `rima target`)",
    )
    descending: bool = Field(True, description="rank 1 = largest rank_by value")
    level: float | None = Field(None, gt=0, lt=1, description="CI level (default: server's)")
    weights: bool | None = Field(
        None, description="weight by the spec's sampling-weight field (when it has one); "
                          "default: as the model was fitted (its options.weights)"
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
SCORE_BODY = {
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
AGGREGATE_BODY = {
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
ERROR_RESPONSES = {
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
