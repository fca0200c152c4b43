"""Quarantine: updates a channel could not parse or handle, kept raw instead of retried forever.

A platform redelivers what we do not acknowledge. One update that our library
cannot parse (or that breaks our own code) would then come back for ever and
block every update behind it. So such an update is stored here, as received,
with the error; the channel acknowledges it and goes on. Admins list them with
`python -m bot quarantine list`. A storage fault is different: then nothing is
acknowledged (the update must come again once the database works).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlite_utils import Database

log = logging.getLogger(__name__)

MAX_PAYLOAD = 64 * 1024  # characters kept of one raw update
PAGE = 50


def _raw(payload: Any) -> str:
    if isinstance(payload, bytes | bytearray):
        text = bytes(payload).decode("utf-8", "replace")
    elif isinstance(payload, str):
        text = payload
    else:
        try:
            text = json.dumps(payload, ensure_ascii=False, default=repr)
        except ValueError:  # a circular structure: keep what repr can show
            text = repr(payload)
    return text.encode("utf-8", "replace").decode("utf-8")[:MAX_PAYLOAD]


def quarantine(db: Database, now: datetime, channel: str, update_ref: str | None,
               payload: Any, error: BaseException | str) -> int:
    """Keep one unusable update; returns its quarantine id. Logged once, without a traceback
    (the payload is what an admin needs, and a poisoned update must not flood the log)."""
    reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    reason = reason.encode("utf-8", "replace").decode("utf-8")[:500]
    with db.atomic():
        table = db["quarantine"]
        table.insert({"channel": channel, "update_ref": update_ref, "received_at": now.isoformat(),
                      "error": reason, "payload": _raw(payload)})
        row_id = int(table.last_pk)  # type: ignore[arg-type]
    log.error("%s: update %s could not be handled and is quarantined as #%d (%s); "
              "list with: python -m bot quarantine list", channel, update_ref or "?", row_id, reason)
    return row_id


def listing(db: Database, before: int | None = None, limit: int = PAGE) -> list[dict]:
    """Quarantined updates, newest first, one page at a time (`before` = the last id seen)."""
    if "quarantine" not in db.table_names():
        return []
    where, args = ("id < ?", [before]) if before is not None else (None, [])
    return list(db["quarantine"].rows_where(where, args, order_by="id desc", limit=limit))


def describe(row: dict, width: int = 160) -> str:
    """One line for a listing: id, when, channel, update, error, the start of the payload."""
    payload = " ".join(str(row["payload"]).split())
    if len(payload) > width:
        payload = payload[:width] + "…"
    return (f"#{row['id']} {row['received_at'][:19]} {row['channel']} update {row['update_ref'] or '?'}: "
            f"{row['error']}\n    {payload}")

