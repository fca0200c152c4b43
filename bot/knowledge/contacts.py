"""Who to call, as data: the province's contacts and the placeholders answers use for them.

Phone numbers, hotlines and portal addresses change, differ between provinces
and must never be made up, so answers do not spell them out: they say
``{contact:so-khcn.phone}`` and the value comes from the province layer's
``contacts.yaml`` when the bot replies. A value nobody has filled in yet
renders as a sentence telling the official whom to ask, never as a blank,
and `faq check` lists it as a warning so the provincial IT centre fills it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot import messages as msg
from bot.knowledge.base import _ID, _LINE, Problem, _read_yaml, _text, _top_level

# The values a contact may carry; the label is how an unfilled one is named to the official.
FIELDS: dict[str, str] = {
    "phone": msg.CONTACT_FIELD_PHONE,
    "hotline": msg.CONTACT_FIELD_HOTLINE,
    "email": msg.CONTACT_FIELD_EMAIL,
    "web": msg.CONTACT_FIELD_WEB,
    "address": msg.CONTACT_FIELD_ADDRESS,
    "hours": msg.CONTACT_FIELD_HOURS,
}
_KEYS = {"id", "name", "handles", "systems", "ask", "source", "note", *FIELDS, _LINE}
PLACEHOLDER = re.compile(r"\{contact:([a-z0-9-]+)\.([a-z]+)\}")
# A placeholder, with the brackets around it when it stands alone in them: "({contact:x.phone})".
_WRAPPED_OR_BARE = re.compile(r"(?P<open>\()?\{contact:(?P<id>[a-z0-9-]+)\.(?P<field>[a-z]+)\}(?(open)\))")


@dataclass(frozen=True)
class Contact:
    """One owner or help desk: its name, what it handles and how to reach it."""

    id: str
    name: str
    handles: str = ""
    systems: tuple[str, ...] = ()
    ask: str = ""  # whom to ask for a value that is not filled in yet
    source: str = ""
    values: dict[str, str] = field(default_factory=dict)  # field -> value ("" = not filled in)
    file: str = ""
    line: int = 0

    def value(self, name: str) -> str:
        return self.name if name == "name" else self.values.get(name, "")


def load_contacts(path: Path, problems: list[Problem]) -> dict[str, Contact]:
    """Read `contacts.yaml`; a missing file means no contacts (every placeholder is unknown)."""
    if not path.exists():
        return {}
    contacts: dict[str, Contact] = {}
    for index, raw in enumerate(_top_level(_read_yaml(path, problems), path, "contacts", problems)):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            problems.append(Problem(str(path), 0, f"contacts[{index}] needs an 'id'"))
            continue
        line = raw.get(_LINE, 0)
        contact_id = raw["id"]
        where = (str(path), line, contact_id)
        for key in sorted(set(raw) - _KEYS, key=str):
            problems.append(Problem(str(path), line, f"unknown field '{key}'", contact_id))
        if not _ID.match(contact_id):
            problems.append(Problem(str(path), line, "id must be lower-case a-z, 0-9 and '-'", contact_id))
        if contact_id in contacts:
            problems.append(Problem(str(path), line, "duplicate contact id", contact_id))
        systems = raw.get("systems") or []
        if not isinstance(systems, list) or not all(isinstance(s, str) for s in systems):
            problems.append(Problem(str(path), line, "'systems' must be a list of system ids", contact_id))
            systems = []
        contacts[contact_id] = Contact(
            id=contact_id,
            name=_text(raw, "name", where, problems),
            handles=_text(raw, "handles", where, problems, required=False),
            systems=tuple(systems),
            ask=_text(raw, "ask", where, problems, required=False),
            source=_text(raw, "source", where, problems, required=False),
            values={f: _text(raw, f, where, problems, required=False) for f in FIELDS if f in raw},
            file=str(path),
            line=line,
        )
    return contacts


def unfilled(contacts: dict[str, Contact]) -> dict[str, Contact]:
    """The same contacts with no value filled in (what a new province starts from)."""
    return {cid: dataclasses.replace(c, values={f: "" for f in FIELDS}) for cid, c in contacts.items()}


def filled(contacts: dict[str, Contact], value: Callable[[Contact, str], str]) -> dict[str, Contact]:
    """The same contacts with every value set by `value(contact, field)` (for tests and previews)."""
    return {cid: dataclasses.replace(c, values={f: value(c, f) for f in FIELDS}) for cid, c in contacts.items()}


def placeholders(text: str) -> list[tuple[str, str]]:
    """The (contact id, field) pairs a text refers to, in order."""
    return PLACEHOLDER.findall(text)


def unfilled_sentence(contact: Contact, name: str) -> str:
    """What the official reads where a value is missing: what it is and whom to ask."""
    return msg.CONTACT_UNFILLED.format(
        what=FIELDS.get(name, name), name=contact.name, ask=contact.ask or msg.CONTACT_ASK_DEFAULT
    )


def render(text: str, contacts: dict[str, Contact]) -> str:
    """The text with every contact placeholder replaced by its value or by whom to ask.

    A placeholder naming an unknown contact or field cannot pass `faq check`;
    should one reach a reply anyway it becomes the default "whom to ask"
    sentence rather than raw braces.
    """

    def one(match: re.Match[str]) -> str:
        wrapped = match.group("open") is not None
        contact = contacts.get(match.group("id"))
        if contact is None:
            return msg.CONTACT_UNKNOWN  # in brackets of its own
        value = contact.value(match.group("field"))
        if value:
            return f"({value})" if wrapped else value
        return unfilled_sentence(contact, match.group("field"))  # in brackets of its own: no "((...))"

    return _WRAPPED_OR_BARE.sub(one, text)


def placeholder_problems(answers: Iterable[tuple[str, str, int, str | None]],
                         contacts: dict[str, Contact]) -> list[Problem]:
    """Errors for placeholders naming an unknown contact or field; a warning per unfilled value used.

    `answers` are (text, file, line, entry id) of every answer that may hold a
    placeholder. An unfilled value is reported once, at the contact, with the
    entries that need it: that is where the provincial IT centre fills it in.
    """
    problems: list[Problem] = []
    users: dict[tuple[str, str], list[str]] = {}
    for text, file, line, entry_id in answers:
        for contact_id, name in placeholders(text):
            token = f"{{contact:{contact_id}.{name}}}"
            contact = contacts.get(contact_id)
            if contact is None:
                problems.append(Problem(file, line, f"unknown contact '{contact_id}' in {token}", entry_id))
            elif name != "name" and name not in FIELDS:
                problems.append(Problem(file, line, f"unknown contact field '{name}' in {token} "
                                        f"(one of name, {', '.join(FIELDS)})", entry_id))
            elif not contact.value(name):
                users.setdefault((contact_id, name), []).append(entry_id or file)
    for (contact_id, name), entry_ids in sorted(users.items()):
        contact = contacts[contact_id]
        problems.append(Problem(
            contact.file, contact.line,
            f"'{name}' is not filled in; {len(entry_ids)} answer(s) tell the official to ask "
            f"{contact.ask or 'the default'} instead: {', '.join(sorted(set(entry_ids)))}",
            contact_id, "warning",
        ))
    return problems
