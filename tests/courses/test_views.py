"""The trainee's course pages: catalogue, course, enrolment, modules, knowledge checks, my learning."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from flask import render_template
from sqlalchemy import func, select

from lms.audit import AuditEntry
from lms.courses import content, progress
from lms.courses import enrolment as enrolling
from lms.courses.models import (
    Cohort,
    CourseStatus,
    CreditRule,
    DeliveryFormat,
    Enrolment,
    EnrolmentStatus,
    ModuleProgress,
    ModuleResource,
)
from lms.organisations.models import OrganisationKind
from lms.permissions import Role
from lms.storage import services as storage

# --- helpers and fixtures -------------------------------------------------------------------


def _modules(course):
    return content.active_modules([course.id])[course.id]


def _text(response) -> str:
    return response.get_data(as_text=True)


def _progress_rows(db, enrolment=None) -> int:
    query = select(func.count()).select_from(ModuleProgress)
    if enrolment is not None:
        query = query.where(ModuleProgress.enrolment_id == enrolment.id)
    return db.session.scalar(query)


@pytest.fixture
def admin(make_user):
    """An admin, who builds knowledge checks in these tests."""
    return make_user(Role.ADMIN, name="Ada Admin")


@pytest.fixture
def trainee(make_user):
    """A trainee."""
    return make_user(Role.TRAINEE, name="Tess Trainee")


@pytest.fixture
def add_check(db, admin):
    """Give a module a knowledge check; question n's correct option is ``right n``."""

    def add(
        module, questions: int = 2, pass_mark: int = 100, prompt="Question {n}?", explanation="Because {n}."
    ):
        return content.save_knowledge_check(
            admin,
            module,
            pass_mark,
            [
                content.QuestionInput(
                    prompt=prompt.format(n=n),
                    options=[f"wrong {n}", f"right {n}", f"other {n}"],
                    correct=1,
                    explanation=explanation.format(n=n),
                )
                for n in range(1, questions + 1)
            ],
        )

    return add


def _answers(check, correct: bool = True) -> dict[str, int]:
    return {
        f"question-{q.id}": next(o.id for o in q.options if o.is_correct == correct) for q in check.questions
    }


@pytest.fixture
def awarding_body(make_organisation):
    """A university that awards credits."""
    return make_organisation("University of Testing", kind=OrganisationKind.AWARDING_BODY)


def _give_credits(db, course, body, credits=6, level="FHEQ level 6"):
    db.session.add(CreditRule(course_id=course.id, awarding_body_id=body.id, credits=credits, level=level))
    db.session.flush()


# --- catalogue ------------------------------------------------------------------------------


class TestCatalogue:
    def test_trainee_sees_published_courses_only(self, client, login_as, trainee, make_course):
        make_course(title="Restorative practice")
        make_course(title="Secret draft", status=CourseStatus.DRAFT)
        make_course(title="Old archived", status=CourseStatus.ARCHIVED)
        login_as(trainee)
        page = _text(client.get("/courses"))
        assert "Restorative practice" in page
        assert "Secret draft" not in page
        assert "Old archived" not in page

    def test_draft_and_archived_course_pages_are_404_for_trainees(
        self, client, login_as, trainee, make_course
    ):
        draft = make_course(status=CourseStatus.DRAFT)
        archived = make_course(status=CourseStatus.ARCHIVED)
        login_as(trainee)
        for course in (draft, archived):
            assert client.get(f"/courses/{course.id}").status_code == 404
            module = _modules(course)[0]
            assert client.get(f"/courses/{course.id}/modules/{module.id}").status_code == 404
            assert client.post(f"/courses/{course.id}/enrol").status_code == 404
        assert client.get("/courses/999999").status_code == 404

    def test_admin_sees_drafts_marked_as_such(self, client, login_as, admin, make_course):
        draft = make_course(title="Work in progress", status=CourseStatus.DRAFT)
        login_as(admin)
        page = _text(client.get("/courses"))
        assert "Work in progress" in page
        assert re.search(
            r'class="badge[^"]*">Draft<span class="visually-hidden">: not visible to trainees', page
        )
        course_page = client.get(f"/courses/{draft.id}")
        assert course_page.status_code == 200
        assert "Draft" in _text(course_page)
        only_drafts = _text(client.get("/courses?status=draft"))
        assert "Work in progress" in only_drafts

    def test_each_course_shows_its_facts(
        self, client, login_as, trainee, make_course, make_organisation, awarding_body, db
    ):
        provider = make_organisation("Partners in Training")
        first = make_course(title="Restorative practice", code="RP101")
        course = make_course(
            title="Family group conferencing",
            code="FGC201",
            provider=provider,
            delivery_format=DeliveryFormat.BLENDED,
            notional_hours=60,
            prerequisites=[first],
        )
        _give_credits(db, course, awarding_body)
        login_as(trainee)
        page = _text(client.get("/courses"))
        card = page[page.index("Family group conferencing") :]
        for fact in (
            "FGC201",
            "Partners in Training",
            "Blended",
            "60 hours",
            "6 credits at FHEQ level 6, awarded by University of Testing",
            "Restorative practice (RP101)",
        ):
            assert fact in card

    def test_search_and_filters(
        self, client, login_as, trainee, make_course, make_organisation, awarding_body, db
    ):
        partner = make_organisation("Partner Org")
        online = make_course(title="Trauma informed practice", summary="Understanding trauma.")
        blended = make_course(title="Family group conferencing", delivery_format=DeliveryFormat.BLENDED)
        partnered = make_course(title="Restorative practice", provider=partner)
        _give_credits(db, blended, awarding_body)
        login_as(trainee)

        def titles(query: str) -> set[str]:
            page = _text(client.get(f"/courses?{query}"))
            return {t for t in (online.title, blended.title, partnered.title) if t in page}

        assert titles("q=trauma") == {online.title}
        assert titles("q=UNDERSTANDING") == {online.title}
        assert titles(f"q={blended.code.lower()}") == {blended.title}
        assert titles("delivery_format=blended") == {blended.title}
        assert titles(f"provider_id={partner.id}") == {partnered.title}
        assert titles("has_credits=y") == {blended.title}
        assert titles("q=nothing+like+this") == set()
        assert "No course matches" in _text(client.get("/courses?q=nothing+like+this"))

    def test_invalid_filters_are_reported(self, client, login_as, trainee):
        login_as(trainee)
        response = client.get("/courses?provider_id=424242&delivery_format=by_pigeon")
        assert response.status_code == 422
        assert "There is a problem" in _text(response)
        assert client.get("/courses?page=abc").status_code == 400

    def test_paginated(self, client, login_as, trainee, make_course):
        for n in range(25):
            make_course(title=f"Paged course {n:02d}", modules=0)
        login_as(trainee)
        first = _text(client.get("/courses?q=paged"))
        second = _text(client.get("/courses?q=paged&page=2"))
        assert "25 courses found" in first
        assert "Page 1 of 2" in first
        assert "Paged course 00" in first and "Paged course 24" not in first
        assert "Paged course 24" in second

    def test_signed_out_people_are_sent_to_sign_in(self, client, make_course):
        course = make_course()
        for url in ("/courses", f"/courses/{course.id}", "/courses/mine"):
            assert client.get(url).status_code == 302


