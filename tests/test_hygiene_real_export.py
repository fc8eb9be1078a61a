"""Recipient hygiene on the real Ernest export: opt-outs, consent, exclusions, inactive users, addresses, dedup, guard.

Every expectation comes from hand-written DuckDB SQL over the Parquet files,
read directly with `read_parquet`, or from the anomaly ids of anomaly_ids.csv.
The product's compiler never computes an expected value.
"""

from __future__ import annotations

import contextlib
import io
import os
import unicodedata
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ernest_rules import ListDefinitionError, open_export, resolve
from real_data import hand_connection
from ernest_rules.cli import main
from ernest_rules.errors import GuardError
from ernest_rules.suppression import SUPPRESSION_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]

# The recipient key computed by hand: trimmed (U+00A0 included), NFC, lower-cased.
KEY_SQL = "lower(nfc_normalize(trim({})))"

# Reasons of the rows that have no usable address.
UNREACHABLE = {"missing_address", "several_addresses", "invalid_address"}

# Rows sharing an address with an opted-out row: candidats 5035/13598 (5035 opted out),
# candidat 9038 (opted out)/contact 1287, candidat 2116/contact 2078 (opted out).
OPTOUT_PAIRS = [
    ("candidats", 5035), ("candidats", 13598),
    ("candidats", 9038), ("contacts", 1287),
    ("candidats", 2116), ("contacts", 2078),
]

# Inactive users who are referents of offers: recruiters 1 and 21, managers 30, 32 and 56.
INACTIVE = {"referents_rh": {1, 21}, "referents_operationnels": {30, 32, 56}}
INACTIVE_RULES = {"referents_rh": "referents_rh of offres where not referent_rh.actif",
                  "referents_operationnels": "referents_operationnels of offres where not referent_operationnel.actif"}


@pytest.fixture(scope="module")
def db(real_exports):
    """An independent DuckDB connection over the Parquet files, anomaly_ids.csv and hand-made helper tables."""
    connection = hand_connection(real_exports, anomalies=True)

    # Rows whose email field is not an address: isemail error cases, and contacts holding a sentence.
    connection.execute("""
        CREATE TABLE invalid_rows AS
        SELECT entity, CAST(id AS BIGINT) AS id FROM anomalies
        WHERE kind IN ('email_invalid_isemail', 'email_is_a_sentence')""")

    # Keys of every opted-out row of the three tables that have a desabonne column.
    connection.execute(f"""
        CREATE TABLE optout_keys AS
        SELECT DISTINCT k FROM (
          SELECT {KEY_SQL.format('email')} AS k FROM candidats WHERE desabonne
          UNION ALL SELECT {KEY_SQL.format('email')} FROM contacts WHERE desabonne
          UNION ALL SELECT {KEY_SQL.format('email')} FROM societes WHERE desabonne
        ) WHERE k IS NOT NULL AND k <> ''""")

    # One row per person of the export: address, key and the facts exclusions read.
    connection.execute(f"""
        CREATE TABLE people AS
        SELECT 'candidats' AS entity, id, email, {KEY_SQL.format('email')} AS k, consentement_rgpd IS TRUE AS consent,
               false AS company_out, true AS post_ok FROM candidats
        UNION ALL
        SELECT 'contacts', c.id, c.email, {KEY_SQL.format('c.email')}, true, coalesce(s.desabonne, false), c.poste_actif IS TRUE
        FROM contacts AS c LEFT JOIN societes AS s ON s.id = c.societe_id
        UNION ALL
        SELECT 'societes', id, email, {KEY_SQL.format('email')}, true, false, true FROM societes
        UNION ALL
        SELECT 'utilisateurs', id, email, {KEY_SQL.format('email')}, true, false, true FROM utilisateurs""")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def export(real_exports):
    opened = open_export(real_exports / "parquet")
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def no_default_suppression(monkeypatch):
    """No suppression list from the caller's environment."""
    monkeypatch.delenv(SUPPRESSION_ENV_VAR, raising=False)


