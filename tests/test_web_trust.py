"""Explicit trust on the web: a login wherever the server is bound, the first-start link, limits on
guessing, the client's address behind proxies, safe files served only to whom they belong."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from PIL import Image

from bot import messages as msg
from bot.app import Services, build_services
from bot.config import ConfigError, WebConfig, load_config
from bot.desk.accounts import (
    LINK_CODE_ALPHABET,
    LINK_CODE_LENGTH,
    LINK_CODE_MINUTES,
    Accounts,
    hash_password,
)
from bot.runner import start, stop
from bot.store.attachments import MAX_PIXELS, UnsafeImage, sanitise_image
from bot.web.console import LINK_PER_CLIENT, Console, console_routes
from bot.web.limits import Attempts
from bot.web.server import TELEGRAM_WEBHOOK_PATH, create_web_app, telegram_webhook
from bot.web.trust import PAGE_POLICY, client_address, parse_networks
from tests.browser import tiny_png
from tests.harness import Clock, make_config
from tests.test_telegram import free_port

PASSWORD = "mat-khau-dai"


@dataclass
class Site:
    services: Services
    console: Console
    client: TestClient
    clock: Clock

    def accounts(self) -> Accounts:
        return Accounts(self.services.db, self.services.people, self.services.clock)

    async def csrf(self, path: str = "/chat", client: TestClient | aiohttp.ClientSession | None = None) -> str:
        http = client or self.client
        url = path if http is self.client else self.client.make_url(path)
        async with http.get(url) as response:
            page = await response.text()
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    async def login(self, username: str, password: str, forwarded_for: str | None = None) -> aiohttp.ClientResponse:
        csrf = await self.csrf("/login")
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        return await self.client.post("/login", data={"csrf": csrf, "username": username, "password": password},
                                      headers=headers, allow_redirects=False)

    async def upload(self, data: bytes, filename: str = "anh.png", content_type: str = "image/png") -> aiohttp.ClientResponse:
        form = FormData({"csrf": await self.csrf()})
        form.add_field("photo", data, filename=filename, content_type=content_type)
        return await self.client.post("/chat/api/send", data=form)

    async def my_photos(self) -> list[str]:
        messages = (await (await self.client.get("/chat/api/messages")).json())["messages"]
        return [p for m in messages for p in m["photos"]]


async def serve(tmp_path: Path, web: WebConfig | None = None, open_chat: bool = True) -> AsyncIterator[Site]:
    """The console app as the runner assembles it, on a real socket, with a clock the test moves."""
    config = make_config(tmp_path)
    if web is not None:
        config = dataclasses.replace(config, web=web)
    clock = Clock()
    services = build_services(config, clock)
    routes, _, console = console_routes(services, open_chat)
    app = create_web_app(dict, [])
    app.add_routes(routes)
    port = free_port()
    # Behind an https proxy the browser speaks https: its cookie jar sends Secure cookies to us.
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[f"http://127.0.0.1:{port}"])
    client = TestClient(TestServer(app, port=port), cookie_jar=jar)
    await client.start_server()
    try:
        yield Site(services, console, client, clock)
    finally:
        await client.close()
        services.db.close()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async for s in serve(tmp_path):
        yield s


@pytest.fixture
async def behind_proxy(tmp_path: Path) -> AsyncIterator[Site]:
    """Behind nginx on this machine: it is trusted to say who the client is."""
    async for s in serve(tmp_path, WebConfig(public_url="https://hotro.example.vn", trusted_proxies=("127.0.0.1",)),
                         open_chat=False):
        yield s


def new_browser(site: Site) -> aiohttp.ClientSession:
    """Another person's browser: its own cookie jar."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


# -- a login wherever the server is bound -----------------------------------------------------------

