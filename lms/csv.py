"""CSV files people open in spreadsheets: one formula guard for every export and report.

A cell that starts with ``= + - @``, a tab or a carriage return can run as a formula in a
spreadsheet (CSV injection), so every cell written goes through :func:`csv_safe`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

#: Characters that make a spreadsheet treat a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula: ``'`` before = + - @ tab or CR."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_unsafe(value: str | None) -> str:
    """Undo :func:`csv_safe` for display (an HTML page is not a spreadsheet)."""
    value = value or ""
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Format rows as CSV lines (CRLF, quoted where needed), each cell made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
