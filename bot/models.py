"""The core's own message types: what channels turn platform updates into, and back.

Nothing here knows about Telegram or Zalo. A channel adapter builds an
`Incoming` from its platform's update and renders each `Reply` its own way
(inline buttons on Telegram, numbered lines on Zalo and in the terminal).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["staff", "technician", "admin"]
OPEN_STATUSES: tuple[str, ...] = ("new", "assigned", "waiting_user")
URGENCIES: tuple[str, ...] = ("normal", "urgent")

MAX_TEXT = 4000  # longer messages are cut (and the cut said) before they reach the core

# Lone surrogates (U+D800–U+DFFF) cannot be encoded as UTF-8: SQLite and every platform
# would refuse a text holding one, and the whole message would be lost.
_SURROGATES = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """`text` with each code point that is not valid Unicode text replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: sent text or photos, pressed a choice, shared a contact."""

    channel: str
    user_ref: str  # the sender on that platform
    chat_ref: str  # where replies to this message go
    text: str = ""
    action: str | None = None  # a pressed choice's action
    photos: tuple[str, ...] = ()  # platform file references
    contact_phone: str | None = None
    update_id: str | None = None  # for dropping redelivered updates
    album_id: str | None = None  # several photos sent together
    edited: bool = False
    display_name: str = ""
    unsupported: str | None = None  # e.g. "sticker": something we cannot read
    about_ticket: int | None = None  # the channel knows this answers ticket N (reply-to a card)
    in_group: bool = False  # sent in a group chat (technicians' queue), not a private chat

    def __post_init__(self) -> None:
        # Whatever a channel let through, the core only ever sees storable text.
        for name in ("user_ref", "chat_ref", "text", "action", "contact_phone", "display_name", "update_id"):
            value = getattr(self, name)
            if isinstance(value, str) and _SURROGATES.search(value):
                object.__setattr__(self, name, valid_text(value))


@dataclass(frozen=True)
class Choice:
    """A button (or numbered option): what it says and the action it triggers (≤ 64 bytes)."""

    label: str
    action: str

    def __post_init__(self) -> None:
        if len(self.action.encode()) > 64:
            raise ValueError(f"choice action too long for Telegram callback data: {self.action!r}")


@dataclass(frozen=True)
class ChannelTraits:
    """What a channel can show, so the core words its prompts truthfully.

    The core never names a messenger; the composition root tells it, per
    channel name, whether choices are buttons, numbered lines or both,
    whether a share-my-phone button exists, and how long a button label may
    be before it must be a short label instead of the full text.
    """

    buttons: bool = True
    numbered: bool = True
    share_contact: bool = False
    label_limit: int | None = None  # None: labels are shown whole (text channels)

    @property
    def picking(self) -> str:
        """"buttons", "numbered" or "both": the key of the wording that says how to choose."""
        if self.buttons and not self.numbered:
            return "buttons"
        if self.numbered and not self.buttons:
            return "numbered"
        return "both"


@dataclass(frozen=True)
class Reply:
    """A message for one chat."""

    text: str
    choices: tuple[Choice, ...] = ()
    request_contact: bool = False  # ask the platform for the phone-number button
    photos: tuple[str, ...] = ()
    key: str | None = None  # a message the channel may later edit in place (ticket cards)
    document: str | None = None  # a file on this server sent as a document where the channel can

    def to_json(self) -> str:
        return json.dumps(
            {
                "text": self.text,
                "choices": [[c.label, c.action] for c in self.choices],
                "request_contact": self.request_contact,
                "photos": list(self.photos),
                "key": self.key,
                **({"document": self.document} if self.document else {}),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str) -> Reply:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            text=data["text"],
            choices=tuple(Choice(label, action) for label, action in data.get("choices", [])),
            request_contact=bool(data.get("request_contact")),
            photos=tuple(data.get("photos", [])),
            key=data.get("key"),
            document=data.get("document"),
        )


@dataclass(frozen=True)
class Delivery:
    """An outbox item handed to a channel for sending."""

    id: int
    channel: str
    chat_ref: str
    reply: Reply
    attempts: int
    user_id: int | None = None
    ticket_id: int | None = None


@dataclass
class Outcome:
    """What handling one Incoming produced: replies to the sender (also in the outbox)."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
