"""The terminal as a channel: `python -m bot chat` talks to the real core and database.

Choices are shown as numbered lines, as they will be on Zalo; typing the
number picks the choice. Messages that arrive later (a technician's reply
from `python -m bot tickets`) are printed as the outbox delivers them.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO

from bot import messages as msg
from bot.models import Choice, Delivery, Incoming, Reply
from bot.store.outbox import OutboxWorker

CHANNEL = "terminal"


def render_numbered(reply: Reply) -> str:
    """A reply as plain text, its choices as numbered lines ("1. …")."""
    lines = [reply.text]
    if reply.photos:
        lines.append(f"[{len(reply.photos)} ảnh]")
    if reply.choices:  # set apart, so an answer's numbered steps are not read as choices
        lines.append(msg.CHOICES_NUMBERED)
    lines += [f"  {n}. {choice.label}" for n, choice in enumerate(reply.choices, 1)]
    return "\n".join(lines)


class TerminalSender:
    """Prints the deliveries meant for this terminal's chat."""

    def __init__(self, chat_ref: str, out: TextIO,
                 remember_choices: Callable[[str, str, Sequence[Choice]], None]) -> None:
        self.chat_ref = chat_ref
        self.out = out
        self.remember_choices = remember_choices

    def accepts(self, chat_ref: str) -> bool:
        return chat_ref == self.chat_ref

    async def send(self, delivery: Delivery) -> None:
        self.out.write("\n" + render_numbered(delivery.reply) + "\n")
        self.out.flush()
        if delivery.reply.choices:
            self.remember_choices(CHANNEL, delivery.chat_ref, delivery.reply.choices)


async def chat_loop(handle: Callable[[Incoming], Awaitable[object]], worker: OutboxWorker, user_ref: str,
                    stdin: TextIO = sys.stdin, out: TextIO = sys.stdout, poll_seconds: float = 1.0,
                    background: Callable[[asyncio.Event], Awaitable[None]] | None = None) -> None:
    """Read lines until end of input; deliver the outbox after each and every `poll_seconds`."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    delivering = asyncio.create_task(worker.run(stop, idle_seconds=poll_seconds))
    timers = asyncio.create_task(background(stop)) if background is not None else None
    try:
        while True:
            out.write("> ")
            out.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if text.strip():
                await handle(Incoming(CHANNEL, user_ref, user_ref, text=text, display_name=user_ref))
                await worker.run_once()
    finally:
        await worker.run_once()
        stop.set()
        await delivering
        if timers is not None:
            await timers
