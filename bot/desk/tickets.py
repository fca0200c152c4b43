"""The ticket store: the life of an incident, every step with its notifications.

Each public method checks the actor's role, changes the ticket, records an
event and queues the messages the change causes, all in one transaction:
either everything happens or nothing does.

    new ──claim/assign──▶ assigned ──wait──▶ waiting_user ──(official writes)──▶ assigned
     │                      │                                      │
     └────────resolve───────┴────────────resolve───────────────────┘──▶ resolved ──▶ closed
                                   reopen (official: still broken; technician) ◀──┘
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from bot import messages as msg
from bot.config import Config, SlaTarget
from bot.desk.people import People, Person
from bot.desk.workhours import WorkingHours
from bot.knowledge.base import System
from bot.models import OPEN_STATUSES, URGENCIES, Choice, Reply
from bot.store.outbox import enqueue, iso


class TicketError(Exception):
    """An action that cannot be done; the message is said to the person who tried."""


class NotAllowed(TicketError):
    """The actor's role does not allow this action."""


@dataclass(frozen=True)
class Ticket:
    id: int
    user_id: int
    channel: str
    commune_id: str | None
    system_id: str | None
    queue_id: str | None
    status: str
    urgency: str
    description: str
    assignee_id: int | None
    created_at: str
    first_response_at: str | None
    resolved_at: str | None
    closed_at: str | None
    rating: int | None
    sla_stage: int
    resolution_note: str | None = None
    deadline_at: str | None = None  # the stored deadline (UTC ISO text), as the queue sorts by it

    @property
    def code(self) -> str:
        return f"#{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def _ticket(row: dict) -> Ticket:
    return Ticket(
        id=row["id"], user_id=row["user_id"], channel=row["channel"], commune_id=row["commune_id"],
        system_id=row["system_id"], queue_id=row["queue_id"], status=row["status"],
        urgency=row["urgency"], description=row["description"] or "", assignee_id=row["assignee_id"],
        created_at=row["created_at"], first_response_at=row["first_response_at"],
        resolved_at=row["resolved_at"], closed_at=row["closed_at"], rating=row["rating"],
        sla_stage=row["sla_stage"] or 0, resolution_note=row.get("resolution_note"),
        deadline_at=row.get("deadline_at"),
    )


PAGE_SIZE = 50
COUNT_LIMIT = 1000  # a list says how many tickets it has up to this; beyond, "more than"
_SEARCH_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class QueueFilter:
    """What a technician asked to see: every condition becomes SQL, nothing is filtered in Python."""

    statuses: tuple[str, ...] = OPEN_STATUSES
    system_id: str | None = None
    commune_ids: tuple[str, ...] | None = None  # None: any commune; () matches nothing
    late_at: datetime | None = None  # only tickets whose deadline had passed at this moment
    search: str = ""  # words looked up in the description and the resolution note (FTS5)


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    next_cursor: str | None  # pass as `after` for the next page; None on the last page
    total: int  # at most COUNT_LIMIT + 1, meaning "more than COUNT_LIMIT"


def fts_query(text: str) -> str | None:
    """An FTS5 query for the words typed: every word must appear, 'd' also finding 'đ'.

    The index's tokenizer removes tone and vowel marks, but đ is a letter of
    its own to it, so a word typed without marks asks for both spellings.
    """
    terms = []
    for word in _SEARCH_WORD.findall(text.lower())[:8]:
        positions = [i for i, c in enumerate(word) if c == "d"][:3]
        spellings = {word}
        for mask in range(1, 2 ** len(positions)):
            letters = list(word)
            for bit, i in enumerate(positions):
                if mask >> bit & 1:
                    letters[i] = "đ"
            spellings.add("".join(letters))
        terms.append("(" + " OR ".join(f'"{w}"' for w in sorted(spellings)) + ")")
    return " AND ".join(terms) or None


def _split_cursor(cursor: str, kind: str, convert: Callable[[str], object]) -> tuple[str, object, int]:
    """(kind, key, ticket id) from a cursor, or ("", None, 0) when it is not one of ours."""
    head, _, rest = cursor.partition(":")
    key, _, ticket_id = rest.rpartition(":")
    try:
        return (head, convert(key), int(ticket_id)) if head == kind else ("", None, 0)
    except ValueError:
        return "", None, 0


def _utc_text(moment: datetime | None) -> str | None:
    """An instant as stored for comparison in SQL: ISO text in UTC, so text order is time order."""
    return None if moment is None else iso(moment.astimezone(UTC))


# Statuses whose SLA clock runs (waiting for the official stops it).
SLA_STATUSES = ("new", "assigned")
_OPEN_MARKS = ",".join("?" for _ in OPEN_STATUSES)
# A change to any of these fields can move a ticket's stored deadlines.
_TIMING_FIELDS = frozenset({"status", "first_response_at", "sla_stage", "urgency", "created_at"})

