"""Tests of trialstats.simulate: determinism, validity, table shapes, the generative model.

The model's key properties are measured on large simulated samples and compared with the
documented parameters (the simulate_trial docstring; sources in DOMAIN.md). The targets are
computed here from the documented equations and the published figures, never taken from the
code. Statistical checks allow Z_TOL standard errors of sampling error.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from pandas.testing import assert_frame_equal
from tolerances import ANALYTIC

import trialstats as ts
from trialstats.errors import ModelError, TrialstatsError
from trialstats.simulate import _check_arguments, _simulate_tables, visit_weeks

# Tolerance of every statistical check, in standard errors of the sampling error: about 20
# such checks, each fails by chance with probability 6e-5 at 4 SE (normal tails), so the
# family fails by chance with probability < 0.2 %. The seeds are fixed, so a pass is repeatable.
# Sample sizes are chosen so that 4 SE is about 1 hair/cm2 on a mean change (SD about 25): a
# shift of the model by more than that is detected; the published figures themselves are only
# known to about 2 hairs/cm2 (Olsen 2002: SD 25.4, n 139).
Z_TOL = 4.0

# Documented parameters (simulate_trial docstring), with their published sources.
MINOX_CHANGE_48, MINOX_SD_48 = 18.6, 25.4      # Olsen 2002, minoxidil 5%, week 48
PLACEBO_CHANGE_48, PLACEBO_SD_48 = 3.9, 21.7   # Olsen 2002, placebo, week 48
EXO_CHANGE_48 = 15.0                           # assumption (documented as such)
PROGRESSION = -0.10                            # Price 2006, hairs/cm2 per week
TAU = 6.0                                      # build-up, weeks (Olsen 2007 foam at week 16)
WANING = {"MINOXIDIL": 24.0, "PLACEBO": 24.0, "EXOSOME": 36.0}   # Price 1999; assumption
DURABLE = {"MINOXIDIL": 0.0, "PLACEBO": 0.0, "EXOSOME": 0.40}    # Price 1999; assumption
CHANGE_48 = {"MINOXIDIL": MINOX_CHANGE_48, "PLACEBO": PLACEBO_CHANGE_48, "EXOSOME": EXO_CHANGE_48}
DROPOUT_HR_PER_10 = 0.80
INJECTIONS_IN_24_WEEKS = 6                     # every 4 weeks from day 1 while on treatment
PAIN_PER_INJECTION = {"EXOSOME": 0.15, "PLACEBO": 0.12}
HEADACHE_PER_24_WEEKS = {"EXOSOME": 0.06, "MINOXIDIL": 0.08, "PLACEBO": 0.05}


def expected_change(week: float, arm: str, treatment_weeks: int = 24) -> float:
    """E[CHG] from the documented equations (written out independently of the package)."""
    plateau_gain = (CHANGE_48[arm] - 48 * PROGRESSION) / (1 - math.exp(-48 / TAU))
    on = 1 - math.exp(-min(week, treatment_weeks) / TAU)
    if week <= treatment_weeks:
        h = on
    else:
        wane = min(1.0, max(0.0, 1 - (week - treatment_weeks) / WANING[arm]))
        h = on * (DURABLE[arm] + (1 - DURABLE[arm]) * wane)
    return PROGRESSION * week + plateau_gain * h


def raw_tables(**kwargs) -> dict[str, pd.DataFrame]:
    """The simulator's tables before they are wrapped in a Trial (validation of 150 000 rows
    would dominate the test time); same draws as simulate_trial with the same arguments."""
    args = dict(n_per_arm=150, arms=None, treatment_weeks=24, followup_weeks=104,
                dropout=0.30, missed_visit=0.05, effects=None, n_sites=6, trial_id="T", seed=1)
    args.update(kwargs)
    return _simulate_tables(**_check_arguments(**args))


@pytest.fixture(scope="module")
def large_complete():
    """6000 per arm at 600 sites (so site effects average out), 24 weeks of treatment, no
    dropout and no missed visits."""
    return raw_tables(n_per_arm=6000, dropout=0.0, missed_visit=0.0, n_sites=600, seed=11)


@pytest.fixture(scope="module")
def large_week48():
    """8000 per arm treated for 48 weeks (as in Olsen 2002), complete data."""
    return raw_tables(n_per_arm=8000, treatment_weeks=48, dropout=0.0, missed_visit=0.0,
                      arms=["MINOXIDIL", "PLACEBO"], seed=12)


@pytest.fixture(scope="module")
def large_dropout():
    """3000 per arm with the default dropout (0.30) and no intermittently missed visits."""
    return raw_tables(n_per_arm=3000, dropout=0.30, missed_visit=0.0, seed=13)


@pytest.fixture(scope="module")
def moderate_trial():
    """A trial of the bundled size with every kind of missingness, through the public API."""
    return ts.simulate_trial(n_per_arm=150, seed=21)


def with_arm(tables, name):
    return tables[name].merge(tables["adsl"][["USUBJID", "ARM"]], on="USUBJID")


# --------------------------------------------------------------------------------------------
# Determinism, validity, shapes
# --------------------------------------------------------------------------------------------

def test_same_seed_gives_identical_tables():
    a = ts.simulate_trial(n_per_arm=30, seed=5)
    b = ts.simulate_trial(n_per_arm=30, seed=5)
    for name in ("adsl", "adeff", "adtte", "adae"):
        assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.meta == b.meta


def test_same_seed_gives_identical_bytes(tmp_path):
    ts.simulate_trial(n_per_arm=30, seed=5).write(tmp_path / "a")
    ts.simulate_trial(n_per_arm=30, seed=5).write(tmp_path / "b")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["adae.csv", "adeff.csv", "adsl.csv", "adtte.csv", "trial.toml"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_different_seed_gives_different_trial():
    a = ts.simulate_trial(n_per_arm=30, seed=5)
    b = ts.simulate_trial(n_per_arm=30, seed=6)
    assert not a.adeff["AVAL"].equals(b.adeff["AVAL"])
    assert not a.adsl["AGE"].equals(b.adsl["AGE"])


def test_simulated_trial_validates_and_round_trips(tmp_path, moderate_trial):
    trial = moderate_trial
    assert trial.validate().errors == ()
    assert trial.meta.simulated is True
    assert trial.meta.reference == "PLACEBO"
    assert trial.arms == ["PLACEBO", "EXOSOME", "MINOXIDIL"]
    assert trial.meta.endpoints == {"primary": {"paramcd": "TAHC", "visit": "WEEK 24"},
                                    "relapse": {"paramcd": "RELAPSE"}}
    generator = trial.meta.extra["generator"]
    assert generator["seed"] == 21
    assert generator["parameters"]["n_per_arm"] == 150
    loaded = ts.load_trial(trial.write(tmp_path / "t"))
    assert loaded.meta.extra == trial.meta.extra
    for name in ("adsl", "adeff", "adtte", "adae"):
        assert_frame_equal(getattr(loaded, name), getattr(trial, name), check_dtype=False)


def test_complete_data_row_counts():
    trial = ts.simulate_trial(n_per_arm=20, dropout=0.0, missed_visit=0.0, n_sites=2, seed=3)
    n_visits = 4 + 10   # weeks 0, 4, 12, 24 on treatment; 32, 40, ..., 104 off treatment
    assert len(trial.adsl) == 60
    assert len(trial.adeff) == 60 * n_visits
    assert trial.adeff.groupby("USUBJID").size().eq(n_visits).all()
    # everyone reaches the end-of-treatment visit; only responders (gain > 15) enter ADTTE
    eot = trial.adeff[trial.adeff["AVISITN"] == 24]
    assert set(trial.adtte["USUBJID"]) == set(eot.loc[eot["CHG"] > 15, "USUBJID"])
    assert set(trial.adsl["EOSSTT"]) == {"COMPLETED"}
    assert set(trial.adtte["EVENTCD"]) <= {0, 1}


def test_arms_are_balanced_by_blocks_not_exactly():
    # permuted blocks of 2 per arm within site: an arm's count is off n_per_arm by < 2 per site
    counts = [raw_tables(n_per_arm=50, n_sites=4, seed=s)["adsl"]["ARM"].value_counts()
              for s in range(8)]
    for c in counts:
        assert c.sum() == 150
        assert (c - 50).abs().max() < 2 * 4
    assert any(c.nunique() > 1 for c in counts)   # not forced to be exactly equal


@pytest.mark.parametrize("arm", ["PLACEBO", "MINOXIDIL", "EXOSOME"])
def test_expected_change_helper_is_the_documented_mean(arm):
    """simulate.expected_change (public helper) against the equations written out above; at
    the arm's mean durable fraction the profile is linear in it, so the mean is exact."""
    from trialstats.simulate import expected_change as package_expected_change

    weeks = (0, 4, 12, 24, 32, 48, 60, 104)
    np.testing.assert_allclose([package_expected_change(w, arm) for w in weeks],
                               [expected_change(w, arm) for w in weeks], **ANALYTIC)
    # under continued treatment, week 48 is the published figure by construction
    np.testing.assert_allclose(package_expected_change(48, arm, treatment_weeks=48),
                               CHANGE_48[arm], **ANALYTIC)


