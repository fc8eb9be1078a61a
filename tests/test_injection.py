"""Hostile text in values, names, list files and paths, and the lock on the export connection.

Values must reach DuckDB only as bound parameters: the SQL of a rule with a
hostile value is the SQL of the same rule with a neutral value. Names come from
the catalog and are quoted, so a table or column named like an SQL statement
still works. Paths and list-file texts are quoted or never reach SQL. Once an
export is open, its connection cannot read other folders, write files, attach
databases, load extensions or change its settings, and its memory and time
limits end with a clear `DataError`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ernest_rules import DataError, ListDefinitionError, compile_rule, load_catalog, open_export, resolve
from ernest_rules.cli import main
from ernest_rules.text import fold

from reference_evaluator import fold_search

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny" / "parquet"

HOSTILE_VALUES = [
    pytest.param("it's", id="single quote"),
    pytest.param('say "hi"', id="double quote"),
    pytest.param("x'; DROP TABLE candidats; --", id="statement after quote"),
    pytest.param('x"; DROP TABLE candidats; --', id="statement after double quote"),
    pytest.param("; SELECT 1", id="semicolon"),
    pytest.param("-- comment", id="line comment"),
    pytest.param("/* comment */", id="block comment"),
    pytest.param("$1", id="positional parameter"),
    pytest.param("$p1", id="named parameter"),
    pytest.param("?", id="question mark"),
    pytest.param("back\\slash\\", id="backslashes"),
    pytest.param("100% _x_", id="like wildcards"),
    pytest.param("nul\x00byte", id="nul byte"),
    pytest.param("\u202eevil\u200f", id="right to left marks"),
    pytest.param("line\nbreak\r\n", id="line breaks"),
    pytest.param("'); SELECT * FROM read_csv('/etc/hostname'); --", id="file read attempt"),
]

# Each template has one {value} slot. `kind` is how the value is passed: folded, folded with its spaces kept, or exact.
TEMPLATES = [
    pytest.param("candidats where nom = {value}", "fold", id="text equals"),
    pytest.param("candidats where nom != {value}", "fold", id="text differs"),
    pytest.param("candidats where nom in ({value}, 'Dupont')", "fold", id="text in list"),
    pytest.param("candidats where nom contains {value}", "search", id="text contains"),
    pytest.param("candidats where nom starts with {value}", "search", id="text starts with"),
    pytest.param("candidats where nom contains any ({value})", "search", id="text contains any"),
    pytest.param("candidats where nom == {value}", "exact", id="text exact"),
    pytest.param("candidats where vivier = {value}", "fold", id="list equals"),
    pytest.param("candidats where competences contains all ({value})", "fold", id="list contains all"),
    pytest.param("candidats where any candidatures where (etape = {value})", "fold", id="quantifier inner"),
    pytest.param("contacts where societe.nom = {value}", "fold", id="relation field"),
    pytest.param("referents_rh of offres where titre != {value}", "fold", id="referent query"),
    pytest.param("@dev union candidats where ville = {value}", "fold", id="set operation"),
]

RULEBOOK = {"dev": "candidats where vivier = 'Dev'"}
NEUTRAL = "neutre"


def literal(value: str) -> str:
    """Write a value as a rule literal in double quotes, escaping what the grammar needs."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@pytest.mark.parametrize("template,kind", TEMPLATES)
@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_value_keeps_sql_shape(template, kind, value):
    hostile = compile_rule(template.format(value=literal(value)), rules=RULEBOOK)
    neutral = compile_rule(template.format(value=literal(NEUTRAL)), rules=RULEBOOK)

    assert hostile.keys_sql == neutral.keys_sql
    assert hostile.rows_sql == neutral.rows_sql
    assert hostile.condition == neutral.condition
    assert hostile.params.keys() == neutral.params.keys()


@pytest.mark.parametrize("template,kind", TEMPLATES)
@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_value_only_in_params(template, kind, value):
    compiled = compile_rule(template.format(value=literal(value)), rules=RULEBOOK)
    passed = {"fold": fold, "search": fold_search, "exact": lambda text: text}[kind](value)

    assert passed in compiled.params.values()


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_value_runs_on_export(tiny_export, value):
    # No candidate of the tiny export has any of these names, and every candidate has a name.
    compiled = compile_rule(f"candidats where nom = {literal(value)} or nom != {literal(value)}")
    rows = tiny_export.connection.execute(compiled.keys_sql, compiled.params).fetchall()

    assert len(rows) == 12


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    # A copy: a write through a lock that leaks must never reach the fixture files.
    folder = tmp_path_factory.mktemp("tiny") / "parquet"
    shutil.copytree(TINY, folder)
    export = open_export(folder)
    yield export
    export.close()


