"""`/admin/faq`: the admins' FAQ editor — list, search, edit, create, retire, try, revert.

Pages are Jinja2 templates (`templates/faq_*.html`, autoescaped); the
editing itself is `bot.knowledge.edits.FaqEditor`. Saving checks and reloads
the whole FAQ and "try" builds a matcher over the edited, unsaved knowledge
base: both take long enough that they run in a worker thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.channels.common import split_text
from bot.knowledge.base import Entry, KnowledgeBase
from bot.knowledge.edits import EntryForm, FaqEditor
from bot.language.matching import Matcher, MatchResult
from bot.language.text import fold
from bot.store.schema import open_database

PAGE_SIZE = 50
REVIEW_EVERY_DAYS = 365
# Where an answer goes, and how long one message may be there (what a longer answer is split into).
CHANNEL_LIMITS = (("telegram", "Telegram", 4096), ("zalo", "Zalo", 2000), ("web", "Trang web", 4000))


@dataclass(frozen=True)
class Preview:
    channel: str
    label: str
    limit: int
    length: int
    parts: int


def previews(answer: str) -> list[Preview]:
    return [Preview(c, label, limit, len(answer), len(split_text(answer, limit)))
            for c, label, limit in CHANNEL_LIMITS]


def review_due(entry: Entry, today: date) -> bool:
    """Never reviewed, or the review's date (its first ten characters) over a year old."""
    reviewed = str(getattr(entry, "reviewed", "") or "")
    try:
        return (today - date.fromisoformat(reviewed[:10])).days > REVIEW_EVERY_DAYS
    except ValueError:
        return True


def search(entries: tuple[Entry, ...], q: str, system: str, review: str, today: date) -> list[Entry]:
    words = fold(q).split()
    found = []
    for entry in entries:
        if system and entry.system != system:
            continue
        if review == "due" and not review_due(entry, today):
            continue
        haystack = set(fold(" ".join((entry.id.replace("-", " "), *entry.phrasings, *entry.tags))).split())
        if all(w in haystack for w in words):
            found.append(entry)
    return found


def describe(result: MatchResult, kb: KnowledgeBase) -> str:
    """A decision in words an admin reads at a glance."""
    if result.decision == "answer" and result.entry_id:
        entry = kb.entry(result.entry_id)
        return f"trả lời bằng “{entry.question if entry else result.entry_id}”"
    if result.decision == "clarify":
        names = [(kb.entry(c.entry_id).question if kb.entry(c.entry_id) else c.entry_id)
                 for c in result.candidates]
        return "hỏi lại: " + " / ".join(f"“{n}”" for n in names)
    return "không có hướng dẫn (đề nghị gặp kỹ thuật viên)"


def trial(matcher: Matcher, form: EntryForm, original_id: str | None, question: str) -> dict[str, str]:
    """The decision on `question` now, and with the form's entry in place of the original."""
    kb = matcher.kb
    edited = Entry(id=form.id, question=form.question, answer=form.answer or "…",
                   variants=form.variants, system=form.system or None, tags=form.tags)
    entries = tuple(e for e in kb.entries if e.id not in (original_id, form.id)) + (edited,)
    changed = dataclasses.replace(kb, entries=entries)
    after = Matcher(changed, matcher.config)
    return {"before": describe(matcher.match(question), kb),
            "after": describe(after.match(question), changed)}


