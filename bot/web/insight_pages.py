"""Console pages for province insight: shared outages on /console/incidents, the report on /admin/report.

Kept apart from the console's own module; it borrows the console's login,
CSRF and template frame (bot.web.pages); the pages are templates
(`announcements.html`, `incidents.html`). The report is built in a worker thread (matplotlib takes
a second or two), so the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from bot import messages as msg
from bot.desk.announcements import Audience
from bot.desk.tickets import TicketError
from bot.insight.figures import previous_month
from bot.web.pages import page_number

if TYPE_CHECKING:
    from bot.web.pages import Pages as Console

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
PAGE = 20  # announcements and incidents per page
KINDS = (("all", msg.ANNOUNCE_TO_ALL), ("communes", "Các xã/phường (mã, cách nhau bởi dấu cách)"),
         ("system", "Cán bộ đã hỏi về một hệ thống"))


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
        form = form or {}
        board = self._board()
        names = {c.id: c.name for c in s.communes}
        systems = {sid: system.name for sid, system in s.faq.kb.systems.items()}
        page = page_number(request)
        sent = [(row, board.describe(Audience.from_json(row["audience"]), names, systems), board.tally(row["id"]))
                for row in board.recent(limit=PAGE, offset=PAGE * page)]
        channels = (", ".join(f"{n} trên {ch}" for ch, n in sorted(preview.by_channel.items())) or "-"
                    if preview is not None else "")
        return self.console.render(
            request, "announcements.html", session, error=error, preview=preview, channels=channels,
            form={k: str(form.get(k, "")) for k in ("text", "kind", "communes", "system")},
            kind=str(form.get("kind", "all")), kinds=KINDS, communes=list(s.communes), system_names=systems,
            sent=sent, more_url=f"?page={page + 1}" if len(sent) == PAGE else None)

    # -- shared outages ------------------------------------------------------------------------

    async def incidents_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        incidents = self.incidents
        page = page_number(request)
        items = [(incident, incidents.card(incident).text, incidents.linked(incident.id))
                 for incident in incidents.recent(limit=PAGE, offset=PAGE * page)]
        return self.console.render(request, "incidents.html", session, person, items=items,
                                   systems=list(self.console.s.faq.kb.systems.items()),
                                   more_url=f"?page={page + 1}" if len(items) == PAGE else None)

    async def declare(self, request: web.Request) -> web.StreamResponse:
        session, person = self.console._staff(request)
        form = await self.console._form(request, session)
        incidents = self.console.s.engine.incidents

        def declare():  # noqa: ANN202 - on the writer thread, one transaction
            with incidents.db.atomic():
                incident = incidents.declare(str(form.get("system", "")),
                                             " ".join(str(form.get("text", "")).split())[:200], person)
                return incident, len(incidents.linked(incident.id))
        return await self._on_writer(declare, msg.INCIDENT_DECLARED)

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
        return await self._on_writer(resolve, msg.INCIDENT_YOU_RESOLVED)

    async def _on_writer(self, change, done_format: str) -> web.StreamResponse:  # noqa: ANN001
        """Run an incident change on the writer thread, wake the outbox, and go back to the list saying what happened."""
        try:
            incident, n = await self.console.s.writer.run(change)
            done = done_format.format(code=incident.code, n=n)
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


def insight_routes(console: Console) -> list[web.RouteDef]:
    return InsightPages(console).routes()
