"""The web console's chat and technicians' pages; `console_routes` assembles every console page.

A third channel of the same core ("web"): the chat page sends what the
official types through the engine like any messenger, and the web channel's
"delivery" stores replies for the page, which polls for them. Technicians act
through the same desk commands as on Telegram.

What all pages share (sessions, CSRF, who is signed in, the template frame,
the login limits) is bot.web.pages; signing in and the first start's setup
link are bot.web.auth_pages; the admins' desk is bot.web.admin_pages and the
FAQ editor bot.web.faq_pages. Stored files are served only to staff and to
the chat they belong to. The chat must be linked to a registered official
with a one-time code the bot sends them (/web), except for a browser on this
very machine (bound to loopback, no `web.public_url`, no proxy headers),
where whoever holds the browser registers in the chat. Uploads are decoded
and re-encoded in worker threads (bot.store.attachments).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web

from bot import messages as msg
from bot.app import Services
from bot.desk.accounts import Session
from bot.desk.state import State
from bot.desk.tickets import COUNT_LIMIT, QueueFilter
from bot.language.text import fold
from bot.models import OPEN_STATUSES, Delivery, Incoming, Reply
from bot.store.attachments import NAME as STORED_NAME
from bot.store.attachments import REF_PREFIX, UnsafeImage
from bot.store.database import StorageUnavailable
from bot.store.outbox import iso
from bot.web.admin_pages import AdminPages
from bot.web.auth_pages import AuthPages
from bot.web.faq_pages import FaqPages
from bot.web.insight_pages import insight_routes
from bot.web.pages import LINK_PER_CLIENT, Pages, TooManyAttempts, e
from bot.web.trust import FILE_POLICY, is_direct_loopback

log = logging.getLogger(__name__)

__all__ = ["CHANNEL", "LINK_PER_CLIENT", "Console", "WebSender", "console_routes"]

CHANNEL = "web"
MAX_UPLOAD = 5 * 1024 * 1024


class WebSender:
    """The web channel's delivery: keep the reply for the chat page to fetch."""

    def __init__(self, services: Services) -> None:
        self.db = services.engine.db  # the writer's connection: written on its thread only
        self.writer = services.writer
        self.clock = services.clock

    async def send(self, delivery: Delivery) -> None:
        await self.writer.run(self._store, delivery)

    def _store(self, delivery: Delivery) -> None:
        with self.db.atomic():
            self.db["web_messages"].insert({"chat_ref": delivery.chat_ref, "from_bot": 1,
                                            "payload": delivery.reply.to_json(), "at": iso(self.clock())})


