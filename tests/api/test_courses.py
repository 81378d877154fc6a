"""The courses API: catalogue, modules, knowledge checks, cohorts, enrolments and progress."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from lms.courses import content, progress
from lms.courses.models import (
    CheckAttempt,
    Cohort,
    Course,
    CourseStatus,
    CreditRule,
    DeliveryFormat,
    Enrolment,
    EnrolmentStatus,
    Module,
    ModuleProgress,
)
from lms.extensions import db as _db
from lms.organisations.models import OrganisationKind
from lms.permissions import Role
from tests.api.test_base import assert_error

A, T, S, L, M = Role.ADMIN, Role.TRAINEE, Role.ASSESSOR, Role.LIAISON, Role.ORG_MANAGER

# --- helpers and fixtures -------------------------------------------------------------------


def _modules(course) -> list[Module]:
    return content.active_modules([course.id])[course.id]


def _count(model, *where) -> int:
    return _db.session.scalar(select(func.count()).select_from(model).where(*where))


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_json()


@pytest.fixture
def admin(make_user):
    """An administrator."""
    return make_user(A, name="Ada Admin")


@pytest.fixture
def trainee(make_user):
    """Trainee A."""
    return make_user(T, name="Alex Trainee")


@pytest.fixture
def other_trainee(make_user):
    """Trainee B, who must never reach A's things."""
    return make_user(T, name="Bea Trainee")


@pytest.fixture
def add_check(admin):
    """Give a module a two-question knowledge check (first option right); returns the check."""

    def add(module, pass_mark: int = 100):
        return content.save_knowledge_check(
            admin,
            module,
            pass_mark,
            [
                content.QuestionInput("Who leads?", ["The family", "The worker"], 0, "Families lead."),
                content.QuestionInput("When?", ["Early", "Late", "Never"], 0, "Early help works."),
            ],
        )

    return add


@pytest.fixture
def studying(trainee, make_course, make_enrolment):
    """Trainee A enrolled on a published two-module course: ``(course, enrolment)``."""
    course = make_course(modules=2, title="Restorative practice")
    return course, make_enrolment(trainee, course)


def _answers(check, *, right: bool = True) -> dict:
    """Answers to every question, all right or all wrong, keyed as JSON needs."""
    return {str(q.id): next(o.id for o in q.options if o.is_correct == right) for q in check.questions}


# --- courses ----------------------------------------------------------------------------------


