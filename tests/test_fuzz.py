"""Random update JSON through each channel's parsing into the real core: nothing escapes,
and the next good update is still answered.

The updates are shaped like the platforms' (Telegram's Update, Zalo Bot's events, Zalo OA's
webhook events) with any field missing, of the wrong type, or holding junk (lone surrogates
included), plus JSON of any shape at all. Examples are bounded, so this stays a few seconds.
No network: the channels' API base URL is a closed port on 127.0.0.1 (a button press's
answerCallbackQuery fails there, as it may in life), and Zalo images are not downloaded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import messages as msg
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo_bot import ZaloBotChannel
from bot.channels.zalo_oa import ForgedEvent, ZaloOAChannel
from bot.models import Reply
from tests.harness import Bot, make_config

FUZZ = settings(max_examples=60, deadline=timedelta(seconds=5), database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens, a connection is refused at once
MISSING = object()

# Text with anything in it, lone surrogates too (st.text() leaves those out by default).
junk_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | junk_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(junk_text, inner, max_size=3),
    max_leaves=8,
)
small_ids = st.integers(1, 10**6)


def field(proper: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the right kind of value (so some updates get deep into the core); sometimes junk;
    sometimes absent."""
    return st.integers(0, 9).flatmap(lambda n: proper if n < 8 else json_values if n == 8 else st.just(MISSING))


def optional(proper: st.SearchStrategy) -> st.SearchStrategy:
    """An optional field: mostly absent, sometimes there, now and then junk."""
    return st.integers(0, 9).flatmap(lambda n: st.just(MISSING) if n < 6 else proper if n < 9 else json_values)


class Opt:
    def __init__(self, proper: st.SearchStrategy) -> None:
        self.proper = proper


def obj(**fields: st.SearchStrategy | Opt) -> st.SearchStrategy:
    """A JSON object of these fields (an `Opt` one optional), any of them possibly broken."""
    return st.fixed_dictionaries({k: optional(v.proper) if isinstance(v, Opt) else field(v)
                                  for k, v in fields.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not MISSING})


# -- Telegram --------------------------------------------------------------------------------

tg_user = obj(id=small_ids, is_bot=st.booleans(), first_name=junk_text, last_name=Opt(junk_text))
tg_chat = obj(id=st.integers(-(10**6), 10**6), type=st.sampled_from(["private", "group", "supergroup", "channel"]))
tg_photo = st.lists(obj(file_id=junk_text, file_unique_id=junk_text, width=small_ids, height=small_ids), max_size=2)
tg_message = obj(message_id=small_ids, date=st.integers(0, 2**40), chat=tg_chat, **{"from": tg_user},
                 text=Opt(junk_text), caption=Opt(junk_text), photo=Opt(tg_photo), media_group_id=Opt(junk_text),
                 contact=Opt(obj(phone_number=junk_text, first_name=junk_text, user_id=Opt(small_ids))),
                 sticker=Opt(obj(file_id=junk_text, file_unique_id=junk_text, width=small_ids, height=small_ids,
                                 is_animated=st.booleans(), is_video=st.booleans(), type=st.just("regular"))),
                 reply_to_message=Opt(obj(message_id=small_ids, date=st.integers(0, 2**40), chat=tg_chat)))
tg_update = st.one_of(
    obj(update_id=small_ids, message=tg_message),
    obj(update_id=small_ids, edited_message=tg_message),
    obj(update_id=small_ids, callback_query=obj(id=junk_text, chat_instance=junk_text, data=Opt(junk_text),
                                                message=Opt(tg_message), **{"from": tg_user})),
    json_values,
)

# -- Zalo Bot ------------------------------------------------------------------------------

zalo_names = st.sampled_from(["message.text.received", "message.image.received", "message.sticker.received",
                              "message.unsupported.received"])
zalo_event = obj(event_name=zalo_names, message=obj(
    **{"from": obj(id=junk_text, display_name=junk_text, is_bot=st.booleans())},
    chat=obj(id=junk_text, chat_type=st.sampled_from(["PRIVATE", "GROUP"])),
    text=Opt(junk_text), caption=Opt(junk_text), photo_url=Opt(junk_text), photo=Opt(junk_text),
    message_id=junk_text, date=st.integers(0, 2**45)))
zalo_payload = st.one_of(zalo_event, zalo_event.map(lambda e: {"ok": True, "result": e}), json_values)

