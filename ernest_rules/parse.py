"""Stage 1: rule text → syntax tree (`syntax.Query`).

The grammar lives in `grammar/criteria.lark`, installed as the package
resource `ernest_rules.grammar`. Syntax errors are collected (the parser skips
the offending token and goes on) and reported together in plain words.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import syntax as s
from .catalog import suggest
from .errors import LimitError, Problem, RuleSyntaxError
from .i18n import Message, Quoted, _


@dataclass(frozen=True)
class Limits:
    """Resource limits on one rule; exceeding one is a `LimitError`, never a crash."""

    max_length: int = 100_000
    max_depth: int = 64
    max_values: int = 10_000
    max_errors: int = 10


DEFAULT_LIMITS = Limits()


@lru_cache(maxsize=1)
def grammar_text() -> str:
    return resources.files("ernest_rules.grammar").joinpath("criteria.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)


# Words shown for a token kind in "expected …" messages: (English, French).
TOKEN_WORDS: dict[str, tuple[str, str]] = {
    "WHERE": ("where", "où"),
    "OF": ("of", "de"),
    "AND": ("and", "et"),
    "OR": ("or", "ou"),
    "NOT": ("not", "non"),
    "IN": ("in", "dans"),
    "NOT_IN": ("not in", "pas dans"),
    "IS_EMPTY": ("is empty", "est vide"),
    "IS_NOT_EMPTY": ("is not empty", "n'est pas vide"),
    "CONTAINS": ("contains", "contient"),
    "STARTS_WITH": ("starts with", "commence par"),
    "TRUE": ("true", "vrai"),
    "FALSE": ("false", "faux"),
    "BETWEEN": ("between", "entre"),
    "CONTAINS_ANY": ("contains any", "contient l'un de"),
    "CONTAINS_ALL": ("contains all", "contient tous"),
    "TODAY": ("today", "aujourd'hui"),
    "ANY": ("any", "au moins un"),
    "NO": ("no", "aucun"),
    "AT_LEAST": ("at least", "au moins"),
    "AT_MOST": ("at most", "au plus"),
    "EXACTLY": ("exactly", "exactement"),
    "UNION": ("union", "union"),
    "EXCEPT": ("except", "sauf"),
    "INTERSECT": ("intersect", "inter"),
    "EXACT": ("==", "=="),
    "SIGN": ("+, -", "+, -"),
    "COMPARATOR": ("=, !=, <, <=, >, >=", "=, !=, <, <=, >, >="),
    "LPAR": ("(", "("),
    "RPAR": (")", ")"),
    "COMMA": (",", ","),
    "DOT": (".", "."),
}

TOKEN_DESCRIPTIONS: dict[str, Message] = {
    "NAME": _("a name"),
    "STRING": _("a text in quotes"),
    "NUMBER": _("a number"),
    "ISO_DATE": _("a date"),
    "FRENCH_DATE": _("a date"),
    "UNIT": _("a unit (days, weeks, months, years)"),
    "REFERENCE": _("a saved rule (@name)"),
    "$END": _("the end of the rule"),
}

# Order in which expected tokens are listed, most helpful first.
_EXPECTED_ORDER = ["NAME", "REFERENCE", "WHERE", "OF", "COMPARATOR", "EXACT", "IN", "NOT_IN", "BETWEEN", "IS_EMPTY",
                   "IS_NOT_EMPTY", "CONTAINS", "CONTAINS_ANY", "CONTAINS_ALL", "STARTS_WITH", "STRING", "NUMBER",
                   "ISO_DATE", "FRENCH_DATE", "TODAY", "TRUE", "FALSE", "SIGN", "UNIT", "ANY", "NO", "AT_LEAST",
                   "AT_MOST", "EXACTLY", "AND", "OR", "NOT", "UNION", "EXCEPT", "INTERSECT", "LPAR", "RPAR", "COMMA",
                   "DOT", "$END"]


class ExpectedTokens:
    """The list of expected token kinds, rendered in the user's language."""

    def __init__(self, names: set[str]):
        known = [name for name in _EXPECTED_ORDER if name in names]
        self.names = known

    def render(self, lang: str) -> str:
        words: list[str] = []
        for name in self.names:
            if name in TOKEN_WORDS:
                english, french = TOKEN_WORDS[name]
                word = french if lang == "fr" else english
                words.append(word if name == "COMPARATOR" else Quoted(word).render(lang))
            else:
                words.append(TOKEN_DESCRIPTIONS[name].render(lang))
        words = list(dict.fromkeys(words))
        joiner = " ou " if lang == "fr" else " or "
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + joiner + words[-1]


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> s.Rule:
    """Parse a rule; raise `RuleSyntaxError` listing every syntax error found."""
    if len(text) > limits.max_length:
        raise LimitError(Problem(_("the rule is {length} characters long; the limit is {limit}", length=len(text), limit=limits.max_length)))
    _check_nesting(text, limits)
    _check_encodable(text)

    problems: list[Problem] = []

    last_error_end = -1

    def recover(error: UnexpectedInput) -> bool:
        nonlocal last_error_end
        token = getattr(error, "token", None)
        # An error right after the previous one is usually its echo: skip it.
        adjacent = token is not None and last_error_end >= 0 and not text[last_error_end:token.start_pos].strip()
        if not adjacent:
            problems.append(_syntax_problem(error, text))
        if token is not None and token.end_pos is not None:
            last_error_end = token.end_pos
        # Skipping the offending token lets the parser report later errors too.
        return len(problems) < limits.max_errors and not isinstance(error, UnexpectedEOF) and getattr(error, "token", None) is not None and error.token.type != "$END"

    try:
        tree = parser().parse(text, on_error=recover)
    except UnexpectedInput as error:
        # Lark raises the last error that `recover` gave up on, which may already be listed or echo the previous one.
        problem = _syntax_problem(error, text)
        token = getattr(error, "token", None)
        echo = bool(problems) and token is not None and last_error_end >= 0 and not text[last_error_end:token.start_pos or len(text)].strip()
        if not echo and all((known.line, known.column) != (problem.line, problem.column) for known in problems):
            problems.append(problem)
        tree = None
    if problems:
        raise RuleSyntaxError(problems)
    assert tree is not None
    _check_depth(tree, text, limits)
    try:
        return _ToSyntax(text, limits).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, (RuleSyntaxError, LimitError)):
            raise error.orig_exc from None
        raise


