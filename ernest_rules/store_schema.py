"""The store's database file: its tables, its errors, and how it is opened.

The store is one DuckDB file. DuckDB lets only one process at a time open a
file for writing, so every operation opens the file, does its work and closes
it again. When another process has the file open, the open is retried with a
growing delay, and after `busy_timeout` seconds `StoreBusyError` is raised.
Inside one process, connections share one DuckDB instance, and writes are
serialized by a lock per file so that two threads never conflict.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from .errors import ErnestRulesError, Problem
from .i18n import Quoted, _

logger = logging.getLogger("ernest_rules")

STORE_ENV_VAR = "ERNEST_RULES_STORE"
USER_ENV_VAR = "ERNEST_RULES_USER"
DEFAULT_STORE_NAME = "ernest-rules.duckdb"
SCHEMA_VERSION = "1"

# Delays between attempts to open a file that another process has open (seconds).
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0)
DEFAULT_BUSY_TIMEOUT = 5.0

# Columns of a snapshot's recipients. Ids are stored as text so that one store
# can hold snapshots of catalogs whose keys are integers or texts.
SOURCE_TYPE = "STRUCT(section INTEGER, kind VARCHAR, via VARCHAR, entity VARCHAR, id VARCHAR)[]"

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    # Every saved version of a list or a rule. The current object is its highest
    # version; a deletion is a version with `deleted` set and no text.
    """CREATE TABLE IF NOT EXISTS versions (
        object_kind VARCHAR NOT NULL CHECK (object_kind IN ('list', 'rule')),
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        deleted BOOLEAN NOT NULL DEFAULT false,
        text VARCHAR,
        form VARCHAR,
        model JSON,
        saved_by VARCHAR NOT NULL,
        saved_at TIMESTAMP NOT NULL,
        summary VARCHAR NOT NULL,
        PRIMARY KEY (object_kind, name, version),
        CHECK (deleted OR text IS NOT NULL)
    )""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        snapshot_id BIGINT PRIMARY KEY,
        list_name VARCHAR NOT NULL,
        list_version INTEGER NOT NULL,
        campaign VARCHAR,
        data_path VARCHAR NOT NULL,
        data_form VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        files JSON NOT NULL,
        today DATE NOT NULL,
        allow_all BOOLEAN NOT NULL,
        dedup VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        created_by VARCHAR NOT NULL,
        report JSON NOT NULL
    )""",
    # The anti-doublon of a snapshot is the primary key: one row per recipient key.
    f"""CREATE TABLE IF NOT EXISTS snapshot_recipients (
        snapshot_id BIGINT NOT NULL,
        recipient_key VARCHAR NOT NULL,
        kind VARCHAR,
        entity VARCHAR,
        id VARCHAR,
        email VARCHAR NOT NULL,
        display_name VARCHAR,
        section INTEGER,
        sources {SOURCE_TYPE},
        position BIGINT NOT NULL,
        origin VARCHAR NOT NULL CHECK (origin IN ('list', 'added')),
        added_by VARCHAR,
        added_at TIMESTAMP,
        PRIMARY KEY (snapshot_id, recipient_key)
    )""",
    # Rows the list left out at snapshot time, so that a later diff can report why someone is gone.
    """CREATE TABLE IF NOT EXISTS snapshot_excluded (
        snapshot_id BIGINT NOT NULL,
        recipient_key VARCHAR,
        section INTEGER,
        kind VARCHAR,
        entity VARCHAR,
        id VARCHAR,
        via VARCHAR,
        address VARCHAR,
        reason VARCHAR NOT NULL,
        duplicate_of VARCHAR
    )""",
]


class StoreError(ErnestRulesError):
    """The store file cannot be opened or read, or a request to it is invalid."""


class StoreBusyError(StoreError):
    """Another process kept the store file locked for longer than the busy timeout."""


class StoreUnavailableError(StoreError):
    """The store file cannot be opened: it is damaged, of another kind, or in a folder that does not exist."""


class NotFoundError(StoreError):
    """A saved list, rule, version or snapshot does not exist."""


def default_store_path() -> Path:
    """Return $ERNEST_RULES_STORE, else `ernest-rules.duckdb` in the current folder."""
    return Path(os.environ.get(STORE_ENV_VAR) or DEFAULT_STORE_NAME)


def default_user() -> str:
    """Return $ERNEST_RULES_USER, else the login name of the operating system user."""
    if os.environ.get(USER_ENV_VAR):
        return os.environ[USER_ENV_VAR]
    try:
        import getpass

        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return "unknown"


_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(path: Path) -> threading.RLock:
    key = str(path.resolve())
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.RLock())


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "could not set lock" in text or "conflicting lock" in text


def _open_with_retries(path: Path, busy_timeout: float) -> duckdb.DuckDBPyConnection:
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as error:
            if not _is_lock_conflict(error):
                raise StoreUnavailableError(Problem(_("cannot open the store {file}: {reason}", file=Quoted(path),
                                           reason=str(error).splitlines()[0]))) from None
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            waited = time.monotonic() - started
            if waited + delay > busy_timeout:
                logger.warning("store %s still locked by another process after %d attempts in %.2f s", path, attempt + 1, waited)
                raise StoreBusyError(Problem(_("the store is busy (another ernest-rules process is writing to it); retry"),
                                             origin=str(path))) from None
            attempt += 1
            logger.info("store %s locked by another process; retry %d in %.2f s", path, attempt, delay)
            time.sleep(delay)
        except duckdb.Error as error:
            raise StoreUnavailableError(Problem(_("cannot open the store {file}: {reason}", file=Quoted(path),
                                       reason=str(error).splitlines()[0]))) from None


@contextmanager
def open_store(path: Path, *, write: bool, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store file for one operation, creating its tables if needed, and close it afterwards.

    With `write`, the calling thread holds this process's write lock for the
    file until the block ends.
    """
    if not path.parent.exists():
        raise StoreUnavailableError(Problem(_("the folder {folder} of the store does not exist", folder=Quoted(path.parent))))
    lock = _write_lock(path) if write else None
    if lock is not None:
        lock.acquire()
    try:
        connection = _open_with_retries(path, busy_timeout)
        try:
            _ensure_schema(connection, path, _write_lock(path))
            yield connection
        finally:
            connection.close()
    finally:
        if lock is not None:
            lock.release()


def _ensure_schema(connection: duckdb.DuckDBPyConnection, path: Path, lock: threading.RLock) -> None:
    if _schema_ready(connection, path):
        return
    with lock:
        if _schema_ready(connection, path):
            return
        connection.execute("BEGIN TRANSACTION")
        try:
            for statement in SCHEMA:
                connection.execute(statement)
            connection.execute("INSERT OR IGNORE INTO store_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    logger.info("created the tables of the store %s", path)


def _schema_ready(connection: duckdb.DuckDBPyConnection, path: Path) -> bool:
    """True when the file contains every table of this schema version; raise for a file of another kind or version."""
    tables = {row[0] for row in connection.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    if "store_meta" in tables:
        found = connection.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchall()
        if found and found[0][0] != SCHEMA_VERSION:
            raise StoreUnavailableError(Problem(_("the store {file} has schema version {found}, but this version of ernest-rules reads version {expected}",
                                       file=Quoted(path), found=found[0][0], expected=SCHEMA_VERSION)))
        return {"versions", "snapshots", "snapshot_recipients", "snapshot_excluded"} <= tables
    if tables:
        raise StoreUnavailableError(Problem(_("the file {file} is a DuckDB database but not an ernest-rules store", file=Quoted(path))))
    return False
