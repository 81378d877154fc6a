"""Pagination shared by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from lms.extensions import db


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


def paginate(query: Select, page: int, per_page: int, *, scalars: bool = True) -> Page:
    """Run ``query`` for one page, with one count query and one page query."""
    page = max(1, page)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    paged = query.limit(per_page).offset((page - 1) * per_page)
    result = db.session.scalars(paged) if scalars else db.session.execute(paged)
    return Page(items=list(result.unique() if scalars else result), page=page, per_page=per_page, total=total)
