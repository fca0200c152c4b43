"""Personal data under Nghị định 13/2023/NĐ-CP: export, forget, and retention.

What the bot keeps about an official: their name, job title, phone and commune
(`users`), their platform identities, what they wrote and were sent
(`messages`, `web_messages`, the outbox), their tickets' descriptions,
transcripts, events and screenshots, and their questions (`query_log`).

- `export_person` gathers all of that as one JSON-ready dict (the right of access).
- `forget_person` removes it: texts, screenshots, identities and contact
  details go; what the province's reports count (that a ticket on a system
  from a commune existed, how long it took, its rating; that a question was
  asked and answered) stays, no longer tied to a person.
- `apply_retention` does the same to old data for everybody: the texts and
  screenshots of tickets closed more than N months ago, and conversation
  texts older than that, are removed; the counts stay.

A table added later that holds a person's data must be added here and to
docs/privacy.md; `test_privacy.py` fails when a table with a `user_id`
column is neither handled nor listed as holding no personal data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

FORGOTTEN = "forgotten"
REMOVED_TEXT = ""

# Tables with a user_id column that hold nothing personal beyond the id, or that
# this module handles explicitly below.
HANDLED = {"users", "identities", "messages", "tickets", "query_log", "outbox", "accounts",
           "link_codes", "ticket_events", "announcement_messages"}


@dataclass
class Removed:
    """How many rows or files of each kind were removed or emptied."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int) -> None:
        if n:
            self.counts[what] = self.counts.get(what, 0) + n


def find_user(db: Database, who: str) -> int | None:
    """A user by id ("12" or "#12"), by identity ("telegram:12345") or by phone number."""
    who = who.strip()
    if who.lstrip("#").isdigit():
        row = db.execute("select id from users where id = ?", [int(who.lstrip("#"))]).fetchone()
        if row:
            return row[0]
    if ":" in who:
        channel, _, ref = who.partition(":")
        row = db.execute("select user_id from identities where channel = ? and user_ref = ?",
                         [channel, ref]).fetchone()
        if row:
            return row[0]
    row = db.execute("select id from users where phone = ? and phone != ''", [who]).fetchone()
    return row[0] if row else None


