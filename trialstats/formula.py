"""Safe formulas: a formula is data, never code.

formulaic evaluates parts of a formula as Python (``{...}`` blocks, calls such as ``log(x)``,
subscripts), so a formula from a ``sap.toml``, a subgroup key or an API caller could run
arbitrary code. Every formula entry point of trialstats therefore calls :func:`parse_formula`
first. It tokenises the string with formulaic's own tokenizer and parser, checks each part
against a whitelist and returns a canonical text rebuilt from the checked parts; only that
text ever reaches formulaic, evaluated with :func:`formula_context` as its namespace.

Allowed
-------
* column names: Python identifiers, or anything else in backticks (```odd name```); a name
  containing a quote, brace, backtick, backslash or control character cannot be used in a
  formula (rename the column);
* the operators ``~ + - * : / |``, the literals ``0`` and ``1`` (and other plain numbers), and
  parentheses; ``**`` / ``^`` with a whole-number exponent from 1 to 10;
* the transforms of :data:`TRANSFORMS`, whose arguments are columns, numbers and (for ``C``)
  literal levels or a named contrast; ``I()`` and the one-argument math transforms take
  arithmetic (``+ - * / **``, unary minus, parentheses) on columns, numbers and math transforms.

Everything else (``{...}``, attribute access, subscripts, dunder names, lambda, strings outside
``C(levels=...)``, calls to other functions, names that are not columns of the data, ``.``,
``%in%``, brackets) raises :class:`~trialstats.errors.ModelError` quoting the offending part.
Why not formulaic alone: formulaic is a modelling library for trusted input and documents that
its Python parts are ``eval``-ed; it has no whitelist mode.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ._coding import CONTRAST_NAMES, contrast_text
from .errors import ModelError

__all__ = ["SafeFormula", "parse_formula", "quote_name", "formula_context", "TRANSFORMS",
           "check_factor_levels", "MAX_FACTOR_LEVELS", "contrast_text", "CONTRAST_NAMES"]

#: one-argument math transforms (argument: arithmetic on columns and numbers)
MATH = ("log", "log2", "log10", "log1p", "exp", "sqrt", "abs")
#: every transform a formula may call
TRANSFORMS = ("C", "I", *MATH, "poly", "scale", "center")
_CONTRASTS = ("treatment", "sum", "helmert", "poly", "diff")
_OPERATORS = ("**", "~", "+", "-", "*", ":", "/", "|", "^")
_MAX_CHARS = 2000
_MAX_TOKENS = 400
_MAX_DEPTH = 20
_MAX_POWER = 10
_MAX_TERMS = 500
#: most levels a text (factor) column of a model formula may have: more is an identifier or a
#: free-text column, whose design would have one column per row and whose fit would not end
MAX_FACTOR_LEVELS = 200
_ALLOWED_TEXT = (
    "allowed: column names (backtick-quoted if not Python identifiers), the operators "
    "~ + - * : / | and ** or ^ with a whole exponent up to 10, numbers, parentheses, and the "
    "transforms " + ", ".join(f"{t}()" for t in TRANSFORMS)
    + " with column or number arguments (C() also levels=[literals] or contr.treatment etc.; "
    "I() arithmetic + - * / ** on columns and numbers)"
)


@dataclass(frozen=True)
class SafeFormula:
    """A checked formula.

    Attributes
    ----------
    original : str
        The formula as given.
    text : str
        The canonical formula rebuilt from the checked parts; the only text given to formulaic.
    columns : tuple of str
        Every column the formula refers to, in order of first appearance.
    lhs_columns, rhs_columns : tuple of str
        Columns left and right of ``~`` (``lhs_columns`` is empty for a one-sided formula).
    rhs : str
        The canonical text right of ``~`` (all of ``text`` when there is no ``~``).
    """

    original: str
    text: str
    columns: tuple[str, ...]
    lhs_columns: tuple[str, ...]
    rhs_columns: tuple[str, ...]
    rhs: str


def formula_context() -> dict:
    """The names a checked formula is evaluated with (added to formulaic's own transforms).

    Returns
    -------
    dict
        The math transforms formulaic does not define itself (``sqrt``, ``log1p``, ``abs``).
    """
    return {"sqrt": np.sqrt, "log1p": np.log1p, "abs": np.abs}


def _is_plain_name(name: str) -> bool:
    return name.isidentifier() and name.isascii() and name not in _PY_KEYWORDS


_PY_KEYWORDS = frozenset(__import__("keyword").kwlist) | {"True", "False", "None"}
_BUILTINS = frozenset(dir(__import__("builtins")))


def quote_name(name: str) -> str:
    """A column name as it must be written in a formula: bare if a plain identifier, else backticked.

    Parameters
    ----------
    name : str
        Column name.

    Returns
    -------
    str

    Raises
    ------
    ModelError
        The name is empty or contains a backtick, a backslash or a control character, which no
        formula can quote safely.
    """
    name = str(name)
    if not name or any(c in name for c in "`\\'\"{}") or any(not c.isprintable() for c in name):
        raise ModelError(
            f"column name {name!r} cannot be used in a formula (empty, or contains a quote, "
            "brace, backtick, backslash or control character); rename the column"
        )
    return name if _is_plain_name(name) and name not in TRANSFORMS else f"`{name}`"


def _fail(where: str, formula: str, part: str, why: str) -> ModelError:
    return ModelError(f"{where}: formula {formula!r}: {why}: {part!r}; {_ALLOWED_TEXT}")


class _Checker:
    """Checks one formula; collects the columns it uses."""

    def __init__(self, formula: str, columns, where: str):
        self.formula = formula
        self.columns = None if columns is None else {str(c) for c in columns}
        self.where = where
        self.used: list[str] = []
        self.sides: dict[str, list[str]] = {"lhs": [], "rhs": []}
        self.side = "lhs"
        self.in_call = False  # inside a transform call, whose names Python evaluates
        self.contrasts: dict[str, str] = {}  # column -> contrast text (parse_formula contrasts=)
        self.wrapped: set[str] = set()  # columns given their contrast

    def fail(self, part: str, why: str) -> ModelError:
        return _fail(self.where, self.formula, part, why)

    def column(self, name: str, part: str) -> str:
        if name == "." or "__" in name or name in _PY_KEYWORDS:
            raise self.fail(part, "not a column name (names may not be '.', a Python keyword "
                                  "or contain '__')")
        if any(c in name for c in "`\\'\"{}") or any(not c.isprintable() for c in name):
            raise self.fail(part, f"column name {name!r} has quotes, braces, backticks, "
                                  "backslashes or control characters and cannot be used in a "
                                  "formula; rename the column")
        if self.in_call and self.columns is None and name in _BUILTINS:
            raise self.fail(part, f"{name!r} is a Python builtin, not a known column")
        if self.columns is not None and name not in self.columns:
            raise ModelError(
                f"{self.where}: formula {self.formula!r} names {name!r}, which is not a column of "
                f"the data; available columns: {', '.join(sorted(self.columns))}"
            )
        if name not in self.used:
            self.used.append(name)
        if name not in self.sides[self.side]:
            self.sides[self.side].append(name)
        return quote_name(name)

    # --- Python parts (calls such as log(x), C(ARM, levels=[...]), I(x / 10)) ---------------
    def python(self, token) -> str:
        text = token.token
        start = token.source_start or 0
        if self.formula[start:start + 1] == "{":
            raise self.fail("{" + text + "}", "Python code in {...} is not allowed")
        if "\\" in text:
            raise self.fail(text, "backslashes are not allowed")
        code, names = _replace_backticks(text, self)
        try:
            tree = ast.parse(code, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            raise self.fail(text, f"not a valid transform call ({type(e).__name__})") from None
        node = tree.body
        self.in_call = True
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in TRANSFORMS):
            raise self.fail(text, "only calls of whitelisted transforms are allowed")
        out = self.call(node, names, text)
        self.in_call = False
        return out

    def call(self, node: ast.Call, names: dict, part: str) -> str:
        fn = node.func.id
        args, kws = node.args, {k.arg: k.value for k in node.keywords}
        if any(k.arg is None for k in node.keywords) or any(
                isinstance(a, ast.Starred) for a in args):
            raise self.fail(part, "*args / **kwargs are not allowed")
        if fn == "C":
            return self.c_call(args, kws, names, part)
        if fn in ("poly", "scale", "center"):
            return self.stateful_call(fn, args, kws, names, part)
        if len(args) != 1 or kws:
            raise self.fail(part, f"{fn}() takes exactly one argument")
        return f"{fn}({self.arith(args[0], names, part)})"

    def c_call(self, args, kws, names, part) -> str:
        if not 1 <= len(args) <= 2 or set(kws) - {"levels", "contrasts"} or (
                len(args) == 2 and "contrasts" in kws):
            raise self.fail(part, "C() takes a column, optionally a contrast and levels=[...]")
        out = [self.name_arg(args[0], names, part)]
        if len(args) == 2:
            out.append(self.contrast(args[1], part))
        elif "contrasts" in kws:
            out.append("contrasts=" + self.contrast(kws["contrasts"], part))
        if "levels" in kws:
            lv = kws["levels"]
            if not isinstance(lv, ast.List | ast.Tuple) or not lv.elts or len(lv.elts) > 1000:
                raise self.fail(part, "levels= must be a list of literal levels")
            out.append("levels=[" + ", ".join(self.literal(e, part) for e in lv.elts) + "]")
        return "C(" + ", ".join(out) + ")"

    def contrast(self, node, part: str) -> str:
        call_args, called = [], isinstance(node, ast.Call) and not node.keywords
        if called:
            call_args, node = node.args, node.func
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "contr" and node.attr in _CONTRASTS and len(call_args) <= 1):
            inner = ", ".join(self.literal(a, part) for a in call_args)
            return f"contr.{node.attr}" + (f"({inner})" if called else "")
        raise self.fail(part, "a contrast must be contr." + "/".join(_CONTRASTS) + "(...)")

    def stateful_call(self, fn, args, kws, names, part) -> str:
        spec = {"poly": (2, {"degree": "int", "raw": "bool"}),
                "scale": (1, {"center": "bool", "scale": "bool"}),
                "center": (1, {})}[fn]
        max_pos, allowed = spec
        if not 1 <= len(args) <= max_pos or set(kws) - set(allowed):
            raise self.fail(part, f"{fn}() takes a column" + (
                " and " + ", ".join(f"{k}=" for k in allowed) if allowed else ""))
        out = [self.name_arg(args[0], names, part)]
        given = dict(kws)
        if len(args) == 2:
            given["degree"] = args[1]
        for key, value in given.items():
            out.append(f"{key}={self.scalar(value, allowed[key], part)}")
        return f"{fn}(" + ", ".join(out) + ")"

    def scalar(self, node, kind: str, part: str) -> str:
        value = getattr(node, "value", None) if isinstance(node, ast.Constant) else None
        if kind == "bool" and isinstance(value, bool):
            return repr(value)
        if kind == "int" and type(value) is int and 1 <= value <= 20:
            return repr(value)
        raise self.fail(part, f"expected {'True/False' if kind == 'bool' else 'a whole number 1-20'}")

    def literal(self, node, part: str) -> str:
        neg = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        inner = node.operand if neg else node
        if isinstance(inner, ast.Constant) and type(inner.value) in (int, float) and abs(
                inner.value) < 1e15:
            return ("-" if neg else "") + repr(inner.value)
        if not neg and isinstance(inner, ast.Constant) and type(inner.value) is str and len(
                inner.value) <= 200 and not any(c in inner.value for c in "`\\{}\"'") and all(
                c.isprintable() for c in inner.value):
            return repr(inner.value)
        raise self.fail(part, "levels and contrast arguments must be plain strings or numbers")

    def name_arg(self, node, names: dict, part: str) -> str:
        if not isinstance(node, ast.Name):
            raise self.fail(part, "the argument must be a column name")
        return self.column(names.get(node.id, node.id), part)

    def arith(self, node, names: dict, part: str, depth: int = 0) -> str:
        """Check an arithmetic expression (renaming its columns in place) and render it."""
        self.check_arith(node, names, part, depth)
        return ast.unparse(node)

    def check_arith(self, node, names: dict, part: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise self.fail(part, "expression nested too deeply")
        if isinstance(node, ast.Name):
            node.id = self.column(names.get(node.id, node.id), part)
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if not abs(node.value) < 1e15:
                raise self.fail(part, "numbers must be below 1e15 in magnitude")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            self.check_arith(node.operand, names, part, depth + 1)
        elif isinstance(node, ast.BinOp) and isinstance(
                node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow):
            if isinstance(node.op, ast.Pow):
                self.check_power(node, part)
            self.check_arith(node.left, names, part, depth + 1)
            self.check_arith(node.right, names, part, depth + 1)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                node.func.id in MATH):
            if len(node.args) != 1 or node.keywords:
                raise self.fail(part, f"{node.func.id}() takes exactly one argument")
            self.check_arith(node.args[0], names, part, depth + 1)
        else:
            raise self.fail(part, "only arithmetic on columns and numbers is allowed inside a "
                                  "transform")

    def check_power(self, node: ast.BinOp, part: str) -> None:
        exp = node.right.operand if isinstance(node.right, ast.UnaryOp) else node.right
        if not (isinstance(exp, ast.Constant) and type(exp.value) in (int, float)
                and abs(exp.value) <= _MAX_POWER):
            raise self.fail(part, f"the exponent of ** must be a number up to {_MAX_POWER}")
        if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow)
               for n in ast.walk(node.left)):
            raise self.fail(part, "nested powers are not allowed")


def _replace_backticks(text: str, checker: _Checker) -> tuple[str, dict]:
    """Replace ```name``` (outside string literals) with placeholders valid in Python."""
    out, names, quote, i = [], {}, None, 0
    prefix = "_tsq"
    while prefix in text:
        prefix += "q"
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "`":
                raise checker.fail(text, "backticks inside strings are not allowed")
            if ch == quote:
                quote = None
            out.append(ch)
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise checker.fail(text, "unclosed backtick")
            key = f"{prefix}{len(names)}_"
            names[key] = text[i + 1:end]
            out.append(key)
            i = end
        else:
            out.append(ch)
        i += 1
    return "".join(out), names


def _split_operator(text: str, checker: _Checker) -> list[str]:
    ops, rest = [], re.sub(r"\s+", "", text)
    while rest:
        for op in _OPERATORS:
            if rest.startswith(op):
                ops.append(op)
                rest = rest[len(op):]
                break
        else:
            raise checker.fail(text, "operator not allowed")
    return ops


def _tokens(formula: str, checker: _Checker) -> list:
    from formulaic.parser.algos.tokenize import tokenize

    try:
        return list(tokenize(formula))
    except Exception as e:  # formulaic raises FormulaSyntaxError and others
        raise ModelError(f"{checker.where}: cannot parse formula {formula!r}: {e}") from None


def _rebuild(tokens: Iterable, checker: _Checker) -> tuple[str, str, bool]:
    """Canonical text of checked tokens, its right-hand side, and whether it has an outcome."""
    parts: list[str] = []
    tilde = -1
    depth = 0
    prev_op = ""
    for tok in tokens:
        kind = tok.kind.value
        if kind == "context":
            if tok.token not in "()":
                raise checker.fail(tok.token, "brackets [ ] are not allowed")
            depth += 1 if tok.token == "(" else -1
            if depth > _MAX_DEPTH:
                raise checker.fail(checker.formula[:80], "parentheses nested too deeply")
            parts.append(tok.token)
        elif kind == "operator":
            ops = _split_operator(tok.token, checker)
            if "~" in ops:
                if tilde >= 0:
                    raise checker.fail(tok.token, "a formula has at most one '~'")
                tilde = len(parts) + ops.index("~")
                checker.side = "rhs"
            parts.extend(ops)
        elif kind == "value":
            if prev_op in ("**", "^"):
                if not re.fullmatch(r"[0-9]+", tok.token) or not 1 <= int(tok.token) <= _MAX_POWER:
                    raise checker.fail(tok.token, f"a power must be a whole number 1-{_MAX_POWER}")
            elif not re.fullmatch(r"[0-9]+(\.[0-9]+)?", tok.token):
                raise checker.fail(tok.token, "only numbers may appear as literals")
            parts.append(tok.token)
        elif kind == "name":
            name = checker.column(tok.token, tok.token)
            if checker.side == "rhs" and tok.token in checker.contrasts:
                name = f"C({name}, {checker.contrasts[tok.token]})"
                checker.wrapped.add(tok.token)
            parts.append(name)
        elif kind == "python":
            parts.append(checker.python(tok))
        else:  # pragma: no cover - formulaic has no other token kinds
            raise checker.fail(tok.token, "unknown token")
        prev_op = parts[-1] if kind == "operator" else ""
    if tilde < 0:  # one-sided without '~': everything is a right-hand side
        checker.sides = {"lhs": [], "rhs": checker.sides["lhs"]}
    return " ".join(parts), " ".join(parts[tilde + 1:]), tilde > 0


def parse_formula(formula, columns=None, *, where: str = "formula", sides: str = "any",
                  multipart: bool = False, contrasts=()) -> SafeFormula:
    """Check a formula against the whitelist and rebuild it from its checked parts.

    Parameters
    ----------
    formula : str
        The formula, e.g. ``"CHG ~ ARM * AVISIT + BASE"`` or a right-hand side ``"ARM + AGE"``.
    columns : iterable of str, optional
        The columns of the data; every name in the formula must be one of them. ``None``
        checks the syntax only (e.g. when a plan is loaded before its data).
    where : str
        Prefix of error messages (the function or plan key).
    sides : {"any", "two", "rhs"}
        ``"two"`` requires ``outcome ~ terms``; ``"rhs"`` requires no outcome (a leading ``~``
        is allowed).
    multipart : bool, default False
        Allow ``|`` (formulaic's multi-part formulas); no trialstats model takes them.
    contrasts : iterable of (str, str) pairs, optional
        Column -> contrast text from :func:`contrast_text` (e.g. ``("ARM", "contr.sum")``): each
        bare occurrence of the column right of ``~`` becomes ``C(column, contrast)`` in
        ``.text`` (R's ``contrasts = list(ARM = "contr.sum")``). A column that never occurs
        bare right of ``~`` raises :class:`ModelError`.

    Returns
    -------
    SafeFormula
        ``.text`` is the only string to hand to formulaic.

    Raises
    ------
    ModelError
        Not a string, too long or deep, not parsable, or any part outside the whitelist (the
        message quotes the part and lists what is allowed).
    """
    if not isinstance(formula, str) or not formula.strip():
        raise ModelError(f"{where}: formula must be a non-empty string such as 'AVAL ~ ARM * WEEK'; "
                         f"got {formula!r}")
    if len(formula) > _MAX_CHARS:
        raise ModelError(f"{where}: formula is {len(formula)} characters long; at most "
                         f"{_MAX_CHARS} are allowed")
    if any(not (c.isprintable() or c in " \t\n") for c in formula):
        raise ModelError(f"{where}: formula {formula!r} contains control characters")
    checker = _Checker(formula, columns, where)
    checker.contrasts = dict(contrasts)
    tokens = _tokens(formula, checker)
    if len(tokens) > _MAX_TOKENS:
        raise ModelError(f"{where}: formula has {len(tokens)} parts; at most {_MAX_TOKENS} allowed")
    text, rhs, has_lhs = _rebuild(tokens, checker)
    if not multipart and any("|" in t.token for t in tokens if t.kind.value == "operator"):
        raise ModelError(f"{where}: formula {formula!r}: '|' (a multi-part formula) is not "
                         "supported by this model; write the terms with + instead")
    if sides == "two" and not has_lhs:
        raise ModelError(f"{where}: formula {formula!r} must have one outcome column left of '~'")
    if sides == "rhs" and has_lhs:
        raise ModelError(f"{where}: formula {formula!r} must be a right-hand side without an outcome")
    unused = [c for c in checker.contrasts if c not in checker.wrapped]
    if unused:
        raise ModelError(f"{where}: contrasts= names {', '.join(map(repr, unused))}, not a term "
                         f"right of '~' in {formula!r} (a column already inside C() keeps the "
                         "contrast given there)")
    _check_parse(text, checker)
    return SafeFormula(formula, text, tuple(checker.used), tuple(checker.sides["lhs"]),
                       tuple(checker.sides["rhs"]), rhs)


def _check_parse(text: str, checker: _Checker) -> None:
    """formulaic must parse the rebuilt text using only whitelisted operators."""
    from formulaic.parser import DefaultFormulaParser
    from formulaic.parser.types import ASTNode

    try:
        tree = DefaultFormulaParser().get_ast(text)
    except RecursionError:
        raise ModelError(f"{checker.where}: formula {checker.formula!r} is nested too deeply") from None
    except Exception as e:  # formulaic's FormulaSyntaxError / FormulaParsingError
        raise ModelError(f"{checker.where}: cannot parse formula {checker.formula!r}: {e}") from None
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ASTNode):
            if node.operator.symbol not in _OPERATORS:
                raise checker.fail(node.operator.symbol, "operator not allowed")
            stack.extend(node.args)
    bound = _term_bound(tree, ASTNode)
    if bound > _MAX_TERMS:
        raise ModelError(f"{checker.where}: formula {checker.formula!r} expands to up to {bound:.3g} "
                         f"terms; at most {_MAX_TERMS} are allowed (check * and ^ of many terms)")


def _term_bound(node, node_type) -> float:
    """An upper bound on the number of terms a formula expands to, computed before expanding."""
    if not isinstance(node, node_type):
        return 1.0
    args = [_term_bound(a, node_type) for a in node.args]
    sym = node.operator.symbol
    if sym in ("**", "^") and len(args) == 2:
        k = int(str(node.args[1])) if str(node.args[1]).isdigit() else _MAX_POWER
        return float(sum(math.comb(int(min(args[0], 1e6)), i) for i in range(1, k + 1)))
    if sym == "*" and len(args) == 2:
        return args[0] + args[1] + args[0] * args[1]
    if sym == ":" and len(args) == 2:
        return args[0] * args[1]
    if sym == "/" and len(args) == 2:
        return args[0] + args[0] * args[1]
    return float(sum(args))


def check_factor_levels(frame, columns, where: str, formula: str = "") -> None:
    """Refuse a factor column of a model with more than :data:`MAX_FACTOR_LEVELS` levels.

    Checked before formulaic builds the design: a column with a level per subject (an id, a
    free-text field) gives a design with thousands of columns whose fit would not end.

    Parameters
    ----------
    frame : pandas.DataFrame
    columns : iterable of str
        Columns of the formula (numeric columns are skipped).
    where : str
        Prefix of the message (the function).
    formula : str
        The formula, quoted in the message.

    Raises
    ------
    ModelError
        Names the column, its number of levels and the limit.
    """
    import pandas as pd

    for col in dict.fromkeys(columns):
        if col not in frame.columns:
            continue
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            continue
        n = s.nunique(dropna=True)
        if n > MAX_FACTOR_LEVELS:
            raise ModelError(
                f"{where}: column {col!r} of {formula!r} is a factor with {n} levels; at most "
                f"{MAX_FACTOR_LEVELS} are allowed (is it an identifier or free text? use a "
                "coarser grouping, or a numeric column)")

