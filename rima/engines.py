"""`rima.fit`: the in-memory fit (`rima.pipeline.fit`) or, for a dask DataFrame, a
directory or a glob of partitions, the partitioned fit (`rima.scale_out.fit_dask`)."""

from __future__ import annotations


def fit(data, spec, progress=None, **kwargs):
    """Fit the RIMA-II model; see `rima.pipeline.fit` (DataFrame or file) and
    `rima.scale_out.fit_dask` (dask DataFrame, directory or glob of Parquet / CSV
    partitions, which returns a `PartitionedResult` with the scores on disk).

    Examples
    --------
    >>> import dask.dataframe as dd, rima
    >>> res = rima.fit(dd.read_parquet("households/"), "spec.toml")  # doctest: +SKIP
    """
    from rima.scale_out import is_partitioned

    if is_partitioned(data):
        from rima.scale_out import fit_dask

        return fit_dask(data, spec, progress=progress, **kwargs)
    from rima.pipeline import fit as fit_in_memory

    return fit_in_memory(data, spec, progress=progress, **kwargs)
