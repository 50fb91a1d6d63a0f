"""trialstats.design.report and ``trialstats design``: deterministic, escaped, self-contained."""

from __future__ import annotations

import re

import matplotlib
import pandas as pd
import pytest
from design_util import TWO_VISIT_PLAN, make_spec, two_visit

import trialstats as ts
from trialstats.cli import main
from trialstats.design.report import render_report, write_report

matplotlib.use("Agg")


def design(name="alt <b>&</b>"):
    return {"title": "Trial <script>alert(1)</script>", "seed": 2, "replicates": 8,
            "n_per_arm": [10, 20, 30], "chunk_size": 4,
            "scenarios": [two_visit("null", 0.0, null=True), two_visit(name, 7.0)],
            "targets": {"power": {"H1": 0.8}, "fwer": 0.05}}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    spec = make_spec(tmp_path_factory.mktemp("rep"), design(), TWO_VISIT_PLAN)
    return ts.design.run(spec, progress=False)


def test_report_is_deterministic_and_escaped(result):
    html = render_report(result)
    assert html == render_report(result)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "alt &lt;b&gt;&amp;&lt;/b&gt;" in html
    assert html.count("<svg") == 1 and "<h2>4. Type I error</h2>" in html
    # self-contained: nothing fetched (the SVG namespace URI is an identifier, not a fetch)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "<script" not in html


def test_write_report_writes_html_and_parquet_tables(result, tmp_path):
    out = write_report(result, tmp_path / "d.html", png=True)
    assert out.read_text(encoding="utf-8") == render_report(result)
    ard = tmp_path / "d_ard"
    reps = pd.read_parquet(ard / "replicates.parquet")
    pd.testing.assert_frame_equal(reps, result.replicates)
    for name in ("summary", "fwer", "sample_size", "curves"):
        assert (ard / f"{name}.parquet").is_file()
    assert (ard / "power_H1.png").stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp"))


def test_summary_tables_have_the_documented_columns(result):
    assert list(result.summary.columns[:3]) == ["scenario", "n_per_arm", "hypothesis"]
    for col in ("rejection_rate", "mc_se", "bias", "coverage", "empirical_se", "mean_model_se",
                "convergence_rate", "fallback_rate"):
        assert col in result.summary.columns
    assert set(result.fwer["scenario"]) == {"null"}
    assert list(result.sample_size["hypothesis"]) == ["H1"]


def test_plot_power_curve_returns_axes(result):
    from trialstats.plots import plot_power_curve

    ax = plot_power_curve(result, "H1")
    assert ax.get_xlabel() == "subjects per arm"
    matplotlib.pyplot.close(ax.figure)


def test_cli_design_writes_the_report(tmp_path, capsys):
    make_spec(tmp_path, design(name="alt"), TWO_VISIT_PLAN)
    (tmp_path / "design.toml").write_text(
        'plan = "sap.toml"\nseed = 2\nreplicates = 50\nn_per_arm = [10, 20]\n'
        '[[scenarios]]\nname = "alt"\nmodel = "normal"\nvisits = [12, 24]\n'
        'mean_difference = [3.0, 6.0]\nsd = 10.0\ncorrelation = 0.5\nretention = 1.0\n')
    out = tmp_path / "o.html"
    assert main(["design", str(tmp_path / "design.toml"), "-o", str(out),
                 "--replicates", "2"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.is_file() and (tmp_path / "o_ard" / "summary.parquet").is_file()


def test_cli_design_reports_every_problem_of_a_bad_spec(tmp_path, capsys):
    (tmp_path / "sap.toml").write_text("")
    (tmp_path / "bad.toml").write_text('plan = "sap.toml"\nseed = -1\nreplicates = 5\n'
                                       'n_per_arm = 30\n[[scenarios]]\nname = "a"\nfoo = 1\n')
    assert main(["design", str(tmp_path / "bad.toml"), "-o", str(tmp_path / "x.html")]) == 2  # bad input (cli exit codes)
    err = capsys.readouterr().err
    assert "2 problems in design 'bad.toml'" in err
    assert "seed: must be an integer >= 0; got -1" in err
    assert "scenarios[0].foo: unknown parameter of model 'trial'" in err