class TestCourses:
    def test_trainees_see_published_courses_only(self, api, trainee, admin, make_course):
        published = make_course(title="Published")
        draft = make_course(title="Draft", status=CourseStatus.DRAFT)
        archived = make_course(title="Archived", status=CourseStatus.ARCHIVED)
        body = _ok(api(trainee).get("/api/v1/courses?per_page=100"))
        ids = {c["id"] for c in body["items"]}
        assert published.id in ids and not ids & {draft.id, archived.id}
        assert set(body) == {"items", "page", "per_page", "total", "pages"}
        assert_error(api(trainee).get(f"/api/v1/courses/{draft.id}"), 404, "not_found")
        assert_error(api(trainee).get(f"/api/v1/courses/{archived.id}"), 404, "not_found")
        # A status filter cannot widen a trainee's catalogue.
        assert _ok(api(trainee).get("/api/v1/courses?status=draft&per_page=100"))["items"] == body["items"]

        everything = {c["id"] for c in _ok(api(admin).get("/api/v1/courses?per_page=100"))["items"]}
        assert {published.id, draft.id, archived.id} <= everything
        drafts = _ok(api(admin).get("/api/v1/courses?status=draft&per_page=100"))["items"]
        assert draft.id in {c["id"] for c in drafts} and {c["status"] for c in drafts} == {"draft"}
        assert _ok(api(admin).get(f"/api/v1/courses/{draft.id}"))["status"] == "draft"

    def test_filters(self, api, trainee, make_course, make_organisation):
        awarding = make_organisation(kind=OrganisationKind.AWARDING_BODY)
        provider = make_organisation()
        blended = make_course(
            title="Family group conferencing", provider=provider, delivery_format=DeliveryFormat.BLENDED
        )
        online = make_course(title="Trauma informed practice")
        _db.session.add(CreditRule(course_id=online.id, awarding_body_id=awarding.id, credits=6, level="6"))
        _db.session.flush()
        caller = api(trainee)

        def ids(query: str) -> set[int]:
            return {c["id"] for c in _ok(caller.get(f"/api/v1/courses?per_page=100&{query}"))["items"]}

        assert ids("q=GROUP CONF") == {blended.id}
        assert ids(f"provider_id={provider.id}") == {blended.id}
        assert blended.id in ids("delivery_format=blended") and online.id not in ids(
            "delivery_format=blended"
        )
        assert online.id in ids("has_credits=true") and blended.id not in ids("has_credits=true")
        assert blended.id in ids("has_credits=false") and online.id not in ids("has_credits=false")
        assert_error(caller.get("/api/v1/courses?delivery_format=by_pigeon"), 422, field="delivery_format")

    def test_course_detail(self, api, trainee, make_course, make_organisation):
        awarding = make_organisation(name="University of Wales", kind=OrganisationKind.AWARDING_BODY)
        first = make_course(code="RP101", title="Restorative practice")
        course = make_course(code="FGC201", title="Family group conferencing", prerequisites=[first])
        _db.session.add(
            CreditRule(course_id=course.id, awarding_body_id=awarding.id, credits=6, level="FHEQ 6")
        )
        _db.session.flush()
        body = _ok(api(trainee).get(f"/api/v1/courses/{course.id}"))
        assert body["code"] == "FGC201" and body["status"] == "published"
        assert body["provider"] == {"id": course.provider_id, "name": course.provider.name}
        assert body["prerequisites"] == [{"id": first.id, "code": "RP101", "title": "Restorative practice"}]
        assert body["credits"] == {
            "awarding_body": {"id": awarding.id, "name": "University of Wales"},
            "credits": 6,
            "level": "FHEQ 6",
        }
        assert _ok(api(trainee).get(f"/api/v1/courses/{first.id}"))["credits"] is None

    def test_admin_creates_a_course(self, api, admin, make_course, make_organisation):
        provider = make_organisation()
        awarding = make_organisation(kind=OrganisationKind.AWARDING_BODY)
        first = make_course()
        response = api(admin).post(
            "/api/v1/courses",
            json={
                "code": "fgc 301",
                "title": "Family group conferencing",
                "provider_id": provider.id,
                "delivery_format": "blended",
                "notional_hours": 60,
                "prerequisite_ids": [first.id],
                "credits": {"awarding_body_id": awarding.id, "credits": 6, "level": "FHEQ 6"},
            },
        )
        body = _ok(response, 201)
        assert body["code"] == "FGC 301" and body["status"] == "draft" and body["is_self_enrol"] is True
        assert [p["id"] for p in body["prerequisites"]] == [first.id]
        assert body["credits"]["credits"] == 6
        course = _db.session.get(Course, body["id"])
        assert (
            course.title == "Family group conferencing" and course.credit_rule.awarding_body_id == awarding.id
        )

    def test_create_refusals(self, api, admin, make_course, make_organisation):
        taken = make_course(code="TAKEN1")
        provider = make_organisation()
        good = {"code": "taken1", "title": "T", "provider_id": provider.id, "delivery_format": "online"}
        before = _count(Course)
        assert_error(api(admin).post("/api/v1/courses", json=good), 422, "invalid_input", field="code")
        assert_error(
            api(admin).post("/api/v1/courses", json={**good, "code": "NEW1", "provider_id": 999_999}),
            422,
            field="provider_id",
        )
        assert_error(
            api(admin).post("/api/v1/courses", json={**good, "code": "NEW2", "prerequisite_ids": [999_999]}),
            422,
            field="prerequisite_ids",
        )
        assert _count(Course) == before
        assert taken.code == "TAKEN1"

    @pytest.mark.parametrize("role", [T, S, L, M])
    def test_only_admins_create_and_change_courses(
        self, api, make_user, make_course, make_organisation, role
    ):
        course = make_course()
        caller = api(make_user(role))
        body = {
            "code": "X1",
            "title": "X",
            "provider_id": make_organisation().id,
            "delivery_format": "online",
        }
        assert_error(caller.post("/api/v1/courses", json=body), 403, "forbidden")
        assert_error(caller.patch(f"/api/v1/courses/{course.id}", json={"title": "Mine"}), 403, "forbidden")
        assert _db.session.get(Course, course.id).title != "Mine"

    def test_admin_changes_a_course(self, api, admin, make_course, make_organisation):
        awarding = make_organisation(kind=OrganisationKind.AWARDING_BODY)
        course = make_course(status=CourseStatus.DRAFT)
        caller = api(admin)
        body = _ok(
            caller.patch(
                f"/api/v1/courses/{course.id}",
                json={"status": "published", "credits": {"awarding_body_id": awarding.id, "credits": 3}},
            )
        )
        assert body["status"] == "published" and body["credits"]["credits"] == 3
        body = _ok(caller.patch(f"/api/v1/courses/{course.id}", json={"credits": None}))
        assert body["credits"] is None
        assert _count(CreditRule, CreditRule.course_id == course.id) == 0
        assert_error(caller.patch("/api/v1/courses/999999", json={"title": "X"}), 404, "not_found")

    def test_credit_rule_needs_an_awarding_body(self, api, admin, make_course, make_organisation):
        course = make_course()
        not_a_university = make_organisation(kind=OrganisationKind.LICENCE_HOLDER)
        response = api(admin).patch(
            f"/api/v1/courses/{course.id}",
            json={"credits": {"awarding_body_id": not_a_university.id, "credits": 6}},
        )
        assert_error(response, 422, field="awarding_body_id")

    def test_prerequisite_cycle_is_refused(self, api, admin, make_course):
        first = make_course(code="RP101")
        second = make_course(code="FGC201", prerequisites=[first])
        third = make_course(code="ADV301", prerequisites=[second])
        response = api(admin).patch(f"/api/v1/courses/{first.id}", json={"prerequisite_ids": [third.id]})
        error = assert_error(response, 422, "invalid_input", field="prerequisite_ids")
        assert "RP101" in error["message"] and "ADV301" in error["message"]
        assert (
            api(admin).patch(f"/api/v1/courses/{first.id}", json={"prerequisite_ids": [first.id]}).status_code
            == 422
        )
        _db.session.expire_all()
        assert _db.session.get(Course, first.id).prerequisites == []
        body = _ok(
            api(admin).patch(f"/api/v1/courses/{third.id}", json={"prerequisite_ids": [first.id, second.id]})
        )
        assert [p["code"] for p in body["prerequisites"]] == ["FGC201", "RP101"]


# --- modules ----------------------------------------------------------------------------------


