"""End-to-end tests of the `ernest-rules` command on the real Ernest export.

The command runs in-process through `ernest_rules.cli.main` (output captured
with capsys), plus one real subprocess of the installed executable. Expected
counts come from hand-written DuckDB SQL over the export files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ernest_rules.cli import main
from real_data import hand_connection

ROOT = Path(__file__).resolve().parents[1]
LISTS = Path(__file__).resolve().parent / "lists"
TABLES = ("candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures")
OUTPUT_COLUMNS = {"recipient_key", "kind", "entity", "id", "email", "display_name", "sources"}
KEY_SQL = "lower(nfc_normalize(trim({})))"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Settings from the caller's shell must not change what the command reads or writes."""
    for name in ("ERNEST_RULES_DATA", "ERNEST_RULES_LANG", "ERNEST_RULES_SUPPRESSION", "CI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def db(real_exports):
    """Open a DuckDB connection of the tests' own over the Parquet files."""
    connection = hand_connection(real_exports, anomalies=True)
    yield connection
    connection.close()


def count(db, sql: str) -> int:
    return db.execute(sql).fetchall()[0][0]


# Keys of the addresses that opted out anywhere. NULL addresses stay out, because `x NOT IN (a set with NULL)` is never true.
OPTOUT_KEYS = " UNION ".join(f"SELECT {KEY_SQL.format('email')} FROM {table} WHERE desabonne AND email IS NOT NULL"
                             for table in ("candidats", "contacts", "societes"))
# Rows whose email field is not an address (isemail errors, and a sentence with a URL).
INVALID_ROWS = ("SELECT (entity, TRY_CAST(id AS BIGINT)) FROM anomalies "
                "WHERE kind IN ('email_invalid_isemail', 'email_is_a_sentence')")
# A DNS label has at most 63 characters (RFC 1035), so an address with a longer one cannot receive mail.
LONG_LABEL = "list_max(list_transform(string_split(split_part(email, '@', 2), '.'), lambda label: length(label))) > 63"


@pytest.fixture(scope="module")
def stage_count(db) -> int:
    """Count the recipients of lists/real_stage.toml by hand (its purpose does not require consent)."""
    return count(db, f"""
        WITH rows AS (
          SELECT 'candidats' AS entity, id, email FROM candidats
          WHERE list_contains(viviers, 'Stage_Été 100%') OR nfc_normalize(ville) IN ('Saint-Étienne', 'Saint-Etienne')
             OR id IN (13354, 15919)
          UNION ALL
          SELECT 'contacts', c.id, c.email FROM contacts AS c JOIN societes AS s ON s.id = c.societe_id
          WHERE c.id IN (274, 314, 804) AND c.poste_actif AND NOT s.desabonne
          UNION ALL
          SELECT 'utilisateurs', id, email FROM utilisateurs
          WHERE id = 6 AND actif AND id IN (SELECT referent_operationnel_id FROM offres WHERE referent_operationnel_id IS NOT NULL)
        )
        SELECT count(DISTINCT {KEY_SQL.format('email')}) FROM rows
        WHERE trim(email) <> '' AND (entity, id) NOT IN ({INVALID_ROWS}) AND NOT {LONG_LABEL}
          AND {KEY_SQL.format('email')} NOT IN ({OPTOUT_KEYS})""")


@pytest.fixture(scope="module")
def referents_count(db) -> int:
    """Count the recipients of lists/real_referents.json by hand."""
    return count(db, f"""
        SELECT count(DISTINCT {KEY_SQL.format('email')}) FROM utilisateurs
        WHERE actif AND id IN (SELECT referent_operationnel_id FROM offres WHERE statut = 'Ouverte')
          AND {KEY_SQL.format('email')} NOT IN ({OPTOUT_KEYS})""")


@pytest.fixture(scope="module")
def broken_export(real_exports, tmp_path_factory) -> Path:
    """Copy the Parquet export without the desabonne column of candidats."""
    folder = tmp_path_factory.mktemp("broken-export")
    connection = duckdb.connect()
    for table in TABLES:
        source = (real_exports / "parquet" / f"{table}.parquet").as_posix().replace("'", "''")
        target = (folder / f"{table}.parquet").as_posix().replace("'", "''")
        columns = "* EXCLUDE (desabonne)" if table == "candidats" else "*"
        connection.execute(f"COPY (SELECT {columns} FROM read_parquet('{source}')) TO '{target}' (FORMAT parquet)")
    connection.close()
    return folder


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the command in-process and return (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ================================================================ success: exit 0


def test_check_ok(capsys):
    assert cli(capsys, "--lang", "en", "check", 'candidats where vivier = "Dev" and statut in ("Disponible", "En veille")')[0] == 0


@pytest.mark.parametrize("lang, word", [("en", "valid rule"), ("fr", "règle valide")])
def test_check_says_valid(capsys, lang, word):
    assert word in cli(capsys, "--lang", lang, "check", 'candidats where vivier = "Dev"')[1]


def test_sql_prints_select(capsys):
    code, out, _err = cli(capsys, "--lang", "en", "sql", 'referents_rh of offres where statut = "Ouverte"')
    assert code == 0
    assert "SELECT" in out


@pytest.mark.parametrize("rule, hand_sql", [
    pytest.param('candidats where vivier = "Stage_Été 100%"',
                 "SELECT count(*) FROM candidats WHERE list_contains(viviers, 'Stage_Été 100%')", id="stage vivier"),
    pytest.param('candidats where ville = "saint-etienne"',
                 "SELECT count(*) FROM candidats WHERE nfc_normalize(ville) IN ('Saint-Étienne', 'Saint-Etienne')", id="ville"),
])
def test_select_count_line(capsys, real_exports, db, rule, hand_sql):
    code, out, _err = cli(capsys, "--lang", "en", "select", rule, "--data", real_exports, "--limit", "0")
    assert code == 0
    assert f"matching rows: {count(db, hand_sql)} (candidates)" in out


@pytest.mark.parametrize("list_file, expected", [("real_stage.toml", "stage_count"), ("real_referents.json", "referents_count")])
def test_preview_recipient_count(capsys, request, real_exports, list_file, expected):
    code, out, _err = cli(capsys, "--lang", "en", "preview", LISTS / list_file, "--data", real_exports, "--limit", "3")
    assert code == 0
    assert f"Recipients: {request.getfixturevalue(expected)}" in out


def test_preview_in_french(capsys, real_exports, stage_count):
    out = cli(capsys, "--lang", "fr", "preview", LISTS / "real_stage.toml", "--data", real_exports, "--limit", "0")[1]
    assert f"Destinataires : {stage_count}" in out


@pytest.fixture(scope="module")
def exported(real_exports, tmp_path_factory):
    """Export lists/real_stage.toml once to each format; return {suffix: (exit code, path)}."""
    folder = tmp_path_factory.mktemp("exports")
    results = {}
    for suffix in ("csv", "json", "parquet"):
        target = folder / f"destinataires.{suffix}"
        results[suffix] = (main(["--lang", "en", "export", str(LISTS / "real_stage.toml"), "--data", str(real_exports),
                                 "-o", str(target)]), target)
    return results


def read_back(path: Path) -> duckdb.DuckDBPyRelation:
    text = path.as_posix().replace("'", "''")
    if path.suffix == ".csv":
        return duckdb.sql(f"SELECT * FROM read_csv('{text}', delim=';', header=true, all_varchar=true)")
    if path.suffix == ".json":
        return duckdb.sql(f"SELECT * FROM read_json('{text}')")
    return duckdb.sql(f"SELECT * FROM read_parquet('{text}')")


FORMATS = ["csv", "json", "parquet"]


@pytest.mark.parametrize("suffix", FORMATS)
def test_export_exit_zero(exported, suffix):
    assert exported[suffix][0] == 0


@pytest.mark.parametrize("suffix", FORMATS)
def test_export_row_count(exported, stage_count, suffix):
    assert len(read_back(exported[suffix][1]).fetchall()) == stage_count


@pytest.mark.parametrize("suffix", FORMATS)
def test_export_columns(exported, suffix):
    assert OUTPUT_COLUMNS <= set(read_back(exported[suffix][1]).columns)


@pytest.mark.parametrize("suffix", FORMATS)
def test_export_merged_pair(exported, suffix):
    # Candidats 13354 and 15919 share one address: one row, the lower id, both listed in sources.
    relation = read_back(exported[suffix][1])
    rows = relation.filter("recipient_key = 'theodorecharrier@hotmail.example'").select("id, sources").fetchall()
    assert [str(key) for key, _sources in rows] == ["13354"]
    assert "15919" in str(rows[0][1])


def test_export_csv_bom(exported):
    assert exported["csv"][1].read_bytes().startswith(b"\xef\xbb\xbf")


def test_export_csv_semicolons(exported):
    header = exported["csv"][1].read_bytes()[3:].decode("utf-8").splitlines()[0]
    assert OUTPUT_COLUMNS <= set(header.split(";"))


# ================================================================ user errors: exit 2


def test_bad_rule(capsys):
    assert cli(capsys, "--lang", "en", "check", "candidats where salaire > 40000")[0] == 2


@pytest.mark.parametrize("list_file", ["missing.toml", "invalid_kind.toml", "invalid_syntax.toml", "bad_rule.toml"])
@pytest.mark.parametrize("command", ["preview", "export"])
def test_bad_list_file(capsys, tmp_path, real_exports, command, list_file):
    extra = ["-o", tmp_path / "out.csv"] if command == "export" else []
    assert cli(capsys, "--lang", "en", command, LISTS / list_file, "--data", real_exports, *extra)[0] == 2


@pytest.mark.parametrize("command", ["select", "preview", "export"])
def test_missing_data_folder(capsys, tmp_path, command):
    target = 'candidats where vivier = "Dev"' if command == "select" else LISTS / "real_stage.toml"
    extra = ["-o", tmp_path / "out.csv"] if command == "export" else []
    assert cli(capsys, "--lang", "en", command, target, "--data", tmp_path / "nowhere", *extra)[0] == 2


@pytest.mark.parametrize("command", ["select", "preview"])
def test_export_missing_column(capsys, broken_export, command):
    target = 'candidats where vivier = "Dev"' if command == "select" else LISTS / "real_stage.toml"
    code, _out, err = cli(capsys, "--lang", "en", command, target, "--data", broken_export)
    assert code == 2
    assert "'desabonne'" in err


def test_unknown_output_extension(capsys, tmp_path, real_exports):
    args = ("--lang", "en", "export", LISTS / "real_stage.toml", "--data", real_exports, "-o", tmp_path / "out.xlsx")
    assert cli(capsys, *args)[0] == 2
    assert not (tmp_path / "out.xlsx").exists()


def test_output_folder_missing(capsys, tmp_path, real_exports):
    args = ("--lang", "en", "export", LISTS / "real_stage.toml", "--data", real_exports, "-o", tmp_path / "missing" / "out.csv")
    assert cli(capsys, *args)[0] == 2
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("args", [
    pytest.param([], id="no command"),
    pytest.param(["select"], id="missing rule"),
    pytest.param(["export", "list.toml"], id="missing output"),
    pytest.param(["check", "candidats", "--bogus"], id="unknown option"),
    pytest.param(["frobnicate"], id="unknown command"),
    pytest.param(["--lang", "de", "check", "candidats"], id="unknown language"),
    pytest.param(["select", "candidats", "--limit", "many"], id="limit not a number"),
])
def test_usage_error(capsys, args):
    assert cli(capsys, *args)[0] == 2


# ================================================================ messages in French and English


@pytest.fixture
def error_cases(real_exports, broken_export, tmp_path):
    """Return failing invocations, each with a distinctive word of its English and of its French message."""
    stage = LISTS / "real_stage.toml"
    return {
        "bad rule": (["check", "candidats where salaire > 40000"], "has no field", "n'a pas de champ"),
        "missing list": (["preview", tmp_path / "none.toml", "--data", real_exports], "does not exist", "n'existe pas"),
        "invalid kind": (["preview", LISTS / "invalid_kind.toml", "--data", real_exports], "unknown recipient kind",
                         "type de destinataire inconnu"),
        "invalid toml": (["preview", LISTS / "invalid_syntax.toml", "--data", real_exports], "invalid TOML", "TOML invalide"),
        "missing data": (["select", "candidats where vivier = \"Dev\"", "--data", tmp_path / "nowhere"], "does not exist",
                         "n'existe pas"),
        "missing column": (["select", "candidats where vivier = \"Dev\"", "--data", broken_export], "has no column",
                           "n'a pas de colonne"),
        "bad extension": (["export", stage, "--data", real_exports, "-o", tmp_path / "out.xlsx"], "cannot tell the output format",
                          "impossible de déduire"),
        "usage": (["select"], "required", "obligatoires"),
    }


CASES = ["bad rule", "missing list", "invalid kind", "invalid toml", "missing data", "missing column", "bad extension", "usage"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_message_language(capsys, error_cases, case, lang):
    args, english, french = error_cases[case]
    err = cli(capsys, "--lang", lang, *args)[2]
    assert (english if lang == "en" else french) in err


@pytest.mark.parametrize("case", CASES)
def test_french_message_not_english(capsys, error_cases, case):
    args, english, _french = error_cases[case]
    assert english not in cli(capsys, "--lang", "fr", *args)[2]


# ================================================================ a failed export keeps the earlier file


OLD_CONTENT = b"earlier export, must survive\n"


@pytest.fixture
def earlier_file(tmp_path) -> Path:
    target = tmp_path / "destinataires.csv"
    target.write_bytes(OLD_CONTENT)
    return target


@pytest.mark.parametrize("list_file, data", [
    pytest.param("bad_rule.toml", None, id="bad rule"),
    pytest.param("real_stage.toml", "nowhere", id="missing data"),
])
def test_failed_export_keeps_file(capsys, real_exports, earlier_file, list_file, data):
    folder = earlier_file.parent / data if data else real_exports
    code = cli(capsys, "--lang", "en", "export", LISTS / list_file, "--data", folder, "-o", earlier_file)[0]
    assert code == 2
    assert earlier_file.read_bytes() == OLD_CONTENT


@pytest.fixture
def failing_rename(monkeypatch):
    """Make the final rename of the written file fail, as on a full disk."""
    def refuse(source, target):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("ernest_rules.output.os.replace", refuse)


@pytest.mark.parametrize("suffix", FORMATS)
def test_write_failure_keeps_file(capsys, real_exports, tmp_path, failing_rename, suffix):
    target = tmp_path / f"destinataires.{suffix}"
    target.write_bytes(OLD_CONTENT)
    code = cli(capsys, "--lang", "en", "export", LISTS / "real_stage.toml", "--data", real_exports, "-o", target)[0]
    assert code == 2
    assert target.read_bytes() == OLD_CONTENT


@pytest.mark.parametrize("suffix", FORMATS)
def test_write_failure_no_leftovers(capsys, real_exports, tmp_path, failing_rename, suffix):
    target = tmp_path / f"destinataires.{suffix}"
    target.write_bytes(OLD_CONTENT)
    cli(capsys, "--lang", "en", "export", LISTS / "real_stage.toml", "--data", real_exports, "-o", target)
    assert sorted(path.name for path in tmp_path.iterdir()) == [target.name]


# ================================================================ the installed executable


def executable() -> str | None:
    beside_python = Path(sys.executable).parent / "ernest-rules"
    return str(beside_python) if beside_python.exists() else shutil.which("ernest-rules")


def test_subprocess_select(real_exports, db):
    program = executable()
    if program is None:
        pytest.skip("the ernest-rules executable is not installed (pip install -e .)")
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("ERNEST_RULES_DATA", "ERNEST_RULES_LANG", "ERNEST_RULES_SUPPRESSION")}
    done = subprocess.run([program, "--lang", "en", "select", 'candidats where vivier starts with "Stage_"', "--data", str(real_exports),
                           "--limit", "0"], capture_output=True, text=True, encoding="utf-8", env=environment, timeout=60)
    expected = count(db, "SELECT count(*) FROM candidats WHERE list_contains(viviers, 'Stage_Été 100%')")
    assert done.returncode == 0
    assert f"matching rows: {expected} (candidates)" in done.stdout


# ================================================================ lists with exclusions and huge ids


def test_export_with_exclusion(capsys, real_exports, tmp_path):
    # Checking the [exclude] ids used to leave the export's connection busy, so writing the file failed.
    target = tmp_path / "destinataires.json"
    code = cli(capsys, "--lang", "en", "export", LISTS / "real_exclude.toml", "--data", real_exports, "-o", target)[0]
    assert code == 0
    assert [row[0] for row in read_back(target).select("id").fetchall()] == [5]


def test_huge_manual_id_is_user_error(capsys, real_exports):
    code, _out, err = cli(capsys, "--lang", "en", "preview", LISTS / "huge_id.toml", "--data", real_exports)
    assert code == 2
    assert "99999999999999999999" in err