def _check_encodable(text: str) -> None:
    """Reject lone UTF-16 surrogates (from undecodable bytes on a command line): they cannot reach DuckDB."""
    for index, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            line = text.count("\n", 0, index) + 1
            column = index - (text.rfind("\n", 0, index) + 1) + 1
            raise RuleSyntaxError(Problem(_("invalid character at this place (not valid Unicode text): retype it"),
                                          line=line, column=column, source=text.encode("utf-8", "replace").decode("utf-8")))


def _check_nesting(text: str, limits: Limits) -> None:
    """Reject rules nested deeper than the limit before parsing, without recursion."""
    depth = 0
    quote: str | None = None
    escaped = False
    line, column = 1, 0
    previous = ""
    for index, char in enumerate(text):
        previous = text[index - 1] if index else ""
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'" and not (previous.isalnum() or previous == "_"):
            # An apostrophe inside a word (n'est, l'un, aujourd'hui) does not open a text.
            quote = char
        elif char == "(":
            depth += 1
            if depth > limits.max_depth:
                raise LimitError(Problem(_("the rule nests parentheses more than {limit} levels deep", limit=limits.max_depth), line=line, column=column, source=text))
        elif char == ")":
            depth -= 1


def _acceptable(state, candidates: set[str]) -> set[str]:
    """Keep the terminals (and the end of the rule) that the parser state really accepts.

    The lexer's `allowed` set is the union of several parser states. Feeding each
    terminal to a copy of the state, as Lark's own `accepts()` does, narrows it.
    """
    accepted = set()
    for name in candidates | {"$END"}:
        trial = state.copy()
        try:
            trial.feed_token(Token(name, ""), name == "$END")
        except (UnexpectedInput, KeyError, IndexError):
            continue
        accepted.add(name)
    return accepted or candidates


def _check_depth(tree: Tree, text: str, limits: Limits) -> None:
    """Reject trees deeper than the checker and compiler can walk (long `not not …` chains), without recursion."""
    # Each level of parentheses or `not` adds at most three tree levels.
    allowed = 3 * limits.max_depth + 16
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > allowed:
            raise LimitError(Problem(_("the rule nests conditions more than {limit} levels deep", limit=limits.max_depth),
                                     line=getattr(node.meta, "line", 1), column=getattr(node.meta, "column", 1), source=text))
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _syntax_problem(error: UnexpectedInput, text: str) -> Problem:
    line, column = error.line, error.column
    if line is None or line < 1:
        line, column = _end_position(text)
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        if char in "\"'":
            message = _("unclosed text: add the closing quote {quote}", quote=char)
        else:
            allowed = _acceptable(error.state, set(error.allowed or ())) if getattr(error, "state", None) else set(error.allowed or ())
            message = _("unexpected character {char}; expected {expected}", char=Quoted(char), expected=ExpectedTokens(allowed))
        return Problem(message, line=line, column=column, source=text)
    if isinstance(error, UnexpectedToken):
        # `accepts` is the set the parser state really takes, the end of the rule included when the rule may stop
        # here. `expected` is a wider guess.
        expected = ExpectedTokens(set(getattr(error, "accepts", None) or error.expected or ()))
        if error.token.type == "$END":
            line, column = _end_position(text)
            message = _("the rule ends too early; expected {expected}", expected=expected)
            return Problem(message, line=line, column=column, source=text)
        message = _("unexpected {found}; expected {expected}", found=_token_text(error.token), expected=expected)
        return Problem(message, line=line, column=column, width=len(str(error.token)), source=text,
                       suggestions=_keyword_suggestions(str(error.token), expected.names))
    expected = ExpectedTokens(set(getattr(error, "expected", ()) or ()))
    line, column = _end_position(text)
    return Problem(_("the rule ends too early; expected {expected}", expected=expected), line=line, column=column, source=text)


