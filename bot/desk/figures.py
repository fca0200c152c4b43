"""The admin's figures, read from aggregates and indexes, never by reading every ticket.

After two years a desk has tens of thousands of tickets and hundreds of
thousands of logged questions; the admin page must not read them all on each
view. So each figure comes from something that stays small:

* recent tickets by week, system and commune: the index on `created_at`
  gives the last weeks' rows only, grouped in SQL;
* the share of questions answered without a ticket: `query_stats`, counts
  kept by triggers as questions are logged and judged (migration m012);
* median first-response and resolution times: indexes on the durations
  themselves, so the median is one seek into the middle of an index.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlite_utils import Database

_FIRST_RESPONSE = "(julianday(first_response_at) - julianday(created_at)) * 1440"
_RESOLUTION = "(julianday(resolved_at) - julianday(created_at)) * 1440"


@dataclass(frozen=True)
class Figures:
    by_week: list[tuple[str, int]]  # ISO week ("2026-W48") -> tickets opened, oldest first
    by_system: Counter[str]  # system id ("" when none) -> tickets opened in the period
    by_commune: Counter[str]  # commune id ("" when none) -> tickets opened in the period
    questions: int  # questions ever logged
    helped: int  # answered or clarified, and not escalated afterwards
    median_first_response: float | None  # minutes, over every ticket ever answered
    median_resolution: float | None  # minutes, over every ticket ever resolved


def recent_figures(db: Database, now: datetime, weeks: int = 8) -> Figures:
    """The figures the admin page shows: tickets of the last `weeks`, questions and times of all time."""
    since = (now.astimezone(UTC) - timedelta(weeks=weeks)).isoformat(timespec="seconds")
    by_week: Counter[str] = Counter()
    for day, n in db.execute("select substr(created_at, 1, 10), count(*) from tickets "
                             "where created_at >= ? group by 1", [since]):
        by_week[date.fromisoformat(day).strftime("%G-W%V")] += n
    by_system: Counter[str] = Counter(dict(db.execute(
        "select coalesce(system_id, ''), count(*) from tickets where created_at >= ? group by 1", [since]).fetchall()))
    by_commune: Counter[str] = Counter(dict(db.execute(
        "select coalesce(commune_id, ''), count(*) from tickets where created_at >= ? group by 1", [since]).fetchall()))
    questions = helped = 0
    for decision, feedback, n in db.execute("select decision, feedback, n from query_stats"):
        questions += n
        if decision in ("answer", "clarify") and feedback != "escalated":
            helped += n
    return Figures(sorted(by_week.items()), by_system, by_commune, questions, helped,
                   _median(db, _FIRST_RESPONSE, "first_response_at", "tickets_first_response_minutes"),
                   _median(db, _RESOLUTION, "resolved_at", "tickets_resolution_minutes"))


def _median(db: Database, expression: str, column: str, index: str) -> float | None:
    """The median of an indexed duration: count, then read the one or two middle values (both in the index)."""
    where = f"{column} is not null"
    n = db.execute(f"select count(*) from tickets indexed by {index} where {where}").fetchone()[0]
    if not n:
        return None
    middle = [v for (v,) in db.execute(
        f"select {expression} from tickets indexed by {index} where {where} order by {expression} limit ? offset ?",
        [2 - n % 2, (n - 1) // 2])]
    return sum(middle) / len(middle)
