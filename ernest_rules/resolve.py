"""Stage 5: list definition → recipients, one row per recipient key, and a report.

Resolution runs as a few DuckDB statements over the export; rows never pass
through Python objects. Its steps:

1. Members: for each section, the rule's matches and the manual ids found in
   the export, each joined to its entity row (address, display name).
2. Row exclusions, the first that applies: missing address, invalid address,
   unsubscribed (any row of the export with the same key has opted out),
   company unsubscribed (contacts of an opted-out société), not eligible for
   the kind (contact without an active post, inactive user, user who is not
   that referent of any offer).
3. Anti-doublon: the remaining rows are grouped by recipient key. The row of
   the earliest section wins, then the lowest id, then manual before rule; the
   recipient lists every source that brought it.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .address import is_invalid_sql, is_missing_sql, recipient_key_sql
from .catalog import Catalog, EntitySpec, KindSpec
from .compile import CompiledRule, compile_rule, quote_identifier
from .errors import ErnestRulesError, ListDefinitionError, Problem
from .export import Export, open_export, quote_string
from .i18n import Quoted, _
from .listdef import ListDefinition, load_definition, validate_definition
from .report import IdIssue, Report, SectionSummary

logger = logging.getLogger("ernest_rules")

_run_numbers = itertools.count(1)

MAX_LISTED_BAD_IDS = 20


@dataclass
class SectionPlan:
    index: int
    label: str
    kind: KindSpec
    entity: EntitySpec
    rule: CompiledRule | None
    manual: list[Any]
    repeated: list[Any]


@dataclass
class Resolution:
    """Recipients of a list (a DuckDB temporary table) and the report of how they were chosen."""

    definition: ListDefinition
    export: Export
    table: str
    excluded_table: str
    report: Report

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self.export.connection

    def relation(self) -> duckdb.DuckDBPyRelation:
        """Recipients as a DuckDB relation, in output order."""
        return self.connection.sql(f"SELECT * FROM {self.table} ORDER BY position")

    def recipients(self) -> pa.Table:
        """Recipients as an Arrow table (columns of `RECIPIENT_COLUMNS`), in output order."""
        return self.connection.sql(f"SELECT * EXCLUDE (position) FROM {self.table} ORDER BY position").to_arrow_table()

    def write(self, path: str | Path) -> int:
        """Write the recipients to a .csv, .json or .parquet file; return how many were written."""
        from .output import write_table

        return write_table(self.connection, self.table, path)

    def excluded(self) -> pa.Table:
        """Rows left out, each with its reason, in section then id order."""
        return self.connection.sql(f"SELECT * FROM {self.excluded_table} ORDER BY section, entity, id, via").to_arrow_table()


def resolve(definition: ListDefinition | dict | str | Path, data: str | Path | None = None, *,
            catalog: Catalog | None = None, export: Export | None = None) -> Resolution:
    """Resolve a list definition (object, dict, or .toml/.json path) against an export folder."""
    definition = _as_definition(definition)
    export = export or open_export(data, catalog)
    started = time.perf_counter()
    plans = plan_sections(definition, export.catalog)
    run = next(_run_numbers)
    names = {name: f"er_{name}_{run}" for name in ("manual", "rows", "recipients", "excluded")}
    connection = export.connection

    _register_manual_ids(connection, names["manual"], plans)
    params: dict[str, Any] = {}
    for plan in plans:
        if plan.rule is not None:
            params.update(plan.rule.params)
    connection.execute(f"CREATE TEMP TABLE {names['rows']} AS {_rows_sql(plans, export.catalog, names['manual'])}", params or None)
    connection.execute(f"CREATE TEMP TABLE {names['recipients']} AS {_recipients_sql(names['rows'])}")
    connection.execute(f"CREATE TEMP TABLE {names['excluded']} AS SELECT section, kind, entity, id, via, address, exclusion AS reason "
                       f"FROM {names['rows']} WHERE exclusion IS NOT NULL")
    report = _build_report(definition, export, plans, names)
    logger.info("resolved %r: %d recipients in %.3f s", definition.title, report.recipients, time.perf_counter() - started)
    return Resolution(definition, export, names["recipients"], names["excluded"], report)


def _as_definition(definition: ListDefinition | dict | str | Path) -> ListDefinition:
    if isinstance(definition, ListDefinition):
        return definition
    if isinstance(definition, (str, Path)):
        return load_definition(definition)
    return validate_definition(definition)


# ---------------------------------------------------------------- planning


def plan_sections(definition: ListDefinition, catalog: Catalog) -> list[SectionPlan]:
    """Compile each section's rule and type its manual ids; raise with every problem at once."""
    problems: list[Problem] = []
    plans: list[SectionPlan] = []
    for index, section in enumerate(definition.sections, start=1):
        label = section.label or f"{index}"
        origin = f"sections[{index}]"
        kind = catalog.kind(section.kind)
        entity = catalog.entity(kind.entity)
        rule = None
        if section.rule and section.rule.strip():
            try:
                rule = compile_rule(section.rule, catalog, param_prefix=f"s{index}_")
            except ErnestRulesError as error:
                problems.extend(replace(problem, origin=f"{origin}.rule") for problem in error.problems)
            else:
                if not _rule_fits(rule, kind):
                    problems.append(Problem(_("the rule selects {found} but the section holds {kind}: write a rule that starts with {expected}",
                                              found=Quoted(rule.kind.name if rule.kind else rule.entity.name), kind=Quoted(kind.name),
                                              expected=Quoted(f"{kind.name} of {kind.through}" if kind.through else kind.name)),
                                            origin=f"{origin}.rule"))
        manual, repeated, bad = _typed_ids(section.manual, entity)
        for value in bad[:MAX_LISTED_BAD_IDS]:
            problems.append(Problem(_("the manual id {value} is not a valid id of {entity}: expected {expected}", value=Quoted(value),
                                      entity=Quoted(entity.name), expected=_("an integer") if entity.key_type == "integer" else _("a text")),
                                    origin=f"{origin}.manual"))
        if len(bad) > MAX_LISTED_BAD_IDS:
            problems.append(Problem(_("{count} more invalid manual ids", count=len(bad) - MAX_LISTED_BAD_IDS), origin=f"{origin}.manual"))
        plans.append(SectionPlan(index, label, kind, entity, rule, manual, repeated))
    if problems:
        raise ListDefinitionError(problems)
    return plans


