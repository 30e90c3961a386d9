"""Parse and evaluate the AIP-160 style list filters of SCC and Cloud Logging.

The grammar is the subset both services document: restrictions ``field OP value`` with
``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=`` and ``:`` (has / substring), combined with
``AND``, ``OR``, ``NOT``, a leading ``-`` and parentheses. Like AIP-160, ``OR`` binds tighter
than ``AND`` and juxtaposed restrictions are joined by ``AND``. Field names and value
coercion are supplied by each service.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor as pb_descriptor
from google.protobuf import message as pb_message
from google.protobuf import struct_pb2, timestamp_pb2

OPERATORS = ("<=", ">=", "!=", "=", "<", ">", ":")
_WORD = re.compile(r"[A-Za-z0-9_.@/*+\-]+")
_PATH_PART = re.compile(r'"([^"]*)"|([^."]+)')


class FilterError(ValueError):
    """A filter the service would reject with INVALID_ARGUMENT."""


@dataclass(frozen=True)
class Value:
    text: str
    quoted: bool


@dataclass(frozen=True)
class Restriction:
    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Restriction | And | Or | Not


@dataclass(frozen=True)
class EnumValue:
    """An enum field's value, kept with its descriptor so names order like numbers."""

    name: str
    number: int
    descriptor: pb_descriptor.EnumDescriptor


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "op", "string", "word", "-"
    text: str
    pos: int


def _tokenize(text: str) -> Iterator[_Token]:
    pos = 0
    last_kind = ""
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
            continue
        token: _Token
        if char in "()":
            token = _Token(char, char, pos)
            pos += 1
        elif char == '"':
            value, end = _read_string(text, pos)
            token = _Token("string", value, pos)
            pos = end
        elif op := next((o for o in OPERATORS if text.startswith(o, pos)), None):
            token = _Token("op", op, pos)
            pos += len(op)
        elif char == "-" and last_kind != "op":
            # A leading minus negates the next restriction; after an operator it signs a number.
            token = _Token("-", char, pos)
            pos += 1
        elif match := _WORD.match(text, pos):
            token = _Token("word", match.group(), pos)
            pos = match.end()
        else:
            raise FilterError(f"unexpected character {char!r} at position {pos}")
        last_kind = token.kind
        yield token


