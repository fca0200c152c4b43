"""End to end in a real browser: an official on /chat, a technician on /console, an admin on /admin.

Each test runs the whole bot (web console only, no messenger) on its own
port and database, and drives a headless Chromium through it. Every page
visited is saved in test-artifacts/browser/. Without Chromium, chromedriver
or Selenium the tests are skipped, except on CI (env CI set), where they fail.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot import messages as msg
from bot.app import Services, build_services
from bot.config import WebConfig
from bot.desk.accounts import Accounts
from bot.runner import start, stop
from tests.browser import Browser, chromium_driver, require_tools, tiny_png
from tests.harness import REPO, make_config
from tests.test_telegram import free_port

TOKEN_QUESTION = "máy tính không nhận usb token, báo không tìm thấy chứng thư số"
TOKEN_ENTRY = "cks-token-khong-nhan"
# The FAQ finds nothing for this (decision "none"), though it is plainly "may-chay-cham".
SLOW_PC_QUESTION = "máy chạy rì rì như rùa bò"
SLOW_PC_ENTRY = "may-chay-cham"
PROBLEM = "Không đăng nhập được một cửa, báo lỗi 500"
TECH_REPLY = "Anh thử xóa cache trình duyệt"


@dataclass
class Site:
    url: str
    services: Services
    knowledge: Path
    setup_link: str | None  # what `python -m bot run` prints at a first start


async def serve_site(tmp_path: Path, public_url: str = "") -> AsyncIterator[Site]:
    require_tools()
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)  # the admin page edits the FAQ: never the repo's
    port = free_port()
    config = dataclasses.replace(make_config(tmp_path), knowledge_dir=knowledge,
                                 web=WebConfig(host="127.0.0.1", port=port, public_url=public_url.format(port=port)))
    services = build_services(config)
    running = await start(services, {})
    try:
        yield Site(f"http://127.0.0.1:{port}", services, knowledge, running.setup_link)
    finally:
        await stop(running)
        services.db.close()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """The bot with only its web console, on 127.0.0.1 (a first start: no admin yet), over a copy of the FAQ."""
    async for s in serve_site(tmp_path):
        yield s


@pytest.fixture
async def proxied_site(tmp_path: Path) -> AsyncIterator[Site]:
    """The same, configured as reached through a reverse proxy (web.public_url): the chat must be linked."""
    async for s in serve_site(tmp_path, public_url="http://127.0.0.1:{port}"):
        yield s


@pytest.fixture
def browser(site: Site, chromium: object) -> Browser:
    return Browser(chromium, site.url)  # type: ignore[arg-type]


@pytest.fixture
def screenshot_file(tmp_path: Path) -> Path:
    path = tmp_path / "error-500.png"
    path.write_bytes(tiny_png(40, 30))
    return path


ADMIN, ADMIN_PASSWORD = "quantri", "mat-khau-dai-1"


async def create_first_admin(browser: Browser, site: Site) -> None:
    """The operator opens the link the first start printed and creates the admin account: signed in."""
    assert site.setup_link is not None and site.setup_link.startswith(f"{site.url}/setup?token=")
    await browser.open(site.setup_link.removeprefix(site.url))
    assert browser.path == "/setup"  # the token is gone from the address bar
    await browser.fill('form#setup input[name="username"]', ADMIN)
    await browser.fill('form#setup input[name="password"]', ADMIN_PASSWORD)
    await browser.fill('form#setup input[name="again"]', ADMIN_PASSWORD)
    await browser.submit("form#setup")
    assert browser.path == "/admin"


async def register(browser: Browser) -> None:
    """The official registers on /chat: commune, name, title, phone."""
    await browser.open("/chat")
    await browser.say("/dangky", msg.REG_ASK_COMMUNE)
    await browser.say("Bát Xát", msg.REG_ASK_NAME.format(commune="Bát Xát"))
    await browser.say("Nguyễn Văn An", msg.REG_ASK_TITLE)
    await browser.say("Văn phòng", msg.REG_ASK_PHONE)
    await browser.say("0912345678", "Đã đăng ký: Nguyễn Văn An")


async def report_problem(browser: Browser, photo: Path | None = None) -> str:
    """The official reports a problem with Một cửa from /chat; returns the bot's confirmation."""
    await browser.say("/baoloi", msg.ESC_ASK_SYSTEM)
    await browser.press("sys:motcua", msg.ESC_ASK_DESCRIPTION)
    await browser.say(PROBLEM, msg.ESC_ASK_PHOTOS.format(pick=msg.PICK["buttons"].format(label="Xong")))
    if photo is not None:
        await browser.say("", msg.ESC_PHOTO_RECEIVED.format(n=1), photo=photo)
    await browser.press("step:photos", msg.ESC_ASK_URGENCY)
    await browser.press("urg:normal", "Gửi cho kỹ thuật viên?")
    confirmation = await browser.press("step:send", startswith="Đã gửi yêu cầu #1")
    await browser.screenshot("chat-ticket-sent")
    return confirmation


