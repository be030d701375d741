"""Exceptions and warnings shared by every layer of rima.

The CLI maps `RimaInputError` (the user's data, spec, options or model file are at
fault) to exit status 3, click's usage errors keep status 2, and anything else is an
internal error with status 1, so scripts can tell "fix your input" from "report a bug".
"""


class RimaError(Exception):
    """Base class of every error rima raises on purpose."""


class RimaInputError(RimaError, ValueError):
    """The input (data, spec, options, model file) is at fault; the message names the culprit."""


class SpecError(RimaInputError):
    """The model specification is invalid."""


class DataError(RimaInputError):
    """The data cannot be used as given (file, column, rows named in the message)."""


class ModelFileError(RimaInputError):
    """A saved model file is truncated, edited, incompatible or does not fit the data."""


class ConvergenceError(RimaError):
    """An iterative estimator failed to converge; the message says what was tried."""


class DataConvergenceError(ConvergenceError, RimaInputError):
    """An estimator failed on these data (too few rows, wild weights or scales); an input
    error (exit status 3) whose message says what in the data to look at."""


class RimaWarning(UserWarning):
    """Base class of rima's warnings."""


class HeywoodWarning(RimaWarning):
    """A communality reached or passed 1 in a factor analysis."""


class ImproperSolutionWarning(RimaWarning):
    """A MIMIC solution has negative variances or a non-positive-definite implied covariance."""


class OrientationWarning(RimaWarning):
    """A pillar variable's net weight or a pillar's MIMIC coefficient has the sign opposite
    to what its declared direction implies (rima.orientation)."""


class ImpactDesignError(DataError):
    """An impact evaluation's design cannot identify an effect; `rows` counts the rows at issue."""

    def __init__(self, message, rows=None):
        super().__init__(message)
        self.rows = rows


class NoPrePeriodError(ImpactDesignError):
    """No survey round precedes the treatment, so there is no baseline to difference from."""


class ConstantTreatmentError(ImpactDesignError):
    """Every household is treated, or none is: there is no comparison group."""


class TooFewClustersError(ImpactDesignError):
    """Fewer than 2 treated or 2 control clusters (soums): clustered inference is impossible."""


class OutcomeMissingRoundError(ImpactDesignError):
    """An outcome is missing for every household of a round."""
