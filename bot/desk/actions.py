"""The technicians' and admins' side of the conversation: commands, card buttons, replies.

Every action is checked against the actor's role by the ticket store or here;
a staff user who types a technician command is told so and nothing changes.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlite_utils import Database

from bot import messages as msg
from bot.desk.incidents import COMMANDS as INCIDENT_COMMANDS
from bot.desk.incidents import Incidents
from bot.desk.people import People, Person
from bot.desk.state import State
from bot.desk.tickets import TicketError, TicketStore
from bot.insight.answered import answered_lately
from bot.insight.unanswered import collect
from bot.knowledge.live import Faq
from bot.models import Choice, Incoming, Reply
from bot.store.outbox import enqueue

COMMAND_ROWS = 500  # logged questions /chuatraloi reads at most (on the writer thread: it must stay quick)

DESK_COMMANDS = {
    "ds": "queue", "queue": "queue",
    "xem": "show", "show": "show",
    "nhan": "claim", "claim": "claim",
    "giao": "assign", "assign": "assign",
    "chuyen": "transfer", "transfer": "transfer",
    "traloi": "reply", "reply": "reply",
    "ghichu": "note", "note": "note",
    "cho": "wait", "wait": "wait",
    "xong": "resolve", "resolve": "resolve",
    "mo": "reopen", "reopen": "reopen",
}
# Ticket commands taking a number and a text: store method, confirmation, text required.
TICKET_TEXT_COMMANDS = {
    "reply": ("reply", msg.REPLY_RELAYED, True),
    "note": ("note", msg.NOTE_SAVED, True),
    "resolve": ("resolve", msg.YOU_RESOLVED, True),
    "wait": ("wait_for_user", msg.NOW_WAITING, False),
    "reopen": ("reopen", msg.YOU_REOPENED, False),
}
ADMIN_COMMANDS = {
    "taifaq": "reload", "reload": "reload",
    "chuatraloi": "unanswered", "unanswered": "unanswered",
    "thongke": "stats", "stats": "stats",
    "cachly": "quarantine", "quarantine": "quarantine",
    "capquyen": "grant", "grant": "grant",
    "thuhoi": "revoke", "revoke": "revoke",
    "duyet": "approve", "approve": "approve",
    "tuchoi": "reject", "reject": "reject",
}


class Desk:
    """Technician and admin actions, channel-independent."""

    def __init__(self, db: Database, faq: Faq, people: People, tickets: TicketStore,
                 clock: Callable[[], datetime], incidents: Incidents | None = None) -> None:
        self.incidents = incidents
        self.db = db
        self.faq = faq
        self.people = people
        self.tickets = tickets
        self.clock = clock

    @staticmethod
    def is_desk_command(word: str) -> bool:
        return word in DESK_COMMANDS or word in ADMIN_COMMANDS or word in INCIDENT_COMMANDS

    # -- entry points from the engine ---------------------------------------------

    def on_command(self, word: str, rest: str, actor: Person, state: State) -> list[Reply] | None:
        """Replies for a technician/admin command, or None when the word is not one."""
        if word in INCIDENT_COMMANDS and self.incidents is not None:
            return self.incidents.command(word, rest, actor)
        command = DESK_COMMANDS.get(word) or ADMIN_COMMANDS.get(word)
        if command is None:
            return None
        if word in ADMIN_COMMANDS and not actor.is_admin:
            return [Reply(msg.NOT_AN_ADMIN)]
        try:
            if command in TICKET_TEXT_COMMANDS:
                return [self._ticket_text_command(command, rest, actor)]
            return getattr(self, f"_cmd_{command}")(rest, actor, state)
        except TicketError as exc:
            return [Reply(str(exc))]
        except (ValueError, IndexError):
            return [Reply(msg.COMMAND_USAGE[command])]

    def on_action(self, kind: str, arg: str, actor: Person, state: State) -> list[Reply]:
        if kind in ("approve", "reject"):
            if not actor.is_admin:
                return [Reply(msg.NOT_AN_ADMIN)]
            return self._decide_registration(int(arg), actor, approve=kind == "approve")
        if not actor.is_technician:
            return [Reply(msg.NOT_A_TECHNICIAN)]
        ticket_id = int(arg)
        if kind == "claim":
            ticket = self.tickets.claim(ticket_id, actor)
            return [Reply(msg.YOU_CLAIMED.format(code=ticket.code))]
        if kind == "resolve":
            self.tickets.get(ticket_id)
            state.name, state.data = "resolve_note", {"ticket": ticket_id}
            return [Reply(msg.ASK_RESOLUTION_NOTE.format(code=f"#{ticket_id}"), (Choice(msg.BTN_CANCEL, "cancel"),))]
        return [self.show(ticket_id, actor)]

    def on_text(self, inc: Incoming, actor: Person, state: State) -> list[Reply]:
        """Free text from a technician: a resolution note, or a reply to a ticket's card."""
        text = inc.text.strip()
        if state.name == "resolve_note":
            ticket_id = state.data["ticket"]
            state.name, state.data = "idle", {}
            if not text:
                return [Reply(msg.EMPTY_REPLY)]
            try:
                ticket = self.tickets.resolve(ticket_id, actor, text)
            except TicketError as exc:
                return [Reply(str(exc))]
            return [Reply(msg.YOU_RESOLVED.format(code=ticket.code))]
        assert inc.about_ticket is not None
        try:
            ticket = self.tickets.reply(inc.about_ticket, actor, text)
        except TicketError as exc:
            return [Reply(str(exc))]
        return [Reply(msg.REPLY_RELAYED.format(code=ticket.code))]

    # -- technician commands ---------------------------------------------------------

    def _cmd_queue(self, rest: str, actor: Person, state: State) -> list[Reply]:
        tickets = self.tickets.queue(actor)
        if not tickets:
            return [Reply(msg.QUEUE_EMPTY)]
        lines = [msg.QUEUE_TITLE.format(n=len(tickets))]
        for t in tickets[:30]:
            lines.append(msg.QUEUE_LINE.format(
                code=t.code, status=self.tickets.status_label(t), urgency=msg.URGENCY_SHORT[t.urgency],
                system=self.tickets.system_name(t.system_id), commune=self.tickets.commune_name(t.commune_id),
                description=" ".join(t.description.split())[:60]))
        return [Reply("\n".join(lines))]

    def show(self, ticket_id: int, actor: Person) -> Reply:
        ticket = self.tickets.visible_to(ticket_id, actor)
        card = self.tickets.card(ticket)
        lines = [card.text, "", msg.HISTORY]
        for event in self.tickets.events(ticket.id, include_internal=actor.is_technician):
            who = self._name(event["actor_id"])
            label = msg.EVENT_LABELS.get(event["kind"], event["kind"])
            lines.append(f"{event['at'][5:16].replace('T', ' ')} {who} {label}: {event['text'] or ''}".rstrip(": "))
        transcript = self.tickets.transcript(ticket.id)
        if transcript:
            lines += ["", msg.TRANSCRIPT]
            lines += [f"{msg.TRANSCRIPT_WHO[m['direction']]}: {m['text'][:200]}"
                      if m["direction"] in msg.TRANSCRIPT_WHO else m["text"] for m in transcript]
        return Reply("\n".join(lines)[:3900], card.choices, photos=card.photos)

    def _name(self, user_id: int | None) -> str:
        if user_id is None:
            return msg.SYSTEM_ACTOR
        person = self.people.get(user_id)
        return person.full_name or f"#{person.id}"

    def _ticket_text_command(self, command: str, rest: str, actor: Person) -> Reply:
        """`/traloi N text`, `/ghichu N text`, `/xong N note`, `/cho N [text]`, `/mo N [text]`."""
        method, done, text_required = TICKET_TEXT_COMMANDS[command]
        number, _, text = rest.strip().partition(" ")
        if text_required and not text.strip():
            raise ValueError(command)
        ticket = getattr(self.tickets, method)(_ticket_id(number), actor, text.strip())
        return Reply(done.format(code=ticket.code))

    def _cmd_show(self, rest: str, actor: Person, state: State) -> list[Reply]:
        return [self.show(_ticket_id(rest), actor)]

    def _cmd_claim(self, rest: str, actor: Person, state: State) -> list[Reply]:
        ticket = self.tickets.claim(_ticket_id(rest), actor)
        return [Reply(msg.YOU_CLAIMED.format(code=ticket.code))]

    def _cmd_assign(self, rest: str, actor: Person, state: State) -> list[Reply]:
        number, ref = rest.split(maxsplit=1)
        channel, _, user_ref = ref.strip().partition(":")
        to = self.people.find(channel, user_ref)
        if to is None:
            raise TicketError(msg.UNKNOWN_PERSON.format(ref=ref))
        ticket = self.tickets.assign(_ticket_id(number), actor, to)
        return [Reply(msg.ASSIGNED.format(code=ticket.code, name=to.full_name or ref))]

    def _cmd_transfer(self, rest: str, actor: Person, state: State) -> list[Reply]:
        number, queue = rest.split(maxsplit=1)
        ticket = self.tickets.transfer(_ticket_id(number), actor, queue.strip())
        return [Reply(msg.TRANSFERRED.format(code=ticket.code, queue=queue.strip()))]

    # -- admin commands -----------------------------------------------------------------

    def _cmd_reload(self, rest: str, actor: Person, state: State) -> list[Reply]:
        ok, problems = self.faq.reload()
        listed = "\n".join(str(p) for p in problems[:20])
        if not ok:
            return [Reply(msg.RELOAD_REFUSED.format(problems=listed))]
        text = msg.RELOADED.format(entries=len(self.faq.kb.entries))
        return [Reply(text + ("\n" + listed if listed else ""))]

    def _cmd_unanswered(self, rest: str, actor: Person, state: State) -> list[Reply]:
        # The admin page's list (no noise, no tickets, personal data masked) over the newest questions only:
        # this runs on the writer thread, which must stay quick.
        clusters = collect(self.db.conn, self.clock(), max_rows=COMMAND_ROWS)
        if not clusters:
            return [Reply(msg.NOTHING_UNANSWERED)]
        lines = [msg.UNANSWERED_TITLE]
        for cluster in clusters[:20]:
            why = cluster.why.most_common(1)[0][0]
            lines.append(msg.UNANSWERED_LINE.format(n=cluster.count, query=cluster.text[:80],
                                                    why=msg.FEEDBACK_LABELS.get(why, why)))
        return [Reply("\n".join(lines))]

    def _cmd_quarantine(self, rest: str, actor: Person, state: State) -> list[Reply]:
        """The latest updates no channel could handle (the full list: python -m bot quarantine list)."""
        rows = list(self.db.query("select id, channel, update_ref, received_at, error from quarantine "
                                  "order by id desc limit 10")) if "quarantine" in self.db.table_names() else []
        if not rows:
            return [Reply(msg.NOTHING_QUARANTINED)]
        total = self.db.execute("select count(*) from quarantine").fetchone()[0]
        lines = [msg.QUARANTINE_TITLE.format(n=total)]
        lines += [msg.QUARANTINE_LINE.format(id=r["id"], at=r["received_at"][:16].replace("T", " "),
                                             channel=r["channel"], update=r["update_ref"] or "?",
                                             error=r["error"][:80]) for r in rows]
        return [Reply("\n".join(lines))]

    def _cmd_stats(self, rest: str, actor: Person, state: State) -> list[Reply]:
        return [Reply(stats_text(self.db, self.tickets, self.clock()))]

    def _cmd_grant(self, rest: str, actor: Person, state: State) -> list[Reply]:
        ref, role = rest.split()
        if role not in ("technician", "admin", "staff"):
            raise ValueError(role)
        person = self._person_by_ref(ref)
        self.people.update(person.id, role=role, status="active" if role != "staff" else person.status)
        return [Reply(msg.ROLE_SET.format(ref=ref, role=msg.ROLE_LABELS[role]))]

    def _cmd_revoke(self, rest: str, actor: Person, state: State) -> list[Reply]:
        ref = rest.split()[0]
        person = self._person_by_ref(ref)
        if person.id == actor.id:
            raise TicketError(msg.CANNOT_REVOKE_SELF)
        self.people.update(person.id, role="staff")
        return [Reply(msg.ROLE_SET.format(ref=ref, role=msg.ROLE_LABELS["staff"]))]

    def _person_by_ref(self, ref: str) -> Person:
        channel, _, user_ref = ref.partition(":")
        person = self.people.find(channel, user_ref)
        if person is None:
            raise TicketError(msg.UNKNOWN_PERSON.format(ref=ref))
        return person

    def _cmd_approve(self, rest: str, actor: Person, state: State) -> list[Reply]:
        return self._decide_registration(int(rest.split()[0]), actor, approve=True)

    def _cmd_reject(self, rest: str, actor: Person, state: State) -> list[Reply]:
        return self._decide_registration(int(rest.split()[0]), actor, approve=False)

    # -- registrations -------------------------------------------------------------------

    def ask_admins_to_approve(self, person: Person, commune: str) -> None:
        text = msg.APPROVAL_REQUEST.format(id=person.id, name=person.full_name, title=person.job_title,
                                           commune=commune, phone=person.phone)
        choices = (Choice(msg.BTN_APPROVE, f"approve:{person.id}"), Choice(msg.BTN_REJECT, f"reject:{person.id}"))
        for channel, chat in self.tickets.admin_targets():
            enqueue(self.db, self.clock(), channel, chat, Reply(text, choices))

    def _decide_registration(self, user_id: int, actor: Person, approve: bool) -> list[Reply]:
        person = self.people.get(user_id)
        if person.status != "pending":
            return [Reply(msg.NOT_PENDING.format(id=user_id))]
        person = self.people.update(user_id, status="active" if approve else "rejected")
        target = self.people.chat_on(user_id, None)
        if target is not None:
            enqueue(self.db, self.clock(), target.channel, target.chat_ref,
                    Reply(msg.YOU_ARE_APPROVED if approve else msg.YOU_ARE_REJECTED), user_id=user_id)
        return [Reply((msg.APPROVED if approve else msg.REJECTED).format(id=user_id, name=person.full_name))]


