"""Signing in and out, and the first start's one-time setup link (`/login`, `/logout`, `/setup`).

Passwords are checked and hashed in worker threads (scrypt takes a core for
a moment), failed logins are limited per client address and per account
name before any hashing, and a sign-in always starts a new session (a new
token: a session fixed before the login is worth nothing after it). Session
and account writes go through the writer thread.
"""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from bot import messages as msg
from bot.desk.accounts import USERNAME, Session, hash_password, password_matches
from bot.web.pages import COOKIE, Pages, TooManyAttempts

log = logging.getLogger(__name__)


def safe_next(target: str, default: str = "/console") -> str:
    """Where to go after signing in: a path on this site only (never //elsewhere)."""
    return target if target.startswith("/") and not target.startswith("//") else default


class AuthPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.home),
            web.get("/login", self.login_page),
            web.post("/login", self.login),
            web.post("/logout", self.logout),
            web.get("/setup", self.setup_page),
            web.post("/setup", self.setup),
        ]

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/chat")

    # -- login ----------------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        p = self.pages
        session = p._ensure_session(request)
        return p.render(request, "login.html", session, next=request.query.get("next", "/console"),
                        no_admin=not p.accounts.has_admin())

    async def login(self, request: web.Request) -> web.StreamResponse:
        p = self.pages
        session = p._ensure_session(request)
        form = await p._form(request, session)
        username = str(form.get("username", ""))[:100]
        password = str(form.get("password", ""))[:1000]
        client, account = p.client(request), username.casefold()
        try:  # refused before any hashing: a flood costs us nothing
            p._check_limits((p.login_by_client, client), (p.login_by_account, account))
        except TooManyAttempts as exc:
            return p._too_many(request, msg.LOGIN_TITLE, exc.wait)
        if not await p._offload(password_matches, password, p.accounts.password_hash(username)):
            log.warning("console: failed login for %r from %s", username[:40], client)
            p.login_by_client.failed(client)
            p.login_by_account.failed(account)
            return p.render(request, "login.html", session, next=str(form.get("next", "/console")),
                            no_admin=False, error=msg.LOGIN_FAILED, username_given=username)
        p.login_by_account.succeeded(account)
        raise await self._signed_in(session, username, safe_next(str(form.get("next", "/console"))))

    async def _signed_in(self, old: Session, username: str, to: str) -> web.HTTPFound:
        """A new session for the account (a new token at login: no fixation), and a redirect."""
        p = self.pages
        fresh = await p._write(p.writer_accounts.new_session, username)
        await p._write(p.writer_accounts.end_session, old.token)
        p.end_streams(old.token)
        response = web.HTTPFound(to)
        p._set_cookie(response, fresh.token)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        p = self.pages
        session = p._ensure_session(request)
        await p._form(request, session)
        await p._write(p.writer_accounts.end_session, session.token)
        p.end_streams(session.token)
        response = web.HTTPFound("/login")
        response.del_cookie(COOKIE, path="/", secure=p.secure_cookies or None, httponly=True, samesite="Strict")
        raise response

    # -- first start: the one-time setup link ---------------------------------------------------

    async def setup_page(self, request: web.Request) -> web.StreamResponse:
        """GET /setup?token=…: the printed link signs in once; GET /setup then shows the form."""
        p = self.pages
        if p.accounts.has_admin():
            p.setup_token = None
            return p.render(request, "setup_done.html", None)
        given = request.query.get("token")
        session = p._session(request)
        if given is not None and session is not None and session.token in p._setup_sessions:
            raise web.HTTPFound("/setup")  # the operator's own browser opening its link again
        if given is not None:
            if p.setup_token is None or not secrets.compare_digest(given.encode(), p.setup_token.encode()):
                log.warning("console: a wrong or used setup link from %s", p.client(request))
                return self._setup_refused(request)
            p.setup_token = None  # once: a second visit of the same link is refused
            session = await p._write(p.writer_accounts.new_session)
            p._setup_sessions = {session.token}
            response = web.HTTPFound("/setup")  # the token leaves the address bar and the history
            p._set_cookie(response, session.token)
            raise response
        if session is None or session.token not in p._setup_sessions:
            return self._setup_refused(request)
        return self._setup_form(request, session)

    def _setup_refused(self, request: web.Request) -> web.StreamResponse:
        return self.pages.render(request, "refused.html", None, status=403, title=msg.SETUP_TITLE,
                                 message=msg.SETUP_LINK_USED, refused_id="setup-refused")

    def _setup_form(self, request: web.Request, session: Session, error: str = "", username: str = "",
                    status: int = 200) -> web.StreamResponse:
        return self.pages.render(request, "setup.html", session, status=status, error=error, username_given=username)

    async def setup(self, request: web.Request) -> web.StreamResponse:
        p = self.pages
        session = p._session(request)
        if session is None or session.token not in p._setup_sessions or p.accounts.has_admin():
            return self._setup_refused(request)
        form = await p._form(request, session)
        username = str(form.get("username", "")).strip()[:100]
        password, again = str(form.get("password", ""))[:1000], str(form.get("again", ""))[:1000]
        error = (msg.SETUP_BAD_NAME if not USERNAME.fullmatch(username)
                 else msg.SETUP_SHORT_PASSWORD if len(password) < 8
                 else msg.SETUP_PASSWORDS_DIFFER if password != again else "")
        if error:
            return self._setup_form(request, session, error, username, status=422)
        hashed = await p._offload(hash_password, password)
        if session.token not in p._setup_sessions or p.accounts.has_admin():
            return self._setup_refused(request)  # two tabs raced: the first one made the admin
        await p._write(p.writer_accounts.store, username, hashed, "admin")
        p._setup_sessions = set()
        log.info("console: first admin account %r created from %s", username, p.client(request))
        raise await self._signed_in(session, username, "/admin")
