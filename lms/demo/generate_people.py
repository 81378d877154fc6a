"""The organisations and users part of ``flask --app lms generate``: named bodies and people by role."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterable

from lms.accounts.models import User, UserRole
from lms.demo.generation import EMAIL_DOMAIN, GenerationContext
from lms.organisations.models import Organisation, OrganisationKind
from lms.permissions import Role

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
