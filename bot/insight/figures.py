"""The training-needs figures for one month: what the help desk's own traffic says.

Pure reading: a database connection, the FAQ, the commune names and the
office calendar in; plain numbers out. The HTML, the charts and the CSV files
are made from these figures elsewhere, so tests can check every number here
against a database whose true figures they know.

Definitions (also printed at the foot of the report):
- a question belongs to the commune of the official who asked it, and to the
  system of the FAQ entry it was answered with (or picked, or offered first);
  a question with no entry belongs to no system ("Khác");
- helpful: the official pressed "Đã giải quyết";
- answered: helpful, or answered (or an entry picked from a "did you mean"
  list) and nothing more asked on it nor a ticket within 30 minutes — the one
  definition the admin page uses too (bot.insight.answered, docs/insight.md);
- unanswered: the FAQ found nothing, or the official said the answer was not
  right or none of the offered questions fitted;
- a repeated how-to: one commune asked the same entry at least `repeat_min`
  times in the month. That is a training need, not an outage;
- times are in office hours (the SLA's own calendar): first response from
  creation to a technician's first reply, claim or status change; resolution
  from creation to the (last) resolution;
- an SLA breach: the first response or the resolution took longer than the
  target for the ticket's urgency, or the ticket is still open past it at the
  end of the month;
- tickets that belong to a shared outage (an incident) are counted as
  tickets, and also apart, but not as a training need.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bot.config import SlaConfig
from bot.desk.workhours import WorkingHours
from bot.insight.answered import answered_ids
from bot.knowledge.base import KnowledgeBase

REPEAT_MIN = 3
OTHER = "khac"  # the system of a question no FAQ entry fits


@dataclass
class Row:
    """One commune's or one system's month."""

    key: str
    name: str
    questions: int = 0
    helpful: int = 0
    answered: int = 0  # bot.insight.answered: helpful, or nothing more asked on it
    unanswered: int = 0
    escalated_after_answer: int = 0
    tickets: int = 0
    outage_tickets: int = 0
    repeated: int = 0  # repeated how-to questions (all asks of entries asked >= repeat_min times)
    repeated_entries: list[tuple[str, int]] = field(default_factory=list)  # (entry id, times)
    first_response_hours: list[float] = field(default_factory=list)
    resolution_hours: list[float] = field(default_factory=list)
    sla_breaches: int = 0
    ratings: list[int] = field(default_factory=list)

    @property
    def median_first_response(self) -> float | None:
        return statistics.median(self.first_response_hours) if self.first_response_hours else None

    @property
    def median_resolution(self) -> float | None:
        return statistics.median(self.resolution_hours) if self.resolution_hours else None

    @property
    def mean_rating(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None


@dataclass
class Need:
    """A commune or topic that needs training, with the score and the reasons behind it."""

    key: str
    name: str
    score: int
    reasons: list[str]


@dataclass
class MonthFigures:
    month: str  # YYYY-MM
    communes: dict[str, Row]
    systems: dict[str, Row]
    total: Row
    commune_needs: list[Need]
    topic_needs: list[Need]
    weekly: list[tuple[str, int, int]]  # (week label, questions, tickets)


def month_bounds(month: str, calendar: WorkingHours) -> tuple[datetime, datetime]:
    """The month's first and next month's first instant, local midnight, as aware datetimes."""
    year, mon = (int(x) for x in month.split("-"))
    start = datetime.combine(date(year, mon, 1), time(0), tzinfo=calendar.zone)
    end = datetime.combine(date(year + mon // 12, mon % 12 + 1, 1), time(0), tzinfo=calendar.zone)
    return start, end


def previous_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", [name]).fetchone() is not None


def compute(conn: sqlite3.Connection, month: str, kb: KnowledgeBase, commune_names: dict[str, str],
            calendar: WorkingHours, sla: SlaConfig, repeat_min: int = REPEAT_MIN) -> MonthFigures:
    """Every figure of the report for `month` (YYYY-MM, the office's time zone)."""
    start, end = month_bounds(month, calendar)
    lo, hi = _utc(start), _utc(end)
    conn.row_factory = sqlite3.Row
    system_names = {s.id: s.name for s in kb.systems.values()}
    communes: dict[str, Row] = {}
    systems: dict[str, Row] = {}
    total = Row("total", "Toàn tỉnh")

    def commune_row(cid: str | None) -> Row:
        key = cid or "-"
        if key not in communes:
            communes[key] = Row(key, commune_names.get(key, "Chưa đăng ký xã/phường"))
        return communes[key]

    def system_row(sid: str | None) -> Row:
        key = sid or OTHER
        if key not in systems:
            systems[key] = Row(key, system_names.get(key, "Khác / chưa rõ hệ thống"))
        return systems[key]

    # -- questions -------------------------------------------------------------------
    asked: Counter[tuple[str, str]] = Counter()  # (commune, entry) -> times
    weekly_q: Counter[str] = Counter()
    weekly_t: Counter[str] = Counter()
    answered = answered_ids(conn, lo, hi)
    rows = conn.execute(
        "select q.id, q.at, q.decision, q.entry_id, q.candidates, q.feedback, u.commune_id "
        "from query_log q left join users u on u.id = q.user_id where q.at >= ? and q.at < ?", [lo, hi])
    for r in rows:
        entry_id = _entry_of(r["decision"], r["entry_id"], r["candidates"], r["feedback"])
        entry = kb.entry(entry_id) if entry_id else None
        c, s = commune_row(r["commune_id"]), system_row(entry.system if entry else None)
        feedback = r["feedback"] or ""
        helpful = feedback == "solved"
        unanswered = r["decision"] == "none" or feedback in ("not_right", "none_of_these")
        after_answer = feedback == "escalated" and r["decision"] == "answer"
        for row in (c, s, total):
            row.questions += 1
            row.helpful += helpful
            row.answered += r["id"] in answered
            row.unanswered += unanswered
            row.escalated_after_answer += after_answer
        if entry is not None and not unanswered:
            asked[(c.key, entry.id)] += 1
        weekly_q[_week(r["at"], calendar)] += 1
    for (cid, entry_id), times in asked.items():
        if times >= repeat_min:
            entry = kb.entry(entry_id)
            assert entry is not None
            for row in (communes[cid], system_row(entry.system), total):
                row.repeated += times
                row.repeated_entries.append((entry_id, times))

    # -- tickets -------------------------------------------------------------------------
    in_outage = set()
    if _has_table(conn, "incident_tickets"):
        in_outage = {r[0] for r in conn.execute("select ticket_id from incident_tickets")}
    for t in conn.execute("select * from tickets where created_at >= ? and created_at < ?", [lo, hi]):
        c, s = commune_row(t["commune_id"]), system_row(t["system_id"])
        created = datetime.fromisoformat(t["created_at"])
        target = sla.urgent if t["urgency"] == "urgent" else sla.normal
        first = _hours(calendar, created, t["first_response_at"])
        solved = _hours(calendar, created, t["resolved_at"])
        so_far = calendar.working_time_between(created, end) / timedelta(hours=1)
        breach = ((first if first is not None else so_far) > target.first_response_hours
                  or (solved if solved is not None else (so_far if t["closed_at"] is None else 0))
                  > target.resolution_hours)
        for row in (c, s, total):
            row.tickets += 1
            row.outage_tickets += t["id"] in in_outage
            if first is not None:
                row.first_response_hours.append(first)
            if solved is not None:
                row.resolution_hours.append(solved)
            row.sla_breaches += breach
            if t["rating"] is not None:
                row.ratings.append(t["rating"])
        weekly_t[_week(t["created_at"], calendar)] += 1

    weeks = sorted(set(weekly_q) | set(weekly_t))
    return MonthFigures(
        month=month, communes=communes, systems=systems, total=total,
        commune_needs=_commune_needs(communes, kb, in_outage),
        topic_needs=_topic_needs(asked, kb, repeat_min, conn, lo, hi),
        weekly=[(w, weekly_q[w], weekly_t[w]) for w in weeks])


def _entry_of(decision: str, entry_id: str | None, candidates: str | None, feedback: str | None) -> str | None:
    """The FAQ entry a question was about: answered with, picked, or offered first."""
    if feedback and feedback.startswith("picked:"):
        return feedback.split(":", 1)[1]
    if entry_id:
        return entry_id
    if decision == "clarify" and candidates:
        listed = json.loads(candidates)
        return listed[0] if listed else None
    return None


def _hours(calendar: WorkingHours, start: datetime, until: str | None) -> float | None:
    if not until:
        return None
    return calendar.working_time_between(start, datetime.fromisoformat(until)) / timedelta(hours=1)


def _week(at: str, calendar: WorkingHours) -> str:
    return datetime.fromisoformat(at).astimezone(calendar.zone).strftime("%G-W%V")


def _commune_needs(communes: dict[str, Row], kb: KnowledgeBase, in_outage: set[int]) -> list[Need]:
    """Communes ranked by how much their own traffic says they need training, with why.

    Score: 2 per repeated ask of the same how-to (beyond the first), 1 per
    question the FAQ could not answer, 1 per ticket opened after reading an
    answer. Outage tickets do not count: an outage is nobody's training need.
    """
    needs = []
    for row in communes.values():
        if row.key == "-":
            continue
        repeats = sum(times - 1 for _, times in row.repeated_entries)
        score = 2 * repeats + row.unanswered + row.escalated_after_answer
        if score <= 0:
            continue
        reasons = []
        for entry_id, times in sorted(row.repeated_entries, key=lambda x: -x[1]):
            entry = kb.entry(entry_id)
            reasons.append(f"hỏi {times} lần cùng một việc: “{entry.question if entry else entry_id}”")
        if row.unanswered:
            reasons.append(f"{row.unanswered} câu hỏi chưa giải đáp được")
        if row.escalated_after_answer:
            reasons.append(f"{row.escalated_after_answer} lần đọc hướng dẫn rồi vẫn phải gặp kỹ thuật viên")
        needs.append(Need(row.key, row.name, score, reasons))
    return sorted(needs, key=lambda n: (-n.score, n.name))[:15]


def _topic_needs(asked: Counter, kb: KnowledgeBase, repeat_min: int, conn: sqlite3.Connection,
                 lo: str, hi: str) -> list[Need]:
    """FAQ entries ranked by how many communes keep asking them, and how often the answer fell short."""
    communes_repeating: dict[str, int] = defaultdict(int)
    communes_asking: dict[str, set] = defaultdict(set)
    for (cid, entry_id), times in asked.items():
        communes_asking[entry_id].add(cid)
        if times >= repeat_min:
            communes_repeating[entry_id] += 1
    short: Counter[str] = Counter()
    for r in conn.execute("select entry_id, feedback from query_log where at >= ? and at < ? and entry_id is not null "
                          "and feedback in ('not_right', 'escalated')", [lo, hi]):
        short[r["entry_id"]] += 1
    needs = []
    for entry_id in set(communes_repeating) | set(short):
        entry = kb.entry(entry_id)
        if entry is None:
            continue
        score = 3 * communes_repeating[entry_id] + short[entry_id]
        reasons = []
        if communes_repeating[entry_id]:
            reasons.append(f"{communes_repeating[entry_id]} xã/phường hỏi lại nhiều lần")
        reasons.append(f"{len(communes_asking[entry_id])} xã/phường đã hỏi")
        if short[entry_id]:
            reasons.append(f"{short[entry_id]} lần hướng dẫn chưa đủ (chưa đúng ý hoặc phải gặp kỹ thuật viên)")
        needs.append(Need(entry_id, entry.question, score, reasons))
    return sorted(needs, key=lambda n: (-n.score, n.key))[:10]