# --- course page and enrolment ---------------------------------------------------------------


class TestCoursePage:
    def test_shows_course_modules_and_open_cohorts(
        self, client, login_as, trainee, make_course, make_cohort, add_check
    ):
        course = make_course(modules=3, title="Trauma informed practice", audience="Staff and volunteers")
        add_check(_modules(course)[1])
        make_cohort(course, name="Spring in Cardiff", capacity=12, location="Cardiff Bay")
        make_cohort(
            course,
            name="Long closed",
            starts_on=dt.date.today() - dt.timedelta(days=90),
            ends_on=dt.date.today() - dt.timedelta(days=30),
        )
        login_as(trainee)
        page = _text(client.get(f"/courses/{course.id}"))
        assert "Staff and volunteers" in page
        assert "Module 1" in page and "Module 3" in page
        assert page.count(">Knowledge check</span>") == 1
        assert "Spring in Cardiff" in page and "Cardiff Bay" in page
        assert "12 of 12 left" in page
        assert "Long closed" not in page
        assert 'Enrol<span class="visually-hidden"> for Spring in Cardiff' in page
        # Not enrolled: module titles are not links.
        assert f"/courses/{course.id}/modules/" not in page

    def test_enrol_into_a_cohort(self, client, login_as, trainee, make_course, make_cohort, db):
        course = make_course()
        cohort = make_cohort(course, name="Summer run", capacity=5)
        login_as(trainee)
        response = client.post(f"/courses/{course.id}/enrol", data={"cohort_id": cohort.id})
        assert response.status_code == 302
        page = _text(client.get(response.headers["Location"]))
        assert f"You are enrolled on {course.title} (Summer run)." in page
        assert "Your enrolment" in page and "Active" in page
        assert "Start the course" in page
        enrolment = enrolling.own_enrolment(trainee, course)
        assert enrolment.status == EnrolmentStatus.ACTIVE and enrolment.cohort_id == cohort.id
        assert db.session.get(Cohort, cohort.id).seats_taken == 1

    def test_course_without_cohorts_has_one_enrol_button(self, client, login_as, trainee, make_course):
        course = make_course(title="Self-paced intro")
        login_as(trainee)
        page = _text(client.get(f"/courses/{course.id}"))
        assert "Enrol on Self-paced intro" in page
        assert client.post(f"/courses/{course.id}/enrol").status_code == 302
        assert enrolling.own_enrolment(trainee, course).status == EnrolmentStatus.ACTIVE

    def test_course_with_cohorts_needs_one(self, client, login_as, trainee, make_course, make_cohort):
        course = make_course()
        make_cohort(course)
        login_as(trainee)
        response = client.post(f"/courses/{course.id}/enrol")
        assert response.status_code == 422
        assert "Choose a cohort" in _text(response)
        assert enrolling.own_enrolment(trainee, course) is None

    def test_cohort_of_another_course_is_404(self, client, login_as, trainee, make_course, make_cohort):
        course, other = make_course(), make_course()
        foreign = make_cohort(other)
        login_as(trainee)
        assert client.post(f"/courses/{course.id}/enrol", data={"cohort_id": foreign.id}).status_code == 404

    def test_missing_prerequisite_is_named(self, client, login_as, trainee, make_course, make_cohort):
        first = make_course(title="Restorative practice", code="RP101")
        course = make_course(title="Family group conferencing", prerequisites=[first])
        cohort = make_cohort(course)
        login_as(trainee)
        page = _text(client.get(f"/courses/{course.id}"))
        assert "Before you can enrol, complete" in page
        assert "not completed yet" in page
        response = client.post(f"/courses/{course.id}/enrol", data={"cohort_id": cohort.id})
        assert response.status_code == 422
        page = _text(response)
        assert "You could not be enrolled" in page
        assert "Complete Restorative practice (RP101) before enrolling on Family group conferencing." in page
        assert enrolling.own_enrolment(trainee, course) is None

    def test_completed_prerequisite_is_shown_and_lets_you_enrol(
        self, client, login_as, trainee, make_course, make_enrolment, db
    ):
        first = make_course(title="Restorative practice", modules=0)
        make_enrolment(trainee, first)  # no modules: completed at once
        assert enrolling.own_enrolment(trainee, first).status == EnrolmentStatus.COMPLETED
        course = make_course(prerequisites=[first])
        login_as(trainee)
        page = _text(client.get(f"/courses/{course.id}"))
        assert "completed</span>" in page
        assert client.post(f"/courses/{course.id}/enrol").status_code == 302

    def test_full_cohort_without_waiting_list_is_refused(
        self, client, login_as, trainee, make_user, make_course, make_cohort, make_enrolment, db
    ):
        course = make_course()
        cohort = make_cohort(course, name="Tiny run", capacity=1, has_waiting_list=False)
        make_enrolment(make_user(), course, cohort)
        login_as(trainee)
        page = _text(client.get(f"/courses/{course.id}"))
        assert "Full" in page and "Join the waiting list" not in page
        response = client.post(f"/courses/{course.id}/enrol", data={"cohort_id": cohort.id})
        assert response.status_code == 409
        assert "Tiny run is full." in _text(response)
        assert enrolling.own_enrolment(trainee, course) is None
        assert db.session.get(Cohort, cohort.id).seats_taken == 1

    def test_full_cohort_with_waiting_list_waitlists(
        self, client, login_as, trainee, make_user, make_course, make_cohort, make_enrolment, db
    ):
        course = make_course()
        cohort = make_cohort(course, name="Popular run", capacity=1)
        make_enrolment(make_user(), course, cohort)
        login_as(trainee)
        assert "Full: waiting list open" in _text(client.get(f"/courses/{course.id}"))
        response = client.post(f"/courses/{course.id}/enrol", data={"cohort_id": cohort.id})
        assert response.status_code == 302
        page = _text(client.get(f"/courses/{course.id}"))
        assert "Popular run is full, so you are on its waiting list." in page
        assert "On the waiting list" in page
        assert enrolling.own_enrolment(trainee, course).status == EnrolmentStatus.WAITLISTED
        # The waiting list does not open the modules.
        module = _modules(course)[0]
        response = client.get(f"/courses/{course.id}/modules/{module.id}")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/courses/{course.id}")
        assert "its modules open once you have a place" in _text(client.get(f"/courses/{course.id}"))
        assert client.post(f"/courses/{course.id}/modules/{module.id}/complete").status_code == 409
        assert _progress_rows(db) == 0

    def test_duplicate_enrolment_is_refused_cleanly(
        self, client, login_as, trainee, make_course, make_cohort, db
    ):
        course = make_course()
        cohort = make_cohort(course, capacity=10)
        other = make_cohort(course, capacity=10)
        login_as(trainee)
        assert client.post(f"/courses/{course.id}/enrol", data={"cohort_id": cohort.id}).status_code == 302
        again = client.post(f"/courses/{course.id}/enrol", data={"cohort_id": other.id})
        assert again.status_code == 409
        assert f"You are already enrolled on {course.title} (active)." in _text(again)
        assert (
            db.session.scalar(
                select(func.count()).select_from(Enrolment).where(Enrolment.course_id == course.id)
            )
            == 1
        )
        assert db.session.get(Cohort, other.id).seats_taken == 0
        # Once enrolled, the page offers no enrol button.
        assert "Join the waiting list" not in _text(client.get(f"/courses/{course.id}"))
        assert f'action="/courses/{course.id}/enrol"' not in _text(client.get(f"/courses/{course.id}"))

    def test_not_self_enrol_course(self, client, login_as, trainee, make_course):
        course = make_course(is_self_enrol=False)
        login_as(trainee)
        page = _text(client.get(f"/courses/{course.id}"))
        assert "Ask them to enrol you" in page
        response = client.post(f"/courses/{course.id}/enrol")
        assert response.status_code == 403
        assert "not open for self-enrolment" in _text(response)
        assert enrolling.own_enrolment(trainee, course) is None

    def test_only_trainees_enrol_themselves(self, client, login_as, make_user, make_course):
        course = make_course()
        login_as(make_user(Role.ASSESSOR))
        assert client.post(f"/courses/{course.id}/enrol").status_code == 403
        page = _text(client.get(f"/courses/{course.id}"))
        assert f'action="/courses/{course.id}/enrol"' not in page