def test_visit_schedule():
    weeks, eot = visit_weeks(24, 104)
    assert weeks.tolist() == [0, 4, 12, 24, *range(32, 105, 8)]
    assert weeks[eot] == 24
    weeks, eot = visit_weeks(48, 104)
    assert weeks.tolist() == [0, 4, 12, 24, 36, 48, 56, 64, 72, 80, 88, 96, 104]
    assert weeks[eot] == 48
    weeks, eot = visit_weeks(8, 20)
    assert weeks.tolist() == [0, 4, 8, 16] and eot == 2


def test_adeff_columns_and_counts(moderate_trial):
    adeff = moderate_trial.adeff
    assert list(adeff.columns) == ["USUBJID", "PARAMCD", "PARAM", "AVISIT", "AVISITN", "ADY",
                                   "AVAL", "BASE", "CHG", "ABLFL", "ONTRTFL"]
    aval = adeff["AVAL"].to_numpy(float)
    assert np.all(aval >= 0) and np.all(aval == np.round(aval))     # whole hairs/cm2
    np.testing.assert_array_equal(adeff["CHG"], adeff["AVAL"] - adeff["BASE"])
    base = adeff.loc[adeff["ABLFL"] == "Y"].set_index("USUBJID")["AVAL"]
    np.testing.assert_array_equal(adeff["BASE"], adeff["USUBJID"].map(base))
    assert (adeff.loc[adeff["ABLFL"] == "Y", "AVISITN"] == 0).all()
    assert ((adeff["ONTRTFL"] == "Y") == (adeff["AVISITN"] <= 24)).all()
    # visits within +-3 days of the nominal day 7 * week + 1; baseline on day 1
    offset = adeff["ADY"] - (7 * adeff["AVISITN"] + 1)
    assert offset.abs().max() <= 3
    assert (adeff.loc[adeff["AVISITN"] == 0, "ADY"] == 1).all()
    assert (adeff["AVISIT"].astype(str) == np.where(
        adeff["AVISITN"] == 0, "BASELINE", "WEEK " + adeff["AVISITN"].astype(str))).all()


