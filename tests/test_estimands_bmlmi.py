"""method="bmlmi": rbmi's method_bmlmi (von Hippel and Bartlett 2021 bootstrapped ML multiple
imputation) and its pooling.

References: tests/reference/rbmi/ad_bmlmi_us_JR.json (R rbmi 1.5.2, method_bmlmi(B = 50, D = 2),
made by tests/reference/rbmi/make_rbmi_reference.R): ``pool_inputs`` holds the 100 per-data-set
estimates of each trt parameter, from which rbmi's pooling (``rbmi:::get_ests_bmlmi``, df
floored at 3, t interval) is deterministic: tolerance RBMI_POOL. The draws depend on R's random
numbers, so our draws are checked in distribution: the bmlmi point estimate of JR must lie within
4 Monte-Carlo standard errors (sqrt(MSB / (B D)), the variance of a grand mean of B groups of D)
of the conditional-mean JR estimate of ad_jk_us_JR (results.tight).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from rbmi_data import FORMULA, antidepressant, load_case
from tolerances import RBMI_POOL

import trialstats as ts
from trialstats.errors import ModelError
from trialstats.estimands._analysis import pool_bmlmi
from trialstats.estimands._engine import impute_sample, sample_indices
from trialstats.estimands.api import full_fit, prepare

CASE = load_case("ad_bmlmi_us_JR")
ICE = pd.DataFrame(CASE["call"]["data_ice"])
ARGS = dict(subject="PATIENT", visit="VISIT", group="THERAPY", reference={"DRUG": "PLACEBO"},
            ice=ICE, covariates=["BASVAL"])


def _bmlmi(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 3618's intermittent gap: imputed MAR
        return ts.rbmi(antidepressant(), FORMULA, method="bmlmi", **ARGS, **kw)


@pytest.mark.parametrize("visit", ["4", "5", "6", "7"])
def test_pooling_equals_rbmi_from_its_pool_inputs(visit):
    ests = np.asarray(CASE["pool_inputs"]["by_parameter"][f"trt_{visit}"]["est"])[:, None]
    ref = next(b for b in CASE["results"]["default"]["by_visit"] if b["visit"] == visit)["trt"]
    est, se, df, lo, hi, p = (float(a[0]) for a in pool_bmlmi(ests, 2, 0.95))
    assert_allclose([est, lo, hi], [ref["est"], *ref["ci"]], **RBMI_POOL)
    assert_allclose(se, ref["se"], **RBMI_POOL)
    assert_allclose(df, ref["df"], **RBMI_POOL)
    assert_allclose(p, ref["pvalue"], **RBMI_POOL)


def test_df_is_floored_at_three():
    # two samples whose imputations agree exactly: MSW = 0, df = B - 1 = 1 -> floored at 3
    out = pool_bmlmi(np.array([[1.0], [1.0], [2.0], [2.0]]), 2, 0.95)
    assert out[2][0] == 3.0


def test_jr_estimate_agrees_with_conditional_mean_within_monte_carlo_error():
    mi = _bmlmi(n_samples=100, n_imputations=2, seed=20251132, engine="sequential")
    ref = load_case("ad_jk_us_JR")["results"]["tight"]["by_visit"][3]["trt"]["est"]
    trt = mi.samples[(mi.samples["parameter"] == "trt") & (mi.samples["visit"] == "7")]
    grid = trt["estimate"].to_numpy().reshape(100, 2)
    msb = 2 * np.sum((grid.mean(axis=1) - grid.mean()) ** 2) / 99
    mc_se = np.sqrt(msb / 200)
    row = mi.pooled[(mi.pooled["parameter"] == "trt") & (mi.pooled["visit"] == "7")].iloc[0]
    assert abs(row["estimate"] - ref) < 4 * mc_se
    assert row["estimate"] == pytest.approx(grid.mean(), rel=1e-12)
    assert np.isfinite(row["df"]) and row["df"] >= 3 and row["std_error"] > 0
    assert mi.n_samples == 200 and mi.settings["n_imputations"] == 2


def test_same_seed_same_result_on_any_engine():
    a = _bmlmi(n_samples=6, n_imputations=3, seed=5, engine="sequential")
    b = _bmlmi(n_samples=6, n_imputations=3, seed=5, engine="local", workers=2)
    assert_array_equal(a.pooled["estimate"], b.pooled["estimate"])
    assert_array_equal(a.pooled["std_error"], b.pooled["std_error"])
    c = _bmlmi(n_samples=6, n_imputations=3, seed=6, engine="sequential")
    assert not np.array_equal(a.pooled["estimate"], c.pooled["estimate"])


def test_each_copy_of_a_resampled_subject_gets_its_own_draw():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prep = prepare(antidepressant(), FORMULA, strategy="MAR", **ARGS)
    fit, _ = full_fit(prep)
    idx, rng = sample_indices(prep.problem, "bmlmi", 0, 11)
    miss = prep.problem.missing
    dup = next(s for s in np.unique(idx) if (idx == s).sum() > 1 and miss[s].any())
    rows = impute_sample(prep.problem, fit, idx, rng)[idx == dup]
    assert not np.allclose(rows[0][miss[dup]], rows[1][miss[dup]])  # independent draws
    assert_array_equal(rows[0][~miss[dup]], prep.problem.y[dup][~miss[dup]])  # observed kept
    assert_array_equal(rows[1][~miss[dup]], prep.problem.y[dup][~miss[dup]])


@pytest.mark.parametrize("kw, message", [
    (dict(method="condmean", n_imputations=2), "n_imputations applies to method='bmlmi' only"),
    (dict(method="bmlmi", n_samples=5, n_imputations=1), "must be an integer from 2 to 1000"),
    (dict(method="bmlmi", n_samples=5, analysis=lambda d: d), "not supported with method='bmlmi'"),
    (dict(method="bmlmi"), "needs n_samples"),
])
def test_bad_bmlmi_options(kw, message):
    with pytest.raises(ModelError, match=message):
        ts.rbmi(antidepressant(), FORMULA, **ARGS, **kw)