# ---------------------------------------------------------------- hostile identifiers in a catalog

PARENT_TABLE = 'a"b; DROP TABLE x; --'
PARENT_KEY = "id\"'; --"
PARENT_NAME_COLUMN = "it's \"nom\"; /* */ --"
PARENT_TAGS_COLUMN = "tags$1?"
CHILD_TABLE = "c'hild; DELETE FROM x"
CHILD_LINK_COLUMN = 'parent"id'
CHILD_STEP_COLUMN = "ét'ape"


def hostile_catalog() -> dict:
    return {
        "name": "hostile",
        "entities": [
            {"name": "parents", "table": PARENT_TABLE, "key": PARENT_KEY, "label_fr": "parents", "label_en": "parents",
             "fields": [
                 {"name": "id", "column": PARENT_KEY, "type": "integer", "label_fr": "id", "label_en": "id"},
                 {"name": "nom", "column": PARENT_NAME_COLUMN, "type": "text", "label_fr": "nom", "label_en": "name"},
                 {"name": "tags", "column": PARENT_TAGS_COLUMN, "type": "list", "label_fr": "tags", "label_en": "tags"},
             ],
             "collections": [{"name": "enfants", "entity": "enfants", "column": CHILD_LINK_COLUMN, "label_fr": "enfants",
                              "label_en": "children"}]},
            {"name": "enfants", "table": CHILD_TABLE, "key": "id", "label_fr": "enfants", "label_en": "children",
             "fields": [
                 {"name": "id", "column": "id", "type": "integer", "label_fr": "id", "label_en": "id"},
                 {"name": "etape", "column": CHILD_STEP_COLUMN, "type": "text", "label_fr": "étape", "label_en": "stage"},
             ],
             "relations": [{"name": "parent", "column": CHILD_LINK_COLUMN, "target": "parents", "label_fr": "parent",
                            "label_en": "parent"}]},
        ],
        "kinds": [],
    }


@pytest.fixture(scope="module")
def hostile_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    catalog_file = root / "catalog.json"
    catalog_file.write_text(json.dumps(hostile_catalog()), encoding="utf-8")
    catalog = load_catalog(catalog_file)
    folder = root / "data"
    folder.mkdir()
    parents = pa.table({PARENT_KEY: pa.array([1, 2, 3], pa.int64()),
                        PARENT_NAME_COLUMN: ["Alpha", "x'; DROP TABLE x; --", None],
                        PARENT_TAGS_COLUMN: pa.array([["Dev"], [], ["dev ", "Data"]], pa.list_(pa.string()))})
    children = pa.table({"id": pa.array([10, 11, 12], pa.int64()), CHILD_LINK_COLUMN: pa.array([1, 1, 3], pa.int64()),
                         CHILD_STEP_COLUMN: ["Refusé", "Nouvelle", "REFUSE"]})
    pq.write_table(parents, folder / f"{PARENT_TABLE}.parquet")
    pq.write_table(children, folder / f"{CHILD_TABLE}.parquet")
    export = open_export(folder, catalog)
    yield export
    export.close()


def hostile_ids(export, rule: str) -> list:
    compiled = compile_rule(rule, export.catalog)
    return sorted(row[0] for row in export.connection.execute(compiled.keys_sql, compiled.params).fetchall())


IDENTIFIER_CASES = [
    pytest.param("parents where nom = 'alpha'", [1], id="text column quoted"),
    pytest.param("parents where nom = \"x'; DROP TABLE x; --\"", [2], id="hostile value in hostile column"),
    pytest.param("parents where nom is empty", [3], id="empty in hostile column"),
    pytest.param("parents where tags = 'DEV'", [1, 3], id="list column quoted"),
    pytest.param("parents where id >= 2", [2, 3], id="hostile key column"),
    pytest.param("parents where any enfants where (etape = 'refuse')", [1, 3], id="collection through hostile link"),
    pytest.param("parents where exactly 2 enfants", [1], id="count through hostile link"),
    pytest.param("enfants where parent.nom = 'Alpha'", [10, 11], id="relation through hostile link"),
    pytest.param("parents where nom = 'alpha' union parents where id = 3", [1, 3], id="set operation hostile key"),
]


