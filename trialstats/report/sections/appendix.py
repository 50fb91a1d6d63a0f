"""Section 12 — Reproducibility appendix (built last: it lists every table of the report)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..manifest import dependency_versions, input_hashes, rebuild_command, table_rows
from ..tables import fmt_int
from ._base import Parts, Table

KEY = "appendix"
TITLE = "Reproducibility appendix"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ("summary", "methods", "disposition", "baseline", "primary", "durability", "relapse",
         "longterm", "subgroups", "safety", "hypotheses")


def compute(ctx):
    trial, plan = ctx.trial, ctx.plan
    p = Parts()
    hashes = input_hashes(trial, ctx.results.get("plan_path"))
    p.tables.append(Table("appendix_inputs", "Input files and their SHA-256", hashes, hashes.astype(str)))
    rows = table_rows(trial)
    p.tables.append(Table("appendix_input_rows", "Rows per input table", rows,
                          pd.DataFrame({"Table": rows["table"], "Rows": [fmt_int(v) for v in rows["rows"]], "Columns": [fmt_int(v) for v in rows["columns"]]}, dtype=object)))
    out = []
    for sec in ctx.sections.values():
        for t in sec.tables:
            out.append({"section": sec.title, "table": t.name, "rows": len(t.data), "csv": f"{ctx.results['ard_dir']}/{t.name}.csv"})
    out.append({"section": TITLE, "table": "appendix_*", "rows": len(hashes), "csv": f"{ctx.results['ard_dir']}/appendix_*.csv"})
    ot = pd.DataFrame(out, columns=["section", "table", "rows", "csv"])
    p.tables.append(Table("appendix_output_rows", "Rows per report table (each also written as CSV, the analysis results data)", ot,
                          pd.DataFrame({"Section": ot["section"], "Table": ot["table"], "Rows": [fmt_int(v) for v in ot["rows"]], "CSV": ot["csv"]}, dtype=object)))
    vers = dependency_versions()
    p.tables.append(Table("appendix_versions", "Software versions (trialstats, Python and every dependency)", vers, vers.astype(str)))
    gen = (getattr(trial.meta, "extra", {}) or {}).get("generator")
    seeds = [{"what": "analysis plan seed", "seed": str(plan.seed)}]
    if isinstance(gen, dict) and "seed" in gen:
        seeds.append({"what": f"data generator ({gen.get('function', 'simulator')})", "seed": str(gen["seed"])})
    elif "seed" in (getattr(trial.meta, "extra", {}) or {}):
        seeds.append({"what": "trial.toml seed", "seed": str(trial.meta.extra["seed"])})
    sd = pd.DataFrame(seeds)
    p.tables.append(Table("appendix_seeds", "Seeds", sd, sd.astype(str)))
    cmd = rebuild_command(trial, ctx.results["out_path"])
    p.paragraphs.append("Command that rebuilds this report:")
    p.paragraphs.append("$ " + cmd)
    p.paragraphs.append(
        "The report is deterministic: the same inputs, plan and software give a byte-identical file "
        "(no build time is printed unless SOURCE_DATE_EPOCH is set). The plan executed is printed at "
        "the end of this section."
    )
    return replace(p.section(KEY, TITLE), preformatted=plan.to_toml())
