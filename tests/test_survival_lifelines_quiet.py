"""The one helper that calls lifelines quietly (issue 8: it was copied six times)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import trialstats as ts
from trialstats.survival._lifelines import quiet_lifelines


def test_numpy_error_state_and_warnings_stay_inside():
    before = np.geterr()
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        with quiet_lifelines() as caught:
            np.seterr(all="raise")  # what lifelines does globally
            warnings.warn("from lifelines", UserWarning, stacklevel=1)
        assert caught is None
    assert np.geterr() == before
    assert outside == []


def test_record_collects_every_warning():
    with quiet_lifelines(record=True) as caught:
        warnings.warn("again", UserWarning, stacklevel=1)
        warnings.warn("again", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["again", "again"]


def test_a_lifelines_fit_leaves_the_process_as_it_was():
    before = np.geterr()
    d = pd.DataFrame({"AVAL": [1.0, 2.0, 3.0, 4.0, 5.0], "CNSR": [0, 1, 0, 0, 1],
                      "W": [0.5, 1.5, 1.0, 2.5, 1.0]})
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        ts.kaplan_meier(d, censor="CNSR", by=None, weights="W")  # lifelines warns on non-integer weights
    assert np.geterr() == before
    assert not [w for w in outside if "lifelines" in str(w.filename)]
