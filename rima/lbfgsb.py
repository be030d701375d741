"""Bound-constrained limited-memory BFGS that follows R's ``optim(method = "L-BFGS-B")``.

psych fits ``fm = "minres"`` and ``fm = "ml"`` with R's L-BFGS-B stopped early (factr 1e7),
so psych's numbers are those of one particular path, not of the optimum. scipy's
L-BFGS-B is version 3.0 of the algorithm, which projects the subspace minimiser onto the
box (Morales & Nocedal 2011); R still runs version 2.3, which instead truncates the subspace
step at the first bound it meets. The two paths part at the first iterate whose subspace
step leaves the box and end up to ~1e-5 apart. This module implements the version R runs,
so rima's psych-compatible mode lands where psych does.

The algorithm (Byrd, Lu, Nocedal & Zhu 1995; Zhu, Byrd, Lu & Nocedal 1997):

1. the generalised Cauchy point: the first local minimiser of the quadratic model along
   the projected steepest-descent path, found segment by segment between breakpoints;
2. subspace minimisation over the variables still free at that point, with the step
   truncated at the first bound it crosses (the version 2.x rule);
3. the Moré–Thuente (1994) line search (ftol 1e-3, gtol 0.9, xtol 0.1), starting from
   step 1, or 1/||d|| on the first iteration of a problem that is not fully boxed, and never
   leaving the box;
4. the limited-memory update, skipped when the curvature s'y is not safely positive.

It stops when (f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= factr * eps, when the projected
gradient's largest component is <= pgtol, or after maxit iterations, with R's messages,
its convergence codes and its count of function evaluations. The quasi-Newton matrix is
kept in compact form (Byrd, Nocedal & Schnabel 1994) and the subspace step uses the same
Sherman–Morrison–Woodbury formula as the original code; its small middle matrices are
solved with dense factorisations. Given the values and gradients R computed, the routine
asks for the same points as R to ~1e-12 (tests/test_lbfgsb.py).

One departure: if the Moré–Thuente search rejects its very first step (beyond the largest
feasible step, which rounding in the subspace step can cause), the original code goes on
evaluating with stale search state; here that line search simply counts as failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from rima.errors import ConvergenceError

_EPS = np.finfo(float).eps

# Moré–Thuente parameters R's L-BFGS-B uses
_FTOL = 1e-3
_GTOL = 0.9
_XTOL = 0.1
_STPMAX_FREE = 1e10  # largest step along a direction that meets no bound
_MAX_BACKTRACK = 20  # function evaluations allowed in one line search

# bound codes (R's nbd): none, lower only, both, upper only
_NONE, _LOWER, _BOTH, _UPPER = 0, 1, 2, 3

MSG_FACTR = "CONVERGENCE: REL_REDUCTION_OF_F <= FACTR*EPSMCH"
MSG_PGTOL = "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL"
MSG_MAXIT = "NEW_X"  # what R's optim reports when maxit stops the search
MSG_LNSRCH = "ERROR: ABNORMAL_TERMINATION_IN_LNSRCH"


class LbfgsbResult(NamedTuple):
    x: np.ndarray
    fun: float
    n_iter: int
    n_evals: int  # R's counts: function (= gradient) evaluations
    converged: bool
    message: str

    @property
    def status(self) -> int:
        """R's ``optim`` convergence code: 0 converged, 1 maxit reached, 52 error."""
        if self.converged:
            return 0
        return 1 if self.message == MSG_MAXIT else 52


# ---------------------------------------------------------------- Moré–Thuente search


