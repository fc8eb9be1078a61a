"""Stage 3: checked rule → DuckDB SQL with named parameters.

Every value reaches DuckDB as a bound parameter (`$p1`, `$p2`, …) and every
identifier comes from the catalog through `quote_identifier`. Each compiled
condition is two-valued (true or false, never NULL), so `not` is the plain
complement and `!=`, `not in` keep the rows whose field is empty. Related rows
are reached through subqueries (scalar for to-one links, EXISTS or count for
collections), so a join never repeats a selected row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from . import syntax as s
from .catalog import Catalog, default_catalog
from .check import CheckedRule, ResolvedField, check, literal_text
from .errors import Problem, RuleCheckError
from .i18n import Quoted, _
from .dates import resolve_date, today_in
from .parse import DEFAULT_LIMITS, Limits, parse
from .text import fold, fold_inner, fold_sql

ROW_ALIAS = "t"

_QUANTIFIER_TESTS = {"at_least": ">=", "at_most": "<=", "exactly": "="}


def quote_identifier(name: str) -> str:
    """Quote a table or column name for DuckDB (the only place names enter SQL)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class CompiledRule:
    """A rule compiled to SQL.

    `keys_sql` selects the keys of the matching `entity` rows, each once;
    `rows_sql` selects the matching rows themselves, in key order. For a single
    query, `condition` is the boolean SQL expression over the rows of the
    checked rule's `scope` (alias `t`). It is None for set operations.
    `today` is the date that `today` stood for.
    """

    text: str
    checked: CheckedRule
    condition: str | None
    params: dict[str, Any]
    keys_sql: str
    rows_sql: str
    today: dt.date

    @property
    def entity(self):
        return self.checked.entity

    @property
    def kind(self):
        return self.checked.kind


def compile_rule(text: str, catalog: Catalog | None = None, *, limits: Limits = DEFAULT_LIMITS, param_prefix: str = "p",
                 rules: Mapping[str, str] | None = None, today: dt.date | None = None) -> CompiledRule:
    """Parse, check and compile a rule; raise an `ErnestRulesError` subclass when it is invalid.

    `rules` holds saved rules for `@name` references; `today` pins the date
    `today` stands for (default: today in the catalog's time zone).
    """
    catalog = catalog or default_catalog()
    checked = check(parse(text, limits), catalog, text, rules=rules, limits=limits)
    return compile_checked(checked, catalog, param_prefix=param_prefix, today=today)


def compile_checked(checked: CheckedRule, catalog: Catalog, *, param_prefix: str = "p", today: dt.date | None = None) -> CompiledRule:
    today = today or today_in(catalog.timezone)
    compiler = _Compiler(catalog, param_prefix, today)
    keys_sql, condition = compiler.rule(checked)
    entity = checked.entity
    key = quote_identifier(entity.key)
    rows_sql = (f"SELECT {ROW_ALIAS}.* FROM {quote_identifier(entity.table)} AS {ROW_ALIAS} "
                f"WHERE {ROW_ALIAS}.{key} IN ({keys_sql}) ORDER BY {ROW_ALIAS}.{key}")
    return CompiledRule(checked.text, checked, condition, compiler.params, keys_sql, rows_sql, today)


