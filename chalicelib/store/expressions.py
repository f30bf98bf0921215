"""A parser for DynamoDB condition and update expressions, for the guard's checks.

The guard and the platform connection decide from what a request *does*, not from
what its text happens to contain: ``attribute_not_exists(x) OR attribute_exists(pk)``
contains ``attribute_not_exists`` and still matches an existing item. So both parse
the expression (grammar: the DynamoDB developer guide's "Condition expressions" and
"Update expressions") with names (``#n``) resolved; anything that does not parse is
refused by the caller (:class:`ExpressionError`), never guessed at.
"""
# Over 300 lines: one grammar (tokenizer, condition and update parsers) is clearer read whole
# than split across modules that would only ever be used together.
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"\s*(?:(<>|<=|>=|[=<>(),.+\-\[\]])|(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)"
                    r"|([A-Za-z_][A-Za-z0-9_]*)|(\d+))")
_COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})
# Comparisons that are false for a missing attribute: a condition that requires one on
# any attribute can only hold for an item that exists.
_EXISTING_ONLY = frozenset({"=", "<", "<=", ">", ">="})
_EXISTING_FUNCTIONS = frozenset({"attribute_exists", "begins_with", "contains", "attribute_type"})


class ExpressionError(ValueError):
    """The expression does not parse (the guard refuses what it cannot read)."""


@dataclass(frozen=True)
class Path:
    names: tuple[str, ...]

    @property
    def attribute(self) -> str:
        """The top-level attribute the path starts at."""
        return self.names[0]


@dataclass(frozen=True)
class Value:
    placeholder: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Between:
    subject: Node
    low: Node
    high: Node


@dataclass(frozen=True)
class In:
    subject: Node
    options: tuple[Node, ...]


@dataclass(frozen=True)
class Logical:
    op: str  # "AND" | "OR"
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Arithmetic:
    op: str
    left: Node
    right: Node


Node = Path | Value | Call | Compare | Between | In | Logical | Not | Arithmetic


@dataclass
class Update:
    """An update expression's actions: ``sets`` pairs each SET path with its value."""

    sets: list[tuple[Path, Node]] = field(default_factory=list)
    removes: list[Path] = field(default_factory=list)
    adds: list[tuple[Path, Value]] = field(default_factory=list)
    deletes: list[tuple[Path, Value]] = field(default_factory=list)

    def written(self) -> set[str]:
        """Every top-level attribute the update changes."""
        paths = [p for p, _ in self.sets] + self.removes + [p for p, _ in self.adds] + [p for p, _ in self.deletes]
        return {p.attribute for p in paths}


