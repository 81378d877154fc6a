"""Shared fixtures: app, db with rollback per test, client, login_as, the API caller, query counting.

The database is SQLite in a temporary folder unless ``LMS_TEST_DATABASE_URL`` names a
PostgreSQL server database; then the suite creates its own throwaway database next to it
(one per xdist worker) and drops it at the end.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import re
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade

from lms import create_app
from lms.extensions import db as _db

#: The password of every person the factories make (``login_as`` signs in with it).
PASSWORD = "correct horse battery"

#: Each area's factories, for every test whatever its folder (see tests/README.md).
pytest_plugins = (
    "tests.accounts.factories",
    "tests.organisations.factories",
    "tests.courses.factories",
    "tests.assessments.factories",
)


def _postgres_database(base_url: str, worker: str):
    """Create a throwaway database on the server of ``base_url``; return its URL and a dropper."""
    url = sa.make_url(base_url)
    name = f"{url.database or 'lms'}_{worker}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop():
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id):
    """URL of this test session's own database."""
    base = os.environ.get("LMS_TEST_DATABASE_URL")
    if not base or base.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    url, drop = _postgres_database(base, worker_id)
    yield url
    drop()


@pytest.fixture(scope="session")
def app_config(database_url, tmp_path_factory):
    """Configuration of the test application."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "MAIL_BACKEND": "memory",
        # Cheap scrypt parameters: the suite hashes hundreds of passwords.
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        "STORAGE_PATH": str(tmp_path_factory.mktemp("files")),
        "SERVER_NAME": "lms.test",
        "BASE_URL": "http://lms.test",
    }


@pytest.fixture(scope="session")
def app(app_config):
    """The application, with the schema built by the real migrations."""
    application = create_app(app_config)
    with application.app_context():
        upgrade()
        _db.session.remove()
    yield application
    with application.app_context():
        _db.session.remove()
        for engine in _db.engines.values():
            engine.dispose()


@pytest.fixture
def db(app):
    """The database, inside a transaction that is rolled back after the test.

    Requests and services may commit: commits release savepoints inside the outer
    transaction. The test body runs inside an application context.
    """
    with app.app_context():
        engines = _db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
        _db.session.remove()
        _db.session.configure(join_transaction_mode="create_savepoint")
        app.extensions.pop("lms_mail_outbox", None)
        try:
            yield _db
        finally:
            _db.session.remove()
            if transaction.is_active:
                transaction.rollback()
            connection.close()
            engines[None] = engine
            app.extensions["lms_login_throttle"].reset_all()


@contextmanager
def rolled_back(db):
    """Run the body in a savepoint of the test's connection and undo it afterwards."""
    db.session.remove()
    savepoint = db.engines[None].begin_nested()
    try:
        yield
    finally:
        db.session.remove()
        savepoint.rollback()


class IsolatedClient(FlaskClient):
    """Runs each request in its own context, as a real server would.

    The test body holds an application context (and a session) of its own; without this,
    a request would reuse it, sharing ``g`` and the identity map with the test.
    """

    def open(self, *args, **kwargs):
        if not has_app_context():
            return super().open(*args, **kwargs)  # already isolated (e.g. following a redirect)
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if _db.session.registry.has():
            _db.session.expire_all()
        return response


@pytest.fixture
def client(app, db):
    """A test client whose requests see the test's database transaction."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app, db):
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def login_as(client):
    """Sign ``user`` in on the test client (through the real form)."""

    def login(user, password: str = PASSWORD):
        response = client.post("/account/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return user

    return login


_counter = itertools.count(1)


@pytest.fixture
def make_token(db):
    """Factory for API tokens; returns ``(token, plain)``."""
    from lms.accounts.services import create_api_token

    def make(user, name: str | None = None):
        return create_api_token(user, name or f"token {next(_counter)}")

    return make


@pytest.fixture
def api(client, make_token):
    """Call the API as a user: ``api(user).get("/api/v1/me")``."""

    class Caller:
        def __init__(self, user):
            _token, plain = make_token(user)
            self.headers = {"Authorization": f"Bearer {plain}"}

        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = {**self.headers, **kwargs.pop("headers", {})}
                return getattr(client, method)(path, headers=headers, **kwargs)

            return call

    return Caller


@pytest.fixture
def outbox(app):
    """Mail delivered during the test (the memory mail backend)."""
    return app.extensions.setdefault("lms_mail_outbox", [])


class QueryCounter:
    """Counts the SQL statements run, ignoring savepoint bookkeeping."""

    _ignore = re.compile(
        r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|BEGIN|COMMIT|ROLLBACK)", re.I
    )

    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, _conn, _cursor, statement, *_args):
        if not self._ignore.match(statement):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(db):
    """``with count_queries() as counter: ...``; then ``counter.count`` is the number of queries."""

    @contextmanager
    def counting():
        counter = QueryCounter()
        engine = _db.engines[None].engine
        sa.event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", counter)

    return counting
