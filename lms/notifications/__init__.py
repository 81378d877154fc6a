"""In-app notifications, optionally emailed through the outbox: a service every area calls."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the pages, the kinds the foundation sends and the unread count in the layout."""
    from lms.notifications import kinds, views

    kinds.init_app(app)
    views.init_app(app)
