"""Reading an Ernest export: Parquet files or the French CSV export.

`open_export` checks that every table and column of the catalog is present and
exposes each table to DuckDB under its catalog name. Parquet files are read in
place through views. CSV files are converted once into temporary tables with
the catalog's types: `dd/mm/yyyy` dates, `Oui`/`Non` booleans and lists joined
with ", ". A value that does not fit its column stops the run with a message
naming the file, the column and the value.
"""

from __future__ import annotations

import codecs
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

import duckdb

from .catalog import Catalog, EntitySpec, default_catalog
from .compile import quote_identifier
from .errors import DataError, Problem
from .i18n import Quoted, _

logger = logging.getLogger("ernest_rules")

DATA_ENV_VAR = "ERNEST_RULES_DATA"
Form = Literal["parquet", "csv-fr"]

# DuckDB type names accepted for each catalog type in a Parquet file.
PARQUET_TYPES = {
    "integer": ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT"),
    "decimal": ("DOUBLE", "FLOAT", "DECIMAL", "BIGINT", "INTEGER"),
    "text": ("VARCHAR",),
    "boolean": ("BOOLEAN",),
    "date": ("DATE",),
    "timestamp": ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE"),
    "list": ("VARCHAR[]",),
}


def quote_string(value: str) -> str:
    """Quote a string as a SQL literal, for the file paths of CREATE VIEW (which takes no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def default_data_dir() -> Path:
    """Return the export used when none is given: $ERNEST_RULES_DATA, else the bundled samples."""
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR])
    return Path(__file__).resolve().parent.parent / "samples" / "data"


# DuckDB errors that come from SQL we generate, not from the data: they stay internal errors.
_OUR_BUGS = (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException, duckdb.InternalException,
             duckdb.NotImplementedException, duckdb.ProgrammingError)

MEMORY_ENV_VAR = "ERNEST_RULES_MEMORY_LIMIT"
TIME_ENV_VAR = "ERNEST_RULES_TIME_LIMIT"


@dataclass
class Export:
    """An opened export: a DuckDB connection where each catalog table is readable by name.

    Once the tables are attached the connection is locked: it can read only the
    export folder (and its own spill folder), cannot write files, load
    extensions or change its settings, and has a memory limit. `time_limit`
    (seconds) bounds each guarded run (see `limited`).
    """

    path: Path
    form: Form
    catalog: Catalog
    connection: duckdb.DuckDBPyConnection
    files: dict[str, Path] = field(default_factory=dict)
    memory_limit: str | None = None
    time_limit: float | None = None
    warnings: list[Problem] = field(default_factory=list)

    def row_count(self, entity: EntitySpec) -> int:
        return self.connection.execute(f"SELECT count(*) FROM {quote_identifier(entity.table)}").fetchall()[0][0]

    @contextmanager
    def limited(self) -> Iterator[None]:
        """Run a block under the time limit, and turn DuckDB's limit errors into clear messages."""
        timer = threading.Timer(self.time_limit, self.connection.interrupt) if self.time_limit else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            yield
        except duckdb.InterruptException:
            raise DataError(Problem(_("the query took longer than the time limit of {seconds} s: narrow the rules or raise "
                                      "--time-limit", seconds=self.time_limit))) from None
        except duckdb.OutOfMemoryException:
            raise DataError(Problem(_("the query needed more memory than the limit of {limit}: narrow the rules or raise "
                                      "--memory-limit", limit=self.memory_limit or "DuckDB's default"))) from None
        except _OUR_BUGS:
            raise
        except duckdb.Error as error:
            # A damaged file (corrupt Parquet, truncated CSV) is only detected when its rows are read.
            damaged = self._damaged_file()
            if damaged is not None:
                raise DataError(Problem(_("cannot read {file}: {reason}; check or replace this file", file=Quoted(damaged),
                                          reason=_error_text(error)))) from None
            raise DataError(Problem(_("cannot read the export in {folder}: {reason}; check its files", folder=Quoted(self.path),
                                      reason=_error_text(error)))) from None
        finally:
            if timer is not None:
                timer.cancel()

    def _damaged_file(self) -> Path | None:
        """Find the Parquet file whose rows cannot be read, by reading each one in full (only after an error)."""
        if self.form != "parquet":
            return None
        for entity in self.catalog.entities:
            try:
                self.connection.execute(f"SELECT max(hash(COLUMNS(*))) FROM {quote_identifier(entity.table)}").fetchall()
            except duckdb.Error:
                return self.files.get(entity.name)
        return None

    def close(self) -> None:
        self.connection.close()


