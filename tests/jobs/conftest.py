"""Fixtures of the fault tests: a real SMTP sink, databases of their own, scheduler processes.

Each multi-process test gets a freshly migrated PostgreSQL database of its own (copied from
a template migrated once per worker), because other processes must see committed data; the
rolled-back ``db`` fixture cannot serve them. ``pg_cluster`` is a whole PostgreSQL server of
the test's own (``initdb`` and ``pg_ctl`` on a free port), for the test that restarts it.
"""

from __future__ import annotations

import collections
import contextlib
import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from lms import create_app
from lms.extensions import db

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-test-secret-key-that-is-long-enough"
#: What every scheduler process of these tests is told (seconds).
POLL_SECONDS = 1


def free_port() -> int:
    """A TCP port on loopback that nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Poll ``condition`` until it returns something true; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- the SMTP server ---------------------------------------------------------------------------


class SmtpSink:
    """An aiosmtpd server on loopback that keeps what it accepts; ``stop``/``start`` make an outage."""

    def __init__(self):
        self.port = free_port()
        self._lock = threading.Lock()
        #: ``(recipient, subject, message id, time)`` of every message accepted, in order.
        self.accepted: list[tuple[str, str, str, float]] = []
        self.controller = None
        #: While stopping: answer 421 ("try again later") rather than accept.
        self.is_refusing = False

    async def handle_DATA(self, server, session, envelope):
        """Accept and record the message (aiosmtpd calls this for each one)."""
        if self.is_refusing:
            return "421 Closing down, try again later"
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        now = time.time()
        with self._lock:
            for recipient in envelope.rcpt_tos:
                self.accepted.append((recipient, str(message["Subject"]), str(message["Message-ID"]), now))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        """Listen on this sink's port (the same one after an outage)."""
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``.

        First it refuses messages for a moment, so that no message is cut off between its
        acceptance and the client reading the answer (which would make a real duplicate).
        """
        if self.controller is not None:
            self.is_refusing = True
            time.sleep(0.3)
            self.controller.stop()
            self.controller = None
            self.is_refusing = False

    def counts(self) -> collections.Counter:
        """How many times each ``(recipient, subject)`` was accepted."""
        with self._lock:
            return collections.Counter((recipient, subject) for recipient, subject, _id, _at in self.accepted)

    def total(self) -> int:
        """How many messages were accepted in all."""
        with self._lock:
            return len(self.accepted)


@pytest.fixture
def smtp_sink():
    """A running SMTP sink; stopped at the end whatever happens."""
    pytest.importorskip("aiosmtpd", reason="the fault tests need aiosmtpd (pip install -e '.[test]')")
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


# -- databases of their own --------------------------------------------------------------------


def fault_app(url: str, **config):
    """An application on ``url``, as the test's window on the data (and its web requests)."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": SECRET,
            "MAIL_BACKEND": "memory",
            "BASE_URL": "http://lms.test",
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )


def migrate(url: str) -> None:
    """Build the schema on ``url`` with the real migrations."""
    app = fault_app(url)
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()