async def test_bound_to_loopback_without_a_login_the_console_and_admin_redirect_to_login(tmp_path: Path) -> None:
    port = free_port()
    config = dataclasses.replace(make_config(tmp_path), web=WebConfig(host="127.0.0.1", port=port))
    services = build_services(config)
    running = await start(services, {})
    try:
        async with aiohttp.ClientSession() as http:
            seen = []
            for method, path in (("GET", "/console"), ("GET", "/admin"), ("GET", "/console/ticket/1"),
                                 ("POST", "/admin/reload"), ("POST", "/console/ticket/1/claim")):
                async with http.request(method, f"http://127.0.0.1:{port}{path}", allow_redirects=False) as r:
                    seen.append((r.status, r.headers.get("Location")))
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                headers = r.headers
    finally:
        await stop(running)
        services.db.close()
    assert seen == [(302, "/login?next=/console"), (302, "/login?next=/admin"),
                    (302, "/login?next=/console/ticket/1"), (302, "/login?next=/admin/reload"),
                    (302, "/login?next=/console/ticket/1/claim")]
    assert (headers["X-Content-Type-Options"], headers["X-Frame-Options"], headers["Content-Security-Policy"]) == (
        "nosniff", "DENY", PAGE_POLICY)
    assert running.setup_link is not None and running.setup_link.startswith(f"http://127.0.0.1:{port}/setup?token=")


async def test_the_first_start_link_signs_in_once_and_not_twice(site: Site) -> None:
    link = site.console.setup_link("")
    assert link is not None and len(link.removeprefix("/setup?token=")) >= 43  # 256 random bits
    first = await site.client.get(link, allow_redirects=False)
    assert (first.status, first.headers["Location"]) == (302, "/setup")  # the token leaves the address bar
    assert 'id="setup"' in await (await site.client.get("/setup")).text()
    reopened = await site.client.get(link, allow_redirects=False)  # the operator's own browser, again: the form
    assert (reopened.status, reopened.headers["Location"]) == (302, "/setup")

    async with new_browser(site) as other:
        for path in (link, "/setup"):
            async with other.get(site.client.make_url(path), allow_redirects=False) as again:
                assert (again.status, msg.SETUP_LINK_USED in await again.text()) == (403, True)

    csrf = await site.csrf("/setup")
    made = await site.client.post("/setup", data={"csrf": csrf, "username": "quantri", "password": PASSWORD,
                                                  "again": PASSWORD}, allow_redirects=False)
    assert (made.status, made.headers["Location"]) == (302, "/admin")
    assert (await site.client.get("/admin")).status == 200  # signed in as the new admin
    assert site.accounts().login("quantri", PASSWORD)
    assert site.console.setup_link("") is None
    restarted = console_routes(site.services, True)[2]
    assert restarted.setup_link("") is None  # an admin exists: the next start prints no link


async def test_the_setup_form_checks_what_it_is_given(site: Site) -> None:
    await site.client.get(site.console.setup_link("") or "")
    csrf = await site.csrf("/setup")
    problems = []
    for username, password, again in (("có dấu", PASSWORD, PASSWORD), ("quantri", "ngan", "ngan"),
                                      ("quantri", PASSWORD, PASSWORD + "x")):
        page = await (await site.client.post("/setup", data={"csrf": csrf, "username": username,
                                                             "password": password, "again": again})).text()
        problems.append(re.search(r'<p class="error" id="setup-error"[^>]*>([^<]+)</p>', page).group(1))  # type: ignore[union-attr]
    assert problems == [msg.SETUP_BAD_NAME, msg.SETUP_SHORT_PASSWORD, msg.SETUP_PASSWORDS_DIFFER]
    assert not site.accounts().has_admin()


async def test_an_account_made_on_the_command_line_ends_the_setup_link(site: Site) -> None:
    link = site.console.setup_link("") or ""
    site.accounts().add("quantri", PASSWORD, "admin")  # python -m bot users add quantri --role admin
    page = await (await site.client.get(link)).text()
    assert msg.SETUP_DONE_ALREADY in page
    assert (await site.login("quantri", PASSWORD)).status == 302


# -- limits on guessing ------------------------------------------------------------------------------

async def test_after_five_wrong_passwords_the_client_is_refused_for_a_while(site: Site) -> None:
    site.accounts().add("ktv1", PASSWORD, "technician")
    wrong = [msg.LOGIN_FAILED in await (await site.login("ktv1", f"doan-{i}")).text() for i in range(5)]
    assert wrong == [True] * 5
    refused = await site.login("ktv1", PASSWORD)  # right, but too late
    assert (refused.status, refused.headers["Retry-After"]) == (429, "60")
    assert msg.WEB_TOO_MANY_ATTEMPTS.format(minutes=1) in await refused.text()
    site.clock.advance(seconds=59)
    assert (await site.login("ktv1", PASSWORD)).status == 429
    site.clock.advance(seconds=2)
    assert (await site.login("ktv1", PASSWORD)).status == 302
    for i in range(5):  # again: the lockout doubles
        await site.login("ktv1", f"lai-doan-{i}")
    again = await site.login("ktv1", PASSWORD)
    assert (again.status, msg.WEB_TOO_MANY_ATTEMPTS.format(minutes=2) in await again.text()) == (429, True)