# ---------------------------------------------------------------- helpers


def run(export, sections: list[dict], **options):
    """Resolve a list of `sections`. List-level keys (purpose, dedup, …) go in `definition`, other options to resolve()."""
    definition = {"title": "test", "sections": sections, **options.pop("definition", {})}
    return resolve(definition, export=export, **options)


def all_rows(resolution, folder: Path) -> list[dict]:
    """Included and excluded rows, read back from `Resolution.write` with include_excluded."""
    path = folder / "rows.parquet"
    resolution.write(path, include_excluded=True)
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{path.as_posix()}')")
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


def recipient_ids(resolution) -> set[tuple[str, int]]:
    return {(row["entity"], row["id"]) for row in resolution.recipients().to_pylist()}


def excluded_rows(resolution) -> dict[tuple[int, str, str, int], str]:
    """(section, via, entity, id) → reason."""
    return {(row["section"], row["via"], row["entity"], row["id"]): row["reason"] for row in resolution.excluded().to_pylist()}


def source_ids(resolution) -> set[tuple[str, int]]:
    return {(source["entity"], source["id"]) for row in resolution.recipients().to_pylist() for source in row["sources"]}


def ids(db, sql: str, params: list | None = None) -> list[int]:
    return [row[0] for row in db.execute(sql, params).fetchall()]


def anomaly_ids(db, kind: str, entity: str) -> list[int]:
    return ids(db, "SELECT CAST(id AS BIGINT) FROM anomalies WHERE kind = ? AND entity = ? ORDER BY 1", [kind, entity])


def hand_key(db, entity: str, key: int) -> str | None:
    return db.execute("SELECT k FROM people WHERE entity = ? AND id = ?", [entity, key]).fetchall()[0][0]


def hand_status(db, members: list[tuple[int, str, str, int]], *, consent_required: bool) -> dict[tuple[int, str, str, int], str]:
    """Resolve (section, via, entity, id) rows by hand into their first exclusion reason, 'duplicate' or 'recipient'.

    Only the reasons of candidats, contacts and societes rows are computed, so the list must have no suppression,
    no exclude and no referent section.
    """
    columns = list(zip(*members)) if members else [[], [], [], []]
    table = pa.table({"section": pa.array(columns[0], pa.int32()), "via": pa.array(columns[1], pa.string()),
                      "entity": pa.array(columns[2], pa.string()), "id": pa.array(columns[3], pa.int64())})
    db.register("hand_members_arrow", table)
    db.execute("CREATE OR REPLACE TEMP TABLE hand_members AS SELECT * FROM hand_members_arrow")
    db.unregister("hand_members_arrow")
    rows = db.execute(f"""
        WITH classified AS (
          SELECT m.*, p.k,
                 CASE
                   WHEN p.email IS NULL OR trim(p.email) = '' THEN 'missing_address'
                   WHEN (m.entity, m.id) IN (SELECT (entity, id) FROM invalid_rows) THEN 'invalid_address'
                   WHEN p.k IN (SELECT k FROM optout_keys) THEN 'unsubscribed'
                   WHEN p.company_out THEN 'company_unsubscribed'
                   WHEN {'NOT p.consent' if consent_required else 'false'} THEN 'no_consent'
                   WHEN NOT p.post_ok THEN 'inactive_post'
                 END AS reason
          FROM hand_members AS m JOIN people AS p USING (entity, id)
        )
        SELECT section, via, entity, id,
               coalesce(reason, CASE WHEN row_number() OVER (PARTITION BY k, reason IS NULL ORDER BY section, id, via) = 1
                                     THEN 'recipient' ELSE 'duplicate' END)
        FROM classified""").fetchall()
    return {row[:4]: row[4] for row in rows}


def product_status(resolution) -> dict[tuple[int, str, str, int], str]:
    """(section, via, entity, id) → reason, or 'recipient' for the winner of each recipient."""
    status = excluded_rows(resolution)
    for row in resolution.recipients().to_pylist():
        status[(row["section"], next(s["via"] for s in row["sources"] if s["section"] == row["section"] and s["id"] == row["id"]),
                row["entity"], row["id"])] = "recipient"
    return status