class TestWithdraw:
    def test_confirmation_step_then_withdraw_keeps_history(
        self, client, login_as, trainee, make_course, make_cohort, make_user, make_enrolment, db
    ):
        course = make_course(modules=2)
        cohort = make_cohort(course, capacity=1)
        enrolment = make_enrolment(trainee, course, cohort)
        waiting = make_enrolment(make_user(), course, cohort)
        assert waiting.status == EnrolmentStatus.WAITLISTED
        login_as(trainee)
        module = _modules(course)[0]
        client.get(f"/courses/{course.id}/modules/{module.id}")
        client.post(f"/courses/{course.id}/modules/{module.id}/complete")

        course_page = _text(client.get(f"/courses/{course.id}"))
        assert f'href="/courses/{course.id}/withdraw"' in course_page
        confirm = client.get(f"/courses/{course.id}/withdraw")
        assert confirm.status_code == 200
        assert "Withdraw from the course" in _text(confirm)
        assert enrolling.own_enrolment(trainee, course).status == EnrolmentStatus.ACTIVE  # nothing yet

        response = client.post(f"/courses/{course.id}/withdraw", data={"reason": "Changed jobs"})
        assert response.status_code == 302
        page = _text(client.get(f"/courses/{course.id}"))
        assert f"You have withdrawn from {course.title}." in page
        assert "Withdrawn on" in page
        assert "Enrol again" in page
        db.session.expire_all()
        enrolment = db.session.get(Enrolment, enrolment.id)
        assert enrolment.status == EnrolmentStatus.WITHDRAWN
        assert _progress_rows(db, enrolment) == 1  # progress kept
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "enrolment.withdrawn", AuditEntry.subject_id == enrolment.id
            )
        )
        assert entry.after["reason"] == "Changed jobs"
        assert db.session.get(Enrolment, waiting.id).status == EnrolmentStatus.ACTIVE  # place passed on
        # The modules close, and say how to open them again.
        assert client.get(f"/courses/{course.id}/modules/{module.id}").status_code == 302
        assert "has ended; enrol again" in _text(client.get(f"/courses/{course.id}"))
        assert client.post(f"/courses/{course.id}/modules/{module.id}/complete").status_code == 409
        assert _progress_rows(db, enrolment) == 1

    def test_withdraw_needs_an_enrolment(self, client, login_as, trainee, make_course):
        course = make_course()
        login_as(trainee)
        assert client.get(f"/courses/{course.id}/withdraw").status_code == 404
        assert client.post(f"/courses/{course.id}/withdraw").status_code == 404

    def test_completed_course_cannot_be_withdrawn(
        self, client, login_as, trainee, make_course, make_enrolment
    ):
        course = make_course(modules=0)
        make_enrolment(trainee, course)
        login_as(trainee)
        assert "nothing to withdraw from" in _text(client.get(f"/courses/{course.id}/withdraw"))
        response = client.post(f"/courses/{course.id}/withdraw")
        assert response.status_code == 409
        assert enrolling.own_enrolment(trainee, course).status == EnrolmentStatus.COMPLETED

    def test_re_enrol_after_withdrawing_keeps_progress(
        self, client, login_as, trainee, make_course, make_enrolment, db
    ):
        course = make_course(modules=2)
        make_enrolment(trainee, course)
        login_as(trainee)
        first = _modules(course)[0]
        client.get(f"/courses/{course.id}/modules/{first.id}")
        client.post(f"/courses/{course.id}/modules/{first.id}/complete")
        client.post(f"/courses/{course.id}/withdraw")
        assert client.post(f"/courses/{course.id}/enrol").status_code == 302
        page = _text(client.get(f"/courses/{course.id}"))
        assert 'value="50"' in page and "50% complete" in page


