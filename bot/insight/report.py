"""The training-needs report: one self-contained HTML page (charts inline as SVG) and CSV files.

Built from `figures.compute` for the month and the month before, so every
number has its month-on-month change beside it. It names communes, systems
and FAQ entries only: no official's name, phone number or typed question
(those may hold citizens' details), which is what a provincial leader may see.

Building it takes a second or two (matplotlib), so servers call `build` in a
worker thread: it opens its own read-only connection to the database.
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2
from markupsafe import Markup

from bot import messages as msg
from bot.config import SlaConfig
from bot.desk.workhours import WorkingHours
from bot.insight import charts
from bot.insight.figures import MonthFigures, Row, compute, previous_month
from bot.knowledge.base import KnowledgeBase

MONTH_NAMES = "một hai ba tư năm sáu bảy tám chín mười mười-một mười-hai".split()


@dataclass
class Report:
    month: str
    current: MonthFigures
    previous: MonthFigures
    html: str


# The report's own template environment: the insight wing does not depend on the web console.
_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("bot.insight", "templates"), autoescape=True)


def build(database: Path, month: str, kb: KnowledgeBase, commune_names: dict[str, str],
          calendar: WorkingHours, sla: SlaConfig, generated_at: datetime) -> Report:
    """Compute the month and the month before from `database` and render the page."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        current = compute(conn, month, kb, commune_names, calendar, sla)
        previous = compute(conn, previous_month(month), kb, commune_names, calendar, sla)
    finally:
        conn.close()
    return Report(month, current, previous, render(current, previous, generated_at, calendar))


# -- formatting -------------------------------------------------------------------------------

def _month_label(month: str) -> str:
    year, mon = month.split("-")
    return f"{int(mon)}/{year}"


def _hours(value: float | None) -> str:
    return "–" if value is None else msg.REPORT_HOURS.format(hours=value)


def _pct(part: int, whole: int) -> str:
    return "–" if not whole else f"{100 * part / whole:.0f}%"


def _rating(row: Row) -> str:
    return "–" if row.mean_rating is None else f"{row.mean_rating:.1f} ★ ({len(row.ratings)})"


@dataclass(frozen=True)
class Change:
    """A month-on-month change as shown: '+3', '−1.5 giờ', '=' or '–', and whether it is good news
    (None: no direction to judge)."""

    text: str
    good: bool | None = None


def _change(now: float | None, before: float | None, lower_is_better: bool = False, unit: str = "") -> Change:
    if now is None or before is None:
        return Change("–")
    diff = now - before
    if abs(diff) < 1e-9:
        return Change("=")
    sign = "+" if diff > 0 else "−"
    size = f"{abs(diff):g}" if float(diff).is_integer() else f"{abs(diff):.1f}"
    return Change(f"{sign}{size}{unit}", (diff < 0) if lower_is_better else (diff > 0))


# -- the page -------------------------------------------------------------------------------------

def render(current: MonthFigures, previous: MonthFigures, generated_at: datetime,
           calendar: WorkingHours) -> str:
    t, p = current.total, previous.total
    label, before = _month_label(current.month), _month_label(previous.month)
    unit = msg.REPORT_HOURS_UNIT
    cards = [(msg.REPORT_CARDS[key], value, change) for key, value, change in (
        ("questions", t.questions, _change(t.questions, p.questions)),
        ("answered", f"{t.answered} ({_pct(t.answered, t.questions)})", _change(t.answered, p.answered)),
        ("helpful", f"{t.helpful} ({_pct(t.helpful, t.questions)})", _change(t.helpful, p.helpful)),
        ("unanswered", t.unanswered, _change(t.unanswered, p.unanswered, lower_is_better=True)),
        ("repeated", t.repeated, _change(t.repeated, p.repeated, lower_is_better=True)),
        ("tickets", t.tickets, _change(t.tickets, p.tickets, lower_is_better=True)),
        ("first_response", _hours(t.median_first_response),
         _change(_r(t.median_first_response), _r(p.median_first_response), True, unit)),
        ("resolution", _hours(t.median_resolution),
         _change(_r(t.median_resolution), _r(p.median_resolution), True, unit)),
        ("sla_breaches", t.sla_breaches, _change(t.sla_breaches, p.sla_breaches, lower_is_better=True)),
        ("rating", _rating(t), _change(_r(t.mean_rating), _r(p.mean_rating))),
    )]
    return _TEMPLATES.get_template("report.html").render(
        msg=msg, label=label, before=before,
        generated=generated_at.astimezone(calendar.zone).strftime("%H:%M %d/%m/%Y"),
        cards=[{"label": k, "value": v, "change": c} for k, v, c in cards],
        outage_tickets=t.outage_tickets, charts=_charts(current, previous, label, before),
        commune_needs=current.commune_needs, topic_needs=current.topic_needs,
        systems=_rows(sorted(current.systems.values(), key=lambda r: -r.questions - r.tickets), previous.systems),
        communes=_rows(sorted(current.communes.values(), key=lambda r: r.name), previous.communes),
    )


