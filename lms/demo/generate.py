"""Deterministic synthetic data for benchmarks: ``flask --app lms generate --size xs|s|m|l``.

Each area contributes one :class:`Step`, a function of a :class:`GenerationContext`, listed
in :func:`steps` in dependency order. A step reads its counts from ``ctx.size``, draws
from ``ctx.rng`` (seeded from the seed and the step's name, so that one step's changes do
not shift another's data), takes ids of earlier steps from ``ctx.ids``, gives its rows
explicit ids with :meth:`GenerationContext.allocate_ids` and writes them with
:meth:`GenerationContext.insert` (Core inserts in batches, with a progress bar).
The runner commits after each step. See docs/generate.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import NamedTuple

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session
from werkzeug.security import generate_password_hash

from lms.accounts.models import PASSWORD_METHOD, User, UserRole
from lms.errors import Conflict
from lms.extensions import db
from lms.organisations.models import Organisation, OrganisationKind
from lms.permissions import Role

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


def steps() -> tuple[Step, ...]:
    """Every step in dependency order; an area adds one line here (imports stay lazy)."""
    from lms.courses.demo import generate_cohorts, generate_courses, generate_enrolments, generate_progress

    return (
        Step("organisations", generate_organisations),
        Step("users", generate_users),
        Step("courses", generate_courses),
        Step("cohorts", generate_cohorts),
        Step("enrolments", generate_enrolments),
        Step("progress", generate_progress),
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


# --- organisations and users ---------------------------------------------------------

PLACES = (
    "Aberdeen", "Barnsley", "Bath", "Belfast", "Birmingham", "Blackpool", "Bolton", "Bradford",
    "Brighton", "Bristol", "Cambridge", "Cardiff", "Carlisle", "Chester", "Colchester", "Coventry",
    "Derby", "Doncaster", "Dundee", "Durham", "Exeter", "Glasgow", "Gloucester", "Hull", "Inverness",
    "Ipswich", "Kendal", "Lancaster", "Leeds", "Leicester", "Lincoln", "Liverpool", "Luton",
    "Manchester", "Middlesbrough", "Newcastle", "Newport", "Northampton", "Norwich", "Nottingham",
    "Oldham", "Oxford", "Perth", "Plymouth", "Portsmouth", "Preston", "Reading", "Salford",
    "Sheffield", "Southampton", "Stirling", "Stoke", "Sunderland", "Swansea", "Swindon", "Truro",
    "Wakefield", "Wigan", "Worcester", "Wrexham", "York",
)  # fmt: skip
ORGANISATION_NAMES: dict[OrganisationKind, tuple[str, ...]] = {
    OrganisationKind.AWARDING_BODY: ("University of {place}", "{place} University"),
    OrganisationKind.PROVIDER: ("{place} Family Recovery Trust", "{place} Practitioner Programme"),
    OrganisationKind.TRAINING_PARTNER: ("{place} Training Partners", "{place} Learning Collective"),
}
#: Licence holders' names by site type (the licence paperwork's community, prison and school sites).
LICENCE_HOLDER_NAMES: dict[str, tuple[str, ...]] = {
    "community": ("{place} Family Service", "{place} Recovery Partnership", "{place} Community Trust"),
    "prison": ("HMP {place} Family Interventions", "HMP & YOI {place} Families Team"),
    "school-based": ("{place} Schools Partnership", "{place} Academy Trust Family Support"),
}
FIRST_NAMES = (
    "Aisha", "Alex", "Amir", "Amy", "Ben", "Bethan", "Callum", "Chloe", "Daniel", "Deborah", "Eilidh",
    "Emma", "Fatima", "Finn", "Grace", "Hamza", "Hannah", "Imran", "Isla", "Jack", "Jade", "James",
    "Kate", "Kieran", "Laura", "Liam", "Maria", "Mohammed", "Niamh", "Oliver", "Olivia", "Priya",
    "Rhys", "Ruth", "Sam", "Sarah", "Sean", "Siobhan", "Tom", "Zara",
)  # fmt: skip
LAST_NAMES = (
    "Ahmed", "Baker", "Campbell", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hall", "Hughes",
    "Hussain", "Jones", "Kaur", "Khan", "Lewis", "MacDonald", "Martin", "Morgan", "Murphy", "O'Brien",
    "Patel", "Roberts", "Robertson", "Shah", "Singh", "Smith", "Stewart", "Taylor", "Thomas", "Thompson",
    "Walker", "Watson", "White", "Williams", "Wilson", "Wood", "Wright", "Young",
)  # fmt: skip


def _unique_names(rng: random.Random, templates: Iterable[str], count: int, taken: set[str]) -> list[str]:
    """``count`` distinct names from ``templates`` x places, numbered once the pairs run out."""
    pool = [template.format(place=place) for template in templates for place in PLACES]
    rng.shuffle(pool)
    names: list[str] = []
    for round_number in itertools.count(1):
        for name in pool:
            if len(names) == count:
                return names
            candidate = name if round_number == 1 else f"{name} {round_number}"
            if candidate not in taken:
                names.append(candidate)
                taken.add(candidate)
    raise AssertionError("unreachable")  # pragma: no cover


def generate_organisations(ctx: GenerationContext) -> None:
    """Awarding bodies, providers, training partners, then licence holders by site type."""
    size, rng = ctx.size, ctx.rng
    table = Organisation.__table__
    taken: set[str] = set()
    planned: list[tuple[OrganisationKind, str, str | None]] = []
    for kind, count in (
        (OrganisationKind.AWARDING_BODY, size.awarding_bodies),
        (OrganisationKind.PROVIDER, size.providers),
        (OrganisationKind.TRAINING_PARTNER, size.training_partners),
    ):
        planned += [(kind, name, None) for name in _unique_names(rng, ORGANISATION_NAMES[kind], count, taken)]
    site_types = rng.choices(list(LICENCE_HOLDER_NAMES), weights=(6, 3, 1), k=size.licence_holders)
    for site_type in LICENCE_HOLDER_NAMES:
        count = site_types.count(site_type)
        names = _unique_names(rng, LICENCE_HOLDER_NAMES[site_type], count, taken)
        planned += [(OrganisationKind.LICENCE_HOLDER, name, site_type) for name in names]

    ids = ctx.allocate_ids(table, len(planned))
    created = ctx.datetimes(len(planned), days=5 * 365)
    rows = []
    for org_id, (kind, name, site_type), created_at in zip(ids, planned, created, strict=True):
        row = {"id": org_id, "name": name, "kind": kind, "site_type": site_type, "created_at": created_at}
        rows.append(row)
        ctx.ids.setdefault(f"organisations.{kind.value}", []).append(org_id)
    ctx.insert(table, rows, total=len(rows))


def _round_robin(org_ids: list[int], count: int) -> list[int | None]:
    """Organisation of each of ``count`` people, taking the organisations in turn."""
    return [org_ids[i % len(org_ids)] if org_ids else None for i in range(count)]


def _spread(rng: random.Random, org_ids: list[int], count: int, *, at_least: int = 0) -> list[int | None]:
    """Organisation of each of ``count`` people: ``at_least`` each where possible, the rest skewed."""
    if not org_ids:
        return [None] * count
    base = [org_id for org_id in org_ids for _ in range(at_least)][:count]
    weights = [rng.paretovariate(1.2) for _ in org_ids]
    members = base + rng.choices(org_ids, weights=weights, k=count - len(base))
    rng.shuffle(members)
    return members


def generate_users(ctx: GenerationContext) -> None:
    """Admins, assessors, liaisons, org managers and trainees, with their roles; one shared password."""
    size, rng = ctx.size, ctx.rng
    orgs = ctx.ids
    providers = orgs.get("organisations.provider", []) + orgs.get("organisations.training_partner", [])
    licence_holders = orgs.get("organisations.licence_holder", [])
    awarding_bodies = orgs.get("organisations.awarding_body", [])
    # Admins work for the first provider; each licence holder gets a manager before any gets two.
    groups = (
        (Role.ADMIN, size.admins, [providers[0] if providers else None] * size.admins),
        (Role.ASSESSOR, size.assessors, _spread(rng, providers, size.assessors)),
        (Role.LIAISON, size.liaisons, _spread(rng, awarding_bodies, size.liaisons)),
        (Role.ORG_MANAGER, size.org_managers, _round_robin(licence_holders, size.org_managers)),
        (Role.TRAINEE, size.trainees, _spread(rng, licence_holders, size.trainees, at_least=2)),
    )

    users, roles = [], []
    tokens: set[str] = set()
    for role, count, members in groups:
        ids = ctx.allocate_ids(User.__table__, count)
        created = ctx.datetimes(count, days=2 * 365)
        for n, user_id, organisation_id, created_at in zip(itertools.count(1), ids, members, created):
            users.append(_user_row(ctx, role, n, user_id, organisation_id, created_at, tokens))
            held = [role, Role.ASSESSOR] if role is Role.ADMIN and n % 2 else [role]
            for held_role in held:
                roles.append({"user_id": user_id, "role": held_role, "granted_at": created_at})
                ctx.ids.setdefault(f"users.{held_role.value}", []).append(user_id)
    ctx.insert(User.__table__, users, total=len(users))
    ctx.insert(UserRole.__table__, roles, total=len(roles))


def _user_row(
    ctx: GenerationContext,
    role: Role,
    n: int,
    user_id: int,
    organisation_id: int | None,
    created_at: dt.datetime,
    tokens: set[str],
) -> dict:
    """One ``users`` row: the ``n``-th person of ``role``; most have signed in since joining."""
    rng = ctx.rng
    token = f"{rng.getrandbits(128):032x}"
    while token in tokens:  # pragma: no cover  (odds of 2**-128)
        token = f"{rng.getrandbits(128):032x}"
    tokens.add(token)
    has_signed_in = rng.random() < 0.85
    return {
        "id": user_id,
        "email": f"{role.value.replace('_', '-')}{n}@{EMAIL_DOMAIN}",
        "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        "password_hash": ctx.password_hash,
        "is_active": role is not Role.TRAINEE or rng.random() >= 0.02,
        "session_token": token,
        "organisation_id": organisation_id,
        "created_at": created_at,
        "last_login_at": created_at + (ctx.now - created_at) * rng.random() if has_signed_in else None,
        "password_changed_at": created_at,
    }
