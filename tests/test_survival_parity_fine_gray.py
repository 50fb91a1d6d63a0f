"""Fine-Gray subdistribution hazards vs R (issue 12, part 5).

Reference: tests/reference/survival_parity.json ("part5"), made by
tests/reference/make_survival_parity_reference.R: R ``finegray()`` + ``coxph(weights = fgwt)``
(default, and Breslow ties) and ``cmprsk::crr``, on mgus2 (progression vs death, survival's
"compete" vignette) and the simulated ADTTE table (relapse vs discontinuation). R's coxph fits
use eps = 1e-12: SAME_ALGORITHM / SAME_ALGORITHM_SE. crr stops on its own rule (score-based,
``gtol = 1e-6``): its estimates are up to 1.6e-7 relative from the root here, inside
SAME_ALGORITHM; its SEs are compared with SAME_ALGORITHM_SE.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tolerances import ANALYTIC, COX_RESIDUAL, SAME_ALGORITHM, SAME_ALGORITHM_SE

import trialstats as ts
from trialstats.errors import ModelError
from trialstats.survival.fine_gray import finegray_data

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "survival_parity.json").read_text())
P5 = REF["part5"]


def _mgus2():
    return pd.DataFrame(REF["data"]["mgus2"])


def _sim():
    sim = pd.read_csv(REF_DIR / "survival_sim_adtte.csv")
    sim["ARM"] = pd.Categorical(sim["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return sim


CASES = {
    "mgus2_pcm": (_mgus2, "age + sex", dict(time="etime", event_code="event", cause=1)),
    "mgus2_death": (_mgus2, "age + sex", dict(time="etime", event_code="event", cause=2)),
    "mgus2_pcm_breslow": (_mgus2, "age + sex", dict(time="etime", event_code="event", cause=1,
                                                    ties="breslow")),
    "sim_relapse": (_sim, "ARM + AGE", dict(time="AVAL", event_code="EVENTCD", cause=1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_finegray_coxph(name):
    # source: survival_parity.json part5.<name>.finegray (R finegray + coxph(weights = fgwt);
    # robust SE, R's default for these non-integer weights)
    data, formula, kw = CASES[name]
    ref = P5[name]["finegray"]
    fit = ts.fine_gray(formula, data(), **kw)
    assert fit.n_obs == ref["n_rows"]
    assert fit.robust
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.naive_std_error, ref["naive_std_error"], **SAME_ALGORITHM_SE)
    assert_allclose(fit.loglik, ref["loglik"], **SAME_ALGORITHM)
    assert_allclose(fit.score_test["statistic"], ref["score"], **SAME_ALGORITHM)


@pytest.mark.parametrize("name", ["mgus2_pcm", "mgus2_death", "sim_relapse"])
def test_crr(name):
    # source: survival_parity.json part5.<name>.crr (cmprsk::crr coef and sqrt(diag(var)))
    data, formula, kw = CASES[name]
    ref = P5[name]["crr"]
    fit = ts.fine_gray(formula, data(), method="crr", **kw)
    assert_allclose(fit.coef["estimate"], ref["estimate"], **SAME_ALGORITHM)
    assert_allclose(fit.coef["std_error"], ref["std_error"], **SAME_ALGORITHM_SE)


def test_finegray_weights_total():
    # source: survival_parity.json part5.mgus2_pcm.finegray.fgwt_sum (sum of R's fgwt)
    d = _mgus2()
    fg = finegray_data(d["etime"].to_numpy(float), d["event"].to_numpy(), 1)
    assert len(fg["row"]) == P5["mgus2_pcm"]["finegray"]["n_rows"]
    assert_allclose(fg["weight"].sum(), P5["mgus2_pcm"]["finegray"]["fgwt_sum"], **ANALYTIC)


def test_finegray_data_hand_worked():
    # closed form: times 1 (cause 2), 2 (censored), 3 (cause 1), 4 (censored), 5 (cause 1).
    # Censoring KM: at 2, 4 at risk (the cause-2 subject left) -> G = 3/4; at 4: 2 at risk
    # -> G = 3/8. Intervals (0, 2], (2, 4], (4, 5]; events of interest in (2, 4] and (4, 5].
    # The cause-2 subject: (0, 2] weight 1, then (2, 4] weight 3/4, (4, 5] weight 3/8.
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    code = np.array([2, 0, 1, 0, 1])
    fg = finegray_data(t, code, 1)
    first = fg["row"] == 0
    assert_allclose(fg["start"][first], [0, 2, 4], **ANALYTIC)
    assert_allclose(fg["stop"][first], [2, 4, 5], **ANALYTIC)
    assert_allclose(fg["weight"][first], [1, 3 / 4, 3 / 8], **ANALYTIC)
    assert_allclose(fg["status"], [0, 0, 0, 0, 1, 0, 1], **ANALYTIC)
    assert_allclose(fg["weight"][~first], 1.0, **ANALYTIC)


def test_fine_gray_errors():
    d = _mgus2()
    with pytest.raises(ModelError, match="cause=3 not found in column event; causes present: "
                                         "1, 2"):
        ts.fine_gray("age", d, time="etime", event_code="event", cause=3)
    with pytest.raises(ModelError, match="has no competing event"):
        ts.fine_gray("age", d[d["event"] != 2], time="etime", event_code="event")
    with pytest.raises(ModelError, match="method='aj' is not valid; choose one of: finegray, crr"):
        ts.fine_gray("age", d, time="etime", event_code="event", method="aj")
    with pytest.raises(ModelError, match="ties='efron' is not valid; choose one of: breslow"):
        ts.fine_gray("age", d, time="etime", event_code="event", method="crr", ties="efron")
    with pytest.raises(ModelError, match="event codes must be integers"):
        ts.fine_gray("age", d.assign(event=d["event"] + 0.5), time="etime",
                     event_code="event")


def test_crr_drops_incomplete_subjects_first():
    # crr deletes subjects with missing covariates before the censoring curve: same as
    # removing them from the data
    d = _mgus2().iloc[:400].copy()
    d.loc[d.index[::7], "age"] = np.nan
    a = ts.fine_gray("age + sex", d, time="etime", event_code="event", method="crr")
    b = ts.fine_gray("age + sex", d.dropna(subset=["age"]), time="etime", event_code="event",
                     method="crr")
    assert_allclose(a.coef["estimate"], b.coef["estimate"], **ANALYTIC)
    assert_allclose(a.coef["std_error"], b.coef["std_error"], **ANALYTIC)


def test_crr_refuses_finegray_options():
    with pytest.raises(ModelError, match="robust= and cluster= apply to method=\"finegray\""):
        ts.fine_gray("age", _mgus2(), time="etime", event_code="event", method="crr",
                     cluster="id")


@pytest.mark.parametrize("name", list(CASES))
def test_finegray_curves(name):
    # source: survival_parity.json part5.<name>.finegray.curves (R survfit(fit, newdata) on
    # the finegray fit, for the first two subjects: 1 - cumulative incidence, with SE)
    data, formula, kw = CASES[name]
    d = data()
    fit = ts.fine_gray(formula, d, **kw)
    tab = fit.predict(d.iloc[:2], "survival")
    for i, label in enumerate(d.index[:2]):
        ref = P5[name]["finegray"]["curves"][i]
        sub = tab[tab["row"] == label]
        assert_allclose(sub["time"], ref["time"], **ANALYTIC)
        assert_allclose(sub["survival"], ref["survival"], **COX_RESIDUAL)
        assert_allclose(sub["std_error"], ref["std_err"], **COX_RESIDUAL)
