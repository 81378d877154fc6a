"""The admin pages that build courses: forms, their refusals, ordering, progress kept, access."""

from __future__ import annotations

import datetime as dt
import io
import os
import re

import pytest
from flask import Flask, url_for
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from lms.audit import AuditEntry
from lms.courses import catalogue, cohorts
from lms.courses import content as course_content
from lms.courses import enrolment as enrolling
from lms.courses import progress as course_progress
from lms.courses.admin_views import init_admin_nav
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
)
from lms.extensions import db as _db
from lms.organisations.models import OrganisationKind
from lms.permissions import Role
from lms.storage.models import StoredFile

XSS_SCRIPT = "<script>alert('x')</script>"
XSS_HANDLER = '<img src=x onerror="alert(1)">'


@pytest.fixture
def admin(make_user, login_as):
    """A signed-in admin."""
    return login_as(make_user(Role.ADMIN))


@pytest.fixture
def provider(make_organisation):
    return make_organisation(name="Family Work Partners", kind=OrganisationKind.PROVIDER)


@pytest.fixture
def university(make_organisation):
    return make_organisation(name="University of the Valleys", kind=OrganisationKind.AWARDING_BODY)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _course_form(provider, **overrides) -> dict:
    data = {
        "code": "fgc201",
        "title": "Family Group Conferencing",
        "summary": "How to run a family group conference.",
        "provider_id": str(provider.id),
        "delivery_format": "blended",
        "notional_hours": "60",
        "audience": "Practitioners",
        "status": "draft",
        "is_self_enrol": "y",
        "awarding_body_id": "0",
        "credits": "",
        "level": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _studied(make_user, make_enrolment, course, completed: int):
    """A trainee enrolled on ``course`` who completed its first ``completed`` modules."""
    trainee = make_user(Role.TRAINEE)
    enrolment = make_enrolment(trainee, course)
    for module in course_content.active_modules([course.id])[course.id][:completed]:
        course_progress.open_module(trainee, enrolment, module)
        course_progress.complete_module(trainee, enrolment, module)
    _db.session.flush()
    return trainee, enrolment


def _completed_ids(enrolment) -> set[int]:
    return course_progress.completed_module_ids([enrolment.id])[enrolment.id]


def _progress_path(course) -> str:
    """Where the reports pages put the course's progress report (by path until the endpoint exists)."""
    try:
        return url_for("course_manage.course_progress", course_id=course.id, _external=False)
    except BuildError:
        return f"/manage/courses/{course.id}/progress"


def _order(course) -> list[int]:
    return [m.id for m in course_content.active_modules([course.id])[course.id]]


# --- navigation and access ------------------------------------------------------------------


def test_init_admin_nav_adds_manage_courses_for_admins():
    app = Flask("nav")
    init_admin_nav(app)
    (item,) = app.extensions["lms_nav"]
    assert (item.label, item.endpoint, item.roles, item.order) == (
        "Manage courses",
        "course_admin.courses",
        frozenset({Role.ADMIN}),
        70,
    )


def _admin_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("course_admin."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def _url(rule, value) -> str:
    return re.sub(r"<(?:[a-z]+:)?[a-z_]+>", str(value), rule.rule)


@pytest.mark.parametrize("role", [Role.TRAINEE, Role.ASSESSOR, Role.LIAISON, Role.ORG_MANAGER])
def test_everyone_but_admins_is_refused_on_every_route(app, client, make_user, login_as, make_course, role):
    course = make_course(modules=1)
    login_as(make_user(role))
    rules = list(_admin_rules(app))
    assert len(rules) >= 20
    for rule, method in rules:
        response = client.open(_url(rule, course.id), method=method)
        assert response.status_code == 403, f"{method} {rule.rule} as {role}: {response.status_code}"
    _db.session.expire_all()
    assert _db.session.get(Course, course.id).title == course.title


def test_signed_out_people_are_sent_to_sign_in(app, client):
    for rule, method in _admin_rules(app):
        response = client.open(_url(rule, 1), method=method)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"], rule.rule


def test_person_with_admin_among_several_roles_gets_in(client, make_user, login_as):
    login_as(make_user(Role.ASSESSOR, Role.ADMIN))
    assert client.get("/admin/courses/").status_code == 200


# --- course list ----------------------------------------------------------------------------


def test_course_list_shows_every_status_filters_and_searches(client, admin, make_course):
    make_course(title="Restorative Practice", code="RP101")
    make_course(title="Trauma Informed Care", code="TIC101", status=CourseStatus.DRAFT)
    make_course(title="Old Programme", code="OLD1", status=CourseStatus.ARCHIVED)

    page = _text(client.get("/admin/courses/"))
    for title in ("Restorative Practice", "Trauma Informed Care", "Old Programme"):
        assert title in page
    assert "Draft" in page and "Archived" in page and "Published" in page

    drafts = _text(client.get("/admin/courses/?status=draft"))
    assert "Trauma Informed Care" in drafts and "Restorative Practice" not in drafts

    found = _text(client.get("/admin/courses/?q=restor"))
    assert "Restorative Practice" in found and "Trauma Informed Care" not in found
    assert "1 course found" in found


def test_course_list_paginates(client, admin, make_course):
    for n in range(30):
        make_course(modules=0, title=f"Paged course {n:02d}", code=f"PG{n:02d}")
    first = _text(client.get("/admin/courses/?q=paged"))
    assert "Page 1 of 2" in first and "Paged course 00" in first and "Paged course 29" not in first
    second = _text(client.get("/admin/courses/?q=paged&page=2"))
    assert "Paged course 29" in second and "Paged course 00" not in second
    assert client.get("/admin/courses/?page=abc").status_code == 400


# --- course form ----------------------------------------------------------------------------


def test_create_course_with_prerequisite_and_credits(client, admin, provider, university, make_course):
    restorative = make_course(code="RP101", title="Restorative Practice")
    form = _course_form(
        provider,
        prerequisite_ids=[str(restorative.id)],
        awarding_body_id=str(university.id),
        credits="6",
        level="FHEQ level 6",
    )
    response = client.post("/admin/courses/new", data=form)
    assert response.status_code == 302, _text(response)[:3000]
    course = catalogue.get_course_by_code("FGC201")
    assert course is not None and course.title == "Family Group Conferencing"
    assert course.delivery_format == DeliveryFormat.BLENDED and course.notional_hours == 60
    assert course.status == CourseStatus.DRAFT and course.is_self_enrol
    assert [c.code for c in course.prerequisites] == ["RP101"]
    rule = _db.session.scalar(select(CreditRule).where(CreditRule.course_id == course.id))
    assert (rule.awarding_body_id, rule.credits, rule.level) == (university.id, 6, "FHEQ level 6")
    assert response.headers["Location"].endswith(f"/admin/courses/{course.id}")

    page = _text(client.get(response.headers["Location"]))
    assert "FGC201" in page and "6 credits at FHEQ level 6, awarded by University of the Valleys" in page
    assert "RP101: Restorative Practice" in page
    assert "Created" in page  # the history list


def test_course_form_shows_the_credit_convention_and_only_awarding_bodies(
    client, admin, provider, university, make_organisation
):
    make_organisation(name="A Licence Holder", kind=OrganisationKind.LICENCE_HOLDER)
    page = _text(client.get("/admin/courses/new"))
    assert "1 credit stands for 10 notional learning hours" in page
    bodies = page.split('id="awarding_body_id"', 1)[1].split("</select>", 1)[0]
    assert "University of the Valleys" in bodies and "A Licence Holder" not in bodies
    providers = page.split('id="provider_id"', 1)[1].split("</select>", 1)[0]
    assert "A Licence Holder" in providers


def test_create_course_with_missing_fields_saves_nothing(client, admin, provider):
    response = client.post(
        "/admin/courses/new", data=_course_form(provider, code="", title="", provider_id="0")
    )
    assert response.status_code == 422
    page = _text(response)
    assert "There is a problem" in page
    assert "Enter a course code." in page and "Enter the course title." in page
    assert "Choose the organisation that provides the course." in page  # all at once, not one round each
    assert "<title>Error:" in page
    assert _db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_create_course_without_provider_is_refused(client, admin, provider):
    response = client.post("/admin/courses/new", data=_course_form(provider, provider_id="0"))
    assert response.status_code == 422
    assert "Choose the organisation that provides the course." in _text(response)
    assert catalogue.get_course_by_code("FGC201") is None


def test_duplicate_code_is_refused_whatever_its_case(client, admin, provider, make_course):
    make_course(code="FGC201", title="The first one")
    response = client.post("/admin/courses/new", data=_course_form(provider, code="  fgc201 "))
    assert response.status_code == 422
    assert "Another course already uses the code FGC201." in _text(response)
    assert _db.session.scalar(select(func.count()).select_from(Course)) == 1


def test_prerequisite_cycle_is_refused_naming_the_circle_and_nothing_is_saved(client, admin, make_course):
    a = make_course(code="AAA1", title="Course A")
    b = make_course(code="BBB1", title="Course B", prerequisites=[a])
    edit = client.get(f"/admin/courses/{a.id}/edit")
    assert edit.status_code == 200 and 'value="AAA1"' in _text(edit)

    form = _course_form(a.provider, code="AAA1", title="Course A renamed", prerequisite_ids=[str(b.id)])
    response = client.post(f"/admin/courses/{a.id}/edit", data=form)
    assert response.status_code == 422
    page = _text(response)
    assert "That would make a circle of prerequisites: AAA1 → BBB1 → AAA1." in page
    assert "Course A renamed" in page  # what was typed is kept on the form
    _db.session.expire_all()
    a = _db.session.get(Course, a.id)
    assert a.title == "Course A" and a.prerequisites == []
    assert (
        _db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "course.updated")
        )
        == 0
    )


