"""PTB's HTTP on aiohttp (bot/channels/telegram_http.py), over real sockets on 127.0.0.1.

What matters most is how a failed send is classed, because the outbox acts on it: a
request that never went out is sent again, one that went out and got no answer is
"in doubt" and is not (it may have arrived).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram.error import NetworkError, TimedOut

from bot.channels import telegram as tgmod
from bot.channels.common import StartError
from bot.channels.telegram_http import AiohttpRequest, ConnectFailed, ConnectTimeout, PoolTimeout, not_sent
from bot.models import Delivery, Incoming, Outcome, Reply
from bot.store.outbox import DeliveryError
from bot.store.schema import open_database
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - the fixture

CHAT = 42
TOKEN = "123456789:AAFakeTokenForTests-0123456789abcdefXYZ"
SHORT = 0.2  # seconds: every timeout these tests wait out


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send timeouts of SHORT seconds (connect, read, write and pool), and no pacing."""
    monkeypatch.setattr(tgmod, "SEND_READ_TIMEOUT", SHORT)
    monkeypatch.setattr(tgmod, "SEND_CONNECT_TIMEOUT", SHORT)
    monkeypatch.setattr(tgmod, "PRIVATE_INTERVAL", 0.0)


async def _unused(incoming: Incoming) -> Outcome:
    raise AssertionError(f"no update is handled in these tests: {incoming}")


def channel(base_url: str, tmp_path: Path, files: dict[str, Path] | None = None) -> tgmod.TelegramChannel:
    db = open_database(tmp_path / "bot.sqlite")
    return tgmod.TelegramChannel(TOKEN, base_url, db, _unused,
                                 lambda: datetime.now(UTC), poll_timeout=5,
                                 local_file=(files or {}).get)


def text(words: str) -> Delivery:
    return Delivery(id=1, channel="telegram", chat_ref=str(CHAT), reply=Reply(words), attempts=0)


async def failure(ch: tgmod.TelegramChannel, delivery: Delivery) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await ch.send(delivery)
    return caught.value


async def failure_at(base_url: str, tmp_path: Path) -> DeliveryError:
    """How sending "xin chào" through a channel on `base_url` fails (no getMe: the server may never answer)."""
    ch = channel(base_url, tmp_path)
    await ch.app.bot.request.initialize()
    try:
        return await failure(ch, text("xin chào"))
    finally:
        await ch.app.bot.request.shutdown()
        ch.db.close()


def decision(error: DeliveryError) -> tuple[bool, bool]:
    """(in doubt, permanent): neither means the outbox sends it again."""
    return error.in_doubt, error.permanent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """Accepts connections and reads the requests, never answers: (its URL, what it read)."""
    received: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        while data := await reader.read(65536):
            received.append(data)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", received
    finally:
        server.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()


