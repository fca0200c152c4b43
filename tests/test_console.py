"""The web console's routes, through aiohttp's test client: roles, CSRF, login, uploads, escaping."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bot import messages as msg
from bot.app import Services, build_services
from bot.desk.accounts import Accounts, check_password, hash_password
from bot.knowledge.editing import _insert_variant
from bot.store.outbox import OutboxWorker
from bot.web.console import console_routes
from bot.web.server import create_web_app
from tests.browser import tiny_png
from tests.harness import REPO, Clock, config_file, make_config

PNG = tiny_png(3, 2)  # a whole, decodable image (a broken one is refused now)


class Console:
    def __init__(self, services: Services, client: TestClient, worker: OutboxWorker) -> None:
        self.services, self.client, self.worker = services, client, worker

    async def csrf(self, path: str = "/chat") -> str:
        page = await (await self.client.get(path)).text()
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    async def sign_in(self, username: str = "quantri", role: str = "admin") -> None:
        """Make a console account and log in with it through the login form, as a person would."""
        Accounts(self.services.db, self.services.people, self.services.clock).add(username, "mat-khau-dai", role)
        csrf = await self.csrf("/login")
        response = await self.client.post("/login", data={"csrf": csrf, "username": username,
                                                          "password": "mat-khau-dai"}, allow_redirects=False)
        assert response.status == 302, await response.text()

    async def say(self, text: str) -> list[dict]:
        csrf = await self.csrf()
        response = await self.client.post("/chat/api/send", data={"csrf": csrf, "text": text})
        assert response.status == 200, await response.text()
        await self.worker.run_once()
        return (await (await self.client.get("/chat/api/messages?after=0")).json())["messages"]


async def make_console(tmp_path: Path, local: bool, knowledge: Path | None = None) -> AsyncIterator[Console]:
    """The console app as the runner assembles it; `local`: a browser on this machine may chat unlinked."""
    config = make_config(tmp_path)
    if knowledge is not None:
        config = dataclasses.replace(config, knowledge_dir=knowledge)
    services = build_services(config, Clock())
    routes, sender, _ = console_routes(services, local)
    app = create_web_app(dict, [])
    app.add_routes(routes)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Console(services, client, OutboxWorker(services.db, {"web": sender}, services.clock))
    finally:
        await client.close()
        services.db.close()


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[Console]:
    async for console in make_console(tmp_path, local=True):
        yield console


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[Console]:
    async for console in make_console(tmp_path, local=False):
        yield console


async def test_the_browser_chat_answers_a_question(local: Console) -> None:
    messages = await local.say("máy tính không nhận usb token, báo không tìm thấy chứng thư số")
    assert [m["from"] for m in messages] == ["me", "bot"]
    assert messages[1]["text"].endswith(msg.ANSWER_FOOTER)
    assert [c["label"] for c in messages[1]["choices"]] == [msg.CHOICE_SOLVED, msg.CHOICE_NOT_RIGHT, msg.CHOICE_TECHNICIAN]


async def test_a_post_without_the_csrf_token_is_refused(local: Console) -> None:
    await local.client.get("/chat")
    response = await local.client.post("/chat/api/send", data={"text": "xin chào"})
    assert response.status == 403
    assert local.services.db["query_log"].count == 0
    response = await local.client.post("/chat/api/send", data={"text": "xin chào", "csrf": "forged"})
    assert response.status == 403


async def test_the_session_cookie_is_httponly_and_samesite(local: Console) -> None:
    response = await local.client.get("/chat")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_only_images_of_limited_size_are_accepted(local: Console) -> None:
    csrf = await local.csrf()
    form = FormData({"csrf": csrf})
    form.add_field("photo", b"#!/bin/sh\nrm -rf /", filename="x.png", content_type="image/png")
    response = await local.client.post("/chat/api/send", data=form)
    assert (response.status, (await response.json())["error"]) == (400, msg.WEB_BAD_UPLOAD)
    form = FormData({"csrf": csrf})
    form.add_field("photo", PNG, filename="shot.png", content_type="image/png")
    assert (await local.client.post("/chat/api/send", data=form)).status == 200
    (ref,) = [p for m in (await (await local.client.get("/chat/api/messages")).json())["messages"] for p in m["photos"]]
    image = await local.client.get(ref)
    assert (image.status, image.content_type, image.headers["X-Content-Type-Options"]) == (200, "image/png", "nosniff")
    assert Image.open(io.BytesIO(await image.read())).size == (3, 2)  # re-encoded: the same picture, a new file
    assert (await local.client.get("/files/..%2f..%2fbot.sqlite")).status == 404


async def test_technician_pages_escape_what_officials_typed(local: Console) -> None:
    services = local.services
    with services.db.atomic():
        official = services.people.identify("web", "x", "x")
        services.people.update(official.id, status="active", full_name="<b>An</b>", commune_id="xa-bat-xat")
        services.tickets.open_ticket(services.people.get(official.id), "web", "motcua",
                                     "<script>alert(1)</script>", "normal", (), [])
    await local.sign_in(role="technician")
    page = await (await local.client.get("/console/ticket/1")).text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    queue = await (await local.client.get("/console")).text()
    assert 'tr class="ticket" data-id="1"' in queue


async def test_a_reply_from_the_console_reaches_the_official(local: Console) -> None:
    services = local.services
    with services.db.atomic():
        official = services.people.identify("test", "an", "an")
        services.people.update(official.id, status="active", commune_id="xa-bat-xat")
        services.tickets.open_ticket(services.people.get(official.id), "test", "motcua", "Lỗi", "normal", (), [])
    await local.sign_in(role="technician")
    csrf = await local.csrf("/console/ticket/1")
    response = await local.client.post("/console/ticket/1/claim", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 302
    await local.client.post("/console/ticket/1/reply", data={"csrf": csrf, "text": "Anh thử lại"})
    rows = [r for r in services.db["outbox"].rows if r["chat_ref"] == "an"]
    assert "Anh thử lại" in rows[-1]["payload"]
    assert services.tickets.get(1).status == "assigned"


async def test_off_localhost_the_console_needs_a_login(remote: Console) -> None:
    response = await remote.client.get("/console", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login?next=/console")
    Accounts(remote.services.db, remote.services.people, remote.services.clock).add("ktv1", "mat-khau-dai", "technician")
    csrf = await remote.csrf("/login")
    bad = await remote.client.post("/login", data={"csrf": csrf, "username": "ktv1", "password": "sai"})
    assert "Sai tên đăng nhập hoặc mật khẩu." in await bad.text()
    ok = await remote.client.post("/login", data={"csrf": csrf, "username": "ktv1", "password": "mat-khau-dai"},
                                  allow_redirects=False)
    assert ok.status == 302
    assert (await remote.client.get("/console")).status == 200
    assert (await remote.client.get("/admin")).status == 403  # a technician is not an admin


async def test_off_localhost_the_chat_needs_a_code_from_the_bot(remote: Console) -> None:
    page = await (await remote.client.get("/chat")).text()
    assert msg.WEB_LINK_NEEDED in page
    assert (await remote.client.get("/chat/api/messages")).status == 403
    services = remote.services
    with services.db.atomic():
        official = services.people.identify("telegram", "42", "42")
        services.people.update(official.id, status="active", full_name="Nguyễn Văn An")
    code = Accounts(services.db, services.people, services.clock).link_code(official.id)
    csrf = await remote.csrf()
    assert "Thử lại" in await (await remote.client.post("/chat/link", data={"csrf": csrf, "code": "0000-0000"})).text()
    await remote.client.post("/chat/link", data={"csrf": csrf, "code": code})
    messages = await remote.say("/yeucau")
    assert messages[-1]["text"] == msg.NO_TICKETS
    linked = [i.channel for i in services.people.identities(official.id)]
    assert sorted(linked) == ["telegram", "web"]


def test_passwords_are_hashed_with_a_salt() -> None:
    first, second = hash_password("mat-khau-dai"), hash_password("mat-khau-dai")
    assert first != second and first.startswith("scrypt$")
    assert check_password("mat-khau-dai", first) and not check_password("mat-khau-sai", first)


def test_a_variant_is_inserted_in_each_yaml_style() -> None:
    block = ["  - id: a\n", "    question: Câu hỏi\n", "    variants:\n", "      - Cách khác\n", "    answer: x\n"]
    assert _insert_variant(list(block), 1, "mới")[4] == '      - "mới"\n'
    flow = ["  - id: a\n", "    question: Câu hỏi\n", "    variants: [Cách khác]\n", "    answer: x\n"]
    assert _insert_variant(list(flow), 1, "mới")[2] == '    variants: [Cách khác, "mới"]\n'
    none = ["  - id: a\n", "    question: Câu hỏi\n", "    answer: x\n"]
    assert _insert_variant(list(none), 1, "mới")[2:4] == ["    variants:\n", '      - "mới"\n']


async def test_adding_an_unanswered_question_as_a_variant_answers_it_next_time(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    async for console in make_console(tmp_path, local=True, knowledge=knowledge):
        question = "không gõ được dấu hỏi ngã"
        assert (await console.say(question))[-1]["text"] == msg.NO_MATCH
        await console.sign_in()
        admin = await (await console.client.get("/admin")).text()
        assert question in admin
        csrf = await console.csrf("/admin")
        await console.client.post("/admin/variant", data={"csrf": csrf, "entry_id": "may-go-tieng-viet", "text": question})
        assert question in (knowledge / "national" / "faq" / "may.yaml").read_text(encoding="utf-8")
        assert (await console.say(question))[-1]["text"].endswith(msg.ANSWER_FOOTER)
        assert question not in await (await console.client.get("/admin")).text()  # answered now: off the list
        # A variant another entry already has is refused, and the file is left as it was.
        before = (knowledge / "national" / "faq" / "may.yaml").read_text(encoding="utf-8")
        response = await console.client.post("/admin/variant", data={
            "csrf": csrf, "entry_id": "may-in-khong-in", "text": question})
        assert "Chưa thêm được" in await response.text()
        assert (knowledge / "national" / "faq" / "may.yaml").read_text(encoding="utf-8") == before


async def test_admin_lists_entries_never_reviewed_or_reviewed_over_a_year_ago(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    may = knowledge / "national" / "faq" / "may.yaml"
    text = may.read_text(encoding="utf-8")
    text = text.replace("  - id: may-chay-cham\n", "  - id: may-chay-cham\n    reviewed: 2024-03-01 Trung tâm CNTT\n")
    text = text.replace("  - id: may-in-ket-giay\n", "  - id: may-in-ket-giay\n    reviewed: 2026-11-01 Trung tâm CNTT\n")
    may.write_text(text, encoding="utf-8")
    async for console in make_console(tmp_path, local=True, knowledge=knowledge):
        await console.sign_in()
        page = await (await console.client.get("/admin")).text()
        reviews = page[page.index('<div id="reviews">'):]
        total = len(console.services.faq.kb.entries)
        assert f"<p>{total - 2} mục chưa từng rà soát, 1 mục rà soát quá 1 năm" in reviews
        assert "<code>may-chay-cham</code>" not in reviews  # only the first 30, never-reviewed first
        assert "<code>may-in-ket-giay</code>" not in reviews
        assert f"… và {total - 1 - 30} mục nữa" in reviews


async def test_run_with_no_token_serves_the_console_until_stopped(tmp_path: Path) -> None:
    import asyncio
    import os
    import signal
    import sys

    import aiohttp

    from tests.test_telegram import free_port

    port = free_port()
    config = config_file(tmp_path, port=port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config), env={**env, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)  # type: ignore[union-attr]
        while b"Web console" not in line:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)  # type: ignore[union-attr]
        assert line.decode().strip() == f"Web console: http://127.0.0.1:{port}/chat  (Ctrl+C to stop)"
        # A first start: the one-time link that signs the operator in to create the admin account.
        setup = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()  # type: ignore[union-attr]
        link = re.search(r"open (http://\S+) once", setup).group(1)  # type: ignore[union-attr]
        assert link.startswith(f"http://127.0.0.1:{port}/setup?token=")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # keeps cookies, as browsers do
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert (resp.status, (await resp.json())["channels"]) == (200, ["web"])
            async with http.get(f"http://127.0.0.1:{port}/chat") as resp:
                assert resp.status == 200 and 'id="send-form"' in await resp.text()
            async with http.get(f"http://127.0.0.1:{port}/admin", allow_redirects=False) as resp:
                assert (resp.status, resp.headers["Location"]) == (302, "/login?next=/admin")
            async with http.get(link) as resp:
                assert (resp.status, str(resp.url), 'id="setup"' in await resp.text()) == (
                    200, f"http://127.0.0.1:{port}/setup", True)
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0
    assert (tmp_path / "data" / "bot.sqlite").exists()
