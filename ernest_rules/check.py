"""Stage 2: syntax tree → checked rule, resolved against the catalog.

The checker collects every problem of a rule before raising, so a user fixes
them all in one pass. It resolves entity, kind and field names (ignoring case
and accents), follows to-one relation paths and one-to-many collections,
expands saved rules (`@name`, with cycle detection), and checks that each
operator and value fits the type of its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from . import syntax as s
from .catalog import Catalog, CollectionSpec, EntitySpec, FieldSpec, KindSpec, RelationSpec, suggest
from .errors import ErnestRulesError, Problem, RuleCheckError
from .i18n import Localized, Message, Quoted, _
from .parse import DEFAULT_LIMITS, TOKEN_WORDS, Limits, parse
from .rulebook import find_rule
from .text import fold_name

def keyword(token: str) -> Localized:
    """Return a keyword of the grammar, to be shown in the user's language."""
    english, french = TOKEN_WORDS[token]
    return Localized(english, french)


KEYWORDS = {fold_name(spelling) for words in TOKEN_WORDS.values() for spelling in words if spelling.isalpha()}
KEYWORDS |= {"not", "non", "is", "est", "empty", "vide", "starts", "commence", "with", "par", "pas", "least", "most"}

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


@dataclass(frozen=True)
class ResolvedCollection:
    """A quantifier's path: to-one relations from the row, then a one-to-many collection."""

    relations: tuple[RelationSpec, ...]
    owner: EntitySpec
    collection: CollectionSpec
    child: EntitySpec


@dataclass
class CheckedRule:
    """A rule that fits the catalog, ready for the compiler.

    `scope` is the entity the top-level conditions read (offres for a referent
    query); it is None for set operations and saved-rule references.
    """

    text: str
    node: s.Rule
    entity: EntitySpec
    scope: EntitySpec | None
    kind: KindSpec | None
    fields: dict[s.FieldPath, ResolvedField] = field(default_factory=dict)
    collections: dict[s.Quantified, ResolvedCollection] = field(default_factory=dict)
    references: dict[str, "CheckedRule"] = field(default_factory=dict)
    queries: dict[s.Query, tuple[EntitySpec, EntitySpec, KindSpec | None]] = field(default_factory=dict)

    @property
    def query(self) -> s.Query | None:
        """The query when the rule is a single query (not a set operation or a reference)."""
        return self.node if isinstance(self.node, s.Query) else None


def check(rule: s.Rule, catalog: Catalog, text: str = "", *, rules: Mapping[str, str] | None = None,
          limits: Limits = DEFAULT_LIMITS, _chain: tuple[str, ...] = ()) -> CheckedRule:
    """Resolve a parsed rule against the catalog; raise `RuleCheckError` with every problem."""
    checker = _Checker(catalog, text, rules or {}, limits, _chain)
    checked = checker.run(rule)
    if checker.problems:
        raise RuleCheckError(checker.problems)
    assert checked is not None
    return checked


@dataclass
class _Target:
    entity: EntitySpec
    scope: EntitySpec | None
    kind: KindSpec | None


