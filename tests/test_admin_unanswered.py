"""The admin's unanswered list, v2, over HTTP: no noise, no tickets, no personal data; clusters; dismiss; snooze."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import messages as msg
from bot.app import Services
from bot.store.outbox import iso
from tests.test_console import Console, make_console

QUESTION = "máy chạy rì rì như rùa bò"  # the FAQ has no answer for it


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Console]:
    async for console in make_console(tmp_path, local=True):
        await console.sign_in()
        yield console


def official(services: Services, ref: str) -> int:
    return services.people.identify("test", ref, ref).id


def logged(services: Services, user_id: int | None, query: str, *, days_ago: float = 0, decision: str = "none",
           feedback: str | None = None) -> None:
    """A question in the log as the bot stores it (older logs kept thanks and emoji too)."""
    at = services.clock() - timedelta(days=days_ago)
    with services.db.atomic():
        services.db["query_log"].insert({"at": iso(at), "user_id": user_id, "channel": "test", "query": query,
                                         "decision": decision, "entry_id": None, "score": 0.1, "candidates": "[]",
                                         "feedback": feedback})


async def clusters(console: Console, path: str = "/admin") -> list[tuple[int, str, list[str]]]:
    """(count, wording, other wordings) of each listed cluster, as the page shows them."""
    page = await (await console.client.get(path)).text()
    listed = page[page.index('<ul id="unanswered"'):page.index("</ul>\n<datalist")]
    found = []
    for item in listed.split('<li class="cluster">')[1:]:
        count = int(re.search(r'<b class="count">(\d+)×</b>', item).group(1))  # type: ignore[union-attr]
        wording = html.unescape(re.search(r'<span class="wording">([^<]*)</span>', item).group(1))  # type: ignore[union-attr]
        others = [html.unescape(o) for o in re.findall(r"<li>([^<]*)</li>", item)]
        found.append((count, wording, others))
    return found


async def test_noise_tickets_and_personal_data_never_reach_the_unanswered_list(admin: Console) -> None:
    s = admin.services
    a, b = official(s, "a"), official(s, "b")
    for noise in ("🙏", "🙏", "🙏", "🙏", "🙏", "cảm ơn ạ", "ok em", "5 sao", "...", "alo"):
        logged(s, a, noise)
    logged(s, a, "wifi ủy ban yếu quá", feedback="escalated")  # became a ticket: a technician has it
    with s.db.atomic():  # b has a ticket open: what b writes now answers the technician
        s.db["tickets"].insert({"user_id": b, "status": "waiting", "created_at": iso(s.clock() - timedelta(hours=2))})
    logged(s, b, "em gửi anh địa chỉ nguyen.van.b@laocai.gov.vn nhé")
    logged(s, a, QUESTION)
    logged(s, a, "gửi file cho em qua le.thi.c@laocai.gov.vn hoặc số 0912 345 678 được không")

    assert await clusters(admin) == [
        (1, f"gửi file cho em qua {msg.MASKED_EMAIL} hoặc số {msg.MASKED_PHONE} được không", []),
        (1, QUESTION, []),
    ]


async def test_similar_wordings_are_one_cluster_with_counts_over_time(admin: Console) -> None:
    s = admin.services
    a = official(s, "a")
    for days_ago in (1, 2, 20):
        logged(s, a, QUESTION, days_ago=days_ago)
    logged(s, a, "may chay ri ri nhu rua bo anh oi", days_ago=60)
    logged(s, a, "máy chạy rì rì như rùa bò với ạ", days_ago=3, feedback="not_right", decision="answer")
    logged(s, a, "lịch nghỉ tết năm nay thế nào", days_ago=100)  # older than the list looks back

    page = await (await admin.client.get("/admin")).text()
    assert await clusters(admin) == [
        (5, QUESTION, ["máy chạy rì rì như rùa bò với ạ", "may chay ri ri nhu rua bo anh oi"])]
    when = html.unescape(re.search(r'<p class="muted when">(.*?)</p>', page, re.S).group(1))  # type: ignore[union-attr]
    first, last = iso(s.clock() - timedelta(days=60))[:10], iso(s.clock() - timedelta(days=1))[:10]
    assert " ".join(when.split()) == (f"tuần này 3 · 4 tuần 4 · lần đầu {first} · gần nhất {last} "
                                      "· không tìm thấy 4, trả lời chưa đúng 1")


async def test_a_dismissed_cluster_stays_away_and_a_snoozed_one_comes_back_after_its_days(admin: Console) -> None:
    s = admin.services
    a = official(s, "a")
    logged(s, a, QUESTION)
    logged(s, a, "máy chạy rì rì như rùa bò với ạ")
    logged(s, a, "lịch nghỉ tết năm nay thế nào")
    page = await (await admin.client.get("/admin")).text()
    keys = [html.unescape(k) for k in re.findall(r'name="keys" value="([^"]*)"', page)]
    assert keys[0::2] == ["may chay ri ri nhu rua bo\nmay chay ri ri nhu rua bo voi a", "lich nghi tet nam nay the nao"]
    csrf = await admin.csrf("/admin")

    response = await admin.client.post("/admin/unanswered/dismiss", data={
        "csrf": csrf, "keys": keys[0], "shown": QUESTION}, allow_redirects=False)
    assert response.status == 303
    assert parse_qs(urlsplit(response.headers["Location"]).query)["done"] == [
        msg.UNANSWERED_DISMISSED.format(text=QUESTION)]
    response = await admin.client.post("/admin/unanswered/snooze", data={
        "csrf": csrf, "keys": keys[2], "shown": "lịch nghỉ tết năm nay thế nào", "days": "7"})
    assert response.status == 200
    assert await clusters(admin) == []
    marks = [(r["key"], r["state"], r["until"], r["by"], r["at"]) for r in s.db["unanswered_marks"].rows]
    now = s.clock()
    assert marks == [
        ("may chay ri ri nhu rua bo", "dismissed", None, "quantri (quantri)", iso(now)),
        ("may chay ri ri nhu rua bo voi a", "dismissed", None, "quantri (quantri)", iso(now)),
        ("lich nghi tet nam nay the nao", "snoozed", iso(now + timedelta(days=7)), "quantri (quantri)", iso(now)),
    ]

    s.clock.advance(days=8)  # type: ignore[attr-defined]
    await admin.sign_in()  # a week later: the session has ended
    logged(s, a, QUESTION)  # asked again: still dismissed
    assert await clusters(admin) == [(1, "lịch nghỉ tết năm nay thế nào", [])]


async def test_a_cluster_opens_the_faq_editor_with_its_wordings_filled_in(admin: Console) -> None:
    s = admin.services
    a = official(s, "a")
    logged(s, a, QUESTION)
    logged(s, a, QUESTION)
    logged(s, a, "may chay ri ri nhu rua bo anh oi")
    page = await (await admin.client.get("/admin")).text()
    link = html.unescape(re.search(r'<a class="new-entry" href="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    assert parse_qs(urlsplit(link).query) == {"question": [QUESTION], "variants": ["may chay ri ri nhu rua bo anh oi"]}
    editor = await (await admin.client.get(link)).text()
    question = re.search(r'<textarea[^>]*name="question"[^>]*>([^<]*)</textarea>|name="question"[^>]*value="([^"]*)"',
                         editor)
    assert question is not None and html.unescape(question.group(1) or question.group(2)).strip() == QUESTION
    variants = re.search(r'<textarea[^>]*name="variants"[^>]*>([^<]*)</textarea>', editor)
    assert variants is not None and html.unescape(variants.group(1)).strip() == "may chay ri ri nhu rua bo anh oi"


async def test_a_thank_you_is_refused_as_a_variant_by_the_faq_check(admin: Console) -> None:
    csrf = await admin.csrf("/admin")
    response = await admin.client.post("/admin/variant", data={"csrf": csrf, "entry_id": "may-chay-cham",
                                                                 "text": "🙏"})
    page = await response.text()
    assert "Chưa thêm được" in page and "🙏" not in "".join(admin.services.faq.kb.entry("may-chay-cham").variants)


async def test_the_answered_share_is_shown_with_how_it_is_counted(admin: Console) -> None:
    page = await (await admin.client.get("/admin")).text()
    shown = html.unescape(re.search(r'<section id="answered-share".*?</section>', page, re.S).group(0))  # type: ignore[union-attr]
    assert msg.ANSWERED_FIGURE.format(percent="-", questions=0, days=30) in shown
    assert msg.ANSWERED_HOW.format(minutes=30) in shown
    await admin.say("máy tính không nhận usb token, báo không tìm thấy chứng thư số")  # answered, nothing more
    await admin.say(QUESTION)  # not answered
    page = await (await admin.client.get("/admin")).text()
    assert msg.ANSWERED_FIGURE.format(percent="50%", questions=2, days=30) in html.unescape(page)
