"""Red team (issue 11), formulas: attacks the hostile-formula corpus had not tried.

Found: ``ts.rbmi`` and ``ts.tipping_point`` handed their imputation formula to formulaic
unchecked, so a ``{...}`` block ran Python (the canary file appeared). Each test writes a canary
into tmp_path from the formula and asserts a ModelError and no canary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialstats as ts
from trialstats.errors import ModelError
from trialstats.formula import parse_formula


def _payload(canary: Path) -> str:
    return ('{BASVAL.__class__.__init__.__globals__["__builtins__"]["__import__"]("os")'
            f'.system("touch {canary}") * 0 + BASVAL}}')


@pytest.fixture(scope="module")
def small():
    """12 subjects x 2 visits, complete: enough for the imputation model to be built."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(12):
        for v in ("V1", "V2"):
            rows.append({"PATIENT": f"P{i}", "VISIT": v, "THERAPY": "DRUG" if i % 2 else "PBO",
                         "BASVAL": float(rng.normal(10, 2)), "CHANGE": float(rng.normal())})
    d = pd.DataFrame(rows)
    d["THERAPY"] = pd.Categorical(d["THERAPY"], categories=["PBO", "DRUG"])
    return d


HOSTILE = [
    "CHANGE ~ THERAPY + VISIT + {payload}",
    "CHANGE ~ THERAPY * VISIT + I({payload})",
    "CHANGE ~ THERAPY + VISIT + BASVAL.__class__",
    'CHANGE ~ THERAPY + VISIT + C(BASVAL, contr.treatment(base=__import__("os").system("touch {canary}")))',
    "CHANGE ~ THERAPY + VISIT + ＿＿import＿＿('os').system('touch {canary}')",
    "CHANGE ~ THERAPY + VISIT + ｅｖａｌ('open(\"{canary}\", \"w\")')",
    "CHANGE ~ THERAPY + VISIT + poly(BASVAL, degree=__import__('os').system('touch {canary}'))",
]


def _fill(template: str, canary: Path) -> str:
    return template.replace("{payload}", _payload(canary)).replace("{canary}", str(canary))


@pytest.mark.parametrize("template", HOSTILE)
@pytest.mark.parametrize("entry", ["rbmi", "tipping_point"])
def test_imputation_formula_is_checked(entry, template, small, tmp_path):
    canary = tmp_path / "canary"
    formula = _fill(template, canary)
    kw = dict(subject="PATIENT", visit="VISIT", group="THERAPY", engine="sequential")
    with pytest.raises(ModelError, match="formula"):
        if entry == "rbmi":
            ts.rbmi(small, formula, **kw)
        else:
            ts.tipping_point(small, formula, deltas=[0.0, 1.0], **kw)
    assert not canary.exists()


def test_imputation_formula_with_a_whitelisted_transform_still_works(small):
    # the check must not refuse what the whitelist allows: log() of a column in the design
    fit = ts.rbmi(small.assign(BASVAL=small["BASVAL"].abs() + 1), "CHANGE ~ THERAPY + VISIT + "
                  "log(BASVAL)", subject="PATIENT", visit="VISIT", group="THERAPY",
                  engine="sequential")
    assert np.isfinite(fit.pooled["estimate"]).all()


@pytest.mark.parametrize("formula", [
    "CHG ~ ＿＿import＿＿('os')",   # fullwidth folds to __import__ under NFKC
    "CHG ~ ｅｖａｌ('1')",
    "CHG ~ I(ｅｖａｌ)",
    "CHG ~ log(\\\nBASE)",        # line continuation
    "CHG ~ ARM # + {open('x','w')}",
    "CHG ~ ARM ; open('x')",
    "CHG ~ C(ARM, levels=[f'{1}'])",
    "CHG ~ C(ARM, levels=['\\N{LATIN SMALL LETTER A}'])",
    "CHG ~ I(BASE if AGE else AGE)",
    "CHG ~ I((BASE := 1))",
    "CHG ~ I(lambda: 1)",
    "CHG ~ poly(BASE, degree=1+1)",
    "CHG ~ I(BASE ** 1e308)",
    "CHG ~ I(2 ** 10 ** 10)",
    "CHG ~ ARM ^ 999999999999",
    "CHG ~ 1e309",
    "CHG ~ Q('BASE')",
    "CHG ~ . - 1",
    "CHG ~ `BASE`.real",
    "CHG ~ log(BASE)(1)",
])
def test_new_syntax_variants_rejected(formula):
    with pytest.raises(ModelError):
        parse_formula(formula, ["CHG", "ARM", "BASE", "AGE"])


# ----------------------------------------- code in column names passed as arm=/visit=/subgroup
@pytest.fixture(scope="module")
def long3():
    rng = np.random.default_rng(2)
    m = 40
    return pd.DataFrame({"USUBJID": np.repeat([f"u{i}" for i in range(m)], 3),
                         "AVISIT": ["V1", "V2", "V3"] * m,
                         "ARM": np.repeat(rng.choice(["A", "B"], m), 3),
                         "BASE": np.repeat(rng.normal(size=m), 3), "CHG": rng.normal(size=3 * m),
                         "SEX": np.repeat(rng.choice(["F", "M"], m), 3)})


COLUMN_CODE = ["X` + {{open('{canary}', 'w')}} + `Y", "X + I(open('{canary}', 'w'))",
               "log(open('{canary}', 'w'))"]


@pytest.mark.parametrize("template", COLUMN_CODE)
@pytest.mark.parametrize("role", ["arm", "visit", "subgroup"])
def test_subgroup_interaction_builds_its_formula_only_from_quotable_names(role, template, long3,
                                                                          tmp_path):
    # subgroup_interaction pastes arm/visit/subgroup names into a formula: a column named like
    # code must be refused by the whitelist, never evaluated
    canary = tmp_path / "canary"
    name = template.format(canary=canary)
    column = {"arm": "ARM", "visit": "AVISIT", "subgroup": "SEX"}[role]
    data = long3.rename(columns={column: name})
    args = {"arm": "ARM", "visit": "AVISIT", "covariance": "cs"}
    subgroup = name if role == "subgroup" else "SEX"
    if role != "subgroup":
        args[role] = name
    with pytest.raises(ModelError):
        ts.subgroup_interaction(data, subgroup, **args)
    assert not canary.exists()
