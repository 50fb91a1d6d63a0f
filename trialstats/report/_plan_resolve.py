"""Resolution of an analysis plan against a trial (what :meth:`AnalysisPlan.resolve` fills in
from the data): the default time-to-event endpoint, its event name and time origin, the sections
whose data is absent, and the default RMST horizon."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: plan.py imports this module
    from .plan import Endpoint, RelapseSpec

__all__ = ["ORIGINS"]

def _first_adeff_paramcd(trial, fallback: str) -> str:
    """The primary PARAMCD when trial.toml names none: ``fallback`` (the bundled trials') when
    ADEFF has it, else the first PARAMCD of ADEFF."""
    adeff = getattr(trial, "adeff", None)
    if adeff is None or "PARAMCD" not in adeff.columns or adeff.empty:
        return fallback
    codes = list(dict.fromkeys(adeff["PARAMCD"].astype(str)))
    return fallback if fallback in codes else codes[0]


def _last_visit(trial, paramcd: str, fallback: str) -> str:
    """The primary visit when trial.toml names none: ``fallback`` when ``paramcd`` has it, else
    its last post-baseline visit (largest AVISITN) with an observed CHG (or AVAL)."""
    adeff = getattr(trial, "adeff", None)
    if adeff is None or not {"PARAMCD", "AVISIT", "AVISITN"} <= set(adeff.columns):
        return fallback
    rows = adeff[adeff["PARAMCD"].astype(str) == paramcd]
    if "ABLFL" in rows.columns:
        rows = rows[rows["ABLFL"].astype(str) != "Y"]
    value = "CHG" if "CHG" in rows.columns else "AVAL"
    rows = rows[rows[value].notna() & rows["AVISITN"].notna()]
    if rows.empty or fallback in set(rows["AVISIT"].astype(str)):
        return fallback
    return str(rows.sort_values("AVISITN", kind="stable")["AVISIT"].iloc[-1])


def _first_paramcd(trial, fallback: str) -> str:
    """The first PARAMCD of ADTTE (the default time-to-event endpoint), else ``fallback``."""
    adtte = getattr(trial, "adtte", None)
    if adtte is None or "PARAMCD" not in adtte.columns or adtte.empty:
        return fallback
    return str(adtte["PARAMCD"].iloc[0])


ORIGINS = ("randomisation", "end of treatment")


def _resolve_event(trial, spec: RelapseSpec, endpoints: dict) -> RelapseSpec:
    """Fill the event name and time origin from the plan, trial.toml [endpoints] or ADTTE.

    Event: the plan's ``event``, else the event descriptions (EVNTDESC of CNSR = 0 rows, text
    before any ":"), else PARAM; origin: the plan's ``origin``, else "end of treatment" when
    PARAM says so, else "randomisation".
    """
    ep = next((v for v in endpoints.values() if isinstance(v, dict) and v.get("paramcd") == spec.paramcd), {})
    event = spec.event or str(ep.get("event", ""))
    origin = spec.origin or str(ep.get("origin", ""))
    adtte = getattr(trial, "adtte", None)
    rows = None
    if adtte is not None and "PARAMCD" in adtte.columns:
        rows = adtte[adtte["PARAMCD"] == spec.paramcd]
    param = ""
    if rows is not None and len(rows) and "PARAM" in rows.columns:
        param = str(rows["PARAM"].iloc[0])
    if not event and rows is not None and len(rows):
        if "EVNTDESC" in rows.columns:
            desc = rows.loc[rows["CNSR"] == 0, "EVNTDESC"].astype(str).str.split(":").str[0].str.strip()
            desc = desc[desc != ""]
            if len(desc):
                event = str(desc.value_counts().index[0]).lower()
        if not event and param:
            event = re.sub(r"\s*\(.*?\)\s*", " ", param).strip()
            event = re.sub(r"^(time|days|months|years)\b.*?\bto\b\s*", "", event, flags=re.I).lower()
    if not origin:
        origin = "end of treatment" if "end of treatment" in param.lower() else "randomisation"
    if not event and ep:  # declared in trial.toml but no data to name it: its code
        event = spec.paramcd.lower()
    return replace(spec, event=event or "event", origin=origin)


def _absent_sections(trial, primary: Endpoint, relapse: RelapseSpec, plan) -> tuple:
    """(section key, reason) of the sections whose data this trial does not have."""
    out = []
    adeff, adtte = getattr(trial, "adeff", None), getattr(trial, "adtte", None)
    if adeff is None:
        why = "the trial has no ADEFF table (longitudinal efficacy data)"
        out += [("primary", why), ("subgroups", why)]
    elif "PARAMCD" in adeff.columns and primary.paramcd not in set(adeff["PARAMCD"]):
        why = f"PARAMCD {primary.paramcd} is not in ADEFF"
        out += [("primary", why), ("subgroups", why)]
    dur = plan.durability
    if adeff is None:
        out.append(("durability", "the trial has no ADEFF table (longitudinal efficacy data)"))
    elif "ONTRTFL" not in adeff.columns:
        out.append(("durability", "ADEFF has no on-treatment flag (ONTRTFL), so there is no "
                    "off-treatment follow-up to analyse"))
    elif "PARAMCD" in adeff.columns and dur.paramcd not in set(adeff["PARAMCD"]):
        out.append(("durability", f"PARAMCD {dur.paramcd} of [durability] is not in ADEFF"))
    if adtte is None:
        why = "the trial has no ADTTE table (time-to-event data)"
        out += [("relapse", why), ("longterm", why)]
    elif "PARAMCD" in adtte.columns and relapse.paramcd not in set(adtte["PARAMCD"]):
        why = f"PARAMCD {relapse.paramcd} is not in ADTTE"
        out += [("relapse", why), ("longterm", why)]
    if getattr(trial, "adae", None) is None:
        out.append(("safety", "the trial has no ADAE table (adverse events)"))
    return tuple(out)
