"""The RCI 0-100 scale: the one place that says how RCI becomes RCI_100.

RCI_100 = 100 (RCI - lo) / (hi - lo), where (lo, hi) is the range of the RCI over the
scored training households (`training_range`), or fixed RCI values from the spec's
`options.rci_100`. The scoring kernel, the fit, the bootstrap replicates, a loaded model
and the scenario effects all go through these functions, so changing the scale is a change
to this file alone. Each function does the same floating-point operations in the same order
wherever it is called (jitted scalar functions are inlined into the calling kernels), so
the fitted and the re-scored RCI_100 stay bit-identical.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def span_of(lo, hi):
    """Width of the scale's range in RCI units."""
    return hi - lo


@njit(cache=True, inline="always")
def to_100(rci, lo, span):
    """RCI_100 of one RCI value, given the range's low end and `span_of(lo, hi)`."""
    return 100.0 * (rci - lo) / span


@njit(cache=True, inline="always")
def change_to_100(d_rci, span):
    """A change of the RCI expressed in RCI_100 points (the scale is affine)."""
    return 100.0 * d_rci / span


@njit(cache=True)
def training_range(rci, rows):
    """(scored, lo, hi): scored = rows & finite RCI; lo, hi = min and max of the scored RCI."""
    n = rci.shape[0]
    scored = np.empty(n, dtype=np.bool_)
    mn = np.inf
    mx = -np.inf
    for i in range(n):
        v = rci[i]
        ok = rows[i] and np.isfinite(v)
        scored[i] = ok
        if ok:
            mn = min(mn, v)
            mx = max(mx, v)
    return scored, mn, mx


def is_finite_number(x) -> bool:
    """A JSON or TOML value that is a finite number (not a bool, not an integer beyond
    float64's range, which `math.isfinite` cannot even convert)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def scale_problem(lo, hi):
    """Why (lo, hi) cannot be an RCI_100 scale (a sentence), or None when it can: the one
    rule for the spec's fixed `rci_100` and a model file's `rci_100_scale`.

    RCI_100 = 100 (RCI - lo) / (hi - lo): both ends and the width must be finite, and the
    width positive and not vanishing next to the ends (a width of 5e-324 or a range of
    [-1e308, 1e308] gives inf or NaN for every household).
    """
    if not all(is_finite_number(x) for x in (lo, hi)):
        return f"the ends must be finite numbers, got [{lo!r}, {hi!r}]"
    width = float(hi) - float(lo)
    if not math.isfinite(width):
        return f"the width {hi!r} - {lo!r} overflows"
    if not width > 1e-9 * max(1.0, abs(float(lo)), abs(float(hi))):
        return (f"the width {width!r} is not positive, or too small next to the ends for "
                "RCI_100 to be computed")
    return None


def choose_range(trained_lo, trained_hi, fixed=None):
    """The range used: the spec's fixed (low, high) RCI values if given, else the training
    min and max. Returns floats (lo, hi)."""
    lo, hi = (trained_lo, trained_hi) if fixed is None else fixed
    return float(lo), float(hi)


def array_to_100(rci, lo, hi):
    """RCI_100 of an array of RCI values with `to_100`'s arithmetic (the same bits)."""
    lo, hi = float(lo), float(hi)
    return 100.0 * (np.asarray(rci, dtype=np.float64) - lo) / (hi - lo)


def array_change_to_100(d_rci, lo, hi):
    """`change_to_100` over an array of RCI changes (the same bits)."""
    return 100.0 * np.asarray(d_rci, dtype=np.float64) / (float(hi) - float(lo))


def out_of_range(rci_100):
    """True where RCI_100 lies outside [0, 100] (a household beyond the training range);
    False for NaN."""
    rci_100 = np.asarray(rci_100, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (rci_100 < 0) | (rci_100 > 100)
