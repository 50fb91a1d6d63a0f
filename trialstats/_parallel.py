"""Where independent tasks run: in this process, on local worker processes, or on a Dask cluster.

One small abstraction shared by the engines that fan out independent, seeded tasks (the design
engine; meant to be shared with the imputation engine). Engines:

``"sequential"``
    In this process, in order.
``"local"``
    A :class:`distributed.LocalCluster` of ``workers`` processes (one thread each) on
    127.0.0.1 (its dashboard on a free port); torn down afterwards.
``distributed.Client``
    An existing client (left open).
``"tcp://host:port"`` (or ``"tls://…"``)
    A running Dask scheduler; an unreachable address fails fast with :class:`EngineError`
    naming it.

Tasks are submitted with a bound on those in flight, so memory stays bounded whatever the
number of tasks; results come back as they finish (:meth:`Engine.imap_unordered`). A task whose
worker dies is re-run by Dask elsewhere (the scheduler's ``allowed-failures``); when it cannot
be, :class:`EngineError` says which task.

Dask (``dask.distributed``) is used rather than ``concurrent.futures`` or joblib because the
same code then runs on one laptop and on a cluster of machines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import reprlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .errors import TrialstatsError

__all__ = ["Engine", "EngineError", "open_engine"]

ENGINES = ("sequential", "local")


class EngineError(TrialstatsError, RuntimeError):
    """An execution engine that cannot be reached or lost a task: names the address or task."""


@dataclass
class Engine:
    """An open engine: ``name`` and, for Dask engines, the ``client``."""

    name: str
    client: object | None = None
    workers: int = 1

    def imap_unordered(self, fn: Callable, tasks: Iterable, *, max_in_flight: int | None = None,
                       label: Callable | None = None) -> Iterator[tuple[object, object]]:
        """Yield ``(task, fn(task))`` as tasks finish (in task order when sequential).

        Parameters
        ----------
        fn : callable
            An importable top-level function (pickled by reference for Dask workers).
        tasks : iterable
            Task payloads; each must be picklable.
        max_in_flight : int, optional
            Most tasks submitted and not yet collected (default: 2 per worker).
        label : callable, optional
            ``label(task)`` names a task in error messages (default: a shortened repr).
        """
        if self.client is None:
            for task in tasks:
                yield task, fn(task)
            return
        yield from self._dask_imap(fn, tasks, max_in_flight or 2 * max(self.workers, 1),
                                   label or reprlib.repr)

    def _dask_imap(self, fn, tasks, limit, label):
        from distributed import as_completed

        it = iter(tasks)
        pending = {}
        first = []
        for task in it:
            fut = self.client.submit(fn, task, pure=False)
            pending[fut.key] = task
            first.append(fut)
            if len(pending) >= limit:
                break
        if not first:
            return
        ac = as_completed(first, loop=self.client.loop)  # this client, not a default one
        for fut in ac:
            task = pending.pop(fut.key)
            try:
                result = fut.result()
            except Exception as e:  # KilledWorker, CommClosedError, a worker-side error
                for other in list(ac.futures):
                    other.cancel()
                raise EngineError(f"{label(task)} failed on the Dask engine "
                                  f"({type(e).__name__}: {e})") from e
            fut.release()
            nxt = next(it, None)
            if nxt is not None:
                f2 = self.client.submit(fn, nxt, pure=False)
                pending[f2.key] = nxt
                ac.add(f2)
            yield task, result


@contextlib.contextmanager
def open_engine(engine="sequential", *, workers: int | None = None,
                timeout: float = 5.0) -> Iterator[Engine]:
    """Open an engine for the duration of a ``with`` block.

    Parameters
    ----------
    engine : {"sequential", "local"}, str address or distributed.Client
    workers : int, optional
        Worker processes of the ``"local"`` engine (default: the CPU count).
    timeout : float, default 5
        Seconds to wait for a scheduler address before failing.

    Raises
    ------
    EngineError
        Unknown engine name, or a scheduler address that does not answer within ``timeout``.
    """
    if isinstance(engine, str) and engine == "sequential":
        yield Engine("sequential")
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:  # pragma: no cover - distributed is a dependency
        raise EngineError("the local and Dask engines need dask.distributed "
                          "(pip install 'dask[distributed]')") from e
    if isinstance(engine, Client):
        yield Engine("dask", engine, _n_workers(engine))
        return
    if not isinstance(engine, str):
        raise EngineError(f"engine: expected 'sequential', 'local', a scheduler address "
                          f"('tcp://host:port') or a distributed.Client; got {engine!r}")
    if engine == "local":
        n = int(workers or os.cpu_count() or 1)
        if n < 1:
            raise EngineError(f"workers: must be >= 1; got {workers!r}")
        # dashboard on a free port of 127.0.0.1 (None still tries 8787 in distributed 2026.8
        # and warns when another cluster holds it)
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            yield Engine("local", client, n)
        return
    if "://" not in engine:
        raise EngineError(f"engine: unknown engine {engine!r}; valid: {', '.join(ENGINES)}, "
                          "a scheduler address such as 'tcp://127.0.0.1:8786', or a Client")
    try:
        client = Client(engine, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise EngineError(f"cannot reach the Dask scheduler at {engine} within {timeout:g} s "
                          f"({type(e).__name__}); is `dask scheduler` running there?") from e
    try:
        yield Engine("dask", client, _n_workers(client))
    finally:
        client.close()


def _n_workers(client) -> int:
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:  # an info call must never stop a run
        return 1
