"""Campaign snapshots: the recipients of a saved list, frozen when a campaign starts.

`snapshot_create` resolves a saved list and writes, in one transaction, a
snapshot row (list version, export folder and a fingerprint of its files, the
date used for today, the report) with its recipients and the rows the list left
out. Rows go from the resolution's DuckDB tables into the store as Arrow record
batches, never as Python objects. The store's primary key on
(snapshot_id, recipient_key) enforces the anti-doublon.

At send time, `snapshot_recipients` returns the frozen recipients minus the
addresses that opted out since (in any table of the current export, or in a
suppression list). People who newly match the list are not added: `snapshot_diff_now`
shows them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import duckdb
import pyarrow as pa
from pydantic import BaseModel

from .address import address_sql, check_address, is_missing_sql, is_plain_sql, recipient_key_sql, several_addresses_sql
from .errors import Problem
from .export import Export, open_export
from .i18n import _
from .members import optout_keys_sql
from .report import Report
from .resolve import Resolution, resolve
from .store import Store, as_utc, current_rules, now_utc
from .store_schema import SOURCE_TYPE, NotFoundError
from .suppression import collect_suppressed, default_suppression_files

logger = logging.getLogger("ernest_rules")

# Rows per Arrow record batch between two DuckDB connections: bounds the memory of a transfer.
BATCH_ROWS = 100_000

RECIPIENT_COLUMNS = "recipient_key, kind, entity, id, email, display_name, section, sources, origin"


class Snapshot(BaseModel):
    """A campaign snapshot: which list version was resolved, on which export, and how many recipients it kept."""

    id: int
    list_name: str
    list_version: int
    campaign: str | None
    data_path: str
    data_form: str
    fingerprint: str
    files: dict[str, dict[str, Any]]
    today: dt.date
    allow_all: bool
    dedup: str
    created_at: dt.datetime
    created_by: str
    recipients: int
    added_by_hand: int
    report: Report


class AddResult(BaseModel):
    """Outcome of adding recipients by hand: who was added, who was already there, and who was rejected with the reason."""

    added: list[dict[str, Any]]
    already_present: list[dict[str, Any]]
    rejected: list[dict[str, Any]]


@dataclass
class SendList:
    """Recipients of a snapshot at send time, and those removed since the snapshot with the reason."""

    snapshot: Snapshot
    recipients: pa.Table
    removed: pa.Table
    export_changed: bool

    @property
    def removed_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for reason in self.removed.column("reason").to_pylist():
            counts[reason] = counts.get(reason, 0) + 1
        return counts


@dataclass
class Diff:
    """Recipients added and removed between a snapshot and a later snapshot (or the list as it resolves now).

    Each removed row has `reason` `excluded` (the exclusion reason is in
    `exclusion`), `no_longer_selected` or `added_by_hand`. Each added row has
    `reason` `newly_selected` or `added_by_hand`, and `exclusion` is the reason
    the earlier side had left the address out, if it had.
    """

    source: int
    target: int | None
    list_version: int
    added: pa.Table
    removed: pa.Table


def _as_store(store: Store | str | Path) -> Store:
    return store if isinstance(store, Store) else Store(store)


def export_fingerprint(export: Export) -> tuple[str, dict[str, dict[str, Any]]]:
    """Return a short fingerprint of the export's files (size and modification time of each) and those facts per table."""
    files = {}
    for name, path in sorted(export.files.items()):
        stat = path.stat()
        files[name] = {"file": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    return digest, files


# ---------------------------------------------------------------- creating


def snapshot_create(store: Store | str | Path, list_name: str, data_dir: str | Path | None = None, *, campaign: str | None = None,
                    today: dt.date | None = None, allow_all: bool = False, max_share: float | None = None,
                    suppression_files: Iterable[str | Path] | None = None, suppressed_addresses: Iterable[str] = (),
                    export: Export | None = None, on_stage: Callable[[str], None] | None = None) -> Snapshot:
    """Resolve the saved list `list_name` and store its recipients as a new snapshot, all or nothing.

    The resolution runs before the store is opened for writing, so the store is
    locked only while the rows are copied. `on_stage` is called with "begin",
    "recipients" and "committed" as the write transaction advances.
    """
    store = _as_store(store)
    started = time.perf_counter()
    with store.connect() as connection:
        saved = store.read(connection, "list", list_name)
        rules = current_rules(connection)
    with _opened(export, data_dir, store) as export:
        resolution = resolve(saved.definition(), export=export, rules=rules, today=today, allow_all=allow_all, max_share=max_share,
                             suppression_files=suppression_files, suppressed_addresses=suppressed_addresses)
        snapshot = _write_snapshot(store, saved, resolution, campaign=campaign, allow_all=allow_all, on_stage=on_stage)
    logger.info("snapshot %d of list %r version %d (campaign %r): %d recipients in %.3f s", snapshot.id, saved.name, saved.version,
                campaign, snapshot.recipients, time.perf_counter() - started)
    return snapshot


@contextmanager
def _opened(export: Export | None, data_dir: str | Path | None, store: Store) -> Iterator[Export]:
    """Yield `export`, or open the export in `data_dir` and close it afterwards."""
    if export is not None:
        yield export
        return
    opened = open_export(data_dir, store.catalog)
    try:
        yield opened
    finally:
        opened.close()


def _write_snapshot(store: Store, saved, resolution: Resolution, *, campaign: str | None, allow_all: bool,
                    on_stage: Callable[[str], None] | None) -> Snapshot:
    """Write the snapshot row, its recipients and its excluded rows in one transaction."""
    export = resolution.export
    fingerprint, files = export_fingerprint(export)
    stage = on_stage or (lambda name: None)
    with store.connect(write=True) as connection:
        connection.execute("BEGIN TRANSACTION")
        try:
            stage("begin")
            snapshot_id = connection.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM snapshots").fetchall()[0][0]
            connection.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [snapshot_id, saved.name, saved.version, campaign, str(export.path.resolve()), export.form, fingerprint,
                                json.dumps(files), resolution.report.today, allow_all, resolution.definition.dedup, now_utc(), store.user,
                                resolution.report.model_dump_json()])
            stage("recipients")
            _copy_recipients(resolution, connection, snapshot_id)
            _copy_excluded(resolution, connection, snapshot_id)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        stage("committed")
        return _get(connection, snapshot_id)


