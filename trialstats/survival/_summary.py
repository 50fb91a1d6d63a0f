"""The printable summary of survival results: the shared :class:`trialstats._summary.Summary`."""

from .._summary import Summary

__all__ = ["Summary"]
