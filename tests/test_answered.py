"""The honest "answered": confirmed, or answered and nothing more asked on it, on a real database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.insight.answered import Share, answered_share
from bot.store.outbox import iso
from bot.store.schema import open_database
from tests.harness import MONDAY_8AM


def test_only_confirmed_or_not_asked_again_counts_as_answered(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.sqlite")
    at = MONDAY_8AM
    users = {name: db["users"].insert({"role": "staff", "status": "active", "created_at": iso(at)}).last_pk
             for name in "abcdefghijk"}

    def ask(user: str, minutes: float, decision: str, entry_id: str | None = None, feedback: str | None = None,
            query: str = "…", candidates: str = "[]") -> None:
        db["query_log"].insert({"at": iso(at + timedelta(minutes=minutes)), "user_id": users[user], "query": query,
                                "decision": decision, "entry_id": entry_id, "candidates": candidates,
                                "feedback": feedback})

    ask("a", 0, "answer", "e1", "solved")  # confirmed: answered
    ask("b", 0, "answer", "e1")  # answered, nothing more: answered
    ask("c", 0, "answer", "e1")  # answered, the same entry again 5 minutes later: not the first time
    ask("c", 5, "answer", "e1")  # … the second time, nothing more: answered
    ask("d", 0, "answer", "e1", query="máy in không in được")  # answered, then the same words again
    ask("d", 10, "none", query="máy in vẫn không in được ạ")  # and no answer: neither is answered
    ask("j", 0, "answer", "e1")  # answered, then no answer to a question that offered the same entry:
    ask("j", 10, "none", candidates='["e1", "e2"]')  # neither is answered
    ask("k", 0, "answer", "e1", query="máy in không in được")  # answered, then an unrelated question
    ask("k", 10, "none", query="giá lúa hôm nay")  # the FAQ cannot answer: the first one counts
    ask("e", 0, "answer", "e1")  # answered, then another topic: answered
    ask("e", 10, "answer", "e2", "not_right")  # (not answered)
    ask("f", 0, "clarify")  # a "did you mean" list nobody picked from: not answered
    ask("g", 0, "clarify", None, "picked:e3")  # an entry picked, nothing more: answered
    ask("h", 0, "answer", "e1")  # answered, but a ticket 20 minutes later: not answered
    db["tickets"].insert({"user_id": users["h"], "status": "new", "created_at": iso(at + timedelta(minutes=20))})
    ask("i", 0, "answer", "e1")  # answered, the same question again after an hour: answered (both)
    ask("i", 60, "answer", "e1")

    assert answered_share(db.conn, at, at + timedelta(days=1)) == Share(questions=17, answered=8)
    assert answered_share(db.conn, at, at + timedelta(days=1)).percent == "47%"
    assert answered_share(db.conn, at + timedelta(days=1), at + timedelta(days=2)) == Share(0, 0)