def find_form(path: Path, catalog: Catalog) -> tuple[Path, Form]:
    """Locate the export files: `path` itself, or its `parquet/` (preferred) or `csv-fr/` folder."""
    if not path.exists():
        raise DataError(Problem(_("the data folder {path} does not exist: give an export folder with --data", path=Quoted(path))))
    if not path.is_dir():
        raise DataError(Problem(_("{path} is not a folder: give the folder that contains the export files", path=Quoted(path))))
    for folder, form in ((path, "parquet"), (path, "csv-fr"), (path / "parquet", "parquet"), (path / "csv-fr", "csv-fr")):
        suffix = ".parquet" if form == "parquet" else ".csv"
        if folder.is_dir() and any((folder / f"{entity.table}{suffix}").is_file() for entity in catalog.entities):
            return folder, form  # type: ignore[return-value]
    raise DataError(Problem(_("no export found in {path}: expected files such as candidats.parquet or candidats.csv, or a parquet/ or csv-fr/ folder", path=Quoted(path))))


def open_export(path: str | Path | None = None, catalog: Catalog | None = None, *,
                memory_limit: str | None = None, time_limit: float | None = None, lock: bool = True,
                check_integrity: bool = True) -> Export:
    """Open an export folder and expose its tables to DuckDB; raise `DataError` naming what is missing.

    `memory_limit` is a DuckDB size such as "2GB" (default: $ERNEST_RULES_MEMORY_LIMIT,
    else DuckDB's own default of 80 % of RAM); `time_limit` is in seconds (default:
    $ERNEST_RULES_TIME_LIMIT, else none). `lock=False` leaves the connection unlocked,
    for tools that attach more data themselves.
    """
    catalog = catalog or default_catalog()
    started = time.perf_counter()
    folder, form = find_form(Path(path) if path is not None else default_data_dir(), catalog)
    memory_limit = memory_limit or os.environ.get(MEMORY_ENV_VAR) or None
    time_limit = time_limit if time_limit is not None else _env_seconds()
    spill = tempfile.mkdtemp(prefix="ernest-rules-")
    config = {"temp_directory": spill}
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        connection = duckdb.connect(config=config)
    except duckdb.Error as error:
        raise DataError(Problem(_("invalid memory limit {value}: use a size such as 2GB or 500MB", value=Quoted(memory_limit)))) from None
    # Timestamps with a time zone are converted in UTC, whatever the machine's zone.
    connection.execute("SET TimeZone = 'UTC'")
    export = Export(folder, form, catalog, connection, memory_limit=memory_limit, time_limit=time_limit)
    # The spill folder goes when the export object does (or at interpreter exit).
    weakref.finalize(export, shutil.rmtree, spill, True)
    problems: list[Problem] = []
    for entity in catalog.entities:
        file = folder / f"{entity.table}.{'parquet' if form == 'parquet' else 'csv'}"
        export.files[entity.name] = file
        if not file.is_file():
            problems.append(Problem(_("missing file {file} for the table {table}", file=Quoted(file), table=Quoted(entity.table))))
            continue
        try:
            if form == "parquet":
                _attach_parquet(connection, entity, file)
            else:
                _load_csv(connection, entity, file, spill, export.warnings)
        except DataError as error:
            problems.extend(error.problems)
    if problems:
        raise DataError(problems)
    if check_integrity:
        with export.limited():
            problems = _duplicate_keys(export)
            if problems:
                raise DataError(problems)
            export.warnings.extend(_dangling_links(export))
    for warning in export.warnings:
        logger.debug("export warning: %s", warning.render("en"))
    if lock:
        # NOTE: DuckDB's allowed_directories grants writing as well as reading, so a COPY TO into the export
        # folder would be accepted. The product never sends COPY to this connection (files are written by a
        # separate one), and values only ever arrive as parameters.
        allowed = [str(folder.resolve()) + os.sep, spill + os.sep]
        connection.execute("SET allowed_directories = $dirs", {"dirs": allowed})
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
    logger.info("opened %s export %s in %.3f s", form, folder, time.perf_counter() - started)
    return export


