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


class RimaWarning(UserWarning):
    """Base class of rima's warnings."""


class HeywoodWarning(RimaWarning):
    """A communality reached or passed 1 in a factor analysis."""


class ImproperSolutionWarning(RimaWarning):
    """A MIMIC solution has negative variances or a non-positive-definite implied covariance."""


class OrientationWarning(RimaWarning):
    """A pillar variable's net weight or a pillar's MIMIC coefficient has the sign opposite
    to what its declared direction implies (rima.orientation)."""
