"""The printable summary of survival results: the shared :class:`trialstats._summary.Summary`."""

from .._summary import Summary, summary_html

__all__ = ["Summary", "summary_html"]