def _rule_fits(rule: CompiledRule, kind: KindSpec) -> bool:
    if kind.through:
        return rule.kind is not None and rule.kind.name == kind.name
    return rule.kind is None and rule.entity.name == kind.entity


_INTEGER = re.compile(r"[+-]?\d+")


def _typed_ids(values: list[int | str], entity: EntitySpec) -> tuple[list[Any], list[Any], list[str]]:
    """Convert manual ids to the key's type; return (distinct ids in order, repeated ids, invalid values)."""
    typed: dict[Any, None] = {}
    repeated: list[Any] = []
    bad: list[str] = []
    for value in values:
        if entity.key_type == "integer":
            text = str(value).strip()
            if not _INTEGER.fullmatch(text):
                bad.append(str(value))
                continue
            key: Any = int(text)
        else:
            key = str(value).strip()
        if key in typed:
            repeated.append(key)
        typed[key] = None
    return list(typed), repeated, bad


def _register_manual_ids(connection: duckdb.DuckDBPyConnection, name: str, plans: list[SectionPlan]) -> None:
    """Hand the manual ids to DuckDB as a table (section, position, id), not as a literal IN list."""
    sections = [plan.index for plan in plans for _ in plan.manual]
    positions = [position for plan in plans for position in range(len(plan.manual))]
    integer = all(plan.entity.key_type == "integer" for plan in plans)
    ids = [key for plan in plans for key in plan.manual]
    table = pa.table({
        "section": pa.array(sections, pa.int32()),
        "position": pa.array(positions, pa.int64()),
        "id": pa.array(ids, pa.int64() if integer else pa.string()) if integer else pa.array([str(key) for key in ids], pa.string()),
    })
    connection.register(f"{name}_arrow", table)
    connection.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    connection.unregister(f"{name}_arrow")


