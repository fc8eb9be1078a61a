"""Stage 5: list definition → recipients, one row per recipient, and a report.

Resolution runs as a few DuckDB statements over the export, and rows never
pass through Python objects (except the rare unusual addresses, checked one by
one). Its steps, with the SQL in `members`:

1. Members: for each section, the rule's matches and the manual ids found in
   the export, each joined to its entity row (address, display name, consent).
2. Guard: a section whose rule has no condition, or selects more than
   `max_share` of its kind, needs `allow_all`.
3. Exclusions: each row gets the first reason of `members.EXCLUSION_ORDER`
   that applies. Opt-outs are absolute: an address unsubscribed in any table
   of the export, or in a suppression list, is never sent to.
4. Anti-doublon: the remaining rows are grouped by recipient key (the address)
   or, with `dedup = "person"`, by person record. The row of the earliest
   section wins, then the lowest id, then manual before rule; the recipient
   lists every source that brought it, and the other rows are reported as
   duplicates of the winner.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import duckdb
import pyarrow as pa

from .address import address_sql, check_address, recipient_key_sql
from .catalog import Catalog, EntitySpec, KindSpec
from .compile import CompiledRule, compile_rule, quote_identifier
from .dates import today_in
from .errors import ErnestRulesError, GuardError, ListDefinitionError, Problem
from .export import Export, open_export
from .i18n import Number, Quoted, _
from .listdef import ListDefinition, load_definition, validate_definition
from .members import (SectionPlan, Tables, excluded_sql, members_sql, recipients_sql, rows_sql, unchecked_keys_sql, winners_sql)
from .report import ExclusionIssue, IdIssue, Report, SectionSummary
from .suppression import collect_suppressed, default_suppression_files

logger = logging.getLogger("ernest_rules")

_run_numbers = itertools.count(1)

MAX_LISTED_BAD_IDS = 20
DEFAULT_MAX_SHARE = 0.75


@dataclass
class Resolution:
    """Recipients of a list (a DuckDB temporary table) and the report of how they were chosen."""

    definition: ListDefinition
    export: Export
    tables: Tables
    report: Report
    plans: list[SectionPlan] = field(default_factory=list)

    def rules(self) -> list[CompiledRule]:
        """Return the compiled rules of the list's sections, in section order."""
        return [plan.rule for plan in self.plans if plan.rule is not None]

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self.export.connection

    @property
    def table(self) -> str:
        return self.tables.recipients

    def relation(self) -> duckdb.DuckDBPyRelation:
        """Recipients as a DuckDB relation, in output order."""
        return self.connection.sql(f"SELECT * EXCLUDE (position) FROM {self.tables.recipients} ORDER BY position")

    def recipients(self) -> pa.Table:
        """Recipients as an Arrow table, in output order."""
        return self.relation().to_arrow_table()

    def excluded(self) -> pa.Table:
        """Rows left out, each with its reason (and the winner for duplicates), in section then id order."""
        return self.connection.sql(f"SELECT * FROM {self.tables.excluded} ORDER BY section, entity, id, via, reason").to_arrow_table()

    def write(self, path: str | Path, *, include_excluded: bool = False) -> int:
        """Write the recipients (and with `include_excluded` the rows left out) to .csv, .json or .parquet."""
        from .output import write_resolution

        return write_resolution(self, path, include_excluded=include_excluded)


def resolve(definition: ListDefinition | dict | str | Path, data: str | Path | None = None, *,
            catalog: Catalog | None = None, export: Export | None = None,
            suppression_files: Iterable[str | Path] | None = None, suppressed_addresses: Iterable[str] = (),
            allow_all: bool = False, max_share: float | None = None,
            rules: Mapping[str, str] | None = None, today: dt.date | None = None) -> Resolution:
    """Resolve a list definition (object, dict, or .toml/.json path) against an export folder.

    Suppression files default to those named in $ERNEST_RULES_SUPPRESSION. A
    section that selects more than `max_share` of its kind (default: the list's
    own `max_share`, else 0.75) or has no condition raises `GuardError` unless
    `allow_all` is true. `rules` maps names to saved rules for `@name`; `today` pins the
    date `today` stands for (reported in `report.today`).
    """
    definition = _as_definition(definition)
    export = export or open_export(data, catalog)
    catalog = export.catalog
    started = time.perf_counter()
    today = today or today_in(catalog.timezone)
    plans = plan_sections(definition, catalog, rules=rules, today=today)
    exclusions, exclusion_bad = _typed_exclusions(definition, catalog)
    consent_required = _consent_required(definition, catalog)
    tables = Tables(next(_run_numbers))
    files = default_suppression_files() if suppression_files is None else list(suppression_files)
    suppressed = collect_suppressed(files, suppressed_addresses)

    with export.limited():
        return _run(definition, export, plans, tables, exclusions, exclusion_bad, consent_required, suppressed, started,
                    allow_all=allow_all, max_share=max_share, today=today)


