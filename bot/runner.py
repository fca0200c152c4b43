"""Running the bot: every configured channel, the outbox worker and the timers, until stopped.

Secrets arrive here from the environment (read once by the command line) and
go no further than the channel that needs them; a logging filter blanks them
out of every log line, including the HTTP client's.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from bot.app import Services, run_timers
from bot.channels.telegram import CHANNEL as TELEGRAM
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo_bot import CHANNEL as ZALO_BOT
from bot.channels.zalo_bot import ZaloBotChannel
from bot.channels.zalo_oa import CHANNEL as ZALO_OA
from bot.channels.zalo_oa import SIGNATURE_HEADER, ZaloOAChannel
from bot.config import Config
from bot.insight.monthly import monthly_loop
from bot.logs import RepeatFilter
from bot.models import Delivery
from bot.ops.logs import JsonFormatter
from bot.ops.metrics import metrics_handler
from bot.ops.schedule import run_upkeep
from bot.store.attachments import REF_PREFIX
from bot.store.database import Writer
from bot.store.outbox import OutboxWorker, Sender
from bot.web.console import CHANNEL as WEB
from bot.web.console import console_routes
from bot.web.server import (
    TELEGRAM_WEBHOOK_PATH,
    ZALO_BOT_WEBHOOK_PATH,
    ZALO_OA_WEBHOOK_PATH,
    create_web_app,
    telegram_webhook,
    zalo_bot_webhook,
    zalo_oa_webhook,
)
from bot.web.trust import parse_networks

log = logging.getLogger(__name__)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


# A Vietnamese phone number (0… or +84…, ten digits, any spacing): personal data, masked in logs.
PHONE = re.compile(r"(?<![\d+])(?:\+84|84|0)(?:[ .-]?\d){8}([ .-]?\d)(?!\d)")


def mask_phones(text: str) -> str:
    """'0912 345 678' -> '09*****678': enough to tell two numbers apart, not to call one."""
    def mask(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return digits[:2] + "*" * (len(digits) - 5) + digits[-3:]
    return PHONE.sub(mask, text)


class RedactSecrets(logging.Filter):
    """Replaces every secret in a log record's message with '***', and masks phone numbers."""

    def __init__(self, secrets_: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets_ if s]

    def filter(self, record: logging.LogRecord) -> bool:
        original = record.getMessage()
        message = original
        for secret in self.secrets:
            message = message.replace(secret, "***")
        message = mask_phones(message)
        if message != original:
            record.msg, record.args = message, None
        return True


def configure_logging(level: int, secrets_: list[str], json_lines: bool = False) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact, repeats = RedactSecrets(secrets_), RepeatFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeats)
        handler.addFilter(redact)
        if json_lines:
            handler.setFormatter(JsonFormatter())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL, token included
    # PTB logs each unreadable Bot API answer with a traceback, then raises; the channel logs
    # what it raises (one line, rate-limited), so PTB's own copy is left out.
    logging.getLogger("telegram.request").setLevel(logging.CRITICAL)


@dataclass
class Running:
    """What `start` brought up, for `stop` to bring down in order."""

    worker: OutboxWorker
    writer: Writer
    tasks: list[asyncio.Task] = field(default_factory=list)
    telegram: TelegramChannel | None = None
    zalo_bot: ZaloBotChannel | None = None
    zalo_oa: ZaloOAChannel | None = None
    web_runner: web.AppRunner | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    setup_link: str | None = None  # the one-time first-admin link, while no admin account exists


def base_url(config: Config) -> str:
    """Where people open the console: web.public_url behind a proxy, else our own address."""
    if config.web.public_url:
        return config.web.public_url
    host = f"[{config.web.host}]" if ":" in config.web.host else config.web.host
    return f"http://{host}:{config.web.port}"


def telegram_chats(services: Services) -> tuple[list[str], list[str]]:
    """Technicians' group chats and admins' private chats on Telegram, for command menus."""
    groups = [ref.split(":", 1)[1] for refs in services.config.queues.values() for ref in refs
              if ref.startswith(f"{TELEGRAM}:")]
    admins = [ref.split(":", 1)[1] for ref in services.config.people.admins if ref.startswith(f"{TELEGRAM}:")]
    return groups, admins