def run_cli(*arguments: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(arguments))
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- 1. opt-outs are absolute


@pytest.fixture(scope="module")
def optout_members(db) -> list[tuple[int, str, str, int]]:
    """The rows of the opt-out list, selected by hand."""
    opted = ids(db, "SELECT id FROM candidats WHERE desabonne ORDER BY id")
    members = [(1, "rule", "candidats", key) for key in
               ids(db, "SELECT id FROM candidats WHERE desabonne OR lower(trim(ville)) = 'lyon'")]
    members += [(1, "manual", "candidats", key) for key in sorted(set(opted) | {13598, 2116})]
    members += [(2, "rule", "contacts", key) for key in ids(db, "SELECT id FROM contacts WHERE desabonne")]
    members += [(2, "manual", "contacts", key) for key in (1287, 2078)]
    members += [(3, "rule", "societes", key) for key in ids(db, "SELECT id FROM societes WHERE desabonne")]
    return members


@pytest.fixture(scope="module")
def optout_list(db, export, optout_members):
    manual_candidats = [key for section, via, _entity, key in optout_members if section == 1 and via == "manual"]
    sections = [
        {"kind": "candidats", "rule": 'candidats where desabonne or ville = "Lyon"', "manual": manual_candidats},
        {"kind": "contacts", "rule": "contacts where desabonne", "manual": [1287, 2078]},
        {"kind": "societes", "rule": "societes where desabonne"},
    ]
    return run(export, sections, allow_all=True)


def test_optout_list_not_empty(optout_list):
    assert optout_list.report.recipients > 0


def test_optout_keys_never_recipients(db, optout_list):
    db.register("product_recipients", optout_list.recipients())
    count = db.execute("""
        SELECT count(*) FROM product_recipients AS r JOIN people AS p USING (entity, id)
        WHERE p.k IN (SELECT k FROM optout_keys)""").fetchall()[0][0]
    db.unregister("product_recipients")
    assert count == 0


def test_optout_keys_never_sources(db, optout_list):
    sources = sorted(source_ids(optout_list))
    keys = {hand_key(db, entity, key) for entity, key in sources}
    assert keys & set(ids(db, "SELECT k FROM optout_keys")) == set()


def test_unsubscribed_rows_by_hand(db, optout_list, optout_members):
    expected = {row for row, reason in hand_status(db, optout_members, consent_required=True).items() if reason == "unsubscribed"}
    assert {row for row, reason in excluded_rows(optout_list).items() if reason == "unsubscribed"} == expected


def test_optout_list_statuses(db, optout_list, optout_members):
    assert product_status(optout_list) == hand_status(db, optout_members, consent_required=True)


@pytest.mark.parametrize("via", ["manual", "rule"])
@pytest.mark.parametrize("entity, key", OPTOUT_PAIRS, ids=[f"{entity}-{key}" for entity, key in OPTOUT_PAIRS])
def test_optout_pair_side(export, entity, key, via):
    section = {"kind": entity, "manual": [key]} if via == "manual" else {"kind": entity, "rule": f"{entity} where id = {key}"}
    resolution = run(export, [section], definition={"purpose": "suivi_candidature"})
    assert excluded_rows(resolution) == {(1, via, entity, key): "unsubscribed"}


# ---------------------------------------------------------------- 2. exclusions outside the user's criteria


@pytest.fixture(scope="module")
def lyon_paris(export):
    return run(export, [{"kind": "candidats", "rule": 'candidats where ville = "Lyon" or ville = "Paris"'}])


@pytest.fixture(scope="module")
def lyon_paris_hand(db) -> dict[tuple[int, str, str, int], str]:
    members = [(1, "rule", "candidats", key) for key in
               ids(db, "SELECT id FROM candidats WHERE lower(trim(ville)) IN ('lyon', 'paris')")]
    return hand_status(db, members, consent_required=True)


