"""The admin's side in a real browser: write an FAQ entry the chat then answers, a refused edit, a revert,
and the admin pages at a phone's width and a desktop's. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot import messages as msg
from bot.desk.accounts import Accounts
from tests.browser import Browser
from tests.test_browser import Site, serve_site

ADMIN, PASSWORD = "quantri", "mat-khau-dai-1"
NEW_ID = "may-chieu-khong-len-hinh"
NEW_QUESTION = "Máy chiếu phòng họp không lên hình khi cắm máy tính"
NEW_ANSWER = ("1. Kiểm tra dây HDMI hoặc VGA đã cắm chặt ở cả máy tính và máy chiếu.\n"
              "2. Trên máy tính Windows, bấm phím Windows + P và chọn Nhân bản (Duplicate).\n"
              "3. Chọn đúng nguồn vào (HDMI hoặc VGA) trên điều khiển của máy chiếu.")
PHONE, DESKTOP = (390, 844), (1280, 1000)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async for s in serve_site(tmp_path):
        yield s


@pytest.fixture
async def admin(site: Site, chromium: object) -> Browser:
    """A signed-in admin (the account made as `python -m bot users add` would)."""
    s = site.services
    Accounts(s.db, s.people, s.clock).add(ADMIN, PASSWORD, "admin")
    browser = Browser(chromium, site.url)  # type: ignore[arg-type]
    await browser.sign_in(ADMIN, PASSWORD)
    return browser


def entry_in_files(site: Site, entry_id: str) -> dict | None:
    """The entry as the FAQ files on disk hold it."""
    for path in site.knowledge.rglob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("entries", []) if isinstance(data, dict) else []:
            if isinstance(entry, dict) and entry.get("id") == entry_id:
                return entry
    return None


async def write_new_entry(admin: Browser) -> None:
    await admin.open("/admin/faq")
    await admin.click('a[href="/admin/faq/new"]')
    await admin.one("form#entry-form")
    await admin.fill("#id", NEW_ID)
    await admin.choose("#system", "khac")
    await admin.fill("#question", NEW_QUESTION)
    await admin.fill("#variants", "máy chiếu không lên hình\nmay chieu khong nhan may tinh")
    await admin.fill("#answer", NEW_ANSWER)
    await admin.submit("form#entry-form")


async def test_an_admin_writes_an_entry_and_the_web_chat_answers_with_it(admin: Browser, site: Site) -> None:
    await write_new_entry(admin)
    await admin.screenshot("admin-faq-entry-saved")
    assert admin.path.startswith(f"/admin/faq/{NEW_ID}?saved=")
    assert (await admin.text(await admin.one("#saved"))).startswith("Đã lưu (sửa đổi #1)")
    saved = entry_in_files(site, NEW_ID)
    assert saved is not None and (saved["question"], saved["answer"].strip()) == (NEW_QUESTION, NEW_ANSWER)

    await admin.open("/chat")
    answer = await admin.say("máy chiếu không lên hình", msg.ANSWER_FOOTER)
    await admin.screenshot("chat-answers-with-the-new-entry")
    assert answer.startswith(NEW_ANSWER.splitlines()[0])


async def test_an_edit_with_an_error_is_refused_with_the_message_at_the_field(admin: Browser, site: Site) -> None:
    files = {p: p.read_text(encoding="utf-8") for p in site.knowledge.rglob("*.yaml")}
    await admin.open("/admin/faq/may-chay-cham")
    await admin.fill("#id", "Mã Có Dấu")
    await admin.submit("form#entry-form")
    await admin.screenshot("admin-faq-edit-refused")
    field = await admin.one("#field-id")
    assert "has-error" in (await admin.call(field.get_attribute, "class"))
    message = await admin.text(await admin.one("#error-id", within=field))
    assert message  # faq check's own words, beside the field that caused them
    assert await admin.call((await admin.one("#id")).get_attribute, "value") == "Mã Có Dấu"  # the typing is kept
    assert {p: p.read_text(encoding="utf-8") for p in site.knowledge.rglob("*.yaml")} == files


async def test_an_edit_is_reverted_from_the_history(admin: Browser, site: Site) -> None:
    await write_new_entry(admin)
    assert entry_in_files(site, NEW_ID) is not None
    await admin.open("/admin/faq/history")
    await admin.call((await admin.one("#edits details summary")).click)
    await admin.screenshot("admin-faq-history")
    await admin.submit(await admin.call(lambda: admin.driver.find_element("id", "revert-1").find_element(
        "xpath", "./ancestor::form")))
    await admin.screenshot("admin-faq-reverted")
    assert admin.path == "/admin/faq/history?reverted=1"
    assert entry_in_files(site, NEW_ID) is None
    assert site.services.faq.kb.entry(NEW_ID) is None


async def test_the_admin_pages_read_at_a_phone_width_and_on_a_desktop(admin: Browser, site: Site) -> None:
    await admin.open("/chat")
    await admin.say("máy chạy rì rì như rùa bò", msg.NO_MATCH)  # something for the unanswered list
    for (width, height), label in ((PHONE, "phone"), (DESKTOP, "desktop")):
        await admin.resize(width, height)
        for path, name in (("/admin", "admin"), ("/admin/faq", "faq-list"), ("/admin/faq/may-chay-cham", "faq-edit"),
                           ("/admin/announcements", "announcements"), ("/console/incidents", "incidents")):
            await admin.open(path)
            await admin.screenshot(f"{name}-{label}")
            if path == "/admin":
                await admin.script("document.getElementById('unanswered').scrollIntoView()")
                await admin.screenshot(f"{name}-unanswered-{label}")
            overflow = await admin.script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
    await admin.open("/admin")
    cluster = await admin.one("#unanswered li.cluster")
    assert "máy chạy rì rì như rùa bò" in await admin.text(cluster)
