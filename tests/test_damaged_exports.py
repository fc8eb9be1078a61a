"""Damaged exports: each case is built in tmp_path from the bundled samples or the real export.

The real export comes from the shared `real_exports` fixture of conftest.py.

For every damage, the API raises a `DataError` whose message names the file and,
where there is one, the column and the value. The command exits with code 2,
prints no traceback and writes French with `--lang fr`. Damage that leaves the
export usable (a Windows-1252 CSV, links that point to no row) gives a warning
instead, and the rows still resolve.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import duckdb
import pytest

from ernest_rules import DataError, compile_rule, open_export, resolve
from ernest_rules.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "data"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("ERNEST_RULES_DATA", "ERNEST_RULES_LANG", "ERNEST_RULES_MEMORY_LIMIT", "ERNEST_RULES_TIME_LIMIT", "CI"):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------- ways to damage an export

def set_csv_value(path: Path, row_id: int, column: str, value: str) -> None:
    """Rewrite one field of a French CSV file (`;`, UTF-8 with BOM, CRLF), keeping the rest as it was."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""), delimiter=";"))
    index = rows[0].index(column)
    for row in rows[1:]:
        if row and row[0] == str(row_id):
            row[index] = value
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode("utf-8-sig"))


def rewrite_parquet(path: Path, select: str) -> None:
    """Replace a Parquet file by `select` over its own rows (the table is called `rows`)."""
    source = str(path).replace("'", "''")
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE rows AS SELECT * FROM read_parquet('{source}')")
    connection.execute(f"COPY ({select}) TO '{source}' (FORMAT parquet)")


def remove_contacts(folder: Path) -> None:
    (folder / "contacts.parquet").unlink()


def drop_statut(folder: Path) -> None:
    rewrite_parquet(folder / "candidats.parquet", "SELECT * EXCLUDE (statut) FROM rows")


def text_in_date(folder: Path) -> None:
    set_csv_value(folder / "candidats.csv", 5, "disponibilite", "bientôt")


def maybe_in_boolean(folder: Path) -> None:
    set_csv_value(folder / "contacts.csv", 7, "poste_actif", "peut-être")


def text_in_integer(folder: Path) -> None:
    set_csv_value(folder / "offres.csv", 4, "societe_id", "douze")


def corrupt_footer(folder: Path) -> None:
    content = bytearray((folder / "offres.parquet").read_bytes())
    content[-8:] = b"\x00" * 8
    (folder / "offres.parquet").write_bytes(bytes(content))


