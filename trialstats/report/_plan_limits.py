"""Limits on what an analysis plan (``sap.toml``) may ask, checked before anything runs.

A plan comes from another party; a value such as ``horizon_years = 1e6`` or a million
landmarks would otherwise take hours and gigabytes. Every numeric key has a closed range
(:data:`RANGES`) and every list a maximum length (:data:`MAX_ITEMS`); the :class:`PlanError`
names the key and the allowed range. Columns named by the plan (``[relapse] strata``,
``[subgroups]`` keys) must exist in the data once the plan is resolved against a trial
(:func:`check_columns`), so Methods never claims an analysis that was silently dropped.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["MAX_ITEMS", "RANGES", "check_columns", "check_count", "check_range", "check_tau",
           "follow_up_days"]

#: key -> (low, high, low_open, high_open, unit): the allowed range of each numeric plan key.
RANGES: dict[str, tuple] = {
    "seed": (0, 2**63 - 1, False, False, ""),
    "level": (0.0, 1.0, True, True, ""),
    "multiplicity.alpha": (0.0, 1.0, True, True, ""),
    "relapse.tau": (0.0, 1e5, True, False, " days"),
    "relapse.landmarks": (0.0, 1e5, True, False, " days"),
    "longterm.horizon_years": (0.0, 50.0, True, False, " years"),
    "hypotheses.margin": (-1e6, 1e6, False, False, ""),
}

#: Most levels a subgroup column may have (each level is a separate MMRM fit).
MAX_SUBGROUP_LEVELS = 20
#: Most strata the relapse analyses may have (combinations of the strata columns).
MAX_STRATA = 100

#: list key -> the most items it may hold.
MAX_ITEMS: dict[str, int] = {
    "relapse.landmarks": 200,
    "relapse.strata": 10,
    "subgroups": 200,
    "secondary": 100,
    "hypotheses": 200,
    "sensitivity": 10,
    "mmrm.covariance": 20,
    "longterm.distributions": 20,
}


def _range_text(key: str) -> str:
    low, high, low_open, high_open, unit = RANGES[key]
    return (f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}{unit}")


def check_range(value, key: str, item: str | None = None):
    """Return ``value`` when it lies in the range of ``key``; else raise :class:`PlanError`.

    Parameters
    ----------
    value : int or float
    key : str
        Key of :data:`RANGES` (``"longterm.horizon_years"``).
    item : str, optional
        Name shown in the message when it differs from ``key`` (``"relapse.landmarks[3]"``).
    """
    from .plan import PlanError

    low, high, low_open, high_open, _ = RANGES[key]
    ok = (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
          and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        raise PlanError(f"{item or key}: {value!r} is outside the allowed range {_range_text(key)}")
    return value


def check_count(items: list, key: str) -> list:
    """Return ``items`` when it holds at most ``MAX_ITEMS[key]`` entries; else raise PlanError."""
    from .plan import PlanError

    limit = MAX_ITEMS[key]
    if len(items) > limit:
        raise PlanError(f"{key}: {len(items)} entries; at most {limit} are allowed")
    return items


def check_tau(tau: float | None, follow_up: float | None) -> None:
    """``relapse.tau`` must lie within follow-up: at most the last day every arm is followed."""
    from .plan import PlanError

    if tau is not None and follow_up is not None and tau > follow_up:
        raise PlanError(f"relapse.tau: {tau:g} days is beyond follow-up; the allowed range is "
                        f"(0, {follow_up:g}] days (the last day with follow-up in every arm)")


def follow_up_days(trial, paramcd: str) -> float | None:
    """Minimum over arms of the largest follow-up time of ``paramcd`` (days, rounded down)."""
    adtte = getattr(trial, "adtte", None)
    if adtte is None or "PARAMCD" not in adtte.columns:
        return None
    rows = adtte[adtte["PARAMCD"] == paramcd]
    if rows.empty:
        return None
    arm = adtte.get("ARM")
    if arm is None:
        rows = rows.merge(trial.adsl[["USUBJID", "ARM"]], on="USUBJID", how="left")
    last = rows.groupby("ARM", observed=True)["AVAL"].max()
    return float(math.floor(float(last.min()))) if len(last) else None


def _columns(trial, table: str) -> set[str] | None:
    frame = getattr(trial, table, None)
    adsl = getattr(trial, "adsl", None)
    if frame is None:
        return None
    return {str(c) for c in frame.columns} | ({str(c) for c in adsl.columns} if adsl is not None else set())


def check_columns(trial, strata: tuple[str, ...], subgroups: tuple, *, strata_given: bool,
                  subgroups_given: bool) -> tuple[tuple[str, ...], tuple]:
    """Columns the plan names must be in the data.

    A column the plan names explicitly but the data lacks raises :class:`PlanError` naming the
    key, the column and the columns available. Default strata / subgroups that the data lacks
    are dropped from the resolved plan (so Methods, which prints the resolved plan, stays true).

    Returns
    -------
    (strata, subgroups) : the resolved values.
    """
    from .plan import PlanError

    tte = _columns(trial, "adtte")
    if tte is not None:
        missing = [c for c in strata if c not in tte]
        if missing and strata_given:
            raise PlanError(f"relapse.strata: column {', '.join(repr(c) for c in missing)} is not in "
                            f"the ADTTE or ADSL data; available: {', '.join(sorted(tte))}")
        strata = tuple(c for c in strata if c in tte)
        _check_levels(trial, "adtte", strata, MAX_STRATA, "relapse.strata")
    eff = _columns(trial, "adeff")
    if eff is not None:
        missing = [c for c, _ in subgroups if c not in eff]
        if missing and subgroups_given:
            raise PlanError(f"subgroups.{missing[0]}: column {missing[0]!r} is not in the ADEFF or "
                            f"ADSL data; available: {', '.join(sorted(eff))}")
        subgroups = tuple((c, label) for c, label in subgroups if c in eff)
        for column, _ in subgroups:
            _check_levels(trial, "adeff", (column,), MAX_SUBGROUP_LEVELS, f"subgroups.{column}")
    return strata, subgroups


def _check_levels(trial, table: str, columns: tuple, limit: int, key: str) -> None:
    """The columns (from the table or ADSL) must have at most ``limit`` level combinations."""
    from .plan import PlanError

    if not columns:
        return
    frame, adsl = getattr(trial, table), trial.adsl
    if all(c in adsl.columns for c in columns):  # subject-level: one row per subject is enough
        frame = adsl[adsl["USUBJID"].isin(pd.unique(frame["USUBJID"]))]
    elif not all(c in frame.columns for c in columns):
        frame = frame[["USUBJID", *[c for c in columns if c in frame.columns]]].merge(
            adsl[["USUBJID", *[c for c in columns if c not in frame.columns]]], on="USUBJID", how="left")
    combos = len(frame[list(columns)].astype(str).drop_duplicates())
    if combos > limit:
        what = "levels" if len(columns) == 1 else "level combinations"
        raise PlanError(f"{key}: {', '.join(columns)} has {combos} {what}; at most {limit} are "
                        "allowed (is it an identifier or a continuous column? use a grouped column)")
