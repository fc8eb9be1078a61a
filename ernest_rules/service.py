"""HTTP service over the store and an export: rules, saved lists, previews and campaign snapshots.

`create_app(store_path, data_dir)` returns a FastAPI application; `ernest-rules
serve` runs it with uvicorn on 127.0.0.1. Every error is JSON
`{"errors": [{"message", "line", "column", "caret", "origin"}]}`, in French
when the request's Accept-Language header prefers French, else in English.
Statuses: 400 invalid rule or list, 404 unknown name or snapshot, 409 store
busy or a list that needs allow_all, 422 invalid request, 503 export or store
unreadable. A bug gives a JSON 500 that names only the request id, and the
traceback goes to the `ernest_rules` logger.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .catalog import Catalog, default_catalog
from .compile import compile_rule
from .errors import DataError, ErnestRulesError, GuardError, ListDefinitionError, Problem
from .export import open_export
from .i18n import Quoted, _
from .listdef import parse_definition, validate_definition
from .report import Report
from .resolve import resolve
from .snapshots import (AddResult, Snapshot, snapshot_add, snapshot_batches, snapshot_create, snapshot_diff, snapshot_diff_now, snapshot_get,
                        snapshot_list, snapshot_page, snapshot_recipients)
from .store import ObjectKind, SavedObject, Store, VersionInfo, summary_text
from .store_schema import DEFAULT_BUSY_TIMEOUT, NotFoundError, StoreBusyError, StoreUnavailableError
from .words import describe

logger = logging.getLogger("ernest_rules")

MAX_PAGE = 10_000
USER_HEADER = "X-Ernest-User"


# ---------------------------------------------------------------- models


class ErrorItem(BaseModel):
    """One problem: its message, and where it sits in the rule or list text when it has a place (1-based)."""

    message: str
    line: int | None = None
    column: int | None = None
    caret: str | None = Field(None, description="The faulty line and a caret line under the faulty spot.")
    origin: str | None = Field(None, description="Where the problem is, such as sections[2].rule.")


class ErrorResponse(BaseModel):
    errors: list[ErrorItem]


class RuleCheckRequest(BaseModel):
    rule: str
    today: dt.date | None = Field(None, description="Date that `today` stands for (default: today in Paris).")
    use_saved_rules: bool = Field(True, description="Resolve `@name` references with the store's saved rules.")


class RuleCheckResponse(BaseModel):
    valid: bool = True
    entity: str
    kind: str | None
    words: dict[str, str] = Field(description="The rule in words, by language (fr, en).")
    sql: str = Field(description="SELECT of the full rows, with named parameters such as $p1.")
    condition: str | None
    params: dict[str, Any]
    today: dt.date


class ListBody(BaseModel):
    """A list definition: TOML or JSON text with its form, or the definition as a JSON object."""

    text: str | None = None
    form: Literal["toml", "json"] | None = None
    definition: dict[str, Any] | None = None


class PreviewRequest(ListBody):
    today: dt.date | None = None
    allow_all: bool = False
    max_share: float | None = Field(None, gt=0, le=1)


class Source(BaseModel):
    section: int
    kind: str
    via: str
    entity: str
    id: int | str


class Recipient(BaseModel):
    recipient_key: str
    kind: str | None
    entity: str | None
    id: int | str | None
    email: str
    display_name: str | None
    section: int | None
    sources: list[Source] | None
    origin: str = Field("list", description="`list` for a recipient of the list, `added` for one added by hand.")


class PreviewResponse(BaseModel):
    report: Report
    total: int
    offset: int
    limit: int
    recipients: list[Recipient]


class VersionOut(VersionInfo):
    summary_text: str = Field(description="The change summary in words, in the request's language.")


class SavedOut(SavedObject):
    summary_text: str


class RuleBody(BaseModel):
    text: str


class SnapshotRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    list_name: str = Field(alias="list", description="Name of the saved list.")
    campaign: str | None = None
    today: dt.date | None = None
    allow_all: bool = False


class RecipientsPage(BaseModel):
    snapshot_id: int
    total: int
    offset: int
    limit: int
    recipients: list[Recipient]


class AddRequest(BaseModel):
    recipients: list[str | dict[str, Any]] = Field(description="Addresses, or objects with email and optional display_name, kind, entity, id.")


class DiffRow(BaseModel):
    recipient_key: str
    email: str
    kind: str | None
    entity: str | None
    id: str | None
    display_name: str | None
    section: int | None
    reason: str
    exclusion: str | None


class DiffResponse(BaseModel):
    source: int
    target: int | None = Field(description="The later snapshot, or null for the list as it resolves now.")
    list_version: int
    added_count: int
    removed_count: int
    added: list[DiffRow]
    removed: list[DiffRow]


class RemovedRow(BaseModel):
    recipient_key: str
    kind: str | None
    entity: str | None
    id: str | None
    email: str
    display_name: str | None
    reason: Literal["unsubscribed", "suppressed"]


class SendResponse(BaseModel):
    snapshot_id: int
    total: int
    removed_counts: dict[str, int]
    removed: list[RemovedRow]
    export_changed: bool = Field(description="True when the export files differ (size or time) from those the snapshot was made from.")
    offset: int
    limit: int
    recipients: list[Recipient]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (400, 404, 409, 422, 503)}


# ---------------------------------------------------------------- language and errors


def request_language(header: str | None) -> str:
    """Return "fr" when Accept-Language prefers French to English, else "en"."""
    best, best_weight = "en", 0.0
    for index, part in enumerate((header or "").split(",")):
        pieces = part.strip().split(";")
        code = pieces[0].strip().lower()[:2]
        weight = 1.0
        for parameter in pieces[1:]:
            name, _sep, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if code in ("fr", "en") and weight > best_weight:
            best, best_weight = code, weight
    return best


def problem_json(problem: Problem, lang: str) -> dict[str, Any]:
    message = replace(problem, line=None, column=None, source=None, origin=None).render(lang)
    caret = problem._snippet() or None
    return {"message": message, "line": problem.line, "column": problem.column, "caret": caret, "origin": problem.origin}


def error_response(request: Request, status: int, problems: list[Problem]) -> JSONResponse:
    lang = request_language(request.headers.get("accept-language"))
    request_id = getattr(request.state, "request_id", "-")
    logger.warning("request %s %s %s failed with %d: %s", request_id, request.method, request.url.path, status,
                   " | ".join(problem.render("en").splitlines()[0] for problem in problems))
    return JSONResponse({"errors": [problem_json(problem, lang) for problem in problems]}, status_code=status,
                        headers={"X-Request-ID": request_id})


def status_of(error: ErnestRulesError) -> int:
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, (StoreBusyError, GuardError)):
        return 409
    if isinstance(error, (DataError, StoreUnavailableError)):
        return 503
    return 400


# ---------------------------------------------------------------- application


def create_app(store_path: str | Path, data_dir: str | Path | None, catalog: Catalog | None = None, *,
               busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> FastAPI:
    """Build the service over the store file `store_path` and the export folder `data_dir`.

    `busy_timeout` is how long, in seconds, a request waits for another process
    that has the store file open before it fails with 409.
    """
    catalog = catalog or default_catalog()
    store_path = Path(store_path)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        logger.info("service started: store %s, export %s", store_path, data_dir)
        yield
        logger.info("service stopped: store %s", store_path)

    app = FastAPI(title="ernest-rules", version=__version__, lifespan=lifespan,
                  description="Rules, saved mailing lists and campaign snapshots over an Ernest export.")

    def store(user: str | None = Header(None, alias=USER_HEADER, description="Who saves (default: the service's user).")) -> Store:
        return Store(store_path, user=user, catalog=catalog, busy_timeout=busy_timeout)

    def language(accept_language: str | None = Header(None)) -> str:
        return request_language(accept_language)

    @app.middleware("http")
    async def request_ids(request: Request, call_next):
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:12]
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - a bug: log it with its traceback, answer without internals
            logger.exception("request %s %s %s: internal error", request.state.request_id, request.method, request.url.path)
            lang = request_language(request.headers.get("accept-language"))
            message = _("internal error (request {request_id}); it was logged", request_id=request.state.request_id).render(lang)
            return JSONResponse({"errors": [{"message": message, "line": None, "column": None, "caret": None, "origin": None}]},
                                status_code=500, headers={"X-Request-ID": request.state.request_id})
        response.headers["X-Request-ID"] = request.state.request_id
        logger.debug("request %s %s %s: %d in %.3f s", request.state.request_id, request.method, request.url.path, response.status_code,
                     time.perf_counter() - started)
        return response

    @app.exception_handler(ErnestRulesError)
    async def known_error(request: Request, error: ErnestRulesError):
        return error_response(request, status_of(error), error.problems)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        problems = []
        for item in error.errors():
            key = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body",)) or "/"
            if item.get("type") == "missing":
                problems.append(Problem(_("missing key {key}", key=Quoted(key))))
            else:
                problems.append(Problem(_("{key} is invalid: {reason}", key=Quoted(key), reason=item.get("msg", ""))))
        return error_response(request, 422, problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if error.status_code == 404:
            message = _("no endpoint {method} {path}", method=request.method, path=request.url.path)
        elif error.status_code == 405:
            message = _("the method {method} is not allowed on {path}", method=request.method, path=request.url.path)
        else:
            message = _("the request failed: {reason}", reason=str(error.detail))
        return error_response(request, error.status_code, [Problem(message)])

    # ------------------------------------------------------------ rules

    @app.post("/rules/check", summary="Check and compile a rule", response_model=RuleCheckResponse, responses=ERROR_RESPONSES,
              tags=["rules"])
    def check_rule(body: RuleCheckRequest, store: Store = Depends(store)) -> RuleCheckResponse:
        rules = store.rulebook() if body.use_saved_rules else None
        compiled = compile_rule(body.rule, catalog, rules=rules, today=body.today)
        return RuleCheckResponse(entity=compiled.entity.name, kind=compiled.kind.name if compiled.kind else None,
                                 words={lang: describe(compiled.checked, lang) for lang in ("fr", "en")}, sql=compiled.rows_sql,
                                 condition=compiled.condition, params=_jsonable(compiled.params), today=compiled.today)

    def saved_routes(object_kind: ObjectKind, plural: str) -> None:
        @app.get(f"/{plural}", summary=f"List the saved {plural}", response_model=list[VersionOut], tags=[plural])
        def names(store: Store = Depends(store), lang: str = Depends(language)) -> list[VersionOut]:
            return [_version_out(info, lang) for info in store.names(object_kind)]

        @app.get(f"/{plural}/{{name}}", summary=f"Read a saved {object_kind} (current or given version)", response_model=SavedOut,
                 responses=ERROR_RESPONSES, tags=[plural])
        def read(name: str, version: int | None = Query(None, ge=1), store: Store = Depends(store),
                 lang: str = Depends(language)) -> SavedOut:
            saved = store.get(object_kind, name, version)
            return SavedOut(**saved.model_dump(), summary_text=summary_text(saved.summary, lang))

        @app.get(f"/{plural}/{{name}}/history", summary=f"Every version of a saved {object_kind}", response_model=list[VersionOut],
                 responses=ERROR_RESPONSES, tags=[plural])
        def history(name: str, store: Store = Depends(store), lang: str = Depends(language)) -> list[VersionOut]:
            return [_version_out(info, lang) for info in store.history(object_kind, name)]

        @app.delete(f"/{plural}/{{name}}", summary=f"Delete a saved {object_kind} (its history is kept)", response_model=VersionOut,
                    responses=ERROR_RESPONSES, tags=[plural])
        def delete(name: str, store: Store = Depends(store), lang: str = Depends(language)) -> VersionOut:
            return _version_out(store.delete(object_kind, name), lang)

    saved_routes("rule", "rules")
    saved_routes("list", "lists")

    @app.put("/rules/{name}", summary="Save a named rule (a new version)", response_model=VersionOut, responses=ERROR_RESPONSES,
             tags=["rules"])
    def save_rule(name: str, body: RuleBody, store: Store = Depends(store), lang: str = Depends(language)) -> VersionOut:
        return _version_out(store.save_rule(name, body.text), lang)

    # ------------------------------------------------------------ lists

    @app.put("/lists/{name}", summary="Save a list definition (a new version)", response_model=VersionOut, responses=ERROR_RESPONSES,
             tags=["lists"])
    def save_list(name: str, body: ListBody, store: Store = Depends(store), lang: str = Depends(language)) -> VersionOut:
        text, form = _list_text(body)
        return _version_out(store.save_list(name, text, form), lang)

    @app.post("/lists/preview", summary="Preview the recipients of a list definition", response_model=PreviewResponse,
              responses=ERROR_RESPONSES, tags=["lists"])
    def preview_body(body: PreviewRequest, offset: int = Query(0, ge=0), limit: int = Query(100, ge=0, le=MAX_PAGE),
                     store: Store = Depends(store)) -> PreviewResponse:
        text, form = _list_text(body)
        definition = parse_definition(text, form, origin="definition")
        return _preview(definition, store, offset, limit, today=body.today, allow_all=body.allow_all, max_share=body.max_share)

    @app.get("/lists/{name}/preview", summary="Preview the recipients of a saved list", response_model=PreviewResponse,
             responses=ERROR_RESPONSES, tags=["lists"])
    def preview_saved(name: str, offset: int = Query(0, ge=0), limit: int = Query(100, ge=0, le=MAX_PAGE), today: dt.date | None = None,
                      allow_all: bool = False, store: Store = Depends(store)) -> PreviewResponse:
        definition = store.get_list(name).definition()
        return _preview(definition, store, offset, limit, today=today, allow_all=allow_all)

    def _preview(definition, store: Store, offset: int, limit: int, **options) -> PreviewResponse:
        export = open_export(data_dir, catalog)
        try:
            resolution = resolve(definition, export=export, rules=store.rulebook(), **options)
            rows = resolution.relation().limit(limit, offset).to_arrow_table().to_pylist()
            return PreviewResponse(report=resolution.report, total=resolution.report.recipients, offset=offset, limit=limit,
                                   recipients=[Recipient(**row) for row in rows])
        finally:
            export.close()

    # ------------------------------------------------------------ snapshots

    @app.post("/snapshots", summary="Snapshot the recipients of a saved list at campaign start", status_code=201,
              response_model=Snapshot, responses=ERROR_RESPONSES, tags=["snapshots"])
    def create_snapshot(body: SnapshotRequest, store: Store = Depends(store)) -> Snapshot:
        export = open_export(data_dir, catalog)
        try:
            return snapshot_create(store, body.list_name, export=export, campaign=body.campaign, today=body.today, allow_all=body.allow_all)
        finally:
            export.close()

    @app.get("/snapshots", summary="List the snapshots", response_model=list[Snapshot], tags=["snapshots"])
    def list_snapshots(list_name: str | None = Query(None, alias="list"), store: Store = Depends(store)) -> list[Snapshot]:
        return snapshot_list(store, list_name)

    @app.get("/snapshots/{snapshot_id}", summary="Read a snapshot and its report", response_model=Snapshot, responses=ERROR_RESPONSES,
             tags=["snapshots"])
    def read_snapshot(snapshot_id: int, store: Store = Depends(store)) -> Snapshot:
        return snapshot_get(store, snapshot_id)

    @app.get("/snapshots/{snapshot_id}/recipients", summary="Recipients of a snapshot, paged", response_model=RecipientsPage,
             responses=ERROR_RESPONSES, tags=["snapshots"])
    def snapshot_recipients_page(snapshot_id: int, offset: int = Query(0, ge=0), limit: int = Query(100, ge=0, le=MAX_PAGE),
                                 store: Store = Depends(store)) -> RecipientsPage:
        snapshot = snapshot_get(store, snapshot_id)
        rows = snapshot_page(store, snapshot_id, offset, limit).to_pylist()
        return RecipientsPage(snapshot_id=snapshot_id, total=snapshot.recipients, offset=offset, limit=limit,
                              recipients=[Recipient(**row) for row in rows])

    @app.post("/snapshots/{snapshot_id}/recipients", summary="Add recipients by hand to a snapshot", response_model=AddResult,
              responses=ERROR_RESPONSES, tags=["snapshots"])
    def add_recipients(snapshot_id: int, body: AddRequest, store: Store = Depends(store)) -> AddResult:
        return snapshot_add(store, snapshot_id, body.recipients)

    @app.get("/snapshots/{snapshot_id}/recipients.csv", summary="Recipients of a snapshot as CSV (; separated, UTF-8 with BOM), streamed",
             responses=ERROR_RESPONSES | {200: {"content": {"text/csv": {}}}}, tags=["snapshots"])
    def snapshot_csv(snapshot_id: int, store: Store = Depends(store)) -> StreamingResponse:
        stream = snapshot_batches(store, snapshot_id, flat_sources=True)
        return StreamingResponse(_csv_chunks(stream), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="snapshot-{snapshot_id}.csv"'})

    @app.get("/snapshots/{snapshot_id}/recipients.parquet", summary="Recipients of a snapshot as Parquet, streamed",
             responses=ERROR_RESPONSES | {200: {"content": {"application/vnd.apache.parquet": {}}}}, tags=["snapshots"])
    def snapshot_parquet(snapshot_id: int, store: Store = Depends(store)) -> StreamingResponse:
        stream = snapshot_batches(store, snapshot_id)
        return StreamingResponse(_parquet_chunks(stream), media_type="application/vnd.apache.parquet",
                                 headers={"Content-Disposition": f'attachment; filename="snapshot-{snapshot_id}.parquet"'})

    @app.get("/snapshots/{source}/diff/{target}", summary="Recipients added and removed between two snapshots", response_model=DiffResponse,
             responses=ERROR_RESPONSES, tags=["snapshots"])
    def diff(source: int, target: int, limit: int = Query(1000, ge=0, le=MAX_PAGE), store: Store = Depends(store)) -> DiffResponse:
        return _diff_out(snapshot_diff(store, source, target), limit)

    @app.get("/snapshots/{snapshot_id}/diff-now", summary="Recipients added and removed since a snapshot, resolving its list now",
             response_model=DiffResponse, responses=ERROR_RESPONSES, tags=["snapshots"])
    def diff_now(snapshot_id: int, today: dt.date | None = None, allow_all: bool | None = None, limit: int = Query(1000, ge=0, le=MAX_PAGE),
                 store: Store = Depends(store)) -> DiffResponse:
        export = open_export(data_dir, catalog)
        try:
            return _diff_out(snapshot_diff_now(store, snapshot_id, export=export, today=today, allow_all=allow_all), limit)
        finally:
            export.close()

    @app.get("/snapshots/{snapshot_id}/send", summary="Recipients at send time: the snapshot minus those who opted out since",
             response_model=SendResponse, responses=ERROR_RESPONSES, tags=["snapshots"])
    def send(snapshot_id: int, offset: int = Query(0, ge=0), limit: int = Query(100, ge=0, le=MAX_PAGE),
             store: Store = Depends(store)) -> SendResponse:
        export = open_export(data_dir, catalog)
        try:
            result = snapshot_recipients(store, snapshot_id, export=export)
        finally:
            export.close()
        rows = result.recipients.slice(offset, limit).to_pylist()
        return SendResponse(snapshot_id=snapshot_id, total=result.recipients.num_rows, removed_counts=result.removed_counts,
                            removed=[RemovedRow(**row) for row in result.removed.to_pylist()], export_changed=result.export_changed,
                            offset=offset, limit=limit, recipients=[Recipient(**row) for row in rows])

    return app


# ---------------------------------------------------------------- helpers


def _version_out(info: VersionInfo, lang: str) -> VersionOut:
    return VersionOut(**info.model_dump(), summary_text=summary_text(info.summary, lang))


def _list_text(body: ListBody) -> tuple[str, str]:
    """Return the text and form of a list body; a definition object is kept as indented JSON."""
    if (body.text is None) == (body.definition is None):
        raise ListDefinitionError(Problem(_("give the list either as text (with its form, toml or json) or as a definition object")))
    if body.definition is not None:
        validate_definition(body.definition, origin="definition")
        return json.dumps(body.definition, ensure_ascii=False, indent=2), "json"
    return body.text, body.form or ("json" if body.text.lstrip().startswith("{") else "toml")


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value for name, value in params.items()}


def _diff_out(diff, limit: int) -> DiffResponse:
    return DiffResponse(source=diff.source, target=diff.target, list_version=diff.list_version, added_count=diff.added.num_rows,
                        removed_count=diff.removed.num_rows, added=[DiffRow(**row) for row in diff.added.slice(0, limit).to_pylist()],
                        removed=[DiffRow(**row) for row in diff.removed.slice(0, limit).to_pylist()])


class _Chunks:
    """A write-only file object that keeps what Arrow writers write until it is taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        return self.position

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts = []
        return data


def _csv_chunks(stream) -> Iterator[bytes]:
    import pyarrow.csv as pacsv

    sink = _Chunks()
    # A UTF-8 byte order mark makes Excel read the accents right.
    yield b"\xef\xbb\xbf"
    writer = pacsv.CSVWriter(sink, stream.schema, write_options=pacsv.WriteOptions(delimiter=";"))
    for batch in stream:
        writer.write_batch(batch)
        yield sink.take()
    writer.close()
    yield sink.take()


def _parquet_chunks(stream) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    sink = _Chunks()
    writer = pq.ParquetWriter(sink, stream.schema, compression="zstd")
    for batch in stream:
        writer.write_batch(batch)
        yield sink.take()
    writer.close()
    yield sink.take()


def run_service(store_path: str | Path, data_dir: str | Path | None, *, host: str = "127.0.0.1", port: int = 8000,
                catalog: Catalog | None = None) -> None:
    """Serve the application with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(store_path, data_dir, catalog), host=host, port=port, log_level="info")
