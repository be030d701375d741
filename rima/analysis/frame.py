"""Assemble the household frame the analyses work on: data + scores + soum shocks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rima.errors import DataError, RimaInputError
from rima.score_table import analysis_columns

# soum-table columns brought onto households (the dzud class and winter severity are the
# covariate shocks; the rest describe the winter)
SOUM_SHOCK_COLUMNS = ("severity", "dzud_class", "snow_depth_cm", "temp_anomaly_c", "mortality_pct")


def is_result(obj) -> bool:
    """True for a pipeline result (anything with `.scores` and `.data` frames)."""
    return isinstance(getattr(obj, "scores", None), pd.DataFrame) and isinstance(
        getattr(obj, "data", None), pd.DataFrame
    )


def household_frame(result_or_frame, soums: pd.DataFrame | None = None, soum_col: str = "soum"):
    """Data with the score columns beside it and, if given, the soum table joined on.

    A pipeline result contributes its input data and its scores (same rows, same order); a
    DataFrame is used as is (it must already hold the score columns the analysis names).
    """
    if is_result(result_or_frame):
        data = result_or_frame.data
        scores = result_or_frame.scores
        if len(scores) != len(data):
            raise RimaInputError(
                f"result.scores has {len(scores)} rows but result.data has {len(data)}; "
                "the pipeline contract is one score row per input row"
            )
        frame = data.reset_index(drop=True).copy()
        for col in analysis_columns(result_or_frame.spec.pillar_names):
            if col in scores.columns:
                frame[col] = scores[col].to_numpy()
    elif isinstance(result_or_frame, pd.DataFrame):
        frame = result_or_frame.reset_index(drop=True).copy()
    else:
        raise RimaInputError(
            "expected a fitted result (rima.fit) or a DataFrame, got "
            f"{type(result_or_frame).__name__}"
        )
    if soums is not None:
        frame = join_soums(frame, soums, soum_col)
    return frame


def join_soums(frame: pd.DataFrame, soums: pd.DataFrame, soum_col: str = "soum") -> pd.DataFrame:
    """Left-join the soum table (by soum, and by round when both tables have one).

    Every household's soum must be in the table: a household left without its soum's dzud
    class would otherwise drop out of the shock regression unnoticed.
    """
    if soum_col not in frame.columns:
        raise DataError(f"the household data has no {soum_col!r} column to join the soum table on")
    if soum_col not in soums.columns:
        raise DataError(f"the soum table has no {soum_col!r} column")
    keys = [soum_col] + (["round"] if "round" in frame.columns and "round" in soums.columns else [])
    if "round" in soums.columns and "round" not in frame.columns:
        n_rounds = soums["round"].nunique()
        if n_rounds > 1:
            raise DataError(
                f"the soum table has {n_rounds} rounds but the household data has no 'round' "
                "column; pass the soum rows of the survey's round only"
            )
    bring = [c for c in soums.columns if c in SOUM_SHOCK_COLUMNS]
    if not bring:
        raise DataError(
            f"the soum table has none of the shock columns {list(SOUM_SHOCK_COLUMNS)}"
        )
    table = soums[keys + bring].copy()
    table[soum_col] = table[soum_col].astype(str)
    dup = table.duplicated(keys, keep=False)
    if dup.any():
        raise DataError(f"the soum table has repeated rows for {table.loc[dup, keys].drop_duplicates().values.tolist()[:5]}")
    out = frame.drop(columns=[c for c in bring if c in frame.columns]).copy()
    left = out[keys].copy()
    left[soum_col] = left[soum_col].astype(str)
    merged = left.merge(table, on=keys, how="left", validate="many_to_one")
    unmatched = merged[bring[0]].isna() & frame[soum_col].notna().to_numpy()
    if unmatched.any():
        missing = sorted(set(left.loc[unmatched.to_numpy(), soum_col]))
        raise DataError(f"soum(s) {missing[:10]} of the household data are not in the soum table")
    for c in bring:
        out[c] = merged[c].to_numpy()
    return out


def weights_of(frame: pd.DataFrame, weight: str | None) -> np.ndarray:
    if weight is None:
        return np.ones(len(frame))
    if weight not in frame.columns:
        raise DataError(f"weight column {weight!r} not found")
    return pd.to_numeric(frame[weight], errors="coerce").to_numpy(dtype=float)


def weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(w)
    return float(np.sum(x[ok] * w[ok]) / np.sum(w[ok]))


def write_tables(directory, tables: dict, fmt: str = "csv") -> dict:
    """Write each table as `<directory>/<name>.<fmt>` (rima.io); returns {name: path}."""
    from rima.io import writable_dir, write_table

    out = writable_dir(directory)
    ext = fmt.lstrip(".")
    paths = {}
    for name, table in tables.items():
        path = out / f"{name}.{ext}"
        write_table(_stata_safe(table) if ext == "dta" else table, path)
        paths[name] = path
    return paths


def _stata_safe(df: pd.DataFrame) -> pd.DataFrame:
    # Stata needs plain variable names ("class" is a reserved word) and string categories
    out = df.copy()
    out.columns = ["res_class" if c == "class" else
                   str(c).replace("-", "_").replace("[", "_").replace("]", "") for c in out.columns]
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), "").astype(str)
    return out
