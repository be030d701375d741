"""`FactorModel`: `rima.factor.FactorAnalysis` as a scikit-learn estimator.

`clone`, `get_params` / `set_params`, `Pipeline` and `fit_transform` come from
scikit-learn's base classes. It lives apart from rima.factor because importing scikit-learn
(which imports scipy.stats) costs about a second that the pipeline should not pay.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin

from rima.factor import FactorAnalysis


class FactorModel(TransformerMixin, BaseEstimator, FactorAnalysis):
    __doc__ = FactorAnalysis.__doc__
