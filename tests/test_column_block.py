"""`rima.columns.convert_block`, the one home of the converted column block: values, per-row
missing masks and per-column findings checked against values written out by hand."""

import numpy as np
import pandas as pd

from rima.columns import convert_block


def test_convert_block_is_the_one_conversion_of_spec_columns():
    """`rima.columns.convert_block`: text, booleans, integers and floats into one block,
    missing and infinite cells marked per row, bad cells reported, never raised."""
    df = pd.DataFrame({
        "a": [1, 2, 3, 4],
        "b": [" 1.5", "", "x", "2"],
        "c": [0.5, np.inf, np.nan, -1.0],
        "d": [True, False, True, True],
    })
    conv = convert_block(df, ["a", "b", "c", "d"])
    nan = np.nan
    want = np.array([[1, 2, 3, 4], [1.5, nan, nan, 2], [0.5, nan, nan, -1], [1, 0, 1, 1]])
    np.testing.assert_array_equal(conv.block.values, want)
    # bit j of the row's word: column j missing (b in rows 2 and 3, c in rows 2 and 3)
    assert conv.block.masks[:, 0].tolist() == [0, 0b0110, 0b0110, 0]
    assert conv.count.tolist() == [4, 2, 2, 4] and conv.n_infinite.tolist() == [0, 0, 1, 0]
    assert conv.not_numbers[1].tolist() == [False, False, True, False]
    assert conv.minimum[2] == -1.0 and conv.maximum[0] == 4 and conv.total[1] == 3.5
    np.testing.assert_array_equal(conv.block.missing_rows(["a", "c"], every=False),
                                  [False, True, True, False])
    np.testing.assert_array_equal(conv.block.missing_rows(["b", "c"], every=True),
                                  [False, True, True, False])
    values = conv.block.take()
    assert values.shape == (4, 4)
    assert conv.block.take() is None