class TestModules:
    def test_list_in_order_with_content_for_students(self, api, admin, trainee, other_trainee, studying):
        course, _enrolment = studying
        first, second = _modules(course)
        first.content = "# Welcome\n\n**Bold** <script>alert(1)</script> [x](javascript:alert(1))"
        content.reorder_modules(admin, course, [second.id, first.id])
        _db.session.flush()

        body = _ok(api(trainee).get(f"/api/v1/courses/{course.id}/modules"))
        assert [m["id"] for m in body["items"]] == [second.id, first.id]
        assert body["total"] == 2
        shown = body["items"][1]
        assert shown["content"] == first.content
        html = shown["content_html"]
        assert "<strong>Bold</strong>" in html and "<h2>Welcome</h2>" in html
        assert "<script" not in html and "&lt;script&gt;" in html and 'href="javascript' not in html
        assert shown["has_knowledge_check"] is False and shown["resources"] == []

        assert "content" in _ok(api(admin).get(f"/api/v1/courses/{course.id}/modules"))["items"][0]

        # Not enrolled: the outline, as the course page shows it, without the content.
        outline = _ok(api(other_trainee).get(f"/api/v1/courses/{course.id}/modules"))["items"]
        assert [m["title"] for m in outline] == [second.title, first.title]
        assert not {"content", "content_html", "resources"} & set(outline[0])

    def test_modules_of_drafts_are_invisible(self, api, trainee, make_course):
        draft = make_course(status=CourseStatus.DRAFT)
        module = _modules(draft)[0]
        assert_error(api(trainee).get(f"/api/v1/courses/{draft.id}/modules"), 404)
        assert_error(api(trainee).get(f"/api/v1/courses/{draft.id}/modules/{module.id}"), 404)

    def test_get_module(self, api, admin, trainee, other_trainee, studying, make_course):
        course, enrolment = studying
        module = _modules(course)[0]
        url = f"/api/v1/courses/{course.id}/modules/{module.id}"
        body = _ok(api(trainee).get(url))
        assert body["id"] == module.id and body["content"] == "Read this."
        assert (
            _count(ModuleProgress, ModuleProgress.enrolment_id == enrolment.id) == 0
        )  # reading records nothing
        assert _ok(api(admin).get(url))["id"] == module.id
        assert_error(api(other_trainee).get(url), 404)
        elsewhere = _modules(make_course())[0]
        assert_error(api(trainee).get(f"/api/v1/courses/{course.id}/modules/{elsewhere.id}"), 404)

    def test_waiting_list_cannot_open_modules(
        self, api, trainee, make_course, make_cohort, make_user, make_enrolment
    ):
        course = make_course()
        cohort = make_cohort(course, capacity=1)
        make_enrolment(make_user(T), course, cohort)
        assert make_enrolment(trainee, course, cohort).status == EnrolmentStatus.WAITLISTED
        module = _modules(course)[0]
        url = f"/api/v1/courses/{course.id}/modules/{module.id}"
        # The service's answer for a state that may change (a place frees up): a conflict.
        assert_error(api(trainee).get(url), 409, "conflict")
        assert_error(api(trainee).get(f"{url}/knowledge-check"), 409, "conflict")

    def test_admin_adds_and_edits_modules(self, api, admin, make_course):
        course = make_course(modules=1)
        caller = api(admin)
        body = _ok(
            caller.post(
                f"/api/v1/courses/{course.id}/modules",
                json={"title": "Working with families", "content": "Some *text*", "estimated_minutes": 30},
            ),
            201,
        )
        assert body["position"] == 2 and body["content_html"] == "<p>Some <em>text</em></p>\n"
        assert [m.title for m in _modules(course)][-1] == "Working with families"
        body = _ok(
            caller.patch(f"/api/v1/courses/{course.id}/modules/{body['id']}", json={"is_required": False})
        )
        assert body["is_required"] is False and body["title"] == "Working with families"
        assert_error(
            caller.post(f"/api/v1/courses/{course.id}/modules", json={"title": "   "}), 422, field="title"
        )

    def test_reorder(self, api, admin, make_course):
        course = make_course(modules=3)
        ids = [m.id for m in _modules(course)]
        url = f"/api/v1/courses/{course.id}/modules/order"
        body = _ok(api(admin).put(url, json={"module_ids": ids[::-1]}))
        assert body == {"module_ids": ids[::-1]}
        assert [m.id for m in _modules(course)] == ids[::-1]
        assert_error(api(admin).put(url, json={"module_ids": ids[:2]}), 422, field="module_ids")
        assert_error(api(admin).put(url, json={"module_ids": [*ids, ids[0]]}), 422, field="module_ids")
        assert [m.id for m in _modules(course)] == ids[::-1]

    @pytest.mark.parametrize("role", [T, S, L, M])
    def test_only_admins_build_modules(self, api, make_user, make_course, role):
        course = make_course(modules=2)
        module = _modules(course)[0]
        caller = api(make_user(role))
        base = f"/api/v1/courses/{course.id}/modules"
        check = {"pass_mark": 50, "questions": [{"prompt": "Q", "options": ["a", "b"], "correct": 0}]}
        assert_error(caller.post(base, json={"title": "Mine"}), 403)
        assert_error(caller.patch(f"{base}/{module.id}", json={"title": "Mine"}), 403)
        assert_error(
            caller.put(f"{base}/order", json={"module_ids": [m.id for m in _modules(course)][::-1]}), 403
        )
        assert_error(caller.put(f"{base}/{module.id}/knowledge-check", json=check), 403)
        assert [m.title for m in _modules(course)] == ["Module 1", "Module 2"]

    @pytest.mark.parametrize("role", [S, L, M])
    def test_other_roles_do_not_open_modules(self, api, make_user, make_course, role):
        course = make_course()
        module = _modules(course)[0]
        caller = api(make_user(role))
        assert_error(caller.get(f"/api/v1/courses/{course.id}/modules/{module.id}"), 403)
        assert_error(caller.get(f"/api/v1/courses/{course.id}/modules/{module.id}/knowledge-check"), 403)


class TestKnowledgeChecks:
    def test_admin_writes_a_check(self, api, admin, make_course):
        course = make_course()
        module = _modules(course)[0]
        url = f"/api/v1/courses/{course.id}/modules/{module.id}/knowledge-check"
        body = _ok(
            api(admin).put(
                url,
                json={
                    "pass_mark": 50,
                    "questions": [
                        {"prompt": "Who leads?", "options": ["Family", "Worker"], "correct": 0},
                        {
                            "prompt": "When?",
                            "options": ["Early", "Late", "Never"],
                            "correct": 2,
                            "explanation": "!",
                        },
                    ],
                },
            )
        )
        assert body["pass_mark"] == 50 and len(body["questions"]) == 2
        assert [o["is_correct"] for o in body["questions"][1]["options"]] == [False, False, True]
        assert body["questions"][1]["explanation"] == "!"
        modules = _ok(api(admin).get(f"/api/v1/courses/{course.id}/modules"))["items"]
        assert modules[0]["has_knowledge_check"] is True

    def test_invalid_check_is_refused(self, api, admin, make_course):
        course = make_course()
        module = _modules(course)[0]
        url = f"/api/v1/courses/{course.id}/modules/{module.id}/knowledge-check"
        out_of_range = {"pass_mark": 50, "questions": [{"prompt": "Q", "options": ["a", "b"], "correct": 3}]}
        assert_error(api(admin).put(url, json=out_of_range), 422, field="questions")
        one_option = {"pass_mark": 50, "questions": [{"prompt": "Q", "options": ["a"], "correct": 0}]}
        assert_error(api(admin).put(url, json=one_option), 422, field="questions.0.options")
        assert_error(api(admin).put(url, json={"pass_mark": 50, "questions": []}), 422, field="questions")
        assert content.knowledge_checks_for([module.id]) == {}

    def test_trainees_never_see_the_answers(self, api, admin, trainee, other_trainee, studying, add_check):
        course, _enrolment = studying
        module = _modules(course)[0]
        check = add_check(module)
        url = f"/api/v1/courses/{course.id}/modules/{module.id}/knowledge-check"
        response = api(trainee).get(url)
        body = _ok(response)
        assert [q["prompt"] for q in body["questions"]] == ["Who leads?", "When?"]
        assert body["questions"][0]["options"] == [
            {"id": o.id, "text": o.text} for o in check.questions[0].options
        ]
        text = response.get_data(as_text=True)
        assert "is_correct" not in text and "explanation" not in text and "Families lead" not in text

        admin_view = _ok(api(admin).get(url))
        assert admin_view["questions"][0]["options"][0]["is_correct"] is True
        assert admin_view["questions"][0]["explanation"] == "Families lead."

        assert_error(api(other_trainee).get(url), 404)
        second = _modules(course)[1]
        assert_error(
            api(trainee).get(f"/api/v1/courses/{course.id}/modules/{second.id}/knowledge-check"), 404
        )

    def test_admin_who_studies_still_sees_the_answers(
        self, api, make_user, make_course, make_enrolment, add_check
    ):
        both = make_user(A, T)
        course = make_course()
        make_enrolment(both, course)
        module = _modules(course)[0]
        add_check(module)
        body = _ok(api(both).get(f"/api/v1/courses/{course.id}/modules/{module.id}/knowledge-check"))
        assert "is_correct" in body["questions"][0]["options"][0]