def _transfer(source: duckdb.DuckDBPyConnection, select: str, target: duckdb.DuckDBPyConnection, name: str, statement: str,
              params: list | None = None) -> None:
    """Run `statement` on `target` with the rows of `select` on `source` readable as `name`, streamed in Arrow batches."""
    reader = source.sql(select).to_arrow_reader(BATCH_ROWS)
    try:
        target.register(name, reader)
        target.execute(statement, params)
    finally:
        target.unregister(name)
        reader.close()


def _copy_recipients(resolution: Resolution, connection: duckdb.DuckDBPyConnection, snapshot_id: int) -> None:
    select = f"SELECT recipient_key, kind, entity, id, email, display_name, section, sources, position FROM {resolution.table}"
    _transfer(resolution.connection, select, connection, "er_snapshot_rows", f"""
        INSERT INTO snapshot_recipients
        SELECT ?, recipient_key, kind, entity, CAST(id AS VARCHAR), email, display_name, section, CAST(sources AS {SOURCE_TYPE}),
               position, 'list', NULL, NULL
        FROM er_snapshot_rows""", [snapshot_id])


def excluded_key_sql(dedup: str) -> str:
    """SQL of the recipient key of an excluded row, as the list's anti-doublon would have computed it."""
    if dedup == "person":
        return "entity || ':' || CAST(id AS VARCHAR)"
    return recipient_key_sql(address_sql("address"))


def _copy_excluded(resolution: Resolution, connection: duckdb.DuckDBPyConnection, snapshot_id: int) -> None:
    select = f"SELECT section, kind, entity, id, via, address, reason, duplicate_of FROM {resolution.tables.excluded}"
    _transfer(resolution.connection, select, connection, "er_snapshot_excluded", f"""
        INSERT INTO snapshot_excluded
        SELECT ?, {excluded_key_sql(resolution.definition.dedup)}, section, kind, entity, CAST(id AS VARCHAR), via, address, reason, duplicate_of
        FROM er_snapshot_excluded""", [snapshot_id])


# ---------------------------------------------------------------- reading


