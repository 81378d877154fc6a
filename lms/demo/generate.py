"""Deterministic synthetic data for benchmarks: ``flask --app lms generate --size xs|s|m|l``.

Each area contributes one :class:`Step` or a few, functions of a :class:`GenerationContext`
(see :mod:`lms.demo.generation`) kept in ``lms/demo/generate_<area>.py`` and listed in
:func:`steps` in dependency order. Each step's ``ctx.rng`` is seeded from the seed and the
step's name, so that one step's changes do not shift another's data. The runner commits
after each step. See docs/generate.md.
"""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass, field, fields

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session
from werkzeug.security import generate_password_hash

from lms.accounts.models import PASSWORD_METHOD
from lms.demo.generate_assessments import generate_assessments
from lms.demo.generate_courses import generate_cohorts, generate_courses
from lms.demo.generate_enrolments import generate_enrolments
from lms.demo.generate_people import generate_organisations, generate_users
from lms.demo.generate_progress import generate_progress
from lms.demo.generation import (
    ANCHOR,
    EMAIL_DOMAIN,
    GENERATED_PASSWORD,
    SIZES,
    Echo,
    GenerationContext,
    Size,
    Step,
)
from lms.errors import Conflict
from lms.extensions import db

__all__ = [
    "ANCHOR",
    "GENERATED_PASSWORD",
    "SIZES",
    "GenerationContext",
    "GenerationRefused",
    "GenerationReport",
    "Size",
    "Step",
    "generate",
    "sizes_markdown",
    "steps",
]


def sizes_markdown() -> str:
    """Render the sizes as a Markdown table (docs/generate.md carries it; a test keeps it current)."""
    names = [f.name for f in fields(Size) if f.name != "name"]
    names[names.index("training_partners") + 1 : names.index("training_partners") + 1] = ["licence_holders"]
    names.insert(names.index("admins") + 1, "users")
    lines = ["| count | " + " | ".join(SIZES) + " |", "|---|" + "---:|" * len(SIZES)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{getattr(s, name):,}" for s in SIZES.values()) + " |")
    return "\n".join(lines)


class GenerationRefused(Conflict):
    """The database is not an empty, migrated one, so generating would mix or fail."""


def steps() -> tuple[Step, ...]:
    """Every step in dependency order; an area adds one line here."""
    return (
        Step("organisations", generate_organisations),
        Step("users", generate_users),
        Step("courses", generate_courses),
        Step("cohorts", generate_cohorts),
        Step("enrolments", generate_enrolments),
        Step("progress", generate_progress),
        Step("assessments", generate_assessments),
    )


@dataclass
class GenerationReport:
    """What a run made and how long it took."""

    size: Size
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def render(self) -> str:
        """Summary for the terminal: rows per table, time, and how to sign in."""
        width = max((len(name) for name in self.counts), default=5)
        lines = [f"Generated size {self.size.name} (seed {self.seed}) in {self.seconds:.1f} s:"]
        lines += [f"  {name:<{width}} {count:>10,}" for name, count in self.counts.items()]
        lines.append(f"Password of every generated account: {GENERATED_PASSWORD}")
        lines.append(f"For example admin1@{EMAIL_DOMAIN}, assessor1@{EMAIL_DOMAIN}, trainee1@{EMAIL_DOMAIN}.")
        return "\n".join(lines)


def generate(size: str | Size, *, seed: int = 1, echo: Echo | None = None) -> GenerationReport:
    """Fill an empty, migrated database with the data set of ``size``; commits after each step.

    :raises GenerationRefused: if a table is missing or already holds rows.
    """
    size = SIZES[size] if isinstance(size, str) else size
    started = time.perf_counter()
    session = db.session
    check_empty_database(session)
    say = echo or (lambda _text: None)
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    say(f"Generating size {size.name} (seed {seed}, {size.users:,} users) into {url}")
    ctx = GenerationContext(
        size=size,
        seed=seed,
        session=session,
        password_hash=generated_password_hash(),
        echo=echo,
    )
    report = GenerationReport(size=size, seed=seed)
    plan = steps()
    for number, step in enumerate(plan, start=1):
        say(f"[{number}/{len(plan)}] {step.name}")
        step_started, rows_before = time.perf_counter(), ctx.rows_inserted
        ctx.rng = random.Random(f"{seed}:{step.name}")  # noqa: S311  (reproducible data, not secrets)
        step.run(ctx)
        _sync_sequences(session, ctx.next_ids)
        session.commit()
        report.step_seconds[step.name] = time.perf_counter() - step_started
        say(f"      {ctx.rows_inserted - rows_before:,} rows in {report.step_seconds[step.name]:.2f} s")
    report.counts = table_counts(session)
    report.seconds = time.perf_counter() - started
    say(report.render())
    return report


@functools.cache
def generated_password_hash() -> str:
    """Hash :data:`GENERATED_PASSWORD` once per process: scrypt is slow by design."""
    return generate_password_hash(GENERATED_PASSWORD, method=PASSWORD_METHOD)


def check_empty_database(session: Session | scoped_session) -> None:
    """Refuse unless every table exists and is empty.

    :raises GenerationRefused:
    """
    existing = set(sa.inspect(session.connection()).get_table_names())
    missing = [t.name for t in db.metadata.sorted_tables if t.name not in existing]
    if missing:
        raise GenerationRefused(
            f"The database has no table {', '.join(missing)}: run `flask --app lms db upgrade` first."
        )
    filled = [
        t.name
        for t in db.metadata.sorted_tables
        if session.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first() is not None
    ]
    if filled:
        raise GenerationRefused(
            f"The database is not empty ({', '.join(filled)} have rows). generate only fills an empty, "
            "migrated database: create a new one, run `flask --app lms db upgrade`, then generate."
        )


def table_counts(session: Session | scoped_session) -> dict[str, int]:
    """Rows per table, for the tables that have any, in dependency order."""
    counts = {}
    for table in db.metadata.sorted_tables:
        count = session.scalar(sa.select(sa.func.count()).select_from(table))
        if count:
            counts[table.name] = count
    return counts


def _sync_sequences(session: Session | scoped_session, next_ids: dict[str, int]) -> None:
    """On PostgreSQL, move each id sequence past the explicit ids, so the app's inserts still work."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name, next_id in next_ids.items():
        session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :next_id, false)"),
            {"table": name, "next_id": next_id},
        )
