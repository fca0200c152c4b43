"""Live pages: an in-process publish/subscribe hub fed after the writer commits.

Pages that update themselves (the technicians' queue and ticket pages, the
official's web chat) hold a server-sent-event stream open. What they wait
for is decided by committed rows, not by the code that wrote them: after
every commit of the writer thread the hub reads, on the event loop and by
primary key, the ticket events and web-chat messages added since it last
looked (two indexed range reads, microseconds), and wakes the subscribers of
each topic — ``tickets`` for staff, ``chat:<chat_ref>`` for one browser chat.
A subscriber then reads what it may see itself, through the same checks as
the page, so a hint can never carry one official's words to another.

Commits made by another process (a technician's ``python -m bot tickets …``
beside the server) are seen by a slow look every few seconds while anyone
is subscribed. Subscriptions are limited per client key and in total, so an
open tab costs little and a flood of them is refused (HTTP 429).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from sqlite_utils import Database

log = logging.getLogger(__name__)

TICKETS = "tickets"
SCAN_ROWS = 500  # rows read per look; more are read in the next look at once
FALLBACK_SECONDS = 3.0  # how often to look while subscribed, for commits from other processes
QUEUED = 200  # hints kept per subscriber before it is told to reload instead
KEEPALIVE_SECONDS = 15.0  # a comment line now and then, so proxies keep an idle stream open
GONE_CHECK_SECONDS = 1.0
LIFETIME_SECONDS = 300.0  # then the stream ends and the browser reconnects: sessions are checked again
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def chat_topic(chat_ref: str) -> str:
    return f"chat:{chat_ref}"


class TooManyStreams(Exception):
    """A client holds as many streams as it may: refuse another (HTTP 429)."""


@dataclass(eq=False)  # each subscription is itself (kept in sets)
class Subscription:
    """One open stream: the hints published to its topic, and an event that says there are some."""

    topic: str
    owner: str | None = None  # the session token the stream was opened with: its end ends the stream
    items: deque = field(default_factory=lambda: deque(maxlen=QUEUED))
    overflowed: bool = False
    closed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, timeout: float) -> bool:
        """Wait until something is published (True) or `timeout` seconds pass (False)."""
        try:
            await asyncio.wait_for(self.wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def take(self) -> list[dict]:
        self.wake.clear()
        items = list(self.items)
        self.items.clear()
        return items


Produce = Callable[[Subscription], Awaitable[bytes]]  # what a stream writes when woken


class Hub:
    """Topics and their subscribers; `after_commit` is safe to call from the writer thread."""

    def __init__(self, db: Database, total: int = 1000) -> None:
        self.db = db  # the event loop's own (reading) connection
        self.total = total
        self._subs: dict[str, set[Subscription]] = {}
        self._by_client: Counter[str] = Counter()
        self._open = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scan_queued = False
        self._fallback: asyncio.Task | None = None
        self.last_event, self.last_message = self._tops()

    def _tops(self) -> tuple[int, int]:
        return (self.db.execute("select coalesce(max(id), 0) from ticket_events").fetchone()[0],
                self.db.execute("select coalesce(max(id), 0) from web_messages").fetchone()[0])

    @property
    def streams(self) -> int:
        return self._open

    # -- subscribing (on the event loop) ----------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self, topic: str, limits: Mapping[str, int], owner: str | None = None) -> Iterator[Subscription]:
        """An open subscription for the `with` block.

        `limits`: for each key the stream counts against (the session, the
        client's address), how many streams that key may hold at once.
        TooManyStreams when any key, or the server, is full. `owner`: the
        session token, so that signing out ends the stream (`end_owner`).
        """
        if self.streams >= self.total or any(self._by_client[k] >= n for k, n in limits.items()):
            raise TooManyStreams(", ".join(limits))
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        if not self._subs:  # nobody listened: what was committed meanwhile wakes no one (streams read their own backlog)
            self.last_event, self.last_message = self._tops()
        sub = Subscription(topic, owner)
        self._subs.setdefault(topic, set()).add(sub)
        self._by_client.update(limits.keys())
        self._open += 1
        if self._fallback is None or self._fallback.done():
            self._fallback = self._loop.create_task(self._look_now_and_then())
        try:
            yield sub
        finally:
            self._open -= 1
            self._subs.get(topic, set()).discard(sub)
            if not self._subs.get(topic):
                self._subs.pop(topic, None)
            self._by_client.subtract(limits.keys())
            for key in limits:
                if self._by_client[key] <= 0:
                    del self._by_client[key]

    def publish(self, topic: str, item: dict) -> None:
        for sub in self._subs.get(topic, ()):
            if len(sub.items) == sub.items.maxlen:
                sub.overflowed = True  # the page reloads what it shows instead of applying hints
            sub.items.append(item)
            sub.wake.set()

    def end_owner(self, owner: str) -> int:
        """End the streams opened with a session that has just ended (signed out, replaced at login).

        Without this a signed-out tab would go on receiving ticket hints until
        its stream's lifetime ran out. Returns how many streams were ended.
        """
        ended = 0
        for subs in self._subs.values():
            for sub in subs:
                if sub.owner == owner and not sub.closed:
                    sub.closed = True
                    sub.wake.set()
                    ended += 1
        return ended

    async def close(self, *_: object) -> None:
        """At shutdown (aiohttp's on_shutdown): end every stream so the server stops at once."""
        for subs in list(self._subs.values()):
            for sub in subs:
                sub.closed = True
                sub.wake.set()
        if self._fallback is not None:
            self._fallback.cancel()

    # -- being fed ----------------------------------------------------------------------------

    def after_commit(self) -> None:
        """Writer.on_commit: ask the loop to look at what was committed (one look for many commits)."""
        loop = self._loop
        if loop is None or self._scan_queued or not self._subs:
            return
        self._scan_queued = True
        try:
            loop.call_soon_threadsafe(self.scan)
        except RuntimeError:  # the loop has closed: nobody is listening
            self._scan_queued = False

    def scan(self) -> None:
        """Publish the ticket events and chat messages committed since the last look."""
        self._scan_queued = False
        try:
            self._scan()
        except Exception:  # a read that fails now is retried at the next commit or look
            log.exception("live: reading new rows failed")

    def _scan(self) -> None:
        if not self._subs:  # nobody listens: only move the marks on
            self.last_event, self.last_message = self._tops()
            return
        while True:
            events = self.db.execute(
                "select id, ticket_id, kind from ticket_events where id > ? order by id limit ?",
                [self.last_event, SCAN_ROWS]).fetchall()
            for event_id, ticket_id, kind in events:
                self.publish(TICKETS, {"ticket": ticket_id, "kind": kind, "event": event_id})
            if events:
                self.last_event = events[-1][0]
            messages = self.db.execute(
                "select id, chat_ref from web_messages where id > ? order by id limit ?",
                [self.last_message, SCAN_ROWS]).fetchall()
            for message_id, chat_ref in messages:
                self.publish(chat_topic(chat_ref), {"message": message_id})
            if messages:
                self.last_message = messages[-1][0]
            if len(events) < SCAN_ROWS and len(messages) < SCAN_ROWS:
                return

    async def _look_now_and_then(self) -> None:
        while self._subs:
            await asyncio.sleep(FALLBACK_SECONDS)
            self.scan()


def sse(data: object, event: str | None = None, event_id: int | None = None) -> bytes:
    """One server-sent event: `data` as JSON on one line."""
    head = (f"event: {event}\n" if event else "") + (f"id: {event_id}\n" if event_id is not None else "")
    return (head + "data: " + json.dumps(data, ensure_ascii=False) + "\n\n").encode()


async def serve_stream(request: web.Request, hub: Hub, topic: str, limits: Mapping[str, int], produce: Produce,
                       keepalive: float = KEEPALIVE_SECONDS, lifetime: float = LIFETIME_SECONDS,
                       owner: str | None = None) -> web.StreamResponse:
    """Hold a text/event-stream open: what `produce` writes at first and after every wake-up.

    The caller has checked who is asking; this refuses a client over its
    limit (429) before anything is sent, and ends after `lifetime` seconds
    (EventSource reconnects by itself, and the caller checks again).
    """
    try:
        subscription = hub.subscribe(topic, limits, owner)
        sub = subscription.__enter__()
    except TooManyStreams:
        raise web.HTTPTooManyRequests(text="too many live streams from this client",
                                      headers={"Retry-After": "10"}) from None
    try:
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n" + await produce(sub))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lifetime
        quiet_since = loop.time()
        while not sub.closed and loop.time() < deadline:
            # Short waits: a browser that went away is noticed within a second (aiohttp does
            # not cancel a handler when its client disconnects), freeing its place at once.
            woke = await sub.wait(min(GONE_CHECK_SECONDS, max(0.0, deadline - loop.time())))
            if sub.closed or request.transport is None or request.transport.is_closing():
                break
            if woke:
                await response.write(await produce(sub))
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= keepalive:
                await response.write(b": keep-alive\n\n")
                quiet_since = loop.time()
        return response
    finally:
        subscription.__exit__(None, None, None)