@contextlib.contextmanager
def full_backlog() -> Iterator[str]:
    """A port whose listener never accepts and whose queue is full: a connect hangs (SYNs dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}"
    finally:
        for s in [*fillers, listener]:
            s.close()


async def test_a_photo_album_and_a_document_arrive_byte_for_byte(
        tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    pictures = {f"/files/{n}.jpg": tmp_path / f"{n}.jpg" for n in range(3)}
    for n, path in enumerate(pictures.values()):
        path.write_bytes(bytes(range(256)) * (400 + n) + b"\r\n--boundary?\r\n")  # every byte value
    report = tmp_path / "bao-cao-thang-11.csv"
    report.write_bytes("xã,số câu hỏi\nBản Vược,12\n".encode())
    ch = channel(tg.url, tmp_path, pictures)
    await ch.start(polling=False)
    try:
        await ch.send(Delivery(1, "telegram", str(CHAT), Reply("ảnh", photos=("/files/0.jpg",)), 0))
        album = Reply("hai ảnh", photos=("/files/1.jpg", "/files/2.jpg"))
        await ch.send(Delivery(2, "telegram", str(CHAT), album, 0))
        await ch.send(Delivery(3, "telegram", str(CHAT), Reply("báo cáo", document=str(report)), 0))
    finally:
        await ch.close()
        ch.db.close()
    photo = tg.calls_to("sendPhoto")[0]["photo"]
    group = tg.calls_to("sendMediaGroup")[0]
    document = tg.calls_to("sendDocument")[0]["document"]
    attached = [group[item["media"].removeprefix("attach://")]["content"] for item in group["media"]]
    assert [photo["content"], *attached, document["content"]] == [p.read_bytes() for p in pictures.values()] + [
        report.read_bytes()]
    assert document["filename"] == "bao-cao-thang-11.csv"
    assert [m["text"] for m in tg.sent(CHAT) if m["method"] == "sendMessage"] == ["ảnh", "hai ảnh", "báo cáo"]


async def test_a_send_that_got_no_answer_is_in_doubt_and_not_sent_again(tmp_path: Path) -> None:
    async with silent_server() as (url, received):
        error = await failure_at(url, tmp_path)
        assert isinstance(error.__cause__, TimedOut) and not not_sent(error.__cause__)
        assert (str(error), decision(error)) == (
            f"no answer from Telegram within {SHORT:g} s; the message may have arrived", (True, False))
        assert b"".join(received).count(b"POST /bot") == 1  # it went out, once


async def test_a_send_to_a_closed_port_is_not_sent_and_is_tried_again(tmp_path: Path) -> None:
    error = await failure_at(f"http://127.0.0.1:{free_port()}", tmp_path)
    cause = error.__cause__
    assert isinstance(cause, NetworkError) and isinstance(cause.__cause__, ConnectFailed)
    assert (str(error).startswith("telegram error: aiohttp.ClientConnectorError"), decision(error)) == (
        True, (False, False))


async def test_a_send_that_found_no_connection_in_time_is_not_sent_and_is_tried_again(tmp_path: Path) -> None:
    with full_backlog() as url:
        error = await failure_at(url, tmp_path)
    cause = error.__cause__
    assert isinstance(cause, TimedOut) and isinstance(cause.__cause__, ConnectTimeout)
    assert (str(error).startswith("telegram timeout before sending: Connect timeout"), decision(error)) == (
        True, (False, False))
    # aiohttp's message quotes the URL, the bot token in it; ours (stored, logged) do not
    assert [TOKEN.split(":")[1] in str(e) for e in (error, cause, cause.__cause__, cause.__cause__.__cause__)] == [
        False, False, False, True]


async def test_a_send_that_found_the_pool_busy_is_not_sent_and_is_tried_again(
        tg: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(tgmod, "SEND_POOL", 1)  # the getUpdates long poll takes the only connection
    ch = channel(tg.url, tmp_path)
    await ch.start()
    try:
        await tg.wait_for(lambda t: t.calls_to("getUpdates"))
        error = await failure(ch, text("xin chào"))
        assert tg.calls_to("sendMessage") == []
        assert not tg.errors  # the long poll, with its own longer read timeout, was not cut short
    finally:
        await ch.close()
        ch.db.close()
    cause = error.__cause__
    assert isinstance(cause, TimedOut) and isinstance(cause.__cause__, PoolTimeout)
    assert (str(error).startswith("telegram timeout before sending: Pool timeout"), decision(error)) == (
        True, (False, False))


async def test_closing_the_channel_closes_the_session_and_every_connection(
        tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    ch = channel(tg.url, tmp_path)
    await ch.start()
    request = ch.app.bot.request
    assert isinstance(request, AiohttpRequest) and request.session is not None
    connector = request.session.connector
    assert connector is not None
    await tg.wait_for(lambda t: t.calls_to("getUpdates"))
    await ch.send(text("xin chào"))
    await ch.close()
    ch.db.close()
    assert (request.session, connector.closed, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                                               and "telegram" in t.get_name()]) == (None, True, [])


async def test_a_start_that_cannot_reach_telegram_leaves_no_session_open(tmp_path: Path) -> None:
    ch = channel(f"http://127.0.0.1:{free_port()}", tmp_path)
    with pytest.raises(StartError, match="cannot reach the Telegram Bot API"):
        await ch.start()
    ch.db.close()
    assert [r.session for r in ch.requests] == [None, None]


async def test_the_request_can_be_opened_again_after_a_shutdown(tg: FakeTelegram) -> None:  # noqa: F811
    request = AiohttpRequest(connection_pool_size=2, read_timeout=SHORT)
    url = f"{tg.url}/bot{tg.token}/getMe"
    with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps the RuntimeError
        await request.post(url)
    for _ in range(2):
        async with request:
            assert (await request.post(url))["is_bot"] is True  # type: ignore[index]
        assert request.session is None
    assert request.read_timeout == SHORT


def proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: str, no_proxy: str = "") -> None:
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, no_proxy)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@contextlib.asynccontextmanager
async def recording_proxy() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A plain HTTP proxy that answers every request itself with a Bot API "true" and refuses
    every CONNECT (a tunnel for https): (its host:port, the request heads it got)."""
    heads: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        heads.append(head)
        if head.startswith(b"CONNECT "):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
            return
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        body = b'{"ok":true,"result":true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}", heads
    finally:
        server.close()
        await server.wait_closed()


async def test_the_environments_proxy_is_used_with_its_credentials_as_httpx_used_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with recording_proxy() as (address, heads):
        proxy_env(monkeypatch, f"http://user:secret@{address}")
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:secret@{address}")
        monkeypatch.setenv("https_proxy", f"http://user:secret@{address}")
        async with AiohttpRequest(read_timeout=SHORT) as request:  # telegram.invalid resolves nowhere
            answer = await request.post("http://telegram.invalid/bot123:TOKEN/setMyCommands")
            with pytest.raises(NetworkError, match="403"):  # this proxy opens no tunnel
                await request.post("https://telegram.invalid/bot123:TOKEN/setMyCommands")
    plain, tunnel = [head.decode().split("\r\n") for head in heads]
    credentials = "Proxy-Authorization: Basic dXNlcjpzZWNyZXQ="  # user:secret
    assert (answer, plain[0], credentials in plain, tunnel[0], credentials in tunnel) == (
        True, "POST http://telegram.invalid/bot123:TOKEN/setMyCommands HTTP/1.1", True,
        "CONNECT telegram.invalid:443 HTTP/1.1", True)


async def test_hosts_in_no_proxy_are_reached_directly(
        tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    proxy_env(monkeypatch, f"http://127.0.0.1:{free_port()}", no_proxy="localhost,127.0.0.1")  # no proxy there
    async with AiohttpRequest(read_timeout=SHORT) as request:
        me = await request.post(f"{tg.url}/bot{tg.token}/getMe")
    assert me["is_bot"] is True  # type: ignore[index]


async def test_a_socks_proxy_is_refused_at_start_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy_env(monkeypatch, "socks5://127.0.0.1:1080")
    request = AiohttpRequest()
    with pytest.raises(RuntimeError) as refused:
        await request.initialize()
    assert str(refused.value) == ("the HTTP_PROXY environment variable names a socks5:// proxy; "
                                  "the Telegram channel can use only http:// proxies")
    assert request.session is None
