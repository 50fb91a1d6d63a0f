"""Run the samples of a jackknife, bootstrap or MI sequentially, on local processes or on Dask.

``engine`` is one of

* ``"sequential"``: in this process;
* ``None`` or ``"local"``: ``workers`` local processes: this one and ``workers - 1`` forked ones
  (:class:`concurrent.futures.ProcessPoolExecutor` with the ``fork`` start method, so the problem
  arrays, its prepared MMRM problem included, are inherited rather than pickled per task). The
  samples are cut into ``4 * workers`` chunks; the forked workers take them from the start, this
  process from the end (any chunk no worker has started), so no process waits while work is
  left;
* a :class:`distributed.Client`, or the address of a Dask scheduler (``"tcp://host:port"``).

Every sample draws its random numbers from its own stream, spawned from the seed by sample index
(:func:`._engine.sample_indices`), and results are put back in sample order, so the output does
not depend on the engine or the number of workers. Progress is shown with tqdm on stderr when it
is a terminal (silent in CI and in notebooks' captured logs).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed

from .._blas import one_blas_thread
from ..errors import TrialstatsError
from ._engine import run_sample

__all__ = ["ClusterError", "map_samples"]

_PROBLEMS: dict = {}  # problems inherited by forked workers, by key


class ClusterError(TrialstatsError, ConnectionError):
    """A Dask scheduler that cannot be reached or used (the message names its address)."""


def _run_chunk(problem, kind, indices, seed, theta0, n_imputations=1):
    # The matrices of one sample are small (visits x coefficients): a multi-threaded BLAS only
    # adds synchronisation, which on a loaded machine costs more than the arithmetic (measured
    # 4x the CPU time on exo-hair-301); parallelism is across samples instead.
    with one_blas_thread():
        return [run_sample(problem, kind, i, seed, theta0, n_imputations) for i in indices]


def _run_chunk_forked(key, kind, indices, seed, theta0, n_imputations=1):
    return _run_chunk(_PROBLEMS[key], kind, indices, seed, theta0, n_imputations)


def _chunks(n: int, n_chunks: int) -> list[list[int]]:
    n_chunks = max(1, min(n, n_chunks))
    size = -(-n // n_chunks)
    return [list(range(s, min(n, s + size))) for s in range(0, n, size)]


def _progress(total: int, desc: str, progress):
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, disable=not show, file=sys.stderr, leave=False)


def _connect(engine):
    try:
        from distributed import Client
    except ImportError as e:  # pragma: no cover - dask[distributed] is a runtime dependency
        raise ClusterError("engine needs dask.distributed: pip install 'dask[distributed]'") from e
    if isinstance(engine, Client):
        return engine, False
    try:
        return Client(engine, timeout="3s", set_as_default=False), True
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {engine!r} within 3 s ({e}); start one with "
            "`dask scheduler` or use engine='sequential' or engine=None (local processes)"
        ) from e


def map_samples(problem, kind: str, n: int, seed, theta0, *, engine=None, workers=None,
                progress=None, n_imputations: int = 1) -> list:
    """Results of :func:`._engine.run_sample` for samples ``0..n-1``, in that order."""
    desc = f"rbmi {kind}"
    if isinstance(engine, str) and engine not in ("sequential", "local"):
        if "://" not in engine:
            raise TrialstatsError(
                f"unknown engine {engine!r}; valid: None or 'local' (local processes), "
                "'sequential', a dask.distributed Client, or a scheduler address 'tcp://host:port'"
            )
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise TrialstatsError(f"workers must be a positive integer; got {workers!r}")
    n_workers = workers or os.cpu_count() or 1
    if engine == "sequential" or (engine in (None, "local") and n_workers == 1):
        out = []
        with _progress(n, desc, progress) as bar:
            for chunk in _chunks(n, max(1, n // 8)):
                out.extend(_run_chunk(problem, kind, chunk, seed, theta0, n_imputations))
                bar.update(len(chunk))
        return out
    chunks = _chunks(n, 4 * n_workers)
    results: list = [None] * len(chunks)
    if engine in (None, "local"):
        key = id(problem)
        _PROBLEMS[key] = problem
        gc.freeze()  # the forked workers' garbage collector then leaves the inherited objects
        try:         # alone instead of writing to (and so copying) every page that holds them
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n_workers - 1, mp_context=ctx) as pool, \
                    _progress(n, desc, progress) as bar:
                futs = [pool.submit(_run_chunk_forked, key, kind, c, seed, theta0, n_imputations)
                        for c in chunks]
                # this process is the last worker: it takes chunks from the end that no
                # forked worker has started (a future that can still be cancelled)
                for j in range(len(chunks) - 1, -1, -1):
                    if futs[j].cancel():
                        results[j] = _run_chunk(problem, kind, chunks[j], seed, theta0,
                                                n_imputations)
                        bar.update(len(chunks[j]))
                index = {f: j for j, f in enumerate(futs) if not f.cancelled()}
                for f in as_completed(index):
                    results[index[f]] = f.result()
                    bar.update(len(chunks[index[f]]))
        finally:
            gc.unfreeze()
            _PROBLEMS.pop(key, None)
    else:
        client, own = _connect(engine)
        try:
            from distributed import as_completed as dask_completed

            remote = client.scatter(problem, broadcast=True)
            futs = client.map(_run_chunk, [remote] * len(chunks), [kind] * len(chunks), chunks,
                              [seed] * len(chunks), [theta0] * len(chunks),
                              [n_imputations] * len(chunks), pure=False)
            index = {f.key: j for j, f in enumerate(futs)}
            with client.as_current(), _progress(n, desc, progress) as bar:
                for f in dask_completed(futs):
                    results[index[f.key]] = f.result()
                    bar.update(len(chunks[index[f.key]]))
        finally:
            if own:
                client.close()
    return [r for chunk in results for r in chunk]
