"""Users, their identities on each channel, and their roles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from bot.config import PeopleConfig
from bot.models import Role
from bot.store.outbox import iso


@dataclass(frozen=True)
class Person:
    """A user as the core sees them; `status` is new → (pending) → active."""

    id: int
    role: Role
    status: str
    full_name: str | None = None
    job_title: str | None = None
    phone: str | None = None
    commune_id: str | None = None
    unreachable: bool = False

    @property
    def registered(self) -> bool:
        return self.status == "active"

    @property
    def is_technician(self) -> bool:
        return self.role in ("technician", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Identity:
    channel: str
    user_ref: str
    chat_ref: str
    user_id: int


# A person by one of their identities, with what `identify` updates on it.
_IDENTIFIED = ("select users.*, identities.last_seen_at as seen_at, identities.chat_ref as seen_in from identities "
               "join users on users.id = identities.user_id where identities.channel = ? and identities.user_ref = ?")


def _person(row: dict) -> Person:
    return Person(
        id=row["id"], role=row["role"], status=row["status"], full_name=row["full_name"],
        job_title=row["job_title"], phone=row["phone"], commune_id=row["commune_id"],
        unreachable=bool(row["unreachable"]),
    )


class People:
    """The users table and identities table, behind names that say what they do."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def identify(self, channel: str, user_ref: str, chat_ref: str, display_name: str = "",
                 private: bool = True) -> Person:
        """The person behind a platform user, created on first contact (call in a transaction).

        Only a private chat is remembered as where to reach them: a technician
        writing in the queue's group is still reached privately.
        """
        now = iso(self.clock())
        if not private:
            chat_ref = user_ref  # on Telegram (and Zalo) the private chat id is the user id
        # Plain SQL, one read for the identity and its person: this runs for every update.
        cursor = self.db.execute(_IDENTIFIED, [channel, user_ref])
        known = cursor.fetchone()
        if known is not None:
            row = dict(zip([c[0] for c in cursor.description], known, strict=True))
            if row["seen_at"] != now or (private and row["seen_in"] != chat_ref):  # else unchanged
                if private:
                    self.db.execute("update identities set last_seen_at = ?, chat_ref = ? where channel = ? "
                                    "and user_ref = ?", [now, chat_ref, channel, user_ref])
                else:
                    self.db.execute("update identities set last_seen_at = ? where channel = ? and user_ref = ?",
                                    [now, channel, user_ref])
            person = _person(row)
            if person.unreachable:  # they are writing again, so they can be reached again
                person = self.update(person.id, unreachable=0)
            return person
        users = self.db["users"]
        users.insert({"created_at": now, "role": "staff", "status": "new", "unreachable": 0})
        user_id = int(users.last_pk)  # type: ignore[arg-type]
        self.db["identities"].insert({
            "channel": channel, "user_ref": user_ref, "user_id": user_id, "chat_ref": chat_ref,
            "display_name": display_name, "created_at": now, "last_seen_at": now,
        })
        return self.get(user_id)

    def link(self, channel: str, user_ref: str, chat_ref: str, user_id: int) -> None:
        """Make (channel, user_ref) another identity of an existing person (call in a transaction)."""
        now = iso(self.clock())
        self.db["identities"].upsert({"channel": channel, "user_ref": user_ref, "user_id": user_id,
                                      "chat_ref": chat_ref, "created_at": now, "last_seen_at": now},
                                     pk=("channel", "user_ref"))

    def get(self, user_id: int) -> Person:
        cursor = self.db.execute("select * from users where id = ?", [user_id])
        row = cursor.fetchone()
        if row is None:
            raise NotFoundError(user_id)
        return _person(dict(zip([c[0] for c in cursor.description], row, strict=True)))

    def find(self, channel: str, user_ref: str) -> Person | None:
        cursor = self.db.execute(_IDENTIFIED, [channel, user_ref])
        row = cursor.fetchone()
        return _person(dict(zip([c[0] for c in cursor.description], row, strict=True))) if row else None

    def identities(self, user_id: int) -> list[Identity]:
        return [
            Identity(r["channel"], r["user_ref"], r["chat_ref"], r["user_id"])
            for r in self.db["identities"].rows_where("user_id = ?", [user_id], order_by="last_seen_at desc")
        ]

    def chat_on(self, user_id: int, channel: str | None) -> Identity | None:
        """Where to reach a user: on `channel` if they use it, else where they were last seen."""
        ids = self.identities(user_id)
        return next((i for i in ids if i.channel == channel), ids[0] if ids else None)

    def update(self, user_id: int, **fields: object) -> Person:
        self.db["users"].update(user_id, fields)
        return self.get(user_id)

    def with_role(self, *roles: str) -> list[Person]:
        marks = ",".join("?" for _ in roles)
        return [_person(r) for r in self.db["users"].rows_where(f"role in ({marks})", list(roles), order_by="id")]

    def apply_config(self, config: PeopleConfig) -> None:
        """Give the people named in config their roles (config wins for them at every start)."""
        with self.db.atomic():
            for role, refs in (("technician", config.technicians), ("admin", config.admins)):
                for ref in refs:
                    channel, _, user_ref = ref.partition(":")
                    person = self.identify(channel, user_ref, user_ref)
                    self.update(person.id, role=role, status="active")
