"""One place that calls lifelines quietly.

lifelines sets ``np.seterr`` globally and warns through its own warning classes (and on
non-integer weights); every call into it is wrapped in :func:`quiet_lifelines` so that neither
leaks into the caller's process. Our own checks (convergence, estimability) warn or raise
afterwards, in our words.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["quiet_lifelines"]


@contextmanager
def quiet_lifelines(record: bool = False) -> Iterator[list | None]:
    """Run a lifelines call with numpy's error state and the warning filters restored after it.

    Parameters
    ----------
    record : bool, default False
        False: lifelines' warnings are dropped. True: they are collected (every one, also
        repeats) into the yielded list, for the caller to inspect.

    Yields
    ------
    list of warnings.WarningMessage, or None when ``record`` is False
    """
    with np.errstate(), warnings.catch_warnings(record=record) as caught:
        warnings.simplefilter("always" if record else "ignore")
        yield caught