@pytest.mark.parametrize("rule,expected", IDENTIFIER_CASES)
def test_hostile_identifiers_work(hostile_export, rule, expected):
    assert hostile_ids(hostile_export, rule) == expected


def test_hostile_rows_sql_reads_rows(hostile_export):
    compiled = compile_rule("parents where id = 1", hostile_export.catalog)
    rows = hostile_export.connection.execute(compiled.rows_sql, compiled.params).fetchall()

    assert rows == [(1, "Alpha", ["Dev"])]


def test_hostile_tables_still_exist(hostile_export):
    hostile_ids(hostile_export, "parents where nom = \"x'; DROP TABLE x; --\"")
    count = hostile_export.connection.execute(f'SELECT count(*) FROM "{PARENT_TABLE.replace(chr(34), chr(34) * 2)}"').fetchall()

    assert count == [(3,)]


# ---------------------------------------------------------------- paths and list files

@pytest.fixture()
def quoted_folder(tmp_path) -> Path:
    folder = tmp_path / "it's; --" / "parquet"
    shutil.copytree(TINY, folder)
    return folder


def test_quoted_folder_opens(quoted_folder):
    export = open_export(quoted_folder)

    assert export.connection.execute("SELECT count(*) FROM candidats").fetchall() == [(12,)]


def test_quoted_folder_parent_opens(quoted_folder):
    export = open_export(quoted_folder.parent)

    assert export.form == "parquet"


HOSTILE_DEFINITION = {
    "title": "x'; DROP TABLE candidats; --",
    "description": '"; DELETE FROM contacts; --',
    "sections": [{"kind": "candidats", "label": "l'abel; --", "manual": [1, "2", "00003"],
                  "rule": "candidats where nom = \"x'; DROP TABLE candidats; --\" or id = 9"}],
}


def test_hostile_list_resolves(quoted_folder):
    export = open_export(quoted_folder)
    resolution = resolve(HOSTILE_DEFINITION, export=export)

    # Candidate 2 has no RGPD consent and 3 has no address; 1 (manual) and 9 (rule) are kept.
    assert resolution.recipients().column("id").to_pylist() == [1, 9]


def test_hostile_list_keeps_tables(quoted_folder):
    export = open_export(quoted_folder)
    resolve(HOSTILE_DEFINITION, export=export)

    assert export.connection.execute("SELECT count(*) FROM candidats").fetchall() == [(12,)]
    assert export.connection.execute("SELECT count(*) FROM contacts").fetchall() == [(6,)]


def test_hostile_manual_id_named(quoted_folder):
    export = open_export(quoted_folder)
    definition = {"title": "t", "sections": [{"kind": "candidats", "manual": ["1'; DROP TABLE candidats; --"]}]}

    with pytest.raises(ListDefinitionError) as caught:
        resolve(definition, export=export)

    assert "1'; DROP TABLE candidats; --" in caught.value.render("en")


def test_cli_export_quoted_paths(quoted_folder, capsys):
    list_file = quoted_folder.parent / "liste l'a; --.json"
    list_file.write_text(json.dumps(HOSTILE_DEFINITION), encoding="utf-8")
    output = quoted_folder.parent / "sortie it's; --.csv"

    code = main(["--lang", "en", "export", str(list_file), "--data", str(quoted_folder), "-o", str(output)])

    assert code == 0
    lines = output.read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(";")[3] for line in lines[1:]] == ["1", "9"]


# ---------------------------------------------------------------- the locked connection

DENIED_STATEMENTS = [
    pytest.param("SELECT * FROM read_csv('/etc/hostname')", id="read another file"),
    pytest.param("SELECT * FROM glob('/etc/*')", id="list another folder"),
    pytest.param("COPY (SELECT 1) TO '{outside}/leak.csv'", id="copy to outside"),
    pytest.param("ATTACH '{outside}/other.duckdb' AS other", id="attach database file"),
    pytest.param("INSTALL '{outside}/fake.duckdb_extension'", id="install extension file"),
    pytest.param("LOAD '{outside}/fake.duckdb_extension'", id="load extension file"),
    pytest.param("SET memory_limit = '100GB'", id="change memory limit"),
    pytest.param("SET enable_external_access = true", id="enable external access"),
    pytest.param("RESET allowed_directories", id="reset allowed directories"),
    pytest.param("SET lock_configuration = false", id="unlock configuration"),
    pytest.param("SELECT * FROM read_parquet('{other_export}/candidats.parquet')", id="read other export"),
]


