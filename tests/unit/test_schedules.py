"""EventBridge schedule expressions as the local pump evaluates them."""
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.local.schedules import ScheduleError, parse_schedule


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- rate ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
        ("  rate(2 minutes)  ", timedelta(minutes=2)),
    ],
)
def test_rate_singular_and_plural(expression, interval):
    schedule = parse_schedule(expression)
    start = at(2030, 5, 17, 10, 20, 30)
    assert schedule.interval == interval
    assert schedule.next_after(start) == start + interval


@pytest.mark.parametrize(
    "expression",
    [
        # EventBridge: the unit is singular when the value is 1, plural otherwise.
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(1 hours)",
        "rate(2 day)",
        "rate(0 minutes)",
        "rate(-1 minutes)",
        "rate(1.5 hours)",
        "rate(1 second)",
        "rate(5 weeks)",
        "rate(minute)",
        "rate(1minute)",
        "rate 1 minute",
        "every minute",
        "",
    ],
)
def test_invalid_rates_are_refused(expression):
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


# -- cron: when it fires -------------------------------------------------------------------

def test_hourly_on_the_hour():
    schedule = parse_schedule("cron(0 * * * ? *)")
    assert schedule.next_after(at(2030, 1, 1, 10, 0, 0)) == at(2030, 1, 1, 11, 0)
    assert schedule.next_after(at(2030, 1, 1, 10, 59, 59)) == at(2030, 1, 1, 11, 0)
    assert schedule.next_after(at(2030, 12, 31, 23, 30)) == at(2031, 1, 1, 0, 0)


def test_daily_at_three():
    schedule = parse_schedule("cron(0 3 * * ? *)")
    assert schedule.next_after(at(2030, 6, 1, 2, 59, 59)) == at(2030, 6, 1, 3, 0)
    # Strictly after: at 03:00 exactly the next one is tomorrow's.
    assert schedule.next_after(at(2030, 6, 1, 3, 0)) == at(2030, 6, 2, 3, 0)
    assert schedule.next_after(at(2030, 6, 30, 12, 0)) == at(2030, 7, 1, 3, 0)


def test_next_after_is_in_utc():
    schedule = parse_schedule("cron(0 3 * * ? *)")
    plus_two = timezone(timedelta(hours=2))
    # 04:30 at UTC+2 is 02:30 UTC: today's 03:00 UTC is still ahead.
    assert schedule.next_after(datetime(2030, 6, 1, 4, 30, tzinfo=plus_two)) == at(2030, 6, 1, 3, 0)


def test_weekdays_mon_to_fri():
    schedule = parse_schedule("cron(30 8 ? * MON-FRI *)")
    friday = at(2030, 3, 1, 9, 0)  # 1 March 2030 is a Friday
    assert friday.strftime("%a") == "Fri"
    assert schedule.next_after(friday) == at(2030, 3, 4, 8, 30)  # Monday
    assert schedule.next_after(at(2030, 3, 4, 8, 29)) == at(2030, 3, 4, 8, 30)


def test_day_numbers_count_from_sunday():
    # EventBridge: 1 = Sunday, 7 = Saturday.
    assert parse_schedule("cron(0 12 ? * 1 *)").next_after(at(2030, 3, 1)) == at(2030, 3, 3, 12, 0)
    assert parse_schedule("cron(0 12 ? * 7 *)").next_after(at(2030, 3, 1)) == at(2030, 3, 2, 12, 0)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 9 ? * WED *)", at(2030, 3, 6, 9, 0)),
        ("cron(0 9 ? * wed *)", at(2030, 3, 6, 9, 0)),
        ("cron(0 9 ? * SAT,SUN *)", at(2030, 3, 2, 9, 0)),
    ],
)
def test_day_names(expression, expected):
    # Day names that contain W (WED) are names, not the unsupported W extension.
    assert parse_schedule(expression).next_after(at(2030, 3, 1, 10, 0)) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 0 1 JUL ? *)", at(2030, 7, 1, 0, 0)),
        ("cron(0 0 1 jul ? *)", at(2030, 7, 1, 0, 0)),
        ("cron(0 0 1 JAN,APR,JUL,OCT ? *)", at(2030, 4, 1, 0, 0)),
        ("cron(0 0 15 FEB-MAR ? *)", at(2031, 2, 15, 0, 0)),
        ("cron(0 0 1 7 ? *)", at(2030, 7, 1, 0, 0)),
    ],
)
def test_month_names(expression, expected):
    # JUL contains an L: it is a month name, not the unsupported L extension.
    assert parse_schedule(expression).next_after(at(2030, 3, 20, 10, 0)) == expected