def _keyword_suggestions(word: str, expected: list[str]) -> tuple[str, ...]:
    """Suggest the expected keywords that look like a misspelt word (`wher` → `where`)."""
    spellings = [spelling for name in expected if name in TOKEN_WORDS and name != "COMPARATOR" for spelling in TOKEN_WORDS[name]]
    return suggest(word, spellings, limit=2)


def _token_text(token: Token) -> Quoted:
    return Quoted(str(token))


def _end_position(text: str) -> tuple[int, int]:
    stripped = text.rstrip()
    lines = stripped.split("\n") if stripped else [""]
    return len(lines), len(lines[-1]) + 1


def _span(meta_or_token) -> s.Span:
    if isinstance(meta_or_token, Token):
        return s.Span(meta_or_token.line, meta_or_token.column, meta_or_token.start_pos, meta_or_token.end_pos)
    return s.Span(meta_or_token.line, meta_or_token.column, meta_or_token.start_pos, meta_or_token.end_pos)


_ESCAPES = {"n": "\n", "t": "\t"}


def unquote(token: str) -> str:
    """Remove the quotes of a string literal and resolve backslash escapes.

    `\\n` and `\\t` are a line break and a tab; a backslash before any other
    character keeps that character as is (`\\"`, `\\\\`, `\\%`).
    """
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda match: _ESCAPES.get(match.group(1), match.group(1)), body, flags=re.S)


