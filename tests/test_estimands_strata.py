"""Bootstrap strata other than the arm (rbmi's ``set_vars(strata = ...)``, used by
``method_condmean(type = "bootstrap")``, ``method_approxbayes`` and ``method_bmlmi``).

rbmi's ``sample_ids`` resamples within each stratum, keeping its size; these tests check that
property of every sample (a closed-form count, no tolerance), that the default (the arm) and
``strata=[group]`` are the same samples, and the errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from rbmi_data import FORMULA, antidepressant, load_case

import trialstats as ts
from trialstats.errors import ModelError
from trialstats.estimands._engine import sample_indices
from trialstats.estimands.api import prepare

ICE = pd.DataFrame(load_case("ad_jk_us_JR")["call"]["data_ice"])
ARGS = dict(subject="PATIENT", visit="VISIT", group="THERAPY", reference={"DRUG": "PLACEBO"},
            ice=ICE, covariates=["BASVAL"])


def _data():
    """rbmi's grid with GENDER carried to the added rows too (expand_locf carries only the
    variables it is given: BASVAL and THERAPY)."""
    d = antidepressant()
    d["GENDER"] = d.groupby("PATIENT")["GENDER"].transform(lambda s: s.ffill().bfill())
    return d


def _prep(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return prepare(_data(), FORMULA, **ARGS, **kw)


def _subject_values(prep, column):
    d = _data().groupby("PATIENT", sort=False)[column].first()
    return d.loc[list(prep.subjects)].astype(str).to_numpy()


def test_every_bootstrap_sample_keeps_the_size_of_each_stratum():
    prep = _prep(strata=["THERAPY", "GENDER"])
    key = np.char.add(_subject_values(prep, "THERAPY"), _subject_values(prep, "GENDER"))
    want = pd.Series(key).value_counts().sort_index()
    for i in range(20):
        idx, _ = sample_indices(prep.problem, "bootstrap", i, 7)
        assert_array_equal(pd.Series(key[idx]).value_counts().sort_index(), want)


def test_unstratified_samples_let_the_arm_sizes_vary():
    prep = _prep(strata=[])
    arm = prep.problem.arm
    sizes = {int((arm[sample_indices(prep.problem, "bootstrap", i, 7)[0]] == 0).sum())
             for i in range(20)}
    assert len(sizes) > 1
    assert all(len(sample_indices(prep.problem, "bootstrap", i, 7)[0]) == len(arm)
               for i in range(3))


def test_default_strata_is_the_arm():
    a, b = _prep(), _prep(strata=["THERAPY"])
    for i in range(5):
        assert_array_equal(sample_indices(a.problem, "bootstrap", i, 3)[0],
                           sample_indices(b.problem, "bootstrap", i, 3)[0])


def test_stratified_bootstrap_runs_end_to_end():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mi = ts.rbmi(_data(), FORMULA, **ARGS, strategy="MAR", method="condmean",
                     inference="bootstrap", n_samples=20, seed=1, strata=["THERAPY", "GENDER"],
                     engine="sequential")
    assert mi.settings["strata"] == ["THERAPY", "GENDER"]
    assert np.isfinite(mi.pooled["std_error"]).all()


@pytest.mark.parametrize("strata, message", [
    (["NOPE"], "strata must be column names of data; 'NOPE' is not"),
    (["HAMDTL17"], "column 'HAMDTL17' changes within subjects"),
])
def test_bad_strata(strata, message):
    with pytest.raises(ModelError, match=message):
        _prep(strata=strata)


def test_a_stratum_missing_on_added_rows_is_named():
    with pytest.raises(ModelError, match="column 'GENDER' changes within subjects 1513"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            prepare(antidepressant(), FORMULA, **ARGS, strata=["GENDER"])
