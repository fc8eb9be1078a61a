"""SQL of list resolution: section members, their exclusions, and the anti-doublon.

Each function returns SQL text built only from catalog names (quoted with
`quote_identifier`/`quote_string`) and integers; rule values arrive as the
rules' bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .address import address_sql, is_missing_sql, is_plain_sql, recipient_key_sql, several_addresses_sql
from .catalog import Catalog, EntitySpec, KindSpec
from .compile import CompiledRule, quote_identifier
from .export import quote_string

# Exclusion reasons in the order they are tested: a row gets the first that applies.
EXCLUSION_ORDER = ("missing_address", "several_addresses", "invalid_address", "unsubscribed", "suppressed",
                   "company_unsubscribed", "manual_exclusion", "no_consent", "inactive_post", "inactive_user", "not_a_referent")


@dataclass
class SectionPlan:
    """One section ready to run: its kind, entity, compiled rule and typed manual ids."""

    index: int
    label: str
    kind: KindSpec
    entity: EntitySpec
    rule: CompiledRule | None
    manual: list[Any]
    repeated: list[Any]


@dataclass(frozen=True)
class Tables:
    """Names of the temporary tables of one resolution run."""

    run: int

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return f"er_{name}_{self.run}"


def members_sql(plans: list[SectionPlan], catalog: Catalog, tables: Tables) -> str:
    """Build one row per (section, via, entity id) with its address, key and eligibility facts."""
    parts = [_section_sql(plan, catalog, tables) for plan in plans]
    return "\nUNION ALL\n".join(parts)


def _section_sql(plan: SectionPlan, catalog: Catalog, tables: Tables) -> str:
    entity = plan.entity
    table = quote_identifier(entity.table)
    key = quote_identifier(entity.key)
    sources = []
    if plan.rule is not None:
        sources.append(f"SELECT 'rule' AS via, id FROM ({plan.rule.keys_sql})")
    if plan.manual:
        # The join with the entity table below drops ids absent from the export.
        sources.append(f"SELECT 'manual' AS via, id FROM {tables.manual} WHERE section = {plan.index}")
    raw = f"e.{quote_identifier(entity.email)}" if entity.email else "NULL::VARCHAR"
    address = address_sql(raw)
    display = ", ".join(f"e.{quote_identifier(column)}" for column in entity.display) or "NULL"
    consent = f"coalesce(e.{quote_identifier(entity.consent)}, false)" if entity.consent else "true"
    eligible, reason = _eligibility_sql(plan, catalog)
    return f"""  SELECT {plan.index} AS section, {quote_string(plan.kind.name)} AS kind, {quote_string(entity.name)} AS entity, m.via, m.id,
         {raw} AS raw_address, {address} AS address, {recipient_key_sql(address)} AS recipient_key,
         nfc_normalize(concat_ws(' ', {display})) AS display_name, {consent} AS consent,
         {eligible} AS eligible, {reason} AS ineligible_reason, {_company_optout_sql(entity, catalog)} AS company_unsubscribed
  FROM ({' UNION ALL '.join(sources)}) AS m JOIN {table} AS e ON e.{key} = m.id"""


def _eligibility_sql(plan: SectionPlan, catalog: Catalog) -> tuple[str, str]:
    kind = plan.kind
    checks: list[tuple[str, str]] = []
    if kind.eligible_column:
        checks.append((f"coalesce(e.{quote_identifier(kind.eligible_column)}, false)", kind.eligible_reason or "not_eligible"))
    if kind.through and plan.manual:
        # A manual referent must be that referent of at least one offer.
        through = catalog.entity(kind.through)
        column = quote_identifier(kind.through_column)
        checks.append((f"(m.via = 'rule' OR EXISTS (SELECT 1 FROM {quote_identifier(through.table)} AS o "
                       f"WHERE o.{column} = e.{quote_identifier(plan.entity.key)}))", "not_a_referent"))
    if not checks:
        return "true", "NULL::VARCHAR"
    reason = "CASE " + " ".join(f"WHEN NOT {test} THEN {quote_string(name)}" for test, name in checks) + " END"
    return "(" + " AND ".join(test for test, _ in checks) + ")", reason


def _company_optout_sql(entity: EntitySpec, catalog: Catalog) -> str:
    """True for a row whose linked société has opted out (a B2B opt-out covers its contacts)."""
    for relation in entity.relations:
        target = catalog.entity(relation.target)
        if target.unsubscribed and target.email and entity.name != target.name:
            return (f"coalesce((SELECT c.{quote_identifier(target.unsubscribed)} FROM {quote_identifier(target.table)} AS c "
                    f"WHERE c.{quote_identifier(target.key)} = e.{quote_identifier(relation.column)}), false)")
    return "false"


def optout_keys_sql(catalog: Catalog) -> str:
    """Keys of every address that opted out in any table of the export."""
    parts = [f"SELECT {recipient_key_sql(address_sql(quote_identifier(entity.email)))} AS recipient_key FROM {quote_identifier(entity.table)} "
             f"WHERE coalesce({quote_identifier(entity.unsubscribed)}, false)"
             for entity in catalog.entities if entity.email and entity.unsubscribed]
    return " UNION ".join(parts) if parts else "SELECT NULL::VARCHAR AS recipient_key WHERE false"


def excluded_keys_sql(catalog: Catalog, tables: Tables) -> str:
    """Keys of the addresses of the ids a list excludes by hand."""
    parts = []
    for entity in catalog.entities:
        if entity.email:
            parts.append(f"SELECT {recipient_key_sql(address_sql('e.' + quote_identifier(entity.email)))} AS recipient_key "
                         f"FROM {quote_identifier(entity.table)} AS e JOIN {tables.exclusions} AS x "
                         f"ON x.entity = {quote_string(entity.name)} AND x.id = CAST(e.{quote_identifier(entity.key)} AS VARCHAR)")
    return " UNION ".join(parts) if parts else "SELECT NULL::VARCHAR AS recipient_key WHERE false"


def unchecked_keys_sql(tables: Tables) -> str:
    """Distinct keys that the SQL pattern does not accept, for the Python validator."""
    return (f"SELECT DISTINCT recipient_key FROM {tables.members} "
            f"WHERE NOT {is_missing_sql('address')} AND NOT {is_plain_sql('recipient_key')}")


def rows_sql(catalog: Catalog, tables: Tables, *, consent_required: bool, include_inactive_users: bool) -> str:
    """Members with the first exclusion reason that applies to each (NULL when kept)."""
    ineligible = "ineligible_reason"
    if include_inactive_users:
        ineligible = "CASE WHEN ineligible_reason = 'inactive_user' THEN NULL ELSE ineligible_reason END"
    consent_test = "NOT consent" if consent_required else "false"
    return f"""
