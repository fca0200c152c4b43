"""The working-hours calendar: open or closed, next opening, deadlines in working time."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError
from bot.desk.workhours import WorkingHours

VN = ZoneInfo("Asia/Ho_Chi_Minh")
# Week of 31 Aug 2026: Mon 31, Tue 1 and Wed 2 Sep are National Day holidays,
# Sat 12 Sep is worked to make up for it.
HOLIDAYS = frozenset({date(2026, 9, 1), date(2026, 9, 2)})
EXTRA = frozenset({date(2026, 9, 12)})
HOURS = WorkingHours(holidays=HOLIDAYS, extra_workdays=EXTRA)


def at(day: int, hh: int, mm: int = 0, month: int = 9) -> datetime:
    """A moment of 2026 in Vietnam time (September unless told: Fri 4, Mon 7, Sat 12 extra)."""
    return datetime(2026, month, day, hh, mm, tzinfo=VN)


def config(**overrides: object) -> WorkingHours:
    args: dict[str, object] = {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "periods": ["07:30-11:30", "13:30-17:00"],
        "holidays": ["2026-09-01", "2026-09-02"],
        "extra_workdays": ["2026-09-12"],
        "timezone": "Asia/Ho_Chi_Minh",
        "key": "working_hours",
    }
    args.update(overrides)
    return WorkingHours.from_config(**args)  # type: ignore[arg-type]


# -- defaults and config --------------------------------------------------------


def test_defaults_are_vietnamese_government_office_hours() -> None:
    hours = WorkingHours()
    assert (hours.timezone, hours.days, hours.periods, hours.holidays, hours.extra_workdays) == (
        "Asia/Ho_Chi_Minh",
        (0, 1, 2, 3, 4),
        ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0))),
        frozenset(),
        frozenset(),
    )


def test_config_strings_build_the_same_calendar() -> None:
    assert config() == HOURS


def test_config_accepts_day_names_in_any_case_and_dates_already_parsed_by_yaml() -> None:
    hours = config(days=["Mon", "SATURDAY"], holidays=[date(2026, 9, 2)])
    assert (hours.days, hours.holidays) == ((0, 5), frozenset({date(2026, 9, 2)}))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"periods": ["07:30-11:30", "25:00-26:00"]},
         "working_hours.periods[1]: expected HH:MM-HH:MM, got '25:00-26:00'"),
        ({"periods": ["7h30-11h30"]},
         "working_hours.periods[0]: expected HH:MM-HH:MM, got '7h30-11h30'"),
        ({"periods": ["11:30-07:30"]},
         "working_hours.periods[0]: start must be before end, got '11:30-07:30'"),
        ({"periods": ["07:30-11:30", "11:00-17:00"]},
         ("working_hours.periods[1]: periods must be increasing and non-overlapping, "
          "got '11:00-17:00' after one ending at 11:30")),
        ({"periods": ["13:30-17:00", "07:30-11:30"]},
         ("working_hours.periods[1]: periods must be increasing and non-overlapping, "
          "got '07:30-11:30' after one ending at 17:00")),
        ({"days": ["mon", "thứ hai"]},
         ("working_hours.days[1]: expected one of mon, tue, wed, thu, fri, sat, sun, "
          "got 'thứ hai'")),
        ({"days": ["mon", "mon"]}, "working_hours.days[1]: mon is listed twice"),
        ({"holidays": ["2026-09-02", "2026-13-01"]},
         "working_hours.holidays[1]: expected a date YYYY-MM-DD, got '2026-13-01'"),
        ({"extra_workdays": ["12/9/2026"]},
         "working_hours.extra_workdays[0]: expected a date YYYY-MM-DD, got '12/9/2026'"),
        ({"extra_workdays": ["2026-09-02"]},
         "working_hours.extra_workdays: 2026-09-02 is also a holiday"),
        ({"timezone": "Asia/Hanoi"}, "working_hours.timezone: unknown time zone 'Asia/Hanoi'"),
        ({"days": []}, "working_hours: no working time in the week"),
        ({"periods": []}, "working_hours: no working time in the week"),
    ],
)
def test_a_wrong_config_value_is_refused_naming_its_key(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        config(**overrides)
    assert str(info.value) == message


def test_errors_name_the_key_the_caller_gives() -> None:
    with pytest.raises(ConfigError) as info:
        config(key="support.hours", days=[])
    assert str(info.value) == "support.hours: no working time in the week"


def test_a_calendar_without_working_time_cannot_be_built_directly_either() -> None:
    with pytest.raises(ConfigError) as info:
        WorkingHours(days=())
    assert str(info.value) == "working_hours: no working time in the week"


# -- is_open ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(7, 7, 29), False),   # Monday, before opening
        (at(7, 7, 30), True),    # opening minute
        (at(7, 11, 29), True),
        (at(7, 11, 30), False),  # lunch starts: periods are half-open
        (at(7, 12, 30), False),  # lunch break
        (at(7, 13, 30), True),
        (at(7, 16, 59), True),
        (at(7, 17, 0), False),   # closing time
        (at(7, 22, 0), False),   # evening
    ],
)
def test_open_only_inside_the_periods_of_a_working_day(moment: datetime, expected: bool) -> None:
    assert HOURS.is_open(moment) is expected


@pytest.mark.parametrize(
    "moment", [at(5, 9), at(6, 9), at(13, 9)], ids=["saturday", "sunday", "next-sunday"]
)
def test_closed_at_the_weekend(moment: datetime) -> None:
    assert HOURS.is_open(moment) is False


def test_closed_on_a_holiday_that_falls_on_a_weekday() -> None:
    assert HOURS.is_open(at(2, 9)) is False


def test_open_on_a_compensatory_saturday() -> None:
    assert HOURS.is_open(at(12, 9)) is True


def test_a_utc_moment_is_read_in_the_calendars_zone() -> None:
    # 02:00 UTC is 09:00 in Vietnam; 11:00 UTC is 18:00 there.
    assert (HOURS.is_open(datetime(2026, 9, 7, 2, 0, tzinfo=UTC)),
            HOURS.is_open(datetime(2026, 9, 7, 11, 0, tzinfo=UTC))) == (True, False)


def test_a_utc_moment_late_at_night_belongs_to_the_next_local_day() -> None:
    # Sunday 23:30 UTC is Monday 06:30 in Vietnam: closed, opening at 07:30 Monday.
    assert HOURS.next_open(datetime(2026, 9, 6, 23, 30, tzinfo=UTC)) == at(7, 7, 30)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        HOURS.is_open(datetime(2026, 9, 7, 9, 0))


# -- next_open ----------------------------------------------------------------


def test_next_open_is_the_moment_itself_when_open() -> None:
    assert HOURS.next_open(at(7, 9, 15)) == at(7, 9, 15)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(4, 18, 0), at(7, 7, 30)),     # Friday evening -> Monday morning
        (at(7, 6, 0), at(7, 7, 30)),      # early morning -> same day
        (at(7, 11, 30), at(7, 13, 30)),   # lunch -> afternoon
        (at(31, 17, 0, month=8), at(3, 7, 30)),  # Monday evening -> over the two holidays
        (at(11, 17, 0), at(12, 7, 30)),   # Friday before a compensatory Saturday
    ],
)
def test_next_open_is_the_start_of_the_next_period(moment: datetime, expected: datetime) -> None:
    assert HOURS.next_open(moment) == expected


def test_next_open_answers_in_the_calendars_zone() -> None:
    result = HOURS.next_open(datetime(2026, 9, 4, 11, 0, tzinfo=UTC))  # Friday 18:00 in Vietnam
    assert (result, result.tzinfo) == (at(7, 7, 30), VN)


# -- add_working_time -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "delta", "expected"),
    [
        (at(7, 8, 0), timedelta(hours=2), at(7, 10, 0)),                # within a period
        (at(7, 11, 0), timedelta(hours=1), at(7, 14, 0)),               # across lunch
        (at(7, 11, 0), timedelta(minutes=30), at(7, 11, 30)),           # ends exactly at lunch
        (at(7, 16, 0), timedelta(hours=2), at(8, 8, 30)),               # overnight
        (at(7, 20, 0), timedelta(hours=1), at(8, 8, 30)),               # starts after closing
        (at(7, 12, 0), timedelta(hours=1), at(7, 14, 30)),              # starts during lunch
        (at(11, 16, 0), timedelta(hours=2), at(12, 8, 30)),             # Fri -> compensatory Sat
        (at(18, 16, 0), timedelta(hours=2), at(21, 8, 30)),             # Friday -> Monday
        (at(19, 10, 0), timedelta(hours=1), at(21, 8, 30)),             # starts at the weekend
        (at(31, 16, 0, month=8), timedelta(hours=2), at(3, 8, 30)),     # over two holidays
    ],
)
def test_working_time_is_added_skipping_closed_time(
    start: datetime, delta: timedelta, expected: datetime
) -> None:
    assert HOURS.add_working_time(start, delta) == expected


def test_a_full_working_day_from_opening_ends_at_closing() -> None:
    assert HOURS.add_working_time(at(7, 7, 30), timedelta(hours=7, minutes=30)) == at(7, 17, 0)


def test_weeks_of_working_time_skip_whole_days() -> None:
    # 3 weeks of 5 days x 7.5 h from Monday 14 Sep 07:30 ends Friday 2 Oct 17:00.
    start = at(14, 7, 30)
    assert WorkingHours().add_working_time(start, timedelta(hours=3 * 5 * 7.5)) == datetime(
        2026, 10, 2, 17, 0, tzinfo=VN
    )


def test_adding_nothing_gives_the_start_even_when_closed() -> None:
    assert HOURS.add_working_time(at(6, 10, 0), timedelta(0)) == at(6, 10, 0)


def test_a_negative_delta_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        HOURS.add_working_time(at(7, 9), timedelta(hours=-1))


def test_a_utc_start_gives_a_deadline_in_the_calendars_zone() -> None:
    # Friday 09:00 UTC is 16:00 in Vietnam: one hour left, then Saturday 12 (extra workday).
    result = HOURS.add_working_time(datetime(2026, 9, 11, 9, 0, tzinfo=UTC), timedelta(hours=2))
    assert (result, result.tzinfo) == (at(12, 8, 30), VN)


# -- working_time_between ------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (at(7, 8, 0), at(7, 10, 0), timedelta(hours=2)),
        (at(7, 11, 0), at(7, 14, 0), timedelta(hours=1)),                  # lunch does not count
        (at(7, 0, 0), at(8, 0, 0), timedelta(hours=7, minutes=30)),         # one whole day
        (at(11, 16, 0), at(14, 8, 30), timedelta(hours=1 + 7.5 + 1)),     # Fri, extra Sat, Mon
        (at(18, 16, 0), at(21, 8, 30), timedelta(hours=2)),                # ordinary weekend
        (at(31, 17, 0, month=8), at(3, 7, 30), timedelta(0)),              # holidays only
        (at(6, 9, 0), at(6, 10, 0), timedelta(0)),                         # a Sunday
    ],
)
def test_working_time_between_counts_only_working_periods(
    start: datetime, end: datetime, expected: timedelta
) -> None:
    assert HOURS.working_time_between(start, end) == expected


@pytest.mark.parametrize("end", [at(7, 9, 0), at(7, 8, 0)], ids=["equal", "before"])
def test_working_time_between_is_zero_when_end_is_not_after_start(end: datetime) -> None:
    assert HOURS.working_time_between(at(7, 9, 0), end) == timedelta(0)


def test_working_time_between_accepts_utc_and_local_moments_together() -> None:
    # 01:00 UTC = 08:00 in Vietnam.
    start = datetime(2026, 9, 7, 1, 0, tzinfo=UTC)
    assert HOURS.working_time_between(start, at(7, 10, 0)) == timedelta(hours=2)


@pytest.mark.parametrize(
    ("start", "delta"),
    [
        (at(7, 8, 0), timedelta(hours=5)),
        (at(11, 20, 0), timedelta(hours=9)),
        (at(31, 9, month=8), timedelta(days=4)),
    ],
)
def test_working_time_between_undoes_add_working_time(start: datetime, delta: timedelta) -> None:
    assert HOURS.working_time_between(start, HOURS.add_working_time(start, delta)) == delta


def test_time_lost_to_a_daylight_saving_change_is_not_counted() -> None:
    # Berlin skips 02:00-03:00 on Sunday 29 March 2026: 01:00-04:00 holds two real hours.
    berlin = ZoneInfo("Europe/Berlin")
    hours = WorkingHours(timezone="Europe/Berlin", days=(6,), periods=((time(1, 0), time(4, 0)),))
    start = datetime(2026, 3, 29, 0, 0, tzinfo=berlin)
    end = datetime(2026, 3, 29, 5, 0, tzinfo=berlin)
    assert (hours.working_time_between(start, end),
            hours.add_working_time(start, timedelta(hours=2))) == (
        timedelta(hours=2), datetime(2026, 3, 29, 4, 0, tzinfo=berlin)
    )


# -- closed form against the day-by-day walk -------------------------------------


def walk_between(hours: WorkingHours, start: datetime, end: datetime) -> timedelta:
    """The former day-by-day walk, kept as the reference the closed form must equal."""
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    total, day = timedelta(0), first.astimezone(hours.zone).date()
    while last > first and day <= last.astimezone(hours.zone).date():
        for period_start, period_end in hours._intervals(day):
            total += max(min(period_end, last) - max(period_start, first), timedelta(0))
        day += timedelta(days=1)
    return total


def walk_add(hours: WorkingHours, start: datetime, delta: timedelta) -> datetime:
    """The former day-by-day walk for deadlines."""
    moment, remaining = start.astimezone(UTC), delta
    day = moment.astimezone(hours.zone).date()
    while remaining:
        for period_start, period_end in hours._intervals(day):
            if period_end <= moment:
                continue
            begin = max(period_start, moment)
            if remaining <= period_end - begin:
                return (begin + remaining).astimezone(hours.zone)
            remaining -= period_end - begin
        day += timedelta(days=1)
    return moment.astimezone(hours.zone)


def random_calendars() -> list[WorkingHours]:
    rng = random.Random(13)
    days = [date(2025, 1, 1) + timedelta(days=n) for n in rng.sample(range(900), 60)]
    return [
        HOURS,
        WorkingHours(holidays=frozenset(days[:40]), extra_workdays=frozenset(days[40:])),
        WorkingHours(timezone="Europe/Berlin", days=(0, 2, 4, 6),
                     periods=((time(1, 0), time(4, 0)), (time(9, 0), time(17, 30)))),
        WorkingHours(timezone="America/New_York", days=(5, 6), periods=((time(0, 30), time(23, 30)),),
                     holidays=frozenset(d for d in days if d.weekday() >= 5)),
    ]


@pytest.mark.parametrize("hours", random_calendars(), ids=["vn", "many-holidays", "berlin", "new-york"])
def test_closed_form_equals_the_day_walk_on_random_instants(hours: WorkingHours) -> None:
    rng = random.Random(hours.timezone)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(150):
        start = base + timedelta(seconds=rng.randrange(2 * 365 * 86400))
        end = start + timedelta(seconds=rng.choice([rng.randrange(86400), rng.randrange(400 * 86400)]))
        delta = timedelta(minutes=rng.choice([rng.randrange(600), rng.randrange(300_000)]))
        assert (hours.working_time_between(start, end), hours.add_working_time(start, delta)) == (
            walk_between(hours, start, end), walk_add(hours, start, delta))


def test_two_years_of_working_time_cost_no_more_than_a_day() -> None:
    start = at(7, 8)
    calls_for = {}
    for span in (timedelta(days=1), timedelta(days=730)):
        calls = 0
        original = WorkingHours._intervals

        def counting(self: WorkingHours, day: date) -> list:
            nonlocal calls
            calls += 1
            return original(self, day)

        WorkingHours._intervals = counting  # type: ignore[method-assign]
        try:
            HOURS.working_time_between(start, start + span)
            HOURS.add_working_time(start, span)
        finally:
            WorkingHours._intervals = original  # type: ignore[method-assign]
        calls_for[span.days] = calls
    assert calls_for == {1: 4, 730: 4}
