"""JMESPath expressions and ``${...}`` templates, compiled once when a flow loads.

An expression is evaluated over the context ``{event, key, state, vars, now}`` (guards also
see ``call`` and ``agent``). At load the AST is walked so that unknown functions, wrong
arity, malformed literal patterns and names the context does not have are load errors,
not silent ``null`` at run time.
"""

from __future__ import annotations

import difflib
import json
import operator
import re
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import jmespath
from jmespath import exceptions as _jp_errors
from jmespath.visitor import TreeInterpreter

from .functions import FunctionTable, parse_days, parse_windows

__all__ = [
    "CONTEXT_NAMES",
    "GUARD_NAMES",
    "Dynamic",
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "compile_value",
    "expression",
    "format_value",
    "render",
    "truthy",
]

CONTEXT_NAMES = frozenset({"event", "key", "state", "vars", "now"})
#: Limits on one expression, each named in its error: length, brackets (and ``!``) nested,
#: levels of its syntax tree (``a || b || c ...`` adds one per operator).
MAX_EXPRESSION_CHARS = 4000
MAX_EXPRESSION_NESTING = 32
MAX_EXPRESSION_LEVELS = 64
GUARD_NAMES = CONTEXT_NAMES | {"call", "agent"}


class ExpressionError(ValueError):
    """A malformed expression; ``offset`` is the 0-based character where it goes wrong."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class EvaluationError(Exception):
    """An expression failed at run time (a type error in a function, for instance)."""

    def __init__(self, source: str, cause: Exception) -> None:
        super().__init__(f"${{{source}}}: {cause}")
        self.source = source


def truthy(value: Any) -> bool:
    """JMESPath truth: ``null``, ``false``, ``''``, ``[]`` and ``{}`` are false; 0 is true."""
    return not (value is None or value is False or value == "" or value == [] or value == {})


class Expression:
    """A compiled JMESPath expression; ``names`` are the context names it reads."""

    __slots__ = ("_run", "names", "parsed", "source", "vars_read")

    def __init__(
        self, source: str, table: FunctionTable, roots: frozenset[str] = CONTEXT_NAMES
    ) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError("empty expression", 0)
        _check_size(source)
        try:
            compiled = jmespath.compile(source)
        except _jp_errors.ParseError as exc:
            raise ExpressionError(_parse_message(exc), exc.lex_position) from None
        except _jp_errors.JMESPathError as exc:
            raise ExpressionError(str(exc), 0) from None
        except RecursionError:
            raise ExpressionError(_NESTING, 0) from None
        _check_levels(compiled.parsed)
        self.source = source
        self.parsed = compiled.parsed
        variables: set[str] = set()
        self.names = frozenset(_check(self.parsed, source, table, roots, variables))
        self.vars_read = frozenset(variables)
        self._run = _closure(self.parsed, table)

    def evaluate(self, context: Any) -> Any:
        """The expression's value; raises ``EvaluationError`` on a run-time type error."""
        try:
            return self._run(context)
        except (_jp_errors.JMESPathError, TypeError, ValueError) as exc:
            raise EvaluationError(self.source, exc) from None

    def test(self, context: Any) -> bool:
        """The expression's truth (JMESPath rules)."""
        return truthy(self.evaluate(context))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


_NESTING = (
    f"the expression nests brackets (or repeats !) deeper than {MAX_EXPRESSION_NESTING} "
    "levels (max_expression_nesting)"
)


def _check_size(source: str) -> None:
    """Refuse, before parsing, what JMESPath's recursive parser would choke on."""
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(
            f"the expression is {len(source):,} characters, over the limit of "
            f"{MAX_EXPRESSION_CHARS:,} (max_expression_chars); compute parts with set:",
            0,
        )
    depth = negations = 0
    quote = ""
    for offset, char in enumerate(source):
        if quote:
            quote = "" if char == quote else quote
            continue
        if char in "'\"`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        negations = negations + 1 if char == "!" else negations if char == " " else 0
        if depth > MAX_EXPRESSION_NESTING or negations > MAX_EXPRESSION_NESTING:
            raise ExpressionError(_NESTING, offset)


