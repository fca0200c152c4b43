"""Live pages over real sockets: the chat's and the console's event streams, canned replies, FAQ answers sent.

Streams are read as a browser's EventSource reads them: events separated by
a blank line. Each official is a client of its own (its own cookie jar).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot import messages as msg
from bot.models import Reply
from bot.web.chat_pages import STREAMS_PER_CHAT
from tests import test_console
from tests.test_console import Console

WAIT = 10.0
local = test_console.local  # the console fixtures: a browser on this machine may chat unlinked, or not
remote = test_console.remote


class Official:
    """A browser chat of its own: its cookie, its CSRF token, its event stream."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.stream: aiohttp.ClientResponse | None = None

    def url(self, path: str) -> str:
        return str(self.console.client.make_url(path))

    async def open(self) -> None:
        page = await (await self.http.get(self.url("/chat"))).text()
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    async def listen(self) -> None:
        self.stream = await self.http.get(self.url("/chat/api/events"))
        assert (self.stream.status, self.stream.content_type) == (200, "text/event-stream")
        assert await self.event() == {"retry": "2000"}

    async def event(self, timeout: float = WAIT) -> dict[str, str]:
        """The next event on the stream (comments skipped), as its fields."""
        assert self.stream is not None
        while True:
            block = await asyncio.wait_for(self.stream.content.readuntil(b"\n\n"), timeout)
            fields = dict(line.split(": ", 1) for line in block.decode().strip().split("\n") if ": " in line
                          and not line.startswith(":"))
            if fields:
                return fields

    async def message(self) -> dict:
        fields = await self.event()
        assert fields["event"] == "message"
        return json.loads(fields["data"])

    async def say(self, text: str) -> None:
        response = await self.http.post(self.url("/chat/api/send"), data={"csrf": self.csrf, "text": text})
        assert response.status == 200, await response.text()

    async def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        await self.http.close()


@pytest.fixture
async def officials(local: Console) -> AsyncIterator[tuple[Official, Official]]:
    a, b = Official(local), Official(local)
    await a.open()
    await b.open()
    yield a, b
    await a.close()
    await b.close()


async def test_the_answer_reaches_the_chats_stream_and_no_other(officials: tuple[Official, Official]) -> None:
    a, b = officials
    await a.listen()
    await b.listen()
    await b.say("quên mật khẩu một cửa")
    mine = await b.message()
    answer = await b.message()
    await a.say("máy tính không nhận usb token")
    seen_by_a = [await a.message(), await a.message()]
    assert ((mine["from"], mine["text"]), answer["from"]) == (("me", "quên mật khẩu một cửa"), "bot")
    assert [(m["from"], m["text"] if m["from"] == "me" else m["text"].endswith(msg.ANSWER_FOOTER))
            for m in seen_by_a] == [("me", "máy tính không nhận usb token"), ("bot", True)]


async def test_a_stream_resumes_after_the_last_event_it_had(officials: tuple[Official, Official]) -> None:
    a, _ = officials
    await a.say("xin chào")
    first = (await (await a.http.get(a.url("/chat/api/messages?after=0"))).json())["messages"]
    a.stream = await a.http.get(a.url("/chat/api/events"), headers={"Last-Event-ID": str(first[0]["id"])})
    assert await a.event() == {"retry": "2000"}
    again = await a.message()
    assert again["id"] == first[1]["id"]


async def test_without_a_session_there_is_no_chat_stream(local: Console) -> None:
    assert (await local.client.get("/chat/api/events")).status == 403  # no cookie: nobody's chat


async def test_off_this_machine_an_unlinked_chat_gets_no_stream(remote: Console) -> None:
    unlinked = Official(remote)
    await unlinked.open()  # a session, but not linked to an official by a code from the bot
    refused = await unlinked.http.get(unlinked.url("/chat/api/events"))
    await unlinked.close()
    assert refused.status == 403


async def test_a_chat_may_hold_only_a_few_streams(officials: tuple[Official, Official]) -> None:
    a, _ = officials
    streams = [await a.http.get(a.url("/chat/api/events")) for _ in range(STREAMS_PER_CHAT)]
    extra = await a.http.get(a.url("/chat/api/events"))
    statuses = [s.status for s in streams] + [extra.status]
    for s in streams:
        s.close()
    assert statuses == [200] * STREAMS_PER_CHAT + [429]


def open_ticket(console: Console, description: str = "Không đăng nhập được một cửa") -> int:
    """An official registered on a web chat reports a problem (as the engine would, in one transaction)."""
    services = console.services

    def report() -> int:
        official = services.engine.people.identify("web", "b-official", "b-official")
        services.engine.people.update(official.id, status="active", full_name="Nguyễn Văn An",
                                      commune_id="xa-bat-xat")
        return services.engine.tickets.open_ticket(services.engine.people.get(official.id), "web", "motcua",
                                                   description, "normal", (), []).id

    return services.writer.call(report)


async def test_the_console_stream_is_for_staff_and_tells_of_a_new_ticket(local: Console) -> None:
    official = Official(local)
    await official.open()
    refused = await official.http.get(official.url("/console/api/events"))
    await official.close()
    await local.sign_in(role="technician")
    stream = await local.client.get("/console/api/events")
    await asyncio.wait_for(stream.content.readuntil(b"\n\n"), WAIT)  # retry line
    ticket_id = await asyncio.to_thread(open_ticket, local)
    block = (await asyncio.wait_for(stream.content.readuntil(b"\n\n"), WAIT)).decode()
    stream.close()
    event, data = block.strip().split("\n")
    assert (refused.status, event, json.loads(data.removeprefix("data: "))["ticket"],
            json.loads(data.removeprefix("data: "))["kind"]) == (403, "event: ticket", ticket_id, "created")


