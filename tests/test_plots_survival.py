"""Smoke tests of the survival plots (Agg backend): lines, labels and the risk table are drawn."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import trialstats as ts  # noqa: E402

REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def sim():
    d = pd.read_csv(REF / "survival_sim_adtte.csv")
    d["ARM"] = pd.Categorical(d["ARM"], ["PLACEBO", "EXOSOME", "MINOXIDIL"])
    return d


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_plot_km_with_risk_table(sim):
    km = ts.kaplan_meier(sim, censor="CNSR")
    fig, ax = plt.subplots()
    out = ts.plots.plot_km(km, ax=ax, times=[0, 91, 182, 273, 364])
    assert out is ax
    assert len(ax.get_lines()) >= 3  # a curve per arm (plus censor marks)
    assert ax.get_xlabel() == "Time (days)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["PLACEBO", "EXOSOME", "MINOXIDIL"]
    texts = _texts(ax)
    assert "At risk" in texts
    rt = km.risk_table([0, 91, 182, 273, 364])
    # every number at risk is written under the axis
    assert all(str(n) in texts for n in rt["n_risk"])
    assert list(ax.get_xticks()) == [0, 91, 182, 273, 364]


def test_plot_km_new_axes_and_no_risk_table(sim):
    km = ts.kaplan_meier(sim, censor="CNSR", by=None, time_unit="weeks")
    ax = ts.plots.plot_km(km, at_risk=False, title="Relapse")
    assert ax.get_title() == "Relapse" and "At risk" not in _texts(ax)
    assert ax.get_xlabel() == "Time (weeks)"


def test_plot_cumulative_incidence(sim):
    ci = ts.cumulative_incidence(sim)
    ax = ts.plots.plot_cumulative_incidence(ci)
    assert len(ax.get_lines()) == 3
    assert ax.get_ylabel() == "Cumulative incidence (cause 1)"


def test_plot_extrapolation(sim):
    ext = ts.extrapolate(sim, censor="CNSR", distributions=("exponential", "weibull"))
    ax = ts.plots.plot_extrapolation(ext, max_years=3)
    assert len(ax.get_lines()) == 3 * (1 + 2)
    one = ts.plots.plot_extrapolation(ext, arm="EXOSOME")
    labels = [t.get_text() for t in one.get_legend().get_texts()]
    assert labels == ["EXOSOME Kaplan-Meier", "exponential", "weibull"]


def test_plot_loglog(sim):
    ax = ts.plots.plot_loglog(ts.kaplan_meier(sim, censor="CNSR"))
    assert len(ax.get_lines()) == 3 and ax.get_ylabel() == "log(-log S(t))"


def test_plots_namespace_lists_survival_plots():
    assert {"plot_km", "plot_cumulative_incidence", "plot_extrapolation",
            "plot_loglog"} <= set(ts.plots.__all__)


def test_labels_replace_group_codes(sim):
    labels = {"PLACEBO": "Placebo", "EXOSOME": "Exosome injections", "MINOXIDIL": "Minoxidil 5%"}
    km = ts.kaplan_meier(sim, censor="CNSR")
    ax = ts.plots.plot_km(km, times=[0, 182], labels=labels)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(labels.values())
    assert "Exosome injections" in _texts(ax)  # the risk-table row names too
    ax = ts.plots.plot_loglog(km, labels=labels)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(labels.values())
    ax = ts.plots.plot_cumulative_incidence(ts.cumulative_incidence(sim), labels=labels)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(labels.values())
    ext = ts.extrapolate(sim, censor="CNSR", distributions=("exponential",))
    ax = ts.plots.plot_extrapolation(ext, arm="EXOSOME", labels=labels)
    assert ax.get_legend().get_texts()[0].get_text() == "Exosome injections Kaplan-Meier"


def test_public_names_are_the_functions_not_their_modules():
    # cox, rmst and extrapolate share their module's name: the package must expose the function
    import trialstats.survival as survival
    from trialstats.survival.cox import CoxResult  # noqa: F401  (imports the submodule too)

    assert callable(survival.cox) and callable(survival.rmst) and callable(survival.extrapolate)
    assert ts.cox is survival.cox and ts.rmst is survival.rmst
