"""Where the tests find Ernest's real export and the labelled email cases."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_real_exports() -> Path | None:
    """Return the real export folder: $ERNEST_REAL_EXPORTS, else `shared/real-exports` beside the checkout."""
    places = []
    if os.environ.get("ERNEST_REAL_EXPORTS"):
        places.append(Path(os.environ["ERNEST_REAL_EXPORTS"]))
    places.append(REPO_ROOT.parent / "shared" / "real-exports")
    return next((place for place in places if (place / "parquet").is_dir()), None)
