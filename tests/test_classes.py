"""rima.classes against R: cut(right = FALSE), quantile(type = 1), survey::svyquantile."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rima.classes import (
    DEFAULT_LABELS,
    DEFAULT_THRESHOLDS,
    ClassScheme,
    check_scheme,
    quantile_thresholds,
    resilience_class,
    resilience_class_quantile,
    weighted_quantile,
)
from rima.errors import RimaInputError

REF = json.loads(
    (Path(__file__).parent / "reference" / "classes_reference.json").read_text()
)


def test_default_thresholds_are_thirds_of_the_scale():
    assert DEFAULT_THRESHOLDS == (100 / 3, 200 / 3)
    assert DEFAULT_LABELS == ("low", "medium", "high")


def test_fixed_classes_match_r_cut():
    case = REF["scores"]
    got = resilience_class(np.array(case["x"]))
    assert list(got.astype(str)) == case["classes"]
    # R's thresholds are the same doubles as ours
    assert tuple(case["thresholds"]) == pytest.approx(DEFAULT_THRESHOLDS, abs=1e-12)


def test_custom_four_classes_match_r_cut_including_values_on_cut_points():
    case = REF["four_classes"]
    labels = ("very_low", "low", "medium", "high")
    got = resilience_class(case["x"], case["thresholds"], labels)
    assert list(got.astype(str)) == case["classes"]
    # the last three values sit exactly on the cut points and go to the class above
    assert list(got[-3:].astype(str)) == ["low", "medium", "high"]


def test_unweighted_quantile_is_r_type_1():
    case = REF["scores"]
    got = weighted_quantile(case["x"], case["probs"])
    np.testing.assert_array_equal(got, case["quantile_type1"])


def test_weighted_quantile_matches_svyquantile_math():
    for name in ("scores", "integer_weights"):
        case = REF[name]
        got = weighted_quantile(case["x"], case["probs"], case["w"])
        np.testing.assert_array_equal(got, case["svyquantile_math"], err_msg=name)


def test_integer_weights_equal_replicated_rows():
    case = REF["integer_weights"]
    got = weighted_quantile(case["x"], case["probs"], case["w"])
    np.testing.assert_array_equal(got, case["replicated_type1"])


def test_quantile_classes_use_weighted_terciles():
    case = REF["scores"]
    x, w = np.array(case["x"]), np.array(case["w"])
    classes, t = resilience_class_quantile(x, weights=w)
    assert t == quantile_thresholds(x, weights=w)
    expected = np.where(x < t[0], "low", np.where(x < t[1], "medium", "high"))
    assert list(classes.astype(str)) == list(expected)
    # inverse-CDF cut points: the weighted share strictly below the first is under 1/3
    assert w[x < t[0]].sum() / w.sum() < 1 / 3 <= w[x <= t[0]].sum() / w.sum()


def test_series_in_series_out_and_missing_stays_missing():
    s = pd.Series([10.0, np.nan, 50.0, 90.0], index=[5, 6, 7, 8])
    got = resilience_class(s)
    assert isinstance(got, pd.Series) and list(got.index) == [5, 6, 7, 8]
    assert got.name == "class"
    assert got.isna().tolist() == [False, True, False, False]
    assert got.cat.ordered and list(got.cat.categories) == ["low", "medium", "high"]
    # ordered: comparisons follow the class order, not the alphabet
    assert (got.dropna() < "high").tolist() == [True, True, False]


def test_weighted_quantile_ignores_missing_scores():
    x = [1.0, np.nan, 3.0, 2.0]
    w = [1.0, 100.0, 1.0, 1.0]
    assert weighted_quantile(x, [0.5], w).tolist() == [2.0]


def test_scheme_object():
    scheme = ClassScheme((25, 50, 75), ("a", "b", "c", "d"))
    assert scheme.lowest == "a"
    assert scheme.to_dict() == {"thresholds": [25.0, 50.0, 75.0], "labels": ["a", "b", "c", "d"]}
    assert list(scheme.classify([0, 25, 60, 80]).astype(str)) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "thresholds, labels, match",
    [
        ((60, 30), DEFAULT_LABELS, "strictly increasing"),
        ((30, 30), DEFAULT_LABELS, "strictly increasing"),
        ((30, np.inf), DEFAULT_LABELS, "finite"),
        ((30, np.nan), DEFAULT_LABELS, "finite"),
        ((), ("x",), "at least one"),
        ((30,), DEFAULT_LABELS, "2 classes, but 3 label"),
        ((30, 60), ("low", "low", "high"), "distinct"),
        ((30, 60), ("low", "", "high"), "non-empty"),
        ("30,60", DEFAULT_LABELS, "sequence of numbers"),
        (("a", 60), DEFAULT_LABELS, "must be numbers"),
        ((30, 60), "low", "sequence of strings"),
    ],
)
def test_bad_schemes_are_named(thresholds, labels, match):
    with pytest.raises(RimaInputError, match=match):
        check_scheme(thresholds, labels)


def test_bad_quantile_inputs():
    with pytest.raises(RimaInputError, match="probs"):
        weighted_quantile([1, 2], [1.5])
    with pytest.raises(RimaInputError, match="negative at position"):
        weighted_quantile([1, 2], [0.5], [1, -1])
    with pytest.raises(RimaInputError, match="must match"):
        weighted_quantile([1, 2], [0.5], [1])
    with pytest.raises(RimaInputError, match="positive weight"):
        weighted_quantile([np.nan], [0.5])
    with pytest.raises(RimaInputError, match="tied"):
        resilience_class_quantile([5.0] * 10)
