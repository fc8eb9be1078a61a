"""Describe a checked rule in words, in French or English (`ernest-rules check`)."""

from __future__ import annotations

import datetime as dt

from . import syntax as s
from .check import CheckedRule
from .i18n import Message, Quoted, _, detect_language

# (operator, is the field a list?) → phrase
_COMPARISONS: dict[tuple[str, bool], Message] = {
    ("=", False): _("{field} is {value}"),
    ("!=", False): _("{field} is not {value}"),
    ("=", True): _("{field} include {value}"),
    ("!=", True): _("{field} do not include {value}"),
    ("<", False): _("{field} is less than {value}"),
    ("<=", False): _("{field} is at most {value}"),
    (">", False): _("{field} is greater than {value}"),
    (">=", False): _("{field} is at least {value}"),
}

_DATE_COMPARISONS: dict[str, Message] = {
    "<": _("{field} is before {value}"),
    "<=": _("{field} is on or before {value}"),
    ">": _("{field} is after {value}"),
    ">=": _("{field} is on or after {value}"),
}


_SET_OPERATIONS: dict[str, Message] = {
    "union": _("{left}, plus {right}"),
    "except": _("{left}, except {right}"),
    "intersect": _("{left} that are also {right}"),
}


def describe(rule: CheckedRule, lang: str | None = None) -> str:
    """Return the rule in words, for example "candidates where talent pools include 'Dev'"."""
    return _Speaker(rule, detect_language(lang)).rule(rule.node)


