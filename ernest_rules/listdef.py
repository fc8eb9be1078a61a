"""List definitions: a title, an optional description and sections of recipients.

A definition is written in TOML by people and in JSON by programs; both are
validated by the same pydantic model. Validation errors name the file, the key
and, for TOML and JSON, the line where the key sits.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ListDefinitionError, Problem
from .i18n import Message, Quoted, _

SECTION_KINDS = ("candidats", "contacts", "societes", "referents_rh", "referents_operationnels")


class Section(BaseModel):
    """Recipients of one kind: ids chosen by hand, the rows a rule selects, or both."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    manual: list[int | str] = Field(default_factory=list)
    rule: str | None = None
    label: str | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        from .text import fold_name

        folded = fold_name(value)
        for kind in SECTION_KINDS:
            if folded == kind:
                return kind
        raise ValueError("unknown_kind")

    @field_validator("manual", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, list) and any(isinstance(item, (bool, float)) for item in value):
            raise ValueError("manual_type")
        return value

    @model_validator(mode="after")
    def _has_recipients(self) -> "Section":
        if not self.manual and not (self.rule and self.rule.strip()):
            raise ValueError("empty_section")
        return self


class ListDefinition(BaseModel):
    """A mailing list (liste de diffusion) as the user wrote it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    description: str | None = None
    sections: list[Section] = Field(min_length=1)
    purpose: str | None = Field(None, description="Purpose name from the catalog; none means consent is required.")
    dedup: Literal["address", "person"] = "address"
    exclude: dict[str, list[int | str]] = Field(default_factory=dict, description="Ids kept out, by kind or entity name.")
    include_inactive_users: bool = False
    max_share: float | None = Field(None, gt=0, le=1, description="Largest share of a kind a section may select without allow_all.")

    @field_validator("exclude", mode="before")
    @classmethod
    def _exclude_ids(cls, value: Any) -> Any:
        if isinstance(value, dict) and any(isinstance(item, (bool, float)) for ids in value.values() if isinstance(ids, list) for item in ids):
            raise ValueError("manual_type")
        return value

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank_title")
        return value


_CUSTOM_ERRORS: dict[str, Message] = {
    "unknown_kind": _("unknown recipient kind; use one of {kinds}", kinds=[Quoted(kind) for kind in SECTION_KINDS]),
    "manual_type": _("manual ids must be integers or texts"),
    "empty_section": _("the section has neither manual ids nor a rule"),
    "blank_title": _("the title is blank"),
}


def load_definition(path: str | Path) -> ListDefinition:
    """Read a list definition from a .toml or .json file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ListDefinitionError(Problem(_("the list file {file} does not exist", file=Quoted(path)))) from None
    except IsADirectoryError:
        raise ListDefinitionError(Problem(_("{file} is a folder, not a list file: give a .toml or .json file", file=Quoted(path)))) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise ListDefinitionError(Problem(_("the list file is not UTF-8 text (byte {position}): save it as UTF-8", position=error.start),
                                          line=line, column=column, origin=str(path))) from None
    except OSError as error:
        raise ListDefinitionError(Problem(_("cannot read the list file: {reason}", reason=str(error)), origin=str(path))) from None
    form = "json" if path.suffix.lower() == ".json" else "toml"
    return parse_definition(text, form, origin=str(path))


def parse_definition(text: str, form: str = "toml", origin: str = "<list>") -> ListDefinition:
    """Parse and validate a list definition given as TOML or JSON text."""
    try:
        data = json.loads(text) if form == "json" else tomllib.loads(text)
    except json.JSONDecodeError as error:
        raise ListDefinitionError(Problem(_("invalid JSON: {reason}", reason=error.msg), line=error.lineno, column=error.colno,
                                          source=text, origin=origin)) from None
    except tomllib.TOMLDecodeError as error:
        line, column = _toml_error_position(str(error))
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise ListDefinitionError(Problem(_("invalid TOML: {reason}", reason=reason), line=line, column=column,
                                          source=text, origin=origin)) from None
    return validate_definition(data, text=text, origin=origin)


