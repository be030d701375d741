"""The score table: which columns a scored household gets, in which order, and the builders
of it as a pandas DataFrame or an Arrow table.

One row per input row: the id, one column per pillar of the spec (in the spec's order),
RCI, RCI_100, status ("ok" or the reason the row was not scored) and, for a loaded model,
out_of_range (RCI_100 outside [0, 100]). `rima.fit`, `FittedModel.score`,
`rima.streaming.score_file`, the analyses and the HTTP service take their columns from
here, so a new score column is added in this file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima._kernels.rci_scale import out_of_range

# after the pillar columns, in this order
INDEX_COLUMNS = ("RCI", "RCI_100")
STATUS = "status"
OUT_OF_RANGE = "out_of_range"
CLASS = "class"  # the resilience class (rima.classes), where a table carries it


def value_columns(pillar_names) -> list[str]:
    """The float columns of the score block: the pillars, then RCI and RCI_100."""
    return [*pillar_names, *INDEX_COLUMNS]


def analysis_columns(pillar_names) -> tuple[str, ...]:
    """The score columns carried beside the data by the analyses (no id)."""
    return (*value_columns(pillar_names), STATUS)


def score_frame(block: np.ndarray, ids: pd.Series, id_values, pillar_names, status,
                with_range: bool) -> pd.DataFrame:
    """The score DataFrame from the (K + 2, n) float block (pillars, RCI, RCI_100) without
    copying it; the id column first (named as the input's, "id" if unnamed), `status`
    after the floats and, `with_range`, the out_of_range flag."""
    scores = pd.DataFrame(block.T, columns=value_columns(pillar_names), copy=False)
    column = id_values
    dtype = getattr(ids, "dtype", None)
    if isinstance(ids, pd.Series) and isinstance(dtype, np.dtype) and dtype.kind in "iufb":
        # the input's own column, by reference: pandas copies it only when either frame
        # writes to it (a copy up front was 80 MB of new memory at 10 million rows)
        column = ids.reset_index(drop=True)
    scores.insert(0, ids.name if ids.name else "id", column)
    scores[STATUS] = status
    if with_range:
        scores[OUT_OF_RANGE] = out_of_range(block[len(pillar_names) + 1])
    return scores


def score_arrow(id_column, keep: dict, pillar_names, P, rci, rci_100, codes, reasons,
                id_name: str, classes=None):
    """The score table of `FittedModel.score` as an Arrow table, `keep` ({name: Arrow
    column}) after the id; the status column from integer codes into `reasons`. With a
    `rima.classes.ClassScheme`, the resilience class column after RCI_100 (as the service
    answers). Missing scores are nulls, so a CSV gets empty cells as pandas writes them."""
    import pyarrow as pa

    from rima.classes import class_labels

    names = [id_name, *keep, *value_columns(pillar_names),
             *([CLASS] if classes is not None else []), STATUS, OUT_OF_RANGE]
    status = pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int32()),
                                            pa.array(reasons, type=pa.string()))
    arrays = [id_column, *keep.values(),
              *(pa.array(np.ascontiguousarray(P[:, k]), from_pandas=True)
                for k in range(P.shape[1])),
              pa.array(rci, from_pandas=True), pa.array(rci_100, from_pandas=True)]
    if classes is not None:
        arrays.append(pa.array(class_labels(classes, rci_100, np.asarray(codes) == 0),
                               type=pa.string()))
    arrays += [status.cast(pa.string()), pa.array(out_of_range(rci_100))]
    return pa.Table.from_arrays(arrays, names=names)


def id_values(ids):
    """The id column's values for a new frame, as `np.asarray(ids)` would give them."""
    # numpy and string columns keep their storage (an id column of Arrow strings is not
    # turned into a Python object per row and back); other dtypes become plain values
    dtype = getattr(ids, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "iufb":
        return ids.to_numpy() if hasattr(ids, "to_numpy") else np.asarray(ids)
    if isinstance(dtype, pd.StringDtype) and hasattr(ids, "array"):
        return ids.array
    return np.asarray(ids)