# --- cohorts ----------------------------------------------------------------------------------


class TestCohorts:
    def test_trainees_see_open_cohorts_admins_all(self, api, admin, trainee, make_course, make_cohort):
        course = make_course()
        yesterday = dt.date.today() - dt.timedelta(days=1)
        later = make_cohort(course, name="Later", starts_on=dt.date.today() + dt.timedelta(days=30))
        sooner = make_cohort(course, name="Sooner", capacity=12)
        closed = make_cohort(course, name="Closed", enrolment_closes_on=yesterday)
        url = f"/api/v1/courses/{course.id}/cohorts"
        body = _ok(api(trainee).get(url))
        assert [c["id"] for c in body["items"]] == [sooner.id, later.id]
        first = body["items"][0]
        assert (first["capacity"], first["seats_taken"], first["seats_left"], first["is_open"]) == (
            12,
            0,
            12,
            True,
        )
        assert body["items"][1]["seats_left"] is None
        every = _ok(api(admin).get(url))["items"]
        assert {c["id"] for c in every} == {sooner.id, later.id, closed.id}
        assert next(c for c in every if c["id"] == closed.id)["is_open"] is False

    def test_get_cohort(self, api, trainee, admin, make_course, make_cohort, make_user, make_enrolment):
        course = make_course()
        cohort = make_cohort(course, capacity=3)
        make_enrolment(make_user(T), course, cohort)
        body = _ok(api(trainee).get(f"/api/v1/cohorts/{cohort.id}"))
        assert (body["capacity"], body["seats_taken"], body["seats_left"]) == (3, 1, 2)
        assert body["course_id"] == course.id
        draft_cohort = make_cohort(make_course(status=CourseStatus.DRAFT))
        assert_error(api(trainee).get(f"/api/v1/cohorts/{draft_cohort.id}"), 404)
        assert _ok(api(admin).get(f"/api/v1/cohorts/{draft_cohort.id}"))["id"] == draft_cohort.id
        assert_error(api(trainee).get("/api/v1/cohorts/999999"), 404)

    def test_admin_creates_and_edits_cohorts(self, api, admin, make_course, make_user):
        course = make_course(delivery_format=DeliveryFormat.BLENDED)
        facilitator = make_user(S, name="Fran Facilitator")
        caller = api(admin)
        body = _ok(
            caller.post(
                f"/api/v1/courses/{course.id}/cohorts",
                json={
                    "name": "Spring 2027, Cardiff",
                    "starts_on": "2027-03-01",
                    "ends_on": "2027-03-05",
                    "capacity": 2,
                    "facilitator_ids": [facilitator.id],
                },
            ),
            201,
        )
        assert body["delivery_format"] == "blended" and body["seats_left"] == 2
        assert body["facilitators"] == [{"id": facilitator.id, "name": "Fran Facilitator"}]
        body = _ok(
            caller.patch(f"/api/v1/cohorts/{body['id']}", json={"capacity": None, "location": "Cardiff"})
        )
        assert body["capacity"] is None and body["seats_left"] is None and body["location"] == "Cardiff"
        assert body["facilitators"] == [{"id": facilitator.id, "name": "Fran Facilitator"}]

    def test_cohort_rules(self, api, admin, make_course, make_cohort, make_user, make_enrolment):
        course = make_course()
        caller = api(admin)
        response = caller.post(
            f"/api/v1/courses/{course.id}/cohorts",
            json={"name": "Backwards", "starts_on": "2027-03-05", "ends_on": "2027-03-01"},
        )
        assert_error(response, 422, field="ends_on")
        assert _count(Cohort, Cohort.course_id == course.id) == 0
        cohort = make_cohort(course, capacity=2)
        make_enrolment(make_user(T), course, cohort)
        make_enrolment(make_user(T), course, cohort)
        assert_error(
            caller.patch(f"/api/v1/cohorts/{cohort.id}", json={"capacity": 1}), 422, field="capacity"
        )

    def test_more_places_go_to_the_waiting_list(
        self, api, admin, trainee, make_course, make_cohort, make_user, make_enrolment
    ):
        course = make_course()
        cohort = make_cohort(course, capacity=1)
        make_enrolment(make_user(T), course, cohort)
        waiting = make_enrolment(trainee, course, cohort)
        assert waiting.status == EnrolmentStatus.WAITLISTED
        body = _ok(api(admin).patch(f"/api/v1/cohorts/{cohort.id}", json={"capacity": 2}))
        assert (body["seats_taken"], body["seats_left"]) == (2, 0)
        assert _ok(api(trainee).get(f"/api/v1/enrolments/{waiting.id}"))["status"] == "active"

    @pytest.mark.parametrize("role", [T, S, L, M])
    def test_only_admins_build_cohorts(self, api, make_user, make_course, make_cohort, role):
        course = make_course()
        cohort = make_cohort(course)
        caller = api(make_user(role))
        body = {"name": "Mine", "starts_on": "2027-03-01", "ends_on": "2027-03-05"}
        assert_error(caller.post(f"/api/v1/courses/{course.id}/cohorts", json=body), 403)
        assert_error(caller.patch(f"/api/v1/cohorts/{cohort.id}", json={"name": "Mine"}), 403)
        assert _count(Cohort, Cohort.course_id == course.id) == 1


# --- enrolments -------------------------------------------------------------------------------


