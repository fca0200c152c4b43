"""Console pages for province insight: shared outages on /console/incidents, the report on /admin/report.

Kept apart from the console's own module; it borrows the console's login,
CSRF and page frame. The report is built in a worker thread (matplotlib takes
a second or two), so the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import html
import re
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from bot import messages as msg
from bot.desk.announcements import Audience
from bot.desk.tickets import TicketError
from bot.insight.figures import previous_month

if TYPE_CHECKING:
    from bot.web.pages import Pages as Console

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def last_month(console: Console) -> str:
    s = console.s
    return previous_month(s.clock().astimezone(s.calendar.zone).strftime("%Y-%m"))


class InsightPages:
    def __init__(self, console: Console) -> None:
        from bot.desk.incidents import Incidents

        self.console = console
        s = console.s
        self.incidents = Incidents(s.db, s.faq, s.tickets, s.config, s.clock, watch=False)  # reading only

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin/report", self.report),
            web.get("/console/incidents", self.incidents_page),
            web.post("/console/incidents/declare", self.declare),
            web.post("/console/incidents/{id}/resolve", self.resolve),
            web.get("/admin/announcements", self.announcements_page),
            web.post("/admin/announcements", self.announcements_post),
        ]

    # -- announcements -----------------------------------------------------------------------------

    def _board(self, writer: bool = False):  # noqa: ANN202 - Announcements
        from bot.insight.commands import announcements_of

        return announcements_of(self.console.s, writer=writer)

    def _audience_of(self, form: dict):  # noqa: ANN202 - Audience
        communes = [c for c in str(form.get("communes", "")).replace(",", " ").split() if c]
        return self._board().audience(str(form.get("kind", "all")), communes, str(form.get("system") or "") or None)

    async def announcements_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request, need_admin=True)
        return self._announcements(request, session, form=None, preview=None)

    async def announcements_post(self, request: web.Request) -> web.StreamResponse:
        from bot.desk.announcements import AnnouncementError

        session, person = self.console._staff(request, need_admin=True)
        form = await self.console._form(request, session)
        board = self._board()
        try:
            audience = self._audience_of(form)
            if form.get("confirm") != "1":
                return self._announcements(request, session, form, board.preview(str(form.get("text", "")), audience))
            sender = self._board(writer=True)
            announcement_id = await self.console.s.writer.run(sender.send, str(form.get("text", "")), audience, person)
            done = msg.ANNOUNCE_SENT.format(id=announcement_id, n=board.tally(announcement_id).total)
        except AnnouncementError as exc:
            return self._announcements(request, session, form, None, error=str(exc))
        self._wake()
        raise web.HTTPFound(f"/admin/announcements?{urlencode({'done': done})}")

    def _announcements(self, request: web.Request, session, form: dict | None, preview,  # noqa: ANN001
                       error: str = "") -> web.StreamResponse:
        s = self.console.s
        csrf = self.console._csrf(session)
        form = form or {}
        board = self._board()
        names = {c.id: c.name for c in s.communes}
        systems = {sid: system.name for sid, system in s.faq.kb.systems.items()}
        kind = str(form.get("kind", "all"))
        radio = "".join(
            f'<label><input type="radio" name="kind" value="{k}"{" checked" if kind == k else ""}> {_e(label)}</label>'
            for k, label in (("all", msg.ANNOUNCE_TO_ALL), ("communes", "Các xã/phường (mã, cách nhau bởi dấu cách)"),
                             ("system", "Cán bộ đã hỏi về một hệ thống")))
        system_options = "".join(f'<option value="{_e(k)}"{" selected" if form.get("system") == k else ""}>{_e(v)}'
                                 '</option>' for k, v in systems.items())
        commune_list = "".join(f'<option value="{_e(c.id)}">{_e(c.name)}</option>' for c in s.communes)
        shown = ""
        if preview is not None:
            hidden = "".join(f'<input type="hidden" name="{k}" value="{_e(form.get(k, ""))}">'
                             for k in ("text", "kind", "communes", "system"))
            channels = ", ".join(f"{n} trên {_e(ch)}" for ch, n in sorted(preview.by_channel.items())) or "-"
            shown = (f'<section id="preview"><h2>Xem trước</h2><pre>{_e(preview.text)}</pre>'
                     f'<p>Sẽ gửi cho <b>{len(preview.recipients)}</b> cán bộ: {channels}. Trên Zalo OA, cán bộ không nhắn '
                     'trong 48 giờ qua sẽ nhận khi nhắn lại (tính là "giữ lại").</p>'
                     f'<form method="post" action="/admin/announcements" id="send">{csrf}{hidden}'
                     '<input type="hidden" name="confirm" value="1"><button>Gửi thông báo</button></form></section>')
        rows = []
        try:
            page = max(0, int(request.query.get("page", "0")))
        except ValueError:
            page = 0
        for row in board.recent(limit=20, offset=20 * page):
            t = board.tally(row["id"])
            audience = board.describe(Audience.from_json(row["audience"]), names, systems)
            rows.append(f'<tr id="announcement-{row["id"]}"><td>#{row["id"]}</td><td>{_e(row["created_at"][:16])}</td>'
                        f'<td>{_e(audience)}</td><td>{_e(row["text"].split(chr(10), 1)[-1][:80])}</td>'
                        f'<td class="sent">{t.sent}</td><td class="waiting">{t.waiting}</td><td class="held">{t.held}</td>'
                        f'<td class="released">{t.delivered_after_hold}</td><td class="failed">{t.failed}</td></tr>')
        notice = f'<p class="notice">{_e(request.query["done"])}</p>' if request.query.get("done") else ""
        problem = f'<p class="error">{_e(error)}</p>' if error else ""
        more = f'<p><a href="?page={page + 1}">Cũ hơn →</a></p>' if len(rows) == 20 else ""
        body = (f'<h1>Thông báo</h1>{notice}{problem}'
                f'<form method="post" action="/admin/announcements" id="announce">{csrf}'
                f'<label>Nội dung<textarea name="text" required maxlength="1500">{_e(form.get("text", ""))}</textarea></label>'
                f'<fieldset><legend>Gửi cho</legend>{radio}'
                f'<label>Mã xã/phường <input name="communes" list="commune-ids" value="{_e(form.get("communes", ""))}">'
                f'</label><datalist id="commune-ids">{commune_list}</datalist>'
                f'<label>Hệ thống <select name="system"><option value=""></option>{system_options}</select></label>'
                '</fieldset><button>Xem trước</button></form>'
                f'{shown}<h2>Đã gửi</h2><div style="overflow-x:auto"><table id="announcements"><tr><th>#</th><th>Lúc</th>'
                '<th>Gửi cho</th><th>Nội dung</th><th>Đã gửi</th><th>Đang chờ</th><th>Giữ lại (Zalo)</th>'
                '<th>Gửi sau khi giữ</th><th>Lỗi</th></tr>'
                f'{"".join(rows)}</table></div>{more}')
        return self.console._page(request, "Thông báo", body, session)

    # -- shared outages ------------------------------------------------------------------------

    async def incidents_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        s = self.console.s
        incidents = self.incidents
        csrf = self.console._csrf(session)
        try:
            page = max(0, int(request.query.get("page", "0")))
        except ValueError:
            page = 0
        items = []
        for incident in incidents.recent(limit=20, offset=20 * page):
            card = incidents.card(incident).text
            tickets = " ".join(f'<a href="/console/ticket/{t.id}">{t.code}</a>' for t in incidents.linked(incident.id))
            form = ""
            if incident.is_open:
                form = (f'<form method="post" action="/console/incidents/{incident.id}/resolve" class="resolve">{csrf}'
                        '<label>Cách khắc phục (mọi cán bộ đã báo đều đọc được)<textarea name="note" required>'
                        '</textarea></label><button>Đã khắc phục</button></form>')
            items.append(f'<li class="incident {"open" if incident.is_open else "resolved"}" id="incident-{incident.id}">'
                         f'<pre>{_e(card)}</pre><p>{tickets}</p>{form}</li>')
        systems = "".join(f'<option value="{_e(sid)}">{_e(system.name)}</option>' for sid, system in s.faq.kb.systems.items())
        notice = f'<p class="notice">{_e(request.query["done"])}</p>' if request.query.get("done") else ""
        more = f'<p><a href="?page={page + 1}">Cũ hơn →</a></p>' if len(items) == 20 else ""
        body = (f"<style>#incidents pre{{white-space:pre-wrap;font-family:inherit;background:#fff;padding:.8rem}}</style>"
                f"<h1>Sự cố chung</h1>{notice}"
                f'<form method="post" action="/console/incidents/declare" id="declare">{csrf}'
                f'<label>Hệ thống <select name="system">{systems}</select></label>'
                '<label>Mô tả <input name="text" required placeholder="Máy chủ một cửa mất kết nối"></label>'
                '<button>Báo sự cố chung</button></form>'
                f'<ul id="incidents">{"".join(items) or "<li>Chưa có sự cố chung nào.</li>"}</ul>{more}')
        return self.console._page(request, "Sự cố chung", body, session)

    async def declare(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        form = await self.console._form(request, session)
        incidents = self.console.s.engine.incidents
        def declare():  # noqa: ANN202 - on the writer thread, one transaction
            with incidents.db.atomic():
                incident = incidents.declare(str(form.get("system", "")),
                                             " ".join(str(form.get("text", "")).split())[:200], person)
                return incident, len(incidents.linked(incident.id))

        try:
            incident, n = await self.console.s.writer.run(declare)
            done = msg.INCIDENT_DECLARED.format(code=incident.code, n=n)
        except TicketError as exc:
            done = str(exc)
        self._wake()
        raise web.HTTPFound(f"/console/incidents?{urlencode({'done': done})}")

    async def resolve(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        form = await self.console._form(request, session)
        try:
            incident_id = int(request.match_info["id"])
        except ValueError as exc:
            raise web.HTTPNotFound() from exc
        incidents = self.console.s.engine.incidents

        def resolve():  # noqa: ANN202 - on the writer thread, one transaction
            with incidents.db.atomic():
                return incidents.resolve(incident_id, person, str(form.get("note", "")).strip())

        try:
            incident, n = await self.console.s.writer.run(resolve)
            done = msg.INCIDENT_YOU_RESOLVED.format(code=incident.code, n=n)
        except TicketError as exc:
            done = str(exc)
        self._wake()
        raise web.HTTPFound(f"/console/incidents?{urlencode({'done': done})}")

    def _wake(self) -> None:
        if self.console.s.engine.on_outbox is not None:
            self.console.s.engine.on_outbox()

    async def report(self, request: web.Request) -> web.StreamResponse:
        from bot.insight.report import build

        self.console._staff(request, need_admin=True)
        s = self.console.s
        month = request.query.get("month") or last_month(self.console)
        if not MONTH.fullmatch(month):
            raise web.HTTPBadRequest(text="month must be YYYY-MM")
        built = await asyncio.to_thread(
            build, s.config.database, month, s.faq.kb, {c.id: c.name for c in s.communes}, s.calendar,
            s.config.tickets.sla, s.clock())
        response = web.Response(text=built.html, content_type="text/html")
        if request.query.get("download"):
            response.headers["Content-Disposition"] = f'attachment; filename="bao-cao-tap-huan-{month}.html"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        return self.console._finish(request, response)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def insight_routes(console: Console) -> list[web.RouteDef]:
    return InsightPages(console).routes()
