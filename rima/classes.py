"""Resilience classes: the one definition of low / medium / high resilience.

Targeting, scenarios and the HTTP service all classify households here, so a household
called "low resilience" in a soum ranking is the same household the service labels so.

Default: fixed thirds of the RCI_100 scale,

    low      RCI_100 <  33 1/3
    medium   33 1/3 <= RCI_100 < 66 2/3
    high     66 2/3 <= RCI_100

Why fixed cut points on the scale and not sample quantiles: RCI_100 is the min-max
rescaling fixed by the *training* sample (a saved model scores new households on that
scale), so a fixed cut point means the same capacity in every soum, round and request.
Quantile classes would put a third of any group in "low" whatever happened to it, so a
dzud-hit round could never show more low-resilience households than a good year, and a
household's class would depend on who else was sent in the same HTTP request. Equal thirds
are the simplest fixed partition of the scale and need no tuning; other cut points are a
parameter away. The quantile variant (`quantile_thresholds`, `resilience_class_quantile`)
is there for within-sample targeting of a fixed population share ("the weighted bottom
third"), where relative rank is the point.

A value equal to a threshold belongs to the class above it. Households without a score
(NaN) get no class (missing), never a default one. New households can score outside
[0, 100] (the training range); they still get the bottom or top class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rima.errors import RimaInputError

DEFAULT_THRESHOLDS: tuple[float, ...] = (100.0 / 3.0, 200.0 / 3.0)
DEFAULT_LABELS: tuple[str, ...] = ("low", "medium", "high")
DEFAULT_PROBS: tuple[float, ...] = (1.0 / 3.0, 2.0 / 3.0)


@dataclass(frozen=True)
class ClassScheme:
    """Validated, ordered cut points and their labels (len(labels) == len(thresholds) + 1)."""

    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    labels: tuple[str, ...] = DEFAULT_LABELS

    def __post_init__(self):
        t, lab = check_scheme(self.thresholds, self.labels)
        object.__setattr__(self, "thresholds", t)
        object.__setattr__(self, "labels", lab)

    @property
    def lowest(self) -> str:
        """Label of the bottom class (the "low resilience" households targeting counts)."""
        return self.labels[0]

    def classify(self, rci_100):
        return resilience_class(rci_100, self.thresholds, self.labels)

    def to_dict(self) -> dict:
        return {"thresholds": list(self.thresholds), "labels": list(self.labels)}


def check_scheme(thresholds, labels=DEFAULT_LABELS) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Validate cut points and labels; return them as tuples or raise RimaInputError."""
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence | np.ndarray):
        raise RimaInputError(
            f"thresholds must be a sequence of numbers, got {type(thresholds).__name__}"
        )
    try:
        t = tuple(float(x) for x in thresholds)
    except (TypeError, ValueError):
        raise RimaInputError(f"thresholds must be numbers, got {list(thresholds)!r}") from None
    if not t:
        raise RimaInputError("thresholds must have at least one cut point")
    bad = [x for x in t if not np.isfinite(x)]
    if bad:
        raise RimaInputError(f"thresholds must be finite, got {list(t)!r}")
    for i in range(1, len(t)):
        if not t[i] > t[i - 1]:
            raise RimaInputError(
                f"thresholds must be strictly increasing, got {list(t)!r} "
                f"(position {i + 1}: {t[i]} is not above {t[i - 1]})"
            )
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise RimaInputError(f"labels must be a sequence of strings, got {type(labels).__name__}")
    lab = tuple(labels)
    if len(lab) != len(t) + 1:
        raise RimaInputError(
            f"{len(t)} threshold(s) make {len(t) + 1} classes, but {len(lab)} label(s) were "
            f"given: {list(lab)!r}"
        )
    if not all(isinstance(x, str) and x.strip() for x in lab):
        raise RimaInputError(f"labels must be non-empty strings, got {list(lab)!r}")
    if len(set(lab)) != len(lab):
        raise RimaInputError(f"labels must be distinct, got {list(lab)!r}")
    return t, lab


