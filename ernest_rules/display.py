"""Terminal tables for the CLI (rich), in the user's language."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from .compile import CompiledRule, quote_identifier
from .export import Export
from .i18n import text
from .report import REASON_TEXT, Report
from .resolve import Resolution

# Wide enough for addresses and sources when the output goes to a pipe or a file.
PIPE_WIDTH = 200


def console() -> Console:
    return Console(width=None if sys.stdout.isatty() else PIPE_WIDTH, highlight=False, soft_wrap=False)


def print_rows(export: Export, compiled: CompiledRule, limit: int, lang: str) -> None:
    """Show the first rows a rule selects: key, display columns, address, then the fields the rule reads."""
    if limit == 0:
        return
    entity = compiled.entity
    columns = [entity.key, *entity.display]
    if entity.email:
        columns.append(entity.email)
    if compiled.kind is None:
        columns += [resolved.spec.column for resolved in compiled.checked.fields.values()
                    if not resolved.relations and resolved.entity.name == entity.name]
    columns = list(dict.fromkeys(columns))
    selected = ", ".join(f"s.{quote_identifier(column)}" for column in columns)
    relation = export.connection.execute(f"SELECT {selected} FROM ({compiled.rows_sql}) AS s LIMIT {int(limit)}", compiled.params or None)
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in relation.fetchall():
        table.add_row(*(_cell(value) for value in row))
    console().print(table)


def print_recipients(resolution: Resolution, limit: int, lang: str) -> None:
    if limit == 0:
        return
    rows = resolution.connection.execute(
        f"SELECT position, kind, id, email, display_name, "
        f"array_to_string(list_transform(sources, lambda s: s.section || ':' || s.via || ':' || s.entity || ' ' || s.id), ', ') "
        f"FROM {resolution.table} ORDER BY position LIMIT {int(limit)}").fetchall()
    table = Table()
    for heading in ("#", text("kind", lang), "id", text("email", lang), text("name", lang), text("sources", lang)):
        table.add_column(heading)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    console().print(table)


def print_excluded(resolution: Resolution, limit: int, lang: str) -> None:
    """Show the rows left out, each with its reason."""
    if limit == 0:
        return
    rows = resolution.connection.execute(
        f"SELECT section, kind, id, address, reason, duplicate_of FROM {resolution.tables.excluded} "
        f"ORDER BY section, entity, id, via, reason LIMIT {int(limit)}").fetchall()
    table = Table(title=text("Left out", lang))
    for heading in ("section", text("kind", lang), "id", text("email", lang), text("reason", lang)):
        table.add_column(heading)
    for section, kind, key, address, reason, winner in rows:
        because = REASON_TEXT[reason].render(lang)
        if winner:
            because = text("{reason} ({winner})", lang, reason=because, winner=winner)
        table.add_row(str(section), kind, str(key), _cell(address), because)
    console().print(table)


def print_summary(report: Report, lang: str) -> None:
    out = console()
    out.print(text("List: {title}", lang, title=report.title))
    out.print(text("Data: {path} ({form})", lang, path=report.data, form=report.form))
    if report.today is not None:
        out.print(text("Date used for today: {date}", lang, date=report.today.isoformat()))
    sections = Table(title=text("Sections", lang))
    for heading in ("#", text("kind", lang), text("rule matches", lang), text("manual ids found", lang), text("recipients", lang)):
        sections.add_column(heading)
    for section in report.sections:
        sections.add_row(str(section.index), section.kind, str(section.rule_matches) if section.rule else "-",
                         f"{section.manual_found}/{section.manual_given}" if section.manual_given else "-", str(section.recipients))
    out.print(sections)
    if report.consent_required:
        out.print(text("Candidates without RGPD consent are left out (purpose: {purpose})", lang,
                       purpose=report.purpose or text("none given", lang)))
    if report.suppressed_addresses:
        out.print(text("Suppression lists: {count} addresses", lang, count=report.suppressed_addresses))
    out.print(text("Recipients: {count}", lang, count=report.recipients))
    out.print(text("Duplicates merged: {count}", lang, count=report.duplicates_merged))
    out.print(text("Unreachable (no usable address): {count}", lang, count=report.unreachable))
    for reason, count in report.excluded.items():
        if reason == "duplicate":
            continue
        out.print(text("Left out, {reason}: {count}", lang, reason=REASON_TEXT[reason].render(lang), count=count))
    for issue in report.manual_id_issues:
        out.print(text("Manual id {id} in section {section}: {reason}", lang, id=issue.id, section=issue.section,
                       reason=REASON_TEXT[issue.reason].render(lang)))
    for missing in report.exclusion_id_issues:
        out.print(text("Excluded id {id} of {entity}: not found in the export", lang, id=missing.id, entity=missing.entity))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