def _env_seconds() -> float | None:
    value = os.environ.get(TIME_ENV_VAR)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise DataError(Problem(_("{name} must be a number of seconds, not {value}", name=TIME_ENV_VAR, value=Quoted(value)))) from None


def _describe(connection: duckdb.DuckDBPyConnection, source_sql: str, file: Path) -> dict[str, str]:
    try:
        rows = connection.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()
    except duckdb.Error as error:
        raise DataError(Problem(_("cannot read {file}: {reason}", file=Quoted(file), reason=str(error).splitlines()[0]))) from None
    return {row[0]: row[1] for row in rows}


def _missing_columns(entity: EntitySpec, columns: dict[str, str], file: Path) -> list[Problem]:
    return [Problem(_("the file {file} has no column {column}", file=Quoted(file), column=Quoted(name)))
            for name in entity.columns() if name not in columns]


def _attach_parquet(connection: duckdb.DuckDBPyConnection, entity: EntitySpec, file: Path) -> None:
    source = f"read_parquet({quote_string(str(file))})"
    columns = _describe(connection, source, file)
    problems = _missing_columns(entity, columns, file)
    for name, field_type in entity.field_types().items():
        found = columns.get(name)
        if found is not None and not any(found.startswith(accepted) for accepted in PARQUET_TYPES[field_type]):
            problems.append(Problem(_("the column {column} of {file} has type {found}; expected {expected}",
                                      column=Quoted(name), file=Quoted(file), found=found, expected=PARQUET_TYPES[field_type][0])))
    if problems:
        raise DataError(problems)
    connection.execute(f"CREATE OR REPLACE VIEW {quote_identifier(entity.table)} AS SELECT * FROM {source}")


def _load_csv(connection: duckdb.DuckDBPyConnection, entity: EntitySpec, file: Path, spill: str, warnings: list[Problem]) -> None:
    readable = file if _is_utf8(file) else _utf8_copy(file, spill, warnings)
    source = f"read_csv({quote_string(str(readable))}, delim=';', header=true, all_varchar=true, quote='\"', escape='\"')"
    columns = _describe(connection, source, file)
    problems = _missing_columns(entity, columns, file)
    if problems:
        raise DataError(problems)
    types = entity.field_types()
    selected = []
    for name in columns:
        column_type = types.get(name, "text")
        selected.append(f"{_csv_conversion(quote_identifier(name), column_type, file, name)} AS {quote_identifier(name)}")
    try:
        connection.execute(f"CREATE OR REPLACE TEMP TABLE {quote_identifier(entity.table)} AS SELECT {', '.join(selected)} FROM {source}")
    except duckdb.Error as error:
        raise DataError(Problem(_("cannot read {file}: {reason}", file=Quoted(file), reason=_error_text(error)))) from None