class _LineSearch:
    """Moré & Thuente's safeguarded search for a step meeting the strong Wolfe conditions.

    ``step(f, g)`` takes the function value and directional derivative at the current
    trial step (at step 0 on the first call) and returns ``(stp, task)``: task "FG" asks
    for the function at the new ``stp``; "CONVERGENCE" or "WARNING..." ends the search at
    ``stp``; "ERROR..." means the search could not start.
    """

    def __init__(self, stp, stpmax, ftol=_FTOL, gtol=_GTOL, xtol=_XTOL, stpmin=0.0):
        self.stp = stp
        self.ftol, self.gtol, self.xtol = ftol, gtol, xtol
        self.stpmin, self.stpmax = stpmin, stpmax
        self.started = False

    def step(self, f, g):
        if not self.started:
            return self._start(f, g)
        return self._continue(f, g)

    def _start(self, f, g):
        stp = self.stp
        if stp < self.stpmin:
            return stp, "ERROR: STP .LT. STPMIN"
        if stp > self.stpmax:
            return stp, "ERROR: STP .GT. STPMAX"
        if g >= 0.0:
            return stp, "ERROR: INITIAL G .GE. ZERO"
        self.started = True
        self.bracketed = False
        self.stage = 1
        self.finit, self.ginit = f, g
        self.gtest = self.ftol * g
        self.width = self.stpmax - self.stpmin
        self.width1 = self.width / 0.5
        # x: the best step so far; y: the other end of the interval of uncertainty
        self.stx, self.fx, self.gx = 0.0, f, g
        self.sty, self.fy, self.gy = 0.0, f, g
        self.stmin, self.stmax = 0.0, stp + 4.0 * stp
        return stp, "FG"

    def _continue(self, f, g):
        stp = self.stp
        ftest = self.finit + stp * self.gtest
        if self.stage == 1 and f <= ftest and g >= 0.0:
            self.stage = 2
        task = None
        if self.bracketed and (stp <= self.stmin or stp >= self.stmax):
            task = "WARNING: ROUNDING ERRORS PREVENT PROGRESS"
        if self.bracketed and self.stmax - self.stmin <= self.xtol * self.stmax:
            task = "WARNING: XTOL TEST SATISFIED"
        if stp == self.stpmax and f <= ftest and g <= self.gtest:
            task = "WARNING: STP = STPMAX"
        if stp == self.stpmin and (f > ftest or g >= self.gtest):
            task = "WARNING: STP = STPMIN"
        if f <= ftest and abs(g) <= self.gtol * (-self.ginit):
            task = "CONVERGENCE"
        if task is not None:
            return stp, task

        if self.stage == 1 and f <= self.fx and f > ftest:
            # first stage, decrease but not enough: step on the modified function
            # psi(a) = f(a) - f(0) - ftol a f'(0), whose minimisers meet both conditions
            gt = self.gtest
            self.stx, fxm, gxm, self.sty, fym, gym, stp = _cstep(
                self.stx, self.fx - self.stx * gt, self.gx - gt,
                self.sty, self.fy - self.sty * gt, self.gy - gt,
                stp, f - stp * gt, g - gt, self)
            self.fx, self.fy = fxm + self.stx * gt, fym + self.sty * gt
            self.gx, self.gy = gxm + gt, gym + gt
        else:
            (self.stx, self.fx, self.gx, self.sty, self.fy, self.gy, stp) = _cstep(
                self.stx, self.fx, self.gx, self.sty, self.fy, self.gy, stp, f, g, self)

        if self.bracketed:
            # bisect when the interval has not shrunk enough over two steps
            if abs(self.sty - self.stx) >= 0.66 * self.width1:
                stp = self.stx + 0.5 * (self.sty - self.stx)
            self.width1 = self.width
            self.width = abs(self.sty - self.stx)
            self.stmin = min(self.stx, self.sty)
            self.stmax = max(self.stx, self.sty)
        else:
            self.stmin = stp + 1.1 * (stp - self.stx)
            self.stmax = stp + 4.0 * (stp - self.stx)
        stp = min(max(stp, self.stpmin), self.stpmax)
        if self.bracketed and (stp <= self.stmin or stp >= self.stmax
                               or self.stmax - self.stmin <= self.xtol * self.stmax):
            # no further progress is possible: fall back on the best step
            stp = self.stx
        self.stp = stp
        return stp, "FG"