def _admin_engine(server_url: str) -> sa.Engine:
    return sa.create_engine(sa.make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def fault_server_url() -> str:
    """The PostgreSQL server of ``LMS_TEST_DATABASE_URL``; the fault tests skip without one."""
    base = os.environ.get("LMS_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("the fault tests need PostgreSQL: set LMS_TEST_DATABASE_URL (CI does)")
    return base


@pytest.fixture(scope="session")
def fault_template(fault_server_url, worker_id):
    """A migrated database to copy (``CREATE DATABASE ... TEMPLATE``), made once per worker."""
    name = f"lms_faults_template_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine(fault_server_url)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        migrate(sa.make_url(fault_server_url).set(database=name).render_as_string(hide_password=False))
        yield name
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def fault_database(fault_server_url, fault_template, worker_id) -> str:
    """URL of a migrated database of this test's own, dropped at the end."""
    name = f"lms_faults_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine(fault_server_url)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{fault_template}"')
    try:
        yield sa.make_url(fault_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# -- scheduler processes -----------------------------------------------------------------------


class Schedulers:
    """Scheduler processes (``python -m tests.jobs.harness``), each logging to a file of its own."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        self._logs: dict[int, Path] = {}
        self._files = []

    def start(
        self,
        count: int,
        *,
        database_url: str,
        smtp_port: int,
        start: float,
        days: int,
        slow: float = 0.0,
        marker_dir: Path | None = None,
    ) -> list[subprocess.Popen]:
        """Start ``count`` scheduler processes on one database and one SMTP server."""
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LMS_")},
            "PYTHONUNBUFFERED": "1",
            "LMS_ENV": "development",
            "LMS_SECRET_KEY": SECRET,
            "LMS_DATABASE_URL": database_url,
            "LMS_BASE_URL": "http://lms.test",
            "LMS_STORAGE_PATH": str(self.folder / "files"),
            "LMS_MAIL_BACKEND": "smtp",
            "LMS_MAIL_SERVER": "127.0.0.1",
            "LMS_MAIL_PORT": str(smtp_port),
            "LMS_MAIL_TIMEOUT": "5",
            "LMS_MAIL_RETRY_SECONDS": "1",
            "LMS_SCHEDULER_POLL_SECONDS": str(POLL_SECONDS),
        }
        command = [sys.executable, "-m", "tests.jobs.harness", "--start", str(start), "--days", str(days)]
        if slow:
            command += ["--slow", str(slow), "--marker-dir", str(marker_dir)]
        started = []
        for _ in range(count):
            path = self.folder / f"scheduler-{len(self.processes) + 1}.log"
            log = path.open("w")
            self._files.append(log)
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            self._logs[process.pid] = path
            self.processes.append(process)
            started.append(process)
        return started

    def by_pid(self, pid: int) -> subprocess.Popen:
        """The process with id ``pid``."""
        return next(p for p in self.processes if p.pid == pid)

    def log(self, process: subprocess.Popen) -> str:
        """What the process logged so far."""
        return self._logs[process.pid].read_text(errors="replace")

    def report(self) -> str:
        """The end of every process's log, for a failure message."""
        parts = []
        for process in self.processes:
            lines = self.log(process).splitlines()[-40:]
            parts.append(f"--- pid {process.pid} (exit {process.poll()}) ---\n" + "\n".join(lines))
        return "\n".join(parts)

    def close(self) -> None:
        """Stop every process still running (SIGTERM, then SIGKILL) and close the logs."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for log in self._files:
            log.close()


@pytest.fixture
def schedulers(tmp_path, request):
    """Start scheduler processes; all are stopped at the end, and their logs shown on failure."""
    group = Schedulers(tmp_path)
    yield group
    group.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(group.report())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item, so fixtures know whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# -- a PostgreSQL server of the test's own -----------------------------------------------------


class PostgresCluster:
    """A throwaway PostgreSQL server (``initdb`` + ``pg_ctl``) on a free port, run as ``postgres``."""

    def __init__(self):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="lms-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        if os.geteuid() == 0:
            # initdb refuses to run as root: the cluster belongs to the postgres user.
            shutil.chown(self.root, user="postgres")
            self.root.chmod(0o700)
        self.is_running = False

    def _run(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-3000:] if self.logfile.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{log}")

    def init(self) -> None:
        """Create the cluster: trust on loopback, no fsync (it is thrown away)."""
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "30", "-o", options, "start"
        )
        self.is_running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: end every connection, as a restart does)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        self.is_running = False

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database; return its URL."""
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url(name)

    def destroy(self) -> None:
        """Stop it if it runs and delete its files."""
        if self.is_running or (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def pg_cluster(fault_server_url):
    """A PostgreSQL server of this test's own, running; stopped and deleted at the end."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not on PATH (the PostgreSQL server binaries)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("runuser is needed to run initdb as the postgres user")
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
