"""Throughput and latency of the trainee, cohort and marking pages under concurrent load.

Loads the size-``l`` data set into a throwaway PostgreSQL database, serves the app with
gunicorn (several workers), signs in, and drives each page with N concurrent clients for a
fixed time, side by side with a trivial page of the same app (``/healthz``) in the same run.

    .venv/bin/python bench/pages.py                   # size l, 8 clients, 20 s per page
    .venv/bin/python bench/pages.py --size s --seconds 5 --reuse   # quicker; keep the data

Results are printed as a Markdown table and written to bench/results/pages-<size>.json.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def run(*args: str, env: dict) -> str:
    """Run a command, failing loudly."""
    result = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def psql(sql: str) -> None:
    """Run SQL on the server's maintenance database."""
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)


def prepare(database: str, size: str, reuse: bool, env: dict) -> None:
    """Create, migrate and fill the benchmark database (unless reusing it)."""
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-Atc",
            f"SELECT 1 FROM pg_database WHERE datname = '{database}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if exists and reuse:
        return
    psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{database}"')
    started = time.perf_counter()
    run(str(BIN / "flask"), "--app", "lms", "db", "upgrade", env=env)
    print(run(str(BIN / "flask"), "--app", "lms", "generate", "--size", size, env=env)[-2000:])
    print(f"loaded size {size} in {time.perf_counter() - started:.0f} s")


def pick_targets(url: str) -> dict:
    """Choose the busiest trainee, one of their courses and its first module, the largest cohort,
    and the assessor with the fullest marking queue with one of their submissions that has a rubric mark.
    """
    from sqlalchemy import func, select

    from lms import create_app
    from lms.accounts.models import User, UserRole
    from lms.assessments.models import Mark, MarkingState, Submission, SubmissionStatus
    from lms.courses.models import Enrolment, EnrolmentStatus, Module
    from lms.extensions import db
    from lms.permissions import Role

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 48})
    with app.app_context():
        per_user = select(Enrolment.user_id, func.count()).group_by(Enrolment.user_id)
        user_id, count = db.session.execute(
            per_user.order_by(func.count().desc(), Enrolment.user_id).limit(1)
        ).one()
        mine = select(Enrolment).where(Enrolment.user_id == user_id).order_by(Enrolment.id)
        enrolment = (
            db.session.scalars(mine.where(Enrolment.status == EnrolmentStatus.ACTIVE)).first()
            or db.session.scalars(mine).first()
        )
        modules = select(Module).where(Module.course_id == enrolment.course_id, Module.is_retired.is_(False))
        module = db.session.scalars(modules.order_by(Module.position, Module.id)).first()
        per_cohort = (
            select(Enrolment.cohort_id, func.count())
            .where(Enrolment.cohort_id.is_not(None))
            .group_by(Enrolment.cohort_id)
        )
        cohort_id, cohort_size = db.session.execute(
            per_cohort.order_by(func.count().desc(), Enrolment.cohort_id).limit(1)
        ).one()
        admins = select(User).join(UserRole).where(UserRole.role == Role.ADMIN).order_by(User.id)
        # The marking queue lists what is allocated and not yet released, so its fullest one is
        # the assessor with the most such submissions; the marking page, one of theirs with a
        # finished rubric mark (in marking if none is finished).
        open_work = (
            select(Submission.marker_id, func.count())
            .where(Submission.status == SubmissionStatus.SUBMITTED, Submission.state != MarkingState.RELEASED)
            .group_by(Submission.marker_id)
        )
        assessor_id, queue_size = db.session.execute(
            open_work.order_by(func.count().desc(), Submission.marker_id).limit(1)
        ).one()
        marked = (
            select(Submission.id)
            .join(Mark, Mark.submission_id == Submission.id)
            .where(
                Submission.marker_id == assessor_id,
                Submission.state.in_([MarkingState.MARKED, MarkingState.IN_MARKING]),
            )
            .order_by(Mark.completed_at.is_(None), Submission.id)
        )
        targets = {
            "trainee": db.session.get(User, user_id).email,
            "enrolments": count,
            "course_id": enrolment.course_id,
            "module_id": module.id,
            "cohort_id": cohort_id,
            "cohort_size": cohort_size,
            "admin": db.session.scalars(admins).first().email,
            "assessor": db.session.get(User, assessor_id).email,
            "queue_size": queue_size,
            "marked_submission_id": db.session.scalars(marked.limit(1)).first(),
        }
        db.engine.dispose()
    return targets


class Client:
    """One HTTP/1.1 connection with a cookie jar of one session cookie."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str, dict]:
        """Send a request; follow nothing; keep the session cookie."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=data, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode()
                break
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                if attempt:
                    raise
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, text, dict(response.getheaders())

    def login(self, email: str, password: str) -> None:
        """Sign in through the real form, CSRF token included."""
        _status, page, _headers = self.request("GET", "/account/login")
        token = re.search(
            r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page
        )
        csrf = next(g for g in token.groups() if g) if token else ""
        status, _page, _headers = self.request(
            "POST", "/account/login", {"email": email, "password": password, "csrf_token": csrf}
        )
        if status != 302:
            raise SystemExit(f"sign-in as {email} failed with {status}")


