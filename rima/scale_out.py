"""Scale-out with dask: moments of data too large for one machine's memory, merged exactly.

Each partition is summarised by the same stable moments kernel as in-memory data and the
summaries are merged in partition order (`rima.moments.merge_moments`), so the result does
not depend on how dask schedules the work. Factor analysis and the MIMIC model need only
these moments (`FactorAnalysis.fit_correlation`, `rima.mimic.fit(sample_cov=..., ...)`).
Requires the optional extra `dask`.
"""

from __future__ import annotations

import numpy as np

from rima.errors import DataError
from rima.moments import Moments, compute_moments, merge_moments


def _require_dask():
    try:
        import dask
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise DataError("scale-out needs dask: pip install 'rima[dask]'") from exc
    return dask


def _partition_summary(frame, columns, weight):
    """Moments of the partition's complete rows, and how many rows each column excluded."""
    used = [*columns, *([weight] if weight else [])]
    values = frame[used].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    complete = finite.all(axis=1)
    # the first absent column names the reason a row is excluded, as in row accounting
    first_bad = np.argmin(finite[~complete], axis=1)
    excluded = {used[j]: int(c) for j, c in zip(*np.unique(first_bad, return_counts=True))}
    rows = values[complete]
    if rows.shape[0] == 0:
        return None, excluded
    X = rows[:, : len(columns)]
    w = rows[:, len(columns)] if weight else None
    return compute_moments(X, weights=w, names=list(columns)), excluded


def compute_moments_dask(ddf, columns, weight=None) -> tuple[Moments, dict[str, int]]:
    """Moments of `columns` over a dask DataFrame's complete rows.

    Returns the merged moments and, per column, the number of rows excluded because that
    column was the first one missing (or non-finite) in the row, so nothing is dropped
    without being counted.
    """
    dask = _require_dask()
    columns = list(columns)
    absent = [c for c in [*columns, *([weight] if weight else [])] if c not in ddf.columns]
    if absent:
        raise DataError(f"column(s) not in the data: {', '.join(absent)}")
    summaries = [dask.delayed(_partition_summary)(part, columns, weight)
                 for part in ddf.to_delayed()]
    results = dask.compute(*summaries)
    excluded: dict[str, int] = {}
    for _moments, part_excluded in results:
        for col, count in part_excluded.items():
            excluded[col] = excluded.get(col, 0) + count
    parts = [m for m, _ in results if m is not None]
    if not parts:
        raise DataError("no complete rows in any partition")
    return merge_moments(parts), excluded


def score_dask(model, ddf):
    """Score a dask DataFrame partition by partition with a fitted or loaded model.

    Returns a lazy dask DataFrame with the same columns `model.score` gives (id, pillars,
    RCI, RCI_100, status, out_of_range), one row per input row in input order; every row
    is scored on the model's training scale, so partitioning cannot change a score.
    """
    _require_dask()
    absent = [c for c in model.required_columns if c not in ddf.columns]
    if absent:
        # fail before any partition runs, with the same message as in-memory scoring
        model.score(ddf.head(0))
    meta = model.score(ddf._meta.astype({c: "float64" for c in model.required_columns
                                         if c != model.id}))
    return ddf.map_partitions(model.score, meta=meta)
