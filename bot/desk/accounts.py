"""Console accounts, browser sessions and one-time link codes.

Passwords are hashed with scrypt (hashlib, a standard memory-hard KDF) and a
random salt; sessions are random tokens in an HttpOnly, SameSite=Strict
cookie, each with its own CSRF token that every form must send back.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.desk.people import People
from bot.store.outbox import iso

SESSION_DAYS = 7
LINK_CODE_MINUTES = 10
# No 0/O, 1/I/L: nothing an official could misread when typing the code from a phone.
LINK_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LINK_CODE_LENGTH = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
USERNAME = re.compile(r"[A-Za-z0-9._@-]{2,40}")
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def password_matches(password: str, stored: str | None) -> bool:
    """Check a login; for an unknown account (stored None) do the same work, so timing tells nothing.

    About 50 ms of CPU and 16 MB (scrypt n=2^14, r=8): run it in a worker thread, not on the event loop.
    """
    if stored is None:
        hash_password(password)
        return False
    return check_password(password, stored)


def account_problem(username: str, password: str, role: str) -> str | None:
    """Why these cannot make an account (in English, for the command line), or None."""
    if role not in ("technician", "admin"):
        return "role must be technician or admin"
    if not USERNAME.fullmatch(username):
        return "user name must be 2-40 letters, digits or . _ @ -"
    if len(password) < MIN_PASSWORD:
        return f"password must have at least {MIN_PASSWORD} characters"
    return None


def normalise_link_code(text: str) -> str:
    """What the official typed, as stored: upper case, without spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")[:32]


@dataclass(frozen=True)
class Session:
    token: str
    username: str | None
    chat_ref: str
    csrf: str


def fresh_session(username: str | None = None, chat_ref: str | None = None) -> Session:
    """A new session's random token, chat and CSRF token: not stored yet (see Accounts.save_session)."""
    return Session(secrets.token_urlsafe(32), username, chat_ref or f"b{secrets.token_hex(8)}",
                   secrets.token_urlsafe(24))


class Accounts:
    def __init__(self, db: Database, people: People, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.people = people
        self.clock = clock

    def add(self, username: str, password: str, role: str) -> None:
        """Create or update a console account; its person gets the role (hashes here: not for the event loop)."""
        problem = account_problem(username, password, role)
        if problem:
            raise ValueError(problem)
        self.store(username, hash_password(password), role)

    def store(self, username: str, password_hash: str, role: str) -> None:
        """Save an account whose password was hashed already (by a worker thread, for the web)."""
        with self.db.atomic():
            person = self.people.identify("web", f"account:{username}", f"account:{username}")
            self.people.update(person.id, role=role, status="active", full_name=person.full_name or username)
            self.db["accounts"].upsert({"username": username, "password_hash": password_hash,
                                        "user_id": person.id, "created_at": iso(self.clock())}, pk="username")

    def login(self, username: str, password: str) -> bool:
        return password_matches(password, self.password_hash(username))

    def password_hash(self, username: str) -> str | None:
        rows = list(self.db["accounts"].rows_where("username = ?", [username]))
        return rows[0]["password_hash"] if rows else None

    def has_admin(self) -> bool:
        """Whether any console account belongs to an admin (if not, the first start offers a setup link)."""
        return self.db.execute(
            "select exists(select 1 from accounts a join users u on u.id = a.user_id where u.role = 'admin')"
        ).fetchone()[0] == 1

    def person_id(self, username: str) -> int | None:
        rows = list(self.db["accounts"].rows_where("username = ?", [username]))
        return rows[0]["user_id"] if rows else None

    # -- sessions ---------------------------------------------------------------------

    def new_session(self, username: str | None = None, chat_ref: str | None = None) -> Session:
        return self.save_session(fresh_session(username, chat_ref))

    def save_session(self, session: Session) -> Session:
        """Store a session made by `fresh_session` (the web console does it on the writer thread)."""
        username = session.username
        now = self.clock()
        with self.db.atomic():
            self.db["web_sessions"].insert({
                "token": session.token, "username": username, "chat_ref": session.chat_ref,
                "csrf": session.csrf, "created_at": iso(now), "expires_at": iso(now + timedelta(days=SESSION_DAYS)),
            })
        return session

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        row = self.db.execute(  # plain SQL: every request of a page reads its session
            "select token, username, chat_ref, csrf, expires_at from web_sessions where token = ?", [token]).fetchone()
        if row is None or row[4] < iso(self.clock()):
            return None
        return Session(row[0], row[1], row[2], row[3])

    def end_session(self, token: str) -> None:
        with self.db.atomic():
            self.db["web_sessions"].delete_where("token = ?", [token])

    # -- linking a browser chat to a registered official ----------------------------------

    def link_code(self, user_id: int) -> str:
        """A new one-time code for the web chat, shown as ABCD-EFGH.

        Why 8 characters of 31: the space is 31^8 = 8.5e11 codes. The console
        lets one client address fail 5 times in 15 minutes, then refuses it for
        1, 2, 4, 8 ... minutes up to an hour (bot.web.console.LINK_PER_CLIENT):
        within a code's 10-minute life one address gets at most 5+5+5+5 = 20
        guesses, and 145 in a whole day. Even with 100 codes alive at
        once (a busy province has a handful), a guess hits one with odds of
        100 / 8.5e11 = 1.2e-10: one address succeeds with odds of 2.3e-9 per
        10 minutes; a botnet of 10,000 addresses guessing for a whole day
        (1.45 million guesses) with 1.7e-4. Before: 6 digits and no limit,
        1,891 guesses a second covered the whole space in 8.8 minutes.
        """
        code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
        with self.db.atomic():
            self.db["link_codes"].upsert({"code": code, "user_id": user_id, "expires_at": iso(
                self.clock() + timedelta(minutes=LINK_CODE_MINUTES))}, pk="code")
        half = LINK_CODE_LENGTH // 2
        return f"{code[:half]}-{code[half:]}"

    def use_link_code(self, code: str, chat_ref: str) -> bool:
        """Bind this browser chat to the official who got the code (single use)."""
        code = normalise_link_code(code)
        rows = list(self.db["link_codes"].rows_where("code = ?", [code]))
        if not rows or rows[0]["expires_at"] < iso(self.clock()):
            return False
        with self.db.atomic():
            self.db["link_codes"].delete_where("code = ?", [code])
            self.people.link("web", chat_ref, chat_ref, rows[0]["user_id"])
        return True
