"""Benchmark of loading and validating a large trial: ts.load_trial on a synthetic 1 M-row and
10 M-row ADEFF, against pandas.read_csv of the same files (the peer).

``run(sizes)`` writes a synthetic trial folder per size into a temporary folder (ADSL with one
row per subject, ADEFF with ten visits per subject: baseline and nine post-baseline visits,
AVAL / BASE / CHG consistent), then measures, each in a fresh subprocess so that peak memory
belongs to the measured step only:

* ``ts.load_trial(folder)`` (read + validate): wall time, peak resident memory above the
  process's memory after imports, as a ratio to the CSV bytes on disk (target: <= 3) and the
  rows per second (target for 1 M rows: well under 30 s);
* the peer, ``pandas.read_csv`` of adsl.csv and adeff.csv with default options (no validation).

Each subprocess first reads a 2,000-row folder, so one-off costs (lazy imports, Arrow's thread
pools) are not counted as the step's memory.

Peak memory is the resident high-water mark (``VmHWM`` of ``/proc/self/status``, reset after
the imports through ``/proc/self/clear_refs``; elsewhere ``ru_maxrss``) minus the resident size
after the imports: it counts Arrow's allocations, which tracemalloc does not see.

Run: ``.venv/bin/python benchmarks/bench_validate.py [1000000 10000000]`` (or ``make bench``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
VISITS = [0, 4, 8, 12, 16, 20, 24, 32, 40, 52]
TARGET_SECONDS_1M = 30.0
TARGET_MEMORY_RATIO = 3.0

_MEASURE = r"""
import json, resource, sys, time
import numpy, pandas, pyarrow, pyarrow.csv, pyarrow.compute
what, folder, warm = sys.argv[1], sys.argv[2], sys.argv[3]
import trialstats as ts
import trialstats.data.validation, trialstats.data.readers
# warm-up on a small folder: one-off costs (lazy imports, thread pools) are not the step's
if what == "trialstats":
    ts.load_trial(warm)
else:
    pandas.read_csv(warm + "/adeff.csv")


def status(key):
    try:
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith(key + ":"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


try:  # reset the high-water mark to the current size (Linux >= 4.0), so the peak is the step's
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = status("VmRSS")
t0 = time.perf_counter()
if what == "trialstats":
    trial = ts.load_trial(folder)
    rows = len(trial.adeff)
else:
    adsl = pandas.read_csv(folder + "/adsl.csv")
    adeff = pandas.read_csv(folder + "/adeff.csv")
    rows = len(adeff)
seconds = time.perf_counter() - t0
peak = status("VmHWM")
print(json.dumps({"seconds": seconds, "rows": rows, "base_kib": base, "peak_kib": peak}))
"""


def write_trial(folder: Path, n_rows: int, seed: int = 1) -> Path:
    """A valid synthetic trial folder whose ADEFF has ``n_rows`` rows (ten visits per subject)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_subj = n_rows // len(VISITS)
    ids = np.char.add("BIG-", np.char.zfill(np.arange(1, n_subj + 1).astype(str), 7))
    arms = np.array(["PLACEBO", "EXOSOME"])[rng.integers(0, 2, n_subj)]
    base = np.round(rng.normal(150, 20, n_subj), 1).clip(10, None)
    pd.DataFrame({"USUBJID": ids, "ARM": arms, "AGE": rng.integers(18, 70, n_subj),
                  "SEX": np.array(["M", "F"])[rng.integers(0, 2, n_subj)], "BASETAHC": base,
                  "ITTFL": "Y", "SAFFL": "Y"}).to_csv(folder / "adsl.csv", index=False)
    k = len(VISITS)
    week = np.tile(VISITS, n_subj)
    b = np.repeat(base, k)
    aval = np.where(week == 0, b, np.round(b + rng.normal(5, 10, n_subj * k), 1).clip(0, None))
    pd.DataFrame({
        "USUBJID": np.repeat(ids, k), "PARAMCD": "TAHC", "AVISIT": [("BASELINE" if w == 0 else f"WEEK {w}") for w in week],
        "AVISITN": week, "AVAL": aval, "BASE": b, "CHG": np.round(aval - b, 1),
        "ABLFL": np.where(week == 0, "Y", ""),
    }).to_csv(folder / "adeff.csv", index=False)
    (folder / "trial.toml").write_text(
        'id = "BIG-1"\ntitle = "Synthetic large trial"\nsimulated = true\n'
        '[arms]\nreference = "PLACEBO"\ncodes = { PLACEBO = "Placebo", EXOSOME = "Exosome" }\n'
        '[tables]\nadsl = "adsl.csv"\nadeff = "adeff.csv"\n', encoding="utf-8")
    return folder


def _measure(what: str, folder: Path, warm: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", _MEASURE, what, str(folder), str(warm)], capture_output=True,
                         text=True, cwd=ROOT, check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    out = json.loads(run.stdout.strip().splitlines()[-1])
    out["extra_mib"] = (out["peak_kib"] - out["base_kib"]) / 1024
    return out


def run(sizes=(1_000_000, 10_000_000)) -> list[dict]:
    """Measure each size; returns one row per size (see :func:`to_markdown`)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="ts-bench-validate-") as tmp:
        warm = write_trial(Path(tmp) / "warm", 2_000)
        for n in sizes:
            t0 = time.perf_counter()
            folder = write_trial(Path(tmp) / f"n{n}", n)
            written = time.perf_counter() - t0
            mib = sum(f.stat().st_size for f in folder.glob("*.csv")) / 2**20
            ts_run = _measure("trialstats", folder, warm)
            peer = _measure("pandas", folder, warm)
            rows.append({"rows": n, "csv_mib": mib, "write_s": written, "ts": ts_run, "peer": peer})
            for f in folder.iterdir():
                f.unlink()
    return rows


def to_markdown(rows: list[dict]) -> str:
    lines = ["| ADEFF rows | CSV MiB | load+validate s | rows/s | peak extra MiB | memory / file | "
             "pandas.read_csv s | pandas MiB | time vs pandas | memory vs pandas |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        t, p = r["ts"], r["peer"]
        lines.append(
            f"| {r['rows']:,} | {r['csv_mib']:.0f} | {t['seconds']:.1f} | {t['rows'] / t['seconds']:,.0f} | "
            f"{t['extra_mib']:.0f} | {t['extra_mib'] / r['csv_mib']:.2f} | {p['seconds']:.1f} | "
            f"{p['extra_mib']:.0f} | {t['seconds'] / p['seconds']:.2f} | {t['extra_mib'] / p['extra_mib']:.2f} |")
    lines.append("")
    lines.append(f"Targets: 1 M rows in well under {TARGET_SECONDS_1M:g} s; peak memory above the "
                 f"imports <= {TARGET_MEMORY_RATIO:g} x the CSV size.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sizes = tuple(int(a) for a in sys.argv[1:]) or (1_000_000, 10_000_000)
    print(to_markdown(run(sizes)))
