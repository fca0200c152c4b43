"""`console_routes` assembles every console page; the console itself serves stored files.

What all pages share (sessions, CSRF, who is signed in, the template frame,
the login limits) is bot.web.pages; signing in and the first start's setup
link are bot.web.auth_pages; the admins' desk is bot.web.admin_pages and the
FAQ editor bot.web.faq_pages; the official's chat is bot.web.chat_pages and
the technicians' live queue and tickets bot.web.desk_pages, both woken by
bot.web.live after the writer commits. Stored files are served only to staff,
to the chat they were shown in, and to the official whose ticket holds them.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot import messages as msg
from bot.app import Services
from bot.desk.accounts import Session
from bot.store.attachments import NAME as STORED_NAME
from bot.store.attachments import REF_PREFIX
from bot.web.admin_pages import AdminPages
from bot.web.auth_pages import AuthPages
from bot.web.chat_pages import CHANNEL, ChatPages, WebSender
from bot.web.desk_pages import DeskPages
from bot.web.faq_pages import FaqPages
from bot.web.insight_pages import insight_routes
from bot.web.live import Hub
from bot.web.pages import LINK_PER_CLIENT, Pages
from bot.web.trust import FILE_POLICY

log = logging.getLogger(__name__)

__all__ = ["CHANNEL", "LINK_PER_CLIENT", "Console", "WebSender", "console_routes"]


class Console(Pages):
    """Stored files, and the frame every console page shares (the base: bot.web.pages)."""

    def __init__(self, services: Services, open_chat: bool) -> None:
        """`open_chat`: bound to loopback with no proxy configured, so a browser on this machine may chat unlinked."""
        super().__init__(services)
        self.open_chat = open_chat
        self.files = services.attachments
        self.live: Hub | None = None

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/files/{name}", self.file)]

    def end_streams(self, token: str) -> None:
        """A session has ended: its open live streams end now, not at their lifetime."""
        if self.live is not None:
            self.live.end_owner(token)

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


def console_routes(services: Services, open_chat: bool) -> tuple[list[web.RouteDef], WebSender, Console]:
    """Every console route, the web channel's sender, and the console (its `live` hub ends streams at shutdown)."""
    console = Console(services, open_chat)
    hub = console.live = Hub(services.db)
    services.writer.on_commit.append(hub.after_commit)  # committed rows wake the pages that wait for them
    faq_pages = FaqPages(console)
    routes = (console.routes() + AuthPages(console).routes() + AdminPages(console, faq_pages.editor).routes()
              + ChatPages(console, hub).routes() + DeskPages(console, hub).routes()
              + faq_pages.routes() + insight_routes(console))
    return console.with_sessions_stored(routes), WebSender(services), console
