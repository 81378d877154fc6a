"""Courses in the demo (seed-demo) and in the benchmark data set (generate)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil

import pytest
import sqlalchemy as sa

from lms import database
from lms.accounts.models import User
from lms.audit import AuditEntry
from lms.content import render_markdown
from lms.courses.catalogue import get_course_by_code, save_course
from lms.courses.cohorts import open_cohorts, save_cohort
from lms.courses.content import active_modules, knowledge_checks_for, retire_module, save_module
from lms.courses.enrolment import own_enrolment
from lms.courses.models import (
    CheckAttempt,
    Cohort,
    Course,
    CourseStatus,
    CreditRule,
    DeliveryFormat,
    Enrolment,
    EnrolmentStatus,
    KnowledgeCheck,
    Module,
    ModuleProgress,
    ModuleResource,
    Option,
    Question,
    cohort_facilitators,
    course_prerequisites,
)
from lms.courses.progress import completed_module_ids, summarise, unmet_requirements
from lms.courses.reports import completion_counts
from lms.demo import courses as demo
from lms.demo import generate as generator
from lms.demo import people
from lms.demo.course_files import CONTENT, ContentError, load_courses
from lms.demo.generate import SIZES, Step, generate
from lms.demo.seed import DEMO_PASSWORD, seed_demo
from lms.organisations.models import OrganisationKind
from tests.conftest import rolled_back

XS = SIZES["xs"]
#: Bigger than xs in courses and cohorts, so that prerequisites and optional modules appear.
XS4 = dataclasses.replace(
    XS, name="xs4", courses=4, modules_per_course=4, cohorts_per_course=2, enrolments=90, module_progress=200
)
COURSE_TABLES = (
    Course.__table__,
    CreditRule.__table__,
    course_prerequisites,
    Module.__table__,
    ModuleResource.__table__,
    KnowledgeCheck.__table__,
    Question.__table__,
    Option.__table__,
    Cohort.__table__,
    cohort_facilitators,
    Enrolment.__table__,
    ModuleProgress.__table__,
    CheckAttempt.__table__,
)


def table_counts(db) -> dict[str, int]:
    return {
        t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
    }


def by_email(db, email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


@pytest.fixture
def seeded(db):
    """The demo, seeded once."""
    report = seed_demo()
    db.session.flush()
    return report


def course(code: str) -> Course:
    return get_course_by_code(code)


# --- seed-demo -------------------------------------------------------------------------


def test_seeding_twice_creates_nothing_the_second_time(db, seeded):
    before = table_counts(db)

    again = seed_demo()
    db.session.flush()

    assert again.created == {}
    assert table_counts(db) == before  # audit entries included: nothing happened at all
    assert seeded.created["courses"] == 4
    assert seeded.created["cohorts"] == 2
    assert seeded.created["enrolments"] == before["enrolments"]
    assert seeded.created["users"] == len(people.DEMO_USERS) + len(demo.DEMO_STAFF)


def test_the_seed_command_reports_what_it_made(runner, db):
    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    assert "4 courses" in result.output and "2 cohorts" in result.output
    assert "Nothing new" in runner.invoke(args=["seed-demo"]).output


def test_reseeding_keeps_what_an_admin_changed(db, seeded):
    admin = by_email(db, people.DEMO_ADMIN)
    tip = course("IE-TIP")
    save_course(admin, tip, {"title": "Trauma-informed practice (2027 edition)", "is_self_enrol": False})
    first = active_modules([tip.id])[tip.id][0]
    save_module(admin, tip, first, {"content": "## Rewritten by an admin"})
    retire_module(admin, active_modules([tip.id])[tip.id][-1])
    mpact = course(demo.MPACT_CODE)
    cohort = db.session.scalars(sa.select(Cohort).where(Cohort.course_id == mpact.id)).first()
    save_cohort(admin, mpact, cohort, {"capacity": 30, "name": "Renamed run"})
    db.session.flush()
    before = table_counts(db)

    report = seed_demo()
    db.session.flush()

    assert report.created == {}
    assert table_counts(db) == before
    db.session.expire_all()
    assert tip.title == "Trauma-informed practice (2027 edition)" and not tip.is_self_enrol
    assert db.session.get(Module, first.id).content == "## Rewritten by an admin"
    assert len(active_modules([tip.id])[tip.id]) == len(demo.demo_course("IE-TIP").modules) - 1
    assert db.session.get(Cohort, cohort.id).capacity == 30


def test_reseeding_adds_only_what_is_missing(db, seeded):
    # As if an admin had removed the course (the database cascades to its modules).
    db.session.execute(sa.delete(Course).where(Course.code == "IE-FGC"))
    db.session.expire_all()

    report = seed_demo()
    db.session.flush()

    assert report.created == {
        "courses": 1,
        "modules": len(demo.demo_course("IE-FGC").modules),
        "knowledge checks": 2,
    }
    assert [c.code for c in course("IE-FGC").prerequisites] == ["IE-RP"]


def test_family_group_conferencing_requires_restorative_practice(db, seeded):
    fgc = course("IE-FGC")

    assert [c.code for c in fgc.prerequisites] == ["IE-RP"]
    assert fgc.provider.name == "Interface Enterprises"


def test_the_practitioner_programme_carries_six_credits_from_bath(db, seeded):
    mpact = course(demo.MPACT_CODE)
    rule = db.session.scalar(sa.select(CreditRule).where(CreditRule.course_id == mpact.id))

    assert mpact.title == "M-PACT practitioner training"
    assert mpact.provider.name == "Action on Addiction"
    assert mpact.delivery_format == DeliveryFormat.BLENDED and mpact.notional_hours == 60
    assert mpact.is_published and not mpact.is_self_enrol
    assert rule.credits == 6 and rule.level == "FHEQ level 6"
    assert rule.awarding_body.name == "University of Bath"
    assert rule.awarding_body.kind == OrganisationKind.AWARDING_BODY


def test_the_practitioner_programme_runs_in_two_cohorts_facilitated_by_the_assessor(db, seeded):
    mpact = course(demo.MPACT_CODE)
    cohorts = db.session.scalars(
        sa.select(Cohort).where(Cohort.course_id == mpact.id).order_by(Cohort.starts_on)
    )
    under_way, online = list(cohorts)
    today = database.today()

    assert under_way.starts_on < today < under_way.ends_on and under_way.location
    assert online.delivery_format == DeliveryFormat.ONLINE and not online.location
    # Within the week, so that the first scheduler run sends the demo trainee a reminder.
    assert today < online.starts_on <= today + dt.timedelta(days=7)
    assert online in open_cohorts(mpact)
    for cohort in (under_way, online):
        assert [u.email for u in cohort.facilitators] == [people.DEMO_ASSESSOR]
        assert cohort.capacity and cohort.seats_taken <= cohort.capacity
    assert under_way.seats_taken == len(demo.DEMO_STAFF)
    assert online.seats_taken == 1


def test_partner_courses_are_open_online_courses_with_knowledge_checks(db, seeded):
    for code in ("IE-TIP", "IE-RP", "IE-FGC"):
        partner = course(code)
        modules = active_modules([partner.id])[partner.id]
        checks = knowledge_checks_for([m.id for m in modules])

        assert partner.status == CourseStatus.PUBLISHED and partner.is_self_enrol, code
        assert partner.delivery_format == DeliveryFormat.ONLINE, code
        assert 3 <= len(modules) <= 5, code
        assert checks, code
        for check in checks.values():
            assert 3 <= len(check.questions) <= 5
            for question in check.questions:
                assert question.explanation
                assert sum(o.is_correct for o in question.options) == 1


def test_seeded_module_content_renders_as_markdown_without_raw_html(db, seeded):
    modules = db.session.scalars(sa.select(Module)).all()
    links = db.session.scalars(sa.select(ModuleResource.url)).all()

    assert len(modules) == sum(len(spec.modules) for spec in demo.demo_courses())
    for module in modules:
        html = str(render_markdown(module.content))
        assert "<" not in module.content, module.title
        assert "&lt;" not in html and "<h2>" in html, module.title
        assert "<ul>" in html or "<ol>" in html or "<table>" in html, module.title
        for href in re.findall(r'href="([^"]+)"', html):
            assert href.startswith("https://"), href
    assert links and all(url.startswith("https://") for url in links)


def test_the_demo_trainee_completed_restorative_practice_and_is_part_way_through_trauma(db, seeded):
    trainee = by_email(db, people.DEMO_TRAINEE)
    rp = own_enrolment(trainee, course("IE-RP"))
    tip = own_enrolment(trainee, course("IE-TIP"))
    tip_modules = active_modules([tip.course_id])[tip.course_id]

    assert rp.status == EnrolmentStatus.COMPLETED and rp.completed_at is not None
    assert unmet_requirements(rp) == []
    assert tip.status == EnrolmentStatus.ACTIVE
    assert completed_module_ids([tip.id])[tip.id] == {tip_modules[0].id}
    assert tip.last_module_id == tip_modules[1].id
    (summary,) = summarise([tip])
    assert summary.next_module == tip_modules[1] and 0 < summary.percent < 100
    assert own_enrolment(trainee, course("IE-FGC")) is None


def test_the_demo_trainee_has_a_place_on_the_programmes_next_run(db, seeded):
    trainee = by_email(db, people.DEMO_TRAINEE)
    manager = by_email(db, people.DEMO_MANAGER)
    enrolment = own_enrolment(trainee, course(demo.MPACT_CODE))
    assert enrolment.status == EnrolmentStatus.ACTIVE and enrolment.enrolled_by_id == manager.id
    assert (
        enrolment.cohort.starts_on > database.today()
        and completed_module_ids([enrolment.id])[enrolment.id] == set()
    )


def test_the_demo_trainee_can_enrol_on_family_group_conferencing(db, seeded, client):
    trainee = by_email(db, people.DEMO_TRAINEE)
    fgc = course("IE-FGC")
    client.post("/account/login", data={"email": trainee.email, "password": DEMO_PASSWORD})

    response = client.post(f"/courses/{fgc.id}/enrol")

    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert own_enrolment(trainee, fgc).status == EnrolmentStatus.ACTIVE


def test_the_org_managers_staff_are_on_the_programme_with_varied_progress(db, seeded):
    manager = by_email(db, people.DEMO_MANAGER)
    mpact = course(demo.MPACT_CODE)
    enrolments = db.session.scalars(
        sa.select(Enrolment)
        .join(Enrolment.cohort)
        .where(Enrolment.course_id == mpact.id, Cohort.starts_on < database.today())
        .order_by(Enrolment.id)
    ).all()
    done = completed_module_ids([e.id for e in enrolments])

    assert [e.user.email for e in enrolments] == [email for email, *_ in demo.DEMO_STAFF]
    modules = len(demo.demo_course(demo.MPACT_CODE).modules)
    for enrolment, (_email, _name, completed, _tip) in zip(enrolments, demo.DEMO_STAFF, strict=True):
        assert enrolment.user.organisation_id == manager.organisation_id
        assert enrolment.enrolled_by_id == manager.id
        # Only the one who finished every module can have completed: with the assignment passed
        # (see test_seed_assessments.py); the others are still on the programme.
        assert enrolment.status == (
            EnrolmentStatus.COMPLETED if completed == modules else EnrolmentStatus.ACTIVE
        )
        assert enrolment.cohort is not None and enrolment.cohort.location
        assert len(done[enrolment.id]) == completed
    assert len({len(ids) for ids in done.values()}) == len(enrolments)
    staff_audit = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "enrolment.created", AuditEntry.actor_id == manager.id)
    )
    assert staff_audit == len(enrolments) + 1  # and the demo trainee's place on the next run
    tip = course("IE-TIP")
    assert completion_counts(tip.id) == (
        sum(1 for *_, finished in demo.DEMO_STAFF if finished),
        sum(1 for *_, finished in demo.DEMO_STAFF if finished) + 1,
    )


# --- the content files ---------------------------------------------------------------


@pytest.fixture
def content(tmp_path):
    """A copy of lms/demo/content/ to edit."""
    shutil.copytree(CONTENT, tmp_path / "content")
    return tmp_path / "content"


def test_a_module_is_the_text_of_its_markdown_file(content):
    folder = content / "courses" / "ie-tip"
    path = folder / "01-why-trauma-informed-practice.md"
    path.write_text(path.read_text(encoding="utf-8").replace("complete picture", "whole picture"), "utf-8")

    (tip,) = [c for c in load_courses(content) if c.code == "IE-TIP"]

    assert tip.modules[0].content == path.read_text(encoding="utf-8")
    assert "whole picture" in tip.modules[0].content
    assert [m.content for m in tip.modules[1:]] == [m.content for m in demo.demo_course("IE-TIP").modules[1:]]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'answer = "10"',
            'answer = "11"',
            "module 1, knowledge_check, question 1: the answer '11' is not one of",
        ),
        ("estimated_minutes = 40", "estimated_minute = 40", "module 1: estimated_minutes is missing"),
        ("has_waiting_list = true", "has_waitinglist = true", "cohort 1: unknown has_waitinglist (a typo?)"),
        (
            'delivery_format = "blended"  #',
            'delivery_format = "hybrid"  #',
            "should be one of online, blended",
        ),
        ("01-m-pact-a-whole-family-approach.md", "01-gone.md", "mpact-pt/01-gone.md is missing"),
        ("notional_hours = 60", 'notional_hours = "60"', "notional_hours should be a whole number"),
        ('code = "MPACT-PT"', 'code = "MPACT-PT', "mpact-pt/course.toml: "),
    ],
)
def test_a_mistake_in_a_course_file_is_named(content, old, new, message):
    path = content / "courses" / "mpact-pt" / "course.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")

    with pytest.raises(ContentError, match=re.escape(message)):
        load_courses(content)


def test_a_course_folder_must_be_listed_after_the_courses_it_requires(content):
    (content / "courses" / "new-course").mkdir()
    with pytest.raises(ContentError, match="courses does not list new-course"):
        load_courses(content)

    (content / "courses" / "new-course").rmdir()
    index = content / "courses.toml"
    index.write_text(
        index.read_text(encoding="utf-8").replace(
            '"ie-rp", "ie-tip", "ie-fgc"', '"ie-fgc", "ie-rp", "ie-tip"'
        )
    )
    with pytest.raises(ContentError, match="ie-fgc requires IE-RP, which must come before it"):
        load_courses(content)


# --- generate --------------------------------------------------------------------------


def fingerprint(db) -> dict[str, list[tuple]]:
    """Every row of the courses area's tables."""
    rows = {}
    for table in COURSE_TABLES:
        query = sa.select(table).order_by(*table.primary_key.columns)
        rows[table.name] = [tuple(row) for row in db.session.execute(query)]
    return rows


