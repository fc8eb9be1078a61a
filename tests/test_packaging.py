"""The wheel carries the grammar, the catalog and the French messages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RESOURCES = [
    "ernest_rules/grammar/criteria.lark",
    "ernest_rules/catalogs/ernest.json",
    "ernest_rules/locale/fr/LC_MESSAGES/ernest_rules.po",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{result.stderr}")
    return next(out.glob("ernest_rules-*.whl"))


@pytest.mark.parametrize("resource", RESOURCES)
def test_wheel_contains_resource(wheel: Path, resource: str):
    with zipfile.ZipFile(wheel) as archive:
        assert resource in archive.namelist()


def test_installed_wheel_parses_rules(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True)
    script = (
        "import ernest_rules, sys\n"
        "assert ernest_rules.__file__.startswith(sys.argv[1]), ernest_rules.__file__\n"
        "rule = ernest_rules.compile_rule('candidats où vivier = \"Dev\"')\n"
        "print(rule.params['p1'])\n"
        "try:\n"
        "    ernest_rules.compile_rule('candidats où')\n"
        "except ernest_rules.RuleSyntaxError as error:\n"
        "    print(error.render('fr').splitlines()[0])\n"
    )
    # Run from an empty folder with only the installed copy on the path, so the checkout cannot be imported.
    result = subprocess.run([sys.executable, "-c", script, str(target)], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "dev"
    assert lines[1].startswith("ligne 1, colonne 13")
