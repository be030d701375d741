"""How results show themselves in a terminal and a notebook.

`Summary` is the text `summary()` returns: a `str` (it prints, compares and searches as
before) that also renders as HTML in a notebook (`_repr_html_`) and gives that HTML with
`as_html()`, as statsmodels' summaries do. `card_html` is the short HTML card the results'
`_repr_html_` show.
"""

from __future__ import annotations

import html
from typing import Self

import pandas as pd


class Summary(str):
    """Text of a summary; `as_html()` / `_repr_html_()` give an HTML rendering.

    Parameters
    ----------
    text : str
        The plain-text summary (what ``str`` and ``print`` show).
    html_body : str, optional
        Its HTML rendering; default the text in a ``<pre>`` block.
    """

    def __new__(cls, text: str, html_body: str | None = None) -> Self:
        obj = super().__new__(cls, text)
        obj._html = html_body
        return obj

    def as_text(self) -> str:
        """The summary as plain text.

        Returns
        -------
        str
        """
        return str.__str__(self)

    def as_html(self) -> str:
        """The summary as an HTML fragment (what a notebook shows).

        Returns
        -------
        str
        """
        if self._html is not None:
            return self._html
        return f"<pre>{html.escape(self.as_text())}</pre>"

    def _repr_html_(self) -> str:
        return self.as_html()

    def __repr__(self) -> str:
        # a notebook cell or REPL shows the text laid out, not one escaped line
        return self.as_text()


def frame_html(df: pd.DataFrame, digits: int = 3) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", na_rep="",
                      border=0, classes="rima")


def card_html(title: str, items, tables=()) -> str:
    """A short HTML card: title, (label, value) pairs, then titled tables."""
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                   f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
                   for k, v in items)
    parts = [(f"<div class='rima-card'><strong>{html.escape(title)}</strong>"
              f"<table>{rows}</table>")]
    for caption, df, digits in tables:
        parts.append(f"<div><em>{html.escape(caption)}</em>{frame_html(df, digits)}</div>")
    parts.append("</div>")
    return "".join(parts)
