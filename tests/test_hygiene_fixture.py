"""Recipient hygiene on a tiny hand-made export: address forms, suppression lists, --include-excluded.

The export is written into a temporary folder by `tests/hygiene/build.py`
with the columns and types of the real Ernest export. Every expected value
below is counted by hand from the rows in the tables of comments.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from ernest_rules import resolve
from ernest_rules.cli import main
from ernest_rules.suppression import SUPPRESSION_ENV_VAR

HERE = Path(__file__).resolve().parent


def _load_build():
    spec = importlib.util.spec_from_file_location("hygiene_build", HERE / "hygiene" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()

# candidats (ville 'Lyon' for ids 1–14, 'Paris' for 15–24 so that the Lyon rule
# selects 14 of 24 rows, under the guard's 75 %):
#  id | email                      | other columns    | in the Lyon list
#   1 | 'Jean Dupont <jean@x.fr>'  |                  | recipient, key jean@x.fr
#   2 | 'jean@x.fr'                |                  | duplicate of candidats:1
#   3 | 'a@x.fr, b@y.fr'           |                  | several_addresses
#   4 | 'a@x.fr; b@y.fr'           |                  | several_addresses
#   5 | 'paul.martin@x.fr'         |                  | suppressed (text file, other case + spaces)
#   6 | 'lea.roux@x.fr'            |                  | suppressed (text file, U+00A0 around)
#   7 | 'marc.petit@x.fr'          |                  | suppressed (text file, 'Name <addr>')
#   8 | 'zoe.blanc@x.fr'           |                  | suppressed (CSV file, email column)
#   9 | NULL                       |                  | missing_address
#  10 | 'pas une adresse'          |                  | invalid_address
#  11 | 'optout@x.fr'              | desabonne        | unsubscribed
#  12 | 'sans.accord@x.fr'         | no RGPD consent  | no_consent
#  13 | 'garde@x.fr'               | (commented out in the suppression file) | recipient
#  14 | 'exclu@x.fr'               |                  | recipient (manual_exclusion in the full list)
CANDIDATS = [
    build.candidat(1, "Jean Dupont <jean@x.fr>", ville="Lyon"),
    build.candidat(2, "jean@x.fr", ville="Lyon"),
    build.candidat(3, "a@x.fr, b@y.fr", ville="Lyon"),
    build.candidat(4, "a@x.fr; b@y.fr", ville="Lyon"),
    build.candidat(5, "paul.martin@x.fr", ville="Lyon"),
    build.candidat(6, "lea.roux@x.fr", ville="Lyon"),
    build.candidat(7, "marc.petit@x.fr", ville="Lyon"),
    build.candidat(8, "zoe.blanc@x.fr", ville="Lyon"),
    build.candidat(9, None, ville="Lyon"),
    build.candidat(10, "pas une adresse", ville="Lyon"),
    build.candidat(11, "optout@x.fr", ville="Lyon", desabonne=True),
    build.candidat(12, "sans.accord@x.fr", ville="Lyon", consentement_rgpd=False),
    build.candidat(13, "garde@x.fr", ville="Lyon"),
    build.candidat(14, "exclu@x.fr", ville="Lyon"),
    *[build.candidat(number, f"paris{number}@x.fr", ville="Paris") for number in range(15, 25)],
]

# contacts (société 1 unless the row names another):
#  id | email                   | other columns          | in the full list
#   1 | 'Paul.Martin@x.fr'      |                        | suppressed
#   2 | 'lea.roux@x.fr '        |                        | suppressed
#   3 | 'JEAN@X.FR'             |                        | duplicate of candidats:1
#   4 | 'ancien.poste@x.fr'     | poste_actif false      | inactive_post
#   5 | 'societe.partie@x.fr'   | société 2 (opted out)  | company_unsubscribed
CONTACTS = [
    build.contact(1, "Paul.Martin@x.fr", societe_id=1),
    build.contact(2, "lea.roux@x.fr ", societe_id=1),
    build.contact(3, "JEAN@X.FR", societe_id=1),
    build.contact(4, "ancien.poste@x.fr", societe_id=1, poste_actif=False),
    build.contact(5, "societe.partie@x.fr", societe_id=2),
]
SOCIETES = [
    build.societe(1, "contact@societe1.example"),
    build.societe(2, "contact@societe2.example", desabonne=True),
]
# utilisateurs: 1 is the active RH referent of offer 1 (recipient), 2 the inactive operational
# referent of offer 1 (inactive_user), and 3 is active but the referent of nothing (not_a_referent).
UTILISATEURS = [
    build.utilisateur(1, "rh@alto.example"),
    build.utilisateur(2, "ancien@alto.example", role="Manager", actif=False),
    build.utilisateur(3, "libre@alto.example"),
]
OFFRES = [build.offre(1, societe_id=1, referent_rh_id=1, referent_operationnel_id=2)]

LYON = {"title": "Lyon", "sections": [{"kind": "candidats", "rule": 'candidats where ville = "Lyon"'}]}
CONTACTS_LIST = {"title": "Contacts", "sections": [{"kind": "contacts", "manual": [1, 2]}, {"kind": "candidats", "manual": [7, 8]}]}
FULL = {
    "title": "Full",
    "sections": [
        {"kind": "candidats", "rule": 'candidats where ville = "Lyon"'},
        {"kind": "contacts", "manual": [1, 2, 3, 4, 5]},
        {"kind": "referents_rh", "manual": [1, 3]},
        {"kind": "referents_operationnels", "manual": [2]},
    ],
    "exclude": {"candidats": [14]},
}

# Rows the suppression files leave out, per list (entity, id).
SUPPRESSED = {
    "lyon": {("candidats", 5), ("candidats", 6), ("candidats", 7), ("candidats", 8)},
    "contacts": {("contacts", 1), ("contacts", 2), ("candidats", 7), ("candidats", 8)},
}
LISTS = {"lyon": LYON, "contacts": CONTACTS_LIST}
# Recipients left once the four addresses are suppressed (garde@x.fr is only in a comment).
KEPT = {"lyon": {("candidats", 1), ("candidats", 13), ("candidats", 14)}, "contacts": set()}

# The full list, counted by hand from the tables above.
FULL_RECIPIENTS = {("candidats", 1), ("candidats", 13), ("utilisateurs", 1)}
FULL_EXCLUDED = {
    "duplicate": 2, "several_addresses": 2, "suppressed": 6, "missing_address": 1, "invalid_address": 1,
    "unsubscribed": 1, "no_consent": 1, "manual_exclusion": 1, "inactive_post": 1, "company_unsubscribed": 1,
    "not_a_referent": 1, "inactive_user": 1,
}

TEXT_SUPPRESSION = ("# Suppression list of the tests\n"
                    "  PAUL.Martin@X.FR  \n"
                    "\n"
                    "\u00a0lea.roux@x.fr\u00a0\n"
                    "   \n"
                    "# garde@x.fr\n"
                    "Marc Petit <Marc.Petit@x.fr>\n")
RAW_SUPPRESSED = ["  PAUL.Martin@X.FR  ", "\u00a0lea.roux@x.fr\u00a0", "Marc Petit <Marc.Petit@x.fr>", "Zoe.Blanc@X.fr"]


@pytest.fixture(autouse=True)
def no_default_suppression(monkeypatch):
    """Remove $ERNEST_RULES_SUPPRESSION, so that only the suppression lists a test gives apply."""
    monkeypatch.delenv(SUPPRESSION_ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return build.write_export(tmp_path_factory.mktemp("hygiene") / "export", candidats=CANDIDATS, contacts=CONTACTS,
                              societes=SOCIETES, utilisateurs=UTILISATEURS, offres=OFFRES)


def write_suppression_files(folder: Path, separator: str = ";") -> list[Path]:
    """Write a text file (one address a line) and a CSV file with an email column, and return their paths."""
    text_file = folder / "suppression.txt"
    text_file.write_text(TEXT_SUPPRESSION, encoding="utf-8")
    csv_file = folder / "suppression.csv"
    csv_file.write_text(f"id{separator}email{separator}note\n7{separator}Zoe.Blanc@X.fr{separator}asked by phone\n", encoding="utf-8")
    return [text_file, csv_file]


@pytest.fixture(scope="module")
def suppression_files(tmp_path_factory) -> list[Path]:
    return write_suppression_files(tmp_path_factory.mktemp("suppression"))


def suppression_options(files: list[Path]) -> list[str]:
    return [argument for path in files for argument in ("--suppression", str(path))]


def run_cli(*arguments: str) -> tuple[int, str, str]:
    """Run the command line in-process and return (exit code, standard output, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(arguments))
    return code, out.getvalue(), err.getvalue()


