"""The notification pages (being written)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the notification pages."""
