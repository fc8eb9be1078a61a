"""Stage 3: checked rule → DuckDB SQL with named parameters.

Every value reaches DuckDB as a bound parameter (`$p1`, `$p2`, …) and every
identifier comes from the catalog through `quote_identifier`. Each compiled
condition is two-valued (true or false, never NULL), so `not` is the plain
complement and `!=`, `not in` keep the rows whose field is empty.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import syntax as s
from .catalog import Catalog, default_catalog
from .check import CheckedRule, ResolvedField, check
from .parse import DEFAULT_LIMITS, Limits, parse
from .text import fold, fold_sql

ROW_ALIAS = "t"


def quote_identifier(name: str) -> str:
    """Quote a table or column name for DuckDB (the only place names enter SQL)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class CompiledRule:
    """A rule compiled to SQL.

    `condition` is a boolean SQL expression over the rows of `scope` (alias `t`);
    `keys_sql` selects the keys of the matching `entity` rows, without duplicates;
    `rows_sql` selects the matching rows themselves, in key order.
    """

    text: str
    checked: CheckedRule
    condition: str
    params: dict[str, Any]
    keys_sql: str
    rows_sql: str

    @property
    def entity(self):
        return self.checked.entity

    @property
    def kind(self):
        return self.checked.kind


def compile_rule(text: str, catalog: Catalog | None = None, *, limits: Limits = DEFAULT_LIMITS, param_prefix: str = "p") -> CompiledRule:
    """Parse, check and compile a rule; raise an `ErnestRulesError` subclass when it is invalid."""
    catalog = catalog or default_catalog()
    checked = check(parse(text, limits), catalog, text)
    return compile_checked(checked, catalog, param_prefix=param_prefix)


def compile_checked(checked: CheckedRule, catalog: Catalog, *, param_prefix: str = "p") -> CompiledRule:
    compiler = _Compiler(checked, catalog, param_prefix)
    where = checked.query.where
    condition = compiler.condition(where) if where is not None else "true"
    entity, scope = checked.entity, checked.scope
    entity_table = quote_identifier(entity.table)
    entity_key = quote_identifier(entity.key)
    if checked.kind is None:
        keys_sql = f"SELECT {ROW_ALIAS}.{entity_key} AS id FROM {entity_table} AS {ROW_ALIAS} WHERE {condition}"
        rows_sql = f"SELECT {ROW_ALIAS}.* FROM {entity_table} AS {ROW_ALIAS} WHERE {condition} ORDER BY {ROW_ALIAS}.{entity_key}"
    else:
        # Referents: the users whose key appears in the chosen offers; IN keeps each user once.
        through_column = quote_identifier(checked.kind.through_column)
        offers = f"SELECT {ROW_ALIAS}.{through_column} FROM {quote_identifier(scope.table)} AS {ROW_ALIAS} WHERE {condition}"
        keys_sql = f"SELECT u.{entity_key} AS id FROM {entity_table} AS u WHERE u.{entity_key} IN ({offers})"
        rows_sql = f"SELECT u.* FROM {entity_table} AS u WHERE u.{entity_key} IN ({offers}) ORDER BY u.{entity_key}"
    return CompiledRule(checked.text, checked, condition, compiler.params, keys_sql, rows_sql)


