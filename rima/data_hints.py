"""What in the data to look at when an estimator fails on it.

A fit that does not converge is usually the data's doing: too few complete rows for the
parameters, sampling weights spanning many orders of magnitude, or a column on a scale
far from the others. These helpers turn such failures into input errors (exit status 3)
that point at the rows and columns, instead of an "internal error".
"""

from __future__ import annotations

import numpy as np


def convergence_hints(df, spec) -> str:
    """Lines naming what in `df` most likely stopped the estimation."""
    from rima.columns import to_float

    lines = []
    variables = [c for c in spec.variables if c in df.columns]
    complete = np.ones(len(df), dtype=bool)
    scales = {}
    for c in variables:
        x, _ = to_float(df[c])
        complete &= np.isfinite(x)
        present = x[np.isfinite(x)]
        if present.size > 1:
            scales[c] = float(np.std(present))
    n = int(complete.sum())
    k = len(spec.pillars) + len(spec.indicators)
    if n < 10 * k:
        lines.append(f"only {n} row(s) have every analysis variable; the MIMIC has {k} "
                     f"observed variables and needs many more complete rows (at least "
                     f"{10 * k} is a usual minimum)")
    if spec.weight and spec.options.weights and spec.weight in df.columns:
        w, _ = to_float(df[spec.weight])
        pos = np.flatnonzero(np.isfinite(w) & (w > 0))
        if pos.size:
            hi, lo = pos[np.argmax(w[pos])], pos[np.argmin(w[pos])]
            if w[hi] / w[lo] > 1e6:
                lines.append(f"weights in {spec.weight} range from {w[lo]:.4g} (row {lo + 1}) "
                             f"to {w[hi]:.4g} (row {hi + 1}); check the weights (a few rows "
                             "with huge weights make the weighted model degenerate)")
    if scales:
        big = max(scales, key=scales.get)
        small = min(scales, key=lambda c: scales[c] if scales[c] > 0 else np.inf)
        if scales[small] > 0 and scales[big] / scales[small] > 1e8:
            lines.append(f"column scales differ widely: {big} has SD {scales[big]:.4g}, "
                         f"{small} {scales[small]:.4g}; rescale {big}")
    if not lines:
        lines.append("check the rows used (rima validate), the weights and columns with "
                     "extreme values")
    return "what to look at in the data:\n" + "\n".join(f"  - {s}" for s in lines)


def largest_values(block, cols, rows, names, weights=None) -> str:
    """"herd_su holds 1e+303 at row 12" for the column with the largest magnitude among
    `block[cols][:, rows]` (and the weight, if it is the larger)."""
    best = (-1.0, None, None)
    for j, c in enumerate(cols):
        v = np.abs(block[c][rows])
        if v.size:
            i = int(np.nanargmax(np.where(np.isfinite(v), v, np.inf)))
            if v[i] > best[0]:
                best = (float(v[i]), names[j] if names is not None else f"column {j}",
                        int(rows[i]))
    if weights is not None:
        wv = np.abs(weights[rows])
        if wv.size and float(np.max(wv)) > best[0]:
            i = int(np.argmax(wv))
            best = (float(wv[i]), "the weight", int(rows[i]))
    size, name, row = best
    if name is None:
        return "no column found"
    return f"{name} holds {block_value(size)} at data row {row + 1}"


def block_value(x: float) -> str:
    return f"{x:.4g}"