def _get(connection: duckdb.DuckDBPyConnection, snapshot_id: int) -> Snapshot:
    row = connection.execute("""
        SELECT s.*, (SELECT count(*) FROM snapshot_recipients AS r WHERE r.snapshot_id = s.snapshot_id),
               (SELECT count(*) FROM snapshot_recipients AS r WHERE r.snapshot_id = s.snapshot_id AND r.origin = 'added')
        FROM snapshots AS s WHERE snapshot_id = ?""", [snapshot_id]).fetchall()
    if not row:
        raise NotFoundError(Problem(_("no snapshot has the id {id}", id=snapshot_id)))
    return _snapshot(row[0])


def _snapshot(row) -> Snapshot:
    (snapshot_id, list_name, list_version, campaign, data_path, data_form, fingerprint, files, today, allow_all, dedup, created_at,
     created_by, report, recipients, added) = row
    return Snapshot(id=snapshot_id, list_name=list_name, list_version=list_version, campaign=campaign, data_path=data_path,
                    data_form=data_form, fingerprint=fingerprint, files=json.loads(files), today=today, allow_all=allow_all, dedup=dedup,
                    created_at=as_utc(created_at), created_by=created_by, recipients=recipients, added_by_hand=added,
                    report=Report.model_validate_json(report))


def snapshot_get(store: Store | str | Path, snapshot_id: int) -> Snapshot:
    """Return one snapshot; raise `NotFoundError` for an unknown id."""
    store = _as_store(store)
    if not store.path.exists():
        raise NotFoundError(Problem(_("no snapshot has the id {id}", id=snapshot_id)))
    with store.connect() as connection:
        return _get(connection, snapshot_id)


def snapshot_list(store: Store | str | Path, list_name: str | None = None) -> list[Snapshot]:
    """Return every snapshot (of one list when `list_name` is given), oldest first."""
    store = _as_store(store)
    if not store.path.exists():
        return []
    with store.connect() as connection:
        rows = connection.execute("""
            SELECT s.*, (SELECT count(*) FROM snapshot_recipients AS r WHERE r.snapshot_id = s.snapshot_id),
                   (SELECT count(*) FROM snapshot_recipients AS r WHERE r.snapshot_id = s.snapshot_id AND r.origin = 'added')
            FROM snapshots AS s WHERE ? IS NULL OR lower(list_name) = lower(?) ORDER BY snapshot_id""", [list_name, list_name]).fetchall()
    return [_snapshot(row) for row in rows]


def snapshot_page(store: Store | str | Path, snapshot_id: int, offset: int = 0, limit: int = 100) -> pa.Table:
    """Return `limit` recipients of a snapshot from `offset`, in list order."""
    store = _as_store(store)
    with store.connect() as connection:
        _get(connection, snapshot_id)
        return connection.sql(f"SELECT {RECIPIENT_COLUMNS} FROM snapshot_recipients WHERE snapshot_id = ? ORDER BY position "
                              "LIMIT ? OFFSET ?", params=[snapshot_id, limit, offset]).to_arrow_table()


class BatchStream:
    """Record batches of a snapshot's recipients, read from a store connection that closes after the last batch."""

    def __init__(self, reader: pa.RecordBatchReader, close: Callable[[], None]):
        self.schema = reader.schema
        self._reader = reader
        self._close = close

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._reader
        finally:
            self.close()

    def close(self) -> None:
        if self._close is not None:
            self._reader.close()
            self._close()
            self._close = None


def snapshot_batches(store: Store | str | Path, snapshot_id: int, *, flat_sources: bool = False) -> BatchStream:
    """Return the recipients of a snapshot as Arrow record batches in list order; the store stays open until the last one.

    With `flat_sources`, `sources` is one text such as "1:rule:candidats:2 | 3:manual:contacts:1287".
    The snapshot is checked at once, so an unknown id raises before any batch.
    """
    from .output import SOURCES_TEXT

    store = _as_store(store)
    sources = f"{SOURCES_TEXT} AS sources" if flat_sources else "sources"
    select = f"SELECT recipient_key, kind, entity, id, email, display_name, section, {sources}, origin FROM snapshot_recipients " \
             f"WHERE snapshot_id = ? ORDER BY position"
    context = store.connect()
    connection = context.__enter__()
    try:
        _get(connection, snapshot_id)
        reader = connection.sql(select, params=[snapshot_id]).to_arrow_reader(BATCH_ROWS)
    except BaseException:
        context.__exit__(None, None, None)
        raise
    return BatchStream(reader, lambda: context.__exit__(None, None, None))


