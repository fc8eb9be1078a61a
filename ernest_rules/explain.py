"""Explain a rule on an export: the rule in words and how many rows each condition keeps.

For a query whose condition is `A and B and C`, the funnel counts the rows kept
by A, then by A and B, then by all three, which shows the condition that
empties a list. For `A or B` it counts each operand alone and their union; for a set
operation (`union`, `except`, `intersect`) each operand and the result. Every
count of one explanation comes from a single DuckDB query.

Sub-conditions are compiled by the project's compiler on synthetic queries (the
rule's own query with another `where`), so a count uses exactly the SQL the
rule itself uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Mapping

from babel import Locale
from babel.numbers import format_decimal, format_percent

from . import syntax as s
from .catalog import Catalog, EntitySpec, KindSpec
from .check import CheckedRule
from .compile import CompiledRule, compile_checked, quote_identifier
from .export import Export
from .i18n import LANGUAGES, Quoted, _, detect_language
from .listdef import ListDefinition, load_definition, validate_definition
from .parse import TOKEN_WORDS
from .resolve import plan_sections
from .words import _Speaker, describe

StepRole = Literal["condition", "and", "operand", "union", "result"]
FunnelMode = Literal["all", "single", "and", "or", "set"]

BAR_FULL = "█"
BAR_EMPTY = "░"

_LOCALES = {"fr": "fr_FR", "en": "en_US"}


@dataclass(frozen=True)
class FunnelStep:
    """One line of a funnel: a condition (or operand) in words and the rows it keeps.

    `role` is "condition" for a single condition or the first of an `and`
    chain, and "and" for a later condition of the chain, whose count is
    cumulative. It is "operand" for an operand counted alone (of `or` or of a
    set operation), "union" for the rows of an `or`, and "result" for a set
    operation's rows. `base` is the count the step is compared with: the
    previous step for "and", otherwise the total.
    """

    role: StepRole
    words_fr: str
    words_en: str
    source: str
    count: int
    base: int

    def words(self, lang: str | None = None) -> str:
        return self.words_fr if detect_language(lang) == "fr" else self.words_en

    @property
    def empties(self) -> bool:
        """True when this step keeps no row although the rows it starts from were not empty."""
        return self.count == 0 and self.base > 0


@dataclass(frozen=True)
class Explanation:
    """A rule in words (French and English) and its funnel of counts on one export.

    `counted` is the entity whose rows the funnel counts: the rule's scope for a
    query (offres for a referent query), the selected entity for a set
    operation. `total` is the number of its rows; `selected` is the number of
    rows the whole rule selects (users for a referent rule).
    """

    rule: str
    description_fr: str
    description_en: str
    entity: EntitySpec
    counted: EntitySpec
    kind: KindSpec | None
    mode: FunnelMode
    total: int
    selected: int
    steps: tuple[FunnelStep, ...]
    today: dt.date
    lang: str = "en"
    section: str | None = None

    def description(self, lang: str | None = None) -> str:
        return self.description_fr if detect_language(lang) == "fr" else self.description_en

    @property
    def counts_offers(self) -> bool:
        """True for a referent query, whose funnel counts offers rather than the users it selects."""
        return self.kind is not None and self.counted.name != self.entity.name

    @property
    def emptying_step(self) -> FunnelStep | None:
        """The first step that keeps no row although it started from some, if any."""
        return next((step for step in self.steps if step.empties), None)

    def render(self, lang: str | None = None, width: int = 40) -> str:
        return render_funnel(self, lang or self.lang, width)


# ---------------------------------------------------------------- explaining


def explain_rule(compiled: CompiledRule, export: Export, lang: str | None = None) -> Explanation:
    """Count, with one DuckDB query, the rows kept by each step of a compiled rule on an export."""
    checked = compiled.checked
    while isinstance(checked.node, s.Reference):
        # A rule that is only `@name` is explained as the saved rule it names.
        checked = checked.references[checked.node.name]
    plan = _FunnelPlan(export.catalog, compiled.today)
    if isinstance(checked.node, s.Query):
        plan.plan_query(checked, checked.node)
    else:
        plan.plan_set_operation(checked, checked.node)
    counts = plan.run(export, compiled)
    description = {lang_code: describe(checked, lang_code) for lang_code in LANGUAGES}
    return Explanation(
        rule=compiled.text, description_fr=description["fr"], description_en=description["en"], entity=compiled.entity,
        counted=plan.counted, kind=compiled.kind, mode=plan.mode, total=counts["total"], selected=counts["selected"],
        steps=tuple(plan.steps(counts)), today=compiled.today, lang=detect_language(lang),
    )


def explain_definition(definition: ListDefinition | dict | str | Path, export: Export, lang: str | None = None,
                       rules: Mapping[str, str] | None = None, today: dt.date | None = None) -> list[Explanation]:
    """Explain the rule of each section of a list definition that has one, in section order.

    The definition is checked as `resolve` checks it, so an invalid list raises
    the same `ListDefinitionError`.
    """
    if isinstance(definition, (str, Path)):
        definition = load_definition(definition)
    elif not isinstance(definition, ListDefinition):
        definition = validate_definition(definition)
    plans = plan_sections(definition, export.catalog, rules=rules, today=today)
    return [replace(explain_rule(plan.rule, export, lang), section=plan.label) for plan in plans if plan.rule is not None]


@dataclass
class _PlannedStep:
    role: StepRole
    words: dict[str, str]
    source: str
    column: str  # name of the count in the funnel query
    base: str  # column of the count this step is compared with


@dataclass
class _FunnelPlan:
    """The SQL of a funnel: one count per step, all in one SELECT."""

    catalog: Catalog
    today: dt.date
    mode: FunnelMode = "all"
    counted: EntitySpec | None = None
    planned: list[_PlannedStep] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)  # SQL of each step's count, over the counted table as `t`
    params: dict[str, Any] = field(default_factory=dict)
    _compiled: int = 0

    def plan_query(self, checked: CheckedRule, query: s.Query) -> None:
        _entity, scope, _kind = checked.queries[query]
        self.counted = scope
        where = query.where
        if where is None:
            self.mode = "all"
            return
        speaker = {lang: _Speaker(checked, lang) for lang in LANGUAGES}
        if isinstance(where, s.And):
            self.mode = "and"
            prefix: list[str] = []
            for index, operand in enumerate(where.operands):
                prefix.append(self.condition_sql(checked, query, operand))
                role: StepRole = "condition" if index == 0 else "and"
                words = {lang: speaker[lang].say(operand) for lang in LANGUAGES}
                if index > 0:
                    words = {lang: f"{_('and').render(lang)} {text}" for lang, text in words.items()}
                base = "total" if index == 0 else f"step{index - 1}"
                self.add_count(role, words, _source(checked, operand), " AND ".join(prefix), base)
        elif isinstance(where, s.Or):
            self.mode = "or"
            for operand in where.operands:
                words = {lang: speaker[lang].say(operand) for lang in LANGUAGES}
                self.add_count("operand", words, _source(checked, operand), self.condition_sql(checked, query, operand), "total")
            words = {lang: _("at least one of these conditions").render(lang) for lang in LANGUAGES}
            self.add_count("union", words, _source(checked, where), self.condition_sql(checked, query, where), "total")
        else:
            self.mode = "single"
            words = {lang: speaker[lang].say(where, top=True) for lang in LANGUAGES}
            self.add_count("condition", words, _source(checked, where), self.condition_sql(checked, query, where), "total")

    def plan_set_operation(self, checked: CheckedRule, node: s.SetOperation) -> None:
        self.mode = "set"
        self.counted = checked.entity
        for operand in _set_operands(node):
            operand_rule = replace(checked, node=operand)
            words = {lang: describe(operand_rule, lang) for lang in LANGUAGES}
            self.add_keys("operand", words, _source(checked, operand), self.keys_sql(operand_rule))
        operator = {lang: Quoted(TOKEN_WORDS[node.operator.upper()][0 if lang == "en" else 1]) for lang in LANGUAGES}
        words = {lang: _("result of {operator}", operator=operator[lang]).render(lang) for lang in LANGUAGES}
        self.add_keys("result", words, _source(checked, node), self.keys_sql(checked))

    # -------------------------------------------------------- SQL pieces

    def next_prefix(self) -> str:
        # Each compilation gets its own parameter names, so all of them fit in one query.
        self._compiled += 1
        return f"funnel{self._compiled}_"

    def condition_sql(self, checked: CheckedRule, query: s.Query, condition: s.Condition) -> str:
        """Compile `condition` as the `where` of the rule's query: a boolean SQL expression over `t`."""
        synthetic = replace(query, where=condition)
        rule = replace(checked, node=synthetic, queries={**checked.queries, synthetic: checked.queries[query]})
        compiled = compile_checked(rule, self.catalog, param_prefix=self.next_prefix(), today=self.today)
        self.params.update(compiled.params)
        assert compiled.condition is not None
        return compiled.condition

    def keys_sql(self, rule: CheckedRule) -> str:
        compiled = compile_checked(rule, self.catalog, param_prefix=self.next_prefix(), today=self.today)
        self.params.update(compiled.params)
        return compiled.keys_sql

    def add_count(self, role: StepRole, words: dict[str, str], source: str, condition: str, base: str) -> None:
        column = f"step{len(self.planned)}"
        self.planned.append(_PlannedStep(role, words, source, column, base))
        self.filters.append(f"count(*) FILTER (WHERE {condition})")

    def add_keys(self, role: StepRole, words: dict[str, str], source: str, keys_sql: str) -> None:
        column = f"step{len(self.planned)}"
        self.planned.append(_PlannedStep(role, words, source, column, "total"))
        self.filters.append(f"(SELECT count(*) FROM ({keys_sql}))")

    # -------------------------------------------------------- running

    def run(self, export: Export, compiled: CompiledRule) -> dict[str, int]:
        """Run the one funnel query and return every count by column name (total, selected, step0…)."""
        assert self.counted is not None
        columns = ["count(*) AS total", f"(SELECT count(*) FROM ({compiled.keys_sql})) AS selected"]
        columns += [f"{sql} AS {step.column}" for sql, step in zip(self.filters, self.planned)]
        sql = f"SELECT {', '.join(columns)} FROM {quote_identifier(self.counted.table)} AS t"
        params = {**compiled.params, **self.params}
        cursor = export.connection.execute(sql, params or None)
        names = [description[0] for description in cursor.description]
        return dict(zip(names, cursor.fetchall()[0]))

    def steps(self, counts: dict[str, int]) -> list[FunnelStep]:
        return [FunnelStep(step.role, step.words["fr"], step.words["en"], step.source, counts[step.column], counts[step.base])
                for step in self.planned]