# --- modules ------------------------------------------------------------------------------------


class TestModulePage:
    def test_enrolled_trainee_studies_a_module(
        self, client, login_as, trainee, make_course, make_enrolment, db
    ):
        course = make_course(modules=3)
        enrolment = make_enrolment(trainee, course)
        second = _modules(course)[1]
        second.content = "# Heading\n\nSome **bold** words and [a link](https://example.org)."
        second.estimated_minutes = 25
        db.session.flush()
        login_as(trainee)
        response = client.get(f"/courses/{course.id}/modules/{second.id}")
        assert response.status_code == 200
        page = _text(response)
        assert "Module 2 of 3" in page and "about 25 minutes" in page
        assert "<h2>Heading</h2>" in page and "<strong>bold</strong>" in page
        assert 'Previous<span class="visually-hidden"> module</span>: Module 1' in page
        assert 'Next<span class="visually-hidden"> module</span>: Module 3' in page
        assert "Mark “Module 2” as complete" in page
        # Reading the page records nothing (a prefetch or a link from another site is a GET)...
        assert _progress_rows(db, enrolment) == 0
        # ...the page's script posts to this address once the page is shown.
        opener = f'data-record-open="/courses/{course.id}/modules/{second.id}/open"'
        assert opener in page
        response = client.post(f"/courses/{course.id}/modules/{second.id}/open")
        assert response.status_code == 204
        assert _progress_rows(db, enrolment) == 1
        db.session.expire_all()
        assert db.session.get(Enrolment, enrolment.id).last_module_id == second.id
        # "Continue where you left off" now points at it.
        course_page = _text(client.get(f"/courses/{course.id}"))
        assert f'href="/courses/{course.id}/modules/{second.id}">Continue where you left off' in course_page

    def test_reading_a_module_page_records_nothing(
        self, client, login_as, trainee, make_course, make_enrolment, db
    ):
        course = make_course(modules=2)
        enrolment = make_enrolment(trainee, course)
        login_as(trainee)
        for module in _modules(course):
            url = f"/courses/{course.id}/modules/{module.id}"
            for method in ("GET", "HEAD"):
                assert client.open(url, method=method).status_code == 200
        assert _progress_rows(db, enrolment) == 0
        db.session.expire_all()
        assert db.session.get(Enrolment, enrolment.id).last_module_id is None

    def test_recording_an_opening_needs_the_csrf_token(
        self, app, client, login_as, trainee, make_course, make_enrolment, db, monkeypatch
    ):
        course = make_course(modules=1)
        enrolment = make_enrolment(trainee, course)
        module = _modules(course)[0]
        login_as(trainee)
        monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
        url = f"/courses/{course.id}/modules/{module.id}/open"
        assert client.post(url).status_code == 400  # a cross-site form has no token
        assert _progress_rows(db, enrolment) == 0
        page = _text(client.get(f"/courses/{course.id}/modules/{module.id}"))
        token = re.search(r'data-csrf-token="([^"]+)"', page).group(1)
        assert client.post(url, headers={"X-CSRFToken": token}).status_code == 204
        assert client.post(url, data={"csrf_token": token}).status_code == 204  # navigator.sendBeacon
        assert _progress_rows(db, enrolment) == 1

    def test_recording_an_opening_is_the_trainees_own(
        self, client, login_as, trainee, make_user, make_course, make_enrolment, admin, db
    ):
        course = make_course(modules=1)
        make_enrolment(make_user(Role.TRAINEE), course)
        module = _modules(course)[0]
        url = f"/courses/{course.id}/modules/{module.id}/open"
        login_as(trainee)  # not enrolled
        assert client.post(url).status_code == 404
        client.post("/account/logout")
        login_as(admin)  # previews: nothing to record
        assert client.post(url).status_code == 403
        assert "data-record-open" not in _text(client.get(f"/courses/{course.id}/modules/{module.id}"))
        assert _progress_rows(db) == 0

    def test_without_javascript_marking_complete_records_the_opening(
        self, client, login_as, trainee, make_course, make_enrolment, db
    ):
        course = make_course(modules=2)
        enrolment = make_enrolment(trainee, course)
        first, second = _modules(course)
        login_as(trainee)
        # No script ran, so nothing was recorded when the page was shown.
        response = client.post(f"/courses/{course.id}/modules/{first.id}/complete")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/courses/{course.id}/modules/{second.id}")
        db.session.expire_all()
        assert db.session.get(Enrolment, enrolment.id).last_module_id == first.id
        assert "50% complete" in _text(client.get(f"/courses/{course.id}"))

    def test_mark_complete_goes_on_to_the_next_module(
        self, client, login_as, trainee, make_course, make_enrolment
    ):
        course = make_course(modules=2)
        make_enrolment(trainee, course)
        first, second = _modules(course)
        login_as(trainee)
        client.get(f"/courses/{course.id}/modules/{first.id}")
        response = client.post(f"/courses/{course.id}/modules/{first.id}/complete")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/courses/{course.id}/modules/{second.id}")
        page = _text(client.get(f"/courses/{course.id}/modules/{first.id}"))
        assert "You have completed this module." in page
        assert "Mark “Module 1” as complete" not in page

    def test_non_enrolled_trainee_is_refused_and_nothing_is_recorded(
        self, client, login_as, trainee, make_user, make_course, make_enrolment, add_check, db
    ):
        course = make_course(modules=2)
        owner = make_user(Role.TRAINEE)
        make_enrolment(owner, course)
        plain, checked = _modules(course)
        check = add_check(checked)
        stored = storage.save(b"notes", "notes.txt", "text/plain")
        resource = content.save_resource(plain, title="Notes", stored_file=stored)
        before = _progress_rows(db)
        login_as(trainee)
        assert client.get(f"/courses/{course.id}/modules/{plain.id}").status_code == 404
        assert client.post(f"/courses/{course.id}/modules/{plain.id}/complete").status_code == 404
        assert (
            client.post(f"/courses/{course.id}/modules/{checked.id}/check", data=_answers(check)).status_code
            == 404
        )
        assert (
            client.get(f"/courses/{course.id}/modules/{plain.id}/resources/{resource.id}").status_code == 404
        )
        assert _progress_rows(db) == before
        assert enrolling.own_enrolment(trainee, course) is None

    def test_module_of_another_course_is_404(self, client, login_as, trainee, make_course, make_enrolment):
        course, other = make_course(), make_course()
        make_enrolment(trainee, course)
        make_enrolment(trainee, other)
        login_as(trainee)
        foreign = _modules(other)[0]
        assert client.get(f"/courses/{course.id}/modules/{foreign.id}").status_code == 404

    def test_retired_module_is_404(self, client, login_as, trainee, make_course, make_enrolment, admin, db):
        course = make_course(modules=2)
        make_enrolment(trainee, course)
        module = _modules(course)[0]
        content.retire_module(admin, module)
        db.session.flush()
        login_as(trainee)
        assert client.get(f"/courses/{course.id}/modules/{module.id}").status_code == 404

    def test_admin_previews_without_recording(self, client, login_as, admin, make_course, add_check, db):
        course = make_course(modules=2, status=CourseStatus.DRAFT)
        check = add_check(_modules(course)[1])
        login_as(admin)
        for module in _modules(course):
            response = client.get(f"/courses/{course.id}/modules/{module.id}")
            assert response.status_code == 200
            assert "Preview: you are not enrolled" in _text(response)
        page = _text(response)
        assert "(correct answer)" in page  # the preview shows the key
        assert "Mark “" not in page
        assert _progress_rows(db) == 0
        assert enrolling.own_enrolment(admin, course) is None
        # An admin may not submit a check (a trainee's action).
        assert (
            client.post(f"/courses/{course.id}/modules/{module.id}/check", data=_answers(check)).status_code
            == 403
        )

    def test_resources_links_and_files(
        self, client, login_as, trainee, make_course, make_enrolment, db, admin
    ):
        course = make_course(modules=1)
        make_enrolment(trainee, course)
        module = _modules(course)[0]
        stored = storage.save(b"Session plan\n", "session plan.txt", "text/plain")
        file_resource = content.save_resource(module, title="Session plan", stored_file=stored)
        content.save_resource(module, title="Further reading", url="https://example.org/reading")
        login_as(trainee)
        page = _text(client.get(f"/courses/{course.id}/modules/{module.id}"))
        assert '<a href="https://example.org/reading" rel="noopener noreferrer">Further reading</a>' in page
        download_url = f"/courses/{course.id}/modules/{module.id}/resources/{file_resource.id}"
        assert f'href="{download_url}"' in page
        download = client.get(download_url)
        assert download.status_code == 200
        assert download.get_data() == b"Session plan\n"
        assert download.headers["Content-Disposition"].startswith("attachment;")
        link = db.session.scalar(select(ModuleResource).where(ModuleResource.url.is_not(None)))
        assert client.get(f"/courses/{course.id}/modules/{module.id}/resources/{link.id}").status_code == 404
        # An admin may download too (to check the file); another course's id does not reach it.
        other = make_course()
        client.post("/account/logout")
        login_as(admin)
        assert client.get(download_url).status_code == 200
        assert (
            client.get(f"/courses/{other.id}/modules/{module.id}/resources/{file_resource.id}").status_code
            == 404
        )