def measure(port: int, path: str, email: str | None, clients: int, seconds: float) -> dict:
    """Drive ``path`` with ``clients`` concurrent signed-in clients for ``seconds``."""
    from lms.demo.generate import GENERATED_PASSWORD

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    sessions = []
    for _ in range(clients):
        client = Client(port)
        if email:
            client.login(email, GENERATED_PASSWORD)
        status, _text, _headers = client.request("GET", path)
        if status != 200:
            raise SystemExit(f"{path} answered {status} during warm-up")
        sessions.append(client)
    deadline = time.perf_counter() + seconds

    def worker(client: Client) -> None:
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, _text, _headers = client.request("GET", path)
            mine.append(time.perf_counter() - started)
            if status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in sessions]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "path": path,
        "requests": len(latencies),
        "errors": errors[0],
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %f %f\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(95)))
end
"""


def measure_wrk(port: int, path: str, email: str | None, clients: int, seconds: float) -> dict:
    """Drive ``path`` with wrk (a C load generator: the client does not steal the server's CPU)."""
    from lms.demo.generate import GENERATED_PASSWORD

    client = Client(port)
    if email:
        client.login(email, GENERATED_PASSWORD)
    status, _text, _headers = client.request("GET", path)
    if status != 200:
        raise SystemExit(f"{path} answered {status} during warm-up")
    script = ROOT / "bench" / "results" / "wrk-report.lua"
    script.parent.mkdir(exist_ok=True)
    script.write_text(WRK_SCRIPT)
    command = [
        "wrk",
        "-t",
        str(min(2, clients)),
        "-c",
        str(clients),
        "-d",
        f"{seconds:.0f}s",
        "-s",
        str(script),
    ]
    if client.cookie:
        command += ["-H", f"Cookie: {client.cookie}"]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    )
    line = next(x for x in output.stdout.splitlines() if x.startswith("RESULT "))
    requests, duration_us, errors, p50_us, p95_us = line.split()[1:]
    return {
        "path": path,
        "requests": int(requests),
        "errors": int(errors),
        "rps": int(requests) / (int(duration_us) / 1e6),
        "p50_ms": float(p50_us) / 1000,
        "p95_ms": float(p95_us) / 1000,
    }


def main() -> None:
    """Prepare, serve, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="l", choices=["xs", "s", "m", "l"])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=5190)
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the database between runs")
    parser.add_argument(
        "--driver",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (apt-get install wrk; default when installed) or threads in this process",
    )
    args = parser.parse_args()
    if not shutil.which("psql"):
        raise SystemExit("psql not found: this benchmark needs the PostgreSQL server on 127.0.0.1:5432")

    database = f"lms_bench_{args.size}"
    env = {
        **os.environ,
        "LMS_DATABASE_URL": f"{SERVER}/{database}",
        "LMS_SECRET_KEY": "b" * 48,
        "LMS_MAIL_BACKEND": "memory",
    }
    prepare(database, args.size, args.reuse, env)
    targets = pick_targets(env["LMS_DATABASE_URL"])
    print(json.dumps(targets))
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
            "lms:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        for _ in range(100):
            try:
                Client(args.port).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        pages = [
            ("trivial page (/healthz)", "/healthz", None),
            ("trainee dashboard (My learning)", "/courses/mine", targets["trainee"]),
            ("course page", f"/courses/{targets['course_id']}", targets["trainee"]),
            (
                "module page",
                f"/courses/{targets['course_id']}/modules/{targets['module_id']}",
                targets["trainee"],
            ),
            (
                f"cohort progress ({targets['cohort_size']} enrolled)",
                f"/manage/cohorts/{targets['cohort_id']}/progress",
                targets["admin"],
            ),
            (
                f"marking queue ({targets['queue_size']} to see through)",
                "/marking",
                targets["assessor"],
            ),
            (
                "marking page (rubric mark)",
                f"/marking/submissions/{targets['marked_submission_id']}",
                targets["assessor"],
            ),
        ]
        results = []
        for label, path, email in pages:
            drive = measure_wrk if args.driver == "wrk" else measure
            result = drive(args.port, path, email, args.clients, args.seconds)
            result["page"] = label
            results.append(result)
            print(
                f"{label}: {result['rps']:.0f} req/s, "
                f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms"
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    trivial = results[0]["rps"]
    lines = [
        "| page | req/s | share of trivial | p50 ms | p95 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['page']} | {r['rps']:.0f} | {100 * r['rps'] / trivial:.0f}% | {r['p50_ms']:.1f} | "
            f"{r['p95_ms']:.1f} | {r['errors']} |"
        )
    print("\n".join(lines))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"pages-{args.size}.json").write_text(
        json.dumps({"args": vars(args), "targets": targets, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