@pytest.mark.parametrize("city", ["lyon", "paris"])
def test_city_recipients_by_hand(db, lyon_paris, lyon_paris_hand, city):
    in_city = set(ids(db, "SELECT id FROM candidats WHERE lower(trim(ville)) = ?", [city]))
    expected = {key for (_s, _v, _e, key), reason in lyon_paris_hand.items() if reason == "recipient" and key in in_city}
    assert {key for _entity, key in recipient_ids(lyon_paris)} & in_city == expected


@pytest.mark.parametrize("city", ["lyon", "paris"])
def test_city_has_recipients(db, lyon_paris, city):
    in_city = set(ids(db, "SELECT id FROM candidats WHERE lower(trim(ville)) = ?", [city]))
    assert {key for _entity, key in recipient_ids(lyon_paris)} & in_city


@pytest.mark.parametrize("reason", ["missing_address", "invalid_address", "unsubscribed", "no_consent", "duplicate"])
def test_city_reason_counts(lyon_paris, lyon_paris_hand, reason):
    assert lyon_paris.report.excluded.get(reason, 0) == sum(1 for value in lyon_paris_hand.values() if value == reason)


# ---------------------------------------------------------------- 4. manual exclusions


EXCLUDE_TOML = """title = "Exclusions"
purpose = "suivi_candidature"

[[sections]]
kind = "candidats"
rule = "candidats where id = 16701 or id = {other}"
manual = [16701]

[[sections]]
kind = "contacts"
manual = [274]

[exclude]
candidats = [16701, {unknown_candidat}]
contacts = [{unknown_contact}]
"""


@pytest.fixture(scope="module")
def ordinary_candidate(db) -> int:
    """The first candidate with consent, a plain address no other row shares, and no opt-out."""
    return db.execute("""
        SELECT min(id) FROM people
        WHERE entity = 'candidats' AND consent AND regexp_full_match(k, '[a-z.]+@[a-z]+\\.example')
          AND k NOT IN (SELECT k FROM optout_keys)
          AND k IN (SELECT k FROM people GROUP BY k HAVING count(*) = 1)""").fetchall()[0][0]


@pytest.fixture(scope="module")
def unknown_ids(db) -> tuple[int, int]:
    return (db.execute("SELECT max(id) + 1000 FROM candidats").fetchall()[0][0], db.execute("SELECT max(id) + 1000 FROM contacts").fetchall()[0][0])