class TestKnowledgeCheck:
    @pytest.fixture
    def setup(self, login_as, trainee, make_course, make_enrolment, add_check):
        course = make_course(modules=2)
        enrolment = make_enrolment(trainee, course)
        first, second = _modules(course)
        check = add_check(first, questions=3, pass_mark=60)
        login_as(trainee)
        return course, first, second, check, enrolment

    def test_form_has_a_fieldset_and_legend_per_question(self, client, setup):
        course, first, _second, _check, _enrolment = setup
        page = _text(client.get(f"/courses/{course.id}/modules/{first.id}"))
        assert page.count("<fieldset") == 3
        assert "Question 1 of 3: Question 1?</legend>" in page
        assert page.count('type="radio"') == 9
        assert "Mark “" not in page  # completed by passing the check instead
        assert "To pass, answer at least 60% of them correctly" in page

    def test_unanswered_questions_are_named(self, client, setup, db):
        course, first, _second, check, _enrolment = setup
        q1, q2, q3 = check.questions
        data = {f"question-{q2.id}": q2.options[1].id}
        response = client.post(f"/courses/{course.id}/modules/{first.id}/check", data=data)
        assert response.status_code == 422
        page = _text(response)
        assert "There is a problem" in page
        assert f'<a href="#question-{q1.id}-0" class="alert-link">Answer question 1.</a>' in page
        assert f'<a href="#question-{q3.id}-0" class="alert-link">Answer question 3.</a>' in page
        assert "Answer question 2." not in page
        assert f'id="question-{q1.id}-0"' in page
        assert re.search(
            rf'value="{q2.options[1].id}"[^>]*checked|checked[^>]*value="{q2.options[1].id}"', page
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(ModuleProgress)
                .where(ModuleProgress.completed_at.is_not(None))
            )
            == 0
        )

    def test_fail_then_retake_then_pass(self, client, setup, db):
        course, first, second, check, enrolment = setup
        url = f"/courses/{course.id}/modules/{first.id}"
        wrong = _answers(check, correct=False)
        response = client.post(f"{url}/check", data=wrong)
        assert response.status_code == 302
        page = _text(client.get(response.headers["Location"].split("#")[0]))
        assert "You scored 0% (0 of 3 correct). The pass mark is 60%." in page
        assert "Not passed yet" in page
        assert "0 of 3 correct" in page
        assert page.count(">Incorrect</span>") == 3
        assert "Because 2." in page  # explanations teach
        assert f'href="{url}?retake=1#knowledge-check">Try again</a>' in page
        assert first.id not in progress.completed_module_ids([enrolment.id])[enrolment.id]

        retake = _text(client.get(f"{url}?retake=1"))
        assert retake.count("<fieldset") == 3

        mixed = {**_answers(check), f"question-{check.questions[0].id}": check.questions[0].options[0].id}
        response = client.post(f"{url}/check", data=mixed)
        page = _text(client.get(url))
        assert "You scored 67% (2 of 3 correct). The pass mark is 60%." in page
        assert "Passed</h3>" in page
        assert page.count(">Correct</span>") == 2 and page.count(">Incorrect</span>") == 1
        assert "This module is complete." in page
        assert "Try again" not in page
        assert first.id in progress.completed_module_ids([enrolment.id])[enrolment.id]
        assert f'Next<span class="visually-hidden"> module</span>: {second.title}' in page

    def test_option_of_another_question_is_refused(self, client, setup):
        course, first, _second, check, _enrolment = setup
        q1, q2, q3 = check.questions
        data = {
            f"question-{q1.id}": q2.options[1].id,
            f"question-{q2.id}": q2.options[1].id,
            f"question-{q3.id}": "x",
        }
        response = client.post(f"/courses/{course.id}/modules/{first.id}/check", data=data)
        assert response.status_code == 422

    def test_plain_module_cannot_be_completed_by_check_route(self, client, setup):
        course, _first, second, _check, _enrolment = setup
        assert client.post(f"/courses/{course.id}/modules/{second.id}/check", data={}).status_code == 404
        client.get(f"/courses/{course.id}/modules/{_first.id}")
        assert client.post(f"/courses/{course.id}/modules/{_first.id}/complete").status_code == 409


