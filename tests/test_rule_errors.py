"""Bad rules: the first problem's message in English and French, its position, and the other problems reported with it.

Positions are 1-based and were counted by hand on each rule. Messages are
written out in full from the message ids in the code and the French catalog.
"""

from __future__ import annotations

import pytest

from ernest_rules import (ErnestRulesError, LimitError, Limits, RuleCheckError, RuleSyntaxError, compile_rule,
                          describe)


# Expected-token lists, in the order of `parse._EXPECTED_ORDER`. They change whenever the grammar gains a keyword.
VALUE = ("a text in quotes, a number, a date, 'today', 'true' or 'false'",
         "un texte entre guillemets, un nombre, une date, « aujourd'hui », « vrai » ou « faux »")
CONDITION = ("a name, 'any', 'no', 'at least', 'at most', 'exactly', 'not' or '('",
             "un nom, « au moins un », « aucun », « au moins », « au plus », « exactement », « non » ou « ( »")
AFTER_FIELD = ("=, !=, <, <=, >, >=, '==', 'in', 'not in', 'between', 'is empty', 'is not empty', 'contains', 'contains any', "
               "'contains all', 'starts with', 'and', 'or', ')' or '.'",
               "=, !=, <, <=, >, >=, « == », « dans », « pas dans », « entre », « est vide », « n'est pas vide », « contient », "
               "« contient l'un de », « contient tous », « commence par », « et », « ou », « ) » ou « . »")
AFTER_CONDITION = ("'and', 'or', 'union', 'except', 'intersect' or the end of the rule",
                   "« et », « ou », « union », « sauf », « inter » ou la fin de la règle")

