"""Build tiny Ernest exports for the recipient hygiene tests.

`write_export(folder, candidats=[...], contacts=[...], ...)` writes the six
Parquet files of an export with the column names and types of a real Ernest
export (listed in SCHEMA below). Each row is a dict of the columns
it sets; the other columns are NULL, and a table given no rows is written
empty. Rows are written with DuckDB `COPY (SELECT … FROM (VALUES …)) TO`, the
values passed as bound parameters so that any text (control characters
included) reaches the file unchanged.

The row helpers (`candidat`, `contact`, …) fill the columns a list reads with
the values of an ordinary reachable person, so a test only writes what makes
its row special.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

SCHEMA: dict[str, list[tuple[str, str]]] = {
    "candidats": [
        ("id", "BIGINT"), ("civilite", "VARCHAR"), ("prenom", "VARCHAR"), ("nom", "VARCHAR"), ("email", "VARCHAR"),
        ("telephone", "VARCHAR"), ("ville", "VARCHAR"), ("code_postal", "VARCHAR"), ("viviers", "VARCHAR[]"),
        ("statut", "VARCHAR"), ("competences", "VARCHAR[]"), ("disponibilite", "DATE"), ("date_creation", "TIMESTAMP"),
        ("source", "VARCHAR"), ("consentement_rgpd", "BOOLEAN"), ("desabonne", "BOOLEAN"),
    ],
    "contacts": [
        ("id", "BIGINT"), ("civilite", "VARCHAR"), ("prenom", "VARCHAR"), ("nom", "VARCHAR"), ("email", "VARCHAR"),
        ("telephone", "VARCHAR"), ("societe_id", "BIGINT"), ("fonction", "VARCHAR"), ("poste_actif", "BOOLEAN"),
        ("desabonne", "BOOLEAN"), ("date_creation", "TIMESTAMP"),
    ],
    "societes": [
        ("id", "BIGINT"), ("nom", "VARCHAR"), ("secteur", "VARCHAR"), ("code_naf", "VARCHAR"), ("ville", "VARCHAR"),
        ("code_postal", "VARCHAR"), ("email", "VARCHAR"), ("statut", "VARCHAR"), ("desabonne", "BOOLEAN"),
        ("date_creation", "DATE"),
    ],
    "offres": [
        ("id", "BIGINT"), ("reference", "VARCHAR"), ("titre", "VARCHAR"), ("societe_id", "BIGINT"), ("type_contrat", "VARCHAR"),
        ("ville", "VARCHAR"), ("code_postal", "VARCHAR"), ("competences", "VARCHAR[]"), ("secteur", "VARCHAR"),
        ("statut", "VARCHAR"), ("date_publication", "DATE"), ("referent_rh_id", "BIGINT"), ("referent_operationnel_id", "BIGINT"),
    ],
    "utilisateurs": [
        ("id", "BIGINT"), ("prenom", "VARCHAR"), ("nom", "VARCHAR"), ("email", "VARCHAR"), ("role", "VARCHAR"), ("actif", "BOOLEAN"),
    ],
    "candidatures": [
        ("id", "BIGINT"), ("candidat_id", "BIGINT"), ("offre_id", "BIGINT"), ("etape", "VARCHAR"), ("date_candidature", "TIMESTAMP"),
    ],
}


def candidat(id: int, email: str | None, **columns: Any) -> dict[str, Any]:
    """A candidate with RGPD consent who has not opted out."""
    return {"id": id, "prenom": "Prénom", "nom": f"Candidat {id}", "email": email, "consentement_rgpd": True,
            "desabonne": False, **columns}


def contact(id: int, email: str | None, **columns: Any) -> dict[str, Any]:
    """A contact in an active post who has not opted out."""
    return {"id": id, "prenom": "Prénom", "nom": f"Contact {id}", "email": email, "poste_actif": True, "desabonne": False,
            **columns}


def societe(id: int, email: str | None, **columns: Any) -> dict[str, Any]:
    """A company that has not opted out."""
    return {"id": id, "nom": f"Société {id}", "email": email, "statut": "Client", "desabonne": False, **columns}


def utilisateur(id: int, email: str | None, **columns: Any) -> dict[str, Any]:
    """An active recruiter."""
    return {"id": id, "prenom": "Prénom", "nom": f"Utilisateur {id}", "email": email, "role": "Recruteur", "actif": True,
            **columns}


def offre(id: int, **columns: Any) -> dict[str, Any]:
    """An open offer."""
    return {"id": id, "reference": f"HW-{id:06d}", "titre": f"Offre {id}", "statut": "Ouverte", **columns}


def write_table(connection: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]], target: Path) -> None:
    """Write one table to a Parquet file with the real export's columns."""
    columns = SCHEMA[table]
    names = [name for name, _type in columns]
    for row in rows:
        unknown = set(row) - set(names)
        if unknown:
            raise ValueError(f"{table}: unknown columns {sorted(unknown)}")
    select = ", ".join(f"CAST(v.{name} AS {kind}) AS {name}" for name, kind in columns)
    parameters: list[Any] = []
    if rows:
        tuples = []
        for row in rows:
            tuples.append("(" + ", ".join(f"CAST(? AS {kind})" for _name, kind in columns) + ")")
            parameters.extend(row.get(name) for name in names)
        source = f"(VALUES {', '.join(tuples)}) AS v({', '.join(names)})"
        query = f"SELECT {select} FROM {source}"
    else:
        nulls = ", ".join(f"NULL AS {name}" for name in names)
        query = f"SELECT {select} FROM (SELECT {nulls}) AS v WHERE false"
    path = target.as_posix().replace("'", "''")
    connection.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)", parameters or None)


def write_export(folder: Path, **tables: list[dict[str, Any]]) -> Path:
    """Write the six tables of an export into `folder` (created if needed) and return it."""
    unknown = set(tables) - set(SCHEMA)
    if unknown:
        raise ValueError(f"unknown tables {sorted(unknown)}")
    folder.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    try:
        for table in SCHEMA:
            write_table(connection, table, tables.get(table, []), folder / f"{table}.parquet")
    finally:
        connection.close()
    return folder
