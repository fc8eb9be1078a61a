"""Saved lists and rules: versions, strict validation, history, locking, and the `store` CLI commands.

Expected values are written by hand from the inputs of each test (version
numbers, keys that change, texts), or read back with plain SQL from the store file.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from ernest_rules import ListDefinitionError
from ernest_rules import cli
from ernest_rules.errors import ErnestRulesError, RuleCheckError
from ernest_rules.store import NotFoundError, Store, StoreBusyError, StoreError, summary_text
from ernest_rules.store_schema import StoreUnavailableError

ROOT = Path(__file__).resolve().parents[1]

LIST_V1 = textwrap.dedent('''\
    title = "Relance Dev"

    [[sections]]
    kind = "candidats"
    rule = 'candidats where vivier = "Dev"'
    ''')

LIST_V2 = LIST_V1.replace("Relance Dev", "Relance Dev — décembre")

BROKEN_LIST = textwrap.dedent('''\
    title = "Cassée"

    [[sections]]
    kind = "candidats"
    rule = 'candidats where viviere = "Dev"'

    [[sections]]
    kind = "contacts"
    rule = 'contacts where poste_actiff'
    ''')


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "store.duckdb", user="alice")


def versions_rows(path: Path) -> list[tuple]:
    """Rows of the versions table read with plain SQL (the file must be closed by the store)."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute("SELECT object_kind, name, version, deleted, saved_by, summary FROM versions ORDER BY object_kind, name, version").fetchall()
    finally:
        connection.close()


# ---------------------------------------------------------------- versions


def test_save_list_first_version(store):
    info = store.save_list("relance", LIST_V1)
    assert info.version == 1
    assert info.summary == "created"
    assert info.saved_by == "alice"


def test_saved_list_text_round_trips(store):
    store.save_list("relance", LIST_V1)
    assert store.get_list("relance").text == LIST_V1


def test_saved_list_model_is_validated(store):
    store.save_list("relance", LIST_V1)
    assert store.get_list("relance").definition().sections[0].rule == 'candidats where vivier = "Dev"'


def test_second_save_adds_version(store):
    store.save_list("relance", LIST_V1)
    store.save_list("relance", LIST_V2)
    assert versions_rows(store.path) == [("list", "relance", 1, False, "alice", "created"),
                                         ("list", "relance", 2, False, "alice", "~title")]


def test_saved_at_is_utc_now(store):
    before = dt.datetime.now(dt.timezone.utc)
    info = store.save_list("relance", LIST_V1)
    after = dt.datetime.now(dt.timezone.utc)
    assert before <= info.saved_at <= after


def test_same_text_adds_no_version(store):
    store.save_list("relance", LIST_V1)
    info = store.save_list("relance", LIST_V1)
    assert info.version == 1
    assert not info.changed


def test_earlier_version_readable(store):
    store.save_list("relance", LIST_V1)
    store.save_list("relance", LIST_V2)
    assert store.get_list("relance", version=1).text == LIST_V1


def test_unknown_version_not_found(store):
    store.save_list("relance", LIST_V1)
    with pytest.raises(NotFoundError):
        store.get_list("relance", version=7)


@pytest.mark.parametrize("after, expected", [
    (LIST_V1.replace('"Dev"', '"Data"'), "~sections[1].rule"),
    (LIST_V1 + '\n[[sections]]\nkind = "contacts"\nmanual = [1]\n', "+sections[2]"),
    (LIST_V1.replace('title = "Relance Dev"', 'title = "Relance Dev"\npurpose = "information"'), "+purpose"),
    (LIST_V1.replace('title = "Relance Dev"', 'title = "Autre"\ndescription = "x"'), "~title +description"),
    (LIST_V1 + '\n[exclude]\ncandidats = [3]\n', "+exclude.candidats"),
    ("# comment only\n" + LIST_V1, "layout"),
], ids=["rule changed", "section added", "purpose added", "title and description", "exclusion added", "comment only"])
def test_change_summary_names_keys(store, after, expected):
    store.save_list("relance", LIST_V1)
    assert store.save_list("relance", after).summary == expected


def test_section_removed_summary(store):
    two = LIST_V1 + '\n[[sections]]\nkind = "contacts"\nmanual = [1]\n'
    store.save_list("relance", two)
    assert store.save_list("relance", LIST_V1).summary == "-sections[2]"


@pytest.mark.parametrize("summary, lang, expected", [
    ("~title +sections[2]", "en", "changed: title; added: sections[2]"),
    ("-purpose", "en", "removed: purpose"),
    ("created", "en", "created"),
])
def test_summary_text_english(summary, lang, expected):
    assert summary_text(summary, lang) == expected


