"""Recipient keys and address validity.

The recipient key is the address trimmed (Unicode space separators, U+00A0
included), NFC-normalized and lower-cased: two rows with the same key are the
same mailbox and receive one message.

Validity is decided in two steps so that millions of rows stay fast: a SQL
pattern accepts the common plain addresses (ASCII dot-atom local part, host
name domain) inside DuckDB, and only the remaining distinct keys go through
`check_address`, which relies on the email-validator library.

Documented handling of the forms of the field (one rule each):
- `Jean Dupont <jean@x.fr>`: the address between the angle brackets is used.
- several addresses in one field (`a@x.fr, b@y.fr`, or separated by `;`):
  unreachable, reason `several_addresses`; nobody is guessed.
- a sentence or any text that is not one address: `invalid_address`.
- RFC 5321 forms (quoted local part, address literal, top-level domain only)
  are accepted; comments, folding white space, obsolete RFC 5322 syntax and a
  local part longer than 64 octets are rejected. No DNS lookup is made.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

ANGLE_ADDRESS = r"^[^<>]*<\s*([^<>]+?)\s*>$"


def address_sql(raw: str) -> str:
    """SQL giving the address part of a field: the text inside `<…>` when there is one, else the field."""
    # The cheap test on '>' keeps the regular expressions off the plain addresses, which are nearly all of them.
    angle = f"CASE WHEN regexp_full_match(trim({raw}), '{ANGLE_ADDRESS}') THEN regexp_extract(trim({raw}), '{ANGLE_ADDRESS}', 1) ELSE {raw} END"
    return f"CASE WHEN contains({raw}, '>') THEN {angle} ELSE {raw} END"


def recipient_key_sql(address: str) -> str:
    """SQL for the recipient key of an address column (NULL stays NULL)."""
    return f"lower(nfc_normalize(trim({address})))"


def is_missing_sql(address: str) -> str:
    """SQL that is true when the address is NULL, empty or only spaces."""
    return f"({address} IS NULL OR trim({address}) = '')"


def several_addresses_sql(key: str) -> str:
    """SQL that is true when a key contains two or more addresses separated by , ; or spaces."""
    return f"regexp_matches({key}, '@[^\"]*[,; ][^\"]*@')"


# Plain addresses that are valid without further checks: lower-case ASCII
# dot-atom local part of at most 64 characters, and a host name with an
# alphabetic top-level domain (the key is already lower-cased).
_PLAIN = (r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
          r"@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def is_plain_sql(key: str) -> str:
    """SQL that is true for a key that `check_address` would accept, checked without Python."""
    pattern = _PLAIN.replace("'", "''")
    return f"(regexp_full_match({key}, '{pattern}') AND length(split_part({key}, '@', 1)) <= 64 AND length({key}) <= 254)"


_QUOTED_PAIR_NON_ASCII = re.compile(r'\\[^\x00-\x7f]')


def check_address(key: str) -> bool:
    """Return True when a (trimmed, lower-cased) address can receive mail, per the rules above."""
    if "@" not in key:
        return False
    local = key.rsplit("@", 1)[0]
    if len(local.encode("utf-8")) > 64 or len(key.encode("utf-8")) > 254:
        return False
    if local.startswith('"') and _QUOTED_PAIR_NON_ASCII.search(local):
        return False
    try:
        validate_email(key, check_deliverability=False, allow_quoted_local=True, allow_domain_literal=True,
                       globally_deliverable=False, allow_smtputf8=True)
    except EmailNotValidError:
        return False
    return True


# A shape check only: one @, a local part and a dotted-or-bracketed domain, no
# spaces outside a quoted local part.
_SHAPE = r'^([^\s@"]+|"([^"\\]|\\.)*")@([^\s@.\[\]]+(\.[^\s@.\[\]]+)*|\[[^\s\[\]]+\])$'


def is_invalid_sql(key: str) -> str:
    """SQL that is true when a non-missing key is not shaped like an email address."""
    return f"NOT regexp_full_match({key}, '{_SHAPE}')"
