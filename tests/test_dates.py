"""Dates of the rule language: `today`, calendar shifts, `between`, French literals and time zones.

`today` is pinned to 31 March 2025 (`compile_rule(..., today=TODAY)`, CLI `--today`).
Expected dates are worked out by hand on the calendar (31 March - 1 month = 28 February,
the last day of February 2025). Expected rows come from hand-written DuckDB SQL over the
real export's Parquet files, or from the rows of a tiny export built here, counted by hand.
Timestamps are compared by hand as half-open ranges of local times
(`>= 'D 00:00' AND < 'D+1 00:00'`), not through a cast.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from ernest_rules import ErnestRulesError, compile_rule, default_catalog, load_catalog, open_export
from real_data import hand_connection
from ernest_rules.cli import main

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2025, 3, 31)


@pytest.fixture(scope="module")
def db(real_exports):
    """An independent DuckDB connection over the Parquet files."""
    connection = hand_connection(real_exports)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def export(real_exports):
    opened = open_export(real_exports)
    yield opened
    opened.close()


def selected(export, rule: str, catalog=None) -> list:
    compiled = compile_rule(rule, catalog, today=TODAY)
    return [row[0] for row in export.connection.execute(f"SELECT id FROM ({compiled.keys_sql})", compiled.params).fetchall()]


def hand_ids(db, sql: str) -> set:
    return {row[0] for row in db.execute(sql).fetchall()}


def created_on(table: str, day: str) -> str:
    """Return hand SQL selecting the rows of `table` created on a local calendar day."""
    return (f"SELECT id FROM {table} WHERE date_creation >= TIMESTAMP '{day} 00:00' "
            f"AND date_creation < TIMESTAMP '{day} 00:00' + INTERVAL 1 DAY")


# ---------------------------------------------------------------- shifts: the bound parameters

D = dt.date

PARAM_CASES = [
    pytest.param("candidats where disponibilite = today", [D(2025, 3, 31)], id="today itself"),
    pytest.param("candidats where disponibilite = today - 1 month", [D(2025, 2, 28)], id="month back clamps"),
    pytest.param("candidats where disponibilite = today + 1 month", [D(2025, 4, 30)], id="month ahead clamps"),
    pytest.param("candidats where disponibilite = 31/01/2025 + 1 month", [D(2025, 2, 28)], id="january end 2025"),
    pytest.param("candidats where disponibilite = 31/01/2024 + 1 month", [D(2024, 2, 29)], id="january end leap"),
    pytest.param("candidats where disponibilite = 29/02/2024 + 1 year", [D(2025, 2, 28)], id="leap day plus year"),
    pytest.param("candidats where disponibilite = 2024-02-29 - 4 years", [D(2020, 2, 29)], id="leap day four years"),
    pytest.param("candidats where disponibilite = today - 2 weeks", [D(2025, 3, 17)], id="two weeks back"),
    pytest.param("candidats where disponibilite = today - 1 week", [D(2025, 3, 24)], id="one week back"),
    pytest.param("candidats where disponibilite = today + 1 day", [D(2025, 4, 1)], id="one day ahead"),
    pytest.param("candidats where disponibilite = today - 31 days", [D(2025, 2, 28)], id="thirty one days"),
    pytest.param("candidats where disponibilite = today - 1 month - 1 day", [D(2025, 2, 27)], id="month then day"),
    pytest.param("candidats where disponibilite = today - 1 day - 1 month", [D(2025, 2, 28)], id="day then month"),
    pytest.param("candidats where disponibilite = 2025-12-31 + 2 months", [D(2026, 2, 28)], id="across year end"),
    # French units and today.
    pytest.param("candidats où disponibilite = aujourd'hui", [D(2025, 3, 31)], id="aujourd hui"),
    pytest.param("candidats où disponibilite = aujourd’hui - 3 jours", [D(2025, 3, 28)], id="jours typographic apostrophe"),
    pytest.param("candidats où disponibilite = aujourd'hui - 1 jour", [D(2025, 3, 30)], id="jour singular"),
    pytest.param("candidats où disponibilite = aujourd'hui - 2 semaines", [D(2025, 3, 17)], id="semaines"),
    pytest.param("candidats où disponibilite = aujourd'hui - 1 semaine", [D(2025, 3, 24)], id="semaine singular"),
    pytest.param("candidats où disponibilite = aujourd'hui - 1 mois", [D(2025, 2, 28)], id="mois"),
    pytest.param("candidats où disponibilite = aujourd'hui - 1 an", [D(2024, 3, 31)], id="an singular"),
    pytest.param("candidats où disponibilite = aujourd'hui - 2 ans", [D(2023, 3, 31)], id="ans plural"),
    pytest.param("candidats où disponibilite = aujourd'hui + 3 années", [D(2028, 3, 31)], id="annees plural"),
    pytest.param("candidats où disponibilite = AUJOURD'HUI + 1 MOIS", [D(2025, 4, 30)], id="upper case units"),
    pytest.param("candidats where disponibilite between today - 2 weeks and today - 3 days",
                 [D(2025, 3, 17), D(2025, 3, 28)], id="between two shifts"),
    pytest.param("candidats où disponibilite entre aujourd'hui - 2 semaines et aujourd'hui - 3 jours",
                 [D(2025, 3, 17), D(2025, 3, 28)], id="entre two shifts"),
    pytest.param("candidats where disponibilite = 10/03/2025", [D(2025, 3, 10)], id="french literal"),
    pytest.param("candidats where disponibilite = today -1 month", [D(2025, 2, 28)], id="sign glued to number"),
    # The `and` of between is taken first; the second `and` joins the two conditions.
    pytest.param("candidats where disponibilite between 2025-01-01 and today and date_creation between 01/01/2025 and 31/01/2025",
                 [D(2025, 1, 1), D(2025, 3, 31), D(2025, 1, 1), D(2025, 1, 31)], id="two betweens joined"),
]


@pytest.mark.parametrize(("rule", "dates"), PARAM_CASES)
def test_date_params(rule, dates):
    assert list(compile_rule(rule, today=TODAY).params.values()) == dates


def test_compiled_reports_today():
    assert compile_rule("candidats where disponibilite = today", today=TODAY).today == TODAY


def test_today_defaults_to_paris():
    before = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    compiled = compile_rule("candidats where disponibilite = today")
    after = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    assert compiled.params["p1"] in {before, after}


# ---------------------------------------------------------------- shifts and between: the selected rows

ROW_CASES = [
    pytest.param("candidats where date_creation = today - 1 month", created_on("candidats", "2025-02-28"), id="created month back"),
    pytest.param("candidats where date_creation = 31/01/2024 + 1 month", created_on("candidats", "2024-02-29"), id="created leap day"),
    pytest.param("candidats where disponibilite = 29/02/2024 + 1 year",
                 "SELECT id FROM candidats WHERE disponibilite = DATE '2025-02-28'", id="available leap plus year"),
    pytest.param("candidats where date_creation = today - 1 an", created_on("candidats", "2024-03-31"), id="created year back"),
    pytest.param("offres where date_publication = 31/01/2025 + 1 month",
                 "SELECT id FROM offres WHERE date_publication = DATE '2025-02-28'", id="published month clamp"),
    pytest.param("candidats where date_creation between today - 1 month and today",
                 "SELECT id FROM candidats WHERE date_creation >= TIMESTAMP '2025-02-28' AND date_creation < TIMESTAMP '2025-04-01'",
                 id="created last month"),
    pytest.param("candidats où date_creation entre aujourd'hui - 2 semaines et aujourd'hui - 3 jours",
                 "SELECT id FROM candidats WHERE date_creation >= TIMESTAMP '2025-03-17' AND date_creation < TIMESTAMP '2025-03-29'",
                 id="created entre shifts"),
    pytest.param("candidats where date_creation >= today - 1 week",
                 "SELECT id FROM candidats WHERE date_creation >= TIMESTAMP '2025-03-24'", id="created since week"),
    pytest.param("candidats where date_creation < today - 1 week",
                 "SELECT id FROM candidats WHERE date_creation < TIMESTAMP '2025-03-24'", id="created before week"),
    pytest.param("candidats where date_creation > today",
                 "SELECT id FROM candidats WHERE date_creation >= TIMESTAMP '2025-04-01'", id="created after today"),
    pytest.param("offres where date_publication between 2025-03-06 and 2025-03-10",
                 "SELECT id FROM offres WHERE date_publication >= DATE '2025-03-06' AND date_publication <= DATE '2025-03-10'",
                 id="between dates inclusive"),
    pytest.param("candidats where date_creation between 2019-10-01 and 2019-10-12",
                 "SELECT id FROM candidats WHERE date_creation >= TIMESTAMP '2019-10-01' AND date_creation < TIMESTAMP '2019-10-13'",
                 id="between timestamps whole days"),
    pytest.param("offres where id between 10 and 20", "SELECT id FROM offres WHERE id >= 10 AND id <= 20", id="between numbers"),
    pytest.param("candidats where disponibilite between 2025-01-01 and today and date_creation between 01/01/2025 and 31/01/2025",
                 "SELECT id FROM candidats WHERE disponibilite >= DATE '2025-01-01' AND disponibilite <= DATE '2025-03-31' "
                 "AND date_creation >= TIMESTAMP '2025-01-01' AND date_creation < TIMESTAMP '2025-02-01'",
                 id="two betweens rows"),
    pytest.param("candidats where disponibilite = 10/03/2025",
                 "SELECT id FROM candidats WHERE disponibilite = DATE '2025-03-10'", id="french literal rows"),
    pytest.param("candidats where disponibilite = 2025-03-10",
                 "SELECT id FROM candidats WHERE disponibilite = DATE '2025-03-10'", id="iso literal rows"),
]


@pytest.mark.parametrize(("rule", "sql"), ROW_CASES)
def test_date_rows(export, db, rule, sql):
    assert set(selected(export, rule)) == hand_ids(db, sql)


@pytest.mark.parametrize(("rule", "sql"), ROW_CASES)
def test_date_rows_not_trivial(db, rule, sql):
    """Check the table itself: every case selects some rows, so an empty result cannot pass."""
    assert hand_ids(db, sql)


BOUND_CASES = [
    # Offers published on the lower (6 March) and upper (10 March) bound days.
    pytest.param("offres where date_publication between 2025-03-06 and 2025-03-10",
                 "SELECT id FROM offres WHERE date_publication = DATE '2025-03-06'", True, id="lower bound date in"),
    pytest.param("offres where date_publication between 2025-03-06 and 2025-03-10",
                 "SELECT id FROM offres WHERE date_publication = DATE '2025-03-10'", True, id="upper bound date in"),
    # Candidate 875 was created on 12 October 2019 at 23:59, on the upper bound day.
    pytest.param("candidats where date_creation between 2019-10-01 and 2019-10-12",
                 "SELECT id FROM candidats WHERE date_creation = TIMESTAMP '2019-10-12 23:59'", True, id="upper bound 23h59 in"),
    # Candidates 876 and 877 were created at 00:05 on the day after the upper bound.
    pytest.param("candidats where date_creation between 2019-10-01 and 2019-10-12",
                 "SELECT id FROM candidats WHERE date_creation = TIMESTAMP '2019-10-13 00:05'", False, id="next day 0h05 out"),
    pytest.param("offres where id between 10 and 20", "SELECT 10", True, id="lower bound number in"),
    pytest.param("offres where id between 10 and 20", "SELECT 20", True, id="upper bound number in"),
    pytest.param("offres where id between 10 and 20", "SELECT 21", False, id="past bound number out"),
]


@pytest.mark.parametrize(("rule", "sql", "inside"), BOUND_CASES)
def test_between_bounds(export, db, rule, sql, inside):
    bound_rows = hand_ids(db, sql)
    chosen = set(selected(export, rule))
    assert bound_rows
    if inside:
        assert bound_rows <= chosen
    else:
        assert not bound_rows & chosen


# A shift that leaves the calendar (year 1 to 9999) is a mistake in the rule, so it must be a user error
# (ErnestRulesError, CLI exit 2) with the rule's position, not a Python exception (exit 1).
OUT_OF_RANGE = [
    pytest.param("candidats where disponibilite = today + 100000 years", id="years past 9999"),
    pytest.param("candidats where disponibilite = 9999-12-31 + 1 day", id="day past 9999"),
    pytest.param("candidats where disponibilite = today - 1000000000 days", id="days beyond timedelta"),
]



@pytest.mark.parametrize("rule", OUT_OF_RANGE)
def test_shift_out_of_range_user_error(rule):
    with pytest.raises(ErnestRulesError):
        compile_rule(rule, today=TODAY)


@pytest.mark.parametrize("rule", OUT_OF_RANGE)
def test_shift_out_of_range_cli_exit_2(capsys, rule):
    assert main(["--lang", "en", "sql", rule, "--today", "2025-03-31"]) == 2


def test_french_literal_same_sql():
    french = compile_rule("candidats where disponibilite = 10/03/2025", today=TODAY)
    iso = compile_rule("candidats where disponibilite = 2025-03-10", today=TODAY)
    assert (french.keys_sql, french.params) == (iso.keys_sql, iso.params)


# ---------------------------------------------------------------- time zones, on a tiny export

# Columns and types of the real export's Parquet files.
SCHEMAS = {
    "candidats": "id BIGINT, civilite VARCHAR, prenom VARCHAR, nom VARCHAR, email VARCHAR, telephone VARCHAR, ville VARCHAR, "
                 "code_postal VARCHAR, viviers VARCHAR[], statut VARCHAR, competences VARCHAR[], disponibilite DATE, "
                 "date_creation TIMESTAMP, source VARCHAR, consentement_rgpd BOOLEAN, desabonne BOOLEAN",
    "contacts": "id BIGINT, civilite VARCHAR, prenom VARCHAR, nom VARCHAR, email VARCHAR, telephone VARCHAR, societe_id BIGINT, "
                "fonction VARCHAR, poste_actif BOOLEAN, desabonne BOOLEAN, date_creation TIMESTAMP",
    "societes": "id BIGINT, nom VARCHAR, secteur VARCHAR, code_naf VARCHAR, ville VARCHAR, code_postal VARCHAR, email VARCHAR, "
                "statut VARCHAR, desabonne BOOLEAN, date_creation DATE",
    "offres": "id BIGINT, reference VARCHAR, titre VARCHAR, societe_id BIGINT, type_contrat VARCHAR, ville VARCHAR, "
              "code_postal VARCHAR, competences VARCHAR[], secteur VARCHAR, statut VARCHAR, date_publication DATE, "
              "referent_rh_id BIGINT, referent_operationnel_id BIGINT",
    "utilisateurs": "id BIGINT, prenom VARCHAR, nom VARCHAR, email VARCHAR, role VARCHAR, actif BOOLEAN",
    "candidatures": "id BIGINT, candidat_id BIGINT, offre_id BIGINT, etape VARCHAR, date_candidature TIMESTAMP",
}

# date_creation of the tiny candidates, one per line of the table below.
# Paris is UTC+1 in March (before 30 March 2025) and UTC+2 in July.
#   id  stored value        read as UTC, in Paris      read as Paris local
#   1   2025-03-09 23:15    2025-03-10 00:15           2025-03-09
#   2   2025-03-09 22:59    2025-03-09 23:59           2025-03-09
#   3   2025-03-10 00:30    2025-03-10 01:30           2025-03-10
#   4   2025-07-14 22:30    2025-07-15 00:30           2025-07-14
#   5   2025-07-14 21:59    2025-07-14 23:59           2025-07-14
#   6   2025-07-15 21:30    2025-07-15 23:30           2025-07-15
TINY_CANDIDATS = {
    1: "2025-03-09 23:15:00", 2: "2025-03-09 22:59:00", 3: "2025-03-10 00:30:00",
    4: "2025-07-14 22:30:00", 5: "2025-07-14 21:59:00", 6: "2025-07-15 21:30:00",
}

# Applications of candidate 2 (id 1) and candidate 5 (id 2), dated like those candidates.
TINY_CANDIDATURES = {1: (2, "2025-03-09 23:15:00"), 2: (5, "2025-07-14 21:59:00")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_zones")
    connection = duckdb.connect()
    for table, columns in SCHEMAS.items():
        connection.execute(f"CREATE TABLE {table} ({columns})")
    for key, stamp in TINY_CANDIDATS.items():
        connection.execute("INSERT INTO candidats (id, nom, email, date_creation) VALUES (?, ?, ?, CAST(? AS TIMESTAMP))",
                           [key, f"Nom{key}", f"c{key}@example.invalid", stamp])
    connection.execute("INSERT INTO societes (id, nom) VALUES (1, 'Alto')")
    connection.execute("INSERT INTO utilisateurs (id, nom, email, actif) VALUES (1, 'Rh', 'rh@example.invalid', true)")
    connection.execute("INSERT INTO offres (id, titre, societe_id, statut, referent_rh_id) VALUES (1, 'Dev', 1, 'Ouverte', 1)")
    for key, (candidate, stamp) in TINY_CANDIDATURES.items():
        connection.execute("INSERT INTO candidatures VALUES (?, ?, 1, 'Nouvelle', CAST(? AS TIMESTAMP))", [key, candidate, stamp])
    for table in SCHEMAS:
        target = (folder / f"{table}.parquet").as_posix().replace("'", "''")
        connection.execute(f"COPY {table} TO '{target}' (FORMAT parquet)")
    connection.close()
    return folder


@pytest.fixture(scope="module")
def utc_catalog_file(tmp_path_factory) -> Path:
    data = default_catalog().model_dump()
    data["timestamps"] = "utc"
    path = tmp_path_factory.mktemp("catalog") / "utc.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def catalogs(utc_catalog_file) -> dict:
    return {"local": default_catalog(), "utc": load_catalog(utc_catalog_file)}


ZONE_CASES = [
    pytest.param("utc", "candidats where date_creation = 2025-03-10", {1, 3}, id="utc winter day"),
    pytest.param("local", "candidats where date_creation = 2025-03-10", {3}, id="local winter day"),
    pytest.param("utc", "candidats where date_creation = 2025-03-09", {2}, id="utc winter eve"),
    pytest.param("local", "candidats where date_creation = 2025-03-09", {1, 2}, id="local winter eve"),
    pytest.param("utc", "candidats where date_creation = 2025-07-15", {4, 6}, id="utc summer day"),
    pytest.param("local", "candidats where date_creation = 2025-07-15", {6}, id="local summer day"),
    pytest.param("utc", "candidats where date_creation = 2025-07-14", {5}, id="utc summer eve"),
    pytest.param("local", "candidats where date_creation = 2025-07-14", {4, 5}, id="local summer eve"),
    pytest.param("utc", "candidats where date_creation < 2025-03-10", {2}, id="utc before day"),
    pytest.param("utc", "candidats where date_creation between 2025-03-10 and 2025-07-14", {1, 3, 5}, id="utc between"),
    pytest.param("local", "candidats where date_creation between 2025-03-10 and 2025-07-14", {3, 4, 5}, id="local between"),
    # Inside a quantifier. Application 1 (candidate 2, stored 2025-03-09 23:15) is on 10 March read as UTC and on 9 March
    # read as local. Application 2 (candidate 5, stored 2025-07-14 21:59) is on 14 July either way.
    pytest.param("utc", "candidats where any candidatures where (date_candidature = 2025-03-10)", {2}, id="utc quantifier day"),
    pytest.param("local", "candidats where any candidatures where (date_candidature = 2025-03-10)", set(), id="local quantifier day"),
    pytest.param("local", "candidats where any candidatures where (date_candidature = 2025-03-09)", {2}, id="local quantifier eve"),
    pytest.param("utc", "candidats where any candidatures where (date_candidature = 2025-07-14)", {5}, id="utc quantifier summer"),
]


@pytest.mark.parametrize(("zone", "rule", "expected"), ZONE_CASES)
def test_timestamp_zone(tiny, catalogs, zone, rule, expected):
    tiny_export = open_export(tiny, catalogs[zone])
    try:
        assert set(selected(tiny_export, rule, catalogs[zone])) == expected
    finally:
        tiny_export.close()


# ---------------------------------------------------------------- command line

def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sql_params(output: str) -> dict:
    """Return the JSON object that `ernest-rules sql` prints after the SQL."""
    return json.loads(output[output.index("{"):])


SHIFT_RULE = "candidats where date_creation between today - 1 month and today"


@pytest.mark.parametrize("today", ["2025-03-31", "31/03/2025"], ids=["iso today", "french today"])
def test_cli_today_params(capsys, today):
    code, out, _ = run(capsys, "--lang", "en", "sql", SHIFT_RULE, "--today", today)
    assert code == 0
    assert sql_params(out) == {"p1": "2025-02-28", "p2": "2025-03-31"}


def test_cli_today_forms_same_output(capsys):
    _, iso, _ = run(capsys, "sql", SHIFT_RULE, "--today", "2025-03-31")
    _, french, _ = run(capsys, "sql", SHIFT_RULE, "--today", "31/03/2025")
    assert iso == french


@pytest.mark.parametrize("value", ["2025-02-30", "31/02/2025", "2025/03/31", "hier", "31-03-2025", " "],
                         ids=["iso no such day", "french no such day", "slashes iso order", "a word", "dashes french order", "blank"])
def test_cli_bad_today_exit_2(capsys, value):
    code, _, _ = run(capsys, "--lang", "en", "sql", SHIFT_RULE, "--today", value)
    assert code == 2


def test_cli_bad_today_message(capsys):
    _, _, err = run(capsys, "--lang", "en", "sql", SHIFT_RULE, "--today", "2025-02-30")
    assert "--today" in err
    assert "2025-02-30" in err


@pytest.mark.parametrize(("lang", "today"), [("en", "2025-03-31"), ("fr", "2025-03-31"), ("en", "14/07/2025")],
                         ids=["english iso", "french iso", "english french date"])
def test_cli_select_prints_today(capsys, tiny, lang, today):
    code, out, _ = run(capsys, "--lang", lang, "select", "candidats where date_creation <= today", "--data", str(tiny),
                       "--today", today, "--limit", "0")
    day = dt.datetime.strptime(today, "%d/%m/%Y" if "/" in today else "%Y-%m-%d").date().isoformat()
    assert code == 0
    assert day in out.splitlines()[-1]


def test_cli_select_count_uses_today(capsys, tiny):
    """Check the count with today = 9 March 2025: only candidates 1 and 2 were created up to that local date."""
    _, out, _ = run(capsys, "--lang", "en", "select", "candidats where date_creation <= today", "--data", str(tiny),
                    "--today", "09/03/2025", "--limit", "0")
    assert re.search(r"^matching rows: 2 ", out, re.MULTILINE)


def test_cli_select_default_today(capsys, tiny):
    before = dt.datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    _, out, _ = run(capsys, "--lang", "en", "select", "candidats", "--data", str(tiny), "--limit", "0")
    after = dt.datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    assert before in out.splitlines()[-1] or after in out.splitlines()[-1]


def test_cli_utc_catalog(capsys, tiny, utc_catalog_file):
    """Check that --catalog sets the time zone: read as UTC, candidates 1 and 3 were created on 2025-03-10."""
    _, out, _ = run(capsys, "--lang", "en", "select", "candidats where date_creation = 2025-03-10", "--data", str(tiny),
                    "--catalog", str(utc_catalog_file), "--limit", "0")
    assert re.search(r"^matching rows: 2 ", out, re.MULTILINE)