def _is_utf8(file: Path) -> bool:
    """Check the whole file decodes as UTF-8, reading it in blocks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(file, "rb") as handle:
            while block := handle.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_copy(file: Path, spill: str, warnings: list[Problem]) -> Path:
    """Re-encode a Windows-1252 CSV (what Excel writes on French Windows) as UTF-8 in the spill folder."""
    target = Path(spill) / f"{file.stem}.utf8.csv"
    try:
        with open(file, "r", encoding="cp1252", newline="") as source, open(target, "w", encoding="utf-8", newline="") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
    except UnicodeDecodeError as error:
        raise DataError(Problem(_("{file} is neither UTF-8 nor Windows-1252 text (byte {position}): save it as UTF-8 CSV",
                                  file=Quoted(file), position=error.start))) from None
    warnings.append(Problem(_("{file} is not UTF-8: it was read as Windows-1252; save it as UTF-8 CSV to avoid this", file=Quoted(file))))
    return target


def _duplicate_keys(export: Export) -> list[Problem]:
    """Reject tables where one key appears on several rows, because such recipients cannot be distinguished."""
    problems = []
    for entity in export.catalog.entities:
        key = quote_identifier(entity.key)
        rows = export.connection.execute(
            f"SELECT {key}, count(*) FROM {quote_identifier(entity.table)} WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1 "
            f"ORDER BY {key} LIMIT 5").fetchall()
        if rows:
            examples = ", ".join(str(row[0]) for row in rows)
            problems.append(Problem(_("the column {column} of {file} must hold each id once, but some ids repeat ({examples}): "
                                      "fix the export", column=Quoted(entity.key), file=Quoted(export.files[entity.name]),
                                      examples=examples)))
    return problems


def _dangling_links(export: Export) -> list[Problem]:
    """Warn about links that point to no row: those rows read the related fields as empty."""
    warnings = []
    for entity in export.catalog.entities:
        for relation in entity.relations:
            target = export.catalog.entity(relation.target)
            column = quote_identifier(relation.column)
            count = export.connection.execute(
                f"SELECT count(*) FROM {quote_identifier(entity.table)} AS e WHERE e.{column} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {quote_identifier(target.table)} AS r WHERE r.{quote_identifier(target.key)} = e.{column})").fetchall()[0][0]
            if count:
                warnings.append(Problem(_("{count} rows of {table} have a {column} that matches no row of {target}; "
                                          "their {relation} fields read as empty", count=count, table=Quoted(entity.table),
                                          column=Quoted(relation.column), target=Quoted(target.table), relation=Quoted(relation.name))))
    return warnings


def _error_text(error: duckdb.Error) -> str:
    text = str(error)
    for prefix in ("Invalid Input Error: ", "Conversion Error: "):
        text = text.replace(prefix, "")
    return text.splitlines()[0]


def _csv_conversion(column: str, column_type: str, file: Path, name: str) -> str:
    """SQL turning one French-format CSV text column into the catalog type."""
    if column_type == "text":
        return column
    if column_type == "list":
        return f"CASE WHEN {column} IS NULL OR trim({column}) = '' THEN []::VARCHAR[] ELSE string_split({column}, ', ') END"
    invalid = _("column {column}: {value} is not a valid {type}", column=Quoted(name), value="«VALUE»", type=_CSV_TYPE_WORDS[column_type])
    # error() aborts the load; its text is rendered now, in the current language, with the value spliced in by SQL.
    head, _sep, tail = invalid.render().partition("«VALUE»")
    fail = f"error({quote_string(head)} || {quote_string(chr(34))} || {column} || {quote_string(chr(34))} || {quote_string(tail)})"
    if column_type == "integer":
        converted = f"TRY_CAST(trim({column}) AS BIGINT)"
    elif column_type == "decimal":
        converted = f"TRY_CAST(replace(trim({column}), ',', '.') AS DOUBLE)"
    elif column_type == "date":
        converted = f"CAST(try_strptime(trim({column}), '%d/%m/%Y') AS DATE)"
    elif column_type == "timestamp":
        converted = f"try_strptime(trim({column}), ['%d/%m/%Y %H:%M', '%d/%m/%Y %H:%M:%S', '%d/%m/%Y'])"
    else:
        converted = f"CASE lower(trim({column})) WHEN 'oui' THEN true WHEN 'non' THEN false WHEN 'true' THEN true WHEN 'false' THEN false END"
    return f"CASE WHEN {column} IS NULL OR trim({column}) = '' THEN NULL ELSE coalesce({converted}, {fail}) END"


_CSV_TYPE_WORDS = {
    "integer": _("integer"),
    "decimal": _("decimal number"),
    "date": _("date (dd/mm/yyyy)"),
    "timestamp": _("date and time (dd/mm/yyyy HH:MM)"),
    "boolean": _("boolean (Oui or Non)"),
}