@pytest.fixture(scope="module")
def excluded_list(export, ordinary_candidate, unknown_ids, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exclude")
    path = folder / "list.toml"
    path.write_text(EXCLUDE_TOML.format(other=ordinary_candidate, unknown_candidat=unknown_ids[0], unknown_contact=unknown_ids[1]),
                    encoding="utf-8")
    resolution = resolve(path, export=export)
    return resolution, all_rows(resolution, folder)


def test_pair_shares_key_by_hand(db):
    assert hand_key(db, "candidats", 16701) == hand_key(db, "contacts", 274)


def test_excluded_rows_reason(excluded_list):
    _resolution, rows = excluded_list
    left_out = {(row["section"], row["entity"], row["id"]) for row in rows if row["reason"] == "manual_exclusion"}
    assert left_out == {(1, "candidats", 16701), (2, "contacts", 274)}


def test_excluded_rule_and_manual(excluded_list):
    _resolution, rows = excluded_list
    assert sum(1 for row in rows if row["reason"] == "manual_exclusion" and row["entity"] == "candidats") == 2


def test_exclusion_keeps_others(excluded_list, ordinary_candidate):
    _resolution, rows = excluded_list
    assert {(row["entity"], row["id"]) for row in rows if row["status"] == "included"} == {("candidats", ordinary_candidate)}


def test_exclusion_unknown_ids(excluded_list, unknown_ids):
    resolution, _rows = excluded_list
    found = {(issue.entity, issue.id) for issue in resolution.report.exclusion_id_issues}
    assert found == {("candidats", str(unknown_ids[0])), ("contacts", str(unknown_ids[1]))}


def test_exclusion_text_id_error(export):
    with pytest.raises(ListDefinitionError, match="abc"):
        run(export, [{"kind": "candidats", "manual": [16701]}], definition={"exclude": {"candidats": ["abc"]}})


# ---------------------------------------------------------------- 5. consent


CONSENT_RULE = 'candidats where statut = "Disponible"'


@pytest.fixture(scope="module")
def consent_hand(db) -> dict[bool, dict]:
    members = [(1, "rule", "candidats", key) for key in
               ids(db, "SELECT id FROM candidats WHERE lower(strip_accents(trim(statut))) = 'disponible'")]
    return {required: hand_status(db, members, consent_required=required) for required in (True, False)}


@pytest.mark.parametrize("purpose", [None, "information", "prospection"])
def test_no_consent_rows(export, consent_hand, purpose):
    resolution = run(export, [{"kind": "candidats", "rule": CONSENT_RULE}], definition={"purpose": purpose})
    expected = {key for (_s, _v, _e, key), reason in consent_hand[True].items() if reason == "no_consent"}
    assert {key for (_s, _v, _e, key), reason in excluded_rows(resolution).items() if reason == "no_consent"} == expected


def test_no_consent_hand_count(consent_hand):
    """The rule selects candidates without consent, so the tests above can fail."""
    assert sum(1 for reason in consent_hand[True].values() if reason == "no_consent") > 0


@pytest.fixture(scope="module")
def follow_up(export):
    return run(export, [{"kind": "candidats", "rule": CONSENT_RULE}], definition={"purpose": "suivi_candidature"})


def test_follow_up_keeps_no_consent(follow_up, consent_hand):
    without_consent = {key for (_s, _v, _e, key), reason in consent_hand[True].items() if reason == "no_consent"}
    assert without_consent - {key for _entity, key in source_ids(follow_up)} == set()


def test_follow_up_recipients_by_hand(follow_up, consent_hand):
    expected = {key for (_s, _v, _e, key), reason in consent_hand[False].items() if reason == "recipient"}
    assert {key for _entity, key in recipient_ids(follow_up)} == expected


def test_follow_up_no_reason(follow_up):
    assert "no_consent" not in follow_up.report.excluded


def test_unknown_purpose_named(export):
    with pytest.raises(ListDefinitionError, match="newsletter_secrete"):
        run(export, [{"kind": "candidats", "rule": CONSENT_RULE}], definition={"purpose": "newsletter_secrete"})


# ---------------------------------------------------------------- 6. inactive users


def test_inactive_referents_by_hand(db):
    rh = set(ids(db, "SELECT DISTINCT o.referent_rh_id FROM offres AS o JOIN utilisateurs AS u ON u.id = o.referent_rh_id WHERE u.actif IS NOT TRUE"))
    operational = set(ids(db, """SELECT DISTINCT o.referent_operationnel_id FROM offres AS o
                                 JOIN utilisateurs AS u ON u.id = o.referent_operationnel_id WHERE u.actif IS NOT TRUE"""))
    assert {"referents_rh": rh, "referents_operationnels": operational} == INACTIVE


def inactive_sections(via: str) -> list[dict]:
    if via == "manual":
        return [{"kind": kind, "manual": sorted(users)} for kind, users in INACTIVE.items()]
    return [{"kind": kind, "rule": rule} for kind, rule in INACTIVE_RULES.items()]


@pytest.mark.parametrize("via", ["manual", "rule"])
def test_inactive_never_recipients(export, via):
    assert recipient_ids(run(export, inactive_sections(via))) == set()


@pytest.mark.parametrize("via", ["manual", "rule"])
def test_inactive_user_reason(export, via):
    resolution = run(export, inactive_sections(via))
    expected = {(index, via, "utilisateurs", user): "inactive_user"
                for index, users in enumerate(INACTIVE.values(), start=1) for user in users}
    assert excluded_rows(resolution) == expected


def test_inactive_manual_id_issues(export):
    issues = {(issue.section, issue.id, issue.reason) for issue in run(export, inactive_sections("manual")).report.manual_id_issues}
    assert issues == {(index, str(user), "inactive_user") for index, users in enumerate(INACTIVE.values(), start=1) for user in users}


@pytest.mark.parametrize("via", ["manual", "rule"])
def test_inactive_included_on_request(db, export, via):
    reachable = set(ids(db, """SELECT id FROM people WHERE entity = 'utilisateurs' AND id IN (1, 21, 30, 32, 56)
                               AND trim(coalesce(email, '')) <> '' AND k NOT IN (SELECT k FROM optout_keys)"""))
    resolution = run(export, inactive_sections(via), definition={"include_inactive_users": True})
    assert {key for _entity, key in recipient_ids(resolution)} == reachable


def test_inactive_reachable_not_empty(db):
    assert ids(db, "SELECT id FROM utilisateurs WHERE id IN (1, 21, 30, 32, 56) AND email IS NOT NULL")


# ---------------------------------------------------------------- 7. address validity


@pytest.fixture(scope="module")
def address_members(db) -> list[tuple[int, str, str, int]]:
    candidats = [key for kind in ("email_invalid_isemail", "email_unusual_valid", "email_nfd_single", "email_accented_nfc")
                 for key in anomaly_ids(db, kind, "candidats")]
    contacts = [key for kind in ("email_invalid_isemail", "email_unusual_valid", "email_is_a_sentence")
                for key in anomaly_ids(db, kind, "contacts")]
    return [(1, "manual", "candidats", key) for key in candidats] + [(2, "manual", "contacts", key) for key in contacts]


@pytest.fixture(scope="module")
def address_list(export, address_members):
    sections = [{"kind": kind, "manual": [key for section, _v, _e, key in address_members if section == index]}
                for index, kind in ((1, "candidats"), (2, "contacts"))]
    return run(export, sections, definition={"purpose": "suivi_candidature"})


def test_invalid_rows_exact(db, address_list):
    expected = {(entity, key) for entity in ("candidats", "contacts")
                for kind in ("email_invalid_isemail", "email_is_a_sentence") for key in anomaly_ids(db, kind, entity)}
    assert {(entity, key) for (_s, _v, entity, key), reason in excluded_rows(address_list).items() if reason == "invalid_address"} == expected


def test_isemail_error_count(address_list):
    assert address_list.report.excluded.get("invalid_address") == 24 + 6 + 5


def test_sentences_separate_rows(db, address_list):
    rows = [key for (_s, _v, entity, key), reason in excluded_rows(address_list).items()
            if entity == "contacts" and reason == "invalid_address" and key in anomaly_ids(db, "email_is_a_sentence", "contacts")]
    assert sorted(rows) == [261, 957, 2422, 2884, 2955]


def test_address_statuses_by_hand(db, address_list, address_members):
    assert product_status(address_list) == hand_status(db, address_members, consent_required=False)


@pytest.mark.parametrize("kind, entity", [("email_unusual_valid", "candidats"), ("email_unusual_valid", "contacts"),
                                          ("email_nfd_single", "candidats"), ("email_accented_nfc", "candidats")],
                         ids=["unusual-candidats", "unusual-contacts", "nfd-single", "accented-nfc"])
def test_valid_kinds_not_rejected(db, address_list, kind, entity):
    valid = set(anomaly_ids(db, kind, entity))
    rejected = {key for (_s, _v, row_entity, key), reason in excluded_rows(address_list).items()
                if row_entity == entity and key in valid and reason in UNREACHABLE}
    assert rejected == set()


@pytest.mark.parametrize("entity, key", [
    ("candidats", 3476), ("candidats", 5911), ("candidats", 7227), ("candidats", 11751), ("candidats", 14959),
    ("candidats", 18647), ("contacts", 1552), ("candidats", 9035), ("candidats", 18851), ("candidats", 446),
], ids=["specials", "local-64", "quoted", "quoted-pair", "ipv4-literal", "ipv6-literal", "punycode", "nfd-9035", "nfd-18851",
        "nfc-446"])
def test_unusual_address_kept(address_list, entity, key):
    assert (entity, key) in recipient_ids(address_list)


@pytest.mark.parametrize("key", [9035, 13153, 14208, 18851])
def test_nfd_email_output_nfc(db, address_list, key):
    raw = db.execute("SELECT email FROM candidats WHERE id = ?", [key]).fetchall()[0][0]
    emails = {row["id"]: row["email"] for row in address_list.recipients().to_pylist() if row["entity"] == "candidats"}
    assert emails[key] == unicodedata.normalize("NFC", raw.strip())


@pytest.mark.parametrize("key", [9035, 13153, 14208, 18851])
def test_nfd_raw_differs(db, key):
    """The stored address is NFD, so the test above can fail."""
    raw = db.execute("SELECT email FROM candidats WHERE id = ?", [key]).fetchall()[0][0]
    assert raw != unicodedata.normalize("NFC", raw)


def test_all_emails_nfc(address_list):
    assert [row["email"] for row in address_list.recipients().to_pylist() if not unicodedata.is_normalized("NFC", row["email"])] == []


def test_nfd_optout_unsubscribed(db, address_list):
    """Candidate 4973 (NFD address) opted out: it is left out as unsubscribed, not as invalid."""
    assert excluded_rows(address_list)[(1, "manual", "candidats", 4973)] == "unsubscribed"


# ---------------------------------------------------------------- 9. dedup modes


PAIR_SECTIONS = [{"kind": "candidats", "manual": [16701]}, {"kind": "contacts", "manual": [274]}]


@pytest.fixture(scope="module")
def pair_by_address(export):
    return run(export, PAIR_SECTIONS, definition={"purpose": "suivi_candidature"})


@pytest.fixture(scope="module")
def pair_by_person(export):
    return run(export, PAIR_SECTIONS, definition={"purpose": "suivi_candidature", "dedup": "person"})


def test_address_mode_one_recipient(pair_by_address):
    assert recipient_ids(pair_by_address) == {("candidats", 16701)}


def test_address_mode_both_sources(pair_by_address):
    assert source_ids(pair_by_address) == {("candidats", 16701), ("contacts", 274)}


def test_address_mode_contact_duplicate(pair_by_address):
    rows = {row["id"]: (row["reason"], row["duplicate_of"]) for row in pair_by_address.excluded().to_pylist()}
    assert rows == {274: ("duplicate", "candidats:16701")}


def test_person_mode_two_recipients(pair_by_person):
    assert sorted(row["recipient_key"] for row in pair_by_person.recipients().to_pylist()) == ["candidats:16701", "contacts:274"]


def test_person_mode_no_duplicates(pair_by_person):
    assert pair_by_person.report.duplicates_merged == 0


@pytest.fixture(scope="module")
def person_rule_and_manual(export):
    sections = [{"kind": "candidats", "rule": "candidats where id = 16701", "manual": [16701]}]
    return run(export, sections, definition={"purpose": "suivi_candidature", "dedup": "person"})


def test_person_mode_merges_sources(person_rule_and_manual):
    row, = person_rule_and_manual.recipients().to_pylist()
    assert sorted((source["via"], source["id"]) for source in row["sources"]) == [("manual", 16701), ("rule", 16701)]


def test_person_mode_merged_key(person_rule_and_manual):
    assert [row["recipient_key"] for row in person_rule_and_manual.recipients().to_pylist()] == ["candidats:16701"]


def test_person_mode_merged_count(person_rule_and_manual):
    assert person_rule_and_manual.report.duplicates_merged == 1


# ---------------------------------------------------------------- 11. guard


def test_no_condition_guard(export):
    with pytest.raises(GuardError):
        run(export, [{"kind": "candidats", "rule": "candidats"}])


def test_no_condition_allowed(db, export):
    members = [(1, "rule", "candidats", key) for key in ids(db, "SELECT id FROM candidats")]
    expected = sum(1 for reason in hand_status(db, members, consent_required=True).values() if reason == "recipient")
    assert run(export, [{"kind": "candidats", "rule": "candidats"}], allow_all=True).report.recipients == expected


ALL_CANDIDATS_TOML = 'title = "All"\n\n[[sections]]\nkind = "candidats"\nrule = "candidats"\n'


@pytest.fixture(scope="module")
def no_condition_cli(tmp_path_factory, real_exports) -> tuple[int, str]:
    folder = tmp_path_factory.mktemp("guard")
    path = folder / "list.toml"
    path.write_text(ALL_CANDIDATS_TOML, encoding="utf-8")
    code, _out, err = run_cli("--lang", "en", "preview", str(path), "--data", str(real_exports / "parquet"), "--limit", "0")
    return code, err


def test_no_condition_cli_exit(no_condition_cli):
    assert no_condition_cli[0] == 2


def test_no_condition_cli_hint(no_condition_cli):
    assert "--allow-all" in no_condition_cli[1]


def test_no_condition_cli_allowed(tmp_path, real_exports):
    path = tmp_path / "list.toml"
    path.write_text(ALL_CANDIDATS_TOML, encoding="utf-8")
    code, _out, _err = run_cli("preview", str(path), "--data", str(real_exports / "parquet"), "--limit", "0", "--allow-all")
    assert code == 0


DEV_RULE = 'candidats where vivier = "Dev"'


@pytest.fixture(scope="module")
def dev_share(db) -> float:
    selected = db.execute("""SELECT count(*) FROM candidats
                             WHERE list_contains(list_transform(viviers, lambda v: lower(strip_accents(trim(v)))), 'dev')""").fetchall()[0][0]
    return selected / db.execute("SELECT count(*) FROM candidats").fetchall()[0][0]


def test_dev_share_between_limits(dev_share):
    """The rule is above 0.1 and below the 0.75 default, so the guard tests below can fail."""
    assert 0.1 < dev_share < 0.5


def test_dev_share_reported(export, dev_share):
    assert run(export, [{"kind": "candidats", "rule": DEV_RULE}]).report.sections[0].share == pytest.approx(dev_share)


@pytest.mark.parametrize("list_share, api_share", [(None, 0.1), (0.1, None), (0.5, 0.1)],
                         ids=["api", "list", "api-overrides-list"])
def test_share_guard_raises(export, list_share, api_share):
    definition = {} if list_share is None else {"max_share": list_share}
    with pytest.raises(GuardError):
        run(export, [{"kind": "candidats", "rule": DEV_RULE}], definition=definition, max_share=api_share)


@pytest.mark.parametrize("list_share, api_share", [(None, None), (0.5, None), (0.1, 0.5)],
                         ids=["default", "list", "api-overrides-list"])
def test_share_guard_passes(export, list_share, api_share):
    definition = {} if list_share is None else {"max_share": list_share}
    resolution = run(export, [{"kind": "candidats", "rule": DEV_RULE}], definition=definition, max_share=api_share)
    assert resolution.report.recipients > 0


def test_share_guard_allow_all(export):
    assert run(export, [{"kind": "candidats", "rule": DEV_RULE}], max_share=0.1, allow_all=True).report.recipients > 0


OPEN_OFFERS_RULE = 'referents_operationnels of offres where statut = "Ouverte"'


def test_open_offers_by_hand(db):
    assert db.execute("SELECT count(*), (SELECT count(*) FROM offres) FROM offres WHERE statut = 'Ouverte'").fetchall()[0] == (790, 1262)


def test_referent_share_passes(export):
    resolution = run(export, [{"kind": "referents_operationnels", "rule": OPEN_OFFERS_RULE}])
    assert resolution.report.sections[0].share == pytest.approx(790 / 1262)


def test_referent_share_raises(export):
    with pytest.raises(GuardError):
        run(export, [{"kind": "referents_operationnels", "rule": OPEN_OFFERS_RULE}], max_share=0.5)