# name, rule, error class, line, column, English message, French message[, marks]
CASES = [
    # ------------------------------------------------ syntax
    ("missing value", 'candidats where statut =', RuleSyntaxError, 1, 25,
     f"the rule ends too early; expected {VALUE[0]}", f"la règle s'arrête trop tôt ; attendu : {VALUE[1]}"),
    ("missing value, blank lines", 'candidats where statut = \n\n', RuleSyntaxError, 1, 25,
     f"the rule ends too early; expected {VALUE[0]}", f"la règle s'arrête trop tôt ; attendu : {VALUE[1]}"),
    ("missing condition", 'candidats where', RuleSyntaxError, 1, 16,
     f"the rule ends too early; expected {CONDITION[0]}", f"la règle s'arrête trop tôt ; attendu : {CONDITION[1]}"),
    ("missing field", 'candidats where = "x"', RuleSyntaxError, 1, 17,
     f"unexpected '='; expected {CONDITION[0]}", f"« = » inattendu ; attendu : {CONDITION[1]}"),
    ("missing referent entity", 'referents_rh of', RuleSyntaxError, 1, 16,
     "the rule ends too early; expected a name", "la règle s'arrête trop tôt ; attendu : un nom"),
    ("unclosed double quote", 'candidats where statut = "Dev', RuleSyntaxError, 1, 26,
     'unclosed text: add the closing quote "', 'texte non fermé : ajoutez le guillemet fermant "'),
    ("unclosed single quote", "candidats where statut = 'Dev", RuleSyntaxError, 1, 26,
     "unclosed text: add the closing quote '", "texte non fermé : ajoutez le guillemet fermant '"),
    ("unclosed parenthesis", 'candidats where (statut = "x"', RuleSyntaxError, 1, 30,
     "the rule ends too early; expected ')'", "la règle s'arrête trop tôt ; attendu : « ) »"),
    ("unclosed value list", 'candidats where statut in ("a", "b"', RuleSyntaxError, 1, 36,
     "the rule ends too early; expected ')' or ','", "la règle s'arrête trop tôt ; attendu : « ) » ou « , »"),
    ("extra closing parenthesis", 'candidats where ville = "Lyon" )', RuleSyntaxError, 1, 32,
     "unexpected ')'; expected 'union', 'except' or the end of the rule",
     "« ) » inattendu ; attendu : « union », « sauf » ou la fin de la règle"),
    ("in without parentheses", 'candidats where statut in "a"', RuleSyntaxError, 1, 27,
     "unexpected '\"a\"'; expected '('", "« \"a\" » inattendu ; attendu : « ( »"),
    ("doubled comparator", 'candidats where (statut = = "x")', RuleSyntaxError, 1, 27,
     f"unexpected '='; expected {VALUE[0]}", f"« = » inattendu ; attendu : {VALUE[1]}"),
    ("misspelt in, in parentheses", 'candidats where (statut dnas ("a"))', RuleSyntaxError, 1, 25,
     f"unexpected 'dnas'; expected {AFTER_FIELD[0]}", f"« dnas » inattendu ; attendu : {AFTER_FIELD[1]}"),
    ("misspelt where", 'candidats wher statut = "x"', RuleSyntaxError, 1, 11,
     "unexpected 'wher'; expected 'where', 'of', 'union', 'except', 'intersect' or the end of the rule",
     "« wher » inattendu ; attendu : « où », « de », « union », « sauf », « inter » ou la fin de la règle"),
    ("misspelt and", 'candidats where statut = "x" adn ville = "y"', RuleSyntaxError, 1, 30,
     f"unexpected 'adn'; expected {AFTER_CONDITION[0]}", f"« adn » inattendu ; attendu : {AFTER_CONDITION[1]}",),
    ("two values in a row", 'candidats where statut = "a" "b"', RuleSyntaxError, 1, 30,
     f"unexpected '\"b\"'; expected {AFTER_CONDITION[0]}", f"« \"b\" » inattendu ; attendu : {AFTER_CONDITION[1]}",),
    ("unknown character as value", 'candidats where statut = $', RuleSyntaxError, 1, 26,
     f"unexpected character '$'; expected {VALUE[0]}", f"caractère inattendu « $ » ; attendu : {VALUE[1]}"),
    ("unknown character as condition", 'candidats where @', RuleSyntaxError, 1, 17,
     f"unexpected character '@'; expected {CONDITION[0]}", f"caractère inattendu « @ » ; attendu : {CONDITION[1]}"),
    ("semicolon after condition", 'candidats where statut = "x" ;', RuleSyntaxError, 1, 30,
     f"unexpected character ';'; expected {AFTER_CONDITION[0]}", f"caractère inattendu « ; » ; attendu : {AFTER_CONDITION[1]}",),
    ("invalid ISO date", 'candidats where disponibilite = 2025-02-30', RuleSyntaxError, 1, 33,
     "2025-02-30 is not a valid date", "2025-02-30 n'est pas une date valide"),
    ("invalid French date", 'candidats where disponibilite = 31/02/2025', RuleSyntaxError, 1, 33,
     "31/02/2025 is not a valid date", "31/02/2025 n'est pas une date valide"),
    ("multi-line missing value", 'candidats where\n  statut = "x" and\n    ville = ', RuleSyntaxError, 3, 12,
     f"the rule ends too early; expected {VALUE[0]}", f"la règle s'arrête trop tôt ; attendu : {VALUE[1]}"),
    ("multi-line unclosed quote", 'candidats where\n  statut = "x" and\n    ville = "ab', RuleSyntaxError, 3, 13,
     'unclosed text: add the closing quote "', 'texte non fermé : ajoutez le guillemet fermant "'),
    # ------------------------------------------------ names
    ("unknown entity", 'candidates where statut = "x"', RuleCheckError, 1, 1,
     "unknown entity 'candidates'", "entité inconnue « candidates »"),
    ("unknown field", 'candidats where stauts = "x"', RuleCheckError, 1, 17,
     "'candidats' has no field 'stauts'", "« candidats » n'a pas de champ « stauts »"),
    ("unknown field, accented entity", 'sociétés où vile = "Paris"', RuleCheckError, 1, 13,
     "'societes' has no field 'vile'", "« societes » n'a pas de champ « vile »"),
    ("unknown field, upper case", 'CANDIDATS WHERE STAUTS = "x"', RuleCheckError, 1, 17,
     "'candidats' has no field 'STAUTS'", "« candidats » n'a pas de champ « STAUTS »"),
    ("unknown field, second condition", 'candidats WHERE statut = "x" AND stauts = "y"', RuleCheckError, 1, 34,
     "'candidats' has no field 'stauts'", "« candidats » n'a pas de champ « stauts »"),
    ("unknown relation", 'contacts where societ.ville = "x"', RuleCheckError, 1, 16,
     "'contacts' has no relation 'societ'", "« contacts » n'a pas de relation « societ »"),
    ("unknown field through relation", 'contacts where societe.vile = "x"', RuleCheckError, 1, 24,
     "'societes' has no field 'vile'", "« societes » n'a pas de champ « vile »"),
    ("keyword as field", 'candidats where et = 1', RuleCheckError, 1, 17,
     "'et' is a keyword and cannot be used as a name here", "« et » est un mot-clé et ne peut pas servir de nom ici"),
    ("keyword as entity", 'where where statut = "x"', RuleCheckError, 1, 1,
     "'where' is a keyword and cannot be used as a name here", "« where » est un mot-clé et ne peut pas servir de nom ici"),
    ("relation used as field", 'contacts where societe = "x"', RuleCheckError, 1, 16,
     "'societe' is a relation: name one of its fields, for example 'societe.nom'",
     "« societe » est une relation : indiquez l'un de ses champs, par exemple « societe.nom »"),
    ("relation used as condition", 'offres where referent_rh', RuleCheckError, 1, 14,
     "'referent_rh' is a relation: name one of its fields, for example 'referent_rh.prenom'",
     "« referent_rh » est une relation : indiquez l'un de ses champs, par exemple « referent_rh.prenom »"),
    ("multi-line unknown field", 'candidats where\n  statut = "x" and\n    stauts = "z"', RuleCheckError, 3, 5,
     "'candidats' has no field 'stauts'", "« candidats » n'a pas de champ « stauts »"),
    # ------------------------------------------------ referents
    ("referent kind without of", 'referents_rh where statut = "x"', RuleCheckError, 1, 1,
     "'referents_rh' are chosen through the offers they are in charge of: write 'referents_rh of offres where …'",
     "« referents_rh » se choisissent à travers les offres dont ils ont la charge : écrivez « referents_rh de offres où … »"),
    ("referent through candidats", 'referents_rh of candidats', RuleCheckError, 1, 17,
     "'referents_rh' are chosen through 'offres', not 'candidats'",
     "« referents_rh » se choisissent à travers « offres », pas « candidats »"),
    ("entity used as referent kind", 'candidats of offres', RuleCheckError, 1, 1,
     "'candidats' cannot be chosen through 'offres': only 'referents_rh', 'referents_operationnels' are",
     "« candidats » ne peut pas être choisi par « offres » : seuls « referents_rh », « referents_operationnels » le sont"),
    # ------------------------------------------------ types
    ("date compared with text", 'candidats where disponibilite = "demain"', RuleCheckError, 1, 33,
     "'disponibilite' is a date and cannot be compared with 'demain', which is text",
     "« disponibilite » est une date et ne peut pas être comparé à « demain », qui est du texte"),
    ("timestamp compared with number", 'candidats where date_creation > 3', RuleCheckError, 1, 33,
     "'date_creation' is a timestamp and cannot be compared with '3', which is an integer",
     "« date_creation » est une date avec heure et ne peut pas être comparé à « 3 », qui est un nombre entier"),
    ("less than on boolean", 'candidats where desabonne < true', RuleCheckError, 1, 17,
     "'<' does not apply to 'desabonne', which is a boolean; use = or != instead",
     "« < » ne s'applique pas à « desabonne », qui est un booléen ; utilisez plutôt = ou !="),
    ("less than on text", 'candidats where statut < "x"', RuleCheckError, 1, 17,
     "'<' does not apply to 'statut', which is text; use = or != instead",
     "« < » ne s'applique pas à « statut », qui est du texte ; utilisez plutôt = ou !="),
    ("at least on list", 'candidats where viviers >= "x"', RuleCheckError, 1, 17,
     "'>=' does not apply to 'viviers', which is a list of texts; use = or != instead",
     "« >= » ne s'applique pas à « viviers », qui est une liste de textes ; utilisez plutôt = ou !="),
    ("contains on number", 'candidats where id contains "4"', RuleCheckError, 1, 17,
     "'contains' applies to text fields; 'id' is an integer",
     "« contient » s'applique aux champs texte ; « id » est un nombre entier"),
    ("contient on number", 'candidats où id contient "4"', RuleCheckError, 1, 14,
     "'contains' applies to text fields; 'id' is an integer",
     "« contient » s'applique aux champs texte ; « id » est un nombre entier"),
    ("starts with on date", 'candidats where disponibilite commence par "2025"', RuleCheckError, 1, 17,
     "'starts with' applies to text fields; 'disponibilite' is a date",
     "« commence par » s'applique aux champs texte ; « disponibilite » est une date"),
    ("starts with a number", 'candidats where statut starts with 3', RuleCheckError, 1, 36,
     "'starts with' needs a text in quotes", "« commence par » attend un texte entre guillemets"),
    ("number for text field", 'candidats where statut = 3', RuleCheckError, 1, 26,
     "'statut' is text and cannot be compared with '3', which is an integer",
     "« statut » est du texte et ne peut pas être comparé à « 3 », qui est un nombre entier"),
    ("text for number field", 'candidats where id = "4"', RuleCheckError, 1, 22,
     "'id' is an integer and cannot be compared with '4', which is text",
     "« id » est un nombre entier et ne peut pas être comparé à « 4 », qui est du texte"),
    ("text for boolean field", 'candidats where desabonne = "oui"', RuleCheckError, 1, 29,
     "'desabonne' is a boolean and cannot be compared with 'oui', which is text",
     "« desabonne » est un booléen et ne peut pas être comparé à « oui », qui est du texte"),
    ("number in text list", 'candidats where statut not in ("a", 3)', RuleCheckError, 1, 37,
     "'statut' is text and cannot be compared with '3', which is an integer",
     "« statut » est du texte et ne peut pas être comparé à « 3 », qui est un nombre entier"),
    ("bare text field", 'candidats where ville', RuleCheckError, 1, 17,
     "'ville' is text, not a boolean: compare it with a value, for example 'ville = …'",
     "« ville » est du texte, pas un booléen : comparez-le à une valeur, par exemple « ville = … »"),
    ("empty in", 'candidats where statut in ()', RuleCheckError, 1, 17,
     "the list of values is empty: give at least one value between the parentheses",
     "la liste de valeurs est vide : indiquez au moins une valeur entre les parenthèses"),
    ("empty pas dans", 'candidats où statut pas dans ()', RuleCheckError, 1, 14,
     "the list of values is empty: give at least one value between the parentheses",
     "la liste de valeurs est vide : indiquez au moins une valeur entre les parenthèses"),
]


