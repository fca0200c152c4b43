"""Limits on guessing: failed attempts counted per key, refused for a while after too many.

A key is whatever the guesser cannot change for free: the client's address,
or the account name being tried. After `Limit.attempts` failures within
`Limit.window` the key is refused for `Limit.lockout`; each further lockout
doubles (back-off) up to `Limit.max_lockout`, and a key that stays quiet for
`max_lockout` after its last lockout starts afresh.

State lives in memory: one server process answers every login, and a restart
(which an attacker cannot cause from a login form) only forgets counts. The
number of keys is bounded, so a flood of addresses cannot grow it without
end; the oldest quiet keys go first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Limit:
    attempts: int
    window: timedelta
    lockout: timedelta
    max_lockout: timedelta


@dataclass
class _Record:
    failures: list[datetime] = field(default_factory=list)
    locked_until: datetime | None = None
    lockouts: int = 0


class Attempts:
    """Failed attempts per key, with doubling lockouts."""

    def __init__(self, limit: Limit, clock: Callable[[], datetime], max_keys: int = 50_000) -> None:
        self.limit = limit
        self.clock = clock
        self.max_keys = max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def refused_for(self, key: str) -> timedelta | None:
        """How long `key` is still refused, or None if it may try now."""
        record = self._records.get(key)
        if record is None or record.locked_until is None:
            return None
        left = record.locked_until - self.clock()
        return left if left > timedelta(0) else None

    def failed(self, key: str) -> timedelta | None:
        """Count a failure; returns the lockout it triggered, if any."""
        now = self.clock()
        record = self._records.pop(key, None) or _Record()
        self._records[key] = record  # most recently seen last: eviction takes the front
        if record.locked_until is not None and now - record.locked_until > self.limit.max_lockout:
            record.lockouts = 0  # quiet long enough since the last lockout: start afresh
        record.failures = [at for at in record.failures if now - at < self.limit.window] + [now]
        lockout = None
        if len(record.failures) >= self.limit.attempts:
            lockout = min(self.limit.lockout * 2 ** record.lockouts, self.limit.max_lockout)
            record.lockouts += 1
            record.locked_until = now + lockout
            record.failures = []
        self._evict()
        return lockout

    def succeeded(self, key: str) -> None:
        """A right answer clears the key's failures (not a lockout in force)."""
        record = self._records.get(key)
        if record is not None and self.refused_for(key) is None:
            del self._records[key]

    def _evict(self) -> None:
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)