def test_missingness_is_realistic_for_mmrm(moderate_trial):
    """Not every subject has every visit: dropout plus intermittent gaps."""
    adeff = moderate_trial.adeff
    per_subject = adeff.groupby("USUBJID")["AVISITN"].apply(list)
    n_visits = 14
    assert (per_subject.str.len() < n_visits).any()
    all_weeks = sorted(set(adeff["AVISITN"]))

    def has_gap(ws):   # a visit missed while later visits were attended
        return ws != all_weeks[: len(ws)]

    assert per_subject.map(has_gap).any()
    discontinued = moderate_trial.adsl.set_index("USUBJID")["EOSSTT"] == "DISCONTINUED"
    assert discontinued.any() and not discontinued.all()


# --------------------------------------------------------------------------------------------
# The generative model against its documented parameters (large samples)
# --------------------------------------------------------------------------------------------

def test_baseline_counts(large_complete):
    adsl = large_complete["adsl"]
    base = adsl["BASETAHC"].to_numpy(float)
    n = base.size
    sd = base.std(ddof=1)
    # documented: mean 150, SD 30, of which a site effect with SD 5 (SITE_SD) shared by the
    # subjects of a site. SE of the mean: sqrt(SITE_SD^2 sum(w_k^2) + sd^2 / n), w_k the site
    # shares; SE of the SD: sd / sqrt(2n) plus the sampling error of the realised between-site
    # variance, sqrt(2 SITE_SD^4 / K) / (2 sd), K sites.
    site_sd, k = 5.0, adsl["SITEID"].nunique()
    w = adsl["SITEID"].value_counts(normalize=True).to_numpy()
    se_mean = math.sqrt(site_sd**2 * np.sum(w**2) + sd**2 / n)
    se_sd = math.sqrt(sd**2 / (2 * n) + (2 * site_sd**4 / k) / (4 * sd**2))
    assert abs(base.mean() - 150.0) <= Z_TOL * se_mean
    assert abs(sd - 30.0) <= Z_TOL * se_sd


