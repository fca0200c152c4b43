"""Registration and the profile: who an official is, asked one step at a time.

A mixin of the conversation Engine (bot.desk.conversation): the steps keep their state in
the same `State` and may hand over to the Engine's other flows — a commune typed that is
really a question goes to the FAQ, and a report that waited for registration resumes.
A loosely matched commune (a former unit's name, a typo) is confirmed before it is kept.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

from bot import messages as msg
from bot.config import Config
from bot.desk.actions import Desk
from bot.desk.people import People, Person
from bot.desk.replies import MATCH_CHARS, MENU, short
from bot.desk.state import State
from bot.knowledge.communes import Commune, match_commune
from bot.models import ChannelTraits, Choice, Incoming, Reply

_PHONE = re.compile(r"^\+?[0-9][0-9 .\-]{7,14}[0-9]$")


class Registration:
    """The registration and profile steps; the Engine provides the attributes and hooks below."""

    db: Database
    config: Config
    people: People
    communes: tuple[Commune, ...]
    desk: Desk

    def _trait(self, channel: str) -> ChannelTraits:
        raise NotImplementedError

    def _ask_faq(self, text: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        raise NotImplementedError

    def _start_escalation(self, person: Person, state: State, description: str, system: str | None,
                          qid: int | None = None, photos: list[str] | None = None, channel: str = "",
                          since: int | None = None) -> list[Reply]:
        raise NotImplementedError

    def _start_registration(self, person: Person, state: State, then: dict | None) -> list[Reply]:
        if person.registered:
            return [Reply(msg.ALREADY_REGISTERED.format(name=person.full_name or ""), MENU)]
        if person.status == "pending":
            return [Reply(msg.REGISTRATION_PENDING)]
        state.name, state.data = "reg", {"step": "commune", "then": then}
        return [Reply(msg.REG_ASK_COMMUNE)]

    def _profile(self, person: Person, channel: str, state: State) -> list[Reply]:
        """The official's profile, with a choice per field to change it (unregistered: register)."""
        if not person.registered:
            return self._start_registration(person, state, then=None)
        state.name, state.data = "idle", {}
        commune = next((c.name for c in self.communes if c.id == person.commune_id), person.commune_id or "?")
        text = msg.PROFILE.format(commune=commune, name=person.full_name or "?",
                                  title=person.job_title or "?", phone=person.phone or "?")
        return [Reply(text, tuple(Choice(label, f"prof:{field}") for field, label in msg.BTN_EDIT.items()))]

    def _on_profile_action(self, kind: str, arg: str, inc: Incoming, person: Person,
                           state: State) -> list[Reply]:
        if kind == "prof":
            if not person.registered or arg not in msg.BTN_EDIT:
                return [Reply(msg.STALE_BUTTON)]
            state.name, state.data = "reg", {"step": arg, "edit": True}
            return [self._ask_step(arg, inc.channel)]
        if state.name != "reg" or state.data.get("step") not in ("commune", "commune_confirm"):
            return [Reply(msg.STALE_BUTTON)]
        if kind == "regq":  # what was typed as a commune was a question: leave registering, answer it
            typed = state.data.get("typed", "")
            state.name, state.data = "idle", {}
            return self._ask_faq(typed, inc, person, state) if typed else [Reply(msg.ASK_PROMPT)]
        if arg == "retype":
            state.data["step"] = "commune"
            return [Reply(msg.REG_RETYPE_COMMUNE)]
        commune = next((c for c in self.communes if c.id == arg), None)
        return self._reg_commune(commune, inc.channel, person, state) if commune else [Reply(msg.STALE_BUTTON)]

    def _ask_step(self, step: str, channel: str) -> Reply:
        if step == "commune":
            return Reply(msg.PROFILE_ASK_COMMUNE)
        if step == "name":
            return Reply(msg.PROFILE_ASK_NAME)
        if step == "title":
            return Reply(msg.PROFILE_ASK_TITLE)
        return self._ask_phone(channel)

    def _ask_phone(self, channel: str, bad: bool = False) -> Reply:
        contact = self._trait(channel).share_contact
        if bad:
            return Reply(msg.REG_BAD_PHONE, request_contact=contact)
        return Reply(msg.REG_ASK_PHONE_CONTACT if contact else msg.REG_ASK_PHONE, request_contact=contact)

    def _on_registration(self, inc: Incoming, person: Person, state: State) -> list[Reply]:
        step = state.data.get("step")
        text = inc.text.strip()
        if step == "phone" and inc.contact_phone:
            text = inc.contact_phone
        if not text:
            return [Reply(msg.REG_NEED_TEXT)]
        if step in ("commune", "commune_confirm"):
            return self._reg_commune_typed(text, inc, person, state)
        if step == "name":
            return self._reg_field(person, state, inc.channel, "full_name", text[:100], next_step="title")
        if step == "title":
            return self._reg_field(person, state, inc.channel, "job_title", text[:100], next_step="phone")
        if step == "phone":
            if not _PHONE.match(text):
                return [self._ask_phone(inc.channel, bad=True)]
            phone = re.sub(r"[ .\-]", "", text)
            if state.data.get("edit"):
                return self._save_profile(person, state, inc.channel, phone=phone)
            return self._finish_registration(phone, person, state)
        state.name, state.data = "idle", {}
        return [Reply(msg.STALE_BUTTON)]

    def _reg_commune_typed(self, text: str, inc: Incoming, person: Person, state: State) -> list[Reply]:
        """A typed commune is kept only when it is the current name; anything looser is confirmed."""
        match = match_commune(self.communes, text)
        if match.exact:
            return self._reg_commune(match.candidates[0], inc.channel, person, state)
        state.data["step"] = "commune"
        if not match.candidates:
            state.data["typed"] = text[:MATCH_CHARS]
            return [Reply(msg.REG_COMMUNE_UNKNOWN.format(text=short(text)),
                          (Choice(msg.BTN_IT_IS_A_QUESTION, "regq"),))]
        if len(match.candidates) == 1:
            commune = match.candidates[0]
            state.data["step"] = "commune_confirm"
            text_out = (msg.REG_CONFIRM_FORMER.format(former=match.former[:1].upper() + match.former[1:],
                                                      commune=commune.name)
                        if match.former else msg.REG_CONFIRM_COMMUNE.format(commune=commune.name))
            return [Reply(text_out, (Choice(msg.BTN_YES, f"com:{commune.id}"), Choice(msg.BTN_NO_RETYPE, "com:retype")))]
        return [Reply(msg.REG_COMMUNE_PICK, tuple(Choice(c.name, f"com:{c.id}") for c in match.candidates)
                      + (Choice(msg.BTN_NO_RETYPE, "com:retype"),))]

    def _reg_commune(self, commune: Commune, channel: str, person: Person, state: State) -> list[Reply]:
        if state.data.get("edit"):
            return self._save_profile(person, state, channel, commune_id=commune.id)
        state.data.pop("typed", None)
        state.data.update(step="name", commune_id=commune.id)
        return [Reply(msg.REG_ASK_NAME.format(commune=commune.name))]

    def _reg_field(self, person: Person, state: State, channel: str, field: str, value: str,
                   next_step: str) -> list[Reply]:
        if state.data.get("edit"):
            return self._save_profile(person, state, channel, **{field: value})
        state.data.update({"step": next_step, field: value})
        return [Reply(msg.REG_ASK_TITLE) if next_step == "title" else self._ask_phone(channel)]

    def _save_profile(self, person: Person, state: State, channel: str, **fields: str) -> list[Reply]:
        person = self.people.update(person.id, **fields)
        replies = [Reply(msg.PROFILE_SAVED)]
        return replies + self._profile(person, channel, state)

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
                                                  then.get("photos", []), then.get("channel", ""),
                                                  since=then.get("since"))]
        return [done]