def _check_levels(tree: dict[str, Any]) -> None:
    """Refuse a syntax tree deeper than the limit (walked without recursion)."""
    pending = [(tree, 1)]
    while pending:
        node, level = pending.pop()
        if level > MAX_EXPRESSION_LEVELS:
            raise ExpressionError(
                f"the expression has more than {MAX_EXPRESSION_LEVELS} levels "
                "(max_expression_levels); split it with set: or several conditions",
                0,
            )
        pending.extend(
            (child, level + 1) for child in node.get("children", ()) if isinstance(child, dict)
        )


#: Compiled expressions by function table, then by (source, roots): a flow repeats the same
#: ones (``${event.callRef}``, ``${key}``...), and an ``Expression`` never changes.
_COMPILED: weakref.WeakKeyDictionary[FunctionTable, dict[tuple[str, frozenset[str]], Expression]]
_COMPILED = weakref.WeakKeyDictionary()
_MAX_COMPILED = 100_000


def expression(
    source: str, table: FunctionTable, roots: frozenset[str] = CONTEXT_NAMES
) -> Expression:
    """``Expression(source, table, roots)``, compiled once per table (errors raise each time)."""
    compiled = _COMPILED.get(table)
    if compiled is None:
        compiled = _COMPILED[table] = {}
    found = compiled.get((source, roots))
    if found is None:
        if len(compiled) >= _MAX_COMPILED:
            compiled.clear()
        found = compiled[(source, roots)] = Expression(source, table, roots)
    return found


def _parse_message(exc: _jp_errors.ParseError) -> str:
    token = exc.token_value
    if isinstance(exc, _jp_errors.IncompleteExpressionError) or exc.token_type == "eof":
        return "incomplete expression"
    if isinstance(exc, _jp_errors.LexerError):
        return f"bad token {token!r}" if token else "bad token"
    return f"unexpected {token!r}" if token not in (None, "") else "incomplete expression"


# -- closures -------------------------------------------------------------------------------------
#
# The AST is turned into nested Python closures once, at load: the common node types
# (fields, chains, indexes, literals, comparisons, and/or/not, function calls) become
# direct code with the interpreter's exact semantics; any other node is handed to the
# shared JMESPath interpreter. This removes the interpreter's per-node dispatch from the
# hot path (the test suite compares both on a corpus of expressions).

Closure = Callable[[Any], Any]
_EQUALS = TreeInterpreter.COMPARATOR_FUNC["eq"]
_ORDER = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _path(node: dict[str, Any]) -> list[str | int] | None:
    """``a.b[0].c`` as its steps (field names and list indexes); None for anything else."""
    kind = node["type"]
    if kind in ("field", "index"):
        return [node["value"]]
    if kind in ("subexpression", "index_expression"):
        steps: list[str | int] = []
        for child in node["children"]:
            found = _path(child)
            if found is None:
                return None
            steps.extend(found)
        return steps
    return None


def _follow(steps: tuple[str | int, ...]) -> Closure:
    """A path in one loop instead of a closure per step, with the interpreter's rules: a
    field of a non-object and an index of a non-list or out of range are null."""

    def follow(value: Any) -> Any:
        for step in steps:
            if step.__class__ is int:
                if not isinstance(value, list):
                    return None
                try:
                    value = value[step]
                except IndexError:
                    return None
            else:
                try:
                    value = value.get(step)
                except AttributeError:
                    return None
        return value

    return follow