def snapshot_write(store: Store | str | Path, snapshot_id: int, path: str | Path) -> int:
    """Write a snapshot's recipients to .csv (`;`, UTF-8 BOM), .json or .parquet; return the row count."""
    from .output import write_table

    store = _as_store(store)
    with store.connect() as connection:
        _get(connection, snapshot_id)
        table = (f"(SELECT recipient_key, kind, entity, id, email, display_name, section, sources, origin, position "
                 f"FROM snapshot_recipients WHERE snapshot_id = {int(snapshot_id)})")
        return write_table(connection, table, path)


# ---------------------------------------------------------------- adding by hand


def snapshot_add(store: Store | str | Path, snapshot_id: int, recipients: Iterable[str | Mapping[str, Any]]) -> AddResult:
    """Add recipients by hand to a snapshot: each an address, or a mapping with `email` and optional `display_name`, `kind`, `entity`, `id`.

    Addresses already in the snapshot (by recipient key), given twice, missing or
    invalid are reported and skipped; the others are added in one transaction.
    """
    store = _as_store(store)
    rows = [{"email": item} if isinstance(item, str) else dict(item) for item in recipients]
    table = pa.table({
        "input_position": pa.array(range(len(rows)), pa.int64()),
        "raw": pa.array([_text(row.get("email")) for row in rows], pa.string()),
        "display_name": pa.array([_text(row.get("display_name")) for row in rows], pa.string()),
        "kind": pa.array([_text(row.get("kind")) for row in rows], pa.string()),
        "entity": pa.array([_text(row.get("entity")) for row in rows], pa.string()),
        "id": pa.array([_text(row.get("id")) for row in rows], pa.string()),
    })
    with store.connect(write=True) as connection:
        snapshot = _get(connection, snapshot_id)
        person = snapshot.dedup == "person"
        connection.register("er_add_input", table)
        address = address_sql("raw")
        key = recipient_key_sql("address")
        connection.execute(f"""
            CREATE OR REPLACE TEMP TABLE er_add AS
            SELECT *, CASE WHEN $person AND entity IS NOT NULL AND id IS NOT NULL THEN entity || ':' || id ELSE {key} END AS recipient_key,
                      {recipient_key_sql('address')} AS address_key
            FROM (SELECT *, {address} AS address FROM er_add_input)""", {"person": person})
        connection.unregister("er_add_input")
        unusual = [row[0] for row in connection.execute(
            f"SELECT DISTINCT address_key FROM er_add WHERE NOT {is_missing_sql('address')} AND NOT {is_plain_sql('address_key')}").fetchall()]
        connection.register("er_add_verdicts", pa.table({"address_key": pa.array(unusual, pa.string()),
                                                          "valid": pa.array([check_address(value) for value in unusual], pa.bool_())}))
        connection.execute("BEGIN TRANSACTION")
        try:
            connection.execute(f"""
                CREATE OR REPLACE TEMP TABLE er_add_checked AS
                SELECT a.*,
                       CASE WHEN {is_missing_sql('a.address')} THEN 'missing_address'
                            WHEN {several_addresses_sql('a.address_key')} THEN 'several_addresses'
                            WHEN NOT {is_plain_sql('a.address_key')} AND NOT coalesce(v.valid, false) THEN 'invalid_address'
                            WHEN EXISTS (SELECT 1 FROM snapshot_recipients AS r WHERE r.snapshot_id = $id AND r.recipient_key = a.recipient_key)
                                 THEN 'already_present'
                            WHEN row_number() OVER (PARTITION BY a.recipient_key ORDER BY a.input_position) > 1 THEN 'repeated'
                       END AS problem
                FROM er_add AS a LEFT JOIN er_add_verdicts AS v USING (address_key)""", {"id": snapshot_id})
            connection.execute("""
                INSERT INTO snapshot_recipients
                SELECT $id, recipient_key, kind, entity, id, nfc_normalize(trim(address)), display_name, NULL, NULL,
                       (SELECT coalesce(max(position), 0) FROM snapshot_recipients WHERE snapshot_id = $id)
                         + row_number() OVER (ORDER BY input_position),
                       'added', $user, $now
                FROM er_add_checked WHERE problem IS NULL""", {"id": snapshot_id, "user": store.user, "now": now_utc()})
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        finally:
            connection.unregister("er_add_verdicts")
        result = connection.execute("SELECT input_position, raw, recipient_key, problem FROM er_add_checked ORDER BY input_position").fetchall()
    added = [{"email": raw, "recipient_key": key} for _position, raw, key, problem in result if problem is None]
    present = [{"email": raw, "recipient_key": key} for _position, raw, key, problem in result if problem in ("already_present", "repeated")]
    rejected = [{"email": raw, "reason": problem} for _position, raw, _key, problem in result
                if problem not in (None, "already_present", "repeated")]
    logger.info("snapshot %d: %d recipients added by %s, %d already present, %d rejected", snapshot_id, len(added), store.user,
                len(present), len(rejected))
    return AddResult(added=added, already_present=present, rejected=rejected)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------- send time


