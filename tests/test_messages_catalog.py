"""The French message catalog covers every message of the code, and the language is detected in the documented order.

The messages of the code are found twice: by Babel's extractor (what
`pybabel extract -k _ -k text -k N_` puts in the template) and by reading the
syntax tree, which also finds calls inside f-strings and the CLI's `say()`
helper. Babel also returns text that is no message (see the xfail tests), so
the reference set is the messages the syntax tree confirms.
"""

from __future__ import annotations

import argparse
import ast
import re
import string
from functools import lru_cache
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ernest_rules import compile_rule, describe
from ernest_rules.cli import main
from ernest_rules.i18n import LANG_ENV_VAR, Message, detect_language, normalize_language, set_language

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ernest_rules"
PO_FILE = PACKAGE / "locale" / "fr" / "LC_MESSAGES" / "ernest_rules.po"

# `text(msgid, lang, **args)` takes the message id as its first argument, like `_` and `N_`.
BABEL_KEYWORDS = {"_": None, "text": (1,), "N_": None}
# `say(msgid)` in `cli.build_parser` forwards to `text(msgid, lang)`.
CALL_NAMES = {"_", "text", "N_", "say"}

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")
PERCENT_MARKER = re.compile(r"%(?:\([A-Za-z_]+\))?[sdr%]")
# A French `:`, `;`, `?` or `!` used as punctuation (followed by a space or the end) needs a space before it.
GLUED_PUNCTUATION = re.compile(r"\S[:;?!](?=\s|$)")


@lru_cache(maxsize=1)
def babel_messages() -> frozenset[str]:
    """Return the message ids Babel's Python extractor finds in the package."""
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(str(PACKAGE), keywords=BABEL_KEYWORDS, comment_tags=()):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.add(msgid)
    return frozenset(found)


