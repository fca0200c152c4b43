"""A whole bot on a real SQLite file, with a clock the test moves and a recording channel."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import Services, build_services
from bot.config import Config, PeopleConfig, load_config
from bot.models import Delivery, Incoming, Reply
from bot.store.outbox import DeliveryError, OutboxWorker

REPO = Path(__file__).resolve().parent.parent
# Monday 24 Nov 2026, 08:00 in Hà Nội (UTC+7): inside working hours.
MONDAY_8AM = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)

TECH = "tech1"
TECH2 = "tech2"
ADMIN = "admin1"


def config_file(tmp_path: Path, port: int | None = None, poll_timeout: int | None = None) -> Path:
    """The shipped config.yaml with the repo's knowledge and a database in tmp_path, for subprocesses."""
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("knowledge_dir: knowledge", f"knowledge_dir: {REPO / 'knowledge'}")
    text = text.replace("database: data/bot.sqlite", f"database: {tmp_path / 'data' / 'bot.sqlite'}")
    if port is not None:
        text = text.replace("port: 8080", f"port: {port}")
    if poll_timeout is not None:
        text = text.replace("poll_timeout: 30", f"poll_timeout: {poll_timeout}")
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Clock:
    def __init__(self, start: datetime = MONDAY_8AM) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class RecordingSender:
    """A channel that keeps what it was asked to send, and can be told to fail."""

    def __init__(self) -> None:
        self.sent: dict[str, list[Reply]] = defaultdict(list)
        self.failures: list[DeliveryError] = []

    async def send(self, delivery: Delivery) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent[delivery.chat_ref].append(delivery.reply)


def make_config(tmp_path: Path, **changes: object) -> Config:
    config = load_config(REPO / "config.yaml")
    people = PeopleConfig(admins=(f"test:{ADMIN}",), technicians=(f"test:{TECH}", f"test:{TECH2}"))
    return dataclasses.replace(config, database=tmp_path / "bot.sqlite", people=people, **changes)


class Bot:
    """Drives the real engine as several people on the channel "test"."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.services: Services = build_services(config, self.clock)
        self.sender = RecordingSender()
        self.worker = OutboxWorker(self.services.db, {"test": self.sender}, self.clock)
        self._updates = itertools.count(1)

    @property
    def engine(self):  # noqa: ANN201 - test helper
        return self.services.engine

    def send(self, user: str, text: str = "", *, action: str | None = None, **fields: object) -> list[Reply]:
        """One update from `user`; returns the replies to it (they are also in the outbox)."""
        incoming = Incoming("test", user, user, text=text, action=action,
                            update_id=str(next(self._updates)), **fields)  # type: ignore[arg-type]
        return self.engine.handle(incoming).replies

    def say(self, user: str, text: str = "", **fields: object) -> list[str]:
        return [r.text for r in self.send(user, text, **fields)]

    def press(self, user: str, action: str) -> list[str]:
        return [r.text for r in self.send(user, action=action)]

    def deliver(self) -> int:
        return asyncio.run(self.worker.run_once())

    def inbox(self, chat: str) -> list[Reply]:
        """Everything delivered to a chat so far (delivering what is due first)."""
        self.deliver()
        return self.sender.sent[chat]

    def register(self, user: str, commune: str = "Bát Xát", name: str = "Nguyễn Văn An") -> None:
        self.say(user, "/dangky")
        self.say(user, commune)
        self.say(user, name)
        self.say(user, "Công chức Văn phòng - Thống kê")
        self.say(user, "0912 345 678")

    def open_ticket(self, user: str, description: str = "Không đăng nhập được một cửa, báo lỗi 500",
                    urgency: str = "normal", system: str = "motcua") -> int:
        self.say(user, "/baoloi")
        self.press(user, f"sys:{system}")
        self.say(user, description)
        self.press(user, "step:photos")
        self.press(user, f"urg:{urgency}")
        self.press(user, "step:send")
        return max(t.id for t in self.services.tickets.of_user(self.person(user).id))

    def person(self, user: str):  # noqa: ANN201 - test helper
        person = self.services.people.find("test", user)
        assert person is not None
        return person

    def ticket(self, ticket_id: int):  # noqa: ANN201 - test helper
        return self.services.tickets.get(ticket_id)

    def outbox_rows(self) -> list[dict]:
        return list(self.services.db["outbox"].rows_where(order_by="id"))