def _cstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, ls):
    """One safeguarded cubic/quadratic step of Moré & Thuente; updates ls.bracketed.

    Returns the new (stx, fx, dx, sty, fy, dy) interval ends and the trial step.
    """
    stpmin, stpmax = ls.stmin, ls.stmax
    sgnd = dp * (dx / abs(dx))
    if fp > fx:
        # higher function value: a minimiser is bracketed; take the cubic step if it is
        # closer to stx than the quadratic one, else their average
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp < stx:
            gamma = -gamma
        p = (gamma - dx) + theta
        q = ((gamma - dx) + gamma) + dp
        stpc = stx + (p / q) * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        stpf = stpc if abs(stpc - stx) < abs(stpq - stx) else stpc + (stpq - stpc) / 2.0
        ls.bracketed = True
    elif sgnd < 0.0:
        # lower value, derivatives of opposite sign: bracketed; the cubic step if it is
        # farther from stp than the secant step, else the secant step
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = ((gamma - dp) + gamma) + dx
        stpc = stp + (p / q) * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
        ls.bracketed = True
    elif abs(dp) < abs(dx):
        # lower value, same sign, derivative shrinking: the cubic step only if the cubic
        # tends to infinity in the step's direction or its minimum lies beyond stp
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        disc = (theta / s) ** 2 - (dx / s) * (dp / s)
        gamma = 0.0 if disc < 0.0 else s * math.sqrt(disc)
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = (gamma + (dx - dp)) + gamma
        r = p / q
        if r < 0.0 and gamma != 0.0:
            stpc = stp + r * (stx - stp)
        elif stp > stx:
            stpc = stpmax
        else:
            stpc = stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if ls.bracketed:
            stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
            lim = stp + 0.66 * (sty - stp)
            stpf = min(lim, stpf) if stp > stx else max(lim, stpf)
        else:
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            stpf = max(stpmin, min(stpmax, stpf))
    else:
        # lower value, same sign, derivative not shrinking: the cubic through stp and sty
        # if bracketed, else the end of the allowed range
        if ls.bracketed:
            theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
            s = max(abs(theta), abs(dy), abs(dp))
            gamma = s * math.sqrt((theta / s) ** 2 - (dy / s) * (dp / s))
            if stp > sty:
                gamma = -gamma
            p = (gamma - dp) + theta
            q = ((gamma - dp) + gamma) + dy
            stpf = stp + (p / q) * (sty - stp)
        elif stp > stx:
            stpf = stpmax
        else:
            stpf = stpmin
    # update the interval of uncertainty
    if fp > fx:
        sty, fy, dy = stp, fp, dp
    else:
        if sgnd < 0.0:
            sty, fy, dy = stx, fx, dx
        stx, fx, dx = stp, fp, dp
    return stx, fx, dx, sty, fy, dy, stpf


# ---------------------------------------------------------------- quasi-Newton matrix


class _Saddle:
    """Solver for the symmetric indefinite system [[-P, Q'], [Q, R]] [a; b] = [u; v] with P
    and R + Q P^-1 Q' positive definite, through both Cholesky factorisations, as the
    original code's LEL' factorisations of its middle matrices. ``ok`` is False when either
    fails. The blocks are at most m x m, so their inverses are kept."""

    def __init__(self, P, Q, R):
        try:
            self.pinv = _cho_inverse(P)
            self.Q = Q
            self.tinv = _cho_inverse(R + Q @ self.pinv @ Q.T)
            self.ok = True
        except np.linalg.LinAlgError:
            self.ok = False

    def solve(self, u, v):
        b = self.tinv @ (v + self.Q @ (self.pinv @ u))
        a = self.pinv @ (self.Q.T @ b - u)
        return a, b


def _cho_inverse(A):
    c = np.linalg.cholesky(A)
    ci = np.linalg.solve(c, np.eye(A.shape[0]))
    return ci.T @ ci