class Console(Pages):
    """The chat, the technicians' queue and tickets, and stored files (the base: bot.web.pages)."""

    def __init__(self, services: Services, open_chat: bool) -> None:
        """`open_chat`: bound to loopback with no proxy configured, so a browser on this machine may chat unlinked."""
        super().__init__(services)
        self.open_chat = open_chat
        self.files = services.attachments

    # -- plumbing -----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat", self.chat_page),
            web.get("/chat/api/messages", self.chat_messages),
            web.post("/chat/api/send", self.chat_send),
            web.post("/chat/link", self.chat_link),
            web.get("/files/{name}", self.file),
            web.get("/console", self.queue_page),
            web.get("/console/ticket/{id}", self.ticket_page),
            web.post("/console/ticket/{id}/{action}", self.ticket_action),
        ]

    # -- chat -------------------------------------------------------------------------------

    def _chat_allowed(self, request: web.Request, session: Session) -> bool:
        """A linked official's chat; or, on an open machine, a browser on it that no proxy relayed."""
        if self.s.people.find(CHANNEL, session.chat_ref) is not None:
            return True
        return self.open_chat and is_direct_loopback(request)

    async def chat_page(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        if not self._chat_allowed(request, session):
            body = (f'<h1>Hỏi đáp</h1><p>{e(msg.WEB_LINK_NEEDED)}</p>'
                    f'<form method="post" action="/chat/link" id="link">{self._csrf(session)}'
                    '<input name="code" autocomplete="one-time-code" autocapitalize="characters" '
                    'maxlength="20" placeholder="K7QM-4XPA">'
                    '<button>Vào</button></form>')
            return self._page(request, "Hỏi đáp", body)
        body = CHAT_BODY.format(csrf=e(session.csrf))
        return self._page(request, "Hỏi đáp", body, session)

    async def chat_link(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        form = await self._form(request, session)
        client = self.client(request)
        try:
            self._check_limits((self.link_by_client, client))
        except TooManyAttempts as exc:
            return self._too_many(request, "Hỏi đáp", exc.wait)
        if not await self._write(self.writer_accounts.use_link_code, str(form.get("code", "")), session.chat_ref):
            log.warning("console: a wrong web link code from %s", client)
            self.link_by_client.failed(client)
            return self._page(request, "Hỏi đáp", f'<p class="error">{e(msg.WEB_LINK_BAD)}</p>'
                              '<p><a href="/chat">Thử lại</a></p>')
        raise self._finish(request, web.HTTPFound("/chat"))  # type: ignore[misc]


    async def chat_messages(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        if not self._chat_allowed(request, session):
            raise web.HTTPForbidden()
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            after = 0
        rows = self.s.db["web_messages"].rows_where("chat_ref = ? and id > ?", [session.chat_ref, after],
                                                    order_by="id", limit=100)
        items = []
        for row in rows:
            reply = Reply.from_json(row["payload"])
            items.append({"id": row["id"], "from": "bot" if row["from_bot"] else "me", "text": reply.text,
                          "photos": [p for p in reply.photos if p.startswith("/files/")],
                          "choices": [{"label": c.label, "action": c.action} for c in reply.choices]})
        return self._finish(request, web.json_response({"messages": items}))

    async def chat_send(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        if not self._chat_allowed(request, session):
            raise web.HTTPForbidden()
        if request.content_length and request.content_length > MAX_UPLOAD + 64 * 1024:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD, actual_size=request.content_length)
        form = await self._form(request, session)
        text = str(form.get("text") or "")[:4000]
        action = str(form.get("action") or "") or None
        photos: tuple[str, ...] = ()
        upload = form.get("photo")
        if isinstance(upload, web.FileField):
            data = upload.file.read(MAX_UPLOAD + 1)
            try:
                photos = (await self._offload(self.files.save_image, data),)
            except UnsafeImage as exc:
                log.info("console: refused an upload from %s: %s", self.client(request), exc)
                return self._finish(request, web.json_response({"error": msg.WEB_BAD_UPLOAD}, status=400))
        if not text and not action and not photos:
            return self._finish(request, web.json_response({"ok": True}))
        shown = text or ("[ảnh]" if photos else "")
        label = str(form.get("label") or "")
        incoming = Incoming(CHANNEL, session.chat_ref, session.chat_ref, text=text, action=action,
                            photos=photos, update_id=str(form.get("nonce") or "") or None)

        def store_and_handle() -> None:  # on the writer thread: the page's copy and the handling, one transaction
            if shown or label:
                self.s.engine.db.execute(
                    "insert into web_messages (chat_ref, from_bot, payload, at) values (?, 0, ?, ?)",
                    [session.chat_ref, Reply(label or shown, photos=photos).to_json(), iso(self.s.clock())])
            self.s.engine.handle(incoming)

        try:
            await self.s.writer.run(store_and_handle)
        except StorageUnavailable:  # nothing was stored: the page keeps the text for another try
            return self._finish(request, web.json_response({"error": msg.WEB_TRY_AGAIN}, status=503))
        return self._finish(request, web.json_response({"ok": True}))

    async def file(self, request: web.Request) -> web.StreamResponse:
        """A stored image, for signed-in staff and for the chat it was sent in or whose ticket holds it."""
        name = request.match_info["name"]
        if not STORED_NAME.fullmatch(name):
            raise web.HTTPNotFound()
        if not self._may_see(self._session(request), REF_PREFIX + name):
            log.info("console: refused %s%s to %s", REF_PREFIX, name, self.client(request))
            raise web.HTTPForbidden(text=msg.FILE_NOT_ALLOWED)
        path = self.files.path(name)
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600",
                                               "Content-Security-Policy": FILE_POLICY})

    def _may_see(self, session: Session | None, ref: str) -> bool:
        if session is None:
            return False
        staff = self._account_person(session)
        if staff is not None and staff.is_technician:
            return True
        shown = self.s.db.execute(  # sent in, or shown to, this browser chat
            "select exists(select 1 from web_messages where chat_ref = ? and payload like ?)",
            [session.chat_ref, f'%"{ref}"%']).fetchone()[0]
        if shown:
            return True
        official = self.s.people.find(CHANNEL, session.chat_ref)
        if official is None:
            return False
        return self.s.db.execute(  # attached to a ticket of the official this chat is linked to
            "select exists(select 1 from attachments a join tickets t on t.id = a.ticket_id "
            "where a.file_ref = ? and t.user_id = ?)", [ref, official.id]).fetchone()[0] == 1

    # -- technician console ---------------------------------------------------------------------

    async def queue_page(self, request: web.Request) -> web.StreamResponse:
        """The queue, or any list of tickets: filtered and paged in SQL (keyset), searchable."""
        session, person = self._staff(request)
        tickets = self.s.tickets
        q = request.query
        now = self.s.clock()
        wanted = self._queue_filter(q, now)
        page = tickets.page(person, wanted, after=q.get("after") or None)
        systems = "".join(f'<option value="{e(sid)}"{" selected" if q.get("system") == sid else ""}>{e(s.name)}</option>'
                          for sid, s in self.s.faq.kb.systems.items())
        status_options = "".join(f'<option value="{k}"{" selected" if q.get("status") == k else ""}>{e(v)}</option>'
                                 for k, v in msg.STATUS_LABELS.items())
        zone = self.s.calendar.zone
        lines = []
        for t in page.tickets:
            d = datetime.fromisoformat(t.deadline_at) if t.deadline_at and t.is_open else None
            sla = "" if d is None else (f'<span class="late">quá hạn {d.astimezone(zone):%H:%M %d/%m}</span>' if d <= now
                                         else f'hạn {d.astimezone(zone):%H:%M %d/%m}')
            solved = f'<br><small class="solution">→ {e(t.resolution_note[:160])}</small>' if t.resolution_note else ""
            lines.append(
                f'<tr class="ticket" data-id="{t.id}"><td><a class="open" href="/console/ticket/{t.id}">{e(t.code)}</a></td>'
                f'<td>{e(tickets.status_label(t))}</td><td>{e(msg.URGENCY_LABELS[t.urgency])}</td>'
                f'<td>{e(tickets.system_name(t.system_id))}</td><td>{e(tickets.commune_name(t.commune_id))}</td>'
                f'<td>{sla}</td><td>{e(t.description[:80])}{solved}</td></tr>')
        kept = {k: v for k, v in q.items() if k in ("system", "status", "commune", "sla", "q") and v}
        found = (msg.TICKETS_FOUND.format(n=page.total) if page.total <= COUNT_LIMIT
                 else msg.TICKETS_FOUND_MANY.format(n=COUNT_LIMIT))
        pager = f'<p class="pager" id="count">{e(found)}'
        if q.get("after"):
            pager += f' <a id="first-page" href="/console?{e(urlencode(kept))}">{e(msg.FIRST_PAGE)}</a>'
        if page.next_cursor:
            pager += (f' <a id="next-page" href="/console?{e(urlencode({**kept, "after": page.next_cursor}))}">'
                      f'{e(msg.NEXT_PAGE)}</a>')
        pager += "</p>"
        empty = msg.QUEUE_EMPTY if not q.get("status") and not q.get("q") else msg.NOTHING_FOUND
        body = (
            '<h1>Hàng đợi yêu cầu</h1><form method="get" class="filters">'
            f'<input name="q" type="search" placeholder="{e(msg.SEARCH_PLACEHOLDER)}" value="{e(q.get("q", ""))}">'
            f'<select name="system"><option value="">Mọi hệ thống</option>{systems}</select>'
            f'<select name="status"><option value="">{e(msg.ANY_OPEN_OR_ALL)}</option>{status_options}</select>'
            f'<input name="commune" placeholder="Xã/phường" value="{e(q.get("commune", ""))}">'
            f'<label><input type="checkbox" name="sla" value="late"{" checked" if q.get("sla") == "late" else ""}> Quá hạn</label>'
            '<button>Lọc</button></form>'
            '<table id="queue"><tr><th>Mã</th><th>Trạng thái</th><th>Mức độ</th><th>Hệ thống</th>'
            f'<th>Xã/phường</th><th>Hạn</th><th>Mô tả</th></tr>{"".join(lines)}</table>'
            + ("" if lines else f"<p>{e(empty)}</p>") + pager
        )
        return self._page(request, "Hàng đợi", body, session)

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

    async def ticket_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self._staff(request)
        ticket_id = _int(request.match_info["id"])
        tickets = self.s.tickets
        try:
            ticket = tickets.visible_to(ticket_id, person)
        except Exception as exc:
            raise web.HTTPNotFound(text=str(exc)) from exc
        card = tickets.card(ticket)
        events = "".join(
            f'<li class="{e(ev["kind"])}{" internal" if ev["internal"] else ""}">{e(ev["at"][5:16].replace("T", " "))} '
            f'<b>{e(self._name(ev["actor_id"]))}</b> {e(msg.EVENT_LABELS.get(ev["kind"], ev["kind"]))}'
            f'{": " + e(ev["text"]) if ev["text"] else ""}</li>'
            for ev in tickets.events(ticket.id, include_internal=True))
        transcript = "".join(
            f'<li class="{e(m["direction"])}"><b>{e(msg.TRANSCRIPT_WHO.get(m["direction"], ""))}</b> '
            f'{e(m["text"][:300])}</li>' for m in tickets.transcript(ticket.id))
        attachments = "".join(
            f'<a href="{e(a["file_ref"])}"><img src="{e(a["file_ref"])}" alt="ảnh {i}"></a>'
            if a["file_ref"].startswith("/files/") else f'<span class="ref">{e(a["channel"])}: {e(a["file_ref"][:40])}</span>'
            for i, a in enumerate(tickets.attachments(ticket.id), 1))
        csrf = self._csrf(session)
        base = f"/console/ticket/{ticket.id}"
        queues = sorted({s.queue for s in self.s.faq.kb.systems.values()} | set(self.s.config.queues))
        forms = ""
        if ticket.is_open:
            if ticket.assignee_id is None:
                forms += f'<form method="post" action="{base}/claim" id="claim">{csrf}<button>Nhận xử lý</button></form>'
            forms += (
                f'<form method="post" action="{base}/reply" id="reply">{csrf}<label>Trả lời cán bộ'
                '<textarea name="text" required></textarea></label><button>Gửi trả lời</button></form>'
                f'<form method="post" action="{base}/note" id="note">{csrf}<label>Ghi chú nội bộ (cán bộ không thấy)'
                '<textarea name="text" required></textarea></label><button>Lưu ghi chú</button></form>'
                f'<form method="post" action="{base}/wait" id="wait">{csrf}<input name="text" placeholder="Cần cán bộ bổ sung gì?">'
                '<button>Chờ cán bộ bổ sung</button></form>'
                f'<form method="post" action="{base}/resolve" id="resolve">{csrf}<label>Cách xử lý (cán bộ đọc được)'
                '<textarea name="note" required></textarea></label><button>Đã xử lý</button></form>'
                f'<form method="post" action="{base}/transfer" id="transfer">{csrf}<select name="queue">'
                + "".join(f'<option>{e(qid)}</option>' for qid in queues)
                + '</select><button>Chuyển hàng đợi</button></form>')
        else:
            forms += f'<form method="post" action="{base}/reopen" id="reopen">{csrf}<button>Mở lại</button></form>'
        notice = f'<p class="notice">{e(request.query["done"])}</p>' if request.query.get("done") else ""
        body = (f'<p><a href="/console">← Hàng đợi</a></p>{notice}<pre id="card">{e(card.text)}</pre>'
                f'<div id="attachments">{attachments}</div><div class="actions">{forms}</div>'
                f'<h2>Diễn biến</h2><ul id="events">{events}</ul>'
                f'<h2>{e(msg.TRANSCRIPT)}</h2><ul id="transcript">{transcript}</ul>')
        return self._page(request, ticket.code, body, session)

    def _name(self, user_id: int | None) -> str:
        if user_id is None:
            return msg.SYSTEM_ACTOR
        person = self.s.people.get(user_id)
        return person.full_name or f"#{person.id}"

    async def ticket_action(self, request: web.Request) -> web.StreamResponse:
        session, person = self._staff(request)
        form = await self._form(request, session)
        ticket_id = _int(request.match_info["id"])
        action = request.match_info["action"]
        words = {"claim": ("claim", ""), "reply": ("reply", form.get("text", "")), "note": ("note", form.get("text", "")),
                 "wait": ("wait", form.get("text", "")), "resolve": ("resolve", form.get("note", "")),
                 "transfer": ("transfer", form.get("queue", "")), "reopen": ("reopen", "")}
        if action not in words:
            raise web.HTTPNotFound()
        word, text = words[action]
        try:
            replies = await self.s.writer.run(self.s.engine.desk.on_command, word, f"{ticket_id} {text}".strip(),
                                              person, State())
        except StorageUnavailable as exc:
            raise web.HTTPServiceUnavailable(text=msg.WEB_TRY_AGAIN) from exc
        done = replies[0].text if replies else ""
        raise web.HTTPFound(f"/console/ticket/{ticket_id}?{urlencode({'done': done})}")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise web.HTTPNotFound() from exc


def console_routes(services: Services, open_chat: bool) -> tuple[list[web.RouteDef], WebSender, Console]:
    console = Console(services, open_chat)
    faq_pages = FaqPages(console)
    routes = (console.routes() + AuthPages(console).routes() + AdminPages(console, faq_pages.editor).routes()
              + faq_pages.routes() + insight_routes(console))
    return console.with_sessions_stored(routes), WebSender(services), console


CHAT_BODY = """<h1>Hỏi đáp</h1>
<div id="messages" aria-live="polite"></div>
<form id="send-form" enctype="multipart/form-data">
<input type="hidden" name="csrf" value="{csrf}">
<input id="text" name="text" autocomplete="off" placeholder="Gõ câu hỏi, ví dụ: quên mật khẩu một cửa">
<input id="photo" name="photo" type="file" accept="image/png,image/jpeg,image/gif,image/webp">
<button id="send">Gửi</button>
</form>
<script src="/static/chat.js"></script>"""


