"""Recipient keys and address checks, as SQL expressions over an address column.

The recipient key is the address trimmed (Unicode space separators, U+00A0
included), NFC-normalized and lower-cased: two rows with the same key are the
same mailbox and receive one message.
"""

from __future__ import annotations


def recipient_key_sql(address: str) -> str:
    """SQL for the recipient key of an address column (NULL stays NULL)."""
    return f"lower(nfc_normalize(trim({address})))"


def is_missing_sql(address: str) -> str:
    """SQL that is true when the address is NULL, empty or only spaces."""
    return f"({address} IS NULL OR trim({address}) = '')"


# A shape check only: one @, a local part and a dotted-or-bracketed domain, no
# spaces outside a quoted local part. It rejects sentences and names typed in
# the email field.
_SHAPE = r'^([^\s@"]+|"([^"\\]|\\.)*")@([^\s@.\[\]]+(\.[^\s@.\[\]]+)*|\[[^\s\[\]]+\])$'


def is_invalid_sql(key: str) -> str:
    """SQL that is true when a non-missing key is not shaped like an email address."""
    return f"NOT regexp_full_match({key}, '{_SHAPE}')"