def language_rows():
    """Expand each case into one English and one French row."""
    for name, rule, error, line, column, english, french, *marks in CASES:
        for lang, message in (("en", english), ("fr", french)):
            yield pytest.param(rule, error, lang, message, line, column, marks=marks, id=f"{name} {lang}")


def raised(rule: str, **options) -> ErnestRulesError:
    with pytest.raises(ErnestRulesError) as caught:
        compile_rule(rule, **options)
    return caught.value


def positions(error: ErnestRulesError) -> list[tuple[int | None, int | None]]:
    return [(problem.line, problem.column) for problem in error.problems]


@pytest.mark.parametrize("rule, error, lang, message, line, column", list(language_rows()))
def test_first_problem(rule, error, lang, message, line, column):
    raised_error = raised(rule)
    problem = raised_error.problems[0]
    assert type(raised_error) is error
    assert problem.message.render(lang) == message
    assert (problem.line, problem.column) == (line, column)


def test_table_is_large():
    assert len(CASES) >= 30


@pytest.mark.parametrize("rule, line, column, width", [
    ('candidats wher statut = "x"', 1, 11, 4),
    ('candidats where statut = "x" adn ville = "y"', 1, 30, 3),
    ('candidats where (statut dnas ("a"))', 1, 25, 4),
    ('candidats where statut = "a" "b"', 1, 30, 3),
    ('candidats where statut = "x" ;', 1, 30, 1),
])
def test_unexpected_token_span(rule, line, column, width):
    """The rows whose message is an expected failure above still place the caret under the bad token."""
    problem = raised(rule).problems[0]
    assert (problem.line, problem.column, problem.width) == (line, column, width)


