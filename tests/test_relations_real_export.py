"""Relations, quantifiers and list matches of the rule language, on the real Ernest export.

Every expected set of ids comes from hand-written DuckDB SQL over the Parquet
files, read directly with read_parquet. The product's compiler only produces the
result under test: `compile_rule(rule, today=...)` run on `open_export(...)`.
The hand SQL folds texts with its own macro `fold(x) = lower(strip_accents(trim(x)))`,
the comparison rule the language documents.

Documented facts of the export: 10 offers have no société, 20 pairs of
applications repeat the same candidat and offre (re-applications), 6343
candidates have more than one application and 8753 have none. A re-application
is a second row of candidatures, so it counts as a second application:
candidate 18619 applied twice to offer 951 and to nothing else.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from ernest_rules import compile_rule, open_export
from real_data import hand_connection

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2025, 3, 31)


@pytest.fixture(scope="module")
def db(real_exports):
    """Open an independent DuckDB connection over the Parquet files, with a hand-written fold macro."""
    connection = hand_connection(real_exports, anomalies=True)
    connection.execute("CREATE MACRO fold(x) AS lower(strip_accents(trim(x)))")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def export(real_exports):
    opened = open_export(real_exports)
    yield opened
    opened.close()


_PRODUCT_CACHE: dict[tuple[int, str], list] = {}
_HAND_CACHE: dict[tuple[int, str], set] = {}


def product_ids(export, rule: str) -> list:
    """Return the ids the product selects, in its order and with any duplicates. Each rule runs once per export."""
    key = (id(export), rule)
    if key not in _PRODUCT_CACHE:
        compiled = compile_rule(rule, today=TODAY)
        rows = export.connection.execute(f"SELECT id FROM ({compiled.keys_sql})", compiled.params).fetchall()
        _PRODUCT_CACHE[key] = [row[0] for row in rows]
    return _PRODUCT_CACHE[key]


def hand_ids(db, sql: str) -> set:
    key = (id(db), sql)
    if key not in _HAND_CACHE:
        _HAND_CACHE[key] = {row[0] for row in db.execute(sql).fetchall()}
    return _HAND_CACHE[key]


# (rule, hand SQL giving the ids it must select)
CASES = [
    # ---- to-one paths
    pytest.param('contacts where societe.secteur = "Services aux Entreprises"',
                 "SELECT c.id FROM contacts c JOIN societes s ON s.id = c.societe_id WHERE fold(s.secteur) = 'services aux entreprises'",
                 id="contact societe secteur"),
    pytest.param('referents_rh of offres where societe.ville = "Lyon"',
                 "SELECT u.id FROM utilisateurs u WHERE u.id IN (SELECT o.referent_rh_id FROM offres o "
                 "JOIN societes s ON s.id = o.societe_id WHERE fold(s.ville) = 'lyon')",
                 id="referents of lyon offers"),
    pytest.param('offres where societe.nom is empty', "SELECT id FROM offres WHERE societe_id IS NULL",
                 id="null societe is empty"),
    pytest.param('offres where societe.nom is not empty', "SELECT id FROM offres WHERE societe_id IS NOT NULL",
                 id="societe not empty"),
    # != keeps the offers without société (their société name is empty).
    pytest.param('offres where societe.ville != "Paris"',
                 "SELECT o.id FROM offres o LEFT JOIN societes s ON s.id = o.societe_id "
                 "WHERE s.id IS NULL OR s.ville IS NULL OR fold(s.ville) <> 'paris'",
                 id="societe differs keeps null"),
    # ---- same-row rule: one application meets both conditions
    pytest.param('candidats where any candidatures where (offre.statut = "Ouverte" and etape = "Entretien")',
                 "SELECT c.id FROM candidats c WHERE EXISTS (SELECT 1 FROM candidatures a JOIN offres o ON o.id = a.offre_id "
                 "WHERE a.candidat_id = c.id AND fold(o.statut) = 'ouverte' AND fold(a.etape) = 'entretien')",
                 id="same application both"),
    pytest.param('candidats where any candidatures where (offre.statut = "Ouverte") and any candidatures where (etape = "Entretien")',
                 "SELECT c.id FROM candidats c WHERE EXISTS (SELECT 1 FROM candidatures a JOIN offres o ON o.id = a.offre_id "
                 "WHERE a.candidat_id = c.id AND fold(o.statut) = 'ouverte') "
                 "AND EXISTS (SELECT 1 FROM candidatures a WHERE a.candidat_id = c.id AND fold(a.etape) = 'entretien')",
                 id="two separate applications"),
    pytest.param("candidats où au moins une candidatures où (offre.statut = 'Ouverte' et etape = 'Entretien')",
                 "SELECT c.id FROM candidats c WHERE EXISTS (SELECT 1 FROM candidatures a JOIN offres o ON o.id = a.offre_id "
                 "WHERE a.candidat_id = c.id AND fold(o.statut) = 'ouverte' AND fold(a.etape) = 'entretien')",
                 id="same application french"),
    # ---- negative forms
    pytest.param('candidats where no candidatures',
                 "SELECT id FROM candidats WHERE id NOT IN (SELECT candidat_id FROM candidatures)", id="no candidatures"),
    pytest.param('candidats where no candidatures where (etape = "Embauché")',
                 "SELECT id FROM candidats WHERE id NOT IN (SELECT candidat_id FROM candidatures WHERE fold(etape) = 'embauche')",
                 id="no hired application"),
    pytest.param('candidats where not any candidatures where (etape = "Embauché")',
                 "SELECT id FROM candidats WHERE id NOT IN (SELECT candidat_id FROM candidatures WHERE fold(etape) = 'embauche')",
                 id="not any hired application"),
    pytest.param('candidats où aucune candidature où (etape = "Embauché")',
                 "SELECT id FROM candidats WHERE id NOT IN (SELECT candidat_id FROM candidatures WHERE fold(etape) = 'embauche')",
                 id="aucune hired french"),
    # ---- counts (a re-application is one more row, so one more application)
    pytest.param('candidats where at least 2 candidatures',
                 "SELECT candidat_id FROM candidatures GROUP BY candidat_id HAVING count(*) >= 2", id="at least two"),
    pytest.param('candidats where exactly 1 candidatures',
                 "SELECT candidat_id FROM candidatures GROUP BY candidat_id HAVING count(*) = 1", id="exactly one"),
    pytest.param('candidats where at most 1 candidatures',
                 "SELECT id FROM candidats WHERE id NOT IN (SELECT candidat_id FROM candidatures GROUP BY candidat_id HAVING count(*) > 1)",
                 id="at most one"),
    pytest.param('candidats where exactly 0 candidatures',
                 "SELECT id FROM candidats WHERE id NOT IN (SELECT candidat_id FROM candidatures)", id="exactly zero"),
    pytest.param('candidats where exactly 2 candidatures',
                 "SELECT candidat_id FROM candidatures GROUP BY candidat_id HAVING count(*) = 2", id="exactly two"),
    pytest.param('candidats where at least 2 candidatures where (etape = "Refusé")',
                 "SELECT candidat_id FROM candidatures WHERE fold(etape) = 'refuse' GROUP BY candidat_id HAVING count(*) >= 2",
                 id="at least two refused"),
    pytest.param('candidats où au plus 2 candidatures où (etape = "Refusé")',
                 "SELECT id FROM candidats WHERE id NOT IN (SELECT candidat_id FROM candidatures WHERE fold(etape) = 'refuse' "
                 "GROUP BY candidat_id HAVING count(*) > 2)",
                 id="au plus two refused"),
    pytest.param('candidats où exactement 3 candidatures',
                 "SELECT candidat_id FROM candidatures GROUP BY candidat_id HAVING count(*) = 3", id="exactement three"),
    # ---- collections of sociétés, offers and users
    pytest.param('societes where any offres where (statut = "Ouverte")',
                 "SELECT DISTINCT societe_id FROM offres WHERE fold(statut) = 'ouverte' AND societe_id IS NOT NULL",
                 id="societes with open offer"),
    pytest.param('societes where no contacts',
                 "SELECT id FROM societes WHERE id NOT IN (SELECT societe_id FROM contacts WHERE societe_id IS NOT NULL)",
                 id="societes without contacts"),
    pytest.param('contacts where any societe.offres where (statut = "Ouverte")',
                 "SELECT c.id FROM contacts c WHERE c.societe_id IN (SELECT societe_id FROM offres WHERE fold(statut) = 'ouverte')",
                 id="contacts open offer societe"),
    pytest.param('contacts where any societe.offres where (any candidatures where (etape = "Embauché"))',
                 "SELECT c.id FROM contacts c WHERE c.societe_id IN (SELECT o.societe_id FROM offres o "
                 "JOIN candidatures a ON a.offre_id = o.id WHERE fold(a.etape) = 'embauche')",
                 id="nested quantifiers"),
    pytest.param('referents_rh of offres where any candidatures where (etape = "Entretien")',
                 "SELECT id FROM utilisateurs WHERE id IN (SELECT o.referent_rh_id FROM offres o WHERE EXISTS "
                 "(SELECT 1 FROM candidatures a WHERE a.offre_id = o.id AND fold(a.etape) = 'entretien'))",
                 id="referents interview offers"),
    pytest.param('referents_rh of offres where at least 12 candidatures where (etape = "Entretien")',
                 "SELECT id FROM utilisateurs WHERE id IN (SELECT o.referent_rh_id FROM offres o WHERE "
                 "(SELECT count(*) FROM candidatures a WHERE a.offre_id = o.id AND fold(a.etape) = 'entretien') >= 12)",
                 id="referents many interviews"),
    pytest.param('utilisateurs where any offres_rh where (statut = "Brouillon")',
                 "SELECT DISTINCT referent_rh_id FROM offres WHERE fold(statut) = 'brouillon'", id="users with draft offer"),
    pytest.param('utilisateurs where no offres_operationnelles',
                 "SELECT id FROM utilisateurs WHERE id NOT IN "
                 "(SELECT referent_operationnel_id FROM offres WHERE referent_operationnel_id IS NOT NULL)",
                 id="users without operational offer"),
    pytest.param('candidatures where candidat.statut = "Disponible" and offre.societe.ville = "Paris"',
                 "SELECT a.id FROM candidatures a JOIN candidats c ON c.id = a.candidat_id JOIN offres o ON o.id = a.offre_id "
                 "JOIN societes s ON s.id = o.societe_id WHERE fold(c.statut) = 'disponible' AND fold(s.ville) = 'paris'",
                 id="two step path"),
    # ---- list fields: folded items
    pytest.param('candidats where competences contains any ("python", "DOCKER")',
                 "SELECT DISTINCT c.id FROM candidats c, unnest(c.competences) AS item(x) WHERE fold(item.x) IN ('python', 'docker')",
                 id="candidat skills any lower"),
    pytest.param('candidats where competences contains all ("Python", "java")',
                 "SELECT id FROM candidats WHERE id IN (SELECT c.id FROM candidats c, unnest(c.competences) AS item(x) "
                 "WHERE fold(item.x) = 'python') AND id IN (SELECT c.id FROM candidats c, unnest(c.competences) AS item(x) "
                 "WHERE fold(item.x) = 'java')",
                 id="candidat skills all mixed"),
    pytest.param('offres where competences contains all ("Python", "SQL")',
                 "SELECT id FROM offres WHERE list_contains(competences, 'python') AND list_contains(competences, 'sql')",
                 id="offer skills all upper"),
    pytest.param('offres where competence contient l\'un de ("Python", "Docker")',
                 "SELECT id FROM offres WHERE list_contains(competences, 'python') OR list_contains(competences, 'docker')",
                 id="offer skills any french"),
    pytest.param('offres where competences contient tous ("python", "docker")',
                 "SELECT id FROM offres WHERE list_contains(competences, 'python') AND list_contains(competences, 'docker')",
                 id="offer skills all french"),
]


@pytest.mark.parametrize(("rule", "sql"), CASES)
def test_rule_selects_hand_ids(export, db, rule, sql):
    assert set(product_ids(export, rule)) == hand_ids(db, sql)


@pytest.mark.parametrize(("rule", "sql"), CASES)
def test_rule_selects_each_once(export, rule, sql):
    ids = product_ids(export, rule)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("rule", "sql"), CASES)
def test_hand_set_not_trivial(db, rule, sql):
    """Check the table itself: every case selects some rows, but not every row of its table."""
    table = "utilisateurs" if rule.startswith("referents") else rule.split()[0]
    assert 0 < len(hand_ids(db, sql)) < db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# ---- counts documented with the export (its anomaly list)

DOCUMENTED_COUNTS = [
    pytest.param('offres where societe.nom is empty', 10, id="ten offers without societe"),
    pytest.param('candidats where no candidatures', 8753, id="candidates without application"),
    pytest.param('candidats where at least 2 candidatures', 6343, id="candidates with several"),
]


@pytest.mark.parametrize(("rule", "count"), DOCUMENTED_COUNTS)
def test_documented_count(export, rule, count):
    assert len(product_ids(export, rule)) == count


def test_null_societe_offers_listed(export, db):
    listed = hand_ids(db, "SELECT CAST(id AS BIGINT) FROM anomalies WHERE kind = 'offer_without_company'")
    assert set(product_ids(export, 'offres where societe.nom is empty')) == listed


def test_several_applications_listed(export, db):
    listed = hand_ids(db, "SELECT CAST(id AS BIGINT) FROM anomalies WHERE kind = 'candidate_multiple_applications'")
    assert set(product_ids(export, 'candidats where at least 2 candidatures')) == listed


# ---- the same-row rule differs from two separate applications

SAME_ROW = 'candidats where any candidatures where (offre.statut = "Ouverte" and etape = "Entretien")'
SEPARATE = 'candidats where any candidatures where (offre.statut = "Ouverte") and any candidatures where (etape = "Entretien")'

# Candidate 185 has an application to an open offer and an interview, but never both on one application
# (found with: EXISTS open AND EXISTS interview AND NOT EXISTS open-and-interview, lowest id).
SPLIT_CANDIDATE = 185


def test_split_candidate_fact(db):
    """Check by hand SQL what candidate 185 is, so the two tests below rest on the data."""
    both = hand_ids(db, "SELECT a.candidat_id FROM candidatures a JOIN offres o ON o.id = a.offre_id "
                        "WHERE fold(o.statut) = 'ouverte' AND fold(a.etape) = 'entretien'")
    open_ = hand_ids(db, "SELECT a.candidat_id FROM candidatures a JOIN offres o ON o.id = a.offre_id WHERE fold(o.statut) = 'ouverte'")
    interview = hand_ids(db, "SELECT candidat_id FROM candidatures WHERE fold(etape) = 'entretien'")
    assert SPLIT_CANDIDATE in (open_ & interview) - both


def test_split_candidate_not_same_row(export):
    assert SPLIT_CANDIDATE not in set(product_ids(export, SAME_ROW))


def test_split_candidate_in_separate(export):
    assert SPLIT_CANDIDATE in set(product_ids(export, SEPARATE))


def test_same_row_strict_subset(export):
    assert set(product_ids(export, SAME_ROW)) < set(product_ids(export, SEPARATE))


# ---- a re-application (same candidat and offre twice) counts as two applications

# Candidate 18619 applied twice to offer 951 (applications 22584 and 27821) and to nothing else.
REAPPLICANT = 18619

REAPPLICATION_CASES = [
    pytest.param('candidats where exactly 2 candidatures', True, id="reapplicant exactly two"),
    pytest.param('candidats where at least 2 candidatures', True, id="reapplicant at least two"),
    pytest.param('candidats where exactly 1 candidatures', False, id="reapplicant not exactly one"),
    pytest.param('candidats where at most 1 candidatures', False, id="reapplicant not at most one"),
]


def test_reapplicant_fact(db):
    rows = db.execute("SELECT offre_id FROM candidatures WHERE candidat_id = ?", [REAPPLICANT]).fetchall()
    assert rows == [(951,), (951,)]


@pytest.mark.parametrize(("rule", "selected"), REAPPLICATION_CASES)
def test_reapplication_counts_twice(export, rule, selected):
    assert (REAPPLICANT in set(product_ids(export, rule))) is selected


# ---- joins never duplicate: the joined row count is larger than the distinct one

JOIN_CASES = [
    pytest.param('candidats where any candidatures where (etape = "Refusé")',
                 "SELECT c.id FROM candidats c JOIN candidatures a ON a.candidat_id = c.id WHERE fold(a.etape) = 'refuse'",
                 id="refused applications join"),
    pytest.param('contacts where any societe.offres where (statut = "Ouverte")',
                 "SELECT c.id FROM contacts c JOIN offres o ON o.societe_id = c.societe_id WHERE fold(o.statut) = 'ouverte'",
                 id="contacts offers join"),
    pytest.param('referents_rh of offres where statut = "Ouverte"',
                 "SELECT o.referent_rh_id FROM offres o WHERE fold(o.statut) = 'ouverte'",
                 id="referents offers join"),
]


@pytest.mark.parametrize(("rule", "join_sql"), JOIN_CASES)
def test_join_has_repeats(db, rule, join_sql):
    """Check that the naive join repeats ids, so the count test below can catch a duplicating compilation."""
    rows = [row[0] for row in db.execute(join_sql).fetchall()]
    assert len(rows) > len(set(rows))


@pytest.mark.parametrize(("rule", "join_sql"), JOIN_CASES)
def test_count_equals_distinct_join(export, db, rule, join_sql):
    distinct = db.execute(f"SELECT count(DISTINCT id) FROM ({join_sql}) AS joined(id)").fetchone()[0]
    assert len(product_ids(export, rule)) == distinct


# ---- list matches ignore case: the offers store "python", the candidates "Python"

CASE_PAIRS = [
    pytest.param('candidats where competences contains any ("python")', 'candidats where competences contains any ("Python")',
                 id="candidat python any"),
    pytest.param('offres where competences contains all ("python", "sql")', 'offres where competences contains all ("PYTHON", "Sql")',
                 id="offer python all"),
    pytest.param('offres where competences contains "python"', 'offres where competences contains "Python"',
                 id="offer contains one"),
]


@pytest.mark.parametrize(("lower_rule", "other_rule"), CASE_PAIRS)
def test_skill_case_ignored(export, lower_rule, other_rule):
    assert set(product_ids(export, lower_rule)) == set(product_ids(export, other_rule))


def test_offer_skills_stored_lower(db):
    """Check that the offers store 'python' and never 'Python', so the case pairs above compare different spellings."""
    spellings = hand_ids(db, "SELECT DISTINCT x FROM (SELECT unnest(competences) AS x FROM offres) WHERE fold(x) = 'python'")
    assert spellings == {"python"}


def test_candidate_skills_stored_capitalised(db):
    spellings = hand_ids(db, "SELECT DISTINCT x FROM (SELECT unnest(competences) AS x FROM candidats) WHERE fold(x) = 'python'")
    assert spellings == {"Python"}