@pytest.mark.parametrize("arm", ["PLACEBO", "MINOXIDIL", "EXOSOME"])
@pytest.mark.parametrize("week", [4, 12, 24])
def test_mean_change_on_treatment(large_complete, arm, week):
    adeff = with_arm(large_complete, "adeff")
    chg = adeff.loc[(adeff["ARM"] == arm) & (adeff["AVISITN"] == week), "CHG"].to_numpy(float)
    target = expected_change(week, arm)
    # visit days jitter +-3 days around the nominal week; the bias this adds through the
    # curvature of h is below 0.02 hairs/cm2, far inside the sampling error (about 0.4)
    se = chg.std(ddof=1) / math.sqrt(chg.size)
    assert abs(chg.mean() - target) <= Z_TOL * se, (arm, week, chg.mean(), target)


@pytest.mark.parametrize("arm, mean, sd", [("MINOXIDIL", MINOX_CHANGE_48, MINOX_SD_48),
                                           ("PLACEBO", PLACEBO_CHANGE_48, PLACEBO_SD_48)])
def test_week48_change_matches_olsen_2002(large_week48, arm, mean, sd):
    """Treated for 48 weeks, the model reproduces the published week-48 mean change and SD."""
    adeff = with_arm(large_week48, "adeff")
    chg = adeff.loc[(adeff["ARM"] == arm) & (adeff["AVISITN"] == 48), "CHG"].to_numpy(float)
    s = chg.std(ddof=1)
    # counts are rounded to whole hairs: adds 2/12 to the variance of CHG (<0.01 on the SD)
    assert abs(chg.mean() - mean) <= Z_TOL * s / math.sqrt(chg.size)
    assert abs(s - sd) <= Z_TOL * s / math.sqrt(2 * chg.size)


def test_gain_wanes_after_treatment_stops(large_complete):
    """Price 1999: minoxidil's gain is lost within 24 weeks of stopping (back to placebo)."""
    adeff = with_arm(large_complete, "adeff")
    at48 = adeff[adeff["AVISITN"] == 48].groupby("ARM")["CHG"]
    mean, sd, n = at48.mean(), at48.std(), at48.size()
    diff = mean["MINOXIDIL"] - mean["PLACEBO"]
    se = math.sqrt(sd["MINOXIDIL"] ** 2 / n["MINOXIDIL"] + sd["PLACEBO"] ** 2 / n["PLACEBO"])
    assert abs(diff - 0.0) <= Z_TOL * se
    for arm in ("MINOXIDIL", "PLACEBO", "EXOSOME"):
        assert abs(mean[arm] - expected_change(48, arm)) <= Z_TOL * sd[arm] / math.sqrt(n[arm])
    # and the gain is still there at the end of treatment
    at24 = adeff[adeff["AVISITN"] == 24].groupby("ARM")["CHG"].mean()
    assert at24["MINOXIDIL"] - at24["PLACEBO"] > 10


