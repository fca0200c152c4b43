"""Log hygiene: a line that repeats is written a few times, then counted, not repeated.

A fault that makes the bot retry (an API answering 500, a full disk) makes it
log the same line again and again; at hundreds a second that fills the disk
and buries the first, useful line. Lines are grouped by logger, level and
text with its numbers blanked ("retrying in 2.1 s" and "retrying in 4.3 s"
are one line); within `window` seconds the first `burst` go through, the rest
are counted, and the next one written after the window says how many were held
back: "… (repeated 230 times)".
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

_NUMBERS = re.compile(r"\d+(?:\.\d+)?")
MAX_KEYS = 1000


class RepeatFilter(logging.Filter):
    def __init__(self, window: float = 10.0, burst: int = 3,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.burst = burst
        self.clock = clock
        self.seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [window start, passed, held]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format is logging's business, not ours
            return True
        key = (record.name, record.levelno, _NUMBERS.sub("#", text))
        now = self.clock()
        entry = self.seen.get(key)
        if entry is None or now - entry[0] >= self.window:
            held = int(entry[2]) if entry is not None else 0
            if len(self.seen) >= MAX_KEYS:
                self.seen.clear()
            self.seen[key] = [now, 1, 0]
            if held:
                record.msg, record.args = f"{text} (repeated {held} times)", None
            return True
        if entry[1] < self.burst:
            entry[1] += 1
            return True
        entry[2] += 1
        return False
