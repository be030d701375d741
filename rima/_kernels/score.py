"""The household scoring of RIMA-II as one pure function on arrays.

Fitting and a loaded model both score through `score_households`, so a saved model
reproduces the fitted scores bit for bit. Everything learned is folded into a few arrays:

* `mean`, `scale` (p,): training mean and n - 1 SD of each pillar variable;
* `W` (p, K): column k holds pillar k's combined weights, i.e. the factor score weights
  times the variance weights, with the sign of "negative" variables and the pillar's
  orientation already multiplied in (reversing a variable negates its row of Z, so it is
  the same as negating its row of W); zero for variables of other pillars;
* `member` (p, K) bool: which variables a pillar needs (missing any -> pillar is NaN);
* `ymean`, `ysd` (m,): indicator standardisation;
* `icpt` (2^m,), `cx` (2^m, K), `cy` (2^m, m): MIMIC prediction weights for each pattern of
  missing indicators (bit j set = indicator j missing); NaN rows for patterns the model
  cannot score, zero `cy` entries for missing indicators;
* `lo`, `hi`: the RCI_100 scale.

The kernel is one fused pass per block of rows (blocks spread over threads by
`rima._kernels.threads.run_blocks`): standardise, orient and weight
each variable into its pillar, find the indicator pattern, apply the MIMIC prediction and
rescale, with no n x p temporary. Within a block the variables are taken one at a time
over all its rows, so column-major input (one contiguous array per variable, as
`rima.validate` and the streaming reader hold it) is read as a stream; each row still adds
its variables in the same order, so the layout never changes a result. Each row's
arithmetic is independent of the others, so results do not depend on the thread count.

The fit needs the pillar scores before the MIMIC exists and the RCI after: `score_pillars`
and `predict_rci` are the two halves of the same block code, so the fitted RCI is the bits
`score_households` gives for a loaded model.
"""

import numpy as np
from numba import njit

from rima._kernels.rci_scale import array_to_100, choose_range, span_of, to_100, training_range
from rima._kernels.threads import run_blocks

BLOCK = 2048


@njit(cache=True)
def _owners(W, member):
    # a variable usually feeds one pillar: remember which, so the row loop does one
    # multiply-add per cell instead of K (-1: several pillars, use the whole row of W)
    p, K = W.shape
    owner = np.full(p, -1, dtype=np.int64)
    for j in range(p):
        cnt = 0
        for k in range(K):
            if member[j, k] or W[j, k] != 0.0:
                cnt += 1
                owner[j] = k
        if cnt != 1:
            owner[j] = -1
    return owner


@njit(cache=True)
def _pillar_block(X, lo, hi, mean, inv, W, member, owner, P, at):
    p = X.shape[1]
    K = W.shape[1]
    m = hi - lo
    # the sums build in a block-local buffer, which LLVM can see shares no memory with X,
    # so the usual case vectorises (about 2.5x faster than adding into P in place); each
    # sum still starts at 0.0 and adds the variables in order, as before
    acc = np.zeros((K, m))
    bad = np.zeros((K, m), dtype=np.bool_)
    for j in range(p):
        o = owner[j]
        mj = mean[j]
        ij = inv[j]
        x = X[lo:hi, j]
        if o >= 0 and member[j, o]:
            # the usual case, branch-free: a missing value makes the sum NaN, which is what
            # marking the pillar bad does below
            wo = W[j, o]
            a = acc[o]
            for i in range(m):
                a[i] += (x[i] - mj) * ij * wo
            continue
        for i in range(m):
            v = x[i]
            if np.isnan(v):
                for k in range(K):
                    if member[j, k]:
                        bad[k, i] = True
            elif o >= 0:
                acc[o, i] += (v - mj) * ij * W[j, o]
            else:
                z = (v - mj) * ij
                for k in range(K):
                    acc[k, i] += z * W[j, k]
    # one NaN for every pillar that cannot be scored, whatever made it so
    for k in range(K):
        for i in range(m):
            v = acc[k, i]
            P[at + lo + i, k] = np.nan if (bad[k, i] or np.isnan(v)) else v