def test_course_completed_through_the_pages(client, login_as, trainee, make_course, add_check, db):
    course = make_course(modules=3, title="Trauma informed practice")
    first, second, third = _modules(course)
    third.is_required = False
    check = add_check(second, questions=2, pass_mark=100)
    db.session.flush()
    login_as(trainee)
    assert client.post(f"/courses/{course.id}/enrol").status_code == 302

    client.get(f"/courses/{course.id}/modules/{first.id}")
    response = client.post(f"/courses/{course.id}/modules/{first.id}/complete")
    assert response.headers["Location"].endswith(f"/modules/{second.id}")
    assert "50% complete" in _text(client.get(f"/courses/{course.id}"))

    client.get(f"/courses/{course.id}/modules/{second.id}")
    response = client.post(f"/courses/{course.id}/modules/{second.id}/check", data=_answers(check))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/courses/{course.id}")
    page = _text(client.get(f"/courses/{course.id}"))
    assert "Congratulations: you have completed Trauma informed practice." in page
    assert "Completed on" in page and ">Completed</span>" in page
    assert "100% complete" in page
    assert "Withdraw from this course" not in page
    enrolment = enrolling.own_enrolment(trainee, course)
    assert enrolment.status == EnrolmentStatus.COMPLETED and enrolment.completed_at is not None
    mine = _text(client.get("/courses/mine"))
    assert ">Completed</span>" in mine
    # The optional module stays open after completion.
    assert client.get(f"/courses/{course.id}/modules/{third.id}").status_code == 200


# --- my learning --------------------------------------------------------------------------------


