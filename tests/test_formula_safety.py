"""Formulas are data, never code (issue 11, part 1): trialstats.formula and every entry point.

Every formula of the hostile corpus tries a side effect (it creates a canary file in tmp_path).
Each must raise ModelError (PlanError in a plan, exit status 1 from the CLI) and leave no canary.
``test_canary_mechanism_works_on_raw_formulaic`` shows the canary would appear if the corpus reached
formulaic unchecked, so the no-canary assertions can fail.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import SAME_DESIGN

import trialstats as ts
from trialstats.errors import ModelError, TrialstatsError
from trialstats.formula import parse_formula, quote_name
from trialstats.report.plan import PlanError, load_plan

MINI = Path(__file__).parent / "data" / "mini_trial"

OPEN = 'open("CANARY", "w")'
SYSTEM = '__import__("os").system("touch CANARY")'

HOSTILE = [
    # the attack of the issue
    'CHG ~ ARM * AVISIT + BASE + {BASE.__class__.__init__.__globals__["__builtins__"]'
    '["__import__"]("os").system("touch CANARY") * 0 + AGE}',
    # {...} blocks anywhere
    "{" + OPEN + "} ~ ARM",
    "CHG ~ {" + OPEN + ".close() or 0}",
    "CHG ~ ARM + {{" + OPEN + "}}",
    "CHG ~ ARM + {[" + OPEN + " for _ in [1]]}",
    "CHG ~ ARM | {" + OPEN + "}",
    "CHG ~ `BASE` + {" + OPEN + "}",
    # attribute chains, dunders
    "CHG ~ BASE.__class__",
    "CHG ~ BASE.real",
    "CHG ~ __class__",
    "CHG ~ I(BASE.__class__)",
    "CHG ~ exp(BASE).__class__",
    "CHG ~ np.log(BASE)",
    "CHG ~ np.__dict__",
    "CHG ~ I(__builtins__)",
    "CHG ~ log(`BASE`) + I(`BASE`.__class__)",
    "CHG ~ I(`__class__`)",
    # calls of unknown functions, eval/exec/open/__import__
    "CHG ~ " + OPEN,
    "CHG ~ " + SYSTEM,
    "CHG ~ eval('open(\"CANARY\", \"w\")')",
    "CHG ~ exec('open(\"CANARY\", \"w\")')",
    "CHG ~ getattr(BASE, '__class__')",
    "CHG ~ breakpoint()",
    "CHG ~ I(globals())",
    "CHG ~ I(vars())",
    "CHG ~ sqrt(BASE)(1)",
    # Python inside whitelisted transforms
    "CHG ~ I(" + SYSTEM + ")",
    "CHG ~ I(" + OPEN + ")",
    "CHG ~ log(" + OPEN + ")",
    "CHG ~ log(BASE, " + OPEN + ")",
    "CHG ~ log(`BASE` + " + OPEN + ")",
    "CHG ~ C(ARM, levels=" + SYSTEM + ")",
    "CHG ~ C(ARM, levels=[" + OPEN + "])",
    'CHG ~ C(ARM, levels=["A", "B"] + [' + OPEN + "])",
    "CHG ~ C(ARM, contrasts=" + OPEN + ")",
    "CHG ~ C(ARM, contr.__class__)",
    "CHG ~ C(ARM, **{'levels': " + OPEN + "})",
    "CHG ~ C(*[" + OPEN + "])",
    "CHG ~ poly(BASE, " + OPEN + ")",
    "CHG ~ scale(BASE, center=" + OPEN + ")",
    # lambda, subscripts, conditionals, walrus, comprehensions, f-strings, strings
    "CHG ~ (lambda: " + OPEN + ")()",
    "CHG ~ I((lambda: " + OPEN + ")())",
    "CHG ~ I([" + OPEN + "][0])",
    "CHG ~ BASE[0]",
    "CHG ~ I(BASE if " + OPEN + " else BASE)",
    "CHG ~ I((x := " + OPEN + "))",
    "CHG ~ I([" + OPEN + " for _ in range(1)])",
    "CHG ~ I(f'{" + OPEN + "}')",
    'CHG ~ I("CANARY")',
    'CHG ~ "CANARY"',
    # unicode lookalikes (NFKC-normalised by Python to open / eval), Cyrillic 'а'
    'CHG ~ I(\uff4f\uff50\uff45\uff4e("CANARY", "w"))',
    'CHG ~ \uff45\uff56\uff41\uff4c("open(\'CANARY\', \'w\')")',
    "CHG ~ \u0430RM + {" + OPEN + "}",
    # backtick and escape tricks
    "CHG ~ `BASE\\`)+{" + OPEN + "}+(`",
    "CHG ~ log(`BASE`\\) + " + OPEN + ")",
    "CHG ~ `{" + OPEN + "}`",
    # formula features outside the whitelist
    "CHG ~ .",
    "CHG ~ . - ARM",
    "CHG ~ ARM %in% BASE",
    "CHG ~ ARM + [BASE]",
    "CHG ~ ARM ~ BASE",
    "CHG ~ ARM ; import os",
    "CHG ~ ARM @ BASE",
    "CHG ~ ARM\x00 + {" + OPEN + "}",
    "CHG ~ ARM + BASE\n+ {" + OPEN + "}",
    # denial of service: huge powers, very long and deeply nested formulas
    "CHG ~ poly(BASE, 10**10**10)",
    "CHG ~ I(10 ** 10 ** 10)",
    "CHG ~ I(BASE ** 10 ** 10 ** 10)",
    "CHG ~ (ARM + BASE) ** 1000000",
    "CHG ~ " + " + ".join(["BASE"] * 2000),
    "CHG ~ " + "(" * 500 + "BASE" + ")" * 500,
    "CHG ~ I(" + "(" * 200 + "BASE" + ")" * 200 + ")",
    "CHG ~ I(" + "-" * 1500 + "BASE)",
    # term explosion: 2^30 and C(30, <=10) terms
    "CHG ~ " + " * ".join(["ARM", "BASE", "AGE", "WEEK"] * 8),
    "CHG ~ (" + " + ".join(f"`C{i}`" for i in range(30)) + ") ^ 10",
]
assert len(HOSTILE) >= 40
# harmless as a name (a lookup, never evaluated) but not a column: refused only once the data is
# known, i.e. at the entry points, not by the syntax-only check of a plan
NAME_ONLY = ["CHG ~ BASE.real"]
SYNTAX_HOSTILE = [f for f in HOSTILE if f not in NAME_ONLY]

COLUMNS = ["USUBJID", "ARM", "AVISIT", "WEEK", "BASE", "AGE", "CHG", "COUNT", "TIME", "CNSR",
           "TLOWER", "TUPPER", *(f"C{i}" for i in range(30))]


def _arm(formula: str, canary: Path) -> str:
    return formula.replace("CANARY", str(canary))


@pytest.fixture(scope="module")
def long_data():
    """40 subjects x 3 visits with every column the entry points need (values are irrelevant)."""
    rng = np.random.default_rng(11)
    n, visits = 40, ["V1", "V2", "V3"]
    rows = []
    for i in range(n):
        arm = "A" if i % 2 else "B"
        base, age = rng.normal(50, 5), rng.integers(20, 70)
        for w, v in enumerate(visits):
            rows.append({"USUBJID": f"S{i:02d}", "ARM": arm, "AVISIT": v, "WEEK": float(4 * w),
                         "BASE": base, "AGE": float(age),
                         "CHG": 0.5 * w + (1.0 if arm == "A" else 0.0) * w + rng.normal(),
                         "COUNT": float(rng.poisson(3 + w)),
                         "TIME": float(rng.exponential(100) + 1), "CNSR": int(rng.uniform() < 0.3),
                         "TLOWER": 10.0, "TUPPER": 20.0 + w})
    return pd.DataFrame(rows)


def _rhs(formula: str) -> str:
    return formula.split("~", 1)[1] if "~" in formula else formula


ENTRY_POINTS = {
    "mmrm": lambda f, d: ts.mmrm(f, d, subject="USUBJID", visit="AVISIT"),
    "lmm": lambda f, d: ts.lmm(f, d, groups="USUBJID", re_formula="~WEEK"),
    "lmm_re_formula": lambda f, d: ts.lmm("CHG ~ ARM", d, groups="USUBJID",
                                          re_formula="~" + _rhs(f)),
    "count_model": lambda f, d: ts.count_model(f.replace("CHG ~", "COUNT ~", 1), d,
                                               groups="USUBJID"),
    "cox": lambda f, d: ts.cox(f, d, time="TIME", censor="CNSR"),
    "interval_regression": lambda f, d: ts.interval_regression(f, d, left="TLOWER",
                                                               right="TUPPER"),
}


# ------------------------------------------------------------------------------ the parser
@pytest.mark.parametrize("formula", HOSTILE)
def test_hostile_formula_rejected_by_parser(formula, tmp_path):
    canary = tmp_path / "canary"
    with pytest.raises(ModelError):
        parse_formula(_arm(formula, canary), COLUMNS)
    assert not canary.exists()


@pytest.mark.parametrize("formula", SYNTAX_HOSTILE)
def test_hostile_formula_rejected_without_column_list(formula, tmp_path):
    # syntax-only check, as at plan load: names are not checked against data, the rest is
    canary = tmp_path / "canary"
    with pytest.raises(ModelError):
        parse_formula(_arm(formula, canary))
    assert not canary.exists()


def test_canary_mechanism_works_on_raw_formulaic(tmp_path, long_data):
    # the control: without the check, formulaic runs the code of the corpus
    import formulaic

    for i, formula in enumerate([HOSTILE[0], HOSTILE[2], "CHG ~ I(" + SYSTEM + ")"]):
        canary = tmp_path / f"canary{i}"
        try:
            formulaic.model_matrix(_arm(formula, canary), long_data)
        except Exception:  # the payload ran before formulaic failed, or it succeeded
            pass
        assert canary.exists(), formula


def test_error_quotes_the_offending_part_and_lists_what_is_allowed():
    with pytest.raises(ModelError, match=r"Python code in \{\.\.\.\} is not allowed: "
                                         r"'\{BASE\.__class__\}'.*allowed: column names"):
        parse_formula("CHG ~ ARM + {BASE.__class__}", COLUMNS)
    with pytest.raises(ModelError, match=r"only arithmetic on columns and numbers.*"
                                         r"'I\(__import__\(\"os\"\)\)'.*transforms C\(\), I\(\)"):
        parse_formula('CHG ~ I(__import__("os"))', COLUMNS)
    with pytest.raises(ModelError, match=r"names 'AGEX', which is not a column of the data; "
                                         r"available columns: AGE, ARM"):
        parse_formula("CHG ~ ARM + AGEX", COLUMNS)
    with pytest.raises(ModelError, match=r"formula is 5007 characters long; at most 2000"):
        parse_formula("CHG ~ " + "A" * 5001, COLUMNS)


def test_rebuilt_text_is_canonical_and_keeps_only_checked_parts():
    f = parse_formula("CHG~ARM*AVISIT+log(BASE)+I(BASE/10)+C(ARM,levels=['B','A'])-1", COLUMNS)
    assert f.text == ("CHG ~ ARM * AVISIT + log(BASE) + I(BASE / 10) + "
                      "C(ARM, levels=['B', 'A']) - 1")
    assert f.lhs_columns == ("CHG",)
    assert f.rhs_columns == ("ARM", "AVISIT", "BASE")
    assert f.rhs == "ARM * AVISIT + log(BASE) + I(BASE / 10) + C(ARM, levels=['B', 'A']) - 1"
    odd = parse_formula("y ~ `odd name` + log(`odd name`)", ["y", "odd name"])
    assert odd.text == "y ~ `odd name` + log(`odd name`)"


@pytest.mark.parametrize("name", ["a`b", "a\\b", "", "a\nb"])
def test_unquotable_column_names_refused(name):
    with pytest.raises(ModelError, match="cannot be used in a formula"):
        quote_name(name)


# ------------------------------------------------------------------------------ entry points
# a re_formula has no left-hand side: formulas whose payload is left of '~' are not sent there
ENTRY_CASES = [(entry, f) for entry in sorted(ENTRY_POINTS) for f in HOSTILE
               if not (entry == "lmm_re_formula" and "CANARY" in f.split("~", 1)[0])]


@pytest.mark.parametrize(("entry", "formula"), ENTRY_CASES)
def test_hostile_formula_rejected_by_every_entry_point(entry, formula, tmp_path, long_data):
    canary = tmp_path / "canary"
    with pytest.raises(ModelError):
        ENTRY_POINTS[entry](_arm(formula, canary), long_data)
    assert not canary.exists()


@pytest.mark.parametrize("entry", ["mmrm", "cox", "count_model"])
def test_column_named_like_code_is_refused_not_run(entry, tmp_path, long_data):
    # a column whose NAME is Python code cannot be put in a formula, even backticked
    canary = tmp_path / "canary"
    evil = "{" + _arm(OPEN, canary) + "}"
    d = long_data.rename(columns={"AGE": evil})
    with pytest.raises(ModelError, match="cannot be used in a formula; rename the column"):
        ENTRY_POINTS[entry](f"CHG ~ ARM + `{evil}`", d)
    with pytest.raises(ModelError, match="cannot be used in a formula"):
        quote_name(evil)
    assert not canary.exists()


def test_subgroup_column_named_like_code_is_refused_not_run(tmp_path, long_data):
    from trialstats.report.plan import MMRMSpec
    from trialstats.report.sections.subgroups import interaction_lrt

    canary = tmp_path / "canary"
    evil = "{" + _arm(OPEN, canary) + "}"
    d = long_data.assign(**{evil: np.where(long_data["AGE"] > 45, "old", "young")})
    spec = MMRMSpec(formula="CHG ~ ARM * AVISIT + BASE", covariance=("cs",))
    with pytest.raises(ModelError):
        interaction_lrt(d, spec, "cs", evil, 0.95)
    assert not canary.exists()


def test_subgroup_interaction_with_an_odd_column_name(long_data):
    from trialstats.report.plan import MMRMSpec
    from trialstats.report.sections.subgroups import interaction_lrt

    odd = "age group (years)"
    d = long_data.assign(**{odd: np.where(long_data["AGE"] > 45, "old", "young")})
    spec = MMRMSpec(formula="CHG ~ ARM * AVISIT + BASE", covariance=("cs",))
    stat, df, p = interaction_lrt(d, spec, "cs", odd, 0.95)
    stat2, df2, p2 = interaction_lrt(d.rename(columns={odd: "AGEGRP"}), spec, "cs", "AGEGRP", 0.95)
    assert df == df2 == 3  # ARM:group (1) and ARM:AVISIT:group (2 visits after the first)
    assert_allclose([stat, p], [stat2, p2], **SAME_DESIGN)


# ------------------------------------------------------------------------------ plans, report, CLI
@pytest.mark.parametrize("formula", SYNTAX_HOSTILE)
def test_hostile_plan_formula_is_a_plan_error(formula, tmp_path):
    canary = tmp_path / "canary"
    with pytest.raises(PlanError, match=r"mmrm\.formula"):
        load_plan({"mmrm": {"formula": _arm(formula, canary)}})
    assert not canary.exists()


@pytest.mark.parametrize("key", [
    "{" + OPEN + "}", "SEX.__class__", "__class__", "SEX + {" + OPEN + "}", "`SEX`", "SEX)",
    "A" * 100, "1SEX", "SEX; import os", "\uff33EX", "",
])
def test_hostile_subgroup_key_is_a_plan_error(key, tmp_path):
    canary = tmp_path / "canary"
    with pytest.raises(PlanError, match=r"subgroups: key .* is not a column name"):
        load_plan({"subgroups": {_arm(key, canary): "label"}})
    assert not canary.exists()


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def _trial_folder(tmp_path: Path, sap: str) -> Path:
    folder = tmp_path / "trial"
    shutil.copytree(MINI, folder)
    (folder / "sap.toml").write_text(sap, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def mini_trial():
    return ts.load_trial(MINI)


@pytest.mark.parametrize("formula", SYNTAX_HOSTILE)
def test_hostile_sap_toml_stops_build_report(formula, tmp_path, mini_trial):
    canary = tmp_path / "canary"
    sap = tmp_path / "sap.toml"
    sap.write_text("[mmrm]\nformula = " + _toml_string(_arm(formula, canary)) + "\n",
                   encoding="utf-8")
    out = tmp_path / "out.html"
    with pytest.raises(TrialstatsError, match=r"mmrm\.formula"):
        ts.build_report(mini_trial, out, plan=sap)
    assert not canary.exists()
    assert not out.exists()


CLI_CASES = [HOSTILE[0], "CHG ~ {" + OPEN + ".close() or 0}", "CHG ~ I(" + SYSTEM + ")",
             "CHG ~ C(ARM, levels=" + SYSTEM + ")", "CHG ~ `BASE\\`)+{" + OPEN + "}+(`"]
assert all(c in HOSTILE for c in CLI_CASES)


@pytest.mark.parametrize("formula", CLI_CASES)
def test_hostile_sap_toml_through_cli(formula, tmp_path, capsys):
    from trialstats.cli import main

    canary = tmp_path / "canary"
    folder = _trial_folder(tmp_path, "[mmrm]\nformula = " + _toml_string(_arm(formula, canary))
                           + "\n")
    status = main(["report", str(folder), "-o", str(tmp_path / "out.html")])
    err = capsys.readouterr().err
    assert status != 0
    assert "mmrm.formula" in err and "Traceback" not in err
    assert not canary.exists()


def test_hostile_subgroup_key_through_cli(tmp_path, capsys):
    from trialstats.cli import main

    canary = tmp_path / "canary"
    key = _arm('{__import__("os").system("touch CANARY")}', canary)
    folder = _trial_folder(tmp_path, "[subgroups]\n" + _toml_string(key) + ' = "Evil"\n')
    status = main(["report", str(folder), "-o", str(tmp_path / "out.html")])
    err = capsys.readouterr().err
    assert status != 0
    assert "subgroups: key" in err and "Traceback" not in err
    assert not canary.exists()


# ------------------------------------------------------------------------------ what still works
def test_whitelisted_transforms_equal_precomputed_columns(long_data):
    # each transform's design column equals the column computed with numpy (closed form), so the
    # Cox fits agree; tolerance SAME_DESIGN: same design up to rounding of the transform
    d = long_data[long_data["AVISIT"] == "V1"].reset_index(drop=True)
    d = d.assign(LOGB=np.log(d["BASE"]), B10=d["BASE"] / 10, SQ=np.sqrt(d["AGE"]),
                 L1P=np.log1p(d["AGE"]), AB=np.abs(d["BASE"] - 50), EX=np.exp(d["AGE"] / 100),
                 CEN=d["AGE"] - d["AGE"].mean(),
                 SC=(d["AGE"] - d["AGE"].mean()) / d["AGE"].std(ddof=1),
                 L2=np.log2(d["AGE"]), L10=np.log10(d["AGE"]), SQ2=d["AGE"] ** 2)
    pairs = [
        ("log(BASE)", "LOGB"), ("I(BASE/10)", "B10"), ("sqrt(AGE)", "SQ"),
        ("log1p(AGE)", "L1P"), ("abs(BASE - 50)", "AB"), ("exp(AGE / 100)", "EX"),
        ("center(AGE)", "CEN"), ("scale(AGE)", "SC"), ("log2(AGE)", "L2"),
        ("log10(AGE)", "L10"), ("I(AGE ** 2)", "SQ2"),
    ]
    for transform, column in pairs:
        a = ts.cox(f"ARM + {transform}", d, time="TIME", censor="CNSR")
        b = ts.cox(f"ARM + {column}", d, time="TIME", censor="CNSR")
        assert_allclose(a.coef["estimate"], b.coef["estimate"], **SAME_DESIGN, err_msg=transform)
        assert_allclose(a.coef["std_error"], b.coef["std_error"], **SAME_DESIGN,
                        err_msg=transform)


def test_c_levels_and_backticked_odd_names_in_mmrm(long_data):
    d = long_data.rename(columns={"BASE": "base value (g/dL)"})
    d["ARM2"] = pd.Categorical(d["ARM"], categories=["A", "B"])
    a = ts.mmrm("CHG ~ C(ARM, levels=['A', 'B']) * AVISIT + `base value (g/dL)`", d,
                subject="USUBJID", visit="AVISIT", covariance="cs")
    b = ts.mmrm("CHG ~ ARM2 * AVISIT + `base value (g/dL)`", d, subject="USUBJID",
                visit="AVISIT", covariance="cs")
    assert_allclose(a.coef["estimate"], b.coef["estimate"], **SAME_DESIGN)
    assert_allclose(a.coef["std_error"], b.coef["std_error"], **SAME_DESIGN)


def test_poly_and_power_of_terms(long_data):
    d = long_data[long_data["AVISIT"] == "V1"].reset_index(drop=True)
    d = d.assign(A1=d["AGE"], A2=d["AGE"] ** 2)
    a = ts.cox("poly(AGE, 2, raw=True)", d, time="TIME", censor="CNSR")
    b = ts.cox("A1 + A2", d, time="TIME", censor="CNSR")
    assert_allclose(a.coef["estimate"], b.coef["estimate"], **SAME_DESIGN)
    both = ts.cox("(ARM + AGE) ^ 2", d, time="TIME", censor="CNSR")
    star = ts.cox("ARM * AGE", d, time="TIME", censor="CNSR")
    assert_allclose(both.coef["estimate"], star.coef["estimate"], **SAME_DESIGN)


def test_bundled_sap_formulas_pass(tmp_path):
    root = Path(__file__).parents[1] / "datasets"
    for sap in sorted(root.glob("*/sap.toml")):
        plan = load_plan(sap)
        parse_formula(plan.mmrm.formula, sides="two")


def test_parse_formula_is_public():
    assert ts.parse_formula is parse_formula


def test_transform_outside_formulaic_works_in_the_reference_grid(long_data):
    # sqrt/log1p/abs come from trialstats.formula.formula_context, also when lsmeans rebuilds the
    # design; arm contrasts do not depend on where the covariate is held, so they equal the fit
    # with the precomputed column
    d = long_data.assign(SQB=np.sqrt(long_data["BASE"]))
    a = ts.mmrm("CHG ~ ARM * AVISIT + sqrt(BASE)", d, covariance="cs")
    b = ts.mmrm("CHG ~ ARM * AVISIT + SQB", d, covariance="cs")
    ca, cb = a.contrast("ARM", by="AVISIT"), b.contrast("ARM", by="AVISIT")
    assert_allclose(ca["estimate"], cb["estimate"], **SAME_DESIGN)
    assert_allclose(ca["std_error"], cb["std_error"], **SAME_DESIGN)


@pytest.mark.parametrize("formula", ["CHG ~ log(open)", "CHG ~ I(eval * 2)", "CHG ~ sqrt(exec)"])
def test_builtin_names_in_transforms_refused_before_data_is_known(formula):
    # without a column list (a plan), a transform argument may not name a Python builtin
    with pytest.raises(ModelError, match="is a Python builtin, not a known column"):
        parse_formula(formula)
    # with the data known, a column of that name is only a column
    assert parse_formula(formula, ["CHG", "open", "eval", "exec"]).rhs_columns


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("transform", ["I(BASE / 0)", "log(BASE - BASE)"])
def test_transform_with_infinite_values_is_a_model_error(entry, transform, long_data):
    with pytest.raises(ModelError, match=r"infinite|undefined|cannot build the design"):
        if entry == "lmm_re_formula":
            ts.lmm("CHG ~ ARM", long_data, groups="USUBJID", re_formula=f"~{transform}")
        else:
            ENTRY_POINTS[entry](f"CHG ~ ARM + {transform}", long_data)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_multipart_formula_is_a_clean_model_error(entry, long_data):
    with pytest.raises(ModelError, match=r"'\|' \(a multi-part formula\) is not supported"):
        ENTRY_POINTS[entry]("CHG ~ ARM | BASE", long_data)
    assert parse_formula("y ~ a | b", multipart=True).text == "y ~ a | b"


@pytest.mark.parametrize("entry", ["count_model", "interval_regression", "cox"])
def test_formula_without_terms_is_a_clean_model_error(entry, long_data):
    with pytest.raises(ModelError, match="has no (terms|covariates)"):
        ENTRY_POINTS[entry]("CHG ~ 0", long_data)


def test_hostile_formula_in_a_plan_object_fails_its_sections_only(tmp_path, mini_trial):
    # an AnalysisPlan built in Python skips load_plan: every fit still checks its formula, so
    # the MMRM sections fail cleanly and the rest of the report is written
    from dataclasses import replace

    from trialstats.report.plan import AnalysisPlan

    canary = tmp_path / "canary"
    plan = AnalysisPlan()
    plan = replace(plan, mmrm=replace(plan.mmrm, formula=_arm("CHG ~ ARM + {" + OPEN + "}", canary)))
    out = ts.build_report(mini_trial, tmp_path / "out.html", plan=plan)
    html = Path(out).read_text(encoding="utf-8")
    assert not canary.exists()
    primary = html[html.index('id="sec-primary"'):html.index('id="sec-durability"')]
    assert "This section failed" in primary and "Python code in {...} is not allowed" in primary


def test_hostile_subgroup_key_in_a_plan_object_is_refused_before_the_build(tmp_path, mini_trial):
    # plan-named columns are checked against the data before any section runs (PlanError
    # naming the key); the key is never evaluated
    from dataclasses import replace

    from trialstats.report.plan import AnalysisPlan

    canary = tmp_path / "canary"
    plan = replace(AnalysisPlan(), subgroups=(("{" + _arm(OPEN, canary) + "}", "Evil"),))
    with pytest.raises(PlanError, match=r"subgroups\."):
        ts.build_report(mini_trial, tmp_path / "out.html", plan=plan)
    assert not canary.exists()
    assert not (tmp_path / "out.html").exists()
