"""Cron expressions (5 fields, or @hourly/@daily/...), evaluated in a schedule's time zone.

croniter does the calendar arithmetic. Results are cached: a scheduler asks
for "the slot after the last one I fired" every tick, and the answer only
changes when a slot fires, which keeps a tick over 1,000 schedules cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nbops.errors import NbopsError

MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


class ScheduleError(NbopsError):
    exit_code = 2
    http_status = 400


def check_cron(expr: str) -> str:
    """The expression with macros expanded; ScheduleError when it is not 5-field cron."""
    from croniter import croniter

    text = " ".join(str(expr).split())
    text = MACROS.get(text.lower(), text)
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise ScheduleError(
            f"invalid cron expression {expr!r}",
            hint="use 5 fields 'minute hour day-of-month month day-of-week', e.g. '0 6 * * 1-5', "
                 "or @hourly/@daily/@weekly/@monthly")
    return text


def check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {tz!r}", hint="use an IANA name like 'Europe/Berlin' or 'UTC'") from exc
    return tz


@lru_cache(maxsize=8192)
def next_slot(expr: str, tz: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (returned in UTC)."""
    from croniter import croniter

    local = after.astimezone(ZoneInfo(tz))
    return croniter(expr, local).get_next(datetime).astimezone(UTC)


def latest_slot(expr: str, tz: str, until: datetime) -> datetime:
    """The last fire time at or before ``until`` (in UTC)."""
    from croniter import croniter

    prev = croniter(expr, until.astimezone(ZoneInfo(tz))).get_prev(datetime).astimezone(UTC)
    following = next_slot(expr, tz, prev)
    return following if following <= until else prev


def describe_next(expr: str, tz: str, now: datetime) -> str:
    return next_slot(expr, tz, now - timedelta(microseconds=1)).isoformat(timespec="minutes")
