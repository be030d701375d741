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
"""

import numpy as np


def score_households(X, mean, scale, W, member, Y, ymean, ysd, icpt, cx, cy, lo, hi):
    """Return (pillars (n, K), rci (n,), rci_100 (n,)); NaN where a row cannot be scored."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    xmiss = np.isnan(X)
    Z = (X - mean) / scale
    Z[xmiss] = 0.0
    pillars = Z @ W
    pillars[(xmiss.astype(np.float64) @ member.astype(np.float64)) > 0] = np.nan

    ymiss = np.isnan(Y)
    pattern = ymiss.astype(np.int64) @ (np.int64(1) << np.arange(Y.shape[1], dtype=np.int64))
    Yz = (Y - ymean) / ysd
    Yz[ymiss] = 0.0
    rci = icpt[pattern] + np.einsum("ik,ik->i", pillars, cx[pattern]) \
        + np.einsum("im,im->i", Yz, cy[pattern])
    rci_100 = 100.0 * (rci - lo) / (hi - lo)
    return pillars, rci, rci_100
