"""`python -m bot doctor`: is this installation ready to serve? One plain verdict per item.

Each check returns a `Finding`: ok, warn or fail, with a sentence an IT
centre operator can act on (what is wrong and which setting or variable to
change). No secret is ever part of a sentence: a token is named by its
environment variable, never shown.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp

from bot.config import Config
from bot.knowledge.check import check as faq_check

Level = Literal["ok", "warn", "fail"]
MIN_FREE_BYTES = 1 << 30  # below 1 GiB free, backups and uploads will soon fail
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class Finding:
    item: str
    level: Level
    says: str

    def line(self) -> str:
        mark = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL"}[self.level]
        return f"[{mark}] {self.item}: {self.says}"


def check_knowledge(config: Config) -> Finding:
    problems = faq_check(config.knowledge_dir, None, config.matcher)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        return Finding("knowledge", "fail", f"{len(errors)} error(s) in {config.knowledge_dir}; "
                       "run `python -m bot faq check` to see them")
    warnings = len(problems) - len(errors)
    return Finding("knowledge", "warn" if warnings else "ok",
                   f"the FAQ loads ({warnings} warning(s) from `faq check`)")


def check_database(database: Path) -> Finding:
    """The database folder is writable and the file, if any, is a sound SQLite database."""
    folder = database.parent
    if not folder.exists():
        return Finding("database", "warn", f"{folder} does not exist yet; it is created at first start")
    if not os.access(folder, os.W_OK):
        return Finding("database", "fail", f"cannot write to {folder} (setting `database`); "
                       "give the bot's user write access")
    if not database.exists():
        return Finding("database", "ok", f"{database} will be created at first start")
    try:
        conn = sqlite3.connect(str(database), timeout=5)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return Finding("database", "fail", f"{database} cannot be used: {exc} (setting `database`; "
                       "restore a backup with `python -m bot restore`)")
    if result != "ok":
        return Finding("database", "fail", f"{database} is damaged ({result}); restore a backup")
    return Finding("database", "ok", f"{database} is readable and writable")


def check_disk(database: Path) -> Finding:
    folder = database.parent if database.parent.exists() else Path.cwd()
    free = shutil.disk_usage(folder).free
    gib = free / (1 << 30)
    if free < MIN_FREE_BYTES:
        return Finding("disk", "fail", f"only {gib:.2f} GiB free under {folder}; free some space "
                       "(old backups, logs) before the database fills it")
    return Finding("disk", "ok", f"{gib:.1f} GiB free under {folder}")


def check_clock(config: Config, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Finding:
    try:
        zone = ZoneInfo(config.working_hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return Finding("time zone", "fail", f"unknown time zone {config.working_hours.timezone!r} "
                       "(setting working_hours.timezone); install tzdata")
    local = now().astimezone(zone)
    if local.year < 2025:
        return Finding("clock", "fail", f"the clock says {local:%Y-%m-%d}; set the server's time (NTP)")
    return Finding("clock", "ok", f"local time {local:%Y-%m-%d %H:%M} ({zone.key})")


def check_backups(config: Config, now: float | None = None) -> Finding:
    folder = config.backup.dir
    found = sorted(folder.glob("helpdesk-*.tar.gz")) if folder.exists() else []
    if not found:
        return Finding("backups", "warn", f"no backup in {folder} yet; run `python -m bot backup`")
    age_hours = ((now or time.time()) - found[-1].stat().st_mtime) / 3600
    limit = max(config.backup.every_hours, 24.0) * 2
    if age_hours > limit:
        return Finding("backups", "warn", f"the newest backup is {age_hours:.0f} hours old")
    return Finding("backups", "ok", f"newest backup {found[-1].name}")


async def _call(session: aiohttp.ClientSession, url: str) -> tuple[int, dict]:
    """POST a parameterless Bot API method (both Telegram and Zalo Bot accept POST)."""
    async with session.post(url, json={}) as resp:
        try:
            return resp.status, await resp.json(content_type=None)
        except ValueError:
            return resp.status, {}


async def _ask_bot_api(base: str, token: str, methods: Sequence[str]) -> list[tuple[int, dict]]:
    """Call parameterless Bot API methods in turn on one connection; network errors propagate."""
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        return [await _call(session, f"{base}/bot{token}/{method}") for method in methods]


def _unreachable(name: str, base: str, exc: Exception, setting: str) -> Finding:
    return Finding(name, "fail", f"cannot reach {base} ({type(exc).__name__}); check the network{setting}")


async def check_telegram(config: Config, env: Mapping[str, str]) -> list[Finding]:
    token = env.get("TELEGRAM_BOT_TOKEN", "")
    if not token:
        return [Finding("telegram", "ok", "off (TELEGRAM_BOT_TOKEN is not set)")]
    base = env.get("TELEGRAM_API_BASE_URL") or config.telegram.api_base_url
    try:
        (status, me), (_, hook) = await _ask_bot_api(base, token, ("getMe", "getWebhookInfo"))
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [_unreachable("telegram", base, exc, ", proxy or telegram.api_base_url")]
    if status == 401 or status == 404 or not me.get("ok"):
        return [Finding("telegram", "fail", "the Bot API refuses TELEGRAM_BOT_TOKEN "
                        "(revoked or mistyped); get the token again from @BotFather")]
    findings = [Finding("telegram", "ok", f"token accepted for @{me['result'].get('username')}")]
    registered = (hook.get("result") or {}).get("url", "")
    wanted = config.telegram.webhook_url
    if wanted and registered != wanted:
        findings.append(Finding("telegram webhook", "warn", f"Telegram has {registered or 'no webhook'}; "
                                f"the bot registers {wanted} when it starts"))
    elif not wanted and registered:
        findings.append(Finding("telegram webhook", "warn", "a webhook is registered but telegram."
                                "webhook_url is empty; the bot removes it and polls when it starts"))
    else:
        findings.append(Finding("telegram webhook", "ok", wanted or "long polling"))
    return findings


async def check_zalo_bot(config: Config, env: Mapping[str, str]) -> list[Finding]:
    token = env.get("ZALO_BOT_TOKEN", "")
    if not token:
        return [Finding("zalo bot", "ok", "off (ZALO_BOT_TOKEN is not set)")]
    base = env.get("ZALO_BOT_API_BASE_URL") or config.zalo_bot.api_base_url
    try:
        ((_, me),) = await _ask_bot_api(base, token, ("getMe",))
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [_unreachable("zalo bot", base, exc, " or zalo_bot.api_base_url")]
    if not me.get("ok"):
        return [Finding("zalo bot", "fail", "Zalo refuses ZALO_BOT_TOKEN (revoked or mistyped); "
                        "copy it again from the Zalo Bot Creator")]
    return [Finding("zalo bot", "ok", "token accepted")]


def check_zalo_oa(config: Config, env: Mapping[str, str]) -> Finding:
    if not config.zalo_oa.app_id:
        return Finding("zalo oa", "ok", "off (zalo_oa.app_id is empty)")
    missing = [n for n in ("ZALO_OA_SECRET_KEY", "ZALO_APP_SECRET", "ZALO_OA_REFRESH_TOKEN")
               if not env.get(n)]
    if missing:
        return Finding("zalo oa", "fail", f"zalo_oa.app_id is set but {', '.join(missing)} "
                       "is not in the environment")
    return Finding("zalo oa", "ok", "secrets present (the refresh token is checked at start)")


async def run_checks(config: Config, env: Mapping[str, str]) -> list[Finding]:
    """Every check, in the order an operator would fix things."""
    local = [
        await asyncio.to_thread(check_knowledge, config),
        check_database(config.database),
        check_disk(config.database),
        check_clock(config),
        check_backups(config),
        check_zalo_oa(config, env),
    ]
    remote = await asyncio.gather(check_telegram(config, env), check_zalo_bot(config, env))
    return local + [f for group in remote for f in group]