def _ticket_id(text: str) -> int:
    return int(text.strip().split()[0].lstrip("#"))


def stats_text(db: Database, tickets: TicketStore, now: datetime) -> str:
    """Counts an admin asks for first: tickets by status and system, questions answered (last 30 days), times."""
    by_status = Counter(r["status"] for r in db.query("select status from tickets"))
    by_system = Counter(r["system_id"] for r in db.query("select system_id from tickets"))
    total = db.execute("select count(*) from query_log").fetchone()[0]
    recent = answered_lately(db.conn, now)
    firsts = [
        (datetime.fromisoformat(r["first_response_at"]) - datetime.fromisoformat(r["created_at"])).total_seconds() / 60
        for r in db.query("select created_at, first_response_at from tickets where first_response_at is not null")
    ]
    ratings = [r["rating"] for r in db.query("select rating from tickets where rating is not null")]
    return msg.STATS.format(
        total=sum(by_status.values()),
        statuses=", ".join(f"{msg.STATUS_LABELS.get(k, k)} {v}" for k, v in sorted(by_status.items())) or "-",
        systems=", ".join(f"{tickets.system_name(k)} {v}" for k, v in by_system.most_common(5)) or "-",
        questions=total, answered=recent.answered, recent=recent.questions, share=recent.percent,
        first_response=f"{statistics.median(firsts):.0f}" if firsts else "-",
        rating=f"{statistics.mean(ratings):.1f} ({len(ratings)})" if ratings else "-",
    )