@njit(cache=True)
def _rci_block(P, Y, lo, hi, ymean, yinv, icpt, cx, cy, rlo, span, rci, r100, at):
    K = P.shape[1]
    m = Y.shape[1]
    n = hi - lo
    # every row as if complete, one column at a time (this vectorises), noting which
    # indicators each row misses; rows that miss one are then redone with their pattern's
    # weights. Per row the terms are added in the same order either way.
    acc = np.full(n, icpt[0])
    for k in range(K):
        c = cx[0, k]
        pk = P[at + lo:at + hi, k]
        for i in range(n):
            acc[i] += pk[i] * c
    pat = np.zeros(n, dtype=np.int64)
    for j in range(m):
        c = cy[0, j]
        mu = ymean[j]
        inv = yinv[j]
        yj = Y[lo:hi, j]
        bit = np.int64(1) << j
        for i in range(n):
            y = yj[i]
            if np.isnan(y):
                pat[i] |= bit
            acc[i] += (y - mu) * inv * c
    for i in range(n):
        q = pat[i]
        v = acc[i]
        if q != 0:
            v = icpt[q]
            for k in range(K):
                v += P[at + lo + i, k] * cx[q, k]
            for j in range(m):
                if not (q >> j) & 1:
                    v += (Y[lo + i, j] - ymean[j]) * yinv[j] * cy[q, j]
                else:
                    # 0 x its weight: a pattern the model cannot score has NaN weights
                    v += 0.0 * cy[q, j]
        rci[at + lo + i] = v
        r100[at + lo + i] = to_100(v, rlo, span)


@njit(cache=True)
def _inverse(s):
    out = np.empty(s.shape[0])
    for j in range(s.shape[0]):
        out[j] = 1.0 / s[j]
    return out


@njit(cache=True, nogil=True)
def _score_rows(X, mean, scale, W, member, Y, ymean, ysd, icpt, cx, cy, lo, hi, P, rci, r100,
                at, b0, b1):
    n = X.shape[0]
    inv = _inverse(scale)
    yinv = _inverse(ysd)
    owner = _owners(W, member)
    span = span_of(lo, hi)
    for b in range(b0, b1):
        a = b * BLOCK
        z = min(n, a + BLOCK)
        _pillar_block(X, a, z, mean, inv, W, member, owner, P, at)
        _rci_block(P, Y, a, z, ymean, yinv, icpt, cx, cy, lo, span, rci, r100, at)


@njit(cache=True, nogil=True)
def _pillar_rows(X, mean, scale, W, member, P, b0, b1):
    n = X.shape[0]
    inv = _inverse(scale)
    owner = _owners(W, member)
    for b in range(b0, b1):
        a = b * BLOCK
        _pillar_block(X, a, min(n, a + BLOCK), mean, inv, W, member, owner, P, 0)


@njit(cache=True, nogil=True)
def _rci_rows(P, Y, ymean, ysd, icpt, cx, cy, lo, hi, rci, r100, b0, b1):
    n = P.shape[0]
    yinv = _inverse(ysd)
    span = span_of(lo, hi)
    for b in range(b0, b1):
        a = b * BLOCK
        _rci_block(P, Y, a, min(n, a + BLOCK), ymean, yinv, icpt, cx, cy, lo, span, rci, r100,
                   0)


# the pass that finishes the RCI, per block so that it spreads over threads like the others
@njit(cache=True, nogil=True)
def _rescale_blocks(rci, r100, scored, lo, hi, b0, b1):
    span = span_of(lo, hi)
    n = rci.shape[0]
    a = b0 * BLOCK
    b = min(n, b1 * BLOCK)
    # a loop from 0 over slices: an index that could be negative makes numba wrap it
    # around, which keeps the loop off vector instructions (twice as fast this way)
    rs = rci[a:b]
    ro = r100[a:b]
    sc = scored[a:b]
    for i in range(rs.shape[0]):
        if sc[i]:
            ro[i] = to_100(rs[i], lo, span)
        else:
            rs[i] = np.nan
            ro[i] = np.nan


def _rescale(rci, r100, scored, lo, hi):
    n = rci.shape[0]
    run_blocks(_rescale_blocks, _blocks(n), n, rci, r100, scored, lo, hi)


_F = np.float64


def _blocks(n):
    return (n + BLOCK - 1) // BLOCK


def _rows_match(X, Y):
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"{X.shape[0]} rows of variables but {Y.shape[0]} of indicators")


