"""Validation of the inputs of :func:`trialstats.rbmi`: data grid, arms, ICE table, delta table.

Every failure is a :class:`~trialstats.errors.ModelError` that names the table, column and up to
ten offending subjects or rows, and says what is valid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..longitudinal._design import r_level_order

_MAX = 10


def listed(values) -> str:
    """Up to ten values, comma separated, with a count of the rest."""
    values = list(values)
    more = f" and {len(values) - _MAX} more" if len(values) > _MAX else ""
    return ", ".join(map(str, values[:_MAX])) + more


def levels_of(series: pd.Series) -> list:
    """Level order: a Categorical's categories (all of them), else R's sort order."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return list(series.cat.categories)
    if pd.api.types.is_numeric_dtype(series):
        return sorted(series.dropna().unique())
    return r_level_order(series)


def check_grid(frame: pd.DataFrame, subject: str, visit: str, visits: list) -> None:
    """One row per subject and visit: no duplicate, none absent, no unknown visit."""
    bad_visit = ~frame[visit].isin(visits)
    if bad_visit.any():
        rows = frame.index[bad_visit]
        raise ModelError(
            f"rbmi: column {visit!r} has values outside the visits analysed in rows "
            f"{listed(rows)} ({listed(frame.loc[rows, visit].unique())}); valid: {listed(visits)}"
        )
    dup = frame.duplicated([subject, visit], keep=False)
    if dup.any():
        rows = frame.index[dup]
        raise ModelError(
            f"rbmi: time points must be unique per subject; duplicated {subject}/{visit} in rows "
            f"{listed(f'{r} ({frame.at[r, subject]} at {frame.at[r, visit]})' for r in rows)}"
        )
    counts = frame.groupby(subject, sort=False, observed=True)[visit].size()
    short = counts.index[counts < len(visits)]
    if len(short):
        raise ModelError(
            f"rbmi: data must have one row per subject and visit (outcome NaN where missing), as "
            f"rbmi requires; subjects without a row at every visit: {listed(short)}. Add the "
            f"absent visits with a missing outcome and the subject's covariates (rbmi's "
            f"expand_locf does this)"
        )


def check_constant(frame: pd.DataFrame, subject: str, column: str) -> None:
    """A subject-level column must not change within a subject."""
    n = frame.groupby(subject, sort=False, observed=True)[column].nunique(dropna=False)
    bad = n.index[n > 1]
    if len(bad):
        raise ModelError(f"rbmi: column {column!r} changes within subjects {listed(bad)}")


def check_missing_covariates(frame: pd.DataFrame, columns, subject: str) -> None:
    """Covariates may not be missing (they define every subject's imputation mean)."""
    for c in columns:
        bad = frame[c].isna()
        if bad.any():
            rows = frame.index[bad]
            raise ModelError(
                f"rbmi: covariate {c!r} is missing in rows "
                f"{listed(f'{r} ({frame.at[r, subject]})' for r in rows)}; the imputation and "
                "analysis models need every covariate at every visit"
            )


def resolve_references(reference, levels: list, present: set) -> dict:
    """Map every arm with subjects to its reference arm (validated).

    ``levels`` are all arm levels (a Categorical's categories), ``present`` those with subjects.
    Arms not listed map to themselves when another arm refers to them, otherwise to the first
    arm with subjects (the trial's reference).
    """
    arms = [a for a in levels if a in present]
    if reference is None:
        reference = {}
    if not isinstance(reference, dict):
        raise ModelError(f"rbmi: reference must be a dict arm -> reference arm; got "
                         f"{type(reference).__name__}")
    for k, v in reference.items():
        for what, arm in (("arm", k), ("reference arm", v)):
            if arm not in levels:
                raise ModelError(
                    f"rbmi: reference names unknown {what} {arm!r}; valid arms: {listed(levels)}"
                )
            if arm not in present:
                raise ModelError(
                    f"rbmi: {what} {arm!r} in reference has no subjects in the data; arms with "
                    f"data: {listed(a for a in arms if a in present)}"
                )
    referenced = set(reference.values())
    return {a: reference.get(a, a if a in referenced else arms[0]) for a in arms}


def _ice_columns(ice: pd.DataFrame, subject: str, visit: str) -> tuple[str, str, str]:
    cols = []
    for names in ((subject, "subject"), (visit, "visit"), ("strategy",)):
        found = next((c for c in names if c in ice.columns), None)
        if found is None:
            raise ModelError(
                f"rbmi: the ice table needs columns {subject!r} (or 'subject'), {visit!r} (or "
                f"'visit') and 'strategy'; it has {listed(ice.columns)}"
            )
        cols.append(found)
    return tuple(cols)


