"""The demo: seed documents turned into organisations, people and courses. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from lms.accounts.models import User, UserRole
from lms.extensions import db
from lms.organisations.models import Organisation, OrganisationKind
from lms.permissions import Role

#: Shared by every demo account; printed by ``seed-demo`` and in the README.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (public demo credentials, printed on purpose)

ORGANISATIONS = [
    ("Action on Addiction", OrganisationKind.PROVIDER, None),
    ("Interface Enterprises", OrganisationKind.TRAINING_PARTNER, None),
    ("Pact (Prison Advice and Care Trust)", OrganisationKind.PROVIDER, None),
    ("University of Bath", OrganisationKind.AWARDING_BODY, None),
    ("The Alcohol Forum", OrganisationKind.LICENCE_HOLDER, "community"),
    ("HMP & YOI Parc Family Interventions", OrganisationKind.LICENCE_HOLDER, "prison"),
    ("CGL (change, grow, live)", OrganisationKind.LICENCE_HOLDER, "community"),
]

DEMO_USERS = [
    ("trainee@example.org", "Sam Trainee", (Role.TRAINEE,), "The Alcohol Forum"),
    ("assessor@example.org", "Alex Assessor", (Role.ASSESSOR,), "Action on Addiction"),
    ("liaison@example.org", "Lee Liaison", (Role.LIAISON,), "University of Bath"),
    ("manager@example.org", "Morgan Manager", (Role.ORG_MANAGER,), "The Alcohol Forum"),
    ("admin@example.org", "Ada Admin", (Role.ADMIN,), "Action on Addiction"),
]


@dataclass
class SeedReport:
    """What seeding created, and the demo credentials."""

    created: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, count: int = 1) -> None:
        """Count something created."""
        self.created[what] = self.created.get(what, 0) + count

    def render(self) -> str:
        """Text for the terminal."""
        lines = ["Demo data ready."]
        if self.created:
            lines.append("Created: " + ", ".join(f"{n} {what}" for what, n in sorted(self.created.items())))
        else:
            lines.append("Nothing new: the demo data was already there.")
        lines.append(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for email, name, roles, _org in DEMO_USERS:
            lines.append(f"  {', '.join(r.label for r in roles):<24} {email:<26} {name}")
        return "\n".join(lines)


def _area_seeders() -> tuple:
    """Each area's ``seed(report)``, in dependency order; each is idempotent."""
    from lms.courses import demo as courses

    return (courses.seed,)


def seed_demo() -> SeedReport:
    """Create whatever part of the demo is missing; flushes, the caller commits."""
    report = SeedReport()
    organisations = _seed_organisations(report)
    _seed_users(report, organisations)
    for seeder in _area_seeders():
        seeder(report)
    db.session.flush()
    return report


def _seed_organisations(report: SeedReport) -> dict[str, Organisation]:
    existing = {o.name: o for o in db.session.scalars(select(Organisation))}
    for name, kind, site_type in ORGANISATIONS:
        if name not in existing:
            existing[name] = Organisation(name=name, kind=kind, site_type=site_type)
            db.session.add(existing[name])
            report.add("organisations")
    db.session.flush()
    return existing


def _seed_users(report: SeedReport, organisations: dict[str, Organisation]) -> None:
    existing = {u.email for u in db.session.scalars(select(User))}
    for email, name, roles, org in DEMO_USERS:
        if email in existing:
            continue
        user = User(email=email, name=name, organisation=organisations[org])
        user.set_password(DEMO_PASSWORD)
        user.roles = [UserRole(role=r) for r in roles]
        db.session.add(user)
        report.add("users")
