"""The office's working-hours calendar: when someone is there to answer.

Deadlines ("a reply within 4 working hours") and "we are closed, we will answer
at 07:30 on Monday" both need the same calendar: working days of the week,
the working periods of a day (government offices close for lunch), public
holidays and the compensatory Saturdays worked to make up for a bridged
holiday. Everything here is pure: no clock is read, every function takes the
moments it needs, and they must be timezone-aware.

Durations are measured in real elapsed time (through UTC), so a calendar in a
zone with daylight-saving time counts an hour lost or gained correctly.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import ConfigError, _help

_KEY = "working_hours"
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PERIOD = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ONE_DAY = timedelta(days=1)
_Interval = tuple[datetime, datetime]  # one working period of one day, both ends in UTC


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


@dataclass(frozen=True)
class WorkingHours:
    """Working days, daily periods, holidays and extra workdays in one time zone.

    Periods are half-open: with 07:30-11:30 the office is open at 07:30:00
    and closed at 11:30:00.
    """

    timezone: str = _help("IANA time zone of the office hours.", "Asia/Ho_Chi_Minh")
    days: tuple[int, ...] = _help("Working weekdays, Monday = 0 ... Sunday = 6.", (0, 1, 2, 3, 4))
    periods: tuple[tuple[time, time], ...] = _help(
        "Working periods of a working day, in order (start, end).",
        ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0))),
    )
    holidays: frozenset[date] = _help(
        "Dates the office is closed, even on a working weekday.", frozenset()
    )
    extra_workdays: frozenset[date] = _help(
        "Dates worked although not a working weekday (compensatory Saturdays).", frozenset()
    )

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ConfigError(f"{_KEY}.timezone: unknown time zone {self.timezone!r}") from exc
        seen: set[int] = set()
        for i, day in enumerate(self.days):
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ConfigError(f"{_KEY}.days[{i}]: expected a weekday 0-6, got {day!r}")
            if day in seen:
                raise ConfigError(f"{_KEY}.days[{i}]: {_DAY_NAMES[day]} is listed twice")
            seen.add(day)
        previous_end: time | None = None
        for i, (start, end) in enumerate(self.periods):
            shown = f"'{_hhmm(start)}-{_hhmm(end)}'"
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ConfigError(f"{_KEY}.periods[{i}]: times must not carry a time zone")
            if start >= end:
                raise ConfigError(f"{_KEY}.periods[{i}]: start must be before end, got {shown}")
            if previous_end is not None and start < previous_end:
                raise ConfigError(
                    f"{_KEY}.periods[{i}]: periods must be increasing and non-overlapping, "
                    f"got {shown} after one ending at {_hhmm(previous_end)}"
                )
            previous_end = end
        if not self.days or not self.periods:
            raise ConfigError(f"{_KEY}: no working time in the week")
        both = sorted(self.holidays & self.extra_workdays)
        if both:
            raise ConfigError(f"{_KEY}.extra_workdays: {both[0].isoformat()} is also a holiday")

    @classmethod
    def from_config(
        cls,
        days: Sequence[str],
        periods: Sequence[str],
        holidays: Sequence[str],
        extra_workdays: Sequence[str],
        timezone: str,
        key: str,
    ) -> WorkingHours:
        """Build the calendar from config strings ("mon", "07:30-11:30", "2026-09-02").

        Every error is a ConfigError naming `key` and the item, e.g.
        ``working_hours.periods[1]: expected HH:MM-HH:MM, got '25:00-26:00'``.
        """
        parsed_days = tuple(_parse_day(v, f"{key}.days[{i}]") for i, v in enumerate(days))
        parsed_periods = tuple(
            _parse_period(v, f"{key}.periods[{i}]") for i, v in enumerate(periods)
        )
        parsed_holidays = frozenset(
            _parse_date(v, f"{key}.holidays[{i}]") for i, v in enumerate(holidays)
        )
        parsed_extra = frozenset(
            _parse_date(v, f"{key}.extra_workdays[{i}]") for i, v in enumerate(extra_workdays)
        )
        try:
            return cls(timezone, parsed_days, parsed_periods, parsed_holidays, parsed_extra)
        except ConfigError as exc:
            raise ConfigError(key + str(exc).removeprefix(_KEY)) from exc

    # -- days ---------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_workday(self, day: date) -> bool:
        """Tell whether `day` (a calendar date in the office's zone) is worked at all."""
        if day in self.extra_workdays:
            return True
        return day.weekday() in self.days and day not in self.holidays

    def _intervals(self, day: date) -> list[_Interval]:
        if not self.is_workday(day):
            return []
        zone = self.zone
        return [
            (
                datetime.combine(day, start, zone).astimezone(UTC),
                datetime.combine(day, end, zone).astimezone(UTC),
            )
            for start, end in self.periods
        ]

    def _days_from(self, moment: datetime) -> Iterator[tuple[date, list[_Interval]]]:
        """Every calendar day from the one `moment` falls on, with its working periods."""
        day = moment.astimezone(self.zone).date()
        while True:
            yield day, self._intervals(day)
            day += _ONE_DAY

    # -- moments ------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Tell whether `at` falls inside a working period."""
        moment = _utc(at, "at")
        _, intervals = next(self._days_from(moment))
        return any(start <= moment < end for start, end in intervals)

    def next_open(self, at: datetime) -> datetime:
        """Return `at` itself if open, else the start of the next working period."""
        moment = _utc(at, "at")
        # Ends: the week has working time and holidays are finite.
        for _, intervals in self._days_from(moment):
            for start, end in intervals:
                if moment < end:
                    return max(start, moment).astimezone(self.zone)
        raise AssertionError("unreachable")  # pragma: no cover

    def add_working_time(self, start: datetime, delta: timedelta) -> datetime:
        """Return the earliest moment by which `delta` of working time has passed since `start`.

        Time outside working periods does not count, so 1 hour from 11:00 is
        14:00 (lunch 11:30-13:30). A deadline that uses a period up exactly
        ends at its close (11:30), not at the next opening. The day the
        deadline falls on is found by bisection over whole days counted in
        closed form (`_span`), so a deadline months away costs as little as
        one tomorrow.
        """
        moment = _utc(start, "start")
        if delta < timedelta(0):
            raise ValueError(f"delta must not be negative, got {delta}")
        if not delta:
            return moment.astimezone(self.zone)
        first_day = moment.astimezone(self.zone).date()
        found = _consume(self._intervals(first_day), moment, delta)
        if isinstance(found, datetime):
            return found.astimezone(self.zone)
        remaining = found
        after = first_day + _ONE_DAY
        # The last day needed is the first X with _span(after, X + 1) >= remaining.
        week = self._week_length()
        low, high = after, after + timedelta(days=7 * (int(remaining / week) + 2))
        while self._span(after, high) < remaining:  # holidays pushed it further
            low, high = high, high + (high - after)
        while low < high:  # invariant: the day sought lies in [low, high)
            middle = low + timedelta(days=(high - low).days // 2)
            if self._span(after, middle + _ONE_DAY) >= remaining:
                high = middle
            else:
                low = middle + _ONE_DAY
        found = _consume(self._intervals(low), moment, remaining - self._span(after, low))
        assert isinstance(found, datetime)
        return found.astimezone(self.zone)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Return how much working time lies between `start` and `end` (zero if end <= start).

        The first and last days are measured period by period; the whole days
        between are counted in closed form, so the cost does not grow with
        the distance.
        """
        first, last = _utc(start, "start"), _utc(end, "end")
        if last <= first:
            return timedelta(0)
        zone = self.zone
        first_day, last_day = first.astimezone(zone).date(), last.astimezone(zone).date()
        if first_day == last_day:
            return _overlap(self._intervals(first_day), first, last)
        return (_overlap(self._intervals(first_day), first, last)
                + self._span(first_day + _ONE_DAY, last_day)
                + _overlap(self._intervals(last_day), first, last))

    # -- whole days in closed form ----------------------------------------------------

    def _day_length(self) -> timedelta:
        """A working day's nominal length (wall-clock time, before any DST change)."""
        return sum((_wall(end) - _wall(start) for start, end in self.periods), timedelta(0))

    def _week_length(self) -> timedelta:
        return self._day_length() * len(self.days)

    def _span(self, first: date, stop: date) -> timedelta:
        """Working time of the whole days in [first, stop), without walking them.

        Working weekdays are counted by whole weeks plus a table for the rest;
        holidays and extra workdays are sorted lists cut with bisect; days on
        which the clocks change get their real length (`_dst_corrections`).
        """
        if stop <= first:
            return timedelta(0)
        tables = _tables(self.days, self.holidays, self.extra_workdays)
        workdays = _weekdays_before(stop, tables.prefix) - _weekdays_before(first, tables.prefix)
        workdays -= bisect_left(tables.holidays, stop) - bisect_left(tables.holidays, first)
        workdays += bisect_left(tables.extra, stop) - bisect_left(tables.extra, first)
        total = self._day_length() * workdays
        for year in range(first.year, stop.year + 1):
            for day, correction in _dst_corrections(self.timezone, self.periods, year):
                if first <= day < stop and self.is_workday(day):
                    total += correction
        return total


@dataclass(frozen=True)
class _Tables:
    prefix: tuple[int, ...]  # working weekdays among Monday .. the day before weekday i (i = 0..7)
    holidays: list[date]  # holidays that fall on a working weekday, sorted
    extra: list[date]  # extra workdays that fall on a day off, sorted


@lru_cache(maxsize=64)
def _tables(days: tuple[int, ...], holidays: frozenset[date], extra: frozenset[date]) -> _Tables:
    prefix = [0]
    for weekday in range(7):
        prefix.append(prefix[-1] + (weekday in days))
    return _Tables(
        tuple(prefix),
        sorted(d for d in holidays if d.weekday() in days),
        sorted(d for d in extra if d.weekday() not in days),
    )


def _weekdays_before(day: date, prefix: tuple[int, ...]) -> int:
    """Working weekdays from 1 Jan of year 1 (a Monday) up to, not including, `day`."""
    weeks, rest = divmod(day.toordinal() - 1, 7)
    return weeks * prefix[7] + prefix[rest]


@lru_cache(maxsize=256)
def _dst_corrections(timezone: str, periods: tuple[tuple[time, time], ...],
                     year: int) -> tuple[tuple[date, timedelta], ...]:
    """Days of `year` whose working periods, were they worked, differ from their wall-clock length.

    The zone's offset is sampled at every UTC midnight of the year; only the
    days around a change are measured period by period. Offices in Vietnam
    have none; a zone with daylight-saving time has two a year at most.
    """
    zone = ZoneInfo(timezone)
    nominal = sum((_wall(end) - _wall(start) for start, end in periods), timedelta(0))
    sample = datetime(year, 1, 1, tzinfo=UTC) - _ONE_DAY
    offset = sample.astimezone(zone).utcoffset()
    suspects: set[date] = set()
    for _ in range(368):
        following = sample + _ONE_DAY
        following_offset = following.astimezone(zone).utcoffset()
        if following_offset != offset:
            day = sample.astimezone(zone).date() - _ONE_DAY
            while day <= following.astimezone(zone).date() + _ONE_DAY:
                suspects.add(day)
                day += _ONE_DAY
        sample, offset = following, following_offset
    corrections = []
    for day in sorted(d for d in suspects if d.year == year):
        real = sum((datetime.combine(day, end, zone).astimezone(UTC)
                    - datetime.combine(day, start, zone).astimezone(UTC) for start, end in periods),
                   timedelta(0))
        if real != nominal:
            corrections.append((day, real - nominal))
    return tuple(corrections)


def _wall(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second,
                     microseconds=moment.microsecond)


def _overlap(intervals: list[_Interval], first: datetime, last: datetime) -> timedelta:
    total = timedelta(0)
    for period_start, period_end in intervals:
        overlap = min(period_end, last) - max(period_start, first)
        if overlap > timedelta(0):
            total += overlap
    return total


def _consume(intervals: list[_Interval], moment: datetime, remaining: timedelta) -> datetime | timedelta:
    """The moment `remaining` working time after `moment` within these periods, or what is left over."""
    for period_start, period_end in intervals:
        if period_end <= moment:
            continue
        begin = max(period_start, moment)
        available = period_end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    return remaining


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def _parse_day(value: object, key: str) -> int:
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _DAY_NAMES:
        return _DAY_NAMES.index(text)
    if text in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(text)
    raise ConfigError(f"{key}: expected one of {', '.join(_DAY_NAMES)}, got {value!r}")


def _parse_period(value: object, key: str) -> tuple[time, time]:
    match = _PERIOD.match(value) if isinstance(value, str) else None
    if match:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60:
            start, end = time(h1, m1), time(h2, m2)
            if start >= end:
                raise ConfigError(f"{key}: start must be before end, got {value!r}")
            return start, end
    raise ConfigError(f"{key}: expected HH:MM-HH:MM, got {value!r}")


def _parse_date(value: object, key: str) -> date:
    # An unquoted date in YAML already arrives as a date; accept it too.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{key}: expected a date YYYY-MM-DD, got {value!r}")
