"""A formulaic materializer that codes factors as R's ``model.matrix`` does.

formulaic keeps a design structurally full rank by tracking the vector space each term spans
(``FormulaMaterializer._get_scoped_terms``); R decides the coding of each factor in each term
by a rule on the terms alone (``TermCode`` in R's ``src/library/stats/src/model.c``, the
heuristic of *Statistical Models in S*, p. 38). The two agree on hierarchical formulas
(``ARM * AVISIT``, ``BASE + ARM:AVISIT``) but not when an interaction's margins are absent:
``FEV1_BL - 1 + ARMCD:FEV1_BL + ARMCD:SEX`` is coded by R as ``ARMCDPBO:SEXFemale,
ARMCDTRT:SEXFemale`` and by formulaic as four full-dummy columns. trialstats compares every
number with R, so its designs follow R's rule:

* terms are taken in formula order (both order them by degree); each variable of a term is a
  formulaic factor (``ARM``, ``log(BASE)``, ``C(ARM, contr.sum)``), numeric ones included;
* a factor ``F`` of a term is coded by contrasts (formulaic's *reduced* rank) when the term
  without ``F`` is empty or is a subset of some preceding term, otherwise by one indicator per
  level (full rank);
* without an intercept, the first factor of the first term holding a factor is coded by
  indicators (full rank);
* numeric variables and constants are multiplied in.

As in R, the result need not be full rank (``~ A:B`` has an intercept and every ``A x B``
indicator); the models report or drop aliased columns as R does. Select it with
``materializer="trialstats"`` (:data:`MATERIALIZER`); a ``ModelSpec`` it built remembers it, so
``spec.get_model_matrix(newdata)`` codes new data the same way.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence

from formulaic.materializers import PandasMaterializer
from formulaic.materializers.types import ScopedFactor, ScopedTerm
from formulaic.parser.types import Factor, Term
from interface_meta import override

__all__ = ["MATERIALIZER", "RCodingMaterializer", "r_codings"]

#: the name to pass as ``materializer=`` to formulaic's ``model_matrix``
MATERIALIZER = "trialstats"


def r_codings(term_variables: Sequence[Sequence[str]], factors: set[str],
              intercept: bool) -> list[dict[str, bool]]:
    """Which factors R's ``model.matrix`` codes by contrasts, term by term.

    Parameters
    ----------
    term_variables : sequence of sequence of str
        The variables of each term in formula order (the intercept is not a term), numeric
        variables included.
    factors : set of str
        The variables that are factors (coded by contrasts or by indicators).
    intercept : bool
        Whether the model has an intercept.

    Returns
    -------
    list of dict
        For each term, factor -> True when coded by contrasts (reduced rank), False when coded
        by one indicator per level. Numeric variables are not listed.
    """
    sets = [frozenset(t) for t in term_variables]
    out: list[dict[str, bool]] = []
    for k, (names, here) in enumerate(zip(term_variables, sets)):
        codes = {}
        for var in names:
            if var in factors:
                rest = here - {var}
                codes[var] = not rest or any(rest <= earlier for earlier in sets[:k])
        out.append(codes)
    if not intercept:  # R: the first factor of the first term with a factor gets indicators
        for codes in out:
            if codes:
                codes[next(iter(codes))] = False
                break
    return out


class RCodingMaterializer(PandasMaterializer):
    """formulaic's pandas materializer with R's ``model.matrix`` coding of factors.

    Only the choice of contrasts versus indicators per factor and term differs from formulaic's
    (see the module docstring); evaluation, encoding, column names and the per-term column
    layout are formulaic's. With ``ensure_full_rank=False`` formulaic's own scoping is used.
    """

    REGISTER_NAME = MATERIALIZER
    REGISTER_INPUTS: Sequence[str] = ()  # chosen by name only, never for a data type
    REGISTER_PRECEDENCE = -100

    @override
    def _get_scoped_terms(
        self, terms: Iterable[Term], ensure_full_rank: bool = True
    ) -> Generator[tuple[Term, Iterable[ScopedTerm]], None, None]:
        if not ensure_full_rank:
            yield from super()._get_scoped_terms(terms, ensure_full_rank=False)
            return
        terms = list(terms)
        evaled = []
        for term in terms:
            evaled.append([
                self.factor_cache[factor.expr]
                for factor in term.factors
                if self.factor_cache[factor.expr].values.__wrapped__ is not None
            ])
        variables = [
            [f.expr for f in fs if f.metadata.kind is not Factor.Kind.CONSTANT] for fs in evaled
        ]
        intercept = any(fs and not vs for fs, vs in zip(evaled, variables))
        model_terms = [k for k, vs in enumerate(variables) if vs]
        factors = {f.expr for fs in evaled for f in fs
                   if f.metadata.kind is not Factor.Kind.CONSTANT and f.metadata.spans_intercept}
        codes = dict(zip(model_terms, r_codings([variables[k] for k in model_terms], factors,
                                                intercept)))
        for k, (term, fs) in enumerate(zip(terms, evaled)):
            if not fs:
                yield term, []
                continue
            scale = 1
            scoped = []
            for f in fs:
                if f.metadata.kind is Factor.Kind.CONSTANT:
                    scale *= f.values
                else:
                    scoped.append(ScopedFactor(f, reduced=codes[k].get(f.expr, False)))
            yield term, [ScopedTerm(factors=scoped, scale=scale)]
