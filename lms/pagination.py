"""Pagination shared by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, request
from sqlalchemy import Select, func, select

from lms.extensions import db

#: Page numbers beyond this are refused: no list is that long, and the offset would
#: overflow what databases accept.
MAX_PAGE = 1_000_000


@dataclass
class Page:
    """One page of results and enough to link to the others."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        """Whether there is an earlier page."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether there is a later page."""
        return self.page < self.pages


def page_arg(name: str = "page") -> int:
    """The page number asked for in the query string (1 when absent).

    Answers 400 for a value that is not a whole number, 404 for an absurdly large one.
    """
    raw = request.args.get(name, "1")
    try:
        number = max(1, int(raw))
    except ValueError:
        abort(400, "The page number must be a whole number.")
    if number > MAX_PAGE:
        abort(404, "There is no such page.")
    return number


def paginate(query: Select, page: int, per_page: int, *, scalars: bool = True) -> Page:
    """Run ``query`` for one page, with one count query and one page query."""
    page = min(max(1, page), MAX_PAGE)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    paged = query.limit(per_page).offset((page - 1) * per_page)
    result = db.session.scalars(paged) if scalars else db.session.execute(paged)
    return Page(items=list(result.unique() if scalars else result), page=page, per_page=per_page, total=total)