class _Checker:
    def __init__(self, catalog: Catalog, text: str, rules: Mapping[str, str], limits: Limits, chain: tuple[str, ...]):
        self.catalog = catalog
        self.text = text
        self.rules = rules
        self.limits = limits
        self.chain = chain
        self.problems: list[Problem] = []
        self.fields: dict[s.FieldPath, ResolvedField] = {}
        self.collections: dict[s.Quantified, ResolvedCollection] = {}
        self.references: dict[str, CheckedRule] = {}
        self.queries: dict[s.Query, tuple[EntitySpec, EntitySpec, KindSpec | None]] = {}

    def report(self, message: Message, span: s.Span, suggestions: tuple[str, ...] = ()) -> None:
        self.problems.append(Problem(message, line=span.line, column=span.column, width=span.width, source=self.text, suggestions=suggestions))

    # ------------------------------------------------------------ rules

    def run(self, node: s.Rule) -> CheckedRule | None:
        target = self.target(node)
        if target is None:
            return None
        return CheckedRule(self.text, node, target.entity, target.scope, target.kind, self.fields, self.collections, self.references,
                           self.queries)

    def target(self, node: s.Rule) -> _Target | None:
        if isinstance(node, s.Query):
            return self.query(node)
        if isinstance(node, s.Reference):
            return self.reference(node)
        left, right = self.target(node.left), self.target(node.right)
        if left is None or right is None:
            return None
        left_name = left.kind.name if left.kind else left.entity.name
        right_name = right.kind.name if right.kind else right.entity.name
        if left_name != right_name:
            self.report(_("{operator} combines rules of the same entity, not {left} and {right}", operator=keyword(node.operator.upper()),
                          left=Quoted(left_name), right=Quoted(right_name)), node.span)
            return None
        return _Target(left.entity, None, left.kind)

    def reference(self, node: s.Reference) -> _Target | None:
        name = node.name
        if name in self.chain:
            cycle = " → ".join(f"@{item}" for item in (*self.chain[self.chain.index(name):], name))
            self.report(_("the saved rules refer to each other in a cycle: {cycle}", cycle=cycle), node.span)
            return None
        text = find_rule(self.rules, name)
        if text is None:
            if self.rules:
                message = _("unknown saved rule {name}", name=Quoted(f"@{name}"))
            else:
                message = _("unknown saved rule {name}: no saved rules were given; pass them with --rules FILE", name=Quoted(f"@{name}"))
            self.report(message, node.span, tuple(f"@{found}" for found in suggest(name, list(self.rules))))
            return None
        try:
            checked = check(parse(text, self.limits), self.catalog, text, rules=self.rules, limits=self.limits, _chain=(*self.chain, name))
        except ErnestRulesError as error:
            # Problems inside a saved rule point into that rule's text, so they name it.
            for problem in error.problems:
                inner = problem if problem.origin else replace(problem, origin=f"@{name}")
                self.problems.append(inner)
            return None
        self.references[name] = checked
        return _Target(checked.entity, None, checked.kind)

    def query(self, query: s.Query) -> _Target | None:
        resolved = self.resolve_target(query)
        if resolved is None:
            return None
        assert resolved.scope is not None
        self.queries[query] = (resolved.entity, resolved.scope, resolved.kind)
        if query.where is not None:
            self.condition(query.where, resolved.scope)
        return resolved

    def resolve_target(self, query: s.Query) -> _Target | None:
        target = query.target
        if query.through is None:
            entity = self.catalog.find_entity(target.text)
            if entity is not None:
                return _Target(entity, entity, None)
            kind = self.catalog.find_kind(target.text)
            if kind is not None and kind.through:
                self.report(_("{kind} are chosen through the offers they are in charge of: write {example}",
                              kind=Quoted(target.text), example=Localized(f"{kind.name} of {kind.through} where …",
                                                                          f"{kind.name} de {kind.through} où …")), target.span)
                return None
            self.report_keyword_or_unknown(target, _("unknown entity {name}", name=Quoted(target.text)),
                                           [entity.name for entity in self.catalog.entities] + [k.name for k in self.catalog.referent_kinds()])
            return None
        kind = self.catalog.find_kind(target.text)
        if kind is None or not kind.through:
            choices = [k.name for k in self.catalog.referent_kinds()]
            if self.catalog.find_entity(target.text) is not None:
                self.report(_("{name} cannot be chosen through {through}: only {choices} are", name=Quoted(target.text),
                              through=Quoted(query.through.text), choices=[Quoted(choice) for choice in choices]), target.span)
            else:
                self.report(_("unknown referent kind {name}; {choices} are chosen through offers", name=Quoted(target.text),
                              choices=[Quoted(choice) for choice in choices]), target.span, suggest(target.text, choices))
            return None
        through = self.catalog.find_entity(query.through.text)
        expected = self.catalog.entity(kind.through)
        if through is None or through.name != expected.name:
            self.report(_("{kind} are chosen through {expected}, not {found}", kind=Quoted(kind.name), expected=Quoted(expected.name),
                          found=Quoted(query.through.text)), query.through.span)
            return None
        return _Target(self.catalog.entity(kind.entity), expected, kind)

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
        if node.operator not in ("=", "!=", "==") and field_type not in ORDERED_TYPES:
            self.report(_("{operator} does not apply to {field}, which is {type}; use = or != instead",
                          operator=Quoted(node.operator), field=Quoted(resolved.spec.name), type=TYPE_NAMES[field_type]), node.span)
            return
        self.check_value(resolved, node.value)

    def check_between(self, node: s.Between, scope: EntitySpec) -> None:
        resolved = self.resolve_field(node.field, scope)
        if resolved is None:
            return
        if resolved.spec.type not in ORDERED_TYPES:
            self.report(_("{operator} applies to numbers and dates; {field} is {type}", operator=keyword("BETWEEN"),
                          field=Quoted(resolved.spec.name), type=TYPE_NAMES[resolved.spec.type]), node.span)
            return
        self.check_value(resolved, node.low)
        self.check_value(resolved, node.high)
        low, high = node.low.value, node.high.value
        comparable = not isinstance(low, s.RelativeDate) and not isinstance(high, s.RelativeDate) and node.low.type == node.high.type
        if comparable and node.low.type in ("integer", "decimal", "date") and low > high:
            self.report(_("the lower bound {low} is above the upper bound {high}, so no row can match: swap them",
                          low=Quoted(literal_text(node.low)), high=Quoted(literal_text(node.high))), node.span)

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
        word = keyword("CONTAINS" if node.mode == "contains" else "STARTS_WITH")
        if self.text_field(node.field, scope, word):
            is_list = self.fields[node.field].spec.type == "list"
            if node.value.type != "text":
                self.report(_("{operator} needs a text in quotes", operator=word), node.value.span)
            elif node.value.value == "" or (is_list and not str(node.value.value).strip()):
                self.report(_("{operator} needs a text that is not empty: every row would match", operator=word), node.value.span)

    def check_listmatch(self, node: s.ListMatch, scope: EntitySpec) -> None:
        word = keyword("CONTAINS_ANY" if node.mode == "any" else "CONTAINS_ALL")
        if not node.values:
            self.report(_("the list of values is empty: give at least one value between the parentheses"), node.span)
        if self.text_field(node.field, scope, word):
            for value in node.values:
                if value.type != "text":
                    self.report(_("{operator} needs a text in quotes", operator=word), value.span)
                elif value.value == "":
                    self.report(_("{operator} needs a text that is not empty: every row would match", operator=word), value.span)

    def text_field(self, path: s.FieldPath, scope: EntitySpec, word: Localized) -> bool:
        resolved = self.resolve_field(path, scope)
        if resolved is None:
            return False
        if resolved.spec.type not in TEXT_TYPES:
            self.report(_("{operator} applies to text fields; {field} is {type}", operator=word,
                          field=Quoted(resolved.spec.name), type=TYPE_NAMES[resolved.spec.type]), path.span)
            return False
        return True

    def check_truth(self, node: s.Truth, scope: EntitySpec) -> None:
        if len(node.field.parts) >= 1 and self.collection_path(node.field, scope, report=False) is not None:
            self.report(_("{name} is a list of related rows: write {example}", name=Quoted(node.field.dotted),
                          example=Quoted(f"any {node.field.dotted}")), node.span)
            return
        resolved = self.resolve_field(node.field, scope)
        if resolved is not None and resolved.spec.type != "boolean":
            self.report(_("{field} is {type}, not a boolean: compare it with a value, for example {example}",
                          field=Quoted(resolved.spec.name), type=TYPE_NAMES[resolved.spec.type],
                          example=Quoted(f"{resolved.spec.name} = …")), node.span)

    def check_quantified(self, node: s.Quantified, scope: EntitySpec) -> None:
        resolved = self.collection_path(node.relation, scope, report=True)
        if resolved is None:
            return
        self.collections[node] = resolved
        if node.where is not None:
            self.condition(node.where, resolved.child)

    # ------------------------------------------------------------ fields and values

    def follow(self, steps: tuple[s.Name, ...], scope: EntitySpec) -> tuple[list[RelationSpec], EntitySpec] | None:
        entity = scope
        relations: list[RelationSpec] = []
        for step in steps:
            relation = entity.find_relation(step.text)
            if relation is None and entity.find_collection(step.text) is not None:
                self.report(_("{name} is a list of related rows: write {example}", name=Quoted(step.text),
                              example=Quoted(f"any {step.text} where (…)")), step.span)
                return None
            if relation is None:
                self.report_keyword_or_unknown(step, _("{entity} has no relation {name}", entity=Quoted(entity.name), name=Quoted(step.text)),
                                               [rel.name for rel in entity.relations])
                return None
            relations.append(relation)
            entity = self.catalog.entity(relation.target)
        return relations, entity

    def collection_path(self, path: s.FieldPath, scope: EntitySpec, *, report: bool) -> ResolvedCollection | None:
        *steps, last = path.parts
        if not report:
            entity = scope
            for step in steps:
                relation = entity.find_relation(step.text)
                if relation is None:
                    return None
                entity = self.catalog.entity(relation.target)
            collection = entity.find_collection(last.text)
            return None if collection is None else ResolvedCollection((), entity, collection, self.catalog.entity(collection.entity))
        followed = self.follow(tuple(steps), scope)
        if followed is None:
            return None
        relations, entity = followed
        collection = entity.find_collection(last.text)
        if collection is None:
            choices = [item.name for item in entity.collections]
            if choices:
                self.report(_("{entity} has no list of related rows called {name}; use one of {choices}", entity=Quoted(entity.name),
                              name=Quoted(last.text), choices=[Quoted(choice) for choice in choices]), last.span, suggest(last.text, choices))
            else:
                self.report(_("{entity} has no list of related rows to count", entity=Quoted(entity.name)), last.span)
            return None
        return ResolvedCollection(tuple(relations), entity, collection, self.catalog.entity(collection.entity))

    def resolve_field(self, path: s.FieldPath, scope: EntitySpec) -> ResolvedField | None:
        *steps, last = path.parts
        followed = self.follow(tuple(steps), scope)
        if followed is None:
            return None
        relations, entity = followed
        spec = entity.find_field(last.text)
        if spec is None:
            relation = entity.find_relation(last.text)
            collection = entity.find_collection(last.text)
            if relation is not None:
                example = f"{last.text}.{self.catalog.entity(relation.target).fields[1].name}"
                self.report(_("{name} is a relation: name one of its fields, for example {example}", name=Quoted(last.text),
                              example=Quoted(example)), last.span)
            elif collection is not None:
                self.report(_("{name} is a list of related rows: write {example}", name=Quoted(last.text),
                              example=Quoted(f"any {path.dotted} where (…)")), last.span)
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
                          value=Quoted(literal_text(value)), value_type=TYPE_NAMES[value.type]), value.span)


def literal_text(value: s.Literal) -> str:
    """Return a literal as the user would write it (for messages)."""
    if value.type == "boolean":
        return "true" if value.value else "false"
    if isinstance(value.value, s.RelativeDate):
        base = "today" if value.value.base is None else value.value.base.isoformat()
        return base + "".join(f" {'+' if amount >= 0 else '-'} {abs(amount)} {unit}s" for amount, unit in value.value.shifts)
    return str(value.value)
