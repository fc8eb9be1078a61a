"""The syntax tree of a rule as JSON, for a visual rule editor.

Shape, version 1 (every key below is required unless marked optional):

    {"version": 1, "rule": RULE}

RULE is one of

    {"node": "query", "target": "candidats", "through": null, "where": CONDITION or null}
        (`through` names the entity of `referents_rh of offres`: target "referents_rh", through "offres")
    {"node": "set_operation", "operator": "union" | "except" | "intersect", "left": RULE, "right": RULE}
    {"node": "reference", "name": "dev_disponibles"}                 (the saved rule `@dev_disponibles`)

CONDITION is one of

    {"node": "and", "operands": [CONDITION, CONDITION, …]}           (2 operands or more)
    {"node": "or", "operands": [CONDITION, CONDITION, …]}            (2 operands or more)
    {"node": "not", "operand": CONDITION}
    {"node": "comparison", "field": FIELD, "operator": "=" | "!=" | "<" | "<=" | ">" | ">=" | "==", "value": VALUE}
    {"node": "membership", "field": FIELD, "negated": false, "values": [VALUE, …]}    (`in`; negated: `not in`)
    {"node": "emptiness", "field": FIELD, "negated": false}           (`is empty`; negated: `is not empty`)
    {"node": "text_match", "field": FIELD, "mode": "contains" | "starts_with", "value": VALUE}
    {"node": "list_match", "field": FIELD, "mode": "any" | "all", "values": [VALUE, …]}  (`contains any/all`)
    {"node": "between", "field": FIELD, "low": VALUE, "high": VALUE}
    {"node": "quantified", "quantifier": "any" | "no" | "at_least" | "at_most" | "exactly", "count": 2,
     "relation": FIELD, "where": CONDITION or null}
        (`count` is optional for "any" (always 1) and "no" (always 0))
    {"node": "truth", "field": FIELD}                                 (a bare boolean field)

FIELD is the list of the names of a dotted path: `societe.secteur` is ["societe", "secteur"].

VALUE is {"type": T, "value": V}:

    "text"     a JSON string                      {"type": "text", "value": "Dev"}
    "integer"  a JSON integer                     {"type": "integer", "value": 3}
    "decimal"  a string, to keep every digit      {"type": "decimal", "value": "12.50"}
    "boolean"  true or false                      {"type": "boolean", "value": true}
    "date"     an ISO date string                 {"type": "date", "value": "2025-03-10"}
               or a relative date                 {"type": "date", "value": {"today": true, "shifts": [
                                                       {"amount": -30, "unit": "day"}]}}
                                                  {"type": "date", "value": {"base": "2025-01-31", "shifts": [
                                                       {"amount": 1, "unit": "month"}]}}
               (units: day, week, month, year; a relative date has either "today": true or a "base" date,
               and a base date needs at least one shift)

Names (targets, references, field parts) follow the grammar: a letter or `_`, then letters, digits or `_`.

Places in the rule text are optional and written by `to_json(rule, spans=True)`. Every node and VALUE may contain
`"span": {"line": 1, "column": 17, "start": 16, "end": 22}`, with a 1-based line and column and 0-based offsets.
The names of a query have theirs under "target_span" and "through_span". A FIELD has its span under "<key>_span"
(the whole path) and "<key>_part_spans" (one per name), for example "field_span" and "field_part_spans", or
"relation_span". A node read without a span gets the empty span `Span(1, 1, 0, 0)`.

`from_json` checks the whole document and raises `TreeJsonError` listing each problem with its JSON path
(`$.rule.where.operands[1].field`): unknown node type, missing or unknown key (unknown keys are rejected so that a
misspelt optional key such as "wehre" cannot silently drop a condition), wrong type, unknown operator. Both
directions walk the tree with an explicit stack, so the deepest rule the parser accepts converts without hitting
Python's recursion limit.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from . import syntax as s
from .errors import ErnestRulesError, Problem
from .i18n import Message, Quoted, _

VERSION = 1
ZERO_SPAN = s.Span(1, 1, 0, 0)
MAX_PROBLEMS = 20

RULE_NODES = ("query", "set_operation", "reference")
CONDITION_NODES = ("and", "or", "not", "comparison", "membership", "emptiness", "text_match", "list_match", "between",
                   "quantified", "truth")
SET_OPERATORS = ("union", "except", "intersect")
COMPARATORS = ("=", "!=", "<", "<=", ">", ">=", "==")
TEXT_MODES = ("contains", "starts_with")
LIST_MODES = ("any", "all")
QUANTIFIERS = ("any", "no", "at_least", "at_most", "exactly")
FIXED_COUNTS = {"any": 1, "no": 0}
LITERAL_TYPES = ("text", "integer", "decimal", "boolean", "date")
UNITS = ("day", "week", "month", "year")

_NAME = re.compile(r"[^\W\d]\w*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"-?\d+\.\d+")


class TreeJsonError(ErnestRulesError):
    """A JSON syntax tree is invalid; each problem's `origin` is the JSON path of the faulty place."""


