"""Saved list definitions and named rules, with every earlier version kept.

A `Store` is a DuckDB file (see `store_schema`). Saving a list or a rule adds
a version: its text, the validated model, who saved it, when (UTC) and a short
summary of what changed since the previous version. Deleting adds a version
marked deleted, so the history survives. Validation is strict: a list is saved
only when its rules compile against the catalog and the saved rules, and a rule
only when it compiles and every saved list and rule that uses it still does.
A save that fails leaves the store as it was.

Change summaries are stored in a compact form that `summary_text` renders:
`created`, `deleted`, `restored`, `layout` (same model, other text), or
changed keys as `~title +sections[3] -purpose`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Literal

import duckdb
from pydantic import BaseModel

from .catalog import Catalog, default_catalog
from .compile import compile_rule
from .errors import ErnestRulesError, ListDefinitionError, Problem
from .i18n import Quoted, _, text
from .listdef import ListDefinition, parse_definition
from .store_schema import (DEFAULT_BUSY_TIMEOUT, NotFoundError, StoreBusyError, StoreError, default_store_path, default_user,
                           open_store)

__all__ = ["NotFoundError", "ObjectKind", "SavedObject", "Store", "StoreBusyError", "StoreError", "VersionInfo", "current_rules", "summary_text"]

logger = logging.getLogger("ernest_rules")

ObjectKind = Literal["list", "rule"]

# A rule name must be usable as `@name` in a rule; list names appear in URLs and file names.
_NAME_PATTERNS = {"rule": re.compile(r"[^\W\d]\w{0,99}"), "list": re.compile(r"\w[\w.-]{0,99}")}


class VersionInfo(BaseModel):
    """One version of a saved list or rule, without its text."""

    object_kind: ObjectKind
    name: str
    version: int
    deleted: bool
    saved_by: str
    saved_at: dt.datetime
    summary: str
    changed: bool = True


class SavedObject(VersionInfo):
    """One version of a saved list or rule with its text and validated model (None for a deletion)."""

    text: str | None
    form: str | None
    model: dict[str, Any] | None

    def definition(self) -> ListDefinition:
        """The list definition of this version (lists only)."""
        return ListDefinition.model_validate(self.model)


def now_utc() -> dt.datetime:
    """Return the current UTC time without time zone, as the store's TIMESTAMP columns hold it."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc)


