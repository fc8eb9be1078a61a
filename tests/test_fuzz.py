"""Fuzzing of the rule pipeline: parse, check, compile and run on the tiny export.

The property holds for any input text. `compile_rule` either returns a rule
whose SQL DuckDB runs on the tiny fixture export, and that `describe` puts into
words in both languages. Or it raises an `ErnestRulesError` whose problems all
have a line and a column (only a `LimitError` may have no position). Any other
exception is a bug.

Inputs come from three sources. The first is rule texts built from the pieces
of the grammar: names of the default catalog and random ones, every keyword in
both languages and random case, literals of every kind, nesting, quantifiers,
set operations, comments and odd whitespace. The others are random Unicode
strings, and valid rules with characters deleted, inserted or swapped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ernest_rules import ErnestRulesError, LimitError, compile_rule, default_catalog, describe, open_export
from ernest_rules.cli import main

from reference_evaluator import ACCENTED_NAMES, KEYWORD_SPELLINGS, UNIT_SPELLINGS

# Hypothesis warns about the size of the repr of the recursive strategies below; that repr is never shown.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny" / "parquet"
TODAY = dt.date(2025, 3, 10)

RULEBOOK = {
    "dev": "candidats where vivier = 'Dev'",
    "ouvertes": "offres where statut = 'Ouverte'",
    "rh_actifs": "referents_rh of offres where referent_rh.actif",
    "boucle_a": "@boucle_b",
    "boucle_b": "@boucle_a",
    "cassee": "candidats where statut =",
    "inconnue": "candidats where vivie = 'Dev'",
    "mix": "@dev union candidats where statut = 'Placé'",
}

VALID_RULES = [
    'candidats where vivier = "Dev" and statut in ("Disponible", "En veille")',
    "candidats où vivier = 'Dev' et non desabonne",
    "contacts where societe.secteur = 'Industrie' and poste_actif",
    "offres where referent_rh.actif and date_publication between 2025-01-01 and today",
    "referents_rh of offres where statut = 'Ouverte'",
    "referents_operationnels de offres où type_contrat n'est pas vide",
    "@dev except candidats where any candidatures where (etape = 'Embauché')",
    "(@dev union candidats where vivier = 'Data') intersect candidats where consentement_rgpd",
    "societes where at least 2 contacts where (poste_actif) or no offres",
    "candidats where date_creation >= today - 30 days and disponibilite < 31/01/2025 + 1 month",
    "candidats where competences contains any ('python', 'sql') and nom starts with 'du'",
    "candidats where competences contient tous ('Python', 'SQL') # commentaire\n or ville == 'Lyon'",
    "candidatures where offre.societe.ville = 'Paris' and candidat.email is empty",
    "utilisateurs where exactly 1 offres_rh where (statut != 'Fermée') and role not in ('Admin')",
    "contacts where any societe.offres where (statut = 'Ouverte')",
]

CATALOG = default_catalog()
CATALOG_NAMES = sorted({
    *(name for entity in CATALOG.entities for name in (entity.name, *entity.aliases)),
    *(kind.name for kind in CATALOG.kinds),
    *(name for entity in CATALOG.entities for spec in entity.fields for name in (spec.name, *spec.aliases)),
    *(relation.name for entity in CATALOG.entities for relation in entity.relations),
    *(item.name for entity in CATALOG.entities for item in entity.collections),
    *ACCENTED_NAMES.values(),
})
KEYWORD_WORDS = sorted({word for spellings in KEYWORD_SPELLINGS.values() for spelling in spellings for word in spelling.split()})


@pytest.fixture(scope="module")
def tiny_export():
    export = open_export(TINY)
    yield export
    export.close()


def check_outcome(text: str, export) -> str:
    """Assert the fuzzing property for one text, and return "ok", "error" or "limit"."""
    try:
        compiled = compile_rule(text, rules=RULEBOOK, today=TODAY)
    except LimitError as error:
        assert error.problems
        error.render("fr")
        return "limit"
    except ErnestRulesError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line is not None and problem.line >= 1, problem.render("en")
            assert problem.column is not None and problem.column >= 1, problem.render("en")
        assert error.render("fr")
        assert error.render("en")
        return "error"
    export.connection.execute(compiled.keys_sql, compiled.params).fetchall()
    export.connection.execute(compiled.rows_sql, compiled.params).fetchall()
    assert describe(compiled.checked, "fr")
    assert describe(compiled.checked, "en")
    return "ok"


# ---------------------------------------------------------------- rule texts from the grammar

CASES = st.sampled_from([str.lower, str.upper, str.title, str.swapcase])
VALID_GAPS = st.sampled_from([" ", " ", " ", "  ", "\n", "\t", "\r\n", " # comment 'x' \"y\"\n"])
GAPS = st.sampled_from([" ", " ", " ", "  ", "\n", "\t", "\r\n", " # comment 'x' \"y\"\n", "\u00a0", "", "\u2003"])


def keyword(name: str) -> st.SearchStrategy[str]:
    separators = st.sampled_from([" ", " ", "  ", "\n", "\t"])
    return st.tuples(st.sampled_from(KEYWORD_SPELLINGS[name]), CASES, separators).map(
        lambda parts: parts[1](parts[0]).replace(" ", parts[2]))


def any_keyword() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(KEYWORD_SPELLINGS)).flatmap(keyword)


NAMES = st.one_of(
    st.tuples(st.sampled_from(CATALOG_NAMES), CASES).map(lambda parts: parts[1](parts[0])),
    st.from_regex(r"[A-Za-zéÉœ_][A-Za-z0-9éÉœ_]{0,10}", fullmatch=True),
    st.sampled_from(KEYWORD_WORDS),
)
FIELDS = st.lists(NAMES, min_size=1, max_size=3).map(".".join)


def quoted(text: str, quote: str, escape: bool) -> str:
    if escape:
        text = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return quote + text + quote


WEIRD_TEXTS = st.sampled_from(["", " ", "\u00a0", "it's", 'say "hi"', "\\", "\\n", "%", "_", "--", ";", "/* x */", "$1",
                               "$p1", "?", "\u200f", "\u202e", "e\u0301", "\x00", "\r\n", "Œuvre", "ǅ", "ß", "İ", "ﬁ"])
TEXT_VALUES = st.tuples(st.one_of(st.text(max_size=12), WEIRD_TEXTS), st.sampled_from(['"', "'"]),
                        st.booleans()).map(lambda parts: quoted(*parts))
NUMBER_VALUES = st.one_of(
    st.integers(-10**30, 10**30).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.sampled_from(["0", "-0", "1.", ".5", "1e5", "00123", "-1.5", "99999999999999999999"]),
)
DATE_BASES = st.one_of(
    st.dates().map(lambda day: day.isoformat()),
    st.dates().map(lambda day: day.strftime("%d/%m/%Y")),
    st.sampled_from(["2025-02-30", "31/02/2025", "0000-01-01", "9999-12-31", "29/02/2024", "2025-13-01", "1/1/2025"]),
    keyword("today"),
)
SHIFTS = st.tuples(st.sampled_from(["+", "-", "+ -"]), st.integers(0, 10**6), st.sampled_from(sorted(
    spelling for spellings in UNIT_SPELLINGS.values() for spelling in spellings)), CASES).map(
    lambda parts: f" {parts[0]} {parts[1]} {parts[3](parts[2])}")
DATE_VALUES = st.tuples(DATE_BASES, st.lists(SHIFTS, max_size=2)).map(lambda parts: parts[0] + "".join(parts[1]))
VALUES = st.one_of(TEXT_VALUES, NUMBER_VALUES, DATE_VALUES, keyword("true"), keyword("false"), NAMES)
VALUE_LISTS = st.lists(VALUES, max_size=4).map(lambda items: "(" + ", ".join(items) + ")")
COMPARATORS = st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">=", "==", "=<", "!", "==="])


def joined(*parts: st.SearchStrategy[str], gaps: st.SearchStrategy[str] = GAPS) -> st.SearchStrategy[str]:
    """Concatenate the parts with random whitespace, valid or not, between them."""
    return st.tuples(*[item for part in parts for item in (part, gaps)]).map("".join)


def spaced(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Concatenate the parts with whitespace and comments that the grammar accepts."""
    return joined(*parts, gaps=VALID_GAPS)