def _closure(node: dict[str, Any], table: FunctionTable) -> Closure:
    kind = node["type"]
    children = node.get("children", [])
    steps = _path(node) if kind in ("subexpression", "index_expression") else None
    if steps is not None:
        return _follow(tuple(steps))
    if kind == "field":
        name = node["value"]

        def field(value: Any) -> Any:
            try:
                return value.get(name)
            except AttributeError:
                return None

        return field
    if kind in ("subexpression", "index_expression"):
        steps = [_closure(child, table) for child in children]

        def chain(value: Any) -> Any:
            for step in steps:
                value = step(value)
            return value

        return chain
    if kind == "index":
        position = node["value"]

        def index(value: Any) -> Any:
            if not isinstance(value, list):
                return None
            try:
                return value[position]
            except IndexError:
                return None

        return index
    if kind == "literal":
        constant = node["value"]
        return lambda value: constant
    if kind == "current":
        return lambda value: value
    if kind == "comparator":
        left, right = (_closure(child, table) for child in children)
        plain = _literal_string(children[1])
        if plain is not None and node["value"] in ("eq", "ne"):
            # the interpreter's special cases are about numbers and booleans: against a
            # string, equality is Python's
            if node["value"] == "eq":
                return lambda value: left(value) == plain
            return lambda value: left(value) != plain
        if node["value"] == "eq":
            return lambda value: _EQUALS(left(value), right(value))
        if node["value"] == "ne":
            return lambda value: not _EQUALS(left(value), right(value))
        order = _ORDER[node["value"]]

        def compare(value: Any) -> Any:
            a, b = left(value), right(value)
            if (_is_number(a) or isinstance(a, str)) and (_is_number(b) or isinstance(b, str)):
                return order(a, b)
            return None

        return compare
    if kind == "and_expression":
        left, right = (_closure(child, table) for child in children)

        def both(value: Any) -> Any:
            matched = left(value)
            return right(value) if truthy(matched) else matched

        return both
    if kind == "or_expression":
        left, right = (_closure(child, table) for child in children)

        def either(value: Any) -> Any:
            matched = left(value)
            return matched if truthy(matched) else right(value)

        return either
    if kind == "not_expression":
        (inner,) = (_closure(child, table) for child in children)

        def negate(value: Any) -> Any:
            result = inner(value)
            if _is_number(result) and result == 0:
                return False
            return not result

        return negate
    if kind == "function_expression":
        name = node["value"]
        arguments = [_closure(child, table) for child in children]
        functions = table.functions()
        return lambda value: functions.call_function(name, [arg(value) for arg in arguments])
    visit = table.interpreter().visit
    return lambda value: visit(node, value)


# -- static checks --------------------------------------------------------------------------------

# Node types whose children all see the same input as the node itself.
_SAME_INPUT = {
    "comparator",
    "and_expression",
    "or_expression",
    "not_expression",
    "function_expression",
    "multi_select_list",
    "multi_select_dict",
    "key_val_pair",
    "flatten",
}
# Node types whose first child reads the node's input and the others what it produced.
_CHAINS = {
    "subexpression",
    "index_expression",
    "pipe",
    "projection",
    "filter_projection",
    "value_projection",
}


def _check(
    node: dict[str, Any],
    source: str,
    table: FunctionTable,
    roots: frozenset[str],
    variables: set[str],
) -> set[str]:
    """The context names ``node`` reads (and in ``variables`` the ``vars.NAME`` it reads);
    raises ``ExpressionError`` at the first problem."""
    names: set[str] = set()
    _walk(node, True, source, table, roots, names, variables)
    return names


