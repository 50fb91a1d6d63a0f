"""ts.rbmi beyond the R reference set: three arms, per-arm csh covariance, factor covariates and
lsm weights, user strategies, and the result's tidy outputs.

Independent checks: the imputation model equals ``ts.mmrm`` on the rows it is fitted to (itself
validated against R mmrm in tests/test_mmrm_reference.py); imputed values equal conditional
means computed here by hand from that fit's coefficients and covariance; the per-visit ANCOVA and
LS means equal statsmodels OLS and its ``get_prediction``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from tolerances import MMRM_TIGHT, SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_rbmi import exo_hair_301  # noqa: E402

FORMULA = "CHG ~ ARM * AVISIT + BASE * AVISIT"
REF = {"EXOSOME": "PLACEBO", "MINOXIDIL": "PLACEBO"}


@pytest.fixture(scope="module")
def hair():
    d, ice = exo_hair_301()
    sex = ts.datasets.load("exo-hair-301").adsl.set_index("USUBJID")["SEX"].astype(str)
    d["SEX"] = d["USUBJID"].map(sex)
    return d, ice


@pytest.fixture(scope="module")
def jr(hair):
    d, ice = hair
    return ts.rbmi(d, FORMULA, subject="USUBJID", visit="AVISIT", group="ARM", reference=REF,
                   ice=ice, covariance="csh", same_cov=False, covariates=["BASE", "SEX"],
                   inference="bootstrap", n_samples=2, seed=3, engine="sequential")


@pytest.fixture(scope="module")
def mmrm_fit(hair):
    """ts.mmrm on the rows the JR imputation model uses: observed, not at or after the ICE."""
    d, ice = hair
    visits = list(d["AVISIT"].cat.categories)
    ice_at = d["USUBJID"].map(dict(zip(ice["USUBJID"], ice["AVISIT"], strict=True)))
    post = [a == a and visits.index(v) >= visits.index(a)
            for v, a in zip(d["AVISIT"], ice_at, strict=True)]
    used = d[d["CHG"].notna() & ~np.asarray(post)]
    assert len(used) < d["CHG"].notna().sum()  # exo-hair-301 has observed post-ICE values
    return ts.mmrm(FORMULA, used, subject="USUBJID", visit="AVISIT", covariance="csh",
                   group="ARM")


def test_imputation_model_is_ts_mmrm(jr, mmrm_fit):
    beta = jr.imputation_model["beta"]
    coef = mmrm_fit.coef.set_index("term")["estimate"]
    assert sorted(beta.index) == sorted(coef.index)
    assert_allclose(beta[coef.index].to_numpy(), coef.to_numpy(), **MMRM_TIGHT)
    for arm in ("PLACEBO", "EXOSOME", "MINOXIDIL"):
        assert_allclose(jr.imputation_model["sigma"][arm].to_numpy(),
                        mmrm_fit.covariance.loc[arm].to_numpy(), **MMRM_TIGHT)


def _mean(coef, arm, visit, base):
    """Marginal mean from the named coefficients (R treatment coding, PLACEBO / WEEK 4 first)."""
    mu = coef["(Intercept)"] + coef["BASE"] * base
    if arm != "PLACEBO":
        mu += coef[f"ARM{arm}"]
    if visit != "WEEK 4":
        mu += coef[f"AVISIT{visit}"] + coef[f"AVISIT{visit}:BASE"] * base
        if arm != "PLACEBO":
            mu += coef[f"ARM{arm}:AVISIT{visit}"]
    return mu


def test_jr_imputation_by_hand_with_per_arm_covariance(hair, jr, mmrm_fit):
    """J2R with Carpenter's covariance, from the ts.mmrm fit, subject by subject."""
    d, ice = hair
    coef = mmrm_fit.coef.set_index("term")["estimate"]
    visits = ["WEEK 4", "WEEK 12", "WEEK 24"]
    imp = jr.imputed.set_index(["subject", "visit"])["imputed_value"]
    ice_at = dict(zip(ice["USUBJID"], ice["AVISIT"], strict=True))
    checked = 0
    for s, rows in d.groupby("USUBJID", observed=True):
        y = rows.set_index("AVISIT")["CHG"].reindex(visits).to_numpy()
        if not np.isnan(y).any():
            continue
        arm = rows["ARM"].iloc[0]
        base = rows["BASE"].iloc[0]
        k = visits.index(ice_at[s])
        own = np.array([_mean(coef, arm, v, base) for v in visits])
        ref = np.array([_mean(coef, "PLACEBO", v, base) for v in visits])
        A = mmrm_fit.covariance.loc[arm].to_numpy()
        R = mmrm_fit.covariance.loc["PLACEBO"].to_numpy()
        mu = np.r_[own[:k], ref[k:]]
        S = R.copy()
        if k > 0:  # Carpenter et al. (2013): own block before, reference regression after
            B = R[k:, :k] @ np.linalg.inv(R[:k, :k])
            S[:k, :k] = A[:k, :k]
            S[k:, :k] = B @ A[:k, :k]
            S[:k, k:] = S[k:, :k].T
            S[k:, k:] = R[k:, k:] - B @ R[:k, k:] + B @ A[:k, :k] @ B.T
        o, m = ~np.isnan(y), np.isnan(y)
        cm = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], y[o] - mu[o]) \
            if o.any() else mu[m]
        got = imp.loc[[(s, v) for v, miss in zip(visits, m, strict=True) if miss]].to_numpy()
        assert_allclose(got, cm, **MMRM_TIGHT)
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("weights", ["counterfactual", "equal"])
def test_ancova_and_lsmeans_match_statsmodels(hair, weights):
    d, ice = hair
    mi = ts.rbmi(d, FORMULA, subject="USUBJID", visit="AVISIT", group="ARM", reference=REF,
                 ice=ice, strategy="CR", covariates=["BASE", "SEX"], lsm_weights=weights,
                 inference="bootstrap", n_samples=2, seed=1, engine="sequential")
    full = d.copy()
    imp = mi.imputed.set_index(["subject", "visit"])["imputed_value"]
    key = list(zip(full["USUBJID"], full["AVISIT"].astype(str), strict=True))
    full["Y"] = [imp.get(k, np.nan) for k in key]
    full["Y"] = full["CHG"].fillna(full["Y"])
    arms = ["PLACEBO", "EXOSOME", "MINOXIDIL"]
    res = mi.full_data.set_index(["visit", "parameter", "arm"])
    for v in ["WEEK 4", "WEEK 12", "WEEK 24"]:
        sub = full[full["AVISIT"] == v]
        X = pd.DataFrame({"const": 1.0, "EXOSOME": (sub["ARM"] == "EXOSOME") * 1.0,
                          "MINOXIDIL": (sub["ARM"] == "MINOXIDIL") * 1.0,
                          "BASE": sub["BASE"], "SEXM": (sub["SEX"] == "M") * 1.0})
        ols = sm.OLS(sub["Y"].to_numpy(), X).fit()
        for a in arms[1:]:
            assert_allclose(res.loc[(v, "trt", a), "estimate"], ols.params[a], **SAME_ALGORITHM)
            assert_allclose(res.loc[(v, "trt", a), "std_error"], ols.bse[a],
                            **SAME_ALGORITHM_SE)
        for a in arms:
            row = X.mean().to_numpy()
            row[1:3] = [a == "EXOSOME", a == "MINOXIDIL"]
            if weights == "equal":
                row[4] = 0.5  # each SEX level weighted equally
            pred = ols.get_prediction(row[None, :])
            par = "lsm_ref" if a == "PLACEBO" else "lsm_alt"
            assert_allclose(res.loc[(v, par, a), "estimate"], pred.predicted_mean[0],
                            **SAME_ALGORITHM)
            assert_allclose(res.loc[(v, par, a), "std_error"], pred.se_mean[0],
                            **SAME_ALGORITHM_SE)
            assert res.loc[(v, par, a), "df"] == ols.df_resid