LEAVES = st.one_of(
    joined(FIELDS, COMPARATORS, VALUES),
    joined(FIELDS, st.sampled_from(["in", "not in", "contains any", "contains all"]).flatmap(keyword), VALUE_LISTS),
    joined(FIELDS, st.sampled_from(["is empty", "is not empty"]).flatmap(keyword)),
    joined(FIELDS, st.sampled_from(["contains", "starts with"]).flatmap(keyword), VALUES),
    joined(FIELDS, keyword("between"), VALUES, keyword("and"), VALUES),
    FIELDS,
)
QUANTIFIERS = st.one_of(
    keyword("any"), keyword("no"),
    st.tuples(st.sampled_from(["at least", "at most", "exactly"]).flatmap(keyword), NUMBER_VALUES).map(" ".join),
)


def extend_conditions(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        joined(keyword("not"), inner),
        joined(inner, keyword("and"), inner),
        joined(inner, keyword("or"), inner),
        inner.map(lambda text: f"({text})"),
        joined(QUANTIFIERS, FIELDS),
        joined(QUANTIFIERS, FIELDS, keyword("where"), inner.map(lambda text: f"({text})")),
        joined(QUANTIFIERS, FIELDS, keyword("where"), inner),
    )


CONDITIONS = st.recursive(LEAVES, extend_conditions, max_leaves=8)