def validate_definition(data: Any, *, text: str | None = None, origin: str = "<list>") -> ListDefinition:
    """Validate already-decoded data (a dict from TOML, JSON or a program)."""
    if isinstance(data, ListDefinition):
        return data
    if not isinstance(data, dict):
        raise ListDefinitionError(Problem(_("a list definition must be a table of keys (title, description, sections)"), origin=origin))
    try:
        return ListDefinition.model_validate(data)
    except ValidationError as error:
        problems = [_problem(item, text, origin) for item in error.errors()]
        raise ListDefinitionError(problems) from None


def _problem(item: dict, text: str | None, origin: str) -> Problem:
    location = [part for part in item["loc"] if not (isinstance(part, str) and part in ("int", "str"))]
    key = _key_path(location)
    kind = item["type"]
    if kind == "missing":
        message = _("missing key {key}", key=Quoted(key))
    elif kind == "extra_forbidden":
        message = _("unknown key {key}", key=Quoted(key))
    elif kind == "literal_error":
        choices = [Quoted(choice.strip(" '")) for choice in str(item.get("ctx", {}).get("expected", "")).replace(" or ", ", ").split(", ")]
        message = _("{key} must be one of {choices}, not {value}", key=Quoted(key), choices=choices, value=Quoted(_short(item.get("input"))))
    elif kind in ("less_than_equal", "less_than", "greater_than", "greater_than_equal"):
        limits = item.get("ctx", {})
        bound = limits.get("le", limits.get("lt", limits.get("gt", limits.get("ge"))))
        template = (_("{key} must be at most {bound}, not {value}") if kind.startswith("less")
                    else _("{key} must be more than {bound}, not {value}"))
        message = _(template.msgid, key=Quoted(key), bound=bound, value=Quoted(_short(item.get("input"))))
    elif kind.startswith("bool_"):
        message = _("{key} must be true or false, not {value}", key=Quoted(key), value=Quoted(_short(item.get("input"))))
    elif kind == "value_error" and str(item.get("ctx", {}).get("error", "")) in _CUSTOM_ERRORS:
        message = _("{key}: {reason}", key=Quoted(key), reason=_CUSTOM_ERRORS[str(item["ctx"]["error"])])
    elif kind in ("string_too_short", "too_short"):
        message = _("{key} must not be empty", key=Quoted(key))
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        expected = _TYPE_WORDS.get(kind.split("_")[0], Quoted(kind.split("_")[0]))
        message = _("{key} has the wrong type: expected {expected}, found {value}", key=Quoted(key), expected=expected,
                    value=Quoted(_short(item.get("input"))))
    else:
        message = _("{key} is invalid: {reason}", key=Quoted(key), reason=item["msg"])
    line = _find_line(text, location) if text else None
    return Problem(message, line=line, column=1 if line else None, source=text if line else None, origin=origin)


_TYPE_WORDS = {
    "string": _("a text"),
    "list": _("a list"),
    "int": _("an integer"),
    "dict": _("a table"),
    "model": _("a table"),
}


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "…"


def _key_path(location: list) -> str:
    parts: list[str] = []
    for part in location:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part + 1}]"] if parts else [f"[{part + 1}]"]
        else:
            parts.append(str(part))
    return ".".join(parts) or "/"


def _toml_error_position(message: str) -> tuple[int | None, int | None]:
    match = re.search(r"line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def _find_line(text: str, location: list) -> int | None:
    """Best-effort line of a key: the n-th `[[sections]]` (or JSON object) then the key after it."""
    lines = text.splitlines()
    start = 0
    keys = [part for part in location if isinstance(part, str)]
    if location[:1] == ["sections"] and len(location) > 1 and isinstance(location[1], int):
        headers = [number for number, line in enumerate(lines) if re.match(r"\s*\[\[\s*sections\s*\]\]", line)]
        if location[1] < len(headers):
            start = headers[location[1]]
        keys = [part for part in location[2:] if isinstance(part, str)]
    if not keys:
        return start + 1 if start else None
    pattern = re.compile(r'^\s*"?' + re.escape(keys[0]) + r'"?\s*[=:]')
    for number in range(start, len(lines)):
        if pattern.search(lines[number]):
            return number + 1
    return start + 1 if start else None