# sla_stage values: how far the reminders have gone, so none is sent twice.
SLA_NONE, SLA_RESPONSE_REMINDED, SLA_RESPONSE_ESCALATED, SLA_RESOLUTION_REMINDED, SLA_RESOLUTION_ESCALATED = range(5)


class TicketStore:
    """Tickets, their events and attachments, and the notifications they cause."""

    def __init__(self, db: Database, people: People, config: Config, systems: dict[str, System],
                 calendar: WorkingHours, clock: Callable[[], datetime],
                 commune_names: dict[str, str] | None = None) -> None:
        self.db = db
        self.people = people
        self.config = config
        self.systems = systems
        self.calendar = calendar
        self.clock = clock
        self.commune_names = commune_names or {}
        # Set by the incidents desk: sees each new ticket first; True means it joined a shared
        # outage, whose card the technicians get instead of one card per report.
        self.on_opened: Callable[[Ticket], bool] | None = None

    # -- reading --------------------------------------------------------------

    def get(self, ticket_id: int) -> Ticket:
        rows = list(self.db["tickets"].rows_where("id = ?", [ticket_id]))
        if not rows:
            raise TicketError(msg.TICKET_NOT_FOUND.format(code=f"#{ticket_id}"))
        return _ticket(rows[0])

    def visible_to(self, ticket_id: int, actor: Person) -> Ticket:
        """The ticket, if the actor may see it (its official, or any technician)."""
        ticket = self.get(ticket_id)
        if ticket.user_id != actor.id and not actor.is_technician:
            raise NotAllowed(msg.TICKET_NOT_FOUND.format(code=ticket.code))
        return ticket

    def of_user(self, user_id: int, limit: int = 10) -> list[Ticket]:
        # Plain SQL: every message outside a flow looks for the tickets it may answer.
        cursor = self.db.execute("select * from tickets where user_id = ? order by id desc limit ?", [user_id, limit])
        names = [c[0] for c in cursor.description]
        return [_ticket(dict(zip(names, row, strict=True))) for row in cursor]

    def queue(self, actor: Person, statuses: Sequence[str] = OPEN_STATUSES) -> list[Ticket]:
        self._require_technician(actor)
        marks = ",".join("?" for _ in statuses)
        return [_ticket(r) for r in self.db["tickets"].rows_where(
            f"status in ({marks})", list(statuses), order_by="id")]

    def page(self, actor: Person, wanted: QueueFilter, after: str | None = None,
             limit: int = PAGE_SIZE) -> TicketPage:
        """One page of tickets, by keyset: stable order, no ticket twice, none skipped.

        Open tickets come by deadline (the oldest breach first; those without
        a deadline last), then by number; resolved and closed ones newest
        first; a search too, newest first. `after` is the cursor of the
        previous page; a cursor that makes no sense starts from the top.
        """
        self._require_technician(actor)
        where, params = self._where(wanted)
        order, keyset = self._ordering(wanted)
        total = self.db.execute(  # counted up to a bound: a count must not read 50,000 rows either
            f"select count(*) from (select 1 from {self._source(wanted)} where {where} limit ?)",
            [*params, COUNT_LIMIT + 1]).fetchone()[0]
        seek, seek_params = keyset(after) if after else ("", [])
        rows = list(self.db.query(
            f"select t.* from {self._source(wanted)} where {where}{seek} order by {order} limit ?",
            [*params, *seek_params, limit + 1]))
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = self._cursor(wanted, rows[-1]) if more and rows else None
        return TicketPage([_ticket(r) for r in rows], cursor, total)

    @staticmethod
    def _source(wanted: QueueFilter) -> str:
        # A search walks the full-text index newest first and looks each hit up (CROSS JOIN keeps
        # that order): FTS5 gives its matches by rowid without reading or ranking them all.
        return "tickets_fts f cross join tickets t on t.id = f.rowid" if wanted.search else "tickets t"

    @staticmethod
    def _where(wanted: QueueFilter) -> tuple[str, list[object]]:
        clauses = [f"t.status in ({','.join('?' for _ in wanted.statuses)})"]
        params: list[object] = list(wanted.statuses)
        if wanted.system_id:
            clauses.append("t.system_id = ?")
            params.append(wanted.system_id)
        if wanted.commune_ids is not None:
            clauses.append(f"t.commune_id in ({','.join('?' for _ in wanted.commune_ids)})")
            params.extend(wanted.commune_ids)
        if wanted.late_at is not None:
            clauses.append("t.deadline_at <= ?")
            params.append(_utc_text(wanted.late_at))
        if wanted.search:
            query = fts_query(wanted.search)
            clauses.append("tickets_fts match ?" if query else "0")
            if query:
                params.append(query)
        return " and ".join(clauses), params

    @staticmethod
    def _by_deadline(wanted: QueueFilter) -> bool:
        return not wanted.search and set(wanted.statuses) <= set(OPEN_STATUSES)

    def _ordering(self, wanted: QueueFilter) -> tuple[str, Callable[[str], tuple[str, list[object]]]]:
        if wanted.search:
            def before_hit(cursor: str) -> tuple[str, list[object]]:
                kind, _, ticket_id = _split_cursor(cursor, "i", str)
                return (" and f.rowid < ?", [ticket_id]) if kind else ("", [])
            return "f.rowid desc", before_hit
        if self._by_deadline(wanted):
            def after_deadline(cursor: str) -> tuple[str, list[object]]:
                kind, deadline, ticket_id = _split_cursor(cursor, "d", str)
                if not kind:
                    return "", []
                if deadline == "":
                    return " and t.deadline_at is null and t.id > ?", [ticket_id]
                return (" and (t.deadline_at is null or t.deadline_at > ? or (t.deadline_at = ? and t.id > ?))",
                        [deadline, deadline, ticket_id])
            return "t.deadline_at is null, t.deadline_at, t.id", after_deadline

        def before_id(cursor: str) -> tuple[str, list[object]]:
            kind, _, ticket_id = _split_cursor(cursor, "i", str)
            return (" and t.id < ?", [ticket_id]) if kind else ("", [])
        return "t.id desc", before_id

    def _cursor(self, wanted: QueueFilter, row: dict) -> str:
        if self._by_deadline(wanted):
            return f"d:{row['deadline_at'] or ''}:{row['id']}"
        return f"i::{row['id']}"

    def events(self, ticket_id: int, include_internal: bool) -> list[dict]:
        where = "ticket_id = ?" + ("" if include_internal else " and internal = 0")
        return list(self.db["ticket_events"].rows_where(where, [ticket_id], order_by="id"))

    def attachments(self, ticket_id: int) -> list[dict]:
        return list(self.db["attachments"].rows_where("ticket_id = ?", [ticket_id], order_by="id"))

    def transcript(self, ticket_id: int) -> list[dict]:
        raw = self.db["tickets"].get(ticket_id)["transcript"]
        return json.loads(raw) if raw else []

    # -- describing -----------------------------------------------------------

    def system_name(self, system_id: str | None) -> str:
        system = self.systems.get(system_id or "")
        return system.name if system else msg.SYSTEM_OTHER

    def commune_name(self, commune_id: str | None) -> str:
        return self.commune_names.get(commune_id or "", commune_id or "?")

    def status_label(self, ticket: Ticket) -> str:
        return msg.STATUS_LABELS.get(ticket.status, ticket.status)

    def card(self, ticket: Ticket) -> Reply:
        """The technicians' view of a ticket, kept under one key so channels can edit it."""
        official = self.people.get(ticket.user_id)
        assignee = self.people.get(ticket.assignee_id) if ticket.assignee_id else None
        text = msg.TICKET_CARD.format(
            code=ticket.code, status=self.status_label(ticket),
            urgency=msg.URGENCY_LABELS[ticket.urgency], system=self.system_name(ticket.system_id),
            commune=self.commune_name(ticket.commune_id or official.commune_id),
            name=official.full_name or "?", title=official.job_title or "?",
            phone=official.phone or "?", description=ticket.description,
            assignee=(assignee.full_name or f"#{assignee.id}") if assignee else msg.NOBODY,
        ) + self._sla_line(ticket)
        choices: tuple[Choice, ...] = ()
        if ticket.status == "new":
            choices = (Choice(msg.BTN_CLAIM, f"claim:{ticket.id}"), Choice(msg.BTN_SHOW, f"show:{ticket.id}"))
        elif ticket.is_open:
            choices = (Choice(msg.BTN_SHOW, f"show:{ticket.id}"), Choice(msg.BTN_RESOLVE, f"resolve:{ticket.id}"))
        photos = tuple(a["file_ref"] for a in self.attachments(ticket.id))
        return Reply(text, choices, photos=photos, key=f"ticket:{ticket.id}")

    def due_at(self, ticket: Ticket) -> datetime | None:
        """The deadline that matters now (first response, then resolution), or None when none runs."""
        if not ticket.is_open or ticket.status == "waiting_user":
            return None
        target = self._target(ticket)
        hours = target.resolution_hours if ticket.first_response_at else target.first_response_hours
        return self.calendar.add_working_time(datetime.fromisoformat(ticket.created_at), timedelta(hours=hours))

    def _sla_line(self, ticket: Ticket) -> str:
        """The deadline that matters now, in office time, or that it has passed."""
        due = self.due_at(ticket)
        if due is None:
            return ""
        what = msg.SLA_DUE_RESOLUTION if ticket.first_response_at else msg.SLA_DUE_RESPONSE
        late = self.clock() >= due
        return "\n" + (msg.SLA_LATE if late else msg.SLA_DUE).format(
            what=what, when=due.astimezone(self.calendar.zone).strftime("%H:%M %d/%m"))

    # -- notifications ----------------------------------------------------------

    def _now(self) -> str:
        return iso(self.clock())

    def _to_user(self, ticket: Ticket, reply: Reply, user_id: int | None = None) -> None:
        """Tell the official (or another user) on the channel the ticket came from."""
        target = self.people.chat_on(user_id or ticket.user_id, ticket.channel)
        if target is not None:
            enqueue(self.db, self.clock(), target.channel, target.chat_ref, reply,
                    user_id=target.user_id, ticket_id=ticket.id)

    def queue_targets(self, queue_id: str | None) -> list[tuple[str, str]]:
        """The chats of a queue, or the admins' chats when the queue has none."""
        refs = self.config.queues.get(queue_id or "", ())
        if refs:
            return [tuple(r.split(":", 1)) for r in refs]  # type: ignore[misc]
        return self.admin_targets()

    def admin_targets(self) -> list[tuple[str, str]]:
        targets = []
        for admin in self.people.with_role("admin"):
            identity = self.people.chat_on(admin.id, None)
            if identity is not None:
                targets.append((identity.channel, identity.chat_ref))
        return targets

    def _to_queue(self, ticket: Ticket, reply: Reply) -> None:
        for channel, chat in self.queue_targets(ticket.queue_id):
            enqueue(self.db, self.clock(), channel, chat, reply, ticket_id=ticket.id)

    def _to_assignee_or_queue(self, ticket: Ticket, reply: Reply) -> None:
        if ticket.assignee_id:
            self._to_user(ticket, reply, ticket.assignee_id)
        else:
            self._to_queue(ticket, reply)

    def tell_official(self, ticket: Ticket, reply: Reply) -> None:
        """A message to the ticket's official on its channel (for the incidents desk)."""
        self._to_user(ticket, reply)

    def event(self, ticket_id: int, actor: Person | None, kind: str, text: str = "",
              internal: bool = False, data: dict | None = None) -> int:
        """Record an event on a ticket (for the incidents desk)."""
        return self._event(ticket_id, actor, kind, text, internal, data)

    def _refresh_card(self, ticket_id: int) -> None:
        ticket = self.get(ticket_id)
        self._to_queue(ticket, self.card(ticket))

    def _event(self, ticket_id: int, actor: Person | None, kind: str, text: str = "",
               internal: bool = False, data: dict | None = None) -> int:
        table = self.db["ticket_events"]
        table.insert({
            "ticket_id": ticket_id, "at": self._now(), "actor_id": actor.id if actor else None,
            "kind": kind, "text": text, "internal": int(internal),
            "data": json.dumps(data, ensure_ascii=False) if data else None,
        })
        return int(table.last_pk)  # type: ignore[arg-type]

    def _update(self, ticket_id: int, **fields: object) -> None:
        fields["updated_at"] = self._now()
        self.db["tickets"].update(ticket_id, fields)
        if _TIMING_FIELDS & fields.keys():
            self._store_deadlines(self.get(ticket_id))

    # -- stored deadlines -------------------------------------------------------

    def _next_sla_due(self, ticket: Ticket) -> datetime | None:
        """When the next reminder or escalation falls due, or None when none is left to send."""
        if ticket.status not in SLA_STATUSES:
            return None
        target = self._target(ticket)
        if ticket.first_response_at is None:
            limit, stages = target.first_response_hours, (SLA_RESPONSE_REMINDED, SLA_RESPONSE_ESCALATED)
        else:
            limit, stages = target.resolution_hours, (SLA_RESOLUTION_REMINDED, SLA_RESOLUTION_ESCALATED)
        if ticket.sla_stage < stages[0]:
            hours = limit
        elif ticket.sla_stage < stages[1]:
            hours = 2 * limit
        else:
            return None
        return self.calendar.add_working_time(datetime.fromisoformat(ticket.created_at), timedelta(hours=hours))

    def _store_deadlines(self, ticket: Ticket) -> None:
        """Keep the ticket's stored instants true, so the timer and the queue can trust SQL."""
        self.db.execute("update tickets set sla_due_at = ?, deadline_at = ? where id = ?",
                        [_utc_text(self._next_sla_due(ticket)), _utc_text(self.due_at(ticket)), ticket.id])

    def refresh_deadlines(self) -> int:
        """Recompute the stored instants of every open ticket (at start: the SLA or calendar may have changed).

        Returns how many tickets were refreshed.
        """
        rows = list(self.db.query(f"select * from tickets where status in ({_OPEN_MARKS})", list(OPEN_STATUSES)))
        with self.db.atomic():
            for row in rows:
                self._store_deadlines(_ticket(row))
        return len(rows)

    def reply_held(self, ticket_id: int) -> None:
        """A message to the official could not be sent yet (Zalo's window): tell the handlers."""
        ticket = self.get(ticket_id)
        self._to_assignee_or_queue(ticket, Reply(msg.REPLY_HELD.format(code=ticket.code)))

    # -- the official's side ----------------------------------------------------

    def open_ticket(self, official: Person, channel: str, system_id: str | None, description: str,
                    urgency: str, photos: Sequence[str], transcript: list[dict]) -> Ticket:
        """Create a ticket and post it to its queue (inside the caller's transaction)."""
        if not official.registered:
            raise TicketError(msg.NEED_REGISTRATION)
        if urgency not in URGENCIES:
            raise TicketError(f"unknown urgency {urgency!r}")
        system = self.systems.get(system_id or "")
        now = self._now()
        table = self.db["tickets"]
        table.insert({
            "user_id": official.id, "channel": channel, "commune_id": official.commune_id,
            "system_id": system_id, "queue_id": system.queue if system else None,
            "status": "new", "urgency": urgency, "description": description,
            "transcript": json.dumps(transcript, ensure_ascii=False), "created_at": now,
            "updated_at": now, "last_activity_at": now, "sla_stage": SLA_NONE,
        })
        ticket_id = int(table.last_pk)  # type: ignore[arg-type]
        self._store_deadlines(self.get(ticket_id))
        event = self._event(ticket_id, official, "created", description)
        for ref in photos:
            self._attach(ticket_id, event, channel, ref)
        ticket = self.get(ticket_id)
        if self.on_opened is None or not self.on_opened(ticket):
            self._to_queue(ticket, self.card(ticket))
        return ticket

    def _attach(self, ticket_id: int, event_id: int, channel: str, ref: str) -> None:
        self.db["attachments"].insert({
            "ticket_id": ticket_id, "event_id": event_id, "channel": channel, "file_ref": ref,
            "kind": "photo", "created_at": self._now(),
        })

    def add_from_official(self, ticket_id: int, official: Person, text: str,
                          photos: Sequence[str] = (), edited: bool = False) -> Ticket:
        """More information from the official: recorded, and passed to whoever handles it."""
        ticket = self.get(ticket_id)
        if ticket.user_id != official.id:
            raise NotAllowed(msg.TICKET_NOT_FOUND.format(code=ticket.code))
        if not ticket.is_open:
            raise TicketError(msg.TICKET_NOT_OPEN.format(code=ticket.code, status=self.status_label(ticket)))
        event = self._event(ticket.id, official, "edit" if edited else "message", text)
        for ref in photos:
            self._attach(ticket.id, event, ticket.channel, ref)
        fields: dict[str, object] = {"last_activity_at": self._now()}
        if ticket.status == "waiting_user":
            fields["status"] = "assigned"
        self._update(ticket.id, **fields)
        label = msg.FROM_OFFICIAL_EDITED if edited else msg.FROM_OFFICIAL
        self._to_assignee_or_queue(ticket, Reply(
            label.format(code=ticket.code, text=text or msg.PHOTOS_ONLY.format(n=len(photos))),
            (Choice(msg.BTN_SHOW, f"show:{ticket.id}"),), photos=tuple(photos)))
        if fields.get("status"):
            self._refresh_card(ticket.id)
        return self.get(ticket.id)

    def last_event_id(self, ticket_id: int) -> int:
        rows = list(self.db.query("select max(id) as id from ticket_events where ticket_id = ?", [ticket_id]))
        return int(rows[0]["id"] or 0)

    def technician_wrote(self, ticket_id: int) -> tuple[int, datetime] | None:
        """The last time a technician wrote to the official on this ticket (a reply or a request
        to add information), unless the official has since said their next message was not
        for this ticket. None when there is no such contact to answer."""
        rows = list(self.db.query(
            "select id, at from ticket_events where ticket_id = ? and (kind = 'reply' or "
            "(kind = 'status' and data like '%\"waiting_user\"%')) order by id desc limit 1", [ticket_id]))
        if not rows:
            return None
        moved = list(self.db.query(
            "select max(id) as id from ticket_events where ticket_id = ? and kind = 'moved'", [ticket_id]))
        if (moved[0]["id"] or 0) > rows[0]["id"]:
            return None
        return int(rows[0]["id"]), datetime.fromisoformat(rows[0]["at"])

    def move_out(self, ticket_id: int, official: Person, event_id: int) -> tuple[str, tuple[str, ...]]:
        """The official says a message that went into this ticket was a new question.

        The message stays in the history (it was seen); an event says it was
        not meant for the ticket and the technician is told. Returns the
        message's text and photos so it can be handled as a question.
        """
        ticket = self.get(ticket_id)
        if ticket.user_id != official.id:
            raise NotAllowed(msg.TICKET_NOT_FOUND.format(code=ticket.code))
        rows = list(self.db["ticket_events"].rows_where(
            "id = ? and ticket_id = ? and actor_id = ? and kind in ('message', 'edit')",
            [event_id, ticket_id, official.id]))
        if not rows:
            raise KeyError(event_id)
        photos = tuple(a["file_ref"] for a in self.db["attachments"].rows_where(
            "event_id = ?", [event_id], order_by="id"))
        if not list(self.db["ticket_events"].rows_where("ticket_id = ? and kind = 'moved' and id > ?",
                                                         [ticket_id, event_id])):
            self._event(ticket.id, official, "moved", msg.MOVED_OUT_EVENT, data={"event": event_id})
            self._to_assignee_or_queue(ticket, Reply(f"{ticket.code}: {msg.MOVED_OUT_EVENT}",
                                                     (Choice(msg.BTN_SHOW, f"show:{ticket.id}"),)))
        return rows[0]["text"] or "", photos

    def withdraw(self, ticket_id: int, official: Person) -> Ticket:
        ticket = self.get(ticket_id)
        if ticket.user_id != official.id:
            raise NotAllowed(msg.TICKET_NOT_FOUND.format(code=ticket.code))
        if not ticket.is_open:
            raise TicketError(msg.TICKET_NOT_OPEN.format(code=ticket.code, status=self.status_label(ticket)))
        self._update(ticket.id, status="closed", closed_at=self._now())
        self._event(ticket.id, official, "status", "withdrawn", data={"to": "closed"})
        self._to_assignee_or_queue(ticket, Reply(msg.WITHDRAWN_NOTICE.format(code=ticket.code)))
        self._refresh_card(ticket.id)
        return self.get(ticket.id)

    def confirm_fixed(self, ticket_id: int, official: Person) -> Ticket:
        ticket = self._official_resolved(ticket_id, official)
        self._update(ticket.id, status="closed", closed_at=self._now())
        self._event(ticket.id, official, "status", "confirmed fixed", data={"to": "closed"})
        self._refresh_card(ticket.id)
        return self.get(ticket.id)

    def still_broken(self, ticket_id: int, official: Person, text: str = "") -> Ticket:
        ticket = self.get(ticket_id)
        if ticket.user_id != official.id:
            raise NotAllowed(msg.TICKET_NOT_FOUND.format(code=ticket.code))
        if ticket.status not in ("resolved", "closed"):
            raise TicketError(msg.TICKET_NOT_RESOLVED.format(code=ticket.code))
        return self._reopen(ticket, official, text or msg.STILL_BROKEN_EVENT)

    def rate(self, ticket_id: int, official: Person, stars: int) -> Ticket:
        ticket = self.get(ticket_id)
        if ticket.user_id != official.id:
            raise NotAllowed(msg.TICKET_NOT_FOUND.format(code=ticket.code))
        if ticket.status not in ("resolved", "closed") or not 1 <= stars <= 5:
            raise TicketError(msg.CANNOT_RATE.format(code=ticket.code))
        if ticket.rating is not None:
            raise TicketError(msg.ALREADY_RATED.format(code=ticket.code))
        fields: dict[str, object] = {"rating": stars}
        if ticket.status == "resolved":
            fields.update(status="closed", closed_at=self._now())
        self._update(ticket.id, **fields)
        self._event(ticket.id, official, "rating", str(stars), data={"stars": stars})
        if ticket.assignee_id:
            self._to_user(ticket, Reply(msg.RATED_NOTICE.format(code=ticket.code, stars=stars)),
                          ticket.assignee_id)
        return self.get(ticket.id)

    def _official_resolved(self, ticket_id: int, official: Person) -> Ticket:
        ticket = self.get(ticket_id)
        if ticket.user_id != official.id:
            raise NotAllowed(msg.TICKET_NOT_FOUND.format(code=ticket.code))
        if ticket.status != "resolved":
            raise TicketError(msg.TICKET_NOT_RESOLVED.format(code=ticket.code))
        return ticket

    # -- the technician's side --------------------------------------------------

    def _require_technician(self, actor: Person) -> None:
        if not actor.is_technician:
            raise NotAllowed(msg.NOT_A_TECHNICIAN)

    def _open_for_technician(self, ticket_id: int, actor: Person) -> Ticket:
        self._require_technician(actor)
        ticket = self.get(ticket_id)
        if not ticket.is_open:
            raise TicketError(msg.TICKET_NOT_OPEN.format(code=ticket.code, status=self.status_label(ticket)))
        return ticket

    def claim(self, ticket_id: int, actor: Person) -> Ticket:
        ticket = self._open_for_technician(ticket_id, actor)
        if ticket.assignee_id == actor.id:
            raise TicketError(msg.ALREADY_YOURS.format(code=ticket.code))
        if ticket.assignee_id is not None:
            holder = self.people.get(ticket.assignee_id)
            raise TicketError(msg.ALREADY_CLAIMED.format(code=ticket.code, name=holder.full_name or f"#{holder.id}"))
        return self._assign(ticket, actor, actor)

    def assign(self, ticket_id: int, actor: Person, to: Person) -> Ticket:
        ticket = self._open_for_technician(ticket_id, actor)
        if not to.is_technician:
            raise TicketError(msg.ASSIGNEE_NOT_TECHNICIAN)
        return self._assign(ticket, actor, to)

    def _assign(self, ticket: Ticket, actor: Person, to: Person) -> Ticket:
        status = "assigned" if ticket.status == "new" else ticket.status
        self._update(ticket.id, assignee_id=to.id, status=status, last_activity_at=self._now())
        self._event(ticket.id, actor, "assign", data={"to": to.id})
        name = actor.full_name or msg.A_TECHNICIAN
        if ticket.status == "new":
            self._to_user(ticket, Reply(msg.CLAIMED_NOTICE.format(code=ticket.code, name=name)))
        if to.id != actor.id:
            self._to_user(ticket, Reply(msg.ASSIGNED_TO_YOU.format(code=ticket.code),
                                        (Choice(msg.BTN_SHOW, f"show:{ticket.id}"),)), to.id)
        self._mark_first_response(ticket)
        self._refresh_card(ticket.id)
        return self.get(ticket.id)

    def transfer(self, ticket_id: int, actor: Person, queue_id: str) -> Ticket:
        ticket = self._open_for_technician(ticket_id, actor)
        known = {s.queue for s in self.systems.values()} | set(self.config.queues)
        if queue_id not in known:
            raise TicketError(msg.UNKNOWN_QUEUE.format(queue=queue_id, known=", ".join(sorted(known))))
        self._update(ticket.id, queue_id=queue_id, assignee_id=None, status="new", sla_stage=SLA_NONE)
        self._event(ticket.id, actor, "transfer", data={"queue": queue_id})
        self._refresh_card(ticket.id)
        return self.get(ticket.id)

    def _mark_first_response(self, ticket: Ticket) -> None:
        if ticket.first_response_at is None:
            self._update(ticket.id, first_response_at=self._now())

    def reply(self, ticket_id: int, actor: Person, text: str) -> Ticket:
        """A technician's answer, relayed to the official on their channel."""
        ticket = self._open_for_technician(ticket_id, actor)
        if not text.strip():
            raise TicketError(msg.EMPTY_REPLY)
        self._event(ticket.id, actor, "reply", text)
        self._update(ticket.id, last_activity_at=self._now())
        self._mark_first_response(ticket)
        self._to_user(ticket, Reply(
            msg.TECHNICIAN_SAYS.format(code=ticket.code, text=text),
            (Choice(msg.BTN_ANSWER_TECHNICIAN.format(code=ticket.code), f"add:{ticket.id}"),)))
        return self.get(ticket.id)

    def note(self, ticket_id: int, actor: Person, text: str) -> Ticket:
        """An internal note: kept on the ticket, never sent to the official."""
        self._require_technician(actor)
        ticket = self.get(ticket_id)
        if not text.strip():
            raise TicketError(msg.EMPTY_REPLY)
        self._event(ticket.id, actor, "note", text, internal=True)
        return ticket

    def wait_for_user(self, ticket_id: int, actor: Person, text: str = "") -> Ticket:
        ticket = self._open_for_technician(ticket_id, actor)
        self._update(ticket.id, status="waiting_user", last_activity_at=self._now())
        self._event(ticket.id, actor, "status", text, data={"to": "waiting_user"})
        self._mark_first_response(ticket)
        self._to_user(ticket, Reply(
            msg.WAITING_FOR_YOU.format(code=ticket.code, text=text or msg.WAITING_DEFAULT),
            (Choice(msg.BTN_ANSWER_TECHNICIAN.format(code=ticket.code), f"add:{ticket.id}"),)))
        self._refresh_card(ticket.id)
        return self.get(ticket.id)

    def resolve(self, ticket_id: int, actor: Person, note: str) -> Ticket:
        ticket = self._open_for_technician(ticket_id, actor)
        now = self._now()
        fields: dict[str, object] = {"status": "resolved", "resolved_at": now, "resolution_note": note,
                                     "last_activity_at": now}
        if ticket.assignee_id is None:
            fields["assignee_id"] = actor.id
        self._update(ticket.id, **fields)
        self._event(ticket.id, actor, "status", note, data={"to": "resolved"})
        self._mark_first_response(ticket)
        self._to_user(ticket, Reply(
            msg.RESOLVED_NOTICE.format(code=ticket.code, note=note or msg.NO_NOTE),
            (Choice(msg.BTN_FIXED, f"fixed:{ticket.id}"), Choice(msg.BTN_BROKEN, f"broken:{ticket.id}"))))
        self._refresh_card(ticket.id)
        return self.get(ticket.id)

    def reopen(self, ticket_id: int, actor: Person, text: str = "") -> Ticket:
        self._require_technician(actor)
        ticket = self.get(ticket_id)
        if ticket.status not in ("resolved", "closed"):
            raise TicketError(msg.TICKET_NOT_RESOLVED.format(code=ticket.code))
        return self._reopen(ticket, actor, text)

    def _reopen(self, ticket: Ticket, actor: Person, text: str) -> Ticket:
        status = "assigned" if ticket.assignee_id else "new"
        self._update(ticket.id, status=status, resolved_at=None, closed_at=None,
                     last_activity_at=self._now(), sla_stage=SLA_NONE)
        self._event(ticket.id, actor, "status", text, data={"to": status, "reopen": True})
        notice = Reply(msg.REOPENED_NOTICE.format(code=ticket.code, text=text or "-"),
                       (Choice(msg.BTN_SHOW, f"show:{ticket.id}"),))
        if actor.id == ticket.user_id:
            self._to_assignee_or_queue(self.get(ticket.id), notice)
        else:
            self._to_user(ticket, Reply(msg.REOPENED_FOR_YOU.format(code=ticket.code)))
        self._refresh_card(ticket.id)
        return self.get(ticket.id)

    # -- time-driven ------------------------------------------------------------

    def _target(self, ticket: Ticket) -> SlaTarget:
        sla = self.config.tickets.sla
        return sla.urgent if ticket.urgency == "urgent" else sla.normal

    def tick(self) -> int:
        """SLA reminders and escalations, and closing resolved tickets nobody answered.

        Returns how many tickets changed. Call it every minute or so; every
        reminder is recorded in `sla_stage`, so calling it often repeats nothing.
        """
        now = self.clock()
        changed = 0
        auto_close = timedelta(hours=self.config.tickets.auto_close_hours)
        for row in list(self.db.query("select * from tickets indexed by tickets_status_resolved "
                                      "where status = 'resolved' and resolved_at <= ?",
                                      [iso(now - auto_close)])):
            with self.db.atomic():
                ticket = _ticket(row)
                self._update(ticket.id, status="closed", closed_at=iso(now))
                self._event(ticket.id, None, "status", "auto-closed", data={"to": "closed"})
                self._to_user(ticket, Reply(msg.AUTO_CLOSED.format(code=ticket.code)))
                changed += 1
        # Only the tickets whose next reminder is due: the stored instant is indexed (and the
        # index named: with statistics, SQLite prefers scanning by id to sorting a few rows).
        due = list(self.db.query(
            f"select * from tickets indexed by tickets_status_sla_due where status in ({','.join('?' for _ in SLA_STATUSES)}) "
            "and sla_due_at <= ? order by id", [*SLA_STATUSES, _utc_text(now)]))
        for row in due:
            with self.db.atomic():
                changed += self._sla_step(_ticket(row), now)
        return changed

    def _sla_step(self, ticket: Ticket, now: datetime) -> int:
        target = self._target(ticket)
        created = datetime.fromisoformat(ticket.created_at)
        worked = self.calendar.working_time_between(created, now)
        if ticket.first_response_at is None:
            limit, stages, kind = target.first_response_hours, (SLA_RESPONSE_REMINDED, SLA_RESPONSE_ESCALATED), "response"
        else:
            limit, stages, kind = target.resolution_hours, (SLA_RESOLUTION_REMINDED, SLA_RESOLUTION_ESCALATED), "resolution"
        hours = worked / timedelta(hours=1)
        if hours >= 2 * limit and ticket.sla_stage < stages[1]:
            self._update(ticket.id, sla_stage=stages[1])
            self._event(ticket.id, None, "sla", f"{kind} escalated", internal=True)
            text = msg.SLA_ESCALATION.format(code=ticket.code, hours=round(hours, 1),
                                             what=msg.SLA_WHAT[kind], target=limit)
            for channel, chat in self.admin_targets():
                enqueue(self.db, now, channel, chat, Reply(text, (Choice(msg.BTN_SHOW, f"show:{ticket.id}"),)),
                        ticket_id=ticket.id)
            self._refresh_card(ticket.id)
            return 1
        if hours >= limit and ticket.sla_stage < stages[0]:
            self._update(ticket.id, sla_stage=stages[0])
            self._event(ticket.id, None, "sla", f"{kind} reminder", internal=True)
            text = msg.SLA_REMINDER.format(code=ticket.code, hours=round(hours, 1),
                                           what=msg.SLA_WHAT[kind], target=limit)
            self._to_assignee_or_queue(ticket, Reply(text, (Choice(msg.BTN_SHOW, f"show:{ticket.id}"),)))
            self._refresh_card(ticket.id)
            return 1
        return 0
