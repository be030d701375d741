"""Means, co-moments, covariances and correlations of many columns in one stable pass.

This is the one moments kernel of rima: pillar variables and food-security indicators go
through it together. Sampling weights are normalised to sum to the number of rows, so
`cov(ddof=1)` divides by n - 1 whether or not weights are given, and correlations do not
depend on the weights' scale (the semantics of R's `psych::cor.wt`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rima._kernels import moments as _k
from rima.config import threads_for
from rima.errors import DataError


def _as_matrix(X, names):
    if hasattr(X, "columns"):
        if names is None:
            names = [str(c) for c in X.columns]
        X = X.to_numpy(dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"expected a 2-D array of observations, got {X.ndim} dimensions")
    p = X.shape[1]
    if names is None:
        names = [f"x{j + 1}" for j in range(p)]
    names = [str(c) for c in names]
    if len(names) != p:
        raise DataError(f"{len(names)} names given for {p} columns")
    return X, names


def _check_weights(weights, n):
    if weights is None:
        return np.ones(0), False
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape[0] != n:
        raise DataError(f"sampling weights have {w.shape[0]} entries for {n} rows")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        raise DataError(
            f"sampling weight of row {int(bad[0]) + 1} is {w[bad[0]]!r}; weights must be finite "
            "and non-negative"
        )
    if not np.any(w > 0):
        raise DataError("all sampling weights are zero")
    return np.ascontiguousarray(w), True


@dataclass
class Moments:
    """Weighted means and centred cross-products Σ w (x - mean)(x - mean)'."""

    n_obs: int
    sum_weights: float
    mean: np.ndarray
    comoment: np.ndarray
    names: list[str] = field(default_factory=list)
    weighted: bool = False
    raw_weight_sum: float = float("nan")  # sum of the weights as given, before normalising

    def cov(self, ddof: int = 1) -> np.ndarray:
        """Covariance with divisor sum_weights - ddof (ddof=1: n - 1; ddof=0: n)."""
        denom = self.sum_weights - ddof
        if denom <= 0:
            raise DataError(f"too few observations ({self.n_obs}) for a covariance with ddof={ddof}")
        return self.comoment / denom

    def var(self, ddof: int = 1) -> np.ndarray:
        return np.diag(self.cov(ddof)).copy()

    def std(self, ddof: int = 1) -> np.ndarray:
        return np.sqrt(self.var(ddof))

    def take(self, idx) -> Moments:
        """The moments of the columns `idx` alone: the co-moment of two columns does not
        depend on the other columns of the pass, so this is exactly a pass over them."""
        idx = np.asarray(idx, dtype=np.int64)
        return Moments(n_obs=self.n_obs, sum_weights=self.sum_weights,
                       mean=self.mean[idx].copy(), comoment=self.comoment[np.ix_(idx, idx)],
                       names=[self.names[j] for j in idx] if self.names else [],
                       weighted=self.weighted, raw_weight_sum=self.raw_weight_sum)

    def corr(self) -> np.ndarray:
        d = np.sqrt(np.diag(self.comoment))
        zero = np.flatnonzero(d <= 0)
        if zero.size:
            cols = ", ".join(self.names[j] for j in zero)
            raise DataError(f"constant column(s) have no correlation: {cols}")
        R = self.comoment / np.outer(d, d)
        np.fill_diagonal(R, 1.0)
        return R


def compute_moments(X, weights=None, names=None) -> Moments:
    """One numerically stable pass over X (n, p); NaN is not allowed (see `pairwise_moments`)."""
    X, names = _as_matrix(X, names)
    mo = moments_if_complete(X, weights, names)
    if mo is None:
        bad = np.argwhere(~np.isfinite(X))
        if not len(bad):
            big = np.abs(X).max(axis=0) if X.size else np.zeros(0)
            c = int(np.argmax(big)) if big.size else 0
            what = f" (column {names[c]!r} holds values up to {big[c]:.4g})" if big.size else ""
            raise DataError(f"the values are too large for float64 cross-products{what}; "
                            "rescale it (e.g. to thousands) first")
        r, c = bad[0]
        raise DataError(
            f"missing or non-finite value in column {names[c]!r} at row {int(r) + 1}; "
            "drop or impute rows first, or use pairwise moments"
        )
    return mo


def moments_if_complete(X, weights=None, names=None) -> Moments | None:
    """`compute_moments`, or None when X holds a missing or non-finite value: the pass
    itself is the check (a NaN or infinity reaches its block's sums), so callers that can
    handle incomplete rows another way need no separate scan of the data first."""
    X, names = _as_matrix(X, names)
    if X.shape[0] == 0:
        raise DataError("no rows to compute moments from")
    every = np.arange(X.shape[1], dtype=np.int64)
    return _summarise(X.shape[0], weights, names, X[0].copy(),
                      lambda w, use_w, sh: _k.block_moments_rows(X.T, every, None, w, use_w, sh))


