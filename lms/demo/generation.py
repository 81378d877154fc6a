"""What every step of ``flask --app lms generate`` works with: the sizes, the context, :class:`Step`.

A step is a function of a :class:`GenerationContext`: it reads its counts from ``ctx.size``,
draws from ``ctx.rng``, takes ids of earlier steps from ``ctx.ids``, gives its rows explicit
ids with :meth:`GenerationContext.allocate_ids` and writes them with
:meth:`GenerationContext.insert`. The runner and the list of steps are in
:mod:`lms.demo.generate`; see docs/generate.md.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

#: Every generated account signs in with this; printed at the end of a run.
GENERATED_PASSWORD = "generated-password-2026"  # noqa: S105  (synthetic benchmark accounts)
EMAIL_DOMAIN = "gen.example.org"
#: Rows per INSERT executemany.
BATCH_SIZE = 5_000
#: "Now" for generated data: timestamps are fixed so that a seed always gives the same rows.
ANCHOR = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Size:
    """How many of each thing one size generates; every step reads its counts from here."""

    name: str
    #: Organisations of every kind; licence holders are those left after the other kinds.
    organisations: int
    awarding_bodies: int
    providers: int
    training_partners: int
    #: People by their main role (half of the admins also hold the assessor role).
    trainees: int
    assessors: int
    liaisons: int
    org_managers: int
    admins: int
    courses: int
    modules_per_course: int
    cohorts_per_course: int
    #: Trainees on courses; each carries progress rows for some of the course's modules.
    enrolments: int
    module_progress: int
    assignments_per_course: int
    #: Attempts handed in, resubmissions included.
    submissions: int
    credit_awards: int

    def __post_init__(self) -> None:
        problems = []
        if self.licence_holders < 1:
            problems.append("no organisations left over for licence holders")
        if self.enrolments > self.trainees * self.courses:
            problems.append("more enrolments than trainee-course pairs")
        if self.module_progress > self.enrolments * self.modules_per_course:
            problems.append("more module-progress rows than enrolled modules")
        if self.credit_awards > self.enrolments:
            problems.append("more credit awards than enrolments (one award per trainee and course)")
        if problems:
            raise ValueError(f"size {self.name}: " + "; ".join(problems))

    @property
    def licence_holders(self) -> int:
        """Organisations that hold a licence; generated trainees belong to these."""
        return self.organisations - self.awarding_bodies - self.providers - self.training_partners

    @property
    def users(self) -> int:
        """Everyone generated."""
        return self.trainees + self.assessors + self.liaisons + self.org_managers + self.admins

    @property
    def modules(self) -> int:
        """Modules over all courses."""
        return self.courses * self.modules_per_course


SIZES: dict[str, Size] = {
    size.name: size
    for size in (
        Size(
            "xs", organisations=8, awarding_bodies=1, providers=1, training_partners=1,
            trainees=40, assessors=3, liaisons=1, org_managers=3, admins=2,
            courses=2, modules_per_course=3, cohorts_per_course=1, enrolments=50, module_progress=120,
            assignments_per_course=1, submissions=30, credit_awards=10,
        ),
        Size(
            "s", organisations=30, awarding_bodies=2, providers=2, training_partners=2,
            trainees=1_000, assessors=15, liaisons=3, org_managers=20, admins=3,
            courses=6, modules_per_course=6, cohorts_per_course=2, enrolments=1_500, module_progress=6_000,
            assignments_per_course=1, submissions=1_000, credit_awards=400,
        ),
        Size(
            "m", organisations=80, awarding_bodies=4, providers=3, training_partners=5,
            trainees=6_000, assessors=60, liaisons=8, org_managers=60, admins=5,
            courses=15, modules_per_course=8, cohorts_per_course=4, enrolments=12_000, module_progress=80_000,
            assignments_per_course=2, submissions=10_000, credit_awards=4_000,
        ),
        Size(
            "l", organisations=200, awarding_bodies=6, providers=4, training_partners=10,
            trainees=20_000, assessors=150, liaisons=12, org_managers=180, admins=10,
            courses=30, modules_per_course=10, cohorts_per_course=6,
            enrolments=50_000, module_progress=400_000,
            assignments_per_course=2, submissions=40_000, credit_awards=15_000,
        ),
    )
}  # fmt: skip


class _NoBar:
    """Stands in for a progress bar when nothing is shown."""

    def update(self, _n: int) -> None:
        """Ignore progress."""


@dataclass
class GenerationContext:
    """What a step receives: the size, a seeded RNG, the session, ids made so far, helpers."""

    size: Size
    seed: int
    #: The Flask-SQLAlchemy session: inside the tests' transaction, committed per step.
    session: Session | scoped_session
    #: Hash of :data:`GENERATED_PASSWORD`, computed once (scrypt is slow) for every account.
    password_hash: str
    echo: Echo | None = None
    #: Seeded from the seed and the running step's name.
    rng: random.Random = field(default_factory=random.Random)
    now: dt.datetime = ANCHOR
    #: Ids created by earlier steps, e.g. ``ids["users.trainee"]``, ``ids["organisations.licence_holder"]``.
    ids: dict[str, list[int]] = field(default_factory=dict)
    #: Rows inserted so far, over every table.
    rows_inserted: int = 0
    #: The next free id of each table that :meth:`allocate_ids` has handed out ids of.
    next_ids: dict[str, int] = field(default_factory=dict)

    def allocate_ids(self, table: sa.Table, count: int) -> range:
        """Reserve ``count`` consecutive ids in ``table``; explicit ids keep runs identical."""
        if table.name not in self.next_ids:
            highest = self.session.scalar(sa.select(sa.func.max(table.c.id)))
            self.next_ids[table.name] = (highest or 0) + 1
        start = self.next_ids[table.name]
        self.next_ids[table.name] = start + count
        return range(start, start + count)

    def insert(self, table: sa.Table, rows: Iterable[dict], *, total: int) -> int:
        """Insert ``rows`` (dicts with the same keys) in batches with a progress bar; return the count."""
        inserted = 0
        iterator = iter(rows)
        with self.progress(table.name, total) as bar:
            while batch := list(itertools.islice(iterator, BATCH_SIZE)):
                self.session.execute(sa.insert(table), batch)
                inserted += len(batch)
                bar.update(len(batch))
        self.rows_inserted += inserted
        return inserted

    @contextmanager
    def progress(self, label: str, length: int) -> Iterator:
        """Show a progress bar of ``length`` steps (silent without ``echo``); call ``bar.update(n)``."""
        if self.echo is None:
            yield _NoBar()
            return
        with click.progressbar(length=length, label=f"  {label:<18}", show_pos=True) as bar:
            yield bar

    def datetimes(self, count: int, *, days: int, before: dt.datetime | None = None) -> list[dt.datetime]:
        """Draw ``count`` aware UTC times in the ``days`` before ``before`` (default: now), oldest first."""
        end = before or self.now
        seconds = sorted(self.rng.randrange(days * 86_400) for _ in range(count))
        return [end - dt.timedelta(seconds=s) for s in reversed(seconds)]


class Step(NamedTuple):
    """One area's part of the data set: a name and a function that fills its tables."""

    name: str
    run: Callable[[GenerationContext], None]
