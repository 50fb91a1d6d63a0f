"""trialstats.longitudinal._design: R-style design matrices, factor levels and exclusions.

R reference values come from tests/reference/make_lmm_counts_reference.R:
- tests/reference/design_levels.json: ``levels(factor(x))`` for a mixed-case character vector
  (R 4.2.2, LC_COLLATE C.UTF-8, which R collates with ICU);
- tests/reference/design_matrices.json: ``model.matrix(formula, d)`` on the complete rows of
  hair_counts.csv (column names and values).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC

from trialstats.errors import ModelError
from trialstats.longitudinal._design import (
    build_design,
    r_level_order,
    reference_grid_matrix,
    rhs_matrix,
)

REF = Path(__file__).parent / "reference"


def _json(name: str) -> dict:
    with open(REF / name) as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def mm_ref():
    return _json("design_matrices.json")


@pytest.fixture(scope="module")
def complete():
    """The complete rows of hair_counts.csv with the derived columns the R script adds."""
    d = pd.read_csv(REF / "hair_counts.csv").dropna().reset_index(drop=True)
    d["ARM"] = pd.Categorical(d["ARM"], categories=["PLACEBO", "EXOSOME", "MINOXIDIL"])
    d["LATE"] = d["WEEK_OFF"] >= 12  # R: logical
    d["GRP"] = np.where(d["BASE"] > 150, "high", "low")  # R: character
    d["V"] = d["VISITNUM"].astype(str)  # R: factor(VISITNUM), levels 1..5
    return d


def test_r_level_order_matches_r():
    # source: tests/reference/design_levels.json
    ref = _json("design_levels.json")
    assert r_level_order(ref["input"]) == ref["levels"]
    # numbers are ordered numerically (R's labels: "2.5", "9", "10", "100")
    assert [f"{v:g}" for v in r_level_order(ref["numeric_input"])] == ref["numeric_levels"]
    assert r_level_order([True, False, True]) == [False, True]


@pytest.mark.parametrize(
    "case",
    [
        "factor_levels",
        "interaction_only",
        "logical",
        "two_factors",
        "three_way",
        "interaction_written_backwards",
        "no_intercept",
    ],
)
def test_model_matrix_matches_r(complete, mm_ref, case):
    # source: tests/reference/design_matrices.json [case] (R model.matrix)
    ref = mm_ref[case]
    design = build_design(ref["formula"], complete)
    assert list(design.terms) == ref["terms"]
    assert len(design.y) == mm_ref["n_rows"]
    assert_allclose(design.X, np.array(ref["X"], dtype=float), **ANALYTIC)


def test_plain_strings_sorted_as_r(complete, mm_ref):
    # source: design_matrices.json ["character_levels"]: ARM as plain strings -> EXOSOME reference
    ref = mm_ref["character_levels"]
    d = complete.assign(ARM=complete["ARM"].astype(str))
    design = build_design(ref["formula"], d)
    assert list(design.terms) == ref["terms"]
    assert_allclose(design.X, np.array(ref["X"], dtype=float), **ANALYTIC)
    assert design.levels["ARM"] == ["EXOSOME", "MINOXIDIL", "PLACEBO"]


def test_unused_categories_are_dropped():
    # as R's model.frame(drop.unused.levels = TRUE): no all-zero column for an absent level
    d = pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.5],
            "ARM": pd.Categorical(list("PPEEPE"), categories=["P", "X", "E"]),
        }
    )
    design = build_design("y ~ ARM", d)
    assert design.terms == ("(Intercept)", "ARME")
    assert design.levels["ARM"] == ["P", "E"]
    assert_allclose(design.X[:, 1], [0, 0, 1, 1, 0, 1], **ANALYTIC)


def test_exclusions_give_every_missing_column():
    d = pd.DataFrame(
        {
            "ID": ["a", "a", "b", "b", "c"],
            "y": [1.0, np.nan, 2.0, np.nan, 3.0],
            "x": [0.5, 1.0, np.nan, np.nan, 2.0],
        },
        index=[10, 11, 12, 13, 14],
    )
    design = build_design("y ~ x", d, cluster="ID")
    excl = design.exclusions
    assert excl["row"].tolist() == [11, 12, 13]
    assert excl["ID"].tolist() == ["a", "b", "b"]
    assert excl["reason"].tolist() == ["missing y", "missing x", "missing y, x"]
    assert list(design.frame.index) == [10, 14]
    assert design.n_input_rows == 5


def test_missing_extra_column_is_an_exclusion():
    d = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [1.0, 2.0, 4.0], "T": [0.0, np.nan, 1.0]})
    design = build_design("y ~ x", d, extra_columns=["T"])
    assert design.exclusions["reason"].tolist() == ["missing T"]


def test_reference_grid_averages_other_factors_and_means_covariates():
    # emmeans' reference grid: other factors at equal weights, numeric covariates at their mean
    d = pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 7.0],
            "A": ["p", "q", "p", "q", "p", "q"],
            "S": ["f", "f", "m", "m", "f", "m"],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 9.0],
        }
    )
    design = build_design("y ~ A * x + S", d)
    assert design.terms == ("(Intercept)", "Aq", "x", "Sm", "Aq:x")
    row = reference_grid_matrix(design, {"A": "q", "x": 2.0})
    assert_allclose(row, [1.0, 1.0, 2.0, 0.5, 2.0], **ANALYTIC)
    row = reference_grid_matrix(design, {"A": "p"})
    assert_allclose(row, [1.0, 0.0, 4.0, 0.5, 0.0], **ANALYTIC)


def test_rhs_matrix_names():
    d = pd.DataFrame({"WEEK": [0.0, 4.0, 8.0]})
    Z, names = rhs_matrix("~WEEK", d)
    assert names == ("(Intercept)", "WEEK")
    assert_allclose(Z, [[1, 0], [1, 4], [1, 8]], **ANALYTIC)
    _, names = rhs_matrix("~0 + WEEK", d)
    assert names == ("WEEK",)


# ----------------------------------------------------------------------------- errors
def test_unknown_columns_listed_with_available():
    d = pd.DataFrame({"y": [1.0, 2.0], "x": [1.0, 2.0]})
    with pytest.raises(
        ModelError, match=r"columns 'z', 'w' not in the data; available columns: y, x"
    ):
        build_design("y ~ x + z + w", d, where="lmm")


def test_unknown_cluster_column():
    d = pd.DataFrame({"y": [1.0, 2.0], "x": [1.0, 2.0]})
    with pytest.raises(
        ModelError, match=r"groups='USUBJID' names column 'USUBJID' not in the data"
    ):
        build_design("y ~ x", d, cluster="USUBJID")


def test_all_missing_outcome():
    d = pd.DataFrame({"y": [np.nan, np.nan], "x": [1.0, 2.0]})
    with pytest.raises(ModelError, match=r"outcome column 'y' is missing in all 2 rows"):
        build_design("y ~ x", d)


def test_no_complete_rows():
    d = pd.DataFrame({"y": [1.0, np.nan], "x": [np.nan, 2.0]})
    with pytest.raises(ModelError, match=r"no complete rows.*missing x: 1 rows"):
        build_design("y ~ x", d)


def test_infinite_values_rejected_with_rows():
    d = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [1.0, np.inf, 2.0]})
    with pytest.raises(ModelError, match=r"column 'x' has infinite values in rows 1"):
        build_design("y ~ x", d)


def test_aliased_terms_named():
    d = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0], "x": [1.0, 2.0, 3.0, 4.0]})
    d["x2"] = 2 * d["x"]
    with pytest.raises(ModelError, match=r"terms x2 of 'y ~ x \+ x2' are linear combinations"):
        build_design("y ~ x + x2", d)


def test_one_sided_formula_rejected_for_model():
    d = pd.DataFrame({"y": [1.0, 2.0], "x": [1.0, 2.0]})
    with pytest.raises(ModelError, match=r"exactly one outcome column"):
        build_design("~ x", d)


def test_not_a_dataframe():
    with pytest.raises(ModelError, match=r"data must be a pandas DataFrame; got dict"):
        build_design("y ~ x", {"y": [1.0], "x": [2.0]})


def test_re_formula_must_start_with_tilde():
    with pytest.raises(ModelError, match=r"must be one-sided and start with '~'"):
        rhs_matrix("WEEK", pd.DataFrame({"WEEK": [1.0]}))