@dataclass
class _Compiler:
    checked: CheckedRule
    catalog: Catalog
    prefix: str
    params: dict[str, Any] = field(default_factory=dict)
    _aliases: int = 0

    def bind(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.params) + 1}"
        self.params[name] = value
        return f"${name}"

    def condition(self, node: s.Condition) -> str:
        return getattr(self, "compile_" + type(node).__name__.lower())(node)

    # ------------------------------------------------------------ logic

    def compile_and(self, node: s.And) -> str:
        return "(" + " AND ".join(self.condition(operand) for operand in node.operands) + ")"

    def compile_or(self, node: s.Or) -> str:
        return "(" + " OR ".join(self.condition(operand) for operand in node.operands) + ")"

    def compile_not(self, node: s.Not) -> str:
        return f"(NOT {self.condition(node.operand)})"

    # ------------------------------------------------------------ comparisons

    def compile_comparison(self, node: s.Comparison) -> str:
        resolved = self.checked.fields[node.field]
        if node.operator == "!=":
            return f"(NOT {self.equals(resolved, [node.value])})"
        if node.operator == "=":
            return self.equals(resolved, [node.value])
        column = self.column(resolved)
        return f"coalesce({column} {node.operator} {self.bind(self.value(resolved, node.value))}, false)"

    def compile_membership(self, node: s.Membership) -> str:
        test = self.equals(self.checked.fields[node.field], list(node.values))
        return f"(NOT {test})" if node.negated else test

    def compile_emptiness(self, node: s.Emptiness) -> str:
        resolved = self.checked.fields[node.field]
        column = self.column(resolved)
        field_type = resolved.spec.type
        if field_type == "text":
            test = f"({column} IS NULL OR trim({column}) = '')"
        elif field_type == "list":
            test = f"({column} IS NULL OR len(list_filter({column}, lambda x: trim(x) <> '')) = 0)"
        else:
            test = f"({column} IS NULL)"
        return f"(NOT {test})" if node.negated else test

    def compile_textmatch(self, node: s.TextMatch) -> str:
        resolved = self.checked.fields[node.field]
        column = self.column(resolved)
        if resolved.spec.type == "list" and node.mode == "contains":
            # On a list, `contains X` means one of its values is X.
            return self.equals(resolved, [node.value])
        parameter = self.bind(fold(node.value.value))
        # contains() and starts_with() take the value literally: % _ and \ match themselves.
        function = "contains" if node.mode == "contains" else "starts_with"
        if resolved.spec.type == "list":
            return f"coalesce(len(list_filter({column}, lambda x: {function}({fold_sql('x')}, {parameter}))) > 0, false)"
        return f"coalesce({function}({fold_sql(column)}, {parameter}), false)"

    def compile_truth(self, node: s.Truth) -> str:
        return f"coalesce({self.column(self.checked.fields[node.field])}, false)"

    # ------------------------------------------------------------ helpers

    def equals(self, resolved: ResolvedField, values: list[s.Literal]) -> str:
        """True when the field equals one of the values (for a list field: one of its items does)."""
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

    def value(self, resolved: ResolvedField, literal: s.Literal) -> Any:
        if resolved.spec.type in ("text", "list"):
            return fold(str(literal.value))
        if resolved.spec.type == "decimal" and isinstance(literal.value, int):
            return Decimal(literal.value)
        if resolved.spec.type == "integer" and isinstance(literal.value, Decimal):
            return literal.value
        if isinstance(literal.value, dt.date):
            return literal.value
        return literal.value

    def column(self, resolved: ResolvedField) -> str:
        """SQL for the field's value on the current row, following to-one relations."""
        expression = f"{ROW_ALIAS}.{quote_identifier(resolved.spec.column)}"
        if resolved.spec.type == "timestamp":
            # Export timestamps are local times of the catalog's time zone: their date is the local date.
            expression = f"CAST({expression} AS DATE)"
        if not resolved.relations:
            return expression
        return self.through_relations(resolved, expression)

    def through_relations(self, resolved: ResolvedField, expression: str) -> str:
        # Each relation is a scalar subquery: a missing related row gives NULL, which
        # the comparisons treat as an empty value.
        aliases = []
        for _ in resolved.relations:
            self._aliases += 1
            aliases.append(f"r{self._aliases}")
        inner_alias = aliases[-1]
        value = expression.replace(f"{ROW_ALIAS}.", f"{inner_alias}.", 1)
        for index in range(len(resolved.relations) - 1, -1, -1):
            relation = resolved.relations[index]
            target = self.catalog.entity(relation.target)
            alias = aliases[index]
            outer = ROW_ALIAS if index == 0 else aliases[index - 1]
            value = (f"(SELECT {value} FROM {quote_identifier(target.table)} AS {alias} "
                     f"WHERE {alias}.{quote_identifier(target.key)} = {outer}.{quote_identifier(relation.column)})")
        return value