# ---------------------------------------------------------------- suggestions


@pytest.mark.parametrize("rule, suggestions", [
    ('candidats wher statut = "x"', ("where",)),
    ('candidats ou statut = "x"', ("où",)),
    ('candidats where statut = "x" adn ville = "y"', ("and",)),
    ('candidats where (statut dnas ("a"))', ("dans",)),
    ('candidats where statut commnce par "a"', ("commence par",)),
    ('candidates where statut = "x"', ("candidats", "candidatures")),
    ('candidats where stauts = "x"', ("statut",)),
    ('CANDIDATS WHERE STAUTS = "x"', ("statut",)),
    ('sociétés où vile = "Paris"', ("ville",)),
    ('socetes where ville = "x"', ("societes",)),
    ('candidats where compétance = "x"', ("competence", "competences")),
    ('contacts where societ.ville = "x"', ("societe",)),
    ('referents_rh of offres where referent_rh.actiff', ("actif",)),
    ('candidats where et = 1', ()),
])
def test_suggestions(rule, suggestions):
    assert raised(rule).problems[0].suggestions == suggestions


# ---------------------------------------------------------------- several problems


@pytest.mark.parametrize("rule, expected", [
    ('candidats where stauts = "x" and vile = "y" and desabonne < 3', [(1, 17), (1, 34), (1, 49)]),
    ('candidats where stauts = "x"\n  and vile = "y"\n  and id = "z"', [(1, 17), (2, 7), (3, 12)]),
    ('candidats where (statut = = "x") and (ville = = "y")', [(1, 27), (1, 47)]),
    ('candidats where statut = "x" and\n  ville = = "y" and\n    nom = = "z"', [(2, 11), (3, 11)]),
    ('candidats where statut in ()\n or id in ()', [(1, 17), (2, 5)]),
    pytest.param('candidats where statut in ("a",)', [(1, 32)]),
    pytest.param('candidats where = "x"', [(1, 17)]),
    pytest.param('candidats where statut in "a"', [(1, 27)]),
])
def test_problem_positions(rule, expected):
    assert positions(raised(rule)) == expected


