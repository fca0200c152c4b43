"""Canned replies: the answers a technicians' team keeps for the cases that come back.

A technician picks one on a ticket page to fill the reply box, edits it if
need be, and sends it like any reply. Reads take the caller's connection
(the event loop's); writes are functions to run on the writer thread, in its
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

TITLE_MAX = 80
TEXT_MAX = 4000
PAGE_SIZE = 100


@dataclass(frozen=True)
class Canned:
    id: int
    title: str
    text: str
    updated_by: str
    updated_at: str


def listed(db: Database, after_title: str = "", after_id: int = 0, limit: int = PAGE_SIZE) -> list[Canned]:
    """By title, then id (keyset): `limit` of them after the given title and id."""
    rows = db.execute(
        "select id, title, text, updated_by, updated_at from canned_replies "
        "where (title, id) > (?, ?) order by title, id limit ?", [after_title, after_id, limit]).fetchall()
    return [Canned(*row) for row in rows]


def clean(title: str, text: str) -> tuple[str, str]:
    """Title on one line and text without trailing space, each within its limit."""
    return " ".join(title.split())[:TITLE_MAX], text.strip()[:TEXT_MAX]


def save(db: Database, canned_id: int | None, title: str, text: str, who: str, at: str) -> int:
    """Add (no id) or change one; returns its id. Call on the writer thread."""
    if canned_id is None:
        cursor = db.execute("insert into canned_replies (title, text, updated_by, updated_at) values (?, ?, ?, ?)",
                            [title, text, who, at])
        return int(cursor.lastrowid)  # type: ignore[arg-type]
    db.execute("update canned_replies set title = ?, text = ?, updated_by = ?, updated_at = ? where id = ?",
               [title, text, who, at, canned_id])
    return canned_id


def delete(db: Database, canned_id: int) -> None:
    db.execute("delete from canned_replies where id = ?", [canned_id])
