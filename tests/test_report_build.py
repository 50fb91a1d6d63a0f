"""The reproducible trial report (trialstats.report.build): content, CSVs, determinism, escaping.

The report of a small simulated trial is built once per session (``built_report``) and again
for the determinism test; the browser test (test_report_browser.py) reuses ``built_report``.
"""

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import trialstats as ts
from trialstats.report import build as report_build
from trialstats.report.build import SECTIONS, build_report, render_report
from trialstats.report.plan import PlanError
from trialstats.report.sections import disposition, primary, safety
from trialstats.report.sections._base import Parts

N_PER_ARM = 25
SEED = 11
NASTY = "<script>alert(\"x&y\")</script> 'q'"


def _build(tmp_path_factory, name):
    trial = ts.simulate_trial(n_per_arm=N_PER_ARM, seed=SEED)
    out = tmp_path_factory.mktemp(name) / "sim.html"
    lines = []
    path = build_report(trial, out, progress=lines.append)
    return SimpleNamespace(trial=trial, path=path, html=path.read_text(encoding="utf-8"), progress=lines)


@pytest.fixture(scope="session")
def built_report(tmp_path_factory):
    return _build(tmp_path_factory, "report")


def test_returns_the_path_and_reports_progress_once_per_section(built_report):
    assert built_report.path.is_file()
    assert len(built_report.progress) == len(SECTIONS) == 13
    assert all(isinstance(line, str) and "\n" not in line for line in built_report.progress)


def test_every_section_is_present_in_order_with_a_toc(built_report):
    html = built_report.html
    keys = [m.KEY for m in SECTIONS]
    positions = [html.index(f'<section class="report" id="sec-{k}">') for k in keys]
    assert positions == sorted(positions)
    for i, m in enumerate(SECTIONS, start=1):
        assert f'<a href="#sec-{m.KEY}">{m.TITLE}</a>' in html
        assert f"<h2>{i}. {m.TITLE}</h2>" in html


def test_no_section_failed(built_report):
    failures = re.findall(r'<div class="failure" role="alert">(.*?)</div>', built_report.html, flags=re.S)
    assert failures == []
    # every section ran, except the estimands: a simulated trial's default plan declares none
    assert all(": ok (" in line or ("Estimands and missing data" in line and
                                    "not applicable: the analysis plan declares no estimands" in line)
               for line in built_report.progress), built_report.progress


def test_consort_flow_diagram(built_report):
    html = built_report.html
    flow = html[html.index('<div class="flow"'):html.index('<table id="tbl-disposition">')]
    assert flow.count('<div class="flow-col">') == 3
    assert flow.count("Randomised") == 3 and flow.count("Reasons for discontinuation") <= 3


def test_simulated_banner_is_visible(built_report):
    assert 'id="simulated-banner"' in built_report.html
    assert "SIMULATED DATA" in built_report.html


def test_no_banner_for_real_data(tmp_path):
    trial = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2)
    real = ts.Trial(dataclasses.replace(trial.meta, simulated=False), trial.adsl, trial.adeff, trial.adtte, trial.adae)
    html, _, _ = render_report(real, tmp_path / "r.html", sections=(disposition,))
    assert "simulated-banner" not in html and "SIMULATED DATA" not in html


def test_single_self_contained_file(built_report):
    html = built_report.html
    assert "<link" not in html.lower()
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, flags=re.I)
    assert "http://" not in html and "https://" not in html
    assert "<style>" in html and "@media print" in html
    assert html.count("<svg") == html.count("<figure") >= 9


def test_figures_are_inline_svg_with_unique_ids(built_report):
    ids = re.findall(r'\bid="([^"]+)"', built_report.html)
    assert len(ids) == len(set(ids))


def test_tables_are_written_as_csv(built_report):
    ard = built_report.path.parent / "sim_ard"
    names = re.findall(r'<table id="tbl-([^"]+)">', built_report.html)
    assert len(names) >= 25
    # plus ard.csv: every number of the report in one long table (checked below)
    assert sorted(p.stem for p in ard.glob("*.csv") if p.stem != "ard") == sorted(names)
    rows = pd.read_csv(ard / "appendix_output_rows.csv")
    for _, r in rows[~rows["table"].str.endswith("*")].iterrows():
        assert len(pd.read_csv(ard / f"{r['table']}.csv", keep_default_na=False)) == r["rows"], r["table"]


