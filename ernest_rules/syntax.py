"""Typed syntax tree of a rule, as produced by the parser.

Every node carries the `Span` of the text it came from, so the checker can
point at it. Names are kept as written; the checker resolves them against the
catalog.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal as TypingLiteral, Union


@dataclass(frozen=True)
class Span:
    """Place of a node in the rule text: 1-based line and column, 0-based offsets."""

    line: int
    column: int
    start: int
    end: int

    @property
    def width(self) -> int:
        return max(1, self.end - self.start)


@dataclass(frozen=True)
class Name:
    text: str
    span: Span


LiteralType = TypingLiteral["text", "integer", "decimal", "boolean", "date"]
DateUnit = TypingLiteral["day", "week", "month", "year"]


@dataclass(frozen=True)
class RelativeDate:
    """A date written with `today` or with a shift (`today - 30 days`, `31/01/2025 + 1 month`).

    `base` None stands for today, which the compiler resolves (it can be pinned).
    Each shift is a signed amount and a unit, applied left to right.
    """

    base: dt.date | None
    shifts: tuple[tuple[int, DateUnit], ...] = ()


@dataclass(frozen=True)
class Literal:
    value: str | int | Decimal | bool | dt.date | RelativeDate
    type: LiteralType
    span: Span


@dataclass(frozen=True)
class FieldPath:
    parts: tuple[Name, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(part.text for part in self.parts)


@dataclass(frozen=True)
class Comparison:
    field: FieldPath
    operator: str  # one of = != < <= > >=, or == for an exact text comparison
    value: Literal
    span: Span


@dataclass(frozen=True)
class Membership:
    field: FieldPath
    values: tuple[Literal, ...]
    negated: bool
    span: Span


@dataclass(frozen=True)
class Emptiness:
    field: FieldPath
    negated: bool
    span: Span


@dataclass(frozen=True)
class TextMatch:
    field: FieldPath
    mode: TypingLiteral["contains", "starts_with"]
    value: Literal
    span: Span


@dataclass(frozen=True)
class Between:
    """`field between low and high`, both bounds included."""

    field: FieldPath
    low: Literal
    high: Literal
    span: Span


@dataclass(frozen=True)
class ListMatch:
    """`contains any (…)` / `contains all (…)`."""

    field: FieldPath
    mode: TypingLiteral["any", "all"]
    values: tuple[Literal, ...]
    span: Span


QuantifierKind = TypingLiteral["any", "no", "at_least", "at_most", "exactly"]


@dataclass(frozen=True)
class Quantified:
    """A condition on related rows: `any candidatures where (…)`, `at least 2 candidatures`, `no offres`.

    `relation` ends with a one-to-many relation; `where` must hold on each counted row.
    """

    quantifier: QuantifierKind
    count: int
    relation: FieldPath
    where: "Condition | None"
    span: Span


@dataclass(frozen=True)
class Truth:
    """A bare boolean field used as a condition."""

    field: FieldPath
    span: Span


@dataclass(frozen=True)
class Not:
    operand: "Condition"
    span: Span


@dataclass(frozen=True)
class And:
    operands: tuple["Condition", ...]
    span: Span


@dataclass(frozen=True)
class Or:
    operands: tuple["Condition", ...]
    span: Span


Condition = Union[Comparison, Membership, Emptiness, TextMatch, Between, ListMatch, Quantified, Truth, Not, And, Or]


@dataclass(frozen=True)
class Query:
    """`<entity> where …`, or `<referent kind> of <entity> where …` when `through` is set."""

    target: Name
    through: Name | None
    where: Condition | None
    span: Span


@dataclass(frozen=True)
class Reference:
    """`@name`: a saved rule used as part of another."""

    name: str
    span: Span


@dataclass(frozen=True)
class SetOperation:
    """`left union right`, `left except right`, `left intersect right`."""

    operator: TypingLiteral["union", "except", "intersect"]
    left: "Rule"
    right: "Rule"
    span: Span


Rule = Union[Query, SetOperation, Reference]


def children(node) -> list:
    """Return the sub-rules and sub-conditions of a node; literals and fields have none."""
    if isinstance(node, SetOperation):
        return [node.left, node.right]
    if isinstance(node, (And, Or)):
        return list(node.operands)
    if isinstance(node, Not):
        return [node.operand]
    if isinstance(node, (Query, Quantified)):
        return [node.where] if node.where is not None else []
    return []