def answer_of(site: Site, entry_id: str) -> str:
    """The whole reply the FAQ gives for an entry: its answer, then the footer asking whether it helped."""
    entry = site.services.faq.kb.entry(entry_id)
    assert entry is not None
    return f"{site.services.faq.kb.render(entry.answer).rstrip()}\n\n{msg.ANSWER_FOOTER}"


def variants(knowledge: Path, entry_id: str) -> list[str]:
    """The variants of a may.yaml entry, as the file on disk says."""
    faq = yaml.safe_load((knowledge / "national" / "faq" / "may.yaml").read_text(encoding="utf-8"))
    return next(entry["variants"] for entry in faq["entries"] if entry["id"] == entry_id)


async def test_chat_question_gets_the_answer(browser: Browser, site: Site) -> None:
    await browser.open("/chat")
    answer = await browser.say(TOKEN_QUESTION, msg.ANSWER_FOOTER)
    await browser.screenshot("chat-answer")
    assert answer == answer_of(site, TOKEN_ENTRY)


async def test_escalate_with_a_screenshot(browser: Browser, site: Site, screenshot_file: Path) -> None:
    await create_first_admin(browser, site)
    await register(browser)
    confirmation = await report_problem(browser, photo=screenshot_file)
    assert confirmation.startswith("Đã gửi yêu cầu #1 (")

    await browser.open("/console/ticket/1")
    image = await browser.one("#attachments img")
    size = await browser.wait_for(lambda: browser.driver.execute_script(
        "const i = arguments[0]; return i.complete && i.naturalWidth > 0 && [i.naturalWidth, i.naturalHeight]",
        image), "the attached screenshot to load")
    await browser.screenshot("console-ticket-with-screenshot")
    assert size == [40, 30]
    assert PROBLEM in await browser.text(await browser.one("#card"))


async def test_technician_claims_and_replies_and_the_chat_shows_it(browser: Browser, site: Site) -> None:
    await create_first_admin(browser, site)
    await register(browser)
    await report_problem(browser)

    await browser.open("/console")
    row = await browser.one('#queue tr.ticket[data-id="1"]')
    await browser.screenshot("console-queue")
    await browser.click("a.open", within=row)
    await browser.one("#card")
    assert browser.path == "/console/ticket/1"

    await browser.submit("form#claim")
    await browser.screenshot("console-ticket-claimed")
    await browser.fill('form#reply textarea[name="text"]', TECH_REPLY)
    await browser.submit("form#reply")
    await browser.screenshot("console-ticket-replied")
    assert TECH_REPLY in await browser.text(await browser.one("#events"))

    await browser.open("/chat")
    relayed = await browser.wait_bot(TECH_REPLY)
    await browser.screenshot("chat-technician-reply")
    assert relayed == msg.TECHNICIAN_SAYS.format(code="#1", text=TECH_REPLY)


