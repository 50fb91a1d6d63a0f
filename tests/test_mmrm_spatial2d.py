"""ts.mmrm(covariance="sp_exp" | "sp_gau", coords=["VISITN", "VISITN2"]): spatial covariances on
2-d points, against R mmrm 0.3.18 and SAS PROC MIXED.

Sources:

* tests/reference/mmrm/spatial2d_<case>.json, made by
  tests/reference/make_mmrm_spatial2d_reference.R (R mmrm 0.3.18 built from source,
  github:openpharma/mmrm tag v0.3.18; each file's ``r_call`` is the exact call): the models of R
  mmrm's own suite with two coordinates on fev_data, e.g.::

      fit <- mmrm(FEV1 ~ ARMCD + sp_exp(VISITN, VISITN2 | USUBJID), data = fev_data,
                  method = "Kenward-Roger")
      summary(fit)$coefficients; vcov(fit); fit$theta_est; fit$theta_vcov; deviance(fit)

  Each file has ``tight`` (refitted from Newton-polished theta, max |gradient| <= 2.1e-11),
  compared at the tight tolerances of tests/test_mmrm_spatial_rmmrm.py, and ``default`` (what
  mmrm users see) at the MMRM_DEFAULT_* tolerances. Measured 2026-11-30 vs tight over the 19
  cases: estimates within 2.4e-13 SE, SE / df within 6e-14 / 1.5e-13 relative, theta within
  1.2e-12 SE, -2LL within 3.5e-11; emmeans within 1.7e-13 SE; conditional predictions at new
  points within 8.6e-13 (RMS 43).
* SAS PROC MIXED listings stored in R mmrm 0.3.18, design/SAS/sas_sp_exp2_ml.txt,
  sas_sp_exp2_reml.txt, sas_sp_gau2_ml.txt, sas_sp_gau2_reml.txt (``REPEATED /
  subject=USUBJID type=sp(exp)(visitn visitn2)``, intercept-only model, Satterthwaite DF), the
  numbers R mmrm's test-tmb.R checks; tolerances SAS_SPATIAL_* as tests/test_mmrm_spatial_sas.py.
  SAS's integer DF are not compared: at SAS's early stop (its range 3.4e-4 from the optimum for
  sp_exp ML) its DF is 196 where R mmrm's tight refit and trialstats both give 195.46 (agreeing
  to MMRM_DF, checked against R in the tight-refit test), more than SAS_SPATIAL_INTEGER_DF's 0.5.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import linalg
from tolerances import (
    MMRM_DEFAULT_DF,
    MMRM_DEFAULT_IN_SE,
    MMRM_DEFAULT_LOGLIK,
    MMRM_DEFAULT_SE,
    MMRM_DEFAULT_THETA_IN_SE,
    MMRM_DF,
    MMRM_LOGLIK,
    MMRM_SUITE_ROWS,
    MMRM_THETA_IN_SE,
    MMRM_THETA_VCOV_SCALED,
    MMRM_TIGHT,
    MMRM_TIGHT_IN_SE,
    MMRM_VCOV_SCALED,
    SAME_DESIGN,
    SAS_SPATIAL_ESTIMATE,
    SAS_SPATIAL_M2LOGLIK_ABOVE,
    SAS_SPATIAL_PARAMETER,
)

import trialstats as ts
from trialstats.errors import ModelError

REF = Path(__file__).parent / "reference" / "mmrm"
COORDS = ["VISITN", "VISITN2"]
CASES = sorted(p.stem.removeprefix("spatial2d_") for p in REF.glob("spatial2d_*.json"))
LEVELS = {"RACE": ["Asian", "Black or African American", "White"], "SEX": ["Male", "Female"],
          "ARMCD": ["PBO", "TRT"], "AVISIT": ["VIS1", "VIS2", "VIS3", "VIS4"]}
R_DF = {"Satterthwaite": "satterthwaite", "Kenward-Roger": "kenward-roger",
        "Residual": "residual"}
R_VCOV = {"Empirical": "empirical", "Empirical-Jackknife": "empirical-jackknife",
          "Empirical-Bias-Reduced": "empirical-bias-reduced"}


@cache
def _fev() -> pd.DataFrame:
    """fev_data with R's factor levels (rows with a missing FEV1 are kept: ts.mmrm drops them)."""
    d = pd.read_csv(REF / "fev_data.csv")
    for col, lv in LEVELS.items():
        d[col] = pd.Categorical(d[col], categories=lv)
    return d