WITH optouts AS ({optout_keys_sql(catalog)}),
excluded_keys AS ({excluded_keys_sql(catalog, tables)})
SELECT m.*,
       CASE
         WHEN {is_missing_sql('m.address')} THEN 'missing_address'
         WHEN {several_addresses_sql('m.recipient_key')} THEN 'several_addresses'
         WHEN NOT {is_plain_sql('m.recipient_key')} AND NOT coalesce(v.valid, false) THEN 'invalid_address'
         WHEN m.recipient_key IN (SELECT recipient_key FROM optouts) THEN 'unsubscribed'
         WHEN m.recipient_key IN (SELECT recipient_key FROM {tables.suppression}) THEN 'suppressed'
         WHEN m.company_unsubscribed THEN 'company_unsubscribed'
         WHEN m.recipient_key IN (SELECT recipient_key FROM excluded_keys)
              OR EXISTS (SELECT 1 FROM {tables.exclusions} AS x WHERE x.entity = m.entity AND x.id = CAST(m.id AS VARCHAR))
              THEN 'manual_exclusion'
         WHEN {consent_test} THEN 'no_consent'
         WHEN NOT m.eligible THEN {ineligible}
       END AS exclusion
FROM {tables.members} AS m LEFT JOIN {tables.verdicts} AS v USING (recipient_key)"""


def winners_sql(tables: Tables, *, per_person: bool) -> str:
    """Group the kept rows by recipient in one pass: the winning row and every source that brought it.

    The winner is the row with the smallest (section, id, via), so the earliest
    section wins, then the lowest id, then 'manual' before 'rule'. Sources are
    sorted by section, entity, id and via.
    """
    unit = "entity || ':' || id" if per_person else "recipient_key"
    return f"""
SELECT {unit} AS unit,
       arg_min({{'section': section, 'id': id, 'via': via, 'kind': kind, 'entity': entity, 'recipient_key': recipient_key,
                 'address': address, 'display_name': display_name}}, (section, id, via)) AS winner,
       list_transform(list_sort(list({{'section': section, 'entity': entity, 'id': id, 'via': via, 'kind': kind}})),
                      lambda x: {{'section': x.section, 'kind': x.kind, 'via': x.via, 'entity': x.entity, 'id': x.id}}) AS sources,
       count(*) AS rows
FROM {tables.rows} WHERE exclusion IS NULL
GROUP BY unit"""


def recipients_sql(tables: Tables, *, per_person: bool) -> str:
    """Build one row per recipient: the winning row, every source that brought it, and the output position."""
    output_key = "w.winner.entity || ':' || w.winner.id" if per_person else "w.winner.recipient_key"
    return f"""
SELECT row_number() OVER (ORDER BY w.winner.section, w.winner.id, w.winner.recipient_key) AS position,
       {output_key} AS recipient_key, w.winner.kind AS kind, w.winner.entity AS entity, w.winner.id AS id,
       nfc_normalize(trim(w.winner.address)) AS email, w.winner.display_name AS display_name, w.winner.section AS section, w.sources
FROM {tables.winners} AS w"""


def excluded_sql(tables: Tables, *, per_person: bool) -> str:
    """Rows left out: excluded rows with their reason, and rows merged into another recipient ('duplicate')."""
    unit = "r.entity || ':' || r.id" if per_person else "r.recipient_key"
    return f"""
SELECT section, kind, entity, id, via, raw_address AS address, exclusion AS reason, NULL::VARCHAR AS duplicate_of
FROM {tables.rows} WHERE exclusion IS NOT NULL
UNION ALL
SELECT r.section, r.kind, r.entity, r.id, r.via, r.raw_address, 'duplicate', w.winner.entity || ':' || w.winner.id
FROM {tables.rows} AS r JOIN {tables.winners} AS w ON w.unit = {unit}
WHERE r.exclusion IS NULL AND w.rows > 1
  AND (r.section, r.id, r.via) <> (w.winner.section, w.winner.id, w.winner.via)"""