def count(db, table) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(table))


def test_generate_xs_makes_the_counts_of_the_size_table(db):
    report = generate("xs", seed=2)

    assert count(db, Course) == XS.courses
    assert count(db, Module) == XS.modules
    assert count(db, Cohort) == XS.courses * XS.cohorts_per_course
    assert count(db, Enrolment) == XS.enrolments
    assert count(db, ModuleProgress) == XS.module_progress
    assert count(db, CreditRule) >= 1 and count(db, KnowledgeCheck) >= 1
    assert {"courses", "cohorts", "enrolments", "progress"} <= set(report.step_seconds)


def seats_by_cohort(db) -> dict[int, int]:
    return dict(
        db.session.execute(
            sa.select(Enrolment.cohort_id, sa.func.count())
            .where(Enrolment.status.in_([EnrolmentStatus.ACTIVE, EnrolmentStatus.COMPLETED]))
            .group_by(Enrolment.cohort_id)
        ).all()
    )


@pytest.mark.parametrize("size", [XS, XS4], ids=lambda s: s.name)
def test_generated_courses_keep_every_rule(db, size):
    generate(size, seed=4)
    now = generator.ANCHOR

    # Cohorts: places match the enrolments that hold them, and nobody is over capacity.
    seats = seats_by_cohort(db)
    for cohort in db.session.scalars(sa.select(Cohort)):
        assert cohort.seats_taken == seats.get(cohort.id, 0)
        assert cohort.capacity is None or cohort.capacity >= cohort.seats_taken >= 0
        assert cohort.facilitators
    # Enrolments: one per trainee and course, statuses mixed, timestamps that fit the status.
    enrolments = db.session.scalars(sa.select(Enrolment).order_by(Enrolment.id)).all()
    assert len({(e.user_id, e.course_id) for e in enrolments}) == len(enrolments) == size.enrolments
    statuses = {s: sum(e.status == s for e in enrolments) for s in EnrolmentStatus}
    assert statuses[EnrolmentStatus.ACTIVE] > statuses[EnrolmentStatus.COMPLETED] > 0
    assert statuses[EnrolmentStatus.WITHDRAWN] > 0
    for e in enrolments:
        assert (e.completed_at is not None) == (e.status == EnrolmentStatus.COMPLETED)
        assert (e.withdrawn_at is not None) == (e.status == EnrolmentStatus.WITHDRAWN)
        assert e.enrolled_at <= (e.completed_at or e.withdrawn_at or now) <= now
        assert e.cohort is not None and e.cohort.course_id == e.course_id
    # Progress: one row per enrolment and module; completion agrees with the services.
    progress = db.session.execute(sa.select(ModuleProgress)).scalars().all()
    assert len({(p.enrolment_id, p.module_id) for p in progress}) == len(progress) == size.module_progress
    for summary in summarise(enrolments):
        e = summary.enrolment
        required = {m.id for m in summary.required}
        if e.status == EnrolmentStatus.COMPLETED:
            assert required <= summary.done
        else:
            assert not required <= summary.done
        opened = {p.module_id: p for p in progress if p.enrolment_id == e.id}
        assert (e.last_module_id is None) == (not opened)
        assert e.last_module_id is None or e.last_module_id in opened
        for row in opened.values():
            assert e.enrolled_at <= row.opened_at <= (row.completed_at or row.opened_at) <= now
    # Modules completed by a knowledge check have a passing attempt.
    passed = set(
        db.session.execute(
            sa.select(CheckAttempt.enrolment_id, KnowledgeCheck.module_id)
            .join(KnowledgeCheck, KnowledgeCheck.id == CheckAttempt.check_id)
            .where(CheckAttempt.is_passed)
        ).all()
    )
    checked = set(db.session.scalars(sa.select(KnowledgeCheck.module_id)))
    for row in progress:
        if row.module_id in checked and row.completed_at is not None:
            assert (row.enrolment_id, row.module_id) in passed
    # Prerequisites point backwards, and were completed before the enrolment that needs them.
    edges = db.session.execute(sa.select(course_prerequisites)).all()
    assert all(required < course_id for course_id, required in edges)
    completed = {(e.user_id, e.course_id): e.completed_at for e in enrolments if e.completed_at}
    for e in enrolments:
        for course_id, required in edges:
            if course_id == e.course_id:
                assert completed[(e.user_id, required)] < e.enrolled_at
    if size is XS4:
        assert edges
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Module).where(~Module.is_required))


