"""The report that comes with every resolution: counts, exclusions and id problems."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from .i18n import _

ExclusionReason = Literal["missing_address", "invalid_address", "unsubscribed", "company_unsubscribed",
                          "inactive_post", "inactive_user", "not_a_referent"]

REASON_TEXT = {
    "missing_address": _("missing address"),
    "invalid_address": _("invalid address"),
    "unsubscribed": _("unsubscribed"),
    "company_unsubscribed": _("company unsubscribed"),
    "inactive_post": _("contact without an active post"),
    "inactive_user": _("inactive user"),
    "not_a_referent": _("not a referent of any offer for this kind"),
    "unknown": _("not found in the export"),
    "repeated": _("given more than once"),
}


class SectionSummary(BaseModel):
    """What one section contributed."""

    index: int
    label: str
    kind: str
    rule: str | None
    rule_matches: int
    manual_given: int
    manual_found: int
    recipients: int
    first_source_of: int


class IdIssue(BaseModel):
    """A manual id that is unknown, repeated, or does not fit its section's kind."""

    section: int
    id: str
    reason: Literal["unknown", "repeated", "inactive_post", "inactive_user", "not_a_referent"]


class Report(BaseModel):
    """Counts of a resolution; `excluded` maps each exclusion reason to its number of rows."""

    title: str
    description: str | None
    data: str
    form: str
    recipients: int
    duplicates_merged: int
    excluded: dict[str, int]
    sections: list[SectionSummary]
    manual_id_issues: list[IdIssue]

    @property
    def unreachable(self) -> int:
        return self.excluded.get("missing_address", 0) + self.excluded.get("invalid_address", 0)