@pytest.mark.parametrize("statement", DENIED_STATEMENTS)
def test_locked_connection_denies(tiny_export, tmp_path, statement):
    sql = statement.format(outside=tmp_path, other_export=TINY)

    with pytest.raises(duckdb.Error):
        tiny_export.connection.execute(sql).fetchall()

    assert list(tmp_path.iterdir()) == []


def test_locked_connection_reads_export(tiny_export):
    path = str(tiny_export.path / "candidats.parquet").replace("'", "''")
    rows = tiny_export.connection.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()

    assert rows == [(12,)]


@pytest.mark.xfail(strict=True, reason="the locked connection may write files into the export folder (COPY TO), "
                                       "because allowed_directories grants writing as well as reading")
def test_locked_connection_export_folder_readonly(tmp_path):
    folder = tmp_path / "parquet"
    shutil.copytree(TINY, folder)
    export = open_export(folder)
    target = str(folder / "candidats.parquet").replace("'", "''")

    try:
        export.connection.execute(f"COPY (SELECT 1 AS id) TO '{target}' (FORMAT parquet)")
    except duckdb.Error:
        pass
    # The export's own file must still hold its 12 candidates.
    assert duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchall() == [(12,)]


def test_memory_limit_clear_error(tmp_path):
    folder = tmp_path / "parquet"
    shutil.copytree(TINY, folder)
    export = open_export(folder, memory_limit="64MB")

    with pytest.raises(DataError) as caught:
        with export.limited():
            # A 30-million-item string aggregate cannot spill to disk, so it must stop at the memory limit.
            export.connection.execute("SELECT length(string_agg(i::VARCHAR, ',')) FROM range(30000000) t(i)").fetchall()

    message = caught.value.render("en")
    assert "memory" in message
    assert "64MB" in message


def test_time_limit_clear_error(tmp_path):
    folder = tmp_path / "parquet"
    shutil.copytree(TINY, folder)
    export = open_export(folder, time_limit=0.2)

    with pytest.raises(DataError) as caught:
        with export.limited():
            export.connection.execute("SELECT sum(i * i) FROM range(100000000000) t(i)").fetchall()

    assert "time limit of 0.2 s" in caught.value.render("en")


def test_time_limit_message_french(tmp_path):
    folder = tmp_path / "parquet"
    shutil.copytree(TINY, folder)
    export = open_export(folder, time_limit=0.2)

    with pytest.raises(DataError) as caught:
        with export.limited():
            export.connection.execute("SELECT sum(i * i) FROM range(100000000000) t(i)").fetchall()

    assert "limite de temps de 0.2 s" in caught.value.render("fr")


def test_time_limit_on_rule(tmp_path):
    """A rule on a large generated export stops at the time limit too."""
    folder = tmp_path / "big"
    shutil.copytree(TINY, folder)
    # Three million applications, all of candidate 1 and offer 1: the rule below takes about 3 s without a limit
    # (measured on the 2-core CI machine), fifteen times the limit.
    target = str(folder / "candidatures.parquet").replace("'", "''")
    duckdb.connect().execute(
        "COPY (SELECT i AS id, 1::BIGINT AS candidat_id, 1::BIGINT AS offre_id, 'Nouvelle ' || i AS etape, "
        f"TIMESTAMP '2025-03-10 00:00' AS date_candidature FROM range(1, 3000001) t(i)) TO '{target}' (FORMAT parquet)")
    export = open_export(folder, time_limit=0.2, check_integrity=False)
    compiled = compile_rule("candidatures where at least 3 candidat.candidatures where (etape contains 'nouvelle 1') "
                            "and at most 5000000 offre.candidatures where (etape starts with 'nouvelle')")

    with pytest.raises(DataError) as caught:
        with export.limited():
            export.connection.execute(compiled.keys_sql, compiled.params).fetchall()

    assert "time limit" in caught.value.render("en")
