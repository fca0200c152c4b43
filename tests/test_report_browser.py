"""The training-needs report in a real browser: from /admin, on a desktop, on a phone, and printed on A4.

The console runs over a database the demo filled (weeks of activity and one
shared outage), so the report has every section populated. Screenshots go to
test-artifacts/browser/ like the other browser tests'.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.app import Services, build_services
from bot.config import WebConfig
from bot.demo import DemoClock, fill_demo
from bot.desk.accounts import Accounts
from bot.runner import start, stop
from tests.browser import Browser, require_tools
from tests.harness import make_config
from tests.test_telegram import free_port


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, Services]]:
    require_tools()
    port = free_port()
    config = dataclasses.replace(make_config(tmp_path), web=WebConfig(host="127.0.0.1", port=port))
    clock = DemoClock()
    filler = build_services(config, clock)
    fill_demo(filler, clock, seed=7, end=date(2026, 11, 27), days=40, communes=14)
    filler.db.close()
    services = build_services(config)
    running = await start(services, {})
    try:
        yield f"http://127.0.0.1:{port}", services
    finally:
        await stop(running)
        services.db.close()


ADMIN, PASSWORD = "lanhdao", "mat-khau-dai-1"


async def sign_in(browser: Browser, services: Services) -> None:
    """An admin account, and the login form filled in as a person would."""
    Accounts(services.db, services.people, services.clock).add(ADMIN, PASSWORD, "admin")
    await browser.sign_in(ADMIN, PASSWORD)


async def test_the_report_reads_on_a_desktop_a_phone_and_a_printed_a4_page(site, chromium) -> None:  # noqa: ANN001
    url, services = site
    browser = Browser(chromium, url)  # type: ignore[arg-type]
    await sign_in(browser, services)
    form = await browser.one("form#report")
    await browser.fill("input[name=month]", "2026-11", form)
    await browser.submit("form#report")
    assert browser.path.startswith("/admin/report?month=2026-11")
    title = await browser.text(await browser.one("h1"))
    assert title == "Báo cáo nhu cầu tập huấn — tháng 11/2026"
    needs = await browser.all("#communes-need ol.needs > li")
    assert len(needs) >= 3
    # Every chart is drawn, and drawn at a readable size.
    sizes = await browser.script(
        "return Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().width)")
    assert len(sizes) == 4 and all(w > 400 for w in sizes)
    await browser.screenshot("report-desktop")

    # A phone: nothing wider than the screen but the tables, which scroll in their own box.
    await browser.call(chromium.set_window_size, 390, 844)
    widths = await browser.script(
        "return [document.documentElement.scrollWidth, window.innerWidth,"
        " Math.max(...Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().right))]")
    page_width, screen, chart_right = widths
    assert page_width <= screen + 1
    assert chart_right <= screen
    await browser.screenshot("report-phone")

    # Printed on A4: a handful of pages, not dozens.
    printed = await browser.call(chromium.execute_cdp_cmd, "Page.printToPDF",
                                 {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True})
    pdf = base64.b64decode(printed["data"])
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 2 <= pages <= 10, pages


async def test_the_report_downloads_as_a_file(site, chromium) -> None:  # noqa: ANN001
    url, services = site
    browser = Browser(chromium, url)  # type: ignore[arg-type]
    await sign_in(browser, services)
    fetched = await browser.script(
        "return fetch('/admin/report?month=2026-11&download=1').then(r => r.text().then("
        "t => [r.status, r.headers.get('Content-Disposition'), t.includes('<svg')]))")
    assert fetched == [200, 'attachment; filename="bao-cao-tap-huan-2026-11.html"', True]
    status = await browser.script("return fetch('/admin/report?month=11-2026').then(r => r.status)")
    assert status == 400
