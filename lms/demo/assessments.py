"""seed-demo's assignments: the practitioner programme's case study, its rubric, and work in every state.

``seed(report)`` reads ``lms/demo/content/assessments/*.toml`` and, for each assignment whose
course exists, creates what is missing through the assessments services, as the people would:
the admin creates the assignment, its rubric and the course's assessor pool; trainees write and
submit; assessors mark and moderate; the admin releases, and a released pass that was the last
requirement completes the course. An assignment is matched by its title on its course and a
trainee's work by their having any attempt at it, so nothing an admin, a trainee or an assessor
changed is overwritten. The words live in the content files; the rules of seeding live here.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from lms.accounts.models import User
from lms.assessments.allocation import allocate
from lms.assessments.assignments import current_version, pool_ids, save_assignment, save_scheme, set_pool
from lms.assessments.marking import release, save_mark
from lms.assessments.models import Assignment, MarkingState, ModerationDecision, SchemeVersion
from lms.assessments.moderation import assign_moderator, moderate
from lms.assessments.submissions import attempts_of, current_enrolment, open_draft, save_draft, submit
from lms.courses.catalogue import get_course_by_code
from lms.courses.completion import hooks
from lms.courses.models import Course, EnrolmentStatus
from lms.database import today
from lms.demo.course_files import CONTENT, ContentError, _Fields, _read_toml, _shown
from lms.demo.people import DEMO_ADMIN
from lms.errors import DomainError
from lms.extensions import db

#: Where the demo assignments live: one TOML file each, with their texts in Markdown beside it.
ASSESSMENTS = CONTENT / "assessments"


@dataclass(frozen=True)
class DemoWork:
    """One trainee's work on a demo assignment, and how far its marking goes."""

    trainee: str
    #: The submitted text (Markdown).
    text: str
    marker: str
    #: The points of the level chosen for each criterion, in order; empty: not marked yet.
    levels: tuple[int, ...] = ()
    feedback: str = ""
    #: Who moderates the mark if it is drawn into the sample.
    moderator: str | None = None
    #: With notes the moderator agrees; without, the mark waits in moderation.
    moderation_notes: str = ""
    is_released: bool = False
    #: Added to a copy of this attempt as the draft of the next one (after a released referral).
    resubmission_adds: str = ""


@dataclass(frozen=True)
class DemoAssignment:
    """A demo assignment as its file describes it; dates count in days from the day of seeding."""

    course: str
    title: str
    brief: str
    opens_in_days: int | None
    due_in_days: int
    cutoff_in_days: int | None
    word_limit: int | None
    file_types: tuple[str, ...]
    max_files: int
    max_attempts: int
    is_required: bool
    is_blind: bool
    is_moderated: bool
    moderation_share: int
    marking_days: int
    #: Emails of the course's assessor pool, set with the assignment.
    assessors: tuple[str, ...]
    #: The rubric as ``save_scheme`` takes it.
    rubric: dict
    work: tuple[DemoWork, ...] = ()

    def data(self, day: dt.date) -> dict:
        """The assignment's fields for ``save_assignment``, for seeding on ``day``."""

        def at(days: int | None, hour: int) -> dt.datetime | None:
            if days is None:
                return None
            return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour), tzinfo=dt.UTC)

        return {
            "title": self.title,
            "brief": self.brief,
            "accepts_text": True,
            "word_limit": self.word_limit,
            "accepts_files": bool(self.file_types),
            "file_types": list(self.file_types),
            "max_files": self.max_files,
            "opens_at": at(self.opens_in_days, 9),
            "due_at": at(self.due_in_days, 17),
            "cutoff_at": at(self.cutoff_in_days, 17),
            "max_attempts": self.max_attempts,
            "is_required": self.is_required,
            "is_blind": self.is_blind,
            "is_moderated": self.is_moderated,
            "moderation_share": self.moderation_share,
            "marking_days": self.marking_days,
        }


# --- the content files -------------------------------------------------------------------------


def load_assignments(folder: Path = ASSESSMENTS) -> tuple[DemoAssignment, ...]:
    """Every demo assignment: one per ``*.toml`` file of ``folder``, by file name.

    :raises ContentError: a file is missing or malformed, or its work does not fit its rubric.
    """
    return tuple(load_assignment(path) for path in sorted(folder.glob("*.toml")))


@functools.cache
def demo_assignments() -> tuple[DemoAssignment, ...]:
    """The demo assignments, read from ``lms/demo/content/assessments/`` once."""
    return load_assignments()


def _markdown(fields: _Fields, key: str, folder: Path, default=None) -> str:
    """The text of the Markdown file that ``key`` names, relative to ``folder``."""
    name = fields.take(key, str, default)
    if name is None:
        return ""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()) or path.suffix != ".md":
        raise ContentError(
            f"{fields.where}: {key} should name a .md file under {_shown(folder)}, not {name!r}"
        )
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError(f"{fields.where}: {_shown(path)} is missing") from None


