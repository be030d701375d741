"""`FactorModel`: `rima.factor.FactorAnalysis` as a scikit-learn estimator.

`clone`, `get_params` / `set_params`, `Pipeline` and `fit_transform` come from
scikit-learn's base classes; the shape checks of scikit-learn's `check_array` (2-D, at
least two rows and two variables, no complex or sparse data) run before the analysis's own
checks, so the estimator fails the way scikit-learn's own estimators do. It lives apart
from rima.factor because importing scikit-learn (which imports scipy.stats) costs about a
second that the pipeline should not pay.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array

from rima.errors import DataError
from rima.factor import FactorAnalysis


def _check_shape(estimator: FactorAnalysis, X: Any, min_rows: int, min_features: int) -> int:
    """scikit-learn's structural checks on X, raised as rima's `DataError`.

    Values are left to `FactorAnalysis` (missing cells follow its `missing` option,
    non-numeric columns and infinite cells are named there), so only the shape, sparse and
    complex input are judged here; X itself is passed on unchanged. Returns the number of
    columns.
    """
    try:
        return check_array(X, accept_sparse=False, dtype=None, ensure_all_finite=False,
                    ensure_min_samples=min_rows, ensure_min_features=min_features,
                    estimator=estimator).shape[1]
    except TypeError:
        raise  # sparse input: scikit-learn's TypeError says so
    except ValueError as e:
        raise DataError(str(e)) from None


class FactorModel(TransformerMixin, BaseEstimator, FactorAnalysis):
    __doc__ = FactorAnalysis.__doc__

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> FactorModel:
        """Fit the factor analysis to the rows of X.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            One row per household, one column per variable (at least two of each).
        y : None
            Ignored; present for scikit-learn's estimator protocol.
        sample_weight : array-like of shape (n_samples,), optional
            Survey weights; they weight the correlation matrix (``psych::fa(weight=)``).

        Returns
        -------
        FactorModel
            The fitted estimator.

        Raises
        ------
        DataError
            X is not 2-D, has fewer than two rows or variables, holds complex numbers, or
            fails the analysis's own checks (named in the message).
        TypeError
            X is a sparse matrix.
        """
        _check_shape(self, X, min_rows=2, min_features=2)
        return super().fit(X, y, sample_weight=sample_weight)

    def transform(self, X: Any) -> np.ndarray:
        """Factor scores of the rows of X.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features_in_)
            A DataFrame is read by the fitted variable names (other columns are ignored);
            an array must hold the fitted variables in order.

        Returns
        -------
        ndarray of shape (n_samples, n_factors_)
            Scores on the standardised variables, ``((X - mean_) / scale_) @ score_weights_``.

        Raises
        ------
        DataError
            X is not 2-D, has the wrong number of columns, a fitted column is missing, or
            a cell is missing or not finite (the message names the column and row).
        """
        if not isinstance(X, pd.DataFrame) and getattr(self, "loadings_", None) is not None:
            k = _check_shape(self, X, min_rows=1, min_features=1)
            if k != self.n_features_in_:
                raise DataError(f"X has {k} features, but {type(self).__name__} is expecting "
                                f"{self.n_features_in_} features as input")
        return super().transform(X)
