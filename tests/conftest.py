"""Fixtures shared by several test modules."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

MMRM_REF = Path(__file__).parent / "reference" / "mmrm"


@pytest.fixture(scope="session")
def fev() -> pd.DataFrame:
    """R mmrm's ``fev_data`` (tests/reference/mmrm/fev_data.csv) with R's factor levels.

    Session-scoped: tests must not change it in place.
    """
    levels = json.loads((MMRM_REF / "levels.json").read_text())["fev_data"]
    d = pd.read_csv(MMRM_REF / "fev_data.csv")
    for col in ["AVISIT", "ARMCD", "RACE", "SEX", "USUBJID"]:
        d[col] = pd.Categorical(d[col], categories=levels[col]["levels"])
    return d