def _charts(current: MonthFigures, previous: MonthFigures, label: str, before: str) -> list[Markup]:
    """The SVG charts (drawn by our own matplotlib code, so they are inserted as markup)."""
    names = msg.REPORT_CHARTS
    communes = sorted(current.communes.values(), key=lambda r: -r.questions)
    outcome_rows = [(r.name, r.helpful, r.answered - r.helpful, r.questions - r.answered)
                    for r in communes[:15] if r.questions]
    need_rows = [(n.name, n.score) for n in current.commune_needs[:10]]
    system_rows = sorted((r for r in current.systems.values() if r.tickets), key=lambda r: -r.tickets)
    drawn = (
        charts.bars(need_rows, names["needs"], names["needs_axis"], charts.UNANSWERED),
        charts.question_outcomes(outcome_rows, names["outcomes"]),
        charts.bars([(_short(r.name, 38), r.tickets) for r in system_rows], names["systems"], names["systems_axis"]),
        charts.weekly(previous.weekly + current.weekly, names["weekly"].format(before=before, month=label)),
    )
    return [Markup(svg) for svg in drawn if svg]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows(rows: list[Row], before: dict[str, Row]) -> list[dict]:
    """A table's rows as shown, each with its change against the month before."""
    shown = []
    for r in rows:
        p = before.get(r.key, Row(r.key, r.name))
        shown.append({"name": r.name, "questions": r.questions, "questions_change": _change(r.questions, p.questions),
                      "helpful": r.helpful, "unanswered": r.unanswered, "repeated": r.repeated,
                      "tickets": r.tickets, "tickets_change": _change(r.tickets, p.tickets, lower_is_better=True),
                      "first_response": _hours(r.median_first_response), "resolution": _hours(r.median_resolution),
                      "sla_breaches": r.sla_breaches, "rating": _rating(r)})
    return shown


# -- CSV ----------------------------------------------------------------------------------------------

CSV_HEAD = ["key", "name", "questions", "helpful", "unanswered", "escalated_after_answer", "repeated_howto",
            "tickets", "outage_tickets", "median_first_response_hours", "median_resolution_hours",
            "sla_breaches", "ratings", "mean_rating", "questions_previous_month", "tickets_previous_month"]


def write_csv(report: Report, directory: Path) -> list[Path]:
    """communes.csv, systems.csv, training_communes.csv, training_topics.csv in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows, before in (("communes", report.current.communes, report.previous.communes),
                               ("systems", report.current.systems, report.previous.systems)):
        path = directory / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(CSV_HEAD)
            for r in sorted(rows.values(), key=lambda r: r.key):
                p = before.get(r.key, Row(r.key, r.name))
                out.writerow([r.key, r.name, r.questions, r.helpful, r.unanswered, r.escalated_after_answer,
                              r.repeated, r.tickets, r.outage_tickets, _num(r.median_first_response),
                              _num(r.median_resolution), r.sla_breaches, len(r.ratings), _num(r.mean_rating),
                              p.questions, p.tickets])
        written.append(path)
    for name, needs in (("training_communes", report.current.commune_needs),
                        ("training_topics", report.current.topic_needs)):
        path = directory / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["rank", "key", "name", "score", "reasons"])
            for rank, need in enumerate(needs, 1):
                out.writerow([rank, need.key, need.name, need.score, "; ".join(need.reasons)])
        written.append(path)
    return written


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