def _ref(case: str) -> dict:
    return json.loads((REF / f"spatial2d_{case}.json").read_text())


def _kwargs(ref: dict) -> dict:
    """ts.mmrm keywords of an R call (method, vcov, reml, group, weights of the JSON)."""
    kw = dict(df=R_DF[ref["method"]], method="reml" if ref["reml"] else "ml")
    if ref["vcov"] == "Kenward-Roger-Linear":
        kw["df"] = "kenward-roger-linear"
    elif ref["vcov"] in R_VCOV:
        kw["vcov"] = R_VCOV[ref["vcov"]]
    if ref["group"]:
        kw["group"] = ref["group"]
    if ref["weights"]:
        kw["weights"] = ref["weights"]
    return kw


@cache
def _fit(case: str):
    ref = _ref(case)
    return ts.mmrm(ref["fixed"], _fev(), subject="USUBJID", coords=COORDS,
                   covariance=ref["covariance"], **_kwargs(ref))


def _vec(x) -> np.ndarray:
    """A JSON vector (jsonlite writes a length-1 vector as a scalar)."""
    return np.atleast_1d(np.asarray(x))


def _mat(x, p: int) -> np.ndarray:
    """A JSON p x p matrix written row by row."""
    return np.asarray(x, dtype=float).reshape(p, p)


def _scaled(V, V_ref):
    """V and V_ref in the correlation scale of V_ref."""
    D = 1.0 / np.sqrt(np.diag(V_ref))
    return D[:, None] * V * D[None, :], D[:, None] * V_ref * D[None, :]


def test_reference_cases_are_the_suites():
    """The R script wrote every case of R mmrm's suite with two coordinates (19 files)."""
    assert len(CASES) == 19
    assert {_ref(c)["covariance"] for c in CASES} == {"sp_exp", "sp_gau"}
    assert {_ref(c)["group"] for c in CASES} == {None, "SEX", "ARMCD"}


@pytest.mark.parametrize("case", CASES)
def test_spatial2d_matches_r_mmrm_tight_refit(case):
    ref = _ref(case)
    tight = ref["tight"]
    assert tight["max_abs_gradient"] < 1e-9  # the refit is at the optimum
    fit = _fit(case)
    assert fit.converged
    assert list(fit.terms) == list(_vec(tight["terms"]))
    assert len(fit.visit_levels) == ref["n_points"]  # distinct (VISITN, VISITN2) points
    assert fit.n_obs == ref["n_obs"]
    se = _vec(tight["std_error"])
    assert_allclose(fit.coef["estimate"] / se, _vec(tight["estimate"]) / se,
                    **MMRM_TIGHT_IN_SE)
    assert_allclose(fit.coef["std_error"], se, **MMRM_TIGHT)
    assert_allclose(fit.coef["df"], _vec(tight["df"]), **MMRM_DF)
    assert_allclose(*_scaled(fit.vcov.to_numpy(), _mat(tight["vcov"], len(se))),
                    **MMRM_VCOV_SCALED)
    tv = _mat(tight["theta_vcov"], len(fit.theta))
    theta_se = np.sqrt(np.diag(tv))
    assert_allclose(fit.theta / theta_se, np.asarray(tight["theta"]) / theta_se,
                    **MMRM_THETA_IN_SE)
    assert_allclose(*_scaled(fit.theta_vcov, tv), **MMRM_THETA_VCOV_SCALED)
    assert_allclose(-2 * fit.loglik, tight["m2loglik"], rtol=0, **MMRM_LOGLIK)


