"""Canonical formatting: expected texts written by hand, and the round trip parse → format → parse on random trees.

The canonical forms below were written from the formatting rules in `ernest_rules/format.py` (one spelling per
keyword, double quotes, ISO dates, minimal parentheses, lines broken past 88 characters), not copied from its output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ernest_rules import LimitError, RuleSyntaxError, parse
from ernest_rules import syntax as s
from ernest_rules.format import format_rule, format_text, quote_text

ZERO = s.Span(1, 1, 0, 0)


def strip_spans(node):
    """The same tree with every span replaced by the empty span, to compare trees by their content."""
    if isinstance(node, s.Span):
        return ZERO
    if isinstance(node, tuple):
        return tuple(strip_spans(item) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return dataclasses.replace(node, **{field.name: strip_spans(getattr(node, field.name)) for field in dataclasses.fields(node)})
    return node


# ---------------------------------------------------------------- table: input, canonical English, canonical French

LONG_AND = ('candidats where vivier = "Développement" and statut in ("Disponible", "En veille") and ville = "Lyon" '
            'and date_inscription >= today - 90 days')
LONG_OR = ('candidats where ville = "Lyon" and vivier = "Data" or ville = "Paris" and vivier = "Développement" '
           'or competences contains all ("Python", "SQL")')
LONG_SETS = ('candidats where vivier = "Développement" and statut = "Disponible" '
             'union candidats where vivier = "Data" and ville in ("Lyon", "Paris") except @desabonnes')

# (name, input, canonical English, canonical French)
CASES = [
    ("bare entity", "candidats", "candidats", "candidats"),
    ("names kept as written", 'Candidats WHERE Vivier = "Dev"', 'Candidats where Vivier = "Dev"', 'Candidats où Vivier = "Dev"'),
    ("accented entity kept", "sociétés où secteur = 'Santé'", 'sociétés where secteur = "Santé"', 'sociétés où secteur = "Santé"'),
    ("value list spacing", 'candidats where statut in("Disponible","En veille")',
     'candidats where statut in ("Disponible", "En veille")', 'candidats où statut dans ("Disponible", "En veille")'),
    ("french not in", "candidats où statut pas   dans ('Placé')",
     'candidats where statut not in ("Placé")', 'candidats où statut pas dans ("Placé")'),
    ("empty value list", "candidats where statut in ( )", "candidats where statut in ()", "candidats où statut dans ()"),
    ("diamond becomes not equal", "offres where salaire_min<>40000",
     "offres where salaire_min != 40000", "offres où salaire_min != 40000"),
    ("comparators and decimals", "offres where salaire_min>=35000 and salaire_max<=50000.50 and ratio<-0.5",
     "offres where salaire_min >= 35000 and salaire_max <= 50000.50 and ratio < -0.5",
     "offres où salaire_min >= 35000 et salaire_max <= 50000.50 et ratio < -0.5"),
    ("tiny decimal without exponent", "offres where taux > 0.0000001",
     "offres where taux > 0.0000001", "offres où taux > 0.0000001"),
    ("exact comparison", 'candidats where ville=="Saint-Étienne"',
     'candidats where ville == "Saint-Étienne"', 'candidats où ville == "Saint-Étienne"'),
    ("emptiness both ways", "candidats où email est vide ou telephone n'est pas vide",
     "candidats where email is empty or telephone is not empty", "candidats où email est vide ou telephone n'est pas vide"),
    ("curly apostrophe", "candidats where email n’est  pas vide",
     "candidats where email is not empty", "candidats où email n'est pas vide"),
    ("text matches, mixed case", "candidats where nom CONTAINS \"dupont\" AND prenom Starts  With 'Jean'",
     'candidats where nom contains "dupont" and prenom starts with "Jean"',
     'candidats où nom contient "dupont" et prenom commence par "Jean"'),
    ("contains any and all", 'candidats où competences contient au moins un de ("Py","SQL") et viviers contient toutes ("Go")',
     'candidats where competences contains any ("Py", "SQL") and viviers contains all ("Go")',
     'candidats où competences contient l\'un de ("Py", "SQL") et viviers contient tous ("Go")'),
    ("booleans", "candidats where desabonne = FAUX or consentement_rgpd = Vrai",
     "candidats where desabonne = false or consentement_rgpd = true", "candidats où desabonne = faux ou consentement_rgpd = vrai"),
    ("uppercase french keywords", 'CANDIDATS OÙ Vivier DANS ("Dev") ET NON Desabonne',
     'CANDIDATS where Vivier in ("Dev") and not Desabonne', 'CANDIDATS où Vivier dans ("Dev") et non Desabonne'),
    ("french date to iso", "candidats where date_inscription >= 10/03/2025",
     "candidats where date_inscription >= 2025-03-10", "candidats où date_inscription >= 2025-03-10"),
    ("relative date plural", "candidats where date_inscription > aujourd'hui - 30 jours",
     "candidats where date_inscription > today - 30 days", "candidats où date_inscription > aujourd'hui - 30 jours"),
    ("relative date singular", "candidats where date_inscription >= today-1 days",
     "candidats where date_inscription >= today - 1 day", "candidats où date_inscription >= aujourd'hui - 1 jour"),
    ("between with shifts", "offres where date_publication between 31/01/2025 + 1 mois - 2 semaines and TODAY + 1 année",
     "offres where date_publication between 2025-01-31 + 1 month - 2 weeks and today + 1 year",
     "offres où date_publication entre 2025-01-31 + 1 mois - 2 semaines et aujourd'hui + 1 an"),
    ("plural years", "candidats where date_naissance < aujourd’hui - 18 ans",
     "candidats where date_naissance < today - 18 years", "candidats où date_naissance < aujourd'hui - 18 ans"),
    ("single quotes to double", r"""candidats where nom = 'O\'Brien "Jr"'""",
     r'''candidats where nom = "O'Brien \"Jr\""''', r'''candidats où nom = "O'Brien \"Jr\""'''),
    ("backslash, tab, newline escapes", r'candidats where note contains "a\\b\nc\td\%"',
     r'candidats where note contains "a\\b\nc\td%"', r'candidats où note contient "a\\b\nc\td%"'),
    ("raw line break escaped", 'candidats where note = "ligne 1\nligne 2"',
     r'candidats where note = "ligne 1\nligne 2"', r'candidats où note = "ligne 1\nligne 2"'),
    ("comments dropped", 'candidats # tous\nwhere vivier = "Dev" # dev\n',
     'candidats where vivier = "Dev"', 'candidats où vivier = "Dev"'),
    ("and binds tighter", "candidats where a or b and c", "candidats where a or b and c", "candidats où a ou b et c"),
    ("or inside and", "candidats where (a or b) and c", "candidats where (a or b) and c", "candidats où (a ou b) et c"),
    ("redundant parentheses dropped", "candidats where ((a and b)) or (c)",
     "candidats where a and b or c", "candidats où a et b ou c"),
    ("same kind nesting kept", "candidats where a and (b and c) or (d or e)",
     "candidats where a and (b and c) or (d or e)", "candidats où a et (b et c) ou (d ou e)"),
    ("not over or", "candidats where not (a or b) and not (x = 1)",
     "candidats where not (a or b) and not x = 1", "candidats où non (a ou b) et non x = 1"),
    ("double negation", "candidats où non non actif", "candidats where not not actif", "candidats où non non actif"),
    ("any quantifier", 'candidats where au moins une candidatures où (etape = "Embauché")',
     'candidats where any candidatures where (etape = "Embauché")',
     'candidats où au moins un candidatures où (etape = "Embauché")'),
    ("no quantifier", "societes where aucune offres", "societes where no offres", "societes où aucun offres"),
    ("counted quantifiers", 'societes where at least 3 contacts where (a) and at most 10 offres or exactly 0 offres',
     "societes where at least 3 contacts where (a) and at most 10 offres or exactly 0 offres",
     "societes où au moins 3 contacts où (a) et au plus 10 offres ou exactement 0 offres"),
    ("quantifier over or", 'offres where any candidatures where ((etape = "A" or etape = "B"))',
     'offres where any candidatures where (etape = "A" or etape = "B")',
     'offres où au moins un candidatures où (etape = "A" ou etape = "B")'),
    ("dotted paths", 'contacts where societe.secteur = "IT" and any societe.offres where (statut = "Ouverte")',
     'contacts where societe.secteur = "IT" and any societe.offres where (statut = "Ouverte")',
     'contacts où societe.secteur = "IT" et au moins un societe.offres où (statut = "Ouverte")'),
    ("referents with condition", 'referents_operationnels de offres où statut = "Ouverte"',
     'referents_operationnels of offres where statut = "Ouverte"', 'referents_operationnels de offres où statut = "Ouverte"'),
    ("referents without condition", "referents_rh OF offres", "referents_rh of offres", "referents_rh de offres"),
    ("reference and union", '@dev union candidats where vivier = "Data"',
     '@dev union candidats where vivier = "Data"', '@dev union candidats où vivier = "Data"'),
    ("intersect binds tighter", "@a sauf @b inter @c", "@a except @b intersect @c", "@a sauf @b inter @c"),
    ("left union needs parentheses", "(@a union @b) inter @c", "(@a union @b) intersect @c", "(@a union @b) inter @c"),
    ("right union needs parentheses", "@a except (@b union @c)", "@a except (@b union @c)", "@a sauf (@b union @c)"),
    ("left chain needs none", "((@a union @b) except @c)", "@a union @b except @c", "@a union @b sauf @c"),
    ("right intersect keeps parentheses", "@a intersect (@b intersect @c)", "@a intersect (@b intersect @c)", "@a inter (@b inter @c)"),
    ("tighter operands need none", "(@a inter @b) union (@c inter @d)", "@a intersect @b union @c intersect @d",
     "@a inter @b union @c inter @d"),
    ("query operand in parentheses", '(@dev union candidats where vivier = "Data") intersect candidats where actif',
     '(@dev union candidats where vivier = "Data") intersect candidats where actif',
     '(@dev union candidats où vivier = "Data") inter candidats où actif'),
    ("long and broken", LONG_AND,
     'candidats where vivier = "Développement"\n'
     '  and statut in ("Disponible", "En veille")\n'
     '  and ville = "Lyon"\n'
     '  and date_inscription >= today - 90 days',
     'candidats où vivier = "Développement"\n'
     '  et statut dans ("Disponible", "En veille")\n'
     '  et ville = "Lyon"\n'
     "  et date_inscription >= aujourd'hui - 90 jours"),
    ("long or broken", LONG_OR,
     'candidats where ville = "Lyon" and vivier = "Data"\n'
     '  or ville = "Paris" and vivier = "Développement"\n'
     '  or competences contains all ("Python", "SQL")',
     'candidats où ville = "Lyon" et vivier = "Data"\n'
     '  ou ville = "Paris" et vivier = "Développement"\n'
     '  ou competences contient tous ("Python", "SQL")'),
    ("long set chain broken", LONG_SETS,
     'candidats where vivier = "Développement" and statut = "Disponible"\n'
     'union candidats where vivier = "Data" and ville in ("Lyon", "Paris")\n'
     'except @desabonnes',
     'candidats où vivier = "Développement" et statut = "Disponible"\n'
     'union candidats où vivier = "Data" et ville dans ("Lyon", "Paris")\n'
     'sauf @desabonnes'),
]

CASE_IDS = [case[0] for case in CASES]
RULES = [case[1] for case in CASES]


@pytest.mark.parametrize("name, rule, english, french", CASES, ids=CASE_IDS)
def test_canonical_english(name, rule, english, french):
    assert format_text(rule) == english


@pytest.mark.parametrize("name, rule, english, french", CASES, ids=CASE_IDS)
def test_canonical_french(name, rule, english, french):
    assert format_text(rule, "fr") == french


@pytest.mark.parametrize("name, rule, english, french", CASES, ids=CASE_IDS)
def test_english_parses_to_same_tree(name, rule, english, french):
    assert strip_spans(parse(english)) == strip_spans(parse(rule))


@pytest.mark.parametrize("name, rule, english, french", CASES, ids=CASE_IDS)
def test_french_parses_to_same_tree(name, rule, english, french):
    assert strip_spans(parse(french)) == strip_spans(parse(rule))


@pytest.mark.parametrize("name, rule, english, french", CASES, ids=CASE_IDS)
def test_english_is_a_fixed_point(name, rule, english, french):
    assert format_text(english) == english


@pytest.mark.parametrize("name, rule, english, french", CASES, ids=CASE_IDS)
def test_french_to_english_matches(name, rule, english, french):
    assert format_text(french, "en") == english


# ---------------------------------------------------------------- width, errors, deep rules

@pytest.mark.parametrize("rule, width, expected", [
    ("candidats where a = 1 and b = 2", 31, "candidats where a = 1 and b = 2"),
    ("candidats where a = 1 and b = 2", 30, "candidats where a = 1\n  and b = 2"),
    ("candidats where a = 1 union @b", 20, "candidats where a = 1\nunion @b"),
    ("candidats where a = 1 and b = 2 union @b", 10, "candidats where a = 1\n  and b = 2\nunion @b"),
    ("(@a union @b) intersect @c", 5, "(@a union @b)\nintersect @c"),
    ("candidats where a = 1 and (b = 2 or c = 3)", 20, "candidats where a = 1\n  and (b = 2 or c = 3)"),
    ('candidats where note = "a très très long texte"', 10, 'candidats where note = "a très très long texte"'),
], ids=["fits exactly", "one over", "set line", "set then where", "parenthesized operand", "or kept inside and",
        "single condition unbroken"])
def test_width_breaks_lines(rule, width, expected):
    assert format_text(rule, width=width) == expected


@pytest.mark.parametrize("value, expected", [
    ('say "hi"', r'"say \"hi\""'),
    ("C:\\temp", r'"C:\\temp"'),
    ("a\tb\nc", r'"a\tb\nc"'),
    ("l'été", '"l\'été"'),
    ("", '""'),
], ids=["double quotes", "backslash", "tab and newline", "apostrophe kept", "empty text"])
def test_quote_text(value, expected):
    assert quote_text(value) == expected


def test_syntax_error_raised():
    with pytest.raises(RuleSyntaxError):
        format_text("candidats where")


def test_unknown_language_rejected():
    with pytest.raises(ValueError):
        format_rule(parse("candidats"), "de")


def deep_not_chain(count: int) -> s.Query:
    """`candidats where not not … actif`, built directly: deeper than the parser accepts, as a JSON tree may be."""
    condition = s.Truth(s.FieldPath((s.Name("actif", ZERO),), ZERO), ZERO)
    for _ in range(count):
        condition = s.Not(condition, ZERO)
    return s.Query(s.Name("candidats", ZERO), None, condition, ZERO)


def long_union_chain(count: int) -> s.SetOperation:
    rule = s.Reference("r0", ZERO)
    for index in range(1, count):
        rule = s.SetOperation("union", rule, s.Reference(f"r{index}", ZERO), ZERO)
    return rule


def test_deep_not_chain():
    assert format_rule(deep_not_chain(3000), width=100_000) == "candidats where " + "not " * 3000 + "actif"


def test_long_union_chain():
    assert format_rule(long_union_chain(3000), width=100_000) == " union ".join(f"@r{index}" for index in range(3000))


def test_long_union_chain_broken():
    assert format_rule(long_union_chain(3000), width=88).split("\n")[-1] == "union @r2999"


def test_french_apostrophe_and_parentheses():
    rule = 'candidats where a is not empty and b = "\'" and c = "' + "(" * 65 + '"'
    assert strip_spans(parse(format_text(rule, "fr"))) == strip_spans(parse(rule))


# ---------------------------------------------------------------- random trees

# Every word of a keyword: a name spelt like one may lex as the keyword, so random names avoid them all.
KEYWORD_WORDS = frozenset("""
where où of de and et or ou not non in dans pas between entre is empty est vide n contains contient l un une au
moins starts with commence par true vrai false faux today aujourd hui any no aucun aucune at least most plus exactly
exactement union except sauf intersect inter tous toutes day days jour jours week weeks semaine semaines month
months mois year years an ans année années
""".split())

names = st.builds(lambda first, rest: first + rest, st.sampled_from("adeinostuxzéèàùçÉA_"),
                  st.text(alphabet="adeinostuxzéèàùç_0123456789", max_size=5)).filter(lambda name: name.lower() not in KEYWORD_WORDS)


def name_node(text: str) -> s.Name:
    return s.Name(text, ZERO)


field_paths = st.lists(names, min_size=1, max_size=3).map(lambda parts: s.FieldPath(tuple(map(name_node, parts)), ZERO))

text_values = st.text(st.one_of(st.sampled_from("\"'\\\n\t\r#() ,."), st.characters(blacklist_categories=("Cs",))), max_size=8)
# Small values such as 0.00000001 matter: `str(Decimal)` writes them with an exponent, which the grammar rejects.
decimals = st.builds(lambda sign, whole, fraction: Decimal(f"{sign}{whole}.{fraction}"), st.sampled_from(["", "-"]),
                     st.one_of(st.just(0), st.integers(0, 10**9)), st.from_regex(r"0{0,9}[0-9]{1,3}", fullmatch=True))
shifts = st.tuples(st.integers(-500, 500), st.sampled_from(["day", "week", "month", "year"]))
relative_dates = st.one_of(
    st.builds(s.RelativeDate, st.none(), st.lists(shifts, max_size=3).map(tuple)),
    st.builds(s.RelativeDate, st.dates(), st.lists(shifts, min_size=1, max_size=3).map(tuple)),
)
literals = st.one_of(
    text_values.map(lambda value: s.Literal(value, "text", ZERO)),
    st.integers(-10**15, 10**15).map(lambda value: s.Literal(value, "integer", ZERO)),
    decimals.map(lambda value: s.Literal(value, "decimal", ZERO)),
    st.booleans().map(lambda value: s.Literal(value, "boolean", ZERO)),
    st.dates().map(lambda value: s.Literal(value, "date", ZERO)),
    relative_dates.map(lambda value: s.Literal(value, "date", ZERO)),
)
value_lists = st.lists(literals, max_size=3).map(tuple)
quantifier_heads = st.one_of(st.just(("any", 1)), st.just(("no", 0)),
                             st.tuples(st.sampled_from(["at_least", "at_most", "exactly"]), st.integers(0, 1000)))


def quantified(head, relation, where):
    return s.Quantified(head[0], head[1], relation, where, ZERO)


leaf_conditions = st.one_of(
    st.builds(s.Comparison, field_paths, st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "=="]), literals, st.just(ZERO)),
    st.builds(s.Membership, field_paths, value_lists, st.booleans(), st.just(ZERO)),
    st.builds(s.Emptiness, field_paths, st.booleans(), st.just(ZERO)),
    st.builds(s.TextMatch, field_paths, st.sampled_from(["contains", "starts_with"]), literals, st.just(ZERO)),
    st.builds(s.ListMatch, field_paths, st.sampled_from(["any", "all"]), value_lists, st.just(ZERO)),
    st.builds(s.Between, field_paths, literals, literals, st.just(ZERO)),
    st.builds(s.Truth, field_paths, st.just(ZERO)),
    st.builds(quantified, quantifier_heads, field_paths, st.none()),
)


def compound_conditions(children):
    operands = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        st.builds(s.And, operands, st.just(ZERO)),
        st.builds(s.Or, operands, st.just(ZERO)),
        st.builds(s.Not, children, st.just(ZERO)),
        st.builds(quantified, quantifier_heads, field_paths, children),
    )


conditions = st.recursive(leaf_conditions, compound_conditions, max_leaves=8)

queries = st.builds(s.Query, names.map(name_node), st.one_of(st.none(), names.map(name_node)), st.one_of(st.none(), conditions),
                    st.just(ZERO))
references = st.builds(s.Reference, names, st.just(ZERO))
rules = st.recursive(
    st.one_of(queries, references),
    lambda children: st.builds(s.SetOperation, st.sampled_from(["union", "except", "intersect"]), children, children, st.just(ZERO)),
    max_leaves=5,
)


@pytest.mark.parametrize("lang", ["en", "fr"])
@settings(max_examples=300, deadline=None, derandomize=True)
@given(tree=rules, width=st.sampled_from([88, 30, 1]))
def test_random_tree_round_trip(lang, tree, width):
    assert strip_spans(parse(format_rule(tree, lang, width))) == tree