# ---------------------------------------------------------------- SQL


def _rows_sql(plans: list[SectionPlan], catalog: Catalog, manual_table: str) -> str:
    optouts = _optout_keys_sql(catalog)
    parts = [_section_rows_sql(plan, catalog, manual_table) for plan in plans]
    members = "\nUNION ALL\n".join(parts)
    key = recipient_key_sql("address")
    return f"""
WITH members AS (
{members}
),
optouts AS ({optouts}),
keyed AS (SELECT *, {key} AS recipient_key FROM members)
SELECT keyed.*,
       CASE
         WHEN {is_missing_sql('address')} THEN 'missing_address'
         WHEN {is_invalid_sql('recipient_key')} THEN 'invalid_address'
         WHEN recipient_key IN (SELECT recipient_key FROM optouts) THEN 'unsubscribed'
         WHEN company_unsubscribed THEN 'company_unsubscribed'
         WHEN NOT eligible THEN ineligible_reason
       END AS exclusion
FROM keyed"""


def _section_rows_sql(plan: SectionPlan, catalog: Catalog, manual_table: str) -> str:
    entity = plan.entity
    table = quote_identifier(entity.table)
    key = quote_identifier(entity.key)
    sources = []
    if plan.rule is not None:
        sources.append(f"SELECT 'rule' AS via, id FROM ({plan.rule.keys_sql})")
    if plan.manual:
        sources.append(f"SELECT 'manual' AS via, id FROM {manual_table} WHERE section = {plan.index} AND id IN (SELECT {key} FROM {table})")
    address = f"e.{quote_identifier(entity.email)}" if entity.email else "NULL"
    display = " , ".join(f"e.{quote_identifier(column)}" for column in entity.display) or "NULL"
    eligible, reason = _eligibility_sql(plan, catalog)
    company = _company_optout_sql(entity, catalog)
    return f"""  SELECT {plan.index} AS section, {quote_string(plan.kind.name)} AS kind, {quote_string(entity.name)} AS entity, m.via, m.id,
         {address} AS address, nfc_normalize(concat_ws(' ', {display})) AS display_name,
         {eligible} AS eligible, {reason} AS ineligible_reason, {company} AS company_unsubscribed
  FROM ({' UNION ALL '.join(sources)}) AS m JOIN {table} AS e ON e.{key} = m.id"""


def _eligibility_sql(plan: SectionPlan, catalog: Catalog) -> tuple[str, str]:
    kind = plan.kind
    tests, reasons = [], []
    if kind.eligible_column:
        tests.append(f"coalesce(e.{quote_identifier(kind.eligible_column)}, false)")
        reasons.append((tests[-1], kind.eligible_reason or "not_eligible"))
    if kind.through and plan.manual:
        # A manual referent must be that referent of at least one offer.
        through = catalog.entity(kind.through)
        test = (f"(m.via = 'rule' OR e.{quote_identifier(plan.entity.key)} IN (SELECT {quote_identifier(kind.through_column)} "
                f"FROM {quote_identifier(through.table)}))")
        tests.append(test)
        reasons.append((test, "not_a_referent"))
    if not tests:
        return "true", "NULL"
    reason = "CASE " + " ".join(f"WHEN NOT {test} THEN {quote_string(name)}" for test, name in reasons) + " END"
    return "(" + " AND ".join(tests) + ")", reason


def _company_optout_sql(entity: EntitySpec, catalog: Catalog) -> str:
    """True for a row whose linked société has opted out (a B2B opt-out covers its contacts)."""
    for relation in entity.relations:
        target = catalog.entity(relation.target)
        if target.unsubscribed and target.email and entity.name != target.name:
            return (f"coalesce((SELECT c.{quote_identifier(target.unsubscribed)} FROM {quote_identifier(target.table)} AS c "
                    f"WHERE c.{quote_identifier(target.key)} = e.{quote_identifier(relation.column)}), false)")
    return "false"