def test_json_list_saved(store):
    info = store.save_list("json-list", '{"title": "J", "sections": [{"kind": "contacts", "manual": [4]}]}')
    assert store.get_list("json-list").form == "json"
    assert info.version == 1


def test_names_ignore_case(store):
    store.save_list("Relance", LIST_V1)
    store.save_list("relance", LIST_V2)
    assert [(info.name, info.version) for info in store.names("list")] == [("Relance", 2)]


@pytest.mark.parametrize("object_kind, name", [("rule", "1dev"), ("rule", "dev-ops"), ("list", "a/b"), ("list", ""), ("list", "x" * 101)])
def test_invalid_names_rejected(store, object_kind, name):
    with pytest.raises(StoreError):
        if object_kind == "rule":
            store.save_rule(name, "candidats")
        else:
            store.save_list(name, LIST_V1)


# ---------------------------------------------------------------- strict validation


def test_invalid_list_reports_every_problem(store):
    with pytest.raises(ListDefinitionError) as caught:
        store.save_list("cassee", BROKEN_LIST)
    assert [problem.origin for problem in caught.value.problems] == ["sections[1].rule", "sections[2].rule"]


def test_invalid_list_keeps_previous_version(store):
    store.save_list("relance", LIST_V1)
    with pytest.raises(ListDefinitionError):
        store.save_list("relance", BROKEN_LIST)
    assert store.get_list("relance").text == LIST_V1


def test_invalid_list_adds_no_row(store):
    store.save_list("relance", LIST_V1)
    with pytest.raises(ListDefinitionError):
        store.save_list("relance", BROKEN_LIST)
    assert len(versions_rows(store.path)) == 1


def test_invalid_toml_rejected(store):
    with pytest.raises(ListDefinitionError):
        store.save_list("relance", 'title = "x"\n[[sections]\n')


def test_unknown_exclusion_kind_rejected(store):
    with pytest.raises(ListDefinitionError):
        store.save_list("relance", LIST_V1 + "\n[exclude]\nmartiens = [1]\n")


def test_list_needs_saved_rule(store):
    with pytest.raises(ListDefinitionError):
        store.save_list("relance", LIST_V1.replace("candidats where vivier = \"Dev\"", "@dev"))


def test_list_uses_saved_rule(store):
    store.save_rule("dev", 'candidats where vivier = "Dev"')
    info = store.save_list("relance", LIST_V1.replace("candidats where vivier = \"Dev\"", "@dev"))
    assert info.version == 1


def test_invalid_rule_rejected(store):
    with pytest.raises(RuleCheckError):
        store.save_rule("dev", 'candidats where viviere = "Dev"')


def test_rule_cycle_rejected(store):
    store.save_rule("a", "candidats where ville = \"Lyon\"")
    store.save_rule("b", "@a union candidats where ville = \"Paris\"")
    with pytest.raises(ErnestRulesError):
        store.save_rule("a", "@b")


def test_rule_change_breaking_list_rejected(store):
    store.save_rule("dev", 'candidats where vivier = "Dev"')
    store.save_list("relance", LIST_V1.replace("candidats where vivier = \"Dev\"", "@dev"))
    with pytest.raises(StoreError):
        store.save_rule("dev", "contacts where poste_actif")
    assert store.get_rule("dev").text == 'candidats where vivier = "Dev"'


def test_used_rule_not_deletable(store):
    store.save_rule("dev", 'candidats where vivier = "Dev"')
    store.save_list("relance", LIST_V1.replace("candidats where vivier = \"Dev\"", "@dev"))
    with pytest.raises(StoreError):
        store.delete_rule("dev")
    assert store.rulebook() == {"dev": 'candidats where vivier = "Dev"'}


# ---------------------------------------------------------------- deletion and history


def test_delete_adds_tombstone(store):
    store.save_list("relance", LIST_V1)
    info = store.delete_list("relance")
    assert info.version == 2
    assert info.deleted
    assert info.summary == "deleted"


def test_deleted_list_not_found(store):
    store.save_list("relance", LIST_V1)
    store.delete_list("relance")
    with pytest.raises(NotFoundError):
        store.get_list("relance")


def test_deleted_list_history_kept(store):
    store.save_list("relance", LIST_V1)
    store.delete_list("relance")
    assert [(info.version, info.deleted) for info in store.history("list", "relance")] == [(1, False), (2, True)]


def test_deleted_list_not_listed(store):
    store.save_list("relance", LIST_V1)
    store.save_list("autre", LIST_V2)
    store.delete_list("relance")
    assert [info.name for info in store.names("list")] == ["autre"]


def test_save_after_delete_restores(store):
    store.save_list("relance", LIST_V1)
    store.delete_list("relance")
    info = store.save_list("relance", LIST_V2)
    assert info.version == 3
    assert info.summary == "restored ~title"


