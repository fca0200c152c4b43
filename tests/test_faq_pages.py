"""/admin/faq driven over HTTP as an admin would: search, create, a refused edit, try, revert."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import REPO
from tests.test_console import Console, make_console

NEW_ENTRY = {
    "id": "mang-wifi-hoi-truong", "system": "mang", "question": "Wifi ở hội trường yếu, họp trực tuyến bị giật",
    "variants": "sóng wifi phòng họp yếu quá\nwifi hội trường chập chờn", "tags": "wifi",
    "answer": "1. Đặt máy gần bộ phát wifi hoặc cắm dây mạng.\n2. Tắt các máy không dùng mạng.",
    "source": "", "reviewed": "", "original_id": "",
}


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Console]:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    async for console in make_console(tmp_path, local=True, knowledge=knowledge):
        await console.sign_in("quantri", "admin")
        yield console


async def _post(console: Console, path: str, fields: dict[str, str], *, csrf_from: str = "/admin/faq"):  # noqa: ANN202
    csrf = await console.csrf(csrf_from)
    return await console.client.post(path, data={"csrf": csrf, **fields}, allow_redirects=False)


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match is not None, f"no #{element_id}"
    return match.group(1).strip()


async def test_the_editor_is_for_admins_only(tmp_path: Path) -> None:
    async for console in make_console(tmp_path, local=True):
        anonymous = await console.client.get("/admin/faq", allow_redirects=False)
        await console.sign_in("ktv", "technician")
        technician = await console.client.get("/admin/faq", allow_redirects=False)
        assert (anonymous.status, anonymous.headers["Location"]) == (302, "/login?next=/admin/faq")
        assert technician.status == 403


async def test_an_admin_finds_entries_by_words_typed_without_diacritics(admin: Console) -> None:
    page = await (await admin.client.get("/admin/faq?q=tru+so+mat+internet&system=mang")).text()
    table = page.split('id="entries"')[1]
    found = re.findall(r'href="/admin/faq/([a-z0-9-]+)"', table)
    kb = admin.services.faq.kb
    assert "mang-mat-internet" in found
    assert {kb.entry(i).system for i in found} == {"mang"}  # type: ignore[union-attr]
    assert f"Câu hỏi thường gặp ({len(found)})" in page


async def test_an_entry_created_in_the_editor_is_answered_in_the_chat(admin: Console) -> None:
    response = await _post(admin, "/admin/faq/save", {**NEW_ENTRY, "do": "save"})

    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/faq/mang-wifi-hoi-truong?saved=")
    page = await (await admin.client.get(response.headers["Location"])).text()
    assert "Đã lưu (sửa đổi #1); bot đã dùng nội dung mới." in page
    messages = await admin.say("wifi hoi truong chap chon qua")
    assert messages[-1]["text"].startswith("1. Đặt máy gần bộ phát wifi hoặc cắm dây mạng.")


async def test_an_edit_with_an_error_keeps_the_form_and_shows_the_message_at_the_field(admin: Console) -> None:
    files = {p: p.read_text() for p in admin.services.config.knowledge_dir.rglob("*.yaml")}
    taken = "Cả trụ sở xã mất mạng internet"  # the question of mang-mat-internet

    response = await _post(admin, "/admin/faq/save", {**NEW_ENTRY, "variants": taken, "do": "save"})

    page = await response.text()
    assert response.status == 422
    assert _text(page, "error-variants").startswith(f"phrasing &#39;{taken}&#39; is also in entry")
    assert 'value="mang-wifi-hoi-truong"' in page  # what the admin typed is still there
    assert {p: p.read_text() for p in admin.services.config.knowledge_dir.rglob("*.yaml")} == files


async def test_trying_a_question_shows_the_decision_before_and_after_the_unsaved_edit(admin: Console) -> None:
    response = await _post(admin, "/admin/faq/save", {**NEW_ENTRY, "do": "try",
                                                     "try_question": "wifi hoi truong chap chon"})
    page = await response.text()
    assert response.status == 200
    assert "Với nội dung đang sửa: <b>trả lời bằng “Wifi ở hội trường yếu, họp trực tuyến bị giật”</b>" in page
    assert admin.services.faq.kb.entry("mang-wifi-hoi-truong") is None  # nothing was saved


async def test_an_edit_is_reverted_in_one_click(admin: Console) -> None:
    await _post(admin, "/admin/faq/save", {**NEW_ENTRY, "do": "save"})
    history = await (await admin.client.get("/admin/faq/history")).text()
    assert 'id="revert-1"' in history

    response = await _post(admin, "/admin/faq/revert/1", {}, csrf_from="/admin/faq/history")

    assert (response.status, response.headers["Location"]) == (303, "/admin/faq/history?reverted=1")
    assert admin.services.faq.kb.entry("mang-wifi-hoi-truong") is None
    page = await (await admin.client.get("/admin/faq/history?reverted=1")).text()
    assert "Đã hoàn tác (sửa đổi #1)." in page and "revert #1" in page


async def test_the_preview_measures_the_answer_against_each_channels_limit(admin: Console) -> None:
    page = await (await admin.client.get("/admin/faq/mang-mat-internet")).text()
    answer = admin.services.faq.kb.entry("mang-mat-internet").answer  # type: ignore[union-attr]
    for channel, limit in (("telegram", 4096), ("zalo", 2000), ("web", 4000)):
        assert f"{len(answer)}/{limit} ký tự" in page.split(f'id="preview-{channel}"')[1].split("</section>")[0]


async def test_the_edit_page_holds_the_entrys_button_title_so_a_save_keeps_it(admin: Console) -> None:
    page = await (await admin.client.get("/admin/faq/attt-ma-hoa-du-lieu")).text()
    assert re.findall(r'<input type="text" id="title" name="title" value="([^"]*)"', page) == [
        "Tệp bị đổi đuôi, đòi tiền chuộc"]