class _Parser:
    def __init__(self, text: str, names: dict[str, str]) -> None:
        self.tokens = self._tokenize(text)
        self.names = names
        self.at = 0

    @staticmethod
    def _tokenize(text: str) -> list[str]:
        tokens, position = [], 0
        text = text.rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise ExpressionError(f"unexpected text at {position}")
            tokens.append(next(g for g in match.groups() if g is not None))
            position = match.end()
        return tokens

    def peek(self, offset: int = 0) -> str | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.upper() == word:
            self.at += 1
            return True
        return False

    def expect(self, token: str) -> None:
        if self.peek() != token:
            raise ExpressionError(f"expected {token!r}")
        self.at += 1

    def done(self) -> None:
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()!r}")

    # ---- operands --------------------------------------------------------------------

    def name(self, token: str) -> str:
        if token.startswith("#"):
            if token not in self.names:
                raise ExpressionError(f"undefined name {token}")
            return self.names[token]
        return token

    def path(self) -> Path:
        token = self.peek()
        if token is None or not (token.startswith("#") or token[0].isalpha() or token[0] == "_"):
            raise ExpressionError("expected an attribute path")
        self.at += 1
        names = [self.name(token)]
        while self.peek() in (".", "["):
            if self.peek() == ".":
                self.at += 1
                token = self.peek() or ""
                self.at += 1
                names.append(self.name(token))
            else:
                self.at += 1
                index = self.peek() or ""
                if not index.isdigit():
                    raise ExpressionError("expected a list index")
                self.at += 1
                self.expect("]")
                names.append(f"[{index}]")
        return Path(tuple(names))

    def operand(self) -> Node:
        token = self.peek()
        if token is None:
            raise ExpressionError("expected an operand")
        if token.startswith(":"):
            self.at += 1
            return Value(token)
        if self.peek(1) == "(" and not token.startswith("#"):
            self.at += 2
            args: list[Node] = []
            if self.peek() != ")":
                args.append(self.value())
                while self.peek() == ",":
                    self.at += 1
                    args.append(self.value())
            self.expect(")")
            return Call(token.lower(), tuple(args))
        return self.path()

    def value(self) -> Node:
        left = self.operand()
        if self.peek() in ("+", "-"):
            op = self.peek() or ""
            self.at += 1
            return Arithmetic(op, left, self.operand())
        return left

    # ---- conditions ------------------------------------------------------------------

    def condition(self) -> Node:
        node = self.conjunction()
        while self.keyword("OR"):
            node = Logical("OR", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.keyword("AND"):
            node = Logical("AND", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.keyword("NOT"):
            return Not(self.negation())
        if self.peek() == "(":
            self.at += 1
            node = self.condition()
            self.expect(")")
            return node
        return self.predicate()

    def predicate(self) -> Node:
        subject = self.operand()
        token = self.peek()
        if token in _COMPARATORS:
            self.at += 1
            return Compare(token or "", subject, self.operand())
        if self.keyword("BETWEEN"):
            low = self.operand()
            if not self.keyword("AND"):
                raise ExpressionError("BETWEEN without AND")
            return Between(subject, low, self.operand())
        if self.keyword("IN"):
            self.expect("(")
            options = [self.operand()]
            while self.peek() == ",":
                self.at += 1
                options.append(self.operand())
            self.expect(")")
            return In(subject, tuple(options))
        if isinstance(subject, Call):
            return subject
        raise ExpressionError("expected a condition")

    # ---- updates ---------------------------------------------------------------------

    def update(self) -> Update:
        result = Update()
        seen: set[str] = set()
        while self.peek() is not None:
            clause = (self.peek() or "").upper()
            if clause not in ("SET", "REMOVE", "ADD", "DELETE") or clause in seen:
                raise ExpressionError(f"unexpected {self.peek()!r}")
            seen.add(clause)
            self.at += 1
            while True:
                path = self.path()
                if clause == "SET":
                    self.expect("=")
                    result.sets.append((path, self.value()))
                elif clause == "REMOVE":
                    result.removes.append(path)
                else:
                    value = self.operand()
                    if not isinstance(value, Value):
                        raise ExpressionError(f"{clause} takes a value")
                    (result.adds if clause == "ADD" else result.deletes).append((path, value))
                if self.peek() != ",":
                    break
                self.at += 1
        return result


def parse_condition(text: str, names: dict[str, str] | None = None) -> Node:
    parser = _Parser(text, names or {})
    node = parser.condition()
    parser.done()
    return node


def parse_update(text: str, names: dict[str, str] | None = None) -> Update:
    parser = _Parser(text, names or {})
    if not parser.tokens:
        raise ExpressionError("empty update expression")
    return parser.update()


def conjuncts(node: Node) -> list[Node]:
    """The top-level AND terms: each must hold for the whole condition to hold."""
    if isinstance(node, Logical) and node.op == "AND":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def requires_absent(node: Node, attribute: str) -> bool:
    """True if the condition can only hold when ``attribute`` does not exist."""
    if isinstance(node, Logical):
        if node.op == "AND":
            return requires_absent(node.left, attribute) or requires_absent(node.right, attribute)
        return requires_absent(node.left, attribute) and requires_absent(node.right, attribute)
    return (isinstance(node, Call) and node.name == "attribute_not_exists" and len(node.args) == 1
            and node.args[0] == Path((attribute,)))


def requires_existing_item(node: Node) -> bool:
    """True if the condition can only hold for an item that already exists."""
    if isinstance(node, Logical):
        left, right = requires_existing_item(node.left), requires_existing_item(node.right)
        return (left or right) if node.op == "AND" else (left and right)
    if isinstance(node, Call):
        return node.name in _EXISTING_FUNCTIONS and bool(node.args) and isinstance(node.args[0], Path)
    if isinstance(node, Compare):
        return node.op in _EXISTING_ONLY and (_reads_attribute(node.left) or _reads_attribute(node.right))
    if isinstance(node, (Between, In)):
        return _reads_attribute(node.subject)
    return False


def _reads_attribute(node: Node) -> bool:
    return isinstance(node, Path) or (isinstance(node, Call) and node.name == "size")


def plain_value(node: Node, values: dict[str, Any]) -> Any:
    """The attribute value a SET assigns when it is one placeholder (or
    ``if_not_exists(path, :v)``); None when it is computed."""
    if isinstance(node, Call) and node.name == "if_not_exists" and len(node.args) == 2:
        node = node.args[1]
    if isinstance(node, Value):
        return values.get(node.placeholder)
    return None
