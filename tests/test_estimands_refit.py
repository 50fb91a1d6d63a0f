"""ts.rbmi's imputation-model fits go through ts.mmrm's refit path (MMRMProblem).

Independent check: each fit of a jackknife or bootstrap sample equals a fresh ``ts.mmrm`` fit
(itself validated against R mmrm) on the data frame that sample stands for: the rows the
imputation model uses (observed, not at or after a non-MAR ICE) of the sample's subjects, a
subject drawn twice entering twice under new identifiers. rbmi's refits start from the full-data
theta, so they reach the fresh fit's optimum to the warm-start tolerance (tests/tolerances.py
WARM_START, rtol 1e-8), not bitwise. The R parity of the whole pipeline is
tests/test_estimands_reference.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tolerances import WARM_START

import trialstats as ts
from trialstats.estimands import _engine
from trialstats.estimands.api import prepare

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_rbmi import exo_hair_301  # noqa: E402

FORMULA = "CHG ~ ARM * AVISIT + BASE * AVISIT"
REF = {"EXOSOME": "PLACEBO", "MINOXIDIL": "PLACEBO"}
OPTS = dict(subject="USUBJID", visit="AVISIT", group="ARM", reference=REF)


@pytest.fixture(scope="module")
def hair():
    d, ice = exo_hair_301()
    prep = prepare(d, FORMULA, ice=ice, covariance="csh", same_cov=False, **OPTS)
    visits = list(d["AVISIT"].cat.categories)
    ice_at = d["USUBJID"].map(dict(zip(ice["USUBJID"], ice["AVISIT"], strict=True)))
    post = np.array([a == a and visits.index(v) >= visits.index(a)
                     for v, a in zip(d["AVISIT"], ice_at, strict=True)])
    used = d[d["CHG"].notna() & ~post]  # the rows of the JR imputation model
    return prep, used


def _fresh(used, subjects):
    """ts.mmrm on the rows of ``subjects`` (ids, in order; repeats renamed)."""
    parts, seen = [], {}
    for s in subjects:
        part = used[used["USUBJID"] == s].copy()
        seen[s] = seen.get(s, 0) + 1
        part["USUBJID"] = f"{s}#{seen[s]}"
        parts.append(part)
    return ts.mmrm(FORMULA, pd.concat(parts), subject="USUBJID", visit="AVISIT",
                   covariance="csh", group="ARM")


def _assert_fit(fit, fresh, prep):
    coef = fresh.coef.set_index("term")["estimate"]
    assert sorted(prep.design_columns) == sorted(coef.index)
    assert_allclose(fit.beta, coef[list(prep.design_columns)].to_numpy(), **WARM_START)
    for a, arm in enumerate(prep.arms):
        assert_allclose(fit.sigmas[a], fresh.covariance.loc[arm].to_numpy(), **WARM_START)


def test_the_imputation_model_is_an_mmrm_problem(hair):
    prep, used = hair
    mmrm, index = prep.problem.refit
    assert isinstance(mmrm, ts.MMRMProblem)
    has_rows = np.isin(np.asarray(prep.subjects), used["USUBJID"].unique())
    assert not has_rows.all()  # subjects with an ICE at the first visit have no rows
    assert_array_equal(index >= 0, has_rows)
    assert mmrm.n_subjects == has_rows.sum() and mmrm.n_obs == len(used)


def test_jackknife_samples_are_ts_mmrm_fits(hair):
    prep, used = hair
    full = _engine.fit_imputation_model(prep.problem, np.arange(prep.problem.n_subjects))
    _assert_fit(full, _fresh(used, prep.subjects), prep)
    _, index = prep.problem.refit
    for i in (3, int(np.flatnonzero(index < 0)[0])):  # a subject with rows, one without
        idx, _ = _engine.sample_indices(prep.problem, "jackknife", i, None)
        fit = _engine.fit_imputation_model(prep.problem, idx, full.theta)
        assert fit.converged
        _assert_fit(fit, _fresh(used, [prep.subjects[k] for k in idx if index[k] >= 0]), prep)


def test_bootstrap_sample_is_a_ts_mmrm_fit_with_copies(hair):
    prep, used = hair
    full = _engine.fit_imputation_model(prep.problem, np.arange(prep.problem.n_subjects))
    idx, _ = _engine.sample_indices(prep.problem, "bootstrap", 4, 2026)
    assert len(np.unique(idx)) < len(idx)
    fit = _engine.fit_imputation_model(prep.problem, idx, full.theta)
    _, index = prep.problem.refit
    _assert_fit(fit, _fresh(used, [prep.subjects[k] for k in idx if index[k] >= 0]), prep)