class TestEnrolling:
    def test_enrol_oneself(self, api, trainee, make_course, make_cohort):
        course = make_course()
        cohort = make_cohort(course, capacity=5)
        body = _ok(
            api(trainee).post("/api/v1/enrolments", json={"course_id": course.id, "cohort_id": cohort.id}),
            201,
        )
        assert body["status"] == "active" and body["user"]["id"] == trainee.id
        assert body["course"] == {"id": course.id, "code": course.code, "title": course.title}
        assert body["cohort"]["id"] == cohort.id
        assert (body["percent"], body["completed_module_ids"]) == (0, [])
        assert body["next_module_id"] == _modules(course)[0].id
        assert len(body["unmet_requirements"]) == 2
        assert _db.session.get(Cohort, cohort.id).seats_taken == 1

    def test_already_enrolled_is_a_conflict(self, api, trainee, make_course):
        course = make_course()
        caller = api(trainee)
        _ok(caller.post("/api/v1/enrolments", json={"course_id": course.id}), 201)
        assert_error(caller.post("/api/v1/enrolments", json={"course_id": course.id}), 409, "conflict")
        assert _count(Enrolment, Enrolment.course_id == course.id) == 1

    def test_full_cohort(
        self, api, trainee, other_trainee, make_course, make_cohort, make_user, make_enrolment
    ):
        course = make_course()
        full = make_cohort(course, capacity=1, has_waiting_list=False)
        make_enrolment(make_user(T), course, full)
        response = api(trainee).post(
            "/api/v1/enrolments", json={"course_id": course.id, "cohort_id": full.id}
        )
        assert_error(response, 409, "conflict")
        assert _count(Enrolment, Enrolment.user_id == trainee.id) == 0

        waiting_list = make_cohort(course, capacity=1)
        make_enrolment(make_user(T), course, waiting_list)
        body = _ok(
            api(other_trainee).post(
                "/api/v1/enrolments", json={"course_id": course.id, "cohort_id": waiting_list.id}
            ),
            201,
        )
        assert body["status"] == "waitlisted"

    def test_prerequisites_first(self, api, trainee, make_course):
        first = make_course(code="RP101")
        second = make_course(code="FGC201", prerequisites=[first])
        error = assert_error(
            api(trainee).post("/api/v1/enrolments", json={"course_id": second.id}), 422, field="course_id"
        )
        assert "RP101" in error["message"]
        assert _count(Enrolment, Enrolment.user_id == trainee.id) == 0

    def test_invisible_or_unknown_courses_and_cohorts(self, api, trainee, make_course, make_cohort):
        draft = make_course(status=CourseStatus.DRAFT)
        caller = api(trainee)
        assert_error(caller.post("/api/v1/enrolments", json={"course_id": draft.id}), 422, field="course_id")
        assert_error(caller.post("/api/v1/enrolments", json={"course_id": 999_999}), 422, field="course_id")
        course = make_course()
        elsewhere = make_cohort(make_course())
        response = caller.post("/api/v1/enrolments", json={"course_id": course.id, "cohort_id": elsewhere.id})
        assert_error(response, 422, field="cohort_id")
        assert _count(Enrolment, Enrolment.user_id == trainee.id) == 0

    def test_a_cohort_is_needed_when_the_course_has_them(self, api, trainee, make_course, make_cohort):
        course = make_course()
        make_cohort(course)
        assert_error(
            api(trainee).post("/api/v1/enrolments", json={"course_id": course.id}), 422, field="cohort_id"
        )

    def test_trainee_cannot_enrol_someone_else(self, api, trainee, other_trainee, make_course):
        course = make_course()
        for user_id in (trainee.id, 999_999):
            response = api(other_trainee).post(
                "/api/v1/enrolments", json={"course_id": course.id, "user_id": user_id}
            )
            assert_error(response, 403, "forbidden")
        assert _count(Enrolment, Enrolment.course_id == course.id) == 0

    def test_org_manager_enrols_own_staff_only(self, api, make_user, make_organisation, make_course):
        home, away = make_organisation(), make_organisation()
        manager = make_user(M, organisation_id=home.id)
        staff = make_user(T, organisation_id=home.id)
        stranger = make_user(T, organisation_id=away.id)
        course = make_course(is_self_enrol=False)
        caller = api(manager)
        body = _ok(caller.post("/api/v1/enrolments", json={"course_id": course.id, "user_id": staff.id}), 201)
        assert body["user"]["id"] == staff.id
        assert _db.session.get(Enrolment, body["id"]).enrolled_by_id == manager.id
        for user_id in (stranger.id, 999_999):
            response = caller.post("/api/v1/enrolments", json={"course_id": course.id, "user_id": user_id})
            assert_error(response, 403)
        assert _count(Enrolment, Enrolment.user_id == stranger.id) == 0

    def test_admin_enrols_anyone(self, api, admin, trainee, make_course, make_cohort):
        course = make_course(is_self_enrol=False)
        closed = make_cohort(course, enrolment_closes_on=dt.date.today() - dt.timedelta(days=1))
        body = _ok(
            api(admin).post(
                "/api/v1/enrolments",
                json={"course_id": course.id, "cohort_id": closed.id, "user_id": trainee.id},
            ),
            201,
        )
        assert body["user"]["id"] == trainee.id and body["cohort"]["id"] == closed.id
        response = api(admin).post("/api/v1/enrolments", json={"course_id": course.id, "user_id": 999_999})
        assert_error(response, 422, field="user_id")

    def test_self_enrolment_closed(self, api, trainee, make_course):
        course = make_course(is_self_enrol=False)
        assert_error(api(trainee).post("/api/v1/enrolments", json={"course_id": course.id}), 403, "forbidden")

    @pytest.mark.parametrize("role", [S, L])
    def test_assessors_and_liaisons_do_not_enrol(self, api, make_user, make_course, role):
        course = make_course()
        assert_error(api(make_user(role)).post("/api/v1/enrolments", json={"course_id": course.id}), 403)


