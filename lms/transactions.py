"""One transaction per request or job: commit once on success, roll back on failure."""

from __future__ import annotations

from collections.abc import Callable

from flask import g

from lms.extensions import db


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current request or job has committed (e.g. to send mail)."""
    g.setdefault("after_commit", []).append(callback)


def finish_request(response):
    """Commit when the response is a success or redirect, roll back otherwise."""
    if response.status_code < 400:
        db.session.commit()
        for callback in g.pop("after_commit", []):
            callback()
    else:
        db.session.rollback()
        g.pop("after_commit", None)
    return response