def test_delete_unknown_not_found(store):
    with pytest.raises(NotFoundError):
        store.delete_list("jamais")


def test_history_unknown_not_found(store):
    store.save_list("relance", LIST_V1)
    with pytest.raises(NotFoundError):
        store.history("list", "jamais")


def test_versions_primary_key(store):
    store.save_list("relance", LIST_V1)
    connection = duckdb.connect(str(store.path))
    try:
        with pytest.raises(duckdb.ConstraintException):
            connection.execute("INSERT INTO versions VALUES ('list', 'relance', 1, false, 'x', 'toml', NULL, 'bob', now(), 'created')")
    finally:
        connection.close()


# ---------------------------------------------------------------- the file


def test_missing_store_reads_empty(tmp_path):
    store = Store(tmp_path / "absent.duckdb")
    assert store.names("list") == []


def test_missing_store_not_created(tmp_path):
    Store(tmp_path / "absent.duckdb").names("rule")
    assert not (tmp_path / "absent.duckdb").exists()


def test_text_file_not_a_store(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database\n" * 100)
    with pytest.raises(StoreUnavailableError):
        Store(path).save_rule("dev", "candidats")


def test_other_database_not_a_store(tmp_path):
    path = tmp_path / "other.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("CREATE TABLE clients (id INTEGER)")
    connection.close()
    with pytest.raises(StoreUnavailableError):
        Store(path).names("list")


def test_missing_folder_rejected(tmp_path):
    with pytest.raises(StoreUnavailableError):
        Store(tmp_path / "nowhere" / "store.duckdb").save_rule("dev", "candidats")


# ---------------------------------------------------------------- two processes

WRITES = 8

HOLDER = textwrap.dedent("""\
    import duckdb, sys, time
    connection = duckdb.connect(sys.argv[1])
    open(sys.argv[2], "w").close()
    time.sleep(60)
    """)

WRITER = textwrap.dedent("""\
    import os, sys, time
    from ernest_rules.store import Store, StoreBusyError
    path, prefix, start = sys.argv[1], sys.argv[2], sys.argv[3]
    store = Store(path, user=prefix, busy_timeout=30)
    while not os.path.exists(start):
        time.sleep(0.005)
    try:
        for number in range(int(sys.argv[4])):
            store.save_rule(f"{prefix}_{number}", f'candidats where ville = "V{number}"')
    except StoreBusyError as error:
        print(error.render("en"))
        sys.exit(3)
    """)


def wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {seconds} s")
        time.sleep(0.01)


@pytest.fixture
def lock_holder(store, tmp_path):
    """A second process that keeps the store file open (so locked) until the test ends."""
    store.save_rule("dev", 'candidats where vivier = "Dev"')
    ready = tmp_path / "holder.ready"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(store.path), str(ready)], cwd=ROOT)
    try:
        wait_for(ready, 30)
        yield process
    finally:
        process.kill()
        process.wait()


def test_busy_store_clear_error(store, lock_holder):
    busy = Store(store.path, user="bob", busy_timeout=0.4)
    with pytest.raises(StoreBusyError) as caught:
        busy.save_rule("data", 'candidats where vivier = "Data"')
    assert caught.value.problems[0].message.render("en") == "the store is busy (another ernest-rules process is writing to it); retry"


def test_busy_store_loses_nothing(store, lock_holder):
    with pytest.raises(StoreBusyError):
        Store(store.path, busy_timeout=0.2).delete_rule("dev")
    lock_holder.kill()
    lock_holder.wait()
    assert store.rulebook() == {"dev": 'candidats where vivier = "Dev"'}


@pytest.fixture(scope="module")
def two_writers(tmp_path_factory):
    """Two processes that save rules into one store at the same time; return their exit codes and the store."""
    folder = tmp_path_factory.mktemp("two-writers")
    store = Store(folder / "store.duckdb")
    start = folder / "start"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(store.path), prefix, str(start), str(WRITES)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True) for prefix in ("left", "right")]
    start.touch()
    codes = [writer.wait(timeout=120) for writer in writers]
    outputs = [writer.stdout.read() for writer in writers]
    return codes, outputs, store


def test_two_writers_both_succeed(two_writers):
    codes, outputs, _store = two_writers
    assert codes == [0, 0], outputs


def test_two_writers_save_everything(two_writers):
    _codes, _outputs, store = two_writers
    assert sorted(store.rulebook()) == sorted(f"{prefix}_{number}" for prefix in ("left", "right") for number in range(WRITES))


