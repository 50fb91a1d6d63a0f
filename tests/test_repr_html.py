"""Fits and results render as HTML tables in Jupyter (``_repr_html_``), through the shared Summary.

The check is on structure, not numbers: the HTML holds a ``<table>`` per table of ``summary()``,
its title, and escapes text (no raw ``<`` from data)."""

from html import escape

import pandas as pd
import pytest

import trialstats as ts
from trialstats._summary import Summary


@pytest.fixture(scope="module")
def trial():
    return ts.datasets.load("exo-hair-202")


def _results(trial):
    eff = trial.efficacy("TAHC")
    eff = eff[eff["AVISITN"].between(4, 24)].copy()
    eff["AVISIT"] = eff["AVISIT"].cat.remove_unused_categories()
    tte = trial.analysis_frame("adtte", paramcd="RELAPSE")
    yield "mmrm", ts.mmrm("CHG ~ ARM * AVISIT + BASE", eff, subject="USUBJID", visit="AVISIT", covariance="cs")
    yield "km", ts.kaplan_meier(tte, censor="CNSR")
    yield "logrank", ts.logrank(tte, censor="CNSR")
    yield "cox", ts.cox("ARM", tte, censor="CNSR")
    yield "rmst", ts.rmst(tte, censor="CNSR", tau=180)
    yield "turnbull", ts.turnbull(tte)
    yield "cumulative_incidence", ts.cumulative_incidence(tte)


def test_every_result_renders_its_summary_as_html_tables(trial):
    for name, result in _results(trial):
        summary = result.summary()
        assert isinstance(summary, Summary), name
        html = result._repr_html_()
        n_tables = len(summary.tables) if isinstance(summary.tables, dict) else len(tuple(summary.tables))
        assert html.count("<table") == n_tables >= 1, name
        assert f"<h4>{escape(summary.title)}</h4>" in html, name
        assert html == summary.as_html(), name


def test_summary_html_escapes_text():
    s = Summary("a <b> title", tables={"t<1>": pd.DataFrame({"x": ["<script>"]})})
    html = s._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