def _strategy_jr_copy(pars_group, pars_ref, index_mar):
    mu = np.where(index_mar, pars_group["mu"], pars_ref["mu"])
    return {"mu": mu, "sigma": ts.estimands.compute_sigma(pars_group["sigma"],
                                                          pars_ref["sigma"], index_mar)}


def _strategy_mar_plus_two(pars_group, pars_ref, index_mar):
    return {"mu": pars_group["mu"] + 2.0 * ~index_mar, "sigma": pars_group["sigma"]}


def test_user_strategies(hair, jr):
    d, ice = hair
    common = dict(subject="USUBJID", visit="AVISIT", group="ARM", reference=REF,
                  covariance="csh", same_cov=False, covariates=["BASE", "SEX"],
                  inference="bootstrap", n_samples=2, seed=3, engine="sequential")
    mine = ts.rbmi(d, FORMULA, ice=ice.assign(strategy="MYJR"),
                   strategies={"MYJR": _strategy_jr_copy}, **common)
    assert_allclose(mine.imputed["imputed_value"], jr.imputed["imputed_value"], rtol=1e-12)
    # a non-MAR copy of MAR (same fitted rows as PLUS2: post-ICE values left out of the fit)
    mar = ts.rbmi(d, FORMULA, ice=ice.assign(strategy="MYMAR"),
                  strategies={"MYMAR": ts.estimands.strategy_MAR}, **common)
    plus = ts.rbmi(d, FORMULA, ice=ice.assign(strategy="PLUS2"),
                   strategies={"PLUS2": _strategy_mar_plus_two}, **common)
    # subjects observed only before their ICE: the conditional mean moves by exactly +2
    visits = list(d["AVISIT"].cat.categories)
    ice_at = dict(zip(ice["USUBJID"], ice["AVISIT"], strict=True))
    obs = d[d["CHG"].notna()]
    obs_after = {s for s, v in zip(obs["USUBJID"], obs["AVISIT"], strict=True)
                 if s in ice_at and visits.index(v) >= visits.index(ice_at[s])}
    keep = ~plus.imputed["subject"].isin(obs_after).to_numpy()
    diff = (plus.imputed["imputed_value"] - mar.imputed["imputed_value"]).to_numpy()[keep]
    assert keep.sum() >= 40
    assert_allclose(diff, 2.0, rtol=0, atol=1e-9)


def test_tidy_outputs(jr):
    assert repr(jr).startswith("<RBMIResult: condmean+bootstrap, 2 samples, 450 subjects")
    pooled = jr.pooled
    assert list(pooled.columns) == ["visit", "parameter", "arm", "reference", "estimate",
                                    "std_error", "df", "conf_low", "conf_high", "p_value"]
    assert len(pooled) == 3 * 5  # per visit: trt x2, lsm_ref, lsm_alt x2
    cmp = jr.comparisons(endpoint="TAHC")
    assert list(cmp.columns) == ["analysis", "endpoint", "param", "visit", "arm", "reference",
                                 "measure", "scale", "null", "estimate", "std_error", "df",
                                 "statistic", "p_value", "conf_low", "conf_high", "level",
                                 "method"]
    assert set(cmp["arm"]) == {"EXOSOME", "MINOXIDIL"} and set(cmp["reference"]) == {"PLACEBO"}
    assert_allclose(cmp["statistic"], cmp["estimate"] / cmp["std_error"], rtol=1e-14)
    text = str(jr.summary())
    assert "pooled" in text and "RBMIResult" in text
