"""The questions the FAQ still misses, as an admin wants to read them: real questions, grouped, dated.

What is left out, always:

* noise: emoji, thanks, "ok", greetings, star ratings (bot.desk.chatter) and
  anything without a letter or digit;
* what went into a ticket: a question whose answer's buttons opened a ticket
  (a technician has it), and whatever an official wrote while they had a
  ticket open (answers to the technician that reached the FAQ instead);
* wordings an admin dismissed, or snoozed until a date (table
  `unanswered_marks`, with who and when).

Personal data is never shown: e-mail addresses, phone numbers and ID numbers
are masked before anything is grouped or displayed.

Similar wordings (rapidfuzz on the accent-folded text) form one cluster with
its counts: all in the horizon, this week, the last four weeks, first and
last seen. Reading only; the admin page runs it in a worker thread.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rapidfuzz import fuzz, process

from bot import messages as msg
from bot.desk.chatter import chatter, stars
from bot.language.text import fold

HORIZON = timedelta(days=90)  # how far back the list looks
MAX_ROWS = 20_000  # logged questions read at most (the newest), so the work stays bounded
MAX_WORDINGS = 4_000  # distinct wordings clustered at most (the most frequent)
SIMILARITY = 80.0  # token_set_ratio on folded text at which two wordings are one question
SAME_ORDERED = 60.0  # and token_sort_ratio at least this: a few shared words inside a longer question are not enough
SNOOZE_DAYS = (7, 30)
UNANSWERED_FEEDBACK = ("not_right", "none_of_these")
# Politeness and address words that say nothing about the question ("… với ạ", "anh ơi", "bên em"):
# left out when wordings are compared, or they would make unrelated questions look alike.
PARTICLES = frozenset({"a", "ak", "ah", "oi", "anh", "chi", "em", "ben", "voi", "gap", "vay", "nhe", "nha", "giup",
                       "nhi", "the", "ha", "ad", "admin", "bot", "minh", "ban", "nhe", "cho", "hoi"})

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", re.UNICODE)
PHONE = re.compile(r"(?<!\d)(\+?84|0)[\s.-]?\d{2,3}([\s.-]?\d{3}){2}\d?(?!\d)")
ID_NUMBER = re.compile(r"(?<!\d)\d{9}(\d{3})?(?!\d)")  # CMND (9 digits) or CCCD (12)


def mask(text: str) -> str:
    """The text with e-mail addresses, phone numbers and ID numbers replaced by what they are."""
    text = EMAIL.sub(msg.MASKED_EMAIL, text)
    text = PHONE.sub(msg.MASKED_PHONE, text)
    return ID_NUMBER.sub(msg.MASKED_ID_NUMBER, text)


def is_noise(text: str) -> bool:
    """Not a question: thanks, greetings, "ok", emoji, a rating, or nothing a person could read as one."""
    return chatter(text) is not None or stars(text) is not None or not fold(text).strip()


def key_of(text: str) -> str:
    """The wording's identity: masked, accent-folded, spaces collapsed (what dismiss and snooze remember)."""
    return " ".join(fold(mask(text)).split())


def gist(key: str) -> str:
    """A wording's key without its politeness words: what similarity is measured on."""
    return " ".join(w for w in key.split() if w not in PARTICLES) or key


@dataclass
class Cluster:
    key: str  # the most asked wording's key
    text: str  # that wording, masked
    count: int = 0
    this_week: int = 0
    four_weeks: int = 0
    first_seen: str = ""
    last_seen: str = ""
    why: Counter[str] = field(default_factory=Counter)  # decision / feedback -> times
    wordings: list[tuple[str, str, int]] = field(default_factory=list)  # (key, masked text, times), most first

    @property
    def others(self) -> list[str]:
        return [text for _, text, _ in self.wordings[1:]]

    @property
    def keys(self) -> list[str]:
        return [key for key, _, _ in self.wordings]


def marked_keys(conn: Any, now: datetime) -> set[str]:
    """Wordings dismissed, or snoozed until later than now."""
    return {k for (k,) in conn.execute("select key from unanswered_marks where until is null or until > ?",
                                       [now.isoformat(timespec="seconds")])}


