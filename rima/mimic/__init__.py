"""MIMIC model for the Resilience Capacity Index, estimated as R's lavaan does.

    res = rima.mimic.fit("RCI =~ fcs + hdds + lfexp\nRCI ~ ABS + AST + SSN + AC", df,
                         se="robust.sem")
    res.params, res.fit_measures, res.r2, res.predict(df), res.summary()
"""

from rima.mimic.engine import fit
from rima.mimic.results import MimicResult
from rima.mimic.syntax import MimicModel, parse

__all__ = ["MimicModel", "MimicResult", "fit", "parse"]
