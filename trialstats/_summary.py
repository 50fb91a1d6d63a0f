"""A printable summary shared by all results: data with ``__str__`` and ``_repr_html_``."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Summary:
    """Title, named tables and notes of a result.

    Attributes
    ----------
    title : str
        One line naming the analysis.
    tables : dict of str -> DataFrame
        The numbers, tidy.
    notes : tuple of str
        Method notes printed under the tables.
    """

    title: str
    tables: dict
    notes: tuple = field(default_factory=tuple)

    def __str__(self) -> str:
        parts = [self.title, ""]
        for name, frame in self.tables.items():
            parts += [name, frame.to_string(index=False), ""]
        parts += list(self.notes)
        return "\n".join(parts).rstrip() + "\n"

    def as_text(self) -> str:
        """The summary as plain text."""
        return str(self)

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"]
        for name, frame in self.tables.items():
            parts.append(f"<p><b>{html.escape(name)}</b></p>")
            parts.append(pd.DataFrame(frame).to_html(index=False, float_format=lambda x: f"{x:.4g}"))
        parts += [f"<p><i>{html.escape(n)}</i></p>" for n in self.notes]
        return "\n".join(parts)