# ---------------------------------------------------------------- tree → JSON


def to_json(rule: s.Rule, *, spans: bool = False) -> dict:
    """Return the versioned JSON document of a syntax tree (plain dicts, lists, strings, numbers)."""
    writer = _Writer(spans)
    order = []
    stack = [rule]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(_children(node))
    # Reversed pre-order visits every child before its parent.
    for node in reversed(order):
        writer.done[id(node)] = writer.node(node)
    return {"version": VERSION, "rule": writer.done[id(rule)]}


def dumps(rule: s.Rule, *, spans: bool = False, indent: int | None = 2) -> str:
    """Return the JSON text of a syntax tree.

    `to_json` handles any depth, but the standard `json` encoder recurses: a tree nested about a thousand levels
    deep (a chain of a thousand `not`, say) raises `TreeJsonError` here instead of a `RecursionError`.
    """
    try:
        return json.dumps(to_json(rule, spans=spans), ensure_ascii=False, indent=indent)
    except RecursionError:
        raise TreeJsonError(Problem(_("the syntax tree is nested too deeply"))) from None


def _children(node) -> list:
    return s.children(node)


def _span_json(span: s.Span) -> dict:
    return {"line": span.line, "column": span.column, "start": span.start, "end": span.end}


class _Writer:
    def __init__(self, spans: bool):
        self.spans = spans
        self.done: dict[int, dict] = {}

    def built(self, node) -> dict | None:
        return None if node is None else self.done[id(node)]

    def node(self, node) -> dict:
        data = self._fields(node)
        if self.spans:
            data["span"] = _span_json(node.span)
        return data

    def _fields(self, node) -> dict:
        if isinstance(node, s.Query):
            data = {"node": "query", "target": node.target.text, "through": node.through.text if node.through else None,
                    "where": self.built(node.where)}
            if self.spans:
                data["target_span"] = _span_json(node.target.span)
                if node.through is not None:
                    data["through_span"] = _span_json(node.through.span)
            return data

        if isinstance(node, s.SetOperation):
            return {"node": "set_operation", "operator": node.operator, "left": self.built(node.left), "right": self.built(node.right)}
        if isinstance(node, s.Reference):
            return {"node": "reference", "name": node.name}
        if isinstance(node, (s.And, s.Or)):
            return {"node": "and" if isinstance(node, s.And) else "or", "operands": [self.built(operand) for operand in node.operands]}
        if isinstance(node, s.Not):
            return {"node": "not", "operand": self.built(node.operand)}
        if isinstance(node, s.Quantified):
            data = {"node": "quantified", "quantifier": node.quantifier, "count": node.count}
            data.update(self.field("relation", node.relation))
            data["where"] = self.built(node.where)
            return data

        if isinstance(node, s.Comparison):
            return {"node": "comparison", **self.field("field", node.field), "operator": node.operator, "value": self.literal(node.value)}
        if isinstance(node, s.Membership):
            return {"node": "membership", **self.field("field", node.field), "negated": node.negated,
                    "values": [self.literal(value) for value in node.values]}
        if isinstance(node, s.Emptiness):
            return {"node": "emptiness", **self.field("field", node.field), "negated": node.negated}
        if isinstance(node, s.TextMatch):
            return {"node": "text_match", **self.field("field", node.field), "mode": node.mode, "value": self.literal(node.value)}
        if isinstance(node, s.ListMatch):
            return {"node": "list_match", **self.field("field", node.field), "mode": node.mode,
                    "values": [self.literal(value) for value in node.values]}
        if isinstance(node, s.Between):
            return {"node": "between", **self.field("field", node.field), "low": self.literal(node.low), "high": self.literal(node.high)}
        if isinstance(node, s.Truth):
            return {"node": "truth", **self.field("field", node.field)}
        raise TypeError(f"not a syntax node: {node!r}")

    def field(self, key: str, path: s.FieldPath) -> dict:
        data: dict[str, Any] = {key: [part.text for part in path.parts]}
        if self.spans:
            data[f"{key}_span"] = _span_json(path.span)
            data[f"{key}_part_spans"] = [_span_json(part.span) for part in path.parts]
        return data

    def literal(self, literal: s.Literal) -> dict:
        value = literal.value
        if literal.type == "decimal":
            value = format(Decimal(value), "f")
        elif literal.type == "date":
            value = _date_json(value)
        data = {"type": literal.type, "value": value}
        if self.spans:
            data["span"] = _span_json(literal.span)
        return data