class _ToSyntax(Transformer_NonRecursive):
    """Lark tree → `syntax` nodes (non-recursive, so deep rules cannot overflow the stack)."""

    def __init__(self, text: str, limits: Limits):
        super().__init__()
        self._text = text
        self._limits = limits

    def start(self, children):
        return children[0]

    @v_args(meta=True)
    def union(self, meta, children):
        return s.SetOperation("union", children[0], children[2], _span(meta))

    @v_args(meta=True)
    def difference(self, meta, children):
        return s.SetOperation("except", children[0], children[2], _span(meta))

    @v_args(meta=True)
    def intersection(self, meta, children):
        return s.SetOperation("intersect", children[0], children[2], _span(meta))

    def reference(self, children):
        token = children[0]
        return s.Reference(str(token)[1:], _span(token))

    @v_args(meta=True)
    def entity_query(self, meta, children):
        condition = children[2] if len(children) == 3 else None
        return s.Query(_name(children[0]), None, condition, _span(meta))

    @v_args(meta=True)
    def referent_query(self, meta, children):
        condition = children[4] if len(children) == 5 else None
        return s.Query(_name(children[0]), _name(children[2]), condition, _span(meta))

    @v_args(meta=True)
    def any_of(self, meta, children):
        operands = tuple(child for child in children if not isinstance(child, Token))
        return operands[0] if len(operands) == 1 else s.Or(operands, _span(meta))

    @v_args(meta=True)
    def all_of(self, meta, children):
        operands = tuple(child for child in children if not isinstance(child, Token))
        return operands[0] if len(operands) == 1 else s.And(operands, _span(meta))

    @v_args(meta=True)
    def negation(self, meta, children):
        return s.Not(children[1], _span(meta))

    @v_args(meta=True)
    def comparison(self, meta, children):
        field, operator, value = children
        return s.Comparison(field, "!=" if str(operator) == "<>" else str(operator), value, _span(meta))

    @v_args(meta=True)
    def membership(self, meta, children):
        return self._values(meta, children, negated=False)

    @v_args(meta=True)
    def exclusion(self, meta, children):
        return self._values(meta, children, negated=True)

    def _values(self, meta, children, negated: bool):
        field, _keyword, *values = children
        values = tuple(value for value in values if value is not None)
        if len(values) > self._limits.max_values:
            raise LimitError(Problem(_("the list contains {count} values; the limit is {limit}", count=len(values), limit=self._limits.max_values),
                                     line=meta.line, column=meta.column, source=self._text))
        return s.Membership(field, values, negated, _span(meta))

    @v_args(meta=True)
    def is_empty(self, meta, children):
        return s.Emptiness(children[0], False, _span(meta))

    @v_args(meta=True)
    def is_not_empty(self, meta, children):
        return s.Emptiness(children[0], True, _span(meta))

    @v_args(meta=True)
    def contains(self, meta, children):
        return s.TextMatch(children[0], "contains", children[2], _span(meta))

    @v_args(meta=True)
    def starts_with(self, meta, children):
        return s.TextMatch(children[0], "starts_with", children[2], _span(meta))

    @v_args(meta=True)
    def exact_comparison(self, meta, children):
        field, _operator, value = children
        return s.Comparison(field, "==", value, _span(meta))

    @v_args(meta=True)
    def between(self, meta, children):
        field, _between, low, _and, high = children
        return s.Between(field, low, high, _span(meta))

    @v_args(meta=True)
    def contains_any(self, meta, children):
        return s.ListMatch(children[0], "any", self._listed(meta, children[2:]), _span(meta))

    @v_args(meta=True)
    def contains_all(self, meta, children):
        return s.ListMatch(children[0], "all", self._listed(meta, children[2:]), _span(meta))

    def _listed(self, meta, values) -> tuple:
        values = tuple(value for value in values if value is not None)
        if len(values) > self._limits.max_values:
            raise LimitError(Problem(_("the list contains {count} values; the limit is {limit}", count=len(values), limit=self._limits.max_values),
                                     line=meta.line, column=meta.column, source=self._text))
        return values

    @v_args(meta=True)
    def quantified(self, meta, children):
        (quantifier, count), relation = children[0], children[1]
        where = children[3] if len(children) == 4 else None
        return s.Quantified(quantifier, count, relation, where, _span(meta))

    def any_quantifier(self, children):
        return ("any", 1)

    def no_quantifier(self, children):
        return ("no", 0)

    def at_least(self, children):
        return ("at_least", self._count(children[1]))

    def at_most(self, children):
        return ("at_most", self._count(children[1]))

    def exactly(self, children):
        return ("exactly", self._count(children[1]))

    def _count(self, token: Token) -> int:
        if not re.fullmatch(r"\d+", str(token)):
            raise RuleSyntaxError(Problem(_("a count must be a whole number of 0 or more, not {value}", value=str(token)),
                                          line=token.line, column=token.column, width=len(token), source=self._text))
        return int(str(token))

    def today(self, children):
        return s.Literal(s.RelativeDate(None), "date", _span(children[0]))

    def shifted_date(self, children):
        base, sign, amount, unit = children
        if not re.fullmatch(r"\d+", str(amount)):
            raise RuleSyntaxError(Problem(_("a date shift must be a whole number, not {value}", value=str(amount)),
                                          line=amount.line, column=amount.column, width=len(amount), source=self._text))
        steps = int(str(amount)) * (-1 if str(sign) == "-" else 1)
        value = base.value if isinstance(base.value, s.RelativeDate) else s.RelativeDate(base.value)
        span = s.Span(base.span.line, base.span.column, base.span.start, unit.end_pos)
        return s.Literal(s.RelativeDate(value.base, value.shifts + ((steps, _unit(str(unit))),)), "date", span)

    @v_args(meta=True)
    def truth(self, meta, children):
        return s.Truth(children[0], _span(meta))

    @v_args(meta=True)
    def field(self, meta, children):
        return s.FieldPath(tuple(_name(token) for token in children), _span(meta))

    def string(self, children):
        token = children[0]
        return s.Literal(unquote(str(token)), "text", _span(token))

    def number(self, children):
        token = children[0]
        text = str(token)
        if "." in text:
            return s.Literal(Decimal(text), "decimal", _span(token))
        return s.Literal(int(text), "integer", _span(token))

    def iso_date(self, children):
        token = children[0]
        return self._date(token, "%Y-%m-%d")

    def french_date(self, children):
        token = children[0]
        return self._date(token, "%d/%m/%Y")

    def _date(self, token: Token, pattern: str) -> s.Literal:
        try:
            value = dt.datetime.strptime(str(token), pattern).date()
        except ValueError:
            raise RuleSyntaxError(Problem(_("{value} is not a valid date", value=str(token)), line=token.line, column=token.column,
                                          width=len(token), source=self._text)) from None
        return s.Literal(value, "date", _span(token))

    def true(self, children):
        return s.Literal(True, "boolean", _span(children[0]))

    def false(self, children):
        return s.Literal(False, "boolean", _span(children[0]))


def _unit(word: str) -> s.DateUnit:
    """Map a unit as written (`jours`, `Weeks`, `mois`, `années`…) to its canonical name."""
    folded = word.lower()
    if folded.startswith(("day", "jour")):
        return "day"
    if folded.startswith(("week", "semaine")):
        return "week"
    if folded.startswith(("month", "mois")):
        return "month"
    return "year"


def _name(token: Token) -> s.Name:
    return s.Name(str(token), _span(token))
