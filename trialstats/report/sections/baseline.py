"""Section 4 — Baseline characteristics (Table 1) by arm and overall.

Continuous variables: n, mean (SD), median [Q1, Q3], min-max, missing. Categorical variables:
n (%) per level (percent of the non-missing), missing. Population: every randomised subject.
Quartiles are the sample quantiles of type 7 (numpy's default, R's default).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..tables import fmt_int, fmt_mean_sd, fmt_median_iqr, fmt_n_pct, fmt_number
from ._analysis import Analysis, section_of, single_step, table
from ._base import Section

KEY = "baseline"
TITLE = "Baseline characteristics"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ()

#: Candidate ADSL columns, in display order, with their labels; those present are summarised.
VARIABLES = (
    ("AGE", "Age (years)"),
    ("AGEGR1", "Age band"),
    ("SEX", "Sex"),
    ("RACE", "Race"),
    ("STAGE", "Baseline stage (Norwood-Hamilton / Ludwig)"),
    ("STAGEGR", "Baseline stage group"),
    ("BASETAHC", "Baseline target-area hair count (hairs/cm²)"),
)


def _is_missing(s: pd.Series) -> pd.Series:
    if s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype):
        return s.isna() | (s.astype(str).str.strip() == "")
    return s.isna()


#: ADSL columns that describe the conduct of the trial, not the subjects: never in the default
#: Table 1 (flags ending in FL are left out too).
_NOT_BASELINE = frozenset({"EOSSTT", "DCSREAS", "DCDECOD", "TRTDURD", "TRTSDT", "TRTEDT", "RANDDT"})


def default_variables(adsl: pd.DataFrame, plan_variables=()) -> tuple[tuple[str, str], ...]:
    """Table 1 variables: the plan's ``[baseline] variables``; else, when the bundled trials'
    own column is there (BASETAHC, the baseline hair count), their labelled list
    :data:`VARIABLES`; else every
    ADSL column that describes a subject (not identifiers, dates, flags ``*FL``, disposition
    columns, constant columns or free text with a value per subject), in ADSL order, labelled by
    its name. Typing (continuous / categorical) is by content: see :func:`variable_types`."""
    if plan_variables:
        return tuple(plan_variables)
    if "BASETAHC" in adsl.columns:  # a STAGE column alone is any trial's stage (survival::pbc)
        return VARIABLES
    from ...results.describe import _default_variables

    cols = [c for c in _default_variables(adsl, "ARM")
            if not str(c).upper().endswith("FL") and str(c).upper() not in _NOT_BASELINE]
    return tuple((str(c), str(c)) for c in cols)


def variable_types(adsl: pd.DataFrame, variables) -> dict:
    """Column -> "continuous" / "categorical" by content (:func:`trialstats.results.describe.variable_type`:
    whole-number codes with at most 10 values, such as a stage 1-4 or a 0/1 flag, are categories)."""
    from ...results.describe import variable_type

    return {v: variable_type(adsl[v]) for v, _ in variables if v in adsl.columns}


def table_one(adsl: pd.DataFrame, arms: list[str], variables=VARIABLES, types: dict | None = None) -> pd.DataFrame:
    """Tidy Table 1: one row per (variable, level, ARM incl. "Total").

    Columns ``variable, label, type, level, ARM, N, n, n_missing, mean, sd, median, q1, q3, min,
    max, pct``. Continuous rows have ``level == ""``; categorical rows one per observed level (in
    sorted order) with ``n`` and ``pct`` (percent of the non-missing).
    """
    rows = []
    groups = [(a, adsl[adsl["ARM"] == a]) for a in arms] + [("Total", adsl)]
    for var, label in variables:
        if var not in adsl.columns:
            continue
        col = adsl[var]
        if types and var in types:
            continuous = types[var] == "continuous"
        else:
            continuous = pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype)
        levels = [] if continuous else _levels(col)
        for arm, g in groups:
            s = g[var]
            miss = _is_missing(s)
            base = {"variable": var, "label": label, "ARM": arm, "N": len(g), "n_missing": int(miss.sum())}
            if continuous:
                x = s[~miss].to_numpy(float)
                q = np.quantile(x, [0.25, 0.5, 0.75]) if len(x) else [np.nan] * 3
                rows.append({
                    **base, "type": "continuous", "level": "", "n": len(x),
                    "mean": x.mean() if len(x) else np.nan,
                    "sd": x.std(ddof=1) if len(x) > 1 else np.nan,
                    "median": q[1], "q1": q[0], "q3": q[2],
                    "min": x.min() if len(x) else np.nan, "max": x.max() if len(x) else np.nan,
                    "pct": np.nan,
                })
            else:
                obs = _as_text(s[~miss])
                for lev in levels:
                    n = int((obs == lev).sum())
                    rows.append({
                        **base, "type": "categorical", "level": lev, "n": n,
                        "mean": np.nan, "sd": np.nan, "median": np.nan, "q1": np.nan, "q3": np.nan,
                        "min": np.nan, "max": np.nan,
                        "pct": 100.0 * n / len(obs) if len(obs) else np.nan,
                    })
    cols = ["variable", "label", "type", "level", "ARM", "N", "n", "n_missing", "mean", "sd",
            "median", "q1", "q3", "min", "max", "pct"]
    return pd.DataFrame(rows, columns=cols)


def _levels(col: pd.Series) -> list[str]:
    """Observed levels as text: numeric codes in numeric order (1, 2, 10), text sorted."""
    obs = col[~_is_missing(col)]
    if _numeric(obs):
        return [f"{v:g}" for v in sorted(set(obs.astype(float).tolist()))]
    return sorted({str(v) for v in obs})


def _numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype)


def _as_text(col: pd.Series) -> pd.Series:
    """Category labels of the values (numeric codes as 1, 2 — never 1.0)."""
    return col.astype(float).map(lambda v: f"{v:g}") if _numeric(col) else col.astype(str)


def display_table_one(t1: pd.DataFrame, columns: list[tuple[str, str]]) -> pd.DataFrame:
    """Display rows: a heading row per variable, then statistics (continuous) or levels."""
    out = []
    for var in dict.fromkeys(t1["variable"]):
        sub = t1[t1["variable"] == var]
        first = sub.iloc[0]
        out.append({"Characteristic": first["label"], **{h: "" for _, h in columns}})
        by = {a: sub[sub["ARM"] == a] for a, _ in columns}
        if first["type"] == "continuous":
            stats = [
                ("n", lambda r: fmt_int(r["n"])),
                ("Mean (SD)", lambda r: fmt_mean_sd(r["mean"], r["sd"])),
                ("Median [Q1, Q3]", lambda r: fmt_median_iqr(r["median"], r["q1"], r["q3"])),
                ("Min - max", lambda r: f"{fmt_number(r['min'])} - {fmt_number(r['max'])}"),
            ]
            for name, f in stats:
                out.append({"Characteristic": f"\u2003{name}", **{h: f(by[a].iloc[0]) for a, h in columns}})
        else:
            for lev in dict.fromkeys(sub["level"]):
                row = {"Characteristic": f"\u2003{lev}"}
                for a, h in columns:
                    r = by[a][by[a]["level"] == lev].iloc[0]
                    row[h] = fmt_n_pct(r["n"], r["N"] - r["n_missing"])
                out.append(row)
        out.append({"Characteristic": "\u2003Missing", **{h: fmt_int(by[a]["n_missing"].iloc[0]) for a, h in columns}})
    return pd.DataFrame(out, dtype=object)


def analyse(ctx) -> Analysis:
    """Frame ``baseline``: the tidy Table 1 (:func:`table_one`) of the plan's variables."""
    adsl = ctx.trial.adsl
    variables = default_variables(adsl, ctx.plan.baseline)
    missing = [v for v, _ in variables if v not in adsl.columns]
    if missing and ctx.plan.baseline:
        raise ValueError(f"[baseline] variables {', '.join(missing)} are not columns of ADSL; "
                         f"columns: {', '.join(map(str, adsl.columns))}")
    types = None if variables is VARIABLES else variable_types(adsl, variables)
    return Analysis(KEY, {"baseline": table_one(adsl, ctx.arms, variables, types)})


def render(a: Analysis, view) -> Section:
    """Table 1 with a column per arm and overall (N from the frame)."""
    t1 = a.frame("baseline")

    def n_of(arm: str) -> int:
        hit = t1.loc[t1["ARM"] == arm, "N"]
        return int(hit.iloc[0]) if len(hit) else 0

    columns = [(x, f"{'Total' if x == 'Total' else view.label(x)} (N={n_of(x)})") for x in [*view.arms, "Total"]]
    display = display_table_one(t1, columns)
    text = (
        "All randomised subjects, by randomised arm and overall. Continuous variables: n, "
        "mean (SD), median [Q1, Q3] (sample quantiles, type 7) and range; categorical variables: "
        "n (%) of subjects with a non-missing value. Missing values are counted, never imputed. "
        "No p-values are given for baseline differences in a randomised trial."
    )
    return section_of(a, TITLE, paragraphs=(text,),
                      tables=(table("baseline", "Baseline characteristics by arm (Table 1)", a, display),))


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