@pytest.mark.parametrize("case", CASES)
def test_spatial2d_matches_r_mmrm_default_fit(case):
    default = _ref(case)["default"]
    fit = _fit(case)
    se = _vec(default["std_error"])
    assert_allclose(fit.coef["estimate"] / se, _vec(default["estimate"]) / se,
                    **MMRM_DEFAULT_IN_SE)
    assert_allclose(fit.coef["std_error"], se, **MMRM_DEFAULT_SE)
    assert_allclose(fit.coef["df"], _vec(default["df"]), **MMRM_DEFAULT_DF)
    theta_se = np.sqrt(np.diag(_mat(default["theta_vcov"], len(fit.theta))))
    assert_allclose(fit.theta / theta_se, np.asarray(default["theta"]) / theta_se,
                    **MMRM_DEFAULT_THETA_IN_SE)
    assert_allclose(-2 * fit.loglik, default["m2loglik"], **MMRM_DEFAULT_LOGLIK)


def test_lsmeans_match_emmeans():
    """R: emmeans(fit, ~ ARMCD * AVISIT) of FEV1 ~ FEV1_BL + ARMCD * AVISIT + sp_exp(...)."""
    emm = pd.DataFrame(_ref("sp_exp_emmeans")["tight"]["emmeans"])
    got = _fit("sp_exp_emmeans").lsmeans("ARMCD", by="AVISIT")
    merged = emm.merge(got.astype({"ARMCD": str, "AVISIT": str}), on=["ARMCD", "AVISIT"],
                       suffixes=("_r", ""))
    assert len(merged) == len(emm) == 8
    se = merged["std_error_r"].to_numpy()
    assert_allclose(merged["estimate"] / se, merged["estimate_r"] / se, **MMRM_TIGHT_IN_SE)
    assert_allclose(merged["std_error"], se, **MMRM_TIGHT)
    assert_allclose(merged["df"], merged["df_r"], **MMRM_DF)


# SAS listings (design/SAS/sas_sp_*2_*.txt): -2LL (last iteration), range, residual variance,
# intercept estimate, SE, Satterthwaite DF (integer; not compared, see the module docstring)
SAS = {
    ("sp_exp", "ml"): (3894.94943409, 1.2339, 87.6472, 42.2203, 0.4742, 196),
    ("sp_exp", "reml"): (3894.60123182, 1.2418, 87.8870, 42.2202, 0.4754, 194),
    ("sp_gau", "ml"): (3891.37909815, 1.4052, 89.7880, 42.2192, 0.4675, 261),
    ("sp_gau", "reml"): (3891.05998791, 1.4086, 90.0242, 42.2195, 0.4684, 261),
}


@pytest.mark.parametrize(("cov", "method"), list(SAS))
def test_spatial2d_matches_sas_proc_mixed(cov, method):
    m2ll, sas_range, var, intercept, se, _ = SAS[(cov, method)]
    fit = ts.mmrm("FEV1 ~ 1", _fev(), subject="USUBJID", coords=COORDS, covariance=cov,
                  method=method)
    assert fit.converged
    ours = -2 * fit.loglik
    assert ours <= m2ll + 1e-7  # SAS stops at its relative criterion, above the optimum
    assert m2ll - ours < SAS_SPATIAL_M2LOGLIK_ABOVE
    log_rho = -np.log1p(np.exp(-fit.theta[1]))  # log(plogis(theta_2))
    rng = -1 / log_rho if cov == "sp_exp" else np.sqrt(-1 / log_rho)
    assert_allclose(rng, sas_range, **SAS_SPATIAL_PARAMETER)
    assert_allclose(np.exp(fit.theta[0]), var, **SAS_SPATIAL_PARAMETER)
    row = fit.coef.iloc[0]
    assert_allclose(row["estimate"], intercept, **SAS_SPATIAL_ESTIMATE)
    assert_allclose(row["std_error"], se, **SAS_SPATIAL_ESTIMATE)


