"""`/admin`: the admins' desk around the FAQ editor — try a question, what the FAQ misses, reviews, figures.

The unanswered list (bot.insight.unanswered) and the honest "answered"
share (bot.insight.answered) read thousands of logged questions, so they are
computed in a worker thread on a connection of their own and kept until
something they depend on changes: a question logged or judged, a wording
dismissed or snoozed, the FAQ reloaded. A view that finds only new questions
since the last computation, when that one was slow (a big database), is
served it (at most `STALE_FOR` old) while a fresh one is made in the background. Adding a variant goes through
the FAQ editor (checked by `faq check`, recorded with who and when, revertible);
dismiss and snooze are written on the writer thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import messages as msg
from bot.desk.accounts import Session
from bot.desk.figures import recent_figures
from bot.desk.people import Person
from bot.insight.answered import FOLLOW_UP, Share, answered_lately
from bot.insight.unanswered import HORIZON, SNOOZE_DAYS, Cluster, collect, mark
from bot.knowledge.check import reviews_due
from bot.knowledge.edits import FaqEditor
from bot.store.database import connect
from bot.web.insight_pages import last_month
from bot.web.pages import Pages, page_number

log = logging.getLogger(__name__)

CANDIDATE_ENTRIES = 8  # entries offered for an unanswered question: the matcher's best guesses
MAX_ENTRY_IDS = 2000  # entry ids the page lists for typing another one (keeps the page small)
PAGE_SIZE = 20  # clusters per page of the unanswered list
MAX_CLUSTERS = 400  # clusters kept (and checked against the FAQ) at most
REVIEWS_SHOWN = 30
ANSWERED_OVER = timedelta(days=30)
# A computation that took longer than SLOW seconds may be shown for STALE_FOR seconds while a newer one is
# made (a big database); a quick one is simply made again, so a small desk always sees its latest question.
SLOW = 0.2
STALE_FOR = 120.0


@dataclass(frozen=True)
class Snapshot:
    """What the slow part of /admin found, and the state of the data it was computed from."""

    data: tuple  # (last question id, judged questions): newer questions make it stale
    marks: tuple  # (marks, last mark) and the matcher: a change here makes it wrong
    made: float  # time.monotonic() when computed
    took: float  # seconds the computation took
    clusters: list[Cluster]
    answered: Share


class AdminPages:
    def __init__(self, pages: Pages, editor: FaqEditor) -> None:
        self.pages = pages
        self.s = pages.s
        self.editor = editor
        self._snapshot: Snapshot | None = None
        self._refreshing: asyncio.Task[Snapshot] | None = None
        self._candidates: dict[tuple[int, str], list[tuple[str, str]]] = {}
        self._answers: dict[str, bool] = {}  # a cluster's wording -> the FAQ answers it now
        self._answers_for = 0  # id() of the matcher `_answers` was made with

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin", self.admin_page),
            web.post("/admin/variant", self.admin_variant),
            web.post("/admin/reload", self.admin_reload),
            web.post("/admin/unanswered/{action:dismiss|snooze}", self.unanswered_mark),
        ]

    # -- the page -------------------------------------------------------------------------------

    async def admin_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self.pages._staff(request, need_admin=True)
        q = request.query.get("q", "")[:1000]
        snapshot = await self._current()
        page = page_number(request, first=1)
        shown = snapshot.clusters[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        candidates = await asyncio.to_thread(self._candidates_for, shown)
        return self.pages.render(
            request, "admin.html", session, person,
            q=q, trial=await asyncio.to_thread(self._try, q) if q.strip() else None,
            clusters=[(c, candidates[c.key], _new_entry_url(c)) for c in shown],
            total=len(snapshot.clusters), page=page,
            prev_url=f"/admin?page={page - 1}#unanswered" if page > 1 else None,
            next_url=f"/admin?page={page + 1}#unanswered" if page * PAGE_SIZE < len(snapshot.clusters) else None,
            entry_ids=[entry.id for entry in self.s.faq.kb.entries[:MAX_ENTRY_IDS]],
            horizon_days=HORIZON.days, snooze_days=SNOOZE_DAYS, why_labels=msg.FEEDBACK_LABELS,
            answered=snapshot.answered, answered_days=ANSWERED_OVER.days,
            follow_up_minutes=int(FOLLOW_UP.total_seconds() // 60),
            entries=len(self.s.faq.kb.entries), reviews=self._reviews(), charts=self._charts(),
            month=last_month(self.pages))

    def _try(self, q: str) -> dict[str, Any]:
        """The matcher's decision on a typed question and its five best entries (in a worker thread)."""
        matcher, kb = self.s.faq.matcher, self.s.faq.kb
        match = matcher.match(q)
        ranked = [(c.entry_id, c.score, (kb.entry(c.entry_id).question if kb.entry(c.entry_id) else ""))
                  for c in matcher.rank(q, limit=5)]
        return {"decision": match.decision, "entry_id": match.entry_id, "score": match.score, "ranked": ranked}

    def _candidates_for(self, clusters: list[Cluster]) -> dict[str, list[tuple[str, str]]]:
        """The likely entries for each shown cluster (the matcher's best guesses), kept per FAQ version."""
        matcher, kb = self.s.faq.matcher, self.s.faq.kb
        found = {}
        for cluster in clusters:
            key = (id(matcher), cluster.key)
            if key not in self._candidates:
                ranked = [c.entry_id for c in matcher.rank(cluster.text, limit=CANDIDATE_ENTRIES)]
                self._candidates[key] = [(entry_id, entry.question) for entry_id in ranked
                                         if (entry := kb.entry(entry_id)) is not None]
            found[cluster.key] = self._candidates[key]
        return found

    def _reviews(self) -> dict[str, Any]:
        """Entries nobody has checked, or not for a year: the oldest first, the first few of them."""
        due = reviews_due(self.s.faq.kb, self.s.clock().date())
        never = sum(d.days is None for d in due)
        return {"never": never, "old": len(due) - never, "more": max(0, len(due) - REVIEWS_SHOWN),
                "shown": [(d.entry_id, d.question[:80], Path(d.file).name, d.reviewed) for d in due[:REVIEWS_SHOWN]]}

    def _charts(self) -> dict[str, Any]:
        figures = recent_figures(self.s.db, self.s.clock())
        tickets = self.s.tickets
        by_system: Counter[str] = Counter()
        for system_id, n in figures.by_system.items():
            by_system[tickets.system_name(system_id or None)] += n
        by_commune: Counter[str] = Counter()
        for commune_id, n in figures.by_commune.items():
            by_commune[tickets.commune_name(commune_id or None)] += n
        return {"first_response": figures.median_first_response, "resolution": figures.median_resolution,
                "bars": [_bars("Yêu cầu theo tuần (8 tuần)", figures.by_week),
                         _bars("Theo hệ thống", by_system.most_common(10)),
                         _bars("Theo xã/phường", by_commune.most_common(10))]}

    # -- the slow part, off the loop ------------------------------------------------------------

    def _versions(self) -> tuple[tuple, tuple]:
        db = self.s.db
        logged = db.execute("select max(id) from query_log").fetchone()[0]
        judged = db.execute("select coalesce(sum(n), 0) from query_stats where feedback != ''").fetchone()[0]
        marks = db.execute("select count(*), max(at) from unanswered_marks").fetchone()
        return (logged, judged), (*marks, id(self.s.faq.matcher))

    async def _current(self) -> Snapshot:
        """The last computation if still right (or only a little stale), else a new one."""
        data, marks = self._versions()
        last = self._snapshot
        if last is not None and last.marks == marks:
            if last.data == data:
                return last
            if last.took > SLOW and time.monotonic() - last.made < STALE_FOR:
                self._refresh(data, marks)  # in the background; this view shows the last one
                return last
        return await self._refresh(data, marks)

    def _refresh(self, data: tuple, marks: tuple) -> asyncio.Task[Snapshot]:
        """One computation at a time; a view that needs one while it runs waits for the same one."""
        running = self._refreshing
        if running is not None and not running.done():
            return running
        self._refreshing = asyncio.get_running_loop().create_task(self._compute(data, marks))
        return self._refreshing

    async def _compute(self, data: tuple, marks: tuple) -> Snapshot:
        started = time.monotonic()
        clusters, share = await asyncio.to_thread(self._read)
        self._snapshot = Snapshot(data, marks, time.monotonic(), time.monotonic() - started, clusters, share)
        return self._snapshot

    def _read(self) -> tuple[list[Cluster], Share]:
        """In a worker thread, on its own connection: the clusters the FAQ still misses, and the answered share."""
        now = self.s.clock()
        conn = connect(self.s.config.database)
        try:
            clusters = collect(conn.conn, now)
            share = answered_lately(conn.conn, now, ANSWERED_OVER.days)
        finally:
            conn.close()
        matcher = self.s.faq.matcher
        # The FAQ may answer a cluster now (a variant was added, an entry written): off the list.
        # Kept per FAQ version, so a new question costs one match, not one per cluster.
        answers = self._answers if self._answers_for == id(matcher) else {}
        for c in clusters[:MAX_CLUSTERS]:
            if c.text not in answers:
                answers[c.text] = matcher.match(c.text).decision == "answer"
        self._answers, self._answers_for = answers, id(matcher)
        return [c for c in clusters[:MAX_CLUSTERS] if not answers[c.text]], share

    # -- actions --------------------------------------------------------------------------------

    async def admin_variant(self, request: web.Request) -> web.StreamResponse:
        session, person = self.pages._staff(request, need_admin=True)
        form = await self.pages._form(request, session)
        entry_id = str(form.get("other_id") or form.get("entry_id") or "").strip()
        text = " ".join(str(form.get("text", "")).split())[:300]
        if self.s.faq.kb.entry(entry_id) is None or not text:
            raise web.HTTPBadRequest(text="unknown entry or empty text")
        result = await asyncio.to_thread(self.editor.add_variant, entry_id, text, _who(session, person))
        problems = [m for ms in result.errors.values() for m in ms]
        done = (msg.VARIANT_ADDED.format(text=text, entry=entry_id) if result.ok
                else msg.VARIANT_REFUSED.format(problems="; ".join(problems[:5])))
        raise web.HTTPSeeOther(f"/admin?{urlencode({'done': done})}#unanswered")

    async def unanswered_mark(self, request: web.Request) -> web.StreamResponse:
        """Dismiss a cluster's wordings for good, or snooze them for some days (who and when are kept)."""
        session, person = self.pages._staff(request, need_admin=True)
        form = await self.pages._form(request, session)
        keys = [k for k in str(form.get("keys", "")).split("\n") if k.strip()][:200]
        shown = " ".join(str(form.get("shown", "")).split())[:300]
        if not keys:
            raise web.HTTPBadRequest(text="nothing to mark")
        now = self.s.clock()
        if request.match_info["action"] == "snooze":
            days = int(form["days"]) if str(form.get("days", "")).isdigit() else SNOOZE_DAYS[0]
            days = days if days in SNOOZE_DAYS else SNOOZE_DAYS[0]
            await self.pages._write(mark, self.s.engine.db, keys, "snoozed", now + timedelta(days=days),
                                    _who(session, person), now, shown)
            done = msg.UNANSWERED_SNOOZED.format(text=shown, days=days)
        else:
            await self.pages._write(mark, self.s.engine.db, keys, "dismissed", None, _who(session, person), now, shown)
            done = msg.UNANSWERED_DISMISSED.format(text=shown)
        raise web.HTTPSeeOther(f"/admin?{urlencode({'done': done})}#unanswered")

    async def admin_reload(self, request: web.Request) -> web.StreamResponse:
        session, person = self.pages._staff(request, need_admin=True)
        await self.pages._form(request, session)
        ok, problems = await asyncio.to_thread(self.s.faq.reload)
        listed = "; ".join(str(p) for p in problems[:10])
        done = (msg.RELOADED.format(entries=len(self.s.faq.kb.entries)) if ok
                else msg.RELOAD_REFUSED.format(problems=listed))
        raise web.HTTPSeeOther(f"/admin?{urlencode({'done': done})}")


def _who(session: Session, person: Person) -> str:
    return f"{person.full_name or session.username} ({session.username})"


def _new_entry_url(cluster: Cluster) -> str:
    """The FAQ editor's new-entry form, pre-filled with the cluster's wording and its other wordings."""
    return "/admin/faq/new?" + urlencode({"question": cluster.text, "variants": "\n".join(cluster.others[:10])})


def _bars(title: str, rows: list[tuple[str, int]]) -> dict[str, Any]:
    top = max((n for _, n in rows), default=0) or 1
    return {"title": title, "rows": [(label, n, round(100 * n / top)) for label, n in rows]}
