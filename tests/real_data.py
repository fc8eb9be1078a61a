"""Where the tests find Ernest's real export and the labelled email cases."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_real_exports() -> Path | None:
    """Return the real export folder: $ERNEST_REAL_EXPORTS, else `shared/real-exports` beside the checkout."""
    places = []
    if os.environ.get("ERNEST_REAL_EXPORTS"):
        places.append(Path(os.environ["ERNEST_REAL_EXPORTS"]))
    places.append(REPO_ROOT.parent / "shared" / "real-exports")
    return next((place for place in places if (place / "parquet").is_dir()), None)


TABLES = ("candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures")


def hand_connection(real_exports: Path, *, anomalies: bool = False):
    """Open a DuckDB connection of the tests' own: one view per Parquet file, and anomaly_ids.csv as `anomalies`.

    Expected values are computed on it with hand-written SQL, never with the product's compiler.
    """
    import duckdb

    connection = duckdb.connect()
    for table in TABLES:
        path = (real_exports / "parquet" / f"{table}.parquet").as_posix().replace("'", "''")
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
    if anomalies:
        listing = (real_exports / "anomaly_ids.csv").as_posix().replace("'", "''")
        connection.execute(f"CREATE TABLE anomalies AS SELECT * FROM read_csv('{listing}', header=true, all_varchar=true)")
    return connection