def score_households(X, mean, scale, W, member, Y, ymean, ysd, icpt, cx, cy, lo, hi, out=None,
                     at=0):
    """Return (pillars (n, K) column-major, rci (n,), rci_100 (n,)); NaN where a row cannot
    be scored. With `out` = (P, rci, rci_100), arrays of N >= at + n rows (P column-major
    (N, K)), the scores are written into their rows at .. at + n - 1 and views of those
    rows returned: a caller scoring in chunks fills one result without copying."""
    X = np.asarray(X, dtype=_F)
    Y = np.asarray(Y, dtype=_F)
    _rows_match(X, Y)
    n, K = X.shape[0], W.shape[1]
    if out is None:
        out, at = (np.empty((K, n)).T, np.empty(n), np.empty(n)), 0
    P, rci, r100 = out
    if (P.shape[1] != K or not P.flags.f_contiguous or P.dtype != _F
            or min(P.shape[0], rci.shape[0], r100.shape[0]) < at + n):
        raise ValueError(f"out must hold column-major (N, {K}) pillars and two (N,) arrays "
                         f"with N >= {at + n}")
    run_blocks(_score_rows, _blocks(n), n, X, np.asarray(mean, dtype=_F),
               np.asarray(scale, dtype=_F), np.ascontiguousarray(W, dtype=_F),
               np.ascontiguousarray(member, dtype=np.bool_), Y, np.asarray(ymean, dtype=_F),
               np.asarray(ysd, dtype=_F), np.asarray(icpt, dtype=_F),
               np.ascontiguousarray(cx, dtype=_F), np.ascontiguousarray(cy, dtype=_F),
               float(lo), float(hi), P, rci, r100, int(at))
    return P[at:at + n], rci[at:at + n], r100[at:at + n]


def score_pillars(X, mean, scale, W, member, out=None):
    """The pillars (n, K) of `score_households` alone (no indicators needed), written into
    `out` if given (column-major by default)."""
    X = np.asarray(X, dtype=_F)
    W = np.ascontiguousarray(W, dtype=_F)
    P = np.empty((W.shape[1], X.shape[0])).T if out is None else out
    if P.shape != (X.shape[0], W.shape[1]) or P.dtype != _F:
        raise ValueError(f"out must be a float64 array of shape {(X.shape[0], W.shape[1])}")
    n = X.shape[0]
    run_blocks(_pillar_rows, _blocks(n), n, X, np.asarray(mean, dtype=_F),
               np.asarray(scale, dtype=_F), W, np.ascontiguousarray(member, dtype=np.bool_), P)
    return P


def predict_rci(P, Y, ymean, ysd, icpt, cx, cy, lo, hi, out=None):
    """(rci, rci_100) of `score_households` from its pillars P (n, K): the same bits.
    `out` = (rci, rci_100) arrays to write into."""
    P = np.asarray(P, dtype=_F)
    Y = np.asarray(Y, dtype=_F)
    _rows_match(P, Y)
    n = P.shape[0]
    rci, r100 = (np.empty(n), np.empty(n)) if out is None else out
    run_blocks(_rci_rows, _blocks(n), n, P, Y, np.asarray(ymean, dtype=_F),
               np.asarray(ysd, dtype=_F), np.asarray(icpt, dtype=_F),
               np.ascontiguousarray(cx, dtype=_F), np.ascontiguousarray(cy, dtype=_F),
               float(lo), float(hi), rci, r100)
    return rci, r100


def scale_rci(rci, r100, rows, scale=None, range_rows=None):
    """Finish the fitted RCI in place: scored = rows & finite RCI; RCI_100 from the range
    (lo, hi) = `scale`, or the min and max of the scored RCI; NaN in both for the other
    rows. Returns (scored, lo, hi). RCI_100 is the kernel's own affine map (same bits as a
    loaded model computes with that range).

    With `range_rows` (the estimation sample, when it differs from the scored rows) the
    min and max are those of range_rows & finite RCI, returned fourth: (scored, lo, hi,
    in_range)."""
    rci = np.asarray(rci, dtype=_F)
    scored, lo, hi = training_range(rci, np.ascontiguousarray(rows, dtype=np.bool_))
    if range_rows is not None:
        in_range, lo, hi = training_range(rci, np.ascontiguousarray(range_rows,
                                                                    dtype=np.bool_))
    lo, hi = choose_range(lo, hi, scale)
    _rescale(rci, r100, scored, lo, hi)
    return (scored, lo, hi) if range_rows is None else (scored, lo, hi, in_range)


def rci_100_scale(rci, lo, hi):
    """RCI_100 from RCI with the kernel's own arithmetic (bit-identical to its output)."""
    return array_to_100(rci, lo, hi)