class TestEnrolments:
    def test_own_list_and_detail(self, api, trainee, other_trainee, studying, make_course, make_enrolment):
        course, enrolment = studying
        other = make_enrolment(other_trainee, make_course())
        body = _ok(api(trainee).get("/api/v1/enrolments"))
        assert [e["id"] for e in body["items"]] == [enrolment.id]
        assert body["items"][0]["percent"] == 0
        detail = _ok(api(trainee).get(f"/api/v1/enrolments/{enrolment.id}"))
        assert detail["course"]["id"] == course.id
        # B changes the id: nothing to see, and B's own list does not grow with a filter.
        assert_error(api(other_trainee).get(f"/api/v1/enrolments/{enrolment.id}"), 404, "not_found")
        assert _ok(api(other_trainee).get(f"/api/v1/enrolments?user_id={trainee.id}"))["items"] == []
        assert [e["id"] for e in _ok(api(other_trainee).get("/api/v1/enrolments?scope=all"))["items"]] == [
            other.id
        ]

    def test_admin_filters(self, api, admin, trainee, other_trainee, make_course, make_enrolment):
        course = make_course()
        mine = make_enrolment(trainee, course)
        theirs = make_enrolment(other_trainee, course)
        elsewhere = make_enrolment(trainee, make_course())
        caller = api(admin)
        assert _ok(caller.get("/api/v1/enrolments"))["items"] == []  # the admin's own
        on_course = _ok(caller.get(f"/api/v1/enrolments?scope=all&course_id={course.id}"))["items"]
        assert {e["id"] for e in on_course} == {mine.id, theirs.id}
        of_person = _ok(caller.get(f"/api/v1/enrolments?user_id={trainee.id}"))["items"]
        assert {e["id"] for e in of_person} == {mine.id, elsewhere.id}
        assert _ok(caller.get(f"/api/v1/enrolments/{theirs.id}"))["user"]["id"] == other_trainee.id
        assert _ok(caller.get("/api/v1/enrolments?scope=all&status=waitlisted"))["total"] == 0

    def test_org_manager_sees_own_staff(self, api, make_user, make_organisation, make_course, make_enrolment):
        home, away = make_organisation(), make_organisation()
        manager = make_user(M, organisation_id=home.id)
        staff = make_user(T, organisation_id=home.id)
        stranger = make_user(T, organisation_id=away.id)
        course = make_course()
        own_staff = make_enrolment(staff, course)
        foreign = make_enrolment(stranger, course)
        caller = api(manager)
        assert [e["id"] for e in _ok(caller.get("/api/v1/enrolments?scope=all"))["items"]] == [own_staff.id]
        assert _ok(caller.get(f"/api/v1/enrolments?user_id={stranger.id}"))["items"] == []
        assert _ok(caller.get(f"/api/v1/enrolments/{own_staff.id}"))["user"]["email"] == staff.email
        assert_error(caller.get(f"/api/v1/enrolments/{foreign.id}"), 404)
        unattached = api(make_user(M))
        assert _ok(unattached.get("/api/v1/enrolments?scope=all"))["items"] == []
        assert_error(unattached.get(f"/api/v1/enrolments/{own_staff.id}"), 404)

    def test_withdraw(self, api, trainee, other_trainee, make_course, make_cohort, make_user, make_enrolment):
        course = make_course()
        cohort = make_cohort(course, capacity=1)
        enrolment = make_enrolment(trainee, course, cohort)
        waiting = make_enrolment(make_user(T), course, cohort)
        url = f"/api/v1/enrolments/{enrolment.id}/withdraw"
        assert_error(api(other_trainee).post(url, json={}), 404)
        assert _db.session.get(Enrolment, enrolment.id).status == EnrolmentStatus.ACTIVE
        body = _ok(api(trainee).post(url, json={"reason": "Moving job"}))
        assert body["status"] == "withdrawn" and body["withdrawn_at"]
        assert _db.session.get(Enrolment, waiting.id).status == EnrolmentStatus.ACTIVE
        assert_error(api(trainee).post(url, json={}), 409, "conflict")
        assert_error(api(trainee).post(url), 409, "conflict")  # no body at all is an empty one

    def test_admin_withdraws_anyone(self, api, admin, trainee, make_course, make_enrolment):
        enrolment = make_enrolment(trainee, make_course())
        body = _ok(api(admin).post(f"/api/v1/enrolments/{enrolment.id}/withdraw", json={}))
        assert body["status"] == "withdrawn"


# --- progress ---------------------------------------------------------------------------------


