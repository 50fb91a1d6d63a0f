"""R mmrm's own test suite, rerun here: each model of mmrm's tests/testthat fitted by ts.mmrm.

Source of every reference number: tests/reference/mmrm_suite.json, made by
tests/reference/make_mmrm_suite_reference.R with R mmrm 0.3.18 (built from source,
github:openpharma/mmrm tag v0.3.18), emmeans and car. Each case in the JSON names the testthat
file its model comes from (``suite_source``), the R call (``r_formula``, ``r_args``) and the
equivalent ``ts.mmrm`` keywords (``ts``), so this module translates nothing by hand.

Which R fit is the reference: the *tight* refit (R mmrm refitted with nlminb from its default
theta after Newton steps on its own objective, |gradient| ~1e-10) at the tight tolerances
(MMRM_TIGHT family: an engine that optimises properly lands there, whatever R's default
L-BFGS-B stopping point was); where the tight refit failed or did not converge, R's default fit at
the MMRM_DEFAULT family (its measured distance from the optimum, see tests/tolerances.py). The
fit used is reported in a failure message. A case whose R default fit did not converge is
compared with the tight refit only (``test_nonconverged_r_fits_are_compared_with_the_refit``).

One test per case: every quantity of the case is compared and all mismatches are listed at once.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import (
    MMRM_DEFAULT_COV_SCALED,
    MMRM_DEFAULT_DF,
    MMRM_DEFAULT_IN_SE,
    MMRM_DEFAULT_LOGLIK,
    MMRM_DEFAULT_SE,
    MMRM_DF,
    MMRM_LOGLIK,
    MMRM_SUITE_ANOVA_F,
    MMRM_SUITE_ROWS,
    MMRM_SUITE_THETA,
    MMRM_TIGHT,
    MMRM_TIGHT_IN_SE,
    MMRM_VCOV_SCALED,
)

import trialstats as ts

REF = Path(__file__).parent / "reference"


def _boxed(node, key=None):
    """jsonlite's auto_unbox writes a length-1 vector as a scalar: make vectors lists again
    (every leaf except the fields that are scalars by nature)."""
    if isinstance(node, dict):
        return {k: (v if k in ("ts", "r_args") else _boxed(v, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_boxed(v) for v in node]
    if key in _VECTOR_FIELDS and not isinstance(node, list):
        return [node]
    return node


_VECTOR_FIELDS = {"term", "aliased", "estimate", "std_error", "df", "statistic", "p_value",
                  "num_df", "den_df", "contrast", "theta", "ARMCD", "ARM", "RACE", "AVISIT",
                  "SEX", "fitted"}
SUITE = _boxed(json.loads((REF / "mmrm_suite.json").read_text()))
CASES = {c["id"]: c for c in SUITE["cases"]}


# ------------------------------------------------------------------------------------ data
@cache
def _data(name: str) -> pd.DataFrame:
    """The case's data: mmrm's fev_data plus the suite helpers' columns, its VIS1 subset, or
    trialstats' empty-cell data (tests/reference/mmrm_suite/*.csv, written by the R script)."""
    if name == "gap":
        d = pd.read_csv(REF / "mmrm_suite" / "gap.csv", float_precision="round_trip")
        d["ARM"] = pd.Categorical(d["ARM"], categories=["B", "A"])
        return d
    levels = json.loads((REF / "mmrm" / "levels.json").read_text())["fev_data"]
    d = pd.read_csv(REF / "mmrm_suite" / "fev_suite.csv", float_precision="round_trip")
    for col in ["AVISIT", "ARMCD", "RACE", "SEX", "USUBJID"]:
        d[col] = pd.Categorical(d[col], categories=levels[col]["levels"])
    d["SEX2"] = pd.Categorical(d["SEX2"], categories=levels["SEX"]["levels"])
    if name == "vis1":
        d = d[d["AVISIT"] == "VIS1"].reset_index(drop=True)
        d["AVISIT"] = d["AVISIT"].cat.remove_unused_categories()
        d["USUBJID"] = d["USUBJID"].cat.remove_unused_categories()
    return d


_FITS: dict[str, object] = {}


def _fit(case_id: str):
    if case_id not in _FITS:
        case = CASES[case_id]
        kw = dict(case["ts"])
        formula = kw.pop("formula")
        if "start" in kw:
            kw["start"] = np.asarray(kw["start"], dtype=float)
        _FITS[case_id] = ts.mmrm(formula, _data(case["data"]), subject="USUBJID",
                                 visit="AVISIT", **kw)
    return _FITS[case_id]


def _reference(case: dict) -> tuple[dict, str]:
    tight = case.get("tight")
    if tight is not None and tight["converged"]:
        return tight, "tight"
    return case["default"], "default"