async def test_unanswered_question_added_as_variant_is_answered_next_time(browser: Browser, site: Site) -> None:
    await create_first_admin(browser, site)
    await browser.open("/chat")
    first = await browser.say(SLOW_PC_QUESTION)
    await browser.screenshot("chat-no-answer")
    assert first == msg.NO_MATCH

    await browser.open("/admin")
    item = await browser.wait_for(lambda: next(
        (li for li in browser.driver.find_elements("css selector", "#unanswered li") if SLOW_PC_QUESTION in li.text),
        None), f"{SLOW_PC_QUESTION!r} among the unanswered questions")
    await browser.screenshot("admin-unanswered")
    form = await browser.one("form.add-variant", within=item)
    await browser.choose('select[name="entry_id"]', SLOW_PC_ENTRY, within=form)
    await browser.submit(form)
    await browser.screenshot("admin-variant-added")
    assert variants(site.knowledge, SLOW_PC_ENTRY) == [*variants(REPO / "knowledge", SLOW_PC_ENTRY), SLOW_PC_QUESTION]

    await browser.open("/chat")
    answer = await browser.say(SLOW_PC_QUESTION, msg.ANSWER_FOOTER)
    await browser.screenshot("chat-answered-after-variant")
    assert answer == answer_of(site, SLOW_PC_ENTRY)



async def test_the_console_asks_for_a_login_and_the_first_start_link_works_once(browser: Browser, site: Site) -> None:
    await browser.open("/console")
    assert browser.path == "/login?next=/console"
    hint = await browser.text(await browser.one("#no-admin"))
    await browser.screenshot("login-before-any-admin")
    assert hint == msg.LOGIN_NO_ADMIN_YET

    await browser.open(site.setup_link.removeprefix(site.url))  # type: ignore[union-attr]
    await browser.fill('form#setup input[name="username"]', ADMIN)
    await browser.fill('form#setup input[name="password"]', ADMIN_PASSWORD)
    await browser.fill('form#setup input[name="again"]', "something-else")
    await browser.submit("form#setup")
    problem = await browser.text(await browser.one("#setup p.error, p.error"))
    await browser.screenshot("setup-passwords-differ")
    assert problem == msg.SETUP_PASSWORDS_DIFFER
    await browser.fill('form#setup input[name="password"]', ADMIN_PASSWORD)
    await browser.fill('form#setup input[name="again"]', ADMIN_PASSWORD)
    await browser.submit("form#setup")
    assert browser.path == "/admin"
    await browser.screenshot("admin-after-setup")

    await browser.submit("header form")  # log out
    assert browser.path == "/login"
    await browser.open(site.setup_link.removeprefix(site.url))  # type: ignore[union-attr]
    refused = await browser.text(await browser.one("#setup-done, #setup-refused"))
    await browser.screenshot("setup-link-second-time")
    assert refused == msg.SETUP_DONE_ALREADY

    for _ in range(5):
        await browser.open("/login")
        await browser.fill('form#login input[name="username"]', ADMIN)
        await browser.fill('form#login input[name="password"]', "doan-mo-mat-khau")
        await browser.submit("form#login")
    await browser.open("/login")
    await browser.fill('form#login input[name="username"]', ADMIN)
    await browser.fill('form#login input[name="password"]', ADMIN_PASSWORD)  # right, but too late
    await browser.submit("form#login")
    refused = await browser.text(await browser.one("#refused"))
    await browser.screenshot("login-too-many-attempts")
    assert refused == msg.WEB_TOO_MANY_ATTEMPTS.format(minutes=1)


