"""Deliver a backlog of queued emails to a local SMTP sink: time, messages/s and peak memory.

    .venv/bin/python bench/outbox.py                      # 10,000 emails, a temporary SQLite file
    .venv/bin/python bench/outbox.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Queues ``--count`` emails (a plain-text and an HTML part, about 1.5 KB each) in a throwaway
database (``lms_outbox_bench``, created next to the given PostgreSQL URL and dropped at the
end), then runs ``lms.mail.deliver_pending`` as the delivery job does, over real SMTP to an
aiosmtpd sink in a process of its own, until the outbox is empty. It does so twice: once
timed, and once again (every message put back to pending) under ``tracemalloc``, whose peak
shows the memory the delivery holds at any moment against the size of the whole backlog.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import socket
import tempfile
import time
import tracemalloc
from pathlib import Path

import sqlalchemy as sa

DATABASE = "lms_outbox_bench"
BODY = "Hello,\n\nYour cohort starts on Monday 7 December at 09:30. " * 12
HTML = "<p>Hello,</p><p>Your cohort starts on <strong>Monday 7 December</strong> at 09:30.</p>" * 8


def sink(port: int, received, ready) -> None:
    """An SMTP server that counts what it accepts (runs in its own process)."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with received.get_lock():
                received.value += len(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def deliver_all(count: int) -> tuple[float, int]:
    """Run ``deliver_pending`` until nothing is left; return the seconds and the number of runs."""
    from lms.mail import deliver_pending

    started, runs, sent = time.perf_counter(), 0, 0
    while sent < count:
        runs += 1
        done = deliver_pending()
        sent += done["sent"]
        if not done["sent"]:
            raise SystemExit(f"delivery stopped after {sent} of {count}: {done}")
    return time.perf_counter() - started, runs


def queue(count: int) -> float:
    """Insert ``count`` pending emails, 1,000 per statement; return the backlog's size in MB."""
    from sqlalchemy import insert

    from lms.database import utcnow
    from lms.extensions import db
    from lms.mail import EmailStatus, OutboundEmail

    now = utcnow()
    for first in range(0, count, 1000):
        rows = [
            {
                "recipient": f"person{n}@example.org",
                "subject": f"Your cohort starts soon ({n})",
                "body": BODY,
                "html_body": HTML,
                "status": EmailStatus.PENDING,
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
            for n in range(first, min(first + 1000, count))
        ]
        db.session.execute(insert(OutboundEmail), rows)
    db.session.commit()
    db.session.remove()
    return (len(BODY) + len(HTML)) * count / 1024 / 1024


def requeue() -> None:
    """Put every message back to pending, for the second pass."""
    from sqlalchemy import update

    from lms.database import utcnow
    from lms.extensions import db
    from lms.mail import EmailStatus, OutboundEmail

    db.session.execute(update(OutboundEmail).values(status=EmailStatus.PENDING, next_attempt_at=utcnow()))
    db.session.commit()
    db.session.remove()


def not_sent() -> int:
    from sqlalchemy import func, select

    from lms.extensions import db
    from lms.mail import EmailStatus, OutboundEmail

    unsent = OutboundEmail.status != EmailStatus.SENT
    return db.session.scalar(select(func.count()).select_from(OutboundEmail).where(unsent))


def run(database_url: str, count: int) -> None:
    from flask_migrate import upgrade

    from lms import create_app
    from lms.extensions import db
    from lms.mail import BATCH_SIZE

    port = free_port()
    spawn = multiprocessing.get_context("spawn")
    received, ready = spawn.Value("q", 0), spawn.Event()
    server = spawn.Process(target=sink, args=(port, received, ready), daemon=True)
    server.start()
    if not ready.wait(30):
        raise SystemExit("the SMTP sink did not start")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench-" + "x" * 40,
            "BASE_URL": "http://lms.bench",
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
        }
    )
    try:
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            size = queue(count)
            print(f"queued {count:,} emails ({size:.1f} MB of text) in {time.perf_counter() - started:.1f} s")

            rss_before = max_rss_mb()
            seconds, runs = deliver_all(count)
            db.session.remove()
            print(
                f"delivered {count:,} in {seconds:.1f} s ({count / seconds:,.0f} messages/s) in {runs} run(s)"
                f" of {BATCH_SIZE}; max RSS {rss_before:.0f} MB before, {max_rss_mb():.0f} MB after"
            )

            requeue()
            tracemalloc.start()
            traced, _runs = deliver_all(count)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            db.session.remove()
            peak_mb = peak / 1024 / 1024
            print(f"again, under tracemalloc: {traced:.1f} s, peak {peak_mb:.1f} MB ({size:.1f} MB backlog)")

            left = not_sent()
            print(f"the sink received {received.value:,} (expected {2 * count:,}); not sent: {left}")
            if received.value != 2 * count or left:
                raise SystemExit("the sink did not receive every message exactly once per pass")
            for engine in db.engines.values():
                engine.dispose()
    finally:
        server.terminate()
        server.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--postgres", help="URL of a database on the server; a throwaway one is made")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    if not args.postgres:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{Path(folder) / 'outbox.sqlite3'}", args.count)
        return
    url = sa.make_url(args.postgres)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    try:
        run(url.set(database=DATABASE).render_as_string(hide_password=False), args.count)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