class TestMyLearning:
    def test_lists_enrolments_current_first_with_progress(
        self, client, login_as, trainee, make_course, make_cohort, make_enrolment, db
    ):
        done_course = make_course(title="Already done", modules=0)
        make_enrolment(trainee, done_course)
        course = make_course(title="Zebra course", modules=4)
        cohort = make_cohort(course, name="Autumn group", ends_on=dt.date(2099, 3, 1))
        enrolment = make_enrolment(trainee, course, cohort)
        first, second = _modules(course)[:2]
        progress.open_module(trainee, enrolment, first)
        progress.complete_module(trainee, enrolment, first)
        progress.open_module(trainee, enrolment, second)
        db.session.flush()
        login_as(trainee)
        page = _text(client.get("/courses/mine"))
        assert page.index("Zebra course") < page.index("Already done")
        assert "Autumn group" in page
        assert '<progress class="flex-grow-1 course-progress" id="progress-' in page
        assert 'max="100" value="25"' in page and "25% complete" in page
        assert f'href="/courses/{course.id}/modules/{second.id}">Continue' in page
        assert "1 Mar 2099" in page
        assert "100% complete" in page

    def test_empty(self, client, login_as, trainee):
        login_as(trainee)
        assert "You are not enrolled on any course yet" in _text(client.get("/courses/mine"))

    def test_only_own_enrolments(self, client, login_as, trainee, make_user, make_course, make_enrolment):
        other = make_user()
        make_enrolment(other, make_course(title="Someone else's course"))
        login_as(trainee)
        assert "Someone else's course" not in _text(client.get("/courses/mine"))

    def test_learning_panel_partial(self, app, trainee, make_course, make_enrolment):
        course = make_course(title="Panel course", modules=2)
        make_enrolment(trainee, course)
        finished = make_course(title="Finished course", modules=0)
        make_enrolment(trainee, finished)
        with app.test_request_context("/dashboard"):
            html = render_template("courses/_learning_panel.html", learning=progress.dashboard(trainee))
        assert "Panel course" in html and "0% complete" in html
        assert "Continue: Module 1" in html
        assert "You have completed 1 course." in html
        assert 'href="/courses/mine"' in html
        with app.test_request_context("/dashboard"):
            empty = render_template("courses/_learning_panel.html", learning=[])
        assert "Find a course" in empty


def test_navigation_items(app):
    items = {item.endpoint: item for item in app.extensions["lms_nav"]}
    assert items["courses.catalogue"].roles == frozenset()
    assert items["courses.mine"].roles == {Role.TRAINEE}


# --- bounded queries ----------------------------------------------------------------------------


def _count(client, count_queries, url) -> list[str]:
    """The SQL statements one request of ``url`` runs (after a first request to warm up)."""
    assert client.get(url).status_code == 200
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.statements


def _same_count(small: list[str], large: list[str]) -> None:
    assert len(small) == len(large), "\n\n".join(large)


def test_my_learning_query_count_does_not_grow(
    client, login_as, make_user, make_course, make_cohort, make_enrolment, count_queries, app, db
):
    counts = []
    for size in (1, 30):
        person = make_user(Role.TRAINEE)
        for _ in range(size):
            course = make_course(modules=3, prerequisites=[])
            enrolment = make_enrolment(person, course, make_cohort(course))
            module = _modules(course)[0]
            progress.open_module(person, enrolment, module)
            progress.complete_module(person, enrolment, module)
        db.session.flush()
        client.post("/account/logout")
        login_as(person)
        counts.append(_count(client, count_queries, "/courses/mine"))
    _same_count(*counts)


def test_course_and_module_page_query_counts_do_not_grow(
    client, login_as, make_user, make_course, make_cohort, make_enrolment, add_check, count_queries, db
):
    course_counts, module_counts, check_counts = [], [], []
    for size in (3, 20):
        person = make_user(Role.TRAINEE)
        first = make_course(modules=0)
        make_enrolment(person, first)  # no modules: completed at once
        course = make_course(modules=size, prerequisites=[first])
        make_cohort(course)
        make_cohort(course, capacity=5)
        enrolment = make_enrolment(person, course)
        modules = _modules(course)
        add_check(modules[0])
        add_check(modules[-1])
        for module in modules[1:-1]:
            progress.open_module(person, enrolment, module)
            progress.complete_module(person, enrolment, module)
        stored = storage.save(b"x", "x.txt", "text/plain")
        content.save_resource(modules[1], title="File", stored_file=stored)
        content.save_resource(modules[1], title="Link", url="https://example.org")
        db.session.flush()
        client.post("/account/logout")
        login_as(person)
        course_counts.append(_count(client, count_queries, f"/courses/{course.id}"))
        module_counts.append(_count(client, count_queries, f"/courses/{course.id}/modules/{modules[1].id}"))
        check_counts.append(_count(client, count_queries, f"/courses/{course.id}/modules/{modules[0].id}"))
    _same_count(*course_counts)
    _same_count(*module_counts)
    _same_count(*check_counts)


def test_catalogue_query_count_does_not_grow(
    client, login_as, trainee, make_course, awarding_body, count_queries, db
):
    counts = []
    for size in (2, 18):
        first = make_course(title=f"Base {size}", modules=0)
        for n in range(size):
            course = make_course(title=f"Batch {size} course {n}", modules=0, prerequisites=[first])
            _give_credits(db, course, awarding_body)
        login_as(trainee)
        counts.append(_count(client, count_queries, f"/courses?q=batch+{size}"))
    _same_count(*counts)


# --- XSS -----------------------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">click me</a>',
    "[click me](javascript:alert(1))",
    "[click me](JaVaScRiPt:alert(1))",
    "![pic](javascript:alert(1))",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href='vbscript:msgbox(1)'>vb</a>",
    '" onmouseover="alert(1)',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]

