"""The web console: the staff chat in a browser, the technicians' queue, the admins' pages.

A third channel of the same core ("web"): the chat page sends what the
official types through the engine like any messenger, and the web channel's
"delivery" stores replies for the page, which polls for them. Technicians and
admins act through the same desk commands as on Telegram.

Bound to 127.0.0.1 (the default) the console trusts its visitor: the pages
act as a local admin, and the chat is whoever holds the browser. Bound
anywhere else, technician and admin pages need a console account
(`python -m bot users add`), and the chat must first be linked to a
registered official with a one-time code the bot sends them (/web). Every
form carries a CSRF token; every text is escaped; uploads are images of at
most 5 MB.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from aiohttp import web
from rapidfuzz import fuzz

from bot import messages as msg
from bot.app import Services
from bot.desk.accounts import Accounts, Session
from bot.desk.actions import unanswered_questions
from bot.desk.people import Person
from bot.desk.state import State
from bot.knowledge.editing import add_variant
from bot.language.text import fold
from bot.models import OPEN_STATUSES, Delivery, Incoming, Reply
from bot.store.outbox import iso

log = logging.getLogger(__name__)

CHANNEL = "web"
COOKIE = "sid"
MAX_UPLOAD = 5 * 1024 * 1024
IMAGE_TYPES = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpg", b"GIF8": "gif", b"RIFF": "webp"}
CONSOLE_USER = "console"  # the local admin the console acts as when bound to 127.0.0.1
NEW_SESSION = web.RequestKey("new_session", Session)


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


class WebSender:
    """The web channel's delivery: keep the reply for the chat page to fetch."""

    def __init__(self, services: Services) -> None:
        self.db = services.db
        self.clock = services.clock

    async def send(self, delivery: Delivery) -> None:
        with self.db.atomic():
            self.db["web_messages"].insert({"chat_ref": delivery.chat_ref, "from_bot": 1,
                                            "payload": delivery.reply.to_json(), "at": iso(self.clock())})