def _date_json(value: dt.date | s.RelativeDate):
    if isinstance(value, dt.date):
        return value.isoformat()
    data: dict[str, Any] = {"today": True} if value.base is None else {"base": value.base.isoformat()}
    data["shifts"] = [{"amount": amount, "unit": unit} for amount, unit in value.shifts]
    return data


# ---------------------------------------------------------------- JSON → tree


def from_json(data: Any) -> s.Rule:
    """Build a syntax tree from its JSON document; raise `TreeJsonError` naming the JSON path of every problem."""
    reader = _Reader()
    rule = reader.document(data)
    if reader.problems:
        raise TreeJsonError(reader.problems)
    return rule


def loads(source: str | bytes) -> s.Rule:
    """Build a syntax tree from JSON text."""
    try:
        data = json.loads(source)
    except json.JSONDecodeError as error:
        decoded = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
        raise TreeJsonError(Problem(_("the syntax tree is not valid JSON: {error}", error=error.msg), line=error.lineno,
                                    column=error.colno, source=decoded)) from None
    except RecursionError:
        raise TreeJsonError(Problem(_("the syntax tree is nested too deeply"))) from None
    return from_json(data)


class _Invalid(Exception):
    """Raised inside the reader to abandon the current node after recording its problem."""


# Keys of each node: (required, optional); "span" is optional everywhere.
_NODE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "query": (("node", "target"), ("through", "where", "target_span", "through_span")),
    "set_operation": (("node", "operator", "left", "right"), ()),
    "reference": (("node", "name"), ()),
    "and": (("node", "operands"), ()),
    "or": (("node", "operands"), ()),
    "not": (("node", "operand"), ()),
    "comparison": (("node", "field", "operator", "value"), ("field_span", "field_part_spans")),
    "membership": (("node", "field", "negated", "values"), ("field_span", "field_part_spans")),
    "emptiness": (("node", "field", "negated"), ("field_span", "field_part_spans")),
    "text_match": (("node", "field", "mode", "value"), ("field_span", "field_part_spans")),
    "list_match": (("node", "field", "mode", "values"), ("field_span", "field_part_spans")),
    "between": (("node", "field", "low", "high"), ("field_span", "field_part_spans")),
    "quantified": (("node", "quantifier", "relation"), ("count", "where", "relation_span", "relation_part_spans")),
    "truth": (("node", "field"), ("field_span", "field_part_spans")),
}


def _snippet(value: Any) -> str:
    """Short JSON text of a value, for messages."""
    try:
        written = json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        written = repr(value)
    return written if len(written) <= 40 else written[:39] + "…"


