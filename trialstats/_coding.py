"""Contrast codings of factors (``ts.mmrm(contrasts=...)``): checked specs and R's column names.

:func:`contrast_text` turns a user's coding (``"sum"``, R's ``"contr.sum"``, a formulaic
``Contrasts`` instance) into the whitelisted formula text ``contr.sum`` that
:func:`trialstats.formula.parse_formula` wraps around the factor (``C(ARM, contr.sum)``);
:func:`coded` and :func:`uncoded` translate formulaic's names of such columns and terms into R's.
"""

from __future__ import annotations

import re

from .errors import ModelError

__all__ = ["CONTRAST_NAMES", "contrast_text", "coded", "names_text", "position", "uncoded"]
#: contrast codings of ``contrasts=`` (R's contr.* names; "diff" is formulaic's successive
#: differences, R's MASS::contr.sdif up to naming)
CONTRAST_NAMES = ("treatment", "sum", "helmert", "poly", "diff")


def contrast_text(value, column: str, where: str = "contrasts") -> str:
    """The formula text of one factor's contrast coding (``"contr.sum"``), checked.

    Parameters
    ----------
    value : str or formulaic Contrasts
        ``"treatment"``, ``"sum"``, ``"helmert"``, ``"poly"``, ``"diff"`` or R's spelling
        ``"contr.sum"`` etc.; or one of formulaic's ``TreatmentContrasts(base=...)``,
        ``SumContrasts()``, ``HelmertContrasts()``, ``PolyContrasts()``, ``DiffContrasts()``
        with R's defaults (a treatment base level is kept).
    column : str
        The factor, for error messages.

    Returns
    -------
    str
        ``contr.<name>`` or ``contr.treatment('<base>')``, text the whitelist accepts.

    Raises
    ------
    ModelError
        Any other value (the valid ones are listed).
    """
    valid = ", ".join(map(repr, CONTRAST_NAMES)) + " (or R's 'contr.sum' spelling, or a " \
        "formulaic Contrasts instance of those kinds)"
    if isinstance(value, str):
        name = value.strip().lower().removeprefix("contr.")
        if name in CONTRAST_NAMES:
            return f"contr.{name}"
        raise ModelError(f"{where}: unknown contrast {value!r} for {column!r}; valid: {valid}")
    from formulaic.transforms import contrasts as fc

    kinds = {fc.TreatmentContrasts: "treatment", fc.SumContrasts: "sum",
             fc.HelmertContrasts: "helmert", fc.PolyContrasts: "poly", fc.DiffContrasts: "diff"}
    kind = kinds.get(type(value))
    if kind == "treatment":
        base = value.base
        if type(base).__name__ == "Sentinel":  # formulaic's UNSET: the first level
            return "contr.treatment"
        if isinstance(base, str | int | float) and not isinstance(base, bool):
            text = repr(base)
            if isinstance(base, str) and (any(c in base for c in "`\\{}\"'") or len(base) > 200
                                          or not base.isprintable()):
                raise ModelError(f"{where}: treatment base level {base!r} of {column!r} cannot "
                                 "be written in a formula")
            return f"contr.treatment({text})"
    elif kind == "helmert" and value.reverse and not value.scale:  # R's contr.helmert
        return "contr.helmert"
    elif kind == "diff" and value.backward:
        return "contr.diff"
    elif kind in ("sum", "poly") and type(value)() == value:
        return f"contr.{kind}"
    raise ModelError(f"{where}: contrast {value!r} for {column!r} is not supported; valid: {valid}")


_CODED = re.compile(r"C\((`[^`]*`|[^,()]+), contr\.(\w+)(?:\(.*\))?\)")


def uncoded(text: str) -> str:
    """A term or variable name with every ``C(var, contr.<kind>)`` written as ``var`` (R's)."""
    return _CODED.sub(lambda m: m.group(1).strip("`"), text)


def coded(comp: tuple, counters: dict) -> tuple:
    """R's name of a component of a column coded by ``C(var, contr.<kind>)`` (``contrasts=``).

    formulaic writes ``C(ARM, contr.sum)[S.PBO]``; R writes ``ARM1`` (sum, Helmert: the
    column's number), ``ARM.L`` (poly) and ``ARMTRT`` (treatment). ``counters`` numbers the
    columns of each coded factor in formulaic's order (its first-appearing term gives them).
    """
    var, lvl, text = comp
    m = _CODED.fullmatch(var) if lvl is not None else None
    if m is None:
        return comp
    name, kind = m.group(1).strip("`"), m.group(2)
    if kind == "poly":
        label = lvl if lvl.startswith((".", "^")) else "." + lvl
    elif kind == "treatment":
        label = lvl
    else:  # sum, helmert, diff: numbered columns, as R's contr.sum / contr.helmert
        key = (var, lvl)
        if key not in counters:
            counters[key] = sum(1 for v, _ in counters if v == var) + 1
        label = str(counters[key])
    return (var, lvl, name + label)


def position(var: str, formula: str) -> int:
    """Where ``var`` first appears in ``formula`` as a whole name (its length when absent)."""
    m = re.search(r"(?<![\w.])" + re.escape(var) + r"(?![\w])", formula)
    return m.start() if m else len(formula)


def names_text(model_spec, formula: str, variable_order: str = "formula") -> str:
    """The text whose order of variables names the columns and terms of a design.

    Parameters
    ----------
    model_spec : formulaic.ModelSpec
        The right-hand side's spec (its ``term_indices`` give the terms in R's order).
    formula : str
        The formula as given.
    variable_order : {"formula", "terms"}
        ``"formula"``: R's ``model.matrix(formula)``, variables in order of first appearance in
        the formula. ``"terms"``: R mmrm's, which drops the covariance term with ``update()``
        and so rebuilds the formula from its term labels (by degree, each label's variables in
        formula order): ``y ~ A:x + x`` names ``x:AB`` there, ``AB:x`` in ``model.matrix``.

    Returns
    -------
    str
    """
    if variable_order == "formula" or model_spec is None:
        return formula
    labels = []
    for term in model_spec.term_indices:
        parts = [str(f) for f in term.factors if str(f) != "1"]
        if parts:
            labels.append(":".join(sorted(parts, key=lambda v: position(uncoded(v), formula))))
    return " + ".join(labels)
