"""Damaged list files: the message names the file, the line and the key, in the user's language.

Each case is written to tmp_path and read with `load_definition`, whose messages
are checked in English and French for raw pydantic text. The same file given to
the command makes `preview` and `export` exit with code 2, with no traceback,
and leaves an earlier output file untouched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ernest_rules import ListDefinitionError, load_definition, resolve
from ernest_rules.cli import main

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny" / "parquet"

# Phrases of pydantic's own messages, which must never reach a user.
PYDANTIC_WORDS = ["pydantic", "validation error", "Input should be", "Field required", "errors.pydantic.dev", "type=",
                  "input_value", "Extra inputs"]

VALID_SECTION = '[[sections]]\nkind = "candidats"\nrule = "candidats where statut = \'Disponible\'"\n'


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("ERNEST_RULES_DATA", "ERNEST_RULES_LANG", "ERNEST_RULES_SUPPRESSION", "CI"):
        monkeypatch.delenv(name, raising=False)


# (file name, content, line of the first problem or None, English words, French words)
BROKEN_LISTS = [
    pytest.param("unknown.toml", 'title = "T"\ncolour = "red"\n' + VALID_SECTION, 2, ["unknown key 'colour'"],
                 ["clé « colour » inconnue"], id="unknown top key"),
    pytest.param("unknown_section.toml", 'title = "T"\n' + VALID_SECTION + "frequency = 3\n", 5,
                 ["unknown key 'sections[1].frequency'"], ["clé « sections[1].frequency » inconnue"], id="unknown section key"),
    pytest.param("title_number.toml", "title = 12\n" + VALID_SECTION, 1, ["'title' has the wrong type: expected a text, found '12'"],
                 ["« title » n'a pas le bon type : attendu un texte, trouvé « 12 »"], id="title is number"),
    pytest.param("manual_text.toml", 'title = "T"\n[[sections]]\nkind = "candidats"\nmanual = "1, 2"\n', 4,
                 ["'sections[1].manual' has the wrong type: expected a list"], ["attendu une liste"], id="manual is text"),
    pytest.param("manual_boolean.toml", 'title = "T"\n[[sections]]\nkind = "candidats"\nmanual = [true]\n', 4,
                 ["manual ids must be integers or texts"], ["les identifiants manuels doivent être des nombres entiers ou des textes"],
                 id="manual is boolean"),
    pytest.param("sections_text.toml", 'title = "T"\nsections = "x"\n', 2, ["'sections' has the wrong type: expected a list"],
                 ["« sections » n'a pas le bon type"], id="sections is text"),
    pytest.param("kind_number.toml", 'title = "T"\n[[sections]]\nkind = 5\nmanual = [1]\n', 3,
                 ["'sections[1].kind' has the wrong type: expected a text"], ["« sections[1].kind » n'a pas le bon type"],
                 id="kind is number"),
    pytest.param("kind_unknown.toml", 'title = "T"\n[[sections]]\nkind = "candidatz"\nmanual = [1]\n', 3,
                 ["unknown recipient kind"], ["type de destinataire inconnu"], id="kind unknown"),
    pytest.param("empty.toml", 'title = "T"\nsections = []\n', 2, ["'sections' must not be empty"],
                 ["« sections » ne doit pas être vide"], id="empty sections"),
    pytest.param("no_title.toml", VALID_SECTION, None, ["missing key 'title'"], ["clé « title » manquante"], id="missing title"),
    pytest.param("blank_title.toml", 'title = "  "\n' + VALID_SECTION, 1, ["the title is blank"], ["le titre est vide"],
                 id="blank title"),
    pytest.param("empty_section.toml", 'title = "T"\n[[sections]]\nkind = "candidats"\n', 2,
                 ["the section has neither manual ids nor a rule"], ["la section n'a ni identifiants manuels ni règle"],
                 id="section without recipients"),
    pytest.param("syntax.toml", 'title = "T"\n\n[[sections]]\nkind = "candidats\nmanual = [1]\n', 4, ["invalid TOML"],
                 ["TOML invalide"], id="invalid toml"),
    pytest.param("duplicate_key.toml", 'title = "T"\ntitle = "U"\n' + VALID_SECTION, 2, ["invalid TOML"], ["TOML invalide"],
                 id="repeated toml key"),
    pytest.param("syntax.json", '{"title": "T",\n "sections": [{"kind": "candidats", "manual": [1],}]\n}\n', 2,
                 ["invalid JSON"], ["JSON invalide"], id="invalid json"),
    pytest.param("list.json", "[1, 2]\n", None, ["a list definition must be a table of keys"],
                 ["une définition de liste doit être une table de clés"], id="json top list"),
    pytest.param("unknown.json", '{"title": "T",\n "couleur": "rouge",\n "sections": [{"kind": "candidats", "manual": [1]}]}\n', 2,
                 ["unknown key 'couleur'"], ["clé « couleur » inconnue"], id="json unknown key"),
]


@pytest.mark.parametrize("name,content,line,english,french", BROKEN_LISTS)
def test_broken_list_message(tmp_path, name, content, line, english, french):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ListDefinitionError) as caught:
        load_definition(path)

    error = caught.value
    assert error.problems[0].line == line
    for lang, words in (("en", english), ("fr", french)):
        message = error.render(lang)
        assert str(path) in message
        for word in words:
            assert word in message
        for word in PYDANTIC_WORDS:
            assert word not in message


@pytest.mark.parametrize("name,content,line,english,french", BROKEN_LISTS)
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_broken_list_cli_exit(tmp_path, capsys, lang, name, content, line, english, french):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    code = main(["--lang", lang, "preview", str(path), "--data", str(TINY)])
    err = capsys.readouterr().err

    assert code == 2
    assert "Traceback" not in err
    for word in (french if lang == "fr" else english):
        assert word in err
    if line is not None:
        assert (f"ligne {line}" if lang == "fr" else f"line {line}") in err


# ---------------------------------------------------------------- messages that still leak library text

LEAKING_LISTS = [
    pytest.param("dedup.toml", 'title = "T"\ndedup = "weird"\n' + VALID_SECTION, "dedup", id="dedup not a choice"),
    pytest.param("share.toml", 'title = "T"\nmax_share = 2\n' + VALID_SECTION, "max_share", id="max share above one"),
    pytest.param("inactive.toml", 'title = "T"\ninclude_inactive_users = "peut-être"\n' + VALID_SECTION, "include_inactive_users",
                 id="boolean given text"),
]


@pytest.mark.parametrize("name,content,key", LEAKING_LISTS)
def test_invalid_value_message_french(tmp_path, name, content, key):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ListDefinitionError) as caught:
        load_definition(path)

    message = caught.value.render("fr")
    assert f"« {key} »" in message
    assert "Input should be" not in message
    assert "« bool »" not in message


@pytest.mark.parametrize("name,content,key", LEAKING_LISTS)
def test_invalid_value_names_key(tmp_path, name, content, key):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ListDefinitionError) as caught:
        load_definition(path)

    assert caught.value.problems[0].line == 2
    assert f"'{key}'" in caught.value.render("en")


# ---------------------------------------------------------------- files that cannot be read as text

def test_list_file_directory_names_file(tmp_path):
    path = tmp_path / "liste.toml"
    path.mkdir()

    with pytest.raises(ListDefinitionError) as caught:
        load_definition(path)

    assert str(path) in caught.value.render("en")


def test_list_file_latin1_names_file(tmp_path):
    path = tmp_path / "liste.toml"
    path.write_bytes('title = "Été"\n'.encode("latin-1") + VALID_SECTION.encode())

    with pytest.raises(ListDefinitionError) as caught:
        load_definition(path)

    assert str(path) in caught.value.render("en")


def test_list_file_directory_french(tmp_path):
    path = tmp_path / "liste.toml"
    path.mkdir()

    with pytest.raises(ListDefinitionError) as caught:
        load_definition(path)

    assert "Is a directory" not in caught.value.render("fr")


def test_list_file_latin1_french_line(tmp_path):
    path = tmp_path / "liste.toml"
    path.write_bytes('title = "Été"\n'.encode("latin-1") + VALID_SECTION.encode())

    with pytest.raises(ListDefinitionError) as caught:
        load_definition(path)

    assert "codec can't decode" not in caught.value.render("fr")
    assert caught.value.problems[0].line == 1


def test_missing_list_file_french(tmp_path, capsys):
    path = tmp_path / "absente.toml"

    code = main(["--lang", "fr", "preview", str(path), "--data", str(TINY)])
    err = capsys.readouterr().err

    assert code == 2
    assert f"le fichier de liste « {path} » n'existe pas" in err


# ---------------------------------------------------------------- accepted oddities

def test_bom_toml_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + f'title = "Avec BOM"\n{VALID_SECTION}'.encode())

    assert load_definition(path).title == "Avec BOM"


def test_bom_json_accepted(tmp_path):
    path = tmp_path / "bom.json"
    definition = {"title": "Avec BOM", "sections": [{"kind": "candidats", "manual": [1]}]}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(definition).encode())

    assert load_definition(path).title == "Avec BOM"


# Candidates of the tiny export with statut 'Disponible' (1, 12) or 'Disponible ' (9): all three have RGPD consent,
# a valid address and no opt-out, so each is a recipient.
DISPONIBLES = [1, 9, 12]


def test_duplicate_sections_no_duplicates(tmp_path):
    path = tmp_path / "twice.toml"
    path.write_text('title = "Deux fois"\n' + VALID_SECTION + "\n" + VALID_SECTION, encoding="utf-8")

    resolution = resolve(path, TINY)

    assert resolution.recipients().column("id").to_pylist() == DISPONIBLES


def test_duplicate_sections_merge_count(tmp_path):
    path = tmp_path / "twice.toml"
    path.write_text('title = "Deux fois"\n' + VALID_SECTION + "\n" + VALID_SECTION, encoding="utf-8")

    resolution = resolve(path, TINY)

    assert resolution.report.duplicates_merged == 3
    assert resolution.recipients().column("section").to_pylist() == [1, 1, 1]


def test_duplicate_sections_cli_export(tmp_path, capsys):
    path = tmp_path / "twice.toml"
    path.write_text('title = "Deux fois"\n' + VALID_SECTION + "\n" + VALID_SECTION, encoding="utf-8")
    output = tmp_path / "out.csv"

    code = main(["--lang", "en", "export", str(path), "--data", str(TINY), "-o", str(output)])

    assert code == 0
    lines = output.read_text(encoding="utf-8-sig").splitlines()
    assert [int(line.split(";")[3]) for line in lines[1:]] == DISPONIBLES


# ---------------------------------------------------------------- an earlier export survives

SAVED = "recipient_key;kind\nancien@exemple.example;candidats\n"

FAILING_LISTS = [
    pytest.param("bad.toml", 'title = "T"\ncolour = "red"\n' + VALID_SECTION, id="invalid list file"),
    pytest.param("syntax.toml", 'title = "T\n', id="invalid toml syntax"),
    pytest.param("rule.toml", 'title = "T"\n[[sections]]\nkind = "candidats"\nrule = "candidats where vivie = \'Dev\'"\n',
                 id="invalid rule inside"),
    pytest.param("guard.toml", 'title = "T"\n[[sections]]\nkind = "candidats"\nrule = "candidats"\n', id="guard without where"),
]


@pytest.mark.parametrize("name,content", FAILING_LISTS)
def test_failed_export_keeps_file(tmp_path, capsys, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    output = tmp_path / "destinataires.csv"
    output.write_text(SAVED, encoding="utf-8")
    os.utime(output, (1_000_000_000, 1_000_000_000))

    code = main(["--lang", "fr", "export", str(path), "--data", str(TINY), "-o", str(output)])

    assert code == 2
    assert output.read_text(encoding="utf-8") == SAVED
    assert output.stat().st_mtime == 1_000_000_000
    assert sorted(item.name for item in tmp_path.iterdir()) == sorted([name, "destinataires.csv"])
