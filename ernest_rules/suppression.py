"""Suppression lists: addresses that must never receive anything, whatever the list.

A suppression file contains one address per line (any case, surrounding spaces,
`Name <address>` allowed; blank lines and lines starting with `#` are
skipped), or is a CSV file whose header has an `email` column (separated by
`;` or `,`). Addresses are normalized by DuckDB with the recipient-key rule.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Iterable

from .errors import DataError, Problem
from .i18n import Quoted, _

SUPPRESSION_ENV_VAR = "ERNEST_RULES_SUPPRESSION"


def default_suppression_files() -> list[Path]:
    """Files named in $ERNEST_RULES_SUPPRESSION (separated like PATH entries)."""
    value = os.environ.get(SUPPRESSION_ENV_VAR, "")
    return [Path(item) for item in value.split(os.pathsep) if item.strip()]


def read_suppression_file(path: str | Path) -> list[str]:
    """Return the raw addresses of one suppression file."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(Problem(_("the suppression file {file} does not exist", file=Quoted(path)))) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(Problem(_("cannot read the suppression file {file}: {reason}", file=Quoted(path), reason=str(error)))) from None
    lines = [line for line in content.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return []
    header = lines[0]
    delimiter = None
    if ";" in header:
        delimiter = ";"
    elif "," in header:
        delimiter = ","
    if delimiter and "email" in [cell.strip().lower() for cell in header.split(delimiter)]:
        reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter=delimiter)
        column = next(name for name in reader.fieldnames or [] if name.strip().lower() == "email")
        return [row[column] for row in reader if row.get(column)]
    return lines


def collect_suppressed(files: Iterable[str | Path] = (), addresses: Iterable[str] = ()) -> list[str]:
    """Gather raw addresses from suppression files and from a list given by a program."""
    collected = list(addresses)
    for file in files:
        collected.extend(read_suppression_file(file))
    return collected
