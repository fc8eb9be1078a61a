"""The HTTP service, through a real HTTP client against uvicorn on 127.0.0.1.

Each server runs in a background thread on a free loopback port. Expected
values come from hand-written DuckDB SQL over the export files (rule counts,
clean people chosen by hand, the recipient count of the 150,000-row export).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
import uvicorn

from ernest_rules import service as service_module
from ernest_rules.service import create_app, request_language

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "data" / "parquet"
TABLES = ("candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures")
KEY = "lower(nfc_normalize(trim({})))"
PLAIN = r"[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)+"
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}


@contextlib.contextmanager
def running(store_path: Path, data_dir: Path, **options):
    """Serve the application on a free 127.0.0.1 port in a thread; yield an HTTP client for it."""
    app = create_app(store_path, data_dir, **options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server thread stopped before it started"
        assert time.monotonic() < deadline, "the server did not start within 20 s"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def clean_candidats(folder: Path, count: int) -> list[tuple[int, str]]:
    """(id, key) of candidats with consent, a plain address found once in the export, never opted out."""
    def table(name: str) -> str:
        return f"read_parquet('{folder / (name + '.parquet')}')"

    return duckdb.sql(f"""
        WITH keys AS (
            SELECT {KEY.format('email')} AS k, coalesce(desabonne, false) AS out FROM {table('candidats')}
            UNION ALL SELECT {KEY.format('email')}, coalesce(desabonne, false) FROM {table('contacts')}
            UNION ALL SELECT {KEY.format('email')}, coalesce(desabonne, false) FROM {table('societes')}
            UNION ALL SELECT {KEY.format('email')}, false FROM {table('utilisateurs')}),
        counted AS (SELECT k, count(*) AS n, bool_or(out) AS out FROM keys WHERE k IS NOT NULL GROUP BY k)
        SELECT e.id, c.k FROM {table('candidats')} AS e JOIN counted AS c ON c.k = {KEY.format('e.email')}
        WHERE c.n = 1 AND NOT c.out AND e.consentement_rgpd AND NOT coalesce(e.desabonne, false) AND regexp_full_match(c.k, '{PLAIN}')
        ORDER BY e.id LIMIT {count}""").fetchall()


def list_text(ids: list[int]) -> str:
    return f'title = "Campagne"\npurpose = "information"\n[[sections]]\nkind = "candidats"\nmanual = {list(ids)}\n'


@pytest.fixture(scope="module")
def people() -> list[tuple[int, str]]:
    return clean_candidats(SAMPLES, 5)


@pytest.fixture(scope="module")
def client(tmp_path_factory, people):
    """A server over the samples with the saved list `campagne` (the first four clean candidats)."""
    folder = tmp_path_factory.mktemp("service")
    with running(folder / "store.duckdb", SAMPLES) as http:
        assert http.put("/lists/campagne", json={"text": list_text([person[0] for person in people[:4]])}).status_code == 200
        yield http


def keys(rows: list[dict]) -> list[str]:
    return [row["recipient_key"] for row in rows]


# ---------------------------------------------------------------- language


@pytest.mark.parametrize("header, expected", [
    ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
    ("en-US,en;q=0.9,fr;q=0.8", "en"),
    ("de-DE, fr;q=0.5", "fr"),
    ("fr;q=0.4, en;q=0.6", "en"),
    ("*", "en"),
    (None, "en"),
])
def test_request_language(header, expected):
    assert request_language(header) == expected


# ---------------------------------------------------------------- rules


def test_check_rule_sql_counts(client):
    body = client.post("/rules/check", json={"rule": 'candidats where vivier = "Dev"'}).json()
    connection = duckdb.connect()
    connection.execute(f"CREATE VIEW candidats AS SELECT * FROM read_parquet('{SAMPLES / 'candidats.parquet'}')")
    found = connection.execute(f"SELECT count(*) FROM ({body['sql']})", body["params"]).fetchall()[0][0]
    expected = duckdb.sql(f"SELECT count(*) FROM read_parquet('{SAMPLES / 'candidats.parquet'}') "
                          "WHERE list_contains(list_transform(viviers, lambda x: lower(strip_accents(trim(x)))), 'dev')").fetchall()[0][0]
    assert found == expected


def test_check_rule_words_languages(client):
    words = client.post("/rules/check", json={"rule": 'candidats where vivier = "Dev"'}).json()["words"]
    assert "« Dev »" in words["fr"]
    assert "'Dev'" in words["en"]


def test_check_rule_today_pinned(client):
    body = client.post("/rules/check", json={"rule": "candidats where disponibilite >= today - 30 days", "today": "2025-03-10"}).json()
    assert body["today"] == "2025-03-10"
    assert list(body["params"].values()) == ["2025-02-08"]


def test_check_rule_error_place(client):
    response = client.post("/rules/check", json={"rule": 'candidats where viviere = "Dev"'})
    error = response.json()["errors"][0]
    assert response.status_code == 400
    assert error["line"] == 1
    assert error["column"] == 17


def test_check_rule_error_caret(client):
    error = client.post("/rules/check", json={"rule": 'candidats where viviere = "Dev"'}).json()["errors"][0]
    assert error["caret"].splitlines() == ['    candidats where viviere = "Dev"', "                    ^^^^^^^"]


@pytest.mark.parametrize("headers, quote", [(FRENCH, "« viviere »"), ({"Accept-Language": "en"}, "'viviere'"), ({}, "'viviere'")])
def test_check_rule_error_language(client, headers, quote):
    error = client.post("/rules/check", json={"rule": 'candidats where viviere = "Dev"'}, headers=headers).json()["errors"][0]
    assert quote in error["message"]


def test_check_uses_saved_rule(client):
    client.put("/rules/dev_pool", json={"text": 'candidats where vivier = "Dev"'})
    assert client.post("/rules/check", json={"rule": "@dev_pool"}).json()["entity"] == "candidats"


# ---------------------------------------------------------------- saved lists and rules


def test_list_versions_over_http(client, people):
    first = client.put("/lists/versions", json={"text": list_text([people[0][0]])}).json()
    second = client.put("/lists/versions", json={"definition": {"title": "Deux", "sections": [{"kind": "candidats", "manual": [people[1][0]]}]}},
                        headers={"X-Ernest-User": "bruno"}).json()
    assert [(first["version"], first["summary"]), (second["version"], second["summary"])] == \
        [(1, "created"), (2, "~title ~sections[1].manual -purpose")]


def test_list_saved_by_header(client, people):
    saved = client.put("/lists/auteur", json={"text": list_text([people[0][0]])}, headers={"X-Ernest-User": "bruno"}).json()
    assert saved["saved_by"] == "bruno"


def test_list_earlier_version_readable(client, people):
    client.put("/lists/relire", json={"text": list_text([people[0][0]])})
    client.put("/lists/relire", json={"text": list_text([people[1][0]])})
    assert client.get("/lists/relire", params={"version": 1}).json()["text"] == list_text([people[0][0]])


def test_list_delete_keeps_history(client, people):
    client.put("/lists/jetable", json={"text": list_text([people[0][0]])})
    deleted = client.delete("/lists/jetable")
    history = client.get("/lists/jetable/history").json()
    assert deleted.json()["deleted"]
    assert client.get("/lists/jetable").status_code == 404
    assert [item["version"] for item in history] == [1, 2]


def test_invalid_list_rejected(client):
    broken = 'title = "x"\n[[sections]]\nkind = "candidats"\nrule = "candidats where viviere = 1"\n' \
             '[[sections]]\nkind = "contacts"\nrule = "contacts where poste_actiff"\n'
    response = client.put("/lists/campagne", json={"text": broken})
    assert response.status_code == 400
    assert [error["origin"] for error in response.json()["errors"]] == ["sections[1].rule", "sections[2].rule"]


def test_invalid_list_keeps_current(client, people):
    client.put("/lists/campagne", json={"text": "title = \n"})
    assert client.get("/lists/campagne").json()["text"] == list_text([person[0] for person in people[:4]])


def test_list_body_needs_one_form(client):
    response = client.put("/lists/deux", json={"text": "title = 'x'", "definition": {"title": "x"}})
    assert response.status_code == 400


def test_rule_crud(client):
    saved = client.put("/rules/lyon", json={"text": 'candidats where ville = "Lyon"'}).json()
    read = client.get("/rules/lyon").json()
    deleted = client.delete("/rules/lyon").json()
    assert saved["version"] == 1
    assert read["text"] == 'candidats where ville = "Lyon"'
    assert deleted["version"] == 2
    assert client.get("/rules/lyon").status_code == 404


def test_names_listed(client):
    assert "campagne" in [item["name"] for item in client.get("/lists").json()]


# ---------------------------------------------------------------- previews


def test_preview_definition_paged(client, people):
    definition = {"title": "Aperçu", "purpose": "information", "sections": [{"kind": "candidats", "manual": [p[0] for p in people]}]}
    body = client.post("/lists/preview", params={"offset": 1, "limit": 2}, json={"definition": definition}).json()
    assert body["total"] == 5
    assert keys(body["recipients"]) == [people[1][1], people[2][1]]


def test_preview_saved_list(client, people):
    body = client.get("/lists/campagne/preview", params={"limit": 10}).json()
    assert keys(body["recipients"]) == [key for _id, key in people[:4]]


def test_preview_guard_conflict(client):
    response = client.post("/lists/preview", json={"text": 'title = "Tous"\n[[sections]]\nkind = "candidats"\nrule = "candidats"\n'})
    assert response.status_code == 409


def test_preview_guard_confirmed(client):
    response = client.post("/lists/preview", json={"text": 'title = "Tous"\n[[sections]]\nkind = "candidats"\nrule = "candidats"\n',
                                                   "allow_all": True})
    assert response.status_code == 200


@pytest.mark.parametrize("params", [{"limit": -1}, {"offset": "x"}, {"limit": 10_001}])
def test_preview_bad_paging(client, params):
    assert client.get("/lists/campagne/preview", params=params).status_code == 422


# ---------------------------------------------------------------- snapshots


def test_snapshot_created(client, people):
    response = client.post("/snapshots", json={"list": "campagne", "campaign": "mars", "today": "2025-03-10"})
    page = client.get(f"/snapshots/{response.json()['id']}/recipients", params={"limit": 10}).json()
    assert response.status_code == 201
    assert page["total"] == 4
    assert keys(page["recipients"]) == [key for _id, key in people[:4]]


def test_snapshot_page_offset(client, people):
    snapshot = client.post("/snapshots", json={"list": "campagne"}).json()
    page = client.get(f"/snapshots/{snapshot['id']}/recipients", params={"offset": 3, "limit": 5}).json()
    assert keys(page["recipients"]) == [people[3][1]]


@pytest.mark.parametrize("method, path, body, status", [
    ("POST", "/snapshots", {"list": "jamais"}, 404),
    ("POST", "/snapshots", {"campaign": "x"}, 422),
    ("GET", "/snapshots/999999", None, 404),
    ("GET", "/snapshots/abc", None, 422),
    ("GET", "/snapshots/999999/recipients.csv", None, 404),
    ("GET", "/lists/jamais", None, 404),
    ("GET", "/nulle-part", None, 404),
    ("PATCH", "/lists/campagne", None, 405),
])
def test_error_statuses(client, method, path, body, status):
    response = client.request(method, path, json=body)
    assert response.status_code == status
    assert sorted(response.json()["errors"][0]) == ["caret", "column", "line", "message", "origin"]


def test_snapshot_add_over_http(client, people):
    snapshot = client.post("/snapshots", json={"list": "campagne"}).json()
    result = client.post(f"/snapshots/{snapshot['id']}/recipients", json={"recipients": [people[4][1], people[0][1].upper()]}).json()
    assert keys(result["added"]) == [people[4][1]]
    assert keys(result["already_present"]) == [people[0][1]]


def test_snapshot_diff_over_http(client, people):
    earlier = client.post("/snapshots", json={"list": "campagne"}).json()
    client.put("/lists/campagne", json={"text": list_text([people[0][0], people[4][0]])})
    later = client.post("/snapshots", json={"list": "campagne"}).json()
    client.put("/lists/campagne", json={"text": list_text([person[0] for person in people[:4]])})
    diff = client.get(f"/snapshots/{earlier['id']}/diff/{later['id']}").json()
    assert keys(diff["added"]) == [people[4][1]]
    assert sorted(keys(diff["removed"])) == sorted(key for _id, key in people[1:4])


def test_snapshot_diff_now_empty(client):
    snapshot = client.post("/snapshots", json={"list": "campagne"}).json()
    diff = client.get(f"/snapshots/{snapshot['id']}/diff-now").json()
    assert diff["added_count"] == 0
    assert diff["removed_count"] == 0
    assert diff["target"] is None


def test_concurrent_snapshots(client):
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda number: client.post("/snapshots", json={"list": "campagne", "campaign": f"c{number}"}), range(4)))
    bodies = [response.json() for response in responses]
    assert [response.status_code for response in responses] == [201] * 4
    assert len({body["id"] for body in bodies}) == 4
    assert {body["recipients"] for body in bodies} == {4}


def test_send_removes_unsubscribed(tmp_path, people):
    folder = tmp_path / "export"
    folder.mkdir()
    for name in TABLES:
        shutil.copy2(SAMPLES / f"{name}.parquet", folder / f"{name}.parquet")
    with running(tmp_path / "store.duckdb", folder) as http:
        http.put("/lists/campagne", json={"text": list_text([person[0] for person in people[:4]])})
        snapshot = http.post("/snapshots", json={"list": "campagne"}).json()
        candidats = folder / "candidats.parquet"
        duckdb.execute(f"COPY (SELECT * REPLACE (CASE WHEN id = {people[2][0]} THEN true ELSE desabonne END AS desabonne) "
                       f"FROM read_parquet('{candidats}')) TO '{folder / 'new.parquet'}' (FORMAT parquet)")
        (folder / "new.parquet").replace(candidats)
        body = http.get(f"/snapshots/{snapshot['id']}/send").json()
    assert body["total"] == 3
    assert body["removed_counts"] == {"unsubscribed": 1}
    assert keys(body["removed"]) == [people[2][1]]
    assert body["export_changed"]


# ---------------------------------------------------------------- faults


HOLDER = textwrap.dedent("""\
    import duckdb, sys, time
    connection = duckdb.connect(sys.argv[1])
    open(sys.argv[2], "w").close()
    time.sleep(60)
    """)


def test_busy_store_conflict(tmp_path):
    store = tmp_path / "store.duckdb"
    duckdb.connect(str(store)).close()
    ready = tmp_path / "ready"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(store), str(ready)])
    try:
        while not ready.exists():
            assert holder.poll() is None
            time.sleep(0.01)
        with running(store, SAMPLES, busy_timeout=0.3) as http:
            response = http.put("/rules/dev", json={"text": "candidats"})
    finally:
        holder.kill()
        holder.wait()
    assert response.status_code == 409
    assert response.json()["errors"][0]["message"] == "the store is busy (another ernest-rules process is writing to it); retry"


def test_bug_gives_bare_500(client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service_module, "snapshot_list", broken)
    with caplog.at_level(logging.ERROR, logger="ernest_rules"):
        response = client.get("/snapshots")
    request_id = response.headers["x-request-id"]
    assert response.status_code == 500
    assert "secret" not in response.text
    assert request_id in response.json()["errors"][0]["message"]


def test_bug_logged_with_request_id(client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service_module, "snapshot_list", broken)
    with caplog.at_level(logging.ERROR, logger="ernest_rules"):
        response = client.get("/snapshots")
    assert any(response.headers["x-request-id"] in record.getMessage() and record.exc_info for record in caplog.records)


def test_start_and_stop_logged(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="ernest_rules"):
        with running(tmp_path / "store.duckdb", SAMPLES) as http:
            http.get("/lists")
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("service started") for message in messages)
    assert any(message.startswith("service stopped") for message in messages)


def test_openapi_summaries(client):
    paths = client.get("/openapi.json").json()["paths"]
    missing = [f"{method} {path}" for path, operations in paths.items() for method, operation in operations.items() if not operation.get("summary")]
    assert missing == []


@pytest.mark.parametrize("path", ["/rules/check", "/lists/preview", "/lists/{name}/preview", "/lists/{name}/history", "/snapshots",
                                  "/snapshots/{snapshot_id}/recipients.csv", "/snapshots/{snapshot_id}/recipients.parquet",
                                  "/snapshots/{source}/diff/{target}", "/snapshots/{snapshot_id}/diff-now", "/snapshots/{snapshot_id}/send"])
def test_openapi_has_path(client, path):
    assert path in client.get("/openapi.json").json()["paths"]


# ---------------------------------------------------------------- 150,000 candidats


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


def expected_big_count(folder: Path) -> int:
    """Distinct keys of candidats with an address, not in the planted invalid ones, never opted out in any table."""
    parquet = folder / "parquet"
    return duckdb.sql(f"""
        WITH optout AS (
            SELECT {KEY.format('email')} AS k FROM read_parquet('{parquet / 'candidats.parquet'}') WHERE desabonne
            UNION SELECT {KEY.format('email')} FROM read_parquet('{parquet / 'contacts.parquet'}') WHERE desabonne
            UNION SELECT {KEY.format('email')} FROM read_parquet('{parquet / 'societes.parquet'}') WHERE desabonne)
        SELECT count(DISTINCT {KEY.format('email')}) FROM read_parquet('{parquet / 'candidats.parquet'}')
        WHERE email IS NOT NULL AND trim(email) <> ''
          AND id NOT IN (SELECT id FROM read_csv('{folder / 'anomaly_ids.csv'}') WHERE kind = 'email_invalid' AND entity = 'candidats')
          AND {KEY.format('email')} NOT IN (SELECT k FROM optout WHERE k IS NOT NULL)""").fetchall()[0][0]


@pytest.fixture(scope="module")
def big(tmp_path_factory, big_export):
    """A server over the big export, with a snapshot of every candidat (purpose without consent)."""
    folder = tmp_path_factory.mktemp("big-service")
    with running(folder / "store.duckdb", big_export) as http:
        http.put("/lists/tous", json={"text": 'title = "Tous"\npurpose = "suivi_candidature"\n[[sections]]\nkind = "candidats"\nrule = "candidats"\n'})
        response = http.post("/snapshots", json={"list": "tous", "allow_all": True})
        assert response.status_code == 201, response.text
        yield http, response.json(), expected_big_count(big_export), folder


def test_big_snapshot_count(big):
    _http, snapshot, expected, _folder = big
    assert snapshot["recipients"] == expected
    assert snapshot["recipients"] >= 100_000


def test_big_snapshot_csv_stream(big):
    http, snapshot, expected, folder = big
    path = folder / "recipients.csv"
    with http.stream("GET", f"/snapshots/{snapshot['id']}/recipients.csv") as response:
        with open(path, "wb") as target:
            for chunk in response.iter_bytes():
                target.write(chunk)
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    rows, distinct = duckdb.sql(f"SELECT count(*), count(DISTINCT recipient_key) FROM read_csv('{path}', delim=';', header=true)").fetchall()[0]
    assert rows == expected
    assert distinct == expected


def test_big_snapshot_csv_chunked(big):
    http, snapshot, _expected, _folder = big
    with http.stream("GET", f"/snapshots/{snapshot['id']}/recipients.csv") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        assert response.headers["content-type"] == "text/csv; charset=utf-8"


def test_big_snapshot_parquet_stream(big):
    http, snapshot, expected, _folder = big
    table = pq.read_table(io.BytesIO(http.get(f"/snapshots/{snapshot['id']}/recipients.parquet").content))
    assert table.num_rows == expected
    assert len(set(table.column("recipient_key").to_pylist())) == expected