class _Memory:
    """The last m correction pairs and the compact form of the L-BFGS matrix
    (Byrd, Nocedal & Schnabel 1994): B = theta I - W M W' with W = [Y, theta S] and
    M = [[-D, L'], [L, theta S'S]]^-1, D = diag(S'Y), L its strictly lower part."""

    def __init__(self, n, m):
        self.n, self.m = n, m
        self.reset()

    def reset(self):
        self.S = np.empty((self.n, 0))
        self.Y = np.empty((self.n, 0))
        self.SY = np.empty((0, 0))  # s_i'y_j, only i >= j is used
        self.SS = np.empty((0, 0))
        self.theta = 1.0
        self.mid = None

    @property
    def col(self):
        return self.S.shape[1]

    def add(self, s, y, sy, ss, theta):
        """Append a pair, with s'y and s's as the caller computed them. False when the
        middle matrix is singular (the caller then clears the memory)."""
        if self.col == self.m:
            self.S, self.Y = self.S[:, 1:], self.Y[:, 1:]
            self.SY, self.SS = self.SY[1:, 1:], self.SS[1:, 1:]
        k = self.col
        SY = np.zeros((k + 1, k + 1))
        SS = np.zeros((k + 1, k + 1))
        SY[:k, :k], SS[:k, :k] = self.SY, self.SS
        SY[k, :k] = self.Y.T @ s
        SS[:k, k] = SS[k, :k] = self.S.T @ s
        SY[k, k], SS[k, k] = sy, ss
        self.S = np.column_stack([self.S, s])
        self.Y = np.column_stack([self.Y, y])
        self.SY, self.SS, self.theta = SY, SS, theta
        self.mid = _Saddle(np.diag(np.diag(SY)), np.tril(SY, -1), theta * SS)
        return self.mid.ok

    def W(self):
        return np.hstack([self.Y, self.theta * self.S])

    def M(self, v):
        """M v."""
        k = self.col
        a, b = self.mid.solve(v[:k], v[k:])
        return np.concatenate([a, b])

    def Bv(self, v):
        if self.col == 0:
            return self.theta * v
        W = self.W()
        return self.theta * v - W @ self.M(W.T @ v)


# ---------------------------------------------------------------- the three steps


def _projected_gradient_norm(x, g, lower, upper, nbd):
    gi = g.copy()
    neg = gi < 0
    up = neg & ((nbd == _BOTH) | (nbd == _UPPER))
    gi[up] = np.maximum(x[up] - upper[up], gi[up])
    lo = ~neg & ((nbd == _BOTH) | (nbd == _LOWER))
    gi[lo] = np.minimum(x[lo] - lower[lo], gi[lo])
    return float(np.max(np.abs(gi))) if gi.size else 0.0


