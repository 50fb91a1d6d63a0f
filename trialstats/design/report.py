"""The design report: one self-contained, deterministic HTML file plus Parquet tables.

``write_report(result, "design.html")`` writes ``design.html`` (assumptions, power curve per
hypothesis with Monte-Carlo bands as inline SVG, chosen n, type I error table, operating
characteristics) and ``design_ard/`` holding ``replicates.parquet``, ``summary.parquet``,
``fwer.parquet``, ``sample_size.parquet`` and ``curves.parquet``. No clock, no network:
the same result gives a byte-identical file. Every text value is escaped by Jinja2
(autoescape); only matplotlib's own SVG is inserted as markup.
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path

import pandas as pd

__all__ = ["render_report", "write_report"]

_RC = {"svg.hashsalt": "trialstats-design", "svg.fonttype": "none", "font.family": "DejaVu Sans",
       "font.size": 9.0, "figure.dpi": 100, "savefig.bbox": "tight", "axes.spines.top": False,
       "axes.spines.right": False}

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="trialstats {{ version }}">
<title>{{ title }}</title>
<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.85rem}
th,td{border-bottom:1px solid #ccc;padding:.2rem .55rem;text-align:right}
th{background:#f2f2f2}td.l,th.l{text-align:left}
.note{color:#555;font-size:.85rem}figure{margin:1rem 0}figcaption{font-size:.85rem;color:#444}
.bad{color:#a40000;font-weight:bold}
</style></head><body>
<h1>{{ title }}</h1>
<p class="note">Design file {{ source }}; seed {{ seed }}; {{ replicates }} replicates per
scenario and sample size; fingerprint {{ fingerprint[:16] }}; trialstats {{ version }}.</p>
<h2>1. Chosen sample size</h2>
{% if chosen %}<p>{% for c in chosen %}Scenario <b>{{ c.scenario }}</b>: <b>{{ c.n }}</b>
subjects per arm ({{ c.why }}).<br>{% endfor %}</p>{% else %}
<p>No power target was set, or no target is reached within the grid.</p>{% endif %}
{{ tables.sample_size }}
<p class="note">{{ method_note }}</p>
<h2>2. Assumptions</h2>
{{ tables.scenarios }}
<p>Analysis of each simulated trial (plan {{ plan_source }}): MMRM <code>{{ formula }}</code>,
covariance tried in order {{ covariance }}, {{ df }} degrees of freedom, {{ method }};
hypotheses tested by {{ strategy }} at two-sided alpha {{ alpha }}; {{ level }} confidence
intervals.{% if nonresponders == "composite" %} Relapse: non-responders at the end of treatment
count as relapsed at day 0 (composite strategy for that intercurrent event).{% endif %}</p>
{{ tables.hypotheses }}
<h2>3. Power curves</h2>
{% for f in figures %}<figure>{{ f.svg }}<figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}
<h2>4. Type I error</h2>
{% if tables.fwer %}{{ tables.fwer }}{% else %}<p>No null scenario in the design.</p>{% endif %}
<h2>5. Operating characteristics</h2>
{{ tables.summary }}
<p class="note">Rejection rate after the multiplicity adjustment (power under an alternative,
type I error under a null), with its Monte-Carlo SE and Wilson interval. Bias, coverage: against
the scenario's true value where the model gives one (blank otherwise). Empirical SE: SD of the
estimates; model SE: mean of their standard errors. Fallback: share of replicates whose MMRM
needed a covariance structure after the first.</p>
</body></html>
"""


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.{digits}f}" if not v.is_integer() or digits == 3 else f"{v:.0f}"
    return str(v)


