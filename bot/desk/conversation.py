"""The conversation engine: one Incoming in, replies and ticket changes out.

Every message is handled in a single transaction: the update is marked as
processed, state and tickets change, and every reply and notification is
written to the outbox. A crash before the commit leaves nothing half done
(the redelivered update is handled afresh); after it, the outbox delivers.

A person is in one of a few states, kept in the database so a restart loses
nothing: idle (questions go to the FAQ), registering, reporting a problem,
writing into a ticket, or (technicians) typing a resolution note. Wherever
they are, /huy cancels, and every acknowledgement says where the message went.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlite_utils import Database

from bot import messages as msg
from bot.config import Config
from bot.desk.accounts import Accounts
from bot.desk.actions import Desk
from bot.desk.incidents import Incidents
from bot.desk.people import People, Person
from bot.desk.state import State
from bot.desk.tickets import TicketError, TicketStore
from bot.desk.workhours import WorkingHours
from bot.knowledge.communes import Commune, find_communes
from bot.knowledge.live import Faq
from bot.language.matching import MatchResult
from bot.language.text import fold
from bot.models import Choice, Incoming, Outcome, Reply
from bot.store.database import insert, is_unavailable, upsert
from bot.store.outbox import enqueue, iso

log = logging.getLogger(__name__)

MATCH_CHARS = 1000  # the matcher reads the start of a very long message
_PHONE = re.compile(r"^\+?[0-9][0-9 .\-]{7,14}[0-9]$")
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")

STAFF_COMMANDS = {
    "start": "start", "batdau": "start", "menu": "start",
    "trogiup": "help", "help": "help",
    "huy": "cancel", "cancel": "cancel",
    "dangky": "register", "register": "register",
    "baoloi": "report", "report": "report",
    "yeucau": "tickets", "tickets": "tickets",
    "hoi": "ask", "ask": "ask",
    "web": "web",
}
CANCEL_WORDS = {"huy", "huy bo", "thoi", "cancel", "dung lai"}
SMALLTALK = {
    "xin", "chao", "chaoo", "hello", "hi", "alo", "a", "e", "em", "anh", "chi", "ban", "bot", "oi",
    "cam", "on", "camon", "thanks", "thank", "you", "tks", "ok", "oke", "okie", "vang", "da",
    "hihi", "haha", "hehe", "nhe", "nha", "nhieu", "buoi", "sang", "chieu", "toi", "ad",
    "ak", "ah", "u", "uh", "um", "roi", "duoc",
}
THANKS = {"cam on", "camon", "thanks", "thank", "tks"}


class Engine:
    """The channel-independent conversation: staff flows here, technician commands in Desk."""

    def __init__(self, db: Database, config: Config, faq: Faq, people: People, tickets: TicketStore,
                 communes: tuple[Commune, ...], calendar: WorkingHours,
                 clock: Callable[[], datetime], on_outbox: Callable[[], None] | None = None,
                 incidents: Incidents | None = None) -> None:
        self.db = db
        self.config = config
        self.faq = faq
        self.people = people
        self.tickets = tickets
        self.communes = communes
        self.calendar = calendar
        self.clock = clock
        self.on_outbox = on_outbox
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
            self._log(person, incoming.channel, "in", _describe(incoming))
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
        if fold(text) in CANCEL_WORDS:
            return self._cancel(state)
        if inc.in_group and inc.about_ticket is None:
            return []  # technicians talking among themselves
        if person.is_technician and (inc.about_ticket is not None or state.name == "resolve_note"):
            return self.desk.on_text(inc, person, state)
        if inc.unsupported and not text and not inc.photos:
            return [Reply(msg.UNSUPPORTED.format(what=inc.unsupported))]
        if inc.about_ticket is not None and not person.is_technician:
            return self._into_ticket(inc.about_ticket, inc, person, state)
        handler = {
            "reg": self._on_registration,
            "esc": self._on_escalation,
            "ticket": lambda i, p, s: self._into_ticket(s.data["ticket"], i, p, s),
        }.get(state.name)
        if handler is not None:
            return handler(inc, person, state)
        if inc.photos:
            return self._photos_when_idle(inc, person, state)
        if not text:
            return [Reply(msg.EMPTY_MESSAGE)]
        return self._ask_faq(text, inc, person, state)

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

    def _log(self, person: Person, channel: str, direction: str, text: str) -> None:
        insert(self.db, "messages", {"user_id": person.id, "at": iso(self.clock()),
                                    "direction": direction, "channel": channel, "text": text})

    def _transcript(self, person: Person) -> list[dict]:
        n = self.config.tickets.transcript_messages
        rows = self.db.query(
            "select at, direction, text from messages where user_id = ? order by id desc limit ?",
            [person.id, n])
        return list(reversed(list(rows)))

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
        if command == "start":
            state.name, state.data = "idle", {}
            return [self._welcome(person)]
        if command == "help":
            return [self._help(person)]
        if command == "register":
            return self._start_registration(person, state, then=None)
        if command == "report":
            return self._start_escalation(person, state, description="", system=None)
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
                return self._on_menu(arg, person, state)
            if kind in ("fb", "pick", "esc", "q"):
                return self._on_faq_action(kind, arg, inc, person, state)
            if kind in ("com", "sys", "urg", "step"):
                return self._on_flow_action(kind, arg, inc, person, state)
            if kind in ("add", "fixed", "broken", "rate", "withdraw", "done"):
                return self._on_ticket_action(kind, arg, person, state)
            if kind == "inc" and self.incidents is not None:
                return self._join_incident(int(arg.partition(":")[2]), inc, person, state)
        except TicketError as exc:
            return [Reply(str(exc))]
        except (ValueError, KeyError, IndexError):
            log.info("malformed action %r from %s:%s", action, inc.channel, inc.user_ref)
        return [Reply(msg.STALE_BUTTON)]

    def _on_menu(self, item: str, person: Person, state: State) -> list[Reply]:
        if item == "report":
            return self._start_escalation(person, state, description="", system=None)
        if item == "tickets":
            return [self._my_tickets(person)]
        state.name, state.data = "idle", {}
        return [Reply(msg.ASK_PROMPT)]

    def _cancel(self, state: State) -> list[Reply]:
        was = state.name
        state.name, state.data = "idle", {}
        return [Reply(msg.CANCELLED if was != "idle" else msg.NOTHING_TO_CANCEL)]

    def _welcome(self, person: Person) -> Reply:
        text = msg.WELCOME if person.registered else msg.WELCOME + "\n\n" + msg.WELCOME_REGISTER_HINT
        return Reply(text, _MENU)

    def _help(self, person: Person) -> Reply:
        text = msg.HELP_STAFF
        if person.is_technician:
            text += "\n\n" + msg.HELP_TECHNICIAN
        if person.is_admin:
            text += "\n\n" + msg.HELP_ADMIN
        return Reply(text, _MENU)

    # -- the FAQ --------------------------------------------------------------------

    def _ask_faq(self, text: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        if _is_smalltalk(text):
            thanks = any(t in fold(text) for t in THANKS)
            return [Reply(msg.SMALLTALK_THANKS if thanks else msg.SMALLTALK_HELLO, _MENU)]
        result = self.faq.matcher.match(text[:MATCH_CHARS])
        qid = self._log_query(person, inc.channel, text, result)
        kb = self.faq.kb
        notice = self._incident_notice(result)
        if result.decision == "answer" and result.entry_id:
            entry = kb.entry(result.entry_id)
            assert entry is not None
            reply = self._answer(entry.answer, qid)
            ids = [c.entry_id for c in result.candidates]  # what _log_query stored: pick:qid:index
            more = tuple(Choice(_short(e.question), f"pick:{qid}:{ids.index(c.entry_id)}")
                         for c in result.alternatives if (e := kb.entry(c.entry_id)) and c.entry_id in ids)
            if more:  # likely but not certain: "Hoặc có phải: …" under the answer
                reply = Reply(reply.text + "\n\n" + msg.ANSWER_ALTERNATIVES, more + reply.choices)
            return notice + [reply]
        if result.decision == "clarify":
            choices = [
                Choice(_short(kb.entry(c.entry_id).question if kb.entry(c.entry_id) else c.entry_id), f"pick:{qid}:{i}")
                for i, c in enumerate(result.candidates)
            ]
            choices.append(Choice(msg.CLARIFY_NONE_OF_THESE, f"fb:none:{qid}"))
            return notice + [Reply(msg.CLARIFY_INTRO, tuple(choices))]
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
                                          system=entry.system if entry else None, qid=row["id"])
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

    # -- registration -----------------------------------------------------------------

    def _start_registration(self, person: Person, state: State, then: dict | None) -> list[Reply]:
        if person.registered:
            return [Reply(msg.ALREADY_REGISTERED.format(name=person.full_name or ""), _MENU)]
        if person.status == "pending":
            return [Reply(msg.REGISTRATION_PENDING)]
        state.name, state.data = "reg", {"step": "commune", "then": then}
        return [Reply(msg.REG_ASK_COMMUNE)]

    def _on_registration(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        step = state.data.get("step")
        text = inc.text.strip()
        if step == "phone" and inc.contact_phone:
            text = inc.contact_phone
        if not text:
            return [Reply(msg.REG_NEED_TEXT)]
        if step == "commune":
            found = find_communes(self.communes, text)
            if len(found) == 1:
                return self._reg_commune(found[0], person, state)
            if not found:
                return [Reply(msg.REG_COMMUNE_UNKNOWN.format(text=_short(text)))]
            return [Reply(msg.REG_COMMUNE_PICK, tuple(Choice(c.name, f"com:{c.id}") for c in found[:5]))]
        if step == "name":
            state.data.update(step="title", full_name=text[:100])
            return [Reply(msg.REG_ASK_TITLE)]
        if step == "title":
            state.data.update(step="phone", job_title=text[:100])
            return [Reply(msg.REG_ASK_PHONE, request_contact=True)]
        if step == "phone":
            if not _PHONE.match(text):
                return [Reply(msg.REG_BAD_PHONE, request_contact=True)]
            return self._finish_registration(re.sub(r"[ .\-]", "", text), person, state)
        state.name, state.data = "idle", {}
        return [Reply(msg.STALE_BUTTON)]

    def _reg_commune(self, commune: Commune, person: Person, state: State) -> list[Reply]:
        state.data.update(step="name", commune_id=commune.id)
        return [Reply(msg.REG_ASK_NAME.format(commune=commune.name))]

    def _finish_registration(self, phone: str, person: Person, state: State) -> list[Reply]:
        data = state.data
        approval = self.config.people.require_approval and not person.is_technician
        person = self.people.update(person.id, full_name=data["full_name"], job_title=data["job_title"],
                                    phone=phone, commune_id=data["commune_id"],
                                    status="pending" if approval else "active")
        commune = next((c.name for c in self.communes if c.id == data["commune_id"]), data["commune_id"])
        then = data.get("then")
        state.name, state.data = "idle", {}
        if approval:
            self.desk.ask_admins_to_approve(person, commune)
            return [Reply(msg.REGISTRATION_WAITING)]
        done = Reply(msg.REGISTERED.format(name=person.full_name, commune=commune))
        if then:
            return [done, *self._start_escalation(person, state, then.get("description", ""),
                                                  then.get("system"), then.get("qid"),
                                                  then.get("photos", []))]
        return [done]

    # -- reporting a problem ------------------------------------------------------------

    def _start_escalation(self, person: Person, state: State, description: str, system: str | None,
                          qid: int | None = None, photos: list[str] | None = None) -> list[Reply]:
        pending = {"description": description, "system": system, "qid": qid, "photos": photos or []}
        if person.status == "pending":
            return [Reply(msg.REGISTRATION_PENDING)]
        if not person.registered:
            replies = [Reply(msg.NEED_REGISTRATION_FIRST)]
            return replies + self._start_registration(person, state, then=pending)
        state.name, state.data = "esc", {**pending, "step": "system"}
        return [self._ask_system(system)]

    def _ask_system(self, preselected: str | None) -> Reply:
        systems = list(self.faq.kb.systems.values())
        systems.sort(key=lambda s: s.id != preselected)
        choices = tuple(Choice(_short(s.name, 40), f"sys:{s.id}") for s in systems)
        text = msg.ESC_ASK_SYSTEM
        if preselected in self.faq.kb.systems:
            text += "\n" + msg.ESC_SYSTEM_GUESS.format(name=self.faq.kb.systems[preselected].name)
        return Reply(text, choices + (Choice(msg.BTN_CANCEL, "cancel"),))

    def _on_flow_action(self, kind: str, arg: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        if kind == "com" and state.name == "reg" and state.data.get("step") == "commune":
            commune = next((c for c in self.communes if c.id == arg), None)
            return self._reg_commune(commune, person, state) if commune else [Reply(msg.STALE_BUTTON)]
        if state.name != "esc":
            return [Reply(msg.STALE_BUTTON)]
        data = state.data
        if kind == "sys" and data.get("step") == "system":
            if arg not in self.faq.kb.systems:
                return [Reply(msg.STALE_BUTTON)]
            outage = self.incidents.active(arg) if self.incidents is not None else None
            if outage is not None and not data.get("outage_seen"):  # a known outage: say so first
                data["outage_seen"] = True
                return [self.incidents.notice(outage, f"sys:{arg}")]  # type: ignore[union-attr]
            data.update(system=arg, step="description")
            if data.get("description"):
                return [Reply(msg.ESC_DESCRIPTION_PREFILLED.format(text=_short(data["description"], 300)),
                              (Choice(msg.BTN_KEEP, "step:keep"), Choice(msg.BTN_CANCEL, "cancel")))]
            return [Reply(msg.ESC_ASK_DESCRIPTION, (Choice(msg.BTN_CANCEL, "cancel"),))]
        if kind == "step" and arg == "keep" and data.get("step") == "description":
            return self._ask_photos(data)
        if kind == "step" and arg == "photos" and data.get("step") == "photos":
            data["step"] = "urgency"
            return [Reply(msg.ESC_ASK_URGENCY, (Choice(msg.URGENCY_LABELS["normal"], "urg:normal"),
                                                Choice(msg.URGENCY_LABELS["urgent"], "urg:urgent"),
                                                Choice(msg.BTN_CANCEL, "cancel")))]
        if kind == "urg" and data.get("step") == "urgency" and arg in msg.URGENCY_LABELS:
            data.update(urgency=arg, step="confirm")
            return [Reply(msg.ESC_CONFIRM.format(
                system=self.tickets.system_name(data["system"]), description=_short(data["description"], 500),
                photos=len(data["photos"]), urgency=msg.URGENCY_LABELS[arg]),
                (Choice(msg.BTN_SEND, "step:send"), Choice(msg.BTN_CANCEL, "cancel")))]
        if kind == "step" and arg == "send" and data.get("step") == "confirm":
            return self._open_ticket(inc, person, state)
        return [Reply(msg.STALE_BUTTON)]

    def _ask_photos(self, data: dict) -> list[Reply]:
        data["step"] = "photos"
        return [Reply(msg.ESC_ASK_PHOTOS, (Choice(msg.BTN_PHOTOS_DONE, "step:photos"), Choice(msg.BTN_CANCEL, "cancel")))]

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
            if step in ("system", "description"):
                return [ack]
            return [ack, *self._ask_photos(data)] if step != "photos" else [
                Reply(ack.text, (Choice(msg.BTN_PHOTOS_DONE, "step:photos"), Choice(msg.BTN_CANCEL, "cancel")))]
        if not text:
            return [Reply(msg.EMPTY_MESSAGE)]
        if step == "description":
            data["description"] = (data.get("description", "") + "\n" + text).strip()
            return self._ask_photos(data)
        if step == "photos":
            data["description"] = (data.get("description", "") + "\n" + text).strip()
            return [Reply(msg.ESC_TEXT_ADDED, (Choice(msg.BTN_PHOTOS_DONE, "step:photos"), Choice(msg.BTN_CANCEL, "cancel")))]
        if step == "system":
            found = _system_by_words(text, self.faq.kb.systems)
            if found:
                return self._on_flow_action("sys", found, inc, person, state)
        return [Reply(msg.ESC_USE_BUTTONS, (Choice(msg.BTN_CANCEL, "cancel"),))]

    def _open_ticket(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        data = state.data
        ticket = self.tickets.open_ticket(
            person, inc.channel, data.get("system"), data.get("description") or msg.NO_DESCRIPTION,
            data.get("urgency", "normal"), data.get("photos", []), self._transcript(person))
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
            return self._start_escalation(person, state, description="", system=None)
        description = state.data.get("description", "") if state.name == "esc" else ""
        ticket = self.incidents.join(incident_id, person, inc.channel, description,  # type: ignore[union-attr]
                                     self._transcript(person))
        state.name, state.data = "idle", {}
        return [Reply(msg.INCIDENT_JOINED.format(code=ticket.code, incident=f"S{incident_id}"),
                      (Choice(msg.BTN_ADD_INFO.format(code=ticket.code), f"add:{ticket.id}"),))]

    # -- tickets from the official's side -------------------------------------------------

    def _my_tickets(self, person: Person) -> Reply:
        tickets = self.tickets.of_user(person.id)
        if not tickets:
            return Reply(msg.NO_TICKETS, _MENU)
        lines = [msg.MY_TICKETS]
        choices: list[Choice] = []
        for t in tickets:
            lines.append(msg.MY_TICKET_LINE.format(code=t.code, status=self.tickets.status_label(t),
                                                   system=self.tickets.system_name(t.system_id),
                                                   description=_short(t.description, 60)))
            if t.is_open and len(choices) < 6:
                choices.append(Choice(msg.BTN_ADD_INFO.format(code=t.code), f"add:{t.id}"))
                choices.append(Choice(msg.BTN_WITHDRAW.format(code=t.code), f"withdraw:{t.id}"))
        return Reply("\n".join(lines), tuple(choices))

    def _on_ticket_action(self, kind: str, arg: str, person: Person, state: State) -> list[Reply]:
        if kind == "done":  # the ticket is looked up, so a forged "done:abc" is a stale button, not "#abc"
            ticket = self.tickets.visible_to(int(arg), person)
            state.name, state.data = "idle", {}
            return [Reply(msg.LEFT_TICKET.format(code=ticket.code), _MENU)]
        if kind == "rate":
            ticket_id, _, stars = arg.partition(":")
            ticket = self.tickets.rate(int(ticket_id), person, int(stars))
            return [Reply(msg.THANKS_FOR_RATING.format(code=ticket.code))]
        ticket_id = int(arg)
        if kind == "add":
            ticket = self.tickets.visible_to(ticket_id, person)
            if not ticket.is_open:
                return [Reply(msg.TICKET_NOT_OPEN.format(code=ticket.code, status=self.tickets.status_label(ticket)))]
            state.name, state.data = "ticket", {"ticket": ticket.id}
            return [Reply(msg.WRITE_INTO_TICKET.format(code=ticket.code),
                          (Choice(msg.BTN_DONE_WRITING, f"done:{ticket.id}"),))]
        if kind == "withdraw":
            ticket = self.tickets.withdraw(ticket_id, person)
            return [Reply(msg.WITHDRAWN.format(code=ticket.code))]
        if kind == "fixed":
            ticket = self.tickets.confirm_fixed(ticket_id, person)
            return [Reply(msg.ASK_RATING.format(code=ticket.code),
                          tuple(Choice("⭐" * n, f"rate:{ticket.id}:{n}") for n in range(5, 0, -1)))]
        ticket = self.tickets.still_broken(ticket_id, person)  # kind == "broken"
        state.name, state.data = "ticket", {"ticket": ticket.id}
        return [Reply(msg.REOPENED_BY_YOU.format(code=ticket.code),
                      (Choice(msg.BTN_DONE_WRITING, f"done:{ticket.id}"),))]

    def _into_ticket(self, ticket_id: int, inc: Incoming, person: Person, state: State) -> list[Reply]:
        try:
            ticket = self.tickets.add_from_official(ticket_id, person, inc.text.strip(), inc.photos, inc.edited)
        except TicketError as exc:
            state.name, state.data = "idle", {}
            return [Reply(str(exc) + "\n" + msg.BACK_TO_FAQ)]
        album = inc.album_id
        if album is not None and album in state.data.get("albums", []):
            return []
        if album is not None:
            state.data.setdefault("albums", []).append(album)
        return [Reply(msg.ADDED_TO_TICKET.format(code=ticket.code),
                      (Choice(msg.BTN_DONE_WRITING, f"done:{ticket.id}"),))]

    def _photos_when_idle(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        """A screenshot out of the blue starts a problem report with it attached."""
        open_tickets = [t for t in self.tickets.of_user(person.id) if t.is_open]
        if len(open_tickets) == 1 and inc.album_id is None:
            ticket = open_tickets[0]
            return self._into_ticket(ticket.id, inc, person, state)
        replies = [Reply(msg.PHOTO_STARTS_REPORT)] + self._start_escalation(
            person, state, description=inc.text.strip(), system=None, photos=list(inc.photos))
        if inc.album_id is not None and state.name == "esc":
            state.data["albums"] = [inc.album_id]  # the rest of the album joins silently
        return replies


_MENU = (
    Choice(msg.MENU_ASK, "menu:ask"),
    Choice(msg.MENU_REPORT, "menu:report"),
    Choice(msg.MENU_TICKETS, "menu:tickets"),
)


def _offer(state: State, choices: Sequence[Choice]) -> None:
    state.data["choices"] = [c.action for c in choices]
    state.data["labels"] = [fold(c.label) for c in choices]


def _picked(text: str, state: State) -> tuple[str | None, Reply | None]:
    """The action a typed number or a choice's own words select, or why nothing is selected."""
    options = state.data.get("choices") or []
    number = _NUMBER.match(text)
    if number is not None:
        if not options:
            return None, Reply(msg.NO_CHOICES_PENDING)
        index = int(number.group(1)) - 1
        if not 0 <= index < len(options):
            return None, Reply(msg.NO_SUCH_CHOICE.format(n=len(options)))
        return options[index], None
    labels = state.data.get("labels") or []
    typed = fold(text)
    matches = [a for a, label in zip(options, labels, strict=False) if typed and typed == label]
    return (matches[0] if len(matches) == 1 else None), None


def _describe(inc: Incoming) -> str:
    parts = [inc.text.strip()] if inc.text.strip() else []
    if inc.action:
        parts.append(f"[{inc.action}]")
    if inc.photos:
        parts.append(f"[{len(inc.photos)} ảnh]")
    if inc.contact_phone:
        parts.append(f"[SĐT {inc.contact_phone}]")
    if inc.unsupported:
        parts.append(f"[{inc.unsupported}]")
    return " ".join(parts) or "[trống]"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_smalltalk(text: str) -> bool:
    words = fold(text).split()
    return bool(words) and len(words) <= 6 and all(w in SMALLTALK for w in words)


def _system_by_words(text: str, systems: dict) -> str | None:
    folded = fold(text)
    for system in systems.values():
        if folded and (folded == fold(system.id) or folded in fold(system.name)):
            return system.id
    return None
