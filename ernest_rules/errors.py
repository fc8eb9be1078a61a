"""The one error hierarchy of ernest_rules.

Every error a user can cause derives from `ErnestRulesError`, carries one or
more `Problem`s, and renders in French or English. The caret under the faulty
spot is drawn here and nowhere else. The CLI turns these errors into exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from .i18n import Message, _, detect_language


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, with its place when it has one (1-based)."""

    message: Message
    line: int | None = None
    column: int | None = None
    width: int = 1
    source: str | None = None
    suggestions: tuple[str, ...] = ()
    origin: str | None = None

    def render(self, lang: str | None = None) -> str:
        language = detect_language(lang)
        text = self.message.render(language)
        if self.suggestions:
            hint = _("did you mean {choices}?", choices=" / ".join(f"« {s} »" if language == "fr" else f"'{s}'" for s in self.suggestions))
            text = f"{text} ({hint.render(language)})"
        where = ""
        if self.line is not None:
            where = _("line {line}, column {column}", line=self.line, column=self.column).render(language)
            where = f"{self.origin}: {where}" if self.origin else where
        elif self.origin:
            where = self.origin
        # French typography puts a space before the colon.
        separator = " : " if language == "fr" else ": "
        head = f"{where}{separator}{text}" if where else text
        snippet = self._snippet()
        return f"{head}\n{snippet}" if snippet else head

    def _snippet(self) -> str:
        if self.source is None or self.line is None or self.column is None:
            return ""
        lines = self.source.splitlines() or [""]
        if self.line > len(lines):
            return ""
        text = lines[self.line - 1]
        # Tabs keep their width so the caret stays under the right character.
        padding = "".join("\t" if char == "\t" else " " for char in text[: self.column - 1])
        shown_width = max(1, min(self.width, max(1, len(text) - self.column + 1)))
        return f"    {text}\n    {padding}{'^' * shown_width}"


class ErnestRulesError(Exception):
    """Root of the errors a user can fix: bad rule, list file, catalog or export."""

    def __init__(self, problems: list[Problem] | Problem | Message):
        if isinstance(problems, Message):
            problems = Problem(problems)
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.render("en"))

    def render(self, lang: str | None = None) -> str:
        return "\n".join(problem.render(lang) for problem in self.problems)

    def __str__(self) -> str:
        return self.render()


class RuleSyntaxError(ErnestRulesError):
    """The rule text does not follow the grammar."""


class RuleCheckError(ErnestRulesError):
    """The rule parses but does not fit the catalog (unknown name, wrong type, empty list)."""


class LimitError(ErnestRulesError):
    """The rule exceeds a resource limit (length, nesting depth, values in a list)."""


class CatalogError(ErnestRulesError):
    """The catalog file is missing or invalid."""


class DataError(ErnestRulesError):
    """The export directory, one of its files or one of its columns is missing or unreadable."""


class ListDefinitionError(ErnestRulesError):
    """A list definition (TOML or JSON) is invalid."""


class GuardError(ErnestRulesError):
    """A section would mail the whole base, or too large a share of it, without explicit confirmation."""
