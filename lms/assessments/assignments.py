"""Assignments on a course, their marking schemes (versioned) and their assessor pools.

Services take an explicit ``actor``, raise domain errors and flush; the request commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, exists, false, func, insert, or_, select

from lms import audit
from lms.accounts.models import User, UserRole
from lms.assessments.models import (
    Assignment,
    Criterion,
    Level,
    Mark,
    SchemeKind,
    SchemeVersion,
    Submission,
    course_assessors,
)
from lms.assessments.uploads import FILE_TYPES
from lms.courses.models import Course, Enrolment, EnrolmentStatus
from lms.errors import InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.permissions import Role, is_admin

#: Fields an admin sets on an assignment, as the form and the API name them.
ASSIGNMENT_FIELDS = (
    "title",
    "brief",
    "accepts_text",
    "word_limit",
    "accepts_files",
    "file_types",
    "max_file_size",
    "max_files",
    "opens_at",
    "due_at",
    "cutoff_at",
    "max_attempts",
    "is_required",
    "is_blind",
    "is_moderated",
    "moderation_share",
    "marking_days",
)
#: The settings of a new assignment, unless ``data`` says otherwise.
NEW_ASSIGNMENT = {
    "brief": "",
    "accepts_text": True,
    "word_limit": None,
    "accepts_files": False,
    "file_types": "",
    "max_file_size": 10 * 1024 * 1024,
    "max_files": 1,
    "opens_at": None,
    "cutoff_at": None,
    "max_attempts": 2,
    "is_required": True,
    "is_blind": False,
    "is_moderated": False,
    "moderation_share": 20,
    "marking_days": 14,
}
#: Largest file an assignment may accept.
MAX_FILE_SIZE_LIMIT = 100 * 1024 * 1024
MAX_CRITERIA = 12
MAX_LEVELS = 8


def get_assignment(assignment_id: int) -> Assignment:
    """The assignment with this id.

    :raises NotFound: no such assignment.
    """
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def assignments_of(course_ids: list[int]) -> dict[int, list[Assignment]]:
    """Each course's assignments, by due date: one query for many courses."""
    found: dict[int, list[Assignment]] = {course_id: [] for course_id in course_ids}
    if not course_ids:
        return found
    statement = (
        select(Assignment)
        .where(Assignment.course_id.in_(course_ids))
        .order_by(Assignment.due_at, Assignment.id)
    )
    for assignment in db.session.scalars(statement):
        found[assignment.course_id].append(assignment)
    return found


def _snapshot(assignment: Assignment) -> dict:
    snapshot = {}
    for name in ASSIGNMENT_FIELDS:
        value = getattr(assignment, name)
        snapshot[name] = value.isoformat() if isinstance(value, dt.datetime) else value
    return snapshot


def save_assignment(actor, course: Course, assignment: Assignment | None, data: dict) -> Assignment:
    """Create (``assignment=None``) or update an assignment of ``course``.

    ``data`` holds any of :data:`ASSIGNMENT_FIELDS`; a new assignment needs a title and a
    due date. A new assignment gets a simple "mark out of 100, pass at 40" scheme until one
    is saved with :func:`save_scheme`.

    :raises NotAllowed: the actor is not an admin.
    :raises InvalidInput: dates out of order, nothing to hand in, unknown file types.
    """
    if not is_admin(actor):
        raise NotAllowed("Only administrators manage assignments.")
    is_new = assignment is None
    before = None if is_new else _snapshot(assignment)
    if is_new:
        missing = [name for name in ("title", "due_at") if data.get(name) in (None, "")]
        if missing:
            raise InvalidInput(
                "Some required fields are missing.", {name: ["This field is required."] for name in missing}
            )
        assignment = Assignment(course_id=course.id, course=course, **NEW_ASSIGNMENT)
    values = {name: data[name] for name in ASSIGNMENT_FIELDS if name in data}
    if "file_types" in values:
        values["file_types"] = _clean_file_types(values["file_types"])
    if "title" in values:
        values["title"] = (values["title"] or "").strip()
        if not values["title"]:
            raise InvalidInput.for_field("title", "Give the assignment a title.")
    merged = {name: values.get(name, getattr(assignment, name)) for name in ASSIGNMENT_FIELDS}
    _check_rules(merged)
    for name, value in values.items():
        setattr(assignment, name, value)
    if is_new:
        db.session.add(assignment)
        db.session.flush()
        save_scheme(actor, assignment, {"kind": "points", "max_points": 100, "pass_mark": 40})
    db.session.flush()
    after = _snapshot(assignment)
    if before != after:
        audit.record(
            actor,
            "assignment.created" if is_new else "assignment.updated",
            assignment,
            before=before,
            after=after,
        )
    return assignment


