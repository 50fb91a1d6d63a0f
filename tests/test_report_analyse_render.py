"""Sections as ``analyse(trial, plan) -> ARD`` and ``render(ARD) -> HTML`` (issue 8, item 2).

The proof that the report is rendered from its analysis results data: the frames read back from
the ``ard.parquet`` the build wrote render the same HTML, byte for byte. Also: the long ARD keeps
every cell with its type, and a section written in the older single-``compute`` style still runs.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import trialstats as ts
from trialstats.report import build as build_mod
from trialstats.report.ard_long import frames_from_ard, long_ard, parquet_bytes
from trialstats.report.sections._analysis import Analysis, View, run_section
from trialstats.report.sections._base import Section, Table

HERE = Path(__file__).parent
REAL = HERE / "data" / "real"


@pytest.fixture(scope="module")
def colon_built(tmp_path_factory):
    trial = ts.load_trial(REAL / "colon")
    out = tmp_path_factory.mktemp("colon_ar") / "colon.html"
    html, ctx, _ = build_mod.render_report(trial, out)
    return trial, html, ctx


def _rerender_from_parquet(trial, ctx) -> tuple[str, list[str]]:
    """The report's HTML with every analyse/render section rendered again from the frames
    read back from ard.parquet (figures, failures and notes as the build made them)."""
    ard = long_ard(ctx.analyses[m.KEY] for m in build_mod.SECTIONS if m.KEY in ctx.analyses)
    ard = pd.read_parquet(io.BytesIO(parquet_bytes(ard)))
    view = View.of(ctx)
    sections, rerendered = [], []
    with matplotlib.rc_context(build_mod.RC):  # render draws the figures made from frames
        for mod in build_mod.SECTIONS:
            sec = ctx.sections[mod.KEY]
            if hasattr(mod, "analyse") and mod.KEY in ctx.analyses and not (sec.not_applicable or sec.error):
                a = ctx.analyses[mod.KEY]
                # only the frames read back, the failures and the notes: render draws every figure
                assert a.figures == (), mod.KEY
                back = Analysis(mod.KEY, frames_from_ard(ard, mod.KEY), (), a.failures, a.notes)
                # the build adds the warnings raised while the section ran as notes
                sec = replace(mod.render(back, view), notes=sec.notes)
                rerendered.append(mod.KEY)
            sections.append(sec)
        rendered = [build_mod._render_figures(s, i + 1) for i, s in enumerate(sections)]
    return build_mod._render_html(trial, ctx.plan, rendered, ctx), rerendered


def test_render_from_ard_parquet_gives_the_same_html(colon_built):
    trial, html, ctx = colon_built
    again, rerendered = _rerender_from_parquet(trial, ctx)
    # every section that ran was rendered again from the ARD (colon: no ADEFF, no ADAE)
    ran = [k for k, s in ctx.sections.items() if not s.not_applicable]
    assert sorted(rerendered) == sorted(ran) and "relapse" in ran
    assert again == html


def test_render_from_ard_of_a_trial_with_every_section(tmp_path):
    # the simulated trial has interval bounds and a competing event: every frame kind is read back
    trial = ts.simulate_trial(n_per_arm=40, seed=5)
    # the bundled plan's estimands (E1 with JR/CIR sensitivity and a tipping point, E2) on the
    # default plan otherwise, so the estimands section runs too
    sap = (HERE.parent / "datasets" / "exo-hair-301" / "sap.toml").read_text(encoding="utf-8")
    plan = tmp_path / "sap.toml"
    plan.write_text(sap[sap.index("[[estimands]]"):], encoding="utf-8")
    html, ctx, _ = build_mod.render_report(trial, tmp_path / "sim.html", plan=plan)
    # these sections' figures are drawn by render from their frames, not passed along
    for key in ("primary", "durability", "relapse", "longterm", "subgroups"):
        assert ctx.analyses[key].figures == () and ctx.sections[key].figures, key
    assert [f.name for f in ctx.sections["relapse"].figures] == ["relapse_km", "relapse_loglog", "relapse_cif"]
    again, rerendered = _rerender_from_parquet(trial, ctx)
    assert sorted(rerendered) == sorted(m.KEY for m in build_mod.SECTIONS)  # all thirteen ran
    assert ctx.sections["estimands"].figures and "estimands_tipping_delta_E1" in ctx.analyses["estimands"].frames
    assert "relapse_gray" in ctx.analyses["relapse"].frames
    assert again == html


def test_long_ard_round_trips_every_cell_and_type():
    frames = {
        "t": pd.DataFrame({"ARM": ["A", "B", None], "n": np.array([1, 2, 3], dtype=np.int64),
                           "x": [0.1, np.nan, 1e300], "ok": [True, False, True],
                           "mixed": ["a", 1.5, None], "cat": pd.Categorical(["u", "v", "u"])}),
        "empty": pd.DataFrame({"term": pd.Series(dtype=object), "p_value": pd.Series(dtype=float)}),
    }
    ard = long_ard([Analysis("sec", frames)])
    back = frames_from_ard(pd.read_parquet(io.BytesIO(parquet_bytes(ard))), "sec")
    assert list(back) == ["t", "empty"]
    t = back["t"]
    assert list(t.columns) == ["ARM", "n", "x", "ok", "mixed", "cat"]
    assert t["n"].dtype == np.int64 and t["ok"].dtype == bool
    assert_frame_equal(t[["n", "x", "ok"]], frames["t"][["n", "x", "ok"]])
    assert list(t["ARM"]) == ["A", "B", None]
    assert list(t["mixed"]) == ["a", 1.5, None]
    assert list(t["cat"]) == ["u", "v", "u"]
    assert list(back["empty"].columns) == ["term", "p_value"] and back["empty"].empty
    # numbers in `stat`, words in `text`, the arm of each row in `arm`
    n = ard[(ard["table"] == "t") & (ard["stat_name"] == "n")]
    assert list(n["stat"]) == [1.0, 2.0, 3.0] and list(n["arm"]) == ["A", "B", ""]
    assert set(ard.loc[ard["stat_name"] == "ARM", "text"]) == {"A", "B", ""}


class _OldStyle:
    """A section written in the older single-compute style (kept for one release)."""

    KEY = "old"
    TITLE = "Old style"
    NEEDS = ()

    @staticmethod
    def compute(ctx):
        data = pd.DataFrame({"ARM": ["A"], "estimate": [1.25]})
        disp = pd.DataFrame({"Arm": ["A"], "Estimate": ["1.25"]}, dtype=object)
        return Section(key="old", title="Old style", paragraphs=("text",),
                       tables=(Table("old_t", "caption", data, disp),))


class _NewStyle:
    """The same section as analyse + render."""

    KEY = "old"
    TITLE = "Old style"
    NEEDS = ()

    @staticmethod
    def analyse(ctx):
        return Analysis("old", {"old_t": pd.DataFrame({"ARM": ["A"], "estimate": [1.25]})})

    @staticmethod
    def render(a, view):
        t = a.frame("old_t")
        disp = pd.DataFrame({"Arm": list(t["ARM"]), "Estimate": [f"{v:.2f}" for v in t["estimate"]]}, dtype=object)
        return Section(key="old", title="Old style", paragraphs=("text",),
                       tables=(Table("old_t", "caption", t, disp),))


def test_old_compute_style_still_runs_and_feeds_the_ard():
    ctx = type("Ctx", (), {"trial": None, "plan": None})()
    old_sec, old_a = run_section(_OldStyle, ctx)
    new_sec, new_a = run_section(_NewStyle, ctx)
    assert old_sec.paragraphs == new_sec.paragraphs
    assert_frame_equal(old_sec.tables[0].display, new_sec.tables[0].display)
    assert_frame_equal(long_ard([old_a]), long_ard([new_a]))


def test_km_figure_number_at_risk_uses_the_table_grid(colon_built):
    _, _, ctx = colon_built
    a = ctx.analyses["relapse"]
    for pre in ("tte", "tte_death"):
        table = a.frames[f"{pre}_at_risk"]
        fig = next(f.figure for f in ctx.sections["relapse"].figures if f.name == f"{pre}_km")
        ax = fig.axes[0]
        grid = sorted(table["time"].unique())
        assert list(ax.get_xticks()) == grid  # yearly: 0, 365, ..., 3285 days
        # the numbers drawn under the axis, arm by arm, are the table's n_risk
        drawn = [int(t.get_text()) for t in ax.texts if t.get_text().isdigit()]
        assert drawn == [int(v) for v in table["n_risk"]]


class _AnalyseRenderInsideCompute:
    """The style of sections/estimands.py on h/estimands: analyse(trial, plan) and
    render(results, labels) of its own signatures, run by its own compute(ctx)."""

    KEY = "old"
    TITLE = "Old style"
    NEEDS = ()

    @staticmethod
    def analyse(trial, plan):
        return {"estimate": 1.25}

    @staticmethod
    def render(results, labels):
        return _OldStyle.compute(None)

    @classmethod
    def compute(cls, ctx):
        return cls.render(cls.analyse(ctx.trial, ctx.plan), {})


def test_a_compute_of_its_own_runs_even_beside_analyse_and_render():
    ctx = type("Ctx", (), {"trial": None, "plan": None})()
    sec, a = run_section(_AnalyseRenderInsideCompute, ctx)
    assert sec.paragraphs == ("text",) and list(a.frames) == ["old_t"]


def test_appendix_lists_the_ard_files_with_their_rows(tmp_path):
    from trialstats.report.build import build

    out = tmp_path / "colon.html"
    build(ts.load_trial(REAL / "colon"), out)
    folder = tmp_path / "colon_ard"
    rows = pd.read_csv(folder / "appendix_output_rows.csv")
    ard_rows = rows[rows["table"] == "ard"]
    assert list(ard_rows["csv"]) == ["colon_ard/ard.csv", "colon_ard/ard.parquet"]
    n = len(pd.read_parquet(folder / "ard.parquet"))
    assert len(pd.read_csv(folder / "ard.csv", keep_default_na=False)) == n
    assert set(ard_rows["rows"]) == {n}
    assert "colon_ard/ard.parquet" in out.read_text(encoding="utf-8")
