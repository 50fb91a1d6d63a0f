"""Section 12 — Reproducibility appendix (built last: it lists every table of the report)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..manifest import dependency_versions, input_hashes, rebuild_command, table_rows
from ..tables import fmt_int
from ._analysis import Analysis, section_of, single_step, table

KEY = "appendix"
TITLE = "Reproducibility appendix"
#: Sections whose results this one reads (the registry computes them first).
NEEDS = ("summary", "methods", "disposition", "baseline", "primary", "durability", "relapse",
         "longterm", "subgroups", "safety", "hypotheses")


def analyse(ctx):
    """Frames ``appendix_inputs`` (input files and their SHA-256), ``appendix_input_rows``,
    ``appendix_output_rows`` (every report table and the ARD files), ``appendix_versions``,
    ``appendix_seeds`` and ``appendix_command`` (the command that rebuilds the report)."""
    trial, plan = ctx.trial, ctx.plan
    folder = ctx.results["ard_dir"]
    hashes = input_hashes(trial, ctx.results.get("plan_path"))
    out = [{"section": sec.title, "table": t.name, "rows": len(t.data), "csv": f"{folder}/{t.name}.csv"}
           for sec in ctx.sections.values() for t in sec.tables]
    out.append({"section": TITLE, "table": "appendix_*", "rows": len(hashes), "csv": f"{folder}/appendix_*.csv"})
    for name in ("ard.csv", "ard.parquet"):  # rows filled below, once this section's frames exist
        out.append({"section": "Analysis results data: every table above as one long table", "table": "ard",
                    "rows": None, "csv": f"{folder}/{name}"})
    gen = (getattr(trial.meta, "extra", {}) or {}).get("generator")
    seeds = [{"what": "analysis plan seed", "seed": str(plan.seed)}]
    if isinstance(gen, dict) and "seed" in gen:
        seeds.append({"what": f"data generator ({gen.get('function', 'simulator')})", "seed": str(gen["seed"])})
    elif "seed" in (getattr(trial.meta, "extra", {}) or {}):
        seeds.append({"what": "trial.toml seed", "seed": str(trial.meta.extra["seed"])})
    frames = {
        "appendix_inputs": hashes,
        "appendix_input_rows": table_rows(trial),
        "appendix_output_rows": pd.DataFrame(out, columns=["section", "table", "rows", "csv"]),
        "appendix_versions": dependency_versions(),
        "appendix_seeds": pd.DataFrame(seeds),
        "appendix_command": pd.DataFrame({"command": [rebuild_command(trial, ctx.results["out_path"])]}),
    }
    # rows of ard.csv / ard.parquet: one per cell of every frame (a frame without rows: one per
    # column), this section's included; the count does not change the shape it counts
    every = [f for an in ctx.analyses.values() for f in an.frames.values()] + list(frames.values())
    n_ard = sum(len(f.columns) * max(len(f), 1) for f in every if f is not None and len(f.columns))
    rows = frames["appendix_output_rows"]
    rows["rows"] = rows["rows"].where(rows["table"] != "ard", n_ard).astype("int64")
    return Analysis(KEY, frames)


def render(a, view):
    """The appendix from the frames of :func:`analyse` (or read back from the ARD)."""
    hashes, rows, ot = a.frame("appendix_inputs"), a.frame("appendix_input_rows"), a.frame("appendix_output_rows")
    vers, sd = a.frame("appendix_versions"), a.frame("appendix_seeds")
    tables = [
        table("appendix_inputs", "Input files and their SHA-256", a, hashes.astype(str)),
        table("appendix_input_rows", "Rows per input table", a,
              pd.DataFrame({"Table": rows["table"], "Rows": [fmt_int(v) for v in rows["rows"]], "Columns": [fmt_int(v) for v in rows["columns"]]}, dtype=object)),
        table("appendix_output_rows", "Rows per report table (each also written as CSV), and of the long analysis results data (ard.csv, ard.parquet)", a,
              pd.DataFrame({"Section": ot["section"], "Table": ot["table"], "Rows": [fmt_int(v) for v in ot["rows"]], "File": ot["csv"]}, dtype=object)),
        table("appendix_versions", "Software versions (trialstats, Python and every dependency)", a, vers.astype(str)),
        table("appendix_seeds", "Seeds", a, sd.astype(str)),
    ]
    paras = [
        "Command that rebuilds this report:",
        "$ " + str(a.frame("appendix_command")["command"].iloc[0]),
        "The report is deterministic: the same inputs, plan and software give a byte-identical file "
        "(no build time is printed unless SOURCE_DATE_EPOCH is set). The plan executed is printed at "
        "the end of this section.",
    ]
    return replace(section_of(a, TITLE, paragraphs=paras, tables=tables), preformatted=view.plan.to_toml())


#: the older single-step contract (``compute(ctx) -> Section``), kept for one release
compute = single_step(analyse, render)