def _optout_keys_sql(catalog: Catalog) -> str:
    """Keys of every address that opted out in any table of the export."""
    parts = [f"SELECT {recipient_key_sql(quote_identifier(entity.email))} AS recipient_key FROM {quote_identifier(entity.table)} "
             f"WHERE coalesce({quote_identifier(entity.unsubscribed)}, false)"
             for entity in catalog.entities if entity.email and entity.unsubscribed]
    return " UNION ".join(parts) if parts else "SELECT NULL::VARCHAR AS recipient_key WHERE false"


def _recipients_sql(rows: str) -> str:
    return f"""
WITH kept AS (SELECT * FROM {rows} WHERE exclusion IS NULL),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY recipient_key ORDER BY section, id, via) AS rank FROM kept
),
merged AS (
  SELECT recipient_key,
         list({{'section': section, 'kind': kind, 'via': via, 'entity': entity, 'id': id}} ORDER BY section, entity, id, via) AS sources
  FROM kept GROUP BY recipient_key
)
SELECT row_number() OVER (ORDER BY r.section, r.id, r.recipient_key) AS position,
       r.recipient_key, r.kind, r.entity, r.id, nfc_normalize(trim(r.address)) AS email, r.display_name, r.section, m.sources
FROM ranked AS r JOIN merged AS m USING (recipient_key)
WHERE r.rank = 1"""


# ---------------------------------------------------------------- report


def _build_report(definition: ListDefinition, export: Export, plans: list[SectionPlan], names: dict[str, str]) -> Report:
    connection = export.connection
    rows, recipients, manual = names["rows"], names["recipients"], names["manual"]
    total = connection.execute(f"SELECT count(*) FROM {recipients}").fetchone()[0]
    kept_rows = connection.execute(f"SELECT count(*) FROM {rows} WHERE exclusion IS NULL").fetchone()[0]
    reasons = dict(connection.execute(f"SELECT exclusion, count(*) FROM {rows} WHERE exclusion IS NOT NULL GROUP BY ALL ORDER BY 1").fetchall())

    per_section = {
        section: (rule_rows, manual_rows, brought, won)
        for section, rule_rows, manual_rows, brought, won in connection.execute(f"""
            SELECT s.section,
                   (SELECT count(*) FROM {rows} WHERE section = s.section AND via = 'rule'),
                   (SELECT count(*) FROM {rows} WHERE section = s.section AND via = 'manual'),
                   (SELECT count(DISTINCT recipient_key) FROM {rows} WHERE section = s.section AND exclusion IS NULL),
                   (SELECT count(*) FROM {recipients} WHERE section = s.section)
            FROM (SELECT unnest(range(1, {len(plans) + 1})) AS section) AS s""").fetchall()
    }
    issues: list[IdIssue] = []
    for section, key in connection.execute(f"""
            SELECT m.section, m.id FROM {manual} AS m
            WHERE NOT EXISTS (SELECT 1 FROM {rows} AS r WHERE r.section = m.section AND r.via = 'manual' AND r.id = m.id)
            ORDER BY m.section, m.position""").fetchall():
        issues.append(IdIssue(section=section, id=str(key), reason="unknown"))
    for section, key, reason in connection.execute(f"""
            SELECT section, id, ineligible_reason FROM {rows}
            WHERE via = 'manual' AND NOT eligible ORDER BY section, id""").fetchall():
        issues.append(IdIssue(section=section, id=str(key), reason=reason))
    for plan in plans:
        issues.extend(IdIssue(section=plan.index, id=str(key), reason="repeated") for key in plan.repeated)

    sections = []
    for plan in plans:
        rule_rows, manual_rows, brought, won = per_section.get(plan.index, (0, 0, 0, 0))
        sections.append(SectionSummary(index=plan.index, label=plan.label, kind=plan.kind.name, rule=plan.rule.text if plan.rule else None,
                                       rule_matches=rule_rows, manual_given=len(plan.manual) + len(plan.repeated),
                                       manual_found=manual_rows, recipients=brought, first_source_of=won))
    return Report(title=definition.title, description=definition.description, data=str(export.path), form=export.form,
                  recipients=total, duplicates_merged=kept_rows - total, excluded=reasons, sections=sections,
                  manual_id_issues=issues)
