"""What the race tests share: a committed PostgreSQL database of their own, and threads released together.

Concurrent transactions must really commit to race each other, so a race test cannot use
the rollback ``db`` fixture: each module gets a freshly migrated database, and each thread an
application context and session of its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.exc import IntegrityError, OperationalError

from lms import create_app
from lms.errors import DomainError
from lms.extensions import db
from tests.conftest import _postgres_database


def race_app(app_config: dict, name: str, pool_size: int) -> Iterator[Flask]:
    """Yield an app on a new, migrated PostgreSQL database called after ``name``; drop it after.

    Skips the test when ``LMS_TEST_DATABASE_URL`` is not a PostgreSQL server.
    """
    base = os.environ.get("LMS_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("race tests need PostgreSQL: set LMS_TEST_DATABASE_URL (CI does)")
    url, drop = _postgres_database(base, name)
    app = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": pool_size}}
    )
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()
    drop()


def in_app(app: Flask, build: Callable):
    """Run ``build()`` in an application context of its own, commit, and return its result."""
    with app.app_context():
        try:
            result = build()
            db.session.commit()
            return result
        finally:
            db.session.remove()


def run_together(app: Flask, works: list[Callable]) -> list[object]:
    """Run each of ``works`` in its own thread, released at the same moment; return their outcomes.

    A work's outcome is what it returned (then committed), or the domain or database error it
    raised (then rolled back).
    """
    barrier = threading.Barrier(len(works))
    outcomes: list[object] = [None] * len(works)

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                outcomes[i] = works[i]()
                db.session.commit()
            except (DomainError, IntegrityError, OperationalError) as error:
                db.session.rollback()
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (a deadlock?)"
    return outcomes
