"""The validation engine: checks a trial's tables against :mod:`trialstats.data.schema`.

One pass collects *every* problem (pandera's design): hard problems (errors) and soft problems
(warnings: a missing AVAL, a subject with no post-baseline value). The caller raises one
:class:`~trialstats.errors.TrialDataError` listing all errors. Each problem names the table
(file), the column, the first offending rows and what was expected. Row numbers count data rows
from 1 (the header line is not counted), so row ``r`` of a CSV file is on line ``r + 1``.

The engine never drops or adds rows: the frames it returns have exactly the rows it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import TrialDataError
from . import schema
from ._arrays import duplicated_codes, factorize, frame_from_columns, key_codes
from ._coerce import (  # noqa: F401  (_INTEGER, _NUMBER: imported from here by readers)
    _INTEGER,
    _NUMBER,
    _coerce_number,
    _coerce_str,
    _is_missing_scalar,
)
from .consistency import adtte_problems
from .plausibility import check_plausible
from .schema import ARMS, SPECS, ColumnSpec, TableSpec

__all__ = ["Problem", "ValidationReport", "check_trial", "MAX_ROWS_SHOWN"]

#: How many offending rows (and values) a message shows before "and N more".
MAX_ROWS_SHOWN = 10
#: Most arms a trial may declare (every arm is compared with the reference).
MAX_ARMS = 20


@dataclass(frozen=True)
class Problem:
    """One problem found in a trial's data.

    Attributes
    ----------
    table : str
        File name ("adeff.csv"), or table name for a trial built in memory, or "trial.toml".
    column : str or None
        Column concerned (None for table-level problems).
    message : str
        What is wrong, where, and what was expected.
    rows : tuple of int
        Offending data rows, 1-based (all of them, not only those shown in the message).
    subjects : tuple of str
        USUBJID of the offending rows (same order as ``rows``), when known.
    severity : {"error", "warning"}
    """

    table: str
    column: str | None
    message: str
    rows: tuple = ()
    subjects: tuple = ()
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.table}, column {self.column}" if self.column else self.table
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    """Result of validating a trial: rows per table and per arm, every error and warning.

    ``str(report)`` is the summary that ``trialstats validate`` prints.

    Attributes
    ----------
    trial_id : str
    errors, warnings : tuple of Problem
    n_rows : dict of str to int
        Rows per table (keyed by file name, or table name in memory).
    rows_by_arm : dict of str to dict of str to int
        Per table, rows per arm (via the subject's ARM in ADSL).
    """

    trial_id: str
    errors: tuple = ()
    warnings: tuple = ()
    n_rows: dict = field(default_factory=dict)
    rows_by_arm: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def error_message(self) -> str:
        """The message of the TrialDataError raised for these errors (STYLE.md format)."""
        n = len(self.errors)
        head = f"{n} problem{'s' if n != 1 else ''} in trial '{self.trial_id}':"
        return "\n  ".join([head, *(str(p) for p in self.errors)])

    def to_frame(self) -> pd.DataFrame:
        """Every problem as a tidy DataFrame.

        Returns
        -------
        pandas.DataFrame
            Columns ``severity, table, column, n_rows, rows, subjects, message``; errors first.
            ``rows`` and ``subjects`` are tuples (1-based data rows, USUBJID).
        """
        records = [
            {"severity": p.severity, "table": p.table, "column": p.column, "n_rows": len(p.rows),
             "rows": p.rows, "subjects": p.subjects, "message": p.message}
            for p in (*self.errors, *self.warnings)
        ]
        columns = ["severity", "table", "column", "n_rows", "rows", "subjects", "message"]
        return pd.DataFrame(records, columns=columns)

    def raise_for_errors(self) -> None:
        """Raise one TrialDataError listing every error; do nothing when there are none."""
        if self.errors:
            raise TrialDataError(self.error_message(), list(self.errors))

    def __str__(self) -> str:
        status = "OK" if self.ok else "INVALID"
        ne, nw = len(self.errors), len(self.warnings)
        lines = [f"Trial '{self.trial_id}': {status} ({ne} error{'s' if ne != 1 else ''}, "
                 f"{nw} warning{'s' if nw != 1 else ''})"]
        if self.n_rows:
            lines.append("Rows per table:")
            width = max(len(t) for t in self.n_rows)
            for table, n in self.n_rows.items():
                arms = self.rows_by_arm.get(table)
                per_arm = ("  (" + ", ".join(f"{a} {k}" for a, k in arms.items()) + ")") if arms else ""
                lines.append(f"  {table:<{width}}  {n:>7}{per_arm}")
        if self.errors:
            lines.append("Errors:")
            lines += [f"  {p}" for p in self.errors]
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  {p}" for p in self.warnings]
        return "\n".join(lines)


# --- formatting helpers -----------------------------------------------------------------------


def _subjects_at(frame: pd.DataFrame, positions) -> list[str]:
    if "USUBJID" not in frame.columns:
        return []
    col = frame["USUBJID"]
    return ["" if _is_missing_scalar(col.iat[i]) else str(col.iat[i]) for i in positions]


def _where(frame: pd.DataFrame, positions) -> str:
    """'row 3 (EXO-0003)' or 'rows 3 (EXO-0003), 5 (EXO-0005) and 4 more' (1-based rows)."""
    positions = list(positions)
    subjects = _subjects_at(frame, positions[:MAX_ROWS_SHOWN])
    parts = []
    for k, i in enumerate(positions[:MAX_ROWS_SHOWN]):
        parts.append(f"{i + 1} ({subjects[k]})" if subjects and subjects[k] else f"{i + 1}")
    more = f" and {len(positions) - MAX_ROWS_SHOWN} more" if len(positions) > MAX_ROWS_SHOWN else ""
    return ("row " if len(positions) == 1 else "rows ") + ", ".join(parts) + more


def _values(values, limit: int = MAX_ROWS_SHOWN) -> str:
    seen = list(dict.fromkeys(_fmt_value(v) for v in values))
    more = f" and {len(seen) - limit} more" if len(seen) > limit else ""
    return ", ".join(seen[:limit]) + more


_MAX_VALUE_SHOWN = 40  # characters of one value in a message (a cell may hold megabytes)


def _fmt_value(v) -> str:
    if isinstance(v, str):
        return repr(v) if len(v) <= _MAX_VALUE_SHOWN else repr(v[:_MAX_VALUE_SHOWN]) + "..."
    if isinstance(v, float | np.floating):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)
    return str(v)


class _Collector:
    """Collects problems for one table, with the frame used to name rows and subjects."""

    def __init__(self, label: str, frame: pd.DataFrame, out: list):
        self.label, self.frame, self.out = label, frame, out

    def add(self, column, message, positions=(), severity="error"):
        positions = [int(i) for i in positions]
        self.out.append(Problem(
            table=self.label, column=column, message=message,
            rows=tuple(i + 1 for i in positions),
            subjects=tuple(_subjects_at(self.frame, positions)),
            severity=severity,
        ))


def _check_column(col: ColumnSpec, s: pd.Series, arms, c: _Collector, frame: pd.DataFrame,
                  paramcd: np.ndarray | None):
    """Coerce one column and check it against its spec. Returns the coerced values or None."""
    # every check runs on the rows the earlier ones did not reject (``skip``), so all the
    # problems of a column are reported at once (junk, blanks, fractions and disallowed values)
    ok = True
    if col.kind == "str":
        values = _coerce_str(s)
        missing = values == ""
        skip = missing
    else:
        values, missing, junk = _coerce_number(s)
        skip = missing.copy()
        if junk:
            pos = [i for i, _ in junk]
            c.add(col.name, f"non-numeric values in {_where(frame, pos)}: {_values(v for _, v in junk)}; "
                  f"expected numbers (blank, NA or . for missing)", pos)
            skip[pos] = True
            ok = False
        if col.kind == "integer":
            pos = np.flatnonzero(missing)
            if len(pos):
                c.add(col.name, f"missing values in {_where(frame, pos)}; expected whole numbers"
                      + (f" ({col.description})" if col.description else ""), pos)
                ok = False
            if values.dtype != np.int64:
                with np.errstate(invalid="ignore"):
                    frac = np.flatnonzero(~skip & np.isfinite(values) & (values != np.round(values)))
                if len(frac):
                    c.add(col.name, f"not whole numbers in {_where(frame, frac)}: "
                          f"{_values(values[frac])}; expected whole numbers", frac)
                    skip[frac] = True
                    ok = False
                if ok and np.isfinite(values).all():
                    values = values.astype(np.int64)

    miss_pos = np.flatnonzero(missing)
    if len(miss_pos) and (col.nonmissing or col.missing_is_warning):
        if col.missing_is_warning and not col.nonmissing:
            c.add(col.name, f"missing values in {_where(frame, miss_pos)}; the rows are kept "
                  "(models count them as excluded)", miss_pos, severity="warning")
        else:
            c.add(col.name, f"blank values in {_where(frame, miss_pos)}; every row needs a value"
                  + (f" ({col.description})" if col.description else ""), miss_pos)
            ok = False

    if col.allowed is not None and not (col.allowed == ARMS and arms is None):
        allowed = arms if col.allowed == ARMS else list(col.allowed)
        allowed_set = list(dict.fromkeys(allowed))
        bad = np.flatnonzero(~skip & ~pd.Series(values).isin(allowed_set).to_numpy())
        if len(bad):
            valid = ", ".join(str(a) for a in allowed)
            if col.allowed == ARMS:
                what = f"not an arm of trial.toml; valid: {valid}"
            else:
                what = f"valid: {valid}" + (f" ({col.description})" if col.description else "")
            noun = "value" if len(bad) == 1 else "values"
            c.add(col.name, f"{noun} {_values(values[bad])} in {_where(frame, bad)}: {what}", bad)
            ok = False

    if col.kind != "str":
        with np.errstate(invalid="ignore"):
            negative = np.asarray(values, dtype=float) < 0
        if col.nonnegative:
            bad = np.flatnonzero(negative)
            if len(bad):
                c.add(col.name, f"negative values {_values(values[bad])} in {_where(frame, bad)}; "
                      f"expected >= 0" + (f" ({col.description})" if col.description else ""), bad)
                ok = False
        if col.nonnegative_for and paramcd is not None:
            counts = pd.Series(paramcd).isin(list(col.nonnegative_for)).to_numpy()
            bad = np.flatnonzero(negative & counts)
            if len(bad):
                params = ", ".join(sorted(set(paramcd[bad])))
                c.add(col.name, f"negative hair counts {_values(values[bad])} for PARAMCD {params} in "
                      f"{_where(frame, bad)}; counts must be >= 0", bad)
                ok = False
        ok = check_plausible(col, values, paramcd, lambda *a: c.add(*a), lambda pos: _where(frame, pos),
                             _values) and ok
    return values if ok else None


# --- the engine -------------------------------------------------------------------------------


def _check_table(spec: TableSpec, frame: pd.DataFrame, label: str, arms, out: list) -> dict:
    """Check one table; returns {column: coerced values} for the spec columns that passed."""
    c = _Collector(label, frame, out)
    if len(frame) == 0 and not spec.allow_empty:
        c.add(None, f"table is empty (no data rows); expected at least one row with columns "
              f"{', '.join(spec.required_columns)}")
        return {}
    names = [str(x) for x in frame.columns]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        c.add(dup[0], f"duplicate column names {', '.join(dup)}; each column must appear once")
        return {}
    for name in spec.required_columns:
        if name not in frame.columns:
            near = [x for x in names if x.strip().upper() == name]
            hint = (f"; found {', '.join(repr(x) for x in near)} (names are case-sensitive, no blanks)"
                    if near else f"; columns found: {', '.join(names[:20])}")
            c.add(name, f"required column {name} is missing{hint}")
    coerced: dict = {}
    paramcd = None
    if "PARAMCD" in frame.columns and spec.column("PARAMCD"):
        paramcd = _coerce_str(frame["PARAMCD"])
    flagged_out = _flagged_out(spec, frame)
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        if flagged_out is not None and col.name == "AVISITN":
            col = _blank_avisitn_allowed(col, frame, flagged_out, c)
        values = _check_column(col, frame[col.name], arms, c, frame, paramcd)
        if values is not None:
            coerced[col.name] = values

    # key uniqueness
    if spec.key and all(k in coerced for k in spec.key):
        dupl = duplicated_codes(key_codes([coerced[k] for k in spec.key]))
        if dupl.any():
            keys = pd.DataFrame({k: coerced[k][dupl] for k in spec.key})
            groups = keys.groupby(list(spec.key), sort=False).indices
            shown = []
            for key, pos in list(groups.items())[:MAX_ROWS_SHOWN]:
                key = key if isinstance(key, tuple) else (key,)
                rows = ", ".join(str(i + 1) for i in np.flatnonzero(dupl)[pos])
                shown.append(f"{' / '.join(str(k) for k in key)} (rows {rows})")
            more = f" and {len(groups) - MAX_ROWS_SHOWN} more" if len(groups) > MAX_ROWS_SHOWN else ""
            c.add(spec.key[0] if len(spec.key) == 1 else ", ".join(spec.key),
                  f"duplicate {' / '.join(spec.key)}: {'; '.join(shown)}{more}; "
                  f"expected {spec.key_description}", np.flatnonzero(dupl))

    if spec.name == "adeff":
        from ._adeff_checks import check_adeff  # it imports this module's message helpers

        check_adeff(coerced, frame, c)
    return coerced


def _flagged_out(spec: TableSpec, frame: pd.DataFrame):
    """ADEFF rows that ``ANL01FL`` leaves out of analysis (any value but "Y"), or None when the
    table has no ANL01FL column."""
    if spec.name != "adeff" or "ANL01FL" not in frame.columns:
        return None
    return _coerce_str(frame["ANL01FL"]) != "Y"


def _blank_avisitn_allowed(col, frame: pd.DataFrame, flagged_out, c: _Collector):
    """ADaM leaves AVISITN blank on unscheduled rows: accepted where ANL01FL flags the row out of
    analysis; a blank AVISITN on an analysed row (ANL01FL = "Y") is still an error."""
    from dataclasses import replace as _replace

    s = frame["AVISITN"]
    blank = (s.isna() | s.astype(str).str.strip().isin(["", "NA", "."])).to_numpy()
    pos = np.flatnonzero(blank & ~np.asarray(flagged_out))
    if len(pos):
        c.add("AVISITN", f"blank values in {_where(frame, pos)} on rows analysed (ANL01FL = Y); "
              "every analysed row needs a visit number (rows flagged out, ANL01FL not Y, may be "
              "blank)", pos)
    return _replace(col, nonmissing=False)


def _usable(frame) -> bool:
    """A DataFrame whose column names are unique (so frame[name] is a Series)."""
    return isinstance(frame, pd.DataFrame) and not frame.columns.duplicated().any()


def _count_rows(frames, labels, arms=None):
    """Rows per table, and per arm (the subject's ARM in ADSL, as written)."""
    n_rows, by_arm = {}, {}
    arm_levels, arm_of = arms, {}
    adsl = frames.get("adsl")
    if _usable(adsl) and {"USUBJID", "ARM"} <= set(adsl.columns):
        arm_of = dict(zip(_coerce_str(adsl["USUBJID"]), _coerce_str(adsl["ARM"])))
    for name, frame in frames.items():
        if frame is None:
            continue
        n_rows[labels[name]] = len(frame)
        if arm_of and _usable(frame) and "USUBJID" in frame.columns and len(frame):
            codes, subjects = factorize(_coerce_str(frame["USUBJID"]))
            arm = np.array([arm_of.get(s, "(not in ADSL)") for s in subjects], dtype=object)
            counts = pd.Series(np.bincount(codes, minlength=len(subjects))).groupby(
                arm, sort=False).sum()
            order = [a for a in (arm_levels or []) if a in counts.index]
            order += [a for a in counts.index if a not in order]
            by_arm[labels[name]] = {str(a): int(counts[a]) for a in order}
    return n_rows, by_arm


def check_trial(meta, frames: dict, labels: dict | None = None, problems=(), trial_id=None,
                require_tables=True, owned=False):
    """Validate a trial's tables and coerce their columns to the dtypes of the schema.

    Parameters
    ----------
    meta : TrialMeta or None
        The trial's metadata (None when trial.toml itself was unusable).
    frames : dict of str to DataFrame or None
        Raw tables by name ("adsl", "adeff", "adtte", "adae"); None for a table not given or
        not readable.
    labels : dict of str to str, optional
        How each table is named in messages (its file name); defaults to the table name.
    problems : iterable of Problem
        Problems already found (trial.toml, unreadable files); they come first in the report.
    trial_id : str, optional
        Name used in messages when ``meta`` is None.
    require_tables : bool, default True
        Report adsl / adeff when absent (the folder reader reports that itself).
    owned : bool, default False
        The frames were read from files and nobody else holds them: their arrays may be
        reused rather than copied (peak memory of loading a large table).

    Returns
    -------
    frames : dict of str to DataFrame or None
        Copies of the tables with schema columns coerced (ARM and AVISIT categorical, CNSR int),
        or None when there are errors.
    report : ValidationReport
    """
    labels = {name: (labels or {}).get(name, name) for name in SPECS}
    out: list[Problem] = list(problems)
    if meta is not None:
        where = "trial.toml" if meta.path is not None else "TrialMeta"
        if not meta.arms:
            out.append(Problem(where, "arms", "no arms declared; expected arms = {CODE: label, ...}"))
        elif meta.reference not in meta.arms:
            out.append(Problem(where, "arms.reference", f"reference arm '{meta.reference}' is not "
                               f"an arm; valid: {', '.join(map(str, meta.arms))}"))
        out.extend(_label_problems(meta.arms, where))
    for name in schema.REQUIRED_TABLES if require_tables else ():
        if frames.get(name) is None and not (name == "adeff" and frames.get("adtte") is not None):
            out.append(Problem(table=labels[name], column=None,
                               message=f"table {name} is required (a trial needs adsl and adeff, "
                                       "or adsl and adtte)"))
    coerced: dict = {}
    for name, spec in SPECS.items():
        frame = frames.get(name)
        if frame is None:
            continue
        if not isinstance(frame, pd.DataFrame):
            out.append(Problem(labels[name], None,
                               f"expected a pandas DataFrame; got {type(frame).__name__}"))
            continue
        arms = meta.arm_levels if meta is not None and meta.reference in meta.arms else None
        coerced[name] = _check_table(spec, frame, labels[name], arms, out)

    # subjects known to ADSL
    adsl_c = coerced.get("adsl")
    if adsl_c is not None and "USUBJID" in adsl_c:
        known = set(adsl_c["USUBJID"])
        for name in ("adeff", "adtte", "adae"):
            frame = frames.get(name)
            if not _usable(frame) or "USUBJID" not in frame.columns:
                continue
            usub = _coerce_str(frame["USUBJID"])
            pos = np.flatnonzero(~pd.Series(usub).isin(list(known)).to_numpy() & (usub != ""))
            if len(pos):
                _Collector(labels[name], frame, out).add(
                    "USUBJID", f"subjects not in {labels['adsl']}: {_where(frame, pos)}; every subject "
                    f"needs a row in {labels['adsl']}", pos)

    if _usable(frames.get("adeff")) and _usable(frames.get("adsl")):
        from ._adeff_checks import post_baseline_warnings

        post_baseline_warnings(frames.get("adsl"), frames["adeff"], adsl_c, coerced.get("adeff"),
                               labels, out)
    # no secondary warnings built on a table that could not be read or checked (an endpoint
    # "in no table" only because its table failed to read would mislead)
    unread = [n for n in ("adeff", "adtte") if n in getattr(meta, "tables", {})
              and "PARAMCD" not in (coerced.get(n) or {})]
    if meta is not None and not unread:
        _endpoint_warnings(meta, coerced, out)
    out.extend(adtte_problems(frames.get("adtte"), coerced.get("adtte"), labels["adtte"]))

    n_rows, by_arm = _count_rows({k: v for k, v in frames.items() if isinstance(v, pd.DataFrame)},
                                 labels, meta.arm_levels if meta is not None else None)
    errors = tuple(p for p in out if p.severity == "error")
    warnings = tuple(p for p in out if p.severity == "warning")
    tid = meta.id if meta is not None else (trial_id or "?")
    report = ValidationReport(trial_id=tid, errors=errors,
                              warnings=warnings, n_rows=n_rows, rows_by_arm=by_arm)
    if errors:
        return None, report
    return _finish(meta, frames, coerced, owned), report


def _label_problems(arms: dict, where: str) -> list[Problem]:
    """Arm labels must be non-empty and distinct, or comparisons read "Placebo - Placebo"."""
    problems = []
    if len(arms) > MAX_ARMS:
        problems.append(Problem(where, "arms.codes", f"{len(arms)} arms; at most {MAX_ARMS} are "
                                "allowed"))
    empty = [str(code) for code, label in arms.items() if not str(label).strip()]
    if empty:
        problems.append(Problem(where, "arms.codes", f"empty label for arm {', '.join(empty)}; "
                                "every arm needs a label, e.g. PLACEBO = \"Placebo\""))
    seen: dict = {}
    for code, label in arms.items():
        if str(label).strip():
            seen.setdefault(str(label).strip().casefold(), []).append(str(code))
    for codes in seen.values():
        if len(codes) > 1:
            problems.append(Problem(where, "arms.codes", f"arms {', '.join(codes)} have the same label "
                                    f"{arms[codes[0]]!r}; each arm needs its own label"))
    return problems


def _endpoint_warnings(meta, coerced, out):
    params = set()
    for name in ("adeff", "adtte"):
        if coerced.get(name) is not None and "PARAMCD" in coerced[name]:
            params |= set(coerced[name]["PARAMCD"])
    visits = set((coerced.get("adeff") or {}).get("AVISIT", ()))
    for ep, spec in meta.endpoints.items():
        p = spec.get("paramcd")
        if p is not None and params and p not in params:
            out.append(Problem("trial.toml", f"endpoints.{ep}", f"PARAMCD '{p}' is in no table; "
                               f"found: {', '.join(sorted(params))}", severity="warning"))
        v = spec.get("visit")
        if v is not None and visits and v not in visits:
            out.append(Problem("trial.toml", f"endpoints.{ep}", f"visit '{v}' is not an AVISIT of "
                               f"adeff; found: {', '.join(sorted(visits))}", severity="warning"))


def _finish(meta, frames, coerced, owned: bool = False) -> dict:
    """The frames with coerced columns and the categorical ARM / AVISIT.

    New frames (the caller's are never changed). With ``owned`` (frames read from files that
    nobody else holds) column arrays are reused instead of copied, so loading a large table
    does not hold two copies of it at once.
    """
    result = {}
    for name, frame in frames.items():
        if frame is None:
            result[name] = None
            continue
        done = coerced.get(name, {})
        cols = {}
        for col in frame.columns:
            if col in done:
                cols[col] = done[col]
                continue
            s = frame[col]
            if s.dtype == object and s.isna().any() and all(isinstance(v, str) for v in s.dropna()):
                s = s.astype(object).where(s.notna(), "")
            cols[col] = s.to_numpy() if not isinstance(s.dtype, pd.api.extensions.ExtensionDtype) else s
        if "ARM" in done:
            cols["ARM"] = pd.Categorical(cols["ARM"], categories=meta.arm_levels)
        if name == "adeff" and "AVISIT" in cols:
            codes, visits = factorize(cols["AVISIT"])
            _, first = np.unique(codes, return_index=True)
            number = np.asarray(cols["AVISITN"], dtype=float)[first]
            order = np.argsort(number, kind="stable")  # visits by AVISITN, ties by first row
            remap = np.empty(len(order), dtype=np.int64)
            remap[order] = np.arange(len(order))
            cols["AVISIT"] = pd.Categorical.from_codes(remap[codes], categories=list(visits[order]))
        # a copy unless the frames are ours: the caller's frames are never shared or changed
        result[name] = frame_from_columns(cols, frame.index, copy=not owned)
    return result
