"""A pure-Python reference evaluator of the rule language, for differential tests.

It walks the syntax tree that `ernest_rules.parse` builds and evaluates it over
rows held in Python dicts, following the documented semantics of the language
and nothing of the SQL compiler:

- text comparisons fold both sides (case, accents, Unicode form, outer Unicode
  spaces) with `ernest_rules.text.fold`, which its own test compares with DuckDB;
  `contains` and `starts with` keep the spaces of the search text;
- every condition is two-valued. `=`, `in`, `<`, `contains`… are false on an
  empty (NULL) field, `!=` and `not in` are their complements, and `not` is the
  complement. `= ""` (or only spaces) on a text or list field means "is empty";
- list fields compare item by item; `is empty` on a list is NULL or no
  non-blank item;
- timestamps compare by their local date in Europe/Paris (naive values are
  Paris times, or UTC times when the catalog sets `timestamps = "utc"`);
- to-one paths read NULL when a link is NULL or points to no row. Quantifiers
  count the related rows for which the inner condition holds on that one row;
- referent queries select the existing users named by the matching offers.

The evaluator resolves names with the catalog's own lookup methods
(`find_entity`, `find_field`…), because which field a name means is the
catalog's decision; everything after that is written here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import unicodedata
from collections import defaultdict
from decimal import Decimal
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from ernest_rules import syntax as s
from ernest_rules.catalog import Catalog, EntitySpec, FieldSpec
from ernest_rules.parse import parse
from ernest_rules.text import fold

Row = dict[str, Any]

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc


def is_blank(value: str) -> bool:
    """Return True for "" and for texts made only of Unicode space separators (category Zs), which a tab is not."""
    return all(unicodedata.category(char) == "Zs" for char in value)


def fold_search(value: str) -> str:
    """Fold a `contains`/`starts with` search text: like `fold`, but its outer spaces are kept."""
    decomposed = unicodedata.normalize("NFD", value)
    without_marks = "".join(char for char in decomposed if not unicodedata.category(char).startswith("M"))
    return unicodedata.normalize("NFC", without_marks.lower())


def shift_date(day: dt.date, amount: int, unit: str) -> dt.date:
    """Move a date by calendar units. Month and year shifts clamp to the last day of the month."""
    if unit == "day":
        return day + dt.timedelta(days=amount)
    if unit == "week":
        return day + dt.timedelta(days=7 * amount)
    months = amount * 12 if unit == "year" else amount
    total = day.year * 12 + day.month - 1 + months
    year, month = total // 12, total % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


class ReferenceEvaluator:
    """Evaluate rules over `tables` (table name → list of rows) for one catalog and one pinned today."""

    def __init__(self, tables: Mapping[str, list[Row]], catalog: Catalog, today: dt.date, rules: Mapping[str, str] | None = None):
        self.tables = tables
        self.catalog = catalog
        self.today = today
        self.rules = dict(rules or {})
        self._by_key: dict[str, dict[Any, Row]] = {}
        for entity in catalog.entities:
            self._by_key[entity.name] = {row[entity.key]: row for row in tables[entity.table] if row[entity.key] is not None}
        self._children: dict[tuple[str, str], dict[Any, list[Row]]] = {}

    # ------------------------------------------------------------ rules

    def select(self, text: str) -> set[Any]:
        """Return the keys of the rows a rule selects."""
        return self.rule(parse(text))

    def rule(self, node: s.Rule) -> set[Any]:
        if isinstance(node, s.Reference):
            return self.select(self._saved_rule(node.name))
        if isinstance(node, s.SetOperation):
            left, right = self.rule(node.left), self.rule(node.right)
            if node.operator == "union":
                return left | right
            if node.operator == "except":
                return left - right
            return left & right
        return self.query(node)

    def _saved_rule(self, name: str) -> str:
        if name in self.rules:
            return self.rules[name]
        lowered = {key.lower(): value for key, value in self.rules.items()}
        return lowered[name.lower()]

    def query(self, node: s.Query) -> set[Any]:
        if node.through is None:
            entity = self.catalog.find_entity(node.target.text)
            assert entity is not None, node.target.text
            return {row[entity.key] for row in self.rows(entity) if self.holds(node.where, entity, row)}
        kind = self.catalog.find_kind(node.target.text)
        assert kind is not None, node.target.text
        assert kind.through and kind.through_column, kind.name
        offers = self.catalog.entity(kind.through)
        users = self.catalog.entity(kind.entity)
        named = {row[kind.through_column] for row in self.rows(offers) if self.holds(node.where, offers, row)}
        return {key for key in named if key is not None and key in self._by_key[users.name]}

    def rows(self, entity: EntitySpec) -> list[Row]:
        return [row for row in self.tables[entity.table] if row[entity.key] is not None]

    # ------------------------------------------------------------ conditions

    def holds(self, node: s.Condition | None, entity: EntitySpec, row: Row) -> bool:
        """Evaluate a condition on one row, to True or False (never None)."""
        if node is None:
            return True
        if isinstance(node, s.And):
            return all(self.holds(operand, entity, row) for operand in node.operands)
        if isinstance(node, s.Or):
            return any(self.holds(operand, entity, row) for operand in node.operands)
        if isinstance(node, s.Not):
            return not self.holds(node.operand, entity, row)
        if isinstance(node, s.Quantified):
            return self.quantified(node, entity, row)

        spec, value = self.read(node.field, entity, row)
        if isinstance(node, s.Truth):
            return value is True
        if isinstance(node, s.Emptiness):
            return self.empty(spec, value) != node.negated

        if isinstance(node, s.Comparison):
            return self.compare(spec, value, node.operator, node.value)
        if isinstance(node, s.Membership):
            found = any(self.equal(spec, value, literal) for literal in node.values)
            return found != node.negated
        if isinstance(node, s.Between):
            low, high = self.operand(spec, node.low), self.operand(spec, node.high)
            current = self.comparable(spec, value)
            return current is not None and low <= current <= high
        if isinstance(node, s.TextMatch):
            return self.text_match(spec, value, node.mode, node.value.value)
        if isinstance(node, s.ListMatch):
            tests = [self.list_item(spec, value, literal.value) for literal in node.values]
            return any(tests) if node.mode == "any" else all(tests)
        raise TypeError(f"unknown condition node {type(node).__name__}")

    def quantified(self, node: s.Quantified, entity: EntitySpec, row: Row) -> bool:
        *steps, last = node.relation.parts
        owner_entity, owner = self.follow(steps, entity, row)
        collection = owner_entity.find_collection(last.text)
        assert collection is not None, last.text
        child = self.catalog.entity(collection.entity)
        count = 0
        if owner is not None and owner[owner_entity.key] is not None:
            related = self.children(child, collection.column).get(owner[owner_entity.key], [])
            count = sum(1 for item in related if self.holds(node.where, child, item))
        if node.quantifier == "any":
            return count >= 1
        if node.quantifier == "no":
            return count == 0
        if node.quantifier == "at_least":
            return count >= node.count
        if node.quantifier == "at_most":
            return count <= node.count
        return count == node.count

    def children(self, child: EntitySpec, column: str) -> dict[Any, list[Row]]:
        index = self._children.get((child.name, column))
        if index is None:
            index = defaultdict(list)
            for item in self.rows(child):
                if item[column] is not None:
                    index[item[column]].append(item)
            self._children[(child.name, column)] = index
        return index

    # ------------------------------------------------------------ fields

    def follow(self, steps: Iterable[s.Name], entity: EntitySpec, row: Row | None) -> tuple[EntitySpec, Row | None]:
        """Follow to-one relations. A NULL link, or a link to no row, gives the row None."""
        for step in steps:
            relation = entity.find_relation(step.text)
            assert relation is not None, step.text
            target = self.catalog.entity(relation.target)
            link = None if row is None else row[relation.column]
            row = None if link is None else self._by_key[target.name].get(link)
            entity = target
        return entity, row

    def read(self, path: s.FieldPath, entity: EntitySpec, row: Row) -> tuple[FieldSpec, Any]:
        *steps, last = path.parts
        owner_entity, owner = self.follow(steps, entity, row)
        spec = owner_entity.find_field(last.text)
        assert spec is not None, last.text
        return spec, None if owner is None else owner[spec.column]

    # ------------------------------------------------------------ values

    def empty(self, spec: FieldSpec, value: Any) -> bool:
        if value is None:
            return True
        if spec.type == "text":
            return is_blank(value)
        if spec.type == "list":
            return all(item is None or is_blank(item) for item in value)
        return False

    def compare(self, spec: FieldSpec, value: Any, operator: str, literal: s.Literal) -> bool:
        if operator == "==" and spec.type in ("text", "list"):
            if value is None:
                return False
            items = value if spec.type == "list" else [value]
            return any(item == literal.value for item in items)
        if operator in ("=", "=="):
            return self.equal(spec, value, literal)
        if operator == "!=":
            return not self.equal(spec, value, literal)
        current = self.comparable(spec, value)
        if current is None:
            return False
        bound = self.operand(spec, literal)
        return {"<": current < bound, "<=": current <= bound, ">": current > bound, ">=": current >= bound}[operator]

    def equal(self, spec: FieldSpec, value: Any, literal: s.Literal) -> bool:
        """`field = literal`, false on an empty field except that `= ""` means the field is empty."""
        if spec.type in ("text", "list"):
            if is_blank(literal.value):
                return self.empty(spec, value)
            if value is None:
                return False
            wanted = fold(literal.value)
            items = value if spec.type == "list" else [value]
            return any(item is not None and fold(item) == wanted for item in items)
        current = self.comparable(spec, value)
        return current is not None and current == self.operand(spec, literal)

    def text_match(self, spec: FieldSpec, value: Any, mode: str, search: str) -> bool:
        if value is None:
            return False
        if spec.type == "list":
            # On a list, `contains x` means that one item equals x, and `starts with` reads each item's beginning.
            if mode == "contains":
                return self.list_item(spec, value, search)
            wanted = fold_search(search)
            return any(item is not None and fold(item).startswith(wanted) for item in value)
        folded = fold(value)
        wanted = fold_search(search)
        return wanted in folded if mode == "contains" else folded.startswith(wanted)

    def list_item(self, spec: FieldSpec, value: Any, search: str) -> bool:
        """One test of `contains any/all`: an item equal to `search` on a list, a substring on a text."""
        if value is None:
            return False
        if spec.type == "list":
            wanted = fold(search)
            return any(item is not None and fold(item) == wanted for item in value)
        return fold_search(search) in fold(value)

    def comparable(self, spec: FieldSpec, value: Any) -> Any:
        """The value that ordered comparisons see: the local date of a timestamp, the value itself otherwise."""
        if value is None or spec.type != "timestamp":
            return value
        if self.catalog.timestamps == "utc":
            return value.replace(tzinfo=UTC).astimezone(PARIS).date()
        return value.date()

    def operand(self, spec: FieldSpec, literal: s.Literal) -> Any:
        """The literal as a comparable Python value (relative dates resolved against the pinned today)."""
        value = literal.value
        if isinstance(value, s.RelativeDate):
            day = self.today if value.base is None else value.base
            for amount, unit in value.shifts:
                day = shift_date(day, amount, unit)
            return day
        if isinstance(value, Decimal) or isinstance(value, (bool, int, dt.date, str)):
            return value
        raise TypeError(f"unexpected literal {value!r}")


# ---------------------------------------------------------------- spellings, for rule generators

# Each keyword of the grammar with its English spelling first, then its French ones.
KEYWORD_SPELLINGS: dict[str, tuple[str, ...]] = {
    "where": ("where", "où"),
    "of": ("of", "de"),
    "and": ("and", "et"),
    "or": ("or", "ou"),
    "not": ("not", "non"),
    "in": ("in", "dans"),
    "not in": ("not in", "pas dans"),
    "between": ("between", "entre"),
    "is empty": ("is empty", "est vide"),
    "is not empty": ("is not empty", "n'est pas vide", "n’est pas vide"),
    "contains": ("contains", "contient"),
    "contains any": ("contains any", "contient l'un de", "contient l’un de", "contient au moins un de"),
    "contains all": ("contains all", "contient tous", "contient toutes"),
    "starts with": ("starts with", "commence par"),
    "true": ("true", "vrai"),
    "false": ("false", "faux"),
    "today": ("today", "aujourd'hui", "aujourd’hui"),
    "any": ("any", "au moins un", "au moins une"),
    "no": ("no", "aucun", "aucune"),
    "at least": ("at least", "au moins"),
    "at most": ("at most", "au plus"),
    "exactly": ("exactly", "exactement"),
    "union": ("union",),
    "except": ("except", "sauf"),
    "intersect": ("intersect", "inter"),
}

UNIT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "day": ("day", "days", "jour", "jours"),
    "week": ("week", "weeks", "semaine", "semaines"),
    "month": ("month", "months", "mois"),
    "year": ("year", "years", "an", "ans", "année", "années"),
}

# Accented spellings of catalog names, which resolve like the plain ones.
ACCENTED_NAMES: dict[str, str] = {
    "civilite": "civilité", "prenom": "prénom", "telephone": "téléphone", "competences": "compétences",
    "competence": "compétence", "disponibilite": "disponibilité", "date_creation": "date_création",
    "desabonne": "désabonné", "etape": "étape", "reference": "référence", "role": "rôle", "societe": "société",
    "societes": "sociétés", "referent_rh": "référent_rh", "referent_operationnel": "référent_opérationnel",
    "referents_rh": "référents_rh", "referents_operationnels": "référents_opérationnels",
}
