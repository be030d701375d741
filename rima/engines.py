"""`rima.fit`: the in-memory fit (`rima.result.fit`, a `RimaResult`) or, for a dask
DataFrame, a directory or a glob of partitions, the partitioned fit
(`rima.scale_out.fit_dask`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from rima.result import RimaResult
    from rima.scale_out import PartitionedResult
    from rima.spec import Spec


def fit(data: pd.DataFrame | str | Path | Any, spec: Spec | dict | str | Path,
        progress: Callable[[str], Any] | bool | None = None,
        **kwargs: Any) -> RimaResult | PartitionedResult:
    """Fit the RIMA-II model: pillars, MIMIC, RCI, RSM and profiles.

    Parameters
    ----------
    data : DataFrame, path, dask DataFrame, directory or glob
        The household survey, one row per household. A DataFrame or a file is fitted in
        memory (`rima.result.fit`); a dask DataFrame, a directory or a glob of Parquet /
        CSV partitions is fitted partition by partition (`rima.scale_out.fit_dask`).
    spec : Spec, dict or path
        The model spec (`rima.load_spec`), options included.
    progress : callable or bool, optional
        Called with the name of each step as it starts (False: silent).
    **kwargs
        Passed on: ``sheet``, ``sep``, ``decimal`` for a file; the engine options of
        `rima.scale_out.fit_dask` for partitions.

    Returns
    -------
    RimaResult or PartitionedResult
        Scores for every input row (status "ok" or the reason it was not scored), the
        pillar and MIMIC fits, the RSM, profile tables and the fitted model; partitions
        give a `PartitionedResult` with the scores on disk.

    Raises
    ------
    SpecError
        The spec or its options are invalid.
    DataError
        The data do not fit the spec (the message names the column and rows).

    Examples
    --------
    >>> from rima.example import EXAMPLE_SPEC
    >>> survey = rima.simulate(n_households=400, seed=1)
    >>> result = rima.fit(survey.households, EXAMPLE_SPEC, progress=False)
    >>> result.scores.columns[:3].tolist()
    ['hhid', 'ABS', 'AST']
    >>> import dask.dataframe as dd
    >>> res = rima.fit(dd.read_parquet("households/"), "spec.toml")  # doctest: +SKIP
    """
    from rima.scale_out import is_partitioned

    if is_partitioned(data):
        from rima.scale_out import fit_dask

        return fit_dask(data, spec, progress=progress, **kwargs)
    from rima.result import fit as fit_in_memory

    return fit_in_memory(data, spec, progress=progress, **kwargs)