def test_dropout_model_is_recovered(large_dropout):
    """Fit the documented discrete-time dropout model (cloglog, offset log interval length) to
    the simulated dropouts; its parameters must match the documented ones: per-week hazard
    kappa = -log(1 - d) / 104 (so a subject whose count stays at baseline discontinues by
    week 104 with probability d = 0.30) and hazard ratio 0.80 per +10 hairs/cm2 of the last
    observed change (MAR)."""
    adeff, adsl = large_dropout["adeff"], large_dropout["adsl"]
    weeks = np.array(sorted(set(adeff["AVISITN"])))
    rows = []
    wide = adeff.pivot(index="USUBJID", columns="AVISITN", values="CHG").reindex(columns=weeks)
    dropped = adsl.set_index("USUBJID")["EOSSTT"].reindex(wide.index) == "DISCONTINUED"
    chg = wide.to_numpy(float)
    n_obs = (~np.isnan(chg)).sum(axis=1)          # no intermittent gaps in this sample
    for j in range(1, weeks.size):
        at_risk = n_obs >= j                       # attended visit j - 1
        event = at_risk & (n_obs == j) & dropped.to_numpy()
        rows.append(pd.DataFrame({"event": event[at_risk].astype(float),
                                  "last_chg": chg[at_risk, j - 1],
                                  "log_dw": math.log(weeks[j] - weeks[j - 1])}))
    data = pd.concat(rows, ignore_index=True)
    X = sm.add_constant(data[["last_chg"]])
    fit = sm.GLM(data["event"], X, offset=data["log_dw"],
                 family=sm.families.Binomial(link=sm.families.links.CLogLog())).fit()
    log_kappa = math.log(-math.log(1 - 0.30) / 104)
    slope = math.log(DROPOUT_HR_PER_10) / 10
    assert abs(fit.params["const"] - log_kappa) <= Z_TOL * fit.bse["const"]
    assert abs(fit.params["last_chg"] - slope) <= Z_TOL * fit.bse["last_chg"]
    # the dropout is informative in the MAR direction: lower gain, more dropout
    assert fit.params["last_chg"] < 0


def test_half_gain_relapse_follows_the_documented_rule():
    """Re-derive every ADTTE row from ADEFF with the documented "half-gain" rule (opt-in)."""
    trial = ts.simulate_trial(n_per_arm=150, seed=21, relapse="half-gain")
    adeff, adtte = trial.adeff, trial.adtte.set_index("USUBJID")
    status = trial.adsl.set_index("USUBJID")["EOSSTT"]
    eot_subjects = set(adeff.loc[adeff["AVISITN"] == 24, "USUBJID"])
    assert set(adtte.index) == eot_subjects
    for subj, visits in adeff.groupby("USUBJID", sort=False):
        if subj not in eot_subjects:
            continue
        visits = visits.sort_values("AVISITN")
        eot = visits[visits["AVISITN"] == 24].iloc[0]
        gain = eot["CHG"]
        after = visits[visits["AVISITN"] > 24]
        hit = after["CHG"] <= gain / 2 if gain > 0 else after["CHG"] < 0
        row = adtte.loc[subj]
        days = (after["ADY"] - eot["ADY"]).to_numpy()
        if hit.any():
            k = int(np.argmax(hit.to_numpy()))
            assert row["EVENTCD"] == 1 and row["CNSR"] == 0, subj
            assert row["AVAL"] == days[k] and row["TUPPER"] == days[k], subj
            assert row["TLOWER"] == (days[k - 1] if k > 0 else 0), subj
        else:
            last = days[-1] if days.size else 0
            assert row["CNSR"] == 1 and row["TLOWER"] == last and np.isnan(row["TUPPER"]), subj
            if status[subj] == "DISCONTINUED":
                assert row["EVENTCD"] == 2 and row["AVAL"] > last, subj
            else:
                assert row["EVENTCD"] == 0 and row["AVAL"] == last, subj


