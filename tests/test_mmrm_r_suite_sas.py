"""ts.mmrm against the SAS PROC MIXED numbers in R mmrm's own test suite (test-tmb.R).

Source: tests/reference/mmrm_suite_sas.json, extracted by tests/reference/extract_mmrm_suite_sas.py
from R mmrm 0.3.18's tests/testthat/test-tmb.R (github:openpharma/mmrm tag v0.3.18); each case
cites its line there and the SAS output file of the mmrm repository (``design/SAS/...``) its
numbers come from. The models are intercept-only, ``FEV1 ~ <cov>(AVISIT | USUBJID)`` on mmrm's
fev_data, ML and REML, per structure, by group, weighted and spatial on VISITN; the 2-D spatial
cases (``sp_exp(VISITN, VISITN2 | USUBJID)``, ``coords=["VISITN", "VISITN2"]``) are checked
against the same SAS listings and R mmrm in tests/test_mmrm_spatial2d.py.

Tolerance, per number: the larger of half a unit in the last decimal SAS printed (STYLE.md: "vs
printed output rounded to k decimals") and the relative tolerance mmrm's own test applies to it
(testthat's default 1.5e-8 where none is given): what R mmrm holds itself to against SAS.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import trialstats as ts

REF = json.loads((Path(__file__).parent / "reference" / "mmrm_suite_sas.json").read_text())
CASES = {f"{c['covariance']}_{c['group'] or 'all'}_{'reml' if c['reml'] else 'ml'}"
         f"_line{c['source'].split()[-1]}"
         f"{'_weighted' if c['weights'] else ''}": c for c in REF["cases"]}


def _check(what: str, got: float, ref: dict | None, errors: list) -> None:
    if ref is None:
        return
    tol = max(0.5 * 10.0 ** -ref["decimals"], ref["tolerance"] * abs(ref["value"]))
    if not abs(got - ref["value"]) <= tol:
        errors.append(f"{what}: {got!r} vs SAS {ref['value']} (tolerance {tol:.2g})")


@pytest.mark.parametrize("case_id", list(CASES))
def test_intercept_only_fit_matches_sas(fev, case_id):
    case = CASES[case_id]
    spatial = case["covariance"].startswith("sp_")
    fit = ts.mmrm("FEV1 ~ 1", fev, subject="USUBJID", visit="AVISIT",
                  covariance=case["covariance"], group=case["group"],
                  method="reml" if case["reml"] else "ml", weights=case["weights"],
                  coords=case["coords"] if spatial else None)
    assert fit.converged
    errors: list[str] = []
    _check("-2 log-likelihood", -2 * fit.loglik, case["m2loglik"], errors)
    coef = fit.coef.set_index("term").loc["(Intercept)"]
    _check("intercept", float(coef["estimate"]), case["intercept"], errors)
    _check("SE(intercept)", float(coef["std_error"]), case["intercept_se"], errors)
    assert not errors, f"{case['source']} ({case['sas_output']}): " + "; ".join(errors)


def test_every_structure_of_the_sas_blocks_is_covered():
    covs = {c["covariance"] for c in REF["cases"]}
    assert covs == {"us", "ad", "adh", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "sp_exp",
                    "sp_gau"}
    assert len(CASES) == len(REF["cases"])  # ids are unique
    assert all(np.isfinite(c["m2loglik"]["value"]) for c in REF["cases"])
