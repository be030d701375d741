"""The training-data fingerprint: which data a saved model was fitted on.

Stored in model.json's metadata (`training_fingerprint`) and in the model identity of report
sections; computed by `rima.fit` from the analysed rows of the converted column block
without building the matrix.
"""

from __future__ import annotations

import hashlib

import numpy as np

from rima._kernels.columns import column_digests

FINGERPRINT = "rima-fp2"


def fingerprint(matrix: np.ndarray) -> str:
    """Fingerprint of an (n, p) analysed matrix: the hex sha256 of the text
    "rima-fp2:{n}x{p}:" followed by the p column digests of
    `rima._kernels.columns.column_digests` (uint64, little endian), one per column in order.

    Each digest sums a 64-bit mix of every value's IEEE bits with its row position, so it
    changes when any value changes or rows move; it reads the data once in parallel, at
    memory speed, where hashing the bytes themselves would cost more than the fit. Every
    NaN counts as the same value; -0.0 and 0.0 differ.
    """
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"fingerprint needs a 2-D matrix, got {a.ndim} dimension(s)")
    V = np.ascontiguousarray(a.T)
    return fingerprint_columns(V, np.arange(a.shape[1]), np.arange(a.shape[0]))


def fingerprint_columns(V: np.ndarray, cols, rows) -> str:
    """`fingerprint` of the matrix V[cols][:, rows].T without building it: V (q, n) holds
    one column per row (the layout of `rima.validate`'s float block)."""
    V = np.ascontiguousarray(V, dtype=np.float64)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    return fingerprint_digests(rows.shape[0], column_digests(V.view(np.uint64), cols, rows))


def fingerprint_digests(n_rows: int, digests) -> str:
    """`fingerprint` from the column digests of an (n_rows, len(digests)) matrix."""
    digests = np.asarray(digests, dtype=np.uint64)
    h = hashlib.sha256(f"{FINGERPRINT}:{int(n_rows)}x{digests.shape[0]}:".encode())
    h.update(digests.astype("<u8").tobytes())
    return h.hexdigest()
