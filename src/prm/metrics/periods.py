"""Periods as API.md writes them: `2026-11` (a month), `2026-Q4` (a quarter), `2026` (a
year). Each is a half-open UTC interval [start, end) that metrics SQL filters by."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from prm.errors import InvalidInput

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True, order=True)
class Period:
    start: datetime
    end: datetime
    key: str
    kind: str
    """MONTH, QUARTER or YEAR."""

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        if self.kind == "YEAR":
            return parse_period(str(self.start.year - 1))
        months = 1 if self.kind == "MONTH" else 3
        year, month = divmod(self.start.year * 12 + self.start.month - 1 - months, 12)
        start = datetime(year, month + 1, 1, tzinfo=UTC)
        return period_containing(start, self.kind)


def parse_period(value: str, *, field: str = "period") -> Period:
    """The period `value` names, or `InvalidInput` saying what is expected."""
    text = (value or "").strip().upper()
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        kind, start_month, months = "MONTH", month, 1
    elif match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        kind, start_month, months = "QUARTER", 3 * quarter - 2, 3
    elif match := _YEAR.match(text):
        year = int(match[1])
        kind, start_month, months = "YEAR", 1, 12
    else:
        raise InvalidInput(
            "a period is a month (2026-11), a quarter (2026-Q4) or a year (2026)", field=field
        )
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"the year must be between {MIN_YEAR} and {MAX_YEAR}", field=field)
    end_year, end_month = divmod(year * 12 + start_month - 1 + months, 12)
    return Period(
        start=datetime(year, start_month, 1, tzinfo=UTC),
        end=datetime(end_year, end_month + 1, 1, tzinfo=UTC),
        key=text,
        kind=kind,
    )


def period_containing(moment: datetime, kind: str) -> Period:
    """The month, quarter or year (`kind`) that `moment` falls in."""
    moment = moment.astimezone(UTC)
    if kind == "MONTH":
        return parse_period(f"{moment.year}-{moment.month:02d}")
    if kind == "QUARTER":
        return parse_period(f"{moment.year}-Q{(moment.month - 1) // 3 + 1}")
    if kind == "YEAR":
        return parse_period(str(moment.year))
    raise ValueError(f"unknown period kind {kind!r}")


def periods_containing(moment: datetime) -> list[Period]:
    """The month, quarter and year of `moment`: what an event there makes stale."""
    return [period_containing(moment, kind) for kind in ("MONTH", "QUARTER", "YEAR")]