def test_key_content(built_report):
    html = built_report.html
    # primary: LS means and contrasts at the primary visit, the covariance actually used
    lsm = pd.read_csv(built_report.path.parent / "sim_ard" / "primary_lsmeans.csv")
    assert set(lsm["ARM"]) == {"PLACEBO", "EXOSOME", "MINOXIDIL"}
    assert list(lsm.columns[:4]) == ["ARM", "AVISIT", "estimate", "std_error"]
    att = pd.read_csv(built_report.path.parent / "sim_ard" / "primary_covariance_attempts.csv")
    assert att["outcome"].iloc[-1] == "converged"
    assert f"The covariance structure actually used is {att['covariance'].iloc[-1]}" in html
    # the plan printed, Kenward-Roger sensitivity, extrapolation caveat, risk-difference method
    assert "[mmrm]" in html and "covariance = [&#34;us&#34;, &#34;toeph&#34;, &#34;ar1h&#34;, &#34;cs&#34;]" in html
    assert "Kenward-Roger" in html
    assert "Extrapolation is not evidence." in html
    assert "Newcombe hybrid score" in html
    hyp = pd.read_csv(built_report.path.parent / "sim_ard" / "hypotheses.csv")
    assert list(hyp["id"]) == ["H1", "H2", "H3", "H4"]
    assert hyp["p_value"].notna().all()
    assert (hyp["p_adjusted"] >= hyp["p_value"] - 1e-15).all()


def test_appendix_hashes_versions_and_command(built_report):
    ard = built_report.path.parent / "sim_ard"
    inputs = pd.read_csv(ard / "appendix_inputs.csv")
    assert list(inputs["input"]) == ["adsl", "adeff", "adtte", "adae"]
    assert inputs["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    versions = pd.read_csv(ard / "appendix_versions.csv")
    for pkg in ("Python", "trialstats", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "jinja2"):
        assert pkg.lower() in set(versions["package"].str.lower()), pkg
    seeds = pd.read_csv(ard / "appendix_seeds.csv")
    assert str(SEED) in set(seeds["seed"].astype(str))
    assert '<pre class="cmd">$ python -c' in built_report.html


def test_build_is_byte_identical(built_report, tmp_path_factory):
    # the second build runs in a fresh interpreter with another hash seed (set/dict order)
    out = tmp_path_factory.mktemp("again") / "sim.html"
    code = ("import sys, trialstats as ts; "
            f"ts.build_report(ts.simulate_trial(n_per_arm={N_PER_ARM}, seed={SEED}), sys.argv[1])")
    env = dict(os.environ) | {"PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, cwd=root, timeout=300)
    assert out.read_bytes() == built_report.path.read_bytes()
    csvs = sorted((built_report.path.parent / "sim_ard").glob("*.csv"))
    assert sorted(p.name for p in (out.parent / "sim_ard").glob("*.csv")) == [p.name for p in csvs]
    for csv in csvs:
        assert (out.parent / "sim_ard" / csv.name).read_bytes() == csv.read_bytes(), csv.name


def test_build_time_only_with_source_date_epoch(tmp_path, monkeypatch):
    trial = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    html, _, _ = render_report(trial, tmp_path / "r.html", sections=(disposition,))
    assert "built 20" not in html
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    html2, _, _ = render_report(trial, tmp_path / "r.html", sections=(disposition,))
    assert "built 2023-11-14 22:13 UTC" in html2


def test_failing_section_shows_a_failure_box_and_the_rest_builds(tmp_path, monkeypatch):
    trial = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2)

    def broken(ctx):
        raise ts.ModelError("the MMRM engine exploded <on purpose>")

    monkeypatch.setattr(primary, "compute", broken)
    lines = []
    html, ctx, timings = render_report(trial, tmp_path / "r.html", sections=(disposition, primary, safety), progress=lines.append)
    box = re.search(r'<section class="report" id="sec-primary">.*?<div class="failure" role="alert">(.*?)</div>', html, flags=re.S)
    assert box and "ModelError: the MMRM engine exploded &lt;on purpose&gt;" in box.group(1)
    assert '<table id="tbl-disposition">' in html and '<table id="tbl-safety_teae">' in html
    assert "(failed)" in html  # the table of contents flags it
    assert [t.ok for t in timings] == [True, False, True]
    assert any("FAILED" in line for line in lines)


def test_parts_attempt_records_a_visible_failure():
    p = Parts()
    assert p.attempt("Turnbull", lambda: 1 / 0) is None
    assert p.attempt("ok", lambda: 3) == 3
    assert p.failures == ["Turnbull failed: ZeroDivisionError: division by zero"]
    assert p.section("k", "T").failures == ("Turnbull failed: ZeroDivisionError: division by zero",)


def test_bad_plan_raises_before_building(tmp_path):
    trial = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2)
    with pytest.raises(PlanError, match=r"mmrm\.covariance: unknown covariance 'xx'"):
        build_report(trial, tmp_path / "r.html", plan={"mmrm": {"covariance": "xx"}})
    assert not (tmp_path / "r.html").exists()