def load_assignment(path: Path) -> DemoAssignment:
    """The assignment of one file and the texts it names.

    :raises ContentError:
    """
    fields = _read_toml(path)
    folder = path.parent
    spec = {
        "course": fields.take("course", str),
        "title": fields.take("title", str),
        "brief": _markdown(fields, "brief", folder),
        "opens_in_days": fields.take("opens_in_days", int, None),
        "due_in_days": fields.take("due_in_days", int),
        "cutoff_in_days": fields.take("cutoff_in_days", int, None),
        "word_limit": fields.take("word_limit", int, None),
        "file_types": fields.texts("file_types", []),
        "max_files": fields.take("max_files", int, 1),
        "max_attempts": fields.take("max_attempts", int),
        "is_required": fields.take("required", bool, True),
        "is_blind": fields.take("blind", bool),
        "is_moderated": fields.take("moderated", bool),
        "moderation_share": fields.take("moderation_share", int, 20),
        "marking_days": fields.take("marking_days", int, 14),
        "assessors": fields.texts("assessors"),
        "rubric": _rubric(fields),
    }
    spec["work"] = tuple(_work(table, folder, spec) for table in fields.tables("work"))
    fields.done()
    return DemoAssignment(**spec)


def _rubric(fields: _Fields) -> dict:
    rubric = _Fields(fields.take("rubric", dict), f"{fields.where}, rubric")
    criteria = []
    for criterion in rubric.tables("criteria"):
        levels = []
        for level in criterion.tables("levels"):
            levels.append({"points": level.take("points", int), "descriptor": level.take("descriptor", str)})
            level.done()
        if len({lv["points"] for lv in levels}) != len(levels) or len(levels) < 2:
            raise ContentError(f"{criterion.where}: give at least two levels, each with different points")
        criteria.append(
            {
                "title": criterion.take("title", str),
                "description": criterion.take("description", str, ""),
                "levels": levels,
            }
        )
        criterion.done()
    if not criteria:
        raise ContentError(f"{rubric.where}: a rubric needs [[rubric.criteria]]")
    scheme = {"kind": "rubric", "pass_mark": rubric.take("pass_mark", int), "criteria": criteria}
    rubric.done()
    return scheme


def _work(fields: _Fields, folder: Path, spec: dict) -> DemoWork:
    work = DemoWork(
        trainee=fields.take("trainee", str),
        text=_markdown(fields, "text", folder),
        marker=fields.take("marker", str),
        levels=tuple(fields.take("levels", list, [])),
        feedback=fields.take("feedback", str, "").strip(),
        moderator=fields.take("moderator", str, None),
        moderation_notes=fields.take("moderation_notes", str, "").strip(),
        is_released=fields.take("release", bool, False),
        resubmission_adds=_markdown(fields, "resubmission_adds", folder),
    )
    fields.done()
    for person in (work.marker, work.moderator):
        if person is not None and person not in spec["assessors"]:
            raise ContentError(f"{fields.where}: {person} is not one of the assessors")
    criteria = spec["rubric"]["criteria"]
    if work.levels:
        if len(work.levels) != len(criteria):
            raise ContentError(
                f"{fields.where}: levels should give {len(criteria)} points, one per criterion"
            )
        for points, criterion in zip(work.levels, criteria, strict=True):
            if points not in {lv["points"] for lv in criterion["levels"]}:
                raise ContentError(
                    f"{fields.where}: {points!r} is not the points of a level of “{criterion['title']}”"
                )
    elif work.moderation_notes or work.is_released or work.feedback:
        raise ContentError(f"{fields.where}: feedback, moderation and release need the levels of a mark")
    if work.resubmission_adds and not work.is_released:
        raise ContentError(f"{fields.where}: a resubmission follows a released mark (release = true)")
    return work


# --- seeding -----------------------------------------------------------------------------------


@contextmanager
def assignments_expected() -> Iterator[None]:
    """While seed-demo runs, count each demo assignment as unmet on its course until it is created.

    The courses seeder takes the demo people through their modules before this seeder can add
    an assignment (the course must exist first); without this, a trainee who finished every
    module would complete a course whose required assignment is still to come.
    """
    requirements = hooks().requirements
    requirements.append(_unmet_until_created)
    try:
        yield
    finally:
        requirements.remove(_unmet_until_created)


def _unmet_until_created(enrolments: list) -> dict[int, list[str]]:
    """For enrolments on a demo assignment's course, that assignment while it does not exist yet."""
    unmet: dict[int, list[str]] = {e.id: [] for e in enrolments}
    titles: dict[str, list[str]] = {}
    for spec in demo_assignments():
        if spec.is_required:
            titles.setdefault(spec.course, []).append(spec.title)
    course_ids = {e.course_id for e in enrolments}
    codes = dict(
        db.session.execute(
            select(Course.id, Course.code).where(Course.id.in_(course_ids), Course.code.in_(list(titles)))
        ).all()
    )
    if not codes:
        return unmet
    existing = set(
        db.session.execute(
            select(Assignment.course_id, Assignment.title).where(Assignment.course_id.in_(list(codes)))
        ).all()
    )
    for enrolment in enrolments:
        for title in titles.get(codes.get(enrolment.course_id), []):
            if (enrolment.course_id, title) not in existing:
                unmet[enrolment.id].append(f"Pass the assignment “{title}”.")
    return unmet


