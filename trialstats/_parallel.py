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
be, :class:`EngineError` says which task. When every worker is gone (a Dask scheduler does not
fail tasks for want of workers: they would wait forever), the engine waits ``worker_wait``
seconds for a worker to join, then cancels what is pending and raises :class:`EngineError`
naming the scheduler; results already yielded (and written by the caller) are kept.

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
    worker_wait: float = 120.0
    poll: float = 1.0

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
        import time

        from distributed import as_completed

        it = iter(tasks)
        pending = {}                       # future key -> (future, task), at most ``limit``
        for task in it:
            fut = self.client.submit(fn, task, pure=False)
            pending[fut.key] = (fut, task)
            if len(pending) >= limit:
                break
        if not pending:
            return
        # this client's loop, not a default client's (an address client is not the default)
        ac = as_completed([f for f, _ in pending.values()], loop=self.client.loop)
        watch = _WorkerWatch(self)
        last_check = time.monotonic()
        while pending:
            if not ac.has_ready():
                time.sleep(0.02)
                if time.monotonic() - last_check >= self.poll:
                    last_check = time.monotonic()
                    watch.check(pending)
                continue
            watch.reset()
            for fut in ac.next_batch(block=False):
                task = pending[fut.key][1]
                try:
                    result = self._result(fut, pending, watch)
                except EngineError:
                    raise
                except Exception as e:  # KilledWorker, CommClosedError, a worker-side error
                    _cancel(pending)
                    raise EngineError(f"{label(task)} failed on the Dask engine "
                                      f"({type(e).__name__}: {e})") from e
                del pending[fut.key]
                fut.release()
                nxt = next(it, None)
                if nxt is not None:
                    f2 = self.client.submit(fn, nxt, pure=False)
                    pending[f2.key] = (f2, nxt)
                    ac.add(f2)
                yield task, result


    def _result(self, fut, pending, watch):
        """``fut.result()``, bounded: a finished result held by a worker that died must be
        recomputed, which waits for a worker (checked every ``poll`` seconds by ``watch``)."""
        while True:
            try:
                return fut.result(timeout=self.poll)
            except TimeoutError:
                watch.check(pending)


class _WorkerWatch:
    """Fails a run whose scheduler has had no worker for ``engine.worker_wait`` seconds."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.since: float | None = None

    def reset(self) -> None:
        self.since = None

    def check(self, pending) -> None:
        import time

        n = _n_workers(self.engine.client, default=None)
        if n:
            self.since = None
            return
        now = time.monotonic()
        if self.since is None:
            self.since = now
        elif now - self.since > self.engine.worker_wait:
            _cancel(pending)
            address = getattr(getattr(self.engine.client, "scheduler", None), "address", "?")
            seen = "no worker" if n == 0 else "no answer from the scheduler"
            raise EngineError(
                f"the Dask engine at {address} has had {seen} for {self.engine.worker_wait:g} s "
                f"({len(pending)} task(s) pending): every worker is gone. Finished results "
                f"were kept (a checkpoint folder holds them); start workers and rerun to "
                f"resume")


def _cancel(pending) -> None:
    for fut, _ in list(pending.values()):
        fut.cancel()


@contextlib.contextmanager
def open_engine(engine="sequential", *, workers: int | None = None,
                timeout: float = 5.0, worker_wait: float = 120.0) -> Iterator[Engine]:
    """Open an engine for the duration of a ``with`` block.

    Parameters
    ----------
    engine : {"sequential", "local"}, str address or distributed.Client
    workers : int, optional
        Worker processes of the ``"local"`` engine (default: the CPU count).
    timeout : float, default 5
        Seconds to wait for a scheduler address before failing.
    worker_wait : float, default 120
        Seconds a Dask engine waits for a worker when every worker is gone, before
        :class:`EngineError`.

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
        yield Engine("dask", engine, _n_workers(engine), worker_wait)
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
            yield Engine("local", client, n, worker_wait)
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
        yield Engine("dask", client, _n_workers(client), worker_wait)
    finally:
        client.close()


def _n_workers(client, default: int | None = 1) -> int | None:
    """Workers the scheduler knows (at least 1, for sizing); ``default`` when it cannot say.

    With ``default=None`` (the worker watch) the true count, 0 included, or None.
    """
    try:
        n = len(client.scheduler_info().get("workers", {}))
    except Exception:  # an info call must never stop a run
        return default
    return n if default is None else max(1, n)