def _cauchy_point(x, g, lower, upper, nbd, iwhere, mem, sbgnrm):
    """Generalised Cauchy point; updates iwhere (0/-3 free, 1 at lower, 2 at upper)."""
    n = x.size
    if sbgnrm <= 0.0:
        return x.copy()
    d = np.zeros(n)
    breaks = []  # (breakpoint, variable) in variable order
    moving = 0
    bounded = True
    f1 = 0.0
    for i in range(n):
        neggi = -g[i]
        if iwhere[i] != 3 and iwhere[i] != -1:
            tl = x[i] - lower[i] if nbd[i] <= _BOTH else 0.0
            tu = upper[i] - x[i] if nbd[i] >= _BOTH else 0.0
            at_lower = nbd[i] <= _BOTH and tl <= 0.0
            at_upper = nbd[i] >= _BOTH and tu <= 0.0
            iwhere[i] = 0
            if at_lower:
                if neggi <= 0.0:
                    iwhere[i] = 1
            elif at_upper:
                if neggi >= 0.0:
                    iwhere[i] = 2
            elif abs(neggi) <= 0.0:
                iwhere[i] = -3
        if iwhere[i] != 0 and iwhere[i] != -1:
            continue
        d[i] = neggi
        f1 -= neggi * neggi
        moving += 1
        if nbd[i] != _NONE and nbd[i] <= _BOTH and neggi < 0.0:
            breaks.append((tl / -neggi, i))
        elif nbd[i] >= _BOTH and neggi > 0.0:
            breaks.append((tu / neggi, i))
        elif abs(neggi) > 0.0:
            bounded = False
    xcp = x.copy()
    if moving == 0:
        return xcp
    theta = mem.theta
    col = mem.col
    W = mem.W() if col else None
    # the model along the path: slope f1 and curvature f2 = d'Bd on the current segment
    f2 = theta * float(d @ d)
    f2_floor = _EPS * f2  # the original's guard against f2 lost to rounding
    if col:
        p = W.T @ d
        f2 -= float(p @ mem.M(p))
    dtm = -f1 / f2
    tsum = 0.0
    if breaks:
        # the smallest breakpoint first (the first such variable on ties), then the rest
        # in increasing order, as the original's heap delivers them
        first = min(range(len(breaks)), key=lambda j: (breaks[j][0], j))
        order = [breaks[first]] + sorted(
            (b for j, b in enumerate(breaks) if j != first), key=lambda b: b[0])
        z = np.zeros(n)  # x(t) - x at the current breakpoint
        tj = 0.0
        nleft = len(order)
        for tb, ibp in order:
            dt = tb - tj
            tj = tb
            if dtm < dt:
                break
            tsum += dt
            nleft -= 1
            z += dt * d
            dibp = d[ibp]
            d[ibp] = 0.0
            if dibp > 0.0:
                z[ibp] = upper[ibp] - x[ibp]
                xcp[ibp] = upper[ibp]
                iwhere[ibp] = 2
            else:
                z[ibp] = lower[ibp] - x[ibp]
                xcp[ibp] = lower[ibp]
                iwhere[ibp] = 1
            if nleft == 0 and len(order) == n:
                return xcp  # every variable is at a bound
            f1 = float(g @ d) + theta * float(d @ z)
            f2 = theta * float(d @ d)
            if col:
                p = W.T @ d
                f1 -= float(p @ mem.M(W.T @ z))
                f2 -= float(p @ mem.M(p))
            f2 = max(f2, f2_floor)
            if nleft > 0:
                dtm = -f1 / f2
            elif bounded:
                dtm = 0.0
            else:
                dtm = -f1 / f2
    dtm = max(dtm, 0.0)
    tsum += dtm
    return xcp + tsum * d


def _subspace_step(x, g, z, lower, upper, nbd, free, mem):
    """Minimise the model over the free variables from the Cauchy point z, then truncate
    the step at the first bound it crosses (version 2.x). None when the reduced system is
    singular (the caller then clears the memory).

    The Newton step on the free set is, by Sherman–Morrison–Woodbury,
    d = r/theta + Z'W K^-1 W'Z r / theta^2 with
    K = [[-D - Y'ZZ'Y/theta, L_a' - R_z'], [L_a - R_z, theta S'AA'S]], Z and A the free
    and active coordinates, L_a the strictly lower part of S'AA'Y, R_z the upper part
    (with diagonal) of S'ZZ'Y.
    """
    theta = mem.theta
    r = -(g + mem.Bv(z - x))[free]
    active = np.ones(x.size, dtype=bool)
    active[free] = False
    Yf, Sf = mem.Y[free], mem.S[free]
    Ya, Sa = mem.Y[active], mem.S[active]
    D = np.diag(np.diag(mem.SY))
    Q = np.tril(Sa.T @ Ya, -1) - np.triu(Sf.T @ Yf)
    K = _Saddle(D + Yf.T @ Yf / theta, Q, theta * (Sa.T @ Sa))
    if not K.ok:
        return None
    a, b = K.solve(Yf.T @ r, theta * (Sf.T @ r))
    du = (r + Yf @ a / theta + Sf @ b) / theta
    alpha = 1.0
    cand = alpha
    ibd = -1
    for pos, k in enumerate(free):
        dk = du[pos]
        if nbd[k] == _NONE:
            continue
        if dk < 0.0 and nbd[k] <= _BOTH:
            room = lower[k] - z[k]
            if room >= 0.0:
                cand = 0.0
            elif dk * alpha < room:
                cand = room / dk
        elif dk > 0.0 and nbd[k] >= _BOTH:
            room = upper[k] - z[k]
            if room <= 0.0:
                cand = 0.0
            elif dk * alpha > room:
                cand = room / dk
        if cand < alpha:
            alpha = cand
            ibd = pos
    z = z.copy()
    if alpha < 1.0:
        # the variable that stops the step lands exactly on its bound
        k = free[ibd]
        if du[ibd] > 0.0:
            z[k] = upper[k]
            du[ibd] = 0.0
        elif du[ibd] < 0.0:
            z[k] = lower[k]
            du[ibd] = 0.0
    z[free] += alpha * du
    return z