def snapshot_recipients(store: Store | str | Path, snapshot_id: int, data_dir: str | Path | None = None, *,
                        suppression_files: Iterable[str | Path] | None = None, suppressed_addresses: Iterable[str] = (),
                        export: Export | None = None) -> SendList:
    """Return the snapshot's recipients minus the addresses that opted out since, with who was removed and why.

    Opt-outs are read from the current export in `data_dir` (default: the
    folder the snapshot was made from): an address unsubscribed in any table is
    removed as `unsubscribed`, one in a suppression file or in
    `suppressed_addresses` as `suppressed`. No recipient is added.
    """
    store = _as_store(store)
    snapshot = snapshot_get(store, snapshot_id)
    files = default_suppression_files() if suppression_files is None else list(suppression_files)
    suppressed = collect_suppressed(files, suppressed_addresses)
    with _opened(export, data_dir or snapshot.data_path, store) as export, store.connect() as connection:
        _transfer(export.connection, optout_keys_sql(export.catalog), connection, "er_optout_rows",
                  "CREATE OR REPLACE TEMP TABLE er_optouts AS SELECT DISTINCT recipient_key FROM er_optout_rows WHERE recipient_key IS NOT NULL")
        connection.register("er_suppressed_input", pa.table({"address": pa.array(suppressed, pa.string())}))
        connection.execute(f"CREATE OR REPLACE TEMP TABLE er_suppressed AS SELECT DISTINCT {recipient_key_sql(address_sql('address'))} AS recipient_key "
                           "FROM er_suppressed_input WHERE address IS NOT NULL")
        connection.unregister("er_suppressed_input")
        # The address key, even when the snapshot's recipient key is a person (`dedup = "person"`).
        address_key = recipient_key_sql("r.email")
        connection.execute(f"""
            CREATE OR REPLACE TEMP TABLE er_send AS
            SELECT r.*, CASE WHEN {address_key} IN (SELECT recipient_key FROM er_optouts) THEN 'unsubscribed'
                             WHEN {address_key} IN (SELECT recipient_key FROM er_suppressed) THEN 'suppressed' END AS removal
            FROM snapshot_recipients AS r WHERE r.snapshot_id = ?""", [snapshot_id])
        remaining = connection.sql(f"SELECT {RECIPIENT_COLUMNS} FROM er_send WHERE removal IS NULL ORDER BY position").to_arrow_table()
        removed = connection.sql("SELECT recipient_key, kind, entity, id, email, display_name, removal AS reason FROM er_send "
                                 "WHERE removal IS NOT NULL ORDER BY position").to_arrow_table()
        fingerprint, _files = export_fingerprint(export)
    logger.info("snapshot %d at send time: %d recipients, %d removed since the snapshot", snapshot_id, remaining.num_rows, removed.num_rows)
    return SendList(snapshot, remaining, removed, export_changed=fingerprint != snapshot.fingerprint)


# ---------------------------------------------------------------- differences