def resilience_class(rci_100, thresholds=DEFAULT_THRESHOLDS, labels=DEFAULT_LABELS):
    """Class of each RCI_100 value: an ordered categorical (NaN -> missing).

    A pandas Series in gives a Series back with the same index (named "class"); anything
    else array-like gives a `pandas.Categorical`. Categories are `labels`, in order, so
    counts include empty classes and comparisons ("< medium") work.
    """
    t, lab = check_scheme(thresholds, labels)
    index = rci_100.index if isinstance(rci_100, pd.Series) else None
    x = _as_float(rci_100, "rci_100")
    # side="right": a value equal to a cut point belongs to the class above it
    codes = np.searchsorted(np.asarray(t), x, side="right").astype(np.int64)
    codes[np.isnan(x)] = -1
    cat = pd.Categorical.from_codes(codes, categories=list(lab), ordered=True)
    if index is not None:
        return pd.Series(cat, index=index, name="class")
    return cat


def weighted_quantile(values, probs, weights=None) -> np.ndarray:
    """Weighted quantiles as the inverse of the weighted empirical CDF.

    For each p: the smallest x with F(x) >= p, where F(x) = (sum of weights of values
    <= x) / (total weight). Equal weights give R's `quantile(type = 1)`; this is also
    `survey::svyquantile(..., qrule = "math")`. NaN values (and their weights) are left
    out; weights must be finite and >= 0 with a positive total. The result is always one
    of the data values, so a class boundary is an observed household score.
    """
    x = _as_float(values, "values")
    p = np.atleast_1d(np.asarray(probs, dtype=float))
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise RimaInputError(f"probs must be numbers in [0, 1], got {np.asarray(probs).tolist()!r}")
    if weights is None:
        w = np.ones_like(x)
    else:
        w = _as_float(weights, "weights")
        if w.shape != x.shape:
            raise RimaInputError(
                f"weights has {w.size} value(s) but values has {x.size}; they must match"
            )
        bad = ~np.isfinite(w) & ~np.isnan(x)
        if bad.any():
            raise RimaInputError(
                f"weights must be finite where values are present; not at position(s) "
                f"{(np.flatnonzero(bad) + 1)[:10].tolist()}"
            )
        neg = (w < 0) & ~np.isnan(x)
        if neg.any():
            raise RimaInputError(
                f"weights must be >= 0; negative at position(s) "
                f"{(np.flatnonzero(neg) + 1)[:10].tolist()}"
            )
    keep = ~np.isnan(x)
    x, w = x[keep], w[keep]
    total = w.sum()
    if x.size == 0 or not total > 0:
        raise RimaInputError("weighted_quantile needs at least one value with positive weight")
    order = np.argsort(x, kind="stable")
    xs, cw = x[order], np.cumsum(w[order]) / total
    idx = np.searchsorted(cw, p, side="left")
    return xs[np.minimum(idx, xs.size - 1)]


def quantile_thresholds(rci_100, probs=DEFAULT_PROBS, weights=None) -> tuple[float, ...]:
    """Cut points at weighted quantiles of RCI_100 (default: weighted terciles)."""
    q = weighted_quantile(rci_100, probs, weights)
    return tuple(float(v) for v in q)


def resilience_class_quantile(rci_100, weights=None, probs=DEFAULT_PROBS, labels=DEFAULT_LABELS):
    """Classes relative to the sample: cut at weighted quantiles of `rci_100`.

    Returns (classes, thresholds). Tied quantiles (many equal scores) cannot make strictly
    increasing cut points and raise RimaInputError naming them, rather than silently
    merging classes.
    """
    t = quantile_thresholds(rci_100, probs, weights)
    for i in range(1, len(t)):
        if not t[i] > t[i - 1]:
            raise RimaInputError(
                f"quantiles at probs {list(probs)!r} are {list(t)!r}: tied scores make two "
                "cut points equal, so the classes cannot be separated; use fewer classes "
                "or fixed thresholds"
            )
    return resilience_class(rci_100, t, labels), t


def _as_float(values, name: str) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        try:
            return values.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            raise RimaInputError(f"{name} must be numeric") from None
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise RimaInputError(f"{name} must be numeric") from None
    return np.atleast_1d(arr).ravel().copy()


def class_labels(classes: ClassScheme, rci_100, ok) -> list:
    """Class label of each row, None where the row was not scored (`ok` False): the class
    column of `rima score` and of the service's answers."""
    v = np.where(ok, np.asarray(rci_100, dtype=float), np.nan)
    lab = classes.classify(v)
    out = np.asarray(lab.astype(object), dtype=object)
    out[pd.isna(lab)] = None
    return out.tolist()
