"""Near-match suggestions for names the user got wrong (columns, options, pillars)."""

import difflib


def did_you_mean(name, candidates, limit: int = 3) -> str:
    """'; did you mean 'x' or 'y'?' for the closest candidates, or '' when none is close.

    A candidate that differs only in case comes first: 'FCS' for 'fcs' is the most common
    slip when data come from Stata or Excel.
    """
    name = str(name)
    lowered = {}
    for c in map(str, candidates):
        if c != name:
            lowered.setdefault(c.lower(), c)
    matches = []
    if name.lower() in lowered:
        matches.append(lowered[name.lower()])
    for m in difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.6):
        if lowered[m] not in matches:
            matches.append(lowered[m])
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches[:limit]) + "?"