def test_sas_correlation_of_pt1():
    """SAS's 'Estimated R Correlation Matrix for USUBJID PT1' (sp_exp REML: 0.1393 between
    PT1's two observed rows, fev_data rows 2 and 4), as R mmrm's test-tmb.R checks it (there at
    1e-3 relative, as SAS_SPATIAL_PARAMETER: SAS's early stop moves its range by 4.9e-4)."""
    fit = ts.mmrm("FEV1 ~ 1", _fev(), subject="USUBJID", coords=COORDS, covariance="sp_exp")
    pt1 = _fev().iloc[[1, 3]]
    assert (pt1["USUBJID"] == "PT1").all() and pt1["FEV1"].notna().all()
    labels = [f"({float(a)!r}, {float(b)!r})" for a, b in pt1[COORDS].to_numpy()]
    S = fit.covariance.loc[labels, labels].to_numpy()
    assert_allclose(S[0, 1] / np.sqrt(S[0, 0] * S[1, 1]), 0.1393, **SAS_SPATIAL_PARAMETER)


def test_points_are_distinct_pairs_sorted_lexicographically():
    fit = _fit("sp_exp_satterthwaite")
    assert fit.spec.coords == ("VISITN", "VISITN2")
    assert fit.spec.visit == "(VISITN, VISITN2)"
    used = _fev().dropna(subset=["FEV1"])
    pts = sorted(set(map(tuple, used[COORDS].to_numpy(dtype=float).tolist())))
    assert list(fit.visit_levels) == [f"({a!r}, {b!r})" for a, b in pts]


def test_covariance_block_is_exponential_in_euclidean_distance():
    """Sigma between two points: sigma^2 rho^d (sp_exp) and sigma^2 rho^(d^2) (sp_gau), d the
    Euclidean distance, from R's tight theta (independent of the fit)."""
    used = _fev().dropna(subset=["FEV1"])
    pts = used[COORDS].to_numpy(dtype=float)[:5]
    labels = [f"({float(a)!r}, {float(b)!r})" for a, b in pts]
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    for cov, power in (("sp_exp", d), ("sp_gau", d**2)):
        theta = np.asarray(_ref(f"{cov}_satterthwaite")["tight"]["theta"])
        rho = 1 / (1 + np.exp(-theta[1]))
        expected = np.exp(theta[0]) * rho**power
        got = _fit(f"{cov}_satterthwaite").covariance.loc[labels, labels].to_numpy()
        assert_allclose(got, expected, **MMRM_VCOV_SCALED)  # theta at MMRM_THETA_IN_SE


def test_one_column_list_is_the_column():
    d = _fev()
    a = ts.mmrm("FEV1 ~ ARMCD", d, coords="VISITN", covariance="sp_exp")
    b = ts.mmrm("FEV1 ~ ARMCD", d, coords=["VISITN"], covariance="sp_exp")
    assert b.spec.coords == "VISITN"
    assert np.array_equal(a.theta, b.theta)
    pd.testing.assert_frame_equal(a.coef, b.coef)


def test_conditional_prediction_matches_closed_form():
    """predict(conditional=True) of rows at the fit's points, outcome hidden: the Gaussian
    conditional mean with R's tight beta and theta and Euclidean distances computed here."""
    fit = _fit("sp_exp_satterthwaite")
    tight = _ref("sp_exp_satterthwaite")["tight"]
    used = _fev().dropna(subset=["FEV1"])
    counts = used.groupby("USUBJID", observed=True).size()
    subjects = counts[counts >= 3].index[:5]
    new = used[used["USUBJID"].isin(subjects)].copy()
    hidden = new.groupby("USUBJID", observed=True).head(1).index
    new.loc[hidden, "FEV1"] = np.nan
    got = fit.predict(new, conditional=True)
    beta = np.asarray(tight["estimate"])
    var, rho = np.exp(tight["theta"][0]), 1 / (1 + np.exp(-tight["theta"][1]))
    mean = beta[0] + beta[1] * (new["ARMCD"] == "TRT").to_numpy()
    expected = new["FEV1"].to_numpy().copy()
    for s in subjects:
        rows = np.flatnonzero((new["USUBJID"] == s).to_numpy())
        p = new[COORDS].to_numpy(dtype=float)[rows]
        S = var * rho ** np.hypot(*(p[:, None, :] - p[None, :, :]).transpose(2, 0, 1))
        o = ~np.isnan(expected[rows])
        r = expected[rows][o] - mean[rows][o]
        expected[rows[~o]] = mean[rows][~o] + S[np.ix_(~o, o)] @ linalg.solve(S[np.ix_(o, o)], r)
    assert_allclose(got, expected, rtol=MMRM_SUITE_ROWS["rtol"],
                    atol=MMRM_SUITE_ROWS["atol"] * np.sqrt(np.mean(expected**2)))
    # unconditional: X beta, needing the coordinate columns, not the key of the points
    assert_allclose(fit.predict(new.drop(columns=["AVISIT"])), fit.predict(new))


