"""Set operations, saved rules, comments and exact comparison, on the real Ernest export.

Three base rules are computed by hand-written DuckDB SQL over the Parquet files:
DEV (vivier "Dev"), DISPO (statut "Disponible") and LINKEDIN (source "LinkedIn").
The expected result of each combination is the set algebra of those hand sets in
Python. The hand SQL folds texts with its own macro `fold(x) = lower(strip_accents(trim(x)))`,
the comparison rule the language documents. Error cases need no data.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from ernest_rules import RuleCheckError, compile_rule, open_export
from real_data import hand_connection
from ernest_rules.cli import main

ROOT = Path(__file__).resolve().parents[1]

DEV = 'candidats where vivier = "Dev"'
DISPO = 'candidats where statut = "Disponible"'
LINKEDIN = 'candidats where source = "LinkedIn"'

HAND_BASES = {
    "dev": "SELECT DISTINCT c.id FROM candidats c, unnest(c.viviers) AS item(x) WHERE fold(item.x) = 'dev'",
    "dispo": "SELECT id FROM candidats WHERE fold(statut) = 'disponible'",
    "linkedin": "SELECT id FROM candidats WHERE fold(source) = 'linkedin'",
}

SAVED = {
    "dev": DEV,
    "disponibles": DISPO,
    "linkedin": LINKEDIN,
    "dev_dispo": "@dev intersect @disponibles",
}


@pytest.fixture(scope="module")
def db(real_exports):
    """Open an independent DuckDB connection over the Parquet files, with a hand-written fold macro."""
    connection = hand_connection(real_exports)
    connection.execute("CREATE MACRO fold(x) AS lower(strip_accents(trim(x)))")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def export(real_exports):
    opened = open_export(real_exports)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def bases(db) -> dict[str, set]:
    """Return the hand-computed id sets of the three base rules."""
    return {name: {row[0] for row in db.execute(sql).fetchall()} for name, sql in HAND_BASES.items()}


def selected(export, rule: str, rules=None) -> list:
    compiled = compile_rule(rule, rules=rules)
    return [row[0] for row in export.connection.execute(f"SELECT id FROM ({compiled.keys_sql})", compiled.params).fetchall()]


def hand_ids(db, sql: str) -> set:
    return {row[0] for row in db.execute(sql).fetchall()}


# ---------------------------------------------------------------- set operations and precedence

SET_CASES = [
    pytest.param(f"{DEV} union {DISPO}", lambda a, b, c: a | b, id="union"),
    pytest.param(f"{DEV} except {DISPO}", lambda a, b, c: a - b, id="except"),
    pytest.param(f"{DEV} sauf {DISPO}", lambda a, b, c: a - b, id="sauf"),
    pytest.param(f"{DEV} intersect {DISPO}", lambda a, b, c: a & b, id="intersect"),
    pytest.param(f"{DEV} inter {DISPO}", lambda a, b, c: a & b, id="inter"),
    pytest.param(f"{DEV} UNION {DISPO}", lambda a, b, c: a | b, id="upper case union"),
    pytest.param(f"{DISPO} except {DEV}", lambda a, b, c: b - a, id="except other order"),
    # intersect binds tighter than union and except.
    pytest.param(f"{DEV} union {DISPO} intersect {LINKEDIN}", lambda a, b, c: a | (b & c), id="intersect before union"),
    pytest.param(f"({DEV} union {DISPO}) intersect {LINKEDIN}", lambda a, b, c: (a | b) & c, id="parenthesised union first"),
    pytest.param(f"{DEV} except {DISPO} intersect {LINKEDIN}", lambda a, b, c: a - (b & c), id="intersect before except"),
    pytest.param(f"({DEV} except {DISPO}) intersect {LINKEDIN}", lambda a, b, c: (a - b) & c, id="parenthesised except first"),
    pytest.param(f"{DEV} intersect {DISPO} except {LINKEDIN}", lambda a, b, c: (a & b) - c, id="intersect then except"),
    # union and except have the same rank and group from the left.
    pytest.param(f"{DEV} except {DISPO} union {LINKEDIN}", lambda a, b, c: (a - b) | c, id="except then union"),
    pytest.param(f"{DEV} union {DISPO} except {LINKEDIN}", lambda a, b, c: (a | b) - c, id="union then except"),
    pytest.param(f"{DEV} except ({DISPO} union {LINKEDIN})", lambda a, b, c: a - (b | c), id="except parenthesised union"),
    pytest.param(f"{DEV} except {DISPO} except {LINKEDIN}", lambda a, b, c: (a - b) - c, id="except chain left"),
    pytest.param(f"{DEV} sauf ({DISPO} sauf {LINKEDIN})", lambda a, b, c: a - (b - c), id="sauf chain right"),
    pytest.param(f"{LINKEDIN} inter ({DEV} sauf {DISPO})", lambda a, b, c: c & (a - b), id="inter of sauf"),
    pytest.param(f"(({DEV}))", lambda a, b, c: a, id="double parentheses"),
    pytest.param(f"{DEV} union candidat where statut = 'Disponible'", lambda a, b, c: a | b, id="entity alias union"),
    # Saved rules.
    pytest.param("@dev", lambda a, b, c: a, id="saved rule alone"),
    pytest.param("@dev_dispo", lambda a, b, c: a & b, id="saved rule nested"),
    pytest.param("@DEV sauf @Disponibles", lambda a, b, c: a - b, id="saved names ignore case"),
    pytest.param("@dev_dispo union @linkedin", lambda a, b, c: (a & b) | c, id="saved union saved"),
    pytest.param(f"(@dev union {LINKEDIN}) intersect @disponibles", lambda a, b, c: (a | c) & b, id="saved mixed parentheses"),
    pytest.param("@dev except @dev", lambda a, b, c: set(), id="saved except itself"),
    # Comments and lines.
    pytest.param('# Dev candidates who are available\ncandidats\n  where vivier = "Dev"   # pool\n  intersect  # both\n'
                 'candidats where statut = "Disponible"\n# end', lambda a, b, c: a & b, id="comments and lines"),
    pytest.param('candidats where (vivier = "Dev" # pool\n or source = "LinkedIn")\n and statut = "Disponible"',
                 lambda a, b, c: (a | c) & b, id="comment inside parentheses"),
]


@pytest.mark.parametrize(("rule", "algebra"), SET_CASES)
def test_set_operation_rows(export, bases, rule, algebra):
    expected = algebra(bases["dev"], bases["dispo"], bases["linkedin"])
    assert set(selected(export, rule, SAVED)) == expected


@pytest.mark.parametrize(("rule", "algebra"), SET_CASES)
def test_set_operation_each_once(export, rule, algebra):
    ids = selected(export, rule, SAVED)
    assert len(ids) == len(set(ids))


# Each pair differs on the real data, so the precedence cases above can tell the groupings apart.
GROUPING_PAIRS = [
    pytest.param(lambda a, b, c: a | (b & c), lambda a, b, c: (a | b) & c, id="union intersect grouping"),
    pytest.param(lambda a, b, c: a - (b & c), lambda a, b, c: (a - b) & c, id="except intersect grouping"),
    pytest.param(lambda a, b, c: (a - b) | c, lambda a, b, c: a - (b | c), id="except union grouping"),
    pytest.param(lambda a, b, c: (a - b) - c, lambda a, b, c: a - (b - c), id="except chain grouping"),
]


@pytest.mark.parametrize(("first", "second"), GROUPING_PAIRS)
def test_groupings_differ_on_data(bases, first, second):
    sets = (bases["dev"], bases["dispo"], bases["linkedin"])
    assert first(*sets) != second(*sets)


OTHER_ENTITY_CASES = [
    pytest.param('referents_rh of offres where type_contrat = "CDI" except referents_rh of offres where type_contrat = "Intérim"',
                 "SELECT referent_rh_id FROM offres WHERE fold(type_contrat) = 'cdi' "
                 "EXCEPT SELECT referent_rh_id FROM offres WHERE fold(type_contrat) = 'interim'",
                 id="referents except"),
    pytest.param('referents_operationnels of offres where type_contrat = "Stage" '
                 'inter referents_operationnels of offres where type_contrat = "Alternance"',
                 "SELECT referent_operationnel_id FROM offres WHERE fold(type_contrat) = 'stage' "
                 "INTERSECT SELECT referent_operationnel_id FROM offres WHERE fold(type_contrat) = 'alternance' "
                 "AND referent_operationnel_id IS NOT NULL",
                 id="operational referents inter"),
    pytest.param('societes where statut = "Client" union societes where any offres where (statut = "Ouverte")',
                 "SELECT id FROM societes WHERE fold(statut) = 'client' "
                 "UNION SELECT societe_id FROM offres WHERE fold(statut) = 'ouverte' AND societe_id IS NOT NULL",
                 id="societes union quantifier"),
    pytest.param('contacts where poste_actif sauf contacts where societe.desabonne',
                 "SELECT id FROM contacts WHERE poste_actif "
                 "EXCEPT SELECT c.id FROM contacts c JOIN societes s ON s.id = c.societe_id WHERE s.desabonne",
                 id="contacts sauf relation"),
]


@pytest.mark.parametrize(("rule", "sql"), OTHER_ENTITY_CASES)
def test_other_entity_rows(export, db, rule, sql):
    assert set(selected(export, rule)) == hand_ids(db, sql)


@pytest.mark.parametrize(("rule", "sql"), OTHER_ENTITY_CASES)
def test_other_entity_not_trivial(db, rule, sql):
    """Check the table itself: every hand set is non-empty."""
    assert hand_ids(db, sql)


# ---------------------------------------------------------------- errors of set operations and saved rules

MIXED_CASES = [
    pytest.param(f"{DEV} union contacts where poste_actif", "union", "candidats", "contacts", id="candidats union contacts"),
    pytest.param("societes except offres", "except", "societes", "offres", id="societes except offres"),
    pytest.param("@dev intersect societes", "intersect", "candidats", "societes", id="saved intersect societes"),
    pytest.param("referents_rh of offres union referents_operationnels of offres", "union", "referents_rh",
                 "referents_operationnels", id="two referent kinds"),
    pytest.param("referents_rh of offres sauf utilisateurs", "except", "referents_rh", "utilisateurs", id="referents sauf users"),
    pytest.param(f"({DEV} union contacts) intersect {DISPO}", "union", "candidats", "contacts", id="mixed inside parentheses"),
]


def check_error(rule: str, rules=None) -> RuleCheckError:
    with pytest.raises(RuleCheckError) as raised:
        compile_rule(rule, rules=rules if rules is not None else SAVED)
    return raised.value


@pytest.mark.parametrize(("rule", "operator", "left", "right"), MIXED_CASES)
def test_mixed_entities_name_left(rule, operator, left, right):
    assert f"'{left}'" in check_error(rule).problems[0].message.render("en")


@pytest.mark.parametrize(("rule", "operator", "left", "right"), MIXED_CASES)
def test_mixed_entities_name_right(rule, operator, left, right):
    assert f"'{right}'" in check_error(rule).problems[0].message.render("en")


@pytest.mark.parametrize(("rule", "operator", "left", "right"), MIXED_CASES)
def test_mixed_entities_name_operator(rule, operator, left, right):
    assert f"'{operator}'" in check_error(rule).problems[0].message.render("en")


@pytest.mark.parametrize(("rule", "operator", "left", "right"), MIXED_CASES)
def test_mixed_entities_french_names(rule, operator, left, right):
    assert f"« {right} »" in check_error(rule).problems[0].message.render("fr")


def test_unknown_saved_rule_suggestion():
    error = check_error("@dev_dispos union @linkedin")
    assert error.problems[0].suggestions == ("@dev_dispo",)


def test_unknown_saved_rule_named():
    assert "'@dev_dispos'" in check_error("@dev_dispos").render("en")


def test_unknown_saved_rule_column():
    assert check_error("@dev union @linkdin").problems[0].column == 12


CYCLE_CASES = [
    pytest.param({"a": "@b", "b": "@a"}, "@a", "@a → @b → @a", id="two rule cycle"),
    pytest.param({"a": '@a union candidats where statut = "Disponible"'}, "@a", "@a → @a", id="self reference"),
    pytest.param({"a": "@b", "b": "@c", "c": "@a"}, "@b", "@b → @c → @a → @b", id="three rule cycle"),
    pytest.param({"a": f"{DEV} except @b", "b": f"@a intersect {DISPO}"}, f"@a union {LINKEDIN}", "@a → @b → @a",
                 id="cycle inside operations"),
]


@pytest.mark.parametrize(("rules", "rule", "chain"), CYCLE_CASES)
def test_cycle_shows_chain(rules, rule, chain):
    assert chain in check_error(rule, rules).render("en")


@pytest.mark.parametrize(("rules", "rule", "chain"), CYCLE_CASES)
def test_cycle_french_shows_chain(rules, rule, chain):
    assert chain in check_error(rule, rules).render("fr")


def test_cycle_reports_once():
    assert len(check_error("@a", {"a": "@b", "b": "@a"}).problems) == 1


BAD_SAVED = {"bad": 'candidats where vivre = "Dev"', "broken": "candidats where statut = ", "outer": "@bad", **SAVED}

# (rule, expected origin, line, column): the place points into the saved rule's own text.
SAVED_ERROR_CASES = [
    pytest.param(f"@bad union {DISPO}", "@bad", 1, 17, id="unknown field in saved"),
    pytest.param("@broken", "@broken", 1, 25, id="syntax error in saved"),
    pytest.param("@outer", "@bad", 1, 17, id="error two levels down"),
]


@pytest.mark.parametrize(("rule", "origin", "line", "column"), SAVED_ERROR_CASES)
def test_saved_error_origin(rule, origin, line, column):
    assert check_error(rule, BAD_SAVED).problems[0].origin == origin


@pytest.mark.parametrize(("rule", "origin", "line", "column"), SAVED_ERROR_CASES)
def test_saved_error_place(rule, origin, line, column):
    problem = check_error(rule, BAD_SAVED).problems[0]
    assert (problem.line, problem.column) == (line, column)


@pytest.mark.parametrize(("rule", "origin", "line", "column"), SAVED_ERROR_CASES)
def test_saved_error_rendered_prefix(rule, origin, line, column):
    assert check_error(rule, BAD_SAVED).render("en").startswith(f"{origin}: line {line}, column {column}:")


def test_saved_error_suggests_field():
    assert "vivier" in check_error("@bad", BAD_SAVED).problems[0].suggestions


def test_saved_and_own_errors_together():
    """Check that a problem in the saved rule and one in the rule itself are both reported."""
    origins = [problem.origin for problem in check_error('@bad union candidats where statuts = "x"', BAD_SAVED).problems]
    assert origins == ["@bad", None]


# ---------------------------------------------------------------- saved rules from files, in the command line

DEV_DISPO_FILE = '# Dev candidates who are available\n@dev\n  intersect @disponibles  # both\n'


@pytest.fixture()
def toml_top_level(tmp_path) -> Path:
    path = tmp_path / "rules.toml"
    lines = [f"{name} = {json.dumps(text)}" for name, text in SAVED.items() if name != "dev_dispo"]
    path.write_text("\n".join(lines) + f'\ndev_dispo = """\n{DEV_DISPO_FILE}"""\n', encoding="utf-8")
    return path


@pytest.fixture()
def toml_rules_table(tmp_path) -> Path:
    path = tmp_path / "rules.toml"
    lines = [f"{name} = {json.dumps(text)}" for name, text in SAVED.items()]
    path.write_text("[rules]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def rule_folder(tmp_path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name, text in SAVED.items():
        (folder / f"{name}.rule").write_text(DEV_DISPO_FILE if name == "dev_dispo" else text + "\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not a rule", encoding="utf-8")
    return folder


RULE_SOURCES = ["toml_top_level", "toml_rules_table", "rule_folder"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("source", RULE_SOURCES)
def test_cli_rules_sql_rows(request, capsys, db, bases, source):
    """Run the SQL that `sql --rules` prints on the hand connection, whose views have the table names."""
    path = request.getfixturevalue(source)
    _, out, _ = run(capsys, "--lang", "en", "sql", "@dev_dispo except @linkedin", "--rules", str(path))
    sql, params = out.split("\n\nparameters:\n")
    rows = db.execute(f"SELECT id FROM ({sql.strip().rstrip(';')})", json.loads(params)).fetchall()
    assert {row[0] for row in rows} == (bases["dev"] & bases["dispo"]) - bases["linkedin"]


@pytest.mark.parametrize("source", RULE_SOURCES)
def test_cli_rules_select_count(request, capsys, real_exports, bases, source):
    path = request.getfixturevalue(source)
    _, out, _ = run(capsys, "--lang", "en", "select", "@dev_dispo", "--rules", str(path), "--data", str(real_exports), "--limit", "0")
    assert re.search(rf"^matching rows: {len(bases['dev'] & bases['dispo'])} ", out, re.MULTILINE)


def test_cli_unknown_saved_exit_2(capsys, rule_folder):
    code, _, _ = run(capsys, "--lang", "en", "check", "@dev_dispos", "--rules", str(rule_folder))
    assert code == 2


def test_cli_unknown_saved_suggests(capsys, rule_folder):
    _, _, err = run(capsys, "--lang", "en", "check", "@dev_dispos", "--rules", str(rule_folder))
    assert "'@dev_dispo'" in err


def test_cli_without_rules_unknown(capsys):
    code, _, _ = run(capsys, "--lang", "en", "check", "@dev")
    assert code == 2


def test_cli_cycle_in_folder(capsys, tmp_path):
    (tmp_path / "a.rule").write_text("@b\n", encoding="utf-8")
    (tmp_path / "b.rule").write_text("@a\n", encoding="utf-8")
    _, _, err = run(capsys, "--lang", "en", "check", "@a", "--rules", str(tmp_path))
    assert "@a → @b → @a" in err


def test_cli_missing_rules_file(capsys, tmp_path):
    code, _, _ = run(capsys, "--lang", "en", "check", "@dev", "--rules", str(tmp_path / "absent.toml"))
    assert code == 2


def test_cli_bad_toml_exit_2(capsys, tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('dev = "candidats\n', encoding="utf-8")
    code, _, _ = run(capsys, "--lang", "en", "check", "@dev", "--rules", str(path))
    assert code == 2


# ---------------------------------------------------------------- exact comparison

# No candidate stores 'LEFEVRE' (63 fold to 'lefevre': 59 'Lefèvre', 4 'LEFÈVRE'), so `==` finds none;
# 'RIVIERE' and 'François' exist next to other spellings that only `=` matches.
EXACT_CASES = [
    pytest.param('candidats where nom == "LEFEVRE"', "SELECT id FROM candidats WHERE nom = 'LEFEVRE'", id="exact lefevre upper"),
    pytest.param('candidats where nom = "lefèvre"', "SELECT id FROM candidats WHERE fold(nom) = 'lefevre'", id="folded lefevre"),
    pytest.param('candidats where nom == "Lefèvre"', "SELECT id FROM candidats WHERE nom = 'Lefèvre'", id="exact lefevre stored"),
    pytest.param('candidats where nom == "RIVIERE"', "SELECT id FROM candidats WHERE nom = 'RIVIERE'", id="exact riviere upper"),
    pytest.param('candidats where nom = "RIVIERE"', "SELECT id FROM candidats WHERE fold(nom) = 'riviere'", id="folded riviere upper"),
    # 'François' in NFC: the NFD spelling is a different text for `==`.
    pytest.param('candidats where nom == "Fran\u00e7ois"', "SELECT id FROM candidats WHERE nom = 'Fran\u00e7ois'", id="exact nfc only"),
    pytest.param('candidats where nom == "Franc\u0327ois"', "SELECT id FROM candidats WHERE nom = 'Franc\u0327ois'", id="exact nfd only"),
    pytest.param('candidats where vivier == "Dev"', "SELECT id FROM candidats WHERE list_contains(viviers, 'Dev')", id="exact list item"),
    pytest.param('candidats where vivier == "dev"', "SELECT id FROM candidats WHERE list_contains(viviers, 'dev')", id="exact list lower"),
    pytest.param('offres where id == 10', "SELECT 10", id="exact on integer"),
    pytest.param('candidats where nom != "lefèvre" and nom == "Lefèvre"', "SELECT id FROM candidats WHERE false", id="folded excludes exact"),
]


@pytest.mark.parametrize(("rule", "sql"), EXACT_CASES)
def test_exact_rows(export, db, rule, sql):
    assert set(selected(export, rule)) == hand_ids(db, sql)


EXACT_SUBSETS = [
    pytest.param('candidats where nom == "Lefèvre"', 'candidats where nom = "lefèvre"', id="lefevre exact subset"),
    pytest.param('candidats where nom == "RIVIERE"', 'candidats where nom = "rivière"', id="riviere exact subset"),
    pytest.param('candidats where nom == "Fran\u00e7ois"', 'candidats where nom = "francois"', id="francois exact subset"),
    pytest.param('candidats where vivier == "Dev"', 'candidats where vivier = "dev"', id="vivier exact subset"),
]


@pytest.mark.parametrize(("exact", "folded"), EXACT_SUBSETS)
def test_exact_strict_subset(export, exact, folded):
    """Check that `==` keeps fewer rows than `=`: the data has other spellings of each value."""
    exact_ids = set(selected(export, exact))
    assert exact_ids
    assert exact_ids < set(selected(export, folded))