async def _start_telegram(services: Services, env: Mapping[str, str], routes: list) -> TelegramChannel | None:
    token = env.get("TELEGRAM_BOT_TOKEN", "")
    if not token:
        return None
    config = services.config.telegram
    use_webhook = bool(config.webhook_url)
    channel = TelegramChannel(token, env.get("TELEGRAM_API_BASE_URL") or config.api_base_url, services.db,
                              services.handle, services.clock, config.poll_timeout, webhook=use_webhook,
                              local_file=lambda ref: services.attachments.path(ref.removeprefix(REF_PREFIX))
                              if ref.startswith(REF_PREFIX) else None, writer=services.writer)
    await channel.start(polling=not use_webhook)
    await channel.set_commands(*telegram_chats(services))
    if use_webhook:
        secret = env.get("TELEGRAM_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
        routes.append((TELEGRAM_WEBHOOK_PATH, telegram_webhook(channel.process_webhook, secret)))
        await channel.set_webhook(config.webhook_url, secret)
    log.info("telegram: started (%s)", "webhook" if use_webhook else "long polling")
    return channel


async def _start_zalo_bot(services: Services, env: Mapping[str, str], routes: list) -> ZaloBotChannel | None:
    token = env.get("ZALO_BOT_TOKEN", "")
    if not token:
        return None
    config = services.config.zalo_bot
    channel = ZaloBotChannel(token, env.get("ZALO_BOT_API_BASE_URL") or config.api_base_url,
                             services.handle, services.remember_choices, config.poll_timeout,
                             db=services.db, clock=services.clock, store_image=services.attachments.save_image_async)
    await channel.start()
    if config.webhook_url:
        secret = env.get("ZALO_BOT_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
        routes.append((ZALO_BOT_WEBHOOK_PATH, zalo_bot_webhook(channel.take, secret)))
        await channel.set_webhook(config.webhook_url, secret)
    else:
        await channel.start_polling()
    log.info("zalo bot: started (%s)", "webhook" if config.webhook_url else "long polling")
    return channel


async def _start_zalo_oa(services: Services, env: Mapping[str, str], routes: list) -> ZaloOAChannel | None:
    config = services.config.zalo_oa
    secret_key, app_secret = env.get("ZALO_OA_SECRET_KEY", ""), env.get("ZALO_APP_SECRET", "")
    if not (config.app_id and secret_key and app_secret):
        return None
    channel = ZaloOAChannel(
        services.db, config.app_id, secret_key, app_secret,
        env.get("ZALO_OA_API_BASE_URL") or config.api_base_url,
        env.get("ZALO_OA_OAUTH_BASE_URL") or config.oauth_base_url,
        services.handle, services.remember_choices, services.clock,
        window=timedelta(hours=config.reply_window_hours), replies_per_window=config.replies_per_window,
        max_event_age=timedelta(seconds=config.max_event_age_seconds), store_image=services.attachments.save_image_async)
    channel.seed_tokens(env.get("ZALO_OA_ACCESS_TOKEN", ""), env.get("ZALO_OA_REFRESH_TOKEN", ""))
    await channel.start()
    loop = asyncio.get_running_loop()
    processing: set[asyncio.Task] = set()

    def after_store() -> None:
        task = loop.create_task(channel.process_inbox())
        processing.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(processing.discard)

    routes.append((ZALO_OA_WEBHOOK_PATH, zalo_oa_webhook(
        channel.verify, channel.store, after_store, SIGNATURE_HEADER)))
    after_store()  # whatever arrived just before a restart (not awaited: a full disk must not hold up start)
    log.info("zalo oa: started (webhook %s)", ZALO_OA_WEBHOOK_PATH)
    return channel


async def start(services: Services, env: Mapping[str, str]) -> Running:
    """Start the configured channels, the HTTP server, the outbox worker and the timers."""
    config = services.config
    routes: list = []
    telegram = await _start_telegram(services, env, routes)
    zalo_bot = await _start_zalo_bot(services, env, routes)
    zalo_oa = await _start_zalo_oa(services, env, routes)
    # Only a machine-local server with no proxy configured lets a browser on it chat unlinked;
    # /console and /admin need a login wherever the server is bound.
    open_chat = config.web.host in LOCAL_HOSTS and not config.web.public_url and not config.web.trusted_proxies
    console_pages, web_sender, console = console_routes(services, open_chat)
    senders: dict[str, Sender] = {WEB: web_sender}
    for name, channel in ((TELEGRAM, telegram), (ZALO_BOT, zalo_bot), (ZALO_OA, zalo_oa)):
        if channel is not None:
            senders[name] = channel

    def held(delivery: Delivery) -> None:  # on the writer thread, inside the outcome's transaction
        if delivery.ticket_id is not None:
            services.engine.tickets.reply_held(delivery.ticket_id)

    worker = OutboxWorker(services.db, senders, services.clock, on_hold=held, writer=services.writer)
    loop = asyncio.get_running_loop()
    services.engine.on_outbox = None  # the writer wakes the worker once the replies are committed
    services.writer.on_commit.append(lambda: loop.call_soon_threadsafe(worker.wakeup.set))
    running = Running(worker=worker, writer=services.writer, telegram=telegram, zalo_bot=zalo_bot, zalo_oa=zalo_oa)
    running.setup_link = console.setup_link(base_url(config))

    async def health() -> tuple[bool, dict]:
        # A real write, committed, on the writer thread: proves the database takes writes now.
        fault = await loop.run_in_executor(None, services.writer.probe)
        counts = dict(services.db.execute(
            "select status, count(*) from outbox where status in ('pending', 'sending', 'unknown') "
            "group by status").fetchall())
        report = {"channels": sorted(senders), "outbox_pending": counts.get("pending", 0),
                  "outbox_in_flight": counts.get("sending", 0), "outbox_unknown": counts.get("unknown", 0),
                  "storage": "ok" if fault is None else "cannot write"}
        if fault is not None:
            report["storage_error"] = fault
        return fault is None, report

    app = create_web_app(health, routes, parse_networks(config.web.trusted_proxies))
    app.add_routes(console_pages)
    app.on_shutdown.append(console.live.close)  # open live streams end, so stopping does not wait for them
    if env.get("METRICS_TOKEN"):  # off unless a scraper has a token: nothing is open by address
        app.router.add_get("/metrics", metrics_handler(config.database, env["METRICS_TOKEN"],
                                                       services.clock))
    running.web_runner = web.AppRunner(app, access_log=None)
    await running.web_runner.setup()
    await web.TCPSite(running.web_runner, config.web.host, config.web.port).start()
    log.info("http: listening on http://%s:%s (/healthz%s)", config.web.host, config.web.port,
             "".join(f", {path}" for path, _ in routes))
    services.faq.check_in_background()  # warnings only: the bot serves meanwhile
    running.tasks = [
        asyncio.create_task(worker.run(running.stop_event)),
        asyncio.create_task(run_timers(services, running.stop_event)),
        asyncio.create_task(monthly_loop(services, running.stop_event)),
    ]
    return running


async def stop(running: Running) -> None:
    """Stop taking updates, let in-flight deliveries finish, then close everything."""
    if running.telegram is not None:
        await running.telegram.stop_updates()
    if running.zalo_bot is not None:
        await running.zalo_bot.stop_updates()
    if running.web_runner is not None:
        await running.web_runner.cleanup()
    running.stop_event.set()  # the worker finishes the round it is in, then returns
    await asyncio.gather(*running.tasks, return_exceptions=True)
    for channel in (running.telegram, running.zalo_bot, running.zalo_oa):
        if channel is not None:
            await channel.close()
    await asyncio.get_running_loop().run_in_executor(None, running.writer.close)


async def run_until_signal(services: Services, env: Mapping[str, str]) -> None:
    """`python -m bot run` with a messenger: serve until SIGINT or SIGTERM."""
    import signal

    running = await start(services, env)
    config = services.config
    running.tasks.append(asyncio.create_task(run_upkeep(config, services.clock, running.stop_event,
                                                        sorted(running.worker.senders))))
    print(f"Web console: {base_url(config)}/chat  (Ctrl+C to stop)", flush=True)
    if running.setup_link:  # on the terminal only, never in the log: it signs in as the operator
        print(f"First start, no admin account yet: open {running.setup_link} once to sign in and "
              "create it (or: python -m bot users add NAME --role admin)", flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    log.info("stopping: finishing in-flight work")
    await stop(running)
    services.close()
