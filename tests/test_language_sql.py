"""Exact SQL and parameters that rules compile to.

The expected strings follow the compilation scheme of `ernest_rules.compile`. A text
column is folded as lower(strip_accents(trim(col))). Every comparison is wrapped in
coalesce(…, false), so it is never NULL, and `!=` and `not in` are (NOT …) of the
equality. `and`/`or` are parenthesised. To-one paths are scalar subqueries with aliases
r1, r2, …, and values are bound parameters $p1, $p2, … that contain folded texts.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from ernest_rules import Catalog, compile_rule, default_catalog, open_export, quote_identifier

TINY_PARQUET = Path(__file__).resolve().parent / "fixtures" / "tiny" / "parquet"
MARCH_10 = dt.date(2025, 3, 10)

CONDITION_CASES = [
    pytest.param('candidats where ville = "Paris"',
                 'coalesce(lower(strip_accents(trim(t."ville"))) = $p1, false)',
                 {"p1": "paris"}, id="text equals"),
    pytest.param('candidats where ville != "Saint-Étienne"',
                 '(NOT coalesce(lower(strip_accents(trim(t."ville"))) = $p1, false))',
                 {"p1": "saint-etienne"}, id="text differs"),
    pytest.param('candidats where ville <> "  Lyon\u00a0"',
                 '(NOT coalesce(lower(strip_accents(trim(t."ville"))) = $p1, false))',
                 {"p1": "lyon"}, id="text angle differs trimmed"),
    pytest.param('candidats where statut in ("Disponible", "En veille")',
                 'coalesce(lower(strip_accents(trim(t."statut"))) IN ($p1, $p2), false)',
                 {"p1": "disponible", "p2": "en veille"}, id="text in two values"),
    pytest.param('candidats where statut not in ("Placé")',
                 '(NOT coalesce(lower(strip_accents(trim(t."statut"))) = $p1, false))',
                 {"p1": "place"}, id="text not in one value"),
    pytest.param('candidats where statut not in ("Placé", "Archivé")',
                 '(NOT coalesce(lower(strip_accents(trim(t."statut"))) IN ($p1, $p2), false))',
                 {"p1": "place", "p2": "archive"}, id="text not in two values"),
    pytest.param('candidats where nom contains "Dup%"',
                 'coalesce(contains(lower(strip_accents(trim(t."nom"))), $p1), false)',
                 {"p1": "dup%"}, id="text contains"),
    pytest.param('candidats where nom starts with "É_"',
                 'coalesce(starts_with(lower(strip_accents(trim(t."nom"))), $p1), false)',
                 {"p1": "e_"}, id="text starts with"),
    pytest.param('candidats where ville is empty',
                 '(t."ville" IS NULL OR trim(t."ville") = \'\')',
                 {}, id="text is empty"),
    pytest.param('candidats where ville is not empty',
                 '(NOT (t."ville" IS NULL OR trim(t."ville") = \'\'))',
                 {}, id="text is not empty"),
    pytest.param('candidats where viviers is empty',
                 '(t."viviers" IS NULL OR len(list_filter(t."viviers", lambda x: trim(x) <> \'\')) = 0)',
                 {}, id="list is empty"),
    pytest.param('candidats where disponibilite is empty',
                 '(t."disponibilite" IS NULL)',
                 {}, id="date is empty"),
    pytest.param('candidats where date_creation is not empty',
                 '(NOT (CAST(t."date_creation" AS DATE) IS NULL))',
                 {}, id="timestamp is not empty"),
    pytest.param('candidats where vivier = "Dev"',
                 'coalesce(list_contains(list_transform(t."viviers", lambda x: lower(strip_accents(trim(x)))), $p1), false)',
                 {"p1": "dev"}, id="list equals alias"),
    pytest.param('candidats where viviers in ("Dev", " Data ")',
                 'coalesce(list_has_any(list_transform(t."viviers", lambda x: lower(strip_accents(trim(x)))), [$p1, $p2]), false)',
                 {"p1": "dev", "p2": "data"}, id="list in two values"),
    pytest.param('candidats where viviers != "Dev"',
                 '(NOT coalesce(list_contains(list_transform(t."viviers", lambda x: lower(strip_accents(trim(x)))), $p1), false))',
                 {"p1": "dev"}, id="list differs"),
    pytest.param('candidats where viviers not in ("Dev", "RH")',
                 '(NOT coalesce(list_has_any(list_transform(t."viviers", lambda x: lower(strip_accents(trim(x)))), [$p1, $p2]), false))',
                 {"p1": "dev", "p2": "rh"}, id="list not in"),
    pytest.param('candidats where viviers contains "Data"',
                 'coalesce(list_contains(list_transform(t."viviers", lambda x: lower(strip_accents(trim(x)))), $p1), false)',
                 {"p1": "data"}, id="list contains is equals"),
    pytest.param('candidats where competences starts with "Py"',
                 'coalesce(len(list_filter(t."competences", lambda x: starts_with(lower(strip_accents(trim(x))), $p1))) > 0, false)',
                 {"p1": "py"}, id="list starts with"),
    pytest.param('candidats where id > 10',
                 'coalesce(t."id" > $p1, false)',
                 {"p1": 10}, id="integer greater"),
    pytest.param('candidats where id < 2.5',
                 'coalesce(t."id" < $p1, false)',
                 {"p1": Decimal("2.5")}, id="integer less decimal"),
    pytest.param('candidats where id in (1, 2)',
                 'coalesce(t."id" IN ($p1, $p2), false)',
                 {"p1": 1, "p2": 2}, id="integer in"),
    pytest.param('candidats where id != 3',
                 '(NOT coalesce(t."id" = $p1, false))',
                 {"p1": 3}, id="integer differs"),
    pytest.param('candidats where disponibilite >= 10/03/2025',
                 'coalesce(t."disponibilite" >= $p1, false)',
                 {"p1": MARCH_10}, id="date french literal"),
    pytest.param('candidats where date_creation < 2025-03-10',
                 'coalesce(CAST(t."date_creation" AS DATE) < $p1, false)',
                 {"p1": MARCH_10}, id="timestamp less by date"),
    pytest.param('candidats where date_creation = 2025-03-10',
                 'coalesce(CAST(t."date_creation" AS DATE) = $p1, false)',
                 {"p1": MARCH_10}, id="timestamp equals by date"),
    pytest.param('candidats where desabonne',
                 'coalesce(t."desabonne", false)',
                 {}, id="bare boolean"),
    pytest.param('candidats where not desabonne',
                 '(NOT coalesce(t."desabonne", false))',
                 {}, id="not boolean"),
    pytest.param('candidats where consentement_rgpd = true',
                 'coalesce(t."consentement_rgpd" = $p1, false)',
                 {"p1": True}, id="boolean equals true"),
    pytest.param('candidats where desabonne or consentement_rgpd and ville = "Paris"',
                 '(coalesce(t."desabonne", false) OR (coalesce(t."consentement_rgpd", false)'
                 ' AND coalesce(lower(strip_accents(trim(t."ville"))) = $p1, false)))',
                 {"p1": "paris"}, id="and inside or"),
    pytest.param('candidats where (desabonne or consentement_rgpd) and ville = "Paris"',
                 '((coalesce(t."desabonne", false) OR coalesce(t."consentement_rgpd", false))'
                 ' AND coalesce(lower(strip_accents(trim(t."ville"))) = $p1, false))',
                 {"p1": "paris"}, id="or inside and"),
    pytest.param('candidats where desabonne and consentement_rgpd and ville is empty',
                 '(coalesce(t."desabonne", false) AND coalesce(t."consentement_rgpd", false)'
                 ' AND (t."ville" IS NULL OR trim(t."ville") = \'\'))',
                 {}, id="three operand and"),
    pytest.param('candidats where ville = "A" or ville = "B"',
                 '(coalesce(lower(strip_accents(trim(t."ville"))) = $p1, false)'
                 ' OR coalesce(lower(strip_accents(trim(t."ville"))) = $p2, false))',
                 {"p1": "a", "p2": "b"}, id="params numbered in order"),
    pytest.param('candidats where not not desabonne',
                 '(NOT (NOT coalesce(t."desabonne", false)))',
                 {}, id="double negation"),
    pytest.param('candidats where not (desabonne or consentement_rgpd)',
                 '(NOT (coalesce(t."desabonne", false) OR coalesce(t."consentement_rgpd", false)))',
                 {}, id="not of or"),
    pytest.param('contacts where societe.ville = "Lyon"',
                 'coalesce(lower(strip_accents(trim((SELECT r1."ville" FROM "societes" AS r1'
                 ' WHERE r1."id" = t."societe_id")))) = $p1, false)',
                 {"p1": "lyon"}, id="path text equals"),
    pytest.param('contacts where societe.ville = "Lyon" and societe.desabonne',
                 '(coalesce(lower(strip_accents(trim((SELECT r1."ville" FROM "societes" AS r1'
                 ' WHERE r1."id" = t."societe_id")))) = $p1, false)'
                 ' AND coalesce((SELECT r2."desabonne" FROM "societes" AS r2 WHERE r2."id" = t."societe_id"), false))',
                 {"p1": "lyon"}, id="two paths distinct aliases"),
    pytest.param('candidatures where offre.referent_rh.actif',
                 'coalesce((SELECT (SELECT r2."actif" FROM "utilisateurs" AS r2 WHERE r2."id" = r1."referent_rh_id")'
                 ' FROM "offres" AS r1 WHERE r1."id" = t."offre_id"), false)',
                 {}, id="two step path"),
    pytest.param('candidatures where candidat.date_creation < 2025-03-10',
                 'coalesce((SELECT CAST(r1."date_creation" AS DATE) FROM "candidats" AS r1'
                 ' WHERE r1."id" = t."candidat_id") < $p1, false)',
                 {"p1": MARCH_10}, id="path timestamp by date"),
    pytest.param('candidatures where candidat.viviers = "Dev"',
                 'coalesce(list_contains(list_transform((SELECT r1."viviers" FROM "candidats" AS r1'
                 ' WHERE r1."id" = t."candidat_id"), lambda x: lower(strip_accents(trim(x)))), $p1), false)',
                 {"p1": "dev"}, id="path list equals"),
    pytest.param('candidats où ville = "Paris" et non desabonne',
                 '(coalesce(lower(strip_accents(trim(t."ville"))) = $p1, false) AND (NOT coalesce(t."desabonne", false)))',
                 {"p1": "paris"}, id="french keywords"),
    pytest.param('candidats',
                 'true',
                 {}, id="no condition"),
]


@pytest.mark.parametrize("rule, condition, params", CONDITION_CASES)
def test_rule_compiles_to_condition(rule, condition, params):
    compiled = compile_rule(rule)
    assert compiled.condition == condition
    assert compiled.params == params


KEYS_SQL_CASES = [
    pytest.param('candidats where ville = "Paris"',
                 'SELECT t."id" AS id FROM "candidats" AS t'
                 ' WHERE coalesce(lower(strip_accents(trim(t."ville"))) = $p1, false)', id="entity keys"),
    pytest.param('contacts where desabonne or poste_actif',
                 'SELECT t."id" AS id FROM "contacts" AS t'
                 ' WHERE (coalesce(t."desabonne", false) OR coalesce(t."poste_actif", false))', id="entity keys with or"),
    pytest.param('referents_rh of offres where statut = "Ouverte"',
                 'SELECT u."id" AS id FROM "utilisateurs" AS u WHERE u."id" IN (SELECT t."referent_rh_id"'
                 ' FROM "offres" AS t WHERE coalesce(lower(strip_accents(trim(t."statut"))) = $p1, false))', id="referents rh keys"),
    pytest.param('referents_operationnels of offres',
                 'SELECT u."id" AS id FROM "utilisateurs" AS u WHERE u."id" IN (SELECT t."referent_operationnel_id"'
                 ' FROM "offres" AS t WHERE true)', id="referents without condition"),
]


@pytest.mark.parametrize("rule, keys_sql", KEYS_SQL_CASES)
def test_rule_compiles_to_keys_sql(rule, keys_sql):
    assert compile_rule(rule).keys_sql == keys_sql


@pytest.mark.parametrize("rule", [case.values[0] for case in CONDITION_CASES + KEYS_SQL_CASES])
def test_identifiers_always_quoted(rule):
    compiled = compile_rule(rule)
    for sql in (compiled.condition, compiled.keys_sql, compiled.rows_sql):
        # Every alias is followed by a quoted name or by *; every FROM names a quoted table or a subquery.
        assert re.findall(r'\b(?:t|u|r\d+)\.(?!["*])', sql) == []
        assert re.findall(r'\bFROM (?!["(])', sql) == []


# Hostile values: (text between the double quotes of the rule, value expected in the parameter).
HOSTILE_VALUES = [
    pytest.param("Robert'); DROP TABLE candidats; --", "robert'); drop table candidats; --", id="quote semicolon comment"),
    pytest.param("' OR '1'='1", "' or '1'='1", id="single quote tautology"),
    pytest.param('a\\"b', 'a"b', id="escaped double quote"),
    pytest.param('\\"); SELECT 1; --', '"); select 1; --', id="double quote breakout"),
    pytest.param("$1", "$1", id="positional dollar"),
    pytest.param("$p1", "$p1", id="named dollar"),
    pytest.param("?", "?", id="question mark"),
    pytest.param("C:\\\\temp\\\\", "c:\\temp\\", id="backslashes"),
    pytest.param("100%_x", "100%_x", id="like metacharacters"),
    pytest.param("*/ /* --", "*/ /* --", id="comment markers"),
    pytest.param("a\x00b", "a\x00b", id="nul character"),
    pytest.param("\u200fabc", "\u200fabc", id="right to left mark"),
    pytest.param("a\\nb", "a\nb", id="escaped line break"),
]

RULE_TEMPLATES = [
    'candidats where nom = "{}"',
    'candidats where nom != "{}"',
    'candidats where nom in ("{}", "{}")',
    'candidats where nom not in ("{}")',
    'candidats where nom contains "{}"',
    'candidats where nom starts with "{}"',
    'candidats where viviers = "{}"',
    'candidats where viviers starts with "{}"',
    'contacts where societe.nom = "{}"',
    'referents_rh of offres where titre contains "{}"',
]


@pytest.mark.parametrize("template", RULE_TEMPLATES)
@pytest.mark.parametrize("literal, value", HOSTILE_VALUES)
def test_value_only_in_params(template, literal, value):
    hostile = compile_rule(template.replace("{}", literal))
    plain = compile_rule(template.replace("{}", "x"))
    assert hostile.condition == plain.condition
    assert hostile.keys_sql == plain.keys_sql
    assert hostile.rows_sql == plain.rows_sql
    assert hostile.params == {name: value for name in plain.params}


@pytest.fixture(scope="module")
def tiny_export():
    export = open_export(TINY_PARQUET)
    yield export
    export.close()


@pytest.mark.parametrize("literal, value", HOSTILE_VALUES)
def test_hostile_value_runs_harmlessly(tiny_export, literal, value):
    compiled = compile_rule(f'candidats where nom = "{literal}"')
    rows = tiny_export.connection.execute(compiled.keys_sql, compiled.params).fetchall()
    assert rows == []
    assert tiny_export.connection.execute('SELECT count(*) FROM "candidats"').fetchone() == (12,)


def odd_names_catalog() -> Catalog:
    """The default catalog with a table, key and column whose names hold a double quote or a space."""
    data = default_catalog().model_dump()
    candidats = next(entity for entity in data["entities"] if entity["name"] == "candidats")
    candidats["table"] = 'cand"idats'
    candidats["key"] = "i d"
    ville = next(field for field in candidats["fields"] if field["name"] == "ville")
    ville["column"] = 'vil"le'
    return Catalog.model_validate(data)


def test_odd_names_quoted_in_condition():
    compiled = compile_rule('candidats where ville = "x"', odd_names_catalog())
    assert compiled.condition == 'coalesce(lower(strip_accents(trim(t."vil""le"))) = $p1, false)'


def test_odd_names_quoted_in_keys_sql():
    compiled = compile_rule('candidats where ville = "x"', odd_names_catalog())
    assert compiled.keys_sql == ('SELECT t."i d" AS id FROM "cand""idats" AS t'
                                 ' WHERE coalesce(lower(strip_accents(trim(t."vil""le"))) = $p1, false)')


@pytest.mark.parametrize("name, quoted", [
    pytest.param("ville", '"ville"', id="plain name"),
    pytest.param('a"b', '"a""b"', id="embedded double quote"),
    pytest.param('"; DROP TABLE x; --', '"""; DROP TABLE x; --"', id="injection attempt"),
])
def test_quote_identifier(name, quoted):
    assert quote_identifier(name) == quoted