class _Reader:
    def __init__(self):
        self.problems: list[Problem] = []

    # ------------------------------------------------------------ problems

    def fail(self, path: str, message: Message):
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(message, origin=path))
        raise _Invalid

    def expected(self, path: str, expected: Message, value: Any):
        self.fail(path, _("expected {expected}, found {value}", expected=expected, value=_snippet(value)))

    def choice(self, path: str, value: Any, choices: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in choices:
            self.fail(path, _("{value} is not one of {choices}", value=_snippet(value), choices=", ".join(choices)))
        return value

    # ------------------------------------------------------------ document

    def document(self, data: Any) -> s.Rule | None:
        try:
            self.keys("$", data, ("version", "rule"), ())
        except _Invalid:
            return None
        try:
            version = data["version"]
            if type(version) is not int or version != VERSION:
                self.fail("$.version", _("unsupported version {value}; expected {expected}", value=_snippet(version), expected=VERSION))
        except _Invalid:
            pass
        return self.tree(data["rule"], "$.rule")

    def keys(self, path: str, data: Any, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
        if not isinstance(data, dict):
            self.expected(path, _("an object"), data)
        for key in data:
            if key not in required and key not in optional:
                self.fail(path, _("unknown key {key}", key=Quoted(key)))
        for key in required:
            if key not in data:
                self.fail(path, _("missing key {key}", key=Quoted(key)))
        return data

    def tree(self, root: Any, root_path: str) -> s.Rule | None:
        """Check every node with an explicit stack, then build the nodes children first."""
        pending: list[tuple[str, str, dict, list[str]]] = []  # (path, node type, checked leaves, child paths)
        stack: list[tuple[Any, str, tuple[str, ...]]] = [(root, root_path, RULE_NODES)]
        while stack:
            data, path, allowed = stack.pop()
            try:
                kind, leaves, children = self.check_node(data, path, allowed)
            except _Invalid:
                continue
            pending.append((path, kind, leaves, [child_path for _child, child_path, _allowed in children]))
            stack.extend(reversed(children))
        if self.problems:
            return None
        built: dict[str, Any] = {}
        for path, kind, leaves, child_paths in reversed(pending):
            built[path] = _build(kind, leaves, [built[child] for child in child_paths])
        return built[root_path]

    # ------------------------------------------------------------ nodes

    def check_node(self, data: Any, path: str, allowed: tuple[str, ...]):
        """Check one node except its sub-nodes; return its type, its leaf values and its sub-nodes to check."""
        if not isinstance(data, dict):
            self.expected(path, _("an object"), data)
        if "node" not in data:
            self.fail(path, _("missing key {key}", key=Quoted("node")))
        kind = data["node"]
        if not isinstance(kind, str) or kind not in allowed:
            self.fail(f"{path}.node", _("unknown node type {value}; expected one of {choices}", value=_snippet(kind),
                                        choices=", ".join(allowed)))
        required, optional = _NODE_KEYS[kind]
        self.keys(path, data, required, optional + ("span",))
        leaves: dict[str, Any] = {"span": self.span(data, "span", path)}
        children: list[tuple[Any, str, tuple[str, ...]]] = []

        def condition(key: str, nullable: bool = False) -> None:
            value = data.get(key)
            if value is None and nullable:
                return
            children.append((value, f"{path}.{key}", CONDITION_NODES))

        if kind == "query":
            leaves["target"] = self.name(data, "target", path)
            leaves["through"] = None if data.get("through") is None else self.name(data, "through", path)
            condition("where", nullable=True)
        elif kind == "set_operation":
            leaves["operator"] = self.choice(f"{path}.operator", data["operator"], SET_OPERATORS)
            children.append((data["left"], f"{path}.left", RULE_NODES))
            children.append((data["right"], f"{path}.right", RULE_NODES))
        elif kind == "reference":
            leaves["name"] = self.name_text(data["name"], f"{path}.name")
        elif kind in ("and", "or"):
            operands = data["operands"]
            if not isinstance(operands, list):
                self.expected(f"{path}.operands", _("a list"), operands)
            if len(operands) < 2:
                self.fail(f"{path}.operands", _("{node} needs at least 2 operands, found {count}", node=Quoted(kind), count=len(operands)))
            children.extend((operand, f"{path}.operands[{index}]", CONDITION_NODES) for index, operand in enumerate(operands))
        elif kind == "not":
            condition("operand")
        elif kind == "quantified":
            quantifier = leaves["quantifier"] = self.choice(f"{path}.quantifier", data["quantifier"], QUANTIFIERS)
            leaves["count"] = self.count(data, path, quantifier)
            leaves["relation"] = self.field(data, "relation", path)
            condition("where", nullable=True)
        else:
            leaves["field"] = self.field(data, "field", path)
            if kind == "comparison":
                leaves["operator"] = self.choice(f"{path}.operator", data["operator"], COMPARATORS)
                leaves["value"] = self.literal(data["value"], f"{path}.value")
            elif kind in ("membership", "list_match"):
                if kind == "membership":
                    leaves["negated"] = self.boolean(data["negated"], f"{path}.negated")
                else:
                    leaves["mode"] = self.choice(f"{path}.mode", data["mode"], LIST_MODES)
                values = data["values"]
                if not isinstance(values, list):
                    self.expected(f"{path}.values", _("a list"), values)
                leaves["values"] = tuple(self.literal(value, f"{path}.values[{index}]") for index, value in enumerate(values))
            elif kind == "emptiness":
                leaves["negated"] = self.boolean(data["negated"], f"{path}.negated")
            elif kind == "text_match":
                leaves["mode"] = self.choice(f"{path}.mode", data["mode"], TEXT_MODES)
                leaves["value"] = self.literal(data["value"], f"{path}.value")
            elif kind == "between":
                leaves["low"] = self.literal(data["low"], f"{path}.low")
                leaves["high"] = self.literal(data["high"], f"{path}.high")
        return kind, leaves, children

    def count(self, data: dict, path: str, quantifier: str) -> int:
        fixed = FIXED_COUNTS.get(quantifier)
        if "count" not in data and fixed is not None:
            return fixed
        if "count" not in data:
            self.fail(path, _("missing key {key}", key=Quoted("count")))
        value = data["count"]
        if type(value) is not int:
            self.expected(f"{path}.count", _("an integer"), value)
        if value < 0:
            self.fail(f"{path}.count", _("a count must be a whole number of 0 or more, not {value}", value=value))
        if fixed is not None and value != fixed:
            self.fail(f"{path}.count", _("the count of {quantifier} is always {count}", quantifier=Quoted(quantifier), count=fixed))
        return value

    # ------------------------------------------------------------ leaves

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.expected(path, _("a boolean"), value)
        return value

    def name_text(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            self.expected(path, _("a name"), value)
        if not _NAME.fullmatch(value):
            self.fail(path, _("{value} is not a valid name: a name starts with a letter or _ and holds only letters, digits and _",
                              value=_snippet(value)))
        return value

    def name(self, data: dict, key: str, path: str) -> s.Name:
        return s.Name(self.name_text(data[key], f"{path}.{key}"), self.span(data, f"{key}_span", path))

    def field(self, data: dict, key: str, path: str) -> s.FieldPath:
        parts = data[key]
        if not isinstance(parts, list) or not parts:
            self.expected(f"{path}.{key}", _("a list of names"), parts)
        texts = [self.name_text(part, f"{path}.{key}[{index}]") for index, part in enumerate(parts)]
        part_spans: list[s.Span] = [ZERO_SPAN] * len(texts)
        spans_key = f"{key}_part_spans"
        if spans_key in data:
            raw = data[spans_key]
            if not isinstance(raw, list) or len(raw) != len(texts):
                self.expected(f"{path}.{spans_key}", _("a list of one span per name"), raw)
            part_spans = [self.span_value(item, f"{path}.{spans_key}[{index}]") for index, item in enumerate(raw)]
        names = tuple(s.Name(written, span) for written, span in zip(texts, part_spans))
        return s.FieldPath(names, self.span(data, f"{key}_span", path))

    def span(self, data: dict, key: str, path: str) -> s.Span:
        if key not in data:
            return ZERO_SPAN
        return self.span_value(data[key], f"{path}.{key}")

    def span_value(self, value: Any, path: str) -> s.Span:
        self.keys(path, value, ("line", "column", "start", "end"), ())
        numbers = []
        for key in ("line", "column", "start", "end"):
            number = value[key]
            lowest = 1 if key in ("line", "column") else 0
            if type(number) is not int or number < lowest:
                expected = _("a whole number of 1 or more") if lowest else _("a whole number of 0 or more")
                self.expected(f"{path}.{key}", expected, number)
            numbers.append(number)
        return s.Span(*numbers)

    def literal(self, data: Any, path: str) -> s.Literal:
        self.keys(path, data, ("type", "value"), ("span",))
        kind = self.choice(f"{path}.type", data["type"], LITERAL_TYPES)
        value = data["value"]
        value_path = f"{path}.value"
        if kind == "text":
            if not isinstance(value, str):
                self.expected(value_path, _("a text"), value)
        elif kind == "integer":
            if type(value) is not int:
                self.expected(value_path, _("an integer"), value)
        elif kind == "decimal":
            if not isinstance(value, str):
                self.expected(value_path, _("a decimal number"), value)
            if not _DECIMAL.fullmatch(value):
                self.fail(value_path, _("{value} is not a decimal number such as 12.50", value=_snippet(value)))
            value = Decimal(value)
        elif kind == "boolean":
            value = self.boolean(value, value_path)
        else:
            value = self.date_value(value, value_path)
        return s.Literal(value, kind, self.span(data, "span", path))

    def date_value(self, value: Any, path: str) -> dt.date | s.RelativeDate:
        if isinstance(value, str):
            return self.iso_date(value, path)
        if not isinstance(value, dict):
            self.expected(path, _("a date or a relative date"), value)
        self.keys(path, value, ("shifts",), ("today", "base"))
        today = value.get("today", False)
        if not isinstance(today, bool):
            self.expected(f"{path}.today", _("a boolean"), today)
        if today == ("base" in value):
            self.fail(path, _("a relative date needs either {today} set to true or a {base} date, not both",
                              today=Quoted("today"), base=Quoted("base")))
        base = None
        if "base" in value:
            if not isinstance(value["base"], str):
                self.expected(f"{path}.base", _("a date"), value["base"])
            base = self.iso_date(value["base"], f"{path}.base")
        shifts = value["shifts"]
        if not isinstance(shifts, list):
            self.expected(f"{path}.shifts", _("a list"), shifts)
        if base is not None and not shifts:
            self.fail(f"{path}.shifts", _("a relative date from a {base} date needs at least one shift", base=Quoted("base")))
        return s.RelativeDate(base, tuple(self.shift(shift, f"{path}.shifts[{index}]") for index, shift in enumerate(shifts)))

    def shift(self, value: Any, path: str) -> tuple[int, str]:
        self.keys(path, value, ("amount", "unit"), ())
        amount = value["amount"]
        if type(amount) is not int:
            self.expected(f"{path}.amount", _("an integer"), amount)
        return amount, self.choice(f"{path}.unit", value["unit"], UNITS)

    def iso_date(self, value: str, path: str) -> dt.date:
        try:
            if not _ISO_DATE.fullmatch(value):
                raise ValueError(value)
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(path, _("{value} is not a valid date; expected a date such as 2025-03-10", value=_snippet(value)))


def _build(kind: str, leaves: dict, children: list):
    span = leaves["span"]
    if kind == "query":
        return s.Query(leaves["target"], leaves["through"], children[0] if children else None, span)
    if kind == "set_operation":
        return s.SetOperation(leaves["operator"], children[0], children[1], span)
    if kind == "reference":
        return s.Reference(leaves["name"], span)
    if kind == "and":
        return s.And(tuple(children), span)
    if kind == "or":
        return s.Or(tuple(children), span)
    if kind == "not":
        return s.Not(children[0], span)
    if kind == "quantified":
        return s.Quantified(leaves["quantifier"], leaves["count"], leaves["relation"], children[0] if children else None, span)
    field = leaves["field"]
    if kind == "comparison":
        return s.Comparison(field, leaves["operator"], leaves["value"], span)
    if kind == "membership":
        return s.Membership(field, leaves["values"], leaves["negated"], span)
    if kind == "emptiness":
        return s.Emptiness(field, leaves["negated"], span)
    if kind == "text_match":
        return s.TextMatch(field, leaves["mode"], leaves["value"], span)
    if kind == "list_match":
        return s.ListMatch(field, leaves["mode"], leaves["values"], span)
    if kind == "between":
        return s.Between(field, leaves["low"], leaves["high"], span)
    return s.Truth(field, span)
