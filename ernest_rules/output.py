"""Writing recipients to CSV (French Excel), JSON or Parquet with DuckDB's COPY.

The export's connection is locked and cannot write files, so its rows stream
as Arrow record batches into a second, private DuckDB connection that writes
the file: rows never become Python objects. The file is written next to the
target and renamed into place at the end, so a failed export never leaves a
half-written file or destroys an earlier one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from .errors import ErnestRulesError, Problem
from .export import quote_string
from .i18n import Quoted, _

FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet"}

# Sources as one readable text for CSV: "1:rule:candidats:2 | 3:manual:contacts:1287".
SOURCES_TEXT = ("array_to_string(list_transform(sources, lambda s: s.section || ':' || s.via || ':' || s.entity || ':' || s.id), ' | ')")

# Rows per Arrow batch between the two connections: bounds the memory of an export.
BATCH_ROWS = 100_000

COLUMNS = "recipient_key, kind, entity, id, email, display_name, section"


def output_format(path: Path) -> str:
    """Return the format chosen by the file extension; raise for an unknown one."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ErnestRulesError(Problem(_("cannot tell the output format from {file}: use a .csv, .json or .parquet file name",
                                         file=Quoted(path)))) from None


def write_resolution(resolution, path: str | Path, *, include_excluded: bool = False) -> int:
    """Write a resolution's recipients, and with `include_excluded` the rows left out with their reason."""
    tables = resolution.tables
    if not include_excluded:
        return write_table(resolution.connection, f"(SELECT {COLUMNS}, sources, position FROM {tables.recipients})", path)
    combined = (f"(SELECT {COLUMNS}, sources, 'included' AS status, NULL::VARCHAR AS reason, NULL::VARCHAR AS duplicate_of, position "
                f"FROM {tables.recipients} "
                f"UNION ALL SELECT NULL, x.kind, x.entity, x.id, x.address, NULL, x.section, NULL, 'excluded', x.reason, x.duplicate_of, "
                f"(SELECT count(*) FROM {tables.recipients}) + row_number() OVER (ORDER BY x.section, x.entity, x.id, x.via, x.reason) "
                f"FROM {tables.excluded} AS x)")
    return write_table(resolution.connection, combined, path)


def _copy(source: duckdb.DuckDBPyConnection, writer: duckdb.DuckDBPyConnection, select: str, target: str) -> None:
    """Stream the rows of `select` from the locked connection into the writer's COPY."""
    reader = source.sql(select).to_arrow_reader(BATCH_ROWS)
    try:
        writer.register("rows_to_write", reader)
        writer.execute(f"COPY rows_to_write TO {target}")
    finally:
        writer.unregister("rows_to_write")
        reader.close()


def write_table(connection: duckdb.DuckDBPyConnection, table: str, path: str | Path) -> int:
    """Write a table or parenthesised query with a `sources` and a `position` column to `path`; return the row count."""
    path = Path(path)
    form = output_format(path)
    if not path.parent.exists():
        raise ErnestRulesError(Problem(_("the folder {folder} does not exist: create it or choose another output file",
                                         folder=Quoted(path.parent))))
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    writer = duckdb.connect()
    try:
        if form == "csv":
            select = f"SELECT * EXCLUDE (position, sources) REPLACE (CAST(id AS VARCHAR) AS id), {SOURCES_TEXT} AS sources FROM {table} ORDER BY position"
            body = temporary + ".body"
            _copy(connection, writer, select, f"{quote_string(body)} (FORMAT csv, HEADER true, DELIMITER ';')")
            # A UTF-8 byte order mark makes Excel read the accents right.
            with open(temporary, "wb") as target, open(body, "rb") as source:
                target.write(b"\xef\xbb\xbf")
                shutil.copyfileobj(source, target, 1 << 20)
            os.unlink(body)
        else:
            select = f"SELECT * EXCLUDE (position) FROM {table} ORDER BY position"
            options = "FORMAT json, ARRAY true" if form == "json" else "FORMAT parquet, COMPRESSION zstd"
            _copy(connection, writer, select, f"{quote_string(temporary)} ({options})")
        os.replace(temporary, path)
    except (duckdb.Error, OSError) as error:
        for leftover in (temporary, temporary + ".body"):
            if os.path.exists(leftover):
                os.unlink(leftover)
        raise ErnestRulesError(Problem(_("cannot write {file}: {reason}", file=Quoted(path), reason=str(error).splitlines()[0]))) from None
    finally:
        writer.close()
    return connection.execute(f"SELECT count(*) FROM {table} AS written").fetchall()[0][0]