@lru_cache(maxsize=1)
def source_messages() -> frozenset[str]:
    """Return the string literals passed first to `_`, `text`, `N_` or `say` anywhere in the package."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CALL_NAMES
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
    return frozenset(found)


@lru_cache(maxsize=1)
def po_catalog():
    with PO_FILE.open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def po_entries() -> dict[str, str]:
    return {message.id: message.string for message in po_catalog() if message.id}


def brace_fields(text: str) -> list[str]:
    return sorted(name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None)


def percent_markers(text: str) -> list[str]:
    return sorted(PERCENT_MARKER.findall(text))


# ---------------------------------------------------------------- completeness


def untranslated(msgids) -> list[str]:
    entries = po_entries()
    return sorted(msgid for msgid in msgids if not entries.get(msgid, "").strip())


def test_extracted_messages_translated():
    """Every message `pybabel extract` finds (and the syntax tree confirms) has a French translation."""
    missing = untranslated(babel_messages() & source_messages())
    assert not missing, f"{len(missing)} messages without a French translation:\n" + "\n".join(map(repr, missing))


def test_hidden_messages_translated():
    """Messages Babel cannot see are still looked up in the catalog at run time."""
    missing = untranslated(source_messages() - babel_messages())
    assert not missing, f"{len(missing)} messages without a French translation:\n" + "\n".join(map(repr, missing))


def test_extractors_share_most_messages():
    """Guard the reference set: a broken syntax-tree walk would make every check above pass."""
    assert len(babel_messages() & source_messages()) >= 100


@pytest.mark.xfail(strict=True, reason="`pybabel extract -k _ -k text -k N_` misses `_('and')`/`_('or')` inside f-strings "
                   "(words.py), the CLI help texts passed to `say()`, and messages that follow a local variable named `text`")
def test_babel_finds_every_message():
    hidden = sorted(source_messages() - babel_messages())
    assert not hidden, "\n".join(map(repr, hidden))


@pytest.mark.xfail(strict=True, reason="Babel reads `text[...]` (a local str named like the `text()` keyword) as a call "
                   "and extracts docstrings and literals that are no message")
def test_babel_extracts_no_stray_text():
    stray = sorted(babel_messages() - source_messages())
    assert not stray, "\n".join(map(repr, stray))


# ---------------------------------------------------------------- placeholders and typography


def test_translations_keep_brace_fields():
    broken = [f"{msgid!r}: {brace_fields(msgid)} → {brace_fields(french)}"
              for msgid, french in po_entries().items() if brace_fields(msgid) != brace_fields(french)]
    assert not broken, "\n".join(broken)


def test_translations_keep_percent_markers():
    broken = [f"{msgid!r}: {percent_markers(msgid)} → {percent_markers(french)}"
              for msgid, french in po_entries().items() if percent_markers(msgid) != percent_markers(french)]
    assert not broken, "\n".join(broken)


def test_translations_keep_end_spaces():
    """`usage: ` and `%(prog)s: error: %(message)s\\n` are glued to what argparse prints next."""
    broken = [msgid for msgid, french in po_entries().items()
              if (msgid.endswith(" "), msgid.endswith("\n")) != (french.endswith(" "), french.endswith("\n"))]
    assert not broken


def test_french_punctuation_has_space():
    glued = [french for french in po_entries().values() if GLUED_PUNCTUATION.search(french)]
    assert not glued, "\n".join(glued)


def test_translations_use_no_quotes():
    """The code quotes values itself (« » in French), so a translation adds no quote of its own."""
    quoted = [french for french in po_entries().values() if re.search("[«»\"“”]", french)]
    assert not quoted, "\n".join(quoted)


# ---------------------------------------------------------------- catalog hygiene


def test_catalog_has_no_obsolete_entry():
    obsolete = sorted(set(po_entries()) - source_messages())
    assert not obsolete, "\n".join(map(repr, obsolete))


def test_catalog_has_no_commented_out_entry():
    assert not po_catalog().obsolete


def test_catalog_has_no_fuzzy_entry():
    fuzzy = [message.id for message in po_catalog() if message.id and message.fuzzy]
    assert not fuzzy


def test_catalog_header_is_french():
    assert po_catalog().locale.language == "fr"


def test_catalog_header_is_utf8():
    assert po_catalog().charset.lower() == "utf-8"


def test_catalog_lists_each_msgid_once():
    msgids = re.findall(r'^msgid "(.*)"$', PO_FILE.read_text(encoding="utf-8"), flags=re.M)
    assert len(msgids) == len(set(msgids))


# ---------------------------------------------------------------- rendering


@pytest.mark.parametrize("msgid, args, expected", [
    ("did you mean {choices}?", {"choices": "« statut »"}, "vouliez-vous dire « statut » ?"),
    ("the rule ends too early; expected {expected}", {"expected": "« ) »"}, "la règle s'arrête trop tôt ; attendu : « ) »"),
    ("line {line}, column {column}", {"line": 3, "column": 5}, "ligne 3, colonne 5"),
    ("missing address", {}, "adresse manquante"),
])
def test_message_renders_in_french(msgid, args, expected):
    assert Message(msgid, args).render("fr") == expected


@pytest.mark.parametrize("rule, expected", [
    ('candidats where vivier = "Dev" and statut in ("Disponible", "En veille")',
     "candidats dont viviers comprennent « Dev » et statut est parmi « Disponible », « En veille »"),
    ('referents_operationnels of offres where statut = "Ouverte"',
     "référents opérationnels des offres dont statut est « Ouverte »"),
    ("contacts where poste_actif and not desabonne",
     "contacts dont poste actif est vrai et non (désabonné est vrai)"),
    ('sociétés where ville = "Paris" or date_creation <= 2024-12-31',
     "sociétés dont ville est « Paris » ou date de création est au plus tard 31/12/2024"),
    ("referents_rh of offres", "l'ensemble des référents RH des offres"),
    ("candidats where no candidatures", "candidats dont les candidatures ne comptent aucun élément"),
    ("candidats where disponibilite >= today - 3 months",
     "candidats dont date de disponibilité est au plus tôt aujourd'hui - 3 mois"),
])
def test_rule_reads_in_french(rule, expected):
    assert describe(compile_rule(rule).checked, "fr") == expected


def test_message_renders_in_english():
    assert Message("line {line}, column {column}", {"line": 3, "column": 5}).render("en") == "line 3, column 5"


@pytest.fixture
def french_help(monkeypatch, capsys):
    """Return `ernest-rules --lang fr --help`, undoing the CLI's changes to argparse and to the language."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(argparse, "_", argparse._)
    monkeypatch.setattr(argparse, "ngettext", argparse.ngettext)
    try:
        assert main(["--lang", "fr", "--help"]) == 0
    finally:
        set_language(None)
    return capsys.readouterr().out