def _read_string(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    index = pos + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
        elif char == '"':
            return "".join(out), index + 1
        else:
            out.append(char)
            index += 1
    raise FilterError(f"unterminated string starting at position {pos}")


class _Parser:
    def __init__(self, text: str, *, bare_values: bool) -> None:
        self._tokens = list(_tokenize(text))
        self._index = 0
        self._bare_values = bare_values

    def parse(self) -> Expr | None:
        if not self._tokens:
            return None
        expr = self._and()
        if (token := self._peek()) is not None:
            raise FilterError(f"unexpected {token.text!r} at position {token.pos}")
        return expr

    def _peek(self) -> _Token | None:
        return self._tokens[self._index] if self._index < len(self._tokens) else None

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:
            raise FilterError("filter ends unexpectedly")
        self._index += 1
        return token

    def _is_keyword(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "word" and token.text == word

    def _and(self) -> Expr:
        items = [self._or()]
        while (token := self._peek()) is not None and token.kind != ")":
            if self._is_keyword("AND"):
                self._take()
            items.append(self._or())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _or(self) -> Expr:
        items = [self._unary()]
        while self._is_keyword("OR"):
            self._take()
            items.append(self._unary())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _unary(self) -> Expr:
        token = self._take()
        if token.kind == "-" or (token.kind == "word" and token.text == "NOT"):
            return Not(self._unary())
        if token.kind == "(":
            inner = self._and()
            if self._take().kind != ")":
                raise FilterError(f"missing ')' for '(' at position {token.pos}")
            return inner
        if token.kind != "word" or token.text in ("AND", "OR"):
            raise FilterError(f"expected a field name at position {token.pos}, got {token.text!r}")
        field = token.text
        segment = self._peek()
        if field.endswith(".") and segment is not None and segment.kind == "string":
            # A quoted segment names a key holding dots or slashes, as Cloud Logging
            # documents for labels."run.googleapis.com/execution_name".
            self._take()
            field += '"' + segment.text + '"'
        op = self._take()
        if op.kind != "op":
            raise FilterError(f"expected an operator after {field!r} at position {op.pos}")
        value = self._take()
        if value.kind == "string":
            return Restriction(field, op.text, Value(value.text, quoted=True))
        if value.kind != "word":
            raise FilterError(f"expected a value after {op.text!r} at position {value.pos}")
        if not self._bare_values and not _is_bare_literal(value.text):
            raise FilterError(f"string value {value.text!r} must be in double quotes")
        return Restriction(field, op.text, Value(value.text, quoted=False))


def _is_bare_literal(text: str) -> bool:
    return text in ("true", "false", "*") or re.fullmatch(r"-?\d+(\.\d+)?", text) is not None


def parse(text: str, *, bare_values: bool = False) -> Expr | None:
    """Parse a filter; None for an empty one. Raises FilterError on bad syntax.

    Args:
        bare_values: accept unquoted words as string values (Cloud Logging does, SCC
            only accepts numbers and booleans unquoted).
    """
    return _Parser(text, bare_values=bare_values).parse()


def field_path(field: str) -> list[str]:
    """Split a field name on dots, keeping a quoted segment (``labels."a.b/c"``) whole."""
    return [quoted or bare for quoted, bare in _PATH_PART.findall(field)]


def restrictions(expr: Expr | None) -> Iterator[Restriction]:
    """Yield every restriction in the expression."""
    if expr is None:
        return
    if isinstance(expr, Restriction):
        yield expr
    elif isinstance(expr, Not):
        yield from restrictions(expr.item)
    else:
        for item in expr.items:
            yield from restrictions(item)


Resolver = Callable[[str], list[Any]]


def evaluate(expr: Expr | None, resolve: Resolver, *, fold_case: bool = False) -> bool:
    """Evaluate against one record; ``resolve`` maps a field name to its values."""
    if expr is None:
        return True
    if isinstance(expr, And):
        return all(evaluate(item, resolve, fold_case=fold_case) for item in expr.items)
    if isinstance(expr, Or):
        return any(evaluate(item, resolve, fold_case=fold_case) for item in expr.items)
    if isinstance(expr, Not):
        return not evaluate(expr.item, resolve, fold_case=fold_case)
    candidates = resolve(expr.field)
    if expr.op == "!=":
        return not any(_matches(c, "=", expr.value, fold_case) for c in candidates)
    return any(_matches(c, expr.op, expr.value, fold_case) for c in candidates)


def _matches(candidate: Any, op: str, value: Value, fold_case: bool) -> bool:
    if op == ":" and value.text == "*" and not value.quoted:
        return candidate not in (None, "", [], {})
    if isinstance(candidate, EnumValue):
        return _match_enum(candidate, op, value)
    if isinstance(candidate, dt.datetime):
        return _order(op, candidate, parse_time(value))
    if isinstance(candidate, bool):
        if value.text not in ("true", "false"):
            raise FilterError(f"{value.text!r} is not a boolean")
        return _order(op, candidate, value.text == "true")
    if isinstance(candidate, int | float):
        try:
            number = float(value.text)
        except ValueError:
            return op == ":" and value.text in str(candidate)
        return _order(op, float(candidate), number)
    text, wanted = str(candidate), value.text
    if op == ":":
        return wanted.lower() in text.lower() if fold_case else wanted in text
    return _order(op, text, wanted)


def _match_enum(candidate: EnumValue, op: str, value: Value) -> bool:
    if op == ":":
        return value.text.upper() in candidate.name
    named = candidate.descriptor.values_by_name.get(value.text.upper())
    if named is not None:
        number = named.number
    elif re.fullmatch(r"-?\d+", value.text):
        number = int(value.text)
    else:
        raise FilterError(f"{value.text!r} is not a value of {candidate.descriptor.name}")
    return _order("=" if op == "=" else op, candidate.number, number)


def _order(op: str, left: Any, right: Any) -> bool:
    if op in ("=", ":"):
        return bool(left == right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    raise FilterError(f"operator {op!r} is not supported here")


def parse_time(value: Value) -> dt.datetime:
    """Read an RFC 3339 string or, unquoted, milliseconds since the epoch."""
    if not value.quoted and re.fullmatch(r"\d+", value.text):
        return dt.datetime.fromtimestamp(int(value.text) / 1000, tz=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value.text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FilterError(f"{value.text!r} is not an RFC 3339 timestamp") from exc
    if moment.tzinfo is None:
        raise FilterError(f"timestamp {value.text!r} needs a time zone offset")
    return moment


def proto_values(message: pb_message.Message, path: list[str], *, camel: bool = False) -> list[Any]:
    """Walk a field path through a protobuf message, fanning out over repeated fields."""
    current: list[Any] = [message]
    for part in path:
        following: list[Any] = []
        for item in current:
            following.extend(_step(item, part, camel))
        current = following
    return [_leaf(item) for item in current]


def _step(item: Any, part: str, camel: bool) -> list[Any]:
    if isinstance(item, dict):
        return _fan_out(item.get(part))
    if not isinstance(item, pb_message.Message):
        return []
    if isinstance(item, struct_pb2.Struct):
        return _fan_out(_struct_value(item.fields[part])) if part in item.fields else []
    fields = item.DESCRIPTOR.fields_by_camelcase_name if camel else item.DESCRIPTOR.fields_by_name
    # proto-plus renames fields that shadow Python builtins (type -> type_).
    field = fields.get(part) or fields.get(part + "_")
    if field is None:
        return []
    raw = getattr(item, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return [dict(raw.items())]
    if field.is_repeated:
        return [_wrap(field, element) for element in raw]
    if field.message_type is not None and not item.HasField(field.name):
        return []
    return [_wrap(field, raw)]


def _wrap(field: pb_descriptor.FieldDescriptor, raw: Any) -> Any:
    if field.enum_type is not None:
        enum_value = field.enum_type.values_by_number.get(raw)
        name = enum_value.name if enum_value is not None else str(raw)
        return EnumValue(name, raw, field.enum_type)
    return raw


def _fan_out(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _struct_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {k: _struct_value(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_struct_value(v) for v in value.list_value.values]
    if kind == "null_value" or kind is None:
        return None
    return getattr(value, kind)


def _leaf(item: Any) -> Any:
    if isinstance(item, timestamp_pb2.Timestamp):
        return item.ToDatetime(tzinfo=dt.UTC)
    if isinstance(item, struct_pb2.Value):
        return _struct_value(item)
    if isinstance(item, struct_pb2.Struct):
        return {k: _struct_value(v) for k, v in item.fields.items()}
    return item
