"""`/admin`: try a question, the questions the FAQ misses, entries due for review, figures, reload.

The FAQ editor itself is bot.web.faq_pages; this is the admins' desk around it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web
from rapidfuzz import fuzz

from bot import messages as msg
from bot.desk.actions import unanswered_questions
from bot.desk.figures import recent_figures
from bot.knowledge.check import reviews_due
from bot.knowledge.editing import add_variant
from bot.language.text import fold
from bot.web.insight_pages import report_links
from bot.web.pages import Pages, e

CANDIDATE_ENTRIES = 8  # entries offered for an unanswered question: the matcher's best guesses
MAX_ENTRY_IDS = 2000  # entry ids the page lists for typing another one (keeps the page small)


class AdminPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.s = pages.s
        self._unanswered_cache: tuple[tuple, list[dict]] | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin", self.admin_page),
            web.post("/admin/variant", self.admin_variant),
            web.post("/admin/reload", self.admin_reload),
        ]


    async def admin_page(self, request: web.Request) -> web.StreamResponse:
        session, person = self.pages._staff(request, need_admin=True)
        csrf = self.pages._csrf(session)
        q = request.query.get("q", "")
        result = ""
        if q.strip():
            match = self.s.faq.matcher.match(q[:1000])
            kb = self.s.faq.kb
            cands = "".join(
                f'<li><code>{e(c.entry_id)}</code> {c.score:.2f} — {e(kb.entry(c.entry_id).question if kb.entry(c.entry_id) else "")}</li>'
                for c in self.s.faq.matcher.rank(q[:1000], limit=5))
            result = (f'<div id="result"><p>Quyết định: <b>{e(match.decision)}</b>'
                      f'{" → " + e(match.entry_id) if match.entry_id else ""} (điểm {match.score:.2f})</p>'
                      f'<ol>{cands}</ol></div>')
        notice = f'<p class="notice">{e(request.query["done"])}</p>' if request.query.get("done") else ""
        body = (
            f'<h1>Quản trị</h1>{notice}<h2>Thử một câu hỏi</h2><form method="get" id="try">'
            f'<input name="q" value="{e(q)}" placeholder="Gõ câu hỏi như cán bộ gõ"><button>Thử</button></form>{result}'
            f'<h2>Câu hỏi FAQ chưa trả lời được</h2><ul id="unanswered">{self._unanswered(csrf)}</ul>'
            f'<h2>FAQ</h2><form method="post" action="/admin/reload" id="reload">{csrf}'
            f'<button>Nạp lại FAQ</button> ({len(self.s.faq.kb.entries)} câu hỏi)</form>'
            f'<h2>Cần rà soát</h2><div id="reviews">{self._reviews()}</div>'
            f'<h2>Thống kê</h2><div id="charts">{self._charts()}</div>'
            + report_links(self.pages)
        )
        return self.pages._page(request, "Quản trị", body, session)

    def _unanswered(self, csrf: str) -> str:
        """Questions the FAQ still misses, each with a form to add it as a variant of a likely entry."""
        kb = self.s.faq.kb
        items = []
        for group in self._unanswered_groups():
            others = "; ".join(e(x) for x in group["others"][:3])
            options = "".join(f'<option value="{e(entry_id)}">{e(question[:70])} ({e(entry_id)})</option>'
                              for entry_id, question in group["candidates"])
            items.append(
                f'<li><b>{group["count"]}×</b> {e(group["query"])} <small>({e(msg.FEEDBACK_LABELS.get(group["why"], group["why"]))})'
                f'{" — cũng: " + others if others else ""}</small>'
                f'<form method="post" action="/admin/variant" class="add-variant">{csrf}'
                f'<input type="hidden" name="text" value="{e(group["query"])}">'
                f'<select name="entry_id">{options}</select>'
                f'<input name="other_id" list="faq-ids" placeholder="{e(msg.OTHER_ENTRY_ID)}" size="18">'
                '<button>Thêm làm cách hỏi khác</button></form></li>')
        if not items:
            return f"<li>{e(msg.NOTHING_UNANSWERED)}</li>"
        # One list of every entry id for the whole page, not one per question.
        ids = "".join(f'<option value="{e(entry.id)}">' for entry in kb.entries[:MAX_ENTRY_IDS])
        return "".join(items) + f'<datalist id="faq-ids">{ids}</datalist>'

    def _unanswered_groups(self) -> list[dict]:
        """The grouped questions with their likely entries, computed again only when something changed.

        Clustering and matching 500 logged questions costs tens of
        milliseconds; they change only when a question is logged or judged, or
        the FAQ is reloaded, which is what the cache key says.
        """
        db = self.s.db
        logged = db.execute("select max(id) from query_log").fetchone()[0]
        judged = db.execute("select coalesce(sum(n), 0) from query_stats where decision = 'none' or feedback in "
                            "('not_right', 'none_of_these', 'escalated')").fetchone()[0]
        key = (logged, judged, id(self.s.faq.matcher))
        if self._unanswered_cache is not None and self._unanswered_cache[0] == key:
            return self._unanswered_cache[1]
        matcher, kb = self.s.faq.matcher, self.s.faq.kb
        groups = []
        for group in _cluster(unanswered_questions(db, limit=500)):
            if len(groups) >= 50:
                break
            if matcher.match(group["query"]).decision == "answer":
                continue  # the FAQ answers it now (a variant was added, or an entry written)
            ranked = [c.entry_id for c in matcher.rank(group["query"], limit=CANDIDATE_ENTRIES)]
            candidates = [(entry_id, entry.question) for entry_id in ranked
                          if (entry := kb.entry(entry_id)) is not None]
            groups.append({**group, "candidates": candidates})
        self._unanswered_cache = (key, groups)
        return groups

    def _reviews(self, shown: int = 30) -> str:
        """Entries nobody has checked, or not for a year: the oldest first, the first `shown` of them."""
        due = reviews_due(self.s.faq.kb, self.s.clock().date())
        never = sum(d.days is None for d in due)
        rows = "".join(
            f'<li><code>{e(d.entry_id)}</code> {e(d.question[:80])} <small>({e(Path(d.file).name)}; '
            f'{e(d.reviewed) if d.reviewed else "chưa rà soát"})</small></li>' for d in due[:shown])
        more = f"<p>… và {len(due) - shown} mục nữa (xem bằng <code>python -m bot faq check</code>).</p>" if len(due) > shown else ""
        return (f"<p>{never} mục chưa từng rà soát, {len(due) - never} mục rà soát quá 1 năm "
                f"(trường <code>reviewed</code>, xem docs/knowledge.md).</p><ol>{rows}</ol>{more}")

    def _charts(self) -> str:
        figures = recent_figures(self.s.db, self.s.clock())
        share = f"{100 * figures.helped / figures.questions:.0f}%" if figures.questions else "-"
        med = lambda x: f"{x:.0f} phút" if x is not None else "-"  # noqa: E731
        tickets = self.s.tickets
        by_system: Counter[str] = Counter()
        for system_id, n in figures.by_system.items():
            by_system[tickets.system_name(system_id or None)] += n
        by_commune: Counter[str] = Counter()
        for commune_id, n in figures.by_commune.items():
            by_commune[tickets.commune_name(commune_id or None)] += n
        return (f'<p>Trả lời được không cần yêu cầu: <b>{share}</b> trong {figures.questions} câu hỏi · '
                f'trung vị phản hồi đầu {med(figures.median_first_response)} · '
                f'trung vị xử lý {med(figures.median_resolution)}</p>'
                + _bars("Yêu cầu theo tuần (8 tuần)", figures.by_week)
                + _bars("Theo hệ thống", by_system.most_common(10))
                + _bars("Theo xã/phường", by_commune.most_common(10)))

    async def admin_variant(self, request: web.Request) -> web.StreamResponse:
        session, person = self.pages._staff(request, need_admin=True)
        form = await self.pages._form(request, session)
        entry = self.s.faq.kb.entry(str(form.get("other_id") or form.get("entry_id") or "").strip())
        text = " ".join(str(form.get("text", "")).split())[:300]
        if entry is None or not text:
            raise web.HTTPBadRequest(text="unknown entry or empty text")
        ok, problems = add_variant(self.s.faq, entry, text)
        done = (msg.VARIANT_ADDED.format(text=text, entry=entry.id) if ok
                else msg.VARIANT_REFUSED.format(problems="; ".join(str(p) for p in problems[:5])))
        raise web.HTTPFound(f"/admin?{urlencode({'done': done})}")

    async def admin_reload(self, request: web.Request) -> web.StreamResponse:
        session, person = self.pages._staff(request, need_admin=True)
        await self.pages._form(request, session)
        ok, problems = self.s.faq.reload()
        listed = "; ".join(str(p) for p in problems[:10])
        done = (msg.RELOADED.format(entries=len(self.s.faq.kb.entries)) if ok
                else msg.RELOAD_REFUSED.format(problems=listed))
        raise web.HTTPFound(f"/admin?{urlencode({'done': done})}")


def _cluster(groups: list[dict], similarity: float = 80.0) -> list[dict]:
    """Merge questions worded alike (rapidfuzz on the folded text) into one line each."""
    merged: list[dict] = []
    for group in groups:
        key = fold(group["query"])
        for target in merged:
            if fuzz.token_set_ratio(key, target["key"]) >= similarity:
                target["count"] += group["count"]
                target["others"].append(group["query"])
                break
        else:
            merged.append({**group, "key": key, "others": []})
    return sorted(merged, key=lambda g: -g["count"])


def _bars(title: str, rows: list[tuple[str, int]]) -> str:
    if not rows:
        return f"<h3>{e(title)}</h3><p>-</p>"
    top = max(n for _, n in rows) or 1
    lines = "".join(f'<div class="bar"><span class="label">{e(label)}</span>'
                    f'<span class="fill" style="width:{100 * n / top:.0f}%">{n}</span></div>' for label, n in rows)
    return f"<h3>{e(title)}</h3>{lines}"