# -- Zalo OA ---------------------------------------------------------------------------------

oa_event = obj(
    event_name=st.sampled_from(["user_send_text", "user_send_image", "user_send_sticker", "follow",
                                "oa_send_text", "user_send_location"]),
    app_id=junk_text, timestamp=junk_text, sender=obj(id=junk_text), recipient=Opt(obj(id=junk_text)),
    message=obj(text=Opt(junk_text), msg_id=junk_text, attachments=Opt(st.lists(
        obj(type=junk_text, payload=obj(url=junk_text, thumbnail=Opt(junk_text))), max_size=2))))


class Harness:
    """The real core on a real SQLite file, one event loop, and a stream of fresh good updates."""

    def __init__(self, tmp_path: Path) -> None:
        self.bot = Bot(make_config(tmp_path))
        self.services = self.bot.services
        self.loop = asyncio.new_event_loop()
        self.ids = itertools.count(10**12)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def replies_to(self, channel: str, chat: str) -> list[str]:
        rows = self.services.db["outbox"].rows_where("channel = ? and chat_ref = ?", [channel, chat], order_by="id")
        return [Reply.from_json(r["payload"]).text for r in rows]

    def close(self) -> None:
        self.loop.close()
        self.services.writer.close()
        self.services.db.close()


@pytest.fixture
def harness(tmp_path: Path) -> Any:
    h = Harness(tmp_path)
    yield h
    h.close()


def test_telegram_random_updates(harness: Harness) -> None:
    channel = TelegramChannel("123:fuzz", CLOSED, harness.services.db, harness.services.handle,
                              harness.services.clock)
    good_user = 2 * 10**9

    @FUZZ
    @given(tg_update)
    def property_(raw: Any) -> None:
        assert harness.run(channel._take_polled(raw)) is True  # taken or quarantined; never a storage fault
        good = {"update_id": next(harness.ids), "message": {
            "message_id": 1, "date": 1_700_000_000, "text": "xin chào",
            "chat": {"id": good_user, "type": "private"}, "from": {"id": good_user, "is_bot": False, "first_name": "An"}}}
        before = len(harness.replies_to("telegram", str(good_user)))
        assert harness.run(channel._take_polled(good)) is True
        assert harness.replies_to("telegram", str(good_user))[before:] == [msg.SMALLTALK_HELLO]

    property_()


def test_zalo_bot_random_events(harness: Harness) -> None:
    channel = ZaloBotChannel("fuzz", CLOSED, harness.services.handle,
                             harness.services.remember_choices, db=harness.services.db,
                             clock=harness.services.clock)

    @FUZZ
    @given(zalo_payload)
    def property_(raw: Any) -> None:
        harness.run(channel._take_polled(raw) if isinstance(raw, dict) else channel.take(raw))
        good = {"event_name": "message.text.received", "message": {
            "from": {"id": "good-zalo", "display_name": "An"}, "chat": {"id": "good-zalo"},
            "text": "xin chào", "message_id": str(next(harness.ids))}}
        before = len(harness.replies_to("zalo", "good-zalo"))
        assert harness.run(channel.take({"ok": True, "result": good})) is True
        assert [t.split("\n")[0] for t in harness.replies_to("zalo", "good-zalo")[before:]] == [msg.SMALLTALK_HELLO]

    property_()


def test_zalo_oa_random_events(harness: Harness) -> None:
    channel = ZaloOAChannel(harness.services.db, "app", "key", "secret", CLOSED, CLOSED,
                            harness.services.handle, harness.services.remember_choices,
                            harness.services.clock)

    @FUZZ
    @given(oa_event, st.binary(max_size=200))
    def property_(event: dict, raw: bytes) -> None:
        for body in (raw, json.dumps(event).encode()):
            with pytest.raises(ForgedEvent):
                channel.verify(body, "mac=" + "0" * 64)  # random bytes, or an event with a wrong signature
        channel.store(event)
        good = {"event_name": "user_send_text", "sender": {"id": "good-oa"},
                "message": {"text": "xin chào", "msg_id": str(next(harness.ids))}}
        channel.store(good)
        before = len(harness.replies_to("zalo_oa", "good-oa"))
        harness.run(channel._drain())
        assert harness.replies_to("zalo_oa", "good-oa")[before:] == [msg.SMALLTALK_HELLO]

    property_()