def resolve_ice(ice, subjects: list, visits: list, valid_strategies: list,
                subject: str, visit: str) -> dict:
    """Subject -> (visit index of the ICE, strategy), validated."""
    if ice is None:
        return {}
    if not isinstance(ice, pd.DataFrame):
        raise ModelError(f"rbmi: ice must be a DataFrame; got {type(ice).__name__}")
    cs, cv, cst = _ice_columns(ice, subject, visit)
    known = set(subjects)
    sub_str = {str(s): s for s in subjects}
    out = {}
    unknown_sub = [r for r in ice.index if ice.at[r, cs] not in known
                   and str(ice.at[r, cs]) not in sub_str]
    if unknown_sub:
        raise ModelError(
            f"rbmi: ice table rows {listed(unknown_sub)} name subjects not in the data "
            f"({listed(ice.loc[unknown_sub, cs])})"
        )
    dup = ice[cs].astype(str).duplicated(keep=False)
    if dup.any():
        raise ModelError(f"rbmi: the ice table has more than one row for subjects "
                         f"{listed(ice.loc[dup, cs].astype(str).unique())}; give one ICE each")
    vis_str = {str(v): i for i, v in enumerate(visits)}
    for r in ice.index:
        s = ice.at[r, cs]
        s = s if s in known else sub_str[str(s)]
        v = ice.at[r, cv]
        st = ice.at[r, cst]
        if v in visits:
            k = visits.index(v)
        elif str(v) in vis_str:
            k = vis_str[str(v)]
        elif _after_last(v, visits):
            raise ModelError(
                f"rbmi: ice table row {r} ({s}): the intercurrent event at {visit} {v} is after "
                f"the last visit ({visits[-1]}); such a subject has no post-ICE visit: drop the "
                f"row (its missing values are then imputed under MAR)"
            )
        else:
            raise ModelError(
                f"rbmi: ice table row {r} ({s}) names visit {v!r}, not a visit of the data; "
                f"valid: {listed(visits)}"
            )
        if st not in valid_strategies:
            raise ModelError(
                f"rbmi: ice table row {r} ({s}) has unknown strategy {st!r}; valid: "
                f"{listed(valid_strategies)} (add others with strategies={{name: function}})"
            )
        out[s] = (k, st)
    return out


def _as_number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _after_last(v, visits) -> bool:
    """Whether a visit value not in ``visits`` is a number after the last (numeric) visit."""
    nums = [_as_number(x) for x in visits]
    x = _as_number(v)
    return x is not None and all(n is not None for n in nums) and x > nums[-1]


def resolve_delta(delta, subjects: list, visits: list, subject: str, visit: str) -> np.ndarray:
    """The (n, m) array of offsets added after imputation (0 where the table has no row)."""
    out = np.zeros((len(subjects), len(visits)))
    if delta is None:
        return out
    if not isinstance(delta, pd.DataFrame):
        raise ModelError(f"rbmi: delta must be a DataFrame; got {type(delta).__name__}")
    cs, cv, _ = _ice_columns(delta.assign(strategy=0) if "strategy" not in delta.columns
                             else delta, subject, visit)
    if "delta" not in delta.columns:
        raise ModelError(f"rbmi: the delta table needs a 'delta' column; it has "
                         f"{listed(delta.columns)}")
    sub_pos = {str(s): i for i, s in enumerate(subjects)}
    vis_pos = {str(v): i for i, v in enumerate(visits)}
    keys_s = delta[cs].astype(str)
    keys_v = delta[cv].astype(str)
    bad_s = delta.index[~keys_s.isin(sub_pos)]
    if len(bad_s):
        raise ModelError(
            f"rbmi: delta table rows {listed(bad_s)} name subjects not in the data "
            f"({listed(delta.loc[bad_s, cs].unique())})"
        )
    bad_v = delta.index[~keys_v.isin(vis_pos)]
    if len(bad_v):
        raise ModelError(
            f"rbmi: delta table rows {listed(bad_v)} name visits not in the data "
            f"({listed(delta.loc[bad_v, cv].unique())}); valid: {listed(visits)}"
        )
    dup = pd.DataFrame({"s": keys_s, "v": keys_v}).duplicated(keep=False)
    if dup.any():
        raise ModelError(f"rbmi: the delta table has several rows for the same subject and visit "
                         f"(rows {listed(delta.index[dup.to_numpy()])})")
    values = pd.to_numeric(delta["delta"], errors="coerce")
    bad = delta.index[~np.isfinite(values.to_numpy(dtype=float))]
    if len(bad):
        raise ModelError(f"rbmi: delta is not a finite number in rows {listed(bad)}")
    out[keys_s.map(sub_pos).to_numpy(), keys_v.map(vis_pos).to_numpy()] = values.to_numpy()
    return out