def _walk(
    node: Any,
    at_root: bool,
    source: str,
    table: FunctionTable,
    roots: frozenset[str],
    names: set[str],
    variables: set[str],
) -> None:
    if not isinstance(node, dict):
        return
    kind = node["type"]
    children = node.get("children", [])
    if kind in ("subexpression", "index_expression") and children[0]["type"] == "not_expression":
        negated = _find_word(source, "!")
        raise ExpressionError(
            "! applies to what follows it up to the first '.' or '[' (!event.busy is "
            "(!event).busy, always null): write !(event.busy)",
            negated,
        )
    if kind == "subexpression" and at_root and len(children) >= 2:
        head, field = children[0], children[1]
        while field["type"] in ("index_expression", "projection", "subexpression"):
            field = field["children"][0]
        if head.get("value") == "vars" and head["type"] == field["type"] == "field":
            variables.add(field["value"])
    if kind == "field":
        if at_root:
            _check_root(node["value"], source, roots)
            names.add(node["value"])
        return
    if kind == "function_expression":
        _check_call(node, source, table)
    if kind in _CHAINS:
        # the first child reads the input, the rest read what it produced
        for i, child in enumerate(children):
            _walk(child, at_root and i == 0, source, table, roots, names, variables)
        return
    if kind == "expref":
        for child in children:
            _walk(child, False, source, table, roots, names, variables)
        return
    for child in children:
        _walk(child, at_root and kind in _SAME_INPUT, source, table, roots, names, variables)


_VALUES = {"null": "`null`", "true": "`true`", "false": "`false`"}


def _check_root(name: str, source: str, roots: frozenset[str]) -> None:
    if name in roots:
        return
    offset = _find_word(source, name)
    if name in _VALUES:
        raise ExpressionError(
            f"{name} without backquotes is a field name in JMESPath: write {_VALUES[name]} "
            f"for the value, or '{name}' for the text",
            offset,
        )
    hint = difflib.get_close_matches(name, sorted(roots), n=1)
    suggestion = f"did you mean {hint[0] if hint else 'event.' + name}?"
    known = ", ".join(sorted(roots))
    raise ExpressionError(f"unknown name {name!r} (the context has {known}; {suggestion})", offset)


def _check_call(node: dict[str, Any], source: str, table: FunctionTable) -> None:
    name = node["value"]
    args = node["children"]
    offset = _find_word(source, name + "(")
    arity = table.arity_of(name)
    if arity is None:
        close = difflib.get_close_matches(name, table.names(), n=1)
        hint = f" (did you mean {close[0]}()?)" if close else ""
        raise ExpressionError(f"unknown function {name}(){hint}", offset)
    count, variadic = arity
    if (variadic and len(args) < count) or (not variadic and len(args) != count):
        expected = f"at least {count}" if variadic else str(count)
        raise ExpressionError(
            f"{name}() takes {expected} argument{'s' * (count != 1)}, got {len(args)}", offset
        )
    literal = _literal_string(args[1]) if len(args) > 1 else None
    if literal is None:
        return
    try:
        if name == "regex_match":
            re.compile(literal)
        elif name == "time_in":
            parse_windows(literal)
        elif name == "weekday_in":
            parse_days(literal)
    except (ValueError, re.error) as exc:
        raise ExpressionError(f"{name}(): {exc}", offset) from None


def _literal_string(node: Any) -> str | None:
    if isinstance(node, dict) and node.get("type") == "literal" and isinstance(node["value"], str):
        return node["value"]
    return None


def _find_word(source: str, word: str) -> int:
    match = re.search(r"(?<![\w.])" + re.escape(word), source)
    return match.start() if match else 0


# -- templates ------------------------------------------------------------------------------------


class Dynamic(ABC):
    """A value computed from the context when used (a template, or a structure holding one)."""

    __slots__ = ()

    @abstractmethod
    def render(self, context: Any) -> Any:
        """The value in ``context``; raises ``EvaluationError`` when an expression fails."""

    @abstractmethod
    def expressions(self) -> Iterator[Expression]:
        """The expressions it holds (the loader collects the names they read)."""


class _Whole(Dynamic):
    """``"${expr}"``: the expression's value, with its type."""

    __slots__ = ("expression",)

    def __init__(self, expression: Expression) -> None:
        self.expression = expression

    def render(self, context: Any) -> Any:
        return self.expression.evaluate(context)

    def expressions(self) -> Iterator[Expression]:
        yield self.expression


