"""The syntax tree as JSON: documents written by hand, round trips, random trees, and invalid documents.

The expected documents and error messages were written from the shape documented in `ernest_rules/treejson.py`
and from the message ids, not copied from the output.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ernest_rules import ErnestRulesError, parse
from ernest_rules import syntax as s
from ernest_rules.format import format_rule
from ernest_rules.treejson import TreeJsonError, dumps, from_json, loads, to_json

# test_format.py contains the rule table, the tree strategy and `strip_spans`. Pytest puts tests/ on sys.path.
from test_format import CASE_IDS, CASES, deep_not_chain, rules, strip_spans

ZERO = s.Span(1, 1, 0, 0)
RULES = [case[1] for case in CASES]


def text_value(value):
    return {"type": "text", "value": value}


def document(rule):
    return {"version": 1, "rule": rule}


def query(where, target="candidats", through=None):
    return {"node": "query", "target": target, "through": through, "where": where}


# ---------------------------------------------------------------- documents written by hand

EXPECTED_DOCUMENTS = [
    ("comparison", 'candidats where vivier = "Dev"',
     document(query({"node": "comparison", "field": ["vivier"], "operator": "=", "value": text_value("Dev")}))),
    ("referents without where", "referents_rh de offres", document(query(None, "referents_rh", "offres"))),
    ("relative date from today", "candidats where date_inscription > aujourd'hui - 30 jours",
     document(query({"node": "comparison", "field": ["date_inscription"], "operator": ">",
                     "value": {"type": "date", "value": {"today": True, "shifts": [{"amount": -30, "unit": "day"}]}}}))),
    ("decimal and shifted date", "offres where salaire between 1.50 and 10/03/2025 + 1 mois - 2 weeks",
     document(query({"node": "between", "field": ["salaire"], "low": {"type": "decimal", "value": "1.50"},
                     "high": {"type": "date", "value": {"base": "2025-03-10", "shifts": [{"amount": 1, "unit": "month"},
                                                                                         {"amount": -2, "unit": "week"}]}}},
                    "offres"))),
    ("set operations", "@a union @b inter @c",
     document({"node": "set_operation", "operator": "union", "left": {"node": "reference", "name": "a"},
               "right": {"node": "set_operation", "operator": "intersect", "left": {"node": "reference", "name": "b"},
                         "right": {"node": "reference", "name": "c"}}})),
    ("quantifier and connectives", "societes where not at least 2 contacts where (a or b.c in (1, true, 2025-01-31))",
     document(query({"node": "not", "operand": {
         "node": "quantified", "quantifier": "at_least", "count": 2, "relation": ["contacts"],
         "where": {"node": "or", "operands": [
             {"node": "truth", "field": ["a"]},
             {"node": "membership", "field": ["b", "c"], "negated": False,
              "values": [{"type": "integer", "value": 1}, {"type": "boolean", "value": True},
                         {"type": "date", "value": "2025-01-31"}]}]}}}, "societes"))),
    ("matches and emptiness", 'candidats where nom commence par "Du" and competences contains all ("Go") and email is not empty'
     ' and no candidatures',
     document(query({"node": "and", "operands": [
         {"node": "text_match", "field": ["nom"], "mode": "starts_with", "value": text_value("Du")},
         {"node": "list_match", "field": ["competences"], "mode": "all", "values": [text_value("Go")]},
         {"node": "emptiness", "field": ["email"], "negated": True},
         {"node": "quantified", "quantifier": "no", "count": 0, "relation": ["candidatures"], "where": None}]}))),
]


@pytest.mark.parametrize("name, rule, expected", EXPECTED_DOCUMENTS, ids=[case[0] for case in EXPECTED_DOCUMENTS])
def test_document_shape(name, rule, expected):
    assert to_json(parse(rule)) == expected


def test_spans_written():
    # "candidats where actif": candidats is offsets 0-9, actif 16-21 (column 17).
    actif = {"line": 1, "column": 17, "start": 16, "end": 21}
    expected = document({"node": "query", "target": "candidats", "through": None,
                         "where": {"node": "truth", "field": ["actif"], "field_span": actif, "field_part_spans": [actif], "span": actif},
                         "target_span": {"line": 1, "column": 1, "start": 0, "end": 9},
                         "span": {"line": 1, "column": 1, "start": 0, "end": 21}})
    assert to_json(parse("candidats where actif"), spans=True) == expected


def test_missing_spans_are_empty():
    rule = from_json(document(query({"node": "truth", "field": ["actif"]})))
    assert rule == s.Query(s.Name("candidats", ZERO), None, s.Truth(s.FieldPath((s.Name("actif", ZERO),), ZERO), ZERO), ZERO)


def test_optional_keys_default():
    data = document({"node": "query", "target": "societes",
                     "where": {"node": "quantified", "quantifier": "any", "relation": ["offres"]}})
    assert format_rule(from_json(data)) == "societes where any offres"


# ---------------------------------------------------------------- round trips of the rule table

@pytest.mark.parametrize("rule", RULES, ids=CASE_IDS)
def test_round_trip_with_spans(rule):
    tree = parse(rule)
    assert from_json(to_json(tree, spans=True)) == tree


@pytest.mark.parametrize("rule", RULES, ids=CASE_IDS)
def test_round_trip_without_spans(rule):
    tree = parse(rule)
    assert from_json(to_json(tree)) == strip_spans(tree)


@pytest.mark.parametrize("rule", RULES, ids=CASE_IDS)
def test_round_trip_through_text(rule):
    tree = parse(rule)
    assert loads(dumps(tree, spans=True)) == tree


@pytest.mark.parametrize("rule", RULES, ids=CASE_IDS)
def test_formatted_from_json_reparses(rule):
    tree = parse(rule)
    assert strip_spans(parse(format_rule(from_json(to_json(tree))))) == strip_spans(tree)


def test_dumps_keeps_accents():
    assert '"Santé"' in dumps(parse('societes where secteur = "Santé"'))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(tree=rules, spans=st.booleans())
def test_random_tree_round_trip(tree, spans):
    assert loads(dumps(tree, spans=spans)) == tree


# ---------------------------------------------------------------- deep rules

def test_deep_not_chain_from_json():
    condition = {"node": "truth", "field": ["actif"]}
    for _ in range(3000):
        condition = {"node": "not", "operand": condition}
    rule = from_json(document(query(condition)))
    assert format_rule(rule, width=100_000) == "candidats where " + "not " * 3000 + "actif"


def test_deep_tree_to_json():
    data = to_json(deep_not_chain(3000))["rule"]["where"]
    depth = 0
    while data["node"] == "not":
        data, depth = data["operand"], depth + 1
    assert depth == 3000


def test_deep_dumps_is_an_error():
    with pytest.raises(TreeJsonError):
        dumps(deep_not_chain(3000))


def test_deep_loads_is_an_error():
    with pytest.raises(TreeJsonError):
        loads("[" * 100_000 + "]" * 100_000)


# ---------------------------------------------------------------- invalid documents

COMPARISON = {"node": "comparison", "field": ["vivier"], "operator": "=", "value": text_value("Dev")}


def with_where(where):
    return document(query(where))


def with_value(value):
    return with_where({**COMPARISON, "value": value})


def with_date(value):
    return with_value({"type": "date", "value": value})


NAME_RULE = "a name starts with a letter or _ and holds only letters, digits and _"
RELATIVE = "a relative date needs either 'today' set to true or a 'base' date, not both"
VALUE = "$.rule.where.value"

# (name, document, JSON path, English message)
INVALID = [
    ("not an object", [], "$", "expected an object, found []"),
    ("missing version", {"rule": query(None)}, "$", "missing key 'version'"),
    ("unknown top key", {"version": 1, "rule": query(None), "rules": []}, "$", "unknown key 'rules'"),
    ("future version", {"version": 2, "rule": query(None)}, "$.version", "unsupported version 2; expected 1"),
    ("version as text", {"version": "1", "rule": query(None)}, "$.version", 'unsupported version "1"; expected 1'),
    ("version as boolean", {"version": True, "rule": query(None)}, "$.version", "unsupported version true; expected 1"),
    ("rule as text", document("candidats"), "$.rule", 'expected an object, found "candidats"'),
    ("missing node key", document({"target": "candidats"}), "$.rule", "missing key 'node'"),
    ("unknown rule node", document({"node": "select"}), "$.rule.node",
     'unknown node type "select"; expected one of query, set_operation, reference'),
    ("condition as rule", document({"node": "truth", "field": ["actif"]}), "$.rule.node",
     'unknown node type "truth"; expected one of query, set_operation, reference'),
    ("rule as condition", with_where(query(None)), "$.rule.where.node",
     'unknown node type "query"; expected one of and, or, not, comparison, membership, emptiness, text_match, '
     "list_match, between, quantified, truth"),
    ("misspelt where", document({"node": "query", "target": "candidats", "wehre": None}), "$.rule", "unknown key 'wehre'"),
    ("missing target", document({"node": "query", "where": None}), "$.rule", "missing key 'target'"),
    ("target as number", document({"node": "query", "target": 12}), "$.rule.target", "expected a name, found 12"),
    ("target with space", document({"node": "query", "target": "vivier dev"}), "$.rule.target",
     f'"vivier dev" is not a valid name: {NAME_RULE}'),
    ("reference with at", document({"node": "reference", "name": "@dev"}), "$.rule.name", f'"@dev" is not a valid name: {NAME_RULE}'),
    ("unknown set operator", document({"node": "set_operation", "operator": "minus", "left": query(None), "right": query(None)}),
     "$.rule.operator", '"minus" is not one of union, except, intersect'),
    ("bad right operand", document({"node": "set_operation", "operator": "union", "left": query(None), "right": {"node": "query"}}),
     "$.rule.right", "missing key 'target'"),
    ("one operand", with_where({"node": "and", "operands": [{"node": "truth", "field": ["a"]}]}), "$.rule.where.operands",
     "'and' needs at least 2 operands, found 1"),
    ("operands not a list", with_where({"node": "or", "operands": {"node": "truth", "field": ["a"]}}), "$.rule.where.operands",
     'expected a list, found {"node": "truth", "field": ["a"]}'),
    ("null operand of not", with_where({"node": "not", "operand": None}), "$.rule.where.operand", "expected an object, found null"),
    ("deep bad field", with_where({"node": "and", "operands": [{"node": "truth", "field": ["a"]},
                                                              {"node": "not", "operand": {"node": "truth", "field": []}}]}),
     "$.rule.where.operands[1].operand.field", "expected a list of names, found []"),
    ("field as dotted text", with_where({"node": "truth", "field": "societe.secteur"}), "$.rule.where.field",
     'expected a list of names, found "societe.secteur"'),
    ("empty field part", with_where({"node": "truth", "field": ["societe", ""]}), "$.rule.where.field[1]",
     f'"" is not a valid name: {NAME_RULE}'),
    ("diamond operator", with_where({**COMPARISON, "operator": "<>"}), "$.rule.where.operator",
     '"<>" is not one of =, !=, <, <=, >, >=, =='),
    ("missing value", with_where({"node": "comparison", "field": ["a"], "operator": "="}), "$.rule.where", "missing key 'value'"),
    ("unknown literal type", with_value({"type": "string", "value": "Dev"}), f"{VALUE}.type",
     '"string" is not one of text, integer, decimal, boolean, date'),
    ("bare value", with_value("Dev"), VALUE, 'expected an object, found "Dev"'),
    ("text as number", with_value({"type": "text", "value": 3}), f"{VALUE}.value", "expected a text, found 3"),
    ("integer as boolean", with_value({"type": "integer", "value": True}), f"{VALUE}.value", "expected an integer, found true"),
    ("integer as float", with_value({"type": "integer", "value": 3.5}), f"{VALUE}.value", "expected an integer, found 3.5"),
    ("decimal as float", with_value({"type": "decimal", "value": 1.5}), f"{VALUE}.value", "expected a decimal number, found 1.5"),
    ("decimal with exponent", with_value({"type": "decimal", "value": "1e3"}), f"{VALUE}.value",
     '"1e3" is not a decimal number such as 12.50'),
    ("decimal without fraction", with_value({"type": "decimal", "value": "12"}), f"{VALUE}.value",
     '"12" is not a decimal number such as 12.50'),
    ("boolean as text", with_value({"type": "boolean", "value": "true"}), f"{VALUE}.value", 'expected a boolean, found "true"'),
    ("french date", with_date("10/03/2025"), f"{VALUE}.value",
     '"10/03/2025" is not a valid date; expected a date such as 2025-03-10'),
    ("impossible date", with_date("2025-02-30"), f"{VALUE}.value",
     '"2025-02-30" is not a valid date; expected a date such as 2025-03-10'),
    ("compact date", with_date("20250310"), f"{VALUE}.value",
     '"20250310" is not a valid date; expected a date such as 2025-03-10'),
    ("date as number", with_date(20250310), f"{VALUE}.value", "expected a date or a relative date, found 20250310"),
    ("today and base", with_date({"today": True, "base": "2025-03-10", "shifts": []}), f"{VALUE}.value", RELATIVE),
    ("neither today nor base", with_date({"shifts": []}), f"{VALUE}.value", RELATIVE),
    ("base without shift", with_date({"base": "2025-03-10", "shifts": []}), f"{VALUE}.value.shifts",
     "a relative date from a 'base' date needs at least one shift"),
    ("plural unit", with_date({"today": True, "shifts": [{"amount": -30, "unit": "days"}]}), f"{VALUE}.value.shifts[0].unit",
     '"days" is not one of day, week, month, year'),
    ("amount as text", with_date({"today": True, "shifts": [{"amount": "30", "unit": "day"}]}), f"{VALUE}.value.shifts[0].amount",
     'expected an integer, found "30"'),
    ("missing negated", with_where({"node": "membership", "field": ["a"], "values": []}), "$.rule.where", "missing key 'negated'"),
    ("values as text", with_where({"node": "membership", "field": ["a"], "negated": False, "values": "a"}), "$.rule.where.values",
     'expected a list, found "a"'),
    ("value without type", with_where({"node": "list_match", "field": ["a"], "mode": "any", "values": [text_value("x"), {"value": "y"}]}),
     "$.rule.where.values[1]", "missing key 'type'"),
    ("unknown text mode", with_where({"node": "text_match", "field": ["a"], "mode": "ends_with", "value": text_value("x")}),
     "$.rule.where.mode", '"ends_with" is not one of contains, starts_with'),
    ("unknown quantifier", with_where({"node": "quantified", "quantifier": "some", "relation": ["offres"]}),
     "$.rule.where.quantifier", '"some" is not one of any, no, at_least, at_most, exactly'),
    ("count missing", with_where({"node": "quantified", "quantifier": "at_least", "relation": ["offres"]}), "$.rule.where",
     "missing key 'count'"),
    ("negative count", with_where({"node": "quantified", "quantifier": "at_most", "count": -1, "relation": ["offres"]}),
     "$.rule.where.count", "a count must be a whole number of 0 or more, not -1"),
    ("any counted twice", with_where({"node": "quantified", "quantifier": "any", "count": 2, "relation": ["offres"]}),
     "$.rule.where.count", "the count of 'any' is always 1"),
    ("span line zero", document({**query(None), "span": {"line": 0, "column": 1, "start": 0, "end": 9}}), "$.rule.span.line",
     "expected a whole number of 1 or more, found 0"),
    ("span missing end", document({**query(None), "span": {"line": 1, "column": 1, "start": 0}}), "$.rule.span",
     "missing key 'end'"),
    ("part spans too short", with_where({"node": "truth", "field": ["a"], "field_part_spans": []}), "$.rule.where.field_part_spans",
     "expected a list of one span per name, found []"),
]

INVALID_IDS = [case[0] for case in INVALID]


@pytest.mark.parametrize("name, data, path, message", INVALID, ids=INVALID_IDS)
def test_invalid_document_path(name, data, path, message):
    with pytest.raises(TreeJsonError) as caught:
        from_json(data)
    assert [problem.origin for problem in caught.value.problems] == [path]


@pytest.mark.parametrize("name, data, path, message", INVALID, ids=INVALID_IDS)
def test_invalid_document_message(name, data, path, message):
    with pytest.raises(TreeJsonError) as caught:
        from_json(data)
    assert caught.value.problems[0].message.render("en") == message


@pytest.mark.parametrize("name, data, path, message", INVALID, ids=INVALID_IDS)
def test_invalid_document_through_text(name, data, path, message):
    with pytest.raises(ErnestRulesError) as caught:
        loads(json.dumps(data))
    assert caught.value.render("en") == f"{path}: {message}"


def test_every_problem_listed():
    data = with_where({"node": "or", "operands": [{"node": "truth", "field": []}, {"node": "truth", "field": ["a"]},
                                                  {"node": "truth", "field": ["b"], "colour": "red"}]})
    with pytest.raises(TreeJsonError) as caught:
        from_json(data)
    assert [problem.origin for problem in caught.value.problems] == ["$.rule.where.operands[0].field", "$.rule.where.operands[2]"]


def test_french_message():
    with pytest.raises(TreeJsonError) as caught:
        from_json({"rule": query(None)})
    assert caught.value.render("fr") == "$ : clé « version » manquante"


def test_input_left_unchanged():
    data = with_date({"today": True, "shifts": [{"amount": -30, "unit": "day"}]})
    before = copy.deepcopy(data)
    from_json(data)
    assert data == before


@pytest.mark.parametrize("text, line, column", [
    ('{"version": 1,', 1, 15),
    ('{"version": 1,\n "rule": {,}}', 2, 11),
    ("", 1, 1),
], ids=["truncated", "second line", "empty text"])
def test_not_json_position(text, line, column):
    with pytest.raises(TreeJsonError) as caught:
        loads(text)
    assert (caught.value.problems[0].line, caught.value.problems[0].column) == (line, column)


def test_not_json_message():
    with pytest.raises(TreeJsonError) as caught:
        loads("{,}")
    assert caught.value.problems[0].message.render("en") == "the syntax tree is not valid JSON: Expecting property name enclosed in double quotes"
