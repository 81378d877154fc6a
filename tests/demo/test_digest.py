"""``seed-demo`` and ``generate`` give exactly the rows they gave before: a digest of every table.

The expected digests were computed with :func:`database_digest` and :func:`frozen_clock` from
this file, run against commit f623504 (the code before the demo content moved into
``lms/demo/content/``) on a fresh, migrated database with the test configuration, once on
SQLite and once on PostgreSQL: the two agree, and two runs of each gave the same digest.
Every column counts, timestamps and dates included (the clock is frozen), except the salted
password hashes and, for seed-demo, the random session tokens. Participant numbers (what blind
markers see) are drawn with ``secrets.randbelow``, which the test replaces with a seeded
generator: the numbers also decide which passes fall in the moderation sample, so they cannot
simply be left out. If a digest changes on purpose (a course writer edited the demo content,
say), take the new value from the failure and say why in the commit.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import random
import secrets
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from lms import database
from lms.courses.models import Module
from lms.demo.generate import check_empty_database
from lms.extensions import db as _db

#: "Now" while seeding: every timestamp and date the services and column defaults take.
FROZEN_AT = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)
#: Salted password hashes and ``secrets``-made session tokens differ between two runs.
SEED_LEFT_OUT = frozenset({"users.password_hash", "users.session_token"})
#: The generator draws session tokens from its seeded RNG; only the salted hash differs.
GENERATE_LEFT_OUT = frozenset({"users.password_hash"})

#: Computed on the code before the move (all three since changed on purpose, see below), the same
#: on SQLite and PostgreSQL.
EXPECTED = {
    # Changed on purpose: the practitioner programme's assignment with work in every state, a
    # second demo assessor (Priya Shah), and Aoife Brennan's seventh module, so that her released
    # pass completes M-PACT (before: the online M-PACT run starting within the week).
    "seed-demo": "d0a0f873f95a0143ab615c8ebda8f02e6b088e85d45349a4ec23a987cbfc27f9",
    # Changed on purpose: the assessments step (assignments, pools, submissions, marks, moderation).
    "generate --size xs": "ed014f74d4c8347e68735d274120002448bf08d7c1adb4aa915d4c399c9a6a09",
    "generate --size s": "4cbcf03e6e8fac404917a28c63fd8868b43b015861d9b7c568480d5384a5e401",
}


@pytest.fixture
def seeded_participant_numbers(monkeypatch):
    """Draw participant numbers from a seeded generator instead of ``secrets``, for repeatable rows."""
    monkeypatch.setattr(secrets, "randbelow", random.Random(20260302).randrange)


@contextmanager
def frozen_clock(at: dt.datetime = FROZEN_AT):
    """Make ``lms.database.utcnow()`` (and so ``today()``) return ``at`` inside the block.

    The function's code is swapped rather than the module attribute, so that every
    ``from lms.database import utcnow`` and every column default holding the function see it.
    """

    def frozen(at=at):
        return at

    utcnow = database.utcnow
    saved = utcnow.__code__, utcnow.__defaults__
    utcnow.__code__, utcnow.__defaults__ = frozen.__code__, frozen.__defaults__
    try:
        yield
    finally:
        utcnow.__code__, utcnow.__defaults__ = saved


def _plain(value):
    """``value`` as JSON that reads the same whichever database it came from."""
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def database_digest(session, *, left_out: frozenset[str] = frozenset()) -> str:
    """SHA-256 of every row of every table (by name, rows in primary-key order), ``left_out`` aside.

    ``left_out`` names columns as ``"table.column"``. Empty tables add nothing, so a new
    table that the demo does not fill leaves the digest alone.
    """
    digest = hashlib.sha256()
    for table in sorted(_db.metadata.tables.values(), key=lambda t: t.name):
        columns = [c for c in table.columns if f"{table.name}.{c.name}" not in left_out]
        order = list(table.primary_key.columns) or list(table.columns)
        for row in session.execute(sa.select(*columns).order_by(*order)):
            record = {c.name: _plain(v) for c, v in zip(columns, row, strict=True)}
            line = json.dumps([table.name, record], sort_keys=True, ensure_ascii=False)
            digest.update(line.encode() + b"\n")
    return digest.hexdigest()


@pytest.fixture
def new_database(db):
    """The test's empty database, with every id sequence restarted as in a new one (PostgreSQL).

    A rolled-back test leaves PostgreSQL's sequences where they were, so without this the ids
    would depend on the tests that ran before.
    """
    check_empty_database(db.session)
    if db.session.get_bind().dialect.name == "postgresql":
        for table in db.metadata.sorted_tables:
            for column in table.primary_key.columns:
                sequence = db.session.scalar(
                    sa.select(sa.func.pg_get_serial_sequence(table.name, column.name))
                )
                if sequence is not None:
                    db.session.execute(sa.select(sa.func.setval(sequence, 1, False)))
    return db


@pytest.mark.parametrize(
    ("command", "left_out"),
    [
        ("seed-demo", SEED_LEFT_OUT),
        ("generate --size xs", GENERATE_LEFT_OUT),
        ("generate --size s", GENERATE_LEFT_OUT),
    ],
)
def test_the_demo_commands_give_the_same_rows_as_before(
    runner, new_database, seeded_participant_numbers, command, left_out
):
    with frozen_clock():
        result = runner.invoke(args=command.split())

    assert result.exit_code == 0, result.output
    digest = database_digest(new_database.session, left_out=left_out)
    assert digest == EXPECTED[command], f"{command}: the rows changed, new digest {digest}"


def test_the_digest_sees_one_changed_word_and_the_clock(runner, new_database):
    session = new_database.session
    with frozen_clock():
        runner.invoke(args=["seed-demo"])
    seeded = database_digest(session, left_out=SEED_LEFT_OUT)
    module = session.scalars(sa.select(Module).order_by(Module.id)).first()

    module.content = module.content.replace("M-PACT", "M-PACT programme", 1)
    session.flush()

    assert database_digest(session, left_out=SEED_LEFT_OUT) != seeded
    with frozen_clock(FROZEN_AT + dt.timedelta(seconds=1)):
        assert database.utcnow() == FROZEN_AT + dt.timedelta(seconds=1)
        assert database.today() == FROZEN_AT.date()
    assert database.utcnow() != FROZEN_AT
