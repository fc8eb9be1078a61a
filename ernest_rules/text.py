"""Text folding shared by the compiler (on values) and the SQL (on columns).

Text comparisons ignore case, accents, Unicode normalization form and
surrounding spaces. `fold` does on a Python string what `fold_sql` does on
a column, and a test checks that the two agree on every text of the real export.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# DuckDB's one-argument trim() removes exactly the Unicode space separators
# (category Zs: space, no-break space, em space…) and keeps tabs and line breaks.
SPACES = "".join(chr(code) for code in range(0x3001) if unicodedata.category(chr(code)) == "Zs")


def fold(value: str) -> str:
    """Fold a text value for comparison: strip, drop accents, lower-case."""
    decomposed = unicodedata.normalize("NFD", value)
    # DuckDB's strip_accents drops every combining mark: nonspacing (Mn), spacing (Mc) and enclosing (Me).
    without_marks = "".join(char for char in decomposed if not unicodedata.category(char).startswith("M"))
    return unicodedata.normalize("NFC", without_marks.lower()).strip(SPACES)


def fold_inner(value: str) -> str:
    """Fold a search text for `contains`/`starts with`: like `fold`, but its spaces are kept."""
    decomposed = unicodedata.normalize("NFD", value)
    without_marks = "".join(char for char in decomposed if not unicodedata.category(char).startswith("M"))
    return unicodedata.normalize("NFC", without_marks.lower())


def fold_sql(expression: str) -> str:
    """Wrap a SQL expression so DuckDB folds it the way `fold` does."""
    return f"lower(strip_accents(trim({expression})))"


@lru_cache(maxsize=4096)
def fold_name(name: str) -> str:
    """Fold an identifier (entity, field, keyword) for lookups and suggestions."""
    return fold(name).replace(" ", "_")