# Conditions that fit an entity of the catalog, so that many generated rules are valid and reach DuckDB.
TYPED_VALUES = {
    "text": TEXT_VALUES, "list": TEXT_VALUES, "integer": NUMBER_VALUES, "decimal": NUMBER_VALUES, "date": DATE_VALUES,
    "timestamp": DATE_VALUES, "boolean": st.one_of(keyword("true"), keyword("false")),
}
ORDERED_OPERATORS = st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">=", "=="])
EQUALITY_OPERATORS = st.sampled_from(["=", "!=", "<>", "=="])


def field_names(entity) -> st.SearchStrategy[tuple[str, str]]:
    """(written name, type) of a field of the entity, directly or through one to-one relation."""
    direct = [(name, spec.type) for spec in entity.fields for name in (spec.name, *spec.aliases)]
    linked = [(f"{relation.name}.{spec.name}", spec.type) for relation in entity.relations
              for spec in CATALOG.entity(relation.target).fields]
    return st.sampled_from(direct + linked).flatmap(
        lambda pair: st.tuples(CASES, st.just(pair)).map(lambda parts: (parts[0](parts[1][0]), parts[1][1])))


def typed_leaf(pair: tuple[str, str]) -> st.SearchStrategy[str]:
    name, field_type = pair
    values = TYPED_VALUES[field_type]
    lists = st.lists(values, min_size=1, max_size=4).map(lambda items: "(" + ", ".join(items) + ")")
    choices = [spaced(st.just(name), st.sampled_from(["is empty", "is not empty"]).flatmap(keyword)),
               spaced(st.just(name), st.sampled_from(["in", "not in"]).flatmap(keyword), lists)]
    if field_type in ("text", "list"):
        choices += [spaced(st.just(name), EQUALITY_OPERATORS, values),
                    spaced(st.just(name), st.sampled_from(["contains", "starts with"]).flatmap(keyword), values),
                    spaced(st.just(name), st.sampled_from(["contains any", "contains all"]).flatmap(keyword), lists)]
    elif field_type == "boolean":
        choices += [st.just(name), spaced(st.just(name), EQUALITY_OPERATORS, values)]
    else:
        choices += [spaced(st.just(name), ORDERED_OPERATORS, values),
                    spaced(st.just(name), keyword("between"), values, keyword("and"), values)]
    return st.one_of(*choices)


_TYPED_CONDITIONS: dict[tuple[str, int], st.SearchStrategy[str]] = {}


