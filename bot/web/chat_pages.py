"""/chat: the official's web chat — a channel of the core like any messenger, live.

What the official types goes through the engine on the writer thread; the
web channel's "delivery" is a row in `web_messages`. Replies to the question
just asked are delivered in the same transaction as its handling (one commit
per question, not four); anything else meant for a browser (a technician's
reply, a reminder) goes through the outbox worker and `WebSender`, also on
the writer thread. Either way the page learns of it from its server-sent
event stream (`/chat/api/events`, fed by `bot.web.live.Hub` after the
commit), and a slow plain poll of `/chat/api/messages` stays as the
fallback. The stream carries only this browser's own chat: its topic and
its reads both use the session's chat reference.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot import messages as msg
from bot.app import Services
from bot.desk.accounts import Session
from bot.models import Delivery, Incoming, Reply
from bot.store.attachments import UnsafeImage
from bot.store.database import StorageUnavailable, Store
from bot.store.outbox import iso
from bot.web.live import Hub, Subscription, chat_topic, serve_stream, sse
from bot.web.trust import is_direct_loopback

log = logging.getLogger(__name__)

CHANNEL = "web"
MAX_UPLOAD = 5 * 1024 * 1024
PAGE_MESSAGES = 100  # messages per read, by the poll and by the stream
STREAMS_PER_CHAT = 3  # tabs of one browser chat at once
STREAMS_PER_ADDRESS = 60  # live streams from one address (a commune office behind one NAT has a few)


def message_json(row: Any) -> dict:
    """One stored chat message as the page shows it (only our own stored files as pictures)."""
    reply = Reply.from_json(row["payload"])
    return {"id": row["id"], "from": "bot" if row["from_bot"] else "me", "text": reply.text,
            "photos": [p for p in reply.photos if p.startswith("/files/")],
            "choices": [{"label": c.label, "action": c.action} for c in reply.choices]}


def store_message(db: Store, chat_ref: str, payload: str, at: str, from_bot: bool = True) -> None:
    """One line of a browser chat as the page shows it (what the official sent, or a reply)."""
    db.execute("insert into web_messages (chat_ref, from_bot, payload, at) values (?, ?, ?, ?)",
               [chat_ref, int(from_bot), payload, at])


def deliver_web(db: Store, at: str, chat_ref: str | None = None) -> int:
    """Deliver pending web-channel outbox rows in the caller's transaction; returns how many.

    For one chat (or every chat when `chat_ref` is None) whose messages the
    outbox worker is not sending right now (it keeps the order then).
    """
    where, args = ("and chat_ref = ?", [chat_ref]) if chat_ref is not None else ("", [])
    due = (f"from outbox o where status = 'pending' and channel = 'web' {where} "
           "and not exists (select 1 from outbox s where s.status = 'sending' and s.channel = 'web' "
           "and s.chat_ref = o.chat_ref)")
    # Two statements however many replies: the same rows, read twice inside one transaction.
    db.execute(f"insert into web_messages (chat_ref, from_bot, payload, at) select chat_ref, 1, payload, ? {due} "
               "order by id", [at, *args])
    return db.execute(f"update outbox set status = 'sent', sent_at = ?, attempts = attempts + 1 where id in "
                      f"(select id {due})", [at, *args]).rowcount


class WebSender:
    """The outbox worker's web channel: store the reply for the page (on the writer thread)."""

    def __init__(self, services: Services) -> None:
        self.writer = services.writer
        self.clock = services.clock

    def _store(self, delivery: Delivery) -> None:
        store_message(self.writer.db, delivery.chat_ref, delivery.reply.to_json(), iso(self.clock()))

    async def send(self, delivery: Delivery) -> None:
        await self.writer.run(self._store, delivery)


