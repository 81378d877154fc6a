"""seed-demo's courses: the courses of ``lms/demo/content/``, their cohorts, and the demo people's learning.

``seed(report)`` creates the accredited M-PACT practitioner programme and Interface's three
partner courses for Pact, with cohorts, enrolments and progress, through the course services
so that their rules and audit hold. It matches courses by code and people by email and
only creates what is missing, so it never overwrites an admin's edits. The courses' text
lives in files (see :mod:`lms.demo.course_files`); the rules of seeding live here.
"""

from __future__ import annotations

import functools

from sqlalchemy import select

from lms.accounts.models import User
from lms.courses.catalogue import get_course_by_code, save_course
from lms.courses.cohorts import save_cohort
from lms.courses.content import (
    active_modules,
    knowledge_checks_for,
    save_knowledge_check,
    save_module,
    save_resource,
)
from lms.courses.enrolment import enrol, own_enrolment
from lms.courses.models import Cohort, Course, CourseStatus, EnrolmentStatus
from lms.courses.progress import complete_module, open_module, submit_knowledge_check
from lms.database import today
from lms.demo.course_files import DemoCourse, load_courses
from lms.demo.people import DEMO_ADMIN, DEMO_MANAGER, DEMO_TRAINEE, create_staff
from lms.errors import DomainError
from lms.extensions import db
from lms.organisations.models import Organisation

#: The courses the demo people's learning is about.
MPACT_CODE = "MPACT-PT"
RP_CODE = "IE-RP"
TIP_CODE = "IE-TIP"


@functools.cache
def demo_courses() -> tuple[DemoCourse, ...]:
    """Every demo course, read from ``lms/demo/content/`` once, in the order they are created."""
    return load_courses()


def demo_course(code: str) -> DemoCourse:
    """The demo course with this code."""
    return next(spec for spec in demo_courses() if spec.code == code)


#: Staff of the demo org manager's organisation on the practitioner programme:
#: ``(email, name, modules completed on M-PACT, completed Trauma Informed Practice)``.
#: Nobody completes M-PACT here: its completion also needs the assignment. Aoife Brennan has done
#: every module, so the pass that seed-demo's assessments seeder releases completes her programme.
DEMO_STAFF = (
    ("aoife.brennan@example.org", "Aoife Brennan", 7, True),
    ("declan.murray@example.org", "Declan Murray", 4, True),
    ("niamh.kelly@example.org", "Niamh Kelly", 2, False),
    ("ciaran.doyle@example.org", "Ciarán Doyle", 0, False),
)


def seed(report) -> None:
    """Create the demo courses, cohorts, staff, enrolments and progress that are missing."""
    people = {u.email: u for u in db.session.scalars(select(User).where(User.email.like("%@example.org")))}
    admin = people.get(DEMO_ADMIN)
    organisations = {o.name: o for o in db.session.scalars(select(Organisation))}
    courses: dict[str, Course | None] = {}
    for spec in demo_courses():
        course = get_course_by_code(spec.code)
        if course is None:
            # Cohorts come with a new course only: an existing one is the admins' to change.
            course = _create_course(report, admin, spec, organisations)
            if course is not None:
                _create_cohorts(report, admin, course, spec, people)
        courses[spec.code] = course
    db.session.flush()
    _seed_learning(report, admin, people, courses)


def _create_course(report, admin, spec: DemoCourse, organisations: dict[str, Organisation]) -> Course | None:
    """A demo course with its modules, knowledge checks and links; ``None`` if its provider is gone."""
    provider = organisations.get(spec.provider)
    if provider is None:
        return None
    data = {
        "code": spec.code,
        "title": spec.title,
        "summary": spec.summary,
        "provider_id": provider.id,
        "delivery_format": spec.delivery_format,
        "notional_hours": spec.notional_hours,
        "audience": spec.audience,
        "status": CourseStatus.PUBLISHED,
        "is_self_enrol": spec.is_self_enrol,
    }
    required = [get_course_by_code(code) for code in spec.prerequisites]
    if required and all(required):
        data["prerequisite_ids"] = [c.id for c in required]
    if spec.credits and spec.credits.awarding_body in organisations:
        data["credits"] = {
            "awarding_body_id": organisations[spec.credits.awarding_body].id,
            "credits": spec.credits.credits,
            "level": spec.credits.level,
        }
    course = save_course(admin, None, data)
    report.add("courses")
    for module_spec in spec.modules:
        module = save_module(
            admin,
            course,
            None,
            {
                "title": module_spec.title,
                "content": module_spec.content,
                "estimated_minutes": module_spec.minutes,
                "is_required": module_spec.is_required,
            },
        )
        report.add("modules")
        for title, url in module_spec.resources:
            save_resource(module, title=title, url=url)
        if module_spec.questions:
            save_knowledge_check(admin, module, module_spec.pass_mark, list(module_spec.questions))
            report.add("knowledge checks")
    return course