def moments_of_rows(block, cols, rows, weights=None, names=None,
                    digest=None, row_mask=None) -> Moments | None:
    """`moments_if_complete` of the matrix block[cols][:, rows] (block: (q, n) float64,
    one variable per row) without copying those rows out: the fit's one pass over the
    analysed rows. `weights` has one entry per selected row. `digest` ((k,) uint64): also
    the columns' fingerprint digests over those rows, from the same pass
    (`rima._kernels.columns.column_digests`). `row_mask`: optionally the bool mask over
    the data rows whose positions `rows` are (saves working it out)."""
    cols = np.asarray(cols, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        raise DataError("no rows to compute moments from")
    names = [f"x{j + 1}" for j in range(cols.size)] if names is None else list(names)
    shift = block[cols, rows[0]].copy()
    return _summarise(rows.size, weights, names, shift,
                      lambda w, use_w, sh: _k.block_moments_rows(block, cols, rows, w, use_w,
                                                                 sh, digest, row_mask))


def _summarise(n, weights, names, shift, blocks) -> Moments | None:
    """Merge the block summaries `blocks(w, use_w, shift)` into Moments (None if not finite)."""
    w, use_w = _check_weights(weights, n)
    raw_weight_sum = float(w.sum()) if use_w else float(n)
    if use_w:
        w = w * (n / raw_weight_sum)
    with threads_for(n):
        bw, bm, bc = blocks(w, use_w, shift)
    if not (np.isfinite(bm).all() and np.isfinite(bc).all() and np.isfinite(shift).all()):
        return None
    W, mean, C = _k.merge_blocks(bw, bm, bc)
    mean = mean + shift
    return Moments(n_obs=n, sum_weights=float(W), mean=mean, comoment=C, names=names,
                   weighted=use_w, raw_weight_sum=raw_weight_sum)


@dataclass
class PairwiseMoments:
    """Pairwise-complete moments: each pair uses the rows where both variables are present."""

    n_pairs: np.ndarray  # (p, p) row counts
    weight_pairs: np.ndarray  # (p, p) weight sums (weights normalised per pair to its count)
    mean_pairs: np.ndarray  # (p, p): mean of variable i over the rows of pair (i, j)
    m2_pairs: np.ndarray  # (p, p): centred sum of squares of i over the rows of pair (i, j)
    comoment: np.ndarray  # (p, p) centred cross-products over each pair's rows
    names: list[str]

    def corr(self) -> np.ndarray:
        p = self.comoment.shape[0]
        R = np.eye(p)
        for i in range(p):
            for j in range(i):
                if self.n_pairs[i, j] < 2:
                    raise DataError(
                        f"variables {self.names[i]!r} and {self.names[j]!r} are observed "
                        f"together in {int(self.n_pairs[i, j])} row(s); no correlation possible"
                    )
                den = np.sqrt(self.m2_pairs[i, j] * self.m2_pairs[j, i])
                if den <= 0:
                    raise DataError(
                        f"{self.names[i]!r} or {self.names[j]!r} is constant on the rows "
                        "where both are observed"
                    )
                R[i, j] = R[j, i] = self.comoment[i, j] / den
        return R

    def cov(self, ddof: int = 1) -> np.ndarray:
        W = self.weight_pairs
        C = self.comoment.copy()
        np.fill_diagonal(C, np.diag(self.m2_pairs))
        return C / (W - ddof)


def pairwise_moments(X, weights=None, names=None) -> PairwiseMoments:
    """Moments with NaN treated as missing, pair by pair (R's `use = "pairwise"`)."""
    X, names = _as_matrix(X, names)
    n, _p = X.shape
    if np.isinf(X).any():
        r, c = np.argwhere(np.isinf(X))[0]
        raise DataError(f"infinite value in column {names[c]!r} at row {int(r) + 1}")
    w, use_w = _check_weights(weights, n)
    with threads_for(n):
        bW, bM, bS, bC = _k.block_pairwise(X, w, use_w)
    W, M, S, C = _k.merge_pairwise(bW, bM, bS, bC)
    present = ~np.isnan(X)
    counts = present.T.astype(np.float64) @ present.astype(np.float64)
    if use_w:
        # normalise each pair's weights to its row count so ddof=1 means "count - 1"
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(W > 0, counts / W, 0.0)
        S = S * scale
        C = C * np.minimum(scale, scale.T)
        W = counts.copy()
    return PairwiseMoments(n_pairs=counts.astype(np.int64), weight_pairs=W, mean_pairs=M,
                           m2_pairs=S, comoment=C, names=names)


def has_nonfinite(X) -> bool:
    """True when X (2-D float64) holds NaN or infinity; one parallel pass, no temporaries."""
    if X.size == 0:
        return False
    with threads_for(X.shape[0]):
        return _k.first_nonfinite_row(X) >= 0


def standardised_scores(X, mean, scale, weights):
    """((X - mean) / scale) @ weights without materialising the standardised matrix."""
    X = np.asarray(X, dtype=np.float64)
    with threads_for(X.shape[0]):
        return _k.standardise_project(X, np.asarray(mean, dtype=np.float64),
                                      np.asarray(scale, dtype=np.float64),
                                      np.ascontiguousarray(weights, dtype=np.float64))


def merge_moments(parts: list[Moments]) -> Moments:
    """Combine moments of disjoint row sets (chunks, files, cluster partitions) exactly.

    Each part's weights were normalised to its own row count, so the raw weight sums are
    restored from `raw_weight_sum` before merging; the result is normalised to the total
    row count like `compute_moments` on the stacked rows.
    """
    parts = [p for p in parts if p.n_obs > 0]
    if not parts:
        raise DataError("no rows to compute moments from")
    names = parts[0].names
    for part in parts[1:]:
        if part.names != names:
            raise DataError(f"cannot merge moments of columns {part.names} into {names}")
    weighted = any(part.weighted for part in parts)
    raw = np.array([part.raw_weight_sum if weighted else float(part.n_obs) for part in parts])
    n = sum(part.n_obs for part in parts)
    # co-moments scale with the weights: undo each part's normalisation before merging
    comoments = np.stack([part.comoment * (raw[i] / part.sum_weights)
                          for i, part in enumerate(parts)])
    means = np.stack([part.mean for part in parts])
    W, mean, C = _k.merge_blocks(raw, means, comoments)
    if weighted:
        C = C * (n / W)
    return Moments(n_obs=n, sum_weights=float(n), mean=mean, comoment=C, names=list(names),
                   weighted=weighted, raw_weight_sum=float(W))
