"""Factor coding in interactions whose margins are absent, vs R's model.matrix (issue 12).

Reference: tests/reference/model_matrix_coding.json, made by
tests/reference/make_model_matrix_coding_reference.R (base R's ``model.matrix`` with
``contr.treatment``): for each formula R's column names and every row of its matrix, on the data
stored in the same file, and the same after ``update(formula, . ~ .)`` (R mmrm's names). trialstats builds designs with its own formulaic materializer
(trialstats/_materializer.py); these tests hold it to R's rule, column for column.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import formulaic
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC

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
