"""Warnings about text values that a rule compares but the export never contains.

A rule such as `candidats where statut = "Disponibel"` is valid and selects no
row, because no candidate has that status. This module checks each text value
compared with a field whose catalog entry has `few_values` (statut, viviers,
etape…) against the values present in the export. An absent value gets a
warning with the closest present spellings ("Disponible").

`present_values` also feeds the value completions of `complete`.
"""

from __future__ import annotations

import difflib
import weakref
from dataclasses import dataclass
from typing import Iterator

from . import syntax as s
from .catalog import EntitySpec, FieldSpec
from .check import CheckedRule, ResolvedField
from .compile import CompiledRule, quote_identifier
from .errors import Problem
from .export import Export
from .i18n import Quoted, _
from .text import fold

MAX_SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.6


@dataclass(frozen=True)
class PresentValues:
    """The distinct values of one field in an export (list items unnested), with their row counts.

    `spellings` maps each value as stored to its count; `by_folded` maps each
    folded value to its stored spellings, most frequent first.
    """

    spellings: dict[str, int]
    by_folded: dict[str, tuple[str, ...]]

    @classmethod
    def from_counts(cls, counts: dict[str, int]) -> "PresentValues":
        groups: dict[str, list[str]] = {}
        for value in counts:
            groups.setdefault(fold(value), []).append(value)
        by_folded = {
            folded: tuple(sorted(values, key=lambda value: (-counts[value], value)))
            for folded, values in groups.items() if folded
        }
        return cls(dict(counts), by_folded)

    def preferred(self, folded: str) -> str:
        """Return the most frequent stored spelling of a folded value."""
        return self.by_folded[folded][0]

    def ordered(self) -> list[str]:
        """Return one stored spelling per folded value, most frequent value first."""
        totals = {folded: sum(self.spellings[value] for value in values) for folded, values in self.by_folded.items()}
        return [self.preferred(folded) for folded in sorted(totals, key=lambda folded: (-totals[folded], folded))]

    def closest(self, folded: str, limit: int = MAX_SUGGESTIONS) -> tuple[str, ...]:
        """Return the stored spellings of the present values closest to a folded value."""
        matches = difflib.get_close_matches(folded, list(self.by_folded), n=limit, cutoff=SUGGESTION_CUTOFF)
        return tuple(self.preferred(match) for match in matches)


# Distinct values per export, then per (table, column). The export is an unhashable dataclass,
# so entries are keyed by id() and dropped when the export is garbage-collected.
_CACHE: dict[int, tuple[weakref.ref, dict[tuple[str, str], PresentValues]]] = {}


def present_values(export: Export, entity: EntitySpec, spec: FieldSpec) -> PresentValues:
    """Return the values of a field present in the export, read with one DuckDB query and cached."""
    key = id(export)
    entry = _CACHE.get(key)
    if entry is None or entry[0]() is not export:
        entry = (weakref.ref(export, lambda _ref, key=key: _CACHE.pop(key, None)), {})
        _CACHE[key] = entry
    cache = entry[1]
    cache_key = (entity.table, spec.column)
    if cache_key not in cache:
        cache[cache_key] = PresentValues.from_counts(_count_values(export, entity, spec))
    return cache[cache_key]


def _count_values(export: Export, entity: EntitySpec, spec: FieldSpec) -> dict[str, int]:
    table, column = quote_identifier(entity.table), quote_identifier(spec.column)
    if spec.type == "list":
        sql = (f"SELECT item, count(*) FROM (SELECT unnest({column}) AS item FROM {table}) "
               f"WHERE item IS NOT NULL GROUP BY item")
    else:
        sql = f"SELECT {column}, count(*) FROM {table} WHERE {column} IS NOT NULL GROUP BY {column}"
    return {str(value): count for value, count in export.connection.execute(sql).fetchall()}


@dataclass(frozen=True)
class ValueWarning:
    """A compared value that no row of the export contains in the field, with the closest present values.

    `field` is the path as the catalog names it from the rule's row
    (`societe.statut`), and `entity` is the entity that owns the field
    (`societes`). `line` and `column` (1-based) point at the literal in
    `source`, the text of the rule or of the saved rule named by `origin` ("@name").
    """

    value: str
    field: str
    entity: str
    exact: bool
    line: int
    column: int
    width: int
    suggestions: tuple[str, ...]
    source: str
    origin: str | None = None

    @property
    def problem(self) -> Problem:
        # `field` may be a relation path (societe.statut), so the message names the field of `entity` itself.
        name = self.field.rsplit(".", 1)[-1]
        if self.exact:
            message = _("the exact value {value} does not appear in the field {field} of {entity} in the export",
                        value=Quoted(self.value), field=Quoted(name), entity=Quoted(self.entity))
        else:
            message = _("the value {value} does not appear in the field {field} of {entity} in the export",
                        value=Quoted(self.value), field=Quoted(name), entity=Quoted(self.entity))
        return Problem(message, line=self.line, column=self.column, width=self.width, source=self.source,
                       suggestions=self.suggestions, origin=self.origin)

    def render(self, lang: str | None = None) -> str:
        """Render the warning with its place, the closest values and a caret under the value."""
        return _("warning: {text}", text=self.problem.render(lang)).render(lang)


