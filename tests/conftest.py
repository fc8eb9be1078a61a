"""Fixtures shared by the test files."""

from __future__ import annotations

from pathlib import Path

import pytest

from real_data import find_real_exports


@pytest.fixture(scope="session")
def real_exports() -> Path:
    """The real export folder (with parquet/ and csv-fr/), or a skip when it is absent."""
    place = find_real_exports()
    if place is None:
        pytest.skip("real export not found: set $ERNEST_REAL_EXPORTS or put it in shared/real-exports beside the checkout")
    return place
