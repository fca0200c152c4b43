"""What every console page shares: sessions and their cookie, CSRF, who is signed in, the page frame.

The chat, the technicians' pages, the admins' pages and the FAQ editor are
separate modules that all stand on this base: `Pages.staff` answers "who is
this, and may they?", `Pages.form` reads a posted form only after its CSRF
token matched, and `Pages.render` fills a Jinja2 template (autoescaped,
`templates/`) with what the frame needs (the signed-in person, the CSRF
token for the sign-out button). Password hashing and image decoding go
through `Pages.offload`, a few at a time in worker threads, and every write a
page makes (sessions, sign-ins, variants) goes through the writer thread.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from aiohttp import web

from bot import messages as msg
from bot.app import Services
from bot.desk.accounts import Accounts, Session, fresh_session
from bot.desk.people import Person
from bot.web.limits import Attempts, Limit
from bot.web.trust import client_address, parse_networks

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COOKIE = "sid"
COOKIE_AGE = 7 * 24 * 3600
NEW_SESSION = web.RequestKey("new_session", Session)
# Failed logins: per client address, and per account name (whoever tries it).
LOGIN_PER_CLIENT = Limit(attempts=5, window=timedelta(minutes=15), lockout=timedelta(minutes=1),
                         max_lockout=timedelta(hours=1))
LOGIN_PER_ACCOUNT = Limit(attempts=10, window=timedelta(minutes=15), lockout=timedelta(minutes=5),
                          max_lockout=timedelta(hours=1))
# Wrong web link codes per client address (the odds this gives: Accounts.link_code).
LINK_PER_CLIENT = Limit(attempts=5, window=timedelta(minutes=15), lockout=timedelta(minutes=1),
                        max_lockout=timedelta(hours=1))
# The pages' templates: autoescaped, loaded once per process and cached.
TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("bot.web", "templates"), autoescape=True)
# Password hashes and image decoding at once, at most: each takes a core and scrypt 16 MB.
HEAVY_AT_ONCE = 2


def page_number(request: web.Request, name: str = "page", first: int = 0) -> int:
    """A page number from the query string: anything not a number is the first page."""
    text = request.query.get(name, "")
    return max(first, int(text)) if text.isdigit() else first


class TooManyAttempts(Exception):
    def __init__(self, wait: timedelta) -> None:
        super().__init__(wait)
        self.wait = wait


class Pages:
    """The base every console page module stands on (see the module's docstring)."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.accounts = Accounts(services.db, services.people, services.clock)  # reading, on the loop
        # Writing (sessions, sign-ins, accounts): only on the writer thread, through `_write`.
        self.writer_accounts = Accounts(services.engine.db, services.engine.people, services.clock)
        self.proxies = parse_networks(services.config.web.trusted_proxies)
        self.secure_cookies = services.config.web.secure_cookies
        self.login_by_client = Attempts(LOGIN_PER_CLIENT, services.clock)
        self.login_by_account = Attempts(LOGIN_PER_ACCOUNT, services.clock)
        self.link_by_client = Attempts(LINK_PER_CLIENT, services.clock)
        self._heavy = asyncio.Semaphore(HEAVY_AT_ONCE)
        # While no admin account exists: a one-time token, printed at start, that opens /setup.
        self.setup_token: str | None = None if self.accounts.has_admin() else secrets.token_urlsafe(32)
        self._setup_sessions: set[str] = set()
        self.templates = TEMPLATES

    def setup_link(self, base_url: str) -> str | None:
        """The one-time link that signs the operator in to create the first admin (None once one exists)."""
        return f"{base_url}/setup?token={self.setup_token}" if self.setup_token else None

    def client(self, request: web.Request) -> str:
        """The client's address (behind trusted proxies, the one they name): for limits and logs."""
        return client_address(request, self.proxies)

    async def _offload(self, fn: Callable[..., T], *args: object) -> T:
        """Run CPU-heavy work (scrypt, image decoding) in a worker thread, a few at a time."""
        async with self._heavy:
            return await asyncio.to_thread(fn, *args)

    async def _write(self, fn: Callable[..., T], *args: object) -> T:
        """Run a write on the writer thread (one transaction), so the event loop never waits for the database."""
        return await self.s.writer.run(fn, *args)

    @staticmethod
    def _check_limits(*checks: tuple[Attempts, str]) -> None:
        """Raise TooManyAttempts if any (limiter, key) is locked out now."""
        waits = [wait for attempts, key in checks if (wait := attempts.refused_for(key)) is not None]
        if waits:
            raise TooManyAttempts(max(waits))

    def _too_many(self, request: web.Request, title: str, wait: timedelta) -> web.StreamResponse:
        seconds = max(1, math.ceil(wait.total_seconds()))
        response = self.render(request, "refused.html", None, status=429, title=title,
                               message=msg.WEB_TOO_MANY_ATTEMPTS.format(minutes=math.ceil(seconds / 60)))
        response.headers["Retry-After"] = str(seconds)
        return response

    # -- sessions ---------------------------------------------------------------------------

    def _set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/", max_age=COOKIE_AGE,
                            secure=self.secure_cookies or None)

    def _session(self, request: web.Request) -> Session | None:
        return self.accounts.session(request.cookies.get(COOKIE))

    def _ensure_session(self, request: web.Request, response: web.StreamResponse | None = None) -> Session:
        """The request's session, or a new one (stored by `with_sessions_stored` before the response leaves)."""
        session = self._session(request) or request.get(NEW_SESSION)
        if session is None:
            session = fresh_session()
            request[NEW_SESSION] = session
        return session

    def with_sessions_stored(self, routes: list[web.RouteDef]) -> list[web.RouteDef]:
        """The routes, each storing the session it started (on the writer thread) before its response goes out."""
        def wrap(handler: Handler) -> Handler:
            async def handle(request: web.Request) -> web.StreamResponse:
                try:
                    response = await handler(request)
                except web.HTTPException:
                    await self._store_new_session(request)
                    raise
                await self._store_new_session(request)
                return response
            return handle
        return [web.RouteDef(r.method, r.path, wrap(r.handler), r.kwargs) for r in routes]  # type: ignore[arg-type]

    async def _store_new_session(self, request: web.Request) -> None:
        session = request.get(NEW_SESSION)
        if session is not None:
            await self._write(self.writer_accounts.save_session, session)

    def _finish(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        session = request.get(NEW_SESSION)
        if session is not None:
            self._set_cookie(response, session.token)
        return response

    # -- forms and people ----------------------------------------------------------------------

    async def _form(self, request: web.Request, session: Session) -> dict:
        """The posted form, after checking its CSRF token (403 otherwise)."""
        data = await request.post()
        given = str(data.get("csrf") or request.headers.get("X-CSRF-Token") or "")
        if not secrets.compare_digest(given.encode(), session.csrf.encode()):
            raise web.HTTPForbidden(text="CSRF token missing or wrong")
        return dict(data)

    def _account_person(self, session: Session | None) -> Person | None:
        """The person a signed-in session belongs to (None: not signed in)."""
        if session is None or not session.username:
            return None
        person_id = self.accounts.person_id(session.username)
        return self.s.people.get(person_id) if person_id is not None else None

    def _staff(self, request: web.Request, need_admin: bool = False) -> tuple[Session, Person]:
        """The technician (or admin) behind a console request, or a redirect to log in (wherever we are bound)."""
        session = self._ensure_session(request)
        person = self._account_person(session)
        if person is None:
            raise self._finish(request, web.HTTPFound(f"/login?next={quote(request.path_qs)}"))  # type: ignore[misc]
        if not person.is_technician or (need_admin and not person.is_admin):
            raise web.HTTPForbidden(text=msg.NOT_AN_ADMIN if need_admin else msg.NOT_A_TECHNICIAN)
        return session, person

    # -- the frame -----------------------------------------------------------------------------

    def render(self, request: web.Request, template: str, session: Session | None, person: Person | None = None,
               status: int = 200, **context: Any) -> web.StreamResponse:
        """A template inside the frame (base.html): the header knows who is signed in, the forms their CSRF token."""
        if person is None:
            person = self._account_person(session)
        context.update(msg=msg, staff=person if person is not None and person.is_technician else None,
                       csrf=session.csrf if session is not None else "",
                       username=session.username if session is not None else "",
                       done=context.get("done", request.query.get("done", "")))
        text = self.templates.get_template(template).render(context)
        return self._finish(request, web.Response(text=text, status=status, content_type="text/html"))

    def fragment(self, template: str, **context: Any) -> web.Response:
        """A part of a page without the frame (a live page swaps it in), with the sentences at hand."""
        return web.Response(text=self.templates.get_template(template).render(msg=msg, **context),
                            content_type="text/html")