def _run(definition: ListDefinition, export: Export, plans: list[SectionPlan], tables: Tables, exclusions, exclusion_bad,
         consent_required: bool, suppressed: list[str], started: float, *, allow_all: bool, max_share: float | None,
         today: dt.date) -> Resolution:
    connection = export.connection
    catalog = export.catalog
    _register(connection, tables.manual, _manual_table(plans))
    _register(connection, tables.exclusions, pa.table({"entity": pa.array([e for e, _ in exclusions], pa.string()),
                                                       "id": pa.array([str(i) for _, i in exclusions], pa.string())}))
    _register(connection, tables.suppression_raw, pa.table({"address": pa.array(suppressed, pa.string())}))
    connection.execute(f"CREATE TEMP TABLE {tables.suppression} AS SELECT DISTINCT {recipient_key_sql(address_sql('address'))} AS recipient_key "
                       f"FROM {tables.suppression_raw} WHERE address IS NOT NULL")

    params: dict[str, Any] = {}
    for plan in plans:
        if plan.rule is not None:
            params.update(plan.rule.params)
    stage = _Stages(started)
    connection.execute(f"CREATE TEMP TABLE {tables.members} AS {members_sql(plans, catalog, tables)}", params or None)
    stage.done("section members")
    shares = _check_guard(connection, plans, catalog, tables, definition, allow_all, max_share)
    stage.done("guard")

    unusual = [row[0] for row in connection.execute(unchecked_keys_sql(tables)).fetchall()]
    _register(connection, tables.verdicts, pa.table({"recipient_key": pa.array(unusual, pa.string()),
                                                     "valid": pa.array([check_address(key) for key in unusual], pa.bool_())}))
    stage.done(f"address checks ({len(unusual)} unusual addresses)")
    connection.execute(f"CREATE TEMP TABLE {tables.rows} AS "
                       f"{rows_sql(catalog, tables, consent_required=consent_required, include_inactive_users=definition.include_inactive_users)}")
    stage.done("exclusions")
    per_person = definition.dedup == "person"
    connection.execute(f"CREATE TEMP TABLE {tables.winners} AS {winners_sql(tables, per_person=per_person)}")
    connection.execute(f"CREATE TEMP TABLE {tables.recipients} AS {recipients_sql(tables, per_person=per_person)}")
    connection.execute(f"CREATE TEMP TABLE {tables.excluded} AS {excluded_sql(tables, per_person=per_person)}")
    stage.done("anti-doublon")
    report = _build_report(definition, export, plans, tables, shares, consent_required, exclusion_bad, len(set(suppressed)))
    report.today = today
    stage.done("report")
    logger.info("resolved %r: %d recipients in %.3f s", definition.title, report.recipients, time.perf_counter() - started)
    return Resolution(definition, export, tables, report, plans)


class _Stages:
    """Log how long each stage of a resolution took (shown with -v)."""

    def __init__(self, started: float):
        self.last = started

    def done(self, name: str) -> None:
        now = time.perf_counter()
        logger.debug("stage %s: %.3f s", name, now - self.last)
        self.last = now


def _as_definition(definition: ListDefinition | dict | str | Path) -> ListDefinition:
    if isinstance(definition, ListDefinition):
        return definition
    if isinstance(definition, (str, Path)):
        return load_definition(definition)
    return validate_definition(definition)


