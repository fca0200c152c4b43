"""The conversation engine: one Incoming in, replies and ticket changes out.

Every message is handled in a single transaction: the update is marked as
processed, state and tickets change, and every reply and notification is
written to the outbox. A crash before the commit leaves nothing half done
(the redelivered update is handled afresh); after it, the outbox delivers.

A person is in one of a few states, kept in the database so a restart loses
nothing: idle (questions go to the FAQ), registering or editing the
profile, reporting a problem, writing into a ticket, choosing which ticket a
message belongs to, rating, or (technicians) typing a resolution note.
Wherever they are, /huy or "hủy" leaves, every step's prompt says so, and
every acknowledgement says where the message went.

Open tickets are the context: while a technician waits for the official, or
wrote to them within `tickets.context_hours` working hours, the official's
next free message goes into that ticket, with a one-step way out ("Đây là
câu hỏi mới"). A message sent into a flow that has ended is handled afresh,
never dropped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot import messages as msg
from bot.config import Config
from bot.desk.accounts import Accounts
from bot.desk.actions import Desk
from bot.desk.chatter import chatter, folded, is_cancel, menu_word, stars
from bot.desk.incidents import Incidents
from bot.desk.people import People, Person
from bot.desk.registration import Registration
from bot.desk.replies import MATCH_CHARS, MENU, short
from bot.desk.state import State
from bot.desk.tickets import Ticket, TicketError, TicketStore
from bot.desk.workhours import WorkingHours
from bot.knowledge.communes import Commune
from bot.knowledge.live import Faq
from bot.language.matching import MatchResult
from bot.language.text import fold
from bot.models import ChannelTraits, Choice, Incoming, Outcome, Reply
from bot.store.database import insert, is_unavailable, upsert
from bot.store.outbox import enqueue, iso

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
_PARENTHETICAL = re.compile(r"\s*\(.*?\)")

STAFF_COMMANDS = {
    "start": "start", "batdau": "start", "menu": "start",
    "trogiup": "help", "help": "help",
    "huy": "cancel", "cancel": "cancel", "thoat": "cancel",
    "dangky": "register", "register": "register",
    "baoloi": "report", "report": "report",
    "yeucau": "tickets", "tickets": "tickets",
    "hoso": "profile", "profile": "profile",
    "hoi": "ask", "ask": "ask",
    "web": "web",
}
DEFAULT_TRAITS = ChannelTraits()
PROBLEM_LOOKBACK = timedelta(minutes=30)  # a report started from the menu began with the question asked just before
TRANSCRIPT_HEAD = 3  # messages kept from the start of a long problem, before the gap


class Engine(Registration):
    """The channel-independent conversation: staff flows here, technician commands in Desk."""

    def __init__(self, db: Database, config: Config, faq: Faq, people: People, tickets: TicketStore,
                 communes: tuple[Commune, ...], calendar: WorkingHours,
                 clock: Callable[[], datetime], on_outbox: Callable[[], None] | None = None,
                 incidents: Incidents | None = None,
                 traits: Mapping[str, ChannelTraits] | None = None) -> None:
        self.db = db
        self.config = config
        self.faq = faq
        self.people = people
        self.tickets = tickets
        self.communes = communes
        self.calendar = calendar
        self.clock = clock
        self.on_outbox = on_outbox
        self.traits = dict(traits or {})
        self.incidents = incidents
        self.desk = Desk(db, faq, people, tickets, clock, incidents)

    # -- entry point ------------------------------------------------------------

    def handle(self, incoming: Incoming) -> Outcome:
        """Process one update exactly once; the replies are also queued in the outbox.

        A bug while handling must not swallow what the person sent: the
        transaction is rolled back, and a second one keeps their message and
        tells them something went wrong.
        """
        try:
            return self._handle(incoming, self._dispatch)
        except Exception as exc:
            if is_unavailable(exc):  # nothing was stored: the caller must not acknowledge the update
                raise
            log.exception("handling %s:%s failed; the message is kept and the sender told",
                          incoming.channel, incoming.user_ref)
            return self._handle(incoming, lambda *_: [Reply(msg.INTERNAL_ERROR)])

    def _handle(self, incoming: Incoming,
                dispatch: Callable[[Incoming, Person, State], list[Reply]]) -> Outcome:
        with self.db.atomic():
            if incoming.update_id is not None:
                recorded = self.db.execute(
                    "insert or ignore into processed_updates (channel, update_id, at) values (?, ?, ?)",
                    [incoming.channel, incoming.update_id, iso(self.clock())]).rowcount
                if not recorded:  # seen before: a redelivery
                    return Outcome(duplicate=True)
            person = self.people.identify(incoming.channel, incoming.user_ref, incoming.chat_ref,
                                          incoming.display_name, private=not incoming.in_group)
            state = self._load_state(incoming)
            state.message_id = self._log(person, incoming.channel, "in", self._describe(incoming, state))
            replies = dispatch(incoming, person, state)
            # Numbers typed next ("1", "2") pick from the latest choices offered, and only those.
            offered = [c for r in replies for c in r.choices]
            if offered:
                _offer(state, offered)
            elif replies and not state.keep_choices:
                state.data.pop("choices", None)
                state.data.pop("labels", None)
            self._save_state(incoming, state)
            for reply in replies:
                enqueue(self.db, self.clock(), incoming.channel, incoming.chat_ref, reply, user_id=person.id)
                self._log(person, incoming.channel, "out", reply.text)
        if self.on_outbox is not None:
            self.on_outbox()
        return Outcome(replies=replies)

    def remember_choices(self, channel: str, user_ref: str, choices: Sequence[Choice]) -> None:
        """Numbered-choice channels call this when they show choices, so "2" means the second."""
        with self.db.atomic():
            state = self._load_state_for(channel, user_ref)
            _offer(state, choices)
            self._save_state_for(channel, user_ref, state)

    def _dispatch(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        action = inc.action
        text = inc.text.strip()
        if action is None and text:
            action, refusal = _picked(text, state)
            if refusal is not None:
                state.keep_choices = True  # the same choices still stand
                return [refusal]
        if action is not None:
            return self._on_action(action, inc, person, state)
        if text.startswith("/"):
            return self._on_command(text, inc, person, state)
        if is_cancel(text) and not (inc.in_group and state.name == "idle"):
            return self._cancel(state)
        if inc.in_group and inc.about_ticket is None:
            return []  # technicians talking among themselves
        if person.is_technician and (inc.about_ticket is not None or state.name == "resolve_note"):
            return self.desk.on_text(inc, person, state)
        word = menu_word(text) if not inc.photos else None
        if word is not None:
            return self._on_command("/" + word, inc, person, state)
        if inc.unsupported and not text and not inc.photos:
            return [Reply(msg.UNSUPPORTED.format(what=inc.unsupported))]
        if inc.about_ticket is not None and not person.is_technician:
            return self._into_ticket(inc.about_ticket, inc, person, state, routed=True)
        handler = {
            "reg": self._on_registration,
            "esc": self._on_escalation,
            "ticket": lambda i, p, s: self._into_ticket(s.data["ticket"], i, p, s),
            "route": self._on_route,
            "rate": self._on_rating_text,
        }.get(state.name)
        if handler is not None:
            return handler(inc, person, state)
        state.name, state.data = "idle", {}  # a flow that has ended: this is a fresh message
        return self._fresh(inc, person, state)

    def _fresh(self, inc: Incoming, person: Person, state: State, context: bool = True) -> list[Reply]:
        """A message outside any flow: into the ticket it answers, or small talk, or a question."""
        text = inc.text.strip()
        if context and (text or inc.photos):
            waiting = self._context_tickets(person)
            if not waiting and inc.photos:
                waiting = [t for t in self.tickets.of_user(person.id) if t.is_open]
                waiting = waiting if len(waiting) == 1 and inc.album_id is None else []
            if len(waiting) == 1:
                return self._into_ticket(waiting[0].id, inc, person, state, routed=True)
            if len(waiting) > 1:
                return self._ask_which_ticket(waiting, inc, state)
        if inc.photos:
            return self._photos_when_idle(inc, person, state)
        if not text:
            return [Reply(msg.EMPTY_MESSAGE)]
        return self._ask_faq(text, inc, person, state)

    def _trait(self, channel: str) -> ChannelTraits:
        return self.traits.get(channel, DEFAULT_TRAITS)

    def _pick(self, channel: str, label: str) -> str:
        """How to choose `label`, in the words true to the channel ("bấm", "gõ số", "chọn")."""
        return msg.PICK[self._trait(channel).picking].format(label=label)

    def _label(self, channel: str, text: str, title: str = "") -> str:
        """A choice's label: whole on text channels; on button channels a short title, or the
        text without its parenthetical note, cut at a word boundary."""
        limit = self._trait(channel).label_limit
        if limit is None:
            return text
        return title or _cut_words(_PARENTHETICAL.sub("", text).strip() or text, limit)

    # -- state and logs -----------------------------------------------------------

    def _load_state(self, inc: Incoming) -> State:
        return self._load_state_for(inc.channel, inc.user_ref)

    def _load_state_for(self, channel: str, user_ref: str) -> State:
        row = self.db.execute("select state, data from conversations where channel = ? and user_ref = ?",
                              [channel, user_ref]).fetchone()
        if row is None:
            return State()
        return State(row[0], json.loads(row[1] or "{}"))

    def _save_state(self, inc: Incoming, state: State) -> None:
        self._save_state_for(inc.channel, inc.user_ref, state)

    def _save_state_for(self, channel: str, user_ref: str, state: State) -> None:
        upsert(self.db, "conversations",
               {"channel": channel, "user_ref": user_ref, "state": state.name,
                "data": json.dumps(state.data, ensure_ascii=False), "updated_at": iso(self.clock())},
               pk=("channel", "user_ref"))

    def _log(self, person: Person, channel: str, direction: str, text: str) -> int:
        return insert(self.db, "messages", {"user_id": person.id, "at": iso(self.clock()),
                                           "direction": direction, "channel": channel, "text": text})

    def _describe(self, inc: Incoming, state: State) -> str:
        """The official's message as a technician should read it: a pressed button is what it said."""
        parts = [inc.text.strip()] if inc.text.strip() else []
        action = inc.action
        if action is None and inc.text.strip():
            action, _ = _picked(inc.text.strip(), state)
        if action is not None:
            chose = msg.CHOSE.format(label=self._action_label(action, state))
            parts = [chose] if inc.action else [f"{parts[0]} ({chose})"]
        if inc.photos:
            parts.append(f"[{len(inc.photos)} ảnh]")
        if inc.contact_phone:
            parts.append(f"[SĐT {inc.contact_phone}]")
        if inc.unsupported:
            parts.append(f"[{inc.unsupported}]")
        return " ".join(parts) or "[trống]"

    def _action_label(self, action: str, state: State) -> str:
        options = state.data.get("choices") or []
        shown = state.data.get("shown") or []
        if action in options and options.index(action) < len(shown):
            return shown[options.index(action)]
        kind, _, arg = action.partition(":")
        if kind == "sys":
            return self.tickets.system_name(arg)
        if kind == "com":
            return next((c.name for c in self.communes if c.id == arg), arg)
        if kind == "rate":
            number = arg.rpartition(":")[2]
            return msg.RATING_LABELS.get(int(number), number) if number.isdigit() else arg
        verdict = f"{kind}:{arg.partition(':')[0]}"
        label = msg.ACTION_LABELS.get(action) or msg.ACTION_LABELS.get(verdict) or msg.ACTION_LABELS.get(kind)
        return label.format(arg=f"#{arg.partition(':')[0]}") if label else kind

    def _transcript(self, person: Person, since: int | None) -> list[dict]:
        """The conversation from the message that began the problem, whatever came in between.

        When more than `transcript_messages` followed it, the first few and
        the latest are kept, with a line saying how many were left out.
        """
        n = self.config.tickets.transcript_messages
        if since is None:
            rows = self.db.query(
                "select at, direction, text from messages where user_id = ? order by id desc limit ?",
                [person.id, n])
            return list(reversed(list(rows)))
        head = list(self.db.query(
            "select at, direction, text from messages where user_id = ? and id >= ? order by id limit ?",
            [person.id, since, TRANSCRIPT_HEAD]))
        total = next(self.db.query("select count(*) as n from messages where user_id = ? and id >= ?",
                                   [person.id, since]))["n"]
        if total <= n:
            return list(self.db.query(
                "select at, direction, text from messages where user_id = ? and id >= ? order by id",
                [person.id, since]))
        tail = list(reversed(list(self.db.query(
            "select at, direction, text from messages where user_id = ? and id >= ? order by id desc limit ?",
            [person.id, since, n - TRANSCRIPT_HEAD]))))
        gap = {"at": tail[0]["at"], "direction": "gap", "text": msg.TRANSCRIPT_GAP.format(n=total - n)}
        return head + [gap] + tail

    def _problem_start(self, person: Person, state: State, query: str | None) -> int | None:
        """The id of the message that began the problem: the question it came from, or the one
        asked just before the report was started, or else the message being handled."""
        if query is None:
            recent = list(self.db.query(
                "select query from query_log where user_id = ? and at >= ? order by id desc limit 1",
                [person.id, iso(self.clock() - PROBLEM_LOOKBACK)]))
            query = recent[0]["query"] if recent else None
        if query:
            rows = list(self.db.query(
                "select id from messages where user_id = ? and direction = 'in' and text = ? "
                "order by id desc limit 1", [person.id, query]))
            if rows:
                return int(rows[0]["id"])
        return state.message_id

    # -- commands and actions ------------------------------------------------------

    def _on_command(self, text: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        word, _, rest = text[1:].partition(" ")
        word = word.split("@", 1)[0].lower()
        command = STAFF_COMMANDS.get(word)
        if command is None:
            if person.is_technician:
                replies = self.desk.on_command(word, rest.strip(), person, state)
                if replies is not None:
                    return replies
            elif self.desk.is_desk_command(word):
                return [Reply(msg.NOT_A_TECHNICIAN)]
            if inc.in_group:
                return []
            return [Reply(msg.UNKNOWN_COMMAND.format(command=word[:30])), self._help(person)]
        if command == "cancel":
            return self._cancel(state)
        if inc.in_group:
            return []
        if command == "profile" or (command == "register" and person.registered):
            return self._profile(person, inc.channel, state)
        if command == "start":
            state.name, state.data = "idle", {}
            return [self._welcome(person, inc.channel)]
        if command == "help":
            return [self._help(person)]
        if command == "register":
            return self._start_registration(person, state, then=None)
        if command == "report":
            return self._start_escalation(person, state, description="", system=None, channel=inc.channel)
        if command == "tickets":
            return [self._my_tickets(person)]
        if command == "web":
            if not person.registered:
                return self._start_registration(person, state, then=None)
            return [Reply(msg.WEB_LINK_CODE.format(code=Accounts(self.db, self.people, self.clock).link_code(person.id)))]
        return [Reply(msg.ASK_PROMPT)]

    def _on_action(self, action: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        kind, _, arg = action.partition(":")
        try:
            if kind in ("claim", "show", "resolve", "approve", "reject"):
                return self.desk.on_action(kind, arg, person, state)
            if kind == "cancel":
                return self._cancel(state)
            if kind == "menu":
                return self._on_menu(arg, inc, person, state)
            if kind in ("fb", "pick", "esc", "q"):
                return self._on_faq_action(kind, arg, inc, person, state)
            if kind in ("com", "regq", "prof"):
                return self._on_profile_action(kind, arg, inc, person, state)
            if kind in ("sys", "urg", "step", "join"):
                return self._on_flow_action(kind, arg, inc, person, state)
            if kind in ("add", "fixed", "broken", "rate", "withdraw", "wd", "keep", "done", "into", "new"):
                return self._on_ticket_action(kind, arg, inc, person, state)
            if kind == "inc" and self.incidents is not None:
                return self._join_incident(int(arg.partition(":")[2]), inc, person, state)
        except TicketError as exc:
            return [Reply(str(exc))]
        except (ValueError, KeyError, IndexError):
            log.info("malformed action %r from %s:%s", action, inc.channel, inc.user_ref)
        return [Reply(msg.STALE_BUTTON)]

    def _on_menu(self, item: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        if item == "report":
            return self._start_escalation(person, state, description="", system=None, channel=inc.channel)
        if item == "tickets":
            return [self._my_tickets(person)]
        state.name, state.data = "idle", {}
        return [Reply(msg.ASK_PROMPT)]

    def _cancel(self, state: State) -> list[Reply]:
        was = state.name
        state.name, state.data = "idle", {}
        return [Reply(msg.CANCELLED if was != "idle" else msg.NOTHING_TO_CANCEL)]

    def _welcome(self, person: Person, channel: str) -> Reply:
        text = msg.WELCOME.format(pick=self._pick(channel, msg.MENU_REPORT.split(" ", 1)[1]))
        if not person.registered:
            text += "\n\n" + msg.WELCOME_REGISTER_HINT
        return Reply(text, MENU)

    def _help(self, person: Person) -> Reply:
        text = msg.HELP_STAFF
        if person.is_technician:
            text += "\n\n" + msg.HELP_TECHNICIAN
        if person.is_admin:
            text += "\n\n" + msg.HELP_ADMIN
        return Reply(text, MENU)

    # -- the FAQ --------------------------------------------------------------------

    def _ask_faq(self, text: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        kind = chatter(text)
        if kind is not None:
            return [Reply({"thanks": msg.SMALLTALK_THANKS, "hello": msg.SMALLTALK_HELLO,
                           "ok": msg.SMALLTALK_OK}[kind], MENU)]
        result = self.faq.matcher.match(text[:MATCH_CHARS])
        qid = self._log_query(person, inc.channel, text, result)
        kb = self.faq.kb
        notice = self._incident_notice(result)
        if result.decision == "answer" and result.entry_id:
            entry = kb.entry(result.entry_id)
            assert entry is not None
            reply = self._answer(entry.answer, qid)
            ids = [c.entry_id for c in result.candidates]  # what _log_query stored: pick:qid:index
            more = tuple(Choice(self._label(inc.channel, e.question, e.title), f"pick:{qid}:{ids.index(c.entry_id)}")
                         for c in result.alternatives if (e := kb.entry(c.entry_id)) and c.entry_id in ids)
            if more:  # likely but not certain: "Hoặc có phải: …" under the answer
                reply = Reply(reply.text + "\n\n" + msg.ANSWER_ALTERNATIVES, more + reply.choices)
            return notice + [reply]
        if result.decision == "clarify":
            entries = [kb.entry(c.entry_id) for c in result.candidates]
            questions = [e.question if e else c.entry_id for e, c in zip(entries, result.candidates, strict=True)]
            text_out = msg.CLARIFY_INTRO
            if self._trait(inc.channel).label_limit is not None:
                # Buttons are short: the questions are written out whole above them.
                text_out += "\n" + "\n".join(msg.CLARIFY_LINE.format(n=i, question=q)
                                              for i, q in enumerate(questions, 1))
                labels = [msg.CLARIFY_BUTTON.format(n=i, title=self._label(inc.channel, q, e.title if e else ""))
                          for i, (q, e) in enumerate(zip(questions, entries, strict=True), 1)]
            else:
                labels = questions
            choices = [Choice(label, f"pick:{qid}:{i}") for i, label in enumerate(labels)]
            choices.append(Choice(msg.CLARIFY_NONE_OF_THESE, f"fb:none:{qid}"))
            return notice + [Reply(text_out, tuple(choices))]
        return [Reply(msg.NO_MATCH, (Choice(msg.BTN_REPORT, f"esc:{qid}"), Choice(msg.BTN_ASK_AGAIN, "menu:ask")))]

    def _answer(self, answer: str, qid: int) -> Reply:
        return Reply(
            self.faq.kb.render(answer).rstrip() + "\n\n" + msg.ANSWER_FOOTER,
            (Choice(msg.CHOICE_SOLVED, f"fb:ok:{qid}"), Choice(msg.CHOICE_NOT_RIGHT, f"fb:bad:{qid}"),
             Choice(msg.CHOICE_TECHNICIAN, f"esc:{qid}")),
        )

    def _log_query(self, person: Person, channel: str, text: str, result: MatchResult) -> int:
        return insert(self.db, "query_log", {
            "at": iso(self.clock()), "user_id": person.id, "channel": channel, "query": text,
            "decision": result.decision, "entry_id": result.entry_id, "score": round(result.score, 4),
            "candidates": json.dumps([c.entry_id for c in result.candidates]),
        })

    def _query(self, qid: int, person: Person) -> dict:
        """The logged question a button refers to; KeyError (a stale button) if it is not theirs."""
        rows = list(self.db["query_log"].rows_where("id = ? and user_id = ?", [qid, person.id]))
        if not rows:
            raise KeyError(qid)  # a forged id, or someone else's buttons
        return rows[0]

    def _on_faq_action(self, kind: str, arg: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        if kind == "esc":
            row = self._query(int(arg), person)
            self._feedback(row["id"], "escalated")
            candidates = json.loads(row["candidates"] or "[]")
            best = row["entry_id"] or (candidates[0] if candidates else None)
            entry = self.faq.kb.entry(best) if best else None
            return self._start_escalation(person, state, description=row["query"],
                                          system=entry.system if entry else None, qid=row["id"],
                                          channel=inc.channel)
        if kind == "pick":
            qid, _, index = arg.partition(":")
            row = self._query(int(qid), person)
            entry_id = json.loads(row["candidates"])[int(index)]
            entry = self.faq.kb.entry(entry_id)
            if entry is None:
                return [Reply(msg.ENTRY_GONE)]
            self._feedback(row["id"], f"picked:{entry_id}")
            return [self._answer(entry.answer, row["id"])]
        verdict, _, qid = arg.partition(":")
        row = self._query(int(qid), person)
        if verdict == "ok":
            self._feedback(row["id"], "solved")
            return [Reply(msg.GLAD_IT_HELPED)]
        self._feedback(row["id"], "not_right" if verdict == "bad" else "none_of_these")
        return [Reply(msg.SORRY_NOT_RIGHT, (Choice(msg.BTN_REPORT, f"esc:{row['id']}"),
                                             Choice(msg.BTN_ASK_AGAIN, "menu:ask")))]

    def _feedback(self, qid: int, feedback: str) -> None:
        self.db["query_log"].update(qid, {"feedback": feedback})

    # -- reporting a problem ------------------------------------------------------------

    def _start_escalation(self, person: Person, state: State, description: str, system: str | None,
                          qid: int | None = None, photos: list[str] | None = None, channel: str = "",
                          since: int | None = None) -> list[Reply]:
        if since is None:
            since = self._problem_start(person, state, description or None)
        pending = {"description": description, "system": system, "qid": qid, "photos": photos or [],
                   "channel": channel, "since": since}
        if person.status == "pending":
            return [Reply(msg.REGISTRATION_PENDING)]
        if not person.registered:
            replies = [Reply(msg.NEED_REGISTRATION_FIRST)]
            return replies + self._start_registration(person, state, then=pending)
        state.name, state.data = "esc", {**pending, "step": "system"}
        return [self._ask_system(system, channel)]

    def _ask_system(self, preselected: str | None, channel: str) -> Reply:
        systems = list(self.faq.kb.systems.values())
        systems.sort(key=lambda s: s.id != preselected)
        choices = tuple(Choice(self._label(channel, s.name), f"sys:{s.id}") for s in systems)
        text = msg.ESC_ASK_SYSTEM
        if preselected in self.faq.kb.systems:
            text += "\n" + msg.ESC_SYSTEM_GUESS.format(name=self.faq.kb.systems[preselected].name)
        return Reply(text, choices + (Choice(msg.BTN_CANCEL, "cancel"),))

    def _on_flow_action(self, kind: str, arg: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        if state.name != "esc":
            return [Reply(msg.STALE_BUTTON)]
        data = state.data
        channel = inc.channel
        if kind == "sys" and data.get("step") == "system":
            if arg not in self.faq.kb.systems:
                return [Reply(msg.STALE_BUTTON)]
            outage = self.incidents.active(arg) if self.incidents is not None else None
            if outage is not None and not data.get("outage_seen"):  # a known outage: say so first
                data["outage_seen"] = True
                return [self.incidents.notice(outage, f"sys:{arg}")]  # type: ignore[union-attr]
            data["system"] = arg
            same = [t for t in self.tickets.of_user(person.id) if t.is_open and t.system_id == arg]
            if same:
                ticket = same[0]
                data["step"] = "join"
                return [Reply(msg.ALREADY_OPEN_ON_SYSTEM.format(
                    code=ticket.code, system=self.tickets.system_name(arg), status=self.tickets.status_label(ticket)),
                    (Choice(msg.BTN_JOIN.format(code=ticket.code), f"join:{ticket.id}"),
                     Choice(msg.BTN_NEW_TICKET, "step:new"), Choice(msg.BTN_CANCEL, "cancel")))]
            return self._ask_description(data, channel)
        if kind == "step" and arg == "new" and data.get("step") == "join":
            return self._ask_description(data, channel)
        if kind == "join" and data.get("step") == "join":
            ticket = self.tickets.visible_to(int(arg), person)
            description, photos = data.get("description", ""), list(data.get("photos", []))
            state.name, state.data = "ticket", {"ticket": ticket.id}
            if not description and not photos:
                return [self._write_into(ticket, channel)]
            self.tickets.add_from_official(ticket.id, person, description, photos)
            state.name, state.data = "idle", {}
            return [Reply(msg.ADDED_TO_TICKET.format(code=ticket.code))]
        if kind == "step" and arg == "keep" and data.get("step") == "description":
            return self._ask_photos(data, channel)
        if kind == "step" and arg == "photos" and data.get("step") == "photos":
            data["step"] = "urgency"
            return [Reply(msg.ESC_ASK_URGENCY, (Choice(msg.URGENCY_LABELS["normal"], "urg:normal"),
                                                Choice(msg.URGENCY_LABELS["urgent"], "urg:urgent"),
                                                Choice(msg.BTN_CANCEL, "cancel")))]
        if kind == "urg" and data.get("step") == "urgency" and arg in msg.URGENCY_LABELS:
            data.update(urgency=arg, step="confirm")
            return [Reply(msg.ESC_CONFIRM.format(
                system=self.tickets.system_name(data["system"]), description=short(data["description"], 500),
                photos=len(data["photos"]), urgency=msg.URGENCY_LABELS[arg]),
                (Choice(msg.BTN_SEND, "step:send"), Choice(msg.BTN_CANCEL, "cancel")))]
        if kind == "step" and arg == "send" and data.get("step") == "confirm":
            return self._open_ticket(inc, person, state)
        return [Reply(msg.STALE_BUTTON)]

    def _ask_description(self, data: dict, channel: str) -> list[Reply]:
        data["step"] = "description"
        if data.get("description"):
            return [Reply(msg.ESC_DESCRIPTION_PREFILLED.format(text=short(data["description"], 300),
                                                               pick=self._pick(channel, msg.BTN_KEEP)),
                          (Choice(msg.BTN_KEEP, "step:keep"), Choice(msg.BTN_CANCEL, "cancel")))]
        return [Reply(msg.ESC_ASK_DESCRIPTION, (Choice(msg.BTN_CANCEL, "cancel"),))]

    def _photos_prompt(self, text: str, channel: str) -> Reply:
        return Reply(text.format(pick=self._pick(channel, msg.BTN_PHOTOS_DONE)),
                     (Choice(msg.BTN_PHOTOS_DONE, "step:photos"), Choice(msg.BTN_CANCEL, "cancel")))

    def _ask_photos(self, data: dict, channel: str) -> list[Reply]:
        data["step"] = "photos"
        return [self._photos_prompt(msg.ESC_ASK_PHOTOS, channel)]

    def _on_escalation(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        data = state.data
        step = data.get("step")
        text = inc.text.strip()
        if inc.photos:
            data["photos"] = data.get("photos", []) + list(inc.photos)
            if text:
                data["description"] = (data.get("description", "") + "\n" + text).strip()
            seen = data.setdefault("albums", [])
            if inc.album_id is not None and inc.album_id in seen:
                return []  # the first photo of this album was acknowledged already
            if inc.album_id is not None:
                seen.append(inc.album_id)
            ack = Reply(msg.ESC_PHOTO_RECEIVED.format(n=len(data["photos"])))
            if step in ("system", "description", "join"):
                return [ack]
            if step != "photos":
                return [ack, *self._ask_photos(data, inc.channel)]
            return [Reply(ack.text, self._photos_prompt(msg.ESC_ASK_PHOTOS, inc.channel).choices)]
        if not text:
            return [Reply(msg.EMPTY_MESSAGE)]
        if step == "description":
            data["description"] = (data.get("description", "") + "\n" + text).strip()
            return self._ask_photos(data, inc.channel)
        if step == "photos":
            data["description"] = (data.get("description", "") + "\n" + text).strip()
            return [self._photos_prompt(msg.ESC_TEXT_ADDED, inc.channel)]
        if step == "system":
            found = _system_by_words(text, self.faq.kb.systems)
            if found:
                return self._on_flow_action("sys", found, inc, person, state)
        return [Reply(msg.ESC_USE_CHOICES[self._trait(inc.channel).picking], (Choice(msg.BTN_CANCEL, "cancel"),))]

    def _open_ticket(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        data = state.data
        ticket = self.tickets.open_ticket(
            person, inc.channel, data.get("system"), data.get("description") or msg.NO_DESCRIPTION,
            data.get("urgency", "normal"), data.get("photos", []), self._transcript(person, data.get("since")))
        state.name, state.data = "idle", {}
        text = msg.TICKET_OPENED.format(code=ticket.code, system=self.tickets.system_name(ticket.system_id))
        outage = self.incidents.of_ticket(ticket.id) if self.incidents is not None else None
        if outage is not None:
            text += "\n" + self.incidents.linked_notice(outage, ticket)  # type: ignore[union-attr]
        now = self.clock()
        if not self.calendar.is_open(now):
            opens = self.calendar.next_open(now)
            text += "\n" + msg.OUTSIDE_HOURS.format(when=opens.strftime("%H:%M %d/%m/%Y"))
        return [Reply(text, (Choice(msg.BTN_ADD_INFO.format(code=ticket.code), f"add:{ticket.id}"),
                             Choice(msg.BTN_MY_TICKETS, "menu:tickets")))]

    # -- shared outages ---------------------------------------------------------------------

    def _incident_notice(self, result: MatchResult) -> list[Reply]:
        """The notice of an open outage on the system a question is about, to come first."""
        if self.incidents is None or result.decision not in ("answer", "clarify"):
            return []
        best = result.entry_id or (result.candidates[0].entry_id if result.candidates else None)
        entry = self.faq.kb.entry(best) if best else None
        outage = self.incidents.active(entry.system) if entry else None
        return [self.incidents.notice(outage, "menu:report")] if outage is not None else []

    def _join_incident(self, incident_id: int, inc: Incoming, person: Person, state: State) -> list[Reply]:
        """'Xã tôi cũng bị': a ticket linked to the outage, in one press (registration first if needed)."""
        if not person.registered:
            return self._start_escalation(person, state, description="", system=None, channel=inc.channel)
        description = state.data.get("description", "") if state.name == "esc" else ""
        since = state.data.get("since") if state.name == "esc" else self._problem_start(person, state, None)
        ticket = self.incidents.join(incident_id, person, inc.channel, description,  # type: ignore[union-attr]
                                     self._transcript(person, since))
        state.name, state.data = "idle", {}
        return [Reply(msg.INCIDENT_JOINED.format(code=ticket.code, incident=f"S{incident_id}"),
                      (Choice(msg.BTN_ADD_INFO.format(code=ticket.code), f"add:{ticket.id}"),))]

    # -- tickets from the official's side -------------------------------------------------

    def _my_tickets(self, person: Person) -> Reply:
        tickets = self.tickets.of_user(person.id)
        if not tickets:
            return Reply(msg.NO_TICKETS, MENU)
        lines = [msg.MY_TICKETS]
        choices: list[Choice] = []
        for t in tickets:
            lines.append(msg.MY_TICKET_LINE.format(code=t.code, status=self.tickets.status_label(t),
                                                   system=self.tickets.system_name(t.system_id),
                                                   description=short(t.description, 60)))
            if t.is_open and len(choices) < 6:
                choices.append(Choice(msg.BTN_ADD_INFO.format(code=t.code), f"add:{t.id}"))
                choices.append(Choice(msg.BTN_WITHDRAW.format(code=t.code), f"withdraw:{t.id}"))
        return Reply("\n".join(lines), tuple(choices))

    def _context_tickets(self, person: Person) -> list[Ticket]:
        """Open tickets the official's next message most likely answers: a technician is waiting
        for them, or wrote to them within the configured working hours (newest contact first)."""
        window = timedelta(hours=self.config.tickets.context_hours)
        now = self.clock()
        found: list[tuple[int, Ticket]] = []
        for ticket in self.tickets.of_user(person.id):
            if not ticket.is_open:
                continue
            contact = self.tickets.technician_wrote(ticket.id)
            if contact is None:
                continue
            event_id, at = contact
            if ticket.status == "waiting_user" or self.calendar.working_time_between(at, now) <= window:
                found.append((event_id, ticket))
        return [t for _, t in sorted(found, key=lambda pair: pair[0], reverse=True)]

    def _ask_which_ticket(self, tickets: list[Ticket], inc: Incoming, state: State) -> list[Reply]:
        pending = state.data.get("pending") if state.name == "route" else None
        text = inc.text.strip()
        if pending:
            pending["text"] = (pending["text"] + "\n" + text).strip()
            pending["photos"] += list(inc.photos)
        else:
            pending = {"text": text, "photos": list(inc.photos)}
        state.name, state.data = "route", {"pending": pending}
        choices = tuple(Choice(msg.TICKET_PICK.format(code=t.code, system=self.tickets.system_name(t.system_id)),
                               f"into:{t.id}") for t in tickets[:5])
        return [Reply(msg.WHICH_TICKET, choices + (Choice(msg.BTN_NEW_QUESTION, "new:route"),))]

    def _on_route(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        """More text while the official is choosing the ticket: kept with the first, asked again."""
        waiting = self._context_tickets(person)
        if not waiting:
            state.name, state.data = "idle", {}
            return self._fresh(inc, person, state)
        return self._ask_which_ticket(waiting, inc, state)

    def _on_rating_text(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        """Stars typed as words ("5 sao", "năm sao"); anything else is a new message."""
        ticket_id = state.data.get("ticket")
        number = stars(inc.text) if not inc.photos else None
        state.name, state.data = "idle", {}
        if number is None or ticket_id is None:
            return self._fresh(inc, person, state)
        ticket = self.tickets.rate(int(ticket_id), person, number)
        return [Reply(msg.THANKS_FOR_RATING.format(code=ticket.code))]

    def _write_into(self, ticket: Ticket, channel: str) -> Reply:
        return Reply(msg.WRITE_INTO_TICKET.format(code=ticket.code, pick=self._pick(channel, msg.BTN_DONE_WRITING)),
                     (Choice(msg.BTN_DONE_WRITING, f"done:{ticket.id}"),))

    def _on_ticket_action(self, kind: str, arg: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        if kind == "done":  # the ticket is looked up, so a forged "done:abc" is a stale button, not "#abc"
            ticket = self.tickets.visible_to(int(arg), person)
            state.name, state.data = "idle", {}
            return [Reply(msg.LEFT_TICKET.format(code=ticket.code), MENU)]
        if kind == "rate":
            ticket_id, _, number = arg.partition(":")
            state.name, state.data = "idle", {}
            ticket = self.tickets.rate(int(ticket_id), person, int(number))
            return [Reply(msg.THANKS_FOR_RATING.format(code=ticket.code))]
        if kind == "new":
            return self._new_question(arg, inc, person, state)
        if kind == "into":
            pending = state.data.get("pending") if state.name == "route" else None
            if not pending:
                return [Reply(msg.STALE_BUTTON)]
            state.name, state.data = "idle", {}
            routed = dataclasses.replace(inc, text=pending["text"], photos=tuple(pending["photos"]),
                                         action=None, album_id=None)
            return self._into_ticket(int(arg), routed, person, state, routed=True)
        ticket_id = int(arg)
        if kind == "add":
            ticket = self.tickets.visible_to(ticket_id, person)
            if not ticket.is_open:
                return [Reply(msg.TICKET_NOT_OPEN.format(code=ticket.code, status=self.tickets.status_label(ticket)))]
            state.name, state.data = "ticket", {"ticket": ticket.id}
            return [self._write_into(ticket, inc.channel)]
        if kind == "withdraw":
            ticket = self.tickets.visible_to(ticket_id, person)
            if ticket.user_id != person.id or not ticket.is_open:
                return [Reply(msg.TICKET_NOT_OPEN.format(code=ticket.code, status=self.tickets.status_label(ticket)))]
            return [Reply(msg.CONFIRM_WITHDRAW.format(code=ticket.code, system=self.tickets.system_name(ticket.system_id)),
                          (Choice(msg.BTN_CONFIRM_WITHDRAW.format(code=ticket.code), f"wd:{ticket.id}"),
                           Choice(msg.BTN_KEEP_TICKET, f"keep:{ticket.id}")))]
        if kind == "wd":
            ticket = self.tickets.withdraw(ticket_id, person)
            return [Reply(msg.WITHDRAWN.format(code=ticket.code))]
        if kind == "keep":
            return [Reply(msg.KEPT_TICKET.format(code=f"#{ticket_id}"))]
        if kind == "fixed":
            ticket = self.tickets.confirm_fixed(ticket_id, person)
            state.name, state.data = "rate", {"ticket": ticket.id}
            return [Reply(msg.ASK_RATING.format(code=ticket.code),
                          tuple(Choice(msg.RATING_LABELS[n], f"rate:{ticket.id}:{n}") for n in range(1, 6)))]
        ticket = self.tickets.still_broken(ticket_id, person)  # kind == "broken"
        state.name, state.data = "ticket", {"ticket": ticket.id}
        return [Reply(msg.REOPENED_BY_YOU.format(code=ticket.code),
                      (Choice(msg.BTN_DONE_WRITING, f"done:{ticket.id}"),))]

    def _new_question(self, arg: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        """ "Đây là câu hỏi mới": the message is taken back out of the ticket and answered."""
        if arg == "route":
            pending = state.data.get("pending") if state.name == "route" else None
            if not pending:
                return [Reply(msg.STALE_BUTTON)]
            text, photos = pending["text"], tuple(pending["photos"])
        else:
            ticket_id, _, event_id = arg.partition(":")
            text, photos = self.tickets.move_out(int(ticket_id), person, int(event_id))
        state.name, state.data = "idle", {}
        fresh = dataclasses.replace(inc, text=text, photos=photos, action=None, album_id=None, about_ticket=None)
        return self._fresh(fresh, person, state, context=False)

    def _into_ticket(self, ticket_id: int, inc: Incoming, person: Person, state: State,
                     routed: bool = False) -> list[Reply]:
        """Into a ticket: because the official chose to write into it, or because it is the
        context (then with the one-step way out). A ticket that has closed meanwhile does not
        swallow the message: it is handled as a fresh one."""
        try:
            ticket = self.tickets.add_from_official(ticket_id, person, inc.text.strip(), inc.photos, inc.edited)
        except TicketError:
            state.name, state.data = "idle", {}
            return self._fresh(dataclasses.replace(inc, about_ticket=None), person, state)
        album = inc.album_id
        if album is not None and album in state.data.get("albums", []):
            return []
        if album is not None:
            state.data.setdefault("albums", []).append(album)
        if routed and state.name != "ticket":
            event_id = self.tickets.last_event_id(ticket.id)
            return [Reply(msg.ADDED_TO_TICKET.format(code=ticket.code),
                          (Choice(msg.BTN_NEW_QUESTION, f"new:{ticket.id}:{event_id}"),))]
        return [Reply(msg.ADDED_TO_TICKET.format(code=ticket.code),
                      (Choice(msg.BTN_DONE_WRITING, f"done:{ticket.id}"),))]

    def _photos_when_idle(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        """A screenshot out of the blue starts a problem report with it attached."""
        replies = [Reply(msg.PHOTO_STARTS_REPORT)] + self._start_escalation(
            person, state, description=inc.text.strip(), system=None, photos=list(inc.photos),
            channel=inc.channel)
        if inc.album_id is not None and state.name == "esc":
            state.data["albums"] = [inc.album_id]  # the rest of the album joins silently
        return replies


def _offer(state: State, choices: Sequence[Choice]) -> None:
    state.data["choices"] = [c.action for c in choices]
    state.data["labels"] = [folded(c.label) for c in choices]
    state.data["shown"] = [c.label for c in choices]


def _picked(text: str, state: State) -> tuple[str | None, Reply | None]:
    """The action a typed number or a choice's own words select, or why nothing is selected.

    Inside a flow, a number with no choices on offer is the flow's to read
    (a commune is not "2", but saying so is the registration's job)."""
    options = state.data.get("choices") or []
    number = _NUMBER.match(text)
    if number is not None:
        if not options:
            return None, (Reply(msg.NO_CHOICES_PENDING) if state.name == "idle" else None)
        index = int(number.group(1)) - 1
        if not 0 <= index < len(options):
            if state.name == "reg":  # a step that reads free text: the number is its answer
                return None, None
            return None, Reply(msg.NO_SUCH_CHOICE.format(n=len(options)))
        return options[index], None
    labels = state.data.get("labels") or []
    typed = folded(text)
    matches = [a for a, label in zip(options, labels, strict=False) if typed and typed == label]
    return (matches[0] if len(matches) == 1 else None), None


def _cut_words(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary (never mid-word), with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:–-")
    return cut + "…"


def _system_by_words(text: str, systems: dict) -> str | None:
    folded = fold(text)
    for system in systems.values():
        if folded and (folded == fold(system.id) or folded in fold(system.name)):
            return system.id
    return None