def test_problems_stop_at_max_errors():
    rule = 'candidats where (a = = 1) and (b = = 1) and (c = = 1) and (d = = 1)'
    assert positions(raised(rule, limits=Limits(max_errors=2))) == [(1, 22), (1, 36)]


def test_problems_render_in_order():
    error = raised('candidats where stauts = "x" and vile = "y"')
    assert [line for line in error.render("en").splitlines() if line.startswith("line")] == [
        "line 1, column 17: 'candidats' has no field 'stauts' (did you mean 'statut'?)",
        "line 1, column 34: 'candidats' has no field 'vile' (did you mean 'ville' / 'civilite' / 'vivier'?)",
    ]


# ---------------------------------------------------------------- rendering with a caret


def test_render_single_line():
    expected = ("line 1, column 17: 'candidats' has no field 'stauts' (did you mean 'statut'?)\n"
                "    candidats where stauts = \"x\"\n"
                "                    ^^^^^^")
    assert raised('candidats where stauts = "x"').render("en") == expected


def test_render_multi_line():
    expected = ("line 3, column 5: 'candidats' has no field 'stauts' (did you mean 'statut'?)\n"
                "        stauts = \"z\"\n"
                "        ^^^^^^")
    assert raised('candidats where\n  statut = "x" and\n    stauts = "z"').render("en") == expected


def test_render_french():
    expected = ("ligne 1, colonne 13 : « societes » n'a pas de champ « vile » (vouliez-vous dire « ville » ?)\n"
                "    sociétés où vile = \"Paris\"\n"
                "                ^^^^")
    assert raised('sociétés où vile = "Paris"').render("fr") == expected


def test_render_syntax_caret():
    snippet = ["    candidats where statut = \"x\" ; ville = \"y\"",
               "    " + " " * 29 + "^"]
    assert raised('candidats where statut = "x" ; ville = "y"').render("en").splitlines()[1:] == snippet


def test_render_keeps_tabs():
    rule = "\tcandidats\twhere\tstauts = 1"
    caret = "    " + "\t" + " " * 9 + "\t" + " " * 5 + "\t" + "^" * 6
    assert raised(rule).render("en").splitlines()[1:] == ["    " + rule, caret]


# ---------------------------------------------------------------- limits


def test_limit_on_length():
    error = raised('candidats where statut = "abcdefghijklmnopqrstuvwxyz0123"', limits=Limits(max_length=50))
    assert isinstance(error, LimitError)
    assert error.problems[0].message.render("en") == "the rule is 57 characters long; the limit is 50"


def test_limit_on_length_french():
    error = raised('candidats where statut = "abcdefghijklmnopqrstuvwxyz0123"', limits=Limits(max_length=50))
    assert error.problems[0].message.render("fr") == "la règle compte 57 caractères ; la limite est de 50"


def test_length_at_limit_compiles():
    rule = 'candidats where statut = "abcdefghijklmnopqrstuvwxyz"'
    assert compile_rule(rule, limits=Limits(max_length=len(rule))).params == {"p1": "abcdefghijklmnopqrstuvwxyz"}


