"""Dates of the language: `today` in the catalog's time zone, and calendar shifts."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from . import syntax as s


def today_in(timezone: str) -> dt.date:
    """Return today's date in a time zone (Europe/Paris for Ernest)."""
    return dt.datetime.now(ZoneInfo(timezone)).date()


def shift(day: dt.date, amount: int, unit: s.DateUnit) -> dt.date:
    """Move a date by whole units; a month or year shift that lands past the month's end keeps its last day.

    31 January + 1 month is 28 (or 29) February; 29 February + 1 year is 28 February.
    """
    if unit == "day":
        return day + dt.timedelta(days=amount)
    if unit == "week":
        return day + dt.timedelta(weeks=amount)
    months = amount * (12 if unit == "year" else 1)
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def resolve_date(value: dt.date | s.RelativeDate, today: dt.date) -> dt.date:
    """Turn a date literal (absolute or relative) into a calendar date."""
    if isinstance(value, dt.date):
        return value
    day = today if value.base is None else value.base
    for amount, unit in value.shifts:
        day = shift(day, amount, unit)
    return day
