"""The printable summary shared by every result: data with ``__str__`` and ``_repr_html_``."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Summary:
    """Title, key/value facts, named tables and notes of a result.

    ``str(summary)`` (or :meth:`as_text`) gives plain text; ``_repr_html_`` (or :meth:`as_html`)
    an HTML fragment with every string escaped, for Jupyter.

    Attributes
    ----------
    title : str
        One line naming the analysis.
    tables : dict of str -> DataFrame, or sequence of (name, DataFrame)
        The numbers, tidy.
    notes : tuple of str
        Method notes printed under the tables.
    info : tuple of (str, str)
        Key/value facts printed under the title (model, fit statistics).
    """

    title: str
    tables: dict | tuple = field(default_factory=dict)
    notes: tuple = field(default_factory=tuple)
    info: tuple = field(default_factory=tuple)

    def _items(self):
        return list(self.tables.items()) if isinstance(self.tables, dict) else list(self.tables)

    def as_text(self) -> str:
        """The summary as plain text."""
        parts = [self.title, "=" * len(self.title)]
        width = max((len(k) for k, _ in self.info), default=0)
        parts += [f"{k.ljust(width)}  {v}" for k, v in self.info]
        for name, frame in self._items():
            parts += ["", name,
                      pd.DataFrame(frame).to_string(index=False, float_format=lambda x: f"{x:.6g}")]
        if self.notes:
            parts += [""] + list(self.notes)
        return "\n".join(parts).rstrip() + "\n"

    def as_html(self) -> str:
        """The summary as an HTML fragment (strings escaped)."""
        parts = [f"<div class='trialstats-summary'><h4>{html.escape(self.title)}</h4>"]
        if self.info:
            parts.append("<dl>")
            parts += [f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
                      for k, v in self.info]
            parts.append("</dl>")
        for name, frame in self._items():
            parts.append(f"<p><b>{html.escape(name)}</b></p>")
            parts.append(pd.DataFrame(frame).to_html(index=False, float_format=lambda x: f"{x:.6g}"))
        parts += [f"<p><i>{html.escape(n)}</i></p>" for n in self.notes]
        parts.append("</div>")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


def summary_html(result) -> str:
    """``result.summary()`` as HTML: assign as ``_repr_html_ = summary_html`` in a result class
    so that Jupyter shows the result as tables."""
    return result.summary()._repr_html_()
