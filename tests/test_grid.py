"""trialstats.longitudinal._grid: emmeans reference grids built once, with NumPy.

Expected values: a hand-derived grid (closed form), and the point-by-point reference rows of
``_design.reference_grid_matrix``, which builds each grid point with formulaic's
``ModelSpec.get_model_matrix`` (an independent route to the same emmeans definition).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC

from trialstats.longitudinal._design import build_design, reference_grid_matrix
from trialstats.longitudinal._grid import column_products, reference_grid


@pytest.fixture(scope="module")
def small():
    return pd.DataFrame({
        "y": [1.0, 2.0, 3.0, 4.0, 5.0, 7.0],
        "A": ["p", "q", "p", "q", "p", "q"],
        "S": ["f", "f", "m", "m", "f", "m"],
        "x": [1.0, 2.0, 3.0, 4.0, 5.0, 9.0],
    })


@pytest.fixture(scope="module")
def trial():
    rng = np.random.default_rng(7)
    n = 60
    arm = rng.choice(["PBO", "LOW", "HIGH"], n)
    sex = rng.choice(["F", "M"], n)
    stage = rng.choice(["I", "II", "III"], n)
    base = rng.normal(100, 10, n)
    rows = []
    for i in range(n):
        for v in ("W4", "W12", "W24"):
            rows.append((f"S{i}", arm[i], sex[i], stage[i], base[i], v, rng.normal()))
    d = pd.DataFrame(rows, columns=["USUBJID", "ARM", "SEX", "STAGE", "BASE", "AVISIT", "CHG"])
    d["ARM"] = pd.Categorical(d["ARM"], categories=["PBO", "LOW", "HIGH"])
    d["AVISIT"] = pd.Categorical(d["AVISIT"], categories=["W4", "W12", "W24"])
    return d


def test_hand_derived_grid(small):
    # y ~ A * x + S, terms (Intercept), Aq, x, Sm, Aq:x; mean x = 4, S averaged (1/2 each)
    design = build_design("y ~ A * x + S", small)
    keys, L = reference_grid(design, ["A"])
    assert keys == [("p",), ("q",)]
    assert_allclose(L, [[1.0, 0.0, 4.0, 0.5, 0.0], [1.0, 1.0, 4.0, 0.5, 4.0]], **ANALYTIC)


@pytest.mark.parametrize("formula", [
    "CHG ~ ARM * AVISIT + BASE",
    "CHG ~ ARM * AVISIT + BASE * AVISIT + SEX",
    "CHG ~ ARM * AVISIT * SEX + STAGE + BASE:ARM",
    "CHG ~ 0 + AVISIT + ARM:AVISIT + BASE",
])
def test_numpy_grid_equals_formulaic_points(trial, formula):
    design = build_design(formula, trial)
    products = column_products(design)
    assert products is not None  # plain factors and covariates: the NumPy route is taken
    keys, L = reference_grid(design, ["AVISIT", "ARM"], products)
    assert len(keys) == 9 and keys[1] == ("W4", "LOW")  # by outer, spec inner
    expected = np.array([reference_grid_matrix(design, {"AVISIT": v, "ARM": a}) for v, a in keys])
    assert_allclose(L, expected, **ANALYTIC)
    keys1, L1 = reference_grid(design, ["ARM"], products)
    expected1 = np.array([reference_grid_matrix(design, {"ARM": a}) for (a,) in keys1])
    assert_allclose(L1, expected1, **ANALYTIC)


@pytest.mark.parametrize("formula", [
    "CHG ~ ARM * AVISIT + I(BASE ** 2)",
    "CHG ~ ARM * AVISIT + I(BASE - 100) + SEX",
    "CHG ~ ARM * AVISIT + np.log(BASE):SEX",
])
def test_transforms_take_the_formulaic_route(trial, formula):
    design = build_design(formula, trial)
    assert column_products(design) is None
    keys, L = reference_grid(design, ["AVISIT", "ARM"])
    expected = np.array([reference_grid_matrix(design, {"AVISIT": v, "ARM": a}) for v, a in keys])
    assert_allclose(L, expected, **ANALYTIC)