#: Scripts our own pages load (Bootstrap and lms.js); nothing else may appear.
_OWN_SCRIPT = re.compile(r"^(/static/|/bootstrap/static/)")
_DANGEROUS_TAGS = {
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "base",
    "frame",
    "frameset",
    "applet",
    "details",
}
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "background"}


class _Inspector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not _OWN_SCRIPT.match(attributes.get("src") or ""):
            self.problems.append(f"script {attrs}")
        if tag in _DANGEROUS_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "meta" and "http-equiv" in attributes:
            self.problems.append(f"meta {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style":
                self.problems.append(f"<{tag} style>")
            if name in _URL_ATTRIBUTES and value:
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:text/html")):
                    self.problems.append(f"<{tag} {name}={value!r}>")


def assert_harmless(html: str, where: str) -> None:
    """No script, event handler, dangerous URL or active tag that we did not put there."""
    inspector = _Inspector()
    inspector.feed(html)
    assert not inspector.problems, f"{where}: {inspector.problems}"


@pytest.fixture
def xss_world(
    db, make_user, make_organisation, make_course, make_cohort, make_enrolment, add_check, awarding_body
):
    """Build a course where every piece of user content is ``payload``."""

    def build(payload: str):
        trainee = make_user(Role.TRAINEE, name=payload[:200])
        body = make_organisation(f"Uni {payload}"[:200], kind=OrganisationKind.AWARDING_BODY)
        required = make_course(title=f"Required {payload}", modules=0)
        course = make_course(
            title=payload,
            summary=f"{payload}\n\n{payload}",
            audience=payload,
            provider=make_organisation(f"Provider {payload}"[:200]),
            modules=2,
        )
        _give_credits(db, course, body, level=payload[:60])
        cohort = make_cohort(course, name=payload, location=payload, capacity=3)
        first, second = _modules(course)
        first.title = payload
        first.content = f"{payload}\n\n{payload}"
        second.title = f"Next {payload}"
        check = add_check(second, questions=1, prompt=payload, explanation=payload)
        check.questions[0].options[0].text = payload[:500]
        stored = storage.save(b"x", payload, "text/html")
        db.session.add_all(
            [
                ModuleResource(module_id=first.id, title=payload, url="javascript:alert(1)", position=1),
                ModuleResource(
                    module_id=first.id, title=payload, url=f"https://example.org/{payload}", position=2
                ),
                ModuleResource(module_id=first.id, title=payload, stored_file=stored, position=3),
            ]
        )
        enrolment = make_enrolment(trainee, course, cohort)
        gated = make_course(title=f"Gated {payload}", prerequisites=[required])
        db.session.flush()
        return trainee, course, first, second, check, enrolment, gated

    return build


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_user_content_is_rendered_harmless(client, login_as, admin, xss_world, payload, app):
    trainee, course, first, second, check, _enrolment, gated = xss_world(payload)
    login_as(trainee)
    base = f"/courses/{course.id}"
    pages = {
        "catalogue": client.get("/courses"),
        "course": client.get(base),
        "module": client.get(f"{base}/modules/{first.id}"),
        "check form": client.get(f"{base}/modules/{second.id}"),
        "check errors": client.post(f"{base}/modules/{second.id}/check", data={}),
    }
    client.post(f"{base}/modules/{second.id}/check", data=_answers(check, correct=False))
    pages["check result"] = client.get(f"{base}/modules/{second.id}")
    pages["after complete"] = client.post(f"{base}/modules/{first.id}/complete", follow_redirects=True)
    pages["my learning"] = client.get("/courses/mine")
    pages["withdraw"] = client.get(f"{base}/withdraw")
    pages["refusal"] = client.post(f"/courses/{gated.id}/enrol")
    with app.test_request_context("/dashboard"):
        panel = render_template("courses/_learning_panel.html", learning=progress.dashboard(trainee))
    assert_harmless(panel, "learning panel")
    client.post("/account/logout")
    login_as(admin)
    pages["admin preview"] = client.get(f"{base}/modules/{second.id}")
    for where, response in pages.items():
        assert response.status_code < 500, where
        assert_harmless(_text(response), where)
    # The payload is shown as text, not dropped: people see what was written.
    if "<" in payload:
        assert "&lt;" in _text(pages["course"])


def test_javascript_resource_url_is_not_a_link(client, login_as, xss_world):
    trainee, course, first, *_rest = xss_world("plain title")
    login_as(trainee)
    page = _text(client.get(f"/courses/{course.id}/modules/{first.id}"))
    assert "javascript:" not in page
    assert "(link not available)" in page


def test_html_file_resource_downloads_inert(client, login_as, xss_world, db):
    trainee, course, first, *_rest = xss_world("<script>alert(1)</script>")
    resource = db.session.scalar(
        select(ModuleResource).where(
            ModuleResource.stored_file_id.is_not(None), ModuleResource.module_id == first.id
        )
    )
    login_as(trainee)
    response = client.get(f"/courses/{course.id}/modules/{first.id}/resources/{resource.id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_absurd_ids_and_page_numbers_are_refused_not_crashes(client, login_as, trainee, make_course):
    course = make_course()
    login_as(trainee)
    big = 10**20
    for url in (
        f"/courses/{big}",
        f"/courses/{course.id}/modules/{big}",
        f"/courses/{course.id}/modules/{big}/resources/{big}",
        f"/courses/{big}/withdraw",
        f"/courses?page={big}",
        f"/courses/mine?page={big}",
    ):
        assert client.get(url).status_code == 404, url
    for value in (str(big), "abc", "-1"):
        response = client.post(f"/courses/{course.id}/enrol", data={"cohort_id": value})
        assert response.status_code == 404, value
    assert client.get(f"/courses?provider_id={big}").status_code == 422
    assert enrolling.own_enrolment(trainee, course) is None
