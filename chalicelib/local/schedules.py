"""EventBridge schedule expressions, evaluated locally: ``rate(...)`` and ``cron(...)``.

Cron follows EventBridge's six fields (minutes hours day-of-month month day-of-week
year), with ``*``, ``?``, lists, ranges, steps and month/day names. The ``L``, ``W`` and
``#`` extensions are refused when the runner starts rather than silently mis-timed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {d: i + 1 for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}  # EventBridge: 1 = Sunday
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    """An expression the local runner cannot evaluate."""


def _number(token: str, field: str, names: dict[str, int]) -> int:
    if token in names:
        return names[token]
    if token.isdigit():
        return int(token)
    if any(ch in token for ch in "LW#"):
        # Checked per token, after names: JUL and WED are names, not the L and W extensions.
        raise ScheduleError(f"cron field {field!r}: L, W and # are not supported locally")
    raise ScheduleError(f"cron field {field!r}: {token!r} is not a number or a name")


def _values(
    field: str, low: int, high: int, names: dict[str, int], *, day_field: bool = False
) -> frozenset[int] | None:
    """The set of allowed values, or None for 'any' (``*``, or ``?`` in a day field)."""
    if field == "*" or (field == "?" and day_field):
        return None
    allowed: set[int] = set()
    for part in field.upper().split(","):
        base, slash, step_text = part.partition("/")
        step = _number(step_text, field, {}) if slash else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _number(a, field, names), _number(b, field, names)
        else:
            start = _number(base, field, names)
            end = high if slash else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ScheduleError(f"cron field {field!r} is out of range {low}-{high}")
        allowed.update(range(start, end + 1, step))
    return frozenset(allowed)


@dataclass(frozen=True)
class Schedule:
    expression: str
    interval: timedelta | None = None
    fields: tuple[frozenset[int] | None, ...] = ()

    def next_after(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        if self.interval is not None:
            return moment + self.interval
        minutes, hours, dom, months, dow, years = self.fields
        t = (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            weekday = (t.isoweekday() % 7) + 1  # Monday=2 ... Sunday=1
            if (
                (years is not None and t.year not in years)
                or (months is not None and t.month not in months)
                or (dom is not None and t.day not in dom)
                or (dow is not None and weekday not in dow)
            ):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if hours is not None and t.hour not in hours:
                t = (t + timedelta(hours=1)).replace(minute=0)
                continue
            if minutes is not None and t.minute not in minutes:
                t += timedelta(minutes=1)
                continue
            return t
        raise ScheduleError(f"{self.expression} never fires")


def parse_schedule(expression: str) -> Schedule:
    expression = expression.strip()
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise ScheduleError("rate must be at least 1")
        if (value == 1) != (rate.group(2) == unit):
            # EventBridge refuses rate(1 hours) and rate(5 hour).
            raise ScheduleError(f"rate: use {unit!r} with 1 and {unit + 's'!r} with larger values")
        return Schedule(expression, interval=timedelta(seconds=value * _UNIT_SECONDS[unit]))
    cron = _CRON.fullmatch(expression)
    if not cron:
        raise ScheduleError(f"not a schedule expression: {expression!r}")
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise ScheduleError("cron needs six fields: minutes hours day-of-month month day-of-week year")
    fields = (
        _values(parts[0], 0, 59, {}),
        _values(parts[1], 0, 23, {}),
        _values(parts[2], 1, 31, {}, day_field=True),
        _values(parts[3], 1, 12, _MONTHS),
        _values(parts[4], 1, 7, _DAYS, day_field=True),
        _values(parts[5], 1970, 2199, {}),
    )
    if parts[2] != "?" and parts[4] != "?":
        raise ScheduleError("cron: one of day-of-month and day-of-week must be '?'")
    return Schedule(expression, fields=fields)
