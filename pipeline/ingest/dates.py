"""Publication dates from the many ways inputs write them: an ISO date padded to a day plus its
precision (`day`, `month` or `year`), and the plausibility check that flags years before 1900
or more than a year ahead."""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import re
from typing import Any

from pipeline.ingest.text import is_missing

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
EARLIEST_PLAUSIBLE_YEAR = 1900


class DateError(ValueError):
    """A date value that is present but cannot be read."""


def month_number(value: Any) -> int | None:
    """1-12 from a month number or English month name/abbreviation; None when unreadable.
    Only ASCII digits count: `²` is a digit to Python but no month."""
    text = str(value).strip().lower().rstrip(".")
    if re.fullmatch(r"[0-9]{1,2}", text) and 1 <= int(text) <= 12:
        return int(text)
    return _MONTHS.get(text)


def parse_date(value: Any) -> tuple[str, str] | None:
    """(ISO date padded to a day, precision) from the many ways inputs write a date.

    Accepts date/datetime objects, a year number, ISO dates and timestamps (`2024-05-23`,
    `2024-05-23T02:53:25.000Z`, `2024-05`, `2024`), RFC 2822 (`Mon, 2 Apr 2007 19:18:42 GMT`),
    `23 May 2024`, `22 Feb 2024`, `May 2024`, `May 23, 2024`. Returns None for an empty value;
    raises DateError for a value that is present but unreadable.
    """
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat(), "day"
    if isinstance(value, dt.date):
        return value.isoformat(), "day"
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date().isoformat(), "day"
    if isinstance(value, (dict, list, tuple)):
        raise DateError(f"date is {'an object' if isinstance(value, dict) else 'a list'}")
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, int) and not isinstance(value, bool):
        if 1000 <= value <= 2999:
            return f"{value:04d}-01-01", "year"
        raise DateError("unparsable date: a number that is not a year")
    if isinstance(value, float):
        if value.is_integer() and 1000 <= value <= 2999:
            return f"{int(value):04d}-01-01", "year"
        raise DateError("unparsable date: a number that is not a year")
    text = " ".join(str(value).split())
    if not text:
        return None
    try:
        return _parse_date_text(text)
    except (ValueError, OverflowError):
        raise DateError(f"unparsable date {text[:60]!r}") from None


def implausible_date(published: str, today: dt.date | None = None) -> str | None:
    """Why a parsed date looks wrong (a typo, or a classic reprinted), or None. Such dates are
    kept: the reason becomes a warning."""
    date = dt.date.fromisoformat(published)
    today = today or dt.date.today()
    if date.year < EARLIEST_PLAUSIBLE_YEAR:
        return f"date {published} is before {EARLIEST_PLAUSIBLE_YEAR}: kept; check for a typo"
    try:
        horizon = today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        horizon = today.replace(year=today.year + 1, day=28)
    if date > horizon:
        return f"date {published} is more than a year in the future: kept; check for a typo"
    return None


def _checked(year: int, month: int = 1, day: int = 1) -> str:
    return dt.date(year, month, day).isoformat()


def _parse_date_text(text: str) -> tuple[str, str]:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?", text, re.A)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3])), "day"
    m = re.fullmatch(r"(\d{4})/(\d{1,2})/(\d{1,2})", text, re.A)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3])), "day"
    m = re.fullmatch(r"(\d{4})[-/](\d{1,2})", text, re.A)
    if m:
        return _checked(int(m[1]), int(m[2])), "month"
    m = re.fullmatch(r"(\d{4})(?:\.0)?", text, re.A)
    if m:
        return _checked(int(m[1])), "year"
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text, re.A)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3])), "day"
    parsed = None
    if "," in text or re.search(r"\d{1,2}:\d{2}", text, re.A):
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
    if parsed is not None:
        return parsed.date().isoformat(), "day"
    words = re.findall(r"[A-Za-z]+\.?|[0-9]{1,5}", text)
    names = [month_number(w) for w in words if not w.isdigit()]
    numbers = [int(w) for w in words if w.isdigit()]
    months = [n for n in names if n]
    if len(months) == 1 and len(names) == len(months):
        years = [n for n in numbers if n >= 1000]
        days = [n for n in numbers if n < 1000]
        if len(years) == 1 and len(days) == 1:
            return _checked(years[0], months[0], days[0]), "day"
        if len(years) == 1 and not days:
            return _checked(years[0], months[0]), "month"
    raise ValueError(text)


def date_from_parts(year: Any, month: Any = None, day: Any = None) -> str:
    """A date string from separate year/month(/day) fields, e.g. BibTeX `year` + `month`."""
    parts = [str(year).strip()]
    if not is_missing(month):
        number = month_number(month)
        if number is None:
            return f"{year} {month}"  # leave it to parse_date to complain
        parts.append(f"{number:02d}")
        if not is_missing(day):
            text = str(day).strip()
            parts.append(f"{int(text):02d}" if re.fullmatch(r"[0-9]{1,2}", text) else text)
    return "-".join(parts)
