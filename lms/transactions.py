"""One transaction per request or job: commit once on success, roll back on failure."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, g

from lms.extensions import db


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current request or job has committed (e.g. to send mail)."""
    g.setdefault("after_commit", []).append(callback)


def run_after_commit() -> None:
    """Run the callbacks of the transaction that just committed, each once.

    A failing callback is logged and does not stop the others: what it was for (sending a
    queued email, removing a deleted file's bytes) is retried or swept up later.
    """
    for callback in g.pop("after_commit", []):
        try:
            callback()
        except Exception:
            db.session.rollback()
            current_app.logger.exception("after-commit callback failed")


def finish_request(response):
    """Commit when the response is a success or redirect, roll back otherwise."""
    if response.status_code < 400:
        db.session.commit()
        run_after_commit()
    else:
        db.session.rollback()
        g.pop("after_commit", None)
    return response
