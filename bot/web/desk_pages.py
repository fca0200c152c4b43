"""/console: the technicians' queue and ticket pages, live, with canned replies and FAQ answers.

The queue (filtered and paged in SQL, searchable) and the ticket page are
Jinja2 templates; both hold a server-sent-event stream open
(`/console/api/events`, staff only) and reload the part that changed when a
ticket does: a new ticket shows up in the queue without a reload, with a
count in the tab's title and, if the technician turned it on, a sound. The
ticket page reads as a conversation (the official, the bot, technicians,
internal notes each set apart) with the card and the actions beside it.
Every action goes through the same desk commands as on Telegram, on the
writer thread; a reply meant for a browser chat is delivered in the same
transaction, so the official's page shows it at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import yaml
from aiohttp import web

from bot import messages as msg
from bot.app import Services
from bot.desk import canned
from bot.desk.people import Person
from bot.desk.state import State
from bot.desk.tickets import COUNT_LIMIT, QueueFilter, Ticket, TicketError, TicketPage
from bot.knowledge.base import province_file
from bot.language.text import fold
from bot.models import OPEN_STATUSES
from bot.store.database import StorageUnavailable
from bot.store.outbox import iso
from bot.web.chat_pages import deliver_web
from bot.web.live import TICKETS, Hub, Subscription, serve_stream, sse

log = logging.getLogger(__name__)

# A technician's open tabs with a live stream: browsers keep 6 connections per server (HTTP/1.1),
# and a stream holds one; a tab over the limit is refused and its page retries every few seconds.
STREAMS_PER_SESSION = 4
STREAMS_PER_ADDRESS = 60
FAQ_FOUND = 6  # entries offered for "send FAQ entry"
# Form actions: the desk command each one is, and the form field that carries its text.
ACTIONS = {"claim": ("claim", ""), "reply": ("reply", "text"), "note": ("note", "text"), "wait": ("wait", "text"),
           "resolve": ("resolve", "note"), "transfer": ("transfer", "queue"), "reopen": ("reopen", "")}


@dataclass(frozen=True)
class Line:
    """One line of a ticket's conversation: who (a CSS class and a label), when, what."""

    who: str  # official, bot, technician, internal, system
    label: str
    at: str
    text: str
    photos: tuple[str, ...] = ()