def _clean_file_types(raw) -> str:
    items = raw if isinstance(raw, list | tuple) else str(raw or "").replace(" ", ",").split(",")
    cleaned = []
    for item in items:
        extension = str(item).strip().lower().lstrip(".")
        if not extension:
            continue
        if extension not in FILE_TYPES:
            known = ", ".join(sorted(FILE_TYPES))
            raise InvalidInput.for_field("file_types", f"“{extension}” is not a type lms accepts ({known}).")
        if extension not in cleaned:
            cleaned.append(extension)
    return ",".join(cleaned)


def _check_rules(values: dict) -> None:
    """Refuse a combination of settings that cannot work, naming the field to change."""
    if not values["accepts_text"] and not values["accepts_files"]:
        raise InvalidInput.for_field("accepts_text", "Accept online text, files or both.")
    if values["accepts_files"] and not values["file_types"]:
        raise InvalidInput.for_field("file_types", "Choose at least one type of file to accept.")
    if values["word_limit"] is not None and values["word_limit"] < 1:
        raise InvalidInput.for_field("word_limit", "The word limit must be at least 1 (or empty for none).")
    if not 1 <= (values["max_file_size"] or 0) <= MAX_FILE_SIZE_LIMIT:
        raise InvalidInput.for_field("max_file_size", "The size limit must be between 1 byte and 100 MB.")
    if not 1 <= (values["max_files"] or 0) <= 20:
        raise InvalidInput.for_field("max_files", "Allow between 1 and 20 files.")
    if not 1 <= (values["max_attempts"] or 0) <= 10:
        raise InvalidInput.for_field("max_attempts", "Allow between 1 and 10 attempts.")
    if not 0 <= (values["moderation_share"] if values["moderation_share"] is not None else -1) <= 100:
        raise InvalidInput.for_field(
            "moderation_share", "The moderation sample is a share from 0 to 100 per cent."
        )
    if not 1 <= (values["marking_days"] or 0) <= 90:
        raise InvalidInput.for_field("marking_days", "Give assessors between 1 and 90 days to mark.")
    due, opens, cutoff = values["due_at"], values["opens_at"], values["cutoff_at"]
    if opens is not None and due is not None and opens > due:
        raise InvalidInput.for_field("opens_at", "The assignment must open before it is due.")
    if cutoff is not None and due is not None and cutoff < due:
        raise InvalidInput.for_field("cutoff_at", "The cut-off date cannot be before the due date.")


# --- who sees which assignments -----------------------------------------------------------

#: Enrolment statuses that hold a place on a course.
CURRENT_STATUSES = [s for s in EnrolmentStatus if s.is_current]


def visible_query(actor, *, with_own_attempts: bool = False):
    """The assignments ``actor`` may see, by due date.

    Admins: all. Trainees: those of the courses they hold a place on (and, ``with_own_attempts``,
    any they made an attempt at, whose record they keep). Assessors: those of their pool's courses
    and any with work allocated to them or for them to moderate.
    """
    statement = select(Assignment).order_by(Assignment.due_at, Assignment.id)
    if is_admin(actor):
        return statement
    seen = []
    if actor.has_role(Role.TRAINEE):
        current = select(Enrolment.course_id).where(
            Enrolment.user_id == actor.id, Enrolment.status.in_(CURRENT_STATUSES)
        )
        seen.append(Assignment.course_id.in_(current))
        if with_own_attempts:
            seen.append(
                Assignment.id.in_(select(Submission.assignment_id).where(Submission.user_id == actor.id))
            )
    if actor.has_role(Role.ASSESSOR):
        pool = select(course_assessors.c.course_id).where(course_assessors.c.user_id == actor.id)
        staffed = select(Submission.assignment_id).where(
            or_(Submission.marker_id == actor.id, Submission.moderator_id == actor.id)
        )
        seen += [Assignment.course_id.in_(pool), Assignment.id.in_(staffed)]
    return statement.where(or_(*seen) if seen else false())


def get_visible(actor, assignment_id: int) -> Assignment:
    """An assignment ``actor`` may see (:func:`visible_query`, with their own attempts' ones).

    :raises NotFound: no such assignment, or not the actor's to see.
    """
    statement = visible_query(actor, with_own_attempts=True).where(Assignment.id == assignment_id)
    assignment = db.session.scalar(statement)
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


# --- marking schemes ---------------------------------------------------------------------