def test_two_writers_record_users(two_writers):
    _codes, _outputs, store = two_writers
    users = {row[1].split("_")[0]: row[4] for row in versions_rows(store.path)}
    assert users == {"left": "left", "right": "right"}


# ---------------------------------------------------------------- CLI


def run_cli(argv: list[str]) -> int:
    """Run `ernest-rules ARGV` in English, in this process."""
    return cli.main(["--lang", "en", *argv])


@pytest.fixture
def list_file(tmp_path) -> Path:
    path = tmp_path / "relance.toml"
    path.write_text(LIST_V1, encoding="utf-8")
    return path


def test_cli_save_prints_version(store, list_file, capsys):
    assert run_cli(["store", "--store", str(store.path), "--user", "carole", "save", "relance", str(list_file)]) == 0
    assert capsys.readouterr().out.strip() == "saved the list 'relance' as version 1 (created)"


def test_cli_save_records_user(store, list_file):
    run_cli(["store", "save", "relance", str(list_file), "--store", str(store.path), "--user", "carole"])
    assert versions_rows(store.path)[0][4] == "carole"


def test_cli_user_from_environment(store, list_file, monkeypatch):
    monkeypatch.setenv("ERNEST_RULES_USER", "denise")
    run_cli(["store", "--store", str(store.path), "save", "relance", str(list_file)])
    assert versions_rows(store.path)[0][4] == "denise"


def test_cli_store_from_environment(store, list_file, monkeypatch):
    monkeypatch.setenv("ERNEST_RULES_STORE", str(store.path))
    run_cli(["store", "save", "relance", str(list_file)])
    assert store.get_list("relance").version == 1


def test_cli_show_prints_text(store, capsys):
    store.save_list("relance", LIST_V1)
    store.save_list("relance", LIST_V2)
    assert run_cli(["store", "--store", str(store.path), "show", "relance", "--version", "1"]) == 0
    assert capsys.readouterr().out == LIST_V1


def test_cli_list_names(store, capsys):
    store.save_list("relance", LIST_V1)
    store.save_list("autre", LIST_V2)
    run_cli(["store", "--store", str(store.path), "list"])
    assert [line.split("\t")[:2] for line in capsys.readouterr().out.splitlines()] == [["autre", "v1"], ["relance", "v1"]]


def test_cli_history_lines(store, capsys):
    store.save_list("relance", LIST_V1)
    store.save_list("relance", LIST_V2)
    store.delete_list("relance")
    run_cli(["store", "--store", str(store.path), "history", "relance"])
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(line[0], line[2], line[3]) for line in lines] == [("v1", "alice", "created"), ("v2", "alice", "changed: title"),
                                                              ("v3", "alice", "deleted")]


def test_cli_delete_then_show_fails(store, capsys):
    store.save_list("relance", LIST_V1)
    assert run_cli(["store", "--store", str(store.path), "delete", "relance"]) == 0
    assert run_cli(["store", "--store", str(store.path), "show", "relance"]) == 2


def test_cli_invalid_list_exit_two(store, tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN_LIST, encoding="utf-8")
    assert run_cli(["store", "--store", str(store.path), "save", "cassee", str(path)]) == 2
    assert "sections[2].rule" in capsys.readouterr().err


def test_cli_rules_save_and_list(store, tmp_path, capsys):
    path = tmp_path / "dev.rule"
    path.write_text('candidats where vivier = "Dev"\n', encoding="utf-8")
    run_cli(["store", "--store", str(store.path), "rules", "save", "dev", str(path)])
    capsys.readouterr()
    run_cli(["store", "rules", "--store", str(store.path), "list"])
    assert capsys.readouterr().out.split("\t")[:2] == ["dev", "v1"]


def test_cli_rules_show_text(store, capsys):
    store.save_rule("dev", 'candidats where vivier = "Dev"')
    run_cli(["store", "--store", str(store.path), "rules", "show", "dev"])
    assert capsys.readouterr().out == 'candidats where vivier = "Dev"\n'


def test_cli_busy_store_exit_two(store, lock_holder, list_file, monkeypatch, capsys):
    monkeypatch.setitem(Store.__init__.__kwdefaults__, "busy_timeout", 0.3)
    assert run_cli(["store", "--store", str(store.path), "save", "relance", str(list_file)]) == 2
    assert "the store is busy" in capsys.readouterr().err


def test_cli_serve_binds_loopback(store, monkeypatch):
    calls = []
    monkeypatch.setattr("ernest_rules.service.run_service", lambda *args, **options: calls.append((args, options)))
    assert run_cli(["serve", "--store", str(store.path), "--data", str(ROOT / "samples" / "data"), "--port", "8123"]) == 0
    assert [(options["host"], options["port"]) for _args, options in calls] == [("127.0.0.1", 8123)]
