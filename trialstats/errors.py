"""The trialstats exception hierarchy.

Every error a user can cause is a :class:`TrialstatsError`. Errors about input tables are
:class:`TrialDataError`; errors about a model specification or a model that cannot be fitted are
:class:`ModelError`. Both are also :class:`ValueError`, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["TrialstatsError", "TrialDataError", "ModelError", "ConvergenceWarning"]


class TrialstatsError(Exception):
    """Base class of every trialstats error."""


class TrialDataError(TrialstatsError, ValueError):
    """Invalid trial data: what is wrong, where (table, column, rows) and what was expected.

    Parameters
    ----------
    message : str
        The full, human-readable message.
    problems : list, optional
        The individual problems (objects with ``table``, ``column``, ``rows``, ``message``), so a
        program can inspect them rather than parse the message.
    """

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class ModelError(TrialstatsError, ValueError):
    """A model that cannot be specified or fitted as asked, with the reason and what is valid."""


class ConvergenceWarning(UserWarning):
    """An optimiser stopped without meeting its convergence criterion."""