@dataclass
class _Compiler:
    catalog: Catalog
    prefix: str
    today: dt.date
    params: dict[str, Any] = field(default_factory=dict)
    checked: CheckedRule | None = None
    aliases: list[str] = field(default_factory=lambda: [ROW_ALIAS])
    _counter: int = 0

    def bind(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.params) + 1}"
        self.params[name] = value
        return f"${name}"

    def fresh_alias(self, letter: str) -> str:
        self._counter += 1
        return f"{letter}{self._counter}"

    @property
    def row(self) -> str:
        return self.aliases[-1]

    # ------------------------------------------------------------ rules

    def rule(self, checked: CheckedRule) -> tuple[str, str | None]:
        """Return (keys SQL, top-level condition or None) of a checked rule."""
        outer, self.checked = self.checked, checked
        try:
            return self.rule_node(checked.node)
        finally:
            self.checked = outer

    def rule_node(self, node: s.Rule) -> tuple[str, str | None]:
        assert self.checked is not None
        if isinstance(node, s.Query):
            return self.query(node)
        if isinstance(node, s.Reference):
            keys, _ = self.rule(self.checked.references[node.name])
            return keys, None
        left, _ = self.rule_node(node.left)
        right, _ = self.rule_node(node.right)
        return f"(({left}) {node.operator.upper()} ({right}))", None

    def query(self, query: s.Query) -> tuple[str, str]:
        assert self.checked is not None
        entity, scope, kind = self.checked.queries[query]
        condition = self.condition(query.where) if query.where is not None else "true"
        entity_key = quote_identifier(entity.key)
        if kind is None:
            return (f"SELECT {ROW_ALIAS}.{entity_key} AS id FROM {quote_identifier(entity.table)} AS {ROW_ALIAS} "
                    f"WHERE {condition}"), condition
        # Referents: the users whose key appears in the chosen offers; IN keeps each user once.
        through_column = quote_identifier(kind.through_column)
        offers = f"SELECT {ROW_ALIAS}.{through_column} FROM {quote_identifier(scope.table)} AS {ROW_ALIAS} WHERE {condition}"
        return f"SELECT u.{entity_key} AS id FROM {quote_identifier(entity.table)} AS u WHERE u.{entity_key} IN ({offers})", condition

    # ------------------------------------------------------------ conditions

    def condition(self, node: s.Condition) -> str:
        return getattr(self, "compile_" + type(node).__name__.lower())(node)

    def compile_and(self, node: s.And) -> str:
        return "(" + " AND ".join(self.condition(operand) for operand in node.operands) + ")"

    def compile_or(self, node: s.Or) -> str:
        return "(" + " OR ".join(self.condition(operand) for operand in node.operands) + ")"

    def compile_not(self, node: s.Not) -> str:
        return f"(NOT {self.condition(node.operand)})"

    def compile_comparison(self, node: s.Comparison) -> str:
        resolved = self.field(node.field)
        if node.operator == "!=":
            return f"(NOT {self.equals(resolved, [node.value])})"
        if node.operator == "=":
            return self.equals(resolved, [node.value])
        if node.operator == "==":
            return self.exact(resolved, node.value)
        column = self.column(resolved)
        return f"coalesce({column} {node.operator} {self.bind(self.value(resolved, node.value))}, false)"

    def compile_between(self, node: s.Between) -> str:
        resolved = self.field(node.field)
        low, high = self.bind(self.value(resolved, node.low)), self.bind(self.value(resolved, node.high))
        return f"coalesce({self.column(resolved)} BETWEEN {low} AND {high}, false)"

    def compile_membership(self, node: s.Membership) -> str:
        test = self.equals(self.field(node.field), list(node.values))
        return f"(NOT {test})" if node.negated else test

    def compile_emptiness(self, node: s.Emptiness) -> str:
        test = self.emptiness(self.field(node.field))
        return f"(NOT {test})" if node.negated else test

    def emptiness(self, resolved: ResolvedField) -> str:
        column = self.column(resolved)
        field_type = resolved.spec.type
        if field_type == "text":
            test = f"({column} IS NULL OR trim({column}) = '')"
        elif field_type == "list":
            test = f"({column} IS NULL OR len(list_filter({column}, lambda x: trim(x) <> '')) = 0)"
        else:
            test = f"({column} IS NULL)"
        return test

    def compile_textmatch(self, node: s.TextMatch) -> str:
        resolved = self.field(node.field)
        if resolved.spec.type == "list" and node.mode == "contains":
            # On a list, `contains X` means one of its values is X.
            return self.equals(resolved, [node.value])
        function = "contains" if node.mode == "contains" else "starts_with"
        return self.substring_test(resolved, function, [self.bind(fold_inner(str(node.value.value)))], "OR")

    def compile_listmatch(self, node: s.ListMatch) -> str:
        resolved = self.field(node.field)
        if resolved.spec.type == "list":
            bound = [self.bind(fold(str(value.value))) for value in node.values]
            function = "list_has_any" if node.mode == "any" else "list_has_all"
            items = f"list_transform({self.column(resolved)}, lambda x: {fold_sql('x')})"
            return f"coalesce({function}({items}, [{', '.join(bound)}]), false)"
        bound = [self.bind(fold_inner(str(value.value))) for value in node.values]
        return self.substring_test(resolved, "contains", bound, "OR" if node.mode == "any" else "AND")

    def substring_test(self, resolved: ResolvedField, function: str, bound: list[str], joiner: str) -> str:
        # contains() and starts_with() take the value literally: % _ and \ match themselves.
        column = self.column(resolved)
        if resolved.spec.type == "list":
            tests = [f"len(list_filter({column}, lambda x: {function}({fold_sql('x')}, {parameter}))) > 0" for parameter in bound]
        else:
            tests = [f"{function}({fold_sql(column)}, {parameter})" for parameter in bound]
        return f"coalesce({f' {joiner} '.join(tests)}, false)" if len(tests) == 1 else f"coalesce(({f' {joiner} '.join(tests)}), false)"

    def compile_truth(self, node: s.Truth) -> str:
        return f"coalesce({self.column(self.field(node.field))}, false)"

    def compile_quantified(self, node: s.Quantified) -> str:
        assert self.checked is not None
        resolved = self.checked.collections[node]
        owner_key = self.related_key(resolved.relations, resolved.owner)
        child = self.fresh_alias("q")
        self.aliases.append(child)
        try:
            inner = self.condition(node.where) if node.where is not None else "true"
        finally:
            self.aliases.pop()
        rows = (f"FROM {quote_identifier(resolved.child.table)} AS {child} "
                f"WHERE {child}.{quote_identifier(resolved.collection.column)} = {owner_key} AND {inner}")
        if node.quantifier == "any":
            return f"(EXISTS (SELECT 1 {rows}))"
        if node.quantifier == "no":
            return f"(NOT EXISTS (SELECT 1 {rows}))"
        return f"((SELECT count(*) {rows}) {_QUANTIFIER_TESTS[node.quantifier]} {self.bind(node.count)})"

    # ------------------------------------------------------------ helpers

    def field(self, path: s.FieldPath) -> ResolvedField:
        assert self.checked is not None
        return self.checked.fields[path]

    def equals(self, resolved: ResolvedField, values: list[s.Literal]) -> str:
        """True when the field equals one of the values (for a list field: one of its items does).

        An empty text value ("" or only spaces) stands for an empty field, as `is empty` does, so
        `= ""` gives the same rows whether the export stores NULL or an empty text.
        """
        if resolved.spec.type in ("text", "list") and any(fold(str(value.value)) == "" for value in values):
            others = [value for value in values if fold(str(value.value)) != ""]
            empty = self.emptiness(resolved)
            return empty if not others else f"({empty} OR {self.equals(resolved, others)})"
        column = self.column(resolved)
        field_type = resolved.spec.type
        bound = [self.bind(self.value(resolved, value)) for value in values]
        if field_type == "list":
            items = f"list_transform({column}, lambda x: {fold_sql('x')})"
            if len(bound) == 1:
                return f"coalesce(list_contains({items}, {bound[0]}), false)"
            return f"coalesce(list_has_any({items}, [{', '.join(bound)}]), false)"
        left = fold_sql(column) if field_type == "text" else column
        if len(bound) == 1:
            return f"coalesce({left} = {bound[0]}, false)"
        return f"coalesce({left} IN ({', '.join(bound)}), false)"

    def exact(self, resolved: ResolvedField, literal: s.Literal) -> str:
        """`==`: the text as stored, case, accents and spaces included."""
        if resolved.spec.type not in ("text", "list"):
            return self.equals(resolved, [literal])
        column = self.column(resolved)
        if resolved.spec.type == "list":
            return f"coalesce(list_contains({column}, {self.bind(str(literal.value))}), false)"
        return f"coalesce({column} = {self.bind(str(literal.value))}, false)"

    def value(self, resolved: ResolvedField, literal: s.Literal) -> Any:
        if resolved.spec.type in ("text", "list"):
            return fold(str(literal.value))
        if literal.type == "date":
            try:
                return resolve_date(literal.value, self.today)  # type: ignore[arg-type]
            except (ValueError, OverflowError):
                raise RuleCheckError(Problem(_("the date {value} falls outside the calendar (years 1 to 9999)", value=Quoted(literal_text(literal))),
                                             line=literal.span.line, column=literal.span.column, width=literal.span.width,
                                             source=self.checked.text if self.checked else None)) from None
        if resolved.spec.type == "decimal" and isinstance(literal.value, int):
            return Decimal(literal.value)
        return literal.value

    def column(self, resolved: ResolvedField) -> str:
        """SQL for the field's value on the current row, following to-one relations."""
        if resolved.relations:
            owner = self.related_row(resolved.relations)
            return owner(lambda alias: self.typed_column(f"{alias}.{quote_identifier(resolved.spec.column)}", resolved))
        return self.typed_column(f"{self.row}.{quote_identifier(resolved.spec.column)}", resolved)

    def typed_column(self, expression: str, resolved: ResolvedField) -> str:
        if resolved.spec.type != "timestamp":
            return expression
        if self.catalog.timestamps == "utc":
            # Stored in UTC: the date is the local date in the catalog's time zone.
            zone = self.bind(self.catalog.timezone)
            return f"CAST(timezone({zone}, CAST({expression} AS TIMESTAMP) AT TIME ZONE 'UTC') AS DATE)"
        # Stored as local times of the catalog's time zone: their date is the local date.
        return f"CAST({expression} AS DATE)"

    def related_key(self, relations: tuple, owner) -> str:
        """SQL for the key of the row reached from the current row through to-one relations."""
        if not relations:
            return f"{self.row}.{quote_identifier(owner.key)}"
        # Read the key on the reached row itself, so a link that points to no row gives NULL.
        target = self.catalog.entity(relations[-1].target)
        return self.related_row(tuple(relations))(lambda alias: f"{alias}.{quote_identifier(target.key)}")

    def related_row(self, relations: tuple):
        """Return a function that wraps a value read on the related row into nested scalar subqueries.

        A missing related row gives NULL, which the comparisons treat as an empty value.
        """
        aliases = [self.fresh_alias("r") for _ in relations]

        def wrap(read) -> str:
            value = read(aliases[-1])
            for index in range(len(relations) - 1, -1, -1):
                relation = relations[index]
                target = self.catalog.entity(relation.target)
                outer = self.row if index == 0 else aliases[index - 1]
                value = (f"(SELECT {value} FROM {quote_identifier(target.table)} AS {aliases[index]} "
                         f"WHERE {aliases[index]}.{quote_identifier(target.key)} = {outer}.{quote_identifier(relation.column)})")
            return value

        return wrap
