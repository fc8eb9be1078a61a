"""Funnels of `explain_rule` on the real export, and their text rendering.

Every expected count is computed by hand-written DuckDB SQL over the Parquet
files read directly with read_parquet; the product's compiler is never used to
compute an expected value. The rendering tests build explanations by hand, so
their bars and percentages are worked out on paper.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from ernest_rules import compile_rule, default_catalog, describe, open_export
from real_data import hand_connection
from ernest_rules.explain import (Explanation, FunnelStep, bar, explain_definition, explain_rule, format_count, format_share,
                                  render_funnel)
from ernest_rules.export import Export

ROOT = Path(__file__).resolve().parents[1]

# Hand-written conditions over the raw tables (statut, source, etape and type_contrat hold clean spellings;
# viviers hold variants such as ' Dev' and 'dev', hence the folding of their items).
DEV = "list_contains(list_transform(viviers, lambda x: lower(trim(x))), 'dev')"
DATA = "list_contains(list_transform(viviers, lambda x: lower(trim(x))), 'data')"
INTERVIEWED = "id IN (SELECT candidat_id FROM candidatures WHERE etape = 'Entretien')"


@pytest.fixture(scope="module")
def export(real_exports):
    opened = open_export(real_exports / "parquet")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def raw(real_exports):
    """A DuckDB connection where each table is a view over its Parquet file, for hand-written SQL."""
    connection = hand_connection(real_exports)
    yield connection
    connection.close()


def count(raw, sql: str) -> int:
    return raw.execute(sql).fetchone()[0]


def where_count(raw, table: str, *conditions: str) -> int:
    condition = " AND ".join(f"coalesce(({item}), false)" for item in conditions) or "true"
    return count(raw, f"SELECT count(*) FROM {table} WHERE {condition}")


SAVED_RULES = {"dev": 'candidats where vivier = "Dev"'}

# rule → (hand-written SQL of the expected total, of each step's count, of the selected rows), expected roles.
FUNNELS = {
    "and chain": (
        'candidats where vivier = "Dev" and statut = "Disponible" and consentement_rgpd',
        lambda raw: (
            where_count(raw, "candidats"),
            [where_count(raw, "candidats", DEV),
             where_count(raw, "candidats", DEV, "statut = 'Disponible'"),
             where_count(raw, "candidats", DEV, "statut = 'Disponible'", "consentement_rgpd")],
            where_count(raw, "candidats", DEV, "statut = 'Disponible'", "consentement_rgpd"),
        ),
        ["condition", "and", "and"],
    ),
    "or operands": (
        'candidats where statut = "Placé" or source = "Cooptation"',
        lambda raw: (
            where_count(raw, "candidats"),
            [where_count(raw, "candidats", "statut = 'Placé'"),
             where_count(raw, "candidats", "source = 'Cooptation'"),
             where_count(raw, "candidats", "statut = 'Placé' OR source = 'Cooptation'")],
            where_count(raw, "candidats", "statut = 'Placé' OR source = 'Cooptation'"),
        ),
        ["operand", "operand", "union"],
    ),
    "not keeps null": (
        'candidats where not statut in ("Disponible", "En veille")',
        lambda raw: (
            where_count(raw, "candidats"),
            [where_count(raw, "candidats", "statut IS NULL OR statut NOT IN ('Disponible', 'En veille')")],
            where_count(raw, "candidats", "statut IS NULL OR statut NOT IN ('Disponible', 'En veille')"),
        ),
        ["condition"],
    ),
    "quantifier then list": (
        'candidats where any candidatures where (etape = "Entretien") and vivier = "Data"',
        lambda raw: (
            where_count(raw, "candidats"),
            [where_count(raw, "candidats", INTERVIEWED), where_count(raw, "candidats", INTERVIEWED, DATA)],
            where_count(raw, "candidats", INTERVIEWED, DATA),
        ),
        ["condition", "and"],
    ),
    "referents count offers": (
        'referents_rh of offres where statut = "Ouverte" and type_contrat = "CDI"',
        lambda raw: (
            where_count(raw, "offres"),
            [where_count(raw, "offres", "statut = 'Ouverte'"),
             where_count(raw, "offres", "statut = 'Ouverte'", "type_contrat = 'CDI'")],
            count(raw, "SELECT count(DISTINCT referent_rh_id) FROM offres WHERE statut = 'Ouverte' AND type_contrat = 'CDI'"),
        ),
        ["condition", "and"],
    ),
    "except operands": (
        'candidats where vivier = "Dev" except candidats where statut = "Archivé"',
        lambda raw: (
            where_count(raw, "candidats"),
            [where_count(raw, "candidats", DEV), where_count(raw, "candidats", "statut = 'Archivé'"),
             where_count(raw, "candidats", DEV, "statut IS DISTINCT FROM 'Archivé'")],
            where_count(raw, "candidats", DEV, "statut IS DISTINCT FROM 'Archivé'"),
        ),
        ["operand", "operand", "result"],
    ),
    "union chain reference": (
        '@dev union candidats where vivier = "Data" union candidats where statut = "Placé"',
        lambda raw: (
            where_count(raw, "candidats"),
            [where_count(raw, "candidats", DEV), where_count(raw, "candidats", DATA),
             where_count(raw, "candidats", "statut = 'Placé'"),
             where_count(raw, "candidats", f"{DEV} OR {DATA} OR statut = 'Placé'")],
            where_count(raw, "candidats", f"{DEV} OR {DATA} OR statut = 'Placé'"),
        ),
        ["operand", "operand", "operand", "result"],
    ),
    "contradiction empties": (
        'candidats where statut = "Disponible" and statut = "Placé"',
        lambda raw: (
            where_count(raw, "candidats"),
            [where_count(raw, "candidats", "statut = 'Disponible'"),
             where_count(raw, "candidats", "statut = 'Disponible'", "statut = 'Placé'")],
            0,
        ),
        ["condition", "and"],
    ),
    "no condition": (
        "societes",
        lambda raw: (where_count(raw, "societes"), [], where_count(raw, "societes")),
        [],
    ),
}


@pytest.fixture(scope="module")
def explained(export):
    cache: dict[str, Explanation] = {}

    def get(name: str) -> Explanation:
        if name not in cache:
            rule = FUNNELS[name][0]
            cache[name] = explain_rule(compile_rule(rule, rules=SAVED_RULES), export, "en")
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(FUNNELS))
def test_funnel_step_counts(name, explained, raw):
    _total, steps, _selected = FUNNELS[name][1](raw)
    assert [step.count for step in explained(name).steps] == steps


@pytest.mark.parametrize("name", list(FUNNELS))
def test_funnel_total_rows(name, explained, raw):
    total, _steps, _selected = FUNNELS[name][1](raw)
    assert explained(name).total == total


@pytest.mark.parametrize("name", list(FUNNELS))
def test_funnel_selected_rows(name, explained, raw):
    _total, _steps, selected = FUNNELS[name][1](raw)
    assert explained(name).selected == selected


@pytest.mark.parametrize("name", list(FUNNELS))
def test_funnel_step_roles(name, explained):
    assert [step.role for step in explained(name).steps] == FUNNELS[name][2]


def test_referent_funnel_counts_offers(explained):
    explanation = explained("referents count offers")
    assert explanation.counted.name == "offres"
    assert explanation.entity.name == "utilisateurs"
    assert explanation.counts_offers


def test_direct_funnel_counts_entity(explained):
    assert not explained("and chain").counts_offers


def test_contradiction_marks_second_step(explained):
    explanation = explained("contradiction empties")
    assert [step.empties for step in explanation.steps] == [False, True]
    assert explanation.emptying_step is explanation.steps[1]


def test_nonempty_funnel_marks_nothing(explained):
    assert explained("and chain").emptying_step is None


def test_description_in_both_languages(explained, export):
    compiled = compile_rule(FUNNELS["and chain"][0])
    explanation = explained("and chain")
    assert explanation.description_fr == describe(compiled.checked, "fr")
    assert explanation.description_en == describe(compiled.checked, "en")


def test_and_steps_say_conditions(explained):
    words = [step.words("en") for step in explained("and chain").steps]
    assert words == ["talent pools include 'Dev'", "and status is 'Disponible'", "and GDPR consent is true"]


def test_step_source_text(explained):
    assert [step.source for step in explained("or operands").steps] == [
        'statut = "Placé"', 'source = "Cooptation"', 'statut = "Placé" or source = "Cooptation"']


class CountingConnection:
    """Delegate to a DuckDB connection and count the statements executed."""

    def __init__(self, connection):
        self.connection = connection
        self.statements = 0

    def execute(self, *args, **kwargs):
        self.statements += 1
        return self.connection.execute(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.connection, name)


@pytest.mark.parametrize("name", ["and chain", "or operands", "union chain reference", "referents count offers"])
def test_one_query_per_explanation(name, export):
    counting = CountingConnection(export.connection)
    proxy = Export(export.path, export.form, export.catalog, counting, export.files)
    explain_rule(compile_rule(FUNNELS[name][0], rules=SAVED_RULES), proxy, "en")
    assert counting.statements == 1


def test_definition_explains_rule_sections(export, raw):
    definition = {
        "title": "Relance",
        "sections": [
            {"kind": "candidats", "rule": 'candidats where statut = "Disponible" and vivier = "Dev"'},
            {"kind": "contacts", "manual": [1, 2]},
            {"kind": "referents_rh", "label": "rh", "rule": 'referents_rh of offres where statut = "Ouverte"'},
        ],
    }
    explanations = explain_definition(definition, export, "fr")
    assert [explanation.section for explanation in explanations] == ["1", "rh"]
    assert [step.count for step in explanations[0].steps] == [
        where_count(raw, "candidats", "statut = 'Disponible'"), where_count(raw, "candidats", "statut = 'Disponible'", DEV)]
    assert explanations[1].selected == count(raw, "SELECT count(DISTINCT referent_rh_id) FROM offres WHERE statut = 'Ouverte'")


# ---------------------------------------------------------------- rendering

CANDIDATS = default_catalog().entity("candidats")


def hand_explanation(total: int, counts: list[int]) -> Explanation:
    """An `and` funnel of made-up counts, one step per count, each step compared with the previous one."""
    steps = []
    base = total
    for index, value in enumerate(counts):
        steps.append(FunnelStep("condition" if index == 0 else "and", f"condition {index} fr", f"condition {index} en",
                                f"c{index}", value, base))
        base = value
    return Explanation("candidats where …", "candidats dont …", "candidates where …", CANDIDATS, CANDIDATS, None, "and",
                       total, counts[-1], tuple(steps), dt.date(2025, 3, 10))


def bar_line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(label))


@pytest.mark.parametrize("label, filled", [
    ("all candidates", 40),
    ("condition 0 en", 11),  # 5 319 / 20 000 × 40 = 10.64
    ("condition 1 en", 3),  # 1 460 / 20 000 × 40 = 2.92
    ("condition 2 en", 0),
])
def test_bars_are_proportional(label, filled):
    text = render_funnel(hand_explanation(20000, [5319, 1460, 0]), "en")
    line = bar_line(text, label)
    assert line.count("█") == filled
    assert line.count("░") == 40 - filled


@pytest.mark.parametrize("width, filled", [(10, 3), (20, 5), (100, 27)])
def test_bar_width_option(width, filled):
    text = render_funnel(hand_explanation(20000, [5319]), "en", width=width)
    assert bar_line(text, "condition 0 en").count("█") == filled


@pytest.mark.parametrize("lang, label, number, share", [
    ("fr", "l'ensemble des candidats", "20\u202f000", "100,0\u00a0%"),
    ("fr", "condition 0 fr", "5\u202f319", "26,6\u00a0%"),
    ("fr", "condition 1 fr", "1\u202f460", "7,3\u00a0%"),
    ("en", "all candidates", "20,000", "100.0%"),
    ("en", "condition 0 en", "5,319", "26.6%"),
    ("en", "condition 1 en", "1,460", "7.3%"),
])
def test_numbers_follow_language(lang, label, number, share):
    line = bar_line(render_funnel(hand_explanation(20000, [5319, 1460, 0]), lang), label)
    assert f" {number} " in line
    assert line.endswith(f" {share}")


def test_zero_step_is_marked():
    lines = render_funnel(hand_explanation(20000, [5319, 1460, 0]), "en").splitlines()
    marked = [line for line in lines if "←" in line]
    assert marked == [bar_line("\n".join(lines), "condition 2 en")]


def test_counts_are_right_aligned():
    lines = render_funnel(hand_explanation(20000, [5319, 1460, 0]), "en").splitlines()
    bars = [line for line in lines if "█" in line or "░" in line]
    ends = {line.index("%") for line in bars}
    assert len(ends) == 1


@pytest.mark.parametrize("count_value, total, expected", [
    (5319, 20000, "26,6\u00a0%"),
    (0, 20000, "0,0\u00a0%"),
    (1, 3, "33,3\u00a0%"),
    (5, 0, "–"),
])
def test_share_french_format(count_value, total, expected):
    assert format_share(count_value, total, "fr") == expected


@pytest.mark.parametrize("lang, expected", [("fr", "1\u202f234\u202f567"), ("en", "1,234,567")])
def test_count_format(lang, expected):
    assert format_count(1234567, lang) == expected


@pytest.mark.parametrize("count_value, total, width, expected", [
    (0, 10, 8, "░" * 8),
    (10, 10, 8, "█" * 8),
    (1, 16, 8, "█" + "░" * 7),  # 0.5 cell rounds up
    (1, 17, 8, "░" * 8),  # 0.47 cell rounds down
    (3, 0, 4, "░" * 4),
])
def test_bar_rounding(count_value, total, width, expected):
    assert bar(count_value, total, width) == expected
