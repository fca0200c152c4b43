"""Console accounts, browser sessions and one-time link codes.

Passwords are hashed with scrypt (hashlib, a standard memory-hard KDF) and a
random salt; sessions are random tokens in an HttpOnly, SameSite=Strict
cookie, each with its own CSRF token that every form must send back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.desk.people import People
from bot.store.outbox import iso

SESSION_DAYS = 7
LINK_CODE_MINUTES = 10
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


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


@dataclass(frozen=True)
class Session:
    token: str
    username: str | None
    chat_ref: str
    csrf: str


class Accounts:
    def __init__(self, db: Database, people: People, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.people = people
        self.clock = clock

    def add(self, username: str, password: str, role: str) -> None:
        """Create or update a console account; its person gets the role."""
        if role not in ("technician", "admin"):
            raise ValueError("role must be technician or admin")
        if len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        with self.db.atomic():
            person = self.people.identify("web", f"account:{username}", f"account:{username}")
            self.people.update(person.id, role=role, status="active", full_name=person.full_name or username)
            self.db["accounts"].upsert({"username": username, "password_hash": hash_password(password),
                                        "user_id": person.id, "created_at": iso(self.clock())}, pk="username")

    def login(self, username: str, password: str) -> bool:
        rows = list(self.db["accounts"].rows_where("username = ?", [username]))
        if not rows:
            hash_password(password)  # same work either way: no timing hint that the name exists
            return False
        return check_password(password, rows[0]["password_hash"])

    def person_id(self, username: str) -> int | None:
        rows = list(self.db["accounts"].rows_where("username = ?", [username]))
        return rows[0]["user_id"] if rows else None

    # -- sessions ---------------------------------------------------------------------

    def new_session(self, username: str | None = None, chat_ref: str | None = None) -> Session:
        session = Session(secrets.token_urlsafe(32), username, chat_ref or f"b{secrets.token_hex(8)}",
                          secrets.token_urlsafe(24))
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
        rows = list(self.db["web_sessions"].rows_where("token = ?", [token]))
        if not rows or rows[0]["expires_at"] < iso(self.clock()):
            return None
        row = rows[0]
        return Session(row["token"], row["username"], row["chat_ref"], row["csrf"])

    def end_session(self, token: str) -> None:
        with self.db.atomic():
            self.db["web_sessions"].delete_where("token = ?", [token])

    # -- linking a browser chat to a registered official ----------------------------------

    def link_code(self, user_id: int) -> str:
        code = f"{secrets.randbelow(10**6):06d}"
        with self.db.atomic():
            self.db["link_codes"].upsert({"code": code, "user_id": user_id, "expires_at": iso(
                self.clock() + timedelta(minutes=LINK_CODE_MINUTES))}, pk="code")
        return code

    def use_link_code(self, code: str, chat_ref: str) -> bool:
        """Bind this browser chat to the official who got the code (single use)."""
        rows = list(self.db["link_codes"].rows_where("code = ?", [code.strip()]))
        if not rows or rows[0]["expires_at"] < iso(self.clock()):
            return False
        with self.db.atomic():
            self.db["link_codes"].delete_where("code = ?", [code.strip()])
            self.people.link("web", chat_ref, chat_ref, rows[0]["user_id"])
        return True
