"""Checks on URL values shared by every route."""

from __future__ import annotations

from flask import Flask, request

from lms.database import MAX_ID
from lms.errors import NotFound


def init_app(app: Flask) -> None:
    """Answer 404 for ids no table can hold, before they reach the database driver."""

    @app.before_request
    def refuse_absurd_ids():
        for value in (request.view_args or {}).values():
            if isinstance(value, int) and not 0 <= value <= MAX_ID:
                raise NotFound("There is nothing with this id.")
