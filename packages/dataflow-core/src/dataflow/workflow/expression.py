"""A small expression language for conditional connections, parsed, never ``eval``-ed.

    record.age >= 18 and not (record.role == 'admin' or count in [0, 1])

Names are dotted paths into the source node's output (``records.0.id``
indexes lists). A key the output does not have is an error (:class:`MissingOutput`);
an index past the end of a list, or a step through ``null``, is ``null``.
Comparisons: ``== != < <= > >= in``, ``not in``; logic: ``and or not``;
literals: numbers, quoted strings, ``true false null`` and lists.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from ..errors import WorkflowBuildError

_TOKEN_PATTERN = r"""\s*(?:
    (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    )"""


@functools.cache
def _token() -> re.Pattern[str]:
    """The token pattern, compiled when the first condition is parsed (compiling it costs ``import dataflow`` ms)."""
    return re.compile(_TOKEN_PATTERN, re.VERBOSE)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: b is not None and a in b,
    "not in": lambda a, b: b is None or a not in b,
}
_LITERALS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_KEYWORDS = {"and", "or", "not", "in"}
MAX_NESTING = 50
"""Deepest nesting of parentheses, lists and ``not`` a condition may have (parsing recurses per level)."""


class MissingOutput(LookupError):
    """A path names a key the output does not have: ``parts[:depth]`` exists, ``parts[depth]`` does not."""

    def __init__(self, parts: tuple[str, ...], depth: int, options: tuple[str, ...]) -> None:
        super().__init__(".".join(parts[: depth + 1]))
        self.parts = parts
        self.depth = depth
        self.options = options
        """The keys that exist at ``depth`` (none when the value there is not an object)."""


class Expression:
    def evaluate(self, scope: Any) -> Any:
        raise NotImplementedError

    def paths(self) -> Iterator[tuple[str, ...]]:
        """Every output path the expression reads."""
        return iter(())


@attrs.frozen
class Literal(Expression):
    value: Any

    def evaluate(self, scope: Any) -> Any:
        return self.value


@attrs.frozen
class Path(Expression):
    parts: tuple[str, ...]

    def evaluate(self, scope: Any) -> Any:
        return resolve_path(scope, self.parts)

    def paths(self) -> Iterator[tuple[str, ...]]:
        yield self.parts


@attrs.frozen
class ListOf(Expression):
    items: tuple[Expression, ...]

    def evaluate(self, scope: Any) -> Any:
        return [item.evaluate(scope) for item in self.items]

    def paths(self) -> Iterator[tuple[str, ...]]:
        for item in self.items:
            yield from item.paths()


@attrs.frozen
class Compare(Expression):
    op: str
    left: Expression
    right: Expression

    def evaluate(self, scope: Any) -> bool:
        left, right = self.left.evaluate(scope), self.right.evaluate(scope)
        try:
            return bool(_COMPARISONS[self.op](left, right))
        except TypeError:
            return False  # comparing null or unlike types is false, not a crash

    def paths(self) -> Iterator[tuple[str, ...]]:
        yield from self.left.paths()
        yield from self.right.paths()


@attrs.frozen
class Logic(Expression):
    op: str
    operands: tuple[Expression, ...]

    def evaluate(self, scope: Any) -> bool:
        if self.op == "and":
            return all(o.evaluate(scope) for o in self.operands)
        return any(o.evaluate(scope) for o in self.operands)

    def paths(self) -> Iterator[tuple[str, ...]]:
        for operand in self.operands:
            yield from operand.paths()


@attrs.frozen
class Not(Expression):
    operand: Expression

    def evaluate(self, scope: Any) -> bool:
        return not self.operand.evaluate(scope)

    def paths(self) -> Iterator[tuple[str, ...]]:
        return self.operand.paths()


def resolve_path(value: Any, parts: tuple[str, ...]) -> Any:
    """Walk ``parts`` into nested dicts and lists.

    A key an object does not have, or a step into a plain value, raises
    :class:`MissingOutput`: that is a typo, not data. An index past the end of
    a list, or a step through ``None``, gives ``None``: that is data (no
    record was found).
    """
    for depth, part in enumerate(parts):
        if value is None:
            return None
        if isinstance(value, Mapping):
            if part not in value:
                raise MissingOutput(parts, depth, tuple(map(str, value)))
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            raise MissingOutput(parts, depth, ())
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.position = 0
        self.depth = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, index = [], 0
        while index < len(text):
            if text[index:].strip() == "":
                break
            match = _token().match(text, index)
            if match is None or match.end() == index:
                raise self.error(f"unexpected character {text[index:].strip()[0]!r}")
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match.group(kind)))
            index = match.end()
        return tokens

    def error(self, message: str) -> WorkflowBuildError:
        return WorkflowBuildError(f"condition {self.text!r}: {message}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def accept(self, value: str) -> bool:
        token = self.peek()
        if token is not None and token[1] == value and token[0] in ("op", "name"):
            self.position += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise self.error(f"expected {value!r}")

    def parse(self) -> Expression:
        if not self.tokens:
            raise self.error("is empty")
        expression = self.logic("or")
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expression

    def logic(self, op: str) -> Expression:
        lower: Callable[[], Expression] = (lambda: self.logic("and")) if op == "or" else self.negation
        operands = [lower()]
        while self.accept(op):
            operands.append(lower())
        return operands[0] if len(operands) == 1 else Logic(op, tuple(operands))

    def nested(self, parse: Callable[[], Expression]) -> Expression:
        """``parse()`` one level deeper; refused past ``MAX_NESTING`` rather than exhausting the stack."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"is nested more than {MAX_NESTING} levels deep")
        try:
            return parse()
        finally:
            self.depth -= 1

    def negation(self) -> Expression:
        if self.accept("not"):
            return Not(self.nested(self.negation))
        return self.comparison()

    def comparison(self) -> Expression:
        left = self.operand()
        token = self.peek()
        if token is None:
            return left
        if token[1] in _COMPARISONS and token[0] in ("op", "name"):
            self.position += 1
            return Compare(token[1], left, self.operand())
        if (
            token == ("name", "not")
            and self.position + 1 < len(self.tokens)
            and self.tokens[self.position + 1][1] == "in"
        ):
            self.position += 2
            return Compare("not in", left, self.operand())
        return left

    def operand(self) -> Expression:
        token = self.peek()
        if token is None:
            raise self.error("ends too early")
        kind, value = token
        self.position += 1
        if kind == "number":
            return Literal(float(value) if "." in value else int(value))
        if kind == "string":
            return Literal(re.sub(r"\\(.)", r"\1", value[1:-1]))
        if value == "(":
            return self.nested(self.parenthesized)
        if value == "[":
            return self.nested(self.list_literal)
        if kind == "name" and value in _LITERALS:
            return Literal(_LITERALS[value])
        if kind == "name" and value not in _KEYWORDS:
            return Path(tuple(value.split(".")))
        raise self.error(f"unexpected {value!r}")

    def parenthesized(self) -> Expression:
        inner = self.logic("or")
        self.expect(")")
        return inner

    def list_literal(self) -> Expression:
        items: list[Expression] = []
        if not self.accept("]"):
            items.append(self.operand())
            while self.accept(","):
                items.append(self.operand())
            self.expect("]")
        return ListOf(tuple(items))


def parse_condition(text: str) -> Expression:
    """Parse ``text``; a syntax error is a ``WorkflowBuildError`` naming the condition."""
    if not isinstance(text, str):
        raise WorkflowBuildError(f"a condition must be a string, got {type(text).__name__}")
    return _Parser(text).parse()
