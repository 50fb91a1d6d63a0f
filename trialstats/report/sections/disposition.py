"""Section 3 — Disposition: a CONSORT-style flow per arm.

Randomised (every ADSL subject), treated (SAFFL = "Y"), completed (EOSSTT = "COMPLETED"),
discontinued (EOSSTT = "DISCONTINUED") by reason (DCSREAS). Percentages are of the randomised.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..tables import fmt_n_pct
from ._analysis import Analysis, section_of, single_step, table
from ._base import Section

KEY = "disposition"
TITLE = "Disposition"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ()


def flow_frame(adsl: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    """Tidy counts: one row per (stage, reason, ARM) including ARM = "Total".

    Columns ``stage, reason, ARM, n, denominator``; ``reason`` is "" except for discontinuation
    reasons; stages in flow order, reasons by decreasing total count then name.
    """
    groups = [(a, adsl[adsl["ARM"] == a]) for a in arms] + [("Total", adsl)]
    disc = adsl[adsl["EOSSTT"] == "DISCONTINUED"] if "EOSSTT" in adsl else adsl.iloc[0:0]
    reasons = []
    if "DCSREAS" in adsl:
        counts = disc["DCSREAS"].fillna("").replace("", "(reason missing)").value_counts()
        reasons = sorted(counts.index, key=lambda r: (-int(counts[r]), str(r)))
    rows = []
    for arm, g in groups:
        n_rand = len(g)
        stages = [("Randomised", "", n_rand)]
        if "SAFFL" in g:
            stages.append(("Treated (safety population)", "", int((g["SAFFL"] == "Y").sum())))
        if "EOSSTT" in g:
            stages.append(("Completed", "", int((g["EOSSTT"] == "COMPLETED").sum())))
            gd = g[g["EOSSTT"] == "DISCONTINUED"]
            stages.append(("Discontinued", "", len(gd)))
            if "DCSREAS" in g:
                r = gd["DCSREAS"].fillna("").replace("", "(reason missing)")
                stages += [("Discontinued", reason, int((r == reason).sum())) for reason in reasons]
        rows += [
            {"stage": s, "reason": reason, "ARM": arm, "n": n, "denominator": n_rand}
            for s, reason, n in stages
        ]
    return pd.DataFrame(rows)


def flow_boxes(flow: pd.DataFrame, arms: list[str], labels: dict) -> tuple:
    """The CONSORT-style diagram as data: one column per arm, boxes top to bottom.

    Each column is ``{"arm", "boxes": [(stage, text)], "outcome": [(stage, text)], "exits":
    [(reason, text)]}``: the template draws the boxes with arrows, then completed and discontinued
    side by side, then the reasons for discontinuation.
    """
    cols = []
    for arm in arms:
        sub = flow[flow["ARM"] == arm]
        main = sub[sub["reason"] == ""]
        d = int(main.loc[main["stage"] == "Randomised", "denominator"].iloc[0])
        boxes = [(r.stage, str(int(r.n)) if r.stage == "Randomised" else fmt_n_pct(r.n, d))
                 for r in main.itertuples() if r.stage not in ("Completed", "Discontinued")]
        outcome = [(r.stage, fmt_n_pct(r.n, d)) for r in main.itertuples() if r.stage in ("Completed", "Discontinued")]
        exits = [(r.reason, fmt_n_pct(r.n, d)) for r in sub[sub["reason"] != ""].itertuples() if r.n > 0]
        cols.append({"arm": labels.get(arm, arm), "boxes": boxes, "outcome": outcome, "exits": exits})
    return tuple(cols)


def analyse(ctx) -> Analysis:
    """Frames ``disposition`` (:func:`flow_frame`) and ``disposition_columns`` (which of SAFFL,
    EOSSTT, DCSREAS ADSL has: what the flow can show)."""
    adsl = ctx.trial.adsl
    cols = set(adsl.columns)
    return Analysis(KEY, {
        "disposition": flow_frame(adsl, ctx.arms),
        "disposition_columns": pd.DataFrame({c: [c in cols] for c in ("SAFFL", "EOSSTT", "DCSREAS")}),
    })


def render(a: Analysis, view) -> Section:
    """The flow table, the CONSORT-style boxes and the sentence, from the frames."""
    arms = view.arms
    flow = a.frame("disposition")
    has = a.frame("disposition_columns").iloc[0]
    order = list(dict.fromkeys(zip(flow["stage"], flow["reason"])))
    display_rows = []
    for stage, reason in order:
        sub = flow[(flow["stage"] == stage) & (flow["reason"] == reason)].set_index("ARM")
        row = {"": f"\u2003{reason}" if reason else stage}
        for arm in [*arms, "Total"]:
            n, d = sub.loc[arm, "n"], sub.loc[arm, "denominator"]
            row[_header(view, arm, flow)] = (
                str(int(n)) if stage == "Randomised" else fmt_n_pct(n, d)
            )
        display_rows.append(row)
    display = pd.DataFrame(display_rows, dtype=object)
    n_total = int(flow[(flow["stage"] == "Randomised") & (flow["ARM"] == "Total")]["n"].iloc[0])
    parts = []
    if has["SAFFL"]:
        parts.append("Treated = safety population (SAFFL = Y)")
    if has["EOSSTT"]:
        parts.append("completed / discontinued from the end-of-study status (EOSSTT)"
                     + (", with the reason for discontinuation (DCSREAS)" if has["DCSREAS"] else ""))
    text = (f"{n_total} subjects were randomised. Percentages are of the subjects randomised to each arm."
            + (" " + "; ".join(parts) + "." if parts else
               " ADSL has no end-of-study status (EOSSTT) or safety flag (SAFFL): only randomisation is shown."))
    return replace(
        section_of(a, TITLE, paragraphs=(text,),
                   tables=(table("disposition", "Subject disposition (CONSORT-style flow) by arm", a, display),)),
        flow=flow_boxes(flow, arms, view.labels))


def _header(view, arm: str, flow: pd.DataFrame) -> str:
    n = int(flow[(flow["stage"] == "Randomised") & (flow["ARM"] == arm)]["n"].iloc[0])
    name = "Total" if arm == "Total" else view.label(arm)
    return f"{name} (N={n})"


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
