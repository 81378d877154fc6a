"""One transaction per request or job: commit once on success, roll back on failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g

from lms.extensions import db

T = TypeVar("T", bound=Callable[[], None])


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current request or job has committed (e.g. to send mail)."""
    g.setdefault("after_commit", []).append(callback)


def after_commit_shared(callback_type: type[T]) -> T:
    """The ``callback_type`` callback of this transaction, registered now if there is none yet.

    For work that is cheaper done once for the whole transaction (sending every email it
    queued over one connection): callers add to the one instance. Dropped on rollback.
    """
    callbacks = g.setdefault("after_commit", [])
    callback = next((c for c in callbacks if isinstance(c, callback_type)), None)
    if callback is None:
        callback = callback_type()
        callbacks.append(callback)
    return callback


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