def write_list(folder: Path, definition: dict) -> Path:
    path = folder / "list.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    return path


def reasons(resolution) -> dict[tuple[str, int], str]:
    return {(row["entity"], row["id"]): row["reason"] for row in resolution.excluded().to_pylist()}


def recipient_ids(resolution) -> set[tuple[str, int]]:
    return {(row["entity"], row["id"]) for row in resolution.recipients().to_pylist()}


def with_reason(rows: dict[tuple[str, int], str], reason: str) -> set[tuple[str, int]]:
    return {key for key, value in rows.items() if value == reason}


def read_output(path: Path) -> list[dict]:
    """Read the rows of an exported file with DuckDB directly."""
    name = path.as_posix().replace("'", "''")
    reader = {".csv": f"read_csv('{name}', delim=';', header=true, all_varchar=true)",
              ".json": f"read_json('{name}')", ".parquet": f"read_parquet('{name}')"}[path.suffix]
    relation = duckdb.sql(f"SELECT * FROM {reader}")
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


# ---------------------------------------------------------------- address forms


def test_angle_address_key(data):
    row = next(row for row in resolve(LYON, data).recipients().to_pylist() if row["id"] == 1)
    assert row["recipient_key"] == "jean@x.fr"


def test_angle_address_email_column(data):
    row = next(row for row in resolve(LYON, data).recipients().to_pylist() if row["id"] == 1)
    assert row["email"] == "jean@x.fr"