class _Text(Dynamic):
    """Text with ``${expr}`` parts, each formatted into the string."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[str | Expression]) -> None:
        self.parts = parts

    def render(self, context: Any) -> str:
        return "".join(
            part if isinstance(part, str) else format_value(part.evaluate(context))
            for part in self.parts
        )

    def expressions(self) -> Iterator[Expression]:
        yield from (part for part in self.parts if isinstance(part, Expression))


class _Mapping(Dynamic):
    __slots__ = ("items",)

    def __init__(self, items: dict[Any, Any]) -> None:
        self.items = items

    def render(self, context: Any) -> dict[Any, Any]:
        return {key: render(value, context) for key, value in self.items.items()}

    def expressions(self) -> Iterator[Expression]:
        for value in self.items.values():
            if isinstance(value, Dynamic):
                yield from value.expressions()


class _Sequence(Dynamic):
    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def render(self, context: Any) -> list[Any]:
        return [render(value, context) for value in self.items]

    def expressions(self) -> Iterator[Expression]:
        for value in self.items:
            if isinstance(value, Dynamic):
                yield from value.expressions()


def render(value: Any, context: Any) -> Any:
    """``value`` with its templates evaluated (plain values are returned as they are)."""
    return value.render(context) if isinstance(value, Dynamic) else value


def format_value(value: Any) -> str:
    """How a value reads inside text: null is empty, booleans lower-case, structures JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def compile_text(
    text: str,
    table: FunctionTable,
    roots: frozenset[str] = CONTEXT_NAMES,
    report: Callable[[ExpressionError], None] | None = None,
) -> Any:
    """A string as a template: itself if it holds no ``${``, else a ``Dynamic``.

    Each malformed part is an ``ExpressionError`` with its offset in ``text``: without
    ``report`` the first is raised; with it, every one is reported and the text is kept.
    """
    if "${" not in text:
        return text
    parts: list[str | Expression] = []
    literal: list[str] = []
    failed = False
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
            continue
        if not text.startswith("${", i):
            literal.append(text[i])
            i += 1
            continue
        end = _closing_brace(text, i + 2)
        try:
            if end < 0:
                raise ExpressionError("unclosed ${ (missing })", i)
            try:
                compiled = expression(text[i + 2 : end], table, roots)
            except ExpressionError as exc:
                raise ExpressionError(exc.message, i + 2 + (exc.offset or 0)) from None
        except ExpressionError as exc:
            if report is None:
                raise
            report(exc)
            failed = True
            if end < 0:
                break
            i = end + 1
            continue
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(compiled)
        i = end + 1
    if failed:
        return text
    if literal:
        parts.append("".join(literal))
    if len(parts) == 1 and isinstance(parts[0], Expression):
        return _Whole(parts[0])
    if all(isinstance(part, str) for part in parts):
        return "".join(parts)  # only escaped ``$${``
    return _Text(parts)


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing a ``${`` whose body starts at ``start``; -1 if none."""
    depth = 1
    i = start
    quote = ""
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def compile_value(
    value: Any,
    table: FunctionTable,
    roots: frozenset[str] = CONTEXT_NAMES,
    on_error: Any = None,
    path: tuple[Any, ...] = (),
) -> Any:
    """A YAML value with every ``${...}`` compiled; plain parts stay plain.

    ``on_error(path, error)`` is called for each malformed part of a template (``path``
    leads from ``value`` to the faulty string) and the string is kept as it is; without it
    the first ``ExpressionError`` is raised.
    """
    if isinstance(value, str):
        report = None if on_error is None else lambda exc: on_error(path, exc)
        return compile_text(value, table, roots, report)
    if isinstance(value, dict):
        items = {
            key: compile_value(item, table, roots, on_error, (*path, key))
            for key, item in value.items()
        }
        if any(isinstance(item, Dynamic) for item in items.values()):
            return _Mapping(items)
        return items
    if isinstance(value, list):
        items_list = [
            compile_value(item, table, roots, on_error, (*path, index))
            for index, item in enumerate(value)
        ]
        if any(isinstance(item, Dynamic) for item in items_list):
            return _Sequence(items_list)
        return items_list
    return value
