"""A bar chart of completions per month, drawn on the server as accessible inline SVG.

No script, no external assets and no ``style`` attributes (the Content-Security-Policy
forbids them): colours and sizes are SVG presentation attributes. The ``<svg>`` has
``role="img"``, a ``<title>`` and a ``<desc>`` that says the numbers in words; pages show
the same numbers in a table as well.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from markupsafe import Markup, escape

#: The drawing's own coordinates; the page scales it to the width available.
WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 30, 6, 18, 36
FONT_SIZE = 12
#: The brand colour: 11:1 against white, well above the 3:1 asked of graphics.
BAR_COLOUR = "#1d3a5f"
GRID_COLOUR = "#ced4da"
AXIS_COLOUR = "#495057"
TEXT_COLOUR = "#212529"


def nice_scale(maximum: int) -> tuple[int, int]:
    """The top of the axis and the step between gridlines: whole numbers, at most five steps."""
    if maximum <= 0:
        return 1, 1
    raw = maximum / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, math.ceil(step))
    return math.ceil(maximum / step) * step, step


def month_name(month: dt.date) -> str:
    """``March 2026``."""
    return month.strftime("%B %Y")


def describe(points: Sequence[tuple[dt.date, int]]) -> str:
    """The chart in one sentence, for people who cannot see it."""
    if not points:
        return "No months to show."
    span = f"from {month_name(points[0][0])} to {month_name(points[-1][0])}"
    total = sum(count for _month, count in points)
    if not total:
        return f"No completions {span}."
    best_month, best = max(points, key=lambda point: (point[1], point[0]))
    people = "completion" if total == 1 else "completions"
    return f"{total} {people} {span}; the most in one month was {best}, in {month_name(best_month)}."


def _text(x: float, y: float, content: str, anchor: str = "middle", weight: str | None = None) -> str:
    bold = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{FONT_SIZE}" '
        f'fill="{TEXT_COLOUR}"{bold}>{escape(content)}</text>'
    )


def completions_chart(points: Sequence[tuple[dt.date, int]], *, chart_id: str, title: str) -> Markup:
    """An SVG bar chart of ``(first day of month, completions)`` pairs, oldest first.

    ``chart_id`` must be unique on the page: the title and description are referenced by id.
    """
    chart_id = "".join(c for c in chart_id if c.isalnum() or c in "-_") or "chart"
    top, step = nice_scale(max((count for _month, count in points), default=0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    base = TOP + plot_height
    slot = plot_width / max(1, len(points))

    def y_for(value: float) -> float:
        return base - plot_height * value / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" class="completions-chart w-100 h-auto" role="img" focusable="false" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(describe(points))}</desc>',
    ]
    # Gridlines and the scale.
    for value in range(0, top + 1, step):
        y = y_for(value)
        colour = AXIS_COLOUR if value == 0 else GRID_COLOUR
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 5, y + FONT_SIZE / 3, str(value), anchor="end"))
    # One bar per month, its value above it and the month (and the year at each January) below.
    for index, (month, count) in enumerate(points):
        centre = LEFT + slot * index + slot / 2
        bar_width = slot * 0.62
        if count:
            y = y_for(count)
            parts.append(
                f'<rect x="{centre - bar_width / 2:.1f}" y="{y:.1f}" width="{bar_width:.1f}" '
                f'height="{base - y:.1f}" fill="{BAR_COLOUR}"><title>{escape(month_name(month))}: '
                f"{count}</title></rect>"
            )
            parts.append(_text(centre, y - 4, str(count), weight="600"))
        parts.append(_text(centre, base + FONT_SIZE + 4, month.strftime("%b")))
        # The year under each January, and under the first month unless a January follows
        # too closely for both labels to fit.
        if month.month == 1 or (index == 0 and month.month <= 10):
            parts.append(_text(centre, base + 2 * FONT_SIZE + 7, str(month.year)))
    if not any(count for _month, count in points):
        parts.append(_text(LEFT + plot_width / 2, TOP + plot_height / 2, "No completions in these months"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text part above is escaped)
