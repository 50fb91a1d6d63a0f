"""Longitudinal plots: each takes a result, ax=None makes a new figure, returns the Axes, draws
exactly the numbers given (no statistics computed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from trialstats.plots.longitudinal import (  # noqa: E402
    plot_forest,
    plot_lsmeans,
    plot_missing_pattern,
    plot_observed_means,
)

ARMS = ["PLACEBO", "EXOSOME"]
VISITS = ["WEEK 4", "WEEK 12", "WEEK 24"]


@pytest.fixture
def lsm():
    rows = [(a, v, 1.0 + i + 10 * k) for k, a in enumerate(ARMS) for i, v in enumerate(VISITS)]
    f = pd.DataFrame(rows, columns=["ARM", "AVISIT", "estimate"])
    f["conf_low"], f["conf_high"] = f["estimate"] - 2, f["estimate"] + 3
    f["ARM"] = pd.Categorical(f["ARM"], categories=ARMS)
    f["AVISIT"] = pd.Categorical(f["AVISIT"], categories=VISITS)
    return f.iloc[::-1].reset_index(drop=True)  # order of rows must not matter


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _line_ydata(ax):
    """y of the data lines (not the error-bar caps, drawn as '_' markers)."""
    return [tuple(np.asarray(line.get_ydata(), float).tolist()) for line in ax.get_lines() if line.get_marker() != "_"]


def test_plot_lsmeans_draws_the_estimates_in_visit_order(lsm):
    fig = Figure()
    ax = fig.subplots()
    out = plot_lsmeans(lsm, ax=ax, labels={"PLACEBO": "Placebo", "EXOSOME": "Exo $x$"})
    assert out is ax
    # arms in level order, then the dashed zero line
    assert _line_ydata(ax) == [(1.0, 2.0, 3.0), (11.0, 12.0, 13.0), (0.0, 0.0)]
    assert [t.get_text() for t in ax.get_xticklabels()] == VISITS
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Placebo", r"Exo \$x\$"]
    # error bars from conf_low / conf_high: the caps sit at estimate - 2 and + 3
    caps = sorted({round(float(y), 6) for line in ax.get_lines() if line.get_marker() == "_" for y in line.get_ydata()})
    assert caps == sorted({e + d for e in [1, 2, 3, 11, 12, 13] for d in (-2, 3)})


def test_plot_lsmeans_accepts_a_fit_and_makes_its_own_axes(lsm):
    class Fit:
        def lsmeans(self, spec, by):
            assert (spec, by) == ("ARM", "AVISIT")
            return lsm

    ax = plot_lsmeans(Fit(), zero_line=False)
    assert ax.figure is not None and _line_ydata(ax) == [(1.0, 2.0, 3.0), (11.0, 12.0, 13.0)]


def test_plot_lsmeans_requires_the_columns(lsm):
    with pytest.raises(ValueError, match="lacks column.*conf_high"):
        plot_lsmeans(lsm.drop(columns="conf_high"))


def test_plot_observed_means(lsm):
    obs = lsm.rename(columns={"estimate": "mean"})
    ax = plot_observed_means(obs, ylabel="Observed")
    assert _line_ydata(ax) == [(1.0, 2.0, 3.0), (11.0, 12.0, 13.0)]
    assert ax.get_ylabel() == "Observed"


def test_plot_missing_pattern_cells():
    f = pd.DataFrame({"ARM": ["PLACEBO", "PLACEBO", "EXOSOME", "EXOSOME"], "AVISIT": ["WEEK 4", "WEEK 12"] * 2,
                      "pct_missing": [0.0, 25.0, 10.0, 50.0], "n_missing": [0, 1, 1, 5], "n_expected": [4, 4, 10, 10]})
    ax = plot_missing_pattern(f)
    img = ax.get_images()[0].get_array()
    assert np.allclose(np.asarray(img), [[0.0, 25.0], [10.0, 50.0]])
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["0%\n0/4", "25%\n1/4", "10%\n1/10", "50%\n5/10"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["PLACEBO", "EXOSOME"]


def test_plot_forest_rows_top_to_bottom_and_heading_rows():
    f = pd.DataFrame({
        "label": ["Overall", "Sex", "Sex: F", "Sex: M"],
        "estimate": [1.0, np.nan, 2.0, -1.0], "conf_low": [0.0, np.nan, 1.0, -3.0], "conf_high": [2.0, np.nan, 3.0, 1.0],
    })
    ax = plot_forest(f, xlabel="Difference")
    ticks = dict(zip([t.get_text() for t in ax.get_yticklabels()], ax.get_yticks()))
    assert ticks["Overall"] > ticks["Sex"] > ticks["Sex: F"] > ticks["Sex: M"]
    points = [line for line in ax.get_lines() if line.get_linestyle() == "None"][0]
    assert list(points.get_xdata()) == [1.0, 2.0, -1.0]  # the heading row is not drawn
    segs = ax.collections[0].get_segments()
    assert [(s[0][0], s[1][0]) for s in segs] == [(0.0, 2.0), (1.0, 3.0), (-3.0, 1.0)]
    assert ax.get_xlabel() == "Difference"


def test_plot_forest_groups_side_by_side():
    f = pd.DataFrame({"label": ["A", "A", "B", "B"], "ARM": ["EXO", "MIN", "EXO", "MIN"],
                      "estimate": [1.0, 2.0, 3.0, 4.0], "conf_low": [0.0] * 4, "conf_high": [5.0] * 4})
    ax = plot_forest(f, group="ARM", labels={"EXO": "Exosome", "MIN": "Minoxidil"})
    pts = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert [list(p.get_xdata()) for p in pts] == [[1.0, 3.0], [2.0, 4.0]]
    ys = [list(p.get_ydata()) for p in pts]
    assert ys[0][0] != ys[1][0]  # dodged within the row
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Exosome", "Minoxidil"]