def test_angle_merged_with_plain(data):
    row = next(row for row in resolve(LYON, data).recipients().to_pylist() if row["id"] == 1)
    assert {(source["entity"], source["id"]) for source in row["sources"]} == {("candidats", 1), ("candidats", 2)}


def test_angle_plain_is_duplicate(data):
    excluded = {row["id"]: row for row in resolve(LYON, data).excluded().to_pylist()}
    assert (excluded[2]["reason"], excluded[2]["duplicate_of"]) == ("duplicate", "candidats:1")


@pytest.mark.parametrize("candidate", [3, 4], ids=["comma", "semicolon"])
def test_several_addresses_reason(data, candidate):
    assert reasons(resolve(LYON, data))[("candidats", candidate)] == "several_addresses"


def test_no_suppression_baseline(data):
    expected = {("candidats", number) for number in (1, 5, 6, 7, 8, 13, 14)}
    assert recipient_ids(resolve(LYON, data, suppression_files=[])) == expected


# ---------------------------------------------------------------- suppression lists


@pytest.mark.parametrize("name", ["lyon", "contacts"])
def test_files_suppress_rows(data, suppression_files, name):
    resolution = resolve(LISTS[name], data, suppression_files=suppression_files)
    assert with_reason(reasons(resolution), "suppressed") == SUPPRESSED[name]


@pytest.mark.parametrize("name", ["lyon", "contacts"])
def test_files_keep_others(data, suppression_files, name):
    resolution = resolve(LISTS[name], data, suppression_files=suppression_files)
    assert recipient_ids(resolution) == KEPT[name]


@pytest.mark.parametrize("name", ["lyon", "contacts"])
def test_python_list_suppresses(data, name):
    resolution = resolve(LISTS[name], data, suppressed_addresses=RAW_SUPPRESSED)
    assert with_reason(reasons(resolution), "suppressed") == SUPPRESSED[name]


