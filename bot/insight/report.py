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
import html
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


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
    return "–" if value is None else f"{value:.1f} giờ"


def _pct(part: int, whole: int) -> str:
    return "–" if not whole else f"{100 * part / whole:.0f}%"


def _rating(row: Row) -> str:
    return "–" if row.mean_rating is None else f"{row.mean_rating:.1f} ★ ({len(row.ratings)})"


def _change(now: float | None, before: float | None, lower_is_better: bool = False, unit: str = "") -> str:
    """'+3', '−1.5 giờ', with a class saying whether the change is good news."""
    if now is None or before is None:
        return '<span class="delta">–</span>'
    diff = now - before
    if abs(diff) < 1e-9:
        return '<span class="delta">=</span>'
    good = (diff < 0) if lower_is_better else (diff > 0)
    text = f"{'+' if diff > 0 else '−'}{abs(diff):g}" if isinstance(diff, int) or float(diff).is_integer() \
        else f"{'+' if diff > 0 else '−'}{abs(diff):.1f}"
    return f'<span class="delta {"good" if good else "bad"}">{text}{unit}</span>'


# -- the page -------------------------------------------------------------------------------------

def render(current: MonthFigures, previous: MonthFigures, generated_at: datetime,
           calendar: WorkingHours) -> str:
    t, p = current.total, previous.total
    label, before = _month_label(current.month), _month_label(previous.month)
    cards = [
        ("Câu hỏi", t.questions, _change(t.questions, p.questions)),
        ("Trả lời được", f"{t.answered} ({_pct(t.answered, t.questions)})", _change(t.answered, p.answered)),
        ("Giải quyết nhờ FAQ", f"{t.helpful} ({_pct(t.helpful, t.questions)})", _change(t.helpful, p.helpful)),
        ("Chưa giải đáp được", t.unanswered, _change(t.unanswered, p.unanswered, lower_is_better=True)),
        ("Hỏi lại cùng một việc", t.repeated, _change(t.repeated, p.repeated, lower_is_better=True)),
        ("Yêu cầu hỗ trợ", t.tickets, _change(t.tickets, p.tickets, lower_is_better=True)),
        ("Phản hồi đầu (trung vị)", _hours(t.median_first_response),
         _change(_r(t.median_first_response), _r(p.median_first_response), True, " giờ")),
        ("Xử lý xong (trung vị)", _hours(t.median_resolution),
         _change(_r(t.median_resolution), _r(p.median_resolution), True, " giờ")),
        ("Quá hạn SLA", t.sla_breaches, _change(t.sla_breaches, p.sla_breaches, lower_is_better=True)),
        ("Đánh giá", _rating(t), _change(_r(t.mean_rating), _r(p.mean_rating))),
    ]
    summary = "".join(f'<div class="card"><div class="k">{e(k)}</div><div class="v">{e(v)}</div>'
                      f'<div class="d">{d} <small>so với {e(before)}</small></div></div>' for k, v, d in cards)
    needs = "".join(
        f'<li><b>{e(n.name)}</b> <span class="score">mức {n.score}</span><ul>'
        + "".join(f"<li>{e(r)}</li>" for r in n.reasons) + "</ul></li>" for n in current.commune_needs
    ) or "<li>Không có xã/phường nào có dấu hiệu cần tập huấn trong tháng.</li>"
    topics = "".join(
        f'<li><b>{e(n.name)}</b> <code>{e(n.key)}</code> <span class="score">mức {n.score}</span><ul>'
        + "".join(f"<li>{e(r)}</li>" for r in n.reasons) + "</ul></li>" for n in current.topic_needs
    ) or "<li>Không có nội dung nào bị hỏi lại nhiều lần trong tháng.</li>"
    communes = sorted((r for r in current.communes.values()), key=lambda r: -r.questions)
    outcome_rows = [(r.name, r.helpful, r.answered - r.helpful, r.questions - r.answered)
                    for r in communes[:15] if r.questions]
    need_rows = [(n.name, n.score) for n in current.commune_needs[:10]]
    system_rows = sorted((r for r in current.systems.values() if r.tickets), key=lambda r: -r.tickets)
    chart_html = "".join(f'<figure>{svg}</figure>' for svg in (
        charts.bars(need_rows, "Xã/phường cần tập huấn (mức cần)", "Mức cần tập huấn", charts.UNANSWERED),
        charts.question_outcomes(outcome_rows, "Câu hỏi của 15 xã/phường hỏi nhiều nhất"),
        charts.bars([(_short(r.name, 38), r.tickets) for r in system_rows], "Yêu cầu hỗ trợ theo hệ thống",
                    "Số yêu cầu"),
        charts.weekly(previous.weekly + current.weekly, f"Theo tuần, tháng {before} và {label}"),
    ) if svg)
    page = PAGE.format(
        label=e(label), generated=e(generated_at.astimezone(calendar.zone).strftime("%H:%M %d/%m/%Y")),
        summary=summary, needs=needs, topics=topics, charts=chart_html,
        systems=_table(sorted(current.systems.values(), key=lambda r: -r.questions - r.tickets), previous.systems,
                       "Hệ thống"),
        communes=_table(sorted(current.communes.values(), key=lambda r: r.name), previous.communes, "Xã/phường"),
        outage=(f"<p>{t.outage_tickets} yêu cầu trong tháng thuộc sự cố chung (một hệ thống lỗi cho nhiều xã cùng lúc): "
                "được tính là yêu cầu hỗ trợ, nhưng không tính là nhu cầu tập huấn.</p>" if t.outage_tickets else ""),
    )
    return page


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(rows: list[Row], before: dict[str, Row], what: str) -> str:
    head = (f"<tr><th>{e(what)}</th><th>Câu hỏi</th><th>Giải quyết nhờ FAQ</th><th>Chưa giải đáp</th>"
            "<th>Hỏi lại</th><th>Yêu cầu</th><th>Phản hồi đầu</th><th>Xử lý xong</th><th>Quá hạn</th>"
            "<th>Đánh giá</th></tr>")
    body = []
    for r in rows:
        p = before.get(r.key, Row(r.key, r.name))
        body.append(
            f"<tr><th>{e(r.name)}</th><td>{r.questions} {_change(r.questions, p.questions)}</td>"
            f"<td>{r.helpful}</td><td>{r.unanswered}</td><td>{r.repeated}</td>"
            f"<td>{r.tickets} {_change(r.tickets, p.tickets, lower_is_better=True)}</td>"
            f"<td>{_hours(r.median_first_response)}</td><td>{_hours(r.median_resolution)}</td>"
            f"<td>{r.sla_breaches}</td><td>{_rating(r)}</td></tr>")
    return f'<div class="scroll"><table>{head}{"".join(body)}</table></div>'


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


PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Báo cáo nhu cầu tập huấn tháng {label}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1d2330;background:#fff}}
main{{max-width:62rem;margin:0 auto;padding:1rem}}
h1{{font-size:1.5rem;margin:.2rem 0}} h2{{font-size:1.15rem;margin:1.4rem 0 .5rem;border-bottom:2px solid #b71c1c;padding-bottom:.2rem}}
.sub{{color:#555;margin:0 0 1rem}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));gap:.5rem}}
.card{{border:1px solid #dde1e7;border-radius:.4rem;padding:.5rem .6rem}}
.card .k{{font-size:.8rem;color:#555}} .card .v{{font-size:1.25rem;font-weight:700}} .card .d{{font-size:.8rem}}
.delta{{font-weight:600}} .delta.good{{color:#2e7d32}} .delta.bad{{color:#c62828}}
ol.needs>li{{margin:.4rem 0}} ol.needs ul{{margin:.1rem 0;color:#333;font-size:.92rem}}
.score{{font-size:.8rem;background:#ffebee;color:#b71c1c;border-radius:.3rem;padding:0 .3rem}}
figure{{margin:.8rem 0;break-inside:avoid;page-break-inside:avoid}}
svg.chart{{width:100%;height:auto;max-width:44rem;display:block}}
.scroll{{overflow-x:auto}} table{{border-collapse:collapse;width:100%;font-size:.85rem}}
th,td{{border-bottom:1px solid #e3e6eb;padding:.25rem .35rem;text-align:right;white-space:nowrap}}
th:first-child,tr th{{text-align:left;white-space:normal}} td .delta{{font-size:.75rem}}
footer{{color:#555;font-size:.8rem;margin-top:1.5rem}}
@media (max-width:40rem){{main{{padding:.6rem}} h1{{font-size:1.25rem}} .cards{{grid-template-columns:1fr 1fr}}}}
@page{{size:A4;margin:12mm}}
@media print{{main{{max-width:none;padding:0}} body{{font-size:10pt}} h2{{break-after:avoid}}
  table{{font-size:7.5pt}} tr{{break-inside:avoid}} .scroll{{overflow:visible}} svg.chart{{max-width:16cm}}}}
</style></head>
<body><main>
<h1>Báo cáo nhu cầu tập huấn — tháng {label}</h1>
<p class="sub">Từ hoạt động của trợ lý hỗ trợ kỹ thuật cấp xã, tỉnh Lào Cai. Lập lúc {generated}.
Chỉ có số liệu theo xã/phường và hệ thống; không có thông tin cá nhân của cán bộ.</p>
<section id="summary"><h2>Tổng quan</h2><div class="cards">{summary}</div>{outage}</section>
<section id="charts"><h2>Biểu đồ</h2>{charts}</section>
<section id="communes-need"><h2>Xã/phường cần tập huấn nhất</h2><ol class="needs">{needs}</ol></section>
<section id="topics-need"><h2>Nội dung cần tập huấn nhất</h2><ol class="needs">{topics}</ol></section>
<section id="systems"><h2>Theo hệ thống</h2>{systems}</section>
<section id="communes"><h2>Theo xã/phường</h2>{communes}</section>
<footer><p><b>Cách tính.</b> Câu hỏi thuộc xã/phường của cán bộ hỏi và thuộc hệ thống của mục hướng dẫn (FAQ) đã
trả lời. “Trả lời được”: cán bộ bấm “Đã giải quyết”, hoặc bot trả lời (hay cán bộ chọn một câu gợi ý) rồi trong
30 phút cán bộ không hỏi lại cùng chủ đề và không gửi yêu cầu; danh sách gợi ý không ai chọn không tính (cùng cách
tính với trang Quản trị). “Giải quyết nhờ FAQ”: cán bộ bấm “Đã giải quyết”. “Chưa giải đáp”: không tìm được hướng dẫn, hoặc cán bộ
báo hướng dẫn chưa đúng ý. “Hỏi lại”: một xã/phường hỏi cùng một mục hướng dẫn từ 3 lần trở lên trong tháng —
dấu hiệu cần tập huấn, khác với sự cố. Thời gian tính theo giờ hành chính. “Quá hạn”: phản hồi đầu hoặc xử lý
xong chậm hơn mục tiêu SLA theo mức khẩn. Mức cần tập huấn của xã/phường = 2 × số lần hỏi lại (sau lần đầu)
+ số câu chưa giải đáp + số lần đọc hướng dẫn rồi vẫn phải gặp kỹ thuật viên. Các thay đổi (+/−) so với tháng trước;
xanh là tốt lên, đỏ là xấu đi.</p></footer>
</main></body></html>"""
