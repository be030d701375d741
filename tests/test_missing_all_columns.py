"""missing = "all_columns": Shiny RIMA's deletion of rows with a missing value in any
column of the data, analysed or not, each such row named with its column."""

import warnings

import numpy as np
import pandas as pd
from conftest import EXAMPLE_DATA, EXAMPLE_SPEC

import rima


def test_all_columns_deletes_rows_with_any_gap():
    df = pd.read_csv(EXAMPLE_DATA)
    df["enumerator_note"] = "fine"
    first_ok = int(np.flatnonzero(~df.isna().any(axis=1).to_numpy())[0])
    df.loc[first_ok, "enumerator_note"] = np.nan
    sd = rima.load_spec(EXAMPLE_SPEC).to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = rima.fit(df, sd)
        sd["options"]["missing"] = "all_columns"
        shiny = rima.fit(df, sd)
    expect = ~df.isna().any(axis=1).to_numpy()  # independent: complete in every column
    assert (shiny.ok.to_numpy() == expect).all()
    assert base.ok.iloc[first_ok] and not shiny.ok.iloc[first_ok]
    assert shiny.scores.loc[first_ok, "status"] == (
        'missing value in enumerator_note (missing = "all_columns")')
    assert np.isnan(shiny.scores.loc[first_ok, "RCI_100"])
    assert shiny.accounting["rows"].sum() == len(df)
