"""Factor coding in interactions whose margins are absent, vs R's model.matrix (issue 12).

Reference: tests/reference/model_matrix_coding.json, made by
tests/reference/make_model_matrix_coding_reference.R (base R's ``model.matrix`` with
``contr.treatment``): for each formula R's column names and every row of its matrix, on the data
stored in the same file, and the same after ``update(formula, . ~ .)`` (R mmrm's names); and two
``coxph`` fits on tests/reference/survival_lung.csv (survival package). trialstats builds designs with its own formulaic materializer
(trialstats/_materializer.py); these tests hold it to R's rule, column for column.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import formulaic
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts
from trialstats._materializer import MATERIALIZER, r_codings
from trialstats.formula import formula_context
from trialstats.longitudinal._design import build_design

REF = Path(__file__).parent / "reference" / "model_matrix_coding.json"


@cache
def _ref() -> dict:
    return json.loads(REF.read_text())


def _frame() -> pd.DataFrame:
    ref = _ref()
    frame = pd.DataFrame(ref["data"])
    for col, levels in ref["levels"].items():
        frame[col] = pd.Categorical(frame[col], categories=levels)
    return frame


CASES = {c["formula"]: c for c in _ref()["cases"]}


@pytest.mark.parametrize("formula", list(CASES))
def test_design_columns_and_values_are_r_model_matrix(formula):
    case = CASES[formula]
    design = build_design(formula, _frame(), aliased="keep")
    assert list(design.terms) == case["columns"]
    # 0/1 indicators times covariates stored with 3 decimals: the same products to rounding
    assert_allclose(design.X, np.array(case["matrix"], dtype=float), **ANALYTIC)


@pytest.mark.parametrize("formula", list(CASES))
def test_aliased_columns_are_those_r_lm_reports_as_na(formula):
    """R's coding can be rank deficient (y ~ A:V); the columns trialstats finds aliased are
    the ones R's lm gives NA (linear combinations of the columns before them)."""
    case = CASES[formula]
    design = build_design(formula, _frame(), aliased="keep")
    assert [design.terms[j] for j in design.aliased] == list(case["aliased_lm"])


@pytest.mark.parametrize("formula", list(CASES))
def test_model_spec_codes_new_data_the_same_way(formula):
    """Predictions and reference grids rebuild X from the stored ModelSpec."""
    case = CASES[formula]
    design = build_design(formula, _frame(), aliased="keep")
    X = np.asarray(design.model_spec.get_model_matrix(_frame(), context=formula_context()),
                   dtype=float)[:, list(design.column_order)]
    assert_allclose(X, np.array(case["matrix"], dtype=float), **ANALYTIC)


@pytest.mark.parametrize("formula", list(CASES))
def test_mmrm_names_follow_the_formula_r_mmrm_rebuilds(formula):
    """ts.mmrm's variable_order="terms": R mmrm drops the covariance term with update(), which
    rebuilds the formula from its term labels; its names and column order are those of
    model.matrix(update(formula, . ~ .))."""
    case = CASES[formula]
    design = build_design(formula, _frame(), aliased="keep", variable_order="terms")
    assert list(design.terms) == case["columns_after_update"]
    assert_allclose(design.X, np.array(case["matrix_after_update"], dtype=float), **ANALYTIC)


def test_the_mmrm_suite_shapes_are_among_the_cases():
    """The two R mmrm suite formulas formulaic's own scoping coded differently from R."""
    assert CASES["y ~ A:x + x - 1 + A:S"]["columns"][-2:] == ["APBO:SFemale", "ATRT:SFemale"]
    assert len(CASES["y ~ A + A:V:S"]["columns"]) == 2 + 2 * 3 * 2


def test_formulaic_default_materializer_is_unchanged():
    """Importing trialstats does not change how formulaic codes other code's formulas."""
    frame = _frame()
    mm = formulaic.model_matrix("y ~ A:x + x - 1 + A:S", frame)
    assert len(mm.rhs.columns) == 1 + 1 + 4  # formulaic's own full-rank scoping
    ours = formulaic.model_matrix("y ~ A:x + x - 1 + A:S", frame, materializer=MATERIALIZER)
    assert len(ours.rhs.columns) == len(CASES["y ~ A:x + x - 1 + A:S"]["columns"])


def test_r_codings_rule():
    """The rule of R's TermCode (model.c) on variable sets, checked against the R cases above:
    y ~ S + A:S -> S by indicators, A by contrasts in A:S; without intercept the first factor is
    coded by indicators."""
    assert r_codings([["S"], ["A", "S"]], {"A", "S"}, True) == [{"S": True},
                                                                 {"A": True, "S": False}]
    assert CASES["y ~ S + A:S"]["columns"][2:] == ["SMale:ATRT", "SFemale:ATRT"]
    assert r_codings([["x"], ["A", "x"], ["A", "S"]], {"A", "S"}, False) == [
        {}, {"A": False}, {"A": False, "S": True}]


def _lung() -> pd.DataFrame:
    """tests/reference/survival_lung.csv as the R script prepares it."""
    d = pd.read_csv(REF.parent / "survival_lung.csv").dropna(subset=["ph.ecog"])
    d["SEX"] = pd.Categorical(np.where(d["sex"] == 1, "M", "F"), categories=["M", "F"])
    d["ECOG"] = pd.Categorical(np.where(d["ph.ecog"] >= 1, "hi", "lo"), categories=["lo", "hi"])
    d["AGE"] = d["age"].astype(float)
    return d


def test_cox_codes_an_interaction_without_margins_as_coxph():
    """ECOG:AGE + SEX:ECOG: R codes SEX by contrasts within ECOG indicators (4 columns);
    formulaic's own scoping fits another, 5-column model. Estimates and SEs in R's column
    order; names are not compared (cox writes an indicator column as ECOG[lo], R as ECOGlo)."""
    ref = _ref()["cox"][0]
    fit = ts.cox(ref["formula"], _lung(), time="time", event="event")
    assert len(fit.coef) == len(ref["terms"])
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)


def test_cox_refuses_the_column_coxph_reports_as_aliased():
    ref = _ref()["cox"][1]
    aliased = ref["aliased"] if isinstance(ref["aliased"], list) else [ref["aliased"]]
    with pytest.raises(ts.ModelError, match="aliased") as err:
        ts.cox(ref["formula"], _lung(), time="time", event="event")
    named = re.sub(r"[\[\]]", "", str(err.value).split(" of ")[0])
    assert named == "covariates " + ", ".join(aliased)


def test_interval_regression_refuses_aliased_columns():
    """y ~ A:V has an intercept and every A x V indicator (R's coding): refused, naming the
    column R's lm reports as NA (formulaic's own scoping gave a full-rank design here)."""
    frame = _frame()
    frame["lo"] = frame["z"]
    frame["hi"] = frame["z"] + 1.0
    aliased = CASES["y ~ A:V"]["aliased_lm"]
    with pytest.raises(ts.ModelError, match="aliased") as err:
        ts.interval_regression("A:V", frame, left="lo", right="hi")
    named = re.sub(r"[\[\]]", "", str(err.value).split(" of ")[0])
    assert named == "covariates " + ", ".join(aliased)
