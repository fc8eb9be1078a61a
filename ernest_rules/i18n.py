"""User-facing text in French and English.

Messages are written in English in the code, wrapped in `_()` so that Babel's
extractor finds them, and translated in `locale/fr/LC_MESSAGES/ernest_rules.po`.
A message is rendered late, in the language chosen at display time, so one
error object can be shown in either language.
"""

from __future__ import annotations

import contextvars
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "fr")
LANG_ENV_VAR = "ERNEST_RULES_LANG"

_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("ernest_rules_language", default=None)


def detect_language(explicit: str | None = None) -> str:
    """Pick the language: explicit choice, then $ERNEST_RULES_LANG, then the locale."""
    if explicit:
        return normalize_language(explicit)
    chosen = _language.get()
    if chosen:
        return chosen
    if os.environ.get(LANG_ENV_VAR):
        return normalize_language(os.environ[LANG_ENV_VAR])
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(name, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def normalize_language(value: str) -> str:
    """Map `fr`, `fr_FR.UTF-8`, `FR`, `en-GB`… to a supported language code."""
    code = value.strip().lower()[:2]
    if code not in LANGUAGES:
        raise ValueError(f"unsupported language {value!r}: use one of {', '.join(LANGUAGES)}")
    return code


def set_language(lang: str | None) -> contextvars.Token:
    """Fix the language for the current context (the CLI's --lang); None restores detection."""
    return _language.set(normalize_language(lang) if lang else None)


@lru_cache(maxsize=None)
def translations(lang: str) -> dict[str, str]:
    """Return the msgid → translated text table of one language (empty for English)."""
    if lang == "en":
        return {}
    from babel.messages.pofile import read_po

    po_file = resources.files("ernest_rules.locale").joinpath(lang, "LC_MESSAGES", "ernest_rules.po")
    with po_file.open("rb") as handle:
        catalog = read_po(handle)
    return {message.id: message.string for message in catalog if message.id and message.string}


def translate(msgid: str, lang: str | None = None) -> str:
    """Translate one English message id; an id without translation comes back unchanged."""
    return translations(detect_language(lang)).get(msgid, msgid)


@dataclass(frozen=True)
class Message:
    """A message id and its named arguments, rendered in a language on demand."""

    msgid: str
    args: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        language = detect_language(lang)
        values = {key: _render_argument(value, language) for key, value in self.args.items()}
        return translate(self.msgid, language).format(**values)

    def __str__(self) -> str:
        return self.render()


def _render_argument(value: Any, lang: str) -> Any:
    if hasattr(value, "render"):
        return value.render(lang)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_render_argument(item, lang)) for item in value)
    return value


@dataclass(frozen=True)
class Quoted:
    """A value quoted the way the language does: « valeur » in French, 'value' in English."""

    value: Any

    def render(self, lang: str | None = None) -> str:
        return f"« {self.value} »" if detect_language(lang) == "fr" else f"'{self.value}'"


@dataclass(frozen=True)
class Localized:
    """A word or phrase with an English and a French form, quoted when rendered."""

    english: str
    french: str

    def render(self, lang: str | None = None) -> str:
        language = detect_language(lang)
        return Quoted(self.french if language == "fr" else self.english).render(language)


@dataclass(frozen=True)
class Number:
    """A number written the way the language does: 46,8 in French, 46.8 in English."""

    value: float

    def render(self, lang: str | None = None) -> str:
        from babel.numbers import format_decimal

        return format_decimal(self.value, locale="fr_FR" if detect_language(lang) == "fr" else "en_US")


def _(msgid: str, **args: Any) -> Message:
    """Mark an English message for translation; the text renders later."""
    return Message(msgid, args)


def text(msgid: str, lang: str | None = None, **args: Any) -> str:
    """Render a message at once (CLI labels, headings)."""
    return Message(msgid, args).render(lang)