def _create_cohorts(report, admin, course: Course, spec: DemoCourse, people: dict[str, User]) -> None:
    """The runs of a new demo course (the practitioner programme: one under way, one online later)."""
    day = today()
    for cohort in spec.cohorts:
        facilitators = [people[email].id for email in cohort.facilitators if email in people]
        save_cohort(admin, course, None, cohort.data(day), facilitator_ids=facilitators)
        report.add("cohorts")


def _seed_learning(report, admin, people: dict[str, User], courses: dict[str, Course | None]) -> None:
    """The demo trainee's and the org manager's staff's enrolments and progress."""
    trainee = people.get(DEMO_TRAINEE)
    rp, tip, mpact = courses.get(RP_CODE), courses.get(TIP_CODE), courses.get(MPACT_CODE)
    if trainee is not None:
        # Restorative Practice completed, so that Family Group Conferencing is open to the trainee.
        _study_course(report, trainee, trainee, rp, completed=None)
        _study_course(report, trainee, trainee, tip, completed=1, open_next=True)

    manager = people.get(DEMO_MANAGER)
    if manager is None or manager.organisation_id is None:
        return
    under_way, *later = _cohorts(mpact)
    for email, name, done, finished_tip in DEMO_STAFF:
        person = people.get(email) or create_staff(report, admin, email, name, manager.organisation_id)
        _study_course(report, manager, person, mpact, cohort=under_way, completed=done, open_next=done > 0)
        if finished_tip:
            _study_course(report, person, person, tip, completed=None)
    if trainee is not None and trainee.organisation_id == manager.organisation_id and later:
        # The trainee's manager gave them a place on the programme's next run, which starts
        # within the week: the cohort reminder is due as soon as a scheduler runs.
        _study_course(report, manager, trainee, mpact, cohort=later[0], completed=0)


def _cohorts(course: Course | None) -> list[Cohort | None]:
    """The course's cohorts, earliest first (``[None]`` for no course or no cohorts)."""
    if course is None:
        return [None]
    statement = select(Cohort).where(Cohort.course_id == course.id).order_by(Cohort.starts_on, Cohort.id)
    return list(db.session.scalars(statement)) or [None]


def _study_course(
    report,
    actor,
    trainee: User,
    course: Course | None,
    *,
    cohort: Cohort | None = None,
    completed: int | None,
    open_next: bool = False,
) -> None:
    """Enrol ``trainee`` (unless enrolled already) and work through modules as they would.

    ``completed`` modules are opened and completed in order (``None``: every required one),
    knowledge checks by answering them correctly; ``open_next`` then opens the next module.
    Anything the services refuse (an admin unpublished the course, say) is skipped.
    """
    if course is None or own_enrolment(trainee, course) is not None:
        return
    done = 0
    try:
        with db.session.begin_nested():
            enrolment = enrol(actor, trainee, course, cohort)
            modules = active_modules([course.id])[course.id]
            todo = [m for m in modules if m.is_required] if completed is None else modules[:completed]
            checks = knowledge_checks_for([m.id for m in modules])
            for module in todo:
                open_module(trainee, enrolment, module)
                check = checks.get(module.id)
                if check is None:
                    complete_module(trainee, enrolment, module)
                else:
                    answers = {q.id: next(o.id for o in q.options if o.is_correct) for q in check.questions}
                    submit_knowledge_check(trainee, enrolment, module, answers)
                done += 1
            following = [m for m in modules if m not in todo]
            if open_next and following:
                open_module(trainee, enrolment, following[0])
    except DomainError:
        return
    report.add("enrolments")
    if done:
        report.add("modules completed", done)
    if enrolment.status == EnrolmentStatus.COMPLETED:
        report.add("courses completed")
