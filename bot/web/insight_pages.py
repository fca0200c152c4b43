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
from bot.desk.tickets import TicketError
from bot.insight.figures import previous_month

if TYPE_CHECKING:
    from bot.web.console import Console

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def last_month(console: Console) -> str:
    s = console.s
    return previous_month(s.clock().astimezone(s.calendar.zone).strftime("%Y-%m"))


def report_links(console: Console) -> str:
    """The /admin section linking to last month's report (view and download)."""
    month = last_month(console)
    return (f'<h2>Báo cáo nhu cầu tập huấn</h2><form method="get" action="/admin/report" id="report">'
            f'<input name="month" value="{month}" pattern="\\d{{4}}-\\d{{2}}" size="8"> '
            '<button>Xem báo cáo</button> <button name="download" value="1">Tải về (HTML)</button></form>')


class InsightPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin/report", self.report),
            web.get("/console/incidents", self.incidents_page),
            web.post("/console/incidents/declare", self.declare),
            web.post("/console/incidents/{id}/resolve", self.resolve),
        ]

    # -- shared outages ------------------------------------------------------------------------

    async def incidents_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        s = self.console.s
        incidents = s.engine.incidents
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
        try:
            with self.console.s.db.atomic():
                incident = incidents.declare(str(form.get("system", "")), " ".join(str(form.get("text", "")).split())[:200],
                                             person)
            done = msg.INCIDENT_DECLARED.format(code=incident.code, n=len(incidents.linked(incident.id)))
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
        try:
            with self.console.s.db.atomic():
                incident, n = self.console.s.engine.incidents.resolve(incident_id, person, str(form.get("note", "")).strip())
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
