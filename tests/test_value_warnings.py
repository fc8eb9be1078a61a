"""Warnings about compared values that the real export never contains.

The real export contains these values. The statut of candidats is Disponible,
En veille, En poste, Placé or Archivé. The etape of candidatures is Nouvelle,
Présélection, Entretien, Proposition, Embauché or Refusé. The statut of
societes is Client, Prospect or Ancien client. The viviers are Dev, Data,
DevOps, Commercial, RH, Finance, Marketing, Support and Direction, plus
variants such as 'dev' and ' Dev'. The expected suggestions are the present
values within a difflib ratio of 0.6 of the folded value, worked out by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ernest_rules import compile_rule, open_export
from real_data import find_real_exports
from ernest_rules.export import Export
from ernest_rules.warnings import value_warnings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def export():
    place = find_real_exports()
    if place is None:
        pytest.skip("real export not found: set $ERNEST_REAL_EXPORTS or provide ../shared/real-exports next to the repository")
    opened = open_export(place / "parquet")
    yield opened
    opened.close()


def warnings_of(rule: str, export, rules=None):
    return value_warnings(compile_rule(rule, rules=rules), export)


# rule → (value warned about, field path, entity holding the field, suggestions)
WARNED = {
    "status typo": ('candidats where statut = "Disponibel"', "Disponibel", "statut", "candidats", ("Disponible",)),
    "stage in quantifier": ('candidats where any candidatures where (etape = "Entretein")', "Entretein", "etape", "candidatures",
                            ("Entretien",)),
    "pool list field": ('candidats where vivier = "Dve"', "Dve", "viviers", "candidats", ("Dev",)),
    # 'devv' is 0.86 from 'dev' and exactly 0.6 from 'devops'; 'Dev' is the most frequent spelling of 'dev'.
    "pool two suggestions": ('candidats where vivier != "Devv"', "Devv", "viviers", "candidats", ("Dev", "DevOps")),
    "relation path": ('contacts where societe.statut = "Clinet"', "Clinet", "societe.statut", "societes", ("Client",)),
    "membership value": ('candidats where statut in ("Disponible", "Archvé")', "Archvé", "statut", "candidats", ("Archivé",)),
    "not in value": ('candidats where statut not in ("En vielle")', "En vielle", "statut", "candidats", ("En veille",)),
    "contains any list": ('candidats where vivier contains any ("Dev", "Markting")', "Markting", "viviers", "candidats",
                          ("Marketing",)),
    "contains on list": ('candidats where vivier contains "Finanse"', "Finanse", "viviers", "candidats", ("Finance",)),
    "no close value": ('candidats where statut = "Zzz"', "Zzz", "statut", "candidats", ()),
    "exact case differs": ('candidats where statut == "disponible"', "disponible", "statut", "candidats", ("Disponible",)),
    "referent user role": ('offres where referent_rh.role = "Recruter"', "Recruter", "referent_rh.role", "utilisateurs",
                           ("Recruteur",)),
}


@pytest.mark.parametrize("name", list(WARNED))
def test_warning_value(name, export):
    rule, value, _field, _entity, _suggestions = WARNED[name]
    assert [warning.value for warning in warnings_of(rule, export)] == [value]


@pytest.mark.parametrize("name", list(WARNED))
def test_warning_field(name, export):
    rule, _value, field, entity, _suggestions = WARNED[name]
    (warning,) = warnings_of(rule, export)
    assert (warning.field, warning.entity) == (field, entity)


@pytest.mark.parametrize("name", list(WARNED))
def test_warning_suggestions(name, export):
    rule, _value, _field, _entity, suggestions = WARNED[name]
    (warning,) = warnings_of(rule, export)
    assert warning.suggestions == suggestions


@pytest.mark.parametrize("name", list(WARNED))
def test_warning_points_at_literal(name, export):
    rule, value, _field, _entity, _suggestions = WARNED[name]
    (warning,) = warnings_of(rule, export)
    assert (warning.line, warning.column) == (1, rule.index(f'"{value}"') + 1)


@pytest.mark.parametrize("rule", [
    pytest.param('candidats where statut = "disponible"', id="lower case"),
    pytest.param('candidats where statut = "PLACE"', id="upper without accent"),
    pytest.param('candidats where statut = "  En Veille "', id="spaces around"),
    pytest.param('candidats where vivier = "DEVOPS"', id="list other case"),
    pytest.param('candidats where nom = "Zzyzx"', id="field without few values"),
    pytest.param('candidats where ville = "Disponibel"', id="city not few values"),
    pytest.param('candidats where statut = ""', id="empty means is empty"),
    pytest.param('candidats where vivier starts with "Dv"', id="starts with skipped"),
    pytest.param('candidats where statut in ("Disponible", "En veille")', id="membership all present"),
    pytest.param('candidats where statut == "Placé"', id="exact present"),
    pytest.param('candidats where any candidatures where (etape = "Embauche")', id="quantifier present"),
    pytest.param('contacts where societe.statut = "ancien CLIENT"', id="relation present"),
    pytest.param('candidats where statut is empty', id="no value compared"),
])
def test_no_warning(rule, export):
    assert warnings_of(rule, export) == []


def test_warnings_in_rule_order(export):
    rule = 'candidats where vivier = "Dve" and (statut = "Disponibel" or any candidatures where (etape = "Entretein"))'
    assert [warning.value for warning in warnings_of(rule, export)] == ["Dve", "Disponibel", "Entretein"]


def test_warning_on_second_line(export):
    rule = 'candidats where vivier = "Dev"\n  and statut = "Disponibel"'
    (warning,) = warnings_of(rule, export)
    assert (warning.line, warning.column) == (2, 16)


def test_saved_rule_warning_names_origin(export):
    rules = {"dispo": 'candidats where statut = "Disponibel"'}
    (warning,) = warnings_of('@dispo union candidats where vivier = "Dev"', export, rules)
    assert warning.origin == "@dispo"
    assert (warning.line, warning.column) == (1, 26)


def test_render_english(export):
    (warning,) = warnings_of('candidats where statut = "Disponibel"', export)
    text = warning.render("en")
    assert "line 1, column 26" in text
    assert "'Disponibel'" in text
    assert "did you mean 'Disponible'?" in text


def test_render_french(export):
    (warning,) = warnings_of('candidats where statut = "Disponibel"', export)
    text = warning.render("fr")
    assert "ligne 1, colonne 26" in text
    assert "« Disponibel »" in text
    assert "« Disponible »" in text


def test_render_draws_caret(export):
    (warning,) = warnings_of('candidats where statut = "Disponibel"', export)
    assert warning.render("en").splitlines()[-1] == " " * 4 + " " * 25 + "^" * len('"Disponibel"')


class CountingConnection:
    """Delegate to a DuckDB connection and count the statements executed."""

    def __init__(self, connection):
        self.connection = connection
        self.statements = 0

    def execute(self, *args, **kwargs):
        self.statements += 1
        return self.connection.execute(*args, **kwargs)


def test_one_query_per_field(export):
    counting = CountingConnection(export.connection)
    proxy = Export(export.path, export.form, export.catalog, counting, export.files)
    rule = 'candidats where statut = "Disponibel" or statut in ("Plcé", "Archivé") or vivier = "Dve"'
    assert len(value_warnings(compile_rule(rule), proxy)) == 3
    assert counting.statements == 2


def test_values_cached_per_export(export):
    counting = CountingConnection(export.connection)
    proxy = Export(export.path, export.form, export.catalog, counting, export.files)
    rule = compile_rule('candidats where statut = "Disponibel"')
    value_warnings(rule, proxy)
    value_warnings(rule, proxy)
    assert counting.statements == 1