async def test_an_account_is_locked_whichever_address_guesses_it(behind_proxy: Site) -> None:
    site = behind_proxy
    site.accounts().add("quantri", PASSWORD, "admin")
    site.accounts().add("ktv1", PASSWORD, "technician")
    for i in range(10):  # two guesses from each of five addresses: no address reaches its own limit
        assert (await site.login("quantri", f"doan-{i}", forwarded_for=f"203.0.113.{i // 2}")).status == 200
    refused = await site.login("quantri", PASSWORD, forwarded_for="198.51.100.7")
    assert (refused.status, msg.WEB_TOO_MANY_ATTEMPTS.format(minutes=5) in await refused.text()) == (429, True)
    assert (await site.login("ktv1", PASSWORD, forwarded_for="203.0.113.1")).status == 302  # other accounts: fine


async def test_forwarded_for_from_a_client_that_is_not_a_trusted_proxy_is_ignored(site: Site) -> None:
    site.accounts().add("ktv1", PASSWORD, "technician")
    for i in range(5):
        await site.login("ktv1", f"doan-{i}", forwarded_for=f"203.0.113.{i}")  # a new "address" each time
    assert (await site.login("nguoi-khac", PASSWORD, forwarded_for="198.51.100.7")).status == 429


def test_the_client_is_the_first_address_a_trusted_proxy_did_not_add() -> None:
    proxies = parse_networks(["127.0.0.1", "10.0.0.0/8"])

    def client(peer: str, forwarded: str | None) -> str:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        request = make_mocked_request("GET", "/", headers=headers)
        request = request.clone(remote=peer)
        return client_address(request, proxies)

    assert client("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3") == "203.0.113.9"  # the left part is the client's word
    assert client("127.0.0.1", None) == "127.0.0.1"
    assert client("127.0.0.1", "not-an-address") == "127.0.0.1"
    assert client("198.51.100.7", "203.0.113.9") == "198.51.100.7"  # not a proxy of ours: its header is ignored


async def test_wrong_link_codes_are_refused_for_a_while(tmp_path: Path) -> None:
    async for site in serve(tmp_path, open_chat=False):
        services = site.services
        with services.db.atomic():
            official = services.people.identify("telegram", "42", "42")
            services.people.update(official.id, status="active", full_name="Nguyễn Văn An")
        code = site.accounts().link_code(official.id)
        assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code)
        csrf = await site.csrf()
        for guess in ("2222-2222", "3333-3333", "4444-4444", "5555-5555", "6666-6666"):
            page = await (await site.client.post("/chat/link", data={"csrf": csrf, "code": guess})).text()
            assert msg.WEB_LINK_BAD in page
        refused = await site.client.post("/chat/link", data={"csrf": csrf, "code": code}, allow_redirects=False)
        assert (refused.status, msg.WEB_TOO_MANY_ATTEMPTS.format(minutes=1) in await refused.text()) == (429, True)
        site.clock.advance(minutes=1, seconds=1)
        typed = code.lower().replace("-", " ")  # as typed on a phone
        linked = await site.client.post("/chat/link", data={"csrf": csrf, "code": typed}, allow_redirects=False)
        assert (linked.status, linked.headers["Location"]) == (302, "/chat")
        assert (await site.client.get("/chat/api/messages")).status == 200


# -- safe files --------------------------------------------------------------------------------------

