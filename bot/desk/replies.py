"""Reply pieces shared by the conversation's flows."""

from __future__ import annotations

from bot import messages as msg
from bot.models import Choice

MATCH_CHARS = 1000  # the matcher reads the start of a very long message

MENU = (
    Choice(msg.MENU_ASK, "menu:ask"),
    Choice(msg.MENU_REPORT, "menu:report"),
    Choice(msg.MENU_TICKETS, "menu:tickets"),
)


def short(text: str, limit: int = 60) -> str:
    """One line of at most `limit` characters, for quoting what an official wrote back to them."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