class TestProgress:
    def test_open_complete_and_finish_the_course(self, api, trainee, studying):
        course, enrolment = studying
        first, second = _modules(course)
        caller = api(trainee)
        base = f"/api/v1/enrolments/{enrolment.id}/modules"
        body = _ok(caller.post(f"{base}/{second.id}/open"))
        assert body["module_id"] == second.id and body["opened_at"] and body["completed_at"] is None
        assert body["enrolment"]["next_module_id"] == second.id  # continue where I left off
        body = _ok(caller.post(f"{base}/{second.id}/complete"))
        assert body["completed_at"] and body["enrolment"]["percent"] == 50
        assert body["enrolment"]["completed_module_ids"] == [second.id]
        assert body["enrolment"]["next_module_id"] == first.id
        _ok(caller.post(f"{base}/{first.id}/open"))
        body = _ok(caller.post(f"{base}/{first.id}/complete"))
        assert body["enrolment"]["status"] == "completed" and body["enrolment"]["percent"] == 100
        assert body["enrolment"]["unmet_requirements"] == [] and body["enrolment"]["next_module_id"] is None
        detail = _ok(caller.get(f"/api/v1/enrolments/{enrolment.id}"))
        assert detail["completed_at"] and sorted(detail["completed_module_ids"]) == sorted(
            [first.id, second.id]
        )

    def test_progress_rules(self, api, trainee, studying, add_check, make_course):
        course, enrolment = studying
        first, second = _modules(course)
        add_check(second)
        caller = api(trainee)
        base = f"/api/v1/enrolments/{enrolment.id}/modules"
        assert_error(caller.post(f"{base}/{first.id}/complete"), 409, "conflict")  # never opened
        _ok(caller.post(f"{base}/{second.id}/open"))
        assert_error(caller.post(f"{base}/{second.id}/complete"), 409, "conflict")  # has a knowledge check
        elsewhere = _modules(make_course())[0]
        assert_error(caller.post(f"{base}/{elsewhere.id}/open"), 404)

    def test_waiting_list_records_no_progress(
        self, api, trainee, make_course, make_cohort, make_user, make_enrolment
    ):
        course = make_course()
        cohort = make_cohort(course, capacity=1)
        make_enrolment(make_user(T), course, cohort)
        waiting = make_enrolment(trainee, course, cohort)
        module = _modules(course)[0]
        assert_error(api(trainee).post(f"/api/v1/enrolments/{waiting.id}/modules/{module.id}/open"), 409)
        assert _count(ModuleProgress, ModuleProgress.enrolment_id == waiting.id) == 0

    def test_knowledge_check_attempts(self, api, trainee, studying, add_check):
        course, enrolment = studying
        module = _modules(course)[1]
        check = add_check(module, pass_mark=100)
        caller = api(trainee)
        url = f"/api/v1/enrolments/{enrolment.id}/modules/{module.id}/knowledge-check-attempts"
        first_q, second_q = check.questions
        answers = {str(first_q.id): first_q.options[0].id, str(second_q.id): second_q.options[1].id}
        response = caller.post(url, json={"answers": answers})
        body = _ok(response, 201)
        assert (body["score"], body["is_passed"], body["pass_mark"]) == (50, False, 100)
        assert body["questions"] == [
            {
                "question_id": first_q.id,
                "chosen_option_id": first_q.options[0].id,
                "is_correct": True,
                "explanation": "Families lead.",
            },
            {
                "question_id": second_q.id,
                "chosen_option_id": second_q.options[1].id,
                "is_correct": False,
                "explanation": "Early help works.",
            },
        ]
        # Which option was the right one is not given away: no options, only the trainee's own choice.
        assert "options" not in response.get_data(as_text=True)
        assert body["enrolment"]["completed_module_ids"] == []

        body = _ok(caller.post(url, json={"answers": _answers(check)}), 201)
        assert (body["score"], body["is_passed"]) == (100, True)
        assert body["enrolment"]["completed_module_ids"] == [module.id]
        assert _count(CheckAttempt, CheckAttempt.enrolment_id == enrolment.id) == 2

    def test_unanswered_question(self, api, trainee, studying, add_check):
        course, enrolment = studying
        module = _modules(course)[0]
        check = add_check(module)
        first_q, second_q = check.questions
        url = f"/api/v1/enrolments/{enrolment.id}/modules/{module.id}/knowledge-check-attempts"
        response = api(trainee).post(url, json={"answers": {str(first_q.id): first_q.options[0].id}})
        assert_error(response, 422, "invalid_input", field=f"question-{second_q.id}")
        wrong_question = {str(first_q.id): second_q.options[0].id, str(second_q.id): second_q.options[0].id}
        assert_error(
            api(trainee).post(url, json={"answers": wrong_question}), 422, field=f"question-{first_q.id}"
        )
        assert_error(api(trainee).post(url, json={"answers": {"abc": 1}}), 422, field="answers.abc.key")
        assert _count(CheckAttempt, CheckAttempt.enrolment_id == enrolment.id) == 0

    def test_module_without_a_check(self, api, trainee, studying):
        course, enrolment = studying
        module = _modules(course)[0]
        url = f"/api/v1/enrolments/{enrolment.id}/modules/{module.id}/knowledge-check-attempts"
        assert_error(api(trainee).post(url, json={"answers": {}}), 404)

    def test_someone_elses_enrolment_is_not_found(
        self, api, trainee, other_trainee, studying, add_check, make_enrolment
    ):
        course, enrolment = studying
        first, second = _modules(course)
        check = add_check(second)
        api(trainee).post(f"/api/v1/enrolments/{enrolment.id}/modules/{first.id}/open")
        make_enrolment(other_trainee, course)  # B studies the same course, with an enrolment of their own
        intruder = api(other_trainee)
        base = f"/api/v1/enrolments/{enrolment.id}/modules"
        assert_error(intruder.post(f"{base}/{first.id}/open"), 404, "not_found")
        assert_error(intruder.post(f"{base}/{first.id}/complete"), 404, "not_found")
        response = intruder.post(
            f"{base}/{second.id}/knowledge-check-attempts", json={"answers": _answers(check)}
        )
        assert_error(response, 404, "not_found")
        assert_error(intruder.get(f"/api/v1/enrolments/{enrolment.id}"), 404)
        assert_error(intruder.post(f"/api/v1/enrolments/{enrolment.id}/withdraw", json={}), 404)
        _db.session.expire_all()
        assert _count(CheckAttempt, CheckAttempt.enrolment_id == enrolment.id) == 0
        done = _db.session.scalar(
            select(func.count())
            .select_from(ModuleProgress)
            .where(ModuleProgress.enrolment_id == enrolment.id, ModuleProgress.completed_at.is_not(None))
        )
        assert done == 0
        assert _db.session.get(Enrolment, enrolment.id).status == EnrolmentStatus.ACTIVE

    def test_admins_and_managers_do_not_study_for_others(
        self, api, admin, make_user, make_organisation, make_course, make_enrolment
    ):
        home = make_organisation()
        staff = make_user(T, organisation_id=home.id)
        enrolment = make_enrolment(staff, make_course())
        module = _modules(enrolment.course)[0]
        url = f"/api/v1/enrolments/{enrolment.id}/modules/{module.id}/open"
        assert_error(api(make_user(A, T)).post(url), 404)
        assert_error(api(make_user(M, organisation_id=home.id)).post(url), 403)
        assert_error(api(admin).post(url), 403)


# --- cohort progress --------------------------------------------------------------------------


class TestCohortEnrolments:
    def test_admin_sees_everyone_managers_their_staff(
        self, api, admin, make_user, make_organisation, make_course, make_cohort, make_enrolment
    ):
        home, away = make_organisation(), make_organisation()
        course = make_course(modules=2)
        cohort = make_cohort(course)
        ann = make_user(T, name="Ann", organisation_id=home.id)
        bob = make_user(T, name="Bob", organisation_id=away.id)
        ann_enrolment = make_enrolment(ann, course, cohort)
        make_enrolment(bob, course, cohort)
        progress.open_module(ann, ann_enrolment, _modules(course)[0])
        progress.complete_module(ann, ann_enrolment, _modules(course)[0])
        url = f"/api/v1/cohorts/{cohort.id}/enrolments"
        body = _ok(api(admin).get(url))
        assert [(e["user"]["name"], e["percent"]) for e in body["items"]] == [("Ann", 50), ("Bob", 0)]
        assert [
            e["user"]["name"] for e in _ok(api(admin).get(f"{url}?organisation_id={away.id}"))["items"]
        ] == ["Bob"]
        manager = api(make_user(M, organisation_id=home.id))
        assert [e["user"]["name"] for e in _ok(manager.get(url))["items"]] == ["Ann"]
        # The organisation filter cannot widen a manager's view.
        assert [e["user"]["name"] for e in _ok(manager.get(f"{url}?organisation_id={away.id}"))["items"]] == [
            "Ann"
        ]
        assert _ok(api(make_user(M)).get(url))["items"] == []

    def test_drafts_are_invisible_to_managers(
        self, api, make_user, make_organisation, make_course, make_cohort
    ):
        cohort = make_cohort(make_course(status=CourseStatus.DRAFT))
        manager = api(make_user(M, organisation_id=make_organisation().id))
        assert_error(manager.get(f"/api/v1/cohorts/{cohort.id}/enrolments"), 404)

    @pytest.mark.parametrize("role", [T, S, L])
    def test_others_are_refused(self, api, make_user, make_course, make_cohort, role):
        cohort = make_cohort(make_course())
        assert_error(api(make_user(role)).get(f"/api/v1/cohorts/{cohort.id}/enrolments"), 403, "forbidden")