def value_warnings(compiled: CompiledRule, export: Export) -> list[ValueWarning]:
    """List the text values of a rule that match no value present in the export, in rule order.

    Only fields marked `few_values` in the catalog are looked up. Values are
    compared folded (case, accents and surrounding spaces ignored), as `=` and
    `in` compare them, except for `==`, which compares the text as stored.
    Saved rules the rule refers to (`@name`) are looked up too.
    """
    warnings: list[ValueWarning] = []
    for checked, origin in _rules_of(compiled.checked):
        for resolved, literal, exact in _compared_values(checked):
            warning = _warning(export, checked, origin, resolved, literal, exact)
            if warning is not None:
                warnings.append(warning)
    return warnings


def _rules_of(checked: CheckedRule) -> Iterator[tuple[CheckedRule, str | None]]:
    """Yield the rule, then each saved rule it refers to (directly or not), once each."""
    yield checked, None
    seen: set[str] = set()
    pending = list(checked.references.items())
    while pending:
        name, referenced = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        yield referenced, f"@{name}"
        pending.extend(referenced.references.items())


def _compared_values(checked: CheckedRule) -> Iterator[tuple[ResolvedField, s.Literal, bool]]:
    """Yield (field, text literal, exact?) for each equality-like comparison of the rule's own text."""
    for condition in _conditions(checked.node):
        if isinstance(condition, s.Comparison) and condition.operator in ("=", "!=", "=="):
            yield from _text_values(checked, condition.field, (condition.value,), condition.operator == "==")
        elif isinstance(condition, s.Membership):
            yield from _text_values(checked, condition.field, condition.values, False)
        elif isinstance(condition, (s.ListMatch, s.TextMatch)):
            # On a list field, `contains`, `contains any` and `contains all` compare whole items.
            resolved = checked.fields.get(condition.field)
            if resolved is not None and resolved.spec.type == "list":
                if isinstance(condition, s.ListMatch):
                    yield from _text_values(checked, condition.field, condition.values, False)
                elif condition.mode == "contains":
                    yield from _text_values(checked, condition.field, (condition.value,), False)


def _text_values(checked: CheckedRule, path: s.FieldPath, values: tuple[s.Literal, ...], exact: bool):
    resolved = checked.fields.get(path)
    if resolved is None or not resolved.spec.few_values or resolved.spec.type not in ("text", "list"):
        return
    for literal in values:
        if literal.type == "text":
            yield resolved, literal, exact


def _conditions(node: s.Rule) -> Iterator[s.Condition]:
    """Yield the simple conditions of a rule's own text (quantifiers entered), in text order.

    The walk uses an explicit stack, because rules may nest up to the parser's depth limit.
    """
    pending: list = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, s.SetOperation):
            pending.extend((current.right, current.left))
        elif isinstance(current, (s.Query, s.Quantified)):
            if current.where is not None:
                pending.append(current.where)
        elif isinstance(current, (s.And, s.Or)):
            pending.extend(reversed(current.operands))
        elif isinstance(current, s.Not):
            pending.append(current.operand)
        elif not isinstance(current, s.Reference):
            yield current


def _warning(export: Export, checked: CheckedRule, origin: str | None, resolved: ResolvedField, literal: s.Literal,
             exact: bool) -> ValueWarning | None:
    value = str(literal.value)
    folded = fold(value)
    if not folded:
        return None  # `= ""` means "is empty", which needs no present value.
    present = present_values(export, resolved.entity, resolved.spec)
    if exact:
        if value in present.spellings:
            return None
        # The value differs from a stored one only by case, accents or spaces: suggest those spellings.
        suggestions = present.by_folded.get(folded, ())[:MAX_SUGGESTIONS] or present.closest(folded)
    else:
        if folded in present.by_folded:
            return None
        suggestions = present.closest(folded)
    field = ".".join([*(relation.name for relation in resolved.relations), resolved.spec.name])
    span = literal.span
    return ValueWarning(value, field, resolved.entity.name, exact, span.line, span.column, span.width, suggestions,
                        checked.text, origin)