def test_credits_without_an_awarding_body_are_refused(client, admin, provider):
    response = client.post("/admin/courses/new", data=_course_form(provider, credits="6"))
    assert response.status_code == 422
    assert "Choose the university that awards the credits." in _text(response)
    assert catalogue.get_course_by_code("FGC201") is None


def test_edit_course_changes_fields_removes_credits_and_shows_in_history(
    client, admin, make_course, university
):
    course = make_course(code="RP101", title="Restorative Practice")
    catalogue.save_course(admin, course, {"credits": {"awarding_body_id": university.id, "credits": 3}})
    page = _text(client.get(f"/admin/courses/{course.id}/edit"))
    assert 'value="3"' in page
    form = _course_form(
        course.provider, code="rp101", title="Restorative Practice (2027)", status="published"
    )
    form.pop("is_self_enrol")
    response = client.post(f"/admin/courses/{course.id}/edit", data=form)
    assert response.status_code == 302
    _db.session.expire_all()
    course = _db.session.get(Course, course.id)
    assert course.title == "Restorative Practice (2027)" and not course.is_self_enrol
    assert _db.session.scalar(select(CreditRule).where(CreditRule.course_id == course.id)) is None
    detail = _text(client.get(f"/admin/courses/{course.id}"))
    assert (
        "Edited (changed audience, delivery format, notional hours, self-enrolment, summary, title)" in detail
    )


