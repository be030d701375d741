"""Small dense solves shared by the factor, MIMIC and bootstrap kernels.

The systems here are a few variables wide; plain loops compile faster than numba's LAPACK
wrappers and give the same answers (Gaussian elimination with partial pivoting is what
LAPACK's gesv, behind np.linalg.solve, does).
"""

import numpy as np
from numba import njit


@njit(cache=True)
def lu_solve(A, B):
    """X with A X = B (B: (p, r)) by Gaussian elimination with partial pivoting, as
    LAPACK's gesv; ok=False when A is singular."""
    p = A.shape[0]
    r = B.shape[1]
    M = A.copy()
    X = B.copy()
    for c in range(p):
        piv = c
        big = abs(M[c, c])
        for i in range(c + 1, p):
            if abs(M[i, c]) > big:
                big = abs(M[i, c])
                piv = i
        if not (big > 0.0):
            return X, False
        if piv != c:
            for j in range(p):
                M[c, j], M[piv, j] = M[piv, j], M[c, j]
            for j in range(r):
                X[c, j], X[piv, j] = X[piv, j], X[c, j]
        for i in range(c + 1, p):
            f = M[i, c] / M[c, c]
            if f != 0.0:
                for j in range(c, p):
                    M[i, j] -= f * M[c, j]
                for j in range(r):
                    X[i, j] -= f * X[c, j]
    for c in range(p - 1, -1, -1):
        for j in range(r):
            t = X[c, j]
            for i in range(c + 1, p):
                t -= M[c, i] * X[i, j]
            X[c, j] = t / M[c, c]
    return X, True


@njit(cache=True, inline='always')
def lu_solve_vector(A, b):
    """x with A x = b; ok=False when A is singular."""
    X, ok = lu_solve(A, np.ascontiguousarray(b).reshape((b.shape[0], 1)))
    return X[:, 0].copy(), ok
