"""Two real ``flask scheduler`` processes on one SQLite database: one active, and failover by lease.

(PostgreSQL's advisory lock, three processes, SMTP and database outages: ``test_faults.py``.)
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLASK = [sys.executable, "-m", "flask", "--app", "lms"]
POLL, LEASE = 1, 3

pytestmark = pytest.mark.skipif(
    os.environ.get("LMS_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="the SQLite lease; the PostgreSQL run tests the advisory lock in test_faults.py",
)


@pytest.fixture
def sqlite_env(tmp_path):
    """Environment of a scheduler process on a database of its own, migrated."""
    database = tmp_path / "scheduler.sqlite3"
    env = {
        **os.environ,
        "LMS_DATABASE_URL": f"sqlite:///{database}",
        "LMS_SCHEDULER_POLL_SECONDS": str(POLL),
        "LMS_SCHEDULER_LEASE_SECONDS": str(LEASE),
        "LMS_MAIL_BACKEND": "file",
        "LMS_MAIL_FILE_PATH": str(tmp_path / "mail"),
        "LMS_SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests",
        "LMS_ENV": "development",
    }
    subprocess.run([*FLASK, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    return env, database


def _holder(database: Path) -> int | None:
    """The pid in the lease row, if the lease has not run out."""
    with sqlite3.connect(database, timeout=10) as connection:
        row = connection.execute(
            "SELECT pid FROM scheduler_leases WHERE expires_at > strftime('%Y-%m-%d %H:%M:%f', 'now')"
        ).fetchone()
    return row[0] if row else None


def _wait_for(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    return None


def test_one_scheduler_is_active_and_a_standby_takes_over_when_it_is_killed(sqlite_env, tmp_path):
    env, database = sqlite_env
    logs = [open(tmp_path / f"scheduler-{n}.log", "w") for n in range(2)]  # noqa: SIM115
    processes = [subprocess.Popen([*FLASK, "scheduler"], env=env, stdout=log, stderr=log) for log in logs]
    try:
        first = _wait_for(lambda: _holder(database), 30)
        assert first in {p.pid for p in processes}, "no scheduler became active"
        time.sleep(POLL * 3)
        assert _holder(database) == first, "the active scheduler changed while both were alive"

        active = next(p for p in processes if p.pid == first)
        killed_at = time.monotonic()
        active.send_signal(signal.SIGKILL)
        active.wait(10)
        second = _wait_for(
            lambda: (_holder(database) or first) != first and _holder(database), LEASE + POLL + 9
        )
        took = time.monotonic() - killed_at
        standby = next(p for p in processes if p is not active)
        assert second == standby.pid, "the standby did not take over"
        assert took <= LEASE + POLL + 3, f"takeover took {took:.1f} s"

        # A scheduler stopped politely gives the lease up at once.
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(15) == 0
        assert _holder(database) is None
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        for log in logs:
            log.close()