def test_minute_steps():
    schedule = parse_schedule("cron(0/15 * * * ? *)")
    assert schedule.fields[0] == frozenset({0, 15, 30, 45})
    assert schedule.next_after(at(2030, 1, 1, 10, 1)) == at(2030, 1, 1, 10, 15)
    assert schedule.next_after(at(2030, 1, 1, 10, 45)) == at(2030, 1, 1, 11, 0)
    assert parse_schedule("cron(5/20 * * * ? *)").fields[0] == frozenset({5, 25, 45})
    assert parse_schedule("cron(*/20 * * * ? *)").fields[0] == frozenset({0, 20, 40})
    assert parse_schedule("cron(10-30/10 * * * ? *)").fields[0] == frozenset({10, 20, 30})


def test_lists_and_ranges():
    schedule = parse_schedule("cron(0 9,17 1-5 * ? *)")
    assert schedule.fields[1] == frozenset({9, 17})
    assert schedule.fields[2] == frozenset({1, 2, 3, 4, 5})
    assert schedule.next_after(at(2030, 1, 5, 17, 0)) == at(2030, 2, 1, 9, 0)


def test_year_field():
    schedule = parse_schedule("cron(0 0 1 1 ? 2032)")
    assert schedule.next_after(at(2030, 6, 1)) == at(2032, 1, 1, 0, 0)
    assert parse_schedule("cron(0 0 1 1 ? 2030-2031)").next_after(at(2030, 6, 1)) == at(2031, 1, 1, 0, 0)
    with pytest.raises(ScheduleError):
        parse_schedule("cron(0 0 1 1 ? 2029)").next_after(at(2030, 6, 1))  # already past: never fires


# -- cron: what is refused -------------------------------------------------------------------

@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 12 * * * *)",  # both day fields given
        "cron(0 12 1 * MON *)",
        "cron(0 12 1 * 2 *)",
        "cron(? 12 * * ? *)",  # ? only belongs in the day fields
        "cron(0 ? * * ? *)",
        "cron(0 12 * ? ? *)",
        "cron(0 12 * * ? ?)",
    ],
)
def test_question_mark_rules(expression):
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


def test_question_mark_in_either_day_field():
    assert parse_schedule("cron(0 12 ? * MON *)").fields[2] is None
    assert parse_schedule("cron(0 12 1 * ? *)").fields[4] is None


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 12 L * ? *)",
        "cron(0 12 LW * ? *)",
        "cron(0 12 15W * ? *)",
        "cron(0 12 ? * 6L *)",
        "cron(0 12 ? * L *)",
        "cron(0 12 ? * 3#1 *)",
        "cron(0 12 ? * FRI#2 *)",
        "cron(0 12 l * ? *)",
    ],
)
def test_l_w_and_hash_are_refused(expression):
    with pytest.raises(ScheduleError, match="not supported"):
        parse_schedule(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 12 * * ?)",  # five fields
        "cron(0 12 * * ? * *)",  # seven
        "cron()",
        "cron(* * * * *)",
    ],
)
def test_six_fields_are_required(expression):
    with pytest.raises(ScheduleError, match="six fields"):
        parse_schedule(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(60 * * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 0 0 * ? *)",
        "cron(0 0 32 * ? *)",
        "cron(0 0 1 13 ? *)",
        "cron(0 0 ? * 8 *)",
        "cron(0 0 1 1 ? 1969)",
        "cron(0/0 * * * ? *)",
        "cron(abc * * * ? *)",
        "cron(0 0 1 FOO ? *)",
        "cron(0 0 ? * FUNDAY *)",
        "cron(1-x * * * ? *)",
        "cron(/5 * * * ? *)",
        "cron(0,,5 * * * ? *)",
    ],
)
def test_bad_values_raise_schedule_error(expression):
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


def test_schedule_error_is_a_value_error():
    assert issubclass(ScheduleError, ValueError)