def _set_operands(node: s.SetOperation) -> list[s.Rule]:
    """Return the operands of a set operation, flattening a chain of `union` or of `intersect`.

    `A union B union C` gives A, B and C. `except` is not associative, so
    `A except B except C` gives `A except B` and C.
    """
    if node.operator == "except":
        return [node.left, node.right]
    operands: list[s.Rule] = []
    pending: list[s.Rule] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, s.SetOperation) and current.operator == node.operator:
            pending.extend((current.right, current.left))
        else:
            operands.append(current)
    return operands


def _source(checked: CheckedRule, node: Any) -> str:
    return checked.text[node.span.start:node.span.end]


# ---------------------------------------------------------------- rendering


def format_count(value: int, lang: str) -> str:
    """Format a count the way the language does: 5 319 (narrow no-break space) in French, 5,319 in English."""
    return format_decimal(value, locale=_LOCALES[lang])


def format_share(count: int, total: int, lang: str) -> str:
    """Format count/total as a percentage with one decimal (26,6 % in French, 26.6% in English); "–" for no rows."""
    if total == 0:
        return "–"
    locale = Locale.parse(_LOCALES[lang])
    pattern = locale.percent_formats[None].pattern.replace("#,##0", "#,##0.0", 1)
    return format_percent(count / total, format=pattern, locale=locale)


