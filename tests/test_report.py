"""The training-needs report: its figures checked against a month whose true figures this test made."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.insight.figures import compute
from bot.insight.report import build, write_csv
from tests.fake_telegram import tg  # noqa: F401 - the fixture
from tests.harness import MONDAY_8AM, REPO, TECH, Bot, Clock, config_file, make_config

QUESTION_ENTRY = "motcua-quen-mat-khau"


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    """November: Bát Xát asks one how-to three times and gets a fast urgent ticket solved;
    Y Tý asks something the FAQ lacks, reports it, and waits too long for a first response.
    October: one question from Bát Xát."""
    tmp_path = tmp_path_factory.mktemp("report")
    clock = Clock(datetime(2026, 10, 15, 2, 0, tzinfo=UTC))
    bot = Bot(make_config(tmp_path), clock)
    bot.register("an", commune="Bát Xát", name="Nguyễn Văn An")
    bot.register("binh", commune="Y Tý", name="Giàng A Bình")
    entry = bot.services.faq.kb.entry(QUESTION_ENTRY)
    assert entry is not None
    bot.say("an", entry.question)  # October

    clock.now = MONDAY_8AM  # Monday 24 November, 08:00
    asked = [bot.send("an", entry.question) for _ in range(3)]
    assert all(r[0].choices[0].action.startswith("fb:ok:") for r in asked)  # answered each time
    bot.press("an", asked[0][0].choices[0].action)  # "Đã giải quyết" once
    missed = bot.send("binh", "zqx wvy kkj")
    esc = next(c.action for c in missed[0].choices if c.action.startswith("esc:"))
    bot.press("binh", esc)
    bot.press("binh", "sys:motcua")
    bot.say("binh", "Máy chủ báo lỗi lạ")
    bot.press("binh", "step:photos")
    bot.press("binh", "urg:normal")
    bot.press("binh", "step:send")
    slow = bot.services.tickets.of_user(bot.person("binh").id)[0].id
    fast = bot.open_ticket("an", "Token không nhận", urgency="urgent", system="cks")

    clock.advance(minutes=30)  # 08:30: the urgent one claimed in half an hour
    bot.say(TECH, f"/nhan {fast}")
    clock.advance(hours=2)  # 10:30: and resolved
    bot.say(TECH, f"/xong {fast} Đã cài lại driver")
    bot.press("an", f"fixed:{fast}")
    bot.press("an", f"rate:{fast}:4")
    clock.advance(hours=4)  # 14:30: the ordinary one claimed after 4.5 office hours (target 4)
    bot.say(TECH, f"/nhan {slow}")
    return bot


def _figures(bot: Bot, month: str):  # noqa: ANN202
    s = bot.services
    conn = sqlite3.connect(s.config.database)
    try:
        return compute(conn, month, s.faq.kb, {c.id: c.name for c in s.communes}, s.calendar, s.config.tickets.sla)
    finally:
        conn.close()


def test_each_commune_row_holds_its_true_month(month: Bot) -> None:
    figures = _figures(month, "2026-11")
    an = figures.communes["xa-bat-xat"]
    binh = figures.communes["xa-y-ty"]
    assert (an.questions, an.helpful, an.unanswered, an.escalated_after_answer, an.repeated) == (3, 1, 0, 0, 3)
    assert an.repeated_entries == [(QUESTION_ENTRY, 3)]
    # Answered: the one confirmed; the next was asked again at once, the last followed by a ticket.
    assert (an.answered, binh.answered, figures.total.answered) == (1, 0, 1)
    assert (an.tickets, an.first_response_hours, an.resolution_hours, an.sla_breaches, an.ratings) == (
        1, [0.5], [2.5], 0, [4])
    assert (binh.questions, binh.helpful, binh.unanswered, binh.repeated) == (1, 0, 1, 0)
    assert (binh.tickets, binh.first_response_hours, binh.resolution_hours, binh.sla_breaches) == (1, [4.5], [], 1)
    assert set(figures.communes) == {"xa-bat-xat", "xa-y-ty"}


def test_each_system_row_and_the_total_add_up(month: Bot) -> None:
    figures = _figures(month, "2026-11")
    rows = {k: (r.questions, r.helpful, r.unanswered, r.repeated, r.tickets, r.sla_breaches)
            for k, r in figures.systems.items()}
    assert rows == {"motcua": (3, 1, 0, 3, 1, 1), "khac": (1, 0, 1, 0, 0, 0), "cks": (0, 0, 0, 0, 1, 0)}
    t = figures.total
    assert (t.questions, t.helpful, t.unanswered, t.tickets, t.sla_breaches) == (4, 1, 1, 2, 1)
    assert (t.median_first_response, t.median_resolution, t.mean_rating) == (2.5, 2.5, 4.0)


def test_the_ranking_names_who_needs_training_and_why(month: Bot) -> None:
    figures = _figures(month, "2026-11")
    question = month.services.faq.kb.entry(QUESTION_ENTRY).question
    assert [(n.key, n.score, n.reasons) for n in figures.commune_needs] == [
        ("xa-bat-xat", 4, [f"hỏi 3 lần cùng một việc: “{question}”"]),
        ("xa-y-ty", 1, ["1 câu hỏi chưa giải đáp được"]),
    ]
    assert [(n.key, n.score, n.reasons) for n in figures.topic_needs] == [
        (QUESTION_ENTRY, 3, ["1 xã/phường hỏi lại nhiều lần", "1 xã/phường đã hỏi"]),
    ]


def test_the_month_before_is_its_own_month(month: Bot) -> None:
    october = _figures(month, "2026-10")
    assert (october.total.questions, october.total.tickets, list(october.communes)) == (1, 0, ["xa-bat-xat"])


def test_the_page_and_csv_show_the_figures_and_no_personal_data(month: Bot, tmp_path: Path) -> None:
    s = month.services
    report = build(s.config.database, "2026-11", s.faq.kb, {c.id: c.name for c in s.communes}, s.calendar,
                   s.config.tickets.sla, s.clock())
    page = report.html
    assert "Báo cáo nhu cầu tập huấn — tháng 11/2026" in page
    assert page.count('<svg') >= 3 and 'class="chart"' in page
    assert "Xã Bát Xát" in page and "Xã Y Tý" in page
    for private in ("Nguyễn Văn An", "Giàng A Bình", "0912345678", "zqx wvy kkj", "Máy chủ báo lỗi lạ"):
        assert private not in page
    # Month-on-month: Bát Xát asked 3 questions in November against 1 in October.
    assert '<tr><th>Xã Bát Xát</th><td>3 <span class="delta good">+2</span>' in page
    paths = write_csv(report, tmp_path)
    assert [p.name for p in paths] == ["communes.csv", "systems.csv", "training_communes.csv", "training_topics.csv"]
    with (tmp_path / "communes.csv").open(encoding="utf-8") as f:
        rows = {r["key"]: r for r in csv.DictReader(f)}
    assert {k: (r["questions"], r["tickets"], r["median_first_response_hours"], r["sla_breaches"],
                r["questions_previous_month"]) for k, r in rows.items()} == {
        "xa-bat-xat": ("3", "1", "0.50", "0", "1"), "xa-y-ty": ("1", "1", "4.50", "1", "0")}


def test_the_command_writes_html_and_csv(month: Bot, tmp_path: Path) -> None:
    config = config_file(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--config", str(config), "--database",
         str(month.services.config.database), "--month", "2026-11", "--out", str(tmp_path / "r.html"),
         "--csv", str(tmp_path / "csv")], capture_output=True, text=True, cwd=REPO, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{tmp_path / 'r.html'}: report for 2026-11 (4 questions, 2 tickets)"
    assert (tmp_path / "csv" / "training_topics.csv").exists()
    bad = subprocess.run([sys.executable, "-m", "bot", "report", "--config", str(config), "--month", "11/2026",
                          "--out", str(tmp_path / "x.html")], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert bad.returncode == 1 and "--month must be YYYY-MM" in bad.stderr




def test_last_months_report_goes_to_the_admins_once_when_the_month_is_over(month: Bot) -> None:
    import asyncio

    from bot import messages as msg
    from bot.insight.monthly import send_if_due
    from tests.harness import ADMIN

    s = month.services
    saved = month.clock.now
    try:
        assert asyncio.run(send_if_due(s)) == "2026-10"  # in November, October's (it had a question)
        month.clock.now = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 1 December, 08:00 in Hà Nội
        assert asyncio.run(send_if_due(s)) == "2026-11"
        assert asyncio.run(send_if_due(s)) is None  # once
        links = [msg.MONTHLY_REPORT_LINK.format(
            month=f"{m}/2026", link=f"http://127.0.0.1:8080/admin/report?month=2026-{m}") for m in ("10", "11")]
        assert [r.text for r in month.inbox(ADMIN) if "📊" in r.text] == links
    finally:
        month.clock.now = saved
    written = s.config.database.parent / "reports" / "bao-cao-tap-huan-2026-11.html"
    assert "tháng 11/2026" in written.read_text(encoding="utf-8")


async def test_on_telegram_the_admins_get_the_report_as_a_document(tg, tmp_path: Path) -> None:  # noqa: ANN001
    from bot import messages as msg
    from bot.app import build_services, system_clock
    from bot.insight.figures import previous_month
    from tests.test_telegram import ADMIN as TG_ADMIN
    from tests.test_telegram import TelegramBot

    bot = TelegramBot(tg, tmp_path)
    last = previous_month(system_clock().strftime("%Y-%m"))
    db_services = build_services(bot.config, system_clock)
    with db_services.db.atomic():  # one question last month: enough for its report to be due
        db_services.db["query_log"].insert({"at": f"{last}-15T03:00:00+00:00", "user_id": None, "channel": "telegram",
                                            "query": "quen mk mot cua", "decision": "none"})
    db_services.db.close()
    await bot.start()
    try:
        sent = await bot.said(TG_ADMIN, 2)
    finally:
        await bot.stop()
    document, caption = sent[0], sent[1]
    assert document["method"] == "sendDocument"
    assert document["document"]["file_name"] == f"bao-cao-tap-huan-{last}.html"
    year, mon = last.split("-")
    assert caption["text"] == msg.MONTHLY_REPORT_DOCUMENT.format(month=f"{int(mon)}/{year}")
