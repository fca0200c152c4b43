"""What "answered" means, in one place: the admin page and the monthly report both count with it.

A logged question counts as answered when

* the official pressed "Đã giải quyết" (feedback `solved`); or
* the bot gave one answer (decision `answer`), or the official picked an entry
  from a "did you mean" list (feedback `picked:<entry>`), and within
  `FOLLOW_UP` the same official neither asked again on that topic nor opened
  a ticket. "Again on that topic": their next question was answered with the
  same entry, or the FAQ gave no single answer to it (nothing found, or a list
  nobody picked from) and either offered that entry among its guesses or the
  words mostly repeat the first question — a rephrasing.

Everything else is not answered: nothing found; "not right", "none of these"
or a ticket from the answer's buttons; a "did you mean" list with no pick.
The former figure counted every answer and every list as help; an ignored
list or an answer followed by the same question again is not.

Reading only: a connection (sqlite3 or sqlite-utils) and a time range in.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rapidfuzz import fuzz

from bot.language.text import fold

FOLLOW_UP = timedelta(minutes=30)
REPEATS = 70.0  # token_set_ratio of two questions' folded words at which the second repeats the first
PICKED = "picked:"


@dataclass(frozen=True)
class Asked:
    id: int
    user_id: int | None
    at: datetime
    decision: str
    feedback: str
    entry_id: str | None
    candidates: tuple[str, ...] = ()
    query: str = ""

    def repeats(self, other: Asked) -> bool:
        """Whether this question mostly repeats the other's words (a rephrasing), on the accent-folded text."""
        mine, theirs = fold(self.query), fold(other.query)
        return bool(mine and theirs) and fuzz.token_set_ratio(mine, theirs) >= REPEATS

    @property
    def topic(self) -> str | None:
        """The entry the official ended up with: the one answered with, or the one picked."""
        if self.feedback.startswith(PICKED):
            return self.feedback[len(PICKED):]
        return self.entry_id if self.decision == "answer" else None


def is_answered(asked: Asked, following: Asked | None, ticket_at: datetime | None) -> bool:
    """The definition above, for one question, its official's next question and their next ticket."""
    if asked.feedback == "solved":
        return True
    if asked.topic is None or (asked.feedback and not asked.feedback.startswith(PICKED)):
        return False
    deadline = asked.at + FOLLOW_UP
    if ticket_at is not None and ticket_at <= deadline:
        return False
    if following is not None and following.at <= deadline:
        if following.topic is not None:
            return following.topic != asked.topic
        return asked.topic not in following.candidates and not following.repeats(asked)
    return True


def answered_ids(conn: Any, lo: str, hi: str) -> set[int]:
    """The ids of the questions logged in [lo, hi) that count as answered."""
    until = _iso(datetime.fromisoformat(hi) + FOLLOW_UP)
    by_user: dict[int | None, list[Asked]] = defaultdict(list)
    for row in conn.execute(
            "select id, user_id, at, decision, feedback, entry_id, candidates, query from query_log "
            "where at >= ? and at < ? order by id", [lo, until]):
        by_user[row[1]].append(Asked(row[0], row[1], datetime.fromisoformat(row[2]), row[3] or "",
                                     row[4] or "", row[5], tuple(_ids(row[6])), row[7] or ""))
    tickets: dict[int, list[datetime]] = defaultdict(list)
    for user_id, created in conn.execute(
            "select user_id, created_at from tickets where created_at >= ? and created_at < ? order by created_at",
            [lo, until]):
        tickets[user_id].append(datetime.fromisoformat(created))
    hi_at = datetime.fromisoformat(hi)
    answered = set()
    for user_id, asked in by_user.items():
        opened = tickets.get(user_id, []) if user_id is not None else []
        for i, question in enumerate(asked):
            if question.at >= hi_at:
                break
            following = asked[i + 1] if user_id is not None and i + 1 < len(asked) else None
            k = bisect.bisect_left(opened, question.at)  # a ticket in the same second came after it
            if is_answered(question, following, opened[k] if k < len(opened) else None):
                answered.add(question.id)
    return answered


@dataclass(frozen=True)
class Share:
    questions: int
    answered: int

    @property
    def percent(self) -> str:
        return f"{100 * self.answered / self.questions:.0f}%" if self.questions else "-"


def answered_share(conn: Any, lo: datetime, hi: datetime) -> Share:
    """How many questions were logged in [lo, hi), and how many of them count as answered."""
    questions = conn.execute("select count(*) from query_log where at >= ? and at < ?",
                             [_iso(lo), _iso(hi)]).fetchone()[0]
    return Share(questions, len(answered_ids(conn, _iso(lo), _iso(hi))))


def answered_lately(conn: Any, now: datetime, days: int = 30) -> Share:
    """The share over the last `days` days, this very second included."""
    return answered_share(conn, now - timedelta(days=days), now + timedelta(seconds=1))


def _ids(candidates: str | None) -> list[str]:
    try:
        ids = json.loads(candidates or "[]")
    except ValueError:
        return []
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
