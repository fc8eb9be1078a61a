"""Campaign snapshots: creation in one transaction, anti-doublon in the store, send-time opt-outs, diffs.

Expected recipients are chosen by hand-written DuckDB SQL over the export
files: "clean" people whose address is plain, unique across the export, not
opted out, with consent. A list of their ids must snapshot to exactly their
addresses. The all-or-nothing test kills a real process in the middle of a
150,000-row snapshot.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from ernest_rules import cli
from ernest_rules.errors import GuardError
from ernest_rules.store import NotFoundError, Store
from ernest_rules.snapshots import (snapshot_add, snapshot_create, snapshot_diff, snapshot_diff_now, snapshot_get, snapshot_list,
                                    snapshot_page, snapshot_recipients, snapshot_write)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "data" / "parquet"
TABLES = ("candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures")
TODAY = dt.date(2025, 3, 10)

# Keys as the documented anti-doublon computes them: NFC, trimmed, lower-cased.
KEY = "lower(nfc_normalize(trim({})))"
PLAIN = r"[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)+"


def clean_people(folder: Path, entity: str, count: int) -> list[tuple[int, str]]:
    """(id, key) of `count` rows of `entity` whose address is plain, appears once in the export and never opted out."""
    def table(name: str) -> str:
        return f"read_parquet('{folder / (name + '.parquet')}')"

    extra = {"candidats": "AND e.consentement_rgpd AND NOT coalesce(e.desabonne, false)",
             "contacts": f"AND e.poste_actif AND NOT coalesce(e.desabonne, false) "
                         f"AND NOT coalesce((SELECT s.desabonne FROM {table('societes')} AS s WHERE s.id = e.societe_id), false)"}[entity]
    sql = f"""
        WITH keys AS (
            SELECT {KEY.format('email')} AS k, coalesce(desabonne, false) AS out FROM {table('candidats')}
            UNION ALL SELECT {KEY.format('email')}, coalesce(desabonne, false) FROM {table('contacts')}
            UNION ALL SELECT {KEY.format('email')}, coalesce(desabonne, false) FROM {table('societes')}
            UNION ALL SELECT {KEY.format('email')}, false FROM {table('utilisateurs')}),
        counted AS (SELECT k, count(*) AS n, bool_or(out) AS out FROM keys WHERE k IS NOT NULL GROUP BY k)
        SELECT e.id, c.k FROM {table(entity)} AS e JOIN counted AS c ON c.k = {KEY.format('e.email')}
        WHERE c.n = 1 AND NOT c.out AND regexp_full_match(c.k, '{PLAIN}') {extra}
        ORDER BY e.id LIMIT {count}"""
    return duckdb.sql(sql).fetchall()


def list_text(ids: list[int], *, kind: str = "candidats", extra: str = "") -> str:
    return f'title = "Campagne"\npurpose = "information"\n{extra}\n[[sections]]\nkind = "{kind}"\nmanual = {list(ids)}\n'


def copy_samples(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        shutil.copy2(SAMPLES / f"{name}.parquet", target / f"{name}.parquet")
    return target


def rewrite(folder: Path, table: str, replacement: str) -> None:
    """Rewrite one Parquet file of a copied export with `SELECT * REPLACE (replacement)`."""
    path = folder / f"{table}.parquet"
    temporary = folder / f"{table}.new.parquet"
    duckdb.execute(f"COPY (SELECT * REPLACE ({replacement}) FROM read_parquet('{path}')) TO '{temporary}' (FORMAT parquet)")
    os.replace(temporary, path)


def keys_of(table) -> set[str]:
    return set(table.column("recipient_key").to_pylist())


@pytest.fixture(scope="module")
def people() -> list[tuple[int, str]]:
    chosen = clean_people(SAMPLES, "candidats", 6)
    assert len(chosen) == 6
    return chosen


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "store.duckdb", user="alice")


@pytest.fixture
def first_four(store, people):
    """A store holding the list `campagne` of the first four clean candidats, and its snapshot."""
    store.save_list("campagne", list_text([person[0] for person in people[:4]]))
    return snapshot_create(store, "campagne", SAMPLES, campaign="mars", today=TODAY)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory, people):
    """Like `first_four`, shared by the tests that only read: (store, snapshot)."""
    store = Store(tmp_path_factory.mktemp("frozen") / "store.duckdb", user="alice")
    store.save_list("campagne", list_text([person[0] for person in people[:4]]))
    return store, snapshot_create(store, "campagne", SAMPLES, campaign="mars", today=TODAY)


@pytest.fixture(autouse=True)
def no_default_suppression(monkeypatch):
    monkeypatch.delenv("ERNEST_RULES_SUPPRESSION", raising=False)


# ---------------------------------------------------------------- creation


def test_snapshot_holds_chosen_keys(people, frozen):
    store, first_four = frozen
    assert keys_of(snapshot_page(store, first_four.id, 0, 100)) == {key for _id, key in people[:4]}


def test_snapshot_counts_recipients(frozen):
    _store, first_four = frozen
    assert first_four.recipients == 4


def test_snapshot_records_campaign(frozen):
    _store, first_four = frozen
    assert first_four.list_name == "campagne"
    assert first_four.list_version == 1
    assert first_four.campaign == "mars"


def test_snapshot_records_today(frozen):
    _store, first_four = frozen
    assert first_four.today == TODAY


def test_snapshot_records_data_form(frozen):
    _store, first_four = frozen
    assert Path(first_four.data_path) == SAMPLES.resolve()
    assert first_four.data_form == "parquet"


@pytest.mark.parametrize("table", ["candidats", "contacts"])
def test_snapshot_records_file_sizes(frozen, table):
    _store, first_four = frozen
    assert first_four.files[table]["size"] == (SAMPLES / f"{table}.parquet").stat().st_size


def test_snapshot_stores_report(frozen):
    store, first_four = frozen
    connection = duckdb.connect(str(store.path), read_only=True)
    try:
        count = connection.execute("SELECT CAST(json_extract(report, '$.recipients') AS INTEGER) FROM snapshots WHERE snapshot_id = ?",
                                   [first_four.id]).fetchall()[0][0]
    finally:
        connection.close()
    assert count == 4


def test_snapshot_uses_current_version(store, people, first_four):
    store.save_list("campagne", list_text([person[0] for person in people[:2]]))
    later = snapshot_create(store, "campagne", SAMPLES, today=TODAY)
    assert later.list_version == 2
    assert later.recipients == 2


def test_snapshot_ids_increase(store, first_four):
    later = snapshot_create(store, "campagne", SAMPLES, today=TODAY)
    assert [snapshot.id for snapshot in snapshot_list(store)] == [first_four.id, later.id]


def test_snapshot_sources_are_manual(frozen):
    store, first_four = frozen
    rows = snapshot_page(store, first_four.id, 0, 100).to_pylist()
    assert {(source["section"], source["via"]) for row in rows for source in row["sources"]} == {(1, "manual")}


def test_duplicate_key_rejected_by_database(frozen):
    store, first_four = frozen
    connection = duckdb.connect(str(store.path))
    try:
        with pytest.raises(duckdb.ConstraintException):
            connection.execute("INSERT INTO snapshot_recipients SELECT * FROM snapshot_recipients WHERE snapshot_id = ? LIMIT 1",
                               [first_four.id])
    finally:
        connection.close()


def test_guard_failure_writes_nothing(store):
    store.save_list("tous", 'title = "Tous"\n[[sections]]\nkind = "candidats"\nrule = "candidats"\n')
    with pytest.raises(GuardError):
        snapshot_create(store, "tous", SAMPLES)
    assert snapshot_list(store) == []


def test_unknown_list_not_found(store, first_four):
    with pytest.raises(NotFoundError):
        snapshot_create(store, "jamais", SAMPLES)


def test_unknown_snapshot_not_found(frozen):
    store, first_four = frozen
    with pytest.raises(NotFoundError):
        snapshot_get(store, first_four.id + 10)


def test_snapshot_written_as_csv(frozen, tmp_path):
    store, first_four = frozen
    path = tmp_path / "out.csv"
    snapshot_write(store, first_four.id, path)
    written = duckdb.sql(f"SELECT recipient_key FROM read_csv('{path}', delim=';', header=true)").fetchall()
    assert {row[0] for row in written} == keys_of(snapshot_page(store, first_four.id, 0, 100))


# ---------------------------------------------------------------- adding by hand


def test_add_reports_present_and_invalid(store, people, first_four):
    result = snapshot_add(store, first_four.id, [people[4][1], people[0][1].upper(), "bad@"])
    assert [row["recipient_key"] for row in result.added] == [people[4][1]]
    assert [row["recipient_key"] for row in result.already_present] == [people[0][1]]
    assert [(row["email"], row["reason"]) for row in result.rejected] == [("bad@", "invalid_address")]


def test_add_keeps_the_rest(store, people, first_four):
    snapshot_add(store, first_four.id, [people[0][1], people[4][1]])
    assert snapshot_get(store, first_four.id).recipients == 5


def test_added_row_marked(store, people, first_four):
    snapshot_add(store, first_four.id, [{"email": f"  Nouvelle <{people[5][1]}> ", "display_name": "Nouvelle"}])
    last = snapshot_page(store, first_four.id, 4, 10).to_pylist()
    assert [(row["recipient_key"], row["origin"], row["display_name"]) for row in last] == [(people[5][1], "added", "Nouvelle")]


def test_add_repeated_address_once(store, first_four):
    result = snapshot_add(store, first_four.id, ["x.nouveau@exemple.fr", "X.Nouveau@Exemple.fr"])
    assert len(result.added) == 1
    assert len(result.already_present) == 1


@pytest.mark.parametrize("address, reason", [("", "missing_address"), ("a@x.fr, b@y.fr", "several_addresses"), ("pas une adresse", "invalid_address")])
def test_add_rejects_unusable(store, first_four, address, reason):
    assert snapshot_add(store, first_four.id, [address]).rejected == [{"email": address, "reason": reason}]


def test_add_unknown_snapshot(store, first_four):
    with pytest.raises(NotFoundError):
        snapshot_add(store, first_four.id + 5, ["x@y.fr"])


# ---------------------------------------------------------------- send time


@pytest.fixture(scope="module")
def unsubscribed_since(tmp_path_factory, people):
    """A snapshot of the first four clean candidats, then an export where the second one has unsubscribed.

    Return (store, snapshot, export folder).
    """
    folder = copy_samples(tmp_path_factory.mktemp("unsubscribed") / "export")
    store = Store(folder.parent / "store.duckdb", user="alice")
    store.save_list("campagne", list_text([person[0] for person in people[:4]]))
    snapshot = snapshot_create(store, "campagne", folder, today=TODAY)
    rewrite(folder, "candidats", f"CASE WHEN id = {people[1][0]} THEN true ELSE desabonne END AS desabonne")
    return store, snapshot, folder


def send_now(store: Store, snapshot, folder: Path):
    return snapshot_recipients(store, snapshot.id, folder)


def test_send_removes_unsubscribed(people, unsubscribed_since):
    result = send_now(*unsubscribed_since)
    assert [(row["recipient_key"], row["reason"]) for row in result.removed.to_pylist()] == [(people[1][1], "unsubscribed")]


def test_send_keeps_the_others(people, unsubscribed_since):
    result = send_now(*unsubscribed_since)
    assert keys_of(result.recipients) == {people[0][1], people[2][1], people[3][1]}


def test_send_notices_changed_export(unsubscribed_since):
    assert send_now(*unsubscribed_since).export_changed


def test_diff_now_names_unsubscribe(people, unsubscribed_since):
    store, snapshot, folder = unsubscribed_since
    diff = snapshot_diff_now(store, snapshot.id, folder, today=TODAY)
    assert [(row["recipient_key"], row["reason"], row["exclusion"]) for row in diff.removed.to_pylist()] == \
        [(people[1][1], "excluded", "unsubscribed")]


def test_send_unchanged_export(frozen):
    store, first_four = frozen
    assert not snapshot_recipients(store, first_four.id, SAMPLES).export_changed


def test_send_applies_suppression_file(people, frozen, tmp_path):
    store, first_four = frozen
    path = tmp_path / "suppression.txt"
    path.write_text(f"# opt-outs\n  {people[2][1].upper()}  \n", encoding="utf-8")
    result = snapshot_recipients(store, first_four.id, SAMPLES, suppression_files=[path])
    assert [(row["recipient_key"], row["reason"]) for row in result.removed.to_pylist()] == [(people[2][1], "suppressed")]


def test_send_checks_added_addresses(store, people, first_four):
    snapshot_add(store, first_four.id, ["Quelqu.Un@Exemple.fr"])
    result = snapshot_recipients(store, first_four.id, SAMPLES, suppressed_addresses=["quelqu.un@exemple.fr"])
    assert result.removed_counts == {"suppressed": 1}


@pytest.fixture(scope="module")
def new_match(tmp_path_factory, people):
    """A snapshot of a list (a rule that matches no candidat, and one candidat by hand), then an export where
    the sixth clean candidat matches the rule. Return (store, snapshot, export folder)."""
    folder = copy_samples(tmp_path_factory.mktemp("new-match") / "export")
    store = Store(folder.parent / "store.duckdb", user="alice")
    store.save_list("campagne", list_text([people[0][0]]).replace("manual", 'rule = \'candidats where ville = "Zzzville"\'\nmanual'))
    snapshot = snapshot_create(store, "campagne", folder, today=TODAY)
    rewrite(folder, "candidats", f"CASE WHEN id = {people[5][0]} THEN 'Zzzville' ELSE ville END AS ville")
    return store, snapshot, folder


def test_send_adds_no_new_match(people, new_match):
    store, snapshot, folder = new_match
    assert keys_of(snapshot_recipients(store, snapshot.id, folder).recipients) == {people[0][1]}


def test_diff_now_shows_new_match(people, new_match):
    store, snapshot, folder = new_match
    diff = snapshot_diff_now(store, snapshot.id, folder, today=TODAY)
    assert [(row["recipient_key"], row["reason"]) for row in diff.added.to_pylist()] == [(people[5][1], "newly_selected")]


# ---------------------------------------------------------------- differences


def make_two_snapshots(store: Store, people) -> tuple[int, int]:
    """Snapshot candidats a, b, c, d, then a, b, c, e with c excluded by hand; return both ids."""
    ids = [person[0] for person in people]
    store.save_list("campagne", list_text(ids[:4]))
    earlier = snapshot_create(store, "campagne", SAMPLES, today=TODAY)
    store.save_list("campagne", list_text([ids[0], ids[1], ids[2], ids[4]], extra=f"[exclude]\ncandidats = [{ids[2]}]\n"))
    later = snapshot_create(store, "campagne", SAMPLES, today=TODAY)
    return earlier.id, later.id


@pytest.fixture(scope="module")
def two_snapshots(tmp_path_factory, people):
    """A store with `make_two_snapshots`, shared by the tests that only read: (store, ids)."""
    store = Store(tmp_path_factory.mktemp("two-snapshots") / "store.duckdb")
    return store, make_two_snapshots(store, people)


def test_diff_added_newly_selected(people, two_snapshots):
    store, ids = two_snapshots
    diff = snapshot_diff(store, *ids)
    assert [(row["recipient_key"], row["reason"], row["exclusion"]) for row in diff.added.to_pylist()] == [(people[4][1], "newly_selected", None)]


def test_diff_removed_with_reasons(people, two_snapshots):
    store, ids = two_snapshots
    diff = snapshot_diff(store, *ids)
    removed = {(row["recipient_key"], row["reason"], row["exclusion"]) for row in diff.removed.to_pylist()}
    assert removed == {(people[2][1], "excluded", "manual_exclusion"), (people[3][1], "no_longer_selected", None)}


def test_diff_reports_hand_additions(store, people):
    ids = make_two_snapshots(store, people)
    snapshot_add(store, ids[0], ["ajout.main@exemple.fr"])
    removed = {row["recipient_key"]: row["reason"] for row in snapshot_diff(store, *ids).removed.to_pylist()}
    assert removed["ajout.main@exemple.fr"] == "added_by_hand"


def test_diff_backwards_names_exclusion(people, two_snapshots):
    store, (earlier, later) = two_snapshots
    added = {row["recipient_key"]: row["exclusion"] for row in snapshot_diff(store, later, earlier).added.to_pylist()}
    assert added == {people[2][1]: "manual_exclusion", people[3][1]: None}


def test_diff_now_unchanged_is_empty(frozen):
    store, first_four = frozen
    diff = snapshot_diff_now(store, first_four.id, SAMPLES, today=TODAY)
    assert diff.added.num_rows == 0
    assert diff.removed.num_rows == 0


def test_diff_unknown_snapshot(frozen):
    store, first_four = frozen
    with pytest.raises(NotFoundError):
        snapshot_diff(store, first_four.id, first_four.id + 3)


# ---------------------------------------------------------------- real export


def find_real_exports() -> Path | None:
    places = [Path(os.environ["ERNEST_REAL_EXPORTS"])] if os.environ.get("ERNEST_REAL_EXPORTS") else []
    places.append(ROOT.parent / "shared" / "real-exports")
    return next((place for place in places if (place / "parquet").is_dir() and (place / "csv-fr").is_dir()), None)


@pytest.fixture(scope="module")
def real_exports() -> Path:
    place = find_real_exports()
    if place is None:
        pytest.skip("real export not found: set $ERNEST_REAL_EXPORTS or place it in ../shared/real-exports beside the repository")
    return place


@pytest.mark.parametrize("form", ["parquet", "csv-fr"])
def test_real_export_snapshot_keys(store, real_exports, form):
    chosen = clean_people(real_exports / "parquet", "contacts", 8)
    store.save_list("contacts", list_text([person[0] for person in chosen], kind="contacts"))
    snapshot = snapshot_create(store, "contacts", real_exports / form, today=TODAY)
    assert keys_of(snapshot_page(store, snapshot.id, 0, 100)) == {key for _id, key in chosen}


# ---------------------------------------------------------------- all or nothing


@pytest.fixture(scope="session")
def big_export(tmp_path_factory) -> Path:
    """150,000 generated candidats in Parquet, made once per test session."""
    folder = tmp_path_factory.getbasetemp() / "big-export-150k"
    done = folder / "generated"
    if not done.exists():
        subprocess.run([sys.executable, str(ROOT / "samples" / "generate.py"), "--rows", "150000", "--out", str(folder),
                        "--forms", "parquet"], check=True, capture_output=True)
        done.touch()
    return folder


KILLED_CHILD = textwrap.dedent("""\
    import pathlib, sys
    from ernest_rules.store import Store
    from ernest_rules.snapshots import snapshot_create
    store, data, ready, committed = sys.argv[1:5]

    def stage(name):
        if name == "recipients":
            pathlib.Path(ready).touch()
        elif name == "committed":
            pathlib.Path(committed).touch()

    snapshot_create(Store(store), "tous", data, allow_all=True, on_stage=stage)
    """)


def store_counts(path: Path) -> tuple:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute("""
            SELECT (SELECT list(snapshot_id ORDER BY snapshot_id) FROM snapshots),
                   (SELECT list(DISTINCT snapshot_id ORDER BY snapshot_id) FROM snapshot_recipients),
                   (SELECT count(*) FROM snapshot_recipients), (SELECT count(*) FROM snapshot_excluded),
                   (SELECT count(*) FROM versions)""").fetchall()[0]
    finally:
        connection.close()


@pytest.fixture(scope="module")
def killed_snapshot(tmp_path_factory, big_export):
    """Kill a process with SIGKILL while it copies 150,000 recipients into a store that already contains a snapshot."""
    folder = tmp_path_factory.mktemp("killed")
    store = Store(folder / "store.duckdb", user="alice")
    store.save_list("tous", 'title = "Tous"\npurpose = "suivi_candidature"\n[[sections]]\nkind = "candidats"\nrule = "candidats"\n')
    store.save_list("petite", list_text([1, 2, 3, 4, 5]))
    earlier = snapshot_create(store, "petite", big_export)
    earlier_keys = keys_of(snapshot_page(store, earlier.id, 0, 100))
    outcomes = []
    for attempt in range(3):
        before = store_counts(store.path)
        ready, committed = folder / f"ready-{attempt}", folder / f"committed-{attempt}"
        child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(store.path), str(big_export), str(ready), str(committed)],
                                 cwd=ROOT, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.15)
        running = child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait()
        if not ready.exists():
            outcomes.append("before the transaction: " + child.stderr.read()[-2000:])
            break
        outcomes.append("during transaction" if running and not committed.exists() else "after commit")
        if outcomes[-1] == "during transaction":
            break
        store = Store(store.path)
    return store, (earlier, earlier_keys), before, outcomes


def test_kill_lands_during_transaction(killed_snapshot):
    _store, _earlier, _before, outcomes = killed_snapshot
    assert outcomes[-1] == "during transaction", outcomes


def test_kill_leaves_no_partial_snapshot(killed_snapshot):
    store, _earlier, before, _outcomes = killed_snapshot
    assert store_counts(store.path) == before


def test_kill_keeps_earlier_snapshot(killed_snapshot):
    store, (earlier, earlier_keys), _before, _outcomes = killed_snapshot
    assert keys_of(snapshot_page(store, earlier.id, 0, 100)) == earlier_keys


def test_store_writable_after_kill(killed_snapshot):
    store, _earlier, _before, _outcomes = killed_snapshot
    assert store.save_rule("apres", "candidats where ville = \"Lyon\"").version == 1



# ---------------------------------------------------------------- CLI


def run_cli(argv: list[str]) -> int:
    """Run `ernest-rules ARGV` in English, in this process."""
    return cli.main(["--lang", "en", *argv])


@pytest.fixture
def cli_store(store, people):
    store.save_list("campagne", list_text([person[0] for person in people[:4]]))
    return ["--store", str(store.path)]


def test_cli_snapshot_create(cli_store, capsys):
    assert run_cli(["snapshot", *cli_store, "create", "campagne", "--data", str(SAMPLES), "--today", "2025-03-10"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "snapshot 1 created: 4 recipients of the list 'campagne', version 1"


def test_cli_snapshot_export(store, cli_store, people, tmp_path):
    snapshot = snapshot_create(store, "campagne", SAMPLES, today=TODAY)
    path = tmp_path / "out.parquet"
    run_cli(["snapshot", *cli_store, "export", str(snapshot.id), "-o", str(path)])
    assert {row[0] for row in duckdb.sql(f"SELECT recipient_key FROM '{path}'").fetchall()} == {key for _id, key in people[:4]}


def test_cli_snapshot_send(store, cli_store, people, tmp_path, capsys):
    snapshot = snapshot_create(store, "campagne", SAMPLES, today=TODAY)
    suppression = tmp_path / "stop.txt"
    suppression.write_text(people[0][1] + "\n", encoding="utf-8")
    run_cli(["snapshot", *cli_store, "send", str(snapshot.id), "--suppression", str(suppression)])
    assert capsys.readouterr().out.splitlines()[-1] == "3 recipients to send to, 1 removed since the snapshot"


def test_cli_snapshot_add(store, cli_store, people, tmp_path, capsys):
    snapshot = snapshot_create(store, "campagne", SAMPLES, today=TODAY)
    addresses = tmp_path / "ajouts.txt"
    addresses.write_text(f"{people[4][1]}\n{people[0][1]}\n", encoding="utf-8")
    run_cli(["snapshot", *cli_store, "add", str(snapshot.id), str(addresses)])
    assert capsys.readouterr().out.splitlines() == [f"already in the snapshot: {people[0][1]}", f"1 recipients added to snapshot {snapshot.id}"]


def test_cli_snapshot_diff_now(store, cli_store, capsys):
    snapshot = snapshot_create(store, "campagne", SAMPLES, today=TODAY)
    run_cli(["snapshot", *cli_store, "diff", str(snapshot.id), "--data", str(SAMPLES), "--today", "2025-03-10"])
    assert capsys.readouterr().out.splitlines()[-1] == "0 added, 0 removed"


def test_cli_unknown_snapshot_exit_two(cli_store):
    assert run_cli(["snapshot", *cli_store, "show", "42"]) == 2
