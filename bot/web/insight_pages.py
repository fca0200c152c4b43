"""Console pages for province insight: the monthly report on /admin/report.

Kept apart from the console's own module; it borrows the console's login,
CSRF and page frame. The report is built in a worker thread (matplotlib takes
a second or two), so the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from aiohttp import web

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
        return [web.get("/admin/report", self.report)]

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