def _nasty_trial():
    trial = ts.simulate_trial(n_per_arm=N_PER_ARM, seed=SEED)
    meta = dataclasses.replace(trial.meta, arms={**trial.meta.arms, "EXOSOME": "Exosome " + NASTY})
    ids = {u: f"{u}{NASTY}" if i % 7 == 0 else u for i, u in enumerate(trial.adsl["USUBJID"])}
    frames = {}
    for name in ("adsl", "adeff", "adtte", "adae"):
        f = getattr(trial, name).copy()
        f["USUBJID"] = f["USUBJID"].map(ids)
        frames[name] = f
    ae = frames["adae"]
    ae.loc[ae.index[::3], "AEDECOD"] = "Injection site " + NASTY
    ae.loc[ae.index[:4], "AESER"] = "Y"  # so the nasty subjects appear in the SAE listing
    ae.loc[ae.index[:4], "USUBJID"] = frames["adsl"]["USUBJID"].iloc[0]
    return ts.Trial(meta, frames["adsl"], frames["adeff"], frames["adtte"], frames["adae"])


def test_every_data_string_is_escaped(tmp_path):
    trial = _nasty_trial()
    out = build_report(trial, tmp_path / "nasty.html")
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert 'alert("x&y")' not in html
    escaped = "&lt;script&gt;alert(&#34;x&amp;y&#34;)&lt;/script&gt; &#39;q&#39;"
    assert html.count(escaped) >= 3  # arm label, USUBJID (SAE listing) and AE term, at least
    assert "Exosome " + escaped in html
    assert "Injection site " + escaped in html
    assert trial.adsl["USUBJID"].iloc[0].replace("<", "&lt;").replace(">", "&gt;").split("&lt;")[0] in html
    # the sections that use the labels still built
    assert '<div class="failure"' not in html


def test_report_entry_point_is_public():
    assert ts.build_report is report_build.build_report


def test_fallback_covariance_is_reported(tmp_path, monkeypatch):
    trial = ts.simulate_trial(n_per_arm=8, n_sites=2, seed=5)
    real = ts.mmrm

    def us_fails(formula, data, **kw):
        if kw["covariance"] == "us":
            return SimpleNamespace(converged=False)
        return real(formula, data, **kw)

    monkeypatch.setattr(ts, "mmrm", us_fails)
    html, ctx, _ = render_report(trial, tmp_path / "r.html", sections=(primary,))
    assert ctx.results["primary_covariance"] == "toeph"
    assert ("The covariance structure actually used is toeph (fallback: the earlier structures of the "
            "plan did not converge: us: did not converge).") in html
    assert "MMRM, toeph, satterthwaite" in html


def test_sap_toml_of_the_trial_folder_is_executed_printed_and_hashed(tmp_path):
    from trialstats.report.sections import appendix, methods

    folder = ts.simulate_trial(n_per_arm=6, n_sites=2, seed=2).write(tmp_path / "trial")
    (folder / "sap.toml").write_text('[multiplicity]\nstrategy = "holm"\nalpha = 0.025\n')
    trial = ts.load_trial(folder)
    out = tmp_path / "out" / "t.html"
    html, ctx, _ = render_report(trial, out, sections=(disposition, methods, appendix))
    assert "analysis plan: sap.toml" in html
    assert 'strategy = &#34;holm&#34;' in html and "alpha = 0.025" in html
    inputs = ctx.sections["appendix"].tables[0].data
    assert list(inputs["file"]) == ["trial.toml", "adsl.csv", "adeff.csv", "adtte.csv", "adae.csv", "sap.toml"]
    from trialstats.report.manifest import sha256_file

    assert inputs.set_index("file").loc["sap.toml", "sha256"] == sha256_file(folder / "sap.toml")
    # issue 13: an absolute trial folder is recorded by its name only (never an absolute path)
    assert "$ python -m trialstats report trial -o t.html" in html
    assert str(tmp_path) not in html