class FaqPages:
    """The editor's routes; authentication and CSRF come from the console they belong to."""

    def __init__(self, console: Any) -> None:
        self.console = console
        services = console.s
        database = services.config.database
        self.faq = services.faq
        self.clock = services.clock
        self.editor = FaqEditor(services.faq, lambda: open_database(database), services.clock)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin/faq", self.list_page),
            web.get("/admin/faq/new", self.new_page),
            web.get("/admin/faq/history", self.history_page),
            web.get("/admin/faq/{id}", self.edit_page),
            web.post("/admin/faq/save", self.save),
            web.post("/admin/faq/{id}/retire", self.retire),
            web.post("/admin/faq/revert/{edit}", self.revert),
        ]

    # -- helpers ------------------------------------------------------------------------

    def _admin(self, request: web.Request) -> tuple[Any, Any]:
        return self.console._staff(request, need_admin=True)

    def _render(self, request: web.Request, template: str, session: Any, person: Any,
                status: int = 200, **context: Any) -> web.StreamResponse:
        context.update(systems=sorted(self.faq.kb.systems.values(), key=lambda s: s.name))
        return self.console.render(request, template, session, person, status=status, **context)

    def _edits(self, entry_id: str | None, before: int | None) -> tuple[list[dict], str | None]:
        edits = self.editor.history(PAGE_SIZE + 1, before, entry_id)
        more = len(edits) > PAGE_SIZE
        edits = edits[:PAGE_SIZE]
        path = f"/admin/faq/{entry_id}" if entry_id else "/admin/faq/history"
        return edits, (f"{path}?{urlencode({'before': edits[-1]['id']})}" if more else None)

    def _edit_context(self, form: EntryForm, original_id: str | None) -> dict[str, Any]:
        edits, next_url = self._edits(original_id, None) if original_id else ([], None)
        return {"form": form, "original_id": original_id, "previews": previews(form.answer),
                "edits": edits, "next_url": next_url, "errors": {}, "warnings": [],
                "trial": None, "try_question": "", "saved": None}

    # -- pages --------------------------------------------------------------------------

    async def list_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self._admin(request)
        q, system, review = (request.query.get(k, "") for k in ("q", "system", "review"))
        page_text = request.query.get("page", "1")
        page = max(1, int(page_text)) if page_text.isdigit() else 1
        found = search(self.faq.kb.entries, q, system, review, self.clock().date())
        shown = found[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]

        def url(n: int) -> str:
            return "/admin/faq?" + urlencode({"q": q, "system": system, "review": review, "page": n})
        return self._render(request, "faq_list.html", session, person, entries=shown, total=len(found),
                            q=q, system=system, review=review,
                            prev_url=url(page - 1) if page > 1 else None,
                            next_url=url(page + 1) if page * PAGE_SIZE < len(found) else None)

    async def new_page(self, request: web.Request) -> web.StreamResponse:
        """A blank form; `?question=…&variants=…` pre-fills it (from the unanswered list)."""
        session, person = self._admin(request)
        form = EntryForm.from_fields({"id": "", "question": request.query.get("question", ""),
                                      "variants": request.query.get("variants", ""), "answer": "",
                                      "system": request.query.get("system", "")})
        return self._render(request, "faq_edit.html", session, person, **self._edit_context(form, None))

    async def edit_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self._admin(request)
        entry = self.faq.kb.entry(request.match_info["id"])
        if entry is None:
            raise web.HTTPNotFound(text="no such FAQ entry")
        context = self._edit_context(EntryForm.of(entry), entry.id)
        saved = request.query.get("saved", "")
        context["saved"] = int(saved) if saved.isdigit() else None
        before = request.query.get("before", "")
        if before.isdigit():
            context["edits"], context["next_url"] = self._edits(entry.id, int(before))
        return self._render(request, "faq_edit.html", session, person, **context)

    async def history_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self._admin(request)
        before = request.query.get("before", "")
        edits, next_url = self._edits(None, int(before) if before.isdigit() else None)
        reverted = request.query.get("reverted", "")
        return self._render(request, "faq_history.html", session, person, edits=edits, next_url=next_url,
                            errors=[], reverted=int(reverted) if reverted.isdigit() else None)

    # -- actions ------------------------------------------------------------------------

    async def save(self, request: web.Request) -> web.StreamResponse:
        session, person = self._admin(request)
        data = await self.console._form(request, session)
        form = EntryForm.from_fields({k: str(v) for k, v in data.items()})
        original_id = str(data.get("original_id") or "") or None
        context = self._edit_context(form, original_id)
        if data.get("do") == "try":
            question = str(data.get("try_question") or "").strip()
            context["try_question"] = question
            if question:
                context["trial"] = await asyncio.to_thread(trial, self.faq.matcher, form, original_id, question)
            return self._render(request, "faq_edit.html", session, person, **context)
        who = f"{person.full_name or session.username} ({session.username})"
        result = await asyncio.to_thread(self.editor.save, form, who, original_id)
        if not result.ok:
            context.update(errors=result.errors)
            return self._render(request, "faq_edit.html", session, person, status=422, **context)
        raise self.console._finish(request, web.HTTPSeeOther(f"/admin/faq/{form.id}?saved={result.edit_id}"))

    async def retire(self, request: web.Request) -> web.StreamResponse:
        session, person = self._admin(request)
        await self.console._form(request, session)
        result = await asyncio.to_thread(self.editor.retire, request.match_info["id"], session.username)
        if not result.ok:
            raise web.HTTPBadRequest(text="; ".join(m for ms in result.errors.values() for m in ms))
        raise self.console._finish(request, web.HTTPSeeOther("/admin/faq/history"))

    async def revert(self, request: web.Request) -> web.StreamResponse:
        session, person = self._admin(request)
        await self.console._form(request, session)
        edit = request.match_info["edit"]
        if not edit.isdigit():
            raise web.HTTPNotFound(text="no such edit")
        result = await asyncio.to_thread(self.editor.revert, int(edit), session.username)
        if not result.ok:
            edits, next_url = self._edits(None, None)
            return self._render(request, "faq_history.html", session, person, status=409, edits=edits,
                                next_url=next_url, reverted=None,
                                errors=[m for ms in result.errors.values() for m in ms])
        raise self.console._finish(request, web.HTTPSeeOther(f"/admin/faq/history?reverted={edit}"))