# --- everyone signed in, nobody else --------------------------------------------------------


def test_every_endpoint_needs_a_token(client, make_course, make_cohort, make_user, make_enrolment):
    course = make_course()
    module = _modules(course)[0]
    cohort = make_cohort(course)
    enrolment = make_enrolment(make_user(T), course)
    for method, url in [
        ("get", "/api/v1/courses"),
        ("post", "/api/v1/courses"),
        ("get", f"/api/v1/courses/{course.id}"),
        ("patch", f"/api/v1/courses/{course.id}"),
        ("get", f"/api/v1/courses/{course.id}/modules"),
        ("post", f"/api/v1/courses/{course.id}/modules"),
        ("put", f"/api/v1/courses/{course.id}/modules/order"),
        ("get", f"/api/v1/courses/{course.id}/modules/{module.id}"),
        ("patch", f"/api/v1/courses/{course.id}/modules/{module.id}"),
        ("get", f"/api/v1/courses/{course.id}/modules/{module.id}/knowledge-check"),
        ("put", f"/api/v1/courses/{course.id}/modules/{module.id}/knowledge-check"),
        ("get", f"/api/v1/courses/{course.id}/cohorts"),
        ("post", f"/api/v1/courses/{course.id}/cohorts"),
        ("get", f"/api/v1/cohorts/{cohort.id}"),
        ("patch", f"/api/v1/cohorts/{cohort.id}"),
        ("get", f"/api/v1/cohorts/{cohort.id}/enrolments"),
        ("get", "/api/v1/enrolments"),
        ("post", "/api/v1/enrolments"),
        ("get", f"/api/v1/enrolments/{enrolment.id}"),
        ("post", f"/api/v1/enrolments/{enrolment.id}/withdraw"),
        ("post", f"/api/v1/enrolments/{enrolment.id}/modules/{module.id}/open"),
        ("post", f"/api/v1/enrolments/{enrolment.id}/modules/{module.id}/complete"),
        ("post", f"/api/v1/enrolments/{enrolment.id}/modules/{module.id}/knowledge-check-attempts"),
    ]:
        assert_error(getattr(client, method)(url, json={}), 401, "unauthorized", where=f"{method} {url}")


# --- bounded queries --------------------------------------------------------------------------


def _bulk_enrolments(places: list[tuple]) -> None:
    """Enrolments ``(user, course, cohort)`` with their first module completed, written directly (fast)."""
    first_module = {course.id: _modules(course)[0].id for _user, course, _cohort in places}
    enrolments = [
        Enrolment(user_id=user.id, course_id=course.id, cohort_id=cohort.id)
        for user, course, cohort in places
    ]
    _db.session.add_all(enrolments)
    _db.session.flush()
    now = dt.datetime.now(dt.UTC)
    _db.session.add_all(
        ModuleProgress(enrolment_id=e.id, module_id=first_module[e.course_id], completed_at=now)
        for e in enrolments
    )
    _db.session.flush()


def test_own_enrolments_make_the_same_queries_for_1_or_30(
    api, make_user, make_course, make_cohort, count_queries
):
    def queries_for(n: int) -> int:
        user = make_user(T)
        courses = [make_course(modules=2) for _ in range(n)]
        _bulk_enrolments([(user, course, make_cohort(course)) for course in courses])
        caller = api(user)
        caller.get("/api/v1/me")  # the token's first use is recorded once
        with count_queries() as counter:
            body = _ok(caller.get("/api/v1/enrolments?per_page=100"))
        assert body["total"] == n and {e["percent"] for e in body["items"]} == {50}
        assert all(e["cohort"] is not None and e["course"]["title"] for e in body["items"])
        return counter.count

    one = queries_for(1)
    thirty = queries_for(30)
    assert one == thirty, f"{one} queries for 1 enrolment, {thirty} for 30"


def _staff(organisation, n: int) -> list:
    """``n`` trainees of an organisation, written directly (no password to hash)."""
    from lms.accounts.models import User, UserRole

    start = _count(User)
    people = [
        User(
            email=f"staff{start + i}-{organisation.id}@example.org",
            name=f"Staff {i:03d}",
            organisation_id=organisation.id,
            roles=[UserRole(role=T)],
        )
        for i in range(n)
    ]
    _db.session.add_all(people)
    _db.session.flush()
    return people


def test_cohort_enrolments_make_the_same_queries_for_10_or_200(
    api, admin, make_user, make_organisation, make_course, make_cohort, count_queries
):
    organisation = make_organisation()
    callers = {"admin": api(admin), "org manager": api(make_user(M, organisation_id=organisation.id))}

    def queries_for(n: int) -> dict[str, int]:
        course = make_course(modules=3)
        cohort = make_cohort(course)
        _bulk_enrolments([(person, course, cohort) for person in _staff(organisation, n)])
        counts = {}
        for who, caller in callers.items():
            caller.get("/api/v1/me")  # the token's first use is recorded once
            with count_queries() as counter:
                body = _ok(caller.get(f"/api/v1/cohorts/{cohort.id}/enrolments?per_page=100"))
            assert body["total"] == n and len(body["items"]) == min(n, 100), who
            assert {e["percent"] for e in body["items"]} == {33}, who
            counts[who] = counter.count
        return counts

    ten = queries_for(10)
    two_hundred = queries_for(200)
    assert ten == two_hundred, f"{ten} queries for 10 enrolments, {two_hundred} for 200"