def current_version(assignment: Assignment) -> SchemeVersion:
    """The scheme version new marks use: the assignment's latest."""
    return current_versions([assignment.id])[assignment.id]


def current_versions(assignment_ids: list[int]) -> dict[int, SchemeVersion]:
    """The latest scheme version of each assignment (with criteria and levels): bounded queries."""
    if not assignment_ids:
        return {}
    latest = (
        select(SchemeVersion.assignment_id, func.max(SchemeVersion.number).label("number"))
        .where(SchemeVersion.assignment_id.in_(assignment_ids))
        .group_by(SchemeVersion.assignment_id)
        .subquery()
    )
    statement = select(SchemeVersion).join(
        latest,
        (SchemeVersion.assignment_id == latest.c.assignment_id) & (SchemeVersion.number == latest.c.number),
    )
    return {version.assignment_id: version for version in db.session.scalars(statement)}


def is_version_used(version: SchemeVersion) -> bool:
    """Whether any mark was saved against this version."""
    return bool(db.session.scalar(select(exists().where(Mark.scheme_version_id == version.id))))


def save_scheme(actor, assignment: Assignment, data: dict) -> SchemeVersion:
    """Set the marking scheme of ``assignment``.

    ``data``: ``{"kind": "points", "max_points": N, "pass_mark": P}`` or ``{"kind": "rubric",
    "pass_mark": P, "criteria": [{"title", "description", "levels": [{"points",
    "descriptor"}]}]}``. The current version is changed in place while no mark uses it;
    once one does, a new version is made and the existing marks keep theirs.

    :raises NotAllowed: the actor is not an admin.
    :raises InvalidInput: a rubric without criteria or levels, a pass mark above the maximum.
    """
    if not is_admin(actor):
        raise NotAllowed("Only administrators manage marking schemes.")
    kind, criteria, max_points, pass_mark = _parse_scheme(data)
    existing = db.session.scalars(
        select(SchemeVersion)
        .where(SchemeVersion.assignment_id == assignment.id)
        .order_by(SchemeVersion.number.desc())
        .limit(1)
    ).first()
    if existing is not None and _same_scheme(existing, kind, criteria, max_points, pass_mark):
        return existing
    if existing is None or is_version_used(existing):
        version = SchemeVersion(
            assignment_id=assignment.id,
            number=(existing.number + 1) if existing else 1,
            created_by_id=getattr(actor, "id", None),
        )
        db.session.add(version)
        action = "scheme.created" if existing is None else "scheme.versioned"
    else:
        version = existing
        version.criteria.clear()
        db.session.flush()
        action = "scheme.updated"
    version.kind = kind
    version.max_points = max_points
    version.pass_mark = pass_mark
    for position, item in enumerate(criteria):
        criterion = Criterion(position=position, title=item["title"], description=item["description"])
        criterion.levels = [Level(points=p, descriptor=d) for p, d in item["levels"]]
        version.criteria.append(criterion)
    db.session.flush()
    audit.record(
        actor,
        action,
        assignment,
        after={
            "version": version.number,
            "kind": str(kind),
            "max_points": max_points,
            "pass_mark": pass_mark,
        },
    )
    return version


def _parse_scheme(data: dict) -> tuple[SchemeKind, list[dict], int, int]:
    try:
        kind = SchemeKind(data.get("kind"))
    except ValueError:
        raise InvalidInput.for_field("kind", "Choose a rubric or a mark out of N.") from None
    pass_mark = data.get("pass_mark")
    if not isinstance(pass_mark, int) or isinstance(pass_mark, bool) or pass_mark < 0:
        raise InvalidInput.for_field("pass_mark", "The pass mark must be a whole number of points.")
    criteria: list[dict] = []
    if kind == SchemeKind.POINTS:
        max_points = data.get("max_points")
        if not isinstance(max_points, int) or isinstance(max_points, bool) or not 1 <= max_points <= 1000:
            raise InvalidInput.for_field(
                "max_points", "The maximum mark must be a whole number from 1 to 1000."
            )
    else:
        raw = [c for c in data.get("criteria") or [] if (c.get("title") or "").strip() or c.get("levels")]
        if not raw:
            raise InvalidInput.for_field("criteria", "A rubric needs at least one criterion.")
        if len(raw) > MAX_CRITERIA:
            raise InvalidInput.for_field("criteria", f"A rubric has at most {MAX_CRITERIA} criteria.")
        for number, item in enumerate(raw, start=1):
            title = (item.get("title") or "").strip()
            if not title:
                raise InvalidInput.for_field("criteria", f"Criterion {number} needs a title.")
            levels = []
            for level in item.get("levels") or []:
                descriptor = (level.get("descriptor") or "").strip()
                points = level.get("points")
                if points is None and not descriptor:
                    continue
                if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= 1000:
                    raise InvalidInput.for_field(
                        "criteria", f"Each level of “{title}” needs points, a whole number from 0 to 1000."
                    )
                if not descriptor:
                    raise InvalidInput.for_field("criteria", f"Each level of “{title}” needs a descriptor.")
                levels.append((points, descriptor))
            if len(levels) < 2:
                raise InvalidInput.for_field("criteria", f"“{title}” needs at least two levels.")
            if len(levels) > MAX_LEVELS:
                raise InvalidInput.for_field("criteria", f"“{title}” has more than {MAX_LEVELS} levels.")
            if len({p for p, _ in levels}) != len(levels):
                raise InvalidInput.for_field("criteria", f"Two levels of “{title}” carry the same points.")
            levels.sort()
            criteria.append(
                {"title": title, "description": (item.get("description") or "").strip(), "levels": levels}
            )
        max_points = sum(c["levels"][-1][0] for c in criteria)
        if max_points < 1:
            raise InvalidInput.for_field(
                "criteria", "The rubric's best levels must be worth at least one point."
            )
    if pass_mark > max_points:
        raise InvalidInput.for_field(
            "pass_mark", f"The pass mark cannot be above the maximum of {max_points}."
        )
    return kind, criteria, max_points, pass_mark


