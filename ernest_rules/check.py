"""Stage 2: syntax tree → checked rule, resolved against the catalog.

The checker collects every problem of a rule before raising, so a user fixes
them all in one pass. It resolves entity, kind and field names (ignoring case
and accents), follows to-one relation paths, and checks that each operator and
value fits the type of its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import syntax as s
from .catalog import Catalog, EntitySpec, FieldSpec, KindSpec, RelationSpec, suggest
from .errors import Problem, RuleCheckError
from .i18n import Message, Quoted, _
from .parse import TOKEN_WORDS
from .text import fold_name

KEYWORDS = {fold_name(spelling) for words in TOKEN_WORDS.values() for spelling in words if spelling.isalpha()}
KEYWORDS |= {"not", "non", "is", "est", "empty", "vide", "starts", "commence", "with", "par", "pas"}

ORDERED_TYPES = {"integer", "decimal", "date", "timestamp"}
TEXT_TYPES = {"text", "list"}

# Field type → literal types it can be compared with.
COMPATIBLE = {
    "text": {"text"},
    "list": {"text"},
    "integer": {"integer", "decimal"},
    "decimal": {"integer", "decimal"},
    "boolean": {"boolean"},
    "date": {"date"},
    "timestamp": {"date"},
}

TYPE_NAMES = {
    "text": _("text"),
    "list": _("a list of texts"),
    "integer": _("an integer"),
    "decimal": _("a decimal number"),
    "boolean": _("a boolean"),
    "date": _("a date"),
    "timestamp": _("a timestamp"),
}


@dataclass(frozen=True)
class ResolvedField:
    """A field path bound to the catalog: relations followed, then the field."""

    relations: tuple[RelationSpec, ...]
    entity: EntitySpec
    spec: FieldSpec


@dataclass
class CheckedRule:
    """A rule that fits the catalog, ready for the compiler."""

    text: str
    query: s.Query
    entity: EntitySpec  # the entity whose rows the rule selects
    scope: EntitySpec  # the entity the conditions read (offres for referents)
    kind: KindSpec | None  # set for `<referent kind> of <entity>`
    fields: dict[s.FieldPath, ResolvedField] = field(default_factory=dict)


def check(query: s.Query, catalog: Catalog, text: str = "") -> CheckedRule:
    """Resolve a parsed rule against the catalog; raise `RuleCheckError` with every problem."""
    checker = _Checker(catalog, text)
    rule = checker.run(query)
    if checker.problems:
        raise RuleCheckError(checker.problems)
    assert rule is not None
    return rule


class _Checker:
    def __init__(self, catalog: Catalog, text: str):
        self.catalog = catalog
        self.text = text
        self.problems: list[Problem] = []
        self.fields: dict[s.FieldPath, ResolvedField] = {}

    def report(self, message: Message, span: s.Span, suggestions: tuple[str, ...] = ()) -> None:
        self.problems.append(Problem(message, line=span.line, column=span.column, width=span.width, source=self.text, suggestions=suggestions))

    # ------------------------------------------------------------ query

    def run(self, query: s.Query) -> CheckedRule | None:
        resolved = self.resolve_target(query)
        if resolved is None:
            return None
        entity, scope, kind = resolved
        if query.where is not None:
            self.condition(query.where, scope)
        return CheckedRule(self.text, query, entity, scope, kind, self.fields)

    def resolve_target(self, query: s.Query) -> tuple[EntitySpec, EntitySpec, KindSpec | None] | None:
        target = query.target
        if query.through is None:
            entity = self.catalog.find_entity(target.text)
            if entity is not None:
                return entity, entity, None
            kind = self.catalog.find_kind(target.text)
            if kind is not None and kind.through:
                self.report(_("{kind} are chosen through the offers they are in charge of: write {example}",
                              kind=Quoted(target.text), example=Quoted(f"{kind.name} of {kind.through} where …")), target.span)
                return None
            self.report_keyword_or_unknown(target, _("unknown entity {name}", name=Quoted(target.text)),
                                           [entity.name for entity in self.catalog.entities] + [k.name for k in self.catalog.referent_kinds()])
            return None
        kind = self.catalog.find_kind(target.text)
        if kind is None or not kind.through:
            choices = [k.name for k in self.catalog.referent_kinds()]
            self.report(_("unknown referent kind {name}; {choices} are chosen through offers", name=Quoted(target.text),
                          choices=[Quoted(choice) for choice in choices]), target.span, suggest(target.text, choices))
            return None
        through = self.catalog.find_entity(query.through.text)
        expected = self.catalog.entity(kind.through)
        if through is None or through.name != expected.name:
            self.report(_("{kind} are chosen through {expected}, not {found}", kind=Quoted(kind.name), expected=Quoted(expected.name),
                          found=Quoted(query.through.text)), query.through.span)
            return None
        return self.catalog.entity(kind.entity), expected, kind

    def report_keyword_or_unknown(self, name: s.Name, unknown: Message, choices: list[str]) -> None:
        if fold_name(name.text) in KEYWORDS:
            self.report(_("{word} is a keyword and cannot be used as a name here", word=Quoted(name.text)), name.span)
        else:
            self.report(unknown, name.span, suggest(name.text, choices))

    # ------------------------------------------------------------ conditions

    def condition(self, node: s.Condition, scope: EntitySpec) -> None:
        method = getattr(self, "check_" + type(node).__name__.lower())
        method(node, scope)

    def check_and(self, node: s.And, scope: EntitySpec) -> None:
        for operand in node.operands:
            self.condition(operand, scope)

    check_or = check_and

    def check_not(self, node: s.Not, scope: EntitySpec) -> None:
        self.condition(node.operand, scope)

    def check_comparison(self, node: s.Comparison, scope: EntitySpec) -> None:
        resolved = self.resolve_field(node.field, scope)
        if resolved is None:
            return
        field_type = resolved.spec.type
        if node.operator not in ("=", "!=") and field_type not in ORDERED_TYPES:
            self.report(_("{operator} does not apply to {field}, which is {type}; use = or != instead",
                          operator=Quoted(node.operator), field=Quoted(resolved.spec.name), type=TYPE_NAMES[field_type]), node.span)
            return
        self.check_value(resolved, node.value)

    def check_membership(self, node: s.Membership, scope: EntitySpec) -> None:
        resolved = self.resolve_field(node.field, scope)
        if not node.values:
            self.report(_("the list of values is empty: give at least one value between the parentheses"), node.span)
        if resolved is None:
            return
        for value in node.values:
            self.check_value(resolved, value)

    def check_emptiness(self, node: s.Emptiness, scope: EntitySpec) -> None:
        self.resolve_field(node.field, scope)

    def check_textmatch(self, node: s.TextMatch, scope: EntitySpec) -> None:
        resolved = self.resolve_field(node.field, scope)
        if resolved is None:
            return
        if resolved.spec.type not in TEXT_TYPES:
            keyword = "contains" if node.mode == "contains" else "starts with"
            self.report(_("{operator} applies to text fields; {field} is {type}", operator=Quoted(keyword),
                          field=Quoted(resolved.spec.name), type=TYPE_NAMES[resolved.spec.type]), node.span)
            return
        if node.value.type != "text":
            self.report(_("{operator} needs a text in quotes", operator=Quoted("contains" if node.mode == "contains" else "starts with")), node.value.span)

    def check_truth(self, node: s.Truth, scope: EntitySpec) -> None:
        resolved = self.resolve_field(node.field, scope)
        if resolved is not None and resolved.spec.type != "boolean":
            self.report(_("{field} is {type}, not a boolean: compare it with a value, for example {example}",
                          field=Quoted(resolved.spec.name), type=TYPE_NAMES[resolved.spec.type],
                          example=Quoted(f"{resolved.spec.name} = …")), node.span)

    # ------------------------------------------------------------ fields and values

    def resolve_field(self, path: s.FieldPath, scope: EntitySpec) -> ResolvedField | None:
        entity = scope
        relations: list[RelationSpec] = []
        *steps, last = path.parts
        for step in steps:
            relation = entity.find_relation(step.text)
            if relation is None:
                self.report_keyword_or_unknown(step, _("{entity} has no relation {name}", entity=Quoted(entity.name), name=Quoted(step.text)),
                                               [rel.name for rel in entity.relations])
                return None
            relations.append(relation)
            entity = self.catalog.entity(relation.target)
        spec = entity.find_field(last.text)
        if spec is None:
            if entity.find_relation(last.text) is not None:
                self.report(_("{name} is a relation: name one of its fields, for example {example}", name=Quoted(last.text),
                              example=Quoted(f"{last.text}.{self.catalog.entity(entity.find_relation(last.text).target).fields[1].name}")), last.span)
            else:
                self.report_keyword_or_unknown(last, _("{entity} has no field {name}", entity=Quoted(entity.name), name=Quoted(last.text)),
                                               [f.name for f in entity.fields] + [a for f in entity.fields for a in f.aliases])
            return None
        resolved = ResolvedField(tuple(relations), entity, spec)
        self.fields[path] = resolved
        return resolved

    def check_value(self, resolved: ResolvedField, value: s.Literal) -> None:
        if value.type not in COMPATIBLE[resolved.spec.type]:
            self.report(_("{field} is {type} and cannot be compared with {value}, which is {value_type}",
                          field=Quoted(resolved.spec.name), type=TYPE_NAMES[resolved.spec.type],
                          value=Quoted(_literal_text(value)), value_type=TYPE_NAMES[value.type]), value.span)


def _literal_text(value: s.Literal) -> str:
    if value.type == "boolean":
        return "true" if value.value else "false"
    return str(value.value)
