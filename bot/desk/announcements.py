"""Announcements: an admin's notice to all officials, to chosen communes, or to those who asked about a system.

A notice is one outbox row per official, written in one transaction with the
announcement itself, so it goes out within each platform's limits the way
every message does: the Telegram channel paces its sends (per chat and
overall), and on Zalo OA a notice to an official outside the free reply
window is held and delivered, after "📬 Có tin nhắn đang chờ", the next time
they write. The rows stay linked to the announcement, so the console can say
how many were sent, are still waiting, were held (and later delivered), or
failed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from bot import messages as msg
from bot.desk.people import People, Person
from bot.knowledge.live import Faq
from bot.models import Reply
from bot.store.outbox import enqueue, iso

MAX_TEXT = 1500  # fits one message on every channel (Zalo's 2000 characters, with the heading)


class AnnouncementError(ValueError):
    """An announcement that cannot be sent as asked; the message says why."""


@dataclass(frozen=True)
class Audience:
    """Who a notice is for: everyone, some communes, or officials who asked about a system."""

    kind: str  # "all" | "communes" | "system"
    communes: tuple[str, ...] = ()
    system: str | None = None

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "communes": list(self.communes), "system": self.system})

    @classmethod
    def from_json(cls, raw: str) -> Audience:
        data = json.loads(raw)
        return cls(data["kind"], tuple(data.get("communes") or ()), data.get("system"))


@dataclass(frozen=True)
class Recipient:
    user_id: int
    channel: str
    chat_ref: str
    commune_id: str | None


@dataclass
class Preview:
    text: str  # exactly what officials will read
    recipients: list[Recipient]
    by_channel: dict[str, int] = field(default_factory=dict)
    by_commune: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Tally:
    """What became of one announcement's messages."""

    sent: int
    waiting: int
    held: int  # outside Zalo's window, waiting for the official to write
    delivered_after_hold: int  # were held, went out when the official wrote
    failed: int

    @property
    def total(self) -> int:
        return self.sent + self.waiting + self.held + self.delivered_after_hold + self.failed


class Announcements:
    def __init__(self, db: Database, people: People, faq: Faq, clock: Callable[[], datetime],
                 commune_ids: Sequence[str]) -> None:
        self.db = db
        self.people = people
        self.faq = faq
        self.clock = clock
        self.commune_ids = set(commune_ids)

    # -- who -----------------------------------------------------------------------------------

    def audience(self, kind: str, communes: Sequence[str] = (), system: str | None = None) -> Audience:
        """A checked audience (unknown communes or systems are refused, not silently ignored)."""
        if kind == "all":
            return Audience("all")
        if kind == "communes":
            unknown = [c for c in communes if c not in self.commune_ids]
            if not communes or unknown:
                raise AnnouncementError(msg.ANNOUNCE_UNKNOWN_COMMUNES.format(communes=", ".join(unknown) or "-"))
            return Audience("communes", tuple(dict.fromkeys(communes)))
        if kind == "system":
            if system not in self.faq.kb.systems:
                raise AnnouncementError(msg.INCIDENT_UNKNOWN_SYSTEM.format(
                    system=system, known=", ".join(sorted(self.faq.kb.systems))))
            return Audience("system", system=system)
        raise AnnouncementError(f"unknown audience {kind!r}")

    def recipients(self, audience: Audience) -> list[Recipient]:
        """Registered officials (not technicians) in the audience, each on the channel last used."""
        where, params = "role = 'staff' and status = 'active'", []
        if audience.kind == "communes":
            where += f" and commune_id in ({','.join('?' for _ in audience.communes)})"
            params = list(audience.communes)
        elif audience.kind == "system":
            entries = [e.id for e in self.faq.kb.entries if e.system == audience.system]
            marks = ",".join("?" for _ in entries) or "null"
            where += (f" and (id in (select user_id from query_log where entry_id in ({marks}) and user_id is not null)"
                      " or id in (select user_id from tickets where system_id = ?))")
            params = [*entries, audience.system]
        out = []
        for row in self.db.execute(f"select id, commune_id from users where {where} order by id", params):
            identity = self.people.chat_on(row[0], None)
            if identity is not None:
                out.append(Recipient(row[0], identity.channel, identity.chat_ref, row[1]))
        return out

    # -- what -----------------------------------------------------------------------------------

    def preview(self, text: str, audience: Audience) -> Preview:
        body = text.strip()
        if not body:
            raise AnnouncementError(msg.ANNOUNCE_EMPTY)
        if len(body) > MAX_TEXT:
            raise AnnouncementError(msg.ANNOUNCE_TOO_LONG.format(n=len(body), limit=MAX_TEXT))
        people = self.recipients(audience)
        return Preview(msg.ANNOUNCEMENT.format(text=body), people,
                       dict(Counter(r.channel for r in people)), dict(Counter(r.commune_id or "-" for r in people)))

    def send(self, text: str, audience: Audience, author: Person) -> int:
        """Queue the notice for every recipient, in one transaction; returns the announcement's id."""
        if not author.is_admin:
            raise AnnouncementError(msg.NOT_AN_ADMIN)
        preview = self.preview(text, audience)
        if not preview.recipients:
            raise AnnouncementError(msg.ANNOUNCE_NOBODY)
        now = self.clock()
        with self.db.atomic():
            table = self.db["announcements"]
            table.insert({"created_at": iso(now), "author_id": author.id, "text": preview.text,
                          "audience": audience.to_json(), "recipients": len(preview.recipients)})
            announcement_id = int(table.last_pk)  # type: ignore[arg-type]
            for r in preview.recipients:
                outbox_id = enqueue(self.db, now, r.channel, r.chat_ref, Reply(preview.text), user_id=r.user_id)
                self.db["announcement_messages"].insert({"outbox_id": outbox_id, "announcement_id": announcement_id,
                                                         "user_id": r.user_id, "channel": r.channel})
        return announcement_id

    # -- what became of it -------------------------------------------------------------------------

    def tally(self, announcement_id: int) -> Tally:
        counts = Counter(r[0] for r in self.db.execute(
            "select o.status from announcement_messages a join outbox o on o.id = a.outbox_id "
            "where a.announcement_id = ?", [announcement_id]))
        return Tally(sent=counts["sent"], waiting=counts["pending"], held=counts["held"],
                     delivered_after_hold=counts["released"], failed=counts["failed"])

    def recent(self, limit: int = 20, offset: int = 0) -> list[dict]:
        return list(self.db["announcements"].rows_where(order_by="id desc", limit=limit, offset=offset))

    def describe(self, audience: Audience, commune_names: dict[str, str], system_names: dict[str, str]) -> str:
        if audience.kind == "all":
            return msg.ANNOUNCE_TO_ALL
        if audience.kind == "communes":
            return ", ".join(commune_names.get(c, c) for c in audience.communes)
        return msg.ANNOUNCE_TO_SYSTEM.format(system=system_names.get(audience.system or "", audience.system))
