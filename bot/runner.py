"""Running the bot: every configured channel, the outbox worker and the timers, until stopped.

Secrets arrive here from the environment (read once by the command line) and
go no further than the channel that needs them; a logging filter blanks them
out of every log line, including the HTTP client's.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from bot.app import Services, run_timers
from bot.channels.telegram import CHANNEL as TELEGRAM, TelegramChannel
from bot.outbox import OutboxWorker, Sender
from bot.web import TELEGRAM_WEBHOOK_PATH, create_web_app

log = logging.getLogger(__name__)


class RedactSecrets(logging.Filter):
    """Replaces every secret in a log record's message with '***'."""

    def __init__(self, secrets_: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets_ if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def configure_logging(level: int, secrets_: list[str]) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact = RedactSecrets(secrets_)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL, token included


@dataclass
class Running:
    """What `start` brought up, for `stop` to bring down in order."""

    worker: OutboxWorker
    tasks: list[asyncio.Task] = field(default_factory=list)
    telegram: TelegramChannel | None = None
    web_runner: web.AppRunner | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)


def telegram_chats(services: Services) -> tuple[list[str], list[str]]:
    """Technicians' group chats and admins' private chats on Telegram, for command menus."""
    groups = [ref.split(":", 1)[1] for refs in services.config.queues.values() for ref in refs
              if ref.startswith(f"{TELEGRAM}:")]
    admins = [ref.split(":", 1)[1] for ref in services.config.people.admins if ref.startswith(f"{TELEGRAM}:")]
    return groups, admins


async def start(services: Services, env: Mapping[str, str]) -> Running:
    """Start the configured channels, the HTTP server, the outbox worker and the timers."""
    config = services.config
    senders: dict[str, Sender] = {}
    telegram = None
    token = env.get("TELEGRAM_BOT_TOKEN", "")
    webhook_secret = None
    if token:
        base = env.get("TELEGRAM_API_BASE_URL") or config.telegram.api_base_url
        use_webhook = bool(config.telegram.webhook_url)
        telegram = TelegramChannel(token, base, services.db, services.engine.handle, services.clock,
                                   config.telegram.poll_timeout, webhook=use_webhook)
        await telegram.start(polling=not use_webhook)
        groups, admins = telegram_chats(services)
        await telegram.set_commands(groups, admins)
        if use_webhook:
            webhook_secret = env.get("TELEGRAM_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
            await telegram.set_webhook(config.telegram.webhook_url, webhook_secret)
        senders[TELEGRAM] = telegram
        log.info("telegram: started (%s)", "webhook" if use_webhook else "long polling")
    worker = OutboxWorker(services.db, senders, services.clock)
    services.engine.on_outbox = worker.wakeup.set
    running = Running(worker=worker, telegram=telegram)

    def health() -> dict:
        pending = services.db.execute("select count(*) from outbox where status = 'pending'").fetchone()[0]
        return {"channels": sorted(senders), "outbox_pending": pending}

    app = create_web_app(health, telegram.process_webhook if telegram and webhook_secret else None,
                         webhook_secret)
    running.web_runner = web.AppRunner(app, access_log=None)
    await running.web_runner.setup()
    await web.TCPSite(running.web_runner, config.web.host, config.web.port).start()
    log.info("http: listening on http://%s:%s (/healthz%s)", config.web.host, config.web.port,
             f", {TELEGRAM_WEBHOOK_PATH}" if webhook_secret else "")
    running.tasks = [
        asyncio.create_task(worker.run(running.stop_event)),
        asyncio.create_task(run_timers(services, running.stop_event)),
    ]
    return running


async def stop(running: Running) -> None:
    """Stop taking updates, let in-flight deliveries finish, then close everything."""
    if running.telegram is not None:
        await running.telegram.stop_updates()
    if running.web_runner is not None:
        await running.web_runner.cleanup()
    running.stop_event.set()  # the worker finishes the round it is in, then returns
    await asyncio.gather(*running.tasks, return_exceptions=True)
    if running.telegram is not None:
        await running.telegram.close()


async def run_until_signal(services: Services, env: Mapping[str, str]) -> None:
    """`python -m bot run` with a messenger: serve until SIGINT or SIGTERM."""
    import signal

    running = await start(services, env)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    log.info("stopping: finishing in-flight work")
    await stop(running)
    services.db.close()