def _register(connection: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """Copy an Arrow table into a DuckDB temporary table (ids are joined, never inlined in SQL)."""
    connection.register(f"{name}_arrow", table)
    connection.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    connection.unregister(f"{name}_arrow")


# ---------------------------------------------------------------- planning


def plan_sections(definition: ListDefinition, catalog: Catalog, *, rules: Mapping[str, str] | None = None,
                  today: dt.date | None = None) -> list[SectionPlan]:
    """Compile each section's rule and type its manual ids; raise with every problem at once."""
    problems: list[Problem] = []
    plans: list[SectionPlan] = []
    if definition.purpose is not None and catalog.find_purpose(definition.purpose) is None:
        problems.append(Problem(_("unknown purpose {name}; use one of {choices}", name=Quoted(definition.purpose),
                                  choices=[Quoted(purpose.name) for purpose in catalog.purposes]), origin="purpose"))
    for index, section in enumerate(definition.sections, start=1):
        origin = f"sections[{index}]"
        kind = catalog.kind(section.kind)
        entity = catalog.entity(kind.entity)
        rule = None
        if section.rule and section.rule.strip():
            try:
                rule = compile_rule(section.rule, catalog, param_prefix=f"s{index}_", rules=rules, today=today)
            except ErnestRulesError as error:
                problems.extend(replace(problem, origin=f"{origin}.rule") for problem in error.problems)
            else:
                if not _rule_fits(rule, kind):
                    problems.append(Problem(_("the rule selects {found} but the section holds {kind}: write a rule that starts with {expected}",
                                              found=Quoted(rule.kind.name if rule.kind else rule.entity.name), kind=Quoted(kind.name),
                                              expected=Quoted(f"{kind.name} of {kind.through}" if kind.through else kind.name)),
                                            origin=f"{origin}.rule"))
        manual, repeated, bad = typed_ids(section.manual, entity)
        problems.extend(_bad_id_problems(bad, entity, f"{origin}.manual"))
        plans.append(SectionPlan(index, section.label or str(index), kind, entity, rule, manual, repeated))
    if problems:
        raise ListDefinitionError(problems)
    return plans


def _bad_id_problems(bad: list[str], entity: EntitySpec, origin: str) -> list[Problem]:
    expected = _("an integer") if entity.key_type == "integer" else _("a text")
    problems = [Problem(_("the id {value} is not a valid id of {entity}: expected {expected}", value=Quoted(value),
                          entity=Quoted(entity.name), expected=expected), origin=origin) for value in bad[:MAX_LISTED_BAD_IDS]]
    if len(bad) > MAX_LISTED_BAD_IDS:
        problems.append(Problem(_("{count} more invalid ids", count=len(bad) - MAX_LISTED_BAD_IDS), origin=origin))
    return problems


def _rule_fits(rule: CompiledRule, kind: KindSpec) -> bool:
    if kind.through:
        return rule.kind is not None and rule.kind.name == kind.name
    return rule.kind is None and rule.entity.name == kind.entity


_INTEGER = re.compile(r"[+-]?\d+")


def typed_ids(values: list[int | str], entity: EntitySpec) -> tuple[list[Any], list[Any], list[str]]:
    """Convert ids to the key's type; return (distinct ids in order, repeated ids, invalid values)."""
    typed: dict[Any, None] = {}
    repeated: list[Any] = []
    bad: list[str] = []
    for value in values:
        if entity.key_type == "integer" and type(value) is int and -(2**63) <= value < 2**63:
            key: Any = value
        elif entity.key_type == "integer":
            text = str(value).strip()
            if not _INTEGER.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
                # Keys are DuckDB BIGINTs: anything else cannot be an id of the export.
                bad.append(str(value))
                continue
            key = int(text)
        else:
            key = str(value).strip()
        if key in typed:
            repeated.append(key)
        typed[key] = None
    return list(typed), repeated, bad


def _typed_exclusions(definition: ListDefinition, catalog: Catalog) -> tuple[list[tuple[str, Any]], list[Problem]]:
    problems: list[Problem] = []
    exclusions: list[tuple[str, Any]] = []
    for name, values in definition.exclude.items():
        kind = catalog.find_kind(name)
        entity = catalog.entity(kind.entity) if kind else catalog.find_entity(name)
        if entity is None:
            problems.append(Problem(_("unknown kind {name} in exclude; use a recipient kind such as {example}", name=Quoted(name),
                                      example=Quoted("candidats")), origin="exclude"))
            continue
        ids, _repeated, bad = typed_ids(values, entity)
        problems.extend(_bad_id_problems(bad, entity, f"exclude.{name}"))
        exclusions.extend((entity.name, key) for key in ids)
    if problems:
        raise ListDefinitionError(problems)
    return exclusions, problems


def _consent_required(definition: ListDefinition, catalog: Catalog) -> bool:
    """Consent is required unless the list names a purpose that does not need it (the safe default)."""
    if definition.purpose is None:
        return True
    purpose = catalog.find_purpose(definition.purpose)
    return True if purpose is None else purpose.requires_consent


def _manual_table(plans: list[SectionPlan]) -> pa.Table:
    """Manual ids as a table (section, position, id): DuckDB joins them instead of reading a literal IN list."""
    integer = all(plan.entity.key_type == "integer" for plan in plans)
    ids = [key if integer else str(key) for plan in plans for key in plan.manual]
    return pa.table({
        "section": pa.array([plan.index for plan in plans for _ in plan.manual], pa.int32()),
        "position": pa.array([position for plan in plans for position in range(len(plan.manual))], pa.int64()),
        "id": pa.array(ids, pa.int64() if integer else pa.string()),
    })


# ---------------------------------------------------------------- guard


def _check_guard(connection: duckdb.DuckDBPyConnection, plans: list[SectionPlan], catalog: Catalog, tables: Tables,
                 definition: ListDefinition, allow_all: bool, max_share: float | None) -> dict[int, float]:
    limit = DEFAULT_MAX_SHARE
    if definition.max_share is not None:
        limit = definition.max_share
    if max_share is not None:
        limit = max_share
    shares: dict[int, float] = {}
    problems: list[Problem] = []
    for plan in plans:
        if plan.rule is None:
            continue
        selected, universe = _rule_share(connection, plan, catalog, tables)
        share = selected / universe if universe else 0.0
        shares[plan.index] = share
        if allow_all:
            continue
        if _selects_everything(plan.rule.checked.node):
            problems.append(Problem(_("the rule has no condition and selects all {count} rows: add a condition, "
                                      "or confirm with --allow-all (allow_all in Python and in HTTP requests)", count=universe, kind=plan.kind.name),
                                    origin=f"sections[{plan.index}].rule"))
        elif share > limit:
            problems.append(Problem(_("the rule selects {selected} of {count} rows of {kind} ({share}%), more than the allowed {limit}%: "
                                      "narrow it, or confirm with --allow-all (allow_all in Python and in HTTP requests)",
                                      selected=selected, count=universe, kind=plan.kind.name, share=Number(round(share * 100, 1)),
                                      limit=Number(round(limit * 100, 1))), origin=f"sections[{plan.index}].rule"))
    if problems:
        raise GuardError(problems)
    return shares


def _selects_everything(node) -> bool:
    """True for a query without condition, or a union with such a query on either side.

    A saved rule referenced by name is not looked into, and `except`/`intersect`
    narrow their left side, so they are left to the share test.
    """
    from . import syntax as s

    if isinstance(node, s.Query):
        return node.where is None
    if isinstance(node, s.SetOperation):
        if node.operator == "union":
            return _selects_everything(node.left) or _selects_everything(node.right)
    return False


def _rule_share(connection: duckdb.DuckDBPyConnection, plan: SectionPlan, catalog: Catalog, tables: Tables) -> tuple[int, int]:
    """Rows the rule selects and rows it selects from; for referents, the offers it selects among all offers."""
    assert plan.rule is not None
    if plan.kind.through and plan.rule.condition is not None and plan.rule.checked.scope is not None:
        scope = quote_identifier(plan.rule.checked.scope.table)
        selected = connection.execute(f"SELECT count(*) FROM {scope} AS t WHERE {plan.rule.condition}", plan.rule.params or None).fetchall()[0][0]
        return selected, connection.execute(f"SELECT count(*) FROM {scope}").fetchall()[0][0]
    selected = connection.execute(f"SELECT count(DISTINCT id) FROM {tables.members} WHERE section = {plan.index} AND via = 'rule'").fetchall()[0][0]
    if plan.kind.through:
        # A combined referent rule: the share of the users who are that referent of some offer.
        through = catalog.entity(plan.kind.through)
        total = connection.execute(f"SELECT count(DISTINCT {quote_identifier(plan.kind.through_column)}) "
                                   f"FROM {quote_identifier(through.table)}").fetchall()[0][0]
        return selected, total
    return selected, connection.execute(f"SELECT count(*) FROM {quote_identifier(plan.entity.table)}").fetchall()[0][0]


# ---------------------------------------------------------------- report


def _build_report(definition: ListDefinition, export: Export, plans: list[SectionPlan], tables: Tables, shares: dict[int, float],
                  consent_required: bool, exclusion_problems: list[Problem], suppressed_count: int) -> Report:
    connection = export.connection
    total = connection.execute(f"SELECT count(*) FROM {tables.recipients}").fetchall()[0][0]
    reasons = dict(connection.execute(f"SELECT reason, count(*) FROM {tables.excluded} GROUP BY ALL ORDER BY 1").fetchall())
    counts = {
        row[0]: row[1:]
        for row in connection.execute(f"""
            SELECT section, count(*) FILTER (WHERE via = 'rule'), count(*) FILTER (WHERE via = 'manual'),
                   count(DISTINCT recipient_key) FILTER (WHERE exclusion IS NULL)
            FROM {tables.rows} GROUP BY section""").fetchall()
    }
    won = dict(connection.execute(f"SELECT section, count(*) FROM {tables.recipients} GROUP BY section").fetchall())
    issues = [IdIssue(section=section, id=str(key), reason="unknown") for section, key in connection.execute(f"""
            SELECT m.section, m.id FROM {tables.manual} AS m
            WHERE NOT EXISTS (SELECT 1 FROM {tables.rows} AS r WHERE r.section = m.section AND r.via = 'manual' AND r.id = m.id)
            ORDER BY m.section, m.position""").fetchall()]
    issues += [IdIssue(section=section, id=str(key), reason=reason) for section, key, reason in connection.execute(f"""
            SELECT section, id, ineligible_reason FROM {tables.rows}
            WHERE via = 'manual' AND NOT eligible ORDER BY section, id""").fetchall()]
    for plan in plans:
        issues.extend(IdIssue(section=plan.index, id=str(key), reason="repeated") for key in plan.repeated)
    unknown_exclusions = [ExclusionIssue(entity=entity, id=str(key)) for entity, key in connection.execute(
        f"SELECT entity, id FROM {tables.exclusions} ORDER BY entity, id").fetchall()
        if not _exists(connection, export.catalog.entity(entity), key)]

    sections = []
    for plan in plans:
        rule_rows, manual_rows, brought = counts.get(plan.index, (0, 0, 0))
        sections.append(SectionSummary(index=plan.index, label=plan.label, kind=plan.kind.name, rule=plan.rule.text if plan.rule else None,
                                       rule_matches=rule_rows, manual_given=len(plan.manual) + len(plan.repeated),
                                       manual_found=manual_rows, recipients=brought, first_source_of=won.get(plan.index, 0),
                                       share=shares.get(plan.index)))
    return Report(title=definition.title, description=definition.description, data=str(export.path), form=export.form,
                  purpose=definition.purpose, consent_required=consent_required, dedup=definition.dedup,
                  recipients=total, duplicates_merged=reasons.get("duplicate", 0), excluded=reasons, sections=sections,
                  manual_id_issues=issues, exclusion_id_issues=unknown_exclusions, suppressed_addresses=suppressed_count)


def _exists(connection: duckdb.DuckDBPyConnection, entity: EntitySpec, key: str) -> bool:
    return connection.execute(f"SELECT count(*) FROM {quote_identifier(entity.table)} WHERE CAST({quote_identifier(entity.key)} AS VARCHAR) = $key",
                              {"key": key}).fetchall()[0][0] > 0
