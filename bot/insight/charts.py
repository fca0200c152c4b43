"""Charts for the report: matplotlib figures rendered to inline SVG.

matplotlib's object API (a `Figure` with its own SVG canvas, never pyplot's
global state) is safe to use from a worker thread, which is where the report
is built: off the event loop. Text stays text in the SVG (`svg.fonttype:
none`), so it is sharp when printed, searchable, and small; the page's CSS
makes each chart shrink to a phone's width.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("svg")  # no GUI backend, ever: the report is built in a server thread

from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

HELPFUL = "#2e7d32"
OTHER = "#90a4ae"
UNANSWERED = "#c62828"
TICKETS = "#1565c0"
STYLE = {
    "svg.fonttype": "none", "svg.hashsalt": "report", "font.family": "sans-serif",
    "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
}


def _svg(figure: Figure) -> str:
    """The figure as an inline <svg> that scales to its container (no fixed width/height)."""
    out = io.StringIO()
    FigureCanvasSVG(figure)
    with matplotlib.rc_context(STYLE):
        figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = out.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 class="chart" role="img"', text, count=1)
    return text


def _figure(height: float) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(7.0, height), layout="constrained")


def question_outcomes(rows: Sequence[tuple[str, int, int, int]], title: str) -> str:
    """Horizontal stacked bars per name: helpful, answered otherwise (bot.insight.answered), not answered."""
    if not rows:
        return ""
    with matplotlib.rc_context(STYLE):
        figure = _figure(0.32 * len(rows) + 1.1)
        ax = figure.add_subplot()
        names = [r[0] for r in rows][::-1]
        helpful = [r[1] for r in rows][::-1]
        other = [r[2] for r in rows][::-1]
        unanswered = [r[3] for r in rows][::-1]
        ax.barh(names, helpful, color=HELPFUL, label="Đã giải quyết nhờ FAQ")
        ax.barh(names, other, left=helpful, color=OTHER, label="Đã trả lời, không hỏi lại")
        ax.barh(names, unanswered, left=[a + b for a, b in zip(helpful, other, strict=True)],
                color=UNANSWERED, label="Chưa trả lời được")
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_xlabel("Số câu hỏi")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        return _svg(figure)


def bars(rows: Sequence[tuple[str, float]], title: str, xlabel: str, color: str = TICKETS) -> str:
    """Horizontal bars, largest at the top, each labelled with its value."""
    if not rows:
        return ""
    with matplotlib.rc_context(STYLE):
        figure = _figure(0.32 * len(rows) + 1.0)
        ax = figure.add_subplot()
        names = [r[0] for r in rows][::-1]
        values = [r[1] for r in rows][::-1]
        drawn = ax.barh(names, values, color=color)
        ax.bar_label(drawn, fmt="%g", padding=2, fontsize=8)
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_xlabel(xlabel)
        return _svg(figure)


def weekly(rows: Sequence[tuple[str, int, int]], title: str) -> str:
    """Questions and tickets per week, as two lines."""
    if not rows:
        return ""
    with matplotlib.rc_context(STYLE):
        figure = _figure(2.6)
        ax = figure.add_subplot()
        labels = [r[0].split("-")[1] for r in rows]
        ax.plot(labels, [r[1] for r in rows], marker="o", color=HELPFUL, label="Câu hỏi")
        ax.plot(labels, [r[2] for r in rows], marker="s", color=TICKETS, label="Yêu cầu hỗ trợ")
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False, fontsize=8)
        return _svg(figure)
