"""Deprecated keyword aliases: one keyword for one concept across the library.

The subject (cluster) column is ``subject=`` everywhere; the older spellings (``groups=`` of
:func:`trialstats.lmm` and :func:`trialstats.count_model`, ``cluster=`` of
:func:`trialstats.cox` and :func:`trialstats.fine_gray`) keep working for now with a
:class:`FutureWarning`.
"""

from __future__ import annotations

import warnings

from .errors import ModelError

__all__ = ["subject_alias"]


def subject_alias(subject: str | None, old: str | None, old_name: str, where: str,
                  default: str | None = "USUBJID") -> str | None:
    """The subject column from ``subject=`` or its deprecated alias ``<old_name>=``.

    Parameters
    ----------
    subject : str or None
        The value of ``subject=``.
    old : str or None
        The value of the deprecated keyword.
    old_name : str
        Its name (``"groups"``), for the messages.
    where : str
        The function (``"lmm"``), for the messages.
    default : str or None, default "USUBJID"
        When neither keyword is given (None: no subject column, as ``cox`` without clusters).

    Returns
    -------
    str or None

    Raises
    ------
    ModelError
        Both keywords given with different columns.
    """
    if old is None:
        return default if subject is None else subject
    warnings.warn(f"{where}: {old_name}= is deprecated and will be removed; use subject={old!r}",
                  FutureWarning, stacklevel=3)
    if subject is not None and subject != old:
        raise ModelError(f"{where}: subject={subject!r} and {old_name}={old!r} name different "
                         f"columns; give subject= only")
    return old