class Store:
    """A store file of saved lists, rules and campaign snapshots.

    `user` names who saves (default: $ERNEST_RULES_USER, else the OS user).
    `busy_timeout` is how long, in seconds, an operation waits for another
    process that has the file open before raising `StoreBusyError`.
    """

    def __init__(self, path: str | Path | None = None, *, user: str | None = None, catalog: Catalog | None = None,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT):
        self.path = Path(path) if path is not None else default_store_path()
        self.user = user or default_user()
        self.catalog = catalog or default_catalog()
        self.busy_timeout = busy_timeout

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the store file for one operation (see `store_schema.open_store`)."""
        with open_store(self.path, write=write, busy_timeout=self.busy_timeout) as connection:
            yield connection

    # ------------------------------------------------------------ reading

    def names(self, object_kind: ObjectKind) -> list[VersionInfo]:
        """Return the current version of every saved list or rule that is not deleted, by name."""
        if not self.path.exists():
            return []
        with self.connect() as connection:
            rows = connection.execute(f"SELECT {_INFO_COLUMNS} FROM ({_LATEST}) WHERE NOT deleted ORDER BY lower(name)", [object_kind]).fetchall()
        return [_info(row) for row in rows]

    def get(self, object_kind: ObjectKind, name: str, version: int | None = None) -> SavedObject:
        """Return a saved list or rule: its current version, or version `version`; raise `NotFoundError`."""
        if not self.path.exists():
            raise _not_found(object_kind, name)
        with self.connect() as connection:
            return self.read(connection, object_kind, name, version)

    def get_list(self, name: str, version: int | None = None) -> SavedObject:
        return self.get("list", name, version)

    def get_rule(self, name: str, version: int | None = None) -> SavedObject:
        return self.get("rule", name, version)

    def history(self, object_kind: ObjectKind, name: str) -> list[VersionInfo]:
        """Return every version of a list or rule, deletions included, oldest first."""
        if not self.path.exists():
            raise _not_found(object_kind, name)
        with self.connect() as connection:
            canonical = _canonical_name(connection, object_kind, name)
            rows = connection.execute(f"SELECT {_INFO_COLUMNS} FROM versions WHERE object_kind = ? AND name = ? ORDER BY version",
                                      [object_kind, canonical]).fetchall()
        if not rows:
            raise _not_found(object_kind, name)
        return [_info(row) for row in rows]

    def rulebook(self) -> dict[str, str]:
        """Return the current saved rules as a name → text mapping, for `@name` references."""
        if not self.path.exists():
            return {}
        with self.connect() as connection:
            return current_rules(connection)

    # ------------------------------------------------------------ writing

    def save_list(self, name: str, text_: str, form: str | None = None) -> VersionInfo:
        """Validate a list definition (TOML or JSON text) strictly and save it as a new version.

        `form` is "toml" or "json" (default: JSON when the text starts with `{`).
        Saving the same text again adds no version and returns `changed=False`.
        """
        _check_name("list", name)
        form = form or ("json" if text_.lstrip().startswith("{") else "toml")
        if form not in ("toml", "json"):
            raise StoreError(Problem(_("unknown list format {form}: use toml or json", form=Quoted(form))))
        with self.connect(write=True) as connection:
            return self._save(connection, "list", name, text_, form, lambda rules: self._validate_list(text_, form, name, rules))

    def save_rule(self, name: str, text_: str) -> VersionInfo:
        """Compile a rule against the catalog and the saved rules, check its users still compile, and save it."""
        _check_name("rule", name)
        with self.connect(write=True) as connection:
            return self._save(connection, "rule", name, text_, "rule", lambda rules: self._validate_rule(connection, name, text_, rules))

    def delete(self, object_kind: ObjectKind, name: str) -> VersionInfo:
        """Mark a saved list or rule deleted (a new version), keeping its history.

        A rule that a saved list or rule uses cannot be deleted.
        """
        with self.connect(write=True) as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                current = self.read(connection, object_kind, name)
                if object_kind == "rule":
                    rules = current_rules(connection)
                    rules.pop(current.name)
                    problems = self._broken_users(connection, rules, current.name)
                    if problems:
                        raise StoreError(problems)
                info = _insert_version(connection, object_kind, current.name, current.version + 1, None, None, None, self.user, "deleted")
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        logger.info("deleted %s %r (version %d) by %s", object_kind, info.name, info.version, self.user)
        return info

    def delete_list(self, name: str) -> VersionInfo:
        return self.delete("list", name)

    def delete_rule(self, name: str) -> VersionInfo:
        return self.delete("rule", name)

    # ------------------------------------------------------------ internals

    def read(self, connection: duckdb.DuckDBPyConnection, object_kind: ObjectKind, name: str, version: int | None = None) -> SavedObject:
        """Like `get`, on a connection the caller opened with `connect`."""
        canonical = _canonical_name(connection, object_kind, name)
        if version is None:
            row = connection.execute(f"SELECT {_INFO_COLUMNS}, text, form, model FROM versions WHERE object_kind = ? AND name = ? "
                                     "ORDER BY version DESC LIMIT 1", [object_kind, canonical]).fetchall()
            if not row:
                raise _not_found(object_kind, name)
            saved = _saved(row[0])
            if saved.deleted:
                raise NotFoundError(Problem(_("the {object_kind} {name} was deleted in version {version}; earlier versions are in its history",
                                              object_kind=_KIND_WORDS[object_kind], name=Quoted(canonical), version=saved.version)))
            return saved
        row = connection.execute(f"SELECT {_INFO_COLUMNS}, text, form, model FROM versions WHERE object_kind = ? AND name = ? AND version = ?",
                                 [object_kind, canonical, version]).fetchall()
        if not row:
            raise NotFoundError(Problem(_("the {object_kind} {name} has no version {version}", object_kind=_KIND_WORDS[object_kind],
                                          name=Quoted(canonical), version=version)))
        return _saved(row[0])

    def _save(self, connection: duckdb.DuckDBPyConnection, object_kind: ObjectKind, name: str, text_: str, form: str, validate) -> VersionInfo:
        connection.execute("BEGIN TRANSACTION")
        try:
            canonical = _canonical_name(connection, object_kind, name)
            found = connection.execute("SELECT version, deleted, text, form FROM versions WHERE object_kind = ? AND name = ? "
                                       "ORDER BY version DESC LIMIT 1", [object_kind, canonical]).fetchall()
            latest = found[0] if found else None
            model = validate(current_rules(connection))
            if latest is not None and not latest[1] and latest[2] == text_ and latest[3] == form:
                connection.execute("ROLLBACK")
                current = self.read(connection, object_kind, canonical)
                return VersionInfo(**current.model_dump(include=set(VersionInfo.model_fields)) | {"changed": False})
            previous = connection.execute("SELECT model FROM versions WHERE object_kind = ? AND name = ? AND NOT deleted "
                                          "ORDER BY version DESC LIMIT 1", [object_kind, canonical]).fetchall()
            summary = _summary(object_kind, json.loads(previous[0][0]) if previous else None, model)
            if latest is not None and latest[1]:
                summary = "restored" if summary in ("layout", "created") else f"restored {summary}"
            version = latest[0] + 1 if latest else 1
            info = _insert_version(connection, object_kind, canonical, version, text_, form, model, self.user, summary)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        logger.info("saved %s %r version %d by %s: %s", object_kind, canonical, version, self.user, summary)
        return info

    def _validate_list(self, text_: str, form: str, name: str, rules: dict[str, str]) -> dict[str, Any]:
        from .resolve import _typed_exclusions, plan_sections

        definition = parse_definition(text_, form, origin=name)
        problems: list[Problem] = []
        try:
            plan_sections(definition, self.catalog, rules=rules)
        except ListDefinitionError as error:
            problems.extend(error.problems)
        problems.extend(_typed_exclusions(definition, self.catalog)[1])
        if problems:
            raise ListDefinitionError(problems)
        return definition.model_dump(mode="json")

    def _validate_rule(self, connection: duckdb.DuckDBPyConnection, name: str, text_: str, rules: dict[str, str]) -> dict[str, Any]:
        canonical = _canonical_name(connection, "rule", name)
        rules = {key: value for key, value in rules.items() if key != canonical} | {canonical: text_}
        compiled = compile_rule(text_, self.catalog, rules=rules)
        problems = self._broken_users(connection, rules, canonical)
        if problems:
            raise StoreError(problems)
        return {"entity": compiled.entity.name, "kind": compiled.kind.name if compiled.kind else None}

    def _broken_users(self, connection: duckdb.DuckDBPyConnection, rules: dict[str, str], rule_name: str) -> list[Problem]:
        """Problems of the saved lists and rules that compile now but would not with `rules` in place of the saved rules.

        Only the lists and rules whose text refers to `rule_name`, directly or
        through other rules, are compiled.
        """
        from .resolve import plan_sections

        before = current_rules(connection)
        affected = _referring_rules(before, rule_name)
        problems: list[Problem] = []
        for other, other_text in before.items():
            if other.lower() not in affected or other == rule_name:
                continue
            if _compiles(lambda book: compile_rule(other_text, self.catalog, rules=book), before) and \
                    not _compiles(lambda book: compile_rule(other_text, self.catalog, rules=book), rules):
                problems.append(Problem(_("the saved rule {user} uses the rule {name} and would no longer compile",
                                          user=Quoted(other), name=Quoted(rule_name))))
        for info in self._current(connection, "list"):
            definition = ListDefinition.model_validate(info.model)
            if not any(_references(section.rule or "") & affected for section in definition.sections):
                continue
            if _compiles(lambda book: plan_sections(definition, self.catalog, rules=book), before) and \
                    not _compiles(lambda book: plan_sections(definition, self.catalog, rules=book), rules):
                problems.append(Problem(_("the saved list {user} uses the rule {name} and would no longer compile",
                                          user=Quoted(info.name), name=Quoted(rule_name))))
        return problems

    def _current(self, connection: duckdb.DuckDBPyConnection, object_kind: ObjectKind) -> list[SavedObject]:
        rows = connection.execute(f"SELECT {_INFO_COLUMNS}, text, form, model FROM ({_LATEST}) WHERE NOT deleted ORDER BY lower(name)",
                                  [object_kind]).fetchall()
        return [_saved(row) for row in rows]


_INFO_COLUMNS = "object_kind, name, version, deleted, saved_by, saved_at, summary"

# The highest version of each list or rule of one kind (the `?` parameter), deleted ones included.
_LATEST = "SELECT * FROM versions WHERE object_kind = ? QUALIFY row_number() OVER (PARTITION BY name ORDER BY version DESC) = 1"

_KIND_WORDS = {"list": _("list"), "rule": _("rule")}


def _info(row) -> VersionInfo:
    return VersionInfo(object_kind=row[0], name=row[1], version=row[2], deleted=row[3], saved_by=row[4], saved_at=as_utc(row[5]), summary=row[6])


def _saved(row) -> SavedObject:
    return SavedObject(**_info(row).model_dump(), text=row[7], form=row[8], model=json.loads(row[9]) if row[9] is not None else None)


def _not_found(object_kind: ObjectKind, name: str) -> NotFoundError:
    return NotFoundError(Problem(_("no saved {object_kind} is named {name}", object_kind=_KIND_WORDS[object_kind], name=Quoted(name))))


def _check_name(object_kind: ObjectKind, name: str) -> None:
    if not _NAME_PATTERNS[object_kind].fullmatch(name):
        if object_kind == "rule":
            message = _("invalid rule name {name}: use letters, digits and _, starting with a letter (at most 100 characters)",
                        name=Quoted(name))
        else:
            message = _("invalid list name {name}: use letters, digits, _, - and . (at most 100 characters)", name=Quoted(name))
        raise StoreError(Problem(message))


def _canonical_name(connection: duckdb.DuckDBPyConnection, object_kind: ObjectKind, name: str) -> str:
    """Return the spelling under which `name` was first saved: names ignore case, as `@name` references do."""
    row = connection.execute("SELECT name FROM versions WHERE object_kind = ? AND lower(name) = lower(?) ORDER BY version LIMIT 1",
                             [object_kind, name]).fetchall()
    return row[0][0] if row else name


def current_rules(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = connection.execute(f"SELECT name, text FROM ({_LATEST}) WHERE NOT deleted ORDER BY name", ["rule"]).fetchall()
    return dict(rows)


_REFERENCE = re.compile(r"@([^\W\d]\w*)")


def _references(text_: str) -> set[str]:
    """Lower-cased names that a rule text refers to as `@name` (a comment may add a name that is not used)."""
    return {name.lower() for name in _REFERENCE.findall(text_)}


def _referring_rules(rules: dict[str, str], name: str) -> set[str]:
    """Lower-cased `name` and the names of the rules that refer to it, directly or through other rules."""
    affected = {name.lower()}
    while True:
        more = {other.lower() for other, other_text in rules.items() if _references(other_text) & affected} - affected
        if not more:
            return affected
        affected |= more


def _compiles(build, rules: dict[str, str]) -> bool:
    try:
        build(rules)
    except ErnestRulesError:
        return False
    return True


def _insert_version(connection: duckdb.DuckDBPyConnection, object_kind: ObjectKind, name: str, version: int, text_: str | None,
                    form: str | None, model: dict | None, user: str, summary: str) -> VersionInfo:
    saved_at = now_utc()
    connection.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [object_kind, name, version, text_ is None, text_, form, json.dumps(model, ensure_ascii=False) if model is not None else None,
                        user, saved_at, summary])
    return VersionInfo(object_kind=object_kind, name=name, version=version, deleted=text_ is None, saved_by=user,
                       saved_at=as_utc(saved_at), summary=summary)


# ---------------------------------------------------------------- change summaries


def _summary(object_kind: ObjectKind, before: dict | None, after: dict) -> str:
    if before is None:
        return "created"
    if object_kind == "rule":
        changed = [f"~{key}" for key in ("entity", "kind") if before.get(key) != after.get(key)]
        return " ".join(changed) or "~text"
    changes = _model_changes(before, after)
    return " ".join(changes) or "layout"


def _model_changes(before: dict, after: dict) -> list[str]:
    """Keys that differ between two list models: `~key` changed, `+key` added, `-key` removed."""
    changes: list[str] = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if key == "sections":
            changes.extend(_section_changes(old or [], new or []))
        elif key == "exclude":
            for kind in sorted(set(old or {}) | set(new or {})):
                changes.extend(_one_change(f"exclude.{kind}", (old or {}).get(kind), (new or {}).get(kind)))
        else:
            changes.extend(_one_change(key, old, new))
    return changes


def _section_changes(before: list[dict], after: list[dict]) -> list[str]:
    changes: list[str] = []
    for index in range(max(len(before), len(after))):
        label = f"sections[{index + 1}]"
        if index >= len(before):
            changes.append(f"+{label}")
        elif index >= len(after):
            changes.append(f"-{label}")
        else:
            for key in dict.fromkeys([*before[index], *after[index]]):
                changes.extend(_one_change(f"{label}.{key}", before[index].get(key), after[index].get(key)))
    return changes


def _one_change(key: str, old: Any, new: Any) -> list[str]:
    empty = (None, [], {}, "")
    if old == new or (old in empty and new in empty):
        return []
    if old in empty:
        return [f"+{key}"]
    if new in empty:
        return [f"-{key}"]
    return [f"~{key}"]


def summary_text(summary: str, lang: str | None = None) -> str:
    """Render a stored change summary as a short phrase in French or English."""
    words = summary.split()
    parts: list[str] = []
    if words[:1] == ["restored"]:
        parts.append(text("restored", lang))
        words = words[1:]
    simple = {"created": _("created"), "deleted": _("deleted"), "layout": _("layout or comments only"), "~text": _("rule changed")}
    for word in list(words):
        if word in simple:
            parts.append(simple[word].render(lang))
            words.remove(word)
    added = ", ".join(word[1:] for word in words if word.startswith("+"))
    changed = ", ".join(word[1:] for word in words if word.startswith("~"))
    removed = ", ".join(word[1:] for word in words if word.startswith("-"))
    if changed:
        parts.append(_("changed: {keys}", keys=changed).render(lang))
    if added:
        parts.append(_("added: {keys}", keys=added).render(lang))
    if removed:
        parts.append(_("removed: {keys}", keys=removed).render(lang))
    return "; ".join(parts)