class _Speaker:
    def __init__(self, rule: CheckedRule, lang: str):
        self.rule_checked = rule
        self.lang = lang

    def rule(self, node) -> str:
        if isinstance(node, s.Query):
            return self.query(node)
        if isinstance(node, s.Reference):
            return _("the saved rule {name}", name=Quoted(f"@{node.name}")).render(self.lang)
        left, right = self.rule(node.left), self.rule(node.right)
        return Message(_SET_OPERATIONS[node.operator].msgid, {"left": f"({left})", "right": f"({right})"}).render(self.lang)

    def query(self, query: s.Query) -> str:
        lang = self.lang
        entity, scope, kind = self.rule_checked.queries[query]
        if kind is not None:
            subject = _("{kind} of the {entity}", kind=kind.label(lang), entity=scope.label(lang)).render(lang)
        else:
            subject = entity.label(lang)
        if query.where is None:
            return _("all {subject}", subject=subject).render(lang)
        return _("{subject} where {condition}", subject=subject, condition=self.say(query.where, top=True)).render(lang)

    @property
    def rule_fields(self):
        return self.rule_checked.fields

    def say(self, node: s.Condition, top: bool = False) -> str:
        return getattr(self, "say_" + type(node).__name__.lower())(node, top)

    def say_and(self, node: s.And, top: bool) -> str:
        word = _("and").render(self.lang)
        text = f" {word} ".join(self.nested(operand) for operand in node.operands)
        # Inside an `or`, an `and` group gets brackets so the grouping reads as it parses.
        return text if top else f"({text})"

    def say_or(self, node: s.Or, top: bool) -> str:
        word = _("or").render(self.lang)
        text = f" {word} ".join(self.nested(operand) for operand in node.operands)
        return text if top else f"({text})"

    def nested(self, node: s.Condition) -> str:
        return self.say(node, top=False)

    def say_not(self, node: s.Not, top: bool) -> str:
        return _("not ({condition})", condition=self.say(node.operand, top=True)).render(self.lang)

    def say_comparison(self, node: s.Comparison, top: bool) -> str:
        resolved = self.rule_fields[node.field]
        if resolved.spec.type in ("date", "timestamp") and node.operator in _DATE_COMPARISONS:
            template = _DATE_COMPARISONS[node.operator]
        elif node.operator == "==":
            template = _("{field} is exactly {value}")
        else:
            template = _COMPARISONS[(node.operator, resolved.spec.type == "list")]
        return Message(template.msgid, {"field": self.field(node.field), "value": self.value(node.value)}).render(self.lang)

    def say_membership(self, node: s.Membership, top: bool) -> str:
        is_list = self.rule_fields[node.field].spec.type == "list"
        if is_list:
            template = _("{field} include none of {values}") if node.negated else _("{field} include one of {values}")
        else:
            template = _("{field} is none of {values}") if node.negated else _("{field} is one of {values}")
        values = ", ".join(self.value(value) for value in node.values)
        return Message(template.msgid, {"field": self.field(node.field), "values": values}).render(self.lang)

    def say_emptiness(self, node: s.Emptiness, top: bool) -> str:
        template = _("{field} is not empty") if node.negated else _("{field} is empty")
        return Message(template.msgid, {"field": self.field(node.field)}).render(self.lang)

    def say_textmatch(self, node: s.TextMatch, top: bool) -> str:
        template = _("{field} contains {value}") if node.mode == "contains" else _("{field} starts with {value}")
        return Message(template.msgid, {"field": self.field(node.field), "value": self.value(node.value)}).render(self.lang)

    def say_between(self, node: s.Between, top: bool) -> str:
        return _("{field} is between {low} and {high}", field=self.field(node.field), low=self.value(node.low),
                 high=self.value(node.high)).render(self.lang)

    def say_listmatch(self, node: s.ListMatch, top: bool) -> str:
        template = _("{field} contain one of {values}") if node.mode == "any" else _("{field} contain all of {values}")
        values = ", ".join(self.value(value) for value in node.values)
        return Message(template.msgid, {"field": self.field(node.field), "values": values}).render(self.lang)

    def say_quantified(self, node: s.Quantified, top: bool) -> str:
        resolved = self.rule_checked.collections[node]
        what = resolved.collection.label(self.lang)
        path = [relation.label_fr if self.lang == "fr" else relation.label_en for relation in resolved.relations]
        if path:
            what = " › ".join([*path, what])
        templates = {
            "any": _("their {what} include at least one"),
            "no": _("their {what} include none"),
            "at_least": _("their {what} include at least {count}"),
            "at_most": _("their {what} include at most {count}"),
            "exactly": _("their {what} include exactly {count}"),
        }
        text = Message(templates[node.quantifier].msgid, {"what": what, "count": node.count}).render(self.lang)
        if node.where is None:
            return text
        return _("{quantity} such that ({condition})", quantity=text, condition=self.say(node.where, top=True)).render(self.lang)

    def say_truth(self, node: s.Truth, top: bool) -> str:
        return _("{field} is true", field=self.field(node.field)).render(self.lang)

    def field(self, path: s.FieldPath) -> str:
        resolved = self.rule_fields[path]
        labels = []
        for relation in resolved.relations:
            labels.append(relation.label_fr if self.lang == "fr" else relation.label_en)
        labels.append(resolved.spec.label(self.lang))
        return " › ".join(labels)

    @staticmethod
    def unit(unit: str, amount: int) -> Message:
        singular = {"day": _("day"), "week": _("week"), "month": _("month"), "year": _("year")}
        plural = {"day": _("days"), "week": _("weeks"), "month": _("months"), "year": _("years")}
        return (singular if amount == 1 else plural)[unit]

    def date(self, value: dt.date) -> str:
        return value.strftime("%d/%m/%Y") if self.lang == "fr" else value.isoformat()

    def value(self, literal: s.Literal) -> str:
        value = literal.value
        if literal.type == "boolean":
            return (_("true") if value else _("false")).render(self.lang)
        if isinstance(value, s.RelativeDate):
            base = _("today").render(self.lang) if value.base is None else self.date(value.base)
            return base + "".join(f" {'+' if amount >= 0 else '-'} {abs(amount)} {self.unit(unit, abs(amount)).render(self.lang)}"
                                  for amount, unit in value.shifts)
        if isinstance(value, dt.date):
            return self.date(value)
        if literal.type == "text":
            return Quoted(value).render(self.lang)
        return str(value)