async def test_signing_out_ends_the_console_stream_at_once(local: Console) -> None:
    await local.sign_in(role="technician")
    stream = await local.client.get("/console/api/events")
    await asyncio.wait_for(stream.content.readuntil(b"\n\n"), WAIT)  # retry line
    csrf = await local.csrf("/console")
    signed_out = await local.client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    rest = await asyncio.wait_for(stream.content.read(), WAIT)  # the server ends the stream: read to its end
    again = await local.client.get("/console/api/events")
    assert (signed_out.status, rest, stream.content.at_eof(), again.status) == (302, b"", True, 403)


async def test_canned_replies_are_added_edited_deleted_and_offered_on_a_ticket(local: Console) -> None:
    assert (await local.client.get("/console/canned", allow_redirects=False)).status == 302  # needs a login
    await local.sign_in(role="technician")
    csrf = await local.csrf("/console/canned")
    await local.client.post("/console/canned", data={"csrf": csrf, "title": "Xoá cache",
                                                      "text": "Anh/chị xoá cache trình duyệt rồi thử lại."})
    await local.client.post("/console/canned", data={"csrf": csrf, "title": "Cài lại driver",
                                                      "text": "Cài lại driver token."})
    rows = {r["title"]: r["id"] for r in local.services.db["canned_replies"].rows}
    await local.client.post("/console/canned", data={"csrf": csrf, "id": str(rows["Xoá cache"]),
                                                      "title": "Xoá cache", "text": "Xoá cache, thử lại <b>ngay</b>."})
    await local.client.post(f"/console/canned/{rows['Cài lại driver']}/delete", data={"csrf": csrf})
    forged = await local.client.post("/console/canned", data={"csrf": "x", "title": "a", "text": "b"})
    ticket_id = await asyncio.to_thread(open_ticket, local)
    page = await (await local.client.get(f"/console/ticket/{ticket_id}")).text()
    assert [(r["title"], r["text"]) for r in local.services.db["canned_replies"].rows] == [
        ("Xoá cache", "Xoá cache, thử lại <b>ngay</b>.")]
    assert (forged.status, 'data-text="Xoá cache, thử lại &lt;b&gt;ngay&lt;/b&gt;."' in page) == (403, True)


async def test_a_faq_entry_sent_from_a_ticket_reaches_the_official_as_the_bot_renders_it(local: Console) -> None:
    services = local.services
    ticket_id = await asyncio.to_thread(open_ticket, local)
    await local.sign_in(role="technician")
    page = await (await local.client.get(f"/console/ticket/{ticket_id}?faq=token+khong+nhan")).text()
    offered = re.findall(r'name="entry_id" value="([^"]+)"', page)
    entry = services.faq.kb.entry("cks-token-khong-nhan")
    assert entry is not None and entry.id in offered
    csrf = await local.csrf(f"/console/ticket/{ticket_id}")
    response = await local.client.post(f"/console/ticket/{ticket_id}/send-faq",
                                       data={"csrf": csrf, "entry_id": entry.id}, allow_redirects=False)
    delivered = [Reply.from_json(r["payload"]).text for r in services.db["web_messages"].rows_where(
        "chat_ref = 'b-official'")]
    answer = services.faq.kb.render(entry.answer).rstrip()
    pointer = next(line for line in answer.splitlines() if '"Gặp kỹ thuật viên"' in line)
    rendered = msg.FAQ_FROM_TECHNICIAN.format(question=entry.question,
                                              answer=answer.replace(pointer + "\n", "").replace(pointer, "").rstrip())
    assert (response.status, delivered[-1]) == (302, msg.TECHNICIAN_SAYS.format(code=f"#{ticket_id}", text=rendered))


async def test_a_transfer_shows_the_teams_name_not_its_id(local: Console) -> None:
    ticket_id = await asyncio.to_thread(open_ticket, local)
    await local.sign_in(role="technician")
    csrf = await local.csrf(f"/console/ticket/{ticket_id}")
    page = await (await local.client.get(f"/console/ticket/{ticket_id}")).text()
    assert '"cong-an-xa" >Công an xã (VNeID, dữ liệu dân cư)</option>' in page
    await local.client.post(f"/console/ticket/{ticket_id}/transfer", data={"csrf": csrf, "queue": "cong-an-xa"})
    live = await (await local.client.get(f"/console/ticket/{ticket_id}?part=live")).text()
    assert msg.EVENT_TRANSFERRED.format(queue="Công an xã (VNeID, dữ liệu dân cư)") in live


async def test_a_ticket_written_by_another_process_reaches_the_console_stream_too(local: Console) -> None:
    await local.sign_in(role="technician")
    stream = await local.client.get("/console/api/events")
    await asyncio.wait_for(stream.content.readuntil(b"\n\n"), WAIT)  # retry line
    services = local.services
    with services.db.atomic():  # not through the writer thread: as `python -m bot tickets …` beside the server
        official = services.people.identify("test", "an", "an")
        services.people.update(official.id, status="active", commune_id="xa-bat-xat")
        ticket = services.tickets.open_ticket(services.people.get(official.id), "test", "motcua", "Lỗi", "normal",
                                              (), [])
    block = (await asyncio.wait_for(stream.content.readuntil(b"\n\n"), WAIT)).decode()
    stream.close()
    assert json.loads(block.split("data: ", 1)[1])["ticket"] == ticket.id