def jpeg_with_location(width: int = 4, height: int = 2, orientation: int = 1) -> bytes:
    """A phone photo: EXIF with the maker, the orientation and a GPS position (Lào Cai)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (22.0, 29.0, 0.0), 3: "E", 4: (103.0, 58.0, 0.0)})
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def gif_with_html(trailer: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("P", (3, 3), 1).save(out, "GIF")
    return out.getvalue() + trailer


WAV_AS_WEBP = b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + bytes(24)
HTML_AS_GIF = b"GIF89a/*<html><script>alert(document.cookie)</script></html>*/"


async def test_a_polyglot_and_a_fake_webp_are_refused(site: Site) -> None:
    answers = []
    for data, name, kind in ((HTML_AS_GIF, "x.gif", "image/gif"), (WAV_AS_WEBP, "x.webp", "image/webp")):
        response = await site.upload(data, name, kind)
        answers.append((response.status, (await response.json())["error"]))
    assert answers == [(400, msg.WEB_BAD_UPLOAD)] * 2
    assert await site.my_photos() == []
    assert list(site.console.files.folder.glob("*")) == []  # nothing stored, not even a part


async def test_a_real_gif_carrying_html_is_stored_as_its_pixels_only(site: Site) -> None:
    assert (await site.upload(gif_with_html(b"<script>alert(1)</script>"), "x.gif", "image/gif")).status == 200
    (ref,) = await site.my_photos()
    stored = await (await site.client.get(ref)).read()
    assert ref.endswith(".png") and b"<script" not in stored
    assert Image.open(io.BytesIO(stored)).size == (3, 3)


async def test_exif_and_its_location_are_gone_after_upload(site: Site) -> None:
    photo = jpeg_with_location(4, 2, orientation=6)  # taken sideways: shown turned a quarter
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)[1] == "N"
    assert (await site.upload(photo, "anh.jpg", "image/jpeg")).status == 200
    (ref,) = await site.my_photos()
    stored = await (await site.client.get(ref)).read()
    image = Image.open(io.BytesIO(stored))
    assert (image.format, dict(image.getexif()), image.info.get("exif")) == ("JPEG", {}, None)
    assert b"PhoneMaker" not in stored and b"Exif" not in stored
    assert image.size == (2, 4)  # the rotation EXIF asked for is applied before EXIF is dropped


def test_too_many_pixels_are_refused_from_the_header() -> None:
    out = io.BytesIO()
    Image.new("1", (6000, 4001)).save(out, "PNG")  # 24,006,000 pixels, a few kilobytes
    assert 6000 * 4001 > MAX_PIXELS and len(out.getvalue()) < 100_000
    with pytest.raises(UnsafeImage, match="6000x4001 pixels"):
        sanitise_image(out.getvalue())
    with pytest.raises(UnsafeImage, match="larger than"):
        sanitise_image(tiny_png() + bytes(5 * 1024 * 1024))


async def test_an_attachment_is_served_only_to_staff_and_to_its_chat(site: Site) -> None:
    assert (await site.upload(tiny_png(5, 5))).status == 200
    (ref,) = await site.my_photos()
    own = await site.client.get(ref)
    assert (own.status, own.headers["X-Content-Type-Options"], own.headers["Content-Security-Policy"]) == (
        200, "nosniff", "default-src 'none'; img-src 'self'; sandbox")
    async with aiohttp.ClientSession() as stranger:
        async with stranger.get(site.client.make_url(ref)) as response:
            assert (response.status, await response.text()) == (403, msg.FILE_NOT_ALLOWED)
    async with new_browser(site) as other_chat:
        await other_chat.get(site.client.make_url("/chat"))  # has a session, chats too: not their photo
        async with other_chat.get(site.client.make_url(ref)) as response:
            assert response.status == 403
    site.accounts().add("ktv1", PASSWORD, "technician")
    async with new_browser(site) as technician:
        csrf = await site.csrf("/login", technician)
        await technician.post(site.client.make_url("/login"), data={"csrf": csrf, "username": "ktv1",
                                                                    "password": PASSWORD})
        async with technician.get(site.client.make_url(ref)) as response:
            assert (response.status, response.content_type) == (200, "image/png")
    assert (await site.client.get("/files/" + "0" * 24 + ".png")).status == 403  # no existence hint


async def test_the_official_sees_their_ticket_photos_from_a_newly_linked_browser(tmp_path: Path) -> None:
    async for site in serve(tmp_path, open_chat=False):
        services = site.services
        ref = site.console.files.save_image(tiny_png(2, 2))  # the sanitiser, as a channel would call it
        with services.db.atomic():
            official = services.people.identify("telegram", "42", "42")
            services.people.update(official.id, status="active", full_name="Nguyễn Văn An", commune_id="xa-bat-xat")
            services.tickets.open_ticket(services.people.get(official.id), "telegram", "motcua", "Lỗi", "normal",
                                         (ref,), [])
        assert (await site.client.get(ref)).status == 403  # not linked yet: nobody
        code = site.accounts().link_code(official.id)
        await site.client.post("/chat/link", data={"csrf": await site.csrf(), "code": code})
        assert (await site.client.get(ref)).status == 200


# -- behind a proxy ------------------------------------------------------------------------------------

async def test_behind_an_https_public_url_the_session_cookie_is_secure(behind_proxy: Site, tmp_path: Path) -> None:
    chat = await behind_proxy.client.get("/chat")
    assert "; Secure" in chat.headers["Set-Cookie"] and "HttpOnly" in chat.headers["Set-Cookie"]
    behind_proxy.accounts().add("ktv1", PASSWORD, "technician")
    login = await behind_proxy.login("ktv1", PASSWORD)
    assert login.status == 302 and "; Secure" in login.headers["Set-Cookie"]
    async for plain in serve(tmp_path / "plain"):
        assert "Secure" not in (await plain.client.get("/chat")).headers["Set-Cookie"]


async def test_behind_a_proxy_a_browser_must_link_its_chat(behind_proxy: Site) -> None:
    page = await (await behind_proxy.client.get("/chat")).text()
    assert msg.WEB_LINK_NEEDED in page and 'id="send-form"' not in page


async def test_a_relayed_request_does_not_get_the_open_local_chat(site: Site) -> None:
    assert 'id="send-form"' in await (await site.client.get("/chat")).text()
    relayed = await (await site.client.get("/chat", headers={"X-Forwarded-For": "203.0.113.9"})).text()
    assert msg.WEB_LINK_NEEDED in relayed


@pytest.mark.parametrize(("text", "message"), [
    ("web:\n  public_url: hotro.example.vn\n",
     "web.public_url: expected an address like https://hotro.example.vn, got 'hotro.example.vn'"),
    ("web:\n  trusted_proxies: [nginx]\n",
     "web.trusted_proxies[0]: expected an IP address or network like 10.0.0.0/8, got 'nginx'"),
])
def test_proxy_settings_are_checked_and_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == message


# -- hashing off the event loop ------------------------------------------------------------------------

async def test_a_login_flood_does_not_stall_the_server(behind_proxy: Site) -> None:
    """Eight logins at once, each from its own address: /healthz keeps answering in a fraction of one hash."""
    site = behind_proxy
    started = time.perf_counter()
    await asyncio.to_thread(hash_password, PASSWORD)
    one_hash = time.perf_counter() - started  # the baseline, measured in this run
    csrf = await site.csrf("/login")
    flood = [asyncio.create_task(site.client.post(
        "/login", data={"csrf": csrf, "username": f"khong-co-{i}", "password": "x" * 12},
        headers={"X-Forwarded-For": f"203.0.113.{i}"})) for i in range(8)]
    latencies = []
    while not all(task.done() for task in flood):
        started = time.perf_counter()
        await (await site.client.get("/healthz")).read()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    assert [(await task).status for task in flood] == [200] * 8
    assert len(latencies) >= 3 and statistics.median(latencies) < one_hash / 3, (latencies, one_hash)


async def test_a_refused_webhook_is_logged_with_the_client_the_proxy_names(caplog: pytest.LogCaptureFixture) -> None:
    async def never(update: dict) -> None:
        raise AssertionError("a request without the secret must not be processed")

    app = create_web_app(dict, [(TELEGRAM_WEBHOOK_PATH, telegram_webhook(never, "bi-mat"))],
                         parse_networks(["127.0.0.1"]))
    async with TestClient(TestServer(app)) as client:
        response = await client.post(TELEGRAM_WEBHOOK_PATH, json={"update_id": 1},
                                     headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status == 403
    assert [r.getMessage() for r in caplog.records if r.name == "bot.web.server"] == [
        "telegram webhook: refused a request from 203.0.113.9: wrong or missing secret"]


def test_the_link_code_odds_in_the_docstring_hold() -> None:
    """One address guessing as fast as the limit allows: 20 guesses in a code's life, 145 a day."""
    def guesses(duration: timedelta) -> int:
        clock = Clock()
        attempts, end, made = Attempts(LINK_PER_CLIENT, clock), clock() + duration, 0
        while clock() < end:
            wait = attempts.refused_for("203.0.113.9")
            if wait is None:
                attempts.failed("203.0.113.9")
                made += 1
            else:
                clock.advance(seconds=wait.total_seconds())
        return made

    life, day = guesses(timedelta(minutes=LINK_CODE_MINUTES)), guesses(timedelta(days=1))
    assert (life, day) == (20, 145)
    space = len(LINK_CODE_ALPHABET) ** LINK_CODE_LENGTH
    assert life * 100 / space < 2.4e-9 and 10_000 * day * 100 / space < 1.8e-4
