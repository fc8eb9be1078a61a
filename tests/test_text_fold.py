"""Python `fold` (applied to rule values) and the SQL fold (applied to columns) agree.

A text comparison matches only when both sides fold a text the same way, so the two
folds are compared on every distinct text of the real Ernest export and on a table of
tricky strings. The SQL side of each column is computed in one DuckDB query.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from ernest_rules.text import fold, fold_sql
from real_data import find_real_exports

REPO_ROOT = Path(__file__).resolve().parents[1]
TABLES = ("candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures")

# Every VARCHAR and VARCHAR[] column of the real export (test_text_columns_cover_export checks the list).
TEXT_COLUMNS = [
    ("candidats", "civilite"), ("candidats", "prenom"), ("candidats", "nom"), ("candidats", "email"),
    ("candidats", "telephone"), ("candidats", "ville"), ("candidats", "code_postal"), ("candidats", "viviers"),
    ("candidats", "statut"), ("candidats", "competences"), ("candidats", "source"),
    ("contacts", "civilite"), ("contacts", "prenom"), ("contacts", "nom"), ("contacts", "email"),
    ("contacts", "telephone"), ("contacts", "fonction"),
    ("societes", "nom"), ("societes", "secteur"), ("societes", "code_naf"), ("societes", "ville"),
    ("societes", "code_postal"), ("societes", "email"), ("societes", "statut"),
    ("offres", "reference"), ("offres", "titre"), ("offres", "type_contrat"), ("offres", "ville"),
    ("offres", "code_postal"), ("offres", "competences"), ("offres", "secteur"), ("offres", "statut"),
    ("utilisateurs", "prenom"), ("utilisateurs", "nom"), ("utilisateurs", "email"), ("utilisateurs", "role"),
    ("candidatures", "etape"),
]


@pytest.fixture(scope="module")
def real_parquet() -> Path:
    folder = find_real_exports()
    if folder is None:
        pytest.skip("real Ernest export not found: set ERNEST_REAL_EXPORTS or put it at ../shared/real-exports")
    return folder / "parquet"


@pytest.fixture(scope="module")
def connection():
    connection = duckdb.connect()
    yield connection
    connection.close()


def parquet_source(folder: Path, table: str) -> str:
    path = str(folder / f"{table}.parquet").replace("'", "''")
    return f"read_parquet('{path}')"


def test_text_columns_cover_export(real_parquet, connection):
    found = []
    for table in TABLES:
        for name, column_type, *_ in connection.execute(f"DESCRIBE SELECT * FROM {parquet_source(real_parquet, table)}").fetchall():
            if column_type in ("VARCHAR", "VARCHAR[]"):
                found.append((table, name))
    assert sorted(found) == sorted(TEXT_COLUMNS)


@pytest.mark.parametrize("table, column", [pytest.param(table, column, id=f"{table}.{column}") for table, column in TEXT_COLUMNS])
def test_folds_agree_on_column(real_parquet, connection, table, column):
    source = parquet_source(real_parquet, table)
    column_type = dict(
        (name, column_type) for name, column_type, *_ in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    )[column]
    # A list column is checked item by item.
    value = f'unnest("{column}")' if column_type == "VARCHAR[]" else f'"{column}"'
    rows = connection.execute(
        f"SELECT v, {fold_sql('v')} FROM (SELECT DISTINCT {value} AS v FROM {source}) WHERE v IS NOT NULL"
    ).fetchall()
    mismatches = [(text, folded_in_sql, fold(text)) for text, folded_in_sql in rows if folded_in_sql != fold(text)]
    assert rows, f"{table}.{column} holds no text"
    assert mismatches == [], f"{len(mismatches)} of {len(rows)} values fold differently (value, SQL, Python): {mismatches!r}"


# (text, its fold worked out by hand). The fold drops marks of category Mn after NFD,
# lower-cases, recomposes to NFC and trims Unicode space separators (not tabs or line breaks).
TRICKY_STRINGS = [
    pytest.param("Saint-Étienne", "saint-etienne", id="NFC accent"),
    pytest.param("Saint-E\u0301tienne", "saint-etienne", id="NFD accent"),
    pytest.param("E\u0301", "e", id="NFD capital alone"),
    pytest.param("\u0301", "", id="lone combining mark"),
    pytest.param("Zoë Ñúñez", "zoe nunez", id="diaeresis tilde"),
    pytest.param("\u00a0Paris\u00a0", "paris", id="no-break spaces"),
    pytest.param("\u2003Lyon\u2003", "lyon", id="em spaces"),
    pytest.param("\u202fNantes", "nantes", id="narrow no-break space"),
    pytest.param("\u3000Tokyo", "tokyo", id="ideographic space"),
    pytest.param("   ", "", id="spaces only"),
    pytest.param("", "", id="empty text"),
    pytest.param("\tLyon", "\tlyon", id="tab kept"),
    pytest.param("Lyon\n", "lyon\n", id="line break kept"),
    pytest.param("\u200bzero", "\u200bzero", id="zero width space kept"),
    pytest.param("İstanbul", "istanbul", id="dotted capital I"),
    pytest.param("Straße", "straße", id="sharp s"),
    pytest.param("ẞ", "ß", id="capital sharp s"),
    pytest.param("Œuvre", "œuvre", id="oe ligature"),
    pytest.param("ﬁchier", "ﬁchier", id="fi ligature kept"),
    pytest.param("ǅemal", "ǆemal", id="title case digraph"),
    pytest.param("\u212b", "a", id="angstrom sign"),
    pytest.param("\u212a", "k", id="kelvin sign"),
    pytest.param("Ελλάδα", "ελλαδα", id="greek tonos"),
    pytest.param("Ёлка", "елка", id="cyrillic yo"),
    pytest.param("😀", "😀", id="emoji"),
    pytest.param("👍🏽", "👍🏽", id="emoji skin tone"),
    pytest.param("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧", id="emoji zwj family"),
    pytest.param("🇫🇷", "🇫🇷", id="flag emoji"),
    pytest.param("❤\ufe0f", "❤", id="emoji variation selector"),
]

# DuckDB's strip_accents (checked with DuckDB 2.0.1) drops spacing (Mc) and enclosing (Me) combining marks
# as well as nonspacing ones, so `fold` must drop them too.
DISAGREEING_STRINGS = [
    pytest.param("1\ufe0f\u20e3", id="keycap emoji"),
    pytest.param("हिंदी", id="devanagari vowel signs"),
]


@pytest.fixture(scope="module")
def sql_folds(connection) -> dict[str, str]:
    """Fold every tricky string in SQL, in one query."""
    texts = [case.values[0] for case in TRICKY_STRINGS + DISAGREEING_STRINGS]
    rows = connection.execute(f"SELECT v, {fold_sql('v')} FROM (SELECT unnest($texts) AS v)", {"texts": texts}).fetchall()
    return dict(rows)


@pytest.mark.parametrize("text, expected", TRICKY_STRINGS)
def test_fold_tricky_string(text, expected):
    assert fold(text) == expected


@pytest.mark.parametrize("text, expected", TRICKY_STRINGS)
def test_sql_fold_tricky_string(sql_folds, text, expected):
    assert sql_folds[text] == expected


@pytest.mark.parametrize("text", DISAGREEING_STRINGS)
def test_folds_agree_on_string(sql_folds, text):
    assert sql_folds[text] == fold(text)
