"""Helpers of the documentation site's executed blocks (markdown-exec, see mkdocs.yml).

Everything a page shows that could drift from the code is generated here at build time: the
``sap.toml`` reference (from the plan's dataclass defaults), the CLI reference (argparse
``--help``), the validation tables (trialstats refitted against the committed R output in
``tests/reference`` and the tolerances of ``tests/tolerances.py``), the "Coming from R" table
(each trialstats argument checked against the function's signature) and the figures (inline SVG,
deterministic: fixed hash salt, no date).
"""

from __future__ import annotations

import ast
import html
import inspect
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "reference"


# ------------------------------------------------------------------------------------------------
# output helpers
# ------------------------------------------------------------------------------------------------
def svg(fig) -> str:
    """A matplotlib figure as inline SVG (deterministic), then closed."""
    import matplotlib.pyplot as plt

    with plt.rc_context({"svg.hashsalt": "trialstats-docs", "svg.fonttype": "path"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE (not valid inside HTML)
    return f"<div class='ts-figure'>{text}</div>"


def _caller_print():
    """The ``print`` of the calling block: markdown-exec captures output by giving each executed
    block its own ``print`` (not by redirecting stdout), so a helper must print through it."""
    import builtins
    import sys

    return sys._getframe(2).f_globals.get("print", builtins.print)


def show(obj, digits: int = 4) -> None:
    """Print an object as HTML (for ``html="true"`` blocks): a frame, a result, a figure."""
    print = _caller_print()  # noqa: A001
    if hasattr(obj, "savefig"):
        print(svg(obj))
    elif hasattr(obj, "figure") and hasattr(obj, "plot"):  # an Axes
        print(svg(obj.figure))
    elif isinstance(obj, pd.DataFrame):
        print(frame_html(obj, digits))
    elif hasattr(obj, "_repr_html_"):
        print(_plain_tables(obj._repr_html_()))
    else:
        print(f"<pre>{html.escape(str(obj))}</pre>")


def _plain_tables(text: str) -> str:
    """Drop pandas' table attributes: a class-less table gets the theme's table style."""
    return re.sub(r"<table[^>]*>", "<table>", text)


def frame_html(frame: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as an HTML table in the site's style (floats to ``digits`` significant digits)."""
    return _plain_tables(frame.to_html(index=False, float_format=lambda x: f"{x:.{digits}g}", na_rep=""))


def code(s) -> str:
    """Inline code safe inside a Markdown table cell (a ``|`` in a code span would end the cell)."""
    return "<code>" + html.escape(str(s)).replace("|", "&#124;") + "</code>"


def md_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows as a Markdown table (cells escaped for ``|``)."""
    columns = columns or list(rows[0])

    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------
# sap.toml reference, from the dataclass defaults of trialstats/report/plan.py
# ------------------------------------------------------------------------------------------------
_PLAN_DOC = {
    "seed": "seed of anything random (recorded in the report's appendix)",
    "level": "confidence level of every interval (strictly between 0 and 1)",
    "sensitivity": "sensitivity analyses to run",
    "primary.paramcd": "ADEFF PARAMCD of the primary endpoint (default: trial.toml's [endpoints] primary)",
    "primary.visit": "AVISIT of the primary comparison (default: trial.toml's [endpoints] primary)",
    "mmrm.formula": "MMRM formula (terms checked against a whitelist before use)",
    "mmrm.covariance": "covariance structures tried in order until one converges",
    "mmrm.df": "degrees-of-freedom method",
    "mmrm.method": "estimation method",
    "secondary": "array of tables `[[secondary]]` with name, paramcd, visit; each analysed with the primary MMRM",
    "durability.paramcd": "ADEFF PARAMCD of the off-treatment durability analyses",
    "durability.family": "count-model family (GEE)",
    "durability.correlation": "GEE working correlation",
    "relapse.paramcd": "ADTTE PARAMCD of time to relapse (default: trial.toml's [endpoints] relapse)",
    "relapse.tau": "RMST horizon in days (default: the last day every arm still has follow-up)",
    "relapse.landmarks": "landmark days of the relapse-free proportions",
    "relapse.strata": "strata of the stratified log-rank test (ADSL columns)",
    "longterm.horizon_years": "horizon of the parametric extrapolation, years",
    "longterm.distributions": "parametric distributions fitted",
    "subgroups": "table `column = label` of the forest plot's subgroup factors, in display order",
    "safety.rd_method": "interval of adverse-event risk differences",
    "multiplicity.strategy": "multiplicity strategy over the hypotheses",
    "multiplicity.alpha": "two-sided family-wise alpha",
    "hypotheses": "array of tables `[[hypotheses]]` with endpoint and arm, in testing order "
                  "(default: primary for every non-reference arm, then RMST likewise)",
    "estimands": "array of tables `[[estimands]]` (ICH E9(R1)): id, name, role, population "
                 "(ADSL flag), paramcd, visit, summary, sensitivity (MAR, JR, CR, CIR, LMCF), "
                 "tipping_point = { arm, deltas }, formula, better; each with `[[estimands.events]]`: "
                 "name, strategy, table (adsl/adeff), flag, values, day, off_treatment, imputation, "
                 "value or rule (default: none; section 12 is then not applicable)",
}


def _plan_choices() -> dict:
    from trialstats.report import plan as p

    return {
        "sensitivity": p.SENSITIVITIES, "mmrm.covariance": p.COVARIANCES, "mmrm.df": p.DF_METHODS,
        "mmrm.method": p.METHODS, "durability.family": p.FAMILIES,
        "durability.correlation": p.CORRELATIONS, "longterm.distributions": p.DISTRIBUTIONS,
        "safety.rd_method": p.RD_METHODS, "multiplicity.strategy": p.STRATEGIES,
        "hypotheses": tuple(f"endpoint = {e}" for e in p.HYPOTHESIS_ENDPOINTS) + ("endpoint = secondary:<name>",),
        "estimands": tuple(f"strategy = {s}" for s in _estimand_strategies()),
    }


def _estimand_strategies() -> tuple:
    from trialstats.estimands.definition import STRATEGIES

    return STRATEGIES


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k != "subgroups":
            out += _flatten(v, key + ".")
        else:
            out.append((key, v))
    return out


def _toml_text(v) -> str:
    from trialstats._toml import toml_value

    return toml_value(v) if v is not None else "(from the trial)"


def plan_defaults() -> dict:
    """The default plan in sap.toml's layout, with the trial-dependent keys marked."""
    from trialstats.report.plan import AnalysisPlan, Endpoint, RelapseSpec

    d = AnalysisPlan(primary=Endpoint(), relapse=RelapseSpec()).to_dict()
    d["relapse"].setdefault("tau", None)
    d.setdefault("estimands", [])  # none by default: listed so the reference documents the key
    return d


def sap_reference() -> str:
    """Markdown table of every sap.toml key: default, valid values, meaning."""
    choices = _plan_choices()
    rows = []
    keys = _flatten(plan_defaults())
    undocumented = [k for k, _ in keys if k not in _PLAN_DOC]
    if undocumented:  # a new key in plan.py must get a line here: fail the (strict) build
        raise RuntimeError(f"docs/_gen/docs_gen.py: no description of sap.toml key(s) {undocumented}")
    for key, value in keys:
        default = _toml_text(value)
        if key in ("primary.paramcd", "primary.visit", "relapse.paramcd"):
            default += " (or trial.toml's)"
        rows.append({
            "key": f"`{key}`",
            "default": f"`{default}`" if value not in (None, [], {}) else ("none" if value in ([], {}) else "from the trial"),
            "valid": ", ".join(f"`{c}`" for c in choices.get(key, ())),
            "meaning": _PLAN_DOC[key],
        })
    return md_table(rows, ["key", "default", "valid", "meaning"])


# ------------------------------------------------------------------------------------------------
# CLI reference, from argparse
# ------------------------------------------------------------------------------------------------
def cli_help() -> str:
    """``trialstats --help`` and every subcommand's help, as Markdown code blocks."""
    import argparse
    import os

    from trialstats.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix the width
    parser = build_parser()
    out = ["## `trialstats`", "", "```text", parser.format_help().rstrip(), "```", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        out += [f"## `trialstats {name}`", "", "```text", p.format_help().rstrip(), "```", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------
# Validation: tolerances, and trialstats refitted against the committed R output
# ------------------------------------------------------------------------------------------------
def tolerances() -> list[dict]:
    """Every named tolerance of tests/tolerances.py with the comment written above it."""
    path = ROOT / "tests" / "tolerances.py"
    src = path.read_text(encoding="utf-8")
    lines = src.splitlines()
    rows = []
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            comment = []
            i = node.lineno - 2
            while i >= 0 and lines[i].lstrip().startswith("#"):
                comment.insert(0, lines[i].lstrip("# ").rstrip())
                i -= 1
            why = " ".join(comment) or (f"as {rows[-1]['name']} (the comment above it covers both)" if rows else "")
            rows.append({"name": node.targets[0].id, "value": ast.get_source_segment(src, node.value),
                         "why": why})
    return rows


def tolerance_table() -> str:
    return md_table([{"name": f"`{r['name']}`", "value": f"`{r['value']}`", "why": r["why"]}
                     for r in tolerances()], ["name", "value", "why"])


def _tol(name: str) -> dict:
    ns: dict = {}
    exec((ROOT / "tests" / "tolerances.py").read_text(encoding="utf-8"), ns)  # noqa: S102 - our file
    return ns[name]


def _max_rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def mmrm_parity() -> pd.DataFrame:
    """Every R mmrm 0.3.18 case of tests/reference/mmrm refitted now; worst differences."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    import test_mmrm_reference as M  # the case list and data loading of the reference tests

    rows = []
    for case in M.CASE_IDS:
        ref = M.reference(case)
        tight = ref["tight_refit"]
        fit = M._fit(case)
        coef = fit.coef.set_index("term")
        rc = pd.DataFrame(tight["coefficients"])
        terms = rc["term"].tolist()
        est_in_se = np.max(np.abs(coef.loc[terms, "estimate"].to_numpy() - rc["estimate"].to_numpy())
                           / rc["std_error"].to_numpy())
        rows.append({
            "case": case,
            "R call": ref["r_call"],
            "estimate (max |diff| / SE)": est_in_se,
            "SE (max rel. diff)": _max_rel(coef.loc[terms, "std_error"], rc["std_error"]),
            "df (max rel. diff)": _max_rel(coef.loc[terms, "df"], rc["df"]),
            "-2 loglik (abs. diff)": abs(-2 * fit.loglik - tight["m2loglik"]),
        })
    return pd.DataFrame(rows)


def mmrm_parity_markdown() -> str:
    t = mmrm_parity()
    tol = {
        "estimate (max |diff| / SE)": _tol("MMRM_TIGHT_IN_SE"), "SE (max rel. diff)": _tol("MMRM_TIGHT"),
        "df (max rel. diff)": _tol("MMRM_DF"), "-2 loglik (abs. diff)": _tol("MMRM_LOGLIK"),
    }
    bound = {
        "estimate (max |diff| / SE)": tol["estimate (max |diff| / SE)"]["rtol"] + tol["estimate (max |diff| / SE)"]["atol"],
        "SE (max rel. diff)": tol["SE (max rel. diff)"]["rtol"],
        "df (max rel. diff)": tol["df (max rel. diff)"]["rtol"],
        "-2 loglik (abs. diff)": tol["-2 loglik (abs. diff)"]["atol"],
    }
    rows = []
    for _, r in t.iterrows():
        row = {"case": f"`{r['case']}`"}
        for col, b in bound.items():
            mark = "✓" if r[col] <= b else "✗"
            row[col] = f"{r[col]:.1e} {mark}"
        rows.append(row)
    head = {"case": "bound (tests/tolerances.py)"}
    head.update({c: f"≤ {b:.0e}" for c, b in bound.items()})
    return md_table([head] + rows, list(head))


def reference_inventory() -> str:
    """Every committed reference JSON: the program that made it and the R versions."""
    rows = []
    for path in sorted(REF.rglob("*.json")):
        if path.name in ("MANIFEST.json", "levels.json"):
            continue
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        meta = d.get("versions") or d.get("meta", {}).get("versions") or {}
        if isinstance(meta, dict):
            ver = ", ".join(f"{k} {_short_version(v)}" for k, v in meta.items()
                            if k in ("R", "mmrm", "survival", "nlme", "lme4", "emmeans", "geepack",
                                     "pbkrtest", "lmerTest", "cmprsk", "flexsurv", "survRM2"))
        else:
            ver = str(meta)
        source = (d.get("source_file") or d.get("script") or d.get("made_by") or d.get("provenance")
                  or _script_for(path))
        rows.append({"file": f"`{path.relative_to(ROOT)}`", "made by": str(source)[:90],
                     "versions": ver[:120]})
    return md_table(rows, ["file", "made by", "versions"])


def _short_version(v) -> str:
    return re.sub(r"^R version (\S+).*", r"\1", str(v))


def _script_for(path: Path) -> str:
    stem = path.stem.split("_")[0]
    scripts = sorted(p.name for p in REF.glob(f"make_*{stem}*.R"))
    return scripts[0] if scripts else ""


# ------------------------------------------------------------------------------------------------
# Coming from R: the mapping, checked against the signatures
# ------------------------------------------------------------------------------------------------
def check_arguments(func, names) -> None:
    """Raise (failing the strict build) when a documented argument is not in ``func``'s signature."""
    params = inspect.signature(func).parameters
    missing = [n for n in names if n not in params]
    if missing:
        raise RuntimeError(f"Coming from R: {func.__module__}.{func.__name__} has no argument(s) {missing}")


# result methods named in the table, by the variable name the page uses for the result
def _methods() -> dict:
    from trialstats.longitudinal.mmrm.results import MMRMResult
    from trialstats.survival.cox import CoxResult
    from trialstats.survival.km import KaplanMeierResult

    return {"fit": MMRMResult, "km": KaplanMeierResult, "cx": CoxResult}


def _resolve(name: str):
    """``"mmrm"`` -> ts.mmrm; ``"plots.plot_km"`` -> ts.plots.plot_km; ``"fit.lsmeans"`` -> the method."""
    import trialstats as ts

    head, _, rest = name.partition(".")
    obj = _methods().get(head) or getattr(ts, head)
    for part in rest.split(".") if rest else ():
        obj = getattr(obj, part)
    return obj


def r_mapping_table(rows: list[tuple]) -> str:
    """Markdown table of R calls and their trialstats equivalents.

    ``rows``: (R call, R argument, trialstats callable, trialstats argument(s), note). Every
    trialstats argument named (``name=...``; several separated by ``,``) must be a parameter of
    the callable's signature, else the build fails.
    """
    out = []
    for r_call, r_arg, ts_name, ts_arg, note in rows:
        obj = _resolve(ts_name)
        args = re.findall(r"\b([a-z_]+)=", ts_arg)
        if args or callable(obj):  # attributes (fit.coef) take no arguments
            check_arguments(obj, args)
        prefix = "" if ts_name.split(".")[0] in _methods() else "ts."
        out.append({"R": code(r_call) if r_call else "", "R argument": code(r_arg) if r_arg else "",
                    "trialstats": code(prefix + ts_name), "argument": code(ts_arg) if ts_arg else "",
                    "note": note})
    return md_table(out, ["R", "R argument", "trialstats", "argument", "note"])


def _max_rel_nan(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if (np.isfinite(a) != np.isfinite(b)).any():
        return float("inf")  # one is missing where the other is not
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300))) if ok.any() else 0.0


def survival_parity_markdown() -> str:
    """R survival's survfit and coxph reference cases refitted now (the tests' own case lists)."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    import test_survival_cox as C
    import test_survival_km as K

    est, se = _tol("SAME_ALGORITHM")["rtol"], _tol("SAME_ALGORITHM_SE")["rtol"]

    def mark(x, bound):
        return f"{x:.1e} {'✓' if x <= bound else '✗'}"

    rows = [{"case": "bound (tests/tolerances.py)", "R call": "", "estimate (max rel. diff)": f"≤ {est:.0e}",
             "SE (max rel. diff)": f"≤ {se:.0e}"}]
    for case in K.CASES:
        ref, tab = K.KM[case]["table"], K._fit(case).table
        rows.append({"case": f"`km: {case}`", "R call": "survfit (conf.type " + K.KM[case]["conf_type"] + ")",
                     "estimate (max rel. diff)": mark(_max_rel_nan(tab["survival"], K._arr(ref["survival"])), est),
                     "SE (max rel. diff)": mark(_max_rel_nan(tab["std_error"], K._arr(ref["std_error"])), se)})
    for case in C.CASES:
        ref = C.COX[case]
        fit = ts_cox(**C._case(case))
        rows.append({"case": f"`cox: {case}`", "R call": "coxph",
                     "estimate (max rel. diff)": mark(_max_rel(fit.coef["estimate"], ref["estimate"]), est),
                     "SE (max rel. diff)": mark(_max_rel(fit.coef["std_error"], ref["std_error"]), se)})
    return md_table(rows, ["case", "R call", "estimate (max rel. diff)", "SE (max rel. diff)"])


def ts_cox(**kw):
    import trialstats as ts

    return ts.cox(**kw)