@pytest.mark.parametrize("name", ["lyon", "contacts"])
def test_environment_suppresses(data, suppression_files, monkeypatch, name):
    monkeypatch.setenv(SUPPRESSION_ENV_VAR, os.pathsep.join(str(path) for path in suppression_files))
    assert with_reason(reasons(resolve(LISTS[name], data)), "suppressed") == SUPPRESSED[name]


def test_comma_csv_suppresses(data, tmp_path):
    files = write_suppression_files(tmp_path, separator=",")
    assert with_reason(reasons(resolve(LYON, data, suppression_files=files)), "suppressed") == SUPPRESSED["lyon"]


@pytest.mark.parametrize("name", ["lyon", "contacts"])
def test_cli_option_suppresses(data, suppression_files, tmp_path, name):
    output = tmp_path / "out.parquet"
    code, _out, _err = run_cli("--lang", "en", "export", str(write_list(tmp_path, LISTS[name])), "--data", str(data),
                               "-o", str(output), "--include-excluded", *suppression_options(suppression_files))
    assert code == 0
    suppressed = {(row["entity"], row["id"]) for row in read_output(output) if row["reason"] == "suppressed"}
    assert suppressed == SUPPRESSED[name]


def test_cli_option_overrides_environment(data, tmp_path, monkeypatch):
    """An explicit --suppression replaces $ERNEST_RULES_SUPPRESSION: only paul.martin is left out."""
    only_paul = tmp_path / "paul.txt"
    only_paul.write_text("paul.martin@x.fr\n", encoding="utf-8")
    everyone = tmp_path / "all.txt"
    everyone.write_text("\n".join(RAW_SUPPRESSED) + "\n", encoding="utf-8")
    monkeypatch.setenv(SUPPRESSION_ENV_VAR, str(everyone))
    output = tmp_path / "out.parquet"
    code, _out, _err = run_cli("export", str(write_list(tmp_path, LYON)), "--data", str(data), "-o", str(output),
                               "--include-excluded", "--suppression", str(only_paul))
    assert code == 0
    assert {row["id"] for row in read_output(output) if row["reason"] == "suppressed"} == {5}


@pytest.fixture(scope="module")
def missing_file_run(data, tmp_path_factory) -> tuple[Path, int, str]:
    folder = tmp_path_factory.mktemp("missing")
    missing = folder / "nowhere" / "suppression.txt"
    code, _out, err = run_cli("--lang", "en", "export", str(write_list(folder, LYON)), "--data", str(data),
                              "-o", str(folder / "out.csv"), "--suppression", str(missing))
    return missing, code, err


def test_missing_file_exit_code(missing_file_run):
    assert missing_file_run[1] == 2


def test_missing_file_names_path(missing_file_run):
    missing, _code, err = missing_file_run
    assert str(missing) in err


def test_missing_file_no_output(missing_file_run):
    missing, _code, _err = missing_file_run
    assert not (missing.parent.parent / "out.csv").exists()


# ---------------------------------------------------------------- every reason, and --include-excluded


@pytest.fixture(scope="module")
def full(data, suppression_files):
    return resolve(FULL, data, suppression_files=suppression_files)


@pytest.fixture(scope="module")
def full_rows(full, tmp_path_factory) -> list[dict]:
    """Return the full list's included and excluded rows, read back from `Resolution.write`."""
    output = tmp_path_factory.mktemp("full") / "full.parquet"
    full.write(output, include_excluded=True)
    return read_output(output)


def test_full_recipients(full_rows):
    assert {(row["entity"], row["id"]) for row in full_rows if row["status"] == "included"} == FULL_RECIPIENTS


def test_full_excluded_counts(full):
    assert full.report.excluded == FULL_EXCLUDED


def test_full_recipient_count(full):
    assert full.report.recipients == 3


def test_full_duplicates_merged(full):
    assert full.report.duplicates_merged == 2


def test_full_contact_duplicate_winner(full_rows):
    assert {row["duplicate_of"] for row in full_rows if row["reason"] == "duplicate"} == {"candidats:1"}


