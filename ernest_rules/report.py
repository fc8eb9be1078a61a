"""The report that comes with every resolution: counts, exclusions and id problems."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from .i18n import _

REASON_TEXT = {
    "missing_address": _("missing address"),
    "several_addresses": _("several addresses in one field"),
    "invalid_address": _("invalid address"),
    "unsubscribed": _("unsubscribed"),
    "suppressed": _("in a suppression list"),
    "company_unsubscribed": _("company unsubscribed"),
    "manual_exclusion": _("excluded by hand"),
    "no_consent": _("no RGPD consent"),
    "inactive_post": _("contact without an active post"),
    "inactive_user": _("inactive user"),
    "not_a_referent": _("not a referent of any offer for this kind"),
    "duplicate": _("duplicate of another recipient"),
    "unknown": _("not found in the export"),
    "repeated": _("given more than once"),
}

UNREACHABLE_REASONS = ("missing_address", "several_addresses", "invalid_address")


class SectionSummary(BaseModel):
    """Contribution of one section. `share` is the part of its kind that the rule selects (0–1)."""

    index: int
    label: str
    kind: str
    rule: str | None
    rule_matches: int
    manual_given: int
    manual_found: int
    recipients: int
    first_source_of: int
    share: float | None = None


class IdIssue(BaseModel):
    """A manual id that is unknown, repeated, or does not fit its section's kind."""

    section: int
    id: str
    reason: Literal["unknown", "repeated", "inactive_post", "inactive_user", "not_a_referent"]


class ExclusionIssue(BaseModel):
    """An id of the list's `exclude` table that is not in the export."""

    entity: str
    id: str


class Report(BaseModel):
    """Counts of a resolution; `excluded` maps each reason (duplicates included) to its number of rows."""

    title: str
    description: str | None
    data: str
    form: str
    purpose: str | None = None
    consent_required: bool = True
    dedup: str = "address"
    recipients: int
    duplicates_merged: int
    excluded: dict[str, int]
    sections: list[SectionSummary]
    manual_id_issues: list[IdIssue]
    exclusion_id_issues: list[ExclusionIssue] = []
    suppressed_addresses: int = 0
    today: dt.date | None = None

    @property
    def unreachable(self) -> int:
        return sum(self.excluded.get(reason, 0) for reason in UNREACHABLE_REASONS)
