"""Lazy public names (PEP 562), shared by ``trialstats`` and ``trialstats.plots``: a name is imported from its module on first access, so importing the
package stays light (no matplotlib, statsmodels or lifelines until used)."""

from __future__ import annotations

import importlib


def lazy_attributes(package: str, namespace: dict, names: dict, submodules=()):
    """``__getattr__`` and ``__dir__`` for a package whose public names load on first access.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    namespace : dict
        The package's ``globals()`` (a loaded name is cached there).
    names : dict
        Public name -> module (absolute, or relative to ``package`` when it has no dot).
    submodules : iterable of str
        Subpackage names that are themselves attributes (``trialstats.plots``, ...).

    Returns
    -------
    (__getattr__, __dir__)
    """
    subs = set(submodules)

    def __getattr__(name: str):
        if name in names:
            module = names[name] if "." in names[name] else f"{package}.{names[name]}"
            value = getattr(importlib.import_module(module), name)
        elif name in subs:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | subs)

    return __getattr__, __dir__