def test_responder_relapse_follows_the_documented_rule(moderate_trial):
    """Re-derive every ADTTE row of the default definition from ADEFF: responders only, loss of
    at least half the gain at two consecutive attended follow-up visits."""
    adeff, adtte = moderate_trial.adeff, moderate_trial.adtte.set_index("USUBJID")
    status = moderate_trial.adsl.set_index("USUBJID")["EOSSTT"]
    eot = adeff[adeff["AVISITN"] == 24].set_index("USUBJID")["CHG"]
    assert set(adtte.index) == set(eot[eot > 15].index)
    n_events = 0
    for subj, row in adtte.iterrows():
        visits = adeff[adeff["USUBJID"] == subj].sort_values("AVISITN")
        eot_day = visits.loc[visits["AVISITN"] == 24, "ADY"].iloc[0]
        after = visits[visits["AVISITN"] > 24]
        lost = (after["CHG"] <= eot[subj] / 2).to_numpy()
        days = (after["ADY"] - eot_day).to_numpy()
        confirmed = np.flatnonzero(lost[:-1] & lost[1:])
        if confirmed.size:
            k = confirmed[0]
            n_events += 1
            assert (row["EVENTCD"], row["CNSR"], row["AVAL"]) == (1, 0, days[k]), subj
            assert row["TLOWER"] == (days[k - 1] if k > 0 else 0), subj
        else:
            free = days[:-1] if lost.size and lost[-1] else days   # unconfirmed last loss
            last = free[-1] if free.size else 0
            assert row["CNSR"] == 1 and row["TLOWER"] == last and np.isnan(row["TUPPER"]), subj
            assert row["EVENTCD"] == (2 if status[subj] == "DISCONTINUED" else 0), subj
    assert n_events > 0


def test_relapse_seen_only_at_visit_days(moderate_trial):
    adeff, adtte = moderate_trial.adeff, moderate_trial.adtte
    eot_day = adeff[adeff["AVISITN"] == 24].set_index("USUBJID")["ADY"]
    visit_days = set(zip(adeff["USUBJID"], adeff["ADY"]))
    events = adtte[adtte["CNSR"] == 0]
    assert len(events) > 0
    for subj, aval, lower in zip(events["USUBJID"], events["AVAL"], events["TLOWER"]):
        assert (subj, eot_day[subj] + aval) in visit_days
        assert (subj, eot_day[subj] + lower) in visit_days
        assert lower < aval


def test_every_arm_has_relapses_censoring_and_competing_events(large_dropout):
    adtte = with_arm(large_dropout, "adtte")
    counts = adtte.groupby(["ARM", "EVENTCD"]).size().unstack(fill_value=0)
    assert set(counts.columns) == {0, 1, 2}
    assert (counts > 0).all().all(), counts
    # the exosome gain is assumed partly durable: fewer relapses than on placebo
    share = adtte.groupby("ARM")["EVENTCD"].apply(lambda e: (e == 1).mean())
    assert share["EXOSOME"] < share["PLACEBO"]


def test_adverse_events(large_complete):
    adae, adsl = with_arm(large_complete, "adae"), large_complete["adsl"]
    n_arm = adsl["ARM"].value_counts()
    assert set(adae["AESEV"]) <= {"MILD", "MODERATE", "SEVERE"}
    assert set(adae["AESER"]) <= {"Y", "N"}
    assert ((adae["TRTEMFL"] == "Y") == (adae["ASTDY"] >= 1)).all()
    assert (adae["ASTDY"] != 0).all() and (adae["AENDY"] >= adae["ASTDY"]).all()
    bodsys = adae.groupby("AEDECOD")["AEBODSYS"].unique().map(tuple).to_dict()
    assert bodsys == {
        "Headache": ("Nervous system disorders",),
        "Pruritus": ("Skin and subcutaneous tissue disorders",),
        "Injection site pain": ("General disorders and administration site conditions",),
        "Injection site erythema": ("General disorders and administration site conditions",),
        "Injection site swelling": ("General disorders and administration site conditions",),
    }
    seq = adae.groupby("USUBJID")["AESEQ"].apply(list)
    assert seq.map(lambda s: s == list(range(1, len(s) + 1))).all()
    # minoxidil is topical: no injection-site events
    minox = adae[adae["ARM"] == "MINOXIDIL"]
    assert not minox["AEDECOD"].str.startswith("Injection site").any()
    # P(>= 1 injection-site pain) = 1 - (1 - q)^6 with 6 injections (no dropout here)
    pain = adae[adae["AEDECOD"] == "Injection site pain"].groupby("ARM")["USUBJID"].nunique()
    for arm, q in PAIN_PER_INJECTION.items():
        p = 1 - (1 - q) ** INJECTIONS_IN_24_WEEKS
        n = n_arm[arm]
        assert abs(pain[arm] / n - p) <= Z_TOL * math.sqrt(p * (1 - p) / n), arm
    # treatment-emergent headaches: Poisson, rate per 24 weeks times exposure
    emergent = adae[(adae["AEDECOD"] == "Headache") & (adae["TRTEMFL"] == "Y")]
    count = emergent.groupby("ARM").size()
    for arm, rate in HEADACHE_PER_24_WEEKS.items():
        exposure = adsl.loc[adsl["ARM"] == arm, "TRTDURD"].sum() / (7 * 24)
        mu = rate * exposure
        assert abs(count[arm] - mu) <= Z_TOL * math.sqrt(mu), arm