@pytest.mark.parametrize(("key", "case"), [("sp_exp", "sp_exp_satterthwaite"),
                                         ("sp_exp_by_sex", "sp_exp_by_sex_satterthwaite")])
def test_predictions_at_new_points_match_r_mmrm(key, case):
    """R: predict(fit, newdata = fev_data, conditional = TRUE | FALSE) for all 800 rows; the 263
    rows with a missing FEV1 lie at points that are not among the rows used."""
    ref = json.loads((REF / "predict_spatial2d_fev.json").read_text())[key]
    fit = _fit(case)
    new = _fev()
    assert not set(_point_labels(new[new["FEV1"].isna()])) & set(fit.visit_levels)
    for conditional in (True, False):
        expected = np.asarray(ref["conditional" if conditional else "unconditional"])
        got = fit.predict(new, conditional=conditional)
        assert_allclose(got, expected, rtol=MMRM_SUITE_ROWS["rtol"],
                        atol=MMRM_SUITE_ROWS["atol"] * np.sqrt(np.mean(expected**2)))
    with pytest.raises(ModelError, match="newdata lacks columns.*VISITN2"):
        fit.predict(new.drop(columns=["VISITN2"]))
    dup = new.copy()
    dup.loc[1, COORDS] = dup.loc[0, COORDS].to_numpy()  # PT1 twice at one point
    with pytest.raises(ModelError, match=r"same \(VISITN, VISITN2\) twice in newdata rows 0"):
        fit.predict(dup, conditional=True)


def _point_labels(frame) -> list:
    return [f"({float(a)!r}, {float(b)!r})" for a, b in frame[COORDS].to_numpy()]


def test_refit_on_resampled_subjects_equals_mmrm_on_those_rows():
    fit = _fit("sp_exp_by_sex_satterthwaite")
    idx = np.arange(0, fit.arrays.subject_ids.shape[0], 2)
    refit = fit.refit(subjects=idx)
    ids = set(fit.arrays.subject_ids[idx])
    direct = ts.mmrm("FEV1 ~ ARMCD", _fev()[_fev()["USUBJID"].isin(ids)], coords=COORDS,
                     covariance="sp_exp", group="SEX")
    assert_allclose(refit.coef["estimate"], direct.coef["estimate"], rtol=1e-8)
    assert_allclose(refit.coef["std_error"], direct.coef["std_error"], rtol=1e-8)
    assert_allclose(refit.theta, direct.theta, rtol=1e-8)


def test_spatial2d_input_errors():
    d = _fev()
    used = d.index[d["FEV1"].notna()]
    a, b = next((a, b) for a, b in zip(used[:-1], used[1:], strict=True)
                if d.at[a, "USUBJID"] == d.at[b, "USUBJID"])  # one subject's two used rows
    dup = d.copy()
    dup.loc[b, COORDS] = dup.loc[a, COORDS].to_numpy()
    with pytest.raises(ModelError, match=rf"unique per subject: USUBJID {d.at[a, 'USUBJID']} "
                       rf"has \(VISITN, VISITN2\) .* rows: {a} .*{b} "):
        ts.mmrm("FEV1 ~ ARMCD", dup, coords=COORDS, covariance="sp_exp")
    with pytest.raises(ModelError, match="coords column 'SEX' must be numeric"):
        ts.mmrm("FEV1 ~ ARMCD", d, coords=["VISITN", "SEX"], covariance="sp_exp")
    with pytest.raises(ModelError, match="NOPE"):
        ts.mmrm("FEV1 ~ ARMCD", d, coords=["VISITN", "NOPE"], covariance="sp_exp")
    with pytest.raises(ModelError, match="spatial covariances .* only"):
        ts.mmrm("FEV1 ~ ARMCD", d, coords=COORDS, covariance="us")
    inf = d.copy()
    inf.loc[7, "VISITN2"] = np.inf
    with pytest.raises(ModelError, match=r"'VISITN2' is infinite in rows 7 \(PT2\)"):
        ts.mmrm("FEV1 ~ ARMCD", inf, coords=COORDS, covariance="sp_exp")
    for bad in ([], ["VISITN", "VISITN"], ["VISITN", 2]):
        with pytest.raises(ModelError, match="list of distinct column names"):
            ts.mmrm("FEV1 ~ ARMCD", d, coords=bad, covariance="sp_exp")
    with pytest.raises(ModelError, match="name of the key of the points"):
        ts.mmrm("FEV1 ~ ARMCD", d.assign(**{"(VISITN, VISITN2)": 1.0}), coords=COORDS,
                covariance="sp_exp")


