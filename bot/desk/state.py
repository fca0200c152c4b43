"""A person's place in the conversation, shared by the engine and the staff actions.

It lives in its own module so that the conversation and the desk's staff
actions both depend on it, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class State:
    """Where a person is in the conversation, and what the current step remembers."""

    name: str = "idle"
    data: dict[str, Any] = field(default_factory=dict)
    keep_choices: bool = False  # this turn's replies leave the offered choices standing
    message_id: int | None = None  # the logged message being handled (not stored)