def _rows(db: Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _has_table(db: Database, name: str) -> bool:
    return db[name].exists()


def export_person(db: Database, user_id: int) -> dict[str, Any]:
    """Everything the bot holds about one person, as plain data."""
    tickets = _rows(db, "select * from tickets where user_id = ? order by id", [user_id])
    ticket_ids = [t["id"] for t in tickets]
    marks = ",".join("?" * len(ticket_ids)) or "null"
    chats = [i["chat_ref"] for i in _rows(db, "select chat_ref from identities where user_id = ?", [user_id])]
    chat_marks = ",".join("?" * len(chats)) or "null"
    return {
        "user": (_rows(db, "select * from users where id = ?", [user_id]) or [None])[0],
        "identities": _rows(db, "select * from identities where user_id = ?", [user_id]),
        "messages": _rows(db, "select at, direction, channel, text, ticket_id from messages "
                              "where user_id = ? order by id", [user_id]),
        "web_messages": _rows(db, f"select at, from_bot, payload from web_messages "
                                  f"where chat_ref in ({chat_marks}) order by id", chats),
        "tickets": tickets,
        "ticket_events": _rows(db, f"select * from ticket_events where ticket_id in ({marks}) "
                                   f"and internal = 0 order by id", ticket_ids),
        "attachments": _rows(db, f"select * from attachments where ticket_id in ({marks}) order by id",
                             ticket_ids),
        "questions": _rows(db, "select at, channel, query, decision, entry_id, feedback "
                               "from query_log where user_id = ? order by id", [user_id]),
    }


def _delete_files(refs: list[str], uploads: Path) -> int:
    """Remove uploaded files named by attachment refs ("/files/<name>"); other refs are remote."""
    removed = 0
    for ref in refs:
        if ref.startswith("/files/"):
            path = uploads / Path(ref).name
            if path.is_file():
                path.unlink()
                removed += 1
    return removed


def _remove_attachments(db: Database, ticket_ids: list[int], uploads: Path, removed: Removed) -> None:
    if not ticket_ids:
        return
    marks = ",".join("?" * len(ticket_ids))
    refs = [r[0] for r in db.execute(f"select file_ref from attachments where ticket_id in ({marks})",
                                     ticket_ids)]
    removed.add("screenshot files", _delete_files(refs, uploads))
    removed.add("attachments", db.execute(f"delete from attachments where ticket_id in ({marks})",
                                          ticket_ids).rowcount)


def _empty_ticket_texts(db: Database, ticket_ids: list[int], removed: Removed) -> None:
    if not ticket_ids:
        return
    marks = ",".join("?" * len(ticket_ids))
    removed.add("ticket texts", db.execute(
        f"update tickets set description = '', transcript = '[]', resolution_note = '' "
        f"where id in ({marks})", ticket_ids).rowcount)
    removed.add("ticket event texts", db.execute(
        f"update ticket_events set text = '', data = null where ticket_id in ({marks}) "
        f"and coalesce(text, '') != ''", ticket_ids).rowcount)
    removed.add("messages", db.execute(f"delete from messages where ticket_id in ({marks})",
                                       ticket_ids).rowcount)


def forget_person(db: Database, user_id: int, uploads: Path) -> Removed:
    """Remove a person's data, keeping the anonymous facts the reports count. One transaction."""
    removed = Removed()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        tickets = [r[0] for r in db.execute("select id from tickets where user_id = ?", [user_id])]
        chats = [r[0] for r in db.execute("select chat_ref from identities where user_id = ?", [user_id])]
        refs = [r[0] for r in db.execute("select user_ref from identities where user_id = ?", [user_id])]
        _remove_attachments(db, tickets, Path(uploads), removed)
        _empty_ticket_texts(db, tickets, removed)
        removed.add("messages", db.execute("delete from messages where user_id = ?", [user_id]).rowcount)
        removed.add("questions", db.execute(
            "update query_log set query = '', user_id = null where user_id = ?", [user_id]).rowcount)
        removed.add("outbox messages", db.execute(
            "update outbox set payload = '{}', status = case when status in ('pending', 'held') "
            "then 'failed' else status end where user_id = ?", [user_id]).rowcount)
        for chat in chats:
            removed.add("web messages", db.execute(
                "delete from web_messages where chat_ref = ?", [chat]).rowcount)
            for table in ("reply_windows", "channel_messages"):
                if _has_table(db, table):
                    db.execute(f"delete from {table} where chat_ref = ?", [chat])
        for ref in refs:
            db.execute("delete from conversations where user_ref = ?", [ref])
        for table in ("link_codes", "accounts"):
            db.execute(f"delete from {table} where user_id = ?", [user_id])
        if _has_table(db, "announcement_messages"):  # who got a notice: the counts stay, the link goes
            db.execute("update announcement_messages set user_id = null where user_id = ?", [user_id])
        removed.add("identities", db.execute("delete from identities where user_id = ?",
                                             [user_id]).rowcount)
        removed.add("profile", db.execute(
            "update users set full_name = '', job_title = '', phone = '', status = ? where id = ?",
            [FORGOTTEN, user_id]).rowcount)
    _purge_search_index(db)
    return removed


def apply_retention(db: Database, uploads: Path, now: datetime, months: int) -> Removed:
    """Remove texts and screenshots older than `months` (closed tickets, chat, questions)."""
    removed = Removed()
    if months <= 0:
        return removed
    cutoff = (now - timedelta(days=round(months * 30.44))).isoformat()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        old = [r[0] for r in db.execute(
            "select id from tickets where status = 'closed' and coalesce(closed_at, updated_at) < ? "
            "and (coalesce(description, '') != '' or id in (select ticket_id from attachments))",
            [cutoff])]
        _remove_attachments(db, old, Path(uploads), removed)
        _empty_ticket_texts(db, old, removed)
        removed.add("messages", db.execute(
            "delete from messages where at < ? and (ticket_id is null or ticket_id not in "
            "(select id from tickets where status != 'closed'))", [cutoff]).rowcount)
        removed.add("web messages", db.execute("delete from web_messages where at < ?",
                                               [cutoff]).rowcount)
        removed.add("questions", db.execute(
            "update query_log set query = '' where at < ? and query != ''", [cutoff]).rowcount)
        removed.add("outbox messages", db.execute(
            "update outbox set payload = '{}' where status = 'sent' and created_at < ? "
            "and payload != '{}'", [cutoff]).rowcount)
    if removed.counts:
        _purge_search_index(db)
    return removed


def _purge_search_index(db: Database) -> None:
    """Emptied ticket texts leave their old words in the FTS index's segments until it is merged."""
    if db["tickets_fts"].exists():
        with db.conn:
            db.execute("insert into tickets_fts(tickets_fts) values('optimize')")


def export_json(db: Database, user_id: int) -> str:
    return json.dumps(export_person(db, user_id), ensure_ascii=False, indent=2, default=str)