def test_adsl_columns(moderate_trial):
    adsl = moderate_trial.adsl
    assert list(adsl.columns) == [
        "USUBJID", "SUBJID", "SITEID", "ARM", "ARMCD", "AGE", "AGEGR1", "SEX", "RACE", "STAGE",
        "STAGEGR", "BASETAHC", "ITTFL", "SAFFL", "COMPLFL", "EOSSTT", "DCSREAS", "TRTDURD"]
    men, women = adsl[adsl["SEX"] == "M"], adsl[adsl["SEX"] == "F"]
    assert set(men["STAGE"]) <= {"II", "III", "IV", "V"}
    assert set(women["STAGE"]) <= {"I", "II"}
    assert adsl["AGE"].between(18, 65).all()
    assert ((adsl["EOSSTT"] == "COMPLETED") == (adsl["DCSREAS"] == "")).all()
    assert (adsl["ARM"].astype(str) == adsl["ARMCD"]).all()
    base = moderate_trial.adeff.query("ABLFL == 'Y'").set_index("USUBJID")["AVAL"]
    np.testing.assert_array_equal(adsl["BASETAHC"], adsl["USUBJID"].map(base))


def test_effects_override_changes_the_arm_mean():
    default = raw_tables(n_per_arm=2000, dropout=0.0, missed_visit=0.0, arms=["EXOSOME", "PLACEBO"],
                         seed=4)
    bigger = raw_tables(n_per_arm=2000, dropout=0.0, missed_visit=0.0, arms=["EXOSOME", "PLACEBO"],
                        effects={"EXOSOME": 35.0}, seed=4)

    def exo24(t):
        # week-24 visits held on or before day 169 (visit window): still on treatment, so the
        # profile is h(t) = 1 - exp(-t / tau) at the actual visit week t = (ADY - 1) / 7
        a = with_arm(t, "adeff")
        a = a[(a["ARM"] == "EXOSOME") & (a["AVISITN"] == 24) & (a["ADY"] <= 7 * 24 + 1)]
        return a["CHG"].mean(), (1 - np.exp(-(a["ADY"].to_numpy() - 1) / 7 / TAU)).mean()

    # same seed, same draws: the mean moves by (35 - 15) h(t) / h(48) exactly up to rounding
    (big, h_big), (base, h_base) = exo24(bigger), exo24(default)
    assert h_big == h_base   # the same visits
    shift = (35.0 - 15.0) * h_big / (1 - math.exp(-48 / TAU))
    assert abs(big - base - shift) <= 0.05   # rounding of counts only


