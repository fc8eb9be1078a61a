"""Rules run against the tiny hand-made export, in both its Parquet and French CSV forms.

Every expected set of ids is counted by hand from the rows of `tests/fixtures/make_tiny.py`
(its comment tables describe what each row is for). Each case runs once per form, so the two
forms must select the same ids. Folded values used below: ville of candidats 1, 2 and 4
fold to 'saint-etienne' (NFC, NFD, surrounding spaces), 3 is 'st etienne', 5 is NULL,
6 is '', 7 is spaces, 8 is a no-break space, 9 and 10 fold to 'paris', 11 is 'lyon' and
12 is a tab then 'lyon' (a tab is not trimmed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ernest_rules import compile_rule, open_export

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny"
ALL_CANDIDATS = set(range(1, 13))


@pytest.fixture(scope="module", params=["parquet", "csv-fr"])
def tiny_export(request):
    export = open_export(TINY / request.param)
    yield export
    export.close()


def selected_ids(export, rule: str) -> list:
    compiled = compile_rule(rule)
    return [row[0] for row in export.connection.execute(compiled.keys_sql, compiled.params).fetchall()]


TEXT_CASES = [
    # = ignores case, accents, normalization form and surrounding spaces.
    pytest.param('candidats where ville = "saint-etienne"', {1, 2, 4}, id="text equals lower plain"),
    pytest.param('candidats where ville = "SAINT-ÉTIENNE"', {1, 2, 4}, id="text equals upper accented"),
    pytest.param('candidats where ville = "Saint-E\u0301tienne"', {1, 2, 4}, id="text equals NFD value"),
    pytest.param('candidats where ville = "  Saint-Étienne\u00a0"', {1, 2, 4}, id="text equals padded value"),
    pytest.param('candidats where ville = "paris"', {9, 10}, id="text equals trailing nbsp"),
    pytest.param('candidats where ville = "lyon"', {11}, id="text equals tab kept"),
    pytest.param('candidats where ville = "st etienne"', {3}, id="text equals abbreviation only"),
    # 3 is 'Placé' and 4 is 'PLACÉ' in NFD.
    pytest.param('candidats where statut = "placé"', {3, 4}, id="statut equals NFD upper"),
    # 9 is 'Disponible ' with a trailing space.
    pytest.param('candidats where statut = "disponible"', {1, 9, 12}, id="statut equals trailing space"),
    pytest.param('candidats where prenom = "ÉLISE"', {1, 3, 4}, id="prenom equals NFC NFD"),
    # 2 is 'Site carrière' in NFC and 12 in NFD.
    pytest.param('candidats where source = "site carriere"', {2, 12}, id="source equals without accent"),
    pytest.param('candidats where source = "LinkedIn"', {1, 7, 11}, id="source equals case space"),
    pytest.param('candidats where code_postal = "07150"', {8}, id="code postal leading zero"),
    # != and not in are complements, so they keep the empty rows 5 to 8.
    pytest.param('candidats where ville != "saint-etienne"', {3, 5, 6, 7, 8, 9, 10, 11, 12}, id="text differs keeps empty"),
    pytest.param('candidats where ville <> "paris"', {1, 2, 3, 4, 5, 6, 7, 8, 11, 12}, id="text angle differs keeps empty"),
    pytest.param('candidats where statut != "Placé"', {1, 2, 5, 6, 7, 8, 9, 10, 11, 12}, id="statut differs keeps empty"),
    pytest.param('candidats where statut in ("Disponible", "En veille")', {1, 2, 9, 10, 12}, id="statut in two values"),
    pytest.param('candidats where ville in ("PARIS", "Lyon")', {9, 10, 11}, id="ville in folded values"),
    pytest.param('candidats where civilite in ("mme")', {1, 4, 6, 9, 11}, id="civilite in one value"),
    pytest.param('candidats where statut not in ("Disponible", "En veille")', {3, 4, 5, 6, 7, 8, 11}, id="statut not in keeps empty"),
    pytest.param('candidats where ville not in ("paris", "lyon")', {1, 2, 3, 4, 5, 6, 7, 8, 12}, id="ville not in keeps empty"),
    pytest.param('candidats where ville contains "ETIENNE"', {1, 2, 3, 4}, id="text contains ignoring case"),
    # 12 is tab + 'Lyon': it contains 'lyon' but does not start with it.
    pytest.param('candidats where ville contains "lyon"', {11, 12}, id="text contains after tab"),
    pytest.param('candidats where ville starts with "lyon"', {11}, id="text starts with tab"),
    pytest.param('candidats where ville starts with "saint"', {1, 2, 4}, id="text starts with trimmed"),
    # The search text of `starts with` keeps its spaces, and folded columns are trimmed, so nothing matches.
    pytest.param('candidats where ville starts with "  St"', set(), id="text starts with padded value"),
    pytest.param('candidats where nom starts with "DUP"', {1, 2, 12}, id="nom starts with upper"),
    pytest.param('candidats where nom contains "EFEV"', {6}, id="nom contains without accent"),
]

METACHARACTER_CASES = [
    pytest.param('candidats where nom contains "%"', {4}, id="contains percent literal"),
    pytest.param('candidats where nom contains "_"', {3}, id="contains underscore literal"),
    # LIKE 'du_%' would also match Dupont and Dupontel.
    pytest.param('candidats where nom starts with "du_"', {3}, id="starts with underscore literal"),
    pytest.param('candidats where nom starts with "%"', set(), id="starts with percent nothing"),
    pytest.param('candidats where nom contains "\\\\"', {5}, id="contains backslash literal"),
    pytest.param('candidats where nom contains "k\\\\s"', {5}, id="contains backslash inside"),
    pytest.param('candidats where nom = "back\\\\slash"', {5}, id="equals with backslash"),
    pytest.param('offres where titre contains "_r&d 100% c:\\\\temp"', {3}, id="contains all metacharacters"),
    pytest.param('offres where titre starts with "Stage_"', {3}, id="titre starts with underscore"),
    # 9 is 'Stages', which LIKE 'stage_%' would match.
    pytest.param('candidats where viviers starts with "Stage_"', {6}, id="list starts with underscore"),
    pytest.param('candidats where viviers starts with "stage"', {6, 9}, id="list starts with prefix"),
]

EMPTINESS_CASES = [
    # NULL, '', spaces and a no-break space are all empty.
    pytest.param('candidats where ville is empty', {5, 6, 7, 8}, id="text is empty blanks"),
    pytest.param('candidats where ville is not empty', {1, 2, 3, 4, 9, 10, 11, 12}, id="text is not empty"),
    pytest.param('candidats where statut is empty', {5, 6}, id="statut is empty"),
    pytest.param('candidats where civilite is empty', {3, 7, 12}, id="civilite is empty null"),
    pytest.param('candidats where telephone is empty', {3, 4, 7, 8}, id="telephone is empty blanks"),
    # 3 is [], 4 is NULL, 8 contains only a blank item; 5 contains 'Dev' and a blank item.
    pytest.param('candidats where viviers is empty', {3, 4, 8}, id="list is empty"),
    pytest.param('candidats where viviers is not empty', {1, 2, 5, 6, 7, 9, 10, 11, 12}, id="list is not empty"),
    pytest.param('candidats where competences is empty', {3, 4, 8}, id="competences is empty"),
    pytest.param('offres where competences is empty', {3, 4}, id="offres competences empty"),
    pytest.param('candidats where disponibilite is empty', {4, 8}, id="date is empty"),
    pytest.param('candidats where date_creation is empty', {5}, id="timestamp is empty"),
    pytest.param('candidats where consentement_rgpd is empty', {3, 6, 10}, id="boolean is empty"),
    pytest.param('candidats where desabonne is not empty', {1, 2, 4, 6, 7, 8, 10, 11, 12}, id="boolean is not empty"),
    pytest.param('contacts where societe_id is empty', {4}, id="integer is empty"),
    pytest.param('candidats where id is not empty', ALL_CANDIDATS, id="integer is not empty"),
    pytest.param('offres where referent_operationnel_id is empty', {3}, id="foreign key is empty"),
]

LIST_CASES = [
    # Items fold like texts: ' Data' and 'dev' of 2, NFD 'Dév' of 11.
    pytest.param('candidats where vivier = "dev"', {1, 2, 5, 11}, id="list equals alias"),
    pytest.param('candidats where viviers = "DATA"', {1, 2}, id="list equals spaced item"),
    pytest.param('candidats where viviers = "Stage_Été 100%"', {6}, id="list equals special item"),
    pytest.param('candidats where viviers in ("RH", "finance")', {10, 12}, id="list in two values"),
    pytest.param('candidats where viviers != "Dev"', {3, 4, 6, 7, 8, 9, 10, 12}, id="list differs keeps empty"),
    pytest.param('candidats where viviers not in ("dev", "rh")', {3, 4, 6, 7, 8, 9, 12}, id="list not in keeps empty"),
    pytest.param('candidats where viviers contains "Data"', {1, 2}, id="list contains equal item"),
    # On a list, contains means one item equals the value, not a substring of an item.
    pytest.param('candidats where viviers contains "100%"', set(), id="list contains no substring"),
    pytest.param('candidats where viviers contains "stage_ete 100%"', {6}, id="list contains folded item"),
    pytest.param('candidats where viviers starts with "dev"', {1, 2, 5, 7, 11}, id="list starts with includes DevOps"),
    pytest.param('candidats where competence = "python"', {1, 2, 9, 12}, id="competences equals trailing space"),
    pytest.param('offres where competences = "python"', {1, 2}, id="offres competences leading space"),
]

ORDER_CASES = [
    pytest.param('candidats where disponibilite < 2025-03-10', {1, 6, 10}, id="date less iso"),
    pytest.param('candidats where disponibilite < 10/03/2025', {1, 6, 10}, id="date less french"),
    pytest.param('candidats where disponibilite <= 2025-03-10', {1, 2, 6, 9, 10, 12}, id="date at most"),
    pytest.param('candidats where disponibilite = 10/03/2025', {2, 9, 12}, id="date equals french"),
    pytest.param('candidats where disponibilite > 2025-03-10', {3, 5, 7, 11}, id="date greater"),
    pytest.param('candidats where disponibilite >= 2025-03-10', {2, 3, 5, 7, 9, 11, 12}, id="date at least"),
    pytest.param('candidats where disponibilite != 2025-03-10', {1, 3, 4, 5, 6, 7, 8, 10, 11}, id="date differs keeps empty"),
    pytest.param('candidats where disponibilite in (2025-03-09, 11/03/2025)', {1, 3}, id="date in both forms"),
    # Timestamps compare by date: 2 (00:00), 3 (23:59), 8 (12:30) and 12 (00:01) are on the 10th.
    pytest.param('candidats where date_creation = 2025-03-10', {2, 3, 8, 12}, id="timestamp equals date"),
    pytest.param('candidats where date_creation < 2025-03-10', {1, 6, 9, 10, 11}, id="timestamp less date"),
    pytest.param('candidats where date_creation <= 10/03/2025', {1, 2, 3, 6, 8, 9, 10, 11, 12}, id="timestamp at most"),
    pytest.param('candidats where date_creation > 2025-03-10', {4, 7}, id="timestamp greater midnight"),
    pytest.param('candidats where date_creation >= 2025-03-10', {2, 3, 4, 7, 8, 12}, id="timestamp at least"),
    pytest.param('candidats where date_creation != 2025-03-10', {1, 4, 5, 6, 7, 9, 10, 11}, id="timestamp differs keeps empty"),
    pytest.param('contacts where date_creation = 2025-03-10', {3, 5}, id="contacts timestamp equals"),
    pytest.param('candidatures where date_candidature < 2025-03-10', {1, 5, 7, 8}, id="candidatures timestamp less"),
    pytest.param('societes where date_creation < 2022-01-01', {1, 2}, id="societes date less"),
    pytest.param('candidats where id > 10', {11, 12}, id="integer greater"),
    pytest.param('candidats where id <= 2', {1, 2}, id="integer at most"),
    pytest.param('candidats where id < 2.5', {1, 2}, id="integer less decimal"),
    pytest.param('candidats where id in (1, 3, 99)', {1, 3}, id="integer in values"),
    pytest.param('candidats where id != 3', ALL_CANDIDATS - {3}, id="integer differs"),
    # 4 has no company: != keeps it.
    pytest.param('contacts where societe_id != 3', {1, 2, 4, 6}, id="foreign key differs keeps null"),
]

BOOLEAN_CASES = [
    pytest.param('candidats where consentement_rgpd', {1, 4, 7, 9, 11, 12}, id="bare boolean true only"),
    pytest.param('candidats where not consentement_rgpd', {2, 3, 5, 6, 8, 10}, id="not boolean keeps null"),
    pytest.param('candidats where consentement_rgpd = false', {2, 5, 8}, id="boolean equals false"),
    pytest.param('candidats where consentement_rgpd != true', {2, 3, 5, 6, 8, 10}, id="boolean differs true"),
    pytest.param('candidats where consentement_rgpd != false', {1, 3, 4, 6, 7, 9, 10, 11, 12}, id="boolean differs false"),
    pytest.param('contacts where poste_actif', {1, 4, 5}, id="contacts poste actif"),
    pytest.param('contacts where not poste_actif', {2, 3, 6}, id="contacts not poste actif"),
    pytest.param('utilisateurs where actif', {1, 3, 5}, id="utilisateurs actif"),
    pytest.param('utilisateurs where not actif', {2, 4}, id="utilisateurs not actif"),
]

LOGIC_CASES = [
    # desabonne = {4, 8}; consentement_rgpd = {1, 4, 7, 9, 11, 12}; ville = "paris" gives {9, 10}.
    pytest.param('candidats where desabonne or consentement_rgpd and ville = "paris"', {4, 8, 9}, id="and binds tighter"),
    pytest.param('candidats where (desabonne or consentement_rgpd) and ville = "paris"', {9}, id="parentheses group or"),
    pytest.param('candidats where ville = "paris" and consentement_rgpd or desabonne', {4, 8, 9}, id="and before or"),
    pytest.param('candidats where not desabonne and ville = "paris"', {9, 10}, id="not binds tighter"),
    pytest.param('candidats where not (desabonne or ville = "paris")', {1, 2, 3, 5, 6, 7, 11, 12}, id="not of parentheses"),
    pytest.param('candidats where not not desabonne', {4, 8}, id="double negation"),
    pytest.param('candidats where not ville is empty', {1, 2, 3, 4, 9, 10, 11, 12}, id="not is empty"),
    pytest.param('candidats where ((ville = "paris"))', {9, 10}, id="nested parentheses"),
    pytest.param('candidats where ville = "lyon" or ville = "paris" or ville starts with "st"', {3, 9, 10, 11}, id="three way or"),
    # saint-etienne and consentement_rgpd is {1, 4}.
    pytest.param('candidats where not (ville = "saint-etienne" and consentement_rgpd)', ALL_CANDIDATS - {1, 4}, id="not of and"),
    pytest.param('candidats where statut = "placé" and not desabonne', {3}, id="and not null boolean"),
    pytest.param('candidats where # only Lyon\nville = "lyon"', {11}, id="comment before condition"),
    pytest.param('candidats', ALL_CANDIDATS, id="no condition all rows"),
]

PATH_CASES = [
    # Companies 2 and 3 are in Saint-Étienne; contact 4 has no company.
    pytest.param('contacts where societe.ville = "saint-etienne"', {2, 3, 5}, id="path text equals"),
    pytest.param('contacts where societe.ville != "saint-etienne"', {1, 4, 6}, id="path differs keeps null key"),
    pytest.param('contacts where societe.secteur is empty', {2, 4, 6}, id="path is empty"),
    pytest.param('contacts where societe.desabonne', {3, 5}, id="path boolean"),
    pytest.param('contacts where not societe.desabonne', {1, 2, 4, 6}, id="path not boolean"),
    pytest.param('contacts where societe.nom is not empty', {1, 2, 3, 5, 6}, id="path null key empty"),
    pytest.param('contacts where societe.date_creation < 2022-01-01', {1, 2}, id="path date less"),
    # Operational referents: offer 1, 4, 5 → user 3 (active), 2 → user 4 (NULL), 3 → none.
    pytest.param('offres where referent_operationnel.actif', {1, 4, 5}, id="path referent actif"),
    pytest.param('offres where not referent_operationnel.actif', {2, 3}, id="path referent not actif"),
    pytest.param('offres where referent_operationnel.nom is empty', {3}, id="path missing referent empty"),
    pytest.param('offres where societe.ville = "saint-etienne"', {2, 4}, id="offres path societe"),
    # Two steps: candidature → offre → referent_rh; offers 1 and 2 have the active user 1.
    pytest.param('candidatures where offre.referent_rh.actif', {1, 2, 3, 6, 7}, id="two step path boolean"),
    pytest.param('candidatures where not offre.referent_rh.actif', {4, 5, 8}, id="two step path not"),
    pytest.param('candidatures where offre.societe.ville = "saint-etienne"', {2, 5, 6}, id="two step path text"),
    pytest.param('candidatures where candidat.viviers = "dev"', {1, 2, 3, 5}, id="path list equals"),
    pytest.param('candidatures where candidat.date_creation < 2025-03-10', {1, 2, 4, 5}, id="path timestamp less"),
    pytest.param('candidatures where candidat.ville != "saint-etienne"', {4, 5, 6, 7}, id="path differs null candidate"),
    pytest.param('candidatures where candidat.desabonne', {8}, id="path candidate desabonne"),
]

REFERENT_CASES = [
    pytest.param('referents_rh of offres', {1, 2}, id="referents rh all offers"),
    pytest.param('referents_rh of offres where statut = "Ouverte"', {1}, id="referents rh open offers"),
    # Offers 3, 4 and 5 give users 2, 2 and 1: each user once.
    pytest.param('referents_rh of offres where statut != "ouverte"', {1, 2}, id="referents rh each once"),
    pytest.param('referents_rh of offres where referent_rh.actif', {1}, id="referents rh active"),
    pytest.param('referents_operationnels of offres', {3, 4}, id="referents operationnels all"),
    pytest.param('referents_operationnels of offres where statut = "Pourvue"', set(), id="referent missing gives none"),
    pytest.param('referents_operationnels of offres where statut in ("Pourvue", "Fermée")', {3}, id="referents skip null key"),
    pytest.param('referents_operationnels of offres where societe.ville = "saint-etienne"', {3, 4}, id="referents through path"),
]

FRENCH_CASES = [
    pytest.param('candidats où ville = "paris" et consentement_rgpd', {9}, id="french ou et"),
    pytest.param('candidats où statut pas dans ("Disponible", "En veille")', {3, 4, 5, 6, 7, 8, 11}, id="french pas dans"),
    pytest.param('candidats où statut dans ("placé")', {3, 4}, id="french dans"),
    pytest.param('candidats où ville est vide', {5, 6, 7, 8}, id="french est vide"),
    pytest.param("candidats où ville n'est pas vide ou desabonne", {1, 2, 3, 4, 8, 9, 10, 11, 12}, id="french n'est pas vide"),
    pytest.param('candidats OÙ ville N’EST PAS VIDE', {1, 2, 3, 4, 9, 10, 11, 12}, id="french upper typographic apostrophe"),
    pytest.param('candidats où nom contient "%"', {4}, id="french contient"),
    pytest.param('candidats où nom commence par "du"', {1, 2, 3, 12}, id="french commence par"),
    pytest.param('candidats où consentement_rgpd = faux', {2, 5, 8}, id="french faux"),
    pytest.param('candidats où consentement_rgpd = vrai', {1, 4, 7, 9, 11, 12}, id="french vrai"),
    pytest.param('candidats où non desabonne et statut dans ("placé")', {3}, id="french non"),
    pytest.param('CANDIDATS WHERE Ville = "PARIS" OR Desabonne', {4, 8, 9, 10}, id="upper keywords and names"),
    pytest.param('candidats where désabonné', {4, 8}, id="accented field name"),
    pytest.param("candidats où ville = 'paris'", {9, 10}, id="single quoted value"),
    pytest.param('referents_rh de offres où type_contrat = "cdi"', {1}, id="french referents de"),
    pytest.param('sociétés où ville = "saint-etienne"', {2, 3}, id="french entity sociétés"),
]

OTHER_ENTITY_CASES = [
    pytest.param('societes where ville = "Saint-Étienne"', {2, 3}, id="societes ville NFD spaced"),
    pytest.param('societes where secteur is empty', {2, 4}, id="societes secteur blank"),
    pytest.param('societes where date_creation is empty', {4}, id="societes date empty"),
    pytest.param('societes where not desabonne', {1, 2, 4}, id="societes not desabonne"),
    pytest.param('candidatures where etape = "refuse"', {3, 8}, id="candidatures etape NFD"),
    pytest.param('offres where type_contrat = "interim"', {5}, id="offres type contrat"),
    pytest.param('offres where date_publication >= 2025-03-10', {2, 3, 5}, id="offres date at least"),
]

CASES = (TEXT_CASES + METACHARACTER_CASES + EMPTINESS_CASES + LIST_CASES + ORDER_CASES + BOOLEAN_CASES
         + LOGIC_CASES + PATH_CASES + REFERENT_CASES + FRENCH_CASES + OTHER_ENTITY_CASES)


@pytest.mark.parametrize("rule, expected", CASES)
def test_rule_selects_ids(tiny_export, rule, expected):
    ids = selected_ids(tiny_export, rule)
    assert len(ids) == len(set(ids)), f"duplicate ids {sorted(ids)}"
    assert set(ids) == expected


def test_fixture_forms_hold_same_rows():
    """The CSV form loads the same rows as the Parquet form, except where CSV cannot tell NULL, '' and [] apart."""

    def normalized(row):
        return tuple(None if value == "" or value == [] else value for value in row)

    parquet, csv = open_export(TINY / "parquet"), open_export(TINY / "csv-fr")
    for table in ("candidats", "contacts", "societes", "offres", "utilisateurs", "candidatures"):
        sql = f'SELECT * FROM "{table}" ORDER BY id'
        parquet_rows = [normalized(row) for row in parquet.connection.execute(sql).fetchall()]
        csv_rows = [normalized(row) for row in csv.connection.execute(sql).fetchall()]
        if table == "candidats":
            # Candidat 8's list ['  '] is written as a blank CSV field, which reads back as [].
            assert parquet_rows[7][8] == ["  "]
            parquet_rows[7] = parquet_rows[7][:8] + (None,) + parquet_rows[7][9:]
        assert csv_rows == parquet_rows, table