def test_unknown_course_is_not_found(client, admin):
    assert client.get("/admin/courses/999999").status_code == 404
    assert client.get("/admin/courses/999999/edit").status_code == 404


# --- course detail --------------------------------------------------------------------------


def test_course_page_lists_modules_cohorts_places_and_waiting_list(
    client, admin, make_course, make_cohort, make_user, make_enrolment
):
    course = make_course(modules=3)
    full = make_cohort(course, name="Spring, Cardiff", capacity=1, location="Cardiff")
    make_cohort(course, name="Online autumn")
    make_enrolment(make_user(), course, full)
    make_enrolment(make_user(), course, full)
    make_enrolment(make_user(), course, full)
    page = _text(client.get(f"/admin/courses/{course.id}"))
    assert page.index("Module 1") < page.index("Module 2") < page.index("Module 3")
    assert "1 of 1 (full)" in page and "2 waiting" in page
    assert "0 (no limit)" in page
    assert f'href="{_progress_path(course)}">Progress report and enrolments' in page
    assert "Move up" in page and "Move down" in page and "Retire" in page and "Add a module" in page


def test_course_page_queries_do_not_grow_with_modules_and_cohorts(
    client, admin, make_course, make_cohort, make_user, make_enrolment, count_queries
):
    facilitator = make_user(Role.ASSESSOR)

    def build(n: int) -> Course:
        course = make_course(modules=n)
        modules = course_content.active_modules([course.id])[course.id]
        for module in modules:
            course_content.save_resource(module, title="Reading", url="https://example.org/reading")
            course_content.save_knowledge_check(
                admin, module, 50, [course_content.QuestionInput("Which?", ["This", "That"], 0)]
            )
        course_content.retire_module(admin, modules[-1])
        for i in range(n):
            cohort = make_cohort(course, capacity=1, name=f"Cohort {i}")
            cohorts.save_cohort(admin, course, cohort, {}, [facilitator.id, admin.id])
            make_enrolment(make_user(), course, cohort)
            make_enrolment(make_user(), course, cohort)
        catalogue.save_course(admin, course, {"title": f"Course with {n}"})
        _db.session.commit()
        return course

    small, large = build(2), build(20)
    client.get(f"/admin/courses/{small.id}")  # warm up
    counts = []
    for course in (small, large):
        with count_queries() as counter:
            response = client.get(f"/admin/courses/{course.id}")
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert counts[0] <= 25, counts
    assert _text(response).count("20 waiting") == 0 and _text(response).count("1 waiting") == 20


def test_course_list_queries_do_not_grow(client, admin, make_course, count_queries, university):
    base = make_course(modules=0, code="BASE1")

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            course = make_course(modules=1, code=f"QC{i:02d}", prerequisites=[base])
            rule = {"awarding_body_id": university.id, "credits": 1}
            catalogue.save_course(admin, course, {"credits": rule})
        _db.session.commit()

    def count() -> int:
        with count_queries() as counter:
            response = client.get("/admin/courses/")
        assert response.status_code == 200
        return counter.count

    add(2, 0)
    client.get("/admin/courses/")  # warm up
    few = count()
    add(30, 2)
    assert count() == few


# --- modules --------------------------------------------------------------------------------


def test_add_module_goes_to_the_end(client, admin, make_course):
    course = make_course(modules=2)
    response = client.post(
        f"/admin/courses/{course.id}/modules/new",
        data={
            "title": "Closing the conference",
            "content": "## Steps\n\n1. Agree the plan",
            "estimated_minutes": "25",
            "is_required": "optional",
            "submit": "Save module",
        },
    )
    assert response.status_code == 302
    modules = course_content.active_modules([course.id])[course.id]
    assert [m.title for m in modules][-1] == "Closing the conference"
    assert modules[-1].estimated_minutes == 25 and not modules[-1].is_required
    assert "#module-" in response.headers["Location"]


def test_module_form_refuses_missing_title_and_minutes(client, admin, make_course):
    course = make_course(modules=0)
    response = client.post(
        f"/admin/courses/{course.id}/modules/new",
        data={"title": " ", "content": "x", "estimated_minutes": "", "is_required": "required"},
    )
    assert response.status_code == 422
    page = _text(response)
    assert "Enter the module title." in page and "Enter how many minutes the module takes." in page
    assert course_content.active_modules([course.id])[course.id] == []


