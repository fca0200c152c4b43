"""Start-up faults end in one line that names the cause and the setting, exit 1, no secret."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.channels.quarantine import quarantine
from bot.store.schema import open_database
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - the fixture
from tests.harness import REPO, config_file
from tests.test_cli import run
from tests.test_telegram import free_port


async def run_bot(config: Path, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def error_lines(stderr: str) -> list[str]:
    """What the operator reads: stderr without the timestamped log lines."""
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


async def test_a_token_telegram_refuses_is_one_line_without_the_token(
        tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    wrong = "987654321:AAWrongTokenNobodyShouldEverSee-123456"
    code, out, err = await run_bot(config_file(tmp_path, port=free_port()),
                                   TELEGRAM_BOT_TOKEN=wrong, TELEGRAM_API_BASE_URL=tg.url)
    assert code == 1
    assert error_lines(err) == ["Error: Telegram refused the bot token: check TELEGRAM_BOT_TOKEN (from @BotFather)"]
    assert "Traceback" not in err + out
    assert wrong not in err + out and wrong.split(":")[1] not in err + out


async def test_an_unreachable_bot_api_at_start_names_the_setting(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    code, out, err = await run_bot(config_file(tmp_path, port=free_port()),
                                   TELEGRAM_BOT_TOKEN="123:ABCsecret", TELEGRAM_API_BASE_URL=dead)
    assert code == 1
    assert error_lines(err) == [
        f"Error: cannot reach the Telegram Bot API at {dead} (NetworkError); check the network or "
        "telegram.api_base_url (TELEGRAM_API_BASE_URL)"]
    assert "Traceback" not in err + out and "ABCsecret" not in err + out


def test_a_corrupt_database_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    database = tmp_path / "data" / "bot.sqlite"
    database.parent.mkdir()
    database.write_bytes(b"this is not a database, just some bytes " * 200)
    proc = run("tickets", "--config", str(config), "list")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr  # knowledge warnings may come first; one error line
    assert error_lines(proc.stderr) == [
        f"Error: cannot open the database {database}: file is not a database "
        "(check `database` in config.yaml, the file and its folder)"]


def test_a_database_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    (tmp_path / "data").write_text("a file where the folder should be")
    proc = run("tickets", "--config", str(config), "list")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr  # knowledge warnings may come first; one error line
    assert error_lines(proc.stderr) == [
        f"Error: cannot open the database {tmp_path / 'data' / 'bot.sqlite'}: File exists "
        "(check `database` in config.yaml, the file and its folder)"]


async def test_run_with_a_database_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the folder should be")
    code, out, err = await run_bot(config_file(tmp_path, port=free_port()))
    assert code == 1
    assert error_lines(err) == [
        f"Error: cannot open the database {tmp_path / 'data' / 'bot.sqlite'}: File exists "
        "(check `database` in config.yaml, the file and its folder)"]
    assert "Traceback" not in err + out


def test_quarantine_list_shows_the_newest_first_and_pages(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    db = open_database(tmp_path / "data" / "bot.sqlite")
    at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    for n in (1, 2, 3):
        quarantine(db, at, "telegram", str(100 + n), {"update_id": 100 + n, "message": "x" * n}, KeyError("date"))
    db.close()
    proc = run("quarantine", "list", "--config", str(config), "--limit", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "#3 2026-11-24T01:00:00 telegram update 103: KeyError: 'date'",
        '    {"update_id": 103, "message": "xxx"}',
        "#2 2026-11-24T01:00:00 telegram update 102: KeyError: 'date'",
        '    {"update_id": 102, "message": "xx"}',
        "older: --before 2",
    ]
    older = run("quarantine", "list", "--config", str(config), "--before", "2")
    assert older.stdout.splitlines() == ["#1 2026-11-24T01:00:00 telegram update 101: KeyError: 'date'",
                                         '    {"update_id": 101, "message": "x"}']


async def test_a_zalo_bot_token_zalo_refuses_is_one_line(tmp_path: Path) -> None:
    from tests.fake_zalo import FakeZaloBot

    async with FakeZaloBot() as zb:
        code, out, err = await run_bot(config_file(tmp_path, port=free_port()),
                                       ZALO_BOT_TOKEN="1234:not-the-zalo-token", ZALO_BOT_API_BASE_URL=zb.url)
    assert code == 1
    assert error_lines(err) == ["Error: Zalo refused the bot token: check ZALO_BOT_TOKEN"]
    assert "Traceback" not in err + out and "not-the-zalo-token" not in err + out
