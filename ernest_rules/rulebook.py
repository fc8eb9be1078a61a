"""Saved named rules, referenced from other rules as `@name`.

A rule book is read from a TOML file (`name = "rule"` pairs, at the top level
or under `[rules]`) or from a folder of `<name>.rule` files. In Python it is any
mapping of names to rule texts.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Mapping

from .errors import ListDefinitionError, Problem
from .i18n import Quoted, _


def load_rulebook(path: str | Path) -> dict[str, str]:
    """Read saved rules from a TOML file or a folder of .rule files."""
    path = Path(path)
    if path.is_dir():
        return {file.stem: file.read_text(encoding="utf-8-sig") for file in sorted(path.glob("*.rule"))}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ListDefinitionError(Problem(_("the rules file {file} does not exist", file=Quoted(path)))) from None
    except tomllib.TOMLDecodeError as error:
        raise ListDefinitionError(Problem(_("invalid TOML: {reason}", reason=str(error)), origin=str(path))) from None
    table = data.get("rules", data)
    bad = [name for name, value in table.items() if not isinstance(value, str)]
    if bad:
        raise ListDefinitionError([Problem(_("the saved rule {name} must be a text", name=Quoted(name)), origin=str(path)) for name in bad])
    return dict(table)


def find_rule(rules: Mapping[str, str], name: str) -> str | None:
    """Return a saved rule's text by name, ignoring case."""
    if name in rules:
        return rules[name]
    lowered = {key.lower(): value for key, value in rules.items()}
    return lowered.get(name.lower())
