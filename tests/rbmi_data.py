"""Shared loader of the rbmi reference data (tests/reference/rbmi/), used by the rbmi tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

REF = Path(__file__).parent / "reference" / "rbmi"
FORMULA = "CHANGE ~ THERAPY + VISIT + BASVAL*VISIT + THERAPY*VISIT"


def load_case(name: str) -> dict:
    """One reference JSON (made by tests/reference/rbmi/make_rbmi_reference.R, rbmi 1.5.2)."""
    return json.loads((REF / f"{name}.json").read_text())


def antidepressant() -> pd.DataFrame:
    """rbmi::antidepressant_data after the vignette's expand_locf (688 rows, CHANGE NaN where
    missing, BASVAL and THERAPY carried to the added rows)."""
    lv = json.loads((REF / "levels.json").read_text())["factor_levels"]
    raw = pd.read_csv(REF / "antidepressant_data.csv",
                      dtype={"PATIENT": str, "VISIT": str, "POOLINV": str})
    grid = pd.MultiIndex.from_product([lv["PATIENT"], lv["VISIT"]],
                                      names=["PATIENT", "VISIT"]).to_frame(index=False)
    dat = grid.merge(raw, how="left", on=["PATIENT", "VISIT"])
    for col in ("BASVAL", "THERAPY"):
        dat[col] = dat.groupby("PATIENT")[col].transform(lambda s: s.ffill().bfill())
    dat["VISIT"] = pd.Categorical(dat["VISIT"], categories=lv["VISIT"])
    dat["THERAPY"] = pd.Categorical(dat["THERAPY"], categories=lv["THERAPY"])
    return dat


def delta_table(case: dict) -> pd.DataFrame | None:
    """The non-zero delta offsets of a case (call.delta.values), as rbmi(delta=) takes them."""
    if not case["call"]["delta"]:
        return None
    rows = case["call"]["delta"]["values"]["nonzero_rows"]
    return pd.DataFrame(rows)