def test_rows_with_a_missing_coordinate_are_excluded_and_reported():
    d = _fev().copy()
    used = d.index[d["FEV1"].notna()]
    d.loc[used[:3], "VISITN2"] = np.nan
    fit = ts.mmrm("FEV1 ~ ARMCD", d, coords=COORDS, covariance="sp_exp")
    ref = ts.mmrm("FEV1 ~ ARMCD", d.drop(index=used[:3]), coords=COORDS, covariance="sp_exp")
    assert fit.n_obs == ref.n_obs == len(used) - 3
    assert set(used[:3]) <= set(fit.excluded_rows["row"])
    assert_allclose(fit.theta, ref.theta, rtol=1e-12)


def test_one_coordinate_predictions_at_new_times_match_r_mmrm():
    """The same for one coordinate, TIME = VISITN + VISITN2 / 4 (R: sp_exp(TIME | USUBJID)):
    rows need not be at the fit's times either."""
    ref = json.loads((REF / "predict_spatial2d_fev.json").read_text())["sp_exp_time"]
    new = _fev().assign(TIME=lambda d: d["VISITN"] + d["VISITN2"] / 4)
    fit = ts.mmrm("FEV1 ~ ARMCD", new, coords="TIME", covariance="sp_exp")
    tv = np.sqrt(np.diag(fit.theta_vcov))
    assert_allclose(fit.theta / tv, np.asarray(ref["theta"]) / tv, **MMRM_THETA_IN_SE)
    assert not set(new.loc[new["FEV1"].isna(), "TIME"]) & set(fit.visit_levels)
    for conditional in (True, False):
        expected = np.asarray(ref["conditional" if conditional else "unconditional"])
        got = fit.predict(new, conditional=conditional)
        assert_allclose(got, expected, rtol=MMRM_SUITE_ROWS["rtol"],
                        atol=MMRM_SUITE_ROWS["atol"] * np.sqrt(np.mean(expected**2)))


@pytest.mark.parametrize("cov", ["sp_exp", "sp_gau"])
def test_points_on_a_line_are_the_one_coordinate_model(cov):
    """Points (t, 0): the Euclidean distance is |t_a - t_b|, so the fit is that of coords="t"
    (a closed form; SAME_DESIGN: the distances agree to rounding, sqrt(x^2) = |x|)."""
    d = _fev().assign(TIME=lambda x: x["VISITN"] + x["VISITN2"] / 4, ZERO=0.0)
    one = ts.mmrm("FEV1 ~ ARMCD", d, coords="TIME", covariance=cov)
    two = ts.mmrm("FEV1 ~ ARMCD", d, coords=["TIME", "ZERO"], covariance=cov)
    assert len(two.visit_levels) == len(one.visit_levels)
    assert_allclose(two.theta, one.theta, **SAME_DESIGN)
    assert_allclose(two.coef["estimate"], one.coef["estimate"], **SAME_DESIGN)
    assert_allclose(two.coef["std_error"], one.coef["std_error"], **SAME_DESIGN)
    assert_allclose(two.coef["df"], one.coef["df"], **SAME_DESIGN)
