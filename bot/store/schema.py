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
def m011_ticket_deadlines(db: Database) -> None:
    # Stored instants (UTC ISO text) so the once-a-minute timer reads only the
    # tickets that are due, and the queue sorts by deadline in SQL:
    # sla_due_at = the next reminder or escalation, deadline_at = the deadline
    # shown to technicians (first response, then resolution). Filled by the
    # ticket store (it knows the calendar and the SLA) at start and on each change.
    db["tickets"].add_column("sla_due_at", str)
    db["tickets"].add_column("deadline_at", str)
    db["tickets"].create_index(["status", "sla_due_at"], index_name="tickets_status_sla_due")
    db["tickets"].create_index(["status", "resolved_at"], index_name="tickets_status_resolved")
    db["tickets"].create_index(["status", "deadline_at", "id"], index_name="tickets_status_deadline")


@migrations()
def m012_ticket_search_and_figures(db: Database) -> None:
    # Full-text search over what a ticket was about and how it was solved, so a
    # technician finds how a problem was fixed before. The index follows the
    # table through triggers. Tone and vowel marks are removed by the tokenizer
    # (đ stays: the search asks for both d and đ).
    db["tickets"].enable_fts(["description", "resolution_note"], create_triggers=True,
                             tokenize="unicode61 remove_diacritics 2")
    # The admin's figures without reading every ticket and question per view:
    # recent tickets by their creation time; median times from indexes on the
    # durations themselves (SQLite walks half an index, no row is read).
    db["tickets"].create_index(["created_at", "system_id", "commune_id"], index_name="tickets_created")
    db["tickets"].create_index(["status", "commune_id"], index_name="tickets_status_commune")
    db["tickets"].create_index(["status", "system_id"], index_name="tickets_status_system")
    db.execute(
        "create index tickets_first_response_minutes on tickets "
        "((julianday(first_response_at) - julianday(created_at)) * 1440) where first_response_at is not null")
    db.execute(
        "create index tickets_resolution_minutes on tickets "
        "((julianday(resolved_at) - julianday(created_at)) * 1440) where resolved_at is not null")
    # Questions by decision and feedback, counted as they are logged and judged.
    db.execute("create table query_stats (decision text not null, feedback text not null, n integer not null, "
               "primary key (decision, feedback))")
    db.execute("insert into query_stats select coalesce(decision, ''), coalesce(feedback, ''), count(*) "
               "from query_log group by 1, 2")
    db.executescript("""
        create trigger query_stats_ai after insert on query_log begin
          insert into query_stats values (coalesce(new.decision, ''), coalesce(new.feedback, ''), 1)
            on conflict (decision, feedback) do update set n = n + 1;
        end;
        create trigger query_stats_ad after delete on query_log begin
          update query_stats set n = n - 1
            where decision = coalesce(old.decision, '') and feedback = coalesce(old.feedback, '');
        end;
        create trigger query_stats_au after update of decision, feedback on query_log begin
          update query_stats set n = n - 1
            where decision = coalesce(old.decision, '') and feedback = coalesce(old.feedback, '');
          insert into query_stats values (coalesce(new.decision, ''), coalesce(new.feedback, ''), 1)
            on conflict (decision, feedback) do update set n = n + 1;
        end;
    """)



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


@migrations()
def m040_insight(db: Database) -> None:
    # Shared outages: one incident, many linked tickets (each ticket in at most one).
    db["incidents"].create(
        {"id": int, "system_id": str, "title": str, "status": str, "opened_at": str, "opened_by": int,
         "declared": int, "resolved_at": str, "resolved_by": int, "note": str},
        pk="id", not_null={"system_id", "status", "opened_at"}, defaults={"declared": 0},
    )
    db["incidents"].create_index(["status", "system_id"])
    db["incident_tickets"].create({"ticket_id": int, "incident_id": int, "linked_at": str}, pk="ticket_id")
    db["incident_tickets"].create_index(["incident_id"])
    # Announcements and the outbox rows that carry them (for sent / held / failed counts).
    db["announcements"].create(
        {"id": int, "created_at": str, "author_id": int, "text": str, "audience": str, "recipients": int},
        pk="id", not_null={"created_at", "text", "audience"},
    )
    db["announcement_messages"].create(
        {"outbox_id": int, "announcement_id": int, "user_id": int, "channel": str}, pk="outbox_id",
    )
    db["announcement_messages"].create_index(["announcement_id"])
    # Monthly reports already sent to the admins, so a restart sends none twice.
    db["monthly_reports"].create({"month": str, "sent_at": str, "path": str}, pk="month")


@migrations()
def m050_unanswered_marks(db: Database) -> None:
    # The admin's "dismiss" and "snooze" on the unanswered list: one row per
    # accent-folded wording (bot.insight.unanswered), with who and when; a
    # snooze ends at `until`, a dismissal never does (until is null).
    db["unanswered_marks"].create(
        {"key": str, "state": str, "until": str, "by": str, "at": str, "shown": str},
        pk="key", not_null={"state", "by", "at"},
    )
    # The honest "answered" (bot.insight.answered) looks at what the same
    # official asked next, and whether they opened a ticket, soon after.
    db["query_log"].create_index(["user_id", "id"], index_name="query_log_user_id")
    db["query_log"].create_index(["at"], index_name="query_log_at")
    db["tickets"].create_index(["user_id", "created_at"], index_name="tickets_user_created")


@migrations()
def m060_canned_replies(db: Database) -> None:
    # Replies the technicians' team keeps for the common cases, picked on a ticket to fill the reply box.
    db["canned_replies"].create(
        {"id": int, "title": str, "text": str, "updated_by": str, "updated_at": str},
        pk="id", not_null={"title", "text"},
    )
    db["canned_replies"].create_index(["title", "id"])



@migrations()
def m070_outbox_due_by_channel(db: Database) -> None:
    # The delivery round's query reads only the channels this process sends on: rows
    # queued for a channel not running here (an admin's terminal, a Zalo OA not configured)
    # used to be walked, and every reply wakes a round.
    db["outbox"].create_index(["status", "channel", "next_attempt_at"], index_name="outbox_due_by_channel")

def open_database(path: Path, busy_timeout: float = BUSY_TIMEOUT) -> Store:
    """Open (creating if needed) the bot's database, in WAL mode, fully migrated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(path, busy_timeout)
    migrations.apply(db)
    return db