def typed_conditions(entity_name: str, depth: int) -> st.SearchStrategy[str]:
    key = (entity_name, depth)
    if key not in _TYPED_CONDITIONS:
        entity = CATALOG.entity(entity_name)
        leaf = field_names(entity).flatmap(typed_leaf)
        if depth == 0:
            _TYPED_CONDITIONS[key] = leaf
        else:
            inner = typed_conditions(entity_name, depth - 1)
            choices = [leaf, leaf, spaced(keyword("not"), inner), spaced(inner, keyword("and"), inner),
                       spaced(inner, keyword("or"), inner), inner.map(lambda text: f"({text})")]
            for item in entity.collections:
                child = typed_conditions(item.entity, depth - 1).map(lambda text: f"({text})")
                choices += [spaced(QUANTIFIERS, st.just(item.name)),
                            spaced(QUANTIFIERS, st.just(item.name), keyword("where"), child)]
            _TYPED_CONDITIONS[key] = st.one_of(*choices)
    return _TYPED_CONDITIONS[key]


def entity_spellings(entity) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from([entity.name, *entity.aliases]), CASES).map(lambda parts: parts[1](parts[0]))


TYPED_QUERIES = st.one_of(
    *[spaced(entity_spellings(entity), keyword("where"), typed_conditions(entity.name, 2)) for entity in CATALOG.entities],
    *[spaced(st.just(kind.name), keyword("of"), st.just(kind.through), keyword("where"), typed_conditions(kind.through, 2))
      for kind in CATALOG.referent_kinds()],
)
CANDIDATS_PIECES = st.one_of(spaced(st.just("candidats"), keyword("where"), typed_conditions("candidats", 1)),
                             st.sampled_from(["@dev", "@DEV", "@mix"]))
TYPED_SET_OPERATIONS = st.recursive(
    CANDIDATS_PIECES,
    lambda inner: st.one_of(spaced(inner, st.sampled_from(["union", "except", "intersect"]).flatmap(keyword), inner),
                            inner.map(lambda text: f"({text})")),
    max_leaves=4)

QUERIES = st.one_of(
    NAMES,
    joined(NAMES, keyword("where"), CONDITIONS),
    joined(NAMES, keyword("of"), NAMES),
    joined(NAMES, keyword("of"), NAMES, keyword("where"), CONDITIONS),
    st.sampled_from(sorted(RULEBOOK) + ["absente", "DEV", "9x"]).map(lambda name: "@" + name),
)


