"""Course rules, tested through the services without a client."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lms.courses import catalogue, cohorts, content, progress, reports
from lms.courses import enrolment as enrolling
from lms.courses.completion import add_completion_listener, add_requirement, hooks
from lms.courses.models import CourseStatus, Enrolment, EnrolmentStatus, ModuleProgress
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db as _db
from lms.permissions import Role


@pytest.fixture
def admin(make_user):
    return make_user(Role.ADMIN)


def _modules(course):
    return content.active_modules([course.id])[course.id]


def _finish(trainee, enrolment):
    for module in _modules(enrolment.course):
        progress.open_module(trainee, enrolment, module)
        progress.complete_module(trainee, enrolment, module)


class TestCatalogue:
    def test_trainees_see_published_only(self, make_user, make_course, admin):
        trainee = make_user()
        published = make_course()
        draft = make_course(status=CourseStatus.DRAFT)
        archived = make_course(status=CourseStatus.ARCHIVED)
        seen = set(_db.session.scalars(catalogue.catalogue_query(trainee)))
        assert published in seen and draft not in seen and archived not in seen
        with pytest.raises(NotFound):
            catalogue.get_course(trainee, draft.id)
        assert catalogue.get_course(admin, draft.id) is draft

    def test_filter_by_credits_provider_and_format(self, make_user, make_course, make_organisation, admin):
        from lms.courses.models import DeliveryFormat
        from lms.organisations.models import OrganisationKind

        university = make_organisation(kind=OrganisationKind.AWARDING_BODY)
        credited = make_course(delivery_format=DeliveryFormat.BLENDED)
        catalogue.save_course(admin, credited, {"credits": {"awarding_body_id": university.id, "credits": 6}})
        plain = make_course()
        trainee = make_user()

        def find(**filters):
            return set(
                _db.session.scalars(catalogue.catalogue_query(trainee, catalogue.CatalogueFilter(**filters)))
            )

        assert credited in find(has_credits=True) and plain not in find(has_credits=True)
        assert plain in find(has_credits=False) and credited not in find(has_credits=False)
        assert find(provider_id=plain.provider_id) == {plain}
        assert credited in find(delivery_format=DeliveryFormat.BLENDED) and plain not in find(
            delivery_format=DeliveryFormat.BLENDED
        )
        assert credited.credit_rule.credits == 6

    def test_credit_rule_needs_an_awarding_body(self, make_course, make_organisation, admin):
        course = make_course()
        with pytest.raises(InvalidInput) as error:
            catalogue.save_course(
                admin, course, {"credits": {"awarding_body_id": make_organisation().id, "credits": 6}}
            )
        assert "awarding_body_id" in error.value.fields

    def test_codes_are_unique_case_insensitively(self, make_course, admin):
        make_course(code="RP101")
        with pytest.raises(InvalidInput) as error:
            catalogue.save_course(
                admin, None, {"code": "rp101", "title": "x", "provider_id": 1, "delivery_format": "online"}
            )
        assert "code" in error.value.fields


class TestPrerequisites:
    def test_cycles_are_refused_and_named(self, make_course, admin):
        rp = make_course(code="RP")
        fgc = make_course(code="FGC", prerequisites=[rp])
        extra = make_course(code="EXTRA", prerequisites=[fgc])
        with pytest.raises(InvalidInput) as error:
            catalogue.save_course(admin, rp, {"prerequisite_ids": [extra.id]})
        assert "RP → EXTRA → FGC → RP" in error.value.fields["prerequisite_ids"][0]
        _db.session.expire_all()
        assert rp.prerequisites == []

    def test_self_prerequisite_refused(self, make_course, admin):
        course = make_course()
        with pytest.raises(InvalidInput):
            catalogue.save_course(admin, course, {"prerequisite_ids": [course.id]})

    def test_enrolment_refused_until_prerequisite_completed(self, make_user, make_course, make_enrolment):
        rp = make_course(code="RP", title="Restorative Practice")
        fgc = make_course(code="FGC", title="Family Group Conferencing", prerequisites=[rp])
        trainee = make_user()
        with pytest.raises(InvalidInput) as error:
            enrolling.enrol(trainee, trainee, fgc)
        assert "Restorative Practice (RP)" in error.value.fields["course_id"][0]
        enrolment = enrolling.enrol(trainee, trainee, rp)
        _finish(trainee, enrolment)
        assert enrolling.enrol(trainee, trainee, fgc).status == EnrolmentStatus.ACTIVE


class TestEnrolment:
    def test_duplicate_enrolment_refused(self, make_user, make_course):
        trainee = make_user()
        course = make_course()
        enrolling.enrol(trainee, trainee, course)
        with pytest.raises(Conflict, match="already enrolled"):
            enrolling.enrol(trainee, trainee, course)

    def test_self_enrolment_closed(self, make_user, make_course):
        trainee = make_user()
        with pytest.raises(NotAllowed):
            enrolling.enrol(trainee, trainee, make_course(is_self_enrol=False))

    def test_draft_course_invisible_to_self_enrolment(self, make_user, make_course):
        trainee = make_user()
        with pytest.raises(NotFound):
            enrolling.enrol(trainee, trainee, make_course(status=CourseStatus.DRAFT))

    def test_trainee_cannot_enrol_someone_else(self, make_user, make_course):
        with pytest.raises(NotAllowed):
            enrolling.enrol(make_user(), make_user(), make_course())

    def test_org_manager_enrols_own_staff_only(self, make_user, make_course, make_organisation):
        mine, theirs = make_organisation(), make_organisation()
        manager = make_user(Role.ORG_MANAGER, organisation=mine)
        course = make_course(is_self_enrol=False)
        assert enrolling.enrol(manager, make_user(organisation=mine), course).status == EnrolmentStatus.ACTIVE
        with pytest.raises(NotAllowed):
            enrolling.enrol(manager, make_user(organisation=theirs), course)

    def test_course_with_cohorts_needs_one_chosen(self, make_user, make_course, make_cohort):
        course = make_course()
        make_cohort(course)
        trainee = make_user()
        with pytest.raises(InvalidInput) as error:
            enrolling.enrol(trainee, trainee, course)
        assert "cohort_id" in error.value.fields

    def test_closed_cohort_refused(self, make_user, make_course, make_cohort):
        course = make_course()
        cohort = make_cohort(course, enrolment_closes_on=dt.date.today() - dt.timedelta(days=1))
        trainee = make_user()
        with pytest.raises(InvalidInput, match="not open"):
            enrolling.enrol(trainee, trainee, course, cohort)

    def test_full_cohort_waitlists_then_promotes_on_withdrawal(self, make_user, make_course, make_cohort):
        course = make_course()
        cohort = make_cohort(course, capacity=1)
        first, second = make_user(), make_user()
        taken = enrolling.enrol(first, first, course, cohort)
        waiting = enrolling.enrol(second, second, course, cohort)
        assert (taken.status, waiting.status) == (EnrolmentStatus.ACTIVE, EnrolmentStatus.WAITLISTED)
        assert cohort.seats_taken == 1
        enrolling.withdraw(first, taken)
        assert waiting.status == EnrolmentStatus.ACTIVE
        assert cohort.seats_taken == 1

    def test_full_cohort_without_waiting_list_refused(self, make_user, make_course, make_cohort):
        course = make_course()
        cohort = make_cohort(course, capacity=1, has_waiting_list=False)
        first, second = make_user(), make_user()
        enrolling.enrol(first, first, course, cohort)
        with pytest.raises(Conflict, match="full"):
            enrolling.enrol(second, second, course, cohort)
        assert cohort.seats_taken == 1

    def test_withdrawal_keeps_history_and_allows_return_with_progress(self, make_user, make_course):
        trainee = make_user()
        course = make_course(modules=2)
        enrolment = enrolling.enrol(trainee, trainee, course)
        first = _modules(course)[0]
        progress.open_module(trainee, enrolment, first)
        progress.complete_module(trainee, enrolment, first)
        enrolling.withdraw(trainee, enrolment, "moving jobs")
        assert enrolment.status == EnrolmentStatus.WITHDRAWN and enrolment.withdrawn_at
        with pytest.raises(Conflict):
            progress.open_module(trainee, enrolment, first)
        again = enrolling.enrol(trainee, trainee, course)
        assert again.id == enrolment.id and again.status == EnrolmentStatus.ACTIVE
        assert progress.summarise([again])[0].percent == 50

    def test_capacity_cannot_drop_below_places_taken(self, make_user, make_course, make_cohort, admin):
        course = make_course()
        cohort = make_cohort(course, capacity=2)
        for _ in range(2):
            trainee = make_user()
            enrolling.enrol(trainee, trainee, course, cohort)
        with pytest.raises(InvalidInput) as error:
            cohorts.save_cohort(admin, course, cohort, {"capacity": 1})
        assert "capacity" in error.value.fields

    def test_raising_capacity_promotes_waiting_list(self, make_user, make_course, make_cohort, admin):
        course = make_course()
        cohort = make_cohort(course, capacity=1)
        people = [make_user() for _ in range(3)]
        enrolments = [enrolling.enrol(p, p, course, cohort) for p in people]
        cohorts.save_cohort(admin, course, cohort, {"capacity": 2})
        assert [e.status for e in enrolments] == [
            EnrolmentStatus.ACTIVE,
            EnrolmentStatus.ACTIVE,
            EnrolmentStatus.WAITLISTED,
        ]


class TestProgress:
    def test_module_complete_needs_opening_and_own_enrolment(self, make_user, make_course):
        trainee, other = make_user(), make_user()
        course = make_course()
        enrolment = enrolling.enrol(trainee, trainee, course)
        module = _modules(course)[0]
        with pytest.raises(Conflict, match="Open the module"):
            progress.complete_module(trainee, enrolment, module)
        with pytest.raises(NotFound):
            progress.open_module(other, enrolment, module)
        progress.open_module(trainee, enrolment, module)
        progress.open_module(trainee, enrolment, module)
        assert _db.session.scalar(select(func.count()).select_from(ModuleProgress)) == 1

    def test_module_of_another_course_refused(self, make_user, make_course):
        trainee = make_user()
        enrolment = enrolling.enrol(trainee, trainee, make_course())
        with pytest.raises(NotFound):
            progress.open_module(trainee, enrolment, _modules(make_course())[0])

    def test_knowledge_check_pass_fail_and_retake(self, make_user, make_course, admin):
        trainee = make_user()
        course = make_course(modules=1)
        module = _modules(course)[0]
        check = content.save_knowledge_check(
            admin,
            module,
            50,
            [
                content.QuestionInput("Q1", ["right", "wrong"], 0, "Because."),
                content.QuestionInput("Q2", ["wrong", "right"], 1),
            ],
        )
        enrolment = enrolling.enrol(trainee, trainee, course)
        progress.open_module(trainee, enrolment, module)
        with pytest.raises(Conflict, match="knowledge check"):
            progress.complete_module(trainee, enrolment, module)
        q1, q2 = check.questions
        with pytest.raises(InvalidInput) as error:
            progress.submit_knowledge_check(trainee, enrolment, module, {q1.id: q1.options[0].id})
        assert f"question-{q2.id}" in error.value.fields
        with pytest.raises(InvalidInput):
            progress.submit_knowledge_check(
                trainee, enrolment, module, {q1.id: q2.options[0].id, q2.id: q2.options[0].id}
            )
        failed = progress.submit_knowledge_check(
            trainee, enrolment, module, {q1.id: q1.options[1].id, q2.id: q2.options[0].id}
        )
        assert failed.attempt.score == 0 and not failed.attempt.is_passed
        assert enrolment.status == EnrolmentStatus.ACTIVE
        passed = progress.submit_knowledge_check(
            trainee, enrolment, module, {q1.id: q1.options[0].id, q2.id: q2.options[0].id}
        )
        assert passed.attempt.score == 50 and passed.attempt.is_passed
        assert enrolment.status == EnrolmentStatus.COMPLETED

    def test_knowledge_check_validation(self, make_course, admin):
        module = _modules(make_course(modules=1))[0]
        for pass_mark, questions in (
            (0, [content.QuestionInput("Q", ["a", "b"], 0)]),
            (80, []),
            (80, [content.QuestionInput("Q", ["only one"], 0)]),
            (80, [content.QuestionInput("", ["a", "b"], 0)]),
            (80, [content.QuestionInput("Q", ["a", "b"], 5)]),
        ):
            with pytest.raises(InvalidInput):
                content.save_knowledge_check(admin, module, pass_mark, questions)

    def test_progress_survives_edits_reordering_and_retirement(self, make_user, make_course, admin):
        trainee = make_user()
        course = make_course(modules=3)
        first, second, third = _modules(course)
        enrolment = enrolling.enrol(trainee, trainee, course)
        progress.open_module(trainee, enrolment, second)
        progress.complete_module(trainee, enrolment, second)
        content.save_module(admin, course, second, {"title": "Renamed", "content": "New text"})
        content.reorder_modules(admin, course, [third.id, second.id, first.id])
        assert [m.id for m in _modules(course)] == [third.id, second.id, first.id]
        summary = progress.summarise([enrolment])[0]
        assert second.id in summary.done and summary.percent == 33
        content.retire_module(admin, first)
        assert progress.summarise([enrolment])[0].percent == 50

    def test_reorder_needs_every_module_once(self, make_course, admin):
        course = make_course(modules=2)
        first, _second = _modules(course)
        with pytest.raises(InvalidInput):
            content.reorder_modules(admin, course, [first.id])
        with pytest.raises(InvalidInput):
            content.reorder_modules(admin, course, [first.id, first.id])

    def test_next_module_continues_where_left_off(self, make_user, make_course):
        trainee = make_user()
        course = make_course(modules=3)
        first, second, _third = _modules(course)
        enrolment = enrolling.enrol(trainee, trainee, course)
        assert progress.summarise([enrolment])[0].next_module == first
        progress.open_module(trainee, enrolment, second)
        assert progress.summarise([enrolment])[0].next_module == second


class TestCompletion:
    def test_completion_recorded_once_and_announced_once(self, app, make_user, make_course):
        announced = []
        listeners = list(hooks(app).listeners)
        add_completion_listener(app, lambda enrolment, actor: announced.append(enrolment.id))
        try:
            trainee = make_user()
            enrolment = enrolling.enrol(trainee, trainee, make_course(modules=2))
            _finish(trainee, enrolment)
            assert enrolment.status == EnrolmentStatus.COMPLETED
            completed_at = enrolment.completed_at
            assert completed_at is not None
            assert progress.check_completion(enrolment) is False
            assert announced == [enrolment.id]
            assert enrolment.completed_at == completed_at
        finally:
            hooks(app).listeners[:] = listeners

    def test_other_areas_can_hold_completion_back(self, app, make_user, make_course):
        requirements = list(hooks(app).requirements)
        add_requirement(app, lambda enrolments: {e.id: ["Pass the assignment."] for e in enrolments})
        try:
            trainee = make_user()
            enrolment = enrolling.enrol(trainee, trainee, make_course(modules=1))
            _finish(trainee, enrolment)
            assert enrolment.status == EnrolmentStatus.ACTIVE
            assert progress.unmet_requirements(enrolment) == ["Pass the assignment."]
        finally:
            hooks(app).requirements[:] = requirements

    def test_completed_enrolment_cannot_be_withdrawn(self, make_user, make_course):
        trainee = make_user()
        enrolment = enrolling.enrol(trainee, trainee, make_course(modules=1))
        _finish(trainee, enrolment)
        with pytest.raises(Conflict):
            enrolling.withdraw(trainee, enrolment)

    def test_completion_rate_and_months(self, make_user, make_course, make_cohort):
        course = make_course(modules=1)
        cohort = make_cohort(course, capacity=4)
        people = [make_user() for _ in range(5)]
        enrolments = [enrolling.enrol(p, p, course, cohort) for p in people]
        for person, enrolment in list(zip(people, enrolments, strict=True))[:2]:
            _finish(person, enrolment)
        assert reports.completion_counts(course.id) == (2, 4)
        assert reports.completion_counts(course.id, cohort.id) == (2, 4)
        months = reports.completions_per_month(course.id)
        assert len(months) == 12 and months[-1][1] == 2

    def test_dashboard_queries_do_not_grow(self, make_user, make_course, count_queries):
        trainee = make_user()
        enrolling.enrol(trainee, trainee, make_course())
        with count_queries() as one:
            assert len(progress.dashboard(trainee)) == 1
        for _ in range(10):
            enrolling.enrol(trainee, trainee, make_course(modules=3))
        with count_queries() as many:
            assert len(progress.dashboard(trainee)) == 11
        assert many.count == one.count


def test_enrolment_unique_in_database(db, make_user, make_course):
    from sqlalchemy.exc import IntegrityError

    trainee = make_user()
    course = make_course()
    enrolling.enrol(trainee, trainee, course)
    nested = db.session.begin_nested()
    db.session.add(Enrolment(user_id=trainee.id, course_id=course.id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    nested.rollback()


def test_org_manager_enrolling_themselves_follows_self_enrolment_rules(
    make_user, make_course, make_organisation
):
    manager = make_user(Role.ORG_MANAGER, Role.TRAINEE, organisation=make_organisation())
    with pytest.raises(NotAllowed):
        enrolling.enrol(manager, manager, make_course(is_self_enrol=False))


def test_catalogue_search_treats_wildcards_literally(make_user, make_course):
    trainee = make_user()
    make_course(title="100% online")
    other = make_course(title="Face to face")
    found = set(_db.session.scalars(catalogue.catalogue_query(trainee, catalogue.CatalogueFilter(q="0%"))))
    assert other not in found and len(found) == 1


def test_archived_course_stays_visible_to_its_trainees_only(make_user, make_course, admin):
    trainee, stranger = make_user(), make_user()
    course = make_course()
    enrolling.enrol(trainee, trainee, course)
    catalogue.save_course(admin, course, {"status": CourseStatus.ARCHIVED})
    assert catalogue.get_course(trainee, course.id) is course
    with pytest.raises(NotFound):
        catalogue.get_course(stranger, course.id)
    with pytest.raises(InvalidInput):
        enrolling.enrol(admin, stranger, course)