def test_limit_on_depth():
    error = raised('candidats where ((((statut = "x"))))', limits=Limits(max_depth=3))
    assert isinstance(error, LimitError)
    assert (error.problems[0].line, error.problems[0].column) == (1, 20)
    assert error.problems[0].message.render("fr") == "la règle imbrique des parenthèses sur plus de 3 niveaux"


def test_depth_at_limit_compiles():
    assert compile_rule('candidats where (((statut = "x")))', limits=Limits(max_depth=3)).params == {"p1": "x"}


def test_parentheses_in_text_do_not_nest():
    assert compile_rule('candidats where statut = "(((("', limits=Limits(max_depth=3)).params == {"p1": "(((("}


def test_limit_on_values():
    error = raised('candidats where\n  statut not in ("a", "b", "c", "d")', limits=Limits(max_values=3))
    assert isinstance(error, LimitError)
    assert (error.problems[0].line, error.problems[0].column) == (2, 3)
    assert error.problems[0].message.render("en") == "the list contains 4 values; the limit is 3"


def test_values_at_limit_compile():
    compiled = compile_rule('candidats where statut in ("a", "b", "c")', limits=Limits(max_values=3))
    assert len(compiled.params) == 3


def test_thousand_parentheses():
    error = raised("candidats where " + "(" * 1000 + 'statut = "x"' + ")" * 1000)
    assert isinstance(error, LimitError)
    assert (error.problems[0].line, error.problems[0].column) == (1, 16 + 65)


def test_megabyte_rule():
    rule = "candidats where " + 'statut = "x" or ' * 65_000 + 'statut = "y"'
    error = raised(rule)
    assert isinstance(error, LimitError)
    assert error.problems[0].message.render("en") == f"the rule is {len(rule)} characters long; the limit is 100000"


def test_megabyte_of_parentheses():
    assert isinstance(raised("(" * 1_000_000), LimitError)


def test_thousand_nots_do_not_crash():
    try:
        compile_rule("candidats where " + "not " * 1000 + "desabonne")
    except LimitError:
        pass


# ---------------------------------------------------------------- French and English keywords


@pytest.mark.parametrize("english, other", [
    ('candidats where vivier = "Dev" and statut in ("Disponible", "En veille")',
     'candidats où vivier = "Dev" et statut dans ("Disponible", "En veille")'),
    ('candidats where not desabonne or ville is not empty',
     "candidats où non desabonne ou ville n'est pas vide"),
    ("candidats where not desabonne or ville is not empty",
     "candidats où non desabonne ou ville n’est pas vide"),
    ('candidats where statut not in ("A") and email is empty',
     'candidats où statut pas dans ("A") et email est vide'),
    ('contacts where fonction contains "RH" or nom starts with "Du"',
     'contacts où fonction contient "RH" ou nom commence par "Du"'),
    ("contacts where poste_actif = true and desabonne = false",
     "contacts où poste_actif = vrai et desabonne = faux"),
    ('referents_rh of offres where statut = "Ouverte"',
     'referents_rh de offres où statut = "Ouverte"'),
    ('candidats where vivier = "Dev" and not (statut in ("A", "B") or ville is empty)',
     'CANDIDATS WHERE VIVIER = "Dev" AND NOT (STATUT IN ("A", "B") OR VILLE IS EMPTY)'),
    ('candidats where ville is not empty and nom starts with "D"',
     'candidats OÙ ville N\'EST PAS VIDE ET nom COMMENCE PAR "D"'),
    ('candidats where statut not in ("A") or email is empty',
     'candidats Where statut Pas Dans ("A") Or email Est Vide'),
    ('candidats where vivier = "Dev" and statut in ("A") or not desabonne',
     'candidats où vivier = "Dev" and statut dans ("A") ou not desabonne'),
    ('offres where referent_rh.actif and competences contains "SQL"',
     'offres où referent_rh.actif et competences contient "SQL"'),
])
def test_keywords_compile_alike(english, other):
    first, second = compile_rule(english), compile_rule(other)
    assert first.condition == second.condition
    assert first.params == second.params


def test_keyword_pairs_differ():
    """Guard the comparison above: two different rules do not compile alike."""
    assert compile_rule('candidats where ville is empty').condition != compile_rule('candidats where ville is not empty').condition


def test_mixed_rule_reads_in_french():
    rule = compile_rule('candidats où vivier = "Dev" and statut dans ("Disponible", "En veille")')
    assert describe(rule.checked, "fr") == "candidats dont viviers comprennent « Dev » et statut est parmi « Disponible », « En veille »"