def test_full_manual_exclusion_row(full_rows):
    assert {row["id"] for row in full_rows if row["reason"] == "manual_exclusion"} == {14}


def test_recipients_api_with_exclude(data):
    """Regression: with an `exclude`, resolve() once left a DuckDB result open and recipients() raised."""
    resolution = resolve({**LYON, "exclude": {"candidats": [14]}}, data, suppression_files=[])
    assert {row["id"] for row in resolution.recipients().to_pylist()} == {1, 5, 6, 7, 8, 13}


def test_recipients_api_after_write(data, tmp_path):
    """Regression: write() once left a DuckDB result open and a later recipients() raised."""
    resolution = resolve(LYON, data, suppression_files=[])
    resolution.write(tmp_path / "out.parquet")
    assert {row["id"] for row in resolution.recipients().to_pylist()} == {1, 5, 6, 7, 8, 13, 14}


@pytest.fixture(scope="module", params=["csv", "json", "parquet"])
def exported(data, suppression_files, tmp_path_factory, request) -> list[dict]:
    """Run `export --include-excluded` of the full list to each format and read the file back."""
    folder = tmp_path_factory.mktemp("export")
    output = folder / f"out.{request.param}"
    code, _out, _err = run_cli("--lang", "en", "export", str(write_list(folder, FULL)), "--data", str(data), "-o", str(output),
                               "--include-excluded", *suppression_options(suppression_files))
    assert code == 0
    return read_output(output)


def test_export_has_status_columns(exported):
    assert {"status", "reason", "duplicate_of"} <= set(exported[0])


def test_export_reason_counts(exported):
    assert dict(Counter(row["reason"] for row in exported if row["status"] == "excluded")) == FULL_EXCLUDED


def test_export_counts_match_report(exported, full):
    assert dict(Counter(row["reason"] for row in exported if row["status"] == "excluded")) == full.report.excluded


def test_export_included_rows(exported):
    assert {(row["entity"], int(row["id"])) for row in exported if row["status"] == "included"} == FULL_RECIPIENTS


def test_export_included_no_reason(exported):
    assert {row["reason"] for row in exported if row["status"] == "included"} == {None}


def test_export_duplicate_of_winner(exported):
    winners = {(row["entity"], int(row["id"])): row["duplicate_of"] for row in exported if row["reason"] == "duplicate"}
    assert winners == {("candidats", 2): "candidats:1", ("contacts", 3): "candidats:1"}


def test_export_other_rows_no_winner(exported):
    assert {row["duplicate_of"] for row in exported if row["reason"] != "duplicate"} == {None}


def test_export_without_flag_only_recipients(data, suppression_files, tmp_path):
    output = tmp_path / "out.parquet"
    code, _out, _err = run_cli("export", str(write_list(tmp_path, FULL)), "--data", str(data), "-o", str(output),
                               *suppression_options(suppression_files))
    assert code == 0
    assert {(row["entity"], row["id"]) for row in read_output(output)} == FULL_RECIPIENTS


@pytest.fixture(scope="module", params=[True, False], ids=["flag", "default"])
def preview(data, suppression_files, tmp_path_factory, request) -> tuple[bool, str]:
    """Return whether --include-excluded was given and the standard output of `preview` of the full list."""
    folder = tmp_path_factory.mktemp("preview")
    flags = ["--include-excluded"] if request.param else []
    code, out, _err = run_cli("--lang", "en", "preview", str(write_list(folder, FULL)), "--data", str(data), "--limit", "50",
                              *suppression_options(suppression_files), *flags)
    assert code == 0
    return request.param, out


def test_preview_left_out_table(preview):
    flag, output = preview
    assert ("Left out" in [line.strip() for line in output.splitlines()]) == flag


def test_preview_excluded_address_shown(preview):
    flag, output = preview
    assert ("pas une adresse" in output) == flag


def test_preview_lists_recipients(preview):
    _flag, output = preview
    assert "garde@x.fr" in output