def queue_names(knowledge_dir: Any) -> dict[str, str]:
    """Queue id → the team's name, from systems.yaml's `queues:` (a queue not named there keeps its id)."""
    try:
        data = yaml.safe_load(province_file(knowledge_dir, "systems.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return {str(q["id"]): str(q.get("name") or q["id"]) for q in data.get("queues") or [] if isinstance(q, dict)
            and q.get("id")}


class DeskPages:
    """The technicians' routes; sessions, CSRF and roles come from the console they belong to."""

    def __init__(self, console: Any, hub: Hub) -> None:
        self.console = console
        self.s: Services = console.s
        self.hub = hub
        self.queue_names = queue_names(self.s.config.knowledge_dir)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/console", self.queue_page),
            web.get("/console/api/events", self.events),
            web.get("/console/canned", self.canned_page),
            web.post("/console/canned", self.canned_save),
            web.post("/console/canned/{id}/delete", self.canned_delete),
            web.get("/console/ticket/{id}", self.ticket_page),
            web.post("/console/ticket/{id}/send-faq", self.send_faq),
            web.post("/console/ticket/{id}/{action}", self.ticket_action),
        ]

    # -- describing ----------------------------------------------------------------------

    # What follows down to the queue's filter runs on the reader's thread (`self.s.reader.run`),
    # with the reader's connection (`self.s.reads`).

    def _name(self, user_id: int | None) -> str:
        if user_id is None:
            return msg.SYSTEM_ACTOR
        person = self.s.reads.people.get(user_id)
        return person.full_name or f"#{person.id}"

    def queue_name(self, queue_id: str | None) -> str:
        return self.queue_names.get(queue_id or "", queue_id or "?")

    def _queues(self) -> list[tuple[str, str]]:
        ids = {s.queue for s in self.s.faq.kb.systems.values() if s.queue} | set(self.s.config.queues)
        return sorted(((q, self.queue_name(q)) for q in ids), key=lambda pair: pair[1])

    def _row(self, t: Ticket, now: datetime) -> dict:
        tickets, zone = self.s.reads, self.s.calendar.zone
        deadline = datetime.fromisoformat(t.deadline_at) if t.deadline_at and t.is_open else None
        return {"id": t.id, "code": t.code, "status": tickets.status_label(t), "new": t.status == "new",
                "urgency": msg.URGENCY_LABELS[t.urgency], "urgent": t.urgency != "normal",
                "system": tickets.system_name(t.system_id), "commune": tickets.commune_name(t.commune_id),
                "deadline": deadline.astimezone(zone).strftime("%H:%M %d/%m") if deadline else "",
                "late": deadline is not None and deadline <= now,
                "assignee": self._name(t.assignee_id) if t.assignee_id else "",
                "description": t.description[:80], "solution": (t.resolution_note or "")[:160]}

    def _conversation(self, ticket: Ticket, attachments: list[dict]) -> tuple[list[Line], list[Line]]:
        """(the chat with the bot before the report, the ticket's own conversation) as lines, each
        message with the pictures sent with it (`attachments`: the ticket's, read once by the caller)."""
        zone = self.s.calendar.zone
        tickets = self.s.reads
        before = [Line("official" if m["direction"] == "in" else "bot", msg.TRANSCRIPT_WHO.get(m["direction"], ""),
                       "", m["text"][:300]) for m in tickets.transcript(ticket.id)]
        photos: dict[int, list[str]] = {}
        for a in attachments:
            if a["file_ref"].startswith("/files/") and a["event_id"] is not None:
                photos.setdefault(a["event_id"], []).append(a["file_ref"])
        lines = []
        for ev in tickets.events(ticket.id, include_internal=True):
            at = datetime.fromisoformat(ev["at"]).astimezone(zone).strftime("%H:%M %d/%m")
            kind, text, data = ev["kind"], ev["text"] or "", json.loads(ev["data"]) if ev["data"] else {}
            name = self._name(ev["actor_id"])
            label = msg.EVENT_LABELS.get(kind, kind)
            if ev["internal"]:
                who, label = "internal", f"📝 {name} · {label} ({msg.DESK_INTERNAL})"
            elif kind in ("created", "message", "edit", "rating") and ev["actor_id"] == ticket.user_id:
                who, label = "official", f"{msg.TRANSCRIPT_WHO['in']} {name} · {label}"
            elif kind == "reply" or (kind == "status" and text):
                who, label = "technician", f"{msg.DESK_WHO_TECHNICIAN.format(name=name)} · {label}"
                if kind == "status":
                    label += " · " + msg.STATUS_LABELS.get(data.get("to", ""), "")
            else:
                who = "system"
                if kind == "transfer":
                    text = msg.EVENT_TRANSFERRED.format(queue=self.queue_name(data.get("queue")))
                elif kind == "assign" and data.get("to"):
                    text = msg.EVENT_ASSIGNED.format(name=self._name(data["to"]))
                elif kind == "status" and data.get("to"):
                    text = msg.EVENT_STATUS_TO.format(status=msg.STATUS_LABELS.get(data["to"], data["to"]))
                label = f"{name} · {label}"
            lines.append(Line(who, label, at, text, tuple(photos.get(ev["id"], ()))))
        return before, lines

    # -- the queue -----------------------------------------------------------------------

    def _queue_filter(self, q: Mapping[str, str], now: datetime) -> QueueFilter:
        """The list asked for in the query string; anything unknown is ignored, not trusted."""
        search = " ".join(q.get("q", "").split())[:200]
        if q.get("status") in msg.STATUS_LABELS:
            statuses: tuple[str, ...] = (q["status"],)
        else:  # the open queue; a search looks through every ticket, closed ones included
            statuses = tuple(msg.STATUS_LABELS) if search else OPEN_STATUSES
        communes = None
        if q.get("commune", "").strip():
            typed = fold(q["commune"])
            communes = tuple(c.id for c in self.s.communes if typed in fold(c.name))
        return QueueFilter(statuses=statuses, system_id=q.get("system") or None, commune_ids=communes,
                           late_at=now if q.get("sla") == "late" else None, search=search)

    async def queue_page(self, request: web.Request) -> web.StreamResponse:
        """The queue, or any list of tickets: filtered and paged in SQL (keyset), searchable, live."""
        session, person = self.console._staff(request)
        q = request.query
        now = self.s.clock()
        wanted = self._queue_filter(q, now)

        def read() -> tuple[TicketPage, list[dict]]:  # on the reader's thread
            page = self.s.reads.page(person, wanted, after=q.get("after") or None)
            return page, [self._row(t, now) for t in page.tickets]

        page, rows = await self.s.reader.run(read)
        kept = {k: v for k, v in q.items() if k in ("system", "status", "commune", "sla", "q") and v}
        context = {
            "rows": rows,
            "found": (msg.TICKETS_FOUND.format(n=page.total) if page.total <= COUNT_LIMIT
                      else msg.TICKETS_FOUND_MANY.format(n=COUNT_LIMIT)),
            "first_url": "/console?" + urlencode(kept) if q.get("after") else None,
            "next_url": "/console?" + urlencode({**kept, "after": page.next_cursor}) if page.next_cursor else None,
            "empty": msg.QUEUE_EMPTY if not q.get("status") and not q.get("q") else msg.NOTHING_FOUND,
        }
        if q.get("part") == "rows":  # the live page reloading its table
            return self.console.fragment("desk_queue_rows.html", **context)
        systems = sorted(((sid, s.name) for sid, s in self.s.faq.kb.systems.items()), key=lambda p: p[1])
        return self.console.render(request, "desk_queue.html", session, person, q=q, systems=systems, **context)

    # -- the live stream -----------------------------------------------------------------

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Ticket changes as they are committed (id and kind only; pages read the rest as staff)."""
        session = self.console._session(request)
        person = self.console._account_person(session)
        if session is None or person is None or not person.is_technician:
            raise web.HTTPForbidden(text=msg.NOT_A_TECHNICIAN)

        async def produce(sub: Subscription) -> bytes:
            overflowed, sub.overflowed = sub.overflowed, False
            items = sub.take()
            if overflowed:
                return sse({}, "reload")
            return b"".join(sse(item, "ticket") for item in items)

        limits = {f"staff:{session.token}": STREAMS_PER_SESSION,
                  f"address:{self.console.client(request)}": STREAMS_PER_ADDRESS}
        return await serve_stream(request, self.hub, TICKETS, limits, produce, owner=session.token)

    # -- a ticket ------------------------------------------------------------------------

    def _faq_found(self, words: str) -> list[Any]:
        """Entries for "send FAQ entry": the matcher's ranking of what the technician typed."""
        if not words.strip():
            return []
        kb = self.s.faq.kb
        ranked = self.s.faq.matcher.rank(words[:300], limit=FAQ_FOUND)
        return [entry for c in ranked if (entry := kb.entry(c.entry_id)) is not None]

    async def ticket_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        ticket_id = _int(request.match_info["id"])
        whole = request.query.get("part") != "live"

        def read() -> dict[str, Any]:  # on the reader's thread
            ticket = self.s.reads.visible_to(ticket_id, person)
            attachments = self.s.reads.attachments(ticket.id)
            before, lines = self._conversation(ticket, attachments)
            context = {"ticket": ticket, "card": self.s.reads.card(ticket).text, "before": before, "lines": lines}
            if whole:
                context.update(attachments=attachments, canned=canned.listed(self.s.reads.db))
            return context

        try:
            context = await self.s.reader.run(read)
        except TicketError as exc:
            raise web.HTTPNotFound(text=str(exc)) from exc
        if not whole:
            return self.console.fragment("desk_ticket_live.html", **context)
        faq_q = request.query.get("faq", "")[:300]
        return self.console.render(request, "desk_ticket.html", session, person, **context, queues=self._queues(),
                      faq_q=faq_q, faq_found=self._faq_found(faq_q), done=request.query.get("done", ""))

    async def _act(self, ticket_id: int, person: Person, word: str, text: str) -> web.HTTPFound:
        """Run a desk command on the writer, delivering web-chat replies in the same transaction."""
        desk = self.s.engine.desk

        def act() -> str:
            replies = desk.on_command(word, f"{ticket_id} {text}".strip(), person, State())
            deliver_web(self.s.engine.db, iso(self.s.clock()))
            return replies[0].text if replies else ""

        try:
            done = await self.s.writer.run(act)
        except StorageUnavailable as exc:
            raise web.HTTPServiceUnavailable(text=msg.WEB_TRY_AGAIN) from exc
        return web.HTTPFound(f"/console/ticket/{ticket_id}?{urlencode({'done': done})}")

    async def ticket_action(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        form = await self.console._form(request, session)
        action = request.match_info["action"]
        if action not in ACTIONS:
            raise web.HTTPNotFound()
        word, field = ACTIONS[action]
        raise await self._act(_int(request.match_info["id"]), person, word, str(form.get(field, "")) if field else "")

    async def send_faq(self, request: web.Request) -> web.StreamResponse:
        """Send an FAQ entry's answer to the official, as the bot renders it, as this technician's reply."""
        session, person = self.console._staff(request)
        form = await self.console._form(request, session)
        kb = self.s.faq.kb
        entry = kb.entry(str(form.get("entry_id", "")))
        if entry is None:
            raise web.HTTPBadRequest(text="unknown FAQ entry")
        text = msg.FAQ_FROM_TECHNICIAN.format(question=entry.question, answer=in_a_ticket(kb.render(entry.answer)))
        raise await self._act(_int(request.match_info["id"]), person, "reply", text)

    # -- canned replies ------------------------------------------------------------------

    async def canned_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        after_title = request.query.get("after_title", "")
        after_id = _int(request.query.get("after_id", "0") or "0")
        items = canned.listed(self.s.db, after_title, after_id, canned.PAGE_SIZE + 1)
        more = items[canned.PAGE_SIZE - 1] if len(items) > canned.PAGE_SIZE else None
        next_url = ("/console/canned?" + urlencode({"after_title": more.title, "after_id": more.id})) if more else None
        return self.console.render(request, "desk_canned.html", session, person, items=items[:canned.PAGE_SIZE],
                      next_url=next_url, done=request.query.get("done", ""), error=request.query.get("error", ""))

    async def canned_save(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        form = await self.console._form(request, session)
        title, text = canned.clean(str(form.get("title", "")), str(form.get("text", "")))
        if not title or not text:
            raise web.HTTPSeeOther("/console/canned?" + urlencode({"error": msg.CANNED_MISSING}))
        given = str(form.get("id", ""))
        who = session.username or person.full_name
        await self.s.writer.run(canned.save, self.s.engine.db, int(given) if given.isdigit() else None,
                                title, text, who, iso(self.s.clock()))
        raise web.HTTPSeeOther("/console/canned?" + urlencode({"done": msg.CANNED_SAVED.format(title=title)}))

    async def canned_delete(self, request: web.Request) -> web.StreamResponse:
        session, _ = self.console._staff(request)
        await self.console._form(request, session)
        await self.s.writer.run(canned.delete, self.s.engine.db, _int(request.match_info["id"]))
        raise web.HTTPSeeOther("/console/canned?" + urlencode({"done": msg.CANNED_DELETED}))


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise web.HTTPNotFound() from exc


def in_a_ticket(answer: str) -> str:
    """An FAQ answer as a technician sends it into a ticket: without the line that tells the
    official to press "Gặp kỹ thuật viên", since a technician is already on it."""
    return "\n".join(line for line in answer.rstrip().splitlines() if msg.FAQ_ESCALATION_MARK not in line)
