"""The web console: the staff chat in a browser, the technicians' queue, the admins' pages.

A third channel of the same core ("web"): the chat page sends what the
official types through the engine like any messenger, and the web channel's
"delivery" stores replies for the page, which polls for them. Technicians and
admins act through the same desk commands as on Telegram.

Trust is explicit, wherever the server is bound: technician and admin pages
need a console account (`python -m bot users add`, or the one-time setup link
the first start prints while no admin account exists, as Jupyter does), and
stored files are served only to staff and to the chat they belong to. The
chat must be linked to a registered official with a one-time code the bot
sends them (/web), except for a browser on this very machine (bound to
loopback, no `web.public_url`, no proxy headers), where whoever holds the
browser registers in the chat. Logins and link codes are limited per client
address (and logins per account) with back-off; password hashing and image
decoding run in worker threads. Every form carries a CSRF token; every text
is escaped; uploads are decoded and re-encoded (bot.store.attachments).
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlencode

from aiohttp import web
from rapidfuzz import fuzz

from bot import messages as msg
from bot.app import Services
from bot.desk.accounts import USERNAME, Accounts, Session, hash_password, password_matches
from bot.desk.actions import unanswered_questions
from bot.desk.figures import recent_figures
from bot.desk.people import Person
from bot.knowledge.check import reviews_due
from bot.knowledge.editing import add_variant
from bot.language.text import fold
from bot.store.attachments import NAME as STORED_NAME
from bot.store.attachments import REF_PREFIX
from bot.web.chat_pages import CHANNEL, ChatPages, WebSender
from bot.web.desk_pages import DeskPages
from bot.web.faq_pages import FaqPages
from bot.web.insight_pages import insight_routes, report_links
from bot.web.limits import Attempts, Limit
from bot.web.live import Hub
from bot.web.trust import FILE_POLICY, client_address, parse_networks

log = logging.getLogger(__name__)
T = TypeVar("T")

COOKIE = "sid"
MAX_UPLOAD = 5 * 1024 * 1024
CANDIDATE_ENTRIES = 8  # entries offered for an unanswered question: the matcher's best guesses
MAX_ENTRY_IDS = 2000  # entry ids the page lists for typing another one (keeps the page small)
NEW_SESSION = web.RequestKey("new_session", Session)
COOKIE_AGE = 7 * 24 * 3600
# Failed logins: per client address, and per account name (whoever tries it).
LOGIN_PER_CLIENT = Limit(attempts=5, window=timedelta(minutes=15), lockout=timedelta(minutes=1),
                         max_lockout=timedelta(hours=1))
LOGIN_PER_ACCOUNT = Limit(attempts=10, window=timedelta(minutes=15), lockout=timedelta(minutes=5),
                          max_lockout=timedelta(hours=1))
# Wrong web link codes per client address (the odds this gives: Accounts.link_code).
LINK_PER_CLIENT = Limit(attempts=5, window=timedelta(minutes=15), lockout=timedelta(minutes=1),
                        max_lockout=timedelta(hours=1))
# Password hashes and image decoding at once, at most: each takes a core and scrypt 16 MB.
HEAVY_AT_ONCE = 2


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


class TooManyAttempts(Exception):
    def __init__(self, wait: timedelta) -> None:
        super().__init__(wait)
        self.wait = wait


class Console:
    def __init__(self, services: Services, open_chat: bool) -> None:
        """`open_chat`: bound to loopback with no proxy configured, so a browser on this machine may chat unlinked."""
        self.s = services
        self.open_chat = open_chat
        self.files = services.attachments
        self.accounts = Accounts(services.db, services.people, services.clock)
        self._unanswered_cache: tuple[tuple, list[dict]] | None = None
        self.proxies = parse_networks(services.config.web.trusted_proxies)
        self.secure_cookies = services.config.web.secure_cookies
        self.login_by_client = Attempts(LOGIN_PER_CLIENT, services.clock)
        self.login_by_account = Attempts(LOGIN_PER_ACCOUNT, services.clock)
        self.link_by_client = Attempts(LINK_PER_CLIENT, services.clock)
        self._heavy = asyncio.Semaphore(HEAVY_AT_ONCE)
        # While no admin account exists: a one-time token, printed at start, that opens /setup.
        self.setup_token: str | None = None if self.accounts.has_admin() else secrets.token_urlsafe(32)
        self._setup_sessions: set[str] = set()

    def setup_link(self, base_url: str) -> str | None:
        """The one-time link that signs the operator in to create the first admin (None once one exists)."""
        return f"{base_url}/setup?token={self.setup_token}" if self.setup_token else None

    # -- plumbing -----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.home),
            web.get("/files/{name}", self.file),
            web.get("/admin", self.admin_page),
            web.post("/admin/variant", self.admin_variant),
            web.post("/admin/reload", self.admin_reload),
            web.get("/login", self.login_page),
            web.post("/login", self.login),
            web.post("/logout", self.logout),
            web.get("/setup", self.setup_page),
            web.post("/setup", self.setup),
            *insight_routes(self),
        ]

    def client(self, request: web.Request) -> str:
        """The client's address (behind trusted proxies, the one they name): for limits and logs."""
        return client_address(request, self.proxies)

    async def _offload(self, fn: Callable[..., T], *args: object) -> T:
        """Run CPU-heavy work (scrypt, image decoding) in a worker thread, a few at a time."""
        async with self._heavy:
            return await asyncio.to_thread(fn, *args)

    @staticmethod
    def _check_limits(*checks: tuple[Attempts, str]) -> None:
        """Raise TooManyAttempts if any (limiter, key) is locked out now."""
        waits = [wait for attempts, key in checks if (wait := attempts.refused_for(key)) is not None]
        if waits:
            raise TooManyAttempts(max(waits))

    def _too_many(self, request: web.Request, title: str, wait: timedelta) -> web.StreamResponse:
        seconds = max(1, math.ceil(wait.total_seconds()))
        response = self._page(request, title, f'<h1>{e(title)}</h1><p class="error" id="refused">'
                              f'{e(msg.WEB_TOO_MANY_ATTEMPTS.format(minutes=math.ceil(seconds / 60)))}</p>')
        response.set_status(429)
        response.headers["Retry-After"] = str(seconds)
        return response

    def _set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/", max_age=COOKIE_AGE,
                            secure=self.secure_cookies or None)

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
            self._set_cookie(response, session.token)
        return response

    def _page(self, request: web.Request, title: str, body: str, session: Session | None = None) -> web.StreamResponse:
        nav = ('<a href="/chat">Hỏi đáp</a> <a href="/console">Kỹ thuật viên</a> '
               '<a href="/console/incidents">Sự cố chung</a> <a href="/admin">Quản trị</a>')
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

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/chat")

    # -- login ----------------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        nxt = request.query.get("next", "/console")
        hint = "" if self.accounts.has_admin() else f'<p class="notice" id="no-admin">{e(msg.LOGIN_NO_ADMIN_YET)}</p>'
        body = (f'<h1>{e(msg.LOGIN_TITLE)}</h1>{hint}<form method="post" action="/login" id="login">{self._csrf(session)}'
                f'<input type="hidden" name="next" value="{e(nxt)}">'
                '<label>Tên đăng nhập <input name="username" autocomplete="username"></label>'
                '<label>Mật khẩu <input name="password" type="password" autocomplete="current-password"></label>'
                '<button>Đăng nhập</button></form>')
        return self._page(request, msg.LOGIN_TITLE, body)

    async def login(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        form = await self._form(request, session)
        username = str(form.get("username", ""))[:100]
        password = str(form.get("password", ""))[:1000]
        client, account = self.client(request), username.casefold()
        try:  # refused before any hashing: a flood costs us nothing
            self._check_limits((self.login_by_client, client), (self.login_by_account, account))
        except TooManyAttempts as exc:
            return self._too_many(request, msg.LOGIN_TITLE, exc.wait)
        if not await self._offload(password_matches, password, self.accounts.password_hash(username)):
            log.warning("console: failed login for %r from %s", username[:40], client)
            self.login_by_client.failed(client)
            self.login_by_account.failed(account)
            return self._page(request, msg.LOGIN_TITLE, f'<p class="error">{e(msg.LOGIN_FAILED)}</p>'
                              '<p><a href="/login">Thử lại</a></p>')
        self.login_by_account.succeeded(account)
        nxt = str(form.get("next", "/console"))
        raise self._signed_in(session, username, nxt if nxt.startswith("/") and not nxt.startswith("//") else "/console")

    def _signed_in(self, old: Session, username: str, to: str) -> web.HTTPFound:
        """A new session for the account (a new token at login: no fixation), and a redirect."""
        fresh = self.accounts.new_session(username=username)
        self.accounts.end_session(old.token)
        response = web.HTTPFound(to)
        self._set_cookie(response, fresh.token)
        return response

    # -- first start: the one-time setup link ---------------------------------------------------

    async def setup_page(self, request: web.Request) -> web.StreamResponse:
        """GET /setup?token=…: the printed link signs in once; GET /setup then shows the form."""
        if self.accounts.has_admin():
            self.setup_token = None
            return self._page(request, msg.SETUP_TITLE, f'<p class="notice" id="setup-done">'
                              f'{e(msg.SETUP_DONE_ALREADY)}</p><p><a href="/login">{e(msg.LOGIN_TITLE)}</a></p>')
        given = request.query.get("token")
        session = self._session(request)
        if given is not None and session is not None and session.token in self._setup_sessions:
            raise web.HTTPFound("/setup")  # the operator's own browser opening its link again
        if given is not None:
            if self.setup_token is None or not secrets.compare_digest(given.encode(), self.setup_token.encode()):
                log.warning("console: a wrong or used setup link from %s", self.client(request))
                return self._setup_refused(request)
            self.setup_token = None  # once: a second visit of the same link is refused
            session = self.accounts.new_session()
            self._setup_sessions = {session.token}
            response = web.HTTPFound("/setup")  # the token leaves the address bar and the history
            self._set_cookie(response, session.token)
            raise response
        if session is None or session.token not in self._setup_sessions:
            return self._setup_refused(request)
        return self._setup_form(request, session)

    def _setup_refused(self, request: web.Request) -> web.StreamResponse:
        response = self._page(request, msg.SETUP_TITLE, f'<p class="error" id="setup-refused">{e(msg.SETUP_LINK_USED)}</p>')
        response.set_status(403)
        return response

    def _setup_form(self, request: web.Request, session: Session, error: str = "", username: str = "") -> web.StreamResponse:
        problem = f'<p class="error">{e(error)}</p>' if error else ""
        body = (f'<h1>{e(msg.SETUP_TITLE)}</h1><p>{e(msg.SETUP_INTRO)}</p>{problem}'
                f'<form method="post" action="/setup" id="setup">{self._csrf(session)}'
                f'<label>Tên đăng nhập <input name="username" autocomplete="username" value="{e(username)}" required></label>'
                '<label>Mật khẩu <input name="password" type="password" autocomplete="new-password" required></label>'
                '<label>Nhập lại mật khẩu <input name="again" type="password" autocomplete="new-password" required></label>'
                '<button>Tạo tài khoản quản trị</button></form>')
        return self._page(request, msg.SETUP_TITLE, body)

    async def setup(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None or session.token not in self._setup_sessions or self.accounts.has_admin():
            return self._setup_refused(request)
        form = await self._form(request, session)
        username = str(form.get("username", "")).strip()[:100]
        password, again = str(form.get("password", ""))[:1000], str(form.get("again", ""))[:1000]
        error = (msg.SETUP_BAD_NAME if not USERNAME.fullmatch(username)
                 else msg.SETUP_SHORT_PASSWORD if len(password) < 8
                 else msg.SETUP_PASSWORDS_DIFFER if password != again else "")
        if error:
            return self._setup_form(request, session, error, username)
        hashed = await self._offload(hash_password, password)
        if session.token not in self._setup_sessions or self.accounts.has_admin():
            return self._setup_refused(request)  # two tabs raced: the first one made the admin
        self.accounts.store(username, hashed, "admin")
        self._setup_sessions = set()
        log.info("console: first admin account %r created from %s", username, self.client(request))
        raise self._signed_in(session, username, "/admin")

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = self._ensure_session(request)
        await self._form(request, session)
        self.accounts.end_session(session.token)
        response = web.HTTPFound("/login")
        response.del_cookie(COOKIE, path="/", secure=self.secure_cookies or None, httponly=True, samesite="Strict")
        raise response

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
            f'<h2>Cần rà soát</h2><div id="reviews">{self._reviews()}</div>'
            f'<h2>Thống kê</h2><div id="charts">{self._charts()}</div>'
            + report_links(self)
        )
        return self._page(request, "Quản trị", body, session)

    def _unanswered(self, csrf: str) -> str:
        """Questions the FAQ still misses, each with a form to add it as a variant of a likely entry."""
        kb = self.s.faq.kb
        items = []
        for group in self._unanswered_groups():
            others = "; ".join(e(x) for x in group["others"][:3])
            options = "".join(f'<option value="{e(entry_id)}">{e(question[:70])} ({e(entry_id)})</option>'
                              for entry_id, question in group["candidates"])
            items.append(
                f'<li><b>{group["count"]}×</b> {e(group["query"])} <small>({e(msg.FEEDBACK_LABELS.get(group["why"], group["why"]))})'
                f'{" — cũng: " + others if others else ""}</small>'
                f'<form method="post" action="/admin/variant" class="add-variant">{csrf}'
                f'<input type="hidden" name="text" value="{e(group["query"])}">'
                f'<select name="entry_id">{options}</select>'
                f'<input name="other_id" list="faq-ids" placeholder="{e(msg.OTHER_ENTRY_ID)}" size="18">'
                '<button>Thêm làm cách hỏi khác</button></form></li>')
        if not items:
            return f"<li>{e(msg.NOTHING_UNANSWERED)}</li>"
        # One list of every entry id for the whole page, not one per question.
        ids = "".join(f'<option value="{e(entry.id)}">' for entry in kb.entries[:MAX_ENTRY_IDS])
        return "".join(items) + f'<datalist id="faq-ids">{ids}</datalist>'

    def _unanswered_groups(self) -> list[dict]:
        """The grouped questions with their likely entries, computed again only when something changed.

        Clustering and matching 500 logged questions costs tens of
        milliseconds; they change only when a question is logged or judged, or
        the FAQ is reloaded, which is what the cache key says.
        """
        db = self.s.db
        logged = db.execute("select max(id) from query_log").fetchone()[0]
        judged = db.execute("select coalesce(sum(n), 0) from query_stats where decision = 'none' or feedback in "
                            "('not_right', 'none_of_these', 'escalated')").fetchone()[0]
        key = (logged, judged, id(self.s.faq.matcher))
        if self._unanswered_cache is not None and self._unanswered_cache[0] == key:
            return self._unanswered_cache[1]
        matcher, kb = self.s.faq.matcher, self.s.faq.kb
        groups = []
        for group in _cluster(unanswered_questions(db, limit=500)):
            if len(groups) >= 50:
                break
            if matcher.match(group["query"]).decision == "answer":
                continue  # the FAQ answers it now (a variant was added, or an entry written)
            ranked = [c.entry_id for c in matcher.rank(group["query"], limit=CANDIDATE_ENTRIES)]
            candidates = [(entry_id, entry.question) for entry_id in ranked
                          if (entry := kb.entry(entry_id)) is not None]
            groups.append({**group, "candidates": candidates})
        self._unanswered_cache = (key, groups)
        return groups

    def _reviews(self, shown: int = 30) -> str:
        """Entries nobody has checked, or not for a year: the oldest first, the first `shown` of them."""
        due = reviews_due(self.s.faq.kb, self.s.clock().date())
        never = sum(d.days is None for d in due)
        rows = "".join(
            f'<li><code>{e(d.entry_id)}</code> {e(d.question[:80])} <small>({e(Path(d.file).name)}; '
            f'{e(d.reviewed) if d.reviewed else "chưa rà soát"})</small></li>' for d in due[:shown])
        more = f"<p>… và {len(due) - shown} mục nữa (xem bằng <code>python -m bot faq check</code>).</p>" if len(due) > shown else ""
        return (f"<p>{never} mục chưa từng rà soát, {len(due) - never} mục rà soát quá 1 năm "
                f"(trường <code>reviewed</code>, xem docs/knowledge.md).</p><ol>{rows}</ol>{more}")

    def _charts(self) -> str:
        figures = recent_figures(self.s.db, self.s.clock())
        share = f"{100 * figures.helped / figures.questions:.0f}%" if figures.questions else "-"
        med = lambda x: f"{x:.0f} phút" if x is not None else "-"  # noqa: E731
        tickets = self.s.tickets
        by_system: Counter[str] = Counter()
        for system_id, n in figures.by_system.items():
            by_system[tickets.system_name(system_id or None)] += n
        by_commune: Counter[str] = Counter()
        for commune_id, n in figures.by_commune.items():
            by_commune[tickets.commune_name(commune_id or None)] += n
        return (f'<p>Trả lời được không cần yêu cầu: <b>{share}</b> trong {figures.questions} câu hỏi · '
                f'trung vị phản hồi đầu {med(figures.median_first_response)} · '
                f'trung vị xử lý {med(figures.median_resolution)}</p>'
                + _bars("Yêu cầu theo tuần (8 tuần)", figures.by_week)
                + _bars("Theo hệ thống", by_system.most_common(10))
                + _bars("Theo xã/phường", by_commune.most_common(10)))

    async def admin_variant(self, request: web.Request) -> web.StreamResponse:
        session, person = self._staff(request, need_admin=True)
        form = await self._form(request, session)
        entry = self.s.faq.kb.entry(str(form.get("other_id") or form.get("entry_id") or "").strip())
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


def console_routes(services: Services, open_chat: bool) -> tuple[list[web.RouteDef], WebSender, Console]:
    """Every console route, the web channel's sender, and the console (its `live` hub ends streams at shutdown)."""
    console = Console(services, open_chat)
    hub = console.live = Hub(services.db)
    services.writer.on_commit.append(hub.after_commit)  # committed rows wake the pages that wait for them
    return (console.routes() + ChatPages(console, hub).routes() + DeskPages(console, hub).routes()
            + FaqPages(console).routes(), WebSender(services), console)


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
