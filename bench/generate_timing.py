"""Time ``generate`` on a fresh database: a temporary SQLite file, or a throwaway PostgreSQL database.

    .venv/bin/python bench/generate_timing.py --size s
    .venv/bin/python bench/generate_timing.py --size l --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The PostgreSQL database (``lms_gen_timing``) is created next to the given URL and dropped at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from lms import create_app
from lms.demo.generate import SIZES, generate
from lms.extensions import db


def run(database_url: str, size: str, seed: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench-" + "x" * 40})
    with app.app_context():
        started = time.perf_counter()
        upgrade()
        print(f"migrated in {time.perf_counter() - started:.1f} s")
        report = generate(size, seed=seed, echo=print)
        steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in report.step_seconds.items())
        print(f"per step: {steps}")
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", help="URL of a database on the server; a throwaway one is made")
    args = parser.parse_args()
    if not args.postgres:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{Path(folder) / 'generate.sqlite3'}", args.size, args.seed)
        return
    url = sa.make_url(args.postgres)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql('DROP DATABASE IF EXISTS "lms_gen_timing" WITH (FORCE)')
        connection.exec_driver_sql('CREATE DATABASE "lms_gen_timing"')
    try:
        run(url.set(database="lms_gen_timing").render_as_string(hide_password=False), args.size, args.seed)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql('DROP DATABASE IF EXISTS "lms_gen_timing" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