def _same_scheme(version: SchemeVersion, kind, criteria: list[dict], max_points: int, pass_mark: int) -> bool:
    current = [
        {
            "title": c.title,
            "description": c.description,
            "levels": [(lv.points, lv.descriptor) for lv in c.levels],
        }
        for c in version.criteria
    ]
    return (version.kind, version.max_points, version.pass_mark, current) == (
        kind,
        max_points,
        pass_mark,
        criteria,
    )


def scheme_data(version: SchemeVersion) -> dict:
    """A scheme version as :func:`save_scheme` takes it (to prefill a form)."""
    return {
        "kind": str(version.kind),
        "max_points": version.max_points,
        "pass_mark": version.pass_mark,
        "criteria": [
            {
                "title": c.title,
                "description": c.description,
                "levels": [{"points": lv.points, "descriptor": lv.descriptor} for lv in c.levels],
            }
            for c in version.criteria
        ],
    }


# --- assessor pools ----------------------------------------------------------------------


def pool_of(course_id: int) -> list[User]:
    """The assessors who mark a course's assignments, by name."""
    statement = (
        select(User)
        .join(course_assessors, course_assessors.c.user_id == User.id)
        .where(course_assessors.c.course_id == course_id)
        .order_by(User.name, User.id)
    )
    return list(db.session.scalars(statement))


def pool_ids(course_id: int) -> set[int]:
    """The ids of a course's assessors."""
    statement = select(course_assessors.c.user_id).where(course_assessors.c.course_id == course_id)
    return set(db.session.scalars(statement))


def assessors() -> list[User]:
    """Everyone who may join an assessor pool: active holders of the assessor role."""
    statement = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.ASSESSOR, User.is_active_account.is_(True))
        .order_by(User.name, User.id)
    )
    return list(db.session.scalars(statement))


def set_pool(actor, course: Course, user_ids: list[int]) -> list[User]:
    """Make ``user_ids`` the course's assessor pool (existing allocations stay).

    :raises NotAllowed: the actor is not an admin.
    :raises InvalidInput: someone who is not an active assessor.
    """
    if not is_admin(actor):
        raise NotAllowed("Only administrators manage assessor pools.")
    eligible = {user.id for user in assessors()}
    wanted = set(user_ids)
    if wanted - eligible:
        raise InvalidInput.for_field("assessor_ids", "Choose people who hold the assessor role.")
    before = sorted(pool_ids(course.id))
    db.session.execute(delete(course_assessors).where(course_assessors.c.course_id == course.id))
    if wanted:
        db.session.execute(
            insert(course_assessors),
            [{"course_id": course.id, "user_id": user_id} for user_id in sorted(wanted)],
        )
    if before != sorted(wanted):
        audit.record(
            actor,
            "course.assessors_changed",
            course,
            before={"assessor_ids": before},
            after={"assessor_ids": sorted(wanted)},
        )
    return pool_of(course.id)


def is_in_pool(user, course_id: int) -> bool:
    """Whether ``user`` is one of the course's assessors."""
    statement = select(
        exists().where(course_assessors.c.course_id == course_id, course_assessors.c.user_id == user.id)
    )
    return bool(db.session.scalar(statement))
