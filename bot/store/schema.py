"""The SQLite database: opening it (WAL) and its schema, as sqlite-utils migrations.

Migrations only ever add: a new column or table is a new function at the end,
so a database from any earlier version upgrades itself at start-up.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.store.database import BUSY_TIMEOUT, Store, connect

migrations = Migrations("xa-helpdesk")


@migrations()
def m001_people(db: Database) -> None:
    db["users"].create(
        {
            "id": int, "created_at": str, "full_name": str, "job_title": str, "phone": str,
            "commune_id": str, "role": str, "status": str, "unreachable": int,
        },
        pk="id",
        defaults={"role": "staff", "status": "new", "unreachable": 0},
        not_null={"created_at", "role", "status"},
    )
    # One person may write from several channels; each (channel, platform id) is an identity.
    db["identities"].create(
        {"channel": str, "user_ref": str, "user_id": int, "chat_ref": str, "display_name": str,
         "created_at": str, "last_seen_at": str},
        pk=("channel", "user_ref"),
        foreign_keys=[("user_id", "users", "id")],
        not_null={"user_id", "chat_ref"},
    )
    db["identities"].create_index(["user_id"])


@migrations()
def m002_conversations(db: Database) -> None:
    db["conversations"].create(
        {"channel": str, "user_ref": str, "state": str, "data": str, "updated_at": str},
        pk=("channel", "user_ref"),
        not_null={"state"},
    )
    db["messages"].create(
        {"id": int, "user_id": int, "at": str, "direction": str, "channel": str, "text": str,
         "ticket_id": int},
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
    )
    db["messages"].create_index(["user_id", "id"])
    db["processed_updates"].create(
        {"channel": str, "update_id": str, "at": str}, pk=("channel", "update_id")
    )


@migrations()
def m003_tickets(db: Database) -> None:
    db["tickets"].create(
        {
            "id": int, "user_id": int, "channel": str, "commune_id": str, "system_id": str,
            "queue_id": str, "status": str, "urgency": str, "description": str,
            "assignee_id": int, "transcript": str, "created_at": str, "updated_at": str,
            "first_response_at": str, "resolved_at": str, "closed_at": str,
            "resolution_note": str, "rating": int, "last_activity_at": str,
            "sla_stage": int,
        },
        pk="id",
        foreign_keys=[("user_id", "users", "id"), ("assignee_id", "users", "id")],
        not_null={"user_id", "status", "created_at"},
        defaults={"sla_stage": 0},
    )
    db["tickets"].create_index(["status"])
    db["tickets"].create_index(["user_id"])
    db["ticket_events"].create(
        {"id": int, "ticket_id": int, "at": str, "actor_id": int, "kind": str, "text": str,
         "internal": int, "data": str},
        pk="id",
        foreign_keys=[("ticket_id", "tickets", "id"), ("actor_id", "users", "id")],
        not_null={"ticket_id", "at", "kind"},
        defaults={"internal": 0},
    )
    db["ticket_events"].create_index(["ticket_id", "id"])
    db["attachments"].create(
        {"id": int, "ticket_id": int, "event_id": int, "channel": str, "file_ref": str,
         "kind": str, "caption": str, "created_at": str},
        pk="id",
        foreign_keys=[("ticket_id", "tickets", "id")],
        not_null={"ticket_id", "file_ref"},
    )
    db["attachments"].create_index(["ticket_id"])


@migrations()
def m004_query_log(db: Database) -> None:
    db["query_log"].create(
        {"id": int, "at": str, "user_id": int, "channel": str, "query": str, "decision": str,
         "entry_id": str, "score": float, "candidates": str, "feedback": str},
        pk="id",
    )
    db["query_log"].create_index(["decision"])


@migrations()
def m005_outbox(db: Database) -> None:
    db["outbox"].create(
        {"id": int, "created_at": str, "channel": str, "chat_ref": str, "user_id": int,
         "ticket_id": int, "payload": str, "status": str, "attempts": int,
         "next_attempt_at": str, "last_error": str, "sent_at": str},
        pk="id",
        not_null={"channel", "chat_ref", "payload", "status", "created_at", "next_attempt_at"},
        defaults={"status": "pending", "attempts": 0},
    )
    db["outbox"].create_index(["status", "next_attempt_at"])


@migrations()
def m006_channel_messages(db: Database) -> None:
    # What the bot posted where: to edit a ticket card in place, and to know which
    # ticket a technician means when they reply to one of the bot's messages.
    db["channel_messages"].create(
        {"channel": str, "chat_ref": str, "message_ref": str, "ticket_id": int, "key": str,
         "created_at": str},
        pk=("channel", "chat_ref", "message_ref"),
    )
    db["channel_messages"].create_index(["channel", "chat_ref", "key"])


@migrations()
def m007_zalo_oa(db: Database) -> None:
    # The OA's tokens: the refresh token is single-use, so each refresh's result is
    # written at once, both tokens in one row, in one transaction.
    db["oa_tokens"].create(
        {"id": int, "access_token": str, "refresh_token": str, "expires_at": str, "updated_at": str},
        pk="id",
    )
    # Webhook events stored before Zalo gets its 200, processed right after.
    db["inbox"].create(
        {"channel": str, "event_id": str, "payload": str, "received_at": str, "status": str},
        pk=("channel", "event_id"),
        defaults={"status": "pending"},
    )
    db["inbox"].create_index(["status"])
    # Zalo OA's reply window: 8 free replies within 48 h of the user's last message.
    db["reply_windows"].create(
        {"channel": str, "chat_ref": str, "last_user_at": str, "last_message_id": str, "replies": int},
        pk=("channel", "chat_ref"),
        defaults={"replies": 0},
    )


@migrations()
def m008_web_console(db: Database) -> None:
    # Messages for browser chats (the web channel's "delivery" is storing them here).
    db["web_messages"].create(
        {"id": int, "chat_ref": str, "from_bot": int, "payload": str, "at": str}, pk="id",
    )
    db["web_messages"].create_index(["chat_ref", "id"])
    # Console accounts (technicians and admins) when the console is reachable from the network.
    db["accounts"].create(
        {"username": str, "password_hash": str, "user_id": int, "created_at": str}, pk="username",
    )
    db["web_sessions"].create(
        {"token": str, "username": str, "chat_ref": str, "csrf": str, "created_at": str, "expires_at": str},
        pk="token",
    )
    # One-time codes an official gets from the bot to use the web chat as themselves.
    db["link_codes"].create({"code": str, "user_id": int, "expires_at": str}, pk="code")


@migrations()
def m009_ops_alerts(db: Database) -> None:
    # When each kind of operational alert last went to the admins, so one fault is one message.
    db["ops_alerts"].create({"kind": str, "last_at": str, "text": str}, pk="kind")


@migrations()
def m010_faq_edits(db: Database) -> None:
    # Every FAQ edit made in the console: the file's text before and after, for the diff and revert.
    db["faq_edits"].create(
        {"id": int, "at": str, "who": str, "entry_id": str, "action": str, "file": str,
         "before": str, "after": str, "diff": str},
        pk="id", not_null={"at", "who", "action", "file"},
    )
    db["faq_edits"].create_index(["entry_id", "id"])


@migrations()
def m030_storage_probe(db: Database) -> None:
    # One row that /healthz rewrites to prove the database can still be written.
    db["storage_probe"].create({"id": int, "at": str}, pk="id")


@migrations()
def m031_outbox_in_flight(db: Database) -> None:
    # A send is marked 'sending' (with when it started) before the request goes out, so
    # after a crash the rows still 'sending' are exactly those whose fate is unknown;
    # in_doubt counts such attempts (a stop mid-send, or a request that got no answer).
    db["outbox"].add_column("attempt_started_at", str)
    db["outbox"].add_column("in_doubt", int, not_null_default=0)


@migrations()
def m032_quarantine(db: Database) -> None:
    # Updates no channel could parse or handle, kept raw for an admin to look at; the
    # platform got its acknowledgement so the updates behind them keep flowing.
    db["quarantine"].create(
        {"id": int, "channel": str, "update_ref": str, "received_at": str, "error": str, "payload": str},
        pk="id",
        not_null={"channel", "received_at", "payload"},
    )


def open_database(path: Path, busy_timeout: float = BUSY_TIMEOUT) -> Store:
    """Open (creating if needed) the bot's database, in WAL mode, fully migrated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(path, busy_timeout)
    migrations.apply(db)
    return db
