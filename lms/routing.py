"""Checks on URL values shared by every route, and paths built outside requests."""

from __future__ import annotations

from flask import Flask, current_app, request

from lms.database import MAX_ID
from lms.errors import NotFound


def init_app(app: Flask) -> None:
    """Answer 404 for ids no table can hold, before they reach the database driver."""

    @app.before_request
    def refuse_absurd_ids():
        for value in (request.view_args or {}).values():
            if isinstance(value, int) and not 0 <= value <= MAX_ID:
                raise NotFound("There is nothing with this id.")


def path_for(endpoint: str, **values) -> str:
    """The path of ``endpoint`` inside lms (``/courses/4``), as ``url_for`` builds it.

    It needs an application, not a request: scheduled jobs use it for the links they store
    (a notification's link is a path, made absolute with ``BASE_URL`` when emailed).
    """
    return current_app.url_map.bind("localhost").build(endpoint, values)
