"""The report's sections and the order they are computed in, derived from what each declares.

Each section module has ``KEY``, ``TITLE``, ``NEEDS`` (keys of the sections whose results it
reads: estimates, fits, tables) and ``analyse``/``render`` (or the older ``compute(ctx)``). :func:`compute_order` sorts the modules
so that every section comes after the sections it needs (Kahn's algorithm; among the sections
ready at a step, the first in reading order goes first), so a new section only declares its
needs; nobody edits a hand-written order.
"""

from __future__ import annotations

__all__ = ["compute_order"]


def compute_order(modules) -> tuple:
    """``modules`` (in reading order) sorted so that each comes after its ``NEEDS``.

    Raises
    ------
    ValueError
        A section needs a key that no module has, or the needs form a cycle.
    """
    modules = list(modules)
    keys = {m.KEY for m in modules}
    for m in modules:
        unknown = [k for k in getattr(m, "NEEDS", ()) if k not in keys]
        if unknown:
            raise ValueError(f"section {m.KEY!r} needs unknown sections {', '.join(unknown)}")
    done: list = []
    left = list(modules)
    while left:
        ready = [m for m in left if all(k in {d.KEY for d in done} for k in getattr(m, "NEEDS", ()))]
        if not ready:
            raise ValueError("the sections' needs form a cycle: " + ", ".join(m.KEY for m in left))
        done.append(ready[0])
        left.remove(ready[0])
    return tuple(done)
