"""MMRM engine: analytic checks, the result API and every bad-input path.

Numbers against R live in test_mmrm_reference.py (R mmrm) and test_mmrm_gls_reference.py (nlme,
emmeans, lmerTest, pbkrtest). Here: derivatives against finite differences, closed-form answers on
balanced complete data, and the behaviour of the front end.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, MMRM_DF, MMRM_LOGLIK, MMRM_TIGHT, MMRM_TIGHT_IN_SE

import trialstats as ts
from trialstats.longitudinal.mmrm._engine import Engine, MMRMData
from trialstats.longitudinal.mmrm.covariance import COVARIANCE_TYPES, CovarianceStructure
from trialstats.longitudinal.mmrm.dof import DF_METHODS

SUITE = Path(__file__).parent / "reference" / "mmrm_suite.json"

# finite differences of analytic derivatives: central differences with step 1e-6 have
# truncation error ~1e-12 and rounding error ~1e-10 relative to the entries' scale
FINITE_DIFFERENCE = dict(rtol=1e-6, atol=1e-7)


def _balanced(n=40, m=4, arms=("B", "A"), seed=1, missing=0.0):
    """Complete (or MAR-thinned) long data with a correlated residual, arms in given order."""
    rng = np.random.default_rng(seed)
    L = np.tril(rng.uniform(0.2, 0.8, (m, m))) + np.eye(m)
    rows = []
    for i in range(n):
        arm = arms[i % len(arms)]
        e = L @ rng.standard_normal(m)
        base = rng.normal(50, 5)
        for v in range(m):
            y = 10 + 2 * v + (3.0 if arm == arms[-1] else 0.0) * v + 0.5 * base + e[v]
            if v > 0 and rng.uniform() < missing:
                y = np.nan
            rows.append({"USUBJID": f"S{i:03d}", "ARM": arm, "AVISIT": f"V{v + 1}",
                         "BASE": base, "Y": y})
    df = pd.DataFrame(rows)
    df["ARM"] = pd.Categorical(df["ARM"], categories=list(arms))
    return df


# ---------------------------------------------------------------- covariance derivatives
@pytest.mark.parametrize("name", COVARIANCE_TYPES)
def test_covariance_derivatives_match_finite_differences(name):
    m = 5
    st = CovarianceStructure(name, m)
    rng = np.random.default_rng(3)
    theta = rng.uniform(-0.6, 0.6, st.n_theta)
    S, d1, d2 = st.derivatives(theta, order=2)
    eps = 1e-6
    for h in range(st.n_theta):
        e = np.zeros(st.n_theta)
        e[h] = eps
        num1 = (st.sigma(theta + e) - st.sigma(theta - e)) / (2 * eps)
        np.testing.assert_allclose(d1[h], num1, **FINITE_DIFFERENCE)
        num2 = (st.derivatives(theta + e, 1)[1] - st.derivatives(theta - e, 1)[1]) / (2 * eps)
        np.testing.assert_allclose(d2[h], num2, **FINITE_DIFFERENCE)
    np.testing.assert_allclose(S, S.T, **ANALYTIC)
    assert np.linalg.eigvalsh(S).min() > 0


def test_us_parameterisation_is_log_sd_and_unit_lower_triangular():
    # Sigma = L L', L = diag(exp(theta[:m])) U, U unit lower-triangular row by row
    st = CovarianceStructure("us", 3)
    theta = np.array([0.1, -0.2, 0.3, 0.5, -0.4, 0.7])
    U = np.array([[1, 0, 0], [0.5, 1, 0], [-0.4, 0.7, 1]])
    L = np.diag(np.exp(theta[:3])) @ U
    np.testing.assert_allclose(st.sigma(theta), L @ L.T, **ANALYTIC)


@pytest.mark.parametrize("name", ["ar1", "cs", "ad", "toep"])
def test_structured_correlations(name):
    st = CovarianceStructure(name, 4)
    theta = np.array([np.log(2.0)] + [0.8] * st.n_corr)
    S = st.sigma(theta)
    R = S / 4.0
    if name == "ar1":
        rho = 0.8 / np.sqrt(1 + 0.64)
        expected = rho ** np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    elif name == "cs":
        p = 1 / (1 + np.exp(-0.8))
        rho = p * (1 + 1 / 3) - 1 / 3
        expected = np.full((4, 4), rho) + (1 - rho) * np.eye(4)
    elif name == "ad":
        rho = 0.8 / np.sqrt(1 + 0.64)
        expected = rho ** np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    else:
        rho = 0.8 / np.sqrt(1 + 0.64)
        expected = np.where(np.eye(4) == 1, 1.0, rho)
    np.testing.assert_allclose(R, expected, **ANALYTIC)


# ---------------------------------------------------------------- likelihood derivatives
def _engine(df, name, reml=True, group=None):
    from formulaic import model_matrix

    mm = model_matrix("Y ~ ARM * AVISIT + BASE", df.dropna(subset=["Y"]))
    used = df.dropna(subset=["Y"])
    subj, _ = pd.factorize(used["USUBJID"])
    vis = pd.Categorical(used["AVISIT"]).codes.astype(np.int64)
    n_sub = subj.max() + 1
    groups = np.zeros(n_sub, dtype=np.int64)
    structures = [CovarianceStructure(name, 4)]
    return Engine(MMRMData(mm.rhs.to_numpy(), mm.lhs.to_numpy().ravel(), subj.astype(np.int64),
                           vis, groups, structures, reml=reml))


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("name", ["us", "toeph", "ar1", "csh", "adh"])
def test_gradient_and_hessian_match_finite_differences(name, reml):
    eng = _engine(_balanced(missing=0.25, seed=4), name, reml=reml)
    st = eng.data.structures[0]
    theta = st.start(np.full(4, 2.0)) + 0.1
    g = eng.gradient(theta)
    eps = 1e-5
    num = np.array([(eng.objective(theta + eps * e) - eng.objective(theta - eps * e)) / (2 * eps)
                    for e in np.eye(len(theta))])
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(eng.hessian(theta), eng.hessian_numeric(theta), rtol=1e-6,
                               atol=1e-6)


# ---------------------------------------------------------------- closed forms
def test_us_cell_means_on_complete_data_reproduce_sample_covariance():
    """Balanced complete data, y ~ visit means: REML Sigma = sample covariance (n - 1),
    ML Sigma = divisor n, visit means = sample means, Satterthwaite df = n - 1 exactly."""
    df = _balanced(n=30, arms=("A",), seed=7)
    wide = df.pivot(index="USUBJID", columns="AVISIT", values="Y")
    for method, ddof in (("reml", 1), ("ml", 0)):
        fit = ts.mmrm("Y ~ 0 + AVISIT", df, subject="USUBJID", visit="AVISIT", method=method)
        np.testing.assert_allclose(fit.covariance.to_numpy(), np.cov(wide.T, ddof=ddof),
                                   rtol=1e-8)
        np.testing.assert_allclose(fit.coef["estimate"], wide.mean().to_numpy(), rtol=1e-10)
    fit = ts.mmrm("Y ~ 0 + AVISIT", df, subject="USUBJID", visit="AVISIT")
    np.testing.assert_allclose(fit.coef["std_error"], wide.std(ddof=1).to_numpy() / np.sqrt(30),
                               rtol=1e-8)
    np.testing.assert_allclose(fit.coef["df"], 29.0, rtol=1e-6)
    # -2 REML log-likelihood of a saturated multivariate normal, written out
    n, m = wide.shape
    S = np.cov(wide.T, ddof=1)
    resid = wide.to_numpy() - wide.mean().to_numpy()
    m2 = ((n * m - m) * np.log(2 * np.pi) + n * np.linalg.slogdet(S)[1]
          + np.linalg.slogdet(n * np.linalg.inv(S))[1]
          + np.einsum("ia,ab,ib->", resid, np.linalg.inv(S), resid))
    np.testing.assert_allclose(-2 * fit.loglik, m2, rtol=1e-10)


def test_residual_and_between_within_df_are_counts():
    df = _balanced(n=40, seed=2, missing=0.2)
    used = df.dropna(subset=["Y"])
    fit = ts.mmrm("Y ~ ARM * AVISIT + BASE", df, subject="USUBJID", visit="AVISIT",
                  df="residual")
    assert (fit.coef["df"] == len(used) - 9).all()
    fit = ts.mmrm("Y ~ ARM * AVISIT + BASE", df, subject="USUBJID", visit="AVISIT",
                  df="between-within")
    between = {"ARMA", "BASE"}
    n_sub = used["USUBJID"].nunique()
    for row in fit.coef.itertuples():
        expected = n_sub - 3 if row.term in between else len(used) - n_sub - 6
        assert row.df == expected, row.term


# ---------------------------------------------------------------- result API
@pytest.fixture(scope="module")
def three_arm_fit():
    df = _balanced(n=60, arms=("PLACEBO", "MINOXIDIL", "EXOSOME"), seed=5, missing=0.15)
    return ts.mmrm("Y ~ ARM * AVISIT + BASE", df, subject="USUBJID", visit="AVISIT"), df


def test_reference_level_and_contrast_direction(three_arm_fit):
    fit, df = three_arm_fit
    assert fit.converged
    assert [t for t in fit.coef.term if t.startswith("ARM") and ":" not in t] == [
        "ARMMINOXIDIL", "ARMEXOSOME"]
    con = fit.contrast("ARM", by="AVISIT")
    assert list(con.columns) == ["AVISIT", "contrast", "estimate", "std_error", "df",
                                 "statistic", "p_value", "conf_low", "conf_high"]
    assert con["contrast"].unique().tolist() == ["MINOXIDIL - PLACEBO", "EXOSOME - PLACEBO"]
    ls = fit.lsmeans("ARM", by="AVISIT").set_index(["ARM", "AVISIT"])
    for row in con.itertuples():
        arm = row.contrast.split(" - ")[0]
        diff = ls.loc[(arm, row.AVISIT), "estimate"] - ls.loc[("PLACEBO", row.AVISIT), "estimate"]
        assert row.estimate == pytest.approx(diff, rel=1e-12)


def test_lsmeans_hold_covariate_at_mean_of_rows_used(three_arm_fit):
    fit, df = three_arm_fit
    used = df.dropna(subset=["Y"])
    beta = fit.coef.set_index("term")["estimate"]
    ls = fit.lsmeans("ARM", by="AVISIT").set_index(["ARM", "AVISIT"])
    # placebo at the first visit: intercept + BASE coefficient x mean(BASE over rows used)
    expected = beta["(Intercept)"] + beta["BASE"] * used["BASE"].mean()
    assert ls.loc[("PLACEBO", "V1"), "estimate"] == pytest.approx(expected, rel=1e-12)


def test_level_changes_interval_only(three_arm_fit):
    fit, df = three_arm_fit
    fit90 = ts.mmrm("Y ~ ARM * AVISIT + BASE", df, subject="USUBJID", visit="AVISIT", level=0.9)
    a, b = fit.coef, fit90.coef
    np.testing.assert_allclose(a["estimate"], b["estimate"], **ANALYTIC)
    assert (b["conf_high"] - b["conf_low"] < a["conf_high"] - a["conf_low"]).all()


def test_repr_summary_and_exclusions(three_arm_fit):
    fit, df = three_arm_fit
    n_missing = int(df["Y"].isna().sum())
    assert repr(fit).startswith("<MMRMResult: us covariance, REML, satterthwaite df, ")
    assert f"{fit.n_obs} obs / 60 subjects, converged>" in repr(fit)
    assert fit.n_obs == len(df) - n_missing
    assert fit.exclusions.to_dict("records") == [{"reason": "missing Y", "n_rows": n_missing}]
    text = str(fit.summary())
    assert "Coefficients" in text and "ARMEXOSOME:AVISITV4" in text
    assert "<table" in fit.summary()._repr_html_()
    assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * 10)
    assert fit.bic == pytest.approx(-2 * fit.loglik + np.log(60) * 10)


def test_result_is_immutable(three_arm_fit):
    fit, _ = three_arm_fit
    with pytest.raises(AttributeError):
        fit.n_obs = 3


def test_kenward_roger_inflates_standard_errors(three_arm_fit):
    fit, df = three_arm_fit
    kr = ts.mmrm("Y ~ ARM * AVISIT + BASE", df, subject="USUBJID", visit="AVISIT",
                 df="kenward-roger-linear")
    assert (kr.coef["std_error"] >= fit.coef["std_error"] * (1 - 1e-12)).all()
    np.testing.assert_allclose(kr.coef["df"], fit.coef["df"], rtol=1e-8)


def test_grouped_covariance_has_one_matrix_per_level(three_arm_fit):
    _, df = three_arm_fit
    fit = ts.mmrm("Y ~ ARM * AVISIT + BASE", df, subject="USUBJID", visit="AVISIT",
                  covariance="ar1h", group="ARM")
    assert fit.n_theta == 3 * 5
    assert fit.covariance.index.get_level_values(0).unique().tolist() == [
        "PLACEBO", "MINOXIDIL", "EXOSOME"]
    assert fit.covariance.loc["EXOSOME"].shape == (4, 4)


def test_string_levels_are_sorted_and_visit_order_is_categorical():
    df = _balanced(n=30, seed=9)
    df["ARM"] = df["ARM"].astype(str)  # plain strings: sorted, so "A" is the reference
    df["AVISIT"] = pd.Categorical(df["AVISIT"], categories=["V1", "V2", "V3", "V4"])
    fit = ts.mmrm("Y ~ ARM * AVISIT", df, subject="USUBJID", visit="AVISIT")
    assert "ARMB" in fit.coef.term.tolist()
    assert list(fit.covariance.index) == ["V1", "V2", "V3", "V4"]


# ---------------------------------------------------------------- bad input
@pytest.fixture
def data():
    return _balanced(n=20, seed=11)


def test_formula_names_missing_column(data):
    with pytest.raises(ts.ModelError, match="'AGE'.*not in the data.*available columns"):
        ts.mmrm("Y ~ ARM + AGE", data, subject="USUBJID", visit="AVISIT")


def test_subject_or_visit_column_missing(data):
    with pytest.raises(ts.ModelError, match="'VISIT'.*not in the data"):
        ts.mmrm("Y ~ ARM", data, subject="USUBJID", visit="VISIT")


def test_visit_with_one_level(data):
    # issue 12: a single visit is fitted (as R mmrm) - the linear model with t inference
    # (tests/test_mmrm_single_visit.py checks it against statsmodels OLS); between-within df are
    # undefined there and raise
    one = data[data["AVISIT"] == "V2"]
    fit = ts.mmrm("Y ~ ARM", one, subject="USUBJID", visit="AVISIT")
    assert fit.converged and fit.n_theta == 1
    np.testing.assert_allclose(fit.coef["df"], fit.n_obs - 2, rtol=1e-6)  # SAME_ALGORITHM
    with pytest.raises(ts.ModelError, match="visit column 'AVISIT' has one level.*between-within"):
        ts.mmrm("Y ~ ARM", one, subject="USUBJID", visit="AVISIT", df="between-within")


def test_duplicate_visit_names_subject_and_visit(data):
    dup = pd.concat([data, data.iloc[[5]]], ignore_index=True)
    with pytest.raises(ts.ModelError, match="unique per subject: USUBJID S001 has AVISIT V2"):
        ts.mmrm("Y ~ ARM * AVISIT", dup, subject="USUBJID", visit="AVISIT")


def test_duplicate_visit_with_repeated_index_labels_names_rows_by_position(data):
    # a frame built with pd.concat keeps repeated labels: rows are then named by position
    dup = pd.concat([data, data.iloc[[5]]])
    dup.index = [0] * len(dup)
    with pytest.raises(ts.ModelError, match=rf"USUBJID S001 has AVISIT V2 more than once; "
                                            rf"duplicated rows: 5 \(S001\), {len(data)} \(S001\)$"):
        ts.mmrm("Y ~ ARM * AVISIT", dup, subject="USUBJID", visit="AVISIT")


def test_arm_without_observations_at_a_visit(data):
    """Issue 12: the default rank_deficient="drop" fits the model without the aliased
    ARMA:AVISITV3 column, as R mmrm does. Compared with R mmrm 0.3.18 on the same data
    (tests/reference/mmrm_suite/gap.csv, written from this generator; case
    rank_deficient_empty_cell of tests/reference/mmrm_suite.json, made by
    tests/reference/make_mmrm_suite_reference.R) at the tight-refit tolerances; "error" still
    raises, naming the empty cell."""
    gap = data.copy()
    gap.loc[(gap["ARM"] == "A") & (gap["AVISIT"] == "V3"), "Y"] = np.nan
    committed = pd.read_csv(Path(__file__).parent / "reference" / "mmrm_suite" / "gap.csv",
                            float_precision="round_trip")
    assert_allclose(committed["Y"], gap["Y"], rtol=0, atol=0)  # the R reference's data
    fit = ts.mmrm("Y ~ ARM * AVISIT", gap, subject="USUBJID", visit="AVISIT")
    ref = next(c for c in json.loads(SUITE.read_text())["cases"]
               if c["id"] == "rank_deficient_empty_cell")["tight"]
    assert fit.converged and ref["converged"]
    assert list(fit.aliased) == [ref["coefficients"]["aliased"]] == ["ARMA:AVISITV3"]  # unboxed
    assert list(fit.coef["term"]) == ref["coefficients"]["term"]
    coef = fit.coef
    se = np.asarray(ref["coefficients"]["std_error"], dtype=float)
    ok = ~np.isnan(se)
    assert coef["estimate"].isna().to_numpy().tolist() == (~ok).tolist()
    est = coef["estimate"].to_numpy()[ok] / se[ok]
    assert_allclose(est, np.asarray(ref["coefficients"]["estimate"], dtype=float)[ok] / se[ok],
                    **MMRM_TIGHT_IN_SE)
    assert_allclose(coef["std_error"].to_numpy()[ok], se[ok], **MMRM_TIGHT)
    assert_allclose(coef["df"].to_numpy()[ok],
                    np.asarray(ref["coefficients"]["df"], dtype=float)[ok], **MMRM_DF)
    assert_allclose(-2 * fit.loglik, ref["m2loglik"], rtol=0, **MMRM_LOGLIK)
    ls = fit.lsmeans("ARM", by="AVISIT")
    r_ls = np.asarray(ref["emmeans"]["lsmeans"]["estimate"], dtype=float)
    assert ls["estimate"].isna().tolist() == np.isnan(r_ls).tolist()  # A at V3: not estimable
    assert "Aliased terms dropped (coefficients NA, as R): ARMA:AVISITV3" in str(fit.summary())
    with pytest.raises(ts.ModelError, match="no observations for ARM=A at AVISIT=V3"):
        ts.mmrm("Y ~ ARM * AVISIT", gap, subject="USUBJID", visit="AVISIT",
                rank_deficient="error")


def test_fewer_subjects_than_covariance_parameters(data):
    few = data[data["USUBJID"].isin(["S000", "S001", "S002", "S003"])]
    with pytest.raises(ts.ModelError, match="4 subjects with data cannot identify the 10 "
                                            "parameters of a us covariance"):
        ts.mmrm("Y ~ AVISIT", few, subject="USUBJID", visit="AVISIT")


def test_all_missing_outcome(data):
    empty = data.assign(Y=np.nan)
    with pytest.raises(ts.ModelError, match="outcome column 'Y' is missing in all 80 rows"):
        ts.mmrm("Y ~ ARM * AVISIT", empty, subject="USUBJID", visit="AVISIT")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"covariance": "unstructured"}, "unknown covariance structure 'unstructured'; valid: "
                                         + ", ".join(COVARIANCE_TYPES)),
        ({"df": "kr"}, "unknown df method 'kr'; valid: " + ", ".join(DF_METHODS)),
        ({"method": "bayes"}, "unknown method 'bayes'; valid: reml, ml"),
        ({"vcov": "robust"}, "unknown vcov 'robust'; valid: model, empirical"),
        ({"level": 95}, "level must be strictly between 0 and 1"),
    ],
)
def test_invalid_options_list_valid_ones(data, kwargs, pattern):
    with pytest.raises(ts.ModelError, match=pattern.replace("(", r"\(")):
        ts.mmrm("Y ~ ARM * AVISIT", data, subject="USUBJID", visit="AVISIT", **kwargs)


def test_group_changing_within_subject(data):
    bad = data.copy()
    bad["G"] = np.where(bad["AVISIT"] == "V1", "x", "y")
    with pytest.raises(ts.ModelError, match="group column 'G' changes within subject"):
        ts.mmrm("Y ~ ARM * AVISIT", bad, subject="USUBJID", visit="AVISIT", covariance="cs",
                group="G")


def test_lsmeans_of_numeric_or_unknown_variable(three_arm_fit):
    fit, _ = three_arm_fit
    with pytest.raises(ts.ModelError, match="'BASE' is numeric"):
        fit.lsmeans("BASE")
    with pytest.raises(ts.ModelError, match="'SEX' is not a variable of the model"):
        fit.lsmeans("SEX")


def test_not_a_dataframe():
    with pytest.raises(ts.ModelError, match="data must be a pandas DataFrame"):
        ts.mmrm("Y ~ ARM", {"Y": [1.0]}, subject="USUBJID", visit="AVISIT")


# ---------------------------------------------------------------- F tests
@pytest.mark.parametrize("df", ["satterthwaite", "kenward-roger", "kenward-roger-linear",
                                "residual", "between-within"])
def test_one_row_f_test_is_the_squared_t_test(three_arm_fit, df):
    """A single contrast: F = t^2 on (1, df of the t test), for every df method."""
    _, data = three_arm_fit
    fit = ts.mmrm("Y ~ ARM * AVISIT + BASE", data, subject="USUBJID", visit="AVISIT", df=df)
    L = np.zeros((1, len(fit.terms)))
    L[0, fit.terms.index("ARMEXOSOME")] = 1.0
    L[0, fit.terms.index("ARMEXOSOME:AVISITV4")] = 1.0
    f = fit.f_test(L).iloc[0]
    t = fit.linear_contrast(L).iloc[0]
    assert f["num_df"] == 1
    assert f["statistic"] == pytest.approx(t["statistic"] ** 2, rel=1e-10)
    assert f["den_df"] == pytest.approx(t["df"], rel=1e-10)
    assert f["p_value"] == pytest.approx(t["p_value"], rel=1e-8)


def test_f_test_is_invariant_to_reparameterising_the_hypothesis(three_arm_fit):
    """F depends only on the row space of L; so does the Kenward-Roger df. (The Satterthwaite
    df combines the df of the eigen-components of L Phi L', which change with the basis, as in
    R mmrm and lmerTest, so it is not compared.)"""
    fit, data = three_arm_fit
    kr = ts.mmrm("Y ~ ARM * AVISIT + BASE", data, subject="USUBJID", visit="AVISIT",
                 df="kenward-roger")
    rows = [fit.terms.index(t) for t in fit.terms if t.startswith("ARMEXOSOME:")]
    L = np.zeros((3, len(fit.terms)))
    L[[0, 1, 2], rows] = 1.0
    M = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0], [3.0, 0.0, 1.0]])  # invertible
    a, b = fit.f_test(L).iloc[0], fit.f_test(M @ L).iloc[0]
    assert a["statistic"] == pytest.approx(b["statistic"], rel=1e-8)
    a, b = kr.f_test(L).iloc[0], kr.f_test(M @ L).iloc[0]
    for col in ("statistic", "den_df", "p_value"):
        assert a[col] == pytest.approx(b[col], rel=1e-8)


def test_f_test_rejects_dependent_rows(three_arm_fit):
    fit, _ = three_arm_fit
    L = np.zeros((2, len(fit.terms)))
    L[:, 1] = 1.0
    with pytest.raises(ts.ModelError, match="linearly dependent"):
        fit.f_test(L)
    with pytest.raises(ts.ModelError, match="contrast matrix has 3 columns"):
        fit.f_test(np.ones((1, 3)))