# --------------------------------------------------------------------------------------------
# Bad arguments
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(n_per_arm=1), r"n_per_arm must be an integer >= 2; got 1"),
    (dict(n_per_arm=2.5), r"n_per_arm must be an integer >= 2"),
    (dict(arms=["EXOSOME", "ASPIRIN"]), r"unknown arm code\(s\) 'ASPIRIN'; valid: EXOSOME, "
                                        r"MINOXIDIL, PLACEBO"),
    (dict(arms="PLACEBO"), r"arms must be a sequence of arm codes"),
    (dict(arms=["PLACEBO"]), r"at least two distinct arm codes"),
    (dict(arms=["PLACEBO", "PLACEBO"]), r"at least two distinct arm codes"),
    (dict(treatment_weeks=-4), r"treatment_weeks must be an integer >= 4.*got -4"),
    (dict(followup_weeks=-1), r"followup_weeks .* must be an integer >= treatment_weeks \+ 8 = 32"),
    (dict(followup_weeks=30), r"followup_weeks .*got 30"),
    (dict(dropout=1.0), r"dropout must be a probability in \[0, 1\); got 1.0"),
    (dict(dropout=-0.1), r"dropout must be a probability"),
    (dict(missed_visit=2), r"missed_visit must be a probability"),
    (dict(effects={"ASPIRIN": 3.0}), r"effects has arm code\(s\) 'ASPIRIN'.*valid: PLACEBO"),
    (dict(effects={"EXOSOME": float("nan")}), r"effects\['EXOSOME'\] must be a finite number"),
    (dict(n_sites=0), r"n_sites must be an integer >= 1"),
    (dict(trial_id=""), r"trial_id must be a non-empty string"),
    (dict(seed=-1), r"seed must be a non-negative integer"),
    (dict(seed=None), r"seed must be a non-negative integer"),
    (dict(allocation={"EXOSOME": 0}), r"allocation\['EXOSOME'\] must be an integer from 1 to 10"),
    (dict(allocation={"EXOSOME": 2.5}), r"allocation\['EXOSOME'\] must be an integer"),
    (dict(allocation={"ASPIRIN": 2}), r"allocation has arm code\(s\) 'ASPIRIN'.*valid: PLACEBO"),
    (dict(allocation=[2, 1]), r"allocation must be a mapping of arm code"),
    (dict(n_per_arm=20_000, allocation={"EXOSOME": 10}), r"at most 60,000 are allowed"),
])
def test_bad_arguments_raise_model_error(kwargs, match):
    args = dict(n_per_arm=10, seed=1)
    args.update(kwargs)
    with pytest.raises(ModelError, match=match):
        ts.simulate_trial(**args)


def test_model_error_is_a_trialstats_error_and_seed_is_required():
    with pytest.raises(TrialstatsError):
        ts.simulate_trial(n_per_arm=0, seed=1)
    with pytest.raises(TypeError, match="seed"):
        ts.simulate_trial(n_per_arm=10)   # keyword-only and required: no hidden default seed
    with pytest.raises(TypeError):
        ts.simulate_trial(10, seed=1)     # keyword-only


def test_small_trial_with_empty_sites():
    # few subjects over many sites: some sites enrol nobody, randomisation still works
    trial = ts.simulate_trial(n_per_arm=4, arms=["EXOSOME", "PLACEBO"], seed=11)
    assert len(trial.adsl) == 8
    assert trial.adsl["ARM"].value_counts().sum() == 8


def test_allocation_ratio_blocks_and_record():
    """2:1 exosome:minoxidil: permuted blocks of 4 + 2 within site, so each site is within one
    block of the ratio; the ratio is recorded in the generator parameters (1:1 is not)."""
    trial = ts.simulate_trial(n_per_arm=60, arms=["EXOSOME", "MINOXIDIL"],
                              allocation={"EXOSOME": 2}, n_sites=4, seed=5)
    assert len(trial.adsl) == 180
    for _, site in trial.adsl.groupby("SITEID"):
        counts = site["ARM"].value_counts()
        assert abs(counts.get("EXOSOME", 0) - 2 * counts.get("MINOXIDIL", 0)) <= 4
    total = trial.adsl["ARM"].value_counts()
    assert abs(total["EXOSOME"] - 120) <= 4 * 4 and total.sum() == 180
    assert trial.meta.extra["generator"]["parameters"]["allocation"] == {"MINOXIDIL": 1,
                                                                         "EXOSOME": 2}
    one = ts.simulate_trial(n_per_arm=60, arms=["EXOSOME", "MINOXIDIL"], n_sites=4, seed=5,
                            allocation={"EXOSOME": 1})
    assert "allocation" not in one.meta.extra["generator"]["parameters"]
    assert_frame_equal(one.adsl, ts.simulate_trial(n_per_arm=60, arms=["EXOSOME", "MINOXIDIL"],
                                                   n_sites=4, seed=5).adsl)