def test_french_help_usage(french_help):
    assert french_help.startswith("utilisation : ernest-rules")


def test_french_help_description(french_help):
    assert "Construire des listes de diffusion Ernest à partir de règles appliquées à un export." in french_help


def test_french_help_argparse_option(french_help):
    assert "afficher ce message d'aide et quitter" in french_help


def test_french_help_version_option(french_help):
    assert "afficher le numéro de version du programme et quitter" in french_help


# ---------------------------------------------------------------- language detection


@pytest.fixture
def clean_environment(monkeypatch):
    for name in (LANG_ENV_VAR, *LOCALE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    set_language(None)
    yield monkeypatch
    set_language(None)


@pytest.mark.parametrize("explicit, environment, expected", [
    (None, {}, "en"),
    ("fr", {LANG_ENV_VAR: "en", "LANG": "en_US.UTF-8"}, "fr"),
    ("en", {LANG_ENV_VAR: "fr", "LC_ALL": "fr_FR.UTF-8"}, "en"),
    (None, {LANG_ENV_VAR: "fr", "LC_ALL": "en_US.UTF-8"}, "fr"),
    (None, {LANG_ENV_VAR: "en", "LANG": "fr_FR.UTF-8"}, "en"),
    (None, {"LC_ALL": "fr_FR.UTF-8"}, "fr"),
    (None, {"LC_MESSAGES": "fr_CA.UTF-8"}, "fr"),
    (None, {"LANG": "fr_FR.UTF-8"}, "fr"),
    (None, {"LANG": "de_DE"}, "en"),
    (None, {"LANG": "de_DE.UTF-8", LANG_ENV_VAR: ""}, "en"),
    (None, {"LC_ALL": "en_GB.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
    (None, {"LC_ALL": "fr_FR.UTF-8", "LANG": "en_GB.UTF-8"}, "fr"),
    (None, {"LC_MESSAGES": "fr_FR", "LANG": "en_US"}, "fr"),
    ("fr_FR.UTF-8", {}, "fr"),
    ("FR", {}, "fr"),
    ("en-GB", {"LANG": "fr_FR.UTF-8"}, "en"),
])
def test_language_detection_order(clean_environment, explicit, environment, expected):
    for name, value in environment.items():
        clean_environment.setenv(name, value)
    assert detect_language(explicit) == expected


def test_set_language_beats_environment(clean_environment):
    clean_environment.setenv(LANG_ENV_VAR, "en")
    set_language("fr")
    assert detect_language() == "fr"


def test_explicit_beats_set_language(clean_environment):
    set_language("fr")
    assert detect_language("en") == "en"


@pytest.mark.parametrize("value", ["de", "de_DE", "es_ES.UTF-8", "x", ""])
def test_unsupported_language_raises(value):
    with pytest.raises(ValueError):
        normalize_language(value)


def test_unsupported_explicit_raises(clean_environment):
    with pytest.raises(ValueError):
        detect_language("de_DE")


def test_unsupported_variable_raises(clean_environment):
    clean_environment.setenv(LANG_ENV_VAR, "it")
    with pytest.raises(ValueError):
        detect_language()
