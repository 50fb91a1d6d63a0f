"""simulate_trial(relapse="responder"): the responder-based, confirmed relapse definition.

It is the default since the bundled trials were regenerated (issue 10); "half-gain" stays as an
opt-in. The hand-built cases below are worked out by hand from the definition in the docstring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialstats as ts
from trialstats.errors import ModelError
from trialstats.simulate import _relapse_responders


def test_default_definition_and_generator_record():
    a = ts.simulate_trial(n_per_arm=20, seed=8)
    b = ts.simulate_trial(n_per_arm=20, seed=8, relapse="responder", responder_gain=15.0)
    pd.testing.assert_frame_equal(a.adtte, b.adtte)
    # the definition is always recorded: a trial.toml says which relapse rule made its ADTTE
    assert a.meta.extra["generator"]["parameters"]["relapse"] == "responder"
    assert a.meta.extra["generator"]["parameters"]["responder_gain"] == 15.0
    c = ts.simulate_trial(n_per_arm=20, seed=8, relapse="half-gain")
    assert c.meta.extra["generator"]["parameters"]["relapse"] == "half-gain"
    pd.testing.assert_frame_equal(a.adeff, c.adeff)   # same draws, only ADTTE differs
    assert len(c.adtte) > len(a.adtte)                # half-gain: every subject at week 24


def test_only_responders_enter_the_relapse_endpoint():
    t = ts.simulate_trial(n_per_arm=60, seed=4, relapse="responder", responder_gain=10.0)
    eff = t.adeff[t.adeff["AVISIT"] == "WEEK 24"].set_index("USUBJID")["CHG"]
    responders = set(eff[eff > 10.0].index)
    assert set(t.adtte["USUBJID"]) == responders
    assert 0 < len(responders) < len(t.adsl)


def test_confirmed_loss_by_hand():
    # visits: 0 (baseline), 1 (end of treatment), 2, 3, 4 (follow-up); days 1, 169, 225, 281, 337
    day = np.tile(np.array([1, 169, 225, 281, 337]), (5, 1))
    base = 100
    chg = np.array([
        [0, 20, 15, 8, 9],    # A: lost at 3 and 4 -> relapse dated visit 3, last free visit 2
        [0, 20, 9, 15, 8],    # B: isolated loss at 2, unconfirmed at 4 -> censored at visit 3
        [0, 5, 1, 1, 1],      # C: gain 5, not a responder -> no row
        [0, 20, 9, 0, 8],     # D: visit 3 missed: 2 and 4 are consecutive attended -> visit 2
        [0, 20, 9, 30, 30],   # E: dropped out after visit 2 (day 250): censored, competing
    ])
    observed = np.ones((5, 5), dtype=bool)
    observed[3, 3] = False
    observed[4, 3:] = False
    drop_visit = np.array([5, 5, 5, 5, 3])
    disc_day = np.array([-1, -1, -1, -1, 250])
    got = _relapse_responders(np.array(list("ABCDE")), base + chg, observed, day, 1, drop_visit,
                              disc_day, 10.0).set_index("USUBJID")
    assert list(got.index) == ["A", "B", "D", "E"]
    assert got.loc["A", ["AVAL", "CNSR", "TLOWER", "EVENTCD"]].tolist() == [112, 0, 56, 1]
    assert got.loc["A", "TUPPER"] == 112
    assert got.loc["B", ["AVAL", "CNSR", "TLOWER", "EVENTCD"]].tolist() == [112, 1, 112, 0]
    assert got.loc["D", ["AVAL", "CNSR", "TLOWER", "EVENTCD"]].tolist() == [56, 0, 0, 1]
    assert got.loc["E", ["AVAL", "CNSR", "EVENTCD"]].tolist() == [81, 1, 2]
    assert got.loc["E", "TLOWER"] == 0   # its only follow-up visit was an unconfirmed loss


@pytest.mark.parametrize(("kw", "msg"), [
    ({"relapse": "loss"}, r"unknown relapse definition 'loss'; valid: responder, half-gain"),
    ({"responder_gain": -1.0}, r"responder_gain must be a finite number >= 0"),
])
def test_bad_relapse_arguments(kw, msg):
    with pytest.raises(ModelError, match=msg):
        ts.simulate_trial(n_per_arm=10, seed=1, **kw)