def _diff_sql(old: str, new: str, old_excluded: str, new_excluded: str) -> tuple[str, str]:
    """SQL of the added and removed rows between two recipient tables, each with the excluded rows of its side."""
    excluded = ("(SELECT recipient_key, first(reason ORDER BY section, entity, id) AS reason FROM {table} "
                "WHERE reason <> 'duplicate' AND recipient_key IS NOT NULL GROUP BY recipient_key)")
    columns = "x.recipient_key, x.email, x.kind, x.entity, x.id, x.display_name, x.section"
    removed = f"""
        SELECT {columns},
               CASE WHEN e.reason IS NOT NULL THEN 'excluded' WHEN x.origin = 'added' THEN 'added_by_hand' ELSE 'no_longer_selected' END AS reason,
               e.reason AS exclusion
        FROM {old} AS x LEFT JOIN {excluded.format(table=new_excluded)} AS e USING (recipient_key)
        WHERE NOT EXISTS (SELECT 1 FROM {new} AS y WHERE y.recipient_key = x.recipient_key)
        ORDER BY x.position"""
    added = f"""
        SELECT {columns}, CASE WHEN x.origin = 'added' THEN 'added_by_hand' ELSE 'newly_selected' END AS reason, e.reason AS exclusion
        FROM {new} AS x LEFT JOIN {excluded.format(table=old_excluded)} AS e USING (recipient_key)
        WHERE NOT EXISTS (SELECT 1 FROM {old} AS y WHERE y.recipient_key = x.recipient_key)
        ORDER BY x.position"""
    return added, removed


def snapshot_diff(store: Store | str | Path, source: int, target: int) -> Diff:
    """Compare two snapshots: who the later one adds and who it drops, with the reason."""
    store = _as_store(store)
    with store.connect() as connection:
        _get(connection, source)
        later = _get(connection, target)
        for name, snapshot_id in (("er_old", source), ("er_new", target)):
            connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM snapshot_recipients WHERE snapshot_id = ?", [snapshot_id])
            connection.execute(f"CREATE OR REPLACE TEMP TABLE {name}_excluded AS SELECT * FROM snapshot_excluded WHERE snapshot_id = ?",
                               [snapshot_id])
        added_sql, removed_sql = _diff_sql("er_old", "er_new", "er_old_excluded", "er_new_excluded")
        added = connection.sql(added_sql).to_arrow_table()
        removed = connection.sql(removed_sql).to_arrow_table()
    return Diff(source, target, later.list_version, added, removed)


def snapshot_diff_now(store: Store | str | Path, source: int, data_dir: str | Path | None = None, *, today: dt.date | None = None,
                      allow_all: bool | None = None, suppression_files: Iterable[str | Path] | None = None,
                      export: Export | None = None) -> Diff:
    """Compare a snapshot with the current version of its list resolved now on the export in `data_dir`.

    `data_dir` defaults to the snapshot's export folder and `allow_all` to the
    snapshot's own choice; `today` defaults to today in the catalog's time zone.
    """
    store = _as_store(store)
    snapshot = snapshot_get(store, source)
    with store.connect() as connection:
        saved = store.read(connection, "list", snapshot.list_name)
        rules = current_rules(connection)
    with _opened(export, data_dir or snapshot.data_path, store) as export:
        resolution = resolve(saved.definition(), export=export, rules=rules, today=today,
                             allow_all=snapshot.allow_all if allow_all is None else allow_all, suppression_files=suppression_files)
        return _diff_with_resolution(store, snapshot, saved.version, resolution)


def _diff_with_resolution(store: Store, snapshot: Snapshot, list_version: int, resolution: Resolution) -> Diff:
    source = snapshot.id
    with store.connect() as connection:
        _transfer(resolution.connection, f"SELECT recipient_key, kind, entity, CAST(id AS VARCHAR) AS id, email, display_name, section, "
                  f"'list' AS origin, position FROM {resolution.table}", connection, "er_now_rows",
                  "CREATE OR REPLACE TEMP TABLE er_now AS SELECT * FROM er_now_rows")
        _transfer(resolution.connection, f"SELECT {excluded_key_sql(resolution.definition.dedup)} AS recipient_key, section, entity, "
                  f"CAST(id AS VARCHAR) AS id, reason FROM {resolution.tables.excluded}", connection, "er_now_excluded_rows",
                  "CREATE OR REPLACE TEMP TABLE er_now_excluded AS SELECT * FROM er_now_excluded_rows")
        connection.execute("CREATE OR REPLACE TEMP TABLE er_old AS SELECT * FROM snapshot_recipients WHERE snapshot_id = ?", [source])
        connection.execute("CREATE OR REPLACE TEMP TABLE er_old_excluded AS SELECT * FROM snapshot_excluded WHERE snapshot_id = ?", [source])
        added_sql, removed_sql = _diff_sql("er_old", "er_now", "er_old_excluded", "er_now_excluded")
        added = connection.sql(added_sql).to_arrow_table()
        removed = connection.sql(removed_sql).to_arrow_table()
    return Diff(source, None, list_version, added, removed)