def test_preview_shows_sanitised_content_and_saves_nothing(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    content = f"## Heading\n\n**bold** {XSS_SCRIPT} {XSS_HANDLER} [click](javascript:alert(1))"
    response = client.post(
        f"/admin/courses/{course.id}/modules/{module.id}/edit",
        data={
            "title": "New title",
            "content": content,
            "estimated_minutes": "10",
            "is_required": "required",
            "preview": "Preview",
        },
    )
    assert response.status_code == 200
    page = _text(response)
    preview = page.split('id="preview"', 1)[1]
    assert "<h2>Heading</h2>" in preview and "<strong>bold</strong>" in preview
    assert "<script>alert" not in page and "<img src=x" not in page and 'href="javascript' not in page
    assert "&lt;script&gt;" in preview and "&lt;img src=x" in preview
    assert "Go to the preview" in page
    _db.session.expire_all()
    assert _db.session.get(Module, module.id).title == "Module 1"


def test_editing_and_reordering_keep_completed_modules(client, admin, make_course, make_user, make_enrolment):
    course = make_course(modules=3)
    first, second, third = course_content.active_modules([course.id])[course.id]
    _trainee, enrolment = _studied(make_user, make_enrolment, course, completed=1)
    _db.session.commit()
    assert _completed_ids(enrolment) == {first.id}

    response = client.post(
        f"/admin/courses/{course.id}/modules/{first.id}/edit",
        data={
            "title": "Module 1, rewritten",
            "content": "New text",
            "estimated_minutes": "40",
            "is_required": "required",
            "submit": "Save module",
        },
    )
    assert response.status_code == 302
    assert _completed_ids(enrolment) == {first.id}

    assert (
        client.post(
            f"/admin/courses/{course.id}/modules/{first.id}/move", data={"direction": "down"}
        ).status_code
        == 302
    )
    assert _order(course) == [second.id, first.id, third.id]
    assert (
        client.post(
            f"/admin/courses/{course.id}/modules/{third.id}/move", data={"direction": "up"}
        ).status_code
        == 302
    )
    assert _order(course) == [second.id, third.id, first.id]
    assert _completed_ids(enrolment) == {first.id}
    progress = _db.session.scalar(select(ModuleProgress).where(ModuleProgress.module_id == first.id))
    assert progress.completed_at is not None
    _db.session.expire_all()
    assert _db.session.get(Module, first.id).title == "Module 1, rewritten"


def test_move_at_the_ends_and_bad_direction(client, admin, make_course):
    course = make_course(modules=2)
    first, second = _order(course)
    client.post(f"/admin/courses/{course.id}/modules/{first}/move", data={"direction": "up"})
    assert _order(course) == [first, second]
    assert (
        client.post(
            f"/admin/courses/{course.id}/modules/{first}/move", data={"direction": "left"}
        ).status_code
        == 400
    )
    assert _order(course) == [first, second]


def test_retire_asks_first_then_keeps_progress(client, admin, make_course, make_user, make_enrolment):
    course = make_course(modules=2)
    first, second = course_content.active_modules([course.id])[course.id]
    _trainee, enrolment = _studied(make_user, make_enrolment, course, completed=1)
    _db.session.commit()

    confirm = client.get(f"/admin/courses/{course.id}/modules/{first.id}/retire")
    assert confirm.status_code == 200 and "Retire the module" in _text(confirm)
    assert _order(course) == [first.id, second.id]

    assert client.post(f"/admin/courses/{course.id}/modules/{first.id}/retire").status_code == 302
    assert _order(course) == [second.id]
    assert first.id in _completed_ids(enrolment)
    page = _text(client.get(f"/admin/courses/{course.id}"))
    assert "Retired modules (1)" in page
    assert client.get(f"/admin/courses/{course.id}/modules/{first.id}/edit").status_code == 404


def test_module_of_another_course_is_not_found(client, admin, make_course):
    course, other = make_course(modules=1), make_course(modules=1)
    module = course_content.active_modules([other.id])[other.id][0]
    for path in ("edit", "retire", "resources", "check"):
        assert client.get(f"/admin/courses/{course.id}/modules/{module.id}/{path}").status_code == 404
    assert (
        client.post(
            f"/admin/courses/{course.id}/modules/{module.id}/move", data={"direction": "up"}
        ).status_code
        == 404
    )


# --- resources ------------------------------------------------------------------------------


def _resources(module) -> list[ModuleResource]:
    return course_content.resources_of([module.id])[module.id]


def test_add_a_link_and_remove_it(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    url = f"/admin/courses/{course.id}/modules/{module.id}/resources"
    response = client.post(
        url,
        data={
            "link-title": "Research summary",
            "link-url": "https://example.org/r",
            "link-submit": "Add link",
        },
    )
    assert response.status_code == 302
    (resource,) = _resources(module)
    assert (resource.title, resource.url) == ("Research summary", "https://example.org/r")
    page = _text(client.get(url))
    assert "Research summary" in page and "https://example.org/r" in page

    assert client.post(f"{url}/{resource.id}/remove").status_code == 302
    assert _resources(module) == []
    assert (
        _db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "module.resource_removed")
        )
        == 1
    )


