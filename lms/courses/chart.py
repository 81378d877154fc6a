"""Bar charts drawn on the server as accessible inline SVG: completions per month, and counts by category.

No script, no external assets and no ``style`` attributes (the Content-Security-Policy
forbids them): colours and sizes are SVG presentation attributes. Every ``<svg>`` has
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
#: The categorical chart: each row is its label, then its bar; the right margin holds the values.
ROW_LABEL, BAR_HEIGHT, ROW_GAP = FONT_SIZE + 4, 16, 10
CATEGORY_LEFT, CATEGORY_RIGHT, CATEGORY_TOP, CATEGORY_BOTTOM = 6, 40, 6, 24


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


def describe_bars(bars: Sequence[tuple[str, int]], noun: tuple[str, str]) -> str:
    """A categorical chart in words: each label and its count, then the total."""
    total = sum(count for _label, count in bars)
    if not total:
        return f"No {noun[1]} to show."
    each = "; ".join(f"{label}: {count}" for label, count in bars)
    return f"{each}. {total} {noun[0] if total == 1 else noun[1]} in all."


def _text(x: float, y: float, content: str, anchor: str = "middle", weight: str | None = None) -> str:
    bold = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{FONT_SIZE}" '
        f'fill="{TEXT_COLOUR}"{bold}>{escape(content)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" stroke-width="1"/>'
    )


def _bar(x: float, y: float, width: float, height: float, tooltip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{BAR_COLOUR}">'
        f"<title>{escape(tooltip)}</title></rect>"
    )


def _svg(chart_id: str, title: str, description: str, height: int, css_class: str, body: list[str]) -> Markup:
    """The ``<svg>`` around ``body``: sized, labelled by its title and described in words.

    ``chart_id`` must be unique on the page: the title and description are referenced by id.
    """
    chart_id = "".join(c for c in chart_id if c.isalnum() or c in "-_") or "chart"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" class="{css_class} w-100 h-auto" role="img" focusable="false" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        *body,
        "</svg>",
    ]
    return Markup("".join(parts))  # noqa: S704  (every text part is escaped where it is made)


def completions_chart(points: Sequence[tuple[dt.date, int]], *, chart_id: str, title: str) -> Markup:
    """An SVG bar chart of ``(first day of month, completions)`` pairs, oldest first.

    ``chart_id`` must be unique on the page: the title and description are referenced by id.
    """
    top, step = nice_scale(max((count for _month, count in points), default=0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    base = TOP + plot_height
    slot = plot_width / max(1, len(points))

    def y_for(value: float) -> float:
        return base - plot_height * value / top

    parts = []
    # Gridlines and the scale.
    for value in range(0, top + 1, step):
        y = y_for(value)
        parts.append(_line(LEFT, y, WIDTH - RIGHT, y, AXIS_COLOUR if value == 0 else GRID_COLOUR))
        parts.append(_text(LEFT - 5, y + FONT_SIZE / 3, str(value), anchor="end"))
    # One bar per month, its value above it and the month (and the year at each January) below.
    for index, (month, count) in enumerate(points):
        centre = LEFT + slot * index + slot / 2
        bar_width = slot * 0.62
        if count:
            y = y_for(count)
            parts.append(
                _bar(centre - bar_width / 2, y, bar_width, base - y, f"{month_name(month)}: {count}")
            )
            parts.append(_text(centre, y - 4, str(count), weight="600"))
        parts.append(_text(centre, base + FONT_SIZE + 4, month.strftime("%b")))
        # The year under each January, and under the first month unless a January follows
        # too closely for both labels to fit.
        if month.month == 1 or (index == 0 and month.month <= 10):
            parts.append(_text(centre, base + 2 * FONT_SIZE + 7, str(month.year)))
    if not any(count for _month, count in points):
        parts.append(_text(LEFT + plot_width / 2, TOP + plot_height / 2, "No completions in these months"))
    return _svg(chart_id, title, describe(points), HEIGHT, "completions-chart", parts)


def category_chart(
    bars: Sequence[tuple[str, int]],
    *,
    chart_id: str,
    title: str,
    noun: tuple[str, str] = ("item", "items"),
) -> Markup:
    """An SVG chart of ``(label, count)`` pairs in the order given, one horizontal bar each.

    Bars run sideways and each label sits above its bar, so long category names ("Ready for
    release") stay whole on a 360 px phone. ``noun`` (singular, plural) names what is counted
    in the description. ``chart_id`` must be unique on the page.
    """
    top, step = nice_scale(max((count for _label, count in bars), default=0))
    row = ROW_LABEL + BAR_HEIGHT + ROW_GAP
    height = CATEGORY_TOP + row * max(1, len(bars)) + CATEGORY_BOTTOM
    plot_width = WIDTH - CATEGORY_LEFT - CATEGORY_RIGHT
    base = height - CATEGORY_BOTTOM

    def x_for(value: float) -> float:
        return CATEGORY_LEFT + plot_width * value / top

    parts = []
    # Gridlines and the scale along the bottom.
    for value in range(0, top + 1, step):
        x = x_for(value)
        parts.append(_line(x, CATEGORY_TOP, x, base, AXIS_COLOUR if value == 0 else GRID_COLOUR))
        parts.append(_text(x, base + FONT_SIZE + 4, str(value), anchor="start" if value == 0 else "middle"))
    # Each category: its label, then its bar with the count just past the bar's end.
    for index, (label, count) in enumerate(bars):
        y = CATEGORY_TOP + row * index
        # Just clear of the zero line, so that it does not run through the first letter.
        parts.append(_text(CATEGORY_LEFT + 3, y + FONT_SIZE, label, anchor="start"))
        bar_top = y + ROW_LABEL
        if count:
            parts.append(
                _bar(CATEGORY_LEFT, bar_top, x_for(count) - CATEGORY_LEFT, BAR_HEIGHT, f"{label}: {count}")
            )
        parts.append(
            _text(x_for(count) + 4, bar_top + BAR_HEIGHT - 4, str(count), anchor="start", weight="600")
        )
    return _svg(chart_id, title, describe_bars(bars, noun), height, "category-chart", parts)