def test_generated_ids_are_recorded_for_the_later_steps(db, monkeypatch):
    seen = {}
    core_steps = generator.steps()
    monkeypatch.setattr(
        generator, "steps", lambda: (*core_steps, Step("peek", lambda ctx: seen.update(ctx.ids)))
    )

    generate("xs", seed=6)

    assert len(seen["courses.course"]) == XS.courses and seen["courses.credited"]
    assert len(seen["enrolments.enrolment"]) == XS.enrolments
    completed = set(seen["enrolments.completed"])
    assert len(seen["enrolments.completed.credited"]) >= XS.credit_awards
    assert set(seen["enrolments.completed.credited"]) <= completed & set(seen["enrolments.credited"])
    credited_courses = set(
        db.session.scalars(
            sa.select(Enrolment.course_id).where(Enrolment.id.in_(seen["enrolments.credited"]))
        )
    )
    assert credited_courses == set(seen["courses.credited"])
    assert count(db, CreditRule) == len(seen["courses.credited"])


def test_same_seed_gives_the_same_courses_and_another_seed_does_not(db):
    runs = []
    for seed in (7, 7, 8):
        with rolled_back(db):
            generate("xs", seed=seed)
            runs.append(fingerprint(db))

    assert runs[0] == runs[1]
    assert runs[0]["enrolments"] != runs[2]["enrolments"]
    assert runs[0]["module_progress"] != runs[2]["module_progress"]


def test_a_size_whose_progress_cannot_fit_is_refused_clearly(db):
    # Completed enrolments need a row for every required module: one row in all cannot do.
    too_few = dataclasses.replace(XS, name="bad", module_progress=1)

    with rolled_back(db), pytest.raises(ValueError, match="progress rows do not fit"):
        generate(too_few, seed=1)