def truncate_parquet(folder: Path) -> None:
    content = (folder / "offres.parquet").read_bytes()
    (folder / "offres.parquet").write_bytes(content[: len(content) // 2])


def truncate_csv_line(folder: Path) -> None:
    content = (folder / "contacts.csv").read_bytes()
    (folder / "contacts.csv").write_bytes(content[: len(content) // 2])


def truncate_csv_quote(folder: Path) -> None:
    # Cut a few bytes after an opening quote, so the file ends inside a quoted field.
    content = (folder / "candidats.csv").read_bytes()
    quote = content.index(b';"', 2000) + 1
    (folder / "candidats.csv").write_bytes(content[: quote + 4])


def empty_users(folder: Path) -> None:
    (folder / "utilisateurs.csv").write_bytes(b"")


def repeat_ids(folder: Path) -> None:
    set_csv_value(folder / "societes.csv", 7, "id", "3")
    set_csv_value(folder / "societes.csv", 9, "id", "3")
    set_csv_value(folder / "societes.csv", 12, "id", "11")


def repeat_parquet_ids(folder: Path) -> None:
    rewrite_parquet(folder / "utilisateurs.parquet", "SELECT * FROM rows UNION ALL SELECT * FROM rows WHERE id = 4")


# (damage, form, words the English message must hold, words the French message must hold)
DAMAGES = [
    pytest.param(remove_contacts, "parquet", ["contacts.parquet", "missing"], ["contacts.parquet", "manquant"], id="missing file"),
    pytest.param(drop_statut, "parquet", ["candidats.parquet", "'statut'"], ["candidats.parquet", "« statut »", "colonne"],
                 id="missing column"),
    pytest.param(text_in_date, "csv-fr", ["candidats.csv", "'disponibilite'", "bientôt", "date"],
                 ["candidats.csv", "« disponibilite »", "bientôt", "date (jj/mm/aaaa)"], id="text in date"),
    pytest.param(maybe_in_boolean, "csv-fr", ["contacts.csv", "'poste_actif'", "peut-être", "boolean"],
                 ["contacts.csv", "« poste_actif »", "peut-être", "booléen"], id="maybe in boolean"),
    pytest.param(text_in_integer, "csv-fr", ["offres.csv", "'societe_id'", "douze"], ["offres.csv", "« societe_id »", "douze"],
                 id="text in integer"),
    pytest.param(corrupt_footer, "parquet", ["offres.parquet"], ["offres.parquet", "impossible de lire"], id="corrupt parquet footer"),
    pytest.param(truncate_parquet, "parquet", ["offres.parquet"], ["offres.parquet", "impossible de lire"], id="truncated parquet"),
    pytest.param(truncate_csv_line, "csv-fr", ["contacts.csv"], ["contacts.csv", "impossible de lire"], id="truncated csv line"),
    pytest.param(truncate_csv_quote, "csv-fr", ["candidats.csv"], ["candidats.csv", "impossible de lire"], id="truncated csv quote"),
    pytest.param(empty_users, "csv-fr", ["utilisateurs.csv", "'id'"], ["utilisateurs.csv", "« id »"], id="empty csv file"),
    pytest.param(repeat_ids, "csv-fr", ["societes.csv", "'id'", "(3, 11)"], ["societes.csv", "« id »", "(3, 11)", "une seule fois"],
                 id="repeated csv ids"),
    pytest.param(repeat_parquet_ids, "parquet", ["utilisateurs.parquet", "'id'", "(4)"], ["utilisateurs.parquet", "(4)"],
                 id="repeated parquet ids"),
]


def damaged(tmp_path: Path, damage, form: str) -> Path:
    folder = tmp_path / form
    shutil.copytree(SAMPLES / form, folder)
    damage(folder)
    return folder


def run_cli(capsys, *arguments: str) -> tuple[int, str, str]:
    code = main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("damage,form,english,french", DAMAGES)
def test_damage_raises_data_error(tmp_path, damage, form, english, french):
    folder = damaged(tmp_path, damage, form)

    with pytest.raises(DataError) as caught:
        open_export(folder)

    message = caught.value.render("en")
    for word in english:
        assert word in message


@pytest.mark.parametrize("damage,form,english,french", DAMAGES)
def test_damage_cli_french(tmp_path, capsys, damage, form, english, french):
    folder = damaged(tmp_path, damage, form)

    code, out, err = run_cli(capsys, "--lang", "fr", "select", "candidats where statut = 'Placé'", "--data", str(folder))

    assert code == 2
    assert "Traceback" not in err
    for word in french:
        assert word in err


def test_corrupt_header_fails_cleanly(tmp_path, capsys):
    folder = tmp_path / "parquet"
    shutil.copytree(SAMPLES / "parquet", folder)
    content = bytearray((folder / "offres.parquet").read_bytes())
    content[:64] = b"\x00" * 64
    (folder / "offres.parquet").write_bytes(bytes(content))

    code, out, err = run_cli(capsys, "--lang", "fr", "select", "offres where statut = 'Ouverte'", "--data", str(folder))

    assert code == 2
    assert "Traceback" not in err
    assert "impossible de lire" in err


def test_corrupt_header_names_file(tmp_path):
    folder = tmp_path / "parquet"
    shutil.copytree(SAMPLES / "parquet", folder)
    content = bytearray((folder / "offres.parquet").read_bytes())
    content[:64] = b"\x00" * 64
    (folder / "offres.parquet").write_bytes(bytes(content))

    with pytest.raises(DataError) as caught:
        with open_export(folder).limited():
            pass

    assert "offres.parquet" in caught.value.render("en")


def test_damage_subprocess_no_traceback(tmp_path):
    """One real run of the installed command: the interpreter itself prints no traceback."""
    folder = damaged(tmp_path, text_in_date, "csv-fr")

    result = subprocess.run([sys.executable, "-m", "ernest_rules", "--lang", "fr", "select", "candidats", "--data", str(folder)],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "CI": "true"})

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bientôt" in result.stderr


# ---------------------------------------------------------------- links that point to no row

@pytest.fixture()
def dangling_folder(tmp_path) -> Path:
    folder = tmp_path / "csv-fr"
    shutil.copytree(SAMPLES / "csv-fr", folder)
    for contact in (1, 2, 3):
        set_csv_value(folder / "contacts.csv", contact, "societe_id", "999999")
    return folder


def test_dangling_links_warn_with_count(dangling_folder):
    export = open_export(dangling_folder)

    messages = [warning.render("en") for warning in export.warnings]
    assert any(message.startswith("3 rows of 'contacts' have a 'societe_id'") for message in messages)


def test_dangling_links_read_empty(dangling_folder):
    export = open_export(dangling_folder)
    compiled = compile_rule("contacts where id <= 3 and societe.nom is empty")

    ids = sorted(row[0] for row in export.connection.execute(compiled.keys_sql, compiled.params).fetchall())

    assert ids == [1, 2, 3]


def test_dangling_links_still_resolve(dangling_folder):
    export = open_export(dangling_folder)
    definition = {"title": "Contacts", "sections": [{"kind": "contacts", "manual": [1, 2, 3]}]}

    resolution = resolve(definition, export=export)

    kept = set(resolution.recipients().column("id").to_pylist())
    left_out = set(resolution.excluded().column("id").to_pylist())
    assert kept | left_out == {1, 2, 3}
    assert resolution.report.manual_id_issues == []


def test_dangling_links_cli_warning(dangling_folder, capsys):
    code, out, err = run_cli(capsys, "--lang", "fr", "select", "contacts where id <= 3", "--data", str(dangling_folder))

    assert code == 0
    assert "avertissement : 3 lignes de « contacts »" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- the Windows-1252 CSV

@pytest.fixture(scope="module")
def cp1252_folder(real_exports, tmp_path_factory) -> Path:
    if not (real_exports / "csv-cp1252" / "candidats.csv").is_file():
        pytest.skip(f"no csv-cp1252/candidats.csv in the real export {real_exports}")
    folder = tmp_path_factory.mktemp("cp1252") / "csv-fr"
    shutil.copytree(real_exports / "csv-fr", folder)
    shutil.copyfile(real_exports / "csv-cp1252" / "candidats.csv", folder / "candidats.csv")
    return folder


def cities_in_file(path: Path, encoding: str, city: str) -> list[int]:
    """Ids of the rows whose ville is `city`, read with Python's csv module (NFC, outer spaces and case ignored)."""
    wanted = unicodedata.normalize("NFC", city).casefold()
    with open(path, encoding=encoding, newline="") as handle:
        rows = csv.DictReader(handle, delimiter=";")
        return sorted(int(row["id"]) for row in rows
                      if unicodedata.normalize("NFC", row["ville"]).strip(" \u00a0").casefold() == wanted)


def test_cp1252_warns(cp1252_folder):
    export = open_export(cp1252_folder)

    messages = [warning.render("en") for warning in export.warnings]
    assert any("candidats.csv" in message and "Windows-1252" in message for message in messages)


def test_cp1252_city_with_oe(cp1252_folder, real_exports):
    expected = cities_in_file(real_exports / "csv-cp1252" / "candidats.csv", "cp1252", "Marcq-en-Barœul")
    export = open_export(cp1252_folder)
    compiled = compile_rule('candidats where ville = "Marcq-en-Barœul"')

    ids = sorted(row[0] for row in export.connection.execute(compiled.keys_sql, compiled.params).fetchall())

    assert len(expected) > 0
    assert ids == expected


def test_cp1252_same_city_as_utf8(real_exports):
    utf8 = cities_in_file(real_exports / "csv-fr" / "candidats.csv", "utf-8-sig", "Marcq-en-Barœul")
    cp1252 = cities_in_file(real_exports / "csv-cp1252" / "candidats.csv", "cp1252", "Marcq-en-Barœul")

    assert utf8 == cp1252


def nfc_rows(table) -> list[dict]:
    return [{key: unicodedata.normalize("NFC", value) if isinstance(value, str) else value for key, value in row.items()}
            for row in table.to_pylist()]


def test_cp1252_same_recipients(cp1252_folder, real_exports):
    definition = {"title": "Dev et Marcq", "purpose": "information",
                  "sections": [{"kind": "candidats", "rule": "candidats where vivier in ('Dev', 'Data') or ville contains 'œ'"}]}

    from_utf8 = resolve(definition, export=open_export(real_exports / "csv-fr"))
    from_cp1252 = resolve(definition, export=open_export(cp1252_folder))

    # The cp1252 file was NFC-composed, so only the Unicode form of texts may differ.
    assert nfc_rows(from_cp1252.recipients()) == nfc_rows(from_utf8.recipients())
    assert nfc_rows(from_cp1252.excluded()) == nfc_rows(from_utf8.excluded())


def test_cp1252_cli_warns_french(cp1252_folder, capsys):
    code, out, err = run_cli(capsys, "--lang", "fr", "select", 'candidats where ville = "Marcq-en-Barœul"', "--data",
                             str(cp1252_folder), "--limit", "0")

    assert code == 0
    assert "n'est pas en UTF-8" in err
    assert "Traceback" not in err


def test_undecodable_csv_names_file(tmp_path):
    folder = tmp_path / "csv-fr"
    shutil.copytree(SAMPLES / "csv-fr", folder)
    # 0x81 is undefined in Windows-1252, so the file is neither UTF-8 nor Windows-1252.
    content = (folder / "utilisateurs.csv").read_bytes()
    (folder / "utilisateurs.csv").write_bytes(content + b"99;Ana\x81s;X;a@b.example;Recruteur;Oui\r\n")

    with pytest.raises(DataError) as caught:
        open_export(folder)

    assert "utilisateurs.csv" in caught.value.render("en")