def collect(conn: Any, now: datetime, max_rows: int = MAX_ROWS) -> list[Cluster]:
    """The clusters of unanswered questions of the last HORIZON (the newest `max_rows`), the most asked first."""
    since = (now - HORIZON).isoformat(timespec="seconds")
    week = (now - timedelta(days=7)).isoformat(timespec="seconds")
    month = (now - timedelta(days=28)).isoformat(timespec="seconds")
    hidden = marked_keys(conn, now)
    marks = ",".join("?" * len(UNANSWERED_FEEDBACK))
    rows = conn.execute(
        f"select q.at, q.query, q.decision, q.feedback from query_log q where q.at >= ? "
        f"and (q.decision = 'none' and q.feedback is null or q.feedback in ({marks})) "
        "and not exists (select 1 from tickets t where t.user_id = q.user_id and t.created_at <= q.at "
        "  and coalesce(t.resolved_at, t.closed_at, '9999') > q.at) "
        "order by q.at desc limit ?", [since, *UNANSWERED_FEEDBACK, max_rows])
    wordings: dict[str, Cluster] = {}
    keys: dict[str, str] = {}  # the same text is logged many times: judge and fold it once
    for at, query, decision, feedback in rows:
        key = keys.get(query)
        if key is None:
            key = keys[query] = "" if not query or is_noise(query) else key_of(query)
        if not key or key in hidden:
            continue
        one = wordings.get(key)
        if one is None:
            one = wordings[key] = Cluster(key, mask(" ".join(query.split())), first_seen=at, last_seen=at)
        one.count += 1
        one.this_week += at >= week
        one.four_weeks += at >= month
        one.first_seen, one.last_seen = min(one.first_seen, at), max(one.last_seen, at)
        one.why[feedback or decision] += 1
    # The most asked first; at equal counts the shortest (the question without its extra words).
    return _merge(sorted(wordings.values(), key=lambda c: (-c.count, len(c.key), c.key))[:MAX_WORDINGS])


def _merge(wordings: list[Cluster]) -> list[Cluster]:
    """Greedy clustering, the most asked wording first: each joins the first cluster it is similar to."""
    clusters: list[Cluster] = []
    heads: list[str] = []
    for one in wordings:
        found = _similar(gist(one.key), heads)
        if found is None:
            heads.append(gist(one.key))
            clusters.append(Cluster(one.key, one.text, wordings=[]))
            target = clusters[-1]
        else:
            target = clusters[found]
        target.wordings.append((one.key, one.text, one.count))
        target.count += one.count
        target.this_week += one.this_week
        target.four_weeks += one.four_weeks
        target.first_seen = min(filter(None, (target.first_seen, one.first_seen)))
        target.last_seen = max(target.last_seen, one.last_seen)
        target.why.update(one.why)
    return sorted(clusters, key=lambda c: (-c.count, c.key))


def _similar(gist_key: str, heads: list[str]) -> int | None:
    """The first cluster head this wording is one question with: nearly all its words shared
    (token_set_ratio), and not merely a few words inside a longer, different question (token_sort_ratio)."""
    # token_sort_ratio is the cheaper of the two: it picks the few heads worth the token_set comparison.
    for _, _, index in process.extract(gist_key, heads, scorer=fuzz.token_sort_ratio, score_cutoff=SAME_ORDERED,
                                       limit=5):
        if fuzz.token_set_ratio(gist_key, heads[index]) >= SIMILARITY:
            return index
    return None


def mark(db: Any, keys: list[str], state: str, until: datetime | None, by: str, now: datetime, shown: str) -> None:
    """Dismiss (until None) or snooze wordings; on the writer thread (one transaction)."""
    with db.atomic():
        for key in keys:
            db["unanswered_marks"].upsert({"key": key, "state": state, "by": by, "shown": shown[:300],
                                           "until": until.isoformat(timespec="seconds") if until else None,
                                           "at": now.isoformat(timespec="seconds")}, pk="key")
