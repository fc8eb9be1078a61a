"""Tests of samples/generate.py, the seeded generator of sample Ernest exports.

Expected layouts, sizes and anomaly counts are written out here from the
generator's documented parameters, not read back from its output.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "samples" / "generate.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("samples_generate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen = _load_generator()

# Column names, order and DuckDB types of Ernest's export.
LAYOUT = {
    "societes": [
        ("id", "BIGINT"), ("nom", "VARCHAR"), ("secteur", "VARCHAR"),
        ("code_naf", "VARCHAR"), ("ville", "VARCHAR"), ("code_postal", "VARCHAR"),
        ("email", "VARCHAR"), ("statut", "VARCHAR"), ("desabonne", "BOOLEAN"),
        ("date_creation", "DATE"),
    ],
    "offres": [
        ("id", "BIGINT"), ("reference", "VARCHAR"), ("titre", "VARCHAR"),
        ("societe_id", "BIGINT"), ("type_contrat", "VARCHAR"), ("ville", "VARCHAR"),
        ("code_postal", "VARCHAR"), ("competences", "VARCHAR[]"), ("secteur", "VARCHAR"),
        ("statut", "VARCHAR"), ("date_publication", "DATE"),
        ("referent_rh_id", "BIGINT"), ("referent_operationnel_id", "BIGINT"),
    ],
    "utilisateurs": [
        ("id", "BIGINT"), ("prenom", "VARCHAR"), ("nom", "VARCHAR"),
        ("email", "VARCHAR"), ("role", "VARCHAR"), ("actif", "BOOLEAN"),
    ],
    "candidats": [
        ("id", "BIGINT"), ("civilite", "VARCHAR"), ("prenom", "VARCHAR"),
        ("nom", "VARCHAR"), ("email", "VARCHAR"), ("telephone", "VARCHAR"),
        ("ville", "VARCHAR"), ("code_postal", "VARCHAR"), ("viviers", "VARCHAR[]"),
        ("statut", "VARCHAR"), ("competences", "VARCHAR[]"), ("disponibilite", "DATE"),
        ("date_creation", "TIMESTAMP"), ("source", "VARCHAR"),
        ("consentement_rgpd", "BOOLEAN"), ("desabonne", "BOOLEAN"),
    ],
    "contacts": [
        ("id", "BIGINT"), ("civilite", "VARCHAR"), ("prenom", "VARCHAR"),
        ("nom", "VARCHAR"), ("email", "VARCHAR"), ("telephone", "VARCHAR"),
        ("societe_id", "BIGINT"), ("fonction", "VARCHAR"), ("poste_actif", "BOOLEAN"),
        ("desabonne", "BOOLEAN"), ("date_creation", "TIMESTAMP"),
    ],
    "candidatures": [
        ("id", "BIGINT"), ("candidat_id", "BIGINT"), ("offre_id", "BIGINT"),
        ("etape", "VARCHAR"), ("date_candidature", "TIMESTAMP"),
    ],
}

VIVIERS = ["Dev", "Data", "DevOps", "Commercial", "RH", "Finance", "Marketing",
           "Support", "Direction"]
WS = " \t\u00a0"  # spaces that surround planted duplicate addresses


def expected_sizes(rows: int) -> dict[str, int]:
    return {
        "candidats": rows,
        "contacts": max(15, rows * 15 // 100),
        "societes": max(20, rows // 40),
        "offres": max(40, rows * 63 // 1000),
        "utilisateurs": max(60, rows // 5000),
        "candidatures": rows * 3 // 2,
    }


def connect(out: Path) -> duckdb.DuckDBPyConnection:
    """Connection with one view per Parquet table and email helper macros."""
    con = duckdb.connect()
    for table in LAYOUT:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{out}/parquet/{table}.parquet')")
    con.execute(f"CREATE MACRO norm(e) AS lower(trim(nfc_normalize(e), '{WS}'))")
    con.execute(r"CREATE MACRO looks_valid(e) AS regexp_full_match(norm(e), '[^@\s]+@[^@\s]+\.[^@\s]+')")
    return con


def scalar(con, sql: str):
    return con.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen2000")
    gen.generate(out, rows=2000, seed=7)
    return out


@pytest.fixture(scope="module", params=[2000, 3500])
def anomaly_sample(request, sample, tmp_path_factory) -> tuple[int, Path]:
    if request.param == 2000:
        return 2000, sample
    out = tmp_path_factory.mktemp(f"gen{request.param}")
    gen.generate(out, rows=request.param, seed=11, forms=["parquet"])
    return request.param, out


# (a) Parquet layout ---------------------------------------------------------


@pytest.mark.parametrize("table", list(LAYOUT))
def test_parquet_schema_matches_layout(sample, table):
    con = duckdb.connect()
    described = con.execute(f"DESCRIBE SELECT * FROM '{sample}/parquet/{table}.parquet'").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == LAYOUT[table]


def test_parquet_uses_zstd(sample):
    con = duckdb.connect()
    codecs = {row[0] for row in con.execute(
        f"SELECT DISTINCT compression FROM parquet_metadata('{sample}/parquet/*.parquet')").fetchall()}
    assert codecs == {"ZSTD"}


# (b) Determinism --------------------------------------------------------------


def table_digests(out: Path) -> dict[str, str]:
    con = duckdb.connect()
    return {
        table: scalar(con, f"""SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY id))
                               FROM '{out}/parquet/{table}.parquet' t""")
        for table in LAYOUT
    }


def test_seed_determines_rows(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        gen.generate(tmp_path / name, rows=300, seed=seed, forms=["parquet"])
    first, again, other = (table_digests(tmp_path / n) for n in "abc")
    assert first == again
    for table in LAYOUT:
        assert (tmp_path / "a/parquet" / f"{table}.parquet").read_bytes() == \
               (tmp_path / "b/parquet" / f"{table}.parquet").read_bytes(), table
    assert (tmp_path / "a/anomaly_ids.csv").read_bytes() == (tmp_path / "b/anomaly_ids.csv").read_bytes()
    # Every table is drawn from the seed except utilisateurs' role and actif
    # columns; names still differ there.
    for table in LAYOUT:
        assert first[table] != other[table], table


def test_committed_samples_are_current(sample):
    """samples/data is the output of `python samples/generate.py --rows 2000` (seed 7)."""
    # NOTE: values come from DuckDB's hash(), which may change between DuckDB
    # releases (made with 2.0.1). Rerun that command if this fails after an upgrade.
    committed = ROOT / "samples" / "data"
    assert table_digests(committed) == table_digests(sample)
    for table in LAYOUT:
        assert (committed / "csv-fr" / f"{table}.csv").read_bytes() == \
               (sample / "csv-fr" / f"{table}.csv").read_bytes(), table
    assert (committed / "anomaly_ids.csv").read_bytes() == (sample / "anomaly_ids.csv").read_bytes()


# (c) Parquet and French CSV hold the same rows --------------------------------


def csv_as_typed(path: Path, table: str) -> str:
    """SELECT reading a French CSV back into the Parquet types."""
    items = []
    for name, kind in LAYOUT[table]:
        col = f'"{name}"'
        if kind == "BIGINT":
            items.append(f"{col}::BIGINT AS {col}")
        elif kind == "BOOLEAN":
            items.append(f"CASE {col} WHEN 'Oui' THEN true WHEN 'Non' THEN false END AS {col}")
        elif kind == "DATE":
            items.append(f"strptime({col}, '%d/%m/%Y')::DATE AS {col}")
        elif kind == "TIMESTAMP":
            items.append(f"strptime({col}, '%d/%m/%Y %H:%M') AS {col}")
        elif kind == "VARCHAR[]":
            items.append(f"string_split({col}, ', ') AS {col}")
        else:
            items.append(col)
    return (f"SELECT {', '.join(items)} FROM read_csv('{path}', delim=';', quote='\"', "
            f"escape='\"', header=true, all_varchar=true)")


def parquet_as_csv_sees_it(path: Path, table: str) -> str:
    """The Parquet rows with empty strings and empty lists turned into NULL."""
    items = []
    for name, kind in LAYOUT[table]:
        col = f'"{name}"'
        if kind == "VARCHAR":
            items.append(f"nullif({col}, '') AS {col}")
        elif kind == "VARCHAR[]":
            items.append(f"CASE WHEN len({col}) = 0 THEN NULL ELSE {col} END AS {col}")
        else:
            items.append(col)
    return f"SELECT {', '.join(items)} FROM read_parquet('{path}')"


@pytest.mark.parametrize("table", list(LAYOUT))
def test_csv_holds_same_rows_as_parquet(sample, table):
    con = duckdb.connect()
    csv_sql = csv_as_typed(sample / "csv-fr" / f"{table}.csv", table)
    pq_sql = parquet_as_csv_sees_it(sample / "parquet" / f"{table}.parquet", table)
    # Rows whose list items hold the ", " separator cannot round-trip.
    skip = ""
    if table == "candidats":
        excluded = [row[0] for row in con.execute(
            f"SELECT id FROM ({pq_sql}) WHERE list_bool_or("
            f"list_transform(competences, lambda s: contains(s, ', ')))").fetchall()]
        assert len(excluded) == 2  # one per 1000 candidats
        skip = f" WHERE id NOT IN ({', '.join(map(str, excluded))})"
    assert scalar(con, f"SELECT count(*) FROM ({csv_sql})") == expected_sizes(2000)[table]
    for left, right in ((csv_sql, pq_sql), (pq_sql, csv_sql)):
        diff = scalar(con, f"SELECT count(*) FROM (SELECT * FROM ({left}){skip} "
                           f"EXCEPT ALL SELECT * FROM ({right}){skip})")
        assert diff == 0


QUOTED_FIELD = re.compile(r'"(?:[^"]|"")*"')


def needs_quotes(value: str) -> bool:
    return any(c in value for c in ';"\r\n') or value != value.strip()


@pytest.mark.parametrize("table", list(LAYOUT))
def test_csv_bytes_follow_french_conventions(sample, table):
    raw = (sample / "csv-fr" / f"{table}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n") == expected_sizes(2000)[table] + 1
    lines = raw[3:].decode("utf-8").split("\r\n")[:-1]
    assert lines[0] == ";".join(name for name, _ in LAYOUT[table])
    quoted_seen = 0
    for line in lines[1:]:
        # No field of the samples contains a line break, so one line is one row.
        pos = 0
        while pos <= len(line):
            if line.startswith('"', pos):
                match = QUOTED_FIELD.match(line, pos)
                assert match, line
                value = match.group()[1:-1].replace('""', '"')
                assert needs_quotes(value), f"needless quotes in {line!r}"
                quoted_seen += 1
                pos = match.end()
            else:
                end = line.find(";", pos)
                end = len(line) if end < 0 else end
                value = line[pos:end]
                assert '"' not in value, f"stray quote in {line!r}"
                assert not needs_quotes(value), f"unquoted {value!r} in {line!r}"
                pos = end
            if pos < len(line):
                assert line[pos] == ";"
            pos += 1
    if table in ("candidats", "contacts"):
        assert quoted_seen > 0  # blank emails, " Data", the email sentence
    if table == "candidats":
        text = raw.decode("utf-8")
        assert re.search(r";\d\d/\d\d/\d{4};\d\d/\d\d/\d{4} \d\d:\d\d;", text)
        assert ";Oui;" in text
        assert ";Non" in text


# (d) Planted anomalies ----------------------------------------------------------


def expected_anomalies(rows: int) -> dict[str, int]:
    k = max(1, rows // 1000)
    size = expected_sizes(rows)
    return {
        "dup_case": k, "dup_spaces": k, "dup_nfd": k, "dup_exact_one_unsub": 1,
        "dup_candidat_contact": k,
        "dup_contact_utilisateur": max(1, size["utilisateurs"] // 30),
        "email_null": k, "email_empty": k, "email_blank": k,
        "email_invalid": 3 * k, "email_unusual": 2 * k, "email_sentence": 3 * k,
        "nfd_candidats": k, "nfd_contacts": k,
        "city_variant": 3 * k,
        "postcode_zero_candidats": 2 * k,
        "postcode_zero_societes": max(1, size["societes"] // 100),
        "vivier_variant": 2 * k, "vivier_stage": k,
        "statut_null": k, "list_separator": k,
        "inactive_referents": max(3, size["utilisateurs"] // 20),
        "offre_without_societe": max(1, size["offres"] // 100),
        "offre_without_operationnel": size["offres"] // 10,
        "societe_unsubscribed": max(1, size["societes"] // 100),
        "reapplication": k,
    }


def candidat_duplicate_groups(con) -> dict[str, list]:
    """Candidats sharing a normalised valid address, classified by difference."""
    groups = con.execute("""
        SELECT list(email ORDER BY id), list(desabonne ORDER BY id), list(id ORDER BY id)
        FROM candidats WHERE looks_valid(email)
        GROUP BY norm(email) HAVING count(*) > 1""").fetchall()
    kinds: dict[str, list] = {"exact": [], "case": [], "spaces": [], "nfd": [], "other": []}
    for emails, unsub, ids in groups:
        a, b = emails if len(emails) == 2 else (None, None)
        if a is None:
            kinds["other"].append(ids)
        elif a == b:
            kinds["exact"].append((ids, unsub))
        elif a.lower() == b.lower():
            kinds["case"].append((ids, unsub))
        elif a.strip(WS) == b.strip(WS):
            kinds["spaces"].append((ids, unsub))
        elif unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b):
            kinds["nfd"].append((ids, unsub))
        else:
            kinds["other"].append(ids)
    return kinds


def planted(out: Path, kind: str, entity: str) -> set[int]:
    con = duckdb.connect()
    return {row[0] for row in con.execute(
        f"SELECT id FROM read_csv('{out}/anomaly_ids.csv') WHERE kind = ? AND entity = ?",
        [kind, entity]).fetchall()}


def ids(con, sql: str) -> set[int]:
    return {row[0] for row in con.execute(sql).fetchall()}


def test_email_duplicates(anomaly_sample):
    rows, out = anomaly_sample
    want = expected_anomalies(rows)
    con = connect(out)
    groups = candidat_duplicate_groups(con)
    assert groups["other"] == []
    assert len(groups["case"]) == want["dup_case"]
    assert len(groups["spaces"]) == want["dup_spaces"]
    assert len(groups["nfd"]) == want["dup_nfd"]
    assert len(groups["exact"]) == want["dup_exact_one_unsub"]
    # Only the exact pair differs on desabonne, and exactly one copy is true.
    assert sorted(groups["exact"][0][1]) == [False, True]
    for kind in ("case", "spaces", "nfd"):
        assert all(len(set(unsub)) == 1 for _, unsub in groups[kind])
    # Spaces include U+00A0; the NFD copy is really not NFC.
    assert scalar(con, "SELECT count(*) FROM candidats WHERE contains(email, chr(160)) AND trim(email, chr(160)) <> ''") >= 1
    assert scalar(con, "SELECT count(*) FROM candidats WHERE email <> nfc_normalize(email)") == want["dup_nfd"]
    assert {i for ids_, _ in groups["case"] for i in ids_} == planted(out, "email_dup_case", "candidats")
    assert {i for ids_, _ in groups["nfd"] for i in ids_} == planted(out, "email_dup_nfc_nfd", "candidats")

    cross = con.execute("""
        SELECT c.id, t.id FROM candidats c JOIN contacts t ON norm(c.email) = norm(t.email)
        WHERE looks_valid(c.email)""").fetchall()
    assert len(cross) == want["dup_candidat_contact"]
    assert {c for c, _ in cross} == planted(out, "email_dup_candidat_contact", "candidats")
    assert {t for _, t in cross} == planted(out, "email_dup_candidat_contact", "contacts")
    contact_user = con.execute("""
        SELECT t.id, u.id FROM contacts t JOIN utilisateurs u ON norm(t.email) = norm(u.email)""").fetchall()
    assert len(contact_user) == want["dup_contact_utilisateur"]
    assert {u for _, u in contact_user} == planted(out, "email_dup_contact_utilisateur", "utilisateurs")
    assert scalar(con, "SELECT count(*) FROM candidats c JOIN utilisateurs u ON norm(c.email) = norm(u.email)") == 0
    for table in ("contacts", "utilisateurs", "societes"):
        assert scalar(con, f"""SELECT count(*) FROM (SELECT norm(email) FROM {table}
                               WHERE looks_valid(email) GROUP BY 1 HAVING count(*) > 1)""") == 0


def test_missing_invalid_and_odd_emails(anomaly_sample):
    rows, out = anomaly_sample
    want = expected_anomalies(rows)
    con = connect(out)
    assert scalar(con, "SELECT count(*) FROM candidats WHERE email IS NULL") == want["email_null"]
    assert scalar(con, "SELECT count(*) FROM candidats WHERE email = ''") == want["email_empty"]
    assert scalar(con, f"SELECT count(*) FROM candidats WHERE email <> '' AND trim(email, '{WS}') = ''") \
        == want["email_blank"]
    invalid = ids(con, f"""SELECT id FROM candidats WHERE trim(email, '{WS}') <> ''
                           AND NOT looks_valid(email)""")
    assert len(invalid) == want["email_invalid"]
    assert invalid == planted(out, "email_invalid", "candidats")
    literal = ids(con, "SELECT id FROM candidats WHERE email IN ('test@', '@iana.org', 'test..iana.org')")
    assert len(literal) == 3
    unusual = ids(con, """SELECT id FROM candidats WHERE email LIKE '"%"@%' OR email LIKE '%@[%]'""")
    assert len(unusual) == want["email_unusual"]
    assert scalar(con, """SELECT count(*) FROM candidats
                          WHERE email IN ('"test"@iana.org', 'test@[255.255.255.255]')""") == 2
    # Contacts: the only addresses that are not addresses are one repeated sentence.
    sentences = con.execute("""SELECT email, count(*) FROM contacts WHERE NOT looks_valid(email)
                               GROUP BY email""").fetchall()
    assert len(sentences) == 1
    sentence, count = sentences[0]
    assert count == want["email_sentence"]
    assert "@" not in sentence
    assert len(sentence.split()) >= 5
    assert scalar(con, "SELECT count(*) FROM contacts WHERE email IS NULL OR trim(email) = ''") == 0
    # Société addresses are generic (contact@…) and missing for about 20 %.
    assert scalar(con, r"""SELECT count(*) FROM societes WHERE email IS NOT NULL
                           AND NOT regexp_full_match(email, '[a-z]+@[a-z0-9-]+\.example')""") == 0


def test_text_anomalies(anomaly_sample):
    rows, out = anomaly_sample
    want = expected_anomalies(rows)
    con = connect(out)
    not_nfc = "prenom <> nfc_normalize(prenom) OR nom <> nfc_normalize(nom)"
    assert scalar(con, f"SELECT count(*) FROM candidats WHERE {not_nfc} OR ville <> nfc_normalize(ville)") \
        == want["nfd_candidats"]
    assert scalar(con, f"SELECT count(*) FROM contacts WHERE {not_nfc}") == want["nfd_contacts"]
    assert scalar(con, "SELECT count(*) FROM candidats WHERE ville <> nfc_normalize(ville)") \
        == want["nfd_candidats"]

    variants = con.execute("""SELECT ville, count(*) FROM candidats
        WHERE code_postal IN ('42000', '42100') AND ville <> 'Saint-Étienne' GROUP BY ville""").fetchall()
    assert sum(n for _, n in variants) == want["city_variant"]
    assert {"ST ETIENNE", "SAINT ETIENNE"} <= {v for v, _ in variants}
    assert scalar(con, "SELECT count(*) FROM candidats WHERE code_postal LIKE '0%'") \
        == want["postcode_zero_candidats"]
    assert scalar(con, "SELECT count(*) FROM societes WHERE code_postal LIKE '0%'") \
        == want["postcode_zero_societes"]
    assert scalar(con, "SELECT count(*) FROM offres WHERE code_postal LIKE '0%'") == 0

    canonical = "[" + ", ".join(f"'{v}'" for v in VIVIERS) + "]"
    lowered = "[" + ", ".join(f"'{v.lower()}'" for v in VIVIERS) + "]"
    assert scalar(con, f"""SELECT count(*) FROM candidats WHERE list_bool_or(list_transform(viviers,
        lambda v: NOT list_contains({canonical}, v) AND list_contains({lowered}, lower(trim(v)))))""") \
        == want["vivier_variant"]
    assert scalar(con, "SELECT count(*) FROM candidats WHERE list_contains(viviers, 'Stage_Été 100%')") \
        == want["vivier_stage"]
    assert scalar(con, f"""SELECT count(*) FROM candidats WHERE list_bool_or(list_transform(viviers,
        lambda v: NOT list_contains({lowered}, lower(trim(v))) AND v <> 'Stage_Été 100%'))""") == 0

    assert scalar(con, "SELECT count(*) FROM candidats WHERE statut IS NULL") == want["statut_null"]
    assert scalar(con, """SELECT count(*) FROM candidats
        WHERE list_bool_or(list_transform(competences, lambda s: contains(s, ', ')))""") \
        == want["list_separator"]
    assert ids(con, "SELECT id FROM candidats WHERE statut IS NULL") == planted(out, "statut_null", "candidats")


def test_relational_anomalies(anomaly_sample):
    rows, out = anomaly_sample
    want = expected_anomalies(rows)
    con = connect(out)
    inactive = ids(con, "SELECT id FROM utilisateurs WHERE NOT actif")
    assert len(inactive) == want["inactive_referents"]
    referents = ids(con, """SELECT referent_rh_id FROM offres UNION
                            SELECT referent_operationnel_id FROM offres""")
    assert inactive <= referents
    assert inactive == planted(out, "inactive_referent", "utilisateurs")
    assert scalar(con, "SELECT count(*) FROM offres WHERE societe_id IS NULL") == want["offre_without_societe"]
    assert scalar(con, "SELECT count(*) FROM offres WHERE referent_operationnel_id IS NULL") \
        == want["offre_without_operationnel"]
    assert scalar(con, "SELECT count(*) FROM offres WHERE referent_rh_id IS NULL") == 0
    unsubscribed = con.execute("""
        SELECT s.id, count(c.id), count(c.id) FILTER (WHERE c.desabonne)
        FROM societes s LEFT JOIN contacts c ON c.societe_id = s.id
        WHERE s.desabonne GROUP BY s.id""").fetchall()
    assert len(unsubscribed) == want["societe_unsubscribed"]
    assert all(n_contacts >= 1 and n_unsub == 0 for _, n_contacts, n_unsub in unsubscribed)
    again = con.execute("""SELECT candidat_id, offre_id, count(*) FROM candidatures
                           GROUP BY ALL HAVING count(*) > 1""").fetchall()
    assert len(again) == want["reapplication"]
    assert all(n == 2 for *_, n in again)


def test_anomaly_id_file(anomaly_sample):
    rows, out = anomaly_sample
    con = duckdb.connect()
    header = (out / "anomaly_ids.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "kind,entity,id"
    k = max(1, rows // 1000)
    counts = dict(con.execute(f"""SELECT kind || '/' || entity, count(*)
        FROM read_csv('{out}/anomaly_ids.csv') GROUP BY 1""").fetchall())
    assert counts["email_dup_case/candidats"] == 2 * k
    assert counts["email_dup_one_unsubscribed/candidats"] == 2
    assert counts["email_invalid/candidats"] == 3 * k
    assert counts["reapplication/candidatures"] == 2 * k
    # Every listed id lies within its table.
    for entity in ("candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures"):
        n = expected_sizes(rows)[entity]
        bad = scalar(con, f"""SELECT count(*) FROM read_csv('{out}/anomaly_ids.csv')
                              WHERE entity = '{entity}' AND (id < 1 OR id > {n})""")
        assert bad == 0, entity


# Integrity of the generated rows ------------------------------------------------


def test_ids_dense_and_keys_resolve(sample):
    con = connect(sample)
    for table, n in expected_sizes(2000).items():
        assert con.execute(f"SELECT count(*), min(id), max(id), count(DISTINCT id) FROM {table}").fetchone() \
            == (n, 1, n, n)
    checks = {
        "contacts→societes": "SELECT count(*) FROM contacts c LEFT JOIN societes s ON s.id = c.societe_id WHERE s.id IS NULL",
        "offres→societes": "SELECT count(*) FROM offres o LEFT JOIN societes s ON s.id = o.societe_id WHERE o.societe_id IS NOT NULL AND s.id IS NULL",
        "candidatures→candidats": "SELECT count(*) FROM candidatures a LEFT JOIN candidats c ON c.id = a.candidat_id WHERE c.id IS NULL",
        "candidatures→offres": "SELECT count(*) FROM candidatures a LEFT JOIN offres o ON o.id = a.offre_id WHERE o.id IS NULL",
        "draft offers": "SELECT count(*) FROM candidatures a JOIN offres o ON o.id = a.offre_id WHERE o.statut = 'Brouillon'",
        "referent_rh role": "SELECT count(*) FROM offres o LEFT JOIN utilisateurs u ON u.id = o.referent_rh_id WHERE u.role IS DISTINCT FROM 'Recruteur'",
        "referent_operationnel role": "SELECT count(*) FROM offres o LEFT JOIN utilisateurs u ON u.id = o.referent_operationnel_id WHERE o.referent_operationnel_id IS NOT NULL AND u.role IS DISTINCT FROM 'Manager'",
    }
    for name, sql in checks.items():
        assert scalar(con, sql) == 0, name


def test_value_domains(sample):
    con = connect(sample)
    domains = {
        ("societes", "statut"): {"Client", "Prospect", "Ancien client"},
        ("offres", "type_contrat"): {"CDI", "CDD", "Stage", "Alternance", "Intérim", "Freelance"},
        ("offres", "statut"): {"Ouverte", "Pourvue", "Fermée", "Brouillon"},
        ("utilisateurs", "role"): {"Recruteur", "Manager", "Administrateur"},
        ("candidats", "civilite"): {"M.", "Mme", None},
        ("candidats", "statut"): {"Disponible", "En veille", "En poste", "Placé", "Archivé", None},
        ("candidats", "source"): {"Site carrière", "LinkedIn", "HelloWork", "Cooptation",
                                  "France Travail", None},
        ("candidatures", "etape"): {"Nouvelle", "Présélection", "Entretien", "Proposition",
                                    "Embauché", "Refusé"},
    }
    for (table, column), allowed in domains.items():
        assert ids(con, f"SELECT DISTINCT {column} FROM {table}") == allowed, (table, column)
    assert scalar(con, r"SELECT count(*) FROM offres WHERE NOT regexp_full_match(reference, 'HW-\d{6}')") == 0
    assert scalar(con, r"""SELECT count(*) FROM offres WHERE len(competences) = 0 OR list_bool_or(
        list_transform(competences, lambda s: NOT regexp_full_match(s, '[a-z]+')))""") == 0
    assert con.execute("SELECT min(len(viviers)), max(len(viviers)) FROM candidats").fetchone() == (0, 3)
    assert con.execute("SELECT min(len(competences)), max(len(competences)) FROM candidats").fetchone() == (0, 8)
    low, high, seconds = con.execute("""SELECT min(date_creation), max(date_creation),
        count(*) FILTER (WHERE second(date_creation) <> 0) FROM candidats""").fetchone()
    assert str(low) >= "2019-01-01"
    assert str(high) < "2026-12-01"
    assert seconds == 0


# (e) Proportions ------------------------------------------------------------------


def test_table_sizes_follow_ratios(tmp_path):
    sizes = gen.generate(tmp_path, rows=5000, seed=7, forms=["parquet"])
    con = connect(tmp_path)
    want = {"candidats": 5000, "contacts": 750, "societes": 125, "offres": 315,
            "utilisateurs": 60, "candidatures": 7500}
    assert want == expected_sizes(5000)
    for table, n in want.items():
        assert scalar(con, f"SELECT count(*) FROM {table}") == n, table
        assert sizes.of(table) == n
    assert not (tmp_path / "csv-fr").exists()
    # Rough shares of the drawn columns.
    share = lambda sql: scalar(con, sql)  # noqa: E731
    assert 0.15 <= share("SELECT avg(CASE WHEN NOT poste_actif THEN 1 ELSE 0 END) FROM contacts") <= 0.25
    assert 0.10 <= share("SELECT avg(CASE WHEN email IS NULL THEN 1 ELSE 0 END) FROM societes") <= 0.30
    assert share("SELECT avg(CASE WHEN referent_operationnel_id IS NULL THEN 1 ELSE 0 END) FROM offres") \
        == pytest.approx(315 // 10 / 315)


def test_small_sizes_use_floors():
    assert expected_sizes(100) == {"candidats": 100, "contacts": 15, "societes": 20,
                                   "offres": 40, "utilisateurs": 60, "candidatures": 150}
    assert expected_sizes(10_000_000)["utilisateurs"] == 2000


# Command line ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-5"])
def test_rows_must_be_positive(value, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        gen.main(["--rows", value, "--out", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--rows" in err
    assert "at least" in err
    assert value in err
    assert not any(tmp_path.iterdir())


def test_cli_script_exit_code_and_forms(tmp_path):
    bad = subprocess.run([sys.executable, str(SCRIPT), "--rows", "0", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert "--rows" in bad.stderr
    assert "at least" in bad.stderr
    ok = subprocess.run([sys.executable, str(SCRIPT), "--rows", "150", "--out", str(tmp_path / "y"),
                         "--seed", "5", "--forms", "csv-fr"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in (tmp_path / "y" / "csv-fr").iterdir()) == \
        sorted(f"{t}.csv" for t in LAYOUT)
    assert not (tmp_path / "y" / "parquet").exists()
    bad_form = subprocess.run([sys.executable, str(SCRIPT), "--forms", "xlsx", "--out", str(tmp_path / "z")],
                              capture_output=True, text=True)
    assert bad_form.returncode == 2
    assert "--forms" in bad_form.stderr


def test_generate_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        gen.generate(tmp_path, rows=0)
    with pytest.raises(ValueError, match="forms"):
        gen.generate(tmp_path, rows=200, forms=["xlsx"])
