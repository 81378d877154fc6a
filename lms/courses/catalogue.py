"""The catalogue: which courses a person may see, course details, prerequisites and credit rules.

Services take an explicit ``actor``, raise domain errors and flush; the request commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from lms import audit
from lms.accounts.services import people_by_id
from lms.courses.models import (
    Course,
    CourseStatus,
    CreditRule,
    DeliveryFormat,
    Enrolment,
    EnrolmentStatus,
    course_prerequisites,
)
from lms.database import contains_text
from lms.errors import InvalidInput, NotFound
from lms.extensions import db
from lms.organisations.models import Organisation, OrganisationKind
from lms.permissions import is_admin


@dataclass
class CatalogueFilter:
    """What a person searches the catalogue for."""

    q: str = ""
    provider_id: int | None = None
    delivery_format: DeliveryFormat | None = None
    has_credits: bool | None = None
    status: CourseStatus | None = None


def catalogue_query(actor, filters: CatalogueFilter | None = None):
    """Courses the actor may see, filtered; trainees see published courses only."""
    filters = filters or CatalogueFilter()
    # Explicit: a self-referential relationship is never eager-loaded from its mapper setting.
    query = (
        select(Course)
        .options(selectinload(Course.prerequisites), selectinload(Course.credit_rule))
        .order_by(Course.title, Course.id)
    )
    if not is_admin(actor):
        query = query.where(Course.status == CourseStatus.PUBLISHED)
    elif filters.status:
        query = query.where(Course.status == filters.status)
    if filters.q:
        query = query.where(
            or_(
                contains_text(Course.title, filters.q),
                contains_text(Course.code, filters.q),
                contains_text(Course.summary, filters.q),
            )
        )
    if filters.provider_id:
        query = query.where(Course.provider_id == filters.provider_id)
    if filters.delivery_format:
        query = query.where(Course.delivery_format == filters.delivery_format)
    if filters.has_credits is not None:
        carries = exists().where(CreditRule.course_id == Course.id)
        query = query.where(carries if filters.has_credits else ~carries)
    return query


def get_course(actor, course_id: int) -> Course:
    """A course the actor may see: published ones; archived ones they were enrolled on; all for admins.

    :raises NotFound: no such course, a draft, or an archived course the actor never took.
    """
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound("No such course.")
    if course.is_published or is_admin(actor):
        return course
    took_it = actor is not None and _has_enrolment(actor, course)
    if course.status == CourseStatus.ARCHIVED and took_it:
        return course  # trainees keep access to what they studied
    raise NotFound("No such course.")


def _has_enrolment(user, course: Course) -> bool:
    return (
        db.session.scalar(
            select(Enrolment.id).where(Enrolment.user_id == user.id, Enrolment.course_id == course.id)
        )
        is not None
    )


def catalogue_providers(actor) -> list:
    """Organisations that provide at least one course the actor may see, by name."""
    provided = select(Course.provider_id)
    if not is_admin(actor):
        provided = provided.where(Course.status == CourseStatus.PUBLISHED)
    return list(
        db.session.scalars(
            select(Organisation).where(Organisation.id.in_(provided)).order_by(Organisation.name)
        )
    )


def get_course_by_code(code: str) -> Course | None:
    """The course with this code (codes are stored upper-case)."""
    return db.session.scalar(select(Course).where(Course.code == code.strip().upper()))


COURSE_FIELDS = (
    "code",
    "title",
    "summary",
    "provider_id",
    "delivery_format",
    "notional_hours",
    "audience",
    "status",
    "is_self_enrol",
)


def _course_snapshot(course: Course) -> dict:
    snapshot = {name: getattr(course, name) for name in COURSE_FIELDS}
    snapshot["delivery_format"] = str(snapshot["delivery_format"]) if snapshot["delivery_format"] else None
    snapshot["status"] = str(snapshot["status"]) if snapshot["status"] else None
    snapshot["prerequisites"] = sorted(c.code for c in course.prerequisites)
    return snapshot


def save_course(actor, course: Course | None, data: dict) -> Course:
    """Create (``course=None``) or update a course, with its prerequisites and credit rule.

    ``data`` may hold the fields in ``COURSE_FIELDS``, ``prerequisite_ids`` and ``credits``
    (``{"awarding_body_id", "credits", "level"}`` or ``None`` to remove the rule).

    :raises InvalidInput: a duplicate code, an unknown organisation or a prerequisite cycle.
    """
    is_new = course is None
    before = None if is_new else _course_snapshot(course)
    if "code" in data:
        code = data["code"].strip().upper()
        clash = get_course_by_code(code)
        if clash is not None and clash is not course:
            raise InvalidInput.for_field("code", f"Another course already uses the code {code}.")
        data = {**data, "code": code}
    if "provider_id" in data and db.session.get(Organisation, data["provider_id"]) is None:
        raise InvalidInput.for_field("provider_id", "Choose the organisation that provides the course.")
    if is_new:
        missing = [
            name
            for name in ("code", "title", "provider_id", "delivery_format")
            if data.get(name) in (None, "")
        ]
        if missing:
            raise InvalidInput(
                "Some required fields are missing.", {name: ["This field is required."] for name in missing}
            )
        course = Course()
        db.session.add(course)
    for name in COURSE_FIELDS:
        if name in data:
            setattr(course, name, data[name])
    db.session.flush()
    if "prerequisite_ids" in data:
        set_prerequisites(course, data["prerequisite_ids"])
    if "credits" in data:
        _set_credit_rule(course, data["credits"])
    db.session.flush()
    if "credits" in data:
        # The rule is written by course id: reload ``course.credit_rule`` so callers see the new one.
        db.session.expire(course, ["credit_rule"])
    after = _course_snapshot(course)
    if before != after:
        audit.record(
            actor, "course.created" if is_new else "course.updated", course, before=before, after=after
        )
    return course


def _set_credit_rule(course: Course, rule: dict | None) -> None:
    existing = db.session.scalar(select(CreditRule).where(CreditRule.course_id == course.id))
    if not rule:
        if existing is not None:
            db.session.delete(existing)
        return
    body = db.session.get(Organisation, rule.get("awarding_body_id") or 0)
    if body is None or body.kind != OrganisationKind.AWARDING_BODY:
        raise InvalidInput.for_field("awarding_body_id", "Choose the university that awards the credits.")
    if not rule.get("credits") or rule["credits"] < 1:
        raise InvalidInput.for_field("credits", "Credits must be a whole number of at least 1.")
    existing = existing or CreditRule(course_id=course.id)
    existing.awarding_body_id = body.id
    existing.credits = rule["credits"]
    existing.level = (rule.get("level") or "").strip()
    db.session.add(existing)


def set_prerequisites(course: Course, required_ids: list[int]) -> None:
    """Replace a course's prerequisites, refusing unknown courses and cycles.

    :raises InvalidInput: on ``prerequisite_ids``.
    """
    required_ids = sorted(set(required_ids))
    if course.id in required_ids:
        raise InvalidInput.for_field("prerequisite_ids", "A course cannot require itself.")
    required = (
        db.session.scalars(select(Course).where(Course.id.in_(required_ids))).all() if required_ids else []
    )
    if len(required) != len(required_ids):
        raise InvalidInput.for_field("prerequisite_ids", "One of the required courses does not exist.")
    edges = _prerequisite_graph()
    edges[course.id] = set(required_ids)
    path = _find_cycle(edges, course.id)
    if path:
        codes = dict(db.session.execute(select(Course.id, Course.code).where(Course.id.in_(path))).all())
        chain = " → ".join(codes[i] for i in path)
        raise InvalidInput.for_field(
            "prerequisite_ids", f"That would make a circle of prerequisites: {chain}."
        )
    course.prerequisites = sorted(required, key=lambda c: c.code)  # as the relationship orders them


def _prerequisite_graph() -> dict[int, set[int]]:
    edges: dict[int, set[int]] = {}
    for course_id, required_id in db.session.execute(select(course_prerequisites)).all():
        edges.setdefault(course_id, set()).add(required_id)
    return edges


def _find_cycle(edges: dict[int, set[int]], start: int) -> list[int]:
    """A path start → … → start through ``edges``, or ``[]``."""
    stack = [(start, [start])]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        for nxt in edges.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return []


def missing_prerequisites(user, course: Course) -> list[Course]:
    """The prerequisites of ``course`` that ``user`` has not completed."""
    if not course.prerequisites:
        return []
    done = set(
        db.session.scalars(
            select(Enrolment.course_id).where(
                Enrolment.user_id == user.id,
                Enrolment.status == EnrolmentStatus.COMPLETED,
                Enrolment.course_id.in_([c.id for c in course.prerequisites]),
            )
        )
    )
    return [c for c in course.prerequisites if c.id not in done]


def other_courses(course: Course | None) -> list:
    """``(id, code, title)`` of every course but ``course``, by code: prerequisite choices."""
    return list(
        db.session.execute(
            select(Course.id, Course.code, Course.title)
            .where(Course.id != (course.id if course else 0))
            .order_by(Course.code)
        ).all()
    )


#: How the course's audited fields are named in its history.
FIELD_LABELS = {
    "code": "code",
    "title": "title",
    "summary": "summary",
    "provider_id": "provider",
    "delivery_format": "delivery format",
    "notional_hours": "notional hours",
    "audience": "audience",
    "status": "status",
    "is_self_enrol": "self-enrolment",
    "prerequisites": "prerequisites",
}
HISTORY_LABELS = {
    "course.created": "Created",
    "course.updated": "Edited",
    "course.modules_reordered": "Modules reordered",
}


def course_history(course: Course, limit: int) -> list[dict]:
    """The latest changes to a course, for people: when, who, what and which fields (two queries)."""
    entries = audit.history_of("courses", course.id, limit)
    actors = people_by_id(e.actor_id for e in entries)
    history = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changed = sorted(
            FIELD_LABELS.get(k, k) for k in set(before) | set(after) if before.get(k) != after.get(k)
        )
        history.append(
            {
                "at": entry.created_at,
                "actor": actors.get(entry.actor_id),
                "label": HISTORY_LABELS.get(entry.action, entry.action),
                "changed": changed if entry.action == "course.updated" else [],
            }
        )
    return history
