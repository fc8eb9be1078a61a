"""Completion of rules being typed, on simple strings.

Expected names are the entities and columns of Ernest's standard export,
written out below. The tests that pass the real export expect the candidate
statuses and application stages that export contains, also written out below.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ernest_rules import open_export
from real_data import find_real_exports
from ernest_rules.complete import complete

ROOT = Path(__file__).resolve().parents[1]

ENTITIES = {"candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures", "referents_rh",
            "referents_operationnels"}
CANDIDATS_FIELDS = {"id", "civilite", "prenom", "nom", "email", "telephone", "ville", "code_postal", "viviers", "statut",
                    "competences", "disponibilite", "date_creation", "source", "consentement_rgpd", "desabonne"}
SOCIETES_FIELDS = {"id", "nom", "secteur", "code_naf", "ville", "code_postal", "email", "statut", "desabonne", "date_creation"}
CANDIDATURES_FIELDS = {"id", "candidat_id", "offre_id", "etape", "date_candidature"}
CANDIDAT_STATUSES = {'"Disponible"', '"En veille"', '"En poste"', '"Placé"', '"Archivé"'}
STAGES = {'"Nouvelle"', '"Présélection"', '"Entretien"', '"Proposition"', '"Embauché"', '"Refusé"'}


@pytest.fixture(scope="module")
def export():
    place = find_real_exports()
    if place is None:
        pytest.skip("real export not found: set $ERNEST_REAL_EXPORTS or provide ../shared/real-exports next to the repository")
    opened = open_export(place / "parquet")
    yield opened
    opened.close()


def texts(text: str, kind: str | None = None, **options) -> list[str]:
    """The texts proposed at the end of `text`, of one kind when given."""
    return [item.text for item in complete(text, len(text), **options) if kind is None or item.kind == kind]


def test_start_proposes_entities():
    assert set(texts("", "entity")) == ENTITIES


def test_entity_prefix_ignores_case():
    assert texts("CAND") == ["candidats", "candidatures"]


@pytest.mark.parametrize("word", ["where", "où", "of", "de", "union", "sauf"])
def test_after_entity_keywords(word):
    assert word in texts("candidats ", "keyword")


def test_after_entity_no_names():
    assert texts("candidats ", "field") == []


def test_after_where_fields():
    assert set(texts("candidats where ", "field")) == CANDIDATS_FIELDS


@pytest.mark.parametrize("word", ["not", "non", "any", "au moins un", "no", "aucun", "at least", "au moins", "exactly"])
def test_after_where_keywords(word):
    assert word in texts("candidats where ", "keyword")


def test_after_where_no_operators():
    assert "=" not in texts("candidats where ")


@pytest.mark.parametrize("text, expected", [
    pytest.param("candidats where sta", ["statut"], id="field prefix"),
    pytest.param("candidats where STA", ["statut"], id="field prefix upper"),
    pytest.param("candidats où éta", [], id="no such field"),
    pytest.param("candidats où statut = \"x\" et dispo", ["disponibilite"], id="french connective"),
    pytest.param("candidats where statut is ", ["is empty", "is not empty"], id="two word keyword"),
    pytest.param("candidats where statut is n", ["is not empty"], id="three word keyword"),
    pytest.param("candidats where statut n'", ["n'est pas vide"], id="french apostrophe keyword"),
    pytest.param("referents_rh of ", ["offres"], id="referents through offers"),
    pytest.param("(candidats where statut = \"x\") uni", ["union"], id="after set parenthesis"),
    pytest.param("candidats where vivier contains an", ["contains any"], id="contains any keyword"),
])
def test_exact_proposals(text, expected):
    assert texts(text) == expected


def test_relation_then_target_fields():
    assert set(texts("contacts where societe.", "field")) == SOCIETES_FIELDS


def test_relation_proposed_with_dot():
    assert "societe." in texts("contacts where ", "relation")


def test_quantifier_inner_fields():
    assert set(texts("candidats where any candidatures where (", "field")) == CANDIDATURES_FIELDS


def test_quantifier_inner_relations():
    assert set(texts("candidats where any candidatures where (", "relation")) == {"candidat.", "offre."}


def test_scope_restored_after_quantifier():
    assert set(texts('candidats where any candidatures where (etape = "x") and ', "field")) == CANDIDATS_FIELDS


def test_quantifier_proposes_collections():
    assert texts("candidats where any ", "collection") == ["candidatures"]


def test_quantifier_after_relation():
    assert set(texts("contacts where any societe.", "collection")) == {"contacts", "offres"}


def test_second_query_scope():
    assert texts('contacts where nom = "a" union candidats where sta') == ["statut"]


@pytest.mark.parametrize("text, present, absent", [
    pytest.param("candidats where date_creation ", "<", "contains", id="timestamp takes order"),
    pytest.param("candidats where date_creation ", "between", "starts with", id="timestamp takes between"),
    pytest.param("candidats where statut ", "contains", "<", id="text takes contains"),
    pytest.param("candidats where statut ", "=", "between", id="text no between"),
    pytest.param("candidats where consentement_rgpd = ", "true", "today", id="boolean values"),
    pytest.param("candidats where disponibilite > ", "today", "true", id="date values"),
])
def test_keywords_fit_field_type(text, present, absent):
    proposed = texts(text, "keyword")
    assert present in proposed
    assert absent not in proposed


def test_dot_only_after_relation():
    assert "." not in texts("contacts where nom ", "keyword")


def test_start_offset_of_partial():
    (item,) = complete("candidats where sta", 19)
    assert item.start == 16


def test_cursor_inside_text():
    text = "candidats where sta and nom = 'x'"
    assert [item.text for item in complete(text, 19)] == ["statut"]


def test_saved_rule_names():
    assert texts("@d", rules={"dev": "candidats", "data": "candidats", "rh": "candidats"}) == ["@dev", "@data"]


def test_no_rules_no_references():
    assert texts("", "rule") == []


def test_values_need_export():
    assert texts("candidats where statut = ", "value") == []


def test_values_after_equals(export):
    assert set(texts("candidats where statut = ", "value", export=export)) == CANDIDAT_STATUSES


def test_values_inside_quantifier(export):
    assert set(texts("candidats where any candidatures where (etape = ", "value", export=export)) == STAGES


def test_values_open_quote(export):
    items = complete('candidats where statut = "dis', 29, export=export)
    assert [(item.text, item.start) for item in items] == [('"Disponible"', 25)]


def test_values_bare_prefix(export):
    assert texts("candidats where statut = pla", export=export) == ['"Placé"']


def test_values_in_list_skip_listed(export):
    proposed = set(texts('candidats where statut in ("Disponible", "en veille", ', "value", export=export))
    assert proposed == CANDIDAT_STATUSES - {'"Disponible"', '"En veille"'}


def test_list_values_one_spelling(export):
    proposed = texts("candidats where vivier contains any (", "value", export=export)
    assert proposed.count('"Dev"') == 1
    assert '"dev"' not in proposed


def test_no_values_for_free_text(export):
    assert texts("candidats where nom = ", "value", export=export) == []


def test_no_values_after_less_than(export):
    assert texts("candidats where statut < ", "value", export=export) == []


@pytest.mark.parametrize("text", [
    pytest.param("!!!", id="punctuation"),
    pytest.param(")))", id="closing parentheses"),
    pytest.param("candidats where statut = = =", id="repeated operator"),
    pytest.param("candidats where # a comment", id="inside comment"),
    pytest.param("where where where", id="keywords only"),
    pytest.param("\x00\x01", id="control characters"),
    pytest.param("candidats wherex ", id="glued keyword"),
    pytest.param("@", id="reference without rules"),
])
def test_garbage_gives_nothing(text):
    assert complete(text, len(text)) == []


@pytest.mark.parametrize("text, cursor", [("candidats", -1), ("candidats", 99), (None, 0), ("candidats", None)])
def test_bad_arguments_give_nothing(text, cursor):
    assert complete(text, cursor) == []


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("candidtswhereou =\"'().,@#éÉ!<>\n0123")), max_size=40), st.data())
def test_never_raises(text, data):
    cursor = data.draw(st.integers(min_value=0, max_value=len(text)))
    result = complete(text, cursor)
    assert isinstance(result, list)