async def test_behind_a_proxy_an_official_links_the_chat_with_the_code_from_the_bot(
        proxied_site: Site, chromium: object) -> None:
    browser = Browser(chromium, proxied_site.url)  # type: ignore[arg-type]
    services = proxied_site.services
    with services.db.atomic():
        official = services.people.identify("telegram", "42", "42")
        services.people.update(official.id, status="active", full_name="Nguyễn Văn An", commune_id="xa-bat-xat")
    code = Accounts(services.db, services.people, services.clock).link_code(official.id)  # what /web sends

    await browser.call(browser.driver.get, f"{proxied_site.url}/chat")  # not browser.open: no chat to wait for yet
    assert await browser.text(await browser.one("main p")) == msg.WEB_LINK_NEEDED
    await browser.fill("form#link input[name=code]", "2222-2222")
    await browser.submit("form#link")
    assert await browser.text(await browser.one("p.error")) == msg.WEB_LINK_BAD
    await browser.call(browser.driver.get, f"{proxied_site.url}/chat")
    await browser.fill("form#link input[name=code]", code.lower().replace("-", " "))  # as typed on a phone
    await browser.screenshot("chat-link-code-typed")
    await browser.submit("form#link")
    assert browser.path == "/chat"
    answer = await browser.say(TOKEN_QUESTION, msg.ANSWER_FOOTER)
    await browser.screenshot("chat-linked-answer")
    assert answer == answer_of(proxied_site, TOKEN_ENTRY)
    assert sorted(i.channel for i in services.people.identities(official.id)) == ["telegram", "web"]


OFFICIAL_THANKS = "Em làm được rồi, cảm ơn anh"
CANNED_TITLE, CANNED_TEXT = "Xoá cache", "Anh/chị xoá cache trình duyệt (Ctrl+Shift+Delete) rồi đăng nhập lại."


@pytest.fixture
def second_chromium() -> Iterator[object]:
    """Another person's browser (its own profile and cookies), at a phone's width."""
    with chromium_driver(390, 844) as driver:
        yield driver


async def test_a_new_ticket_appears_live_and_a_canned_reply_reaches_the_chat_live(
        browser: Browser, site: Site, second_chromium: object) -> None:
    technician = browser
    official = Browser(second_chromium, site.url)  # type: ignore[arg-type]
    await create_first_admin(technician, site)
    await technician.open("/console/canned")
    await technician.fill("form#canned-new input[name=title]", CANNED_TITLE)
    await technician.fill("form#canned-new textarea[name=text]", CANNED_TEXT)
    await technician.submit("form#canned-new")
    await technician.open("/console")
    await technician.wait_for(lambda: "up" in technician.driver.find_element("id", "live-state").get_attribute("class"),
                              "the queue's live stream to open")
    await technician.script("window.__same_page = true")

    await register(official)
    await official.screenshot("chat-phone-registered")
    await report_problem(official)

    row = await technician.one('#queue tr.ticket[data-id="1"]')
    assert await technician.script("return window.__same_page === true")  # it came without a reload
    title = await technician.wait_for(lambda: technician.driver.title.startswith("(1) ") and technician.driver.title,
                                      "the new-ticket count in the tab's title")
    await technician.screenshot("console-queue-new-ticket-live")
    assert title.startswith("(1) " + msg.DESK_QUEUE_TITLE)
    await technician.click("a.open", within=row)
    await technician.submit("form#claim")
    await official.script("window.__same_page = true")
    await technician.choose("select#canned", "1")
    filled = await technician.script("return document.getElementById('reply-text').value")
    await technician.screenshot("console-ticket-canned-reply")
    await technician.submit("form#reply")
    relayed = await official.wait_bot(CANNED_TEXT)
    await official.screenshot("chat-phone-canned-reply-live")
    assert (filled, relayed, await official.script("return window.__same_page === true")) == (
        CANNED_TEXT, msg.TECHNICIAN_SAYS.format(code="#1", text=CANNED_TEXT), True)

    await technician.script("window.__same_page = true")  # the ticket page, open after the reply
    await official.say(OFFICIAL_THANKS, "#1")  # within the context window: it goes into the ticket
    await technician.wait_for(lambda: OFFICIAL_THANKS in technician.driver.find_element("id", "events").text,
                              "the official's message on the open ticket page")
    await technician.screenshot("console-ticket-conversation-live")
    assert await technician.script("return window.__same_page === true")