def bar(count: int, total: int, width: int) -> str:
    """Draw count/total as `width` cells, the filled share rounded half up."""
    filled = 0 if total == 0 else (2 * count * width + total) // (2 * total)
    filled = max(0, min(width, filled))
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def render_funnel(explanation: Explanation, lang: str | None = None, width: int = 40) -> str:
    """Return the explanation as text: the rule in words, then one bar per step with its count and share of the total."""
    lang = detect_language(lang or explanation.lang)
    width = max(1, width)
    lines: list[str] = []
    if explanation.section is not None:
        lines.append(_("Section {section}", section=explanation.section).render(lang))
    lines.append(explanation.description(lang))
    if explanation.counts_offers:
        lines.append(_("Counts are {entity}: the rows the rule reads to find the {kind}.", entity=explanation.counted.label(lang),
                       kind=explanation.kind.label(lang) if explanation.kind else "").render(lang))

    total = explanation.total
    rows = [(_("all {subject}", subject=explanation.counted.label(lang)).render(lang), total, "")]
    for step in explanation.steps:
        marker = ""
        if step.empties:
            reason = _("empties the list") if step.role in ("condition", "and", "union", "result") else _("selects nothing")
            marker = f"  ← {reason.render(lang)}"
        rows.append((step.words(lang), step.count, marker))

    label_width = max(len(label) for label, _count, _marker in rows)
    counts = [format_count(count, lang) for _label, count, _marker in rows]
    count_width = max(len(text) for text in counts)
    shares = [format_share(count, total, lang) for _label, count, _marker in rows]
    share_width = max(len(text) for text in shares)
    for (label, count, marker), count_text, share_text in zip(rows, counts, shares):
        line = f"{label.ljust(label_width)}  {bar(count, total, width)}  {count_text.rjust(count_width)}  {share_text.rjust(share_width)}{marker}"
        lines.append(line)

    selected = format_count(explanation.selected, lang)
    lines.append(_("selected: {count} {subject}", count=selected,
                   subject=(explanation.kind.label(lang) if explanation.kind else explanation.entity.label(lang))).render(lang))
    return "\n".join(lines)