def _table(df: pd.DataFrame, columns: dict[str, str], digits: dict | None = None):
    """An escaped HTML table of ``df``'s ``columns`` (name -> header)."""
    from markupsafe import Markup, escape

    digits = digits or {}
    head = "".join(f'<th class="{"l" if df[c].dtype == object else ""}">{escape(h)}</th>'
                   for c, h in columns.items())
    body = []
    for _, r in df.iterrows():
        cells = "".join(
            f'<td class="{"l" if df[c].dtype == object else ""}">'
            f"{escape(_fmt(r[c].item() if hasattr(r[c], 'item') else r[c], digits.get(c, 3)))}"
            "</td>" for c in columns)
        body.append(f"<tr>{cells}</tr>")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _svg(fig, prefix: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                             "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return svg.replace("url(#", f"url(#{prefix}-").replace('href="#', f'href="#{prefix}-')


def _figures(result, png_dir: Path | None) -> list[dict]:
    import matplotlib
    from markupsafe import Markup
    from matplotlib.figure import Figure

    from ..plots.design import plot_power_curve

    out = []
    hyps = list(dict.fromkeys(result.summary["hypothesis"]))
    with matplotlib.rc_context(_RC):
        for k, hid in enumerate(hyps):
            fig = Figure(figsize=(6.4, 3.6))
            ax = fig.add_subplot()
            plot_power_curve(result, hid, ax=ax)
            row = result.summary[result.summary["hypothesis"] == hid].iloc[0]
            ax.set_title(f"{hid}: {row['endpoint']}, {row['arm']} ({row['measure']})", loc="left")
            if png_dir is not None:
                fig.savefig(png_dir / f"power_{hid}.png", dpi=110, metadata={"Software": None})
            out.append({"svg": Markup(_svg(fig, f"f{k + 1}")),
                        "caption": f"Figure {k + 1}. Power of {hid} against subjects per arm: "
                                   "simulated rejection rates with Monte-Carlo intervals, the "
                                   "fitted curve with its band, the target (dashed) and the "
                                   "chosen n (dotted)."})
    return out


def _chosen(result) -> list[dict]:
    ss = result.sample_size.dropna(subset=["n_chosen"])
    out = []
    for sc, g in ss.groupby("scenario", sort=False):
        top = g.loc[g["n_chosen"].idxmax()]
        out.append({"scenario": sc, "n": int(top["n_chosen"]),
                    "why": f"the largest over hypotheses {', '.join(g['hypothesis'])}; "
                           f"set by {top['hypothesis']}"})
    return out


def render_report(result, *, png_dir: str | Path | None = None) -> str:
    """The design report as HTML text (deterministic).

    Parameters
    ----------
    result : DesignResult
    png_dir : path, optional
        Also write each power curve as ``power_<id>.png`` there (for looking at them).

    Returns
    -------
    str
    """
    import jinja2

    from .. import __version__
    from .models import scenario_arms
    from .spec import hypothesis_ids

    spec, plan = result.spec, result.spec.plan
    scen = pd.DataFrame([{
        "name": s.name, "model": s.model,
        "null": ("all hypotheses" if s.null and not s.null_hypotheses
                 else ", ".join(s.null_hypotheses) if s.null else "no"),
        "params": (f"estimated from trial {s.from_trial}: " if s.from_trial else "")
                  + ("; ".join(f"{k} = {v}" for k, v in sorted(s.params.items())) or "defaults"),
        "grid": ", ".join(map(str, spec.n_per_arm))} for s in spec.scenarios])
    first = spec.scenarios[0]
    hyp = pd.DataFrame([{"id": h, "endpoint": e, "arm": a,
                         "target": spec.power_targets.get(h, math.nan)}
                        for h, e, a in hypothesis_ids(plan, scenario_arms(first.model,
                                                                          first.params))])
    summ = result.summary
    tables = {
        "scenarios": _table(scen, {"name": "Scenario", "model": "Model", "null": "Null for",
                                   "params": "Parameters", "grid": "n per arm"}),
        "hypotheses": _table(hyp, {"id": "Hypothesis", "endpoint": "Endpoint", "arm": "Arm",
                                   "target": "Power target"}),
        "sample_size": _table(result.sample_size, {
            "scenario": "Scenario", "hypothesis": "Hypothesis", "target": "Target",
            "n_point": "n (fitted power reaches target)",
            "n_chosen": "n (lower limit reaches target)", "fitted_power": "Fitted power at n",
            "method": "Method"}, {"n_point": 0, "n_chosen": 0}),
        "fwer": _table(result.fwer, {
            "scenario": "Null scenario", "n_per_arm": "n per arm", "n_replicates": "Replicates",
            "fwer": "Family-wise error", "mc_se": "MC SE", "conf_low": "Lower",
            "conf_high": "Upper", "target": "Target", "meets_target": "Consistent with target"},
        ) if len(result.fwer) else "",
        "summary": _table(summ, {
            "scenario": "Scenario", "n_per_arm": "n", "hypothesis": "H",
            "rejection_rate": "Rejection rate", "mc_se": "MC SE", "conf_low": "Lower",
            "conf_high": "Upper", "rejection_rate_unadjusted": "Unadjusted",
            "true_value": "True value", "bias": "Bias", "empirical_se": "Empirical SE",
            "mean_model_se": "Model SE", "coverage": "Coverage",
            "convergence_rate": "Converged", "fallback_rate": "Fallback"}),
    }
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        title=spec.title, source=spec.source, seed=spec.seed, replicates=spec.replicates,
        fingerprint=spec.fingerprint(), version=__version__, chosen=_chosen(result),
        tables=tables, figures=_figures(result, Path(png_dir) if png_dir else None),
        plan_source=plan.source, formula=plan.mmrm.formula,
        covariance=" → ".join(plan.mmrm.covariance), df=plan.mmrm.df, method=plan.mmrm.method,
        strategy=plan.strategy, nonresponders=spec.nonresponders, alpha=f"{plan.alpha:g}", level=f"{100 * plan.level:g} %",
        method_note=("Sample size: power modelled as Φ(a + b√n), a binomial GLM with probit "
                     "link fitted to the rejection counts over the grid; the chosen n is the "
                     f"smallest whose lower {100 * plan.level:g} % limit reaches the target, "
                     "so Monte-Carlo error is accounted for. Not extrapolated beyond the grid."))


def write_report(result, path: str | Path, *, png: bool = False) -> Path:
    """Write the HTML report to ``path`` and the tables to ``<stem>_ard/`` (Parquet).

    Parameters
    ----------
    result : DesignResult
    path : path
        Output HTML file; written to a temporary name, then renamed.
    png : bool, default False
        Also write the power curves as PNG files into ``<stem>_ard/``.

    Returns
    -------
    Path
        The HTML file.
    """
    path = Path(path)
    ard = path.with_name(path.stem + "_ard")
    ard.mkdir(parents=True, exist_ok=True)
    for name in ("replicates", "summary", "fwer", "sample_size", "curves"):
        tmp = ard / f".{name}.parquet.tmp"
        getattr(result, name).to_parquet(tmp, index=False)
        os.replace(tmp, ard / f"{name}.parquet")
    html = render_report(result, png_dir=ard if png else None)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
