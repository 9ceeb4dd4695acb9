"""Epoch-level expressions of model files (``initial``, ``epoch_start``, ``epoch_end``,
``delay``, gradient parameter values), evaluated without ever running Python code.

A model file is data. Its expressions are parsed into a Python syntax tree and only a small
arithmetic language is evaluated: numbers, names given by the caller, ``+ - * / // % **``,
comparisons, ``and``/``or``/``not``, ``a if c else b``, the NumPy functions in
:data:`FUNCTIONS` (also as ``np.NAME``), and ``rng.uniform`` / ``rng.normal`` on a random
generator the caller hands in. Anything else (attribute access, subscripts, lambdas,
comprehensions, imports) is refused in one line.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping

import numpy as np

from brainsnn.core.errors import BrainsnnError


def _elementwise(name: str) -> Callable:
    """math.NAME for a plain number (correctly rounded, as sympy gives it), np.NAME otherwise."""
    scalar, array = getattr(math, name), getattr(np, name)
    return lambda x: scalar(x) if isinstance(x, int | float) else array(x)


#: Functions an expression may call, by name (and as np.NAME).
FUNCTIONS: dict[str, Callable] = {
    **{name: _elementwise(name) for name in ("exp", "log", "sqrt", "floor", "ceil")},
    **{name: getattr(np, name) for name in ("abs", "clip", "minimum", "maximum")},
}
#: Methods of a random generator (``rng``) an expression may call.
RANDOM_METHODS = ("uniform", "normal")
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_MAX_LENGTH = 1000
_MAX_EXPONENT = 1000
_EXTRA = " functions"  # key of the caller's extra functions in the name scope (not a name)


class _Refused(Exception):
    """An expression uses something outside the arithmetic language."""


def _call_target(node: ast.expr, names: Mapping[str, object]) -> Callable:
    extra = names.get(_EXTRA, {})
    if isinstance(node, ast.Name) and node.id in {**FUNCTIONS, **extra}:
        return {**FUNCTIONS, **extra}[node.id]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner, attribute = node.value.id, node.attr
        if owner == "np" and attribute in FUNCTIONS:
            return FUNCTIONS[attribute]
        generator = names.get(owner)
        if isinstance(generator, np.random.Generator) and attribute in RANDOM_METHODS:
            return getattr(generator, attribute)
    raise _Refused(f"calls {ast.unparse(node)}, which is not an allowed function")


def _evaluate(node: ast.AST, names: Mapping[str, object]) -> object:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, names)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise _Refused(f"unknown name '{node.id}'")
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        if isinstance(node.op, ast.Pow) and np.any(np.abs(np.asarray(right)) > _MAX_EXPONENT):
            raise _Refused("an exponent above 1000")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, names))
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(value, names) for value in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _evaluate(node.left, names)
        result = True
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, names)
            result = result and _COMPARE[type(op)](left, right)
            left = right
        return result
    if isinstance(node, ast.IfExp):
        chosen = node.body if _evaluate(node.test, names) else node.orelse
        return _evaluate(chosen, names)
    if isinstance(node, ast.Call) and not node.keywords:
        function = _call_target(node.func, names)
        return function(*(_evaluate(argument, names) for argument in node.args))
    raise _Refused(f"'{ast.unparse(node)}' is not part of the expression language")


def evaluate_expression(
    expression: str,
    names: Mapping[str, object],
    functions: Mapping[str, Callable] | None = None,
) -> object:
    """Evaluate a model file's expression over ``names`` (parameters, state, constants);
    ``functions`` adds callable names to :data:`FUNCTIONS`."""
    try:
        if not isinstance(expression, str) or len(expression) > _MAX_LENGTH:
            raise _Refused("not a short text")
        tree = ast.parse(expression.strip(), mode="eval")
        with np.errstate(all="ignore"):
            return _evaluate(tree, {**names, _EXTRA: dict(functions or {})})
    except (_Refused, SyntaxError, ArithmeticError, TypeError, ValueError, RecursionError) as exc:
        raise BrainsnnError(f"cannot evaluate model expression '{expression}': {exc}") from None


_ALLOWED_NODES = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Attribute,
    *_BINARY,
    *_UNARY,
    *_COMPARE,
    ast.And,
    ast.Or,
)


def check_expression(expression: str, extra_functions: tuple[str, ...] = ()) -> None:
    """BrainsnnError unless ``expression`` stays inside the expression language (checked
    without evaluating it: names are only known when it runs)."""
    try:
        if not isinstance(expression, str) or len(expression) > _MAX_LENGTH:
            raise _Refused("not a short text")
        tree = ast.parse(expression.strip(), mode="eval")
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED_NODES):
                raise _Refused(f"'{ast.unparse(node)}' is not part of the expression language")
            if isinstance(node, ast.Constant) and type(node.value) not in (int, float, bool):
                raise _Refused(f"the constant {node.value!r} is not a number")
            if isinstance(node, ast.Call):
                _check_call(node.func, extra_functions)
            if isinstance(node, ast.Attribute) and not isinstance(node.value, ast.Name):
                raise _Refused(f"'{ast.unparse(node)}' is not part of the expression language")
    except (_Refused, SyntaxError, RecursionError) as exc:
        raise BrainsnnError(f"model expression '{expression}': {exc}") from None


def _check_call(target: ast.expr, extra_functions: tuple[str, ...]) -> None:
    if isinstance(target, ast.Name) and target.id in (*FUNCTIONS, *extra_functions):
        return
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        if (target.value.id, target.attr in FUNCTIONS) == ("np", True):
            return
        if target.value.id == "rng" and target.attr in RANDOM_METHODS:
            return
    raise _Refused(f"calls {ast.unparse(target)}, which is not an allowed function")