TOL = {
    "tight": dict(in_se=MMRM_TIGHT_IN_SE, se=MMRM_TIGHT, df=MMRM_DF, loglik=MMRM_LOGLIK,
                  scaled=MMRM_VCOV_SCALED),
    "default": dict(in_se=MMRM_DEFAULT_IN_SE, se=MMRM_DEFAULT_SE, df=MMRM_DEFAULT_DF,
                    loglik=MMRM_DEFAULT_LOGLIK, scaled=MMRM_DEFAULT_COV_SCALED),
}


class Mismatches:
    """Collect every mismatch of a case, then fail once listing all of them."""

    def __init__(self, case_id: str, which: str):
        self.head = f"{case_id} (vs R mmrm {which} fit)"
        self.errors: list[str] = []

    def close(self, what: str, actual, desired, **tol) -> None:
        tol.setdefault("rtol", 0.0)
        a = np.asarray(actual, dtype=float)
        d = np.asarray(desired, dtype=float)
        if a.shape != d.shape:
            self.errors.append(f"{what}: shape {a.shape}, R {d.shape}")
            return
        try:
            assert_allclose(a, d, equal_nan=True, **tol)
        except AssertionError as exc:
            self.errors.append(f"{what}:{exc}")

    def in_se(self, what: str, actual, desired, se, **tol) -> None:
        se = np.asarray(se, dtype=float)
        self.close(f"{what} (in SE units)", np.asarray(actual, dtype=float) / se,
                   np.asarray(desired, dtype=float) / se, **tol)

    def scaled(self, what: str, actual, desired, **tol) -> None:
        a = np.asarray(actual, dtype=float)
        r = np.asarray(desired, dtype=float)
        if a.shape != r.shape:
            self.errors.append(f"{what}: shape {a.shape}, R {r.shape}")
            return
        d = 1.0 / np.sqrt(np.abs(np.diag(r)))
        self.close(f"{what} (scaled by R's SDs)", a * np.outer(d, d), r * np.outer(d, d), **tol)

    def equal(self, what: str, actual, desired) -> None:
        if list(actual) != list(desired):
            self.errors.append(f"{what}: {list(actual)} != R {list(desired)}")

    def check(self) -> None:
        assert not self.errors, self.head + ":\n" + "\n".join(self.errors)


# ------------------------------------------------------------------------------ comparisons
def _coefficients(fit, ref: dict, tol: dict, mm: Mismatches) -> None:
    rc = ref["coefficients"]
    mm.equal("coefficient names", fit.coef["term"], rc["term"])
    mm.equal("aliased", fit.aliased, rc["aliased"])
    if list(fit.coef["term"]) != rc["term"]:
        return
    se = np.asarray(rc["std_error"], dtype=float)
    coef = fit.coef
    mm.in_se("estimate", coef["estimate"], rc["estimate"], se, **tol["in_se"])
    mm.close("std_error", coef["std_error"], se, **tol["se"])
    mm.close("df", coef["df"], rc["df"], **tol["df"])
    kept = [t for t, s in zip(rc["term"], se, strict=True) if not np.isnan(s)]
    vc = fit.vcov.loc[kept, kept].to_numpy()
    r_vcov = np.asarray(ref["vcov"], dtype=float)
    if r_vcov.shape[0] == len(rc["term"]):  # R's vcov lists the aliased terms too (NA rows)
        idx = [i for i, s in enumerate(se) if not np.isnan(s)]
        r_vcov = r_vcov[np.ix_(idx, idx)]
    mm.scaled("vcov", vc, r_vcov, **tol["scaled"])


def _covariance(fit, ref: dict, tol: dict, mm: Mismatches) -> None:
    mm.close("-2 log-likelihood", -2 * fit.loglik, ref["m2loglik"], **tol["loglik"])
    mm.close("theta", fit.theta, ref["theta"], **MMRM_SUITE_THETA)
    if fit.spec.coords is not None:  # R's VarCorr of a spatial fit is not over the visits
        return
    cov = ref["covariance"]
    if isinstance(cov, dict):  # one matrix per group, R's names = group levels
        mm.equal("covariance groups", [str(g) for g in fit.group_levels], list(cov))
        for g, sigma in zip(fit.group_levels, fit.inference.sigmas, strict=False):
            if str(g) in cov:
                mm.scaled(f"covariance[{g}]", sigma, np.asarray(cov[str(g)], dtype=float),
                          **tol["scaled"])
    else:
        r_cov = np.asarray(cov, dtype=float).reshape(fit.inference.sigmas[0].shape)
        mm.scaled("covariance", fit.inference.sigmas[0], r_cov, **tol["scaled"])


