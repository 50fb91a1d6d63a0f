"""Run a design: every (scenario, n per arm, replicate) simulated and analysed, on any engine.

Reproducibility: replicate ``r`` of scenario ``s`` (its index in the design) at ``n`` subjects
per arm draws from ``numpy.random.SeedSequence(seed, spawn_key=(s, n, r))``, which is the
SeedSequence that ``SeedSequence(seed).spawn`` reaches along the path (s, n, r). A replicate's
numbers therefore do not depend on the engine, the number of workers, the chunking or the order
in which chunks finish, and growing the grid or the replicate count keeps every earlier
replicate.

Checkpoints: with ``checkpoint=DIR`` every finished chunk is written to
``DIR/chunk-s{s}-n{n}-r{start}-{stop}.parquet`` (to a temporary name, then renamed, so a killed
run never leaves half a file) next to ``DIR/design.json``, the design's fingerprint. A rerun with
the same design skips the chunks found there; a different design is refused.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._parallel import open_engine
from . import models
from .analysis import ARD_COLUMNS, analyse
from .spec import DesignError, DesignSpec, hypothesis_ids

__all__ = ["DesignResult", "replicate_seed", "run"]


@dataclass(frozen=True)
class DesignResult:
    """What :func:`run` returns.

    Attributes
    ----------
    spec : DesignSpec
    replicates : DataFrame
        One row per replicate and hypothesis (``analysis.ARD_COLUMNS``).
    summary : DataFrame
        Operating characteristics per scenario, n per arm and hypothesis
        (:func:`trialstats.design.summary.summarise`).
    fwer : DataFrame
        Family-wise rejection rate per null scenario and n per arm.
    sample_size : DataFrame
        Smallest n per arm meeting each power target (:func:`~.summary.sample_size`).
    curves : DataFrame
        Fitted power curves with bands (:func:`~.summary.power_curves`).
    engine : str
    """

    spec: DesignSpec
    replicates: pd.DataFrame
    summary: pd.DataFrame
    fwer: pd.DataFrame
    sample_size: pd.DataFrame
    curves: pd.DataFrame
    engine: str

    def __repr__(self) -> str:
        return (f"<DesignResult: {len(self.spec.scenarios)} scenarios x "
                f"{len(self.spec.n_per_arm)} sample sizes x {self.spec.replicates} replicates, "
                f"{len(self.replicates)} rows, engine {self.engine}>")


def replicate_seed(seed: int, scenario: int, n_per_arm: int, replicate: int) -> int:
    """The integer seed of one replicate (64 bits drawn from its SeedSequence)."""
    ss = np.random.SeedSequence(seed, spawn_key=(scenario, n_per_arm, replicate))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def _chunks(spec: DesignSpec) -> list[tuple[int, int, int, int]]:
    out = []
    for s in range(len(spec.scenarios)):
        for n in spec.n_per_arm:
            for start in range(0, spec.replicates, spec.chunk_size):
                out.append((s, n, start, min(start + spec.chunk_size, spec.replicates)))
    return out


def run_chunk(payload: dict) -> pd.DataFrame:
    """Simulate and analyse replicates ``start..stop-1`` of one scenario and n (worker side)."""
    sc, plan, seed = payload["scenario"], payload["plan"], payload["seed"]
    nonresponders = payload.get("nonresponders", "exclude")
    s, n, start, stop = payload["chunk"]
    hyps = payload["hypotheses"]
    rows = []
    for r in range(start, stop):
        sim = models.generate(sc.model, sc.params, n, replicate_seed(seed, s, n, r), plan,
                              nonresponders=nonresponders)
        for row in analyse(sim, plan, hypotheses=hyps):
            rows.append({"scenario": sc.name, "n_per_arm": n, "replicate": r, **row})
    return _typed(pd.DataFrame(rows, columns=list(ARD_COLUMNS)))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype({"n_per_arm": "int64", "replicate": "int64", "reject": "bool",
                    "converged": "bool"})
    for c in ("estimate", "std_error", "p_value", "conf_low", "conf_high", "p_adjusted",
              "true_value"):
        df[c] = df[c].astype("float64")
    for c in ("scenario", "hypothesis", "endpoint", "arm", "measure", "covariance_used"):
        df[c] = df[c].astype(str)
    return df


def _task_label(task: dict) -> str:
    s, n, a, b = task["chunk"]
    return (f"chunk of scenario {task['scenario'].name!r}, n per arm {n}, replicates "
            f"{a}..{b - 1}")


def _chunk_name(chunk) -> str:
    s, n, a, b = chunk
    return f"chunk-s{s:03d}-n{n:05d}-r{a:07d}-{b:07d}.parquet"


def _open_checkpoint(path, spec: DesignSpec) -> Path:
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    manifest = d / "design.json"
    fp = spec.fingerprint()
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError) as e:
            raise DesignError(f"checkpoint {str(manifest)!r} is unreadable ({e}); remove the "
                              "folder or choose another") from e
        if old != fp:
            raise DesignError(f"checkpoint folder {str(d)!r} holds results of a different "
                              "design (scenarios, plan, seed or chunk size changed); use a new "
                              "folder or remove it")
    else:
        _atomic_write(manifest, lambda p: p.write_text(json.dumps(
            {"fingerprint": fp, "source": spec.source}, indent=1), encoding="utf-8"))
    return d


def _atomic_write(target: Path, write) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, target)


def _progress_bar(total: int, progress):
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="replicate", desc="design", leave=False)


def run(spec: DesignSpec | str | Path, engine="sequential", *, n_replicates: int | None = None,
        checkpoint: str | Path | None = None, progress: bool | None = None,
        workers: int | None = None, worker_wait: float = 120.0) -> DesignResult:
    """Simulate and analyse every replicate of a design; summarise its operating characteristics.

    Parameters
    ----------
    spec : DesignSpec or path
        A loaded design (:func:`trialstats.design.load`) or its file.
    engine : {"sequential", "local"}, str or distributed.Client, default "sequential"
        Where chunks run (:func:`trialstats._parallel.open_engine`): this process, a local Dask
        cluster of ``workers`` processes, a scheduler address ``"tcp://host:port"`` or a Client.
    n_replicates : int, optional
        Overrides the design's ``replicates``.
    checkpoint : path, optional
        Folder for per-chunk Parquet files; a rerun resumes from it.
    progress : bool, optional
        Show a tqdm bar (default: only when stderr is a terminal).
    workers : int, optional
        Processes of the ``"local"`` engine.
    worker_wait : float, default 120
        Seconds a Dask engine whose workers are all gone waits for one to join before
        :class:`~trialstats._parallel.EngineError` (finished chunks stay in the checkpoint;
        a rerun resumes).

    Returns
    -------
    DesignResult
        The same tables, bit for bit, whatever the engine, workers and chunking.

    Raises
    ------
    DesignError
        A checkpoint folder of another design.
    trialstats._parallel.EngineError
        Unreachable scheduler, unknown engine, a chunk that failed on a worker, or no worker
        left for ``worker_wait`` seconds (finished chunks are kept in the checkpoint).
    """
    from .spec import load
    from .summary import family_wise, power_curves, sample_size, summarise

    if not isinstance(spec, DesignSpec):
        spec = load(spec)
    if n_replicates is not None:
        spec = spec.with_replicates(n_replicates)
    folder = _open_checkpoint(checkpoint, spec) if checkpoint is not None else None
    payload_base = {"plan": spec.plan, "seed": spec.seed, "nonresponders": spec.nonresponders}
    hyps = {i: hypothesis_ids(spec.plan, models.scenario_arms(sc.model, sc.params))
            for i, sc in enumerate(spec.scenarios)}
    done: dict[tuple, pd.DataFrame] = {}
    todo = []
    for chunk in _chunks(spec):
        f = folder / _chunk_name(chunk) if folder is not None else None
        if f is not None and f.exists():
            done[chunk] = pd.read_parquet(f)
        else:
            todo.append(chunk)
    tasks = ({**payload_base, "scenario": spec.scenarios[c[0]], "hypotheses": hyps[c[0]],
              "chunk": c} for c in todo)
    bar = _progress_bar(sum(c[3] - c[2] for c in _chunks(spec)), progress)
    if bar is not None:
        bar.update(sum(len(d["replicate"].unique()) for d in done.values()))
    engine_name = engine if isinstance(engine, str) else "dask"
    try:
        with open_engine(engine, workers=workers, worker_wait=worker_wait) as eng:
            engine_name = eng.name
            for task, table in eng.imap_unordered(run_chunk, tasks, label=_task_label):
                chunk = task["chunk"]
                if folder is not None:
                    _atomic_write(folder / _chunk_name(chunk),
                                  lambda p, t=table: t.to_parquet(p, index=False))
                done[chunk] = table
                if bar is not None:
                    bar.update(chunk[3] - chunk[2])
    finally:
        if bar is not None:
            bar.close()
    ordered = [done[c] for c in _chunks(spec)]
    reps = _typed(pd.concat(ordered, ignore_index=True)) if ordered else pd.DataFrame(
        columns=list(ARD_COLUMNS))
    summ = summarise(reps, level=spec.plan.level, alpha=spec.plan.alpha,
                     first_covariance=spec.plan.mmrm.covariance[0])
    fw = family_wise(reps, spec)
    ss = sample_size(summ, spec)
    return DesignResult(spec, reps, summ, fw, ss, power_curves(summ, spec), engine_name)