class ChatPages:
    """The chat's routes; sessions, CSRF and limits come from the console they belong to."""

    def __init__(self, console: Any, hub: Hub) -> None:
        self.console = console
        self.s: Services = console.s
        self.hub = hub

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat", self.chat_page),
            web.get("/chat/api/messages", self.chat_messages),
            web.get("/chat/api/events", self.chat_events),
            web.post("/chat/api/send", self.chat_send),
            web.post("/chat/link", self.chat_link),
        ]

    def _allowed(self, request: web.Request, session: Session | None) -> bool:
        """A linked official's chat; or, on an open machine, a browser on it that no proxy relayed."""
        if session is None:
            return False
        if self.s.people.find(CHANNEL, session.chat_ref) is not None:
            return True
        return self.console.open_chat and is_direct_loopback(request)

    def _messages(self, chat_ref: str, after: int) -> list[dict]:
        rows = self.s.db.execute(
            "select id, from_bot, payload from web_messages where chat_ref = ? and id > ? order by id limit ?",
            [chat_ref, after, PAGE_MESSAGES]).fetchall()
        return [message_json({"id": r[0], "from_bot": r[1], "payload": r[2]}) for r in rows]

    # -- pages ---------------------------------------------------------------------------

    async def chat_page(self, request: web.Request) -> web.StreamResponse:
        session = self.console._ensure_session(request)
        if not self._allowed(request, session):
            return self.console.render(request, "chat_link.html", session)
        official = self.s.people.find(CHANNEL, session.chat_ref)
        registered = official is not None and official.registered
        return self.console.render(request, "chat.html", session, registered=registered)

    async def chat_link(self, request: web.Request) -> web.StreamResponse:
        console = self.console
        session = console._ensure_session(request)
        form = await console._form(request, session)
        client = console.client(request)
        wait = console.link_by_client.refused_for(client)
        if wait is not None:
            return console._too_many(request, msg.CHAT_TITLE, wait)
        if not console.accounts.use_link_code(str(form.get("code", "")), session.chat_ref):
            log.warning("console: a wrong web link code from %s", client)
            console.link_by_client.failed(client)
            return console.render(request, "chat_link.html", session, status=200, error=msg.WEB_LINK_BAD)
        raise console._finish(request, web.HTTPFound("/chat"))

    # -- the page's API ------------------------------------------------------------------

    async def chat_messages(self, request: web.Request) -> web.StreamResponse:
        """The fallback poll: messages after `after`."""
        session = self.console._ensure_session(request)
        if not self._allowed(request, session):
            raise web.HTTPForbidden()
        after = request.query.get("after", "0")
        items = self._messages(session.chat_ref, int(after) if after.isdigit() else 0)
        return self.console._finish(request, web.json_response({"messages": items}))

    async def chat_events(self, request: web.Request) -> web.StreamResponse:
        """The live stream of this chat's messages (SSE); only for an existing session that may chat."""
        session = self.console._session(request)
        if not self._allowed(request, session):
            raise web.HTTPForbidden()
        assert session is not None
        given = request.headers.get("Last-Event-ID") or request.query.get("after", "0")
        last = int(given) if given.isdigit() else 0
        chat_ref = session.chat_ref

        async def produce(sub: Subscription) -> bytes:
            nonlocal last
            sub.take()  # the hints only say "something came"; what to send is read here
            out = b""
            while True:
                items = self._messages(chat_ref, last)
                for item in items:
                    out += sse(item, "message", item["id"])
                    last = item["id"]
                if len(items) < PAGE_MESSAGES:
                    return out

        limits = {f"chat:{chat_ref}": STREAMS_PER_CHAT, f"address:{self.console.client(request)}": STREAMS_PER_ADDRESS}
        return await serve_stream(request, self.hub, chat_topic(chat_ref), limits, produce, owner=session.token)

    async def chat_send(self, request: web.Request) -> web.StreamResponse:
        console = self.console
        session = console._ensure_session(request)
        if not self._allowed(request, session):
            raise web.HTTPForbidden()
        if request.content_length and request.content_length > MAX_UPLOAD + 64 * 1024:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD, actual_size=request.content_length)
        form = await console._form(request, session)
        text = str(form.get("text") or "")[:4000]
        action = str(form.get("action") or "") or None
        photos: tuple[str, ...] = ()
        upload = form.get("photo")
        if isinstance(upload, web.FileField):
            data = upload.file.read(MAX_UPLOAD + 1)
            try:
                photos = (await console._offload(self.s.attachments.save_image, data),)
            except UnsafeImage as exc:
                log.info("console: refused an upload from %s: %s", console.client(request), exc)
                return console._finish(request, web.json_response({"error": msg.WEB_BAD_UPLOAD}, status=400))
        if not text and not action and not photos:
            return console._finish(request, web.json_response({"ok": True}))
        shown = text or ("[ảnh]" if photos else "")
        label = str(form.get("label") or "")
        chat_ref = session.chat_ref
        incoming = Incoming(CHANNEL, chat_ref, chat_ref, text=text, action=action,
                            photos=photos, update_id=str(form.get("nonce") or "") or None)
        engine = self.s.engine

        def store_and_handle() -> None:  # on the writer thread: the page's copy, the handling, the replies
            at = iso(self.s.clock())
            if shown or label:
                store_message(engine.db, chat_ref, Reply(label or shown, photos=photos).to_json(), at, from_bot=False)
            engine.handle(incoming)
            deliver_web(engine.db, at, chat_ref)

        try:
            await self.s.writer.run(store_and_handle)
        except StorageUnavailable:  # nothing was stored: the page keeps the text for another try
            return console._finish(request, web.json_response({"error": msg.WEB_TRY_AGAIN}, status=503))
        return console._finish(request, web.json_response({"ok": True}))
