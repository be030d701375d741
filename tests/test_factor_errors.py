"""Failure modes of FactorModel: clear errors naming the culprit, never silent NaN."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from rima import FactorModel
from rima.errors import ConvergenceError, DataError, HeywoodWarning, RimaInputError


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.standard_normal(n)
    return pd.DataFrame({
        "herd_su": 300 + 100 * (0.8 * f + 0.6 * rng.standard_normal(n)),
        "hay_t": 2 + 0.5 * (0.7 * f + 0.7 * rng.standard_normal(n)),
        "shelter": 0.6 * f + 0.8 * rng.standard_normal(n),
        "vehicle": (0.5 * f + rng.standard_normal(n) > 0).astype(float),
    })


def test_duplicate_variable_is_named():
    df = _frame()
    df["herd_copy"] = df["herd_su"] * 2 + 1
    with pytest.raises(DataError, match="'herd_su' and 'herd_copy'"):
        FactorModel(n_factors=1).fit(df)


def test_collinear_variables_are_named():
    df = _frame()
    df["total"] = df["herd_su"] / 100 + df["hay_t"] + df["shelter"]
    with pytest.raises(DataError, match="singular.*'herd_su'.*'hay_t'.*'shelter'.*'total'"):
        FactorModel(n_factors=1).fit(df)


def test_constant_column_is_named():
    df = _frame()
    df["electricity"] = 1.0
    with pytest.raises(DataError, match="constant.*electricity"):
        FactorModel(n_factors=1).fit(df)


def test_fewer_rows_than_variables():
    with pytest.raises(DataError, match="3 usable rows for 4 variables"):
        FactorModel(n_factors=1).fit(_frame().iloc[:3])


def test_missing_values_error_mode_names_cell_and_transform_refuses_nan():
    df = _frame()
    df.loc[7, "hay_t"] = np.nan
    # df.loc[7] is the eighth row; rows count from 1 in messages
    with pytest.raises(DataError, match="'hay_t' at row 8"):
        FactorModel(n_factors=1, missing="error").fit(df)
    fm = FactorModel(n_factors=1).fit(_frame())
    with pytest.raises(DataError, match="'hay_t' at row 8"):
        fm.transform(df)


def test_bad_options_are_named():
    df = _frame()
    for kw, word in [({"method": "uls"}, "method"), ({"rotation": "quartimax"}, "rotation"),
                     ({"n_factors": "scree"}, "n_factors"), ({"n_factors": 9}, "n_factors"),
                     ({"heywood": "ignore"}, "heywood"),
                     ({"method": "pca", "scores": "bartlett"}, "bartlett")]:
        with pytest.raises(RimaInputError, match=word):
            FactorModel(**{"n_factors": 1, **kw}).fit(df)


def test_too_many_factors_for_principal_axis_raises_not_nan():
    df = _frame()
    with pytest.raises(ConvergenceError, match="negative eigenvalue"):
        FactorModel(n_factors=2, method="pa", smc=True).fit(df)
    # with k = p every communality is 1: Bartlett weights would be infinite
    with pytest.warns(HeywoodWarning), pytest.raises(DataError, match="not finite.*'herd_su'"):
        FactorModel(n_factors=4, method="pa").fit(df)


def test_nonconvergence_warns():
    from rima.errors import RimaWarning

    fm = FactorModel(n_factors=2, method="pa", mode="psych")
    # one step cannot meet the tolerance from communalities of 1
    fm.set_params(method="pa")
    import rima.factor as F

    orig = F._PSYCH
    F._PSYCH = F._Settings(1e-3, 1, 1e-5, 1e-5, 1000, orig.opt_ftol, 100)
    try:
        with pytest.warns(RimaWarning, match="stopped before meeting its tolerance"):
            fm.fit(_frame())
    finally:
        F._PSYCH = orig
    assert fm.converged_ is False


def test_sklearn_api_pipeline_and_summary():
    df = _frame()
    fm = FactorModel(n_factors="kaiser", method="pa", rotation="none", scores="bartlett")
    assert clone(fm).get_params()["n_factors"] == "kaiser"
    pipe = Pipeline([("id", FunctionTransformer()), ("pillar", fm)])
    pipe.set_output(transform="default")
    S = pipe.fit_transform(df)
    fitted = pipe.named_steps["pillar"]
    assert S.shape == (len(df), fitted.n_factors_)
    assert np.all(np.isfinite(S))
    assert fitted.variance_weights_.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(fitted.pillar_score(df), S @ fitted.variance_weights_)
    np.testing.assert_allclose(fitted.mean_, df.mean().to_numpy())
    np.testing.assert_allclose(fitted.scale_, df.std(ddof=1).to_numpy())
    text = fitted.summary()
    for word in ("herd_su", "SS loadings", "Variance weight", "mode: psych", "n - 1"):
        assert word in text


def test_fit_correlation_has_no_scores():
    df = _frame()
    fm = FactorModel(n_factors=1).fit_correlation(df.corr().to_numpy(), len(df),
                                                  names=list(df.columns))
    assert list(fm.loadings_.index) == list(df.columns)
    with pytest.raises(RimaInputError, match="correlation matrix"):
        fm.transform(df)


def test_same_seed_same_parallel_result():
    df = _frame(n=500)
    a = FactorModel(n_factors="parallel", random_state=3).fit(df)
    b = FactorModel(n_factors="parallel", random_state=3).fit(df)
    assert a.n_factors_ == b.n_factors_
    np.testing.assert_array_equal(a.parallel_["threshold"], b.parallel_["threshold"])


def test_n_features_in_from_every_fit_path_and_checked_when_scoring():
    df = _frame()
    fm = FactorModel(n_factors=1).fit(df)
    assert fm.n_features_in_ == 4
    assert FactorModel(n_factors=1).fit_correlation(df.corr().to_numpy(), len(df)).n_features_in_ == 4
    # an array is scored by position, so its width must match; the message says both widths
    with pytest.raises(DataError, match="X has 3 features, but FactorModel is expecting 4"):
        fm.transform(df.to_numpy()[:, :3])
    # a DataFrame is read by name: extra columns are ignored
    wide = df.assign(extra=1.0)
    np.testing.assert_allclose(fm.transform(wide), fm.transform(df.to_numpy()))


def test_quiet_silences_factor_warnings_in_its_own_thread_only():
    """The build's asset index fits quietly while other recipes run beside it: a fit in
    another thread at the same time still warns (warnings.catch_warnings would have
    silenced every thread)."""
    import threading
    import warnings

    import numpy as np

    from rima.errors import RimaWarning
    from rima.factor import FactorAnalysis, quiet

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) + rng.normal(size=(200, 1))
    X[3, 1] = np.nan  # a row left out (listwise): a RimaWarning

    def fit():
        FactorAnalysis(n_factors=1, method="pa", missing="listwise").fit(X)

    inside, other_done = threading.Event(), threading.Event()

    def other():
        assert inside.wait(60)
        fit()
        other_done.set()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = threading.Thread(target=other)
        t.start()
        with quiet():
            fit()
            inside.set()
            assert other_done.wait(60)
        t.join()
        fit()
    left_out = [w for w in caught if issubclass(w.category, RimaWarning)
                and "left out" in str(w.message)]
    assert len(left_out) == 2  # the other thread's and the one after the block
