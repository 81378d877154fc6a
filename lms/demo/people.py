"""seed-demo's organisations and people: the bodies of the seed documents and one account per role."""

from __future__ import annotations

from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import User, UserRole
from lms.extensions import db
from lms.organisations.models import Organisation, OrganisationKind
from lms.permissions import Role

#: Shared by every demo account; printed by ``seed-demo`` and in the README.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (public demo credentials, printed on purpose)

DEMO_TRAINEE = "trainee@example.org"
DEMO_ASSESSOR = "assessor@example.org"
#: The second marker of the practitioner programme, so that moderation has someone to do it.
DEMO_SECOND_ASSESSOR = "second.assessor@example.org"
DEMO_LIAISON = "liaison@example.org"
DEMO_MANAGER = "manager@example.org"
DEMO_ADMIN = "admin@example.org"

#: ``(name, kind, site type)``.
ORGANISATIONS = [
    ("Action on Addiction", OrganisationKind.PROVIDER, None),
    ("Interface Enterprises", OrganisationKind.TRAINING_PARTNER, None),
    ("Pact (Prison Advice and Care Trust)", OrganisationKind.PROVIDER, None),
    ("University of Bath", OrganisationKind.AWARDING_BODY, None),
    ("The Alcohol Forum", OrganisationKind.LICENCE_HOLDER, "community"),
    ("HMP & YOI Parc Family Interventions", OrganisationKind.LICENCE_HOLDER, "prison"),
    ("CGL (change, grow, live)", OrganisationKind.LICENCE_HOLDER, "community"),
]

#: ``(email, name, roles, organisation name)``: one account per role, all with :data:`DEMO_PASSWORD`.
DEMO_USERS = [
    (DEMO_TRAINEE, "Sam Trainee", (Role.TRAINEE,), "The Alcohol Forum"),
    (DEMO_ASSESSOR, "Alex Assessor", (Role.ASSESSOR,), "Action on Addiction"),
    (DEMO_SECOND_ASSESSOR, "Priya Shah", (Role.ASSESSOR,), "Action on Addiction"),
    (DEMO_LIAISON, "Lee Liaison", (Role.LIAISON,), "University of Bath"),
    (DEMO_MANAGER, "Morgan Manager", (Role.ORG_MANAGER,), "The Alcohol Forum"),
    (DEMO_ADMIN, "Ada Admin", (Role.ADMIN,), "Action on Addiction"),
]


def seed(report) -> None:
    """Create the demo organisations and accounts that are missing (matched by name and email)."""
    organisations = _seed_organisations(report)
    _seed_users(report, organisations)


def _seed_organisations(report) -> dict[str, Organisation]:
    existing = {o.name: o for o in db.session.scalars(select(Organisation))}
    for name, kind, site_type in ORGANISATIONS:
        if name not in existing:
            existing[name] = Organisation(name=name, kind=kind, site_type=site_type)
            db.session.add(existing[name])
            report.add("organisations")
    db.session.flush()
    return existing


def _seed_users(report, organisations: dict[str, Organisation]) -> None:
    existing = {u.email for u in db.session.scalars(select(User))}
    for email, name, roles, org in DEMO_USERS:
        if email in existing:
            continue
        user = User(email=email, name=name, organisation=organisations[org])
        user.set_password(DEMO_PASSWORD)
        user.roles = [UserRole(role=r) for r in roles]
        db.session.add(user)
        report.add("users")


def create_staff(report, admin: User | None, email: str, name: str, organisation_id: int) -> User:
    """A trainee of ``organisation_id``, created by ``admin`` through the accounts service (audited)."""
    person = accounts.create_user(
        admin,
        email=email,
        name=name,
        roles={Role.TRAINEE},
        password=DEMO_PASSWORD,
        organisation_id=organisation_id,
    )
    report.add("users")
    return person