@pytest.mark.parametrize("link", ["javascript:alert(1)", "ftp://example.org/file", "example.org"])
def test_non_http_link_is_refused(client, admin, make_course, link):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    response = client.post(
        f"/admin/courses/{course.id}/modules/{module.id}/resources",
        data={"link-title": "Bad", "link-url": link, "link-submit": "Add link"},
    )
    assert response.status_code == 422
    assert "Links must start with https:// or http://." in _text(response)
    assert _resources(module) == []


def test_link_without_title_is_refused(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    response = client.post(
        f"/admin/courses/{course.id}/modules/{module.id}/resources",
        data={"link-title": "", "link-url": "https://example.org", "link-submit": "Add link"},
    )
    assert response.status_code == 422 and "Enter a title for the link." in _text(response)


def test_upload_a_file_download_it_and_remove_it(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    url = f"/admin/courses/{course.id}/modules/{module.id}/resources"
    response = client.post(
        url,
        data={
            "upload-title": "Session plan",
            "upload-file": (io.BytesIO(b"%PDF-1.4 plan"), "plan.pdf"),
            "upload-submit": "Upload file",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, _text(response)[:2000]
    (resource,) = _resources(module)
    assert resource.title == "Session plan" and resource.stored_file.filename == "plan.pdf"
    stored_id = resource.stored_file_id
    assert "plan.pdf" in _text(client.get(url))

    download = client.get(f"{url}/{resource.id}/file")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 plan"
    assert "attachment" in download.headers["Content-Disposition"]

    assert client.post(f"{url}/{resource.id}/remove").status_code == 302
    assert _resources(module) == []
    assert _db.session.get(StoredFile, stored_id) is None


def test_upload_too_large_shows_an_error_and_stores_nothing(app, client, admin, make_course, monkeypatch):
    monkeypatch.setitem(app.config, "MODULE_RESOURCE_MAX_SIZE", 1024)
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    folder = app.config["STORAGE_PATH"]
    files_before = sum(len(files) for _root, _dirs, files in os.walk(folder))
    response = client.post(
        f"/admin/courses/{course.id}/modules/{module.id}/resources",
        data={
            "upload-title": "Huge",
            "upload-file": (io.BytesIO(b"x" * 5000), "huge.pdf"),
            "upload-submit": "Upload file",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = _text(response)
    assert "The file is larger than the limit of 1 KB." in page and "Up to 1 KB." in page
    assert _resources(module) == []
    assert _db.session.scalar(select(func.count()).select_from(StoredFile)) == 0
    assert sum(len(files) for _root, _dirs, files in os.walk(folder)) == files_before


def test_upload_without_a_file_is_refused(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    response = client.post(
        f"/admin/courses/{course.id}/modules/{module.id}/resources",
        data={"upload-title": "Nothing", "upload-submit": "Upload file"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "Choose a file to upload." in _text(response)


def test_resource_of_another_module_is_not_found(client, admin, make_course):
    course = make_course(modules=2)
    first, second = course_content.active_modules([course.id])[course.id]
    resource = course_content.save_resource(first, title="Link", url="https://example.org")
    _db.session.commit()
    base = f"/admin/courses/{course.id}/modules/{second.id}/resources/{resource.id}"
    assert client.post(f"{base}/remove").status_code == 404
    assert client.get(f"{base}/file").status_code == 404
    assert len(_resources(first)) == 1
    link = f"/admin/courses/{course.id}/modules/{first.id}/resources/{resource.id}/file"
    assert client.get(link).status_code == 404  # a link has no file


# --- knowledge checks -----------------------------------------------------------------------


def _question(n: int, prompt: str, options: list[str], correct: int | None, explanation: str = "") -> dict:
    data = {f"questions-{n}-prompt": prompt, f"questions-{n}-explanation": explanation}
    for i in range(6):
        data[f"questions-{n}-options-{i}"] = options[i] if i < len(options) else ""
    if correct is not None:
        data[f"questions-{n}-correct"] = str(correct)
    return data


def _check_url(course, module) -> str:
    return f"/admin/courses/{course.id}/modules/{module.id}/check"


def test_knowledge_check_editor_starts_with_empty_blocks_and_adds_one(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    page = _text(client.get(_check_url(course, module)))
    assert "Question 1" in page and "Question 2" in page and "Question 3" not in page
    data = {
        "pass_mark": "75",
        **_question(0, "First?", ["a", "b"], 1),
        **_question(1, "", [], None),
        "add_question": "Add another question",
    }
    response = client.post(_check_url(course, module), data=data)
    assert response.status_code == 200
    page = _text(response)
    assert "Question 3" in page and "First?" in page and 'value="75"' in page
    assert course_content.knowledge_checks_for([module.id]) == {}


def test_save_knowledge_check_ignores_empty_blocks_and_maps_the_correct_option(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    data = {
        "pass_mark": "50",
        **_question(
            0, "Who convenes the conference?", ["The family", "", "The coordinator"], 2, "The coordinator."
        ),
        **_question(1, "", [], None),
        **_question(2, "Is a plan agreed?", ["Yes", "No"], 0),
        "submit": "Save knowledge check",
    }
    response = client.post(_check_url(course, module), data=data)
    assert response.status_code == 302, _text(response)[:3000]
    check = course_content.knowledge_checks_for([module.id])[module.id]
    assert check.pass_mark == 50
    first, second = check.questions
    assert [o.text for o in first.options] == ["The family", "The coordinator"]
    assert [o.is_correct for o in first.options] == [False, True]
    assert first.explanation == "The coordinator."
    assert second.prompt == "Is a plan agreed?" and second.options[0].is_correct

    page = _text(client.get(_check_url(course, module)))
    assert "Who convenes the conference?" in page and "Question 3" in page and "Question 4" not in page


def test_remove_question_button_drops_that_block(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    data = {
        "pass_mark": "80",
        **_question(0, "Keep me", ["a", "b"], 0),
        **_question(1, "Drop me", ["c", "d"], 1),
        "remove_question": "1",
    }
    page = _text(client.post(_check_url(course, module), data=data))
    assert "Keep me" in page and "Drop me" not in page
    assert course_content.knowledge_checks_for([module.id]) == {}


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (_question(0, "Only one option?", ["lonely"], 0), "Question 1 needs at least two options."),
        (_question(0, "Which is right?", ["a", "b"], None), "Question 1: choose which option is correct."),
        (_question(0, "Empty one chosen?", ["a", "b"], 4), "Question 1: choose which option is correct."),
        (_question(0, "", ["a", "b"], 0), "Question 1 has no text."),
        (_question(0, "", [], None), "Add at least one question."),
    ],
)
def test_bad_knowledge_check_is_refused_with_the_service_message(
    client, admin, make_course, question, message
):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    response = client.post(_check_url(course, module), data={"pass_mark": "80", **question, "submit": "Save"})
    assert response.status_code == 422
    page = _text(response)
    assert "There is a problem" in page and message in page and 'href="#questions"' in page
    assert course_content.knowledge_checks_for([module.id]) == {}


def test_error_numbers_match_the_blocks_shown(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    data = {
        "pass_mark": "80",
        **_question(0, "", [], None),
        **_question(1, "Second", ["only"], 0),
        "submit": "Save",
    }
    page = _text(client.post(_check_url(course, module), data=data))
    assert "Question 1 needs at least two options." in page
    assert page.index("Question 1</legend>") < page.index("Second") < page.index("Question 2</legend>")


def test_pass_mark_out_of_range_is_refused(client, admin, make_course):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    data = {"pass_mark": "150", **_question(0, "Q", ["a", "b"], 0), "submit": "Save"}
    response = client.post(_check_url(course, module), data=data)
    assert response.status_code == 422 and "Enter a percentage from 1 to 100." in _text(response)
    assert course_content.knowledge_checks_for([module.id]) == {}


def test_replacing_a_check_keeps_past_attempts(client, admin, make_course, make_user, make_enrolment):
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    check = course_content.save_knowledge_check(
        admin, module, 100, [course_content.QuestionInput("Old?", ["x", "y"], 0)]
    )
    trainee = make_user()
    enrolment = make_enrolment(trainee, course)
    question = check.questions[0]
    course_progress.submit_knowledge_check(trainee, enrolment, module, {question.id: question.options[1].id})
    _db.session.commit()

    data = {"pass_mark": "60", **_question(0, "New?", ["p", "q", "r"], 2), "submit": "Save"}
    assert client.post(_check_url(course, module), data=data).status_code == 302
    _db.session.expire_all()
    (replaced,) = _db.session.scalars(select(KnowledgeCheck)).all()
    assert replaced.id == check.id and [q.prompt for q in replaced.questions] == ["New?"]
    attempts = _db.session.scalars(select(CheckAttempt).where(CheckAttempt.enrolment_id == enrolment.id))
    assert len(attempts.all()) == 1


# --- cohorts --------------------------------------------------------------------------------


def _cohort_form(**overrides) -> dict:
    data = {
        "name": "Spring 2027, Cardiff",
        "starts_on": "2027-03-01",
        "ends_on": "2027-05-31",
        "delivery_format": "face_to_face",
        "location": "Cardiff",
        "capacity": "12",
        "has_waiting_list": "y",
        "enrolment_opens_on": "2027-01-01",
        "enrolment_closes_on": "2027-02-20",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_create_cohort_with_facilitators(client, admin, make_course, make_user):
    course = make_course(modules=0)
    assessor = make_user(Role.ASSESSOR, name="Ada Assessor")
    make_user(Role.TRAINEE, name="Tom Trainee")
    page = _text(client.get(f"/admin/courses/{course.id}/cohorts/new"))
    assert "Ada Assessor" in page and "Tom Trainee" not in page and admin.name in page

    response = client.post(
        f"/admin/courses/{course.id}/cohorts/new", data=_cohort_form(facilitator_ids=[str(assessor.id)])
    )
    assert response.status_code == 302, _text(response)[:3000]
    cohort = _db.session.scalar(select(Cohort).where(Cohort.course_id == course.id))
    assert (cohort.name, cohort.capacity, cohort.location) == ("Spring 2027, Cardiff", 12, "Cardiff")
    assert cohort.starts_on == dt.date(2027, 3, 1) and cohort.enrolment_closes_on == dt.date(2027, 2, 20)
    assert cohort.delivery_format == DeliveryFormat.FACE_TO_FACE and cohort.has_waiting_list
    assert [u.id for u in cohort.facilitators] == [assessor.id]
    detail = _text(client.get(f"/admin/courses/{course.id}"))
    assert "Spring 2027, Cardiff" in detail and "0 of 12" in detail and "Ada Assessor" in detail


def test_empty_capacity_means_no_limit(client, admin, make_course):
    course = make_course(modules=0)
    response = client.post(
        f"/admin/courses/{course.id}/cohorts/new", data=_cohort_form(capacity="", has_waiting_list=None)
    )
    assert response.status_code == 302
    cohort = _db.session.scalar(select(Cohort).where(Cohort.course_id == course.id))
    assert cohort.capacity is None and not cohort.has_waiting_list


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ends_on": "2027-02-01"}, "The end date must be on or after the start date."),
        ({"capacity": "0"}, "Capacity must be at least 1, or empty for no limit."),
        ({"enrolment_closes_on": "2026-12-01"}, "Enrolment must close after it opens."),
        ({"name": ""}, "Enter a name for the cohort."),
        ({"starts_on": ""}, "Enter the start date."),
        ({"starts_on": "tomorrow"}, "Not a valid date value."),
    ],
)
def test_bad_cohort_is_refused(client, admin, make_course, overrides, message):
    course = make_course(modules=0)
    response = client.post(f"/admin/courses/{course.id}/cohorts/new", data=_cohort_form(**overrides))
    assert response.status_code == 422
    assert message in _text(response)
    assert _db.session.scalar(select(func.count()).select_from(Cohort)) == 0


def test_capacity_below_places_taken_is_refused(
    client, admin, make_course, make_cohort, make_user, make_enrolment
):
    course = make_course(modules=0)
    cohort = make_cohort(course, capacity=5, name="Busy")
    for _ in range(3):
        make_enrolment(make_user(), course, cohort)
    _db.session.commit()
    page = _text(client.get(f"/admin/courses/{course.id}/cohorts/{cohort.id}/edit"))
    assert 'value="Busy"' in page and "3 places are taken." in page

    response = client.post(
        f"/admin/courses/{course.id}/cohorts/{cohort.id}/edit",
        data=_cohort_form(
            name="Busy, renamed",
            capacity="2",
            starts_on=str(cohort.starts_on),
            ends_on=str(cohort.ends_on),
            enrolment_opens_on="",
            enrolment_closes_on="",
        ),
    )
    assert response.status_code == 422
    assert "3 places are already taken; the capacity cannot be lower." in _text(response)
    _db.session.expire_all()
    cohort = _db.session.get(Cohort, cohort.id)
    assert (cohort.name, cohort.capacity) == ("Busy", 5)


def test_raising_capacity_promotes_the_waiting_list(
    client, admin, make_course, make_cohort, make_user, make_enrolment
):
    course = make_course(modules=1)
    cohort = make_cohort(course, capacity=1)
    make_enrolment(make_user(), course, cohort)
    waiting = make_enrolment(make_user(), course, cohort)
    _db.session.commit()
    assert waiting.status == EnrolmentStatus.WAITLISTED
    response = client.post(
        f"/admin/courses/{course.id}/cohorts/{cohort.id}/edit",
        data=_cohort_form(
            name=cohort.name,
            capacity="2",
            starts_on=str(cohort.starts_on),
            ends_on=str(cohort.ends_on),
            enrolment_opens_on="",
            enrolment_closes_on="",
        ),
    )
    assert response.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Enrolment, waiting.id).status == EnrolmentStatus.ACTIVE


def test_cohort_of_another_course_is_not_found(client, admin, make_course, make_cohort):
    course, other = make_course(modules=0), make_course(modules=0)
    cohort = make_cohort(other)
    assert client.get(f"/admin/courses/{course.id}/cohorts/{cohort.id}/edit").status_code == 404


# --- enrolling ------------------------------------------------------------------------------


def test_admin_enrols_a_person_by_email_into_a_cohort(client, admin, make_course, make_cohort, make_user):
    course = make_course(modules=1, is_self_enrol=False)
    cohort = make_cohort(course, name="Summer")
    person = make_user(email="sam@example.org", name="Sam Practitioner")
    response = client.post(
        f"/admin/courses/{course.id}/enrol", data={"email": " SAM@example.org ", "cohort_id": str(cohort.id)}
    )
    assert response.status_code == 302
    enrolment = enrolling.own_enrolment(person, course)
    assert enrolment.cohort_id == cohort.id and enrolment.status == EnrolmentStatus.ACTIVE
    assert enrolment.enrolled_by_id == admin.id
    assert "Sam Practitioner is enrolled on" in _text(client.get(response.headers["Location"]))


def test_enrol_refusals_are_shown(client, admin, make_course, make_cohort, make_user, make_enrolment):
    course = make_course(modules=1)
    full = make_cohort(course, capacity=1, has_waiting_list=False, name="Small room")
    make_enrolment(make_user(), course, full)
    person = make_user(email="kim@example.org")
    _db.session.commit()
    url = f"/admin/courses/{course.id}/enrol"

    unknown = client.post(url, data={"email": "nobody@example.org", "cohort_id": "0"})
    assert unknown.status_code == 422 and "No one has an account with that email address." in _text(unknown)

    full_response = client.post(url, data={"email": person.email, "cohort_id": str(full.id)})
    assert full_response.status_code == 409 and "Small room is full." in _text(full_response)
    assert enrolling.own_enrolment(person, course) is None

    assert client.post(url, data={"email": person.email, "cohort_id": "0"}).status_code == 302
    again = client.post(url, data={"email": person.email, "cohort_id": "0"})
    assert again.status_code == 409 and "is already enrolled on" in _text(again)
    enrolment = enrolling.own_enrolment(person, course)
    assert f"/admin/courses/{course.id}/enrolments/{enrolment.id}/withdraw" in _text(again)


def test_enrolling_needs_a_published_course_and_prerequisites(client, admin, make_course, make_user):
    draft = make_course(modules=1, status=CourseStatus.DRAFT)
    person = make_user(email="lee@example.org")
    _db.session.commit()
    response = client.post(f"/admin/courses/{draft.id}/enrol", data={"email": person.email, "cohort_id": "0"})
    assert response.status_code == 422 and "Only published courses take enrolments." in _text(response)
    assert "Publish the course" in _text(client.get(f"/admin/courses/{draft.id}"))

    base = make_course(modules=1, code="RP101", title="Restorative Practice")
    advanced = make_course(modules=1, prerequisites=[base])
    response = client.post(
        f"/admin/courses/{advanced.id}/enrol", data={"email": person.email, "cohort_id": "0"}
    )
    assert response.status_code == 422 and "Complete Restorative Practice (RP101) before enrolling" in _text(
        response
    )


def test_withdraw_asks_first_then_withdraws(
    client, admin, make_course, make_cohort, make_user, make_enrolment
):
    course = make_course(modules=1)
    cohort = make_cohort(course, capacity=1)
    enrolment = make_enrolment(make_user(name="Wyn Withdrawn"), course, cohort)
    waiting = make_enrolment(make_user(), course, cohort)
    _db.session.commit()
    url = f"/admin/courses/{course.id}/enrolments/{enrolment.id}/withdraw"
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Withdraw Wyn Withdrawn" in _text(confirm)
    assert client.post(url, data={"reason": "Left the organisation"}).status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Enrolment, enrolment.id).status == EnrolmentStatus.WITHDRAWN
    assert _db.session.get(Enrolment, waiting.id).status == EnrolmentStatus.ACTIVE
    again = client.post(url, data={"reason": ""})
    assert again.status_code == 409 and "This enrolment has already ended." in _text(again)


def test_withdraw_from_the_wrong_course_is_not_found(client, admin, make_course, make_user, make_enrolment):
    course, other = make_course(modules=1), make_course(modules=1)
    enrolment = make_enrolment(make_user(), other)
    _db.session.commit()
    assert client.post(f"/admin/courses/{course.id}/enrolments/{enrolment.id}/withdraw").status_code == 404
    _db.session.expire_all()
    assert _db.session.get(Enrolment, enrolment.id).status == EnrolmentStatus.ACTIVE


# --- what people typed is shown as text -----------------------------------------------------


def test_course_module_and_question_text_is_escaped(client, admin, make_course, make_cohort):
    course = make_course(
        modules=1, title=f"Course {XSS_SCRIPT}", summary=f"Summary {XSS_HANDLER}", audience=XSS_HANDLER
    )
    module = course_content.active_modules([course.id])[course.id][0]
    course_content.save_module(admin, course, module, {"title": f"Module {XSS_HANDLER}"})
    course_content.save_knowledge_check(
        admin,
        module,
        80,
        [
            course_content.QuestionInput(
                f"Prompt {XSS_SCRIPT}", [XSS_HANDLER, "b"], 0, f"Because {XSS_SCRIPT}"
            )
        ],
    )
    course_content.save_resource(module, title=f"Link {XSS_SCRIPT}", url="https://example.org/?q=<script>")
    make_cohort(course, name=f"Cohort {XSS_SCRIPT}", location=XSS_HANDLER)
    _db.session.commit()
    pages = [
        "/admin/courses/",
        f"/admin/courses/{course.id}",
        f"/admin/courses/{course.id}/edit",
        f"/admin/courses/{course.id}/modules/{module.id}/edit",
        f"/admin/courses/{course.id}/modules/{module.id}/retire",
        f"/admin/courses/{course.id}/modules/{module.id}/resources",
        f"/admin/courses/{course.id}/modules/{module.id}/check",
        f"/admin/courses/{course.id}/enrol",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        page = _text(response)
        assert "<script>alert" not in page, path
        assert "<img src=x" not in page, path
    assert "&lt;script&gt;" in _text(client.get(f"/admin/courses/{course.id}"))


def test_head_on_an_editing_page_answers_as_get_does(client, admin, make_course):
    """HEAD is a GET without the body: it shows the form, never validates it as a POST."""
    course = make_course(modules=1)
    module = course_content.active_modules([course.id])[course.id][0]
    cohort_form = f"/admin/courses/{course.id}/cohorts/new"
    for url in (_check_url(course, module), f"/admin/courses/{course.id}/edit", cohort_form):
        assert client.head(url).status_code == client.get(url).status_code == 200, url
