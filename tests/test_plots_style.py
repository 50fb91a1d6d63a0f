"""Figures a reviewer accepts: visits at their real times, units on the y-axis, one colour-blind-safe
colour per arm in every figure, readable annotations, deterministic output."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from trialstats.plots import plot_forest, plot_km, plot_lsmeans, plot_missing_pattern  # noqa: E402
from trialstats.plots._style import OKABE_ITO  # noqa: E402

ARMS = {"PLACEBO": "Placebo", "EXOSOME": "Exosome", "MINOXIDIL": "Minoxidil"}
VISITS = ["WEEK 4", "WEEK 12", "WEEK 24"]


def _lsm():
    rows = [{"ARM": a, "AVISIT": v, "estimate": float(i + j), "conf_low": i + j - 1.0, "conf_high": i + j + 1.0}
            for i, a in enumerate(ARMS) for j, v in enumerate(VISITS)]
    f = pd.DataFrame(rows)
    f["AVISIT"] = pd.Categorical(f["AVISIT"], categories=VISITS)
    return f


def _line_colors(ax) -> dict:
    """Legend label -> colour of each errorbar series."""
    return {c.get_label(): to_hex(c.lines[0].get_color()) for c in ax.containers}


def test_visits_sit_at_their_real_times_and_the_y_axis_has_units():
    ax = plot_lsmeans(_lsm(), labels=ARMS, units="hairs/cm²", time={"WEEK 4": 4, "WEEK 12": 12, "WEEK 24": 24})
    assert list(ax.get_xticks()) == [4.0, 12.0, 24.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == VISITS
    # the middle arm is not dodged: its points are exactly at the weeks
    middle = ax.containers[1].lines[0].get_xdata()
    np.testing.assert_allclose(middle, [4.0, 12.0, 24.0], rtol=0, atol=1e-12)  # exact placement
    assert ax.get_ylabel() == "LS mean change from baseline (hairs/cm²)"
    plt.close(ax.figure)


def test_avisitn_column_is_used_when_present_and_evenly_spaced_without():
    f = _lsm().assign(AVISITN=lambda d: d["AVISIT"].map({"WEEK 4": 4, "WEEK 12": 12, "WEEK 24": 24}).astype(float))
    ax = plot_lsmeans(f, labels=ARMS)
    assert list(ax.get_xticks()) == [4.0, 12.0, 24.0]
    ax2 = plot_lsmeans(_lsm(), labels=ARMS)
    assert list(ax2.get_xticks()) == [0.0, 1.0, 2.0]
    plt.close("all")


def test_an_arm_keeps_its_okabe_ito_colour_across_figures():
    ax = plot_lsmeans(_lsm(), labels=ARMS)
    profile = _line_colors(ax)
    assert profile == {"Placebo": OKABE_ITO[0].lower(), "Exosome": OKABE_ITO[1].lower(), "Minoxidil": OKABE_ITO[2].lower()}
    # a forest plot of the two non-reference arms only: Minoxidil keeps its colour
    forest = pd.DataFrame({"label": ["Sex: F", "Sex: F", "Sex: M", "Sex: M"], "ARM": ["EXOSOME", "MINOXIDIL"] * 2,
                           "estimate": [1.0, 2.0, 1.5, 2.5], "conf_low": [0.0, 1.0, 0.5, 1.5], "conf_high": [2.0, 3.0, 2.5, 3.5]})
    fax = plot_forest(forest, group="ARM", labels=ARMS)
    forest_colors = {line.get_label(): to_hex(line.get_color()) for line in fax.get_lines() if not line.get_label().startswith("_")}
    assert forest_colors == {"Exosome": profile["Exosome"], "Minoxidil": profile["Minoxidil"]}
    plt.close("all")


def test_missing_pattern_annotations_are_readable():
    f = pd.DataFrame({"ARM": list(ARMS) * 3, "AVISIT": sorted(VISITS * 3, key=VISITS.index),
                      "pct_missing": np.arange(9.0) * 5, "n_missing": np.arange(9), "n_expected": [20] * 9})
    ax = plot_missing_pattern(f, labels=ARMS)
    sizes = {t.get_fontsize() for t in ax.texts}
    assert min(sizes) >= 9  # points; matplotlib's "x-small" (6.9 pt at the default 10 pt) was too small
    plt.close("all")


def test_figures_are_deterministic(tmp_path):
    import trialstats as ts

    trial = ts.datasets.load("exo-hair-202")
    km = ts.kaplan_meier(trial.analysis_frame("adtte", paramcd="RELAPSE"), censor="CNSR")

    def render():
        ax = plot_km(km, labels=dict(trial.meta.arms))
        buf = io.StringIO()
        with plt.rc_context({"svg.hashsalt": "t"}):
            ax.figure.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(ax.figure)
        return buf.getvalue()

    assert render() == render()


def test_shared_plot_helpers():
    # one copy of each, used by every plot module (they were repeated in three of them)
    from matplotlib.figure import Figure

    from trialstats.plots import _style, estimands, longitudinal, survival

    assert _style.text_safe("a $5 fee") == r"a \$5 fee"
    assert _style.display_name("EXO", {"EXO": "Exo $"}) == r"Exo \$"
    assert _style.display_name("EXO", None) == "EXO"
    ax = Figure().subplots()
    assert _style.new_axes(ax) is ax
    assert longitudinal._text is _style.text_safe and survival._name is _style.display_name
    assert estimands._text is _style.text_safe and longitudinal._new_ax is _style.new_axes
