"""What several channel adapters share."""

from __future__ import annotations

import random
from collections.abc import Callable

from bot.models import valid_text
from bot.store.database import is_unavailable


def split_text(text: str, limit: int = 4096) -> list[str]:
    """Pieces of at most `limit` characters, cut at line breaks where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one enormous line: cut it hard
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current or not pieces:
        pieces.append(current)
    return pieces


def clean_text(value: object) -> str:
    """Text from a platform as a plain str, each invalid code point (a lone surrogate, which
    nothing downstream can store or send) replaced by U+FFFD."""
    return valid_text(value if isinstance(value, str) else ("" if value is None else str(value)))


def as_dict(value: object) -> dict:
    """`value` if it is a JSON object, else an empty one: platform payloads are not trusted."""
    return value if isinstance(value, dict) else {}


def as_ref(value: object) -> str:
    """A platform id as text; anything but a plain string or number is no id."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return clean_text(value)


def is_storage_fault(exc: BaseException) -> bool:
    """True when handling failed because the database could not be used (disk full,
    read-only, locked, I/O error): the update must not be acknowledged, so it comes again.
    Other errors, database ones included (a constraint our code broke), are the update's
    or our bug: the update is quarantined."""
    return is_unavailable(exc)


BACKOFF_FIRST = 1.0  # seconds after the first failure of a poll loop
BACKOFF_CAP = 60.0  # and never more than this (unless the platform asks for longer)


class Backoff:
    """Exponential back-off for a poll loop: 1, 2, 4 … seconds up to `cap`, reset on success.

    A platform's own `retry_after` wins when it asks for longer. A little jitter keeps
    several bots from hammering an API that comes back at the same instant.
    """

    def __init__(self, first: float | None = None, cap: float | None = None, jitter: float = 0.1,
                 rand: Callable[[], float] = random.random) -> None:
        self.first = BACKOFF_FIRST if first is None else first
        self.cap = BACKOFF_CAP if cap is None else cap
        self.jitter = jitter
        self.rand = rand
        self.failures = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        """The pause before the next try, counting this failure."""
        self.failures += 1
        delay = min(self.cap, self.first * 2 ** (self.failures - 1))
        delay *= 1 + self.jitter * self.rand()
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        return delay

    def reset(self) -> None:
        self.failures = 0


class StartError(Exception):
    """A channel cannot start. Its message is one line naming the cause and the setting
    to check, and never contains a secret (it is printed as is)."""
