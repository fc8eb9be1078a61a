"""Completion of a rule being typed: keywords, entity, field and relation names, values and saved rules.

The text before the cursor is fed to Lark's interactive parser, whose
`accepts()` gives the token kinds that may come next. Keyword kinds map to
their English and French spellings. A NAME maps to the names valid at that
place, found by following the tokens: entities at the start of a query, and in
a condition the fields of the current entity. That entity is the collection's
entity inside `any candidatures where (…)` and the relation's target after
`societe.`. After a comparison operator or inside `in (…)`, the values present
in an export are offered for fields marked `few_values` in the catalog.

The word under the cursor is completed by prefix, ignoring case and accents.
`complete` never raises: text it cannot parse gives no completion.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping

from lark import Token
from lark.exceptions import LarkError

from .catalog import Catalog, EntitySpec, FieldSpec, default_catalog
from .export import Export
from .i18n import detect_language
from .parse import TOKEN_WORDS, parser
from .text import fold
from .warnings import present_values

logger = logging.getLogger("ernest_rules")

CompletionKind = Literal["keyword", "entity", "field", "relation", "collection", "value", "rule"]


@dataclass(frozen=True)
class Completion:
    """One proposal: `text` replaces the characters from `start` to the cursor."""

    kind: CompletionKind
    text: str
    label: str
    start: int = 0


# Spellings offered for each keyword token, English first. Lark's grammar accepts a few more
# French forms than TOKEN_WORDS lists (feminine forms, `contient au moins un de`).
KEYWORD_SPELLINGS: dict[str, tuple[str, ...]] = {
    **{name: words for name, words in TOKEN_WORDS.items() if name not in ("COMPARATOR", "SIGN")},
    "ANY": ("any", "au moins un", "au moins une"),
    "NO": ("no", "aucun", "aucune"),
    "CONTAINS_ANY": ("contains any", "contient l'un de", "contient au moins un de"),
    "CONTAINS_ALL": ("contains all", "contient tous", "contient toutes"),
    "COMPARATOR": ("=", "!=", "<", "<=", ">", ">="),
    "SIGN": ("+", "-"),
    "UNIT": ("days", "jours", "weeks", "semaines", "months", "mois", "years", "ans"),
}

# Order of keyword proposals: the likeliest next words first.
KEYWORD_ORDER = ["WHERE", "OF", "COMPARATOR", "EXACT", "IN", "NOT_IN", "BETWEEN", "IS_EMPTY", "IS_NOT_EMPTY", "CONTAINS",
                 "CONTAINS_ANY", "CONTAINS_ALL", "STARTS_WITH", "TODAY", "TRUE", "FALSE", "SIGN", "UNIT", "NOT", "ANY", "NO",
                 "AT_LEAST", "AT_MOST", "EXACTLY", "AND", "OR", "UNION", "EXCEPT", "INTERSECT", "LPAR", "RPAR", "COMMA", "DOT"]

ORDERED_TYPES = {"integer", "decimal", "date", "timestamp"}
TEXT_TYPES = {"text", "list"}
# Keyword tokens that only fit some field types, when the field before them is known.
_OPERATOR_TYPES = {
    "BETWEEN": ORDERED_TYPES,
    "CONTAINS": TEXT_TYPES,
    "CONTAINS_ANY": TEXT_TYPES,
    "CONTAINS_ALL": TEXT_TYPES,
    "STARTS_WITH": TEXT_TYPES,
}
_ORDERED_COMPARATORS = {"<", "<=", ">", ">="}
_VALUE_KEYWORD_TYPES = {"TRUE": {"boolean"}, "FALSE": {"boolean"}, "TODAY": {"date", "timestamp"}}
_QUANTIFIERS = {"ANY", "NO", "AT_LEAST", "AT_MOST", "EXACTLY"}
_LIST_OPENERS = {"IN", "NOT_IN", "CONTAINS_ANY", "CONTAINS_ALL"}
_VALUE_OPERATORS = {"COMPARATOR", "EXACT", "CONTAINS", "STARTS_WITH"}
_OPERATORS = _VALUE_OPERATORS | _LIST_OPENERS | {"BETWEEN", "IS_EMPTY", "IS_NOT_EMPTY"}

# The word being typed: letters, digits, _ and @, with apostrophes inside (n'est, aujourd'hui).
_WORD_AT_END = re.compile(r"[\w@]+(?:['’]\w+)*['’]?$")
MAX_KEYWORD_WORDS = 4
# Words of the keywords written in several words (`is not empty`, `au moins une`).
_PHRASE_WORDS = {fold(word) for spellings in KEYWORD_SPELLINGS.values() for spelling in spellings if " " in spelling
                 for word in spelling.split()}


def complete(text: str, cursor: int, catalog: Catalog | None = None, export: Export | None = None,
             rules: Mapping[str, str] | None = None, lang: str | None = None) -> list[Completion]:
    """Return what may be typed at `cursor` in `text`; an empty list when nothing fits or the text cannot be parsed.

    `export` enables value proposals, `rules` (saved rules by name) enables
    `@name` proposals, and `lang` sets the language of the labels.
    """
    try:
        return _complete(text, cursor, catalog, export, rules, detect_language(lang))
    except Exception:  # noqa: BLE001 - an editor helper must never fail on what the user is typing
        logger.debug("completion failed at %s", cursor, exc_info=True)
        return []


def _complete(text: str, cursor: int, catalog: Catalog | None, export: Export | None,
              rules: Mapping[str, str] | None, lang: str) -> list[Completion]:
    if not isinstance(text, str) or not isinstance(cursor, int) or not 0 <= cursor <= len(text):
        return []
    catalog = catalog or (export.catalog if export is not None else default_catalog())
    before = text[:cursor]
    if _in_comment(before):
        return []
    found: list[Completion] = []
    parsed = False
    for start, in_string in _partial_starts(before):
        if in_string and parsed:
            break  # The text before a plain word parsed, so every quote before it is closed.
        head, partial = before[:start], before[start:]
        scan = _scan(head, catalog)
        if scan is None:
            continue
        parsed = True
        found.extend(_proposals(scan, partial, in_string, start, catalog, export, rules, lang))
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------- the word being typed


def _partial_starts(before: str) -> list[tuple[int, bool]]:
    """Return where the text being completed may start: (offset, inside an open quote?), likeliest first.

    The last word comes first, then the last few words (for keywords of several
    words such as `is not empty`), then the last quotes that may open a text
    still being typed (the caller keeps those after which the rule parses).
    """
    starts: list[tuple[int, bool]] = []
    match = _WORD_AT_END.search(before)
    word_start = match.start() if match else len(before)
    starts.append((word_start, False))
    position = word_start
    for _words in range(MAX_KEYWORD_WORDS - 1):
        earlier = re.search(r"([\w'’]+)\s+$", before[:position]) if position else None
        # Parsing again is only worth it when the earlier word can begin or continue a keyword phrase.
        if earlier is None or fold(earlier.group(1).replace("’", "'")) not in _PHRASE_WORDS:
            break
        position = earlier.start()
        starts.append((position, False))
    starts += [(quote, True) for quote in _open_quotes(before)]
    return starts


def _open_quotes(text: str, limit: int = 3) -> list[int]:
    """Return the offsets of the last quotes that no later quote of the same kind closes, rightmost first."""
    found: list[int] = []
    for index in range(len(text) - 1, -1, -1):
        char = text[index]
        if char in "\"'" and not re.search(r"(?<!\\)(?:\\\\)*" + re.escape(char), text[index + 1:]):
            found.append(index)
            if len(found) == limit:
                break
    return found


def _in_comment(text: str) -> bool:
    """True when the end of `text` lies in a `#` comment (outside any quoted text).

    A quote right after a letter is an apostrophe (n'est, l'un, aujourd'hui), not the start of a text.
    """
    quote: str | None = None
    escaped = False
    in_comment = False
    previous = ""
    for char in text:
        if in_comment:
            in_comment = char != "\n"
        elif quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char == '"' or (char == "'" and not previous.isalnum()):
            quote = char
        elif char == "#":
            in_comment = True
        previous = char
    return in_comment


def _matches(candidate: str, partial: str) -> bool:
    """True when `candidate` starts with `partial`, ignoring case, accents and runs of spaces."""
    wanted = " ".join(fold(partial.replace("’", "'")).split())
    if partial[-1:].isspace() and wanted:
        wanted += " "
    return " ".join(fold(candidate).split()).startswith(wanted)


# ---------------------------------------------------------------- following the tokens


@dataclass(frozen=True)
class _FieldRef:
    entity: EntitySpec
    spec: FieldSpec


@dataclass
class _Frame:
    """An open parenthesis: a group of rules or conditions, a quantifier's condition, or a list of values."""

    kind: Literal["set", "group", "quantifier", "values"]
    outer_scope: EntitySpec | None
    compared: _FieldRef | None = None
    listed: list[str] = field(default_factory=list)


@dataclass
class _Scan:
    """The parser's position before the partial word: token kinds accepted next, current entity, open parentheses."""

    accepts: set[str]
    tokens: list[Token]
    mode: Literal["set", "target", "through", "condition"] = "set"
    scope: EntitySpec | None = None
    target: str | None = None
    path: list[str] = field(default_factory=list)
    path_scope: EntitySpec | None = None
    in_quantifier_path: bool = False
    operand: _FieldRef | None = None
    operator: str | None = None
    frames: list[_Frame] = field(default_factory=list)

    @property
    def last(self) -> str | None:
        return self.tokens[-1].type if self.tokens else None


def _scan(head: str, catalog: Catalog) -> _Scan | None:
    """Feed `head` to the interactive parser; None when it is not the start of a valid rule."""
    try:
        interactive = parser().parse_interactive(head)
        tokens = interactive.exhaust_lexer()
        accepts = set(interactive.accepts())
    except LarkError:
        return None
    scan = _Scan(accepts, tokens)
    for index, token in enumerate(tokens):
        previous = tokens[index - 1].type if index else None
        _step(scan, token, previous, catalog)
    return scan


def _step(scan: _Scan, token: Token, previous: str | None, catalog: Catalog) -> None:
    kind = token.type
    if kind in ("UNION", "EXCEPT", "INTERSECT"):
        scan.mode, scan.scope = "set", None
        return
    if kind == "RPAR":
        _close(scan)
        return
    if scan.mode == "set":
        if kind == "LPAR":
            scan.frames.append(_Frame("set", None))
        elif kind == "NAME":
            scan.mode, scan.target = "target", str(token)
            scan.scope = catalog.find_entity(str(token))
        return
    if scan.mode in ("target", "through"):
        if kind == "OF":
            scan.mode = "through"
        elif kind == "NAME":
            scan.scope = catalog.find_entity(str(token))
        elif kind == "WHERE":
            scan.mode = "condition"
        return
    _condition_step(scan, token, previous, catalog)


def _condition_step(scan: _Scan, token: Token, previous: str | None, catalog: Catalog) -> None:
    kind = token.type
    if kind == "NAME":
        if previous == "DOT":
            scan.path.append(str(token))
        else:
            scan.path, scan.path_scope = [str(token)], scan.scope
    elif kind in _QUANTIFIERS:
        scan.in_quantifier_path, scan.path = True, []
    elif kind in _OPERATORS:
        scan.operand = _resolve_field(catalog, scan.path_scope, scan.path)
        scan.operator = str(token).strip()
        scan.path = []
    elif kind == "LPAR":
        if previous == "WHERE":
            child = _resolve_collection(catalog, scan.path_scope, scan.path)
            scan.frames.append(_Frame("quantifier", scan.scope))
            scan.scope, scan.in_quantifier_path, scan.path = child, False, []
        elif previous in _LIST_OPENERS:
            scan.frames.append(_Frame("values", scan.scope, scan.operand))
        else:
            scan.frames.append(_Frame("group", scan.scope))
    elif kind == "STRING" and scan.frames and scan.frames[-1].kind == "values":
        scan.frames[-1].listed.append(fold(str(token)[1:-1]))
    elif kind in ("AND", "OR", "NOT"):
        scan.path = []


def _close(scan: _Scan) -> None:
    if not scan.frames:
        return
    frame = scan.frames.pop()
    if frame.kind == "set":
        scan.mode, scan.scope = "set", None
    else:
        scan.scope = frame.outer_scope
    scan.path, scan.in_quantifier_path = [], False


def _follow(catalog: Catalog, scope: EntitySpec | None, steps: Iterable[str]) -> EntitySpec | None:
    entity = scope
    for step in steps:
        if entity is None:
            return None
        relation = entity.find_relation(step)
        entity = catalog.find_entity(relation.target) if relation is not None else None
    return entity


def _resolve_field(catalog: Catalog, scope: EntitySpec | None, path: list[str]) -> _FieldRef | None:
    if not path:
        return None
    entity = _follow(catalog, scope, path[:-1])
    spec = entity.find_field(path[-1]) if entity is not None else None
    return _FieldRef(entity, spec) if entity is not None and spec is not None else None


def _resolve_collection(catalog: Catalog, scope: EntitySpec | None, path: list[str]) -> EntitySpec | None:
    if not path:
        return None
    owner = _follow(catalog, scope, path[:-1])
    collection = owner.find_collection(path[-1]) if owner is not None else None
    return catalog.find_entity(collection.entity) if collection is not None else None


# ---------------------------------------------------------------- proposals


def _proposals(scan: _Scan, partial: str, in_string: bool, start: int, catalog: Catalog, export: Export | None,
               rules: Mapping[str, str] | None, lang: str) -> list[Completion]:
    accepts = scan.accepts
    if in_string:
        # Inside an open quote only a value can follow; the proposal replaces the opening quote too.
        typed = re.sub(r"\\(.)", r"\1", partial[1:], flags=re.S)
        return _values(scan, typed, start, export) if "STRING" in accepts else []
    several_words = bool(re.search(r"\s", partial))
    proposals: list[Completion] = []
    if not several_words:
        if "STRING" in accepts:
            proposals += _values(scan, partial, start, export)
        if "NAME" in accepts:
            proposals += [item for item in _names(scan, catalog, start, lang) if _matches(item.text, partial)]
        if "REFERENCE" in accepts and rules:
            proposals += [Completion("rule", f"@{name}", f"@{name}", start) for name in rules if _matches(f"@{name}", partial)]
    typed = _typed_field(scan, catalog)
    for token in KEYWORD_ORDER:
        if token not in accepts or not _keyword_fits(scan, catalog, token, typed):
            continue
        for spelling in KEYWORD_SPELLINGS.get(token, ()):
            if several_words and " " not in spelling:
                continue
            if token == "COMPARATOR" and spelling in _ORDERED_COMPARATORS and typed is not None and typed.spec.type not in ORDERED_TYPES:
                continue
            if _matches(spelling, partial):
                proposals.append(Completion("keyword", spelling, spelling, start))
    return proposals


def _keyword_fits(scan: _Scan, catalog: Catalog, token: str, typed: _FieldRef | None) -> bool:
    """False for keywords that cannot apply to the field known at this place (`between` after a text field)."""
    if token in _OPERATOR_TYPES:
        return typed is None or typed.spec.type in _OPERATOR_TYPES[token]
    if token in _VALUE_KEYWORD_TYPES:
        target = _value_field(scan)
        return target is None or target.spec.type in _VALUE_KEYWORD_TYPES[token]
    if token == "RPAR" and scan.last == "LPAR" and scan.frames and scan.frames[-1].kind == "values":
        return False  # An empty list of values is an error.
    if token == "DOT" and scan.mode == "condition" and scan.path:
        # A dot only follows a relation (`societe.`), never a field.
        owner = _follow(catalog, scan.path_scope, scan.path[:-1])
        return owner is None or owner.find_relation(scan.path[-1]) is not None
    return True


def _typed_field(scan: _Scan, catalog: Catalog) -> _FieldRef | None:
    """Resolve the field whose path ends the text of a condition (`statut` in `candidats where statut `), if any."""
    if scan.mode != "condition" or scan.last != "NAME" or scan.in_quantifier_path:
        return None
    return _resolve_field(catalog, scan.path_scope, scan.path)


def _value_field(scan: _Scan) -> _FieldRef | None:
    """Return the field a value typed here is compared with, if known."""
    if scan.frames and scan.frames[-1].kind == "values" and scan.last in ("LPAR", "COMMA"):
        return scan.frames[-1].compared
    # After AND this is the second bound of `between`; after a conjunction no value is accepted anyway.
    if scan.last in _VALUE_OPERATORS or scan.last == "BETWEEN" or scan.last == "AND":
        return scan.operand
    return None


def _values(scan: _Scan, partial: str, start: int, export: Export | None) -> list[Completion]:
    """Propose the values of a `few_values` field present in the export, quoted, most frequent first."""
    if export is None or scan.last not in (_VALUE_OPERATORS | {"LPAR", "COMMA"}):
        return []
    if scan.last == "COMPARATOR" and scan.operator not in ("=", "!=", "<>"):
        return []  # `<` and `>` apply to numbers and dates only.
    target = _value_field(scan)
    if target is None or not target.spec.few_values or target.spec.type not in TEXT_TYPES:
        return []
    listed = set(scan.frames[-1].listed) if scan.frames and scan.frames[-1].kind == "values" else set()
    present = present_values(export, target.entity, target.spec)
    proposals = []
    for value in present.ordered():
        if fold(value) in listed or not _matches(value, partial):
            continue
        proposals.append(Completion("value", _quote(value), value, start))
    return proposals


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _names(scan: _Scan, catalog: Catalog, start: int, lang: str) -> list[Completion]:
    """List the names a NAME token may be here: entities, fields, relations or collections."""

    def proposal(kind: CompletionKind, name: str, spec) -> Completion:
        return Completion(kind, f"{name}." if kind == "relation" else name, f"{name} ({_label(spec, lang)})", start)

    if scan.mode == "set":
        entities = [proposal("entity", entity.name, entity) for entity in catalog.entities]
        kinds = [proposal("entity", kind.name, kind) for kind in catalog.referent_kinds()]
        return entities + kinds
    if scan.mode == "through":
        kind = catalog.find_kind(scan.target or "")
        throughs = [kind.through] if kind is not None and kind.through else [k.through for k in catalog.referent_kinds()]
        return [proposal("entity", name, catalog.entity(name)) for name in dict.fromkeys(throughs) if name]
    if scan.mode != "condition":
        return []
    if scan.last == "DOT":
        entity = _follow(catalog, scan.path_scope, scan.path)
    else:
        entity = scan.scope
    if entity is None:
        return []
    relations = [proposal("relation", relation.name, relation) for relation in entity.relations]
    collections = [proposal("collection", item.name, item) for item in entity.collections]
    if scan.in_quantifier_path:
        # After `any` (or `au moins 2`) comes a list of related rows, possibly after to-one relations.
        return collections + relations
    fields = [proposal("field", spec.name, spec) for spec in entity.fields]
    return fields + relations


def _label(spec, lang: str) -> str:
    return spec.label_fr if lang == "fr" else spec.label_en