def seed(report) -> None:
    """Create the demo assignments, their rubrics and pools, and the demo people's work that are missing."""
    people = {u.email: u for u in db.session.scalars(select(User).where(User.email.like("%@example.org")))}
    admin = people.get(DEMO_ADMIN)
    if admin is None:
        return  # assignments, pools, allocation and release are an admin's
    for spec in demo_assignments():
        course = get_course_by_code(spec.course)
        if course is None:
            continue
        assignment = db.session.scalar(
            select(Assignment).where(Assignment.course_id == course.id, Assignment.title == spec.title)
        )
        if assignment is None:
            # The rubric and pool come with a new assignment only: existing ones are the admins'.
            assignment = _create_assignment(report, admin, course, spec, people)
        for work in spec.work:
            _hand_in(report, admin, assignment, work, people)
    db.session.flush()


def _create_assignment(report, admin: User, course: Course, spec: DemoAssignment, people) -> Assignment:
    """The assignment with its rubric; the demo assessors join the course's pool."""
    assignment = save_assignment(admin, course, None, spec.data(today()))
    save_scheme(admin, assignment, spec.rubric)
    wanted = pool_ids(course.id) | {people[email].id for email in spec.assessors if email in people}
    set_pool(admin, course, sorted(wanted))
    report.add("assignments")
    return assignment


def _levels_for(version: SchemeVersion, points: tuple[int, ...]) -> dict[int, int] | None:
    """``{criterion id: level id}`` choosing the level with these points; ``None`` if the rubric differs."""
    if len(version.criteria) != len(points):
        return None
    chosen = {}
    for criterion, wanted in zip(version.criteria, points, strict=True):
        level = next((lv for lv in criterion.levels if lv.points == wanted), None)
        if level is None:
            return None
        chosen[criterion.id] = level.id
    return chosen


def _hand_in(report, admin: User, assignment: Assignment, work: DemoWork, people: dict[str, User]) -> None:
    """One trainee's work, unless they have an attempt already; anything the services refuse is skipped."""
    trainee, marker = people.get(work.trainee), people.get(work.marker)
    if trainee is None or marker is None or attempts_of(trainee.id, assignment):
        return
    if current_enrolment(trainee, assignment) is None:
        return
    levels = _levels_for(current_version(assignment), work.levels) if work.levels else {}
    if levels is None:
        return  # an admin changed the rubric: the demo's marks no longer fit it
    try:
        with db.session.begin_nested():
            made = _work_through(admin, assignment, work, trainee, marker, levels, people)
    except DomainError:
        return
    for what, count in made.items():
        report.add(what, count)


def _work_through(
    admin: User,
    assignment: Assignment,
    work: DemoWork,
    trainee: User,
    marker: User,
    levels: dict[int, int],
    people: dict[str, User],
) -> Counter:
    """Write, submit, allocate, mark, moderate, release and resubmit as far as ``work`` says."""
    made: Counter = Counter()
    submission = open_draft(trainee, assignment)
    save_draft(trainee, submission, work.text, submission.draft_revision)
    submit(trainee, submission, True)
    made["submissions"] += 1
    if submission.marker_id != marker.id:
        allocate(admin, [submission], marker)
    if not levels:
        return made
    mark = save_mark(
        marker, submission, {"levels": levels}, expected_version=None, is_final=True, feedback=work.feedback
    )
    made["marks"] += 1
    if submission.state == MarkingState.IN_MODERATION:
        moderator = people.get(work.moderator or "")
        if moderator is not None and moderator.id not in (submission.moderator_id, marker.id):
            assign_moderator(admin, submission, moderator)
        if work.moderation_notes and submission.moderator_id is not None:
            moderate(
                db.session.get(User, submission.moderator_id),
                submission,
                ModerationDecision.AGREED,
                expected_version=mark.version,
                notes=work.moderation_notes,
            )
            made["moderations"] += 1
    if not (work.is_released and submission.state.is_releasable):
        return made
    release(admin, [submission])
    made["marks released"] += 1
    enrolment = current_enrolment(trainee, assignment)
    if enrolment is not None and enrolment.status == EnrolmentStatus.COMPLETED:
        made["courses completed"] += 1
    if work.resubmission_adds:
        attempt = open_draft(trainee, assignment)
        text = f"{attempt.text.rstrip()}\n\n{work.resubmission_adds}"
        save_draft(trainee, attempt, text, attempt.draft_revision)
        made["resubmissions started"] += 1
    return made