def _emmeans(fit, ref: dict, tol: dict, mm: Mismatches) -> None:
    em = ref.get("emmeans")
    if em is None:
        if "emmeans_error" in ref:
            mm.errors.append(f"R emmeans failed: {ref['emmeans_error']}")
        return  # the case asks for no LS means (R's emmeans cannot run on it)
    spec, by = em["spec"], em.get("by")
    for what, got in (("lsmeans", fit.lsmeans(spec, by=by)),
                      ("contrasts", fit.contrast(spec, by=by))):
        r = em[what]
        key = spec if what == "lsmeans" else "contrast"
        if what == "lsmeans":
            mm.equal(f"{what} {key}", got[key].astype(str), r[key])
        else:  # R: "TRT - PBO"
            mm.equal(f"{what} labels", got["contrast"], r["contrast"])
        if by:
            mm.equal(f"{what} {by}", got[by].astype(str), r[by])
        se = np.asarray(r["std_error"], dtype=float)
        mm.in_se(f"{what} estimate", got["estimate"], r["estimate"], se, **tol["in_se"])
        mm.close(f"{what} std_error", got["std_error"], se, **tol["se"])
        mm.close(f"{what} df", got["df"], r["df"], **tol["df"])


def _anova(fit, ref: dict, tol: dict, mm: Mismatches) -> None:
    for kind in ("II", "III"):
        r = ref["anova"][kind]
        if "error" in r:  # car::Anova refuses (aliased coefficients): nothing to compare
            continue
        got = fit.anova(kind)
        mm.equal(f"anova {kind} terms", got["term"], r["term"])
        if list(got["term"]) != r["term"]:
            continue
        mm.close(f"anova {kind} num_df", got["num_df"], r["num_df"], rtol=0, atol=0)
        mm.close(f"anova {kind} F", got["statistic"], r["statistic"], **MMRM_SUITE_ANOVA_F)
        mm.close(f"anova {kind} den_df", got["den_df"], r["den_df"], **tol["df"])


def _rows(what: str, got, want, mm: Mismatches) -> None:
    want = np.asarray(want, dtype=float)
    scale = float(np.sqrt(np.nanmean(want ** 2)))
    mm.close(what, got, want, rtol=MMRM_SUITE_ROWS["rtol"], atol=MMRM_SUITE_ROWS["atol"] * scale)


def _predict(fit, ref: dict, data: pd.DataFrame, mm: Mismatches) -> None:
    p = ref["predict"]
    _rows("fitted", fit.fitted(), p["fitted"], mm)
    for kind in ("response", "pearson", "normalized"):
        _rows(f"residuals({kind})", fit.residuals(kind), p[f"residuals_{kind}"], mm)
    if fit.spec.weights:  # R mmrm's predict() gives newdata unit weights (tmb-methods.R)
        data = data.assign(**{fit.spec.weights: 1.0})
    _rows("predict(conditional=False)", fit.predict(data), p["predict_unconditional"], mm)
    _rows("predict(conditional=True)", fit.predict(data, conditional=True),
          p["predict_conditional"], mm)


def _compare(case_id: str) -> None:
    case = CASES[case_id]
    assert "error" not in case, f"R mmrm could not fit {case_id}: {case.get('error')}"
    ref, which = _reference(case)
    tol = TOL[which]
    fit = _fit(case_id)
    mm = Mismatches(case_id, which)
    if not fit.converged:
        mm.errors.append(f"ts.mmrm did not converge: {fit.message}")
    mm.close("n_obs", fit.n_obs, ref["n_obs"], rtol=0, atol=0)
    mm.close("n_subjects", fit.n_subjects, ref["n_subjects"], rtol=0, atol=0)
    _coefficients(fit, ref, tol, mm)
    _covariance(fit, ref, tol, mm)
    _emmeans(fit, ref, tol, mm)
    if "anova" in ref:
        _anova(fit, ref, tol, mm)
    if "predict" in ref:
        _predict(fit, ref, _data(case["data"]), mm)
    mm.check()


# ------------------------------------------------------------------------------------ tests
# Every case is compared, including the two whose formulas have an interaction without its
# margins: anova_interactions (ARMCD:AVISIT:SEX) and rank_deficient_alias_noint (ARMCD:SEX in a
# model without intercept). ts.mmrm codes factors by R's model.matrix rule
# (trialstats/_materializer.py) and names interaction columns as R mmrm does after dropping the
# covariance term with update() (FEV1_BL:ARMCDPBO for ARMCD:FEV1_BL + FEV1_BL).
@pytest.mark.parametrize("case_id", list(CASES))
def test_case_matches_r_mmrm(case_id):
    _compare(case_id)


def test_every_feature_of_the_suite_is_covered():
    features = {c["feature"] for c in SUITE["cases"]}
    assert features == {
        "covariance x df", "ML", "covariance by group", "weights", "sandwich", "spatial",
        "rank-deficient", "single visit", "predict/fitted/residuals", "anova II/III",
        "contrasts", "lsmeans by outside the model", "start/optimizer"}
    assert SUITE["versions"]["mmrm"] == "0.3.18"


def test_nonconverged_r_fits_are_compared_with_the_refit():
    """Where R mmrm's default fit did not converge, the case is compared with the tight refit,
    which must have converged (else the case has no trustworthy reference)."""
    for case in SUITE["cases"]:
        if "default" in case and not case["default"]["converged"]:
            assert case.get("tight", {}).get("converged"), case["id"]