def _max_step(x, d, lower, upper, nbd):
    """Largest step along d that stays in the box."""
    stpmx = _STPMAX_FREE
    for i in range(x.size):
        a1 = d[i]
        if nbd[i] == _NONE:
            continue
        if a1 < 0.0 and nbd[i] <= _BOTH:
            a2 = lower[i] - x[i]
            if a2 >= 0.0:
                stpmx = 0.0
            elif a1 * stpmx < a2:
                stpmx = a2 / a1
        elif a1 > 0.0 and nbd[i] >= _BOTH:
            a2 = upper[i] - x[i]
            if a2 <= 0.0:
                stpmx = 0.0
            elif a1 * stpmx > a2:
                stpmx = a2 / a1
    return stpmx


# ---------------------------------------------------------------- driver


def minimize_lbfgsb(
    fun: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    x0,
    lower,
    upper,
    m: int = 5,
    factr: float = 1e7,
    pgtol: float = 0.0,
    maxit: int = 100,
) -> LbfgsbResult:
    """Minimise fun subject to lower <= x <= upper along R's L-BFGS-B path.

    ``lower``/``upper`` are scalars or arrays; -inf / inf (or None) leave a side unbounded.
    ``m`` is R's ``lmm``; ``factr``, ``pgtol`` and ``maxit`` are R's controls. Scale the
    variables beforehand for a ``parscale`` (R minimises over ``par / parscale``). fun and
    grad are each called once per evaluation, fun first, as R's optim does. Returns
    ``LbfgsbResult(x, fun, n_iter, n_evals, converged, message)``: n_evals is R's
    ``counts``, message R's message ("NEW_X" when maxit stopped the search), and
    ``.status`` R's convergence code.
    """
    x = np.array(x0, dtype=float).ravel()
    n = x.size
    if n == 0:
        raise ValueError("L-BFGS-B needs at least one variable")
    if m < 1:
        raise ValueError(f"m (the number of corrections kept) must be >= 1, got {m}")
    if factr < 0:
        raise ValueError(f"factr must be >= 0, got {factr}")
    lower = _bound(lower, n, -np.inf, "lower")
    upper = _bound(upper, n, np.inf, "upper")
    has_l, has_u = np.isfinite(lower), np.isfinite(upper)
    nbd = np.where(has_l & has_u, _BOTH, np.where(has_l, _LOWER, np.where(has_u, _UPPER, _NONE)))
    bad = np.flatnonzero(has_l & has_u & (lower > upper))
    if bad.size:
        raise ValueError(f"no feasible point: lower > upper for variable(s) {bad.tolist()}")
    if not np.all(np.isfinite(x)):
        raise ValueError("the starting point has non-finite values")

    # start inside the box
    x = np.where(has_l & (x < lower), lower, x)
    x = np.where(has_u & (x > upper), upper, x)
    iwhere = np.where(nbd == _NONE, -1, np.where((nbd == _BOTH) & (upper - lower <= 0), 3, 0))
    constrained = bool(np.any(nbd != _NONE))
    boxed = bool(np.all(nbd == _BOTH))
    tol = factr * _EPS

    def evaluate(pt):
        fv = float(fun(pt))
        if not math.isfinite(fv):
            raise ConvergenceError(
                f"L-BFGS-B needs finite objective values; got {fv} at {pt.tolist()}")
        gv = np.array(grad(pt), dtype=float).ravel()
        if gv.shape != (n,) or not np.all(np.isfinite(gv)):
            raise ConvergenceError(f"L-BFGS-B needs a finite gradient of length {n}")
        return fv, gv

    f, g = evaluate(x)
    n_evals = 1
    sbgnrm = _projected_gradient_norm(x, g, lower, upper, nbd)
    if sbgnrm <= pgtol:
        return LbfgsbResult(x, f, 0, n_evals, True, MSG_PGTOL)

    mem = _Memory(n, m)
    it = 0  # iterations (R's iter)
    n_new = 0  # accepted iterates, which R's driver checks against maxit
    free = np.arange(n)
    while True:
        # ---- Cauchy point and subspace step
        if not constrained and mem.col > 0:
            z = x.copy()
        else:
            z = _cauchy_point(x, g, lower, upper, nbd, iwhere, mem, sbgnrm)
            free = np.flatnonzero(iwhere <= 0)
        if free.size and mem.col > 0:
            zs = _subspace_step(x, g, z, lower, upper, nbd, free, mem)
            if zs is None:
                mem.reset()
                continue
            z = zs

        # ---- line search along d = z - x
        d = z - x
        dtd = float(d @ d)
        dnorm = math.sqrt(dtd)
        if constrained:
            stpmx = 1.0 if it == 0 else _max_step(x, d, lower, upper, nbd)
        else:
            stpmx = _STPMAX_FREE
        stp = min(1.0 / dnorm, stpmx) if (it == 0 and not boxed) else 1.0
        x0_, g0_, f0_ = x, g, f
        gd = gdold = float(g @ d)
        failed = gd >= 0.0  # not a descent direction
        if not failed:
            ls = _LineSearch(stp, stpmx)
            n_trial = 0
            while True:
                stp, task = ls.step(f, gd)
                if task.startswith(("CONV", "WARN")):
                    break
                if task.startswith("ERROR"):
                    failed = True
                    break
                n_trial += 1
                if n_trial > _MAX_BACKTRACK:
                    failed = True
                    break
                x = z.copy() if stp == 1.0 else stp * d + x0_
                f, g = evaluate(x)
                n_evals += 1
                gd = float(g @ d)
        if failed:
            x, g, f = x0_, g0_, f0_
            if mem.col == 0:
                return LbfgsbResult(x, f, it + 1, n_evals, False, MSG_LNSRCH)
            mem.reset()
            continue

        # ---- new iterate
        it += 1
        n_new += 1
        sbgnrm = _projected_gradient_norm(x, g, lower, upper, nbd)
        if n_new > maxit:
            return LbfgsbResult(x, f, it, n_evals, False, MSG_MAXIT)
        if sbgnrm <= pgtol:
            return LbfgsbResult(x, f, it, n_evals, True, MSG_PGTOL)
        if f0_ - f <= tol * max(abs(f0_), abs(f), 1.0):
            return LbfgsbResult(x, f, it, n_evals, True, MSG_FACTR)

        # ---- limited-memory update (skipped unless s'y is safely positive)
        y = g - g0_
        rr = float(y @ y)
        if stp == 1.0:
            dr = gd - gdold
            ddum = -gdold
            s = d
            ss = dtd
        else:
            dr = (gd - gdold) * stp
            ddum = -gdold * stp
            s = stp * d
            ss = stp * stp * dtd
        if dr <= _EPS * ddum:
            continue
        if not mem.add(s, y, dr, ss, rr / dr):
            mem.reset()


def _bound(b, n, inf, name):
    if b is None:
        return np.full(n, inf)
    arr = np.array(b, dtype=float).ravel()
    if arr.size == 1:
        arr = np.full(n, arr[0])
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} values for {n} variables")
    arr = np.where(np.isnan(arr), inf, arr)
    return arr