class Console:
    def __init__(self, services: Services, local: bool, uploads: Path) -> None:
        self.s = services
        self.local = local
        self.uploads = uploads
        self.accounts = Accounts(services.db, services.people, services.clock)
        uploads.mkdir(parents=True, exist_ok=True)
        if local:
            with services.db.atomic():
                person = services.people.identify(CHANNEL, CONSOLE_USER, CONSOLE_USER)
                services.people.update(person.id, role="admin", status="active",
                                       full_name=person.full_name or "Quản trị (máy này)")

    # -- plumbing -----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.home),
            web.get("/chat", self.chat_page),
            web.get("/chat/api/messages", self.chat_messages),
            web.post("/chat/api/send", self.chat_send),
            web.post("/chat/link", self.chat_link),
            web.get("/files/{name}", self.file),
            web.get("/console", self.queue_page),
            web.get("/console/ticket/{id}", self.ticket_page),
            web.post("/console/ticket/{id}/{action}", self.ticket_action),
            web.get("/admin", self.admin_page),
            web.post("/admin/variant", self.admin_variant),
            web.post("/admin/reload", self.admin_reload),
            web.get("/login", self.login_page),
            web.post("/login", self.login),
            web.post("/logout", self.logout),
        ]

    def _session(self, request: web.Request) -> Session | None:
        return self.accounts.session(request.cookies.get(COOKIE))

    def _ensure_session(self, request: web.Request, response: web.StreamResponse | None = None) -> Session:
        session = self._session(request)
        if session is None:
            session = self.accounts.new_session()
            request[NEW_SESSION] = session
        return session

    def _finish(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        session = request.get(NEW_SESSION)
        if session is not None:
            response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict", path="/",
                                max_age=7 * 24 * 3600)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def _page(self, request: web.Request, title: str, body: str, session: Session | None = None) -> web.StreamResponse:
        nav = '<a href="/chat">Hỏi đáp</a> <a href="/console">Kỹ thuật viên</a> <a href="/admin">Quản trị</a>'
        if session is not None and session.username:
            nav += (f' <form method="post" action="/logout" class="inline">{self._csrf(session)}'
                    f'<button>Đăng xuất ({e(session.username)})</button></form>')
        page = PAGE.format(title=e(title), nav=nav, body=body)
        return self._finish(request, web.Response(text=page, content_type="text/html"))

    @staticmethod
    def _csrf(session: Session) -> str:
        return f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'

    async def _form(self, request: web.Request, session: Session) -> dict:
        """The posted form, after checking its CSRF token (403 otherwise)."""
        data = await request.post()
        given = str(data.get("csrf") or request.headers.get("X-CSRF-Token") or "")
        if not secrets.compare_digest(given.encode(), session.csrf.encode()):
            raise web.HTTPForbidden(text="CSRF token missing or wrong")
        return dict(data)

    def _staff(self, request: web.Request, need_admin: bool = False) -> tuple[Session, Person]:
        """The technician (or admin) behind a console request, or a redirect to log in."""
        session = self._ensure_session(request)
        if self.local:
            person = self.s.people.find(CHANNEL, CONSOLE_USER)
        else:
            person_id = self.accounts.person_id(session.username) if session.username else None
            if person_id is None:
                raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")
            person = self.s.people.get(person_id)
        assert person is not None
        if not person.is_technician or (need_admin and not person.is_admin):
            raise web.HTTPForbidden(text=msg.NOT_AN_ADMIN if need_admin else msg.NOT_A_TECHNICIAN)
        return session, person

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/chat")

    # -- login ----------------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        nxt = request.query.get("next", "/console")
        body = (f'<h1>Đăng nhập</h1><form method="post" action="/login" id="login">{self._csrf(session)}'
                f'<input type="hidden" name="next" value="{e(nxt)}">'
                '<label>Tên đăng nhập <input name="username" autocomplete="username"></label>'
                '<label>Mật khẩu <input name="password" type="password" autocomplete="current-password"></label>'
                '<button>Đăng nhập</button></form>')
        return self._page(request, "Đăng nhập", body)

    async def login(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        form = await self._form(request, session)
        username = str(form.get("username", ""))
        if not self.accounts.login(username, str(form.get("password", ""))):
            log.warning("console: failed login for %r from %s", username[:40], request.remote)
            return self._page(request, "Đăng nhập", '<p class="error">Sai tên đăng nhập hoặc mật khẩu.</p>'
                              '<p><a href="/login">Thử lại</a></p>')
        fresh = self.accounts.new_session(username=username)  # a new token at login: no fixation
        self.accounts.end_session(session.token)
        nxt = str(form.get("next", "/console"))
        response = web.HTTPFound(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/console")
        response.set_cookie(COOKIE, fresh.token, httponly=True, samesite="Strict", path="/", max_age=7 * 24 * 3600)
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        await self._form(request, session)
        self.accounts.end_session(session.token)
        response = web.HTTPFound("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    # -- chat -------------------------------------------------------------------------------

    def _chat_allowed(self, session: Session) -> bool:
        return self.local or self.s.people.find(CHANNEL, session.chat_ref) is not None

    async def chat_page(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        if not self._chat_allowed(session):
            body = (f'<h1>Hỏi đáp</h1><p>{e(msg.WEB_LINK_NEEDED)}</p>'
                    f'<form method="post" action="/chat/link" id="link">{self._csrf(session)}'
                    '<input name="code" inputmode="numeric" autocomplete="one-time-code" placeholder="123456">'
                    '<button>Vào</button></form>')
            return self._page(request, "Hỏi đáp", body)
        body = CHAT_BODY.format(csrf=e(session.csrf))
        return self._page(request, "Hỏi đáp", body, session)

    async def chat_link(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        form = await self._form(request, session)
        if not self.accounts.use_link_code(str(form.get("code", "")), session.chat_ref):
            return self._page(request, "Hỏi đáp", f'<p class="error">{e(msg.WEB_LINK_BAD)}</p>'
                              '<p><a href="/chat">Thử lại</a></p>')
        raise self._finish(request, web.HTTPFound("/chat"))  # type: ignore[misc]

    async def chat_messages(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        if not self._chat_allowed(session):
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
        if not self._chat_allowed(session):
            raise web.HTTPForbidden()
        if request.content_length and request.content_length > MAX_UPLOAD + 64 * 1024:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD, actual_size=request.content_length)
        form = await self._form(request, session)
        text = str(form.get("text") or "")[:4000]
        action = str(form.get("action") or "") or None
        photos: tuple[str, ...] = ()
        upload = form.get("photo")
        if isinstance(upload, web.FileField):
            ref = self._save_upload(upload)
            if ref is None:
                return self._finish(request, web.json_response({"error": msg.WEB_BAD_UPLOAD}, status=400))
            photos = (ref,)
        if not text and not action and not photos:
            return self._finish(request, web.json_response({"ok": True}))
        shown = text or ("[ảnh]" if photos else "")
        label = str(form.get("label") or "")
        with self.s.db.atomic():
            if shown or label:
                self.s.db["web_messages"].insert({"chat_ref": session.chat_ref, "from_bot": 0,
                                                  "payload": Reply(label or shown, photos=photos).to_json(),
                                                  "at": iso(self.s.clock())})
        self.s.engine.handle(Incoming(CHANNEL, session.chat_ref, session.chat_ref, text=text, action=action,
                                      photos=photos, update_id=str(form.get("nonce") or "") or None))
        return self._finish(request, web.json_response({"ok": True}))

    def _save_upload(self, upload: web.FileField) -> str | None:
        data = upload.file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            return None
        ext = next((x for magic, x in IMAGE_TYPES.items() if data.startswith(magic)), None)
        if ext is None:
            return None
        name = f"{secrets.token_hex(12)}.{ext}"
        (self.uploads / name).write_bytes(data)
        return f"/files/{name}"

    async def file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not re.fullmatch(r"[0-9a-f]{24}\.(png|jpg|gif|webp)", name):
            raise web.HTTPNotFound()
        path = self.uploads / name
        if not path.exists():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})

    # -- technician console ---------------------------------------------------------------------

    async def queue_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self._staff(request)
        tickets = self.s.tickets
        q = request.query
        statuses = [q["status"]] if q.get("status") in msg.STATUS_LABELS else list(OPEN_STATUSES)
        rows = tickets.queue(person, statuses)
        if q.get("system"):
            rows = [t for t in rows if t.system_id == q["system"]]
        if q.get("commune"):
            rows = [t for t in rows if fold(q["commune"]) in fold(tickets.commune_name(t.commune_id))]
        now = self.s.clock()
        due = {t.id: tickets.due_at(t) for t in rows}
        if q.get("sla") == "late":
            rows = [t for t in rows if due[t.id] is not None and due[t.id] <= now]
        # Oldest breach first, then the nearest deadline, then the oldest ticket.
        rows.sort(key=lambda t: (due[t.id] is None, due[t.id] or now, t.id))
        systems = "".join(f'<option value="{e(sid)}"{" selected" if q.get("system") == sid else ""}>{e(s.name)}</option>'
                          for sid, s in self.s.faq.kb.systems.items())
        status_options = "".join(f'<option value="{k}"{" selected" if q.get("status") == k else ""}>{e(v)}</option>'
                                 for k, v in msg.STATUS_LABELS.items())
        lines = []
        for t in rows:
            d = due[t.id]
            sla = "" if d is None else (f'<span class="late">quá hạn {d:%H:%M %d/%m}</span>' if d <= now
                                         else f'hạn {d.astimezone(self.s.calendar.zone):%H:%M %d/%m}')
            lines.append(
                f'<tr class="ticket" data-id="{t.id}"><td><a class="open" href="/console/ticket/{t.id}">{e(t.code)}</a></td>'
                f'<td>{e(tickets.status_label(t))}</td><td>{e(msg.URGENCY_LABELS[t.urgency])}</td>'
                f'<td>{e(tickets.system_name(t.system_id))}</td><td>{e(tickets.commune_name(t.commune_id))}</td>'
                f'<td>{sla}</td><td>{e(t.description[:80])}</td></tr>')
        body = (
            '<h1>Hàng đợi yêu cầu</h1><form method="get" class="filters">'
            f'<select name="system"><option value="">Mọi hệ thống</option>{systems}</select>'
            f'<select name="status"><option value="">Đang mở</option>{status_options}</select>'
            f'<input name="commune" placeholder="Xã/phường" value="{e(q.get("commune", ""))}">'
            f'<label><input type="checkbox" name="sla" value="late"{" checked" if q.get("sla") == "late" else ""}> Quá hạn</label>'
            '<button>Lọc</button></form>'
            '<table id="queue"><tr><th>Mã</th><th>Trạng thái</th><th>Mức độ</th><th>Hệ thống</th>'
            f'<th>Xã/phường</th><th>Hạn</th><th>Mô tả</th></tr>{"".join(lines)}</table>'
            + ("" if lines else f"<p>{e(msg.QUEUE_EMPTY)}</p>")
        )
        return self._page(request, "Hàng đợi", body, session)

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
        with self.s.db.atomic():
            replies = self.s.engine.desk.on_command(word, f"{ticket_id} {text}".strip(), person, State())
        if self.s.engine.on_outbox is not None:
            self.s.engine.on_outbox()
        done = replies[0].text if replies else ""
        raise web.HTTPFound(f"/console/ticket/{ticket_id}?{urlencode({'done': done})}")

    # -- admin ---------------------------------------------------------------------------------------

    async def admin_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self._staff(request, need_admin=True)
        csrf = self._csrf(session)
        q = request.query.get("q", "")
        result = ""
        if q.strip():
            match = self.s.faq.matcher.match(q[:1000])
            kb = self.s.faq.kb
            cands = "".join(
                f'<li><code>{e(c.entry_id)}</code> {c.score:.2f} — {e(kb.entry(c.entry_id).question if kb.entry(c.entry_id) else "")}</li>'
                for c in self.s.faq.matcher.rank(q[:1000], limit=5))
            result = (f'<div id="result"><p>Quyết định: <b>{e(match.decision)}</b>'
                      f'{" → " + e(match.entry_id) if match.entry_id else ""} (điểm {match.score:.2f})</p>'
                      f'<ol>{cands}</ol></div>')
        notice = f'<p class="notice">{e(request.query["done"])}</p>' if request.query.get("done") else ""
        body = (
            f'<h1>Quản trị</h1>{notice}<h2>Thử một câu hỏi</h2><form method="get" id="try">'
            f'<input name="q" value="{e(q)}" placeholder="Gõ câu hỏi như cán bộ gõ"><button>Thử</button></form>{result}'
            f'<h2>Câu hỏi FAQ chưa trả lời được</h2><ul id="unanswered">{self._unanswered(csrf)}</ul>'
            f'<h2>FAQ</h2><form method="post" action="/admin/reload" id="reload">{csrf}'
            f'<button>Nạp lại FAQ</button> ({len(self.s.faq.kb.entries)} câu hỏi)</form>'
            f'<h2>Thống kê</h2><div id="charts">{self._charts()}</div>'
        )
        return self._page(request, "Quản trị", body, session)

    def _unanswered(self, csrf: str) -> str:
        groups = _cluster(unanswered_questions(self.s.db, limit=500))
        kb = self.s.faq.kb
        items = []
        for group in groups:
            if len(items) >= 50:
                break
            if self.s.faq.matcher.match(group["query"]).decision == "answer":
                continue  # the FAQ answers it now (a variant was added, or an entry written)
            ranked = self.s.faq.matcher.rank(group["query"], limit=1)
            best = ranked[0].entry_id if ranked else None
            options = "".join(f'<option value="{e(entry.id)}"{" selected" if entry.id == best else ""}>'
                              f'{e(entry.question[:70])} ({e(entry.id)})</option>' for entry in kb.entries)
            others = "; ".join(e(x) for x in group["others"][:3])
            items.append(
                f'<li><b>{group["count"]}×</b> {e(group["query"])} <small>({e(msg.FEEDBACK_LABELS.get(group["why"], group["why"]))})'
                f'{" — cũng: " + others if others else ""}</small>'
                f'<form method="post" action="/admin/variant" class="add-variant">{csrf}'
                f'<input type="hidden" name="text" value="{e(group["query"])}">'
                f'<select name="entry_id">{options}</select><button>Thêm làm cách hỏi khác</button></form></li>')
        return "".join(items) or f"<li>{e(msg.NOTHING_UNANSWERED)}</li>"

    def _charts(self) -> str:
        db = self.s.db
        tickets = list(db.query("select created_at, system_id, commune_id, first_response_at, resolved_at from tickets"))
        since = self.s.clock() - timedelta(weeks=8)
        week = lambda at: datetime.fromisoformat(at).strftime("%G-W%V")  # noqa: E731
        recent = [t for t in tickets if datetime.fromisoformat(t["created_at"]) >= since]
        by_system = Counter(self.s.tickets.system_name(t["system_id"]) for t in recent)
        by_commune = Counter(self.s.tickets.commune_name(t["commune_id"]) for t in recent)
        by_week: dict[str, int] = defaultdict(int)
        for t in recent:
            by_week[week(t["created_at"])] += 1
        questions = list(db.query("select decision, feedback from query_log"))
        helped = sum(1 for r in questions if r["decision"] in ("answer", "clarify") and r["feedback"] != "escalated")
        share = f"{100 * helped / len(questions):.0f}%" if questions else "-"

        def minutes(a: str, b: str) -> float:
            return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60

        first = [minutes(t["created_at"], t["first_response_at"]) for t in tickets if t["first_response_at"]]
        solve = [minutes(t["created_at"], t["resolved_at"]) for t in tickets if t["resolved_at"]]
        med = lambda xs: f"{statistics.median(xs):.0f} phút" if xs else "-"  # noqa: E731
        return (f'<p>Trả lời được không cần yêu cầu: <b>{share}</b> trong {len(questions)} câu hỏi · '
                f'trung vị phản hồi đầu {med(first)} · trung vị xử lý {med(solve)}</p>'
                + _bars("Yêu cầu theo tuần (8 tuần)", sorted(by_week.items()))
                + _bars("Theo hệ thống", by_system.most_common(10))
                + _bars("Theo xã/phường", by_commune.most_common(10)))

    async def admin_variant(self, request: web.Request) -> web.StreamResponse:
        session, person = self._staff(request, need_admin=True)
        form = await self._form(request, session)
        entry = self.s.faq.kb.entry(str(form.get("entry_id", "")))
        text = " ".join(str(form.get("text", "")).split())[:300]
        if entry is None or not text:
            raise web.HTTPBadRequest(text="unknown entry or empty text")
        ok, problems = add_variant(self.s.faq, entry, text)
        done = (msg.VARIANT_ADDED.format(text=text, entry=entry.id) if ok
                else msg.VARIANT_REFUSED.format(problems="; ".join(str(p) for p in problems[:5])))
        raise web.HTTPFound(f"/admin?{urlencode({'done': done})}")

    async def admin_reload(self, request: web.Request) -> web.StreamResponse:
        session, person = self._staff(request, need_admin=True)
        await self._form(request, session)
        ok, problems = self.s.faq.reload()
        listed = "; ".join(str(p) for p in problems[:10])
        done = (msg.RELOADED.format(entries=len(self.s.faq.kb.entries)) if ok
                else msg.RELOAD_REFUSED.format(problems=listed))
        raise web.HTTPFound(f"/admin?{urlencode({'done': done})}")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise web.HTTPNotFound() from exc


def _cluster(groups: list[dict], similarity: float = 80.0) -> list[dict]:
    """Merge questions worded alike (rapidfuzz on the folded text) into one line each."""
    merged: list[dict] = []
    for group in groups:
        key = fold(group["query"])
        for target in merged:
            if fuzz.token_set_ratio(key, target["key"]) >= similarity:
                target["count"] += group["count"]
                target["others"].append(group["query"])
                break
        else:
            merged.append({**group, "key": key, "others": []})
    return sorted(merged, key=lambda g: -g["count"])


def _bars(title: str, rows: list[tuple[str, int]]) -> str:
    if not rows:
        return f"<h3>{e(title)}</h3><p>-</p>"
    top = max(n for _, n in rows) or 1
    lines = "".join(f'<div class="bar"><span class="label">{e(label)}</span>'
                    f'<span class="fill" style="width:{100 * n / top:.0f}%">{n}</span></div>' for label, n in rows)
    return f"<h3>{e(title)}</h3>{lines}"


def console_routes(services: Services, local: bool) -> tuple[list[web.RouteDef], WebSender, Console]:
    console = Console(services, local, services.config.database.parent / "uploads")
    return console.routes(), WebSender(services), console


PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Hỗ trợ kỹ thuật cấp xã</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}}
header{{background:#b71c1c;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;flex-wrap:wrap;align-items:center}}
header a,header button{{color:#fff;text-decoration:none;font-weight:600;background:none;border:0;cursor:pointer;font:inherit}}
main{{max-width:60rem;margin:0 auto;padding:1rem}}
form.inline{{display:inline}} label{{display:block;margin:.4rem 0}}
input,select,textarea,button{{font:inherit;padding:.45rem;border:1px solid #c5cad3;border-radius:.4rem}}
textarea{{width:100%;min-height:4rem;box-sizing:border-box}} button{{background:#b71c1c;color:#fff;border:0;cursor:pointer}}
table{{border-collapse:collapse;width:100%;background:#fff}} td,th{{border-bottom:1px solid #e3e6eb;padding:.4rem;text-align:left;vertical-align:top}}
.late{{color:#b71c1c;font-weight:700}} .notice{{background:#e8f5e9;padding:.5rem}} .error{{color:#b71c1c}}
pre#card{{white-space:pre-wrap;font-family:inherit;background:#fff;padding:.8rem;border-radius:.4rem}}
#attachments img{{max-width:12rem;max-height:12rem;margin:.3rem;border:1px solid #ccc}}
#events li.internal{{background:#fff8e1}} #transcript li.out{{color:#555;background:#f3f3f3}} #transcript li.gap{{color:#888;list-style:none}} .actions form{{background:#fff;padding:.6rem;margin:.5rem 0;border-radius:.4rem}}
#messages{{display:flex;flex-direction:column;gap:.5rem;min-height:50vh}}
.msg{{max-width:85%;padding:.6rem .8rem;border-radius:.8rem;white-space:pre-wrap;background:#fff}}
.msg.me{{align-self:flex-end;background:#dcedc8}} .msg img{{max-width:100%}}
.choice{{display:block;margin:.3rem 0 0;background:#fff;color:#b71c1c;border:1px solid #b71c1c;text-align:left;width:100%}}
#send-form{{display:flex;gap:.4rem;position:sticky;bottom:0;background:#f5f6f8;padding:.6rem 0;flex-wrap:wrap}}
#send-form #text{{flex:1;min-width:10rem}}
.bar{{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}} .bar .label{{width:14rem;font-size:.9rem}}
.bar .fill{{background:#ef9a9a;padding:0 .3rem;min-width:1.5rem}}
</style></head>
<body><header><b>Hỗ trợ kỹ thuật cấp xã</b>{nav}</header><main>{body}</main></body></html>"""

CHAT_BODY = """<h1>Hỏi đáp</h1>
<div id="messages" aria-live="polite"></div>
<form id="send-form" enctype="multipart/form-data">
<input type="hidden" name="csrf" value="{csrf}">
<input id="text" name="text" autocomplete="off" placeholder="Gõ câu hỏi, ví dụ: quên mật khẩu một cửa">
<input id="photo" name="photo" type="file" accept="image/png,image/jpeg,image/gif,image/webp">
<button id="send">Gửi</button>
</form>
<script>
(function () {{
  var box = document.getElementById("messages"), form = document.getElementById("send-form");
  var csrf = form.querySelector("[name=csrf]").value, last = 0, busy = false;
  function add(m) {{
    var div = document.createElement("div"); div.className = "msg " + m.from;
    var t = document.createElement("div"); t.className = "text"; t.textContent = m.text; div.appendChild(t);
    m.photos.forEach(function (p) {{ var img = document.createElement("img"); img.src = p; img.alt = "ảnh"; div.appendChild(img); }});
    m.choices.forEach(function (c) {{
      var b = document.createElement("button"); b.type = "button"; b.className = "choice";
      b.dataset.action = c.action; b.textContent = c.label;
      b.addEventListener("click", function () {{ send({{action: c.action, label: c.label}}); }});
      div.appendChild(b);
    }});
    box.appendChild(div); window.scrollTo(0, document.body.scrollHeight);
  }}
  function poll() {{
    if (busy) return; busy = true;
    fetch("/chat/api/messages?after=" + last, {{credentials: "same-origin"}}).then(function (r) {{ return r.json(); }})
      .then(function (d) {{ d.messages.forEach(function (m) {{ last = Math.max(last, m.id); add(m); }}); }})
      .finally(function () {{ busy = false; }});
  }}
  function send(fields, file) {{
    var data = new FormData(); data.append("csrf", csrf);
    data.append("nonce", Date.now() + "-" + Math.random());
    Object.keys(fields).forEach(function (k) {{ data.append(k, fields[k]); }});
    if (file) data.append("photo", file);
    return fetch("/chat/api/send", {{method: "POST", body: data, credentials: "same-origin",
      headers: {{"X-CSRF-Token": csrf}}}}).then(function (r) {{ return r.json(); }})
      .then(function (d) {{ if (d.error) alert(d.error); poll(); }});
  }}
  form.addEventListener("submit", function (ev) {{
    ev.preventDefault();
    var text = form.querySelector("#text"), photo = form.querySelector("#photo");
    var file = photo.files.length ? photo.files[0] : null;
    if (!text.value && !file) return;
    send({{text: text.value}}, file).then(function () {{ text.value = ""; photo.value = ""; }});
  }});
  poll(); setInterval(poll, 1000);
}})();
</script>"""
