"""Canonical text of a rule: one spelling per keyword, in English or French.

`format_rule(parse(text))` gives the rule back in a canonical form:

- keywords in lower case, in one language (`where`/`où`, `and`/`et`, `not in`/`pas dans`, …), whatever language
  the input used; one spelling per keyword (`contient l'un de`, never `contient au moins un de`);
- names exactly as written: formatting is purely syntactic, so an alias such as `vivier` stays `vivier`;
- texts in double quotes, with backslash, double quote, line break and tab escaped (`\\\\`, `\\"`, `\\n`, `\\t`);
- dates in ISO form (`2025-03-10`), shifts as `today - 30 days` (singular unit for 1 only). The parser never builds
  a relative date with a base date and no shift, so such a date is written as the plain date;
- decimals as written by `Decimal` in fixed-point notation (`12.50`, never `1E-7`, which the grammar rejects);
- single spaces around operators, `, ` between values, and only the parentheses the grammar needs: an `or` inside an
  `and`, an `and`/`or` under `not`, an `and` directly inside an `and` (or an `or` inside an `or`, which only
  explicit parentheses can produce), set operands that precedence would otherwise regroup, and always the inner
  condition of a quantifier.

Comments (`# …`) and line breaks of the input are dropped: they are not part of the syntax tree.

When the one-line form is longer than `width`, the rule is broken before each set operator of the top-level chain,
and the `where` clause of each query line that is still too long is broken before each of its top-level `and`/`or`,
with a 2-space indent. Both forms parse to the same tree.

The property that matters: `parse(format_rule(parse(x)))` equals `parse(x)` except for spans, for every rule the
parser accepts. The printer walks the tree without recursion, so rules as deep as the parser accepts
(thousands of `not` or chained `union`) format without hitting Python's recursion limit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from . import syntax as s
from .parse import parse

LANGS = ("en", "fr")
INDENT = "  "

# Keyword spellings, one per language: (English, French).
KEYWORDS: dict[str, tuple[str, str]] = {
    "where": ("where", "où"),
    "of": ("of", "de"),
    "and": ("and", "et"),
    "or": ("or", "ou"),
    "not": ("not", "non"),
    "in": ("in", "dans"),
    "not_in": ("not in", "pas dans"),
    "is_empty": ("is empty", "est vide"),
    "is_not_empty": ("is not empty", "n'est pas vide"),
    "contains": ("contains", "contient"),
    "starts_with": ("starts with", "commence par"),
    "contains_any": ("contains any", "contient l'un de"),
    "contains_all": ("contains all", "contient tous"),
    "between": ("between", "entre"),
    "true": ("true", "vrai"),
    "false": ("false", "faux"),
    "today": ("today", "aujourd'hui"),
    "any": ("any", "au moins un"),
    "no": ("no", "aucun"),
    "at_least": ("at least", "au moins"),
    "at_most": ("at most", "au plus"),
    "exactly": ("exactly", "exactement"),
    "union": ("union", "union"),
    "except": ("except", "sauf"),
    "intersect": ("intersect", "inter"),
}

# Date units: (English singular, English plural, French singular, French plural).
UNITS: dict[str, tuple[str, str, str, str]] = {
    "day": ("day", "days", "jour", "jours"),
    "week": ("week", "weeks", "semaine", "semaines"),
    "month": ("month", "months", "mois", "mois"),
    "year": ("year", "years", "an", "ans"),
}

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}

# Binding strength of set operators: `intersect` binds tighter than `union` and `except`.
_SET_LEVEL = {"union": 1, "except": 1, "intersect": 2}


def format_rule(rule: s.Rule, lang: str = "en", width: int = 88) -> str:
    """Return the canonical text of a parsed rule in English (`en`) or French (`fr`)."""
    printer = _Printer(lang)
    single = printer.one_line(rule)
    if len(single) <= width:
        return single
    return printer.broken(rule, width)


def format_text(text: str, lang: str = "en", width: int = 88) -> str:
    """Parse a rule and return its canonical text; syntax errors raise `RuleSyntaxError`."""
    return format_rule(parse(text), lang, width)


def quote_text(value: str) -> str:
    """Write a text literal in double quotes, escaping what the grammar needs escaped."""
    return '"' + "".join(_ESCAPES.get(char, char) for char in value) + '"'


class _Printer:
    def __init__(self, lang: str):
        if lang not in LANGS:
            raise ValueError(f"unsupported language {lang!r}: use one of {', '.join(LANGS)}")
        self.french = lang == "fr"
        self._texts: dict[int, str] = {}

    # ------------------------------------------------------------ words

    def word(self, key: str) -> str:
        english, french = KEYWORDS[key]
        return french if self.french else english

    def unit(self, unit: str, amount: int) -> str:
        english, english_plural, french, french_plural = UNITS[unit]
        if self.french:
            return french if amount == 1 else french_plural
        return english if amount == 1 else english_plural

    # ------------------------------------------------------------ leaves

    def literal(self, literal: s.Literal) -> str:
        value = literal.value
        if literal.type == "text":
            return quote_text(value)
        if literal.type == "boolean":
            return self.word("true" if value else "false")
        if literal.type == "decimal":
            return format(Decimal(value), "f")
        if literal.type == "date":
            return self.date(value)
        return str(value)

    def date(self, value: dt.date | s.RelativeDate) -> str:
        if isinstance(value, dt.date):
            return value.isoformat()
        written = self.word("today") if value.base is None else value.base.isoformat()
        for amount, unit in value.shifts:
            sign = "-" if amount < 0 else "+"
            written += f" {sign} {abs(amount)} {self.unit(unit, abs(amount))}"
        return written

    def values(self, values: tuple[s.Literal, ...]) -> str:
        return "(" + ", ".join(self.literal(value) for value in values) + ")"

    # ------------------------------------------------------------ nodes

    def one_line(self, root) -> str:
        """One-line text of a rule or condition, built children first with an explicit stack."""
        order = []
        stack = [root]
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(_children(node))
        for node in reversed(order):
            self._texts[id(node)] = self._node(node)
        return self._texts[id(root)]

    def _child(self, node, parenthesized: bool) -> str:
        written = self._texts[id(node)]
        return f"({written})" if parenthesized else written

    def _node(self, node) -> str:
        if isinstance(node, s.Query):
            return self._query_head(node) + (f" {self.word('where')} {self._child(node.where, False)}" if node.where is not None else "")
        if isinstance(node, s.Reference):
            return f"@{node.name}"
        if isinstance(node, s.SetOperation):
            left = self._child(node.left, _left_needs_parentheses(node))
            right = self._child(node.right, _right_needs_parentheses(node))
            return f"{left} {self.word(node.operator)} {right}"
        if isinstance(node, s.And):
            return f" {self.word('and')} ".join(self._child(operand, isinstance(operand, (s.And, s.Or))) for operand in node.operands)
        if isinstance(node, s.Or):
            return f" {self.word('or')} ".join(self._child(operand, isinstance(operand, s.Or)) for operand in node.operands)
        if isinstance(node, s.Not):
            return f"{self.word('not')} {self._child(node.operand, isinstance(node.operand, (s.And, s.Or)))}"
        if isinstance(node, s.Quantified):
            head = self.word(node.quantifier)
            if node.quantifier not in ("any", "no"):
                head += f" {node.count}"
            written = f"{head} {node.relation.dotted}"
            if node.where is not None:
                written += f" {self.word('where')} ({self._child(node.where, False)})"
            return written
        return self._condition_leaf(node)

    def _query_head(self, query: s.Query) -> str:
        if query.through is None:
            return query.target.text
        return f"{query.target.text} {self.word('of')} {query.through.text}"

    def _condition_leaf(self, node) -> str:
        field = node.field.dotted
        if isinstance(node, s.Comparison):
            return f"{field} {node.operator} {self.literal(node.value)}"
        if isinstance(node, s.Membership):
            return f"{field} {self.word('not_in' if node.negated else 'in')} {self.values(node.values)}"
        if isinstance(node, s.Emptiness):
            return f"{field} {self.word('is_not_empty' if node.negated else 'is_empty')}"
        if isinstance(node, s.TextMatch):
            return f"{field} {self.word(node.mode)} {self.literal(node.value)}"
        if isinstance(node, s.ListMatch):
            return f"{field} {self.word('contains_' + node.mode)} {self.values(node.values)}"
        if isinstance(node, s.Between):
            return f"{field} {self.word('between')} {self.literal(node.low)} {self.word('and')} {self.literal(node.high)}"
        if isinstance(node, s.Truth):
            return field
        raise TypeError(f"not a syntax node: {node!r}")

    # ------------------------------------------------------------ long rules

    def broken(self, rule: s.Rule, width: int) -> str:
        """Several lines: one per operand of the top-level set chain, long `where` clauses split before and/or."""
        self.one_line(rule)
        lines: list[str] = []
        for operator, operand, parenthesized in _set_chain(rule):
            prefix = f"{self.word(operator)} " if operator else ""
            line = prefix + self._child(operand, parenthesized)
            if len(line) > width and not parenthesized and isinstance(operand, s.Query) and isinstance(operand.where, (s.And, s.Or)):
                lines.extend(self._broken_query(prefix, operand))
            else:
                lines.append(line)
        return "\n".join(lines)

    def _broken_query(self, prefix: str, query: s.Query) -> list[str]:
        where = query.where
        if isinstance(where, s.And):
            keyword, wrap = self.word("and"), (s.And, s.Or)
        else:
            keyword, wrap = self.word("or"), (s.Or,)
        first, *others = [self._child(operand, isinstance(operand, wrap)) for operand in where.operands]
        lines = [f"{prefix}{self._query_head(query)} {self.word('where')} {first}"]
        lines.extend(f"{INDENT}{keyword} {operand}" for operand in others)
        return lines


def _children(node) -> list:
    return s.children(node)


def _left_needs_parentheses(node: s.SetOperation) -> bool:
    """Tell whether the left operand needs parentheses: only when it binds looser, as set operators are left-associative."""
    left = node.left
    return isinstance(left, s.SetOperation) and _SET_LEVEL[left.operator] < _SET_LEVEL[node.operator]


def _right_needs_parentheses(node: s.SetOperation) -> bool:
    """Tell whether the right operand needs parentheses: always, unless it binds tighter (`a union b intersect c`)."""
    right = node.right
    return isinstance(right, s.SetOperation) and _SET_LEVEL[right.operator] <= _SET_LEVEL[node.operator]


def _set_chain(rule: s.Rule) -> list[tuple[str | None, s.Rule, bool]]:
    """Flatten the left spine of the top-level set operations: [(None, first, parens), (operator, operand, parens), …]."""
    chain: list[tuple[str | None, s.Rule, bool]] = []
    node = rule
    while isinstance(node, s.SetOperation) and not _left_needs_parentheses(node):
        chain.append((node.operator, node.right, _right_needs_parentheses(node)))
        node = node.left
    if isinstance(node, s.SetOperation):
        # Its left operand binds looser: the whole left side stays one parenthesized operand.
        chain.append((node.operator, node.right, _right_needs_parentheses(node)))
        chain.append((None, node.left, True))
    else:
        chain.append((None, node, False))
    chain.reverse()
    return chain