def extend_rules(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operators = st.sampled_from(["union", "except", "intersect"]).flatmap(keyword)
    return st.one_of(joined(inner, operators, inner), inner.map(lambda text: f"({text})"))


RULES = st.recursive(QUERIES, extend_rules, max_leaves=4)
# Now and then a stray piece of the grammar lands anywhere: a keyword, a bracket, a comment.
STRAYS = st.one_of(any_keyword(), st.sampled_from(["(", ")", ",", ".", "#", "@", '"', "'", "\\", "==", "-", "+"]))
GRAMMAR_TEXTS = st.one_of(TYPED_QUERIES, TYPED_QUERIES, TYPED_SET_OPERATIONS, RULES, joined(RULES, STRAYS),
                          joined(STRAYS, TYPED_QUERIES), joined(TYPED_QUERIES, STRAYS, RULES))

FUZZ = settings(derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@settings(FUZZ, max_examples=500)
@given(GRAMMAR_TEXTS)
def test_grammar_text_outcome(tiny_export, text):
    check_outcome(text, tiny_export)


def test_grammar_texts_reach_sql(tiny_export):
    """The generator must produce valid rules too, or the fuzzing above never reaches DuckDB."""
    outcomes = []

    @settings(FUZZ, max_examples=200)
    @given(GRAMMAR_TEXTS)
    def collect(text):
        outcomes.append(check_outcome(text, tiny_export))

    collect()
    assert outcomes.count("ok") >= 50
    assert outcomes.count("error") >= 20


# ---------------------------------------------------------------- random strings and mutated rules

# Lone surrogates are left out here: test_lone_surrogate_value covers them.
ANY_CHARACTER = st.characters(exclude_categories=("Cs",))


@settings(FUZZ, max_examples=300)
@given(st.text(alphabet=ANY_CHARACTER, max_size=200))
def test_random_text_outcome(tiny_export, text):
    check_outcome(text, tiny_export)


@settings(FUZZ, max_examples=200)
@given(st.text(alphabet=ANY_CHARACTER, max_size=80))
def test_rule_prefix_random_tail(tiny_export, tail):
    check_outcome("candidats where " + tail, tiny_export)


Mutation = tuple[str, int, str]
MUTATIONS = st.lists(st.tuples(st.sampled_from(["delete", "insert", "swap"]), st.integers(0, 10_000),
                               st.one_of(ANY_CHARACTER, st.sampled_from(list("()\"'#@.,=<>!\\ \n")))), min_size=1, max_size=4)


def mutate(text: str, mutations: list[Mutation]) -> str:
    for kind, position, char in mutations:
        index = position % (len(text) + 1)
        if kind == "insert" or not text:
            text = text[:index] + char + text[index:]
        elif kind == "delete":
            index = position % len(text)
            text = text[:index] + text[index + 1:]
        else:
            first, second = position % len(text), (position // 7) % len(text)
            chars = list(text)
            chars[first], chars[second] = chars[second], chars[first]
            text = "".join(chars)
    return text


@settings(FUZZ, max_examples=500)
@given(st.sampled_from(VALID_RULES), MUTATIONS)
def test_mutated_rule_outcome(tiny_export, rule, mutations):
    check_outcome(mutate(rule, mutations), tiny_export)


@pytest.mark.parametrize("rule", VALID_RULES)
def test_valid_rules_run(tiny_export, rule):
    """The seeds of the mutations are valid, so a mutation starts from working SQL."""
    assert check_outcome(rule, tiny_export) == "ok"


# ---------------------------------------------------------------- resource limits

LIMIT_CASES = [
    pytest.param("candidats where " + "(" * 1000 + "nom = 'x'" + ")" * 1000, id="thousand nested parentheses"),
    pytest.param("candidats where nom = '" + "x" * 1_000_000 + "'", id="one megabyte rule"),
    pytest.param("candidats where id in (" + ", ".join(str(i) for i in range(100_000)) + ")", id="hundred thousand values"),
    pytest.param("candidats where id in (" + ",".join("1" for _ in range(10_001)) + ")", id="values just over limit"),
    pytest.param("candidats where nom contains any (" + ",".join("'a'" for _ in range(10_001)) + ")", id="contains any over limit"),
    pytest.param("candidats where " + "not " * 10_000 + "desabonne", id="ten thousand nots"),
    pytest.param("candidats where " + "(not " * 65 + "desabonne" + ")" * 65, id="nots in parentheses"),
    pytest.param("@dev union " * 20_000 + "@dev", id="long set operation chain"),
]


@pytest.mark.parametrize("rule", LIMIT_CASES)
def test_limit_exceeded(rule):
    with pytest.raises(LimitError) as caught:
        compile_rule(rule, rules=RULEBOOK)

    assert caught.value.problems


def test_limit_message_names_limit():
    with pytest.raises(LimitError) as caught:
        compile_rule("candidats where id in (" + ",".join("1" for _ in range(10_001)) + ")")

    assert "10000" in caught.value.render("en")


def test_nesting_at_limit_runs(tiny_export):
    rule = "candidats where " + "(" * 64 + "nom = 'x'" + ")" * 64
    assert check_outcome(rule, tiny_export) == "ok"


# ---------------------------------------------------------------- found by fuzzing

def test_lone_surrogate_value(tiny_export):
    # A byte that is not UTF-8 in a command-line argument reaches Python as a lone surrogate (U+DCFF).
    check_outcome('candidats where nom = "\udcff"', tiny_export)


def test_lone_surrogate_select_exit(capsys):
    code = main(["--lang", "en", "select", 'candidats where nom = "\udcff"', "--data", str(TINY)])

    assert code == 2
