"""Address validity against the labelled cases of the isemail project (shared/email-cases/isemail-tests.xml).

Each `<test>` is checked twice. First `ernest_rules.address.check_address`
judges its key, the address trimmed of Unicode space separators and
lower-cased. Then the address goes through the whole SQL path of a list: a
candidats row contains it, and a list with a purpose that needs no consent
selects the row by manual id. The expected verdict per category is the
handling documented in `ernest_rules/address.py`:

- ISEMAIL_VALID_CATEGORY, ISEMAIL_DNSWARN (no DNS lookup is made): accepted;
- ISEMAIL_ERR, ISEMAIL_RFC5322: rejected;
- ISEMAIL_RFC5321: accepted, except `""@iana.org` (empty quoted local part);
- ISEMAIL_CFWS: rejected, except the two addresses that are plain once their
  surrounding spaces are trimmed;
- ISEMAIL_DEPREC: rejected, except ISEMAIL_RFC5321_IPV6DEPRECATED.
"""

from __future__ import annotations

import importlib.util
import os
import unicodedata
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ernest_rules import resolve
from ernest_rules.address import check_address, is_plain_sql
from ernest_rules.suppression import SUPPRESSION_ENV_VAR

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FILE_NAME = "isemail-tests.xml"

# Control characters are written as U+2400 + their code ("SYMBOL FOR NULL" … "SYMBOL FOR UNIT SEPARATOR").
CONTROL_SYMBOLS = {0x2400 + code: chr(code) for code in range(32)}

# CFWS cases that are a plain address once their surrounding spaces are trimmed.
PLAIN_AFTER_TRIM = {" test@iana.org", "test@iana.org "}


def _load_build():
    spec = importlib.util.spec_from_file_location("hygiene_build", HERE / "hygiene" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_email_cases() -> Path | None:
    """Return the cases file: $ERNEST_EMAIL_CASES (the file or its folder), else <repo>/../shared/email-cases/isemail-tests.xml."""
    places = []
    if os.environ.get("ERNEST_EMAIL_CASES"):
        place = Path(os.environ["ERNEST_EMAIL_CASES"])
        places.append(place / FILE_NAME if place.is_dir() else place)
    places.append(ROOT.parent / "shared" / "email-cases" / FILE_NAME)
    return next((place for place in places if place.is_file()), None)


def trim_spaces(text: str) -> str:
    """Strip Unicode space separators (category Zs: space, U+00A0, …) at both ends. Tabs and line breaks stay."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start]) == "Zs":
        start += 1
    while end > start and unicodedata.category(text[end - 1]) == "Zs":
        end -= 1
    return text[start:end]


@dataclass(frozen=True)
class Case:
    number: int
    address: str
    category: str
    diagnosis: str

    @property
    def key(self) -> str:
        return trim_spaces(self.address).lower()

    @property
    def accepted(self) -> bool:
        """The documented verdict for this case."""
        if self.category in ("ISEMAIL_VALID_CATEGORY", "ISEMAIL_DNSWARN"):
            return True
        if self.category in ("ISEMAIL_ERR", "ISEMAIL_RFC5322"):
            return False
        if self.category == "ISEMAIL_RFC5321":
            return self.address != '""@iana.org'
        if self.category == "ISEMAIL_CFWS":
            return self.address in PLAIN_AFTER_TRIM
        if self.category == "ISEMAIL_DEPREC":
            return self.diagnosis == "ISEMAIL_RFC5321_IPV6DEPRECATED"
        raise ValueError(f"test {self.number}: no documented handling for category {self.category}")


def load_cases(path: Path | None) -> list[Case]:
    if path is None:
        return []
    cases = []
    for test in ElementTree.parse(path).getroot().iter("test"):
        address = (test.findtext("address") or "").translate(CONTROL_SYMBOLS)
        cases.append(Case(int(test.get("id")), address, test.findtext("category") or "", test.findtext("diagnosis") or ""))
    return cases


CASES_FILE = find_email_cases()
CASES = load_cases(CASES_FILE)
MISSING = pytest.mark.skip(reason=f"{FILE_NAME} not found: set $ERNEST_EMAIL_CASES or provide ../shared/email-cases next to the repository")
PARAMS = [pytest.param(case, id=f"{case.number}-{case.category.removeprefix('ISEMAIL_').lower()}") for case in CASES] \
    or [pytest.param(None, id="no-cases", marks=MISSING)]


@pytest.fixture(autouse=True)
def no_default_suppression(monkeypatch):
    monkeypatch.delenv(SUPPRESSION_ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    if not CASES:
        pytest.skip(f"{FILE_NAME} not found: set $ERNEST_EMAIL_CASES or provide ../shared/email-cases next to the repository")
    return CASES


@pytest.fixture(scope="module")
def sql_status(cases, tmp_path_factory) -> dict[int, str]:
    """Map each candidate id (the test number) to its exclusion reason or 'recipient', in a list selecting every case."""
    build = _load_build()
    folder = build.write_export(tmp_path_factory.mktemp("email-cases"),
                                candidats=[build.candidat(case.number, case.address) for case in cases])
    resolution = resolve({"title": "isemail", "purpose": "suivi_candidature",
                          "sections": [{"kind": "candidats", "manual": [case.number for case in cases]}]}, folder)
    status = {row["id"]: row["reason"] for row in resolution.excluded().to_pylist()}
    status.update({row["id"]: "recipient" for row in resolution.recipients().to_pylist()})
    return status


# ---------------------------------------------------------------- the file itself


def test_all_cases_loaded(cases):
    assert len(cases) == 164


def test_control_symbols_converted(cases):
    assert [case.number for case in cases if any(0x2400 <= ord(char) <= 0x241F for char in case.address)] == []


def test_control_characters_present(cases):
    """Some cases contain CR LF once converted, so the conversion above does something."""
    assert any("\r\n" in case.address for case in cases)


# ---------------------------------------------------------------- verdicts


@pytest.mark.parametrize("case", PARAMS)
def test_check_address_verdict(case):
    assert check_address(case.key) is case.accepted


@pytest.mark.parametrize("case", PARAMS)
def test_sql_path_verdict(case, sql_status):
    if case.accepted:
        assert sql_status[case.number] in ("recipient", "duplicate")
    else:
        assert sql_status[case.number] == ("missing_address" if case.key == "" else "invalid_address")


def test_plain_sql_never_looser(cases):
    """The SQL fast path accepts only keys that check_address accepts."""
    connection = duckdb.connect()
    connection.register("keys", pa.table({"number": [case.number for case in cases], "key": [case.key for case in cases]}))
    plain = {row[0] for row in connection.execute(f"SELECT number FROM keys WHERE {is_plain_sql('key')}").fetchall()}
    connection.close()
    assert sorted(case.number for case in cases if case.number in plain and not check_address(case.key)) == []


def test_plain_sql_accepts_some(cases):
    """The fast path does accept plain addresses, so the test above checks something."""
    connection = duckdb.connect()
    connection.register("keys", pa.table({"key": [case.key for case in cases]}))
    count = connection.execute(f"SELECT count(*) FROM keys WHERE {is_plain_sql('key')}").fetchall()[0][0]
    connection.close()
    assert count > 0
