"""Shared outages (incidents): one problem, many communes, one card, one resolution.

When reports on the same system from at least `incident_communes` different
communes arrive within `incident_window_minutes`, described alike, the bot
opens an incident and links them; a technician can also declare one
(`/sucochung <system> <text>`, or the console). While it is open:

- technicians see one incident card per queue that grows ("7 xã/phường"),
  not a card per report;
- every reporter is told it is a known problem being handled;
- questions and reports about that system are first answered with a notice,
  with a way to join it ("tôi cũng bị") or still report something different.

Resolving it resolves every linked open ticket with one message to each
official, who can still say "still broken" on their own ticket.

Alike means: the descriptions, read by the matcher's own analyser
(abbreviations expanded, synonyms unified, stopwords and the system's own
name dropped, accents folded), have a rapidfuzz token_set_ratio of at least
`incident_similarity`. So "mot cua loi 502 ko dang nhap dc" and "Không vào
được một cửa, báo lỗi 502" group, while "máy in phiếu hẹn ở một cửa bị lệch
lề" does not (see docs/insight.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz
from sqlite_utils import Database

from bot import messages as msg
from bot.config import Config
from bot.desk.people import Person
from bot.desk.tickets import Ticket, TicketError, TicketStore
from bot.knowledge.live import Faq
from bot.language.text import fold
from bot.models import Choice, Reply
from bot.store.outbox import enqueue, iso

COMMANDS = {"sucochung": "declare", "xongsuco": "resolve", "suco": "list"}


@dataclass(frozen=True)
class Incident:
    id: int
    system_id: str
    title: str
    status: str
    opened_at: str
    declared: bool
    resolved_at: str | None
    note: str | None

    @property
    def code(self) -> str:
        return f"S{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status == "open"


def _incident(row: dict) -> Incident:
    return Incident(row["id"], row["system_id"], row["title"] or "", row["status"], row["opened_at"],
                    bool(row["declared"]), row["resolved_at"], row["note"])


class Incidents:
    """Detection, the incident card, notices, and resolving every linked ticket at once."""

    def __init__(self, db: Database, faq: Faq, tickets: TicketStore, config: Config,
                 clock: Callable[[], datetime], watch: bool = True) -> None:
        """`watch`: see every ticket this store opens (the writer's); False for a reader's view."""
        self.db = db
        self.faq = faq
        self.tickets = tickets
        self.settings = config.insight
        self.clock = clock
        self._joining: int | None = None  # an official pressed "I have this too" on this incident
        if watch:
            tickets.on_opened = self.absorb

    # -- reading ---------------------------------------------------------------------------

    def get(self, incident_id: int) -> Incident:
        rows = list(self.db["incidents"].rows_where("id = ?", [incident_id]))
        if not rows:
            raise TicketError(msg.INCIDENT_NOT_FOUND.format(code=f"S{incident_id}"))
        return _incident(rows[0])

    def active(self, system_id: str | None) -> Incident | None:
        if not system_id:
            return None
        cursor = self.db.execute(  # plain SQL: every answer asks whether its system is down
            "select * from incidents where status = 'open' and system_id = ? order by id desc limit 1", [system_id])
        row = cursor.fetchone()
        return _incident(dict(zip([c[0] for c in cursor.description], row, strict=True))) if row else None

    def of_ticket(self, ticket_id: int) -> Incident | None:
        row = self.db.execute("select incident_id from incident_tickets where ticket_id = ?", [ticket_id]).fetchone()
        return self.get(row[0]) if row else None

    def linked(self, incident_id: int) -> list[Ticket]:
        ids = [r[0] for r in self.db.execute(
            "select ticket_id from incident_tickets where incident_id = ? order by ticket_id", [incident_id])]
        return [self.tickets.get(i) for i in ids]

    def recent(self, limit: int = 20, offset: int = 0) -> list[Incident]:
        return [_incident(r) for r in self.db["incidents"].rows_where(
            order_by="status = 'open' desc, id desc", limit=limit, offset=offset)]

    def communes(self, incident_id: int) -> list[str]:
        seen: dict[str, None] = {}
        for t in self.linked(incident_id):
            seen.setdefault(self.tickets.commune_name(t.commune_id), None)
        return list(seen)

    # -- similarity ------------------------------------------------------------------------------

    def words(self, text: str, system_id: str | None) -> str:
        """The description's meaningful words: analysed like a question, minus the system's own name."""
        system = self.tickets.systems.get(system_id or "")
        own = set()
        if system is not None:
            own = set(fold(system.name).split()) | set(fold(system.id).split())
            own |= {t.folded for reading in self.faq.matcher.analyzer.readings(system.name) for t in reading}
        terms = self.faq.matcher.analyzer.readings(text)[0]
        return " ".join(t.folded for t in terms if not t.stop and t.folded not in own)

    def similar(self, a: str, b: str, system_id: str | None) -> bool:
        wa, wb = self.words(a, system_id), self.words(b, system_id)
        if not wa or not wb:
            return False  # nothing to compare but the system itself: not evidence of one problem
        return fuzz.token_set_ratio(wa, wb) >= self.settings.incident_similarity

    # -- detection (inside the transaction that opens the ticket) ---------------------------------

    def absorb(self, ticket: Ticket) -> bool:
        """Link a new ticket to an open incident, or open one; True when its own card is not needed."""
        joining, self._joining = self._joining, None
        active = self.active(ticket.system_id)
        if joining is not None:
            incident = self.get(joining)
            if incident.is_open:
                self._link(incident, [ticket])
                return True
        if active is not None:
            references = [active.title] + [t.description for t in self.linked(active.id)]
            if any(self.similar(ticket.description, ref, ticket.system_id) for ref in references):
                self._link(active, [ticket])
                return True
            return False
        group = self._group_for(ticket)
        if group is None:
            return False
        incident = self._open(ticket.system_id or "", ticket.description, None)
        self._link(incident, group, tell=[t for t in group if t.id != ticket.id])
        return True

    def _group_for(self, ticket: Ticket) -> list[Ticket] | None:
        """Recent unlinked reports on the same system described alike, if enough communes sent them."""
        if not ticket.system_id or not ticket.commune_id:
            return None
        since = iso(datetime.fromisoformat(ticket.created_at) - timedelta(minutes=self.settings.incident_window_minutes))
        rows = self.db.execute(
            "select id from tickets where system_id = ? and created_at >= ? and id != ? "
            "and status in ('new', 'assigned', 'waiting_user') "
            "and id not in (select ticket_id from incident_tickets) order by id", [ticket.system_id, since, ticket.id])
        group = [ticket] + [t for t in (self.tickets.get(r[0]) for r in rows)
                            if self.similar(ticket.description, t.description, ticket.system_id)]
        communes = {t.commune_id for t in group if t.commune_id}
        return group if len(communes) >= self.settings.incident_communes else None

    # -- opening, linking, the card ------------------------------------------------------------------

    def _open(self, system_id: str, title: str, actor: Person | None) -> Incident:
        table = self.db["incidents"]
        table.insert({"system_id": system_id, "title": " ".join(title.split())[:200], "status": "open",
                      "opened_at": iso(self.clock()), "opened_by": actor.id if actor else None,
                      "declared": int(actor is not None)})
        return self.get(int(table.last_pk))  # type: ignore[arg-type]

    def _link(self, incident: Incident, tickets: list[Ticket], tell: list[Ticket] | None = None) -> None:
        now = iso(self.clock())
        for t in tickets:
            self.db["incident_tickets"].upsert({"ticket_id": t.id, "incident_id": incident.id, "linked_at": now},
                                               pk="ticket_id")
            self.tickets.event(t.id, None, "incident", incident.code, internal=True, data={"incident": incident.id})
        for t in tell or []:
            self.tickets.tell_official(t, Reply(self.linked_notice(incident, t)))
        self._post_card(incident)

    def linked_notice(self, incident: Incident, ticket: Ticket) -> str:
        return msg.INCIDENT_LINKED.format(code=ticket.code, system=self.tickets.system_name(incident.system_id),
                                          since=self._since(incident), communes=len(self.communes(incident.id)))

    def _since(self, incident: Incident) -> str:
        at = datetime.fromisoformat(incident.opened_at).astimezone(self.tickets.calendar.zone)
        today = self.clock().astimezone(self.tickets.calendar.zone).date()
        return at.strftime("%H:%M") if at.date() == today else at.strftime("%H:%M %d/%m")

    def card(self, incident: Incident) -> Reply:
        linked = self.linked(incident.id)
        communes = self.communes(incident.id)
        text = msg.INCIDENT_CARD.format(
            code=incident.code, system=self.tickets.system_name(incident.system_id), since=self._since(incident),
            n=len(communes), communes=", ".join(communes) or "-", title=incident.title or "-",
            tickets=" ".join(t.code for t in linked) or "-",
            status=msg.INCIDENT_OPEN.format(code=incident.id) if incident.is_open else msg.INCIDENT_RESOLVED_STATUS.format(
                note=incident.note or "-"))
        return Reply(text, key=f"incident:{incident.id}")

    def _post_card(self, incident: Incident) -> None:
        system = self.tickets.systems.get(incident.system_id)
        for channel, chat in self.tickets.queue_targets(system.queue if system else None):
            enqueue(self.db, self.clock(), channel, chat, self.card(incident))

    # -- declaring and resolving ------------------------------------------------------------------

    def declare(self, system_id: str, title: str, actor: Person) -> Incident:
        """A technician declares an outage: open reports on the system from the window are linked."""
        if not actor.is_technician:
            raise TicketError(msg.NOT_A_TECHNICIAN)
        if system_id not in self.tickets.systems:
            raise TicketError(msg.INCIDENT_UNKNOWN_SYSTEM.format(
                system=system_id, known=", ".join(sorted(self.tickets.systems))))
        if self.active(system_id) is not None:
            raise TicketError(msg.INCIDENT_ALREADY_OPEN.format(code=self.active(system_id).code))  # type: ignore[union-attr]
        incident = self._open(system_id, title, actor)
        since = iso(self.clock() - timedelta(minutes=self.settings.incident_window_minutes))
        rows = self.db.execute(
            "select id from tickets where system_id = ? and created_at >= ? "
            "and status in ('new', 'assigned', 'waiting_user') "
            "and id not in (select ticket_id from incident_tickets) order by id", [system_id, since])
        found = [self.tickets.get(r[0]) for r in rows]
        self._link(incident, found, tell=found)
        return self.get(incident.id)

    def resolve(self, incident_id: int, actor: Person, note: str) -> tuple[Incident, int]:
        """Resolve the incident and each linked open ticket (one message to each official)."""
        if not actor.is_technician:
            raise TicketError(msg.NOT_A_TECHNICIAN)
        incident = self.get(incident_id)
        if not incident.is_open:
            raise TicketError(msg.INCIDENT_NOT_OPEN.format(code=incident.code))
        if not note.strip():
            raise TicketError(msg.EMPTY_REPLY)
        resolved = 0
        for ticket in self.linked(incident.id):
            if ticket.is_open:
                self.tickets.resolve(ticket.id, actor, note)
                resolved += 1
        self.db["incidents"].update(incident.id, {"status": "resolved", "resolved_at": iso(self.clock()),
                                                  "resolved_by": actor.id, "note": note})
        incident = self.get(incident.id)
        self._post_card(incident)
        return incident, resolved

    # -- what officials see while it lasts -------------------------------------------------------------

    def notice(self, incident: Incident, report_different: str) -> Reply:
        """The notice, with 'I have this too' and a way to still report something different."""
        return Reply(msg.INCIDENT_NOTICE.format(system=self.tickets.system_name(incident.system_id),
                                                since=self._since(incident), n=len(self.communes(incident.id))),
                     (Choice(msg.BTN_INCIDENT_ME_TOO, f"inc:join:{incident.id}"),
                      Choice(msg.BTN_REPORT_DIFFERENT, report_different)))

    def join(self, incident_id: int, official: Person, channel: str, description: str,
             transcript: list[dict]) -> Ticket:
        """An official says they have this problem too: a ticket linked to the incident, no card of its own."""
        incident = self.get(incident_id)
        if not incident.is_open:
            raise TicketError(msg.INCIDENT_NOT_OPEN_FOR_YOU)
        self._joining = incident.id
        try:
            return self.tickets.open_ticket(official, channel, incident.system_id,
                                            description or msg.INCIDENT_ME_TOO_DESCRIPTION.format(title=incident.title),
                                            "normal", (), transcript)
        finally:
            self._joining = None

    # -- technicians' commands ------------------------------------------------------------------------

    def command(self, word: str, rest: str, actor: Person) -> list[Reply]:
        """/sucochung <system> <text>, /xongsuco <N> <note>, /suco (the open incidents)."""
        kind = COMMANDS[word]
        try:
            if kind == "declare":
                system, _, text = rest.strip().partition(" ")
                if not system or not text.strip():
                    return [Reply(msg.INCIDENT_DECLARE_USAGE)]
                incident = self.declare(self._system_id(system), text.strip(), actor)
                return [Reply(msg.INCIDENT_DECLARED.format(code=incident.code, n=len(self.linked(incident.id))))]
            if kind == "resolve":
                number, _, note = rest.strip().partition(" ")
                if not number.lstrip("sS").isdigit() or not note.strip():
                    return [Reply(msg.INCIDENT_RESOLVE_USAGE)]
                incident, n = self.resolve(int(number.lstrip("sS")), actor, note.strip())
                return [Reply(msg.INCIDENT_YOU_RESOLVED.format(code=incident.code, n=n))]
            open_ones = [i for i in self.recent(50) if i.is_open]
            if not open_ones:
                return [Reply(msg.INCIDENT_NONE_OPEN)]
            return [self.card(i) for i in open_ones[:10]]
        except TicketError as exc:
            return [Reply(str(exc))]

    def _system_id(self, typed: str) -> str:
        if typed in self.tickets.systems:
            return typed
        folded = fold(typed)
        for system in self.tickets.systems.values():
            if folded == fold(system.id) or folded in fold(system.name):
                return system.id
        return typed
